//! PostgreSQL only: migrations under concurrency, the schema version both back-ends agree on,
//! and how values bind.

use super::db::{Value, params};
use super::*;

#[test]
fn both_back_ends_reach_the_same_schema_version() {
    let tmp = tempfile::tempdir().unwrap();
    let sqlite = Store::open_in(tmp.path()).unwrap();
    let version: i64 = sqlite
        .conn
        .as_sqlite()
        .unwrap()
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, migrations_pg::latest());
    let pg = Store::open_postgres(&testkit::pg::database(), None).unwrap();
    assert_eq!(migrations_pg::version(&pg.conn).unwrap(), version);
}

#[test]
fn instances_starting_together_apply_each_step_once() {
    let url = testkit::pg::database();
    let stores: Vec<Store> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| Store::open_postgres(&url, None)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    });
    let steps: Vec<i64> = stores[0]
        .conn
        .query_map(
            "SELECT version FROM cadenced_schema ORDER BY version",
            (),
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(steps, (1..=migrations_pg::latest()).collect::<Vec<_>>());
    // Every one of them works on the same tables.
    for (i, s) in stores.iter().enumerate() {
        s.ensure_account(&format!("a{i}"), "ics").unwrap();
    }
    assert_eq!(stores[0].account_overview().unwrap().len(), 4);
}

#[test]
fn a_database_newer_than_this_cadenced_is_refused() {
    let url = testkit::pg::database();
    let store = Store::open_postgres(&url, None).unwrap();
    store
        .conn
        .execute(
            "INSERT INTO cadenced_schema (version, applied_at) VALUES (?1, 'later')",
            params![migrations_pg::latest() + 1],
        )
        .unwrap();
    drop(store);
    let err = Store::open_postgres(&url, None).unwrap_err().to_string();
    assert!(err.contains("newer than this cadenced knows"), "{err}");
    assert!(err.starts_with(&format!("database {url}:")), "{err}");
}

#[test]
fn values_bind_to_what_the_server_expects_and_mismatches_are_refused() {
    let store = Store::open_postgres(&testkit::pg::database(), None).unwrap();
    let db = &store.conn;
    // A boolean parameter takes 0/1; a boolean column reads as 0/1.
    let b: bool = db
        .query_row("SELECT (?1::BOOLEAN) AND TRUE", params![true], |r| r.get(0))
        .unwrap();
    assert!(b);
    let n: i64 = db
        .query_row("SELECT ?1::INTEGER + 1", params![41_i64], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 42);
    // Text where an integer is expected is refused by the client, naming the types.
    let err = db
        .query_row("SELECT ?1::BIGINT", [Value::Text("7".into())], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot bind text"), "{err}");
    // A type the layer does not read is an error naming it, not a wrong value.
    let err = db
        .query_row("SELECT SUM(1::BIGINT)", (), |r| r.get::<_, i64>(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("numeric"), "{err}");
}

#[test]
fn a_connection_the_server_closed_is_replaced_between_transactions() {
    let url = testkit::pg::database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let store = Store::open_postgres(&url, None).unwrap();
    store.ensure_account("a", "ics").unwrap();
    testkit::pg::admin(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ));
    // The call that meets the closed connection may fail; the next ones work on a new one.
    let _ = store.ensure_account("b", "ics");
    let id = store.ensure_account("c", "ics").unwrap();
    assert!(id > 0);
    let names: Vec<String> = store
        .account_overview()
        .unwrap()
        .into_iter()
        .map(|a| a.name)
        .collect();
    assert!(
        names.contains(&"a".to_string()) && names.contains(&"c".to_string()),
        "{names:?}"
    );
}
