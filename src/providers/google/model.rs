//! Google Calendar v3 JSON (events.list pages and Event items) → the normalized [`Event`].
//!
//! The DTOs are deliberately loose (`#[serde(default)]`, unknown fields ignored): Google adds
//! fields, and tombstones carry almost nothing. Items are decoded one by one so that a malformed
//! item is skipped with a reason and never spoils its page.
//!
//! Mapping rules:
//! - `start.dateTime`/`end.dateTime` (RFC 3339 with offset): the instant is kept, shown as wall
//!   time in `timeZone` when it names a zone we know (IANA, or anything `tz::resolve_name` reads),
//!   else in UTC. A `dateTime` without offset is read as wall time in `timeZone`.
//! - `start.date`/`end.date`: all-day; `end.date` is exclusive, as in the model.
//! - `recurrence[]`: `RRULE:` values kept verbatim; `EXDATE`/`RDATE` lines with `TZID=` and
//!   `VALUE=DATE|PERIOD` parsed here (a value with neither `Z` nor `TZID` is wall time in the
//!   master's start zone); `EXRULE` (deprecated) is ignored with a warning.
//! - Exceptions: `recurringEventId` → `series_id`, `originalStartTime` → `recurrence_id` (a date
//!   for all-day series, else zoned; the expansion matches zoned ids by instant).
//! - `status: cancelled` with `recurringEventId`: a cancelled override (kept, so the expansion
//!   lists the instance as cancelled); its start/end are the original start when the tombstone
//!   has none. Any other cancelled item is a deletion of that id.
//! - `eventType` other than `default` and `outOfOffice` (focusTime, workingLocation, birthday,
//!   fromGmail, …) is never a 1on1: such items are not stored ([`Mapped::Ignored`], which the sync
//!   treats as a deletion of the id so a stale copy cannot linger). `outOfOffice` items are
//!   stored with `out_of_office` set: they tell when the manager is away.
//! - `iCalUID` → `uid` (the `recurringEventId` when a tombstone has none), `id` → `event_id`.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::Deserialize;

use crate::model::{
    Attendee, Event, EventStatus, EventTime, Person, RDate, RecurrenceSet, Response,
};
use crate::tz::{Zone, resolve_name};

/// One `events.list` page, items still undecoded.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EventsPage {
    /// Kept raw: each item is decoded on its own (a malformed one is skipped), straight from
    /// the page's bytes without an intermediate JSON tree.
    pub items: Vec<Box<serde_json::value::RawValue>>,
    pub next_page_token: Option<String>,
    pub next_sync_token: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GEvent {
    pub id: String,
    pub status: Option<String>,
    #[serde(rename = "iCalUID")]
    pub ical_uid: Option<String>,
    pub etag: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub location: Option<String>,
    pub sequence: Option<i64>,
    pub updated: Option<String>,
    pub start: Option<GTime>,
    pub end: Option<GTime>,
    pub recurrence: Vec<String>,
    pub recurring_event_id: Option<String>,
    pub original_start_time: Option<GTime>,
    pub organizer: Option<GPerson>,
    pub attendees: Vec<GAttendee>,
    pub event_type: Option<String>,
}

/// Google's `EventDateTime`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GTime {
    pub date: Option<String>,
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GPerson {
    pub email: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GAttendee {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub response_status: Option<String>,
    pub resource: bool,
    #[serde(rename = "self")]
    pub is_self: bool,
    pub organizer: bool,
}

/// What one item means for the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Store (insert or replace) this event.
    Upsert(Box<Event>),
    /// The item was deleted: remove this id (and, for a series, its overrides).
    Delete(String),
    /// Not a kind of event the daemon stores (see the module doc); the id is removed if present.
    Ignored { id: String, event_type: String },
}

/// Decode and map one raw item. `Err` is a one-sentence reason to log; the item is skipped.
pub fn map_item(
    raw: &serde_json::value::RawValue,
    calendar: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    let item: GEvent =
        serde_json::from_str(raw.get()).map_err(|e| format!("an item could not be read: {e}"))?;
    map_event(&item, calendar, warn)
}

