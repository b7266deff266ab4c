//! The iCalendar path end to end: `sync` a fixture feed with the real binary, then check
//! `events --json` (docs/design.md, `events --json`) occurrence by occurrence.

use crate::common;

use common::{Env, fixture, run_limited, stderr, stdout, summary};

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

// --- Hostile feeds: bounded work whatever the input -----------------------------------------

/// A weekly 1on1 between the manager and Alice, which every hostile feed carries beside its
/// payload: it must still be reported.
const GOOD_1ON1: &str = "BEGIN:VEVENT\r\nUID:good-1on1\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART:20260105T100000Z\r\nDTEND:20260105T103000Z\r\nSUMMARY:Alice / Mika 1on1\r\n\
RRULE:FREQ=WEEKLY\r\nORGANIZER:mailto:mika@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:mika@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\nEND:VEVENT\r\n";

/// Memory the kernel grants each command (`prlimit --data`), and the peak resident size it may
/// reach. Before the limits, these feeds took 0.8 to 10 GiB (or overflowed the stack).
const DATA_LIMIT_MIB: u64 = 1024;
const PEAK_BUDGET_KIB: u64 = 400 * 1024;
/// CPU seconds each command may use (`prlimit --cpu`: the kernel stops it past them). A budget
/// the quadratic paths (20k overrides, 10k EXDATEs, 200k attendees) blew by minutes in this
/// debug build, not a timing assertion: it is CPU time, and generous.
const CPU_LIMIT_SECS: u64 = 120;

/// A simple VEVENT (30 minutes) with an optional RRULE and extra lines.
fn vevent(uid: &str, dtstart: &str, rrule: Option<&str>, extra: &str) -> String {
    let mut s = format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{dtstart}\r\nDURATION:PT30M\r\nSUMMARY:{uid}\r\n"
    );
    if let Some(r) = rrule {
        s.push_str(&format!("RRULE:{r}\r\n"));
    }
    s.push_str(extra);
    s.push_str("END:VEVENT\r\n");
    s
}

/// Writes `payload` into a calendar beside [`GOOD_1ON1`], then runs `sync`, `report --json` and
/// `events --json` (May 2026) each under the data and CPU limits: none may fail or abort, each
/// stays within the peak budget, and the good 1on1 is still reported. Returns `sync`'s stderr.
fn survives(name: &str, payload: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join(format!("{name}.ics"));
    std::fs::write(
        &feed,
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cadenced tests//hostile//EN\r\n{GOOD_1ON1}{payload}END:VCALENDAR\r\n"
        ),
    )
    .unwrap();
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
        feed.display()
    ));
    let mut sync_err = String::new();
    for args in [
        &["sync"][..],
        &["--now", "2026-06-01T00:00:00Z", "report", "--json"],
        &[
            "events",
            "--json",
            "--from",
            "2026-05-01",
            "--to",
            "2026-06-01",
        ],
    ] {
        let inner = env.cmd(args);
        // The CPU budget goes inside the data limit that run_limited adds.
        let mut cmd = std::process::Command::new("prlimit");
        cmd.arg(format!("--cpu={CPU_LIMIT_SECS}"))
            .arg("--")
            .arg(inner.get_program())
            .args(inner.get_args())
            .env_remove("RUST_LOG");
        let (out, peak_kib) = run_limited(&cmd, DATA_LIMIT_MIB);
        assert!(
            out.status.success(),
            "{name}: `{}` failed ({:?}): {}",
            args.join(" "),
            out.status,
            stderr(&out).chars().take(2000).collect::<String>()
        );
        assert!(
            peak_kib <= PEAK_BUDGET_KIB,
            "{name}: `{}` peaked at {peak_kib} KiB (budget {PEAK_BUDGET_KIB} KiB)",
            args.join(" ")
        );
        match args[0] {
            "sync" => sync_err = stderr(&out),
            "--now" => {
                let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
                let alice = &report["reports"][0];
                assert_eq!(alice["email"], "alice@example.com");
                assert!(
                    alice["held"].as_u64().unwrap() >= 10,
                    "{name}: the good 1on1 is still counted: {alice}"
                );
                assert_eq!(alice["cadence_source"], "recurrence", "{name}: {alice}");
            }
            _ => {
                let good = stdout(&out)
                    .lines()
                    .filter(|l| l.contains("\"uid\":\"good-1on1\""))
                    .count();
                assert_eq!(good, 4, "{name}: the 1on1's four Mondays of May 2026");
            }
        }
    }
    sync_err
}

#[test]
fn hostile_deep_nesting_is_cut_without_overflowing_the_stack() {
    let n = 50_000;
    let payload = format!(
        "BEGIN:VEVENT\r\nUID:deep\r\nDTSTART:20260105T100000Z\r\nSUMMARY:deep\r\n{}{}END:VEVENT\r\n",
        "BEGIN:VALARM\r\n".repeat(n),
        "END:VALARM\r\n".repeat(n)
    );
    let err = survives("nesting", &payload);
    assert!(err.contains("nested deeper than 8 levels"), "{err}");
}

#[test]
fn hostile_count_and_by_parts_bomb_is_bounded() {
    let all = |n: u32| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let rule = format!(
        "FREQ=HOURLY;COUNT=4294967295;BYMINUTE={};BYSECOND={}",
        all(60),
        all(60)
    );
    survives(
        "countbomb",
        &vevent("bomb", "20260105T100000Z", Some(&rule), ""),
    );
}

