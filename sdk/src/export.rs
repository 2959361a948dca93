//! The glue between the role traits and the generated WIT exports. Used
//! only through [`crate::plugin!`].

use std::marker::PhantomData;

use crate::bindings::exports::trellis::plugin as wit;
use crate::bindings::exports::trellis::sso::provider as sso_wit;
use crate::bindings::trellis::plugin::types as wit_types;
use crate::roles::*;
use crate::types::{Event, Handled, Request, Verdict};

/// Which type implements each role; filled in by [`crate::plugin!`].
pub trait Registration: Plugin {
    /// The plugin crate's version.
    const VERSION: &'static str;
    /// Implements [`SpamChecker`].
    type SpamChecker: SpamChecker;
    /// Implements [`ThirdPartyRules`].
    type ThirdPartyRules: ThirdPartyRules;
    /// Implements [`PasswordAuth`].
    type PasswordAuth: PasswordAuth;
    /// Implements [`AccountValidity`].
    type AccountValidity: AccountValidity;
    /// Implements [`AccountHooks`].
    type AccountHooks: AccountHooks;
    /// Implements [`HttpRoutes`].
    type HttpRoutes: HttpRoutes;
    /// Implements [`SsoProvider`].
    type SsoProvider: SsoProvider;
}

/// Stands in for every role a plugin does not implement.
pub struct NotImplemented;
impl SpamChecker for NotImplemented {}
impl ThirdPartyRules for NotImplemented {}
impl PasswordAuth for NotImplemented {}
impl AccountValidity for NotImplemented {}
impl AccountHooks for NotImplemented {}
impl HttpRoutes for NotImplemented {}
impl SsoProvider for NotImplemented {}

/// The type the WIT exports are implemented on.
pub struct Adapter<P>(PhantomData<P>);

fn events(state: Vec<wit_types::Event>) -> Vec<Event> {
    state.into_iter().map(Event::from).collect()
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or(serde_json::Value::Null)
}

fn verdict(verdict: Verdict) -> wit_types::Verdict {
    verdict.into()
}

fn handled(handled: Handled) -> wit_types::Handled {
    handled.into()
}

impl<P: Registration> wit::lifecycle::Guest for Adapter<P> {
    fn on_load() -> Result<(), String> {
        P::on_load()
    }
    fn version() -> String {
        P::VERSION.to_owned()
    }
    fn on_timer(id: String, payload: String) -> wit_types::Handled {
        handled(P::on_timer(&id, &payload))
    }
}

