//! The single sign-on flow on the server's side: sending the browser to a
//! provider, taking what comes back, finding or creating the account, and
//! handing the client a login token (or completing a UIA stage).
//!
//! Each step answers an [`SsoStep`]: where the browser goes next, or which
//! page it sees. Failures the user can do something about are pages, never
//! JSON or stack traces.

use std::sync::Arc;

use serde_json::{Value, json};
use trellis_plugin::{
    IdentityProvider, LoadedPlugin, PluginRequest, PluginResponse, SsoFailure, SsoIdentity, SsoOutcome,
};

use super::redirect::{is_whitelisted, with_login_token};
use super::state::SsoState;
use crate::error::{ErrCode, Error, Result};
use crate::percent::percent_encode;
use crate::service::Services;
use crate::service::users::user_id as make_user_id;

/// How long the login token of a single sign-on stays valid (Synapse's
/// default): the browser goes straight to the client, which exchanges it.
pub const LOGIN_TOKEN_LIFETIME_MS: u64 = 2 * 60 * 1000;

/// Attempts at a free user name (`name`, `name1`, …) before giving up.
const LOCALPART_ATTEMPTS: u32 = 1000;

/// What the browser gets next.
#[derive(Debug)]
pub enum SsoStep {
    /// A `302` to this URL.
    Redirect(String),
    /// The provider plugin's own answer.
    Respond(PluginResponse),
    /// A page: template name, HTTP status and the template's values.
    Page {
        /// Template file name.
        template: &'static str,
        /// HTTP status.
        status: u16,
        /// Values for the template.
        context: Value,
    },
    /// A new user chooses a user name: set the session cookie and go to
    /// the picker.
    PickUsername {
        /// The pending sign-in's id.
        session: String,
    },
}

impl SsoStep {
    /// The error page.
    pub fn error(status: u16, message: impl Into<String>) -> Self {
        SsoStep::Page {
            template: "sso_error.html",
            status,
            context: json!({"error_description": message.into(), "error": "M_UNKNOWN"}),
        }
    }

    fn failure(failure: SsoFailure) -> Self {
        let status = if (400..600).contains(&failure.status) { failure.status } else { 400 };
        Self::error(status, failure.message)
    }
}

/// A provider as the picker pages list it.
pub(super) fn provider_entry(idp: &IdentityProvider, url: &str) -> Value {
    json!({"idp_id": idp.id, "idp_name": idp.name, "idp_icon": idp.icon, "idp_brand": idp.brand, "url": url})
}

impl Services {
    /// The configured providers with the plugins serving them.
    pub async fn sso_providers(&self) -> Vec<(Arc<LoadedPlugin>, IdentityProvider)> {
        if self.plugins.is_empty() {
            return Vec::new();
        }
        self.plugins.identity_providers().await
    }

    pub(super) fn base_url(&self) -> String {
        let base = self.config.public_baseurl.clone().unwrap_or_default();
        if base.ends_with('/') { base } else { format!("{base}/") }
    }

    /// `GET /login/sso/redirect[/{idp}]`: sends the browser to the provider,
    /// or to a picker page when several are configured and none was named.
    pub async fn sso_begin_login(&self, idp_id: Option<&str>, redirect_url: &str) -> Result<SsoStep> {
        if !super::redirect::acceptable_client_url(redirect_url) {
            return Err(Error::invalid_param("redirectUrl must be an absolute URL of an application"));
        }
        let providers = self.sso_providers().await;
        let chosen = match idp_id {
            Some(id) => providers.iter().find(|(_, idp)| idp.id == id),
            None if providers.len() == 1 => providers.first(),
            None if providers.is_empty() => None,
            None => {
                let base = self.base_url();
                let listed: Vec<Value> = providers
                    .iter()
                    .map(|(_, idp)| {
                        let url = format!(
                            "{base}_matrix/client/v3/login/sso/redirect/{}?redirectUrl={}",
                            percent_encode(&idp.id),
                            percent_encode(redirect_url)
                        );
                        provider_entry(idp, &url)
                    })
                    .collect();
                return Ok(SsoStep::Page {
                    template: "sso_login_idp_picker.html",
                    status: 200,
                    context: json!({"providers": listed, "redirect_url": redirect_url}),
                });
            }
        };
        let Some((plugin, idp)) = chosen else {
            return Err(Error::with_status(
                axum::http::StatusCode::NOT_FOUND,
                ErrCode::NotFound,
                match idp_id {
                    Some(id) => format!("Unknown identity provider {id}"),
                    None => "Single sign-on is not configured".to_owned(),
                },
            ));
        };
        let state = SsoState::Login { redirect_url: redirect_url.to_owned() };
        Ok(self.start_at(plugin, &idp.id, &state).await)
    }

