//! Org mode (`[org]`, docs/org.md) through the real binary: one deployment for every manager
//! of a company, against the Google fake (service account with domain-wide delegation, the
//! Admin Directory swept as the admin) and the Graph fake (app-only, `/users` with the manager
//! expanded). Each manager's roster and alerts are theirs alone, alerts reach each manager's
//! own address through a real SMTP server, a failed sweep keeps the previous roster, and
//! suspended or disabled people are neither managers nor reports.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};
use testkit::fake_google::{DirUser, Endpoint, FakeGoogle};
use testkit::smtp::SmtpServer;

use crate::common::{Env, stderr, stdout};

const NOW: &str = "2026-11-24T09:00:00Z";

/// A throwaway service-account key file (RSA 2048, PKCS#8) pointing at the fake's token URL.
pub(crate) fn service_account_key(token_url: &str) -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    json!({
        "type": "service_account",
        "client_email": "cadenced@proj.iam.gserviceaccount.com",
        "private_key_id": "kid1",
        "private_key": pem,
        "token_uri": token_url,
    })
    .to_string()
}

pub(crate) fn user(email: &str, name: &str, manager: Option<&str>, unit: &str) -> DirUser {
    DirUser {
        email: email.into(),
        full_name: name.into(),
        manager: manager.map(Into::into),
        org_unit: Some(unit.into()),
        ..DirUser::default()
    }
}

/// The org: Cleo manages the managers Mika and Lee; Mika manages Ann, Bo and the suspended
/// Old; Lee manages Zoe; Gone is suspended and "manages" Pat; Ivy is the Workspace admin.
fn directory(admin: bool) -> Vec<DirUser> {
    vec![
        DirUser {
            admin,
            ..user("ivy@example.com", "Ivy Admin", None, "/IT")
        },
        user("cleo@example.com", "Cleo Chief", None, "/"),
        user(
            "mika@example.com",
            "Mika Manager",
            Some("cleo@example.com"),
            "/Eng",
        ),
        user(
            "lee@example.com",
            "Lee Lead",
            Some("CLEO@example.com"),
            "/Sales",
        ),
        user("ann@example.com", "Ann", Some("mika@example.com"), "/Eng"),
        user("bo@example.com", "Bo", Some("mika@example.com"), "/Eng"),
        DirUser {
            suspended: true,
            ..user("old@example.com", "Old", Some("mika@example.com"), "/Eng")
        },
        user("zoe@example.com", "Zoe", Some("lee@example.com"), "/Sales"),
        DirUser {
            suspended: true,
            ..user("gone@example.com", "Gone", None, "/Eng")
        },
        user("pat@example.com", "Pat", Some("gone@example.com"), "/Eng"),
    ]
}

/// A weekly 1on1 of `manager` with `report` since October, in the manager's calendar.
pub(crate) fn one_on_one(g: &FakeGoogle, manager: &str, report: &str) {
    let id = format!(
        "oo{}{}",
        manager.split('@').next().unwrap(),
        report.split('@').next().unwrap()
    );
    g.insert_event(
        manager,
        json!({
            "id": id,
            "summary": "1on1",
            "start": {"dateTime": "2026-10-05T10:00:00Z", "timeZone": "UTC"},
            "end": {"dateTime": "2026-10-05T10:30:00Z", "timeZone": "UTC"},
            "recurrence": ["RRULE:FREQ=WEEKLY"],
            "organizer": {"email": manager, "self": true},
            "attendees": [
                {"email": manager, "self": true, "organizer": true, "responseStatus": "accepted"},
                {"email": report, "responseStatus": "accepted"}
            ]
        }),
    );
}

fn google_env(g: &FakeGoogle, smtp: &SmtpServer) -> Env {
    let env = Env::with_config_text("");
    std::fs::write(
        env.dir.path().join("sa.json"),
        service_account_key(&g.token_url()),
    )
    .unwrap();
    std::fs::write(
        &env.config,
        format!(
            "[manager]\ntimezone = \"UTC\"\n\n\
             [org]\naccount = \"org\"\nadmin = \"ivy@example.com\"\n\n\
             [[accounts]]\nname = \"org\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
             api_base = {:?}\ntoken_url = {:?}\n\n\
             [agenda]\nenabled = false\n\n\
             [alerts]\nchannels = [\"email\"]\n\n\
             [alerts.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\n\
             from = \"cadenced@example.com\"\nto = \"{{manager}}\"\n",
            g.api_base(),
            g.token_url(),
            smtp.port
        ),
    )
    .unwrap();
    env
}

fn ok(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["--now", NOW];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        stderr(&out),
        stdout(&out)
    );
    stdout(&out)
}

