//! Shared helpers of the Microsoft integration tests: a config pointing at a [`FakeGraph`], a
//! signed-in account (refresh-token import), calendar builders relative to today, and the final
//! check that `events --json` over a window equals the fake's calendarView of that window.

use std::process::Output;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::common::{Env, stderr};
use testkit::fake_graph::{FakeGraph, NewEvent, PUBLIC_CLIENT_ID, REFRESH_TOKEN, TENANT_ID};

pub const ACCOUNT: &str = "m365";
pub const ZONE: &str = "W. Europe Standard Time";

/// A config with one delegated Microsoft account on the fake (plus `extra` TOML), signed in by
/// importing [`REFRESH_TOKEN`].
pub fn env_for(g: &FakeGraph, extra: &str) -> Env {
    let env = config_for(g, extra);
    import_refresh_token(&env);
    env
}

pub fn config_for(g: &FakeGraph, extra: &str) -> Env {
    Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\n\n[[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\n\
         tenant = \"{TENANT_ID}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n{extra}",
        g.url(),
        g.graph_base()
    ))
}

pub fn import_refresh_token(env: &Env) {
    env.import_refresh_token(ACCOUNT, REFRESH_TOKEN);
}

pub fn sync(env: &Env) -> Output {
    env.run(&["sync"])
}

/// `sync` with `--now` at `now`.
pub fn sync_at(env: &Env, now: DateTime<Utc>) -> Output {
    env.run(&["--now", &now.to_rfc3339(), "sync"])
}

pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "sync failed: {}", stderr(out));
}

/// `YYYY-MM-DDTHH:MM` of `days` from today at `time`.
pub fn local(days: i64, time: &str) -> String {
    format!(
        "{}T{time}",
        (Utc::now() + Duration::days(days)).format("%Y-%m-%d")
    )
}

pub fn date(days: i64) -> String {
    (Utc::now() + Duration::days(days))
        .format("%Y-%m-%d")
        .to_string()
}

/// A daily series of `n` occurrences starting `from` days from today, 10:00–10:30 in [`ZONE`].
pub fn daily(g: &FakeGraph, subject: &str, from: i64, n: u32) -> String {
    g.add_series(
        &NewEvent::new(subject, &local(from, "10:00"), &local(from, "10:30"), ZONE),
        json!({
            "pattern": {"type": "daily", "interval": 1},
            "range": {"type": "numbered", "startDate": date(from),
                      "numberOfOccurrences": n, "recurrenceTimeZone": ZONE}
        }),
    )
}

/// A weekly series on `day` (e.g. "tuesday") without end, from `from` days from today.
pub fn weekly(g: &FakeGraph, subject: &str, from: i64, day: &str) -> String {
    g.add_series(
        &NewEvent::new(subject, &local(from, "09:00"), &local(from, "09:45"), ZONE),
        json!({
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [day],
                        "firstDayOfWeek": "monday"},
            "range": {"type": "noEnd", "startDate": date(from), "recurrenceTimeZone": ZONE}
        }),
    )
}

pub fn single(g: &FakeGraph, subject: &str, days: i64) -> String {
    g.add_event(&NewEvent::new(
        subject,
        &local(days, "14:00"),
        &local(days, "15:00"),
        ZONE,
    ))
}

/// The default comparison window: well inside the sync window (400 days back, 120 ahead).
pub fn window() -> (DateTime<Utc>, DateTime<Utc>) {
    window_at(Utc::now())
}

pub fn window_at(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - Duration::days(300), now + Duration::days(100))
}

/// `events --json` over `[from, to)` (not cancelled) equals the fake's calendarView of it, as
/// sorted (start, end) pairs.
pub fn assert_events_match(env: &Env, g: &FakeGraph, from: DateTime<Utc>, to: DateTime<Utc>) {
    let ours_json = env.events(&from.to_rfc3339(), &to.to_rfc3339());
    let parse = |v: &serde_json::Value| {
        DateTime::parse_from_rfc3339(v.as_str().expect("zoned time"))
            .unwrap_or_else(|e| panic!("{v}: {e}"))
            .with_timezone(&Utc)
    };
    let mut ours: Vec<(DateTime<Utc>, DateTime<Utc>)> = ours_json
        .iter()
        .filter(|e| e["status"] != "cancelled")
        .map(|e| (parse(&e["start"]), parse(&e["end"])))
        .collect();
    ours.sort();
    let mut theirs: Vec<(DateTime<Utc>, DateTime<Utc>)> = g
        .snapshot_view(&from.to_rfc3339(), &to.to_rfc3339())
        .iter()
        .map(|v| (v.start, v.end))
        .collect();
    theirs.sort();
    let missing: Vec<_> = theirs.iter().filter(|t| !ours.contains(t)).collect();
    let extra: Vec<_> = ours.iter().filter(|t| !theirs.contains(t)).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && ours.len() == theirs.len(),
        "store ≠ calendarView: missing {missing:?}, extra {extra:?} ({} vs {})",
        ours.len(),
        theirs.len()
    );
}

/// [`assert_events_match`] over [`window`].
pub fn assert_matches(env: &Env, g: &FakeGraph) {
    let (from, to) = window();
    assert_events_match(env, g, from, to);
}
