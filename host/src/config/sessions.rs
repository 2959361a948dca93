//! `login_via_existing_session`: Synapse's switch for `POST /login/get_token`.

use serde::Deserialize;

use super::DurationMs;

/// Whether a logged-in client may mint a login token for another client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoginViaExistingSession {
    /// Serve `POST /_matrix/client/v1/login/get_token`.
    pub enabled: bool,
    /// Ask the user to authenticate again for each token (as the spec
    /// requires; Synapse allows turning it off, Trellis refuses to).
    pub require_ui_auth: bool,
    /// How long a token stays valid.
    pub token_timeout: DurationMs,
}

impl Default for LoginViaExistingSession {
    fn default() -> Self {
        Self { enabled: false, require_ui_auth: true, token_timeout: DurationMs(5 * 60 * 1000) }
    }
}
