//! `rooms`: the room benchmark against one running server. Message send
//! throughput and latency (one sender, then N concurrent senders in a
//! 20-member room), server CPU per message, sync wake-up latency, initial
//! sync of a user in 50 rooms, `/messages` pagination and the RSS after it
//! all. The users are registered beforehand (shared-secret registration, by
//! `bench/rooms.sh`) and passed in as a JSON file of
//! `{"user_id", "access_token"}` objects.
//!
//! Every request goes to 127.0.0.1 over keep-alive connections of the
//! hand-written client in `http.rs`; every loop is bounded by a count, and
//! every request by a timeout. Each `/sync` carries an inline filter that
//! differs from every other request's (an `account_data.not_types` entry
//! naming a type that does not exist), so that Synapse's two-minute sync
//! response cache never answers; both servers get the same requests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::{http, procfs, write_json};

#[derive(Debug, Args)]
pub struct RoomsArgs {
    /// Base URL, e.g. http://127.0.0.1:8491.
    #[arg(long)]
    url: String,
    /// The server process, for its CPU time and RSS.
    #[arg(long)]
    pid: u32,
    /// JSON file with the registered users: `[{"user_id", "access_token"}, …]`;
    /// needs `members + 2` of them.
    #[arg(long)]
    users: PathBuf,
    /// Name of this configuration in the report (e.g. `trellis-sqlite`).
    #[arg(long)]
    label: String,
    /// Durability mode measured, as text for the report.
    #[arg(long, default_value = "")]
    durability: String,
    /// Members of the big room (they all get push rules evaluated and
    /// notification counts kept for every message).
    #[arg(long, default_value_t = 20)]
    members: usize,
    /// Concurrent senders in the throughput run.
    #[arg(long, default_value_t = 10)]
    senders: usize,
    /// Messages sent in the concurrent run, in total.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Messages sent by the single sender.
    #[arg(long, default_value_t = 300)]
    single_messages: usize,
    /// Unmeasured messages each sender sends first.
    #[arg(long, default_value_t = 5)]
    warmup: usize,
    /// Sync wake-up samples.
    #[arg(long, default_value_t = 50)]
    wakeups: usize,
    /// Milliseconds between issuing the long-poll and sending the message
    /// (time for the server to park the request).
    #[arg(long, default_value_t = 150)]
    park_ms: u64,
    /// Rooms of the initial-sync user.
    #[arg(long, default_value_t = 50)]
    sync_rooms: usize,
    /// Messages in each of those rooms.
    #[arg(long, default_value_t = 3)]
    room_messages: usize,
    /// Timed initial syncs (the median is reported).
    #[arg(long, default_value_t = 10)]
    initial_syncs: usize,
    /// Events per `/messages` page.
    #[arg(long, default_value_t = 50)]
    page_size: usize,
    /// `/messages` pages to fetch backwards from the newest event.
    #[arg(long, default_value_t = 40)]
    pages: usize,
    /// Seconds of idle before the second RSS reading.
    #[arg(long, default_value_t = 2.0)]
    idle: f64,
    /// Phases to run, comma-separated: send, wakeup, initial-sync, messages.
    #[arg(long, value_delimiter = ',', default_value = "send,wakeup,initial-sync,messages")]
    phases: Vec<String>,
    /// Record the server with `perf record` (DWARF call graphs) during one
    /// phase (`--perf-phase`) into this file. Slows the server down: do not
    /// quote the numbers of a profiled run.
    #[arg(long)]
    perf: Option<PathBuf>,
    /// Phase during which `--perf` records: send (the concurrent run),
    /// wakeup, initial-sync or messages.
    #[arg(long, default_value = "send")]
    perf_phase: String,
    /// PostgreSQL database the server uses: the CPU time of its backends
    /// (found in /proc by command line) is added to the server's.
    #[arg(long)]
    db_name: Option<String>,
    /// Give up when the whole run takes longer than this many seconds.
    #[arg(long, default_value_t = 1800.0)]
    max_seconds: f64,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A request taking longer than this fails the run (long-polls are 30 s).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Long-poll timeout of the wake-up syncs, in milliseconds.
const LONG_POLL_MS: u64 = 30_000;

// ---------------------------------------------------------------- results

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
    fn from_ms(mut samples: Vec<f64>) -> Self {
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

// ---------------------------------------------------------------- client

#[derive(Debug, Deserialize)]
struct BenchUser {
    user_id: String,
    access_token: String,
}

/// One user on one keep-alive connection.
struct Client {
    target: http::Target,
    user_id: String,
    token: String,
    stream: Option<tokio::net::TcpStream>,
    buf: Vec<u8>,
}

struct Reply {
    status: u16,
    body: Vec<u8>,
}

impl Client {
    /// One request; the connection is (re)opened when needed. A request
    /// that fails on a connection the server dropped while it was idle is
    /// sent once more on a new one (sends are idempotent by transaction id).
    async fn call(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<Reply> {
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
    async fn json(&mut self, method: &str, path: &str, body: Option<&Value>) -> anyhow::Result<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let reply = self.call(method, path, bytes.as_deref()).await?;
        parse_ok(&reply, method, path, &self.user_id)
    }

    /// Sends one text message; returns its event id.
    async fn send(&mut self, room_id: &str, txn_id: &str, n: usize) -> anyhow::Result<String> {
        let path =
            format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", http::encode(room_id), http::encode(txn_id));
        let body = format!(r#"{{"msgtype":"m.text","body":"bench message {n} ({txn_id})"}}"#);
        let reply = self.call("PUT", &path, Some(body.as_bytes())).await?;
        let value = parse_ok(&reply, "PUT", &path, &self.user_id)?;
        value["event_id"].as_str().map(str::to_owned).context("send answer has no event_id")
    }

    async fn join(&mut self, room_id: &str) -> anyhow::Result<()> {
        self.json("POST", &format!("/_matrix/client/v3/rooms/{}/join", http::encode(room_id)), Some(&json!({})))
            .await
            .map(drop)
    }

    async fn create_room(&mut self, name: &str) -> anyhow::Result<String> {
        let value = self
            .json("POST", "/_matrix/client/v3/createRoom", Some(&json!({"preset": "public_chat", "name": name})))
            .await?;
        value["room_id"].as_str().map(str::to_owned).context("createRoom answer has no room_id")
    }

    /// `GET /sync`; returns the answer and when it was complete.
    async fn sync(&mut self, since: Option<&str>, timeout_ms: u64, filter: &str) -> anyhow::Result<(Instant, Reply)> {
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

fn parse_ok(reply: &Reply, method: &str, path: &str, user: &str) -> anyhow::Result<Value> {
    if reply.status != 200 {
        bail!("{method} {path} as {user}: {} {}", reply.status, String::from_utf8_lossy(&reply.body));
    }
    serde_json::from_slice(&reply.body).with_context(|| format!("{method} {path}: answer is not JSON"))
}

fn next_batch(reply: &Reply) -> anyhow::Result<String> {
    let value: Value = serde_json::from_slice(&reply.body).context("sync answer is not JSON")?;
    value["next_batch"].as_str().map(str::to_owned).context("sync answer has no next_batch")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Sync filters, each one different from all others sent to the server
/// (Synapse caches `/sync` answers by request for two minutes). Presence is
/// filtered out: Trellis has none, and Synapse would otherwise wake long
/// polls for presence changes.
struct Filters {
    run: u128,
    next: u64,
}

impl Filters {
    fn next(&mut self) -> String {
        self.next += 1;
        format!(
            r#"{{"presence":{{"not_types":["*"]}},"account_data":{{"not_types":["bench.vary.{}.{}"]}},"room":{{"timeline":{{"limit":10}}}}}}"#,
            self.run, self.next
        )
    }
}

// ---------------------------------------------------------------- phases

struct Ctx {
    pid: String,
    db_name: Option<String>,
    room_id: String,
    run: u128,
    sent: usize,
}

impl Ctx {
    fn txn(&mut self, who: usize) -> (String, usize) {
        self.sent += 1;
        (format!("bench-{}-{who}-{}", self.run, self.sent), self.sent)
    }
}

/// `senders` clients send `total` messages between them, each one request
/// at a time; the clients are handed back.
async fn send_run(ctx: &mut Ctx, clients: Vec<Client>, total: usize) -> anyhow::Result<(Vec<Client>, SendResult)> {
    let senders = clients.len();
    let mut jobs = Vec::with_capacity(senders);
    let mut plans = Vec::with_capacity(senders);
    for i in 0..senders {
        let count = total / senders + usize::from(i < total % senders);
        let txns: Vec<(String, usize)> = (0..count).map(|_| ctx.txn(i)).collect();
        plans.push(txns);
    }
    let machine_before = procfs::machine_busy_seconds()?;
    let db_before = ctx.db_name.as_deref().map(procfs::postgres_backends_cpu);
    let server_before = procfs::cpu_seconds(&ctx.pid)?;
    let client_before = procfs::cpu_seconds("self")?;
    let started = Instant::now();
    for (mut client, txns) in clients.into_iter().zip(plans) {
        let room_id = ctx.room_id.clone();
        jobs.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(txns.len());
            for (txn, n) in txns {
                let start = Instant::now();
                client.send(&room_id, &txn, n).await?;
                samples.push(start.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok((client, samples))
        }));
    }
    let mut clients = Vec::with_capacity(senders);
    let mut samples = Vec::with_capacity(total);
    for job in jobs {
        let (client, mut s) = job.await.context("a sender task panicked")??;
        clients.push(client);
        samples.append(&mut s);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let process_cpu_s = procfs::cpu_seconds(&ctx.pid)? - server_before;
    let db_cpu_s = match (&db_before, ctx.db_name.as_deref()) {
        (Some(before), Some(name)) => procfs::postgres_cpu_delta(before, &procfs::postgres_backends_cpu(name)),
        _ => 0.0,
    };
    let server_cpu_s = process_cpu_s + db_cpu_s;
    let client_cpu_s = procfs::cpu_seconds("self")? - client_before;
    let other_cpu_s = (procfs::machine_busy_seconds()? - machine_before - server_cpu_s - client_cpu_s).max(0.0);
    #[allow(clippy::cast_precision_loss)]
    let messages_f = total as f64;
    let result = SendResult {
        senders,
        messages: total,
        wall_s,
        messages_per_s: messages_f / wall_s,
        latency: Latency::from_ms(samples),
        server_cpu_s,
        db_cpu_s,
        server_cpu_ms_per_message: server_cpu_s * 1e3 / messages_f,
        client_cpu_s,
        other_cpu_s,
    };
    println!(
        "send, {senders} sender(s): {} messages in {:.2} s = {:.1} msg/s; p50 {:.2} ms, p99 {:.2} ms; server CPU {:.2} ms/message (database backends {:.2}); tool CPU {:.2} s; other processes {:.0}% of a core",
        total,
        wall_s,
        result.messages_per_s,
        result.latency.p50_ms,
        result.latency.p99_ms,
        result.server_cpu_ms_per_message,
        db_cpu_s * 1e3 / messages_f,
        client_cpu_s,
        other_cpu_s / wall_s * 100.0
    );
    Ok((clients, result))
}

/// Starts `perf record` on the server; stopped (SIGINT) by `stop_perf`.
fn start_perf(pid: &str, out: &std::path::Path) -> anyhow::Result<Child> {
    let child = Command::new("perf")
        .args(["record", "-F", "499", "--call-graph", "dwarf,16384", "-p", pid, "-o"])
        .arg(out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot start perf (apt-get install linux-perf)")?;
    // perf needs a moment to attach.
    std::thread::sleep(Duration::from_millis(500));
    Ok(child)
}

fn stop_perf(mut child: Child) -> anyhow::Result<()> {
    Command::new("kill").arg("-INT").arg(child.id().to_string()).status()?;
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while std::time::Instant::now() < deadline {
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill()?;
    child.wait()?;
    bail!("perf did not stop within 120 s; killed")
}

async fn wakeup_run(
    ctx: &mut Ctx,
    sender: &mut Client,
    receiver: Client,
    filters: &mut Filters,
    samples: usize,
    park: Duration,
) -> anyhow::Result<(Client, WakeupResult)> {
    let mut receiver = Some(receiver);
    let take = |slot: &mut Option<Client>| slot.take().context("receiver client lost");
    // Where B's stream is now.
    let (_, first) = receiver.as_mut().context("receiver client lost")?.sync(None, 0, &filters.next()).await?;
    let mut since = next_batch(&first)?;
    let (mut from_start, mut from_answer, mut send_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut early_returns, mut extra_polls) = (0, 0);
    for _ in 0..samples {
        let mut early_here = 0;
        let handle = loop {
            let mut b = take(&mut receiver)?;
            let (since_now, filter) = (since.clone(), filters.next());
            let handle = tokio::spawn(async move {
                let result = b.sync(Some(&since_now), LONG_POLL_MS, &filter).await;
                (b, result)
            });
            tokio::time::sleep(park).await;
            if !handle.is_finished() {
                break handle;
            }
            let (b, result) = handle.await.context("the long-poll task panicked")?;
            receiver = Some(b);
            since = next_batch(&result?.1)?;
            early_returns += 1;
            early_here += 1;
            if early_here > 20 {
                bail!("the long-poll keeps returning at once, before anything was sent");
            }
        };
        let (txn, n) = ctx.txn(99);
        let start = Instant::now();
        let event_id = sender.send(&ctx.room_id, &txn, n).await?;
        let answered = Instant::now();
        let (b, result) = handle.await.context("the long-poll task panicked")?;
        receiver = Some(b);
        let (mut done, mut reply) = result?;
        since = next_batch(&reply)?;
        let mut polls = 0;
        while !contains(&reply.body, &event_id) {
            polls += 1;
            extra_polls += 1;
            if polls > 10 {
                bail!("ten long-polls in a row came back without {event_id}");
            }
            let b = receiver.as_mut().context("receiver client lost")?;
            (done, reply) = b.sync(Some(&since), LONG_POLL_MS, &filters.next()).await?;
            since = next_batch(&reply)?;
        }
        from_start.push((done - start).as_secs_f64() * 1e3);
        let after_answer = match done.checked_duration_since(answered) {
            Some(d) => d.as_secs_f64() * 1e3,
            None => -(answered - done).as_secs_f64() * 1e3,
        };
        from_answer.push(after_answer);
        send_ms.push((answered - start).as_secs_f64() * 1e3);
    }
    let result = WakeupResult {
        from_send_start: Latency::from_ms(from_start),
        from_send_answer: Latency::from_ms(from_answer),
        send: Latency::from_ms(send_ms),
        early_returns,
        extra_polls,
        park_ms: u64::try_from(park.as_millis()).unwrap_or(u64::MAX),
    };
    println!(
        "sync wake-up ({} samples): from send start p50 {:.2} ms, p99 {:.2} ms; from send answer p50 {:.2} ms, p99 {:.2} ms; send p50 {:.2} ms; {} early returns, {} extra polls",
        result.from_send_start.n,
        result.from_send_start.p50_ms,
        result.from_send_start.p99_ms,
        result.from_send_answer.p50_ms,
        result.from_send_answer.p99_ms,
        result.send.p50_ms,
        early_returns,
        extra_polls
    );
    Ok((take(&mut receiver)?, result))
}

async fn initial_sync_run(
    ctx: &mut Ctx,
    owner: &mut Client,
    other: &mut Client,
    filters: &mut Filters,
    rooms: usize,
    per_room: usize,
    runs: usize,
) -> anyhow::Result<InitialSyncResult> {
    let setup = Instant::now();
    for r in 0..rooms {
        let room_id = owner.create_room(&format!("sync room {r}")).await?;
        other.join(&room_id).await?;
        for m in 0..per_room {
            let (txn, n) = ctx.txn(98);
            let who = if m % 2 == 0 { &mut *owner } else { &mut *other };
            who.send(&room_id, &txn, n).await?;
        }
    }
    let setup_s = setup.elapsed().as_secs_f64();
    eprintln!("created {rooms} rooms with {per_room} messages each in {setup_s:.1} s");
    // Untimed: one initial sync, then one incremental sync from it.
    let (_, first) = owner.sync(None, 0, &filters.next()).await?;
    let since = next_batch(&first)?;
    owner.sync(Some(&since), 0, &filters.next()).await?;
    let mut samples = Vec::with_capacity(runs);
    let mut response_bytes = 0;
    for _ in 0..runs {
        let filter = filters.next();
        let start = Instant::now();
        let (done, reply) = owner.sync(None, 0, &filter).await?;
        samples.push((done - start).as_secs_f64() * 1e3);
        let value: Value = serde_json::from_slice(&reply.body).context("sync answer is not JSON")?;
        let joined = value["rooms"]["join"].as_object().map_or(0, serde_json::Map::len);
        if joined != rooms {
            bail!("initial sync lists {joined} joined rooms, expected {rooms}");
        }
        response_bytes = reply.body.len();
    }
    let result = InitialSyncResult {
        rooms,
        messages_per_room: per_room,
        latency: Latency::from_ms(samples),
        response_bytes,
        setup_s,
    };
    println!(
        "initial sync, {rooms} rooms ({} runs): median {:.2} ms, min {:.2} ms, max {:.2} ms; {} bytes",
        result.latency.n, result.latency.p50_ms, result.latency.min_ms, result.latency.max_ms, response_bytes
    );
    Ok(result)
}

async fn messages_run(
    ctx: &Ctx,
    reader: &mut Client,
    page_size: usize,
    pages: usize,
) -> anyhow::Result<MessagesResult> {
    let mut from: Option<String> = None;
    let mut samples = Vec::with_capacity(pages);
    let mut events = 0;
    for _ in 0..pages {
        let mut path =
            format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit={page_size}", http::encode(&ctx.room_id));
        if let Some(from) = &from {
            path.push_str("&from=");
            path.push_str(&http::encode(from));
        }
        let start = Instant::now();
        let reply = reader.call("GET", &path, None).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
        let value = parse_ok(&reply, "GET", &path, &reader.user_id)?;
        let chunk = value["chunk"].as_array().map_or(0, Vec::len);
        events += chunk;
        match value["end"].as_str() {
            Some(end) if chunk > 0 => from = Some(end.to_owned()),
            _ => break,
        }
    }
    let result = MessagesResult { page_size, pages: samples.len(), events, latency: Latency::from_ms(samples) };
    println!(
        "/messages, {} pages of {page_size} ({events} events): median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        result.pages, result.latency.p50_ms, result.latency.p99_ms, result.latency.max_ms
    );
    Ok(result)
}

/// The first three fields of /proc/loadavg.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn memory(pid: &str) -> anyhow::Result<MemoryReading> {
    let mem = procfs::memory(pid)?;
    Ok(MemoryReading { rss_bytes: mem.rss, hwm_bytes: mem.hwm, threads: mem.threads })
}

// ---------------------------------------------------------------- driver

pub fn run(args: &RoomsArgs) -> anyhow::Result<()> {
    let target = http::parse_url(&args.url)?;
    if args.members < 2 || args.members > 1000 {
        bail!("--members must be between 2 and 1000");
    }
    if args.senders == 0 || args.senders >= args.members {
        bail!("--senders must be between 1 and members - 1 (one member only receives)");
    }
    for (value, name, max) in [
        (args.messages, "--messages", 100_000),
        (args.single_messages, "--single-messages", 100_000),
        (args.warmup, "--warmup", 1000),
        (args.wakeups, "--wakeups", 10_000),
        (args.sync_rooms, "--sync-rooms", 1000),
        (args.room_messages, "--room-messages", 100),
        (args.initial_syncs, "--initial-syncs", 1000),
        (args.pages, "--pages", 10_000),
    ] {
        if value > max {
            bail!("{name} must be at most {max}");
        }
    }
    if !(1..=1000).contains(&args.page_size) || args.park_ms > 10_000 {
        bail!("--page-size must be within 1..1000 and --park-ms at most 10000");
    }
    for phase in args.phases.iter().chain([&args.perf_phase]) {
        if !["send", "wakeup", "initial-sync", "messages"].contains(&phase.as_str()) {
            bail!("unknown phase {phase:?}");
        }
    }
    if let Some(name) = &args.db_name
        && !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        bail!("--db-name {name:?}: only letters, digits and _");
    }
    let users: Vec<BenchUser> = serde_json::from_str(
        &std::fs::read_to_string(&args.users).with_context(|| format!("cannot read {}", args.users.display()))?,
    )
    .context("--users: not a JSON list of {user_id, access_token}")?;
    if users.len() < args.members + 2 {
        bail!("--users has {} users; {} are needed (members + 2)", users.len(), args.members + 2);
    }
    let max = crate::secs(args.max_seconds, "--max-seconds")?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match tokio::time::timeout(max, run_all(args, target, users)).await {
            Ok(result) => result,
            Err(_) => bail!("the room benchmark did not finish within {max:?}"),
        }
    })
}

async fn run_all(args: &RoomsArgs, target: http::Target, users: Vec<BenchUser>) -> anyhow::Result<()> {
    let total = Instant::now();
    let load_before = loadavg();
    let pid = args.pid.to_string();
    let phase = |name: &str| args.phases.iter().any(|p| p == name);
    let profile = |name: &str| -> anyhow::Result<Option<Child>> {
        match &args.perf {
            Some(out) if args.perf_phase == name => start_perf(&args.pid.to_string(), out).map(Some),
            _ => Ok(None),
        }
    };
    let mut clients: Vec<Client> = users
        .into_iter()
        .map(|u| Client {
            target: target.clone(),
            user_id: u.user_id,
            token: u.access_token,
            stream: None,
            buf: Vec::with_capacity(16 * 1024),
        })
        .collect();
    let run = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut filters = Filters { run, next: 0 };

    // The big room: member 0 creates it, everyone joins.
    let setup = Instant::now();
    let room_id = clients[0].create_room("bench room").await?;
    for client in &mut clients[1..args.members] {
        client.join(&room_id).await?;
    }
    let setup_s = setup.elapsed().as_secs_f64();
    eprintln!("room {room_id}: {} members joined in {setup_s:.1} s", args.members);
    let mut ctx = Ctx { pid: pid.clone(), db_name: args.db_name.clone(), room_id, run, sent: 0 };

    let mut rest = clients.split_off(args.senders);
    let mut senders = clients;
    let (mut single, mut concurrent) = (None, None);
    if phase("send") {
        for (i, sender) in senders.iter_mut().enumerate() {
            for _ in 0..args.warmup {
                let (txn, n) = ctx.txn(i);
                sender.send(&ctx.room_id, &txn, n).await?;
            }
        }
        if args.single_messages > 0 {
            let first = senders.remove(0);
            let (mut back, result) = send_run(&mut ctx, vec![first], args.single_messages).await?;
            senders.insert(0, back.remove(0));
            single = Some(result);
        }
        if args.messages > 0 {
            let profiler = profile("send")?;
            let outcome = send_run(&mut ctx, senders, args.messages).await;
            if let Some(profiler) = profiler {
                stop_perf(profiler)?;
            }
            let (back, result) = outcome?;
            senders = back;
            concurrent = Some(result);
        }
    }

    // Indices into `rest`: the members who do not send, then the two
    // initial-sync users.
    let receiver_index = args.members - args.senders - 1;
    let mut wakeup = None;
    if phase("wakeup") && args.wakeups > 0 {
        let receiver = rest.remove(receiver_index);
        let park = Duration::from_millis(args.park_ms);
        let profiler = profile("wakeup")?;
        let outcome = wakeup_run(&mut ctx, &mut rest[0], receiver, &mut filters, args.wakeups, park).await;
        if let Some(profiler) = profiler {
            stop_perf(profiler)?;
        }
        let (back, result) = outcome?;
        rest.insert(receiver_index, back);
        wakeup = Some(result);
    }

    let mut initial_sync = None;
    if phase("initial-sync") && args.initial_syncs > 0 {
        let (_, extra) = rest.split_at_mut(args.members - args.senders);
        let (owner, other) = extra.split_at_mut(1);
        let profiler = profile("initial-sync")?;
        let outcome = initial_sync_run(
            &mut ctx,
            &mut owner[0],
            &mut other[0],
            &mut filters,
            args.sync_rooms,
            args.room_messages,
            args.initial_syncs,
        )
        .await;
        if let Some(profiler) = profiler {
            stop_perf(profiler)?;
        }
        initial_sync = Some(outcome?);
    }

    let mut messages = None;
    if phase("messages") && args.pages > 0 {
        let profiler = profile("messages")?;
        let outcome = messages_run(&ctx, &mut rest[receiver_index], args.page_size, args.pages).await;
        if let Some(profiler) = profiler {
            stop_perf(profiler)?;
        }
        messages = Some(outcome?);
    }

    let rss_after = memory(&pid)?;
    tokio::time::sleep(crate::secs(args.idle, "--idle")?).await;
    let rss_idle = memory(&pid)?;
    #[allow(clippy::cast_precision_loss)]
    let to_mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "RSS after the run: {:.1} MiB (peak {:.1} MiB, {} threads); after {} s idle: {:.1} MiB",
        to_mib(rss_after.rss_bytes),
        to_mib(rss_after.hwm_bytes),
        rss_after.threads,
        args.idle,
        to_mib(rss_idle.rss_bytes)
    );
    drop(senders);
    let result = RoomsResult {
        label: args.label.clone(),
        durability: args.durability.clone(),
        members: args.members,
        setup_s,
        single,
        concurrent,
        wakeup,
        initial_sync,
        messages,
        rss_after,
        rss_idle,
        idle_s: args.idle,
        total_s: total.elapsed().as_secs_f64(),
        loadavg: [load_before, loadavg()],
    };
    write_json(args.out.as_deref(), &result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles() {
        let l = Latency::from_ms((1..=100).rev().map(f64::from).collect());
        assert_eq!((l.n, l.p50_ms, l.p90_ms, l.p99_ms, l.min_ms, l.max_ms), (100, 50.0, 90.0, 99.0, 1.0, 100.0));
        assert!((l.mean_ms - 50.5).abs() < 1e-9);
        assert!(Latency::from_ms(Vec::new()).p50_ms.is_nan());
    }

    #[test]
    fn filters_differ() {
        let mut f = Filters { run: 7, next: 0 };
        let (a, b) = (f.next(), f.next());
        assert_ne!(a, b);
        let parsed: Value = serde_json::from_str(&a).unwrap();
        assert_eq!(parsed["account_data"]["not_types"][0], "bench.vary.7.1");
    }
}
