//! `/rooms/{roomId}/context/{eventId}` and `/timestamp_to_event`.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use super::events::parse_event_filter;
use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState};

/// `GET /rooms/{roomId}/context/{eventId}`.
pub async fn context(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, event_id)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let limit = match query.get("limit") {
        Some(text) => text.parse().map_err(|_| Error::invalid_param("limit must be a number"))?,
        None => 10,
    };
    let filter = parse_event_filter(query.get("filter"))?;
    Ok(Json(state.event_context(&requester, &room_id, &event_id, limit, &filter).await?))
}

/// `GET /v1/rooms/{roomId}/timestamp_to_event?ts=…&dir=f|b`.
pub async fn timestamp_to_event(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let ts = query.get("ts").ok_or_else(|| Error::missing_param("ts"))?;
    let ts: i64 = ts.parse().map_err(|_| Error::invalid_param("ts must be a timestamp in milliseconds"))?;
    let forwards = match query.get("dir").map(String::as_str) {
        Some("f") => true,
        Some("b") => false,
        Some(other) => return Err(Error::invalid_param(format!("dir must be 'f' or 'b', not {other:?}"))),
        None => return Err(Error::missing_param("dir")),
    };
    Ok(Json(state.timestamp_to_event(&requester, &room_id, ts, forwards).await?))
}
