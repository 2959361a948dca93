//! This service provider's metadata, served at
//! `/_synapse/client/saml2/metadata.xml` for the IdP's administrator: our
//! entity id and where to post responses. Requests are not signed; signed
//! assertions are wanted.

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The `EntityDescriptor` document.
pub fn document(entity_id: &str, acs_url: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{entity}\">\n\
         \x20 <md:SPSSODescriptor AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\" \
         protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
         \x20   <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{acs}\" index=\"1\"/>\n\
         \x20 </md:SPSSODescriptor>\n\
         </md:EntityDescriptor>\n",
        entity = escape(entity_id),
        acs = escape(acs_url),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_entity_and_the_acs() {
        let xml = super::document("https://hs/md?a=1&b=2", "https://hs/acs");
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(doc.root_element().attribute("entityID"), Some("https://hs/md?a=1&b=2"));
        let acs = doc.descendants().find(|n| n.has_tag_name("AssertionConsumerService")).unwrap();
        assert_eq!(acs.attribute("Location"), Some("https://hs/acs"));
    }
}
