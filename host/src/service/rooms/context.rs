//! `/context/{eventId}`, `/timestamp_to_event` and reports.

use serde_json::{Value, json};
use trellis_storage::events::EventRow;

use super::read::Position;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::filter::RoomEventFilter;
use crate::service::tokens::Requester;

impl Services {
    /// `GET /rooms/{roomId}/context/{eventId}`.
    pub async fn event_context(
        &self,
        requester: &Requester,
        room_id: &str,
        event_id: &str,
        limit: u64,
        filter: &RoomEventFilter,
    ) -> Result<Value> {
        self.check_can_read_room(&requester.user_id, room_id).await?;
        let event = self
            .storage
            .event(event_id)
            .await?
            .filter(|e| e.room_id == room_id)
            .ok_or_else(|| Error::not_found("Event not found"))?;
        if self.filter_visible(&requester.user_id, room_id, vec![event.clone()]).await?.is_empty() {
            return Err(Error::not_found("Event not found"));
        }
        let limit = i64::try_from(limit.min(100)).unwrap_or(10);
        let before_limit = limit / 2;
        let after_limit = limit - before_limit;
        let position = (event.depth, event.stream_ordering);
        let keep = |rows: Vec<EventRow>| -> Vec<EventRow> {
            rows.into_iter().filter(|row| filter.allows_event(row)).collect()
        };
        let before = keep(self.storage.room_events_topological(room_id, position, true, before_limit).await?);
        let after = keep(self.storage.room_events_topological(room_id, position, false, after_limit).await?);
        let before = self.filter_visible(&requester.user_id, room_id, before).await?;
        let after = self.filter_visible(&requester.user_id, room_id, after).await?;
        let start = before.last().map_or_else(|| Position::of_event(&event), Position::of_event);
        let end = after.last().map_or_else(|| Position::of_event(&event), Position::of_event);
        // The state at the last event returned (as the spec says); with lazy
        // loading only the members who sent the returned events.
        let last_group = after.last().and_then(|e| e.state_group).or(event.state_group);
        let state_rows = match last_group {
            Some(group) => {
                let ids: Vec<String> = self.storage.state_group(group).await?.into_values().collect();
                self.storage.events_by_id(&ids).await?
            }
            None => Vec::new(),
        };
        let state_rows: Vec<EventRow> = if filter.lazy_load_members {
            let senders: std::collections::HashSet<&str> =
                before.iter().chain(after.iter()).chain(std::iter::once(&event)).map(|e| e.sender.as_str()).collect();
            state_rows
                .into_iter()
                .filter(|r| {
                    r.event_type != "m.room.member" || r.state_key.as_deref().is_some_and(|k| senders.contains(k))
                })
                .collect()
        } else {
            state_rows
        };
        let mut views = self.client_views(std::slice::from_ref(&event), Some(requester)).await?;
        Ok(json!({
            "event": views.pop(),
            "events_before": self.client_views(&before, Some(requester)).await?,
            "events_after": self.client_views(&after, Some(requester)).await?,
            "start": start,
            "end": end,
            "state": self.client_views(&state_rows, Some(requester)).await?,
        }))
    }

    /// `GET /v1/rooms/{roomId}/timestamp_to_event`: the closest visible
    /// event at or after (`forwards`) or at or before `ts`.
    pub async fn timestamp_to_event(
        &self,
        requester: &Requester,
        room_id: &str,
        ts: i64,
        forwards: bool,
    ) -> Result<Value> {
        self.check_can_read_room(&requester.user_id, room_id).await?;
        let mut cursor = ts;
        // Step over events the user may not see (bounded).
        for _ in 0..100 {
            let Some(row) = self.storage.event_near_ts(room_id, cursor, forwards).await? else { break };
            let next = if forwards { row.origin_server_ts + 1 } else { row.origin_server_ts - 1 };
            let ts = row.origin_server_ts;
            let id = row.event_id.clone();
            if !self.filter_visible(&requester.user_id, room_id, vec![row]).await?.is_empty() {
                return Ok(json!({"event_id": id, "origin_server_ts": ts}));
            }
            cursor = next;
        }
        Err(Error::not_found("No event found in that direction"))
    }

    /// `POST /rooms/{roomId}/report[/{eventId}]`. Answers the same whether
    /// or not the subject exists (spec v1.18 allows this, so reports
    /// cannot probe for rooms or events); only real subjects are stored.
    pub async fn report(
        &self,
        requester: &Requester,
        room_id: &str,
        event_id: Option<&str>,
        reason: Option<&str>,
    ) -> Result<()> {
        if reason.is_some_and(|r| r.len() > 1000) {
            return Err(Error::invalid_param("The reason may be at most 1000 bytes long"));
        }
        let member = self.storage.membership(room_id, &requester.user_id).await?.is_some();
        let event_ok = match event_id {
            Some(id) => self.storage.event(id).await?.is_some_and(|e| e.room_id == room_id),
            None => true,
        };
        if member && event_ok {
            let mut tx = self.storage.begin().await?;
            trellis_storage::events::insert_report(&mut tx, room_id, event_id, &requester.user_id, reason).await?;
            tx.commit().await.map_err(Error::internal)?;
            tracing::info!(%room_id, ?event_id, reporter = %requester.user_id, "content reported");
        }
        Ok(())
    }
}
