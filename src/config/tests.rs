//! Tests of loading and validation: key paths, lines, all-problems-at-once, defaults.

use super::*;
use std::path::Path;

const FILE: &str = "/etc/cadenced/config.toml";

fn parse_ok(text: &str) -> Config {
    match parse(text, Path::new(FILE)) {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn problems(text: &str) -> Vec<ConfigProblem> {
    match parse(text, Path::new(FILE)) {
        Ok(_) => panic!("expected problems"),
        Err(e) => e.problems().to_vec(),
    }
}

/// The only problem of `text`, as `(key, line, message)`.
fn one(text: &str) -> (String, Option<usize>, String) {
    let p = problems(text);
    assert_eq!(p.len(), 1, "expected one problem, got: {p:#?}");
    let p = p.into_iter().next().unwrap();
    (p.key, p.line, p.message)
}

const MANAGER: &str = "[manager]\nemail = \"mika@example.com\"\n"; // lines 1-2

#[test]
fn example_loads_without_problems() {
    let c = parse_ok(Config::example());
    assert_eq!(c.manager.email, "mika@example.com");
    assert_eq!(c.manager.name.as_deref(), Some("Mika"));
    assert_eq!(c.manager.timezone, chrono_tz::Asia::Tokyo);
    assert_eq!(c.manager.locale, Locale::En);
    assert!(c.reports.len() >= 5);
    assert!(c.reports.iter().any(|r| r.cadence.is_some()));
    assert_eq!(c.accounts.len(), 1);
    assert_eq!(c.accounts[0].name, "example");
    assert_eq!(
        c.accounts[0].kind,
        AccountKind::Ics(IcsAccount {
            source: IcsSource::Path(PathBuf::from("/etc/cadenced/example.ics"))
        })
    );
    // Every live value in the example is the default.
    assert_eq!(c.sync, SyncConfig::default());
    assert_eq!(c.detection, DetectionConfig::default());
    assert_eq!(c.cadence, CadenceConfig::default());
    assert_eq!(c.alerts, AlertsConfig::default());
    assert_eq!(c.agenda, AgendaConfig::default());
    assert_eq!(c.daemon, DaemonConfig::default());
}

#[test]
fn example_with_commented_sections_enabled_loads() {
    // Uncommenting every commented key (one section at a time) must give a valid config, so the
    // example's comments stay accurate.
    let text = Config::example();
    let uncomment = |from: &str, to: &str| -> String {
        let start = text.find(from).unwrap();
        let end = text[start..].find(to).map_or(text.len(), |e| start + e);
        let block: String = text[start..end]
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n");
        format!("{}{block}\n{}", &text[..start], &text[end..])
    };
    // Google, user OAuth (client_secret and client_secret_env are alternatives: keep one).
    let google = uncomment(
        "# [[accounts]]\n# name = \"work\"",
        "# Org-wide mode instead",
    )
    .replace("client_secret_env = \"CADENCED_GOOGLE_SECRET\"", "");
    parse_ok(&google);
    // Microsoft, delegated.
    parse_ok(&uncomment(
        "# [[accounts]]\n# name = \"m365\"",
        "# Org-wide mode (client-credentials",
    ));
    // CalDAV.
    let dav = parse_ok(&uncomment("# [[accounts]]\n# name = \"dav\"", "[sync]"));
    let AccountKind::Caldav(c) = &dav.accounts[1].kind else {
        panic!("{:?}", dav.accounts[1])
    };
    assert_eq!(c.url.expose(), "https://caldav.fastmail.com/");
    assert_eq!(c.calendars, ["Work"]);
    assert_eq!(
        c.password,
        SecretSource::Env("CADENCED_DAV_PASSWORD".into())
    );
    // Every alert channel.
    let channels = uncomment("# [alerts.email]", "[agenda]").replace(
        "channels = [\"log\"]",
        "channels = [\"log\", \"email\", \"webhook\", \"command\"]",
    );
    let c = parse_ok(&channels);
    assert_eq!(c.alerts.channels.len(), 4);
    assert_eq!(c.alerts.email.as_ref().map(|e| e.smtp_port), Some(587));
    assert_eq!(
        c.alerts.webhook.as_ref().map(|w| w.format),
        Some(WebhookFormat::Slack)
    );
    // The store on PostgreSQL.
    let c = parse_ok(&uncomment("# [store]", "\u{0}"));
    assert_eq!(
        c.store.url.as_deref(),
        Some("postgres://cadenced@db.example.com:5432/cadenced")
    );
    assert_eq!(
        c.store.password_env.as_deref(),
        Some("CADENCED_DB_PASSWORD")
    );
}

#[test]
fn defaults_from_a_minimal_file() {
    let c = parse_ok(MANAGER);
    assert_eq!(c.manager.timezone, chrono_tz::Tz::UTC);
    assert_eq!(c.manager.locale, Locale::En);
    assert_eq!(c.manager.name, None);
    assert!(c.reports.is_empty() && c.accounts.is_empty());
    assert_eq!(c.sync.past.to_string(), "400d");
    assert_eq!(c.sync.future.to_string(), "120d");
    assert_eq!(c.sync.interval.to_string(), "5m");
    assert_eq!(c.cadence.default, Cadence::Biweekly);
    assert_eq!((c.cadence.grace, c.cadence.uneven_ratio), (0.5, 0.5));
    assert_eq!(c.cadence.lookback.to_string(), "90d");
    assert_eq!(c.alerts.channels, vec![Channel::Log]);
    assert_eq!(c.alerts.digest, Digest::Immediate);
    assert!(c.agenda.enabled && c.agenda.notify_attendees);
    assert_eq!(c.agenda.mode, AgendaMode::Series);
    assert_eq!(c.agenda.lead_time.to_string(), "2d");
    assert_eq!(c.agenda.store, DocumentBackend::Local);
    assert_eq!(c.agenda.dir, PathBuf::from("agendas"));
    assert_eq!(c.agenda.link_base, None);
    assert_eq!(c.agenda.template, AgendaTemplate::Builtin);
    assert_eq!(
        c.agenda.dir_in(Path::new("/var/lib/cadenced")),
        PathBuf::from("/var/lib/cadenced/agendas")
    );
    assert_eq!(c.daemon.listen.to_string(), "127.0.0.1:8737");
    assert_eq!(c.daemon.token_env, None);
}

#[test]
fn account_defaults() {
    let text = format!(
        "{MANAGER}[[accounts]]\nname = \"w\"\nprovider = \"google\"\nclient_id = \"id\"\n\
         [[accounts]]\nname = \"m\"\nprovider = \"microsoft\"\nclient_id = \"cid\"\n"
    );
    let c = parse_ok(&text);
    let AccountKind::Google(g) = &c.accounts[0].kind else {
        panic!()
    };
    assert_eq!(g.calendars, vec!["primary"]);
    assert_eq!(g.api_base, "https://www.googleapis.com");
    assert_eq!(g.token_url, "https://oauth2.googleapis.com/token");
    assert_eq!(g.auth_url, "https://accounts.google.com/o/oauth2/v2/auth");
    assert_eq!(
        g.auth,
        GoogleAuth::OAuth {
            client_id: "id".into(),
            client_secret: None
        }
    );
    let AccountKind::Microsoft(m) = &c.accounts[1].kind else {
        panic!()
    };
    assert_eq!(m.tenant, "organizations");
    assert_eq!(m.graph_base, "https://graph.microsoft.com/v1.0");
    assert_eq!(m.login_base, "https://login.microsoftonline.com");
    assert_eq!(
        m.auth,
        MicrosoftAuth::Delegated {
            client_secret: None
        }
    );
    assert_eq!(
        c.account("m").map(Account::provider),
        Some(Provider::Microsoft)
    );
}

#[test]
fn unknown_key_names_path_line_and_suggestion() {
    let (key, line, msg) =
        one("[manager]\nemail = \"mika@example.com\"\ntimzone = \"Asia/Tokyo\"\n");
    assert_eq!((key.as_str(), line), ("manager.timzone", Some(3)));
    assert!(msg.contains("did you mean `timezone`"), "{msg}");
    let (key, line, _) = one(&format!("{MANAGER}colour = 1\n"));
    assert_eq!((key.as_str(), line), ("manager.colour", Some(3)));
    let (key, line, msg) = one(&format!("{MANAGER}[syncing]\npast = \"1d\"\n"));
    assert_eq!((key.as_str(), line), ("syncing", Some(3)));
    assert!(msg.contains("unknown key"), "{msg}");
}

#[test]
fn unknown_key_in_array_of_tables_entry() {
    let text = format!(
        "{MANAGER}\n[[reports]]\nemail = \"a@example.com\"\n\n[[reports]]\nemail = \"b@example.com\"\n\n\
         [[reports]]\nemial = \"c@example.com\"\n"
    );
    let p = problems(&text);
    assert_eq!(p.len(), 2, "{p:#?}");
    // The typo, on its own line, and the then-missing email, at the entry's header.
    assert_eq!(
        (p[0].key.as_str(), p[0].line),
        ("reports[2].email", Some(10))
    );
    assert_eq!(
        (p[1].key.as_str(), p[1].line),
        ("reports[2].emial", Some(11))
    );
    assert!(
        p[1].message.contains("did you mean `email`"),
        "{}",
        p[1].message
    );
}

#[test]
fn all_problems_are_listed_at_once() {
    let text = "[manager]\n\
                email = \"mika@example.com\"\n\
                timezone = \"Asia/Tokio\"\n\
                [sync]\n\
                interval = \"5x\"\n\
                [cadence]\n\
                default = \"fortnightly\"\n";
    let p = problems(text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("manager.timezone", Some(3)),
            ("sync.interval", Some(5)),
            ("cadence.default", Some(7))
        ]
    );
    let err = parse(text, Path::new(FILE)).unwrap_err().to_string();
    assert_eq!(err.lines().count(), 3);
    assert!(
        err.starts_with(
            "/etc/cadenced/config.toml:3: manager.timezone: unknown time zone \"Asia/Tokio\""
        ),
        "{err}"
    );
}

#[test]
fn syntax_error_is_one_problem_with_its_line() {
    let p = problems("[manager]\nemail = \"mika@example.com\"\nname = Mika\ntimzone = 1\n");
    assert_eq!(p.len(), 1, "{p:#?}");
    assert_eq!((p[0].key.as_str(), p[0].line), ("", Some(3)));
    assert!(
        p[0].to_string()
            .starts_with("/etc/cadenced/config.toml:3: "),
        "{}",
        p[0]
    );
    let p = problems("[manager]\nemail = \"a@b\"\nemail = \"c@d\"\n");
    assert_eq!((p.len(), p[0].line), (1, Some(3)));
}

#[test]
fn missing_required_keys() {
    let (key, line, msg) = one("# comment\n[manager]\nname = \"Mika\"\n");
    assert_eq!((key.as_str(), line), ("manager.email", Some(2)));
    assert!(msg.contains("missing"), "{msg}");

    let p = problems("[sync]\npast = \"1d\"\n");
    assert_eq!((p[0].key.as_str(), p[0].line), ("manager", None));
    assert_eq!(
        p[0].to_string(),
        "/etc/cadenced/config.toml: manager: missing required table [manager]"
    );

    let text = format!("{MANAGER}[[accounts]]\nclient_id = \"x\"\n");
    let p = problems(&text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("accounts[0].name", Some(3)),
            ("accounts[0].provider", Some(3))
        ]
    );
}

