//! VEVENT → [`Event`], and the choice among duplicates.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::lines::{Component, ContentLine, truncate, unescape_text};
use super::values::{IcsDuration, PeriodEnd, RawTime, parse_duration, parse_period, parse_time};
use super::zones::Zones;
use crate::model::{
    Attendee, Event, EventStatus, EventTime, Person, RDate, RecurrenceSet, Response,
};
use crate::tz::Zone;

/// A converted VEVENT with what is needed to pick among duplicates.
pub(crate) struct Candidate {
    pub event: Event,
    /// The VEVENT's BEGIN line.
    pub line: usize,
    /// Later of DTSTAMP and LAST-MODIFIED.
    pub stamp: Option<DateTime<Utc>>,
    /// (uid, compact recurrence id).
    pub key: (String, Option<String>),
}

/// Why a VEVENT was skipped, and what it was called.
pub(crate) struct Rejection {
    pub uid: Option<String>,
    pub reason: String,
}

/// Convert one VEVENT. `warn` receives (line, message) for repairs that keep the event.
pub(crate) fn convert(
    vevent: &Component,
    zones: &mut Zones<'_>,
    calendar: &str,
    warn: &mut dyn FnMut(usize, String),
) -> Result<Candidate, Rejection> {
    let uid_prop = vevent
        .first("UID")
        .map(|p| p.value.trim().to_string())
        .filter(|u| !u.is_empty());
    let reject = |reason: String| Rejection {
        uid: uid_prop.clone(),
        reason,
    };
    if vevent.unterminated {
        return Err(reject("BEGIN:VEVENT without END:VEVENT".to_string()));
    }

    // --- start -------------------------------------------------------------------------------
    let dtstart_prop = vevent
        .first("DTSTART")
        .ok_or_else(|| reject("no DTSTART".to_string()))?;
    check_value_type(dtstart_prop).map_err(&reject)?;
    let start = time_of(dtstart_prop, zones, warn).map_err(&reject)?;

    // --- end ---------------------------------------------------------------------------------
    let end = if let Some(dtend) = vevent.first("DTEND") {
        check_value_type(dtend).map_err(&reject)?;
        let end = time_of(dtend, zones, warn).map_err(&reject)?;
        match_kind(&start, end, dtend.line, warn)
    } else if let Some(dur) = vevent.first("DURATION") {
        let d = parse_duration(&dur.value).ok_or_else(|| {
            reject(format!(
                "DURATION at line {}: `{}` is not a duration",
                dur.line,
                truncate(dur.value.trim(), 40)
            ))
        })?;
        add_duration(&start, d)
    } else if let EventTime::Date { date } = start {
        // RFC 5545 §3.6.1: a DATE start without end lasts one day …
        EventTime::Date {
            date: date.succ_opt().unwrap_or(date),
        }
    } else {
        // … a DATE-TIME start without end takes no time.
        start.clone()
    };
    let (start, end) = if is_before(&end, &start) {
        warn(
            vevent.line,
            "DTEND is before DTSTART; the two were swapped (as recurring-ical-events does)"
                .to_string(),
        );
        (end, start)
    } else {
        (start, end)
    };
    let end = match (&start, end) {
        (EventTime::Date { date }, EventTime::Date { date: e }) if e == *date => {
            warn(
                vevent.line,
                "all-day event ends on the day it starts; read as one day".to_string(),
            );
            EventTime::Date {
                date: date.succ_opt().unwrap_or(*date),
            }
        }
        (_, end) => end,
    };

    // --- recurrence ----------------------------------------------------------------------------
    let mut rrules: Vec<String> = Vec::new();
    // Exact duplicates are dropped through a set: a VEVENT may carry any number of RRULEs.
    let mut seen_rules = std::collections::HashSet::new();
    for r in vevent.all("RRULE") {
        let value = r.value.trim();
        let value = value.strip_prefix("RRULE:").unwrap_or(value);
        if value.is_empty() {
            warn(r.line, "empty RRULE ignored".to_string());
            continue;
        }
        check_rrule(value).map_err(|why| reject(format!("RRULE at line {}: {why}", r.line)))?;
        if seen_rules.insert(value) {
            rrules.push(value.to_string());
        }
    }
    let mut rdates: Vec<RDate> = Vec::new();
    for p in vevent.all("RDATE") {
        for item in items(&p.value) {
            let period = p
                .param("VALUE")
                .is_some_and(|v| v.eq_ignore_ascii_case("PERIOD"))
                || item.contains('/');
            let mut w = None;
            let rdate = if period {
                let (s, e) =
                    parse_period(item).ok_or_else(|| reject(bad_value(p, item, "period")))?;
                let start = zones.event_time(s, p.param("TZID"), &mut w);
                let end = match e {
                    PeriodEnd::At(e) => zones.event_time(e, p.param("TZID"), &mut w),
                    PeriodEnd::After(d) => add_duration(&start, d),
                };
                RDate {
                    start,
                    end: Some(end),
                }
            } else {
                let t = parse_time(item)
                    .ok_or_else(|| reject(bad_value(p, item, "date or date-time")))?;
                RDate {
                    start: zones.event_time(t, p.param("TZID"), &mut w),
                    end: None,
                }
            };
            if let Some(w) = w {
                warn(p.line, w);
            }
            rdates.push(rdate);
        }
    }
    let mut exdates: Vec<EventTime> = Vec::new();
    for p in vevent.all("EXDATE") {
        for item in items(&p.value) {
            let t =
                parse_time(item).ok_or_else(|| reject(bad_value(p, item, "date or date-time")))?;
            let mut w = None;
            exdates.push(zones.event_time(t, p.param("TZID"), &mut w));
            if let Some(w) = w {
                warn(p.line, w);
            }
        }
    }
    let (recurrence_id, this_and_future) = match vevent.first("RECURRENCE-ID") {
        Some(p) => {
            let t = parse_time(&p.value)
                .ok_or_else(|| reject(bad_value(p, p.value.trim(), "date or date-time")))?;
            let mut w = None;
            let rid = zones.event_time(t, p.param("TZID"), &mut w);
            if let Some(w) = w {
                warn(p.line, w);
            }
            let range = p.param("RANGE").map(str::trim).unwrap_or("");
            let future = range.eq_ignore_ascii_case("THISANDFUTURE");
            if !future && !range.is_empty() {
                warn(
                    p.line,
                    format!(
                        "RECURRENCE-ID RANGE={range} is not supported; read as this instance only"
                    ),
                );
            }
            (Some(rid), future)
        }
        None => (None, false),
    };

    // --- identity ------------------------------------------------------------------------------
    let uid = match &uid_prop {
        Some(uid) => uid.clone(),
        None => {
            let summary = vevent.first("SUMMARY").map_or("", |p| p.value.as_str());
            let uid = synthesized_uid(dtstart_prop, summary);
            warn(
                vevent.line,
                format!("VEVENT has no UID; using the synthesized UID `{uid}`"),
            );
            uid
        }
    };
    let rid_compact = recurrence_id.as_ref().map(compact_id);
    let (event_id, series_id) = match &rid_compact {
        Some(c) => (format!("{uid}_{c}"), Some(uid.clone())),
        None => (uid.clone(), None),
    };
    let recurrence = if recurrence_id.is_some() {
        // An override is one instance, even when the exporter copied the master's RRULE into it.
        None
    } else if !rrules.is_empty() || !rdates.is_empty() {
        Some(RecurrenceSet {
            rrules,
            rdates,
            exdates,
        })
    } else {
        if !exdates.is_empty() {
            warn(
                vevent.line,
                "EXDATE without RRULE or RDATE ignored".to_string(),
            );
        }
        None
    };

    // --- descriptive fields --------------------------------------------------------------------
    let status = match vevent
        .first("STATUS")
        .map(|p| p.value.trim().to_ascii_uppercase())
    {
        None => EventStatus::Confirmed,
        Some(s) if s == "CONFIRMED" || s.is_empty() => EventStatus::Confirmed,
        Some(s) if s == "TENTATIVE" => EventStatus::Tentative,
        Some(s) if s == "CANCELLED" || s == "CANCELED" => EventStatus::Cancelled,
        Some(other) => {
            warn(
                vevent.line,
                format!("STATUS:{other} is not a VEVENT status; read as CONFIRMED"),
            );
            EventStatus::Confirmed
        }
    };
    // Outlook's free/busy status: OOF is "out of office" (the manager is away).
    let out_of_office = vevent
        .first("X-MICROSOFT-CDO-BUSYSTATUS")
        .is_some_and(|p| p.value.trim().eq_ignore_ascii_case("OOF"));
    let text = |name: &str| {
        vevent
            .first(name)
            .map(|p| unescape_text(&p.value))
            .filter(|t| !t.trim().is_empty())
    };
    let sequence = match vevent.first("SEQUENCE") {
        None => 0,
        Some(p) => p.value.trim().parse::<i64>().unwrap_or_else(|_| {
            warn(
                p.line,
                format!(
                    "SEQUENCE `{}` is not a number; read as 0",
                    truncate(p.value.trim(), 20)
                ),
            );
            0
        }),
    };
    let updated = vevent
        .first("LAST-MODIFIED")
        .and_then(|p| stamp_of(p, zones));
    let dtstamp = vevent.first("DTSTAMP").and_then(|p| stamp_of(p, zones));
    let organizer = vevent.first("ORGANIZER").map(|p| Person {
        email: address(&p.value),
        name: cn(p),
    });
    let attendees = vevent.all("ATTENDEE").map(attendee).collect();

    let event = Event {
        calendar: calendar.to_string(),
        uid: uid.clone(),
        event_id,
        series_id,
        recurrence,
        recurrence_id,
        this_and_future,
        start,
        end,
        status,
        summary: text("SUMMARY").unwrap_or_default(),
        description: text("DESCRIPTION"),
        location: text("LOCATION"),
        organizer,
        attendees,
        self_response: None,
        out_of_office,
        sequence,
        updated,
        etag: None,
    };
    Ok(Candidate {
        event,
        line: vevent.line,
        stamp: updated.max(dtstamp),
        key: (uid, rid_compact),
    })
}

