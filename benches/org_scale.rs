//! Org mode at company size: N managers × 8 reports (default N = 2,000, i.e. 16,000 reports and
//! their weekly 1on1s) read through the Google fake with a service account, on the embedded
//! SQLite store and on PostgreSQL, by the `sync` command and by one or two daemons.
//!
//! Run: `cargo bench --bench org_scale` (another size: `cargo bench --bench org_scale -- 200`).
//! Needs `/usr/bin/time` (`apt-get install -y time`) for CPU time and peak memory of the
//! commands, and Debian's `postgresql` server binaries for the PostgreSQL half (a throwaway
//! cluster under `target/`, started by `testkit::pg`; `BENCH_PG=0` skips it). `BENCH_DAEMON=0`
//! skips the daemon cycles.
//!
//! What it does: starts the fake in this process (its CPU is not counted: only the cadenced
//! processes are measured) and generates the org: one chief, ⌈N / 40⌉ senior managers under
//! the chief (40 managers each), N managers, 8 reports per manager, a Workspace admin; org
//! units `/Dept<k>/Team<d>` per senior manager; every 97th report suspended. Every manager's
//! calendar holds one weekly 1on1 series per report (started 16 weeks ago, from the real clock),
//! every 13th series with one cancelled instance and every 17th with one declined by the
//! report; the senior managers and the chief hold the same with their own direct reports.
//! Then, per store (SQLite default, then PostgreSQL via `[store] url`):
//! - `sync` (first full sync: the directory sweep as the admin, then every manager's calendar
//!   through their own delegated subject), under `/usr/bin/time -f "%U %S %e %M"`; the requests
//!   by endpoint from the fake's log;
//! - `sync` again (idle: one incremental `events.list` per calendar, cached tokens, the
//!   directory not due);
//! - `report --org --json` (the people-ops rollup) and `report --json` (every manager's report)
//!   under `/usr/bin/time`;
//! - the daemon (`cadenced run`, `[sync] interval = "30s"`) on the synced store: one instance on
//!   SQLite, one and then two instances (separate state directories, one database) on
//!   PostgreSQL. After a warm-up (the start-up round and, with two, the lease split), the
//!   requests of a window of two intervals are counted from the fake's log and, per instance,
//!   CPU seconds from `/proc/<pid>/stat` (utime + stime deltas over the window) and peak RSS
//!   from `/proc/<pid>/status` (`VmHWM`, which includes the start-up round); then SIGTERM.
//!
//! No assertion is made on the figures: this is a benchmark, not a test. `[quota]` keeps its
//! default (Google: 10,000 requests per minute per project), so a round of N calendars takes at
//! least N / 166 seconds however fast the client is.
//!
//! # Figures (2026-12-08, 2 shared cores, release build, commit d95e705)
//!
//! 2,000 managers × 8 reports: 18,052 directory entries, 2,051 calendars (managers, 51 senior
//! managers, the chief), 18,050 weekly series (1,389 with a cancelled instance, 1,062 with a
//! declined one). CPU is the cadenced process only; PostgreSQL's server CPU is not counted
//! (the test cluster runs with `fsync=off`).
//!
//! | store      | command                | wall s | CPU s (user+sys)    | peak RSS | requests |
//! |------------|------------------------|--------|---------------------|----------|----------|
//! | SQLite     | first `sync`           | 10.8   | 5.44 (2.99+2.45)    | 61 MiB   | 4,140: 2,051 events.list, 2,052 token, 37 directory pages |
//! | SQLite     | idle `sync`            | 1.6    | 1.45 (0.63+0.82)    | 58 MiB   | 2,051 events.list |
//! | SQLite     | `report --org --json`  | 14.9   | 14.59 (7.73+6.86)   | 417 MiB  | 0 |
//! | SQLite     | `report --json` (all)  | 33.6   | 21.56 (13.39+8.17)  | 42 MiB   | 0 |
//! | SQLite     | `status --json`        | 33.8   | 25.87 (17.07+8.80)  | 43 MiB   | 0 |
//! | PostgreSQL | first `sync`           | 13.1   | 5.85 (3.13+2.72)    | 44 MiB   | 4,140 (same) |
//! | PostgreSQL | idle `sync`            | 8.4    | 1.77 (0.77+1.00)    | 42 MiB   | 2,051 events.list |
//! | PostgreSQL | `report --org --json`  | 12.8   | 4.37 (3.63+0.74)    | 401 MiB  | 0 |
//! | PostgreSQL | `report --json` (all)  | 38.5   | 9.58 (8.05+1.53)    | 37 MiB   | 0 |
//! | PostgreSQL | `status --json`        | 39.7   | 12.49 (10.65+1.84)  | 39 MiB   | 0 |
//!
//! Daemon, `interval = "30s"`, a 60 s window after the warm-up:
//!
//! | daemon                  | events.list per calendar per interval | CPU s per interval, per instance | peak RSS per instance | accounts held |
//! |-------------------------|------|---------------|------------------|---------------|
//! | SQLite, 1 instance      | 0.41 | 20.7          | 201 MiB          | all           |
//! | PostgreSQL, 1 instance  | 0.44 | 26.0          | 186 MiB          | all           |
//! | PostgreSQL, 2 instances | 0.56 | 14.5 and 16.1 | 187 and 177 MiB  | 1,026 / 1,025 |
//!
//! No token or directory request in the daemon windows. What these say:
//! - A one-shot `sync` is not paced (only the daemon is): 2,051 events.list in 5–10 s is about
//!   3 times Google's 10,000 per minute per project; the real API would answer 429s.
//! - The first sync makes one token request per manager (a delegated service-account token
//!   is per subject), so 2,052 token requests: as many as calendars.
//! - The idle `sync` makes exactly one events.list per calendar. The daemon at a 30 s interval
//!   does not keep up at this size: each calendar is synced every 55–75 s, and the accounts
//!   then look stale (the `sync_failed` "has not synced since" alerts in the log), because after
//!   syncs each instance analyses every manager whose account it holds, about 10 ms each: that
//!   is the CPU per interval. Two instances split the accounts evenly and the work per
//!   instance halves. At the default 5-minute interval the same work is 7–9 % of a core.
//! - PostgreSQL costs the client less CPU (the queries run in the server) but more wall time:
//!   each statement is a round trip, and `report --json`/`status` open one connection per
//!   manager.
//! - Found by this bench and fixed: each manager's analysis read every account's overview
//!   and looked the analysis window up in every account's events (at 200 managers on
//!   PostgreSQL `report --org --json` took 11.6 s, now 0.45 s; at 2,000 on SQLite 83.7 s of
//!   CPU, now 14.6 s). What remains grows with managers × store size: `status` reads every
//!   account's lease and cursor rows per manager, and each manager's alert reconciliation
//!   reads every open alert of the store.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use chrono::{DateTime, Datelike, Duration as Days, Utc};
use serde_json::{Value, json};

