use super::*;
use crate::providers::ics::parse_feed;
use chrono::TimeZone;
use proptest::prelude::*;

const CONFIG: &str = r#"
[manager]
email = "mika@example.com"
timezone = "UTC"
[[reports]]
email = "alice@example.com"
name = "Alice"
cadence = "weekly"
[[reports]]
email = "bob@example.com"
name = "Bob"
[[reports]]
email = "carol@example.com"
name = "Carol"
[cadence]
lookback = "90d"
grace = 0.5
uneven_ratio = 0.5
"#;

fn config() -> Config {
    crate::config::parse(CONFIG, std::path::Path::new("/tmp/c.toml")).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap()
}

fn at_days(d: f64) -> DateTime<Utc> {
    now() + Duration::seconds((d * DAY_SECS) as i64)
}

fn compact(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A VEVENT between the manager and `who` at `start` (30 minutes).
fn vevent(uid: &str, who: &str, start: DateTime<Utc>, title: &str, extra: &str) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:{title}\r\nORGANIZER:mailto:mika@example.com\r\n\
         ATTENDEE;PARTSTAT=ACCEPTED:mailto:mika@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:{who}\r\n{extra}END:VEVENT\r\n",
        compact(start),
        compact(start + Duration::minutes(30))
    )
}

fn calendar(vevents: &[String]) -> Vec<StoredCalendar> {
    let text = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n{}END:VCALENDAR\r\n",
        vevents.concat()
    );
    let feed = parse_feed(text.as_bytes(), "test.ics", "test.ics").unwrap();
    assert!(feed.skipped.is_empty());
    vec![StoredCalendar {
        account: "t".into(),
        calendar: "test.ics".into(),
        events: feed.events,
    }]
}

fn kinds(a: &Analysis, report: usize) -> Vec<&'static str> {
    a.findings
        .iter()
        .filter(|f| f.report == report)
        .map(|f| f.kind.as_str())
        .collect()
}

/// Held 1on1s with `who` at the given day offsets (negative: past).
fn titled(who: &str, days: &[f64]) -> Vec<String> {
    days.iter()
        .enumerate()
        .map(|(i, d)| vevent(&format!("{who}-{i}"), who, at_days(*d), "1on1", ""))
        .collect()
}

#[test]
fn figures_windows_and_outcomes() {
    // Weekly Alice series from 200 days ago, open-ended, one instance removed by EXDATE.
    let extra = format!(
        "RRULE:FREQ=WEEKLY\r\nEXDATE:{}\r\n",
        compact(at_days(-200.0 + 7.0 * 20.0))
    );
    let cal = calendar(&[vevent(
        "a",
        "alice@example.com",
        at_days(-200.0),
        "Alice / Mika",
        &extra,
    )]);
    let a = analyse(&config(), &cal, now());
    let r = &a.reports[0];
    // Instances every 7 days from day −200: those in [−90, 0) start at −88, −81, …, −4 (13), one
    // of them (−60) is removed by EXDATE and counts as cancelled.
    assert_eq!(r.held, 12);
    assert_eq!(r.cancelled, 1);
    assert_eq!(r.declined, 0);
    // Upcoming in [0, 90): +3, +10, …, +87 → 13.
    assert_eq!(r.upcoming, 13);
    assert_eq!(r.last_held, Some(at_days(-4.0)));
    assert_eq!(r.next_scheduled, Some(at_days(3.0)));
    assert_eq!(r.cadence_source, CadenceSource::Config);
    assert_eq!(r.expected_interval_days, 7.0);
    assert!((r.sessions_per_30d - 12.0 * 30.0 / 90.0).abs() < 1e-9);
    assert_eq!(r.series.len(), 1);
    assert!(r.series[0].active);
    assert_eq!(r.series[0].recurrence, "RRULE:FREQ=WEEKLY");
}

