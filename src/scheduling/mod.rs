//! Scheduling (issue 17): propose a make-up 1on1 for an open `gap`, `no_series` or `skipped`
//! alert, and book it when asked (or, opted in, by itself).
//!
//! - [`slots`]: the pure slot finder (working hours of both people, busy time, notice, window,
//!   length, the series' usual weekday and time of day).
//! - [`window_for`]: the one adapter between an alert and the slot finder (alert kind + report
//!   figures → the window that restores the cadence). Re-point it when alert kinds change.
//! - this module: what needs slots ([`needs`]), the manager's busy time from the store
//!   ([`manager_busy`]), and [`plan`] (pure) / [`propose`] (with the report's free/busy from the
//!   provider) that make the [`Proposal`]s shown by alerts, `report`, the dashboard and
//!   `cadenced propose`.
//! - [`api`]: the provider calls (free/busy, create, find, delete).
//! - [`book`]: `cadenced book`, `--undo`, and the daemon's auto-booking.
//!
//! Invariants: the manager's side is every stored calendar of the manager (every account), so
//! an .ics feed, Google and Graph propose the same slots when free/busy agrees; anything that is
//! not known to be free is busy (tentative, all-day events, a report whose free/busy is unknown
//! is said to be so); the answer is a function of `now`, the stored calendars and the free/busy
//! answers only.

pub mod api;
pub mod book;
pub mod slots;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Datelike, Duration, NaiveTime, Timelike, Utc, Weekday};

use crate::alerts::Analysed;
use crate::cadence::{AlertKind, Outcome, ReportFigures};
use crate::config::Config;
pub use crate::makeup::{
    Basis, Proposal, Span, annotate_report, book_hint, for_report, invite_ics, proposal_line,
    slot_text,
};
use crate::store::{Bookings, EventStore, StoredCalendar};
use crate::tz::Zone;
use api::Availability;
use slots::{Hours, Preference};

/// At most this many slots per alert.
pub const MAX_SLOTS: usize = 3;
/// A series' length when nothing says otherwise.
pub const DEFAULT_LENGTH_MINUTES: i64 = 30;

/// The usual length, weekday and time of day of a report's 1on1s.
#[derive(Debug, Clone, PartialEq)]
pub struct Usual {
    pub length: Duration,
    pub preference: Option<Preference>,
}

/// The series' usual length (the median of its sessions') and its most frequent weekday and
/// time of day in the manager's zone (ties: the most recent session's), from every session of
/// the report that the analysis knows.
pub fn usual(r: &ReportFigures, zone: &Zone) -> Usual {
    let mut lengths: Vec<i64> = r
        .sessions
        .iter()
        .map(|s| (s.end - s.start).num_minutes())
        .filter(|m| *m > 0)
        .collect();
    lengths.sort_unstable();
    let length = lengths
        .get(lengths.len() / 2)
        .copied()
        .unwrap_or(DEFAULT_LENGTH_MINUTES);
    let mut counts: BTreeMap<(u32, u32), (usize, DateTime<Utc>)> = BTreeMap::new();
    for s in &r.sessions {
        let local = zone.from_utc(s.start);
        let key = (
            local.weekday().num_days_from_monday(),
            local.time().num_seconds_from_midnight(),
        );
        let e = counts.entry(key).or_insert((0, s.start));
        e.0 += 1;
        e.1 = e.1.max(s.start);
    }
    let preference = counts
        .into_iter()
        .max_by(|a, b| (a.1.0, a.1.1).cmp(&(b.1.0, b.1.1)))
        .and_then(|((day, secs), _)| {
            Some(Preference {
                zone: zone.clone(),
                weekday: Weekday::try_from(u8::try_from(day).ok()?).ok()?,
                time: NaiveTime::from_num_seconds_from_midnight_opt(secs, 0)?,
            })
        });
    Usual {
        length: Duration::minutes(length),
        preference,
    }
}

