//! The side-by-side table: reads the JSON results `bench/run.sh` collects in
//! one folder (`<server>-<measurement>.json`) and prints a Markdown table
//! with ratios and the targets from the issue.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use serde::de::DeserializeOwned;

use crate::whoami::WhoamiResult;
use crate::{RssResult, StartupResult, mib};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Folder with the JSON results.
    #[arg(long)]
    dir: PathBuf,
    /// Server the ratios are relative to.
    #[arg(long, default_value = "synapse")]
    baseline: String,
    /// Server measured against the targets.
    #[arg(long, default_value = "trellis")]
    subject: String,
    /// whoami concurrency levels measured.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Password logins made before the last RSS reading.
    #[arg(long, default_value_t = 10)]
    logins: usize,
    /// Also write the table to this file.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// Start-up target: under 50 ms.
const STARTUP_TARGET_S: f64 = 0.050;
/// Idle RSS target: under 20 MB (decimal megabytes).
const RSS_TARGET_BYTES: u64 = 20_000_000;
/// Throughput target: at least 10x the baseline.
const THROUGHPUT_TARGET_RATIO: f64 = 10.0;

fn load<T: DeserializeOwned>(dir: &Path, server: &str, what: &str) -> Option<T> {
    let path = dir.join(format!("{server}-{what}.json"));
    let text = std::fs::read_to_string(&path).ok()?;
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(err) => {
            eprintln!("ignoring {}: {err}", path.display());
            None
        }
    }
}

fn fmt_ms(seconds: f64) -> String {
    let ms = seconds * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else if ms >= 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.2} ms")
    }
}

fn fmt_latency(ms: f64) -> String {
    if ms >= 10.0 { format!("{ms:.1} ms") } else { format!("{ms:.3} ms") }
}

/// `value` is how many times better the subject is; below 1 it is said the
/// other way round ("0.9x less" reads as "1.1x more").
fn ratio(value: f64, word: &str) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "-".to_owned();
    }
    if value >= 1.0 {
        return format!("{value:.1}x {word}");
    }
    let opposite = match word {
        "faster" => "slower",
        "less" => "more",
        "more" => "less",
        "lower" => "higher",
        other => other,
    };
    format!("{:.1}x {opposite}", 1.0 / value)
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

struct Table {
    baseline: String,
    subject: String,
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(&mut self, label: &str, base: Option<String>, subj: Option<String>, ratio: Option<String>, target: &str) {
        let dash = || "-".to_owned();
        self.rows.push([
            label.to_owned(),
            base.unwrap_or_else(dash),
            subj.unwrap_or_else(dash),
            ratio.unwrap_or_else(dash),
            target.to_owned(),
        ]);
    }

    fn render(&self) -> String {
        let mut out = format!(
            "| Measurement | {} | {} | {} vs {} | {} target |\n|---|---:|---:|---:|---|\n",
            self.baseline, self.subject, self.subject, self.baseline, self.subject
        );
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        out
    }
}

fn pair<T, R>(base: Option<&T>, subj: Option<&T>, f: impl Fn(&T, &T) -> R) -> Option<R> {
    Some(f(base?, subj?))
}

