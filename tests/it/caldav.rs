//! CalDAV against a real server (issue 18): Radicale, started per test on a free loopback port
//! with its own storage and htpasswd under `target/tmp/`, reached through a tiny counting proxy
//! (so the tests can count requests, hold one to kill the client mid-sync, or answer a 503).
//!
//! Radicale comes from `target/py/` (`.ci/run` creates that venv and installs it); without it
//! every test prints why and returns.

use crate::common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Env, stderr, stdout};
use serde_json::Value;

const USER: &str = "alice";
const PASSWORD: &str = "alicepw";
/// `alice:alicepw` in Base64.
const BASIC: &str = "YWxpY2U6YWxpY2Vwdw==";
const PW_VAR: &str = "CADENCED_TEST_CALDAV_PASSWORD";

// ----- Radicale --------------------------------------------------------------------------------

/// The Python that has Radicale: `target/py/bin/python` (made by `.ci/run`).
fn radicale_python() -> Option<PathBuf> {
    let py = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/py/bin/python");
    let ok = Command::new(&py)
        .args(["-c", "import radicale"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(py)
}

macro_rules! radicale_or_skip {
    () => {
        match Radicale::start() {
            Some(r) => r,
            None => {
                eprintln!(
                    "SKIPPED: radicale is not installed in target/py (run .ci/run, or: python3 -m venv target/py && target/py/bin/pip install radicale)"
                );
                return;
            }
        }
    };
}

struct Radicale {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Radicale {
    fn start() -> Option<Radicale> {
        let python = radicale_python()?;
        let dir = tempfile::Builder::new()
            .prefix("radicale-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::write(
            dir.path().join("users"),
            format!("{USER}:{PASSWORD}\nbob:bobpw\n"),
        )
        .unwrap();
        // Port 0 is refused by Radicale: pick one, and try again if another process took it.
        for _ in 0..5 {
            let port = free_port();
            let config = format!(
                "[server]\nhosts = 127.0.0.1:{port}\n[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n\
                 htpasswd_encryption = plain\ndelay = 0\n[rights]\ntype = owner_only\n[storage]\n\
                 filesystem_folder = {store}\n[web]\ntype = none\n[logging]\nlevel = info\n",
                users = dir.path().join("users").display(),
                store = dir.path().join("collections").display(),
            );
            std::fs::write(dir.path().join("config"), config).unwrap();
            let log = std::fs::File::create(dir.path().join("log")).unwrap();
            let child = Command::new(&python)
                .args(["-m", "radicale", "--config"])
                .arg(dir.path().join("config"))
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut child = child;
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if raw(port, "GET", "/.well-known/caldav", &[], "")
                    .is_some_and(|(status, _, _)| status == 301)
                {
                    return Some(Radicale {
                        child,
                        port,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "radicale did not start; its log: {}",
            std::fs::read_to_string(dir.path().join("log")).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A request with alice's credentials: (status, headers, body).
    fn req(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut h = vec![("Authorization", format!("Basic {BASIC}"))];
        h.extend(headers.iter().map(|(k, v)| (*k, v.to_string())));
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        raw(self.port, method, path, &h, body).expect("radicale answered")
    }

    fn mkcalendar(&self, path: &str, name: &str, comp: &str) {
        let body = format!(
            r#"<?xml version="1.0" encoding="utf-8"?><d:mkcol xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:resourcetype><d:collection/><c:calendar/></d:resourcetype><d:displayname>{name}</d:displayname><c:supported-calendar-component-set><c:comp name="{comp}"/></c:supported-calendar-component-set></d:prop></d:set></d:mkcol>"#
        );
        let (status, _, text) =
            self.req("MKCOL", path, &[("Content-Type", "application/xml")], &body);
        assert_eq!(status, 201, "MKCOL {path}: {text}");
    }

    /// PUT one resource (`If-None-Match: *` when new); returns the ETag.
    fn put(&self, path: &str, ics: &str, new: bool) -> String {
        let mut h = vec![("Content-Type", "text/calendar; charset=utf-8")];
        if new {
            h.push(("If-None-Match", "*"));
        }
        let (status, headers, text) = self.req("PUT", path, &h, ics);
        assert!(
            status == 201 || status == 204,
            "PUT {path}: {status} {text}"
        );
        header(&headers, "etag").unwrap_or_default()
    }

    fn delete(&self, path: &str) {
        let (status, _, text) = self.req("DELETE", path, &[], "");
        assert!(
            status == 200 || status == 204,
            "DELETE {path}: {status} {text}"
        );
    }

    /// The whole collection as one iCalendar text (Radicale answers GET on a calendar so).
    fn export(&self, path: &str) -> String {
        let (status, _, text) = self.req("GET", path, &[], "");
        assert_eq!(status, 200, "GET {path}");
        text
    }
}

impl Drop for Radicale {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// One HTTP/1.1 exchange with `Connection: close`: (status, head, body).
fn raw(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, head.to_string(), body.to_string()))
}

// ----- the counting proxy ----------------------------------------------------------------------

/// One request the proxy saw.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: String,
    status: u16,
}

impl Seen {
    fn kind(&self) -> &'static str {
        if self.body.contains("sync-collection") {
            "sync"
        } else if self.body.contains("calendar-multiget") {
            "multiget"
        } else if self.method == "PROPFIND" {
            "propfind"
        } else {
            "other"
        }
    }
}

#[derive(Clone)]
enum Action {
    /// Answer this instead of forwarding.
    Respond(u16, &'static str, &'static str),
    /// Never answer (the client is killed meanwhile).
    Hang,
    /// Forward, and replace these strings in the answer (same lengths: Content-Length stays).
    Rewrite(&'static [(&'static str, &'static str)]),
}

#[derive(Clone)]
struct Rule {
    method: &'static str,
    path_contains: &'static str,
    body_contains: &'static str,
    /// Matching requests let through before the rule acts.
    skip: usize,
    /// How many times it acts (`usize::MAX`: always).
    times: usize,
    action: Action,
}

struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
    rules: Arc<Mutex<Vec<Rule>>>,
    hung: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let rules: Arc<Mutex<Vec<Rule>>> = Arc::default();
        let hung = Arc::new(AtomicBool::new(false));
        let (s, r, h) = (seen.clone(), rules.clone(), hung.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (s, r, h) = (s.clone(), r.clone(), h.clone());
                std::thread::spawn(move || handle(conn, upstream, &s, &r, &h));
            }
        });
        Proxy {
            port,
            seen,
            rules,
            hung,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn add(&self, rule: Rule) {
        self.rules.lock().unwrap().push(rule);
    }

    fn clear_rules(&self) {
        self.rules.lock().unwrap().clear();
    }

    /// Requests seen so far, and forget them.
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn read_request(conn: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).ok()?;
    Some((head, body))
}

fn handle(
    mut conn: TcpStream,
    upstream: u16,
    seen: &Mutex<Vec<Seen>>,
    rules: &Mutex<Vec<Rule>>,
    hung: &AtomicBool,
) {
    let Some((head, body)) = read_request(&mut conn) else {
        return;
    };
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_string();
    let path = first.next().unwrap_or("").to_string();
    let body_text = String::from_utf8_lossy(&body).into_owned();
    let action = {
        let mut rules = rules.lock().unwrap();
        let mut act = None;
        for rule in rules.iter_mut() {
            if rule.method == method
                && path.contains(rule.path_contains)
                && body_text.contains(rule.body_contains)
                && rule.times > 0
            {
                if rule.skip > 0 {
                    rule.skip -= 1;
                } else {
                    rule.times = rule.times.saturating_sub(1);
                    act = Some(rule.action.clone());
                }
                break;
            }
        }
        act
    };
    let record = |status: u16| {
        seen.lock().unwrap().push(Seen {
            method: method.clone(),
            path: path.clone(),
            body: body_text.clone(),
            status,
        })
    };
    match action {
        Some(Action::Hang) => {
            record(0);
            hung.store(true, Ordering::SeqCst);
            // Keep the connection open until the test process ends.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
        Some(Action::Respond(status, extra, text)) => {
            record(status);
            let resp = format!(
                "HTTP/1.1 {status} Whatever\r\nConnection: close\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n{extra}\r\n{text}",
                text.len()
            );
            let _ = conn.write_all(resp.as_bytes());
        }
        None | Some(Action::Rewrite(_)) => {
            let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let mut fwd = String::new();
            for (i, line) in head.trim_end().lines().enumerate() {
                // Plain answers (no gzip), so that a rule can rewrite them.
                let lower = line.to_ascii_lowercase();
                if i > 0
                    && (lower.starts_with("connection:") || lower.starts_with("accept-encoding:"))
                {
                    continue;
                }
                fwd.push_str(line);
                fwd.push_str("\r\n");
            }
            fwd.push_str("Connection: close\r\n\r\n");
            let _ = up.write_all(fwd.as_bytes());
            let _ = up.write_all(&body);
            let mut resp = Vec::new();
            let _ = up.read_to_end(&mut resp);
            let split = resp
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .unwrap_or(resp.len());
            let rhead = String::from_utf8_lossy(&resp[..split]).into_owned();
            let status = rhead
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            record(status);
            let mut out = String::new();
            for (i, line) in rhead.lines().enumerate() {
                if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
                    continue;
                }
                out.push_str(line);
                out.push_str("\r\n");
            }
            // `resp[split..]` starts with the blank line that ends the head.
            out.push_str("Connection: close");
            let _ = conn.write_all(out.as_bytes());
            let mut rest = String::from_utf8_lossy(&resp[split.min(resp.len())..]).into_owned();
            if let Some(Action::Rewrite(pairs)) = action {
                for (from, to) in pairs {
                    assert_eq!(from.len(), to.len());
                    rest = rest.replace(from, to);
                }
            }
            let _ = conn.write_all(rest.as_bytes());
        }
    }
}

// ----- calendars and the binary ----------------------------------------------------------------

const MANAGER: &str = "mika@example.com";

fn base_config() -> String {
    "[manager]\nemail = \"mika@example.com\"\ntimezone = \"Europe/Berlin\"\n\n[[reports]]\nemail = \"ana@example.com\"\nname = \"Ana\"\n\n[[reports]]\nemail = \"ben@example.com\"\nname = \"Ben\"\n".to_string()
}

fn caldav_account(url: &str, calendars: Option<&str>) -> String {
    format!(
        "[[accounts]]\nname = \"feed\"\nprovider = \"caldav\"\nurl = \"{url}/\"\nusername = \"{USER}\"\npassword_env = \"{PW_VAR}\"\n{}",
        calendars
            .map(|c| format!("calendars = [{c}]\n"))
            .unwrap_or_default()
    )
}

struct Dav {
    env: Env,
    password: String,
}

impl Dav {
    fn new(config: &str) -> Dav {
        Dav {
            env: Env::with_config_text(config),
            password: PASSWORD.to_string(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.cmd(args);
        c.env(PW_VAR, &self.password);
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.env.state.join("cadenced.db")).unwrap()
    }
}

fn vevent(uid: &str, start: &str, end: &str, summary: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start}\r\nDTEND:{end}\r\nSUMMARY:{summary}\r\n\
         ORGANIZER:mailto:{MANAGER}\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{MANAGER}\r\n{extra}END:VEVENT\r\n"
    )
}

fn vcalendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cadenced tests//EN\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

fn ana_series(extra_vevents: &[String]) -> String {
    let mut v = vec![vevent(
        "ana-weekly@example.com",
        "20261005T090000Z",
        "20261005T093000Z",
        "Mika / Ana 1on1",
        "RRULE:FREQ=WEEKLY;BYDAY=MO\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    )];
    v.extend(extra_vevents.iter().cloned());
    vcalendar(&v)
}

fn ben_single(uid: &str, day: &str) -> String {
    vcalendar(&[vevent(
        uid,
        &format!("{day}T140000Z"),
        &format!("{day}T143000Z"),
        "Ben 1on1",
        "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@example.com\r\n",
    )])
}

const FROM: &str = "2026-09-01";
const TO: &str = "2027-01-01";

/// `events --json` lines without the account and calendar (which differ by source), sorted.
fn events_of(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = env
        .events(FROM, TO)
        .into_iter()
        .map(|mut e| {
            let o = e.as_object_mut().unwrap();
            o.remove("account");
            o.remove("calendar");
            e.to_string()
        })
        .collect();
    v.sort();
    v
}

/// The store equals the server: the events read through CalDAV are those of the server's own
/// export of the calendar, read as an .ics file.
fn assert_store_equals_server(dav: &Dav, rad: &Radicale, calendar: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.ics");
    std::fs::write(&file, rad.export(calendar)).unwrap();
    let ics = Env::with_config_text(&format!(
        "{}\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
        base_config(),
        file.display()
    ));
    let out = ics.run(&["sync"]);
    assert!(out.status.success(), "ics sync: {}", stderr(&out));
    let expected = events_of(&ics);
    assert!(!expected.is_empty());
    assert_eq!(events_of(&dav.env), expected);
}

fn kinds(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.kind(), s.status))
        .collect()
}

// ----- tests -----------------------------------------------------------------------------------

/// Discovery from the server root; a full sync; then adds, a moved exception, a cancelled
/// instance and a deletion made with plain PUT/DELETE, brought in by the sync token alone (one
/// sync-collection REPORT and one multiget, no listing); then an idle poll of one request.
#[test]
fn discovery_full_then_incremental_sync_and_idle_poll() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.mkcalendar("/alice/tasks/", "Tasks", "VTODO");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    rad.put(
        "/alice/work/ben-1.ics",
        &ben_single("ben-1@example.com", "20261007"),
        true,
    );
    rad.put(
        "/alice/work/ben-2.ics",
        &ben_single("ben-2@example.com", "20261014"),
        true,
    );
    let proxy = Proxy::start(rad.port);
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));

    // `auth` checks the credentials and lists the calendars holding events (not the task list).
    let listed = dav.ok(&["auth", "feed"]);
    assert!(
        listed.contains("Work") && listed.contains("/alice/work/"),
        "{listed}"
    );
    assert!(!listed.contains("Tasks"), "{listed}");
    let seen = proxy.take();
    assert!(
        seen.iter().any(|s| s.path == "/.well-known/caldav"),
        "discovery starts at the well-known address: {seen:?}"
    );

    dav.ok(&["sync"]);
    let first = proxy.take();
    assert_eq!(
        first.iter().filter(|s| s.kind() == "multiget").count(),
        1,
        "{:?}",
        kinds(&first)
    );
    assert_store_equals_server(&dav, &rad, "/alice/work/");

    // Changes on the server: a new event, the series gets a moved exception and a cancelled
    // instance, and one event is deleted.
    rad.put(
        "/alice/work/ben-3.ics",
        &ben_single("ben-3@example.com", "20261021"),
        true,
    );
    let moved = vevent(
        "ana-weekly@example.com",
        "20261013T150000Z",
        "20261013T153000Z",
        "Mika / Ana 1on1 (moved)",
        "RECURRENCE-ID:20261012T090000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    );
    let cancelled = vevent(
        "ana-weekly@example.com",
        "20261019T090000Z",
        "20261019T093000Z",
        "Mika / Ana 1on1",
        "RECURRENCE-ID:20261019T090000Z\r\nSTATUS:CANCELLED\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    );
    rad.put(
        "/alice/work/ana.ics",
        &ana_series(&[moved, cancelled]),
        false,
    );
    rad.delete("/alice/work/ben-1.ics");

    dav.ok(&["sync"]);
    let incremental = proxy.take();
    assert_eq!(
        kinds(&incremental),
        ["sync 207", "multiget 207"],
        "the token alone brings the changes: {incremental:?}"
    );
    assert!(
        !incremental[0]
            .body
            .contains("<d:sync-token></d:sync-token>"),
        "an incremental REPORT sends the stored token"
    );
    let fetched = incremental[1].body.matches("<d:href>").count();
    assert_eq!(
        fetched, 2,
        "only the added and the changed resource are fetched"
    );
    assert_store_equals_server(&dav, &rad, "/alice/work/");
    let events = dav.env.events(FROM, TO);
    let ana: Vec<String> = events
        .iter()
        .filter(|e| e["uid"] == "ana-weekly@example.com")
        .map(|e| {
            format!(
                "{} {}",
                e["start"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        ana.contains(&"2026-10-13T15:00:00Z confirmed".to_string()),
        "{ana:?}"
    );
    assert!(
        !ana.iter().any(|a| a.starts_with("2026-10-12T09:00:00Z")),
        "{ana:?}"
    );
    assert!(
        !events.iter().any(|e| e["uid"] == "ben-1@example.com"),
        "the deleted event is gone"
    );

    // An idle poll: one request, and nothing written.
    dav.ok(&["sync"]);
    assert_eq!(kinds(&proxy.take()), ["sync 207"]);
}

/// A stored token the server no longer knows (403 `valid-sync-token`) leads to exactly one full
/// listing, whose sweep removes what was deleted meanwhile.
#[test]
fn an_invalid_token_gives_one_clean_full_sync() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    rad.put(
        "/alice/work/ben-1.ics",
        &ben_single("ben-1@example.com", "20261007"),
        true,
    );
    let proxy = Proxy::start(rad.port);
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), Some("\"Work\""))
    ));
    dav.ok(&["sync"]);
    let n = dav
        .db()
        .execute(
            "UPDATE sync_cursors SET cursor = json_set(cursor, '$.token', 'http://radicale.org/ns/sync/0000')",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    rad.delete("/alice/work/ben-1.ics");
    rad.put(
        "/alice/work/ben-2.ics",
        &ben_single("ben-2@example.com", "20261014"),
        true,
    );
    proxy.take();
    dav.ok(&["sync"]);
    let seen = proxy.take();
    assert_eq!(
        kinds(&seen),
        ["sync 403", "sync 207", "multiget 207"],
        "{seen:?}"
    );
    assert!(seen[1].body.contains("<d:sync-token></d:sync-token>"));
    assert_eq!(
        seen[2].body.matches("<d:href>").count(),
        1,
        "ana.ics is unchanged"
    );
    assert_store_equals_server(&dav, &rad, "/alice/work/");
    let token: String = dav
        .db()
        .query_row(
            "SELECT json_extract(cursor, '$.token') FROM sync_cursors",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(token.starts_with("http://radicale.org/ns/sync/") && !token.ends_with("0000"));
}

/// A wrong password: one request, the account marked as needing `auth` (status, alert), no
/// request on later syncs; `auth` with the right password clears it.
#[test]
fn a_wrong_password_needs_auth_without_a_retry_storm() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    let proxy = Proxy::start(rad.port);
    let mut dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));
    dav.password = "wrong".into();
    let out = dav.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("cadenced auth feed"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("wrong"), "the password never shows");
    let seen = proxy.take();
    // Radicale redirects the well-known address without asking for credentials; the first
    // request that carries them is refused, and that is the last one.
    assert_eq!(kinds(&seen), ["propfind 301", "propfind 401"], "{seen:?}");
    for _ in 0..3 {
        let out = dav.run(&["sync"]);
        assert_eq!(out.status.code(), Some(1));
    }
    assert!(
        proxy.take().is_empty(),
        "no request while the account needs auth"
    );
    let status = dav.ok(&["status"]);
    assert!(status.contains("needs authorization"), "{status}");
    let report: Value = serde_json::from_str(&dav.ok(&["report", "--json"])).unwrap();
    assert!(
        report["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "needs_auth"),
        "{report}"
    );
    // `auth` with the wrong password fails and keeps the mark; with the right one it clears it.
    let out = dav.run(&["auth", "feed"]);
    assert_eq!(out.status.code(), Some(1));
    dav.password = PASSWORD.into();
    let listed = dav.ok(&["auth", "feed"]);
    assert!(listed.contains("Work"), "{listed}");
    dav.ok(&["sync"]);
    assert!(!dav.ok(&["status"]).contains("needs authorization"));
    assert_store_equals_server(&dav, &rad, "/alice/work/");
    // The password changes later (discovery is cached): the sync REPORT's 401 marks the
    // account the same way, and nothing more is sent.
    dav.password = "changed".into();
    proxy.take();
    let out = dav.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(kinds(&proxy.take()), ["sync 401"]);
    let out = dav.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(proxy.take().is_empty());
    assert!(dav.ok(&["status"]).contains("needs authorization"));
}

