//! Each rule of `check`, broken on purpose, starting from a response the
//! npm `saml-idp` signed (both the Response and the Assertion).

use super::*;
use crate::metadata;

const RESPONSE: &str = include_str!("../../testdata/saml-idp-response.xml");
const METADATA: &str = include_str!("../../testdata/saml-idp-metadata.xml");
const ACS: &str = "http://localhost/_synapse/client/saml2/authn_response";
const SP: &str = "http://localhost/_synapse/client/saml2/metadata.xml";
/// Inside the fixture's validity window (08:03:11 to 09:03:11 UTC).
const DURING: i64 = 1_795_853_000_000;

fn keys() -> Vec<RsaPublicKey> {
    metadata::parse(METADATA).unwrap().remove(0).signing_keys
}

fn run(xml: &str, adjust: impl FnOnce(&mut Expected<'_>)) -> Result<SignedAssertion, String> {
    let keys = keys();
    let mut expected = Expected {
        idp_entity_id: "urn:example:idp",
        keys: &keys,
        sp_entity_id: SP,
        acs_url: ACS,
        now_ms: DURING,
        skew_ms: 0,
        allow_sha1: false,
    };
    adjust(&mut expected);
    check(xml, &expected)
}

/// Drops every `<Signature …>…</Signature>` of the document.
fn without_signatures(xml: &str) -> String {
    let mut out = xml.to_owned();
    while let Some(start) = out.find("<Signature ") {
        let end = start + out[start..].find("</Signature>").unwrap() + "</Signature>".len();
        out.replace_range(start..end, "");
    }
    out
}

/// Drops the Response's own signature (the first one), keeping the
/// assertion's.
fn without_response_signature(xml: &str) -> String {
    let start = xml.find("<Signature ").unwrap();
    let end = start + xml[start..].find("</Signature>").unwrap() + "</Signature>".len();
    format!("{}{}", &xml[..start], &xml[end..])
}

#[test]
fn a_genuine_response_is_read() {
    let signed = run(RESPONSE, |_| {}).unwrap();
    assert_eq!(signed.in_response_to, "_req123");
    assert_eq!(signed.name_id.as_deref(), Some("alice@example.com"));
    assert_eq!(signed.attributes["uid"], vec!["alice"]);
    assert_eq!(signed.attributes["displayName"], vec!["Alice Liddell"]);
    // The assertion's own signature is enough.
    assert!(run(&without_response_signature(RESPONSE), |_| {}).is_ok());
}

#[test]
fn unsigned_responses_are_refused() {
    assert_eq!(run(&without_signatures(RESPONSE), |_| {}).unwrap_err(), "the response is not signed");
}

#[test]
fn modified_content_breaks_the_digest() {
    let name = RESPONSE.replace(">alice@example.com</saml:NameID>", ">mallory@example.com</saml:NameID>");
    assert!(run(&name, |_| {}).unwrap_err().contains("digest"));
    let attribute = RESPONSE.replace(">alice</saml:AttributeValue>", ">admin</saml:AttributeValue>");
    assert!(run(&attribute, |_| {}).unwrap_err().contains("digest"));
}

#[test]
fn a_modified_digest_breaks_the_signature() {
    let digest =
        RESPONSE.replace("yenJjPcUtKhqkuMyZpiwGYx2YaFwQ4wHsoU0JwHAGHE=", "AAAAPcUtKhqkuMyZpiwGYx2YaFwQ4wHsoU0JwHAGHE=");
    let error = run(&digest, |_| {}).unwrap_err();
    assert!(error.contains("digest") || error.contains("signature"), "{error}");
}

#[test]
fn another_key_does_not_verify() {
    // The same entity id, another certificate: as if someone else signed.
    let wrong = metadata::parse(include_str!("../../testdata/other-metadata.xml")).unwrap().remove(0).signing_keys;
    let error = check(
        RESPONSE,
        &Expected {
            idp_entity_id: "urn:example:idp",
            keys: &wrong,
            sp_entity_id: SP,
            acs_url: ACS,
            now_ms: DURING,
            skew_ms: 0,
            allow_sha1: false,
        },
    )
    .unwrap_err();
    assert!(error.contains("does not verify"), "{error}");
}

#[test]
fn a_wrapped_assertion_beside_the_signed_one_is_refused() {
    // The classic attack: an unsigned assertion for someone else, next to
    // (or instead of) the signed one, hoping the reader picks it.
    let start = RESPONSE.find("<saml:Assertion ").unwrap();
    let end = RESPONSE.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let evil = without_signatures(&RESPONSE[start..end])
        .replace("ID=\"_DISU", "ID=\"_EVIL")
        .replace(">alice</saml:AttributeValue>", ">admin</saml:AttributeValue>");
    let before = format!("{}{evil}{}", &RESPONSE[..start], &RESPONSE[start..]);
    assert_eq!(run(&before, |_| {}).unwrap_err(), "the response has more than one assertion");
    // Hidden deeper, e.g. inside an extensions element.
    let hidden =
        RESPONSE.replace("<samlp:Status>", &format!("<samlp:Extensions>{evil}</samlp:Extensions><samlp:Status>"));
    assert_eq!(run(&hidden, |_| {}).unwrap_err(), "the response has more than one assertion");
    // Or moved: the signed assertion wrapped away, an unsigned one in its place.
    let moved = format!(
        "{}{evil}<samlp:Extensions>{}</samlp:Extensions>{}",
        &RESPONSE[..start],
        &RESPONSE[start..end],
        &RESPONSE[end..]
    );
    assert!(run(&without_response_signature(&moved), |_| {}).is_err());
}

#[test]
fn time_audience_recipient_and_issuer_are_checked() {
    let after = DURING + 3_600_000;
    assert_eq!(run(RESPONSE, |e| e.now_ms = after).unwrap_err(), "the assertion has expired");
    assert_eq!(run(RESPONSE, |e| e.now_ms = DURING - 3_600_000).unwrap_err(), "the assertion is not valid yet");
    // The configured skew moves the window.
    assert!(
        run(RESPONSE, |e| {
            e.now_ms = 1_795_852_991_000;
            e.skew_ms = 5_000;
        })
        .is_ok()
    );
    assert_eq!(
        run(RESPONSE, |e| e.sp_entity_id = "https://other/sp").unwrap_err(),
        "the assertion is meant for another service"
    );
    assert!(run(RESPONSE, |e| e.acs_url = "https://other/acs").unwrap_err().contains("meant for"));
    assert_eq!(
        run(RESPONSE, |e| e.idp_entity_id = "urn:other:idp").unwrap_err(),
        "the response comes from another identity provider"
    );
}

#[test]
fn dtds_are_refused() {
    let with_dtd = format!("<!DOCTYPE r [<!ENTITY x \"y\">]>{RESPONSE}");
    assert!(run(&with_dtd, |_| {}).unwrap_err().contains("not acceptable XML"));
}

#[test]
fn sha1_is_refused_unless_allowed() {
    let sha1 = without_response_signature(RESPONSE)
        .replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    assert!(run(&sha1, |_| {}).unwrap_err().contains("SHA-1"));
    // Allowed, it is checked (and fails here, since the value is SHA-256's).
    let error = run(&sha1, |e| e.allow_sha1 = true).unwrap_err();
    assert!(error.contains("does not verify"), "{error}");
}
