//! What each phase of the rooms benchmark measured.

use serde::{Deserialize, Serialize};

/// Latency summary in milliseconds (nearest-rank percentiles).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    /// Samples.
    pub n: usize,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Smallest.
    pub min_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    pub(super) fn from_ms(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        #[allow(clippy::cast_precision_loss)]
        let n = samples.len() as f64;
        let pick = |p: f64| -> f64 {
            if samples.is_empty() {
                return f64::NAN;
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let rank = (p * n).ceil() as usize;
            samples[rank.clamp(1, samples.len()) - 1]
        };
        Self {
            n: samples.len(),
            mean_ms: samples.iter().sum::<f64>() / n,
            p50_ms: pick(0.50),
            p90_ms: pick(0.90),
            p99_ms: pick(0.99),
            min_ms: samples.first().copied().unwrap_or(f64::NAN),
            max_ms: samples.last().copied().unwrap_or(f64::NAN),
        }
    }
}

/// One send run.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendResult {
    /// Concurrent senders, each on its own connection, one request in flight.
    pub senders: usize,
    /// Messages sent (all answered 200).
    pub messages: usize,
    /// Wall-clock seconds from the first request to the last answer.
    pub wall_s: f64,
    /// `messages / wall_s`.
    pub messages_per_s: f64,
    /// Per-request latency.
    pub latency: Latency,
    /// Server CPU seconds (utime + stime, all threads) over the run,
    /// including the database backends' (`db_cpu_s`) when there are any.
    pub server_cpu_s: f64,
    /// CPU seconds of the PostgreSQL backends serving the server (0 for
    /// SQLite, which runs inside the server process).
    #[serde(default)]
    pub db_cpu_s: f64,
    /// Server CPU milliseconds per message (`server_cpu_s / messages`).
    pub server_cpu_ms_per_message: f64,
    /// CPU seconds of this tool over the run.
    pub client_cpu_s: f64,
    /// CPU seconds everything else on the machine used over the run (a
    /// busy machine makes every number worse).
    pub other_cpu_s: f64,
    /// Bytes the server process handed to write calls, per message (for
    /// SQLite, mostly WAL frames and checkpoints: how many pages each
    /// commit dirties). Reads 0 in results from before it was measured.
    #[serde(default)]
    pub bytes_written_per_message: f64,
}

/// Sync wake-up.
#[derive(Debug, Serialize, Deserialize)]
pub struct WakeupResult {
    /// From the start of A's send request to B's long-poll answer holding
    /// the event.
    pub from_send_start: Latency,
    /// From A's send answer to B's long-poll answer (negative when B's
    /// answer came first).
    pub from_send_answer: Latency,
    /// A's send latency during these samples.
    pub send: Latency,
    /// Long-polls that returned before the message was sent (re-issued,
    /// not counted).
    pub early_returns: usize,
    /// Long-polls that returned after the send without the event (polled
    /// again; the sample covers the whole wait).
    pub extra_polls: usize,
    /// Milliseconds between issuing the long-poll and sending.
    pub park_ms: u64,
}

/// Initial sync.
#[derive(Debug, Serialize, Deserialize)]
pub struct InitialSyncResult {
    /// Rooms the user is joined to (checked in every answer).
    pub rooms: usize,
    /// Messages in each room.
    pub messages_per_room: usize,
    /// Time per initial sync.
    pub latency: Latency,
    /// Size of the last answer in bytes.
    pub response_bytes: usize,
    /// Seconds it took to create and fill the rooms (not a benchmark, but
    /// it says what set-up costs).
    pub setup_s: f64,
}

/// `/messages` pagination.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessagesResult {
    /// Events asked for per page.
    pub page_size: usize,
    /// Pages fetched.
    pub pages: usize,
    /// Events received in total.
    pub events: usize,
    /// Time per page.
    pub latency: Latency,
}

/// Memory reading.
#[derive(Debug, Serialize, Deserialize)]
pub struct MemoryReading {
    /// VmRSS in bytes.
    pub rss_bytes: u64,
    /// VmHWM in bytes.
    pub hwm_bytes: u64,
    /// Threads.
    pub threads: u64,
}

/// Everything `rooms` measures on one server.
#[derive(Debug, Serialize, Deserialize)]
pub struct RoomsResult {
    /// Configuration name.
    pub label: String,
    /// Durability mode, as given.
    pub durability: String,
    /// Members of the big room.
    pub members: usize,
    /// Seconds to create the big room and join everyone.
    pub setup_s: f64,
    /// One sender.
    pub single: Option<SendResult>,
    /// Concurrent senders.
    pub concurrent: Option<SendResult>,
    /// Sync wake-up.
    pub wakeup: Option<WakeupResult>,
    /// Initial sync in many rooms.
    pub initial_sync: Option<InitialSyncResult>,
    /// `/messages`.
    pub messages: Option<MessagesResult>,
    /// Right after the last phase.
    pub rss_after: MemoryReading,
    /// After `idle_s` more seconds.
    pub rss_idle: MemoryReading,
    /// The idle wait.
    pub idle_s: f64,
    /// Wall-clock seconds of the whole run.
    pub total_s: f64,
    /// /proc/loadavg when the run started and when it ended.
    pub loadavg: [String; 2],
}
