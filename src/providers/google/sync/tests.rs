use super::*;

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
