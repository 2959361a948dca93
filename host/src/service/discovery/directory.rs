//! The published room directory: `/publicRooms` and
//! `/directory/list/room/{roomId}`.
//!
//! Listing order (the server's choice since spec v1.19) is largest room
//! first, then room id, so that pages are stable. Pagination tokens are
//! offsets into that order (`p<offset>`); `next_batch` goes forwards and
//! `prev_batch` backwards, as the spec asks.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::RoomSummary;
use crate::error::{ErrCode, Error, Result};
use crate::service::Services;
use crate::service::rooms::power_levels::PowerLevels;
use crate::service::tokens::Requester;

/// Rooms per page when the client does not say.
const DEFAULT_LIMIT: u64 = 100;
/// Most rooms per page.
const MAX_LIMIT: u64 = 500;

/// `filter` of `POST /publicRooms`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicRoomsFilter {
    /// Matched against name, topic and canonical alias.
    #[serde(default)]
    pub generic_search_term: Option<String>,
    /// Room types to list (`null` for rooms without a type).
    #[serde(default)]
    pub room_types: Option<Vec<Option<String>>>,
}

/// A `/publicRooms` request (the `GET` query or the `POST` body).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PublicRoomsRequest {
    /// Page size.
    #[serde(default)]
    pub limit: Option<i64>,
    /// Pagination token.
    #[serde(default)]
    pub since: Option<String>,
    /// Filter.
    #[serde(default)]
    pub filter: Option<PublicRoomsFilter>,
    /// All networks, including application services' (none exist here).
    #[serde(default)]
    pub include_all_networks: Option<bool>,
    /// One third-party network.
    #[serde(default)]
    pub third_party_instance_id: Option<String>,
}

fn parse_since(token: &str) -> Result<usize> {
    token
        .strip_prefix('p')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::invalid_param(format!("Invalid pagination token {token:?}")))
}

/// Whether a room matches a `generic_search_term` (case-insensitive
/// substring of its name, topic or canonical alias).
fn matches_term(summary: &RoomSummary, term: &str) -> bool {
    let term = term.trim().to_lowercase();
    if term.is_empty() {
        return true;
    }
    [&summary.name, &summary.topic, &summary.canonical_alias]
        .into_iter()
        .flatten()
        .any(|text| text.to_lowercase().contains(&term))
}

impl Services {
    /// `GET`/`POST /publicRooms`. `server` is the directory asked for
    /// (this server when `None`); `requester` is `None` for an
    /// unauthenticated `GET`.
    pub async fn public_rooms(
        &self,
        requester: Option<&Requester>,
        server: Option<&str>,
        request: &PublicRoomsRequest,
    ) -> Result<Value> {
        if let Some(server) = server.filter(|s| *s != self.server_name()) {
            ruma::ServerName::parse(server)
                .map_err(|_| Error::invalid_param(format!("Invalid server name {server:?}")))?;
            // Like Synapse: proxying to another server needs a signed-in user.
            if requester.is_none() {
                return Err(Error::new(ErrCode::MissingToken, "Missing access token"));
            }
            return Err(Error::with_status(
                StatusCode::BAD_GATEWAY,
                ErrCode::Unknown,
                format!("Cannot fetch the room directory of {server}: federation is not supported yet"),
            ));
        }
        if request.include_all_networks == Some(true) && request.third_party_instance_id.is_some() {
            return Err(Error::invalid_param("Can't use include_all_networks with an explicit network"));
        }
        let limit = match request.limit {
            None | Some(0) => DEFAULT_LIMIT,
            Some(n) if n < 0 => return Err(Error::invalid_param("limit must not be negative")),
            Some(n) => u64::try_from(n).unwrap_or(MAX_LIMIT).min(MAX_LIMIT),
        };
        let limit = usize::try_from(limit).unwrap_or(100);
        let offset = request.since.as_deref().map(parse_since).transpose()?.unwrap_or(0);
        let mut rooms = Vec::new();
        // No application service publishes rooms to a third-party network
        // yet, so a request for one network lists nothing.
        if request.third_party_instance_id.is_none() {
            let filter = request.filter.clone().unwrap_or_default();
            for room_id in self.storage.public_room_ids().await? {
                let state = self.room_state(&room_id).await?;
                let summary = RoomSummary::of(&state);
                if let Some(term) = &filter.generic_search_term
                    && !matches_term(&summary, term)
                {
                    continue;
                }
                if let Some(types) = &filter.room_types
                    && !types.contains(&summary.room_type)
                {
                    continue;
                }
                rooms.push(summary);
            }
        }
        rooms.sort_by(|a, b| b.num_joined_members.cmp(&a.num_joined_members).then_with(|| a.room_id.cmp(&b.room_id)));
        let total = rooms.len();
        let chunk: Vec<Value> = rooms.iter().skip(offset).take(limit).map(|r| Value::Object(r.chunk())).collect();
        let mut body = json!({"chunk": chunk, "total_room_count_estimate": total});
        if offset.saturating_add(limit) < total {
            body["next_batch"] = json!(format!("p{}", offset + limit));
        }
        if offset > 0 {
            body["prev_batch"] = json!(format!("p{}", offset.saturating_sub(limit)));
        }
        Ok(body)
    }

