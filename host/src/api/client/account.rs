//! `GET /account/whoami`, `POST /account/password`, `POST /account/deactivate`.

use axum::Json;
use axum::extract::{Request, State};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::error::Result;
use crate::http::json::{from_value, parse_object, read_body};
use crate::http::{AnyUser, AppState, User};
use crate::service::uia::UiaRequest;

/// `GET /account/whoami`.
pub async fn whoami(AnyUser(requester): AnyUser) -> Json<Value> {
    Json(json!({
        "user_id": requester.user_id,
        "device_id": requester.device_id,
        "is_guest": requester.is_guest,
    }))
}

/// Reads a UIA-protected JSON body, checks that it is well formed (before
/// asking the user to authenticate, so mistakes surface early), and runs
/// the UIA stages for the requester. Returns the parsed body once
/// authentication is complete, with the session to close after success.
pub async fn authenticated_body<T: DeserializeOwned>(
    state: &AppState,
    user_id: &str,
    request: Request,
) -> Result<(T, String)> {
    let method = request.method().as_str().to_owned();
    let uri = request.uri().path().to_owned();
    let bytes = read_body(request, &()).await?;
    let body = if bytes.is_empty() { json!({}) } else { parse_object(&bytes)? };
    let parsed: T = from_value(body.clone())?;
    let uia = UiaRequest { method: &method, uri: &uri, body: &body, user_id: Some(user_id) };
    let completed = state.user_interactive_auth(&uia, &state.account_flows(user_id).await?).await?;
    Ok((parsed, completed.session_id))
}

#[derive(Debug, Deserialize)]
struct PasswordBody {
    new_password: String,
    #[serde(default = "yes")]
    logout_devices: bool,
}

fn yes() -> bool {
    true
}

/// `POST /account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    User(requester): User,
    request: Request,
) -> Result<Json<Value>> {
    let (body, session) = authenticated_body::<PasswordBody>(&state, &requester.user_id, request).await?;
    // On its own task: the cache invalidation and the session clean-up must
    // follow the commit even if the client hangs up.
    let this = state.clone();
    state
        .finish_write(async move {
            this.change_password(&requester, &body.new_password, body.logout_devices).await?;
            this.finish_uia_session(&session).await
        })
        .await?;
    Ok(Json(json!({})))
}

#[derive(Debug, Deserialize)]
struct DeactivateBody {
    #[serde(default)]
    erase: bool,
}

/// `POST /account/deactivate`.
pub async fn deactivate(State(state): State<AppState>, User(requester): User, request: Request) -> Result<Json<Value>> {
    let (body, session) = authenticated_body::<DeactivateBody>(&state, &requester.user_id, request).await?;
    let this = state.clone();
    state
        .finish_write(async move {
            this.deactivate(&requester.user_id, body.erase).await?;
            this.finish_uia_session(&session).await
        })
        .await?;
    // No identity server is involved, so there was nothing to unbind.
    Ok(Json(json!({"id_server_unbind_result": "no-support"})))
}
