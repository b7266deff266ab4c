//! The people-ops rollup (`report --org`, the daemon's `/org`, `report --org --html`): 1on1
//! coverage per org unit, per manager of managers and for the whole organisation, as aggregates
//! only (docs/org-rollup.md is the contract).
//!
//! - [`rollup`] turns a [`RollupInput`] (every manager, their org unit, their own manager and,
//!   per report, the held 1on1s, the expected interval and the open alert kinds) into a
//!   [`Rollup`]; a pure function of its input.
//! - [`ManagerInput::from_analysis`] builds one manager's input from that manager's cadence
//!   [`Analysis`].
//! - [`org_rollup_input`] is where the data comes from: the one seam org mode fills in.
//! - [`text`] is the terminal table; the HTML page is `dashboard::org`.
//!
//! Invariants:
//! - people are counted once per group (by lower-case e-mail), never events; a report under two
//!   managers is one person whose held 1on1s are the union of both;
//! - the output never holds a title, note, agenda content, nor a report's name or e-mail; the only
//!   names are org units and the senior managers whose groups are rows;
//! - no figure is shown over fewer than `min_group` people (never below [`MIN_GROUP_FLOOR`]),
//!   trend points included; and complementary suppression (`suppress`) leaves every cell of the
//!   shown groups' Venn diagram empty or of at least `min_group` people, so no combination of
//!   shown figures (a parent minus its shown children, one group minus another) isolates fewer
//!   than `min_group` people.

pub mod source;
mod suppress;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::cadence::{AlertKind, Analysis, Outcome};
use crate::output::{rfc3339, round1};

pub use source::org_rollup_input;

/// The smallest `min_group` accepted: no figure is ever shown over fewer people than this.
pub const MIN_GROUP_FLOOR: usize = 5;
/// "Held in the last 30 days": the coverage window, also of every trend point.
pub const HELD_WINDOW_DAYS: i64 = 30;
/// The window of the median rate of held 1on1s.
pub const RATE_WINDOW_DAYS: i64 = 90;
/// Weekly trend points, the last one at `now`.
pub const TREND_WEEKS: usize = 12;
/// How far back held sessions are needed: the oldest trend point's window (and the rate window).
pub const HISTORY_DAYS: i64 = HELD_WINDOW_DAYS + 7 * TREND_WEEKS as i64;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RollupError {
    #[error("min_group is {0}, but no figure may be shown over fewer than 5 people: use 5 or more")]
    MinGroupTooSmall(usize),
    /// No data source: the configuration has no `[org]` section.
    #[error("report --org needs an [org] section in the config")]
    NoOrg,
    /// The org's analyses could not be made (no directory read yet, a store error).
    #[error("{0}")]
    Source(String),
}

/// Everything the rollup is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupInput {
    pub now: DateTime<Utc>,
    /// No figure over fewer people is shown; at least [`MIN_GROUP_FLOOR`].
    pub min_group: usize,
    pub managers: Vec<ManagerInput>,
    /// Managers left out of every figure because their calendar was not read (their analysis
    /// is incomplete).
    pub managers_left_out: usize,
}

/// One manager: who they are, where they sit, and their direct reports' 1on1s with them.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagerInput {
    pub email: String,
    pub name: String,
    /// Their own manager's e-mail (the directory's manager), if any.
    pub manager_of: Option<String>,
    /// Their org unit (Google org unit path or Graph department), if any.
    pub org_unit: Option<String>,
    pub reports: Vec<ReportInput>,
}

/// One direct report of a manager. The e-mail only tells people apart; it is never shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportInput {
    pub email: String,
    /// Starts of the held 1on1s with this manager, at least over the last [`HISTORY_DAYS`].
    pub held_starts: Vec<DateTime<Utc>>,
    pub expected_interval_days: f64,
    /// Kinds of the report's open alerts (`gap`, `no_series`, `skipped`, …).
    pub open_kinds: Vec<String>,
}