#[test]
fn hostile_secondly_and_huge_count_series_are_bounded() {
    let mut payload: String = (0..8)
        .map(|i| {
            vevent(
                &format!("sec{i}"),
                "20260105T100000Z",
                Some("FREQ=SECONDLY"),
                "",
            )
        })
        .collect();
    payload.push_str(&vevent(
        "count-2g",
        "20260105T100000Z",
        Some("FREQ=MINUTELY;COUNT=2147483648"),
        "",
    ));
    survives("secondly", &payload);
}

#[test]
fn hostile_never_matching_rules_are_cut_off() {
    let payload: String = (0..60)
        .map(|i| {
            vevent(
                &format!("never{i}"),
                "20260105T100000Z",
                Some("FREQ=YEARLY;COUNT=2;BYYEARDAY=1;BYMONTHDAY=31"),
                "",
            )
        })
        .collect();
    survives("nevermatch", &payload);
}

#[test]
fn hostile_many_overrides_exdates_and_attendees_cost_no_quadratic_work() {
    // 20,000 overrides of one series, all inside the analysed window (a minutely series: the
    // quadratic matching of overrides and instances cost hours of CPU here).
    let minute = |i: i64| {
        (chrono::NaiveDate::from_ymd_opt(2026, 1, 5)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            + chrono::Duration::minutes(i))
        .format("%Y%m%dT%H%M%SZ")
        .to_string()
    };
    let mut payload = vevent("many", &minute(0), Some("FREQ=MINUTELY"), "");
    for i in 0..20_000 {
        payload.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:many\r\nRECURRENCE-ID:{0}\r\nDTSTART:{0}\r\nDURATION:PT1M\r\nSUMMARY:override {i}\r\nEND:VEVENT\r\n",
            minute(i)
        ));
    }
    // 10,000 EXDATEs of another, inside the window too.
    let exdates: String = (0..10_000)
        .map(|i| format!("EXDATE:{}\r\n", minute(2 * i)))
        .collect();
    payload.push_str(&vevent("exd", &minute(0), Some("FREQ=MINUTELY"), &exdates));
    // 200,000 attendees of a short series in January.
    let crowd: String = std::iter::once("ORGANIZER:mailto:mika@example.com\r\n".to_string())
        .chain(
            (0..200_000).map(|i| format!("ATTENDEE;PARTSTAT=ACCEPTED:mailto:p{i}@example.com\r\n")),
        )
        .collect();
    payload.push_str(&vevent(
        "crowd",
        "20260105T120000Z",
        Some("FREQ=WEEKLY;COUNT=3"),
        &crowd,
    ));
    survives("quadratic", &payload);
}

#[test]
fn a_hostile_feed_beside_a_good_one_leaves_the_good_one_synced_and_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let cal = |body: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cadenced tests//EN\r\n{body}END:VCALENDAR\r\n"
        )
    };
    let good = dir.path().join("good.ics");
    std::fs::write(&good, cal(GOOD_1ON1)).unwrap();
    // Every bomb at once, and a feed that cannot be read at all.
    let mut bombs = format!(
        "BEGIN:VEVENT\r\nUID:deep\r\nDTSTART:20260105T100000Z\r\n{}END:VEVENT\r\n",
        "BEGIN:VALARM\r\n".repeat(50_000)
    );
    for i in 0..8 {
        bombs.push_str(&vevent(
            &format!("sec{i}"),
            "20260105T100000Z",
            Some("FREQ=SECONDLY"),
            "",
        ));
    }
    bombs.push_str(&vevent(
        "never",
        "20260105T100000Z",
        Some("FREQ=YEARLY;COUNT=2;BYYEARDAY=1;BYMONTHDAY=31"),
        "",
    ));
    let hostile = dir.path().join("hostile.ics");
    std::fs::write(&hostile, cal(&bombs)).unwrap();
    let broken = dir.path().join("broken.ics");
    std::fs::write(&broken, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n").unwrap();
    let account = |name: &str, path: &std::path::Path| {
        format!(
            "[[accounts]]\nname = \"{name}\"\nprovider = \"ics\"\npath = \"{}\"\n\n",
            path.display()
        )
    };
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}{}{}",
        account("hostile", &hostile),
        account("broken", &broken),
        account("good", &good),
    ));
    let (out, peak_kib) = run_limited(
        &env.cmd(&["--now", "2026-06-01T00:00:00Z", "run", "--once"]),
        DATA_LIMIT_MIB,
    );
    assert!(peak_kib <= PEAK_BUDGET_KIB, "peak {peak_kib} KiB");
    // The broken feed fails the cycle's outcome, never the process.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?} {}",
        out.status,
        stderr(&out)
    );
    let out = env.run(&["status", "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ok = |name: &str| {
        status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["last_sync_ok"].clone())
    };
    assert_eq!(ok("good"), Some(true.into()), "{status}");
    assert_eq!(ok("hostile"), Some(true.into()), "{status}");
    assert_eq!(ok("broken"), Some(false.into()), "{status}");
    let out = env.run(&["--now", "2026-06-01T00:00:00Z", "report", "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        report["reports"][0]["held"].as_u64().unwrap() >= 10,
        "{report}"
    );
}
