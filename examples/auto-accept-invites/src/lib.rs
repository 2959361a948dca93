//! Accepts invites on behalf of chosen local users, like Synapse's
//! synapse-auto-accept-invite module: when one of them is invited, the
//! plugin joins the room as them straight away.

mod rules;

use rules::AcceptConfig;
use trellis_sdk::{Event, Handled, Plugin, ThirdPartyRules};

struct AutoAccept;

impl Plugin for AutoAccept {
    fn on_load() -> Result<(), String> {
        trellis_sdk::config::get::<AcceptConfig>().map(|_| ())
    }
}

impl ThirdPartyRules for AutoAccept {
    fn on_new_event(event: &Event) -> Handled {
        let Ok(config) = trellis_sdk::config::get::<AcceptConfig>() else { return Handled::Done };
        let server_name = trellis_sdk::config::server_name();
        let Some(invitee) = rules::invitee_to_accept(&config, event, &server_name) else { return Handled::Done };
        match trellis_sdk::rooms::set_membership(&event.room_id, invitee, invitee, "join", None) {
            Ok(_) => trellis_sdk::info!("accepted the invite of {invitee} to {}", event.room_id),
            Err(error) => trellis_sdk::warn!("could not accept the invite of {invitee} to {}: {error}", event.room_id),
        }
        Handled::Done
    }
}

trellis_sdk::plugin!(AutoAccept, roles: [ThirdPartyRules]);