impl<P: Registration> wit::spam_check::Guest for Adapter<P> {
    fn check_event_for_spam(event: wit_types::Event) -> wit_types::Verdict {
        verdict(P::SpamChecker::check_event_for_spam(&event.into()))
    }
    fn should_drop_federated_event(event: wit_types::Event) -> wit_types::Verdict {
        verdict(P::SpamChecker::should_drop_federated_event(&event.into()))
    }
    fn user_may_join_room(user_id: String, room_id: String, is_invited: bool) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_join_room(&user_id, &room_id, is_invited))
    }
    fn user_may_invite(inviter: String, invitee: String, room_id: String) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_invite(&inviter, &invitee, &room_id))
    }
    fn invite_visible_to_invitee(invitee: String, inviter: String, room_id: String) -> wit_types::Verdict {
        verdict(P::SpamChecker::invite_visible_to_invitee(&invitee, &inviter, &room_id))
    }
    fn federated_user_may_invite(event: wit_types::Event) -> wit_types::Verdict {
        verdict(P::SpamChecker::federated_user_may_invite(&event.into()))
    }
    fn user_may_send_3pid_invite(
        inviter: String,
        medium: String,
        address: String,
        room_id: String,
    ) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_send_3pid_invite(&inviter, &medium, &address, &room_id))
    }
    fn user_may_create_room(user_id: String) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_create_room(&user_id))
    }
    fn user_may_create_room_alias(user_id: String, alias: String) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_create_room_alias(&user_id, &alias))
    }
    fn user_may_publish_room(user_id: String, room_id: String) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_publish_room(&user_id, &room_id))
    }
    fn user_may_send_state_event(
        user_id: String,
        room_id: String,
        event_type: String,
        state_key: String,
        content: String,
    ) -> wit_types::Verdict {
        verdict(P::SpamChecker::user_may_send_state_event(&user_id, &room_id, &event_type, &state_key, &json(&content)))
    }
    fn check_username_for_spam(user_id: String, display_name: Option<String>) -> wit_types::Verdict {
        verdict(P::SpamChecker::check_username_for_spam(&user_id, display_name.as_deref()))
    }
    fn check_registration_for_spam(
        username: Option<String>,
        user_agent: Option<String>,
        ip: Option<String>,
        auth_provider: Option<String>,
    ) -> wit_types::Verdict {
        verdict(P::SpamChecker::check_registration_for_spam(
            username.as_deref(),
            user_agent.as_deref(),
            ip.as_deref(),
            auth_provider.as_deref(),
        ))
    }
    fn check_media_file_for_spam(media_id: String, content_type: String, length: u64) -> wit_types::Verdict {
        verdict(P::SpamChecker::check_media_file_for_spam(&media_id, &content_type, length))
    }
    fn check_login_for_spam(
        user_id: String,
        device_id: Option<String>,
        display_name: Option<String>,
        ip: Option<String>,
        auth_provider: Option<String>,
    ) -> wit_types::Verdict {
        verdict(P::SpamChecker::check_login_for_spam(
            &user_id,
            device_id.as_deref(),
            display_name.as_deref(),
            ip.as_deref(),
            auth_provider.as_deref(),
        ))
    }
}

impl<P: Registration> wit::third_party_rules::Guest for Adapter<P> {
    fn check_event_allowed(
        event: wit_types::Event,
        state: Vec<wit_types::Event>,
    ) -> wit::third_party_rules::EventDecision {
        use wit::third_party_rules::EventDecision as Wit;
        match P::ThirdPartyRules::check_event_allowed(&event.into(), &events(state)) {
            EventDecision::Allow => Wit::Allow,
            EventDecision::Replace(content) => Wit::Replace(content.to_string()),
            EventDecision::Deny(error) => Wit::Deny(error.into()),
            EventDecision::NotImplemented => Wit::NotImplemented,
        }
    }
    fn on_create_room(user_id: String, request: String, is_requester_admin: bool) -> wit_types::Verdict {
        verdict(P::ThirdPartyRules::on_create_room(&user_id, &json(&request), is_requester_admin))
    }
    fn check_visibility_can_be_modified(
        room_id: String,
        user_id: String,
        new_visibility: String,
    ) -> wit_types::Verdict {
        verdict(P::ThirdPartyRules::check_visibility_can_be_modified(&room_id, &user_id, &new_visibility))
    }
    fn on_new_event(event: wit_types::Event) -> wit_types::Handled {
        handled(P::ThirdPartyRules::on_new_event(&event.into()))
    }
    fn check_can_shutdown_room(user_id: String, room_id: String) -> wit_types::Verdict {
        verdict(P::ThirdPartyRules::check_can_shutdown_room(&user_id, &room_id))
    }
    fn check_can_deactivate_user(user_id: String, by_admin: bool) -> wit_types::Verdict {
        verdict(P::ThirdPartyRules::check_can_deactivate_user(&user_id, by_admin))
    }
    fn on_profile_update(
        user_id: String,
        display_name: Option<String>,
        avatar_url: Option<String>,
        by_admin: bool,
        deactivation: bool,
    ) -> wit_types::Handled {
        handled(P::ThirdPartyRules::on_profile_update(
            &user_id,
            display_name.as_deref(),
            avatar_url.as_deref(),
            by_admin,
            deactivation,
        ))
    }
    fn on_user_deactivation_status_changed(user_id: String, deactivated: bool, by_admin: bool) -> wit_types::Handled {
        handled(P::ThirdPartyRules::on_user_deactivation_status_changed(&user_id, deactivated, by_admin))
    }
    fn on_threepid_bind(user_id: String, medium: String, address: String) -> wit_types::Handled {
        handled(P::ThirdPartyRules::on_threepid_bind(&user_id, &medium, &address))
    }
    fn on_threepid_unbind(user_id: String, medium: String, address: String) -> wit_types::Handled {
        handled(P::ThirdPartyRules::on_threepid_unbind(&user_id, &medium, &address))
    }
}

