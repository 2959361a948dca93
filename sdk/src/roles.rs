//! The role traits a plugin implements. Every method has a default that
//! tells the server the plugin does not implement it; the server then stops
//! calling that method, so unused callbacks cost nothing.

use serde_json::Value;

use crate::types::{Event, Handled, MatrixError, Request, Response, Verdict};

/// Every plugin implements this (often as an empty `impl`).
pub trait Plugin {
    /// Called once after the plugin is loaded or reloaded. Check the config
    /// here: an `Err` refuses the plugin with your message.
    fn on_load() -> Result<(), String> {
        Ok(())
    }

    /// A timer set with [`crate::timers`] is due.
    fn on_timer(id: &str, payload: &str) -> Handled {
        let _ = (id, payload);
        Handled::NotImplemented
    }
}

/// Synapse's spam checker callbacks. Deny to refuse the action; the first
/// plugin that denies wins.
pub trait SpamChecker {
    /// A local user's event, before it is stored.
    fn check_event_for_spam(event: &Event) -> Verdict {
        let _ = event;
        Verdict::NotImplemented
    }
    /// An event received over federation; deny drops it.
    fn should_drop_federated_event(event: &Event) -> Verdict {
        let _ = event;
        Verdict::NotImplemented
    }
    /// A user joining a room.
    fn user_may_join_room(user_id: &str, room_id: &str, is_invited: bool) -> Verdict {
        let _ = (user_id, room_id, is_invited);
        Verdict::NotImplemented
    }
    /// A local user inviting someone.
    fn user_may_invite(inviter: &str, invitee: &str, room_id: &str) -> Verdict {
        let _ = (inviter, invitee, room_id);
        Verdict::NotImplemented
    }
    /// Deny to hide a pending invite from the invitee's `/sync`.
    fn invite_visible_to_invitee(invitee: &str, inviter: &str, room_id: &str) -> Verdict {
        let _ = (invitee, inviter, room_id);
        Verdict::NotImplemented
    }
    /// An invite arriving over federation.
    fn federated_user_may_invite(event: &Event) -> Verdict {
        let _ = event;
        Verdict::NotImplemented
    }
    /// An email or phone invite.
    fn user_may_send_3pid_invite(inviter: &str, medium: &str, address: &str, room_id: &str) -> Verdict {
        let _ = (inviter, medium, address, room_id);
        Verdict::NotImplemented
    }
    /// A user creating a room.
    fn user_may_create_room(user_id: &str) -> Verdict {
        let _ = user_id;
        Verdict::NotImplemented
    }
    /// A user creating a room alias.
    fn user_may_create_room_alias(user_id: &str, alias: &str) -> Verdict {
        let _ = (user_id, alias);
        Verdict::NotImplemented
    }
    /// A user publishing a room in the room directory.
    fn user_may_publish_room(user_id: &str, room_id: &str) -> Verdict {
        let _ = (user_id, room_id);
        Verdict::NotImplemented
    }
    /// A user sending a state event.
    fn user_may_send_state_event(
        user_id: &str,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Verdict {
        let _ = (user_id, room_id, event_type, state_key, content);
        Verdict::NotImplemented
    }
    /// Deny to hide a user from user-directory search results.
    fn check_username_for_spam(user_id: &str, display_name: Option<&str>) -> Verdict {
        let _ = (user_id, display_name);
        Verdict::NotImplemented
    }
    /// A registration about to happen.
    fn check_registration_for_spam(
        username: Option<&str>,
        user_agent: Option<&str>,
        ip: Option<&str>,
        auth_provider: Option<&str>,
    ) -> Verdict {
        let _ = (username, user_agent, ip, auth_provider);
        Verdict::NotImplemented
    }
    /// An uploaded file.
    fn check_media_file_for_spam(media_id: &str, content_type: &str, length: u64) -> Verdict {
        let _ = (media_id, content_type, length);
        Verdict::NotImplemented
    }
    /// A login about to succeed.
    fn check_login_for_spam(
        user_id: &str,
        device_id: Option<&str>,
        display_name: Option<&str>,
        ip: Option<&str>,
        auth_provider: Option<&str>,
    ) -> Verdict {
        let _ = (user_id, device_id, display_name, ip, auth_provider);
        Verdict::NotImplemented
    }
}

/// The answer of [`ThirdPartyRules::check_event_allowed`].
#[derive(Debug, Clone, PartialEq)]
pub enum EventDecision {
    /// Store the event as it is.
    Allow,
    /// Store it with this content instead (a JSON object).
    Replace(Value),
    /// Refuse it.
    Deny(MatrixError),
    /// The default: the server stops calling the method.
    #[doc(hidden)]
    NotImplemented,
}

/// Synapse's third-party rules callbacks.
pub trait ThirdPartyRules {
    /// Before an event is stored; `state` is the room's current state.
    fn check_event_allowed(event: &Event, state: &[Event]) -> EventDecision {
        let _ = (event, state);
        EventDecision::NotImplemented
    }
    /// A createRoom request (its JSON body), before anything is written.
    fn on_create_room(user_id: &str, request: &Value, is_requester_admin: bool) -> Verdict {
        let _ = (user_id, request, is_requester_admin);
        Verdict::NotImplemented
    }
    /// A change of a room's directory visibility (`public` or `private`).
    fn check_visibility_can_be_modified(room_id: &str, user_id: &str, new_visibility: &str) -> Verdict {
        let _ = (room_id, user_id, new_visibility);
        Verdict::NotImplemented
    }
    /// After an event was stored. Runs off the sender's request, at most
    /// once per event, concurrently with other calls. Return
    /// [`Handled::Done`] also for events you ignore: the default answer
    /// makes the server stop calling this method.
    fn on_new_event(event: &Event) -> Handled {
        let _ = event;
        Handled::NotImplemented
    }
    /// An admin shutting a room down.
    fn check_can_shutdown_room(user_id: &str, room_id: &str) -> Verdict {
        let _ = (user_id, room_id);
        Verdict::NotImplemented
    }
    /// A deactivation by the user or by an admin.
    fn check_can_deactivate_user(user_id: &str, by_admin: bool) -> Verdict {
        let _ = (user_id, by_admin);
        Verdict::NotImplemented
    }
    /// A display name or avatar change.
    fn on_profile_update(
        user_id: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
        by_admin: bool,
        deactivation: bool,
    ) -> Handled {
        let _ = (user_id, display_name, avatar_url, by_admin, deactivation);
        Handled::NotImplemented
    }
    /// An account was deactivated or reactivated.
    fn on_user_deactivation_status_changed(user_id: &str, deactivated: bool, by_admin: bool) -> Handled {
        let _ = (user_id, deactivated, by_admin);
        Handled::NotImplemented
    }
    /// A third-party identifier was bound.
    fn on_threepid_bind(user_id: &str, medium: &str, address: &str) -> Handled {
        let _ = (user_id, medium, address);
        Handled::NotImplemented
    }
    /// A third-party identifier was unbound.
    fn on_threepid_unbind(user_id: &str, medium: &str, address: &str) -> Handled {
        let _ = (user_id, medium, address);
        Handled::NotImplemented
    }
}

/// The answer of [`PasswordAuth::check_auth`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthResult {
    /// The credentials belong to this full user id.
    Accept(String),
    /// The credentials are wrong.
    Reject,
    /// The default: the server stops calling the method.
    #[doc(hidden)]
    NotImplemented,
}

