use super::*;
use crate::config::GoogleAuth;
use crate::providers::google::auth::{Tokens, save_tokens, system_clock, token_path};
use crate::providers::google::testserver::{self, Canned, json};
use crate::store::Store;

#[test]
fn retry_classification() {
    let body = |name: &str| match name {
        "403" => include_str!("../testdata/error-403-rateLimitExceeded.json").as_bytes(),
        "429" => include_str!("../testdata/error-429-rateLimitExceeded.json").as_bytes(),
        _ => include_str!("../testdata/error-410-fullSyncRequired.json").as_bytes(),
    };
    assert!(google_retryable(StatusCode::FORBIDDEN, body("403")));
    assert!(google_retryable(StatusCode::TOO_MANY_REQUESTS, body("429")));
    assert!(google_retryable(StatusCode::TOO_MANY_REQUESTS, b""));
    assert!(google_retryable(StatusCode::SERVICE_UNAVAILABLE, b"<html>"));
    let user = br#"{"error":{"errors":[{"domain":"usageLimits","reason":"userRateLimitExceeded","message":"User Rate Limit Exceeded"}],"code":403,"message":"User Rate Limit Exceeded"}}"#;
    assert!(google_retryable(StatusCode::FORBIDDEN, user));
    let quota = br#"{"error":{"errors":[{"domain":"usageLimits","reason":"quotaExceeded"}],"code":403,"message":"Calendar usage limits exceeded."}}"#;
    assert!(!google_retryable(StatusCode::FORBIDDEN, quota));
    let perm = br#"{"error":{"code":403,"message":"Request had insufficient authentication scopes.","status":"PERMISSION_DENIED","errors":[{"domain":"global","reason":"insufficientPermissions"}]}}"#;
    assert!(!google_retryable(StatusCode::FORBIDDEN, perm));
    assert!(!google_retryable(StatusCode::FORBIDDEN, b"not json"));
    assert!(!google_retryable(StatusCode::GONE, body("410")));
    assert!(!google_retryable(StatusCode::NOT_FOUND, b"{}"));
}

#[test]
fn calendar_ids_are_one_encoded_segment() {
    let u = events_url(
        "https://www.googleapis.com/",
        "team#1@group.calendar.google.com",
    )
    .unwrap();
    assert_eq!(
        u.as_str(),
        "https://www.googleapis.com/calendar/v3/calendars/team%231@group.calendar.google.com/events"
    );
}

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
        include_str!("../testdata/error-410-fullSyncRequired.json"),
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
        include_str!("../testdata/error-403-rateLimitExceeded.json"),
    );
    limited.headers.push(("Retry-After".into(), "0".into()));
    let mut too_many = json(
        429,
        include_str!("../testdata/error-429-rateLimitExceeded.json"),
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
        json(400, include_str!("../testdata/token-error-invalid-grant.json")),
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

/// A page decodes in one pass; one malformed item makes it fall back to item-by-item decoding,
/// where only that item is lost, with the same mapping as the one-pass path.
#[test]
fn pages_decode_in_one_pass_and_a_bad_item_falls_back() {
    let good = r#"{"id":"a1","status":"confirmed","start":{"dateTime":"2025-03-04T10:00:00Z"},"end":{"dateTime":"2025-03-04T10:30:00Z"}}"#;
    let tomb = r#"{"id":"b2","status":"cancelled"}"#;
    let bad = r#"{"id":"c3","start":{"dateTime":42}}"#;
    let map_all = |page: &Page| {
        let mut out = Vec::new();
        page.map_items("primary", &crate::limits::WarningCap::default(), |r| {
            out.push(r)
        });
        out
    };

    let body = format!(r#"{{"items":[{good},{tomb}],"nextPageToken":"p2"}}"#);
    let fast = decode_page(body.as_bytes()).unwrap();
    assert!(matches!(fast.items, Items::Typed(_)));
    assert_eq!(fast.next_page_token.as_deref(), Some("p2"));
    assert_eq!(fast.next_sync_token, None);

    let body = format!(r#"{{"items":[{good},{bad},{tomb}],"nextSyncToken":"s1"}}"#);
    let slow = decode_page(body.as_bytes()).unwrap();
    assert!(matches!(slow.items, Items::Raw(_)));
    assert_eq!(slow.next_sync_token.as_deref(), Some("s1"));
    let (f, s) = (map_all(&fast), map_all(&slow));
    assert_eq!(s.len(), 3);
    assert_eq!(f[0], s[0]);
    assert!(s[1].is_err(), "{:?}", s[1]);
    assert_eq!(f[1], s[2]);
    assert_eq!(f[1], Ok(Mapped::Delete("b2".into())));

    assert!(matches!(
        decode_page(b"<html>"),
        Err(CalendarError::Decode(_))
    ));
}
