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
//!   included: the analysis counts them as cancelled sessions). An expansion that warns (e.g. a
//!   truncated rule) or yields nothing gets no end, to be safe.

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, Timelike, Utc};

use crate::model::Event;
use crate::recurrence::{self, Window};
use crate::tz::Zone;

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
    let expansion = recurrence::expand(std::slice::from_ref(master), &everything, &z);
    if !expansion.warnings.is_empty() {
        return (start, None);
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
