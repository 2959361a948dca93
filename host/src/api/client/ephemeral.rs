//! Typing notifications, receipts and read markers.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson, OptionalJson};

/// `PUT …/typing/{userId}` body.
#[derive(Debug, Deserialize)]
pub struct TypingBody {
    typing: bool,
    #[serde(default)]
    timeout: Option<u64>,
}

/// `PUT /rooms/{roomId}/typing/{userId}`.
pub async fn typing(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, user_id)): Path<(String, String)>,
    MatrixJson(body): MatrixJson<TypingBody>,
) -> Result<Json<Value>> {
    state.set_typing(&requester, &room_id, &user_id, body.typing, body.timeout).await?;
    Ok(Json(json!({})))
}

/// Receipt body: an optional `thread_id`.
#[derive(Debug, Default, Deserialize)]
pub struct ReceiptBody {
    #[serde(default)]
    thread_id: Option<String>,
}

/// `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`.
pub async fn receipt(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((room_id, receipt_type, event_id)): Path<(String, String, String)>,
    OptionalJson(body): OptionalJson<ReceiptBody>,
) -> Result<Json<Value>> {
    let thread_id = body.and_then(|b| b.thread_id);
    if receipt_type == "m.fully_read" && thread_id.is_some() {
        return Err(Error::invalid_param("m.fully_read receipts cannot be threaded"));
    }
    state.send_receipt(&requester, &room_id, &receipt_type, &event_id, thread_id.as_deref()).await?;
    Ok(Json(json!({})))
}

/// `POST /rooms/{roomId}/read_markers`.
pub async fn read_markers(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>> {
    state.set_read_markers(&requester, &room_id, &body).await?;
    Ok(Json(json!({})))
}
