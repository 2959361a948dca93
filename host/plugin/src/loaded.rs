//! One loaded plugin: its compiled component, the role interfaces it
//! exports, and the machinery that runs a call inside its limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{Engine, Store, UpdateDeadline};

use crate::bindings::sso_v0_1::exports::trellis::sso::provider as sso_provider;
use crate::bindings::v0_1::exports::trellis::plugin as roles;
use crate::capabilities::Capabilities;
use crate::engine::TICK;
use crate::fault::Fault;
use crate::spec::{PluginKind, PluginSpec};
use crate::state::{PluginContext, StoreState};
use crate::stats::{PluginSnapshot, PluginStats};
use crate::versions;

/// Every callback the host may make, for the "not implemented" memory and
/// for log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Callback {
    OnLoad,
    OnTimer,
    CheckEventForSpam,
    ShouldDropFederatedEvent,
    UserMayJoinRoom,
    UserMayInvite,
    InviteVisibleToInvitee,
    FederatedUserMayInvite,
    UserMaySend3pidInvite,
    UserMayCreateRoom,
    UserMayCreateRoomAlias,
    UserMayPublishRoom,
    UserMaySendStateEvent,
    CheckUsernameForSpam,
    CheckRegistrationForSpam,
    CheckMediaFileForSpam,
    CheckLoginForSpam,
    CheckEventAllowed,
    OnCreateRoom,
    CheckVisibilityCanBeModified,
    OnNewEvent,
    CheckCanShutdownRoom,
    CheckCanDeactivateUser,
    OnProfileUpdate,
    OnUserDeactivationStatusChanged,
    OnThreepidBind,
    OnThreepidUnbind,
    CheckAuth,
    OnLoggedOut,
    GetUsernameForRegistration,
    GetDisplaynameForRegistration,
    IsUserExpired,
    OnUserRegistration,
    OnUserLogin,
    OnAccountDataUpdated,
    GetRatelimitOverride,
    AddFieldToUnsigned,
    HandleRequest,
    IdentityProviders,
    SsoStart,
    SsoFinish,
}

/// The role interfaces a component exports, found once at load.
#[derive(Default)]
pub struct RoleIndices {
    pub lifecycle: Option<roles::lifecycle::GuestIndices>,
    pub spam_check: Option<roles::spam_check::GuestIndices>,
    pub third_party_rules: Option<roles::third_party_rules::GuestIndices>,
    pub password_auth: Option<roles::password_auth::GuestIndices>,
    pub account_validity: Option<roles::account_validity::GuestIndices>,
    pub account_hooks: Option<roles::account_hooks::GuestIndices>,
    pub http_routes: Option<roles::http_routes::GuestIndices>,
    pub sso_provider: Option<sso_provider::GuestIndices>,
}

impl RoleIndices {
    fn find(pre: &InstancePre<StoreState>) -> Self {
        Self {
            lifecycle: roles::lifecycle::GuestIndices::new(pre).ok(),
            spam_check: roles::spam_check::GuestIndices::new(pre).ok(),
            third_party_rules: roles::third_party_rules::GuestIndices::new(pre).ok(),
            password_auth: roles::password_auth::GuestIndices::new(pre).ok(),
            account_validity: roles::account_validity::GuestIndices::new(pre).ok(),
            account_hooks: roles::account_hooks::GuestIndices::new(pre).ok(),
            http_routes: roles::http_routes::GuestIndices::new(pre).ok(),
            sso_provider: sso_provider::GuestIndices::new(pre).ok(),
        }
    }

    fn names(&self) -> Vec<String> {
        [
            ("lifecycle", self.lifecycle.is_some()),
            ("spam-check", self.spam_check.is_some()),
            ("third-party-rules", self.third_party_rules.is_some()),
            ("password-auth", self.password_auth.is_some()),
            ("account-validity", self.account_validity.is_some()),
            ("account-hooks", self.account_hooks.is_some()),
            ("http-routes", self.http_routes.is_some()),
            ("sso-provider", self.sso_provider.is_some()),
        ]
        .into_iter()
        .filter(|(_, exported)| *exported)
        .map(|(name, _)| name.to_owned())
        .collect()
    }
}

/// The error the epoch callback raises at the deadline.
#[derive(Debug)]
struct DeadlineExceeded;

impl std::fmt::Display for DeadlineExceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "deadline exceeded")
    }
}

impl std::error::Error for DeadlineExceeded {}

/// A plugin ready to be called.
pub struct LoadedPlugin {
    pub ctx: Arc<PluginContext>,
    pub spec: PluginSpec,
    pub roles: RoleIndices,
    pub wit_version: &'static str,
    pub imports: Vec<String>,
    pub from_cache: bool,
    pub stats: PluginStats,
    /// The login types the plugin declared, asked once (they cannot change
    /// without a reload, which makes a new `LoadedPlugin`).
    pub login_types: std::sync::OnceLock<Vec<(String, Vec<String>)>>,
    /// The identity providers the plugin offers, asked once for the same
    /// reason.
    pub identity_providers: std::sync::OnceLock<Vec<crate::host_api::IdentityProvider>>,
    engine: Engine,
    pre: InstancePre<StoreState>,
    slots: Semaphore,
    not_implemented: AtomicU64,
    recent_faults: std::sync::Mutex<std::collections::VecDeque<Instant>>,
    disabled: AtomicBool,
}

