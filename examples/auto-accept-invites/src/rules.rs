//! Which invites to accept; free of host calls so it is unit-tested natively.

use serde::Deserialize;
use trellis_sdk::Event;

/// The `config:` section (Synapse module's keys, plus `users`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AcceptConfig {
    /// Local users whose invites are accepted; empty means every local user.
    pub users: Vec<String>,
    /// Accept only invites marked `is_direct` (direct messages).
    pub accept_invites_only_for_direct_messages: bool,
    /// Accept only invites sent by users of this server.
    pub accept_invites_only_from_local_users: bool,
}

/// The invitee to join as, if this event is an invite to accept.
pub fn invitee_to_accept<'a>(config: &AcceptConfig, event: &'a Event, server_name: &str) -> Option<&'a str> {
    if event.membership() != Some("invite") {
        return None;
    }
    let invitee = event.state_key.as_deref()?;
    if !trellis_sdk::ids::is_local(invitee, server_name) {
        return None;
    }
    if !config.users.is_empty() && !config.users.iter().any(|user| user == invitee) {
        return None;
    }
    if config.accept_invites_only_for_direct_messages
        && event.content.get("is_direct").and_then(serde_json::Value::as_bool) != Some(true)
    {
        return None;
    }
    if config.accept_invites_only_from_local_users && !trellis_sdk::ids::is_local(&event.sender, server_name) {
        return None;
    }
    Some(invitee)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invite(sender: &str, invitee: &str, content: serde_json::Value) -> Event {
        Event {
            event_id: "$e".into(),
            room_id: "!r:x".into(),
            sender: sender.into(),
            event_type: "m.room.member".into(),
            state_key: Some(invitee.into()),
            content,
            origin_server_ts: 0,
            unsigned: json!({}),
        }
    }

    #[test]
    fn accepts_only_chosen_local_users() {
        let config = AcceptConfig { users: vec!["@bot:x".into()], ..Default::default() };
        assert_eq!(
            invitee_to_accept(&config, &invite("@a:x", "@bot:x", json!({"membership": "invite"})), "x"),
            Some("@bot:x")
        );
        assert_eq!(invitee_to_accept(&config, &invite("@a:x", "@other:x", json!({"membership": "invite"})), "x"), None);
        assert_eq!(invitee_to_accept(&config, &invite("@a:x", "@bot:x", json!({"membership": "join"})), "x"), None);
        let everyone = AcceptConfig::default();
        assert_eq!(invitee_to_accept(&everyone, &invite("@a:x", "@b:y", json!({"membership": "invite"})), "x"), None);
    }

    #[test]
    fn direct_and_local_restrictions() {
        let config = AcceptConfig {
            accept_invites_only_for_direct_messages: true,
            accept_invites_only_from_local_users: true,
            ..Default::default()
        };
        let dm = json!({"membership": "invite", "is_direct": true});
        assert!(invitee_to_accept(&config, &invite("@a:x", "@b:x", dm.clone()), "x").is_some());
        assert!(invitee_to_accept(&config, &invite("@a:y", "@b:x", dm), "x").is_none());
        assert!(invitee_to_accept(&config, &invite("@a:x", "@b:x", json!({"membership": "invite"})), "x").is_none());
    }
}
