//! Quota-aware pacing of provider requests (see `docs/instances.md`, Quotas).
//!
//! The providers publish per-project (Google) and per-tenant/app (Microsoft) request ceilings;
//! at org scale one deployment can reach them. Every request made inside [`with_scope`] (a sync
//! sets the account's scope) first takes a token from that scope's bucket:
//! - the bucket refills at `ceiling ÷ live instances` per minute, so the instances together stay
//!   under the ceiling, and holds at most one second's worth, so requests are spread over the
//!   minute instead of sent in bursts;
//! - a rate-limit answer (429, or a 403 the provider uses for rate limits) pauses the scope until
//!   its `Retry-After` (or the backoff delay) for every task of this instance, and is queued
//!   ([`Limiter::take_notes`]) for the daemon to share through the store, so that the other
//!   instances pause the same scope ([`Limiter::pause_until`]).
//!
//! Requests outside any scope (one-shot commands, iCalendar feeds, CalDAV servers) are not paced.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::time::Instant;

use crate::config::{Account, AccountKind, GoogleAuth, QuotaConfig};

tokio::task_local! {
    static SCOPE: Arc<str>;
}

/// The quota scope of an account: the Google project (its OAuth client or service-account key)
/// or the Microsoft tenant and app; `None` for sources without a published quota.
pub fn scope_of(account: &Account) -> Option<String> {
    match &account.kind {
        AccountKind::Google(g) => Some(match &g.auth {
            GoogleAuth::OAuth { client_id, .. } => format!("google:{client_id}"),
            GoogleAuth::ServiceAccount { key, .. } => format!("google:{}", key.display()),
        }),
        AccountKind::Microsoft(m) => Some(format!("microsoft:{}/{}", m.tenant, m.client_id)),
        AccountKind::Ics(_) | AccountKind::Caldav(_) => None,
    }
}

/// Run `fut` with its provider requests paced under `scope` (no pacing for `None`).
pub async fn with_scope<F: std::future::Future>(scope: Option<String>, fut: F) -> F::Output {
    match scope {
        Some(s) => SCOPE.scope(Arc::from(s), fut).await,
        None => fut.await,
    }
}

fn current() -> Option<Arc<str>> {
    SCOPE.try_with(Arc::clone).ok()
}

/// One scope's pacing state.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    paused_until: Option<Instant>,
}

/// The per-process pacing of every scope.
#[derive(Debug)]
pub struct Limiter {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: QuotaConfig,
    /// Live instances sharing the ceilings (1 without a shared store).
    instances: usize,
    buckets: HashMap<Arc<str>, Bucket>,
    /// Rate limits seen here and not yet shared with the other instances.
    notes: Vec<(String, DateTime<Utc>)>,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter {
            inner: Mutex::new(Inner {
                config: QuotaConfig::default(),
                instances: 1,
                buckets: HashMap::new(),
                notes: Vec::new(),
            }),
        }
    }
}

/// The process-wide limiter.
pub fn global() -> &'static Limiter {
    static GLOBAL: std::sync::OnceLock<Limiter> = std::sync::OnceLock::new();
    GLOBAL.get_or_init(Limiter::default)
}

impl Inner {
    /// Requests per second this instance may make in `scope`.
    fn rate(&self, scope: &str) -> f64 {
        let per_minute = if scope.starts_with("google:") {
            self.config.google_per_minute
        } else {
            self.config.microsoft_per_minute
        };
        f64::from(per_minute) / 60.0 / self.instances.max(1) as f64
    }
}

impl Limiter {
    /// Set the ceilings (from the config).
    pub fn configure(&self, config: &QuotaConfig) {
        self.lock().config = config.clone();
    }

    /// Set how many live instances share the ceilings.
    pub fn set_instances(&self, n: usize) {
        self.lock().instances = n.max(1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long a request in `scope` must wait at `now`; takes the token when it need not.
    fn reserve(&self, scope: &Arc<str>, now: Instant) -> Option<Duration> {
        let mut inner = self.lock();
        let rate = inner.rate(scope);
        let burst = rate.max(1.0);
        let bucket = inner
            .buckets
            .entry(Arc::clone(scope))
            .or_insert_with(|| Bucket {
                tokens: burst,
                refilled: now,
                paused_until: None,
            });
        if let Some(until) = bucket.paused_until {
            if until > now {
                return Some(until - now);
            }
            bucket.paused_until = None;
        }
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            None
        } else {
            Some(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / rate.max(1e-6),
            ))
        }
    }

