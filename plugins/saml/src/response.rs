//! Checking a SAML Response and reading the one assertion in it.
//!
//! The rules, each of which a test breaks on purpose: the document has no
//! DTD and exactly one `Assertion` (so no second, unsigned one can sit
//! beside the signed one); every signature present verifies with a key
//! from the IdP's metadata, and at least one covers the assertion; data is
//! read only from that assertion; Issuer, Destination, Recipient, Audience,
//! the validity window (with the configured skew) and `InResponseTo` are
//! all checked. Which request it answers is for the caller to check.

use std::collections::BTreeMap;

use roxmltree::{Document, Node};
use rsa::RsaPublicKey;

use crate::dsig::{self, DSIG_NS};
use crate::time::parse_ms;

const PROTOCOL_NS: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION_NS: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the response must match.
#[derive(Debug)]
pub struct Expected<'a> {
    /// The IdP's entity id (from metadata).
    pub idp_entity_id: &'a str,
    /// The IdP's signing keys (from metadata).
    pub keys: &'a [RsaPublicKey],
    /// Our entity id: the audience.
    pub sp_entity_id: &'a str,
    /// Our assertion consumer service URL: Destination and Recipient.
    pub acs_url: &'a str,
    /// The current time.
    pub now_ms: i64,
    /// Tolerated clock skew.
    pub skew_ms: i64,
    /// Whether SHA-1 is acceptable.
    pub allow_sha1: bool,
}

/// The checked assertion's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAssertion {
    /// The request it answers.
    pub in_response_to: String,
    /// The subject's NameID.
    pub name_id: Option<String>,
    /// Attributes by `Name` (and by `FriendlyName` too, when given).
    pub attributes: BTreeMap<String, Vec<String>>,
}

fn child<'a, 'input>(node: Node<'a, 'input>, ns: &str, name: &str) -> Option<Node<'a, 'input>> {
    node.children().find(|c| c.is_element() && c.has_tag_name((ns, name)))
}

fn children<'a, 'input>(node: Node<'a, 'input>, ns: &'a str, name: &'a str) -> impl Iterator<Item = Node<'a, 'input>> {
    node.children().filter(move |c| c.is_element() && c.has_tag_name((ns, name)))
}

fn text(node: Node<'_, '_>) -> String {
    node.text().unwrap_or_default().trim().to_owned()
}

/// Checks a response (the XML of `SAMLResponse`) and answers its assertion.
pub fn check(xml: &str, expected: &Expected<'_>) -> Result<SignedAssertion, String> {
    let doc = Document::parse(xml).map_err(|e| format!("the response is not acceptable XML: {e}"))?;
    let response = doc.root_element();
    if !response.has_tag_name((PROTOCOL_NS, "Response")) {
        return Err("this is not a SAML Response".to_owned());
    }
    if let Some(destination) = response.attribute("Destination")
        && destination != expected.acs_url
    {
        return Err(format!("the response is meant for {destination}, not for this server"));
    }
    let status = child(response, PROTOCOL_NS, "Status")
        .and_then(|s| child(s, PROTOCOL_NS, "StatusCode"))
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if status != SUCCESS {
        return Err(format!("the identity provider did not sign you in ({status})"));
    }
    if let Some(issuer) = child(response, ASSERTION_NS, "Issuer")
        && text(issuer) != expected.idp_entity_id
    {
        return Err("the response comes from another identity provider".to_owned());
    }
    if doc.descendants().any(|n| n.has_tag_name((ASSERTION_NS, "EncryptedAssertion"))) {
        return Err("encrypted assertions are not supported".to_owned());
    }
    let mut assertions = doc.descendants().filter(|n| n.has_tag_name((ASSERTION_NS, "Assertion")));
    let assertion = assertions.next().ok_or("the response has no assertion")?;
    if assertions.next().is_some() {
        return Err("the response has more than one assertion".to_owned());
    }
    if assertion.parent() != Some(response) {
        return Err("the assertion is not where a response keeps it".to_owned());
    }
    check_signatures(&doc, response, assertion, expected)?;
    read_assertion(assertion, response, expected)
}

