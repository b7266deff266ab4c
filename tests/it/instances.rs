//! Several daemon instances sharing one PostgreSQL store (docs/instances.md): 50 accounts split
//! between two instances by lease, each calendar synced once per interval, and when one instance
//! is killed (SIGKILL) the other takes its accounts within a lease period, with no alert
//! delivered twice or lost. A real PostgreSQL cluster (testkit::pg), real daemons, real HTTP.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const ACCOUNTS: usize = 50;
const INTERVAL: u64 = 30;
const LEASE: u64 = 6;

/// Serves `/feed/NN.ics` with an ETag (304 on a match) and records when each path was asked for.
struct Feeds {
    base: String,
    hits: Arc<Mutex<BTreeMap<String, Vec<Instant>>>>,
}

fn feed_body(n: usize) -> String {
    // Feed 00 is the manager's 1on1 calendar: Alice has a weekly 1on1; Bob has none (an alert).
    let event = if n == 0 {
        "BEGIN:VEVENT\r\nUID:alice-1on1\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261102T010000Z\r\nDTEND:20261102T013000Z\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:Alice / Mika 1on1\r\nORGANIZER:mailto:mika@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\nEND:VEVENT\r\n".to_string()
    } else {
        format!(
            "BEGIN:VEVENT\r\nUID:other-{n}\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261103T010000Z\r\nDTEND:20261103T020000Z\r\nSUMMARY:Planning {n}\r\nORGANIZER:mailto:mika@example.com\r\nEND:VEVENT\r\n"
        )
    };
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{event}END:VCALENDAR\r\n")
}

impl Feeds {
    fn start() -> Feeds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits: Arc<Mutex<BTreeMap<String, Vec<Instant>>>> = Arc::default();
        let seen = Arc::clone(&hits);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    seen.lock()
                        .unwrap()
                        .entry(path.clone())
                        .or_default()
                        .push(Instant::now());
                    let n: usize = path
                        .trim_start_matches("/feed/")
                        .trim_end_matches(".ics")
                        .parse()
                        .unwrap_or(usize::MAX);
                    let reply = if n < ACCOUNTS {
                        let etag = format!("\"v1-{n}\"");
                        if head
                            .to_ascii_lowercase()
                            .contains(&format!("if-none-match: {}", etag.to_ascii_lowercase()))
                        {
                            format!(
                                "HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nConnection: close\r\n\r\n"
                            )
                        } else {
                            let body = feed_body(n);
                            format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nETag: {etag}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                                body.len()
                            )
                        }
                    } else {
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_string()
                    };
                    let _ = stream.write_all(reply.as_bytes());
                });
            }
        });
        Feeds { base, hits }
    }

    fn hits(&self) -> BTreeMap<String, Vec<Instant>> {
        self.hits.lock().unwrap().clone()
    }
}

