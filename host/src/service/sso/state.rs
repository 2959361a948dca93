//! The `state` a sign-in carries through the identity provider: which client
//! to send the browser back to, or which user-interactive-auth session to
//! complete. It is a query string (`redirectUrl=…` or `session=…`), the
//! shape Synapse puts into CAS service URLs, so a CAS server configured for
//! Synapse accepts Trellis unchanged.

use crate::percent::percent_encode;

/// What a sign-in is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SsoState {
    /// Logging in to the client at this URL.
    Login {
        /// The client's `redirectUrl`.
        redirect_url: String,
    },
    /// Re-authenticating for this UIA session.
    Uia {
        /// The session id.
        session: String,
    },
}

impl SsoState {
    /// The query-string form handed to the provider.
    pub fn encode(&self) -> String {
        match self {
            SsoState::Login { redirect_url } => format!("redirectUrl={}", percent_encode(redirect_url)),
            SsoState::Uia { session } => format!("session={}", percent_encode(session)),
        }
    }

    /// Reads the form back; anything else is refused.
    pub fn decode(text: &str) -> Option<Self> {
        let mut pairs = url::form_urlencoded::parse(text.as_bytes());
        let (key, value) = pairs.next()?;
        if value.is_empty() || pairs.next().is_some() {
            return None;
        }
        match key.as_ref() {
            "redirectUrl" => Some(SsoState::Login { redirect_url: value.into_owned() }),
            "session" => Some(SsoState::Uia { session: value.into_owned() }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_both_kinds() {
        let login = SsoState::Login { redirect_url: "https://app.example/#/x?a=1&b=2".into() };
        assert_eq!(login.encode(), "redirectUrl=https%3A%2F%2Fapp.example%2F%23%2Fx%3Fa%3D1%26b%3D2");
        assert_eq!(SsoState::decode(&login.encode()), Some(login));
        let uia = SsoState::Uia { session: "abc_-1".into() };
        assert_eq!(SsoState::decode(&uia.encode()), Some(uia));
        assert_eq!(SsoState::decode("other=1"), None);
        assert_eq!(SsoState::decode("redirectUrl="), None);
        assert_eq!(SsoState::decode("garbage"), None);
        assert_eq!(SsoState::decode("session=a&redirectUrl=b"), None);
    }
}
