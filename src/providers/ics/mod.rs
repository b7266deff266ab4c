//! iCalendar feeds (`provider = "ics"`): reading a file or URL into normalized events.
//!
//! [`parse_feed`] turns the bytes of one feed into [`Event`]s. It never panics and never lets one
//! bad VEVENT spoil the feed:
//!
//! - a feed that cannot be read at all (not UTF-8, empty, no `BEGIN:VCALENDAR`, a VCALENDAR that
//!   is never closed — a truncated download must not replace the stored calendar) is an
//!   [`IcsError`] naming the source and the line;
//! - a malformed VEVENT (no DTSTART, an unreadable date, an unsupported value type, a broken
//!   RRULE, a missing `END:VEVENT`) becomes a [`SkippedItem`] with the line of its `BEGIN:VEVENT`;
//!   the caller logs it with the source;
//! - repairs that keep the event (unknown TZID read as floating, DTEND before DTSTART swapped,
//!   missing UID synthesized, duplicates dropped, …) are logged here at `warn` level and returned
//!   in [`ParsedFeed::warnings`].
//!
//! Content lines are read by our own tolerant reader (`lines.rs`), not the `icalendar` crate: we
//! need the physical line of every component, and real exports break the grammar (`END:VTOOD`, a
//! lost `END:VEVENT`, bare CR line ends) in ways a strict parser refuses.
//!
//! Semantics chosen where RFC 5545 and the references leave room (see also `zones.rs`):
//!
//! - Only VEVENTs are read; VTODO, VJOURNAL, VFREEBUSY and VALARM are ignored.
//! - No DTEND: DURATION if present; else one day for a DATE start and zero length for a DATE-TIME
//!   start (RFC 5545 §3.6.1). DURATION days are nominal (same wall clock), its hours/minutes/seconds
//!   exact (§3.3.6); on a DATE start it is rounded up to whole days, at least one.
//! - DTEND before DTSTART: swapped, with a warning (as recurring-ical-events does). An all-day
//!   event whose DTEND date equals its DTSTART date lasts one day (with a warning).
//! - DTEND of another kind than DTSTART (date vs date-time, zoned vs floating) is converted to
//!   DTSTART's kind, with a warning; a date-time end of an all-day event counts its day unless it
//!   is midnight.
//! - `VALUE=DATE`/`DATE-TIME` are checked but the value's shape decides which it is.
//! - RRULE: kept verbatim (several lines → several entries, exact duplicates once); a rule without
//!   FREQ, with a part that is not `KEY=VALUE` or with an unknown key (`UNTL=`) skips the VEVENT.
//! - A VEVENT with RECURRENCE-ID is an override even if it carries an RRULE; its recurrence is
//!   dropped. A RECURRENCE-ID of another kind than its master's DTSTART (Exchange's
//!   `RECURRENCE-ID:20200921T000000Z` for all-day series) is converted to the master's kind (the
//!   date as written; a date gets the master's time of day), so its id matches the instance's.
//! - EXDATE without RRULE/RDATE is ignored with a warning (no recurrence set, the event stays single).
//! - VEVENTs with no VCALENDAR around them at all are read as one calendar (with a warning): the
//!   corpus has such a file (icalevents `recurrence_tzinfo.ics`). A feed with neither is an error.
//! - A line that is not a content line right after a property is appended to it (a fold that lost
//!   its leading space, Confluence); `mailto:` is searched anywhere in a cal-address.
//! - Unknown TZID (no known name, no usable VTIMEZONE): floating, warned once per TZID and feed;
//!   X-WR-TIMEZONE then applies to it like to any floating time (see `zones.rs`).
//! - No UID: `cadenced-nouid-<FNV-1a of DTSTART (with TZID) and SUMMARY>`, with a warning.
//! - Duplicates (same UID and RECURRENCE-ID): highest SEQUENCE, then the later of
//!   DTSTAMP/LAST-MODIFIED, then the later in the file.
//! - STATUS other than CONFIRMED/TENTATIVE/CANCELLED → confirmed with a warning. PARTSTAT other than
//!   ACCEPTED/DECLINED/TENTATIVE (DELEGATED included) → needs action. `CUTYPE=ROOM|RESOURCE` and
//!   Google `@resource.calendar.google.com` addresses are resources.

mod event;
pub mod fetch;
mod lines;
mod values;
mod zones;

#[cfg(test)]
mod tests;

pub use fetch::FeedSource;

use crate::limits::{MAX_FEED_EVENTS, MAX_FEED_LINES, MAX_WARNINGS};
use crate::model::Event;

/// The events of one feed, and what was skipped or repaired on the way.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    /// Masters, overrides and single events, in file order, duplicates resolved.
    pub events: Vec<Event>,
    /// Malformed VEVENTs left out (the caller logs them with the source).
    pub skipped: Vec<SkippedItem>,
    /// Repairs that kept an event or the feed readable; already logged at `warn` level.
    pub warnings: Vec<SkippedItem>,
}

/// One VEVENT left out (or, in [`ParsedFeed::warnings`], one repair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedItem {
    /// The physical line (1-based) of the `BEGIN:VEVENT` or of the property concerned.
    pub line: usize,
    pub uid: Option<String>,
    pub reason: String,
}

