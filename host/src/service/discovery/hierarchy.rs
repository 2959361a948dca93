//! Room summaries (`GET /_matrix/client/v1/room_summary/{roomIdOrAlias}`,
//! MSC3266, spec v1.15) and the space hierarchy
//! (`GET /_matrix/client/v1/rooms/{roomId}/hierarchy`).
//!
//! The hierarchy is walked depth first along `m.space.child` events with a
//! non-empty `via`, children in the spec's order, each room once. Only
//! rooms this server knows are summarised (remote rooms would need
//! federation), and only those the requester may preview. The walk is
//! deterministic, so a pagination token is simply how many rooms were
//! already returned, together with the `suggested_only` and `max_depth`
//! of the first request (which must not change between pages).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::RoomSummary;
use crate::error::{Error, Result};
use crate::service::Services;
use crate::service::rooms::RoomState;
use crate::service::tokens::Requester;

/// Rooms per page when the client does not say, and the most per page.
const DEFAULT_LIMIT: u64 = 50;
const MAX_LIMIT: u64 = 100;
/// How deep the walk goes when the client does not say, and at most.
const MAX_DEPTH: u64 = 20;
/// Most rooms looked at in one request, so a huge space cannot exhaust
/// the server.
const MAX_ROOMS_VISITED: usize = 2000;

/// A hierarchy request.
#[derive(Debug, Clone, Default)]
pub struct HierarchyRequest {
    /// Only children marked `suggested`.
    pub suggested_only: bool,
    /// Page size.
    pub limit: Option<u64>,
    /// How deep to go (0: the root only).
    pub max_depth: Option<u64>,
    /// Pagination token.
    pub from: Option<String>,
}

/// A position in a hierarchy walk: rooms already returned, with the
/// parameters of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct HierarchyToken {
    skip: usize,
    suggested_only: bool,
    max_depth: Option<u64>,
}

impl HierarchyToken {
    fn render(&self) -> String {
        let depth = self.max_depth.map_or_else(|| "-".to_owned(), |d| d.to_string());
        format!("h{}_{}_{depth}", self.skip, u8::from(self.suggested_only))
    }

    fn parse(token: &str) -> Result<Self> {
        let bad = || Error::invalid_param(format!("Unknown pagination token {token:?}"));
        let mut parts = token.strip_prefix('h').ok_or_else(bad)?.split('_');
        let skip = parts.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
        let suggested_only = match parts.next() {
            Some("0") => false,
            Some("1") => true,
            _ => return Err(bad()),
        };
        let max_depth = match parts.next() {
            Some("-") => None,
            Some(depth) => Some(depth.parse().map_err(|_| bad())?),
            None => return Err(bad()),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self { skip, suggested_only, max_depth })
    }
}

/// Whether an `m.space.child` content links a child: `via` is a
/// non-empty list of strings.
fn has_valid_via(content: &Value) -> bool {
    content.get("via").and_then(Value::as_array).is_some_and(|via| !via.is_empty() && via.iter().all(Value::is_string))
}

/// The `order` of a child, if valid: 1 to 50 characters between `\x20`
/// and `\x7E`.
fn valid_order(content: &Value) -> Option<&str> {
    content
        .get("order")
        .and_then(Value::as_str)
        .filter(|o| !o.is_empty() && o.len() <= 50 && o.bytes().all(|b| (0x20..=0x7E).contains(&b)))
}

/// The stripped `m.space.child` events of a space, in the spec's order
/// ("Ordering of children within a space").
fn children_state(state: &RoomState, suggested_only: bool) -> Vec<Value> {
    let mut children: Vec<(Option<String>, i64, String, Value)> = state
        .current
        .iter()
        .filter(|((t, _), _)| t == "m.space.child")
        .filter_map(|((_, child), entry)| {
            let content = entry.pdu.content_value();
            if !has_valid_via(&content) {
                return None;
            }
            if suggested_only && content.get("suggested") != Some(&Value::Bool(true)) {
                return None;
            }
            let ts = i64::from(entry.pdu.origin_server_ts.get());
            let stripped = json!({
                "type": "m.space.child",
                "state_key": child,
                "content": content,
                "sender": entry.pdu.sender.as_str(),
                "origin_server_ts": ts,
            });
            Some((valid_order(&content).map(str::to_owned), ts, child.clone(), stripped))
        })
        .collect();
    // Children with an order first (by order), then the rest; ties by
    // timestamp, then room id.
    children.sort_by(|a, b| (a.0.is_none(), &a.0, a.1, &a.2).cmp(&(b.0.is_none(), &b.0, b.1, &b.2)));
    children.into_iter().map(|(_, _, _, stripped)| stripped).collect()
}

