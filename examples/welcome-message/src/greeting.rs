//! Who to greet and with what words; free of host calls so it is unit-tested
//! natively.

use serde::Deserialize;
use trellis_sdk::Event;

/// The `config:` section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WelcomeConfig {
    /// The local user who posts the welcome; it must be in the room.
    pub sender: String,
    /// The text; `{name}` becomes the newcomer's display name (or user id)
    /// and `{user_id}` their user id.
    #[serde(default = "default_message")]
    pub message: String,
    /// Rooms to greet in; all rooms the sender is in when absent.
    #[serde(default)]
    pub rooms: Option<Vec<String>>,
}

fn default_message() -> String {
    "Welcome, {name}!".into()
}

/// Checks the config beyond its shape.
pub fn validate(config: &WelcomeConfig) -> Result<(), String> {
    if trellis_sdk::ids::localpart(&config.sender).is_none() {
        return Err(format!("sender `{}` is not a user id", config.sender));
    }
    if config.message.trim().is_empty() {
        return Err("message may not be empty".into());
    }
    Ok(())
}

/// Whether `event` is a join that might deserve a welcome.
pub fn should_consider(config: &WelcomeConfig, event: &Event) -> bool {
    event.membership() == Some("join")
        && event.state_key.as_deref() == Some(event.sender.as_str())
        && event.sender != config.sender
        && config.rooms.as_ref().is_none_or(|rooms| rooms.contains(&event.room_id))
}

/// The message for this newcomer.
pub fn render(template: &str, event: &Event) -> String {
    let name = event
        .content
        .get("displayname")
        .and_then(serde_json::Value::as_str)
        .filter(|name| !name.is_empty())
        .unwrap_or(&event.sender);
    template.replace("{name}", name).replace("{user_id}", &event.sender)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn join(user: &str, content: serde_json::Value) -> Event {
        Event {
            event_id: "$e".into(),
            room_id: "!r:x".into(),
            sender: user.into(),
            event_type: "m.room.member".into(),
            state_key: Some(user.into()),
            content,
            origin_server_ts: 0,
            unsigned: json!({}),
        }
    }

    fn config(rooms: Option<Vec<String>>) -> WelcomeConfig {
        WelcomeConfig { sender: "@bot:x".into(), message: "Hi {name} ({user_id})".into(), rooms }
    }

    #[test]
    fn greets_joins_of_others_in_chosen_rooms() {
        assert!(should_consider(&config(None), &join("@a:x", json!({"membership": "join"}))));
        assert!(!should_consider(&config(None), &join("@bot:x", json!({"membership": "join"}))));
        assert!(!should_consider(&config(None), &join("@a:x", json!({"membership": "leave"}))));
        assert!(!should_consider(&config(Some(vec!["!other:x".into()])), &join("@a:x", json!({"membership": "join"}))));
    }

    #[test]
    fn renders_display_names_or_ids() {
        let with_name = join("@a:x", json!({"membership": "join", "displayname": "Alice"}));
        assert_eq!(render("Hi {name} ({user_id})", &with_name), "Hi Alice (@a:x)");
        assert_eq!(render("Hi {name}", &join("@a:x", json!({"membership": "join"}))), "Hi @a:x");
        assert!(validate(&WelcomeConfig { sender: "bot".into(), message: "x".into(), rooms: None }).is_err());
    }
}