impl<P: Registration> wit::password_auth::Guest for Adapter<P> {
    fn login_types() -> Vec<(String, Vec<String>)> {
        P::PasswordAuth::login_types()
    }
    fn check_auth(username: String, login_type: String, fields: String) -> wit::password_auth::AuthResult {
        use wit::password_auth::AuthResult as Wit;
        match P::PasswordAuth::check_auth(&username, &login_type, &json(&fields)) {
            AuthResult::Accept(user_id) => Wit::Accept(user_id),
            AuthResult::Reject => Wit::Reject,
            AuthResult::NotImplemented => Wit::NotImplemented,
        }
    }
    fn on_logged_out(user_id: String, device_id: Option<String>) -> wit_types::Handled {
        handled(P::PasswordAuth::on_logged_out(&user_id, device_id.as_deref()))
    }
    fn get_username_for_registration(uia_results: String, params: String) -> Option<String> {
        P::PasswordAuth::get_username_for_registration(&json(&uia_results), &json(&params))
    }
    fn get_displayname_for_registration(uia_results: String, params: String) -> Option<String> {
        P::PasswordAuth::get_displayname_for_registration(&json(&uia_results), &json(&params))
    }
}

impl<P: Registration> wit::account_validity::Guest for Adapter<P> {
    fn is_user_expired(user_id: String) -> wit::account_validity::Expiry {
        use wit::account_validity::Expiry as Wit;
        match P::AccountValidity::is_user_expired(&user_id) {
            Expiry::Expired => Wit::Expired,
            Expiry::Valid => Wit::Valid,
            Expiry::Unknown => Wit::Unknown,
            Expiry::NotImplemented => Wit::NotImplemented,
        }
    }
    fn on_user_registration(user_id: String) -> wit_types::Handled {
        handled(P::AccountValidity::on_user_registration(&user_id))
    }
    fn on_user_login(user_id: String, auth_provider: Option<String>, device_id: Option<String>) -> wit_types::Handled {
        handled(P::AccountValidity::on_user_login(&user_id, auth_provider.as_deref(), device_id.as_deref()))
    }
}

impl<P: Registration> wit::account_hooks::Guest for Adapter<P> {
    fn on_account_data_updated(
        user_id: String,
        room_id: Option<String>,
        data_type: String,
        content: String,
    ) -> wit_types::Handled {
        handled(P::AccountHooks::on_account_data_updated(&user_id, room_id.as_deref(), &data_type, &json(&content)))
    }
    fn get_ratelimit_override(user_id: String, limiter: String) -> wit::account_hooks::Ratelimit {
        use wit::account_hooks::Ratelimit as Wit;
        match P::AccountHooks::get_ratelimit_override(&user_id, &limiter) {
            Ratelimit::Unchanged => Wit::Unchanged,
            Ratelimit::Exempt => Wit::Exempt,
            Ratelimit::Override(per_second, burst) => Wit::Override((per_second, burst)),
            Ratelimit::NotImplemented => Wit::NotImplemented,
        }
    }
    fn add_field_to_unsigned(event: wit_types::Event) -> Option<String> {
        P::AccountHooks::add_field_to_unsigned(&event.into())
            .map(|fields| serde_json::Value::Object(fields).to_string())
    }
}

impl<P: Registration> wit::http_routes::Guest for Adapter<P> {
    fn handle(request: wit_types::Request) -> Option<wit_types::Response> {
        P::HttpRoutes::handle(Request::from(request)).map(Into::into)
    }
}

