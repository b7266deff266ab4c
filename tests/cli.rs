//! The command line's contract: flags and fallbacks, `init`, `check`, exit codes, and errors
//! that name the key.

mod common;

use assert_cmd::Command;
use common::{Env, stderr, stdout};

fn cadenced() -> Command {
    let mut c = Command::cargo_bin("cadenced").unwrap();
    c.env_remove("CADENCED_CONFIG")
        .env_remove("CADENCED_STATE_DIR")
        .env_remove("STATE_DIRECTORY");
    c
}

#[test]
fn init_writes_a_valid_config_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("cadenced/config.toml");
    let out = cadenced()
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(config.exists() && tmp.path().join("cadenced/example.ics").exists());

    let out = cadenced()
        .arg("--config")
        .arg(&config)
        .arg("check")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    let out = cadenced()
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));

    // The written example syncs with no account needed.
    let state = tmp.path().join("state");
    let out = cadenced()
        .arg("--config")
        .arg(&config)
        .arg("--state-dir")
        .arg(&state)
        .arg("sync")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn check_lists_every_problem_with_key_and_line_and_exits_2() {
    let env = Env::with_config_text(
        "[manager]\nemail = \"mika@example.com\"\ntimzone = \"Asia/Tokyo\"\n\n[sync]\npast = \"forever\"\n\n[[accounts]]\nname = \"feed\"\nprovider = \"outlook\"\n",
    );
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("manager.timzone"), "{text}");
    assert!(text.contains(":3:"), "the line of manager.timzone: {text}");
    assert!(text.contains("sync.past"), "{text}");
    assert!(text.contains("accounts[0].provider"), "{text}");
    assert!(text.contains("3 problems"), "{text}");
}

#[test]
fn commands_refuse_an_invalid_config_with_exit_2_naming_the_key() {
    let env = Env::with_config_text(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"Mars/Olympus\"\n",
    );
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("manager.timezone") && err.contains("config.toml"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one sentence: {err}");
}

#[test]
fn a_missing_config_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.toml");
    let out = cadenced()
        .arg("--config")
        .arg(&missing)
        .arg("events")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope.toml"), "{}", stderr(&out));
}

#[test]
fn config_and_state_dir_fall_back_to_the_environment() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("c.toml");
    let feed = common::fixture("overrides.ics");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = \"m@example.com\"\n[[accounts]]\nname = \"f\"\nprovider = \"ics\"\npath = \"{}\"\n",
            feed.display()
        ),
    )
    .unwrap();
    let state = tmp.path().join("from-env");
    let out = cadenced()
        .env("CADENCED_CONFIG", &config)
        .env("CADENCED_STATE_DIR", &state)
        .arg("sync")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(state.join("cadenced.db").exists());

    // systemd's STATE_DIRECTORY is next in line.
    let systemd_state = tmp.path().join("systemd");
    let out = cadenced()
        .env("CADENCED_CONFIG", &config)
        .env("STATE_DIRECTORY", &systemd_state)
        .arg("sync")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(systemd_state.join("cadenced.db").exists());
}

#[test]
fn usage_errors_exit_2_and_bad_now_is_rejected() {
    let out = cadenced().arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = cadenced()
        .args(["--now", "yesterday", "events"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("RFC 3339"), "{}", stderr(&out));
    let out = cadenced().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn the_state_directory_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_feed(&common::fixture("overrides.ics"), "UTC");
    assert!(env.run(&["sync"]).status.success());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&env.state), 0o700);
    assert_eq!(mode(&env.state.join("cadenced.db")), 0o600);
}

/// Every flag and argument of every command has a line of help.
#[test]
fn every_flag_has_help_text() {
    let commands: &[&[&str]] = &[
        &[],
        &["init"],
        &["check"],
        &["auth"],
        &["sync"],
        &["events"],
        &["series"],
        &["status"],
        &["report"],
        &["run"],
        &["service"],
        &["service", "install"],
        &["alerts"],
        &["alerts", "ack"],
        &["alerts", "snooze"],
        &["alerts", "test"],
        &["agenda"],
        &["agenda", "unlink"],
    ];
    for cmd in commands {
        let out = cadenced().args(*cmd).arg("--help").output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", stderr(&out));
        let text = stdout(&out);
        let mut section = "";
        for line in text.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                section = line;
                continue;
            }
            if section != "Options:" && section != "Arguments:" {
                continue;
            }
            let t = line.trim_start();
            if t.is_empty() || !(t.starts_with('-') || t.starts_with('<') || t.starts_with('[')) {
                continue;
            }
            // "  --json  Description" (or the description on the next lines, indented deeper).
            let described = t
                .split_once("  ")
                .is_some_and(|(_, d)| !d.trim().is_empty());
            let next_indented = text
                .lines()
                .skip_while(|l| *l != line)
                .nth(1)
                .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
            assert!(
                described || next_indented,
                "`cadenced {}` has no help for {t:?}:\n{text}",
                cmd.join(" ")
            );
        }
    }
}

#[test]
fn check_accepts_weeks_and_joined_and_warns_about_a_missing_file() {
    let env = Env::with_config_text(
        "[manager]\nemail = \"mika@example.com\"\n\n[[reports]]\nemail = \"alice@example.com\"\n\
         cadence = \"2w\"\njoined = \"2026-11-02\"\n\n[detection]\nabsence_patterns = [\"off-site\"]\n\n\
         [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"nowhere.ics\"\n",
    );
    let out = env.run(&["check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("warning: accounts[0].path") && text.contains("nowhere.ics"),
        "{text}"
    );
    let bad = Env::with_config_text(
        "[manager]\nemail = \"mika@example.com\"\n\n[[reports]]\nemail = \"alice@example.com\"\n\
         joined = \"last week\"\n",
    );
    let out = bad.run(&["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stdout(&out).contains("reports[0].joined"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn an_unchanged_file_feed_is_reported_unchanged_and_declines_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("team.ics");
    std::fs::write(
        &feed,
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261110T010000Z\r\n\
         DURATION:PT30M\r\nSUMMARY:Alice 1on1\r\nORGANIZER:mailto:mika@example.com\r\n\
         ATTENDEE;PARTSTAT=DECLINED:mailto:alice@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    )
    .unwrap();
    let env = Env::with_feed(&feed, "Asia/Tokyo");
    let first = env.run(&["sync"]);
    assert!(
        stdout(&first).contains("feed: 1 event stored"),
        "{}",
        stdout(&first)
    );
    let again = env.run(&["sync"]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("feed: unchanged (1 event)"),
        "{}",
        stdout(&again)
    );
    let events = env.run(&["events", "--from", "2026-11-01", "--to", "2026-12-01"]);
    assert!(
        stdout(&events).contains("[declined by alice@example.com]"),
        "{}",
        stdout(&events)
    );
}
