//! Login tokens: single-use, short-lived tokens that log a new client in as
//! an existing user (`m.login.token`), minted by `POST /login/get_token` and,
//! later, by single sign-on.

use super::Services;
use super::login::{LoggedIn, LoginBody};
use super::tokens::hash_token;
use crate::error::{ErrCode, Error, Result};

/// A freshly minted login token.
#[derive(Debug, Clone)]
pub struct LoginToken {
    /// The token itself (only its hash is stored).
    pub token: String,
    /// How long it stays valid.
    pub expires_in_ms: u64,
}

impl Services {
    /// Mints a token for `user_id`, valid for `lifetime_ms`.
    pub async fn mint_login_token(
        &self,
        user_id: &str,
        auth_provider: Option<&str>,
        lifetime_ms: u64,
    ) -> Result<LoginToken> {
        let token = super::tokens::mint("tlt");
        let expires = trellis_storage::now_ms().saturating_add(i64::try_from(lifetime_ms).unwrap_or(i64::MAX));
        self.storage.insert_login_token(&hash_token(&token), user_id, auth_provider, expires).await?;
        Ok(LoginToken { token, expires_in_ms: lifetime_ms })
    }

    /// `POST /login` with `m.login.token`: uses the token up (even a failed
    /// attempt burns it) and logs its user in on a new or given device.
    pub async fn login_with_token(&self, token: &str, body: &LoginBody) -> Result<LoggedIn> {
        let invalid = || Error::forbidden("Invalid or expired login token");
        let row = self.storage.take_login_token(&hash_token(token)).await?.ok_or_else(invalid)?;
        if row.expires_ts < trellis_storage::now_ms() {
            return Err(invalid());
        }
        let user = self.storage.user(&row.user_id).await?.ok_or_else(invalid)?;
        if user.deactivated {
            return Err(Error::new(ErrCode::UserDeactivated, "This account has been deactivated"));
        }
        let session = self.open_session(&user.user_id, body, row.auth_provider.as_deref()).await?;
        Ok(LoggedIn { user_id: user.user_id, session })
    }
}
