//! Global account data: per-user JSON objects that clients store on the
//! server (room account data arrives with rooms).

use serde_json::Value;

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
        trellis_storage::account_data::put(&mut tx, target, None, data_type, &content.to_string()).await?;
        tx.commit().await.map_err(Error::internal)?;
        self.rooms.poke();
        Ok(())
    }
}