#[test]
fn wrong_types() {
    let (key, line, msg) = one(&format!("{MANAGER}[agenda]\nenabled = \"yes\"\n"));
    assert_eq!((key.as_str(), line), ("agenda.enabled", Some(4)));
    assert!(
        msg.contains("expected a boolean") && msg.contains("found a string"),
        "{msg}"
    );
    let (key, _, msg) = one(&format!("{MANAGER}[sync]\npast = 400\n"));
    assert_eq!(key, "sync.past");
    assert!(msg.contains("duration"), "{msg}");
    let (key, line, msg) = one(&format!("{MANAGER}[reports]\nemail = \"a@example.com\"\n"));
    assert_eq!((key.as_str(), line), ("reports", Some(3)));
    assert!(msg.contains("[[reports]]"), "{msg}");
    let (key, line, _) = one(&format!(
        "{MANAGER}[detection]\ntitle_patterns = [\"sync\", 3]\n"
    ));
    assert_eq!(
        (key.as_str(), line),
        ("detection.title_patterns[1]", Some(4))
    );
}

#[test]
fn bad_values_name_their_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "[cadence]\nlookback = \"3 months\"\n",
            "cadence.lookback",
            "invalid duration",
        ),
        ("[cadence]\ngrace = -1\n", "cadence.grace", "0 or more"),
        (
            "[cadence]\nuneven_ratio = 1.5\n",
            "cadence.uneven_ratio",
            "between 0 and 1",
        ),
        (
            "[sync]\ninterval = \"10s\"\n",
            "sync.interval",
            "at least 30s",
        ),
        (
            "[alerts]\ndigest = \"hourly\"\n",
            "alerts.digest",
            "invalid digest",
        ),
        (
            "[alerts]\ndigest = \"weekly someday 09:00\"\n",
            "alerts.digest",
            "invalid digest",
        ),
        (
            "[alerts]\nchannels = [\"sms\"]\n",
            "alerts.channels[0]",
            "unknown channel",
        ),
        (
            "[alerts]\nchannels = [\"log\", \"log\"]\n",
            "alerts.channels[1]",
            "twice",
        ),
        (
            "[alerts]\nchannels = [\"email\"]\n",
            "alerts.channels[0]",
            "[alerts.email]",
        ),
        (
            "[agenda]\nmode = \"weekly\"\n",
            "agenda.mode",
            "\"series\" or \"session\"",
        ),
        (
            "[agenda]\nstore = \"dropbox\"\n",
            "agenda.store",
            "\"local\", \"google-drive\" or \"onedrive\"",
        ),
        (
            "[agenda]\nstore = \"google-drive\"\n",
            "agenda.store",
            "google account",
        ),
        (
            "[agenda]\nlink_base = \"agendas\"\n",
            "agenda.link_base",
            "URL",
        ),
        (
            "[daemon]\nlisten = \"localhost\"\n",
            "daemon.listen",
            "IP:PORT",
        ),
        (
            "[daemon]\nlisten = \"0.0.0.0:8737\"\n",
            "daemon.token_env",
            "loopback",
        ),
        (
            "[daemon]\ntoken_env = \"my-token\"\n",
            "daemon.token_env",
            "environment variable",
        ),
    ];
    for (body, key, needle) in cases {
        let text = format!("{MANAGER}{body}");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{body}: {p:#?}");
        assert_eq!(p[0].key, *key, "{body}");
        assert_eq!(p[0].line, Some(4), "{body}");
        assert!(p[0].message.contains(needle), "{body}: {}", p[0].message);
    }
}

