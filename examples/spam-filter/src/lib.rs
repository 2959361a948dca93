//! A keyword and pattern spam filter, in the spirit of Synapse's popular
//! spam-checker modules: messages (and room names and topics) that contain a
//! listed keyword or match a listed pattern are refused before they are
//! stored, and nobody else ever sees them.

mod filter;

use filter::{Filter, FilterConfig};
use trellis_sdk::{Event, MatrixError, Plugin, SpamChecker, Value, Verdict};

struct SpamFilter;

fn load() -> Result<Filter, String> {
    Filter::new(trellis_sdk::config::get::<FilterConfig>()?)
}

impl Plugin for SpamFilter {
    fn on_load() -> Result<(), String> {
        let filter = load()?;
        trellis_sdk::info!("spam filter loaded with {} rules", filter.rule_count());
        Ok(())
    }
}

/// The texts of an event that the filter looks at.
fn texts(event: &Event) -> Vec<&str> {
    let fields: &[&str] = match event.event_type.as_str() {
        "m.room.message" => &["body", "formatted_body"],
        "m.room.name" => &["name"],
        "m.room.topic" => &["topic"],
        _ => &[],
    };
    fields.iter().filter_map(|field| event.content.get(*field).and_then(Value::as_str)).collect()
}

impl SpamChecker for SpamFilter {
    fn check_event_for_spam(event: &Event) -> Verdict {
        let Ok(filter) = load() else { return Verdict::Allow };
        if filter.is_exempt(&event.sender) {
            return Verdict::Allow;
        }
        match texts(event).into_iter().find_map(|text| filter.find_match(text)) {
            Some(rule) => {
                trellis_sdk::info!("refused an event from {} in {} (rule: {rule})", event.sender, event.room_id);
                Verdict::Deny(MatrixError::forbidden(filter.message()))
            }
            None => Verdict::Allow,
        }
    }
}

trellis_sdk::plugin!(SpamFilter, roles: [SpamChecker]);