/// New login types (Synapse's password auth providers).
pub trait PasswordAuth {
    /// The login types handled, each with the fields it requires.
    fn login_types() -> Vec<(String, Vec<String>)> {
        Vec::new()
    }
    /// Checks a login; `fields` is the whole request body.
    fn check_auth(username: &str, login_type: &str, fields: &Value) -> AuthResult {
        let _ = (username, login_type, fields);
        AuthResult::NotImplemented
    }
    /// A device logged out.
    fn on_logged_out(user_id: &str, device_id: Option<&str>) -> Handled {
        let _ = (user_id, device_id);
        Handled::NotImplemented
    }
    /// A localpart to register instead of the requested one.
    fn get_username_for_registration(uia_results: &Value, params: &Value) -> Option<String> {
        let _ = (uia_results, params);
        None
    }
    /// A display name for a new user.
    fn get_displayname_for_registration(uia_results: &Value, params: &Value) -> Option<String> {
        let _ = (uia_results, params);
        None
    }
}

/// The answer of [`AccountValidity::is_user_expired`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Refuse the user's requests.
    Expired,
    /// The account is valid.
    Valid,
    /// Let other plugins decide.
    Unknown,
    /// The default: the server stops calling the method.
    #[doc(hidden)]
    NotImplemented,
}

