//! Org mode on several instances (docs/org.md, docs/instances.md): 50 managers read through the
//! Google fake (a service account with domain-wide delegation, the directory swept as the
//! admin), one PostgreSQL store (testkit::pg) shared by two `cadenced run` instances with their
//! own state directories. The managers' accounts are split between the two by lease; one
//! instance is killed (SIGKILL) and the other takes every account within a lease period; from
//! the fake's request log, each manager's calendar is listed at most once per interval and never
//! stops being listed; every alert reaches its own manager's webhook exactly once, the ones
//! raised after the kill included.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::fake_google::{DirUser, Endpoint, FakeGoogle};
use testkit::webhook::WebhookServer;

use super::org::{one_on_one, service_account_key, user};

const MANAGERS: usize = 50;
const INTERVAL: u64 = 30;
const LEASE: u64 = 6;
const NOW: &str = "2026-11-24T09:00:00Z";
/// Managers with no 1on1 at all: a `no_series` alert per report.
const WITHOUT_ANY: [usize; 3] = [7, 23, 38];
/// Managers with a 1on1 with every report but the last.
const WITHOUT_LAST: [usize; 2] = [12, 45];

fn manager(i: usize) -> String {
    format!("m{i:02}@example.com")
}

/// Two or three direct reports per manager (three for every third).
fn reports_of(i: usize) -> Vec<String> {
    let n = if i.is_multiple_of(3) { 3 } else { 2 };
    ["a", "b", "c"][..n]
        .iter()
        .map(|c| format!("r{i:02}{c}@example.com"))
        .collect()
}

/// `(manager, report)` of every report without a 1on1 series: the alerts the org must get.
fn expected_alerts() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for i in WITHOUT_ANY {
        for r in reports_of(i) {
            out.insert((manager(i), r));
        }
    }
    for i in WITHOUT_LAST {
        out.insert((manager(i), reports_of(i).pop().unwrap()));
    }
    out
}

fn has_series(i: usize, report: &str) -> bool {
    !expected_alerts().contains(&(manager(i), report.to_string()))
}

fn directory() -> Vec<DirUser> {
    let mut people = vec![DirUser {
        admin: true,
        ..user("ivy@example.com", "Ivy Admin", None, "/IT")
    }];
    for i in 0..MANAGERS {
        people.push(user(&manager(i), &format!("Manager {i}"), None, "/Eng"));
        for r in reports_of(i) {
            people.push(user(&r, &format!("Report {r}"), Some(&manager(i)), "/Eng"));
        }
    }
    people
}

/// One instance's config, beside the shared key file. The listener takes any free port (the
/// tests do not use it): a port picked beforehand could be taken by another test meanwhile.
fn config(dir: &Path, g: &FakeGoogle, db: &str, hook: &str, name: &str) -> PathBuf {
    let text = format!(
        "[manager]\ntimezone = \"UTC\"\n\n\
         [org]\naccount = \"org\"\nadmin = \"ivy@example.com\"\n\n\
         [[accounts]]\nname = \"org\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
         api_base = {:?}\ntoken_url = {:?}\n\n\
         [store]\nurl = \"{db}\"\n\n\
         [sync]\ninterval = \"{INTERVAL}s\"\n\n\
         [daemon]\nlisten = \"127.0.0.1:0\"\nlease = \"{LEASE}s\"\n\n\
         [agenda]\nenabled = false\n\n\
         [alerts]\nchannels = [\"webhook\"]\n\n\
         [alerts.webhook]\nurl = \"{hook}/{{manager}}\"\n",
        g.api_base(),
        g.token_url(),
    );
    let path = dir.join(format!("config-{name}.toml"));
    std::fs::write(&path, text).unwrap();
    path
}

