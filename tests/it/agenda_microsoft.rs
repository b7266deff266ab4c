//! Agenda links written into Microsoft 365 events (issue 8, docs/design.md, Writing to calendars), by the real binary against
//! the Graph fake (`tests/fake_graph`): once per series, `If-Match` on every write, the HTML body
//! (user text and a Teams join block) preserved, a 412 resolved without losing the other edit,
//! events organized by the report untouched, and `agenda unlink` restoring the body.

use crate::common;
use testkit::fake_graph;

use common::{Env, stderr, stdout};
use fake_graph::{DEFAULT_USER, FakeGraph, NewEvent, PUBLIC_CLIENT_ID, REFRESH_TOKEN, TENANT_ID};
use serde_json::json;

const ACCOUNT: &str = "m365";
const ZONE: &str = "W. Europe Standard Time";
/// Sunday before the Monday 10:00 sessions.
const NOW: &str = "2026-11-22T12:00:00+01:00";
const ALICE_URL: &str = "https://intranet.example.com/agendas/alice@contoso.com.md";
const PROPERTY: &str = "String {5b1c3e7a-2f4d-4b8e-9c61-0d7a3f2e8b14} Name cadencedAgenda";

const BODY: &str = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head><body><div>Alice's topics first &amp; then mine.</div><div><b>Bring</b> the OKR doc.</div><div style=\"width:100%\"><span>________________________________________________________________________________</span></div><div><div style=\"margin-bottom:24px\"><span style=\"font-size:24px\">Microsoft Teams</span> <a href=\"https://aka.ms/JoinTeamsMeeting\">Need help?</a></div><div><a href=\"https://teams.microsoft.com/l/meetup-join/19%3ameeting_abc%40thread.v2/0?context=%7b%7d\">Join the meeting now</a></div><div>Meeting ID: 123 456 789 012</div><div>Passcode: aB3cD4</div></div><div><span>________________________________________________________________________________</span></div></body></html>";

/// The default: the link goes into the series' body (once per series).
fn env_for(g: &FakeGraph) -> Env {
    env_with(g, "link_base = \"https://intranet.example.com/agendas/\"\n")
}

fn env_with(g: &FakeGraph, agenda: &str) -> Env {
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"{DEFAULT_USER}\"\nname = \"Adele\"\ntimezone = \"Europe/Berlin\"\n\n\
         [[reports]]\nemail = \"alice@contoso.com\"\nname = \"Alice\"\ncadence = \"weekly\"\n\n\
         [[reports]]\nemail = \"bob@contoso.com\"\nname = \"Bob\"\ncadence = \"weekly\"\n\n\
         [[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\n\
         tenant = \"{TENANT_ID}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\ngraph_base = \"{}\"\n\n\
         [agenda]\n{agenda}",
        g.url(),
        g.graph_base()
    ));
    env.import_refresh_token(ACCOUNT, REFRESH_TOKEN);
    env
}

fn ok(env: &Env, args: &[&str]) -> String {
    ok_at(env, NOW, args)
}

fn ok_at(env: &Env, now: &str, args: &[&str]) -> String {
    let mut all = vec!["--now", now];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn weekly(g: &FakeGraph, ev: NewEvent, start_date: &str) -> String {
    g.add_series(
        &ev,
        json!({
            "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"], "firstDayOfWeek": "sunday"},
            "range": {"type": "noEnd", "startDate": start_date, "recurrenceTimeZone": ZONE}
        }),
    )
}

/// Alice's weekly 1on1 (Mondays 10:00), organized by the manager, with [`BODY`].
fn alice(g: &FakeGraph) -> String {
    weekly(
        g,
        NewEvent::new(
            "Alice / Adele 1on1",
            "2026-11-02T10:00",
            "2026-11-02T10:30",
            ZONE,
        )
        .attendee("alice@contoso.com", "required", "accepted")
        .with("body", json!({"contentType": "html", "content": BODY}))
        .with("isOnlineMeeting", json!(true))
        .with("onlineMeetingProvider", json!("teamsForBusiness")),
        "2026-11-02",
    )
}

