//! The user-name picker for new single sign-on users (Synapse's
//! `/_synapse/client/pick_username/…` pages).

use std::sync::Arc;

use serde_json::json;

use super::flow::SsoStep;
use super::pending::PendingSignIn;
use crate::error::{Error, Result};
use crate::service::Services;

impl Services {
    /// The picker form for a waiting sign-in, optionally with an error from
    /// the previous attempt.
    pub fn sso_picker_page(&self, pending: &PendingSignIn, error: Option<&str>) -> SsoStep {
        SsoStep::Page {
            template: "sso_auth_account_details.html",
            status: if error.is_some() { 400 } else { 200 },
            context: json!({
                "idp": {"idp_id": pending.idp_id, "idp_name": pending.idp_name},
                "user_attributes": {
                    "localpart": pending.identity.localpart,
                    "display_name": pending.identity.display_name,
                    "emails": pending.identity.emails,
                },
                "error": error,
            }),
        }
    }

    /// `GET …/pick_username/check?username=`: whether the name is free and
    /// valid.
    pub async fn sso_username_available(&self, localpart: &str) -> Result<bool> {
        match self.check_username_available(&localpart.to_lowercase()).await {
            Ok(()) => Ok(true),
            Err(Error::Matrix { status, .. }) if status.is_client_error() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// `POST …/pick_username/account_details`: creates the account with the
    /// chosen name and finishes the sign-in. A taken or invalid name shows
    /// the form again with the reason.
    pub async fn sso_pick_username(
        self: &Arc<Self>,
        session: &str,
        username: &str,
        use_display_name: bool,
    ) -> Result<SsoStep> {
        let Some(pending) = self.sso_pending.get(session) else {
            return Ok(SsoStep::error(400, "This sign-in has expired. Go back to the application and sign in again."));
        };
        let localpart = username.trim().to_lowercase();
        let created =
            self.register_sso_user(&pending.idp_id, &pending.identity, Some((&localpart, use_display_name))).await;
        let user_id = match created {
            Ok(user_id) => user_id,
            Err(Error::Matrix { status, message, .. }) if status.is_client_error() => {
                return Ok(self.sso_picker_page(&pending, Some(&message)));
            }
            Err(error) => return Err(error),
        };
        self.sso_pending.remove(session);
        self.sso_finish_login(&user_id, &pending.idp_id, &pending.redirect_url, true).await
    }
}