#[test]
fn manager_values() {
    let (key, line, msg) = one("[manager]\nemail = \"mika\"\n");
    assert_eq!((key.as_str(), line), ("manager.email", Some(2)));
    assert!(msg.contains("e-mail"), "{msg}");
    let (key, _, msg) = one(&format!("{MANAGER}timezone = \"asia/tokyo\"\n"));
    assert_eq!(key, "manager.timezone");
    assert!(msg.contains("did you mean \"Asia/Tokyo\""), "{msg}");
    let (key, _, _) = one(&format!("{MANAGER}locale = \"fr\"\n"));
    assert_eq!(key, "manager.locale");
    let c = parse_ok(&format!(
        "{MANAGER}timezone = \"Europe/Berlin\"\nlocale = \"ja\"\n"
    ));
    assert_eq!(
        c.manager.zone(),
        crate::tz::Zone::Iana(chrono_tz::Europe::Berlin)
    );
    assert_eq!(c.manager.locale, Locale::Ja);
}

#[test]
fn report_cadence_and_duplicates() {
    let text = format!(
        "{MANAGER}[[reports]]\nemail = \"alice@example.com\"\ncadence = \"fortnightly\"\n\
         [[reports]]\nemail = \"Alice@Example.com\"\n\
         [[reports]]\nemail = \"bob@example.com\"\naliases = [\"mika@example.com\"]\n"
    );
    let p = problems(&text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("reports[0].cadence", Some(5)),
            ("reports[1].email", Some(7)),
            ("reports[2].aliases[0]", Some(10))
        ]
    );
    assert!(p[0].message.contains("fortnightly"));
    assert!(p[1].message.contains("also on line 4"), "{}", p[1].message);
    assert!(
        p[2].message.contains("manager's own address"),
        "{}",
        p[2].message
    );

    let c = parse_ok(&format!(
        "{MANAGER}[[reports]]\nemail = \"a@example.com\"\ncadence = \"10d\"\naliases = [\"a2@example.com\"]\n"
    ));
    assert_eq!(c.reports[0].cadence, Some(Cadence::Days(10)));
    assert_eq!(
        c.report_for("A2@example.com").map(|r| r.email.as_str()),
        Some("a@example.com")
    );
}

