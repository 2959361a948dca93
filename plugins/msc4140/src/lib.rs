//! MSC4140 delayed events: `PUT /send` and `PUT /state` with the
//! `org.matrix.msc4140.delay` query parameter schedule the event instead of
//! sending it, and the `/_matrix/client/unstable/org.matrix.msc4140/delayed_events`
//! endpoints list, cancel, restart or send scheduled events.
//!
//! Scheduled events live in the plugin's key-value store and fire from
//! durable timers, so they survive restarts. Behaviour follows Synapse:
//! management by `delay_id` needs no access token, an event that fails to
//! send is dropped (and logged), and a delayed state event is cancelled when
//! another user sets the same state.

mod api;
mod store;

use trellis_sdk::{Event, Handled, HttpRoutes, Plugin, Request, Response, ThirdPartyRules};

struct DelayedEvents;

impl Plugin for DelayedEvents {
    fn on_load() -> Result<(), String> {
        api::Settings::load().map(|_| ())
    }

    fn on_timer(id: &str, _payload: &str) -> Handled {
        if let Some(delayed) = store::take(id)
            && let Err(error) = delayed.send()
        {
            trellis_sdk::warn!("delayed event {id} of {} could not be sent: {error}", delayed.user_id);
        }
        Handled::Done
    }
}

impl HttpRoutes for DelayedEvents {
    fn handle(request: Request) -> Option<Response> {
        api::handle(request)
    }
}

impl ThirdPartyRules for DelayedEvents {
    fn on_new_event(event: &Event) -> Handled {
        if let Some(state_key) = &event.state_key {
            store::cancel_overwritten(&event.room_id, &event.event_type, state_key, &event.sender);
        }
        Handled::Done
    }
}

trellis_sdk::plugin!(DelayedEvents, roles: [HttpRoutes, ThirdPartyRules]);
