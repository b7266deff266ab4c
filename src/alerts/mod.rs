//! Alerts: the cadence findings and the account problems, matched to their stored lifecycle
//! (docs/cadence-rules.md, Alerts; the lifecycle itself lives in `store/alerts.rs`).
//!
//! Invariant: every command and the daemon reach the alerts through [`analyse`], so an alert's
//! id and state are the same whoever looks.
//!
//! Delivery (issue 7): [`outbox`] plans and drains the outbox, [`digest`] schedules digests,
//! [`render`] holds the message model and its renderings, [`channels`] sends.

pub mod channels;
pub mod digest;
pub mod outbox;
pub mod render;

use chrono::{DateTime, Utc};

use crate::cadence::{self, AlertKind, Analysis, Finding};
use crate::config::{Config, Locale};
use crate::store::{self, AccountOverview, AlertState, Store, StoreError};

/// The analysis at `now`, with the alerts matched to their stored lifecycle.
pub struct Analysed {
    /// The figures at `now`. Its `findings` are the report alerts as shown: the analysis'
    /// own when complete, else the stored open ones, unchanged.
    pub analysis: Analysis,
    /// One per finding, same order.
    pub states: Vec<AlertState>,
    /// Accounts that keep the analysis incomplete (docs/cadence-rules.md, "Completeness"), with their
    /// alert state.
    pub account_alerts: Vec<(AccountAlert, AlertState)>,
    /// Every configured account, in config order, with its state.
    pub accounts: Vec<AccountState>,
    /// Every account is read and current: report alerts follow the calendar.
    pub complete: bool,
}

/// An alert about an account rather than a report.
pub struct AccountAlert {
    pub account: String,
    /// [`SYNC_FAILED`] or [`NEEDS_AUTH`].
    pub kind: &'static str,
    pub message: String,
}

/// The alert kind of an account whose refresh token was revoked or expired.
pub const NEEDS_AUTH: &str = "needs_auth";
/// The alert kind of an account that was never read, fails, or is stale.
pub const SYNC_FAILED: &str = "sync_failed";

/// How current the analysis must be: a one-shot command needs each account's last sync to
/// have worked; the daemon tolerates failures while it retries, within its retry budget (the
/// last success no older than 3 × `sync.interval`), and calls an account stale past that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    OneShot,
    Daemon,
}

/// The state of one account for the analysis (`report --json` `accounts[].state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Ok,
    NeverSynced,
    Failed,
    Stale,
    NeedsAuth,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Ok => "ok",
            AccountStatus::NeverSynced => "never_synced",
            AccountStatus::Failed => "failed",
            AccountStatus::Stale => "stale",
            AccountStatus::NeedsAuth => "needs_auth",
        }
    }
}

/// One configured account as the completeness gate sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    pub name: String,
    pub status: AccountStatus,
    pub last_success: Option<DateTime<Utc>>,
    /// The last sync's error, one sentence without secrets (None when it worked).
    pub error: Option<String>,
    /// A sync of the account has finished at least once (worked or failed). A sync that has
    /// only started (its start is on record before it runs, `last_sync_ok` still NULL) does not
    /// count: the daemon's first sync of an account may be running while another account's
    /// sync, or another instance sharing the store, triggers an analysis.
    pub attempted: bool,
}

