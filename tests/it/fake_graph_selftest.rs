//! Self-tests of the Microsoft Graph fake (`tests/fake_graph/`), driven over loopback HTTP with
//! reqwest. They check the fake against docs/microsoft-graph.md and the sample bodies, not against any
//! client.

use testkit::fake_graph;

use std::collections::BTreeSet;
use std::time::Duration;

use fake_graph::{
    APP_CLIENT_ID, APP_CLIENT_SECRET, Endpoint, FakeGraph, Fault, FaultKind, ItemKind, NewEvent,
    Options, PUBLIC_CLIENT_ID, REFRESH_TOKEN, TENANT_ID, samples,
};
use serde_json::{Value, json};

const WS: &str = "2025-03-01T00:00:00Z";
const WE: &str = "2025-04-01T00:00:00Z";

struct Resp {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn resp(r: reqwest::Response) -> Resp {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
    }
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

struct H {
    g: FakeGraph,
    http: reqwest::Client,
    token: String,
}

impl H {
    fn new() -> H {
        H::with(FakeGraph::start())
    }

    fn with(g: FakeGraph) -> H {
        let token = g.mint_access_token();
        H {
            g,
            http: reqwest::Client::new(),
            token,
        }
    }

    async fn form(&self, url: &str, form: &[(&str, &str)]) -> Resp {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let r = self
            .http
            .post(url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        resp(r).await
    }

    async fn token(&self, form: &[(&str, &str)]) -> Resp {
        self.form(&self.g.token_url("organizations"), form).await
    }

    async fn refresh(&self, rt: &str) -> Resp {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("refresh_token", rt),
            ("scope", "offline_access Calendars.Read"),
        ])
        .await
    }

    async fn get_url(&self, url: &str, prefer: &[&str]) -> Resp {
        let mut b = self.http.get(url).bearer_auth(&self.token);
        for p in prefer {
            b = b.header("Prefer", *p);
        }
        resp(b.send().await.unwrap()).await
    }

    async fn get(&self, path: &str, prefer: &[&str]) -> Resp {
        self.get_url(&format!("{}{path}", self.g.graph_base()), prefer)
            .await
    }

    /// Follows a delta round to its deltaLink; returns (items, deltaLink, pages).
    async fn round(&self, first_url: &str, prefer: &[&str]) -> (Vec<Value>, String, usize) {
        let mut url = first_url.to_string();
        let mut items = Vec::new();
        let mut pages = 0;
        loop {
            let r = self.get_url(&url, prefer).await;
            assert_eq!(r.status, 200, "{}", r.body);
            pages += 1;
            items.extend(r.body["value"].as_array().unwrap().iter().cloned());
            assert!(
                r.body.get("@odata.nextLink").is_some() != r.body.get("@odata.deltaLink").is_some(),
                "exactly one link per page"
            );
            if let Some(next) = r.body["@odata.nextLink"].as_str() {
                assert!(next.contains("?$skiptoken="), "{next}");
                url = next.to_string();
            } else {
                let dl = r.body["@odata.deltaLink"].as_str().unwrap().to_string();
                assert!(dl.contains("?$deltatoken="), "{dl}");
                return (items, dl, pages);
            }
        }
    }

    fn delta_url(&self) -> String {
        format!(
            "{}/me/calendarView/delta?startDateTime={WS}&endDateTime={WE}",
            self.g.graph_base()
        )
    }
}

fn weekly_tuesday(interval: u32) -> Value {
    json!({
        "pattern": {"type": "weekly", "interval": interval, "daysOfWeek": ["tuesday"], "firstDayOfWeek": "monday"},
        "range": {"type": "noEnd", "startDate": "2025-01-07", "recurrenceTimeZone": "W. Europe Standard Time"}
    })
}

fn one_on_one() -> NewEvent {
    NewEvent::new(
        "1on1 Adele / Megan",
        "2025-01-07T10:00",
        "2025-01-07T10:30",
        "W. Europe Standard Time",
    )
    .attendee("MeganB@contoso.com", "required", "accepted")
    .attendee("room1@contoso.com", "resource", "none")
}

// ----- identity platform ---------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_and_old_token_stays_valid_by_default() {
    let h = H::new();
    let r = h.refresh(REFRESH_TOKEN).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let new_rt = r.body["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(new_rt, REFRESH_TOKEN);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3599);
    assert!(r.body["scope"].as_str().unwrap().contains("Calendars.Read"));
    // §1.4: the old one "is not revoked when used" (FAKE-CHOICE keep it valid).
    assert!(h.g.refresh_token_valid(REFRESH_TOKEN));
    assert_eq!(h.refresh(REFRESH_TOKEN).await.status, 200);
    // The new access token works on Graph.
    let at = r.body["access_token"].as_str().unwrap();
    let g = h
        .http
        .get(format!(
            "{}/me/calendarView?startDateTime={WS}&endDateTime={WE}",
            h.g.graph_base()
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), 200);
}

#[tokio::test]
async fn refresh_single_use_when_configured() {
    let h = H::with(FakeGraph::start_with(Options {
        rotated_refresh_token_uses: Some(1),
        ..Options::default()
    }));
    let r = h.refresh(REFRESH_TOKEN).await;
    assert_eq!(r.status, 200);
    let old = h.refresh(REFRESH_TOKEN).await;
    assert_eq!(old.status, 400);
    assert_eq!(old.body["error"], "invalid_grant");
    assert_eq!(old.body["error_codes"], json!([70008]));
    let next = r.body["refresh_token"].as_str().unwrap();
    assert_eq!(h.refresh(next).await.status, 200);
}

