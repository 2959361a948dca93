//! Registering users and linking external identities. Needs the `accounts`
//! capability.

use crate::bindings::trellis::plugin::accounts as host;
use crate::types::MatrixError;

/// Registers a local user; returns the full user id.
pub fn register(localpart: &str, display_name: Option<&str>) -> Result<String, MatrixError> {
    host::register(localpart, display_name).map_err(Into::into)
}

/// Whether a local user exists.
pub fn exists(user_id: &str) -> bool {
    host::exists(user_id)
}

/// Links an identity at an external provider to a user.
pub fn link_external_id(provider: &str, remote_id: &str, user_id: &str) -> Result<(), MatrixError> {
    host::link_external_id(provider, remote_id, user_id).map_err(Into::into)
}

/// The user linked to an external identity.
pub fn find_external_id(provider: &str, remote_id: &str) -> Option<String> {
    host::find_external_id(provider, remote_id)
}
