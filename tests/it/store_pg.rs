//! The store on PostgreSQL (`[store] url`), through the real binary: the same `report --json`
//! and `events --json` as on the SQLite file, a sync killed between pages resumes without loss,
//! `run --once` and the daemon run on it (the PostgreSQL client must never be called from an
//! async task, where it would panic), and the URL and password rules. The cluster is
//! `testkit::pg`'s throwaway one.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{self, Env, stderr, stdout};
use testkit::fake_google::{Endpoint, FakeGoogle, Fault, FaultKind, GenerateSpec, REFRESH_TOKEN};
use testkit::pg;

const NOW: &str = "2026-11-24T09:00:00Z";

fn with_store(config: &str, url: &str) -> String {
    format!("{config}\n[store]\nurl = \"{url}\"\n")
}

fn ok(env: &Env, args: &[&str]) -> Output {
    let out = env.run(args);
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    out
}

/// `sync`, then `report --json` and `events --json` at [`NOW`], on SQLite and on PostgreSQL:
/// byte for byte the same.
fn same_on_both(config: &str) {
    let sqlite = Env::with_config_text(config);
    let postgres = Env::with_config_text(&with_store(config, &pg::database()));
    let outputs = |env: &Env| {
        ok(env, &["--now", NOW, "sync"]);
        [
            ok(env, &["--now", NOW, "report", "--json"]).stdout,
            ok(
                env,
                &[
                    "--now",
                    NOW,
                    "events",
                    "--json",
                    "--from",
                    "2025-01-01",
                    "--to",
                    "2028-01-01",
                ],
            )
            .stdout,
        ]
    };
    let a = outputs(&sqlite);
    let b = outputs(&postgres);
    assert!(a[0].len() > 100 && a[1].len() > 100, "outputs too small");
    assert_eq!(
        String::from_utf8_lossy(&a[0]),
        String::from_utf8_lossy(&b[0])
    );
    assert_eq!(
        String::from_utf8_lossy(&a[1]),
        String::from_utf8_lossy(&b[1])
    );
    // And the state directory of the PostgreSQL one holds no database file.
    assert!(!postgres.state.join("cadenced.db").exists());
}

#[test]
fn the_example_gives_the_same_report_and_events_on_postgres() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config/example.toml"))
        .unwrap()
        .replace(
            "path = \"example.ics\"",
            &format!("path = \"{}\"", root.join("config/example.ics").display()),
        );
    same_on_both(&config);
}

#[test]
fn the_team_calendar_gives_the_same_report_and_events_on_postgres() {
    let feed = common::fixture("cross_provider_team.ics");
    let mut config = String::from(
        "[manager]\nemail = \"mika@example.com\"\nname = \"Mika\"\ntimezone = \"America/New_York\"\n\n",
    );
    for (email, extra) in [
        ("ana", ""),
        ("ben", ""),
        ("chloe", "aliases = [\"chloe.martin@example.org\"]\n"),
        ("dev", "cadence = \"biweekly\"\n"),
        ("eve", ""),
        ("finn", ""),
        ("gus", ""),
        ("hana", ""),
    ] {
        config.push_str(&format!(
            "[[reports]]\nemail = \"{email}@example.com\"\nname = \"{email}\"\n{extra}\n"
        ));
    }
    config.push_str(&format!(
        "[[accounts]]\nname = \"team\"\nprovider = \"ics\"\npath = \"{}\"\n\n[cadence]\ndefault = \"biweekly\"\ngrace = 0.5\nuneven_ratio = 0.5\nlookback = \"90d\"\n",
        feed.display()
    ));
    same_on_both(&config);
}

/// (event id, etag) of every stored event of account "work", read from PostgreSQL.
fn stored(url: &str) -> std::collections::BTreeSet<(String, String)> {
    let store = cadenced::store::Store::open_postgres(url, None).unwrap();
    store
        .load_events(Some("work"))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .map(|e| (e.event_id, e.etag.unwrap_or_default()))
        .collect()
}

fn server(g: &FakeGoogle) -> std::collections::BTreeSet<(String, String)> {
    g.snapshot("primary")
        .into_iter()
        .filter(|e| {
            e["eventType"]
                .as_str()
                .is_none_or(|t| t == "default" || t == "outOfOffice")
        })
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["etag"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_sync_killed_between_pages_resumes_without_loss_on_postgres() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 6000,
            ..Default::default()
        },
    );
    let url = pg::database();
    let env = Env::with_config_text(&with_store(
        &format!(
            "[manager]\nemail = \"me@example.com\"\ntimezone = \"America/Chicago\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}\n",
            g.google_account_toml("work", &["primary"])
        ),
        &url,
    ));
    env.import_refresh_token("work", REFRESH_TOKEN);
    g.push_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(1500)))
            .on(Endpoint::EventsList)
            .times(3),
    );
    let mut child = env
        .cmd(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while g.count(Endpoint::EventsList) < 2 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    g.clear_faults();
    let partial = stored(&url);
    assert!(
        !partial.is_empty() && partial.len() < server(&g).len(),
        "the first page was committed: {}",
        partial.len()
    );
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 20,
            seed: 9,
            ..Default::default()
        },
    );
    ok(&env, &["sync"]);
    assert_eq!(stored(&url), server(&g));
    ok(&env, &["sync"]);
    assert_eq!(stored(&url), server(&g));
}

fn example_on(url: &str, listen: &str) -> Env {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config/example.toml"))
        .unwrap()
        .replace(
            "path = \"example.ics\"",
            &format!("path = \"{}\"", root.join("config/example.ics").display()),
        )
        .replace(
            "listen = \"127.0.0.1:8737\"",
            &format!("listen = \"{listen}\""),
        );
    Env::with_config_text(&with_store(&config, url))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((code, body))
}

