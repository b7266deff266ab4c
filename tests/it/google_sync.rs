//! The Google provider end to end: the real binary syncs from the stateful fake of Google
//! (`tests/fake_google`) over loopback HTTP, and after every scenario the store must hold exactly
//! what the server holds (same ids, same etags).

use crate::common;
use testkit::fake_google;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use fake_google::{Endpoint, FakeGoogle, Fault, FaultKind, GenerateSpec, REFRESH_TOKEN};
use serde_json::{Value, json};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadenced"))
}

/// A config with the fake's account "work" (primary calendar), plus `extra` TOML, signed in by
/// importing the fake's refresh token.
fn env_for(g: &FakeGoogle, extra: &str) -> Env {
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"me@example.com\"\ntimezone = \"America/Chicago\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}\n{extra}",
        g.google_account_toml("work", &["primary"])
    ));
    env.import_refresh_token("work", REFRESH_TOKEN);
    env
}

/// `sync`, required to succeed without printing a token.
fn sync_ok(env: &Env) -> Output {
    let out = env.run(&["sync"]);
    assert!(
        out.status.success(),
        "sync failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_no_secret(&out);
    out
}

/// (event id, etag) of every stored event of account "work".
fn stored(env: &Env) -> BTreeSet<(String, String)> {
    let store = cadenced::store::Store::open_in(&env.state).unwrap();
    store
        .load_events(Some("work"))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .map(|e| (e.event_id, e.etag.unwrap_or_default()))
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// No token of the fake ever reaches the output.
fn assert_no_secret(out: &Output) {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains(REFRESH_TOKEN), "refresh token leaked: {all}");
    assert!(!all.contains("ya29."), "access token leaked: {all}");
}

/// (id, etag) of what a full sync of the server returns, minus the event types cadenced does
/// not store (focus time and working location are never 1on1s; out-of-office events are kept:
/// they tell when the manager is away).
fn server(g: &FakeGoogle) -> BTreeSet<(String, String)> {
    g.snapshot("primary")
        .into_iter()
        .filter(|e| {
            e["eventType"]
                .as_str()
                .is_none_or(|t| t == "default" || t == "outOfOffice")
        })
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["etag"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn weekly_1on1(g: &FakeGoogle) -> Value {
    g.insert_event(
        "primary",
        json!({
            "id": "aliceweekly",
            "summary": "Alice / Me 1on1",
            "start": {"dateTime": "2026-11-02T10:00:00-06:00", "timeZone": "America/Chicago"},
            "end": {"dateTime": "2026-11-02T10:30:00-06:00", "timeZone": "America/Chicago"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": "me@example.com", "self": true},
            "attendees": [
                {"email": "me@example.com", "self": true, "organizer": true, "responseStatus": "accepted"},
                {"email": "alice@example.com", "responseStatus": "accepted"},
                {"email": "room@resource.calendar.google.com", "resource": true, "responseStatus": "accepted"}
            ]
        }),
    )
}

#[test]
fn multi_page_full_sync_then_an_idle_poll_costs_one_request() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 6000,
            ..Default::default()
        },
    );
    let env = env_for(&g, "");
    g.clear_log();
    sync_ok(&env);
    assert_eq!(
        g.count(Endpoint::EventsList),
        3,
        "6000 events at 2500 per page"
    );
    for r in g.requests_to(Endpoint::EventsList) {
        assert_eq!(r.param("maxResults"), Some("2500"));
        assert_eq!(r.param("singleEvents"), Some("false"));
        assert_eq!(r.param("showDeleted"), Some("true"));
        assert!(
            r.header("accept-encoding")
                .is_some_and(|v| v.contains("gzip"))
        );
    }
    assert_eq!(stored(&env), server(&g));

    g.clear_log();
    sync_ok(&env);
    let reqs = g.requests();
    assert_eq!(
        reqs.len(),
        1,
        "an idle poll is one request: {:?}",
        reqs.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert!(reqs[0].param("syncToken").is_some());
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn incremental_changes_reach_the_store() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    g.insert_event(
        "primary",
        json!({"id": "teamsync", "summary": "Team sync",
               "start": {"dateTime": "2026-11-03T09:00:00-06:00", "timeZone": "America/Chicago"},
               "end": {"dateTime": "2026-11-03T10:00:00-06:00", "timeZone": "America/Chicago"},
               "recurrence": ["RRULE:FREQ=WEEKLY"]}),
    );
    let env = env_for(&g, "");
    sync_ok(&env);
    assert_eq!(stored(&env), server(&g));

    g.move_instance(
        "primary",
        "aliceweekly",
        "2026-11-09T10:00:00-06:00",
        "2026-11-10T15:00:00-06:00",
        "2026-11-10T15:30:00-06:00",
    );
    g.cancel_instance("primary", "aliceweekly", "2026-11-16T10:00:00-06:00");
    g.set_response_status("primary", "aliceweekly", "alice@example.com", "declined");
    g.delete_series("primary", "teamsync");
    sync_ok(&env);
    assert_eq!(stored(&env), server(&g));

    let store = cadenced::store::Store::open_in(&env.state).unwrap();
    let events: Vec<_> = store
        .load_events(Some("work"))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .collect();
    assert!(
        events.iter().all(|e| e.event_id != "teamsync"),
        "the deleted series is gone"
    );
    let moved = events
        .iter()
        .find(|e| e.event_id == FakeGoogle::instance_id("aliceweekly", "2026-11-09T10:00:00-06:00"))
        .unwrap();
    assert_eq!(moved.series_id.as_deref(), Some("aliceweekly"));
    assert_eq!(
        cadenced::output::format_time(&moved.start),
        "2026-11-10T21:00:00Z"
    );
    let cancelled = events
        .iter()
        .find(|e| e.event_id == FakeGoogle::instance_id("aliceweekly", "2026-11-16T10:00:00-06:00"))
        .unwrap();
    assert_eq!(cancelled.status, cadenced::model::EventStatus::Cancelled);
    let master = events.iter().find(|e| e.event_id == "aliceweekly").unwrap();
    let alice = master
        .attendees
        .iter()
        .find(|a| a.email == "alice@example.com")
        .unwrap();
    assert_eq!(alice.response, cadenced::model::Response::Declined);
    assert!(master.attendees.iter().any(|a| a.resource));
}

#[test]
fn an_expired_sync_token_triggers_one_clean_full_resync() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 300,
            ..Default::default()
        },
    );
    let env = env_for(&g, "");
    sync_ok(&env);
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 50,
            seed: 7,
            ..Default::default()
        },
    );
    g.invalidate_sync_tokens("primary");
    g.clear_log();
    sync_ok(&env);
    let lists = g.requests_to(Endpoint::EventsList);
    assert_eq!(lists.len(), 2, "the 410, then one full page");
    assert!(lists[0].param("syncToken").is_some() && lists[1].param("syncToken").is_none());
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn transient_faults_are_retried_until_success() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    let env = env_for(&g, "");
    for kind in [
        FaultKind::TooManyRequests {
            retry_after: Some("1".into()),
        },
        FaultKind::RateLimitExceeded403 { retry_after: None },
        FaultKind::InternalError500,
        FaultKind::DropConnection,
    ] {
        g.push_fault(Fault::new(kind).on(Endpoint::EventsList));
    }
    g.clear_log();
    sync_ok(&env);
    assert_eq!(
        g.count(Endpoint::EventsList),
        5,
        "four faults, then success"
    );
    assert_eq!(g.pending_faults(), 0);
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn an_expired_access_token_is_refreshed_once_mid_sync() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 3000,
            ..Default::default()
        },
    );
    let env = env_for(&g, "");
    sync_ok(&env);
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 10,
            seed: 3,
            ..Default::default()
        },
    );
    g.expire_access_tokens();
    g.clear_log();
    sync_ok(&env);
    assert_eq!(g.count(Endpoint::Token), 1, "one refresh");
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn a_revoked_refresh_token_needs_auth_and_other_accounts_keep_running() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    let feed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/overrides.ics");
    let env = env_for(
        &g,
        &format!(
            "[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = {:?}\n",
            feed.display().to_string()
        ),
    );
    g.revoke_refresh_token(REFRESH_TOKEN);
    g.expire_access_tokens();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_secret(&out);
    let err = text(&out.stderr);
    assert!(err.contains("cadenced auth work"), "{err}");
    assert!(
        text(&out.stdout).contains("feed: 3 events stored"),
        "{}",
        text(&out.stdout)
    );
    // Until `auth`, the account makes no further requests.
    g.clear_log();
    let again = env.run(&["sync"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(g.requests().len(), 0);

    // It shows in `status` and as an alert, without any secret.
    let status = env.run(&["status", "--json"]);
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert_no_secret(&status);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    let work = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "work")
        .unwrap();
    assert_eq!(work["needs_auth"], true);
    assert_eq!(work["last_sync_ok"], false);
    let feed = v["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "feed")
        .unwrap();
    assert_eq!(feed["last_sync_ok"], true);
    let alerts = env.run(&["alerts", "--json"]);
    assert_no_secret(&alerts);
    let list: Value = serde_json::from_slice(&alerts.stdout).unwrap();
    let needs: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "needs_auth")
        .collect();
    assert_eq!(needs.len(), 1, "{list}");
    assert_eq!(needs[0]["account"], "work");
    assert!(
        needs[0]["message"]
            .as_str()
            .unwrap()
            .contains("cadenced auth work")
    );

    // A new authorization clears it.
    g.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        "1//fresh-token",
        &["calendar.readonly"],
    );
    let out = env.run_with_stdin(
        &["auth", "work", "--refresh-token-stdin"],
        "1//fresh-token\n",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    sync_ok(&env);
    let list: Value = serde_json::from_slice(&env.run(&["alerts", "--json"]).stdout).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] != "needs_auth"),
        "{list}"
    );
}

