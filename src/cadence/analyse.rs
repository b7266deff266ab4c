//! Cadence analysis (docs/cadence-rules.md: a contract): sessions and their outcomes per report, the
//! figures of the report, the expected interval and where it comes from, and the findings that
//! become alerts. A pure function of the config, the stored events and `now`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::detect::{Detector, Match};
use super::messages::{self, Severity};
use crate::config::Config;
use crate::model::{Event, EventStatus, Response};
use crate::recurrence::{self, Frequency, Occurrence, Rule, Window};
use crate::store::StoredCalendar;
use crate::tz::Zone;

const DAY_SECS: f64 = 86_400.0;

/// The outcome of one session (docs/cadence-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Held,
    Upcoming,
    Cancelled,
    Declined,
}

/// One occurrence of a report's 1on1 (or of a candidate's meeting).
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub account: String,
    pub calendar: String,
    pub uid: String,
    pub event_id: String,
    pub series_id: Option<String>,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub outcome: Outcome,
}

/// A recurring series that carries a report's 1on1s.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    pub account: String,
    pub calendar: String,
    pub event_id: String,
    pub title: String,
    /// `RRULE:…` lines of the master, one per rule.
    pub recurrence: String,
    /// The series still has a session at or after now.
    pub active: bool,
    /// The interval its rule implies (weekly × interval × 7, daily × interval, monthly × 30 …).
    pub interval_days: Option<f64>,
    /// The start of its last occurrence when the rule is bounded (UNTIL/COUNT).
    pub last_occurrence: Option<DateTime<Utc>>,
    /// Its next upcoming session.
    pub next: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CadenceSource {
    Config,
    Recurrence,
    Inferred,
    Default,
}

impl CadenceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CadenceSource::Config => "config",
            CadenceSource::Recurrence => "recurrence",
            CadenceSource::Inferred => "inferred",
            CadenceSource::Default => "default",
        }
    }
}

/// The figures of one report at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFigures {
    pub email: String,
    pub name: String,
    pub expected_interval_days: f64,
    pub cadence_source: CadenceSource,
    pub held: usize,
    pub cancelled: usize,
    pub declined: usize,
    pub upcoming: usize,
    pub last_held: Option<DateTime<Utc>>,
    pub next_scheduled: Option<DateTime<Utc>>,
    pub days_since_last_held: Option<f64>,
    pub sessions_per_30d: f64,
    pub series: Vec<SeriesInfo>,
    /// Every session in the analysis window, by start.
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Gap,
    Irregular,
    NoSeries,
    SeriesEnding,
    Skipped,
    Uneven,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Gap => "gap",
            AlertKind::Irregular => "irregular",
            AlertKind::NoSeries => "no_series",
            AlertKind::SeriesEnding => "series_ending",
            AlertKind::Skipped => "skipped",
            AlertKind::Uneven => "uneven",
        }
    }
}

/// A condition about a report the manager should act on; the store gives it its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: AlertKind,
    /// Roster index of the report.
    pub report: usize,
    pub report_email: String,
    pub severity: Severity,
    pub since: Option<DateTime<Utc>>,
    /// What tells this episode from the next one of the same kind (empty: open-ended).
    pub episode: String,
    pub message: String,
}

/// Someone outside the roster who has 1on1-shaped meetings with the manager.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub email: String,
    pub titles: Vec<String>,
    pub sessions: usize,
    pub last: Option<DateTime<Utc>>,
    pub next: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub now: DateTime<Utc>,
    pub lookback_days: f64,
    /// Median of `sessions_per_30d` over reports with a held session in the lookback (≥ 2 such).
    pub team_median: Option<f64>,
    pub reports: Vec<ReportFigures>,
    /// Sorted by report e-mail, then kind, then since.
    pub findings: Vec<Finding>,
    pub candidates: Vec<Candidate>,
    pub warnings: Vec<String>,
}