use common::{TIME, apply_time, measure, text};
use testkit::fake_google::{DirUser, Endpoint, FakeGoogle};

const REPORTS: usize = 8;
/// Managers per senior manager.
const SPAN: usize = 40;
const INTERVAL_S: u64 = 30;
const DOMAIN: &str = "corp.example.com";

fn email(local: &str) -> String {
    format!("{local}@{DOMAIN}")
}

/// What was generated.
struct Org {
    /// Every calendar cadenced reads (the managers at every level), in generation order.
    calendars: Vec<String>,
    people: usize,
    series: usize,
    cancelled: usize,
    declined: usize,
}

/// The Monday 16 weeks before `now`, at midnight UTC.
fn first_monday(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now.date_naive() - Days::weeks(16);
    let monday = day - Days::days(i64::from(day.weekday().num_days_from_monday()));
    monday.and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc())
}

fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// One weekly 1on1 of `manager` with `report` in the manager's calendar; slot `k` picks the
/// weekday and hour. Every 13th series gets a cancelled instance, every 17th one declined by
/// the report (both in the past). Returns (cancelled, declined).
fn one_on_one(
    g: &FakeGoogle,
    base: DateTime<Utc>,
    manager: &str,
    report: &str,
    k: usize,
    n: usize,
) -> (usize, usize) {
    let start = base + Days::days((k % 5) as i64) + Days::hours(9 + (k / 5 % 8) as i64);
    let end = start + Days::minutes(30);
    let stored = g.insert_event(
        manager,
        json!({
            "summary": format!("{} / {} 1on1", report.split('@').next().unwrap_or(report),
                               manager.split('@').next().unwrap_or(manager)),
            "start": {"dateTime": rfc(start), "timeZone": "UTC"},
            "end": {"dateTime": rfc(end), "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": manager, "self": true},
            "attendees": [
                {"email": manager, "self": true, "organizer": true, "responseStatus": "accepted"},
                {"email": report, "responseStatus": "accepted"}
            ]
        }),
    );
    let Some(id) = stored["id"].as_str() else {
        return (0, 0);
    };
    let mut out = (0, 0);
    if n.is_multiple_of(13) {
        g.cancel_instance(manager, id, &rfc(start + Days::weeks(3)));
        out.0 = 1;
    }
    if n.is_multiple_of(17) {
        let instance = FakeGoogle::instance_id(id, &rfc(start + Days::weeks(5)));
        g.set_response_status(manager, &instance, report, "declined");
        out.1 = 1;
    }
    out
}

