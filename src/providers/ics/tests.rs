//! Fixtures for the iCalendar reader (inline strings) and a walk over a corpus of real feeds.

use super::*;

use chrono::{NaiveDate, NaiveDateTime};

use crate::model::{EventStatus, EventTime, Response};
use crate::tz::Zone;

fn cal(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

fn parse(text: &str) -> ParsedFeed {
    parse_feed(text.as_bytes(), "team.ics", "team").unwrap()
}

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn zoned(s: &str, tz: chrono_tz::Tz) -> EventTime {
    EventTime::Zoned {
        local: at(s),
        zone: Zone::Iana(tz),
    }
}

fn utc(s: &str) -> EventTime {
    EventTime::Zoned {
        local: at(s),
        zone: Zone::Utc,
    }
}

const OUTLOOK_BERLIN: &str = "BEGIN:VTIMEZONE\r
TZID:W. Europe Standard Time\r
BEGIN:STANDARD\r
DTSTART:16010101T030000\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:16010101T020000\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r
END:DAYLIGHT\r
END:VTIMEZONE\r
";

#[test]
fn windows_tzid_with_outlook_vtimezone_resolves_to_iana() {
    let feed = parse(&cal(&format!(
        "{OUTLOOK_BERLIN}BEGIN:VEVENT\r\nUID:w1\r\nSUMMARY:Weekly 1on1\r\n\
         DTSTART;TZID=W. Europe Standard Time:20250106T090000\r\n\
         DTEND;TZID=\"W. Europe Standard Time\":20250106T093000\r\n\
         RRULE:FREQ=WEEKLY;BYDAY=MO\r\nEND:VEVENT\r\n"
    )));
    assert!(
        feed.skipped.is_empty() && feed.warnings.is_empty(),
        "{feed:?}"
    );
    let e = &feed.events[0];
    assert_eq!(
        e.start,
        zoned("2025-01-06 09:00", chrono_tz::Europe::Berlin)
    );
    assert_eq!(e.end, zoned("2025-01-06 09:30", chrono_tz::Europe::Berlin));
    assert!(e.is_master());
    assert_eq!(
        e.recurrence.as_ref().unwrap().rrules,
        vec!["FREQ=WEEKLY;BYDAY=MO"]
    );
    assert_eq!(
        (e.uid.as_str(), e.event_id.as_str(), e.calendar.as_str()),
        ("w1", "w1", "team")
    );
}

#[test]
fn customized_time_zone_becomes_a_custom_zone() {
    let vtz = OUTLOOK_BERLIN.replace("W. Europe Standard Time", "Customized Time Zone");
    let feed = parse(&cal(&format!(
        "{vtz}BEGIN:VEVENT\r\nUID:c1\r\nDTSTART;TZID=Customized Time Zone:20250106T090000\r\n\
         DURATION:PT30M\r\nEND:VEVENT\r\n"
    )));
    let e = &feed.events[0];
    let EventTime::Zoned {
        local,
        zone: Zone::Custom(custom),
    } = &e.start
    else {
        panic!("not a custom zone: {:?}", e.start)
    };
    assert_eq!(*local, at("2025-01-06 09:00"));
    assert_eq!(custom.tzid, "Customized Time Zone");
    assert_eq!(custom.observances.len(), 2);
    let daylight = custom.observances.iter().find(|o| o.daylight).unwrap();
    assert_eq!((daylight.offset_from, daylight.offset_to), (3600, 7200));
    assert_eq!(daylight.dtstart, at("1601-01-01 02:00"));
    assert_eq!(
        daylight.rrule.as_deref(),
        Some("FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3")
    );
    let standard = custom.observances.iter().find(|o| !o.daylight).unwrap();
    assert_eq!((standard.offset_from, standard.offset_to), (7200, 3600));
    // Both times share one zone value.
    let EventTime::Zoned {
        zone: Zone::Custom(end_zone),
        local: end,
    } = &e.end
    else {
        panic!()
    };
    assert!(std::sync::Arc::ptr_eq(custom, end_zone));
    assert_eq!(*end, at("2025-01-06 09:30"));
}

#[test]
fn unknown_tzid_without_vtimezone_is_floating_with_a_warning() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:u1\r\nDTSTART;TZID=Mars/Olympus:20250106T090000\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:u2\r\nDTSTART;TZID=Mars/Olympus:20250107T090000\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(
        feed.events[1].start,
        EventTime::Floating {
            local: at("2025-01-07 09:00")
        }
    );
    assert_eq!(
        feed.events[0].start,
        EventTime::Floating {
            local: at("2025-01-06 09:00")
        }
    );
    assert_eq!(feed.events[0].end, feed.events[0].start);
    assert_eq!(feed.warnings.len(), 1);
    assert!(
        feed.warnings[0].reason.contains("Mars/Olympus"),
        "{:?}",
        feed.warnings
    );
    assert_eq!(feed.warnings[0].line, 6);
}

