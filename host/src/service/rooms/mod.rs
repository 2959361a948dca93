//! Rooms: creating them, changing membership, sending events, and reading
//! the timeline and state back with history visibility applied.
//!
//! All writes to a room go through [`writer`], which holds the room's lock
//! (one writer per room, so the DAG stays linear for local events), keeps
//! the room's current state in memory for the auth checks, and persists
//! each event with its state group in one transaction; [`prepare`] builds
//! and authorises the events, and [`group_commit`] writes message events
//! that arrive together in one transaction.

pub mod aliases;
pub mod context;
pub mod create;
pub mod group_commit;
pub mod membership;
pub mod power_levels;
pub mod prepare;
pub mod read;
pub mod relations;
pub mod send;
pub mod upgrade;
pub mod visibility;
pub mod writer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use trellis_events::ServerKey;

pub use writer::RoomState;

/// A state group's `history_visibility` and one user's membership in it.
pub(crate) type VisibilityFacts = (String, Option<String>);

/// In-memory room machinery shared by the room services.
#[derive(Debug)]
pub struct Rooms {
    /// The server's signing key.
    pub key: ServerKey,
    /// One lock (and cached state) per room.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<RoomState>>>>>,
    /// Message events waiting to be written, per room (see [`group_commit`]).
    queues: Mutex<HashMap<String, Arc<group_commit::SendQueue>>>,
    /// How many batches and events the group commit wrote.
    pub group_commit: group_commit::GroupCommitStats,
    /// The newest persisted stream position; `/sync` waits on changes.
    pub notifier: watch::Sender<i64>,
    /// History-visibility facts per (state group, user): the visibility
    /// setting and the user's membership in that state. State groups never
    /// change and redaction keeps both keys, so entries never go stale.
    pub(crate) visibility: Mutex<HashMap<(i64, String), VisibilityFacts>>,
    /// Rooms known to exist (rooms are never deleted).
    known: Mutex<std::collections::HashSet<String>>,
    /// Newest account-data and receipt positions, kept in memory so that
    /// `/sync` need not ask the database for them on every pass.
    account_data_position: std::sync::atomic::AtomicI64,
    receipt_position: std::sync::atomic::AtomicI64,
    /// Stream position of each room's newest event, once looked up (kept
    /// current by the writer), so that an incremental `/sync` can skip
    /// quiet rooms without a query.
    last_event: Mutex<HashMap<String, i64>>,
    /// Memberships (user to `join`, `leave`, …) of each room whose state
    /// the writer holds, as of the last commit. Read paths check access
    /// here without a query and without waiting for the room lock, which
    /// a writer holds for a whole batch.
    memberships: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Each user's ignored users, once read (dropped when they change).
    pub(crate) ignored: Mutex<HashMap<String, Arc<std::collections::HashSet<String>>>>,
}

/// A room's member counts and heroes, for `/sync`'s `summary`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberSummary {
    /// Joined members.
    pub joined: u64,
    /// Invited members.
    pub invited: u64,
    /// Up to five joined or invited members other than the viewer.
    pub heroes: Vec<String>,
}

impl MemberSummary {
    /// The summary of `(user, membership)` pairs, seen by `viewer`.
    pub fn of<'a>(members: impl Iterator<Item = (&'a str, &'a str)>, viewer: &str) -> Self {
        let mut summary = Self::default();
        let mut heroes = Vec::new();
        for (user_id, membership) in members {
            match membership {
                "join" => summary.joined += 1,
                "invite" => summary.invited += 1,
                _ => continue,
            }
            if user_id != viewer {
                heroes.push(user_id);
            }
        }
        heroes.sort_unstable();
        summary.heroes = heroes.into_iter().take(5).map(str::to_owned).collect();
        summary
    }
}

/// Stream positions found in the database at start-up.
#[derive(Debug, Clone, Copy, Default)]
pub struct StartPositions {
    /// Newest event.
    pub events: i64,
    /// Newest account data.
    pub account_data: i64,
    /// Newest receipt.
    pub receipts: i64,
}