/// Guest time allowed to the lifecycle calls made while loading.
const LOAD_DEADLINE: Duration = Duration::from_secs(5);

/// Faults count towards disabling a plugin for this long.
const FAULT_WINDOW: Duration = Duration::from_secs(60);

/// A call in progress: a fresh instance in its own store.
pub struct Call<'a> {
    pub store: Store<StoreState>,
    pub instance: Instance,
    callback: Callback,
    started: Instant,
    _slot: SemaphorePermit<'a>,
}

impl LoadedPlugin {
    /// Checks, links and prepares a compiled component.
    pub fn prepare(
        engine: &Engine,
        linker: &wasmtime::component::Linker<StoreState>,
        component: &Component,
        from_cache: bool,
        ctx: Arc<PluginContext>,
        spec: PluginSpec,
    ) -> Result<Self, String> {
        let component_type = component.component_type();
        let imports: Vec<String> = component_type.imports(engine).map(|(name, _)| name.to_owned()).collect();
        let exports: Vec<String> = component_type.exports(engine).map(|(name, _)| name.to_owned()).collect();
        let wit_version = versions::detect(imports.iter().chain(exports.iter()).map(String::as_str))?;
        versions::check_companions(imports.iter().chain(exports.iter()).map(String::as_str))?;
        check_imports(&spec, &imports)?;
        let pre = linker.instantiate_pre(component).map_err(|e| format!("cannot link the component: {e:#}"))?;
        let roles = RoleIndices::find(&pre);
        let slots = Semaphore::new(spec.limits.max_concurrency.max(1));
        Ok(Self {
            ctx,
            spec,
            roles,
            wit_version,
            imports,
            from_cache,
            stats: PluginStats::default(),
            login_types: std::sync::OnceLock::new(),
            identity_providers: std::sync::OnceLock::new(),
            engine: engine.clone(),
            pre,
            slots,
            not_implemented: AtomicU64::new(0),
            recent_faults: Default::default(),
            disabled: AtomicBool::new(false),
        })
    }

    /// The plugin's configured name.
    pub fn name(&self) -> &str {
        &self.ctx.name
    }

    /// Whether the plugin said it does not implement `callback`.
    pub fn skips(&self, callback: Callback) -> bool {
        self.not_implemented.load(Ordering::Relaxed) & (1 << callback as u8) != 0
    }

    /// Remembers that the plugin does not implement `callback`.
    pub fn mark_not_implemented(&self, callback: Callback) {
        self.not_implemented.fetch_or(1 << callback as u8, Ordering::Relaxed);
    }

