//! Room aliases: `/directory/room/{roomAlias}` and `/rooms/{roomId}/aliases`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::http::{AnyUser, AppState, MatrixJson, User};

/// `PUT` body.
#[derive(Debug, Deserialize)]
pub struct AliasBody {
    room_id: String,
}

/// `PUT /directory/room/{roomAlias}`.
pub async fn put_alias(
    State(state): State<AppState>,
    User(requester): User,
    Path(alias): Path<String>,
    MatrixJson(body): MatrixJson<AliasBody>,
) -> Result<Json<Value>> {
    state.create_alias(&requester, &alias, &body.room_id).await?;
    Ok(Json(json!({})))
}

/// `GET /directory/room/{roomAlias}`.
pub async fn get_alias(State(state): State<AppState>, Path(alias): Path<String>) -> Result<Json<Value>> {
    let (room_id, servers) = state.lookup_alias(&alias).await?;
    Ok(Json(json!({"room_id": room_id, "servers": servers})))
}

/// `DELETE /directory/room/{roomAlias}`.
pub async fn delete_alias(
    State(state): State<AppState>,
    User(requester): User,
    Path(alias): Path<String>,
) -> Result<Json<Value>> {
    state.delete_alias(&requester, &alias).await?;
    Ok(Json(json!({})))
}

/// `GET /rooms/{roomId}/aliases`.
pub async fn room_aliases(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path(room_id): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(json!({"aliases": state.room_aliases(&requester, &room_id).await?})))
}
