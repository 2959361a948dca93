//! Account registration: the client API's `/register` (with UIA), guest
//! accounts, and the account-creation step shared with shared-secret
//! registration and the CLI.
//!
//! An account is created in one transaction together with its profile,
//! first device and tokens, so no failure or cancellation can leave a user
//! without its device or a device without its user.

use serde_json::{Map, Value};
use trellis_storage::{registration_tokens, users};

use super::Services;
use super::passwords::check_policy;
use super::tokens::IssuedSession;
use super::uia::{Flows, UiaRequest, stage};
use super::users::{user_id, validate_new_localpart};
use crate::error::{ErrCode, Error, Result};

/// What a new account gets.
#[derive(Debug, Default, Clone)]
pub struct NewAccount {
    /// Localpart, already validated.
    pub localpart: String,
    /// Plain password to hash, if any.
    pub password: Option<String>,
    /// Administrator.
    pub admin: bool,
    /// Guest account.
    pub guest: bool,
    /// Synapse `user_type`.
    pub user_type: Option<String>,
    /// Initial display name (defaults to the localpart, as in Synapse).
    pub displayname: Option<String>,
    /// Log in at once: device id (or `None` for a new one) and display name.
    pub login: Option<LoginRequest>,
    /// An external identity (provider, remote id) linked in the same
    /// transaction: accounts made by single sign-on.
    pub external_id: Option<(String, String)>,
}

/// Device to create at registration time.
#[derive(Debug, Default, Clone)]
pub struct LoginRequest {
    /// Requested device id.
    pub device_id: Option<String>,
    /// Device display name.
    pub display_name: Option<String>,
    /// Issue a refresh token with an expiring access token.
    pub refreshable: bool,
}

/// The created account.
#[derive(Debug)]
pub struct Registered {
    /// Full user id.
    pub user_id: String,
    /// Tokens, unless login was inhibited.
    pub session: Option<IssuedSession>,
}

/// Parsed `/register` request body.
#[derive(Debug)]
pub struct RegisterBody {
    /// Desired localpart.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Device id to use.
    pub device_id: Option<String>,
    /// Device display name.
    pub initial_device_display_name: Option<String>,
    /// Don't log in.
    pub inhibit_login: bool,
    /// Ask for a refresh token.
    pub refresh_token: bool,
}

impl RegisterBody {
    /// Reads the fields from a JSON body, with Matrix errors for bad types.
    pub fn from_json(body: &Map<String, Value>) -> Result<Self> {
        let string = |key: &str| -> Result<Option<String>> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Error::invalid_param(format!("'{key}' must be a string"))),
            }
        };
        let flag = |key: &str| -> Result<bool> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(false),
                Some(Value::Bool(b)) => Ok(*b),
                Some(_) => Err(Error::invalid_param(format!("'{key}' must be a boolean"))),
            }
        };
        Ok(Self {
            username: string("username")?,
            password: string("password")?,
            device_id: string("device_id")?,
            initial_device_display_name: string("initial_device_display_name")?,
            inhibit_login: flag("inhibit_login")?,
            refresh_token: flag("refresh_token")?,
        })
    }
}

impl Services {
    /// The UIA flows `/register` offers under the current config.
    pub fn registration_flows(&self) -> Flows {
        let flows = if self.config.registration_requires_token {
            vec![vec![stage::REGISTRATION_TOKEN]]
        } else {
            vec![vec![stage::DUMMY]]
        };
        Flows { flows, params: Map::new() }
    }

    /// `POST /register` for a normal account.
    pub async fn register_with_uia(&self, uri: &str, raw: &Value, client_ip: &str) -> Result<Registered> {
        if !self.config.enable_registration {
            return Err(Error::forbidden("Registration has been disabled"));
        }
        self.check_registration_rate(client_ip, false)?;
        let object = raw.as_object().ok_or_else(|| Error::bad_json("Body must be a JSON object"))?;
        // Validate what can be validated before the client goes through the
        // stages, so that it learns early that a name is taken (as Synapse).
        let early = RegisterBody::from_json(object)?;
        if let Some(username) = &early.username {
            self.check_username_available(&username.to_lowercase()).await?;
        }
        if let Some(password) = &early.password {
            check_policy(&self.config.password_config.policy, password)?;
        }
        let request = UiaRequest { method: "POST", uri, body: raw, user_id: None };
        let completed = self.user_interactive_auth(&request, &self.registration_flows()).await?;
        let body = RegisterBody::from_json(&completed.client_dict)?;
        let password = body.password.ok_or_else(|| Error::missing_param("password"))?;
        check_policy(&self.config.password_config.policy, &password)?;
        let mut displayname = None;
        let mut username = body.username;
        if !self.plugins.is_empty() {
            let results = serde_json::to_value(&completed.results).map_err(Error::internal)?;
            let params = Value::Object(completed.client_dict.clone());
            if let Some(chosen) = self.plugins.username_for_registration(&results, &params).await {
                username = Some(chosen);
            }
            displayname = self.plugins.displayname_for_registration(&results, &params).await;
            self.plugins
                .check_registration_for_spam(username.as_deref(), None, Some(client_ip), None)
                .await
                .map_err(Error::from)?;
        }
        let localpart = match username {
            Some(name) => {
                let localpart = name.to_lowercase();
                self.check_username_available(&localpart).await?;
                localpart
            }
            None => self.generated_localpart().await?,
        };
        let token = completed.results.get("registration_token").and_then(Value::as_str).map(str::to_owned);
        let account = NewAccount {
            localpart,
            displayname,
            password: Some(password),
            login: (!body.inhibit_login).then_some(LoginRequest {
                device_id: body.device_id,
                display_name: body.initial_device_display_name,
                refreshable: body.refresh_token,
            }),
            ..NewAccount::default()
        };
        // Counted before the account exists, so that a refused request never
        // leaves an account behind.
        self.check_registration_rate(client_ip, true)?;
        let registered = self.create_account(account, token.as_deref()).await?;
        self.finish_uia_session(&completed.session_id).await?;
        if !self.plugins.is_empty() {
            self.plugins.on_user_registration(&registered.user_id).await;
        }
        Ok(registered)
    }

