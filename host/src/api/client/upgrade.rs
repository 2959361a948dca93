//! `POST /rooms/{roomId}/upgrade` and `POST /rooms/{roomId}/report[/{eventId}]`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::http::{AppState, MatrixJson, OptionalJson, User};

/// Upgrade body.
#[derive(Debug, Deserialize)]
pub struct UpgradeBody {
    new_version: String,
    #[serde(default)]
    additional_creators: Vec<String>,
}

/// `POST /rooms/{roomId}/upgrade`.
pub async fn upgrade(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<UpgradeBody>,
) -> Result<Json<Value>> {
    let replacement = state.upgrade_room(&requester, &room_id, &body.new_version, body.additional_creators).await?;
    Ok(Json(json!({"replacement_room": replacement})))
}

/// Report body.
#[derive(Debug, Default, Deserialize)]
pub struct ReportBody {
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /rooms/{roomId}/report`.
pub async fn report_room(
    State(state): State<AppState>,
    User(requester): User,
    Path(room_id): Path<String>,
    OptionalJson(body): OptionalJson<ReportBody>,
) -> Result<Json<Value>> {
    let reason = body.and_then(|b| b.reason);
    state.report(&requester, &room_id, None, reason.as_deref()).await?;
    Ok(Json(json!({})))
}

/// `POST /rooms/{roomId}/report/{eventId}`.
pub async fn report_event(
    State(state): State<AppState>,
    User(requester): User,
    Path((room_id, event_id)): Path<(String, String)>,
    OptionalJson(body): OptionalJson<ReportBody>,
) -> Result<Json<Value>> {
    let reason = body.and_then(|b| b.reason);
    state.report(&requester, &room_id, Some(&event_id), reason.as_deref()).await?;
    Ok(Json(json!({})))
}
