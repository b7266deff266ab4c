//! Agenda links written into Google Calendar events (issue 8, docs/design.md, Writing to calendars), by the real binary
//! against the stateful Google fake (`tests/fake_google`) over loopback HTTP: once and never
//! twice, with `If-Match` and `sendUpdates=none`, preserving the description byte for byte,
//! resolving a concurrent edit (412), leaving events organized by others alone, and `agenda
//! unlink` restoring the original description.

use crate::common;
use testkit::fake_google;

use std::process::Output;

use common::Env;
use fake_google::{Endpoint, FakeGoogle, REFRESH_TOKEN};
use serde_json::{Value, json};

/// Sunday before the Monday 10:00 (Chicago) sessions.
const NOW: &str = "2026-11-22T12:00:00-06:00";
const LINK_BASE: &str = "https://intranet.example.com/agendas/";

/// User text, HTML and a meeting join block, as people and conferencing add-ons write them.
const DESCRIPTION: &str = "Alice's topics first, then mine.\n<b>Bring</b> the <a href=\"https://docs.example.com/okr\">OKR doc</a>.<br><br>\n──────────\nJoin Zoom Meeting\nhttps://zoom.us/j/123456789?pwd=abc\n\nMeeting ID: 123 456 789\nPasscode: 424242\n──────────\n";

/// A config with Alice and Bob on the fake's account "work", signed in, with `link_base` set.
fn env_for(g: &FakeGoogle) -> Env {
    env_with_agenda(g, &format!("link_base = \"{LINK_BASE}\"\n"))
}

/// With these `[agenda]` keys.
fn env_with_agenda(g: &FakeGoogle, agenda: &str) -> Env {
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"me@example.com\"\nname = \"Mika\"\ntimezone = \"America/Chicago\"\n\n\
         [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\ncadence = \"weekly\"\n\n\
         [[reports]]\nemail = \"bob@example.com\"\nname = \"Bob\"\ncadence = \"weekly\"\n\n{}\n\
         [agenda]\n{agenda}",
        g.google_account_toml("work", &["primary"])
    ));
    env.import_refresh_token("work", REFRESH_TOKEN);
    env
}

/// `args` at [`NOW`].
fn run(env: &Env, args: &[&str]) -> Output {
    env.cmd(&["--now", NOW]).args(args).output().unwrap()
}

/// `args` at [`NOW`], required to succeed; its stdout.
fn ok(env: &Env, args: &[&str]) -> String {
    ok_at(env, NOW, args)
}

