//! Per-plugin counters for the admin API and Prometheus.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency buckets in microseconds (upper bounds); the last is +Inf.
pub const LATENCY_BUCKETS_US: [u64; 10] = [10, 25, 50, 100, 250, 1_000, 5_000, 25_000, 100_000, u64::MAX];

/// Counters of one plugin. Lock-free except the fault label map.
#[derive(Default)]
pub struct PluginStats {
    calls: AtomicU64,
    total_us: AtomicU64,
    buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    faults: Mutex<Vec<(&'static str, u64)>>,
    last_fault: Mutex<Option<String>>,
}

impl PluginStats {
    /// Counts a finished call.
    pub fn record_call(&self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.total_us.fetch_add(micros, Ordering::Relaxed);
        let bucket =
            LATENCY_BUCKETS_US.iter().position(|bound| micros <= *bound).unwrap_or(LATENCY_BUCKETS_US.len() - 1);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a fault of the given kind.
    pub fn record_fault(&self, kind: &'static str, message: String) {
        let mut faults = self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match faults.iter_mut().find(|(known, _)| *known == kind) {
            Some((_, count)) => *count += 1,
            None => faults.push((kind, 1)),
        }
        *self.last_fault.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(message);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            calls: self.calls.load(Ordering::Relaxed),
            total_us: self.total_us.load(Ordering::Relaxed),
            latency_buckets: self.buckets.iter().map(|bucket| bucket.load(Ordering::Relaxed)).collect(),
            faults: self.faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
            last_fault: self.last_fault.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone(),
        }
    }
}

/// Counters at one moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatsSnapshot {
    /// Calls made, including faulted ones.
    pub calls: u64,
    /// Sum of call durations.
    pub total_us: u64,
    /// Non-cumulative counts per `LATENCY_BUCKETS_US` bucket.
    pub latency_buckets: Vec<u64>,
    /// Faults by kind.
    pub faults: Vec<(&'static str, u64)>,
    /// The most recent fault's message.
    pub last_fault: Option<String>,
}

/// What the admin API shows about one plugin.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PluginSnapshot {
    /// Configured name.
    pub name: String,
    /// Version the plugin reports.
    pub version: Option<String>,
    /// Where it was loaded from.
    pub source: String,
    /// `module` or `msc_feature`.
    pub kind: &'static str,
    /// The WIT version it was built against.
    pub wit_version: &'static str,
    /// What it imports.
    pub imports: Vec<String>,
    /// The role interfaces it exports.
    pub exports: Vec<String>,
    /// What the admin granted.
    pub capabilities: serde_json::Value,
    /// `fail_closed` or `fail_open`.
    pub failure_policy: &'static str,
    /// Whether repeated faults disabled it.
    pub disabled: bool,
    /// Counters.
    pub stats: StatsSnapshot,
}