/// **The adapter** between alerts and the slot finder: for an alert of `kind` about the report
/// `r` (whose episode started at `since`), the end of the window that restores the cadence, or
/// `None` when the alert needs no make-up.
///
/// - `skipped`: only while the skip is the latest thing with the report (no held session since
///   it); the make-up must come before the next regular session (when there is none, within
///   one expected interval).
/// - `gap`, `no_series`: within one expected interval from now.
///
/// The window never exceeds [`api::MAX_WINDOW_DAYS`] (the free/busy requests' limit).
pub fn window_for(
    kind: AlertKind,
    since: Option<DateTime<Utc>>,
    r: &ReportFigures,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let interval = Duration::seconds((r.expected_interval_days * 86_400.0) as i64);
    let end = match kind {
        AlertKind::Skipped => {
            let since = since?;
            if r.last_held.is_some_and(|h| h > since) {
                return None;
            }
            r.sessions
                .iter()
                .filter(|s| s.outcome == Outcome::Upcoming && s.start >= now)
                .map(|s| s.start)
                .min()
                .unwrap_or(now + interval)
        }
        AlertKind::Gap | AlertKind::NoSeries => now + interval,
        _ => return None,
    };
    Some(end.min(now + Duration::days(api::MAX_WINDOW_DAYS)))
}

/// One alert that needs slots.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub alert_id: String,
    pub kind: AlertKind,
    /// Roster index.
    pub report: usize,
    pub report_email: String,
    pub report_name: String,
    pub window_end: DateTime<Utc>,
    pub usual: Usual,
    /// The make-up's title: the series' title and " (make-up)".
    pub title: String,
}

/// The make-up's title: the report's series title (an active series first, else the latest
/// session's) followed by " (make-up)".
pub fn makeup_title(config: &Config, r: &ReportFigures) -> String {
    let base = r
        .series
        .iter()
        .find(|s| s.active)
        .or(r.series.first())
        .map(|s| s.title.clone())
        .or_else(|| r.sessions.last().map(|s| s.title.clone()))
        .unwrap_or_else(|| format!("{} / {} 1on1", r.name, config.manager.display_name()));
    format!("{base} (make-up)")
}

/// The open alerts that need slots: `gap` and `no_series`, and per report the latest `skipped`
/// (earlier skips of the same run are made up by the same session).
pub fn needs(config: &Config, a: &Analysed, now: DateTime<Utc>) -> Vec<Need> {
    // No slot from calendars that were not read: while an account is missing, the manager's
    // busy time is incomplete, so nothing is proposed (the alerts themselves are on hold).
    if !config.scheduling.enabled || !a.complete {
        return Vec::new();
    }
    let zone = config.manager.zone();
    let an = &a.analysis;
    let mut out: Vec<Need> = Vec::new();
    for (f, state) in an.findings.iter().zip(&a.states) {
        let Some(r) = an.reports.get(f.report) else {
            continue;
        };
        let Some(window_end) = window_for(f.kind, f.since, r, now) else {
            continue;
        };
        if f.kind == AlertKind::Skipped {
            let later = an
                .findings
                .iter()
                .any(|g| g.kind == AlertKind::Skipped && g.report == f.report && g.since > f.since);
            if later {
                continue;
            }
        }
        out.push(Need {
            alert_id: state.id.clone(),
            kind: f.kind,
            report: f.report,
            report_email: r.email.clone(),
            report_name: r.name.clone(),
            window_end,
            usual: usual(r, &zone),
            title: makeup_title(config, r),
        });
    }
    out
}

