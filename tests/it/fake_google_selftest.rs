//! Self-tests of the Google fake (`tests/fake_google/`), driven over loopback HTTP with reqwest.
//! They check the fake against docs/google-api.md and the real sample bodies, not against any client.

use testkit::fake_google;

use std::collections::HashSet;
use std::io::Read as _;
use std::time::{Duration, Instant};

use base64::Engine as _;
use fake_google::{
    CLIENT_ID, CLIENT_SECRET, DEFAULT_ACCOUNT, Endpoint, FakeGoogle, Fault, FaultKind,
    GenerateSpec, REFRESH_TOKEN, samples,
};
use serde_json::{Value, json};

const CAL: &str = DEFAULT_ACCOUNT;

struct Harness {
    g: FakeGoogle,
    http: reqwest::Client,
    token: String,
}

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Harness {
    async fn new() -> Harness {
        Harness::with(FakeGoogle::start()).await
    }

    async fn with(g: FakeGoogle) -> Harness {
        let http = reqwest::Client::new();
        let mut h = Harness {
            g,
            http,
            token: String::new(),
        };
        let r = h
            .token_request(&[
                ("grant_type", "refresh_token"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("refresh_token", REFRESH_TOKEN),
            ])
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        h.token = r.body["access_token"].as_str().unwrap().to_string();
        h
    }

    async fn token_request(&self, form: &[(&str, &str)]) -> Resp {
        let r = self
            .http
            .post(self.g.token_url())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(form))
            .send()
            .await
            .unwrap();
        resp(r).await
    }

    async fn get(&self, path_and_query: &str) -> Resp {
        let r = self
            .http
            .get(format!("{}{path_and_query}", self.g.url()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        resp(r).await
    }

    async fn list(&self, query: &str) -> Resp {
        self.get(&format!("/calendar/v3/calendars/primary/events?{query}"))
            .await
    }

    /// Follows nextPageToken to the end; returns (pages, final body).
    async fn list_all(&self, query: &str) -> (Vec<Value>, Value) {
        let mut pages = Vec::new();
        let mut q = query.to_string();
        loop {
            let r = self.list(&q).await;
            assert_eq!(r.status, 200, "{}", r.body);
            pages.push(r.body.clone());
            match r.body["nextPageToken"].as_str() {
                Some(pt) => q = format!("{query}&pageToken={}", enc(pt)),
                None => return (pages, r.body),
            }
        }
    }

    async fn patch(&self, id: &str, query: &str, if_match: Option<&str>, body: Value) -> Resp {
        let mut req = self
            .http
            .patch(format!(
                "{}/calendar/v3/calendars/primary/events/{id}?{query}",
                self.g.url()
            ))
            .bearer_auth(&self.token)
            .json(&body);
        if let Some(tag) = if_match {
            req = req.header("If-Match", tag);
        }
        resp(req.send().await.unwrap()).await
    }
}

async fn resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Resp {
        status,
        headers,
        body,
    }
}

fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        ser.append_pair(k, v);
    }
    ser.finish()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn items(pages: &[Value]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|p| p["items"].as_array().unwrap().clone())
        .collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

fn single(summary: &str, day: u32) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": format!("2026-03-{day:02}T10:00:00-05:00"), "timeZone": "America/Chicago"},
        "end": {"dateTime": format!("2026-03-{day:02}T10:30:00-05:00"), "timeZone": "America/Chicago"},
    })
}

fn weekly(summary: &str) -> Value {
    json!({
        "summary": summary,
        "start": {"dateTime": "2026-03-02T09:00:00-06:00", "timeZone": "America/Chicago"},
        "end": {"dateTime": "2026-03-02T09:30:00-06:00", "timeZone": "America/Chicago"},
        "recurrence": ["RRULE:FREQ=WEEKLY;BYDAY=MO"],
        "attendees": [
            {"email": CAL, "self": true, "organizer": true, "responseStatus": "accepted"},
            {"email": "erin@example.com", "responseStatus": "accepted"}
        ],
    })
}

// ----- OAuth ---------------------------------------------------------------------------------

#[tokio::test]
async fn refresh_returns_access_token_and_no_new_refresh_token() {
    let h = Harness::new().await;
    let r = h
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body["expires_in"].as_u64().unwrap() > 3000);
    assert!(
        r.body["scope"]
            .as_str()
            .unwrap()
            .contains("https://www.googleapis.com/auth/calendar.events")
    );
    assert!(r.body.get("refresh_token").is_none());
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
}

#[tokio::test]
async fn unknown_or_revoked_refresh_token_is_invalid_grant() {
    let h = Harness::new().await;
    let form = |rt: &'static str| {
        [
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", rt),
        ]
    };
    let r = h.token_request(&form("1//nope")).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body,
        json!({"error": "invalid_grant", "error_description": "Bad Request"}),
        "the real captured body (SAMPLE:token-error-invalid-grant.json)"
    );

    // Revoking kills the refresh token and the access tokens minted from it.
    h.g.revoke_refresh_token(REFRESH_TOKEN);
    let r = h.token_request(&form(REFRESH_TOKEN)).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "invalid_grant");
    assert_eq!(h.list("").await.status, 401);

    // The other (unverified) wording on demand.
    h.g.configure(|o| o.invalid_grant_description = "Token has been expired or revoked.".into());
    let r = h.token_request(&form(REFRESH_TOKEN)).await;
    assert_eq!(
        r.body["error_description"],
        "Token has been expired or revoked."
    );
}

#[tokio::test]
async fn token_endpoint_rejects_bad_client_and_grant_type() {
    let h = Harness::new().await;
    let r = h
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", "wrong"),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    // client_secret_basic works as well as form fields.
    let r = resp(
        h.http
            .post(h.g.token_url())
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form_body(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", REFRESH_TOKEN),
            ]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = h
        .token_request(&[("grant_type", "password"), ("client_id", CLIENT_ID)])
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"], "unsupported_grant_type");
    // Not form-encoded.
    let r = resp(
        h.http
            .post(h.g.token_url())
            .json(&json!({"grant_type": "refresh_token"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
}

fn jwt(claims: Value) -> String {
    let e = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!(
        "{}.{}.c2lnbmF0dXJl",
        e(&json!({"alg": "RS256", "typ": "JWT"})),
        e(&claims)
    )
}

#[tokio::test]
async fn jwt_bearer_grant_checks_claims() {
    let h = Harness::new().await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": "sa@project.iam.gserviceaccount.com",
        "scope": "https://www.googleapis.com/auth/calendar.events",
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now, "exp": now + 3600, "sub": CAL,
    });
    let ok = jwt(claims.clone());
    let r = h
        .token_request(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &ok),
        ])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["token_type"], "Bearer");
    assert!(r.body.get("refresh_token").is_none());
    // The token works for the impersonated user.
    let tok = r.body["access_token"].as_str().unwrap();
    let list = h
        .http
        .get(format!(
            "{}/calendar/v3/calendars/primary/events",
            h.g.url()
        ))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200);

    let mut long = claims.clone();
    long["exp"] = json!(now + 3601);
    let mut missing = claims.clone();
    missing.as_object_mut().unwrap().remove("scope");
    for bad in [jwt(long), jwt(missing), "not.a-jwt".to_string()] {
        let r = h
            .token_request(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &bad),
            ])
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(r.body["error"].is_string());
    }
}

