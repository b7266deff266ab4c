//! Make-up 1on1s (issue 17) end to end through the real binary: proposals in `report --json`
//! and `propose`, booking and `--undo`, auto-booking across a restart, against the Google and
//! Graph fakes (free/busy, event creation) and an .ics feed.

use crate::common;
use testkit::fake_google;
use testkit::fake_graph;

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use common::{Env, stderr, stdout};
use fake_google::{Endpoint, FakeGoogle};
use serde_json::{Value, json};

const TOKYO: Tz = chrono_tz::Asia::Tokyo;
const BERLIN: Tz = chrono_tz::Europe::Berlin;
/// A refresh token that may read free/busy and edit events.
const RW_TOKEN: &str = "1//scheduling-read-write";

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A Google setup: manager in Tokyo (`me@example.com`), Alice in Berlin (an account of the
/// fake whose free/busy is shared), Bob unknown to Google. Alice's weekly 1on1 is on Tuesdays
/// at 17:00 Tokyo (09:00 Berlin in winter), from `first`; the session at `skipped` is cancelled.
fn google(first: &str, skipped: &str, extra: &str) -> (FakeGoogle, Env) {
    let g = FakeGoogle::start();
    g.add_account("alice@example.com", "Europe/Berlin");
    g.share_free_busy("alice@example.com");
    g.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        RW_TOKEN,
        &["calendar.readonly", "calendar.events"],
    );
    let start = t(first);
    let end = start + Duration::minutes(30);
    g.insert_event(
        "primary",
        json!({
            "id": "alice1on1",
            "summary": "Alice / Me 1on1",
            "start": {"dateTime": start.with_timezone(&TOKYO).to_rfc3339(), "timeZone": "Asia/Tokyo"},
            "end": {"dateTime": end.with_timezone(&TOKYO).to_rfc3339(), "timeZone": "Asia/Tokyo"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": "me@example.com", "self": true},
            "attendees": [
                {"email": "me@example.com", "self": true, "organizer": true, "responseStatus": "accepted"},
                {"email": "alice@example.com", "responseStatus": "accepted"}
            ]
        }),
    );
    g.cancel_instance(
        "primary",
        "alice1on1",
        &t(skipped).with_timezone(&TOKYO).to_rfc3339(),
    );
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"me@example.com\"\ntimezone = \"Asia/Tokyo\"\n\n\
         [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\ntimezone = \"Europe/Berlin\"\n\n\
         [[reports]]\nemail = \"bob@example.com\"\nname = \"Bob\"\n\n{}\n\
         [agenda]\nenabled = false\n\n{extra}",
        g.google_account_toml("work", &["primary"])
    ));
    env.import_refresh_token("work", RW_TOKEN);
    (g, env)
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert!(
        out.status.success(),
        "{args:?} failed: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json_of(env: &Env, args: &[&str]) -> Value {
    serde_json::from_str(&ok(env, args)).unwrap()
}

fn report_row<'a>(doc: &'a Value, email: &str) -> &'a Value {
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == email)
        .unwrap()
}

fn slots(row: &Value) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    row["proposals"]
        .as_array()
        .unwrap_or_else(|| panic!("no proposals in {row}"))
        .iter()
        .map(|s| {
            (
                t(s["start"].as_str().unwrap()),
                t(s["end"].as_str().unwrap()),
            )
        })
        .collect()
}

/// Inside Mon–Fri 09:00–18:00 of `tz`, on one local day.
fn in_hours(tz: Tz, (a, b): (DateTime<Utc>, DateTime<Utc>)) -> bool {
    use chrono::Datelike;
    let (la, lb) = (a.with_timezone(&tz), b.with_timezone(&tz));
    la.date_naive() == lb.date_naive()
        && la.weekday().num_days_from_monday() < 5
        && la.time() >= NaiveTime::from_hms_opt(9, 0, 0).unwrap()
        && lb.time() <= NaiveTime::from_hms_opt(18, 0, 0).unwrap()
}

