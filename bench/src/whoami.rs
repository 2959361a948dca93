//! `trellis-bench whoami`: concurrent keep-alive clients load
//! `GET /account/whoami` and the latency of every request is kept.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::{WHOAMI_PATH, http, procfs, secs, write_json};

#[derive(Debug, Args)]
pub struct WhoamiArgs {
    /// Base URL.
    #[arg(long)]
    url: String,
    /// Access token (sent as `Authorization: Bearer`).
    #[arg(long)]
    token: String,
    /// Concurrent clients, each with its own keep-alive connection and at
    /// most one request in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Warm-up seconds: same load, not recorded.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Server process, for its CPU time during the measured window.
    #[arg(long)]
    pid: Option<u32>,
    /// Load-generator threads (1 keeps it to one core's worth at most).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write the result as JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Result of `whoami`.
#[derive(Debug, Serialize, Deserialize)]
pub struct WhoamiResult {
    /// Concurrent clients.
    pub concurrency: usize,
    /// Load-generator threads.
    pub threads: usize,
    /// Length of the measured window in seconds.
    pub duration_s: f64,
    /// Warm-up seconds before it.
    pub warmup_s: f64,
    /// 200 answers inside the window.
    pub requests: u64,
    /// Non-200 answers and failed requests inside the window.
    pub errors: u64,
    /// Connections re-opened (server closed one, or an error).
    pub reconnects: u64,
    /// `requests / duration_s`.
    pub requests_per_s: f64,
    /// Latency percentiles in milliseconds (nearest rank over all samples).
    pub mean_ms: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Slowest request.
    pub max_ms: f64,
    /// Server CPU seconds (user + system, all threads) in the window.
    pub server_cpu_s: Option<f64>,
    /// Server CPU microseconds per answered request.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU seconds the load generator itself used in the window.
    pub client_cpu_s: f64,
}

#[derive(Debug, Default)]
struct WorkerStats {
    samples_ns: Vec<u64>,
    errors: u64,
    reconnects: u64,
}

/// Requests kept per client at most, to bound memory (8 bytes each).
const MAX_SAMPLES_PER_CLIENT: usize = 20_000_000;
/// A single request taking longer than this counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

async fn whoami_client(
    target: http::Target,
    request: std::sync::Arc<[u8]>,
    window_start: tokio::time::Instant,
    window_end: tokio::time::Instant,
) -> anyhow::Result<WorkerStats> {
    let mut stats = WorkerStats::default();
    let mut stream = http::connect(&target).await?;
    let mut buf = Vec::with_capacity(8192);
    loop {
        let start = tokio::time::Instant::now();
        if start >= window_end || stats.samples_ns.len() >= MAX_SAMPLES_PER_CLIENT {
            break;
        }
        let outcome =
            tokio::time::timeout(REQUEST_TIMEOUT, http::exchange(&mut stream, &request, &mut buf, false)).await;
        let done = tokio::time::Instant::now();
        let in_window = start >= window_start && done <= window_end;
        match outcome {
            Ok(Ok(parsed)) => {
                if in_window {
                    if parsed.status == 200 {
                        #[allow(clippy::cast_possible_truncation)] // a request takes < 10 s
                        stats.samples_ns.push((done - start).as_nanos() as u64);
                    } else {
                        stats.errors += 1;
                    }
                }
                if parsed.close {
                    stats.reconnects += 1;
                    stream = http::connect(&target).await?;
                }
            }
            Ok(Err(_)) | Err(_) => {
                stats.errors += u64::from(in_window);
                stats.reconnects += 1;
                if stats.reconnects > 1000 {
                    bail!("more than 1000 failed requests or dropped connections; giving up");
                }
                stream = http::connect(&target).await?;
            }
        }
    }
    Ok(stats)
}

pub fn whoami(args: &WhoamiArgs) -> anyhow::Result<()> {
    let target = http::parse_url(&args.url)?;
    if args.concurrency == 0 || args.concurrency > 1024 {
        bail!("--concurrency must be between 1 and 1024");
    }
    if args.threads == 0 || args.threads > 64 {
        bail!("--threads must be between 1 and 64");
    }
    if !(0.1..=600.0).contains(&args.duration) || !(0.0..=600.0).contains(&args.warmup) {
        bail!("--duration must be within 0.1..600 s and --warmup within 0..600 s");
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()?
    };
    runtime.block_on(run_whoami(args, target))
}

async fn run_whoami(args: &WhoamiArgs, target: http::Target) -> anyhow::Result<()> {
    let request: std::sync::Arc<[u8]> = http::get_request(&target, WHOAMI_PATH, Some(&args.token)).into();

    // One checked request first: a wrong token must not produce a fast
    // benchmark of 401s.
    let mut stream = http::connect(&target).await?;
    let mut buf = Vec::new();
    let check = http::exchange(&mut stream, &request, &mut buf, true).await?;
    let body = String::from_utf8_lossy(check.body.as_deref().unwrap_or_default()).into_owned();
    if check.status != 200 || !body.contains("user_id") {
        bail!("whoami check failed: {} {body}", check.status);
    }
    drop(stream);
    eprintln!("whoami answers {body}");

    let pid = args.pid.map(|pid| pid.to_string());
    let now = tokio::time::Instant::now();
    let window_start = now + secs(args.warmup, "--warmup")?;
    let window_end = window_start + secs(args.duration, "--duration")?;
    let clients: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(whoami_client(target.clone(), request.clone(), window_start, window_end)))
        .collect();

