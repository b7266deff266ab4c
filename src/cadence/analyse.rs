//! Cadence analysis (docs/cadence-rules.md: a contract): sessions and their outcomes per report, the
//! figures of the report, the expected interval and where it comes from, and the findings that
//! become alerts. A pure function of the config, the stored events and `now`.
//!
//! The v2 rules, in the order the analysis applies them:
//! - absences of the manager (out-of-office events) are collected first; a cancelled or
//!   declined session that was to start during one is `excused`;
//! - a report's 1on1s are its 1on1-titled single events, its 1on1-titled series, and — only when
//!   none of its series is 1on1-titled — every 1on1-shaped series; a shaped series that does not
//!   count is a [`Candidate`] with the reason;
//! - the tenure start (`joined`, a directory's hire date, else the first held 1on1) bounds the
//!   rate window, and only reports whose window spans two expected intervals enter `uneven`;
//! - one `skipped` finding per run of skipped sessions, none after the last held session while
//!   a `gap` (or `no_series`) is open; `irregular` only without a fixed rhythm; `series_ending`
//!   also for a series that has ended with nothing scheduled.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::days::calendar_days;
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
    /// Cancelled or declined while the manager was away: neither held nor skipped.
    Excused,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Held => "held",
            Outcome::Upcoming => "upcoming",
            Outcome::Cancelled => "cancelled",
            Outcome::Declined => "declined",
            Outcome::Excused => "excused",
        }
    }
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
    /// Cancelled or declined while the manager was away, in the lookback.
    pub excused: usize,
    pub upcoming: usize,
    /// The tenure start: `joined`, a directory's hire date, else the first held 1on1's date.
    pub start: Option<NaiveDate>,
    /// The length of the rate window `[max(now − lookback, start), now)` in days.
    pub rate_window_days: f64,
    pub last_held: Option<DateTime<Utc>>,
    pub next_scheduled: Option<DateTime<Utc>>,
    pub days_since_last_held: Option<f64>,
    /// Calendar days in the manager's zone from the last held session's date to today's date:
    /// the figure every text a person reads shows.
    pub days_since_last_held_local: Option<i64>,
    pub sessions_per_30d: f64,
    pub series: Vec<SeriesInfo>,
    /// Every counting session in the analysis window, by start.
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

    /// The kind named `s` (a stored alert's kind), if it is a report kind.
    pub fn parse(s: &str) -> Option<AlertKind> {
        Some(match s {
            "gap" => AlertKind::Gap,
            "irregular" => AlertKind::Irregular,
            "no_series" => AlertKind::NoSeries,
            "series_ending" => AlertKind::SeriesEnding,
            "skipped" => AlertKind::Skipped,
            "uneven" => AlertKind::Uneven,
            _ => return None,
        })
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

/// Why a 1on1-shaped meeting is listed as a candidate rather than counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CandidateReason {
    /// The other person is not in the roster.
    NotInRoster,
    /// A report's series whose title does not name a 1on1, beside this 1on1-titled series.
    NotTitled { counted: String },
}

/// A 1on1-shaped meeting that is never counted: someone outside the roster, or a report's
/// series that is not their 1on1 (a working session beside a titled 1on1).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub email: String,
    /// The report's display name when the candidate is a report's non-counting series.
    pub report: Option<String>,
    pub titles: Vec<String>,
    pub sessions: usize,
    pub last: Option<DateTime<Utc>>,
    pub next: Option<DateTime<Utc>>,
    pub reason: CandidateReason,
}

impl Candidate {
    /// One sentence saying why the meetings are not counted.
    pub fn reason_text(&self) -> String {
        match &self.reason {
            CandidateReason::NotInRoster => "not in the roster ([[reports]])".to_string(),
            CandidateReason::NotTitled { counted } => format!(
                "its title does not name a 1on1, and {counted:?} does: only 1on1-titled series count"
            ),
        }
    }