/// The manager's busy time in `[from, to)` from every stored calendar: every occurrence that is
/// not cancelled (tentative ones included); an all-day event blocks its whole days in the
/// manager's zone.
pub fn manager_busy(
    calendars: &[StoredCalendar],
    zone: &Zone,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<Span> {
    let window = crate::recurrence::Window { from, to };
    let mut out = Vec::new();
    for cal in calendars {
        let expansion = crate::recurrence::expand(&cal.events, &window, zone);
        for occ in &expansion.occurrences {
            if occ.removed || occ.status == crate::model::EventStatus::Cancelled {
                continue;
            }
            let (start, mut end) = (occ.start.instant(zone), occ.end.instant(zone));
            if end <= start {
                // A zero-length or date-only event with no end still blocks its start day.
                end = if occ.start.is_date() {
                    start + Duration::days(1)
                } else {
                    start + Duration::minutes(1)
                };
            }
            if end > from && start < to {
                out.push(Span { start, end });
            }
        }
    }
    out.sort();
    out
}

/// What the report's side is, per report e-mail (lower case); absent: unknown.
pub type ReportSide = BTreeMap<String, Availability>;

/// The proposals for `needs` (pure): the manager's hours and busy time, the report's when known.
pub fn plan(
    config: &Config,
    needs: &[Need],
    manager_busy: &[Span],
    side: &ReportSide,
    unknown_why: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Proposal> {
    let wh = config.manager.working_hours;
    let manager_hours = Hours {
        zone: config.manager.zone(),
        days: wh.days,
        start: wh.start,
        end: wh.end,
    };
    let notice = Duration::seconds(
        i64::try_from(config.scheduling.notice.as_secs()).unwrap_or(i64::MAX / 2),
    );
    needs
        .iter()
        .map(|n| {
            // The report's own hours when the provider gives none: the config's, else the
            // manager's.
            let configured = config.report_for(&n.report_email).and_then(|r| {
                if r.timezone.is_none() && r.working_hours.is_none() {
                    return None;
                }
                let h = r.working_hours.unwrap_or(wh);
                Some(Hours {
                    zone: r.timezone.map_or_else(|| config.manager.zone(), Zone::Iana),
                    days: h.days,
                    start: h.start,
                    end: h.end,
                })
            });
            let fallback = configured.clone().unwrap_or_else(|| manager_hours.clone());
            let mut hours = vec![manager_hours.clone()];
            let mut busy = manager_busy.to_vec();
            let (basis, note) = match side.get(&n.report_email.to_lowercase()) {
                Some(Availability::Known { busy: b, hours: h }) => {
                    busy.extend(b.iter().copied());
                    hours.push(h.clone().unwrap_or(fallback));
                    (Basis::Both, None)
                }
                Some(Availability::Unknown(why)) => {
                    hours.push(fallback);
                    (Basis::ManagerOnly, Some(why.clone()))
                }
                None => {
                    hours.push(fallback);
                    (
                        Basis::ManagerOnly,
                        Some(
                            unknown_why
                                .unwrap_or("no account can read the report's free/busy")
                                .to_string(),
                        ),
                    )
                }
            };
            let slots = slots::find(&slots::Query {
                now,
                notice,
                window_end: n.window_end,
                length: n.usual.length,
                hours,
                busy,
                preference: n.usual.preference.clone(),
                max: MAX_SLOTS,
            });
            Proposal {
                alert_id: n.alert_id.clone(),
                kind: n.kind.as_str().to_string(),
                report: n.report_email.to_lowercase(),
                report_name: n.report_name.clone(),
                title: n.title.clone(),
                slots,
                basis,
                note,
                window_end: n.window_end,
            }
        })
        .collect()
}

/// The proposals at `now`: the needs of the analysis, the manager's side from the store, the
/// report's side from the scheduling account's provider (one batched request). Never fails:
/// when the provider cannot answer, the proposals say they use the manager's side only.
pub async fn propose(
    config: &Config,
    state_dir: &Path,
    client: &reqwest::Client,
    a: &Analysed,
    calendars: &[StoredCalendar],
    now: DateTime<Utc>,
) -> Vec<Proposal> {
    let needs = needs(config, a, now);
    if needs.is_empty() {
        return Vec::new();
    }
    let (side, why) = report_side(config, state_dir, client, &needs, now).await;
    let to = needs.iter().map(|n| n.window_end).max().unwrap_or(now);
    let busy = manager_busy(calendars, &config.manager.zone(), now, to);
    plan(config, &needs, &busy, &side, why.as_deref(), now)
}

/// The reports' free/busy for `needs`, or why there is none.
pub async fn report_side(
    config: &Config,
    state_dir: &Path,
    client: &reqwest::Client,
    needs: &[Need],
    now: DateTime<Utc>,
) -> (ReportSide, Option<String>) {
    let Some(api) = api::SchedulingApi::new(config, state_dir, client) else {
        return (
            ReportSide::new(),
            Some(
                "only iCalendar feeds are configured, so the report's free/busy is unknown".into(),
            ),
        );
    };
    let mut people: Vec<String> = needs
        .iter()
        .map(|n| n.report_email.to_lowercase())
        .collect();
    people.sort();
    people.dedup();
    let to = needs.iter().map(|n| n.window_end).max().unwrap_or(now);
    match api.availability(client, &people, now, to).await {
        Ok(side) => (side, None),
        Err(e) => {
            tracing::warn!("free/busy not read: {e}");
            (
                ReportSide::new(),
                Some(format!("the report's free/busy could not be read: {e}")),
            )
        }
    }
}

/// The daemon's last free/busy answer: who was asked, when, up to when, and the answer.
struct Cached {
    people: Vec<String>,
    fetched: DateTime<Utc>,
    to: DateTime<Utc>,
    side: ReportSide,
    why: Option<String>,
}

static CACHE: std::sync::Mutex<Option<Cached>> = std::sync::Mutex::new(None);

/// [`report_side`] for the daemon's cycles: the same people asked again within `ttl` (the sync
/// interval) get the previous answer, so cycles that follow each other (every account's first
/// sync, a change in the manager's calendar) cost no request. Also answers up to when the
/// answer covers. `cadenced book`, `report` and `propose` always ask afresh.
async fn cached_report_side(
    config: &Config,
    state_dir: &Path,
    client: &reqwest::Client,
    needs: &[Need],
    now: DateTime<Utc>,
    ttl: Duration,
) -> (ReportSide, Option<String>, DateTime<Utc>) {
    let mut people: Vec<String> = needs
        .iter()
        .map(|n| n.report_email.to_lowercase())
        .collect();
    people.sort();
    people.dedup();
    let to = needs.iter().map(|n| n.window_end).max().unwrap_or(now);
    // A poisoned lock only means a panic elsewhere while holding it: start afresh then.
    let hit = CACHE.lock().ok().and_then(|c| {
        c.as_ref()
            .filter(|c| c.people == people && c.fetched <= now && now - c.fetched < ttl)
            .map(|c| (c.side.clone(), c.why.clone(), c.to))
    });
    if let Some(hit) = hit {
        return hit;
    }
    let (side, why) = report_side(config, state_dir, client, needs, now).await;
    if let Ok(mut c) = CACHE.lock() {
        *c = Some(Cached {
            people,
            fetched: now,
            to,
            side: side.clone(),
            why: why.clone(),
        });
    }
    (side, why, to)
}

/// The loaded calendars the manager's side needs (the window of every need).
pub fn load_calendars(
    store: &crate::store::Store,
    now: DateTime<Utc>,
) -> Result<Vec<StoredCalendar>, crate::store::StoreError> {
    let (from, to) = calendar_window(now);
    store.load_events_in(None, from, to)
}

/// The span of calendars a proposal reads: from `now` to the end of the free/busy window.
fn calendar_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now, now + Duration::days(api::MAX_WINDOW_DAYS + 1))
}

