//! `POST /register`, `GET /register/available` and the registration token
//! validity check.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, Request, State};
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::AppState;
use crate::http::auth::ClientIp;
use crate::http::json::{parse_object, read_body};
use crate::service::registration::Registered;

/// Shapes a registration or login answer.
pub fn session_response(state: &AppState, registered: &Registered) -> Value {
    let mut body = json!({
        "user_id": registered.user_id,
        "home_server": state.server_name(),
    });
    if let (Some(session), Some(map)) = (&registered.session, body.as_object_mut()) {
        map.insert("access_token".into(), json!(session.access_token));
        map.insert("device_id".into(), json!(session.device_id));
        if let Some(refresh) = &session.refresh_token {
            map.insert("refresh_token".into(), json!(refresh));
        }
        if let Some(expires) = session.expires_in_ms {
            map.insert("expires_in_ms".into(), json!(expires));
        }
    }
    body
}

/// `POST /register[?kind=guest|user]`.
pub async fn register(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    ClientIp(ip): ClientIp,
    request: Request,
) -> Result<Json<Value>> {
    let uri = request.uri().path().to_owned();
    let body = read_body(request, &()).await?;
    let body = if body.is_empty() { json!({}) } else { parse_object(&body)? };
    let registered = match query.get("kind").map(String::as_str) {
        None | Some("user") => state.register_with_uia(&uri, &body, &ip).await?,
        Some("guest") => state.register_guest(&body, &ip).await?,
        Some(other) => return Err(Error::invalid_param(format!("Invalid kind {other:?}"))),
    };
    Ok(Json(session_response(&state, &registered)))
}

/// `GET /register/available?username=…`.
pub async fn available(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    ClientIp(ip): ClientIp,
) -> Result<Json<Value>> {
    if let crate::service::ratelimit::Verdict::Limited { retry_after_ms } =
        state.ratelimits.registration.check(&ip, false)
    {
        return Err(Error::limit_exceeded(retry_after_ms));
    }
    let username = query.get("username").ok_or_else(|| Error::missing_param("username"))?;
    state.check_username_available(&username.to_lowercase()).await?;
    Ok(Json(json!({"available": true})))
}

/// `GET /_matrix/client/v1/register/m.login.registration_token/validity`.
pub async fn token_validity(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    ClientIp(ip): ClientIp,
) -> Result<Json<Value>> {
    if !state.config.registration_requires_token {
        return Err(Error::forbidden("Registration tokens are not enabled"));
    }
    if let crate::service::ratelimit::Verdict::Limited { retry_after_ms } =
        state.ratelimits.registration.check(&ip, true)
    {
        return Err(Error::limit_exceeded(retry_after_ms));
    }
    let token = query.get("token").ok_or_else(|| Error::missing_param("token"))?;
    Ok(Json(json!({"valid": state.registration_token_valid(token).await?})))
}
