//! Turning a user name from an identity provider into a Matrix localpart,
//! the two ways Synapse offers (`mxid_mapping: hexencode | dotreplace`);
//! single sign-on providers use them to suggest the name of a new account.

/// Characters allowed in a localpart (spec: `a-z 0-9 . _ = - / +`).
fn allowed(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"._=-/+".contains(&byte)
}

/// The spec's "mapping from other character sets": lower-case (or, when
/// `case_sensitive`, `_` + the lower-case letter for upper-case letters and
/// `__` for `_`), then every byte that is not allowed, and `=` itself,
/// becomes `=xx` (its hex value). A leading `_` becomes `=5f`, since
/// localparts starting with `_` are reserved.
pub fn hexencode(username: &str, case_sensitive: bool) -> String {
    let mut lowered = Vec::with_capacity(username.len());
    for &byte in username.as_bytes() {
        if case_sensitive && (byte.is_ascii_uppercase() || byte == b'_') {
            lowered.push(b'_');
            lowered.push(byte.to_ascii_lowercase());
        } else if case_sensitive {
            lowered.push(byte);
        } else {
            lowered.push(byte.to_ascii_lowercase());
        }
    }
    let mut out = String::with_capacity(lowered.len());
    for &byte in &lowered {
        if allowed(byte) && byte != b'=' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("={byte:02x}"));
        }
    }
    if let Some(rest) = out.strip_prefix('_') {
        out = format!("=5f{rest}");
    }
    out
}

/// Synapse's `dotreplace`: lower-case, every character that is not allowed
/// becomes `.`, and a leading `_` is dropped.
pub fn dotreplace(username: &str) -> String {
    let lowered = username.to_lowercase();
    let replaced: String = lowered.chars().map(|c| if c.is_ascii() && allowed(c as u8) { c } else { '.' }).collect();
    replaced.strip_prefix('_').map_or(replaced.clone(), str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hexencode_follows_the_spec_mapping() {
        assert_eq!(hexencode("Alice", false), "alice");
        assert_eq!(hexencode("alice smith", false), "alice=20smith");
        assert_eq!(hexencode("a=b", false), "a=3db");
        assert_eq!(hexencode("_admin", false), "=5fadmin");
        assert_eq!(hexencode("josé", false), "jos=c3=a9");
        assert_eq!(hexencode("Alice_B", true), "=5falice___b");
        assert_eq!(hexencode("bob_X", true), "bob___x");
        assert_eq!(hexencode("bob@example.org", false), "bob=40example.org");
    }

    #[test]
    fn dotreplace_replaces_with_dots() {
        assert_eq!(dotreplace("Alice Smith"), "alice.smith");
        assert_eq!(dotreplace("_admin"), "admin");
        assert_eq!(dotreplace("josé"), "jos.");
        assert_eq!(dotreplace("bob@example.org"), "bob.example.org");
    }
}
