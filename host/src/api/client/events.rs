//! Sending and reading room events: send, state, redact, event, messages.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson, OptionalJson};
use crate::service::filter::RoomEventFilter;
use crate::service::rooms::read::MessagesQuery;

/// `PUT /rooms/{roomId}/send/{eventType}/{txnId}`.
pub async fn send(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, event_type, txn_id)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<Value>> {
    let persisted = state.send_message(&requester, &room_id, &event_type, &txn_id, content).await?;
    Ok(Json(json!({"event_id": persisted.event_id})))
}

/// `PUT /rooms/{roomId}/state/{eventType}[/{stateKey}]`.
pub async fn put_state(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(params): Path<HashMap<String, String>>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<Value>> {
    let (room_id, event_type, state_key) = state_path(&params)?;
    let persisted = state.send_state(&requester, &room_id, &event_type, &state_key, content).await?;
    Ok(Json(json!({"event_id": persisted.event_id})))
}

fn state_path(params: &HashMap<String, String>) -> Result<(String, String, String)> {
    let get = |k: &str| params.get(k).cloned();
    Ok((
        get("room_id").ok_or_else(|| Error::missing_param("roomId"))?,
        get("event_type").ok_or_else(|| Error::missing_param("eventType"))?,
        get("state_key").unwrap_or_default(),
    ))
}

/// `GET /rooms/{roomId}/state/{eventType}[/{stateKey}]` (`?format=event`
/// returns the whole event instead of its content).
pub async fn get_state_event(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let (room_id, event_type, state_key) = state_path(&params)?;
    let row = state.state_event(&requester, &room_id, &event_type, &state_key).await?;
    let event = state.client_view(&row, Some(&requester)).await?;
    if query.get("format").map(String::as_str) == Some("event") {
        return Ok(Json(event));
    }
    Ok(Json(event.get("content").cloned().unwrap_or_else(|| json!({}))))
}

/// `GET /rooms/{roomId}/state`.
pub async fn get_state(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
) -> Result<Json<Value>> {
    let rows = state.visible_state(&requester, &room_id).await?;
    Ok(Json(Value::Array(state.client_views(&rows, Some(&requester)).await?)))
}

/// `PUT /rooms/{roomId}/redact/{eventId}/{txnId}`.
pub async fn redact(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, event_id, txn_id)): Path<(String, String, String)>,
    OptionalJson(body): OptionalJson<Value>,
) -> Result<Json<Value>> {
    let content = body.unwrap_or_else(|| json!({}));
    let persisted = state.redact(&requester, &room_id, &event_id, &txn_id, content).await?;
    Ok(Json(json!({"event_id": persisted.event_id})))
}

/// `GET /rooms/{roomId}/event/{eventId}`.
pub async fn get_event(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, event_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(state.get_room_event(&requester, &room_id, &event_id).await?))
}

/// Parses a `filter` query parameter holding a JSON `RoomEventFilter`.
pub fn parse_event_filter(raw: Option<&String>) -> Result<RoomEventFilter> {
    match raw {
        None => Ok(RoomEventFilter::default()),
        Some(text) => serde_json::from_str(text).map_err(|e| Error::bad_json(format!("Invalid filter: {e}"))),
    }
}

/// `GET /rooms/{roomId}/messages`.
pub async fn messages(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let backwards = match query.get("dir").map(String::as_str) {
        Some("b") => true,
        Some("f") => false,
        Some(other) => return Err(Error::invalid_param(format!("dir must be 'b' or 'f', not {other:?}"))),
        None => return Err(Error::missing_param("dir")),
    };
    let limit = match query.get("limit") {
        Some(text) => text.parse().map_err(|_| Error::invalid_param("limit must be a number"))?,
        None => 10,
    };
    let filter = parse_event_filter(query.get("filter"))?;
    let limit = filter.limit.unwrap_or(limit);
    let request =
        MessagesQuery { from: query.get("from").cloned(), to: query.get("to").cloned(), backwards, limit, filter };
    let page = state.messages(&requester, &room_id, &request).await?;
    let mut body = crate::json::object([("chunk", Value::Array(page.chunk)), ("start", Value::String(page.start))]);
    if let Some(end) = page.end {
        body["end"] = json!(end);
    }
    if !page.state.is_empty() {
        body["state"] = Value::Array(page.state);
    }
    Ok(Json(body))
}
