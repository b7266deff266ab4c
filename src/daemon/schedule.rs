//! When an account syncs next: the configured interval with jitter after a success, exponential
//! backoff with a cap after failures.
//!
//! Invariants: the next sync is always scheduled from the end of the previous one (never from a
//! fixed grid), so a sleeping or suspended machine wakes to at most one sync per account, never a
//! burst of missed ones; delays are never zero, so a failing account cannot spin.

use std::time::Duration;

/// The first retry after a failure.
pub const BACKOFF_BASE: Duration = Duration::from_secs(30);
/// Retries never wait longer than this (or the interval, when that is longer).
pub const BACKOFF_CAP: Duration = Duration::from_secs(30 * 60);

/// The delay before the next sync of an account. `failures` counts the consecutive failed syncs
/// just before (0 after a success); `jitter` is uniform in `[0, 1)`.
pub fn next_delay(interval: Duration, failures: u32, jitter: f64) -> Duration {
    let jitter = jitter.clamp(0.0, 1.0);
    if failures == 0 {
        // ±10 % around the interval spreads accounts (and daemons) apart.
        return interval.mul_f64(0.9 + 0.2 * jitter);
    }
    let cap = BACKOFF_CAP.max(interval);
    let exp = BACKOFF_BASE
        .saturating_mul(1u32 << (failures - 1).min(16))
        .min(cap);
    // Between three quarters and all of the exponential step.
    exp.mul_f64(0.75 + 0.25 * jitter)
}

/// Analyses run at least this often even when no sync changed anything: time passing alone
/// opens gaps.
pub const ANALYSIS_EVERY: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_waits_about_one_interval() {
        let i = Duration::from_secs(300);
        assert_eq!(next_delay(i, 0, 0.0), Duration::from_secs(270));
        assert_eq!(next_delay(i, 0, 1.0), Duration::from_secs(330));
    }

    #[test]
    fn failures_back_off_exponentially_up_to_the_cap() {
        let i = Duration::from_secs(300);
        let d: Vec<u64> = (1..=9).map(|n| next_delay(i, n, 1.0).as_secs()).collect();
        assert_eq!(d, [30, 60, 120, 240, 480, 960, 1800, 1800, 1800]);
        assert!(next_delay(i, 1, 0.0) >= Duration::from_millis(22_500));
        assert_eq!(next_delay(i, 1000, 1.0), BACKOFF_CAP);
        // A long interval is its own cap.
        let day = Duration::from_secs(86_400);
        assert_eq!(next_delay(day, 30, 1.0), day);
    }
}
