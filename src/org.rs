//! Org mode (docs/org.md): one deployment for every manager of a company. The `[org]` config
//! and the stored directory sweep ([`crate::providers::orgchart`]) become one single-manager
//! [`Config`] per manager ([`expand`]); everything downstream (sync, analysis, alerts, agendas,
//! make-ups) runs per derived config with the single-manager code.
//!
//! Invariants:
//! - The managers: with `source = "directory"` everyone the directory shows with at least one
//!   active direct report (only those of `managers` when it is non-empty); with `"list"`,
//!   `managers`. `exclude` is never a manager. Ordered by address.
//! - A manager's roster: their active direct reports (by address), each with the directory's
//!   name and hire date (`joined`), then `[[org.manager.reports]]` applied like `[[reports]]`
//!   (same address: the entry's settings win; another address: added after). A person who would
//!   be in two rosters (an override adding someone else's report) stays only in the first
//!   manager's (by address) and is reported once as a warning.
//! - A manager's account: the template renamed `<template>:<manager address>`, its `subject`
//!   (Google) or `user` (Graph app-only) the manager. Account names become file names
//!   (`tokens/<account>.json`): a manager whose address holds anything but letters, digits and
//!   `.`, `_`, `%`, `+`, `-`, `@`, or starts with `.`, is skipped with a warning.
//! - `{manager}` in `[alerts.email] to`, the webhook URL and the command's argv becomes the
//!   manager's address; a local agenda directory gets the manager's address as a subfolder.
//! - Without a stored sweep there is no manager at all ([`OrgError::NoDirectory`]): nothing is
//!   analysed from a directory that was never read.

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::config::{
    AccountKind, Config, DocumentBackend, GoogleAuth, OrgConfig, OrgSource, Report,
};
use crate::providers::orgchart::{self, Chart};

/// One manager of the org, as the people-ops rollup groups them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrgManager {
    pub email: String,
    pub name: Option<String>,
    /// Their own manager's address (lower case), when the directory gives one.
    pub manager: Option<String>,
    /// Google `orgUnitPath`, Graph `department`.
    pub org_unit: Option<String>,
}

/// The per-manager configs and what was left out.
#[derive(Debug, Clone)]
pub struct Expansion {
    pub managers: Vec<(OrgManager, Config)>,
    /// One sentence per person left out or moved (see the module doc).
    pub warnings: Vec<String>,
    /// When the directory was read.
    pub fetched_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error(
        "the org directory has not been read yet (run `cadenced sync`); no manager is analysed until it is"
    )]
    NoDirectory,
    #[error("there is no manager {0:?} in the org (see `cadenced status`)")]
    UnknownManager(String),
}

/// Whether an address can name an account (and so a file).
fn safe_address(email: &str) -> bool {
    !email.is_empty()
        && email.len() <= 200
        && !email.starts_with('.')
        && email.contains('@')
        && email.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-' | b'@')
        })
}

/// The derived account name of `manager` for the template `template`.
pub fn account_name(template: &str, manager: &str) -> String {
    format!("{template}:{}", manager.to_lowercase())
}

/// The per-manager configs of an org config from the stored sweep in `state_dir`.
pub fn configs(config: &Config, state_dir: &Path) -> Result<Expansion, OrgError> {
    let stored = orgchart::load(state_dir).ok_or(OrgError::NoDirectory)?;
    let chart = orgchart::invert(&stored.people);
    let mut e = expand(config, &chart);
    e.fetched_at = stored.fetched_at;
    Ok(e)
}

/// The config of one manager (`email`, case-insensitive).
pub fn config_of(
    config: &Config,
    state_dir: &Path,
    email: &str,
) -> Result<(OrgManager, Config), OrgError> {
    configs(config, state_dir)?
        .managers
        .into_iter()
        .find(|(m, _)| m.email.eq_ignore_ascii_case(email))
        .ok_or_else(|| OrgError::UnknownManager(email.to_string()))
}