    /// `POST /register?kind=guest`.
    pub async fn register_guest(&self, raw: &Value, client_ip: &str) -> Result<Registered> {
        if !self.config.allow_guest_access {
            return Err(Error::forbidden("Guest access is disabled"));
        }
        self.check_registration_rate(client_ip, true)?;
        let object = raw.as_object().ok_or_else(|| Error::bad_json("Body must be a JSON object"))?;
        let body = RegisterBody::from_json(object)?;
        let localpart = self.generated_localpart().await?;
        let account = NewAccount {
            localpart,
            guest: true,
            login: Some(LoginRequest {
                device_id: body.device_id,
                display_name: body.initial_device_display_name,
                refreshable: body.refresh_token,
            }),
            ..NewAccount::default()
        };
        self.create_account(account, None).await
    }

    fn check_registration_rate(&self, client_ip: &str, record: bool) -> Result<()> {
        match self.ratelimits.registration.check(client_ip, record) {
            super::ratelimit::Verdict::Allowed => Ok(()),
            super::ratelimit::Verdict::Limited { retry_after_ms } => Err(Error::limit_exceeded(retry_after_ms)),
        }
    }

    /// `M_INVALID_USERNAME` / `M_USER_IN_USE` checks for a new localpart.
    pub async fn check_username_available(&self, localpart: &str) -> Result<()> {
        validate_new_localpart(localpart, self.server_name())?;
        if self.storage.localpart_taken(localpart).await? {
            return Err(Error::new(ErrCode::UserInUse, "User ID already taken."));
        }
        Ok(())
    }

    async fn generated_localpart(&self) -> Result<String> {
        loop {
            let mut tx = self.storage.begin().await?;
            let n = users::next_generated_localpart(&mut tx).await?;
            tx.commit().await.map_err(Error::internal)?;
            let candidate = n.to_string();
            if !self.storage.localpart_taken(&candidate).await? {
                return Ok(candidate);
            }
        }
    }

    /// Creates the account, its profile and (optionally) a logged-in device,
    /// all in one transaction; completes a reserved registration token use.
    pub async fn create_account(&self, account: NewAccount, registration_token: Option<&str>) -> Result<Registered> {
        let hash = match &account.password {
            Some(password) => Some(self.passwords.hash(password).await?),
            None => None,
        };
        let user_id = user_id(&account.localpart, self.server_name());
        let mut tx = self.storage.begin().await?;
        let new_user = users::NewUser {
            user_id: &user_id,
            localpart: &account.localpart,
            password_hash: hash.as_deref(),
            is_admin: account.admin,
            is_guest: account.guest,
            user_type: account.user_type.as_deref(),
        };
        if let Err(err) = users::insert(&mut tx, &new_user).await {
            return Err(if err.is_unique_violation() {
                Error::new(ErrCode::UserInUse, "User ID already taken.")
            } else {
                err.into()
            });
        }
        if let Some((provider, remote_id)) = &account.external_id
            && let Err(err) = trellis_storage::external_ids::link(&mut tx, provider, remote_id, &user_id).await
        {
            return Err(if err.is_unique_violation() {
                Error::new(ErrCode::UserInUse, "This identity is already linked to an account.")
            } else {
                err.into()
            });
        }
        let displayname = account.displayname.clone().unwrap_or_else(|| account.localpart.clone());
        if !account.guest {
            trellis_storage::profiles::set_displayname(&mut tx, &user_id, Some(&displayname)).await?;
        }
        let session = match &account.login {
            Some(login) => {
                let lifetime = login.refreshable.then_some(self.config.refreshable_access_token_lifetime.0);
                let issued = self
                    .tokens
                    .issue(&mut tx, &user_id, login.device_id.as_deref(), login.display_name.as_deref(), lifetime)
                    .await?;
                Some(issued)
            }
            None => None,
        };
        if let Some(token) = registration_token {
            registration_tokens::complete_use(&mut tx, token).await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        tracing::info!(%user_id, guest = account.guest, admin = account.admin, "registered user");
        Ok(Registered { user_id, session })
    }
}
