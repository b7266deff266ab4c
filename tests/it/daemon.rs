//! The daemon (`cadenced run`) as an operator and systemd see it: the real binary against the
//! example calendar and the Google fake, on a free loopback port, with a real notify socket and
//! real signals.

use testkit::fake_google;
use testkit::fake_graph;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use fake_google::{Endpoint, FakeGoogle, Fault, FaultKind, GenerateSpec, REFRESH_TOKEN};
use serde_json::Value;

/// Generous upper bound for anything to happen (not an assertion on speed).
const PATIENCE: Duration = Duration::from_secs(60);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cadenced"));
    c.env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env_remove("JOURNAL_STREAM");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn example_ics() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.ics")
}

/// The example config, reading the example calendar, listening on `listen`.
fn example_config(listen: &str, extra_daemon: &str) -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml"))
            .unwrap();
    text.replace(
        "path = \"example.ics\"",
        &format!("path = \"{}\"", example_ics().display()),
    )
    .replace(
        "listen = \"127.0.0.1:8737\"",
        &format!("listen = \"{listen}\""),
    )
    .replace("token_env = \"\"", extra_daemon)
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
    port: u16,
}

impl Setup {
    fn new(config_text: impl FnOnce(u16) -> String) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_text(port)).unwrap();
        let state = dir.path().join("state");
        Setup {
            config,
            state,
            port,
            dir,
        }
    }

    fn example() -> Setup {
        Setup::new(|port| example_config(&format!("127.0.0.1:{port}"), "token_env = \"\""))
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = bin();
        c.arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args);
        c
    }

    /// Start the daemon; its stderr goes to `log` (read with [`Daemon::log`]).
    fn start(&self, env: &[(&str, &str)]) -> Daemon {
        let log = self
            .dir
            .path()
            .join(format!("daemon-{}.log", fastrand::u32(..)));
        let mut cmd = self.cmd(&["run"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Daemon {
            child,
            log,
            port: self.port,
        }
    }

    fn status_json(&self) -> Value {
        let out = self.cmd(&["status", "--json"]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

struct Daemon {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(ok.success(), "kill -{sig}");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path, &[])
    }

    /// Poll `/healthz` until it answers `want`; the last answer.
    fn wait_health(&mut self, want: u16) -> Value {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the daemon exited ({status}): {}", self.log());
            }
            if let Ok((code, body)) = try_http_get(self.port, "/healthz", &[])
                && code == want
            {
                return serde_json::from_str(&body).unwrap();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "no /healthz {want}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait for the process to exit; its status and how long it took.
    fn wait_exit(&mut self) -> (ExitStatus, Duration) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, started.elapsed());
            }
            assert!(started.elapsed() < PATIENCE, "the daemon did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn try_http_get(port: u16, path: &str, headers: &[&str]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(PATIENCE))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = text(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no response head"))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((code, body.to_string()))
}

/// POST a form; the status and the response head (lower-case header names).
fn http_post_form(port: u16, path: &str, form: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
        form.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = text(&raw);
    let head = raw.split("\r\n\r\n").next().unwrap().replace("\r\n", "\n");
    let code = head.split(' ').nth(1).unwrap().parse().unwrap();
    (code, head)
}

fn http_get(port: u16, path: &str, headers: &[&str]) -> (u16, String) {
    try_http_get(port, path, headers).unwrap()
}

/// Send a raw request; the status and the whole response (head and body).
fn raw_request(port: u16, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let raw = text(&raw);
    let code = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, raw)
}

