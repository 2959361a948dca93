//! `room-read` and `room-write`: rooms as seen and acted in by plugins.
//!
//! A read of a room outside a narrowed grant looks like a missing room; an
//! action outside it is refused with 403 `M_FORBIDDEN`.

use super::convert::{event_to_wit, matrix_error_to_wit};
use super::refused;
use crate::bindings::v0_1::trellis::plugin::room_read;
use crate::bindings::v0_1::trellis::plugin::room_write;
use crate::bindings::v0_1::trellis::plugin::types::{Event, MatrixError};
use crate::host_api::MatrixError as HostError;
use crate::state::StoreState;

impl StoreState {
    /// Whether the plugin may read `room_id`; traps without any read grant.
    fn may_read(&self, room_id: &str) -> wasmtime::Result<bool> {
        let grant = self.ctx.capabilities.room_read.as_ref().ok_or_else(|| refused("room_read"))?;
        Ok(grant.rooms.as_ref().is_none_or(|rooms| rooms.iter().any(|room| room == room_id)))
    }

    /// Why the plugin may not act in `room_id` as `sender`, if it may not.
    fn write_refusal(&self, room_id: &str, sender: &str) -> wasmtime::Result<Option<MatrixError>> {
        let grant = self.ctx.capabilities.room_write.as_ref().ok_or_else(|| refused("room_write"))?;
        if grant.rooms.as_ref().is_some_and(|rooms| !rooms.iter().any(|room| room == room_id)) {
            return Ok(Some(forbidden(format!("plugin may not act in {room_id}"))));
        }
        if grant.senders.as_ref().is_some_and(|senders| !senders.iter().any(|user| user == sender)) {
            return Ok(Some(forbidden(format!("plugin may not act as {sender}"))));
        }
        Ok(None)
    }
}

fn forbidden(message: String) -> MatrixError {
    matrix_error_to_wit(HostError::forbidden(message))
}

fn parse_content(content: &str) -> Result<serde_json::Value, MatrixError> {
    match serde_json::from_str::<serde_json::Value>(content) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(matrix_error_to_wit(HostError {
            status: 400,
            errcode: "M_BAD_JSON".into(),
            message: "content must be a JSON object".into(),
        })),
    }
}

impl room_read::Host for StoreState {
    async fn get_event(&mut self, event_id: String) -> wasmtime::Result<Option<Event>> {
        self.may_read("")?;
        let ctx = self.ctx.clone();
        let event = self.waiting(ctx.host.get_event(&event_id)).await?;
        match event {
            Some(event) if self.may_read(&event.room_id)? => Ok(Some(event_to_wit(&event))),
            _ => Ok(None),
        }
    }

    async fn get_state(
        &mut self,
        room_id: String,
        event_type: String,
        state_key: String,
    ) -> wasmtime::Result<Option<Event>> {
        if !self.may_read(&room_id)? {
            return Ok(None);
        }
        let ctx = self.ctx.clone();
        let event = self.waiting(ctx.host.get_state(&room_id, &event_type, &state_key)).await?;
        Ok(event.as_ref().map(event_to_wit))
    }

    async fn joined_members(&mut self, room_id: String) -> wasmtime::Result<Vec<String>> {
        if !self.may_read(&room_id)? {
            return Ok(Vec::new());
        }
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.joined_members(&room_id)).await
    }

    async fn account_data(
        &mut self,
        user_id: String,
        room_id: Option<String>,
        data_type: String,
    ) -> wasmtime::Result<Option<String>> {
        if let Some(room_id) = &room_id
            && !self.may_read(room_id)?
        {
            return Ok(None);
        }
        self.may_read("")?;
        let ctx = self.ctx.clone();
        let data = self.waiting(ctx.host.account_data(&user_id, room_id.as_deref(), &data_type)).await?;
        Ok(data.map(|value| value.to_string()))
    }

    async fn resolve_alias(&mut self, alias: String) -> wasmtime::Result<Option<String>> {
        self.may_read("")?;
        let ctx = self.ctx.clone();
        let room = self.waiting(ctx.host.resolve_alias(&alias)).await?;
        match room {
            Some(room) if self.may_read(&room)? => Ok(Some(room)),
            _ => Ok(None),
        }
    }

    async fn events_by_sender(&mut self, room_id: String, sender: String, limit: u32) -> wasmtime::Result<Vec<String>> {
        if !self.may_read(&room_id)? {
            return Ok(Vec::new());
        }
        let ctx = self.ctx.clone();
        self.waiting(ctx.host.events_by_sender(&room_id, &sender, limit.min(1000))).await
    }
}

impl room_write::Host for StoreState {
    async fn send_event(
        &mut self,
        room_id: String,
        sender: String,
        event_type: String,
        state_key: Option<String>,
        content: String,
    ) -> wasmtime::Result<Result<String, MatrixError>> {
        if let Some(refusal) = self.write_refusal(&room_id, &sender)? {
            return Ok(Err(refusal));
        }
        let content = match parse_content(&content) {
            Ok(content) => content,
            Err(error) => return Ok(Err(error)),
        };
        let ctx = self.ctx.clone();
        let sent =
            self.waiting(ctx.host.send_event(&room_id, &sender, &event_type, state_key.as_deref(), content)).await?;
        Ok(sent.map_err(matrix_error_to_wit))
    }

    async fn set_membership(
        &mut self,
        room_id: String,
        sender: String,
        target: String,
        membership: String,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<String, MatrixError>> {
        if let Some(refusal) = self.write_refusal(&room_id, &sender)? {
            return Ok(Err(refusal));
        }
        let ctx = self.ctx.clone();
        let changed =
            self.waiting(ctx.host.set_membership(&room_id, &sender, &target, &membership, reason.as_deref())).await?;
        Ok(changed.map_err(matrix_error_to_wit))
    }

    async fn redact(
        &mut self,
        room_id: String,
        sender: String,
        event_id: String,
        reason: Option<String>,
    ) -> wasmtime::Result<Result<String, MatrixError>> {
        if let Some(refusal) = self.write_refusal(&room_id, &sender)? {
            return Ok(Err(refusal));
        }
        let ctx = self.ctx.clone();
        let redacted = self.waiting(ctx.host.redact(&room_id, &sender, &event_id, reason.as_deref())).await?;
        Ok(redacted.map_err(matrix_error_to_wit))
    }
}
