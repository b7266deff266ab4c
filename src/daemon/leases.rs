//! Several instances sharing one store (see `docs/instances.md`): this instance's identity, its
//! lease rounds, and the schedule of an account it may or may not hold.
//!
//! - [`lease_loop`] runs a lease round every third of `[daemon] lease`
//!   ([`crate::store::Leases::lease_round`]) and publishes the accounts held here; it also
//!   shares the quota pauses ([`crate::providers::quota`]) both ways and tells the limiter how
//!   many instances share the ceilings. A round that fails keeps the last answer until the
//!   leases it listed would have expired, then holds nothing: an instance cut off from the
//!   database stops syncing before another one takes over.
//! - [`leased_schedule`] is an account task's loop in that mode: while the account is held
//!   here, sync it when its interval has passed since the last sync *anyone* started (read from
//!   the store), record the start under the lease (fenced: a lost lease records nothing and
//!   does not sync), then repeat; SIGUSR1 still syncs at once.
//! - On a clean stop the leases are given back, so the others take the accounts at their next
//!   round instead of after a lease period.
//! - An instance with no account to sync (org mode before its directory sweep has worked) runs
//!   no round: counted as live it would shrink the others' share, and the accounts they gave
//!   back would be synced by nobody.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{Instance, Leases};

/// The accounts this instance holds, as the last lease round left them.
pub type Held = Arc<BTreeSet<String>>;

/// This process, as it announces itself to the others.
pub fn this_instance() -> Instance {
    Instance {
        id: crate::store::process_id().to_string(),
        host: crate::store::host_name(),
        pid: std::process::id(),
        started_at: Utc::now(),
    }
}

/// How often a lease round runs: a third of the lease period, so two rounds may fail before a
/// lease runs out.
pub fn round_every(period: Duration) -> Duration {
    period / 3
}

/// Run lease rounds for `me` until `cancel`, publishing the accounts held on `held`;
/// `wanted` gives the configured accounts at each round. Gives the leases back at the end.
pub async fn lease_loop<S, W>(
    store: S,
    me: Instance,
    period: Duration,
    wanted: W,
    held: watch::Sender<Held>,
    cancel: CancellationToken,
) where
    S: Leases,
    W: Fn() -> BTreeSet<String>,
{
    let limiter = crate::providers::quota::global();
    let mut valid_until: Option<Instant> = None;
    // Whether this instance may have a heartbeat row or leases in the store.
    let mut announced = false;
    let mut tick = tokio::time::interval(round_every(period));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let wanted = wanted();
        if wanted.is_empty() {
            // Nothing to sync here (in org mode: the directory has not been read on this
            // instance yet, or its sweep failed). Counted as live, this instance would shrink
            // everyone's share and the accounts the others give back would go unsynced; so it
            // takes no part (and leaves, if it was in).
            if !held.borrow().is_empty() {
                held.send_replace(Arc::default());
            }
            if announced {
                match store.release_leases(&me.id).await {
                    Ok(()) => {
                        announced = false;
                        tracing::info!(instance = %me.id, "no account to sync: not sharing the accounts");
                    }
                    Err(e) => tracing::warn!(instance = %me.id, "cannot give the leases back: {e}"),
                }
            }
            valid_until = None;
            continue;
        }
        announced = true;
        let started = Instant::now();
        match store.lease_round(&me, &wanted, period, Utc::now()).await {
            Ok(round) => {
                valid_until = Some(started + period);
                crate::metrics::global().leases(round.held.len(), round.live);
                limiter.set_instances(round.live);
                let changed = **held.borrow() != round.held;
                if changed {
                    tracing::info!(
                        instance = %me.id,
                        held = round.held.len(),
                        live = round.live,
                        share = round.share,
                        "leases"
                    );
                    held.send_replace(Arc::new(round.held));
                }
            }
            Err(e) => {
                tracing::warn!(instance = %me.id, "lease round failed: {e}");
                if valid_until.is_none_or(|u| Instant::now() >= u) && !held.borrow().is_empty() {
                    tracing::warn!(instance = %me.id, "leases expired: syncing nothing until a round succeeds");
                    held.send_replace(Arc::default());
                }
            }
        }
        share_pauses(&store, limiter).await;
    }
    held.send_replace(Arc::default());
    if let Err(e) = store.release_leases(&me.id).await {
        tracing::warn!(instance = %me.id, "cannot give the leases back: {e}");
    }
}

/// Rate limits seen here go to the store; those seen by the others pause the scopes here.
async fn share_pauses<S: Leases>(store: &S, limiter: &crate::providers::quota::Limiter) {
    for (scope, until) in limiter.take_notes() {
        if let Err(e) = store.note_throttle(&scope, until).await {
            tracing::warn!("cannot share a rate-limit pause: {e}");
        }
    }
    match store.throttles(Utc::now()).await {
        Ok(list) => {
            for (scope, until) in list {
                limiter.pause_until(&scope, until);
            }
        }
        Err(e) => tracing::warn!("cannot read the shared rate-limit pauses: {e}"),
    }
}

