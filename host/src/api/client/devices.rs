//! `/devices`, `/devices/{deviceId}` and `/delete_devices`.

use axum::Json;
use axum::extract::{Path, Request, State};
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_storage::devices::DeviceRow;

use super::account::authenticated_body;
use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson, User};

fn device_json(row: &DeviceRow) -> Value {
    json!({
        "device_id": row.device_id,
        "display_name": row.display_name,
        "last_seen_ip": row.last_seen_ip,
        "last_seen_ts": row.last_seen_ts,
    })
}

/// `GET /devices`.
pub async fn list(State(state): State<AppState>, AnyUser(requester): AnyUser) -> Result<Json<Value>> {
    let devices = state.list_devices(&requester.user_id).await?;
    Ok(Json(json!({"devices": devices.iter().map(device_json).collect::<Vec<_>>()})))
}

/// `GET /devices/{deviceId}`.
pub async fn get(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(device_id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(device_json(&state.get_device(&requester.user_id, &device_id).await?)))
}

/// `PUT /devices/{deviceId}` body.
#[derive(Debug, Deserialize)]
pub struct RenameBody {
    #[serde(default)]
    display_name: Option<String>,
}

/// `PUT /devices/{deviceId}`.
pub async fn rename(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(device_id): Path<String>,
    MatrixJson(body): MatrixJson<RenameBody>,
) -> Result<Json<Value>> {
    state.rename_device(&requester.user_id, &device_id, body.display_name.as_deref()).await?;
    Ok(Json(json!({})))
}

/// `DELETE /devices/{deviceId}` (user-interactive auth).
pub async fn delete(
    State(state): State<AppState>,
    User(requester): User,
    Path(device_id): Path<String>,
    request: Request,
) -> Result<Json<Value>> {
    // Check existence first so that a typo is a 404, not a password prompt.
    state.get_device(&requester.user_id, &device_id).await?;
    let (_body, session) = authenticated_body::<Value>(&state, &requester.user_id, request).await?;
    let this = state.clone();
    state
        .finish_write(async move {
            this.delete_devices(&requester.user_id, &[device_id]).await?;
            this.finish_uia_session(&session).await
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
struct DeleteManyBody {
    devices: Vec<String>,
}

/// `POST /delete_devices` (user-interactive auth).
pub async fn delete_many(
    State(state): State<AppState>,
    User(requester): User,
    request: Request,
) -> Result<Json<Value>> {
    let (body, session) = authenticated_body::<DeleteManyBody>(&state, &requester.user_id, request).await?;
    if body.devices.len() > 1000 {
        return Err(Error::invalid_param("At most 1000 devices can be deleted at once"));
    }
    let this = state.clone();
    state
        .finish_write(async move {
            this.delete_devices(&requester.user_id, &body.devices).await?;
            this.finish_uia_session(&session).await
        })
        .await?;
    Ok(Json(json!({})))
}
