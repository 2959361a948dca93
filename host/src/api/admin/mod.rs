//! Synapse-compatible admin API (`/_synapse/admin/…`), so that Synapse's
//! tools and admin scripts work against Trellis.

mod register;
mod registration_tokens;

use axum::Router;
use axum::routing::get;

use crate::http::AppState;

/// Every admin route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_synapse/admin/v1/register", get(register::nonce).post(register::register))
        .route("/_synapse/admin/v1/registration_tokens", get(registration_tokens::list))
        .route("/_synapse/admin/v1/registration_tokens/new", axum::routing::post(registration_tokens::create))
        .route(
            "/_synapse/admin/v1/registration_tokens/{token}",
            get(registration_tokens::get).put(registration_tokens::update).delete(registration_tokens::delete),
        )
        .route("/_trellis/admin/v1/plugins", get(super::plugins::list))
        .route("/_trellis/admin/v1/plugins/reload", axum::routing::post(super::plugins::reload))
}
