//! Typed values plugins work with, instead of the raw WIT records.

use serde_json::Value;

use crate::bindings::trellis::plugin::types as wit;

/// A Matrix event, with its content parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event id; empty while the event is being built
    /// (`check_event_allowed`).
    pub event_id: String,
    /// The room.
    pub room_id: String,
    /// The sender's user id.
    pub sender: String,
    /// The event type, e.g. `m.room.message`.
    pub event_type: String,
    /// Set for state events.
    pub state_key: Option<String>,
    /// The content object.
    pub content: Value,
    /// When it was sent, in milliseconds since the epoch.
    pub origin_server_ts: u64,
    /// The `unsigned` object.
    pub unsigned: Value,
}

impl Event {
    /// The `body` of a message, if it has one.
    pub fn body(&self) -> Option<&str> {
        self.content.get("body").and_then(Value::as_str)
    }

    /// The `membership` of an `m.room.member` event.
    pub fn membership(&self) -> Option<&str> {
        if self.event_type != "m.room.member" {
            return None;
        }
        self.content.get("membership").and_then(Value::as_str)
    }

    /// Whether this is a state event.
    pub fn is_state(&self) -> bool {
        self.state_key.is_some()
    }
}

impl From<wit::Event> for Event {
    fn from(event: wit::Event) -> Self {
        Event {
            event_id: event.event_id,
            room_id: event.room_id,
            sender: event.sender,
            event_type: event.event_type,
            state_key: event.state_key,
            // The host always sends valid JSON.
            content: serde_json::from_str(&event.content).unwrap_or(Value::Null),
            origin_server_ts: event.origin_server_ts,
            unsigned: serde_json::from_str(&event.unsigned).unwrap_or(Value::Null),
        }
    }
}

/// A Matrix error: what the client sees when a plugin refuses something.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    /// HTTP status (400–599).
    pub status: u16,
    /// Matrix error code, e.g. `M_FORBIDDEN`.
    pub errcode: String,
    /// Human-readable message.
    pub message: String,
}

impl MatrixError {
    /// Any status and code.
    pub fn new(status: u16, errcode: impl Into<String>, message: impl Into<String>) -> Self {
        Self { status, errcode: errcode.into(), message: message.into() }
    }

    /// 403 `M_FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(403, "M_FORBIDDEN", message)
    }

    /// 400 `M_BAD_JSON`.
    pub fn bad_json(message: impl Into<String>) -> Self {
        Self::new(400, "M_BAD_JSON", message)
    }

    /// 400 `M_INVALID_PARAM`.
    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(400, "M_INVALID_PARAM", message)
    }

    /// 400 `M_MISSING_PARAM`.
    pub fn missing_param(name: &str) -> Self {
        Self::new(400, "M_MISSING_PARAM", format!("Missing parameter: {name}"))
    }

    /// 404 `M_NOT_FOUND`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "M_NOT_FOUND", message)
    }

    /// This error as a JSON response, the way the server answers errors.
    pub fn to_response(&self) -> Response {
        Response::json(self.status, &serde_json::json!({"errcode": self.errcode, "error": self.message}))
    }
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status, self.errcode, self.message)
    }
}

impl From<MatrixError> for wit::MatrixError {
    fn from(error: MatrixError) -> Self {
        wit::MatrixError { status: error.status, errcode: error.errcode, message: error.message }
    }
}

impl From<wit::MatrixError> for MatrixError {
    fn from(error: wit::MatrixError) -> Self {
        MatrixError { status: error.status, errcode: error.errcode, message: error.message }
    }
}

/// The answer of a decision callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Let it happen (later plugins are still asked).
    Allow,
    /// Refuse it with this error; later plugins are not asked.
    Deny(MatrixError),
    /// The default of every role method: the server stops calling it.
    #[doc(hidden)]
    NotImplemented,
}

impl From<Verdict> for wit::Verdict {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Allow => wit::Verdict::Allow,
            Verdict::Deny(error) => wit::Verdict::Deny(error.into()),
            Verdict::NotImplemented => wit::Verdict::NotImplemented,
        }
    }
}

/// The answer of a notification callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// The plugin handled it.
    Done,
    /// The default of every role method: the server stops calling it.
    #[doc(hidden)]
    NotImplemented,
}

impl From<Handled> for wit::Handled {
    fn from(handled: Handled) -> Self {
        match handled {
            Handled::Done => wit::Handled::Done,
            Handled::NotImplemented => wit::Handled::NotImplemented,
        }
    }
}

/// An HTTP request routed to the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path below the plugin's mount point, starting with `/`.
    pub path: String,
    /// The query string without `?`.
    pub query: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The authenticated user, when the request carried a valid token.
    pub user_id: Option<String>,
    /// The authenticated device.
    pub device_id: Option<String>,
}

impl Request {
    /// The body parsed as JSON; an empty body reads as `{}`.
    pub fn json(&self) -> Result<Value, MatrixError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Object(Default::default()));
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| MatrixError::new(400, "M_NOT_JSON", format!("body is not JSON: {e}")))
    }

    /// A query parameter, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::url::query_param(&self.query, name)
    }

    /// The authenticated user, or 401 `M_MISSING_TOKEN`.
    pub fn require_user(&self) -> Result<&str, MatrixError> {
        self.user_id.as_deref().ok_or_else(|| MatrixError::new(401, "M_MISSING_TOKEN", "Missing access token"))
    }

    /// The path split into percent-decoded segments.
    pub fn segments(&self) -> Vec<String> {
        self.path.split('/').filter(|segment| !segment.is_empty()).map(crate::url::percent_decode).collect()
    }
}

impl From<wit::Request> for Request {
    fn from(request: wit::Request) -> Self {
        Request {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers,
            body: request.body,
            user_id: request.user_id,
            device_id: request.device_id,
        }
    }
}

/// An HTTP response: what a route answers, or what an outbound request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: &Value) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// The body parsed as JSON.
    pub fn body_json(&self) -> Result<Value, String> {
        serde_json::from_slice(&self.body).map_err(|e| e.to_string())
    }
}

impl From<Response> for wit::Response {
    fn from(response: Response) -> Self {
        wit::Response { status: response.status, headers: response.headers, body: response.body }
    }
}

impl From<wit::Response> for Response {
    fn from(response: wit::Response) -> Self {
        Response { status: response.status, headers: response.headers, body: response.body }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let request = Request {
            method: "PUT".into(),
            path: "/a%20b/c".into(),
            query: "org.matrix.msc4140.delay=1500&x=a%2Fb+c".into(),
            headers: vec![],
            body: vec![],
            user_id: None,
            device_id: None,
        };
        assert_eq!(request.query_param("org.matrix.msc4140.delay").as_deref(), Some("1500"));
        assert_eq!(request.query_param("x").as_deref(), Some("a/b c"));
        assert_eq!(request.query_param("y"), None);
        assert_eq!(request.segments(), vec!["a b".to_owned(), "c".to_owned()]);
    }
}