    /// What the manager can do about it.
    pub fn hint(&self) -> String {
        match &self.reason {
            CandidateReason::NotInRoster => format!(
                "add [[reports]] email = \"{}\" to the config if this is a direct report",
                self.email
            ),
            CandidateReason::NotTitled { .. } => "if it is a 1on1, put 1on1 in its title or add the title to [detection] title_patterns".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    pub now: DateTime<Utc>,
    pub lookback_days: f64,
    /// Median of `sessions_per_30d` over the reports whose rate window spans two expected
    /// intervals and holds a held session (at least two such reports).
    pub team_median: Option<f64>,
    pub reports: Vec<ReportFigures>,
    /// Sorted by report e-mail, then kind, then since.
    pub findings: Vec<Finding>,
    pub candidates: Vec<Candidate>,
    /// The manager's absences `[start, end)` in the analysis window, by start.
    pub away: Vec<(DateTime<Utc>, DateTime<Utc>)>,
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

type SeriesKey = (String, String, String);

/// A 1on1-shaped occurrence before the per-report rule decides whether it counts.
struct Shaped {
    session: Session,
    /// The occurrence's original start (its recurrence id), for absences.
    original: DateTime<Utc>,
    /// Cancelled (or removed) and declined, before absences are known.
    cancelled: bool,
    declined: bool,
    /// `(account, calendar, master id)` for an occurrence of a series.
    series: Option<SeriesKey>,
    /// The title that decides: the series master's for an occurrence, else its own.
    series_title: String,
    titled: bool,
}

/// Analyse the stored events at `now`.
pub fn analyse(config: &Config, calendars: &[StoredCalendar], now: DateTime<Utc>) -> Analysis {
    let zone = config.manager.zone();
    let detector = Detector::new(config);
    let window = analysis_window(config, now);
    let lookback = config.cadence.lookback.as_chrono();
    let lookback_days = config.cadence.lookback.as_days_f64();

    let mut per_report: Vec<Vec<Shaped>> = (0..config.reports.len()).map(|_| Vec::new()).collect();
    let mut per_candidate: HashMap<String, Vec<Shaped>> = HashMap::new();
    let mut masters: HashMap<SeriesKey, (&Event, &StoredCalendar)> = HashMap::new();
    let mut warnings = Vec::new();
    let mut seen: HashSet<(String, DateTime<Utc>)> = HashSet::new();
    let mut away: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    // Per stored event (by address: the calendars outlive the analysis), what does not change
    // from one occurrence to the next: absence and shape of a subject, 1on1-titled-ness of the
    // event whose title decides. A recurring series is judged once, not once per occurrence.
    let mut event_memo: HashMap<usize, (bool, Match)> = HashMap::new();
    let mut titled_memo: HashMap<(usize, Match), bool> = HashMap::new();

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
            let master = occ.series_id.and_then(|sid| {
                masters
                    .get(&(cal.account.clone(), cal.calendar.clone(), sid.to_string()))
                    .map(|(m, _)| *m)
            });
            let subject = match master {
                Some(m) if occ.event.organizer.is_none() && occ.event.attendees.is_empty() => m,
                _ => occ.event,
            };
            let (absent, m) = event_memo
                .entry(std::ptr::from_ref(subject) as usize)
                .or_insert_with(|| {
                    if detector.is_absence(subject) {
                        (true, Match::None)
                    } else {
                        let humans = subject.humans();
                        let m = detector.shape(humans.iter().map(String::as_str), &subject.summary);
                        (false, m)
                    }
                })
                .clone();
            if absent {
                if !occ.removed && occ.status != EventStatus::Cancelled {
                    away.push((occ.start.instant(&zone), occ.end.instant(&zone)));
                }
                continue;
            }
            if m == Match::None {
                continue;
            }
            let series = occ
                .series_id
                .map(|sid| (cal.account.clone(), cal.calendar.clone(), sid.to_string()));
            // The title that decides: the series master's for an occurrence of a series.
            let decider = match (&series, master) {
                (Some(_), Some(m)) => m,
                _ => subject,
            };
            let titled = *titled_memo
                .entry((std::ptr::from_ref(decider) as usize, m.clone()))
                .or_insert_with(|| detector.is_titled(&decider.summary, &m));
            // A single event counts only when 1on1-titled, for a report or a candidate.
            if series.is_none() && !titled {
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
            let shaped = shaped_of(
                cal,
                occ,
                subject,
                &zone,
                now,
                &detector,
                &addresses,
                (series, decider.summary.clone(), titled, original),
            );
            match m {
                Match::Report(i) => per_report[i].push(shaped),
                Match::Candidate(e) => per_candidate.entry(e).or_default().push(shaped),
                Match::None => {}
            }
        }
    }
    away.sort();
    let is_away = |t: DateTime<Utc>| away.iter().any(|(s, e)| *s <= t && t < *e);
    let outcome_of = |s: &Shaped| {
        if (s.cancelled || s.declined) && is_away(s.original) {
            Outcome::Excused
        } else {
            s.session.outcome
        }
    };

    let lb_from = now - lookback;
    let lb_to = now + lookback;
    let mut reports = Vec::with_capacity(config.reports.len());
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, report) in config.reports.iter().enumerate() {
        let shaped = std::mem::take(&mut per_report[i]);
        // The fallback: with no 1on1-titled series, every shaped series counts.
        let titled_series = shaped.iter().find(|s| s.series.is_some() && s.titled);
        let counted_title = titled_series.map(|s| s.series_title.clone());
        let mut not_counted: Vec<(SeriesKey, String, Vec<Session>)> = Vec::new();
        let mut sessions: Vec<Session> = Vec::new();
        for s in &shaped {
            let counts = s.series.is_none() || s.titled || counted_title.is_none();
            let mut session = s.session.clone();
            session.outcome = outcome_of(s);
            if counts {
                sessions.push(session);
            } else if let Some(key) = &s.series {
                match not_counted.iter_mut().find(|(k, _, _)| k == key) {
                    Some((_, _, list)) => list.push(session),
                    None => not_counted.push((key.clone(), s.series_title.clone(), vec![session])),
                }
            }
        }
        for (_, title, list) in not_counted {
            candidates.push(Candidate {
                email: report.email.to_lowercase(),
                report: Some(report.display_name().to_string()),
                titles: vec![title],
                sessions: list.len(),
                last: list
                    .iter()
                    .filter(|s| s.outcome == Outcome::Held)
                    .map(|s| s.start)
                    .max(),
                next: list
                    .iter()
                    .filter(|s| s.outcome == Outcome::Upcoming)
                    .map(|s| s.start)
                    .min(),
                reason: CandidateReason::NotTitled {
                    counted: counted_title.clone().unwrap_or_default(),
                },
            });
        }
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

        // Tenure: joined (or the directory's hire date, merged into `joined`), else the first
        // held 1on1 within the sync window.
        let past_from = now - config.sync.past.as_chrono();
        let start = report.joined.or_else(|| {
            sessions
                .iter()
                .find(|s| s.outcome == Outcome::Held && s.start >= past_from)
                .map(|s| zone.from_utc(s.start).date())
        });
        let start_instant = start.map(|d| zone.to_utc(d.and_time(chrono::NaiveTime::MIN)));
        let rate_from = start_instant.map_or(lb_from, |s| s.max(lb_from));
        let rate_window_days = ((now - rate_from).num_seconds() as f64 / DAY_SECS).max(0.0);
        let held_in_rate = sessions
            .iter()
            .filter(|s| s.outcome == Outcome::Held && s.start >= rate_from && s.start < now)
            .count();
        let sessions_per_30d = if rate_window_days > 0.0 {
            held_in_rate as f64 * 30.0 / rate_window_days
        } else {
            0.0
        };

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
            excused: count(Outcome::Excused),
            upcoming,
            start,
            rate_window_days,
            last_held,
            next_scheduled,
            days_since_last_held: last_held.map(|t| (now - t).num_seconds() as f64 / DAY_SECS),
            days_since_last_held_local: last_held.map(|t| calendar_days(&zone, t, now)),
            sessions_per_30d,
            series,
            sessions,
        });
    }

    let compared = |r: &ReportFigures| r.rate_window_days >= 2.0 * r.expected_interval_days;
    let with_held: Vec<f64> = reports
        .iter()
        .filter(|r| compared(r) && r.sessions_per_30d > 0.0)
        .map(|r| r.sessions_per_30d)
        .collect();
    let team_median = if with_held.len() >= 2 {
        median(&with_held)
    } else {
        None
    };

    let mut findings = Vec::new();
    for (i, r) in reports.iter().enumerate() {
        let median = team_median.filter(|_| compared(r));
        findings.extend(findings_for(config, i, r, median, now));
    }
    findings.sort_by(|a, b| {
        (a.report_email.to_lowercase(), a.kind.as_str(), a.since).cmp(&(
            b.report_email.to_lowercase(),
            b.kind.as_str(),
            b.since,
        ))
    });

    candidates.extend(per_candidate.into_iter().map(|(email, shaped)| {
        let mut sessions: Vec<Session> = shaped
            .iter()
            .map(|s| {
                let mut x = s.session.clone();
                x.outcome = outcome_of(s);
                x
            })
            .collect();
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
            report: None,
            reason: CandidateReason::NotInRoster,
        }
    }));
    candidates.sort_by(|a, b| (&a.email, &a.titles).cmp(&(&b.email, &b.titles)));

    Analysis {
        now,
        lookback_days,
        team_median,
        reports,
        findings,
        candidates,
        away,
        warnings,
    }
}

