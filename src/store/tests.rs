use super::*;
use crate::model::{EventStatus, EventTime};
use crate::tz::Zone;
use chrono::NaiveDate;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn event(id: &str) -> Event {
    let local = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    Event {
        calendar: "primary".into(),
        uid: id.into(),
        event_id: id.into(),
        series_id: None,
        recurrence: None,
        recurrence_id: None,
        this_and_future: false,
        start: EventTime::Zoned {
            local,
            zone: Zone::Iana(chrono_tz::Asia::Tokyo),
        },
        end: EventTime::Zoned {
            local: local + chrono::Duration::minutes(30),
            zone: Zone::Iana(chrono_tz::Asia::Tokyo),
        },
        status: EventStatus::Confirmed,
        summary: format!("event {id}"),
        description: None,
        location: None,
        organizer: None,
        attendees: vec![],
        self_response: None,
        out_of_office: false,
        sequence: 0,
        updated: None,
        etag: None,
    }
}

#[test]
fn creates_private_state_dir_and_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let store = crate::store::testing::open_in(&dir).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(store.path()), 0o600);
    let journal: String = store
        .conn
        .as_sqlite()
        .unwrap()
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 = store
        .conn
        .as_sqlite()
        .unwrap()
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
    let page: i64 = store
        .conn
        .as_sqlite()
        .unwrap()
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(page, 16_384);
    drop(store);
    // Reopening keeps everything (the page size is fixed once the file is written).
    let store = crate::store::testing::open_in(&dir).unwrap();
    let page: i64 = store
        .conn
        .as_sqlite()
        .unwrap()
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap();
    assert_eq!(page, 16_384);
}

#[test]
fn replace_round_trips_events_and_cursor_pg() {
    crate::store::testing::on_pg(replace_round_trips_events_and_cursor);
}

#[test]
fn replace_round_trips_events_and_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("feed", "ics").unwrap();
    store
        .replace_account_events(acc, "team.ics", &[event("a"), event("b")], Some("etag-1"))
        .unwrap();
    let loaded = store.load_events(Some("feed")).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(
        (loaded[0].account.as_str(), loaded[0].calendar.as_str()),
        ("feed", "team.ics")
    );
    assert_eq!(loaded[0].events, vec![event("a"), event("b")]);
    let cal = store.ensure_calendar(acc, "team.ics").unwrap();
    assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("etag-1"));

    // A second replace removes what the feed no longer has.
    store
        .replace_account_events(acc, "team.ics", &[event("b")], None)
        .unwrap();
    let loaded = store.load_events(None).unwrap();
    assert_eq!(
        loaded[0]
            .events
            .iter()
            .map(|e| e.event_id.as_str())
            .collect::<Vec<_>>(),
        ["b"]
    );
    assert_eq!(store.cursor(cal).unwrap(), None);
}

#[test]
fn account_overview_of_names_only_those_accounts_pg() {
    crate::store::testing::on_pg(account_overview_of_names_only_those_accounts);
}

#[test]
fn account_overview_of_names_only_those_accounts() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let a = store.ensure_account("org:a@example.com", "google").unwrap();
    store.ensure_account("org:b@example.com", "google").unwrap();
    let c = store.ensure_account("org:c@example.com", "google").unwrap();
    store
        .replace_account_events(a, "primary", &[event("x"), event("y")], Some("t"))
        .unwrap();
    store
        .replace_account_events(c, "primary", &[event("z")], None)
        .unwrap();
    let all = store.account_overview().unwrap();
    assert_eq!(all.len(), 3);
    // Unknown names are skipped; the rows are the same as in the whole overview, by name.
    let some = store
        .account_overview_of(&["org:c@example.com", "org:nobody", "org:a@example.com"])
        .unwrap();
    assert_eq!(some, vec![all[0].clone(), all[2].clone()]);
    assert_eq!((some[0].events, some[0].cursors), (2, 1));
    assert_eq!((some[1].events, some[1].cursors), (1, 0));
    assert!(store.account_overview_of(&[]).unwrap().is_empty());
}

