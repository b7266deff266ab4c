//! `getSchedule`, `POST /me/events`, `DELETE /me/events/{id}` and `GET /me/events?$filter=`
//! (by a single-value extended property) for the Graph fake (docs/scheduling.md,
//! "Free/busy requests" and "Booking"):
//!
//! - **getSchedule** `POST /me/calendar/getSchedule` (and `/users/{x}/…`): more than 100
//!   schedules → 400 `ErrorMailboxDataArrayTooBig` (FAKE-CHOICE status); a window of 62 days or
//!   more → 400 `ErrorTimeIntervalTooBig`; `availabilityViewInterval` 5–1440 (default 30), `null`
//!   → 500. Per schedule: the mailbox owner's items come from its stored events (calendarView
//!   expansion; `showAs` default busy, `free` items included, cancelled and declined ones left
//!   out); other users are seeded with [`super::FakeGraph::add_schedule`] (their items, working
//!   hours) and also get the events created with them as attendees; anyone else →
//!   `error {message: "Unable to resolve e-mail address <x> to an Active Directory object.",
//!   responseCode: "5009"}` with no items (HTTP 200). `availabilityView` per slot with
//!   oof(3) > busy(2) > tentative(1) > free/workingElsewhere(0). Times in UTC (the `Prefer`
//!   zone is not applied: a simplification). [`super::FakeGraph::omit_working_hours`] drops
//!   `workingHours` (it is sometimes absent in reality).
//! - **POST /me/events**: 201 with the event; `start`/`end` required (400
//!   `ErrorInvalidRequest`); a `transactionId` seen before → 201 with the existing event and no
//!   new invitations (counted); `singleValueExtendedProperties` stored beside the event; the
//!   owner organizes; one `invite` per attendee in the outbox ([`super::FakeGraph::outbox`]).
//! - **DELETE /me/events/{id}**: 204; `cancel` per attendee; unknown or already deleted → 404
//!   `ErrorItemNotFound`.
//! - **GET /me/events** with `$filter=singleValueExtendedProperties/Any(ep: ep/id eq '<id>' and
//!   ep/value eq '<v>')`: the live events carrying that value; any other `$filter` → 400.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use super::errors::{self, Reply};
use super::state::State;
use super::{Attendee, NewEvent, recur};

/// A schedule item: start, end, status, and the event that made it (if created by a POST).
pub type Item = (DateTime<Utc>, DateTime<Utc>, String, Option<String>);
/// An item without its event.
type Busy = (DateTime<Utc>, DateTime<Utc>, String);

/// Another user's mailbox as getSchedule sees it.
#[derive(Debug, Clone, Default)]
pub struct Mailbox {
    /// `(start, end, status, event id)`.
    pub items: Vec<Item>,
    /// Graph `workingHours`.
    pub working_hours: Value,
}

#[derive(Debug, Default)]
pub struct ScheduleState {
    /// Lower-case address → mailbox.
    pub mailboxes: BTreeMap<String, Mailbox>,
    pub omit_working_hours: bool,
    /// The owner's own working hours (default Mon–Fri 08:00–17:00 UTC).
    pub owner_hours: Option<Value>,
    /// transactionId → event id.
    pub transactions: BTreeMap<String, String>,
    pub duplicate_posts: usize,
    /// `(kind, attendee, event id)`.
    pub outbox: Vec<(String, String, String)>,
    /// Created event id → its attendees.
    pub created: BTreeMap<String, Vec<String>>,
}

pub fn default_hours(zone: &str) -> Value {
    json!({
        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "startTime": "08:00:00.0000000",
        "endTime": "17:00:00.0000000",
        "timeZone": {"name": zone},
    })
}

fn parse_dttz(v: &Value) -> Option<DateTime<Utc>> {
    let text = v["dateTime"].as_str()?;
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .ok()?;
    let tz = recur::zone(v["timeZone"].as_str().unwrap_or("UTC"))?;
    Some(recur::local_to_utc(local, tz))
}

fn fmt(t: DateTime<Utc>) -> String {
    format!("{}.0000000", t.format("%Y-%m-%dT%H:%M:%S"))
}

/// The owner's items in `[ws, we)` from the stored events.
fn owner_items(
    st: &State,
    ws: DateTime<Utc>,
    we: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, DateTime<Utc>, String)> {
    let mut out = Vec::new();
    for i in st.snapshot_view(ws, we) {
        let Some(ev) = st.get_event(&i.id, false, false) else {
            continue;
        };
        if ev["isCancelled"].as_bool() == Some(true)
            || ev["responseStatus"]["response"].as_str() == Some("declined")
        {
            continue;
        }
        let status = ev["showAs"].as_str().unwrap_or("busy").to_string();
        out.push((i.start, i.end, status));
    }
    out
}