fn build_org(g: &FakeGoogle, managers: usize, now: DateTime<Utc>) -> Org {
    let base = first_monday(now);
    let seniors = managers.div_ceil(SPAN);
    let chief = email("chief");
    let admin = email("it-admin");
    let person = |e: &str, name: String, manager: Option<&str>, unit: String| DirUser {
        email: e.to_string(),
        full_name: name,
        manager: manager.map(str::to_string),
        org_unit: Some(unit),
        ..DirUser::default()
    };
    let mut dir = vec![
        DirUser {
            admin: true,
            ..person(&admin, "IT Admin".into(), None, "/IT".into())
        },
        person(&chief, "Chief".into(), None, "/".into()),
    ];
    let mut org = Org {
        calendars: vec![chief.clone()],
        people: 0,
        series: 0,
        cancelled: 0,
        declined: 0,
    };
    g.add_account(&admin, "UTC");
    g.add_account(&chief, "UTC");
    fn tally(org: &mut Org, (c, d): (usize, usize)) {
        org.cancelled += c;
        org.declined += d;
        org.series += 1;
    }
    let mut n = 0;
    for s in 0..seniors {
        let senior = email(&format!("senior{s:03}"));
        let dept = format!("/Dept{}", s % 4);
        dir.push(person(
            &senior,
            format!("Senior {s}"),
            Some(&chief),
            dept.clone(),
        ));
        g.add_account(&senior, "UTC");
        org.calendars.push(senior.clone());
        tally(&mut org, one_on_one(g, base, &chief, &senior, s, n));
        n += 1;
        let unit = format!("{dept}/Team{s:03}");
        for m in (s * SPAN)..((s + 1) * SPAN).min(managers) {
            let manager = email(&format!("m{m:05}"));
            dir.push(person(
                &manager,
                format!("Manager {m}"),
                Some(&senior),
                unit.clone(),
            ));
            g.add_account(&manager, "UTC");
            org.calendars.push(manager.clone());
            tally(&mut org, one_on_one(g, base, &senior, &manager, m, n));
            n += 1;
            for r in 0..REPORTS {
                let i = m * REPORTS + r;
                let report = email(&format!("r{i:06}"));
                dir.push(DirUser {
                    suspended: i % 97 == 96,
                    ..person(&report, format!("Report {i}"), Some(&manager), unit.clone())
                });
                tally(&mut org, one_on_one(g, base, &manager, &report, r + m, n));
                n += 1;
            }
        }
    }
    org.people = dir.len();
    g.set_directory(dir);
    org
}