    /// `GET /directory/list/room/{roomId}`.
    pub async fn room_directory_visibility(&self, room_id: &str) -> Result<&'static str> {
        let room = self.storage.room(room_id).await?.ok_or_else(|| Error::not_found("Room not found"))?;
        Ok(if room.is_public { "public" } else { "private" })
    }

    /// `PUT /directory/list/room/{roomId}`: server admins, and room
    /// members allowed to change the canonical alias, may publish or
    /// unpublish a room (as in Synapse).
    pub async fn set_room_directory_visibility(
        &self,
        requester: &Requester,
        room_id: &str,
        visibility: &str,
    ) -> Result<()> {
        let public = match visibility {
            "public" => true,
            "private" => false,
            other => return Err(Error::invalid_param(format!("Invalid visibility {other:?}"))),
        };
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Room not found"));
        }
        if !requester.is_admin {
            let state = self.room_state(room_id).await?;
            if state.membership(&requester.user_id).as_deref() != Some("join") {
                return Err(Error::forbidden("You are not in this room"));
            }
            if !PowerLevels::of(&state).may_send(&requester.user_id, "m.room.canonical_alias", true) {
                return Err(Error::forbidden("You are not allowed to change this room's directory visibility"));
            }
        }
        if !self.plugins.is_empty() {
            if public {
                self.plugins.user_may_publish_room(&requester.user_id, room_id).await?;
            }
            self.plugins.check_visibility_can_be_modified(room_id, &requester.user_id, visibility).await?;
        }
        let mut tx = self.storage.begin().await?;
        trellis_storage::rooms::set_public(&mut tx, room_id, public).await?;
        tx.commit().await.map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(parse_since("p20").unwrap(), 20);
        assert!(parse_since("20").is_err());
        assert!(parse_since("p-1").is_err());
    }

    #[test]
    fn search_terms() {
        let summary = RoomSummary {
            room_id: "!a".into(),
            name: Some("Garden Club".into()),
            topic: Some("Ëverything about plants".into()),
            canonical_alias: Some("#garden:example.org".into()),
            avatar_url: None,
            join_rule: Some("public".into()),
            world_readable: false,
            guest_can_join: false,
            room_type: None,
            room_version: "12".into(),
            encryption: None,
            num_joined_members: 1,
            allowed_room_ids: Vec::new(),
        };
        assert!(matches_term(&summary, "club"));
        assert!(matches_term(&summary, "ëVERYTHING"));
        assert!(matches_term(&summary, "#garden"));
        assert!(!matches_term(&summary, "kitchen"));
        assert!(matches_term(&summary, "  "));
    }
}
