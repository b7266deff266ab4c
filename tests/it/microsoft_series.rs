//! Series masters fetched once per change, cancelled occurrences without a delta entry, and the
//! moving window (re-baselining), against the Graph fake. Every scenario ends with the stored
//! occurrences (`events --json`) equal to the fake's calendarView of the window.

use crate::common;
use crate::ms_env;
use testkit::fake_graph;

use chrono::{Datelike, Duration, Utc, Weekday};
use fake_graph::{Endpoint, FakeGraph};
use ms_env::*;
use serde_json::json;

/// The ids whose master was fetched (`GET …/events/{id}`), in order.
fn master_gets(g: &FakeGraph) -> Vec<String> {
    g.requests_to(Endpoint::EventGet)
        .iter()
        .map(|r| {
            let path = percent_encoding::percent_decode_str(&r.path)
                .decode_utf8_lossy()
                .into_owned();
            path.rsplit('/').next().unwrap_or_default().to_string()
        })
        .collect()
}

/// Days from today to the next `day` at least `after` days ahead.
fn next(day: Weekday, after: i64) -> i64 {
    (after..after + 7)
        .find(|d| (Utc::now() + Duration::days(*d)).weekday() == day)
        .unwrap()
}

#[test]
fn masters_are_fetched_once_per_change_and_an_idle_poll_is_one_request() {
    let g = FakeGraph::start();
    let a = daily(&g, "standup", -20, 60);
    let b = weekly(&g, "Alice / Mika 1on1", -100, "tuesday");
    let c = weekly(&g, "Bob / Mika 1on1", -50, "thursday");
    let gone = single(&g, "to delete", 3);
    single(&g, "kept", 4);
    let env = env_for(&g, "");
    g.clear_log();
    assert_ok(&sync(&env));
    let mut first = master_gets(&g);
    first.sort();
    let mut all = vec![a.clone(), b.clone(), c.clone()];
    all.sort();
    assert_eq!(first, all, "each master once in the first round");
    assert_matches(&env, &g);

    let round = |what: &str, expect: Vec<&String>| {
        g.clear_log();
        assert_ok(&sync(&env));
        let gets = master_gets(&g);
        let expect: Vec<String> = expect.into_iter().cloned().collect();
        assert_eq!(gets, expect, "{what}: master GETs");
        assert_matches(&env, &g);
    };
    round("idle", vec![]);
    assert_eq!(g.requests().len(), 1, "an idle poll is one request");

    g.update_event(&a, json!({"subject": "standup (renamed)"}));
    round("master updated (its occurrences reappear bare)", vec![&a]);
    round("idle after the update", vec![]);
    assert_eq!(g.requests().len(), 1);

    let tue = next(Weekday::Tue, 1);
    g.move_occurrence(&b, &date(tue), &local(tue, "16:00"), &local(tue, "16:45"));
    round("moved occurrence (an exception item)", vec![&b]);

    let thu = next(Weekday::Thu, 1);
    g.decline(&g.occurrence_id(&c, &date(thu)));
    round("declined occurrence", vec![&c]);

    g.cancel_occurrence_with(&c, &date(thu + 7), true);
    round("cancelled occurrence with a delta entry", vec![&c]);

    g.delete_event(&gone);
    round("deleted single event", vec![]);

    single(&g, "long ago", -600);
    round("out-of-window change (noise)", vec![]);

    round("idle at the end", vec![]);
    assert_eq!(g.requests().len(), 1);
}

