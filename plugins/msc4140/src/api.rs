//! The HTTP side: scheduling through `/send` and `/state`, and the
//! management endpoints.

use serde::Deserialize;
use serde_json::{Value, json};
use trellis_sdk::{MatrixError, Request, Response, rooms};

use crate::store::{self, Delayed};

/// Scheduled events per user, as Synapse's default
/// `msc4140_max_delayed_events_per_user`.
const MAX_PER_USER: u32 = 100;

/// The plugin's config, derived by the server from `max_event_delay_duration`.
#[derive(Debug, Deserialize)]
pub struct Settings {
    pub max_delay_ms: u64,
}

impl Settings {
    /// Reads the config.
    pub fn load() -> Result<Self, String> {
        trellis_sdk::config::get()
    }
}

/// Routes a request; `None` for requests this plugin does not serve.
pub fn handle(request: Request) -> Option<Response> {
    if request.path.starts_with("/_matrix/") {
        return schedule(&request);
    }
    let segments = request.segments();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let result = match (request.method.as_str(), parts.as_slice()) {
        ("GET", ["delayed_events"]) => list(&request),
        ("GET", ["delayed_events", delay_id]) => lookup(&request, delay_id),
        ("POST", ["delayed_events", delay_id]) => match request.json() {
            Ok(body) => match body.get("action") {
                None => Err(MatrixError::new(400, "M_MISSING_PARAM", "'action' is missing")),
                Some(Value::String(action)) => act(delay_id, action),
                Some(_) => Err(invalid_action()),
            },
            Err(error) => Err(error),
        },
        ("POST", ["delayed_events", delay_id, action]) => act(delay_id, action),
        _ => return None,
    };
    Some(result.unwrap_or_else(|error| error.to_response()))
}

fn invalid_action() -> MatrixError {
    MatrixError::invalid_param("'action' is not one of 'cancel', 'restart', 'send'")
}

fn list(request: &Request) -> Result<Response, MatrixError> {
    let user_id = request.require_user()?;
    let events: Vec<Value> = store::of_user(user_id, MAX_PER_USER).iter().map(Delayed::to_json).collect();
    Ok(Response::json(200, &json!({"delayed_events": events})))
}

fn lookup(request: &Request, delay_id: &str) -> Result<Response, MatrixError> {
    let user_id = request.require_user()?;
    match store::get(delay_id) {
        Some(delayed) if delayed.user_id == user_id => {
            let mut body = delayed.to_json();
            if let Some(object) = body.as_object_mut() {
                object.remove("delay");
                object.remove("running_since");
            }
            Ok(Response::json(200, &body))
        }
        _ => Err(MatrixError::not_found("Delayed event not found")),
    }
}

fn act(delay_id: &str, action: &str) -> Result<Response, MatrixError> {
    if !matches!(action, "cancel" | "restart" | "send") {
        return Err(invalid_action());
    }
    let not_found = || MatrixError::not_found("Delayed event not found");
    match action {
        "cancel" => {
            store::take(delay_id).ok_or_else(not_found)?;
        }
        "restart" => {
            let delayed = store::get(delay_id).ok_or_else(not_found)?;
            store::restart(delayed).map_err(|e| MatrixError::new(500, "M_UNKNOWN", e))?;
        }
        _ => {
            // Like Synapse: the event is gone once sending was tried, and a
            // refusal goes back to the caller.
            let delayed = store::take(delay_id).ok_or_else(not_found)?;
            delayed.send()?;
        }
    }
    Ok(Response::json(200, &json!({})))
}

/// `PUT /_matrix/client/*/rooms/{roomId}/send/{type}/{txnId}` and
/// `PUT /_matrix/client/*/rooms/{roomId}/state/{type}[/{stateKey}]` with
/// the delay parameter.
fn schedule(request: &Request) -> Option<Response> {
    let segments = request.segments();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (room_id, event_type, state_key, txn_id) = match parts.as_slice() {
        ["_matrix", "client", _, "rooms", room, "send", event_type, txn] if request.method == "PUT" => {
            (*room, *event_type, None, Some(*txn))
        }
        ["_matrix", "client", _, "rooms", room, "state", event_type] if request.method == "PUT" => {
            (*room, *event_type, Some(""), None)
        }
        ["_matrix", "client", _, "rooms", room, "state", event_type, key] if request.method == "PUT" => {
            (*room, *event_type, Some(*key), None)
        }
        _ => return None,
    };
    let result = (|| {
        let user_id = request.require_user()?.to_owned();
        let delay = parse_delay(request.query_param("org.matrix.msc4140.delay"))?;
        let settings = Settings::load().map_err(|e| MatrixError::new(500, "M_UNKNOWN", e))?;
        if delay > settings.max_delay_ms {
            let mut body = json!({
                "errcode": "ORG.MATRIX.MSC4140_DELAY_TOO_LARGE",
                "error": format!("The requested delay ({delay}ms) exceeds the allowed maximum ({}ms)", settings.max_delay_ms),
            });
            // What clients written against earlier Synapse versions read.
            body["org.matrix.msc4140.errcode"] = json!("M_MAX_DELAY_EXCEEDED");
            body["org.matrix.msc4140.max_delay"] = json!(settings.max_delay_ms);
            return Ok(Response::json(400, &body));
        }
        let content = request.json()?;
        if !content.is_object() {
            return Err(MatrixError::bad_json("Content must be a JSON object"));
        }
        let device = request.device_id.clone().unwrap_or_default();
        if let Some(txn_id) = txn_id
            && let Some(delay_id) = store::txn(&user_id, &device, txn_id)
        {
            return Ok(Response::json(200, &json!({"delay_id": delay_id})));
        }
        let membership = rooms::get_state(room_id, "m.room.member", &user_id)
            .and_then(|event| event.content.get("membership").and_then(Value::as_str).map(str::to_owned));
        if membership.as_deref() != Some("join") {
            return Err(MatrixError::forbidden("You are not in this room"));
        }
        if store::count_of_user(&user_id, MAX_PER_USER + 1) >= MAX_PER_USER as usize {
            return Err(MatrixError::new(429, "M_LIMIT_EXCEEDED", "Too many delayed events are scheduled"));
        }
        let delayed = Delayed {
            delay_id: store::new_delay_id(),
            user_id: user_id.clone(),
            room_id: room_id.to_owned(),
            event_type: event_type.to_owned(),
            state_key: state_key.map(str::to_owned),
            content,
            delay_ms: delay,
            running_since: store::now_ms(),
        };
        delayed.schedule().map_err(|e| MatrixError::new(500, "M_UNKNOWN", e))?;
        if let Some(txn_id) = txn_id {
            store::remember_txn(&user_id, &device, txn_id, &delayed.delay_id)
                .map_err(|e| MatrixError::new(500, "M_UNKNOWN", e))?;
        }
        Ok(Response::json(200, &json!({"delay_id": delayed.delay_id})))
    })();
    Some(result.unwrap_or_else(|error| error.to_response()))
}

fn parse_delay(raw: Option<String>) -> Result<u64, MatrixError> {
    let raw = raw.unwrap_or_default();
    raw.parse::<u64>().map_err(|_| {
        MatrixError::invalid_param(format!("org.matrix.msc4140.delay must be a non-negative integer, got {raw:?}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_must_be_non_negative_integers() {
        assert_eq!(parse_delay(Some("1500".into())), Ok(1500));
        assert!(parse_delay(Some("-1".into())).is_err());
        assert!(parse_delay(Some("1.5".into())).is_err());
        assert!(parse_delay(None).is_err());
    }
}
