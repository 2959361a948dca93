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
