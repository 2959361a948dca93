//! Single sign-on providers (`trellis:sso/provider`). Only plugins granted
//! `capabilities.sso` are asked: the identities they report are trusted.

use std::sync::Arc;

use super::call_role;
use crate::bindings::sso_v0_1::exports::trellis::sso::provider as wit;
use crate::fault::Fault;
use crate::host_api::{IdentityProvider, PluginRequest, PluginResponse, SsoFailure, SsoIdentity, SsoOutcome};
use crate::imports::{request_to_wit, response_from_wit};
use crate::loaded::{Callback, LoadedPlugin};
use crate::manager::PluginManager;

/// The spec's grammar for identity provider ids.
fn valid_idp_id(id: &str) -> bool {
    (1..=255).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._~-".contains(&b))
}

fn from_wit_idp(idp: wit::Idp) -> IdentityProvider {
    IdentityProvider {
        id: idp.id,
        name: idp.name,
        icon: idp.icon,
        brand: idp.brand,
        callback_paths: idp.callback_paths,
    }
}

fn from_wit_failure(failure: wit::Failure) -> SsoFailure {
    SsoFailure { status: failure.status, message: failure.message }
}

/// The providers one plugin declared; asked once per load (like login
/// types). Invalid ids are logged and left out; a fault is not remembered.
pub(crate) async fn declared_providers(plugin: &LoadedPlugin) -> &[IdentityProvider] {
    let eligible = plugin.spec.capabilities.sso && plugin.roles.sso_provider.is_some();
    if eligible && plugin.identity_providers.get().is_none() && !plugin.is_disabled() {
        let answer = call_role!(plugin, Callback::IdentityProviders, sso_provider, |guest, store| guest
            .call_identity_providers(store));
        match answer {
            Ok(offered) => {
                let offered = offered.flatten().unwrap_or_default();
                let mut valid = Vec::with_capacity(offered.len());
                for idp in offered.into_iter().map(from_wit_idp) {
                    if valid_idp_id(&idp.id) {
                        valid.push(idp);
                    } else {
                        tracing::warn!(plugin = plugin.name(), id = %idp.id, "identity provider id is invalid; ignored");
                    }
                }
                let _ = plugin.identity_providers.set(valid);
            }
            Err(_) => return &[],
        }
    }
    plugin.identity_providers.get().map_or(&[], Vec::as_slice)
}

impl PluginManager {
    /// Every identity provider offered by granted plugins, in config order,
    /// with the plugin that serves it. An id offered twice keeps its first
    /// provider.
    pub async fn identity_providers(&self) -> Vec<(Arc<LoadedPlugin>, IdentityProvider)> {
        let mut providers: Vec<(Arc<LoadedPlugin>, IdentityProvider)> = Vec::new();
        for plugin in self.current().iter() {
            for idp in declared_providers(plugin).await {
                if providers.iter().any(|(_, known)| known.id == idp.id) {
                    tracing::warn!(plugin = plugin.name(), id = %idp.id, "identity provider id already taken; ignored");
                    continue;
                }
                providers.push((plugin.clone(), idp.clone()));
            }
        }
        providers
    }

    /// The provider whose callback path this is (known since load).
    pub fn sso_callback(&self, path: &str) -> Option<(Arc<LoadedPlugin>, IdentityProvider)> {
        self.current().iter().find_map(|plugin| {
            let idp =
                plugin.identity_providers.get()?.iter().find(|idp| idp.callback_paths.iter().any(|p| p == path))?;
            Some((plugin.clone(), idp.clone()))
        })
    }

    /// Asks a provider where to send the browser.
    pub async fn sso_start(
        &self,
        plugin: &LoadedPlugin,
        idp: &str,
        state: &str,
        base_url: &str,
    ) -> Result<Result<PluginResponse, SsoFailure>, Fault> {
        let answer = call_role!(plugin, Callback::SsoStart, sso_provider, |guest, store| guest
            .call_start(store, idp, state, base_url))?;
        Ok(match answer {
            Some(Ok(response)) => Ok(response_from_wit(response)),
            Some(Err(failure)) => Err(from_wit_failure(failure)),
            None => Err(SsoFailure { status: 404, message: format!("Unknown identity provider {idp}") }),
        })
    }

    /// Hands what the provider sent back to the plugin.
    pub async fn sso_finish(
        &self,
        plugin: &LoadedPlugin,
        idp: &str,
        request: PluginRequest,
        base_url: &str,
    ) -> Result<SsoOutcome, Fault> {
        let request = request_to_wit(request);
        let answer = call_role!(plugin, Callback::SsoFinish, sso_provider, |guest, store| guest
            .call_finish(store, idp, &request, base_url))?;
        Ok(match answer {
            Some(wit::Outcome::SignedIn(signed_in)) => SsoOutcome::SignedIn {
                identity: SsoIdentity {
                    remote_id: signed_in.identity.remote_id,
                    localpart: signed_in.identity.localpart,
                    display_name: signed_in.identity.display_name,
                    emails: signed_in.identity.emails,
                    may_register: signed_in.identity.may_register,
                    existing_localpart: signed_in.identity.existing_localpart,
                },
                state: signed_in.state,
            },
            Some(wit::Outcome::Failure(failure)) => SsoOutcome::Failure(from_wit_failure(failure)),
            Some(wit::Outcome::Respond(response)) => SsoOutcome::Respond(response_from_wit(response)),
            None => {
                SsoOutcome::Failure(SsoFailure { status: 404, message: format!("Unknown identity provider {idp}") })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::valid_idp_id;

    #[test]
    fn idp_ids_follow_the_spec_grammar() {
        assert!(valid_idp_id("cas"));
        assert!(valid_idp_id("oidc-github_2.x~y"));
        assert!(!valid_idp_id(""));
        assert!(!valid_idp_id("CAS"));
        assert!(!valid_idp_id("a/b"));
        assert!(!valid_idp_id(&"a".repeat(256)));
    }
}