#[test]
fn declined_by_either_side_and_cancelled_instances() {
    let mut events = titled("bob@example.com", &[-30.0, -20.0, -10.0]);
    events.push(
        vevent("bob-declined", "bob@example.com", at_days(-5.0), "1on1", "").replace(
            "PARTSTAT=ACCEPTED:mailto:bob",
            "PARTSTAT=DECLINED:mailto:bob",
        ),
    );
    events.push(
        vevent(
            "mika-declined",
            "bob@example.com",
            at_days(-3.0),
            "1on1",
            "",
        )
        .replace(
            "PARTSTAT=ACCEPTED:mailto:mika",
            "PARTSTAT=DECLINED:mailto:mika",
        ),
    );
    events.push(vevent(
        "cancelled",
        "bob@example.com",
        at_days(-2.0),
        "1on1",
        "STATUS:CANCELLED\r\n",
    ));
    let a = analyse(&config(), &calendar(&events), now());
    let r = &a.reports[1];
    assert_eq!((r.held, r.declined, r.cancelled), (3, 2, 1));
    // Three held sessions 10 days apart: the interval is inferred.
    assert_eq!(r.cadence_source, CadenceSource::Inferred);
    assert_eq!(r.expected_interval_days, 10.0);
}

#[test]
fn the_calendar_owners_own_decline_counts_as_the_managers() {
    // A Microsoft attendee's copy: every attendee reads as not answered, and the owner's (the
    // manager's) decline is only in the event's `self_response`.
    let mut events = titled("bob@example.com", &[-30.0, -20.0, -10.0]);
    events.push(vevent(
        "owner-declined",
        "bob@example.com",
        at_days(-5.0),
        "1on1",
        "",
    ));
    let mut cal = calendar(&events);
    for e in &mut cal[0].events {
        if e.uid == "owner-declined" {
            for a in &mut e.attendees {
                a.response = Response::NeedsAction;
            }
            e.self_response = Some(Response::Declined);
        } else {
            // Stating an acceptance changes nothing.
            e.self_response = Some(Response::Accepted);
        }
    }
    let a = analyse(&config(), &cal, now());
    let r = &a.reports[1];
    assert_eq!((r.held, r.declined, r.cancelled), (3, 1, 0));
}

#[test]
fn expected_interval_from_the_active_series_then_default() {
    let cal = calendar(&[vevent(
        "b",
        "bob@example.com",
        at_days(-30.0),
        "sync",
        "RRULE:FREQ=WEEKLY;INTERVAL=2\r\n",
    )]);
    let a = analyse(&config(), &cal, now());
    assert_eq!(a.reports[1].cadence_source, CadenceSource::Recurrence);
    assert_eq!(a.reports[1].expected_interval_days, 14.0);
    assert_eq!(a.reports[2].cadence_source, CadenceSource::Default);
    assert_eq!(a.reports[2].expected_interval_days, 14.0);
}

#[test]
fn gap_at_its_boundary() {
    // Alice is weekly with grace 0.5: a gap after 10.5 days.
    for (last, expect) in [(-10.4, false), (-10.6, true)] {
        let mut events = titled("alice@example.com", &[last]);
        events.extend(titled("bob@example.com", &[-3.0]));
        let a = analyse(&config(), &calendar(&events), now());
        assert_eq!(
            kinds(&a, 0).contains(&"gap"),
            expect,
            "last held {last} days ago: {:?}",
            kinds(&a, 0)
        );
    }
}

#[test]
fn no_series_replaces_gap_and_uneven() {
    let mut events = titled("alice@example.com", &[-40.0, -30.0, -20.0, -10.0, -3.0]);
    events.extend(titled("bob@example.com", &[-80.0, -40.0, -5.0]));
    // Carol: one 1on1 long ago, nothing in the lookback, nothing scheduled.
    events.extend(titled("carol@example.com", &[-120.0]));
    let a = analyse(&config(), &calendar(&events), now());
    assert_eq!(kinds(&a, 2), ["no_series"]);
    let f = a.findings.iter().find(|f| f.report == 2).unwrap();
    assert_eq!(f.since, Some(at_days(-120.0)));
}

#[test]
fn upcoming_without_a_held_session_is_a_gap() {
    let events = titled("carol@example.com", &[5.0]);
    let a = analyse(&config(), &calendar(&events), now());
    assert_eq!(kinds(&a, 2), ["gap"]);
    assert_eq!(a.findings[a.findings.len() - 1].since, None);
}

