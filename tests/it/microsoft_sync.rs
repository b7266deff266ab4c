//! The Microsoft provider end to end: the real binary syncs the primary calendar from the
//! stateful Graph fake (`tests/fake_graph`) over loopback HTTP. After every scenario the stored
//! events, expanded by the library over a window, must give the same occurrences (start, end) as
//! the fake's own calendarView of that window.

use crate::common;
use crate::ms_env;
use testkit::fake_graph;

use cadenced::model::{Event, EventStatus};
use cadenced::recurrence::{Window, expand};
use cadenced::store::Store;
use cadenced::tz::Zone;
use chrono::{DateTime, Utc};
use common::{Env, stderr};
use fake_graph::{Endpoint, FakeGraph, REFRESH_TOKEN};
use ms_env::{ACCOUNT, assert_ok, daily, date, env_for, local, single, sync, window};

/// Stored events expanded by the library vs the fake's calendarView, as sorted (start, end).
fn assert_store_matches(env: &Env, g: &FakeGraph) {
    let (from, to) = window();
    let store = Store::open_in(&env.state).unwrap();
    let events: Vec<Event> = store
        .load_events(Some(ACCOUNT))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .collect();
    let exp = expand(&events, &Window { from, to }, &Zone::Utc);
    assert!(exp.warnings.is_empty(), "{:?}", exp.warnings);
    let mut ours: Vec<(DateTime<Utc>, DateTime<Utc>)> = exp
        .occurrences
        .iter()
        .filter(|o| !o.removed && o.status != EventStatus::Cancelled)
        .map(|o| (o.start.instant(&Zone::Utc), o.end.instant(&Zone::Utc)))
        .collect();
    ours.sort();
    let mut theirs: Vec<(DateTime<Utc>, DateTime<Utc>)> = g
        .snapshot_view(&from.to_rfc3339(), &to.to_rfc3339())
        .iter()
        .map(|v| (v.start, v.end))
        .collect();
    theirs.sort();
    assert_eq!(ours.len(), theirs.len(), "occurrence counts differ");
    assert_eq!(ours, theirs);
}

#[test]
fn multi_page_first_round_then_an_idle_poll_is_one_request() {
    let g = FakeGraph::start();
    // 250 occurrences + singles: more than one page of 200.
    let master = daily(&g, "standup", -200, 250);
    for i in 0..5 {
        single(&g, &format!("one-off {i}"), i * 3 - 6);
    }
    let env = env_for(&g, "");
    g.clear_log();
    assert_ok(&sync(&env));
    let delta = g.requests_to(Endpoint::CalendarViewDelta);
    assert!(
        delta.len() >= 2,
        "expected several pages, got {}",
        delta.len()
    );
    let first = &delta[0];
    assert!(first.param("startDateTime").is_some() && first.param("endDateTime").is_some());
    let prefer = first.header("prefer").unwrap_or_default().to_string();
    assert!(prefer.contains("odata.maxpagesize=200"), "{prefer}");
    assert!(prefer.contains("outlook.timezone"), "{prefer}");
    // The master was fetched once in the round, with its cancelled/exception occurrences.
    let gets = g.requests_to(Endpoint::EventGet);
    assert_eq!(gets.len(), 1);
    let path = percent_encoding::percent_decode_str(&gets[0].path)
        .decode_utf8_lossy()
        .into_owned();
    assert!(path.contains(master.as_str()), "{path}");
    assert!(
        gets[0]
            .param("$select")
            .is_some_and(|s| s.contains("cancelledOccurrences"))
    );
    assert_eq!(gets[0].param("$expand"), Some("exceptionOccurrences"));
    assert_store_matches(&env, &g);

    g.clear_log();
    assert_ok(&sync(&env));
    let requests = g.requests();
    assert_eq!(requests.len(), 1, "idle poll: {requests:?}");
    assert_eq!(requests[0].endpoint, Endpoint::CalendarViewDelta);
    assert!(requests[0].param("$deltatoken").is_some());
    assert_store_matches(&env, &g);
}

#[test]
fn second_round_changes_reach_the_store() {
    let g = FakeGraph::start();
    let master = daily(&g, "1on1", -10, 30);
    let gone = single(&g, "to delete", 2);
    let kept = single(&g, "kept", 3);
    let env = env_for(&g, "");
    assert_ok(&sync(&env));
    assert_store_matches(&env, &g);

    g.cancel_occurrence_with(&master, &date(1), true);
    g.move_occurrence(&master, &date(2), &local(2, "16:00"), &local(2, "16:45"));
    g.decline(&g.occurrence_id(&master, &date(4)));
    g.delete_event(&gone);
    g.clear_log();
    assert_ok(&sync(&env));
    assert_store_matches(&env, &g);

    let store = Store::open_in(&env.state).unwrap();
    let ids: Vec<String> = store
        .load_events(Some(ACCOUNT))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .map(|e| e.event_id)
        .collect();
    assert!(!ids.contains(&gone));
    assert!(ids.contains(&kept));
    assert!(ids.contains(&master));
    // One more idle round: one request, nothing changes.
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(g.requests().len(), 1);
    assert_store_matches(&env, &g);
}

#[test]
fn an_expired_delta_link_triggers_one_clean_full_round() {
    let g = FakeGraph::start();
    daily(&g, "standup", -5, 20);
    let old = single(&g, "old", 1);
    let env = env_for(&g, "");
    assert_ok(&sync(&env));
    g.invalidate_delta_tokens();
    g.delete_event(&old);
    single(&g, "new", 2);
    g.clear_log();
    assert_ok(&sync(&env));
    let delta = g.requests_to(Endpoint::CalendarViewDelta);
    assert_eq!(delta.len(), 2, "the 410, then one full round of one page");
    assert!(delta[0].param("$deltatoken").is_some());
    assert!(delta[1].param("startDateTime").is_some());
    assert_store_matches(&env, &g);
    let store = Store::open_in(&env.state).unwrap();
    let n = store
        .load_events(Some(ACCOUNT))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .filter(|e| e.event_id == old)
        .count();
    assert_eq!(n, 0, "the full round swept the deleted event");
}

#[test]
fn a_revoked_refresh_token_needs_auth_and_other_accounts_keep_running() {
    let g = FakeGraph::start();
    daily(&g, "standup", -5, 20);
    let dir = tempfile::tempdir().unwrap();
    let ics = dir.path().join("cal.ics");
    std::fs::write(
        &ics,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:a@t\r\n\
         DTSTAMP:20250101T000000Z\r\nDTSTART:20250301T100000Z\r\nDTEND:20250301T110000Z\r\n\
         SUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let env = env_for(
        &g,
        &format!(
            "\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
            ics.display()
        ),
    );
    assert_ok(&sync(&env));
    g.revoke_refresh_token(REFRESH_TOKEN);
    g.expire_access_tokens();
    let out = sync(&env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(&format!("cadenced auth {ACCOUNT}")), "{err}");
    assert!(!err.contains("feed:"), "the ics account failed too: {err}");
    assert!(common::stdout(&out).contains("feed:"));
    // Marked: the next sync makes no Graph or token request for the account.
    g.clear_log();
    let out = sync(&env);
    assert_eq!(out.status.code(), Some(1));
    assert!(g.requests().is_empty(), "{:?}", g.requests());
}
