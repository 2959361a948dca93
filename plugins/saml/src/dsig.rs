//! XML signature checking, narrowed to what SAML identity providers send:
//! one enveloped signature with one same-document reference, exclusive
//! canonicalization, SHA-256 digests and RSA-SHA256 signatures (SHA-1 only
//! when the admin allows it). Anything else is refused rather than guessed.
//!
//! [`verify`] answers the element the signature covers. Callers must read
//! data from that element only: a valid signature elsewhere in the document
//! says nothing about the rest (that is how signature wrapping works).

use base64::Engine as _;
use roxmltree::{Document, Node};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::signature::Verifier as _;
use sha2::Digest as _;

use crate::c14n::canonicalize;

/// The XML signature namespace.
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";

/// A signature's child element in the dsig namespace.
fn ds_child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Result<Node<'a, 'input>, String> {
    let mut found = node.children().filter(|c| c.is_element() && c.has_tag_name((DSIG_NS, name)));
    let first = found.next().ok_or_else(|| format!("the signature has no {name}"))?;
    if found.next().is_some() {
        return Err(format!("the signature has more than one {name}"));
    }
    Ok(first)
}

fn algorithm<'a>(node: Node<'a, '_>) -> &'a str {
    node.attribute("Algorithm").unwrap_or_default()
}

/// The `PrefixList` of an `InclusiveNamespaces` child of a c14n method.
fn prefix_list(method: Node<'_, '_>) -> Vec<String> {
    method
        .children()
        .find(|c| c.is_element() && c.has_tag_name((EXC_C14N, "InclusiveNamespaces")))
        .and_then(|c| c.attribute("PrefixList"))
        .map(|list| list.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn base64_text(node: Node<'_, '_>) -> Result<Vec<u8>, String> {
    let text: String = node.text().unwrap_or_default().chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("bad base64 in {}: {e}", node.tag_name().name()))
}

/// The single element whose `ID` is `id`. Duplicate ids are refused: which
/// of them a signature covers would be ambiguous.
pub fn element_by_id<'a, 'input>(doc: &'a Document<'input>, id: &str) -> Result<Node<'a, 'input>, String> {
    let mut found = doc.descendants().filter(|n| n.is_element() && n.attribute("ID") == Some(id));
    let first = found.next().ok_or_else(|| format!("no element has the signed ID {id}"))?;
    if found.next().is_some() {
        return Err(format!("several elements have the ID {id}"));
    }
    Ok(first)
}

/// Checks `signature` (a `ds:Signature` element) with `key` and answers the
/// element it covers, which is always the signature's parent.
pub fn verify<'a, 'input>(
    doc: &'a Document<'input>,
    signature: Node<'a, 'input>,
    key: &RsaPublicKey,
    allow_sha1: bool,
) -> Result<Node<'a, 'input>, String> {
    let signed_info = ds_child(signature, "SignedInfo")?;
    let c14n_method = ds_child(signed_info, "CanonicalizationMethod")?;
    if algorithm(c14n_method) != EXC_C14N {
        return Err(format!("unsupported canonicalization {}", algorithm(c14n_method)));
    }
    let signature_method = algorithm(ds_child(signed_info, "SignatureMethod")?);
    let sha1_signature = match signature_method {
        RSA_SHA256 => false,
        RSA_SHA1 if allow_sha1 => true,
        RSA_SHA1 => return Err("the response is signed with SHA-1, which is not allowed".to_owned()),
        other => return Err(format!("unsupported signature method {other}")),
    };
    let reference = ds_child(signed_info, "Reference")?;
    let uri = reference.attribute("URI").unwrap_or_default();
    let id =
        uri.strip_prefix('#').filter(|id| !id.is_empty()).ok_or("the signature must reference an element by ID")?;
    let signed = element_by_id(doc, id)?;
    if signature.parent() != Some(signed) {
        return Err("the signature is not enveloped in the element it signs".to_owned());
    }
    let mut prefixes = Vec::new();
    let mut enveloped = false;
    if let Ok(transforms) = ds_child(reference, "Transforms") {
        for transform in transforms.children().filter(Node::is_element) {
            match algorithm(transform) {
                ENVELOPED => enveloped = true,
                EXC_C14N => prefixes = prefix_list(transform),
                other => return Err(format!("unsupported transform {other}")),
            }
        }
    }
    if !enveloped {
        return Err("the signature does not use the enveloped-signature transform".to_owned());
    }
    let digest_method = algorithm(ds_child(reference, "DigestMethod")?);
    let expected_digest = base64_text(ds_child(reference, "DigestValue")?)?;
    let canonical = canonicalize(signed, Some(signature.id()), &prefixes);
    let digest = match digest_method {
        SHA256 => sha2::Sha256::digest(canonical.as_bytes()).to_vec(),
        SHA1 if allow_sha1 => sha1::Sha1::digest(canonical.as_bytes()).to_vec(),
        SHA1 => return Err("the response uses SHA-1 digests, which are not allowed".to_owned()),
        other => return Err(format!("unsupported digest method {other}")),
    };
    if digest != expected_digest {
        return Err("the digest of the signed element does not match: it was modified".to_owned());
    }
    let signed_info_c14n = canonicalize(signed_info, None, &prefix_list(c14n_method));
    let signature_bytes = base64_text(ds_child(signature, "SignatureValue")?)?;
    let signature_value =
        Signature::try_from(signature_bytes.as_slice()).map_err(|_| "the signature value is malformed".to_owned())?;
    let valid = if sha1_signature {
        VerifyingKey::<sha1::Sha1>::new(key.clone()).verify(signed_info_c14n.as_bytes(), &signature_value).is_ok()
    } else {
        VerifyingKey::<sha2::Sha256>::new(key.clone()).verify(signed_info_c14n.as_bytes(), &signature_value).is_ok()
    };
    if !valid {
        return Err("the signature does not verify with the identity provider's certificate".to_owned());
    }
    Ok(signed)
}
