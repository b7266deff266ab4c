//! `freeBusy.query`, `events.insert` and `events.delete` for the Google fake
//! (docs/scheduling.md, "Free/busy requests" and "Booking"):
//!
//! - **freeBusy** `POST /calendar/v3/freeBusy`: `timeMin`/`timeMax` RFC 3339 with an offset
//!   (else 400 `badRequest` "Bad Request", observed); `timeMax <= timeMin` → 400
//!   `calendar`/`timeRangeEmpty` at `timeMax`; a window over 60 days → 400 `timeRangeTooLong`
//!   (FAKE-CHOICE); at most 50 items, the surplus answered per calendar with
//!   `tooManyCalendarsRequested` (FAKE-CHOICE). Per item: the caller's own calendars, the
//!   calendars in its calendarList and calendars shared for free/busy
//!   ([`super::FakeGoogle::share_free_busy`]) answer `busy`; an unknown or unshared id answers
//!   `{"errors":[{"domain":"global","reason":"notFound"}],"busy":[]}` (FAKE-CHOICE, HTTP 200).
//!   Busy = stored, non-cancelled, opaque events (`transparency` other than `transparent`),
//!   `workingLocation` never, declined by the owner never, tentative/needsAction/accepted yes
//!   (FAKE-CHOICE); opaque all-day events from local midnight to local midnight in the
//!   calendar's zone; series expanded (DAILY/WEEKLY with INTERVAL, COUNT, UNTIL, BYDAY) with
//!   their cancelled and moved instances applied; periods merged (overlapping and touching),
//!   clipped to the window, rendered in `timeZone` (default UTC); bounds echoed in UTC with
//!   milliseconds.
//! - **events.insert** `POST /calendar/v3/calendars/{id}/events`: `start` and `end` required
//!   (400 `required`); a client `id` must match `^[a-v0-9]{5,1024}$` (400 `invalid`) and be new,
//!   deleted ones included (409 `duplicate`); `sendUpdates` must be all|externalOnly|none; the
//!   event is stored like any other (it shows in the next sync and in free/busy); each attendee
//!   that is an account of the fake gets a copy in its primary calendar (same id); with
//!   `sendUpdates=all` one `invite` per attendee goes to the outbox ([`super::FakeGoogle::outbox`]).
//! - **events.delete** `DELETE /calendar/v3/calendars/{id}/events/{eventId}`: 204, the event
//!   becomes a tombstone, attendee copies are removed, `cancel` records per `sendUpdates`; a
//!   second delete → 410 `deleted`; unknown → 404 `notFound`.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::errors::{self, Reply};
use super::state::State;
use super::time;

/// Google's `calendarExpansionMax` ceiling.
pub const MAX_ITEMS: usize = 50;
/// FAKE-CHOICE: windows longer than this are `timeRangeTooLong`.
pub const MAX_WINDOW_DAYS: i64 = 60;

/// The fake's free/busy and insert bookkeeping.
#[derive(Debug, Default)]
pub struct FreeBusyState {
    /// Calendars whose free/busy anyone may read.
    pub shared: HashSet<String>,
    /// `(kind, attendee, event id)`: `invite` / `cancel` notifications sent.
    pub outbox: Vec<(String, String, String)>,
}

fn span(a: DateTime<Utc>, b: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    (b > a).then_some((a, b))
}

