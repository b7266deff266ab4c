use super::*;
use crate::model::{Attendee, EventTime, Person as ModelPerson, Response};
use chrono::NaiveDate;

fn config() -> Config {
    crate::config::parse(
        r#"
[manager]
email = "Mika@Example.com"
[[reports]]
email = "alice@example.com"
[[reports]]
email = "bob@example.com"
aliases = ["robert@example.org"]
[detection]
title_patterns = ["catch-up"]
exclude_patterns = ["Calibration"]
"#,
        std::path::Path::new("/tmp/c.toml"),
    )
    .unwrap()
}

fn event(title: &str, organizer: &str, attendees: &[(&str, bool)]) -> Event {
    let local = NaiveDate::from_ymd_opt(2026, 11, 24)
        .unwrap()
        .and_hms_opt(10, 0, 0)
        .unwrap();
    Event {
        calendar: "c".into(),
        uid: "u".into(),
        event_id: "u".into(),
        series_id: None,
        recurrence: None,
        recurrence_id: None,
        this_and_future: false,
        start: EventTime::Floating { local },
        end: EventTime::Floating { local },
        status: Default::default(),
        summary: title.into(),
        description: None,
        location: None,
        organizer: Some(ModelPerson {
            email: organizer.into(),
            name: None,
        }),
        attendees: attendees
            .iter()
            .map(|(e, resource)| Attendee {
                email: (*e).into(),
                response: Response::Accepted,
                resource: *resource,
                ..Default::default()
            })
            .collect(),
        self_response: None,
        out_of_office: false,
        sequence: 0,
        updated: None,
        etag: None,
    }
}

#[test]
fn two_person_rule_ignores_rooms_and_case() {
    let d = Detector::new(&config());
    let e = event(
        "Weekly sync",
        "mika@example.com",
        &[
            ("MIKA@example.com", false),
            ("Alice@Example.COM", false),
            ("room-1@resource.example.com", true),
        ],
    );
    assert_eq!(d.classify_event(&e, true), Match::Report(0));
    let three = event(
        "Weekly sync",
        "mika@example.com",
        &[("alice@example.com", false), ("bob@example.com", false)],
    );
    assert_eq!(d.classify_event(&three, true), Match::None);
    // Without the manager it is not the manager's 1on1.
    let without = event("1on1", "alice@example.com", &[("bob@example.com", false)]);
    assert_eq!(d.classify_event(&without, true), Match::None);
}

#[test]
fn aliases_count_as_the_report() {
    let d = Detector::new(&config());
    let e = event("1:1", "robert@example.org", &[("mika@example.com", false)]);
    assert_eq!(d.classify_event(&e, false), Match::Report(1));
    // Both addresses of Bob are still one person.
    let both = event(
        "1:1",
        "bob@example.com",
        &[("robert@example.org", false), ("mika@example.com", false)],
    );
    assert_eq!(d.classify_event(&both, false), Match::Report(1));
}

#[test]
fn titles_in_english_and_japanese_with_full_width_forms() {
    let d = Detector::new(&config());
    for title in [
        "Alice / Mika 1on1",
        "ＡＬＩＣＥ　１ｏｎ１",
        "1：1 with Alice",
        "１－１",
        "One-on-One: Alice",
        "one on one",
        "佐藤さんとの1対1",
        "ワンオンワン",
        "キャリア面談",
        "monthly catch-up",
        "1on1s",
    ] {
        let e = event(title, "mika@example.com", &[("alice@example.com", false)]);
        assert_eq!(d.classify_event(&e, false), Match::Report(0), "{title}");
    }
    for title in ["Sprint 11-12 planning", "Room 11:15", "Lunch", "21on1x"] {
        let e = event(title, "mika@example.com", &[("alice@example.com", false)]);
        assert_eq!(d.classify_event(&e, false), Match::None, "{title}");
    }
}