#[test]
fn account_problems() {
    let text = format!(
        "{MANAGER}\
         [[accounts]]\nname = \"work\"\nprovider = \"google\"\n\
         [[accounts]]\nname = \"work\"\nprovider = \"outlook\"\n\
         [[accounts]]\nname = \"feed\"\nprovider = \"ics\"\n\
         [[accounts]]\nname = \"both\"\nprovider = \"ics\"\nurl = \"https://x.example/a.ics\"\npath = \"a.ics\"\n\
         [[accounts]]\nname = \"odd\"\nprovider = \"ics\"\npath = \"a.ics\"\ntenant = \"x\"\n"
    );
    let p = problems(&text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("accounts[0].client_id", Some(3)), // google without client_id: at the header
            ("accounts[1].name", Some(7)),      // duplicate name
            ("accounts[1].provider", Some(8)),  // unknown provider
            ("accounts[2].url", Some(9)),       // ics without url or path
            ("accounts[3].path", Some(16)),     // ics with both
            ("accounts[4].tenant", Some(21)),   // another provider's key
        ]
    );
    assert!(p[1].message.contains("also on line 4"), "{}", p[1].message);
    assert!(
        p[2].message
            .contains("\"google\", \"microsoft\", \"ics\" or \"caldav\""),
        "{}",
        p[2].message
    );
    assert!(p[5].message.contains("microsoft"), "{}", p[5].message);
}