    /// Asks the provider's plugin where to send the browser.
    pub(super) async fn start_at(&self, plugin: &LoadedPlugin, idp_id: &str, state: &SsoState) -> SsoStep {
        match self.plugins.sso_start(plugin, idp_id, &state.encode(), &self.base_url()).await {
            Ok(Ok(response)) => SsoStep::Respond(response),
            Ok(Err(failure)) => SsoStep::failure(failure),
            Err(fault) => {
                tracing::warn!(plugin = plugin.name(), idp = idp_id, "single sign-on start failed: {fault}");
                SsoStep::error(502, "The identity provider could not be reached. Please try again later.")
            }
        }
    }

    /// The provider sent the browser back to one of its callback paths.
    pub async fn sso_callback(
        self: &Arc<Self>,
        plugin: &LoadedPlugin,
        idp: &IdentityProvider,
        request: PluginRequest,
    ) -> SsoStep {
        let outcome = match self.plugins.sso_finish(plugin, &idp.id, request, &self.base_url()).await {
            Ok(outcome) => outcome,
            Err(fault) => {
                tracing::warn!(plugin = plugin.name(), idp = %idp.id, "single sign-on callback failed: {fault}");
                return SsoStep::error(502, "The sign-in could not be checked. Please try again later.");
            }
        };
        let (identity, state) = match outcome {
            SsoOutcome::SignedIn { identity, state } => (identity, state),
            SsoOutcome::Failure(failure) => {
                tracing::info!(idp = %idp.id, message = %failure.message, "single sign-on refused");
                return SsoStep::failure(failure);
            }
            SsoOutcome::Respond(response) => return SsoStep::Respond(response),
        };
        let result = match SsoState::decode(&state) {
            Some(SsoState::Login { redirect_url }) if super::redirect::acceptable_client_url(&redirect_url) => {
                self.sso_login(idp, identity, &redirect_url).await
            }
            Some(SsoState::Uia { session }) => self.sso_confirm_uia(idp, &identity, &session).await,
            _ => Ok(SsoStep::error(400, "The sign-in came back without a valid destination.")),
        };
        result.unwrap_or_else(|error| match error {
            // The user's problem (say, a name the provider mapped that is
            // not a valid Matrix user name): say what it is.
            Error::Matrix { status, message, .. } | Error::Plugin { status, message, .. }
                if status.is_client_error() =>
            {
                SsoStep::error(status.as_u16(), message)
            }
            other => {
                tracing::warn!(idp = %idp.id, "single sign-on failed: {other:?}");
                SsoStep::error(500, "The sign-in could not be completed. Please try again.")
            }
        })
    }

    /// The account an identity is linked to; links an existing account by
    /// name when the provider owns the names it reports.
    pub(super) async fn linked_account(&self, idp_id: &str, identity: &SsoIdentity) -> Result<Option<String>> {
        if let Some(user_id) = self.storage.user_by_external_id(idp_id, &identity.remote_id).await? {
            return Ok(Some(user_id));
        }
        let Some(localpart) = &identity.existing_localpart else { return Ok(None) };
        let user_id = make_user_id(&localpart.to_lowercase(), self.server_name());
        if self.storage.user(&user_id).await?.is_none() {
            return Ok(None);
        }
        if !self.storage.link_external_id(idp_id, &identity.remote_id, &user_id).await? {
            // Linked concurrently: whoever won, the link is what counts.
            return Ok(self.storage.user_by_external_id(idp_id, &identity.remote_id).await?);
        }
        tracing::info!(%user_id, idp = idp_id, "linked an existing account to its single sign-on identity");
        Ok(Some(user_id))
    }

    async fn sso_login(
        self: &Arc<Self>,
        idp: &IdentityProvider,
        identity: SsoIdentity,
        redirect_url: &str,
    ) -> Result<SsoStep> {
        if let Some(user_id) = self.linked_account(&idp.id, &identity).await? {
            return self.sso_existing_user(&user_id, &idp.id, &identity, redirect_url).await;
        }
        if !identity.may_register {
            return Ok(SsoStep::error(
                403,
                format!(
                    "No account on this server belongs to your {} identity, and new accounts cannot be made with it.",
                    idp.name
                ),
            ));
        }
        if self.config.sso.always_pick_username || identity.localpart.is_none() {
            let session = self.sso_pending.insert(&idp.id, &idp.name, identity, redirect_url);
            return Ok(SsoStep::PickUsername { session });
        }
        let user_id = self.register_sso_user(&idp.id, &identity, None).await?;
        self.sso_finish_login(&user_id, &idp.id, redirect_url, true).await
    }