#[tokio::test]
async fn inactive_and_revoked_refresh_tokens() {
    let h = H::new();
    h.g.expire_refresh_token_inactive(REFRESH_TOKEN);
    let r = h.refresh(REFRESH_TOKEN).await;
    assert_eq!(r.status, 400);
    let sample = samples::json(samples::TOKEN_INVALID_GRANT_INACTIVE);
    assert_eq!(keys(&r.body), keys(&sample));
    assert_eq!(r.body["error"], "invalid_grant");
    assert_eq!(r.body["error_codes"], json!([700082]));
    let d = r.body["error_description"].as_str().unwrap();
    assert!(d.starts_with("AADSTS700082: "), "{d}");
    assert!(d.contains("\r\nTrace ID: ") && d.contains("\r\nCorrelation ID: "));
    let ts = r.body["timestamp"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%d %H:%M:%SZ").is_ok(),
        "{ts}"
    );

    h.g.add_refresh_token("rt-2", "offline_access Calendars.Read");
    let ok = h.refresh("rt-2").await;
    let at = ok.body["access_token"].as_str().unwrap().to_string();
    h.g.revoke_refresh_token("rt-2");
    let r = h.refresh("rt-2").await;
    assert_eq!(r.body["error_codes"], json!([50173]));
    // Access tokens minted from a revoked grant stop working too.
    let g = h
        .http
        .get(format!("{}/me/events/x", h.g.graph_base()))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), 401);
    // Unknown token, and a scope outside the grant.
    assert_eq!(h.refresh("nope").await.body["error"], "invalid_grant");
    h.g.add_refresh_token("rt-3", "offline_access Calendars.Read");
    let r = h
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("refresh_token", "rt-3"),
            ("scope", "Mail.Read"),
        ])
        .await;
    assert_eq!(r.body["error_codes"], json!([65001]));
}

#[tokio::test]
async fn client_credentials_rules() {
    let h = H::new();
    let url = h.g.token_url(TENANT_ID);
    let ok = h
        .form(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_CLIENT_ID),
                ("client_secret", APP_CLIENT_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let sample = samples::json(samples::TOKEN_CLIENT_CREDENTIALS);
    for k in keys(&sample) {
        assert!(ok.body.get(&k).is_some(), "{k}");
    }
    assert!(ok.body.get("refresh_token").is_none());
    // App-only token: /users/{upn} works, /me does not.
    let at = ok.body["access_token"].as_str().unwrap();
    let me = h
        .http
        .get(format!(
            "{}/me/calendarView?startDateTime={WS}&endDateTime={WE}",
            h.g.graph_base()
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 400);
    let users = h
        .http
        .get(format!(
            "{}/users/ADELE@contoso.onmicrosoft.com/calendarView?startDateTime={WS}&endDateTime={WE}",
            h.g.graph_base()
        ))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);

    let common = h
        .form(
            &h.g.token_url("common"),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_CLIENT_ID),
                ("client_secret", APP_CLIENT_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(common.status, 400);
    assert_eq!(common.body["error_codes"], json!([9001023]));
    let bad_scope = h
        .form(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_CLIENT_ID),
                ("client_secret", APP_CLIENT_SECRET),
                ("scope", "Calendars.Read"),
            ],
        )
        .await;
    assert_eq!(bad_scope.body["error"], "invalid_scope");
    let bad_secret = h
        .form(
            &url,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APP_CLIENT_ID),
                ("client_secret", "wrong"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(bad_secret.status, 401);
    assert_eq!(bad_secret.body["error"], "invalid_client");
    // Public clients must not present a secret (AADSTS700025).
    let public = h
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("client_secret", "x"),
            ("refresh_token", REFRESH_TOKEN),
        ])
        .await;
    assert_eq!(public.body["error_codes"], json!([700025]));
}

#[tokio::test]
async fn device_code_flow() {
    let h = H::new();
    let dc = h
        .form(
            &h.g.device_code_url("organizations"),
            &[
                ("client_id", PUBLIC_CLIENT_ID),
                ("scope", "offline_access Calendars.Read"),
            ],
        )
        .await;
    assert_eq!(dc.status, 200);
    assert_eq!(
        keys(&dc.body),
        keys(&samples::json(samples::DEVICECODE_RESPONSE))
    );
    assert_eq!(dc.body["interval"], 5);
    assert_eq!(dc.body["expires_in"], 900);
    let user_code = dc.body["user_code"].as_str().unwrap().to_string();
    let device_code = dc.body["device_code"].as_str().unwrap().to_string();
    assert!(dc.body["message"].as_str().unwrap().contains(&user_code));
    let poll_form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", PUBLIC_CLIENT_ID),
        ("device_code", device_code.as_str()),
    ];
    let poll = || h.token(&poll_form);
    let p = poll().await;
    assert_eq!(p.status, 400);
    assert_eq!(p.body["error"], "authorization_pending");
    assert_eq!(p.body["error_codes"], json!([70016]));
    let sample = samples::json(samples::TOKEN_AUTHORIZATION_PENDING);
    for k in keys(&sample) {
        assert!(p.body.get(&k).is_some(), "{k}");
    }
    h.g.device_slow_down(&user_code, 1);
    assert_eq!(poll().await.body["error"], "slow_down");
    assert_eq!(poll().await.body["error"], "authorization_pending");
    h.g.approve_device_code(&user_code);
    let ok = poll().await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body["refresh_token"].is_string());
    assert!(ok.body["access_token"].is_string());
    assert_eq!(poll().await.body["error"], "invalid_grant");

    // Declined and expired codes.
    for (action, expected) in [
        ("decline", "authorization_declined"),
        ("expire", "expired_token"),
    ] {
        let dc = h
            .form(
                &h.g.device_code_url("organizations"),
                &[("client_id", PUBLIC_CLIENT_ID), ("scope", "Calendars.Read")],
            )
            .await;
        let uc = dc.body["user_code"].as_str().unwrap();
        if action == "decline" {
            h.g.decline_device_code(uc);
        } else {
            h.g.expire_device_code(uc);
        }
        let p = h
            .token(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", PUBLIC_CLIENT_ID),
                ("device_code", dc.body["device_code"].as_str().unwrap()),
            ])
            .await;
        assert_eq!(p.body["error"], expected);
    }
    // No refresh token without offline_access; the log holds no codes or tokens.
    let log = format!("{:?}", h.g.requests());
    assert!(!log.contains(&device_code) && !log.contains(REFRESH_TOKEN));
    assert!(log.contains("urn:ietf:params:oauth:grant-type:device_code"));
}

// ----- calendarView delta --------------------------------------------------------------------