/// The busy periods of a calendar in `[from, to)`, merged and clipped.
pub fn busy_of(
    st: &State,
    calendar: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let cal = st.calendar(calendar);
    let tz = cal.tz;
    let owner = st
        .accounts
        .values()
        .find(|a| a.calendars.first().map(String::as_str) == Some(calendar))
        .map(|a| a.email.to_lowercase());
    let counts = |r: &Value| {
        r["status"].as_str() != Some("cancelled")
            && r["transparency"].as_str() != Some("transparent")
            && r["eventType"].as_str() != Some("workingLocation")
            && !r["attendees"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    (x["self"].as_bool() == Some(true)
                        || owner.as_deref().is_some_and(|o| {
                            x["email"]
                                .as_str()
                                .is_some_and(|e| e.eq_ignore_ascii_case(o))
                        }))
                        && x["responseStatus"].as_str() == Some("declined")
                })
            })
    };
    let resources: Vec<&Value> = cal.events.values().map(|e| &e.resource).collect();
    let mut periods = Vec::new();
    for r in &resources {
        if !counts(r) {
            continue;
        }
        let Some((start, end)) = times(r, tz) else {
            continue;
        };
        match r.get("recurrence").and_then(Value::as_array) {
            None => periods.extend(span(start, end)),
            Some(rules) => {
                let id = r["id"].as_str().unwrap_or("");
                // Instances replaced or cancelled by their own resources.
                let replaced: HashSet<DateTime<Utc>> = resources
                    .iter()
                    .filter(|x| x["recurringEventId"].as_str() == Some(id))
                    .filter_map(|x| {
                        let o = x.get("originalStartTime")?;
                        match o.get("date").and_then(Value::as_str) {
                            Some(d) => local_midnight(d, tz),
                            None => time::edt_instant(o, tz),
                        }
                    })
                    .collect();
                let length = end - start;
                for s in expand(r, rules, tz, to) {
                    if !replaced.contains(&s) {
                        periods.extend(span(s, s + length));
                    }
                }
            }
        }
    }
    periods.retain(|(a, b)| *b > from && *a < to);
    for p in &mut periods {
        p.0 = p.0.max(from);
        p.1 = p.1.min(to);
    }
    periods.sort();
    let mut merged: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (a, b) in periods {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
}

fn local_midnight(date: &str, tz: Tz) -> Option<DateTime<Utc>> {
    let d = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_time(chrono::NaiveTime::MIN))
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The event's own start and end (all-day: local midnights in the calendar's zone).
fn times(r: &Value, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let at = |k: &str| {
        let v = r.get(k)?;
        match v.get("date").and_then(Value::as_str) {
            Some(d) => local_midnight(d, tz),
            None => time::edt_instant(v, tz),
        }
    };
    Some((at("start")?, at("end")?))
}

