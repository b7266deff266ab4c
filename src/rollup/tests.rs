use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 9, 0, 0).single().unwrap()
}

fn report(email: &str, days_ago: &[i64], expected: f64, open: &[&str]) -> ReportInput {
    ReportInput {
        email: email.to_string(),
        held_starts: days_ago
            .iter()
            .map(|d| now() - Duration::days(*d))
            .collect(),
        expected_interval_days: expected,
        open_kinds: open.iter().map(|s| s.to_string()).collect(),
    }
}

fn manager(
    email: &str,
    boss: Option<&str>,
    unit: Option<&str>,
    reports: Vec<ReportInput>,
) -> ManagerInput {
    ManagerInput {
        email: email.to_string(),
        name: format!("Name of {email}"),
        manager_of: boss.map(str::to_string),
        org_unit: unit.map(str::to_string),
        reports,
    }
}

/// `n` reports `prefix0..` of a manager, each held `days_ago`.
fn team(prefix: &str, n: usize, days_ago: &[i64]) -> Vec<ReportInput> {
    (0..n)
        .map(|i| report(&format!("{prefix}{i}@example.com"), days_ago, 14.0, &[]))
        .collect()
}

fn row<'a>(r: &'a Rollup, id: &str) -> &'a GroupRow {
    r.groups
        .iter()
        .find(|g| g.id == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

#[test]
fn min_group_below_five_is_refused() {
    for k in 0..5 {
        let input = RollupInput {
            now: now(),
            min_group: k,
            managers_left_out: 0,
            managers: vec![],
        };
        assert_eq!(rollup(&input), Err(RollupError::MinGroupTooSmall(k)));
    }
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers: vec![],
    };
    assert!(rollup(&input).is_ok());
}

#[test]
fn a_small_organisation_shows_nothing() {
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers: vec![manager("m@x", None, None, team("r", 4, &[3]))],
    };
    let r = rollup(&input).unwrap();
    let org = row(&r, "org");
    assert!(org.reports.suppressed);
    assert_eq!(
        org.reports.suppressed_reason,
        Some(Suppression::FewerThanMinGroup)
    );
    assert_eq!(org.reports.people, None);
    assert_eq!(org.reports.held_30d_percent, None);
    assert!(
        org.reports
            .trend_held_30d_percent
            .iter()
            .all(Option::is_none)
    );
    assert_eq!(org.reports.trend_held_30d_percent.len(), TREND_WEEKS);
    assert!(org.managers.suppressed);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["groups"][0]["reports"]["people"],
        serde_json::Value::Null
    );
    assert_eq!(json["groups"][0]["reports"]["suppressed"], true);
    assert_eq!(
        json["groups"][0]["reports"]["suppressed_reason"],
        "fewer_than_min_group"
    );
    assert!(text(&r).contains("fewer than 5"));
}

#[test]
fn figures_of_a_shown_group() {
    // Five reports: three held in the last 30 days (one of them twice), one 40 days ago, one never.
    let reports = vec![
        report("a@x", &[2, 16, 30 + 20, 60], 7.0, &[]),
        report("b@x", &[10], 14.0, &["gap"]),
        report("c@x", &[29], 14.0, &[]),
        report("d@x", &[40], 30.0, &["skipped"]),
        report("e@x", &[], 14.0, &["no_series"]),
    ];
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers: vec![manager("m@x", None, None, reports)],
    };
    let r = rollup(&input).unwrap();
    let org = row(&r, "org");
    assert!(!org.reports.suppressed);
    assert_eq!(org.reports.people, Some(5));
    assert_eq!(org.reports.held_30d, Some(3));
    assert_eq!(org.reports.held_30d_percent, Some(60.0));
    // Held in 90 days: 4, 1, 1, 1, 0 → per 30 days 1.33, 0.33, 0.33, 0.33, 0 → median 0.33.
    assert_eq!(org.reports.median_per_30d, Some(0.3));
    assert_eq!(org.reports.median_expected_interval_days, Some(14.0));
    assert_eq!(org.reports.trend_held_30d_percent.last(), Some(&Some(60.0)));
    // At now − 7d the window is [now − 37d, now − 7d): a (16), b (10) and c (29) → 3 of 5.
    assert_eq!(
        org.reports.trend_held_30d_percent[TREND_WEEKS - 2],
        Some(60.0)
    );
    // One manager: fewer than 5 managers, so the manager figure is not shown.
    assert!(org.managers.suppressed);
    assert_eq!(r.trend_ends.last().unwrap(), &crate::output::rfc3339(now()));
}

