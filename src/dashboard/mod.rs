//! The cadence dashboard: one self-contained HTML page (inline CSS, no script, no external
//! resource) with the team's 1on1 heatmap, the per-report figures, the open alerts and the sync
//! state of each account. Served by the daemon at `/` and written by `report --html FILE`.
//!
//! - [`input`] turns the analysis into a [`DashboardInput`]: everything the page shows, already
//!   localised (`[manager] locale`) and in the manager's zone; a pure function of its arguments.
//! - [`render`] turns that into HTML with the bundled minijinja template, which auto-escapes every
//!   value (titles, names, messages are user text).
//! - [`load`] and [`page`] do it straight from a store, for the daemon (`load` inside
//!   `AsyncStore::call`, then `render`).
//!
//! Invariants: the page never holds a token, secret or account credential (only account names,
//! providers, sync times and the store's one-sentence errors, which never hold secrets); every
//! report of the roster has one heatmap row, in roster order, with one cell per shown week
//! ([`heatmap`]); outcomes are told apart by symbol as well as colour.

pub mod heatmap;
pub mod org;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::alerts::Analysed;
use crate::cadence::{AlertKind, CadenceSource, Outcome};
use crate::config::{Config, Locale};
use crate::output::{rfc3339, round1};
use crate::store::{AccountOverview, AlertState, Store};
use crate::tz::Zone;

const TEMPLATE: &str = include_str!("assets/dashboard.html");
const STYLE: &str = include_str!("assets/style.css");

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot read the state database: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("cannot render the dashboard: {0}")]
    Render(String),
}

/// Everything the page shows, localised and in the manager's zone.
#[derive(Debug, Clone, Serialize)]
pub struct DashboardInput {
    /// `en` or `ja` (the page's `lang`).
    pub lang: String,
    pub t: &'static Strings,
    pub manager: String,
    /// `now`, RFC 3339 UTC.
    pub now: String,
    /// `now` in the manager's zone, for people.
    pub now_local: String,
    /// "as of …" in the page's language.
    pub as_of: String,
    pub zone: String,
    pub lookback_days: f64,
    /// "1on1s held in the last 90 days" / "回実施（過去90日）".
    pub held_label: String,
    pub future_weeks: i64,
    pub team_median: Option<f64>,
    pub weeks: Vec<WeekColumn>,
    pub rows: Vec<ReportRow>,
    pub alerts: Vec<AlertItem>,
    pub accounts: Vec<AccountItem>,
    /// One sentence per account that keeps the analysis incomplete (shown at the top); empty
    /// when every account is read and current.
    pub incomplete: Vec<String>,
    /// The heading above those sentences.
    pub incomplete_title: String,
    pub legend: Vec<LegendItem>,
    /// Figures for the summary strip.
    pub totals: Totals,
}

#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub reports: usize,
    pub open_alerts: usize,
    pub warnings: usize,
    pub stale_accounts: usize,
    pub held: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct WeekColumn {
    /// The Monday, `YYYY-MM-DD`.
    pub start: String,
    /// The month label, only on the first column and where the month changes.
    pub month: Option<String>,
    pub day: u32,
    pub current: bool,
    pub future: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    pub name: String,
    pub email: String,
    pub expected_interval_days: f64,
    /// e.g. "every 7 days" / "7日ごと".
    pub expected: String,
    pub cadence_source: String,
    pub cadence_source_label: String,
    pub held: usize,
    pub cancelled: usize,
    pub declined: usize,
    pub upcoming: usize,
    pub last_held: Option<String>,
    pub days_since_last_held: Option<f64>,
    /// "6 days ago" / "6日前" / "today".
    pub last_ago: Option<String>,
    pub next_scheduled: Option<String>,
    pub sessions_per_30d: f64,
    /// Percent of the bar (the team's highest rate, or the median if higher, is 100).
    pub rate_percent: f64,
    pub median_percent: Option<f64>,
    pub below_median: bool,
    /// A `gap` or `no_series` alert is open: the report is waiting for a 1on1.
    pub overdue: bool,
    pub alerts: Vec<AlertBadge>,
    /// The report's agenda (a URL or a local path); set once agendas exist.
    pub agenda: Option<AgendaLink>,
    /// Proposed make-up slots (issue 17), when an alert of the report needs one.
    pub makeup: Option<Makeup>,
    pub cells: Vec<Cell>,
}