#[tokio::test]
async fn delta_initial_round_pages_and_shapes() {
    let h = H::new();
    let master = h.g.add_series(&one_on_one(), weekly_tuesday(1));
    let single = h.g.add_event(&NewEvent::new(
        "Offsite",
        "2025-03-12T09:00",
        "2025-03-12T17:00",
        "UTC",
    ));
    let (items, _dl, pages) = h.round(&h.delta_url(), &["odata.maxpagesize=2"]).await;
    // March 2025 Tuesdays: 4, 11, 18, 25 → 4 occurrences + 1 single, pages of 2.
    assert_eq!(items.len(), 5);
    assert_eq!(pages, 3);
    let snap: BTreeSet<String> =
        h.g.snapshot_view(WS, WE)
            .into_iter()
            .map(|v| v.id)
            .collect();
    let got: BTreeSet<String> = items
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(snap, got);
    let bare_keys = keys(&samples::json(samples::DELTA_BARE_OCCURRENCE));
    for it in &items {
        assert_eq!(it["@odata.type"], "#microsoft.graph.event");
        if it["id"] == json!(single) {
            assert_eq!(it["subject"], "Offsite");
            assert_eq!(it["type"], "singleInstance");
        } else {
            assert_eq!(keys(it), bare_keys, "{it}");
            assert_eq!(it["seriesMasterId"], json!(master));
            assert_eq!(it["type"], "occurrence");
            assert_eq!(it["start"]["timeZone"], "UTC");
            // 10:00 Berlin = 09:00Z before 30 March, 08:00Z after (DST).
            let s = it["start"]["dateTime"].as_str().unwrap();
            assert!(s.ends_with("T09:00:00.0000000"), "{s}");
        }
    }
    // Master never listed.
    assert!(!got.contains(&master));
    // Default page size 10 without the Prefer.
    let (_, _, pages) = h.round(&h.delta_url(), &[]).await;
    assert_eq!(pages, 1);
}

#[tokio::test]
async fn delta_next_round_reports_changes_removals_and_noise() {
    let h = H::new();
    let master = h.g.add_series(&one_on_one(), weekly_tuesday(1));
    let gone = h.g.add_event(&NewEvent::new(
        "Gone",
        "2025-03-05T09:00",
        "2025-03-05T10:00",
        "UTC",
    ));
    let far = h.g.add_event(&NewEvent::new(
        "Far",
        "2025-06-05T09:00",
        "2025-06-05T10:00",
        "UTC",
    ));
    let (_, dl, _) = h.round(&h.delta_url(), &[]).await;
    // No change: an empty round with a new deltaLink.
    let (items, dl, _) = h.round(&dl, &[]).await;
    assert!(items.is_empty(), "{items:?}");

    h.g.delete_event(&gone);
    h.g.cancel_occurrence(&master, "2025-03-11");
    let moved = h.g.move_occurrence(
        &master,
        "2025-03-18",
        "2025-03-19T14:00",
        "2025-03-19T14:30",
    );
    let added = h.g.add_event(&NewEvent::new(
        "New",
        "2025-03-20T09:00",
        "2025-03-20T10:00",
        "UTC",
    ));
    h.g.update_event(&far, json!({"subject": "Far, renamed"}));
    let outside = h.g.add_event(&NewEvent::new(
        "Outside",
        "2025-07-01T09:00",
        "2025-07-01T10:00",
        "UTC",
    ));
    let (items, dl, _) = h.round(&dl, &[]).await;
    let by_id = |id: &str| items.iter().find(|v| v["id"] == json!(id)).cloned();
    let removed =
        |id: &str| by_id(id).is_some_and(|v| v["@removed"] == json!({"reason": "deleted"}));
    assert!(removed(&gone));
    assert!(removed(&h.g.occurrence_id(&master, "2025-03-11")));
    // Out-of-window changes come back as @removed (§2.4), new items outside the window too.
    assert!(removed(&far));
    assert!(removed(&outside));
    let exc = by_id(&moved).unwrap();
    assert_eq!(exc["type"], "exception");
    assert_eq!(exc["subject"], "1on1 Adele / Megan");
    assert_eq!(exc["start"]["dateTime"], "2025-03-19T13:00:00.0000000");
    assert_eq!(by_id(&added).unwrap()["subject"], "New");
    // Tombstone shape = sample 08's first item.
    let sample = samples::json(samples::DELTA_NEXT_ROUND_REMOVED);
    assert_eq!(keys(&by_id(&gone).unwrap()), keys(&sample["value"][0]));
    assert_eq!(items.len(), 6, "{items:#?}");
    // Window sealed: the outside event never shows up as an item.
    let (items, _, _) = h.round(&dl, &[]).await;
    assert!(items.is_empty());
}

#[tokio::test]
async fn delta_silent_cancellation_and_master_change() {
    let h = H::new();
    let master = h.g.add_series(&one_on_one(), weekly_tuesday(1));
    let (_, dl, _) = h.round(&h.delta_url(), &[]).await;
    h.g.cancel_occurrence_with(&master, "2025-03-25", false);
    let (items, dl, _) = h.round(&dl, &[]).await;
    assert!(items.is_empty(), "no indication in delta: {items:?}");
    // ... but the master knows.
    let m = h
        .get(
            &format!("/me/events/{master}?$select=subject,cancelledOccurrences"),
            &[],
        )
        .await;
    assert_eq!(
        m.body["cancelledOccurrences"],
        json!([format!("OID.{master}.2025-03-25")])
    );
    // A master change (subject) re-sends its occurrences bare (shared etag).
    h.g.update_event(&master, json!({"subject": "Renamed"}));
    let (items, _, _) = h.round(&dl, &[]).await;
    assert_eq!(items.len(), 3);
    assert!(
        items
            .iter()
            .all(|v| v["type"] == "occurrence" && v.get("subject").is_none())
    );
}

#[tokio::test]
async fn delta_invalidated_token_gives_410() {
    let h = H::new();
    h.g.add_event(&NewEvent::new(
        "A",
        "2025-03-05T09:00",
        "2025-03-05T10:00",
        "UTC",
    ));
    h.g.add_event(&NewEvent::new(
        "B",
        "2025-03-06T09:00",
        "2025-03-06T10:00",
        "UTC",
    ));
    let first = h.get_url(&h.delta_url(), &["odata.maxpagesize=1"]).await;
    let next = first.body["@odata.nextLink"].as_str().unwrap().to_string();
    let (_, dl, _) = h.round(&h.delta_url(), &[]).await;
    h.g.invalidate_delta_tokens();
    let sample = samples::json(samples::ERROR_410_SYNC_STATE_NOT_FOUND);
    for url in [&dl, &next] {
        let r = h.get_url(url, &[]).await;
        assert_eq!(r.status, 410);
        assert_eq!(r.body["error"]["code"], "SyncStateNotFound");
        assert_eq!(keys(&r.body["error"]), keys(&sample["error"]));
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("The sync state generation is not found")
        );
    }
    h.g.configure(|o| o.sync_state_not_found_code = "syncStateNotFound".into());
    let r = h
        .get_url(
            &format!(
                "{}/me/calendarView/delta?$deltatoken=bogus",
                h.g.graph_base()
            ),
            &[],
        )
        .await;
    assert_eq!(r.status, 410);
    assert_eq!(r.body["error"]["code"], "syncStateNotFound");
    // A fresh initial round works again.
    let (items, _, _) = h.round(&h.delta_url(), &[]).await;
    assert_eq!(items.len(), 2);
}

