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
        let out = ex.run(&["sync"]);
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
    let series = ex.run(&["--now", NOW, "series"]);
    let text = stdout(&series);
    assert!(
        text.contains("kenji@example.com") && text.contains("hint"),
        "{text}"
    );
}