/// `VALUE=` on DTSTART/DTEND must be DATE or DATE-TIME (the value's shape decides between them).
fn check_value_type(p: &ContentLine) -> Result<(), String> {
    match p.param("VALUE") {
        None => Ok(()),
        Some(v) if v.eq_ignore_ascii_case("DATE") || v.eq_ignore_ascii_case("DATE-TIME") => Ok(()),
        Some(v) => Err(format!(
            "{} at line {}: VALUE={v} is not supported",
            p.name, p.line
        )),
    }
}

fn time_of(
    p: &ContentLine,
    zones: &mut Zones<'_>,
    warn: &mut dyn FnMut(usize, String),
) -> Result<EventTime, String> {
    let raw = parse_time(&p.value).ok_or_else(|| {
        format!(
            "{} at line {}: `{}` is not a date or date-time",
            p.name,
            p.line,
            truncate(p.value.trim(), 40)
        )
    })?;
    let mut w = None;
    let t = zones.event_time(raw, p.param("TZID"), &mut w);
    if let Some(w) = w {
        warn(p.line, w);
    }
    Ok(t)
}

fn bad_value(p: &ContentLine, item: &str, what: &str) -> String {
    format!(
        "{} at line {}: `{}` is not a {what}",
        p.name,
        p.line,
        truncate(item, 40)
    )
}