impl ManagerInput {
    /// The input of one manager from that manager's cadence analysis: per report its held
    /// sessions of the last [`HISTORY_DAYS`], its expected interval and its open findings' kinds.
    pub fn from_analysis(
        email: &str,
        name: &str,
        manager_of: Option<&str>,
        org_unit: Option<&str>,
        analysis: &Analysis,
    ) -> ManagerInput {
        let from = analysis.now - Duration::days(HISTORY_DAYS);
        let reports = analysis
            .reports
            .iter()
            .enumerate()
            .map(|(i, r)| ReportInput {
                email: r.email.clone(),
                held_starts: r
                    .sessions
                    .iter()
                    .filter(|s| {
                        s.outcome == Outcome::Held && s.start >= from && s.start < analysis.now
                    })
                    .map(|s| s.start)
                    .collect(),
                expected_interval_days: r.expected_interval_days,
                open_kinds: analysis
                    .findings
                    .iter()
                    .filter(|f| f.report == i)
                    .map(|f| f.kind.as_str().to_string())
                    .collect(),
            })
            .collect();
        ManagerInput {
            email: email.to_string(),
            name: name.to_string(),
            manager_of: manager_of.map(str::to_string),
            org_unit: org_unit.map(str::to_string),
            reports,
        }
    }
}

/// The rollup document (`report --org --json`; docs/org-rollup.md).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rollup {
    /// RFC 3339 UTC.
    pub now: String,
    pub min_group: usize,
    /// The end of each trend point's 30-day window, oldest first (the last is `now`).
    pub trend_ends: Vec<String>,
    /// The organisation first, then the org units by name, then the managers of managers as a
    /// tree (depth first, each senior manager before the groups under them).
    pub groups: Vec<GroupRow>,
    /// Managers left out of every figure because their calendar was not read.
    pub managers_left_out: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupKind {
    Org,
    OrgUnit,
    ManagerOfManagers,
}

/// Why a group's figures are not shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Suppression {
    /// The figures would be over fewer than `min_group` people.
    FewerThanMinGroup,
    /// Shown, they would let the other figures be subtracted down to fewer than `min_group`
    /// people.
    Complementary,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupRow {
    pub kind: GroupKind,
    /// `org`, `unit:<org unit>`, `unit:` (managers without one), `manager:<e-mail>`.
    pub id: String,
    /// The org unit, or the senior manager's name.
    pub name: String,
    /// The senior manager's e-mail, for a manager-of-managers group.
    pub manager: Option<String>,
    /// The id of the group above in the same view (`org` for units and top managers).
    pub parent: Option<String>,
    /// Nesting in the managers' tree (0 for the organisation and org units).
    pub depth: usize,
    /// Figures over the reports of the group's managers.
    pub reports: ReportsFigures,
    /// Figures over the group's managers.
    pub managers: ManagersFigures,
}

/// Figures over the distinct people who report to a manager of the group. All `null` when
/// `suppressed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportsFigures {
    pub suppressed: bool,
    pub suppressed_reason: Option<Suppression>,
    pub people: Option<usize>,
    /// People with a held 1on1 in the last 30 days.
    pub held_30d: Option<usize>,
    pub held_30d_percent: Option<f64>,
    /// The median over people of held 1on1s per 30 days, over the last 90 days.
    pub median_per_30d: Option<f64>,
    /// The median over people of the expected interval between 1on1s.
    pub median_expected_interval_days: Option<f64>,
    /// `held_30d_percent` at each of `trend_ends`.
    pub trend_held_30d_percent: Vec<Option<f64>>,
}

/// Figures over the group's managers. All `null` when `suppressed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagersFigures {
    pub suppressed: bool,
    pub suppressed_reason: Option<Suppression>,
    pub managers: Option<usize>,
    /// Managers with at least one report whose `gap` or `no_series` alert is open.
    pub with_open_gap_or_no_series: Option<usize>,
}

/// One distinct report.
#[derive(Debug, Clone)]
struct Person {
    held: BTreeSet<DateTime<Utc>>,
    expected: f64,
}

/// One distinct manager.
#[derive(Debug, Clone)]
struct Manager {
    email: String,
    name: String,
    boss: Option<String>,
    unit: Option<String>,
    people: Vec<usize>,
    open: bool,
}

/// A group before its figures: who is in it.
#[derive(Debug, Clone)]
struct Group {
    kind: GroupKind,
    id: String,
    name: String,
    manager: Option<String>,
    parent: Option<String>,
    depth: usize,
    people: BTreeSet<usize>,
    managers: BTreeSet<usize>,
}

fn key(email: &str) -> String {
    email.trim().to_lowercase()
}

