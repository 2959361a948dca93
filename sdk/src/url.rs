//! Percent-encoding for building and reading URLs and query strings.

/// Encodes every byte except the unreserved characters (`A-Z a-z 0-9 - . _ ~`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Decodes `%xx` escapes and `+` (as a space, the form encoding). Invalid
/// escapes stay as they are; invalid UTF-8 becomes U+FFFD.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded value of `name` in a query string (or form body).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find_map(|(key, value)| (percent_decode(key) == name).then(|| percent_decode(value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_parameters() {
        let raw = "https://a.example/x?y=1&z=a b";
        assert_eq!(percent_decode(&percent_encode(raw)), raw);
        assert_eq!(percent_encode("a b/~"), "a%20b%2F~");
        assert_eq!(query_param("a=1&ticket=ST-1%2B2&b", "ticket").as_deref(), Some("ST-1+2"));
        assert_eq!(query_param("a=1&b", "b").as_deref(), Some(""));
        assert_eq!(query_param("a=1", "c"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
    }
}