fn digit(status: &str) -> u8 {
    match status.to_ascii_lowercase().as_str() {
        "oof" => 3,
        "busy" => 2,
        "tentative" => 1,
        _ => 0,
    }
}

pub fn get_schedule(st: &State, body: &[u8], rid: &str) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return errors::graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload.",
            rid,
        );
    };
    let schedules: Vec<String> = v["schedules"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if schedules.len() > 100 {
        return errors::graph_error(
            400,
            "ErrorMailboxDataArrayTooBig",
            &format!(
                "There are too many target users in the EmailAddress array. The allowed size = 100; the actual size = {}.",
                schedules.len()
            ),
            rid,
        );
    }
    let (Some(ws), Some(we)) = (parse_dttz(&v["startTime"]), parse_dttz(&v["endTime"])) else {
        return errors::graph_error(
            400,
            "ErrorInvalidRequest",
            "startTime and endTime are required.",
            rid,
        );
    };
    if we - ws >= Duration::days(62) {
        return errors::graph_error(
            400,
            "ErrorTimeIntervalTooBig",
            &format!(
                "The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. The allowed limit = 62 days; the actual limit = {} days.",
                (we - ws).num_days()
            ),
            rid,
        );
    }
    let interval = match v.get("availabilityViewInterval") {
        None => 30,
        Some(Value::Null) => {
            return errors::graph_error(
                500,
                "ErrorInternalServerError",
                "An internal server error occurred.",
                rid,
            );
        }
        Some(n) => match n.as_i64() {
            Some(n) if (5..=1440).contains(&n) => n,
            _ => {
                return errors::graph_error(
                    400,
                    "ErrorInvalidParameter",
                    "availabilityViewInterval must be between 5 and 1440.",
                    rid,
                );
            }
        },
    };
    let s = &st.writes.schedule;
    let value: Vec<Value> = schedules
        .iter()
        .map(|who| {
            let lower = who.to_lowercase();
            let (items, hours): (Vec<Busy>, Value) =
                if lower == st.default_user.to_lowercase() {
                    (
                        owner_items(st, ws, we),
                        s.owner_hours.clone().unwrap_or_else(|| default_hours("UTC")),
                    )
                } else if let Some(m) = s.mailboxes.get(&lower) {
                    (
                        m.items
                            .iter()
                            .filter(|(a, b, _, _)| *a < we && *b > ws)
                            .map(|(a, b, st, _)| (*a, *b, st.clone()))
                            .collect(),
                        m.working_hours.clone(),
                    )
                } else {
                    return json!({
                        "scheduleId": who,
                        "availabilityView": "",
                        "error": {
                            "message": format!("Unable to resolve e-mail address {who} to an Active Directory object."),
                            "responseCode": "5009",
                        },
                    });
                };
            let slots = ((we - ws).num_minutes() + interval - 1) / interval;
            let view: String = (0..slots)
                .map(|k| {
                    let a = ws + Duration::minutes(k * interval);
                    let b = a + Duration::minutes(interval);
                    let d = items
                        .iter()
                        .filter(|(s, e, _)| *s < b && *e > a)
                        .map(|(_, _, st)| digit(st))
                        .max()
                        .unwrap_or(0);
                    char::from(b'0' + d)
                })
                .collect();
            let mut info = json!({
                "scheduleId": who,
                "availabilityView": view,
                "scheduleItems": items.iter().map(|(a, b, status)| json!({
                    "isPrivate": false,
                    "status": status,
                    "start": {"dateTime": fmt(*a), "timeZone": "UTC"},
                    "end": {"dateTime": fmt(*b), "timeZone": "UTC"},
                })).collect::<Vec<_>>(),
            });
            if !s.omit_working_hours {
                info["workingHours"] = hours;
            }
            info
        })
        .collect();
    Reply::ok(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(microsoft.graph.scheduleInformation)",
        "value": value,
    }))
}

fn created_reply(st: &State, id: &str) -> Reply {
    let mut body = st.get_event(id, false, false).unwrap_or(Value::Null);
    if let Some(t) = st
        .writes
        .schedule
        .transactions
        .iter()
        .find(|(_, e)| *e == id)
        .map(|(t, _)| t.clone())
    {
        body["transactionId"] = json!(t);
    }
    Reply {
        status: 201,
        body,
        headers: Vec::new(),
    }
}

