//! Exclusive XML canonicalization without comments
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`), the form XML signatures
//! digest and sign. It works on roxmltree's data model, where entities are
//! already resolved, line ends normalised and CDATA merged into text, as the
//! specification's XPath data model has them.
//!
//! What makes it "exclusive": an element declares only the namespaces it
//! visibly uses (its own prefix and its attributes' prefixes), plus those
//! named in an `InclusiveNamespaces PrefixList`, and only when no output
//! ancestor already declared the same binding. Prefixes are kept as written,
//! so they are read from the source text.

use roxmltree::{Node, NodeId};

/// Canonicalizes the subtree at `apex`, leaving out the subtree at
/// `exclude` (the enveloped signature) if given. `inclusive_prefixes` are
/// the `PrefixList` entries (`#default` for the default namespace).
pub fn canonicalize(apex: Node<'_, '_>, exclude: Option<NodeId>, inclusive_prefixes: &[String]) -> String {
    let mut out = String::new();
    let rendered: Vec<(String, String)> = Vec::new();
    write_node(apex, exclude, inclusive_prefixes, &rendered, &mut out);
    out
}

/// The prefix an element or attribute was written with (`""`: none).
fn written_prefix(qname: &str) -> &str {
    qname.split_once(':').map_or("", |(prefix, _)| prefix)
}

fn element_qname<'a>(node: Node<'_, 'a>) -> &'a str {
    let text = node.document().input_text();
    let start = node.range().start + 1;
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/').unwrap_or(rest.len());
    &rest[..end]
}

/// The namespace a prefix is bound to at `node` (`""` for an unbound
/// default namespace).
fn binding(node: Node<'_, '_>, prefix: &str) -> Option<String> {
    let wanted = if prefix.is_empty() { None } else { Some(prefix) };
    match node.namespaces().find(|ns| ns.name() == wanted) {
        Some(ns) => Some(ns.uri().to_owned()),
        None if prefix.is_empty() => Some(String::new()),
        None => None,
    }
}

fn write_node(
    node: Node<'_, '_>,
    exclude: Option<NodeId>,
    inclusive: &[String],
    rendered: &[(String, String)],
    out: &mut String,
) {
    if Some(node.id()) == exclude {
        return;
    }
    if node.is_text() {
        escape_text(node.text().unwrap_or_default(), out);
        return;
    }
    if node.is_pi() {
        if let Some(pi) = node.pi() {
            out.push_str("<?");
            out.push_str(pi.target);
            if let Some(value) = pi.value {
                out.push(' ');
                out.push_str(value);
            }
            out.push_str("?>");
        }
        return;
    }
    if !node.is_element() {
        return; // comments are left out
    }
    let qname = element_qname(node);
    let text = node.document().input_text();
    let attributes: Vec<(&str, roxmltree::Attribute<'_, '_>)> =
        node.attributes().map(|attribute| (&text[attribute.range_qname()], attribute)).collect();

    // The prefixes this element visibly uses, then the inclusive ones.
    let mut used: Vec<String> = vec![written_prefix(qname).to_owned()];
    for (attribute_qname, _) in &attributes {
        let prefix = written_prefix(attribute_qname);
        if !prefix.is_empty() && !used.iter().any(|p| p == prefix) {
            used.push(prefix.to_owned());
        }
    }
    for prefix in inclusive {
        let prefix = if prefix == "#default" { "" } else { prefix.as_str() };
        if !used.iter().any(|p| p == prefix) && (prefix.is_empty() || binding(node, prefix).is_some()) {
            used.push(prefix.to_owned());
        }
    }
    let mut declarations: Vec<(String, String)> = Vec::new();
    for prefix in used {
        if prefix == "xml" {
            continue;
        }
        let Some(uri) = binding(node, &prefix) else { continue };
        let current = rendered.iter().rev().find(|(p, _)| *p == prefix).map(|(_, u)| u.as_str());
        let needed = match current {
            Some(current) => current != uri,
            // An empty default namespace needs no declaration unless an
            // output ancestor declared a non-empty one.
            None => !(prefix.is_empty() && uri.is_empty()),
        };
        if needed {
            declarations.push((prefix, uri));
        }
    }
    declarations.sort();

    out.push('<');
    out.push_str(qname);
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attribute(uri, out);
        out.push('"');
    }
    let mut sorted = attributes;
    sorted.sort_by(|(_, a), (_, b)| {
        (a.namespace().unwrap_or(""), a.name()).cmp(&(b.namespace().unwrap_or(""), b.name()))
    });
    for (attribute_qname, attribute) in &sorted {
        out.push(' ');
        out.push_str(attribute_qname);
        out.push_str("=\"");
        escape_attribute(attribute.value(), out);
        out.push('"');
    }
    out.push('>');
    let mut inner: Vec<(String, String)> = rendered.to_vec();
    inner.extend(declarations);
    for child in node.children() {
        write_node(child, exclude, inclusive, &inner, out);
    }
    out.push_str("</");
    out.push_str(qname);
    out.push('>');
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            other => out.push(other),
        }
    }
}

