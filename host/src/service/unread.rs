//! Unread notification counts for `/sync`, remembered between syncs.
//!
//! Counting a user's push actions since their read mark costs a row per
//! unread event, and every sync asks for every room: a user with thousands
//! of unread messages made each sync pay for all of them. Push actions are
//! only ever appended, and a room's events are committed in stream order
//! (one writer per room), so the sums up to a stream position never change
//! while the read mark stays put: each sync adds only the actions after the
//! last one counted, and a moved read mark counts afresh.
//!
//! And when nothing could have changed, nothing is asked at all: the counts
//! move only with a new event in the room (a push action, or the user's own
//! event moving their read mark) or a new receipt. The room's newest event
//! position and the newest receipt position are both kept in memory, set
//! after each commit and read here before the query, so an entry that saw
//! both at their current values is still exact. An initial sync of fifty
//! rooms used to make fifty queries for this alone.
//!
//! A new event would still cost every member a query on their next sync,
//! and that sync is the long-poll the event wakes: the writer knows the
//! push actions it just committed, so it adds them to the entries that were
//! exact just before ([`UnreadCache::add_committed`]).

use std::collections::HashMap;
use std::sync::Mutex;

use trellis_storage::push::UnreadSums;

use super::Services;
use super::rooms::prepare::Prepared;
use crate::error::Result;

/// Entries kept at most; the cache starts over beyond this.
const MAX_ENTRIES: usize = 100_000;

/// Sums for one user in one room.
#[derive(Debug, Clone, Copy)]
struct Counted {
    read_mark: i64,
    /// The highest stream ordering included in the sums.
    counted_to: i64,
    notify: i64,
    highlight: i64,
    /// The room's newest event position (when known) and the newest
    /// receipt position when these sums were read.
    room_event_seen: Option<i64>,
    receipt_seen: i64,
}

impl Counted {
    /// Whether nothing that could change the sums happened since.
    fn still_exact(&self, room_event: Option<i64>, receipt: i64) -> bool {
        let no_new_event = matches!((self.room_event_seen, room_event), (Some(seen), Some(now)) if now <= seen);
        no_new_event && receipt <= self.receipt_seen
    }
}

/// The remembered counts, by room, then user.
#[derive(Debug, Default)]
pub struct UnreadCache {
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    by_room: HashMap<String, HashMap<String, Counted>>,
    entries: usize,
}

impl UnreadCache {
    fn get(&self, user_id: &str, room_id: &str) -> Option<Counted> {
        let counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.by_room.get(room_id)?.get(user_id).copied()
    }

    fn put(&self, user_id: &str, room_id: &str, counted: Counted) {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.entries >= MAX_ENTRIES {
            *counts = Counts::default();
        }
        let room = counts.by_room.entry(room_id.to_owned()).or_default();
        if room.insert(user_id.to_owned(), counted).is_none() {
            counts.entries += 1;
        }
    }

    /// Adds the push actions of events just committed to `room_id` (at
    /// `positions`) to the remembered sums that were exact right before
    /// them, when the room's newest event was `previous`; so that the
    /// `/sync` this commit wakes needs no query for its counts. Entries
    /// that saw anything else are left to be brought up to date by a
    /// query, as before. The senders' own read marks moved (a user's own
    /// event counts as read up to it): theirs are dropped.
    pub(crate) fn add_committed(&self, room_id: &str, previous: Option<i64>, positions: &[i64], batch: &[Prepared]) {
        let (Some(previous), Some(&first), Some(&newest)) = (previous, positions.first(), positions.last()) else {
            return;
        };
        let mut added: HashMap<&str, (i64, i64, i64)> = HashMap::new();
        for (prepared, &position) in batch.iter().zip(positions) {
            for action in &prepared.push_actions {
                let sums = added.entry(action.user_id.as_str()).or_default();
                sums.0 += i64::from(action.notify);
                sums.1 += i64::from(action.highlight);
                sums.2 = sums.2.max(position);
            }
        }
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Counts { by_room, entries } = &mut *counts;
        let Some(members) = by_room.get_mut(room_id) else { return };
        for prepared in batch {
            if members.remove(prepared.event.sender.as_str()).is_some() {
                *entries -= 1;
            }
        }
        for (user_id, counted) in members.iter_mut() {
            if counted.room_event_seen != Some(previous) {
                continue;
            }
            if let Some(&(notify, highlight, last)) = added.get(user_id.as_str()) {
                // Read after this commit already: its sums hold the batch.
                if counted.counted_to >= first {
                    continue;
                }
                counted.notify += notify;
                counted.highlight += highlight;
                counted.counted_to = last;
            }
            counted.room_event_seen = Some(newest);
        }
    }
}

fn fresh(sums: UnreadSums) -> Counted {
    Counted {
        read_mark: sums.read_mark,
        counted_to: sums.last_counted.max(sums.read_mark),
        notify: sums.notify,
        highlight: sums.highlight,
        room_event_seen: None,
        receipt_seen: i64::MIN,
    }
}

impl Services {
    /// A user's (notification, highlight) counts in a room.
    pub async fn unread_counts(&self, room_id: &str, user_id: &str) -> Result<(i64, i64)> {
        // Read before the query: whatever commits later moves these on.
        let room_event = self.rooms.last_event(room_id);
        let receipt = self.rooms.receipt_position();
        let cached = self.unread.get(user_id, room_id);
        if let Some(known) = cached
            && known.still_exact(room_event, receipt)
        {
            return Ok((known.notify, known.highlight));
        }
        let mut counted = match cached {
            Some(known) => {
                let sums = self.storage.unread_counts_since(room_id, user_id, known.counted_to).await?;
                if sums.read_mark == known.read_mark {
                    Counted {
                        read_mark: known.read_mark,
                        counted_to: known.counted_to.max(sums.last_counted),
                        notify: known.notify + sums.notify,
                        highlight: known.highlight + sums.highlight,
                        ..known
                    }
                } else {
                    fresh(self.storage.unread_counts_since(room_id, user_id, i64::MIN).await?)
                }
            }
            None => fresh(self.storage.unread_counts_since(room_id, user_id, i64::MIN).await?),
        };
        counted.room_event_seen = room_event;
        counted.receipt_seen = receipt;
        self.unread.put(user_id, room_id, counted);
        Ok((counted.notify, counted.highlight))
    }
}