/// The starts of a master's instances up to `to` (DAILY/WEEKLY; others: the first only).
fn expand(master: &Value, rules: &[Value], cal_tz: Tz, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let start = &master["start"];
    let zone = start
        .get("timeZone")
        .and_then(Value::as_str)
        .and_then(time::parse_tz)
        .unwrap_or(cal_tz);
    let first_local: NaiveDateTime = match start.get("date").and_then(Value::as_str) {
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => d.and_time(chrono::NaiveTime::MIN),
            Err(_) => return Vec::new(),
        },
        None => match time::edt_instant(start, zone) {
            Some(t) => t.with_timezone(&zone).naive_local(),
            None => return Vec::new(),
        },
    };
    let to_utc = |l: NaiveDateTime| {
        zone.from_local_datetime(&l)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let Some(rule) = rules
        .iter()
        .filter_map(Value::as_str)
        .find_map(|l| l.strip_prefix("RRULE:"))
    else {
        return to_utc(first_local).into_iter().collect();
    };
    let mut freq = "";
    let mut interval = 1i64;
    let mut count: Option<usize> = None;
    let mut until: Option<DateTime<Utc>> = None;
    let mut byday: Vec<Weekday> = Vec::new();
    for part in rule.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k {
            "FREQ" => freq = v,
            "INTERVAL" => interval = v.parse().unwrap_or(1).max(1),
            "COUNT" => count = v.parse().ok(),
            "UNTIL" => {
                until = time::series_until(&[json!(format!("RRULE:UNTIL={v}"))], zone);
            }
            "BYDAY" => {
                byday = v
                    .split(',')
                    .filter_map(|d| {
                        Some(match &d[d.len().saturating_sub(2)..] {
                            "MO" => Weekday::Mon,
                            "TU" => Weekday::Tue,
                            "WE" => Weekday::Wed,
                            "TH" => Weekday::Thu,
                            "FR" => Weekday::Fri,
                            "SA" => Weekday::Sat,
                            "SU" => Weekday::Sun,
                            _ => return None,
                        })
                    })
                    .collect();
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    let limit = until.map_or(to, |u| u.min(to));
    let mut emitted = 0usize;
    let mut push = |l: NaiveDateTime, out: &mut Vec<DateTime<Utc>>| -> bool {
        if count.is_some_and(|c| emitted >= c) {
            return false;
        }
        let Some(t) = to_utc(l) else { return true };
        if t > limit {
            return false;
        }
        emitted += 1;
        out.push(t);
        true
    };
    match freq {
        "DAILY" => {
            let mut l = first_local;
            while push(l, &mut out) {
                l += Duration::days(interval);
            }
        }
        "WEEKLY" => {
            let days = if byday.is_empty() {
                vec![first_local.weekday()]
            } else {
                byday
            };
            let monday = first_local.date()
                - Duration::days(i64::from(first_local.weekday().num_days_from_monday()));
            let mut week = 0i64;
            'weeks: loop {
                let base = monday + Duration::weeks(week * interval);
                let mut in_week: Vec<NaiveDateTime> = days
                    .iter()
                    .map(|d| {
                        (base + Duration::days(i64::from(d.num_days_from_monday())))
                            .and_time(first_local.time())
                    })
                    .filter(|l| *l >= first_local)
                    .collect();
                in_week.sort();
                for l in in_week {
                    if !push(l, &mut out) {
                        break 'weeks;
                    }
                }
                week += 1;
                if week > 2000 {
                    break;
                }
            }
        }
        _ => {
            push(first_local, &mut out);
        }
    }
    out
}

fn render(t: DateTime<Utc>, tz: Option<Tz>) -> String {
    match tz {
        Some(tz) => t
            .with_timezone(&tz)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    }
}

/// Whether `account` may read the free/busy of `calendar`.
fn visible(st: &State, account: &str, calendar: &str) -> bool {
    st.calendars.contains_key(calendar)
        && (st.free_busy.shared.contains(calendar)
            || st
                .accounts
                .get(account)
                .is_some_and(|a| a.calendars.iter().any(|c| c == calendar)))
}

pub fn query(st: &State, account: &str, body: &[u8]) -> Reply {
    let bad = || errors::calendar_error(400, "global", "badRequest", "Bad Request", None);
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return errors::calendar_error(400, "global", "parseError", "Parse Error", None);
    };
    let bound = |k: &str| v[k].as_str().and_then(time::parse_rfc3339);
    let (Some(from), Some(to)) = (bound("timeMin"), bound("timeMax")) else {
        return bad();
    };
    if to <= from {
        return errors::calendar_error(
            400,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
            Some(("parameter", "timeMax")),
        );
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return errors::calendar_error(
            400,
            "global",
            "timeRangeTooLong",
            "The requested time range is too long.",
            None,
        );
    }
    let tz = match v.get("timeZone").and_then(Value::as_str) {
        None | Some("UTC") => None,
        Some(name) => match time::parse_tz(name) {
            Some(tz) => Some(tz),
            None => return bad(),
        },
    };
    let items = v["items"].as_array().cloned().unwrap_or_default();
    let mut calendars = serde_json::Map::new();
    for (i, item) in items.iter().enumerate() {
        let Some(id) = item["id"].as_str() else {
            return bad();
        };
        let resolved = if id == "primary" {
            st.accounts
                .get(account)
                .and_then(|a| a.calendars.first().cloned())
        } else {
            st.calendars
                .keys()
                .find(|k| k.eq_ignore_ascii_case(id))
                .cloned()
        };
        let entry = if i >= MAX_ITEMS {
            json!({"errors": [{"domain": "global", "reason": "tooManyCalendarsRequested"}], "busy": []})
        } else {
            match resolved.filter(|c| visible(st, account, c)) {
                None => {
                    json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
                }
                Some(c) => json!({"busy": busy_of(st, &c, from, to)
                    .into_iter()
                    .map(|(a, b)| json!({"start": render(a, tz), "end": render(b, tz)}))
                    .collect::<Vec<_>>()}),
            }
        };
        calendars.insert(id.to_string(), entry);
    }
    Reply::ok(json!({
        "kind": "calendar#freeBusy",
        "timeMin": time::google_timestamp(from),
        "timeMax": time::google_timestamp(to),
        "calendars": calendars,
    }))
}

