//! Writing to the server's log, tagged with the plugin's name. Always
//! available. The macros format like `format!`.

use crate::bindings::trellis::plugin::log::{Level, emit};

/// Logs at debug level.
pub fn debug(message: &str) {
    emit(Level::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    emit(Level::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    emit(Level::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    emit(Level::Error, message);
}

/// `info!("joined {room}")`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log::info(&format!($($arg)*)) };
}

/// `warn!("odd config: {x}")`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log::warn(&format!($($arg)*)) };
}

/// `error!("failed: {e}")`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::error(&format!($($arg)*)) };
}

/// `debug!("state: {s:?}")`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log::debug(&format!($($arg)*)) };
}
