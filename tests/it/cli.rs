//! The command line's contract: flags and fallbacks, `init`, `check`, exit codes, and errors
//! that name the key.

use crate::common;

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
