//! Synapse's third-party rules callbacks.

use super::{call_role, decide, fault_outcome, notify};
use crate::bindings::v0_1::exports::trellis::plugin::third_party_rules::EventDecision as WitDecision;
use crate::host_api::{MatrixError, PluginEvent};
use crate::imports::{event_to_wit, matrix_error_from_wit};
use crate::loaded::Callback;
use crate::manager::PluginManager;

/// The outcome of `check_event_allowed` across all plugins.
#[derive(Debug, Clone, PartialEq)]
pub enum EventDecision {
    /// Persist the event as it is.
    Allow,
    /// Persist it with this content instead.
    Replace(serde_json::Value),
    /// Refuse it.
    Deny(MatrixError),
}

impl PluginManager {
    /// Whether any plugin may want `check_event_allowed`: the caller skips
    /// gathering the room state otherwise.
    pub fn checks_events(&self) -> bool {
        self.any_implements(Callback::CheckEventAllowed, |plugin| plugin.roles.third_party_rules.is_some())
    }

    /// Asks every plugin whether `event` may be persisted. A plugin that
    /// replaces the content hands the new content to the next plugin.
    pub async fn check_event_allowed(&self, event: &PluginEvent, state: &[PluginEvent]) -> EventDecision {
        let mut event = event_to_wit(event);
        let state: Vec<_> = state.iter().map(event_to_wit).collect();
        let mut replaced = None;
        for plugin in self.current().iter() {
            if plugin.roles.third_party_rules.is_none() || plugin.skips(Callback::CheckEventAllowed) {
                continue;
            }
            let answer =
                call_role!(plugin.as_ref(), Callback::CheckEventAllowed, third_party_rules, |guest, store| guest
                    .call_check_event_allowed(store, &event, &state));
            match answer {
                Ok(None) | Ok(Some(WitDecision::Allow)) => {}
                Ok(Some(WitDecision::NotImplemented)) => plugin.mark_not_implemented(Callback::CheckEventAllowed),
                Ok(Some(WitDecision::Deny(error))) => return EventDecision::Deny(matrix_error_from_wit(error)),
                Ok(Some(WitDecision::Replace(content))) => match serde_json::from_str::<serde_json::Value>(&content) {
                    Ok(value) if value.is_object() => {
                        event.content = content;
                        replaced = Some(value);
                    }
                    _ => {
                        let fault = plugin.fault(
                            Callback::CheckEventAllowed,
                            std::time::Instant::now(),
                            crate::fault::Fault::BadOutput("replacement content is not a JSON object".into()),
                        );
                        if let Err(denial) = fault_outcome(plugin, &fault) {
                            return EventDecision::Deny(denial);
                        }
                    }
                },
                Err(fault) => {
                    if let Err(denial) = fault_outcome(plugin, &fault) {
                        return EventDecision::Deny(denial);
                    }
                }
            }
        }
        replaced.map_or(EventDecision::Allow, EventDecision::Replace)
    }

    /// Whether any plugin may want `on_new_event`.
    pub fn wants_new_events(&self) -> bool {
        self.any_implements(Callback::OnNewEvent, |plugin| plugin.roles.third_party_rules.is_some())
    }

    /// Tells plugins about a persisted event. Callers run this off the
    /// request path.
    pub async fn on_new_event(&self, event: &PluginEvent) {
        let event = event_to_wit(event);
        notify!(self, Callback::OnNewEvent, third_party_rules, |guest, store| guest.call_on_new_event(store, &event));
    }

    /// A createRoom request, before anything is written.
    pub async fn on_create_room(
        &self,
        user_id: &str,
        request: &serde_json::Value,
        is_requester_admin: bool,
    ) -> Result<(), MatrixError> {
        let request = request.to_string();
        decide!(self, Callback::OnCreateRoom, third_party_rules, |guest, store| guest.call_on_create_room(
            store,
            user_id,
            &request,
            is_requester_admin
        ))
    }

    /// A change of a room's directory visibility.
    pub async fn check_visibility_can_be_modified(
        &self,
        room_id: &str,
        user_id: &str,
        new_visibility: &str,
    ) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckVisibilityCanBeModified, third_party_rules, |guest, store| guest
            .call_check_visibility_can_be_modified(store, room_id, user_id, new_visibility))
    }

    /// A room shutdown by an admin (wired with the room admin API).
    pub async fn check_can_shutdown_room(&self, user_id: &str, room_id: &str) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckCanShutdownRoom, third_party_rules, |guest, store| guest
            .call_check_can_shutdown_room(store, user_id, room_id))
    }

    /// A deactivation, by the user or an admin.
    pub async fn check_can_deactivate_user(&self, user_id: &str, by_admin: bool) -> Result<(), MatrixError> {
        decide!(self, Callback::CheckCanDeactivateUser, third_party_rules, |guest, store| guest
            .call_check_can_deactivate_user(store, user_id, by_admin))
    }

    /// A display name or avatar change.
    pub async fn on_profile_update(
        &self,
        user_id: &str,
        display_name: Option<&str>,
        avatar_url: Option<&str>,
        by_admin: bool,
        deactivation: bool,
    ) {
        notify!(self, Callback::OnProfileUpdate, third_party_rules, |guest, store| guest.call_on_profile_update(
            store,
            user_id,
            display_name,
            avatar_url,
            by_admin,
            deactivation
        ));
    }

    /// An account was deactivated (or reactivated by an admin).
    pub async fn on_user_deactivation_status_changed(&self, user_id: &str, deactivated: bool, by_admin: bool) {
        notify!(self, Callback::OnUserDeactivationStatusChanged, third_party_rules, |guest, store| guest
            .call_on_user_deactivation_status_changed(store, user_id, deactivated, by_admin));
    }

    /// A third-party identifier was bound (wired with the 3PID endpoints).
    pub async fn on_threepid_bind(&self, user_id: &str, medium: &str, address: &str) {
        notify!(self, Callback::OnThreepidBind, third_party_rules, |guest, store| guest
            .call_on_threepid_bind(store, user_id, medium, address));
    }

    /// A third-party identifier was unbound (wired with the 3PID endpoints).
    pub async fn on_threepid_unbind(&self, user_id: &str, medium: &str, address: &str) {
        notify!(self, Callback::OnThreepidUnbind, third_party_rules, |guest, store| guest
            .call_on_threepid_unbind(store, user_id, medium, address));
    }
}