    async fn sso_existing_user(
        self: &Arc<Self>,
        user_id: &str,
        idp_id: &str,
        identity: &SsoIdentity,
        redirect_url: &str,
    ) -> Result<SsoStep> {
        let user = self.storage.user(user_id).await?;
        if user.as_ref().is_none_or(|user| user.deactivated) {
            return Ok(SsoStep::Page { template: "sso_account_deactivated.html", status: 403, context: json!({}) });
        }
        if self.config.sso.update_profile_information
            && let Some(name) = &identity.display_name
        {
            self.sync_display_name(user_id, name).await;
        }
        self.sso_finish_login(user_id, idp_id, redirect_url, false).await
    }

    /// Re-syncs the display name from the provider; a failure is logged
    /// only, the login goes on.
    async fn sync_display_name(self: &Arc<Self>, user_id: &str, name: &str) {
        let current = self.profile_json(user_id).await.ok();
        if current.as_ref().and_then(|profile| profile.get("displayname")).and_then(Value::as_str) == Some(name) {
            return;
        }
        let requester = crate::service::tokens::Requester {
            user_id: user_id.to_owned(),
            device_id: String::new(),
            is_guest: false,
            is_admin: false,
            token_hash: String::new(),
        };
        let field = crate::service::profile::ProfileField::DisplayName;
        let value = Value::String(name.to_owned());
        if let Err(error) = self.set_profile_field(&requester, user_id, &field, Some(&value)).await {
            tracing::warn!(%user_id, "could not update the display name from single sign-on: {error:?}");
        }
    }

    /// Creates the account for a new identity, linked in the same
    /// transaction. With no `chosen` name, the provider's is used, with a
    /// number added while it is taken (as Synapse does for SAML).
    pub async fn register_sso_user(
        &self,
        idp_id: &str,
        identity: &SsoIdentity,
        chosen: Option<(&str, bool)>,
    ) -> Result<String> {
        let (base, use_display_name) = match chosen {
            Some((localpart, use_display_name)) => (localpart.to_owned(), use_display_name),
            None => (identity.localpart.clone().unwrap_or_default().to_lowercase(), true),
        };
        let attempts = if chosen.is_some() { 1 } else { LOCALPART_ATTEMPTS };
        for attempt in 0..attempts {
            let candidate = if attempt == 0 { base.clone() } else { format!("{base}{attempt}") };
            match self.check_username_available(&candidate).await {
                Ok(()) => {}
                Err(Error::Matrix { code: ErrCode::UserInUse, .. }) if chosen.is_none() => continue,
                Err(error) => return Err(error),
            }
            let account = crate::service::registration::NewAccount {
                localpart: candidate,
                displayname: if use_display_name { identity.display_name.clone() } else { None },
                external_id: Some((idp_id.to_owned(), identity.remote_id.clone())),
                ..Default::default()
            };
            match self.create_account(account, None).await {
                Ok(registered) => {
                    if !self.plugins.is_empty() {
                        self.plugins.on_user_registration(&registered.user_id).await;
                    }
                    return Ok(registered.user_id);
                }
                Err(Error::Matrix { code: ErrCode::UserInUse, .. }) if chosen.is_none() => continue,
                Err(error) => return Err(error),
            }
        }
        Err(Error::new(ErrCode::UserInUse, "No free user name was found for this identity"))
    }

    /// Mints the login token and sends the browser back to the client, at
    /// once if it is on `sso.client_whitelist`, else through a page that
    /// names the client and asks the user to continue.
    pub async fn sso_finish_login(
        &self,
        user_id: &str,
        idp_id: &str,
        redirect_url: &str,
        new_user: bool,
    ) -> Result<SsoStep> {
        let token = self.mint_login_token(user_id, Some(idp_id), LOGIN_TOKEN_LIFETIME_MS).await?;
        let target = with_login_token(redirect_url, &token.token);
        tracing::info!(%user_id, idp = idp_id, new_user, "signed in through single sign-on");
        if is_whitelisted(redirect_url, &self.config.sso.client_whitelist) {
            return Ok(SsoStep::Redirect(target));
        }
        let display_name = self
            .profile_json(user_id)
            .await
            .ok()
            .and_then(|profile| profile.get("displayname").and_then(Value::as_str).map(str::to_owned));
        Ok(SsoStep::Page {
            template: "sso_redirect_confirm.html",
            status: 200,
            context: json!({
                "redirect_url": target,
                "display_url": super::redirect::display_url(redirect_url),
                "user_id": user_id,
                "user_profile": {"display_name": display_name},
                "new_user": new_user,
            }),
        })
    }
}
