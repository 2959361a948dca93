//! MSC4293, redact on kick or ban: a kick or ban whose request carries
//! `org.matrix.msc4293.redact_events: true` (the server copies it into the
//! membership event) makes this plugin redact the target's recent events in
//! that room, as the moderator who kicked or banned them.
//!
//! Synapse instead serves the events pruned without sending redactions; this
//! plugin sends real `m.room.redaction` events, which every client and
//! server understands. Like Synapse it acts only if the moderator may
//! redact other people's events (the server refuses the redactions
//! otherwise), ignores self-leaves, and leaves state events alone so that
//! the room's state does not change under the members.

use trellis_sdk::{Event, Handled, Plugin, ThirdPartyRules, Value};

/// The content key of the MSC.
const FLAG: &str = "org.matrix.msc4293.redact_events";
/// How many of the target's recent events are redacted at most.
const MAX_EVENTS: u32 = 1000;

struct RedactOnRemoval;

impl Plugin for RedactOnRemoval {}

/// The user whose events to redact, if this event asks for it.
fn target(event: &Event) -> Option<&str> {
    let target = event.state_key.as_deref()?;
    let removal = match event.membership()? {
        "ban" => true,
        "leave" => target != event.sender,
        _ => false,
    };
    (removal && target != event.sender && event.content.get(FLAG) == Some(&Value::Bool(true))).then_some(target)
}

impl ThirdPartyRules for RedactOnRemoval {
    fn on_new_event(event: &Event) -> Handled {
        let Some(target) = target(event) else { return Handled::Done };
        let mut redacted = 0;
        for event_id in trellis_sdk::rooms::events_by_sender(&event.room_id, target, MAX_EVENTS) {
            let Some(original) = trellis_sdk::rooms::get_event(&event_id) else { continue };
            let already_redacted = original.content.as_object().is_some_and(|content| content.is_empty());
            if original.is_state() || original.event_type == "m.room.redaction" || already_redacted {
                continue;
            }
            match trellis_sdk::rooms::redact(&event.room_id, &event.sender, &event_id, Some("Removed by a moderator")) {
                Ok(_) => redacted += 1,
                Err(error) => {
                    trellis_sdk::warn!("stopped redacting {target}'s events in {}: {error}", event.room_id);
                    break;
                }
            }
        }
        trellis_sdk::info!("redacted {redacted} events of {target} in {}", event.room_id);
        Handled::Done
    }
}

trellis_sdk::plugin!(RedactOnRemoval, roles: [ThirdPartyRules]);