#[test]
fn decorated_tzid_resolves() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:m1\r\nDTSTART;TZID=/mozilla.org/20050126_1/Europe/Berlin:20250106T090000\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(
        feed.events[0].start,
        zoned("2025-01-06 09:00", chrono_tz::Europe::Berlin)
    );
}

#[test]
fn x_wr_timezone_moves_utc_and_floating_times_into_the_zone() {
    let feed = parse(&cal("X-WR-TIMEZONE:America/New_York\r\n\
         BEGIN:VEVENT\r\nUID:x1\r\nDTSTART:20250106T170000Z\r\nDTEND:20250106T180000Z\r\n\
         RRULE:FREQ=WEEKLY\r\nEXDATE:20250113T170000Z\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:x1\r\nRECURRENCE-ID:20250120T170000Z\r\nDTSTART:20250120T190000Z\r\n\
         DTEND:20250120T200000Z\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:x2\r\nDTSTART:20250107T090000\r\nDTEND:20250107T100000\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:x3\r\nDTSTART;VALUE=DATE:20250108\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:x4\r\nDTSTART;TZID=Europe/Paris:20250109T090000\r\nEND:VEVENT\r\n"));
    let ny = chrono_tz::America::New_York;
    let e = &feed.events;
    assert_eq!(e[0].start, zoned("2025-01-06 12:00", ny));
    assert_eq!(e[0].end, zoned("2025-01-06 13:00", ny));
    assert_eq!(
        e[0].recurrence.as_ref().unwrap().exdates,
        vec![zoned("2025-01-13 12:00", ny)]
    );
    assert_eq!(e[1].recurrence_id, Some(zoned("2025-01-20 12:00", ny)));
    // The id stays the UTC compact form of the same instant.
    assert_eq!(e[1].event_id, "x1_20250120T170000Z");
    assert_eq!(e[2].start, zoned("2025-01-07 09:00", ny));
    assert_eq!(
        e[3].start,
        EventTime::Date {
            date: date("2025-01-08")
        }
    );
    assert_eq!(
        e[4].start,
        zoned("2025-01-09 09:00", chrono_tz::Europe::Paris)
    );
}

#[test]
fn floating_without_x_wr_timezone_stays_floating() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:f1\r\nDTSTART:20250106T090000\r\nDTEND:20250106T100000\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(
        feed.events[0].start,
        EventTime::Floating {
            local: at("2025-01-06 09:00")
        }
    );
    assert_eq!(
        feed.events[0].end,
        EventTime::Floating {
            local: at("2025-01-06 10:00")
        }
    );
}

#[test]
fn all_day_without_end_lasts_one_day() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:d1\r\nDTSTART;VALUE=DATE:20251231\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:d2\r\nDTSTART;VALUE=DATE:20250101\r\nDTEND;VALUE=DATE:20250104\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:d3\r\nDTSTART;VALUE=DATE:20250101\r\nDTEND;VALUE=DATE:20250101\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(
        feed.events[0].start,
        EventTime::Date {
            date: date("2025-12-31")
        }
    );
    assert_eq!(
        feed.events[0].end,
        EventTime::Date {
            date: date("2026-01-01")
        }
    );
    assert_eq!(
        feed.events[1].end,
        EventTime::Date {
            date: date("2025-01-04")
        }
    );
}

#[test]
fn duration_days_are_nominal_and_hours_exact() {
    let berlin = chrono_tz::Europe::Berlin;
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:p1\r\nDTSTART;TZID=Europe/Berlin:20250329T100000\r\nDURATION:P1D\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:p2\r\nDTSTART;TZID=Europe/Berlin:20250329T100000\r\nDURATION:PT24H\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:p3\r\nDTSTART:20250106T090000Z\r\nDURATION:PT1H30M\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:p4\r\nDTSTART;VALUE=DATE:20250106\r\nDURATION:P2D\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:p5\r\nDTSTART;VALUE=DATE:20250106\r\nDURATION:PT10H\r\nEND:VEVENT\r\n",
    ));
    let e = &feed.events;
    assert_eq!(e[0].end, zoned("2025-03-30 10:00", berlin));
    assert_eq!(e[1].end, zoned("2025-03-30 11:00", berlin));
    assert_eq!(e[2].end, utc("2025-01-06 10:30"));
    assert_eq!(
        e[3].end,
        EventTime::Date {
            date: date("2025-01-08")
        }
    );
    assert_eq!(
        e[4].end,
        EventTime::Date {
            date: date("2025-01-07")
        }
    );
}