#[test]
fn run_once_status_and_the_daemon_work_on_postgres() {
    let url = pg::database();
    let port = free_port();
    let env = example_on(&url, &format!("127.0.0.1:{port}"));
    ok(&env, &["--now", NOW, "run", "--once"]);
    // The cycle prepared agenda documents in the state directory, its bookkeeping in the
    // database: a second cycle writes nothing new.
    let docs = || {
        std::fs::read_dir(env.state.join("agendas"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let first = docs();
    assert!(first > 0, "no agenda documents");
    let out = ok(&env, &["--now", NOW, "run", "--once"]);
    assert_eq!(docs(), first, "{}", stderr(&out));
    let status = stdout(&ok(&env, &["--now", NOW, "status"]));
    assert!(status.contains("example"), "{status}");
    // The other commands that read or write the store.
    let alerts: serde_json::Value =
        serde_json::from_slice(&ok(&env, &["--now", NOW, "alerts", "--json"]).stdout).unwrap();
    let id = alerts[0]["id"].as_str().unwrap().to_string();
    ok(&env, &["--now", NOW, "alerts", "ack", &id]);
    for args in [
        &["series", "--json"][..],
        &["propose", "--json"][..],
        &["alerts", "--all"][..],
        &["alerts", "test"][..],
        &["status", "--json"][..],
    ] {
        let all: Vec<&str> = ["--now", NOW]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        ok(&env, &all);
    }
    let html = env.dir.path().join("report.html");
    ok(
        &env,
        &["--now", NOW, "report", "--html", html.to_str().unwrap()],
    );

    // The daemon: ready, healthy, serving the report, and a clean exit on SIGTERM.
    let log = env.dir.path().join("daemon.log");
    let mut child = env
        .cmd(&["run"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the daemon exited ({status}): {}", log_text());
        }
        if let Some((200, _)) = http_get(port, "/healthz") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no healthy daemon: {}",
            log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, report) = http_get(port, "/api/report").unwrap();
    assert_eq!(code, 200, "{report}");
    assert!(report.contains("\"reports\""), "{report}");
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no exit");
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = log_text();
    assert!(status.success(), "{status}: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn a_password_in_the_url_is_refused_naming_the_key() {
    let config = with_store(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n",
        "postgres://mika:s3cret-pw@127.0.0.1:5432/cadenced",
    );
    let env = Env::with_config_text(&config);
    for args in [&["check"][..], &["status"][..]] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let all = format!("{}{}", stdout(&out), stderr(&out));
        assert!(all.contains("store.url"), "{all}");
        assert!(all.contains("password_env"), "{all}");
        assert!(!all.contains("s3cret-pw"), "{all}");
    }
    // Not a PostgreSQL URL at all.
    let env = Env::with_config_text(&with_store(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n",
        "mysql://db/x",
    ));
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stdout(&out).contains("store.url"), "{}", stdout(&out));
}

#[test]
fn a_wrong_password_names_the_server_and_database_never_the_password() {
    let role = pg::PASSWORD_ROLE;
    pg::admin(&format!(
        "CREATE ROLE {role} LOGIN PASSWORD 'right-horse-battery'"
    ));
    pg::admin(&format!("CREATE DATABASE {role} OWNER {role}"));
    let url = pg::server_url(role, role);
    let config = format!(
        "{}password_env = \"CADENCED_TEST_PG_PASSWORD\"\n",
        with_store(
            "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n",
            &url
        )
    );
    let env = Env::with_config_text(&config);
    let out = env
        .cmd(&["status"])
        .env("CADENCED_TEST_PG_PASSWORD", "wrong-staple-9x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&url), "{err}");
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains("wrong-staple-9x") && !err.contains("right-horse"),
        "{err}"
    );
    // The right one opens it (and `check` says nothing of the variable).
    let out = env
        .cmd(&["status"])
        .env("CADENCED_TEST_PG_PASSWORD", "right-horse-battery")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = env
        .cmd(&["check"])
        .env_remove("CADENCED_TEST_PG_PASSWORD")
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("store.password_env"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn sslmode_require_uses_tls_and_never_falls_back_to_plain() {
    // The test cluster has no TLS: asked for it, the client refuses to go on without.
    let url = format!("{}?sslmode=require", pg::database());
    let env = Env::with_config_text(&with_store(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n",
        &url,
    ));
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("TLS"), "{err}");
    // Without it, the same database opens.
    let env = Env::with_config_text(&with_store(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n",
        url.trim_end_matches("?sslmode=require"),
    ));
    ok(&env, &["status"]);
}

/// The files that stay in the state directory (here the directory's direct reports) are found
/// there when the database is elsewhere.
#[test]
fn directory_reports_join_the_roster_on_postgres() {
    use crate::ms_env::{ACCOUNT, assert_ok, import_refresh_token, sync};
    use testkit::fake_graph::{DEFAULT_USER, FakeGraph, PUBLIC_CLIENT_ID, TENANT_ID};
    let g = FakeGraph::start();
    g.add_direct_report("Bob Builder", "bob@contoso.com");
    let env = Env::with_config_text(&with_store(
        &format!(
            "[manager]\nemail = \"{DEFAULT_USER}\"\n\n[[reports]]\nemail = \"Alice@contoso.com\"\n\n\
             [[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\ntenant = \"{TENANT_ID}\"\n\
             client_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\ndirectory = true\n",
            g.url(),
            g.graph_base()
        ),
        &pg::database(),
    ));
    import_refresh_token(&env);
    assert_ok(&sync(&env));
    let report: serde_json::Value =
        serde_json::from_str(&stdout(&ok(&env, &["report", "--json"]))).unwrap();
    let emails: Vec<&str> = report["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["Alice@contoso.com", "bob@contoso.com"]);
}
