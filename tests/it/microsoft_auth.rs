//! Microsoft authorization end to end: the real `cadenced auth` binary (and the library's
//! [`Authenticator`]) against the stateful identity-platform fake over loopback.

use crate::common;
use testkit::fake_graph;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cadenced::config::{MicrosoftAccount, MicrosoftAuth};
use cadenced::providers::microsoft::auth::{AuthError, Authenticator, Clock};
use cadenced::providers::tokens::{Tokens, load_tokens, save_tokens, token_path};
use chrono::{DateTime, Utc};
use common::{Env, stderr};
use fake_graph::{Endpoint, FakeGraph, Options, PUBLIC_CLIENT_ID, REFRESH_TOKEN, TENANT_ID};

const ACCOUNT: &str = "m365";

fn env_for(g: &FakeGraph) -> Env {
    Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\n\n[[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\n\
         tenant = \"{TENANT_ID}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n",
        g.url(),
        g.graph_base()
    ))
}

fn fast_device() -> FakeGraph {
    FakeGraph::start_with(Options {
        device_poll_interval_secs: 1,
        ..Options::default()
    })
}

fn form<'a>(r: &'a fake_graph::RecordedRequest, name: &str) -> Option<&'a str> {
    r.form
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn stored(env: &Env) -> Tokens {
    load_tokens(&token_path(&env.state, ACCOUNT))
        .unwrap()
        .expect("token file")
}

/// Runs `auth --device`, hands the user code printed on stderr to `act`, returns the outcome.
fn device_run(env: &Env, act: impl FnOnce(&str)) -> (Option<i32>, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cadenced"))
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .args(["auth", ACCOUNT, "--device"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let seen = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        for line in err.lines().map_while(Result::ok) {
            // Record the line before handing the code over, so the caller sees it.
            sink.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(code) = line.split("enter the code ").nth(1) {
                let code: String = code.chars().take_while(|c| c.is_alphanumeric()).collect();
                let _ = tx.send(code);
            }
        }
    });
    let code = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a user code on stderr");
    assert!(
        seen.lock()
            .unwrap()
            .contains("https://microsoft.com/devicelogin")
    );
    act(&code);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let text = seen.lock().unwrap().clone();
    (status.code(), text)
}

#[test]
fn device_flow_stores_tokens_0600() {
    let g = fast_device();
    let env = env_for(&g);
    let (code, err) = device_run(&env, |user_code| g.approve_device_code(user_code));
    assert_eq!(code, Some(0), "{err}");
    let path = token_path(&env.state, ACCOUNT);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let t = stored(&env);
    assert!(g.refresh_token_valid(t.refresh_token.as_deref().unwrap()));
    assert!(t.access_token.is_some() && t.expires_at.is_some());
    // The device code request asked for offline access. (A public client sending a secret would
    // have been refused by the fake with AADSTS700025; the log holds no secrets to check.)
    let dc = g.requests_to(Endpoint::DeviceCode);
    assert!(form(&dc[0], "scope").unwrap().contains("offline_access"));
    assert!(
        g.requests_to(Endpoint::Token)
            .iter()
            .any(|r| r.grant_type() == Some("urn:ietf:params:oauth:grant-type:device_code"))
    );
}

#[test]
fn device_flow_slow_down_then_success() {
    let g = fast_device();
    let env = env_for(&g);
    let (code, err) = device_run(&env, |user_code| {
        g.device_slow_down(user_code, 1);
        g.approve_device_code(user_code);
    });
    assert_eq!(code, Some(0), "{err}");
    assert!(stored(&env).refresh_token.is_some());
}

#[test]
fn device_flow_declined_exits_1() {
    let g = fast_device();
    let env = env_for(&g);
    let (code, err) = device_run(&env, |user_code| g.decline_device_code(user_code));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("declined"), "{err}");
    assert!(!token_path(&env.state, ACCOUNT).exists());
}

#[test]
fn device_flow_expired_exits_1() {
    let g = fast_device();
    let env = env_for(&g);
    let (code, err) = device_run(&env, |user_code| g.expire_device_code(user_code));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("expired"), "{err}");
}

