//! `directory = true`: the Microsoft account user's direct reports (Graph `directReports`, from
//! the fake's org chart) join the roster of `report`, after the configured `[[reports]]`.

use crate::common;
use crate::ms_env;
use testkit::fake_graph;

use common::{Env, stderr, stdout};
use fake_graph::{DEFAULT_USER, Endpoint, FakeGraph, NewEvent, PUBLIC_CLIENT_ID, TENANT_ID};
use ms_env::*;
use serde_json::{Value, json};

fn env(g: &FakeGraph, directory: bool) -> Env {
    let env = Env::with_config_text(&format!(
        "[manager]\nemail = \"{DEFAULT_USER}\"\n\n[[reports]]\nemail = \"Alice@contoso.com\"\n\
         cadence = \"weekly\"\n\n[[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\n\
         tenant = \"{TENANT_ID}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\nlogin_base = \"{}\"\n\
         graph_base = \"{}\"\ndirectory = {directory}\n",
        g.url(),
        g.graph_base()
    ));
    import_refresh_token(&env);
    env
}

fn report(env: &Env) -> Value {
    let out = env.run(&["report", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

fn emails(r: &Value) -> Vec<String> {
    r["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["email"].as_str().unwrap().to_lowercase())
        .collect()
}

fn org() -> FakeGraph {
    let g = FakeGraph::start();
    g.add_direct_report("Alice Example", "alice@contoso.com");
    g.add_direct_report("Bob Builder", "bob@contoso.com");
    g.add_direct_report_contact("Carol Contact", "carol@partner.example");
    g.add_series(
        &NewEvent::new(
            "Bob / Adele 1on1",
            &local(-60, "09:00"),
            &local(-60, "09:30"),
            ZONE,
        )
        .attendee("bob@contoso.com", "required", "accepted"),
        json!({
            "pattern": {"type": "weekly", "interval": 1,
                        "daysOfWeek": [chrono::Utc::now().checked_sub_signed(chrono::Duration::days(60)).unwrap().format("%A").to_string().to_lowercase()],
                        "firstDayOfWeek": "monday"},
            "range": {"type": "noEnd", "startDate": date(-60), "recurrenceTimeZone": ZONE}
        }),
    );
    g
}

#[test]
fn direct_reports_join_the_roster_after_the_configured_ones() {
    let g = org();
    let env = env(&g, true);
    g.clear_log();
    assert_ok(&sync(&env));
    let dr = g.requests_to(Endpoint::DirectReports);
    assert_eq!(dr.len(), 1);
    assert!(dr[0].path.ends_with("/me/directReports"), "{}", dr[0].path);
    let r = report(&env);
    assert_eq!(
        emails(&r),
        vec![
            "alice@contoso.com",
            "bob@contoso.com",
            "carol@partner.example"
        ]
    );
    let bob = &r["reports"][1];
    assert_eq!(bob["name"], "Bob Builder");
    assert_eq!(bob["cadence_source"], "recurrence");
    assert!(bob["held"].as_u64().unwrap() >= 8, "{bob}");
    use std::os::unix::fs::PermissionsExt;
    let file = env.state.join("directory").join(format!("{ACCOUNT}.json"));
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The org chart is read again a day later, not on every poll.
    g.clear_log();
    assert_ok(&sync(&env));
    assert_eq!(g.requests().len(), 1, "an idle poll: {:?}", g.requests());
    g.add_direct_report("Dan New", "dan@contoso.com");
    assert_ok(&sync_at(
        &env,
        chrono::Utc::now() + chrono::Duration::hours(25),
    ));
    assert_eq!(g.count(Endpoint::DirectReports), 1);
    let r = report(&env);
    assert_eq!(emails(&r).len(), 4, "{:?}", emails(&r));
    assert_matches(&env, &g);
}

#[test]
fn without_directory_the_roster_is_the_config() {
    let g = org();
    let env = env(&g, false);
    assert_ok(&sync(&env));
    assert_eq!(g.count(Endpoint::DirectReports), 0);
    assert_eq!(emails(&report(&env)), vec!["alice@contoso.com"]);
    assert_matches(&env, &g);
}

#[test]
fn a_directory_hire_date_is_the_reports_tenure_start() {
    let g = FakeGraph::start();
    let hired = chrono::Utc::now() - chrono::Duration::days(20);
    let hired_text = hired.format("%Y-%m-%dT00:00:00Z").to_string();
    // Alice is configured (without `joined`), Erin only comes from the directory.
    g.add_direct_report_hired("Alice Example", "alice@contoso.com", &hired_text);
    g.add_direct_report_hired("Erin New", "erin@contoso.com", &hired_text);
    let env = env(&g, true);
    g.clear_log();
    assert_ok(&sync(&env));
    // Graph returns employeeHireDate only when it is selected.
    let dr = g.requests_to(Endpoint::DirectReports);
    assert!(
        dr[0]
            .query
            .iter()
            .any(|(k, v)| k == "$select" && v.contains("employeeHireDate")),
        "{:?}",
        dr[0].query
    );
    let r = report(&env);
    let day = hired.format("%Y-%m-%d").to_string();
    assert_eq!(r["reports"][0]["start"], day.as_str(), "{r}");
    assert_eq!(r["reports"][1]["email"], "erin@contoso.com");
    assert_eq!(r["reports"][1]["start"], day.as_str(), "{r}");
}
