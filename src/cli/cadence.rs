//! `report`, `series` and `alerts`: the cadence analysis, shown for a person or a script.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{CliError, Context};
use crate::cadence::{self, Analysis, Outcome, ReportFigures};
use crate::config::Locale;
use crate::store::{self, AckOutcome, AlertState};
use crate::tz::Zone;

/// The analysis at `ctx.now`, with the alerts matched to their stored lifecycle.
pub struct Analysed {
    pub analysis: Analysis,
    /// One per finding, same order.
    pub states: Vec<AlertState>,
    /// Accounts that cannot sync until `cadenced auth` (DESIGN §9), with their alert state.
    pub account_alerts: Vec<(AccountAlert, AlertState)>,
}

/// An alert about an account rather than a report.
pub struct AccountAlert {
    pub account: String,
    pub message: String,
}

/// The alert kind of an account whose refresh token was revoked or expired.
pub const NEEDS_AUTH: &str = "needs_auth";

pub fn analyse(ctx: &Context) -> Result<Analysed, CliError> {
    let mut store = ctx.open_store()?;
    let window = cadence::analyze::analysis_window(&ctx.config, ctx.now);
    let started = std::time::Instant::now();
    // Single events that cannot be anyone's 1on1 (or a candidate's) are not even decoded.
    let detector = cadence::Detector::new(&ctx.config);
    let keep = |humans: &mut dyn Iterator<Item = &str>, title: &str| {
        detector.single_may_matter(humans, title)
    };
    let calendars = store
        .load_events_in_filtered(None, window.from, window.to, &keep)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let loaded = started.elapsed();
    let analysis = cadence::analyze(&ctx.config, &calendars, ctx.now);
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
        .account_overview()
        .map_err(|e| CliError::runtime(e.to_string()))?
        .into_iter()
        .filter(|a| a.needs_auth && ctx.config.account(&a.name).is_some())
        .map(|a| AccountAlert {
            message: needs_auth_message(ctx, &a.name),
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
    let mut states = store
        .reconcile_alerts(&findings, ctx.now)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let account_states = states.split_off(analysis.findings.len());
    Ok(Analysed {
        analysis,
        states,
        account_alerts: account_alerts.into_iter().zip(account_states).collect(),
    })
}

fn needs_auth_message(ctx: &Context, account: &str) -> String {
    match ctx.config.manager.locale {
        Locale::Ja => format!(
            "アカウント {account} の認可が失効したため同期できません。`cadenced auth {account}` を実行してください。"
        ),
        Locale::En => format!(
            "Account {account} cannot sync: its authorization was revoked or expired. Run `cadenced auth {account}`."
        ),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

// ---------------------------------------------------------------- JSON (DESIGN §6, a contract)

#[derive(Serialize)]
struct ReportJson<'a> {
    now: String,
    manager: &'a str,
    team_median_sessions_per_30d: Option<f64>,
    reports: Vec<ReportRow<'a>>,
    alerts: Vec<AlertJson<'a>>,
}

#[derive(Serialize)]
struct ReportRow<'a> {
    email: &'a str,
    name: &'a str,
    expected_interval_days: f64,
    cadence_source: &'static str,
    held: usize,
    cancelled: usize,
    declined: usize,
    upcoming: usize,
    last_held: Option<String>,
    next_scheduled: Option<String>,
    days_since_last_held: Option<f64>,
    sessions_per_30d: f64,
    series: Vec<SeriesJson<'a>>,
}

#[derive(Serialize)]
struct SeriesJson<'a> {
    account: &'a str,
    event_id: &'a str,
    title: &'a str,
    recurrence: &'a str,
    active: bool,
}

#[derive(Serialize)]
struct AlertJson<'a> {
    id: &'a str,
    kind: &'static str,
    /// The report's e-mail; null for an alert about an account.
    report: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<&'a str>,
    severity: &'static str,
    since: Option<String>,
    message: &'a str,
    acknowledged: bool,
    snoozed_until: Option<String>,
}

