//! `GET /_matrix/client/versions` and `GET /.well-known/matrix/client`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::http::AppState;

/// Spec versions whose required endpoints all work on this server.
///
/// Deliberately empty for now: a client that sees a version listed is
/// entitled to rely on all of it, and some required endpoint families
/// (end-to-end encryption keys and to-device messages, media, presence,
/// third-party identifiers…) are not served yet. Versions are added as the endpoints they require
/// land.
pub const SUPPORTED_VERSIONS: &[&str] = &[];

/// `GET /_matrix/client/versions`.
pub async fn versions(State(state): State<AppState>) -> Json<Value> {
    // Features that work in full even though no whole spec version is
    // claimed yet: stable threads (MSC3440; clients otherwise fall back to
    // the unstable relation type) and threaded receipts (MSC3771). Then the
    // experimental features whose plugins are loaded right now.
    let mut unstable = serde_json::Map::new();
    unstable.insert("org.matrix.msc3440.stable".into(), json!(true));
    unstable.insert("org.matrix.msc3771".into(), json!(true));
    for feature in state.plugin_unstable_features() {
        unstable.insert(feature.into(), json!(true));
    }
    Json(json!({
        "versions": SUPPORTED_VERSIONS,
        "unstable_features": unstable,
    }))
}

/// `GET /.well-known/matrix/client`: where clients find this server.
pub async fn well_known(State(state): State<AppState>) -> Result<Json<Value>> {
    let base_url =
        state.config.public_baseurl.as_deref().ok_or_else(|| Error::not_found("No public_baseurl is configured"))?;
    let mut body = state.config.extra_well_known_client_content.clone();
    body.insert("m.homeserver".into(), json!({"base_url": base_url}));
    Ok(Json(Value::Object(body)))
}