/// The window the analysis expands: the sync window, widened to the lookback on both sides.
pub fn analysis_window(config: &Config, now: DateTime<Utc>) -> Window {
    let lookback = config.cadence.lookback.as_chrono();
    Window {
        from: now - config.sync.past.as_chrono().max(lookback),
        to: now + config.sync.future.as_chrono().max(lookback),
    }
}

/// Analyse the stored events at `now`.
pub fn analyse(config: &Config, calendars: &[StoredCalendar], now: DateTime<Utc>) -> Analysis {
    let zone = config.manager.zone();
    let detector = Detector::new(config);
    let window = analysis_window(config, now);
    let lookback = config.cadence.lookback.as_chrono();
    let lookback_days = config.cadence.lookback.as_days_f64();

    let mut per_report: Vec<Vec<Session>> = vec![Vec::new(); config.reports.len()];
    let mut per_candidate: HashMap<String, Vec<Session>> = HashMap::new();
    let mut masters: HashMap<(String, String, String), (&Event, &StoredCalendar)> = HashMap::new();
    let mut warnings = Vec::new();
    let mut seen: HashSet<(String, DateTime<Utc>)> = HashSet::new();

    // Accounts in name order so that a duplicate (the same event through two accounts) keeps
    // the same copy whatever order the store returned.
    let mut order: Vec<&StoredCalendar> = calendars.iter().collect();
    order.sort_by(|a, b| (&a.account, &a.calendar).cmp(&(&b.account, &b.calendar)));
    for cal in order {
        for e in cal.events.iter().filter(|e| e.is_master()) {
            masters.insert(
                (
                    cal.account.clone(),
                    cal.calendar.clone(),
                    e.event_id.clone(),
                ),
                (e, cal),
            );
        }
        let expansion = recurrence::expand(&cal.events, &window, &zone);
        warnings.extend(
            expansion
                .warnings
                .iter()
                .map(|w| format!("{} ({}): {w}", cal.account, cal.calendar)),
        );
        let mut occs = expansion.occurrences;
        occs.sort_by(|a, b| {
            (a.start.instant(&zone), &a.event.uid, &a.event_id).cmp(&(
                b.start.instant(&zone),
                &b.event.uid,
                &b.event_id,
            ))
        });
        for occ in &occs {
            // A provider's cancelled-instance tombstone carries no participants or title: it is
            // judged by its series master (an EXDATE'd instance already carries the master).
            let subject = match occ.series_id {
                Some(sid) if occ.event.organizer.is_none() && occ.event.attendees.is_empty() => {
                    masters
                        .get(&(cal.account.clone(), cal.calendar.clone(), sid.to_string()))
                        .map_or(occ.event, |(m, _)| *m)
                }
                _ => occ.event,
            };
            let m = detector.classify_event(subject, occ.series_id.is_some());
            if m == Match::None {
                continue;
            }
            // The same meeting seen twice (two accounts, or a feed and a provider): count it once.
            let original = occ
                .recurrence_id
                .as_ref()
                .unwrap_or(&occ.start)
                .instant(&zone);
            if !seen.insert((subject.uid.to_lowercase(), original)) {
                continue;
            }
            let addresses: Vec<String> = match &m {
                Match::Report(i) => config.reports[*i]
                    .aliases
                    .iter()
                    .chain(std::iter::once(&config.reports[*i].email))
                    .map(|a| a.to_lowercase())
                    .collect(),
                Match::Candidate(e) => vec![e.clone()],
                Match::None => continue,
            };
            let session = session_of(cal, occ, subject, &zone, now, &detector, &addresses);
            match m {
                Match::Report(i) => per_report[i].push(session),
                Match::Candidate(e) => per_candidate.entry(e).or_default().push(session),
                Match::None => {}
            }
        }
    }

    let lb_from = now - lookback;
    let lb_to = now + lookback;
    let mut reports = Vec::with_capacity(config.reports.len());
    for (i, report) in config.reports.iter().enumerate() {
        let mut sessions = std::mem::take(&mut per_report[i]);
        sessions
            .sort_by(|a, b| (a.start, &a.uid, &a.event_id).cmp(&(b.start, &b.uid, &b.event_id)));
        let in_lookback = |s: &&Session| s.start >= lb_from && s.start < now;
        let count = |o: Outcome| {
            sessions
                .iter()
                .filter(in_lookback)
                .filter(|s| s.outcome == o)
                .count()
        };
        let held = count(Outcome::Held);
        let upcoming = sessions
            .iter()
            .filter(|s| s.outcome == Outcome::Upcoming && s.start >= now && s.start < lb_to)
            .count();
        let last_held = sessions
            .iter()
            .filter(|s| s.outcome == Outcome::Held)
            .map(|s| s.start)
            .max();
        let next_scheduled = sessions
            .iter()
            .filter(|s| s.outcome == Outcome::Upcoming)
            .map(|s| s.start)
            .min();
        let series = series_of(&sessions, &masters, &zone);

        let held_starts: Vec<DateTime<Utc>> = sessions
            .iter()
            .filter(in_lookback)
            .filter(|s| s.outcome == Outcome::Held)
            .map(|s| s.start)
            .collect();
        let (expected, source) = if let Some(c) = report.cadence {
            (f64::from(c.days()), CadenceSource::Config)
        } else if let Some(d) = active_series_interval(&series) {
            (d, CadenceSource::Recurrence)
        } else if held_starts.len() >= 3 {
            (
                median(&intervals_days(&held_starts)).unwrap_or(0.0),
                CadenceSource::Inferred,
            )
        } else {
            (
                f64::from(config.cadence.default.days()),
                CadenceSource::Default,
            )
        };

        reports.push(ReportFigures {
            email: report.email.clone(),
            name: report.display_name().to_string(),
            expected_interval_days: expected,
            cadence_source: source,
            held,
            cancelled: count(Outcome::Cancelled),
            declined: count(Outcome::Declined),
            upcoming,
            last_held,
            next_scheduled,
            days_since_last_held: last_held.map(|t| (now - t).num_seconds() as f64 / DAY_SECS),
            sessions_per_30d: held as f64 * 30.0 / lookback_days,
            series,
            sessions,
        });
    }

    let with_held: Vec<f64> = reports
        .iter()
        .filter(|r| r.held > 0)
        .map(|r| r.sessions_per_30d)
        .collect();
    let team_median = if with_held.len() >= 2 {
        median(&with_held)
    } else {
        None
    };

    let mut findings = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        findings.extend(findings_for(config, i, r, team_median, now));
    }
    findings.sort_by(|a, b| {
        (a.report_email.to_lowercase(), a.kind.as_str(), a.since).cmp(&(
            b.report_email.to_lowercase(),
            b.kind.as_str(),
            b.since,
        ))
    });

    let mut candidates: Vec<Candidate> = per_candidate
        .into_iter()
        .map(|(email, mut sessions)| {
            sessions.sort_by(|a, b| (a.start, &a.uid).cmp(&(b.start, &b.uid)));
            let mut titles: Vec<String> = Vec::new();
            // Through a set: a series may have thousands of differently titled exceptions.
            let mut seen = HashSet::new();
            for s in &sessions {
                if seen.insert(s.title.as_str()) {
                    titles.push(s.title.clone());
                }
            }
            Candidate {
                last: sessions
                    .iter()
                    .filter(|s| s.outcome == Outcome::Held)
                    .map(|s| s.start)
                    .max(),
                next: sessions
                    .iter()
                    .filter(|s| s.outcome == Outcome::Upcoming)
                    .map(|s| s.start)
                    .min(),
                sessions: sessions.len(),
                titles,
                email,
            }
        })
        .collect();
    candidates.sort_by(|a, b| a.email.cmp(&b.email));

    Analysis {
        now,
        lookback_days,
        team_median,
        reports,
        findings,
        candidates,
        warnings,
    }
}