#[test]
fn apply_changes_upserts_and_deletes_pg() {
    crate::store::testing::on_pg(apply_changes_upserts_and_deletes);
}

#[test]
fn apply_changes_upserts_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("work", "google").unwrap();
    let cal = store.ensure_calendar(acc, "primary").unwrap();
    store
        .apply_changes(cal, &[event("a"), event("b")], &[], Some("t1"))
        .unwrap();
    let mut changed = event("a");
    changed.summary = "renamed".into();
    store
        .apply_changes(cal, &[changed.clone()], &["b".to_string()], Some("t2"))
        .unwrap();
    let loaded = store.load_events(Some("work")).unwrap();
    assert_eq!(loaded[0].events, vec![changed]);
    assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("t2"));
    assert!(store.load_events(Some("other")).unwrap().is_empty());
}

#[test]
fn reopening_keeps_data_pg() {
    crate::store::testing::on_pg(reopening_keeps_data);
}

#[test]
fn reopening_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
        let acc = store.ensure_account("feed", "ics").unwrap();
        store
            .replace_account_events(acc, "f", &[event("a")], None)
            .unwrap();
    }
    let store = crate::store::testing::open_in(tmp.path()).unwrap();
    assert_eq!(store.event_counts().unwrap(), vec![("feed".to_string(), 1)]);
}

#[test]
fn async_store_runs_off_the_runtime_pg() {
    crate::store::testing::on_pg(async_store_runs_off_the_runtime);
}

#[tokio::test]
async fn async_store_runs_off_the_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let store = AsyncStore::new(crate::store::testing::open_in(tmp.path()).unwrap());
    let id = store
        .call(|s| s.ensure_account("feed", "ics"))
        .await
        .unwrap();
    let again = store
        .call(|s| s.ensure_account("feed", "ics"))
        .await
        .unwrap();
    assert_eq!(id, again);
}

// ---- windowed loads ----

use crate::model::RecurrenceSet;
use crate::recurrence::{self, Window};
use chrono::{Duration, TimeZone};

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

/// The analysis window of the brief: [now − 400d, now + 120d) at 2026-11-24T00:00Z.
fn window() -> Window {
    let now = at(2026, 11, 24, 0);
    Window {
        from: now - Duration::days(400),
        to: now + Duration::days(120),
    }
}

fn single_at(id: &str, start: DateTime<Utc>, minutes: i64) -> Event {
    let mut e = event(id);
    e.start = EventTime::utc(start);
    e.end = EventTime::utc(start + Duration::minutes(minutes));
    e
}

fn master_at(id: &str, start: DateTime<Utc>, rrule: &str) -> Event {
    let mut e = single_at(id, start, 30);
    e.recurrence = Some(RecurrenceSet {
        rrules: vec![rrule.into()],
        ..RecurrenceSet::default()
    });
    e
}

fn override_of(master: &Event, id: &str, slot: DateTime<Utc>, moved_to: DateTime<Utc>) -> Event {
    let mut e = single_at(id, moved_to, 30);
    e.uid = master.uid.clone();
    e.series_id = Some(master.event_id.clone());
    e.recurrence_id = Some(EventTime::utc(slot));
    e
}

fn store_with(events: &[Event]) -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("work", "google").unwrap();
    store
        .replace_account_events(acc, "primary", events, None)
        .unwrap();
    (tmp, store)
}

fn loaded_ids(store: &Store, w: &Window) -> Vec<String> {
    let ids = |account: Option<&str>| -> Vec<String> {
        store
            .load_events_in(account, w.from, w.to)
            .unwrap()
            .into_iter()
            .flat_map(|c| c.events)
            .map(|e| e.event_id)
            .collect()
    };
    let all = ids(None);
    // The one-account query (org mode) loads the same from the only account.
    assert_eq!(ids(Some("work")), all);
    all
}

#[test]
fn windowed_load_of_one_account_leaves_the_others_out_pg() {
    crate::store::testing::on_pg(windowed_load_of_one_account_leaves_the_others_out);
}

