//! The CAS service URL: where the CAS server sends the browser back, with
//! the sign-in's state in its query (`?redirectUrl=…` or `?session=…`, as
//! Synapse builds it). The CAS server binds each ticket to the exact service
//! URL, so validation rebuilds it byte for byte from the callback request.

/// The paths CAS sends the browser back to (v3, and r0 for service URLs
/// registered for older Synapse versions).
pub const CALLBACK_PATHS: [&str; 2] = ["/_matrix/client/v3/login/cas/ticket", "/_matrix/client/r0/login/cas/ticket"];

/// The service URL for a sign-in: `base_url` ends in `/`, `path` is one of
/// [`CALLBACK_PATHS`].
pub fn service_url(base_url: &str, path: &str, state: &str) -> String {
    format!("{base_url}{}?{state}", path.trim_start_matches('/'))
}

/// Splits the callback's query into the ticket and the rest (the state the
/// sign-in started with, in its original order and encoding).
pub fn split_ticket(query: &str) -> (Option<String>, String) {
    let mut ticket = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match pair.strip_prefix("ticket=") {
            Some(value) => ticket = Some(trellis_sdk::url::percent_decode(value)),
            None => rest.push(pair),
        }
    }
    (ticket.filter(|t| !t.is_empty()), rest.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_the_service_url_the_ticket_was_issued_for() {
        let state = "redirectUrl=https%3A%2F%2Fapp.example%2F%3Fa%3D1";
        let service = service_url("https://hs.example/", CALLBACK_PATHS[0], state);
        assert_eq!(
            service,
            "https://hs.example/_matrix/client/v3/login/cas/ticket?redirectUrl=https%3A%2F%2Fapp.example%2F%3Fa%3D1"
        );
        // The CAS server appends the ticket to the service URL.
        let (ticket, rest) = split_ticket(&format!("{state}&ticket=ST-12-abc"));
        assert_eq!(ticket.as_deref(), Some("ST-12-abc"));
        assert_eq!(rest, state);
        assert_eq!(split_ticket("session=s1"), (None, "session=s1".to_owned()));
        assert_eq!(split_ticket("ticket=&session=s1").0, None);
    }
}
