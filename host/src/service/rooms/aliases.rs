//! Room aliases on this server: `/directory/room/{alias}` and
//! `/rooms/{roomId}/aliases`.

use axum::http::StatusCode;

use super::power_levels::PowerLevels;
use crate::error::{ErrCode, Error, Result};
use crate::service::Services;
use crate::service::tokens::Requester;

impl Services {
    fn check_local_alias(&self, alias: &str) -> Result<()> {
        let parsed = ruma::RoomAliasId::parse(alias)
            .map_err(|_| Error::invalid_param(format!("Invalid room alias {alias:?}")))?;
        if parsed.server_name().as_str() != self.server_name() {
            return Err(Error::invalid_param("Room alias must be on this server"));
        }
        Ok(())
    }

    /// Creates an alias for a room.
    pub async fn create_alias(&self, requester: &Requester, alias: &str, room_id: &str) -> Result<()> {
        self.check_local_alias(alias)?;
        if self.storage.room(room_id).await?.is_none() {
            return Err(Error::not_found("Unknown room"));
        }
        if !self.plugins.is_empty() {
            self.plugins.user_may_create_room_alias(&requester.user_id, alias).await?;
        }
        let mut tx = self.storage.begin().await?;
        if let Err(err) = trellis_storage::rooms::insert_alias(&mut tx, alias, room_id, &requester.user_id).await {
            return Err(if err.is_unique_violation() {
                Error::with_status(StatusCode::CONFLICT, ErrCode::Unknown, format!("Room alias {alias} already exists"))
            } else {
                err.into()
            });
        }
        tx.commit().await.map_err(Error::internal)
    }

    /// Looks an alias up: the room and the servers that know it.
    pub async fn lookup_alias(&self, alias: &str) -> Result<(String, Vec<String>)> {
        ruma::RoomAliasId::parse(alias).map_err(|_| Error::invalid_param(format!("Invalid room alias {alias:?}")))?;
        let (room_id, _) = self
            .storage
            .alias(alias)
            .await?
            .ok_or_else(|| Error::not_found(format!("Room alias {alias} not found")))?;
        Ok((room_id, vec![self.server_name().to_owned()]))
    }

    /// Deletes an alias: its creator, a server admin, or a room member who
    /// may change the canonical alias may do so.
    pub async fn delete_alias(&self, requester: &Requester, alias: &str) -> Result<()> {
        self.check_local_alias(alias)?;
        let (room_id, creator) = self
            .storage
            .alias(alias)
            .await?
            .ok_or_else(|| Error::not_found(format!("Room alias {alias} not found")))?;
        let allowed = creator == requester.user_id || requester.is_admin || {
            let state = self.room_state(&room_id).await?;
            state.membership(&requester.user_id).as_deref() == Some("join")
                && PowerLevels::of(&state).may_send(&requester.user_id, "m.room.canonical_alias", true)
        };
        if !allowed {
            return Err(Error::forbidden("You may not delete this alias"));
        }
        let mut tx = self.storage.begin().await?;
        trellis_storage::rooms::delete_alias(&mut tx, alias).await?;
        tx.commit().await.map_err(Error::internal)
    }

    /// `GET /rooms/{roomId}/aliases`.
    pub async fn room_aliases(&self, requester: &Requester, room_id: &str) -> Result<Vec<String>> {
        self.check_can_read_room(&requester.user_id, room_id).await?;
        Ok(self.storage.aliases_of_room(room_id).await?)
    }
}