/// Wait until `cond` holds (polling), or fail with `what`.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn ready_healthy_metrics_report_status_then_sigterm_exits_cleanly() {
    let setup = Setup::example();
    let sock_path = setup.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut d = setup.start(&[
        ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
        // The daemon must ping at half of this.
        ("WATCHDOG_USEC", "400000"),
    ]);

    // systemd readiness: READY=1 with a STATUS=, then watchdog pings.
    let mut messages = Vec::new();
    let mut buf = [0u8; 4096];
    while !(messages.iter().any(|m: &String| m.contains("READY=1"))
        && messages.iter().any(|m| m.contains("WATCHDOG=1"))
        && messages
            .iter()
            .any(|m| m.contains("STATUS=") && m.contains("open alert")))
    {
        let n = sock.recv(&mut buf).expect("a notify message");
        messages.push(text(&buf[..n]));
    }
    let ready = messages.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(ready.contains("STATUS="), "{ready}");

    let health = d.wait_health(200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["accounts"][0]["account"], "example");
    assert_eq!(health["accounts"][0]["healthy"], true);

    // The analysis after the first sync has run once STATUS= mentions alerts; the metrics agree
    // with `status`.
    let status = setup.status_json();
    assert_eq!(status["daemon"]["running"], true);
    assert_eq!(status["daemon"]["pid"], d.pid());
    let events = status["accounts"][0]["events"].as_i64().unwrap();
    assert!(events > 0);
    assert_eq!(status["accounts"][0]["last_sync_ok"], true);

    let (code, metrics) = d.get("/metrics");
    assert_eq!(code, 200);
    for line in [
        "cadenced_syncs_total{account=\"example\",provider=\"ics\",outcome=\"ok\"} 1".to_string(),
        format!("cadenced_events_stored{{account=\"example\"}} {events}"),
        "cadenced_sync_duration_seconds_count{account=\"example\",outcome=\"ok\"} 1".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(metrics.contains("cadenced_last_success_timestamp_seconds{account=\"example\"}"));
    let mut by_kind = std::collections::BTreeMap::new();
    for (k, v) in status["open_alerts_by_kind"].as_object().unwrap() {
        by_kind.insert(k.clone(), v.as_u64().unwrap());
        assert!(
            metrics.contains(&format!("cadenced_alerts_open{{kind=\"{k}\"}} {v}")),
            "{k} {v} in:\n{metrics}"
        );
    }
    assert!(!by_kind.is_empty(), "the example has alerts");
    assert!(metrics.ends_with("# EOF\n"));

    // /api/report is the `report --json` document at the request time.
    let (code, body) = d.get("/api/report");
    assert_eq!(code, 200);
    let api: Value = serde_json::from_str(&body).unwrap();
    let out = setup.cmd(&["report", "--json"]).output().unwrap();
    let cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(api["manager"], cli["manager"]);
    let emails = |v: &Value| -> Vec<String> {
        v["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["email"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(emails(&api), emails(&cli));
    assert_eq!(emails(&api).len(), 7);
    // The people-ops page needs `[org]`: without it, 404 and one sentence, no figure.
    let (code, body) = d.get("/org");
    assert_eq!(code, 404);
    assert!(body.contains("no [org] section"), "{body}");

    d.signal("TERM");
    let (exit, took) = d.wait_exit();
    assert!(exit.success(), "exit {exit}: {}", d.log());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    // STOPPING=1 was announced.
    sock.set_nonblocking(true).unwrap();
    while let Ok(n) = sock.recv(&mut buf) {
        messages.push(text(&buf[..n]));
    }
    assert!(
        messages.iter().any(|m| m.contains("STOPPING=1")),
        "{messages:?}"
    );
    assert_eq!(setup.status_json()["daemon"]["running"], false);
    // SIGINT stops it just the same, and the store is consistent for a second start.
    let mut d = setup.start(&[]);
    d.wait_health(200);
    d.signal("INT");
    let (exit, took) = d.wait_exit();
    assert!(
        exit.success() && took < Duration::from_secs(5),
        "{}",
        d.log()
    );
}

#[test]
fn a_second_instance_is_refused_naming_the_pid() {
    let setup = Setup::example();
    let mut d = setup.start(&[]);
    d.wait_health(200);
    for args in [&["run"][..], &["run", "--once"][..]] {
        let out = setup.cmd(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(&format!("pid {}", d.pid())), "{err}");
        assert!(err.contains("already running"), "{err}");
    }
    // The first one is untouched.
    d.wait_health(200);
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
    // Once it is gone, `run --once` works (exit 0: everything worked).
    let out = setup.cmd(&["run", "--once"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn sighup_keeps_the_running_config_when_the_new_one_is_invalid_and_applies_a_valid_one() {
    let setup = Setup::example();
    let mut d = setup.start(&[]);
    d.wait_health(200);
    let good = std::fs::read_to_string(&setup.config).unwrap();

    std::fs::write(
        &setup.config,
        good.replace("interval = \"5m\"", "intervall = \"5m\""),
    )
    .unwrap();
    d.signal("HUP");
    wait_for("the refused reload in the log", || {
        d.log().contains("reload refused")
    });
    let log = d.log();
    assert!(
        log.contains("sync.intervall"),
        "the key path is named: {log}"
    );
    let health = d.wait_health(200);
    assert_eq!(health["accounts"][0]["account"], "example");

    std::fs::write(
        &setup.config,
        good.replace("name = \"example\"", "name = \"team\""),
    )
    .unwrap();
    d.signal("HUP");
    wait_for("the renamed account to be healthy", || {
        let (code, body) = d.get("/healthz");
        let v: Value = serde_json::from_str(&body).unwrap();
        code == 200 && v["accounts"][0]["account"] == "team"
    });
    assert!(d.log().contains("configuration reloaded"));
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

#[test]
fn a_non_loopback_listener_needs_the_access_token() {
    let setup = Setup::new(|port| {
        example_config(
            &format!("0.0.0.0:{port}"),
            "token_env = \"CADENCED_TEST_TOKEN\"",
        )
    });
    // Without the variable the daemon refuses to start, naming the key.
    let out = setup
        .cmd(&["run"])
        .env_remove("CADENCED_TEST_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("daemon.token_env") && err.contains("CADENCED_TEST_TOKEN"),
        "{err}"
    );

    // Too short a token is refused, with a way to make a good one.
    let out = setup
        .cmd(&["run"])
        .env("CADENCED_TEST_TOKEN", "t0k3n-for-the-test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("32 random bytes") && err.contains("/dev/urandom"),
        "{err}"
    );
    let out = setup
        .cmd(&["check"])
        .env("CADENCED_TEST_TOKEN", "t0k3n-for-the-test")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("32 random bytes"));

    let token = "t0k3n-for-the-test-and-long-enough-0123456789";
    let mut d = setup.start(&[("CADENCED_TEST_TOKEN", token)]);
    wait_for("the listener", || {
        try_http_get(setup.port, "/healthz", &[]).is_ok()
    });
    for path in ["/healthz", "/metrics", "/api/report"] {
        let (code, body) = http_get(setup.port, path, &[]);
        assert_eq!(code, 401, "{path}");
        assert!(!body.contains(token));
        let (code, _) = http_get(setup.port, path, &["Authorization: Bearer wrong"]);
        assert_eq!(code, 401, "{path}");
    }
    let auth = format!("Authorization: Bearer {token}");
    wait_for("healthy with the token", || {
        http_get(setup.port, "/healthz", &[&auth]).0 == 200
    });
    let (code, body) = http_get(setup.port, "/api/report", &[&auth]);
    assert_eq!(code, 200);
    assert!(body.contains("\"reports\""));
    // The org page is guarded like the dashboard: a browser without a session signs in first.
    for path in ["/", "/org"] {
        let (code, raw) = raw_request(
            setup.port,
            &format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
        );
        assert_eq!(code, 303, "{path}: {raw}");
        assert!(
            raw.to_lowercase().contains("location: /login"),
            "{path}: {raw}"
        );
        assert!(!raw.contains("Whole organisation"));
    }
    let (code, _) = http_get(setup.port, "/org", &[&auth]);
    assert_eq!(
        code, 404,
        "with the token, /org is reached (and has no [org])"
    );

    // A browser signs in once at /login and then carries a session cookie (not the token).
    let (code, _) = http_get(setup.port, "/login", &[]);
    assert_eq!(code, 200, "the sign-in page needs no token");
    let (code, head) = http_post_form(setup.port, "/login", "token=wrong");
    assert_eq!(code, 401, "{head}");
    let (code, head) = http_post_form(setup.port, "/login", &format!("token={token}"));
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_string();
    assert!(cookie.starts_with("cadenced_session=") && !cookie.contains(token));
    assert!(head.to_lowercase().contains("httponly"));
    let (code, _) = http_get(setup.port, "/api/report", &[&format!("Cookie: {cookie}")]);
    assert_eq!(code, 200);
    let (code, _) = http_get(
        setup.port,
        "/api/report",
        &["Cookie: cadenced_session=forged"],
    );
    assert_eq!(code, 401);
    // Signing out ends the session.
    let (code, head) = raw_request(
        setup.port,
        &format!(
            "POST /logout HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nCookie: {cookie}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            setup.port
        ),
    );
    assert_eq!(code, 303, "{head}");
    let (code, _) = http_get(setup.port, "/api/report", &[&format!("Cookie: {cookie}")]);
    assert_eq!(code, 401, "the session ended at /logout");

    // Wrong tokens are limited: after 10 in a minute (4 were sent above) every attempt, even
    // with the right token, waits (429).
    let mut codes = Vec::new();
    for _ in 0..7 {
        codes.push(http_post_form(setup.port, "/login", "token=guess").0);
    }
    assert_eq!(codes, vec![401, 401, 401, 401, 401, 401, 429]);
    let (code, head) = http_post_form(setup.port, "/login", &format!("token={token}"));
    assert_eq!(code, 429, "{head}");
    assert!(head.contains("retry-after: 60"), "{head}");
    let (code, _) = http_get(setup.port, "/api/report", &[&auth]);
    assert_eq!(code, 429);
    assert!(!d.log().contains(token), "the token is never logged");
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

/// A config for the Google fake's account "work", listening on a free port (not authorized).
fn google_config(g: &FakeGoogle) -> Setup {
    Setup::new(|port| {
        format!(
            "[manager]\nemail = \"me@example.com\"\ntimezone = \"America/Chicago\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}\n[sync]\ninterval = \"30s\"\n\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n",
            g.google_account_toml("work", &["primary"])
        )
    })
}

/// A config for the Google fake's account "work", listening on a free port, authorized.
fn google_setup(g: &FakeGoogle) -> Setup {
    let setup = google_config(g);
    import_token(&setup, "work", REFRESH_TOKEN);
    setup
}

#[test]
fn a_provider_outage_turns_health_503_and_recovery_200() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 50,
            ..Default::default()
        },
    );
    let setup = google_setup(&g);
    let mut d = setup.start(&[]);
    d.wait_health(200);

    // The provider now refuses every list request (403 quotaExceeded is not retried quickly).
    g.push_fault(
        Fault::new(FaultKind::QuotaExceeded403)
            .on(Endpoint::EventsList)
            .times(1000),
    );
    d.signal("USR1");
    let health = d.wait_health(503);
    assert_eq!(health["status"], "unhealthy");
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("account work"), "{reason}");
    assert_eq!(health["accounts"][0]["healthy"], false);
    let (_, metrics) = d.get("/metrics");
    assert!(
        metrics.contains(
            "cadenced_syncs_total{account=\"work\",provider=\"google\",outcome=\"error\"} 1"
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("cadenced_http_requests_total{provider=\"google\",status=\"403\"}"),
        "{metrics}"
    );
    let status = setup.status_json();
    assert_eq!(status["accounts"][0]["last_sync_ok"], false);
    assert!(
        status["accounts"][0]["last_error"]
            .as_str()
            .unwrap()
            .contains("work")
    );

    // The provider recovers; the next sync (woken now rather than after the backoff) is healthy.
    g.clear_faults();
    d.signal("USR1");
    let health = d.wait_health(200);
    assert_eq!(health["accounts"][0]["healthy"], true);
    let (_, metrics) = d.get("/metrics");
    assert!(metrics.contains("cadenced_http_requests_total{provider=\"google\",status=\"200\"}"));
    d.signal("TERM");
    assert!(d.wait_exit().0.success(), "{}", d.log());
}

/// (event id, etag) of what the server holds (event types cadenced stores).
fn server(g: &FakeGoogle) -> BTreeSet<(String, String)> {
    g.snapshot("primary")
        .into_iter()
        // Out-of-office events are stored too (they tell when the manager is away).
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

/// Every stored (event id, etag) of account "work", duplicates kept.
fn stored(state: &Path) -> Vec<(String, String)> {
    cadenced::store::Store::open_in(state)
        .unwrap()
        .load_events(Some("work"))
        .unwrap()
        .into_iter()
        .flat_map(|c| c.events)
        .map(|e| (e.event_id, e.etag.unwrap_or_default()))
        .collect()
}

/// Starts the daemon with every events.list request slowed down, sends `signal` while the second
/// page is in flight, and waits for the exit (the slowdown is removed afterwards).
fn signal_during_second_page(
    g: &FakeGoogle,
    setup: &Setup,
    signal: &str,
) -> (Daemon, ExitStatus, Duration) {
    g.clear_faults();
    g.push_fault(
        Fault::new(FaultKind::Delay(Duration::from_millis(1500)))
            .on(Endpoint::EventsList)
            .times(3),
    );
    g.clear_log();
    let mut d = setup.start(&[]);
    wait_for("the second page request", || {
        g.count(Endpoint::EventsList) >= 2
    });
    std::thread::sleep(Duration::from_millis(200));
    d.signal(signal);
    let (exit, took) = d.wait_exit();
    g.clear_faults();
    (d, exit, took)
}

#[test]
fn a_daemon_stopped_or_killed_mid_sync_restarts_and_ends_equal_to_the_provider() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 6000,
            ..Default::default()
        },
    );
    let setup = google_setup(&g);
    // First a SIGTERM in the middle of the sync: a clean exit within 5 s.
    let (d, exit, took) = signal_during_second_page(&g, &setup, "TERM");
    assert!(exit.success(), "{}", d.log());
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
    let after_term = stored(&setup.state);
    assert!(!after_term.is_empty() && after_term.len() < server(&g).len());

    // Then a SIGKILL in the middle of the (restarted) full sync.
    signal_during_second_page(&g, &setup, "KILL");
    let partial = stored(&setup.state);
    assert!(
        !partial.is_empty() && partial.len() < server(&g).len(),
        "the first page was committed: {}",
        partial.len()
    );

    // Changes while it was down, then a restart: the lock was released by the kernel.
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 20,
            seed: 9,
            ..Default::default()
        },
    );
    let mut d = setup.start(&[]);
    d.wait_health(200);
    d.signal("TERM");
    assert!(d.wait_exit().0.success(), "{}", d.log());
    let all = stored(&setup.state);
    let unique: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), unique.len(), "no duplicates");
    assert_eq!(unique, server(&g));
    // And `events --json` lists each stored occurrence once.
    let out = setup
        .cmd(&[
            "events",
            "--json",
            "--from",
            "2026-01-01",
            "--to",
            "2027-06-01",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let keys: BTreeSet<String> = lines
        .iter()
        .map(|e| format!("{} {} {}", e["event_id"], e["recurrence_id"], e["start"]))
        .collect();
    assert_eq!(keys.len(), lines.len(), "no duplicate occurrences");
}

#[test]
fn service_install_writes_a_hardened_notify_unit() {
    let setup = Setup::example();
    let out_file = setup.dir.path().join("cadenced.service");
    let out = setup
        .cmd(&["service", "install", "--user", "--output"])
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("systemctl --user enable --now cadenced.service"));
    let unit = std::fs::read_to_string(&out_file).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_cadenced")).unwrap();
    let exec = unit
        .lines()
        .find(|l| l.starts_with("ExecStart="))
        .unwrap()
        .to_string();
    assert!(
        exec.starts_with(&format!("ExecStart={}", exe.display())),
        "{exec}"
    );
    assert!(
        exec.contains(&format!("--config {}", setup.config.display())),
        "{exec}"
    );
    assert!(exec.ends_with(" run"), "{exec}");
    for line in [
        "Type=notify",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "PrivateTmp=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "Restart=on-failure",
        "WatchdogSec=60s",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} in:\n{unit}");
    }
    // To stdout, and the macOS flavour.
    let out = setup
        .cmd(&[
            "service", "install", "--format", "launchd", "--user", "--output", "-",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let plist = text(&out.stdout);
    assert!(
        plist.contains("<string>run</string>") && plist.contains("<key>ProgramArguments</key>")
    );
}

#[test]
fn auth_while_the_daemon_runs_brings_a_revoked_account_back() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 20,
            ..Default::default()
        },
    );
    let setup = google_setup(&g);
    let mut d = setup.start(&[]);
    d.wait_health(200);

    g.revoke_refresh_token(REFRESH_TOKEN);
    g.expire_access_tokens();
    d.signal("USR1");
    let health = d.wait_health(503);
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("cadenced auth work"), "{reason}");
    wait_for("the needs_auth alert in the metrics", || {
        d.get("/metrics")
            .1
            .contains("cadenced_alerts_open{kind=\"needs_auth\"} 1")
    });
    assert_eq!(setup.status_json()["accounts"][0]["needs_auth"], true);

    // `auth` runs beside the daemon (its own loopback port for the browser flow; here an
    // imported token) and the daemon's next sync uses the new tokens.
    g.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        "1//fresh-token",
        &["calendar.readonly"],
    );
    import_token(&setup, "work", "1//fresh-token");
    d.signal("USR1");
    d.wait_health(200);
    wait_for("the needs_auth alert to clear", || {
        !d.get("/metrics").1.contains("kind=\"needs_auth\"")
    });
    assert_eq!(setup.status_json()["accounts"][0]["needs_auth"], false);
    let log = d.log();
    assert!(
        !log.contains("1//fresh-token") && !log.contains(REFRESH_TOKEN) && !log.contains("ya29.")
    );
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

