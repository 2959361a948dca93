//! Push rules: evaluating a user's ruleset against an event (to count
//! notifications and highlights), and building rules from the client API.

use ruma::events::room::power_levels::{RoomPowerLevels, RoomPowerLevelsEventContent, RoomPowerLevelsSource};
use ruma::push::{
    Action, FlattenedJson, NewConditionalPushRule, NewPatternedPushRule, NewPushRule, NewSimplePushRule, PushCondition,
    PushConditionPowerLevelsCtx, PushConditionRoomCtx, RuleKind, Ruleset,
};
use ruma::serde::Raw;
use ruma::{OwnedRoomId, OwnedUserId, UInt};
use serde_json::Value;

use crate::RoomVersion;

/// The room a push rule is evaluated in.
#[derive(Debug)]
pub struct PushRoom<'a> {
    /// Room id.
    pub room_id: &'a str,
    /// Joined members.
    pub member_count: u64,
    /// Room version (power-level rules depend on it).
    pub version: &'a RoomVersion,
    /// `m.room.power_levels` content, if any.
    pub power_levels: Option<&'a Value>,
    /// Room creators (privileged in v12).
    pub creators: &'a [String],
}

/// What a ruleset decided for one user and event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PushOutcome {
    /// The event counts as a notification.
    pub notify: bool,
    /// It is a highlight (mention).
    pub highlight: bool,
}

/// The server-default ruleset of a user.
pub fn default_ruleset(user_id: &str) -> Result<Ruleset, String> {
    let user = ruma::UserId::parse(user_id).map_err(|e| e.to_string())?;
    Ok(Ruleset::server_default(&user))
}

/// An event flattened once for evaluating many users' rules against it.
#[derive(Debug)]
pub struct PreparedEvent {
    flat: FlattenedJson,
    sender: String,
}

/// The room facts shared by every member's evaluation.
#[derive(Debug)]
pub struct PreparedRoom {
    room_id: OwnedRoomId,
    member_count: UInt,
    power_levels: Option<PushConditionPowerLevelsCtx>,
    /// The condition context of the last member evaluated: the next
    /// member only swaps in their user id and display name, instead of
    /// copying the room's power levels again.
    context: Option<PushConditionRoomCtx>,
}

/// Flattens a client-format event for [`evaluate_prepared`].
pub fn prepare_event(event: &Value) -> Result<PreparedEvent, String> {
    let raw: Raw<Value> = Raw::new(event).map_err(|e| e.to_string())?;
    let sender = event.get("sender").and_then(Value::as_str).unwrap_or_default().to_owned();
    Ok(PreparedEvent { flat: FlattenedJson::from_raw(&raw), sender })
}

/// Builds the shared room context for [`evaluate_prepared`].
pub fn prepare_room(room: &PushRoom<'_>) -> Result<PreparedRoom, String> {
    let room_id = OwnedRoomId::try_from(room.room_id).map_err(|e| e.to_string())?;
    let member_count = UInt::try_from(room.member_count).unwrap_or(UInt::MAX);
    let power_levels = room
        .power_levels
        .and_then(|content| serde_json::from_value::<RoomPowerLevelsEventContent>(content.clone()).ok())
        .map(|content| {
            let creators: Vec<OwnedUserId> =
                room.creators.iter().filter_map(|c| OwnedUserId::try_from(c.as_str()).ok()).collect();
            RoomPowerLevels::new(RoomPowerLevelsSource::Original(content), &room.version.rules.authorization, creators)
                .into()
        });
    Ok(PreparedRoom { room_id, member_count, power_levels, context: None })
}

/// Evaluates one user's ruleset against a prepared event: the first rule
/// that applies decides, as `Ruleset::get_actions` would, without
/// flattening the event again for every member.
pub async fn evaluate_prepared(
    ruleset: &Ruleset,
    event: &PreparedEvent,
    room: &mut PreparedRoom,
    user_id: &str,
    display_name: &str,
) -> Result<PushOutcome, String> {
    if event.sender == user_id {
        return Ok(PushOutcome::default());
    }
    let user = OwnedUserId::try_from(user_id).map_err(|e| e.to_string())?;
    let context = match &mut room.context {
        Some(context) => {
            context.user_id = user;
            display_name.clone_into(&mut context.user_display_name);
            context
        }
        empty => {
            let mut context =
                PushConditionRoomCtx::new(room.room_id.clone(), room.member_count, user, display_name.to_owned());
            if let Some(levels) = &room.power_levels {
                context = context.with_power_levels(levels.clone());
            }
            empty.insert(context)
        }
    };
    for rule in ruleset.iter() {
        if rule.applies(&event.flat, context).await {
            let actions = rule.actions();
            return Ok(PushOutcome {
                notify: actions.iter().any(Action::should_notify),
                highlight: actions.iter().any(Action::is_highlight),
            });
        }
    }
    Ok(PushOutcome::default())
}