impl<P: Registration> sso_wit::Guest for Adapter<P> {
    fn identity_providers() -> Option<Vec<sso_wit::Idp>> {
        P::SsoProvider::identity_providers().map(|idps| idps.into_iter().map(Into::into).collect())
    }
    fn start(idp: String, state: String, base_url: String) -> Result<wit_types::Response, sso_wit::Failure> {
        P::SsoProvider::start(&idp, &state, &base_url).map(Into::into).map_err(Into::into)
    }
    fn finish(idp: String, request: wit_types::Request, base_url: String) -> sso_wit::Outcome {
        P::SsoProvider::finish(&idp, Request::from(request), &base_url).into()
    }
}

/// Registers a plugin type and the roles it implements:
///
/// ```no_run
/// use trellis_sdk::{HttpRoutes, Plugin, SpamChecker};
///
/// struct MyPlugin;
/// impl Plugin for MyPlugin {}
/// impl SpamChecker for MyPlugin {}
/// impl HttpRoutes for MyPlugin {}
///
/// trellis_sdk::plugin!(MyPlugin, roles: [SpamChecker, HttpRoutes]);
/// ```
///
/// Roles not listed answer "not implemented" to the server. The plugin's
/// version shown by the server is its crate's version.
#[macro_export]
macro_rules! plugin {
    ($plugin:ty) => {
        $crate::plugin!($plugin, roles: []);
    };
    ($plugin:ty, roles: [$($role:ident),* $(,)?]) => {
        // Each listed role must be a role trait the type implements: a typo
        // fails to compile instead of silently turning the role off.
        $(const _: fn() = || {
            fn implements<T: $crate::$role>() {}
            implements::<$plugin>();
        };)*
        impl $crate::export::Registration for $plugin {
            const VERSION: &'static str = env!("CARGO_PKG_VERSION");
            type SpamChecker = $crate::__pick_role!(SpamChecker, $plugin, [$($role)*]);
            type ThirdPartyRules = $crate::__pick_role!(ThirdPartyRules, $plugin, [$($role)*]);
            type PasswordAuth = $crate::__pick_role!(PasswordAuth, $plugin, [$($role)*]);
            type AccountValidity = $crate::__pick_role!(AccountValidity, $plugin, [$($role)*]);
            type AccountHooks = $crate::__pick_role!(AccountHooks, $plugin, [$($role)*]);
            type HttpRoutes = $crate::__pick_role!(HttpRoutes, $plugin, [$($role)*]);
            type SsoProvider = $crate::__pick_role!(SsoProvider, $plugin, [$($role)*]);
        }
        type __TrellisPluginExports = $crate::export::Adapter<$plugin>;
        $crate::bindings::__export_world!(__TrellisPluginExports with_types_in $crate::bindings);
    };
}

/// Picks the plugin type for a listed role, `NotImplemented` otherwise.
#[doc(hidden)]
#[macro_export]
macro_rules! __pick_role {
    (SpamChecker, $plugin:ty, [SpamChecker $($rest:ident)*]) => { $plugin };
    (ThirdPartyRules, $plugin:ty, [ThirdPartyRules $($rest:ident)*]) => { $plugin };
    (PasswordAuth, $plugin:ty, [PasswordAuth $($rest:ident)*]) => { $plugin };
    (AccountValidity, $plugin:ty, [AccountValidity $($rest:ident)*]) => { $plugin };
    (AccountHooks, $plugin:ty, [AccountHooks $($rest:ident)*]) => { $plugin };
    (HttpRoutes, $plugin:ty, [HttpRoutes $($rest:ident)*]) => { $plugin };
    (SsoProvider, $plugin:ty, [SsoProvider $($rest:ident)*]) => { $plugin };
    ($want:ident, $plugin:ty, [$other:ident $($rest:ident)*]) => { $crate::__pick_role!($want, $plugin, [$($rest)*]) };
    ($want:ident, $plugin:ty, []) => { $crate::export::NotImplemented };
}