#[test]
fn windowed_load_of_one_account_leaves_the_others_out() {
    let w = window();
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let master = master_at("series", at(2026, 1, 5, 9), "FREQ=WEEKLY");
    let moved = override_of(&master, "moved", at(2026, 6, 1, 9), at(2026, 6, 2, 9));
    for (name, events) in [
        ("org:a", vec![single_at("a-in", at(2026, 6, 1, 9), 30)]),
        ("org:b", vec![master.clone(), moved.clone()]),
        ("org:c", vec![single_at("c-old", at(2016, 6, 1, 9), 30)]),
    ] {
        let acc = store.ensure_account(name, "google").unwrap();
        store
            .replace_account_events(acc, "primary", &events, None)
            .unwrap();
    }
    let of = |account: &str| -> Vec<(String, String)> {
        store
            .load_events_in(Some(account), w.from, w.to)
            .unwrap()
            .into_iter()
            .flat_map(|c| {
                let acc = c.account.clone();
                c.events.into_iter().map(move |e| (acc.clone(), e.event_id))
            })
            .collect()
    };
    let pair = |a: &str, e: &str| (a.to_string(), e.to_string());
    assert_eq!(of("org:a"), [pair("org:a", "a-in")]);
    assert_eq!(
        of("org:b"),
        [pair("org:b", "series"), pair("org:b", "moved")]
    );
    assert!(of("org:c").is_empty());
    assert!(of("org:nobody").is_empty());
    assert_eq!(store.load_events_in(None, w.from, w.to).unwrap().len(), 2);
}

#[test]
fn windowed_load_skips_old_singles_and_keeps_current_ones_pg() {
    crate::store::testing::on_pg(windowed_load_skips_old_singles_and_keeps_current_ones);
}

#[test]
fn windowed_load_skips_old_singles_and_keeps_current_ones() {
    let w = window();
    let (_tmp, store) = store_with(&[
        single_at("old", at(2016, 3, 1, 9), 30),
        single_at("inside", at(2026, 6, 1, 9), 30),
        single_at("future", at(2027, 9, 1, 9), 30),
        single_at("straddles", w.from - Duration::days(1), 60 * 48),
    ]);
    assert_eq!(loaded_ids(&store, &w), ["inside", "straddles"]);
    // The whole-store load is unchanged.
    assert_eq!(store.load_events(None).unwrap()[0].events.len(), 4);
}

#[test]
fn windowed_load_keeps_unbounded_series_and_drops_ended_ones_pg() {
    crate::store::testing::on_pg(windowed_load_keeps_unbounded_series_and_drops_ended_ones);
}

#[test]
fn windowed_load_keeps_unbounded_series_and_drops_ended_ones() {
    let w = window();
    let (_tmp, store) = store_with(&[
        master_at("forever", at(2016, 1, 4, 9), "FREQ=WEEKLY"),
        master_at("ended", at(2016, 1, 4, 9), "FREQ=WEEKLY;COUNT=10"),
        master_at(
            "ends-inside",
            at(2024, 1, 1, 9),
            "FREQ=WEEKLY;UNTIL=20260101T000000Z",
        ),
        master_at("starts-later", at(2027, 6, 1, 9), "FREQ=WEEKLY"),
        master_at("broken", at(2016, 1, 4, 9), "FREQ=SOMETIMES;COUNT=2"),
    ]);
    assert_eq!(loaded_ids(&store, &w), ["forever", "ends-inside", "broken"]);
}

#[test]
fn windowed_load_keeps_overrides_moved_into_or_out_of_the_window_pg() {
    crate::store::testing::on_pg(windowed_load_keeps_overrides_moved_into_or_out_of_the_window);
}

#[test]
fn windowed_load_keeps_overrides_moved_into_or_out_of_the_window() {
    let w = window();
    let series = master_at("s", at(2016, 1, 4, 9), "FREQ=WEEKLY");
    let slot_in = at(2026, 6, 1, 9);
    let slot_out = at(2017, 6, 5, 9);
    let (_tmp, store) = store_with(&[
        series.clone(),
        // Original slot in the window, moved ten years out.
        override_of(&series, "moved-out", slot_in, at(2036, 6, 2, 9)),
        // Original slot years ago, moved into the window.
        override_of(&series, "moved-in", slot_out, at(2026, 7, 1, 9)),
        // Neither.
        override_of(&series, "untouched", at(2017, 6, 12, 9), at(2017, 6, 13, 9)),
    ]);
    assert_eq!(loaded_ids(&store, &w), ["s", "moved-out", "moved-in"]);
}

