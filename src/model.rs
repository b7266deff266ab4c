//! The normalized event model shared by every provider.
//!
//! Providers translate their API (iCalendar, Google, Microsoft) into [`Event`]; everything after the
//! store works on these types only and never knows which provider an event came from.
//!
//! Invariants:
//! - A *series master* has `recurrence: Some(_)` and `recurrence_id: None`.
//! - An *override* (exception / modified or cancelled instance) has `recurrence_id: Some(_)` and
//!   `series_id: Some(master's event_id)`; the master may be missing (an orphan override is shown as
//!   a single occurrence).
//! - A *single event* has neither.
//! - `end` is exclusive and never before `start` (providers fix or reject inverted ranges).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::tz::Zone;

/// A point in time as the source wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventTime {
    /// A wall-clock time in a time zone (UTC included).
    Zoned { local: NaiveDateTime, zone: Zone },
    /// A floating wall-clock time: the same local time in every zone.
    Floating { local: NaiveDateTime },
    /// An all-day date.
    Date { date: NaiveDate },
}

impl EventTime {
    pub fn utc(instant: DateTime<Utc>) -> Self {
        EventTime::Zoned {
            local: instant.naive_utc(),
            zone: Zone::Utc,
        }
    }

    pub fn is_date(&self) -> bool {
        matches!(self, EventTime::Date { .. })
    }

    /// The wall-clock time (midnight for a date).
    pub fn local(&self) -> NaiveDateTime {
        match self {
            EventTime::Zoned { local, .. } | EventTime::Floating { local } => *local,
            EventTime::Date { date } => date.and_time(chrono::NaiveTime::MIN),
        }
    }

    /// The instant this time denotes. Floating times and dates have no zone of their own and are
    /// placed in `floating_zone` (the manager's zone for analysis, UTC for output ordering).
    pub fn instant(&self, floating_zone: &Zone) -> DateTime<Utc> {
        match self {
            EventTime::Zoned { local, zone } => zone.to_utc(*local),
            EventTime::Floating { local } => floating_zone.to_utc(*local),
            EventTime::Date { date } => floating_zone.to_utc(date.and_time(chrono::NaiveTime::MIN)),
        }
    }
}

/// The recurrence set of a series master (RFC 5545 §3.8.5), in the master's own time frame.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecurrenceSet {
    /// RRULE values without the `RRULE:` prefix, e.g. `FREQ=WEEKLY;BYDAY=MO`.
    pub rrules: Vec<String>,
    /// Extra occurrences (RDATE), possibly with their own end (PERIOD values).
    pub rdates: Vec<RDate>,
    /// Removed occurrences (EXDATE).
    pub exdates: Vec<EventTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RDate {
    pub start: EventTime,
    /// Set for `VALUE=PERIOD` RDATEs; otherwise the master's duration applies.
    pub end: Option<EventTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    #[default]
    Confirmed,
    Tentative,
    Cancelled,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Confirmed => "confirmed",
            EventStatus::Tentative => "tentative",
            EventStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    Accepted,
    Declined,
    Tentative,
    #[default]
    NeedsAction,
}

impl Response {
    pub fn as_str(self) -> &'static str {
        match self {
            Response::Accepted => "accepted",
            Response::Declined => "declined",
            Response::Tentative => "tentative",
            Response::NeedsAction => "needs_action",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Person {
    /// E-mail address as the source wrote it (compare case-insensitively).
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attendee {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub response: Response,
    /// A room or other resource (iCalendar `CUTYPE=ROOM|RESOURCE`, provider resource flags).
    #[serde(default)]
    pub resource: bool,
    /// This attendee is the calendar's owner (Google `self`).
    #[serde(default, rename = "self")]
    pub is_self: bool,
}

/// One normalized calendar item: a single event, a series master, or an override of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The calendar inside the account (`primary`, a calendar id, or the feed for ICS).
    pub calendar: String,
    /// iCalendar UID (Google `iCalUID`, Microsoft `iCalUId`).
    pub uid: String,
    /// The provider's id of this item; unique within (account, calendar).
    pub event_id: String,
    /// For overrides: the series master's `event_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence: Option<RecurrenceSet>,
    /// For overrides: the original start of the instance it replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recurrence_id: Option<EventTime>,
    /// `RANGE=THISANDFUTURE`: the override also applies to every later instance.
    #[serde(default)]
    pub this_and_future: bool,
    pub start: EventTime,
    pub end: EventTime,
    #[serde(default)]
    pub status: EventStatus,
    #[serde(default)]
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organizer: Option<Person>,
    #[serde(default)]
    pub attendees: Vec<Attendee>,
    /// The calendar owner's own response, when the source gives it apart from the attendee list
    /// (Microsoft Graph `responseStatus`: an attendee's copy of a meeting shows the others'
    /// answers as `none`, and the owner's own answer only there). The calendar read is the
    /// manager's, so this is the manager's response. `None`: not stated (the attendee list says
    /// it, as iCalendar and Google do, or the owner organizes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_response: Option<Response>,
    /// The source marks the event as out of office (Google `eventType = outOfOffice`, Graph
    /// `showAs = oof`, iCalendar `X-MICROSOFT-CDO-BUSYSTATUS:OOF`). Whether the manager is away
    /// then is the cadence analysis' business (`cadence::absence`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub out_of_office: bool,
    /// iCalendar SEQUENCE (higher wins among duplicates).
    #[serde(default)]
    pub sequence: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl Event {
    pub fn is_master(&self) -> bool {
        self.recurrence.is_some() && self.recurrence_id.is_none()
    }

    pub fn is_override(&self) -> bool {
        self.recurrence_id.is_some()
    }

    /// The humans of the event (docs/cadence-rules.md): organizer and attendees minus resources and rooms,
    /// lower-cased, deduplicated by address. (A report's aliases are folded into one person by
    /// the cadence detector, which knows the roster.)
    pub fn humans(&self) -> Vec<String> {
        // Deduplicated through a set: an event may carry any number of attendees.
        let mut seen = std::collections::HashSet::with_capacity(self.attendees.len() + 1);
        self.humans_iter()
            .filter(|e| seen.insert(e.clone()))
            .collect()
    }

    /// [`Event::humans`] lazily and not deduplicated, for a reader that may stop early.
    pub fn humans_iter(&self) -> impl Iterator<Item = String> + '_ {
        // An organizer that is itself a resource attendee (a room owning the booking) is no human.
        let organizer = self.organizer.as_ref().filter(|o| {
            !self
                .attendees
                .iter()
                .any(|a| a.resource && a.email.eq_ignore_ascii_case(&o.email))
        });
        organizer
            .map(|o| o.email.as_str())
            .into_iter()
            .chain(
                self.attendees
                    .iter()
                    .filter(|a| !a.resource)
                    .map(|a| a.email.as_str()),
            )
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
    }
}
