//! Middleware around every request: a request id and tracing span, an
//! access-log line, metrics, CORS, panic catching, and the Matrix answers
//! for unknown endpoints and wrong methods.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::cors::{AllowHeaders, AllowMethods, AllowOrigin, CorsLayer};
use tracing::Instrument as _;

use super::AppState;
use crate::error::{ErrCode, Error};

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Gives the request an id and a span, logs it when answered, and records
/// metrics under its route template (so that ids in paths do not explode
/// the number of series).
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    let method = request.method().clone();
    let endpoint =
        request.extensions().get::<MatchedPath>().map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %format_args!("{method}-{id}"), user = tracing::field::Empty);
    let response = next.run(request).instrument(span.clone()).await;
    let elapsed = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    let elapsed_ms = elapsed * 1000.0;
    span.in_scope(|| {
        tracing::info!(target: "trellis::access", status, elapsed_ms = format_args!("{elapsed_ms:.3}"), "{method} {path}");
    });
    state.metrics.observe_request(method.as_str(), &endpoint, status, elapsed);
    response
}

/// The CORS headers the client-server spec asks for.
pub fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::any())
        .allow_methods(AllowMethods::list([Method::GET, Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS]))
        .allow_headers(AllowHeaders::list([
            header::HeaderName::from_static("x-requested-with"),
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
        ]))
}

/// 404 `M_UNRECOGNIZED` for paths no route knows.
pub async fn unknown_endpoint() -> Error {
    Error::new(ErrCode::Unrecognized, "Unrecognized request")
}

/// 405 `M_UNRECOGNIZED` for a known path with the wrong method.
pub async fn wrong_method() -> Error {
    Error::with_status(axum::http::StatusCode::METHOD_NOT_ALLOWED, ErrCode::Unrecognized, "Unrecognized request")
}

/// Turns a panic in a handler into a bare 500 `M_UNKNOWN` (the panic
/// message goes to the log, never to the client). The signature is the
/// one `CatchPanicLayer` requires.
#[allow(clippy::needless_pass_by_value)]
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(%message, "handler panicked");
    let mut response = Error::internal("panic").into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
