//! The client-server API (`/_matrix/client/…`).

pub use register::session_response;

mod account;
mod account_data;
mod capabilities;
mod devices;
mod login;
mod profile;
pub(crate) mod register;
mod versions;

use axum::Router;
use axum::routing::{get, post};

use crate::http::AppState;

/// Mounts `route` under both `/_matrix/client/v3` and the legacy
/// `/_matrix/client/r0`, which older clients still call.
fn both(router: Router<AppState>, path: &str, route: axum::routing::MethodRouter<AppState>) -> Router<AppState> {
    router.route(&format!("/_matrix/client/v3{path}"), route.clone()).route(&format!("/_matrix/client/r0{path}"), route)
}

/// Every client-server route.
pub fn routes() -> Router<AppState> {
    let mut router = Router::new()
        .route("/_matrix/client/versions", get(versions::versions))
        .route("/.well-known/matrix/client", get(versions::well_known))
        .route("/_matrix/client/v1/register/m.login.registration_token/validity", get(register::token_validity));
    let routes: Vec<(&str, axum::routing::MethodRouter<AppState>)> = vec![
        ("/register", post(register::register)),
        ("/register/available", get(register::available)),
        ("/login", get(login::flows).post(login::login)),
        ("/refresh", post(login::refresh)),
        ("/logout", post(login::logout)),
        ("/logout/all", post(login::logout_all)),
        ("/account/whoami", get(account::whoami)),
        ("/account/password", post(account::change_password)),
        ("/account/deactivate", post(account::deactivate)),
        ("/capabilities", get(capabilities::capabilities)),
        ("/devices", get(devices::list)),
        ("/devices/{device_id}", get(devices::get).put(devices::rename).delete(devices::delete)),
        ("/delete_devices", post(devices::delete_many)),
        ("/profile/{user_id}", get(profile::get_profile)),
        ("/profile/{user_id}/{field}", get(profile::get_field).put(profile::set_field).delete(profile::delete_field)),
        ("/user/{user_id}/account_data/{data_type}", get(account_data::get).put(account_data::put)),
    ];
    for (path, route) in routes {
        router = both(router, path, route);
    }
    router
}
