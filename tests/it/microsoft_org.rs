//! Org-wide mode (client credentials, `client_secret_env` + `user`): app-only calls to
//! `/users/{user}/…` against the Graph fake's client-credentials token endpoint, ending with
//! `events --json` equal to the fake's calendarView.

use crate::common;
use crate::ms_env;
use testkit::fake_graph;

use common::{Env, stderr};
use fake_graph::{APP_CLIENT_ID, APP_CLIENT_SECRET, DEFAULT_USER, Endpoint, FakeGraph, TENANT_ID};
use ms_env::*;
use serde_json::json;

const SECRET_VAR: &str = "CADENCED_TEST_GRAPH_SECRET";

fn org_env(g: &FakeGraph, tenant: &str) -> Env {
    Env::with_config_text(&format!(
        "[manager]\nemail = \"{DEFAULT_USER}\"\n\n[[accounts]]\nname = \"{ACCOUNT}\"\n\
         provider = \"microsoft\"\ntenant = \"{tenant}\"\nclient_id = \"{APP_CLIENT_ID}\"\n\
         client_secret_env = \"{SECRET_VAR}\"\nuser = \"{DEFAULT_USER}\"\n\
         login_base = \"{}\"\ngraph_base = \"{}\"\n",
        g.url(),
        g.graph_base()
    ))
}

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("cadenced")
        .unwrap()
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .args(args)
        .env(SECRET_VAR, APP_CLIENT_SECRET)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn client_credentials_read_the_users_calendar_app_only() {
    let g = FakeGraph::start();
    let m = weekly(&g, "Alice / Adele 1on1", -60, "tuesday");
    daily(&g, "standup", -5, 30);
    single(&g, "lunch", 2);
    let env = org_env(&g, TENANT_ID);
    let out = run(&env, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let tokens = g.requests_to(Endpoint::Token);
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].grant_type(), Some("client_credentials"));
    let scope = tokens[0]
        .form
        .iter()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str());
    assert_eq!(scope, Some("https://graph.microsoft.com/.default"));
    let graph: Vec<_> = g
        .requests()
        .into_iter()
        .filter(|r| r.endpoint.is_graph())
        .collect();
    assert!(!graph.is_empty());
    for r in &graph {
        let path = percent_encoding::percent_decode_str(&r.path)
            .decode_utf8_lossy()
            .into_owned();
        assert!(
            path.starts_with(&format!("/v1.0/users/{DEFAULT_USER}/")),
            "not app-only: {path}"
        );
    }
    assert_eq!(g.count(Endpoint::EventGet), 2, "one read per master");
    assert_matches(&env, &g);

    // The next round: one request (the token is cached), a change reaches the store.
    g.clear_log();
    let out = run(&env, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(g.requests().len(), 1, "{:?}", g.requests());
    g.update_event(&m, json!({"subject": "Alice ⇄ Adele"}));
    let out = run(&env, &["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_matches(&env, &g);
    let secret_leak = [stderr(&out), common::stdout(&out)]
        .iter()
        .any(|s| s.contains(APP_CLIENT_SECRET));
    assert!(!secret_leak);
}

#[test]
fn a_wrong_client_secret_is_one_clear_error() {
    let g = FakeGraph::start();
    single(&g, "lunch", 2);
    let env = org_env(&g, TENANT_ID);
    let out = assert_cmd::Command::cargo_bin("cadenced")
        .unwrap()
        .arg("--config")
        .arg(&env.config)
        .arg("--state-dir")
        .arg(&env.state)
        .arg("sync")
        .env(SECRET_VAR, "not-the-secret")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(ACCOUNT), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(g.requests_to(Endpoint::CalendarViewDelta).is_empty());
}
