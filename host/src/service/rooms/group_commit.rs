//! Group commit: message events sent to one room at the same moment are
//! written together, in one transaction.
//!
//! Writers of a room are serialised by its lock anyway (one DAG tip), so
//! while one send is being written the others wait. Instead of each then
//! paying for its own transaction (a dozen statements, each a round trip
//! to SQLite's worker thread or to PostgreSQL), a send puts its event in
//! the room's queue and whichever send holds the lock next takes the whole
//! queue: each event is still built and authorised on its own, on top of
//! the one before it, and each request gets its own answer, but the rows
//! of all of them are written with one statement per table and one commit.
//!
//! Only plain message events take this path. State events change the
//! state that the next event is authorised against, and redactions change
//! earlier rows, so those are written one by one as before.
//!
//! Nothing is acknowledged before its batch has committed; a batch whose
//! commit fails answers every request in it with that error and leaves the
//! room's cached state untouched.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::prepare::Prepared;
use super::writer::{LocalEvent, Persisted, RoomState};
use crate::error::{Error, Result};
use crate::service::Services;

/// Most events written in one transaction (the rest wait for the next).
const MAX_BATCH: usize = 64;

/// An event waiting in a room's queue, with the way back to its request.
#[derive(Debug)]
struct Queued {
    event: LocalEvent,
    reply: oneshot::Sender<Result<Persisted>>,
}

/// The message events waiting to be written to one room.
#[derive(Debug, Default)]
pub struct SendQueue(Mutex<VecDeque<Queued>>);

impl SendQueue {
    fn push(&self, queued: Queued) {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_back(queued);
    }

    fn take(&self, most: usize) -> Vec<Queued> {
        let mut queue = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = queue.len().min(most);
        queue.drain(..count).collect()
    }
}

/// Counts of what the group commit wrote since start-up: how many
/// batches, and how many events in them (their ratio is the mean batch),
/// and how many writes found a transaction id used before.
#[derive(Debug, Default)]
pub struct GroupCommitStats {
    batches: AtomicU64,
    events: AtomicU64,
    retries_found: AtomicU64,
}

impl GroupCommitStats {
    fn record_retries_found(&self) {
        self.retries_found.fetch_add(1, Ordering::Relaxed);
    }

    /// How many batch writes found a retried request (and were redone).
    pub fn retries_found(&self) -> u64 {
        self.retries_found.load(Ordering::Relaxed)
    }

    fn record(&self, events: usize) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.events.fetch_add(u64::try_from(events).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// `(batches, events)` written so far.
    pub fn totals(&self) -> (u64, u64) {
        (self.batches.load(Ordering::Relaxed), self.events.load(Ordering::Relaxed))
    }
}

/// What became of one event of a batch before the batch was written.
enum Outcome {
    /// Answered already: sent before (same transaction id) or refused.
    Done(Result<Persisted>),
    /// A repeat of an earlier request of the same batch; gets its answer.
    SameAs(usize),
    /// Built and authorised: the n-th event to write.
    Write(usize),
}

impl LocalEvent {
    /// Whether the event may be written in a batch with others: a message
    /// event that changes neither the room's state nor an earlier event.
    pub fn joins_batches(&self) -> bool {
        self.state_key.is_none() && self.redacts.is_none() && self.event_type != "m.room.redaction"
    }
}

impl Services {
    /// Sends a message event through the room's queue; see the module
    /// documentation. Runs on its own task, like every write.
    pub(crate) async fn send_batched(self: &Arc<Self>, room_id: &str, event: LocalEvent) -> Result<Persisted> {
        let (reply, mut answer) = oneshot::channel();
        let queue = self.rooms.queue_of(room_id);
        queue.push(Queued { event, reply });
        let this = self.clone();
        let room_id = room_id.to_owned();
        self.finish_write(async move {
            let lock = this.rooms.lock_of(&room_id);
            loop {
                tokio::select! {
                    biased;
                    done = &mut answer => {
                        return done.map_err(|_| Error::internal("the batch writing this event was abandoned"))?;
                    }
                    mut guard = lock.lock() => {
                        let batch = queue.take(MAX_BATCH);
                        if batch.is_empty() {
                            // Another send took this event and holds its
                            // answer; it arrives before the lock is free.
                            continue;
                        }
                        let (events, replies): (Vec<_>, Vec<_>) =
                            batch.into_iter().map(|q| (q.event, q.reply)).unzip();
                        let answers = this.write_batch(&room_id, &mut guard, events).await;
                        // Answer before letting go of the lock, so that a
                        // send whose event this was finds its answer ready.
                        for (reply, answer) in replies.into_iter().zip(answers) {
                            // A request that has gone away no longer needs it.
                            let _ = reply.send(answer);
                        }
                        drop(guard);
                    }
                }
            }
        })
        .await
    }

    /// Writes a batch with the room lock held (`guard`), loading the
    /// room's state first if needed; one answer per event, in order.
    async fn write_batch(
        &self,
        room_id: &str,
        guard: &mut Option<RoomState>,
        events: Vec<LocalEvent>,
    ) -> Vec<Result<Persisted>> {
        let count = events.len();
        if guard.is_none() {
            match self.load_room_state(room_id).await {
                Ok(state) => *guard = Some(state),
                Err(error) => return vec![Err(error); count],
            }
        }
        let Some(state) = guard.as_mut() else {
            return vec![Err(Error::internal("room state vanished")); count];
        };
        if state.version.rules.event_format.require_event_id {
            // Room versions 1 and 2 reference prev events by hashes read
            // back from storage, so each event must be stored before the
            // next is built.
            let mut answers = Vec::with_capacity(count);
            for event in events {
                answers.push(self.persist_with_state(state, event).await);
            }
            return answers;
        }
        match self.persist_messages(state, events).await {
            Ok(answers) => answers,
            Err(error) => vec![Err(error); count],
        }
    }

