//! Agenda links written into Google Calendar events (issue 8, DESIGN §8), by the real binary
//! against the stateful Google fake (`tests/fake_google`) over loopback HTTP: once and never
//! twice, with `If-Match` and `sendUpdates=none`, preserving the description byte for byte,
//! resolving a concurrent edit (412), leaving events organized by others alone, and `agenda
//! unlink` restoring the original description.

mod fake_google;

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use fake_google::{Endpoint, FakeGoogle, REFRESH_TOKEN};
use serde_json::{Value, json};

/// Sunday before the Monday 10:00 (Chicago) sessions.
const NOW: &str = "2026-11-22T12:00:00-06:00";
const LINK_BASE: &str = "https://intranet.example.com/agendas/";

/// User text, HTML and a meeting join block, as people and conferencing add-ons write them.
const DESCRIPTION: &str = "Alice's topics first, then mine.\n<b>Bring</b> the <a href=\"https://docs.example.com/okr\">OKR doc</a>.<br><br>\n──────────\nJoin Zoom Meeting\nhttps://zoom.us/j/123456789?pwd=abc\n\nMeeting ID: 123 456 789\nPasscode: 424242\n──────────\n";

struct Env {
    _dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

impl Env {
    fn new(g: &FakeGoogle) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[manager]\nemail = \"me@example.com\"\nname = \"Mika\"\ntimezone = \"America/Chicago\"\n\n\
                 [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\ncadence = \"weekly\"\n\n\
                 [[reports]]\nemail = \"bob@example.com\"\nname = \"Bob\"\ncadence = \"weekly\"\n\n{}\n\
                 [agenda]\nlink_base = \"{LINK_BASE}\"\n",
                g.google_account_toml("work", &["primary"])
            ),
        )
        .unwrap();
        let env = Env {
            config,
            state: dir.path().join("state"),
            _dir: dir,
        };
        let out = env.run_with_stdin(
            &["auth", "work", "--refresh-token-stdin"],
            &format!("{REFRESH_TOKEN}\n"),
        );
        assert!(out.status.success(), "auth: {}", text(&out.stderr));
        env
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cadenced"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--now")
            .arg(NOW)
            .args(args)
            .env_remove("RUST_LOG");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}\n{}",
            text(&out.stderr),
            text(&out.stdout)
        );
        text(&out.stdout)
    }

    fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Alice's weekly 1on1, organized by the manager, with [`DESCRIPTION`].
