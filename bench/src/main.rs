//! `trellis-bench`: measures a Matrix homeserver from outside, so that Trellis
//! and Synapse are measured by the same code on the same machine.
//!
//! Sub-commands: `startup` (spawn a server, time it to the first answered
//! `/versions`, stop it, repeat), `wait` (until a running server answers),
//! `rss` (resident memory after an idle wait), `login` (print an access
//! token), `whoami` (keep-alive load on `GET /account/whoami`: throughput,
//! exact latency percentiles, server CPU per request) and `report` (the
//! side-by-side table from the JSON each measurement writes). `bench/run.sh`
//! strings them together. `rooms` (message sends, sync wake-up, initial
//! sync, /messages against one running server) and `rooms-report` are the
//! room benchmark that `bench/rooms.sh` drives. See
//! docs/development/benchmarks.md.

// A command-line tool: its output is the point.
#![allow(clippy::print_stdout)]

mod http;
mod procfs;
mod report;
mod rooms;
mod rooms_report;
mod whoami;

use whoami::WhoamiArgs;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};
use serde::{Deserialize, Serialize};

const VERSIONS_PATH: &str = "/_matrix/client/versions";
const WHOAMI_PATH: &str = "/_matrix/client/v3/account/whoami";

/// Side-by-side benchmarks of Matrix homeservers (127.0.0.1 only).
#[derive(Debug, Parser)]
#[command(name = "trellis-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Start a server N times; time each start to the first 200 from
    /// GET /_matrix/client/versions, then stop it with SIGTERM.
    Startup(StartupArgs),
    /// Wait until an already started server answers /versions with 200.
    Wait(WaitArgs),
    /// Resident memory of a process after an idle wait.
    Rss(RssArgs),
    /// Log in with a password and print the access token.
    Login(LoginArgs),
    /// Keep-alive load on GET /_matrix/client/v3/account/whoami.
    Whoami(WhoamiArgs),
    /// Print the side-by-side table from the JSON results in a folder.
    Report(report::ReportArgs),
    /// The room benchmark against one running server: send throughput and
    /// latency, CPU per message, sync wake-up, initial sync, /messages, RSS.
    Rooms(Box<rooms::RoomsArgs>),
    /// Print the room benchmark's side-by-side table.
    RoomsReport(rooms_report::RoomsReportArgs),
}

#[derive(Debug, Args)]
struct StartupArgs {
    /// Base URL the server listens on, e.g. http://127.0.0.1:8481.
    #[arg(long)]
    url: String,
    /// How many starts to time.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Give up on one start after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Pause between polls of /versions, in milliseconds.
    #[arg(long, default_value_t = 1.0)]
    poll_ms: f64,
    /// Pause after each stop before the next start, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pause_ms: u64,
    /// Append the server's stdout and stderr to this file (else discarded).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The server command and its arguments (after `--`).
    #[arg(trailing_var_arg = true, required = true, num_args = 1..)]
    command: Vec<String>,
}

#[derive(Debug, Args)]
struct WaitArgs {
    /// Base URL, e.g. http://127.0.0.1:8481.
    #[arg(long)]
    url: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    timeout: f64,
    /// Fail at once if this process exits while waiting.
    #[arg(long)]
    pid: Option<u32>,
}

#[derive(Debug, Args)]
struct RssArgs {
    /// Process to measure.
    #[arg(long)]
    pid: u32,
    /// Seconds to wait (idle) before reading.
    #[arg(long, default_value_t = 5.0)]
    idle: f64,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct LoginArgs {
    /// Base URL.
    #[arg(long)]
    url: String,
    /// User localpart.
    #[arg(long)]
    user: String,
    /// Password.
    #[arg(long)]
    password: String,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Startup(args) => startup(&args),
        Cmd::Wait(args) => wait(&args),
        Cmd::Rss(args) => rss(&args),
        Cmd::Login(args) => login(&args),
        Cmd::Whoami(args) => whoami::whoami(&args),
        Cmd::Report(args) => report::run(&args),
        Cmd::Rooms(args) => rooms::run(&args),
        Cmd::RoomsReport(args) => rooms_report::run(&args),
    }
}

fn write_json<T: Serialize>(out: Option<&Path>, value: &T) -> anyhow::Result<()> {
    if let Some(path) = out {
        let text = serde_json::to_string_pretty(value)?;
        std::fs::write(path, text + "\n").with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn secs(value: f64, what: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("bad {what}: {value}"))
}

// ---------------------------------------------------------------- startup

/// Result of `startup`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StartupResult {
    /// The command that was timed.
    pub command: Vec<String>,
    /// Seconds from spawn to the first 200 from /versions, per run.
    pub runs_s: Vec<f64>,
    /// Median of `runs_s`.
    pub median_s: f64,
    /// Fastest run.
    pub min_s: f64,
    /// Slowest run.
    pub max_s: f64,
    /// Seconds from SIGTERM to exit, per run.
    pub shutdown_s: Vec<f64>,
}

/// A spawned server; killed (SIGKILL) if dropped while still running, so an
/// error path never leaves it behind.
struct Server(Child);