#[test]
fn google_and_microsoft_modes() {
    let text = format!(
        "{MANAGER}[[accounts]]\nname = \"sa\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n\
         [[accounts]]\nname = \"app\"\nprovider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\n\
         client_id = \"cid\"\nclient_secret_env = \"M365_SECRET\"\nuser = \"mika@example.com\"\n\
         graph_base = \"http://127.0.0.1:9000/v1.0/\"\n"
    );
    let c = parse_ok(&text);
    let AccountKind::Google(g) = &c.accounts[0].kind else {
        panic!()
    };
    assert_eq!(
        g.auth,
        GoogleAuth::ServiceAccount {
            key: PathBuf::from("/etc/cadenced/sa.json"),
            subject: "mika@example.com".into()
        }
    );
    let AccountKind::Microsoft(m) = &c.accounts[1].kind else {
        panic!()
    };
    assert_eq!(m.graph_base, "http://127.0.0.1:9000/v1.0");
    assert_eq!(
        m.auth,
        MicrosoftAuth::ClientCredentials {
            client_secret: SecretSource::Env("M365_SECRET".into()),
            user: "mika@example.com".into()
        }
    );

    let text = format!(
        "{MANAGER}[[accounts]]\nname = \"app\"\nprovider = \"microsoft\"\nclient_id = \"cid\"\nuser = \"mika@example.com\"\n\
         [[accounts]]\nname = \"g\"\nprovider = \"google\"\nclient_id = \"x\"\nservice_account_key = \"k.json\"\n\
         client_secret = \"a\"\nclient_secret_env = \"B\"\n"
    );
    let p = problems(&text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("accounts[0].tenant", Some(3)), // client credentials needs a specific tenant
            ("accounts[0].client_secret_env", Some(3)), // ... and a secret
            ("accounts[1].client_id", Some(11)), // not with service_account_key
            ("accounts[1].client_secret", Some(13)),
            ("accounts[1].client_secret_env", Some(14)),
        ]
    );
}

