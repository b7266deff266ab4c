use super::*;
use crate::recurrence::{Window, expand};
use serde_json::{Value, json};

const S07: &str = include_str!("../testdata/07-calendarview-delta-page-with-nextlink.json");
const S08: &str = include_str!("../testdata/08-calendarview-delta-next-round-with-removed.json");
const S09: &str = include_str!("../testdata/09-calendarview-delta-bare-occurrence-item.json");
const S12: &str = include_str!("../testdata/12-event-seriesmaster-with-attendees.json");
const S13: &str = include_str!("../testdata/13-instances-occurrences-and-exception.json");
const S14: &str =
    include_str!("../testdata/14-seriesmaster-cancelled-and-exception-occurrences.json");
const S15: &str = include_str!("../testdata/15-events-list-prefer-timezone.json");

fn no_master(_: &str) -> Option<SeriesInfo> {
    None
}

fn no_warning(w: String) {
    panic!("unexpected warning: {w}")
}

/// Map one JSON value the way the sync will: raw, straight from the bytes.
fn map_value(
    v: &Value,
    series: SeriesLookup<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    map_item(
        &serde_json::value::to_raw_value(v).unwrap(),
        "primary",
        series,
        warn,
    )
}

fn map_ok(v: &Value) -> Mapped {
    map_value(v, &no_master, &mut no_warning).unwrap()
}