#[test]
fn json_logs_for_log_shippers() {
    let setup = Setup::example();
    let out = setup
        .cmd(&["--log-format", "json", "run", "--once"])
        .env("RUST_LOG", "info")
        // Inherited from some service, but not describing this stderr: not the journal.
        .env("JOURNAL_STREAM", "1:1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object())
    );
}

#[test]
fn the_browser_flow_comes_back_through_a_running_daemon() {
    use std::io::BufRead;
    let g = FakeGoogle::start();
    let setup = google_config(&g);
    let mut d = setup.start(&[]);
    // Not authorized yet: unhealthy, and it says why.
    let health = d.wait_health(503);
    assert_eq!(health["accounts"][0]["account"], "work");

    let mut child = setup
        .cmd(&["auth", "work", "--no-browser"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut url = None;
    let mut said = String::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        said.push_str(&line);
        if let Some(u) = line
            .split_whitespace()
            .find(|w| w.starts_with(&g.auth_url()))
        {
            url = Some(u.to_string());
            break;
        }
    }
    assert!(said.contains(&format!("pid {}", d.pid())), "{said}");
    let url = url.expect("the authorization URL is printed");
    let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        q["redirect_uri"],
        format!("http://127.0.0.1:{}/oauth/callback", setup.port)
    );
    // A forged answer is refused by the daemon and the flow keeps waiting.
    let (code, _) = d.get("/oauth/callback?state=forgedforgedforged&code=evil");
    assert_eq!(code, 400);
    // The "browser" opens the URL; the fake consents and redirects to the daemon.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (status, page) = rt.block_on(async {
        let r = reqwest::get(&url).await.unwrap();
        (r.status(), r.text().await.unwrap())
    });
    assert!(status.is_success(), "{status}: {page}");
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "auth: {}", text(&out.stdout));
    assert!(
        std::fs::read_dir(setup.state.join("oauth"))
            .unwrap()
            .count()
            == 0,
        "the relay files are gone"
    );
    d.signal("USR1");
    d.wait_health(200);
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