#[test]
fn ics_sources() {
    let text = format!(
        "{MANAGER}[[accounts]]\nname = \"a\"\nprovider = \"ics\"\npath = \"cal/team.ics\"\n\
         [[accounts]]\nname = \"b\"\nprovider = \"ics\"\nurl = \"webcal://example.com/private-x/basic.ics\"\n\
         [[accounts]]\nname = \"c\"\nprovider = \"ics\"\npath = \"/abs/c.ics\"\n"
    );
    let c = parse(&text, Path::new("conf/config.toml")).unwrap();
    let sources: Vec<&IcsSource> = c
        .accounts
        .iter()
        .map(|a| match &a.kind {
            AccountKind::Ics(i) => &i.source,
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        sources[0],
        &IcsSource::Path(PathBuf::from("conf/cal/team.ics"))
    );
    assert_eq!(
        sources[1],
        &IcsSource::Url(SensitiveUrl::new("https://example.com/private-x/basic.ics"))
    );
    assert_eq!(sources[2], &IcsSource::Path(PathBuf::from("/abs/c.ics")));
    let (key, _, _) = one(&format!(
        "{MANAGER}[[accounts]]\nname = \"a\"\nprovider = \"ics\"\nurl = \"ftp://x/y\"\n"
    ));
    assert_eq!(key, "accounts[0].url");
}

#[test]
fn secrets_do_not_appear_in_debug() {
    let text = format!(
        "{MANAGER}[[accounts]]\nname = \"w\"\nprovider = \"google\"\nclient_id = \"id\"\nclient_secret = \"TOPSECRET1\"\n\
         [[accounts]]\nname = \"f\"\nprovider = \"ics\"\nurl = \"https://cal.example.com/private-TOPSECRET2/basic.ics\"\n\
         [alerts.webhook]\nurl = \"https://hooks.example.com/services/TOPSECRET3\"\n"
    );
    let c = parse_ok(&text);
    let debug = format!("{c:?}");
    assert!(!debug.contains("TOPSECRET"), "{debug}");
    let AccountKind::Google(g) = &c.accounts[0].kind else {
        panic!()
    };
    let GoogleAuth::OAuth {
        client_secret: Some(s),
        ..
    } = &g.auth
    else {
        panic!()
    };
    assert_eq!(s.resolve(|_| None).unwrap().expose(), "TOPSECRET1");
}

#[test]
fn alert_channels() {
    let text = format!(
        "{MANAGER}[alerts]\nchannels = [\"log\", \"email\", \"command\"]\ndigest = \"daily 08:30\"\n\
         [alerts.email]\nsmtp_host = \"smtp.example.com\"\ntls = \"tls\"\nfrom = \"c@example.com\"\n\
         [alerts.command]\nargv = [\"/usr/local/bin/notify\"]\n"
    );
    let c = parse_ok(&text);
    let e = c.alerts.email.unwrap();
    assert_eq!((e.smtp_port, e.tls), (465, SmtpTls::Tls));
    assert_eq!(e.to, vec!["mika@example.com"]);
    assert_eq!(
        c.alerts.command.unwrap().argv,
        vec!["/usr/local/bin/notify"]
    );
    assert_eq!(c.alerts.digest.to_string(), "daily 08:30");

    let text = format!(
        "{MANAGER}[alerts.email]\nsmtp_host = \"h\"\nsmtp_port = 70000\nusername = \"u\"\nfrom = \"nobody\"\npassword = \"x\"\n"
    );
    let p = problems(&text);
    let got: Vec<(&str, Option<usize>)> = p.iter().map(|p| (p.key.as_str(), p.line)).collect();
    assert_eq!(
        got,
        vec![
            ("alerts.email.password_env", Some(3)),
            ("alerts.email.smtp_port", Some(5)),
            ("alerts.email.from", Some(7)),
            ("alerts.email.password", Some(8)),
        ]
    );
    assert!(p[3].message.contains("password_env"), "{}", p[3].message);
}

#[test]
fn problem_display() {
    let p = ConfigProblem {
        file: PathBuf::from("c.toml"),
        key: "accounts[1].provider".into(),
        line: Some(12),
        message: "bad".into(),
    };
    assert_eq!(p.to_string(), "c.toml:12: accounts[1].provider: bad");
    let p = ConfigProblem { line: None, ..p };
    assert_eq!(p.to_string(), "c.toml: accounts[1].provider: bad");
}

#[test]
fn quoted_keys_in_paths() {
    let (key, line, _) = one(&format!("{MANAGER}\"time zone\" = \"UTC\"\n"));
    assert_eq!((key.as_str(), line), ("manager.\"time zone\"", Some(3)));
}

#[test]
fn load_reads_files_and_names_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("cadenced init"), "{err}");

    let file = dir.path().join("config.toml");
    std::fs::write(&file, Config::example()).unwrap();
    let c = load(&file).unwrap();
    let AccountKind::Ics(ics) = &c.accounts[0].kind else {
        panic!()
    };
    assert_eq!(ics.source, IcsSource::Path(dir.path().join("example.ics")));
}

#[test]
fn shipped_example_file_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let c = load(&path).unwrap();
    assert_eq!(c.manager.timezone, chrono_tz::Asia::Tokyo);
}

