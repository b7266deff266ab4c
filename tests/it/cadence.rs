//! The cadence commands end to end on the shipped example calendar: the golden `report --json`,
//! alert ids that stay the same across runs and re-syncs, and the ack/snooze lifecycle.

use crate::common;

use std::path::Path;

use assert_cmd::Command;
use common::{stderr, stdout};

const NOW: &str = "2026-11-24T09:00:00+09:00";

struct Example {
    _dir: tempfile::TempDir,
    config: std::path::PathBuf,
    state: std::path::PathBuf,
}

impl Example {
    /// The shipped example config (optionally with its locale changed), synced into a fresh state.
    fn new(locale: Option<&str>) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut text = std::fs::read_to_string(root.join("example.toml")).unwrap();
        if let Some(l) = locale {
            text = text.replace("locale = \"en\"", &format!("locale = \"{l}\""));
            assert!(text.contains(&format!("locale = \"{l}\"")));
        }
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        std::fs::copy(root.join("example.ics"), dir.path().join("example.ics")).unwrap();
        let state = dir.path().join("state");
        let ex = Example {
            _dir: dir,
            config,
            state,
        };
        // Synced "at" NOW, so that `accounts[].last_success` in the golden report is fixed.
        let out = ex.run(&["--now", NOW, "sync"]);
        assert!(out.status.success(), "{}", stderr(&out));
        ex
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::cargo_bin("cadenced")
            .unwrap()
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(out.status.success(), "{:?}: {}", args, stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn alert_ids(report: &serde_json::Value) -> Vec<(String, String, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["report"].as_str().unwrap().to_string(),
                a["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn golden_report_on_the_example_calendar() {
    let ex = Example::new(None);
    let got = ex.json(&["--now", NOW, "report", "--json"]);
    let golden_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/example-report.json");
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(
            &golden_path,
            serde_json::to_string_pretty(&got).unwrap() + "\n",
        )
        .unwrap();
    }
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&golden_path).unwrap()).unwrap();
    assert_eq!(
        got, golden,
        "report --json changed; review it and rerun with UPDATE_GOLDEN=1 if intended"
    );
    // Every alert kind shows on the example.
    let mut kinds: Vec<String> = alert_ids(&got).into_iter().map(|(k, _, _)| k).collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(
        kinds,
        [
            "gap",
            "irregular",
            "no_series",
            "series_ending",
            "skipped",
            "uneven"
        ]
    );
}

#[test]
fn alert_ids_are_stable_across_runs_and_resyncs() {
    let ex = Example::new(None);
    let first = alert_ids(&ex.json(&["--now", NOW, "report", "--json"]));
    let again = alert_ids(&ex.json(&["--now", NOW, "report", "--json"]));
    assert_eq!(first, again);
    assert!(ex.run(&["sync", "--full"]).status.success());
    let resynced = alert_ids(&ex.json(&["--now", NOW, "report", "--json"]));
    assert_eq!(first, resynced);
    // A day later the same conditions keep their ids.
    let later = alert_ids(&ex.json(&["--now", "2026-11-25T09:00:00+09:00", "report", "--json"]));
    let gap = |v: &[(String, String, String)]| {
        v.iter()
            .find(|(k, r, _)| k == "gap" && r == "bob@example.com")
            .cloned()
    };
    assert_eq!(gap(&first), gap(&later));
    // A fresh state directory at the same now gives the same ids.
    let other = Example::new(None);
    assert_eq!(
        first,
        alert_ids(&other.json(&["--now", NOW, "report", "--json"]))
    );
}

