//! `plugin-micro`: in-process costs of the plugin runtime, measured inside a
//! real (release-built) Trellis server on SQLite:
//!
//! - the time a no-op spam check adds to each event (the hook exactly as the
//!   send path calls it: instantiation from the pool, the call, teardown),
//!   as percentiles over many calls, against the same hook with no plugin;
//! - the time to load a plugin whose compiled form is in the disk cache
//!   (`load_all` of one module: read, map the artifact, link, and the two
//!   lifecycle calls `version` and `on-load`);
//! - resident memory per live instance (hold many instances at once).
//!
//! Usage: `plugin-micro --component noop.wasm [--calls 20000]`; prints JSON.
//! bench/plugins.sh runs it; see docs/development/benchmarks.md.

#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::json;
use trellis_plugin::{Callback, PluginEvent};

struct Options {
    component: String,
    calls: usize,
    loads: usize,
    instances: usize,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { component: String::new(), calls: 20_000, loads: 200, instances: 500 };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().with_context(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--component" => options.component = value,
            "--calls" => options.calls = value.parse()?,
            "--loads" => options.loads = value.parse()?,
            "--instances" => options.instances = value.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    anyhow::ensure!(!options.component.is_empty(), "--component is required");
    Ok(options)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1e6
}

fn summary(mut samples: Vec<Duration>) -> serde_json::Value {
    samples.sort();
    let mean = samples.iter().map(Duration::as_secs_f64).sum::<f64>() / samples.len() as f64 * 1e6;
    json!({
        "n": samples.len(),
        "p50_us": percentile(&samples, 0.5),
        "p90_us": percentile(&samples, 0.9),
        "p99_us": percentile(&samples, 0.99),
        "mean_us": mean,
    })
}

async fn start(dir: &std::path::Path, modules: &str) -> anyhow::Result<trellis::server::RunningServer> {
    let yaml = format!(
        "server_name: localhost\n\
         listeners: [{{port: 0, bind_addresses: [\"127.0.0.1\"], type: http, resources: [{{names: [client]}}]}}]\n\
         database: {{name: sqlite3, args: {{database: \"{db}\"}}}}\n\
         log_level: warn\n\
         plugin_runtime: {{cache_dir: \"{cache}\", pool_instances: 1200}}\n\
         {modules}",
        db = dir.join("bench.db").display(),
        cache = dir.join("cache").display(),
    );
    let config = trellis::config::parse(&yaml)?.config;
    config.validate()?;
    trellis::start(config).await
}

async fn time_hook(
    services: &trellis::service::Services,
    event: &PluginEvent,
    calls: usize,
) -> anyhow::Result<Vec<Duration>> {
    for _ in 0..1000.min(calls) {
        services.plugins.check_event_for_spam(event).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        services.plugins.check_event_for_spam(event).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
        samples.push(started.elapsed());
    }
    Ok(samples)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    trellis::logging::init("warn");
    let dir = tempfile::tempdir()?;
    let event = PluginEvent {
        event_id: String::new(),
        room_id: "!bench:localhost".into(),
        sender: "@bench:localhost".into(),
        event_type: "m.room.message".into(),
        state_key: None,
        content: json!({"msgtype": "m.text", "body": "a message of ordinary length for the benchmark"}),
        origin_server_ts: 1_700_000_000_000,
        unsigned: json!({}),
    };

    // The same hook with no plugin: what the send path pays today.
    let bare = start(dir.path(), "").await?;
    let without = summary(time_hook(&bare.services, &event, options.calls).await?);
    bare.shutdown().await;

    let modules =
        format!("modules: [{{module: \"{}\", name: noop, limits: {{max_concurrency: 1100}}}}]\n", options.component);
    let server = start(dir.path(), &modules).await?;
    let services = server.services.clone();
    let with = summary(time_hook(&services, &event, options.calls).await?);

    // Loads from the cache (the first start above compiled and stored it).
    let mut loads = Vec::with_capacity(options.loads);
    for _ in 0..options.loads {
        let started = Instant::now();
        let report = services.reload_plugins().await?;
        loads.push(started.elapsed());
        anyhow::ensure!(report.from_cache == 1, "the component did not come from the cache");
    }
    let loads = summary(loads);

    // Resident memory per live instance.
    let plugin = services.plugins.by_name("noop").context("noop is loaded")?;
    let before = rss_bytes();
    let mut live = Vec::with_capacity(options.instances);
    for _ in 0..options.instances {
        live.push(plugin.begin(Callback::OnLoad).await.map_err(|fault| anyhow::anyhow!("{fault}"))?);
    }
    let after = rss_bytes();
    drop(live);
    let per_instance_kib = (after.saturating_sub(before)) as f64 / options.instances as f64 / 1024.0;

    println!(
        "{}",
        serde_json::to_string_pretty(&json!({
            "hook_without_plugins": without,
            "hook_with_noop_plugin": with,
            "added_per_event_p50_us": with["p50_us"].as_f64().unwrap_or(0.0) - without["p50_us"].as_f64().unwrap_or(0.0),
            "cached_load": loads,
            "live_instances": options.instances,
            "rss_per_instance_kib": per_instance_kib,
            "component_bytes": std::fs::metadata(&options.component)?.len(),
        }))?
    );
    server.shutdown().await;
    Ok(())
}
