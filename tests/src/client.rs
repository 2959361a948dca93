//! A small HTTP client for the tests: JSON in, (status, JSON) out.

use reqwest::Method;
use serde_json::Value;

/// A client, optionally logged in.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    http: reqwest::Client,
    /// Access token sent as `Authorization: Bearer`.
    pub token: Option<String>,
}

impl Client {
    /// A client for the server at `base`.
    pub fn new(base: &str) -> Self {
        Self { base: base.to_owned(), http: reqwest::Client::new(), token: None }
    }

    /// The same client with a token.
    #[must_use]
    pub fn with_token(&self, token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..self.clone() }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends a request with an optional JSON body.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, json)
    }

    /// Sends raw bytes as the body.
    pub async fn raw(&self, method: Method, path: &str, body: Vec<u8>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).body(body);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request failed");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.request(Method::GET, path, None).await
    }

    /// `POST` with JSON.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(Method::POST, path, Some(body)).await
    }

    /// `PUT` with JSON.
    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.request(Method::PUT, path, Some(body)).await
    }

    /// `DELETE` with an optional JSON body.
    pub async fn delete(&self, path: &str, body: Option<&Value>) -> (u16, Value) {
        self.request(Method::DELETE, path, body).await
    }

    /// The raw HTTP client, for requests these helpers do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Asserts a Matrix error: status and errcode.
#[track_caller]
pub fn assert_error(result: &(u16, Value), status: u16, errcode: &str) {
    assert_eq!(result.0, status, "unexpected status; body: {}", result.1);
    assert_eq!(result.1["errcode"], errcode, "unexpected errcode; body: {}", result.1);
    assert!(result.1["error"].is_string(), "error message missing: {}", result.1);
}

/// Room helpers used by many tests.
impl Client {
    /// Creates a room with the given body and returns its id.
    pub async fn create_room(&self, body: Value) -> String {
        let (status, response) = self.post("/_matrix/client/v3/createRoom", &body).await;
        assert_eq!(status, 200, "createRoom failed: {response}");
        response["room_id"].as_str().expect("room_id").to_owned()
    }

    /// Sends a text message and returns the event id.
    pub async fn send_text(&self, room_id: &str, body: &str) -> String {
        let txn = format!("t{}", rand_txn());
        let (status, response) = self
            .put(
                &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", encode(room_id)),
                &serde_json::json!({"msgtype": "m.text", "body": body}),
            )
            .await;
        assert_eq!(status, 200, "send failed: {response}");
        response["event_id"].as_str().expect("event_id").to_owned()
    }

    /// Sends a text message and returns the raw answer (for tests that
    /// expect a refusal).
    pub async fn send_message(&self, room_id: &str, body: &str) -> (u16, Value) {
        let txn = format!("t{}", rand_txn());
        self.put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", encode(room_id)),
            &serde_json::json!({"msgtype": "m.text", "body": body}),
        )
        .await
    }

    /// Joins a room by id or alias.
    pub async fn join(&self, room: &str) -> (u16, Value) {
        self.post(&format!("/_matrix/client/v3/join/{}", encode(room)), &serde_json::json!({})).await
    }

    /// The user id behind the token.
    pub async fn user_id(&self) -> String {
        let (_, whoami) = self.get("/_matrix/client/v3/account/whoami").await;
        whoami["user_id"].as_str().expect("user_id").to_owned()
    }
}

/// Percent-encodes a path segment (room ids and aliases contain `!`, `#`, `:`).
pub fn encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn rand_txn() -> u64 {
    use rand::Rng as _;
    rand::thread_rng().r#gen()
}
