//! Recurrence expansion: stored series → occurrences in a window, shared by every provider.
//!
//! Input is the normalized events of one calendar (masters, overrides, singles); output is every
//! occurrence that overlaps the window, with EXDATE/RDATE and RECURRENCE-ID overrides applied.
//!
//! This module owns the recurrence-set logic (`set.rs`: DTSTART + RRULE + RDATE − EXDATE,
//! overrides, THISANDFUTURE, window selection and ordering). The RRULE grammar and its iterator
//! are `crate::rrule`, shared with `tz`'s VTIMEZONE rules.
//! Rules are expanded in the wall-clock time of DTSTART's frame and each local start is then
//! placed with its zone (a time in a spring-forward gap moves forward, an ambiguous one takes the
//! earlier instant), as RFC 5545 requires.

mod set;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};

use crate::model::{Event, EventStatus, EventTime};
use crate::tz::Zone;

/// A half-open window of instants `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// One concrete instance in time.
#[derive(Debug, Clone, PartialEq)]
pub struct Occurrence<'a> {
    /// The item whose fields apply: the override when there is one, else the master or single.
    pub event: &'a Event,
    /// Single: its own id. Override: its own id. Expanded instance of a master:
    /// `{master.event_id}_{recurrence id in compact UTC form, e.g. 20250106T090000Z or 20250106}`.
    pub event_id: String,
    /// The master's `event_id` for instances of a series, else `None`.
    pub series_id: Option<&'a str>,
    /// The original start of the instance (for instances of a series), else `None`.
    pub recurrence_id: Option<EventTime>,
    pub start: EventTime,
    pub end: EventTime,
    pub status: EventStatus,
    /// Removed from its series by EXDATE: not listed by `events`, counted as cancelled by analysis.
    pub removed: bool,
}

/// The result of expanding a set of events.
#[derive(Debug, Default)]
pub struct Expansion<'a> {
    /// Sorted by start instant, then uid.
    pub occurrences: Vec<Occurrence<'a>>,
    /// One sentence per series that could not be expanded (it is skipped, never aborts).
    pub warnings: Vec<String>,
}

/// The bounds of one expansion (see `crate::limits` and docs/limits.md). A series that reaches
/// one is expanded partly and named in [`Expansion::warnings`]; nothing else is affected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Occurrences one series may contribute.
    pub instances_per_series: usize,
    /// Occurrences all series together may contribute.
    pub series_occurrences: usize,
    /// Work (days examined plus candidates built) the rules may do together; each rule is also
    /// held to `limits::MAX_RULE_WORK`.
    pub work: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            instances_per_series: crate::limits::MAX_INSTANCES_PER_SERIES,
            series_occurrences: crate::limits::MAX_SERIES_OCCURRENCES,
            work: crate::limits::MAX_EXPANSION_WORK,
        }
    }
}

/// Expand `events` (all from one calendar) in `window`. Floating times and dates are placed in
/// `floating_zone` to compare them with the window. Bounded by the default [`Limits`].
pub fn expand<'a>(events: &'a [Event], window: &Window, floating_zone: &Zone) -> Expansion<'a> {
    set::expand(events, window, floating_zone, &Limits::default())
}

/// [`expand`] within other limits.
pub fn expand_with<'a>(
    events: &'a [Event],
    window: &Window,
    floating_zone: &Zone,
    limits: &Limits,
) -> Expansion<'a> {
    set::expand(events, window, floating_zone, limits)
}

pub use crate::rrule::{Frequency, Rule, Until, WeekdayNum};

/// Parse an RRULE value (without the `RRULE:` prefix).
pub fn parse_rule(value: &str) -> Result<Rule, crate::rrule::RuleError> {
    Rule::parse(value)
}

/// Whether every RRULE of `master` ends (COUNT or UNTIL); a master without RRULE is bounded.
/// `None` when a rule cannot be parsed.
pub fn is_bounded(master: &Event) -> Option<bool> {
    let Some(set) = master.recurrence.as_ref() else {
        return Some(true);
    };
    let mut bounded = true;
    for r in &set.rrules {
        let rule = Rule::parse(r).ok()?;
        bounded &= rule.count.is_some() || rule.until.is_some();
    }
    Some(bounded)
}

/// The last occurrence of a bounded series (for "series ending" checks): `events` holds the
/// master and its overrides (other events are ignored). Removed instances are skipped, cancelled
/// ones are not. `None` when the series is unbounded, unusable or empty, or too large to expand
/// whole within the default [`Limits`] (its last instance is then unknown).
pub fn last_occurrence<'a>(
    events: &'a [Event],
    master: &Event,
    floating_zone: &Zone,
) -> Option<Occurrence<'a>> {
    if !is_bounded(master)? {
        return None;
    }
    let window = Window {
        from: DateTime::<Utc>::MIN_UTC,
        to: DateTime::<Utc>::MAX_UTC,
    };
    let mine: Vec<&'a Event> = events
        .iter()
        .filter(|e| {
            std::ptr::eq(*e, master)
                || (e.event_id == master.event_id && e.is_master())
                || e.series_id.as_deref() == Some(master.event_id.as_str())
        })
        .collect();
    let expansion = set::expand_refs(&mine, &window, floating_zone, &Limits::default());
    if !expansion.warnings.is_empty() {
        return None;
    }
    expansion
        .occurrences
        .into_iter()
        .filter(|o| !o.removed)
        .max_by_key(|o| o.start.instant(floating_zone))
}