/// A throwaway service-account key (RSA 2048, PKCS#8) pointing at the fake's token URL.
fn service_account_key(token_url: &str) -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("generate an RSA key");
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .expect("PKCS#8 DER");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    json!({
        "type": "service_account",
        "client_email": "cadenced@bench.iam.gserviceaccount.com",
        "private_key_id": "kid1",
        "private_key": pem,
        "token_uri": token_url,
    })
    .to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The org-mode config (written next to `sa.json` in `dir`), with its own daemon port.
fn write_config(dir: &Path, g: &FakeGoogle, store_url: Option<&str>, name: &str) -> PathBuf {
    let store = store_url.map_or(String::new(), |u| format!("[store]\nurl = \"{u}\"\n\n"));
    let text = format!(
        "[manager]\ntimezone = \"UTC\"\n\n\
         [org]\naccount = \"org\"\nadmin = \"{}\"\n\n\
         [[accounts]]\nname = \"org\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
         api_base = {:?}\ntoken_url = {:?}\n\n\
         [agenda]\nenabled = false\n\n\
         [sync]\ninterval = \"{INTERVAL_S}s\"\n\n\
         [daemon]\nlisten = \"127.0.0.1:{}\"\n\n{store}",
        email("it-admin"),
        g.api_base(),
        g.token_url(),
        free_port(),
    );
    let path = dir.join(format!("config-{name}.toml"));
    std::fs::write(&path, text).expect("write config");
    path
}

fn base_args(config: &Path, state: &Path) -> Vec<String> {
    vec![
        "--config".into(),
        config.to_string_lossy().into_owned(),
        "--state-dir".into(),
        state.to_string_lossy().into_owned(),
    ]
}

/// Requests by endpoint since the log was last cleared.
#[derive(Debug, Clone, Copy, Default)]
struct Requests {
    lists: usize,
    tokens: usize,
    directory: usize,
    other: usize,
}

impl Requests {
    fn read(g: &FakeGoogle) -> Requests {
        let mut r = Requests::default();
        for q in g.requests() {
            match q.endpoint {
                Endpoint::EventsList => r.lists += 1,
                Endpoint::Token => r.tokens += 1,
                Endpoint::DirectoryUsersList => r.directory += 1,
                _ => r.other += 1,
            }
        }
        r
    }

    fn total(&self) -> usize {
        self.lists + self.tokens + self.directory + self.other
    }

    fn describe(&self) -> String {
        format!(
            "{} (events.list {}, token {}, directory {}, other {})",
            self.total(),
            self.lists,
            self.tokens,
            self.directory,
            self.other
        )
    }
}

/// One measured command.
struct Measured {
    run: common::Run,
    requests: Requests,
    ok: bool,
    stdout: String,
}