/// When an account held here is due, at wall-clock `wall`: `interval` (plus up to 5 % jitter)
/// after the last sync anyone started, at once if there was none; after failures here, the
/// backoff from the last attempt.
pub fn due_in(
    last_start: Option<DateTime<Utc>>,
    wall: DateTime<Utc>,
    interval: Duration,
    failures: u32,
    jitter: f64,
) -> Duration {
    let Some(last) = last_start else {
        return Duration::ZERO;
    };
    let wait = if failures == 0 {
        interval.mul_f64(1.0 + 0.05 * jitter.clamp(0.0, 1.0))
    } else {
        super::schedule::next_delay(interval, failures, jitter)
    };
    let since = (wall - last).to_std().unwrap_or(Duration::ZERO);
    wait.saturating_sub(since)
}

/// How long an account task waits after failing to record a start under its lease.
const RECHECK: Duration = Duration::from_secs(5);

/// What the leased schedule needs from its surroundings (the store and the sync itself).
pub trait LeasedAccount {
    /// When the last sync of the account started, whoever ran it (None: never, or unknown).
    fn last_start(&self) -> impl Future<Output = Option<DateTime<Utc>>> + Send;
    /// Record the start under this instance's lease; false: the lease is gone, do not sync.
    fn start(&self) -> impl Future<Output = bool> + Send;
    /// Sync once; returns the consecutive failures so far.
    fn sync(&self) -> impl Future<Output = u32> + Send;
}

/// An account task's loop when instances share the store (see the module doc).
pub async fn leased_schedule<A: LeasedAccount>(
    name: &str,
    account: A,
    interval: Duration,
    mut held: watch::Receiver<Held>,
    mut wake: broadcast::Receiver<()>,
    cancel: CancellationToken,
) {
    let mut failures = 0u32;
    loop {
        if !held.borrow_and_update().contains(name) {
            // Not ours (yet, or any more): wait for the next round that changes that. Failures
            // counted under a previous lease do not carry over.
            failures = 0;
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                r = held.changed() => if r.is_err() { return },
            }
            continue;
        }
        let wait = due_in(
            account.last_start().await,
            Utc::now(),
            interval,
            failures,
            fastrand::f64(),
        );
        tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            r = held.changed() => {
                if r.is_err() { return }
                continue;
            }
            r = wake.recv() => {
                if matches!(r, Err(broadcast::error::RecvError::Closed)) { return }
            }
            () = tokio::time::sleep(wait) => {}
        }
        if !held.borrow().contains(name) {
            continue;
        }
        if !account.start().await {
            // The lease ran out under us (or the store is unreachable): wait for the next
            // round's answer instead of asking again at once.
            tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                r = held.changed() => if r.is_err() { return },
                () = tokio::time::sleep(RECHECK) => {}
            }
            continue;
        }
        failures = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            f = account.sync() => f,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap() + chrono::Duration::seconds(s)
    }

    #[test]
    fn due_counts_from_the_last_sync_anyone_started() {
        let i = Duration::from_secs(300);
        assert_eq!(due_in(None, t(0), i, 0, 0.5), Duration::ZERO);
        assert_eq!(
            due_in(Some(t(0)), t(100), i, 0, 0.0),
            Duration::from_secs(200)
        );
        assert_eq!(due_in(Some(t(0)), t(400), i, 0, 0.0), Duration::ZERO);
        // Never sooner than the interval, at most 5 % later.
        let d = due_in(Some(t(0)), t(0), i, 0, 1.0);
        assert_eq!(d, Duration::from_secs(315));
        // After a failure here: the backoff from the last attempt.
        assert!(due_in(Some(t(0)), t(0), i, 1, 0.0) <= Duration::from_secs(30));
    }

    /// A fake account: records the times its syncs started (virtual time).
    struct Probe {
        last: std::sync::Mutex<Option<DateTime<Utc>>>,
        starts: std::sync::Mutex<Vec<Instant>>,
    }

    impl LeasedAccount for &Probe {
        async fn last_start(&self) -> Option<DateTime<Utc>> {
            *self.last.lock().unwrap()
        }
        async fn start(&self) -> bool {
            // The wall clock stands still under paused tokio time: the next sync is due a whole
            // interval (of virtual time) later.
            *self.last.lock().unwrap() = Some(Utc::now());
            true
        }
        async fn sync(&self) -> u32 {
            self.starts.lock().unwrap().push(Instant::now());
            0
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_account_is_synced_only_while_held() {
        let probe = Probe {
            last: std::sync::Mutex::new(None),
            starts: std::sync::Mutex::new(Vec::new()),
        };
        let (held_tx, held_rx) = watch::channel::<Held>(Arc::default());
        let (_wake_tx, wake_rx) = broadcast::channel(1);
        let cancel = CancellationToken::new();
        let run = leased_schedule(
            "a",
            &probe,
            Duration::from_secs(1000),
            held_rx,
            wake_rx,
            cancel.clone(),
        );
        let script = async {
            tokio::time::sleep(Duration::from_secs(50)).await;
            assert!(probe.starts.lock().unwrap().is_empty(), "not held: no sync");
            held_tx.send_replace(Arc::new(BTreeSet::from(["a".to_string()])));
            tokio::time::sleep(Duration::from_secs(10)).await;
            assert_eq!(
                probe.starts.lock().unwrap().len(),
                1,
                "held: synced at once"
            );
            held_tx.send_replace(Arc::default());
            tokio::time::sleep(Duration::from_secs(3000)).await;
            assert_eq!(probe.starts.lock().unwrap().len(), 1, "given away: no more");
            cancel.cancel();
        };
        tokio::join!(run, script);
    }
}