/// 503 with Retry-After is retried; a calendar that fails does not stop the others.
#[test]
fn retry_after_and_one_failing_calendar() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.mkcalendar("/alice/broken/", "Broken", "VEVENT");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    rad.put(
        "/alice/broken/ben.ics",
        &ben_single("ben-1@example.com", "20261007"),
        true,
    );
    let proxy = Proxy::start(rad.port);
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));
    proxy.add(Rule {
        method: "REPORT",
        path_contains: "/alice/work/",
        body_contains: "sync-collection",
        skip: 0,
        times: 1,
        action: Action::Respond(503, "Retry-After: 1\r\n", "busy"),
    });
    proxy.add(Rule {
        method: "REPORT",
        path_contains: "/alice/broken/",
        body_contains: "",
        skip: 0,
        times: usize::MAX,
        action: Action::Respond(403, "", "<error xmlns=\"DAV:\"><need-privileges/></error>"),
    });
    let out = dav.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("Broken"), "{}", stderr(&out));
    let work: Vec<String> = proxy
        .take()
        .iter()
        .filter(|s| s.path.starts_with("/alice/work/"))
        .map(|s| format!("{} {}", s.kind(), s.status))
        .collect();
    assert_eq!(work, ["sync 503", "sync 207", "multiget 207"]);
    let events = dav.env.events(FROM, TO);
    assert!(events.iter().any(|e| e["uid"] == "ana-weekly@example.com"));
    assert!(!events.iter().any(|e| e["uid"] == "ben-1@example.com"));
}