#[test]
fn duplicates_keep_highest_sequence_then_latest_stamp_then_last() {
    let v = |uid: &str, seq: i64, stamp: &str, summary: &str| {
        format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nSEQUENCE:{seq}\r\nDTSTAMP:{stamp}\r\nSUMMARY:{summary}\r\n\
             DTSTART:20250106T090000Z\r\nEND:VEVENT\r\n"
        )
    };
    let feed = parse(&cal(&[
        v("a", 2, "20250101T000000Z", "a-seq2"),
        v("a", 1, "20250301T000000Z", "a-seq1"),
        v("b", 1, "20250301T000000Z", "b-late-stamp"),
        v("b", 1, "20250101T000000Z", "b-early-stamp"),
        v("c", 0, "20250101T000000Z", "c-first"),
        v("c", 0, "20250101T000000Z", "c-second"),
    ]
    .concat()));
    let summaries: Vec<&str> = feed.events.iter().map(|e| e.summary.as_str()).collect();
    assert_eq!(summaries, ["a-seq2", "b-late-stamp", "c-second"]);
    assert_eq!(feed.warnings.len(), 3, "{:?}", feed.warnings);
}

#[test]
fn overrides_moved_and_cancelled() {
    let feed = parse(&cal(&format!(
        "{OUTLOOK_BERLIN}BEGIN:VEVENT\r\nUID:s1\r\nDTSTART;TZID=W. Europe Standard Time:20250106T090000\r\n\
         DTEND;TZID=W. Europe Standard Time:20250106T093000\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;TZID=W. Europe Standard Time:20250113T090000\r\n\
         DTSTART;TZID=W. Europe Standard Time:20250114T140000\r\n\
         DTEND;TZID=W. Europe Standard Time:20250114T143000\r\nRRULE:FREQ=WEEKLY\r\nSEQUENCE:1\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:s1\r\nRECURRENCE-ID;VALUE=DATE-TIME:20250120T080000Z\r\n\
         DTSTART;TZID=W. Europe Standard Time:20250120T090000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n"
    )));
    let [master, moved, cancelled] = &feed.events[..] else {
        panic!("{feed:?}")
    };
    assert!(master.is_master());
    assert!(moved.is_override() && !moved.is_master());
    assert_eq!(moved.recurrence, None);
    assert_eq!(moved.event_id, "s1_20250113T080000Z");
    assert_eq!(moved.series_id.as_deref(), Some("s1"));
    assert_eq!(
        moved.recurrence_id,
        Some(zoned("2025-01-13 09:00", chrono_tz::Europe::Berlin))
    );
    assert_eq!(
        moved.start,
        zoned("2025-01-14 14:00", chrono_tz::Europe::Berlin)
    );
    assert_eq!(moved.status, EventStatus::Confirmed);
    assert_eq!(cancelled.event_id, "s1_20250120T080000Z");
    assert_eq!(cancelled.status, EventStatus::Cancelled);
    assert!(!cancelled.this_and_future);
}

#[test]
fn this_and_future_and_compact_ids() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:t\r\nDTSTART:20250106T090000\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:t\r\nRECURRENCE-ID;RANGE=THISANDFUTURE:20250110T090000\r\n\
         DTSTART:20250110T100000\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:d\r\nDTSTART;VALUE=DATE:20250106\r\nRRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID;VALUE=DATE:20250113\r\nDTSTART;VALUE=DATE:20250114\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:d\r\nRECURRENCE-ID:20250120T000000Z\r\nDTSTART;VALUE=DATE:20250121\r\nEND:VEVENT\r\n",
    ));
    let e = &feed.events;
    assert!(e[1].this_and_future);
    assert_eq!(e[1].event_id, "t_20250110T090000");
    assert_eq!(e[3].event_id, "d_20250113");
    // Exchange's date-time RECURRENCE-ID for an all-day series is read as the date.
    assert_eq!(e[4].event_id, "d_20250120");
    assert_eq!(
        e[4].recurrence_id,
        Some(EventTime::Date {
            date: date("2025-01-20")
        })
    );
}

