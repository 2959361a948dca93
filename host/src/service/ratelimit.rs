//! Leaky-bucket rate limiting, Synapse's algorithm: each key may perform
//! `burst_count` actions at once, and the bucket drains at `per_second`.
//! State is in memory per process (as in Synapse); buckets that have fully
//! drained are dropped so the map does not grow without bound.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::config::RateLimitConfig;

/// One limiter, e.g. "logins per client address".
#[derive(Debug)]
pub struct RateLimiter {
    config: RateLimitConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
    origin: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Actions currently in the bucket.
    level: f64,
    /// When `level` was last brought up to date (seconds since `origin`).
    updated: f64,
}

/// Answer of [`RateLimiter::check`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused; retry after this many milliseconds.
    Limited {
        /// Wait before the next action would be allowed.
        retry_after_ms: u64,
    },
}

impl RateLimiter {
    /// A limiter with the given settings.
    pub fn new(config: RateLimitConfig) -> Self {
        Self { config, buckets: Mutex::new(HashMap::new()), origin: Instant::now() }
    }

    /// Whether `key` may act now. With `record`, an allowed action is
    /// counted; without, the check has no effect (used to refuse early and
    /// count only actions that happened, as Synapse does for logins).
    pub fn check(&self, key: &str, record: bool) -> Verdict {
        self.check_at(key, record, self.origin.elapsed().as_secs_f64())
    }

    /// Counts an action whether or not it was allowed (failed logins).
    pub fn record(&self, key: &str) {
        let now = self.origin.elapsed().as_secs_f64();
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = drained(buckets.get(key).copied(), now, self.config.per_second);
        buckets.insert(key.to_owned(), Bucket { level: bucket.level + 1.0, updated: now });
    }

    fn check_at(&self, key: &str, record: bool, now: f64) -> Verdict {
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() > 10_000 {
            let rate = self.config.per_second;
            buckets.retain(|_, b| drained(Some(*b), now, rate).level > 0.0);
        }
        let bucket = drained(buckets.get(key).copied(), now, self.config.per_second);
        if bucket.level + 1.0 > self.config.burst_count {
            let excess = bucket.level + 1.0 - self.config.burst_count;
            let wait_ms = (excess / self.config.per_second * 1000.0).ceil();
            return Verdict::Limited { retry_after_ms: wait_ms.clamp(1.0, 1e12) as u64 };
        }
        if record {
            buckets.insert(key.to_owned(), Bucket { level: bucket.level + 1.0, updated: now });
        }
        Verdict::Allowed
    }
}

fn drained(bucket: Option<Bucket>, now: f64, per_second: f64) -> Bucket {
    match bucket {
        Some(b) => Bucket { level: (b.level - (now - b.updated) * per_second).max(0.0), updated: now },
        None => Bucket { level: 0.0, updated: now },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 1.0, burst_count: 2.0 });
        assert_eq!(limiter.check_at("a", true, 0.0), Verdict::Allowed);
        assert_eq!(limiter.check_at("a", true, 0.0), Verdict::Allowed);
        assert_eq!(limiter.check_at("a", true, 0.0), Verdict::Limited { retry_after_ms: 1000 });
        // Other keys are independent.
        assert_eq!(limiter.check_at("b", true, 0.0), Verdict::Allowed);
        // Half a second later half an action has drained: wait 500 ms more.
        assert_eq!(limiter.check_at("a", true, 0.5), Verdict::Limited { retry_after_ms: 500 });
        assert_eq!(limiter.check_at("a", true, 1.0), Verdict::Allowed);
    }

    #[test]
    fn unrecorded_checks_do_not_count() {
        let limiter = RateLimiter::new(RateLimitConfig { per_second: 0.1, burst_count: 1.0 });
        for _ in 0..5 {
            assert_eq!(limiter.check_at("a", false, 0.0), Verdict::Allowed);
        }
        assert_eq!(limiter.check_at("a", true, 0.0), Verdict::Allowed);
        assert!(matches!(limiter.check_at("a", false, 0.0), Verdict::Limited { .. }));
    }
}