    /// Whether repeated faults have disabled the plugin.
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::Relaxed)
    }

    /// Instantiates the plugin for one call.
    pub async fn begin(&self, callback: Callback) -> Result<Call<'_>, Fault> {
        if self.is_disabled() {
            return Err(Fault::Disabled);
        }
        let slot = self.slots.acquire().await.map_err(|_| Fault::Disabled)?;
        let started = Instant::now();
        let state = StoreState::new(self.ctx.clone())
            .map_err(|e| self.fault(callback, started, Fault::Trap(format!("{e:#}"))))?;
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limits);
        // The lifecycle calls at load (`version`, `on-load`) run once and may
        // parse a config while the machine is busy starting up; they get a
        // generous deadline of their own.
        let mut budget = Duration::from_millis(self.ctx.limits.call_deadline_ms.max(1));
        if callback == Callback::OnLoad {
            budget = budget.max(LOAD_DEADLINE);
        }
        store.set_epoch_deadline(ticks(budget));
        store.epoch_deadline_callback(move |store| {
            let used = store.data().guest_time();
            if used >= budget {
                Err(wasmtime::Error::new(DeadlineExceeded))
            } else {
                Ok(UpdateDeadline::Continue(ticks(budget - used)))
            }
        });
        match self.pre.instantiate_async(&mut store).await {
            Ok(instance) => {
                // Instantiating is the host's work (and mostly page faults
                // on a busy machine): the guest's clock starts now.
                store.data_mut().started = Instant::now();
                Ok(Call { store, instance, callback, started, _slot: slot })
            }
            Err(error) => {
                let fault = classify(&error);
                self.log_output(&store, true);
                Err(self.fault(callback, started, fault))
            }
        }
    }

    /// Ends a call: logs the guest's output, counts it, and turns a trap
    /// into a fault.
    pub fn finish<T>(&self, call: Call<'_>, result: wasmtime::Result<T>) -> Result<T, Fault> {
        let outcome = match result {
            Ok(value) => {
                self.log_output(&call.store, false);
                self.stats.record_call(call.started.elapsed());
                Ok(value)
            }
            Err(error) => {
                self.log_output(&call.store, true);
                let fault = match classify(&error) {
                    // A Rust panic traps with `unreachable`; its message is
                    // in the output, which makes the fault worth reading.
                    Fault::Trap(message) => Fault::Trap(with_output(message, &call.store)),
                    other => other,
                };
                Err(self.fault(call.callback, call.started, fault))
            }
        };
        // The instance and its concurrency slot go back only now.
        drop(call);
        outcome
    }

    /// Records a fault and disables the plugin if they keep coming.
    pub fn fault(&self, callback: Callback, started: Instant, fault: Fault) -> Fault {
        self.stats.record_call(started.elapsed());
        self.stats.record_fault(fault.kind(), fault.to_string());
        tracing::warn!(plugin = %self.ctx.label(), callback = ?callback, "plugin call failed: {fault}");
        let faults = {
            let mut recent = self.recent_faults.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = Instant::now();
            while recent.front().is_some_and(|at| now.duration_since(*at) > FAULT_WINDOW) {
                recent.pop_front();
            }
            recent.push_back(now);
            u32::try_from(recent.len()).unwrap_or(u32::MAX)
        };
        let limit = self.ctx.limits.disable_after_faults;
        if limit > 0 && faults >= limit && !self.disabled.swap(true, Ordering::Relaxed) {
            tracing::error!(plugin = %self.ctx.label(), faults, "plugin disabled after repeated faults; reload to enable it");
        }
        fault
    }

    fn log_output(&self, store: &Store<StoreState>, faulted: bool) {
        let output = store.data().output.contents();
        if output.is_empty() {
            return;
        }
        let plugin = self.ctx.label();
        for line in String::from_utf8_lossy(&output).lines().filter(|line| !line.trim().is_empty()) {
            if faulted {
                tracing::warn!(target: "plugin", %plugin, "{line}");
            } else {
                tracing::info!(target: "plugin", %plugin, "{line}");
            }
        }
    }

    /// What the admin API shows.
    pub fn snapshot(&self) -> PluginSnapshot {
        PluginSnapshot {
            name: self.ctx.name.clone(),
            version: self.ctx.version.get().cloned(),
            source: self.spec.source.describe(),
            kind: match self.spec.kind {
                PluginKind::Module => "module",
                PluginKind::MscFeature { .. } => "msc_feature",
                PluginKind::SsoProvider { .. } => "sso_provider",
            },
            wit_version: self.wit_version,
            imports: self.imports.clone(),
            exports: self.roles.names(),
            capabilities: serde_json::to_value(&self.spec.capabilities).unwrap_or_default(),
            failure_policy: match self.spec.failure_policy {
                crate::FailurePolicy::FailClosed => "fail_closed",
                crate::FailurePolicy::FailOpen => "fail_open",
            },
            disabled: self.is_disabled(),
            stats: self.stats.snapshot(),
        }
    }
}

/// The guest's last output lines, appended to a trap message.
fn with_output(message: String, store: &Store<StoreState>) -> String {
    const KEEP: usize = 512;
    let output = store.data().output.contents();
    let text = String::from_utf8_lossy(&output);
    let text = text.trim();
    if text.is_empty() {
        return message;
    }
    let start = text.char_indices().rev().nth(KEEP).map_or(0, |(index, _)| index);
    format!("{message}; guest output: {}", &text[start..])
}

fn ticks(duration: Duration) -> u64 {
    let tick = TICK.as_micros().max(1);
    u64::try_from(duration.as_micros().div_ceil(tick)).unwrap_or(u64::MAX).max(1)
}

fn check_imports(spec: &PluginSpec, imports: &[String]) -> Result<(), String> {
    let capabilities: &Capabilities = &spec.capabilities;
    for name in imports {
        capabilities.check_import(name)?;
        // MSC features only get the interfaces of the `msc-feature` world.
        if matches!(spec.kind, PluginKind::MscFeature { .. })
            && let Some((interface, _)) = versions::split_trellis_name(name)
            && matches!(interface, "accounts" | "http-client")
        {
            return Err(format!("imports `{interface}`, which msc-feature plugins may not use"));
        }
    }
    Ok(())
}

/// Sorts a trap into a fault kind.
fn classify(error: &wasmtime::Error) -> Fault {
    if error.downcast_ref::<DeadlineExceeded>().is_some()
        || matches!(error.downcast_ref::<wasmtime::Trap>(), Some(wasmtime::Trap::Interrupt))
    {
        return Fault::Timeout;
    }
    let text = format!("{error:#}");
    if text.contains("growing memory") || text.contains("memory minimum size") || text.contains("exceeds memory limits")
    {
        return Fault::OutOfMemory;
    }
    match error.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => Fault::Trap(trap.to_string()),
        None => Fault::Trap(error.root_cause().to_string()),
    }
}
