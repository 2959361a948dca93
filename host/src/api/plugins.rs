//! HTTP routes served by plugins, and the admin API of the plugin platform.
//!
//! Plugin routes are matched before the server's own: a module's requests
//! under `/_trellis/plugins/<name>/`, an MSC feature's under its prefixes,
//! and any request carrying a query parameter an MSC feature claims (such
//! as `org.matrix.msc4140.delay` on `/send`), which the plugin may decline
//! so the server handles it as usual. The server authenticates the access
//! token, if any; plugins never see it.

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use trellis_plugin::{PluginRequest, PluginResponse};

use crate::error::{ErrCode, Error, Result};
use crate::http::AdminUser;
use crate::http::AppState;
use crate::http::auth::optional_requester;

/// Headers a plugin response may not set: the server owns the connection.
const RESERVED_HEADERS: &[&str] = &["connection", "content-length", "transfer-encoding", "keep-alive", "upgrade"];

/// Middleware: hands matching requests to their plugin.
pub async fn plugin_routes(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if state.plugins.is_empty() {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    if let Some((plugin, idp)) = state.plugins.sso_callback(&path) {
        return sso_callback(state, plugin, idp, request).await;
    }
    let (plugin, relative, declinable) = if let Some((plugin, relative)) = state.plugins.route(&path) {
        (plugin, relative, false)
    } else if let Some(plugin) = request.uri().query().and_then(|query| state.plugins.claiming(query)) {
        (plugin, path, true)
    } else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.max_request_body_size).await {
        Ok(bytes) => bytes,
        Err(_) => return Error::new(ErrCode::TooLarge, "Request body too large").into_response(),
    };
    let requester = match optional_requester(&mut parts, &state).await {
        Ok(requester) => requester,
        Err(error) => return error.into_response(),
    };
    let mut plugin_request = plugin_request(&parts, relative, &bytes);
    plugin_request.user_id = requester.as_ref().map(|r| r.user_id.clone());
    plugin_request.device_id = requester.as_ref().map(|r| r.device_id.clone());
    match trellis_plugin::hooks::routes::handle_request(&plugin, plugin_request).await {
        Ok(Some(response)) => into_response(plugin.name(), response),
        Ok(None) if declinable => next.run(Request::from_parts(parts, Body::from(bytes))).await,
        Ok(None) => Error::new(ErrCode::Unrecognized, "Unrecognized request").into_response(),
        Err(fault) => {
            tracing::warn!(plugin = plugin.name(), "plugin route failed: {fault}");
            let body =
                json!({"errcode": "M_UNKNOWN", "error": format!("The plugin `{}` failed to answer", plugin.name())});
            (StatusCode::BAD_GATEWAY, Json(body)).into_response()
        }
    }
}

/// The request as a plugin sees it: no access token, in the query or in
/// the headers.
fn plugin_request(parts: &axum::http::request::Parts, path: String, body: &[u8]) -> PluginRequest {
    let query = parts
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("access_token="))
        .collect::<Vec<_>>()
        .join("&");
    let headers = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION)
        .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
        .collect();
    PluginRequest { method: parts.method.to_string(), path, query, headers, body: body.to_vec(), ..Default::default() }
}

/// An identity provider sent the browser back (a CAS ticket, a SAML
/// response): the single sign-on flow takes over.
async fn sso_callback(
    state: AppState,
    plugin: std::sync::Arc<trellis_plugin::LoadedPlugin>,
    idp: trellis_plugin::IdentityProvider,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, state.config.max_request_body_size).await {
        Ok(bytes) => bytes,
        Err(_) => return Error::new(ErrCode::TooLarge, "Request body too large").into_response(),
    };
    let path = parts.uri.path().to_owned();
    let step = state.sso_callback(&plugin, &idp, plugin_request(&parts, path, &bytes)).await;
    super::client::sso::render(&state, step)
}

pub(crate) fn into_response(plugin: &str, response: PluginResponse) -> Response {
    // A plugin bug, not the client's: answered as a bad gateway.
    let Some(status) = StatusCode::from_u16(response.status).ok().filter(|s| (200..600).contains(&s.as_u16())) else {
        tracing::warn!(plugin, status = response.status, "plugin answered an invalid HTTP status");
        let body = json!({"errcode": "M_UNKNOWN", "error": format!("The plugin `{plugin}` gave an invalid answer")});
        return (StatusCode::BAD_GATEWAY, Json(body)).into_response();
    };
    let mut built = Response::new(Body::from(response.body));
    *built.status_mut() = status;
    for (name, value) in response.headers {
        if RESERVED_HEADERS.iter().any(|reserved| name.eq_ignore_ascii_case(reserved)) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            built.headers_mut().append(name, value);
        }
    }
    built
}

/// `GET /_trellis/admin/v1/plugins`: loaded plugins, their grants and counters.
pub async fn list(State(state): State<AppState>, _admin: AdminUser) -> Json<Value> {
    Json(json!({"plugins": state.plugins.snapshot()}))
}

/// `POST /_trellis/admin/v1/plugins/reload`: reloads plugins and their
/// config; on failure the running plugins stay.
pub async fn reload(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<Value>> {
    match state.reload_plugins().await {
        Ok(report) => Ok(Json(json!({"loaded": report.loaded, "from_cache": report.from_cache}))),
        Err(error) => Err(Error::with_status(
            StatusCode::BAD_REQUEST,
            ErrCode::Unknown,
            format!("Reload failed, the running plugins were kept: {error:#}"),
        )),
    }
}
