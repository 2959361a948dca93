//! Durable timers (`timers` capability): they survive restarts. When one is
//! due the server calls [`crate::Plugin::on_timer`] with its id and payload.

use crate::bindings::trellis::plugin::timers as host;

/// Fires `id` once after `delay_ms`; setting an existing id moves it.
pub fn schedule(id: &str, delay_ms: u64, payload: &str) {
    host::schedule(id, delay_ms, payload);
}

/// Fires `id` every `interval_ms`, first after one interval.
pub fn every(id: &str, interval_ms: u64, payload: &str) {
    host::every(id, interval_ms, payload);
}

/// Cancels `id`; returns whether it existed.
pub fn cancel(id: &str) -> bool {
    host::cancel(id)
}