/// People and managers, each once.
fn index(input: &RollupInput) -> (Vec<Person>, Vec<Manager>) {
    let mut people: Vec<Person> = Vec::new();
    let mut person_ix: BTreeMap<String, usize> = BTreeMap::new();
    let mut managers: Vec<Manager> = Vec::new();
    let mut manager_ix: BTreeMap<String, usize> = BTreeMap::new();
    for m in &input.managers {
        let mi = *manager_ix.entry(key(&m.email)).or_insert_with(|| {
            managers.push(Manager {
                email: m.email.clone(),
                name: m.name.clone(),
                boss: m.manager_of.as_deref().map(key),
                unit: m.org_unit.clone(),
                people: Vec::new(),
                open: false,
            });
            managers.len() - 1
        });
        for r in &m.reports {
            let pi = *person_ix.entry(key(&r.email)).or_insert_with(|| {
                people.push(Person {
                    held: BTreeSet::new(),
                    expected: r.expected_interval_days,
                });
                people.len() - 1
            });
            let p = &mut people[pi];
            p.held.extend(r.held_starts.iter().copied());
            p.expected = p.expected.min(r.expected_interval_days);
            let manager = &mut managers[mi];
            if !manager.people.contains(&pi) {
                manager.people.push(pi);
            }
            manager.open |= r.open_kinds.iter().any(|k| {
                matches!(
                    AlertKind::parse(k),
                    Some(AlertKind::Gap | AlertKind::NoSeries)
                )
            });
        }
    }
    (people, managers)
}

/// The groups: the organisation, the org units, the managers of managers.
fn groups(managers: &[Manager]) -> Vec<Group> {
    let people_of = |ms: &BTreeSet<usize>| -> BTreeSet<usize> {
        ms.iter()
            .flat_map(|&m| managers[m].people.iter().copied())
            .collect()
    };
    let all: BTreeSet<usize> = (0..managers.len()).collect();
    let mut out = vec![Group {
        kind: GroupKind::Org,
        id: "org".to_string(),
        name: "Whole organisation".to_string(),
        manager: None,
        parent: None,
        depth: 0,
        people: people_of(&all),
        managers: all,
    }];

    // Org units, only when some manager has one; managers without one form their own group.
    if managers.iter().any(|m| m.unit.is_some()) {
        let mut units: BTreeMap<Option<&str>, BTreeSet<usize>> = BTreeMap::new();
        for (i, m) in managers.iter().enumerate() {
            units.entry(m.unit.as_deref()).or_default().insert(i);
        }
        // Named units by name, then the managers without one.
        let mut units: Vec<_> = units.into_iter().collect();
        units.sort_by_key(|(u, _)| (u.is_none(), u.map(str::to_string)));
        for (unit, ms) in units {
            out.push(Group {
                kind: GroupKind::OrgUnit,
                id: format!("unit:{}", unit.unwrap_or("")),
                name: unit.unwrap_or("(no org unit)").to_string(),
                manager: None,
                parent: Some("org".to_string()),
                depth: 0,
                people: people_of(&ms),
                managers: ms,
            });
        }
    }

    // The managers' tree: children by their manager's e-mail.
    let by_email: BTreeMap<String, usize> = managers
        .iter()
        .enumerate()
        .map(|(i, m)| (key(&m.email), i))
        .collect();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); managers.len()];
    let mut has_boss = vec![false; managers.len()];
    for (i, m) in managers.iter().enumerate() {
        if let Some(&b) = m.boss.as_ref().and_then(|b| by_email.get(b))
            && b != i
        {
            children[b].push(i);
            has_boss[i] = true;
        }
    }
    let order = |v: &mut Vec<usize>| {
        v.sort_by(|&a, &b| {
            (&managers[a].name, key(&managers[a].email))
                .cmp(&(&managers[b].name, key(&managers[b].email)))
        });
    };
    for c in &mut children {
        order(c);
    }
    // Everyone under `m`, `m` included (a loop in the directory stops where it closes).
    let subtree = |m: usize| -> BTreeSet<usize> {
        let mut seen = BTreeSet::from([m]);
        let mut stack = vec![m];
        while let Some(x) = stack.pop() {
            for &c in &children[x] {
                if seen.insert(c) {
                    stack.push(c);
                }
            }
        }
        seen
    };
    // Depth first from the top managers; managers only in a loop start from themselves.
    let mut roots: Vec<usize> = (0..managers.len()).filter(|&i| !has_boss[i]).collect();
    order(&mut roots);
    let mut rest: Vec<usize> = (0..managers.len()).collect();
    order(&mut rest);
    let mut visited = vec![false; managers.len()];
    for start in roots.into_iter().chain(rest) {
        if visited[start] {
            continue;
        }
        let mut stack = vec![(start, None::<usize>, 0usize)];
        while let Some((m, parent, depth)) = stack.pop() {
            if visited[m] {
                continue;
            }
            visited[m] = true;
            let is_senior = !children[m].is_empty();
            if is_senior {
                let ms = subtree(m);
                out.push(Group {
                    kind: GroupKind::ManagerOfManagers,
                    id: format!("manager:{}", key(&managers[m].email)),
                    name: managers[m].name.clone(),
                    manager: Some(managers[m].email.clone()),
                    parent: Some(parent.map_or_else(
                        || "org".to_string(),
                        |p| format!("manager:{}", key(&managers[p].email)),
                    )),
                    depth,
                    people: people_of(&ms),
                    managers: ms,
                });
            }
            for &c in children[m].iter().rev() {
                if !visited[c] {
                    stack.push((c, Some(m), depth + 1));
                }
            }
        }
    }
    out
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    Some(if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    })
}