fn report(env: &Env, manager: &str) -> Value {
    serde_json::from_str(&ok(env, &["report", "--json", "--manager", manager])).unwrap()
}

fn roster(doc: &Value) -> Vec<String> {
    doc["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_string())
        .collect()
}

/// `(kind, report)` of every report alert.
fn alerts(doc: &Value) -> Vec<(String, String)> {
    doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["report"].is_null())
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["report"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Every message the SMTP server received: recipient → the whole message text.
fn mail_by_recipient(smtp: &SmtpServer) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in smtp.received() {
        assert_eq!(m.rcpt_to.len(), 1, "one recipient per message: {m:?}");
        out.entry(m.rcpt_to[0].clone())
            .or_default()
            .push(String::from_utf8_lossy(&m.data).into_owned());
    }
    out
}

#[test]
fn org_mode_through_google_gives_every_manager_their_own_roster_alerts_and_mail() {
    let g = FakeGoogle::start();
    for who in [
        "ivy@example.com",
        "cleo@example.com",
        "mika@example.com",
        "lee@example.com",
    ] {
        g.add_account(who, "UTC");
    }
    g.set_directory(directory(true));
    one_on_one(&g, "mika@example.com", "ann@example.com");
    one_on_one(&g, "lee@example.com", "zoe@example.com");
    one_on_one(&g, "cleo@example.com", "mika@example.com");
    let smtp = SmtpServer::start();
    let env = google_env(&g, &smtp);

    // Before the directory was ever read nothing is analysed, and the commands say why.
    let out = env.run(&["--now", NOW, "report", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("has not been read yet"),
        "{}",
        stderr(&out)
    );
    let status = ok(&env, &["status"]);
    assert!(status.contains("has not been read yet"), "{status}");

    // One sweep of the directory (as the admin, with the directory scope), then every
    // manager's calendar through their own subject.
    let synced = ok(&env, &["sync"]);
    assert!(synced.contains("org directory: 10 people read"), "{synced}");
    let sweeps = g.requests_to(Endpoint::DirectoryUsersList);
    assert_eq!(sweeps.len(), 1);
    assert_eq!(sweeps[0].account.as_deref(), Some("ivy@example.com"));
    assert_eq!(sweeps[0].param("customer"), Some("my_customer"));
    for m in ["cleo", "lee", "mika"] {
        assert!(
            synced.contains(&format!("org:{m}@example.com: ")),
            "{synced}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    let file = env.state.join("org").join("directory.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Each manager: exactly their direct reports, and only their alerts. Cleo manages
    // managers; the suspended Old is nobody's report; the suspended Gone manages nobody, so
    // Pat is in no roster.
    let cleo = report(&env, "cleo@example.com");
    let mika = report(&env, "mika@example.com");
    let lee = report(&env, "lee@example.com");
    assert_eq!(roster(&cleo), ["lee@example.com", "mika@example.com"]);
    assert_eq!(roster(&mika), ["ann@example.com", "bo@example.com"]);
    assert_eq!(roster(&lee), ["zoe@example.com"]);
    assert_eq!(cleo["complete"], true, "{cleo}");
    assert_eq!(
        alerts(&cleo),
        [("no_series".to_string(), "lee@example.com".to_string())]
    );
    assert_eq!(
        alerts(&mika),
        [("no_series".to_string(), "bo@example.com".to_string())]
    );
    assert_eq!(alerts(&lee), []);
    let out = env.run(&[
        "--now",
        NOW,
        "report",
        "--json",
        "--manager",
        "gone@example.com",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    // Each manager's accounts are only theirs.
    let accounts: Vec<&str> = mika["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(accounts, ["org:mika@example.com"]);

    // Without --manager: one document per line, in manager order.
    let all = ok(&env, &["report", "--json"]);
    let docs: Vec<Value> = all
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(docs.len(), 3);
    assert_eq!(roster(&docs[0]), roster(&cleo));
    assert_eq!(roster(&docs[2]), roster(&mika));

    // One cycle: each manager's alerts reach their own address, never another's.
    ok(&env, &["run", "--once"]);
    let mail = mail_by_recipient(&smtp);
    assert_eq!(
        mail.keys().collect::<Vec<_>>(),
        ["cleo@example.com", "mika@example.com"],
        "{mail:?}"
    );
    let cleo_mail = mail["cleo@example.com"].join("\n");
    let mika_mail = mail["mika@example.com"].join("\n");
    assert!(cleo_mail.contains("lee@example.com"));
    assert!(!cleo_mail.contains("bo@example.com"));
    assert!(mika_mail.contains("bo@example.com"));
    assert!(!mika_mail.contains("lee@example.com") && !mika_mail.contains("zoe@example.com"));
    let listed: Value = serde_json::from_str(&ok(
        &env,
        &["alerts", "--json", "--manager", "mika@example.com"],
    ))
    .unwrap();
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["report"], "bo@example.com");
    assert_eq!(listed[0]["delivered_on"], json!(["email"]));
    // A second cycle sends nothing new.
    ok(&env, &["run", "--once"]);
    assert_eq!(smtp.received().len(), 2);

    // The directory changes (Bo moves to Lee), but the next sweep fails (Ivy lost her admin
    // role: 403): the previous rosters stay, and the failure is said.
    let mut moved = directory(false);
    for u in &mut moved {
        if u.email == "bo@example.com" {
            u.manager = Some("lee@example.com".into());
        }
    }
    g.set_directory(moved.clone());
    let out = env.run(&["--now", NOW, "sync", "--full"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("kept"), "{}", stderr(&out));
    assert_eq!(g.requests_to(Endpoint::DirectoryUsersList).len(), 2);
    assert_eq!(roster(&report(&env, "mika@example.com")), roster(&mika));
    assert_eq!(roster(&report(&env, "lee@example.com")), roster(&lee));

    // Once the sweep works again, Bo is Lee's: Mika's alert about Bo is no longer Mika's.
    for u in &mut moved {
        if u.email == "ivy@example.com" {
            u.admin = true;
        }
    }
    g.set_directory(moved);
    ok(&env, &["sync", "--full"]);
    assert_eq!(
        roster(&report(&env, "lee@example.com")),
        ["bo@example.com", "zoe@example.com"]
    );
    assert_eq!(
        roster(&report(&env, "mika@example.com")),
        ["ann@example.com"]
    );
    assert_eq!(alerts(&report(&env, "mika@example.com")), []);
}

/// `GET path` on the daemon's listener: status and body.
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))?;
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no response head"))?;
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("no status"))?;
    Ok((code, body.to_string()))
}

/// Kills the daemon when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_daemon_in_org_mode_syncs_and_analyses_every_manager_and_serves_each_report() {
    let g = FakeGoogle::start();
    for who in [
        "ivy@example.com",
        "cleo@example.com",
        "mika@example.com",
        "lee@example.com",
    ] {
        g.add_account(who, "UTC");
    }
    g.set_directory(directory(true));
    one_on_one(&g, "mika@example.com", "ann@example.com");
    one_on_one(&g, "lee@example.com", "zoe@example.com");
    one_on_one(&g, "cleo@example.com", "mika@example.com");
    let smtp = SmtpServer::start();
    let env = google_env(&g, &smtp);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut text = std::fs::read_to_string(&env.config).unwrap();
    text.push_str(&format!(
        "\n[daemon]\nlisten = \"127.0.0.1:{port}\"\n\n[sync]\ninterval = \"30s\"\n"
    ));
    std::fs::write(&env.config, text).unwrap();
    let log = env.dir.path().join("daemon.log");
    let mut daemon = Running(
        env.cmd(&["--now", NOW, "run"])
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("JOURNAL_STREAM")
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The daemon sweeps the directory, syncs each manager's account in its own task, analyses
    // each manager and mails each their own alerts.
    let started = std::time::Instant::now();
    while smtp.received().len() < 2 {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            panic!(
                "the daemon exited ({status}): {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "no mail: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let mail = mail_by_recipient(&smtp);
    assert_eq!(
        mail.keys().collect::<Vec<_>>(),
        ["cleo@example.com", "mika@example.com"],
        "{mail:?}"
    );
    assert!(
        mail["mika@example.com"]
            .join("\n")
            .contains("bo@example.com")
    );
    assert!(
        !mail["mika@example.com"]
            .join("\n")
            .contains("lee@example.com")
    );

    // /healthz covers every manager's account.
    let (code, body) = http_get(port, "/healthz").unwrap();
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(code, 200, "{body}");
    let mut names: Vec<&str> = health["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["account"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "org:cleo@example.com",
            "org:lee@example.com",
            "org:mika@example.com"
        ]
    );
    // Each manager's report; without a manager, the list of them.
    let (code, body) = http_get(port, "/api/report?manager=mika%40example.com").unwrap();
    assert_eq!(code, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(roster(&doc), ["ann@example.com", "bo@example.com"]);
    let (code, body) = http_get(port, "/api/report").unwrap();
    assert_eq!(code, 404);
    let listed: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["managers"],
        json!(["cleo@example.com", "lee@example.com", "mika@example.com"])
    );
    let (code, body) = http_get(port, "/?manager=%3Cb%3Ex").unwrap();
    assert_eq!(code, 404);
    assert!(
        !body.contains("<b>x") && body.contains("&lt;b&gt;x"),
        "{body}"
    );
    let (code, body) = http_get(port, "/?manager=lee%40example.com").unwrap();
    assert_eq!(code, 200);
    assert!(
        body.contains("zoe@example.com") || body.contains("Zoe"),
        "{body}"
    );
}

// ---------------------------------------------------------------- Microsoft Graph, app-only

mod graph {
    use super::*;
    use testkit::fake_graph::{
        self, APP_CLIENT_ID, APP_CLIENT_SECRET, DEFAULT_USER, FakeGraph, NewEvent, OrgUser,
        TENANT_ID,
    };

    const SECRET_VAR: &str = "CADENCED_TEST_GRAPH_SECRET";
    const MEGAN: &str = "megan@contoso.onmicrosoft.com";
    const LYNNE: &str = "lynne@contoso.onmicrosoft.com";

    fn u(id: &str, upn: &str, manager: Option<&str>, enabled: bool, dept: &str) -> OrgUser {
        OrgUser {
            id: id.into(),
            upn: upn.into(),
            mail: Some(upn.into()),
            display_name: upn.split('@').next().unwrap().into(),
            manager: manager.map(Into::into),
            account_enabled: enabled,
            department: Some(dept.into()),
            hire_date: None,
        }
    }

    /// Adele (the default mailbox) manages the managers Megan and Lynne; Megan manages Alex,
    /// Diego and the disabled Isaiah; Lynne manages Grady; the disabled Joni "manages" Lee.
    fn users() -> Vec<OrgUser> {
        vec![
            u("1", DEFAULT_USER, None, true, "Board"),
            u("2", MEGAN, Some("1"), true, "Eng"),
            u("3", LYNNE, Some("1"), true, "Sales"),
            OrgUser {
                hire_date: Some("2026-11-02T00:00:00Z".into()),
                ..u("4", "alex@contoso.onmicrosoft.com", Some("2"), true, "Eng")
            },
            u("5", "diego@contoso.onmicrosoft.com", Some("2"), true, "Eng"),
            u(
                "6",
                "isaiah@contoso.onmicrosoft.com",
                Some("2"),
                false,
                "Eng",
            ),
            u(
                "7",
                "grady@contoso.onmicrosoft.com",
                Some("3"),
                true,
                "Sales",
            ),
            u("8", "joni@contoso.onmicrosoft.com", None, false, "Eng"),
            u("9", "lee@contoso.onmicrosoft.com", Some("8"), true, "Eng"),
        ]
    }

    fn weekly(g: &FakeGraph, mailbox: &str, report: &str) {
        assert!(g.use_mailbox(mailbox));
        g.add_series(
            &NewEvent::new("1on1", "2026-10-05T10:00", "2026-10-05T10:30", "UTC")
                .attendee(report, "required", "accepted"),
            json!({
                "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"],
                            "firstDayOfWeek": "monday"},
                "range": {"type": "noEnd", "startDate": "2026-10-05", "recurrenceTimeZone": "UTC"}
            }),
        );
    }

    fn run(env: &Env, args: &[&str]) -> std::process::Output {
        env.cmd(&[&["--now", NOW], args].concat())
            .env(SECRET_VAR, APP_CLIENT_SECRET)
            .output()
            .unwrap()
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

    fn report(env: &Env, manager: &str) -> Value {
        serde_json::from_str(&ok(env, &["report", "--json", "--manager", manager])).unwrap()
    }

    #[test]
    fn org_mode_through_graph_app_only_gives_every_manager_their_own_roster_alerts_and_mail() {
        let g = FakeGraph::start();
        g.add_mailbox(MEGAN, "Megan Bowen");
        g.add_mailbox(LYNNE, "Lynne Robbins");
        g.set_users(users());
        weekly(&g, MEGAN, "alex@contoso.onmicrosoft.com");
        weekly(&g, LYNNE, "grady@contoso.onmicrosoft.com");
        weekly(&g, DEFAULT_USER, MEGAN);
        let smtp = SmtpServer::start();
        let env = Env::with_config_text(&format!(
            "[manager]\ntimezone = \"UTC\"\n\n[org]\naccount = \"org\"\n\n\
             [[accounts]]\nname = \"org\"\nprovider = \"microsoft\"\ntenant = \"{TENANT_ID}\"\n\
             client_id = \"{APP_CLIENT_ID}\"\nclient_secret_env = \"{SECRET_VAR}\"\n\
             login_base = \"{}\"\ngraph_base = \"{}\"\n\n\
             [agenda]\nenabled = false\n\n\
             [alerts]\nchannels = [\"email\"]\n\n\
             [alerts.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\ntls = \"none\"\n\
             from = \"cadenced@example.com\"\nto = [\"{{manager}}\"]\n",
            g.url(),
            g.graph_base(),
            smtp.port
        ));

        let synced = ok(&env, &["sync"]);
        assert!(synced.contains("org directory: 9 people read"), "{synced}");
        // One sweep, app-only, with the manager expanded and the hire date selected.
        let sweeps = g.requests_to(fake_graph::Endpoint::Users);
        assert_eq!(sweeps.len(), 1);
        let q = |k: &str| {
            sweeps[0]
                .query
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(q("$expand").as_deref(), Some("manager"));
        assert!(q("$select").unwrap().contains("employeeHireDate"));
        // Every calendar is read under its own mailbox path.
        for m in [DEFAULT_USER, MEGAN, LYNNE] {
            assert!(
                g.requests()
                    .iter()
                    .any(|r| r.path.starts_with(&format!("/v1.0/users/{m}/"))
                        || r.path
                            .starts_with(&format!("/v1.0/users/{}/", m.replace('@', "%40")))),
                "no request for {m}"
            );
        }

        let adele = report(&env, DEFAULT_USER);
        let megan = report(&env, MEGAN);
        let lynne = report(&env, LYNNE);
        assert_eq!(roster(&adele), [LYNNE, MEGAN]);
        assert_eq!(
            roster(&megan),
            [
                "alex@contoso.onmicrosoft.com",
                "diego@contoso.onmicrosoft.com"
            ]
        );
        assert_eq!(roster(&lynne), ["grady@contoso.onmicrosoft.com"]);
        // The hire date is the report's tenure start.
        assert_eq!(megan["reports"][0]["start"], "2026-11-02", "{megan}");
        assert_eq!(
            alerts(&adele),
            [("no_series".to_string(), LYNNE.to_string())]
        );
        assert_eq!(
            alerts(&megan),
            [(
                "no_series".to_string(),
                "diego@contoso.onmicrosoft.com".to_string()
            )]
        );
        assert_eq!(alerts(&lynne), []);
        // The disabled Joni manages nobody.
        let out = run(
            &env,
            &["report", "--manager", "joni@contoso.onmicrosoft.com"],
        );
        assert_eq!(out.status.code(), Some(2));

        ok(&env, &["run", "--once"]);
        let mail = mail_by_recipient(&smtp);
        assert_eq!(
            mail.keys().map(String::as_str).collect::<Vec<_>>(),
            [DEFAULT_USER, MEGAN],
            "{mail:?}"
        );
        assert!(
            mail[MEGAN]
                .join("\n")
                .contains("diego@contoso.onmicrosoft.com")
        );
        assert!(!mail[MEGAN].join("\n").contains(LYNNE));
        assert!(mail[DEFAULT_USER].join("\n").contains(LYNNE));
        assert!(!mail[DEFAULT_USER].join("\n").contains("diego@"));

        // A failed sweep (the app lost its User.Read.All grant: 403) keeps the rosters.
        let mut moved = users();
        moved[4].manager = Some("3".into());
        g.set_users(moved);
        g.deny_users(true);
        let out = run(&env, &["sync", "--full"]);
        assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
        assert!(stderr(&out).contains("kept"), "{}", stderr(&out));
        assert_eq!(roster(&report(&env, MEGAN)), roster(&megan));
        g.deny_users(false);
        ok(&env, &["sync", "--full"]);
        assert_eq!(
            roster(&report(&env, MEGAN)),
            ["alex@contoso.onmicrosoft.com"]
        );
        assert_eq!(
            roster(&report(&env, LYNNE)),
            [
                "diego@contoso.onmicrosoft.com",
                "grady@contoso.onmicrosoft.com"
            ]
        );
    }
}