#[test]
fn exclusions_win_over_patterns_and_recurrence() {
    let d = Detector::new(&config());
    for title in [
        "1on1 / performance review",
        "上期評価面談",
        "Interview debrief 1:1",
        "面接",
        "Calibration 1on1",
        "ＲＥＶＩＥＷ",
    ] {
        let e = event(title, "mika@example.com", &[("alice@example.com", false)]);
        assert_eq!(d.classify_event(&e, true), Match::None, "{title}");
    }
}

#[test]
fn an_untitled_single_meeting_does_not_count_but_a_series_does() {
    let d = Detector::new(&config());
    let e = event(
        "Coffee",
        "mika@example.com",
        &[("alice@example.com", false)],
    );
    assert_eq!(d.classify_event(&e, false), Match::None);
    assert_eq!(d.classify_event(&e, true), Match::Report(0));
}

#[test]
fn people_outside_the_roster_are_candidates() {
    let d = Detector::new(&config());
    let e = event(
        "Mika / Kenji",
        "Kenji@example.com",
        &[("mika@example.com", false)],
    );
    assert_eq!(
        d.classify_event(&e, true),
        Match::Candidate("kenji@example.com".into())
    );
}

#[test]
fn normalization_maps_full_width_forms() {
    assert_eq!(normalize_title("ＡＢＣ１：１　ｘ"), "abc1:1 x");
}

#[test]
fn names_only_titles_are_1on1_titled() {
    let c = crate::config::parse(
        r#"
[manager]
email = "mika.tanaka@example.com"
name = "田中 美香"
[[reports]]
email = "priya@example.com"
name = "Priya Raman"
[[reports]]
email = "ken.sato@example.com"
name = "佐藤健"
"#,
        std::path::Path::new("/tmp/c.toml"),
    )
    .unwrap();
    let d = Detector::new(&c);
    let priya = Match::Report(0);
    let ken = Match::Report(1);
    for title in [
        "Priya / Mika",
        "priya <> mika weekly",
        "Mika & Priya Raman: sync",
        "Priya x Tanaka",
        "Priya and Mika - check-in",
        "PRIYA : MIKA catch-up",
    ] {
        assert!(d.is_titled(title, &priya), "{title}");
    }
    for title in [
        "田中 / 佐藤",
        "佐藤と田中",
        "田中・佐藤健",
        "佐藤さん / 田中さん",
        "ken x mika",
    ] {
        assert!(d.is_titled(title, &ken), "{title}");
    }
    for title in [
        "Priya",
        "Priya / Mika / Ken",
        "Atlas migration working session",
        "Priyaxmika",
        "Priya lunch with Mika",
        "佐藤 / 鈴木",
    ] {
        assert!(
            !d.is_titled(title, &priya) && !d.is_titled(title, &ken),
            "{title}"
        );
    }
}

#[test]
fn absences_are_flagged_or_titled_and_the_managers_own() {
    let d = Detector::new(&config());
    let mut ooo = event("Away", "mika@example.com", &[]);
    assert!(!d.is_absence(&ooo));
    ooo.out_of_office = true;
    assert!(d.is_absence(&ooo));
    for title in [
        "Vacation",
        "PTO (Kyoto)",
        "OOO",
        "夏季休暇",
        "Out of office",
    ] {
        assert!(
            d.is_absence(&event(title, "mika@example.com", &[])),
            "{title}"
        );
        // Someone else's vacation with the manager invited is not the manager's absence.
        assert!(
            !d.is_absence(&event(
                title,
                "alice@example.com",
                &[("mika@example.com", false)]
            )),
            "{title}"
        );
    }
    // A 1on1 moved because of a holiday is still a 1on1.
    let moved = event(
        "Alice / Mika 1on1 (moved: Tuesday is a holiday)",
        "mika@example.com",
        &[("alice@example.com", false)],
    );
    assert!(!d.is_absence(&moved));
    assert!(!d.is_absence(&event("Laptop setup", "mika@example.com", &[])));
}
