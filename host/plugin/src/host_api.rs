//! What plugins may ask of the server, in version-neutral types.
//!
//! The server implements [`PluginHost`]; this crate calls it from the WIT
//! host interfaces after checking the plugin's grants, so an implementation
//! never has to think about capabilities.

use futures::future::BoxFuture;
use serde_json::Value;

/// A Matrix event handed to or read by a plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginEvent {
    /// Empty while the event is still being built.
    pub event_id: String,
    /// The room.
    pub room_id: String,
    /// The sender's user id.
    pub sender: String,
    /// The event type.
    pub event_type: String,
    /// Set for state events.
    pub state_key: Option<String>,
    /// The content object.
    pub content: Value,
    /// Milliseconds since the epoch.
    pub origin_server_ts: u64,
    /// The `unsigned` object (`{}` when empty).
    pub unsigned: Value,
}

/// A Matrix error, as a plugin returns it or receives it from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    /// HTTP status.
    pub status: u16,
    /// `errcode`.
    pub errcode: String,
    /// `error`.
    pub message: String,
}

impl MatrixError {
    /// A 403 `M_FORBIDDEN`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self { status: 403, errcode: "M_FORBIDDEN".into(), message: message.into() }
    }
}

/// An HTTP request routed to a plugin.
#[derive(Debug, Clone, Default)]
pub struct PluginRequest {
    /// `GET`, `PUT`, …
    pub method: String,
    /// Relative to the plugin's mount point, starting with `/`.
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// Request headers (the host drops `authorization`).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Set when the request carried a valid access token.
    pub user_id: Option<String>,
    /// The device of that token.
    pub device_id: Option<String>,
}

/// An HTTP response produced by a plugin.
#[derive(Debug, Clone)]
pub struct PluginResponse {
    /// Status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

/// A durable plugin timer, as the server stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTimer {
    /// The plugin that set it.
    pub plugin: String,
    /// The plugin's own id for it.
    pub id: String,
    /// When it is due, in milliseconds since the epoch.
    pub due_ms: i64,
    /// Set for repeating timers.
    pub interval_ms: Option<i64>,
    /// Handed back to the plugin when it fires.
    pub payload: String,
}

/// Result of an action the server may refuse with a Matrix error.
pub type ActionResult<T> = anyhow::Result<Result<T, MatrixError>>;