impl Server {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    /// SIGTERM, then wait up to `grace` for the exit; SIGKILL after that.
    fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        if self.0.try_wait()?.is_some() {
            return Ok(());
        }
        let status = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status()?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.pid());
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if self.0.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.0.kill()?;
        self.0.wait()?;
        bail!("server {} ignored SIGTERM for {grace:?}; killed", self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn answers_200(target: &http::Target) -> bool {
    http::get_once(target, VERSIONS_PATH, Duration::from_secs(2)).is_ok_and(|p| p.status == 200)
}

fn log_stdio(log: Option<&Path>) -> anyhow::Result<(Stdio, Stdio)> {
    let Some(path) = log else { return Ok((Stdio::null(), Stdio::null())) };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    Ok((Stdio::from(file.try_clone()?), Stdio::from(file)))
}

fn startup(args: &StartupArgs) -> anyhow::Result<()> {
    let target = http::parse_url(&args.url)?;
    let timeout = secs(args.timeout, "--timeout")?;
    let poll = secs(args.poll_ms / 1000.0, "--poll-ms")?;
    if args.runs == 0 || args.runs > 1000 {
        bail!("--runs must be between 1 and 1000");
    }
    if answers_200(&target) {
        bail!("something already answers on {}; stop it first", args.url);
    }
    let mut runs = Vec::with_capacity(args.runs);
    let mut shutdowns = Vec::with_capacity(args.runs);
    for run in 1..=args.runs {
        let (stdout, stderr) = log_stdio(args.log.as_deref())?;
        let started = Instant::now();
        let child = Command::new(&args.command[0])
            .args(&args.command[1..])
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("cannot start {:?}", args.command))?;
        let mut server = Server(child);
        let elapsed = loop {
            if let Some(status) = server.0.try_wait()? {
                bail!("the server exited ({status}) before answering /versions; see its log");
            }
            if answers_200(&target) {
                break started.elapsed();
            }
            if started.elapsed() > timeout {
                bail!("no 200 from {}{VERSIONS_PATH} within {timeout:?}", args.url);
            }
            std::thread::sleep(poll);
        };
        let stopping = Instant::now();
        server.stop(Duration::from_secs(60))?;
        let shutdown = stopping.elapsed();
        eprintln!(
            "start {run}/{}: {:.1} ms to first /versions; stopped in {:.1} ms",
            args.runs,
            elapsed.as_secs_f64() * 1e3,
            shutdown.as_secs_f64() * 1e3
        );
        runs.push(elapsed.as_secs_f64());
        shutdowns.push(shutdown.as_secs_f64());
        std::thread::sleep(Duration::from_millis(args.pause_ms));
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let result = StartupResult {
        command: args.command.clone(),
        median_s: median(&sorted),
        min_s: sorted[0],
        max_s: sorted[sorted.len() - 1],
        runs_s: runs,
        shutdown_s: shutdowns,
    };
    println!(
        "start-up to first /versions: median {:.1} ms, min {:.1} ms, max {:.1} ms ({} runs)",
        result.median_s * 1e3,
        result.min_s * 1e3,
        result.max_s * 1e3,
        result.runs_s.len()
    );
    write_json(args.out.as_deref(), &result)
}

/// Median of sorted values (mean of the middle two for an even count).
fn median(sorted: &[f64]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 { sorted[n / 2] } else { f64::midpoint(sorted[n / 2 - 1], sorted[n / 2]) }
}

// ---------------------------------------------------------------- wait

fn wait(args: &WaitArgs) -> anyhow::Result<()> {
    let target = http::parse_url(&args.url)?;
    let timeout = secs(args.timeout, "--timeout")?;
    let started = Instant::now();
    loop {
        if answers_200(&target) {
            eprintln!("{} answered after {:.1} ms of waiting", args.url, started.elapsed().as_secs_f64() * 1e3);
            return Ok(());
        }
        if let Some(pid) = args.pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            bail!("process {pid} exited before {} answered", args.url);
        }
        if started.elapsed() > timeout {
            bail!("no 200 from {}{VERSIONS_PATH} within {timeout:?}", args.url);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------- rss

/// Result of `rss`.
#[derive(Debug, Serialize, Deserialize)]
pub struct RssResult {
    /// Process measured.
    pub pid: u32,
    /// Seconds waited before reading.
    pub idle_s: f64,
    /// VmRSS in bytes.
    pub rss_bytes: u64,
    /// VmHWM (peak RSS so far) in bytes.
    pub hwm_bytes: u64,
    /// Threads of the process.
    pub threads: u64,
}

fn rss(args: &RssArgs) -> anyhow::Result<()> {
    std::thread::sleep(secs(args.idle, "--idle")?);
    let mem = procfs::memory(&args.pid.to_string())?;
    let result =
        RssResult { pid: args.pid, idle_s: args.idle, rss_bytes: mem.rss, hwm_bytes: mem.hwm, threads: mem.threads };
    println!(
        "pid {}: VmRSS {:.1} MiB, VmHWM {:.1} MiB, {} threads (after {} s idle)",
        args.pid,
        mib(mem.rss),
        mib(mem.hwm),
        mem.threads,
        args.idle
    );
    write_json(args.out.as_deref(), &result)
}

#[allow(clippy::cast_precision_loss)]
fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

// ---------------------------------------------------------------- login

fn login(args: &LoginArgs) -> anyhow::Result<()> {
    http::parse_url(&args.url)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let token = runtime.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;
        let response = client
            .post(format!("{}/_matrix/client/v3/login", args.url.trim_end_matches('/')))
            .json(&serde_json::json!({
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": args.user},
                "password": args.password,
                "initial_device_display_name": "trellis-bench",
            }))
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await.context("login answer is not JSON")?;
        if !status.is_success() {
            bail!("login failed with {status}: {body}");
        }
        body["access_token"].as_str().map(str::to_owned).context("login answer has no access_token")
    })?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert!((median(&[1.0, 2.0, 9.0]) - 2.0).abs() < 1e-12);
        assert!((median(&[1.0, 2.0, 4.0, 9.0]) - 3.0).abs() < 1e-12);
        assert!(median(&[]).is_nan());
    }
}
