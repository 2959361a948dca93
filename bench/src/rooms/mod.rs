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

mod client;
mod phases;
mod results;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use tokio::time::Instant;

use crate::{http, procfs, write_json};
use client::{BenchUser, Client};
use phases::{initial_sync_run, messages_run, send_run, wakeup_run};
pub use results::*;

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
    use serde_json::Value;

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