/// The manager's events as `events --json` lists them, cancelled ones left out.
fn manager_busy(env: &Env, now: &str) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    ok(env, &["--now", now, "events", "--json"])
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["status"] != "cancelled" && !e["all_day"].as_bool().unwrap())
        .map(|e| {
            (
                t(e["start"].as_str().unwrap()),
                t(e["end"].as_str().unwrap()),
            )
        })
        .collect()
}

fn overlaps(a: (DateTime<Utc>, DateTime<Utc>), b: &(DateTime<Utc>, DateTime<Utc>)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

#[test]
fn google_proposals_respect_both_sides_hours_notice_and_window_in_one_batched_request() {
    // Skipped Tue Jan 12 2027; now Wed Jan 13 09:00 Tokyo; next session Tue Jan 19 08:00Z.
    let now = "2027-01-13T00:00:00Z";
    let (g, env) = google("2026-12-01T08:00:00Z", "2027-01-12T08:00:00Z", "");
    // Alice is busy Thursday 09:00–09:30 Berlin; the manager all Monday morning (Berlin).
    g.insert_event(
        "alice@example.com",
        json!({"summary": "Dentist", "start": {"dateTime": "2027-01-14T08:00:00Z"},
               "end": {"dateTime": "2027-01-14T08:30:00Z"}}),
    );
    g.insert_event(
        "primary",
        json!({"summary": "Planning", "start": {"dateTime": "2027-01-18T07:00:00Z"},
               "end": {"dateTime": "2027-01-18T09:00:00Z"}}),
    );
    ok(&env, &["--now", now, "sync"]);
    g.clear_log();
    let doc = json_of(&env, &["--now", now, "report", "--json"]);

    // One free/busy request for both reports.
    let fb = g.requests_to(Endpoint::FreeBusy);
    assert_eq!(fb.len(), 1, "one batched freeBusy request");

    let alice = report_row(&doc, "alice@example.com");
    assert_eq!(alice["proposals_basis"], "both");
    let got = slots(alice);
    // The usual time (17:00 Tokyo = 08:00Z) on Friday first; Thursday after Alice's dentist;
    // Monday is the manager's planning; the Tuesday session closes the window.
    assert_eq!(
        got,
        vec![
            (t("2027-01-15T08:00:00Z"), t("2027-01-15T08:30:00Z")),
            (t("2027-01-14T08:30:00Z"), t("2027-01-14T09:00:00Z")),
            (t("2027-01-15T08:30:00Z"), t("2027-01-15T09:00:00Z")),
        ]
    );
    let busy = manager_busy(&env, now);
    for s in &got {
        assert!(in_hours(TOKYO, *s) && in_hours(BERLIN, *s), "{s:?}");
        assert!(s.0 >= t(now) + Duration::hours(20));
        assert!(s.1 <= t("2027-01-19T08:00:00Z"));
        assert!(
            !busy.iter().any(|b| overlaps(*s, b)),
            "{s:?} overlaps the manager"
        );
        assert!(!overlaps(
            *s,
            &(t("2027-01-14T08:00:00Z"), t("2027-01-14T08:30:00Z"))
        ));
    }
    // The alert carries the same proposals.
    let id = alice["proposals_alert"].as_str().unwrap();
    let alert = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap();
    assert_eq!(alert["kind"], "skipped");
    assert_eq!(alert["proposals"], alice["proposals"]);

    // `propose --json` gives the same slots.
    let proposed = json_of(&env, &["--now", now, "propose", "--json"]);
    let pa = proposed
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["report"] == "alice@example.com")
        .unwrap();
    assert_eq!(pa["proposals"], alice["proposals"]);
    assert_eq!(pa["alert"], id);

    // Bob is unknown to Google: the manager's side only, said so.
    let bob = report_row(&doc, "bob@example.com");
    assert_eq!(bob["proposals_basis"], "manager_only");
    for s in slots(bob) {
        assert!(in_hours(TOKYO, s));
        assert!(!busy.iter().any(|b| overlaps(s, b)));
    }
    let text = ok(&env, &["--now", now, "propose", "Bob"]);
    assert!(text.contains("your calendar only"), "{text}");
    assert!(text.contains("notFound"), "{text}");
    assert!(!text.contains("Alice"), "{text}");
}