#[test]
fn a_report_under_two_managers_counts_once() {
    let mut a = team("a", 3, &[5]);
    a.push(report("shared@x", &[], 14.0, &[]));
    let mut b = team("b", 1, &[5]);
    b.push(report("SHARED@x", &[3], 7.0, &[]));
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers: vec![
            manager("ma@x", None, None, a),
            manager("mb@x", None, None, b),
        ],
    };
    let r = rollup(&input).unwrap();
    let org = row(&r, "org");
    assert_eq!(org.reports.people, Some(5));
    // The shared report met one of their managers: held.
    assert_eq!(org.reports.held_30d, Some(5));
}

/// A senior manager whose three directors each lead a large group, and who has no other
/// report: the senior group minus the three director groups would be the directors themselves,
/// three people. One director group must be hidden too.
#[test]
fn complementary_suppression_hides_a_sibling() {
    let mut managers = vec![manager(
        "vp@x",
        None,
        None,
        vec![
            report("d1@x", &[3], 14.0, &[]),
            report("d2@x", &[], 14.0, &[]),
            report("d3@x", &[3], 14.0, &[]),
        ],
    )];
    for (d, n) in [("d1", 4), ("d2", 5), ("d3", 6)] {
        let leads: Vec<String> = (0..2).map(|l| format!("{d}l{l}@x")).collect();
        managers.push(manager(
            &format!("{d}@x"),
            Some("vp@x"),
            None,
            leads.iter().map(|l| report(l, &[1], 7.0, &[])).collect(),
        ));
        for (l, lead) in leads.iter().enumerate() {
            let boss = format!("{d}@x");
            managers.push(manager(
                lead,
                Some(&boss),
                None,
                team(&format!("{d}{l}r"), n, &[2]),
            ));
        }
    }
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers,
    };
    let r = rollup(&input).unwrap();
    let vp = row(&r, "manager:vp@x");
    assert!(!vp.reports.suppressed);
    let hidden: Vec<&str> = ["d1", "d2", "d3"]
        .iter()
        .filter(|d| row(&r, &format!("manager:{d}@x")).reports.suppressed)
        .copied()
        .collect();
    // The smallest director group goes.
    assert_eq!(hidden, vec!["d1"]);
    assert_eq!(
        row(&r, "manager:d1@x").reports.suppressed_reason,
        Some(Suppression::Complementary)
    );
    check_privacy(&input, &r);
    let t = text(&r);
    let d1 = t.lines().find(|l| l.contains("<d1@x>")).unwrap();
    assert!(d1.contains("hidden"), "{t}");
    assert!(!d1.contains('%'), "{t}");
}

#[test]
fn output_names_no_report() {
    let mut managers = vec![manager(
        "boss@x",
        None,
        Some("Eng"),
        team("secret-report-", 6, &[1]),
    )];
    for i in 0..6 {
        managers[0]
            .reports
            .push(report(&format!("lead{i}@x"), &[2], 7.0, &["gap"]));
        managers.push(manager(
            &format!("lead{i}@x"),
            Some("boss@x"),
            Some("Eng"),
            team(&format!("secret{i}-"), 5, &[3]),
        ));
    }
    let r = rollup(&RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers,
    })
    .unwrap();
    let json = serde_json::to_string(&r).unwrap();
    let t = text(&r);
    assert!(!json.contains("secret") && !t.contains("secret"));
    // The senior manager's row names them; the leads have no row of their own.
    assert!(json.contains("boss@x"));
    assert!(!json.contains("lead0@x"));
}