/// The items of a collection body, or the body itself when it is one item.
fn items(json: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(json).unwrap();
    match v.get("value") {
        Some(Value::Array(a)) => a.clone(),
        _ => vec![v],
    }
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

fn date(y: i32, mo: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap()
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    local(y, mo, d, h, mi).and_utc()
}

fn zone(name: &str) -> Zone {
    resolve_name(name).unwrap()
}

fn pattern(v: Value) -> MsPattern {
    serde_json::from_value(v).unwrap()
}

fn range(v: Value) -> MsRange {
    serde_json::from_value(v).unwrap()
}

fn no_end() -> MsRange {
    range(
        json!({"type": "noEnd", "startDate": "2025-01-01", "endDate": "0001-01-01",
                  "numberOfOccurrences": 0}),
    )
}

fn rrule(p: Value, r: &MsRange, z: Option<&Zone>) -> String {
    let (rule, warnings) = recurrence_to_rrule(&pattern(p), r, z).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    rule
}

/// Instance starts (wall time of each occurrence) of a master with `rule` starting at `start`.
fn instances(
    rule: &str,
    start: EventTime,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<NaiveDateTime> {
    let master = Event {
        calendar: "primary".into(),
        uid: "u".into(),
        event_id: "m".into(),
        series_id: None,
        recurrence: Some(RecurrenceSet {
            rrules: vec![rule.to_string()],
            ..RecurrenceSet::default()
        }),
        recurrence_id: None,
        this_and_future: false,
        end: start.clone(),
        start,
        status: EventStatus::Confirmed,
        summary: String::new(),
        description: None,
        location: None,
        organizer: None,
        attendees: Vec::new(),
        self_response: None,
        out_of_office: false,
        sequence: 0,
        updated: None,
        etag: None,
    };
    let events = [master];
    let x = expand(&events, &Window { from, to }, &Zone::Utc);
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
    x.occurrences.iter().map(|o| o.start.local()).collect()
}

// ---------------------------------------------------------------- recurrence_to_rrule

#[test]
fn weekly_with_sentinels_and_first_day_of_week() {
    // Sample 12's pattern: month/dayOfMonth 0 and index "first" are unused sentinels.
    let p = json!({"type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0,
                   "daysOfWeek": ["tuesday", "thursday"], "firstDayOfWeek": "sunday",
                   "index": "first"});
    assert_eq!(
        rrule(p, &no_end(), Some(&Zone::Utc)),
        "FREQ=WEEKLY;BYDAY=TU,TH;WKST=SU"
    );
}

#[test]
fn biweekly_wkst_changes_the_weeks() {
    let p = |first: &str| {
        json!({"type": "weekly", "interval": 2, "daysOfWeek": ["tuesday", "sunday"],
               "firstDayOfWeek": first})
    };
    let mo = rrule(p("monday"), &no_end(), Some(&Zone::Utc));
    let su = rrule(p("sunday"), &no_end(), Some(&Zone::Utc));
    assert_eq!(mo, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=MO");
    assert_eq!(su, "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,SU;WKST=SU");
    // RFC 5545 §3.3.10's own example: DTSTART 1997-08-05 (a Tuesday).
    let start = EventTime::utc(utc(1997, 8, 5, 9, 0));
    let (from, to) = (utc(1997, 8, 1, 0, 0), utc(1997, 8, 26, 0, 0));
    let days = |r: &str| -> Vec<u32> {
        instances(r, start.clone(), from, to)
            .iter()
            .map(|t| t.day())
            .collect()
    };
    assert_eq!(days(&mo), vec![5, 10, 19, 24]);
    assert_eq!(days(&su), vec![5, 17, 19]);
}

#[test]
fn daily_with_interval_and_count() {
    let r = range(json!({"type": "numbered", "startDate": "2025-01-01", "numberOfOccurrences": 4}));
    let rule = rrule(
        json!({"type": "daily", "interval": 3, "daysOfWeek": []}),
        &r,
        Some(&Zone::Utc),
    );
    assert_eq!(rule, "FREQ=DAILY;INTERVAL=3;COUNT=4");
    let got = instances(
        &rule,
        EventTime::utc(utc(2025, 1, 1, 9, 0)),
        utc(2025, 1, 1, 0, 0),
        utc(2025, 3, 1, 0, 0),
    );
    let days: Vec<u32> = got.iter().map(|t| t.day()).collect();
    assert_eq!(days, vec![1, 4, 7, 10]);
}

#[test]
fn absolute_monthly() {
    let rule = rrule(
        json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 15, "month": 0,
               "index": "first"}),
        &no_end(),
        Some(&Zone::Utc),
    );
    assert_eq!(rule, "FREQ=MONTHLY;BYMONTHDAY=15");
}

#[test]
fn absolute_monthly_day_31_falls_on_the_last_day_of_short_months() {
    let rule = rrule(
        json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31}),
        &no_end(),
        Some(&Zone::Utc),
    );
    assert_eq!(rule, "FREQ=MONTHLY;BYMONTHDAY=28,29,30,31;BYSETPOS=-1");
    let got = instances(
        &rule,
        EventTime::utc(utc(2024, 1, 31, 9, 0)),
        utc(2024, 1, 1, 0, 0),
        utc(2024, 5, 1, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(
        dates,
        vec![
            date(2024, 1, 31),
            date(2024, 2, 29),
            date(2024, 3, 31),
            date(2024, 4, 30)
        ]
    );
}

#[test]
fn relative_monthly_one_day_last_and_several_days() {
    let p = |days: Value, index: &str| {
        json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": days, "index": index,
               "dayOfMonth": 0, "month": 0})
    };
    assert_eq!(
        rrule(p(json!(["tuesday"]), "second"), &no_end(), Some(&Zone::Utc)),
        "FREQ=MONTHLY;BYDAY=2TU"
    );
    assert_eq!(
        rrule(p(json!(["friday"]), "last"), &no_end(), Some(&Zone::Utc)),
        "FREQ=MONTHLY;BYDAY=-1FR"
    );
    let weekdays = json!(["monday", "tuesday", "wednesday", "thursday", "friday"]);
    let first_weekday = rrule(p(weekdays.clone(), "first"), &no_end(), Some(&Zone::Utc));
    assert_eq!(
        first_weekday,
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1"
    );
    let last_weekday = rrule(p(weekdays, "last"), &no_end(), Some(&Zone::Utc));
    assert_eq!(
        last_weekday,
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"
    );
    // 2025: June 1 is a Sunday, so the first weekday is Monday June 2; May 31 is a Saturday.
    let got = instances(
        &first_weekday,
        EventTime::utc(utc(2025, 5, 1, 9, 0)),
        utc(2025, 5, 1, 0, 0),
        utc(2025, 7, 1, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(dates, vec![date(2025, 5, 1), date(2025, 6, 2)]);
    let got = instances(
        &last_weekday,
        EventTime::utc(utc(2025, 5, 30, 9, 0)),
        utc(2025, 5, 1, 0, 0),
        utc(2025, 7, 1, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(dates, vec![date(2025, 5, 30), date(2025, 6, 30)]);
}

#[test]
fn absolute_yearly_and_february_29() {
    let p = |month: i64, day: i64| {
        json!({"type": "absoluteYearly", "interval": 1, "month": month, "dayOfMonth": day,
               "index": "first"})
    };
    assert_eq!(
        rrule(p(3, 15), &no_end(), Some(&Zone::Utc)),
        "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15"
    );
    let leap = rrule(p(2, 29), &no_end(), Some(&Zone::Utc));
    assert_eq!(leap, "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=28,29;BYSETPOS=-1");
    let got = instances(
        &leap,
        EventTime::utc(utc(2024, 2, 29, 9, 0)),
        utc(2024, 1, 1, 0, 0),
        utc(2026, 12, 31, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(
        dates,
        vec![date(2024, 2, 29), date(2025, 2, 28), date(2026, 2, 28)]
    );
}

#[test]
fn relative_yearly() {
    // US Thanksgiving: the fourth Thursday of November, every year.
    let rule = rrule(
        json!({"type": "relativeYearly", "interval": 1, "month": 11,
               "daysOfWeek": ["thursday"], "index": "fourth", "dayOfMonth": 0}),
        &no_end(),
        Some(&Zone::Utc),
    );
    assert_eq!(rule, "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH");
    let got = instances(
        &rule,
        EventTime::utc(utc(2024, 11, 28, 17, 0)),
        utc(2024, 1, 1, 0, 0),
        utc(2026, 12, 31, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(
        dates,
        vec![date(2024, 11, 28), date(2025, 11, 27), date(2026, 11, 26)]
    );
    // Several days: the last weekend day of March, every other year.
    let rule = rrule(
        json!({"type": "relativeYearly", "interval": 2, "month": 3,
               "daysOfWeek": ["saturday", "sunday"], "index": "last"}),
        &no_end(),
        Some(&Zone::Utc),
    );
    assert_eq!(
        rule,
        "FREQ=YEARLY;INTERVAL=2;BYMONTH=3;BYDAY=SA,SU;BYSETPOS=-1"
    );
}

#[test]
fn end_date_is_the_end_of_that_day_in_the_series_zone() {
    let r = range(json!({"type": "endDate", "startDate": "2025-06-03",
                         "endDate": "2025-06-24", "recurrenceTimeZone": "Eastern Standard Time"}));
    let p = json!({"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"],
                   "firstDayOfWeek": "sunday"});
    // 23:59:59 EDT (UTC-4) on June 24 is 03:59:59 UTC on June 25.
    let ny = zone("Eastern Standard Time");
    let rule = rrule(p.clone(), &r, Some(&ny));
    assert_eq!(rule, "FREQ=WEEKLY;BYDAY=TU;WKST=SU;UNTIL=20250625T035959Z");
    assert_eq!(
        rrule(p.clone(), &r, Some(&Zone::Utc)),
        "FREQ=WEEKLY;BYDAY=TU;WKST=SU;UNTIL=20250624T235959Z"
    );
    // All-day series: a DATE.
    assert_eq!(
        rrule(p, &r, None),
        "FREQ=WEEKLY;BYDAY=TU;WKST=SU;UNTIL=20250624"
    );
    // An evening occurrence on endDate itself (21:00 EDT = 01:00 UTC the next day) is kept.
    let got = instances(
        &rule,
        EventTime::Zoned {
            local: local(2025, 6, 3, 21, 0),
            zone: ny,
        },
        utc(2025, 6, 1, 0, 0),
        utc(2025, 8, 1, 0, 0),
    );
    let dates: Vec<NaiveDate> = got.iter().map(|t| t.date()).collect();
    assert_eq!(
        dates,
        vec![
            date(2025, 6, 3),
            date(2025, 6, 10),
            date(2025, 6, 17),
            date(2025, 6, 24)
        ]
    );
}

#[test]
fn unusable_patterns_and_ranges_are_errors() {
    let weekly = json!({"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]});
    let bad = [
        (json!({"type": "hourly", "interval": 1}), no_end()),
        (
            json!({"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 0}),
            no_end(),
        ),
        (
            json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": []}),
            no_end(),
        ),
        (
            json!({"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["funday"]}),
            no_end(),
        ),
        (
            json!({"type": "absoluteYearly", "interval": 1, "month": 0, "dayOfMonth": 3}),
            no_end(),
        ),
        (
            weekly.clone(),
            range(json!({"type": "numbered", "numberOfOccurrences": 0})),
        ),
        (
            weekly.clone(),
            range(json!({"type": "endDate", "endDate": "0001-01-01"})),
        ),
        (weekly, range(json!({"type": "sometimes"}))),
    ];
    for (p, r) in bad {
        assert!(
            recurrence_to_rrule(&pattern(p.clone()), &r, Some(&Zone::Utc)).is_err(),
            "{p} {r:?}"
        );
    }
}

#[test]
fn interval_zero_is_read_as_one_with_a_warning() {
    let (rule, warnings) = recurrence_to_rrule(
        &pattern(json!({"type": "daily", "interval": 0})),
        &no_end(),
        Some(&Zone::Utc),
    )
    .unwrap();
    assert_eq!(rule, "FREQ=DAILY");
    assert_eq!(warnings.len(), 1);
}

// ---------------------------------------------------------------- samples

#[test]
fn sample_12_series_master() {
    let e = upsert(&map_ok(&items(S12)[0])).clone();
    let ny = zone("America/New_York");
    assert!(e.is_master());
    assert_eq!(
        e.event_id,
        "AQMkAGI5MWY5ZmUyLTJiNzYtNDE0ZC04OWEwLWM3M2FjYmM3NwAzZWYARgAAA_b2VnUAiWNLj0xeSOs499YHAMT2RdsuOqRIlQZ4vOzp66YAAAIBDQAAAMT2RdsuOqRIlQZ4vOzp66YAAAIJOwAAAA=="
    );
    assert_eq!(
        e.uid,
        "040000008200E00074C5B7101A82E00800000000B23663002F0AD301000000000000000010000000B7C936D4C2FEC749824EE24B2FD7DA62"
    );
    // 14:30 UTC in August is 10:30 EDT: DTSTART is in the recurrence zone.
    assert_eq!(
        e.start,
        EventTime::Zoned {
            local: local(2017, 8, 15, 10, 30),
            zone: ny.clone()
        }
    );
    assert_eq!(
        e.end,
        EventTime::Zoned {
            local: local(2017, 8, 15, 11, 30),
            zone: ny
        }
    );
    let rec = e.recurrence.as_ref().unwrap();
    assert_eq!(rec.rrules, vec!["FREQ=WEEKLY;BYDAY=TU,TH;WKST=SU"]);
    assert!(rec.exdates.is_empty());
    assert_eq!(e.summary, "Continuing Education Sync");
    assert!(
        e.description
            .as_deref()
            .unwrap()
            .starts_with("Higher Education Planning.")
    );
    assert_eq!(e.location.as_deref(), Some("HR Taskforce / Benefits"));
    assert_eq!(e.status, EventStatus::Confirmed);
    assert_eq!(
        e.organizer,
        Some(Person {
            email: "HRTaskforce@contoso.com".into(),
            name: Some("HR Taskforce".into())
        })
    );
    assert_eq!(e.attendees.len(), 5);
    assert_eq!(e.attendees[0].email, "LidiaH@contoso.com");
    assert_eq!(e.attendees[0].response, Response::Accepted);
    assert!(
        e.attendees[1..]
            .iter()
            .all(|a| a.response == Response::NeedsAction)
    );
    assert!(e.attendees.iter().all(|a| !a.resource && !a.is_self));
    assert_eq!(
        e.updated,
        Some("2017-07-31T18:58:35.418473Z".parse().unwrap())
    );
    assert_eq!(e.etag.as_deref(), Some("xPZF2y46pEiVBni87OnrpgAAAAAJTg=="));

    // Across the end of DST (2017-11-05) the series stays at 10:30 New York time.
    let events = [e];
    let x = expand(
        &events,
        &Window {
            from: utc(2017, 10, 30, 0, 0),
            to: utc(2017, 11, 10, 0, 0),
        },
        &Zone::Utc,
    );
    let starts: Vec<DateTime<Utc>> = x
        .occurrences
        .iter()
        .map(|o| o.start.instant(&Zone::Utc))
        .collect();
    assert_eq!(
        starts,
        vec![
            utc(2017, 10, 31, 14, 30),
            utc(2017, 11, 2, 14, 30),
            utc(2017, 11, 7, 15, 30),
            utc(2017, 11, 9, 15, 30)
        ]
    );
}

#[test]
fn sample_13_instances() {
    let all = items(S13);
    let mapped: Vec<Result<Mapped, String>> = all
        .iter()
        .map(|v| map_value(v, &no_master, &mut no_warning))
        .collect();
    // The exception was fetched without `originalStart` in `$select`: its slot is unknown.
    let err = mapped[0].as_ref().unwrap_err();
    assert!(err.contains("originalStart"), "{err}");
    for (m, v) in mapped[1..].iter().zip(&all[1..]) {
        assert_eq!(
            m.as_ref().unwrap(),
            &Mapped::BareOccurrence {
                id: v["id"].as_str().unwrap().to_string(),
                series_master_id: "AAMkAGUzYRgWAAA=".into()
            }
        );
    }

    // With `originalStart`, and the master known (a Pacific series), it is an override whose
    // recurrence id is in the master's frame.
    let mut ex = all[0].clone();
    ex["originalStart"] = json!("2019-04-15T20:30:00Z");
    ex["iCalUId"] =
        json!("040000008200E00074C5B7101A82E00807E3040FB23663002F0AD30100000000000000001000000011");
    let la = zone("Pacific Standard Time");
    let info = SeriesInfo {
        uid: "master-uid".into(),
        start: EventTime::Zoned {
            local: local(2019, 4, 1, 13, 30),
            zone: la.clone(),
        },
    };
    let lookup = |id: &str| (id == "AAMkAGUzYRgWAAA=").then(|| info.clone());
    let e = upsert(&map_value(&ex, &lookup, &mut no_warning).unwrap()).clone();
    assert!(e.is_override());
    assert_eq!(e.series_id.as_deref(), Some("AAMkAGUzYRgWAAA="));
    assert_eq!(
        e.recurrence_id,
        Some(EventTime::Zoned {
            local: local(2019, 4, 15, 13, 30),
            zone: la
        })
    );
    assert_eq!(e.start, EventTime::utc(utc(2019, 4, 16, 20, 30)));
    assert_eq!(e.end, EventTime::utc(utc(2019, 4, 16, 21, 0)));
    assert_eq!(e.uid, "master-uid");
    assert_eq!(e.summary, "Review strategy for Q3");
    assert_eq!(
        e.description.as_deref(),
        Some("Changing meeting from 4/15 to 4/16.")
    );

    // Without the master: a UTC recurrence id, and the clean global object id as uid.
    let e = upsert(&map_ok(&ex)).clone();
    assert_eq!(
        e.recurrence_id,
        Some(EventTime::utc(utc(2019, 4, 15, 20, 30)))
    );
    assert_eq!(
        e.uid,
        "040000008200E00074C5B7101A82E00800000000B23663002F0AD30100000000000000001000000011"
    );
}

/// Sample 14's master, with the `recurrence` a v1.0 GET would also select.
fn s14_with_recurrence() -> MsEvent {
    let mut v: Value = serde_json::from_str(S14).unwrap();
    v["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["thursday"],
                    "firstDayOfWeek": "monday", "index": "first", "month": 0, "dayOfMonth": 0},
        "range": {"type": "noEnd", "startDate": "2020-04-23", "endDate": "0001-01-01",
                  "recurrenceTimeZone": "W. Europe Standard Time", "numberOfOccurrences": 0}
    });
    serde_json::from_value(v).unwrap()
}

#[test]
fn sample_14_cancelled_and_exception_occurrences() {
    let master = s14_with_recurrence();
    let out = map_series(&master, "primary", &mut no_warning).unwrap();
    assert_eq!(out.len(), 2);
    let m = upsert(&out[0]).clone();
    let berlin = zone("Europe/Berlin");
    // 11:30 UTC is 13:30 CEST.
    assert_eq!(
        m.start,
        EventTime::Zoned {
            local: local(2020, 4, 23, 13, 30),
            zone: berlin.clone()
        }
    );
    let rec = m.recurrence.as_ref().unwrap();
    assert_eq!(rec.rrules, vec!["FREQ=WEEKLY;BYDAY=TH;WKST=MO"]);
    let at = |d: u32, mo: u32| EventTime::Zoned {
        local: local(2020, mo, d, 13, 30),
        zone: berlin.clone(),
    };
    assert_eq!(rec.exdates, vec![at(30, 4), at(7, 5), at(14, 5)]);

    let ex = upsert(&out[1]).clone();
    assert_eq!(ex.event_id, "AAMkADM0ZGRhMjdjLTA==");
    assert_eq!(ex.series_id.as_deref(), Some("AAMkADAGAADDdm4NAAA="));
    // No originalStart in this (beta) body: the occurrenceId's date at the master's time.
    assert_eq!(ex.recurrence_id, Some(at(21, 5)));
    assert_eq!(ex.summary, "SM update 24", "capital-S `Subject` is read");
    assert_eq!(ex.uid, m.uid);

    // Expanded: the three cancelled Thursdays are removed, the exception replaces May 21.
    let events = [m, ex];
    let x = expand(
        &events,
        &Window {
            from: utc(2020, 4, 20, 0, 0),
            to: utc(2020, 6, 1, 0, 0),
        },
        &Zone::Utc,
    );
    let got: Vec<(NaiveDate, bool, &str)> = x
        .occurrences
        .iter()
        .map(|o| (o.start.local().date(), o.removed, o.event.event_id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (date(2020, 4, 23), false, "AAMkADAGAADDdm4NAAA="),
            (date(2020, 4, 30), true, "AAMkADAGAADDdm4NAAA="),
            (date(2020, 5, 7), true, "AAMkADAGAADDdm4NAAA="),
            (date(2020, 5, 14), true, "AAMkADAGAADDdm4NAAA="),
            (date(2020, 5, 21), false, "AAMkADM0ZGRhMjdjLTA=="),
            (date(2020, 5, 28), false, "AAMkADAGAADDdm4NAAA="),
        ]
    );
}

#[test]
fn sample_14_as_is_is_an_incomplete_master() {
    // The body as the doc shows it selects no `recurrence`: the master must be fetched again,
    // and its exception cannot be placed without it.
    let master: MsEvent = serde_json::from_str(S14).unwrap();
    let mut warnings = Vec::new();
    let out = map_series(&master, "primary", &mut |w| warnings.push(w)).unwrap();
    assert_eq!(
        out,
        vec![Mapped::IncompleteMaster("AAMkADAGAADDdm4NAAA=".into())]
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("originalStart"), "{warnings:?}");
}

#[test]
fn sample_15_prefer_time_zone() {
    let e = upsert(&map_ok(&items(S15)[0])).clone();
    assert_eq!(
        e.start,
        EventTime::Zoned {
            local: local(2017, 4, 21, 10, 0),
            zone: zone("America/Los_Angeles")
        }
    );
    assert_eq!(e.end.instant(&Zone::Utc), utc(2017, 4, 21, 19, 0));
    assert!(!e.is_master() && !e.is_override());
    assert_eq!(e.uid, "AAMkAGIAAAoZDOFAAA=", "no iCalUId: the id");
    assert_eq!(e.summary, "Orientation ");
    assert_eq!(e.location.as_deref(), Some("Assembly Hall"));
    assert_eq!(
        e.etag.as_deref(),
        Some("W/\"ZlnW4RIAV06KYYwlrfNZvQAAKGWwbw==\"")
    );
    let emails: Vec<&str> = e.attendees.iter().map(|a| a.email.as_str()).collect();
    assert_eq!(
        emails,
        vec![
            "samanthab@a830edad905084922E17020313.onmicrosoft.com",
            "danas@a830edad905084922E17020313.onmicrosoft.com"
        ]
    );
}

#[test]
fn sample_09_bare_occurrence() {
    assert_eq!(
        map_ok(&items(S09)[0]),
        Mapped::BareOccurrence {
            id: "id".into(),
            series_master_id: "seriesMasterId".into()
        }
    );
}

#[test]
fn sample_08_delta_page_with_removed() {
    let page: EventsPage = serde_json::from_str(S08).unwrap();
    assert!(page.next_link.is_none());
    assert_eq!(
        page.delta_link.as_deref(),
        Some("https://graph.microsoft.com/v1.0/me/calendarView/delta?$deltatoken=R0usmcFuQtZdtpk4")
    );
    let mapped: Vec<Mapped> = page
        .value
        .iter()
        .map(|raw| map_item(raw, "primary", &no_master, &mut no_warning).unwrap())
        .collect();
    assert_eq!(
        mapped[0],
        Mapped::Delete("AAMkADk0MGFkODE3LWE4MmYtNDRhOS04OGQLkRkXbBznTvAADb6ytyAAA=".into())
    );
    let e = upsert(&mapped[1]);
    assert_eq!(e.start, EventTime::utc(utc(2016, 12, 25, 6, 0)));
    assert_eq!(e.end, EventTime::utc(utc(2016, 12, 25, 7, 30)));
    assert_eq!(e.location.as_deref(), Some("Chapel of Saint Ignatius"));
    assert_eq!(e.summary, "Attend service");
    assert!(e.attendees.is_empty());
}

#[test]
fn sample_07_delta_page_with_next_link() {
    let page: EventsPage = serde_json::from_str(S07).unwrap();
    assert!(page.next_link.is_some() && page.delta_link.is_none());
    let subjects: Vec<String> = page
        .value
        .iter()
        .map(|raw| {
            upsert(&map_item(raw, "primary", &no_master, &mut no_warning).unwrap())
                .summary
                .clone()
        })
        .collect();
    assert_eq!(subjects, vec!["Plan shopping list", "Pick up car"]);
}

// ---------------------------------------------------------------- constructed items

#[test]
fn dst_weekly_master_in_pacific_time_keeps_10_am() {
    // Created in Pacific time, read without `Prefer` (UTC): 10:00 PST = 18:00 UTC.
    let v = json!({
        "id": "M1", "type": "seriesMaster", "subject": "1on1",
        "iCalUId": "040000008200E00074C5B7101A82E00800000000AAAA",
        "start": {"dateTime": "2025-03-04T18:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-04T18:30:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Pacific Standard Time",
        "originalEndTimeZone": "Pacific Standard Time",
        "recurrence": {
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"],
                        "firstDayOfWeek": "sunday", "index": "first", "month": 0, "dayOfMonth": 0},
            "range": {"type": "noEnd", "startDate": "2025-03-04", "endDate": "0001-01-01",
                      "recurrenceTimeZone": "Pacific Standard Time", "numberOfOccurrences": 0}
        }
    });
    let e = upsert(&map_ok(&v)).clone();
    let la = zone("America/Los_Angeles");
    assert_eq!(
        e.start,
        EventTime::Zoned {
            local: local(2025, 3, 4, 10, 0),
            zone: la.clone()
        }
    );
    let events = [e];
    let x = expand(
        &events,
        &Window {
            from: utc(2025, 3, 1, 0, 0),
            to: utc(2025, 3, 26, 0, 0),
        },
        &Zone::Utc,
    );
    assert!(x.warnings.is_empty(), "{:?}", x.warnings);
    let got: Vec<(NaiveDateTime, DateTime<Utc>, DateTime<Utc>)> = x
        .occurrences
        .iter()
        .map(|o| {
            (
                la.from_utc(o.start.instant(&Zone::Utc)),
                o.start.instant(&Zone::Utc),
                o.end.instant(&Zone::Utc),
            )
        })
        .collect();
    // US DST starts 2025-03-09: 10:00 local moves from 18:00 to 17:00 UTC.
    assert_eq!(
        got,
        vec![
            (
                local(2025, 3, 4, 10, 0),
                utc(2025, 3, 4, 18, 0),
                utc(2025, 3, 4, 18, 30)
            ),
            (
                local(2025, 3, 11, 10, 0),
                utc(2025, 3, 11, 17, 0),
                utc(2025, 3, 11, 17, 30)
            ),
            (
                local(2025, 3, 18, 10, 0),
                utc(2025, 3, 18, 17, 0),
                utc(2025, 3, 18, 17, 30)
            ),
            (
                local(2025, 3, 25, 10, 0),
                utc(2025, 3, 25, 17, 0),
                utc(2025, 3, 25, 17, 30)
            ),
        ]
    );
}

#[test]
fn customized_time_zone_falls_back_to_utc_with_a_warning() {
    let v = json!({
        "id": "M2", "type": "seriesMaster",
        "start": {"dateTime": "2025-03-04T18:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-04T18:30:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Customized Time Zone",
        "recurrence": {
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "numberOfOccurrences": 3,
                      "recurrenceTimeZone": "tzone://Microsoft/Custom"}
        }
    });
    let mut warnings = Vec::new();
    let m = map_value(&v, &no_master, &mut |w| warnings.push(w)).unwrap();
    let e = upsert(&m);
    assert_eq!(e.start, EventTime::utc(utc(2025, 3, 4, 18, 0)));
    assert_eq!(
        e.recurrence.as_ref().unwrap().rrules,
        vec!["FREQ=DAILY;COUNT=3"]
    );
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("UTC"), "{warnings:?}");
}

#[test]
fn all_day_single_and_master() {
    let single = json!({
        "id": "A1", "type": "singleInstance", "isAllDay": true, "subject": "Offsite",
        "start": {"dateTime": "2024-03-10T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2024-03-12T00:00:00.0000000", "timeZone": "UTC"},
        "originalStartTimeZone": "Tokyo Standard Time"
    });
    let e = upsert(&map_ok(&single)).clone();
    assert_eq!(
        e.start,
        EventTime::Date {
            date: date(2024, 3, 10)
        }
    );
    assert_eq!(
        e.end,
        EventTime::Date {
            date: date(2024, 3, 12)
        }
    );

    let mut master = single.clone();
    master["id"] = json!("A2");
    master["type"] = json!("seriesMaster");
    master["end"] = json!({"dateTime": "2024-03-11T00:00:00.0000000", "timeZone": "UTC"});
    master["recurrence"] = json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["sunday"],
                    "firstDayOfWeek": "sunday"},
        "range": {"type": "endDate", "startDate": "2024-03-10", "endDate": "2024-03-31",
                  "recurrenceTimeZone": "Tokyo Standard Time"}
    });
    master["cancelledOccurrences"] = json!(["OID.A2.2024-03-17"]);
    let e = upsert(&map_ok(&master)).clone();
    assert_eq!(
        e.start,
        EventTime::Date {
            date: date(2024, 3, 10)
        }
    );
    assert_eq!(
        e.end,
        EventTime::Date {
            date: date(2024, 3, 11)
        }
    );
    let rec = e.recurrence.as_ref().unwrap();
    assert_eq!(
        rec.rrules,
        vec!["FREQ=WEEKLY;BYDAY=SU;WKST=SU;UNTIL=20240331"]
    );
    assert_eq!(
        rec.exdates,
        vec![EventTime::Date {
            date: date(2024, 3, 17)
        }]
    );

    // An all-day exception of that series: its recurrence id is a date.
    let info = SeriesInfo::of(&e).unwrap();
    let ex = json!({
        "id": "A2-x", "type": "exception", "seriesMasterId": "A2", "isAllDay": true,
        "originalStart": "2024-03-24T00:00:00Z",
        "start": {"dateTime": "2024-03-25T00:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2024-03-26T00:00:00.0000000", "timeZone": "UTC"}
    });
    let lookup = |_: &str| Some(info.clone());
    let x = upsert(&map_value(&ex, &lookup, &mut no_warning).unwrap()).clone();
    assert_eq!(
        x.recurrence_id,
        Some(EventTime::Date {
            date: date(2024, 3, 24)
        })
    );
    assert_eq!(
        x.start,
        EventTime::Date {
            date: date(2024, 3, 25)
        }
    );
}

#[test]
fn the_owners_own_response_is_kept_apart_from_the_attendees() {
    // An attendee's copy of a report's 1on1 that the owner declined: the attendee list carries
    // the invitation's statuses (`none`), the owner's answer is only in `responseStatus`.
    let copy = |response: &str| {
        json!({
            "id": "S2", "type": "singleInstance", "subject": "1on1",
            "start": {"dateTime": "2025-01-06T09:00:00.0000000", "timeZone": "UTC"},
            "end": {"dateTime": "2025-01-06T09:30:00.0000000", "timeZone": "UTC"},
            "isOrganizer": response == "organizer",
            "responseStatus": {"response": response, "time": "2025-01-02T10:00:00Z"},
            "organizer": {"emailAddress": {"name": "Ben", "address": "ben@contoso.com"}},
            "attendees": [
                {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                 "emailAddress": {"address": "ben@contoso.com"}},
                {"type": "required", "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
                 "emailAddress": {"address": "mika@contoso.com"}}
            ]
        })
    };
    let own = |response: &str| upsert(&map_ok(&copy(response))).self_response;
    assert_eq!(own("declined"), Some(Response::Declined));
    assert_eq!(own("Declined"), Some(Response::Declined));
    assert_eq!(own("accepted"), Some(Response::Accepted));
    assert_eq!(own("tentativelyAccepted"), Some(Response::Tentative));
    assert_eq!(own("organizer"), None);
    assert_eq!(own("notResponded"), None);
    assert_eq!(own("none"), None);
    let mut absent = copy("none");
    absent.as_object_mut().unwrap().remove("responseStatus");
    assert_eq!(upsert(&map_ok(&absent)).self_response, None);
    // The attendee list is mapped as it is.
    let e = upsert(&map_ok(&copy("declined"))).clone();
    assert!(
        e.attendees
            .iter()
            .all(|a| a.response == Response::NeedsAction)
    );
}

#[test]
fn cancelled_resource_and_responses() {
    let v = json!({
        "id": "S1", "type": "singleInstance", "isCancelled": true,
        "subject": "Canceled: 1on1",
        "start": {"dateTime": "2025-01-06T09:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2025-01-06T09:30:00.0000000", "timeZone": "UTC"},
        "responseStatus": {"response": "declined", "time": "2025-01-02T10:00:00Z"},
        "organizer": {"emailAddress": {"name": "Boss", "address": "boss@contoso.com"}},
        "attendees": [
            {"type": "required", "status": {"response": "tentativelyAccepted"},
             "emailAddress": {"address": "a@contoso.com"}},
            {"type": "optional", "status": {"response": "declined"},
             "emailAddress": {"address": "b@contoso.com", "name": ""}},
            {"type": "required", "status": {"response": "organizer"},
             "emailAddress": {"address": "boss@contoso.com"}},
            {"type": "required", "status": {"response": "notResponded"},
             "emailAddress": {"address": "c@contoso.com"}},
            {"type": "resource", "status": {"response": "accepted"},
             "emailAddress": {"name": "Room 1", "address": "room1@contoso.com"}},
            {"type": "required", "status": null, "emailAddress": {"name": "no address"}}
        ]
    });
    let e = upsert(&map_ok(&v)).clone();
    assert_eq!(e.status, EventStatus::Cancelled);
    let got: Vec<(&str, Response, bool)> = e
        .attendees
        .iter()
        .map(|a| (a.email.as_str(), a.response, a.resource))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a@contoso.com", Response::Tentative, false),
            ("b@contoso.com", Response::Declined, false),
            ("boss@contoso.com", Response::Accepted, false),
            ("c@contoso.com", Response::NeedsAction, false),
            ("room1@contoso.com", Response::Accepted, true),
        ]
    );
    assert_eq!(e.attendees[1].name, None);
    assert_eq!(
        e.humans(),
        vec![
            "boss@contoso.com",
            "a@contoso.com",
            "b@contoso.com",
            "c@contoso.com"
        ]
    );
}

#[test]
fn removed_with_any_reason_and_masters_without_recurrence() {
    for reason in ["deleted", "changed"] {
        let v = json!({"id": "X", "@removed": {"reason": reason}});
        assert_eq!(map_ok(&v), Mapped::Delete("X".into()));
    }
    let v = json!({"id": "M", "type": "seriesMaster", "recurrence": null,
                   "start": {"dateTime": "2025-01-06T09:00:00.0000000", "timeZone": "UTC"}});
    assert_eq!(map_ok(&v), Mapped::IncompleteMaster("M".into()));
    // No `type` (a narrow `$select`): a recurrence makes it a master.
    let v = json!({"id": "M", "recurrence": {
        "pattern": {"type": "daily", "interval": 1},
        "range": {"type": "noEnd", "recurrenceTimeZone": "UTC"}},
        "start": {"dateTime": "2025-01-06T09:00:00.0000000", "timeZone": "UTC"}});
    assert!(upsert(&map_ok(&v)).is_master());
}

#[test]
fn malformed_items_are_errors() {
    let bad = [
        json!({"subject": "no id"}),
        json!({"id": "O", "type": "occurrence"}),
        json!({"id": "T", "start": {"dateTime": "tomorrow", "timeZone": "UTC"}}),
        json!({"id": "Z", "start": {"dateTime": "2025-01-06T09:00:00", "timeZone": "Mars Time"}}),
        json!({"id": "N"}),
    ];
    for v in bad {
        assert!(map_value(&v, &no_master, &mut no_warning).is_err(), "{v}");
    }
    let raw = serde_json::value::RawValue::from_string("{\"id\": 5}".into()).unwrap();
    assert!(map_item(&raw, "primary", &no_master, &mut no_warning).is_err());
}

#[test]
fn clean_global_object_id_zeroes_the_instance_date() {
    let instance = "040000008200E00074C5B7101A82E00807D803195025D461E473C8010000000000000000100000002A5844B3A444F74A9C246C60886F116B";
    assert_eq!(
        clean_global_object_id(instance),
        "040000008200E00074C5B7101A82E008000000005025D461E473C8010000000000000000100000002A5844B3A444F74A9C246C60886F116B"
    );
    assert_eq!(
        clean_global_object_id("some-other-uid@example.com"),
        "some-other-uid@example.com"
    );
}

#[test]
fn show_as_oof_marks_out_of_office() {
    let mut v: Value = serde_json::from_str(S12).unwrap();
    assert_eq!(v["showAs"], "busy");
    assert!(!upsert(&map_ok(&v)).out_of_office);
    v["showAs"] = json!("oof");
    assert!(upsert(&map_ok(&v)).out_of_office);
    v["showAs"] = json!("workingElsewhere");
    assert!(!upsert(&map_ok(&v)).out_of_office);
}
