//! Agenda documents end to end (issue 8), driving the real binary: the local store (golden
//! English and Japanese sections, idempotence, carry-over across three sessions, session mode, a
//! user template), and the write-back into Google events against the Google fake (`agenda_google`
//! below).

use crate::common;

use std::path::{Path, PathBuf};

use common::{Env, stderr, stdout};

/// A weekly 1on1 of Mika (organizer) and Alice, Tuesdays 10:00 Tokyo, from 2026-11-03.
const ICS: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//cadenced tests//EN\r
BEGIN:VEVENT\r
UID:alice-1on1@example.com\r
DTSTAMP:20261001T000000Z\r
DTSTART;TZID=Asia/Tokyo:20261103T100000\r
DTEND;TZID=Asia/Tokyo:20261103T103000\r
RRULE:FREQ=WEEKLY\r
SUMMARY:Alice / Mika 1on1\r
ORGANIZER;CN=Mika:mailto:mika@example.com\r
ATTENDEE;CN=Mika;PARTSTAT=ACCEPTED:mailto:mika@example.com\r
ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.com\r
END:VEVENT\r
END:VCALENDAR\r
";

fn local_env(locale: &str, extra_agenda: &str) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("team.ics");
    std::fs::write(&feed, ICS).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = \"mika@example.com\"\nname = \"Mika\"\ntimezone = \"Asia/Tokyo\"\nlocale = \"{locale}\"\n\n\
             [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\ncadence = \"weekly\"\n\n\
             [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n\n\
             [agenda]\nlead_time = \"2d\"\n{extra_agenda}",
            feed.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let env = Env { dir, config, state };
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    env
}