pub fn run(args: &ReportArgs) -> anyhow::Result<()> {
    let (b, s) = (args.baseline.as_str(), args.subject.as_str());
    let mut table = Table { baseline: b.to_owned(), subject: s.to_owned(), rows: Vec::new() };

    let first: [Option<StartupResult>; 2] = [load(&args.dir, b, "first-start"), load(&args.dir, s, "first-start")];
    table.row(
        "First start, empty database",
        first[0].as_ref().map(|r| fmt_ms(r.median_s)),
        first[1].as_ref().map(|r| fmt_ms(r.median_s)),
        pair(first[0].as_ref(), first[1].as_ref(), |x, y| ratio(x.median_s / y.median_s, "faster")),
        "",
    );

    let start: [Option<StartupResult>; 2] = [load(&args.dir, b, "startup"), load(&args.dir, s, "startup")];
    let describe = |r: &StartupResult| {
        format!("{} (min {}, max {}, n={})", fmt_ms(r.median_s), fmt_ms(r.min_s), fmt_ms(r.max_s), r.runs_s.len())
    };
    table.row(
        "Start-up to first /versions, existing database (median)",
        start[0].as_ref().map(describe),
        start[1].as_ref().map(describe),
        pair(start[0].as_ref(), start[1].as_ref(), |x, y| ratio(x.median_s / y.median_s, "faster")),
        &start[1].as_ref().map(|r| format!("< 50 ms: {}", verdict(r.median_s < STARTUP_TARGET_S))).unwrap_or_default(),
    );
    let shutdown_median = |r: &StartupResult| {
        let mut sorted = r.shutdown_s.clone();
        sorted.sort_by(f64::total_cmp);
        crate::median(&sorted)
    };
    table.row(
        "Shut-down after SIGTERM (median)",
        start[0].as_ref().map(|r| fmt_ms(shutdown_median(r))),
        start[1].as_ref().map(|r| fmt_ms(shutdown_median(r))),
        None,
        "",
    );

    let rss_rows = [
        ("rss-start", "Idle RSS after start, before any request".to_owned(), true),
        ("rss-idle", "Idle RSS after registering and one login".to_owned(), true),
        ("rss-after", "RSS after the whoami runs".to_owned(), false),
        ("rss-logins", format!("RSS after {} more password logins", args.logins), false),
    ];
    for (what, label, with_target) in rss_rows {
        let r: [Option<RssResult>; 2] = [load(&args.dir, b, what), load(&args.dir, s, what)];
        #[allow(clippy::cast_precision_loss)]
        let target = r[1]
            .as_ref()
            .filter(|_| with_target)
            .map(|r| {
                format!("< 20 MB ({:.1} MB): {}", r.rss_bytes as f64 / 1e6, verdict(r.rss_bytes < RSS_TARGET_BYTES))
            })
            .unwrap_or_default();
        let show = |r: &RssResult| {
            if with_target {
                format!("{:.1} MiB", mib(r.rss_bytes))
            } else {
                format!("{:.1} MiB (peak {:.1})", mib(r.rss_bytes), mib(r.hwm_bytes))
            }
        };
        #[allow(clippy::cast_precision_loss)]
        table.row(
            &label,
            r[0].as_ref().map(show),
            r[1].as_ref().map(show),
            pair(r[0].as_ref(), r[1].as_ref(), |x, y| ratio(x.rss_bytes as f64 / y.rss_bytes as f64, "less")),
            &target,
        );
    }
    let idle: [Option<RssResult>; 2] = [load(&args.dir, b, "rss-idle"), load(&args.dir, s, "rss-idle")];
    table.row(
        "Threads",
        idle[0].as_ref().map(|r| r.threads.to_string()),
        idle[1].as_ref().map(|r| r.threads.to_string()),
        None,
        "",
    );

    for &c in &args.concurrency {
        let what = format!("whoami-c{c}");
        let w: [Option<WhoamiResult>; 2] = [load(&args.dir, b, &what), load(&args.dir, s, &what)];
        let (wb, ws) = (w[0].as_ref(), w[1].as_ref());
        table.row(
            &format!("whoami, {c} client(s): requests/s"),
            wb.map(|r| format!("{:.0}", r.requests_per_s)),
            ws.map(|r| format!("{:.0}", r.requests_per_s)),
            pair(wb, ws, |x, y| ratio(y.requests_per_s / x.requests_per_s, "more")),
            &pair(wb, ws, |x, y| {
                format!(">= 10x: {}", verdict(y.requests_per_s >= THROUGHPUT_TARGET_RATIO * x.requests_per_s))
            })
            .unwrap_or_default(),
        );
        for (label, get) in
            [("p50", (|r: &WhoamiResult| r.p50_ms) as fn(&WhoamiResult) -> f64), ("p99", |r: &WhoamiResult| r.p99_ms)]
        {
            table.row(
                &format!("whoami, {c} client(s): {label} latency"),
                wb.map(|r| fmt_latency(get(r))),
                ws.map(|r| fmt_latency(get(r))),
                pair(wb, ws, |x, y| ratio(get(x) / get(y), "lower")),
                "",
            );
        }
        let cpu = |r: &WhoamiResult| r.server_cpu_us_per_request.map(|us| format!("{us:.0} us"));
        table.row(
            &format!("whoami, {c} client(s): server CPU per request"),
            wb.and_then(cpu),
            ws.and_then(cpu),
            pair(wb, ws, |x, y| Some(ratio(x.server_cpu_us_per_request? / y.server_cpu_us_per_request?, "less")))
                .flatten(),
            "",
        );
        let generator = |r: &WhoamiResult| format!("{:.0}% of a core", r.client_cpu_s / r.duration_s * 100.0);
        table.row(
            &format!("whoami, {c} client(s): load generator CPU"),
            wb.map(generator),
            ws.map(generator),
            None,
            "",
        );
        for r in [wb, ws].into_iter().flatten() {
            if r.errors > 0 {
                eprintln!("warning: {what} had {} failed requests", r.errors);
            }
        }
    }

    let text = table.render();
    print!("{text}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
