//! Resilience of the Microsoft sync against the Graph fake: throttling and unavailability
//! (`Retry-After`, else backoff), 401 → one refresh, 410 with every spelling of the sync-state
//! codes → one clean full round, at most four requests in flight per mailbox, and a SIGKILL in
//! the middle of a round. Every scenario ends with `events --json` equal to the fake's
//! calendarView of the window.

use crate::common;
use crate::ms_env;
use testkit::fake_graph;

use std::process::{Command, Stdio};
use std::time::{Duration as StdDuration, Instant};

use common::{Env, stderr};
use fake_graph::{Endpoint, FakeGraph, Fault, FaultKind, REFRESH_TOKEN};
use ms_env::*;
use serde_json::json;

/// The retry of request `i`: the next one to the same path (with the same query).
fn next_to(log: &[fake_graph::RecordedRequest], i: usize) -> &fake_graph::RecordedRequest {
    log[i + 1..]
        .iter()
        .find(|r| r.path == log[i].path && r.query == log[i].query)
        .expect("a retry")
}

#[test]
fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let g = FakeGraph::start();
    daily(&g, "standup", -20, 40);
    weekly(&g, "Alice / Mika 1on1", -60, "monday");
    single(&g, "lunch", 2);
    let env = env_for(&g, "");
    g.clear_log();
    g.push_fault(
        Fault::new(FaultKind::Throttled {
            retry_after: Some(1),
        })
        .on(Endpoint::CalendarViewDelta),
    );
    g.push_fault(
        Fault::new(FaultKind::Unavailable503 {
            retry_after: Some(1),
        })
        .on(Endpoint::EventGet),
    );
    g.push_fault(Fault::new(FaultKind::GatewayTimeout504).on(Endpoint::CalendarViewDelta));
    assert_ok(&sync(&env));
    assert_eq!(g.pending_faults(), 0);
    let log = g.requests();
    let by_status = |s: u16| log.iter().position(|r| r.status == s).expect("faulted");
    // 429 and 503 with Retry-After: 1 → the retry came no sooner than a second later.
    for status in [429, 503] {
        let i = by_status(status);
        let retry = next_to(&log, i);
        assert!(
            retry.at.duration_since(log[i].at) >= StdDuration::from_secs(1),
            "HTTP {status}: retried before Retry-After"
        );
    }
    // 504 without Retry-After: retried (backoff), and the round completed.
    let i = by_status(504);
    assert_eq!(next_to(&log, i).status, 200);
    assert_matches(&env, &g);
}

#[test]
fn a_401_refreshes_the_token_once() {
    let g = FakeGraph::start();
    let m = daily(&g, "standup", -20, 40);
    let env = env_for(&g, "");
    assert_ok(&sync(&env));

    g.update_event(&m, json!({"subject": "standup (renamed)"}));
    g.push_fault(Fault::new(FaultKind::Unauthorized401).on(Endpoint::CalendarViewDelta));
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(g.count(Endpoint::Token), 1, "one refresh");
    let delta = g.requests_to(Endpoint::CalendarViewDelta);
    assert_eq!(
        delta.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![401, 200]
    );
    assert_matches(&env, &g);

    // A second 401 right after the refresh is an error, not a loop of refreshes.
    g.push_fault(
        Fault::new(FaultKind::Unauthorized401)
            .on(Endpoint::CalendarViewDelta)
            .times(2),
    );
    g.clear_log();
    let out = sync(&env);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(g.count(Endpoint::Token), 1, "refreshed once");
    let err = stderr(&out);
    assert!(err.contains("401"), "{err}");
    assert!(
        !err.contains(REFRESH_TOKEN) && !err.contains("eyJ"),
        "{err}"
    );
    // Nothing was lost: the next sync completes.
    assert_ok(&sync(&env));
    assert_matches(&env, &g);
}