#[test]
fn slots_follow_berlin_into_summer_time() {
    // Berlin moves to summer time on Sun Mar 28 2027: 09:00 Berlin is 08:00Z before, 07:00Z
    // after. Skipped Tue Mar 23; now Wed Mar 24; next session Tue Mar 30 08:00Z.
    let now = "2027-03-24T00:00:00Z";
    let (g, env) = google("2027-02-02T08:00:00Z", "2027-03-23T08:00:00Z", "");
    // The manager is busy Thursday and Friday mornings (Berlin): only Monday is left.
    for d in ["2027-03-25", "2027-03-26"] {
        g.insert_event(
            "primary",
            json!({"summary": "Offsite", "start": {"dateTime": format!("{d}T06:00:00Z")},
                   "end": {"dateTime": format!("{d}T10:00:00Z")}}),
        );
    }
    ok(&env, &["--now", now, "sync"]);
    let doc = json_of(&env, &["--now", now, "report", "--json"]);
    let got = slots(report_row(&doc, "alice@example.com"));
    assert_eq!(
        got,
        vec![
            // The usual time of day (17:00 Tokyo) on Monday.
            (t("2027-03-29T08:00:00Z"), t("2027-03-29T08:30:00Z")),
            // The usual weekday, Tuesday, before its session: 09:00 Berlin is now 07:00Z.
            (t("2027-03-30T07:00:00Z"), t("2027-03-30T07:30:00Z")),
            (t("2027-03-30T07:30:00Z"), t("2027-03-30T08:00:00Z")),
        ]
    );
    for s in got {
        assert!(in_hours(TOKYO, s) && in_hours(BERLIN, s), "{s:?}");
        assert!(s.0 >= t("2027-03-28T01:00:00Z"), "after the change only");
        assert!(s.1 <= t("2027-03-30T08:00:00Z"), "before the next session");
    }
}

