//! The time span each stored row can touch (`events.start_utc`, `events.end_utc`), so that a
//! windowed load ([`super::Store::load_events_in`]) reads only the rows that can matter.
//!
//! Floating times and dates are placed in UTC here; the reader pads its window by
//! [`FLOATING_PAD_HOURS`] on each side to cover any zone they are later analysed in.
//!
//! Spans (every one a superset of what the row can contribute to an expansion):
//! - single: `[start, max(start, end)]`;
//! - override: `[min(start, recurrence id), max(end, recurrence id)]`, so that it is loaded when
//!   either its original slot or its new time is in the window; a THISANDFUTURE override shifts
//!   every later instance of its series, so its span has no end;
//! - series master: from the earliest of DTSTART and its RDATEs; no end when a rule is unbounded
//!   or unusable, else the latest end of any instance of the set (instances removed by EXDATE
//!   included: the analysis counts them as cancelled sessions). The series is expanded for this
//!   within small limits ([`SPAN_LIMITS`]: a hostile `COUNT=4294967295` costs no more than a
//!   modest series); when they do not suffice (or the expansion warns or yields nothing), the end
//!   is taken from the rules' UNTIL when every rule has one, and is open otherwise, to be safe.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Timelike, Utc};

use crate::model::{Event, EventTime};
use crate::recurrence::{self, Limits, Rule, Until, Window};
use crate::tz::Zone;

/// The limits of the expansion that finds a bounded series' last instance: daily for 13 years.
pub const SPAN_LIMITS: Limits = Limits {
    instances_per_series: 5_000,
    series_occurrences: 5_000,
    work: 400_000,
};

/// How far a floating time or date placed in UTC can be from the same wall clock in any zone.
pub const FLOATING_PAD_HOURS: i64 = 14;

/// The span of one row: start instant, and end instant or `None` for open-ended.
pub fn span(event: &Event) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let z = Zone::Utc;
    let start = event.start.instant(&z);
    let end = event.end.instant(&z).max(start);
    if let Some(rid) = &event.recurrence_id {
        let rid = rid.instant(&z);
        let end = (!event.this_and_future).then_some(end.max(rid));
        return (start.min(rid), end);
    }
    if event.is_master() {
        return master_span(event);
    }
    (start, Some(end))
}

fn master_span(master: &Event) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let z = Zone::Utc;
    let mut start = master.start.instant(&z);
    if let Some(set) = &master.recurrence {
        for r in &set.rdates {
            start = start.min(r.start.instant(&z));
        }
    }
    if recurrence::is_bounded(master) != Some(true) {
        return (start, None);
    }
    let everything = Window {
        from: DateTime::<Utc>::MIN_UTC,
        to: DateTime::<Utc>::MAX_UTC,
    };
    let expansion =
        recurrence::expand_with(std::slice::from_ref(master), &everything, &z, &SPAN_LIMITS);
    if !expansion.warnings.is_empty() || expansion.occurrences.is_empty() {
        return (start, until_end(master));
    }
    let mut end: Option<DateTime<Utc>> = None;
    for o in &expansion.occurrences {
        let s = o.start.instant(&z);
        start = start.min(s);
        let e = o.end.instant(&z).max(s);
        end = Some(end.map_or(e, |cur| cur.max(e)));
    }
    (start, end)
}

/// An end for a series whose every RRULE has an UNTIL, without expanding it: the latest UNTIL
/// (a date UNTIL counts its whole day, every UNTIL is read 14 hours late, as a wall clock placed in
/// any zone can be), or the master's own end if later, plus the longest of the master's length and its PERIOD RDATEs',
/// and two days of slack; and no earlier than any RDATE's end. `None` when a rule has no UNTIL.
fn until_end(master: &Event) -> Option<DateTime<Utc>> {
    let z = Zone::Utc;
    let set = master.recurrence.as_ref()?;
    let pad = Duration::hours(FLOATING_PAD_HOURS);
    let mut last: Option<DateTime<Utc>> = None;
    for r in &set.rrules {
        let until = match Rule::parse(r).ok()?.until? {
            // A UTC UNTIL bounds the wall clock of a floating or date series only up to the
            // zone it is read in: padded like a wall-clock one.
            Until::Utc(u) | Until::Local(u) => u.and_utc().checked_add_signed(pad)?,
            Until::Date(d) => d
                .succ_opt()?
                .and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .checked_add_signed(pad)?,
        };
        last = Some(last.map_or(until, |l| l.max(until)));
    }
    let length = |s: &EventTime, e: &EventTime| (e.instant(&z) - s.instant(&z)).abs();
    let mut longest = length(&master.start, &master.end);
    let mut end = last?.max(master.end.instant(&z));
    for rd in &set.rdates {
        if let Some(e) = &rd.end {
            longest = longest.max(length(&rd.start, e));
            end = end.max(e.instant(&z));
        }
        end = end.max(rd.start.instant(&z));
    }
    end.checked_add_signed(longest)?
        .checked_add_signed(Duration::days(2))
}

/// The earliest and latest instants the text columns can hold (four-digit years keep the text
/// lexically sortable).
fn text_bounds() -> (DateTime<Utc>, DateTime<Utc>) {
    let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
    (
        date(1, 1, 1).and_time(chrono::NaiveTime::MIN).and_utc(),
        date(9999, 12, 31)
            .and_hms_opt(23, 59, 59)
            .unwrap_or_default()
            .and_utc(),
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ`, rounded down to the second and clamped to years 1–9999.
pub fn floor_text(t: DateTime<Utc>) -> String {
    let (lo, hi) = text_bounds();
    let t = t.clamp(lo, hi);
    debug_assert!((1..=9999).contains(&t.year()));
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Like [`floor_text`], but rounded up to the second (for ends and upper bounds).
pub fn ceil_text(t: DateTime<Utc>) -> String {
    if t.nanosecond() == 0 {
        floor_text(t)
    } else {
        floor_text(t.checked_add_signed(Duration::seconds(1)).unwrap_or(t))
    }
}

/// The column values for one row.
pub fn columns(event: &Event) -> (String, Option<String>) {
    let (start, end) = span(event);
    (floor_text(start), end.map(ceil_text))
}

/// The bounds a windowed load compares with: `(from − pad, to + pad)` as text.
pub fn query_bounds(from: DateTime<Utc>, to: DateTime<Utc>) -> (String, String) {
    let pad = Duration::hours(FLOATING_PAD_HOURS);
    let from = from
        .checked_sub_signed(pad)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let to = to
        .checked_add_signed(pad)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    (floor_text(from), ceil_text(to))
}
