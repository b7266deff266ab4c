use super::*;
use chrono::NaiveDate;

/// The tests build items as JSON values; the provider reads them raw from the page.
fn map_item(
    v: &serde_json::Value,
    calendar: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    super::map_item(&serde_json::value::to_raw_value(v).unwrap(), calendar, warn)
}

fn items(json: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    match v {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(_) if v.get("items").is_some() => {
            v["items"].as_array().unwrap().clone()
        }
        other => vec![other],
    }
}

fn map_all(json: &str) -> Vec<Mapped> {
    items(json)
        .iter()
        .map(|i| map_item(i, "primary", &mut |w| panic!("unexpected warning: {w}")).unwrap())
        .collect()
}

fn upsert(m: &Mapped) -> &Event {
    match m {
        Mapped::Upsert(e) => e,
        other => panic!("expected an upsert, got {other:?}"),
    }
}

fn local(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_opt(h, mi, 0)
        .unwrap()
}

#[test]
fn all_day_event() {
    let m = map_all(include_str!("../testdata/event-allday.json"));
    let e = upsert(&m[0]);
    assert_eq!(
        e.start,
        EventTime::Date {
            date: NaiveDate::from_ymd_opt(2022, 2, 22).unwrap()
        }
    );
    assert_eq!(
        e.end,
        EventTime::Date {
            date: NaiveDate::from_ymd_opt(2022, 2, 23).unwrap()
        }
    );
    assert_eq!(e.uid, "1evdi8c1s5knlt5ofhncl654u9@google.com");
    assert_eq!(e.event_id, "1evdi8c1s5knlt5ofhncl654u9");
    assert_eq!(e.summary, "Feb 22");
    assert_eq!(e.organizer.as_ref().unwrap().email, "foo@gmail.com");
    assert!(e.recurrence.is_none() && e.recurrence_id.is_none());
    assert_eq!(e.etag.as_deref(), Some("\"3291861297900000\""));
    assert_eq!(
        e.updated.unwrap().to_rfc3339(),
        "2022-02-27T02:57:28.950+00:00"
    );
}

#[test]
fn master_and_cancelled_instance() {
    let m = map_all(include_str!(
        "../testdata/events-list-incremental-cancelled-instance.json"
    ));
    let master = upsert(&m[0]);
    assert!(master.is_master());
    let chicago = Zone::Iana(chrono_tz::America::Chicago);
    assert_eq!(
        master.start,
        EventTime::Zoned {
            local: local(2025, 2, 9, 8, 0),
            zone: chicago.clone()
        }
    );
    assert_eq!(
        master.recurrence.as_ref().unwrap().rrules,
        vec!["FREQ=DAILY;UNTIL=20250401T045959Z".to_string()]
    );
    let cancelled = upsert(&m[1]);
    assert_eq!(cancelled.status, EventStatus::Cancelled);
    assert_eq!(
        cancelled.series_id.as_deref(),
        Some("5hni4sj3ql1669otmjg7sn1mok")
    );
    let rid = EventTime::Zoned {
        local: local(2025, 3, 25, 8, 0),
        zone: chicago,
    };
    assert_eq!(cancelled.recurrence_id.as_ref(), Some(&rid));
    assert_eq!(cancelled.start, rid);
    assert_eq!(cancelled.end, rid);
    assert_eq!(cancelled.uid, "5hni4sj3ql1669otmjg7sn1mok");

    // The expansion lists that instance as cancelled.
    let events: Vec<Event> = m.iter().map(|x| upsert(x).clone()).collect();
    let w = crate::recurrence::Window {
        from: "2025-03-24T00:00:00Z".parse().unwrap(),
        to: "2025-03-27T00:00:00Z".parse().unwrap(),
    };
    let exp = crate::recurrence::expand(&events, &w, &Zone::Utc);
    let statuses: Vec<_> = exp.occurrences.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            EventStatus::Confirmed,
            EventStatus::Cancelled,
            EventStatus::Confirmed
        ]
    );
}

#[test]
fn deleted_series_is_a_deletion() {
    let m = map_all(include_str!(
        "../testdata/events-list-incremental-deleted-series-tombstone.json"
    ));
    assert_eq!(m, vec![Mapped::Delete("6pbua6vjeic3e73gvponeo1qp6".into())]);
}

#[test]
fn tombstones_without_zone_or_series() {
    let m = map_all(include_str!(
        "../testdata/event-items-cancelled-tombstones.json"
    ));
    let first = upsert(&m[0]);
    assert_eq!(first.status, EventStatus::Cancelled);
    // No timeZone: the instant is kept, in UTC.
    assert_eq!(
        first.recurrence_id,
        Some(EventTime::Zoned {
            local: local(2013, 5, 8, 22, 0),
            zone: Zone::Utc
        })
    );
    assert_eq!(
        m[1],
        Mapped::Delete("0cu25g99pfkhlfarupevcjc297_20211123T170000Z".into())
    );
}