#[tokio::test]
async fn delta_prefer_timezone_users_prefix_and_empty_first_page() {
    let h = H::with(FakeGraph::start_with(Options {
        empty_first_page: true,
        ..Options::default()
    }));
    h.g.add_event(&NewEvent::new(
        "A",
        "2025-03-05T09:00",
        "2025-03-05T10:00",
        "UTC",
    ));
    let url = format!(
        "{}/users/adele@contoso.onmicrosoft.com/calendarView/delta?startDateTime=2025-03-01T00:00:00&endDateTime=2025-04-01T00:00:00",
        h.g.graph_base()
    );
    let p = [
        "outlook.timezone=\"Pacific Standard Time\"",
        "odata.maxpagesize=5",
    ];
    let first = h.get_url(&url, &p).await;
    assert_eq!(first.body["value"], json!([]));
    let next = first.body["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.contains("/v1.0/users/adele@contoso.onmicrosoft.com/calendarView/delta?$skiptoken="),
        "{next}"
    );
    let applied = first.headers["preference-applied"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        applied.contains("odata.track-changes")
            && applied.contains("outlook.timezone=\"Pacific Standard Time\""),
        "{applied}"
    );
    let page = h.get_url(next, &p).await;
    let it = &page.body["value"][0];
    assert_eq!(
        it["start"],
        json!({"dateTime": "2025-03-05T01:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );
    assert!(
        page.body["@odata.deltaLink"]
            .as_str()
            .unwrap()
            .contains("/users/adele@contoso.onmicrosoft.com/")
    );
    // Not supported on delta.
    let r = h
        .get(
            &format!("/me/calendarView/delta?startDateTime={WS}&endDateTime={WE}&$select=subject"),
            &[],
        )
        .await;
    assert_eq!(r.status, 400);
}

// ----- events, calendarView, recurrence ------------------------------------------------------

#[tokio::test]
async fn get_series_master_occurrence_and_exception() {
    let h = H::new();
    let master = h.g.add_series(&one_on_one(), weekly_tuesday(2));
    h.g.cancel_occurrence(&master, "2025-03-04");
    let exc = h.g.move_occurrence(
        &master,
        "2025-03-18",
        "2025-03-18T15:00",
        "2025-03-18T15:30",
    );
    let m = h.get(&format!("/me/events/{master}"), &[]).await;
    assert_eq!(m.status, 200);
    let b = &m.body;
    assert_eq!(b["type"], "seriesMaster");
    assert_eq!(b["seriesMasterId"], Value::Null);
    assert_eq!(b["originalStartTimeZone"], "W. Europe Standard Time");
    assert_eq!(b["recurrence"]["pattern"]["interval"], 2);
    assert_eq!(b["recurrence"]["range"]["endDate"], "0001-01-01");
    assert_eq!(
        b["recurrence"]["range"]["recurrenceTimeZone"],
        "W. Europe Standard Time"
    );
    assert_eq!(b["responseStatus"]["response"], "organizer");
    assert_eq!(b["attendees"][1]["type"], "resource");
    assert_eq!(b["attendees"][0]["status"]["response"], "accepted");
    assert_eq!(b["attendees"][1]["status"]["time"], "0001-01-01T00:00:00Z");
    assert_eq!(
        b["@odata.etag"],
        json!(format!("W/\"{}\"", b["changeKey"].as_str().unwrap()))
    );
    assert!(b.get("cancelledOccurrences").is_none(), "only with $select");
    // Every key of sample 12 is present.
    for k in keys(&samples::json(samples::EVENT_SERIES_MASTER)) {
        assert!(b.get(&k).is_some(), "{k}");
    }
    let sel = h
        .get(&format!("/me/events/{master}?$select=subject,start,end,cancelledOccurrences,exceptionOccurrences&$expand=exceptionOccurrences"), &[])
        .await;
    assert_eq!(
        sel.body["cancelledOccurrences"],
        json!([format!("OID.{master}.2025-03-04")])
    );
    assert_eq!(sel.body["exceptionOccurrences"][0]["id"], json!(exc));
    assert!(sel.body.get("attendees").is_none());
    // Occurrence and exception by id.
    let occ = h.g.occurrence_id(&master, "2025-04-01");
    let o = h.get(&format!("/me/events/{occ}"), &[]).await;
    assert_eq!(o.body["type"], "occurrence");
    assert_eq!(o.body["seriesMasterId"], json!(master));
    assert_eq!(o.body["recurrence"], Value::Null);
    assert_eq!(o.body["originalStart"], "2025-04-01T08:00:00Z");
    assert_ne!(o.body["iCalUId"], b["iCalUId"]);
    let e = h
        .get(
            &format!("/me/events/{exc}"),
            &["outlook.timezone=\"W. Europe Standard Time\""],
        )
        .await;
    assert_eq!(e.body["type"], "exception");
    assert_eq!(e.body["start"]["dateTime"], "2025-03-18T15:00:00.0000000");
    assert_eq!(
        e.headers["preference-applied"],
        "outlook.timezone=\"W. Europe Standard Time\""
    );
    let gone = h
        .get(
            &format!("/me/events/{}", h.g.occurrence_id(&master, "2025-03-04")),
            &[],
        )
        .await;
    assert_eq!(gone.status, 404);
    assert_eq!(gone.body["error"]["code"], "ErrorItemNotFound");
    assert!(gone.body["error"]["innerError"]["request-id"].is_string());
    // A date that isn't in the pattern is not an occurrence.
    let off = h
        .get(
            &format!("/me/events/{}", h.g.occurrence_id(&master, "2025-03-11")),
            &[],
        )
        .await;
    assert_eq!(off.status, 404);
}

#[tokio::test]
async fn decline_and_organizer_fields() {
    let h = H::new();
    let id = h.g.add_event(
        &NewEvent::new(
            "Staff",
            "2025-03-05T09:00",
            "2025-03-05T10:00",
            "Eastern Standard Time",
        )
        .organized_by("Megan Bowen", "MeganB@contoso.com")
        .attendee("adele@contoso.onmicrosoft.com", "optional", "none"),
    );
    let before = h.get(&format!("/me/events/{id}"), &[]).await.body;
    assert_eq!(before["isOrganizer"], false);
    assert_eq!(before["responseStatus"]["response"], "notResponded");
    assert_eq!(
        before["organizer"]["emailAddress"]["address"],
        "MeganB@contoso.com"
    );
    assert_eq!(before["start"]["dateTime"], "2025-03-05T14:00:00.0000000");
    h.g.decline(&id);
    let after = h.get(&format!("/me/events/{id}"), &[]).await.body;
    assert_eq!(after["responseStatus"]["response"], "declined");
    assert_eq!(after["attendees"][0]["status"]["response"], "declined");
    assert_ne!(after["changeKey"], before["changeKey"]);
}

#[tokio::test]
async fn calendar_view_pages_and_excludes_masters() {
    let h = H::new();
    let master = h.g.add_series(&one_on_one(), weekly_tuesday(1));
    for d in 1..=12 {
        h.g.add_event(&NewEvent::new(
            "x",
            &format!("2025-03-{d:02}T12:00"),
            &format!("2025-03-{d:02}T12:30"),
            "UTC",
        ));
    }
    let mut url = format!(
        "{}/me/calendarView?startDateTime={WS}&endDateTime={WE}",
        h.g.graph_base()
    );
    let mut all = Vec::new();
    loop {
        let r = h.get_url(&url, &[]).await;
        assert!(r.body["value"].as_array().unwrap().len() <= 10);
        all.extend(r.body["value"].as_array().unwrap().clone());
        match r.body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(all.len(), 16);
    assert!(
        all.iter()
            .all(|v| v["type"] != "seriesMaster" && v["id"] != json!(master))
    );
    let occ = all.iter().find(|v| v["type"] == "occurrence").unwrap();
    assert_eq!(
        occ["subject"], "1on1 Adele / Megan",
        "calendarView occurrences are full"
    );
    let r = h
        .get(
            &format!(
                "/me/calendarView?startDateTime={WS}&endDateTime={WE}&$top=100&$select=subject"
            ),
            &[],
        )
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 16);
    assert!(r.body["value"][0].get("attendees").is_none());
    let missing = h.get("/me/calendarView", &[]).await;
    assert_eq!(missing.status, 400);
}

#[tokio::test]
async fn recurrence_patterns_expand() {
    let g = FakeGraph::start();
    let dates = |id: &str, from: &str, to: &str| -> Vec<String> {
        g.snapshot_view(from, to)
            .into_iter()
            .filter(|v| v.series_master_id.as_deref() == Some(id))
            .map(|v| v.start.format("%Y-%m-%dT%H:%MZ").to_string())
            .collect()
    };
    let ev = |tz: &str| NewEvent::new("r", "2025-01-01T10:00", "2025-01-01T10:30", tz);
    // Biweekly Tuesday across the DST change in Berlin (30 March 2025).
    let bi = g.add_series(&ev("W. Europe Standard Time"), weekly_tuesday(2));
    assert_eq!(
        dates(&bi, "2025-03-01T00:00:00Z", "2025-04-20T00:00:00Z"),
        [
            "2025-03-04T09:00Z",
            "2025-03-18T09:00Z",
            "2025-04-01T08:00Z",
            "2025-04-15T08:00Z"
        ]
    );
    // Daily every 3 days, numbered 4.
    let daily = g.add_series(
        &ev("UTC"),
        json!({
        "pattern": {"type": "daily", "interval": 3},
        "range": {"type": "numbered", "startDate": "2025-03-01", "numberOfOccurrences": 4}}),
    );
    assert_eq!(
        dates(&daily, WS, WE),
        [
            "2025-03-01T10:00Z",
            "2025-03-04T10:00Z",
            "2025-03-07T10:00Z",
            "2025-03-10T10:00Z"
        ]
    );
    // Weekly Mon+Thu with an end date (inclusive).
    let mt = g.add_series(&ev("UTC"), json!({
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "thursday"], "firstDayOfWeek": "sunday"},
        "range": {"type": "endDate", "startDate": "2025-03-04", "endDate": "2025-03-10"}}));
    assert_eq!(
        dates(&mt, WS, WE),
        ["2025-03-06T10:00Z", "2025-03-10T10:00Z"]
    );
    // absoluteMonthly on the 31st: last day in shorter months.
    let am = g.add_series(
        &ev("UTC"),
        json!({
        "pattern": {"type": "absoluteMonthly", "interval": 1, "dayOfMonth": 31},
        "range": {"type": "noEnd", "startDate": "2025-01-31"}}),
    );
    assert_eq!(
        dates(&am, "2025-01-01T00:00:00Z", "2025-05-01T00:00:00Z"),
        [
            "2025-01-31T10:00Z",
            "2025-02-28T10:00Z",
            "2025-03-31T10:00Z",
            "2025-04-30T10:00Z"
        ]
    );
    // relativeMonthly: last Friday, in New York (EST→EDT on 9 March).
    let rm = g.add_series(&ev("Eastern Standard Time"), json!({
        "pattern": {"type": "relativeMonthly", "interval": 1, "daysOfWeek": ["friday"], "index": "last"},
        "range": {"type": "noEnd", "startDate": "2025-02-01"}}));
    assert_eq!(
        dates(&rm, "2025-02-01T00:00:00Z", "2025-04-01T00:00:00Z"),
        ["2025-02-28T15:00Z", "2025-03-28T14:00Z"]
    );
    // absoluteYearly and relativeYearly.
    let ay = g.add_series(
        &ev("UTC"),
        json!({
        "pattern": {"type": "absoluteYearly", "interval": 1, "month": 3, "dayOfMonth": 15},
        "range": {"type": "noEnd", "startDate": "2024-03-15"}}),
    );
    assert_eq!(
        dates(&ay, "2024-01-01T00:00:00Z", "2026-12-31T00:00:00Z"),
        [
            "2024-03-15T10:00Z",
            "2025-03-15T10:00Z",
            "2026-03-15T10:00Z"
        ]
    );
    let ry = g.add_series(&ev("UTC"), json!({
        "pattern": {"type": "relativeYearly", "interval": 1, "month": 11, "daysOfWeek": ["thursday"], "index": "fourth"},
        "range": {"type": "numbered", "startDate": "2024-01-01", "numberOfOccurrences": 2}}));
    assert_eq!(
        dates(&ry, "2024-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ["2024-11-28T10:00Z", "2025-11-27T10:00Z"]
    );
    // snapshot kinds.
    let exc = g.move_occurrence(&bi, "2025-03-04", "2025-03-05T10:00", "2025-03-05T10:30");
    let v = g.snapshot_view("2025-03-01T00:00:00Z", "2025-03-08T00:00:00Z");
    let e = v.iter().find(|x| x.id == exc).unwrap();
    assert_eq!(e.kind, ItemKind::Exception);
}

// ----- faults, auth, log ---------------------------------------------------------------------

#[tokio::test]
async fn faults_and_auth_errors() {
    let h = H::new();
    let path = format!("/me/calendarView?startDateTime={WS}&endDateTime={WE}");
    h.g.push_fault(Fault::new(FaultKind::Throttled {
        retry_after: Some(2),
    }));
    let r = h.get(&path, &[]).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.headers["retry-after"], "2");
    assert_eq!(r.body, samples::json(samples::ERROR_429_THROTTLED));
    h.g.push_fault(Fault::new(FaultKind::Unavailable503 {
        retry_after: Some(7),
    }));
    h.g.push_fault(Fault::new(FaultKind::GatewayTimeout504));
    let r = h.get(&path, &[]).await;
    assert_eq!(
        (r.status, r.headers["retry-after"].to_str().unwrap()),
        (503, "7")
    );
    assert!(r.headers.contains_key("request-id"));
    assert_eq!(h.get(&path, &[]).await.status, 504);
    h.g.push_fault(Fault::new(FaultKind::DropConnection));
    let dropped = h
        .http
        .get(format!("{}{path}", h.g.graph_base()))
        .bearer_auth(&h.token)
        .send()
        .await;
    assert!(dropped.is_err());
    assert_eq!(h.get(&path, &[]).await.status, 200);
    // Token endpoint faults only when targeted.
    h.g.push_fault(Fault::new(FaultKind::Unavailable503 { retry_after: None }).on(Endpoint::Token));
    assert_eq!(h.get(&path, &[]).await.status, 200);
    assert_eq!(h.refresh(REFRESH_TOKEN).await.status, 503);
    // 401 fault: the presented token stays expired.
    h.g.push_fault(Fault::new(FaultKind::Unauthorized401));
    let r = h.get(&path, &[]).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(h.get(&path, &[]).await.status, 401);
    let mut h2 = H::new();
    h2.g.expire_access_tokens();
    assert_eq!(h2.get(&path, &[]).await.status, 401);
    h2.token = "nonsense".into();
    assert_eq!(h2.get(&path, &[]).await.status, 401);
    assert_eq!(h.g.pending_faults(), 0);
    // Log: counted, and no bearer token value.
    assert!(h.g.count(Endpoint::CalendarView) >= 8);
    let log = format!("{:?}", h.g.requests());
    assert!(!log.contains(&h.token));
    assert!(
        h.g.requests_to(Endpoint::CalendarView)[0].header("authorization")
            == Some("Bearer <redacted>")
    );
}

#[tokio::test]
async fn concurrency_limit_gives_429() {
    let h = H::new();
    h.g.push_fault(Fault::new(FaultKind::Delay(Duration::from_millis(300))).times(5));
    let path = format!(
        "{}/me/calendarView?startDateTime={WS}&endDateTime={WE}",
        h.g.graph_base()
    );
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let (c, u, t) = (h.http.clone(), path.clone(), h.token.clone());
        tasks.push(tokio::spawn(async move {
            c.get(u)
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes.sort();
    assert_eq!(codes, [200, 200, 200, 200, 429]);
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let h = H::new();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let authorize = |redirect: &str, challenge: &str, method: &str| {
        let mut u =
            reqwest::Url::parse(&format!("{}/{TENANT_ID}/oauth2/v2.0/authorize", h.g.url()))
                .unwrap();
        u.query_pairs_mut()
            .append_pair("client_id", PUBLIC_CLIENT_ID)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect)
            .append_pair("response_mode", "query")
            .append_pair("scope", "offline_access Calendars.Read")
            .append_pair("state", "st4te")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", method);
        u
    };
    // RFC 7636 appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let code_of = |location: &str| {
        let u = reqwest::Url::parse(location).unwrap();
        let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
        assert_eq!(q.get("state").map(String::as_str), Some("st4te"));
        q.get("code").cloned()
    };
    // The port of a loopback redirect is ignored; the redirect carries code and state.
    let redirect = "http://127.0.0.1:49152";
    let r = no_redirect
        .get(authorize(redirect, challenge, "S256"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(redirect), "{location}");
    let code = code_of(&location).expect("a code");
    // A wrong verifier: invalid_grant AADSTS501481.
    let redeem = |code: &str, verifier: &str, redirect: &str| {
        let (code, verifier, redirect) =
            (code.to_string(), verifier.to_string(), redirect.to_string());
        let h = &h;
        async move {
            h.token(&[
                ("grant_type", "authorization_code"),
                ("client_id", PUBLIC_CLIENT_ID),
                ("scope", "offline_access Calendars.Read"),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", &verifier),
            ])
            .await
        }
    };
    let bad = redeem(
        &code,
        "not-the-verifier-not-the-verifier-not-the-ver",
        redirect,
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"], "invalid_grant");
    assert_eq!(bad.body["error_codes"], json!([501481]));
    let wrong_redirect = redeem(&code, verifier, "http://127.0.0.1:1").await;
    assert_eq!(wrong_redirect.body["error"], "invalid_grant");
    let ok = redeem(&code, verifier, redirect).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.body["refresh_token"].is_string() && ok.body["access_token"].is_string());
    // Single use: AADSTS54005.
    let again = redeem(&code, verifier, redirect).await;
    assert_eq!(again.body["error_codes"], json!([54005]));
    // localhost matches too; [::1] and https hosts other than loopback do not (no redirect).
    let r = no_redirect
        .get(authorize("http://localhost:8080", challenge, "S256"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    for bad in ["http://[::1]:8080", "http://example.com:8080"] {
        let r = no_redirect
            .get(authorize(bad, challenge, "S256"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
    }
    // A public client presenting a secret: AADSTS700025.
    let r = h
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("client_secret", "x"),
            ("code", "whatever"),
        ])
        .await;
    assert_eq!(r.body["error_codes"], json!([700025]));
    // Declined: redirected with access_denied and the state.
    h.g.deny_next_authorization();
    let r = no_redirect
        .get(authorize(redirect, challenge, "S256"))
        .send()
        .await
        .unwrap();
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("error=access_denied"), "{location}");
    assert_eq!(code_of(&location), None);
}

/// §3.5 FAKE-CHOICE: an all-day event is floating. Created in Tokyo (UTC+9), it is still
/// midnight to midnight of its own dates in UTC and in any requested zone, never converted.
#[tokio::test]
async fn all_day_events_are_floating() {
    let h = H::new();
    let id = h.g.add_event(
        &NewEvent::new(
            "Offsite",
            "2025-03-05T00:00",
            "2025-03-07T00:00",
            "Tokyo Standard Time",
        )
        .with("isAllDay", json!(true)),
    );
    let utc = h.get(&format!("/me/events/{id}"), &[]).await;
    assert_eq!(utc.status, 200, "{}", utc.body);
    assert_eq!(utc.body["isAllDay"], json!(true));
    assert_eq!(
        utc.body["start"],
        json!({"dateTime": "2025-03-05T00:00:00.0000000", "timeZone": "UTC"})
    );
    assert_eq!(
        utc.body["end"],
        json!({"dateTime": "2025-03-07T00:00:00.0000000", "timeZone": "UTC"})
    );
    let (items, _, _) = h
        .round(
            &h.delta_url(),
            &["outlook.timezone=\"Pacific Standard Time\""],
        )
        .await;
    let it = items.iter().find(|i| i["id"] == json!(id)).unwrap();
    assert_eq!(
        it["start"],
        json!({"dateTime": "2025-03-05T00:00:00.0000000", "timeZone": "Pacific Standard Time"})
    );

    // An all-day weekly series: its bare delta occurrences and its master are floating too.
    let master = h.g.add_series(
        &NewEvent::new(
            "Remote day",
            "2025-03-07T00:00",
            "2025-03-08T00:00",
            "Tokyo Standard Time",
        )
        .with("isAllDay", json!(true)),
        json!({
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["friday"]},
            "range": {"type": "numbered", "startDate": "2025-03-07", "numberOfOccurrences": 2}
        }),
    );
    let (items, _, _) = h.round(&h.delta_url(), &[]).await;
    let starts: Vec<&Value> = items
        .iter()
        .filter(|i| i["seriesMasterId"] == json!(master))
        .map(|i| &i["start"])
        .collect();
    assert_eq!(
        starts,
        vec![
            &json!({"dateTime": "2025-03-07T00:00:00.0000000", "timeZone": "UTC"}),
            &json!({"dateTime": "2025-03-14T00:00:00.0000000", "timeZone": "UTC"}),
        ]
    );
    let m = h.get(&format!("/me/events/{master}"), &[]).await;
    assert_eq!(
        m.body["start"],
        json!({"dateTime": "2025-03-07T00:00:00.0000000", "timeZone": "UTC"})
    );
}

// ----- getSchedule, POST/DELETE events, events by extended property (scheduling) -----------

impl H {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Resp {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.g.graph_base()))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        resp(req.send().await.unwrap()).await
    }
}

fn schedule_query(who: &[&str], start: &str, end: &str) -> Value {
    json!({
        "schedules": who,
        "startTime": {"dateTime": start, "timeZone": "UTC"},
        "endTime": {"dateTime": end, "timeZone": "UTC"},
        "availabilityViewInterval": 60
    })
}

#[tokio::test]
async fn get_schedule_reports_items_view_working_hours_and_unknown_addresses() {
    let h = H::new();
    h.g.add_event(&NewEvent::new(
        "Mine",
        "2025-03-03T10:00",
        "2025-03-03T11:00",
        "UTC",
    ));
    h.g.add_event(
        &NewEvent::new("Maybe", "2025-03-03T12:00", "2025-03-03T13:00", "UTC")
            .with("showAs", json!("tentative")),
    );
    h.g.add_schedule(
        "alice@contoso.com",
        fake_graph::schedule::default_hours("W. Europe Standard Time"),
        &[
            ("2025-03-03T09:00:00Z", "2025-03-03T10:00:00Z", "oof"),
            ("2025-03-03T09:30:00Z", "2025-03-03T11:00:00Z", "busy"),
        ],
    );
    let r = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &[
                    fake_graph::DEFAULT_USER,
                    "alice@contoso.com",
                    "nobody@contoso.com",
                ],
                "2025-03-03T08:00:00",
                "2025-03-03T14:00:00",
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.body["value"].as_array().unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(v[0]["availabilityView"], "002010");
    assert_eq!(v[0]["scheduleItems"][1]["status"], "tentative");
    assert_eq!(v[1]["availabilityView"], "032000");
    assert_eq!(
        v[1]["workingHours"]["timeZone"]["name"],
        "W. Europe Standard Time"
    );
    assert_eq!(
        v[1]["scheduleItems"][0]["start"]["dateTime"],
        "2025-03-03T09:00:00.0000000"
    );
    assert_eq!(v[2]["error"]["responseCode"], "5009");
    assert!(v[2].get("scheduleItems").is_none());
    h.g.omit_working_hours(true);
    let r = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &["alice@contoso.com"],
                "2025-03-03T08:00:00",
                "2025-03-03T14:00:00",
            )),
        )
        .await;
    assert!(r.body["value"][0].get("workingHours").is_none());
    // Limits.
    let many: Vec<String> = (0..101).map(|i| format!("u{i}@contoso.com")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let r = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &refs,
                "2025-03-03T08:00:00",
                "2025-03-03T14:00:00",
            )),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "ErrorMailboxDataArrayTooBig");
    let r = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &["alice@contoso.com"],
                "2025-03-01T00:00:00",
                "2025-05-02T00:00:00",
            )),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["code"], "ErrorTimeIntervalTooBig");
}

