//! `GET/POST /_synapse/admin/v1/register`: shared-secret registration.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::{AppState, MatrixJson};
use crate::service::shared_secret::SharedSecretRequest;

/// `GET`: a fresh nonce.
pub async fn nonce(State(state): State<AppState>) -> Result<Json<Value>> {
    if state.shared_secret.is_none() {
        return Err(Error::bad_json("Shared secret registration is not enabled"));
    }
    Ok(Json(json!({"nonce": state.nonces.issue()})))
}

/// `POST` body, as Synapse's tool sends it.
#[derive(Debug, Deserialize)]
pub struct RegisterBody {
    nonce: String,
    username: String,
    password: String,
    mac: String,
    #[serde(default)]
    admin: bool,
    #[serde(default)]
    user_type: Option<String>,
    #[serde(default)]
    displayname: Option<String>,
}

/// `POST`: registers the user and logs it in on a new device.
pub async fn register(
    State(state): State<AppState>,
    MatrixJson(body): MatrixJson<RegisterBody>,
) -> Result<Json<Value>> {
    let registered = state
        .register_with_shared_secret(SharedSecretRequest {
            nonce: body.nonce,
            username: body.username,
            password: body.password,
            admin: body.admin,
            user_type: body.user_type,
            displayname: body.displayname,
            mac: body.mac,
        })
        .await?;
    Ok(Json(crate::api::client::session_response(&state, &registered)))
}