fn items(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// An RRULE must be `KEY=VALUE` parts with a FREQ and only RFC 5545/7529 keys; the recurrence
/// module does the real parsing.
fn check_rrule(value: &str) -> Result<(), String> {
    const KEYS: &[&str] = &[
        "FREQ",
        "UNTIL",
        "COUNT",
        "INTERVAL",
        "BYSECOND",
        "BYMINUTE",
        "BYHOUR",
        "BYDAY",
        "BYMONTHDAY",
        "BYYEARDAY",
        "BYWEEKNO",
        "BYMONTH",
        "BYSETPOS",
        "WKST",
        "RSCALE",
        "SKIP",
    ];
    let mut freq = false;
    for part in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (key, val) = part
            .split_once('=')
            .ok_or_else(|| format!("`{}` is not KEY=VALUE", truncate(part, 30)))?;
        let key = key.trim().to_ascii_uppercase();
        if key == "FREQ" {
            freq = true;
        }
        if !KEYS.contains(&key.as_str()) && !key.starts_with("X-") {
            return Err(format!(
                "unknown rule part `{key}` in `{}`",
                truncate(value, 60)
            ));
        }
        if val.trim().is_empty() {
            return Err(format!("{key} has no value"));
        }
    }
    if freq {
        Ok(())
    } else {
        Err(format!("no FREQ in `{}`", truncate(value, 60)))
    }
}