fn report_row(r: &ReportFigures) -> ReportRow<'_> {
    ReportRow {
        email: &r.email,
        name: &r.name,
        expected_interval_days: round1(r.expected_interval_days),
        cadence_source: r.cadence_source.as_str(),
        held: r.held,
        cancelled: r.cancelled,
        declined: r.declined,
        upcoming: r.upcoming,
        last_held: r.last_held.map(rfc3339),
        next_scheduled: r.next_scheduled.map(rfc3339),
        days_since_last_held: r.days_since_last_held.map(round1),
        sessions_per_30d: round1(r.sessions_per_30d),
        series: r
            .series
            .iter()
            .map(|s| SeriesJson {
                account: &s.account,
                event_id: &s.event_id,
                title: &s.title,
                recurrence: &s.recurrence,
                active: s.active,
            })
            .collect(),
    }
}

fn alert_rows<'a>(a: &'a Analysed) -> Vec<AlertJson<'a>> {
    a.analysis
        .findings
        .iter()
        .zip(&a.states)
        .map(|(f, s)| AlertJson {
            id: &s.id,
            kind: f.kind.as_str(),
            report: Some(&f.report_email),
            account: None,
            severity: f.severity.as_str(),
            since: Some(rfc3339(f.since.unwrap_or(s.since))),
            message: &f.message,
            acknowledged: s.acked,
            snoozed_until: s.snoozed_until.map(rfc3339),
        })
        .chain(a.account_alerts.iter().map(|(acc, s)| AlertJson {
            id: &s.id,
            kind: NEEDS_AUTH,
            report: None,
            account: Some(&acc.account),
            severity: "warning",
            since: Some(rfc3339(s.since)),
            message: &acc.message,
            acknowledged: s.acked,
            snoozed_until: s.snoozed_until.map(rfc3339),
        }))
        .collect()
}

// ---------------------------------------------------------------- report

pub fn report(ctx: &Context, json: bool) -> Result<(), CliError> {
    let a = analyse(ctx)?;
    if json {
        let doc = ReportJson {
            now: rfc3339(ctx.now),
            manager: &ctx.config.manager.email,
            team_median_sessions_per_30d: a.analysis.team_median.map(round1),
            reports: a.analysis.reports.iter().map(report_row).collect(),
            alerts: alert_rows(&a),
        };
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    write_out(&render_report(ctx, &a, Style::detect()))
}

/// Terminal styling: colours only on a terminal and without `NO_COLOR`.
#[derive(Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    pub fn detect() -> Self {
        Style {
            color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    fn paint(self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn pad(s: &str, columns: usize) -> String {
    format!("{s}{}", " ".repeat(columns.saturating_sub(width(s))))
}

/// Display width in terminal columns: CJK and other wide characters take two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if (c as u32) >= 0x1100 && !matches!(c as u32, 0x2000..=0x206F) {
                2
            } else {
                1
            }
        })
        .sum()
}

fn local_date(t: DateTime<Utc>, zone: &Zone) -> NaiveDate {
    zone.from_utc(t).date()
}

