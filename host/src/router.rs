//! The axum router: every route, and the layers every request goes through.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;

use crate::api;
use crate::config::ListenerConfig;
use crate::http::middleware::{cors, observe, panic_response, unknown_endpoint, wrong_method};
use crate::http::{AppState, ListenerInfo};

/// Builds the router for one listener, serving the resources it names.
pub fn build(state: &AppState, listener: &ListenerConfig) -> Router {
    let metrics_only = listener.kind == crate::config::ListenerType::Metrics;
    let mut router: Router<AppState> = Router::new();
    if !metrics_only && listener.serves("client") {
        router = router.merge(api::client::routes()).merge(api::admin::routes());
    }
    if metrics_only || listener.serves("metrics") {
        router = router.route("/_synapse/metrics", get(api::misc::metrics)).route("/metrics", get(api::misc::metrics));
    }
    // Health is cheap and harmless: every HTTP listener answers it.
    router = router.route("/health", get(api::misc::health));
    router
        .fallback(unknown_endpoint)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(state.clone(), api::plugins::plugin_routes))
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.config.max_request_body_size))
        .layer(axum::Extension(ListenerInfo { x_forwarded: listener.x_forwarded }))
        .layer(cors())
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(state.clone())
}