#[test]
fn sync_rebaseline_defaults_to_a_day_and_is_validated() {
    assert_eq!(parse_ok(MANAGER).sync.rebaseline.to_string(), "1d");
    let c = parse_ok(&format!("{MANAGER}[sync]\nrebaseline = \"7d\"\n"));
    assert_eq!(c.sync.rebaseline.as_chrono(), chrono::Duration::days(7));
    let (key, _, _) = one(&format!("{MANAGER}[sync]\nrebaseline = \"7x\"\n"));
    assert_eq!(key, "sync.rebaseline");
}

#[test]
fn caldav_accounts() {
    let base = "[[accounts]]\nname = \"dav\"\nprovider = \"caldav\"\n";
    let c = parse_ok(&format!(
        "{MANAGER}{base}url = \"http://127.0.0.1:5232/\"\nusername = \"alice\"\npassword_env = \"DAV_PW\"\n"
    ));
    let AccountKind::Caldav(dav) = &c.accounts[0].kind else {
        panic!()
    };
    assert!(dav.calendars.is_empty(), "default: every calendar");
    assert_eq!(
        dav.url.expose(),
        "http://127.0.0.1:5232/",
        "kept as written"
    );
    let keys: Vec<String> = problems(&format!(
        "{MANAGER}{base}url = \"caldav.example.com\"\ncalendars = []\npassword_env = \"not a name\"\nclient_id = \"x\"\n"
    ))
    .into_iter()
    .map(|p| p.key)
    .collect();
    for key in [
        "accounts[0].url",
        "accounts[0].calendars",
        "accounts[0].username",
        "accounts[0].password_env",
        "accounts[0].client_id",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} in {keys:?}");
    }
    let (key, _, msg) = one(&format!(
        "{MANAGER}{base}url = \"https://h/\"\nusername = \"a\"\npassword_env = \"P\"\npassword = \"hunter2\"\n"
    ));
    assert_eq!(key, "accounts[0].password");
    assert!(
        msg.contains("password_env") && !msg.contains("hunter2"),
        "{msg}"
    );
}

#[test]
fn daemon_hosts_are_names_with_an_optional_port() {
    let c = parse_ok(&format!(
        "{MANAGER}[daemon]\nhosts = [\"Cadenced.Example.com\", \"b.example:8443\", \"[::1]:80\", \"192.0.2.1\"]\n"
    ));
    assert_eq!(
        c.daemon.hosts,
        vec![
            "cadenced.example.com",
            "b.example:8443",
            "[::1]:80",
            "192.0.2.1"
        ]
    );
    for bad in [
        "https://x.example",
        "x.example/path",
        "x.example:0",
        "-x.example",
        "a b",
    ] {
        let (key, _, msg) = one(&format!("{MANAGER}[daemon]\nhosts = [\"{bad}\"]\n"));
        assert_eq!(key, "daemon.hosts[0]", "{bad}");
        assert!(msg.contains("invalid host"), "{bad}: {msg}");
    }
}

const ORG: &str = "[manager]\ntimezone = \"Europe/Berlin\"\n\n[org]\naccount = \"org\"\nadmin = \"it@example.com\"\n\n[[accounts]]\nname = \"org\"\nprovider = \"google\"\nservice_account_key = \"sa.json\"\n";

#[test]
fn org_mode_loads_with_defaults_and_overrides() {
    let c = parse_ok(&format!(
        "{ORG}\n[[org.manager]]\nemail = \"mika@example.com\"\nlocale = \"ja\"\n\
         [[org.manager.reports]]\nemail = \"ann@example.com\"\ncadence = \"weekly\"\n\
         [alerts]\nchannels = [\"email\"]\n[alerts.email]\nsmtp_host = \"localhost\"\nfrom = \"c@example.com\"\n"
    ));
    let org = c.org.as_ref().unwrap();
    assert_eq!(org.source, OrgSource::Directory);
    assert_eq!(org.account, "org");
    assert_eq!(org.admin.as_deref(), Some("it@example.com"));
    assert_eq!(org.min_group, 5);
    assert_eq!(org.overrides[0].locale, Some(Locale::Ja));
    assert_eq!(org.overrides[0].reports[0].email, "ann@example.com");
    assert!(!c.scoped);
    assert_eq!(c.manager.email, "");
    // Each manager's own address is the default recipient.
    assert_eq!(c.alerts.email.as_ref().unwrap().to, [MANAGER_PLACEHOLDER]);
}

