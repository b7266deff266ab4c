use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;

fn t(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let tmp = tempfile::tempdir().unwrap();
    let store = crate::store::testing::open_in(tmp.path()).unwrap();
    (tmp, store)
}

fn gap(report: &str, last_held: DateTime<Utc>) -> Finding {
    Finding {
        kind: "gap".into(),
        report: report.into(),
        episode: last_held.to_rfc3339(),
        since: Some(last_held),
        data: r#"{"severity":"warning"}"#.into(),
    }
}

fn uneven(report: &str) -> Finding {
    Finding {
        kind: "uneven".into(),
        report: report.into(),
        episode: String::new(),
        since: None,
        data: "{}".into(),
    }
}

fn ids(states: &[AlertState]) -> Vec<&str> {
    states.iter().map(|s| s.id.as_str()).collect()
}

fn open_ids(store: &Store) -> Vec<String> {
    store
        .open_alerts()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect()
}

fn count(store: &Store, filter: &str) -> i64 {
    store
        .conn
        .query_row(
            &format!("SELECT COUNT(*) FROM alerts WHERE {filter}"),
            (),
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn an_alert_keeps_its_id_while_its_condition_lasts_pg() {
    crate::store::testing::on_pg(an_alert_keeps_its_id_while_its_condition_lasts);
}

#[test]
fn an_alert_keeps_its_id_while_its_condition_lasts() {
    let (_tmp, mut store) = store();
    let findings = [gap("bob@example.com", t(1)), uneven("carol@example.com")];
    let first = store.reconcile_alerts(&findings, t(10)).unwrap();
    let second = store.reconcile_alerts(&findings, t(11)).unwrap();
    assert_eq!(ids(&first), ids(&second));
    assert_ne!(first[0].id, first[1].id);
    assert_eq!(first[0].id.len(), 12);
    assert_eq!(second[0].since, t(1));
    assert_eq!(second[0].first_seen, t(10));
    assert_eq!(second[1].since, t(10));
    assert!(!second[0].acked && second[0].snoozed_until.is_none());
    let open = store.open_alerts().unwrap();
    assert_eq!(open.len(), 2);
    // Sorted by report.
    assert_eq!(open[0].report, "bob@example.com");
    assert_eq!(open[0].last_seen, t(11));
    assert_eq!(open[0].data, r#"{"severity":"warning"}"#);
}

#[test]
fn a_new_episode_is_a_new_alert_and_the_old_one_resolves_pg() {
    crate::store::testing::on_pg(a_new_episode_is_a_new_alert_and_the_old_one_resolves);
}

#[test]
fn a_new_episode_is_a_new_alert_and_the_old_one_resolves() {
    let (_tmp, mut store) = store();
    let a = store
        .reconcile_alerts(&[gap("bob@example.com", t(1))], t(10))
        .unwrap();
    // A session was held on the 12th and a new gap opened after it.
    let b = store
        .reconcile_alerts(&[gap("bob@example.com", t(12))], t(25))
        .unwrap();
    assert_ne!(a[0].id, b[0].id);
    assert_eq!(b[0].since, t(12));
    assert_eq!(b[0].first_seen, t(25));
    assert_eq!(open_ids(&store), [b[0].id.clone()]);
    assert_eq!(count(&store, "resolved_at = '2026-11-25T00:00:00Z'"), 1);
}

#[test]
fn an_open_ended_alert_keeps_its_start_and_a_later_episode_gets_a_new_id_pg() {
    crate::store::testing::on_pg(
        an_open_ended_alert_keeps_its_start_and_a_later_episode_gets_a_new_id,
    );
}

#[test]
fn an_open_ended_alert_keeps_its_start_and_a_later_episode_gets_a_new_id() {
    let (_tmp, mut store) = store();
    let a = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(1))
        .unwrap();
    let b = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(2))
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(b[0].since, t(1));
    // The condition ends, then comes back.
    assert!(store.reconcile_alerts(&[], t(3)).unwrap().is_empty());
    assert!(open_ids(&store).is_empty());
    let c = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(4))
        .unwrap();
    assert_ne!(c[0].id, a[0].id);
    assert_eq!((c[0].since, c[0].first_seen), (t(4), t(4)));
    assert_eq!(count(&store, "TRUE"), 2);
}

