//! The same team calendar gives the same `report --json` whether it comes from an .ics file, from
//! Google Calendar (through `tests/fake_google`) or from Microsoft 365 (through `tests/fake_graph`)
//! (issues 4 and 5, acceptance "same report").
//!
//! The calendar is written once, in iCalendar. A test-side converter turns it into the resources
//! each real API returns for such a calendar, as `docs/google-api.md`,
//! `docs/microsoft-graph.md` and their samples describe them, and seeds the fakes through
//! their public seeding APIs:
//! - Google (§3 of the doc): masters with `recurrence` lines (`RRULE`, `EXDATE;TZID=…`,
//!   `RDATE;TZID=…`) and `start.timeZone`; exceptions `<master>_<YYYYMMDDTHHMMSSZ>` with
//!   `recurringEventId` + `originalStartTime` in the master's zone; cancelled instances as
//!   tombstones (`id`, `status`, `recurringEventId`, `originalStartTime`); attendees with
//!   `responseStatus`, `resource: true` for rooms, `organizer: true`/`self: true` flags; all-day
//!   events as `date` with an exclusive end.
//! - Microsoft Graph (§3): series masters with `recurrence.pattern`/`range` and Windows zone names
//!   (as Graph gives them for Exchange-created series), cancelled occurrences (they leave the view
//!   and join `cancelledOccurrences`), exceptions (moved and/or with their own attendees),
//!   attendees `status.response` and `type: resource`, organizer `emailAddress`.
//!
//! The iCalendar text is read with the product's own ICS reader (`parse_feed`), which is the
//! reference side of the comparison; the converter only re-expresses those events in the
//! providers' vocabularies. Each provider is synced through the real binary, then
//! `report --json` is compared with the ICS one, field by field (see [`masked`]).

use crate::common;
use testkit::fake_google;
use testkit::fake_graph;

use std::collections::BTreeMap;
use std::path::Path;

use cadenced::model::{Attendee, Event, EventStatus, EventTime, Response};
use cadenced::providers::ics::parse_feed;
use cadenced::tz::Zone;
use chrono::{Datelike, NaiveDate, NaiveDateTime, Weekday};
use common::{Env, stderr, stdout};
use fake_google::FakeGoogle;
use fake_graph::{FakeGraph, NewEvent};
use serde_json::{Value, json};

// ----- the converter: model events (read from the .ics) → provider resources ------------------

/// Ways the real APIs may legitimately write the same calendar; the report must not care.
#[derive(Debug, Clone, Copy, Default)]
struct Flavour {
    /// Google: `dateTime` with the offset of this zone (Google writes instants with the offset of
    /// the calendar's zone while `timeZone` keeps the event's own zone); `None`: the event's zone.
    google_offsets: Option<chrono_tz::Tz>,
    /// Google: `EXDATE`/`RDATE` values in UTC (`EXDATE:20260901T140000Z`) instead of `TZID=`.
    google_utc_dates: bool,
    /// Google: instances removed by EXDATE written as Google writes an instance deleted in its
    /// own UI: a cancelled-instance tombstone, no EXDATE line (§3).
    google_exdate_tombstones: bool,
    /// Google: exceptions and tombstones listed before their masters (any order is legal).
    google_exceptions_first: bool,
    /// Both: the calendar reaches the client in two syncs. Series and single events first; then
    /// every exception and cancelled instance is made through the fake's mutation API as a user
    /// would make it (Google: `modify_instance`/`cancel_instance`, which also touch the master;
    /// Graph: moved/updated occurrences and cancellations *without* a delta entry, §2.4), and
    /// the second sync is incremental.
    two_rounds: bool,
    /// Graph, with `two_rounds`: the cancellations come without any delta entry (§2.4 "may give
    /// no indication"). An idle delta round cannot see them (the provider's design: one request
    /// per idle poll), so the first sync runs two days earlier and the second is the
    /// re-baselining round (`[sync] rebaseline`, default 1d), which must find them.
    silent_cancellations: bool,
    /// Graph: IANA zone names (events created through the API) instead of Windows ones (Outlook).
    graph_iana: bool,
    /// Graph: Exchange's own GlobalObjectId `iCalUId`s instead of the invitation's UID.
    graph_exchange_uids: bool,
    /// Graph: the mailbox of this owner holds *attendee copies* of the meetings others organize:
    /// the attendees' `status` as the invitation carried it (`none`, microsoft-graph-docs
    /// issues #12073 and #5281: attendee statuses read `none` outside the organizer's copy), and
    /// the owner's own answer only in `responseStatus` (§3.1: "the owner's own response").
    /// `None`: every copy shows every attendee's answer (the fake's `set_response` way).
    graph_attendee_copies_of: Option<&'static str>,
    /// Graph: the zone all-day events were created in (Windows name); Graph shows them floating,
    /// at midnight of their dates in the requested zone (§3.5). `None`: UTC.
    graph_all_day_zone: Option<chrono_tz::Tz>,
}

/// The attendees' responses and the owner's `responseStatus` of a Graph copy of `ev`.
fn graph_copy(ev: &Event, fl: Flavour) -> (Vec<Response>, Option<&'static str>) {
    let responses = ev.attendees.iter().map(|a| a.response).collect();
    let Some(owner) = fl.graph_attendee_copies_of else {
        return (responses, None);
    };
    if ev
        .organizer
        .as_ref()
        .is_none_or(|o| same_email(&o.email, owner))
    {
        return (responses, None);
    }
    let own = ev
        .attendees
        .iter()
        .find(|a| same_email(&a.email, owner))
        .map(|a| match a.response {
            Response::NeedsAction => "notResponded",
            r => graph_response(r),
        });
    (vec![Response::NeedsAction; ev.attendees.len()], own)
}