#[tokio::test]
async fn created_events_show_in_views_schedules_and_filters_and_delete_once() {
    let h = H::new();
    h.g.add_schedule(
        "alice@contoso.com",
        fake_graph::schedule::default_hours("UTC"),
        &[],
    );
    let prop = "String {5b1c3e7a-2f4d-4b8e-9c61-0d7a3f2e8b14} Name cadencedMakeup";
    let body = json!({
        "subject": "1on1 (make-up)",
        "start": {"dateTime": "2025-03-04T14:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2025-03-04T14:30:00", "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": "alice@contoso.com"}, "type": "required"}],
        "transactionId": "tx-1",
        "singleValueExtendedProperties": [{"id": prop, "value": "alert-1"}]
    });
    let r = h
        .call(reqwest::Method::POST, "/me/events", Some(body.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(r.body["transactionId"], "tx-1");
    // The same transaction again: the same event, no second invitation.
    let r2 = h
        .call(reqwest::Method::POST, "/me/events", Some(body))
        .await;
    assert_eq!(r2.status, 201);
    assert_eq!(r2.body["id"], id.as_str());
    assert_eq!(h.g.duplicate_posts(), 1);
    assert_eq!(h.g.outbox().len(), 1);
    assert!(h.g.snapshot_view(WS, WE).iter().any(|i| i.id == id));
    let filter = format!(
        "/me/events?$filter={}",
        form_urlencoded::byte_serialize(
            format!(
                "singleValueExtendedProperties/Any(ep: ep/id eq '{prop}' and ep/value eq 'alert-1')"
            )
            .as_bytes()
        )
        .collect::<String>()
    );
    let l = h.call(reqwest::Method::GET, &filter, None).await;
    assert_eq!(l.body["value"][0]["id"], id.as_str());
    let s = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &["alice@contoso.com"],
                "2025-03-04T14:00:00",
                "2025-03-04T15:00:00",
            )),
        )
        .await;
    assert_eq!(s.body["value"][0]["availabilityView"], "2");
    let missing = h
        .call(
            reqwest::Method::POST,
            "/me/events",
            Some(json!({"subject": "x"})),
        )
        .await;
    assert_eq!(missing.status, 400);
    let d = h
        .call(reqwest::Method::DELETE, &format!("/me/events/{id}"), None)
        .await;
    assert_eq!(d.status, 204);
    let d2 = h
        .call(reqwest::Method::DELETE, &format!("/me/events/{id}"), None)
        .await;
    assert_eq!(d2.status, 404);
    assert_eq!(d2.body["error"]["code"], "ErrorItemNotFound");
    assert_eq!(h.g.outbox().last().unwrap().0, "cancel");
    let l = h.call(reqwest::Method::GET, &filter, None).await;
    assert_eq!(l.body["value"], json!([]));
    let s = h
        .call(
            reqwest::Method::POST,
            "/me/calendar/getSchedule",
            Some(schedule_query(
                &["alice@contoso.com"],
                "2025-03-04T14:00:00",
                "2025-03-04T15:00:00",
            )),
        )
        .await;
    assert_eq!(s.body["value"][0]["availabilityView"], "0");
}

