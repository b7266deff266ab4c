//! The Google sync pass end to end, moved out of the provider (which no longer sees the store):
//! a loopback Google (`providers::google::testserver`), the real SQLite store and
//! [`super::sync_google`]: pages and cursor together, 410 → one full resync, retries, 401 refresh,
//! `invalid_grant` marking the account.

use crate::config::{GoogleAccount, GoogleAuth};
use crate::providers::google::auth::{Tokens, save_tokens, system_clock, token_path};
use crate::providers::google::testserver::{self, Canned, json};
use crate::store::{AsyncStore, Store};

fn page(items: &[serde_json::Value], next_page: Option<&str>, next_sync: Option<&str>) -> Canned {
    let mut v = serde_json::json!({"kind": "calendar#events", "items": items});
    if let Some(p) = next_page {
        v["nextPageToken"] = p.into();
    }
    if let Some(s) = next_sync {
        v["nextSyncToken"] = s.into();
    }
    json(200, &v.to_string())
}

fn ev(id: &str, summary: &str) -> serde_json::Value {
    serde_json::json!({
        "id": id, "status": "confirmed", "summary": summary, "iCalUID": format!("{id}@google.com"),
        "start": {"dateTime": "2026-01-05T10:00:00+09:00", "timeZone": "Asia/Tokyo"},
        "end": {"dateTime": "2026-01-05T10:30:00+09:00", "timeZone": "Asia/Tokyo"},
        "eventType": "default"
    })
}

struct Fixture {
    _tmp: tempfile::TempDir,
    store: AsyncStore,
    source: crate::sync::GoogleSource,
}

fn fixture(base: &str) -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    save_tokens(
        &token_path(tmp.path(), "work"),
        &Tokens {
            refresh_token: Some("R".into()),
            access_token: Some("AT".into()),
            expires_at: Some(chrono::Utc::now() + chrono::Duration::hours(1)),
            scope: None,
        },
    )
    .unwrap();
    let store = AsyncStore::new(Store::open_in(&tmp.path().join("state")).unwrap());
    let google = GoogleAccount {
        directory: false,
        calendars: vec!["primary".into()],
        auth: GoogleAuth::OAuth {
            client_id: "cid".into(),
            client_secret: None,
        },
        api_base: base.into(),
        token_url: format!("{base}/token"),
        auth_url: GoogleAccount::DEFAULT_AUTH_URL.into(),
    };
    Fixture {
        source: crate::sync::GoogleSource {
            google,
            state_dir: tmp.path().to_path_buf(),
        },
        _tmp: tmp,
        store,
    }
}

async fn summaries(store: &AsyncStore) -> Vec<String> {
    let mut v: Vec<String> = store
        .call(|s| s.load_events(Some("work")))
        .await
        .unwrap()
        .into_iter()
        .flat_map(|c| {
            c.events
                .into_iter()
                .map(|e| format!("{}={}", e.event_id, e.summary))
        })
        .collect();
    v.sort();
    v
}

async fn sync(f: &Fixture, full: bool) -> Result<crate::sync::SyncSummary, crate::sync::SyncError> {
    crate::sync::sync_google(
        &f.store,
        &reqwest::Client::new(),
        "work",
        &f.source,
        full,
        chrono::Utc::now(),
        system_clock(),
    )
    .await
}