/// Google's zone name for an event time (`start.timeZone`): the IANA name, `UTC` for UTC.
/// `None` for a zone only a VTIMEZONE defines (Google accepts IANA names only).
fn google_zone(z: &Zone) -> Option<String> {
    match z {
        Zone::Utc => Some("UTC".into()),
        Zone::Iana(tz) => Some(tz.name().to_string()),
        Zone::Custom(_) => None,
    }
}

/// RFC 3339 with the zone's offset at that instant, as Google writes `dateTime`.
fn offset_time(local: NaiveDateTime, zone: &Zone, fl: Flavour) -> String {
    let utc = zone.to_utc(local);
    if let Some(tz) = fl.google_offsets {
        return utc.with_timezone(&tz).to_rfc3339();
    }
    match zone {
        Zone::Iana(tz) => utc.with_timezone(tz).to_rfc3339(),
        _ => utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// Google `EventDateTime`. Floating times have no Google form (`None`).
fn google_time(t: &EventTime, fl: Flavour) -> Option<Value> {
    match t {
        EventTime::Date { date } => Some(json!({"date": date.format("%Y-%m-%d").to_string()})),
        EventTime::Zoned { local, zone } => Some(json!({
            "dateTime": offset_time(*local, zone, fl),
            "timeZone": google_zone(zone)?,
        })),
        EventTime::Floating { .. } => None,
    }
}

/// `originalStartTime` of an exception: the original start written in the master's zone (as in
/// SAMPLE:events-list-incremental-modified-exception), or a date for all-day series.
fn google_original(rid: &EventTime, master_start: &EventTime, fl: Flavour) -> Option<Value> {
    match (rid, master_start) {
        (EventTime::Zoned { local, zone }, EventTime::Zoned { zone: mz, .. }) => {
            let instant = zone.to_utc(*local);
            google_time(
                &EventTime::Zoned {
                    local: mz.from_utc(instant),
                    zone: mz.clone(),
                },
                fl,
            )
        }
        (other, _) => google_time(other, fl),
    }
}

/// An iCalendar value of a recurrence line (`EXDATE`/`RDATE`), with its parameters.
fn ical_line(name: &str, t: &EventTime, fl: Flavour) -> Option<String> {
    if let (true, EventTime::Zoned { local, zone }) = (fl.google_utc_dates, t) {
        return Some(format!(
            "{name}:{}",
            zone.to_utc(*local).format("%Y%m%dT%H%M%SZ")
        ));
    }
    Some(match t {
        EventTime::Date { date } => format!("{name};VALUE=DATE:{}", date.format("%Y%m%d")),
        EventTime::Zoned {
            local,
            zone: Zone::Utc,
        } => format!("{name}:{}Z", local.format("%Y%m%dT%H%M%S")),
        EventTime::Zoned { local, zone } => format!(
            "{name};TZID={}:{}",
            google_zone(zone)?,
            local.format("%Y%m%dT%H%M%S")
        ),
        EventTime::Floating { .. } => return None,
    })
}

fn google_response(r: Response) -> &'static str {
    match r {
        Response::Accepted => "accepted",
        Response::Declined => "declined",
        Response::Tentative => "tentative",
        Response::NeedsAction => "needsAction",
    }
}

fn same_email(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Organizer and attendees as Google shows them in the manager's calendar: the owner's entries
/// carry `self: true`, the organizer's attendee entry `organizer: true`, rooms `resource: true`.
/// An event with no ORGANIZER was created in the manager's own calendar: Google names the
/// calendar's owner as organizer.
fn google_people(ev: &Event, manager: &str, out: &mut serde_json::Map<String, Value>) {
    let organizer = ev
        .organizer
        .as_ref()
        .map(|o| (o.email.clone(), o.name.clone()))
        .unwrap_or((manager.to_string(), None));
    let mut o = json!({"email": organizer.0});
    if let Some(n) = &organizer.1 {
        o["displayName"] = json!(n);
    }
    if same_email(&organizer.0, manager) {
        o["self"] = json!(true);
    }
    out.insert("organizer".into(), o);
    if ev.attendees.is_empty() {
        return;
    }
    let list: Vec<Value> = ev
        .attendees
        .iter()
        .map(|a: &Attendee| {
            let mut v = json!({"email": a.email, "responseStatus": google_response(a.response)});
            if let Some(n) = &a.name {
                v["displayName"] = json!(n);
            }
            if a.resource {
                v["resource"] = json!(true);
            }
            if same_email(&a.email, &organizer.0) {
                v["organizer"] = json!(true);
            }
            if same_email(&a.email, manager) {
                v["self"] = json!(true);
            }
            v
        })
        .collect();
    out.insert("attendees".into(), json!(list));
}

/// The Google resources of a calendar, and what could not be expressed (one line each).
struct GoogleCalendar {
    items: Vec<Value>,
    left_out: Vec<String>,
}

/// Converts the .ics events into Google event resources (SAMPLE:events-list-* shapes).
fn to_google(events: &[Event], manager: &str, fl: Flavour) -> GoogleCalendar {
    let mut items = Vec::new();
    let mut left_out = Vec::new();
    // Google ids are base32hex (`[a-v0-9]`): "ev" + a counter is one.
    let mut ids: BTreeMap<String, (String, EventTime)> = BTreeMap::new();
    for (i, ev) in events.iter().filter(|e| !e.is_override()).enumerate() {
        let id = format!("ev{i:04}");
        if ev.status == EventStatus::Cancelled {
            // Google has no cancelled event apart from a deleted one: both are a tombstone with
            // only `id` and `status` (§3, SAMPLE:event-items-cancelled-tombstones), so nothing
            // says it was a 1on1. Only cancelled *instances* of a series keep their series.
            left_out.push(format!("{}: a cancelled event is a bare tombstone", ev.uid));
            continue;
        }
        let Some(item) = google_item(ev, &id, manager, fl, &mut left_out) else {
            continue;
        };
        if fl.google_exdate_tombstones
            && let Some(rec) = &ev.recurrence
        {
            for x in &rec.exdates {
                let Some(original) = google_original(x, &ev.start, fl) else {
                    continue;
                };
                let instance = FakeGoogle::instance_id(&id, &instance_key(x));
                items.push(tombstone(&instance, &id, original));
            }
        }
        ids.insert(ev.uid.clone(), (id, ev.start.clone()));
        items.push(item);
    }
    for ev in events.iter().filter(|e| e.is_override()) {
        let rid = ev.recurrence_id.as_ref().expect("override");
        let Some((master_id, master_start)) = ids.get(&ev.uid) else {
            left_out.push(format!("{}: an override of a series left out", ev.uid));
            continue;
        };
        let Some(original) = google_original(rid, master_start, fl) else {
            left_out.push(format!("{}: recurrence id has no Google form", ev.uid));
            continue;
        };
        let id = FakeGoogle::instance_id(master_id, &instance_key(rid));
        if ev.status == EventStatus::Cancelled {
            items.push(tombstone(&id, master_id, original));
            continue;
        }
        let Some(mut item) = google_item(ev, &id, manager, fl, &mut left_out) else {
            continue;
        };
        item["recurringEventId"] = json!(master_id);
        item["originalStartTime"] = original;
        items.push(item);
    }
    if fl.google_exceptions_first {
        items.sort_by_key(|i| i.get("recurringEventId").is_none());
    }
    GoogleCalendar { items, left_out }
}

/// The original start as [`FakeGoogle::instance_id`] takes it.
fn instance_key(rid: &EventTime) -> String {
    match rid {
        EventTime::Date { date } => date.format("%Y-%m-%d").to_string(),
        t => t
            .instant(&Zone::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    }
}

/// A cancelled instance as SAMPLE:event-items-cancelled-tombstones shows it.
fn tombstone(id: &str, master_id: &str, original: Value) -> Value {
    json!({
        "kind": "calendar#event", "id": id, "status": "cancelled",
        "recurringEventId": master_id, "originalStartTime": original,
    })
}

fn google_item(
    ev: &Event,
    id: &str,
    manager: &str,
    fl: Flavour,
    left_out: &mut Vec<String>,
) -> Option<Value> {
    let (Some(start), Some(end)) = (google_time(&ev.start, fl), google_time(&ev.end, fl)) else {
        left_out.push(format!(
            "{}: floating or VTIMEZONE-only times have no Google form",
            ev.uid
        ));
        return None;
    };
    let mut m = serde_json::Map::new();
    m.insert("kind".into(), json!("calendar#event"));
    m.insert("id".into(), json!(id));
    m.insert("iCalUID".into(), json!(ev.uid));
    m.insert("status".into(), json!(ev.status.as_str()));
    m.insert("summary".into(), json!(ev.summary));
    if let Some(d) = &ev.description {
        m.insert("description".into(), json!(d));
    }
    if let Some(l) = &ev.location {
        m.insert("location".into(), json!(l));
    }
    m.insert("sequence".into(), json!(ev.sequence));
    // An out-of-office event is its own event type on Google (google-api.md §3).
    m.insert(
        "eventType".into(),
        json!(if ev.out_of_office {
            "outOfOffice"
        } else {
            "default"
        }),
    );
    m.insert("start".into(), start);
    m.insert("end".into(), end);
    if let Some(rec) = ev.recurrence.as_ref().filter(|_| !ev.is_override()) {
        let mut lines: Vec<String> = rec.rrules.iter().map(|r| format!("RRULE:{r}")).collect();
        for x in rec.exdates.iter().filter(|_| !fl.google_exdate_tombstones) {
            lines.push(ical_line("EXDATE", x, fl)?);
        }
        for r in &rec.rdates {
            if r.end.is_some() {
                left_out.push(format!("{}: RDATE periods have no Google form", ev.uid));
                return None;
            }
            lines.push(ical_line("RDATE", &r.start, fl)?);
        }
        m.insert("recurrence".into(), json!(lines));
    }
    google_people(ev, manager, &mut m);
    Some(Value::Object(m))
}

// ----- Graph -------------------------------------------------------------------------------

/// The Windows name Exchange gives an IANA zone (CLDR windowsZones), as Graph shows it for
/// series created in Outlook; zones outside this table are passed as IANA names, which Graph
/// also returns for events created through the API.
fn graph_zone(z: &Zone, fl: Flavour) -> Option<String> {
    Some(match z {
        Zone::Utc => "UTC".into(),
        Zone::Iana(tz) if fl.graph_iana => tz.name().to_string(),
        Zone::Iana(tz) => match tz.name() {
            "Asia/Tokyo" => "Tokyo Standard Time".into(),
            "America/Los_Angeles" => "Pacific Standard Time".into(),
            "America/New_York" => "Eastern Standard Time".into(),
            "Europe/Berlin" => "W. Europe Standard Time".into(),
            "Europe/London" => "GMT Standard Time".into(),
            other => other.to_string(),
        },
        Zone::Custom(_) => return None,
    })
}

fn graph_response(r: Response) -> &'static str {
    match r {
        Response::Accepted => "accepted",
        Response::Declined => "declined",
        Response::Tentative => "tentativelyAccepted",
        Response::NeedsAction => "none",
    }
}

fn graph_day(d: &str) -> Option<&'static str> {
    Some(match d {
        "MO" => "monday",
        "TU" => "tuesday",
        "WE" => "wednesday",
        "TH" => "thursday",
        "FR" => "friday",
        "SA" => "saturday",
        "SU" => "sunday",
        _ => return None,
    })
}

fn weekday_code(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// An RRULE as Graph's `patternedRecurrence` (§3.2), `None` when Graph's pattern model cannot hold
/// it (several rules, BYHOUR/BYSETPOS/…, several relative days, RDATEs).
fn graph_recurrence(rule: &str, start: NaiveDateTime, zone: &Zone, fl: Flavour) -> Option<Value> {
    let mut parts = BTreeMap::new();
    for p in rule.split(';') {
        let (k, v) = p.split_once('=')?;
        parts.insert(k.to_ascii_uppercase(), v.to_ascii_uppercase());
    }
    let interval: u32 = parts.get("INTERVAL").map_or(Some(1), |v| v.parse().ok())?;
    let known = [
        "FREQ",
        "INTERVAL",
        "BYDAY",
        "WKST",
        "UNTIL",
        "COUNT",
        "BYMONTHDAY",
    ];
    if parts.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let days = |v: Option<&String>| -> Option<Vec<&'static str>> {
        match v {
            None => Some(vec![graph_day(weekday_code(start.weekday()))?]),
            Some(v) => v.split(',').map(graph_day).collect(),
        }
    };
    let pattern = match parts.get("FREQ")?.as_str() {
        "DAILY" if !parts.contains_key("BYDAY") && !parts.contains_key("BYMONTHDAY") => {
            json!({"type": "daily", "interval": interval})
        }
        "WEEKLY" if !parts.contains_key("BYMONTHDAY") => json!({
            "type": "weekly", "interval": interval,
            "daysOfWeek": days(parts.get("BYDAY"))?,
            "firstDayOfWeek": graph_day(parts.get("WKST").map_or("MO", |s| s.as_str()))?,
        }),
        "MONTHLY" => match (parts.get("BYDAY"), parts.get("BYMONTHDAY")) {
            (Some(by), None) => {
                // One relative day: `1TH`, `-1FR`.
                let split = by.find(|c: char| c.is_ascii_alphabetic())?;
                let (n, day) = by.split_at(split);
                let index = match n {
                    "1" | "+1" => "first",
                    "2" | "+2" => "second",
                    "3" | "+3" => "third",
                    "4" | "+4" => "fourth",
                    "-1" => "last",
                    _ => return None,
                };
                json!({"type": "relativeMonthly", "interval": interval,
                       "daysOfWeek": [graph_day(day)?], "index": index})
            }
            (None, Some(d)) => json!({"type": "absoluteMonthly", "interval": interval,
                                      "dayOfMonth": d.parse::<u32>().ok()?}),
            (None, None) => json!({"type": "absoluteMonthly", "interval": interval,
                                   "dayOfMonth": start.day()}),
            _ => return None,
        },
        _ => return None,
    };
    let start_date = start.date().format("%Y-%m-%d").to_string();
    let zone_name = graph_zone(zone, fl)?;
    let range = if let Some(until) = parts.get("UNTIL") {
        // Graph's range ends on a date of the series zone (inclusive); an RRULE UNTIL is an
        // instant. They agree when no occurrence falls on UNTIL's date after UNTIL, which holds
        // for every calendar used here (the rules cut at or after the last occurrence's start).
        let end = match NaiveDateTime::parse_from_str(until.trim_end_matches('Z'), "%Y%m%dT%H%M%S")
        {
            Ok(t) if until.ends_with('Z') => zone.from_utc(t.and_utc()),
            Ok(t) => t,
            // A DATE (all-day series): the range ends on that day.
            Err(_) => NaiveDate::parse_from_str(until, "%Y%m%d")
                .ok()?
                .and_time(chrono::NaiveTime::MIN),
        };
        json!({"type": "endDate", "startDate": start_date,
               "endDate": end.date().format("%Y-%m-%d").to_string(),
               "recurrenceTimeZone": zone_name})
    } else if let Some(count) = parts.get("COUNT") {
        json!({"type": "numbered", "startDate": start_date,
               "numberOfOccurrences": count.parse::<u32>().ok()?,
               "recurrenceTimeZone": zone_name})
    } else {
        json!({"type": "noEnd", "startDate": start_date, "recurrenceTimeZone": zone_name})
    };
    Some(json!({"pattern": pattern, "range": range}))
}

/// Graph attendees (`emailAddress`, `type`, `status.response`). Sample 12 shows the organizer's
/// own entry among the attendees when the invitation lists it, so the list is kept as the
/// invitation has it (an organizer who declined keeps that response on their entry).
fn graph_attendees(ev: &Event, fl: Flavour) -> Vec<Value> {
    let (responses, _) = graph_copy(ev, fl);
    ev.attendees
        .iter()
        .zip(responses)
        .map(|(a, r)| {
            json!({
                "type": if a.resource { "resource" } else { "required" },
                "status": {"response": graph_response(r), "time": "2026-01-01T00:00:00Z"},
                "emailAddress": {"name": a.name.clone().unwrap_or_default(), "address": a.email},
            })
        })
        .collect()
}

fn local_in(zone: &Zone, t: &EventTime) -> Option<NaiveDateTime> {
    match t {
        EventTime::Zoned { local, zone: z } => Some(zone.from_utc(z.to_utc(*local))),
        _ => None,
    }
}

fn graph_new_event(ev: &Event, zone: &Zone, zone_name: &str, fl: Flavour) -> Option<NewEvent> {
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    Some(graph_new_event_times(
        ev,
        &fmt(local_in(zone, &ev.start)?),
        &fmt(local_in(zone, &ev.end)?),
        zone_name,
        fl,
    ))
}

/// A Graph event with the .ics event's people, status and UID, at these wall-clock times.
fn graph_new_event_times(
    ev: &Event,
    start: &str,
    end: &str,
    zone_name: &str,
    fl: Flavour,
) -> NewEvent {
    let (responses, own) = graph_copy(ev, fl);
    // An attendee's copy of a meeting its organizer cancelled stays, `isCancelled`, with Outlook's
    // "Canceled: " before the subject (§3.1, UNVERIFIED for Graph).
    let subject = if ev.status == EventStatus::Cancelled && own.is_some() {
        format!("Canceled: {}", ev.summary)
    } else {
        ev.summary.clone()
    };
    let mut n = NewEvent::new(&subject, start, end, zone_name);
    for (a, r) in ev.attendees.iter().zip(responses) {
        n = n.attendee(
            &a.email,
            if a.resource { "resource" } else { "required" },
            graph_response(r),
        );
    }
    if let Some(o) = &ev.organizer {
        n = n.organized_by(o.name.as_deref().unwrap_or(&o.email), &o.email);
    }
    if let Some(own) = own {
        n = n.with(
            "responseStatus",
            json!({"response": own, "time": "2026-01-01T00:00:00Z"}),
        );
    }
    if ev.status == EventStatus::Cancelled {
        n = n.with("isCancelled", json!(true));
    }
    // Out of office is a free/busy status on Graph (microsoft-graph.md §3, `showAs`).
    if ev.out_of_office {
        n = n.with("showAs", json!("oof"));
    }
    // The invitation's UID as `iCalUId` (what Exchange shows for a meeting whose organizer's
    // system wrote the UID; Outlook-made series get a GlobalObjectId instead, which the provider
    // reduces to one value per series). `skipped` alert ids embed the UID, so this keeps them
    // comparable with the .ics ones.
    if fl.graph_exchange_uids {
        n
    } else {
        n.with("iCalUId", json!(ev.uid))
    }
}

/// Seeds the Graph fake with the calendar; returns what was left out (one line each).
/// `between` runs once the series and single events are in, before any cancellation or exception.
fn seed_graph(
    g: &FakeGraph,
    events: &[Event],
    fl: Flavour,
    between: &mut dyn FnMut(),
) -> Vec<String> {
    let mut left_out = Vec::new();
    let fmt = |t: NaiveDateTime| t.format("%Y-%m-%dT%H:%M:%S").to_string();
    let midnight = |d: &NaiveDate| format!("{}T00:00:00", d.format("%Y-%m-%d"));
    // uid → (master id, series zone, all-day)
    let mut masters: BTreeMap<String, (String, Zone, bool)> = BTreeMap::new();
    // (master id, date) of the occurrences EXDATE removes.
    let mut removed: Vec<(String, String)> = Vec::new();
    for ev in events.iter().filter(|e| !e.is_override()) {
        let (new, zone, first) = match (&ev.start, &ev.end) {
            (EventTime::Date { date }, EventTime::Date { date: end }) => {
                // All-day (§3.5): `isAllDay` with midnight-to-midnight times in the zone it was
                // created in; Graph shows its dates floating whatever zone is asked for.
                let zone = fl.graph_all_day_zone.map_or(Zone::Utc, Zone::Iana);
                let name = graph_zone(&zone, fl).expect("IANA or UTC");
                let new = graph_new_event_times(ev, &midnight(date), &midnight(end), &name, fl)
                    .with("isAllDay", json!(true));
                (new, zone, date.and_time(chrono::NaiveTime::MIN))
            }
            (EventTime::Zoned { zone, local }, _) => {
                let Some(zone_name) = graph_zone(zone, fl) else {
                    left_out.push(format!("{}: VTIMEZONE-only zone", ev.uid));
                    continue;
                };
                let Some(new) = graph_new_event(ev, zone, &zone_name, fl) else {
                    left_out.push(format!("{}: times not expressible", ev.uid));
                    continue;
                };
                (new, zone.clone(), *local)
            }
            _ => {
                left_out.push(format!("{}: Graph has no floating times", ev.uid));
                continue;
            }
        };
        let Some(rec) = &ev.recurrence else {
            g.add_event(&new);
            continue;
        };
        let pattern = match rec.rrules.as_slice() {
            [one] if rec.rdates.is_empty() => graph_recurrence(one, first, &zone, fl),
            _ => None,
        };
        let Some(pattern) = pattern else {
            // Graph's pattern model holds one rule of the kinds above and no RDATE.
            left_out.push(format!("{}: recurrence not expressible in Graph", ev.uid));
            continue;
        };
        let id = g.add_series(&new, pattern);
        for x in &rec.exdates {
            let date = match x {
                EventTime::Date { date } => *date,
                other => match local_in(&zone, other) {
                    Some(local) => local.date(),
                    None => continue,
                },
            };
            removed.push((id.clone(), date.format("%Y-%m-%d").to_string()));
        }
        masters.insert(ev.uid.clone(), (id, zone, ev.start.is_date()));
    }
    between();
    for (id, date) in removed {
        g.cancel_occurrence_with(&id, &date, !fl.silent_cancellations);
    }
    for ev in events.iter().filter(|e| e.is_override()) {
        let Some((master, zone, all_day)) = masters.get(&ev.uid) else {
            left_out.push(format!("{}: override of a series left out", ev.uid));
            continue;
        };
        let rid = ev.recurrence_id.as_ref().expect("override");
        let original = match rid {
            EventTime::Date { date } => *date,
            other => match local_in(zone, other) {
                Some(local) => local.date(),
                None => continue,
            },
        };
        let date = original.format("%Y-%m-%d").to_string();
        if ev.status == EventStatus::Cancelled {
            g.cancel_occurrence_with(master, &date, !fl.silent_cancellations);
            continue;
        }
        let (start, end) = match (&ev.start, &ev.end, all_day) {
            (EventTime::Date { date: s }, EventTime::Date { date: e }, true) => {
                (midnight(s), midnight(e))
            }
            (s, e, false) => match (local_in(zone, s), local_in(zone, e)) {
                (Some(s), Some(e)) => (fmt(s), fmt(e)),
                _ => continue,
            },
            _ => continue,
        };
        g.move_occurrence(master, &date, &start, &end);
        let mut patch = json!({"subject": ev.summary, "attendees": graph_attendees(ev, fl)});
        if let (_, Some(own)) = graph_copy(ev, fl) {
            patch["responseStatus"] = json!({"response": own, "time": "2026-01-01T00:00:00Z"});
        }
        if let Some(o) = &ev.organizer {
            patch["organizer"] = json!({"emailAddress": {
                "name": o.name.clone().unwrap_or_default(), "address": o.email}});
        }
        g.update_occurrence(master, &date, patch);
    }
    left_out
}

// ----- driving the binary ------------------------------------------------------------------

fn read_events(ics: &Path) -> Vec<Event> {
    let text = std::fs::read(ics).unwrap();
    let feed = parse_feed(&text, &ics.display().to_string(), "feed").unwrap();
    assert!(feed.skipped.is_empty(), "{:?}", feed.skipped);
    feed.events
}

/// `config` with its `[[accounts]]` blocks replaced by `accounts`.
fn with_accounts(config: &str, accounts: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    let mut placed = false;
    for line in config.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[[accounts]]");
            if skipping && !placed {
                out.push_str(accounts);
                out.push('\n');
                placed = true;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !placed {
        out.push_str(accounts);
    }
    out
}

fn sync_and_report(env: &Env, now: &str) -> Value {
    let out = env.run(&["--now", now, "sync"]);
    assert!(out.status.success(), "sync: {}", stderr(&out));
    let out = env.run(&["--now", now, "report", "--json"]);
    assert!(out.status.success(), "report: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn ics_report(config: &str, ics: &Path, now: &str) -> Value {
    let acc = format!(
        "[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
        ics.display()
    );
    let env = Env::with_config_text(&with_accounts(config, &acc));
    sync_and_report(&env, now)
}

fn google_report(
    config: &str,
    events: &[Event],
    manager: &str,
    now: &str,
    fl: Flavour,
) -> (Value, Vec<String>) {
    let g = FakeGoogle::start();
    let cal = to_google(events, manager, fl);
    let acc = g.google_account_toml("work", &["primary"]);
    let env = Env::with_config_text(&with_accounts(config, &acc));
    env.import_refresh_token("work", fake_google::REFRESH_TOKEN);
    if !fl.two_rounds {
        g.insert_items("primary", &cal.items);
        return (sync_and_report(&env, now), cal.left_out);
    }
    let (later, first): (Vec<Value>, Vec<Value>) = cal
        .items
        .iter()
        .cloned()
        .partition(|i| i.get("recurringEventId").is_some());
    g.insert_items("primary", &first);
    let out = env.run(&["--now", now, "sync"]);
    assert!(out.status.success(), "first sync: {}", stderr(&out));
    for item in later {
        let master = item["recurringEventId"].as_str().unwrap().to_string();
        let original = &item["originalStartTime"];
        let original = original["dateTime"]
            .as_str()
            .or(original["date"].as_str())
            .unwrap()
            .to_string();
        if item["status"] == "cancelled" {
            g.cancel_instance("primary", &master, &original);
            continue;
        }
        let mut patch = item.clone();
        let fields = patch.as_object_mut().unwrap();
        for k in [
            "id",
            "kind",
            "iCalUID",
            "recurringEventId",
            "originalStartTime",
        ] {
            fields.remove(k);
        }
        g.modify_instance("primary", &master, &original, patch);
    }
    (sync_and_report(&env, now), cal.left_out)
}

fn graph_report(config: &str, events: &[Event], now: &str, fl: Flavour) -> (Value, Vec<String>) {
    let g = FakeGraph::start();
    let acc = format!(
        "[[accounts]]\nname = \"m365\"\nprovider = \"microsoft\"\ntenant = \"{}\"\nclient_id = \"{}\"\n\
         login_base = \"{}\"\ngraph_base = \"{}\"\n",
        fake_graph::TENANT_ID,
        fake_graph::PUBLIC_CLIENT_ID,
        g.url(),
        g.graph_base()
    );
    let env = Env::with_config_text(&with_accounts(config, &acc));
    env.import_refresh_token("m365", fake_graph::REFRESH_TOKEN);
    let first_now = if fl.silent_cancellations {
        (chrono::DateTime::parse_from_rfc3339(now).unwrap() - chrono::Duration::days(2))
            .to_rfc3339()
    } else {
        now.to_string()
    };
    let left_out = seed_graph(&g, events, fl, &mut || {
        if fl.two_rounds {
            let out = env.run(&["--now", &first_now, "sync"]);
            assert!(out.status.success(), "first sync: {}", stderr(&out));
        }
    });
    (sync_and_report(&env, now), left_out)
}

/// The report with what legitimately differs by source masked:
/// - `accounts[].name`: the account's name in each configuration;
/// - `series[].account` and `series[].event_id`: the account's name and the provider's own id of
///   the series (a Google base32hex id, a Graph item id, the iCalendar UID);
/// - `series[].recurrence` for Graph only (`graph = true`): Graph has no RRULE, the provider
///   writes its pattern/range as one (e.g. `WKST` from `firstDayOfWeek`, `UNTIL` at the end of
///   the range's last day), which means the same occurrences but is spelled differently.
///
/// - the `id` of `series_ending` alerts: `store/alerts.rs` derives an alert id from kind, report
///   and episode, and the episode of `series_ending` is `<series event_id>|<last occurrence>`
///   (`cadence/analyse.rs`: a different series ending is a new episode), so it embeds the
///   provider's event id. Every other alert's episode is a time, and its id must agree;
/// - with `foreign_uids`, the `id` of `skipped` alerts: their episode is `<uid>|<start>`, and a
///   calendar whose items carry the provider's own UIDs (Exchange GlobalObjectIds) cannot give
///   the .ics UIDs.
fn masked(report: &Value, graph: bool, foreign_uids: bool) -> Value {
    let mut r = report.clone();
    for a in r["accounts"].as_array_mut().unwrap() {
        a["name"] = json!("*");
    }
    for a in r["alerts"].as_array_mut().unwrap() {
        if a["kind"] == "series_ending" || (foreign_uids && a["kind"] == "skipped") {
            a["id"] = json!("*");
        }
    }
    for rep in r["reports"].as_array_mut().unwrap() {
        if let Some(series) = rep["series"].as_array_mut() {
            for s in series {
                s["account"] = json!("*");
                s["event_id"] = json!("*");
                if graph {
                    s["recurrence"] = json!("*");
                }
            }
        }
    }
    r
}

/// Field-by-field differences (paths), for a readable failure.
fn diff(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                diff(
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    &format!("{path}.{k}"),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                diff(p, q, &format!("{path}[{i}]"), out);
            }
        }
        _ if a != b => out.push(format!("{path}: ics {a} ≠ provider {b}")),
        _ => {}
    }
}

fn assert_same(name: &str, ics: &Value, provider: &Value, graph: bool, foreign_uids: bool) {
    let (a, b) = (
        masked(ics, graph, foreign_uids),
        masked(provider, graph, foreign_uids),
    );
    let mut d = Vec::new();
    diff(&a, &b, "", &mut d);
    assert!(
        d.is_empty(),
        "{name}: report differs from the .ics one:\n{}\n\nics: {}\n{name}: {}",
        d.join("\n"),
        serde_json::to_string_pretty(&a).unwrap(),
        serde_json::to_string_pretty(&b).unwrap()
    );
}

/// Every report must have been worth comparing: some sessions, and the alerts non-empty.
fn assert_meaningful(report: &Value, kinds: &[&str]) {
    let alerts: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    for k in kinds {
        assert!(alerts.contains(k), "no {k} alert in {alerts:?}");
    }
}

/// The .ics without the VEVENTs of `uids` (what a provider could not hold), in a temp file.
fn without_events(ics: &Path, uids: &[String], dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(ics).unwrap();
    let mut out = String::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        if line == "BEGIN:VEVENT" {
            block = Some(String::new());
        }
        match &mut block {
            Some(b) => {
                b.push_str(line);
                b.push_str("\r\n");
                if line == "END:VEVENT" {
                    let b = block.take().unwrap();
                    let keep = !b.lines().any(|l| {
                        l.strip_prefix("UID:")
                            .is_some_and(|u| uids.iter().any(|x| x == u))
                    });
                    if keep {
                        out.push_str(&b);
                    }
                }
            }
            None => {
                out.push_str(line);
                out.push_str("\r\n");
            }
        }
    }
    let path = dir.join("reference.ics");
    std::fs::write(&path, out).unwrap();
    path
}