/// Evaluates `ruleset` (of `user_id`, shown as `display_name`) against a
/// client-format event.
pub async fn evaluate(
    ruleset: &Ruleset,
    event: &Value,
    room: &PushRoom<'_>,
    user_id: &str,
    display_name: &str,
) -> Result<PushOutcome, String> {
    evaluate_prepared(ruleset, &prepare_event(event)?, &mut prepare_room(room)?, user_id, display_name).await
}

/// Parses a rule kind from the URL.
pub fn rule_kind(kind: &str) -> Option<RuleKind> {
    match kind {
        "override" => Some(RuleKind::Override),
        "underride" => Some(RuleKind::Underride),
        "sender" => Some(RuleKind::Sender),
        "room" => Some(RuleKind::Room),
        "content" => Some(RuleKind::Content),
        _ => None,
    }
}

/// Parses push rule actions.
pub fn actions(value: &Value) -> Result<Vec<Action>, String> {
    serde_json::from_value(value.clone()).map_err(|e| format!("invalid actions: {e}"))
}

/// Builds a new user rule from a `PUT /pushrules/global/{kind}/{ruleId}` body.
pub fn new_rule(kind: &str, rule_id: &str, body: &Value) -> Result<NewPushRule, String> {
    let actions = actions(body.get("actions").ok_or("missing actions")?)?;
    Ok(match kind {
        "override" | "underride" => {
            let conditions: Vec<PushCondition> = match body.get("conditions") {
                Some(c) => serde_json::from_value(c.clone()).map_err(|e| format!("invalid conditions: {e}"))?,
                None => Vec::new(),
            };
            let rule = NewConditionalPushRule::new(rule_id.to_owned(), conditions, actions);
            if kind == "override" { NewPushRule::Override(rule) } else { NewPushRule::Underride(rule) }
        }
        "content" => {
            let pattern = body.get("pattern").and_then(Value::as_str).ok_or("content rules need a pattern")?;
            NewPushRule::Content(NewPatternedPushRule::new(rule_id.to_owned(), pattern.to_owned(), actions))
        }
        "room" => {
            let room = OwnedRoomId::try_from(rule_id).map_err(|_| "room rules are named by a room id".to_owned())?;
            NewPushRule::Room(NewSimplePushRule::new(room, actions))
        }
        "sender" => {
            let user = OwnedUserId::try_from(rule_id).map_err(|_| "sender rules are named by a user id".to_owned())?;
            NewPushRule::Sender(NewSimplePushRule::new(user, actions))
        }
        other => return Err(format!("unknown rule kind {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(v) = future.as_mut().poll(&mut cx) {
                return v;
            }
        }
    }

    #[test]
    fn defaults_notify_in_one_to_one_and_highlight_mentions() {
        let version = RoomVersion::new("11").unwrap();
        let pl = serde_json::json!({"users": {"@alice:x": 100}});
        let room =
            PushRoom { room_id: "!r:x", member_count: 2, version: &version, power_levels: Some(&pl), creators: &[] };
        let rules = default_ruleset("@bob:x").unwrap();
        let message = serde_json::json!({"type": "m.room.message", "sender": "@alice:x", "room_id": "!r:x",
            "event_id": "$1", "content": {"msgtype": "m.text", "body": "hi"}});
        let plain = block_on(evaluate(&rules, &message, &room, "@bob:x", "Bob")).unwrap();
        assert_eq!(plain, PushOutcome { notify: true, highlight: false });
        let mention = serde_json::json!({"type": "m.room.message", "sender": "@alice:x", "room_id": "!r:x",
            "event_id": "$2", "content": {"msgtype": "m.text", "body": "hey", "m.mentions": {"user_ids": ["@bob:x"]}}});
        let highlighted = block_on(evaluate(&rules, &mention, &room, "@bob:x", "Bob")).unwrap();
        assert!(highlighted.notify && highlighted.highlight);
        // A user's own events never notify them.
        assert!(!block_on(evaluate(&rules, &message, &room, "@alice:x", "Alice")).unwrap().notify);
    }

    #[test]
    fn user_rules_can_silence() {
        let mut rules = default_ruleset("@bob:x").unwrap();
        let rule = new_rule("room", "!r:x", &serde_json::json!({"actions": []})).unwrap();
        rules.insert(rule, None, None).unwrap();
        let version = RoomVersion::new("11").unwrap();
        let room = PushRoom { room_id: "!r:x", member_count: 2, version: &version, power_levels: None, creators: &[] };
        let message = serde_json::json!({"type": "m.room.message", "sender": "@alice:x", "room_id": "!r:x",
            "event_id": "$1", "content": {"msgtype": "m.text", "body": "hi"}});
        assert!(!block_on(evaluate(&rules, &message, &room, "@bob:x", "Bob")).unwrap().notify);
        assert!(new_rule("content", "x", &serde_json::json!({"actions": []})).is_err());
        assert!(new_rule("override", "x", &serde_json::json!({})).is_err());
    }
}