#[tokio::test]
async fn full_then_incremental_then_410_resync() {
    let gone = json(
        410,
        include_str!("../providers/google/testdata/error-410-fullSyncRequired.json"),
    );
    let server = testserver::serve(vec![
        // Full sync, two pages (the first with a tombstone of something never stored).
        page(
            &[
                ev("a", "A"),
                ev("b", "B"),
                serde_json::json!({"id": "zz", "status": "cancelled"}),
            ],
            Some("p2"),
            None,
        ),
        page(&[ev("c", "C")], None, Some("s1")),
        // Idle incremental poll: one request, nothing changed.
        page(&[], None, Some("s2")),
        // Incremental with a change and a deletion.
        page(
            &[
                ev("a", "A2"),
                serde_json::json!({"id": "b", "status": "cancelled"}),
            ],
            None,
            Some("s3"),
        ),
        // The token expires: 410, then one clean full sync where `c` is gone and `d` is new.
        gone,
        page(&[ev("a", "A3")], Some("q2"), None),
        page(&[ev("d", "D")], None, Some("s4")),
    ])
    .await;
    let f = fixture(&server.base);

    let s = sync(&f, false).await.unwrap();
    assert_eq!(s.events, 3);
    assert_eq!(summaries(&f.store).await, ["a=A", "b=B", "c=C"]);
    assert_eq!(server.seen.lock().unwrap().len(), 2);

    sync(&f, false).await.unwrap();
    assert_eq!(
        server.seen.lock().unwrap().len(),
        3,
        "an idle poll is one request"
    );

    sync(&f, false).await.unwrap();
    assert_eq!(summaries(&f.store).await, ["a=A2", "c=C"]);

    sync(&f, false).await.unwrap();
    assert_eq!(summaries(&f.store).await, ["a=A3", "d=D"]);

    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 7);
    let line = |i: usize| seen[i].request_line.clone();
    assert!(line(0).starts_with("GET /calendar/v3/calendars/primary/events?"));
    for q in [
        "singleEvents=false",
        "showDeleted=true",
        "maxResults=2500",
        "fields=",
    ] {
        assert!(line(0).contains(q), "{}", line(0));
    }
    assert!(!line(0).contains("syncToken"));
    assert!(line(1).contains("pageToken=p2") && !line(1).contains("syncToken"));
    assert!(line(2).contains("syncToken=s1"));
    assert!(line(3).contains("syncToken=s2"));
    assert!(line(4).contains("syncToken=s3"));
    assert!(!line(5).contains("syncToken") && !line(6).contains("syncToken"));
    assert!(line(6).contains("pageToken=q2"));
    assert!(
        seen[0]
            .headers
            .to_lowercase()
            .contains("authorization: bearer at")
    );
    assert!(
        seen[0]
            .headers
            .to_lowercase()
            .contains("accept-encoding: gzip")
    );
}

#[tokio::test]
async fn rate_limits_are_retried_and_401_refreshes_once() {
    let mut limited = json(
        403,
        include_str!("../providers/google/testdata/error-403-rateLimitExceeded.json"),
    );
    limited.headers.push(("Retry-After".into(), "0".into()));
    let mut too_many = json(
        429,
        include_str!("../providers/google/testdata/error-429-rateLimitExceeded.json"),
    );
    too_many.headers.push(("Retry-After".into(), "0".into()));
    let server = testserver::serve(vec![
        limited,
        too_many,
        json(
            401,
            r#"{"error":{"code":401,"message":"Invalid Credentials"}}"#,
        ),
        json(200, r#"{"access_token":"NEW","expires_in":3600}"#),
        page(&[ev("a", "A")], None, Some("s1")),
    ])
    .await;
    let f = fixture(&server.base);
    sync(&f, false).await.unwrap();
    assert_eq!(summaries(&f.store).await, ["a=A"]);
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5);
    assert!(seen[3].request_line.starts_with("POST /token"));
    assert!(
        seen[4]
            .headers
            .to_lowercase()
            .contains("authorization: bearer new")
    );
}

#[tokio::test]
async fn other_errors_carry_googles_message_and_invalid_grant_marks_the_account() {
    let server = testserver::serve(vec![
        json(
            404,
            r#"{"error":{"errors":[{"domain":"global","reason":"notFound","message":"Not Found"}],"code":404,"message":"Not Found"}}"#,
        ),
        json(401, r#"{"error":{"code":401,"message":"Invalid Credentials"}}"#),
        json(400, include_str!("../providers/google/testdata/token-error-invalid-grant.json")),
    ])
    .await;
    let f = fixture(&server.base);
    let e = sync(&f, false).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "account work: calendar primary: Google answered HTTP 404: Not Found (notFound)"
    );
    let e = sync(&f, false).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "account work: the refresh token was revoked or expired; run `cadenced auth work`"
    );
    // Marked: the next sync makes no request at all.
    let before = server.seen.lock().unwrap().len();
    assert!(sync(&f, false).await.is_err());
    assert_eq!(server.seen.lock().unwrap().len(), before);
    assert!(!e.to_string().contains("AT") && !e.to_string().contains("Bearer"));
}