struct Instance {
    name: &'static str,
    child: Child,
    config: PathBuf,
    state: PathBuf,
    log: PathBuf,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Instance {
    fn start(dir: &Path, config: PathBuf, name: &'static str) -> Instance {
        let state = dir.join(format!("state-{name}"));
        let log = dir.join(format!("{name}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_cadenced"))
            .arg("--config")
            .arg(&config)
            .arg("--state-dir")
            .arg(&state)
            .args(["--now", NOW, "run"])
            .env("RUST_LOG", "cadenced=info")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Instance {
            name,
            child,
            config,
            state,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics with the log when the process has ended.
    fn alive(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("instance {} exited ({status}): {}", self.name, self.log());
        }
    }

    fn status(&self, args: &[&str]) -> Value {
        self.try_status(args)
            .unwrap_or_else(|e| panic!("status of {}: {e}", self.name))
    }

    /// `status --json` (with `args` before it), or its error: it fails until this instance's
    /// state directory holds the directory sweep.
    fn try_status(&self, args: &[&str]) -> Result<Value, String> {
        let out = Command::new(env!("CARGO_BIN_EXE_cadenced"))
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["--now", NOW])
            .args(args)
            .args(["status", "--json"])
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    }
}

/// Live instances and how many accounts each holds, from one manager's status (the instances
/// are the store's, whichever manager asks).
fn live_holdings(status: &Value) -> BTreeMap<String, u64> {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["live"] == true)
        .map(|i| {
            (
                i["id"].as_str().unwrap().to_string(),
                i["accounts"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
    start.elapsed()
}

/// Every delivered `(manager, report)` alert, after checking that each delivery went to its own
/// manager's URL, carried only that manager's alerts, and had a key no other delivery had.
fn delivered(hook: &WebhookServer) -> Vec<(String, String)> {
    let mut keys = BTreeSet::new();
    let mut out = Vec::new();
    for hit in hook.hits() {
        let key = hit
            .header("idempotency-key")
            .unwrap_or_else(|| panic!("no Idempotency-Key: {hit:?}"))
            .to_string();
        assert!(keys.insert(key.clone()), "delivered twice: {key}");
        let to = hit.body["manager"].as_str().unwrap().to_string();
        assert_eq!(
            hit.path,
            format!("/hook/{}", to.replace('@', "%40")),
            "a message for {to} went elsewhere"
        );
        let i: usize = to[1..3].parse().unwrap();
        for a in hit.body["alerts"].as_array().unwrap() {
            let report = a["report"]
                .as_str()
                .unwrap_or_else(|| panic!("an alert that is not about a report: {a}"));
            assert!(
                reports_of(i).iter().any(|r| r == report),
                "{to} was told about someone else's report: {a}"
            );
            assert_eq!(a["kind"], "no_series", "{a}");
            out.push((to.clone(), report.to_string()));
        }
    }
    out
}

/// When each manager's calendar was listed (events.list as that manager), oldest first.
fn listings(g: &FakeGoogle) -> BTreeMap<String, Vec<Instant>> {
    let mut out: BTreeMap<String, Vec<Instant>> = BTreeMap::new();
    for r in g.requests_to(Endpoint::EventsList) {
        if let Some(who) = r.account {
            out.entry(who).or_default().push(r.at);
        }
    }
    out
}

#[test]
fn two_instances_share_fifty_org_managers_and_survive_a_kill() {
    let g = FakeGoogle::start();
    g.add_account("ivy@example.com", "UTC");
    for i in 0..MANAGERS {
        g.add_account(&manager(i), "UTC");
        for r in reports_of(i) {
            if has_series(i, &r) {
                one_on_one(&g, &manager(i), &r);
            }
        }
    }
    g.set_directory(directory());
    let hook = WebhookServer::start("/hook");
    let db = testkit::pg::database();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sa.json"),
        service_account_key(&g.token_url()),
    )
    .unwrap();
    let ca = config(dir.path(), &g, &db, &hook.url, "a");
    let cb = config(dir.path(), &g, &db, &hook.url, "b");
    let mut a = Instance::start(dir.path(), ca, "a");
    // B a moment later, so that A has claimed everything first and must give half back.
    std::thread::sleep(Duration::from_secs(2));
    let mut b = Instance::start(dir.path(), cb, "b");
    let m00 = manager(0);
    let one = ["--manager", m00.as_str()];

    // Both instances hold their share: every account held, 25 each.
    wait_until("the managers to be split", Duration::from_secs(60), || {
        a.alive();
        b.alive();
        let Ok(status) = b.try_status(&one) else {
            return false;
        };
        let held = live_holdings(&status);
        held.len() == 2 && held.values().all(|&n| n == (MANAGERS / 2) as u64)
    });
    // The split as the whole org's status shows it: every manager's account has a holder,
    // one of the two live instances.
    let org = b.status(&[]);
    let managers = org["managers"].as_array().unwrap();
    assert_eq!(managers.len(), MANAGERS, "{org}");
    let ids: BTreeSet<String> = managers[0]["status"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    let mut per: BTreeMap<String, usize> = BTreeMap::new();
    for m in managers {
        let accounts = m["status"]["accounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 1, "{m}");
        let email = m["email"].as_str().unwrap();
        assert_eq!(accounts[0]["name"], format!("org:{email}"));
        let holder = accounts[0]["lease"]["holder"]
            .as_str()
            .unwrap_or_else(|| panic!("{email} is not held: {m}"));
        assert!(ids.contains(holder), "{holder}");
        *per.entry(holder.to_string()).or_default() += 1;
    }
    assert!(per.values().all(|&n| n >= 1), "{per:?}");

    // Every calendar listed, and every alert delivered, before the kill.
    wait_until(
        "every manager's calendar to be listed",
        Duration::from_secs(40),
        || listings(&g).len() == MANAGERS,
    );
    wait_until(
        "every alert to be delivered",
        Duration::from_secs(60),
        || {
            a.alive();
            b.alive();
            delivered(&hook).len() >= expected_alerts().len()
        },
    );

    // Kill the instance holding more accounts (A on a tie: it claimed first), without warning.
    let holdings = live_holdings(&b.status(&one));
    let a_id = org_instance_id(&b.status(&one), a.child.id());
    let b_id = org_instance_id(&b.status(&one), b.child.id());
    let (killed, survivor, killed_id, survivor_id) = if holdings[&a_id] >= holdings[&b_id] {
        (&mut a, &mut b, a_id, b_id)
    } else {
        (&mut b, &mut a, b_id, a_id)
    };
    // The managers the killed instance held: two of them with a 1on1 lose it right after the
    // kill, so the survivor must sync, analyse and deliver for them.
    let lost: Vec<(String, String)> = managers
        .iter()
        .filter(|m| m["status"]["accounts"][0]["lease"]["holder"] == killed_id.as_str())
        .filter_map(|m| {
            let email = m["email"].as_str().unwrap();
            let i: usize = email[1..3].parse().unwrap();
            let first = reports_of(i).remove(0);
            has_series(i, &first).then(|| (email.to_string(), first))
        })
        .take(2)
        .collect();
    assert_eq!(lost.len(), 2, "{managers:?}");
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    let killed_at = Instant::now();
    for (m, r) in &lost {
        let id = format!(
            "oo{}{}",
            m.split('@').next().unwrap(),
            r.split('@').next().unwrap()
        );
        g.delete_series(m, &id);
    }

    // The survivor holds every account within one lease period plus one round.
    wait_until(
        "the survivor to hold every account",
        Duration::from_secs(LEASE + LEASE / 3 + 10),
        || {
            survivor.alive();
            let held = live_holdings(&survivor.status(&one));
            held.len() == 1 && held.get(&survivor_id) == Some(&(MANAGERS as u64))
        },
    );
    let takeover = killed_at.elapsed();
    assert!(
        takeover <= Duration::from_secs(LEASE + LEASE / 3 + 4),
        "the takeover took {takeover:?}"
    );

    // The survivor raises and delivers the alerts of the calendars it took over.
    wait_until(
        "the alerts after the takeover",
        Duration::from_secs(INTERVAL + 30),
        || {
            survivor.alive();
            delivered(&hook).len() >= expected_alerts().len() + lost.len()
        },
    );

    // Run on until every calendar has been listed at least twice since the kill.
    std::thread::sleep(Duration::from_secs(2 * INTERVAL + 12).saturating_sub(killed_at.elapsed()));
    survivor.alive();
    let seen = listings(&g);
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        (0..MANAGERS).map(manager).collect::<BTreeSet<_>>(),
        "only the managers' calendars, each as its own subject"
    );
    for (who, times) in &seen {
        for w in times.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= Duration::from_secs(INTERVAL - 1),
                "{who} listed twice within an interval: {gap:?} apart"
            );
            assert!(
                gap <= Duration::from_secs(INTERVAL + INTERVAL / 20 + LEASE + LEASE / 3 + 4),
                "{who} missed an interval: {gap:?}"
            );
        }
        let last = *times.last().unwrap();
        assert!(
            last.elapsed() <= Duration::from_secs(INTERVAL + INTERVAL / 20 + 4),
            "{who} stopped being listed ({:?} ago)",
            last.elapsed()
        );
        assert!(
            times.iter().filter(|&&t| t > killed_at).count() >= 2,
            "{who} was listed {} times since the kill",
            times.iter().filter(|&&t| t > killed_at).count()
        );
    }

    // Every alert exactly once, to its own manager: the ones from before the kill and the two
    // raised on the survivor after it.
    let got = delivered(&hook);
    let mut want: Vec<(String, String)> = expected_alerts().into_iter().chain(lost).collect();
    want.sort();
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, want, "every alert exactly once");

    // The whole org's status from the survivor: it holds every account; the killed is not live.
    let org = survivor.status(&[]);
    for m in org["managers"].as_array().unwrap() {
        assert_eq!(
            m["status"]["accounts"][0]["lease"]["holder"],
            survivor_id.as_str(),
            "{m}"
        );
    }
    let gone = org["managers"][0]["status"]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == killed_id.as_str())
        .cloned();
    assert!(
        gone.as_ref()
            .is_none_or(|i| i["live"] == false && i["accounts"] == 0),
        "{gone:?}"
    );
    let log = survivor.log();
    assert!(!log.contains("panicked"), "{log}");
}