#[tokio::test]
async fn authorization_code_with_pkce_s256() {
    let h = Harness::new().await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = fake_google::s256_challenge(verifier);
    assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"); // RFC 7636 App. B
    let redirect = "http://127.0.0.1:4567";
    h.g.register_auth_code(
        "4/code1",
        CAL,
        redirect,
        Some((&challenge, "S256")),
        &["calendar.events"],
    );
    let exchange = |code: &'static str, v: &'static str| {
        [
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("code", code),
            ("code_verifier", v),
            ("redirect_uri", redirect),
        ]
    };
    let r = h
        .token_request(&exchange("4/code1", "wrong-verifier"))
        .await;
    assert_eq!(
        (r.status, r.body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let r = h.token_request(&exchange("4/code1", verifier)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sample = samples::json(samples::TOKEN_RESPONSE_AUTHORIZATION_CODE);
    for k in sample.as_object().unwrap().keys() {
        assert!(r.body.get(k).is_some(), "missing {k}");
    }
    // Codes are single-use.
    let r = h.token_request(&exchange("4/code1", verifier)).await;
    assert_eq!(r.status, 400);

    // The authorize endpoint auto-consents and redirects with code and state.
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = no_redirect
        .get(format!(
            "{}?{}",
            h.g.auth_url(),
            form_body(&[
                ("client_id", CLIENT_ID),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "https://www.googleapis.com/auth/calendar.events"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
                ("state", "xyz"),
            ])
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let (base, query) = loc.split_once('?').unwrap();
    assert_eq!(base, redirect);
    let q: std::collections::HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(q["state"], "xyz");
    let r = h
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
            ("code", &q["code"]),
            ("code_verifier", verifier),
            ("redirect_uri", redirect),
        ])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["refresh_token"].is_string());
}

// ----- bearer checks -------------------------------------------------------------------------

#[tokio::test]
async fn calendar_requests_need_a_live_bearer_token() {
    let h = Harness::new().await;
    let r = resp(
        h.http
            .get(format!(
                "{}/calendar/v3/calendars/primary/events",
                h.g.url()
            ))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(r.body["error"]["errors"][0]["reason"], "authError");
    assert_eq!(r.body["error"]["errors"][0]["location"], "Authorization");
    assert_eq!(r.body["error"]["code"], 401);

    assert_eq!(h.list("").await.status, 200);
    h.g.expire_access_tokens();
    assert_eq!(h.list("").await.status, 401);

    // Short-lived tokens expire by themselves.
    let g = FakeGoogle::start();
    g.configure(|o| o.access_token_lifetime_secs = 0);
    let h2 = Harness::with(g).await;
    assert_eq!(h2.list("").await.status, 401);
}

#[tokio::test]
async fn scope_is_checked_per_method() {
    let h = Harness::new().await;
    h.g.add_refresh_token(CAL, "1//events-only", &["calendar.events.readonly"]);
    let r = h
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", "1//events-only"),
        ])
        .await;
    let h = Harness {
        token: r.body["access_token"].as_str().unwrap().to_string(),
        ..h
    };
    assert_eq!(h.list("").await.status, 200);
    // calendar.events* does not cover calendarList (§1.5), nor does readonly cover patch.
    let r = h.get("/calendar/v3/users/me/calendarList").await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.body["error"]["errors"][0]["reason"],
        "insufficientPermissions"
    );
    let id = h.g.insert_event(CAL, single("x", 3))["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        h.patch(&id, "", None, json!({"summary": "y"})).await.status,
        403
    );
}

// ----- calendarList --------------------------------------------------------------------------

#[tokio::test]
async fn calendar_list_lists_the_accounts_calendars() {
    let h = Harness::new().await;
    h.g.add_calendar(
        CAL,
        fake_google::CalendarSpec {
            id: "team#x@group.calendar.google.com".into(),
            summary: "Team".into(),
            access_role: "reader".into(),
            ..Default::default()
        },
    );
    let r = h.get("/calendar/v3/users/me/calendarList").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["kind"], "calendar#calendarList");
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], CAL);
    assert_eq!(items[0]["primary"], true);
    assert_eq!(items[0]["accessRole"], "owner");
    assert!(items[1].get("primary").is_none());
    assert!(r.body["nextSyncToken"].is_string());
    assert!(r.body.get("nextPageToken").is_none());
    // Same keys as the real sample's entries.
    let sample = samples::json(samples::CALENDAR_LIST);
    for k in sample["items"][0].as_object().unwrap().keys() {
        if k != "location" {
            assert!(items[0].get(k).is_some(), "calendarList entry lacks {k}");
        }
    }
    // Paging and minAccessRole.
    let r = h
        .get("/calendar/v3/users/me/calendarList?maxResults=1")
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    assert!(r.body["nextPageToken"].is_string() && r.body.get("nextSyncToken").is_none());
    let r = h
        .get("/calendar/v3/users/me/calendarList?minAccessRole=owner")
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);

    // The URL-encoded id of the shared calendar works in events.list.
    let r = h
        .get("/calendar/v3/calendars/team%23x%40group.calendar.google.com/events")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["summary"], "Team");
    assert_eq!(
        h.get("/calendar/v3/calendars/nope%40x/events").await.status,
        404
    );
}

// ----- events.list: full sync and paging -------------------------------------------------------