#[test]
fn the_same_episode_coming_back_reopens_its_alert_pg() {
    crate::store::testing::on_pg(the_same_episode_coming_back_reopens_its_alert);
}

#[test]
fn the_same_episode_coming_back_reopens_its_alert() {
    let (_tmp, mut store) = store();
    let a = store
        .reconcile_alerts(&[gap("bob@example.com", t(1))], t(10))
        .unwrap();
    assert_eq!(store.ack_alert(&a[0].id, t(10)).unwrap(), AckOutcome::Done);
    store.reconcile_alerts(&[], t(11)).unwrap();
    assert_eq!(
        store.ack_alert(&a[0].id, t(11)).unwrap(),
        AckOutcome::AlreadyResolved
    );
    // The session that closed the gap was cancelled after all: the same gap again.
    let b = store
        .reconcile_alerts(&[gap("bob@example.com", t(1))], t(12))
        .unwrap();
    assert_eq!(b[0].id, a[0].id);
    assert_eq!(b[0].first_seen, t(10));
    // It is the episode the manager already acknowledged.
    assert!(b[0].acked);
    assert_eq!(count(&store, "TRUE"), 1);
    assert_eq!(open_ids(&store), [a[0].id.clone()]);
}

#[test]
fn an_acknowledgement_lasts_for_its_episode_only_pg() {
    crate::store::testing::on_pg(an_acknowledgement_lasts_for_its_episode_only);
}

#[test]
fn an_acknowledgement_lasts_for_its_episode_only() {
    let (_tmp, mut store) = store();
    let a = store
        .reconcile_alerts(
            &[gap("bob@example.com", t(1)), uneven("carol@example.com")],
            t(10),
        )
        .unwrap();
    assert_eq!(store.ack_alert(&a[0].id, t(10)).unwrap(), AckOutcome::Done);
    assert_eq!(store.ack_alert(&a[1].id, t(10)).unwrap(), AckOutcome::Done);
    // Acknowledging again keeps the first time.
    assert_eq!(store.ack_alert(&a[0].id, t(11)).unwrap(), AckOutcome::Done);
    let b = store
        .reconcile_alerts(
            &[gap("bob@example.com", t(1)), uneven("carol@example.com")],
            t(12),
        )
        .unwrap();
    assert!(b[0].acked && b[1].acked);
    assert_eq!(store.open_alerts().unwrap()[0].acked_at, Some(t(10)));
    // A new gap episode is not acknowledged.
    let c = store
        .reconcile_alerts(&[gap("bob@example.com", t(15))], t(30))
        .unwrap();
    assert!(!c[0].acked);
    assert_eq!(
        store.ack_alert("ffffffffffff", t(30)).unwrap(),
        AckOutcome::NotFound
    );
}

#[test]
fn a_snooze_is_kept_until_its_date_and_the_caller_compares_pg() {
    crate::store::testing::on_pg(a_snooze_is_kept_until_its_date_and_the_caller_compares);
}

#[test]
fn a_snooze_is_kept_until_its_date_and_the_caller_compares() {
    let (_tmp, mut store) = store();
    let a = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(1))
        .unwrap();
    assert_eq!(
        store.snooze_alert(&a[0].id, t(8), t(1)).unwrap(),
        AckOutcome::Done
    );
    let b = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(2))
        .unwrap();
    assert_eq!(b[0].snoozed_until, Some(t(8)));
    assert!(!b[0].acked);
    let later = store
        .reconcile_alerts(&[uneven("carol@example.com")], t(9))
        .unwrap();
    assert!(later[0].snoozed_until.is_some_and(|u| u <= t(9)));
    // A new snooze replaces the old one.
    store.snooze_alert(&a[0].id, t(20), t(9)).unwrap();
    assert_eq!(store.open_alerts().unwrap()[0].snoozed_until, Some(t(20)));
    assert_eq!(
        store.snooze_alert("nope", t(20), t(9)).unwrap(),
        AckOutcome::NotFound
    );
    store.reconcile_alerts(&[], t(10)).unwrap();
    assert_eq!(
        store.snooze_alert(&a[0].id, t(20), t(10)).unwrap(),
        AckOutcome::AlreadyResolved
    );
}

