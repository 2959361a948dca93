//! Sending message events, state events and redactions.

use std::sync::Arc;

use serde_json::{Value, json};

use super::power_levels::PowerLevels;
use super::writer::{LocalEvent, Persisted};
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

/// Event types a client may never send itself.
const SERVER_ONLY: &[&str] = &["m.room.create"];

fn check_type(event_type: &str) -> Result<()> {
    if event_type.is_empty() || event_type.len() > 255 {
        return Err(Error::invalid_param("Event type must be 1 to 255 bytes long"));
    }
    if SERVER_ONLY.contains(&event_type) {
        return Err(Error::forbidden(format!("{event_type} events cannot be sent by clients")));
    }
    Ok(())
}

impl Services {
    /// Fails with `404 M_NOT_FOUND` unless the room exists.
    pub(crate) async fn ensure_room(&self, room_id: &str) -> Result<()> {
        // Rooms are never deleted, so one that was seen once still exists.
        if self.rooms.is_known(room_id) {
            return Ok(());
        }
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Unknown room"));
        }
        self.rooms.mark_known(room_id);
        Ok(())
    }

    /// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
    pub async fn send_message(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        event_type: &str,
        txn_id: &str,
        content: Value,
    ) -> Result<Persisted> {
        check_type(event_type)?;
        self.ensure_room(room_id).await?;
        if event_type == "m.room.redaction" {
            // MSC4169: redactions may come through /send with `redacts` in
            // the content.
            let target =
                content.get("redacts").and_then(Value::as_str).ok_or_else(|| Error::missing_param("redacts"))?;
            let target = target.to_owned();
            return self.redact(requester, room_id, &target, txn_id, content).await;
        }
        let event = LocalEvent {
            sender: requester.user_id.clone(),
            event_type: event_type.to_owned(),
            state_key: None,
            content,
            redacts: None,
            txn: Some((requester.device_id.clone(), txn_id.to_owned())),
        };
        self.send_local_event(room_id, event).await
    }

    /// `PUT /rooms/{roomId}/state/{eventType}/{stateKey}`.
    pub async fn send_state(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        event_type: &str,
        state_key: &str,
        content: Value,
    ) -> Result<Persisted> {
        check_type(event_type)?;
        if state_key.len() > 255 {
            return Err(Error::invalid_param("State key must be at most 255 bytes long"));
        }
        self.ensure_room(room_id).await?;
        let state = self.room_state(room_id).await?;
        if let Some(existing) = state.get(event_type, state_key) {
            // Setting the same state again changes nothing: answer with the
            // existing event, as Synapse does.
            if existing.pdu.sender.as_str() == requester.user_id && existing.pdu.content_value() == content {
                let row = self.storage.event(existing.pdu.event_id.as_str()).await?;
                if let Some(row) = row {
                    return Ok(Persisted { event_id: row.event_id, stream_ordering: row.stream_ordering });
                }
            }
        }
        if event_type == "m.room.member" && state_key != requester.user_id {
            let membership = content.get("membership").and_then(Value::as_str).unwrap_or_default();
            if !matches!(membership, "invite" | "leave" | "ban") {
                return Err(Error::forbidden("Cannot set another user's membership to that"));
            }
            if membership == "invite" {
                self.check_invite_allowed(state_key).await?;
                if !self.plugins.is_empty() {
                    self.plugins.user_may_invite(&requester.user_id, state_key, room_id).await?;
                }
            }
        }
        let event = LocalEvent {
            sender: requester.user_id.clone(),
            event_type: event_type.to_owned(),
            state_key: Some(state_key.to_owned()),
            content,
            redacts: None,
            txn: None,
        };
        self.send_local_event(room_id, event).await
    }

    /// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`.
    pub async fn redact(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        target: &str,
        txn_id: &str,
        mut content: Value,
    ) -> Result<Persisted> {
        self.ensure_room(room_id).await?;
        if let Some(event_id) = self.storage.txn_event(&requester.user_id, &requester.device_id, txn_id).await? {
            let row = self.storage.event(&event_id).await?.ok_or_else(|| Error::internal("txn event missing"))?;
            return Ok(Persisted { event_id, stream_ordering: row.stream_ordering });
        }
        let state = self.room_state(room_id).await?;
        let original = self.storage.event(target).await?.filter(|e| e.room_id == room_id);
        // The auth rules of v3+ rooms accept any redaction; the spec leaves
        // it to the server to apply only those from the original sender or
        // someone with the redact power level, so refuse the others here.
        let power = PowerLevels::of(&state);
        let own = original.as_ref().is_some_and(|e| e.sender == requester.user_id);
        if !own && power.user(&requester.user_id) < power.action("redact") {
            return Err(Error::forbidden("You don't have permission to redact this event"));
        }
        if original.is_none() && !power.may_send(&requester.user_id, "m.room.redaction", false) {
            return Err(Error::not_found("Event not found"));
        }
        if state.version.rules.redaction.content_field_redacts {
            content["redacts"] = json!(target);
        } else if let Some(map) = content.as_object_mut() {
            map.remove("redacts");
        }
        let event = LocalEvent {
            sender: requester.user_id.clone(),
            event_type: "m.room.redaction".to_owned(),
            state_key: None,
            content,
            redacts: Some(target.to_owned()),
            txn: Some((requester.device_id.clone(), txn_id.to_owned())),
        };
        self.send_local_event(room_id, event).await
    }
}