/// Synapse's account validity callbacks.
pub trait AccountValidity {
    /// Whether the user's account has expired.
    fn is_user_expired(user_id: &str) -> Expiry {
        let _ = user_id;
        Expiry::NotImplemented
    }
    /// A user registered.
    fn on_user_registration(user_id: &str) -> Handled {
        let _ = user_id;
        Handled::NotImplemented
    }
    /// A user logged in.
    fn on_user_login(user_id: &str, auth_provider: Option<&str>, device_id: Option<&str>) -> Handled {
        let _ = (user_id, auth_provider, device_id);
        Handled::NotImplemented
    }
}

/// The answer of [`AccountHooks::get_ratelimit_override`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ratelimit {
    /// Keep the configured limit.
    Unchanged,
    /// No limit for this user.
    Exempt,
    /// (per second, burst).
    Override(f64, u32),
    /// The default: the server stops calling the method.
    #[doc(hidden)]
    NotImplemented,
}

/// Account data, rate limits and `unsigned`.
pub trait AccountHooks {
    /// Account data changed.
    fn on_account_data_updated(user_id: &str, room_id: Option<&str>, data_type: &str, content: &Value) -> Handled {
        let _ = (user_id, room_id, data_type, content);
        Handled::NotImplemented
    }
    /// Override a rate limit for a user.
    fn get_ratelimit_override(user_id: &str, limiter: &str) -> Ratelimit {
        let _ = (user_id, limiter);
        Ratelimit::NotImplemented
    }
    /// Fields to add to an event's `unsigned` object.
    fn add_field_to_unsigned(event: &Event) -> Option<serde_json::Map<String, Value>> {
        let _ = event;
        None
    }
}

/// HTTP routes under `/_trellis/plugins/<name>/` (or an MSC's prefix).
pub trait HttpRoutes {
    /// Answers a request; `None` means "not mine": 404 `M_UNRECOGNIZED`.
    fn handle(request: Request) -> Option<Response> {
        let _ = request;
        None
    }
}

/// Single sign-on through an external identity provider (`trellis:sso`).
/// The server calls it only when the admin granted `capabilities.sso`.
pub trait SsoProvider {
    /// The providers this plugin offers; `None` means "not implemented".
    fn identity_providers() -> Option<Vec<crate::sso::IdentityProvider>> {
        None
    }
    /// Sends the browser to provider `idp`. `state` must come back unchanged
    /// in [`crate::sso::Outcome::SignedIn`]; `base_url` is the server's
    /// public base URL ending in `/`.
    fn start(idp: &str, state: &str, base_url: &str) -> Result<Response, crate::sso::Failure> {
        let _ = (state, base_url);
        Err(crate::sso::Failure::new(404, format!("Unknown identity provider {idp}")))
    }
    /// The provider sent the browser back to one of the callback paths.
    fn finish(idp: &str, request: Request, base_url: &str) -> crate::sso::Outcome {
        let _ = (request, base_url);
        crate::sso::Outcome::Failed(crate::sso::Failure::new(404, format!("Unknown identity provider {idp}")))
    }
}
