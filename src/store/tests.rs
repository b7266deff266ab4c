use super::*;
use crate::model::{EventStatus, EventTime};
use crate::tz::Zone;
use chrono::NaiveDate;

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
        sequence: 0,
        updated: None,
        etag: None,
    }
}

#[test]
fn creates_private_state_dir_and_database() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let store = Store::open_in(&dir).unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(store.path()), 0o600);
    let journal: String = store
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
    let fk: i64 = store
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn replace_round_trips_events_and_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(tmp.path()).unwrap();
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
fn apply_changes_upserts_and_deletes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open_in(tmp.path()).unwrap();
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
fn reopening_keeps_data() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut store = Store::open_in(tmp.path()).unwrap();
        let acc = store.ensure_account("feed", "ics").unwrap();
        store
            .replace_account_events(acc, "f", &[event("a")], None)
            .unwrap();
    }
    let store = Store::open_in(tmp.path()).unwrap();
    assert_eq!(store.event_counts().unwrap(), vec![("feed".to_string(), 1)]);
}

#[tokio::test]
async fn async_store_runs_off_the_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let store = AsyncStore::new(Store::open_in(tmp.path()).unwrap());
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
