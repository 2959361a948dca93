//! Each user's room memberships, remembered between syncs.
//!
//! Every `/sync` starts from the list of the user's rooms, and a woken
//! long-poll is no exception: the list changes only when one of the
//! user's memberships does (an `m.room.member` event with them as its
//! state key, or forgetting a room), which the writer reports here. A
//! reader remembers what it read only if no membership changed anywhere
//! meanwhile (a counter of changes, read before the query), so a list
//! read just before a change cannot be kept after it. The writer drops a
//! user's list after the commit and before it wakes `/sync`, so a sync
//! that sees the new stream position sees the new memberships too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use trellis_storage::events::MembershipRow;

use super::Services;
use crate::error::Result;

/// Users whose lists are kept at most; the cache starts over beyond this.
const MAX_USERS: usize = 100_000;

/// The remembered lists, by user.
#[derive(Debug, Default)]
pub struct UserRooms {
    lists: Mutex<HashMap<String, Arc<Vec<MembershipRow>>>>,
    /// Membership changes seen so far.
    changes: AtomicU64,
}

impl UserRooms {
    /// Forgets `user_id`'s list: one of their memberships changed.
    pub(crate) fn changed(&self, user_id: &str) {
        let mut lists = self.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.changes.fetch_add(1, Ordering::AcqRel);
        lists.remove(user_id);
    }
}

impl Services {
    /// Every room membership of a user (as `room_memberships` has them).
    pub async fn memberships_of_user(&self, user_id: &str) -> Result<Arc<Vec<MembershipRow>>> {
        let cache = &self.user_rooms;
        if let Some(list) = cache.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(user_id) {
            return Ok(list.clone());
        }
        let changes = cache.changes.load(Ordering::Acquire);
        let list = Arc::new(self.storage.memberships_of_user(user_id).await?);
        let mut lists = cache.lists.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.changes.load(Ordering::Acquire) == changes {
            if lists.len() >= MAX_USERS {
                lists.clear();
            }
            lists.insert(user_id.to_owned(), list.clone());
        }
        Ok(list)
    }
}