/// Map one decoded item.
pub fn map_event(
    item: &GEvent,
    calendar: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    if item.id.is_empty() {
        return Err("an item has no id".into());
    }
    let cancelled = item.status.as_deref() == Some("cancelled");
    let series_id = item.recurring_event_id.as_deref().filter(|s| !s.is_empty());
    if cancelled && series_id.is_none() {
        return Ok(Mapped::Delete(item.id.clone()));
    }
    // Out-of-office items are stored (the manager is away then, docs/cadence-rules.md "Absence").
    let out_of_office = item.event_type.as_deref() == Some("outOfOffice");
    if !cancelled
        && let Some(t) = item
            .event_type
            .as_deref()
            .filter(|t| !t.is_empty() && *t != "default" && *t != "outOfOffice")
    {
        return Ok(Mapped::Ignored {
            id: item.id.clone(),
            event_type: t.to_string(),
        });
    }
    let id = &item.id;

    let recurrence_id = match (series_id, &item.original_start_time) {
        (Some(_), Some(t)) => Some(
            event_time(t, item.start.as_ref().and_then(|s| s.time_zone.as_deref()))
                .map_err(|e| format!("event {id}: originalStartTime: {e}"))?,
        ),
        (Some(_), None) => {
            return Err(format!(
                "event {id}: an instance of a series without originalStartTime"
            ));
        }
        _ => None,
    };

    let start = match (&item.start, &recurrence_id) {
        (Some(s), _) if s.date.is_some() || s.date_time.is_some() => {
            event_time(s, None).map_err(|e| format!("event {id}: start: {e}"))?
        }
        // A cancelled instance's tombstone: it occupies its original slot.
        (_, Some(r)) if cancelled => r.clone(),
        _ => return Err(format!("event {id}: no start")),
    };
    let end = match &item.end {
        Some(e) if e.date.is_some() || e.date_time.is_some() => {
            event_time(e, None).map_err(|err| format!("event {id}: end: {err}"))?
        }
        _ if start.is_date() => next_day(&start),
        _ => start.clone(),
    };
    let end = fix_end(&start, end, &mut |m| warn(format!("event {id}: {m}")));

    let recurrence = if series_id.is_none() && !item.recurrence.is_empty() {
        let zone = match &start {
            EventTime::Zoned { zone, .. } => Some(zone.clone()),
            _ => None,
        };
        let set = parse_recurrence(&item.recurrence, zone.as_ref(), &mut |m| {
            warn(format!("event {id}: {m}"))
        });
        (!set.rrules.is_empty() || !set.rdates.is_empty()).then_some(set)
    } else {
        None
    };

    let status = match item.status.as_deref() {
        Some("cancelled") => EventStatus::Cancelled,
        Some("tentative") => EventStatus::Tentative,
        _ => EventStatus::Confirmed,
    };
    let organizer = item
        .organizer
        .as_ref()
        .and_then(|o| {
            Some(Person {
                email: o.email.clone().filter(|e| !e.is_empty())?,
                name: o.display_name.clone().filter(|n| !n.is_empty()),
            })
        })
        .or_else(|| {
            // Some copies only flag the organizer among the attendees.
            item.attendees.iter().find(|a| a.organizer).and_then(|a| {
                Some(Person {
                    email: a.email.clone().filter(|e| !e.is_empty())?,
                    name: a.display_name.clone(),
                })
            })
        });
    let attendees = item
        .attendees
        .iter()
        .filter_map(|a| {
            Some(Attendee {
                email: a.email.clone().filter(|e| !e.is_empty())?,
                name: a.display_name.clone().filter(|n| !n.is_empty()),
                response: match a.response_status.as_deref() {
                    Some("accepted") => Response::Accepted,
                    Some("declined") => Response::Declined,
                    Some("tentative") => Response::Tentative,
                    _ => Response::NeedsAction,
                },
                resource: a.resource
                    || a.email
                        .as_deref()
                        .is_some_and(|e| e.ends_with("@resource.calendar.google.com")),
                is_self: a.is_self,
            })
        })
        .collect();
    let uid = item
        .ical_uid
        .clone()
        .filter(|u| !u.is_empty())
        .or_else(|| series_id.map(str::to_string))
        .unwrap_or_else(|| id.clone());
    let updated = item
        .updated
        .as_deref()
        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .map(|t| t.with_timezone(&Utc));

    Ok(Mapped::Upsert(Box::new(Event {
        calendar: calendar.to_string(),
        uid,
        event_id: id.clone(),
        series_id: series_id.map(str::to_string),
        recurrence,
        recurrence_id,
        this_and_future: false,
        start,
        end,
        status,
        summary: item.summary.clone().unwrap_or_default(),
        description: item.description.clone().filter(|d| !d.is_empty()),
        location: item.location.clone().filter(|l| !l.is_empty()),
        organizer,
        attendees,
        self_response: None,
        out_of_office,
        sequence: item.sequence.unwrap_or(0),
        updated,
        etag: item.etag.clone(),
    })))
}