impl Rooms {
    /// The room machinery, with the stream position found at start-up.
    pub fn new(key: ServerKey, positions: StartPositions) -> Self {
        Self {
            key,
            locks: Mutex::new(HashMap::new()),
            queues: Mutex::default(),
            group_commit: group_commit::GroupCommitStats::default(),
            notifier: watch::channel(positions.events).0,
            visibility: Mutex::new(HashMap::new()),
            known: Mutex::default(),
            account_data_position: positions.account_data.into(),
            receipt_position: positions.receipts.into(),
            last_event: Mutex::default(),
            memberships: Mutex::default(),
            ignored: Mutex::default(),
        }
    }

    /// The lock of a room (created on first use).
    pub(crate) fn lock_of(&self, room_id: &str) -> Arc<tokio::sync::Mutex<Option<RoomState>>> {
        let mut locks = self.locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(room_id.to_owned()).or_default().clone()
    }

    /// The send queue of a room (created on first use).
    pub(crate) fn queue_of(&self, room_id: &str) -> Arc<group_commit::SendQueue> {
        let mut queues = self.queues.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        queues.entry(room_id.to_owned()).or_default().clone()
    }

    /// Whether the room is known to exist.
    pub fn is_known(&self, room_id: &str) -> bool {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).contains(room_id)
    }

    /// Remembers that the room exists.
    pub fn mark_known(&self, room_id: &str) {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(room_id.to_owned());
    }

    /// The remembered newest event position of a room, if any.
    pub fn last_event(&self, room_id: &str) -> Option<i64> {
        self.last_event.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(room_id).copied()
    }

    /// Records a room's newest event position.
    pub fn set_last_event(&self, room_id: &str, position: i64) {
        let mut map = self.last_event.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = map.entry(room_id.to_owned()).or_insert(position);
        *entry = (*entry).max(position);
    }

    /// A user's membership in a room from memory: `None` when the room's
    /// memberships are not in memory, `Some(None)` when the user has none.
    pub(crate) fn membership_in_memory(&self, room_id: &str, user_id: &str) -> Option<Option<String>> {
        let rooms = self.memberships.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rooms.get(room_id).map(|members| members.get(user_id).cloned())
    }

    /// Member counts and heroes (up to five joined or invited members other
    /// than `viewer`, in user-id order) from memory, when the room's
    /// memberships are there.
    pub(crate) fn member_summary(&self, room_id: &str, viewer: &str) -> Option<MemberSummary> {
        let rooms = self.memberships.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let members = rooms.get(room_id)?;
        Some(MemberSummary::of(members.iter().map(|(user, membership)| (user.as_str(), membership.as_str())), viewer))
    }

    /// Sets all memberships of a room (its state was just loaded, or the
    /// room was just created and has none yet).
    pub(crate) fn remember_memberships(&self, room_id: &str, members: HashMap<String, String>) {
        let mut rooms = self.memberships.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        rooms.insert(room_id.to_owned(), members);
    }

    /// Records a committed membership change, in a room whose memberships
    /// are in memory (a partial list must never pass for the whole).
    pub(crate) fn membership_changed(&self, room_id: &str, user_id: &str, membership: &str) {
        let mut rooms = self.memberships.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(members) = rooms.get_mut(room_id) {
            members.insert(user_id.to_owned(), membership.to_owned());
        }
    }

    /// Tells waiting `/sync` requests that something new was persisted.
    pub fn notify(&self, position: i64) {
        self.notifier.send_modify(|current| *current = (*current).max(position));
    }

    /// Records a committed account-data write and wakes `/sync`.
    pub fn account_data_written(&self, position: i64) {
        self.account_data_position.fetch_max(position, std::sync::atomic::Ordering::AcqRel);
        self.poke();
    }

    /// Records a committed receipt and wakes `/sync`.
    pub fn receipt_written(&self, position: i64) {
        self.receipt_position.fetch_max(position, std::sync::atomic::Ordering::AcqRel);
        self.poke();
    }

    /// Newest committed account-data position.
    pub fn account_data_position(&self) -> i64 {
        self.account_data_position.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Newest committed receipt position.
    pub fn receipt_position(&self) -> i64 {
        self.receipt_position.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Wakes waiting `/sync` requests without a new event position (for
    /// streams such as typing).
    pub fn poke(&self) {
        self.notifier.send_modify(|_| {});
    }
}