#[test]
fn skipped_unless_made_up_within_half_an_interval() {
    // Alice weekly: a cancelled session is made up by a held one within 3.5 days.
    for (makeup, expect) in [(-8.6, false), (-8.4, false), (-6.4, true)] {
        let mut events = titled("alice@example.com", &[makeup, -1.0]);
        events.push(vevent(
            "x",
            "alice@example.com",
            at_days(-10.0),
            "1on1",
            "STATUS:CANCELLED\r\n",
        ));
        let a = analyse(&config(), &calendar(&events), now());
        let skipped = kinds(&a, 0).contains(&"skipped");
        // −8.6 and −8.4 are within 3.5 days of −10; −6.4 is 3.6 days away.
        assert_eq!(skipped, expect, "make-up at {makeup}");
    }
}

#[test]
fn uneven_against_the_team_median() {
    // Alice 9 held, Bob 9 held → median of (9, 9, carol) ; Carol 4 held is under 9 × 0.5 = 4.5.
    let nine: Vec<f64> = (1..=9).map(|i| -(i as f64) * 9.0).collect();
    for (carol, expect) in [(4, true), (5, false)] {
        let mut events = titled("alice@example.com", &nine);
        events.extend(titled("bob@example.com", &nine));
        let c: Vec<f64> = (1..=carol).map(|i| -(i as f64) * 15.0).collect();
        events.extend(titled("carol@example.com", &c));
        // Everyone has been a report for longer than the lookback (a 1on1 200 days ago starts
        // their tenure), so every rate window is the whole lookback.
        for who in ["alice", "bob", "carol"] {
            events.push(vevent(
                &format!("old-{who}"),
                &format!("{who}@example.com"),
                at_days(-200.0),
                "1on1",
                "",
            ));
        }
        events.extend(
            titled("carol@example.com", &[2.0])
                .into_iter()
                .map(|v| v.replace("UID:carol", "UID:next-carol")),
        );
        let a = analyse(&config(), &calendar(&events), now());
        assert_eq!(a.team_median.map(|m| (m * 90.0 / 30.0).round()), Some(9.0));
        assert_eq!(
            kinds(&a, 2).contains(&"uneven"),
            expect,
            "carol {carol}: {:?}",
            kinds(&a, 2)
        );
    }
}

#[test]
fn irregular_when_the_intervals_vary_too_much() {
    // Intervals (days): 7, 7, 7 → CV 0; 2, 2, 20 → CV ≈ 0.99; 5,9,5,9 → CV 0.28.
    for (days, expect) in [
        (vec![-22.0, -15.0, -8.0, -1.0], false),
        (vec![-25.0, -23.0, -21.0, -1.0], true),
        (vec![-29.0, -24.0, -15.0, -10.0, -1.0], false),
        // Just under and just over 0.5: intervals 2, 2, 5 (CV 0.471) and 1.8, 1.8, 5 (CV 0.526).
        (vec![-10.0, -8.0, -6.0, -1.0], false),
        (vec![-9.6, -7.8, -6.0, -1.0], true),
    ] {
        let events = titled("bob@example.com", &days);
        let a = analyse(&config(), &calendar(&events), now());
        assert_eq!(
            kinds(&a, 1).contains(&"irregular"),
            expect,
            "{days:?}: {:?}",
            kinds(&a, 1)
        );
    }
}

#[test]
fn series_ending_within_two_intervals() {
    // Alice weekly (config): a series whose last instance is 13 days ahead ends soon; 15 days
    // ahead is beyond two intervals.
    for (count, expect) in [(9u32, true), (10u32, true), (11u32, false)] {
        // From −50 weekly: instance k at −50 + 7k; the last (k = count−1) at −50 + 7(count−1).
        let rule = format!("RRULE:FREQ=WEEKLY;COUNT={count}\r\n");
        let cal = calendar(&[vevent(
            "s",
            "alice@example.com",
            at_days(-50.0),
            "Alice 1on1",
            &rule,
        )]);
        let a = analyse(&config(), &cal, now());
        assert_eq!(
            kinds(&a, 0).contains(&"series_ending"),
            expect,
            "count {count}"
        );
    }
    // Another 1on1 scheduled after the last one: nothing to extend.
    let mut events = vec![vevent(
        "s",
        "alice@example.com",
        at_days(-50.0),
        "Alice 1on1",
        "RRULE:FREQ=WEEKLY;COUNT=9\r\n",
    )];
    events.extend(titled("alice@example.com", &[20.0]));
    let a = analyse(&config(), &calendar(&events), now());
    assert!(!kinds(&a, 0).contains(&"series_ending"));
}