/// A redirect to another origin is not followed (credentials never go there): discovery goes
/// on from the server address itself.
#[test]
fn redirects_to_another_origin_are_not_followed() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    let elsewhere = Proxy::start(rad.port);
    let proxy = Proxy::start(rad.port);
    let location: &'static str =
        Box::leak(format!("Location: http://localhost:{}/\r\n", elsewhere.port).into_boxed_str());
    proxy.add(Rule {
        method: "PROPFIND",
        path_contains: "/.well-known/caldav",
        body_contains: "",
        skip: 0,
        times: usize::MAX,
        action: Action::Respond(301, location, ""),
    });
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));
    dav.ok(&["sync"]);
    assert!(
        elsewhere.take().is_empty(),
        "nothing was sent to the other origin"
    );
    let seen = proxy.take();
    assert_eq!(seen[0].path, "/.well-known/caldav");
    assert_eq!(seen[1].path, "/", "{:?}", kinds(&seen));
    assert_store_equals_server(&dav, &rad, "/alice/work/");
}

/// SIGKILL while the second multiget batch is in flight: the first batch is stored, the token is
/// not; the next sync fetches only the rest and ends equal to the server, without duplicates.
#[test]
fn sigkill_mid_sync_then_resume() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    let events: Vec<String> = (0..120)
        .map(|i| {
            vevent(
                &format!("adhoc-{i:03}@example.com"),
                &format!("202610{:02}T{:02}0000Z", 1 + i % 28, 8 + i / 28),
                &format!("202610{:02}T{:02}3000Z", 1 + i % 28, 8 + i / 28),
                "Ben 1on1",
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@example.com\r\n",
            )
        })
        .collect();
    // One PUT of a whole calendar: Radicale stores one resource per UID.
    rad.put("/alice/work/", &vcalendar(&events), false);
    let proxy = Proxy::start(rad.port);
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));
    proxy.add(Rule {
        method: "REPORT",
        path_contains: "/alice/work/",
        body_contains: "calendar-multiget",
        skip: 1,
        times: 1,
        action: Action::Hang,
    });
    let mut child = dav
        .cmd(&["sync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !proxy.hung.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the second multiget never came");
        assert!(
            child.try_wait().unwrap().is_none(),
            "sync ended before the second batch"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let db = dav.db();
    let stored: i64 = db
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 50, "the first batch committed");
    let token: Option<String> = db
        .query_row(
            "SELECT json_extract(cursor, '$.token') FROM sync_cursors",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(token, None, "no token before the last batch");
    drop(db);
    proxy.clear_rules();
    proxy.take();
    dav.ok(&["sync"]);
    let seen = proxy.take();
    let multigets: Vec<usize> = seen
        .iter()
        .filter(|s| s.kind() == "multiget")
        .map(|s| s.body.matches("<d:href>").count())
        .collect();
    assert_eq!(
        multigets,
        [50, 20],
        "only what was not stored is fetched: {:?}",
        kinds(&seen)
    );
    let stored: i64 = dav
        .db()
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(stored, 120);
    assert_store_equals_server(&dav, &rad, "/alice/work/");
    dav.ok(&["sync"]);
    assert_eq!(kinds(&proxy.take()), ["sync 207"]);
}

/// A server without sync-collection (the proxy hides it from discovery, as older servers do):
/// a `getctag` check, then a getetag listing and a multiget of what changed; an idle poll is
/// the one ctag request.
#[test]
fn without_sync_collection_ctag_then_etag_listing() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    rad.put("/alice/work/ana.ics", &ana_series(&[]), true);
    rad.put(
        "/alice/work/ben-1.ics",
        &ben_single("ben-1@example.com", "20261007"),
        true,
    );
    let proxy = Proxy::start(rad.port);
    proxy.add(Rule {
        method: "PROPFIND",
        path_contains: "",
        body_contains: "supported-report-set",
        skip: 0,
        times: usize::MAX,
        action: Action::Rewrite(&[
            ("sync-collection", "sync-collectiox"),
            ("<sync-token>", "<sync-tokex>"),
            ("</sync-token>", "</sync-tokex>"),
        ]),
    });
    let dav = Dav::new(&format!(
        "{}\n{}",
        base_config(),
        caldav_account(&proxy.url(), None)
    ));
    assert!(dav.ok(&["auth", "feed"]).contains("ctag listing"));
    proxy.take();
    dav.ok(&["sync"]);
    let seen = proxy.take();
    assert!(
        !seen.iter().any(|s| s.kind() == "sync"),
        "{:?}",
        kinds(&seen)
    );
    assert_store_equals_server(&dav, &rad, "/alice/work/");
    dav.ok(&["sync"]);
    assert_eq!(
        kinds(&proxy.take()),
        ["propfind 207"],
        "idle: the ctag only"
    );
    rad.delete("/alice/work/ben-1.ics");
    rad.put(
        "/alice/work/ben-2.ics",
        &ben_single("ben-2@example.com", "20261014"),
        true,
    );
    dav.ok(&["sync"]);
    let seen = proxy.take();
    assert_eq!(
        kinds(&seen),
        ["propfind 207", "propfind 207", "multiget 207"]
    );
    assert_eq!(seen[2].body.matches("<d:href>").count(), 1);
    assert_store_equals_server(&dav, &rad, "/alice/work/");
}