/// The per-manager configs of `config` (an org config) over `chart`.
pub fn expand(config: &Config, chart: &Chart) -> Expansion {
    let mut warnings = Vec::new();
    let Some(org) = &config.org else {
        return Expansion {
            managers: Vec::new(),
            warnings,
            fetched_at: None,
        };
    };
    let excluded = |e: &str| org.exclude.iter().any(|x| x.eq_ignore_ascii_case(e));
    let mut emails: Vec<String> = match org.source {
        OrgSource::Directory => chart
            .managers
            .iter()
            .map(|m| m.person.email.clone())
            .filter(|e| {
                org.managers.is_empty() || org.managers.iter().any(|x| x.eq_ignore_ascii_case(e))
            })
            .collect(),
        OrgSource::List => org.managers.clone(),
    };
    emails.retain(|e| !excluded(e));
    // A listed manager the directory shows as suspended, archived or disabled is no manager.
    emails.retain(|e| {
        let gone = chart.inactive.contains(&e.to_lowercase());
        if gone {
            warnings.push(format!(
                "manager {e} is left out: the directory shows the account as inactive"
            ));
        }
        !gone
    });
    emails.sort_by_key(|e| e.to_lowercase());
    emails.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    // Every address already in a roster → the manager whose roster holds it.
    let mut placed: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    let mut out = Vec::new();
    for email in emails {
        if !safe_address(&email) {
            warnings.push(format!(
                "manager {email:?} is left out: the address cannot name an account"
            ));
            continue;
        }
        let entry = chart.manager(&email);
        let person = chart.people.get(&email.to_lowercase());
        let over = org.override_for(&email);
        let manager = OrgManager {
            email: email.clone(),
            name: over
                .and_then(|o| o.name.clone())
                .or_else(|| person.and_then(|p| p.name.clone())),
            manager: entry.and_then(|m| m.manager.clone()).or_else(|| {
                person
                    .and_then(|p| p.manager.as_deref())
                    .map(str::to_lowercase)
                    .filter(|m| chart.people.contains_key(m))
            }),
            org_unit: person.and_then(|p| p.org_unit.clone()),
        };
        let mut reports: Vec<Report> = entry
            .map(|m| {
                m.reports
                    .iter()
                    .map(|r| Report {
                        email: r.email.clone(),
                        name: r.name.clone(),
                        cadence: None,
                        aliases: Vec::new(),
                        timezone: None,
                        working_hours: None,
                        joined: r.hire_date,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for o in over.map(|o| o.reports.as_slice()).unwrap_or_default() {
            match reports
                .iter_mut()
                .find(|r| r.has_address(&o.email) || o.aliases.iter().any(|a| r.has_address(a)))
            {
                Some(r) => {
                    let joined = o.joined.or(r.joined);
                    let name = o.name.clone().or_else(|| r.name.clone());
                    *r = Report {
                        joined,
                        name,
                        ..o.clone()
                    };
                }
                None => reports.push(o.clone()),
            }
        }
        reports.retain(|r| {
            if r.email.eq_ignore_ascii_case(&email) {
                return false;
            }
            match placed.get(&r.email.to_lowercase()) {
                Some(first) => {
                    warnings.push(format!(
                        "{} would report to both {first} and {email}; analysed under {first} only",
                        r.email
                    ));
                    false
                }
                None => true,
            }
        });
        for r in &reports {
            placed.insert(r.email.to_lowercase(), email.clone());
        }
        out.push((
            manager.clone(),
            derive(config, org, &manager, over, reports),
        ));
    }
    for o in &org.overrides {
        if !out
            .iter()
            .any(|(m, _)| m.email.eq_ignore_ascii_case(&o.email))
        {
            warnings.push(format!(
                "[[org.manager]] {} is not one of the org's managers; its settings are not used",
                o.email
            ));
        }
    }
    Expansion {
        managers: out,
        warnings,
        fetched_at: None,
    }
}

/// One manager's config.
fn derive(
    config: &Config,
    org: &OrgConfig,
    manager: &OrgManager,
    over: Option<&crate::config::OrgManagerOverride>,
    reports: Vec<Report>,
) -> Config {
    let mut c = config.clone();
    c.org = None;
    c.scoped = true;
    c.manager.email = manager.email.clone();
    c.manager.name = manager.name.clone();
    if let Some(o) = over {
        if let Some(tz) = o.timezone {
            c.manager.timezone = tz;
        }
        if let Some(l) = o.locale {
            c.manager.locale = l;
        }
    }
    c.reports = reports;
    c.accounts = config
        .accounts
        .iter()
        .filter(|a| a.name == org.account)
        .map(|a| {
            let mut a = a.clone();
            a.name = account_name(&org.account, &manager.email);
            match &mut a.kind {
                AccountKind::Google(g) => {
                    g.directory = false;
                    if let GoogleAuth::ServiceAccount { subject, .. } = &mut g.auth {
                        *subject = manager.email.clone();
                    }
                }
                AccountKind::Microsoft(m) => {
                    if let Some(app) =
                        crate::providers::microsoft::orgchart::app_only(m, &manager.email)
                    {
                        *m = app;
                    }
                }
                AccountKind::Ics(_) | AccountKind::Caldav(_) => {}
            }
            a
        })
        .collect();
    let fill = |s: &str| s.replace(crate::config::MANAGER_PLACEHOLDER, &manager.email);
    if let Some(email) = &mut c.alerts.email {
        for to in &mut email.to {
            *to = fill(to);
        }
    }
    if let Some(webhook) = &mut c.alerts.webhook {
        let url = webhook.url.expose().to_string();
        // `safe_address` leaves only `%`, `+` and `@` to encode.
        let encoded = manager
            .email
            .replace('%', "%25")
            .replace('+', "%2B")
            .replace('@', "%40");
        let filled = url
            .replace(crate::config::MANAGER_PLACEHOLDER, &encoded)
            .replace("%7Bmanager%7D", &encoded);
        webhook.url = crate::config::SensitiveUrl::new(filled);
    }
    if let Some(command) = &mut c.alerts.command {
        for arg in &mut command.argv {
            *arg = fill(arg);
        }
    }
    if c.agenda.store == DocumentBackend::Local {
        c.agenda.dir = c.agenda.dir.join(manager.email.to_lowercase());
    }
    c
}

/// The configs a cycle works through: the config itself in the single-manager mode; in org
/// mode every manager's (none while the directory was never read).
pub fn cycle_configs(config: &Config, state_dir: &Path) -> Vec<Config> {
    if config.org.is_none() {
        return vec![config.clone()];
    }
    match configs(config, state_dir) {
        Ok(e) => e.managers.into_iter().map(|(_, c)| c).collect(),
        Err(_) => Vec::new(),
    }
}

/// The config whose accounts are every account a cycle syncs (org mode: every manager's), for
/// what looks at accounts across managers (`/healthz`, metrics); the config itself otherwise.
pub fn flat(config: &Config, state_dir: &Path) -> Config {
    if config.org.is_none() {
        return config.clone();
    }
    let mut c = config.clone();
    c.accounts = cycle_configs(config, state_dir)
        .into_iter()
        .flat_map(|m| m.accounts)
        .collect();
    c
}

/// One manager's analysis in org mode, with the config it ran on.
pub struct ManagerAnalysis {
    pub manager: OrgManager,
    /// The manager's derived config (roster, zone, account).
    pub config: Config,
    pub analysed: crate::alerts::Analysed,
}

impl ManagerAnalysis {
    /// The `report --json` document of this manager at `now`.
    pub fn report(&self, now: DateTime<Utc>) -> crate::report::ReportDoc {
        crate::report::build(&self.config, &self.analysed, now)
    }
}

/// Why [`analyses`] failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalysesError {
    #[error("{0}")]
    Org(#[from] OrgError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// The analysis of every manager at `now` (one-shot freshness: each account's last sync must
/// have worked), in manager order, for the people-ops rollup. Like `report`, it reconciles each
/// manager's alerts in the shared store.
pub fn analyses(
    config: &Config,
    state_dir: &Path,
    store: &mut crate::store::Store,
    now: DateTime<Utc>,
) -> Result<Vec<ManagerAnalysis>, AnalysesError> {
    analyses_with(
        config,
        state_dir,
        store,
        now,
        crate::alerts::Freshness::OneShot,
    )
}

/// [`analyses`] with the completeness rule of the caller (the daemon allows failures within
/// its retry budget).
pub fn analyses_with(
    config: &Config,
    state_dir: &Path,
    store: &mut crate::store::Store,
    now: DateTime<Utc>,
    freshness: crate::alerts::Freshness,
) -> Result<Vec<ManagerAnalysis>, AnalysesError> {
    let expansion = configs(config, state_dir)?;
    let mut out = Vec::new();
    for (manager, config) in expansion.managers {
        let analysed = crate::alerts::analyse_with(&config, store, now, freshness)?;
        out.push(ManagerAnalysis {
            manager,
            config,
            analysed,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::orgchart::{OrgPerson, invert};

    const ORG: &str = r#"
[manager]
timezone = "Europe/Berlin"
[org]
account = "org"
admin = "it@example.com"
exclude = ["ceo@example.com"]
[[org.manager]]
email = "mika@example.com"
locale = "ja"
[[org.manager.reports]]
email = "ann@example.com"
cadence = "weekly"
[[org.manager.reports]]
email = "bo@example.com"
[[accounts]]
name = "org"
provider = "google"
service_account_key = "sa.json"
[alerts]
channels = ["email"]
[alerts.email]
smtp_host = "localhost"
from = "cadenced@example.com"
to = ["{manager}", "hr@example.com"]
"#;

    fn p(email: &str, manager: Option<&str>) -> OrgPerson {
        OrgPerson {
            email: email.into(),
            name: Some(email.split('@').next().unwrap_or("").into()),
            manager: manager.map(Into::into),
            org_unit: Some("/Eng".into()),
            hire_date: None,
            active: true,
        }
    }

    #[test]
    fn every_manager_gets_their_own_config() {
        let config = crate::config::parse(ORG, Path::new("/tmp/c.toml")).unwrap();
        let chart = invert(&[
            p("ceo@example.com", None),
            p("mika@example.com", Some("ceo@example.com")),
            p("lee@example.com", Some("ceo@example.com")),
            p("ann@example.com", Some("mika@example.com")),
            p("zoe@example.com", Some("lee@example.com")),
        ]);
        let e = expand(&config, &chart);
        let names: Vec<&str> = e.managers.iter().map(|(m, _)| m.email.as_str()).collect();
        assert_eq!(names, ["lee@example.com", "mika@example.com"]);
        let (m, c) = &e.managers[1];
        assert_eq!(m.manager.as_deref(), Some("ceo@example.com"));
        assert!(c.scoped && c.org.is_none());
        assert_eq!(c.manager.email, "mika@example.com");
        assert_eq!(c.manager.locale, crate::config::Locale::Ja);
        assert_eq!(c.manager.timezone, chrono_tz::Europe::Berlin);
        let roster: Vec<&str> = c.reports.iter().map(|r| r.email.as_str()).collect();
        assert_eq!(roster, ["ann@example.com", "bo@example.com"]);
        assert!(c.reports[0].cadence.is_some());
        assert_eq!(c.reports[0].name.as_deref(), Some("ann"));
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.accounts[0].name, "org:mika@example.com");
        match &c.accounts[0].kind {
            AccountKind::Google(g) => match &g.auth {
                GoogleAuth::ServiceAccount { subject, .. } => {
                    assert_eq!(subject, "mika@example.com")
                }
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let to = &c.alerts.email.as_ref().unwrap().to;
        assert_eq!(to, &["mika@example.com", "hr@example.com"]);
        assert!(c.agenda.dir.ends_with("agendas/mika@example.com"));
        // Lee's roster is Lee's alone.
        let lee: Vec<&str> = e.managers[0]
            .1
            .reports
            .iter()
            .map(|r| r.email.as_str())
            .collect();
        assert_eq!(lee, ["zoe@example.com"]);
    }

    #[test]
    fn a_report_in_two_rosters_stays_with_the_first_and_unsafe_addresses_are_left_out() {
        let text = ORG.replace("bo@example.com", "zoe@example.com");
        let config = crate::config::parse(&text, Path::new("/tmp/c.toml")).unwrap();
        let chart = invert(&[
            p("mika@example.com", None),
            p("lee@example.com", None),
            p("ann@example.com", Some("mika@example.com")),
            p("zoe@example.com", Some("lee@example.com")),
            p("../x@example.com", None),
            p("y@example.com", Some("../x@example.com")),
        ]);
        let e = expand(&config, &chart);
        let names: Vec<&str> = e.managers.iter().map(|(m, _)| m.email.as_str()).collect();
        assert_eq!(names, ["lee@example.com", "mika@example.com"]);
        let mika: Vec<&str> = e.managers[1]
            .1
            .reports
            .iter()
            .map(|r| r.email.as_str())
            .collect();
        assert_eq!(mika, ["ann@example.com"]);
        assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
        assert!(e.warnings.iter().any(|w| w.contains("zoe@example.com")));
    }

    #[test]
    fn a_list_of_managers_leaves_out_inactive_ones_and_unused_overrides_are_said() {
        let text = ORG.replace(
            "exclude = [\"ceo@example.com\"]",
            "source = \"list\"\nmanagers = [\"lee@example.com\", \"gone@example.com\", \"new@example.com\"]",
        );
        let config = crate::config::parse(&text, Path::new("/tmp/c.toml")).unwrap();
        let mut gone = p("gone@example.com", None);
        gone.active = false;
        let chart = invert(&[
            p("lee@example.com", None),
            p("zoe@example.com", Some("lee@example.com")),
            gone,
            p("x@example.com", Some("gone@example.com")),
        ]);
        let e = expand(&config, &chart);
        let names: Vec<&str> = e.managers.iter().map(|(m, _)| m.email.as_str()).collect();
        // A listed manager outside the directory is kept (with only their overrides' reports).
        assert_eq!(names, ["lee@example.com", "new@example.com"]);
        assert!(e.managers[1].1.reports.is_empty());
        assert!(
            e.warnings.iter().any(|w| w.contains("gone@example.com")),
            "{:?}",
            e.warnings
        );
        // Mika has overrides but is not a listed manager.
        assert!(
            e.warnings
                .iter()
                .any(|w| w.contains("[[org.manager]] mika@example.com"))
        );
    }

    #[test]
    fn the_manager_placeholder_fills_the_webhook_url_and_the_command() {
        let text = ORG.replace(
            "channels = [\"email\"]",
            "channels = [\"email\", \"webhook\", \"command\"]\n\
             [alerts.webhook]\nurl = \"https://hooks.example.com/to/{manager}?x=1\"\n\
             [alerts.command]\nargv = [\"/bin/notify\", \"--to={manager}\"]",
        );
        let config = crate::config::parse(&text, Path::new("/tmp/c.toml")).unwrap();
        let chart = invert(&[
            p("mika+eng@example.com", None),
            p("ann@example.com", Some("mika+eng@example.com")),
        ]);
        let e = expand(&config, &chart);
        let c = &e.managers[0].1;
        assert_eq!(
            c.alerts.webhook.as_ref().unwrap().url.expose(),
            "https://hooks.example.com/to/mika%2Beng%40example.com?x=1"
        );
        assert_eq!(
            c.alerts.command.as_ref().unwrap().argv,
            ["/bin/notify", "--to=mika+eng@example.com"]
        );
        assert_eq!(c.accounts[0].name, "org:mika+eng@example.com");
    }

    #[test]
    fn without_a_sweep_there_is_no_manager() {
        let config = crate::config::parse(ORG, Path::new("/tmp/c.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            configs(&config, dir.path()),
            Err(OrgError::NoDirectory)
        ));
    }

    /// A 1on1 of `manager` with `report` every week since October, as an iCalendar feed.
    fn weekly(organizer: &str, report: &str) -> Vec<crate::model::Event> {
        let text = format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:{organizer}-{report}\r\n\
             DTSTART:20261005T100000Z\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY\r\nSUMMARY:1on1\r\n\
             ORGANIZER:mailto:{organizer}\r\nATTENDEE:mailto:{report}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        crate::providers::ics::parse_feed(text.as_bytes(), "f.ics", "f.ics")
            .unwrap()
            .events
    }

    #[test]
    fn each_manager_is_analysed_on_their_own_calendar_and_alerts() {
        use chrono::TimeZone;
        let config = crate::config::parse(ORG, Path::new("/tmp/c.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        orgchart::save(
            dir.path(),
            &[
                p("mika@example.com", None),
                p("lee@example.com", None),
                p("ann@example.com", Some("mika@example.com")),
                p("cy@example.com", Some("mika@example.com")),
                p("zoe@example.com", Some("lee@example.com")),
            ],
            now,
        )
        .unwrap();
        let mut store = crate::store::Store::open_in(dir.path()).unwrap();
        // Mika's calendar: Ann. Lee's calendar: Zoe, and (oddly) a weekly meeting Mika organizes
        // with Cy, which must not count for Mika: it is not in Mika's calendar.
        let mut lee = weekly("lee@example.com", "zoe@example.com");
        lee.extend(weekly("mika@example.com", "cy@example.com"));
        for (account, events) in [
            (
                "org:mika@example.com",
                weekly("mika@example.com", "ann@example.com"),
            ),
            ("org:lee@example.com", lee),
        ] {
            let id = store.ensure_account(account, "google").unwrap();
            store
                .replace_account_events(id, "primary", &events, None)
                .unwrap();
            store
                .record_sync(
                    id,
                    &crate::store::SyncOutcome {
                        at: now,
                        ok: true,
                        error: None,
                        changed: true,
                    },
                )
                .unwrap();
        }
        let all = analyses(&config, dir.path(), &mut store, now).unwrap();
        let kinds = |m: &ManagerAnalysis| -> Vec<(String, String)> {
            m.analysed
                .analysis
                .findings
                .iter()
                .map(|f| (f.kind.as_str().to_string(), f.report_email.clone()))
                .collect()
        };
        assert_eq!(all[0].manager.email, "lee@example.com");
        assert_eq!(kinds(&all[0]), []);
        assert_eq!(all[1].manager.email, "mika@example.com");
        // Bo comes from Mika's [[org.manager.reports]] override; Cy from the directory.
        assert_eq!(
            kinds(&all[1]),
            [
                ("no_series".to_string(), "bo@example.com".to_string()),
                ("no_series".to_string(), "cy@example.com".to_string())
            ]
        );
        assert_eq!(all[1].report(now).manager, "mika@example.com");
        // Lee's analysis again does not resolve Mika's alert (not Lee's report).
        let lee_only = config_of(&config, dir.path(), "lee@example.com").unwrap().1;
        crate::alerts::analyse(&lee_only, &mut store, now).unwrap();
        let open: Vec<String> = store
            .open_alerts()
            .unwrap()
            .into_iter()
            .map(|a| a.report)
            .collect();
        assert_eq!(open, ["bo@example.com", "cy@example.com"]);
    }
}