/// The uids named by the converter's "left out" lines (`<uid>: <reason>`).
fn uids_of(left_out: &[String]) -> Vec<String> {
    let mut v: Vec<String> = left_out
        .iter()
        .map(|l| l.split(": ").next().unwrap().to_string())
        .collect();
    v.sort();
    v.dedup();
    v
}

fn sorted(v: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// The ICS report of the calendar as the provider could hold it: the whole calendar, or, when
/// the converter left some series out for that provider, the calendar without them.
fn reference_for(config: &str, ics: &Path, now: &str, left_out: &[String]) -> Value {
    if left_out.is_empty() {
        return ics_report(config, ics, now);
    }
    let dir = tempfile::tempdir().unwrap();
    let filtered = without_events(ics, &uids_of(left_out), dir.path());
    ics_report(config, &filtered, now)
}

/// Runs the three sources; `google_left_out`/`graph_left_out` are the uids each provider is
/// expected to leave out (and why, in the callers' comments).
fn check_all(
    config: &str,
    ics: &Path,
    now: &str,
    kinds: &[&str],
    google_left_out: &[&str],
    graph_left_out: &[&str],
) {
    let manager = config
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("email = \"")
                .and_then(|r| r.split('"').next())
        })
        .unwrap()
        .to_string();
    let events = read_events(ics);
    let reference = ics_report(config, ics, now);
    assert_meaningful(&reference, kinds);

    let google_flavours = [
        Flavour::default(),
        Flavour {
            google_offsets: Some(chrono_tz::America::Chicago),
            google_utc_dates: true,
            google_exdate_tombstones: true,
            google_exceptions_first: true,
            two_rounds: true,
            ..Flavour::default()
        },
    ];
    for fl in google_flavours {
        let (google, left_out) = google_report(config, &events, &manager, now, fl);
        assert_eq!(
            uids_of(&left_out),
            sorted(google_left_out),
            "google left out: {left_out:?}"
        );
        assert_same(
            &format!("google {fl:?}"),
            &reference_for(config, ics, now, &left_out),
            &google,
            false,
            false,
        );
    }

    let graph_flavours = [
        Flavour::default(),
        Flavour {
            graph_iana: true,
            graph_exchange_uids: true,
            graph_attendee_copies_of: Some(Box::leak(manager.clone().into_boxed_str())),
            // East of UTC: midnight there is the previous day in UTC.
            graph_all_day_zone: Some(chrono_tz::Asia::Tokyo),
            two_rounds: true,
            ..Flavour::default()
        },
        Flavour {
            two_rounds: true,
            silent_cancellations: true,
            ..Flavour::default()
        },
    ];
    for fl in graph_flavours {
        let (graph, left_out) = graph_report(config, &events, now, fl);
        assert_eq!(
            uids_of(&left_out),
            sorted(graph_left_out),
            "graph left out: {left_out:?}"
        );
        assert_same(
            &format!("microsoft {fl:?}"),
            &reference_for(config, ics, now, &left_out),
            &graph,
            true,
            fl.graph_exchange_uids,
        );
    }
}

