//! The client-server API (`/_matrix/client/…`).

pub use register::session_response;

mod account;
mod account_data;
mod capabilities;
mod context;
mod devices;
mod directory;
mod discovery;
mod ephemeral;
mod events;
mod login;
mod profile;
mod pushrules;
pub(crate) mod register;
mod relations;
mod rooms;
pub(crate) mod sso;
mod sync;
mod upgrade;
mod versions;

use axum::Router;
use axum::routing::{get, post, put};

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
        .route("/_matrix/client/v1/register/m.login.registration_token/validity", get(register::token_validity))
        .route("/_matrix/client/v1/login/get_token", post(login::get_token))
        .route("/_synapse/client/pick_username/account_details", get(sso::picker_form).post(sso::picker_submit))
        .route("/_synapse/client/pick_username/check", get(sso::picker_check))
        .route("/_matrix/client/v1/rooms/{room_id}/relations/{event_id}", get(relations::relations))
        .route("/_matrix/client/v1/rooms/{room_id}/relations/{event_id}/{rel_type}", get(relations::relations))
        .route(
            "/_matrix/client/v1/rooms/{room_id}/relations/{event_id}/{rel_type}/{event_type}",
            get(relations::relations),
        )
        .route("/_matrix/client/v1/rooms/{room_id}/threads", get(relations::threads))
        .route("/_matrix/client/v1/rooms/{room_id}/timestamp_to_event", get(context::timestamp_to_event));
    let routes: Vec<(&str, axum::routing::MethodRouter<AppState>)> = vec![
        ("/register", post(register::register)),
        ("/register/available", get(register::available)),
        ("/login", get(login::flows).post(login::login)),
        ("/login/sso/redirect", get(sso::redirect)),
        ("/login/sso/redirect/{idp_id}", get(sso::redirect_to)),
        ("/login/cas/redirect", get(sso::cas_redirect)),
        ("/auth/{kind}/fallback/web", get(sso::uia_fallback)),
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
        ("/createRoom", post(rooms::create_room)),
        ("/join/{room}", post(rooms::join)),
        ("/knock/{room}", post(rooms::knock)),
        ("/rooms/{room_id}/join", post(rooms::join_by_id)),
        ("/rooms/{room_id}/leave", post(rooms::leave)),
        ("/rooms/{room_id}/forget", post(rooms::forget)),
        ("/rooms/{room_id}/invite", post(rooms::invite)),
        ("/rooms/{room_id}/kick", post(rooms::kick)),
        ("/rooms/{room_id}/ban", post(rooms::ban)),
        ("/rooms/{room_id}/unban", post(rooms::unban)),
        ("/joined_rooms", get(rooms::joined_rooms)),
        ("/rooms/{room_id}/joined_members", get(rooms::joined_members)),
        ("/rooms/{room_id}/members", get(rooms::members)),
        ("/rooms/{room_id}/send/{event_type}/{txn_id}", put(events::send)),
        ("/rooms/{room_id}/state", get(events::get_state)),
        ("/rooms/{room_id}/state/{event_type}", get(events::get_state_event).put(events::put_state)),
        // An empty state key leaves a trailing slash, which clients send.
        ("/rooms/{room_id}/state/{event_type}/", get(events::get_state_event).put(events::put_state)),
        ("/rooms/{room_id}/state/{event_type}/{state_key}", get(events::get_state_event).put(events::put_state)),
        ("/rooms/{room_id}/redact/{event_id}/{txn_id}", put(events::redact)),
        ("/rooms/{room_id}/event/{event_id}", get(events::get_event)),
        ("/rooms/{room_id}/messages", get(events::messages)),
        ("/rooms/{room_id}/aliases", get(directory::room_aliases)),
        (
            "/directory/room/{alias}",
            get(directory::get_alias).put(directory::put_alias).delete(directory::delete_alias),
        ),
        ("/sync", get(sync::sync)),
        ("/rooms/{room_id}/context/{event_id}", get(context::context)),
        ("/rooms/{room_id}/upgrade", post(upgrade::upgrade)),
        ("/rooms/{room_id}/report", post(upgrade::report_room)),
        ("/rooms/{room_id}/report/{event_id}", post(upgrade::report_event)),
        ("/pushrules/", get(pushrules::all)),
        ("/pushrules/global/", get(pushrules::global)),
        (
            "/pushrules/{scope}/{kind}/{rule_id}",
            get(pushrules::get_rule).put(pushrules::put_rule).delete(pushrules::delete_rule),
        ),
        (
            "/pushrules/{scope}/{kind}/{rule_id}/{attribute}",
            get(pushrules::get_attribute).put(pushrules::put_attribute),
        ),
        ("/rooms/{room_id}/typing/{user_id}", put(ephemeral::typing)),
        ("/rooms/{room_id}/receipt/{receipt_type}/{event_id}", post(ephemeral::receipt)),
        ("/rooms/{room_id}/read_markers", post(ephemeral::read_markers)),
        (
            "/user/{user_id}/rooms/{room_id}/account_data/{data_type}",
            get(account_data::get_room).put(account_data::put_room),
        ),
        ("/user/{user_id}/rooms/{room_id}/tags", get(account_data::tags)),
        ("/user/{user_id}/rooms/{room_id}/tags/{tag}", put(account_data::put_tag).delete(account_data::delete_tag)),
        ("/user/{user_id}/filter", post(sync::create_filter)),
        ("/user/{user_id}/filter/{filter_id}", get(sync::get_filter)),
    ];
    for (path, route) in routes {
        router = both(router, path, route);
    }
    router.merge(discovery::routes())
}