#[allow(clippy::too_many_arguments)]
fn shaped_of(
    cal: &StoredCalendar,
    occ: &Occurrence<'_>,
    subject: &Event,
    zone: &Zone,
    now: DateTime<Utc>,
    detector: &Detector,
    other: &[String],
    (series, series_title, titled, original): (Option<SeriesKey>, String, bool, DateTime<Utc>),
) -> Shaped {
    let e = subject;
    let start = occ.start.instant(zone);
    // The calendar read is the manager's: its owner's own answer is the manager's.
    let declined = e.self_response == Some(Response::Declined)
        || e.attendees.iter().any(|a| {
            a.response == Response::Declined
                && (detector.is_manager(&a.email) || other.contains(&a.email.to_lowercase()))
        });
    let cancelled = occ.removed || occ.status == EventStatus::Cancelled;
    let outcome = if cancelled {
        Outcome::Cancelled
    } else if declined {
        Outcome::Declined
    } else if start < now {
        Outcome::Held
    } else {
        Outcome::Upcoming
    };
    Shaped {
        session: Session {
            account: cal.account.clone(),
            calendar: cal.calendar.clone(),
            uid: e.uid.clone(),
            event_id: occ.event_id.clone(),
            series_id: occ.series_id.map(str::to_owned),
            title: e.summary.clone(),
            start,
            end: occ.end.instant(zone),
            outcome,
        },
        original,
        cancelled,
        declined,
        series,
        series_title,
        titled,
    }
}

