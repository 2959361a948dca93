//! message-stats: a Trellis plugin that refuses `m.room.message` events
//! whose body is longer than `max_length` characters, counts the messages
//! stored in each room, and serves the counts at
//! `GET /_trellis/plugins/<name>/stats?room_id=…`.
//!
//! Needs the `kv` capability. The decisions live in [`logic`]; the role
//! methods below only fetch the config and talk to the key-value store.

mod logic;

use logic::{Config, Route};
use trellis_sdk::{Event, Handled, HttpRoutes, Plugin, Request, Response, SpamChecker, ThirdPartyRules, Verdict, kv};

struct MessageStats;

fn config() -> Result<Config, String> {
    trellis_sdk::config::get::<Config>()?.validate()
}

impl Plugin for MessageStats {
    /// Refuses to load with a bad config, so the admin sees the mistake at
    /// start-up.
    fn on_load() -> Result<(), String> {
        config().map(|_| ())
    }
}

impl SpamChecker for MessageStats {
    fn check_event_for_spam(event: &Event) -> Verdict {
        match config() {
            Ok(config) => logic::check_message(event, &config),
            // Unreachable in practice: on_load refused this config already.
            Err(error) => {
                trellis_sdk::error!("{error}; letting the event through");
                Verdict::Allow
            }
        }
    }
}

impl ThirdPartyRules for MessageStats {
    /// Runs after an event is stored, so only messages every check accepted
    /// are counted.
    fn on_new_event(event: &Event) -> Handled {
        if logic::is_counted(event) {
            // Atomic: on_new_event calls run concurrently, and a get/set
            // pair would lose counts.
            if let Err(error) = kv::increment(&logic::count_key(&event.room_id), 1) {
                trellis_sdk::error!("could not store the message count of {}: {error}", event.room_id);
            }
        }
        // Always Done: NotImplemented would make the server stop calling us.
        Handled::Done
    }
}

impl HttpRoutes for MessageStats {
    fn handle(request: Request) -> Option<Response> {
        Some(match logic::route(&request)? {
            Route::Error(error) => error.to_response(),
            Route::Stats { room_id } => {
                // Counters are stored as decimal text, which reads as JSON.
                let messages = kv::get_json::<u64>(&logic::count_key(&room_id)).unwrap_or(0);
                logic::stats_response(&room_id, messages)
            }
        })
    }
}

trellis_sdk::plugin!(MessageStats, roles: [SpamChecker, ThirdPartyRules, HttpRoutes]);