#[test]
fn windowed_load_brings_the_master_of_an_override_it_loads_pg() {
    crate::store::testing::on_pg(windowed_load_brings_the_master_of_an_override_it_loads);
}

#[test]
fn windowed_load_brings_the_master_of_an_override_it_loads() {
    let w = window();
    // The series ended years ago, but one of its instances was moved into the window.
    let series = master_at("old-series", at(2016, 1, 4, 9), "FREQ=WEEKLY;COUNT=10");
    let moved = override_of(&series, "moved-in", at(2016, 1, 11, 9), at(2026, 7, 1, 9));
    let (_tmp, store) = store_with(&[series, moved]);
    assert_eq!(loaded_ids(&store, &w), ["old-series", "moved-in"]);
}

#[test]
fn windowed_load_keeps_an_old_this_and_future_override_pg() {
    crate::store::testing::on_pg(windowed_load_keeps_an_old_this_and_future_override);
}

#[test]
fn windowed_load_keeps_an_old_this_and_future_override() {
    let w = window();
    let series = master_at("s", at(2016, 1, 4, 9), "FREQ=WEEKLY;UNTIL=20260301T000000Z");
    let mut taf = override_of(&series, "taf", at(2016, 6, 6, 9), at(2016, 6, 7, 9));
    taf.this_and_future = true;
    let (_tmp, store) = store_with(&[series, taf]);
    assert_eq!(loaded_ids(&store, &w), ["s", "taf"]);
}

#[test]
fn windowed_load_pads_for_floating_times_and_dates_pg() {
    crate::store::testing::on_pg(windowed_load_pads_for_floating_times_and_dates);
}

#[test]
fn windowed_load_pads_for_floating_times_and_dates() {
    let w = window();
    let floating = |id: &str, start: DateTime<Utc>, minutes: i64| {
        let mut e = event(id);
        e.start = EventTime::Floating {
            local: start.naive_utc(),
        };
        e.end = EventTime::Floating {
            local: (start + Duration::minutes(minutes)).naive_utc(),
        };
        e
    };
    let mut day = event("all-day-after-end");
    let to_date = w.to.date_naive();
    day.start = EventTime::Date { date: to_date };
    day.end = EventTime::Date {
        date: to_date + Duration::days(1),
    };
    let (_tmp, store) = store_with(&[
        // Ends 10 h before the window in UTC: inside it for a manager 10 h east.
        floating("floating-10h-early", w.from - Duration::hours(11), 60),
        // Ends 15 h before: outside in every zone.
        floating("floating-15h-early", w.from - Duration::hours(16), 60),
        // Starts at the window's end in UTC, i.e. inside it for a manager west of UTC.
        day,
    ]);
    assert_eq!(
        loaded_ids(&store, &w),
        ["floating-10h-early", "all-day-after-end"]
    );
}

#[test]
fn master_span_reaches_the_end_of_its_last_instance_even_if_removed_pg() {
    crate::store::testing::on_pg(master_span_reaches_the_end_of_its_last_instance_even_if_removed);
}

#[test]
fn master_span_reaches_the_end_of_its_last_instance_even_if_removed() {
    let mut series = master_at("s", at(2020, 1, 6, 9), "FREQ=WEEKLY;COUNT=3");
    let (start, end) = window::span(&series);
    assert_eq!(
        (start, end),
        (
            at(2020, 1, 6, 9),
            Some(at(2020, 1, 20, 9) + Duration::minutes(30))
        )
    );
    // EXDATE on the last instance: still counted as a cancelled session by the analysis.
    series.recurrence.as_mut().unwrap().exdates = vec![EventTime::utc(at(2020, 1, 20, 9))];
    assert_eq!(window::span(&series).1, end);
    // An RDATE before DTSTART starts the span.
    series.recurrence.as_mut().unwrap().rdates = vec![crate::model::RDate {
        start: EventTime::utc(at(2019, 12, 1, 9)),
        end: None,
    }];
    assert_eq!(window::span(&series).0, at(2019, 12, 1, 9));
    assert_eq!(
        window::columns(&series),
        (
            "2019-12-01T09:00:00Z".to_string(),
            Some("2020-01-20T09:30:00Z".to_string())
        )
    );
}