fn timed(g: &FakeGoogle, bin: &Path, base: &[String], cmd: &[&str]) -> Measured {
    let mut args = base.to_vec();
    args.extend(cmd.iter().map(|s| s.to_string()));
    g.clear_log();
    let (out, figures, wall) = measure(true, bin, &args, &["RUST_LOG"]);
    let mut run = common::Run::default();
    apply_time(&mut run, figures, wall);
    let ok = out.status.success();
    if !ok {
        let err = text(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(5).collect();
        eprintln!("  `{}` failed: {}", cmd.join(" "), tail.join(" | "));
    }
    Measured {
        run,
        requests: Requests::read(g),
        ok,
        stdout: text(&out.stdout),
    }
}

fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14, stime 15.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| text(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(bin: &Path, config: &Path, state: &Path, log: PathBuf) -> Daemon {
        let child = Command::new(bin)
            .args(base_args(config, state))
            .arg("run")
            .env("RUST_LOG", "cadenced=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("daemon log"))
            .spawn()
            .expect("start cadenced run");
        Daemon { child, log }
    }

    /// SIGTERM, then wait (a clean stop gives the leases back).
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!("  daemon did not stop within 30 s of SIGTERM; killing it");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Per instance over the window.
struct InstanceFigures {
    cpu_s: f64,
    peak_kib: u64,
    held: Option<usize>,
    log_lines: usize,
    /// The first line of the daemon's log (warnings and errors only), if any.
    first_log: Option<String>,
}

struct Cycle {
    label: String,
    window_s: f64,
    requests: Requests,
    instances: Vec<InstanceFigures>,
}

/// Starts `states.len()` daemons on `config`s, lets them warm up, measures one window.
fn daemon_cycle(
    g: &FakeGoogle,
    bin: &Path,
    label: &str,
    setups: &[(PathBuf, PathBuf)],
    warmup: Duration,
) -> Cycle {
    let tick = clock_ticks();
    let daemons: Vec<Daemon> = setups
        .iter()
        .enumerate()
        .map(|(i, (config, state))| {
            let log = state.with_extension(format!("run{i}.log"));
            Daemon::start(bin, config, state, log)
        })
        .collect();
    eprintln!(
        "  {label}: warming up {} s (start-up round{})",
        warmup.as_secs(),
        if setups.len() > 1 {
            ", lease split"
        } else {
            ""
        }
    );
    std::thread::sleep(warmup);
    let window = Duration::from_secs(2 * INTERVAL_S);
    let before: Vec<Option<u64>> = daemons.iter().map(|d| cpu_ticks(d.child.id())).collect();
    g.clear_log();
    let t = Instant::now();
    std::thread::sleep(window);
    let requests = Requests::read(g);
    let window_s = t.elapsed().as_secs_f64();
    let after: Vec<Option<u64>> = daemons.iter().map(|d| cpu_ticks(d.child.id())).collect();
    let peaks: Vec<u64> = daemons
        .iter()
        .map(|d| peak_rss_kib(d.child.id()).unwrap_or(0))
        .collect();
    // Who holds what (shared store only): `status --json` of the first setup.
    let held: BTreeMap<String, usize> = if setups.len() > 1 {
        let (config, state) = &setups[0];
        let mut args = base_args(config, state);
        args.extend(["status".into(), "--json".into()]);
        let out = Command::new(bin).args(&args).output();
        let doc: Value = out
            .ok()
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or_default();
        // Org mode: one status document per manager, each with its accounts.
        let mut held = BTreeMap::new();
        for m in doc["managers"].as_array().into_iter().flatten() {
            for a in m["status"]["accounts"].as_array().into_iter().flatten() {
                if let Some(h) = a["lease"]["holder"].as_str() {
                    *held.entry(h.to_string()).or_insert(0) += 1;
                }
            }
        }
        held
    } else {
        BTreeMap::new()
    };
    let mut instances = Vec::new();
    for (i, d) in daemons.iter().enumerate() {
        let pid = d.child.id();
        let held_by_me = held
            .iter()
            .find(|(h, _)| h.split(':').nth(1) == Some(&pid.to_string()))
            .map(|(_, n)| *n);
        let log = std::fs::read_to_string(&d.log).unwrap_or_default();
        let log_lines = log.lines().count();
        let first_log = log.lines().next().map(|l| l.chars().take(300).collect());
        instances.push(InstanceFigures {
            cpu_s: match (before[i], after[i]) {
                (Some(b), Some(a)) => a.saturating_sub(b) as f64 / tick,
                _ => f64::NAN,
            },
            peak_kib: peaks[i],
            held: held_by_me,
            log_lines,
            first_log,
        });
    }
    for d in daemons {
        d.stop();
    }
    Cycle {
        label: label.to_string(),
        window_s,
        requests,
        instances,
    }
}

struct Backend {
    name: &'static str,
    full: Measured,
    idle: Measured,
    rollup: Measured,
    reports: Measured,
    status: Measured,
    cycles: Vec<Cycle>,
}

fn mib(kib: Option<f64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.0} MiB", k / 1024.0))
}

fn cpu(r: &common::Run) -> String {
    match (r.cpu, r.user, r.sys) {
        (Some(c), Some(u), Some(s)) => format!("{c:.2} ({u:.2}+{s:.2})"),
        _ => "n/a".into(),
    }
}

/// The organisation row of a rollup: what the figures were computed over.
fn rollup_summary(json: &str) -> String {
    let doc: Value = serde_json::from_str(json).unwrap_or_default();
    let Some(org) = doc["groups"].as_array().and_then(|g| g.first()) else {
        return "no rollup".into();
    };
    format!(
        "{} groups; org: {} reports, {} with a 1on1 held in 30 days, {} managers ({} with an open gap/no_series), {} left out",
        doc["groups"].as_array().map_or(0, Vec::len),
        org["reports"]["people"],
        org["reports"]["held_30d"],
        org["managers"]["managers"],
        org["managers"]["with_open_gap_or_no_series"],
        doc["managers_left_out"]
    )
}

fn run_backend(
    g: &FakeGoogle,
    bin: &Path,
    org: &Org,
    name: &'static str,
    store_url: Option<&str>,
    daemons: bool,
) -> Backend {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("sa.json"),
        service_account_key(&g.token_url()),
    )
    .expect("write key");
    let config = write_config(dir.path(), g, store_url, "a");
    let state = dir.path().join("state-a");
    let base = base_args(&config, &state);

    eprintln!(
        "{name}: first full sync of {} calendars",
        org.calendars.len()
    );
    let full = timed(g, bin, &base, &["sync"]);
    eprintln!(
        "  {}; requests {}",
        full.run.figures(),
        full.requests.describe()
    );
    eprintln!("{name}: idle sync");
    let idle = timed(g, bin, &base, &["sync"]);
    eprintln!(
        "  {}; requests {}",
        idle.run.figures(),
        idle.requests.describe()
    );
    eprintln!("{name}: report --org --json");
    let rollup = timed(g, bin, &base, &["report", "--org", "--json"]);
    eprintln!(
        "  {}; {}",
        rollup.run.figures(),
        rollup_summary(&rollup.stdout)
    );
    eprintln!("{name}: report --json (every manager)");
    let reports = timed(g, bin, &base, &["report", "--json"]);
    eprintln!(
        "  {}; {} documents",
        reports.run.figures(),
        reports.stdout.lines().count()
    );
    eprintln!("{name}: status --json");
    let status = timed(g, bin, &base, &["status", "--json"]);
    eprintln!("  {}", status.run.figures());

    let mut cycles = Vec::new();
    if daemons {
        // BENCH_WARMUP_S=N: a longer warm-up, to measure after the start-up round (every
        // manager is analysed once after their account's first daemon sync).
        let warmup = Duration::from_secs(
            std::env::var("BENCH_WARMUP_S")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(INTERVAL_S + 15),
        );
        cycles.push(daemon_cycle(
            g,
            bin,
            &format!("{name}, 1 instance"),
            &[(config.clone(), state.clone())],
            warmup,
        ));
        if store_url.is_some() {
            let config_b = write_config(dir.path(), g, store_url, "b");
            let state_b = dir.path().join("state-b");
            // Instance b starts with no tokens of its own, and the lease split takes up to two
            // lease rounds (a third of the 1-minute default lease each): a longer warm-up.
            cycles.push(daemon_cycle(
                g,
                bin,
                &format!("{name}, 2 instances"),
                &[(config.clone(), state.clone()), (config_b, state_b)],
                Duration::from_secs(2 * INTERVAL_S + 30),
            ));
        }
    }
    Backend {
        name,
        full,
        idle,
        rollup,
        reports,
        status,
        cycles,
    }
}

fn main() {
    let managers: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2000);
    if !Path::new(TIME).exists() {
        eprintln!("needs {TIME} (apt-get install -y time)");
        std::process::exit(2);
    }
    // BENCH_CADENCED=PATH measures another build (e.g. a copy from before a change).
    let other = std::env::var_os("BENCH_CADENCED").map(PathBuf::from);
    let bin = other
        .as_deref()
        .unwrap_or(Path::new(env!("CARGO_BIN_EXE_cadenced")));
    let g = FakeGoogle::start();
    let t = Instant::now();
    let org = build_org(&g, managers, Utc::now());
    let calendars = org.calendars.len();
    eprintln!(
        "org: {managers} managers × {REPORTS} reports; {} people in the directory, {calendars} calendars, {} 1on1 series ({} with a cancelled instance, {} with a declined one); generated in {:.1} s",
        org.people,
        org.series,
        org.cancelled,
        org.declined,
        t.elapsed().as_secs_f64()
    );
    let daemons = std::env::var("BENCH_DAEMON").map_or(true, |v| v != "0");
    let mut backends = vec![run_backend(&g, bin, &org, "SQLite", None, daemons)];
    if std::env::var("BENCH_PG").map_or(true, |v| v != "0") {
        let url = testkit::pg::database();
        // BENCH_PG_LOG_MS=N: the server logs every statement slower than N ms; the log is
        // copied to /tmp/org_scale_pg.log at the end (the cluster goes with this process).
        let slow = std::env::var("BENCH_PG_LOG_MS").ok();
        if let Some(ms) = &slow {
            testkit::pg::admin(&format!(
                "ALTER SYSTEM SET log_min_duration_statement = {}",
                ms.parse::<u32>().unwrap_or(50)
            ));
            testkit::pg::admin("SELECT pg_reload_conf()");
        }
        backends.push(run_backend(
            &g,
            bin,
            &org,
            "PostgreSQL",
            Some(&url),
            daemons,
        ));
        if slow.is_some() {
            let log = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("target")
                .join(format!("pgtest-{}", std::process::id()))
                .join("log");
            let _ = std::fs::copy(log, "/tmp/org_scale_pg.log");
        }
    }

    println!(
        "\norg_scale: {managers} managers × {REPORTS} reports, {calendars} calendars, {} series, {} directory entries",
        org.series, org.people
    );
    println!("\n| store | command | wall s | CPU s (user+sys) | peak RSS | requests |");
    println!("|---|---|---|---|---|---|");
    for b in &backends {
        for (what, m) in [
            ("first `sync`", &b.full),
            ("idle `sync`", &b.idle),
            ("`report --org --json`", &b.rollup),
            ("`report --json` (all)", &b.reports),
            ("`status --json`", &b.status),
        ] {
            println!(
                "| {} | {what}{} | {:.2} | {} | {} | {} |",
                b.name,
                if m.ok { "" } else { " (FAILED)" },
                m.run.wall,
                cpu(&m.run),
                mib(m.run.rss_kib),
                m.requests.describe()
            );
        }
    }
    println!(
        "\n| daemon | window s | events.list per calendar per interval | other requests | per instance: CPU s per interval, peak RSS, accounts held |"
    );
    println!("|---|---|---|---|---|");
    for b in &backends {
        for c in &b.cycles {
            for (i, inst) in c.instances.iter().enumerate() {
                if let Some(l) = &inst.first_log {
                    eprintln!("{}, instance {i}: first log line: {l}", c.label);
                }
            }
            let intervals = c.window_s / INTERVAL_S as f64;
            let per = c.requests.lists as f64 / calendars as f64 / intervals;
            let each: Vec<String> = c
                .instances
                .iter()
                .map(|i| {
                    format!(
                        "{:.2} s, {:.0} MiB{}{}",
                        i.cpu_s / intervals,
                        i.peak_kib as f64 / 1024.0,
                        i.held.map_or(String::new(), |n| format!(", {n} held")),
                        if i.log_lines > 0 {
                            format!(", {} log lines", i.log_lines)
                        } else {
                            String::new()
                        }
                    )
                })
                .collect();
            println!(
                "| {} | {:.0} | {per:.2} | token {}, directory {}, other {} | {} |",
                c.label,
                c.window_s,
                c.requests.tokens,
                c.requests.directory,
                c.requests.other,
                each.join("; ")
            );
        }
    }
}