#[test]
fn exdate_comma_lists_and_repeats() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:e\r\nDTSTART;TZID=Europe/Berlin:20250106T090000\r\nRRULE:FREQ=WEEKLY\r\n\
         EXDATE;TZID=Europe/Berlin:20250113T090000,20250120T090000\r\n\
         EXDATE:20250127T080000Z\r\nEXDATE;VALUE=DATE:20250203\r\nEND:VEVENT\r\n",
    ));
    let berlin = chrono_tz::Europe::Berlin;
    assert_eq!(
        feed.events[0].recurrence.as_ref().unwrap().exdates,
        vec![
            zoned("2025-01-13 09:00", berlin),
            zoned("2025-01-20 09:00", berlin),
            utc("2025-01-27 08:00"),
            EventTime::Date {
                date: date("2025-02-03")
            },
        ]
    );
}

#[test]
fn rdate_periods_and_plain_dates() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20250106T090000Z\r\nDTEND:20250106T100000Z\r\n\
         RDATE;VALUE=PERIOD:20250110T090000Z/20250110T120000Z,20250111T090000Z/PT2H\r\n\
         RDATE;TZID=Europe/Berlin:20250112T090000\r\nEND:VEVENT\r\n",
    ));
    let e = &feed.events[0];
    assert!(e.is_master());
    let r = &e.recurrence.as_ref().unwrap().rdates;
    assert_eq!(r.len(), 3);
    assert_eq!(
        (&r[0].start, &r[0].end),
        (&utc("2025-01-10 09:00"), &Some(utc("2025-01-10 12:00")))
    );
    assert_eq!(
        (&r[1].start, &r[1].end),
        (&utc("2025-01-11 09:00"), &Some(utc("2025-01-11 11:00")))
    );
    assert_eq!(
        (&r[2].start, &r[2].end),
        (&zoned("2025-01-12 09:00", chrono_tz::Europe::Berlin), &None)
    );
}

#[test]
fn people_rooms_and_responses() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:p\r\nDTSTART:20250106T090000Z\r\n\
         ORGANIZER;CN=\"Mika, Manager\":MAILTO:Mika@Example.com\r\n\
         ATTENDEE;CN=Alice;PARTSTAT=DECLINED:mailto:Alice@example.com\r\n\
         ATTENDEE;CUTYPE=ROOM;CN=\"Room 4.01\";PARTSTAT=ACCEPTED:mailto:room401@example.com\r\n\
         ATTENDEE;CUTYPE=RESOURCE:mailto:beamer@example.com\r\n\
         ATTENDEE;PARTSTAT=TENTATIVE;ROLE=REQ-PARTICIPANT;RSVP=TRUE:mailto:bo\r\n b@example.com\r\n\
         ATTENDEE:mailto:c_1@resource.calendar.google.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:dan@example.com\r\nEND:VEVENT\r\n",
    ));
    let e = &feed.events[0];
    let org = e.organizer.as_ref().unwrap();
    assert_eq!(
        (org.email.as_str(), org.name.as_deref()),
        ("Mika@Example.com", Some("Mika, Manager"))
    );
    let a = &e.attendees;
    assert_eq!(a.len(), 6);
    assert_eq!(
        (a[0].email.as_str(), a[0].name.as_deref()),
        ("Alice@example.com", Some("Alice"))
    );
    assert_eq!(a[0].response, Response::Declined);
    assert!(!a[0].resource);
    assert!(a[1].resource && a[2].resource && a[4].resource);
    assert_eq!(a[1].name.as_deref(), Some("Room 4.01"));
    assert_eq!(
        (a[3].email.as_str(), a[3].response),
        ("bob@example.com", Response::Tentative)
    );
    assert_eq!(a[2].response, Response::NeedsAction);
    assert_eq!(a[5].response, Response::Accepted);
    assert!(a.iter().all(|x| !x.is_self));
}

#[test]
fn text_fields_are_unescaped() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:t\r\nDTSTART:20250106T090000Z\r\nSUMMARY:Alice / Mika 1on1\\, weekly\r\n\
         DESCRIPTION:Line one\\nLine two\\; done \\\\ ok\r\nLOCATION:\r\nSTATUS:tentative\r\n\
         LAST-MODIFIED:20250102T030405Z\r\nSEQUENCE:3\r\nEND:VEVENT\r\n",
    ));
    let e = &feed.events[0];
    assert_eq!(e.summary, "Alice / Mika 1on1, weekly");
    assert_eq!(
        e.description.as_deref(),
        Some("Line one\nLine two; done \\ ok")
    );
    assert_eq!(e.location, None);
    assert_eq!(e.status, EventStatus::Tentative);
    assert_eq!(e.sequence, 3);
    assert_eq!(
        e.updated.map(|u| u.to_rfc3339()).as_deref(),
        Some("2025-01-02T03:04:05+00:00")
    );
}