#[test]
fn from_analysis_takes_held_sessions_expected_interval_and_open_kinds() {
    use crate::cadence::messages::Severity;
    use crate::cadence::{CadenceSource, Finding, ReportFigures, Session};
    let session = |days: i64, outcome: Outcome| Session {
        account: "a".into(),
        calendar: "c".into(),
        uid: format!("u{days}"),
        event_id: format!("e{days}"),
        series_id: None,
        title: "1on1 secret title".into(),
        start: now() - Duration::days(days),
        end: now() - Duration::days(days) + Duration::minutes(30),
        outcome,
    };
    let figures = |email: &str, sessions: Vec<Session>| ReportFigures {
        email: email.into(),
        name: "Someone".into(),
        expected_interval_days: 14.0,
        cadence_source: CadenceSource::Default,
        held: 0,
        cancelled: 0,
        declined: 0,
        excused: 0,
        upcoming: 0,
        start: None,
        rate_window_days: 90.0,
        last_held: None,
        next_scheduled: None,
        days_since_last_held: None,
        days_since_last_held_local: None,
        sessions_per_30d: 0.0,
        series: vec![],
        sessions,
    };
    let analysis = Analysis {
        now: now(),
        lookback_days: 90.0,
        team_median: None,
        reports: vec![
            figures(
                "r1@x",
                vec![
                    session(HISTORY_DAYS + 1, Outcome::Held),
                    session(20, Outcome::Held),
                    session(13, Outcome::Cancelled),
                    session(6, Outcome::Held),
                    session(-1, Outcome::Upcoming),
                ],
            ),
            figures("r2@x", vec![]),
        ],
        findings: vec![Finding {
            kind: AlertKind::NoSeries,
            report: 1,
            report_email: "r2@x".into(),
            severity: Severity::Warning,
            since: None,
            episode: String::new(),
            message: "m".into(),
        }],
        candidates: vec![],
        away: vec![],
        warnings: vec![],
    };
    let m = ManagerInput::from_analysis("m@x", "M", Some("boss@x"), Some("Eng"), &analysis);
    assert_eq!(m.manager_of.as_deref(), Some("boss@x"));
    assert_eq!(m.org_unit.as_deref(), Some("Eng"));
    assert_eq!(m.reports.len(), 2);
    assert_eq!(
        m.reports[0].held_starts,
        vec![now() - Duration::days(20), now() - Duration::days(6)]
    );
    assert_eq!(m.reports[0].expected_interval_days, 14.0);
    assert!(m.reports[0].open_kinds.is_empty());
    assert_eq!(m.reports[1].open_kinds, vec!["no_series".to_string()]);
}

// ---- Brute force and privacy, for random organisations -----------------------------------

fn k(e: &str) -> String {
    e.trim().to_lowercase()
}

/// The managers (lower-case e-mails) and people a row covers, worked out from the input alone.
fn members(input: &RollupInput, row: &GroupRow) -> (BTreeSet<String>, BTreeSet<String>) {
    let all: BTreeSet<String> = input.managers.iter().map(|m| k(&m.email)).collect();
    let managers: BTreeSet<String> = if row.id == "org" {
        all
    } else if let Some(unit) = row.id.strip_prefix("unit:") {
        input
            .managers
            .iter()
            .filter(|m| m.org_unit.as_deref().unwrap_or("") == unit)
            .map(|m| k(&m.email))
            .collect()
    } else {
        let top = row.id.strip_prefix("manager:").unwrap().to_string();
        let mut set = BTreeSet::from([top]);
        loop {
            let before = set.len();
            for m in &input.managers {
                if m.manager_of.as_deref().is_some_and(|b| set.contains(&k(b))) {
                    set.insert(k(&m.email));
                }
            }
            if set.len() == before {
                break;
            }
        }
        set
    };
    let people = input
        .managers
        .iter()
        .filter(|m| managers.contains(&k(&m.email)))
        .flat_map(|m| m.reports.iter().map(|r| k(&r.email)))
        .collect();
    (managers, people)
}