fn held_in(p: &Person, from: DateTime<Utc>, to: DateTime<Utc>) -> usize {
    p.held.range(from..to).count()
}

/// The end of each trend point's window, oldest first.
fn trend_ends(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    (0..TREND_WEEKS)
        .rev()
        .map(|i| now - Duration::weeks(i as i64))
        .collect()
}

fn percent(part: usize, whole: usize) -> f64 {
    round1(100.0 * part as f64 / whole as f64)
}

fn reports_figures(
    people: &[Person],
    group: &BTreeSet<usize>,
    now: DateTime<Utc>,
    suppressed: Option<Suppression>,
) -> ReportsFigures {
    let ends = trend_ends(now);
    if suppressed.is_some() || group.is_empty() {
        return ReportsFigures {
            suppressed: true,
            suppressed_reason: suppressed.or(Some(Suppression::FewerThanMinGroup)),
            people: None,
            held_30d: None,
            held_30d_percent: None,
            median_per_30d: None,
            median_expected_interval_days: None,
            trend_held_30d_percent: vec![None; ends.len()],
        };
    }
    let window = Duration::days(HELD_WINDOW_DAYS);
    let held_by = |end: DateTime<Utc>| {
        group
            .iter()
            .filter(|&&p| held_in(&people[p], end - window, end) > 0)
            .count()
    };
    let held = held_by(now);
    let rate = |p: &Person| {
        held_in(p, now - Duration::days(RATE_WINDOW_DAYS), now) as f64 * HELD_WINDOW_DAYS as f64
            / RATE_WINDOW_DAYS as f64
    };
    ReportsFigures {
        suppressed: false,
        suppressed_reason: None,
        people: Some(group.len()),
        held_30d: Some(held),
        held_30d_percent: Some(percent(held, group.len())),
        median_per_30d: median(group.iter().map(|&p| rate(&people[p])).collect()).map(round1),
        median_expected_interval_days: median(group.iter().map(|&p| people[p].expected).collect())
            .map(round1),
        trend_held_30d_percent: ends
            .iter()
            .map(|&e| Some(percent(held_by(e), group.len())))
            .collect(),
    }
}

fn managers_figures(
    managers: &[Manager],
    group: &BTreeSet<usize>,
    suppressed: Option<Suppression>,
) -> ManagersFigures {
    if suppressed.is_some() || group.is_empty() {
        return ManagersFigures {
            suppressed: true,
            suppressed_reason: suppressed.or(Some(Suppression::FewerThanMinGroup)),
            managers: None,
            with_open_gap_or_no_series: None,
        };
    }
    ManagersFigures {
        suppressed: false,
        suppressed_reason: None,
        managers: Some(group.len()),
        with_open_gap_or_no_series: Some(group.iter().filter(|&&m| managers[m].open).count()),
    }
}