pub fn render_report(ctx: &Context, a: &Analysed, style: Style) -> String {
    let zone = ctx.config.manager.zone();
    let ja = ctx.config.manager.locale == Locale::Ja;
    let an = &a.analysis;
    let median = an
        .team_median
        .map_or_else(|| "-".to_string(), |m| format!("{m:.1}"));
    let headers = if ja {
        [
            "メンバー",
            "想定間隔",
            "最終実施",
            "次回予定",
            "実施/中止/辞退",
            "30日あたり",
            "アラート",
        ]
    } else {
        [
            "Report",
            "Expected",
            "Last held",
            "Next",
            "Held/canc/decl",
            "Per 30d",
            "Alerts",
        ]
    };
    let mut rows: Vec<[String; 7]> = Vec::new();
    for (i, r) in an.reports.iter().enumerate() {
        let kinds: Vec<&str> = an
            .findings
            .iter()
            .zip(&a.states)
            .filter(|(f, s)| {
                f.report == i && !s.acked && s.snoozed_until.is_none_or(|u| u <= ctx.now)
            })
            .map(|(f, _)| f.kind.as_str())
            .collect();
        rows.push([
            r.name.clone(),
            format!(
                "{}d ({})",
                round1(r.expected_interval_days),
                r.cadence_source.as_str()
            ),
            r.last_held.map_or_else(
                || "-".into(),
                |t| {
                    format!(
                        "{} ({:.0}d)",
                        local_date(t, &zone),
                        (ctx.now - t).num_seconds() as f64 / 86_400.0
                    )
                },
            ),
            r.next_scheduled
                .map_or_else(|| "-".into(), |t| local_date(t, &zone).to_string()),
            format!("{}/{}/{}", r.held, r.cancelled, r.declined),
            format!("{:.1} / {median}", r.sessions_per_30d),
            if kinds.is_empty() {
                "ok".into()
            } else {
                kinds.join(", ")
            },
        ]);
    }
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let mut out = String::new();
    let title = if ja {
        format!(
            "1on1 の状況（{}時点, 過去{}日）\n\n",
            zone.from_utc(ctx.now).format("%Y-%m-%d %H:%M"),
            an.lookback_days
        )
    } else {
        format!(
            "1on1 cadence at {} ({}), lookback {} days\n\n",
            zone.from_utc(ctx.now).format("%Y-%m-%d %H:%M"),
            zone.name(),
            an.lookback_days
        )
    };
    out.push_str(&style.paint("1", &title));
    let line = |cells: Vec<String>| cells.join("  ").trim_end().to_string() + "\n";
    out.push_str(
        &style.paint(
            "1",
            &line(
                headers
                    .iter()
                    .zip(&widths)
                    .map(|(h, w)| pad(h, *w))
                    .collect(),
            ),
        ),
    );
    for row in &rows {
        let mut cells: Vec<String> = row.iter().zip(&widths).map(|(c, w)| pad(c, *w)).collect();
        if let Some(last) = cells.last_mut() {
            *last = if row[6] == "ok" {
                style.paint("32", last)
            } else {
                style.paint("33", last)
            };
        }
        out.push_str(&line(cells));
    }
    let quiet = |s: &AlertState| s.acked || s.snoozed_until.is_some_and(|u| u > ctx.now);
    let mut open: Vec<(String, &str, &str)> = Vec::new();
    for (f, s) in an.findings.iter().zip(&a.states).filter(|(_, s)| !quiet(s)) {
        let sev = match f.severity {
            cadence::messages::Severity::Warning => style.paint("33", "warning"),
            cadence::messages::Severity::Info => style.paint("36", "info   "),
        };
        open.push((sev, &s.id, &f.message));
    }
    for (acc, s) in a.account_alerts.iter().filter(|(_, s)| !quiet(s)) {
        open.push((style.paint("31", "warning"), &s.id, &acc.message));
    }
    if !open.is_empty() {
        out.push_str(&style.paint("1", if ja { "\nアラート\n" } else { "\nAlerts\n" }));
        for (sev, id, message) in open {
            out.push_str(&format!("  {sev}  {id}  {message}\n"));
        }
    }
    out
}

// ---------------------------------------------------------------- series

#[derive(Serialize)]
struct SeriesDoc<'a> {
    now: String,
    reports: Vec<SeriesReport<'a>>,
    candidates: Vec<CandidateJson<'a>>,
}

#[derive(Serialize)]
struct SeriesReport<'a> {
    email: &'a str,
    name: &'a str,
    series: Vec<SeriesJson<'a>>,
    sessions: Vec<SessionJson<'a>>,
}

#[derive(Serialize)]
struct SessionJson<'a> {
    account: &'a str,
    event_id: &'a str,
    series_id: Option<&'a str>,
    title: &'a str,
    start: String,
    end: String,
    outcome: Outcome,
}

#[derive(Serialize)]
struct CandidateJson<'a> {
    email: &'a str,
    titles: &'a [String],
    sessions: usize,
    last_held: Option<String>,
    next_scheduled: Option<String>,
    hint: String,
}

