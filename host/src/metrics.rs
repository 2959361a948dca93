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
