//! The cadence report document (`report --json`, a contract; see `docs/cadence-rules.md`):
//! built once from an [`Analysed`] and shared by `report --json`, the dashboard and
//! `/api/report`, so they can never disagree.
//!
//! Invariants: times are RFC 3339 in UTC; figures are rounded to one decimal; `reports` follows
//! the roster's order; `alerts` are the analysis' findings (sorted by report, kind, since) then
//! the account alerts; `complete` and `accounts` come from the completeness gate, so a report
//! printed while an account is missing shows the report alerts as they were held.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::alerts::Analysed;
use crate::cadence::ReportFigures;
use crate::config::Config;
use crate::output::{rfc3339, round1};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportDoc {
    pub now: String,
    pub manager: String,
    /// Every account read and current (docs/cadence-rules.md, "Completeness"); when false, report alerts
    /// are held as they were.
    pub complete: bool,
    pub accounts: Vec<AccountJson>,
    pub team_median_sessions_per_30d: Option<f64>,
    pub reports: Vec<ReportRow>,
    pub alerts: Vec<AlertJson>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AccountJson {
    pub name: String,
    /// `ok | never_synced | failed | stale | needs_auth`.
    pub state: String,
    pub last_success: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ReportRow {
    pub email: String,
    pub name: String,
    pub expected_interval_days: f64,
    pub cadence_source: String,
    pub held: usize,
    pub cancelled: usize,
    pub declined: usize,
    pub excused: usize,
    pub upcoming: usize,
    /// The tenure start, `YYYY-MM-DD`.
    pub start: Option<String>,
    pub last_held: Option<String>,
    pub next_scheduled: Option<String>,
    pub days_since_last_held: Option<f64>,
    pub sessions_per_30d: f64,
    pub series: Vec<SeriesJson>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesJson {
    pub account: String,
    pub event_id: String,
    pub title: String,
    pub recurrence: String,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AlertJson {
    pub id: String,
    pub kind: String,
    /// The report's e-mail; null for an alert about an account.
    pub report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub severity: String,
    pub since: Option<String>,
    pub message: String,
    pub acknowledged: bool,
    pub snoozed_until: Option<String>,
}

/// The report document at `now`.
pub fn build(config: &Config, a: &Analysed, now: DateTime<Utc>) -> ReportDoc {
    ReportDoc {
        now: rfc3339(now),
        manager: config.manager.email.clone(),
        complete: a.complete,
        accounts: a
            .accounts
            .iter()
            .map(|acc| AccountJson {
                name: acc.name.clone(),
                state: acc.status.as_str().to_string(),
                last_success: acc.last_success.map(rfc3339),
                error: acc.error.clone(),
            })
            .collect(),
        team_median_sessions_per_30d: a.analysis.team_median.map(round1),
        reports: a.analysis.reports.iter().map(report_row).collect(),
        alerts: alert_rows(a),
    }
}

/// The document as `report --json` and `/api/report` print it: [`build`], with each report's
/// agenda links (issue 8) added as an extra `agenda` field.
pub fn document(
    config: &Config,
    a: &Analysed,
    links: &[crate::store::AgendaLink],
    now: DateTime<Utc>,
) -> serde_json::Result<serde_json::Value> {
    let mut doc = serde_json::to_value(build(config, a, now))?;
    crate::agenda::annotate_report(&mut doc, links);
    Ok(doc)
}

/// The series of one report, as the report lists them.
pub fn series_json(r: &ReportFigures) -> Vec<SeriesJson> {
    r.series
        .iter()
        .map(|s| SeriesJson {
            account: s.account.clone(),
            event_id: s.event_id.clone(),
            title: s.title.clone(),
            recurrence: s.recurrence.clone(),
            active: s.active,
        })
        .collect()
}

fn report_row(r: &ReportFigures) -> ReportRow {
    ReportRow {
        email: r.email.clone(),
        name: r.name.clone(),
        expected_interval_days: round1(r.expected_interval_days),
        cadence_source: r.cadence_source.as_str().to_string(),
        held: r.held,
        cancelled: r.cancelled,
        declined: r.declined,
        excused: r.excused,
        upcoming: r.upcoming,
        start: r.start.map(|d| d.format("%Y-%m-%d").to_string()),
        last_held: r.last_held.map(rfc3339),
        next_scheduled: r.next_scheduled.map(rfc3339),
        days_since_last_held: r.days_since_last_held.map(round1),
        sessions_per_30d: round1(r.sessions_per_30d),
        series: series_json(r),
    }
}

fn alert_rows(a: &Analysed) -> Vec<AlertJson> {
    a.analysis
        .findings
        .iter()
        .zip(&a.states)
        .map(|(f, s)| AlertJson {
            id: s.id.clone(),
            kind: f.kind.as_str().to_string(),
            report: Some(f.report_email.clone()),
            account: None,
            severity: f.severity.as_str().to_string(),
            since: Some(rfc3339(f.since.unwrap_or(s.since))),
            message: f.message.clone(),
            acknowledged: s.acked,
            snoozed_until: s.snoozed_until.map(rfc3339),
        })
        .chain(a.account_alerts.iter().map(|(acc, s)| AlertJson {
            id: s.id.clone(),
            kind: acc.kind.to_string(),
            report: None,
            account: Some(acc.account.clone()),
            severity: "warning".to_string(),
            since: Some(rfc3339(s.since)),
            message: acc.message.clone(),
            acknowledged: s.acked,
            snoozed_until: s.snoozed_until.map(rfc3339),
        }))
        .collect()
}
