//! Password login, logout and the rules around them (rate limits,
//! deactivated accounts, case-insensitive user ids).

use serde::Deserialize;
use trellis_storage::devices;

use super::Services;
use super::ratelimit::Verdict;
use super::tokens::{IssuedSession, Requester};
use super::users::local_localpart;
use crate::error::{ErrCode, Error, Result};
use serde_json::Value;
use trellis_plugin::hooks::AuthOutcome;

/// `POST /login` body, the fields password login uses.
#[derive(Debug, Deserialize)]
pub struct LoginBody {
    /// Login type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who is logging in.
    #[serde(default)]
    pub identifier: Option<serde_json::Value>,
    /// Deprecated top-level user field.
    #[serde(default)]
    pub user: Option<String>,
    /// The password.
    #[serde(default)]
    pub password: Option<String>,
    /// Device to log in as.
    #[serde(default)]
    pub device_id: Option<String>,
    /// Name for a new device.
    #[serde(default)]
    pub initial_device_display_name: Option<String>,
    /// Ask for a refresh token.
    #[serde(default)]
    pub refresh_token: bool,
}

/// A successful login.
#[derive(Debug)]
pub struct LoggedIn {
    /// Full user id (canonical case).
    pub user_id: String,
    /// Tokens.
    pub session: IssuedSession,
}

fn limited(verdict: Verdict) -> Result<()> {
    match verdict {
        Verdict::Allowed => Ok(()),
        Verdict::Limited { retry_after_ms } => Err(Error::limit_exceeded(retry_after_ms)),
    }
}

impl Services {
    /// `m.login.password`.
    pub async fn login_with_password(&self, body: LoginBody, client_ip: &str) -> Result<LoggedIn> {
        limited(self.ratelimits.login_address.check(client_ip, true))?;
        if !self.config.password_config.enabled {
            return Err(Error::forbidden("Password login has been disabled"));
        }
        let given = self.identifier_user(&body)?;
        let password = body.password.as_deref().ok_or_else(|| Error::missing_param("password"))?;
        let Some(localpart) = local_localpart(&given, self.server_name()) else {
            return Err(Error::forbidden("Invalid username or password"));
        };
        let account_key = super::users::user_id(&localpart.to_lowercase(), self.server_name());
        limited(self.ratelimits.login_failed.check(&account_key, false))?;
        limited(self.ratelimits.login_account.check(&account_key, false))?;
        let user = self.find_login_user(localpart).await?;
        let Some(user) = user else {
            self.ratelimits.login_failed.record(&account_key);
            return Err(Error::forbidden("Invalid username or password"));
        };
        let Some(hash) = user.password_hash.as_deref() else {
            if user.deactivated {
                return Err(Error::new(ErrCode::UserDeactivated, "This account has been deactivated"));
            }
            self.ratelimits.login_failed.record(&account_key);
            return Err(Error::forbidden("Invalid username or password"));
        };
        if !self.passwords.verify(password, hash).await? {
            self.ratelimits.login_failed.record(&account_key);
            return Err(Error::forbidden("Invalid username or password"));
        }
        limited(self.ratelimits.login_account.check(&account_key, true))?;
        if !self.plugins.is_empty() {
            self.plugins
                .check_login_for_spam(
                    &user.user_id,
                    body.device_id.as_deref(),
                    body.initial_device_display_name.as_deref(),
                    Some(client_ip),
                    None,
                )
                .await
                .map_err(Error::from)?;
        }
        let session = self.open_session(&user.user_id, &body, None).await?;
        Ok(LoggedIn { user_id: user.user_id, session })
    }