    /// Wait for a token of the current task's scope (at once outside a scope).
    pub async fn acquire(&self) {
        let Some(scope) = current() else { return };
        while let Some(wait) = self.reserve(&scope, Instant::now()) {
            crate::metrics::global().quota_wait(wait);
            tokio::time::sleep(wait).await;
        }
    }

    /// A rate-limit answer in the current task's scope: pause it here for `delay`, and queue it
    /// for the other instances.
    pub fn rate_limited(&self, delay: Duration) {
        let Some(scope) = current() else { return };
        let until = Instant::now() + delay;
        let wall = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let mut inner = self.lock();
        let bucket = inner
            .buckets
            .entry(Arc::clone(&scope))
            .or_insert_with(|| Bucket {
                tokens: 0.0,
                refilled: until,
                paused_until: None,
            });
        bucket.tokens = bucket.tokens.min(0.0);
        bucket.paused_until = Some(bucket.paused_until.map_or(until, |u| u.max(until)));
        inner.notes.push((scope.to_string(), wall));
    }

    /// The rate limits seen here since the last call, for the store.
    pub fn take_notes(&self) -> Vec<(String, DateTime<Utc>)> {
        std::mem::take(&mut self.lock().notes)
    }

    /// Another instance saw a rate limit in `scope`: pause it here until `until` (wall clock).
    pub fn pause_until(&self, scope: &str, until: DateTime<Utc>) {
        let Ok(left) = (until - Utc::now()).to_std() else {
            return;
        };
        let at = Instant::now() + left;
        let mut inner = self.lock();
        let key: Arc<str> = Arc::from(scope);
        let bucket = inner.buckets.entry(key).or_insert_with(|| Bucket {
            tokens: 0.0,
            refilled: at,
            paused_until: None,
        });
        bucket.paused_until = Some(bucket.paused_until.map_or(at, |u| u.max(at)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_minute: u32, instances: usize) -> Limiter {
        let l = Limiter::default();
        l.configure(&QuotaConfig {
            google_per_minute: per_minute,
            microsoft_per_minute: per_minute,
        });
        l.set_instances(instances);
        l
    }

    /// Requests granted in `secs` seconds of virtual time when asking as fast as allowed.
    fn granted(l: &Limiter, secs: u64) -> u32 {
        let scope: Arc<str> = Arc::from("google:p");
        let start = Instant::now();
        let mut now = start;
        let mut n = 0;
        while now < start + Duration::from_secs(secs) {
            match l.reserve(&scope, now) {
                None => n += 1,
                Some(w) => now += w,
            }
        }
        n
    }

    #[test]
    fn the_instances_together_stay_under_the_ceiling() {
        // 600 a minute is 10 a second: 60 s allow the first second's burst plus 600.
        let one = granted(&limiter(600, 1), 60);
        assert!((600..=611).contains(&one), "{one}");
        let half = granted(&limiter(600, 2), 60);
        assert!((300..=306).contains(&half), "{half}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_pauses_the_scope() {
        let l = limiter(6000, 1);
        SCOPE
            .scope(Arc::from("google:p"), async {
                l.rate_limited(Duration::from_secs(5));
                let t = Instant::now();
                l.acquire().await;
                assert!(t.elapsed() >= Duration::from_secs(5));
            })
            .await;
        let notes = l.take_notes();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].0, "google:p");
        assert!(l.take_notes().is_empty());
    }

    #[test]
    fn a_pause_from_another_instance_applies_here() {
        let l = limiter(6000, 1);
        l.pause_until("google:p", Utc::now() + chrono::Duration::seconds(30));
        let scope: Arc<str> = Arc::from("google:p");
        let wait = l.reserve(&scope, Instant::now()).unwrap();
        assert!(wait > Duration::from_secs(25), "{wait:?}");
        assert!(
            l.reserve(&Arc::from("google:other"), Instant::now())
                .is_none()
        );
    }
}