/// Every signature on the response or the assertion must verify, and one
/// of them must cover the assertion.
fn check_signatures(
    doc: &Document<'_>,
    response: Node<'_, '_>,
    assertion: Node<'_, '_>,
    expected: &Expected<'_>,
) -> Result<(), String> {
    let signatures: Vec<Node<'_, '_>> =
        doc.descendants().filter(|n| n.is_element() && n.has_tag_name((DSIG_NS, "Signature"))).collect();
    if signatures.is_empty() {
        return Err("the response is not signed".to_owned());
    }
    let mut covered = false;
    for signature in signatures {
        let mut last_error = String::new();
        let signed = expected
            .keys
            .iter()
            .find_map(|key| dsig::verify(doc, signature, key, expected.allow_sha1).map_err(|e| last_error = e).ok());
        let Some(signed) = signed else { return Err(last_error) };
        if signed == assertion || signed == response {
            covered = true;
        }
    }
    if covered { Ok(()) } else { Err("no signature covers the assertion".to_owned()) }
}

fn read_assertion(
    assertion: Node<'_, '_>,
    response: Node<'_, '_>,
    expected: &Expected<'_>,
) -> Result<SignedAssertion, String> {
    let issuer = child(assertion, ASSERTION_NS, "Issuer").map(text).unwrap_or_default();
    if issuer != expected.idp_entity_id {
        return Err("the assertion comes from another identity provider".to_owned());
    }
    let now = expected.now_ms;
    let skew = expected.skew_ms;
    let conditions = child(assertion, ASSERTION_NS, "Conditions").ok_or("the assertion has no conditions")?;
    if let Some(not_before) = conditions.attribute("NotBefore") {
        let not_before = parse_ms(not_before).ok_or("the assertion has a malformed NotBefore")?;
        if now + skew < not_before {
            return Err("the assertion is not valid yet".to_owned());
        }
    }
    if let Some(not_on_or_after) = conditions.attribute("NotOnOrAfter") {
        let limit = parse_ms(not_on_or_after).ok_or("the assertion has a malformed NotOnOrAfter")?;
        if now - skew >= limit {
            return Err("the assertion has expired".to_owned());
        }
    }
    let restrictions: Vec<Node<'_, '_>> = children(conditions, ASSERTION_NS, "AudienceRestriction").collect();
    let for_us = !restrictions.is_empty()
        && restrictions
            .iter()
            .all(|r| children(*r, ASSERTION_NS, "Audience").any(|audience| text(audience) == expected.sp_entity_id));
    if !for_us {
        return Err("the assertion is meant for another service".to_owned());
    }
    let subject = child(assertion, ASSERTION_NS, "Subject").ok_or("the assertion has no subject")?;
    let name_id = child(subject, ASSERTION_NS, "NameID").map(text);
    let mut in_response_to = None;
    for confirmation in children(subject, ASSERTION_NS, "SubjectConfirmation") {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = child(confirmation, ASSERTION_NS, "SubjectConfirmationData") else { continue };
        if data.attribute("Recipient") != Some(expected.acs_url) {
            continue;
        }
        let Some(limit) = data.attribute("NotOnOrAfter").and_then(parse_ms) else { continue };
        if now - skew >= limit {
            continue;
        }
        if let Some(request) = data.attribute("InResponseTo") {
            in_response_to = Some(request.to_owned());
            break;
        }
    }
    let in_response_to = in_response_to.ok_or("the assertion has no valid bearer confirmation for this server")?;
    if response.attribute("InResponseTo").is_some_and(|r| r != in_response_to) {
        return Err("the response and its assertion answer different requests".to_owned());
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, ASSERTION_NS, "AttributeStatement") {
        for attribute in children(statement, ASSERTION_NS, "Attribute") {
            let values: Vec<String> = children(attribute, ASSERTION_NS, "AttributeValue").map(text).collect();
            let name = attribute.attribute("Name");
            let friendly = attribute.attribute("FriendlyName").filter(|friendly| Some(*friendly) != name);
            for key in [name, friendly].into_iter().flatten() {
                attributes.entry(key.to_owned()).or_default().extend(values.iter().cloned());
            }
        }
    }
    Ok(SignedAssertion { in_response_to, name_id, attributes })
}

#[cfg(test)]
mod tests;