#[test]
fn findings_are_sorted_by_report_then_kind_then_since() {
    let mut events = titled("carol@example.com", &[5.0]);
    events.push(vevent(
        "x1",
        "alice@example.com",
        at_days(-30.0),
        "1on1",
        "STATUS:CANCELLED\r\n",
    ));
    events.push(vevent(
        "x2",
        "alice@example.com",
        at_days(-20.0),
        "1on1",
        "STATUS:CANCELLED\r\n",
    ));
    let a = analyse(&config(), &calendar(&events), now());
    let keys: Vec<(String, &str, Option<DateTime<Utc>>)> = a
        .findings
        .iter()
        .map(|f| (f.report_email.clone(), f.kind.as_str(), f.since))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

fn held_days() -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-120.0f64..-0.01, 0..12)
}

proptest! {
    /// Adding a held session never raises days_since_last_held.
    #[test]
    fn adding_a_held_session_never_raises_days_since(days in held_days(), extra in -120.0f64..-0.01) {
        let before = analyse(&config(), &calendar(&titled("bob@example.com", &days)), now());
        let mut more = titled("bob@example.com", &days);
        more.push(vevent("extra", "bob@example.com", at_days(extra), "1on1", ""));
        let after = analyse(&config(), &calendar(&more), now());
        let (b, a) = (before.reports[1].days_since_last_held, after.reports[1].days_since_last_held);
        prop_assert!(a.is_some());
        prop_assert!(b.is_none_or(|b| a.unwrap() <= b));
    }

    /// Reordering the input events never changes the report.
    #[test]
    fn order_of_events_does_not_matter(days in held_days(), seed in any::<u64>()) {
        let mut events = titled("bob@example.com", &days);
        events.extend(titled("alice@example.com", &[-3.0, -9.0]));
        let a = analyse(&config(), &calendar(&events), now());
        let mut cal = calendar(&events);
        let n = cal[0].events.len();
        for i in 0..n {
            let j = (seed.wrapping_mul(6364136223846793005).wrapping_add(i as u64) % n as u64) as usize;
            cal[0].events.swap(i, j);
        }
        let b = analyse(&config(), &cal, now());
        prop_assert_eq!(a, b);
    }

    /// A report's figures depend on the others only through the uneven median.
    #[test]
    fn reports_are_independent(bob in held_days(), carol in held_days()) {
        let alone = analyse(&config(), &calendar(&titled("bob@example.com", &bob)), now());
        let mut events = titled("bob@example.com", &bob);
        events.extend(titled("carol@example.com", &carol));
        let together = analyse(&config(), &calendar(&events), now());
        prop_assert_eq!(&alone.reports[1], &together.reports[1]);
        let not_uneven = |a: &Analysis| a.findings.iter().filter(|f| f.report == 1 && f.kind != AlertKind::Uneven).cloned().collect::<Vec<_>>();
        prop_assert_eq!(not_uneven(&alone), not_uneven(&together));
    }
}

#[test]
fn a_bare_cancelled_instance_is_judged_by_its_series() {
    // Providers report a cancelled instance as a tombstone: no attendees, no title.
    let mut cal = calendar(&[vevent(
        "s",
        "alice@example.com",
        at_days(-20.0),
        "Alice / Mika",
        "RRULE:FREQ=WEEKLY\r\n",
    )]);
    let master = cal[0].events[0].clone();
    let original = crate::model::EventTime::utc(at_days(-13.0));
    let tombstone = Event {
        event_id: "s_cancelled".into(),
        uid: String::new(),
        series_id: Some(master.event_id.clone()),
        recurrence: None,
        recurrence_id: Some(original.clone()),
        start: original.clone(),
        end: original,
        status: EventStatus::Cancelled,
        summary: String::new(),
        organizer: None,
        attendees: vec![],
        ..master
    };
    cal[0].events.push(tombstone);
    let a = analyse(&config(), &cal, now());
    assert_eq!((a.reports[0].held, a.reports[0].cancelled), (2, 1));
}

// ------------------------------------------------------------------------------------ v2 rules

fn finding(a: &Analysis, report: usize, kind: AlertKind) -> Vec<&Finding> {
    a.findings
        .iter()
        .filter(|f| f.report == report && f.kind == kind)
        .collect()
}

