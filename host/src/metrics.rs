//! Prometheus metrics: request counts and latencies per endpoint, and the
//! database pools. Served by listeners with the `metrics` resource (or of
//! type `metrics`) at `/_synapse/metrics` and `/metrics`.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use trellis_storage::Storage;

/// Labels of a request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route template, e.g. `/_matrix/client/v3/devices/{device_id}`.
    pub endpoint: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of a latency series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub endpoint: String,
}

/// Labels of a pool gauge.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    /// `write` or `read`.
    pub pool: &'static str,
    /// `open` or `idle`.
    pub state: &'static str,
}

/// The metric families.
#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<EndpointLabels, Histogram>,
    pool: Family<PoolLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("trellis");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        });
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", latency.clone());
        registry.register("db_pool_connections", "Database pool connections", pool.clone());
        Self { registry: Mutex::new(registry), requests, latency, pool }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn observe_request(&self, method: &str, endpoint: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { method: method.to_owned(), endpoint: endpoint.to_owned(), status })
            .inc();
        self.latency
            .get_or_create(&EndpointLabels { method: method.to_owned(), endpoint: endpoint.to_owned() })
            .observe(seconds);
    }

    /// The text exposition, with pool gauges read now.
    pub fn render(&self, storage: &Storage) -> String {
        let (write, read) = storage.pool_stats();
        for (name, stats) in [("write", write), ("read", read)] {
            self.pool.get_or_create(&PoolLabels { pool: name, state: "open" }).set(i64::from(stats.size));
            self.pool.get_or_create(&PoolLabels { pool: name, state: "idle" }).set(i64::from(stats.idle));
        }
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(err) = encode(&mut out, &registry) {
            tracing::error!(%err, "could not encode metrics");
        }
        out
    }
}

/// Plugin counters in OpenMetrics text, inserted before the final `# EOF`
/// of the registry's output. Written by hand because plugins come and go
/// with reloads, and their counters live in the plugin runtime.
pub fn append_plugin_metrics(out: &mut String, plugins: &[trellis_plugin::PluginSnapshot]) {
    use std::fmt::Write as _;
    if plugins.is_empty() {
        return;
    }
    let eof = out.rfind("# EOF").unwrap_or(out.len());
    let mut text = String::new();
    let _ = writeln!(text, "# HELP trellis_plugin_calls Calls into each plugin.\n# TYPE trellis_plugin_calls counter");
    for plugin in plugins {
        let _ = writeln!(text, "trellis_plugin_calls_total{{plugin=\"{}\"}} {}", plugin.name, plugin.stats.calls);
    }
    let _ = writeln!(
        text,
        "# HELP trellis_plugin_call_duration_seconds Time per plugin call, instantiation included.\n\
         # TYPE trellis_plugin_call_duration_seconds histogram"
    );
    for plugin in plugins {
        let mut cumulative = 0;
        for (bound, count) in trellis_plugin::stats::LATENCY_BUCKETS_US.iter().zip(&plugin.stats.latency_buckets) {
            cumulative += count;
            let le = if *bound == u64::MAX { "+Inf".to_owned() } else { format!("{}", *bound as f64 / 1e6) };
            let _ = writeln!(
                text,
                "trellis_plugin_call_duration_seconds_bucket{{plugin=\"{}\",le=\"{le}\"}} {cumulative}",
                plugin.name
            );
        }
        let _ = writeln!(
            text,
            "trellis_plugin_call_duration_seconds_sum{{plugin=\"{}\"}} {}\ntrellis_plugin_call_duration_seconds_count{{plugin=\"{}\"}} {}",
            plugin.name,
            plugin.stats.total_us as f64 / 1e6,
            plugin.name,
            plugin.stats.calls
        );
    }
    let _ = writeln!(
        text,
        "# HELP trellis_plugin_faults Failed plugin calls by kind.\n# TYPE trellis_plugin_faults counter"
    );
    for plugin in plugins {
        for (kind, count) in &plugin.stats.faults {
            let _ = writeln!(text, "trellis_plugin_faults_total{{plugin=\"{}\",kind=\"{kind}\"}} {count}", plugin.name);
        }
    }
    let _ = writeln!(
        text,
        "# HELP trellis_plugin_disabled Whether repeated faults disabled the plugin.\n# TYPE trellis_plugin_disabled gauge"
    );
    for plugin in plugins {
        let _ = writeln!(text, "trellis_plugin_disabled{{plugin=\"{}\"}} {}", plugin.name, u8::from(plugin.disabled));
    }
    out.insert_str(eof, &text);
}