fn auth_stdin(env: &Env, input: &str) -> std::process::Output {
    env.run_with_stdin(
        &["auth", ACCOUNT, "--refresh-token-stdin"],
        &format!("{input}\n"),
    )
}

#[test]
fn refresh_token_stdin_stores_the_rotated_token() {
    let g = FakeGraph::start();
    let env = env_for(&g);
    let out = auth_stdin(&env, REFRESH_TOKEN);
    assert!(out.status.success(), "{}", stderr(&out));
    let t = stored(&env);
    let rt = t.refresh_token.unwrap();
    assert_ne!(rt, REFRESH_TOKEN, "the rotated refresh token is stored");
    assert!(g.refresh_token_valid(&rt));
    assert!(t.access_token.is_some());
    let mode = std::fs::metadata(token_path(&env.state, ACCOUNT))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn invalid_grant_names_the_aadsts_code_and_no_token() {
    let g = FakeGraph::start();
    g.expire_refresh_token_inactive(REFRESH_TOKEN);
    let env = env_for(&g);
    let out = auth_stdin(&env, REFRESH_TOKEN);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("AADSTS700082"), "{err}");
    assert!(!err.contains(REFRESH_TOKEN), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains(REFRESH_TOKEN));
}

/// Runs `auth` without a flag (the browser flow, `--no-browser`), plays the browser on the
/// printed URL with `browse` (which returns the loopback page's status), returns the outcome.
fn browser_run(
    env: &Env,
    g: &FakeGraph,
    check_url: impl FnOnce(&reqwest::Url),
) -> (Option<i32>, String, u16) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin!("cadenced"))
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .args(["auth", ACCOUNT, "--no-browser"])
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let prefix = format!("{}/{TENANT_ID}/oauth2/v2.0/authorize?", g.url());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with(&prefix))
                .map(str::to_string)
        })
        .expect("the authorization URL is printed");
    let url = reqwest::Url::parse(&url).unwrap();
    check_url(&url);
    // The "browser": GET the authorization URL; the fake consents and redirects (302) to the
    // binary's loopback listener with the code and the state, which reqwest follows.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let status = rt
        .block_on(async { reqwest::get(url).await.map(|r| r.status().as_u16()) })
        .unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = child.wait_with_output().unwrap();
    (out.status.code(), rest.join("\n"), status)
}