fn cancelled(who: &str, uid: &str, day: f64) -> String {
    vevent(uid, who, at_days(day), "1on1", "STATUS:CANCELLED\r\n")
}

#[test]
fn a_working_session_beside_a_titled_1on1_is_a_candidate_not_a_1on1() {
    let events = vec![
        vevent(
            "one",
            "bob@example.com",
            at_days(-60.0),
            "Bob / Mika 1:1",
            "RRULE:FREQ=WEEKLY\r\n",
        ),
        vevent(
            "atlas",
            "bob@example.com",
            at_days(-59.0),
            "Atlas migration working session",
            "RRULE:FREQ=WEEKLY;INTERVAL=2\r\n",
        ),
    ];
    let a = analyse(&config(), &calendar(&events), now());
    let r = &a.reports[1];
    assert!(r.sessions.iter().all(|s| s.title == "Bob / Mika 1:1"));
    assert_eq!(r.series.len(), 1);
    assert_eq!(
        (r.expected_interval_days, r.cadence_source),
        (7.0, CadenceSource::Recurrence)
    );
    let c = a
        .candidates
        .iter()
        .find(|c| c.titles == ["Atlas migration working session"])
        .expect("the working session is listed");
    assert_eq!(c.email, "bob@example.com");
    assert_eq!(c.report.as_deref(), Some("Bob"));
    assert!(
        c.reason_text().contains("Bob / Mika 1:1"),
        "{}",
        c.reason_text()
    );

    // Without a titled series, every 1on1-shaped series counts (the fallback), with the shortest
    // interval among the active ones.
    let fallback = vec![
        vevent(
            "a",
            "bob@example.com",
            at_days(-60.0),
            "Sync",
            "RRULE:FREQ=WEEKLY;INTERVAL=2\r\n",
        ),
        vevent(
            "b",
            "bob@example.com",
            at_days(-59.0),
            "Planning",
            "RRULE:FREQ=WEEKLY\r\n",
        ),
    ];
    let a = analyse(&config(), &calendar(&fallback), now());
    assert_eq!(a.reports[1].series.len(), 2);
    assert_eq!(a.reports[1].expected_interval_days, 7.0);
    assert!(a.candidates.is_empty());
}

#[test]
fn names_only_titles_count_for_single_events() {
    let text = CONFIG.replace(
        "[manager]\nemail = \"mika@example.com\"",
        "[manager]\nemail = \"mika@example.com\"\nname = \"田中 美香\"",
    ) + "[[reports]]\nemail = \"ken.sato@example.com\"\nname = \"佐藤健\"\n";
    let config = crate::config::parse(&text, std::path::Path::new("/tmp/c.toml")).unwrap();
    let events: Vec<String> = [
        ("s1", "田中 / 佐藤"),
        ("s2", "佐藤さんと田中"),
        ("s3", "Ken x Mika weekly"),
        ("s4", "佐藤 / 田中 / 鈴木"),
        ("s5", "佐藤 lunch"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (uid, title))| {
        vevent(
            uid,
            "ken.sato@example.com",
            at_days(-10.0 - i as f64),
            title,
            "",
        )
    })
    .collect();
    let a = analyse(&config, &calendar(&events), now());
    // By start: s3 (−12), s2 (−11), s1 (−10); s4 and s5 are not 1on1-titled single events.
    let titles: Vec<&str> = a.reports[3]
        .sessions
        .iter()
        .map(|s| s.title.as_str())
        .collect();
    assert_eq!(
        titles,
        ["Ken x Mika weekly", "佐藤さんと田中", "田中 / 佐藤"]
    );
}

