//! Process metrics in the Prometheus/OpenMetrics text format (served by the daemon at `/metrics`).
//!
//! One process-wide registry ([`global`]), because the HTTP client in `providers/http.rs` is
//! shared by every provider and has no context to carry a handle through. Which provider a
//! request belongs to comes from a task-local set around each account's sync
//! ([`with_provider`]); requests outside one count as `unknown`.
//!
//! Invariants: labels never hold a secret (account names, provider names, status codes and
//! alert kinds only); recording is cheap and never fails.

use std::sync::LazyLock;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    account: String,
    provider: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurationLabels {
    account: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    provider: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    account: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

fn duration_histogram() -> Histogram {
    // 50 ms … ~100 s.
    Histogram::new(exponential_buckets(0.05, 2.0, 12))
}

/// Every metric the process records.
pub struct Metrics {
    registry: Registry,
    syncs: Family<SyncLabels, Counter>,
    sync_duration: Family<DurationLabels, Histogram, fn() -> Histogram>,
    http_requests: Family<HttpLabels, Counter>,
    http_retries: Family<ProviderLabels, Counter>,
    events_stored: Family<AccountLabels, Gauge>,
    alerts_open: Family<KindLabels, Gauge>,
    last_success: Family<AccountLabels, Gauge<f64, AtomicU64>>,
    quota_wait: Counter<f64, AtomicU64>,
    leases_held: Gauge,
    instances_live: Gauge,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cadenced");
        let syncs = Family::<SyncLabels, Counter>::default();
        registry.register(
            "syncs",
            "Account syncs by account, provider and outcome (ok or error)",
            syncs.clone(),
        );
        let sync_duration =
            Family::<DurationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                duration_histogram,
            );
        registry.register(
            "sync_duration_seconds",
            "Duration of account syncs",
            sync_duration.clone(),
        );
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests to providers by provider and response status (error: no response)",
            http_requests.clone(),
        );
        let http_retries = Family::<ProviderLabels, Counter>::default();
        registry.register(
            "http_retries",
            "HTTP requests retried after a rate limit, a server error or a dropped connection",
            http_retries.clone(),
        );
        let events_stored = Family::<AccountLabels, Gauge>::default();
        registry.register(
            "events_stored",
            "Events stored per account after its last sync",
            events_stored.clone(),
        );
        let alerts_open = Family::<KindLabels, Gauge>::default();
        registry.register(
            "alerts_open",
            "Open alerts (neither acknowledged nor snoozed) by kind after the last analysis",
            alerts_open.clone(),
        );
        let last_success = Family::<AccountLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "last_success_timestamp_seconds",
            "Unix time of the last successful sync per account",
            last_success.clone(),
        );
        let quota_wait = Counter::<f64, AtomicU64>::default();
        registry.register(
            "quota_wait_seconds",
            "Time provider requests waited for the quota pacing (ceilings and shared rate-limit pauses)",
            quota_wait.clone(),
        );
        let leases_held = Gauge::default();
        registry.register(
            "leases_held",
            "Accounts this instance holds the lease of (several instances sharing a store)",
            leases_held.clone(),
        );
        let instances_live = Gauge::default();
        registry.register(
            "instances_live",
            "Live daemon instances sharing the store, as this instance last saw them",
            instances_live.clone(),
        );
        Metrics {
            registry,
            syncs,
            sync_duration,
            http_requests,
            http_retries,
            events_stored,
            alerts_open,
            last_success,
            quota_wait,
            leases_held,
            instances_live,
        }
    }

    /// A provider request waited `d` for the quota pacing.
    pub fn quota_wait(&self, d: Duration) {
        self.quota_wait.inc_by(d.as_secs_f64());
    }

    /// After a lease round: accounts held here and live instances.
    pub fn leases(&self, held: usize, live: usize) {
        self.leases_held
            .set(i64::try_from(held).unwrap_or(i64::MAX));
        self.instances_live
            .set(i64::try_from(live).unwrap_or(i64::MAX));
    }

    /// One finished account sync.
    pub fn sync_finished(&self, account: &str, provider: &str, ok: bool, duration: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.syncs
            .get_or_create(&SyncLabels {
                account: account.to_string(),
                provider: provider.to_string(),
                outcome,
            })
            .inc();
        self.sync_duration
            .get_or_create(&DurationLabels {
                account: account.to_string(),
                outcome,
            })
            .observe(duration.as_secs_f64());
    }

    /// An account's stored event count and, after a success, the time of it.
    pub fn account_state(
        &self,
        account: &str,
        events: Option<usize>,
        success_at: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        let labels = AccountLabels {
            account: account.to_string(),
        };
        if let Some(n) = events {
            self.events_stored
                .get_or_create(&labels)
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        if let Some(t) = success_at {
            self.last_success
                .get_or_create(&labels)
                .set(t.timestamp_millis() as f64 / 1000.0);
        }
    }

    /// Forget the per-account gauges (after a reload that removed accounts); the next syncs
    /// fill them again.
    pub fn clear_accounts(&self) {
        self.events_stored.clear();
        self.last_success.clear();
    }

    /// The open alerts by kind after an analysis (kinds with none are not listed).
    pub fn alerts_open(&self, by_kind: &std::collections::BTreeMap<String, usize>) {
        self.alerts_open.clear();
        for (kind, n) in by_kind {
            self.alerts_open
                .get_or_create(&KindLabels { kind: kind.clone() })
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }

    /// One HTTP exchange with a provider: its status, or `None` when no response came.
    pub fn http_request(&self, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.http_requests
            .get_or_create(&HttpLabels {
                provider: current_provider(),
                status,
            })
            .inc();
    }

    /// One retry of an HTTP request.
    pub fn http_retry(&self) {
        self.http_retries
            .get_or_create(&ProviderLabels {
                provider: current_provider(),
            })
            .inc();
    }

    /// The registry in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    &METRICS
}

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

tokio::task_local! {
    static PROVIDER: &'static str;
}

/// Run `fut` with HTTP requests counted against `provider`.
pub async fn with_provider<F: std::future::Future>(provider: &'static str, fut: F) -> F::Output {
    PROVIDER.scope(provider, fut).await
}

fn current_provider() -> &'static str {
    PROVIDER.try_with(|p| *p).unwrap_or("unknown")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let m = Metrics::new();
        m.sync_finished("work", "google", true, Duration::from_millis(120));
        m.sync_finished("work", "google", false, Duration::from_millis(10));
        m.account_state(
            "work",
            Some(42),
            Some("2026-11-24T00:00:00Z".parse().unwrap()),
        );
        m.alerts_open(&[("gap".to_string(), 2)].into_iter().collect());
        m.http_request(Some(200));
        m.http_retry();
        let text = m.render();
        assert!(text.contains(
            "cadenced_syncs_total{account=\"work\",provider=\"google\",outcome=\"ok\"} 1"
        ));
        assert!(text.contains(
            "cadenced_sync_duration_seconds_count{account=\"work\",outcome=\"error\"} 1"
        ));
        assert!(text.contains("cadenced_events_stored{account=\"work\"} 42"));
        assert!(text.contains("cadenced_alerts_open{kind=\"gap\"} 2"));
        assert!(
            text.contains("cadenced_http_requests_total{provider=\"unknown\",status=\"200\"} 1")
        );
        assert!(text.contains("cadenced_http_retries_total{provider=\"unknown\"} 1"));
        assert!(
            text.contains("cadenced_last_success_timestamp_seconds{account=\"work\"} 1795478400.0")
        );
        assert!(text.ends_with("# EOF\n"));
    }
}