#[test]
fn other_components_and_alarms_are_ignored() {
    let feed = parse(&cal(
        "BEGIN:VTODO\r\nUID:todo\r\nDTSTART:20250106T090000Z\r\nEND:VTODO\r\n\
         BEGIN:VJOURNAL\r\nUID:j\r\nDTSTART:20250106\r\nEND:VJOURNAL\r\n\
         BEGIN:VEVENT\r\nUID:ev\r\nDTSTART:20250106T090000Z\r\nSUMMARY:Event\r\n\
         BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Alarm text\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n\
         END:VEVENT\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nEND:VFREEBUSY\r\n",
    ));
    assert_eq!(feed.events.len(), 1);
    assert_eq!(feed.events[0].uid, "ev");
    assert_eq!(feed.events[0].description, None);
}

#[test]
fn malformed_vevents_are_skipped_with_their_line() {
    let text = cal(
        "BEGIN:VEVENT\r\nUID:no-start\r\nSUMMARY:folded\r\n  summary\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:bad-date\r\nDTSTART:2025-13-45\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:bad-exdate\r\nDTSTART:20250106T090000Z\r\nRRULE:FREQ=DAILY\r\nEXDATE:20250107T090000Z,junk\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:bad-rrule\r\nDTSTART:20250106T090000Z\r\nRRULE:FREQ=WEEKLY;UNTL=20250101\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:period-start\r\nDTSTART;VALUE=PERIOD:20250106T090000Z/PT1H\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:good\r\nDTSTART:20250106T090000Z\r\nEND:VEVENT\r\n",
    );
    let feed = parse(&text);
    assert_eq!(feed.events.len(), 1);
    assert_eq!(feed.events[0].uid, "good");
    let got: Vec<(usize, Option<&str>)> = feed
        .skipped
        .iter()
        .map(|s| (s.line, s.uid.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (4, Some("no-start")),
            (9, Some("bad-date")),
            (13, Some("bad-exdate")),
            (19, Some("bad-rrule")),
            (24, Some("period-start")),
        ]
    );
    assert_eq!(feed.skipped[0].reason, "no DTSTART");
    assert!(
        feed.skipped[1].reason.contains("line 11"),
        "{}",
        feed.skipped[1].reason
    );
    assert!(feed.skipped[2].reason.contains("junk"));
    assert!(feed.skipped[3].reason.contains("UNTL"));
    assert!(feed.skipped[4].reason.contains("PERIOD"));
}

#[test]
fn vevent_without_end_is_skipped_but_the_rest_parses() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:lost\r\nDTSTART:20250106T090000Z\r\n\
         BEGIN:VEVENT\r\nUID:ok\r\nDTSTART:20250107T090000Z\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(feed.events.len(), 1);
    assert_eq!(feed.skipped.len(), 1);
    assert_eq!(
        (feed.skipped[0].line, feed.skipped[0].uid.as_deref()),
        (4, Some("lost"))
    );
}

#[test]
fn missing_uid_is_synthesized_stably() {
    let text = cal("BEGIN:VEVENT\r\nDTSTART:20250106T090000Z\r\nSUMMARY:Sync\r\nEND:VEVENT\r\n");
    let a = parse(&text);
    let b = parse(&text);
    assert_eq!(a.events[0].uid, b.events[0].uid);
    assert!(a.events[0].uid.starts_with("cadenced-nouid-"));
    assert_eq!(a.events[0].event_id, a.events[0].uid);
    assert!(a.warnings.iter().any(|w| w.reason.contains("no UID")));
    let other = parse(&cal(
        "BEGIN:VEVENT\r\nDTSTART:20250106T090000Z\r\nSUMMARY:Other\r\nEND:VEVENT\r\n",
    ));
    assert_ne!(a.events[0].uid, other.events[0].uid);
}

#[test]
fn inverted_range_is_swapped() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:i\r\nDTSTART;TZID=Europe/Paris:20231218T234500\r\n\
         DTEND;TZID=Europe/Paris:20231218T233000\r\nEND:VEVENT\r\n",
    ));
    let paris = chrono_tz::Europe::Paris;
    assert_eq!(feed.events[0].start, zoned("2023-12-18 23:30", paris));
    assert_eq!(feed.events[0].end, zoned("2023-12-18 23:45", paris));
    assert!(feed.warnings[0].reason.contains("swapped"));
}

