//! When an account syncs next: the configured interval with jitter after a success, exponential
//! backoff with a cap after failures.
//!
//! Invariants: the next sync is always scheduled from the end of the previous one (never from a
//! fixed grid), so a sleeping or suspended machine wakes to at most one sync per account, never a
//! burst of missed ones; delays are never zero, so a failing account cannot spin.

use std::future::Future;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// Run `attempt` at once, then again [`next_delay`] after each one ends (`attempt` returns the
/// consecutive failures so far), or as soon as `wake` fires; until `cancel`. Cancelling drops
/// an attempt in flight at its next await point.
pub async fn run_schedule<F, Fut>(
    interval: Duration,
    mut wake: broadcast::Receiver<()>,
    cancel: CancellationToken,
    mut attempt: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = u32>,
{
    let mut next = Instant::now();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(next) => {}
            r = wake.recv() => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
        }
        let failures = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            f = attempt() => f,
        };
        next = Instant::now() + next_delay(interval, failures, fastrand::f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Drive `run_schedule` on virtual time: each attempt's outcome comes from `script` (true =
    /// success) and takes `busy`; returns the seconds (since start) at which attempts began.
    async fn attempts(
        script: Vec<bool>,
        busy: Duration,
        wake_at: Option<Duration>,
        stop_at: Duration,
    ) -> Vec<f64> {
        let start = Instant::now();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (wake_tx, wake_rx) = broadcast::channel(1);
        let cancel = CancellationToken::new();
        let failures = Arc::new(Mutex::new(0u32));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let task = {
            let (seen, failures, script) = (seen.clone(), failures.clone(), script.clone());
            tokio::spawn(run_schedule(
                Duration::from_secs(300),
                wake_rx,
                cancel.clone(),
                move || {
                    let (seen, failures, script) = (seen.clone(), failures.clone(), script.clone());
                    async move {
                        seen.lock().unwrap().push(start.elapsed().as_secs_f64());
                        tokio::time::sleep(busy).await;
                        let ok = script.lock().unwrap().next().unwrap_or(true);
                        let mut f = failures.lock().unwrap();
                        *f = if ok { 0 } else { *f + 1 };
                        *f
                    }
                },
            ))
        };
        if let Some(at) = wake_at {
            tokio::time::sleep_until(start + at).await;
            wake_tx.send(()).unwrap();
        }
        tokio::time::sleep_until(start + stop_at).await;
        cancel.cancel();
        task.await.unwrap();
        seen.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_then_success_returns_to_the_interval() {
        let t = attempts(
            vec![false, false, false, true, true],
            Duration::ZERO,
            None,
            Duration::from_secs(1000),
        )
        .await;
        assert_eq!(t[0], 0.0, "the first sync is immediate");
        let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
        // 30 s, 60 s, 120 s steps (each jittered down by at most a quarter), then the interval.
        assert!((22.5..=30.0).contains(&gaps[0]), "{gaps:?}");
        assert!((45.0..=60.0).contains(&gaps[1]), "{gaps:?}");
        assert!((90.0..=120.0).contains(&gaps[2]), "{gaps:?}");
        assert!((270.0..=330.0).contains(&gaps[3]), "{gaps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_sync_never_causes_a_burst_and_a_wake_syncs_at_once() {
        let t = attempts(
            vec![true; 10],
            Duration::from_secs(1000),
            None,
            Duration::from_secs(4000),
        )
        .await;
        // Each attempt starts about an interval after the previous one ended: the ticks a
        // 1000 s sync "missed" are not caught up.
        assert_eq!(t[0], 0.0);
        for w in t.windows(2) {
            assert!((1270.0..=1330.0).contains(&(w[1] - w[0])), "{t:?}");
        }
        let woke = attempts(
            vec![true; 3],
            Duration::ZERO,
            Some(Duration::from_secs(10)),
            Duration::from_secs(20),
        )
        .await;
        assert_eq!(woke, vec![0.0, 10.0]);
    }

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