#[tokio::test]
async fn full_sync_pages_with_sync_token_only_on_the_last_page() {
    let h = Harness::new().await;
    let mut want = HashSet::new();
    for d in 1..=7 {
        want.insert(
            h.g.insert_event(CAL, single("s", d))["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let (pages, last) = h.list_all("maxResults=3&singleEvents=false").await;
    assert_eq!(pages.len(), 3);
    for p in &pages[..2] {
        assert_eq!(p["items"].as_array().unwrap().len(), 3);
        assert!(p["nextPageToken"].is_string());
        assert!(p.get("nextSyncToken").is_none());
    }
    assert!(last.get("nextPageToken").is_none());
    assert!(last["nextSyncToken"].is_string());
    let got = ids(&items(&pages));
    assert_eq!(got.len(), 7);
    assert_eq!(got.iter().cloned().collect::<HashSet<_>>(), want);
    assert_eq!(last["kind"], "calendar#events");
    assert_eq!(last["timeZone"], "America/Chicago");
    assert_eq!(last["accessRole"], "owner");

    // maxResults: capped at 2500 (no error), < 1 rejected, default 250.
    assert_eq!(h.list("maxResults=100000").await.status, 200);
    assert_eq!(h.list("maxResults=0").await.status, 400);
    assert_eq!(h.list("maxResults=abc").await.status, 400);
    // A page token from nowhere is refused.
    assert_eq!(h.list("pageToken=bogus").await.status, 400);
    // fields is accepted (and ignored).
    let r = h
        .list("fields=items(id,status),nextPageToken,nextSyncToken")
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(h.g.count(Endpoint::EventsList), 8);
}

#[tokio::test]
async fn events_have_google_shapes() {
    let h = Harness::new().await;
    let ev = h.g.insert_event(CAL, single("one", 2));
    let r = h.list("").await;
    let got = &r.body["items"][0];
    assert_eq!(got, &ev);
    for k in [
        "kind",
        "etag",
        "id",
        "status",
        "htmlLink",
        "created",
        "updated",
        "summary",
        "creator",
        "organizer",
        "start",
        "end",
        "iCalUID",
        "sequence",
        "reminders",
        "eventType",
    ] {
        assert!(got.get(k).is_some(), "event lacks {k}");
    }
    let etag = got["etag"].as_str().unwrap();
    assert!(etag.starts_with('"') && etag.ends_with('"'));
    assert_eq!(
        got["iCalUID"],
        format!("{}@google.com", got["id"].as_str().unwrap())
    );
    assert!(got["updated"].as_str().unwrap().ends_with('Z'));
    let id = got["id"].as_str().unwrap();
    assert!(id.chars().all(|c| matches!(c, 'a'..='v' | '0'..='9')));
    // The real all-day sample goes through unchanged but for etag/updated.
    let allday = samples::json(samples::EVENT_ALLDAY);
    h.g.insert_items(CAL, std::slice::from_ref(&allday));
    let stored = h.g.event(CAL, allday["id"].as_str().unwrap()).unwrap();
    assert_eq!(stored["start"], allday["start"]);
    assert_ne!(stored["etag"], allday["etag"]);
}

#[tokio::test]
async fn ragged_pages_are_legal_and_still_complete() {
    let g = FakeGoogle::start();
    g.configure(|o| o.ragged_pages = true);
    let h = Harness::with(g).await;
    for d in 1..=5 {
        h.g.insert_event(CAL, single("s", d));
    }
    let (pages, last) = h.list_all("maxResults=4").await;
    assert_eq!(pages[0]["items"].as_array().unwrap().len(), 0);
    assert!(pages[0]["nextPageToken"].is_string());
    assert_eq!(items(&pages).len(), 5);
    assert!(last["nextSyncToken"].is_string());
}

// ----- events.list: incremental sync ---------------------------------------------------------

#[tokio::test]
async fn incremental_returns_tombstones_and_modified_exception_once_across_pages() {
    let h = Harness::new().await;
    let one = h.g.insert_event(CAL, weekly("Erin 1:1"));
    let one_id = one["id"].as_str().unwrap().to_string();
    let team = h.g.insert_event(CAL, weekly("Team"));
    let team_id = team["id"].as_str().unwrap().to_string();
    let untouched = h.g.insert_event(CAL, single("keep", 4));
    let (_, last) = h.list_all("maxResults=2").await;
    let token = last["nextSyncToken"].as_str().unwrap().to_string();

    // Changes: move the 2nd instance, cancel the 3rd, delete the other series.
    let moved = h.g.move_instance(
        CAL,
        &one_id,
        "2026-03-09T09:00:00-05:00",
        "2026-03-10T14:00:00-05:00",
        "2026-03-10T14:30:00-05:00",
    );
    h.g.cancel_instance(CAL, &one_id, "2026-03-16T09:00:00-05:00");
    h.g.delete_series(CAL, &team_id);

    let q = format!("maxResults=1&syncToken={}", enc(&token));
    let (pages, last) = h.list_all(&q).await;
    assert!(pages.len() >= 4, "paged incremental");
    for p in &pages[..pages.len() - 1] {
        assert!(p.get("nextSyncToken").is_none());
    }
    let got = items(&pages);
    let got_ids = ids(&got);
    assert_eq!(
        got_ids.iter().collect::<HashSet<_>>().len(),
        got_ids.len(),
        "each resource once: {got_ids:?}"
    );
    assert!(!got_ids.contains(&untouched["id"].as_str().unwrap().to_string()));
    let by_id = |id: &str| got.iter().find(|i| i["id"] == id).unwrap().clone();

    // The master of the changed series comes back (as in the real samples).
    assert_eq!(by_id(&one_id)["status"], "confirmed");
    // Modified exception: separate resource with recurringEventId + originalStartTime.
    let ex = by_id(&format!("{one_id}_20260309T140000Z"));
    assert_eq!(ex, moved);
    assert_eq!(ex["recurringEventId"], one_id.as_str());
    assert_eq!(
        ex["originalStartTime"],
        json!({"dateTime": "2026-03-09T09:00:00-05:00", "timeZone": "America/Chicago"})
    );
    assert_eq!(ex["start"]["dateTime"], "2026-03-10T14:00:00-05:00");
    assert_eq!(ex["sequence"], 1);
    assert_eq!(ex["iCalUID"], one["iCalUID"]);
    // Cancelled instance: exactly the real tombstone keys.
    let c = by_id(&format!("{one_id}_20260316T140000Z"));
    let mut keys: Vec<_> = c.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "etag",
            "id",
            "kind",
            "originalStartTime",
            "recurringEventId",
            "status"
        ]
    );
    assert_eq!(c["status"], "cancelled");
    // Deleted series: one tombstone for the master with {kind, etag, id, status}.
    let t = by_id(&team_id);
    let mut keys: Vec<_> = t.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["etag", "id", "kind", "status"]);
    let sample = samples::json(samples::LIST_INCREMENTAL_DELETED_SERIES);
    let mut skeys: Vec<_> = sample["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    skeys.sort();
    assert_eq!(keys, skeys);

    // A new token; nothing changed since → an empty incremental page with a token.
    let token2 = last["nextSyncToken"].as_str().unwrap();
    assert_ne!(token2, token);
    let r = h.list(&format!("syncToken={}", enc(token2))).await;
    assert_eq!(r.body["items"], json!([]));
    assert!(r.body["nextSyncToken"].is_string());

    // The server view: series gone, exception + cancelled instance present.
    let snap = h.g.snapshot(CAL);
    assert_eq!(snap.len(), 4);
    assert!(ids(&snap).iter().all(|i| !i.starts_with(&team_id)));
}

#[tokio::test]
async fn changes_made_while_paging_are_never_lost() {
    let h = Harness::new().await;
    let mut all = Vec::new();
    for d in 1..=6 {
        all.push(
            h.g.insert_event(CAL, single("s", d))["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let p1 = h.list("maxResults=2").await;
    let seen = ids(p1.body["items"].as_array().unwrap());
    let later = all.iter().find(|i| !seen.contains(i)).unwrap().clone();
    // One event already returned, one not yet returned, and a new one change mid-listing.
    h.g.update_event(CAL, &seen[0], json!({"summary": "changed-early"}));
    h.g.update_event(CAL, &later, json!({"summary": "changed-late"}));
    let added = h.g.insert_event(CAL, single("new", 20))["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut pages = vec![p1.body.clone()];
    let mut pt = p1.body["nextPageToken"].as_str().unwrap().to_string();
    loop {
        let r = h
            .list(&format!("maxResults=2&pageToken={}", enc(&pt)))
            .await;
        pages.push(r.body.clone());
        match r.body["nextPageToken"].as_str() {
            Some(t) => pt = t.to_string(),
            None => break,
        }
    }
    let full = items(&pages);
    let token = pages.last().unwrap()["nextSyncToken"]
        .as_str()
        .unwrap()
        .to_string();
    let r = h.list(&format!("syncToken={}", enc(&token))).await;
    let inc = r.body["items"].as_array().unwrap().clone();
    // Client view = full sync, then the incremental applied on top.
    let mut view = std::collections::HashMap::new();
    for i in full.iter().chain(inc.iter()) {
        view.insert(i["id"].as_str().unwrap().to_string(), i.clone());
    }
    let snap = h.g.snapshot(CAL);
    assert_eq!(view.len(), snap.len());
    for s in &snap {
        assert_eq!(&view[s["id"].as_str().unwrap()], s);
    }
    assert!(view.contains_key(&added));
    assert_eq!(view[&later]["summary"], "changed-late");
    assert_eq!(view[&seen[0]]["summary"], "changed-early");
}

#[tokio::test]
async fn invalidated_or_unknown_sync_token_is_410_full_sync_required() {
    let h = Harness::new().await;
    for d in 1..=3 {
        h.g.insert_event(CAL, single("s", d));
    }
    let (_, last) = h.list_all("").await;
    let token = last["nextSyncToken"].as_str().unwrap().to_string();
    assert_eq!(
        h.list(&format!("syncToken={}", enc(&token))).await.status,
        200
    );

    let r = h.list("syncToken=CPDAlvWDx70CEPDAlvWDx70CGAU%3D").await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body, samples::json(samples::ERROR_410_FULL_SYNC_REQUIRED));

    // Invalidation mid-paging of an incremental listing also answers 410.
    for d in 4..=6 {
        h.g.insert_event(CAL, single("s", d));
    }
    let r = h
        .list(&format!("maxResults=1&syncToken={}", enc(&token)))
        .await;
    let pt = r.body["nextPageToken"].as_str().unwrap().to_string();
    h.g.invalidate_sync_tokens(CAL);
    let r = h
        .list(&format!(
            "maxResults=1&syncToken={}&pageToken={}",
            enc(&token),
            enc(&pt)
        ))
        .await;
    assert_eq!(r.status, 410);
    let r = h.list(&format!("syncToken={}", enc(&token))).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body, samples::json(samples::ERROR_410_FULL_SYNC_REQUIRED));
    // A fresh full sync gives a token that works again.
    let (_, last) = h.list_all("").await;
    let fresh = last["nextSyncToken"].as_str().unwrap();
    assert_eq!(
        h.list(&format!("syncToken={}", enc(fresh))).await.status,
        200
    );
}

#[tokio::test]
async fn list_parameter_rules() {
    let h = Harness::new().await;
    h.g.insert_event(CAL, single("s", 1));
    let (_, last) = h.list_all("").await;
    let token = enc(last["nextSyncToken"].as_str().unwrap());

    for p in [
        "timeMin=2026-01-01T00:00:00Z",
        "timeMax=2026-01-01T00:00:00Z",
        "updatedMin=2026-01-01T00:00:00Z",
        "orderBy=updated",
        "q=x",
        "iCalUID=x",
        "privateExtendedProperty=a%3Db",
        "sharedExtendedProperty=a%3Db",
    ] {
        let r = h.list(&format!("syncToken={token}&{p}")).await;
        assert_eq!(r.status, 400, "{p}");
        let name = p.split('=').next().unwrap();
        assert_eq!(r.body["error"]["errors"][0]["location"], name);
    }
    // showDeleted and singleEvents=false may accompany a token.
    assert_eq!(
        h.list(&format!(
            "syncToken={token}&showDeleted=true&singleEvents=false"
        ))
        .await
        .status,
        200
    );

    let r = h.list("orderBy=startTime").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "invalid");
    assert_eq!(r.body["error"]["errors"][0]["location"], "orderBy");
    assert_eq!(
        r.body["error"]["message"],
        "The requested ordering is not available for the particular query."
    );
    let r = h
        .list("timeMin=2026-03-02T00:00:00Z&timeMax=2026-03-01T00:00:00Z")
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "timeRangeEmpty");
    assert_eq!(r.body["error"]["errors"][0]["domain"], "calendar");
    assert_eq!(
        h.list("timeMin=2026-03-02T00:00:00").await.status,
        400,
        "offset required"
    );
    assert_eq!(h.list("singleEvents=true").await.status, 400);
    assert_eq!(h.list("showDeleted=maybe").await.status, 400);

    // orderBy=updated sorts ascending and gives no nextSyncToken; timeMin keeps it.
    let r = h.list("orderBy=updated").await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("nextSyncToken").is_none());
    let r = h.list("timeMin=2026-03-01T00:00:00Z").await;
    assert!(r.body["nextSyncToken"].is_string());
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    // timeMin is exclusive on the end, timeMax exclusive on the start.
    let r = h.list("timeMin=2026-03-01T10:30:00-05:00").await;
    assert_eq!(r.body["items"], json!([]));
    let r = h.list("timeMax=2026-03-01T10:00:00-05:00").await;
    assert_eq!(r.body["items"], json!([]));
    let r = h.list("timeMax=2026-03-01T10:00:01-05:00").await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn show_deleted_rules_on_a_full_sync() {
    let h = Harness::new().await;
    let s = h.g.insert_event(CAL, single("gone", 2));
    let s_id = s["id"].as_str().unwrap();
    h.g.delete_event(CAL, s_id);
    let m = h.g.insert_event(CAL, weekly("1:1"));
    let m_id = m["id"].as_str().unwrap();
    h.g.cancel_instance(CAL, m_id, "2026-03-09T09:00:00-05:00");

    // showDeleted=false: the cancelled instance is still listed (singleEvents=false), the
    // deleted single is not.
    let got = ids(&items(&h.list_all("").await.0));
    assert!(got.contains(&format!("{m_id}_20260309T140000Z")));
    assert!(!got.iter().any(|i| i == s_id));
    let got = ids(&items(&h.list_all("showDeleted=true").await.0));
    assert!(got.iter().any(|i| i == s_id));
    // eventTypes filters.
    h.g.insert_event(CAL, json!({"summary": "Focus", "eventType": "focusTime",
        "start": {"dateTime": "2026-03-03T10:00:00Z"}, "end": {"dateTime": "2026-03-03T11:00:00Z"}}));
    let got = items(&h.list_all("eventTypes=focusTime").await.0);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["eventType"], "focusTime");
}