fn escape_attribute(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n_of(xml: &str, id: &str) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let node = doc.descendants().find(|n| n.attribute("ID") == Some(id)).unwrap();
        canonicalize(node, None, &[])
    }

    #[test]
    fn declares_only_visibly_used_namespaces_on_the_apex() {
        let xml = r#"<samlp:Response xmlns:samlp="urn:p" xmlns:saml="urn:a" xmlns:unused="urn:u" ID="r">
            <saml:Assertion ID="a" Version="2.0"><saml:Issuer>idp</saml:Issuer></saml:Assertion></samlp:Response>"#;
        assert_eq!(
            c14n_of(xml, "a"),
            r#"<saml:Assertion xmlns:saml="urn:a" ID="a" Version="2.0"><saml:Issuer>idp</saml:Issuer></saml:Assertion>"#
        );
    }

    #[test]
    fn sorts_attributes_and_escapes_like_the_spec() {
        let xml = "<e xmlns:b=\"urn:b\" xmlns:a=\"urn:a\" ID=\"x\" b:z=\"1\" a:y=\"2\" c=\"&quot;&lt;&amp;\">\
                   <!-- gone --><f/>a &amp; b &gt; c</e>";
        assert_eq!(
            c14n_of(xml, "x"),
            "<e xmlns:a=\"urn:a\" xmlns:b=\"urn:b\" ID=\"x\" c=\"&quot;&lt;&amp;\" a:y=\"2\" b:z=\"1\"><f></f>a &amp; b &gt; c</e>"
        );
    }

    #[test]
    fn default_namespaces_and_redeclarations() {
        let xml = r#"<r xmlns="urn:d" ID="x"><c><d xmlns=""/></c><p:q xmlns:p="urn:p"><p:s/></p:q></r>"#;
        assert_eq!(
            c14n_of(xml, "x"),
            r#"<r xmlns="urn:d" ID="x"><c><d xmlns=""></d></c><p:q xmlns:p="urn:p"><p:s></p:s></p:q></r>"#
        );
    }

    #[test]
    fn inclusive_prefixes_and_exclusion() {
        let xml = r#"<a:r xmlns:a="urn:a" xmlns:xs="urn:xs" ID="x"><a:v>1</a:v><a:sig ID="s"><a:k/></a:sig></a:r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        let root = doc.root_element();
        let sig = doc.descendants().find(|n| n.attribute("ID") == Some("s")).unwrap();
        assert_eq!(
            canonicalize(root, Some(sig.id()), &["xs".to_owned()]),
            r#"<a:r xmlns:a="urn:a" xmlns:xs="urn:xs" ID="x"><a:v>1</a:v></a:r>"#
        );
    }
}
