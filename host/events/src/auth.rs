//! Authorising events against room state with ruma's implementation of
//! the spec's auth rules for each room version.

use ruma::events::{StateEventType, TimelineEventType};
use ruma::state_res::{auth_types_for_event, check_state_dependent_auth_rules, check_state_independent_auth_rules};
use ruma::{EventId, UserId};
use serde_json::value::RawValue;

use crate::{Pdu, RoomVersion};

/// An event failed the auth rules; the text says which rule.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct AuthError(pub String);

/// The `(type, state_key)` pairs whose current events are the auth events
/// of a new event.
pub fn auth_event_types(
    version: &RoomVersion,
    event_type: &str,
    sender: &str,
    state_key: Option<&str>,
    content: &serde_json::Value,
) -> Result<Vec<(StateEventType, String)>, AuthError> {
    let sender = UserId::parse(sender).map_err(|e| AuthError(e.to_string()))?;
    let raw: Box<RawValue> = serde_json::value::to_raw_value(content).map_err(|e| AuthError(e.to_string()))?;
    auth_types_for_event(&TimelineEventType::from(event_type), &sender, state_key, &raw, &version.rules.authorization)
        .map_err(AuthError)
}

/// Checks an event against the auth rules: first the rules that depend
/// only on the event and its auth events (`fetch_event` resolves those),
/// then the rules that depend on the room state the event is applied to
/// (`fetch_state`, which must answer the create event in every version).
pub fn authorize(
    version: &RoomVersion,
    pdu: &Pdu,
    fetch_event: impl Fn(&EventId) -> Option<Pdu>,
    fetch_state: impl Fn(&StateEventType, &str) -> Option<Pdu>,
) -> Result<(), AuthError> {
    check_state_independent_auth_rules(&version.rules.authorization, pdu, fetch_event).map_err(AuthError)?;
    check_state_dependent_auth_rules(&version.rules.authorization, pdu, fetch_state).map_err(AuthError)
}
