//! The heatmap grid: which weeks are shown, and what each (report, week) cell holds.
//!
//! Invariants: weeks start on Monday in the manager's zone; the columns run from the week that
//! holds `now − lookback` to [`FUTURE_WEEKS`] weeks after the week that holds `now`, so there is
//! exactly one column per week and every row has one cell per column; a session falls in the
//! week of its local start date; sessions outside the columns are not shown.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use crate::cadence::{Outcome, Session};
use crate::tz::Zone;

/// Weeks shown after the current one (the next sessions already on the calendar).
pub const FUTURE_WEEKS: i64 = 4;

/// The Monday of the local week that holds `t`.
pub fn week_start(t: DateTime<Utc>, zone: &Zone) -> NaiveDate {
    let d = zone.from_utc(t).date();
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The Mondays of the shown weeks, oldest first.
pub fn weeks(now: DateTime<Utc>, lookback: Duration, zone: &Zone) -> Vec<NaiveDate> {
    let first = week_start(now - lookback, zone);
    let last = week_start(now, zone) + Duration::weeks(FUTURE_WEEKS);
    let mut out = Vec::new();
    let mut w = first;
    while w <= last {
        out.push(w);
        w += Duration::weeks(1);
    }
    out
}

/// The sessions of one report, bucketed per shown week (same order as `weeks`; sessions by start).
pub fn bucket<'a>(
    sessions: &'a [Session],
    weeks: &[NaiveDate],
    zone: &Zone,
) -> Vec<Vec<&'a Session>> {
    let mut cells: Vec<Vec<&Session>> = vec![Vec::new(); weeks.len()];
    let Some(first) = weeks.first().copied() else {
        return cells;
    };
    for s in sessions {
        let w = week_start(s.start, zone);
        let index = (w - first).num_weeks();
        if let Some(cell) = usize::try_from(index).ok().and_then(|i| cells.get_mut(i)) {
            cell.push(s);
        }
    }
    for cell in &mut cells {
        cell.sort_by_key(|s| s.start);
    }
    cells
}

/// What a cell shows as a whole (its colour): a held session wins, then an upcoming one, then a
/// declined one, then a cancelled one, then an excused one (the manager was away); `None` for a
/// week without a session.
pub fn dominant(sessions: &[&Session]) -> Option<Outcome> {
    [
        Outcome::Held,
        Outcome::Upcoming,
        Outcome::Declined,
        Outcome::Cancelled,
        Outcome::Excused,
    ]
    .into_iter()
    .find(|o| sessions.iter().any(|s| s.outcome == *o))
}

/// The symbol of an outcome: distinguishable without colour.
pub fn symbol(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Held) => "●",
        Some(Outcome::Cancelled) => "✕",
        Some(Outcome::Declined) => "⊘",
        Some(Outcome::Upcoming) => "○",
        Some(Outcome::Excused) => "◌",
        None => "·",
    }
}

/// The CSS/data name of an outcome (`none` for an empty week).
pub fn outcome_name(outcome: Option<Outcome>) -> &'static str {
    match outcome {
        Some(Outcome::Held) => "held",
        Some(Outcome::Cancelled) => "cancelled",
        Some(Outcome::Declined) => "declined",
        Some(Outcome::Upcoming) => "upcoming",
        Some(Outcome::Excused) => "excused",
        None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn session(start: DateTime<Utc>, outcome: Outcome) -> Session {
        Session {
            account: "a".into(),
            calendar: "c".into(),
            uid: "u".into(),
            event_id: "e".into(),
            series_id: None,
            title: "t".into(),
            start,
            end: start + Duration::minutes(30),
            outcome,
        }
    }

    #[test]
    fn weeks_start_on_monday_in_the_managers_zone() {
        let tokyo = Zone::Iana(chrono_tz::Asia::Tokyo);
        // Sunday 2026-11-22 23:30 UTC is Monday 2026-11-23 08:30 in Tokyo.
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 23, 30, 0).unwrap();
        assert_eq!(
            week_start(t, &tokyo),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        assert_eq!(
            week_start(t, &Zone::Utc),
            NaiveDate::from_ymd_opt(2026, 11, 16).unwrap()
        );
    }

    #[test]
    fn one_column_per_week_from_the_lookback_to_four_weeks_ahead() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap(); // Tuesday
        let w = weeks(now, Duration::days(90), &Zone::Utc);
        // now − 90d = 2026-08-26 (Wednesday): its week starts 2026-08-24.
        assert_eq!(w[0], NaiveDate::from_ymd_opt(2026, 8, 24).unwrap());
        assert_eq!(
            *w.last().unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 21).unwrap()
        );
        assert_eq!(w.len(), 18);
        assert!(w.windows(2).all(|p| p[1] - p[0] == Duration::weeks(1)));
    }

    #[test]
    fn sessions_fall_in_their_local_week_and_outside_ones_are_dropped() {
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        let w = weeks(now, Duration::days(14), &Zone::Utc);
        let s = vec![
            session(
                Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
                Outcome::Held,
            ),
            session(
                Utc.with_ymd_and_hms(2026, 11, 17, 1, 0, 0).unwrap(),
                Outcome::Cancelled,
            ),
            session(
                Utc.with_ymd_and_hms(2026, 11, 19, 1, 0, 0).unwrap(),
                Outcome::Held,
            ),
            session(
                Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap(),
                Outcome::Upcoming,
            ),
        ];
        let cells = bucket(&s, &w, &Zone::Utc);
        assert_eq!(cells.len(), w.len());
        assert_eq!(cells.iter().map(Vec::len).sum::<usize>(), 3);
        let week_of_17 = cells.iter().find(|c| c.len() == 2).unwrap();
        assert_eq!(dominant(week_of_17), Some(Outcome::Held));
        assert_eq!(dominant(&[]), None);
        assert_eq!(symbol(dominant(&[])), "·");
    }
}
