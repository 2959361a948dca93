//! The server side of the plugin host interfaces.
//!
//! The plugin crate has already checked the plugin's grants; this side
//! applies the Matrix rules, exactly as for a client request by the same
//! user: a plugin acting as a user can do what that user could, no more.

use std::sync::{Arc, OnceLock, Weak};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};
use trellis_plugin::{ActionResult, MatrixError, PluginEvent, PluginHost, StoredTimer};
use trellis_storage::plugins::TimerRow;

use super::events;
use crate::error::Error;
use crate::service::Services;
use crate::service::rooms::membership::Change;
use crate::service::tokens::Requester;

/// Implements [`PluginHost`] over the services. Built before the services
/// exist (the plugin manager is part of them), then bound to them.
#[derive(Default)]
pub struct ServerHost {
    services: OnceLock<Weak<Services>>,
    server_name: OnceLock<String>,
}

impl std::fmt::Debug for ServerHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHost").finish_non_exhaustive()
    }
}

impl ServerHost {
    /// Connects the host to the services once they exist.
    pub fn bind(&self, services: &Arc<Services>) {
        let _ = self.server_name.set(services.server_name().to_owned());
        let _ = self.services.set(Arc::downgrade(services));
    }

    fn services(&self) -> anyhow::Result<Arc<Services>> {
        self.services.get().and_then(Weak::upgrade).ok_or_else(|| anyhow::anyhow!("the server is shutting down"))
    }
}

/// Splits a service error into a Matrix refusal (for the plugin) or a
/// server failure (which traps the plugin call).
fn action<T>(result: crate::error::Result<T>) -> ActionResult<T> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(Error::Matrix { status, code, message, .. }) => {
            Ok(Err(MatrixError { status: status.as_u16(), errcode: code.as_str().to_owned(), message }))
        }
        Err(Error::Plugin { status, errcode, message }) => {
            Ok(Err(MatrixError { status: status.as_u16(), errcode, message }))
        }
        Err(Error::AuthRequired(_)) => Ok(Err(MatrixError {
            status: 401,
            errcode: "M_FORBIDDEN".into(),
            message: "this action needs user-interactive authentication".into(),
        })),
        Err(Error::Internal(detail)) => Err(anyhow::anyhow!(detail)),
    }
}

fn storage<T>(result: Result<T, trellis_storage::StorageError>) -> anyhow::Result<T> {
    result.map_err(|e| anyhow::anyhow!(e.to_string()))
}

impl Services {
    /// A requester for a local, active user a plugin acts as.
    async fn plugin_requester(&self, user_id: &str) -> crate::error::Result<Requester> {
        let is_local = ruma::UserId::parse(user_id).is_ok_and(|id| id.server_name().as_str() == self.server_name());
        if !is_local {
            return Err(Error::forbidden(format!("{user_id} is not a user of this server")));
        }
        let user = self.storage.user(user_id).await?;
        let user =
            user.filter(|user| !user.deactivated).ok_or_else(|| Error::not_found(format!("Unknown user {user_id}")))?;
        Ok(Requester {
            user_id: user_id.to_owned(),
            device_id: String::new(),
            is_guest: user.is_guest,
            is_admin: user.is_admin,
            token_hash: String::new(),
        })
    }
}

/// A transaction id for an event a plugin sends: unique, so each call sends.
fn plugin_txn() -> String {
    use rand::Rng;
    let suffix: u64 = rand::thread_rng().r#gen();
    format!("plugin.{suffix:016x}")
}

impl PluginHost for ServerHost {
    fn server_name(&self) -> &str {
        self.server_name.get().map_or("", String::as_str)
    }

    fn kv_get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>> {
        async move { storage(self.services()?.storage.plugin_kv_get(plugin, key).await) }.boxed()
    }