type Masters<'a> = HashMap<SeriesKey, (&'a Event, &'a StoredCalendar)>;

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

/// The shortest interval among the active series, so the figure does not change with the date.
fn active_series_interval(series: &[SeriesInfo]) -> Option<f64> {
    series
        .iter()
        .filter(|s| s.active)
        .filter_map(|s| s.interval_days)
        .min_by(f64::total_cmp)
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

/// The runs of skipped sessions: consecutive cancelled or declined sessions (excused ones are
/// passed over) with no held session between them, in start order.
fn skipped_runs<'a>(sessions: &[&'a Session]) -> Vec<Vec<&'a Session>> {
    let mut runs: Vec<Vec<&Session>> = Vec::new();
    let mut current: Vec<&Session> = Vec::new();
    for s in sessions {
        match s.outcome {
            Outcome::Cancelled | Outcome::Declined => current.push(s),
            Outcome::Held => {
                if !current.is_empty() {
                    runs.push(std::mem::take(&mut current));
                }
            }
            Outcome::Excused | Outcome::Upcoming => {}
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

fn findings_for(
    config: &Config,
    index: usize,
    r: &ReportFigures,
    team_median: Option<f64>,
    now: DateTime<Utc>,
) -> Vec<Finding> {
    let text = messages::Texts::new(config, &r.name);
    let zone = config.manager.zone();
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
    let threshold = expected * (1.0 + config.cadence.grace);
    // A known tenure start later than the lookback's: the time without a held 1on1 counts
    // from it (a report who joined last week has not "gone too long" without one).
    let tenure_days = r
        .start
        .map(|d| zone.to_utc(d.and_time(chrono::NaiveTime::MIN)))
        .filter(|s| *s > lookback_from)
        .map(|s| (now - s).num_seconds() as f64 / DAY_SECS);

    let mut gap_open = false;
    if no_series {
        gap_open = true;
        out.push(finding(
            AlertKind::NoSeries,
            r.last_held,
            episode_of(r.last_held),
            text.no_series(
                r.last_held,
                config.cadence.lookback.as_days_f64(),
                r.start.filter(|_| tenure_days.is_some()),
            ),
        ));
    } else {
        let overdue = r.days_since_last_held.is_some_and(|d| d > threshold);
        let never = r.upcoming > 0 && r.held == 0 && tenure_days.is_none_or(|d| d > threshold);
        if overdue || never {
            gap_open = true;
            out.push(finding(
                AlertKind::Gap,
                r.last_held,
                episode_of(r.last_held),
                text.gap(r.days_since_last_held_local, expected, r.next_scheduled),
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

    // Skipped: one finding per run of skipped sessions in the lookback; a session is made up by
    // a held one within half an interval. While a gap is open, sessions after the last held one
    // are part of the gap.
    let held: Vec<DateTime<Utc>> = r
        .sessions
        .iter()
        .filter(|s| s.outcome == Outcome::Held)
        .map(|s| s.start)
        .collect();
    let half = Duration::seconds((expected * DAY_SECS / 2.0) as i64);
    let in_lookback: Vec<&Session> = r
        .sessions
        .iter()
        .filter(|s| s.start >= lookback_from && s.start < now)
        .filter(|s| !gap_open || r.last_held.is_some_and(|h| s.start < h))
        .collect();
    for run in skipped_runs(&in_lookback) {
        let missed: Vec<&Session> = run
            .into_iter()
            .filter(|s| !held.iter().any(|h| (*h - s.start).abs() <= half))
            .collect();
        let Some(first) = missed.first() else {
            continue;
        };
        out.push(finding(
            AlertKind::Skipped,
            Some(first.start),
            // The first missed session's key: the id of an alert about that one session
            // (earlier versions raised one per session) carries on.
            format!("{}|{}", first.uid, first.start.to_rfc3339()),
            text.skipped(
                &missed
                    .iter()
                    .map(|s| (s.start, s.outcome == Outcome::Declined))
                    .collect::<Vec<_>>(),
            ),
        ));
    }

    // Irregular: only when nothing fixes the rhythm (no configured cadence, no active series).
    let fixed = r.cadence_source == CadenceSource::Config || r.series.iter().any(|s| s.active);
    let lookback_held: Vec<DateTime<Utc>> = held
        .iter()
        .copied()
        .filter(|t| *t >= lookback_from && *t < now)
        .collect();
    if !fixed && lookback_held.len() >= 4 {
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
    // or has come within the lookback, and no other 1on1 with R scheduled after now. One per
    // report: the series that ends last.
    let horizon = now + Duration::seconds((2.0 * expected * DAY_SECS) as i64);
    let ending = r
        .series
        .iter()
        .filter_map(|s| Some((s, s.last_occurrence?)))
        .filter(|(_, last)| *last >= lookback_from && *last <= horizon)
        // Nothing else with R is scheduled after now: no upcoming session outside this series
        // (its own sessions until the end are what is ending).
        .filter(|(s, _)| {
            !r.sessions.iter().any(|x| {
                x.outcome == Outcome::Upcoming
                    && x.start >= now
                    && !(x.series_id.as_deref() == Some(s.event_id.as_str())
                        && x.account == s.account
                        && x.calendar == s.calendar)
            })
        })
        .max_by(|a, b| (a.1, &a.0.event_id).cmp(&(b.1, &b.0.event_id)));
    if let Some((s, last)) = ending {
        out.push(finding(
            AlertKind::SeriesEnding,
            Some(last),
            format!("{}|{}", s.event_id, last.to_rfc3339()),
            text.series_ending(last, last < now),
        ));
    }
    out
}

#[cfg(test)]
mod tests;