/// The make-up slots of a report, as the page shows them.
#[derive(Debug, Clone, Serialize)]
pub struct Makeup {
    pub alert_id: String,
    /// Each slot in the manager's zone, best first; the line saying why there is none when
    /// empty.
    pub slots: Vec<String>,
    pub summary: String,
    /// The command that books a slot, when booking is on.
    pub book: Option<String>,
}

/// Add each report's make-up slots (its `skipped`, else `gap`, else `no_series` alert's).
pub fn add_proposals(
    config: &Config,
    input: &mut DashboardInput,
    proposals: &[crate::scheduling::Proposal],
) {
    for row in &mut input.rows {
        row.makeup = crate::scheduling::for_report(proposals, &row.email).map(|p| Makeup {
            alert_id: p.alert_id.clone(),
            slots: p
                .slots
                .iter()
                .map(|s| crate::scheduling::slot_text(config, s))
                .collect(),
            summary: crate::scheduling::proposal_line(config, p),
            book: crate::scheduling::book_hint(config, p),
        });
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AgendaLink {
    pub text: String,
    /// Only http(s) URLs become links; anything else is shown as text.
    pub href: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertBadge {
    pub kind: String,
    pub label: String,
    pub severity: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub week: String,
    /// held | cancelled | declined | upcoming | none: what the cell's colour says.
    pub outcome: String,
    pub current: bool,
    pub future: bool,
    pub sessions: Vec<CellSession>,
    /// The explanation shown on hover and focus, one line per session.
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CellSession {
    pub start: String,
    pub outcome: String,
    pub symbol: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertItem {
    pub id: String,
    pub kind: String,
    pub label: String,
    pub severity: String,
    /// The report's name, or the account's.
    pub subject: String,
    pub since: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccountItem {
    pub name: String,
    pub provider: String,
    pub last_success: Option<String>,
    pub stale: bool,
    /// Why it is stale, for people.
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegendItem {
    pub outcome: &'static str,
    pub symbol: &'static str,
    pub label: &'static str,
}

/// The words of the page in one language.
#[derive(Debug, Serialize)]
pub struct Strings {
    pub title: &'static str,
    pub subtitle: &'static str,
    pub heatmap: &'static str,
    pub heatmap_note: &'static str,
    pub report: &'static str,
    pub week_of: &'static str,
    pub this_week: &'static str,
    pub legend: &'static str,
    pub held: &'static str,
    pub cancelled: &'static str,
    pub declined: &'static str,
    pub excused: &'static str,
    pub upcoming: &'static str,
    pub nothing: &'static str,
    pub no_session: &'static str,
    pub reports: &'static str,
    pub expected: &'static str,
    pub last: &'static str,
    pub last_short: &'static str,
    pub never_met: &'static str,
    pub next: &'static str,
    pub none: &'static str,
    pub per_30d: &'static str,
    pub team_median: &'static str,
    pub below_median: &'static str,
    pub alerts: &'static str,
    pub no_alerts: &'static str,
    pub agenda: &'static str,
    pub no_agenda: &'static str,
    pub makeup: &'static str,
    pub accounts: &'static str,
    pub last_success: &'static str,
    pub never: &'static str,
    pub stale: &'static str,
    pub fresh: &'static str,
    pub open_alerts: &'static str,
    pub stale_accounts: &'static str,
    pub members: &'static str,
    pub since: &'static str,
    pub counts: &'static str,
    pub footer: &'static str,
}

static EN: Strings = Strings {
    title: "1on1 cadence",
    subtitle: "Who have you not met lately?",
    heatmap: "Weekly heatmap",
    heatmap_note: "One column per week (Monday first); the last columns are the coming weeks. Hover or focus a cell for its sessions.",
    report: "Report",
    week_of: "Week of",
    this_week: "this week",
    legend: "Legend",
    held: "held",
    cancelled: "cancelled",
    declined: "declined",
    excused: "excused (you were away)",
    upcoming: "upcoming",
    nothing: "no 1on1",
    no_session: "no 1on1",
    reports: "Reports",
    expected: "Expected",
    last: "Last held",
    last_short: "last met",
    never_met: "no 1on1 yet",
    next: "Next",
    none: "none",
    per_30d: "per 30 days",
    team_median: "team median",
    below_median: "below the team median",
    alerts: "Alerts",
    no_alerts: "No open alerts.",
    agenda: "Agenda",
    no_agenda: "no agenda yet",
    makeup: "Make-up slots",
    accounts: "Calendar accounts",
    last_success: "last successful sync",
    never: "never",
    stale: "stale",
    fresh: "up to date",
    open_alerts: "open alerts",
    stale_accounts: "stale accounts",
    members: "reports",
    since: "since",
    counts: "Sessions",
    footer: "Generated by cadenced. Times in",
};

static JA: Strings = Strings {
    title: "1on1 の実施状況",
    subtitle: "最近話せていないメンバーは？",
    heatmap: "週ごとのヒートマップ",
    heatmap_note: "1列が1週間（月曜始まり）。右端の列はこれからの週です。セルにカーソルを合わせるかフォーカスすると詳細が出ます。",
    report: "メンバー",
    week_of: "週の開始",
    this_week: "今週",
    legend: "凡例",
    held: "実施",
    cancelled: "中止",
    declined: "辞退",
    excused: "不在のため免除",
    upcoming: "予定",
    nothing: "1on1なし",
    no_session: "1on1なし",
    reports: "メンバー別",
    expected: "想定間隔",
    last: "前回",
    last_short: "前回",
    never_met: "1on1なし",
    next: "次回",
    none: "なし",
    per_30d: "回 / 30日",
    team_median: "チーム中央値",
    below_median: "チーム中央値より少ない",
    alerts: "アラート",
    no_alerts: "未対応のアラートはありません。",
    agenda: "アジェンダ",
    no_agenda: "アジェンダ未作成",
    makeup: "代替の候補",
    accounts: "カレンダーアカウント",
    last_success: "最終同期成功",
    never: "未同期",
    stale: "古いデータ",
    fresh: "最新",
    open_alerts: "件のアラート",
    stale_accounts: "件の古いアカウント",
    members: "人のメンバー",
    since: "発生",
    counts: "回数",
    footer: "cadenced が生成。時刻のタイムゾーン:",
};

fn strings(locale: Locale) -> &'static Strings {
    match locale {
        Locale::En => &EN,
        Locale::Ja => &JA,
    }
}

fn outcome_label(t: &'static Strings, o: Option<Outcome>) -> &'static str {
    match o {
        Some(Outcome::Held) => t.held,
        Some(Outcome::Cancelled) => t.cancelled,
        Some(Outcome::Declined) => t.declined,
        Some(Outcome::Upcoming) => t.upcoming,
        Some(Outcome::Excused) => t.excused,
        None => t.nothing,
    }
}

fn kind_label(locale: Locale, kind: &str) -> String {
    let (en, ja) = match kind {
        "gap" => ("Gap", "間隔が空いている"),
        "skipped" => ("Skipped", "スキップ"),
        "uneven" => ("Uneven", "偏り"),
        "irregular" => ("Irregular", "不規則"),
        "no_series" => ("No 1on1", "1on1なし"),
        "series_ending" => ("Series ending", "シリーズ終了間近"),
        crate::alerts::NEEDS_AUTH => ("Needs auth", "要再認証"),
        crate::alerts::SYNC_FAILED => ("Sync failed", "同期失敗"),
        other => (other, other),
    };
    match locale {
        Locale::En => en.to_string(),
        Locale::Ja => ja.to_string(),
    }
}

fn source_label(locale: Locale, s: CadenceSource) -> &'static str {
    match (locale, s) {
        (Locale::En, CadenceSource::Config) => "set in the config",
        (Locale::En, CadenceSource::Recurrence) => "from the recurring event",
        (Locale::En, CadenceSource::Inferred) => "inferred from past sessions",
        (Locale::En, CadenceSource::Default) => "the default",
        (Locale::Ja, CadenceSource::Config) => "設定ファイル",
        (Locale::Ja, CadenceSource::Recurrence) => "繰り返し予定から",
        (Locale::Ja, CadenceSource::Inferred) => "実績から推定",
        (Locale::Ja, CadenceSource::Default) => "既定値",
    }
}

const JA_WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];

/// A local date and time for people: `Tue 17 Nov 2026 10:00` / `2026/11/17(火) 10:00`.
fn when(locale: Locale, zone: &Zone, t: DateTime<Utc>) -> String {
    when_short(locale, zone, t, None)
}

/// As [`when`], without the year when it is `year`.
fn when_short(locale: Locale, zone: &Zone, t: DateTime<Utc>, year: Option<i32>) -> String {
    use chrono::Datelike;
    let l = zone.from_utc(t);
    let same_year = year == Some(l.year());
    match locale {
        Locale::En if same_year => l.format("%a %-d %b %H:%M").to_string(),
        Locale::En => l.format("%a %-d %b %Y %H:%M").to_string(),
        Locale::Ja => format!(
            "{}({}) {}",
            l.format(if same_year { "%m/%d" } else { "%Y/%m/%d" }),
            JA_WEEKDAYS[l.weekday().num_days_from_monday() as usize],
            l.format("%H:%M")
        ),
    }
}

/// Calendar days since (in the manager's zone), for people.
fn ago(locale: Locale, days: i64) -> String {
    let n = days.max(0);
    match locale {
        Locale::En if n < 1 => "today".to_string(),
        Locale::En if n < 2 => "1 day ago".to_string(),
        Locale::En => format!("{n} days ago"),
        Locale::Ja if n < 1 => "今日".to_string(),
        Locale::Ja => format!("{n}日前"),
    }
}

fn day(locale: Locale, d: NaiveDate) -> String {
    match locale {
        Locale::En => d.format("%-d %b %Y").to_string(),
        Locale::Ja => d.format("%Y/%m/%d").to_string(),
    }
}

fn quiet(s: &AlertState, now: DateTime<Utc>) -> bool {
    s.acked || s.snoozed_until.is_some_and(|u| u > now)
}

/// The page's content from the analysis and the accounts' sync state at `now`.
///
/// `agendas` gives a report's agenda link by e-mail (empty until agendas exist).
pub fn input(
    config: &Config,
    a: &Analysed,
    accounts: &[AccountOverview],
    now: DateTime<Utc>,
) -> DashboardInput {
    input_with_agendas(config, a, accounts, now, &|_| None)
}

/// As [`input`], with each report's agenda link (a URL or a local path) from `agenda`.
pub fn input_with_agendas(
    config: &Config,
    a: &Analysed,
    accounts: &[AccountOverview],
    now: DateTime<Utc>,
    agenda: &dyn Fn(&str) -> Option<String>,
) -> DashboardInput {
    let locale = config.manager.locale;
    let t = strings(locale);
    let zone = config.manager.zone();
    let an = &a.analysis;
    let lookback = config.cadence.lookback.as_chrono();
    let year = {
        use chrono::Datelike;
        Some(zone.from_utc(now).year())
    };
    let week_starts = heatmap::weeks(now, lookback, &zone);
    let this_week = heatmap::week_start(now, &zone);
    let weeks: Vec<WeekColumn> = week_starts
        .iter()
        .enumerate()
        .map(|(i, w)| {
            use chrono::Datelike;
            let new_month = i == 0 || week_starts[i - 1].month() != w.month();
            WeekColumn {
                start: w.to_string(),
                month: new_month.then(|| match locale {
                    Locale::En => w.format("%b").to_string(),
                    Locale::Ja => format!("{}月", w.month()),
                }),
                day: w.day(),
                current: *w == this_week,
                future: *w > this_week,
            }
        })
        .collect();

    let max_rate = an
        .reports
        .iter()
        .map(|r| r.sessions_per_30d)
        .chain(an.team_median)
        .fold(0.0_f64, f64::max);
    let percent = |x: f64| {
        if max_rate > 0.0 {
            round1(x / max_rate * 100.0)
        } else {
            0.0
        }
    };

    let open: Vec<_> = an
        .findings
        .iter()
        .zip(&a.states)
        .filter(|(_, s)| !quiet(s, now))
        .collect();

    let rows: Vec<ReportRow> = an
        .reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let cells = heatmap::bucket(&r.sessions, &week_starts, &zone)
                .into_iter()
                .zip(&weeks)
                .map(|(sessions, w)| {
                    let outcome = heatmap::dominant(&sessions);
                    let head = format!("{} {}", t.week_of, w.start);
                    let label = if sessions.is_empty() {
                        format!("{head}: {}", t.no_session)
                    } else {
                        let lines: Vec<String> = sessions
                            .iter()
                            .map(|s| {
                                format!(
                                    "{} {} — {} ({})",
                                    heatmap::symbol(Some(s.outcome)),
                                    when_short(locale, &zone, s.start, year),
                                    s.title,
                                    outcome_label(t, Some(s.outcome))
                                )
                            })
                            .collect();
                        format!("{head}:\n{}", lines.join("\n"))
                    };
                    Cell {
                        week: w.start.clone(),
                        outcome: heatmap::outcome_name(outcome).to_string(),
                        current: w.current,
                        future: w.future,
                        sessions: sessions
                            .iter()
                            .map(|s| CellSession {
                                start: rfc3339(s.start),
                                outcome: heatmap::outcome_name(Some(s.outcome)).to_string(),
                                symbol: heatmap::symbol(Some(s.outcome)),
                            })
                            .collect(),
                        label,
                    }
                })
                .collect();
            let rate = round1(r.sessions_per_30d);
            let agenda = agenda(&r.email).map(|text| AgendaLink {
                href: (text.starts_with("https://") || text.starts_with("http://"))
                    .then(|| text.clone()),
                text,
            });
            let interval = round1(r.expected_interval_days);
            ReportRow {
                name: r.name.clone(),
                email: r.email.clone(),
                expected_interval_days: interval,
                expected: match locale {
                    Locale::En => format!("every {interval} days"),
                    Locale::Ja => format!("{interval}日ごと"),
                },
                cadence_source: r.cadence_source.as_str().to_string(),
                cadence_source_label: source_label(locale, r.cadence_source).to_string(),
                held: r.held,
                cancelled: r.cancelled,
                declined: r.declined,
                upcoming: r.upcoming,
                last_held: r.last_held.map(|t| when_short(locale, &zone, t, year)),
                days_since_last_held: r.days_since_last_held_local.map(|d| d as f64),
                last_ago: r.days_since_last_held_local.map(|d| ago(locale, d)),
                next_scheduled: r.next_scheduled.map(|t| when_short(locale, &zone, t, year)),
                sessions_per_30d: rate,
                rate_percent: percent(r.sessions_per_30d),
                median_percent: an.team_median.map(percent),
                below_median: an.team_median.is_some_and(|m| r.sessions_per_30d < m),
                overdue: open.iter().any(|(f, _)| {
                    f.report == i && matches!(f.kind, AlertKind::Gap | AlertKind::NoSeries)
                }),
                alerts: open
                    .iter()
                    .filter(|(f, _)| f.report == i)
                    .map(|(f, _)| AlertBadge {
                        kind: f.kind.as_str().to_string(),
                        label: kind_label(locale, f.kind.as_str()),
                        severity: f.severity.as_str().to_string(),
                    })
                    .collect(),
                agenda,
                makeup: None,
                cells,
            }
        })
        .collect();

    let mut alerts: Vec<AlertItem> = open
        .iter()
        .map(|(f, s)| AlertItem {
            id: s.id.clone(),
            kind: f.kind.as_str().to_string(),
            label: kind_label(locale, f.kind.as_str()),
            severity: f.severity.as_str().to_string(),
            subject: an
                .reports
                .get(f.report)
                .map_or_else(|| f.report_email.clone(), |r| r.name.clone()),
            since: Some(day(
                locale,
                zone.from_utc(f.since.unwrap_or(s.since)).date(),
            )),
            message: f.message.clone(),
        })
        .collect();
    alerts.extend(
        a.account_alerts
            .iter()
            .filter(|(_, s)| !quiet(s, now))
            .map(|(acc, s)| AlertItem {
                id: s.id.clone(),
                kind: acc.kind.to_string(),
                label: kind_label(locale, acc.kind),
                severity: "warning".to_string(),
                subject: acc.account.clone(),
                since: Some(day(locale, zone.from_utc(s.since).date())),
                message: acc.message.clone(),
            }),
    );

    let stale_after = config.sync.interval.as_chrono() * 3;
    let accounts: Vec<AccountItem> = accounts
        .iter()
        .filter(|acc| config.account(&acc.name).is_some())
        .map(|acc| account_item(locale, &zone, acc, now, stale_after))
        .collect();

    let legend = [
        Some(Outcome::Held),
        Some(Outcome::Cancelled),
        Some(Outcome::Declined),
        Some(Outcome::Upcoming),
        Some(Outcome::Excused),
        None,
    ]
    .into_iter()
    .map(|o| LegendItem {
        outcome: heatmap::outcome_name(o),
        symbol: heatmap::symbol(o),
        label: outcome_label(t, o),
    })
    .collect();

    DashboardInput {
        lang: match locale {
            Locale::En => "en".into(),
            Locale::Ja => "ja".into(),
        },
        t,
        manager: config.manager.display_name().to_string(),
        now: rfc3339(now),
        now_local: when(locale, &zone, now),
        as_of: match locale {
            Locale::En => format!("as of {}", when(locale, &zone, now)),
            Locale::Ja => format!("{} 時点", when(locale, &zone, now)),
        },
        zone: zone.name().to_string(),
        lookback_days: an.lookback_days,
        held_label: match locale {
            Locale::En => format!("1on1s held in the last {} days", an.lookback_days.round()),
            Locale::Ja => format!("回実施（過去{}日）", an.lookback_days.round()),
        },
        future_weeks: heatmap::FUTURE_WEEKS,
        team_median: an.team_median.map(round1),
        totals: Totals {
            reports: rows.len(),
            open_alerts: alerts.len(),
            warnings: alerts.iter().filter(|a| a.severity == "warning").count(),
            stale_accounts: accounts.iter().filter(|a| a.stale).count(),
            held: rows.iter().map(|r| r.held).sum(),
        },
        weeks,
        rows,
        alerts,
        accounts,
        incomplete: a
            .accounts
            .iter()
            .filter(|acc| acc.status != crate::alerts::AccountStatus::Ok)
            .map(|acc| acc.missing_text(config))
            .collect(),
        incomplete_title: match locale {
            Locale::En => {
                "Incomplete: cadence alerts are on hold until every account syncs.".to_string()
            }
            Locale::Ja => {
                "不完全: すべてのアカウントが同期できるまで1on1のアラートは保留しています。"
                    .to_string()
            }
        },
        legend,
    }
}

fn account_item(
    locale: Locale,
    zone: &Zone,
    acc: &AccountOverview,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> AccountItem {
    let ja = locale == Locale::Ja;
    let problem = if acc.needs_auth {
        Some(if ja {
            format!("再認証が必要です（cadenced auth {}）", acc.name)
        } else {
            format!("needs `cadenced auth {}`", acc.name)
        })
    } else if acc.last_sync_ok == Some(false) {
        Some(match (&acc.last_error, ja) {
            (Some(e), false) => format!("the last sync failed: {e}"),
            (Some(e), true) => format!("前回の同期に失敗: {e}"),
            (None, false) => "the last sync failed".to_string(),
            (None, true) => "前回の同期に失敗".to_string(),
        })
    } else {
        match acc.last_success_at {
            None => Some(if ja { "未同期" } else { "never synced" }.to_string()),
            Some(t) if now - t > stale_after => Some(if ja {
                format!("{}分以上同期されていません", stale_after.num_minutes())
            } else {
                format!("not synced for over {} minutes", stale_after.num_minutes())
            }),
            Some(_) => None,
        }
    };
    AccountItem {
        name: acc.name.clone(),
        provider: acc.provider.clone(),
        last_success: acc.last_success_at.map(|t| when(locale, zone, t)),
        stale: problem.is_some(),
        problem,
    }
}

/// The page as HTML.
pub fn render(input: &DashboardInput) -> Result<String, DashboardError> {
    let mut env = minijinja::Environment::new();
    // The name's `.html` turns on HTML auto-escaping for every value.
    env.add_template("dashboard.html", TEMPLATE)
        .map_err(|e| DashboardError::Render(e.to_string()))?;
    let template = env
        .get_template("dashboard.html")
        .map_err(|e| DashboardError::Render(e.to_string()))?;
    template
        .render(minijinja::context! {
            d => minijinja::Value::from_serialize(input),
            style => minijinja::Value::from_safe_string(STYLE.to_string()),
        })
        .map_err(|e| DashboardError::Render(e.to_string()))
}

/// The page's content at `now`, straight from the store. Returns the store's own error, so the
/// daemon can run it inside `AsyncStore::call` and render outside.
pub fn load(
    config: &Config,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<DashboardInput, crate::store::StoreError> {
    // Only the daemon serves the page this way: its accounts sync on their own schedule.
    let a = crate::alerts::analyse_with(config, store, now, crate::alerts::Freshness::Daemon)?;
    let mut input = input_for(config, &a, store, now)?;
    // The slots the daemon's last cycle proposed (no provider call from the page).
    let proposals: Vec<crate::scheduling::Proposal> = store
        .proposals()?
        .values()
        .filter_map(|j| serde_json::from_str(j).ok())
        .collect();
    add_proposals(config, &mut input, &proposals);
    Ok(input)
}

/// The page's input for an analysis already made: the accounts' sync state and the agenda
/// links come from the store.
pub fn input_for(
    config: &Config,
    a: &Analysed,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<DashboardInput, crate::store::StoreError> {
    let accounts = store.account_overview()?;
    let latest = store.latest_agendas()?;
    Ok(input_with_agendas(
        config,
        a,
        &accounts,
        now,
        &|email: &str| latest.get(&email.to_lowercase()).cloned(),
    ))
}

/// The whole page at `now`, straight from the store.
pub fn page(
    config: &Config,
    store: &mut Store,
    now: DateTime<Utc>,
) -> Result<String, DashboardError> {
    render(&load(config, store, now)?)
}
