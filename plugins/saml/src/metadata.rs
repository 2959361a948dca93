//! Reading an identity provider's SAML metadata: its entity id, where to
//! send AuthnRequests (HTTP-Redirect binding) and the certificates whose
//! keys may sign its responses. Signatures are only ever checked against
//! these keys, never against a certificate inside a response.

use base64::Engine as _;
use roxmltree::Node;
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey as _;
use x509_cert::der::{Decode as _, Encode as _};

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const DSIG_NS: &str = crate::dsig::DSIG_NS;
const REDIRECT_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";

/// One identity provider from metadata.
#[derive(Debug, Clone)]
pub struct IdentityProviderMetadata {
    /// Its entity id (the `Issuer` of its responses).
    pub entity_id: String,
    /// Its single sign-on URL for the HTTP-Redirect binding.
    pub sso_url: String,
    /// Keys that may sign its responses.
    pub signing_keys: Vec<RsaPublicKey>,
}

/// Every identity provider described by a metadata document (an
/// `EntityDescriptor` or an `EntitiesDescriptor` of several).
pub fn parse(xml: &str) -> Result<Vec<IdentityProviderMetadata>, String> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| format!("the IdP metadata is not valid XML: {e}"))?;
    let mut found = Vec::new();
    for entity in doc.descendants().filter(|n| n.has_tag_name((MD_NS, "EntityDescriptor"))) {
        let Some(idp) = entity.children().find(|n| n.has_tag_name((MD_NS, "IDPSSODescriptor"))) else { continue };
        let entity_id = entity.attribute("entityID").ok_or("an EntityDescriptor has no entityID")?.to_owned();
        let sso_url = idp
            .children()
            .filter(|n| n.has_tag_name((MD_NS, "SingleSignOnService")))
            .find(|n| n.attribute("Binding") == Some(REDIRECT_BINDING))
            .and_then(|n| n.attribute("Location"))
            .ok_or_else(|| format!("the IdP {entity_id} offers no HTTP-Redirect SingleSignOnService"))?
            .to_owned();
        let mut signing_keys = Vec::new();
        for key in idp.children().filter(|n| n.has_tag_name((MD_NS, "KeyDescriptor"))) {
            if key.attribute("use").is_some_and(|usage| usage != "signing") {
                continue;
            }
            for certificate in key.descendants().filter(|n| n.has_tag_name((DSIG_NS, "X509Certificate"))) {
                signing_keys.push(public_key(certificate)?);
            }
        }
        if signing_keys.is_empty() {
            return Err(format!("the IdP {entity_id} has no signing certificate in its metadata"));
        }
        found.push(IdentityProviderMetadata { entity_id, sso_url, signing_keys });
    }
    if found.is_empty() {
        return Err("the metadata describes no identity provider (IDPSSODescriptor)".to_owned());
    }
    Ok(found)
}

/// The RSA key of a base64 DER certificate.
fn public_key(node: Node<'_, '_>) -> Result<RsaPublicKey, String> {
    let text: String = node.text().unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("a metadata certificate is not base64: {e}"))?;
    let certificate =
        x509_cert::Certificate::from_der(&der).map_err(|e| format!("a metadata certificate does not parse: {e}"))?;
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| format!("a metadata certificate's key does not encode: {e}"))?;
    RsaPublicKey::from_public_key_der(&spki).map_err(|e| format!("a metadata certificate has no RSA key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_saml_idp_metadata() {
        let idps = parse(include_str!("../testdata/saml-idp-metadata.xml")).unwrap();
        assert_eq!(idps.len(), 1);
        assert_eq!(idps[0].entity_id, "urn:example:idp");
        assert_eq!(idps[0].sso_url, "http://127.0.0.1:7000/saml/sso");
        assert_eq!(idps[0].signing_keys.len(), 1);
    }

    #[test]
    fn refuses_metadata_without_what_is_needed() {
        assert!(parse("<x/>").is_err());
        let no_cert = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="e"><IDPSSODescriptor>
            <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://i/sso"/>
            </IDPSSODescriptor></EntityDescriptor>"#;
        assert!(parse(no_cert).unwrap_err().contains("no signing certificate"));
    }
}