/// The server side of the host interfaces. `anyhow` errors are the server's
/// own failures (e.g. the database is down): they trap the plugin call.
pub trait PluginHost: Send + Sync + 'static {
    /// The server's name.
    fn server_name(&self) -> &str;

    /// Reads a key of `plugin`'s store.
    fn kv_get<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<Vec<u8>>>>;
    /// Writes a key unless the plugin's total would pass `quota_bytes`;
    /// `Ok(Err(..))` explains a refusal.
    fn kv_set<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        value: &'a [u8],
        quota_bytes: u64,
    ) -> BoxFuture<'a, anyhow::Result<Result<(), String>>>;
    /// Adds to a counter atomically; `Ok(Err(..))` explains a refusal.
    fn kv_increment<'a>(
        &'a self,
        plugin: &'a str,
        key: &'a str,
        delta: i64,
        quota_bytes: u64,
    ) -> BoxFuture<'a, anyhow::Result<Result<i64, String>>>;
    /// Deletes a key; returns whether it existed.
    fn kv_delete<'a>(&'a self, plugin: &'a str, key: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Keys with a prefix, in byte order.
    fn kv_list<'a>(
        &'a self,
        plugin: &'a str,
        prefix: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;

    /// An event by id (in any room; the caller checks room grants).
    fn get_event<'a>(&'a self, event_id: &'a str) -> BoxFuture<'a, anyhow::Result<Option<PluginEvent>>>;
    /// A current state event.
    fn get_state<'a>(
        &'a self,
        room_id: &'a str,
        event_type: &'a str,
        state_key: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<PluginEvent>>>;
    /// Users currently joined to a room.
    fn joined_members<'a>(&'a self, room_id: &'a str) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;
    /// Global or room account data of a local user.
    fn account_data<'a>(
        &'a self,
        user_id: &'a str,
        room_id: Option<&'a str>,
        data_type: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Value>>>;
    /// The room an alias points to.
    fn resolve_alias<'a>(&'a self, alias: &'a str) -> BoxFuture<'a, anyhow::Result<Option<String>>>;
    /// The most recent events of a sender in a room, newest first.
    fn events_by_sender<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;

    /// Sends an event as a local user.
    fn send_event<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        event_type: &'a str,
        state_key: Option<&'a str>,
        content: Value,
    ) -> BoxFuture<'a, ActionResult<String>>;
    /// Changes a membership as a local user.
    fn set_membership<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        target: &'a str,
        membership: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>>;
    /// Redacts an event as a local user.
    fn redact<'a>(
        &'a self,
        room_id: &'a str,
        sender: &'a str,
        event_id: &'a str,
        reason: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>>;

    /// Registers a local user; returns the user id.
    fn register_user<'a>(
        &'a self,
        localpart: &'a str,
        display_name: Option<&'a str>,
    ) -> BoxFuture<'a, ActionResult<String>>;
    /// Whether a local user exists.
    fn user_exists<'a>(&'a self, user_id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Links an external identity to a user.
    fn link_external_id<'a>(
        &'a self,
        provider: &'a str,
        remote_id: &'a str,
        user_id: &'a str,
    ) -> BoxFuture<'a, ActionResult<()>>;
    /// The user linked to an external identity.
    fn find_external_id<'a>(
        &'a self,
        provider: &'a str,
        remote_id: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<String>>>;

    /// Creates or replaces a timer.
    fn timer_set<'a>(&'a self, timer: &'a StoredTimer) -> BoxFuture<'a, anyhow::Result<()>>;
    /// Deletes a timer; returns whether it existed.
    fn timer_delete<'a>(&'a self, plugin: &'a str, id: &'a str) -> BoxFuture<'a, anyhow::Result<bool>>;
    /// Timers of the named plugins due at or before `now_ms`, earliest first.
    fn timers_due<'a>(
        &'a self,
        plugins: &'a [String],
        now_ms: i64,
        limit: u32,
    ) -> BoxFuture<'a, anyhow::Result<Vec<StoredTimer>>>;
    /// When the next timer of the named plugins is due.
    fn next_timer_due<'a>(&'a self, plugins: &'a [String]) -> BoxFuture<'a, anyhow::Result<Option<i64>>>;
    /// After a timer fired: deletes a one-shot timer, or moves a repeating
    /// one to its next time, unless the plugin changed it meanwhile.
    fn timer_fired<'a>(&'a self, timer: &'a StoredTimer, now_ms: i64) -> BoxFuture<'a, anyhow::Result<()>>;
}

/// An identity provider a plugin offers for single sign-on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// Unique id (`a-z 0-9 . _ ~ -`), also the namespace of remote ids.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `mxc://` icon.
    pub icon: Option<String>,
    /// Brand for clients.
    pub brand: Option<String>,
    /// Server paths the provider sends the browser back to.
    pub callback_paths: Vec<String>,
}

/// Who an identity provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    /// Stable id at the provider.
    pub remote_id: String,
    /// Mapped localpart for a new account; `None`: the user picks one.
    pub localpart: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Email addresses.
    pub emails: Vec<String>,
    /// Create an account when none is linked yet.
    pub may_register: bool,
    /// Link the existing account with this localpart when none is linked yet.
    pub existing_localpart: Option<String>,
}

/// A failed sign-in, to be shown as a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoFailure {
    /// HTTP status of the page.
    pub status: u16,
    /// Message for the user.
    pub message: String,
}

/// What came back from an identity provider.
#[derive(Debug, Clone)]
pub enum SsoOutcome {
    /// The user signed in; `state` is what the sign-in started with.
    SignedIn {
        /// The identity.
        identity: SsoIdentity,
        /// The `state` given to `start`.
        state: String,
    },
    /// The sign-in failed.
    Failure(SsoFailure),
    /// The plugin answered the request itself.
    Respond(PluginResponse),
}
