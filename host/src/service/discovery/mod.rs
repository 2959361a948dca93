//! Finding rooms, users and messages: the public room directory, the user
//! directory, full-text search, room summaries, space hierarchies and
//! mutual rooms.

use serde_json::Value;
use trellis_storage::Connection;

use crate::error::Result;
use crate::service::Services;

impl Services {
    /// Indexes a new event for full-text search, inside its transaction.
    pub(crate) async fn index_for_search(
        &self,
        conn: &mut Connection,
        event: &trellis_storage::events::PersistEvent<'_>,
        content: &Value,
        stream_ordering: i64,
    ) -> Result<()> {
        let (key, value) = match event.event_type {
            "m.room.message" => ("content.body", content.get("body")),
            "m.room.name" => ("content.name", content.get("name")),
            "m.room.topic" => ("content.topic", content.get("topic")),
            _ => return Ok(()),
        };
        let Some(value) = value.and_then(Value::as_str) else { return Ok(()) };
        let entry = trellis_storage::search::SearchEntry {
            event_id: event.event_id,
            room_id: event.room_id,
            sender: event.sender,
            key,
            value,
            stream_ordering,
            origin_server_ts: event.origin_server_ts,
        };
        trellis_storage::search::index_event(conn, &entry).await?;
        Ok(())
    }
}
