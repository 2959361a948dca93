//! The callbacks the server makes into plugins, grouped by Synapse's module
//! API families. Decision callbacks ask plugins in config order and stop at
//! the first that denies; a fault counts as a denial or as an allow according
//! to the plugin's failure policy. Notification callbacks tell every plugin.
//!
//! With no plugin loaded every hook returns at once, so the server pays
//! nothing for the platform until an admin uses it.

mod auth;
pub mod routes;
mod rules;
mod spam;
mod sso;

pub use auth::{AuthOutcome, Expiry};
pub use rules::EventDecision;
pub(crate) use sso::declared_providers as sso_identity_providers;

use crate::FailurePolicy;
use crate::bindings::v0_1::trellis::plugin::types::Verdict;
use crate::fault::Fault;
use crate::host_api::MatrixError;
use crate::imports::matrix_error_from_wit;
use crate::loaded::{Callback, LoadedPlugin};
use crate::manager::PluginManager;

/// Runs one callback of one role in a fresh instance:
/// `call_role!(plugin, Callback::X, role_field, |guest, store| guest.call_x(store, ...))`.
/// Evaluates to `Result<Option<T>, Fault>`; `None` when the plugin does not
/// export the role.
macro_rules! call_role {
    ($plugin:expr, $callback:expr, $role:ident, |$guest:ident, $store:ident| $body:expr) => {{
        let plugin: &$crate::loaded::LoadedPlugin = $plugin;
        match plugin.roles.$role.as_ref() {
            None => Ok(None),
            Some(indices) => match plugin.begin($callback).await {
                Err(fault) => Err(fault),
                Ok(mut call) => {
                    let result = async {
                        let $guest = indices.load(&mut call.store, &call.instance)?;
                        let $store = &mut call.store;
                        $body.await
                    }
                    .await;
                    plugin.finish(call, result).map(Some)
                }
            },
        }
    }};
}
pub(crate) use call_role;

/// Asks every plugin exporting `$role` in order; the first denial wins:
/// `decide!(manager, Callback::X, role, |guest, store| guest.call_x(store, ...))`.
/// Evaluates to `Result<(), MatrixError>`.
macro_rules! decide {
    ($manager:expr, $callback:expr, $role:ident, |$guest:ident, $store:ident| $body:expr) => {{
        let mut outcome: Result<(), $crate::host_api::MatrixError> = Ok(());
        for plugin in $manager.current().iter() {
            if plugin.roles.$role.is_none() || plugin.skips($callback) {
                continue;
            }
            let answer = $crate::hooks::call_role!(plugin.as_ref(), $callback, $role, |$guest, $store| $body);
            if let Err(denial) = $crate::hooks::judge(plugin, $callback, answer) {
                outcome = Err(denial);
                break;
            }
        }
        outcome
    }};
}
pub(crate) use decide;

/// Tells every plugin exporting `$role`; faults are logged and counted only.
macro_rules! notify {
    ($manager:expr, $callback:expr, $role:ident, |$guest:ident, $store:ident| $body:expr) => {{
        for plugin in $manager.current().iter() {
            if plugin.roles.$role.is_none() || plugin.skips($callback) {
                continue;
            }
            let answer = $crate::hooks::call_role!(plugin.as_ref(), $callback, $role, |$guest, $store| $body);
            if let Ok(Some($crate::bindings::v0_1::trellis::plugin::types::Handled::NotImplemented)) = answer {
                plugin.mark_not_implemented($callback);
            }
        }
    }};
}
pub(crate) use notify;

/// Turns one plugin's answer into allow (`Ok`) or a denial.
pub(crate) fn judge(
    plugin: &LoadedPlugin,
    callback: Callback,
    answer: Result<Option<Verdict>, Fault>,
) -> Result<(), MatrixError> {
    match answer {
        Ok(None) | Ok(Some(Verdict::Allow)) => Ok(()),
        Ok(Some(Verdict::NotImplemented)) => {
            plugin.mark_not_implemented(callback);
            Ok(())
        }
        Ok(Some(Verdict::Deny(error))) => Err(matrix_error_from_wit(error)),
        Err(fault) => fault_outcome(plugin, &fault),
    }
}

/// What a fault means under the plugin's failure policy.
pub(crate) fn fault_outcome(plugin: &LoadedPlugin, fault: &Fault) -> Result<(), MatrixError> {
    match plugin.spec.failure_policy {
        FailurePolicy::FailOpen => Ok(()),
        FailurePolicy::FailClosed => Err(MatrixError::forbidden(format!(
            "This request was refused because the server module `{}` could not check it ({})",
            plugin.name(),
            fault.kind()
        ))),
    }
}

/// Asks the plugin for its version (right after loading).
pub(crate) async fn lifecycle_version(plugin: &LoadedPlugin) -> Result<String, Fault> {
    let version = call_role!(plugin, Callback::OnLoad, lifecycle, |guest, store| guest.call_version(store))?;
    Ok(version.unwrap_or_default().chars().take(64).collect())
}

/// Runs the plugin's `on-load`; its error refuses the plugin.
pub(crate) async fn lifecycle_on_load(plugin: &LoadedPlugin) -> Result<(), String> {
    match call_role!(plugin, Callback::OnLoad, lifecycle, |guest, store| guest.call_on_load(store)) {
        Ok(None) | Ok(Some(Ok(()))) => Ok(()),
        Ok(Some(Err(message))) => Err(format!("it refused to start: {message}")),
        Err(fault) => Err(format!("`on-load` failed: {fault}")),
    }
}

impl PluginManager {
    /// Fires a timer of one plugin; returns whether the plugin handled it.
    pub(crate) async fn fire_timer(&self, plugin: &LoadedPlugin, id: &str, payload: &str) -> Result<(), Fault> {
        call_role!(plugin, Callback::OnTimer, lifecycle, |guest, store| guest.call_on_timer(store, id, payload))?;
        Ok(())
    }
}