/// Give `end` the kind of `start` (date ⇄ date-time, zone): exporters mix them.
fn match_kind(
    start: &EventTime,
    end: EventTime,
    line: usize,
    warn: &mut dyn FnMut(usize, String),
) -> EventTime {
    match (start, end) {
        (EventTime::Date { .. }, EventTime::Date { date }) => EventTime::Date { date },
        (EventTime::Date { .. }, other) => {
            // The day the end falls on, counted whole unless it ends at midnight.
            let local = match &other {
                EventTime::Zoned { local, .. } | EventTime::Floating { local } => *local,
                EventTime::Date { date } => date.and_time(chrono::NaiveTime::MIN),
            };
            let mut date = local.date();
            if local.time() != chrono::NaiveTime::MIN {
                date = date.succ_opt().unwrap_or(date);
            }
            warn(
                line,
                "DTEND is a date-time but DTSTART a date; DTEND read as a date".to_string(),
            );
            EventTime::Date { date }
        }
        (EventTime::Zoned { .. }, e @ EventTime::Zoned { .. }) => e,
        (EventTime::Floating { .. }, e @ EventTime::Floating { .. }) => e,
        (EventTime::Zoned { zone, .. }, other) => {
            warn(
                line,
                format!(
                    "DTEND is {} but DTSTART is zoned; DTEND read in DTSTART's zone",
                    kind_name(&other)
                ),
            );
            EventTime::Zoned {
                local: other.local(),
                zone: zone.clone(),
            }
        }
        (EventTime::Floating { .. }, other) => {
            warn(
                line,
                format!(
                    "DTEND is {} but DTSTART is floating; DTEND read as floating",
                    kind_name(&other)
                ),
            );
            EventTime::Floating {
                local: other.local(),
            }
        }
    }
}

fn kind_name(t: &EventTime) -> &'static str {
    match t {
        EventTime::Zoned { .. } => "zoned",
        EventTime::Floating { .. } => "floating",
        EventTime::Date { .. } => "a date",
    }
}

