//! HTTP plumbing shared by every handler: the JSON body extractor, the
//! access-token extractors, client addresses, and the middleware that gives
//! each request an id, a tracing span, metrics and CORS headers.

pub mod auth;
pub mod json;
pub mod middleware;

pub use auth::{AdminUser, AnyUser, User};
pub use json::{MatrixJson, OptionalJson};

/// The router's state: the shared services.
pub type AppState = std::sync::Arc<crate::service::Services>;

/// Per-listener facts that handlers need, inserted as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct ListenerInfo {
    /// Whether to trust `X-Forwarded-For`.
    pub x_forwarded: bool,
}
