//! Re-authenticating through single sign-on for user-interactive auth:
//! the spec's fallback page for the `m.login.sso` stage, and completing the
//! stage when the provider confirms the session's own user (and only then).

use serde_json::{Value, json};
use trellis_plugin::{IdentityProvider, SsoIdentity};

use super::flow::{SsoStep, provider_entry};
use super::state::SsoState;
use crate::error::Result;
use crate::percent::percent_encode;
use crate::service::Services;
use crate::service::uia::stage;

impl Services {
    /// `GET /auth/m.login.sso/fallback/web?session=…[&idp=…]`: the page that
    /// sends the user to re-authenticate, or (with `idp`) the provider.
    pub async fn sso_uia_page(&self, session_id: &str, idp_id: Option<&str>) -> Result<SsoStep> {
        let Some(Some(user_id)) = self.uia_session_owner(session_id).await? else {
            return Ok(SsoStep::error(400, "This confirmation has expired. Go back to the application and try again."));
        };
        let providers = self.sso_providers().await;
        if let Some(id) = idp_id {
            let Some((plugin, idp)) = providers.iter().find(|(_, idp)| idp.id == id) else {
                return Ok(SsoStep::error(404, format!("Unknown identity provider {id}")));
            };
            return Ok(self.start_at(plugin, &idp.id, &SsoState::Uia { session: session_id.to_owned() }).await);
        }
        // Offer the providers the user has signed in with, or all of them.
        let used = self.storage.external_providers_of(&user_id).await?;
        let offered: Vec<&IdentityProvider> = if providers.iter().any(|(_, idp)| used.contains(&idp.id)) {
            providers.iter().map(|(_, idp)| idp).filter(|idp| used.contains(&idp.id)).collect()
        } else {
            providers.iter().map(|(_, idp)| idp).collect()
        };
        if offered.is_empty() {
            return Ok(SsoStep::error(404, "Single sign-on is not configured"));
        }
        let base = self.base_url();
        let listed: Vec<Value> = offered
            .iter()
            .map(|idp| {
                let url = format!(
                    "{base}_matrix/client/v3/auth/{}/fallback/web?session={}&idp={}",
                    stage::SSO,
                    percent_encode(session_id),
                    percent_encode(&idp.id)
                );
                provider_entry(idp, &url)
            })
            .collect();
        Ok(SsoStep::Page {
            template: "sso_auth_confirm.html",
            status: 200,
            context: json!({
                "providers": listed,
                "description": "The application asks you to confirm your identity before it goes on.",
                "user_id": user_id,
            }),
        })
    }

    /// The provider confirmed someone for a UIA session: the stage is
    /// complete only if that someone is the session's user.
    pub(super) async fn sso_confirm_uia(
        &self,
        idp: &IdentityProvider,
        identity: &SsoIdentity,
        session_id: &str,
    ) -> Result<SsoStep> {
        let Some(Some(expected)) = self.uia_session_owner(session_id).await? else {
            return Ok(SsoStep::error(400, "This confirmation has expired. Go back to the application and try again."));
        };
        let signed_in = self.linked_account(&idp.id, identity).await?;
        if signed_in.as_deref() != Some(expected.as_str()) {
            tracing::info!(user = %expected, idp = %idp.id, "single sign-on confirmation by a different account refused");
            return Ok(SsoStep::Page {
                template: "sso_auth_bad_user.html",
                status: 403,
                context: json!({"user_id_to_verify": expected}),
            });
        }
        self.complete_uia_stage(session_id, stage::SSO).await?;
        Ok(SsoStep::Page { template: "sso_auth_success.html", status: 200, context: json!({}) })
    }
}
