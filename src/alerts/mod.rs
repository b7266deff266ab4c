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

use crate::cadence::{self, Analysis};
use crate::config::{Config, Locale};
use crate::store::{self, AlertState, Store, StoreError};

/// The analysis at `now`, with the alerts matched to their stored lifecycle.
pub struct Analysed {
    pub analysis: Analysis,
    /// One per finding, same order.
    pub states: Vec<AlertState>,
    /// Accounts that cannot sync until `cadenced auth` (docs/design.md, Reliability), with their alert state.
    pub account_alerts: Vec<(AccountAlert, AlertState)>,
}

/// An alert about an account rather than a report.
pub struct AccountAlert {
    pub account: String,
    pub message: String,
}

/// The alert kind of an account whose refresh token was revoked or expired.
pub const NEEDS_AUTH: &str = "needs_auth";

pub fn analyse(
    config: &Config,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<Analysed, StoreError> {
    // `directory = true` accounts add their direct reports to the roster.
    let state_dir = store.path().parent().map(std::path::Path::to_path_buf);
    let with_directory = state_dir
        .as_deref()
        .map(|d| crate::providers::directory::with_directory(config, d));
    let config: &Config = with_directory.as_deref().unwrap_or(config);
    let window = cadence::analyse::analysis_window(config, now);
    let started = std::time::Instant::now();
    // Single events that cannot be anyone's 1on1 (or a candidate's) are not even decoded.
    let detector = cadence::Detector::new(config);
    let keep = |humans: &mut dyn Iterator<Item = &str>, title: &str| {
        detector.single_may_matter(humans, title)
    };
    let calendars = store.load_events_in_filtered(None, window.from, window.to, &keep)?;
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
    let account_alerts: Vec<AccountAlert> = store
        .account_overview()?
        .into_iter()
        .filter(|a| a.needs_auth && config.account(&a.name).is_some())
        .map(|a| AccountAlert {
            message: needs_auth_message(config, &a.name),
            account: a.name,
        })
        .collect();
    let mut findings: Vec<store::Finding> = analysis
        .findings
        .iter()
        .map(|f| store::Finding {
            kind: f.kind.as_str().to_string(),
            report: f.report_email.to_lowercase(),
            episode: f.episode.clone(),
            since: f.since,
            data: serde_json::json!({"severity": f.severity.as_str(), "message": f.message})
                .to_string(),
        })
        .collect();
    findings.extend(account_alerts.iter().map(|a| store::Finding {
        kind: NEEDS_AUTH.to_string(),
        report: format!("account:{}", a.account),
        episode: String::new(),
        since: None,
        data: serde_json::json!({"severity": "warning", "message": a.message}).to_string(),
    }));
    let mut states = store.reconcile_alerts(&findings, now)?;
    let account_states = states.split_off(analysis.findings.len());
    Ok(Analysed {
        analysis,
        states,
        account_alerts: account_alerts.into_iter().zip(account_states).collect(),
    })
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