/// Bob's weekly 1on1, organized by Bob.
fn bob(g: &FakeGraph) -> String {
    weekly(
        g,
        NewEvent::new("Bob 1:1", "2026-11-02T15:00", "2026-11-02T15:30", ZONE)
            .organized_by("Bob", "bob@contoso.com")
            .attendee(DEFAULT_USER, "required", "accepted")
            .attendee("bob@contoso.com", "required", "accepted"),
        "2026-11-02",
    )
}

fn body_of(g: &FakeGraph, id: &str) -> String {
    g.event_json(id).unwrap()["body"]["content"]
        .as_str()
        .unwrap()
        .to_string()
}

fn block() -> String {
    format!(
        "<!-- cadenced agenda --><div data-cadenced=\"agenda\"><p>Agenda: <a href=\"{ALICE_URL}\">Alice ⇄ Adele — 1on1</a></p></div><!-- end of cadenced agenda -->"
    )
}

#[test]
fn the_series_is_linked_once_with_if_match_preserving_the_body_and_join_block() {
    let g = FakeGraph::start();
    let a = alice(&g);
    let b = bob(&g);
    let env = env_for(&g);
    ok(&env, &["sync"]);
    let plan = ok(&env, &["agenda", "--dry-run"]);
    assert!(
        plan.contains(&format!("would link {ALICE_URL} into event {a}")),
        "{plan}"
    );
    assert!(plan.contains("the manager does not organize it"), "{plan}");
    let before = g.event_json(&a).unwrap();

    ok(&env, &["agenda"]);
    let patches = g.patches();
    assert_eq!(patches.len(), 1, "{patches:#?}");
    assert_eq!(patches[0].event_id, a);
    assert_eq!(patches[0].status, 200);
    assert_eq!(
        patches[0].if_match.as_deref(),
        before["@odata.etag"].as_str()
    );
    // Everything that was there stays, byte for byte; the block goes just before </body>.
    let expected = BODY.replace("</body>", &format!("{}</body>", block()));
    assert_eq!(body_of(&g, &a), expected);
    assert_eq!(
        g.extended_property(&a, PROPERTY).as_deref(),
        Some(ALICE_URL)
    );
    // Bob organizes his series: not written.
    assert!(patches.iter().all(|p| p.event_id != b));

    // Twice, after a re-sync, and for the next week's session: no more writes (the attendees
    // got one update for the series, once).
    ok(&env, &["agenda"]);
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    ok_at(&env, "2026-11-29T12:00:00+01:00", &["agenda"]);
    assert_eq!(g.patches().len(), 1);

    // Unlink: the body is the original again, the mark emptied.
    let out = ok(&env, &["agenda", "unlink"]);
    assert!(out.contains("1 agenda link removed"), "{out}");
    assert_eq!(body_of(&g, &a), BODY);
    assert_eq!(g.extended_property(&a, PROPERTY).as_deref(), Some(""));
    assert!(g.patches().iter().all(|p| p.if_match.is_some()));
}

#[test]
fn a_concurrent_edit_is_kept_after_a_412() {
    let g = FakeGraph::start();
    let a = alice(&g);
    let env = env_for(&g);
    ok(&env, &["sync"]);
    let theirs = BODY.replace(
        "<div><b>Bring</b>",
        "<div>Alice: can we talk about the conference?</div><div><b>Bring</b>",
    );
    g.edit_before_next_patch(
        &a,
        json!({"body": {"contentType": "html", "content": theirs}}),
    );
    ok(&env, &["agenda"]);
    let statuses: Vec<u16> = g.patches().iter().map(|p| p.status).collect();
    assert_eq!(statuses, vec![412, 200]);
    assert_eq!(
        body_of(&g, &a),
        theirs.replace("</body>", &format!("{}</body>", block()))
    );
}

// ------------------------------------------------------------------ onedrive store

use cadenced::providers::microsoft::docx;