/// Expanding the windowed load gives what expanding the whole store gives, in every zone.
#[test]
fn windowed_load_expands_like_the_whole_store_pg() {
    crate::store::testing::on_pg(windowed_load_expands_like_the_whole_store);
}

#[test]
fn windowed_load_expands_like_the_whole_store() {
    let w = window();
    let weekly = master_at("weekly", at(2016, 1, 4, 9), "FREQ=WEEKLY");
    let ended = master_at("ended", at(2016, 1, 4, 9), "FREQ=DAILY;COUNT=400");
    let mut events = vec![
        weekly.clone(),
        ended.clone(),
        master_at(
            "ends-inside",
            at(2024, 1, 1, 9),
            "FREQ=WEEKLY;UNTIL=20260101T000000Z",
        ),
        override_of(&weekly, "w-out", at(2026, 6, 1, 9), at(2036, 6, 2, 9)),
        override_of(&weekly, "w-in", at(2017, 6, 5, 9), at(2026, 7, 1, 9)),
        override_of(&ended, "e-in", at(2016, 1, 11, 9), at(2026, 7, 2, 9)),
    ];
    for i in 0..200 {
        events.push(single_at(
            &format!("single-{i}"),
            at(2015, 1, 1, 0) + Duration::days(i * 19),
            45,
        ));
    }
    let (_tmp, store) = store_with(&events);
    let all = store.load_events(None).unwrap();
    let some = store.load_events_in(None, w.from, w.to).unwrap();
    assert!(some[0].events.len() < all[0].events.len() / 2);
    for zone in [
        Zone::Utc,
        Zone::Iana(chrono_tz::Pacific::Kiritimati),
        Zone::Iana(chrono_tz::Pacific::Pago_Pago),
        Zone::Iana(chrono_tz::Asia::Tokyo),
    ] {
        let list = |cals: &[StoredCalendar]| {
            recurrence::expand(&cals[0].events, &w, &zone)
                .occurrences
                .iter()
                .map(|o| (o.event_id.clone(), o.start.instant(&zone)))
                .collect::<Vec<_>>()
        };
        assert_eq!(list(&some), list(&all), "zone {}", zone.name());
    }
}

