//! `GET/POST /login`, `POST /refresh`, `POST /logout[/all]`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::auth::ClientIp;
use crate::http::{AnyUser, AppState, MatrixJson, User};
use crate::service::login::LoginBody;
use crate::service::registration::Registered;

/// `GET /login`: the login types this server accepts.
pub async fn flows(State(state): State<AppState>) -> Json<Value> {
    let mut flows = Vec::new();
    if state.config.password_config.enabled {
        flows.push(json!({"type": "m.login.password"}));
    }
    let providers = state.sso_providers().await;
    if !providers.is_empty() {
        let listed: Vec<Value> = providers
            .iter()
            .map(|(_, idp)| {
                let mut entry = json!({"id": idp.id, "name": idp.name});
                if let Some(icon) = &idp.icon {
                    entry["icon"] = json!(icon);
                }
                if let Some(brand) = &idp.brand {
                    entry["brand"] = json!(brand);
                }
                entry
            })
            .collect();
        flows.push(json!({"type": "m.login.sso", "identity_providers": listed}));
        if providers.iter().any(|(_, idp)| idp.id == "cas") {
            flows.push(json!({"type": "m.login.cas"}));
        }
    }
    // Offered only when something can mint login tokens (get_token or
    // single sign-on), as Synapse does.
    let get_token = state.config.login_via_existing_session.enabled;
    if get_token || !providers.is_empty() {
        flows.push(json!({"type": "m.login.token", "get_login_token": get_token}));
    }
    // Login types added by password-auth plugins.
    for (kind, _) in state.plugins.login_types().await {
        if !flows.iter().any(|flow| flow["type"] == kind.as_str()) {
            flows.push(json!({"type": kind}));
        }
    }
    Json(json!({"flows": flows}))
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    MatrixJson(raw): MatrixJson<Value>,
) -> Result<Json<Value>> {
    let body: LoginBody = crate::http::json::from_value(raw.clone())?;
    let logged_in = match body.kind.as_str() {
        "m.login.password" => state.login_with_password(body, &ip).await?,
        "m.login.token" => {
            let token = raw.get("token").and_then(Value::as_str).ok_or_else(|| Error::missing_param("token"))?;
            state.login_with_token(token, &body).await?
        }
        other if state.plugins.login_types().await.iter().any(|(kind, _)| kind == other) => {
            state.login_with_plugin(body, &raw, &ip).await?
        }
        other => {
            return Err(Error::with_status(
                axum::http::StatusCode::BAD_REQUEST,
                crate::error::ErrCode::Unknown,
                format!("Unknown login type {other}"),
            ));
        }
    };
    let registered = Registered { user_id: logged_in.user_id, session: Some(logged_in.session) };
    Ok(Json(super::register::session_response(&state, &registered)))
}

/// `POST /_matrix/client/v1/login/get_token` (spec v1.7): a single-use
/// login token for another client of the same user, after re-authenticating
/// (every time: the session of an earlier request is never reused).
pub async fn get_token(
    State(state): State<AppState>,
    User(requester): User,
    request: axum::extract::Request,
) -> Result<Json<Value>> {
    let settings = &state.config.login_via_existing_session;
    if !settings.enabled {
        return Err(Error::new(crate::error::ErrCode::Unrecognized, "Unrecognized request"));
    }
    let (_, session) =
        super::account::authenticated_body::<serde_json::Map<String, Value>>(&state, &requester.user_id, request)
            .await?;
    let token = state.mint_login_token(&requester.user_id, None, settings.token_timeout.0).await?;
    state.finish_uia_session(&session).await?;
    Ok(Json(json!({"login_token": token.token, "expires_in_ms": token.expires_in_ms})))
}

/// `POST /refresh` body.
#[derive(Debug, Deserialize)]
pub struct RefreshBody {
    refresh_token: String,
}

/// `POST /refresh`.
pub async fn refresh(State(state): State<AppState>, MatrixJson(body): MatrixJson<RefreshBody>) -> Result<Json<Value>> {
    let lifetime = state.config.refreshable_access_token_lifetime.0;
    let this = state.clone();
    let session = state
        .finish_write(async move { this.tokens.refresh(&this.storage, &body.refresh_token, lifetime).await })
        .await?;
    Ok(Json(json!({
        "access_token": session.access_token,
        "refresh_token": session.refresh_token,
        "expires_in_ms": session.expires_in_ms,
    })))
}

/// `POST /logout`.
pub async fn logout(State(state): State<AppState>, AnyUser(requester): AnyUser) -> Result<Json<Value>> {
    let this = state.clone();
    state.finish_write(async move { this.logout(&requester).await }).await?;
    Ok(Json(json!({})))
}

/// `POST /logout/all`.
pub async fn logout_all(State(state): State<AppState>, AnyUser(requester): AnyUser) -> Result<Json<Value>> {
    let this = state.clone();
    state.finish_write(async move { this.logout_all(&requester).await }).await?;
    Ok(Json(json!({})))
}