// ----- faults --------------------------------------------------------------------------------

#[tokio::test]
async fn each_fault_type_hits_once_then_service_resumes() {
    let h = Harness::new().await;
    let cases: Vec<(FaultKind, u16, Option<&str>, Option<&str>)> = vec![
        (
            FaultKind::TooManyRequests {
                retry_after: Some("7".into()),
            },
            429,
            Some("rateLimitExceeded"),
            Some("7"),
        ),
        (
            FaultKind::TooManyRequests { retry_after: None },
            429,
            Some("rateLimitExceeded"),
            None,
        ),
        (
            FaultKind::RateLimitExceeded403 { retry_after: None },
            403,
            Some("rateLimitExceeded"),
            None,
        ),
        (
            FaultKind::UserRateLimitExceeded403,
            403,
            Some("userRateLimitExceeded"),
            None,
        ),
        (
            FaultKind::QuotaExceeded403,
            403,
            Some("quotaExceeded"),
            None,
        ),
        (FaultKind::InternalError500, 500, Some("backendError"), None),
        (
            FaultKind::Unavailable503 {
                retry_after: Some("Wed, 21 Oct 2026 07:28:00 GMT".into()),
            },
            503,
            None,
            Some("Wed, 21 Oct 2026 07:28:00 GMT"),
        ),
    ];
    for (kind, status, reason, retry_after) in cases {
        h.g.push_fault(Fault::new(kind.clone()));
        let r = h.list("").await;
        assert_eq!(r.status, status, "{kind:?}");
        assert_eq!(r.body["error"]["code"], status, "{kind:?}");
        if let Some(reason) = reason {
            assert_eq!(r.body["error"]["errors"][0]["reason"], reason);
        }
        assert_eq!(
            r.headers.get("retry-after").map(|v| v.to_str().unwrap()),
            retry_after,
            "{kind:?}"
        );
        assert_eq!(h.list("").await.status, 200, "after {kind:?}");
    }
    // Exact real/doc bodies.
    h.g.push_fault(Fault::new(FaultKind::RateLimitExceeded403 {
        retry_after: None,
    }));
    assert_eq!(
        h.list("").await.body,
        samples::json(samples::ERROR_403_RATE_LIMIT)
    );
    h.g.push_fault(Fault::new(FaultKind::TooManyRequests { retry_after: None }));
    assert_eq!(
        h.list("").await.body,
        samples::json(samples::ERROR_429_RATE_LIMIT)
    );

    // 401: the token is treated as expired from then on; a refresh cures it.
    h.g.push_fault(Fault::new(FaultKind::Unauthorized401));
    let r = h.list("").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "authError");
    assert_eq!(h.list("").await.status, 401);
    let h = Harness::with(h.g).await;
    assert_eq!(h.list("").await.status, 200);

    // `times` and endpoint targeting; OAuth endpoints are only hit when targeted.
    h.g.push_fault(
        Fault::new(FaultKind::InternalError500)
            .on(Endpoint::EventsGet)
            .times(2),
    );
    assert_eq!(h.list("").await.status, 200);
    assert_eq!(
        h.get("/calendar/v3/calendars/primary/events/x")
            .await
            .status,
        500
    );
    assert_eq!(
        h.get("/calendar/v3/calendars/primary/events/x")
            .await
            .status,
        500
    );
    assert_eq!(
        h.get("/calendar/v3/calendars/primary/events/x")
            .await
            .status,
        404
    );
    h.g.push_fault(Fault::new(FaultKind::Unavailable503 { retry_after: None }).on(Endpoint::Token));
    let r = h
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .await;
    assert_eq!(r.status, 503);
    assert_eq!(h.g.pending_faults(), 0);
}

