//! Password auth providers, account validity, account data, rate-limit
//! overrides and `unsigned` additions.

use super::{call_role, notify};
use crate::bindings::v0_1::exports::trellis::plugin::account_hooks::Ratelimit;
use crate::bindings::v0_1::exports::trellis::plugin::account_validity::Expiry as WitExpiry;
use crate::bindings::v0_1::exports::trellis::plugin::password_auth::AuthResult;
use crate::host_api::PluginEvent;
use crate::imports::event_to_wit;
use crate::loaded::{Callback, LoadedPlugin};
use crate::manager::PluginManager;

/// The answer to a login of a plugin-provided type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// The credentials belong to this user id.
    Accepted(String),
    /// A plugin handles the type and refused the credentials.
    Rejected,
    /// No plugin handles the type.
    Unhandled,
}

/// Whether an account has expired, per the account validity plugins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Refuse its requests.
    Expired,
    /// Allow them.
    Valid,
}

/// The login types a plugin declared; asked once per load, so `GET /login`
/// does not instantiate every plugin each time. A faulting answer is not
/// remembered.
async fn declared_login_types(plugin: &LoadedPlugin) -> &[(String, Vec<String>)] {
    if plugin.login_types.get().is_none() && plugin.roles.password_auth.is_some() && !plugin.is_disabled() {
        match call_role!(plugin, Callback::CheckAuth, password_auth, |guest, store| guest.call_login_types(store)) {
            Ok(offered) => {
                let _ = plugin.login_types.set(offered.unwrap_or_default());
            }
            Err(_) => return &[],
        }
    }
    plugin.login_types.get().map_or(&[], Vec::as_slice)
}

impl PluginManager {
    /// The login types plugins add, each with its required fields.
    pub async fn login_types(&self) -> Vec<(String, Vec<String>)> {
        let mut types = Vec::new();
        for plugin in self.current().iter() {
            types.extend(declared_login_types(plugin).await.iter().cloned());
        }
        types
    }

    /// Checks a login of a type some plugin declared; only the plugins that
    /// declared that type are asked.
    pub async fn check_auth(&self, username: &str, login_type: &str, fields: &serde_json::Value) -> AuthOutcome {
        let fields = fields.to_string();
        let mut handled = false;
        for plugin in self.current().iter() {
            if plugin.skips(Callback::CheckAuth)
                || !declared_login_types(plugin).await.iter().any(|(kind, _)| kind == login_type)
            {
                continue;
            }
            let answer = call_role!(plugin.as_ref(), Callback::CheckAuth, password_auth, |guest, store| guest
                .call_check_auth(store, username, login_type, &fields));
            match answer {
                Ok(Some(AuthResult::Accept(user_id))) => return AuthOutcome::Accepted(user_id),
                Ok(Some(AuthResult::Reject)) | Err(_) => handled = true,
                Ok(Some(AuthResult::NotImplemented)) | Ok(None) => {}
            }
        }
        if handled { AuthOutcome::Rejected } else { AuthOutcome::Unhandled }
    }

    /// A device logged out.
    pub async fn on_logged_out(&self, user_id: &str, device_id: Option<&str>) {
        notify!(self, Callback::OnLoggedOut, password_auth, |guest, store| guest
            .call_on_logged_out(store, user_id, device_id));
    }

    /// A plugin's choice of localpart for a registration, if any.
    pub async fn username_for_registration(
        &self,
        uia_results: &serde_json::Value,
        params: &serde_json::Value,
    ) -> Option<String> {
        let (uia_results, params) = (uia_results.to_string(), params.to_string());
        for plugin in self.current().iter() {
            if plugin.roles.password_auth.is_none() || plugin.is_disabled() {
                continue;
            }
            if let Ok(Some(Some(name))) =
                call_role!(plugin.as_ref(), Callback::GetUsernameForRegistration, password_auth, |guest, store| guest
                    .call_get_username_for_registration(store, &uia_results, &params))
            {
                return Some(name);
            }
        }
        None
    }

    /// A plugin's choice of display name for a registration, if any.
    pub async fn displayname_for_registration(
        &self,
        uia_results: &serde_json::Value,
        params: &serde_json::Value,
    ) -> Option<String> {
        let (uia_results, params) = (uia_results.to_string(), params.to_string());
        for plugin in self.current().iter() {
            if plugin.roles.password_auth.is_none() || plugin.is_disabled() {
                continue;
            }
            if let Ok(Some(Some(name))) =
                call_role!(plugin.as_ref(), Callback::GetDisplaynameForRegistration, password_auth, |guest, store| {
                    guest.call_get_displayname_for_registration(store, &uia_results, &params)
                })
            {
                return Some(name);
            }
        }
        None
    }