#[test]
fn ack_and_snooze_lifecycle() {
    let ex = Example::new(None);
    let report = ex.json(&["--now", NOW, "report", "--json"]);
    let ids = alert_ids(&report);
    let find = |kind: &str, who: &str| {
        ids.iter()
            .find(|(k, r, _)| k == kind && r == who)
            .unwrap()
            .2
            .clone()
    };
    let gap = find("gap", "bob@example.com");
    let no_series = find("no_series", "fatima@example.com");

    let out = ex.run(&["--now", NOW, "alerts", "ack", &gap]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = ex.run(&[
        "--now",
        NOW,
        "alerts",
        "snooze",
        &no_series,
        "--until",
        "2026-12-01",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Confirmed in the manager's zone, not in UTC.
    assert!(
        stdout(&out).contains("snoozed until 2026-12-01 00:00 (Asia/Tokyo)"),
        "{}",
        stdout(&out)
    );

    let open = ex.json(&["--now", NOW, "alerts", "--json"]);
    let open_ids: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(!open_ids.contains(&gap.as_str()) && !open_ids.contains(&no_series.as_str()));
    assert_eq!(open_ids.len(), ids.len() - 2);

    // Acknowledged stays quiet while the episode lasts; the snoozed one returns after its date.
    let later = ex.json(&["--now", "2026-12-02T09:00:00+09:00", "alerts", "--json"]);
    let later_ids: Vec<&str> = later
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(!later_ids.contains(&gap.as_str()));
    assert!(later_ids.contains(&no_series.as_str()));

    // --all lists the acknowledged one, marked.
    let all = ex.json(&["--now", NOW, "alerts", "--json", "--all"]);
    let acked = all
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == gap.as_str())
        .unwrap();
    assert_eq!(acked["acknowledged"], true);

    let out = ex.run(&["--now", NOW, "alerts", "ack", "nosuchid"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nosuchid"));
}

#[test]
fn report_table_and_japanese_messages() {
    let ex = Example::new(Some("ja"));
    let out = ex.run(&["--now", NOW, "report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("メンバー") && text.contains("Fatimaさんとの1on1"),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no colour when not on a terminal");
    // The table's cells, kinds and footers are Japanese too.
    assert!(
        text.contains("問題なし") && text.contains("日（設定）") && text.contains("スキップ"),
        "{text}"
    );
    assert!(
        !text.contains(" ok") && !text.contains("(config)"),
        "{text}"
    );
    let series = ex.run(&["--now", NOW, "series"]);
    let text = stdout(&series);
    assert!(
        text.contains("kenji@example.com") && text.contains("hint"),
        "{text}"
    );
}

// ------------------------------------------------------------- v2 rules on small calendars

/// A scenario: a config (manager Mika in Tokyo, the given reports and accounts) and its files
/// in a temporary directory, with a command channel that keeps every message it receives.
struct Scenario {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    state: std::path::PathBuf,
}

const MANAGER: &str =
    "[manager]\nemail = \"mika@example.com\"\nname = \"Mika\"\ntimezone = \"Asia/Tokyo\"\n";

impl Scenario {
    /// `body`: `[[reports]]` and `[[accounts]]` (and more); `files`: name → content.
    fn new(body: &str, files: &[(&str, &str)]) -> Scenario {
        let dir = tempfile::tempdir().unwrap();
        let cmd = dir.path().join("cmd");
        std::fs::create_dir_all(&cmd).unwrap();
        let script = dir.path().join("notify.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nn=$(ls \"{0}\" | wc -l)\ncat > \"{0}/$(printf %04d \"$n\").json\"\necho accepted\n",
                cmd.display()
            ),
        )
        .unwrap();
        // A body with its own [manager] section replaces the default one.
        let manager = if body.contains("[manager]") {
            ""
        } else {
            MANAGER
        };
        let text = format!(
            "{manager}\n{body}\n[alerts]\nchannels = [\"log\", \"command\"]\n\n[alerts.command]\nargv = [\"/bin/sh\", {:?}]\n\n[agenda]\nenabled = false\n",
            script.display().to_string()
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        for (name, content) in files {
            std::fs::write(dir.path().join(name), content).unwrap();
        }
        let state = dir.path().join("state");
        Scenario { dir, config, state }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::cargo_bin("cadenced")
            .unwrap()
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        out
    }

    fn report(&self, now: &str) -> serde_json::Value {
        serde_json::from_slice(&self.ok(&["--now", now, "report", "--json"]).stdout).unwrap()
    }

    /// The messages the command channel received, in order.
    fn messages(&self) -> Vec<serde_json::Value> {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(self.dir.path().join("cmd"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }

    fn write(&self, name: &str, content: &str) {
        std::fs::write(self.dir.path().join(name), content).unwrap();
    }
}

fn report_entry(name: &str, email: &str, extra: &str) -> String {
    format!("[[reports]]\nemail = \"{email}\"\nname = \"{name}\"\n{extra}\n")
}

fn ics_account(name: &str, path: &str) -> String {
    format!("[[accounts]]\nname = \"{name}\"\nprovider = \"ics\"\npath = \"{path}\"\n\n")
}

/// A VEVENT between Mika and `who` at `local` (Tokyo wall time `YYYYMMDDTHHMMSS`), 30 minutes.
fn meeting(uid: &str, who: &str, local: &str, title: &str, extra: &str) -> String {
    let end = format!("{}3000", &local[..local.len() - 4]);
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260801T000000Z\r\nDTSTART;TZID=Asia/Tokyo:{local}\r\n\
         DTEND;TZID=Asia/Tokyo:{end}\r\nSUMMARY:{title}\r\nORGANIZER:mailto:mika@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:mika@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}\r\n\
         {extra}END:VEVENT\r\n"
    )
}

/// A cancelled instance of series `uid` at `local`.
fn cancelled_instance(uid: &str, who: &str, local: &str, title: &str) -> String {
    meeting(
        uid,
        who,
        local,
        title,
        &format!("RECURRENCE-ID;TZID=Asia/Tokyo:{local}\r\nSEQUENCE:1\r\nSTATUS:CANCELLED\r\n"),
    )
}

fn calendar(events: &[String]) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cadenced tests//EN\r\n{}END:VCALENDAR\r\n",
        events.concat()
    )
}

/// `(kind, report)` of every alert in a report document.
fn alert_kinds(report: &serde_json::Value) -> Vec<(String, String)> {
    report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["report"]
                    .as_str()
                    .or(a["account"].as_str())
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

/// Alice weekly on Tuesdays 10:00 since August (held every week so far).
fn alice_weekly() -> String {
    meeting(
        "alice-weekly",
        "alice@example.com",
        "20260804T100000",
        "Alice / Mika 1on1",
        "RRULE:FREQ=WEEKLY;BYDAY=TU\r\n",
    )
}

#[test]
fn a_calendar_that_was_never_read_raises_no_report_alert_anywhere() {
    let s = Scenario::new(
        &format!(
            "{}{}{}",
            report_entry("Alice", "alice@example.com", "cadence = \"weekly\""),
            report_entry("Bob", "bob@example.com", ""),
            ics_account("work", "missing.ics")
        ),
        &[],
    );
    // `check` accepts the config but says the file is not there.
    let check = s.ok(&["check"]);
    assert!(
        stdout(&check).contains("warning: accounts[0].path")
            && stdout(&check).contains("missing.ics"),
        "{}",
        stdout(&check)
    );
    let out = s.run(&["--now", NOW, "run", "--once"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(!log.contains("No 1on1"), "{log}");
    // The only alert anywhere is the account's.
    let messages = s.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let alerts = messages[0]["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["kind"], "sync_failed");
    assert_eq!(alerts[0]["account"], "work");
    let message = alerts[0]["message"].as_str().unwrap();
    assert!(
        message.contains("never been read") && message.contains("missing.ics"),
        "{message}"
    );
    assert!(
        log.contains("sync_failed") || log.contains("never been read"),
        "{log}"
    );

    let report = s.report(NOW);
    assert_eq!(report["complete"], false);
    assert_eq!(report["accounts"][0]["state"], "never_synced");
    assert_eq!(
        report["accounts"][0]["last_success"],
        serde_json::Value::Null
    );
    assert!(
        report["accounts"][0]["error"]
            .as_str()
            .unwrap()
            .contains("missing.ics")
    );
    assert_eq!(
        alert_kinds(&report),
        [("sync_failed".to_string(), "work".to_string())]
    );
    // The text report, status and the dashboard say so at the top.
    let text = stdout(&s.ok(&["--now", NOW, "report"]));
    let first: Vec<&str> = text.lines().take(4).collect();
    assert!(
        first.iter().any(|l| l.contains("INCOMPLETE"))
            && first
                .iter()
                .any(|l| l.contains("account work has never been read")),
        "{text}"
    );
    let status = stdout(&s.ok(&["--now", NOW, "status"]));
    assert!(
        status.starts_with("INCOMPLETE") && status.contains("account work has never been read"),
        "{status}"
    );
    let page = s.dir.path().join("page.html");
    s.ok(&["--now", NOW, "report", "--html", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"incomplete\"") && html.contains("account work has never been read")
    );
}

#[test]
fn a_broken_second_account_after_a_good_run_changes_no_open_alert() {
    // Bob has not had a 1on1 for weeks (a gap) in the first calendar; the second holds Alice.
    let first = calendar(&[
        meeting(
            "bob-1",
            "bob@example.com",
            "20261001T150000",
            "Bob 1on1",
            "",
        ),
        meeting(
            "bob-next",
            "bob@example.com",
            "20261201T150000",
            "Bob 1on1",
            "",
        ),
    ]);
    let second = calendar(&[alice_weekly()]);
    let s = Scenario::new(
        &format!(
            "{}{}{}{}",
            report_entry("Alice", "alice@example.com", "cadence = \"weekly\""),
            report_entry("Bob", "bob@example.com", "cadence = \"weekly\""),
            ics_account("one", "one.ics"),
            ics_account("two", "two.ics")
        ),
        &[("one.ics", &first), ("two.ics", &second)],
    );
    s.ok(&["--now", NOW, "run", "--once"]);
    let before = s.report(NOW);
    assert_eq!(before["complete"], true);
    // The alerts as the ledger holds them; make-up `proposals` are computed at report time from
    // the calendars (and withheld while an account is missing), not part of an alert's state.
    let ledger = |a: &serde_json::Value| {
        let mut a = a.clone();
        a.as_object_mut().unwrap().remove("proposals");
        a
    };
    let held: Vec<serde_json::Value> = before["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(ledger)
        .collect();
    assert!(held.iter().any(|a| a["kind"] == "gap"), "{before}");
    let delivered = s.messages().len();

    // The second feed disappears, and meanwhile Bob's 1on1 happened in the first one: still
    // nothing changes while the analysis is incomplete.
    std::fs::remove_file(s.dir.path().join("two.ics")).unwrap();
    s.write(
        "one.ics",
        &calendar(&[meeting(
            "bob-2",
            "bob@example.com",
            "20261120T150000",
            "Bob 1on1",
            "",
        )]),
    );
    let later = "2026-11-25T09:00:00+09:00";
    let out = s.run(&["--now", later, "run", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let after = s.report(later);
    assert_eq!(after["complete"], false);
    let states: Vec<(&str, &str)> = after["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("one", "ok"), ("two", "failed")]);
    let report_alerts: Vec<serde_json::Value> = after["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["report"].is_null())
        .map(ledger)
        .collect();
    assert!(
        after["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a.get("proposals").is_none()),
        "no make-up slot is proposed from calendars that were not read: {after}"
    );
    assert_eq!(
        report_alerts, held,
        "the open alerts are exactly as they were"
    );
    assert!(
        after["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "sync_failed" && a["account"] == "two")
    );
    // Only the account alert was delivered.
    let messages = s.messages();
    assert_eq!(messages.len(), delivered + 1, "{messages:?}");
    let kinds: Vec<&str> = messages[delivered]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["sync_failed"]);

    // The feed comes back: the analysis is complete again, Bob's gap resolves.
    s.write("two.ics", &second);
    s.ok(&["--now", later, "run", "--once"]);
    let back = s.report(later);
    assert_eq!(back["complete"], true);
    assert!(
        !alert_kinds(&back)
            .iter()
            .any(|(k, _)| k == "gap" || k == "sync_failed"),
        "{back}"
    );
}

#[test]
fn a_working_session_beside_a_titled_1on1_never_counts() {
    let cal = calendar(&[
        meeting(
            "priya-1on1",
            "priya@example.com",
            "20260902T110000",
            "Priya / Sam 1:1",
            "RRULE:FREQ=WEEKLY;BYDAY=WE\r\n",
        ),
        meeting(
            "atlas",
            "priya@example.com",
            "20260903T150000",
            "Atlas migration working session",
            "RRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=TH\r\n",
        ),
    ]);
    let s = Scenario::new(
        &format!(
            "{}{}",
            report_entry("Priya", "priya@example.com", ""),
            ics_account("work", "work.ics")
        )
        .replace(
            "[[reports]]",
            &MANAGER
                .replace("\"Mika\"", "\"Sam\"")
                .replace("\"Asia/Tokyo\"\n", "\"Asia/Tokyo\"\n\n[[reports]]"),
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "sync"]);
    let report = s.report(NOW);
    let r = &report["reports"][0];
    assert_eq!(r["expected_interval_days"], 7.0);
    assert_eq!(r["cadence_source"], "recurrence");
    assert_eq!(r["series"].as_array().unwrap().len(), 1);
    assert_eq!(r["series"][0]["title"], "Priya / Sam 1:1");
    let series: serde_json::Value =
        serde_json::from_slice(&s.ok(&["--now", NOW, "series", "--json"]).stdout).unwrap();
    let c = series["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["titles"][0] == "Atlas migration working session")
        .expect("listed as a candidate");
    assert_eq!(c["report"], "Priya");
    assert!(c["reason"].as_str().unwrap().contains("Priya / Sam 1:1"));
    assert!(
        series["reports"][0]["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["title"] == "Priya / Sam 1:1")
    );
    let text = stdout(&s.ok(&["--now", NOW, "series"]));
    assert!(
        text.contains("Atlas migration working session") && text.contains("not counted"),
        "{text}"
    );
}

#[test]
fn a_names_only_japanese_title_is_a_1on1() {
    let cal = calendar(&[
        meeting(
            "s1",
            "sato@example.com",
            "20261020T110000",
            "田中 / 佐藤",
            "",
        ),
        meeting(
            "s2",
            "sato@example.com",
            "20261104T110000",
            "佐藤と田中",
            "",
        ),
        meeting(
            "s3",
            "sato@example.com",
            "20261118T110000",
            "田中 / 佐藤",
            "",
        ),
        meeting("lunch", "sato@example.com", "20261119T120000", "ランチ", ""),
    ]);
    let s = Scenario::new(
        &format!(
            "{}{}",
            report_entry("佐藤 健", "sato@example.com", ""),
            ics_account("work", "work.ics")
        )
        .replace(
            "[[reports]]",
            &MANAGER
                .replace("\"Mika\"", "\"田中 美香\"")
                .replace("\"Asia/Tokyo\"\n", "\"Asia/Tokyo\"\n\n[[reports]]"),
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "sync"]);
    let r = &s.report(NOW)["reports"][0];
    assert_eq!(r["held"], 3, "{r}");
    assert_eq!(r["last_held"], "2026-11-18T02:00:00Z");
}

#[test]
fn a_new_hire_is_not_uneven_and_starts_at_joined() {
    let weekly = |uid: &str, who: &str, start: &str| {
        meeting(uid, who, start, "1on1", "RRULE:FREQ=WEEKLY\r\n")
    };
    let cal = calendar(&[
        weekly("a", "alice@example.com", "20260601T100000"),
        weekly("b", "bob@example.com", "20260602T100000"),
        weekly("n", "nao@example.com", "20261104T100000"),
    ]);
    let s = Scenario::new(
        &format!(
            "{}{}{}{}",
            report_entry("Alice", "alice@example.com", ""),
            report_entry("Bob", "bob@example.com", ""),
            report_entry("Nao", "nao@example.com", "joined = \"2026-11-02\""),
            ics_account("work", "work.ics")
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "sync"]);
    let report = s.report(NOW);
    let nao = &report["reports"][2];
    assert_eq!(nao["start"], "2026-11-02");
    assert_eq!(nao["held"], 3);
    // Three weekly 1on1s in 22 days, not 3 in 90.
    assert_eq!(nao["sessions_per_30d"], 4.0);
    assert_eq!(report["reports"][0]["start"], "2026-06-01");
    assert!(alert_kinds(&report).is_empty(), "{report}");
}

#[test]
fn two_skips_in_a_row_are_one_alert_and_a_made_up_skip_none() {
    let cal = calendar(&[
        alice_weekly(),
        cancelled_instance(
            "alice-weekly",
            "alice@example.com",
            "20261103T100000",
            "Alice / Mika 1on1",
        ),
        cancelled_instance(
            "alice-weekly",
            "alice@example.com",
            "20261110T100000",
            "Alice / Mika 1on1",
        ),
        // Bob: one cancelled session, made up two days later.
        meeting(
            "bob-weekly",
            "bob@example.com",
            "20260806T150000",
            "Bob 1on1",
            "RRULE:FREQ=WEEKLY;BYDAY=TH\r\n",
        ),
        cancelled_instance(
            "bob-weekly",
            "bob@example.com",
            "20261112T150000",
            "Bob 1on1",
        ),
        meeting(
            "bob-makeup",
            "bob@example.com",
            "20261114T150000",
            "Bob 1on1 (make-up)",
            "",
        ),
    ]);
    let s = Scenario::new(
        &format!(
            "{}{}{}",
            report_entry("Alice", "alice@example.com", ""),
            report_entry("Bob", "bob@example.com", ""),
            ics_account("work", "work.ics")
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "run", "--once"]);
    let report = s.report(NOW);
    assert_eq!(
        alert_kinds(&report),
        [("skipped".to_string(), "alice@example.com".to_string())],
        "{report}"
    );
    let alert = &report["alerts"][0];
    assert_eq!(alert["since"], "2026-11-03T01:00:00Z");
    let message = alert["message"].as_str().unwrap();
    assert!(message.contains("Nov 3 and Nov 10"), "{message}");
}

#[test]
fn sessions_cancelled_during_a_vacation_week_are_excused() {
    let vacation = "BEGIN:VEVENT\r\nUID:vacation\r\nDTSTAMP:20261001T000000Z\r\nDTSTART;VALUE=DATE:20261109\r\n\
                    DTEND;VALUE=DATE:20261114\r\nSUMMARY:Vacation\r\nORGANIZER:mailto:mika@example.com\r\nEND:VEVENT\r\n";
    let cal = calendar(&[
        alice_weekly(),
        cancelled_instance(
            "alice-weekly",
            "alice@example.com",
            "20261110T100000",
            "Alice / Mika 1on1",
        ),
        meeting(
            "bob-weekly",
            "bob@example.com",
            "20260806T150000",
            "Bob 1on1",
            "RRULE:FREQ=WEEKLY;BYDAY=TH\r\n",
        ),
        cancelled_instance(
            "bob-weekly",
            "bob@example.com",
            "20261112T150000",
            "Bob 1on1",
        ),
        vacation.to_string(),
    ]);
    let s = Scenario::new(
        &format!(
            "{}{}{}",
            report_entry("Alice", "alice@example.com", ""),
            report_entry("Bob", "bob@example.com", ""),
            ics_account("work", "work.ics")
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "sync"]);
    let report = s.report(NOW);
    for r in report["reports"].as_array().unwrap() {
        assert_eq!(
            (r["excused"].as_u64(), r["cancelled"].as_u64()),
            (Some(1), Some(0)),
            "{r}"
        );
    }
    assert!(alert_kinds(&report).is_empty(), "{report}");
}

#[test]
fn an_ended_series_with_nothing_scheduled_is_reported_at_once() {
    let cal = calendar(&[meeting(
        "alice-weekly",
        "alice@example.com",
        "20260804T100000",
        "Alice / Mika 1on1",
        "RRULE:FREQ=WEEKLY;BYDAY=TU;UNTIL=20261117T020000Z\r\n",
    )]);
    let s = Scenario::new(
        &format!(
            "{}{}",
            report_entry("Alice", "alice@example.com", ""),
            ics_account("work", "work.ics")
        ),
        &[("work.ics", &cal)],
    );
    s.ok(&["--now", NOW, "sync"]);
    let report = s.report(NOW);
    // Last held a week ago: no gap yet, but nothing follows.
    assert_eq!(
        alert_kinds(&report),
        [("series_ending".to_string(), "alice@example.com".to_string())],
        "{report}"
    );
    assert!(
        report["alerts"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ended on Nov 17")
    );
}

#[test]
fn a_store_with_v1_alerts_upgrades_without_a_delivery_storm() {
    // The fixture state was written by the previous version (v1 rules) on this calendar at NOW:
    // five alerts, all delivered on log and command — a skipped alert per cancelled session
    // (Alice, Nov 3 and Nov 10), irregular for Alice (weekly by config) and Bob (who now has a
    // series), and Carol's gap.
    let ics = std::fs::read_to_string(common::fixture("v1-upgrade.ics")).unwrap();
    let s = Scenario::new(
        &format!(
            "{}{}{}{}",
            report_entry("Alice", "alice@example.com", "cadence = \"weekly\""),
            report_entry("Bob", "bob@example.com", ""),
            report_entry("Carol", "carol@example.com", "cadence = \"weekly\""),
            ics_account("feed", "v1-upgrade.ics")
        ),
        &[("v1-upgrade.ics", &ics)],
    );
    std::fs::create_dir_all(&s.state).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&s.state, std::fs::Permissions::from_mode(0o700)).unwrap();
    let db = s.state.join("cadenced.db");
    std::fs::copy(common::fixture("v1-store/cadenced.db"), &db).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o600)).unwrap();
    s.ok(&["--now", NOW, "run", "--once"]);
    let report = s.report(NOW);
    let ids: Vec<(String, String, String)> = alert_ids(&report);
    // The run of two skips carries on as the v1 alert of its first session; Carol's gap too.
    assert!(
        ids.contains(&(
            "skipped".into(),
            "alice@example.com".into(),
            "6da28499789c".into()
        )),
        "{ids:?}"
    );
    assert!(
        ids.contains(&(
            "gap".into(),
            "carol@example.com".into(),
            "98e23c8e6674".into()
        )),
        "{ids:?}"
    );
    // The v1-only episodes are resolved: the second skip, both irregulars.
    for gone in ["a268f5536f48", "45afecd1f8c2", "1c7a48b0e89d"] {
        assert!(
            !ids.iter().any(|(_, _, id)| id == gone),
            "{gone} still open: {ids:?}"
        );
    }
    // Nothing already announced is announced again; only alerts new under the v2 rules are.
    let announced = [
        "6da28499789c",
        "98e23c8e6674",
        "a268f5536f48",
        "45afecd1f8c2",
        "1c7a48b0e89d",
    ];
    let messages = s.messages();
    assert!(messages.len() <= 1, "{messages:?}");
    for m in &messages {
        for a in m["alerts"].as_array().unwrap() {
            assert!(
                !announced.contains(&a["id"].as_str().unwrap()),
                "{a} announced again"
            );
        }
    }
    // A second run sends nothing and resolves nothing more.
    let before = s.messages().len();
    s.ok(&["--now", "2026-11-24T10:00:00+09:00", "run", "--once"]);
    assert_eq!(s.messages().len(), before);
    assert_eq!(alert_ids(&s.report("2026-11-24T10:00:00+09:00")), ids);
}

#[test]
fn status_shows_the_same_open_alerts_as_report_right_after_sync() {
    let ex = Example::new(None);
    let status: serde_json::Value =
        serde_json::from_slice(&ex.run(&["--now", NOW, "status", "--json"]).stdout).unwrap();
    let report = ex.json(&["--now", NOW, "report", "--json"]);
    assert_eq!(status["complete"], true);
    assert_eq!(
        status["open_alerts"].as_u64().unwrap() as usize,
        report["alerts"].as_array().unwrap().len()
    );
    assert_eq!(status["accounts"][0]["state"], "ok");
}