/// Import a refresh token for `account` with `auth --refresh-token-stdin`.
fn import_token(setup: &Setup, account: &str, token: &str) {
    let mut child = setup
        .cmd(&["auth", account, "--refresh-token-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{token}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "auth {account}: {}",
        text(&out.stderr)
    );
}

/// A Google account, a Microsoft 365 account and the example feed, each against its own fake.
fn three_providers(g: &FakeGoogle, m: &fake_graph::FakeGraph, interval: &str) -> Setup {
    let setup = Setup::new(|port| {
        format!(
            "[manager]\nemail = \"me@example.com\"\ntimezone = \"America/Chicago\"\n\n[[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n{}\n\
             [[accounts]]\nname = \"m365\"\nprovider = \"microsoft\"\ntenant = \"{}\"\nclient_id = \"{}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n\n\
             [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n\n[sync]\ninterval = \"{interval}\"\n\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n",
            g.google_account_toml("work", &["primary"]),
            fake_graph::TENANT_ID,
            fake_graph::PUBLIC_CLIENT_ID,
            m.url(),
            m.graph_base(),
            example_ics().display()
        )
    });
    import_token(&setup, "work", REFRESH_TOKEN);
    import_token(&setup, "m365", fake_graph::REFRESH_TOKEN);
    setup
}

fn ok_syncs(metrics: &str, account: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            l.starts_with(&format!("cadenced_syncs_total{{account=\"{account}\""))
                && l.contains("outcome=\"ok\"")
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn three_providers_and_an_idle_poll_costs_one_request_per_calendar() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 200,
            ..Default::default()
        },
    );
    let m = fake_graph::FakeGraph::start();
    let setup = three_providers(&g, &m, "5m");
    let mut d = setup.start(&[]);
    let health = d.wait_health(200);
    let names: Vec<&str> = health["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["work", "m365", "feed"]);
    // The first complete analysis (every account read) proposes make-ups once, with one
    // free/busy request; the idle poll below reuses that answer.
    wait_for("the first make-up proposals", || {
        g.requests()
            .iter()
            .any(|r| r.path == "/calendar/v3/freeBusy")
    });
    let before = d.get("/metrics").1;
    g.clear_log();
    m.clear_log();
    d.signal("USR1");
    wait_for("a second sync of every account", || {
        let metrics = d.get("/metrics").1;
        ["work", "m365", "feed"]
            .iter()
            .all(|a| ok_syncs(&metrics, a) > ok_syncs(&before, a))
    });
    let google: Vec<String> = g.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(google.len(), 1, "one Google request: {google:?}");
    let graph: Vec<String> = m.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(graph.len(), 1, "one Graph request: {graph:?}");
    d.signal("TERM");
    assert!(d.wait_exit().0.success(), "{}", d.log());
}

