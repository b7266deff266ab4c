//! `report --org` (docs/org-rollup.md) through the binary. The rollup's figures and suppression
//! are tested beside the code (`rollup::tests`); org mode's end-to-end runs come with org mode.

use crate::common::{Env, fixture, stderr, stdout};

#[test]
fn report_org_without_an_org_section_is_a_usage_error_in_one_sentence() {
    let env = Env::with_feed(&fixture("overrides.ics"), "Asia/Tokyo");
    let page = env.dir.path().join("org.html");
    let page = page.to_str().unwrap();
    for args in [
        &["report", "--org"][..],
        &["report", "--org", "--json"],
        &["report", "--org", "--html", page],
    ] {
        let out = env.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "{args:?}: {}", stdout(&out));
        let err = stderr(&out);
        assert!(
            err.contains("report --org needs an [org] section in the config"),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    }
    assert!(!std::path::Path::new(page).exists());
    // Without --org, report is unchanged.
    let out = env.run(&["report", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

// ------------------------------------------------------------ through org mode (Google fake)

mod through_org_mode {
    use serde_json::Value;
    use testkit::fake_google::{DirUser, FakeGoogle};

    use crate::common::{Env, stderr, stdout};
    use crate::org::{one_on_one, service_account_key, user};

    const NOW: &str = "2026-11-24T09:00:00Z";

    /// Sam (org unit /Eng) manages the managers Ann (/Eng, six reports), Bea (/Sales, five)
    /// and Cy (/Tiny, two); `with_dan` adds Dan (/Ops, five reports), a manager of nobody's.
    /// Every report's name and address, to look for in the outputs.
    fn org(with_dan: bool) -> (Vec<DirUser>, Vec<(String, String)>) {
        let mut people = vec![
            DirUser {
                admin: true,
                ..user("ivy@example.com", "Ivy Admin", None, "/IT")
            },
            user("sam@example.com", "Sam Senior", None, "/Eng"),
        ];
        let mut reports = Vec::new();
        let mut add = |people: &mut Vec<DirUser>, email: &str, name: &str, boss: &str, unit| {
            people.push(user(email, name, Some(boss), unit));
            reports.push((email.to_string(), name.to_string()));
        };
        add(
            &mut people,
            "ann@example.com",
            "Ann Alpha",
            "sam@example.com",
            "/Eng",
        );
        add(
            &mut people,
            "bea@example.com",
            "Bea Beta",
            "sam@example.com",
            "/Sales",
        );
        add(
            &mut people,
            "cy@example.com",
            "Cy Gamma",
            "sam@example.com",
            "/Tiny",
        );
        let mut teams = vec![
            ("ann@example.com", "/Eng", "a", 6),
            ("bea@example.com", "/Sales", "b", 5),
            ("cy@example.com", "/Tiny", "c", 2),
        ];
        if with_dan {
            people.push(user("dan@example.com", "Dan Delta", None, "/Ops"));
            teams.push(("dan@example.com", "/Ops", "d", 5));
        }
        for (boss, unit, tag, n) in teams {
            for k in 1..=n {
                add(
                    &mut people,
                    &format!("{tag}{k}.rep@example.com"),
                    &format!("Rhea {tag}{k} Person"),
                    boss,
                    unit,
                );
            }
        }
        (people, reports)
    }

    /// The weekly 1on1s since 5 October: Sam with Ann and Bea (not Cy), Ann with four of her
    /// six, Bea with all five, Cy with one of two.
    fn meetings(g: &FakeGoogle) {
        for who in ["ivy", "sam", "ann", "bea", "cy"] {
            g.add_account(&format!("{who}@example.com"), "UTC");
        }
        one_on_one(g, "sam@example.com", "ann@example.com");
        one_on_one(g, "sam@example.com", "bea@example.com");
        for k in 1..=4 {
            one_on_one(g, "ann@example.com", &format!("a{k}.rep@example.com"));
        }
        for k in 1..=5 {
            one_on_one(g, "bea@example.com", &format!("b{k}.rep@example.com"));
        }
        one_on_one(g, "cy@example.com", "c1.rep@example.com");
    }

    fn env(g: &FakeGoogle, min_group: Option<u32>) -> Env {
        let env = Env::with_config_text("");
        std::fs::write(
            env.dir.path().join("sa.json"),
            service_account_key(&g.token_url()),
        )
        .unwrap();
        let min_group = min_group.map_or(String::new(), |n| format!("min_group = {n}\n"));
        std::fs::write(
            &env.config,
            format!(
                "[manager]\ntimezone = \"UTC\"\n\n\
                 [org]\naccount = \"org\"\nadmin = \"ivy@example.com\"\n{min_group}\n\
                 [[accounts]]\nname = \"org\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
                 api_base = {:?}\ntoken_url = {:?}\n\n\
                 [agenda]\nenabled = false\n",
                g.api_base(),
                g.token_url(),
            ),
        )
        .unwrap();
        env
    }

    fn run(env: &Env, args: &[&str]) -> std::process::Output {
        env.run(&[&["--now", NOW], args].concat())
    }

    fn ok(env: &Env, args: &[&str]) -> String {
        let out = run(env, args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            stderr(&out),
            stdout(&out)
        );
        stdout(&out)
    }

    /// The three outputs of `report --org`: the JSON document, the table, the HTML page.
    fn outputs(env: &Env) -> (Value, String, String) {
        let doc: Value = serde_json::from_str(&ok(env, &["report", "--org", "--json"])).unwrap();
        let text = ok(env, &["report", "--org"]);
        let page = env.dir.path().join("org.html");
        ok(env, &["report", "--org", "--html", page.to_str().unwrap()]);
        let html = std::fs::read_to_string(&page).unwrap();
        (doc, text, html)
    }

    fn group<'a>(doc: &'a Value, id: &str) -> &'a Value {
        doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["id"] == id)
            .unwrap_or_else(|| panic!("no group {id}: {doc:#}"))
    }

    /// The figures of a shown reports block: people, held in 30 days, its percent, the two
    /// medians, and the trend.
    fn shown(block: &Value) -> (u64, u64, f64, f64, f64, Vec<f64>) {
        assert_eq!(block["suppressed"], false, "{block}");
        assert!(block["suppressed_reason"].is_null(), "{block}");
        (
            block["people"].as_u64().unwrap(),
            block["held_30d"].as_u64().unwrap(),
            block["held_30d_percent"].as_f64().unwrap(),
            block["median_per_30d"].as_f64().unwrap(),
            block["median_expected_interval_days"].as_f64().unwrap(),
            block["trend_held_30d_percent"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_f64().unwrap())
                .collect(),
        )
    }

    /// Every figure of a block null (every trend point too, the 12 kept), for `reason`.
    fn hidden(block: &Value, reason: &str) {
        assert_eq!(block["suppressed"], true, "{block}");
        assert_eq!(block["suppressed_reason"], reason, "{block}");
        for (k, v) in block.as_object().unwrap() {
            match k.as_str() {
                "suppressed" | "suppressed_reason" => {}
                "trend_held_30d_percent" => {
                    let points = v.as_array().unwrap();
                    assert_eq!(points.len(), 12);
                    assert!(points.iter().all(Value::is_null), "{block}");
                }
                _ => assert!(v.is_null(), "{k} shown in a hidden block: {block}"),
            }
        }
    }

    /// The trend of a group whose people all started their weekly 1on1s on 5 October: the 30
    /// days before each of the last 12 Tuesdays 09:00 hold one of them from the 6 October point
    /// on (the eighth point).
    fn trend(percent: f64) -> Vec<f64> {
        let mut t = vec![0.0; 4];
        t.extend([percent; 8]);
        t
    }

    /// No report's name or e-mail anywhere in `out`.
    fn no_report_in(out: &str, reports: &[(String, String)], what: &str) {
        for (email, name) in reports {
            assert!(
                !out.contains(email.as_str()),
                "{email} in the {what}:\n{out}"
            );
            assert!(!out.contains(name.as_str()), "{name} in the {what}:\n{out}");
        }
    }

    /// The table's line for a group (by its label's start).
    fn line<'a>(text: &'a str, label: &str) -> &'a str {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("no line {label:?}:\n{text}"))
    }

    /// The HTML row of a group (by `data-id`, escaped as the page escapes it).
    fn row<'a>(html: &'a str, id: &str) -> &'a str {
        let start = html
            .find(&format!("data-id=\"{}\"", id.replace('/', "&#x2f;")))
            .unwrap_or_else(|| panic!("no row {id}:\n{html}"));
        let end = html[start..].find("</tr>").unwrap() + start;
        &html[start..end]
    }

    #[test]
    fn the_rollup_of_an_org_read_through_google_hides_every_group_under_five() {
        let g = FakeGoogle::start();
        meetings(&g);
        let (people, reports) = org(false);
        g.set_directory(people);
        let env = env(&g, None);
        ok(&env, &["sync"]);
        let (doc, text, html) = outputs(&env);

        // The groups: the organisation, the org units by name, then Sam's tree.
        let ids: Vec<&str> = doc["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "org",
                "unit:/Eng",
                "unit:/Sales",
                "unit:/Tiny",
                "manager:sam@example.com"
            ],
            "{doc:#}"
        );
        assert_eq!(doc["min_group"], 5);
        assert_eq!(doc["managers_left_out"], 0);
        assert_eq!(doc["now"], NOW);

        // Counted by hand. The people of the organisation and of Sam's group: Ann, Bea and Cy
        // (Sam's reports) and their 6 + 5 + 2: 16. Held in the last 30 days: Ann, Bea, a1–a4,
        // b1–b5, c1: 12 (75 %). Each of them held 8 weekly 1on1s in the last 90 days (from
        // 5 October): 2.67 per 30 days, the others 0: the median (8th and 9th of 16) is 2.7.
        // Expected intervals: 7 days for the 12 with a weekly series, the default 14 for the
        // 4 without: the median is 7.
        for id in ["org", "manager:sam@example.com"] {
            assert_eq!(
                shown(&group(&doc, id)["reports"]),
                (16, 12, 75.0, 2.7, 7.0, trend(75.0)),
                "{id}"
            );
        }
        // /Eng: Sam's three and Ann's six: 9; held: Ann, Bea, a1–a4: 6 (66.7 %); the median
        // rate is the 5th of 9 (three zeros): 2.7.
        assert_eq!(
            shown(&group(&doc, "unit:/Eng")["reports"]),
            (9, 6, 66.7, 2.7, 7.0, trend(66.7))
        );
        // /Tiny (Cy's two) is too small; /Sales (Bea's five) would be enough, but the
        // organisation minus /Eng minus /Sales would be Cy's two: hidden too.
        hidden(
            &group(&doc, "unit:/Tiny")["reports"],
            "fewer_than_min_group",
        );
        hidden(&group(&doc, "unit:/Sales")["reports"], "complementary");
        // Four managers in all: no managers' figure anywhere.
        for id in &ids {
            hidden(&group(&doc, id)["managers"], "fewer_than_min_group");
        }
        assert_eq!(group(&doc, "manager:sam@example.com")["name"], "Sam Senior");
        assert_eq!(group(&doc, "manager:sam@example.com")["parent"], "org");

        // The table says the same.
        let org_line = line(&text, "Whole organisation");
        for want in [
            "16",
            "12 (75.0%)",
            "2.7",
            "every 7 days",
            "▁▁▁▁▆▆▆▆▆▆▆▆ 75.0%",
        ] {
            assert!(org_line.contains(want), "{want:?} not in {org_line:?}");
        }
        let eng = line(&text, "org unit /Eng");
        assert!(eng.contains("6 (66.7%)"), "{eng}");
        let tiny = line(&text, "org unit /Tiny");
        assert!(
            tiny.contains("fewer than 5") && !tiny.contains('%'),
            "{tiny}"
        );
        let sales = line(&text, "org unit /Sales");
        assert!(sales.contains("hidden") && !sales.contains('%'), "{sales}");
        assert!(
            line(&text, "under Sam Senior <sam@example.com>").contains("12 (75.0%)"),
            "{text}"
        );
        assert!(!text.contains("left out"), "{text}");
        // The page: the same rows, hidden ones in words and without figures.
        assert!(
            row(&html, "org").contains("<td class=\"c-people\">16</td>"),
            "{}",
            row(&html, "org")
        );
        let tiny = row(&html, "unit:/Tiny");
        assert!(
            tiny.contains("fewer than 5") && !tiny.contains("c-held") && !tiny.contains("<svg"),
            "{tiny}"
        );
        let sales = row(&html, "unit:/Sales");
        assert!(
            sales.contains("hidden (would reveal a smaller group)") && !sales.contains("c-held"),
            "{sales}"
        );
        assert!(row(&html, "unit:/Eng").contains("<svg"), "{html}");
        for (what, out) in [("JSON", doc.to_string()), ("table", text), ("page", html)] {
            no_report_in(&out, &reports, what);
        }

        // min_group = 5 written out is the default; 4 is refused, naming the key.
        let five = env_with_min_group(&g, &env, Some(5));
        let again: Value =
            serde_json::from_str(&ok(&five, &["report", "--org", "--json"])).unwrap();
        assert_eq!(again, doc);
        let four = env_with_min_group(&g, &env, Some(4));
        for args in [
            &["report", "--org", "--json"][..],
            &["report", "--org"],
            &["check"],
        ] {
            let out = run(&four, args);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stdout(&out));
            // `report` says it on stderr and prints nothing else; `check` lists it on stdout.
            let (said, other) = if args == ["check"] {
                (stdout(&out), String::new())
            } else {
                (stderr(&out), stdout(&out))
            };
            assert!(
                said.contains("org.min_group: must be at least 5"),
                "{args:?}: {said}"
            );
            assert!(other.is_empty(), "{args:?}: {other}");
        }
    }

    /// A config like `env`'s with `[org] min_group`, on the same state directory.
    fn env_with_min_group(g: &FakeGoogle, base: &Env, min_group: Option<u32>) -> Env {
        let other = env(g, min_group);
        std::fs::copy(
            base.dir.path().join("sa.json"),
            other.dir.path().join("sa.json"),
        )
        .unwrap();
        Env {
            state: base.state.clone(),
            ..other
        }
    }

    #[test]
    fn a_manager_whose_calendar_cannot_be_read_is_left_out_of_every_figure() {
        let g = FakeGoogle::start();
        meetings(&g);
        // Dan is in the directory but not in the Workspace the service account can act in:
        // the token for him as the subject is refused, so his calendar is never read.
        let (people, reports) = org(true);
        g.set_directory(people);
        let env = env(&g, None);
        let out = run(&env, &["sync"]);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(stderr(&out).contains("dan@example.com"), "{}", stderr(&out));
        let (doc, text, html) = outputs(&env);
        assert_eq!(doc["managers_left_out"], 1, "{doc:#}");
        // None of his five reports is counted (they would be people without a 1on1), and his
        // org unit has no group.
        assert_eq!(
            shown(&group(&doc, "org")["reports"]),
            (16, 12, 75.0, 2.7, 7.0, trend(75.0))
        );
        assert!(
            doc["groups"]
                .as_array()
                .unwrap()
                .iter()
                .all(|g| g["id"] != "unit:/Ops"),
            "{doc:#}"
        );
        assert!(
            text.contains("1 manager is left out of every figure"),
            "{text}"
        );
        assert!(
            html.contains("1 manager is left out of every figure"),
            "{html}"
        );
        for (what, out) in [("JSON", doc.to_string()), ("table", text), ("page", html)] {
            no_report_in(&out, &reports, what);
        }

        // Once his calendar can be read (with 1on1s with d1–d3), he and his five count.
        g.add_account("dan@example.com", "UTC");
        for k in 1..=3 {
            one_on_one(&g, "dan@example.com", &format!("d{k}.rep@example.com"));
        }
        ok(&env, &["sync"]);
        let (doc, _, _) = outputs(&env);
        assert_eq!(doc["managers_left_out"], 0, "{doc:#}");
        // 21 people, 15 held (71.4 %); the median rate is the 11th of 21 (six zeros).
        assert_eq!(
            shown(&group(&doc, "org")["reports"]),
            (21, 15, 71.4, 2.7, 7.0, trend(71.4))
        );
        // /Ops: Dan's five, three held.
        assert_eq!(
            shown(&group(&doc, "unit:/Ops")["reports"]),
            (5, 3, 60.0, 2.7, 7.0, trend(60.0))
        );
        // Sam's group is still his 16.
        assert_eq!(
            shown(&group(&doc, "manager:sam@example.com")["reports"]).0,
            16
        );
        // Five managers: the organisation's managers' figures are shown. Sam (Cy has no 1on1),
        // Ann (a5, a6), Cy (c2) and Dan (d4, d5) have an open no_series; Bea has none.
        let managers = &group(&doc, "org")["managers"];
        assert_eq!(managers["suppressed"], false, "{managers}");
        assert_eq!(managers["managers"], 5);
        assert_eq!(managers["with_open_gap_or_no_series"], 4);
        for id in ["unit:/Eng", "unit:/Sales", "unit:/Tiny", "unit:/Ops"] {
            hidden(&group(&doc, id)["managers"], "fewer_than_min_group");
        }
        hidden(&group(&doc, "unit:/Sales")["reports"], "complementary");
        hidden(
            &group(&doc, "unit:/Tiny")["reports"],
            "fewer_than_min_group",
        );
    }
}