fn brute_median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Every figure of every shown row equals a recomputation from the input; suppressed rows show
/// nothing.
fn check_figures(input: &RollupInput, r: &Rollup) {
    let now = input.now;
    let held_of = |p: &str| -> BTreeSet<DateTime<Utc>> {
        input
            .managers
            .iter()
            .flat_map(|m| m.reports.iter())
            .filter(|rep| k(&rep.email) == p)
            .flat_map(|rep| rep.held_starts.iter().copied())
            .collect()
    };
    let expected_of = |p: &str| -> f64 {
        input
            .managers
            .iter()
            .flat_map(|m| m.reports.iter())
            .filter(|rep| k(&rep.email) == p)
            .map(|rep| rep.expected_interval_days)
            .fold(f64::INFINITY, f64::min)
    };
    for row in &r.groups {
        let (managers, people) = members(input, row);
        let f = &row.reports;
        if f.suppressed {
            assert!(f.people.is_none() && f.held_30d.is_none() && f.held_30d_percent.is_none());
            assert!(f.median_per_30d.is_none() && f.median_expected_interval_days.is_none());
            assert!(f.trend_held_30d_percent.iter().all(Option::is_none));
        } else {
            assert!(
                people.len() >= input.min_group,
                "{} shown over {} people",
                row.id,
                people.len()
            );
            assert_eq!(f.people, Some(people.len()), "{}", row.id);
            let held_between = |p: &String, from: DateTime<Utc>, to: DateTime<Utc>| {
                held_of(p)
                    .iter()
                    .filter(|t| **t >= from && **t < to)
                    .count()
            };
            for (i, end) in (0..12)
                .rev()
                .map(|w| now - Duration::days(7 * w))
                .enumerate()
            {
                let held = people
                    .iter()
                    .filter(|p| held_between(p, end - Duration::days(30), end) > 0)
                    .count();
                let pc = (held as f64 * 1000.0 / people.len() as f64).round() / 10.0;
                assert_eq!(
                    f.trend_held_30d_percent[i],
                    Some(pc),
                    "{} point {i}",
                    row.id
                );
                if i == 11 {
                    assert_eq!(f.held_30d, Some(held));
                    assert_eq!(f.held_30d_percent, Some(pc));
                }
            }
            let rates = people
                .iter()
                .map(|p| held_between(p, now - Duration::days(90), now) as f64 / 3.0)
                .collect();
            assert_eq!(
                f.median_per_30d,
                Some((brute_median(rates) * 10.0).round() / 10.0)
            );
            let exp = people.iter().map(|p| expected_of(p)).collect();
            assert_eq!(
                f.median_expected_interval_days,
                Some((brute_median(exp) * 10.0).round() / 10.0)
            );
        }
        let mf = &row.managers;
        if mf.suppressed {
            assert!(mf.managers.is_none() && mf.with_open_gap_or_no_series.is_none());
        } else {
            assert!(managers.len() >= input.min_group);
            assert_eq!(mf.managers, Some(managers.len()));
            let open = managers
                .iter()
                .filter(|e| {
                    input
                        .managers
                        .iter()
                        .filter(|m| k(&m.email) == **e)
                        .any(|m| {
                            m.reports.iter().any(|rep| {
                                rep.open_kinds
                                    .iter()
                                    .any(|k| k == "gap" || k == "no_series")
                            })
                        })
                })
                .count();
            assert_eq!(mf.with_open_gap_or_no_series, Some(open), "{}", row.id);
        }
    }
}

