//! `/profile/{userId}` and `/profile/{userId}/{keyName}`.

use axum::Json;
use axum::extract::{Path, State};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::http::{AnyUser, AppState, MatrixJson};
use crate::service::profile::ProfileField;

/// `GET /profile/{userId}`: every field that is set.
pub async fn get_profile(State(state): State<AppState>, Path(user_id): Path<String>) -> Result<Json<Value>> {
    let profile = state.profile(&user_id).await?;
    let mut body = Map::new();
    if let Some(name) = profile.displayname {
        body.insert("displayname".into(), json!(name));
    }
    if let Some(url) = profile.avatar_url {
        body.insert("avatar_url".into(), json!(url));
    }
    Ok(Json(Value::Object(body)))
}

/// `GET /profile/{userId}/{keyName}`: `{}` when the field is unset.
pub async fn get_field(
    State(state): State<AppState>,
    Path((user_id, field)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    let profile = state.profile(&user_id).await?;
    let value = match field {
        ProfileField::DisplayName => profile.displayname,
        ProfileField::AvatarUrl => profile.avatar_url,
    };
    let mut body = Map::new();
    if let Some(value) = value {
        body.insert(field.key().into(), json!(value));
    }
    Ok(Json(Value::Object(body)))
}

/// `PUT /profile/{userId}/{keyName}` with `{keyName: value}`.
pub async fn set_field(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((user_id, field)): Path<(String, String)>,
    MatrixJson(body): MatrixJson<Map<String, Value>>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    let value = match body.get(field.key()) {
        Some(Value::String(text)) => Some(text.as_str()),
        Some(Value::Null) => None,
        Some(_) => return Err(Error::bad_json(format!("'{}' must be a string", field.key()))),
        None => return Err(Error::missing_param(field.key())),
    };
    state.set_profile_field(&requester, &user_id, field, value).await?;
    Ok(Json(json!({})))
}

/// `DELETE /profile/{userId}/{keyName}`.
pub async fn delete_field(
    State(state): State<AppState>,
    AnyUser(requester): AnyUser,
    Path((user_id, field)): Path<(String, String)>,
) -> Result<Json<Value>> {
    let field = ProfileField::parse(&field)?;
    state.set_profile_field(&requester, &user_id, field, None).await?;
    Ok(Json(json!({})))
}