#[test]
fn cancelled_while_the_manager_is_away_is_excused() {
    let away = |uid: &str, from: f64, days: f64, extra: &str| {
        format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTART:{}\r\nDTEND:{}\r\nSUMMARY:Family trip\r\n\
             ORGANIZER:mailto:mika@example.com\r\n{extra}END:VEVENT\r\n",
            compact(at_days(from)),
            compact(at_days(from + days))
        )
    };
    let mut events = titled("bob@example.com", &[-40.0, -33.0, -19.0, -12.0, -5.0]);
    events.push(cancelled("bob@example.com", "x1", -26.0));
    events.push(
        vevent("x2", "bob@example.com", at_days(-25.0), "1on1", "").replace(
            "PARTSTAT=ACCEPTED:mailto:mika",
            "PARTSTAT=DECLINED:mailto:mika",
        ),
    );
    // Marked out of office by the source (no absence title).
    events.push(away(
        "ooo",
        -27.0,
        3.0,
        "X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\n",
    ));
    let a = analyse(&config(), &calendar(&events), now());
    let r = &a.reports[1];
    assert_eq!((r.held, r.cancelled, r.declined, r.excused), (5, 0, 0, 2));
    assert!(finding(&a, 1, AlertKind::Skipped).is_empty());
    assert_eq!(a.away.len(), 1);

    // An absence title works too; someone else's out-of-office event does not excuse.
    let mut titled_away = titled("bob@example.com", &[-40.0, -33.0, -19.0, -12.0, -5.0]);
    titled_away.push(cancelled("bob@example.com", "x1", -26.0));
    titled_away.push(
        away("pto", -27.0, 3.0, "")
            .replace("SUMMARY:Family trip", "SUMMARY:PTO")
            .replace("mailto:mika@example.com", "mailto:mika@example.com\r\nATTENDEE:mailto:alice@example.com\r\nATTENDEE:mailto:bob@example.com"),
    );
    let a = analyse(&config(), &calendar(&titled_away), now());
    assert_eq!(a.reports[1].excused, 1);
    let mut others = titled("bob@example.com", &[-40.0, -33.0, -19.0, -12.0, -5.0]);
    others.push(cancelled("bob@example.com", "x1", -26.0));
    others.push(
        away(
            "theirs",
            -27.0,
            3.0,
            "X-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nATTENDEE:mailto:mika@example.com\r\n",
        )
        .replace(
            "ORGANIZER:mailto:mika@example.com",
            "ORGANIZER:mailto:alice@example.com",
        ),
    );
    let a = analyse(&config(), &calendar(&others), now());
    assert_eq!((a.reports[1].excused, a.reports[1].cancelled), (0, 1));
}

#[test]
fn a_run_of_skipped_sessions_is_one_alert_naming_each() {
    // Alice weekly: held −35, −28; cancelled −21 and −14; held −7: one run of two.
    let mut events = titled("alice@example.com", &[-35.0, -28.0, -7.0]);
    events.push(cancelled("alice@example.com", "c1", -21.0));
    events.push(cancelled("alice@example.com", "c2", -14.0));
    let a = analyse(&config(), &calendar(&events), now());
    let skipped = finding(&a, 0, AlertKind::Skipped);
    assert_eq!(skipped.len(), 1, "{:?}", a.findings);
    assert_eq!(skipped[0].since, Some(at_days(-21.0)));
    let msg = &skipped[0].message;
    assert!(
        msg.contains("Nov 3") && msg.contains("Nov 10") && msg.starts_with("2 1on1s"),
        "{msg}"
    );
    // No irregular for a weekly report with a configured cadence.
    assert!(finding(&a, 0, AlertKind::Irregular).is_empty());

    // A skip made up within half an interval raises nothing.
    let mut made_up = titled("alice@example.com", &[-35.0, -28.0, -19.0, -7.0]);
    made_up.push(cancelled("alice@example.com", "c1", -21.0));
    let a = analyse(&config(), &calendar(&made_up), now());
    assert!(finding(&a, 0, AlertKind::Skipped).is_empty());
}

#[test]
fn no_skipped_after_the_last_held_session_while_the_gap_is_open() {
    let mut events = titled("alice@example.com", &[-40.0, -33.0, -26.0]);
    events.push(cancelled("alice@example.com", "c1", -19.0));
    events.push(cancelled("alice@example.com", "c2", -12.0));
    events.push(cancelled("alice@example.com", "c3", -5.0));
    events.extend(
        titled("alice@example.com", &[2.0])
            .into_iter()
            .map(|e| e.replace("UID:alice", "UID:next-alice")),
    );
    let a = analyse(&config(), &calendar(&events), now());
    assert_eq!(kinds(&a, 0), ["gap"]);
}