#[test]
fn every_spelling_of_an_expired_sync_state_gives_one_clean_full_round() {
    let g = FakeGraph::start();
    let m = weekly(&g, "Alice / Mika 1on1", -60, "monday");
    daily(&g, "standup", -10, 30);
    let env = env_for(&g, "");
    assert_ok(&sync(&env));
    for (i, code) in [
        "SyncStateNotFound",
        "syncStateNotFound",
        "resyncRequired",
        "RESYNCREQUIRED",
    ]
    .into_iter()
    .enumerate()
    {
        g.configure(|o| o.sync_state_not_found_code = code.to_string());
        g.invalidate_delta_tokens();
        let gone = single(&g, &format!("added {i}"), 3 + i as i64);
        g.clear_log();
        assert_ok(&sync(&env));
        let delta = g.requests_to(Endpoint::CalendarViewDelta);
        assert_eq!(delta[0].status, 410, "{code}");
        assert!(delta[0].param("$deltatoken").is_some());
        let initial = delta
            .iter()
            .filter(|r| r.param("startDateTime").is_some())
            .count();
        assert_eq!(initial, 1, "{code}: exactly one full round");
        assert!(
            g.requests_to(Endpoint::EventGet).is_empty(),
            "{code}: unchanged masters are kept"
        );
        assert_matches(&env, &g);
        g.delete_event(&gone);
    }
    // And a master that changed while the link was dead is read again.
    g.update_event(&m, json!({"subject": "Alice ⇄ Mika"}));
    g.invalidate_delta_tokens();
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(g.count(Endpoint::EventGet), 1);
    assert_matches(&env, &g);
}

#[test]
fn at_most_four_requests_are_in_flight_per_mailbox() {
    let g = FakeGraph::start();
    for i in 0..12 {
        weekly(&g, &format!("series {i}"), -30 - i, "wednesday");
    }
    let env = env_for(&g, "");
    g.clear_log();
    g.push_fault(
        Fault::new(FaultKind::Delay(StdDuration::from_millis(150)))
            .on(Endpoint::EventGet)
            .times(12),
    );
    assert_ok(&sync(&env));
    assert_eq!(g.count(Endpoint::EventGet), 12);
    let peak = g.peak_in_flight();
    assert!(peak <= 4, "{peak} requests in flight at once");
    assert!(
        g.requests().iter().all(|r| r.status != 429),
        "the fake throttled a burst"
    );
    assert_matches(&env, &g);
}