    /// `POST /login` with a type a password-auth plugin provides: the
    /// plugin checks the whole request body and names the user.
    pub async fn login_with_plugin(&self, body: LoginBody, raw: &Value, client_ip: &str) -> Result<LoggedIn> {
        limited(self.ratelimits.login_address.check(client_ip, true))?;
        let username = self.identifier_user(&body).unwrap_or_default();
        let user_id = match self.plugins.check_auth(&username, &body.kind, raw).await {
            AuthOutcome::Accepted(user_id) => user_id,
            AuthOutcome::Rejected | AuthOutcome::Unhandled => {
                return Err(Error::forbidden("Invalid login"));
            }
        };
        let user = self.storage.user(&user_id).await?.ok_or_else(|| {
            tracing::warn!(%user_id, "a password-auth plugin accepted a login for an unknown user");
            Error::forbidden("Invalid login")
        })?;
        if user.deactivated {
            return Err(Error::new(ErrCode::UserDeactivated, "This account has been deactivated"));
        }
        limited(self.ratelimits.login_account.check(&user.user_id, true))?;
        self.plugins
            .check_login_for_spam(
                &user.user_id,
                body.device_id.as_deref(),
                body.initial_device_display_name.as_deref(),
                Some(client_ip),
                Some(&body.kind),
            )
            .await
            .map_err(Error::from)?;
        let session = self.open_session(&user.user_id, &body, Some(&body.kind)).await?;
        Ok(LoggedIn { user_id: user.user_id, session })
    }

    /// Creates (or reuses) the device the login asks for and its tokens,
    /// then tells plugins about the login.
    pub(crate) async fn open_session(
        &self,
        user_id: &str,
        body: &LoginBody,
        auth_provider: Option<&str>,
    ) -> Result<IssuedSession> {
        let lifetime = body.refresh_token.then_some(self.config.refreshable_access_token_lifetime.0);
        let mut tx = self.storage.begin().await?;
        let session = self
            .tokens
            .issue(&mut tx, user_id, body.device_id.as_deref(), body.initial_device_display_name.as_deref(), lifetime)
            .await?;
        tx.commit().await.map_err(Error::internal)?;
        if !self.plugins.is_empty() {
            self.plugins.on_user_login(user_id, auth_provider, Some(&session.device_id)).await;
        }
        Ok(session)
    }

    /// The user named by `identifier` (`m.id.user`) or the legacy `user`.
    fn identifier_user(&self, body: &LoginBody) -> Result<String> {
        if let Some(identifier) = &body.identifier {
            let kind = identifier
                .get("type")
                .and_then(|t| t.as_str())
                .ok_or_else(|| Error::missing_param("identifier.type"))?;
            return match kind {
                "m.id.user" => identifier
                    .get("user")
                    .and_then(|u| u.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| Error::missing_param("identifier.user")),
                "m.id.thirdparty" | "m.id.phone" => {
                    Err(Error::forbidden("Login with a third-party identifier is not supported"))
                }
                other => Err(Error::invalid_param(format!("Unknown identifier type {other}"))),
            };
        }
        body.user.clone().ok_or_else(|| Error::missing_param("identifier"))
    }

    /// Finds the account for a login: the exact localpart first, then a
    /// case-insensitive match if exactly one account fits (as Synapse does).
    async fn find_login_user(&self, localpart: &str) -> Result<Option<trellis_storage::users::UserRow>> {
        let exact = super::users::user_id(localpart, self.server_name());
        if let Some(user) = self.storage.user(&exact).await? {
            return Ok(Some(user));
        }
        let mut candidates = self.storage.users_by_localpart_ignoring_case(localpart).await?;
        Ok(if candidates.len() == 1 { candidates.pop() } else { None })
    }

    /// `POST /logout`: the device and all its tokens go.
    pub async fn logout(&self, requester: &Requester) -> Result<()> {
        let mut tx = self.storage.begin().await?;
        devices::delete(&mut tx, &requester.user_id, &requester.device_id).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.tokens.forget_device(&requester.user_id, &requester.device_id, None);
        if !self.plugins.is_empty() {
            self.plugins.on_logged_out(&requester.user_id, Some(&requester.device_id)).await;
        }
        Ok(())
    }

    /// `POST /logout/all`: every device of the user goes.
    pub async fn logout_all(&self, requester: &Requester) -> Result<()> {
        let mut tx = self.storage.begin().await?;
        devices::delete_all_except(&mut tx, &requester.user_id, None).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.tokens.forget_user(&requester.user_id, None);
        if !self.plugins.is_empty() {
            self.plugins.on_logged_out(&requester.user_id, None).await;
        }
        Ok(())
    }
}