impl AccountState {
    /// "missing since …" in words, for the top of the report, status and the dashboard.
    pub fn missing_text(&self, config: &Config) -> String {
        let zone = config.manager.zone();
        let since = self
            .last_success
            .map(|t| zone.from_utc(t).format("%Y-%m-%d %H:%M").to_string());
        // The sync's sentence often starts with the account's name, which the text already says.
        let prefix = format!("account {}: ", self.name);
        let why = self.error.as_deref().map(|e| {
            let e = e.trim();
            e.strip_prefix(prefix.as_str())
                .unwrap_or(e)
                .trim_end_matches('.')
                .to_string()
        });
        let ja = config.manager.locale == Locale::Ja;
        let n = &self.name;
        match (ja, self.status, since, why) {
            (false, AccountStatus::NeedsAuth, _, _) => {
                format!(
                    "account {n} needs `cadenced auth {n}`: its authorization was revoked or expired"
                )
            }
            (true, AccountStatus::NeedsAuth, _, _) => {
                format!("アカウント {n} は再認可が必要です（`cadenced auth {n}`）")
            }
            (false, _, None, Some(e)) => format!("account {n} has never been read: {e}"),
            (false, _, None, None) => {
                format!("account {n} has never been read: run `cadenced sync`")
            }
            (false, AccountStatus::Stale, Some(t), _) => {
                format!("account {n} has not synced since {t}")
            }
            (false, _, Some(t), Some(e)) => format!("account {n} has not synced since {t}: {e}"),
            (false, _, Some(t), None) => format!("account {n} has not synced since {t}"),
            (true, _, None, Some(e)) => format!("アカウント {n} は一度も読み込めていません: {e}"),
            (true, _, None, None) => format!(
                "アカウント {n} は一度も読み込めていません（`cadenced sync` を実行してください）"
            ),
            (true, _, Some(t), Some(e)) => {
                format!("アカウント {n} は {t} 以降同期できていません: {e}")
            }
            (true, _, Some(t), None) => format!("アカウント {n} は {t} 以降同期できていません"),
        }
    }
}

