//! Ephemeral room data: typing notifications (in memory, with timeouts)
//! and read receipts (stored), plus the read markers endpoint.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use trellis_storage::now_ms;
use trellis_storage::receipts::{self, ReceiptRow};

use super::Services;
use super::tokens::Requester;
use crate::error::{Error, Result};

/// Longest typing timeout honoured.
const MAX_TYPING: Duration = Duration::from_secs(120);

/// Who is typing where. Positions start at the boot time in milliseconds
/// and count changes from there, so they keep increasing across restarts
/// (unless a process made more typing changes than milliseconds passed
/// before the next start) and a token from an earlier run never hides a
/// change; a token from the future is answered with the current state.
#[derive(Debug)]
pub struct Typing {
    rooms: Mutex<HashMap<String, HashMap<String, Instant>>>,
    position: AtomicI64,
    changed_at: Mutex<HashMap<String, i64>>,
}

impl Default for Typing {
    fn default() -> Self {
        Self { rooms: Mutex::default(), position: AtomicI64::new(now_ms()), changed_at: Mutex::default() }
    }
}

impl Typing {
    /// The current typing position.
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::Acquire)
    }

    fn bump(&self, room_id: &str) -> i64 {
        let position = self.position.fetch_add(1, Ordering::AcqRel) + 1;
        self.changed_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(room_id.to_owned(), position);
        position
    }

    /// Users typing in a room now.
    pub fn typing_users(&self, room_id: &str) -> Vec<String> {
        let now = Instant::now();
        let rooms = self.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut users: Vec<String> = rooms
            .get(room_id)
            .map(|users| users.iter().filter(|(_, until)| **until > now).map(|(u, _)| u.clone()).collect())
            .unwrap_or_default();
        users.sort();
        users
    }

    /// Whether the room's typing set changed after `since` (or `since` is
    /// from before a restart).
    pub fn changed_since(&self, room_id: &str, since: i64) -> bool {
        if since > self.position() {
            return true;
        }
        self.changed_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(room_id)
            .is_some_and(|at| *at > since)
    }
}

/// Which receipts a `/sync` of one room sends.
#[derive(Debug)]
pub enum ReceiptsWanted {
    /// Those an initial sync read for all its rooms at once.
    ReadAlready(Vec<trellis_storage::receipts::ReceiptRow>),
    /// Those written after position `since`, up to `now` (all of them for
    /// an initial sync).
    Between {
        /// The client's receipt position.
        since: i64,
        /// The newest receipt position.
        now: i64,
    },
}