fn proc_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// utime + stime in clock ticks.
fn proc_cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted after the command name.
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// The footprint benchmark (not a test): an idle daemon with three accounts polling every
/// minute. `CADENCED_FOOTPRINT_BIN` picks the binary (e.g. the release build),
/// `CADENCED_FOOTPRINT_SECS` the measuring time (default 120).
/// `cargo test --test daemon footprint -- --ignored --nocapture`
#[test]
#[ignore]
fn footprint_of_an_idle_daemon_with_three_accounts() {
    let g = FakeGoogle::start();
    g.generate_events(
        "primary",
        &GenerateSpec {
            count: 500,
            ..Default::default()
        },
    );
    let m = fake_graph::FakeGraph::start();
    let setup = three_providers(&g, &m, "1m");
    let bin = std::env::var("CADENCED_FOOTPRINT_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_cadenced").to_string());
    let secs: u64 = std::env::var("CADENCED_FOOTPRINT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let log = setup.dir.path().join("footprint.log");
    let child = Command::new(&bin)
        .arg("--config")
        .arg(&setup.config)
        .arg("--state-dir")
        .arg(&setup.state)
        .arg("run")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut d = Daemon {
        child,
        log,
        port: setup.port,
    };
    d.wait_health(200);
    std::thread::sleep(Duration::from_secs(5));
    g.clear_log();
    m.clear_log();
    let pid = d.pid();
    let ticks0 = proc_cpu_ticks(pid);
    let t0 = Instant::now();
    let mut max_rss = 0;
    while t0.elapsed() < Duration::from_secs(secs) {
        max_rss = max_rss.max(proc_rss_kib(pid));
        std::thread::sleep(Duration::from_secs(1));
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = (proc_cpu_ticks(pid) - ticks0) as f64 / 100.0;
    let rss = proc_rss_kib(pid);
    let metrics = d.get("/metrics").1;
    println!(
        "footprint: {bin}\n  {wall:.0} s idle, 3 accounts at 1m: RSS now {:.1} MiB, max {:.1} MiB; CPU {cpu:.2} s = {:.3} % of one core\n  requests: Google {} ({:?}), Graph {} ; ok syncs work {} m365 {} feed {}",
        rss as f64 / 1024.0,
        max_rss as f64 / 1024.0,
        cpu / wall * 100.0,
        g.requests().len(),
        g.requests().iter().map(|r| r.endpoint).collect::<Vec<_>>(),
        m.requests().len(),
        ok_syncs(&metrics, "work"),
        ok_syncs(&metrics, "m365"),
        ok_syncs(&metrics, "feed"),
    );
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

#[test]
fn a_foreign_host_gets_no_data_dns_rebinding() {
    let setup = Setup::example();
    let mut d = setup.start(&[]);
    d.wait_health(200);
    let port = setup.port;
    let get = |path: &str, host: &str| {
        raw_request(
            port,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
    };
    // A page on evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    for path in ["/", "/api/report", "/healthz", "/metrics"] {
        for host in [
            format!("evil.example:{port}"),
            format!("127.0.0.1.nip.io:{port}"),
        ] {
            let (code, raw) = get(path, &host);
            assert_eq!(code, 421, "{path} {host}: {raw}");
            assert!(
                !raw.contains("Alice") && !raw.contains("reports") && !raw.contains("cadenced_"),
                "{path}: {raw}"
            );
        }
    }
    // The listener's own names are served.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (code, raw) = get("/api/report", &host);
        assert_eq!(code, 200, "{host}: {raw}");
        assert!(raw.contains("\"reports\""));
    }
    // A state-changing request from another origin is refused.
    let (code, _) = raw_request(
        port,
        &format!(
            "POST /logout HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
    );
    assert_eq!(code, 403);
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

#[test]
fn names_in_daemon_hosts_are_served_and_checked_by_check() {
    let setup = Setup::new(|port| {
        example_config(&format!("127.0.0.1:{port}"), "token_env = \"\"")
            .replace("hosts = []", "hosts = [\"cadenced.example.com\"]")
    });
    let mut d = setup.start(&[]);
    d.wait_health(200);
    let (code, _) = raw_request(
        setup.port,
        "GET /api/report HTTP/1.1\r\nHost: cadenced.example.com\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(code, 200);
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
    let bad = Setup::new(|port| {
        example_config(&format!("127.0.0.1:{port}"), "token_env = \"\"")
            .replace("hosts = []", "hosts = [\"https://cadenced.example.com/\"]")
    });
    let out = bad.cmd(&["check"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stdout).contains("daemon.hosts[0]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn idle_connections_beyond_the_cap_are_refused_and_do_not_starve_the_listener() {
    const CAP: usize = 32; // server::MAX_CONNECTIONS
    let setup = Setup::example();
    let mut d = setup.start(&[]);
    d.wait_health(200);
    // Connections that never send a byte hold every slot...
    let idle: Vec<TcpStream> = (0..CAP)
        .map(|_| TcpStream::connect(("127.0.0.1", setup.port)).unwrap())
        .collect();
    // ...so the next ones are closed at once, without an answer (the listener keeps accepting).
    wait_for("a connection beyond the cap to be closed", || {
        let mut extra = TcpStream::connect(("127.0.0.1", setup.port)).unwrap();
        extra.set_read_timeout(Some(PATIENCE)).unwrap();
        let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        let mut buf = [0u8; 64];
        matches!(extra.read(&mut buf), Ok(0) | Err(_))
    });
    // The idle ones are closed by the header timeout, and the listener serves again.
    for mut s in idle {
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert!(
            n == 0 || text(&buf[..n]).contains("408"),
            "{}",
            text(&buf[..n])
        );
    }
    d.wait_health(200);
    assert!(
        d.log().contains("connections are open on the listener"),
        "{}",
        d.log()
    );
    d.signal("TERM");
    assert!(d.wait_exit().0.success());
}

/// `systemd-analyze verify` on a unit file: its complaints about the file (empty when clean).
/// `None` when the tool is not installed.
fn systemd_verify(unit: &Path, user: bool, runtime: &Path) -> Option<(bool, String)> {
    let mut cmd = Command::new("systemd-analyze");
    if user {
        // A user manager's paths need a runtime directory, even to verify.
        cmd.arg("--user").env("XDG_RUNTIME_DIR", runtime);
    }
    let out = match cmd.arg("verify").arg(unit).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => panic!("systemd-analyze: {e}"),
    };
    let name = unit.file_name().unwrap().to_string_lossy().into_owned();
    let complaints: Vec<String> = text(&out.stderr)
        .lines()
        .chain(text(&out.stdout).lines())
        .filter(|l| l.contains(&name))
        .map(str::to_string)
        .collect();
    Some((out.status.success(), complaints.join("\n")))
}

#[test]
fn both_service_units_pass_systemd_analyze_verify_and_name_the_real_state_dir() {
    let setup = Setup::example();
    let units = setup.dir.path().join("units");
    std::fs::create_dir_all(units.join("user")).unwrap();
    std::fs::create_dir_all(units.join("system")).unwrap();
    let runtime = setup.dir.path().join("runtime");
    std::fs::create_dir_all(&runtime).unwrap();

    // The user unit: the state directory is passed, never StateDirectory=, and it exists.
    let user_unit = units.join("user/cadenced.service");
    let out = setup
        .cmd(&["service", "install", "--user", "--output"])
        .arg(&user_unit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unit = std::fs::read_to_string(&user_unit).unwrap();
    assert!(!unit.contains("StateDirectory"), "{unit}");
    assert!(
        unit.contains(&format!("--state-dir {} run", setup.state.display())),
        "{unit}"
    );
    assert!(text(&out.stdout).contains(&format!("Its state lives in {}", setup.state.display())));
    assert!(setup.state.is_dir());
    // The config is under /tmp here: bound into the private /tmp, not hidden by it.
    assert!(
        unit.lines()
            .any(|l| l == format!("BindReadOnlyPaths={}", setup.config.display())),
        "{unit}"
    );
    for line in ["MemoryMax=512M", "TasksMax=64"] {
        assert!(unit.lines().any(|l| l == line), "{line}: {unit}");
    }

    // The system unit with an explicit state directory: instructions name that directory.
    let system_unit = units.join("system/cadenced.service");
    let out = setup
        .cmd(&["service", "install", "--output"])
        .arg(&system_unit)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!("Its state lives in {}", setup.state.display()))
            && !said.contains("/var/lib/cadenced"),
        "{said}"
    );

    for (file, user) in [(&user_unit, true), (&system_unit, false)] {
        match systemd_verify(file, user, &runtime) {
            None => {
                eprintln!("NOTICE: systemd-analyze is not installed; the units were not verified");
                return;
            }
            Some((ok, complaints)) => {
                assert!(
                    ok && complaints.is_empty(),
                    "{}: {complaints}",
                    file.display()
                );
            }
        }
    }
    // The reference copy too.
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cadenced.service");
    let copy = units.join("cadenced.service");
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_cadenced")).unwrap();
    std::fs::write(
        &copy,
        std::fs::read_to_string(reference)
            .unwrap()
            .replace("/usr/local/bin/cadenced", &exe.display().to_string()),
    )
    .unwrap();
    let (ok, complaints) = systemd_verify(&copy, false, &runtime).unwrap();
    assert!(ok && complaints.is_empty(), "{complaints}");
}