#[test]
fn irregular_only_without_a_series_or_a_configured_cadence() {
    let days = [-25.0, -23.0, -21.0, -1.0];
    let series = vec![vevent(
        "s",
        "bob@example.com",
        at_days(-3.0),
        "Bob 1on1",
        "RRULE:FREQ=WEEKLY;INTERVAL=2\r\n",
    )];
    let mut events = titled("bob@example.com", &days);
    events.extend(series);
    let a = analyse(&config(), &calendar(&events), now());
    assert!(
        finding(&a, 1, AlertKind::Irregular).is_empty(),
        "{:?}",
        a.findings
    );
    let a = analyse(
        &config(),
        &calendar(&titled("bob@example.com", &days)),
        now(),
    );
    assert_eq!(finding(&a, 1, AlertKind::Irregular).len(), 1);
}

#[test]
fn an_ended_series_with_nothing_scheduled_is_series_ending_at_once() {
    // Weekly from −50, 7 occurrences: the last was at −8, three days ago the gap is not open yet.
    let cal = calendar(&[vevent(
        "s",
        "alice@example.com",
        at_days(-50.0),
        "Alice 1on1",
        "RRULE:FREQ=WEEKLY;COUNT=7\r\n",
    )]);
    let a = analyse(&config(), &cal, now());
    let ending = finding(&a, 0, AlertKind::SeriesEnding);
    assert_eq!(ending.len(), 1, "{:?}", a.findings);
    assert_eq!(ending[0].since, Some(at_days(-8.0)));
    assert!(
        ending[0].message.contains("ended on"),
        "{}",
        ending[0].message
    );
    assert!(finding(&a, 0, AlertKind::Gap).is_empty());
}

#[test]
fn tenure_bounds_the_rate_window_and_uneven() {
    // Alice and Bob are weekly for a long time; Carol joined three weeks ago (weekly too).
    let long: Vec<f64> = (1..=20).map(|i| -(i as f64) * 7.0 + 3.0).collect();
    let mut events = titled("alice@example.com", &long);
    events.extend(titled("bob@example.com", &long));
    events.extend(titled("carol@example.com", &[-18.0, -11.0, -4.0]));
    let text = CONFIG.replace(
        "email = \"carol@example.com\"\nname = \"Carol\"",
        "email = \"carol@example.com\"\nname = \"Carol\"\ncadence = \"1w\"\njoined = \"2026-11-03\"",
    );
    let config = crate::config::parse(&text, std::path::Path::new("/tmp/c.toml")).unwrap();
    let a = analyse(&config, &calendar(&events), now());
    let carol = &a.reports[2];
    assert_eq!(carol.start, NaiveDate::from_ymd_opt(2026, 11, 3));
    assert!((carol.rate_window_days - 21.0).abs() < 1e-9);
    assert!((carol.sessions_per_30d - 3.0 * 30.0 / 21.0).abs() < 1e-9);
    assert!(
        finding(&a, 2, AlertKind::Uneven).is_empty(),
        "{:?}",
        a.findings
    );
    // Her first 1on1 starts the tenure when `joined` is not set.
    let a = analyse(&config_without_joined(), &calendar(&events), now());
    assert_eq!(a.reports[2].start, NaiveDate::from_ymd_opt(2026, 11, 6));
    // A report whose window is shorter than two intervals is not compared at all.
    let short = {
        let mut e = titled("alice@example.com", &long);
        e.extend(titled("bob@example.com", &long));
        e.extend(titled("carol@example.com", &[-4.0]));
        e
    };
    let a = analyse(&config_without_joined(), &calendar(&short), now());
    assert!(finding(&a, 2, AlertKind::Uneven).is_empty());
}

fn config_without_joined() -> Config {
    config()
}

#[test]
fn series_ending_is_silenced_by_any_other_1on1_scheduled_after_now() {
    // The series ends in 13 days; an ad-hoc 1on1 next week is another 1on1 scheduled.
    let mut events = vec![vevent(
        "s",
        "alice@example.com",
        at_days(-50.0),
        "Alice 1on1",
        "RRULE:FREQ=WEEKLY;COUNT=10\r\n",
    )];
    let a = analyse(&config(), &calendar(&events), now());
    assert_eq!(finding(&a, 0, AlertKind::SeriesEnding).len(), 1);
    events.extend(titled("alice@example.com", &[5.0]));
    let a = analyse(&config(), &calendar(&events), now());
    assert!(
        finding(&a, 0, AlertKind::SeriesEnding).is_empty(),
        "{:?}",
        a.findings
    );
}
