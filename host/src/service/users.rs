//! User ids: validation of localparts and the rules for new accounts.

use crate::error::{ErrCode, Error, Result};

/// The longest user id the spec allows, in bytes.
const MAX_USER_ID_LEN: usize = 255;

/// Checks a localpart requested for a new account. The spec's grammar for
/// new user ids allows `a-z 0-9 . _ = - / +`; like Synapse, Trellis also
/// keeps all-digit localparts for generated (guest) ids and localparts
/// starting with `_` for application services.
pub fn validate_new_localpart(localpart: &str, server_name: &str) -> Result<()> {
    if localpart.is_empty() {
        return Err(Error::new(ErrCode::InvalidUsername, "User ID cannot be empty"));
    }
    if !localpart.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._=-/+".contains(&b)) {
        return Err(Error::new(ErrCode::InvalidUsername, "User ID can only contain characters a-z, 0-9, or '=_-./+'"));
    }
    if localpart.starts_with('_') {
        return Err(Error::new(ErrCode::Exclusive, "User IDs starting with '_' are reserved"));
    }
    if localpart.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(ErrCode::InvalidUsername, "Numeric user IDs are reserved for guest users"));
    }
    if user_id(localpart, server_name).len() > MAX_USER_ID_LEN {
        return Err(Error::new(
            ErrCode::InvalidUsername,
            format!("User ID may not be longer than {MAX_USER_ID_LEN} characters"),
        ));
    }
    Ok(())
}

/// `@localpart:server`.
pub fn user_id(localpart: &str, server_name: &str) -> String {
    format!("@{localpart}:{server_name}")
}

/// Splits a user id given by a client (`@alice:server` or just `alice`) into
/// the localpart, provided it belongs to this server.
pub fn local_localpart<'a>(given: &'a str, server_name: &str) -> Option<&'a str> {
    match given.strip_prefix('@') {
        Some(rest) => {
            let (localpart, server) = rest.split_once(':')?;
            (server == server_name).then_some(localpart)
        }
        None => Some(given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localpart_rules() {
        assert!(validate_new_localpart("alice.b-c_d=e/f+g", "x").is_ok());
        assert_eq!(validate_new_localpart("Alice", "x").unwrap_err().code(), Some(ErrCode::InvalidUsername));
        assert_eq!(validate_new_localpart("a b", "x").unwrap_err().code(), Some(ErrCode::InvalidUsername));
        assert_eq!(validate_new_localpart("1234", "x").unwrap_err().code(), Some(ErrCode::InvalidUsername));
        assert_eq!(validate_new_localpart("_bridge", "x").unwrap_err().code(), Some(ErrCode::Exclusive));
        assert_eq!(validate_new_localpart("", "x").unwrap_err().code(), Some(ErrCode::InvalidUsername));
        let long = "a".repeat(250);
        assert_eq!(validate_new_localpart(&long, "example.org").unwrap_err().code(), Some(ErrCode::InvalidUsername));
    }

    #[test]
    fn local_user_ids() {
        assert_eq!(local_localpart("@alice:example.org", "example.org"), Some("alice"));
        assert_eq!(local_localpart("alice", "example.org"), Some("alice"));
        assert_eq!(local_localpart("@alice:other.org", "example.org"), None);
        assert_eq!(local_localpart("@alice:localhost:8008", "localhost:8008"), Some("alice"));
    }
}
