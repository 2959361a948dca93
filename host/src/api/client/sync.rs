//! `GET /sync` and the filter endpoints.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson};
use crate::service::filter::Filter;
use crate::service::sync::{SyncRequest, SyncToken};

/// `GET /sync`.
pub async fn sync(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let since = query.get("since").map(|s| SyncToken::parse(s)).transpose()?;
    let timeout_ms = match query.get("timeout") {
        Some(t) => t.parse().map_err(|_| Error::invalid_param("timeout must be a number of milliseconds"))?,
        None => 0,
    };
    let full_state = match query.get("full_state").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => return Err(Error::invalid_param(format!("full_state must be true or false, not {other:?}"))),
    };
    if let Some(presence) = query.get("set_presence")
        && !matches!(presence.as_str(), "online" | "offline" | "unavailable")
    {
        return Err(Error::invalid_param("set_presence must be online, offline or unavailable"));
    }
    let filter = match query.get("filter") {
        None => Filter::default(),
        Some(text) if text.trim_start().starts_with('{') => {
            serde_json::from_str(text).map_err(|e| Error::bad_json(format!("Invalid filter: {e}")))?
        }
        Some(id) => state.load_filter(&requester.user_id, id).await?,
    };
    let use_state_after = match query.get("use_state_after").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(Error::invalid_param(format!("use_state_after must be true or false, not {other:?}")));
        }
    };
    let request = SyncRequest { since, timeout_ms, full_state, filter, use_state_after };
    Ok(Json(state.sync(&requester, &request).await?))
}

/// `POST /user/{userId}/filter`.
pub async fn create_filter(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(user_id): Path<String>,
    MatrixJson(body): MatrixJson<Value>,
) -> Result<Json<Value>> {
    let id = state.create_filter(&requester, &user_id, &body).await?;
    Ok(Json(json!({"filter_id": id.to_string()})))
}

/// `GET /user/{userId}/filter/{filterId}`.
pub async fn get_filter(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((user_id, filter_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    if requester.user_id != user_id {
        return Err(Error::forbidden("Cannot read another user's filters"));
    }
    let filter = state.load_filter(&user_id, &filter_id).await?;
    Ok(Json(serde_json::to_value(filter).map_err(Error::internal)?))
}
