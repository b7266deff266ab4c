//! The iCalendar path end to end: `sync` a fixture feed with the real binary, then check
//! `events --json` (docs/design.md, `events --json`) occurrence by occurrence.

use crate::common;

use common::{Env, fixture, stderr, stdout, summary};

fn synced(name: &str) -> Env {
    let env = Env::with_feed(&fixture(name), "UTC");
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "sync failed: {}", stderr(&out));
    env
}

#[test]
fn dst_transitions_in_europe_and_america() {
    let env = synced("dst.ics");
    let got = summary(&env.events("2025-01-01", "2026-01-01"));
    assert_eq!(
        got,
        [
            "ny-daily-gap 2025-03-08T07:30:00Z 2025-03-08T08:00:00Z confirmed",
            // 02:30 does not exist on 2025-03-09 in New York: moved forward by the gap (03:30 EDT).
            "ny-daily-gap 2025-03-09T07:30:00Z 2025-03-09T08:00:00Z confirmed",
            "ny-daily-gap 2025-03-10T06:30:00Z 2025-03-10T07:00:00Z confirmed",
            "berlin-weekly 2025-03-17T08:00:00Z 2025-03-17T08:30:00Z confirmed",
            "berlin-weekly 2025-03-24T08:00:00Z 2025-03-24T08:30:00Z confirmed",
            "berlin-weekly 2025-03-31T07:00:00Z 2025-03-31T07:30:00Z confirmed",
            "berlin-fall 2025-10-20T07:00:00Z 2025-10-20T07:30:00Z confirmed",
            // UNTIL equal to the last instance includes it.
            "berlin-fall 2025-10-27T08:00:00Z 2025-10-27T08:30:00Z confirmed",
            // 01:30 happens twice on the fall-back night: the first (EDT) one.
            "ny-fold 2025-11-02T05:30:00Z 2025-11-02T07:00:00Z confirmed",
        ]
    );
}

#[test]
fn windows_and_customized_time_zones() {
    let env = synced("windows_tz.ics");
    let events = env.events("2025-01-01", "2026-01-01");
    assert_eq!(
        summary(&events),
        [
            "custom-zone-single 2025-01-10T04:30:00Z 2025-01-10T05:30:00Z confirmed",
            "040000008200E00074C5B7101A82E00800000000windows 2025-10-20T08:00:00Z 2025-10-20T08:30:00Z confirmed",
            "040000008200E00074C5B7101A82E00800000000windows 2025-10-27T09:00:00Z 2025-10-27T09:30:00Z confirmed",
        ]
    );
    let outlook = &events[1];
    assert_eq!(outlook["organizer"], "jane@example.com");
    assert_eq!(
        outlook["attendees"],
        serde_json::json!([
            {"email": "jane@example.com", "response": "accepted", "resource": false},
            {"email": "max@example.com", "response": "declined", "resource": false},
            {"email": "beamer@example.com", "response": "accepted", "resource": true},
        ])
    );
}

#[test]
fn moved_and_cancelled_overrides_and_exdates() {
    let env = synced("overrides.ics");
    let events = env.events("2025-01-01", "2026-01-01");
    assert_eq!(
        summary(&events),
        [
            "weekly-sync 2025-01-07T10:00:00Z 2025-01-07T10:30:00Z confirmed",
            "weekly-sync 2025-01-15T11:00:00Z 2025-01-15T11:30:00Z confirmed",
            "weekly-sync 2025-01-21T10:00:00Z 2025-01-21T10:30:00Z cancelled",
            // 2025-01-28 is removed by its EXDATE; the EXDATE on 01-29 matches nothing.
        ]
    );
    assert_eq!(
        events[1],
        serde_json::json!({
            "account": "feed", "calendar": "overrides.ics", "uid": "weekly-sync",
            "event_id": "weekly-sync_20250114T100000Z", "series_id": "weekly-sync",
            "recurrence_id": "2025-01-14T10:00:00Z",
            "start": "2025-01-15T11:00:00Z", "end": "2025-01-15T11:30:00Z", "all_day": false,
            "status": "confirmed", "summary": "Weekly sync (moved)",
            "organizer": null, "attendees": [],
        })
    );
    assert_eq!(events[0]["event_id"], "weekly-sync_20250107T100000Z");
    assert_eq!(events[0]["recurrence_id"], "2025-01-07T10:00:00Z");
    assert_eq!(events[0]["organizer"], "mika@example.com");
}

#[test]
fn all_day_and_floating_events() {
    let env = synced("allday_floating.ics");
    let events = env.events("2025-01-01", "2026-01-01");
    assert_eq!(
        summary(&events),
        [
            "offsite 2025-02-03 2025-02-05 confirmed",
            "breakfast 2025-02-03T09:00:00 2025-02-03T09:30:00 confirmed",
            "weekly-all-day 2025-02-04 2025-02-05 confirmed",
            // 2025-02-11 is removed by EXDATE; 2025-02-20 is added by RDATE.
            "weekly-all-day 2025-02-20 2025-02-21 confirmed",
        ]
    );
    assert_eq!(events[0]["all_day"], true);
    assert_eq!(events[1]["all_day"], false);
    assert_eq!(events[3]["recurrence_id"], "2025-02-20");
    assert_eq!(events[1]["recurrence_id"], serde_json::Value::Null);
    assert_eq!(events[1]["series_id"], serde_json::Value::Null);
}

#[test]
fn duplicate_uids_keep_the_higher_sequence_and_malformed_events_are_skipped() {
    let env = Env::with_feed(&fixture("duplicates.ics"), "UTC");
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("1 malformed skipped"),
        "{}",
        stdout(&out)
    );
    // The skipped event is logged with its source and line.
    assert!(stderr(&out).contains("duplicates.ics"), "{}", stderr(&out));
    let events = env.events("2025-01-01", "2026-01-01");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["summary"], "Newer title");
}

#[test]
fn a_broken_feed_is_reported_and_leaves_the_previous_state_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("team.ics");
    std::fs::copy(fixture("overrides.ics"), &feed).unwrap();
    let env = Env::with_feed(&feed, "UTC");
    assert!(env.run(&["sync"]).status.success());
    let before = env.events("2025-01-01", "2026-01-01");
    assert_eq!(before.len(), 3);

    std::fs::copy(fixture("truncated.ics"), &feed).unwrap();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("team.ics") && err.contains("line"),
        "error should name the file and line: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(env.events("2025-01-01", "2026-01-01"), before);
}

#[test]
fn the_window_is_half_open_and_dates_are_in_the_managers_zone() {
    let env = Env::with_feed(&fixture("overrides.ics"), "Asia/Tokyo");
    assert!(env.run(&["sync"]).status.success());
    // 2025-01-21 in Tokyo starts at 2025-01-20T15:00Z; the cancelled 10:00Z instance is inside.
    let events = env.events("2025-01-21", "2025-01-22");
    assert_eq!(
        summary(&events),
        ["weekly-sync 2025-01-21T10:00:00Z 2025-01-21T10:30:00Z cancelled"]
    );
    // --to is exclusive.
    assert!(
        env.events("2025-01-07T00:00:00Z", "2025-01-07T10:00:00Z")
            .is_empty()
    );
}

#[test]
fn logs_are_plain_text_when_not_on_a_terminal() {
    let env = Env::with_feed(&fixture("duplicates.ics"), "UTC");
    let out = env.run(&["sync"]);
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("malformed") || err.contains("skipped"),
        "{err}"
    );
    assert!(
        !err.contains('\x1b'),
        "no escape codes in captured logs: {err:?}"
    );
}
