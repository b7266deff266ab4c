//! `report`, `series` and `alerts`: the cadence analysis, shown for a person or a script.

use std::io::{IsTerminal, Write};
use std::path::Path;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{CliError, Context};
use crate::alerts::Analysed;
use crate::cadence::{self, Outcome};
use crate::config::Locale;
use crate::output::{rfc3339, round1};
use crate::report::{AlertJson, SeriesJson};
use crate::store::{AckOutcome, AlertState};
use crate::tz::Zone;

/// The analysis at `ctx.now`, with the alerts matched to their stored lifecycle.
pub fn analyse(ctx: &Context) -> Result<Analysed, CliError> {
    let mut store = ctx.open_store()?;
    crate::alerts::analyse(&ctx.config, &mut store, ctx.now)
        .map_err(|e| CliError::runtime(e.to_string()))
}

// ---------------------------------------------------------------- report

pub fn report(ctx: &Context, json: bool, html: Option<&Path>) -> Result<(), CliError> {
    report_with(ctx, json, html, true)
}

/// [`report`]; `pretty = false` writes the JSON document on one line (org mode: one document
/// per manager and line).
pub fn report_with(
    ctx: &Context,
    json: bool,
    html: Option<&Path>,
    pretty: bool,
) -> Result<(), CliError> {
    let runtime = |e: crate::store::StoreError| CliError::runtime(e.to_string());
    let mut store = ctx.open_store()?;
    let a = crate::alerts::analyse(&ctx.config, &mut store, ctx.now).map_err(runtime)?;
    // Where each report's agenda is (issue 8), also when nothing could be written into the event.
    let links = store.agenda_links().map_err(runtime)?;
    // Make-up slots (issue 17) for the alerts that need one.
    let proposals = super::scheduling::proposals(ctx, &mut store, &a)?;
    if let Some(path) = html {
        let mut input =
            crate::dashboard::input_for(&ctx.config, &a, &store, ctx.now).map_err(runtime)?;
        crate::dashboard::add_proposals(&ctx.config, &mut input, &proposals);
        let page =
            crate::dashboard::render(&input).map_err(|e| CliError::runtime(e.to_string()))?;
        write_atomically(path, page.as_bytes()).map_err(|e| {
            CliError::runtime(format!(
                "cannot write the dashboard to {}: {e}",
                path.display()
            ))
        })?;
        if !json {
            return Ok(());
        }
    }
    if json {
        let mut doc = crate::report::document(&ctx.config, &a, &links, ctx.now)
            .map_err(|e| CliError::runtime(e.to_string()))?;
        crate::scheduling::annotate_report(&mut doc, &proposals);
        let text = if pretty {
            serde_json::to_string_pretty(&doc)
        } else {
            serde_json::to_string(&doc)
        }
        .map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    let mut text = render_report(ctx, &a, Style::detect());
    text.push_str(&crate::terminal::escape_text(&super::scheduling::describe(
        &ctx.config,
        &proposals,
    )));
    text.push_str(&crate::terminal::escape_text(
        &crate::agenda::describe_links(&links, ctx.config.manager.locale),
    ));
    write_out(&text)
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
            "実施/中止/辞退/免除",
            "30日あたり",
            "アラート",
        ]
    } else {
        [
            "Report",
            "Expected",
            "Last held",
            "Next",
            "Held/canc/decl/exc",
            "Per 30d",
            "Alerts",
        ]
    };
    let ok = if ja { "問題なし" } else { "ok" };
    // While an account is missing, a report without a held alert is not known to be fine.
    let unknown = if ja { "保留中" } else { "on hold" };
    let mut rows: Vec<[String; 7]> = Vec::new();
    for (i, r) in an.reports.iter().enumerate() {
        let kinds: Vec<String> = an
            .findings
            .iter()
            .zip(&a.states)
            .filter(|(f, s)| {
                f.report == i && !s.acked && s.snoozed_until.is_none_or(|u| u <= ctx.now)
            })
            .map(|(f, _)| {
                crate::alerts::render::kind_label(f.kind.as_str(), ctx.config.manager.locale)
            })
            .collect();
        let source = r.cadence_source.as_str();
        rows.push([
            crate::terminal::escape(&r.name).into_owned(),
            if ja {
                let source = match r.cadence_source {
                    cadence::CadenceSource::Config => "設定",
                    cadence::CadenceSource::Recurrence => "繰り返し",
                    cadence::CadenceSource::Inferred => "推定",
                    cadence::CadenceSource::Default => "既定",
                };
                format!("{}日（{source}）", round1(r.expected_interval_days))
            } else {
                format!("{}d ({source})", round1(r.expected_interval_days))
            },
            match (r.last_held, r.days_since_last_held_local) {
                (Some(t), Some(d)) if ja => format!("{}（{d}日前）", local_date(t, &zone)),
                (Some(t), Some(d)) => format!("{} ({d}d)", local_date(t, &zone)),
                _ => "-".into(),
            },
            r.next_scheduled
                .map_or_else(|| "-".into(), |t| local_date(t, &zone).to_string()),
            format!("{}/{}/{}/{}", r.held, r.cancelled, r.declined, r.excused),
            format!("{:.1} / {median}", r.sessions_per_30d),
            match (kinds.is_empty(), a.complete) {
                (true, true) => ok.into(),
                (true, false) => unknown.into(),
                (false, _) => kinds.join(if ja { "、" } else { ", " }),
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
    if !a.complete {
        let head = if ja {
            "不完全: すべてのアカウントが同期できるまで1on1のアラートは保留しています。\n"
        } else {
            "INCOMPLETE: cadence alerts are on hold until every account syncs.\n"
        };
        out.push_str(&style.paint("31", head));
        for acc in a
            .accounts
            .iter()
            .filter(|acc| acc.status != crate::alerts::AccountStatus::Ok)
        {
            out.push_str(&format!("  {}\n", acc.missing_text(&ctx.config)));
        }
        out.push('\n');
    }
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
            *last = if row[6] == ok {
                style.paint("32", last)
            } else {
                style.paint("33", last)
            };
        }
        out.push_str(&line(cells));
    }
    let quiet = |s: &AlertState| s.acked || s.snoozed_until.is_some_and(|u| u > ctx.now);
    let mut open: Vec<(String, &str, std::borrow::Cow<'_, str>)> = Vec::new();
    for (f, s) in an.findings.iter().zip(&a.states).filter(|(_, s)| !quiet(s)) {
        let sev = match (f.severity, ja) {
            (cadence::messages::Severity::Warning, false) => style.paint("33", "warning"),
            (cadence::messages::Severity::Info, false) => style.paint("36", "info   "),
            (cadence::messages::Severity::Warning, true) => style.paint("33", "警告"),
            (cadence::messages::Severity::Info, true) => style.paint("36", "情報"),
        };
        open.push((sev, &s.id, crate::terminal::escape(&f.message)));
    }
    for (acc, s) in a.account_alerts.iter().filter(|(_, s)| !quiet(s)) {
        open.push((
            style.paint("31", if ja { "警告" } else { "warning" }),
            &s.id,
            crate::terminal::escape(&acc.message),
        ));
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
    series: Vec<SeriesJson>,
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
    /// The report's name when the meetings are a report's series that does not count.
    report: Option<&'a str>,
    /// Why the meetings are not counted.
    reason: String,
    titles: &'a [String],
    sessions: usize,
    last_held: Option<String>,
    next_scheduled: Option<String>,
    hint: String,
}

pub fn series(ctx: &Context, json: bool) -> Result<(), CliError> {
    let a = analyse(ctx)?;
    let an = &a.analysis;
    if json {
        let doc = SeriesDoc {
            now: rfc3339(ctx.now),
            reports: an
                .reports
                .iter()
                .map(|r| SeriesReport {
                    email: &r.email,
                    name: &r.name,
                    series: crate::report::series_json(r),
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
                    report: c.report.as_deref(),
                    reason: c.reason_text(),
                    titles: &c.titles,
                    sessions: c.sessions,
                    last_held: c.last.map(rfc3339),
                    next_scheduled: c.next.map(rfc3339),
                    hint: c.hint(),
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
            let outcome = s.outcome.as_str();
            out.push_str(&format!(
                "    {}  {outcome:<9}  {}\n",
                zone.from_utc(s.start).format("%a %Y-%m-%d %H:%M"),
                crate::terminal::escape(&s.title)
            ));
        }
        out.push('\n');
    }
    if !an.candidates.is_empty() {
        out.push_str("Candidates (1on1-shaped meetings that are not counted; never alerted on)\n");
        for c in &an.candidates {
            let who = match &c.report {
                Some(name) => format!("{name} <{}>", c.email),
                None => c.email.clone(),
            };
            out.push_str(&format!(
                "  {who}  {} {}: {}\n    not counted: {}\n    hint: {}\n",
                c.sessions,
                cadence::messages::plural(c.sessions as i64, "session", "sessions"),
                c.titles.join(" | "),
                c.reason_text(),
                c.hint()
            ));
        }
    }
    write_out(&crate::terminal::escape_text(&out))
}

// ---------------------------------------------------------------- alerts

pub fn alerts(ctx: &Context, json: bool, all: bool) -> Result<(), CliError> {
    alerts_with(ctx, json, all, true)
}

/// [`alerts`]; `pretty = false` writes the JSON array on one line (org mode: one array per
/// manager and line).
pub fn alerts_with(ctx: &Context, json: bool, all: bool, pretty: bool) -> Result<(), CliError> {
    let a = analyse(ctx)?;
    let rows: Vec<AlertJson> = crate::report::build(&ctx.config, &a, ctx.now)
        .alerts
        .into_iter()
        .filter(|r| {
            all || (!r.acknowledged
                && r.snoozed_until
                    .as_deref()
                    .is_none_or(|u| u <= rfc3339(ctx.now).as_str()))
        })
        .collect();
    // The lifecycle's "delivered" step (issue 7): the channels that have carried each alert.
    let store = ctx.open_store()?;
    let delivered: Vec<Vec<String>> = rows
        .iter()
        .map(|r| store.alert_delivered_on(&r.id))
        .collect::<Result<_, _>>()
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if json {
        let mut values = Vec::with_capacity(rows.len());
        for (r, on) in rows.iter().zip(&delivered) {
            let mut v = serde_json::to_value(r).map_err(|e| CliError::runtime(e.to_string()))?;
            v["delivered_on"] = serde_json::json!(on);
            values.push(v);
        }
        let text = if pretty {
            serde_json::to_string_pretty(&values)
        } else {
            serde_json::to_string(&values)
        }
        .map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    let zone = ctx.config.manager.zone();
    if rows.is_empty() {
        return write_out("No open alerts.\n");
    }
    let mut out = String::new();
    for (r, on) in rows.iter().zip(&delivered) {
        let mut state = if r.acknowledged {
            " (acknowledged)".to_string()
        } else if let Some(u) = &r.snoozed_until {
            let u = chrono::DateTime::parse_from_rfc3339(u).map_or_else(
                |_| u.clone(),
                |t| {
                    zone.from_utc(t.with_timezone(&Utc))
                        .format("%Y-%m-%d %H:%M")
                        .to_string()
                },
            );
            format!(" (snoozed until {u} {})", zone.name())
        } else {
            String::new()
        };
        if !on.is_empty() {
            state.push_str(&format!(" [delivered: {}]", on.join(", ")));
        }
        out.push_str(&format!(
            "{}  {:<13} {:<7} {}{state}\n",
            r.id, r.kind, r.severity, r.message
        ));
    }
    write_out(&crate::terminal::escape_text(&out))
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
    let local = zone.from_utc(until);
    lifecycle_result(
        outcome,
        id,
        &format!(
            "snoozed until {} ({})",
            local.format("%Y-%m-%d %H:%M"),
            zone.name()
        ),
    )
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

/// Write `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written page.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub(super) fn write_out(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::runtime(format!("cannot write the output: {e}")))
        }
        _ => Ok(()),
    }
}
