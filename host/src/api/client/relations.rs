//! `/rooms/{roomId}/relations/…` and `/rooms/{roomId}/threads` (v1 API).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState};

fn direction(query: &HashMap<String, String>) -> Result<bool> {
    match query.get("dir").map(String::as_str) {
        None | Some("b") => Ok(true),
        Some("f") => Ok(false),
        Some(other) => Err(Error::invalid_param(format!("dir must be 'b' or 'f', not {other:?}"))),
    }
}

fn limit(query: &HashMap<String, String>, default: u64) -> Result<u64> {
    query.get("limit").map_or(Ok(default), |l| l.parse().map_err(|_| Error::invalid_param("limit must be a number")))
}

/// `GET /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]`.
pub async fn relations(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(params): Path<HashMap<String, String>>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let room_id = params.get("room_id").ok_or_else(|| Error::missing_param("roomId"))?;
    let event_id = params.get("event_id").ok_or_else(|| Error::missing_param("eventId"))?;
    let body = state
        .relations(
            &requester,
            room_id,
            event_id,
            params.get("rel_type").map(String::as_str),
            params.get("event_type").map(String::as_str),
            query.get("from").map(String::as_str),
            direction(&query)?,
            limit(&query, 5)?,
        )
        .await?;
    Ok(Json(body))
}

/// `GET /rooms/{roomId}/threads`.
pub async fn threads(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let participated = match query.get("include").map(String::as_str) {
        None | Some("all") => false,
        Some("participated") => true,
        Some(other) => return Err(Error::invalid_param(format!("include must be all or participated, not {other:?}"))),
    };
    let body = state
        .threads(&requester, &room_id, participated, query.get("from").map(String::as_str), limit(&query, 5)?)
        .await?;
    Ok(Json(body))
}