#[test]
fn onedrive_store_writes_a_shared_docx_and_adds_sections_only_on_the_etag_read() {
    let g = FakeGraph::start();
    let a = alice(&g);
    let env = env_with(&g, "store = \"onedrive\"\n");
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    let items = g.drive_items();
    assert_eq!(
        items.len(),
        1,
        "{:?}",
        items.iter().map(|i| &i.1).collect::<Vec<_>>()
    );
    let (id, path, bytes) = items[0].clone();
    assert_eq!(path, "Agendas/alice@contoso.com.docx");
    let text = common::untag_markers(&docx::text(&bytes).unwrap());
    assert!(
        text.starts_with("# Alice ⇄ Adele — 1on1\n\n<!-- cadenced:section 2026-11-23T09:00:00Z -->\n## 2026-11-23 (Mon) 10:00–10:30 Europe/Berlin\n"),
        "{text}"
    );
    // Shared with Alice, without an e-mail; the "specific people" edit link goes into the event.
    let invites = g.drive_invites();
    assert_eq!(invites.len(), 1);
    assert_eq!(invites[0].1["recipients"][0]["email"], "alice@contoso.com");
    assert_eq!(invites[0].1["sendInvitation"], false);
    assert_eq!(invites[0].1["roles"], json!(["write"]));
    let body = body_of(&g, &a);
    assert!(
        body.contains(&format!(
            "https://contoso-my.sharepoint.com/:w:/g/personal/adele/{id}?e=share0"
        )),
        "{body}"
    );
    assert!(body.starts_with(BODY.trim_end_matches("</body></html>")));

    // Again: nothing uploaded, nothing patched.
    let (uploads, patches) = (g.drive_uploads().len(), g.patches().len());
    ok(&env, &["agenda"]);
    assert_eq!(g.drive_uploads().len(), uploads);
    assert_eq!(g.patches().len(), patches);

    // Follow-ups written in Word; next week a colleague saves between cadenced's read and write.
    let edited = docx::insert_before(
        &bytes,
        "- [ ]",
        "- [ ] Draft the migration plan — Alice\n- [x] Book the offsite — Adele\n",
    )
    .unwrap();
    g.drive_put(&id, edited.clone());
    let theirs =
        docx::insert_before(&edited, "no such paragraph", "Alice: notes typed live.\n").unwrap();
    g.drive_put_before_next_upload(&id, theirs);
    ok_at(&env, "2026-11-29T12:00:00+01:00", &["agenda"]);
    let ups: Vec<_> = g
        .drive_uploads()
        .into_iter()
        .filter(|u| u.0 == id)
        .collect();
    // The first section (last week), then a conflict and its retry.
    assert_eq!(
        ups.iter().map(|u| u.2).collect::<Vec<_>>(),
        vec![201, 412, 201]
    );
    assert!(
        ups.iter().all(|u| u.1.is_some()),
        "every replace is conditional"
    );
    let text = common::untag_markers(&docx::text(&g.drive_items()[0].2).unwrap());
    let new = text
        .find("<!-- cadenced:section 2026-11-30T09:00:00Z -->")
        .unwrap();
    let old = text
        .find("<!-- cadenced:section 2026-11-23T09:00:00Z -->")
        .unwrap();
    assert!(new < old);
    assert!(
        text[new..old].contains("- [ ] Draft the migration plan — Alice (raised 2026-11-23)"),
        "{text}"
    );
    assert!(!text[new..old].contains("offsite"));
    assert!(text.ends_with("Alice: notes typed live.\n"), "{text}");
    // The series was linked once.
    assert_eq!(g.patches().len(), patches);
}

#[test]
fn with_notify_attendees_false_only_the_private_mark_is_written_and_the_body_stays() {
    let g = FakeGraph::start();
    let a = alice(&g);
    let env = env_with(
        &g,
        "link_base = \"https://intranet.example.com/agendas/\"\nnotify_attendees = false\n",
    );
    ok(&env, &["sync"]);
    ok(&env, &["agenda"]);
    let patches = g.patches();
    assert_eq!(patches.len(), 1);
    assert!(
        patches[0].body.get("body").is_none(),
        "{:?}",
        patches[0].body
    );
    assert!(patches[0].if_match.is_some());
    assert_eq!(body_of(&g, &a), BODY);
    assert_eq!(
        g.extended_property(&a, PROPERTY).as_deref(),
        Some(ALICE_URL)
    );
    ok(&env, &["agenda"]);
    assert_eq!(g.patches().len(), 1);
    ok(&env, &["agenda", "unlink"]);
    assert_eq!(g.extended_property(&a, PROPERTY).as_deref(), Some(""));
    assert_eq!(body_of(&g, &a), BODY);
}
