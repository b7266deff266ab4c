//! The generation-tracked page writes used by the Google sync.

use super::*;
use crate::model::{EventStatus, EventTime};
use crate::tz::Zone;
use chrono::NaiveDate;

fn event(id: &str, series: Option<&str>) -> Event {
    let local = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    let t = EventTime::Zoned {
        local,
        zone: Zone::Utc,
    };
    Event {
        calendar: "primary".into(),
        uid: id.into(),
        event_id: id.into(),
        series_id: series.map(Into::into),
        recurrence: None,
        recurrence_id: series.map(|_| t.clone()),
        this_and_future: false,
        start: t.clone(),
        end: t,
        status: EventStatus::Confirmed,
        summary: id.into(),
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

fn ids(store: &Store) -> Vec<String> {
    let mut v: Vec<String> = store
        .load_events(None)
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events.into_iter().map(|e| e.event_id))
        .collect();
    v.sort();
    v
}

fn page<'a>(
    upserts: &'a [Event],
    deleted_ids: &'a [String],
    generation: i64,
    last: Option<&'a str>,
) -> GenerationPage<'a> {
    GenerationPage {
        upserts,
        deleted_ids,
        generation,
        sweep: last.is_some(),
        cursor: last,
    }
}

#[test]
fn an_interrupted_full_sync_is_swept_by_the_next_one_pg() {
    crate::store::testing::on_pg(an_interrupted_full_sync_is_swept_by_the_next_one);
}

#[test]
fn an_interrupted_full_sync_is_swept_by_the_next_one() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("work", "google").unwrap();
    let cal = store.ensure_calendar(acc, "primary").unwrap();
    assert_eq!(store.next_generation(cal).unwrap(), 1);

    // Generation 1 completes.
    let g1 = [event("a", None), event("b", None)];
    store
        .apply_generation_page(cal, &page(&g1, &[], 1, Some("tok1")))
        .unwrap();
    assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("tok1"));

    // Generation 2 dies after its first page: the old rows are still there, nothing doubled.
    store.clear_cursor(cal).unwrap();
    let gen2 = store.next_generation(cal).unwrap();
    assert_eq!(gen2, 2);
    let p1 = [event("b", None), event("c", None)];
    store
        .apply_generation_page(cal, &page(&p1, &[], gen2, None))
        .unwrap();
    assert_eq!(ids(&store), ["a", "b", "c"]);
    assert_eq!(store.cursor(cal).unwrap(), None);

    // Generation 3 restarts from scratch and its last page sweeps everything it did not see.
    let gen3 = store.next_generation(cal).unwrap();
    assert_eq!(gen3, 3);
    let q1 = [event("c", None)];
    store
        .apply_generation_page(cal, &page(&q1, &[], gen3, None))
        .unwrap();
    let q2 = [event("d", None)];
    store
        .apply_generation_page(cal, &page(&q2, &[], gen3, Some("tok3")))
        .unwrap();
    assert_eq!(ids(&store), ["c", "d"]);
    assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("tok3"));
}

#[test]
fn deleting_a_series_removes_its_overrides_pg() {
    crate::store::testing::on_pg(deleting_a_series_removes_its_overrides);
}

#[test]
fn deleting_a_series_removes_its_overrides() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("work", "google").unwrap();
    let cal = store.ensure_calendar(acc, "primary").unwrap();
    let evs = [
        event("m", None),
        event("m_1", Some("m")),
        event("other", None),
    ];
    store
        .apply_generation_page(cal, &page(&evs, &[], 1, Some("t")))
        .unwrap();
    store
        .apply_generation_page(cal, &page(&[], &["m".to_string()], 1, None))
        .unwrap();
    assert_eq!(ids(&store), ["other"]);
    assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("t"));
}

#[test]
fn needs_auth_and_retained_calendars_pg() {
    crate::store::testing::on_pg(needs_auth_and_retained_calendars);
}

#[test]
fn needs_auth_and_retained_calendars() {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::store::testing::open_in(tmp.path()).unwrap();
    let acc = store.ensure_account("work", "google").unwrap();
    assert!(!store.needs_auth(acc).unwrap());
    store.set_needs_auth(acc, true).unwrap();
    assert!(store.needs_auth(acc).unwrap());
    store.set_needs_auth(acc, false).unwrap();
    assert!(!store.needs_auth(acc).unwrap());

    store.ensure_calendar(acc, "primary").unwrap();
    store.ensure_calendar(acc, "old@group").unwrap();
    store
        .retain_calendars(acc, &["primary".to_string()])
        .unwrap();
    let n: i64 = store
        .conn
        .query_row("SELECT COUNT(*) FROM calendars", (), |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}