fn ok_at(env: &Env, now: &str, args: &[&str]) -> String {
    let out = env.cmd(&["--now", now]).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?} failed: {}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    text(&out.stdout)
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
    let env = env_for(&g);
    ok(&env, &["sync"]);

    let plan = ok(&env, &["agenda", "--dry-run"]);
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

    let out = ok(&env, &["agenda"]);
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

    // Bob organizes his 1on1: nothing written there; the report shows where his agenda is.
    assert_eq!(event(&g, "bobweekly"), bob);
    let report: Value = serde_json::from_str(&ok(&env, &["report", "--json"])).unwrap();
    let bob_row = report["reports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["email"] == "bob@example.com")
        .unwrap();
    assert_eq!(bob_row["agenda"][0]["state"], "not_organizer");
    assert_eq!(
        bob_row["agenda"][0]["link"],
        "https://intranet.example.com/agendas/bob@example.com.md"
    );
    assert!(ok(&env, &["report"]).contains("bob@example.com: https://intranet.example.com/agendas/bob@example.com.md — not in the invite (someone else organizes it)"));

    // A second run, and a whole daemon cycle after a sync, issue no write at all.
    let out = ok(&env, &["agenda"]);
    assert!(out.contains("0 links written"), "{out}");
    ok(&env, &["sync"]);
    let out = run(&env, &["run", "--once"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(g.patches().len(), 1);
    assert_eq!(g.requests_to(Endpoint::EventsPatch).len(), 1);
    let plan = ok(&env, &["agenda", "--dry-run"]);
    assert!(plan.starts_with("nothing to do"), "{plan}");
}

#[test]
fn a_concurrent_edit_is_kept_and_the_link_added_after_a_reread() {
    let g = FakeGoogle::start();
    alice_series(&g);
    let env = env_for(&g);
    ok(&env, &["sync"]);
    // Alice's own note lands between cadenced's read and its write.
    let theirs = format!("{DESCRIPTION}Alice: can we talk about the conference?\n");
    g.edit_before_next_patch("primary", "aliceweekly", json!({"description": theirs}));

    ok(&env, &["agenda"]);
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
    let env = env_for(&g);
    ok(&env, &["sync"]);
    for i in 0..3 {
        g.edit_before_next_patch(
            "primary",
            "aliceweekly",
            json!({"description": format!("{DESCRIPTION}edit {i}\n")}),
        );
    }
    let out = run(&env, &["agenda"]);
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
    ok(&env, &["agenda"]);
    assert_eq!(
        event(&g, "aliceweekly")["description"].as_str().unwrap(),
        format!("{DESCRIPTION}edit 2\n\n\n{}", block(ALICE_URL))
    );
}

#[test]
fn unlink_restores_the_original_description_and_removes_the_mark() {
    let g = FakeGoogle::start();
    let original = alice_series(&g);
    let env = env_for(&g);
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    assert!(
        event(&g, "aliceweekly")["description"]
            .as_str()
            .unwrap()
            .contains("cadenced agenda")
    );

    let plan = ok(&env, &["agenda", "unlink", "--dry-run"]);
    assert!(
        plan.contains("would remove the agenda link from event aliceweekly"),
        "{plan}"
    );
    let out = ok(&env, &["agenda", "unlink"]);
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
    let out = ok(&env, &["agenda", "unlink"]);
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
    let env = env_for(&g);
    let out = env.run_with_stdin(&["auth", "work", "--refresh-token-stdin"], "1//read-only\n");
    assert!(out.status.success());
    ok(&env, &["sync"]);
    let out = run(&env, &["agenda"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("aliceweekly") && err.contains("403"), "{err}");
    assert_eq!(event(&g, "aliceweekly")["description"], DESCRIPTION);
}

// ------------------------------------------------------------------ google-drive store

const DRIVE: &str = "store = \"google-drive\"\n";
/// A week after [`NOW`]: before the session of 2026-11-30.
const NEXT_WEEK: &str = "2026-11-29T12:00:00-06:00";

fn alice_series_with_attachment(g: &FakeGoogle) -> Value {
    alice_series(g);
    g.update_event(
        "primary",
        "aliceweekly",
        json!({"attachments": [{"fileUrl": "https://docs.google.com/document/d/1existingSpec/edit", "fileId": "1existingSpec", "title": "Spec", "mimeType": "application/vnd.google-apps.document"}]}),
    )
}

#[test]
fn drive_store_creates_one_shared_doc_attaches_it_and_adds_sections_at_the_top() {
    let g = FakeGoogle::start();
    let original = alice_series_with_attachment(&g);
    bob_series(&g);
    let env = env_with_agenda(&g, DRIVE);
    ok(&env, &["sync"]);
    let plan = ok(&env, &["agenda", "--dry-run"]);
    assert!(
        plan.contains("would create document a new cloud document for alice@example.com"),
        "{plan}"
    );
    assert!(g.drive_files().is_empty());

    ok(&env, &["agenda"]);
    let files = g.drive_files();
    // One document per report (Bob's too: he organizes his 1on1, so it is only recorded there).
    assert_eq!(files.len(), 2, "{files:#?}");
    let (id, name, props, text) = files
        .iter()
        .find(|f| f.2["cadencedAgenda"] == "series:alice@example.com")
        .cloned()
        .unwrap();
    assert_eq!(name, "Alice ⇄ Mika — 1on1");
    assert!(props.contains_key("cadencedAgenda"));
    let text = common::untag_markers(&text);
    assert!(text.starts_with("# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section 2026-11-23T16:00:00Z -->\n## 2026-11-23 (Mon) 10:00–10:30 America/Chicago\n"), "{text}");
    // Shared with the report as writer, without a notification e-mail.
    let perms: Vec<_> = g
        .drive_permissions()
        .into_iter()
        .filter(|p| p.0 == id)
        .collect();
    assert_eq!(perms.len(), 1);
    assert_eq!(
        perms[0].1,
        json!({"type": "user", "role": "writer", "emailAddress": "alice@example.com"})
    );
    assert_eq!(perms[0].2.as_deref(), Some("false"));

    // The event: the existing attachment kept, the Doc attached, the block in the description.
    let link = format!("https://docs.google.com/document/d/{id}/edit?usp=drivesdk");
    let after = event(&g, "aliceweekly");
    let attachments = after["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 2);
    assert_eq!(attachments[0], original["attachments"][0]);
    assert_eq!(attachments[1]["fileUrl"], link.as_str());
    assert_eq!(attachments[1]["fileId"], id.as_str());
    assert_eq!(
        after["description"].as_str().unwrap(),
        format!("{DESCRIPTION}\n\n{}", block(&link))
    );
    let patch = g.patches().pop().unwrap();
    assert!(patch.supports_attachments);
    assert_eq!(patch.send_updates.as_deref(), Some("none"));
    assert_eq!(event(&g, "bobweekly")["attachments"], Value::Null);

    // Again: no new file, no section, no write.
    let (patches, batches) = (g.patches().len(), g.docs_batch_updates().len());
    ok(&env, &["agenda"]);
    assert_eq!(g.drive_files().len(), 2);
    assert_eq!(g.patches().len(), patches);
    assert_eq!(g.docs_batch_updates().len(), batches);

    // Alice and Mika write follow-ups; next week's section goes on top and carries the open one,
    // and a collaborator's edit that lands between read and write is kept.
    g.edit_doc(&id, |t| {
        t.replacen(
            "- [ ] \n",
            "- [ ] Draft the migration plan — Alice\n- [x] Book the offsite — Mika\n",
            1,
        )
    });
    g.edit_doc_before_next_batch_update(&id, |t| format!("{t}Alice: notes typed live.\n"));
    ok_at(&env, NEXT_WEEK, &["agenda"]);
    let batches = g.docs_batch_updates();
    let statuses: Vec<u16> = batches.iter().filter(|b| b.0 == id).map(|b| b.2).collect();
    assert_eq!(statuses, vec![200, 400, 200], "{batches:#?}");
    let last = &batches.last().unwrap().1;
    assert!(last["writeControl"]["requiredRevisionId"].is_string());
    let text = common::untag_markers(&g.doc_text(&id));
    let new = text
        .find("<!-- cadenced:section 2026-11-30T16:00:00Z -->")
        .unwrap();
    let old = text
        .find("<!-- cadenced:section 2026-11-23T16:00:00Z -->")
        .unwrap();
    assert!(
        text.starts_with("# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section 2026-11-30"),
        "{text}"
    );
    assert!(new < old);
    let s2 = &text[new..old];
    assert!(
        s2.contains("- [ ] Draft the migration plan — Alice (raised 2026-11-23)"),
        "{s2}"
    );
    assert!(!s2.contains("offsite"));
    assert!(text.ends_with("Alice: notes typed live.\n"));
    // Still linked once.
    assert_eq!(
        event(&g, "aliceweekly")["attachments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn drive_documents_are_found_again_by_their_app_property() {
    let g = FakeGoogle::start();
    alice_series(&g);
    let first = env_with_agenda(&g, DRIVE);
    ok(&first, &["sync"]);
    ok(&first, &["agenda"]);
    assert_eq!(g.drive_files().len(), 1);
    // A fresh state (bookkeeping lost): the document is found, not created again, and the
    // event, already linked, is not written again.
    let second = env_with_agenda(&g, DRIVE);
    ok(&second, &["sync"]);
    let patches = g.patches().len();
    ok(&second, &["agenda"]);
    assert_eq!(g.drive_files().len(), 1);
    assert_eq!(g.patches().len(), patches);
    let id = &g.drive_files()[0].0;
    assert_eq!(g.doc_text(id).matches("<!-- cadenced:section").count(), 1);
}

#[test]
fn unlink_removes_the_drive_attachment_and_keeps_the_others() {
    let g = FakeGoogle::start();
    let original = alice_series_with_attachment(&g);
    let env = env_with_agenda(&g, DRIVE);
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    ok(&env, &["agenda", "unlink"]);
    let after = event(&g, "aliceweekly");
    assert_eq!(after["attachments"], original["attachments"]);
    assert_eq!(after["description"].as_str().unwrap(), DESCRIPTION);
}

#[test]
fn a_marker_typed_into_the_shared_doc_does_not_suppress_next_weeks_section() {
    let g = FakeGoogle::start();
    alice_series(&g);
    let env = env_with_agenda(&g, DRIVE);
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    let id = g.drive_files()[0].0.clone();
    // Alice (a writer of the doc) types a marker for next week's session, bare and tagged.
    g.edit_doc(&id, |t| {
        format!(
            "{t}<!-- cadenced:section 2026-11-30T16:00:00Z -->\n<!-- cadenced:section 2026-11-30T16:00:00Z 00000000deadbeef -->\n"
        )
    });
    ok_at(&env, NEXT_WEEK, &["agenda"]);
    let text = g.doc_text(&id);
    let first = text
        .lines()
        .find(|l| l.starts_with("<!-- cadenced:section"))
        .unwrap();
    assert!(
        first.starts_with("<!-- cadenced:section 2026-11-30T16:00:00Z ")
            && !first.contains("deadbeef")
            && first.split_whitespace().count() == 5,
        "{text}"
    );
    // Written once: a second run adds nothing.
    let batches = g.docs_batch_updates().len();
    ok_at(&env, NEXT_WEEK, &["agenda"]);
    assert_eq!(g.docs_batch_updates().len(), batches);
}