impl Services {
    /// `GET /room_summary/{roomIdOrAlias}`: the summary of a room the
    /// requester (or, without a token, anyone) may preview; otherwise, and
    /// for rooms this server does not know, `404 M_NOT_FOUND`.
    pub async fn get_room_summary(&self, requester: Option<&Requester>, room: &str) -> Result<Value> {
        let room_id = self.resolve_room(room).await?;
        let state = self.room_state(&room_id).await?;
        let summary = RoomSummary::of(&state);
        let user = requester.map(|r| r.user_id.as_str());
        if !self.may_preview(&state, &summary, user).await? {
            return Err(Error::not_found("Room not found or is not accessible"));
        }
        let mut body = summary.full();
        if let Some(user) = user {
            let membership = self.storage.membership(&room_id, user).await?.map(|m| m.membership);
            body.insert("membership".into(), json!(membership.unwrap_or_else(|| "leave".to_owned())));
        }
        Ok(Value::Object(body))
    }

    /// `GET /rooms/{roomId}/hierarchy`.
    pub async fn room_hierarchy(&self, requester: &Requester, root: &str, request: &HierarchyRequest) -> Result<Value> {
        let limit = match request.limit {
            Some(0) => return Err(Error::invalid_param("limit must be greater than zero")),
            Some(n) => n.min(MAX_LIMIT),
            None => DEFAULT_LIMIT,
        };
        let limit = usize::try_from(limit).unwrap_or(50);
        let skip = match &request.from {
            Some(token) => {
                let token = HierarchyToken::parse(token)?;
                if token.suggested_only != request.suggested_only || token.max_depth != request.max_depth {
                    return Err(Error::invalid_param(
                        "suggested_only and max_depth cannot change on paginated requests",
                    ));
                }
                token.skip
            }
            None => 0,
        };
        let max_depth = request.max_depth.unwrap_or(MAX_DEPTH).min(MAX_DEPTH);
        let user = requester.user_id.as_str();

        // The root must be known and visible: 403 otherwise, per the spec.
        let forbidden = || Error::forbidden("You are not allowed to view this room");
        if self.storage.room(root).await?.is_none() {
            return Err(forbidden());
        }
        let root_state = self.room_state(root).await?;
        if !self.may_preview(&root_state, &RoomSummary::of(&root_state), Some(user)).await? {
            return Err(forbidden());
        }

        // Depth-first: the next room to visit is last on the stack.
        let mut stack: Vec<(String, u64)> = vec![(root.to_owned(), 0)];
        let mut seen: HashSet<String> = HashSet::new();
        let mut found: Vec<Value> = Vec::new();
        let wanted = skip.saturating_add(limit);
        let mut more = false;
        let mut visited = 0;
        while let Some((room_id, depth)) = stack.pop() {
            if !seen.insert(room_id.clone()) {
                continue;
            }
            if found.len() == wanted {
                // Something is left to look at: it may yield more rooms.
                more = true;
                break;
            }
            if visited == MAX_ROOMS_VISITED {
                // Every page walks from the root again, so no later page
                // could get further: stop here for good.
                break;
            }
            visited += 1;
            if self.storage.room(&room_id).await?.is_none() {
                continue;
            }
            let state = self.room_state(&room_id).await?;
            let summary = RoomSummary::of(&state);
            if !self.may_preview(&state, &summary, Some(user)).await? {
                continue;
            }
            let children = if summary.room_type.as_deref() == Some("m.space") {
                children_state(&state, request.suggested_only)
            } else {
                Vec::new()
            };
            if depth < max_depth {
                for child in children.iter().rev() {
                    if let Some(child_id) = child.get("state_key").and_then(Value::as_str)
                        && !seen.contains(child_id)
                    {
                        stack.push((child_id.to_owned(), depth + 1));
                    }
                }
            }
            let mut entry: Map<String, Value> = summary.full();
            entry.insert("children_state".into(), Value::Array(children));
            found.push(Value::Object(entry));
        }
        let page: Vec<Value> = found.into_iter().skip(skip).collect();
        let mut body = json!({"rooms": page});
        if more {
            let token = HierarchyToken {
                skip: skip + page.len(),
                suggested_only: request.suggested_only,
                max_depth: request.max_depth,
            };
            body["next_batch"] = json!(token.render());
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for token in [
            HierarchyToken { skip: 0, suggested_only: false, max_depth: None },
            HierarchyToken { skip: 42, suggested_only: true, max_depth: Some(3) },
        ] {
            assert_eq!(HierarchyToken::parse(&token.render()).unwrap(), token);
        }
        assert!(HierarchyToken::parse("h1_2_3").is_err());
        assert!(HierarchyToken::parse("x").is_err());
        assert!(HierarchyToken::parse("h1_0_-_9").is_err());
    }

    #[test]
    fn child_links() {
        assert!(has_valid_via(&json!({"via": ["example.org"]})));
        assert!(!has_valid_via(&json!({"via": []})));
        assert!(!has_valid_via(&json!({"via": [1]})));
        assert!(!has_valid_via(&json!({})));
        assert_eq!(valid_order(&json!({"order": " "})), Some(" "));
        assert_eq!(valid_order(&json!({"order": "é"})), None);
        assert_eq!(valid_order(&json!({"order": "x".repeat(51)})), None);
        assert_eq!(valid_order(&json!({"order": 5})), None);
    }
}