#[test]
fn browser_flow_with_pkce_on_a_loopback_redirect() {
    let g = FakeGraph::start();
    g.add_event(&fake_graph::NewEvent::new(
        "lunch",
        "2026-01-05T12:00",
        "2026-01-05T13:00",
        "UTC",
    ));
    let env = env_for(&g);
    let (code, err, status) = browser_run(&env, &g, |url| {
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["response_mode"], "query");
        assert_eq!(q["client_id"], PUBLIC_CLIENT_ID);
        assert!(q["redirect_uri"].starts_with("http://127.0.0.1:"), "{q:?}");
        assert!(q["state"].len() >= 16);
        assert!(q["code_challenge"].len() >= 43);
        let scope = &q["scope"];
        assert!(scope.contains("offline_access") && scope.contains("Calendars.Read"));
    });
    assert_eq!(status, 200, "the loopback page answers");
    assert_eq!(code, Some(0), "{err}");
    let tokens = g.requests_to(Endpoint::Token);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].grant_type(), Some("authorization_code"));
    let file = token_path(&env.state, ACCOUNT);
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let t = stored(&env);
    assert!(t.refresh_token.is_some() && t.access_token.is_some());
    // The stored tokens work.
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listed = env.events("2026-01-01", "2026-02-01");
    let view = g.snapshot_view("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
    assert_eq!(listed.len(), view.len(), "{listed:?}");
    assert_eq!(
        listed[0]["start"].as_str().unwrap(),
        view[0].start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(
        listed[0]["end"].as_str().unwrap(),
        view[0].end.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
}

#[test]
fn browser_flow_declined_exits_1() {
    let g = FakeGraph::start();
    g.deny_next_authorization();
    let env = env_for(&g);
    let (code, err, status) = browser_run(&env, &g, |_| {});
    assert_eq!(status, 200);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("access_denied"), "{err}");
    assert!(g.requests_to(Endpoint::Token).is_empty());
    assert!(!token_path(&env.state, ACCOUNT).exists());
}

// ----- the Authenticator through the library ---------------------------------------------------

fn account(g: &FakeGraph) -> MicrosoftAccount {
    MicrosoftAccount {
        calendars: vec!["primary".into()],
        tenant: "organizations".into(),
        client_id: PUBLIC_CLIENT_ID.into(),
        auth: MicrosoftAuth::Delegated {
            client_secret: None,
        },
        graph_base: g.graph_base(),
        login_base: g.url().to_string(),
        directory: false,
    }
}

fn settable_clock() -> (Clock, Arc<Mutex<DateTime<Utc>>>) {
    let now = Arc::new(Mutex::new(Utc::now()));
    let shared = now.clone();
    (Arc::new(move || *shared.lock().unwrap()), now)
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticator_rotates_and_caches() {
    let g = FakeGraph::start_with(Options {
        rotated_refresh_token_uses: Some(1),
        ..Options::default()
    });
    let tmp = tempfile::tempdir().unwrap();
    let path = token_path(tmp.path(), ACCOUNT);
    // An access token that is already stale: the first call must refresh.
    save_tokens(
        &path,
        &Tokens {
            refresh_token: Some(REFRESH_TOKEN.into()),
            access_token: Some("stale".into()),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(30)),
            scope: None,
        },
    )
    .unwrap();
    let (clock, now) = settable_clock();
    let client = cadenced::providers::http::client().unwrap();
    let auth = Authenticator::new(ACCOUNT, &account(&g), tmp.path(), client, clock);

    let a1 = auth.access_token().await.unwrap();
    assert_ne!(a1, "stale");
    let rt1 = load_tokens(&path).unwrap().unwrap().refresh_token.unwrap();
    assert_ne!(rt1, REFRESH_TOKEN);
    assert!(g.refresh_token_valid(&rt1));
    assert!(
        !g.refresh_token_valid(REFRESH_TOKEN),
        "single use: the old one is spent"
    );
    assert_eq!(
        load_tokens(&path).unwrap().unwrap().access_token,
        Some(a1.clone())
    );

    // Cached while more than 60 s are left.
    let before = g.requests_to(Endpoint::Token).len();
    assert_eq!(auth.access_token().await.unwrap(), a1);
    assert_eq!(g.requests_to(Endpoint::Token).len(), before);

    // 59 minutes later (under a minute left): refreshed with the rotated token, rotated again.
    *now.lock().unwrap() += chrono::Duration::seconds(3599 - 59);
    g.expire_access_tokens();
    let a2 = auth.access_token().await.unwrap();
    assert_ne!(a2, a1);
    let reqs = g.requests_to(Endpoint::Token);
    assert_eq!(reqs.len(), before + 1);
    assert_eq!(reqs.last().unwrap().grant_type(), Some("refresh_token"));
    let rt2 = load_tokens(&path).unwrap().unwrap().refresh_token.unwrap();
    assert_ne!(rt2, rt1);
    assert!(g.refresh_token_valid(&rt2));

    // A forced refresh (after a 401) works from a fresh Authenticator reading the file alone.
    let client = cadenced::providers::http::client().unwrap();
    let again = Authenticator::new(
        ACCOUNT,
        &account(&g),
        tmp.path(),
        client,
        cadenced::providers::microsoft::auth::system_clock(),
    );
    assert_ne!(again.refresh().await.unwrap(), a2);
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticator_revoked_is_needs_auth() {
    let g = FakeGraph::start();
    g.revoke_refresh_token(REFRESH_TOKEN);
    let tmp = tempfile::tempdir().unwrap();
    save_tokens(
        &token_path(tmp.path(), ACCOUNT),
        &Tokens {
            refresh_token: Some(REFRESH_TOKEN.into()),
            ..Tokens::default()
        },
    )
    .unwrap();
    let client = cadenced::providers::http::client().unwrap();
    let (clock, _) = settable_clock();
    let auth = Authenticator::new(ACCOUNT, &account(&g), tmp.path(), client, clock);
    let err = auth.access_token().await.unwrap_err();
    assert!(matches!(err, AuthError::NeedsAuth { .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("AADSTS50173"), "{text}");
    assert!(!text.contains(REFRESH_TOKEN), "{text}");
}
