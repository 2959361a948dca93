//! Global account data: per-user JSON objects that clients store on the
//! server (room account data arrives with rooms).

use serde_json::{Value, json};

use super::Services;
use super::tokens::Requester;
use crate::error::{Error, Result};

/// Types the server manages itself; clients may not write them here.
const SERVER_MANAGED: &[&str] = &["m.fully_read", "m.push_rules"];

impl Services {
    /// Reads one piece of the requester's account data.
    pub async fn get_account_data(&self, requester: &Requester, target: &str, data_type: &str) -> Result<Value> {
        if requester.user_id != target {
            return Err(Error::forbidden("Cannot read another user's account data"));
        }
        let text = self
            .storage
            .account_data(target, None, data_type)
            .await?
            .ok_or_else(|| Error::not_found("Account data not found"))?;
        serde_json::from_str(&text).map_err(Error::internal)
    }

    /// Writes one piece of the requester's account data.
    pub async fn put_account_data(
        &self,
        requester: &Requester,
        target: &str,
        data_type: &str,
        content: &Value,
    ) -> Result<()> {
        if requester.user_id != target {
            return Err(Error::forbidden("Cannot add account data for other users"));
        }
        if SERVER_MANAGED.contains(&data_type) {
            return Err(Error::with_status(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                crate::error::ErrCode::BadJson,
                format!("Cannot set {data_type} through this API"),
            ));
        }
        if data_type.is_empty() || data_type.len() > 255 {
            return Err(Error::invalid_param("Account data type must be 1 to 255 bytes long"));
        }
        if !content.is_object() {
            return Err(Error::bad_json("Account data content must be a JSON object"));
        }
        let mut tx = self.storage.begin().await?;
        let position =
            trellis_storage::account_data::put(&mut tx, target, None, data_type, &content.to_string()).await?;
        tx.commit().await.map_err(Error::internal)?;
        if data_type == super::rooms::visibility::IGNORED_USER_LIST {
            self.rooms.ignored.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(target);
        }
        self.rooms.account_data_written(position);
        if !self.plugins.is_empty() {
            self.plugins.on_account_data_updated(target, None, data_type, content).await;
        }
        Ok(())
    }
}

impl Services {
    fn check_room_account_data_target(requester: &Requester, target: &str, room_id: &str) -> Result<()> {
        if requester.user_id != target {
            return Err(Error::forbidden("Cannot access another user's account data"));
        }
        if ruma::RoomId::parse(room_id).is_err() {
            return Err(Error::invalid_param(format!("{room_id:?} is not a room id")));
        }
        Ok(())
    }

    /// Reads one piece of a user's room account data.
    pub async fn get_room_account_data(
        &self,
        requester: &Requester,
        target: &str,
        room_id: &str,
        data_type: &str,
    ) -> Result<Value> {
        Self::check_room_account_data_target(requester, target, room_id)?;
        let text = self
            .storage
            .account_data(target, Some(room_id), data_type)
            .await?
            .ok_or_else(|| Error::not_found("Account data not found"))?;
        serde_json::from_str(&text).map_err(Error::internal)
    }

    /// Writes one piece of a user's room account data.
    pub async fn put_room_account_data(
        &self,
        requester: &Requester,
        target: &str,
        room_id: &str,
        data_type: &str,
        content: &Value,
    ) -> Result<()> {
        Self::check_room_account_data_target(requester, target, room_id)?;
        if SERVER_MANAGED.contains(&data_type) {
            return Err(Error::with_status(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                crate::error::ErrCode::BadJson,
                format!("Cannot set {data_type} through this API"),
            ));
        }
        if !content.is_object() {
            return Err(Error::bad_json("Account data content must be a JSON object"));
        }
        let mut tx = self.storage.begin().await?;
        let position =
            trellis_storage::account_data::put(&mut tx, target, Some(room_id), data_type, &content.to_string()).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.rooms.account_data_written(position);
        Ok(())
    }

    /// The user's tags on a room (`m.tag` room account data).
    pub async fn room_tags(&self, requester: &Requester, target: &str, room_id: &str) -> Result<Value> {
        Self::check_room_account_data_target(requester, target, room_id)?;
        let text = self.storage.account_data(target, Some(room_id), "m.tag").await?;
        let content: Value = match text {
            Some(text) => serde_json::from_str(&text).map_err(Error::internal)?,
            None => json!({"tags": {}}),
        };
        Ok(json!({"tags": content.get("tags").cloned().unwrap_or_else(|| json!({}))}))
    }

    /// Adds (with `Some`) or removes a tag.
    pub async fn set_room_tag(
        &self,
        requester: &Requester,
        target: &str,
        room_id: &str,
        tag: &str,
        value: Option<&Value>,
    ) -> Result<()> {
        let _guard = self.user_locks.lock(target).await;
        let mut tags = self.room_tags(requester, target, room_id).await?;
        if tag.is_empty() || tag.len() > 255 {
            return Err(Error::invalid_param("Tag names must be 1 to 255 bytes long"));
        }
        match value {
            Some(value) => {
                if !value.is_object() {
                    return Err(Error::bad_json("Tag content must be a JSON object"));
                }
                if value.get("order").is_some_and(|o| !o.is_number()) {
                    return Err(Error::bad_json("'order' must be a number"));
                }
                tags["tags"][tag] = value.clone();
            }
            None => {
                if let Some(map) = tags["tags"].as_object_mut() {
                    map.remove(tag);
                }
            }
        }
        let mut tx = self.storage.begin().await?;
        let position =
            trellis_storage::account_data::put(&mut tx, target, Some(room_id), "m.tag", &tags.to_string()).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.rooms.account_data_written(position);
        Ok(())
    }
}
