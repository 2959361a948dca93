//! Server-side search (`POST /search`, category `room_events`).
//!
//! The spec searches "all rooms that the user has been in, including those
//! that they have left", returning only events the user may see: the rooms
//! are those where the requester is joined, has left or was banned (and
//! has not forgotten them), and every match goes through the
//! history-visibility filter, so nothing sent after the user left or from
//! before they could see the room comes back. Redacted events never match.
//!
//! Pages: with `order_by: rank` the `next_batch` token is the number of
//! index matches already looked at (`r<n>`); with `recent` it is the
//! stream position of the last one (`s<n>`), so new messages do not shift
//! later pages. `count` is the number of matches in those rooms before
//! history visibility is applied (the spec allows an estimate).

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value, json};
use trellis_storage::events::EventRow;
use trellis_storage::search::{EventSearch, SearchHit, SearchOrder, SearchQuery, words};

use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::filter::RoomEventFilter;
use crate::service::rooms::read::Position;
use crate::service::tokens::Requester;

/// Keys that can be searched.
const KEYS: [&str; 3] = ["content.body", "content.name", "content.topic"];
/// Results per page when the filter does not say, and the most.
const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 100;
/// Context events per side when the client does not say, and the most.
const DEFAULT_CONTEXT: i64 = 5;
const MAX_CONTEXT: i64 = 100;
/// Most index batches read for one page before returning what was found
/// (a search over many invisible matches must not run for ever).
const MAX_BATCHES: usize = 20;

/// The `POST /search` body.
#[derive(Debug, Clone, Deserialize)]
pub struct SearchRequest {
    /// Categories to search in.
    pub search_categories: SearchCategories,
}

/// `search_categories`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchCategories {
    /// The only category the spec defines.
    #[serde(default)]
    pub room_events: Option<RoomEventsCriteria>,
}

/// `room_events` criteria.
#[derive(Debug, Clone, Deserialize)]
pub struct RoomEventsCriteria {
    /// What to search for.
    pub search_term: String,
    /// Keys to search (all by default).
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// Which events and rooms.
    #[serde(default)]
    pub filter: Option<RoomEventFilter>,
    /// `rank` (default) or `recent`.
    #[serde(default)]
    pub order_by: Option<String>,
    /// Context to include around each result.
    #[serde(default)]
    pub event_context: Option<EventContextRequest>,
    /// Include the current state of rooms with results.
    #[serde(default)]
    pub include_state: Option<bool>,
    /// Group results by room or sender.
    #[serde(default)]
    pub groupings: Option<Groupings>,
}

/// `event_context`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventContextRequest {
    /// Events before each result.
    #[serde(default)]
    pub before_limit: Option<i64>,
    /// Events after each result.
    #[serde(default)]
    pub after_limit: Option<i64>,
    /// Include the senders' profiles at the time.
    #[serde(default)]
    pub include_profile: Option<bool>,
}

/// `groupings`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Groupings {
    /// Keys to group by.
    #[serde(default)]
    pub group_by: Option<Vec<GroupBy>>,
}

/// One grouping.
#[derive(Debug, Clone, Deserialize)]
pub struct GroupBy {
    /// `room_id` or `sender`.
    #[serde(default)]
    pub key: Option<String>,
}

/// Where the page starts, from the `next_batch` query parameter.
fn parse_token(token: Option<&str>, rank: bool) -> Result<SearchOrder> {
    let bad = |t: &str| Error::invalid_param(format!("Invalid next_batch token {t:?}"));
    Ok(match token {
        None if rank => SearchOrder::Rank { offset: 0 },
        None => SearchOrder::Recent { before: None },
        Some(t) => match (t.split_at_checked(1), rank) {
            (Some(("r", n)), true) => {
                SearchOrder::Rank { offset: n.parse().ok().filter(|n| *n >= 0).ok_or_else(|| bad(t))? }
            }
            (Some(("s", n)), false) => SearchOrder::Recent { before: Some(n.parse().map_err(|_| bad(t))?) },
            _ => return Err(bad(t)),
        },
    })
}

fn render_token(order: SearchOrder) -> String {
    match order {
        SearchOrder::Rank { offset } => format!("r{offset}"),
        SearchOrder::Recent { before } => format!("s{}", before.unwrap_or(i64::MAX)),
    }
}