fn session_of(
    cal: &StoredCalendar,
    occ: &Occurrence<'_>,
    subject: &Event,
    zone: &Zone,
    now: DateTime<Utc>,
    detector: &Detector,
    other: &[String],
) -> Session {
    let e = subject;
    let start = occ.start.instant(zone);
    // The calendar read is the manager's: its owner's own answer is the manager's.
    let declined = e.self_response == Some(Response::Declined)
        || e.attendees.iter().any(|a| {
            a.response == Response::Declined
                && (detector.is_manager(&a.email) || other.contains(&a.email.to_lowercase()))
        });
    let outcome = if occ.removed || occ.status == EventStatus::Cancelled {
        Outcome::Cancelled
    } else if declined {
        Outcome::Declined
    } else if start < now {
        Outcome::Held
    } else {
        Outcome::Upcoming
    };
    Session {
        account: cal.account.clone(),
        calendar: cal.calendar.clone(),
        uid: e.uid.clone(),
        event_id: occ.event_id.clone(),
        series_id: occ.series_id.map(str::to_owned),
        title: e.summary.clone(),
        start,
        end: occ.end.instant(zone),
        outcome,
    }
}

type Masters<'a> = HashMap<(String, String, String), (&'a Event, &'a StoredCalendar)>;

fn series_of(sessions: &[Session], masters: &Masters<'_>, zone: &Zone) -> Vec<SeriesInfo> {
    let mut out: Vec<SeriesInfo> = Vec::new();
    for s in sessions {
        let Some(series_id) = &s.series_id else {
            continue;
        };
        if out
            .iter()
            .any(|x| x.account == s.account && x.calendar == s.calendar && &x.event_id == series_id)
        {
            continue;
        }
        let Some((master, cal)) =
            masters.get(&(s.account.clone(), s.calendar.clone(), series_id.clone()))
        else {
            continue;
        };
        let mine = sessions.iter().filter(|x| {
            x.series_id.as_ref() == Some(series_id)
                && x.account == s.account
                && x.calendar == s.calendar
        });
        let next = mine
            .filter(|x| x.outcome == Outcome::Upcoming)
            .map(|x| x.start)
            .min();
        let rules = master
            .recurrence
            .as_ref()
            .map(|r| r.rrules.as_slice())
            .unwrap_or_default();
        out.push(SeriesInfo {
            account: s.account.clone(),
            calendar: s.calendar.clone(),
            event_id: series_id.clone(),
            title: master.summary.clone(),
            recurrence: rules
                .iter()
                .map(|r| format!("RRULE:{r}"))
                .collect::<Vec<_>>()
                .join("\n"),
            active: next.is_some(),
            interval_days: rules
                .first()
                .and_then(|r| Rule::parse(r).ok())
                .and_then(|r| rule_interval_days(&r)),
            last_occurrence: recurrence::last_occurrence(&cal.events, master, zone)
                .map(|o| o.start.instant(zone)),
            next,
        });
    }
    out
}