fn send_updates(q: Option<&str>) -> Result<String, Reply> {
    match q {
        None => Ok("false".into()),
        Some(v @ ("all" | "externalOnly" | "none")) => Ok(v.to_string()),
        Some(v) => Err(errors::invalid_parameter(
            "sendUpdates",
            &format!("Invalid value '{v}'"),
        )),
    }
}

fn attendees(ev: &Value) -> Vec<String> {
    ev["attendees"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["email"].as_str().map(str::to_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

pub fn insert(
    st: &mut State,
    account: &str,
    calendar: &str,
    send: Option<&str>,
    body: &[u8],
) -> Reply {
    let Ok(mut ev) = serde_json::from_slice::<Value>(body) else {
        return errors::calendar_error(400, "global", "parseError", "Parse Error", None);
    };
    let send = match send_updates(send) {
        Ok(s) => s,
        Err(r) => return r,
    };
    for k in ["start", "end"] {
        if ev.get(k).is_none_or(|v| !v.is_object()) {
            return errors::calendar_error(
                400,
                "global",
                "required",
                &format!("Missing {k} time."),
                None,
            );
        }
    }
    if let Some(id) = ev.get("id").and_then(Value::as_str) {
        let ok = (5..=1024).contains(&id.len())
            && id.bytes().all(|b| matches!(b, b'a'..=b'v' | b'0'..=b'9'));
        if !ok {
            return errors::calendar_error(
                400,
                "global",
                "invalid",
                "Invalid resource id value.",
                None,
            );
        }
        if st.calendar(calendar).events.contains_key(id) {
            return errors::calendar_error(
                409,
                "global",
                "duplicate",
                "The requested identifier already exists.",
                None,
            );
        }
    }
    if let Some(o) = ev.as_object_mut() {
        o.remove("status");
    }
    let stored = st.insert_event(calendar, ev);
    let id = stored["id"].as_str().unwrap_or_default().to_string();
    let organizer = account.to_lowercase();
    for who in attendees(&stored) {
        if who == organizer {
            continue;
        }
        if let Some(primary) = st
            .accounts
            .values()
            .find(|a| a.email.eq_ignore_ascii_case(&who))
            .and_then(|a| a.calendars.first().cloned())
            && primary != calendar
        {
            let mut copy = stored.clone();
            if let Some(o) = copy.as_object_mut() {
                o.remove("extendedProperties");
                o.remove("etag");
            }
            copy["organizer"] = json!({"email": account});
            if !st.calendar(&primary).events.contains_key(&id) {
                st.insert_event(&primary, copy);
            }
        }
        if send == "all" {
            st.free_busy
                .outbox
                .push(("invite".into(), who.clone(), id.clone()));
        }
    }
    Reply::ok(stored)
}

pub fn delete(
    st: &mut State,
    account: &str,
    calendar: &str,
    id: &str,
    send: Option<&str>,
) -> Reply {
    let send = match send_updates(send) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(ev) = st
        .calendar(calendar)
        .events
        .get(id)
        .map(|e| e.resource.clone())
    else {
        return errors::not_found();
    };
    if ev["status"].as_str() == Some("cancelled") {
        return errors::calendar_error(410, "global", "deleted", "Resource has been deleted", None);
    }
    st.delete_event(calendar, id);
    let organizer = account.to_lowercase();
    for who in attendees(&ev) {
        if who == organizer {
            continue;
        }
        if let Some(primary) = st
            .accounts
            .values()
            .find(|a| a.email.eq_ignore_ascii_case(&who))
            .and_then(|a| a.calendars.first().cloned())
            && primary != calendar
            && st
                .calendar(&primary)
                .events
                .get(id)
                .is_some_and(|e| !e.cancelled())
        {
            st.delete_event(&primary, id);
        }
        if send == "all" {
            st.free_busy
                .outbox
                .push(("cancel".into(), who.clone(), id.to_string()));
        }
    }
    Reply {
        status: 204,
        body: Value::Null,
        headers: Vec::new(),
        raw: Some(String::new()),
    }
}