    // CPU readings at the window's edges, taken beside the clients.
    tokio::time::sleep_until(window_start).await;
    let server_before = pid.as_deref().map(procfs::cpu_seconds).transpose()?;
    let client_before = procfs::cpu_seconds("self")?;
    let measured_from = tokio::time::Instant::now();
    tokio::time::sleep_until(window_end).await;
    let server_after = pid.as_deref().map(procfs::cpu_seconds).transpose()?;
    let client_after = procfs::cpu_seconds("self")?;
    let measured = (tokio::time::Instant::now() - measured_from).as_secs_f64();

    let mut samples = Vec::new();
    let (mut errors, mut reconnects) = (0, 0);
    for client in clients {
        let stats = client.await.context("a client task panicked")??;
        samples.extend_from_slice(&stats.samples_ns);
        errors += stats.errors;
        reconnects += stats.reconnects;
    }
    samples.sort_unstable();
    let requests = samples.len() as u64;
    #[allow(clippy::cast_precision_loss)]
    let (requests_f, ms) = (requests as f64, |ns: u64| ns as f64 / 1e6);
    let percentile = |p: f64| -> f64 {
        if samples.is_empty() {
            return f64::NAN;
        }
        // Nearest rank: the smallest sample with at least p of all samples at or below it.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let rank = (p * requests_f).ceil() as usize;
        ms(samples[rank.clamp(1, samples.len()) - 1])
    };
    let server_cpu_s = match (server_before, server_after) {
        (Some(before), Some(after)) => Some(after - before),
        _ => None,
    };
    let result = WhoamiResult {
        concurrency: args.concurrency,
        threads: args.threads,
        duration_s: args.duration,
        warmup_s: args.warmup,
        requests,
        errors,
        reconnects,
        requests_per_s: requests_f / args.duration,
        mean_ms: samples.iter().map(|&ns| ms(ns)).sum::<f64>() / requests_f,
        p50_ms: percentile(0.50),
        p90_ms: percentile(0.90),
        p99_ms: percentile(0.99),
        p999_ms: percentile(0.999),
        max_ms: samples.last().map_or(f64::NAN, |&ns| ms(ns)),
        server_cpu_s,
        server_cpu_us_per_request: server_cpu_s.filter(|_| requests > 0).map(|cpu| cpu * 1e6 / requests_f),
        client_cpu_s: client_after - client_before,
    };
    if (measured - args.duration).abs() > 0.2 * args.duration {
        eprintln!("warning: CPU readings span {measured:.2} s, not {} s (machine overloaded?)", args.duration);
    }
    println!(
        "whoami c={}: {:.0} req/s, p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms, max {:.3} ms; {} requests, {} errors, {} reconnects",
        result.concurrency,
        result.requests_per_s,
        result.p50_ms,
        result.p90_ms,
        result.p99_ms,
        result.max_ms,
        result.requests,
        result.errors,
        result.reconnects
    );
    if let (Some(cpu), Some(per)) = (result.server_cpu_s, result.server_cpu_us_per_request) {
        println!(
            "  server CPU {cpu:.2} s ({:.0}% of one core), {per:.1} us/request; load generator CPU {:.2} s",
            cpu / args.duration * 100.0,
            result.client_cpu_s
        );
    }
    write_json(args.out.as_deref(), &result)?;
    if errors > 0 {
        bail!("{errors} requests failed during the measured window");
    }
    Ok(())
}
