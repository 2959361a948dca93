//! Device management: listing, renaming and deleting devices, and the
//! account-wide operations that revoke devices (password change,
//! deactivation).

use trellis_storage::devices::{self, DeviceRow};
use trellis_storage::{profiles, users};

use super::Services;
use super::tokens::Requester;
use super::uia::{Flows, stage};
use crate::error::{Error, Result};

impl Services {
    /// The flows for UIA-protected account operations of `user_id`: the
    /// password when the account has one, and single sign-on when an
    /// identity provider is configured (how SSO-only users prove
    /// themselves). An account with neither is offered the password, which
    /// it cannot complete.
    pub async fn account_flows(&self, user_id: &str) -> Result<Flows> {
        let mut flows = Vec::new();
        let has_password = self.storage.user(user_id).await?.is_some_and(|user| user.password_hash.is_some());
        if self.config.password_config.enabled && has_password {
            flows.push(vec![stage::PASSWORD]);
        }
        if !self.plugins.is_empty() && !self.plugins.identity_providers().await.is_empty() {
            flows.push(vec![stage::SSO]);
        }
        if flows.is_empty() {
            flows.push(vec![stage::PASSWORD]);
        }
        Ok(Flows { flows, params: serde_json::Map::new() })
    }

    /// Every device of the requester, with fresh last-seen data.
    pub async fn list_devices(&self, user_id: &str) -> Result<Vec<DeviceRow>> {
        let mut rows = self.storage.devices(user_id).await?;
        self.activity.overlay(&mut rows);
        Ok(rows)
    }

    /// One device, or `M_NOT_FOUND`.
    pub async fn get_device(&self, user_id: &str, device_id: &str) -> Result<DeviceRow> {
        let row = self.storage.device(user_id, device_id).await?.ok_or_else(|| Error::not_found("Device not found"))?;
        let mut rows = [row];
        self.activity.overlay(&mut rows);
        let [row] = rows;
        Ok(row)
    }

    /// Renames a device, or `M_NOT_FOUND`.
    pub async fn rename_device(&self, user_id: &str, device_id: &str, name: Option<&str>) -> Result<()> {
        if name.is_some_and(|n| n.len() > 100) {
            return Err(Error::invalid_param("Device display name is too long (at most 100 bytes)"));
        }
        let mut tx = self.storage.begin().await?;
        let found = devices::set_display_name(&mut tx, user_id, device_id, name).await?;
        tx.commit().await.map_err(Error::internal)?;
        if found { Ok(()) } else { Err(Error::not_found("Device not found")) }
    }

    /// Deletes devices (and their tokens). Unknown ids are skipped, as the
    /// spec asks for `/delete_devices`.
    pub async fn delete_devices(&self, user_id: &str, device_ids: &[String]) -> Result<()> {
        let mut tx = self.storage.begin().await?;
        for device_id in device_ids {
            devices::delete(&mut tx, user_id, device_id).await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        for device_id in device_ids {
            self.tokens.forget_device(user_id, device_id, None);
        }
        Ok(())
    }

    /// Sets a new password; with `logout_devices`, every other device of the
    /// user is logged out and every other token of this device revoked.
    pub async fn change_password(&self, requester: &Requester, new_password: &str, logout_devices: bool) -> Result<()> {
        if !self.config.password_config.enabled {
            return Err(Error::forbidden("Password changes are disabled"));
        }
        super::passwords::check_policy(&self.config.password_config.policy, new_password)?;
        let hash = self.passwords.hash(new_password).await?;
        let mut tx = self.storage.begin().await?;
        users::set_password_hash(&mut tx, &requester.user_id, Some(&hash)).await?;
        if logout_devices {
            devices::delete_all_except(&mut tx, &requester.user_id, Some(&requester.device_id)).await?;
            trellis_storage::tokens::delete_other_tokens_of_device(
                &mut tx,
                &requester.user_id,
                &requester.device_id,
                &requester.token_hash,
            )
            .await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        if logout_devices {
            self.tokens.forget_user(&requester.user_id, Some(&requester.token_hash));
        }
        Ok(())
    }

    /// Deactivates the account for good: no password, no devices, no
    /// tokens; with `erase`, the profile is cleared too.
    pub async fn deactivate(&self, user_id: &str, erase: bool) -> Result<()> {
        if !self.plugins.is_empty() {
            self.plugins.check_can_deactivate_user(user_id, false).await.map_err(Error::from)?;
        }
        let mut tx = self.storage.begin().await?;
        users::deactivate(&mut tx, user_id).await?;
        devices::delete_all_except(&mut tx, user_id, None).await?;
        if erase {
            profiles::set_displayname(&mut tx, user_id, None).await?;
            profiles::set_avatar_url(&mut tx, user_id, None).await?;
        }
        tx.commit().await.map_err(Error::internal)?;
        self.tokens.forget_user(user_id, None);
        tracing::info!(%user_id, erase, "deactivated user");
        if !self.plugins.is_empty() {
            self.plugins.on_user_deactivation_status_changed(user_id, true, false).await;
            if erase {
                self.plugins.on_profile_update(user_id, None, None, false, true).await;
            }
        }
        Ok(())
    }
}