/// The rollup of `input`; refuses a `min_group` below [`MIN_GROUP_FLOOR`].
pub fn rollup(input: &RollupInput) -> Result<Rollup, RollupError> {
    if input.min_group < MIN_GROUP_FLOOR {
        return Err(RollupError::MinGroupTooSmall(input.min_group));
    }
    let (people, managers) = index(input);
    let groups = groups(&managers);
    let k = input.min_group;
    // Index 0 is the organisation: kept whenever it is large enough.
    let report_sets: Vec<&BTreeSet<usize>> = groups.iter().map(|g| &g.people).collect();
    let manager_sets: Vec<&BTreeSet<usize>> = groups.iter().map(|g| &g.managers).collect();
    let report_shown = suppress::decide(&report_sets, k, 0);
    let manager_shown = suppress::decide(&manager_sets, k, 0);
    let rows = groups
        .into_iter()
        .enumerate()
        .map(|(i, g)| GroupRow {
            reports: reports_figures(&people, &g.people, input.now, report_shown[i]),
            managers: managers_figures(&managers, &g.managers, manager_shown[i]),
            kind: g.kind,
            id: g.id,
            name: g.name,
            manager: g.manager,
            parent: g.parent,
            depth: g.depth,
        })
        .collect();
    Ok(Rollup {
        now: rfc3339(input.now),
        min_group: k,
        trend_ends: trend_ends(input.now).into_iter().map(rfc3339).collect(),
        groups: rows,
        managers_left_out: input.managers_left_out,
    })
}

/// What a suppressed figure reads as, for people.
pub fn suppressed_text(reason: Option<Suppression>, min_group: usize) -> String {
    match reason {
        Some(Suppression::Complementary) => "hidden (would reveal a smaller group)".to_string(),
        _ => format!("fewer than {min_group}"),
    }
}

/// The rollup as a terminal table (names made safe by the caller's `terminal::escape`).
pub fn text(r: &Rollup) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let header = [
        "group",
        "people",
        "held 1on1 in 30 days",
        "median per 30 days",
        "median expected",
        "managers",
        "with open gap/no_series",
        "trend (12 weeks)",
    ];
    let short = |reason: Option<Suppression>| match reason {
        Some(Suppression::Complementary) => "hidden".to_string(),
        _ => format!("fewer than {}", r.min_group),
    };
    let mut rows: Vec<[String; 8]> = Vec::new();
    for g in &r.groups {
        let label = match g.kind {
            GroupKind::Org => g.name.clone(),
            GroupKind::OrgUnit => format!("org unit {}", g.name),
            GroupKind::ManagerOfManagers => format!(
                "{}under {} <{}>",
                "  ".repeat(g.depth),
                g.name,
                g.manager.as_deref().unwrap_or_default()
            ),
        };
        let rf = &g.reports;
        let hidden_r = short(rf.suppressed_reason);
        let (people, held, med, exp, trend) = match (
            rf.people,
            rf.held_30d,
            rf.held_30d_percent,
            rf.median_per_30d,
            rf.median_expected_interval_days,
        ) {
            (Some(n), Some(h), Some(pc), Some(m), Some(e)) => (
                n.to_string(),
                format!("{h} ({pc:.1}%)"),
                m.to_string(),
                format!("every {e} days"),
                rf.trend_held_30d_percent
                    .iter()
                    .map(|p| {
                        p.map_or('·', |p| {
                            BARS[((p / 100.0 * 7.0).round() as usize).min(BARS.len() - 1)]
                        })
                    })
                    .collect::<String>()
                    + &rf
                        .trend_held_30d_percent
                        .last()
                        .copied()
                        .flatten()
                        .map_or(String::new(), |p| format!(" {p:.1}%")),
            ),
            _ => (
                hidden_r.clone(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
                "-".to_string(),
            ),
        };
        let mf = &g.managers;
        let (mgrs, open) = match (mf.managers, mf.with_open_gap_or_no_series) {
            (Some(n), Some(o)) => (n.to_string(), o.to_string()),
            _ => (short(mf.suppressed_reason), "-".to_string()),
        };
        rows.push([label, people, held, med, exp, mgrs, open, trend]);
    }
    let width = |i: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .chain(std::iter::once(header[i].chars().count()))
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..header.len()).map(width).collect();
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(c.chars().count());
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = format!(
        "1on1 coverage across the organisation at {} (no figure over fewer than {} people is shown)\n\n",
        r.now, r.min_group
    );
    out.push_str(&line(header.to_vec()));
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out.push_str(&format!(
        "\nfewer than {k}: the group is too small to show. hidden: shown, it would let a group of fewer than {k} be worked out from the other figures.\n",
        k = r.min_group
    ));
    if r.managers_left_out > 0 {
        out.push_str(&format!(
            "{} {} left out of every figure: their calendar has not been read (see `cadenced status`).\n",
            r.managers_left_out,
            if r.managers_left_out == 1 { "manager is" } else { "managers are" }
        ));
    }
    out
}