#[tokio::test]
async fn dropped_connection_reads_the_request_and_closes_without_answer() {
    let h = Harness::new().await;
    h.g.push_fault(Fault::new(FaultKind::DropConnection));
    let err = h
        .http
        .get(format!(
            "{}/calendar/v3/calendars/primary/events",
            h.g.url()
        ))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status(), "{err:?}");
    let log = h.g.requests_to(Endpoint::EventsList);
    assert_eq!(log.last().unwrap().status, 0);
    assert_eq!(log.last().unwrap().fault, Some(FaultKind::DropConnection));
    assert_eq!(h.list("").await.status, 200);

    // Also on a raw socket: the full request is read, then EOF with no bytes.
    use std::io::Write as _;
    h.g.push_fault(Fault::new(FaultKind::DropConnection).on(Endpoint::Token));
    let addr = h.g.url().trim_start_matches("http://").to_string();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=b")
        .unwrap();
    let mut buf = Vec::new();
    let n = s.read_to_end(&mut buf).unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn delay_fault_delays_then_serves() {
    let h = Harness::new().await;
    h.g.push_fault(Fault::new(FaultKind::Delay(Duration::from_millis(300))));
    let t = Instant::now();
    assert_eq!(h.list("").await.status, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
}

// ----- get / patch ---------------------------------------------------------------------------

#[tokio::test]
async fn patch_with_stale_if_match_is_412_and_fresh_one_applies() {
    let h = Harness::new().await;
    let ev = h.g.insert_event(CAL, weekly("1:1"));
    let id = ev["id"].as_str().unwrap();
    let etag = ev["etag"].as_str().unwrap().to_string();

    let r = h
        .get(&format!("/calendar/v3/calendars/primary/events/{id}"))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.headers["etag"].to_str().unwrap(), etag);
    let r304 = h
        .http
        .get(format!(
            "{}/calendar/v3/calendars/primary/events/{id}",
            h.g.url()
        ))
        .bearer_auth(&h.token)
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r304.status(), 304);

    // Someone else changes the event: our etag is stale.
    h.g.set_response_status(CAL, id, "erin@example.com", "declined");
    let body = json!({"description": "agenda", "attachments": [{"fileUrl": "https://docs.google.com/document/d/DOC123/edit?usp=drivesdk", "title": "Agenda", "mimeType": "application/vnd.google-apps.document"}]});
    let r = h
        .patch(
            id,
            "sendUpdates=none&supportsAttachments=true",
            Some(&etag),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.body, samples::json(samples::ERROR_412_CONDITION_NOT_MET));

    let cur = h.g.event(CAL, id).unwrap();
    let cur_etag = cur["etag"].as_str().unwrap();
    let r = h
        .patch(
            id,
            "sendUpdates=none&supportsAttachments=true",
            Some(cur_etag),
            body.clone(),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_ne!(r.body["etag"], cur["etag"]);
    assert_ne!(r.body["updated"], cur["updated"]);
    assert_eq!(r.body["description"], "agenda");
    assert_eq!(r.body["attachments"][0]["fileId"], "DOC123");
    // Untouched fields survive; a non-significant change keeps `sequence`.
    assert_eq!(r.body["attendees"][1]["responseStatus"], "declined");
    assert_eq!(r.body["sequence"], cur["sequence"]);
    assert_eq!(r.body["recurrence"], cur["recurrence"]);

    // Without supportsAttachments the attachments are not applied.
    let r = h
        .patch(id, "sendUpdates=none", None, json!({"attachments": []}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["attachments"].as_array().unwrap().len(), 1);
    // A time change bumps sequence; sendUpdates is validated; the calls are recorded.
    let r = h
        .patch(id, "sendUpdates=all", None, json!({"start": {"dateTime": "2026-03-02T10:00:00-06:00", "timeZone": "America/Chicago"}}))
        .await;
    assert_eq!(r.body["sequence"], cur["sequence"].as_i64().unwrap() + 1);
    assert_eq!(
        h.patch(id, "sendUpdates=sometimes", None, json!({}))
            .await
            .status,
        400
    );
    let p = h.g.patches();
    assert_eq!(p.len(), 5);
    assert_eq!(p[0].status, 412);
    assert_eq!(p[0].if_match.as_deref(), Some(etag.as_str()));
    assert_eq!(p[1].send_updates.as_deref(), Some("none"));
    assert!(p[1].supports_attachments);
    assert_eq!(p[3].send_updates.as_deref(), Some("all"));
    assert_eq!(h.patch("nope", "", None, json!({})).await.status, 404);
}

#[tokio::test]
async fn patching_an_unmodified_instance_creates_the_exception() {
    let h = Harness::new().await;
    let m = h.g.insert_event(CAL, weekly("1:1"));
    let m_id = m["id"].as_str().unwrap();
    let inst = FakeGoogle::instance_id(m_id, "2026-03-23T09:00:00-05:00");
    let r = h
        .get(&format!("/calendar/v3/calendars/primary/events/{inst}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["recurringEventId"], m_id);
    assert_eq!(r.body["start"]["dateTime"], "2026-03-23T09:00:00-05:00");
    let etag = r.body["etag"].as_str().unwrap().to_string();
    let r = h
        .patch(
            &inst,
            "sendUpdates=none",
            Some(&etag),
            json!({"description": "notes"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = h.g.event(CAL, &inst).unwrap();
    assert_eq!(stored["description"], "notes");
    assert_eq!(
        stored["originalStartTime"]["dateTime"],
        "2026-03-23T09:00:00-05:00"
    );
    assert!(stored.get("recurrence").is_none());
}

// ----- transport -----------------------------------------------------------------------------

#[tokio::test]
async fn gzip_when_asked_and_plain_otherwise() {
    let h = Harness::new().await;
    h.g.insert_event(CAL, single("zip", 5));
    let raw = reqwest::Client::builder().gzip(false).build().unwrap();
    let url = format!("{}/calendar/v3/calendars/primary/events", h.g.url());
    let r = raw
        .get(&url)
        .bearer_auth(&h.token)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=UTF-8"
    );
    let bytes = r.bytes().await.unwrap();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["items"][0]["summary"], "zip");

    let r = raw.get(&url).bearer_auth(&h.token).send().await.unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["items"][0]["summary"], "zip");
    // Errors are gzipped too.
    let r = raw
        .get(&url)
        .header("Accept-Encoding", "gzip, deflate")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    // The crate's own client (gzip on) decodes transparently and the log saw it ask.
    assert_eq!(h.list("").await.body["items"][0]["summary"], "zip");
    let last = h.g.requests().last().unwrap().clone();
    assert!(last.accept_encoding.unwrap().contains("gzip"));
    assert!(last.gzipped);
}

#[tokio::test]
async fn request_log_never_holds_credentials() {
    let h = Harness::new().await;
    h.list("maxResults=5").await;
    let log = h.g.requests();
    let dump = format!("{log:?}");
    assert!(!dump.contains(&h.token), "access token leaked into the log");
    assert!(
        !dump.contains(REFRESH_TOKEN),
        "refresh token leaked into the log"
    );
    assert!(
        !dump.contains(CLIENT_SECRET),
        "client secret leaked into the log"
    );
    let list = log
        .iter()
        .find(|r| r.endpoint == Endpoint::EventsList)
        .unwrap();
    assert!(list.has_authorization);
    assert_eq!(list.header("Authorization"), Some("Bearer <redacted>"));
    assert_eq!(list.param("maxResults"), Some("5"));
    assert_eq!(list.account.as_deref(), Some(CAL));
    let tok = log.iter().find(|r| r.endpoint == Endpoint::Token).unwrap();
    assert_eq!(tok.grant_type.as_deref(), Some("refresh_token"));
}

// ----- fixtures and bulk -----------------------------------------------------------------------

#[tokio::test]
async fn real_sample_items_load_and_list_by_the_showdeleted_rules() {
    let h = Harness::new().await;
    let sample = samples::json(samples::EVENT_ITEMS_RECURRING_ATTENDEES_EXCEPTIONS);
    let sample = sample.as_array().unwrap();
    h.g.insert_items(CAL, sample);
    let cancelled_plain = sample
        .iter()
        .filter(|i| i["status"] == "cancelled" && i.get("recurringEventId").is_none())
        .count();
    let (pages, _) = h.list_all("maxResults=10").await;
    assert_eq!(items(&pages).len(), sample.len() - cancelled_plain);
    let (pages, _) = h.list_all("maxResults=10&showDeleted=true").await;
    assert_eq!(items(&pages).len(), sample.len());
}

#[tokio::test]
async fn generated_calendar_is_varied_and_fully_listable() {
    let h = Harness::new().await;
    let t = Instant::now();
    let sum = h.g.generate_events(
        CAL,
        &GenerateSpec {
            count: 2000,
            ..Default::default()
        },
    );
    assert_eq!(sum.total, 2000);
    assert!(sum.masters > 100 && sum.modified_exceptions > 50 && sum.cancelled_instances > 30);
    assert!(sum.all_day > 50);
    for t in ["default", "focusTime", "outOfOffice", "workingLocation"] {
        assert!(sum.by_event_type.get(t).copied().unwrap_or(0) > 10, "{t}");
    }
    let (pages, last) = h.list_all("maxResults=1500").await;
    assert_eq!(pages.len(), 2);
    assert!(last["nextSyncToken"].is_string());
    let mut got = items(&pages);
    got.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    assert_eq!(got, h.g.snapshot(CAL));
    assert_eq!(got.len(), 2000);
    assert!(t.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn split_series_and_instance_decline_follow_the_samples() {
    let h = Harness::new().await;
    let m = h.g.insert_event(CAL, weekly("1:1"));
    let m_id = m["id"].as_str().unwrap();
    let (_, last) = h.list_all("").await;
    let token = enc(last["nextSyncToken"].as_str().unwrap());

    let new = h.g.split_series(
        CAL,
        m_id,
        "2026-03-23T09:00:00-05:00",
        json!({"recurrence": ["RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"]}),
    );
    assert_eq!(new["id"], format!("{m_id}_R20260323T140000"));
    assert_eq!(
        new["iCalUID"],
        format!("{m_id}_R20260323T140000@google.com")
    );
    assert_eq!(new["start"]["dateTime"], "2026-03-23T09:00:00-05:00");
    assert_eq!(new["end"]["dateTime"], "2026-03-23T09:30:00-05:00");
    let inst = FakeGoogle::instance_id(new["id"].as_str().unwrap(), "2026-04-06T09:00:00-05:00");
    h.g.set_response_status(CAL, &inst, "erin@example.com", "declined");

    let r = h.list(&format!("syncToken={token}")).await;
    let got = r.body["items"].as_array().unwrap();
    let old = got.iter().find(|i| i["id"] == m_id).unwrap();
    assert_eq!(
        old["recurrence"],
        json!(["RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260323T135959Z"])
    );
    let ex = got.iter().find(|i| i["id"] == inst.as_str()).unwrap();
    assert_eq!(ex["attendees"][1]["responseStatus"], "declined");
    assert_eq!(ex["recurringEventId"], new["id"]);
    assert_eq!(ex["sequence"], 0, "a reply is not a significant change");
    assert_eq!(got.len(), 3);
}

/// The fake works from a plain `#[test]` (no runtime in the test) over a raw socket.
#[test]
fn works_from_a_plain_test_without_a_runtime() {
    use std::io::Write as _;
    let g = FakeGoogle::start();
    let body = form_body(&[
        ("grant_type", "refresh_token"),
        ("client_id", CLIENT_ID),
        ("refresh_token", REFRESH_TOKEN),
    ]);
    let mut s = std::net::TcpStream::connect(g.url().trim_start_matches("http://")).unwrap();
    write!(
        s,
        "POST /token HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"token_type\": \"Bearer\""));
    assert_eq!(g.count(Endpoint::Token), 1);
}

// ----- freeBusy.query, events.insert, events.delete (scheduling) ---------------------------

/// A harness whose token may read free/busy and write events.
async fn scheduling_harness() -> Harness {
    let g = FakeGoogle::start();
    g.add_refresh_token(
        DEFAULT_ACCOUNT,
        "1//fb",
        &["calendar.readonly", "calendar.events"],
    );
    let mut h = Harness::with(g).await;
    let r = h
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("refresh_token", "1//fb"),
        ])
        .await;
    h.token = r.body["access_token"].as_str().unwrap().to_string();
    h
}

impl Harness {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.g.url()))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        resp(req.send().await.unwrap()).await
    }

    async fn free_busy(&self, body: Value) -> Resp {
        self.send(reqwest::Method::POST, "/calendar/v3/freeBusy", Some(body))
            .await
    }
}

