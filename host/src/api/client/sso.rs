//! Single sign-on endpoints: the redirects to identity providers, the
//! provider callbacks (routed by `api::plugins`), the user-name picker and
//! the UIA fallback page. The flow itself is in `service::sso`; this file
//! turns its steps into HTTP answers.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::{ErrCode, Error, Result};
use crate::http::AppState;
use crate::service::sso::SsoStep;

/// The cookie holding a waiting sign-in's id while a new user picks a name
/// (Synapse's name for it).
const PICKER_COOKIE: &str = "username_mapping_session";

/// Where the picker pages live.
const PICKER_PATH: &str = "/_synapse/client/pick_username";

/// `?redirectUrl=`.
#[derive(Debug, Deserialize)]
pub struct RedirectQuery {
    #[serde(rename = "redirectUrl")]
    redirect_url: Option<String>,
}

impl RedirectQuery {
    fn required(self) -> Result<String> {
        self.redirect_url.filter(|url| !url.is_empty()).ok_or_else(|| Error::missing_param("redirectUrl"))
    }
}

/// `GET /login/sso/redirect`.
pub async fn redirect(State(state): State<AppState>, Query(query): Query<RedirectQuery>) -> Result<Response> {
    let redirect_url = query.required()?;
    Ok(render(&state, state.sso_begin_login(None, &redirect_url).await?))
}

/// `GET /login/sso/redirect/{idpId}`.
pub async fn redirect_to(
    State(state): State<AppState>,
    Path(idp_id): Path<String>,
    Query(query): Query<RedirectQuery>,
) -> Result<Response> {
    let redirect_url = query.required()?;
    Ok(render(&state, state.sso_begin_login(Some(&idp_id), &redirect_url).await?))
}

/// `GET /login/cas/redirect`: the legacy CAS entry point, served while the
/// CAS provider is on.
pub async fn cas_redirect(State(state): State<AppState>, Query(query): Query<RedirectQuery>) -> Result<Response> {
    if !state.sso_providers().await.iter().any(|(_, idp)| idp.id == "cas") {
        return Err(Error::new(ErrCode::Unrecognized, "CAS is not enabled on this server"));
    }
    let redirect_url = query.required()?;
    Ok(render(&state, state.sso_begin_login(Some("cas"), &redirect_url).await?))
}

/// `?session=&idp=` of the UIA fallback.
#[derive(Debug, Deserialize)]
pub struct FallbackQuery {
    session: Option<String>,
    idp: Option<String>,
}

/// `GET /auth/{type}/fallback/web`: the spec's fallback page; only the
/// single sign-on stage needs one here.
pub async fn uia_fallback(
    State(state): State<AppState>,
    Path(kind): Path<String>,
    Query(query): Query<FallbackQuery>,
) -> Result<Response> {
    if kind != crate::service::uia::stage::SSO {
        return Err(Error::with_status(
            StatusCode::NOT_FOUND,
            ErrCode::Unrecognized,
            format!("No fallback page for {kind}"),
        ));
    }
    let session = query.session.filter(|s| !s.is_empty()).ok_or_else(|| Error::missing_param("session"))?;
    Ok(render(&state, state.sso_uia_page(&session, query.idp.as_deref()).await?))
}

/// `GET /_synapse/client/pick_username/account_details`: the form.
pub async fn picker_form(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let step = match picker_session(&headers).and_then(|id| state.sso_pending.get(&id)) {
        Some(pending) => state.sso_picker_page(&pending, None),
        None => expired(),
    };
    render(&state, step)
}

/// `POST /_synapse/client/pick_username/account_details`.
pub async fn picker_submit(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    let Some(session) = picker_session(&headers) else {
        return Ok(render(&state, expired()));
    };
    // The form's fields, `application/x-www-form-urlencoded`.
    let field = |name: &str| {
        url::form_urlencoded::parse(&body).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
    };
    let username = field("username").filter(|u| !u.is_empty()).ok_or_else(|| Error::missing_param("username"))?;
    let use_display_name = field("use_display_name").is_some_and(|v| v == "true" || v == "on");
    let step = state.sso_pick_username(&session, &username, use_display_name).await?;
    let mut response = render(&state, step);
    if response.status() == StatusCode::FOUND || response.status() == StatusCode::OK {
        clear_picker_cookie(&mut response);
    }
    Ok(response)
}

/// `?username=`.
#[derive(Debug, Deserialize)]
pub struct CheckQuery {
    username: Option<String>,
}

/// `GET /_synapse/client/pick_username/check?username=`: `{"available": bool}`.
pub async fn picker_check(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Query(query): Query<CheckQuery>,
) -> Result<Json<Value>> {
    if picker_session(&headers).and_then(|id| state.sso_pending.get(&id)).is_none() {
        return Err(Error::forbidden("No sign-in is waiting for a user name"));
    }
    let username = query.username.filter(|u| !u.is_empty()).ok_or_else(|| Error::missing_param("username"))?;
    Ok(Json(json!({"available": state.sso_username_available(&username).await?})))
}

fn expired() -> SsoStep {
    SsoStep::error(400, "This sign-in has expired or was never started. Go back to the application and sign in again.")
}

fn picker_session(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == PICKER_COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn clear_picker_cookie(response: &mut Response) {
    let cookie = format!("{PICKER_COOKIE}=; Path={PICKER_PATH}; Max-Age=0; HttpOnly; SameSite=Lax");
    if let Ok(value) = HeaderValue::try_from(cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Turns a flow step into the HTTP answer.
pub fn render(state: &AppState, step: SsoStep) -> Response {
    let mut response = match step {
        SsoStep::Redirect(location) => redirect_response(&location),
        SsoStep::Respond(answer) => super::super::plugins::into_response("single sign-on", answer),
        SsoStep::Page { template, status, context } => {
            let html = state.sso_templates.render(template, context);
            let mut page = Response::new(Body::from(html));
            *page.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            page.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            // Not to be framed by another site (clickjacking of "Continue").
            page.headers_mut().insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            page.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
            page
        }
        SsoStep::PickUsername { session } => {
            let mut response = redirect_response(&format!("{PICKER_PATH}/account_details"));
            let secure = if state.config.public_baseurl.as_deref().is_some_and(|b| b.starts_with("https://")) {
                "; Secure"
            } else {
                ""
            };
            let max_age = crate::service::sso::pending::LIFETIME.as_secs();
            let cookie = format!(
                "{PICKER_COOKIE}={session}; Path={PICKER_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
            );
            if let Ok(value) = HeaderValue::try_from(cookie) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            response
        }
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect_response(location: &str) -> Response {
    match HeaderValue::try_from(location) {
        Ok(value) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        Err(_) => Error::internal("redirect target is not a valid header value").into_response(),
    }
}