/// No combination of shown figures isolates fewer than `min_group` people, for the reports'
/// figures and the managers' alike:
/// - a shown parent minus its shown children (per view) leaves none or at least `min_group`;
/// - one shown group minus another leaves none or at least `min_group`;
/// - every cell of the shown groups' Venn diagram is empty or at least `min_group`.
fn check_privacy(input: &RollupInput, r: &Rollup) {
    let kmin = input.min_group;
    let ok = |n: usize| n == 0 || n >= kmin;
    for population in [0, 1] {
        let shown: Vec<(&GroupRow, BTreeSet<String>)> = r
            .groups
            .iter()
            .filter(|g| {
                if population == 0 {
                    !g.reports.suppressed
                } else {
                    !g.managers.suppressed
                }
            })
            .map(|g| {
                let (m, p) = members(input, g);
                (g, if population == 0 { p } else { m })
            })
            .collect();
        for (g, set) in &shown {
            assert!(set.len() >= kmin, "{} shown over {}", g.id, set.len());
            for kind in [GroupKind::OrgUnit, GroupKind::ManagerOfManagers] {
                let children: BTreeSet<&String> = shown
                    .iter()
                    .filter(|(c, _)| c.kind == kind && c.parent.as_deref() == Some(g.id.as_str()))
                    .flat_map(|(_, s)| s.iter())
                    .collect();
                if children.is_empty() {
                    continue;
                }
                let rest = set.iter().filter(|p| !children.contains(p)).count();
                assert!(
                    ok(rest),
                    "{} minus its shown {kind:?} children leaves {rest}",
                    g.id
                );
            }
            for (h, other) in &shown {
                let rest = set.difference(other).count();
                assert!(ok(rest), "{} minus {} leaves {rest}", g.id, h.id);
            }
        }
        let mut cells: HashMap<Vec<usize>, usize> = HashMap::new();
        let everyone: BTreeSet<&String> = shown.iter().flat_map(|(_, s)| s.iter()).collect();
        for p in everyone {
            let sig: Vec<usize> = shown
                .iter()
                .enumerate()
                .filter(|(_, (_, s))| s.contains(p))
                .map(|(i, _)| i)
                .collect();
            *cells.entry(sig).or_default() += 1;
        }
        for (sig, n) in cells {
            assert!(
                ok(n),
                "a cell of {n} people ({sig:?}) in population {population}"
            );
        }
    }
}