/// Starts `cadenced sync`, waits until it sits in the delayed delta page, and SIGKILLs it.
fn kill_during_delayed_page(env: &Env, g: &FakeGraph) {
    g.push_fault(Fault::new(FaultKind::Delay(StdDuration::ZERO)).on(Endpoint::CalendarViewDelta));
    g.push_fault(
        Fault::new(FaultKind::Delay(StdDuration::from_secs(5))).on(Endpoint::CalendarViewDelta),
    );
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cadenced"))
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .arg("sync")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while g.delayed_now() == 0 {
        assert!(Instant::now() < deadline, "the sync never reached page 2");
        assert!(child.try_wait().unwrap().is_none(), "the sync ended early");
        std::thread::sleep(StdDuration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    g.clear_faults();
    while g.delayed_now() > 0 {
        std::thread::sleep(StdDuration::from_millis(50));
    }
}

#[test]
fn a_sync_killed_mid_round_resumes_equal_to_the_server() {
    let g = FakeGraph::start();
    // 250 occurrences: two delta pages of 200.
    let m = daily(&g, "standup", -200, 250);
    for i in 0..5 {
        single(&g, &format!("one-off {i}"), i * 3 - 6);
    }
    let env = env_for(&g, "");
    // Killed in the first round, after page 1 was committed.
    kill_during_delayed_page(&env, &g);
    g.clear_log();
    assert_ok(&sync(&env));
    assert!(
        g.requests_to(Endpoint::CalendarViewDelta)[0]
            .param("startDateTime")
            .is_some(),
        "the unfinished first round starts over"
    );
    assert_matches(&env, &g);

    // Killed in an incremental round: a renamed master brings its 250 occurrences back bare.
    g.update_event(&m, json!({"subject": "standup (renamed)"}));
    let gone = single(&g, "added then deleted", 9);
    assert_ok(&sync(&env));
    g.delete_event(&gone);
    g.update_event(&m, json!({"subject": "standup (again)"}));
    kill_during_delayed_page(&env, &g);
    g.clear_log();
    assert_ok(&sync(&env));
    assert!(
        g.requests_to(Endpoint::CalendarViewDelta)[0]
            .param("$deltatoken")
            .is_some(),
        "resumed from the stored delta link"
    );
    assert_matches(&env, &g);
    let listed = env.events(&local(0, "00:00:00Z"), &local(1, "00:00:00Z"));
    assert!(
        listed.iter().any(|e| e["summary"] == "standup (again)"),
        "{listed:?}"
    );
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(g.requests().len(), 1, "idle afterwards");
}

#[test]
fn requests_rejected_together_refresh_the_token_once() {
    let g = FakeGraph::start();
    for i in 0..4 {
        weekly(&g, &format!("series {i}"), -30 - i, "friday");
    }
    let env = env_for(&g, "");
    g.clear_log();
    // The four master reads wait in the fake together; meanwhile the access token expires.
    g.push_fault(
        Fault::new(FaultKind::Delay(StdDuration::from_secs(2)))
            .on(Endpoint::EventGet)
            .times(4),
    );
    let child = Command::new(assert_cmd::cargo::cargo_bin!("cadenced"))
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .arg("sync")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + StdDuration::from_secs(60);
    while g.delayed_now() < 4 {
        assert!(
            Instant::now() < deadline,
            "the four master reads were never in flight together"
        );
        std::thread::sleep(StdDuration::from_millis(10));
    }
    g.expire_access_tokens();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let gets: Vec<u16> = g
        .requests_to(Endpoint::EventGet)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(gets.iter().filter(|s| **s == 401).count(), 4, "{gets:?}");
    assert_eq!(gets.iter().filter(|s| **s == 200).count(), 4, "{gets:?}");
    assert_eq!(g.count(Endpoint::Token), 1, "one refresh for the four");
    assert_matches(&env, &g);
}

#[test]
fn links_to_another_origin_endless_pagers_and_empty_answers_are_refused() {
    let g = FakeGraph::start();
    weekly(&g, "Alice / Mika 1on1", -60, "monday");
    daily(&g, "standup", -10, 30);
    let env = env_for(&g, "");
    assert_ok(&sync(&env));
    let stored = env.events("2020-01-01", "2030-01-01");
    assert!(!stored.is_empty());

    // A host that would receive the bearer token if a link to it were followed.
    let foreign = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    foreign.set_nonblocking(true).unwrap();
    let elsewhere = format!(
        "http://{}/v1.0/me/calendarView/delta",
        foreign.local_addr().unwrap()
    );
    for (body, expected) in [
        (
            json!({"value": [], "@odata.nextLink": format!("{elsewhere}?$skiptoken=x")}),
            "@odata.nextLink on another origin",
        ),
        (
            json!({"value": [], "@odata.deltaLink": format!("{elsewhere}?$deltatoken=x")}),
            "@odata.deltaLink on another origin",
        ),
        // An empty answer in a full round: its last page would sweep the calendar.
        (json!({}), "carried no @odata.deltaLink"),
    ] {
        g.push_fault(Fault::new(FaultKind::Body200(body)).on(Endpoint::CalendarViewDelta));
        let out = env.run(&["sync", "--full"]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{}", stderr(&out));
        assert_eq!(env.events("2020-01-01", "2030-01-01"), stored);
    }
    assert!(
        foreign.accept().is_err(),
        "nothing connected to the other origin"
    );

    // A server that always has a next page (on its own origin) is given up at the page limit.
    g.push_fault(
        Fault::new(FaultKind::Body200(json!({
            "value": [],
            "@odata.nextLink": format!("{}/me/calendarView/delta?$skiptoken=again", g.graph_base()),
        })))
        .on(Endpoint::CalendarViewDelta)
        // More pages than the limit, so that a client without one ends (and the test fails).
        .times(2_500),
    );
    g.clear_log();
    let out = env.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("more than 2000 pages"),
        "{}",
        stderr(&out)
    );
    assert_eq!(g.count(Endpoint::CalendarViewDelta), 2000);
    assert_eq!(env.events("2020-01-01", "2030-01-01"), stored);

    g.clear_faults();
    assert_ok(&sync(&env));
    assert_matches(&env, &g);
}