/// The zone a `timeZone` field names, if we know it.
fn zone_named(name: Option<&str>) -> Option<Zone> {
    name.filter(|n| !n.trim().is_empty()).and_then(resolve_name)
}

/// An `EventDateTime` as an [`EventTime`]. `fallback_zone` is used when the value has no
/// `timeZone` of its own (an exception's `originalStartTime` read in its start's zone).
pub fn event_time(t: &GTime, fallback_zone: Option<&str>) -> Result<EventTime, String> {
    if let Some(d) = t.date.as_deref().filter(|d| !d.is_empty()) {
        let date = NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map_err(|_| format!("`{d}` is not a date"))?;
        return Ok(EventTime::Date { date });
    }
    let Some(dt) = t.date_time.as_deref().filter(|d| !d.is_empty()) else {
        return Err("neither date nor dateTime".into());
    };
    let zone = zone_named(t.time_zone.as_deref()).or_else(|| zone_named(fallback_zone));
    if let Ok(instant) = DateTime::parse_from_rfc3339(dt.trim()) {
        let instant = instant.with_timezone(&Utc);
        let zone = zone.unwrap_or(Zone::Utc);
        return Ok(EventTime::Zoned {
            local: zone.from_utc(instant),
            zone,
        });
    }
    // No offset: only meaningful with a zone.
    let local = NaiveDateTime::parse_from_str(dt.trim(), "%Y-%m-%dT%H:%M:%S%.f")
        .map_err(|_| format!("`{dt}` is not an RFC 3339 date-time"))?;
    match zone {
        Some(zone) => Ok(EventTime::Zoned { local, zone }),
        None => Err(format!("`{dt}` has no offset and no known timeZone")),
    }
}

fn next_day(t: &EventTime) -> EventTime {
    match t {
        EventTime::Date { date } => EventTime::Date {
            date: date.succ_opt().unwrap_or(*date),
        },
        other => other.clone(),
    }
}

/// An end of the start's kind, not before it.
fn fix_end(start: &EventTime, end: EventTime, warn: &mut dyn FnMut(String)) -> EventTime {
    let same_kind = matches!(
        (start, &end),
        (EventTime::Date { .. }, EventTime::Date { .. })
            | (EventTime::Zoned { .. }, EventTime::Zoned { .. })
    );
    if !same_kind {
        warn("end is not of the start's kind; the start is used".into());
        return next_day(start);
    }
    let before = match (start, &end) {
        (EventTime::Date { date: s }, EventTime::Date { date: e }) => e <= s,
        _ => end.instant(&Zone::Utc) < start.instant(&Zone::Utc),
    };
    if before {
        return match start {
            EventTime::Date { .. } => next_day(start),
            _ => {
                warn("end is before start; the start is used".into());
                start.clone()
            }
        };
    }
    end
}