prop_compose! {
    fn arb_org()(
        n in 1usize..22,
        min_group in 5usize..8,
    )(
        bosses in prop::collection::vec((any::<bool>(), 0usize..100, 0usize..20), n),
        units in prop::collection::vec(0usize..5, n),
        reports in prop::collection::vec(
            prop::collection::vec(
                (0usize..70, prop::collection::vec(0i64..125, 0..4), 0usize..3, 0u8..8),
                0..8,
            ),
            n,
        ),
        min_group in Just(min_group),
        n in Just(n),
    ) -> RollupInput {
        let email = |i: usize| format!("m{i}@x");
        let mut managers: Vec<ManagerInput> = (0..n)
            .map(|i| {
                let (has, pick, any) = bosses[i];
                // Mostly a tree (the boss comes earlier); now and then any manager (loops).
                let boss = if i == 0 || !has {
                    None
                } else if pick % 17 == 0 {
                    Some(email(any % n))
                } else {
                    Some(email(pick % i))
                };
                let unit = ["Eng", "Sales", "Ops", "Eng/Platform"].get(units[i]).map(|u| u.to_string());
                ManagerInput {
                    email: email(i),
                    name: format!("Manager {i}"),
                    manager_of: boss,
                    org_unit: unit,
                    reports: reports[i]
                        .iter()
                        .map(|(p, held, exp, open)| ReportInput {
                            email: format!("p{p}@x"),
                            held_starts: held.iter().map(|d| now() - Duration::days(*d)).collect(),
                            expected_interval_days: [7.0, 14.0, 30.0][*exp],
                            open_kinds: ["gap", "no_series", "skipped"]
                                .iter()
                                .enumerate()
                                .filter(|(b, _)| open & (1 << b) != 0)
                                .map(|(_, s)| s.to_string())
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        // A manager is also a report of their own manager.
        for i in 0..n {
            if let Some(b) = managers[i].manager_of.clone() {
                let bi: usize = b[1..b.len() - 2].parse().unwrap();
                if bi != i {
                    let held = vec![now() - Duration::days((i as i64 * 11) % 100)];
                    managers[bi].reports.push(ReportInput {
                        email: email(i),
                        held_starts: held,
                        expected_interval_days: 14.0,
                        open_kinds: vec![],
                    });
                }
            }
        }
        RollupInput {
            now: now(),
            min_group,
            managers,
            managers_left_out: 0,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_figure_over_fewer_than_min_group_even_by_differencing(input in arb_org()) {
        let r = rollup(&input).unwrap();
        check_figures(&input, &r);
        check_privacy(&input, &r);
    }

    #[test]
    fn min_group_is_never_below_five(k in 0usize..5, input in arb_org()) {
        let input = RollupInput { min_group: k, ..input };
        prop_assert_eq!(rollup(&input), Err(RollupError::MinGroupTooSmall(k)));
    }
}

/// Org units and the managers' tree cut across each other: the cells across both views stay
/// large.
#[test]
fn crossing_views_do_not_isolate_a_few_people() {
    // Two senior managers, each with two leads; one lead of each sits in the other unit.
    let mut managers = Vec::new();
    for (s, unit, other) in [("s1", "A", "B"), ("s2", "B", "A")] {
        let leads = [format!("{s}a@x"), format!("{s}b@x")];
        managers.push(manager(
            &format!("{s}@x"),
            None,
            Some(unit),
            leads.iter().map(|l| report(l, &[1], 7.0, &[])).collect(),
        ));
        managers.push(manager(
            &leads[0],
            Some(&format!("{s}@x")),
            Some(unit),
            team(&format!("{s}a"), 8, &[2]),
        ));
        managers.push(manager(
            &leads[1],
            Some(&format!("{s}@x")),
            Some(other),
            team(&format!("{s}b"), 3, &[2]),
        ));
    }
    let input = RollupInput {
        now: now(),
        min_group: 5,
        managers_left_out: 0,
        managers,
    };
    let r = rollup(&input).unwrap();
    check_figures(&input, &r);
    check_privacy(&input, &r);
}

/// The generated organisations exercise what the property is about: shown groups below the
/// organisation, in both views, and complementary suppression.
#[test]
fn the_generator_reaches_shown_children_and_complementary_suppression() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut senior, mut unit, mut complementary, mut managers) = (0, 0, 0, 0);
    for _ in 0..300 {
        let input = arb_org().new_tree(&mut runner).unwrap().current();
        let r = rollup(&input).unwrap();
        let any = |f: &dyn Fn(&GroupRow) -> bool| usize::from(r.groups.iter().any(f));
        senior += any(&|g| g.kind == GroupKind::ManagerOfManagers && !g.reports.suppressed);
        unit += any(&|g| g.kind == GroupKind::OrgUnit && !g.reports.suppressed);
        complementary += any(&|g| {
            g.reports.suppressed_reason == Some(Suppression::Complementary)
                || g.managers.suppressed_reason == Some(Suppression::Complementary)
        });
        managers += any(&|g| g.id != "org" && !g.managers.suppressed);
    }
    for (what, n) in [
        ("a shown manager-of-managers group", senior),
        ("a shown org unit", unit),
        ("a complementary suppression", complementary),
        ("shown managers' figures below the organisation", managers),
    ] {
        assert!(n >= 30, "only {n} of 300 organisations have {what}");
    }
}
