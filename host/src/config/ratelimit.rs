//! Rate-limit sections (`rc_login`, `rc_registration`), Synapse's shape.

use anyhow::bail;
use serde::Deserialize;

/// A leaky bucket: `burst_count` actions at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct RateLimitConfig {
    /// Sustained actions per second.
    pub per_second: f64,
    /// Actions allowed in a burst.
    pub burst_count: f64,
}

impl RateLimitConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if !(self.per_second.is_finite() && self.per_second > 0.0) {
            bail!("`per_second` must be a positive number, got {}", self.per_second);
        }
        if !(self.burst_count.is_finite() && self.burst_count >= 1.0) {
            bail!("`burst_count` must be at least 1, got {}", self.burst_count);
        }
        Ok(())
    }
}

/// `rc_login`, with Synapse's defaults.
#[derive(Debug, Clone, Deserialize)]
pub struct RcLoginConfig {
    /// Login attempts per client address.
    #[serde(default = "login_default")]
    pub address: RateLimitConfig,
    /// Login attempts per account.
    #[serde(default = "login_default")]
    pub account: RateLimitConfig,
    /// Failed login attempts per account.
    #[serde(default = "failed_default")]
    pub failed_attempts: RateLimitConfig,
}

impl Default for RcLoginConfig {
    fn default() -> Self {
        Self { address: login_default(), account: login_default(), failed_attempts: failed_default() }
    }
}

fn login_default() -> RateLimitConfig {
    RateLimitConfig { per_second: 0.003, burst_count: 5.0 }
}

fn failed_default() -> RateLimitConfig {
    RateLimitConfig { per_second: 0.17, burst_count: 3.0 }
}

/// Synapse's default for `rc_registration`.
pub fn registration_default() -> RateLimitConfig {
    RateLimitConfig { per_second: 0.17, burst_count: 3.0 }
}