#[test]
fn modified_exception() {
    let m = map_all(include_str!(
        "../testdata/events-list-incremental-modified-exception.json"
    ));
    let ex = upsert(&m[1]);
    let chicago = Zone::Iana(chrono_tz::America::Chicago);
    assert_eq!(ex.series_id.as_deref(), Some("68k0p6ackplecqs9fuvbs1fju0"));
    assert_eq!(
        ex.recurrence_id,
        Some(EventTime::Zoned {
            local: local(2025, 3, 24, 7, 30),
            zone: chicago.clone()
        })
    );
    assert_eq!(
        ex.start,
        EventTime::Zoned {
            local: local(2025, 3, 24, 12, 30),
            zone: chicago
        }
    );
    assert_eq!(ex.sequence, 1);
    assert_eq!(ex.summary, "🍽️ Dishes (Modified)");
    assert!(ex.recurrence.is_none());
}

#[test]
fn split_series_gives_two_masters() {
    let m = map_all(include_str!(
        "../testdata/events-list-incremental-split-series.json"
    ));
    let (a, b) = (upsert(&m[0]), upsert(&m[1]));
    assert!(a.is_master() && b.is_master());
    assert_eq!(b.event_id, "4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000");
    assert_eq!(
        b.uid,
        "4k3h1bqn0pmn2qmvc7m0b6ip2q_R20250327T123000@google.com"
    );
    assert!(b.series_id.is_none());
}

