//! Trellis storage: every SQL statement the server runs lives in this crate.
//!
//! The same code drives SQLite (the zero-set-up default) and PostgreSQL
//! (production) through sqlx's `Any` driver. Queries use `$n` placeholders,
//! which both backends understand; where the dialects differ a module asks
//! [`Storage::backend`] and picks the right statement. Services above this
//! crate never see SQL, only the typed functions of each table-group module.

mod connect;
mod error;
pub mod migrate;
mod sql;
#[cfg(test)]
mod test_db;

pub mod account_data;
pub mod devices;
pub mod events;
pub mod external_ids;
pub mod filters;
pub mod login_tokens;
pub mod persist;
pub mod plugins;
pub mod profiles;
pub mod push;
pub mod receipts;
pub mod registration_tokens;
pub mod rooms;
pub mod script;
pub mod search;
pub mod state;
pub mod tokens;
pub mod uia;
pub mod users;
mod writer;

pub use connect::{Backend, DatabaseSettings, PoolStats, Storage, next_stream_position};
pub use error::{StorageError, StorageResult};
pub use sqlx::AnyConnection as Connection;
pub use writer::{ScriptTx, WriteConn, WriteTx};

/// Milliseconds since the Unix epoch, the unit of every timestamp column.
pub fn now_ms() -> i64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
