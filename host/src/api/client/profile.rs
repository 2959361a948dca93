//! `/profile/{userId}` and `/profile/{userId}/{keyName}`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson};
use crate::service::profile::ProfileField;

/// `GET /profile/{userId}`: every field that is set.
pub async fn get_profile(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Json<Value>> {
    Ok(Json(Value::Object(state.profile_json(&user_id).await?)))
}

/// `GET /profile/{userId}/{keyName}`: 404 when the field is not set.
pub async fn get_field(
    State(state): State<AppState>,
    Path((user_id, field)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    let profile = state.profile_json(&user_id).await?;
    let value = profile.get(field.key()).cloned().ok_or_else(|| Error::not_found("Profile field not set"))?;
    Ok(Json(json!({field.key(): value})))
}

/// `PUT /profile/{userId}/{keyName}` with `{keyName: value}`.
pub async fn set_field(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((user_id, field)): Path<(String, String)>,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    let value = body.get(field.key()).ok_or_else(|| Error::missing_param(field.key()))?;
    state.set_profile_field(&requester, &user_id, &field, Some(value)).await?;
    Ok(Json(json!({})))
}

/// `DELETE /profile/{userId}/{keyName}`.
pub async fn delete_field(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((user_id, field)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    state.set_profile_field(&requester, &user_id, &field, None).await?;
    Ok(Json(json!({})))
}