/// A feed that cannot be read at all. Every message names the source and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error(
        "{feed} line {line}: not UTF-8 text (byte 0x{byte:02X} at column {column}); the feed must be UTF-8"
    )]
    NotUtf8 {
        feed: String,
        line: usize,
        column: usize,
        byte: u8,
    },
    #[error("{feed} line {line}: the feed is empty")]
    Empty { feed: String, line: usize },
    #[error(
        "{feed} line {line}: not an iCalendar feed: no BEGIN:VCALENDAR (the first line is `{found}`)"
    )]
    NoCalendar {
        feed: String,
        line: usize,
        found: String,
    },
    #[error(
        "{feed} line {line}: BEGIN:{component} is never closed by END:{component} (truncated feed?)"
    )]
    Unterminated {
        feed: String,
        line: usize,
        component: String,
    },
    #[error(
        "{feed} line {line}: the feed has more than {limit} {what}; cadenced reads at most that many \
         (see docs/limits.md)"
    )]
    TooLarge {
        feed: String,
        line: usize,
        what: &'static str,
        limit: usize,
    },
}

impl IcsError {
    /// The line the error is about (1-based).
    pub fn line(&self) -> usize {
        match self {
            IcsError::NotUtf8 { line, .. }
            | IcsError::Empty { line, .. }
            | IcsError::NoCalendar { line, .. }
            | IcsError::Unterminated { line, .. }
            | IcsError::TooLarge { line, .. } => *line,
        }
    }
}

/// Parse one feed. `source` (a path or URL) is used in messages only; `calendar` goes into
/// [`Event::calendar`].
pub fn parse_feed(text: &[u8], source: &str, calendar: &str) -> Result<ParsedFeed, IcsError> {
    let text = match std::str::from_utf8(text) {
        Ok(t) => t,
        Err(e) => {
            let good = &text[..e.valid_up_to()];
            let line = good.iter().filter(|b| **b == b'\n').count() + 1;
            let line_start = good.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            return Err(IcsError::NotUtf8 {
                feed: source.to_string(),
                line,
                column: e.valid_up_to() - line_start + 1,
                byte: text.get(e.valid_up_to()).copied().unwrap_or(0),
            });
        }
    };
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Err(IcsError::Empty {
            feed: source.to_string(),
            line: 1,
        });
    }
    // Lines end with LF (or CRLF), or with a bare CR in a file without any LF (see `lines.rs`).
    let end = if text.contains('\n') { b'\n' } else { b'\r' };
    let mut newlines = 0usize;
    for b in text.bytes() {
        if b == end {
            newlines += 1;
            if newlines >= MAX_FEED_LINES {
                return Err(IcsError::TooLarge {
                    feed: source.to_string(),
                    line: newlines,
                    what: "lines",
                    limit: MAX_FEED_LINES,
                });
            }
        }
    }
    let doc = lines::read_components(text);
    if let Some((component, line)) = doc.unterminated.clone() {
        return Err(IcsError::Unterminated {
            feed: source.to_string(),
            line,
            component,
        });
    }
    if doc.calendars.is_empty() {
        let (line, found) = doc.first_line.clone().unwrap_or((1, String::new()));
        return Err(IcsError::NoCalendar {
            feed: source.to_string(),
            line,
            found,
        });
    }

    let mut vevents = doc
        .calendars
        .iter()
        .flat_map(|c| c.children.iter().filter(|c| c.name == "VEVENT"));
    if let Some(first_over) = vevents.nth(MAX_FEED_EVENTS) {
        return Err(IcsError::TooLarge {
            feed: source.to_string(),
            line: first_over.line,
            what: "events",
            limit: MAX_FEED_EVENTS,
        });
    }

    let mut feed = ParsedFeed::default();
    // Warnings past MAX_WARNINGS are only counted, and summed up in one line at the end.
    let mut unshown = 0usize;
    let mut warn_at = |feed: &mut ParsedFeed, line: usize, uid: Option<String>, reason: String| {
        if feed.warnings.len() >= MAX_WARNINGS {
            unshown += 1;
            return;
        }
        tracing::warn!(source, line, uid = uid.as_deref().unwrap_or(""), "{reason}");
        feed.warnings.push(SkippedItem { line, uid, reason });
    };
    for note in &doc.notes {
        warn_at(&mut feed, note.line, None, note.message.clone());
    }
    let mut candidates = Vec::new();
    for cal in &doc.calendars {
        let (mut zones, notes) = zones::Zones::new(cal);
        for (line, message) in notes {
            warn_at(&mut feed, line, None, message);
        }
        for vevent in cal.children.iter().filter(|c| c.name == "VEVENT") {
            let mut event_warnings: Vec<(usize, String)> = Vec::new();
            let result = event::convert(vevent, &mut zones, calendar, &mut |line, msg| {
                event_warnings.push((line, msg));
            });
            match result {
                Ok(candidate) => {
                    let uid = Some(candidate.event.uid.clone());
                    for (line, msg) in event_warnings {
                        warn_at(&mut feed, line, uid.clone(), msg);
                    }
                    candidates.push(candidate);
                }
                Err(rejection) => {
                    feed.skipped.push(SkippedItem {
                        line: vevent.line,
                        uid: rejection.uid,
                        reason: rejection.reason,
                    });
                }
            }
        }
    }
    let mut dedup_warnings = Vec::new();
    event::align_recurrence_ids(&mut candidates, &mut |line, uid, msg| {
        dedup_warnings.push((line, uid, msg))
    });
    feed.events = event::dedup(candidates, &mut |line, uid, msg| {
        dedup_warnings.push((line, uid, msg))
    });
    for (line, uid, msg) in dedup_warnings {
        warn_at(&mut feed, line, uid, msg);
    }
    if unshown > 0 {
        let reason = format!(
            "{unshown} more warnings not shown (at most {MAX_WARNINGS} are listed per feed)"
        );
        tracing::warn!(source, "{reason}");
        feed.warnings.push(SkippedItem {
            line: 0,
            uid: None,
            reason,
        });
    }
    Ok(feed)
}
