//! Unread notification counts for `/sync`, remembered between syncs.
//!
//! Counting a user's push actions since their read mark costs a row per
//! unread event, and every sync asks for every room: a user with thousands
//! of unread messages made each sync pay for all of them. Push actions are
//! only ever appended, and a room's events are committed in stream order
//! (one writer per room), so the sums up to a stream position never change
//! while the read mark stays put: each sync adds only the actions after the
//! last one counted, and a moved read mark counts afresh.

use std::collections::HashMap;
use std::sync::Mutex;

use trellis_storage::push::UnreadSums;

use super::Services;
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
}

/// The remembered counts, by (user, room).
#[derive(Debug, Default)]
pub struct UnreadCache {
    counts: Mutex<HashMap<(String, String), Counted>>,
}

impl UnreadCache {
    fn get(&self, user_id: &str, room_id: &str) -> Option<Counted> {
        let counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counts.get(&(user_id.to_owned(), room_id.to_owned())).copied()
    }

    fn put(&self, user_id: &str, room_id: &str, counted: Counted) {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() >= MAX_ENTRIES {
            counts.clear();
        }
        counts.insert((user_id.to_owned(), room_id.to_owned()), counted);
    }
}

fn fresh(sums: UnreadSums) -> Counted {
    Counted {
        read_mark: sums.read_mark,
        counted_to: sums.last_counted.max(sums.read_mark),
        notify: sums.notify,
        highlight: sums.highlight,
    }
}

impl Services {
    /// A user's (notification, highlight) counts in a room.
    pub async fn unread_counts(&self, room_id: &str, user_id: &str) -> Result<(i64, i64)> {
        let counted = match self.unread.get(user_id, room_id) {
            Some(known) => {
                let sums = self.storage.unread_counts_since(room_id, user_id, known.counted_to).await?;
                if sums.read_mark == known.read_mark {
                    Counted {
                        read_mark: known.read_mark,
                        counted_to: known.counted_to.max(sums.last_counted),
                        notify: known.notify + sums.notify,
                        highlight: known.highlight + sums.highlight,
                    }
                } else {
                    fresh(self.storage.unread_counts_since(room_id, user_id, i64::MIN).await?)
                }
            }
            None => fresh(self.storage.unread_counts_since(room_id, user_id, i64::MIN).await?),
        };
        self.unread.put(user_id, room_id, counted);
        Ok((counted.notify, counted.highlight))
    }
}