fn alice_series(g: &FakeGoogle) -> Value {
    g.insert_event(
        "primary",
        json!({
            "id": "aliceweekly",
            "summary": "Alice / Mika 1on1",
            "description": DESCRIPTION,
            "start": {"dateTime": "2026-11-02T10:00:00-06:00", "timeZone": "America/Chicago"},
            "end": {"dateTime": "2026-11-02T10:30:00-06:00", "timeZone": "America/Chicago"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": "me@example.com", "self": true},
            "attendees": [
                {"email": "me@example.com", "self": true, "organizer": true, "responseStatus": "accepted"},
                {"email": "alice@example.com", "responseStatus": "accepted"}
            ]
        }),
    )
}

/// Bob's weekly 1on1, organized by Bob (the manager is an attendee).
fn bob_series(g: &FakeGoogle) -> Value {
    g.insert_event(
        "primary",
        json!({
            "id": "bobweekly",
            "summary": "Bob <> Mika 1on1",
            "description": "Bob's agenda lives in his notebook.",
            "start": {"dateTime": "2026-11-03T09:00:00-06:00", "timeZone": "America/Chicago"},
            "end": {"dateTime": "2026-11-03T09:30:00-06:00", "timeZone": "America/Chicago"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": "bob@example.com"},
            "creator": {"email": "bob@example.com"},
            "attendees": [
                {"email": "bob@example.com", "organizer": true, "responseStatus": "accepted"},
                {"email": "me@example.com", "self": true, "responseStatus": "accepted"}
            ]
        }),
    )
}

fn event(g: &FakeGoogle, id: &str) -> Value {
    g.snapshot("primary")
        .into_iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no event {id}"))
}

fn block(url: &str) -> String {
    format!("-- cadenced agenda --\nAlice ⇄ Mika — 1on1\n{url}\n-- end of cadenced agenda --")
}

const ALICE_URL: &str = "https://intranet.example.com/agendas/alice@example.com.md";

#[test]
fn the_link_is_written_once_with_if_match_and_no_notifications_and_never_twice() {
    let g = FakeGoogle::start();
    let original = alice_series(&g);
    let bob = bob_series(&g);
    let env = Env::new(&g);
    env.ok(&["sync"]);

    let plan = env.ok(&["agenda", "--dry-run"]);
    assert!(
        plan.contains(&format!("would link {ALICE_URL} into event aliceweekly")),
        "{plan}"
    );
    assert!(
        plan.contains(
            "event bobweekly (account work) without writing to it: the manager does not organize it"
        ),
        "{plan}"
    );
    assert!(g.patches().is_empty(), "--dry-run wrote");

    let out = env.ok(&["agenda"]);
    assert!(out.contains("1 link written"), "{out}");
    let patches = g.patches();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    let p = &patches[0];
    assert_eq!(p.event_id, "aliceweekly");
    assert_eq!(p.status, 200);
    assert_eq!(p.send_updates.as_deref(), Some("none"));
    assert_eq!(p.if_match.as_deref(), original["etag"].as_str());

    // User text, HTML and the join block are intact, byte for byte; the block follows them.
    let after = event(&g, "aliceweekly");
    assert_eq!(
        after["description"].as_str().unwrap(),
        format!("{DESCRIPTION}\n\n{}", block(ALICE_URL))
    );
    assert_eq!(
        after["extendedProperties"]["private"]["cadencedAgenda"],
        ALICE_URL
    );
    assert_eq!(after["summary"], original["summary"]);
    assert_eq!(after["attendees"], original["attendees"]);

    // Bob organizes his 1on1: nothing written there.
    assert_eq!(event(&g, "bobweekly"), bob);

    // A second run, and a whole daemon cycle after a sync, issue no write at all.
    let out = env.ok(&["agenda"]);
    assert!(out.contains("0 links written"), "{out}");
    env.ok(&["sync"]);
    let out = env.run(&["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(g.patches().len(), 1);
    assert_eq!(g.requests_to(Endpoint::EventsPatch).len(), 1);
    let plan = env.ok(&["agenda", "--dry-run"]);
    assert!(plan.starts_with("nothing to do"), "{plan}");
}

#[test]
fn a_concurrent_edit_is_kept_and_the_link_added_after_a_reread() {
    let g = FakeGoogle::start();
    alice_series(&g);
    let env = Env::new(&g);
    env.ok(&["sync"]);
    // Alice's own note lands between cadenced's read and its write.
    let theirs = format!("{DESCRIPTION}Alice: can we talk about the conference?\n");
    g.edit_before_next_patch("primary", "aliceweekly", json!({"description": theirs}));

    env.ok(&["agenda"]);
    let patches = g.patches();
    assert_eq!(
        patches.iter().map(|p| p.status).collect::<Vec<_>>(),
        vec![412, 200]
    );
    assert_ne!(patches[0].if_match, patches[1].if_match);
    let after = event(&g, "aliceweekly");
    assert_eq!(
        after["description"].as_str().unwrap(),
        format!("{theirs}\n\n{}", block(ALICE_URL))
    );
}

#[test]
fn after_repeated_conflicts_it_gives_up_without_overwriting_and_links_next_time() {
    let g = FakeGoogle::start();
    alice_series(&g);
    let env = Env::new(&g);
    env.ok(&["sync"]);
    for i in 0..3 {
        g.edit_before_next_patch(
            "primary",
            "aliceweekly",
            json!({"description": format!("{DESCRIPTION}edit {i}\n")}),
        );
    }
    let out = env.run(&["agenda"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 deferred"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("gave up adding the agenda link"),
        "{}",
        text(&out.stderr)
    );
    assert!(g.patches().iter().all(|p| p.status == 412));
    assert_eq!(
        event(&g, "aliceweekly")["description"].as_str().unwrap(),
        format!("{DESCRIPTION}edit 2\n")
    );
    // The next run links it, keeping the last edit.
    env.ok(&["agenda"]);
    assert_eq!(
        event(&g, "aliceweekly")["description"].as_str().unwrap(),
        format!("{DESCRIPTION}edit 2\n\n\n{}", block(ALICE_URL))
    );
}

#[test]
fn unlink_restores_the_original_description_and_removes_the_mark() {
    let g = FakeGoogle::start();
    let original = alice_series(&g);
    let env = Env::new(&g);
    env.ok(&["sync"]);
    env.ok(&["agenda"]);
    assert!(
        event(&g, "aliceweekly")["description"]
            .as_str()
            .unwrap()
            .contains("cadenced agenda")
    );

    let plan = env.ok(&["agenda", "unlink", "--dry-run"]);
    assert!(
        plan.contains("would remove the agenda link from event aliceweekly"),
        "{plan}"
    );
    let out = env.ok(&["agenda", "unlink"]);
    assert!(out.contains("1 agenda link removed"), "{out}");
    let after = event(&g, "aliceweekly");
    assert_eq!(after["description"].as_str().unwrap(), DESCRIPTION);
    assert!(
        after
            .get("extendedProperties")
            .is_none_or(|x| x["private"].get("cadencedAgenda").is_none())
    );
    let last = g.patches().pop().unwrap();
    assert_eq!(last.send_updates.as_deref(), Some("none"));
    assert!(last.if_match.is_some());
    // Apart from what any write changes (etag, updated), the event is the original again.
    let strip = |mut v: Value| {
        for k in ["etag", "updated", "extendedProperties"] {
            v.as_object_mut().unwrap().remove(k);
        }
        v
    };
    assert_eq!(strip(after), strip(original));
    // Unlinking again finds nothing to remove.
    let out = env.ok(&["agenda", "unlink"]);
    assert!(out.contains("0 agenda links removed"), "{out}");
}

#[test]
fn a_token_without_the_write_scope_fails_clearly_and_writes_nothing() {
    let g = FakeGoogle::start();
    alice_series(&g);
    g.add_refresh_token(
        fake_google::DEFAULT_ACCOUNT,
        "1//read-only",
        &["calendar.readonly"],
    );
    let env = Env::new(&g);
    let out = env.run_with_stdin(&["auth", "work", "--refresh-token-stdin"], "1//read-only\n");
    assert!(out.status.success());
    env.ok(&["sync"]);
    let out = env.run(&["agenda"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("aliceweekly") && err.contains("403"), "{err}");
    assert_eq!(event(&g, "aliceweekly")["description"], DESCRIPTION);
}