#[test]
fn recurring_items_with_attendees_and_exceptions() {
    let m = map_all(include_str!(
        "../testdata/event-items-recurring-attendees-exceptions.json"
    ));
    assert_eq!(m.len(), 31);
    let deletions = m.iter().filter(|x| matches!(x, Mapped::Delete(_))).count();
    assert_eq!(
        deletions, 3,
        "the _R split tombstones and one deleted series"
    );
    let first = upsert(&m[0]);
    assert_eq!(first.attendees.len(), 17);
    let room = &first.attendees[0];
    assert!(room.resource);
    assert_eq!(room.response, Response::Accepted);
    let me = first.attendees.iter().find(|a| a.is_self).unwrap();
    assert_eq!(me.email, "me@example.com");
    assert!(
        first
            .attendees
            .iter()
            .any(|a| a.response == Response::Declined)
    );
    assert!(
        first
            .attendees
            .iter()
            .any(|a| a.response == Response::NeedsAction)
    );
    assert_eq!(first.location.as_deref(), Some("Salle Formation (4e)"));
    assert_eq!(
        first.start,
        EventTime::Zoned {
            local: local(2016, 5, 31, 14, 30),
            zone: Zone::Iana(chrono_tz::Europe::Paris)
        }
    );
    // Exceptions whose originalStartTime has no timeZone: the instant, matched by instant.
    let ex = m
        .iter()
        .filter_map(|x| match x {
            Mapped::Upsert(e) if e.event_id == "pas64r2qn0h65mipc93i1iucao_20170901T090000Z" => {
                Some(e)
            }
            _ => None,
        })
        .next()
        .unwrap();
    assert_eq!(
        ex.recurrence_id.as_ref().unwrap().instant(&Zone::Utc),
        "2017-09-01T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    let allday = upsert(m.last().unwrap());
    assert!(allday.start.is_date());

    // Every series expands; the cancelled exception shows as cancelled.
    let events: Vec<Event> = m
        .iter()
        .filter_map(|x| match x {
            Mapped::Upsert(e) => Some((**e).clone()),
            _ => None,
        })
        .collect();
    let w = crate::recurrence::Window {
        from: "2017-09-04T00:00:00Z".parse().unwrap(),
        to: "2017-09-06T00:00:00Z".parse().unwrap(),
    };
    let exp = crate::recurrence::expand(&events, &w, &Zone::Utc);
    assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
    let i6 = exp
        .occurrences
        .iter()
        .find(|o| o.series_id == Some("i6jtel4sufeh9keid7ua2tmvjc"))
        .unwrap();
    assert_eq!(i6.status, EventStatus::Cancelled);
}

#[test]
fn other_event_types_are_ignored() {
    let v = serde_json::json!({
        "id": "focus1", "status": "confirmed", "eventType": "focusTime",
        "start": {"dateTime": "2026-01-05T09:00:00Z"}, "end": {"dateTime": "2026-01-05T17:00:00Z"}
    });
    assert_eq!(
        map_item(&v, "primary", &mut |_| {}).unwrap(),
        Mapped::Ignored {
            id: "focus1".into(),
            event_type: "focusTime".into()
        }
    );
}

#[test]
fn out_of_office_items_are_stored_and_marked() {
    let v = serde_json::json!({
        "id": "ooo1", "status": "confirmed", "eventType": "outOfOffice",
        "summary": "Away", "iCalUID": "ooo1@google.com",
        "organizer": {"email": "mika@example.com", "self": true},
        "start": {"dateTime": "2026-01-05T09:00:00Z"}, "end": {"dateTime": "2026-01-05T17:00:00Z"}
    });
    let Mapped::Upsert(e) = map_item(&v, "primary", &mut |_| {}).unwrap() else {
        panic!("an out-of-office item is stored");
    };
    assert!(e.out_of_office);
    assert_eq!(e.summary, "Away");
    let default = serde_json::json!({
        "id": "m1", "status": "confirmed", "eventType": "default",
        "start": {"dateTime": "2026-01-05T09:00:00Z"}, "end": {"dateTime": "2026-01-05T17:00:00Z"}
    });
    let Mapped::Upsert(e) = map_item(&default, "primary", &mut |_| {}).unwrap() else {
        panic!("a default item is stored");
    };
    assert!(!e.out_of_office);
}

#[test]
fn recurrence_lines_with_tzid_dates_and_periods() {
    let paris = Zone::Iana(chrono_tz::Europe::Paris);
    let lines = vec![
        "RRULE:FREQ=WEEKLY;BYDAY=TU".to_string(),
        "EXDATE;TZID=Europe/Paris:20170905T093000,20170919T093000".to_string(),
        "EXDATE:20170926T073000Z".to_string(),
        "RDATE;VALUE=PERIOD:20171001T100000Z/PT2H".to_string(),
        "RDATE:20171010T093000".to_string(),
        "EXRULE:FREQ=MONTHLY".to_string(),
    ];
    let mut warnings = Vec::new();
    let set = parse_recurrence(&lines, Some(&paris), &mut |w| warnings.push(w));
    assert_eq!(set.rrules, vec!["FREQ=WEEKLY;BYDAY=TU".to_string()]);
    assert_eq!(set.exdates.len(), 3);
    assert_eq!(
        set.exdates[0],
        EventTime::Zoned {
            local: local(2017, 9, 5, 9, 30),
            zone: paris.clone()
        }
    );
    assert_eq!(
        set.exdates[2],
        EventTime::Zoned {
            local: local(2017, 9, 26, 7, 30),
            zone: Zone::Utc
        }
    );
    assert_eq!(
        set.rdates[0].end,
        Some(EventTime::Zoned {
            local: local(2017, 10, 1, 12, 0),
            zone: Zone::Utc
        })
    );
    assert_eq!(
        set.rdates[1].start,
        EventTime::Zoned {
            local: local(2017, 10, 10, 9, 30),
            zone: paris
        }
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");

    let all_day = parse_recurrence(
        &["EXDATE;VALUE=DATE:20170905".to_string()],
        None,
        &mut |_| {},
    );
    assert_eq!(
        all_day.exdates,
        vec![EventTime::Date {
            date: NaiveDate::from_ymd_opt(2017, 9, 5).unwrap()
        }]
    );
}

#[test]
fn all_day_exception_gets_a_date_recurrence_id() {
    let v = serde_json::json!({
        "id": "abc_20260105", "status": "confirmed", "recurringEventId": "abc",
        "originalStartTime": {"date": "2026-01-05"},
        "start": {"date": "2026-01-06"}, "end": {"date": "2026-01-07"}
    });
    let m = map_item(&v, "primary", &mut |_| {}).unwrap();
    let e = upsert(&m);
    assert_eq!(
        e.recurrence_id,
        Some(EventTime::Date {
            date: NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
        })
    );
}

#[test]
fn malformed_items_are_reasons_not_panics() {
    let bad = [
        serde_json::json!({"status": "confirmed"}),
        serde_json::json!({"id": "x", "start": {"dateTime": "yesterday"}}),
        serde_json::json!({"id": "x", "recurringEventId": "y", "start": {"date": "2026-01-01"}}),
        serde_json::json!({"id": 5}),
        serde_json::json!({"id": "x"}),
    ];
    for b in bad {
        assert!(map_item(&b, "primary", &mut |_| {}).is_err(), "{b}");
    }
}

#[test]
fn page_envelope_tokens() {
    let p: EventsPage = serde_json::from_str(include_str!(
        "../testdata/events-list-incremental-modified-exception.json"
    ))
    .unwrap();
    assert_eq!(p.items.len(), 2);
    assert!(p.next_page_token.is_none());
    assert_eq!(
        p.next_sync_token.as_deref(),
        Some("CJ_ewo2CoIwDEJ_ewo2CoIwDGAUg79XP3wIo79XP3wI=")
    );
}