#[test]
fn several_rrules_are_kept_and_exact_duplicates_once() {
    let feed = parse(&cal(
        "BEGIN:VEVENT\r\nUID:m\r\nDTSTART:20250106T090000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n\
         RRULE:FREQ=MONTHLY;BYDAY=1FR;COUNT=2\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\nEND:VEVENT\r\n",
    ));
    assert_eq!(
        feed.events[0].recurrence.as_ref().unwrap().rrules,
        vec!["FREQ=WEEKLY;COUNT=3", "FREQ=MONTHLY;BYDAY=1FR;COUNT=2"]
    );
}

#[test]
fn lf_only_and_bare_events_are_read() {
    let feed = parse(
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:lf\nDTSTART:20250106T090000Z\nEND:VEVENT\nEND:VCALENDAR",
    );
    assert_eq!(feed.events[0].uid, "lf");
    let feed = parse("BEGIN:VEVENT\nUID:bare\nDTSTART:20250106\nEND:VEVENT\n");
    assert_eq!(feed.events[0].uid, "bare");
}

#[test]
fn unreadable_feeds_are_errors_naming_source_and_line() {
    let latin1 = b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Gr\xfc\xdfe\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let err = parse_feed(latin1, "team.ics", "team").unwrap_err();
    assert!(
        matches!(
            err,
            IcsError::NotUtf8 {
                line: 3,
                column: 11,
                byte: 0xFC,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().starts_with("team.ics line 3: not UTF-8"),
        "{err}"
    );

    let err = parse_feed(b"", "team.ics", "team").unwrap_err();
    assert_eq!(err.to_string(), "team.ics line 1: the feed is empty");
    assert!(matches!(
        parse_feed(b" \r\n\r\n", "t", "t"),
        Err(IcsError::Empty { .. })
    ));

    let err = parse_feed(b"\n<!DOCTYPE html>\n<html>", "https://x/cal.ics", "t").unwrap_err();
    assert_eq!(err.line(), 2);
    assert!(
        err.to_string()
            .starts_with("https://x/cal.ics line 2: not an iCalendar feed"),
        "{err}"
    );

    let err = parse_feed(b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:x\n", "team.ics", "t").unwrap_err();
    assert_eq!(
        err.to_string(),
        "team.ics line 1: BEGIN:VCALENDAR is never closed by END:VCALENDAR (truncated feed?)"
    );
}

#[test]
fn odd_bytes_never_panic() {
    let samples: [&[u8]; 8] = [
        b"BEGIN:VCALENDAR\nEND:VCALENDAR",
        b"END:VCALENDAR\nBEGIN:VCALENDAR\nEND:VEVENT\nEND:VCALENDAR",
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;TZID=\"unclosed:20250101\nEND:VEVENT\nEND:VCALENDAR",
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250101T000000Z\nDURATION:P99999999999W\nEND:VEVENT\nEND:VCALENDAR",
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:99991231\nDURATION:P2D\nEND:VEVENT\nEND:VCALENDAR",
        b"BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250101T000000Z\nRDATE;VALUE=PERIOD:x/y\nEND:VEVENT\nEND:VCALENDAR",
        b"\xef\xbb\xbf BEGIN:VCALENDAR\n:\n;\n\t\nEND:VCALENDAR",
        b"BEGIN:VCALENDAR\nBEGIN:VTIMEZONE\nTZID:X\nBEGIN:STANDARD\nTZOFFSETTO:+9999\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nDTSTART;TZID=X:20250101T000000\nEND:VEVENT\nEND:VCALENDAR",
    ];
    for s in samples {
        let _ = parse_feed(s, "fuzz.ics", "t");
    }
}

/// Walks the folder `$CADENCED_ICS_CORPUS` names (a corpus of real-world feeds, kept outside the
/// repository): every file outside `broken/` must parse; files in `broken/` must fail or skip
/// cleanly. Prints one line per file.
#[test]
#[ignore = "needs a corpus of .ics files in $CADENCED_ICS_CORPUS; run with --ignored"]
fn corpus() {
    let Ok(root) = std::env::var("CADENCED_ICS_CORPUS") else {
        eprintln!("set CADENCED_ICS_CORPUS to a folder of .ics files");
        return;
    };
    let root = std::path::Path::new(&root);
    if !root.exists() {
        eprintln!("corpus not found at {}", root.display());
        return;
    }
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "ics") {
                files.push(path);
            }
        }
    }
    files.sort();
    let (mut parsed, mut events, mut skipped, mut warnings, mut failed) = (0, 0, 0, 0, Vec::new());
    for path in &files {
        let bytes = std::fs::read(path).unwrap();
        let name = path.strip_prefix(root).unwrap().display().to_string();
        let broken = name.contains("broken/");
        match parse_feed(&bytes, &name, "corpus") {
            Ok(feed) => {
                parsed += 1;
                events += feed.events.len();
                skipped += feed.skipped.len();
                warnings += feed.warnings.len();
                println!(
                    "ok   {name}: {} events, {} skipped, {} warnings",
                    feed.events.len(),
                    feed.skipped.len(),
                    feed.warnings.len()
                );
                for s in &feed.skipped {
                    println!("     skipped line {} ({:?}): {}", s.line, s.uid, s.reason);
                }
                for w in &feed.warnings {
                    println!("     warning {name} line {}: {}", w.line, w.reason);
                }
            }
            Err(e) => {
                println!("ERR  {e}");
                if !broken {
                    failed.push(e.to_string());
                }
            }
        }
    }
    println!(
        "{} files: {parsed} parsed, {events} events, {skipped} skipped, {warnings} warnings; failures outside broken/: {failed:?}",
        files.len()
    );
    assert!(failed.is_empty(), "{failed:?}");
}

