//! `GET/PUT /user/{userId}/account_data/{type}`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::error::Result;
use crate::http::{AppState, MatrixJson, User};

/// `GET /user/{userId}/account_data/{type}`.
pub async fn get(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, data_type)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(state.get_account_data(&requester, &user_id, &data_type).await?))
}

/// `PUT /user/{userId}/account_data/{type}`.
pub async fn put(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, data_type)): Path<(String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<Value>> {
    state.put_account_data(&requester, &user_id, &data_type, &content).await?;
    Ok(Json(json!({})))
}

/// `GET /user/{userId}/rooms/{roomId}/account_data/{type}`.
pub async fn get_room(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(state.get_room_account_data(&requester, &user_id, &room_id, &data_type).await?))
}

/// `PUT /user/{userId}/rooms/{roomId}/account_data/{type}`.
pub async fn put_room(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, room_id, data_type)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<Value>> {
    state.put_room_account_data(&requester, &user_id, &room_id, &data_type, &content).await?;
    Ok(Json(json!({})))
}

/// `GET /user/{userId}/rooms/{roomId}/tags`.
pub async fn tags(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, room_id)): Path<(String, String)>,
) -> Result<Json<Value>> {
    Ok(Json(state.room_tags(&requester, &user_id, &room_id).await?))
}

/// `PUT /user/{userId}/rooms/{roomId}/tags/{tag}`.
pub async fn put_tag(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
    MatrixJson(content): MatrixJson<Value>,
) -> Result<Json<Value>> {
    state.set_room_tag(&requester, &user_id, &room_id, &tag, Some(&content)).await?;
    Ok(Json(json!({})))
}

/// `DELETE /user/{userId}/rooms/{roomId}/tags/{tag}`.
pub async fn delete_tag(
    State(state): State<AppState>,
    User(requester): User,
    Path((user_id, room_id, tag)): Path<(String, String, String)>,
) -> Result<Json<Value>> {
    state.set_room_tag(&requester, &user_id, &room_id, &tag, None).await?;
    Ok(Json(json!({})))
}
