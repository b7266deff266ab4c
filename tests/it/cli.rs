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

fn mode_of(p: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A file outside the state directory that a planted link points at, with its mode and text.
fn precious(env: &Env) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let target = env.dir.path().join("precious");
    std::fs::write(&target, "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    target
}

fn untouched(target: &std::path::Path) {
    assert_eq!(
        std::fs::read_to_string(target).unwrap(),
        "root:x:0:0:root:/root:/bin/sh\n"
    );
    assert_eq!(mode_of(target), 0o644, "the link's target was chmod'ed");
}

#[test]
fn planted_links_in_the_state_directory_are_refused_and_their_targets_untouched() {
    let env = Env::with_feed(&common::fixture("overrides.ics"), "UTC");
    std::fs::create_dir(&env.state).unwrap();
    let target = precious(&env);

    // The database.
    std::os::unix::fs::symlink(&target, env.state.join("cadenced.db")).unwrap();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    untouched(&target);
    std::fs::remove_file(env.state.join("cadenced.db")).unwrap();

    // SQLite's write-ahead log beside it.
    std::os::unix::fs::symlink(&target, env.state.join("cadenced.db-wal")).unwrap();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cadenced.db-wal"), "{}", stderr(&out));
    untouched(&target);
    std::fs::remove_file(env.state.join("cadenced.db-wal")).unwrap();

    // The daemon's lock (`run --once` takes it).
    std::os::unix::fs::symlink(&target, env.state.join("daemon.lock")).unwrap();
    let out = env.run(&["run", "--once"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    untouched(&target);
    std::fs::remove_file(env.state.join("daemon.lock")).unwrap();

    // With nothing planted, everything works and is private.
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&env.state.join("cadenced.db")), 0o600);
}

#[test]
fn token_files_linked_out_of_the_state_directory_are_never_read_or_written_through() {
    let server = "http://127.0.0.1:1";
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n\
         [[accounts]]\nname = \"work\"\nprovider = \"google\"\nclient_id = \"id.apps.googleusercontent.com\"\ntoken_url = \"{server}/token\"\n"
    ));
    std::fs::create_dir_all(env.state.join("tokens")).unwrap();
    let target = precious(&env);
    std::os::unix::fs::symlink(&target, env.state.join("tokens/work.json")).unwrap();
    // A sync needs the token: it is refused, not read through the link.
    let out = env.run(&["sync"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    untouched(&target);
    std::fs::remove_dir_all(env.state.join("tokens")).unwrap();

    // tokens/ itself pointing elsewhere: neither read through nor written into.
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("work.json"),
        "{\"refresh_token\":\"planted\"}",
    )
    .unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.state.join("tokens")).unwrap();
    let out = env.run(&["sync"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    let out = env.run_with_stdin(&["auth", "work", "--refresh-token-stdin"], "1//refresh\n");
    assert!(!out.status.success());
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 1);
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("work.json")).unwrap(),
        "{\"refresh_token\":\"planted\"}"
    );
}

#[test]
fn a_state_directory_of_another_user_or_writable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_feed(&common::fixture("overrides.ics"), "UTC");
    std::fs::create_dir(&env.state).unwrap();
    std::fs::set_permissions(&env.state, std::fs::Permissions::from_mode(0o770)).unwrap();
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("writable by its group or by others") && err.contains("chmod 700"),
        "{err}"
    );
    assert!(!env.state.join("cadenced.db").exists());
    std::fs::set_permissions(&env.state, std::fs::Permissions::from_mode(0o700)).unwrap();

    // Owned by someone else: only root can make one here (chown to nobody, 65534).
    if rustix::process::geteuid().is_root() {
        std::os::unix::fs::chown(&env.state, Some(65534), None).unwrap();
        let out = env.run(&["sync"]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(
            err.contains("owned by uid 65534") && err.contains("chown"),
            "{err}"
        );
        assert!(!env.state.join("cadenced.db").exists());
    } else {
        eprintln!("not root: the foreign-owner case needs root to chown; skipped");
    }
}

#[test]
fn init_writes_the_config_0600_and_check_warns_about_a_readable_inline_secret() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("config.toml");
    let out = cadenced()
        .arg("--config")
        .arg(&config)
        .arg("init")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&config), 0o600);

    let env = Env::with_config_text(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n\
         [[accounts]]\nname = \"work\"\nprovider = \"google\"\nclient_id = \"id.apps.googleusercontent.com\"\nclient_secret = \"GOCSPX-inline\"\n",
    );
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("warning:")
            && text.contains("accounts[0].client_secret")
            && text.contains("chmod 600"),
        "{text}"
    );
    assert!(!text.contains("GOCSPX-inline"));
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = env.run(&["check"]);
    assert!(!stdout(&out).contains("warning:"), "{}", stdout(&out));
}

