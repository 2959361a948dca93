//! The side-by-side table of the room benchmark: reads the
//! `<config>-rooms.json` files `bench/rooms.sh` collects in one folder and
//! prints a Markdown table, one column per configuration, each value with
//! its ratio to the baseline (Synapse), and the targets from the issue.
//!
//! Ratios always read "times better than the baseline": Trellis/Synapse for
//! throughput, Synapse/Trellis for latencies, CPU and memory.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::rooms::RoomsResult;

#[derive(Debug, Args)]
pub struct RoomsReportArgs {
    /// Folder with the JSON results.
    #[arg(long)]
    dir: PathBuf,
    /// Configurations to show, baseline first.
    #[arg(long, value_delimiter = ',', default_value = "synapse,trellis-sqlite,trellis-postgres,trellis-sqlite-full")]
    configs: Vec<String>,
    /// Also write the table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// What a row's ratio means.
#[derive(Clone, Copy)]
enum Better {
    /// Higher is better (throughput): subject / baseline.
    Higher,
    /// Lower is better (latency, CPU, memory): baseline / subject.
    Lower,
    /// No ratio.
    None,
}

/// A target, checked for every non-baseline column.
#[derive(Clone, Copy)]
enum Target {
    /// The ratio to the baseline must be at least this.
    Ratio(f64, &'static str),
    /// The value must be below this.
    Below(f64, &'static str),
    /// No target.
    None,
}

/// Reads one number out of a result.
type Getter = Box<dyn Fn(&RoomsResult) -> Option<f64>>;

struct Row {
    label: String,
    get: Getter,
    show: fn(f64) -> String,
    better: Better,
    target: Target,
}

fn ms(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0} ms")
    } else if v.abs() >= 10.0 {
        format!("{v:.1} ms")
    } else {
        format!("{v:.2} ms")
    }
}

fn rate(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0}/s") } else { format!("{v:.1}/s") }
}

fn cpu_ms(v: f64) -> String {
    if v >= 1.0 { format!("{v:.2} ms") } else { format!("{:.0} µs", v * 1e3) }
}

fn percent(v: f64) -> String {
    format!("{v:.0} %")
}

fn kib(v: f64) -> String {
    format!("{:.1} KiB", v / 1024.0)
}

fn mib(v: f64) -> String {
    format!("{:.1} MiB", v / (1024.0 * 1024.0))
}