#[test]
fn no_slot_is_said_so_and_notice_closes_the_window() {
    // Skipped Tue Jan 12; now Mon Jan 18 12:00Z: the next session (Tue 08:00Z) is within the
    // 20 h notice, so nothing can be proposed.
    // A grace of 1 keeps `gap` closed until 14 days without a held 1on1 (13.2 here), so the
    // run of one skip is the alert (with a gap open, the skip would be part of the gap).
    let now = "2027-01-18T12:00:00Z";
    let (_g, env) = google(
        "2026-12-01T08:00:00Z",
        "2027-01-12T08:00:00Z",
        "[scheduling]\nbook = true\n\n[cadence]\ngrace = 1.0\n",
    );
    ok(&env, &["--now", now, "sync"]);
    let doc = json_of(&env, &["--now", now, "report", "--json"]);
    let alice = report_row(&doc, "alice@example.com");
    assert_eq!(alice["proposals"], json!([]));
    let text = ok(&env, &["--now", now, "propose", "alice@example.com"]);
    assert!(text.contains("no free slot for both before"), "{text}");
    // `book` has nothing to book either.
    let out = env.run(&[
        "--now",
        now,
        "book",
        alice["proposals_alert"].as_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("no free slot"), "{}", stderr(&out));
}

#[test]
fn ics_and_google_propose_the_same_slots_when_only_the_manager_side_is_known() {
    let now = "2027-01-13T00:00:00Z";
    let (g, genv) = google("2026-12-01T08:00:00Z", "2027-01-12T08:00:00Z", "");
    ok(&genv, &["--now", now, "sync"]);
    // The same calendar as an .ics feed.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:alice1on1@google.com\r\n\
               DTSTAMP:20261101T000000Z\r\nDTSTART;TZID=Asia/Tokyo:20261201T170000\r\nDTEND;TZID=Asia/Tokyo:20261201T173000\r\n\
               RRULE:FREQ=WEEKLY\r\nEXDATE;TZID=Asia/Tokyo:20270112T170000\r\nSUMMARY:Alice / Me 1on1\r\n\
               ORGANIZER:mailto:me@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n\
               ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("cal.ics");
    std::fs::write(&feed, ics).unwrap();
    let ienv = Env::with_config_text(&format!(
        "[manager]\nemail = \"me@example.com\"\ntimezone = \"Asia/Tokyo\"\n\n\
         [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n\
         [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n\n[agenda]\nenabled = false\n",
        feed.display()
    ));
    ok(&ienv, &["--now", now, "sync"]);
    let idoc = json_of(&ienv, &["--now", now, "report", "--json"]);
    let ialice = report_row(&idoc, "alice@example.com");
    assert_eq!(ialice["proposals_basis"], "manager_only");
    let text = ok(&ienv, &["--now", now, "propose"]);
    assert!(text.contains("only iCalendar feeds"), "{text}");
    assert!(!text.contains("cadenced book"), "booking is off: {text}");

    // Google with Alice's calendar unshared (a fresh fake without the share).
    let g2 = FakeGoogle::start();
    g2.add_account("alice@example.com", "Europe/Berlin");
    g2.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        RW_TOKEN,
        &["calendar.readonly"],
    );
    for e in g.snapshot_with_tombstones("primary") {
        g2.insert_items("primary", &[e]);
    }
    let env2 = Env::with_config_text(&format!(
        "[manager]\nemail = \"me@example.com\"\ntimezone = \"Asia/Tokyo\"\n\n\
         [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}\n[agenda]\nenabled = false\n",
        g2.google_account_toml("work", &["primary"])
    ));
    env2.import_refresh_token("work", RW_TOKEN);
    ok(&env2, &["--now", now, "sync"]);
    let gdoc = json_of(&env2, &["--now", now, "report", "--json"]);
    let galice = report_row(&gdoc, "alice@example.com");
    assert_eq!(galice["proposals_basis"], "manager_only");
    assert_eq!(galice["proposals"], ialice["proposals"]);
    assert_eq!(slots(galice).len(), 3);
}