/// The id of the instance with process id `pid`.
fn org_instance_id(status: &Value, pid: u32) -> String {
    status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["pid"].as_u64() == Some(u64::from(pid)))
        .map(|i| i["id"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("no instance with pid {pid}: {status}"))
}

/// An instance that cannot read the org directory has no manager to sync: it must not count
/// among the instances sharing the accounts, or the others give back accounts that nobody then
/// syncs (until its next sweep, an hour later).
#[test]
fn an_instance_without_the_directory_takes_no_share_of_the_managers() {
    const FEW: usize = 6;
    let g = FakeGoogle::start();
    g.add_account("ivy@example.com", "UTC");
    let mut people = directory();
    people.retain(|p| {
        p.email == "ivy@example.com"
            || (0..FEW).any(|i| p.email == manager(i) || p.manager.as_deref() == Some(&manager(i)))
    });
    for i in 0..FEW {
        g.add_account(&manager(i), "UTC");
        for r in reports_of(i) {
            one_on_one(&g, &manager(i), &r);
        }
    }
    g.set_directory(people.clone());
    let hook = WebhookServer::start("/hook");
    let db = testkit::pg::database();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sa.json"),
        service_account_key(&g.token_url()),
    )
    .unwrap();
    let ca = config(dir.path(), &g, &db, &hook.url, "a");
    let cb = config(dir.path(), &g, &db, &hook.url, "b");
    let mut a = Instance::start(dir.path(), ca, "a");
    let m00 = manager(0);
    let one = ["--manager", m00.as_str()];
    wait_until("A to hold every account", Duration::from_secs(60), || {
        a.alive();
        a.try_status(&one)
            .is_ok_and(|s| live_holdings(&s).values().eq([&(FEW as u64)]))
    });
    // The admin loses the role: B's sweep at its start fails (403), and B has no directory.
    for p in &mut people {
        p.admin = false;
    }
    g.set_directory(people);
    let mut b = Instance::start(dir.path(), cb, "b");
    wait_until("B's sweep to fail", Duration::from_secs(30), || {
        b.alive();
        b.log().contains("the directory read before is kept")
    });
    // Two lease periods later A still holds every account, and B none.
    std::thread::sleep(Duration::from_secs(2 * LEASE + 1));
    a.alive();
    b.alive();
    let status = a.status(&one);
    let a_id = org_instance_id(&status, a.child.id());
    let held = live_holdings(&status);
    assert_eq!(held.get(&a_id), Some(&(FEW as u64)), "{status:#}");
    assert_eq!(
        held.len(),
        1,
        "B is not among the live instances: {status:#}"
    );
}