fn count(v: f64) -> String {
    format!("{v:.0}")
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
fn rows(senders: usize, single: usize, rooms: usize) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut add = |label: String, get: Getter, show: fn(f64) -> String, better: Better, target: Target| {
        rows.push(Row { label, get, show, better, target });
    };
    add(
        format!("Send, 1 sender ({single} messages): messages/s"),
        Box::new(|r| r.single.as_ref().map(|s| s.messages_per_s)),
        rate,
        Better::Higher,
        Target::None,
    );
    add(
        "Send, 1 sender: p50 latency".into(),
        Box::new(|r| r.single.as_ref().map(|s| s.latency.p50_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        "Send, 1 sender: p99 latency".into(),
        Box::new(|r| r.single.as_ref().map(|s| s.latency.p99_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        "Send, 1 sender: server CPU per message".into(),
        Box::new(|r| r.single.as_ref().map(|s| s.server_cpu_ms_per_message)),
        cpu_ms,
        Better::Lower,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: messages/s"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.messages_per_s)),
        rate,
        Better::Higher,
        Target::Ratio(30.0, ">= 30x"),
    );
    add(
        format!("Send, {senders} senders: p50 latency"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.latency.p50_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: p99 latency"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.latency.p99_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: server CPU per message"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.server_cpu_ms_per_message)),
        cpu_ms,
        Better::Lower,
        Target::Ratio(30.0, "<= 1/30"),
    );
    add(
        format!("Send, {senders} senders: bytes written per message"),
        Box::new(|r| {
            r.concurrent.as_ref().filter(|s| s.bytes_written_per_message > 0.0).map(|s| s.bytes_written_per_message)
        }),
        kib,
        Better::Lower,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: of which PostgreSQL backends"),
        Box::new(|r| r.concurrent.as_ref().filter(|s| s.db_cpu_s > 0.0).map(|s| s.db_cpu_s * 1e3 / s.messages as f64)),
        cpu_ms,
        Better::None,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: server CPU use"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.server_cpu_s / s.wall_s * 100.0)),
        percent,
        Better::None,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: load generator CPU"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.client_cpu_s / s.wall_s * 100.0)),
        percent,
        Better::None,
        Target::None,
    );
    add(
        format!("Send, {senders} senders: other processes' CPU meanwhile"),
        Box::new(|r| r.concurrent.as_ref().map(|s| s.other_cpu_s / s.wall_s * 100.0)),
        percent,
        Better::None,
        Target::None,
    );
    add(
        "Sync wake-up, from send start: p50".into(),
        Box::new(|r| r.wakeup.as_ref().map(|w| w.from_send_start.p50_ms)),
        ms,
        Better::Lower,
        Target::Below(2.0, "< 2 ms"),
    );
    add(
        "Sync wake-up, from send start: p99".into(),
        Box::new(|r| r.wakeup.as_ref().map(|w| w.from_send_start.p99_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        "Sync wake-up, after the send's answer: p50".into(),
        Box::new(|r| r.wakeup.as_ref().map(|w| w.from_send_answer.p50_ms)),
        ms,
        Better::None,
        Target::Below(2.0, "< 2 ms"),
    );
    add(
        "Sync wake-up, after the send's answer: p99".into(),
        Box::new(|r| r.wakeup.as_ref().map(|w| w.from_send_answer.p99_ms)),
        ms,
        Better::None,
        Target::None,
    );
    add(
        "Sync wake-up: the send's own p50 latency".into(),
        Box::new(|r| r.wakeup.as_ref().map(|w| w.send.p50_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        format!("Initial sync, {rooms} rooms: median"),
        Box::new(|r| r.initial_sync.as_ref().map(|i| i.latency.p50_ms)),
        ms,
        Better::Lower,
        Target::Ratio(15.0, ">= 15x"),
    );
    add(
        "Initial sync: answer size (bytes)".into(),
        Box::new(|r| r.initial_sync.as_ref().map(|i| i.response_bytes as f64)),
        count,
        Better::None,
        Target::None,
    );
    add(
        "/messages, 50 per page: median per page".into(),
        Box::new(|r| r.messages.as_ref().map(|m| m.latency.p50_ms)),
        ms,
        Better::Lower,
        Target::Ratio(20.0, ">= 20x"),
    );
    add(
        "/messages: p99 per page".into(),
        Box::new(|r| r.messages.as_ref().map(|m| m.latency.p99_ms)),
        ms,
        Better::Lower,
        Target::None,
    );
    add(
        "RSS right after the run".into(),
        Box::new(|r| Some(r.rss_after.rss_bytes as f64)),
        mib,
        Better::Lower,
        Target::Below(50e6, "< 50 MB"),
    );
    add("RSS after 2 s idle".into(), Box::new(|r| Some(r.rss_idle.rss_bytes as f64)), mib, Better::Lower, Target::None);
    add("Peak RSS (VmHWM)".into(), Box::new(|r| Some(r.rss_after.hwm_bytes as f64)), mib, Better::Lower, Target::None);
    add("Threads".into(), Box::new(|r| Some(r.rss_after.threads as f64)), count, Better::None, Target::None);
    rows
}

pub fn run(args: &RoomsReportArgs) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for config in &args.configs {
        let path = args.dir.join(format!("{config}-rooms.json"));
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let result: RoomsResult =
                    serde_json::from_str(&text).with_context(|| format!("cannot parse {}", path.display()))?;
                results.push((config.clone(), Some(result)));
            }
            Err(_) => {
                eprintln!("no result for {config} ({} missing)", path.display());
                results.push((config.clone(), None));
            }
        }
    }
    let first = results.iter().find_map(|(_, r)| r.as_ref());
    let senders = first.and_then(|r| r.concurrent.as_ref()).map_or(10, |s| s.senders);
    let single = first.and_then(|r| r.single.as_ref()).map_or(0, |s| s.messages);
    let rooms = first.and_then(|r| r.initial_sync.as_ref()).map_or(50, |i| i.rooms);
    let baseline = results.first().and_then(|(_, r)| r.as_ref());

    let mut out = String::from("| Measurement |");
    for (config, _) in &results {
        out.push_str(&format!(" {config} |"));
    }
    out.push_str(" Target (for each Trellis column) |\n|---|");
    for _ in &results {
        out.push_str("---:|");
    }
    out.push_str("---|\n");
    out.push_str("| Durability |");
    for (_, r) in &results {
        out.push_str(&format!(" {} |", r.as_ref().map_or("-", |r| r.durability.as_str())));
    }
    out.push_str(" |\n| Load average at start, at end |");
    for (_, r) in &results {
        out.push_str(&format!(" {} |", r.as_ref().map_or("-".to_owned(), |r| r.loadavg.join(" / "))));
    }
    out.push_str(" |\n");

    for row in rows(senders, single, rooms) {
        out.push_str(&format!("| {} |", row.label));
        let base = baseline.and_then(|b| (row.get)(b));
        let mut verdicts = Vec::new();
        for (i, (config, r)) in results.iter().enumerate() {
            let value = r.as_ref().and_then(|r| (row.get)(r));
            let Some(value) = value else {
                out.push_str(" - |");
                continue;
            };
            let ratio = match (i, base, row.better) {
                (0, _, _) | (_, None, _) | (_, _, Better::None) => None,
                (_, Some(b), Better::Higher) => Some(value / b),
                (_, Some(b), Better::Lower) => Some(b / value),
            }
            .filter(|x| x.is_finite() && *x > 0.0);
            match ratio {
                Some(x) => out.push_str(&format!(" {} ({x:.1}x) |", (row.show)(value))),
                None => out.push_str(&format!(" {} |", (row.show)(value))),
            }
            if i > 0 {
                let met = match row.target {
                    Target::Ratio(min, _) => ratio.map(|x| x >= min),
                    Target::Below(max, _) => Some(value < max),
                    Target::None => None,
                };
                if let Some(met) = met {
                    verdicts.push(format!("{config}: {}", verdict(met)));
                }
            }
        }
        let target = match row.target {
            Target::Ratio(_, text) | Target::Below(_, text) if verdicts.is_empty() => text.to_owned(),
            Target::Ratio(_, text) | Target::Below(_, text) => format!("{text}: {}", verdicts.join(", ")),
            Target::None => String::new(),
        };
        out.push_str(&format!(" {target} |\n"));
    }
    print!("{out}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &out).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
