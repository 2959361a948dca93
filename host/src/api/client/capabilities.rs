//! `GET /capabilities`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::http::{AnyUser, AppState};

/// What this server lets the user do.
pub async fn capabilities(State(state): State<AppState>, AnyUser(_requester): AnyUser) -> Json<Value> {
    let password = state.config.password_config.enabled;
    let available: serde_json::Map<String, Value> =
        trellis_events::STABLE_ROOM_VERSIONS.iter().map(|v| ((*v).to_owned(), json!("stable"))).collect();
    Json(json!({
        "capabilities": {
            "m.change_password": {"enabled": password},
            "m.set_displayname": {"enabled": true},
            "m.set_avatar_url": {"enabled": true},
            "m.3pid_changes": {"enabled": false},
            "m.get_login_token": {"enabled": state.config.login_via_existing_session.enabled},
            "m.room_versions": {"default": trellis_events::DEFAULT_ROOM_VERSION, "available": available},
            "m.profile_fields": {"enabled": true},
            "m.forget_forced_upon_leave": {"enabled": false},
        }
    }))
}
