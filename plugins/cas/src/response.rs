//! Reading a CAS server's validation answer (`/serviceValidate` in CAS 2,
//! `/p3/serviceValidate` in CAS 3). The XML is parsed without DTD support,
//! so entity tricks (billion laughs, external entities) are refused.

use std::collections::BTreeMap;

/// The CAS namespace.
const CAS_NS: &str = "http://www.yale.edu/tp/cas";

/// What the CAS server said about a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validation {
    /// The ticket is good for this user.
    Success {
        /// The CAS user name.
        user: String,
        /// Released attributes; an attribute may have several values.
        attributes: BTreeMap<String, Vec<String>>,
    },
    /// The CAS server refused the ticket.
    Failure {
        /// `INVALID_TICKET`, `INVALID_SERVICE`, ...
        code: String,
        /// The server's explanation.
        message: String,
    },
}

/// Parses a `cas:serviceResponse` document.
pub fn parse(xml: &str) -> Result<Validation, String> {
    let document = roxmltree::Document::parse(xml).map_err(|e| format!("the CAS answer is not valid XML: {e}"))?;
    let root = document.root_element();
    if !is_cas(&root, "serviceResponse") {
        return Err("the CAS answer is not a cas:serviceResponse".to_owned());
    }
    let Some(outcome) = root.children().find(roxmltree::Node::is_element) else {
        return Err("the CAS answer is empty".to_owned());
    };
    if is_cas(&outcome, "authenticationFailure") {
        return Ok(Validation::Failure {
            code: outcome.attribute("code").unwrap_or("UNKNOWN").to_owned(),
            message: outcome.text().unwrap_or_default().trim().to_owned(),
        });
    }
    if !is_cas(&outcome, "authenticationSuccess") {
        return Err(format!("unexpected element {} in the CAS answer", outcome.tag_name().name()));
    }
    let user = outcome
        .children()
        .find(|child| is_cas(child, "user"))
        .and_then(|node| node.text())
        .map(str::trim)
        .filter(|user| !user.is_empty())
        .ok_or("the CAS answer names no user")?
        .to_owned();
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(block) = outcome.children().find(|child| is_cas(child, "attributes")) {
        for attribute in block.children().filter(roxmltree::Node::is_element) {
            let value = attribute.text().unwrap_or_default().trim().to_owned();
            attributes.entry(attribute.tag_name().name().to_owned()).or_default().push(value);
        }
    }
    Ok(Validation::Success { user, attributes })
}

fn is_cas(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace() == Some(CAS_NS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_user_and_attributes() {
        let xml = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationSuccess>
                <cas:user>alice</cas:user>
                <cas:attributes>
                    <cas:displayName>Alice Liddell</cas:displayName>
                    <cas:memberOf>staff</cas:memberOf>
                    <cas:memberOf>admins</cas:memberOf>
                </cas:attributes>
            </cas:authenticationSuccess>
        </cas:serviceResponse>"#;
        let Validation::Success { user, attributes } = parse(xml).unwrap() else { panic!("not a success") };
        assert_eq!(user, "alice");
        assert_eq!(attributes["displayName"], vec!["Alice Liddell"]);
        assert_eq!(attributes["memberOf"], vec!["staff", "admins"]);
    }

    #[test]
    fn reads_failures() {
        let xml = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationFailure code="INVALID_TICKET">Ticket ST-1 not recognized</cas:authenticationFailure>
        </cas:serviceResponse>"#;
        assert_eq!(
            parse(xml).unwrap(),
            Validation::Failure { code: "INVALID_TICKET".into(), message: "Ticket ST-1 not recognized".into() }
        );
    }

    #[test]
    fn refuses_dtds_other_namespaces_and_garbage() {
        let entity = r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "alice">]>
            <cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationSuccess><cas:user>&x;</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#;
        assert!(parse(entity).is_err());
        let wrong_ns = r#"<cas:serviceResponse xmlns:cas="urn:evil">
            <cas:authenticationSuccess><cas:user>alice</cas:user></cas:authenticationSuccess></cas:serviceResponse>"#;
        assert!(parse(wrong_ns).is_err());
        assert!(parse("not xml").is_err());
        let no_user = r#"<cas:serviceResponse xmlns:cas="http://www.yale.edu/tp/cas">
            <cas:authenticationSuccess></cas:authenticationSuccess></cas:serviceResponse>"#;
        assert!(parse(no_user).is_err());
    }
}