    /// Builds and authorises each message event on top of the previous one
    /// and stores those accepted in one transaction. Requests repeated with
    /// a transaction id already used (before, or earlier in the batch) get
    /// the first answer. `Err` when the write itself failed, for all.
    ///
    /// Transaction ids are not looked up before writing: a new one is the
    /// rule and a retry the exception, and the write itself finds the
    /// exception, since the ids are a unique key. Only then are they read,
    /// and the batch is written again without the repeats.
    async fn persist_messages(&self, state: &mut RoomState, events: Vec<LocalEvent>) -> Result<Vec<Result<Persisted>>> {
        let state_group = state.state_group.ok_or_else(|| Error::internal("message event in a room without state"))?;
        let mut outcomes = Vec::with_capacity(events.len());
        let mut first_of_txn: HashMap<(String, String, String), usize> = HashMap::new();
        let mut fresh = Vec::with_capacity(events.len());
        for (index, event) in events.into_iter().enumerate() {
            if let Some((device, txn)) = &event.txn {
                let key = (event.sender.clone(), device.clone(), txn.clone());
                if let Some(first) = first_of_txn.get(&key) {
                    outcomes.push(Outcome::SameAs(*first));
                    continue;
                }
                first_of_txn.insert(key, index);
            }
            outcomes.push(Outcome::Done(Err(Error::internal("event not prepared"))));
            fresh.push((index, event));
        }
        let mut prepared = self.prepare_chain(state, fresh, &mut outcomes).await;
        let mut written = Vec::new();
        if !prepared.is_empty() {
            let positions = match self.write_messages(&state.room_id, state_group, &prepared).await {
                Ok(positions) => positions,
                Err(error) if error.is_unique_violation() => {
                    self.rooms.group_commit.record_retries_found();
                    prepared = self.without_retries(state, prepared, &mut outcomes).await?;
                    if prepared.is_empty() {
                        Vec::new()
                    } else {
                        self.write_messages(&state.room_id, state_group, &prepared).await?
                    }
                }
                Err(error) => return Err(error.into()),
            };
            if !prepared.is_empty() {
                self.rooms.group_commit.record(prepared.len());
                let chain_length = state.chain_length;
                written = self.stored(state, prepared, &positions, (state_group, chain_length), Vec::new())?;
            }
        }
        let mut answers: Vec<Result<Persisted>> = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            let answer = match outcome {
                Outcome::Done(answer) => answer,
                Outcome::Write(n) => written.get(n).cloned().ok_or_else(|| Error::internal("batch answer missing")),
                Outcome::SameAs(first) => {
                    answers.get(first).cloned().unwrap_or_else(|| Err(Error::internal("batch answer missing")))
                }
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    /// Builds `events` (each with its place among the batch's outcomes)
    /// on top of each other, from the room's forward extremities; records
    /// in `outcomes` which were refused and where the others are in the
    /// returned list.
    async fn prepare_chain(
        &self,
        state: &RoomState,
        events: Vec<(usize, LocalEvent)>,
        outcomes: &mut [Outcome],
    ) -> Vec<Prepared> {
        let mut tip = state.extremities.clone();
        let mut prepared = Vec::with_capacity(events.len());
        for (index, event) in events {
            let outcome = match self.prepare_event(state, &tip, event).await {
                Ok(event) => {
                    tip = vec![(event.event_id.clone(), event.depth)];
                    prepared.push(event);
                    Outcome::Write(prepared.len() - 1)
                }
                Err(error) => Outcome::Done(Err(error)),
            };
            if let Some(slot) = outcomes.get_mut(index) {
                *slot = outcome;
            }
        }
        prepared
    }

    /// After a write found a transaction id used before: answers the
    /// repeated requests with their earlier events and builds the others
    /// again, now without the repeats between them.
    async fn without_retries(
        &self,
        state: &RoomState,
        prepared: Vec<Prepared>,
        outcomes: &mut [Outcome],
    ) -> Result<Vec<Prepared>> {
        let txns: Vec<(&str, &str, &str)> = prepared
            .iter()
            .filter_map(|p| p.event.txn.as_ref().map(|(d, t)| (p.event.sender.as_str(), d.as_str(), t.as_str())))
            .collect();
        let earlier = self.storage.txn_events(&txns).await?;
        drop(txns);
        let written_at: Vec<usize> =
            outcomes.iter().enumerate().filter(|(_, o)| matches!(o, Outcome::Write(_))).map(|(i, _)| i).collect();
        let mut again = Vec::with_capacity(prepared.len());
        for (index, prepared) in written_at.into_iter().zip(prepared) {
            let event = prepared.event;
            let repeat = event.txn.as_ref().and_then(|(device, txn)| {
                earlier.iter().find(|r| r.user_id == event.sender && &r.device_id == device && &r.txn_id == txn)
            });
            match (repeat, outcomes.get_mut(index)) {
                (Some(row), Some(slot)) => {
                    let persisted = Persisted { event_id: row.event_id.clone(), stream_ordering: row.stream_ordering };
                    *slot = Outcome::Done(Ok(persisted));
                }
                _ => again.push((index, event)),
            }
        }
        Ok(self.prepare_chain(state, again, outcomes).await)
    }
}