/// Give each override's RECURRENCE-ID the kind of its master's DTSTART (Exchange writes
/// `RECURRENCE-ID:20200921T000000Z` for instances of all-day series), so that its event id matches
/// the id of the instance it replaces. Masters are looked up by UID among `candidates`.
pub(crate) fn align_recurrence_ids(
    candidates: &mut [Candidate],
    warn: &mut dyn FnMut(usize, Option<String>, String),
) {
    use std::collections::HashMap;
    let mut masters: HashMap<String, (i64, EventTime)> = HashMap::new();
    for c in candidates
        .iter()
        .filter(|c| c.event.recurrence_id.is_none() && c.event.recurrence.is_some())
    {
        let entry = masters
            .entry(c.event.uid.clone())
            .or_insert((c.event.sequence, c.event.start.clone()));
        if c.event.sequence >= entry.0 {
            *entry = (c.event.sequence, c.event.start.clone());
        }
    }
    for c in candidates.iter_mut() {
        let (Some(rid), Some((_, master))) = (&c.event.recurrence_id, masters.get(&c.event.uid))
        else {
            continue;
        };
        let aligned = match (master, rid) {
            (EventTime::Date { .. }, EventTime::Date { .. })
            | (EventTime::Zoned { .. }, EventTime::Zoned { .. })
            | (EventTime::Floating { .. }, EventTime::Floating { .. }) => continue,
            (EventTime::Date { .. }, other) => EventTime::Date {
                date: other.local().date(),
            },
            (EventTime::Zoned { local, zone }, EventTime::Date { date }) => EventTime::Zoned {
                local: date.and_time(local.time()),
                zone: zone.clone(),
            },
            (EventTime::Zoned { zone, .. }, other) => EventTime::Zoned {
                local: other.local(),
                zone: zone.clone(),
            },
            (EventTime::Floating { local }, EventTime::Date { date }) => EventTime::Floating {
                local: date.and_time(local.time()),
            },
            (EventTime::Floating { .. }, other) => EventTime::Floating {
                local: other.local(),
            },
        };
        let compact = compact_id(&aligned);
        warn(
            c.line,
            Some(c.event.uid.clone()),
            format!(
                "RECURRENCE-ID is {} but the series starts with {}; read as {compact}",
                kind_name(rid),
                kind_name(master),
            ),
        );
        c.event.event_id = format!("{}_{compact}", c.event.uid);
        c.key.1 = Some(compact);
        c.event.recurrence_id = Some(aligned);
    }
}

/// `start + d` (RFC 5545 §3.3.6: days are nominal — same wall clock —, hours/minutes/seconds
/// exact). For a date start the duration is counted in whole days, at least one.
fn add_duration(start: &EventTime, d: IcsDuration) -> EventTime {
    let sign = if d.negative { -1 } else { 1 };
    match start {
        EventTime::Date { date } => {
            let mut days = d.days + (d.seconds + 86_399) / 86_400;
            if days == 0 {
                days = 1;
            }
            let date = date
                .checked_add_signed(Duration::days(sign * days))
                .unwrap_or(*date);
            EventTime::Date { date }
        }
        EventTime::Floating { local } => EventTime::Floating {
            local: *local + d.as_chrono(),
        },
        EventTime::Zoned { local, zone } => {
            let nominal = *local + Duration::days(sign * d.days);
            let exact = Duration::seconds(sign * d.seconds);
            let local = match zone {
                Zone::Utc => nominal + exact,
                _ => zone.from_utc(zone.to_utc(nominal) + exact),
            };
            EventTime::Zoned {
                local,
                zone: zone.clone(),
            }
        }
    }
}

/// `a < b`, for two times of the same kind (after [`match_kind`]).
fn is_before(a: &EventTime, b: &EventTime) -> bool {
    match (a, b) {
        (EventTime::Zoned { .. }, EventTime::Zoned { .. }) => {
            a.instant(&Zone::Utc) < b.instant(&Zone::Utc)
        }
        _ => a.local() < b.local(),
    }
}

/// The compact form of a recurrence id used in event ids: UTC `YYYYMMDDTHHMMSSZ` for zoned
/// times, `YYYYMMDDTHHMMSS` for floating ones, `YYYYMMDD` for dates.
pub(crate) fn compact_id(t: &EventTime) -> String {
    match t {
        EventTime::Zoned { local, zone } => {
            zone.to_utc(*local).format("%Y%m%dT%H%M%SZ").to_string()
        }
        EventTime::Floating { local } => local.format("%Y%m%dT%H%M%S").to_string(),
        EventTime::Date { date } => date.format("%Y%m%d").to_string(),
    }
}

