//! History visibility: which events a user may read.
//!
//! The rules of the client-server spec ("History visibility"), evaluated
//! with the room state after each event: `world_readable` events are
//! visible to anyone; an event is visible to a user who was joined when it
//! was sent; `shared` history is visible to current members; `invited`
//! history also to users who were invited at the time; `joined` history
//! only while joined. A user always sees their own membership events.

use std::collections::HashMap;

use serde_json::Value;
use trellis_storage::events::EventRow;

use crate::error::{Error, Result};
use crate::service::Services;

/// The decision for one event.
pub fn may_see(visibility: &str, membership_then: Option<&str>, membership_now: Option<&str>) -> bool {
    match visibility {
        "world_readable" => true,
        _ if membership_then == Some("join") => true,
        "shared" => membership_now == Some("join"),
        "invited" => membership_then == Some("invite"),
        _ => false,
    }
}

/// Account-data type listing the users someone ignores.
pub const IGNORED_USER_LIST: &str = "m.ignored_user_list";

/// Most cached (group, user) visibility facts before the cache starts over.
const VISIBILITY_CACHE_LIMIT: usize = 50_000;

impl Services {
    /// The history visibility and the user's membership in a state group.
    async fn visibility_facts(&self, group: i64, user_id: &str) -> Result<(String, Option<String>)> {
        let key = (group, user_id.to_owned());
        if let Some(hit) = self.rooms.visibility.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(hit.clone());
        }
        let found = self
            .storage
            .state_group_lookup(group, &[("m.room.history_visibility", ""), ("m.room.member", user_id)])
            .await?;
        let mut visibility = "shared".to_owned();
        let mut membership = None;
        let ids: Vec<String> = found.values().cloned().collect();
        for row in self.storage.events_by_id(&ids).await? {
            let json: Value = serde_json::from_str(&row.json).map_err(Error::internal)?;
            let content = &json["content"];
            if row.event_type == "m.room.history_visibility" {
                if let Some(v) = content.get("history_visibility").and_then(Value::as_str) {
                    v.clone_into(&mut visibility);
                }
            } else {
                membership = content.get("membership").and_then(Value::as_str).map(str::to_owned);
            }
        }
        let facts = (visibility, membership);
        let mut cache = self.rooms.visibility.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= VISIBILITY_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, facts.clone());
        Ok(facts)
    }

    /// The users `user_id` ignores (`m.ignored_user_list` account data),
    /// cached: every read path asks, and the list changes only through
    /// `put_account_data`, which drops the cached copy.
    pub async fn ignored_users(&self, user_id: &str) -> Result<std::sync::Arc<std::collections::HashSet<String>>> {
        if let Some(hit) = self.rooms.ignored.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(user_id) {
            return Ok(hit.clone());
        }
        let ignored: std::collections::HashSet<String> =
            match self.storage.account_data(user_id, None, IGNORED_USER_LIST).await? {
                Some(text) => {
                    let value: Value = serde_json::from_str(&text).map_err(Error::internal)?;
                    value
                        .get("ignored_users")
                        .and_then(Value::as_object)
                        .map(|users| users.keys().cloned().collect())
                        .unwrap_or_default()
                }
                None => Default::default(),
            };
        let ignored = std::sync::Arc::new(ignored);
        self.rooms
            .ignored
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(user_id.to_owned(), ignored.clone());
        Ok(ignored)
    }

    /// Keeps the events `user_id` may see, in the given order.
    pub async fn filter_visible(&self, user_id: &str, room_id: &str, events: Vec<EventRow>) -> Result<Vec<EventRow>> {
        let now = self.storage.membership(room_id, user_id).await?.map(|m| m.membership);
        self.filter_visible_with(user_id, now.as_deref(), events).await
    }

    /// [`Self::filter_visible`] for a caller that already knows the user's
    /// current membership (`/sync` reads them all at once).
    pub async fn filter_visible_with(
        &self,
        user_id: &str,
        now: Option<&str>,
        events: Vec<EventRow>,
    ) -> Result<Vec<EventRow>> {
        let ignored = self.ignored_users(user_id).await?;
        let mut decisions: HashMap<i64, (String, Option<String>)> = HashMap::new();
        let mut out = Vec::with_capacity(events.len());
        for event in events {
            // Messages from ignored users are never served; their state
            // events are, since the room's state must stay whole.
            if event.state_key.is_none() && ignored.contains(&event.sender) {
                continue;
            }
            if event.event_type == "m.room.member" && event.state_key.as_deref() == Some(user_id) {
                out.push(event);
                continue;
            }
            let Some(group) = event.state_group else { continue };
            let (visibility, then) = match decisions.get(&group) {
                Some(facts) => facts.clone(),
                None => {
                    let facts = self.visibility_facts(group, user_id).await?;
                    decisions.insert(group, facts.clone());
                    facts
                }
            };
            if may_see(&visibility, then.as_deref(), now) {
                out.push(event);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::may_see;

    #[test]
    fn rules() {
        assert!(may_see("world_readable", None, None));
        assert!(may_see("joined", Some("join"), Some("leave")));
        assert!(!may_see("joined", Some("invite"), Some("join")));
        assert!(may_see("shared", None, Some("join")));
        assert!(!may_see("shared", None, Some("leave")));
        assert!(may_see("invited", Some("invite"), Some("join")));
        assert!(!may_see("invited", None, Some("join")));
    }
}
