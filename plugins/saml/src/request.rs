//! The AuthnRequest, sent with the HTTP-Redirect binding: raw DEFLATE, then
//! base64, then URL-encoded into `SAMLRequest`, with `RelayState`.
//! Requests are not signed (Synapse does not sign them either by default);
//! what protects the flow is that responses must answer one of our
//! outstanding request ids.

use base64::Engine as _;
use trellis_sdk::url::percent_encode;

/// A fresh request id: `_` and 32 hex digits of randomness (an id must not
/// start with a digit).
pub fn new_request_id() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(format!("_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

/// Escapes text for an XML attribute.
fn xml_attribute(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('"', "&quot;").replace('>', "&gt;")
}

/// The AuthnRequest document.
pub fn authn_request(id: &str, issue_instant: &str, destination: &str, acs_url: &str, sp_entity_id: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{issue_instant}\" Destination=\"{destination}\" AssertionConsumerServiceURL=\"{acs}\" \
         ProtocolBinding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:NameIDPolicy AllowCreate=\"true\"/>\
         </samlp:AuthnRequest>",
        id = xml_attribute(id),
        destination = xml_attribute(destination),
        acs = xml_attribute(acs_url),
        issuer = xml_attribute(sp_entity_id),
    )
}

/// The URL that sends the request to the IdP.
pub fn redirect_url(sso_url: &str, request_xml: &str, relay_state: &str) -> String {
    let deflated = miniz_oxide::deflate::compress_to_vec(request_xml.as_bytes(), 9);
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let separator = if sso_url.contains('?') { '&' } else { '?' };
    format!("{sso_url}{separator}SAMLRequest={}&RelayState={}", percent_encode(&encoded), percent_encode(relay_state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_inflates_back_and_names_us() {
        let xml = authn_request("_abc", "2026-11-28T08:00:00Z", "https://idp/sso", "https://hs/acs", "https://hs/md");
        let url = redirect_url("https://idp/sso", &xml, "redirectUrl=x");
        let encoded = trellis_sdk::url::query_param(url.split_once('?').unwrap().1, "SAMLRequest").unwrap();
        let deflated = base64::engine::general_purpose::STANDARD.decode(encoded).unwrap();
        let inflated = miniz_oxide::inflate::decompress_to_vec(&deflated).unwrap();
        assert_eq!(String::from_utf8(inflated).unwrap(), xml);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("ID"), Some("_abc"));
        assert_eq!(doc.root_element().attribute("AssertionConsumerServiceURL"), Some("https://hs/acs"));
        assert!(url.ends_with("&RelayState=redirectUrl%3Dx"));
        let id = new_request_id().unwrap();
        assert!(id.starts_with('_') && id.len() == 33);
        assert_ne!(id, new_request_id().unwrap());
    }
}