/// The searchable text of an event, by its type.
fn searched_text(row: &EventRow) -> Option<String> {
    let json: Value = serde_json::from_str(&row.json).ok()?;
    let content = json.get("content")?;
    match row.event_type.as_str() {
        "m.room.message" => content.get("body").and_then(Value::as_str).map(str::to_owned),
        "m.room.name" => content.get("name").and_then(Value::as_str).map(str::to_owned),
        "m.room.topic" => super::topic_text(content),
        _ => None,
    }
}

/// Whether a word of a result looks like a form of a query word (stemming
/// makes "plants" match "plant"): equal, or one a short extension of the
/// other.
fn same_stem(word: &str, query_word: &str) -> bool {
    let (short, long) = if word.len() <= query_word.len() { (word, query_word) } else { (query_word, word) };
    word == query_word || (short.chars().count() >= 3 && long.starts_with(short) && long.len() - short.len() <= 3)
}

/// Parsed and checked criteria.
struct Criteria {
    query: SearchQuery,
    keys: Vec<&'static str>,
    filter: RoomEventFilter,
    rank: bool,
    limit: usize,
    context: Option<(i64, i64, bool)>,
    include_state: bool,
    group_by: Vec<String>,
}

fn check_criteria(criteria: &RoomEventsCriteria) -> Result<Criteria> {
    let keys = match &criteria.keys {
        None => KEYS.to_vec(),
        Some(keys) => {
            let mut out = Vec::new();
            for key in keys {
                let known = KEYS
                    .iter()
                    .find(|k| **k == key.as_str())
                    .ok_or_else(|| Error::invalid_param(format!("Unknown search key {key:?}")))?;
                if !out.contains(known) {
                    out.push(*known);
                }
            }
            out
        }
    };
    let rank = match criteria.order_by.as_deref() {
        None | Some("rank") => true,
        Some("recent") => false,
        Some(other) => return Err(Error::invalid_param(format!("Unknown order_by {other:?}"))),
    };
    let filter = criteria.filter.clone().unwrap_or_default();
    let limit = usize::try_from(filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)).unwrap_or(10);
    let context = match &criteria.event_context {
        None => None,
        Some(spec) => {
            let check = |value: Option<i64>, name: &str| match value {
                Some(n) if n < 0 => Err(Error::invalid_param(format!("{name} must not be negative"))),
                Some(n) => Ok(n.min(MAX_CONTEXT)),
                None => Ok(DEFAULT_CONTEXT),
            };
            Some((
                check(spec.before_limit, "before_limit")?,
                check(spec.after_limit, "after_limit")?,
                spec.include_profile.unwrap_or(false),
            ))
        }
    };
    let mut group_by = Vec::new();
    for group in criteria.groupings.as_ref().and_then(|g| g.group_by.as_ref()).into_iter().flatten() {
        match group.key.as_deref() {
            Some(key @ ("room_id" | "sender")) => {
                if !group_by.iter().any(|g| g == key) {
                    group_by.push(key.to_owned());
                }
            }
            other => return Err(Error::invalid_param(format!("Invalid group_by key {other:?}"))),
        }
    }
    Ok(Criteria {
        query: SearchQuery::parse(&criteria.search_term),
        keys,
        filter,
        rank,
        limit,
        context,
        include_state: criteria.include_state.unwrap_or(false),
        group_by,
    })
}