#[test]
fn a_sync_killed_mid_way_resumes_without_loss_or_duplicates() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 6000,
            ..Default::default()
        },
    );
    let env = env_for(&g, "");
    // Every list request is slow; kill the process while the second page is in flight.
    g.push_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(1500)))
            .on(Endpoint::EventsList)
            .times(3),
    );
    let mut child = env
        .cmd(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while g.count(Endpoint::EventsList) < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    g.clear_faults();
    let partial = stored(&env);
    assert!(
        !partial.is_empty() && partial.len() < server(&g).len(),
        "the first page was committed: {}",
        partial.len()
    );

    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 20,
            seed: 9,
            ..Default::default()
        },
    );
    sync_ok(&env);
    assert_eq!(stored(&env), server(&g));
    // And the next incremental poll is clean.
    sync_ok(&env);
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn the_same_calendar_from_google_and_from_ics_gives_the_same_report() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    g.cancel_instance("primary", "aliceweekly", "2026-11-16T10:00:00-06:00");
    let env = env_for(&g, "");
    sync_ok(&env);
    let now = "2026-12-01T00:00:00Z";
    let google = env.run(&["--now", now, "report", "--json"]);
    assert!(google.status.success(), "{}", text(&google.stderr));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("cal.ics"),
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:aliceweekly@google.com\r\n\
         DTSTART;TZID=America/Chicago:20261102T100000\r\nDTEND;TZID=America/Chicago:20261102T103000\r\n\
         RRULE:FREQ=WEEKLY\r\nEXDATE;TZID=America/Chicago:20261116T100000\r\nSUMMARY:Alice / Me 1on1\r\n\
         ORGANIZER:mailto:me@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:me@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\n\
         ATTENDEE;CUTYPE=ROOM;PARTSTAT=ACCEPTED:mailto:room@resource.calendar.google.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[manager]\nemail = \"me@example.com\"\ntimezone = \"America/Chicago\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n[[accounts]]\nname = \"work\"\nprovider = \"ics\"\npath = \"cal.ics\"\n",
    )
    .unwrap();
    let st = dir.path().join("st");
    let run = |args: &[&str]| {
        bin()
            .arg("--config")
            .arg(&cfg)
            .arg("--state-dir")
            .arg(&st)
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["sync"]).status.success());
    let ics = run(&["--now", now, "report", "--json"]);
    let figures = |o: &Output| {
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let mut r = v["reports"][0].clone();
        r["series"] = Value::Null; // the series' event id differs by source
        let kinds: Vec<Value> = v["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| json!([a["kind"], a["report"], a["since"]]))
            .collect();
        (r, kinds)
    };
    assert_eq!(figures(&google), figures(&ics));
}

