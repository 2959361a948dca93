//! Push rules: each user's ruleset (stored as the server-managed
//! `m.push_rules` account data, so `/sync` delivers it), the
//! `/pushrules` API, and evaluating rules for every new event to keep
//! unread notification and highlight counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ruma::push::Ruleset;
use serde_json::{Value, json};
use trellis_events::push::{self, PushRoom};

use super::Services;
use super::rooms::RoomState;
use crate::error::{Error, Result};

/// Account-data type the ruleset is kept under.
pub const PUSH_RULES: &str = "m.push_rules";

/// Rulesets of users, cached.
#[derive(Debug, Default)]
pub struct PushRuleCache {
    rulesets: Mutex<HashMap<String, Arc<Ruleset>>>,
}

/// The two fields of a member event's content that push rules need, left
/// unparsed until looked at (either may hold any JSON value: a name that
/// is not a string counts as no name).
#[derive(serde::Deserialize)]
struct MemberFields<'a> {
    #[serde(borrow)]
    membership: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    displayname: Option<&'a serde_json::value::RawValue>,
}

/// A raw JSON value as a string, if it is one: borrowed from the JSON
/// unless it holds escapes (this runs for every member of every event).
fn raw_str(raw: Option<&serde_json::value::RawValue>) -> Option<std::borrow::Cow<'_, str>> {
    let text = raw?.get();
    match serde_json::from_str::<&str>(text) {
        Ok(borrowed) => Some(std::borrow::Cow::Borrowed(borrowed)),
        Err(_) => serde_json::from_str::<String>(text).ok().map(std::borrow::Cow::Owned),
    }
}

/// What push rules decided for one member.
#[derive(Debug, Clone)]
pub struct MemberAction {
    /// The member.
    pub user_id: String,
    /// Notification.
    pub notify: bool,
    /// Highlight.
    pub highlight: bool,
}

impl Services {
    /// A user's ruleset (the server default until they change it).
    pub async fn ruleset(&self, user_id: &str) -> Result<Arc<Ruleset>> {
        if let Some(cached) =
            self.push_rules.rulesets.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(user_id)
        {
            return Ok(cached.clone());
        }
        let ruleset = match self.storage.account_data(user_id, None, PUSH_RULES).await? {
            Some(text) => {
                let value: Value = serde_json::from_str(&text).map_err(Error::internal)?;
                serde_json::from_value(value["global"].clone()).map_err(Error::internal)?
            }
            None => push::default_ruleset(user_id).map_err(Error::internal)?,
        };
        let ruleset = Arc::new(ruleset);
        self.push_rules
            .rulesets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user_id.to_owned(), ruleset.clone());
        Ok(ruleset)
    }

    /// Saves a changed ruleset.
    async fn save_ruleset(&self, user_id: &str, ruleset: Ruleset) -> Result<()> {
        let content = json!({"global": ruleset});
        let mut tx = self.storage.begin().await?;
        let position =
            trellis_storage::account_data::put(&mut tx, user_id, None, PUSH_RULES, &content.to_string()).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.push_rules
            .rulesets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user_id.to_owned(), Arc::new(ruleset));
        self.rooms.account_data_written(position);
        Ok(())
    }

    /// Applies `change` to a user's ruleset and saves it.
    pub async fn update_ruleset(&self, user_id: &str, change: impl FnOnce(&mut Ruleset) -> Result<()>) -> Result<()> {
        let mut ruleset = (*self.ruleset(user_id).await?).clone();
        change(&mut ruleset)?;
        self.save_ruleset(user_id, ruleset).await
    }

    /// Evaluates every joined local member's rules (except the sender's)
    /// against a new event in `state`'s room: one decision per member,
    /// those that neither notify nor highlight included (the room-wide
    /// default stored for the event is the decision most members got).
    pub async fn push_actions_for(
        &self,
        state: &RoomState,
        sender: &str,
        client_event: &Value,
    ) -> Result<Vec<MemberAction>> {
        // One pass over the member events: who is joined (for the member
        // count) and which of them are local users to evaluate.
        let mut members = Vec::new();
        let mut joined = 0u64;
        let local_suffix = format!(":{}", self.server_name());
        for ((event_type, user_id), entry) in &state.current {
            if event_type != "m.room.member" {
                continue;
            }
            // Only two fields are wanted: read them without building the
            // whole content, once per member for every event sent.
            let Ok(content) = serde_json::from_str::<MemberFields<'_>>(entry.pdu.content.get()) else { continue };
            if raw_str(content.membership).as_deref() != Some("join") {
                continue;
            }
            joined += 1;
            if user_id == sender || !user_id.ends_with(&local_suffix) {
                continue;
            }
            members.push((user_id.clone(), raw_str(content.displayname).map(std::borrow::Cow::into_owned)));
        }
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let power_levels = state.get("m.room.power_levels", "").map(|e| e.pdu.content_value());
        let mut creators = Vec::new();
        if let Some(create) = state.get("m.room.create", "") {
            creators.push(create.pdu.sender.to_string());
            if let Some(extra) = create.pdu.content_value().get("additional_creators").and_then(Value::as_array) {
                creators.extend(extra.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        let room = PushRoom {
            room_id: &state.room_id,
            member_count: joined,
            version: &state.version,
            power_levels: power_levels.as_ref(),
            creators: &creators,
        };
        // The event is flattened and the room's power levels parsed once,
        // not once per member.
        let event = push::prepare_event(client_event).map_err(Error::internal)?;
        let mut room = push::prepare_room(&room).map_err(Error::internal)?;
        let mut out = Vec::with_capacity(members.len());
        for (user_id, name) in members {
            let ruleset = self.ruleset(&user_id).await?;
            let display =
                name.unwrap_or_else(|| user_id.trim_start_matches('@').split(':').next().unwrap_or("").to_owned());
            let outcome = push::evaluate_prepared(&ruleset, &event, &mut room, &user_id, &display)
                .await
                .map_err(Error::internal)?;
            out.push(MemberAction { user_id, notify: outcome.notify, highlight: outcome.highlight });
        }
        Ok(out)
    }
}
