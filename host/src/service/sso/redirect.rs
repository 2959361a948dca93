//! Sending the browser back to the client after single sign-on, without
//! ever becoming an open redirect.

use crate::percent::percent_encode;

/// Whether a client's `redirectUrl` may be redirected to at once. Others
/// get a confirmation page naming the destination first (as in Synapse,
/// where `sso.client_whitelist` holds URL prefixes). Only http(s) URLs
/// qualify, and a prefix must end at a path boundary so that
/// `https://app.example` does not also allow `https://app.example.evil`.
pub fn is_whitelisted(redirect_url: &str, whitelist: &[String]) -> bool {
    if !(redirect_url.starts_with("https://") || redirect_url.starts_with("http://")) {
        return false;
    }
    whitelist.iter().any(|prefix| {
        redirect_url
            .strip_prefix(prefix.as_str())
            .is_some_and(|rest| prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#']))
    })
}

/// Whether a client's `redirectUrl` may receive a login token at all: an
/// absolute URL, and not one that runs code or reads local files when a
/// browser opens it (`javascript:`, `data:`, ...). Custom schemes of
/// mobile apps (`element://…`) are fine; they get the confirmation page.
pub fn acceptable_client_url(redirect_url: &str) -> bool {
    const REFUSED_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "blob", "about"];
    match url::Url::parse(redirect_url) {
        Ok(parsed) => !REFUSED_SCHEMES.contains(&parsed.scheme()),
        Err(_) => false,
    }
}

/// The part of a client URL worth showing on the confirmation page: its
/// scheme, host and path, without the query (which may be long or
/// misleading).
pub fn display_url(redirect_url: &str) -> String {
    match url::Url::parse(redirect_url) {
        Ok(parsed) => match parsed.host_str() {
            Some(host) => format!("{}://{host}{}", parsed.scheme(), parsed.path()),
            None => format!("{}:{}", parsed.scheme(), parsed.path()),
        },
        Err(_) => redirect_url.to_owned(),
    }
}

/// Adds `loginToken=<token>` to a client URL, keeping its query and putting
/// the parameter before any fragment.
pub fn with_login_token(redirect_url: &str, token: &str) -> String {
    let (base, fragment) = match redirect_url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (redirect_url, None),
    };
    let separator = if base.contains('?') { '&' } else { '?' };
    let encoded = percent_encode(token);
    match fragment {
        Some(fragment) => format!("{base}{separator}loginToken={encoded}#{fragment}"),
        None => format!("{base}{separator}loginToken={encoded}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitelist_matches_prefixes_at_boundaries_only() {
        let whitelist = vec!["https://app.example".to_owned(), "https://chat.example.org/web/".to_owned()];
        assert!(is_whitelisted("https://app.example", &whitelist));
        assert!(is_whitelisted("https://app.example/#/home", &whitelist));
        assert!(is_whitelisted("https://app.example?x=1", &whitelist));
        assert!(!is_whitelisted("https://app.example.evil.net/", &whitelist));
        assert!(!is_whitelisted("https://app.examplex/", &whitelist));
        assert!(is_whitelisted("https://chat.example.org/web/index.html", &whitelist));
        assert!(!is_whitelisted("javascript:alert(1)", &["javascript:".to_owned()]));
        assert!(!is_whitelisted("https://other.example/", &whitelist));
    }

    #[test]
    fn dangerous_client_urls_are_refused() {
        assert!(acceptable_client_url("https://app.example/#/"));
        assert!(acceptable_client_url("element://connect"));
        assert!(!acceptable_client_url("javascript:alert(1)"));
        assert!(!acceptable_client_url("JavaScript:alert(1)"));
        assert!(!acceptable_client_url("data:text/html,<b>"));
        assert!(!acceptable_client_url("/relative/path"));
        assert_eq!(display_url("https://app.example/web/?x=1#f"), "https://app.example/web/");
    }

    #[test]
    fn login_token_goes_into_the_query() {
        assert_eq!(with_login_token("https://a.example/", "t1"), "https://a.example/?loginToken=t1");
        assert_eq!(with_login_token("https://a.example/?x=1", "t1"), "https://a.example/?x=1&loginToken=t1");
        assert_eq!(with_login_token("https://a.example/#/room", "t_1"), "https://a.example/?loginToken=t_1#/room");
        assert_eq!(with_login_token("https://a.example/", "a b&c"), "https://a.example/?loginToken=a%20b%26c");
    }
}