impl Services {
    /// `POST /search`.
    pub async fn search(
        &self,
        requester: &Requester,
        request: &SearchRequest,
        next_batch: Option<&str>,
    ) -> Result<Value> {
        let Some(criteria) = &request.search_categories.room_events else {
            return Ok(json!({"search_categories": {}}));
        };
        let criteria = check_criteria(criteria)?;
        let start = parse_token(next_batch, criteria.rank)?;
        let user = requester.user_id.as_str();
        let mut room_ids: Vec<String> = self
            .memberships_of_user(user)
            .await?
            .iter()
            .filter(|m| matches!(m.membership.as_str(), "join" | "leave" | "ban") && !m.forgotten)
            .map(|m| m.room_id.clone())
            .filter(|room| criteria.filter.allows_room(room))
            .collect();
        room_ids.sort();

        let search = |order| EventSearch {
            query: &criteria.query,
            room_ids: &room_ids,
            keys: &criteria.keys,
            order,
            limit: i64::try_from(criteria.limit.max(10) * 2).unwrap_or(20),
        };
        let (found, next) = self.search_page(user, &criteria, start, &search).await?;
        let count = self.storage.count_search_events(&search(start)).await?;

        let rows: Vec<EventRow> = found.iter().map(|(_, row)| row.clone()).collect();
        let views = self.client_views(&rows, Some(requester)).await?;
        let mut results = Vec::with_capacity(found.len());
        for ((hit, row), view) in found.iter().zip(views) {
            let mut result = json!({"rank": hit.rank, "result": view});
            if let Some((before, after, profile)) = criteria.context {
                result["context"] = self.search_context(requester, row, before, after, profile).await?;
            }
            results.push(result);
        }

        let query_words = criteria.query.positive_words();
        let mut highlights: Vec<String> = query_words.clone();
        for (_, row) in &found {
            for word in searched_text(row).map(|t| words(&t)).unwrap_or_default() {
                if !highlights.contains(&word) && query_words.iter().any(|q| same_stem(&word, q)) {
                    highlights.push(word);
                }
            }
        }

        let mut room_events = json!({"results": results, "count": count, "highlights": highlights});
        if let Some(next) = next {
            room_events["next_batch"] = json!(render_token(next));
        }
        if !criteria.group_by.is_empty() {
            let mut groups = Map::new();
            for key in &criteria.group_by {
                let mut by_value: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
                for (i, (_, row)) in found.iter().enumerate() {
                    let value = if key == "room_id" { &row.room_id } else { &row.sender };
                    by_value.entry(value.clone()).or_insert_with(|| (i, Vec::new())).1.push(row.event_id.clone());
                }
                let mut firsts: Vec<usize> = by_value.values().map(|(first, _)| *first).collect();
                firsts.sort_unstable();
                let group: Map<String, Value> = by_value
                    .into_iter()
                    .map(|(value, (first, ids))| {
                        let order = firsts.iter().position(|f| *f == first).unwrap_or(0) + 1;
                        (value, json!({"results": ids, "order": order}))
                    })
                    .collect();
                groups.insert(key.clone(), Value::Object(group));
            }
            room_events["groups"] = Value::Object(groups);
        }
        if criteria.include_state {
            let mut state = Map::new();
            for (_, row) in &found {
                if !state.contains_key(&row.room_id) {
                    let events = self.visible_state(requester, &row.room_id).await?;
                    state.insert(row.room_id.clone(), Value::Array(self.client_views(&events, Some(requester)).await?));
                }
            }
            room_events["state"] = Value::Object(state);
        }
        Ok(json!({"search_categories": {"room_events": room_events}}))
    }

