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