/// Org mode's side of the fake: `GET /users` (select-only properties, the manager expanded,
/// paging by the whole nextLink, `$levels` refused on the collection, 403 without the
/// permission) and several mailboxes, each with its own events under `/users/{upn|id}`.
#[tokio::test]
async fn users_listing_and_several_mailboxes() {
    let h = H::new();
    let user = |id: &str, upn: &str, manager: Option<&str>, enabled: bool| fake_graph::OrgUser {
        id: id.into(),
        upn: upn.into(),
        mail: Some(upn.into()),
        display_name: format!("{id} Person"),
        manager: manager.map(Into::into),
        account_enabled: enabled,
        department: Some("Eng".into()),
        hire_date: Some("2026-01-05T00:00:00Z".into()),
    };
    h.g.set_users(vec![
        user("1", "boss@contoso.com", None, true),
        user("2", "ann@contoso.com", Some("1"), true),
        user("3", "off@contoso.com", Some("1"), false),
    ]);
    // Default properties only without $select; no manager without $expand.
    let r = h.get("/users", &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let first = &r.body["value"][0];
    assert!(first.get("userPrincipalName").is_some());
    for k in [
        "accountEnabled",
        "department",
        "employeeHireDate",
        "manager",
    ] {
        assert!(first.get(k).is_none(), "{k} without $select/$expand");
    }
    // Selected, expanded, two per page: follow the nextLink as it is.
    let mut url = format!(
        "{}/users?$select=id,mail,accountEnabled,department,employeeHireDate&$expand=manager&$top=2",
        h.g.graph_base()
    );
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let r = h.get_url(&url, &[]).await;
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        all.extend(r.body["value"].as_array().unwrap().iter().cloned());
        match r.body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["accountEnabled"], true);
    assert_eq!(all[2]["accountEnabled"], false);
    assert_eq!(all[1]["employeeHireDate"], "2026-01-05T00:00:00Z");
    assert!(all[0].get("manager").is_none());
    assert_eq!(all[1]["manager"]["id"], "1");
    assert_eq!(all[1]["manager"]["@odata.type"], "#microsoft.graph.user");
    assert!(all[1].get("displayName").is_none(), "not selected");
    // $levels only on a single user; $top over 999; $skip: 400.
    for bad in [
        "/users?$expand=manager($levels=1;$select=id)",
        "/users?$top=1000",
        "/users?$skip=1",
    ] {
        assert_eq!(h.get(bad, &[]).await.status, 400, "{bad}");
    }
    h.g.deny_users(true);
    let r = h.get("/users", &[]).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["error"]["code"], "Authorization_RequestDenied");
    h.g.deny_users(false);

    // Two mailboxes: each /users/{upn}/calendarView lists only its own events; /me stays the
    // signed-in owner's; an unknown user is 404.
    h.g.add_mailbox("megan@contoso.com", "Megan Bowen");
    assert!(h.g.use_mailbox("megan@contoso.com"));
    h.g.add_event(&NewEvent::new(
        "megan's",
        "2025-03-10T09:00",
        "2025-03-10T10:00",
        "UTC",
    ));
    assert!(h.g.use_mailbox(fake_graph::DEFAULT_USER));
    h.g.add_event(&NewEvent::new(
        "adele's",
        "2025-03-11T09:00",
        "2025-03-11T10:00",
        "UTC",
    ));
    let subjects = |r: &Resp| -> Vec<String> {
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["subject"].as_str().unwrap().to_string())
            .collect()
    };
    let view = format!("calendarView?startDateTime={WS}&endDateTime={WE}");
    let megan = h
        .get(&format!("/users/megan@contoso.com/{view}"), &[])
        .await;
    assert_eq!(megan.status, 200, "{}", megan.body);
    assert_eq!(subjects(&megan), ["megan's"]);
    let me = h.get(&format!("/me/{view}"), &[]).await;
    assert_eq!(subjects(&me), ["adele's"]);
    let owner = h
        .get(&format!("/users/{}/{view}", fake_graph::DEFAULT_USER), &[])
        .await;
    assert_eq!(subjects(&owner), ["adele's"]);
    let nobody = h
        .get(&format!("/users/nobody@contoso.com/{view}"), &[])
        .await;
    assert_eq!(nobody.status, 404);
}