#[test]
fn interactive_auth_with_pkce_on_a_loopback_redirect() {
    use std::io::{BufRead, BufReader};
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = \"me@example.com\"\n\n{}",
            g.google_account_toml("work", &["primary"])
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let mut child = bin()
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .args(["auth", "work", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The binary prints the authorization URL; a "browser" (here: an HTTP client) opens it and the
    // fake consents, redirecting to the binary's loopback listener with the code and the state.
    let stderr = child.stderr.take().unwrap();
    let mut url = None;
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(u) = line
            .split_whitespace()
            .find(|w| w.starts_with(&g.auth_url()))
        {
            url = Some(u.to_string());
            break;
        }
    }
    let url = url.expect("the authorization URL is printed");
    let parsed = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
    assert_eq!(
        q.get("code_challenge_method").map(String::as_str),
        Some("S256")
    );
    assert!(
        q.get("redirect_uri")
            .is_some_and(|r| r.starts_with("http://127.0.0.1:"))
    );
    assert!(q.get("state").is_some_and(|s| s.len() >= 16));
    assert!(
        q.get("scope")
            .is_some_and(|s| s.contains("calendar.readonly"))
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt
        .block_on(async { reqwest::get(&url).await.map(|r| r.status()) })
        .unwrap();
    assert!(status.is_success(), "the loopback page answers: {status}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "auth: {}", text(&out.stdout));
    let token_file = state.join("tokens/work.json");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // And the stored tokens work.
    let sync = bin()
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .arg("sync")
        .output()
        .unwrap();
    assert!(sync.status.success(), "{}", text(&sync.stderr));
}

#[test]
fn the_device_flow_is_refused_for_google() {
    let g = FakeGoogle::start();
    let env = env_for(&g, "");
    let out = env.run(&["auth", "work", "--device"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("device"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn an_empty_answer_or_an_endless_pager_is_an_error_and_the_store_keeps_its_events() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 20,
            ..Default::default()
        },
    );
    let env = env_for(&g, "");
    sync_ok(&env);
    let before = stored(&env);
    assert_eq!(before, server(&g));

    // `200 {}` during a full sync: its last page would sweep the calendar.
    g.push_fault(Fault::new(FaultKind::Body200(json!({}))).on(Endpoint::EventsList));
    let out = env.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("nextSyncToken"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(stored(&env), before, "the store keeps its events");

    // A server that always has a next page is followed to the page limit, then given up.
    g.push_fault(
        Fault::new(FaultKind::Body200(
            json!({"items": [], "nextPageToken": "again"}),
        ))
        .on(Endpoint::EventsList)
        // More pages than the limit, so that a client without one ends (and the test fails).
        .times(2_500),
    );
    g.clear_log();
    let out = env.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("more than 2000 pages"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(g.count(Endpoint::EventsList), 2000);
    assert_eq!(stored(&env), before, "the store keeps its events");

    // Once the server answers properly again, the next sync is a clean full one.
    g.clear_faults();
    sync_ok(&env);
    assert_eq!(stored(&env), server(&g));
}

#[test]
fn a_recurrence_bomb_through_google_is_bounded() {
    let g = FakeGoogle::start();
    weekly_1on1(&g);
    let all = |n: u32| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    g.insert_event(
        "primary",
        json!({
            "id": "bomb",
            "summary": "bomb",
            "start": {"dateTime": "2026-11-02T10:00:00-06:00", "timeZone": "America/Chicago"},
            "end": {"dateTime": "2026-11-02T10:30:00-06:00", "timeZone": "America/Chicago"},
            "recurrence": [format!(
                "RRULE:FREQ=HOURLY;COUNT=4294967295;BYMINUTE={};BYSECOND={}", all(60), all(60)
            )],
        }),
    );
    let env = env_for(&g, "");
    // Before the limits, `sync` alone asked for 10 GiB (the row's span expanded the series).
    for args in [
        &["sync"][..],
        &["--now", "2026-11-24T00:00:00Z", "report", "--json"],
    ] {
        let (out, peak_kib) = common::run_limited(&env.cmd(args), 1024);
        assert!(
            out.status.success(),
            "`{}`: {:?} {}",
            args.join(" "),
            out.status,
            text(&out.stderr)
        );
        assert!(
            peak_kib < 400 * 1024,
            "`{}` peaked at {peak_kib} KiB",
            args.join(" ")
        );
        if args[0] == "--now" {
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(report["reports"][0]["held"], 4, "{report}");
            assert_eq!(report["reports"][0]["upcoming"], 12, "{report}");
            assert!(
                text(&out.stderr).contains("was expanded only partly"),
                "{}",
                text(&out.stderr)
            );
        }
    }
}