/// Prints the events of the file named by `$CADENCED_ICS_DUMP` as JSON lines (a debugging aid).
#[test]
#[ignore = "debugging aid; set CADENCED_ICS_DUMP=path and run with --ignored --nocapture"]
fn dump() {
    let Ok(path) = std::env::var("CADENCED_ICS_DUMP") else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    match parse_feed(&bytes, &path, "dump") {
        Ok(feed) => {
            for e in &feed.events {
                println!("{}", serde_json::to_string(e).unwrap());
            }
            for s in &feed.skipped {
                println!("SKIPPED {s:?}");
            }
            for w in &feed.warnings {
                println!("WARNING {w:?}");
            }
        }
        Err(e) => println!("ERROR {e}"),
    }
}

mod arbitrary {
    use super::*;
    use proptest::prelude::*;

    /// Lines an iCalendar reader meets, valid and broken, to be shuffled into feeds.
    fn any_line() -> impl Strategy<Value = String> {
        let names = proptest::sample::select(vec![
            "VCALENDAR",
            "VEVENT",
            "VALARM",
            "VTIMEZONE",
            "STANDARD",
            "DAYLIGHT",
            "VTODO",
            "X",
        ]);
        prop_oneof![
            names.clone().prop_map(|n| format!("BEGIN:{n}")),
            names.prop_map(|n| format!("END:{n}")),
            "[A-Z0-9]{8}(T[0-9]{6}Z?)?".prop_map(|v| format!("DTSTART:{v}")),
            "[0-9]{8}T[0-9]{6}".prop_map(|v| format!("DTSTART;TZID=Europe/Berlin:{v}")),
            "[0-9]{8}(T[0-9]{6}Z?)?".prop_map(|v| format!("DTEND:{v}")),
            "-?P[0-9]{0,3}[DW]?(T[0-9]{0,2}[HMS])?".prop_map(|v| format!("DURATION:{v}")),
            "[0-9]{8}T[0-9]{6}Z?(,[0-9]{8})?".prop_map(|v| format!("EXDATE:{v}")),
            "[0-9]{8}T[0-9]{6}Z?(/P[0-9]D)?".prop_map(|v| format!("RDATE:{v}")),
            "[0-9]{8}(T[0-9]{6}Z?)?".prop_map(|v| format!("RECURRENCE-ID:{v}")),
            "[a-c]{1,2}".prop_map(|v| format!("UID:{v}")),
            "(FREQ=(SECONDLY|MINUTELY|HOURLY|DAILY|WEEKLY|MONTHLY|YEARLY))?(;COUNT=[0-9]{1,10})?(;BYMONTHDAY=-?[0-9]{1,2})?(;BYDAY=[1-5]?(MO|FR))?(;BYSETPOS=-?[0-9])?"
                .prop_map(|v| format!("RRULE:{v}")),
            "[0-9]{1,3}".prop_map(|v| format!("SEQUENCE:{v}")),
            "[a-z ]{0,10}".prop_map(|v| format!("ATTENDEE;PARTSTAT=DECLINED;CN=\"{v}\":mailto:{v}@x")),
            "\\PC{0,20}".prop_map(|v| format!("SUMMARY:{v}")),
            "\\PC{0,20}",
            "[ \t]\\PC{0,10}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Arbitrary bytes never panic the reader.
        #[test]
        fn any_bytes_are_read_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse_feed(&bytes, "fuzz.ics", "fuzz");
        }

        /// Arbitrary feeds of plausible lines never panic the reader, and what it reads expands
        /// within the limits (a series gives at most its cap of occurrences in any window).
        #[test]
        fn any_feed_is_read_and_expanded_within_the_limits(
            lines in proptest::collection::vec(any_line(), 0..60),
            crlf in any::<bool>(),
        ) {
            let mut text = String::from("BEGIN:VCALENDAR\r\n");
            text.push_str(&lines.join(if crlf { "\r\n" } else { "\n" }));
            text.push_str("\r\nEND:VCALENDAR\r\n");
            let Ok(feed) = parse_feed(text.as_bytes(), "fuzz.ics", "fuzz") else {
                return Ok(());
            };
            prop_assert!(feed.warnings.len() <= crate::limits::MAX_WARNINGS + 1);
            let w = crate::recurrence::Window {
                from: chrono::DateTime::parse_from_rfc3339("1990-01-01T00:00:00Z").unwrap().to_utc(),
                to: chrono::DateTime::parse_from_rfc3339("2100-01-01T00:00:00Z").unwrap().to_utc(),
            };
            let limits = crate::recurrence::Limits {
                instances_per_series: 200,
                series_occurrences: 1_000,
                work: 100_000,
            };
            let x = crate::recurrence::expand_with(&feed.events, &w, &Zone::Utc, &limits);
            let singles = feed.events.iter().filter(|e| !e.is_master()).count();
            prop_assert!(x.occurrences.len() <= singles + limits.series_occurrences);
            let masters = feed.events.iter().filter(|e| e.is_master()).count();
            prop_assert!(x.occurrences.len() <= singles + masters * limits.instances_per_series);
        }
    }

