//! Directory, search, room summary, hierarchy and mutual rooms endpoints.

use axum::Router;

use crate::http::AppState;

/// The discovery routes (merged into the client API).
pub fn routes() -> Router<AppState> {
    Router::new()
}
