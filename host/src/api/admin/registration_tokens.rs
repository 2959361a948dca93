//! `/_synapse/admin/v1/registration_tokens`: create, list, read, update and
//! delete registration tokens (admins only), as Synapse's admin API.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use trellis_storage::registration_tokens::RegistrationTokenRow;

use crate::error::{Error, Result};
use crate::http::{AdminUser, AppState, MatrixJson};
use crate::service::registration_tokens::NewToken;

fn token_json(row: &RegistrationTokenRow) -> Value {
    json!({
        "token": row.token,
        "uses_allowed": row.uses_allowed,
        "pending": row.pending,
        "completed": row.completed,
        "expiry_time": row.expiry_time,
    })
}

/// `GET …/registration_tokens[?valid=true|false]`.
pub async fn list(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>> {
    let valid = match query.get("valid").map(String::as_str) {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => return Err(Error::invalid_param(format!("valid must be true or false, not {other:?}"))),
    };
    let tokens = state.list_registration_tokens(valid).await?;
    Ok(Json(json!({"registration_tokens": tokens.iter().map(token_json).collect::<Vec<_>>()})))
}

/// `POST …/registration_tokens/new` body.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    length: Option<i64>,
    #[serde(default)]
    uses_allowed: Option<i64>,
    #[serde(default)]
    expiry_time: Option<i64>,
}

/// `POST …/registration_tokens/new`.
pub async fn create(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    MatrixJson(body): MatrixJson<CreateBody>,
) -> Result<Json<Value>> {
    let row = state
        .create_registration_token(NewToken {
            token: body.token,
            length: body.length,
            uses_allowed: body.uses_allowed,
            expiry_time: body.expiry_time,
        })
        .await?;
    Ok(Json(token_json(&row)))
}

/// `GET …/registration_tokens/{token}`.
pub async fn get(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(token): Path<String>,
) -> Result<Json<Value>> {
    Ok(Json(token_json(&state.registration_token(&token).await?)))
}

/// Distinguishes an absent field (keep) from an explicit `null` (remove).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(deserializer).map(Some)
}

/// `PUT …/registration_tokens/{token}` body.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    #[serde(default, deserialize_with = "present")]
    uses_allowed: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    expiry_time: Option<Option<i64>>,
}

/// `PUT …/registration_tokens/{token}`.
pub async fn update(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(token): Path<String>,
    MatrixJson(body): MatrixJson<UpdateBody>,
) -> Result<Json<Value>> {
    let row = state.update_registration_token(&token, body.uses_allowed, body.expiry_time).await?;
    Ok(Json(token_json(&row)))
}

/// `DELETE …/registration_tokens/{token}`.
pub async fn delete(
    State(state): State<AppState>,
    AdminUser(_admin): AdminUser,
    Path(token): Path<String>,
) -> Result<Json<Value>> {
    state.delete_registration_token(&token).await?;
    Ok(Json(json!({})))
}