/// Parse Google's `recurrence[]` lines. `zone` is the master's start zone (`None` for all-day).
pub fn parse_recurrence(
    lines: &[String],
    zone: Option<&Zone>,
    warn: &mut dyn FnMut(String),
) -> RecurrenceSet {
    let mut set = RecurrenceSet::default();
    // Duplicate RRULEs are dropped through a set: `recurrence` may hold any number of lines.
    let mut seen_rules = std::collections::HashSet::new();
    for line in lines {
        let Some((head, value)) = line.split_once(':') else {
            warn(format!("recurrence line `{line}` ignored: no `:`"));
            continue;
        };
        let mut parts = head.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_uppercase();
        let mut tzid = None;
        let mut value_type = None;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                match k.trim().to_ascii_uppercase().as_str() {
                    "TZID" => tzid = Some(v.trim().trim_matches('"').to_string()),
                    "VALUE" => value_type = Some(v.trim().to_ascii_uppercase()),
                    _ => {}
                }
            }
        }
        let value_zone = match tzid.as_deref() {
            Some(t) => match resolve_name(t) {
                Some(z) => Some(z),
                None => {
                    warn(format!(
                        "{name}: unknown TZID `{t}`; read in the series' zone"
                    ));
                    zone.cloned()
                }
            },
            None => zone.cloned(),
        };
        match name.as_str() {
            "RRULE" => {
                let v = value.trim().to_string();
                if !v.is_empty() && seen_rules.insert(v.clone()) {
                    set.rrules.push(v);
                }
            }
            "EXDATE" => {
                for v in value.split(',').filter(|v| !v.trim().is_empty()) {
                    match ical_time(v, value_zone.as_ref()) {
                        Some(t) => set.exdates.push(t),
                        None => warn(format!(
                            "EXDATE value `{v}` ignored: not a date or date-time"
                        )),
                    }
                }
            }
            "RDATE" => {
                for v in value.split(',').filter(|v| !v.trim().is_empty()) {
                    let rdate = if value_type.as_deref() == Some("PERIOD") || v.contains('/') {
                        period(v, value_zone.as_ref())
                    } else {
                        ical_time(v, value_zone.as_ref()).map(|start| RDate { start, end: None })
                    };
                    match rdate {
                        Some(r) => set.rdates.push(r),
                        None => warn(format!("RDATE value `{v}` ignored: not readable")),
                    }
                }
            }
            other => warn(format!("recurrence line `{other}` ignored (not supported)")),
        }
    }
    set
}

/// An iCalendar DATE or DATE-TIME value: `…Z` is UTC, else wall time in `zone` (floating when
/// there is none, i.e. an all-day series).
fn ical_time(v: &str, zone: Option<&Zone>) -> Option<EventTime> {
    let v = v.trim();
    let (date_part, time_part) = match v.find(['T', 't']) {
        Some(i) => (&v[..i], Some(&v[i + 1..])),
        None => (v, None),
    };
    let date = NaiveDate::parse_from_str(date_part, "%Y%m%d").ok()?;
    let Some(time_part) = time_part else {
        return Some(EventTime::Date { date });
    };
    let (time_part, utc) = match time_part.strip_suffix(['Z', 'z']) {
        Some(t) => (t, true),
        None => (time_part, false),
    };
    let time = NaiveTime::parse_from_str(time_part, "%H%M%S").ok()?;
    let local = date.and_time(time);
    Some(match (utc, zone) {
        (true, _) => EventTime::Zoned {
            local,
            zone: Zone::Utc,
        },
        (false, Some(z)) => EventTime::Zoned {
            local,
            zone: z.clone(),
        },
        (false, None) => EventTime::Floating { local },
    })
}

/// A PERIOD value: `start/end` or `start/duration`.
fn period(v: &str, zone: Option<&Zone>) -> Option<RDate> {
    let (s, e) = v.split_once('/')?;
    let start = ical_time(s, zone)?;
    let end = if e.trim_start().starts_with(['P', '+', '-']) {
        let d = duration(e.trim())?;
        match &start {
            EventTime::Zoned { local, zone } => EventTime::Zoned {
                local: *local + d,
                zone: zone.clone(),
            },
            EventTime::Floating { local } => EventTime::Floating { local: *local + d },
            EventTime::Date { .. } => return None,
        }
    } else {
        ical_time(e, zone)?
    };
    Some(RDate {
        start,
        end: Some(end),
    })
}

/// A positive iCalendar DURATION (`PnW`, `PnDTnHnMnS`).
fn duration(v: &str) -> Option<Duration> {
    let v = v.strip_prefix('+').unwrap_or(v).strip_prefix('P')?;
    let mut total = Duration::zero();
    let mut num = String::new();
    let mut in_time = false;
    for c in v.chars() {
        match c {
            '0'..='9' => num.push(c),
            'T' => in_time = true,
            unit => {
                let n: i64 = num.parse().ok()?;
                num.clear();
                total += match (unit, in_time) {
                    ('W', false) => Duration::weeks(n),
                    ('D', false) => Duration::days(n),
                    ('H', true) => Duration::hours(n),
                    ('M', true) => Duration::minutes(n),
                    ('S', true) => Duration::seconds(n),
                    _ => return None,
                };
            }
        }
    }
    num.is_empty().then_some(total)
}

#[cfg(test)]
mod tests;