fn agenda(env: &Env, now: &str, args: &[&str]) -> String {
    let mut all = vec!["--now", now, "agenda"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(out.status.success(), "agenda failed: {}", stderr(&out));
    stdout(&out)
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compare with the golden file; `UPDATE_GOLDEN=1` rewrites it (review the diff before commit).
/// The markers' tags depend on the state directory's random key: compared without them (each
/// marker must carry one).
fn assert_golden(name: &str, actual: &str) {
    let actual = common::untag_markers(actual);
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    assert_eq!(actual, expected, "differs from {}", path.display());
}

const BEFORE_S1: &str = "2026-11-23T09:00:00+09:00"; // session 1: 2026-11-24 10:00
const BEFORE_S2: &str = "2026-11-30T09:00:00+09:00"; // session 2: 2026-12-01 10:00
const BEFORE_S3: &str = "2026-12-07T09:00:00+09:00"; // session 3: 2026-12-08 10:00

#[test]
fn english_section_matches_the_golden_file_and_a_second_run_changes_nothing() {
    let env = local_env("en", "");
    let plan = agenda(&env, BEFORE_S1, &["--dry-run"]);
    assert!(
        plan.contains("would create document alice@example.com.md"),
        "{plan}"
    );
    let doc = env.state.join("agendas/alice@example.com.md");
    assert!(!doc.exists(), "--dry-run wrote the document");
    let out = agenda(&env, BEFORE_S1, &[]);
    assert!(out.contains("1 document created, 1 section added"), "{out}");
    let text = std::fs::read_to_string(&doc).unwrap();
    assert_golden("agenda-en.md", &text);
    let modified = std::fs::metadata(&doc).unwrap().modified().unwrap();

    // Twice: nothing planned, nothing written.
    let plan = agenda(&env, BEFORE_S1, &["--dry-run"]);
    assert!(plan.starts_with("nothing to do"), "{plan}");
    let out = agenda(&env, BEFORE_S1, &[]);
    assert!(
        out.contains("0 documents created, 0 sections added"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(&doc).unwrap(), text);
    assert_eq!(
        std::fs::metadata(&doc).unwrap().modified().unwrap(),
        modified
    );
}

#[test]
fn japanese_section_matches_the_golden_file() {
    let env = local_env("ja", "");
    let doc = env.state.join("agendas/alice@example.com.md");
    agenda(&env, BEFORE_S1, &[]);
    add_actions(
        &doc,
        "- [ ] 移行計画の草案 — Alice\n- [x] 合宿の予約 — Mika\n",
    );
    agenda(&env, BEFORE_S2, &[]);
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(text.contains("- [ ] 移行計画の草案 — Alice（2026-11-24 提起）"));
    assert_golden("agenda-ja.md", &text);
}

/// Replace the empty next-action line of the newest section (the first one in the file).
fn add_actions(doc: &Path, actions: &str) {
    let text = std::fs::read_to_string(doc).unwrap();
    let at = text.find("- [ ] \n").expect("an empty next-action line");
    let text = format!("{}{actions}{}", &text[..at], &text[at + "- [ ] \n".len()..]);
    std::fs::write(doc, text).unwrap();
}

fn section_of(text: &str, marker_start: &str) -> String {
    let text = common::untag_markers(text);
    let marker = format!("<!-- cadenced:section {marker_start} -->");
    let from = text.find(&marker).unwrap();
    let rest = &text[from + marker.len()..];
    let end = rest.find("<!-- cadenced:section").unwrap_or(rest.len());
    rest[..end].to_string()
}

#[test]
fn open_follow_ups_carry_over_across_three_sessions_and_checked_ones_do_not() {
    let env = local_env("en", "");
    let doc = env.state.join("agendas/alice@example.com.md");
    agenda(&env, BEFORE_S1, &[]);
    add_actions(
        &doc,
        "- [ ] Draft the migration plan — Alice\n- [x] Book the team offsite — Mika\n- [ ] Ask finance about the budget — Mika\n",
    );

    agenda(&env, BEFORE_S2, &[]);
    let text = std::fs::read_to_string(&doc).unwrap();
    // The new section is on top, the first one below it, unchanged.
    assert!(
        text.find("2026-12-01T01:00:00Z").unwrap() < text.find("2026-11-24T01:00:00Z").unwrap()
    );
    let s2 = section_of(&text, "2026-12-01T01:00:00Z");
    assert!(s2.contains("- [ ] Draft the migration plan — Alice (raised 2026-11-24)"));
    assert!(s2.contains("- [ ] Ask finance about the budget — Mika (raised 2026-11-24)"));
    assert!(!s2.contains("offsite"), "a checked item was carried:\n{s2}");
    assert!(s2.contains("Previous session: 2026-11-24 (below)"));
    // In session 2: the draft is done (checked on the carried copy), a new action comes up.
    let text = text.replace(
        "- [ ] Draft the migration plan — Alice (raised 2026-11-24)",
        "- [x] Draft the migration plan — Alice (raised 2026-11-24)",
    );
    std::fs::write(&doc, text).unwrap();
    add_actions(&doc, "- [ ] Pair with Bob on the on-call runbook — Alice\n");

    agenda(&env, BEFORE_S3, &[]);
    let text = std::fs::read_to_string(&doc).unwrap();
    let s3 = section_of(&text, "2026-12-08T01:00:00Z");
    let carried: Vec<&str> = s3
        .lines()
        .filter(|l| l.starts_with("- [ ] ") && l.len() > 6)
        .collect();
    assert_eq!(
        carried,
        vec![
            "- [ ] Ask finance about the budget — Mika (raised 2026-11-24)",
            "- [ ] Pair with Bob on the on-call runbook — Alice (raised 2026-12-01)",
        ],
        "{s3}"
    );
    assert_eq!(text.matches("<!-- cadenced:section").count(), 3);
}

#[test]
fn session_mode_writes_one_document_per_session_linking_the_previous_one() {
    let env = local_env("en", "mode = \"session\"\n");
    agenda(&env, BEFORE_S1, &[]);
    let first = env.state.join("agendas/alice@example.com/2026-11-24.md");
    add_actions(&first, "- [ ] Write the RFC — Alice\n");
    agenda(&env, BEFORE_S2, &[]);
    let second =
        std::fs::read_to_string(env.state.join("agendas/alice@example.com/2026-12-01.md")).unwrap();
    assert!(
        second.contains("Previous session: [2026-11-24](2026-11-24.md)"),
        "{second}"
    );
    assert!(second.contains("- [ ] Write the RFC — Alice (raised 2026-11-24)"));
    let plan = agenda(&env, BEFORE_S2, &["--dry-run"]);
    assert!(plan.starts_with("nothing to do"), "{plan}");
}

#[test]
fn a_user_template_replaces_the_builtin_one() {
    let dir = tempfile::tempdir().unwrap();
    let tpl = dir.path().join("mine.md.j2");
    std::fs::write(
        &tpl,
        "## {{ session.date }} with {{ report.name }}\n{% for i in carried %}- [ ] {{ i.text }} (raised {{ i.raised }})\n{% endfor %}- [ ] \n",
    )
    .unwrap();
    let env = local_env("en", &format!("template = \"{}\"\n", tpl.display()));
    agenda(&env, BEFORE_S1, &[]);
    let text = std::fs::read_to_string(env.state.join("agendas/alice@example.com.md")).unwrap();
    assert_eq!(
        common::untag_markers(&text),
        "# Alice ⇄ Mika — 1on1\n\n<!-- cadenced:section 2026-11-24T01:00:00Z -->\n## 2026-11-24 with Alice\n- [ ] \n\n"
    );
    // A template that does not render is one clear error naming the file.
    std::fs::write(&tpl, "{{ nosuchvariable.field }}").unwrap();
    let out = env.run(&["--now", BEFORE_S2, "agenda"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("mine.md.j2"), "{err}");
}

#[test]
fn without_link_base_the_path_is_recorded_and_nothing_is_linked() {
    let env = local_env("en", "");
    let plan = agenda(&env, BEFORE_S1, &["--dry-run"]);
    assert!(plan.contains("the document has no URL"), "{plan}");
    let out = agenda(&env, BEFORE_S1, &[]);
    assert!(
        out.contains("0 links written, 1 recorded without writing"),
        "{out}"
    );
}

#[test]
fn a_forged_section_marker_in_the_shared_document_does_not_suppress_the_section() {
    let env = local_env("en", "");
    agenda(&env, BEFORE_S1, &[]);
    let doc = env.state.join("agendas/alice@example.com.md");
    // The report, who may edit the document, types markers for the next session: one bare,
    // one with a made-up tag.
    let text = std::fs::read_to_string(&doc).unwrap();
    let forged = "<!-- cadenced:section 2026-12-01T01:00:00Z -->\n<!-- cadenced:section 2026-12-01T01:00:00Z 0123456789abcdef -->\n";
    std::fs::write(&doc, format!("{text}{forged}")).unwrap();
    agenda(&env, BEFORE_S2, &[]);
    let text = std::fs::read_to_string(&doc).unwrap();
    // The session's section was written anyway, above the others, with a tag of ours.
    let first = text
        .lines()
        .find(|l| l.starts_with("<!-- cadenced:section"))
        .unwrap();
    assert!(
        first.starts_with("<!-- cadenced:section 2026-12-01T01:00:00Z ") && !forged.contains(first),
        "{text}"
    );
    assert!(
        text.contains("## 2026-12-01 (Tue) 10:00–10:30 Asia/Tokyo"),
        "{text}"
    );
    // And it counts as written: a second run adds nothing.
    let plan = agenda(&env, BEFORE_S2, &["--dry-run"]);
    assert!(plan.starts_with("nothing to do"), "{plan}");
}

#[test]
fn reports_whose_addresses_once_mapped_to_one_file_name_get_distinct_files() {
    // `.alice@example.com` and `alice@example.com` were one file (`alice@example.com.md`) when
    // leading dots were dropped; `a/b@…` and `a_b@…` were one when `/` became `_`.
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("team.ics");
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n");
    for (i, who) in [
        "alice@example.com",
        ".alice@example.com",
        "a/b@example.com",
        "a_b@example.com",
    ]
    .iter()
    .enumerate()
    {
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:s{i}@example.com\r\nDTSTAMP:20261001T000000Z\r\n\
             DTSTART;TZID=Asia/Tokyo:20261103T1{i}0000\r\nDTEND;TZID=Asia/Tokyo:20261103T1{i}3000\r\n\
             RRULE:FREQ=WEEKLY\r\nSUMMARY:1on1\r\nORGANIZER:mailto:mika@example.com\r\n\
             ATTENDEE;PARTSTAT=ACCEPTED:mailto:mika@example.com\r\n\
             ATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}\r\nEND:VEVENT\r\n"
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    std::fs::write(&feed, ics).unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = \"mika@example.com\"\nname = \"Mika\"\ntimezone = \"Asia/Tokyo\"\n\n\
             [[reports]]\nemail = \"alice@example.com\"\nname = \"Alice\"\n\n\
             [[reports]]\nemail = \".alice@example.com\"\nname = \"Dot\"\n\n\
             [[reports]]\nemail = \"a/b@example.com\"\nname = \"Slash\"\n\n\
             [[reports]]\nemail = \"a_b@example.com\"\nname = \"Under\"\n\n\
             [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n\n\
             [agenda]\nlead_time = \"2d\"\n",
            feed.display()
        ),
    )
    .unwrap();
    let state = dir.path().join("state");
    let env = Env { dir, config, state };
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    agenda(&env, BEFORE_S1, &[]);
    let mut names: Vec<String> = std::fs::read_dir(env.state.join("agendas"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "%2Ealice@example.com.md",
            "a%2Fb@example.com.md",
            "a_b@example.com.md",
            "alice@example.com.md"
        ]
    );
    for (name, who) in [
        ("%2Ealice@example.com.md", "Dot"),
        ("a%2Fb@example.com.md", "Slash"),
        ("a_b@example.com.md", "Under"),
        ("alice@example.com.md", "Alice"),
    ] {
        let text = std::fs::read_to_string(env.state.join("agendas").join(name)).unwrap();
        assert!(
            text.starts_with(&format!("# {who} ⇄ Mika")),
            "{name}: {text}"
        );
    }
}

#[test]
fn agenda_files_are_private_and_a_planted_link_is_refused_with_its_target_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let env = local_env("en", "");
    agenda(&env, BEFORE_S1, &[]);
    let dir = env.state.join("agendas");
    let doc = dir.join("alice@example.com.md");
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&doc), 0o600);
    // A link in place of the document: refused, its target neither read into the agenda nor
    // written nor chmod'ed.
    let target = env.dir.path().join("precious.txt");
    std::fs::write(&target, "do not touch\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::remove_file(&doc).unwrap();
    std::os::unix::fs::symlink(&target, &doc).unwrap();
    let out = env.run(&["--now", BEFORE_S2, "agenda"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "do not touch\n");
    assert_eq!(mode(&target), 0o644);
    assert!(
        std::fs::symlink_metadata(&doc)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}
