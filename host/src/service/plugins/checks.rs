//! Plugin checks on the way into a room: spam checks and third-party rules
//! before an event is persisted, and `on_new_event` after.

use trellis_plugin::hooks::EventDecision;

use super::events;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::rooms::writer::LocalEvent;

impl Services {
    /// Asks the plugins about an event a local user is about to send; a
    /// third-party rule may replace its content. Membership changes are
    /// checked by their own callbacks (`user_may_join_room`, …) instead of
    /// `check_event_for_spam`, as in Synapse.
    pub(crate) async fn check_local_event(&self, room_id: &str, event: &mut LocalEvent) -> Result<()> {
        if self.plugins.is_empty() {
            return Ok(());
        }
        let proposed =
            events::proposed(room_id, &event.sender, &event.event_type, event.state_key.as_deref(), &event.content);
        if event.event_type != "m.room.member" {
            self.plugins.check_event_for_spam(&proposed).await.map_err(Error::from)?;
            if let Some(state_key) = &event.state_key {
                self.plugins
                    .user_may_send_state_event(&event.sender, room_id, &event.event_type, state_key, &event.content)
                    .await
                    .map_err(Error::from)?;
            }
        }
        if self.plugins.checks_events() {
            let state = self.room_state(room_id).await?;
            let state: Vec<_> = state.current.values().map(|entry| events::from_state(room_id, entry)).collect();
            match self.plugins.check_event_allowed(&proposed, &state).await {
                EventDecision::Allow => {}
                EventDecision::Replace(content) => event.content = content,
                EventDecision::Deny(error) => return Err(error.into()),
            }
        }
        Ok(())
    }

    /// Tells plugins about a persisted event, off the sender's request.
    pub(crate) fn announce_event(&self, event_id: &str, room_id: &str, client_view: &serde_json::Value) {
        if !self.plugins.wants_new_events() {
            return;
        }
        let event = events::from_json(event_id, room_id, client_view);
        let plugins = self.plugins.clone();
        tokio::spawn(async move { plugins.on_new_event(&event).await });
    }
}