#[test]
fn example_calendar_gives_the_same_report_from_every_provider() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config/example.toml")).unwrap();
    check_all(
        &config,
        &root.join("config/example.ics"),
        "2026-11-24T09:00:00+09:00",
        &[
            "gap",
            "skipped",
            "uneven",
            "irregular",
            "series_ending",
            "no_series",
        ],
        &[],
        &[],
    );
}

/// A second, more varied calendar: manager in New York (DST ends on 2026-11-01 inside the
/// lookback), a weekly series with a room, an EXDATE, a moved exception, an occurrence the report
/// declined and one cancelled; a monthly relative series (`BYDAY=2WE`) the report organizes, with
/// an occurrence the manager declined; a biweekly series in Europe/Berlin with `COUNT` and
/// `WKST=SU` whose attendee is the report's alias (and which ends soon); a series in Asia/Tokyo
/// with an extra `RDATE`; an all-day 1on1; ad-hoc 1on1s in UTC (irregular); a report with nothing
/// (no_series); a skip-level 1on1 with someone outside the roster (a candidate); a staff meeting;
/// an early-morning Tokyo series (its dates differ from UTC's) with EXDATEs, a cancelled
/// occurrence and one moved to the evening before; an all-day biweekly series with a DATE EXDATE
/// and an occurrence moved a day earlier that the manager declined; an ad-hoc 1on1 the report
/// organized and then cancelled (Graph keeps it as an `isCancelled` item in the attendee's copy).
#[test]
fn varied_calendar_gives_the_same_report_from_every_provider() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = r#"
[manager]
email = "mika@example.com"
name = "Mika"
timezone = "America/New_York"