/// The state of every configured account at `now` (config order).
pub fn account_states(
    config: &Config,
    stored: &[AccountOverview],
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Vec<AccountState> {
    let budget = config.sync.interval.as_chrono() * 3;
    config
        .accounts
        .iter()
        .map(|acc| {
            let s = stored.iter().find(|s| s.name == acc.name);
            let last_success = s.and_then(|s| s.last_success_at);
            let failed_last = s.is_some_and(|s| s.last_sync_ok == Some(false));
            let fresh = last_success.is_some_and(|t| now - t <= budget);
            let status = if s.is_some_and(|s| s.needs_auth) {
                AccountStatus::NeedsAuth
            } else if last_success.is_none() {
                AccountStatus::NeverSynced
            } else if failed_last && (freshness == Freshness::OneShot || !fresh) {
                AccountStatus::Failed
            } else if freshness == Freshness::Daemon && !fresh {
                AccountStatus::Stale
            } else {
                AccountStatus::Ok
            };
            AccountState {
                name: acc.name.clone(),
                status,
                last_success,
                error: s
                    .filter(|s| s.last_sync_ok == Some(false))
                    .and_then(|s| s.last_error.clone()),
                attempted: s.is_some_and(|s| s.last_sync_ok.is_some()),
            }
        })
        .collect()
}

/// [`analyse_with`] for a one-shot command (`report`, `status`, `run --once`, …).
pub fn analyse(
    config: &Config,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<Analysed, StoreError> {
    analyse_with(config, store, now, Freshness::OneShot)
}

/// The analysis at `now` and its alerts reconciled with the store, behind the completeness
/// gate: while an account is missing, report alerts are neither opened, changed nor resolved
/// (the stored open ones are shown as they are) and each missing account gets its own alert.
pub fn analyse_with(
    config: &Config,
    store: &mut Store,
    now: DateTime<Utc>,
    freshness: Freshness,
) -> Result<Analysed, StoreError> {
    if config.org.is_some() {
        // An org config has no roster of its own (each manager's derived config has, see
        // `crate::org`): never reconcile the shared store with it.
        return Ok(Analysed {
            analysis: cadence::analyse(config, &[], now),
            states: Vec::new(),
            account_alerts: Vec::new(),
            accounts: Vec::new(),
            complete: false,
        });
    }
    // `directory = true` accounts add their direct reports to the roster.
    let state_dir = store.state_dir().map(std::path::Path::to_path_buf);
    let with_directory = state_dir
        .as_deref()
        .map(|d| crate::providers::directory::with_directory(config, d));
    let config: &Config = with_directory.as_deref().unwrap_or(config);
    let window = cadence::analyse::analysis_window(config, now);
    let started = std::time::Instant::now();
    // Single events that cannot be anyone's 1on1 (or a candidate's) are not even decoded.
    let detector = cadence::Detector::new(config);
    let keep = |humans: &mut dyn Iterator<Item = &str>, title: &str| {
        let humans: Vec<&str> = humans.collect();
        detector.single_may_matter(humans.iter().copied(), title)
            || detector.may_be_absence(humans.iter().copied(), title)
    };
    // Org mode: the store is shared by every manager; this one reads only their own accounts.
    let calendars = if config.scoped {
        let mut all = Vec::new();
        for account in &config.accounts {
            all.extend(store.load_events_in_filtered(
                Some(&account.name),
                window.from,
                window.to,
                &keep,
            )?);
        }
        all
    } else {
        store.load_events_in_filtered(None, window.from, window.to, &keep)?
    };
    let loaded = started.elapsed();
    let analysis = cadence::analyse(config, &calendars, now);
    tracing::debug!(
        events = calendars.iter().map(|c| c.events.len()).sum::<usize>(),
        ?loaded,
        analysed = ?(started.elapsed() - loaded),
        "analysis done"
    );
    for w in &analysis.warnings {
        tracing::warn!("{w}");
    }
    // Org mode: only this manager's accounts, not every manager's (see `account_overview_of`).
    let overview = if config.scoped {
        let names: Vec<&str> = config.accounts.iter().map(|a| a.name.as_str()).collect();
        store.account_overview_of(&names)?
    } else {
        store.account_overview()?
    };
    let accounts = account_states(config, &overview, now, freshness);
    let complete = accounts.iter().all(|a| a.status == AccountStatus::Ok);
    // The daemon's first sync of an account may still be running while another account's
    // sync triggers an analysis: such an account keeps the analysis incomplete, but it has not
    // failed, so it raises no alert (a one-shot command, which runs no sync of its own, says it).
    let account_alerts: Vec<(AccountAlert, store::Finding)> = accounts
        .iter()
        .filter(|a| a.status != AccountStatus::Ok)
        .filter(|a| {
            !(freshness == Freshness::Daemon
                && a.status == AccountStatus::NeverSynced
                && !a.attempted)
        })
        .map(|a| account_alert(config, a))
        .collect();
    let mut analysis = analysis;
    let mut findings: Vec<store::Finding> = Vec::new();
    if complete {
        findings.extend(analysis.findings.iter().map(|f| {
            store::Finding {
                kind: f.kind.as_str().to_string(),
                report: f.report_email.to_lowercase(),
                episode: f.episode.clone(),
                since: f.since,
                data: serde_json::json!({"severity": f.severity.as_str(), "message": f.message})
                    .to_string(),
            }
        }));
    }
    let report_count = findings.len();
    findings.extend(account_alerts.iter().map(|(_, f)| f.clone()));
    // Org mode: only this manager's reports and accounts are theirs to resolve.
    let resolvable =
        |report: &str| (complete || report.starts_with("account:")) && owns(config, report);
    let mut states = store.reconcile_alerts_where(&findings, now, &resolvable)?;
    let account_states = states.split_off(report_count);
    if !complete {
        // The report alerts stay as they were: show the stored open ones.
        let (kept, kept_states) = stored_report_alerts(&analysis, store)?;
        analysis.findings = kept;
        states = kept_states;
    }
    Ok(Analysed {
        analysis,
        states,
        account_alerts: account_alerts
            .into_iter()
            .map(|(a, _)| a)
            .zip(account_states)
            .collect(),
        accounts,
        complete,
    })
}

/// Whether an alert (by its `report` column: an address, or `account:<name>`) belongs to this
/// config: always in the single-manager mode; in org mode, only this manager's reports and
/// accounts (the store is shared).
pub fn owns(config: &Config, report: &str) -> bool {
    !config.scoped
        || match report.strip_prefix("account:") {
            Some(account) => config.accounts.iter().any(|a| a.name == account),
            None => config.report_for(report).is_some(),
        }
}

/// The alert of an account that keeps the analysis incomplete, and its finding for the store.
/// Its episode is the last success, so one outage is one alert.
fn account_alert(config: &Config, a: &AccountState) -> (AccountAlert, store::Finding) {
    let (kind, message, episode) = if a.status == AccountStatus::NeedsAuth {
        (
            NEEDS_AUTH,
            needs_auth_message(config, &a.name),
            String::new(),
        )
    } else {
        let missing = a.missing_text(config);
        let message = match config.manager.locale {
            Locale::En => {
                let mut m = missing;
                if let Some(first) = m.get(..1) {
                    m = first.to_uppercase() + &m[1..];
                }
                format!("{m}; cadence alerts are on hold until it syncs.")
            }
            Locale::Ja => format!("{missing}。同期できるまで1on1のアラートは保留します。"),
        };
        let episode = a
            .last_success
            .map_or_else(|| "never".to_string(), |t| t.to_rfc3339());
        (SYNC_FAILED, message, episode)
    };
    let finding = store::Finding {
        kind: kind.to_string(),
        report: format!("account:{}", a.name),
        episode,
        since: a.last_success,
        data: serde_json::json!({"severity": "warning", "message": message}).to_string(),
    };
    (
        AccountAlert {
            account: a.name.clone(),
            kind,
            message,
        },
        finding,
    )
}

/// The stored open report alerts as findings (for the reports of the roster), with their
/// states, in the analysis' order (report, kind, since).
fn stored_report_alerts(
    analysis: &Analysis,
    store: &Store,
) -> Result<(Vec<Finding>, Vec<AlertState>), StoreError> {
    let mut out: Vec<(Finding, AlertState)> = Vec::new();
    for a in store.open_alerts()? {
        let Some(kind) = AlertKind::parse(&a.kind) else {
            continue;
        };
        let Some(index) = analysis
            .reports
            .iter()
            .position(|r| r.email.eq_ignore_ascii_case(&a.report))
        else {
            continue;
        };
        let data: serde_json::Value = serde_json::from_str(&a.data).unwrap_or_default();
        let message = data
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or(kind.as_str())
            .to_string();
        out.push((
            Finding {
                kind,
                report: index,
                report_email: analysis.reports[index].email.clone(),
                severity: cadence::messages::severity(kind),
                since: Some(a.since),
                episode: a.episode.clone(),
                message,
            },
            AlertState {
                id: a.id.clone(),
                since: a.since,
                first_seen: a.first_seen,
                acked: a.acked_at.is_some(),
                snoozed_until: a.snoozed_until,
            },
        ));
    }
    out.sort_by(|(a, _), (b, _)| {
        (a.report_email.to_lowercase(), a.kind.as_str(), a.since).cmp(&(
            b.report_email.to_lowercase(),
            b.kind.as_str(),
            b.since,
        ))
    });
    Ok(out.into_iter().unzip())
}

pub fn needs_auth_message(config: &Config, account: &str) -> String {
    match config.manager.locale {
        Locale::Ja => format!(
            "アカウント {account} の認可が失効したため同期できません。`cadenced auth {account}` を実行してください。"
        ),
        Locale::En => format!(
            "Account {account} cannot sync: its authorization was revoked or expired. Run `cadenced auth {account}`."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    const CONFIG: &str = r#"
[manager]
email = "mika@example.com"
timezone = "UTC"
[[reports]]
email = "alice@example.com"
name = "Alice"
cadence = "weekly"
[[reports]]
email = "bob@example.com"
name = "Bob"
[[accounts]]
name = "feed"
provider = "ics"
path = "/nonexistent/feed.ics"
[[accounts]]
name = "second"
provider = "ics"
path = "/nonexistent/second.ics"
"#;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
    }

    /// A calendar of 1on1s with Alice and Bob at day offsets (cancelled when the flag says so).
    fn feed(sessions: &[(f64, bool, bool)]) -> Vec<crate::model::Event> {
        let mut text = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n");
        for (i, (day, bob, cancelled)) in sessions.iter().enumerate() {
            let start = now() + Duration::seconds((day * 86_400.0) as i64);
            let who = if *bob { "bob" } else { "alice" };
            text.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:s{i}\r\nDTSTART:{}\r\nDURATION:PT30M\r\nSUMMARY:1on1\r\n\
                 ORGANIZER:mailto:mika@example.com\r\nATTENDEE:mailto:{who}@example.com\r\n{}END:VEVENT\r\n",
                start.format("%Y%m%dT%H%M%SZ"),
                if *cancelled { "STATUS:CANCELLED\r\n" } else { "" }
            ));
        }
        text.push_str("END:VCALENDAR\r\n");
        crate::providers::ics::parse_feed(text.as_bytes(), "feed.ics", "feed.ics")
            .unwrap()
            .events
    }

    fn synced(store: &mut Store, account: &str, events: &[crate::model::Event], ok: bool) {
        let id = store.ensure_account(account, "ics").unwrap();
        if ok {
            store
                .replace_account_events(id, "feed.ics", events, None)
                .unwrap();
        }
        store
            .record_sync(
                id,
                &crate::store::SyncOutcome {
                    at: now(),
                    ok,
                    error: (!ok).then(|| format!("cannot read /nonexistent/{account}.ics")),
                    changed: ok,
                },
            )
            .unwrap();
    }

    fn report_alerts(store: &Store) -> Vec<crate::store::StoredAlert> {
        store
            .open_alerts()
            .unwrap()
            .into_iter()
            .filter(|a| !a.report.starts_with("account:"))
            .collect()
    }

    fn sessions() -> impl Strategy<Value = Vec<(f64, bool, bool)>> {
        proptest::collection::vec((-120.0f64..40.0, any::<bool>(), any::<bool>()), 0..14)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// While an account is missing (never synced, or its last sync failed), the analysis
        /// never opens, changes or resolves a report alert, whatever the calendar now says, and
        /// shows the stored ones as they are; the missing account gets one alert.
        #[test]
        fn an_incomplete_analysis_never_touches_report_alerts(
            before in sessions(),
            after in sessions(),
            later in 0i64..200_000,
        ) {
            let config = crate::config::parse(CONFIG, std::path::Path::new("/tmp/c.toml")).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut store = Store::open_in(dir.path()).unwrap();

            // Never synced: no report alert at all, one sync_failed.
            synced(&mut store, "feed", &feed(&before), true);
            let a = analyse(&config, &mut store, now()).unwrap();
            prop_assert!(!a.complete);
            prop_assert!(a.analysis.findings.is_empty());
            prop_assert!(report_alerts(&store).is_empty());
            prop_assert_eq!(a.account_alerts.len(), 1);
            prop_assert_eq!(a.account_alerts[0].0.kind, SYNC_FAILED);

            // A complete run opens whatever the calendar calls for.
            synced(&mut store, "second", &[], true);
            let complete = analyse(&config, &mut store, now()).unwrap();
            prop_assert!(complete.complete);
            prop_assert!(complete.account_alerts.is_empty());
            let held = report_alerts(&store);

            // The calendar changes, then the second account breaks: nothing moves.
            synced(&mut store, "feed", &feed(&after), true);
            synced(&mut store, "second", &[], false);
            let at = now() + Duration::seconds(later);
            let a = analyse(&config, &mut store, at).unwrap();
            prop_assert!(!a.complete);
            prop_assert_eq!(&report_alerts(&store), &held);
            let shown: Vec<(&str, &str)> = a
                .states
                .iter()
                .zip(&a.analysis.findings)
                .map(|(s, f)| (s.id.as_str(), f.kind.as_str()))
                .collect();
            let stored: Vec<(&str, &str)> =
                held.iter().map(|h| (h.id.as_str(), h.kind.as_str())).collect();
            let mut shown_sorted = shown.clone();
            shown_sorted.sort();
            let mut stored_sorted = stored.clone();
            stored_sorted.sort();
            prop_assert_eq!(shown_sorted, stored_sorted);
            prop_assert_eq!(a.account_alerts.len(), 1);
            prop_assert_eq!(a.account_alerts[0].0.account.as_str(), "second");
        }
    }

    #[test]
    fn a_first_sync_still_running_in_the_daemon_holds_alerts_without_an_account_alert() {
        let config = crate::config::parse(CONFIG, std::path::Path::new("/tmp/c.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in(dir.path()).unwrap();
        synced(&mut store, "feed", &feed(&[(-3.0, false, false)]), true);
        // "second" has not been tried yet: incomplete, but nothing has failed.
        let a = analyse_with(&config, &mut store, now(), Freshness::Daemon).unwrap();
        assert!(!a.complete);
        assert!(a.account_alerts.is_empty());
        assert!(a.analysis.findings.is_empty());
        // Its first sync has started (the start is on record before it runs) and not ended:
        // still nothing has failed (with a shared store this analysis may run on another
        // instance than the sync).
        let id = store.ensure_account("second", "ics").unwrap();
        store.record_sync_start(id, now()).unwrap();
        let a = analyse_with(&config, &mut store, now(), Freshness::Daemon).unwrap();
        assert!(!a.complete);
        assert!(a.account_alerts.is_empty());
        // A one-shot command says it (nothing will sync it in the meantime).
        let a = analyse(&config, &mut store, now()).unwrap();
        assert_eq!(a.account_alerts.len(), 1);
        // Once its first sync has failed, the daemon says it too.
        synced(&mut store, "second", &[], false);
        let a = analyse_with(&config, &mut store, now(), Freshness::Daemon).unwrap();
        assert_eq!(a.account_alerts.len(), 1);
        assert_eq!(a.account_alerts[0].0.kind, SYNC_FAILED);
        assert!(
            a.account_alerts[0].0.message.contains("never been read"),
            "{}",
            a.account_alerts[0].0.message
        );
    }

    #[test]
    fn the_daemon_tolerates_failures_within_the_retry_budget_then_calls_it_failed_or_stale() {
        let config = crate::config::parse(CONFIG, std::path::Path::new("/tmp/c.toml")).unwrap();
        let overview = |ok: bool, success_ago: i64| AccountOverview {
            name: "feed".into(),
            provider: "ics".into(),
            needs_auth: false,
            last_sync_at: Some(now()),
            last_sync_ok: Some(ok),
            last_error: (!ok).then(|| "boom".to_string()),
            last_success_at: Some(now() - Duration::minutes(success_ago)),
            events: 0,
            calendars: 1,
            cursors: 0,
        };
        let state =
            |o: AccountOverview, f: Freshness| account_states(&config, &[o], now(), f)[0].status;
        // interval 5m: the budget is 15 minutes.
        assert_eq!(
            state(overview(false, 10), Freshness::Daemon),
            AccountStatus::Ok
        );
        assert_eq!(
            state(overview(false, 10), Freshness::OneShot),
            AccountStatus::Failed
        );
        assert_eq!(
            state(overview(false, 20), Freshness::Daemon),
            AccountStatus::Failed
        );
        assert_eq!(
            state(overview(true, 20), Freshness::Daemon),
            AccountStatus::Stale
        );
        assert_eq!(
            state(overview(true, 20), Freshness::OneShot),
            AccountStatus::Ok
        );
        // The second account of the config was never stored: never synced.
        assert_eq!(
            account_states(&config, &[], now(), Freshness::OneShot)[1].status,
            AccountStatus::NeverSynced
        );
    }
}