#[test]
fn control_characters_from_a_feed_never_reach_the_terminal_raw() {
    // A title with an OSC window-title sequence, a bell, CSI clear-screen, a C1 CSI and a
    // right-to-left override; an ics path with an escape in its name for the error paths.
    let title = "Alice / Mika 1on1 \u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}gnp.exe";
    let mut summary = String::new();
    for c in title.chars() {
        summary.push(c);
    }
    let ics = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a@example.com\r\n\
         DTSTAMP:20261001T000000Z\r\nDTSTART:20261103T010000Z\r\nDTEND:20261103T013000Z\r\n\
         RRULE:FREQ=WEEKLY\r\nSUMMARY:{summary}\r\nORGANIZER:mailto:mika@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:mika@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:alice@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("team.ics");
    std::fs::write(&feed, ics).unwrap();
    let config = dir.path().join("config.toml");
    let write_config = |feed: &str| {
        std::fs::write(
            &config,
            format!(
                "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n\
                 [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n\
                 [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{feed}\"\n"
            ),
        )
        .unwrap();
    };
    write_config(&feed.display().to_string());
    let env = Env {
        config: config.clone(),
        state: dir.path().join("state"),
        dir,
    };
    assert!(env.run(&["sync"]).status.success());
    let raw = |s: &str| {
        s.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}')
    };
    let now = ["--now", "2026-11-20T00:00:00Z"];
    for args in [
        vec!["events", "--from", "2026-11-01", "--to", "2026-11-20"],
        vec!["series"],
        vec!["report"],
        vec!["status"],
    ] {
        let all: Vec<&str> = now.iter().copied().chain(args.iter().copied()).collect();
        let out = env.run(&all);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(!raw(&text) && !raw(&stderr(&out)), "{args:?}: {text:?}");
        if args[0] != "status" && args[0] != "report" {
            assert!(
                text.contains("\\e]0;pwned\\u{7}\\e[2J\\u{9b}31m\\u{202e}gnp.exe"),
                "{args:?}: {text}"
            );
        }
    }
    // JSON is left to serde: the title comes back exactly.
    let events = env.events("2026-11-01", "2026-11-20");
    assert_eq!(events[0]["summary"], title);

    // Errors (on stderr, and in `status`) carry the escaped path, not the raw one.
    write_config("/nonexistent/\\u001b]0;pwned\\u0007.ics");
    let out = env.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(!raw(&err) && err.contains("\\e]0;pwned\\u{7}"), "{err:?}");
    let out = env.run(&["status"]);
    let text = stdout(&out);
    assert!(
        !raw(&text) && text.contains("\\e]0;pwned\\u{7}"),
        "{text:?}"
    );
}

#[test]
fn a_sync_that_did_not_finish_shows_as_such_in_status() {
    use std::io::{Read, Write};
    let ics = std::fs::read_to_string(common::fixture("overrides.ics")).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // The first fetch is answered; the second is accepted and never answered.
        for (i, stream) in listener.incoming().enumerate() {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            if i == 0 {
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ics}",
                    ics.len()
                );
            } else {
                held_tx.send(()).unwrap();
                std::thread::sleep(std::time::Duration::from_secs(60));
            }
        }
    });
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\ntimezone = \"UTC\"\n\n\
         [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\nurl = \"http://127.0.0.1:{port}/team.ics\"\n"
    ));
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let before: serde_json::Value =
        serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let success = before["accounts"][0]["last_success"].clone();
    assert_eq!(before["accounts"][0]["last_sync_ok"], true);

    // A second sync is killed while it waits for the feed.
    let mut child = env
        .cmd(&["--now", "2030-01-01T00:00:00Z", "sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    held_rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();

    let after: serde_json::Value =
        serde_json::from_slice(&env.run(&["status", "--json"]).stdout).unwrap();
    let acc = &after["accounts"][0];
    assert_eq!(acc["last_sync"], "2030-01-01T00:00:00Z");
    assert_eq!(acc["last_sync_ok"], serde_json::Value::Null, "{acc}");
    assert_eq!(acc["last_success"], success);
    let text = stdout(&env.run(&["status"]));
    assert!(
        text.contains("last sync 2030-01-01T00:00:00Z: did not finish (interrupted); last success"),
        "{text}"
    );
}

#[test]
fn a_damaged_database_says_how_to_recover() {
    let env = Env::with_feed(&common::fixture("overrides.ics"), "UTC");
    assert!(env.run(&["sync"]).status.success());
    // Scribble over the b-tree pages (the header stays, so SQLite finds the image malformed).
    let db = env.state.join("cadenced.db");
    let mut bytes = std::fs::read(&db).unwrap();
    for b in bytes.iter_mut().skip(100) {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(env.state.join(format!("cadenced.db{suffix}")));
    }
    let out = env.run(&["status"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("damaged") && err.contains("cadenced sync") && err.lines().count() == 1,
        "{err}"
    );
}

#[test]
fn control_characters_in_a_feed_never_reach_log_lines_raw() {
    // A broken VEVENT (no DTSTART) is skipped with a warning naming its UID: here a UID with a
    // window-title sequence, a carriage return and a right-to-left override.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
               UID:x\u{1b}]0;pwned\u{7}\rfake line\u{202e}@example.com\r\nSUMMARY:broken\r\n\
               END:VEVENT\r\nEND:VCALENDAR\r\n";
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("team.ics");
    std::fs::write(&feed, ics).unwrap();
    let env = Env::with_feed(&feed, "UTC");
    let out = env.cmd(&["sync"]).env("RUST_LOG", "warn").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pwned"), "the warning is there: {err:?}");
    assert!(
        !err.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{err:?}"
    );
}

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