    /// Whether any plugin may decide account expiry: the auth path skips
    /// the call otherwise.
    pub fn checks_expiry(&self) -> bool {
        self.any_implements(Callback::IsUserExpired, |plugin| plugin.roles.account_validity.is_some())
    }

    /// The first definite answer of the account validity plugins.
    pub async fn is_user_expired(&self, user_id: &str) -> Option<Expiry> {
        for plugin in self.current().iter() {
            if plugin.roles.account_validity.is_none() || plugin.skips(Callback::IsUserExpired) {
                continue;
            }
            match call_role!(plugin.as_ref(), Callback::IsUserExpired, account_validity, |guest, store| guest
                .call_is_user_expired(store, user_id))
            {
                Ok(Some(WitExpiry::Expired)) => return Some(Expiry::Expired),
                Ok(Some(WitExpiry::Valid)) => return Some(Expiry::Valid),
                Ok(Some(WitExpiry::NotImplemented)) => plugin.mark_not_implemented(Callback::IsUserExpired),
                _ => {}
            }
        }
        None
    }

    /// A user registered.
    pub async fn on_user_registration(&self, user_id: &str) {
        notify!(self, Callback::OnUserRegistration, account_validity, |guest, store| guest
            .call_on_user_registration(store, user_id));
    }

    /// A user logged in.
    pub async fn on_user_login(&self, user_id: &str, auth_provider: Option<&str>, device_id: Option<&str>) {
        notify!(self, Callback::OnUserLogin, account_validity, |guest, store| guest.call_on_user_login(
            store,
            user_id,
            auth_provider,
            device_id
        ));
    }

    /// Account data changed.
    pub async fn on_account_data_updated(
        &self,
        user_id: &str,
        room_id: Option<&str>,
        data_type: &str,
        content: &serde_json::Value,
    ) {
        let content = content.to_string();
        notify!(self, Callback::OnAccountDataUpdated, account_hooks, |guest, store| guest
            .call_on_account_data_updated(store, user_id, room_id, data_type, &content));
    }

    /// A plugin's override of a rate limit for a user: `Some(None)` exempts
    /// the user, `Some(Some((per_second, burst)))` replaces the limit.
    pub async fn ratelimit_override(&self, user_id: &str, limiter: &str) -> Option<Option<(f64, u32)>> {
        for plugin in self.current().iter() {
            if plugin.roles.account_hooks.is_none() || plugin.skips(Callback::GetRatelimitOverride) {
                continue;
            }
            match call_role!(plugin.as_ref(), Callback::GetRatelimitOverride, account_hooks, |guest, store| guest
                .call_get_ratelimit_override(store, user_id, limiter))
            {
                Ok(Some(Ratelimit::Exempt)) => return Some(None),
                Ok(Some(Ratelimit::Override(limit))) => return Some(Some(limit)),
                Ok(Some(Ratelimit::NotImplemented)) => plugin.mark_not_implemented(Callback::GetRatelimitOverride),
                _ => {}
            }
        }
        None
    }

    /// Whether any plugin may add to `unsigned`.
    pub fn adds_unsigned(&self) -> bool {
        self.any_implements(Callback::AddFieldToUnsigned, |plugin| plugin.roles.account_hooks.is_some())
    }

    /// Fields plugins add to an event's `unsigned`, merged in config order.
    pub async fn fields_for_unsigned(&self, event: &PluginEvent) -> serde_json::Map<String, serde_json::Value> {
        let wit_event = event_to_wit(event);
        let mut fields = serde_json::Map::new();
        for plugin in self.current().iter() {
            if plugin.roles.account_hooks.is_none() || plugin.skips(Callback::AddFieldToUnsigned) {
                continue;
            }
            if let Ok(Some(Some(json))) =
                call_role!(plugin.as_ref(), Callback::AddFieldToUnsigned, account_hooks, |guest, store| guest
                    .call_add_field_to_unsigned(store, &wit_event))
                && let Ok(serde_json::Value::Object(added)) = serde_json::from_str(&json)
            {
                fields.extend(added);
            }
        }
        fields
    }
}