#[test]
fn google_booking_is_idempotent_rechecks_free_busy_and_undo_removes_exactly_it() {
    let now = "2027-01-13T00:00:00Z";
    let (g, env) = google(
        "2026-12-01T08:00:00Z",
        "2027-01-12T08:00:00Z",
        "[scheduling]\nbook = true\n",
    );
    ok(&env, &["--now", now, "sync"]);
    let doc = json_of(&env, &["--now", now, "report", "--json"]);
    let alice = report_row(&doc, "alice@example.com");
    let id = alice["proposals_alert"].as_str().unwrap().to_string();
    let hint = ok(&env, &["--now", now, "propose", "Alice"]);
    assert!(
        hint.contains(&format!("cadenced book {id} --slot N")),
        "{hint}"
    );
    let first = slots(alice)[0];
    assert_eq!(first.0, t("2027-01-14T08:00:00Z"));
    // Alice's first proposed slot fills up after the proposal: booking must see it.
    g.insert_event(
        "alice@example.com",
        json!({"summary": "Interview", "start": {"dateTime": "2027-01-14T07:30:00Z"},
               "end": {"dateTime": "2027-01-14T09:00:00Z"}}),
    );
    let before: Vec<Value> = g.snapshot("primary");
    g.clear_log();
    let out = ok(&env, &["--now", now, "book", &id]);
    assert!(out.contains("Booked"), "{out}");
    assert_eq!(g.count(Endpoint::FreeBusy), 1, "free/busy read again");
    let inserts = g.requests_to(Endpoint::EventsInsert);
    assert_eq!(inserts.len(), 1);
    assert_eq!(inserts[0].param("sendUpdates"), Some("all"));
    let after = g.snapshot("primary");
    assert_eq!(after.len(), before.len() + 1);
    let made = after
        .iter()
        .find(|e| e["extendedProperties"]["private"]["cadencedMakeup"] == id.as_str())
        .expect("the make-up carries the alert id");
    assert_eq!(made["summary"], "Alice / Me 1on1 (make-up)");
    let start = t(made["start"]["dateTime"].as_str().unwrap());
    assert_eq!(start, t("2027-01-15T08:00:00Z"), "Thursday is taken now");
    let emails: Vec<&str> = made["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"alice@example.com"));
    let made_id = made["id"].as_str().unwrap().to_string();
    assert!(
        g.outbox()
            .contains(&("invite".into(), "alice@example.com".into(), made_id.clone()))
    );
    // It shows in Alice's free/busy and in the next sync.
    assert!(
        g.busy(
            "alice@example.com",
            "2027-01-15T00:00:00Z",
            "2027-01-16T00:00:00Z"
        )
        .iter()
        .any(|(a, _)| t(a) == start)
    );
    ok(&env, &["--now", now, "sync"]);
    let events = ok(&env, &["--now", now, "events", "--json"]);
    assert!(events.contains(&made_id));

    // A second book creates nothing (from the store), nor does one from a lost state directory
    // (found in the calendar by its private property).
    g.clear_log();
    let again = ok(&env, &["--now", now, "book", &id]);
    assert!(again.contains("already has its make-up"), "{again}");
    assert_eq!(g.count(Endpoint::EventsInsert), 0);
    let status = json_of(&env, &["--now", now, "status", "--json"]);
    assert_eq!(status["bookings"].as_array().unwrap().len(), 1);
    assert_eq!(status["bookings"][0]["event_id"], made_id.as_str());
    assert_eq!(status["bookings"][0]["how"], "manual");
    let fresh = Env::with_config_text(&std::fs::read_to_string(&env.config).unwrap());
    fresh.import_refresh_token("work", RW_TOKEN);
    ok(&fresh, &["--now", now, "sync"]);
    let fdoc = json_of(&fresh, &["--now", now, "report", "--json"]);
    let fid = fdoc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "skipped" && a["report"] == "alice@example.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(fid, id, "alert ids are stable");
    g.clear_log();
    let lost = ok(&fresh, &["--now", now, "book", &id]);
    assert!(lost.contains("already has its make-up"), "{lost}");
    assert_eq!(g.count(Endpoint::EventsInsert), 0);

    // --undo deletes exactly the make-up.
    let undone = ok(&env, &["--now", now, "book", "--undo", &id]);
    assert!(undone.contains("Deleted"), "{undone}");
    let deletes = g.requests_to(Endpoint::EventsDelete);
    assert_eq!(deletes.len(), 1);
    assert!(deletes[0].path.ends_with(&made_id));
    let left: Vec<String> = g
        .snapshot("primary")
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let was: Vec<String> = before
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, was);
    assert!(
        g.outbox()
            .contains(&("cancel".into(), "alice@example.com".into(), made_id))
    );
    let nothing = ok(&env, &["--now", now, "book", "--undo", &id]);
    assert!(nothing.contains("Nothing to undo"), "{nothing}");
}