    fn kv_set<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        value: &'a [u8],
        quota_bytes: u64,
    ) -> BoxFuture<'a, anyhow::Result<Result<(), String>>> {
        async move {
            let stored = storage(self.services()?.storage.plugin_kv_set(plugin, key, value, quota_bytes).await)?;
            Ok(if stored {
                Ok(())
            } else {
                Err(format!("the plugin's store would exceed its quota of {quota_bytes} bytes"))
            })
        }
        .boxed()
    }

    fn kv_increment<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        delta: i64,
        quota_bytes: u64,
    ) -> BoxFuture<'a, anyhow::Result<Result<i64, String>>> {
        async move { storage(self.services()?.storage.plugin_kv_increment(plugin, key, delta, quota_bytes).await) }
            .boxed()
    }

    fn kv_delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        async move { storage(self.services()?.storage.plugin_kv_delete(plugin, key).await) }.boxed()
    }

    fn kv_list<'a>(
        &'a self,
        plugin: &'a str,
        prefix: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        async move { storage(self.services()?.storage.plugin_kv_keys(plugin, prefix, limit).await) }.boxed()
    }

    fn get_event<'a>(&'a self, event_id: &'a str) -> BoxFuture<'a, anyhow::Result<Option<PluginEvent>>> {
        async move {
            let services = self.services()?;
            let Some(row) = storage(services.storage.event(event_id).await)? else { return Ok(None) };
            let json: Value = serde_json::from_str(&row.json)?;
            Ok(Some(events::from_json(&row.event_id, &row.room_id, &json)))
        }
        .boxed()
    }

    fn get_state<'a>(
        &'a self,
        room_id: &'a str,
        event_type: &'a str,
        state_key: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<PluginEvent>>> {
        async move {
            let services = self.services()?;
            if storage(services.storage.room(room_id).await)?.is_none() {
                return Ok(None);
            }
            let state = services.room_state(room_id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            Ok(state.get(event_type, state_key).map(|entry| events::from_state(room_id, entry)))
        }
        .boxed()
    }

    fn joined_members<'a>(&'a self, room_id: &'a str) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        async move {
            let services = self.services()?;
            if storage(services.storage.room(room_id).await)?.is_none() {
                return Ok(Vec::new());
            }
            let state = services.room_state(room_id).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let mut members: Vec<String> = state
                .current
                .iter()
                .filter(|((event_type, _), entry)| {
                    event_type == "m.room.member"
                        && entry.pdu.content_value().get("membership").and_then(Value::as_str) == Some("join")
                })
                .map(|((_, user), _)| user.clone())
                .collect();
            members.sort();
            Ok(members)
        }
        .boxed()
    }

    fn account_data<'a>(
        &'a self,
        user_id: &'a str,
        room_id: Option<&'a str>,
        data_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Value>>> {
        async move {
            let text = storage(self.services()?.storage.account_data(user_id, room_id, data_type).await)?;
            Ok(text.and_then(|text| serde_json::from_str(&text).ok()))
        }
        .boxed()
    }

    fn resolve_alias<'a>(&'a self, alias: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        async move { Ok(storage(self.services()?.storage.alias(alias).await)?.map(|(room_id, _)| room_id)) }.boxed()
    }

    fn events_by_sender<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>> {
        async move { storage(self.services()?.storage.events_by_sender(room_id, sender, limit).await) }.boxed()
    }

    fn send_event<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        event_type: &'a str,
        state_key: Option<&'a str>,
        content: Value,
    ) -> BoxFuture<'a, ActionResult<String>> {
        async move {
            let services = self.services()?;
            let sent = async {
                let requester = services.plugin_requester(sender).await?;
                let persisted = match state_key {
                    Some(key) => services.send_state(&requester, room_id, event_type, key, content).await?,
                    None => services.send_message(&requester, room_id, event_type, &plugin_txn(), content).await?,
                };
                Ok(persisted.event_id)
            };
            action(sent.await)
        }
        .boxed()
    }

    fn set_membership<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        target: &'a str,
        membership: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>> {
        async move {
            let services = self.services()?;
            let changed = async {
                let requester = services.plugin_requester(sender).await?;
                let own = sender == target;
                match membership {
                    "join" if own => {
                        services.join_room(&requester, room_id, reason).await?;
                    }
                    "leave" if own => services.leave_room(&requester, room_id, reason).await?,
                    "leave" => {
                        let state = services.room_state(room_id).await?;
                        let change = if state.membership(target).as_deref() == Some("ban") {
                            Change::Unban
                        } else {
                            Change::Kick
                        };
                        services
                            .change_membership(&requester, room_id, target, change, reason, &Default::default())
                            .await?;
                    }
                    "invite" => {
                        services
                            .change_membership(&requester, room_id, target, Change::Invite, reason, &Default::default())
                            .await?
                    }
                    "ban" => {
                        services
                            .change_membership(&requester, room_id, target, Change::Ban, reason, &Default::default())
                            .await?
                    }
                    other => {
                        return Err(Error::invalid_param(format!(
                            "cannot set {target}'s membership to {other:?} as {sender}"
                        )));
                    }
                }
                let state = services.room_state(room_id).await?;
                let entry = state.get("m.room.member", target).ok_or_else(|| Error::internal("membership vanished"))?;
                Ok(entry.pdu.event_id.to_string())
            };
            action(changed.await)
        }
        .boxed()
    }

    fn redact<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        event_id: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>> {
        async move {
            let services = self.services()?;
            let redacted = async {
                let requester = services.plugin_requester(sender).await?;
                let content = match reason {
                    Some(reason) => json!({"reason": reason}),
                    None => json!({}),
                };
                Ok(services.redact(&requester, room_id, event_id, &plugin_txn(), content).await?.event_id)
            };
            action(redacted.await)
        }
        .boxed()
    }

    fn register_user<'a>(
        &'a self,
        localpart: &'a str,
        display_name: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>> {
        async move {
            let services = self.services()?;
            let registered = async {
                services.check_username_available(localpart).await?;
                let account = crate::service::registration::NewAccount {
                    localpart: localpart.to_owned(),
                    password: None,
                    admin: false,
                    guest: false,
                    user_type: None,
                    displayname: display_name.map(str::to_owned),
                    login: None,
                    external_id: None,
                };
                Ok(services.create_account(account, None).await?.user_id)
            };
            action(registered.await)
        }
        .boxed()
    }

    fn user_exists<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        async move { Ok(storage(self.services()?.storage.user(user_id).await)?.is_some_and(|user| !user.deactivated)) }
            .boxed()
    }

    fn link_external_id<'a>(
        &'a self,
        provider: &'a str,
        remote_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, ActionResult<()>> {
        async move {
            let services = self.services()?;
            if storage(services.storage.user(user_id).await)?.is_none_or(|user| user.deactivated) {
                return Ok(Err(MatrixError {
                    status: 404,
                    errcode: "M_NOT_FOUND".into(),
                    message: format!("Unknown user {user_id}"),
                }));
            }
            if storage(services.storage.link_external_id(provider, remote_id, user_id).await)? {
                Ok(Ok(()))
            } else {
                Ok(Err(MatrixError {
                    status: 400,
                    errcode: "M_USER_IN_USE".into(),
                    message: format!("{remote_id} at {provider} is already linked to a user"),
                }))
            }
        }
        .boxed()
    }

    fn find_external_id<'a>(
        &'a self,
        provider: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>> {
        async move { storage(self.services()?.storage.user_by_external_id(provider, remote_id).await) }.boxed()
    }

    fn timer_set<'a>(&'a self, timer: &'a StoredTimer) -> BoxFuture<'a, anyhow::Result<()>> {
        async move { storage(self.services()?.storage.plugin_timer_set(&to_row(timer)).await) }.boxed()
    }

    fn timer_delete<'a>(&'a self, plugin: &'a str, id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>> {
        async move { storage(self.services()?.storage.plugin_timer_delete(plugin, id).await) }.boxed()
    }

    fn timers_due<'a>(
        &'a self,
        plugins: &'a [String],
        now_ms: i64,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<StoredTimer>>> {
        async move {
            let rows = storage(self.services()?.storage.plugin_timers_due(plugins, now_ms, limit).await)?;
            Ok(rows.into_iter().map(from_row).collect())
        }
        .boxed()
    }

    fn next_timer_due<'a>(&'a self, plugins: &'a [String]) -> BoxFuture<'a, anyhow::Result<Option<i64>>> {
        async move { storage(self.services()?.storage.plugin_next_timer(plugins).await) }.boxed()
    }

    fn timer_fired<'a>(&'a self, timer: &'a StoredTimer, now_ms: i64) -> BoxFuture<'a, anyhow::Result<()>> {
        async move { storage(self.services()?.storage.plugin_timer_fired(&to_row(timer), now_ms).await) }.boxed()
    }
}

fn to_row(timer: &StoredTimer) -> TimerRow {
    TimerRow {
        plugin: timer.plugin.clone(),
        timer_id: timer.id.clone(),
        due_ts: timer.due_ms,
        interval_ms: timer.interval_ms,
        payload: timer.payload.clone(),
    }
}

fn from_row(row: TimerRow) -> StoredTimer {
    StoredTimer {
        plugin: row.plugin,
        id: row.timer_id,
        due_ms: row.due_ts,
        interval_ms: row.interval_ms,
        payload: row.payload,
    }
}