    #[test]
    fn warnings_past_the_cap_are_summed_up_in_one_line() {
        // Junk lines inside a VEVENT each make a note; only MAX_WARNINGS are listed.
        let junk = "this is no content line\r\n".repeat(5_000);
        let text = cal(&format!(
            "BEGIN:VEVENT\r\nUID:a\r\nDTSTART:20250101T100000Z\r\nBEGIN:VALARM\r\n{junk}END:VALARM\r\nEND:VEVENT\r\n"
        ));
        let feed = parse(&text);
        assert_eq!(feed.events.len(), 1);
        assert_eq!(feed.warnings.len(), crate::limits::MAX_WARNINGS + 1);
        let last = &feed.warnings.last().unwrap().reason;
        assert!(last.contains("more warnings not shown"), "{last}");
    }
}

#[test]
fn a_feed_over_the_line_or_event_limit_is_refused() {
    let lines = "X-A:1\n".repeat(crate::limits::MAX_FEED_LINES);
    let text = format!("BEGIN:VCALENDAR\n{lines}END:VCALENDAR\n");
    let err = parse_feed(text.as_bytes(), "big.ics", "big").unwrap_err();
    assert!(
        matches!(err, IcsError::TooLarge { what: "lines", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("docs/limits.md"), "{err}");

    let events = "BEGIN:VEVENT\nUID:a\nDTSTART:20250101T100000Z\nEND:VEVENT\n"
        .repeat(crate::limits::MAX_FEED_EVENTS + 1);
    let text = format!("BEGIN:VCALENDAR\n{events}END:VCALENDAR\n");
    let err = parse_feed(text.as_bytes(), "many.ics", "many").unwrap_err();
    assert!(
        matches!(err, IcsError::TooLarge { what: "events", .. }),
        "{err}"
    );
    assert_eq!(err.line(), 2 + 4 * crate::limits::MAX_FEED_EVENTS, "{err}");
}

#[test]
fn outlook_busy_status_oof_marks_out_of_office() {
    let feed = parse(&cal("BEGIN:VEVENT\r\nUID:away\r\nSUMMARY:Family trip\r\n\
         DTSTART;VALUE=DATE:20261116\r\nDTEND;VALUE=DATE:20261121\r\n\
         X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\n\
         BEGIN:VEVENT\r\nUID:busy\r\nSUMMARY:Planning\r\n\
         DTSTART:20261116T010000Z\r\nDTEND:20261116T020000Z\r\n\
         X-MICROSOFT-CDO-BUSYSTATUS:BUSY\r\nEND:VEVENT\r\n"));
    let by_uid = |u: &str| feed.events.iter().find(|e| e.uid == u).unwrap();
    assert!(by_uid("away").out_of_office);
    assert!(!by_uid("busy").out_of_office);
}