/// A stable UID for a VEVENT without one: FNV-1a of its DTSTART (with parameters) and SUMMARY.
fn synthesized_uid(dtstart: &ContentLine, summary: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let tzid = dtstart.param("TZID").unwrap_or("");
    for part in [
        tzid,
        "\u{1f}",
        dtstart.value.trim(),
        "\u{1f}",
        summary.trim(),
    ] {
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("cadenced-nouid-{h:016x}")
}

/// DTSTAMP / LAST-MODIFIED as an instant (RFC 5545 wants UTC; floating is read as UTC).
fn stamp_of(p: &ContentLine, zones: &mut Zones<'_>) -> Option<DateTime<Utc>> {
    match parse_time(&p.value)? {
        RawTime::Date(d) => Some(date_utc(d)),
        RawTime::DateTime { local, utc: true } => Some(local.and_utc()),
        RawTime::DateTime { local, utc: false } => {
            match p.param("TZID").map(|t| zones.resolve(t)) {
                Some(Ok(zone)) => Some(zone.to_utc(local)),
                _ => Some(local.and_utc()),
            }
        }
    }
}

fn date_utc(d: NaiveDate) -> DateTime<Utc> {
    d.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// A cal-address without its `mailto:` scheme, case kept as written. A value with junk before
/// the scheme (`X-KEY=…;CN=…:mailto:a@b`, parameters written into the value) keeps what follows
/// the last `mailto:`.
fn address(value: &str) -> String {
    let v = value.trim();
    match v.to_ascii_lowercase().rfind("mailto:") {
        Some(i) => v[i + 7..].trim().to_string(),
        None => v.to_string(),
    }
}

fn cn(p: &ContentLine) -> Option<String> {
    p.param("CN")
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
}

fn attendee(p: &ContentLine) -> Attendee {
    let email = address(&p.value);
    let response = match p
        .param("PARTSTAT")
        .map(|s| s.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("ACCEPTED") => Response::Accepted,
        Some("DECLINED") => Response::Declined,
        Some("TENTATIVE") => Response::Tentative,
        _ => Response::NeedsAction,
    };
    let cutype_resource = p
        .param("CUTYPE")
        .is_some_and(|c| c.eq_ignore_ascii_case("ROOM") || c.eq_ignore_ascii_case("RESOURCE"));
    // Google rooms are sometimes exported as CUTYPE=INDIVIDUAL; their addresses give them away.
    let google_room = email
        .to_ascii_lowercase()
        .ends_with("@resource.calendar.google.com");
    Attendee {
        email,
        name: cn(p),
        response,
        resource: cutype_resource || google_room,
        is_self: false,
    }
}

/// Among candidates with the same (UID, RECURRENCE-ID), keep the one with the highest SEQUENCE,
/// then the latest DTSTAMP/LAST-MODIFIED, then the last in the file. Keeps file order.
pub(crate) fn dedup(
    candidates: Vec<Candidate>,
    warn: &mut dyn FnMut(usize, Option<String>, String),
) -> Vec<Event> {
    use std::collections::HashMap;
    let mut best: HashMap<(String, Option<String>), usize> = HashMap::new();
    for (i, c) in candidates.iter().enumerate() {
        match best.get(&c.key) {
            None => {
                best.insert(c.key.clone(), i);
            }
            Some(&j) => {
                let other = &candidates[j];
                let wins = (c.event.sequence, c.stamp) >= (other.event.sequence, other.stamp);
                let (kept, dropped) = if wins { (c, other) } else { (other, c) };
                warn(
                    dropped.line,
                    Some(c.key.0.clone()),
                    format!(
                        "dropped: the VEVENT at line {} has the same UID and RECURRENCE-ID and wins \
                         (higher SEQUENCE, then later DTSTAMP/LAST-MODIFIED, then later in the file)",
                        kept.line
                    ),
                );
                if wins {
                    best.insert(c.key.clone(), i);
                }
            }
        }
    }
    let mut keep: Vec<usize> = best.into_values().collect();
    keep.sort_unstable();
    let mut slots: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
    keep.into_iter()
        .filter_map(|i| slots.get_mut(i).and_then(Option::take))
        .map(|c| c.event)
        .collect()
}
