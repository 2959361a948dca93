//! A benchmark user's HTTP client and response helpers.

use anyhow::{Context as _, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::REQUEST_TIMEOUT;
use crate::http;

#[derive(Debug, Deserialize)]
pub(super) struct BenchUser {
    pub(super) user_id: String,
    pub(super) access_token: String,
}

/// One user on one keep-alive connection.
pub(super) struct Client {
    pub(super) target: http::Target,
    pub(super) user_id: String,
    pub(super) token: String,
    pub(super) stream: Option<tokio::net::TcpStream>,
    pub(super) buf: Vec<u8>,
}

pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
}

impl Client {
    /// One request; the connection is (re)opened when needed. A request
    /// that fails on a connection the server dropped while it was idle is
    /// sent once more on a new one (sends are idempotent by transaction id).
    pub(super) async fn call(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<Reply> {
        let request = http::request(&self.target, method, path, Some(&self.token), body);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let stream = match self.stream.as_mut() {
                Some(stream) => stream,
                None => self.stream.insert(http::connect(&self.target).await?),
            };
            let outcome =
                tokio::time::timeout(REQUEST_TIMEOUT, http::exchange(stream, &request, &mut self.buf, true)).await;
            match outcome {
                Ok(Ok(parsed)) => {
                    if parsed.close {
                        self.stream = None;
                    }
                    return Ok(Reply { status: parsed.status, body: parsed.body.unwrap_or_default() });
                }
                Ok(Err(err)) => {
                    self.stream = None;
                    if attempt >= 2 {
                        return Err(err.context(format!("{method} {path} as {}", self.user_id)));
                    }
                }
                Err(_) => bail!("{method} {path} as {}: no answer within {REQUEST_TIMEOUT:?}", self.user_id),
            }
        }
    }

    /// A request that must answer 200 with a JSON object.
    pub(super) async fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let reply = self.call(method, path, bytes.as_deref()).await?;
        parse_ok(&reply, method, path, &self.user_id)
    }

    /// Sends one text message; returns its event id.
    pub(super) async fn send(&mut self, room_id: &str, txn_id: &str, n: usize) -> anyhow::Result<String> {
        let path =
            format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", http::encode(room_id), http::encode(txn_id));
        let body = format!(r#"{{"msgtype":"m.text","body":"bench message {n} ({txn_id})"}}"#);
        let reply = self.call("PUT", &path, Some(body.as_bytes())).await?;
        let value = parse_ok(&reply, "PUT", &path, &self.user_id)?;
        value["event_id"].as_str().map(str::to_owned).context("send answer has no event_id")
    }

    pub(super) async fn join(&mut self, room_id: &str) -> anyhow::Result<()> {
        self.json("POST", &format!("/_matrix/client/v3/rooms/{}/join", http::encode(room_id)), Some(&json!({})))
            .await
            .map(drop)
    }

    pub(super) async fn create_room(&mut self, name: &str) -> anyhow::Result<String> {
        let value = self
            .json("POST", "/_matrix/client/v3/createRoom", Some(&json!({"preset": "public_chat", "name": name})))
            .await?;
        value["room_id"].as_str().map(str::to_owned).context("createRoom answer has no room_id")
    }

    /// `GET /sync`; returns the answer and when it was complete.
    pub(super) async fn sync(
        &mut self,
        since: Option<&str>,
        timeout_ms: u64,
        filter: &str,
    ) -> anyhow::Result<(Instant, Reply)> {
        let mut path = format!("/_matrix/client/v3/sync?timeout={timeout_ms}&filter={}", http::encode(filter));
        if let Some(since) = since {
            path.push_str("&since=");
            path.push_str(&http::encode(since));
        }
        let reply = self.call("GET", &path, None).await?;
        let done = Instant::now();
        if reply.status != 200 {
            bail!("GET /sync as {}: {} {}", self.user_id, reply.status, String::from_utf8_lossy(&reply.body));
        }
        Ok((done, reply))
    }
}

pub(super) fn parse_ok(reply: &Reply, method: &str, path: &str, user: &str) -> anyhow::Result<Value> {
    if reply.status != 200 {
        bail!("{method} {path} as {user}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
    }
    serde_json::from_slice(&reply.body).with_context(|| format!("{method} {path}: answer is not JSON"))
}

pub(super) fn next_batch(reply: &Reply) -> anyhow::Result<String> {
    let value: Value = serde_json::from_slice(&reply.body).context("sync answer is not JSON")?;
    value["next_batch"].as_str().map(str::to_owned).context("sync answer has no next_batch")
}

pub(super) fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}