/// The scheduling stage of a daemon cycle: propose slots for the alerts that need them, keep
/// them in the store (for alert messages and the dashboard), and auto-book when opted in.
/// Errors are one sentence each; nothing here stops the cycle.
pub async fn cycle_stage(
    config: &std::sync::Arc<Config>,
    state_dir: &Path,
    store: &crate::store::AsyncStore,
    client: &reqwest::Client,
    a: Option<&Analysed>,
    now: DateTime<Utc>,
) -> Result<Vec<Result<crate::store::Booking, String>>, String> {
    let Some(a) = a else {
        return Ok(Vec::new());
    };
    let calendars = if needs(config, a, now).is_empty() {
        Vec::new()
    } else {
        let (from, to) = calendar_window(now);
        store
            .events_in(None, from, to)
            .await
            .map_err(|e| e.to_string())?
    };
    let proposals = {
        let needs = needs(config, a, now);
        if needs.is_empty() {
            Vec::new()
        } else {
            let ttl = config.sync.interval.as_chrono();
            let (side, why, covered) =
                cached_report_side(config, state_dir, client, &needs, now, ttl).await;
            // Never propose past what the report's free/busy covered.
            let needs: Vec<Need> = needs
                .into_iter()
                .map(|mut n| {
                    n.window_end = n.window_end.min(covered);
                    n
                })
                .collect();
            let to = needs.iter().map(|n| n.window_end).max().unwrap_or(now);
            let busy = manager_busy(&calendars, &config.manager.zone(), now, to);
            plan(config, &needs, &busy, &side, why.as_deref(), now)
        }
    };
    let rows: Vec<(String, String, String)> = proposals
        .iter()
        .map(|p| {
            (
                p.alert_id.clone(),
                p.report.clone(),
                serde_json::to_string(p).unwrap_or_default(),
            )
        })
        .collect();
    store
        .replace_proposals(rows, now)
        .await
        .map_err(|e| e.to_string())?;
    let cx = book::BookContext {
        config,
        state_dir,
        store,
        client,
    };
    Ok(book::auto_book(&cx, a, &calendars, &proposals, now).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cadence::{CadenceSource, Session};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn session(start: &str, minutes: i64, outcome: Outcome) -> Session {
        Session {
            account: "a".into(),
            calendar: "c".into(),
            uid: "u".into(),
            event_id: format!("e{start}"),
            series_id: Some("s".into()),
            title: "Alice / Mika 1on1".into(),
            start: t(start),
            end: t(start) + Duration::minutes(minutes),
            outcome,
        }
    }

    fn figures(sessions: Vec<Session>) -> ReportFigures {
        ReportFigures {
            email: "alice@example.com".into(),
            name: "Alice".into(),
            expected_interval_days: 7.0,
            cadence_source: CadenceSource::Config,
            held: 0,
            cancelled: 0,
            declined: 0,
            excused: 0,
            upcoming: 0,
            start: None,
            rate_window_days: 90.0,
            last_held: sessions
                .iter()
                .filter(|s| s.outcome == Outcome::Held)
                .map(|s| s.start)
                .max(),
            next_scheduled: None,
            days_since_last_held: None,
            days_since_last_held_local: None,
            sessions_per_30d: 0.0,
            series: Vec::new(),
            sessions,
        }
    }

    #[test]
    fn a_skip_is_made_up_before_the_next_regular_session_while_it_is_the_latest_thing() {
        let now = t("2027-01-13T00:00:00Z");
        let r = figures(vec![
            session("2027-01-05T08:00:00Z", 30, Outcome::Held),
            session("2027-01-12T08:00:00Z", 30, Outcome::Cancelled),
            session("2027-01-19T08:00:00Z", 30, Outcome::Upcoming),
        ]);
        let since = Some(t("2027-01-12T08:00:00Z"));
        assert_eq!(
            window_for(AlertKind::Skipped, since, &r, now),
            Some(t("2027-01-19T08:00:00Z"))
        );
        // A session held after the skip: nothing to make up.
        let later = figures(vec![
            session("2027-01-12T08:00:00Z", 30, Outcome::Cancelled),
            session("2027-01-12T10:00:00Z", 30, Outcome::Held),
        ]);
        assert_eq!(window_for(AlertKind::Skipped, since, &later, now), None);
        // Nothing scheduled: one expected interval.
        let none = figures(vec![session(
            "2027-01-12T08:00:00Z",
            30,
            Outcome::Cancelled,
        )]);
        assert_eq!(
            window_for(AlertKind::Skipped, since, &none, now),
            Some(now + Duration::days(7))
        );
    }

    #[test]
    fn gaps_get_one_interval_capped_at_the_request_limit_and_other_kinds_none() {
        let now = t("2027-01-13T00:00:00Z");
        let mut r = figures(Vec::new());
        assert_eq!(
            window_for(AlertKind::Gap, None, &r, now),
            Some(now + Duration::days(7))
        );
        r.expected_interval_days = 90.0;
        assert_eq!(
            window_for(AlertKind::NoSeries, None, &r, now),
            Some(now + Duration::days(api::MAX_WINDOW_DAYS))
        );
        for k in [
            AlertKind::Uneven,
            AlertKind::Irregular,
            AlertKind::SeriesEnding,
        ] {
            assert_eq!(window_for(k, Some(now), &r, now), None);
        }
    }

    #[test]
    fn usual_length_weekday_and_time_follow_the_sessions() {
        let zone = Zone::Iana(chrono_tz::Asia::Tokyo);
        // Tuesdays 17:00 Tokyo, 45 minutes, one odd Friday.
        let r = figures(vec![
            session("2027-01-05T08:00:00Z", 45, Outcome::Held),
            session("2027-01-12T08:00:00Z", 45, Outcome::Held),
            session("2027-01-15T01:00:00Z", 30, Outcome::Held),
        ]);
        let u = usual(&r, &zone);
        assert_eq!(u.length, Duration::minutes(45));
        let p = u.preference.unwrap();
        assert_eq!(p.weekday, Weekday::Tue);
        assert_eq!(p.time, NaiveTime::from_hms_opt(17, 0, 0).unwrap());
        let none = usual(&figures(Vec::new()), &zone);
        assert_eq!(none.length, Duration::minutes(DEFAULT_LENGTH_MINUTES));
        assert!(none.preference.is_none());
    }
}