pub fn create_event(st: &mut State, body: &[u8], rid: &str) -> Reply {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return errors::graph_error(
            400,
            "BadRequest",
            "Unable to read JSON request payload.",
            rid,
        );
    };
    if let Some(t) = v["transactionId"].as_str()
        && let Some(id) = st.writes.schedule.transactions.get(t).cloned()
        && st.events.contains_key(&id)
    {
        st.writes.schedule.duplicate_posts += 1;
        return created_reply(st, &id);
    }
    let (Some(start), Some(end)) = (parse_dttz(&v["start"]), parse_dttz(&v["end"])) else {
        return errors::graph_error(
            400,
            "ErrorInvalidRequest",
            "Your request can't be completed. The start and end of the event are required.",
            rid,
        );
    };
    let attendees: Vec<String> = v["attendees"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["emailAddress"]["address"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let mut extra = Map::new();
    for k in ["body", "showAs", "isOnlineMeeting", "location"] {
        if let Some(x) = v.get(k) {
            extra.insert(k.to_string(), x.clone());
        }
    }
    let ev = NewEvent {
        subject: v["subject"].as_str().unwrap_or("").to_string(),
        start: start.naive_utc(),
        end: end.naive_utc(),
        time_zone: "UTC".into(),
        attendees: attendees
            .iter()
            .map(|a| Attendee {
                name: a.clone(),
                address: a.clone(),
                kind: "required".into(),
                response: "none".into(),
            })
            .collect(),
        organizer: None,
        extra,
    };
    let id = st.add_event(&ev);
    if let Some(props) = v["singleValueExtendedProperties"].as_array() {
        for p in props {
            if let (Some(pid), Some(val)) = (p["id"].as_str(), p["value"].as_str()) {
                st.writes
                    .extended
                    .insert((id.clone(), pid.to_string()), val.to_string());
            }
        }
    }
    if let Some(t) = v["transactionId"].as_str() {
        st.writes
            .schedule
            .transactions
            .insert(t.to_string(), id.clone());
    }
    let sched = &mut st.writes.schedule;
    for a in &attendees {
        sched
            .outbox
            .push(("invite".into(), a.to_lowercase(), id.clone()));
        if let Some(m) = sched.mailboxes.get_mut(&a.to_lowercase()) {
            m.items.push((start, end, "busy".into(), Some(id.clone())));
        }
    }
    sched.created.insert(id.clone(), attendees);
    created_reply(st, &id)
}

pub fn delete_event(st: &mut State, id: &str, rid: &str) -> Reply {
    if !st.events.contains_key(id) {
        return errors::graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            rid,
        );
    }
    let attendees: Vec<String> = st
        .get_event(id, false, false)
        .and_then(|e| e["attendees"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a["emailAddress"]["address"].as_str().map(str::to_lowercase))
        .collect();
    st.delete_event(id);
    let sched = &mut st.writes.schedule;
    for a in attendees {
        sched
            .outbox
            .push(("cancel".into(), a.clone(), id.to_string()));
        if let Some(m) = sched.mailboxes.get_mut(&a) {
            m.items.retain(|(_, _, _, e)| e.as_deref() != Some(id));
        }
    }
    Reply {
        status: 204,
        body: Value::Null,
        headers: Vec::new(),
    }
}

pub fn list_events(st: &State, filter: Option<&str>, rid: &str) -> Reply {
    let Some(filter) = filter else {
        let value: Vec<Value> = st
            .events
            .keys()
            .filter_map(|id| st.get_event(id, false, false))
            .collect();
        return Reply::ok(json!({"value": value}));
    };
    let grab = |key: &str| {
        let at = filter.find(key)? + key.len();
        let rest = &filter[at..];
        let end = rest.find('\'')?;
        Some(rest[..end].to_string())
    };
    let (Some(pid), Some(val)) = (grab("ep/id eq '"), grab("ep/value eq '")) else {
        return errors::graph_error(400, "BadRequest", "Invalid filter clause", rid);
    };
    let value: Vec<Value> = st
        .writes
        .extended
        .iter()
        .filter(|((id, p), v)| {
            p.eq_ignore_ascii_case(&pid) && **v == val && st.events.contains_key(id)
        })
        .filter_map(|((id, _), _)| st.get_event(id, false, false))
        .collect();
    Reply::ok(json!({"value": value}))
}