#[test]
fn two_fresh_stores_give_the_same_ids_pg() {
    crate::store::testing::on_pg(two_fresh_stores_give_the_same_ids);
}

#[test]
fn two_fresh_stores_give_the_same_ids() {
    let findings = [
        gap("bob@example.com", t(1)),
        uneven("carol@example.com"),
        Finding {
            kind: "skipped".into(),
            report: "Bob@Example.com".into(),
            episode: "work/primary/s1_20261103T010000Z".into(),
            since: Some(t(3) + Duration::hours(1)),
            data: "{}".into(),
        },
    ];
    let (_t1, mut one) = store();
    let (_t2, mut two) = store();
    let a = one.reconcile_alerts(&findings, t(10)).unwrap();
    let mut reversed = findings.clone();
    reversed.reverse();
    let mut b = two.reconcile_alerts(&reversed, t(10)).unwrap();
    b.reverse();
    assert_eq!(a, b);
    // The report is compared lower-cased.
    assert_eq!(one.open_alerts().unwrap()[1].report, "bob@example.com");
}

#[test]
fn duplicate_findings_share_one_alert_pg() {
    crate::store::testing::on_pg(duplicate_findings_share_one_alert);
}

#[test]
fn duplicate_findings_share_one_alert() {
    let (_tmp, mut store) = store();
    let mut second = gap("bob@example.com", t(1));
    second.data = r#"{"n":2}"#.into();
    let a = store
        .reconcile_alerts(&[gap("bob@example.com", t(1)), second], t(10))
        .unwrap();
    assert_eq!(a[0], a[1]);
    let open = store.open_alerts().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].data, r#"{"n":2}"#);
}

#[test]
fn a_failed_reconcile_changes_nothing_pg() {
    crate::store::testing::on_pg(a_failed_reconcile_changes_nothing);
}

#[test]
fn a_failed_reconcile_changes_nothing() {
    let (_tmp, mut store) = store();
    store
        .reconcile_alerts(
            &[gap("bob@example.com", t(1)), uneven("carol@example.com")],
            t(10),
        )
        .unwrap();
    let before = store.open_alerts().unwrap();
    let mut bad = uneven("dave@example.com");
    bad.data = "not json".into();
    // Continues bob's gap, would start a new alert and resolve carol's, then fails.
    let err = store
        .reconcile_alerts(
            &[
                gap("bob@example.com", t(1)),
                gap("erin@example.com", t(2)),
                bad,
            ],
            t(11),
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::Database { .. }), "{err}");
    assert_eq!(store.open_alerts().unwrap(), before);
    assert_eq!(count(&store, "TRUE"), 2);
    assert_eq!(count(&store, "resolved_at IS NOT NULL"), 0);
}

#[test]
fn a_clashing_id_is_salted_pg() {
    crate::store::testing::on_pg(a_clashing_id_is_salted);
}

#[test]
fn a_clashing_id_is_salted() {
    let (_tmp, mut store) = store();
    let finding = gap("bob@example.com", t(1));
    let taken = alerts::make_id(&format!("gap|bob@example.com|{}", finding.episode), 0);
    // Another alert already holds the id this finding would get.
    store
        .conn
        .execute(
            "INSERT INTO alerts (id, kind, report, episode, since, first_seen, last_seen, data)
             VALUES (?1, 'irregular', 'zoe@example.com', '', 'x', 'x', 'x', '{}')",
            [&taken],
        )
        .unwrap();
    store
        .conn
        .execute("UPDATE alerts SET resolved_at = 'x'", ())
        .unwrap();
    let a = store.reconcile_alerts(&[finding], t(10)).unwrap();
    assert_ne!(a[0].id, taken);
    assert_eq!(count(&store, "TRUE"), 2);
}