#[test]
fn a_cancelled_occurrence_without_a_delta_entry_becomes_a_cancelled_session() {
    let g = FakeGraph::start();
    let a = daily(&g, "standup", -20, 60);
    let b = weekly(&g, "Alice / Mika 1on1", -100, "tuesday");
    let c = weekly(&g, "Bob / Mika 1on1", -50, "thursday");
    let env = env_for(&g, "");
    assert_ok(&sync(&env));
    assert_matches(&env, &g);

    // Together with a change of the same series: the master read for the change shows it.
    g.cancel_occurrence_with(&a, &date(5), false);
    g.update_event(&a, json!({"subject": "standup (moved room)"}));
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(master_gets(&g), vec![a.clone()]);
    assert_matches(&env, &g);
    // Together with an exception of the same series (moved in the same round).
    let thu = next(Weekday::Thu, 1);
    g.cancel_occurrence_with(&c, &date(thu), false);
    g.move_occurrence(
        &c,
        &date(thu + 7),
        &local(thu + 7, "15:00"),
        &local(thu + 7, "15:30"),
    );
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(master_gets(&g), vec![c.clone()]);
    assert_matches(&env, &g);
    let listed = env.events(&local(5, "00:00:00Z"), &local(6, "00:00:00Z"));
    assert!(
        listed
            .iter()
            .all(|e| e["summary"] != "standup (moved room)"),
        "{listed:?}"
    );

    // Alone: delta says nothing at all (an idle round) ...
    let tue = next(Weekday::Tue, 1);
    g.cancel_occurrence_with(&b, &date(tue), false);
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(
        g.requests().len(),
        1,
        "nothing in delta: {:?}",
        g.requests()
    );
    // ... and the next re-baselining round (the window moved by more than the default 1d)
    // notices the missing occurrence: only that master is read again.
    let later = Utc::now() + Duration::days(2);
    g.clear_log();
    assert_ok(&sync_at(&env, later));
    let delta = g.requests_to(Endpoint::CalendarViewDelta);
    assert!(delta[0].param("startDateTime").is_some(), "a new round");
    assert_eq!(master_gets(&g), vec![b.clone()], "only the changed series");
    let (from, to) = window_at(later);
    assert_events_match(&env, &g, from, to);
    let tue_events = env.events(&local(tue, "00:00:00Z"), &local(tue + 1, "00:00:00Z"));
    assert!(
        tue_events
            .iter()
            .all(|e| e["summary"] != "Alice / Mika 1on1"),
        "{tue_events:?}"
    );
    // The analysis counts it as a cancelled session (EXDATE from cancelledOccurrences).
    let json = g.event_json(&b).unwrap();
    assert_eq!(json["cancelledOccurrences"].as_array().unwrap().len(), 1);
    g.clear_log();
    assert_ok(&sync_at(&env, later));
    assert_eq!(g.requests().len(), 1, "idle again");
    assert_events_match(&env, &g, from, to);
}

#[test]
fn the_window_is_rebaselined_when_it_has_drifted_and_ends_equal_to_the_server() {
    let g = FakeGraph::start();
    let series = weekly(&g, "Alice / Mika 1on1", -450, "wednesday");
    let leaving = single(&g, "leaves the window", -395);
    let arriving = single(&g, "enters the window", 125);
    daily(&g, "standup", -30, 40);
    let env = env_for(&g, "\n[sync]\nrebaseline = \"7d\"\n");
    let now = Utc::now();
    assert_ok(&sync_at(&env, now));
    let sync_window = |n: chrono::DateTime<Utc>| (n - Duration::days(398), n + Duration::days(118));
    let (from, to) = sync_window(now);
    assert_events_match(&env, &g, from, to);
    let ids = |env: &common::Env, n| {
        let (f, t) = sync_window(n);
        env.events(&f.to_rfc3339(), &(t + Duration::days(20)).to_rfc3339())
            .iter()
            .map(|e| e["event_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(ids(&env, now).contains(&leaving));

    // Drifted 3 days (< 7d): the same round continues, one request.
    g.clear_log();
    assert_ok(&sync_at(&env, now + Duration::days(3)));
    let requests = g.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].param("$deltatoken").is_some());

    // Drifted 10 days: a new round over the new window; the unchanged series is kept.
    let later = now + Duration::days(10);
    g.clear_log();
    assert_ok(&sync_at(&env, later));
    let delta = g.requests_to(Endpoint::CalendarViewDelta);
    let start = delta[0].param("startDateTime").expect("an initial request");
    assert_eq!(
        start,
        (later - Duration::days(400))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    );
    assert!(master_gets(&g).is_empty(), "{:?}", master_gets(&g));
    let (from, to) = sync_window(later);
    assert_events_match(&env, &g, from, to);
    let now_ids = ids(&env, later);
    assert!(!now_ids.contains(&leaving), "left the window");
    assert!(now_ids.contains(&arriving), "entered the window");
    assert!(
        env.events(&from.to_rfc3339(), &to.to_rfc3339())
            .iter()
            .any(|e| e["series_id"] == series.as_str())
    );
    g.clear_log();
    assert_ok(&sync_at(&env, later));
    assert_eq!(g.requests().len(), 1, "idle after the new round");
    assert_events_match(&env, &g, from, to);
}
