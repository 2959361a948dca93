//! Endpoints outside the Matrix APIs: health and Prometheus metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::http::AppState;

/// `GET /health`: 200 while the server is up (for load balancers).
pub async fn health() -> &'static str {
    "OK"
}

/// `GET /_synapse/metrics` and `/metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], {
        let mut text = state.metrics.render(&state.storage);
        crate::metrics::append_plugin_metrics(&mut text, &state.plugins.snapshot());
        text
    })
}
