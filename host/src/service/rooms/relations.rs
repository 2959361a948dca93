//! Event relations: bundled aggregations (`unsigned.m.relations`) for
//! edits, threads and references, `/relations` and `/threads`.

use std::collections::HashMap;

use serde_json::{Map, Value, json};
use trellis_storage::events::{EventRow, RelationRow};

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

fn content_of(row: &EventRow) -> Value {
    serde_json::from_str::<Value>(&row.json).map(|j| j["content"].clone()).unwrap_or(Value::Null)
}

/// A replacement counts only if it comes from the original's sender, has
/// the same type, and the original is not a state event (client-server
/// spec, "Validity of replacement events").
fn valid_replacement(original: &EventRow, edit: &EventRow) -> bool {
    original.state_key.is_none()
        && edit.state_key.is_none()
        && edit.sender == original.sender
        && edit.event_type == original.event_type
        && content_of(edit).get("m.new_content").is_some_and(Value::is_object)
}

/// Parses an `r<stream position>` pagination token of `/relations` and
/// `/threads`.
fn parse_token(token: &str) -> Result<i64> {
    token
        .strip_prefix('r')
        .and_then(|n| n.parse::<i64>().ok())
        .ok_or_else(|| Error::invalid_param("Invalid from token"))
}

impl Services {
    /// `unsigned.m.relations` for each of `rows` that has any.
    pub async fn bundled_aggregations(
        &self,
        rows: &[EventRow],
        viewer: Option<&Requester>,
    ) -> Result<HashMap<String, Map<String, Value>>> {
        let ids: Vec<String> = rows.iter().map(|r| r.event_id.clone()).collect();
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let relations = self.storage.relations_to(&ids).await?;
        let mut by_parent: HashMap<&str, Vec<&RelationRow>> = HashMap::new();
        for relation in &relations {
            by_parent.entry(relation.relates_to.as_str()).or_default().push(relation);
        }
        let mut out = HashMap::new();
        for row in rows {
            let Some(children) = by_parent.get(row.event_id.as_str()) else { continue };
            let mut bundle = Map::new();
            if let Some(edit) =
                children.iter().rev().find(|r| r.rel_type == "m.replace" && valid_replacement(row, &r.event))
            {
                bundle.insert("m.replace".into(), self.plain_client_view(&edit.event)?);
            }
            let thread: Vec<&&RelationRow> = children.iter().filter(|r| r.rel_type == "m.thread").collect();
            if let Some(latest) = thread.last() {
                let participated = viewer
                    .is_some_and(|v| row.sender == v.user_id || thread.iter().any(|r| r.event.sender == v.user_id));
                bundle.insert(
                    "m.thread".into(),
                    json!({
                        "latest_event": self.plain_client_view(&latest.event)?,
                        "count": thread.len(),
                        "current_user_participated": participated,
                    }),
                );
            }
            let references: Vec<Value> = children
                .iter()
                .filter(|r| r.rel_type == "m.reference")
                .map(|r| json!({"event_id": r.event.event_id}))
                .collect();
            if !references.is_empty() {
                bundle.insert("m.reference".into(), json!({"chunk": references}));
            }
            if !bundle.is_empty() {
                out.insert(row.event_id.clone(), bundle);
            }
        }
        Ok(out)
    }

    /// The client view of an event without per-viewer extras (used inside
    /// aggregations, which are not themselves aggregated).
    fn plain_client_view(&self, row: &EventRow) -> Result<Value> {
        let mut unsigned = Map::new();
        unsigned.insert("age".into(), json!(trellis_storage::now_ms().saturating_sub(row.origin_server_ts).max(0)));
        trellis_events::client_event_from_json(&row.event_id, &row.json, Some(unsigned)).map_err(Error::internal)
    }

    /// `GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`.
    #[allow(clippy::too_many_arguments)]
    pub async fn relations(
        &self,
        requester: &Requester,
        room_id: &str,
        parent: &str,
        rel_type: Option<&str>,
        event_type: Option<&str>,
        from: Option<&str>,
        backwards: bool,
        limit: u64,
    ) -> Result<Value> {
        // The parent must be visible to the requester.
        self.get_room_event(requester, room_id, parent).await?;
        let from = from.map(parse_token).transpose()?;
        let limit = i64::try_from(limit.clamp(1, 100)).unwrap_or(5);
        let mut rows = self.storage.relations_page(parent, rel_type, event_type, from, backwards, limit + 1).await?;
        let more = rows.len() > usize::try_from(limit).unwrap_or(5);
        rows.truncate(usize::try_from(limit).unwrap_or(5));
        let rows: Vec<EventRow> = rows.into_iter().filter(|r| r.room_id == room_id).collect();
        let rows = self.filter_visible(&requester.user_id, room_id, rows).await?;
        let mut body = crate::json::object([("chunk", Value::Array(self.client_views(&rows, Some(requester)).await?))]);
        if more && let Some(last) = rows.last() {
            body["next_batch"] = json!(format!("r{}", last.stream_ordering));
        }
        Ok(body)
    }

    /// `GET /rooms/{roomId}/threads`.
    pub async fn threads(
        &self,
        requester: &Requester,
        room_id: &str,
        participated_only: bool,
        from: Option<&str>,
        limit: u64,
    ) -> Result<Value> {
        self.check_can_read_room(&requester.user_id, room_id).await?;
        let before = from.map(parse_token).transpose()?;
        let limit = i64::try_from(limit.clamp(1, 100)).unwrap_or(5);
        let mut roots = Vec::new();
        let mut cursor = before;
        let mut next_batch = None;
        loop {
            let batch = self.storage.thread_roots(room_id, cursor, limit + 1).await?;
            let exhausted = batch.len() <= usize::try_from(limit).unwrap_or(5);
            for (root_id, latest) in batch.iter().take(usize::try_from(limit).unwrap_or(5)) {
                cursor = Some(*latest);
                let Some(root) = self.storage.event(root_id).await? else { continue };
                if participated_only {
                    let replies = self.storage.relations_to(std::slice::from_ref(root_id)).await?;
                    let mine = root.sender == requester.user_id
                        || replies.iter().any(|r| r.rel_type == "m.thread" && r.event.sender == requester.user_id);
                    if !mine {
                        continue;
                    }
                }
                roots.push(root);
                if roots.len() == usize::try_from(limit).unwrap_or(5) {
                    break;
                }
            }
            if roots.len() == usize::try_from(limit).unwrap_or(5) {
                if !exhausted || batch.len() > roots.len() {
                    next_batch = cursor.map(|c| format!("r{c}"));
                }
                break;
            }
            if exhausted {
                break;
            }
        }
        let roots = self.filter_visible(&requester.user_id, room_id, roots).await?;
        let mut body =
            crate::json::object([("chunk", Value::Array(self.client_views(&roots, Some(requester)).await?))]);
        if let Some(token) = next_batch {
            body["next_batch"] = json!(token);
        }
        Ok(body)
    }
}