/// Agenda links: the block goes into DESCRIPTION of the series the manager organizes (master
/// and override), with every other line of the resource unchanged; a series someone else
/// organizes is left alone; a second run writes nothing; `agenda unlink` gives the resource back
/// byte for byte.
#[test]
fn agenda_link_write_back_keeps_every_other_line() {
    let rad = radicale_or_skip!();
    rad.mkcalendar("/alice/work/", "Work", "VEVENT");
    let moved = vevent(
        "ana-weekly@example.com",
        "20261013T150000Z",
        "20261013T153000Z",
        "Mika / Ana 1on1",
        "RECURRENCE-ID:20261012T090000Z\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:ana@example.com\r\n",
    );
    let ana = ana_series(&[moved]).replacen(
        "SUMMARY:Mika / Ana 1on1\r\n",
        "SUMMARY:Mika / Ana 1on1\r\nDESCRIPTION:Join: https://meet.example.com/ana-mika\\, agenda in the doc\\; bring notes. This line is long enough to be folded by the server.\r\n\
         BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n",
        1,
    );
    rad.put("/alice/work/ana.ics", &ana, true);
    let ben = vcalendar(&[format!(
        "BEGIN:VEVENT\r\nUID:ben-weekly@example.com\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20261006T140000Z\r\n\
         DTEND:20261006T143000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Ben / Mika 1on1\r\nORGANIZER:mailto:ben@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:ben@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{MANAGER}\r\nEND:VEVENT\r\n"
    )]);
    rad.put("/alice/work/ben.ics", &ben, true);
    let (_, _, ana0) = rad.req("GET", "/alice/work/ana.ics", &[], "");
    let (_, _, ben0) = rad.req("GET", "/alice/work/ben.ics", &[], "");
    let config = format!(
        "{}\n{}\n[cadence]\ndefault = \"weekly\"\n\n[agenda]\nlink_base = \"https://intranet.example.com/agendas/\"\nlead_time = \"3d\"\n",
        base_config(),
        caldav_account(&rad.url(), Some("\"Work\""))
    );
    let dav = Dav::new(&config);
    let now = "2026-10-11T12:00:00Z";
    dav.ok(&["--now", now, "sync"]);
    let out = dav.ok(&["--now", now, "agenda"]);
    let (_, head1, ana1) = rad.req("GET", "/alice/work/ana.ics", &[], "");
    let unfolded = ana1.replace("\r\n ", "").replace("\n ", "");
    assert_eq!(
        unfolded.matches("-- cadenced agenda --").count(),
        2,
        "master and override: {out}\n{ana1}"
    );
    assert!(
        unfolded.contains("https://intranet.example.com/agendas/"),
        "{ana1}"
    );
    // Every line of the resource is still there, in order; what was added are DESCRIPTION lines
    // (and their continuations).
    let (old, new): (Vec<&str>, Vec<&str>) = (ana0.lines().collect(), ana1.lines().collect());
    let description_lines = |ls: &[&str]| -> Vec<usize> {
        let mut v = Vec::new();
        let mut inside = false;
        for (i, l) in ls.iter().enumerate() {
            inside = l.starts_with("DESCRIPTION") || (inside && l.starts_with(' '));
            if inside {
                v.push(i);
            }
        }
        v
    };
    let strip = |ls: &[&str]| -> Vec<String> {
        let d = description_lines(ls);
        ls.iter()
            .enumerate()
            .filter(|(i, _)| !d.contains(i))
            .map(|(_, l)| l.to_string())
            .collect()
    };
    assert_eq!(strip(&new), strip(&old), "only DESCRIPTION lines differ");
    assert!(
        ana1.contains("DESCRIPTION:Reminder"),
        "the alarm's description is untouched"
    );
    let (_, _, ben1) = rad.req("GET", "/alice/work/ben.ics", &[], "");
    assert_eq!(
        ben1, ben0,
        "a series the manager does not organize is not written"
    );
    // Idempotent: a second run changes nothing on the server.
    dav.ok(&["--now", now, "sync"]);
    dav.ok(&["--now", now, "agenda"]);
    let (_, head2, _) = rad.req("GET", "/alice/work/ana.ics", &[], "");
    assert_eq!(header(&head2, "etag"), header(&head1, "etag"));
    let out = dav.ok(&["--now", now, "agenda", "unlink"]);
    assert!(out.contains("1 agenda link removed"), "{out}");
    let (_, _, ana2) = rad.req("GET", "/alice/work/ana.ics", &[], "");
    assert_eq!(ana2, ana0, "unlink restores the resource byte for byte");
}