[[reports]]
email = "ana@example.com"
name = "Ana"

[[reports]]
email = "ben@example.com"
name = "Ben"

[[reports]]
email = "chloe@example.com"
name = "Chloe"
aliases = ["chloe.martin@example.org"]

[[reports]]
email = "dev@example.com"
name = "Dev"
cadence = "biweekly"

[[reports]]
email = "eve@example.com"
name = "Eve"

[[reports]]
email = "finn@example.com"
name = "Finn"

[[reports]]
email = "gus@example.com"
name = "Gus"

[[reports]]
email = "hana@example.com"
name = "Hana"

[[accounts]]
name = "placeholder"
provider = "ics"
path = "placeholder.ics"

[cadence]
default = "biweekly"
grace = 0.5
uneven_ratio = 0.5
lookback = "90d"
"#;
    check_all(
        config,
        &root.join("tests/fixtures/cross_provider_team.ics"),
        "2026-11-24T09:00:00-05:00",
        &[
            "skipped",
            "uneven",
            "irregular",
            "series_ending",
            "no_series",
        ],
        // Google: a cancelled single event is a bare tombstone there (see `to_google`).
        &["eve-20261027-cancelled@example.com"],
        // Graph: Dev's series has an RDATE, which Graph's pattern/range model cannot hold.
        &["dev-biweekly@example.com"],
    );
}