pub fn series(ctx: &Context, json: bool) -> Result<(), CliError> {
    let a = analyse(ctx)?;
    let an = &a.analysis;
    let hint = |email: &str| {
        format!("add [[reports]] email = \"{email}\" to the config if this is a direct report")
    };
    if json {
        let doc = SeriesDoc {
            now: rfc3339(ctx.now),
            reports: an
                .reports
                .iter()
                .map(|r| SeriesReport {
                    email: &r.email,
                    name: &r.name,
                    series: report_row(r).series,
                    sessions: r
                        .sessions
                        .iter()
                        .map(|s| SessionJson {
                            account: &s.account,
                            event_id: &s.event_id,
                            series_id: s.series_id.as_deref(),
                            title: &s.title,
                            start: rfc3339(s.start),
                            end: rfc3339(s.end),
                            outcome: s.outcome,
                        })
                        .collect(),
                })
                .collect(),
            candidates: an
                .candidates
                .iter()
                .map(|c| CandidateJson {
                    email: &c.email,
                    titles: &c.titles,
                    sessions: c.sessions,
                    last_held: c.last.map(rfc3339),
                    next_scheduled: c.next.map(rfc3339),
                    hint: hint(&c.email),
                })
                .collect(),
        };
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    let zone = ctx.config.manager.zone();
    let mut out = String::new();
    for r in &an.reports {
        out.push_str(&format!("{} <{}>\n", r.name, r.email));
        if r.series.is_empty() {
            out.push_str("  no recurring 1on1 series\n");
        }
        for s in &r.series {
            let state = if s.active { "active" } else { "ended" };
            out.push_str(&format!(
                "  series {:?} ({}, {state}) [{}]\n",
                s.title,
                s.recurrence.replace('\n', "; "),
                s.account
            ));
        }
        let past: Vec<_> = r.sessions.iter().filter(|s| s.start < ctx.now).collect();
        let shown = past.len().saturating_sub(6);
        for s in past
            .iter()
            .skip(shown)
            .copied()
            .chain(r.sessions.iter().filter(|s| s.start >= ctx.now).take(3))
        {
            let outcome = match s.outcome {
                Outcome::Held => "held",
                Outcome::Upcoming => "upcoming",
                Outcome::Cancelled => "cancelled",
                Outcome::Declined => "declined",
            };
            out.push_str(&format!(
                "    {}  {outcome:<9}  {}\n",
                zone.from_utc(s.start).format("%a %Y-%m-%d %H:%M"),
                s.title
            ));
        }
        out.push('\n');
    }
    if !an.candidates.is_empty() {
        out.push_str(
            "Candidates (1on1-shaped meetings with people outside the roster; never alerted on)\n",
        );
        for c in &an.candidates {
            out.push_str(&format!(
                "  {}  {} sessions: {}\n    hint: {}\n",
                c.email,
                c.sessions,
                c.titles.join(" | "),
                hint(&c.email)
            ));
        }
    }
    write_out(&out)
}

// ---------------------------------------------------------------- alerts

pub fn alerts(ctx: &Context, json: bool, all: bool) -> Result<(), CliError> {
    let a = analyse(ctx)?;
    let rows: Vec<AlertJson<'_>> = alert_rows(&a)
        .into_iter()
        .filter(|r| {
            all || (!r.acknowledged
                && r.snoozed_until
                    .as_deref()
                    .is_none_or(|u| u <= rfc3339(ctx.now).as_str()))
        })
        .collect();
    if json {
        let text =
            serde_json::to_string_pretty(&rows).map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    if rows.is_empty() {
        return write_out("No open alerts.\n");
    }
    let mut out = String::new();
    for r in &rows {
        let state = if r.acknowledged {
            " (acknowledged)".to_string()
        } else if let Some(u) = &r.snoozed_until {
            format!(" (snoozed until {u})")
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{}  {:<13} {:<7} {}{state}\n",
            r.id, r.kind, r.severity, r.message
        ));
    }
    write_out(&out)
}

pub fn ack(ctx: &Context, id: &str) -> Result<(), CliError> {
    let store = ctx.open_store()?;
    let outcome = store
        .ack_alert(id, ctx.now)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    lifecycle_result(
        outcome,
        id,
        "acknowledged; it stays quiet until its condition clears",
    )
}

pub fn snooze(ctx: &Context, id: &str, until: &str) -> Result<(), CliError> {
    let zone = ctx.config.manager.zone();
    let until = super::events::parse_bound(until, &zone, "--until")?;
    if until <= ctx.now {
        return Err(CliError::usage("--until must be in the future"));
    }
    let store = ctx.open_store()?;
    let outcome = store
        .snooze_alert(id, until, ctx.now)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    lifecycle_result(outcome, id, &format!("snoozed until {}", rfc3339(until)))
}

fn lifecycle_result(outcome: AckOutcome, id: &str, done: &str) -> Result<(), CliError> {
    match outcome {
        AckOutcome::Done => write_out(&format!("Alert {id} {done}.\n")),
        AckOutcome::NotFound => Err(CliError::usage(format!(
            "there is no alert with id {id:?} (run `cadenced alerts --all`)"
        ))),
        AckOutcome::AlreadyResolved => Err(CliError::usage(format!(
            "alert {id} is already resolved: its condition has cleared"
        ))),
    }
}

fn write_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::runtime(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}