struct Instance {
    child: Child,
    state: PathBuf,
    log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(dir: &Path, db: &str, feeds: &str, webhook: &str, port: u16) -> PathBuf {
    let mut text = format!(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"Asia/Tokyo\"\n\n\
         [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n\
         [[reports]]\nemail = \"bob@example.com\"\nname = \"Bob\"\n\n\
         [store]\nurl = \"{db}\"\n\n\
         [sync]\ninterval = \"{INTERVAL}s\"\n\n\
         [daemon]\nlisten = \"127.0.0.1:{port}\"\nlease = \"{LEASE}s\"\n\n\
         [alerts]\nchannels = [\"webhook\"]\n\n[alerts.webhook]\nurl = \"{webhook}\"\n\n"
    );
    for n in 0..ACCOUNTS {
        text.push_str(&format!(
            "[[accounts]]\nname = \"feed{n:02}\"\nprovider = \"ics\"\nurl = \"{feeds}/feed/{n:02}.ics\"\n\n"
        ));
    }
    let path = dir.join(format!("config-{port}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

fn start(dir: &Path, config: &Path, name: &str) -> Instance {
    let state = dir.join(format!("state-{name}"));
    let log = dir.join(format!("{name}.log"));
    let child = Command::new(env!("CARGO_BIN_EXE_cadenced"))
        .args(["--config"])
        .arg(config)
        .arg("--state-dir")
        .arg(&state)
        .args(["--now", "2026-12-01T00:00:00Z", "run"])
        .env("RUST_LOG", "cadenced=info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Instance { child, state, log }
}

fn status(config: &Path, state: &Path) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_cadenced"))
        .arg("--config")
        .arg(config)
        .arg("--state-dir")
        .arg(state)
        .args(["--now", "2026-12-01T00:00:00Z", "status", "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The holder of each account, per `status --json`.
fn holders(status: &Value) -> BTreeMap<String, Option<String>> {
    status["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["lease"]["holder"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn two_instances_share_fifty_accounts_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let db = testkit::pg::database();
    let feeds = Feeds::start();
    let hook = testkit::webhook::WebhookServer::start("/hook");
    let (pa, pb) = (free_port(), free_port());
    let ca = config(dir.path(), &db, &feeds.base, &hook.url, pa);
    let cb = config(dir.path(), &db, &feeds.base, &hook.url, pb);
    let mut a = start(dir.path(), &ca, "a");
    // B a moment later, so that A has claimed everything first and must give half back.
    std::thread::sleep(Duration::from_secs(2));
    let b = start(dir.path(), &cb, "b");

    // Both instances hold their share: 25 each, every account held by exactly one.
    wait_until("the accounts to be split", Duration::from_secs(40), || {
        let h = holders(&status(&cb, &b.state));
        let mut per: BTreeMap<String, usize> = BTreeMap::new();
        for holder in h.values().flatten() {
            *per.entry(holder.clone()).or_default() += 1;
        }
        h.values().all(Option::is_some) && per.len() == 2 && per.values().all(|&n| n == 25)
    });
    // Every feed read at least once, then the analysis delivers Bob's alert.
    wait_until("every feed to be read", Duration::from_secs(40), || {
        feeds.hits().len() == ACCOUNTS
    });
    wait_until("an alert delivery", Duration::from_secs(60), || {
        !hook.hits().is_empty()
    });

    // Kill the instance that runs the analysis (it holds feed00), without warning.
    let st = status(&cb, &b.state);
    let h = holders(&st);
    let analyst = h["feed00"].clone().unwrap();
    let instances = st["instances"].as_array().unwrap().clone();
    let a_pid = a.child.id();
    let a_id = instances
        .iter()
        .find(|i| i["pid"].as_u64() == Some(u64::from(a_pid)))
        .map(|i| i["id"].as_str().unwrap().to_string())
        .unwrap();
    let (killed, survivor_state, survivor_cfg) = if analyst == a_id {
        (&mut a, b.state.clone(), cb.clone())
    } else {
        panic!(
            "feed00 is held by B ({analyst}); A ({a_id}) claimed first and keeps the first names"
        );
    };
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let killed_at = Instant::now();

    // The survivor takes every account within one lease period (plus one round).
    wait_until(
        "the survivor to hold everything",
        Duration::from_secs(LEASE + LEASE / 3 + 5),
        || {
            holders(&status(&survivor_cfg, &survivor_state))
                .values()
                .all(|h| h.as_deref().is_some_and(|h| h != a_id))
        },
    );
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= Duration::from_secs(LEASE + LEASE / 3 + 3),
        "took {takeover:?}"
    );

    // Run on for two more intervals, then look at the request log.
    std::thread::sleep(Duration::from_secs(2 * INTERVAL + 10));
    let hits = feeds.hits();
    assert_eq!(hits.len(), ACCOUNTS);
    for (path, times) in &hits {
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_secs(INTERVAL - 1),
                "{path} synced twice within an interval: {gap:?} apart ({times:?})"
            );
            assert!(
                gap <= Duration::from_secs(INTERVAL + INTERVAL / 20 + LEASE + LEASE / 3 + 4),
                "{path} missed an interval: {gap:?} ({times:?})"
            );
        }
        let last = *times.last().unwrap();
        assert!(
            last.elapsed() <= Duration::from_secs(INTERVAL + INTERVAL / 20 + 4),
            "{path} stopped being synced"
        );
    }

    // The alerts: each delivered exactly once, none lost (Bob's no_series, and nothing for
    // Alice), even though the instance that delivered them was killed and the other took over.
    let deliveries = hook.hits();
    let mut keys = BTreeSet::new();
    for d in &deliveries {
        let key = d.header("idempotency-key").unwrap().to_string();
        assert!(keys.insert(key.clone()), "delivered twice: {key}");
    }
    let bodies: Vec<Value> = deliveries.iter().map(|d| d.body.clone()).collect();
    let text = serde_json::to_string(&bodies).unwrap();
    assert!(text.contains("bob@example.com"), "{text}");
    assert!(!text.contains("\"report\":\"alice@example.com\""), "{text}");
    let log = std::fs::read_to_string(&b.log).unwrap();
    assert!(!log.contains("panicked"), "{log}");
}