#[test]
fn org_mode_problems_name_their_keys() {
    let (key, _, msg) = one(&format!("{ORG}[[reports]]\nemail = \"a@example.com\"\n"));
    assert_eq!(key, "reports");
    assert!(msg.contains("[[org.manager.reports]]"), "{msg}");

    let (key, line, msg) =
        one(&ORG.replace("service_account_key = \"sa.json\"", "client_id = \"x\""));
    assert_eq!((key.as_str(), line), ("org.account", Some(5)));
    assert!(msg.contains("service_account_key"), "{msg}");

    let (key, _, msg) = one(&format!(
        "{ORG}\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"a.ics\"\n"
    ));
    assert_eq!(key, "accounts[1].name");
    assert!(msg.contains("org.account"), "{msg}");

    let (key, _, _) = one(&ORG.replace("[org]\n", "[org]\nmin_group = 3\n"));
    assert_eq!(key, "org.min_group");
    let (key, _, _) = one(&ORG.replace("admin = \"it@example.com\"\n", ""));
    assert_eq!(key, "org.admin");
    let (key, _, _) = one(&format!("{ORG}[alerts]\ndigest = \"daily 09:00\"\n"));
    assert_eq!(key, "alerts.digest");
    let (key, _, _) = one(&ORG.replace("[org]\n", "[org]\nsource = \"list\"\n"));
    assert_eq!(key, "org.managers");
    let (key, _, _) = one(&ORG.replace("account = \"org\"", "account = \"nope\""));
    assert_eq!(key, "org.account");

    // A Microsoft template is app-only: it needs a secret and a specific tenant; admin is Google's.
    let ms = "[org]\naccount = \"m\"\n\n[[accounts]]\nname = \"m\"\nprovider = \"microsoft\"\nclient_id = \"app\"\nclient_secret_env = \"S\"\ntenant = \"contoso.com\"\n";
    parse_ok(ms);
    let (key, _, msg) = one(&ms.replace("tenant = \"contoso.com\"", ""));
    assert_eq!(key, "org.account");
    assert!(msg.contains("tenant"), "{msg}");
    let (key, _, _) = one(&ms.replace("[org]\n", "[org]\nadmin = \"a@example.com\"\n"));
    assert_eq!(key, "org.admin");
}

#[test]
fn the_manager_placeholder_is_the_manager_in_the_single_manager_mode() {
    let c = parse_ok(&format!(
        "{MANAGER}[alerts]\nchannels = [\"email\"]\n[alerts.email]\nsmtp_host = \"localhost\"\nfrom = \"c@example.com\"\nto = [\"{{manager}}\", \"hr@example.com\"]\n"
    ));
    assert_eq!(
        c.alerts.email.as_ref().unwrap().to,
        ["mika@example.com", "hr@example.com"]
    );
    assert!(c.org.is_none());
}

#[test]
fn store_section() {
    // Default: the SQLite file.
    let c = parse_ok(MANAGER);
    assert_eq!(c.store, StoreConfig::default());
    let c = parse_ok(&format!(
        "{MANAGER}[store]\nurl = \"postgres://cadenced@db.example.com:5433/cad?sslmode=require\"\npassword_env = \"CADENCED_DB_PASSWORD\"\n"
    ));
    assert_eq!(
        c.store.url.as_deref(),
        Some("postgres://cadenced@db.example.com:5433/cad?sslmode=require")
    );
    assert_eq!(
        c.store.password_env.as_deref(),
        Some("CADENCED_DB_PASSWORD")
    );
    for (body, key, needle) in [
        (
            "url = \"postgres://cadenced:hunter2@db/cad\"",
            "store.url",
            "holds a password",
        ),
        (
            "url = \"sqlite:///var/lib/cadenced.db\"",
            "store.url",
            "PostgreSQL URL",
        ),
        ("path = \"/var/lib/x.db\"", "store.path", "unknown"),
        (
            "password_env = \"my password\"",
            "store.password_env",
            "environment variable",
        ),
    ] {
        let text = format!("{MANAGER}[store]\n{body}\n");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{body}: {p:#?}");
        assert_eq!(p[0].key, key, "{body}");
        assert_eq!(p[0].line, Some(4), "{body}");
        assert!(p[0].message.contains(needle), "{body}: {}", p[0].message);
        // Never the password itself, in the problem or in Debug.
        assert!(!format!("{p:?}").contains("hunter2"), "{p:?}");
    }
    let c = StoreConfig {
        url: Some("postgres://u:hunter2@db/x".into()),
        password_env: None,
    };
    assert!(!format!("{c:?}").contains("hunter2"));
}