fn fb_query(items: &[&str]) -> Value {
    json!({
        "timeMin": "2026-03-02T00:00:00Z",
        "timeMax": "2026-03-16T00:00:00Z",
        "items": items.iter().map(|i| json!({"id": i})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn free_busy_counts_opaque_tentative_series_and_all_day_but_not_declined_or_transparent() {
    let h = scheduling_harness().await;
    let g = &h.g;
    // A weekly series (Mondays 09:00 Chicago) with its second instance cancelled.
    let master = g.insert_event("primary", weekly("1on1"));
    let id = master["id"].as_str().unwrap();
    g.cancel_instance("primary", id, "2026-03-09T09:00:00-05:00");
    let mut tentative = single("Tentative", 3);
    tentative["attendees"] = json!([
        {"email": CAL, "self": true, "responseStatus": "tentative"},
        {"email": "x@example.com", "organizer": true, "responseStatus": "accepted"}
    ]);
    g.insert_event("primary", tentative);
    let declined = g.insert_event("primary", json!({
        "summary": "Declined",
        "start": {"dateTime": "2026-03-04T10:00:00-06:00"}, "end": {"dateTime": "2026-03-04T11:00:00-06:00"},
        "attendees": [{"email": CAL, "self": true, "responseStatus": "accepted"}, {"email": "x@example.com"}]
    }));
    g.set_response_status("primary", declined["id"].as_str().unwrap(), CAL, "declined");
    g.insert_event("primary", json!({
        "summary": "Free", "transparency": "transparent",
        "start": {"dateTime": "2026-03-05T10:00:00-06:00"}, "end": {"dateTime": "2026-03-05T11:00:00-06:00"}
    }));
    g.insert_event(
        "primary",
        json!({
            "summary": "Holiday", "start": {"date": "2026-03-06"}, "end": {"date": "2026-03-07"}
        }),
    );
    g.insert_event("primary", json!({
        "summary": "Touching", "start": {"dateTime": "2026-03-03T09:30:00-06:00"}, "end": {"dateTime": "2026-03-03T11:00:00-06:00"}
    }));
    let r = h
        .free_busy(json!({
            "timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-16T00:00:00Z",
            "timeZone": "America/Chicago", "items": [{"id": "primary"}]
        }))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["kind"], "calendar#freeBusy");
    assert_eq!(r.body["timeMin"], "2026-03-02T00:00:00.000Z");
    let busy: Vec<(String, String)> = r.body["calendars"]["primary"]["busy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["start"].as_str().unwrap().into(),
                p["end"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        busy,
        vec![
            (
                "2026-03-02T09:00:00-06:00".into(),
                "2026-03-02T09:30:00-06:00".into()
            ),
            // The tentative single and the touching event merge.
            (
                "2026-03-03T09:00:00-06:00".into(),
                "2026-03-03T11:00:00-06:00".into()
            ),
            (
                "2026-03-06T00:00:00-06:00".into(),
                "2026-03-07T00:00:00-06:00".into()
            ),
            // Mar 9 was cancelled; Mar 16 is outside the window.
        ],
        "{}",
        r.body
    );
}

#[tokio::test]
async fn free_busy_errors_per_calendar_and_per_request() {
    let h = scheduling_harness().await;
    h.g.add_account("shared@example.com", "Europe/Berlin");
    h.g.add_account("private@example.com", "Europe/Berlin");
    h.g.share_free_busy("shared@example.com");
    let r = h
        .free_busy(fb_query(&[
            "shared@example.com",
            "private@example.com",
            "nobody@example.com",
        ]))
        .await;
    assert_eq!(r.status, 200);
    let cals = &r.body["calendars"];
    assert_eq!(cals["shared@example.com"], json!({"busy": []}));
    for id in ["private@example.com", "nobody@example.com"] {
        assert_eq!(
            cals[id],
            json!({"errors": [{"domain": "global", "reason": "notFound"}], "busy": []})
        );
    }
    let many: Vec<String> = (0..51).map(|i| format!("u{i}@example.com")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = h.free_busy(fb_query(&refs)).await;
    assert_eq!(
        r.body["calendars"]["u50@example.com"]["errors"][0]["reason"],
        "tooManyCalendarsRequested"
    );
    assert_eq!(
        r.body["calendars"]["u49@example.com"]["errors"][0]["reason"],
        "notFound"
    );
    let r = h
        .free_busy(json!({"timeMin": "2026-03-02T00:00:00Z", "timeMax": "2026-03-02T00:00:00Z", "items": []}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "timeRangeEmpty");
    let r = h
        .free_busy(json!({"timeMin": "2026-01-01T00:00:00Z", "timeMax": "2026-03-15T00:00:00Z", "items": []}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["errors"][0]["reason"], "timeRangeTooLong");
    let r = h
        .free_busy(json!({"timeMin": "2026-03-02T00:00:00", "timeMax": "2026-03-03T00:00:00Z", "items": []}))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["message"], "Bad Request");
    // The default token (calendar.events only) may not read free/busy.
    let d = Harness::new().await;
    let r = d
        .send(
            reqwest::Method::POST,
            "/calendar/v3/freeBusy",
            Some(fb_query(&["primary"])),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn insert_and_delete_keep_sync_free_busy_and_attendees_consistent() {
    let h = scheduling_harness().await;
    h.g.add_account("alice@example.com", "Europe/Berlin");
    h.g.share_free_busy("alice@example.com");
    let path = "/calendar/v3/calendars/primary/events";
    let r = h
        .send(reqwest::Method::POST, &format!("{path}?sendUpdates=all"), Some(json!({
            "summary": "1on1 (make-up)",
            "start": {"dateTime": "2026-03-04T14:00:00Z"}, "end": {"dateTime": "2026-03-04T14:30:00Z"},
            "attendees": [{"email": CAL}, {"email": "alice@example.com"}],
            "extendedProperties": {"private": {"cadencedMakeup": "abc"}}
        })))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["status"], "confirmed");
    assert_eq!(
        h.g.outbox(),
        vec![(
            "invite".to_string(),
            "alice@example.com".to_string(),
            id.clone()
        )]
    );
    // In events.list (by its private property) and in both free/busy answers.
    let l = h.list("privateExtendedProperty=cadencedMakeup%3Dabc").await;
    assert_eq!(ids(l.body["items"].as_array().unwrap()), vec![id.clone()]);
    let fb = h
        .free_busy(fb_query(&["primary", "alice@example.com"]))
        .await;
    for c in ["primary", "alice@example.com"] {
        assert_eq!(
            fb.body["calendars"][c]["busy"],
            json!([{"start": "2026-03-04T14:00:00Z", "end": "2026-03-04T14:30:00Z"}])
        );
    }
    // Errors of insert.
    let missing = h
        .send(
            reqwest::Method::POST,
            path,
            Some(json!({"start": {"dateTime": "2026-03-04T14:00:00Z"}})),
        )
        .await;
    assert_eq!(missing.status, 400);
    let bad = h
        .send(reqwest::Method::POST, path, Some(json!({"id": "NOT-valid", "start": {"dateTime": "2026-03-04T14:00:00Z"}, "end": {"dateTime": "2026-03-04T15:00:00Z"}})))
        .await;
    assert_eq!(bad.body["error"]["errors"][0]["reason"], "invalid");
    let dup = h
        .send(reqwest::Method::POST, path, Some(json!({"id": id, "start": {"dateTime": "2026-03-04T14:00:00Z"}, "end": {"dateTime": "2026-03-04T15:00:00Z"}})))
        .await;
    assert_eq!(dup.status, 409);
    assert_eq!(dup.body["error"]["errors"][0]["reason"], "duplicate");
    // Delete: 204, then 410; the attendee's copy goes, the outbox says so.
    let d = h
        .send(
            reqwest::Method::DELETE,
            &format!("{path}/{id}?sendUpdates=all"),
            None,
        )
        .await;
    assert_eq!(d.status, 204);
    let again = h
        .send(
            reqwest::Method::DELETE,
            &format!("{path}/{id}?sendUpdates=all"),
            None,
        )
        .await;
    assert_eq!(again.status, 410);
    assert_eq!(again.body["error"]["errors"][0]["reason"], "deleted");
    let fb = h
        .free_busy(fb_query(&["primary", "alice@example.com"]))
        .await;
    assert_eq!(fb.body["calendars"]["alice@example.com"]["busy"], json!([]));
    assert_eq!(h.g.outbox().last().unwrap().0, "cancel");
    // A deleted id is still taken (409), as Google does.
    let reuse = h
        .send(reqwest::Method::POST, path, Some(json!({"id": id, "start": {"dateTime": "2026-03-04T14:00:00Z"}, "end": {"dateTime": "2026-03-04T15:00:00Z"}})))
        .await;
    assert_eq!(reuse.status, 409);
}

/// Org mode's side of the Google fake: the whole customer in one `users.list` as an admin, with
/// `relations`, `orgUnitPath`, `suspended` and `archived`; a token without a directory scope
/// gets 403.
#[tokio::test]
async fn directory_sweep_gives_relations_org_units_and_needs_the_scope() {
    use testkit::fake_google::DirUser;
    let g = FakeGoogle::start();
    g.add_account("it@example.com", "UTC");
    g.set_directory(vec![
        DirUser {
            email: "it@example.com".into(),
            full_name: "IT".into(),
            admin: true,
            ..DirUser::default()
        },
        DirUser {
            email: "ann@example.com".into(),
            full_name: "Ann".into(),
            manager: Some("boss@example.com".into()),
            org_unit: Some("/Eng".into()),
            archived: true,
            ..DirUser::default()
        },
    ]);
    let http = reqwest::Client::new();
    let list = |token: String, extra: String| {
        let url = format!(
            "{}/admin/directory/v1/users?customer=my_customer&maxResults=1{extra}",
            g.api_base()
        );
        let http = http.clone();
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap_or(Value::Null);
            (status, body)
        }
    };
    let admin = g.mint_access_token_with("it@example.com", &["admin.directory.user.readonly"]);
    let (status, page) = list(admin.clone(), "&projection=basic".to_string()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["users"][0]["orgUnitPath"], "/");
    assert!(page["users"][0].get("relations").is_none());
    let token = page["nextPageToken"].as_str().unwrap().to_string();
    let (_, page) = list(
        admin.clone(),
        format!("&projection=basic&pageToken={token}"),
    )
    .await;
    let ann = &page["users"][0];
    assert_eq!(
        ann["relations"],
        json!([{"type": "manager", "value": "boss@example.com"}])
    );
    assert_eq!(ann["orgUnitPath"], "/Eng");
    assert_eq!(ann["archived"], true);
    assert!(page.get("nextPageToken").is_none());
    assert_eq!(
        list(admin, "&projection=everything".to_string()).await.0,
        400
    );
    // A calendar-only token: 403.
    let calendar = g.mint_access_token_with("it@example.com", &["calendar.readonly"]);
    assert_eq!(list(calendar, String::new()).await.0, 403);
}