    /// Reads index matches from `first` on until a page of visible results
    /// is full. Returns the results and, if more may follow, where the next
    /// page starts.
    async fn search_page<'a>(
        &self,
        user: &str,
        criteria: &Criteria,
        start: SearchOrder,
        search: &impl Fn(SearchOrder) -> EventSearch<'a>,
    ) -> Result<(Vec<(SearchHit, EventRow)>, Option<SearchOrder>)> {
        let mut found = Vec::new();
        let mut order = start;
        for _ in 0..MAX_BATCHES {
            let batch = search(order);
            let hits = self.storage.search_events(&batch).await?;
            let exhausted = hits.len() < usize::try_from(batch.limit).unwrap_or(0);
            let ids: Vec<String> = hits.iter().map(|h| h.event_id.clone()).collect();
            let mut by_room: HashMap<String, Vec<EventRow>> = HashMap::new();
            for row in self.storage.events_by_id(&ids).await? {
                if criteria.filter.allows_event(&row) {
                    by_room.entry(row.room_id.clone()).or_default().push(row);
                }
            }
            let mut visible: HashMap<String, EventRow> = HashMap::new();
            for (room_id, rows) in by_room {
                for row in self.filter_visible(user, &room_id, rows).await? {
                    visible.insert(row.event_id.clone(), row);
                }
            }
            for hit in hits {
                if found.len() == criteria.limit {
                    return Ok((found, Some(order)));
                }
                order = match order {
                    SearchOrder::Rank { offset } => SearchOrder::Rank { offset: offset + 1 },
                    SearchOrder::Recent { .. } => SearchOrder::Recent { before: Some(hit.stream_ordering) },
                };
                if let Some(row) = visible.remove(&hit.event_id) {
                    found.push((hit, row));
                }
            }
            if exhausted {
                return Ok((found, None));
            }
        }
        // Gave up reading: let the client carry on from here.
        Ok((found, Some(order)))
    }

    /// The `context` of one result: visible events around it, pagination
    /// tokens, and optionally the senders' profiles at the time.
    async fn search_context(
        &self,
        requester: &Requester,
        row: &EventRow,
        before: i64,
        after: i64,
        include_profile: bool,
    ) -> Result<Value> {
        let user = requester.user_id.as_str();
        let at = (row.depth, row.stream_ordering);
        let before_rows = if before > 0 {
            let rows = self.storage.room_events_topological(&row.room_id, at, true, before).await?;
            self.filter_visible(user, &row.room_id, rows).await?
        } else {
            Vec::new()
        };
        let after_rows = if after > 0 {
            let rows = self.storage.room_events_topological(&row.room_id, at, false, after).await?;
            self.filter_visible(user, &row.room_id, rows).await?
        } else {
            Vec::new()
        };
        let start = Position::of_event(before_rows.last().unwrap_or(row));
        let end = Position::of_event(after_rows.last().unwrap_or(row));
        let mut context = json!({
            "start": start,
            "end": end,
            "events_before": self.client_views(&before_rows, Some(requester)).await?,
            "events_after": self.client_views(&after_rows, Some(requester)).await?,
        });
        if include_profile {
            context["profile_info"] = self.historic_profiles(row, &before_rows, &after_rows).await?;
        }
        Ok(context)
    }

    /// Display names and avatars of the senders of some events, as the
    /// room state at `at` has them.
    async fn historic_profiles(&self, at: &EventRow, before: &[EventRow], after: &[EventRow]) -> Result<Value> {
        let mut senders: Vec<&str> =
            std::iter::once(at).chain(before).chain(after).map(|e| e.sender.as_str()).collect();
        senders.sort_unstable();
        senders.dedup();
        let mut profiles = Map::new();
        let Some(group) = at.state_group else { return Ok(Value::Object(profiles)) };
        let keys: Vec<(&str, &str)> = senders.iter().map(|s| ("m.room.member", *s)).collect();
        let found = self.storage.state_group_lookup(group, &keys).await?;
        let ids: Vec<String> = found.into_values().collect();
        for member in self.storage.events_by_id(&ids).await? {
            let Some(user) = member.state_key.clone() else { continue };
            let json: Value = serde_json::from_str(&member.json).map_err(Error::internal)?;
            let content = &json["content"];
            let mut profile = Map::new();
            for (field, key) in [("displayname", "displayname"), ("avatar_url", "avatar_url")] {
                if let Some(value) = content.get(key).filter(|v| v.is_string()) {
                    profile.insert(field.to_owned(), value.clone());
                }
            }
            profiles.insert(user, Value::Object(profile));
        }
        Ok(Value::Object(profiles))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(parse_token(None, true).unwrap(), SearchOrder::Rank { offset: 0 });
        assert_eq!(parse_token(Some("r20"), true).unwrap(), SearchOrder::Rank { offset: 20 });
        assert_eq!(parse_token(Some("s99"), false).unwrap(), SearchOrder::Recent { before: Some(99) });
        assert!(parse_token(Some("s99"), true).is_err());
        assert!(parse_token(Some("r-1"), true).is_err());
        assert!(parse_token(Some("é"), true).is_err());
        assert_eq!(render_token(SearchOrder::Rank { offset: 7 }), "r7");
    }

    #[test]
    fn stems() {
        assert!(same_stem("plants", "plant"));
        assert!(same_stem("plant", "planting"));
        assert!(!same_stem("plantation", "plant"));
        assert!(!same_stem("at", "ate"));
    }
}
