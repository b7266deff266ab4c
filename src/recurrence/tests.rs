//! Tests of [`expand`](super::expand) on events built by hand (there is no ICS parser here).

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{Expansion, Window, expand};
use crate::model::{Event, EventStatus, EventTime, RDate, RecurrenceSet};
use crate::tz::{CustomZone, Observance, Zone};

const BERLIN: Tz = chrono_tz::Europe::Berlin;
const NEW_YORK: Tz = chrono_tz::America::New_York;

fn local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
}

fn zoned(tz: Tz, s: &str) -> EventTime {
    EventTime::Zoned {
        local: local(s),
        zone: Zone::Iana(tz),
    }
}

fn utc(s: &str) -> EventTime {
    EventTime::Zoned {
        local: local(s),
        zone: Zone::Utc,
    }
}

fn floating(s: &str) -> EventTime {
    EventTime::Floating { local: local(s) }
}

fn date(s: &str) -> EventTime {
    EventTime::Date {
        date: NaiveDate::parse_from_str(s, "%Y%m%d").unwrap(),
    }
}

fn instant(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn window(from: &str, to: &str) -> Window {
    Window {
        from: instant(from),
        to: instant(to),
    }
}

fn year_2025() -> Window {
    window("2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
}

fn single(uid: &str, start: EventTime, end: EventTime) -> Event {
    Event {
        calendar: "primary".into(),
        uid: uid.into(),
        event_id: uid.into(),
        series_id: None,
        recurrence: None,
        recurrence_id: None,
        this_and_future: false,
        start,
        end,
        status: EventStatus::Confirmed,
        summary: uid.into(),
        description: None,
        location: None,
        organizer: None,
        attendees: vec![],
        self_response: None,
        out_of_office: false,
        sequence: 0,
        updated: None,
        etag: None,
    }
}

fn master(uid: &str, start: EventTime, end: EventTime, rrules: &[&str]) -> Event {
    let mut e = single(uid, start, end);
    e.recurrence = Some(RecurrenceSet {
        rrules: rrules.iter().map(|r| (*r).to_owned()).collect(),
        ..Default::default()
    });
    e
}

fn with_exdates(mut e: Event, exdates: Vec<EventTime>) -> Event {
    e.recurrence.as_mut().unwrap().exdates = exdates;
    e
}

fn override_of(m: &Event, recurrence_id: EventTime, start: EventTime, end: EventTime) -> Event {
    let mut e = single(&m.uid, start, end);
    e.event_id = format!(
        "{}-ovr-{}",
        m.event_id,
        recurrence_id.local().format("%Y%m%dT%H%M")
    );
    e.series_id = Some(m.event_id.clone());
    e.recurrence_id = Some(recurrence_id);
    e.summary = format!("{} (moved)", m.summary);
    e
}

fn fmt(t: &EventTime, fz: &Zone) -> String {
    match t {
        EventTime::Zoned { .. } => t.instant(fz).format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        EventTime::Floating { local } => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        EventTime::Date { date } => date.format("%Y-%m-%d").to_string(),
    }
}

/// `start/end` of the listed (not removed) occurrences.
fn listed(x: &Expansion<'_>) -> Vec<String> {
    x.occurrences
        .iter()
        .filter(|o| !o.removed)
        .map(|o| format!("{}/{}", fmt(&o.start, &Zone::Utc), fmt(&o.end, &Zone::Utc)))
        .collect()
}

fn starts(x: &Expansion<'_>) -> Vec<String> {
    x.occurrences
        .iter()
        .filter(|o| !o.removed)
        .map(|o| fmt(&o.start, &Zone::Utc))
        .collect()
}

/// The three series of `corpus/ics/synthetic/divergences.ics` and its expected answer.
#[test]
fn divergences_corpus() {
    let events = vec![
        with_exdates(
            master(
                "exdate-collision",
                zoned(BERLIN, "20250106T100000"),
                zoned(BERLIN, "20250106T103000"),
                &["FREQ=WEEKLY;COUNT=3"],
            ),
            vec![zoned(BERLIN, "20250113T110000")],
        ),
        with_exdates(
            master(
                "exdate-pointer",
                utc("20250106T100000"),
                utc("20250106T103000"),
                &["FREQ=WEEKLY;COUNT=3"],
            ),
            vec![utc("20250107T100000"), utc("20250113T100000")],
        ),
        master(
            "dst-gap",
            zoned(NEW_YORK, "20250302T023000"),
            zoned(NEW_YORK, "20250302T030000"),
            &["FREQ=WEEKLY;COUNT=2"],
        ),
    ];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert!(x.warnings.is_empty());
    let got: Vec<String> = x
        .occurrences
        .iter()
        .filter(|o| !o.removed)
        .map(|o| {
            format!(
                "{} {} {} {}",
                o.event.uid,
                fmt(o.recurrence_id.as_ref().unwrap(), &Zone::Utc),
                fmt(&o.start, &Zone::Utc),
                fmt(&o.end, &Zone::Utc)
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            "exdate-collision 2025-01-06T09:00:00Z 2025-01-06T09:00:00Z 2025-01-06T09:30:00Z",
            "exdate-pointer 2025-01-06T10:00:00Z 2025-01-06T10:00:00Z 2025-01-06T10:30:00Z",
            "exdate-collision 2025-01-13T09:00:00Z 2025-01-13T09:00:00Z 2025-01-13T09:30:00Z",
            "exdate-collision 2025-01-20T09:00:00Z 2025-01-20T09:00:00Z 2025-01-20T09:30:00Z",
            "exdate-pointer 2025-01-20T10:00:00Z 2025-01-20T10:00:00Z 2025-01-20T10:30:00Z",
            "dst-gap 2025-03-02T07:30:00Z 2025-03-02T07:30:00Z 2025-03-02T08:00:00Z",
            "dst-gap 2025-03-09T07:30:00Z 2025-03-09T07:30:00Z 2025-03-09T08:00:00Z",
        ]
    );
    // The EXDATE that matches is reported as removed, with its instance id.
    let removed: Vec<_> = x
        .occurrences
        .iter()
        .filter(|o| o.removed)
        .map(|o| o.event_id.as_str())
        .collect();
    assert_eq!(removed, ["exdate-pointer_20250113T100000Z"]);
}

#[test]
fn stale_exdate_does_not_remove() {
    let e = with_exdates(
        master(
            "a",
            zoned(BERLIN, "20250106T100000"),
            zoned(BERLIN, "20250106T103000"),
            &["FREQ=WEEKLY;COUNT=3"],
        ),
        vec![zoned(BERLIN, "20250113T110000")],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(x.occurrences.len(), 3);
    assert!(x.occurrences.iter().all(|o| !o.removed));
}

#[test]
fn exdate_before_matching_one_is_harmless() {
    let e = with_exdates(
        master(
            "a",
            utc("20250106T100000"),
            utc("20250106T103000"),
            &["FREQ=WEEKLY;COUNT=3"],
        ),
        vec![utc("20250107T100000"), utc("20250113T100000")],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06T10:00:00Z", "2025-01-20T10:00:00Z"]);
    assert_eq!(x.occurrences.iter().filter(|o| o.removed).count(), 1);
}

#[test]
fn spring_gap_instance_moves_forward() {
    let e = master(
        "g",
        zoned(NEW_YORK, "20250302T023000"),
        zoned(NEW_YORK, "20250302T030000"),
        &["FREQ=WEEKLY;COUNT=2"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        listed(&x),
        [
            "2025-03-02T07:30:00Z/2025-03-02T08:00:00Z",
            "2025-03-09T07:30:00Z/2025-03-09T08:00:00Z"
        ]
    );
    // The wall clock of the moved instance is 03:30 EDT.
    assert_eq!(x.occurrences[1].start.local(), local("20250309T033000"));
    assert_eq!(x.occurrences[1].event_id, "g_20250309T073000Z");
}

#[test]
fn europe_gap_and_overlap() {
    let e = master(
        "b",
        zoned(BERLIN, "20250323T023000"),
        zoned(BERLIN, "20250323T033000"),
        &["FREQ=WEEKLY"],
    );
    let x = expand(
        std::slice::from_ref(&e),
        &window("2025-03-29T00:00:00Z", "2025-04-01T00:00:00Z"),
        &Zone::Utc,
    );
    // 02:30 on 30 March does not exist: 03:30 CEST; one exact hour long.
    assert_eq!(listed(&x), ["2025-03-30T01:30:00Z/2025-03-30T02:30:00Z"]);
    let x = expand(
        std::slice::from_ref(&e),
        &window("2025-10-25T00:00:00Z", "2025-10-28T00:00:00Z"),
        &Zone::Utc,
    );
    // 02:30 on 26 October happens twice: the first (CEST) one.
    assert_eq!(listed(&x), ["2025-10-26T00:30:00Z/2025-10-26T01:30:00Z"]);
}

#[test]
fn america_fall_overlap_and_wall_clock() {
    let e = master(
        "ny",
        zoned(NEW_YORK, "20251027T013000"),
        zoned(NEW_YORK, "20251027T020000"),
        &["FREQ=DAILY;COUNT=10"],
    );
    let x = expand(
        std::slice::from_ref(&e),
        &window("2025-11-01T00:00:00Z", "2025-11-04T00:00:00Z"),
        &Zone::Utc,
    );
    // 01:30 EDT, 01:30 EDT (the earlier of the two on 2 Nov), 01:30 EST.
    assert_eq!(
        starts(&x),
        [
            "2025-11-01T05:30:00Z",
            "2025-11-02T05:30:00Z",
            "2025-11-03T06:30:00Z"
        ]
    );
}

#[test]
fn weekly_byday() {
    let e = master(
        "w",
        zoned(BERLIN, "20250106T090000"),
        zoned(BERLIN, "20250106T093000"),
        &["FREQ=WEEKLY;BYDAY=MO,WE,FR"],
    );
    let x = expand(
        std::slice::from_ref(&e),
        &window("2025-01-01T00:00:00Z", "2025-01-15T00:00:00Z"),
        &Zone::Utc,
    );
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T08:00:00Z",
            "2025-01-08T08:00:00Z",
            "2025-01-10T08:00:00Z",
            "2025-01-13T08:00:00Z"
        ]
    );
    let o = &x.occurrences[0];
    assert_eq!(o.series_id, Some("w"));
    assert_eq!(o.event_id, "w_20250106T080000Z");
    assert_eq!(o.recurrence_id, Some(o.start.clone()));
}

#[test]
fn biweekly_until_utc_includes_equal_last() {
    // UNTIL equals the last instance (10:00 CET = 09:00Z): it is included.
    let e = master(
        "bw",
        zoned(BERLIN, "20250106T100000"),
        zoned(BERLIN, "20250106T110000"),
        &["FREQ=WEEKLY;INTERVAL=2;UNTIL=20250203T090000Z"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T09:00:00Z",
            "2025-01-20T09:00:00Z",
            "2025-02-03T09:00:00Z"
        ]
    );
    // One second earlier and the last one goes.
    let e = master(
        "bw",
        zoned(BERLIN, "20250106T100000"),
        zoned(BERLIN, "20250106T110000"),
        &["FREQ=WEEKLY;INTERVAL=2;UNTIL=20250203T085959Z"],
    );
    assert_eq!(
        expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc)
            .occurrences
            .len(),
        2
    );
}

#[test]
fn until_as_date_ends_at_that_midnight() {
    // Both references stop a date-time series at the midnight starting the UNTIL date.
    let e = master(
        "d",
        zoned(BERLIN, "20250106T100000"),
        zoned(BERLIN, "20250106T103000"),
        &["FREQ=WEEKLY;UNTIL=20250120"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06T09:00:00Z", "2025-01-13T09:00:00Z"]);
}

#[test]
fn count_is_counted_from_dtstart_even_when_skipping() {
    let e = master(
        "c",
        utc("20200106T100000"),
        utc("20200106T103000"),
        &["FREQ=WEEKLY;COUNT=270"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    // Instance 270 is 269 weeks after 6 Jan 2020: 2 Mar 2025.
    assert_eq!(starts(&x).last().unwrap(), "2025-03-03T10:00:00Z");
    assert_eq!(x.occurrences.len(), 9);
    // DTSTART is the first instance even when it does not match the rule, but then it does not
    // use up COUNT (both references count only the rule's own instances).
    let e = master(
        "c2",
        utc("20250107T100000"),
        utc("20250107T103000"),
        &["FREQ=WEEKLY;COUNT=3;BYDAY=MO"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-07T10:00:00Z",
            "2025-01-13T10:00:00Z",
            "2025-01-20T10:00:00Z",
            "2025-01-27T10:00:00Z"
        ]
    );
}

#[test]
fn long_running_series_skips_ahead_exactly() {
    let e = master(
        "old",
        zoned(BERLIN, "20000103T090000"),
        zoned(BERLIN, "20000103T100000"),
        &["FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH"],
    );
    let w = window("2025-06-01T00:00:00Z", "2025-07-01T00:00:00Z");
    let x = expand(std::slice::from_ref(&e), &w, &Zone::Utc);
    // Reference: iterate from DTSTART without skipping.
    let rule = super::Rule::parse("FREQ=WEEKLY;INTERVAL=3;BYDAY=MO,TH").unwrap();
    let want: Vec<String> = rule
        .instances(local("20000103T090000"), local("20250801T000000"))
        .map(|l| Zone::Iana(BERLIN).to_utc(l))
        .filter(|i| *i >= w.from && *i < w.to)
        .map(|i| i.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(starts(&x), want);
}

#[test]
fn monthly_last_friday_and_day_31() {
    let e = master(
        "m",
        utc("20250131T100000"),
        utc("20250131T110000"),
        &["FREQ=MONTHLY;BYDAY=-1FR;COUNT=3"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-31T10:00:00Z",
            "2025-02-28T10:00:00Z",
            "2025-03-28T10:00:00Z"
        ]
    );
    let e = master(
        "m31",
        utc("20250131T100000"),
        utc("20250131T110000"),
        &["FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-31T10:00:00Z",
            "2025-03-31T10:00:00Z",
            "2025-05-31T10:00:00Z",
            "2025-07-31T10:00:00Z"
        ]
    );
    let e = master(
        "sp",
        utc("20250131T100000"),
        utc("20250131T110000"),
        &["FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1;COUNT=3"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-31T10:00:00Z",
            "2025-02-28T10:00:00Z",
            "2025-03-31T10:00:00Z"
        ]
    );
}

#[test]
fn yearly_and_wkst() {
    let e = master(
        "y",
        utc("20230615T120000"),
        utc("20230615T130000"),
        &["FREQ=YEARLY"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-06-15T12:00:00Z"]);
    let mo = master(
        "mo",
        utc("19970805T090000"),
        utc("19970805T100000"),
        &["FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO"],
    );
    let su = master(
        "su",
        utc("19970805T090000"),
        utc("19970805T100000"),
        &["FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU"],
    );
    let w = window("1997-01-01T00:00:00Z", "1998-01-01T00:00:00Z");
    assert_eq!(
        starts(&expand(std::slice::from_ref(&mo), &w, &Zone::Utc)),
        [
            "1997-08-05T09:00:00Z",
            "1997-08-10T09:00:00Z",
            "1997-08-19T09:00:00Z",
            "1997-08-24T09:00:00Z"
        ]
    );
    assert_eq!(
        starts(&expand(std::slice::from_ref(&su), &w, &Zone::Utc)),
        [
            "1997-08-05T09:00:00Z",
            "1997-08-17T09:00:00Z",
            "1997-08-19T09:00:00Z",
            "1997-08-31T09:00:00Z"
        ]
    );
}

#[test]
fn all_day_series() {
    let e = with_exdates(
        master(
            "ad",
            date("20250106"),
            date("20250107"),
            &["FREQ=WEEKLY;COUNT=4"],
        ),
        // A date-time EXDATE removes the date instance of its (local) date.
        vec![zoned(BERLIN, "20250113T000000")],
    );
    let tokyo = Zone::Iana(chrono_tz::Asia::Tokyo);
    let x = expand(std::slice::from_ref(&e), &year_2025(), &tokyo);
    let got: Vec<String> = x
        .occurrences
        .iter()
        .filter(|o| !o.removed)
        .map(|o| format!("{}/{}", fmt(&o.start, &tokyo), fmt(&o.end, &tokyo)))
        .collect();
    assert_eq!(
        got,
        [
            "2025-01-06/2025-01-07",
            "2025-01-20/2025-01-21",
            "2025-01-27/2025-01-28"
        ]
    );
    assert_eq!(x.occurrences[0].event_id, "ad_20250106");
    // Window membership of dates uses the floating zone: 2025-01-06 in Tokyo ends 2025-01-06T15:00Z.
    let w = window("2025-01-06T15:00:00Z", "2025-01-07T00:00:00Z");
    assert!(
        expand(std::slice::from_ref(&e), &w, &tokyo)
            .occurrences
            .is_empty()
    );
    assert_eq!(
        expand(std::slice::from_ref(&e), &w, &Zone::Utc)
            .occurrences
            .len(),
        1
    );
}

#[test]
fn all_day_until_utc_compares_dates() {
    let e = master(
        "h",
        date("20250106"),
        date("20250107"),
        &["FREQ=WEEKLY;UNTIL=20250119T230000Z"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06", "2025-01-13"]);
}

#[test]
fn floating_series() {
    let e = with_exdates(
        master(
            "f",
            floating("20250106T090000"),
            floating("20250106T100000"),
            &["FREQ=DAILY;COUNT=3"],
        ),
        vec![floating("20250107T090000")],
    );
    let tokyo = Zone::Iana(chrono_tz::Asia::Tokyo);
    let x = expand(std::slice::from_ref(&e), &year_2025(), &tokyo);
    assert_eq!(starts(&x), ["2025-01-06T09:00:00", "2025-01-08T09:00:00"]);
    assert_eq!(x.occurrences[0].event_id, "f_20250106T090000");
    // 09:00 in Tokyo is 00:00Z: a window from 00:30Z misses the first one.
    let w = window("2025-01-06T01:00:00Z", "2026-01-01T00:00:00Z");
    assert_eq!(
        starts(&expand(std::slice::from_ref(&e), &w, &tokyo)),
        ["2025-01-08T09:00:00"]
    );
}

#[test]
fn date_exdate_removes_date_time_instance() {
    let e = with_exdates(
        master(
            "c",
            zoned(BERLIN, "20250106T100000"),
            zoned(BERLIN, "20250106T103000"),
            &["FREQ=WEEKLY;COUNT=4"],
        ),
        vec![date("20250113")],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T09:00:00Z",
            "2025-01-20T09:00:00Z",
            "2025-01-27T09:00:00Z"
        ]
    );
}

#[test]
fn removed_only_inside_window() {
    let e = with_exdates(
        master(
            "r",
            utc("20250106T100000"),
            utc("20250106T103000"),
            &["FREQ=WEEKLY;COUNT=4"],
        ),
        vec![utc("20250113T100000"), utc("20250127T100000")],
    );
    let x = expand(
        std::slice::from_ref(&e),
        &window("2025-01-10T00:00:00Z", "2025-01-25T00:00:00Z"),
        &Zone::Utc,
    );
    let all: Vec<_> = x
        .occurrences
        .iter()
        .map(|o| (o.event_id.as_str(), o.removed))
        .collect();
    assert_eq!(
        all,
        [("r_20250113T100000Z", true), ("r_20250120T100000Z", false)]
    );
}

#[test]
fn rdates_plain_and_period() {
    let mut e = master(
        "rd",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY;COUNT=2"],
    );
    e.recurrence.as_mut().unwrap().rdates = vec![
        RDate {
            start: utc("20250110T150000"),
            end: None,
        },
        RDate {
            start: utc("20250111T080000"),
            end: Some(utc("20250111T120000")),
        },
        // On a rule instance: merged, not doubled.
        RDate {
            start: utc("20250113T100000"),
            end: None,
        },
    ];
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        listed(&x),
        [
            "2025-01-06T10:00:00Z/2025-01-06T10:30:00Z",
            "2025-01-10T15:00:00Z/2025-01-10T15:30:00Z",
            "2025-01-11T08:00:00Z/2025-01-11T12:00:00Z",
            "2025-01-13T10:00:00Z/2025-01-13T10:30:00Z",
        ]
    );
    // Only RDATEs, no RRULE: DTSTART plus the RDATEs.
    let mut e = master("only", utc("20250106T100000"), utc("20250106T103000"), &[]);
    e.recurrence.as_mut().unwrap().rdates = vec![RDate {
        start: utc("20250201T100000"),
        end: None,
    }];
    assert_eq!(
        starts(&expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc)),
        ["2025-01-06T10:00:00Z", "2025-02-01T10:00:00Z"]
    );
}

#[test]
fn several_rules_union() {
    let e = master(
        "u",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &[
            "FREQ=WEEKLY;BYDAY=MO;COUNT=2",
            "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=3",
        ],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T10:00:00Z",
            "2025-01-08T10:00:00Z",
            "2025-01-13T10:00:00Z"
        ]
    );
}

#[test]
fn moved_override_into_and_out_of_window() {
    let m = master(
        "mv",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY"],
    );
    // 13 Jan moved to 1 Feb (out of a January window), 3 Feb moved to 31 Jan (into it).
    let out = override_of(
        &m,
        utc("20250113T100000"),
        utc("20250201T100000"),
        utc("20250201T110000"),
    );
    let into = override_of(
        &m,
        utc("20250203T100000"),
        utc("20250131T090000"),
        utc("20250131T093000"),
    );
    let events = vec![m, out, into];
    let x = expand(
        &events,
        &window("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z"),
        &Zone::Utc,
    );
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T10:00:00Z",
            "2025-01-20T10:00:00Z",
            "2025-01-27T10:00:00Z",
            "2025-01-31T09:00:00Z"
        ]
    );
    let moved = x.occurrences.last().unwrap();
    assert_eq!(moved.event_id, events[2].event_id);
    assert_eq!(moved.series_id, Some("mv"));
    assert_eq!(
        moved.recurrence_id.as_ref().map(|r| r.instant(&Zone::Utc)),
        Some(instant("2025-02-03T10:00:00Z"))
    );
    assert_eq!(moved.event.summary, "mv (moved)");
    // The other one shows up in February with its own end.
    let x = expand(
        &events,
        &window("2025-02-01T00:00:00Z", "2025-02-02T00:00:00Z"),
        &Zone::Utc,
    );
    assert_eq!(listed(&x), ["2025-02-01T10:00:00Z/2025-02-01T11:00:00Z"]);
}

#[test]
fn override_recurrence_id_in_another_zone_matches_by_instant() {
    let m = master(
        "z",
        zoned(BERLIN, "20250106T100000"),
        zoned(BERLIN, "20250106T103000"),
        &["FREQ=WEEKLY;COUNT=3"],
    );
    let o = override_of(
        &m,
        utc("20250113T090000"),
        utc("20250113T120000"),
        utc("20250113T123000"),
    );
    let events = [m, o];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(
        starts(&x),
        [
            "2025-01-06T09:00:00Z",
            "2025-01-13T12:00:00Z",
            "2025-01-20T09:00:00Z"
        ]
    );
}

#[test]
fn cancelled_override_is_listed_cancelled() {
    let m = master(
        "cx",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY;COUNT=3"],
    );
    let mut o = override_of(
        &m,
        utc("20250113T100000"),
        utc("20250113T100000"),
        utc("20250113T103000"),
    );
    o.status = EventStatus::Cancelled;
    let events = [m, o];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    let s: Vec<_> = x
        .occurrences
        .iter()
        .map(|o| (o.status, o.removed))
        .collect();
    assert_eq!(
        s,
        [
            (EventStatus::Confirmed, false),
            (EventStatus::Cancelled, false),
            (EventStatus::Confirmed, false)
        ]
    );
}

#[test]
fn exdate_wins_over_override() {
    let m = with_exdates(
        master(
            "xo",
            utc("20250106T100000"),
            utc("20250106T103000"),
            &["FREQ=WEEKLY;COUNT=3"],
        ),
        vec![utc("20250113T100000")],
    );
    let o = override_of(
        &m,
        utc("20250113T100000"),
        utc("20250113T120000"),
        utc("20250113T123000"),
    );
    let events = [m, o];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06T10:00:00Z", "2025-01-20T10:00:00Z"]);
    assert_eq!(x.occurrences.iter().filter(|o| o.removed).count(), 1);
}

#[test]
fn override_matching_no_instance_is_dropped() {
    // Both references drop it (recurring-ical-events' issue 253 calendar): a RECURRENCE-ID
    // identifies an instance of the set, and 2025-01-10 is none.
    let m = master(
        "add",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY;COUNT=2"],
    );
    let o = override_of(
        &m,
        utc("20250110T100000"),
        utc("20250111T120000"),
        utc("20250111T123000"),
    );
    // Past COUNT: 2025-01-20 would match the rule's pattern but is not in the set.
    let past_count = override_of(
        &m,
        utc("20250120T100000"),
        utc("20250121T120000"),
        utc("20250121T123000"),
    );
    let events = [m, o, past_count];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06T10:00:00Z", "2025-01-13T10:00:00Z"]);
}

#[test]
fn override_of_an_instance_outside_the_window_moved_into_it_is_shown() {
    let m = master(
        "moved-in",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY"],
    );
    // The 2025-03-03 instance moves a week later, into a window that starts on 2025-03-08.
    let o = override_of(
        &m,
        utc("20250303T100000"),
        utc("20250309T100000"),
        utc("20250309T103000"),
    );
    let events = [m, o];
    let window = Window {
        from: Utc.with_ymd_and_hms(2025, 3, 8, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2025, 3, 11, 0, 0, 0).unwrap(),
    };
    let x = expand(&events, &window, &Zone::Utc);
    assert_eq!(starts(&x), ["2025-03-09T10:00:00Z", "2025-03-10T10:00:00Z"]);
    assert_eq!(
        x.occurrences[0]
            .recurrence_id
            .as_ref()
            .map(|r| r.instant(&Zone::Utc).to_rfc3339()),
        Some("2025-03-03T10:00:00+00:00".to_string())
    );
}

#[test]
fn this_and_future_shifts_later_instances() {
    let m = master(
        "taf",
        zoned(BERLIN, "20250106T100000"),
        zoned(BERLIN, "20250106T103000"),
        &["FREQ=WEEKLY;COUNT=6"],
    );
    let mut o = override_of(
        &m,
        zoned(BERLIN, "20250120T100000"),
        zoned(BERLIN, "20250120T140000"),
        zoned(BERLIN, "20250120T150000"),
    );
    o.this_and_future = true;
    o.summary = "new time".into();
    // A later plain override stays as it is.
    let later = override_of(
        &m,
        zoned(BERLIN, "20250203T100000"),
        zoned(BERLIN, "20250204T080000"),
        zoned(BERLIN, "20250204T083000"),
    );
    let events = vec![m, o, later];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(
        listed(&x),
        [
            "2025-01-06T09:00:00Z/2025-01-06T09:30:00Z",
            "2025-01-13T09:00:00Z/2025-01-13T09:30:00Z",
            "2025-01-20T13:00:00Z/2025-01-20T14:00:00Z",
            "2025-01-27T13:00:00Z/2025-01-27T14:00:00Z",
            "2025-02-04T07:00:00Z/2025-02-04T07:30:00Z",
            "2025-02-10T13:00:00Z/2025-02-10T14:00:00Z",
        ]
    );
    assert_eq!(x.occurrences[3].event.summary, "new time");
    assert_eq!(x.occurrences[3].event_id, "taf_20250127T090000Z");
    assert_eq!(
        x.occurrences[5]
            .recurrence_id
            .as_ref()
            .map(|r| r.instant(&Zone::Utc)),
        Some(instant("2025-02-10T09:00:00Z"))
    );
    // A window holding only shifted instances still finds them (generation widens by the shift).
    let x = expand(
        &events,
        &window("2025-02-10T12:00:00Z", "2025-02-11T00:00:00Z"),
        &Zone::Utc,
    );
    assert_eq!(starts(&x), ["2025-02-10T13:00:00Z"]);
}

fn w_europe() -> Zone {
    let at = |s: &str| local(s);
    Zone::Custom(Arc::new(CustomZone {
        tzid: "W. Europe Standard Time".into(),
        observances: vec![
            Observance {
                daylight: false,
                dtstart: at("16010101T030000"),
                offset_from: 7200,
                offset_to: 3600,
                rrule: Some("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10".into()),
                rdates: vec![],
            },
            Observance {
                daylight: true,
                dtstart: at("16010101T020000"),
                offset_from: 3600,
                offset_to: 7200,
                rrule: Some("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3".into()),
                rdates: vec![],
            },
        ],
    }))
}

#[test]
fn custom_vtimezone_series_matches_iana() {
    let z = w_europe();
    let ct = |s: &str| EventTime::Zoned {
        local: local(s),
        zone: z.clone(),
    };
    let custom = master(
        "cz",
        ct("20250324T093000"),
        ct("20250324T100000"),
        &["FREQ=WEEKLY;BYDAY=MO,SU;UNTIL=20251103T083000Z"],
    );
    let iana = master(
        "cz",
        zoned(BERLIN, "20250324T093000"),
        zoned(BERLIN, "20250324T100000"),
        &["FREQ=WEEKLY;BYDAY=MO,SU;UNTIL=20251103T083000Z"],
    );
    let a = expand(std::slice::from_ref(&custom), &year_2025(), &Zone::Utc);
    let b = expand(std::slice::from_ref(&iana), &year_2025(), &Zone::Utc);
    assert_eq!(listed(&a), listed(&b));
    assert!(listed(&a).contains(&"2025-03-24T08:30:00Z/2025-03-24T09:00:00Z".to_owned()));
    assert!(listed(&a).contains(&"2025-03-30T07:30:00Z/2025-03-30T08:00:00Z".to_owned()));
    assert_eq!(starts(&a).last().unwrap(), "2025-11-03T08:30:00Z");
}

#[test]
fn broken_rule_warns_and_skips_only_that_series() {
    let bad = master(
        "bad-uid",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY;UNTL=20250301"],
    );
    let good = single("ok", utc("20250107T100000"), utc("20250107T103000"));
    let events = [bad, good];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-07T10:00:00Z"]);
    assert_eq!(x.warnings.len(), 1);
    assert!(
        x.warnings[0].contains("bad-uid") && x.warnings[0].contains("UNTL"),
        "{}",
        x.warnings[0]
    );
}

#[test]
fn unbounded_and_empty_rules_terminate() {
    let events = vec![
        master(
            "inf",
            utc("19700101T000000"),
            utc("19700101T000001"),
            &["FREQ=SECONDLY"],
        ),
        master(
            "never",
            utc("20250101T000000"),
            utc("20250101T010000"),
            &["FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"],
        ),
        master(
            "never2",
            utc("20250101T000000"),
            utc("20250101T010000"),
            &["FREQ=MINUTELY;BYMONTH=2;BYMONTHDAY=30"],
        ),
    ];
    let x = expand(
        &events,
        &window("2025-01-01T00:00:00Z", "2025-01-01T00:00:10Z"),
        &Zone::Utc,
    );
    let inf = x
        .occurrences
        .iter()
        .filter(|o| o.event.uid == "inf")
        .count();
    assert_eq!(inf, 10);
    let never = x
        .occurrences
        .iter()
        .filter(|o| o.event.uid.starts_with("never"))
        .count();
    assert_eq!(never, 2, "only the DTSTARTs");
}

#[test]
fn singles_orphans_sorting_and_zero_length() {
    let a = single("b-single", utc("20250105T100000"), utc("20250105T110000"));
    let b = single("a-single", utc("20250105T100000"), utc("20250105T103000"));
    let zero = single("zero", utc("20250101T000000"), utc("20250101T000000"));
    let zero_at_end = single("zero-end", utc("20260101T000000"), utc("20260101T000000"));
    let mut orphan = single("orph", utc("20250103T100000"), utc("20250103T103000"));
    orphan.event_id = "orph-1".into();
    orphan.series_id = Some("missing-master".into());
    orphan.recurrence_id = Some(utc("20250102T100000"));
    let events = [a, b, zero, zero_at_end, orphan];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    let ids: Vec<_> = x.occurrences.iter().map(|o| o.event_id.as_str()).collect();
    assert_eq!(ids, ["zero", "orph-1", "a-single", "b-single"]);
    assert_eq!(x.occurrences[1].series_id, Some("missing-master"));
    assert!(x.occurrences[1].recurrence_id.is_some());
    assert_eq!(x.occurrences[2].series_id, None);
    assert_eq!(x.occurrences[2].recurrence_id, None);
}

#[test]
fn instance_overlapping_window_start_is_included() {
    let e = master(
        "long",
        utc("20241231T230000"),
        utc("20250101T010000"),
        &["FREQ=DAILY;COUNT=2"],
    );
    let x = expand(std::slice::from_ref(&e), &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2024-12-31T23:00:00Z", "2025-01-01T23:00:00Z"]);
}

/// 2,000 weekly/biweekly/monthly series with overrides over one year (run with
/// `cargo test --release -- --ignored --nocapture many_series`).
#[test]
#[ignore = "timing; run in release"]
fn many_series_timing() {
    let zones = [
        BERLIN,
        NEW_YORK,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Europe::London,
    ];
    let mut events = Vec::new();
    for i in 0..2000u32 {
        let tz = zones[(i % 4) as usize];
        let day = 1 + i % 28;
        let start = format!("2023{:02}{:02}T{:02}0000", 1 + i % 12, day, 8 + i % 9);
        let rule = match i % 20 {
            0..=10 => "FREQ=WEEKLY".to_owned(),
            11..=15 => "FREQ=WEEKLY;INTERVAL=2".to_owned(),
            _ => "FREQ=MONTHLY;BYDAY=2TU".to_owned(),
        };
        let s = zoned(tz, &start);
        let mut m = master(
            &format!("s{i}"),
            s.clone(),
            EventTime::Zoned {
                local: s.local() + chrono::Duration::minutes(30),
                zone: Zone::Iana(tz),
            },
            &[&rule],
        );
        if i % 3 == 0 {
            m.recurrence.as_mut().unwrap().exdates =
                vec![zoned(tz, &start.replace("2023", "2025"))];
        }
        events.push(m);
    }
    let overrides: Vec<Event> = events
        .iter()
        .step_by(12)
        .map(|m| {
            let r = m.start.clone();
            let moved = EventTime::Zoned {
                local: r.local() + chrono::Duration::hours(1),
                zone: Zone::Iana(BERLIN),
            };
            let end = EventTime::Zoned {
                local: r.local() + chrono::Duration::hours(2),
                zone: Zone::Iana(BERLIN),
            };
            override_of(m, r, moved, end)
        })
        .collect();
    events.extend(overrides);
    let w = year_2025();
    let t = std::time::Instant::now();
    let runs = 10;
    let mut n = 0;
    for _ in 0..runs {
        n = expand(&events, &w, &Zone::Utc).occurrences.len();
    }
    let per = t.elapsed() / runs;
    println!(
        "expanded {} events into {n} occurrences in {per:?} per run",
        events.len()
    );
    assert!(n > 60_000);
}

proptest! {
    #[test]
    fn weekly_byday_instances_fall_on_those_days(
        days in proptest::sample::subsequence(vec!["MO", "TU", "WE", "TH", "FR", "SA", "SU"], 1..=7),
        interval in 1u32..4,
        count in 1u32..40,
        offset in 0i64..400,
        hour in 0u32..24,
    ) {
        let start = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Duration::days(offset);
        let start = start.and_hms_opt(hour, 30, 0).unwrap();
        let rule = format!("FREQ=WEEKLY;INTERVAL={interval};COUNT={count};BYDAY={}", days.join(","));
        let dt = EventTime::Zoned { local: start, zone: Zone::Iana(BERLIN) };
        let end = EventTime::Zoned { local: start + chrono::Duration::minutes(45), zone: Zone::Iana(BERLIN) };
        let e = master("p", dt, end, &[&rule]);
        let x = expand(std::slice::from_ref(&e), &window("2020-01-01T00:00:00Z", "2030-01-01T00:00:00Z"), &Zone::Utc);
        prop_assert!(x.warnings.is_empty());
        let names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
        // A DTSTART the rule does not produce comes on top of COUNT.
        let extra = u32::from(!days.contains(&names[start.date().weekday_index()]));
        prop_assert_eq!(x.occurrences.len() as u32, count + extra);
        for (i, o) in x.occurrences.iter().enumerate() {
            let wd = names[o.recurrence_id.as_ref().unwrap().local().date().weekday_index()];
            // The first is DTSTART, which may lie on another day.
            prop_assert!(i == 0 || days.contains(&wd), "{} on {}", o.event_id, wd);
        }
        for pair in x.occurrences.windows(2) {
            prop_assert!(pair[0].start.instant(&Zone::Utc) < pair[1].start.instant(&Zone::Utc));
        }
    }

    #[test]
    fn monthly_count_respected_and_increasing(
        nth in prop_oneof![(-5i32..=-1), (1i32..=5)],
        wd in 0usize..7,
        count in 1u32..30,
        interval in 1u32..4,
    ) {
        let names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
        let rule = format!("FREQ=MONTHLY;INTERVAL={interval};COUNT={count};BYDAY={nth}{}", names[wd]);
        let e = master("p", utc("20250101T100000"), utc("20250101T110000"), &[&rule]);
        let x = expand(std::slice::from_ref(&e), &window("2024-01-01T00:00:00Z", "2100-01-01T00:00:00Z"), &Zone::Utc);
        // DTSTART, Wednesday 1 January 2025, is the rule's own first instance only for 1WE / -5WE.
        let extra = u32::from(!(names[wd] == "WE" && (nth == 1 || nth == -5)));
        prop_assert_eq!(x.occurrences.len() as u32, count + extra);
        for pair in x.occurrences.windows(2) {
            prop_assert!(pair[0].start.instant(&Zone::Utc) < pair[1].start.instant(&Zone::Utc));
        }
    }
}

trait WeekdayIndex {
    fn weekday_index(&self) -> usize;
}

impl WeekdayIndex for NaiveDate {
    fn weekday_index(&self) -> usize {
        use chrono::Datelike;
        self.weekday().num_days_from_monday() as usize
    }
}

/// `issue_75_range_parameter.ics` (python-recurring-ical-events corpus): both references shift
/// the later RRULE and RDATE instances by the THISANDFUTURE move and give them its duration.
#[test]
fn this_and_future_corpus_issue_75() {
    let mut m = master(
        "210",
        utc("20240901T120000"),
        utc("20240901T140000"),
        &["FREQ=DAILY;INTERVAL=2;UNTIL=20250920"],
    );
    m.recurrence.as_mut().unwrap().rdates = vec![RDate {
        start: utc("20240914T090000"),
        end: None,
    }];
    let mut a = override_of(
        &m,
        utc("20240913T120000"),
        utc("20240913T090000"),
        utc("20240913T160000"),
    );
    a.this_and_future = true;
    let b = override_of(
        &m,
        utc("20240915T120000"),
        utc("20240915T170000"),
        utc("20240915T190000"),
    );
    let mut c = override_of(
        &m,
        utc("20240921T120000"),
        utc("20240922T142200"),
        utc("20240922T161300"),
    );
    c.this_and_future = true;
    let events = [m, a, b, c];
    let x = expand(
        &events,
        &window("2024-09-10T00:00:00Z", "2024-09-26T00:00:00Z"),
        &Zone::Utc,
    );
    assert_eq!(
        listed(&x),
        [
            "2024-09-11T12:00:00Z/2024-09-11T14:00:00Z",
            "2024-09-13T09:00:00Z/2024-09-13T16:00:00Z",
            "2024-09-14T06:00:00Z/2024-09-14T13:00:00Z",
            "2024-09-15T17:00:00Z/2024-09-15T19:00:00Z",
            "2024-09-17T09:00:00Z/2024-09-17T16:00:00Z",
            "2024-09-19T09:00:00Z/2024-09-19T16:00:00Z",
            "2024-09-22T14:22:00Z/2024-09-22T16:13:00Z",
            "2024-09-24T14:22:00Z/2024-09-24T16:13:00Z",
        ]
    );
}

#[test]
fn duplicate_overrides_highest_sequence_wins() {
    let m = master(
        "dup",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY;COUNT=2"],
    );
    let mut old = override_of(
        &m,
        utc("20250113T100000"),
        utc("20250113T080000"),
        utc("20250113T083000"),
    );
    old.sequence = 1;
    let mut new = override_of(
        &m,
        utc("20250113T100000"),
        utc("20250113T150000"),
        utc("20250113T153000"),
    );
    new.sequence = 2;
    let events = [m, new, old];
    let x = expand(&events, &year_2025(), &Zone::Utc);
    assert_eq!(starts(&x), ["2025-01-06T10:00:00Z", "2025-01-13T15:00:00Z"]);
}

#[test]
fn last_occurrence_of_bounded_series() {
    let m = with_exdates(
        master(
            "end",
            zoned(BERLIN, "20250106T100000"),
            zoned(BERLIN, "20250106T103000"),
            &["FREQ=WEEKLY;COUNT=4"],
        ),
        vec![zoned(BERLIN, "20250127T100000")],
    );
    let moved = override_of(
        &m,
        zoned(BERLIN, "20250120T100000"),
        zoned(BERLIN, "20250121T100000"),
        zoned(BERLIN, "20250121T103000"),
    );
    let other = master(
        "other",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=WEEKLY"],
    );
    let events = [m.clone(), moved, other.clone()];
    let last = super::last_occurrence(&events, &m, &Zone::Utc).unwrap();
    assert_eq!(fmt(&last.start, &Zone::Utc), "2025-01-21T09:00:00Z");
    assert_eq!(super::is_bounded(&other), Some(false));
    assert!(super::last_occurrence(&events, &other, &Zone::Utc).is_none());
    let until = master(
        "u",
        utc("20250106T100000"),
        utc("20250106T103000"),
        &["FREQ=DAILY;UNTIL=20250110T100000Z"],
    );
    let last = super::last_occurrence(std::slice::from_ref(&until), &until, &Zone::Utc).unwrap();
    assert_eq!(last.event_id, "u_20250110T100000Z");
}

/// Any rule built from RFC 5545's parts (extreme values included).
fn any_rule() -> impl Strategy<Value = String> {
    let list = |lo: i32, hi: i32| {
        proptest::collection::vec(lo..=hi, 1..6).prop_map(|v| {
            v.iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    let days = proptest::collection::vec(
        (prop_oneof![Just(0i32), -5i32..=5, -53i32..=53], 0usize..7),
        1..4,
    )
    .prop_map(|v| {
        let names = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"];
        v.iter()
            .map(|(n, d)| {
                if *n == 0 {
                    names[*d].to_string()
                } else {
                    format!("{n}{}", names[*d])
                }
            })
            .collect::<Vec<_>>()
            .join(",")
    });
    (
        proptest::sample::select(vec![
            "SECONDLY", "MINUTELY", "HOURLY", "DAILY", "WEEKLY", "MONTHLY", "YEARLY",
        ]),
        prop_oneof![Just(None), (1u32..5).prop_map(Some), Just(Some(u32::MAX))],
        prop_oneof![
            Just(None),
            (1u32..50).prop_map(Some),
            Just(Some(2_147_483_648u32)),
            Just(Some(u32::MAX))
        ],
        proptest::option::of(list(0, 60)),
        proptest::option::of(list(0, 59)),
        proptest::option::of(list(0, 23)),
        proptest::option::of(days),
        proptest::option::of(list(-31, 31)),
        proptest::option::of(list(-366, 366)),
        proptest::option::of(list(-53, 53)),
        proptest::option::of(list(1, 12)),
        proptest::option::of(list(-366, 366)),
    )
        .prop_map(
            |(freq, interval, count, sec, min, hour, day, mday, yday, wno, month, setpos)| {
                let mut r = format!("FREQ={freq}");
                if let Some(i) = interval {
                    r.push_str(&format!(";INTERVAL={i}"));
                }
                if let Some(c) = count {
                    r.push_str(&format!(";COUNT={c}"));
                }
                for (k, v) in [
                    ("BYSECOND", sec),
                    ("BYMINUTE", min),
                    ("BYHOUR", hour),
                    ("BYDAY", day),
                    ("BYMONTHDAY", mday),
                    ("BYYEARDAY", yday),
                    ("BYWEEKNO", wno),
                    ("BYMONTH", month),
                    ("BYSETPOS", setpos),
                ] {
                    if let Some(v) = v {
                        r.push_str(&format!(";{k}={v}"));
                    }
                }
                r
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Whatever the rule, its iterator ends on its own within its work budget (plus the last
    /// period's candidates): no rule runs away, none panics.
    #[test]
    fn every_rule_iterator_ends_within_its_budget(rule in any_rule(), offset in 0i64..3000) {
        // Rules the parser refuses (a zero in a list, …) are fine: they are skipped with a warning.
        let Ok(rule) = super::Rule::parse(&rule) else { return Ok(()); };
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(offset);
        let start = start.and_hms_opt(9, 30, 0).unwrap();
        let budget = 20_000u64;
        let mut it = rule
            .instances(start, NaiveDateTime::MAX)
            .with_work_limit(budget);
        let guard = budget as usize + crate::limits::MAX_PERIOD_CANDIDATES + 2;
        let n = it.by_ref().take(guard).count();
        prop_assert!(n < guard, "the iterator did not end by itself");
        prop_assert!(it.work() <= budget + crate::limits::MAX_PERIOD_CANDIDATES as u64 + 366);
    }

    /// Whatever the rule, overrides and EXDATEs, an expansion keeps to its limits: a series gives
    /// at most its instance cap, never panics, and a cut is reported with the series' name.
    #[test]
    fn every_expansion_keeps_to_its_limits(
        rule in any_rule(),
        offset in 0i64..3000,
        moved in proptest::collection::vec(0i64..400, 0..30),
        removed in proptest::collection::vec(0i64..400, 0..30),
        from_days in 0i64..4000,
        len_days in 1i64..2000,
    ) {
        let day0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Duration::days(offset);
        let at = |d: i64| utc(&(day0 + chrono::Duration::days(d)).format("%Y%m%dT093000").to_string());
        let mut m = master("p", at(0), utc(&(day0).format("%Y%m%dT100000").to_string()), &[&rule]);
        m.recurrence.as_mut().unwrap().exdates = removed.iter().map(|d| at(*d)).collect();
        let mut events = vec![m.clone()];
        for d in &moved {
            events.push(override_of(&m, at(*d), at(*d + 1), at(*d + 2)));
        }
        let from = Utc.from_utc_datetime(&NaiveDate::from_ymd_opt(2019, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap())
            + chrono::Duration::days(from_days);
        let w = Window { from, to: from + chrono::Duration::days(len_days) };
        let limits = super::Limits { instances_per_series: 300, series_occurrences: 300, work: 50_000 };
        let x = super::expand_with(&events, &w, &Zone::Utc, &limits);
        prop_assert!(x.occurrences.len() <= limits.instances_per_series,
            "{} occurrences", x.occurrences.len());
        for warning in &x.warnings {
            prop_assert!(warning.contains("Series p (p)"), "{warning}");
        }
    }
}