#[test]
fn booking_needs_the_write_scope_and_an_open_alert() {
    let now = "2027-01-13T00:00:00Z";
    let (g, env) = google(
        "2026-12-01T08:00:00Z",
        "2027-01-12T08:00:00Z",
        "[scheduling]\nbook = true\n",
    );
    g.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        "1//read-only",
        &["calendar.readonly"],
    );
    env.import_refresh_token("work", "1//read-only");
    ok(&env, &["--now", now, "sync"]);
    let doc = json_of(&env, &["--now", now, "report", "--json"]);
    let id = report_row(&doc, "alice@example.com")["proposals_alert"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env.run(&["--now", now, "book", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cadenced auth work"),
        "{}",
        stderr(&out)
    );
    assert_eq!(g.count(Endpoint::EventsInsert), 0);
    let out = env.run(&["--now", now, "book", "000000000000"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no open alert"), "{}", stderr(&out));
}

#[test]
fn auto_booking_books_once_per_run_across_a_restart_and_only_series_the_manager_organizes() {
    let now = "2027-01-13T00:00:00Z";
    let (g, env) = google(
        "2026-12-01T08:00:00Z",
        "2027-01-12T08:00:00Z",
        "[scheduling]\nbook = true\nauto_book = true\n\n[[reports]]\nemail = \"carol@example.com\"\nname = \"Carol\"\n",
    );
    // Carol organizes her own 1on1 with the manager; hers was skipped too.
    g.insert_event(
        "primary",
        json!({
            "id": "carol1on1",
            "summary": "Carol / Me 1on1",
            "start": {"dateTime": "2026-12-02T10:00:00+09:00", "timeZone": "Asia/Tokyo"},
            "end": {"dateTime": "2026-12-02T10:30:00+09:00", "timeZone": "Asia/Tokyo"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": "carol@example.com"},
            "attendees": [
                {"email": "me@example.com", "self": true, "responseStatus": "accepted"},
                {"email": "carol@example.com", "organizer": true, "responseStatus": "accepted"}
            ]
        }),
    );
    g.cancel_instance("primary", "carol1on1", "2027-01-06T10:00:00+09:00");
    let run = || {
        let out = env.run(&["--now", now, "run", "--once"]);
        (stdout(&out), stderr(&out))
    };
    let (_, err) = run();
    let inserts = g.requests_to(Endpoint::EventsInsert);
    assert_eq!(inserts.len(), 1, "{err}");
    let made: Vec<Value> = g
        .snapshot("primary")
        .into_iter()
        .filter(|e| e["extendedProperties"]["private"]["cadencedMakeup"].is_string())
        .collect();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["summary"], "Alice / Me 1on1 (make-up)");
    // The manager is told on the alert channel (log).
    assert!(err.contains("Booked the make-up"), "{err}");
    // A restart (a new process on the same state) books nothing more.
    let (_, err2) = run();
    assert_eq!(g.count(Endpoint::EventsInsert), 1, "{err2}");
    let status = json_of(&env, &["--now", now, "status", "--json"]);
    let b = status["bookings"].as_array().unwrap();
    assert_eq!(b.len(), 1);
    assert_eq!(b[0]["how"], "auto");
    assert_eq!(b[0]["report"], "alice@example.com");
    // After an undo the daemon leaves it alone.
    let alert = b[0]["alert"].as_str().unwrap().to_string();
    ok(&env, &["--now", now, "book", "--undo", &alert]);
    run();
    assert_eq!(g.count(Endpoint::EventsInsert), 1);
}

// ------------------------------------------------------------------------------ Microsoft Graph

mod graph {
    use super::*;
    use fake_graph::{DEFAULT_USER, FakeGraph, NewEvent, PUBLIC_CLIENT_ID, TENANT_ID};

    const TOKEN: &str = "1.graph-read-write";

    fn setup(book: bool) -> (FakeGraph, Env) {
        let g = FakeGraph::start();
        g.add_refresh_token(TOKEN, "offline_access Calendars.ReadWrite User.Read");
        g.add_schedule(
            "alice@contoso.com",
            fake_graph::schedule::default_hours("W. Europe Standard Time"),
            &[("2027-01-14T08:00:00Z", "2027-01-14T08:30:00Z", "tentative")],
        );
        g.add_schedule(
            "dan@contoso.com",
            fake_graph::schedule::default_hours("W. Europe Standard Time"),
            &[("2027-01-13T00:00:00Z", "2027-01-27T00:00:00Z", "oof")],
        );
        g.add_series(
            &NewEvent::new(
                "Alice / Adele 1on1",
                "2026-12-01T17:00",
                "2026-12-01T17:30",
                "Tokyo Standard Time",
            )
            .attendee("alice@contoso.com", "required", "accepted"),
            json!({
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["tuesday"],
                            "firstDayOfWeek": "monday"},
                "range": {"type": "noEnd", "startDate": "2026-12-01",
                          "recurrenceTimeZone": "Tokyo Standard Time"}
            }),
        );
        let master = g
            .snapshot_view("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
            .into_iter()
            .find_map(|i| i.series_master_id)
            .unwrap();
        g.cancel_occurrence(&master, "2027-01-12");
        let env = Env::with_config_text(&format!(
            "[manager]\nemail = \"{DEFAULT_USER}\"\ntimezone = \"Asia/Tokyo\"\n\n\
             [[reports]]\nemail = \"alice@contoso.com\"\nname = \"Alice\"\n\n\
             [[reports]]\nemail = \"dan@contoso.com\"\nname = \"Dan\"\n\n\
             [[reports]]\nemail = \"eve@contoso.com\"\nname = \"Eve\"\n\n\
             [[accounts]]\nname = \"m365\"\nprovider = \"microsoft\"\ntenant = \"{TENANT_ID}\"\n\
             client_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n\n\
             [agenda]\nenabled = false\n\n[scheduling]\nbook = {book}\n",
            g.url(),
            g.graph_base()
        ));
        env.import_refresh_token("m365", TOKEN);
        (g, env)
    }

    #[test]
    fn get_schedule_is_one_request_and_its_answers_shape_the_slots() {
        let now = "2027-01-13T00:00:00Z";
        let (g, env) = setup(false);
        ok(&env, &["--now", now, "sync"]);
        g.clear_log();
        let doc = json_of(&env, &["--now", now, "report", "--json"]);
        let reqs = g.requests_to(fake_graph::Endpoint::GetSchedule);
        assert_eq!(reqs.len(), 1, "one getSchedule for every report");
        let alice = report_row(&doc, "alice@contoso.com");
        assert_eq!(alice["proposals_basis"], "both");
        let got = slots(alice);
        assert_eq!(
            got[0],
            (t("2027-01-15T08:00:00Z"), t("2027-01-15T08:30:00Z"))
        );
        let busy = manager_busy(&env, now);
        for s in &got {
            assert!(in_hours(TOKYO, *s), "{s:?}");
            // Alice's Graph working hours are 08:00–17:00 Berlin.
            let l = s.0.with_timezone(&BERLIN);
            assert!(l.hour() >= 8 && s.1.with_timezone(&BERLIN).hour() <= 17);
            assert!(!overlaps(
                *s,
                &(t("2027-01-14T08:00:00Z"), t("2027-01-14T08:30:00Z"))
            ));
            assert!(!busy.iter().any(|b| overlaps(*s, b)));
        }
        // Dan is out of office for two weeks: no slot, said so.
        let dan = report_row(&doc, "dan@contoso.com");
        assert_eq!(dan["proposals_basis"], "both");
        assert_eq!(dan["proposals"], json!([]));
        // Eve does not resolve (5009): the manager's side only.
        let eve = report_row(&doc, "eve@contoso.com");
        assert_eq!(eve["proposals_basis"], "manager_only");
        let text = ok(&env, &["--now", now, "propose"]);
        assert!(text.contains("Unable to resolve e-mail address"), "{text}");
        assert!(text.contains("no free slot for both"), "{text}");
    }

    #[test]
    fn more_reports_than_get_schedule_takes_split_at_twenty() {
        let now = "2027-01-13T00:00:00Z";
        let g = FakeGraph::start();
        g.add_refresh_token(TOKEN, "offline_access Calendars.Read User.Read");
        let reports: String = (0..25)
            .map(|i| format!("[[reports]]\nemail = \"r{i}@contoso.com\"\n\n"))
            .collect();
        let env = Env::with_config_text(&format!(
            "[manager]\nemail = \"{DEFAULT_USER}\"\ntimezone = \"Asia/Tokyo\"\n\n{reports}\
             [[accounts]]\nname = \"m365\"\nprovider = \"microsoft\"\ntenant = \"{TENANT_ID}\"\n\
             client_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n\n\
             [agenda]\nenabled = false\n",
            g.url(),
            g.graph_base()
        ));
        env.import_refresh_token("m365", TOKEN);
        ok(&env, &["--now", now, "sync"]);
        g.clear_log();
        let doc = json_of(&env, &["--now", now, "report", "--json"]);
        assert_eq!(g.count(fake_graph::Endpoint::GetSchedule), 2, "20 + 5");
        // Every report got an answer (unknown to the fake: the manager's side only).
        for r in doc["reports"].as_array().unwrap() {
            assert_eq!(r["proposals_basis"], "manager_only", "{r}");
        }
    }

    #[test]
    fn graph_booking_posts_once_finds_its_property_and_undo_deletes_it() {
        let now = "2027-01-13T00:00:00Z";
        let (g, env) = setup(true);
        ok(&env, &["--now", now, "sync"]);
        let doc = json_of(&env, &["--now", now, "report", "--json"]);
        let id = report_row(&doc, "alice@contoso.com")["proposals_alert"]
            .as_str()
            .unwrap()
            .to_string();
        g.clear_log();
        let out = ok(&env, &["--now", now, "book", &id, "--slot", "2"]);
        assert!(out.contains("Booked"), "{out}");
        assert_eq!(g.count(fake_graph::Endpoint::GetSchedule), 1);
        let posts = g.requests_to(fake_graph::Endpoint::EventCreate);
        assert_eq!(posts.len(), 1);
        let invites: Vec<_> = g.outbox();
        assert_eq!(invites.len(), 1);
        assert_eq!(invites[0].0, "invite");
        assert_eq!(invites[0].1, "alice@contoso.com");
        let event_id = invites[0].2.clone();
        let ev = g.event_json(&event_id).unwrap();
        assert_eq!(ev["subject"], "Alice / Adele 1on1 (make-up)");
        assert_eq!(
            g.extended_property(&event_id, cadenced::scheduling::api::GRAPH_PROPERTY_ID)
                .as_deref(),
            Some(id.as_str())
        );
        // It shows in the next sync.
        ok(&env, &["--now", now, "sync"]);
        assert!(ok(&env, &["--now", now, "events", "--json"]).contains("(make-up)"));
        // Again: nothing posted. From a lost state: found by the property, nothing posted.
        ok(&env, &["--now", now, "book", &id]);
        let fresh = Env::with_config_text(&std::fs::read_to_string(&env.config).unwrap());
        fresh.import_refresh_token("m365", TOKEN);
        ok(&fresh, &["--now", now, "sync"]);
        let lost = ok(&fresh, &["--now", now, "book", &id]);
        assert!(lost.contains("already has its make-up"), "{lost}");
        assert_eq!(g.count(fake_graph::Endpoint::EventCreate), 1);
        // Undo deletes exactly it.
        ok(&env, &["--now", now, "book", "--undo", &id]);
        let dels = g.requests_to(fake_graph::Endpoint::EventDelete);
        assert_eq!(dels.len(), 1);
        assert!(dels[0].path.ends_with(&event_id));
        assert!(g.event_json(&event_id).is_none());
        assert!(
            g.outbox()
                .contains(&("cancel".into(), "alice@contoso.com".into(), event_id))
        );
    }
}
