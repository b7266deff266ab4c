//! `directory = true` on a Google account in org mode: the real binary signs a JWT with a
//! service-account key, impersonates the manager, syncs the calendar, and reads the manager's
//! direct reports from the Admin SDK Directory of the Google fake; they join the roster after
//! the configured `[[reports]]`, at most once a day (an idle poll stays one request).

use testkit::fake_google;

use std::process::{Command, Output};

use base64::Engine;
use fake_google::{DEFAULT_ACCOUNT, DirUser, Endpoint, FakeGoogle};
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cadenced"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A throwaway service-account key file (RSA 2048, PKCS#8) pointing at the fake's token URL.
fn service_account_key(g: &FakeGoogle) -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    serde_json::json!({
        "type": "service_account",
        "client_email": "cadenced@proj.iam.gserviceaccount.com",
        "private_key_id": "kid1",
        "private_key": pem,
        "token_uri": g.token_url(),
    })
    .to_string()
}

fn user(email: &str, name: &str, manager: &str) -> DirUser {
    DirUser {
        email: email.into(),
        full_name: name.into(),
        manager: Some(manager.into()),
        suspended: false,
        admin: false,
        ..DirUser::default()
    }
}

#[test]
fn directory_reports_join_the_roster_once_a_day() {
    let g = FakeGoogle::start();
    g.set_directory(vec![
        user("alice@example.com", "Alice Configured", DEFAULT_ACCOUNT),
        user("dana@example.com", "Dana Directory", DEFAULT_ACCOUNT),
        user("eve@example.com", "Eve Skip", "dana@example.com"),
        DirUser {
            suspended: true,
            ..user("old@example.com", "Old Suspended", DEFAULT_ACCOUNT)
        },
        user("zed@example.com", "Zed Elsewhere", "someone@example.com"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sa.json");
    std::fs::write(&key, service_account_key(&g)).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = {DEFAULT_ACCOUNT:?}\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n\
             [[accounts]]\nname = \"work\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
             api_base = {:?}\ntoken_url = {:?}\ndirectory = true\n",
            g.api_base(),
            g.token_url()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let run = |now: &str, args: &[&str]| -> Output {
        bin()
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(["--now", now])
            .args(args)
            .output()
            .unwrap()
    };
    let now = "2026-11-24T09:00:00Z";
    let out = run(now, &["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lists = |g: &FakeGoogle| {
        g.requests()
            .iter()
            .filter(|r| r.endpoint == Endpoint::DirectoryUsersList)
            .count()
    };
    assert_eq!(lists(&g), 1);

    // The roster: the configured report first (its configured name kept), then the manager's
    // other direct reports; not the skip-level, the suspended or someone else's report.
    let report = run(now, &["report", "--json"]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let doc: Value = serde_json::from_slice(&report.stdout).unwrap();
    let roster: Vec<(&str, &str)> = doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["email"].as_str().unwrap(), r["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        roster,
        [
            ("alice@example.com", "Alice"),
            ("dana@example.com", "Dana Directory")
        ]
    );
    // Dana has no 1on1 at all: the analysis says so.
    assert!(
        doc["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "no_series" && a["report"] == "dana@example.com"),
        "{doc}"
    );

    // The same day: the directory is not read again. The next day: once more.
    let out = run("2026-11-24T15:00:00Z", &["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lists(&g), 1);
    let out = run("2026-11-25T10:00:00Z", &["sync"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(lists(&g), 2);

    // The stored list is a secret-free file, 0600.
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(state.join("directory").join("work.json")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[test]
fn directory_needs_org_mode() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[manager]\nemail = \"me@example.com\"\n\n[[accounts]]\nname = \"work\"\nprovider = \"google\"\nclient_id = \"x\"\ndirectory = true\n",
    )
    .unwrap();
    let out = bin()
        .arg("--config")
        .arg(&config)
        .arg("check")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stdout) + &text(&out.stderr);
    assert!(
        err.contains("accounts[0].directory") || err.contains("directory"),
        "{err}"
    );
    assert!(err.contains("service_account_key"), "{err}");
}
