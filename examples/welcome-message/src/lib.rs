//! Greets users the first time they join a room: a configured bot user
//! posts a welcome message. Rejoining after leaving does not greet again,
//! because the plugin remembers who it welcomed in its key-value store
//! (with an atomic counter, so two joins at once cannot both be greeted).

mod greeting;

use greeting::WelcomeConfig;
use trellis_sdk::{Event, Handled, Plugin, ThirdPartyRules};

struct Welcome;

impl Plugin for Welcome {
    fn on_load() -> Result<(), String> {
        let config = trellis_sdk::config::get::<WelcomeConfig>()?;
        greeting::validate(&config)
    }
}

impl ThirdPartyRules for Welcome {
    fn on_new_event(event: &Event) -> Handled {
        let Ok(config) = trellis_sdk::config::get::<WelcomeConfig>() else { return Handled::Done };
        if !greeting::should_consider(&config, event) {
            return Handled::Done;
        }
        let key = format!("welcomed/{}/{}", event.room_id, event.sender);
        // Claim the welcome atomically: of two joins handled at once, only
        // the first sees 1. A failed greeting gives the claim back, so the
        // next join tries again.
        match trellis_sdk::kv::increment(&key, 1) {
            Ok(1) => {}
            Ok(_) => return Handled::Done,
            Err(error) => {
                trellis_sdk::warn!("could not remember the welcome of {}: {error}", event.sender);
                return Handled::Done;
            }
        }
        let text = greeting::render(&config.message, event);
        if let Err(error) = trellis_sdk::rooms::send_text(&event.room_id, &config.sender, &text) {
            trellis_sdk::warn!("could not welcome {} to {}: {error}", event.sender, event.room_id);
            trellis_sdk::kv::delete(&key);
        }
        Handled::Done
    }
}

trellis_sdk::plugin!(Welcome, roles: [ThirdPartyRules]);