// ----- CalDAV vs .ics --------------------------------------------------------------------------

/// `config` with its `[[accounts]]` blocks replaced by `accounts`.
fn with_accounts(config: &str, accounts: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    let mut placed = false;
    for line in config.lines() {
        let t = line.trim_start();
        if t.starts_with('[') {
            skipping = t.starts_with("[[accounts]]");
            if skipping && !placed {
                out.push_str(accounts);
                out.push('\n');
                placed = true;
            }
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !placed {
        out.push_str(accounts);
    }
    out
}

fn report(env_cmd: impl Fn(&[&str]) -> std::process::Output, now: &str) -> Value {
    let out = env_cmd(&["--now", now, "sync"]);
    assert!(out.status.success(), "sync: {}", stderr(&out));
    let out = env_cmd(&["--now", now, "report", "--json"]);
    assert!(out.status.success(), "report: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The calendar uploaded to Radicale (one PUT of the whole file, split by UID by the server) and
/// read through CalDAV gives exactly the `report --json` of the same file read as .ics.
fn same_report(config: &str, ics: &Path, now: &str) {
    let rad = radicale_or_skip!();
    rad.put(
        "/alice/team/",
        &std::fs::read_to_string(ics).unwrap(),
        false,
    );
    let ics_env = Env::with_config_text(&with_accounts(
        config,
        &format!(
            "[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
            ics.display()
        ),
    ));
    let expected = report(|a| ics_env.run(a), now);
    let dav = Dav::new(&with_accounts(
        config,
        &caldav_account(&rad.url(), Some("\"/alice/team/\"")),
    ));
    let got = report(|a| dav.run(a), now);
    assert!(
        !expected["alerts"].as_array().unwrap().is_empty(),
        "a report worth comparing"
    );
    assert_eq!(
        got,
        expected,
        "CalDAV report differs from the .ics one:\nics: {}\ncaldav: {}",
        serde_json::to_string_pretty(&expected).unwrap(),
        serde_json::to_string_pretty(&got).unwrap()
    );
}

#[test]
fn caldav_and_ics_give_the_same_report_for_the_example() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = std::fs::read_to_string(root.join("config/example.toml")).unwrap();
    same_report(
        &config,
        &root.join("config/example.ics"),
        "2026-11-24T09:00:00+09:00",
    );
}

#[test]
fn caldav_and_ics_give_the_same_report_for_the_varied_calendar() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The roster of tests/cross_provider.rs for this calendar.
    let mut config = String::from(
        "[manager]\nemail = \"mika@example.com\"\nname = \"Mika\"\ntimezone = \"America/New_York\"\n",
    );
    for (email, name, extra) in [
        ("ana", "Ana", ""),
        ("ben", "Ben", ""),
        (
            "chloe",
            "Chloe",
            "aliases = [\"chloe.martin@example.org\"]\n",
        ),
        ("dev", "Dev", "cadence = \"biweekly\"\n"),
        ("eve", "Eve", ""),
        ("finn", "Finn", ""),
        ("gus", "Gus", ""),
        ("hana", "Hana", ""),
    ] {
        config.push_str(&format!(
            "\n[[reports]]\nemail = \"{email}@example.com\"\nname = \"{name}\"\n{extra}"
        ));
    }
    config.push_str(
        "\n[cadence]\ndefault = \"biweekly\"\ngrace = 0.5\nuneven_ratio = 0.5\nlookback = \"90d\"\n",
    );
    same_report(
        &config,
        &root.join("tests/fixtures/cross_provider_team.ics"),
        "2026-11-24T09:00:00-05:00",
    );
}

#[test]
fn check_names_every_caldav_key() {
    let env = Env::with_config_text(&format!(
        "{}\n[[accounts]]\nname = \"dav\"\nprovider = \"caldav\"\nurl = \"ftp://x\"\ncalendars = []\npassword = \"hunter2\"\n",
        base_config()
    ));
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    for key in [
        "accounts[0].url",
        "accounts[0].calendars",
        "accounts[0].username",
        "accounts[0].password_env",
        "accounts[0].password",
    ] {
        assert!(text.contains(key), "{key} not named:\n{text}");
    }
    assert!(!text.contains("hunter2"), "{text}");
}