impl Services {
    /// `PUT /rooms/{roomId}/typing/{userId}`.
    pub async fn set_typing(
        self: &Arc<Self>,
        requester: &Requester,
        room_id: &str,
        user_id: &str,
        typing: bool,
        timeout_ms: Option<u64>,
    ) -> Result<()> {
        if requester.user_id != user_id {
            return Err(Error::forbidden("Cannot set another user's typing state"));
        }
        let state = self.room_state(room_id).await?;
        if state.membership(user_id).as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        let timeout = Duration::from_millis(timeout_ms.unwrap_or(30_000)).min(MAX_TYPING);
        let until = Instant::now() + timeout;
        {
            let mut rooms = self.typing.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let users = rooms.entry(room_id.to_owned()).or_default();
            if typing {
                users.insert(user_id.to_owned(), until);
            } else {
                users.remove(user_id);
            }
        }
        self.typing.bump(room_id);
        self.rooms.poke();
        if typing {
            // Tell syncing clients when the timeout passes.
            let this = self.clone();
            let room_id = room_id.to_owned();
            let user_id = user_id.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep_until(until.into()).await;
                let expired = {
                    let mut rooms = this.typing.rooms.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let users = rooms.entry(room_id.clone()).or_default();
                    if users.get(&user_id).is_some_and(|t| *t <= Instant::now()) {
                        users.remove(&user_id);
                        true
                    } else {
                        false
                    }
                };
                if expired {
                    this.typing.bump(&room_id);
                    this.rooms.poke();
                }
            });
        }
        Ok(())
    }

    /// `POST /rooms/{roomId}/receipt/{receiptType}/{eventId}`.
    pub async fn send_receipt(
        &self,
        requester: &Requester,
        room_id: &str,
        receipt_type: &str,
        event_id: &str,
        thread_id: Option<&str>,
    ) -> Result<()> {
        match receipt_type {
            "m.read" | "m.read.private" => {}
            "m.fully_read" => return self.set_fully_read(requester, room_id, event_id).await,
            other => return Err(Error::invalid_param(format!("Unknown receipt type {other:?}"))),
        }
        let state = self.room_state(room_id).await?;
        if state.membership(&requester.user_id).as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        let event = self
            .storage
            .event(event_id)
            .await?
            .filter(|e| e.room_id == room_id)
            .ok_or_else(|| Error::not_found("Unknown event"))?;
        let thread_id = match thread_id {
            None => String::new(),
            Some("main") => "main".to_owned(),
            Some(id) if id.starts_with('$') => id.to_owned(),
            Some(other) => return Err(Error::invalid_param(format!("Invalid thread_id {other:?}"))),
        };
        let receipt = ReceiptRow {
            room_id: room_id.to_owned(),
            receipt_type: receipt_type.to_owned(),
            user_id: requester.user_id.clone(),
            thread_id,
            event_id: event.event_id,
            ts: now_ms(),
        };
        let mut tx = self.storage.begin().await?;
        let position = receipts::upsert(&mut tx, &receipt).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.rooms.receipt_written(position);
        Ok(())
    }

    async fn set_fully_read(&self, requester: &Requester, room_id: &str, event_id: &str) -> Result<()> {
        let state = self.room_state(room_id).await?;
        if state.membership(&requester.user_id).as_deref() != Some("join") {
            return Err(Error::forbidden("You are not in this room"));
        }
        if self.storage.event(event_id).await?.is_none_or(|e| e.room_id != room_id) {
            return Err(Error::not_found("Unknown event"));
        }
        let mut tx = self.storage.begin().await?;
        let content = json!({"event_id": event_id}).to_string();
        let position =
            trellis_storage::account_data::put(&mut tx, &requester.user_id, Some(room_id), "m.fully_read", &content)
                .await?;
        tx.commit().await.map_err(Error::internal)?;
        self.rooms.account_data_written(position);
        Ok(())
    }

    /// `POST /rooms/{roomId}/read_markers`.
    pub async fn set_read_markers(
        &self,
        requester: &Requester,
        room_id: &str,
        body: &Map<String, Value>,
    ) -> Result<()> {
        for (key, value) in body {
            let Some(event_id) = value.as_str() else {
                return Err(Error::bad_json(format!("'{key}' must be an event id")));
            };
            match key.as_str() {
                "m.fully_read" => self.set_fully_read(requester, room_id, event_id).await?,
                "m.read" | "m.read.private" => self.send_receipt(requester, room_id, key, event_id, None).await?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The `m.receipt` and `m.typing` events for a room in `/sync`.
    pub async fn ephemeral_events(
        &self,
        requester: &Requester,
        room_id: &str,
        receipts: ReceiptsWanted,
        typing_since: i64,
        initial: bool,
    ) -> Result<Vec<Value>> {
        let mut events = Vec::new();
        if initial || self.typing.changed_since(room_id, typing_since) {
            events.push(json!({"type": "m.typing", "content": {"user_ids": self.typing.typing_users(room_id)}}));
        }
        let rows = match receipts {
            ReceiptsWanted::ReadAlready(rows) => rows,
            ReceiptsWanted::Between { since, now } if initial || since < now => {
                self.storage.receipts_since(room_id, if initial { 0 } else { since }).await?
            }
            // No receipt was written since the token: nothing to look up.
            ReceiptsWanted::Between { .. } => Vec::new(),
        };
        let mut content: Map<String, Value> = Map::new();
        for row in rows {
            if row.receipt_type == "m.read.private" && row.user_id != requester.user_id {
                continue;
            }
            let mut receipt = json!({"ts": row.ts});
            if !row.thread_id.is_empty() {
                receipt["thread_id"] = json!(row.thread_id);
            }
            let by_event = content.entry(row.event_id.clone()).or_insert_with(|| json!({}));
            by_event[&row.receipt_type][&row.user_id] = receipt;
        }
        if !content.is_empty() {
            events.push(json!({"type": "m.receipt", "content": content}));
        }
        Ok(events)
    }
}
