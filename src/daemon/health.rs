//! What the daemon knows about each account's syncs, and the health verdict of `/healthz`.
//!
//! Invariant: an account is healthy when its last sync succeeded and that success is recent
//! (within [`STALE_AFTER_INTERVALS`] × `sync.interval`); the daemon is healthy when every
//! configured account is. A verdict always names the accounts that make it unhealthy.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::store::AccountOverview;

/// A success older than this many intervals is stale.
pub const STALE_AFTER_INTERVALS: i32 = 3;

/// The last sync of one account, as the daemon saw it (seeded from the store at start).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AccountHealth {
    pub last_at: Option<DateTime<Utc>>,
    pub last_ok: Option<bool>,
    /// One sentence; never holds a secret.
    pub last_error: Option<String>,
    pub last_success: Option<DateTime<Utc>>,
    /// Consecutive failed syncs.
    pub failures: u32,
}

impl AccountHealth {
    pub fn from_overview(o: &AccountOverview) -> Self {
        AccountHealth {
            last_at: o.last_sync_at,
            last_ok: o.last_sync_ok,
            last_error: o.last_error.clone(),
            last_success: o.last_success_at,
            failures: 0,
        }
    }

    pub fn record(&mut self, at: DateTime<Utc>, result: Result<(), String>) {
        self.last_at = Some(at);
        match result {
            Ok(()) => {
                self.last_ok = Some(true);
                self.last_error = None;
                self.last_success = Some(at);
                self.failures = 0;
            }
            Err(e) => {
                self.last_ok = Some(false);
                self.last_error = Some(e);
                self.failures = self.failures.saturating_add(1);
            }
        }
    }
}

/// One account in the `/healthz` document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AccountVerdict {
    pub account: String,
    pub provider: &'static str,
    pub healthy: bool,
    pub last_sync: Option<String>,
    pub last_success: Option<String>,
    /// Why the account is unhealthy; absent when healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The `/healthz` document.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Verdict {
    /// `ok` or `unhealthy`.
    pub status: &'static str,
    /// One sentence naming the unhealthy accounts; absent when healthy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub accounts: Vec<AccountVerdict>,
}

impl Verdict {
    pub fn healthy(&self) -> bool {
        self.status == "ok"
    }
}

/// The verdict for the configured accounts at `now`.
pub fn verdict(
    config: &Config,
    health: &BTreeMap<String, AccountHealth>,
    now: DateTime<Utc>,
) -> Verdict {
    let fresh = config.sync.interval.as_chrono() * STALE_AFTER_INTERVALS;
    let accounts: Vec<AccountVerdict> = config
        .accounts
        .iter()
        .map(|acc| {
            let h = health.get(&acc.name).cloned().unwrap_or_default();
            let reason = match (h.last_ok, h.last_success) {
                (None, _) => Some("it has not synced yet".to_string()),
                (Some(false), _) => Some(format!(
                    "its last sync failed: {}",
                    h.last_error.as_deref().unwrap_or("unknown error")
                )),
                (Some(true), Some(t)) if now - t > fresh => Some(format!(
                    "its last successful sync was at {}, more than {} intervals ago",
                    crate::output::rfc3339(t),
                    STALE_AFTER_INTERVALS
                )),
                (Some(true), None) => Some("it has not synced yet".to_string()),
                (Some(true), Some(_)) => None,
            };
            AccountVerdict {
                account: acc.name.clone(),
                provider: acc.provider().as_str(),
                healthy: reason.is_none(),
                last_sync: h.last_at.map(crate::output::rfc3339),
                last_success: h.last_success.map(crate::output::rfc3339),
                reason,
            }
        })
        .collect();
    let bad: Vec<String> = accounts
        .iter()
        .filter_map(|a| {
            a.reason
                .as_ref()
                .map(|r| format!("account {}: {r}", a.account))
        })
        .collect();
    Verdict {
        status: if bad.is_empty() { "ok" } else { "unhealthy" },
        reason: (!bad.is_empty()).then(|| bad.join("; ")),
        accounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        crate::config::parse(
            "[manager]\nemail = \"m@example.com\"\n[[accounts]]\nname = \"a\"\nprovider = \"ics\"\npath = \"a.ics\"\n[[accounts]]\nname = \"b\"\nprovider = \"ics\"\npath = \"b.ics\"\n[sync]\ninterval = \"1m\"\n",
            std::path::Path::new("c.toml"),
        )
        .unwrap()
    }

    #[test]
    fn healthy_only_when_every_account_succeeded_recently() {
        let c = config();
        let t0: DateTime<Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
        let mut h = BTreeMap::new();
        let v = verdict(&c, &h, t0);
        assert!(!v.healthy());
        assert!(
            v.reason
                .unwrap()
                .contains("account a: it has not synced yet")
        );

        h.entry("a".to_string())
            .or_insert_with(AccountHealth::default)
            .record(t0, Ok(()));
        h.entry("b".to_string())
            .or_insert_with(AccountHealth::default)
            .record(t0, Err("account b: cannot connect".into()));
        let v = verdict(&c, &h, t0);
        assert!(!v.healthy());
        assert_eq!(
            v.reason.as_deref(),
            Some("account b: its last sync failed: account b: cannot connect")
        );
        assert!(v.accounts[0].healthy);

        h.get_mut("b").unwrap().record(t0, Ok(()));
        assert!(verdict(&c, &h, t0 + chrono::Duration::minutes(3)).healthy());
        let stale = verdict(&c, &h, t0 + chrono::Duration::minutes(4));
        assert!(!stale.healthy());
        assert!(stale.reason.unwrap().contains("more than 3 intervals ago"));
    }
}