/// The interval a rule implies (docs/cadence-rules.md): weekly × interval × 7, daily × interval,
/// monthly × interval × 30 (and yearly × interval × 365).
pub fn rule_interval_days(rule: &Rule) -> Option<f64> {
    let per = match rule.freq {
        Frequency::Daily => 1.0,
        Frequency::Weekly => 7.0,
        Frequency::Monthly => 30.0,
        Frequency::Yearly => 365.0,
        _ => return None,
    };
    Some(per * f64::from(rule.interval.max(1)))
}

/// The interval of the active series whose next session comes first (ties: the shorter one).
fn active_series_interval(series: &[SeriesInfo]) -> Option<f64> {
    series
        .iter()
        .filter(|s| s.active)
        .filter_map(|s| Some((s.next?, s.interval_days?)))
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)))
        .map(|(_, d)| d)
}

/// Days between consecutive starts (sorted input).
pub fn intervals_days(starts: &[DateTime<Utc>]) -> Vec<f64> {
    starts
        .windows(2)
        .map(|w| (w[1] - w[0]).num_seconds() as f64 / DAY_SECS)
        .collect()
}

/// The median (mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Coefficient of variation (population standard deviation / mean).
fn coefficient_of_variation(values: &[f64]) -> Option<f64> {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.is_empty() || mean <= 0.0 {
        return None;
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    Some(var.sqrt() / mean)
}

fn findings_for(
    config: &Config,
    index: usize,
    r: &ReportFigures,
    team_median: Option<f64>,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let text = messages::Texts::new(config, &r.name);
    let mut out = Vec::new();
    let finding =
        |kind: AlertKind, since: Option<DateTime<Utc>>, episode: String, message: String| Finding {
            kind,
            report: index,
            report_email: r.email.clone(),
            severity: messages::severity(kind),
            since,
            episode,
            message,
        };
    let expected = r.expected_interval_days;
    let lookback_from = now - config.cadence.lookback.as_chrono();
    let no_series = r.held == 0 && r.upcoming == 0;
    let episode_of =
        |t: Option<DateTime<Utc>>| t.map_or_else(|| "never".to_string(), |t| t.to_rfc3339());

    if no_series {
        out.push(finding(
            AlertKind::NoSeries,
            r.last_held,
            episode_of(r.last_held),
            text.no_series(r.last_held, config.cadence.lookback.as_days_f64()),
        ));
    } else {
        let overdue = r
            .days_since_last_held
            .is_some_and(|d| d > expected * (1.0 + config.cadence.grace));
        if overdue || (r.upcoming > 0 && r.held == 0) {
            out.push(finding(
                AlertKind::Gap,
                r.last_held,
                episode_of(r.last_held),
                text.gap(r.days_since_last_held, expected, r.next_scheduled),
            ));
        }
        if let Some(median) = team_median
            && r.sessions_per_30d < median * config.cadence.uneven_ratio
        {
            out.push(finding(
                AlertKind::Uneven,
                None,
                String::new(),
                text.uneven(r.sessions_per_30d, median),
            ));
        }
    }

    // Skipped: a cancelled or declined session in the lookback not made up within half an interval.
    let held: Vec<DateTime<Utc>> = r
        .sessions
        .iter()
        .filter(|s| s.outcome == Outcome::Held)
        .map(|s| s.start)
        .collect();
    let half = Duration::seconds((expected * DAY_SECS / 2.0) as i64);
    for s in r
        .sessions
        .iter()
        .filter(|s| s.start >= lookback_from && s.start < now)
    {
        if !matches!(s.outcome, Outcome::Cancelled | Outcome::Declined) {
            continue;
        }
        if held.iter().any(|h| (*h - s.start).abs() <= half) {
            continue;
        }
        out.push(finding(
            AlertKind::Skipped,
            Some(s.start),
            format!("{}|{}", s.uid, s.start.to_rfc3339()),
            text.skipped(s.start, s.outcome == Outcome::Declined),
        ));
    }

    let lookback_held: Vec<DateTime<Utc>> = held
        .iter()
        .copied()
        .filter(|t| *t >= lookback_from && *t < now)
        .collect();
    if lookback_held.len() >= 4 {
        let gaps = intervals_days(&lookback_held);
        if coefficient_of_variation(&gaps).is_some_and(|cv| cv > 0.5) {
            let lo = gaps.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = gaps.iter().copied().fold(0.0, f64::max);
            out.push(finding(
                AlertKind::Irregular,
                None,
                String::new(),
                text.irregular(lo, hi),
            ));
        }
    }

    // Series ending: a bounded recurring 1on1 whose last occurrence comes within two intervals,
    // with nothing else scheduled after it.
    let horizon = now + Duration::seconds((2.0 * expected * DAY_SECS) as i64);
    for s in &r.series {
        let Some(last) = s.last_occurrence else {
            continue;
        };
        if last < now || last > horizon {
            continue;
        }
        if r.sessions
            .iter()
            .any(|x| x.outcome == Outcome::Upcoming && x.start > last)
        {
            continue;
        }
        out.push(finding(
            AlertKind::SeriesEnding,
            Some(last),
            format!("{}|{}", s.event_id, last.to_rfc3339()),
            text.series_ending(last),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