#[test]
fn windowed_load_uses_the_window_index() {
    let (_tmp, store) = store_with(&[event("a")]);
    let mut stmt = store
        .conn
        .as_sqlite()
        .unwrap()
        .prepare(&format!("EXPLAIN QUERY PLAN {LOAD_WINDOW_SQL}"))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(
            params![
                None::<String>,
                "2025-01-01T00:00:00Z",
                "2026-01-01T00:00:00Z"
            ],
            |r| r.get::<_, String>(3),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let plan = plan.join("\n");
    // Both halves of the window test search the index; the masters are found by their key.
    assert!(
        plan.contains("SEARCH events USING INDEX events_window (end_utc>?)"),
        "{plan}"
    );
    assert!(
        plan.contains("events_window (end_utc=? AND start_utc<?)"),
        "{plan}"
    );
    assert!(
        plan.contains(
            "SEARCH m USING COVERING INDEX sqlite_autoindex_events_1 (calendar_id=? AND event_id=?)"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
        "{plan}"
    );
    // No full scan of the events table anywhere.
    assert!(
        !plan
            .lines()
            .map(str::trim)
            .any(|l| ["SCAN e", "SCAN m", "SCAN events"]
                .iter()
                .any(|s| l == *s || l.starts_with(&format!("{s} ")))),
        "{plan}"
    );
}

/// Timing of a windowed load over many stored singles (run with
/// `cargo test --release --lib -- --ignored windowed_load_timing --nocapture`).
#[test]
#[ignore]
fn windowed_load_timing() {
    let n: i64 = std::env::var("CADENCED_TIMING_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let w = window();
    // Ten years of events ending at w.to, evenly spread.
    let first = w.to - Duration::days(3650);
    let step = Duration::seconds(3650 * 86_400 / n);
    let mut events = Vec::with_capacity(usize::try_from(n).unwrap());
    for i in 0..n {
        let mut e = single_at(
            &format!("e{i}"),
            first + step * i32::try_from(i).unwrap(),
            30,
        );
        e.attendees = vec![crate::model::Attendee {
            email: format!("r{}@example.com", i % 8),
            name: None,
            response: crate::model::Response::Accepted,
            resource: false,
            is_self: false,
        }];
        events.push(e);
    }
    let t = std::time::Instant::now();
    let (_tmp, store) = store_with(&events);
    let written = t.elapsed();
    let t = std::time::Instant::now();
    let all = store.load_events(None).unwrap();
    let whole = t.elapsed();
    let t = std::time::Instant::now();
    let some = store.load_events_in(None, w.from, w.to).unwrap();
    let windowed = t.elapsed();
    println!(
        "{n} singles: write {written:?}; load_events {} rows in {whole:?}; load_events_in {} rows in {windowed:?}",
        all[0].events.len(),
        some[0].events.len()
    );
}

#[test]
fn filtered_load_skips_only_the_singles_the_reader_rejects_pg() {
    crate::store::testing::on_pg(filtered_load_skips_only_the_singles_the_reader_rejects);
}

#[test]
fn filtered_load_skips_only_the_singles_the_reader_rejects() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("feed", "ics").unwrap();
    let mut group = event("group");
    group.summary = "Team sync".into();
    group.attendees = ["a@x.com", "b@x.com", "c@x.com"]
        .iter()
        .map(|e| crate::model::Attendee {
            email: (*e).into(),
            ..Default::default()
        })
        .collect();
    let mut series = event("series");
    series.recurrence = Some(crate::model::RecurrenceSet {
        rrules: vec!["FREQ=WEEKLY".into()],
        ..Default::default()
    });
    let kept = event("kept");
    store
        .replace_account_events(acc, "f", &[group, series, kept], None)
        .unwrap();
    let from = chrono::Utc::now() - chrono::Duration::days(3650);
    let to = chrono::Utc::now() + chrono::Duration::days(3650);
    let seen = std::cell::RefCell::new(Vec::new());
    let keep = |humans: &mut dyn Iterator<Item = &str>, title: &str| {
        let h: Vec<String> = humans.map(str::to_owned).collect();
        seen.borrow_mut().push((title.to_string(), h.len()));
        h.len() < 3
    };
    let loaded = store
        .load_events_in_filtered(None, from, to, &keep)
        .unwrap();
    let ids: Vec<&str> = loaded[0]
        .events
        .iter()
        .map(|e| e.event_id.as_str())
        .collect();
    assert_eq!(ids, ["series", "kept"]);
    // The reader saw the singles' humans and titles, never the series master's.
    let mut seen = seen.into_inner();
    seen.sort();
    assert_eq!(
        seen,
        [("Team sync".to_string(), 3), ("event kept".to_string(), 0)]
    );
}

#[test]
fn deleting_by_id_or_series_uses_an_index() {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::store::testing::open_in(tmp.path()).unwrap();
    for sql in [
        "EXPLAIN QUERY PLAN DELETE FROM events WHERE calendar_id = 1 AND event_id = 'x'",
        "EXPLAIN QUERY PLAN DELETE FROM events WHERE calendar_id = 1 AND series_id = 'x'",
    ] {
        let plan: Vec<String> = store
            .conn
            .as_sqlite()
            .unwrap()
            .prepare(sql)
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert!(
            plan.iter()
                .any(|p| p.contains("INDEX")
                    && (p.contains("event_id=?") || p.contains("series_id=?"))),
            "{sql}: {plan:?}"
        );
    }
}
