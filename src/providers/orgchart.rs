//! The org chart of org mode (docs/org.md): everyone in the directory with their direct
//! manager, read in ONE paged sweep per provider (Google `google/orgchart.rs`, Graph
//! `microsoft/orgchart.rs`), stored, and inverted locally into managers and their direct reports.
//!
//! - The sweep is read at most once per [`REFRESH`] (by the sync's `now`; `sync --full` reads
//!   it anyway), like the per-account direct reports of [`super::directory`].
//! - The people are written with the time they were read to `<state>/org/directory.json`
//!   (0600, temp file + rename through `statefs`): a failed sweep keeps the previous file, and
//!   with no file yet nothing is analysed (never "no 1on1" from an unread directory).
//! - [`invert`] turns the people into the chart: a manager is exactly a person with at least
//!   one active direct report; inactive people (suspended, archived, disabled) are neither
//!   managers nor reports; manager values are compared case-insensitively with the people's
//!   addresses; an edge to someone who is not an active person, or to oneself, is dropped; a
//!   person listed twice counts once (the first entry).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How often the directory is swept again.
pub const REFRESH: chrono::Duration = chrono::Duration::days(1);

/// One person of the directory, as a provider gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgPerson {
    /// The primary address (Google `primaryEmail`; Graph `mail`, else `userPrincipalName`).
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The direct manager's address as the directory gives it (Google
    /// `relations[type=manager].value`; Graph the expanded `manager`'s address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    /// Google `orgUnitPath`; Graph `department`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_unit: Option<String>,
    /// Graph `employeeHireDate` (Google gives none): the report's tenure start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hire_date: Option<NaiveDate>,
    /// False for suspended or archived (Google) and disabled (Graph) users.
    pub active: bool,
}

/// The stored sweep.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredDirectory {
    pub fetched_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub people: Vec<OrgPerson>,
}

/// A manager and their active direct reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartManager {
    pub person: OrgPerson,
    /// Their own manager's address (lower case), when that is an active person.
    pub manager: Option<String>,
    /// Their active direct reports, ordered by address.
    pub reports: Vec<OrgPerson>,
}

/// The managers of the directory, ordered by address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Chart {
    pub managers: Vec<ChartManager>,
    /// Every active person by lower-case address (for `source = "list"` managers without
    /// reports, and names).
    pub people: BTreeMap<String, OrgPerson>,
    /// The lower-case addresses of the inactive people (suspended, archived, disabled).
    pub inactive: std::collections::BTreeSet<String>,
}

impl Chart {
    /// The entry of `email` (case-insensitive), when they manage anyone.
    pub fn manager(&self, email: &str) -> Option<&ChartManager> {
        let key = email.to_lowercase();
        self.managers
            .iter()
            .find(|m| m.person.email.to_lowercase() == key)
    }
}

/// The chart of `people` (see the module doc for the rules).
pub fn invert(people: &[OrgPerson]) -> Chart {
    let mut first: BTreeMap<String, OrgPerson> = BTreeMap::new();
    for p in people {
        first
            .entry(p.email.trim().to_lowercase())
            .or_insert_with(|| p.clone());
    }
    let inactive = first
        .iter()
        .filter(|(_, p)| !p.active)
        .map(|(k, _)| k.clone())
        .collect();
    let active: BTreeMap<String, OrgPerson> = first.into_iter().filter(|(_, p)| p.active).collect();
    let manager_of = |p: &OrgPerson| -> Option<String> {
        let m = p.manager.as_deref()?.trim().to_lowercase();
        (active.contains_key(&m) && m != p.email.trim().to_lowercase()).then_some(m)
    };
    let mut reports: HashMap<String, Vec<OrgPerson>> = HashMap::new();
    for (_, p) in active.iter() {
        if let Some(m) = manager_of(p) {
            reports.entry(m).or_default().push(p.clone());
        }
    }
    let mut managers: Vec<ChartManager> = reports
        .into_iter()
        .filter_map(|(m, mut r)| {
            let person = active.get(&m)?.clone();
            r.sort_by_key(|p| p.email.to_lowercase());
            Some(ChartManager {
                manager: manager_of(&person),
                person,
                reports: r,
            })
        })
        .collect();
    managers.sort_by_key(|m| m.person.email.to_lowercase());
    Chart {
        managers,
        people: active,
        inactive,
    }
}

/// `<state>/org/directory.json`.
pub fn file(state_dir: &Path) -> PathBuf {
    state_dir.join("org").join("directory.json")
}

/// The stored sweep, when there is one that can be read.
pub fn load(state_dir: &Path) -> Option<StoredDirectory> {
    let path = file(state_dir);
    let text = crate::statefs::read_to_string(&path).ok()??;
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(file = %path.display(), "the stored org directory is unreadable: {e}");
            None
        }
    }
}

/// Whether the stored sweep is missing or older than [`REFRESH`] at `now`.
pub fn due(state_dir: &Path, now: DateTime<Utc>) -> bool {
    match load(state_dir).and_then(|s| s.fetched_at) {
        Some(at) => now < at || now - at >= REFRESH,
        None => true,
    }
}

/// Write the sweep read at `now` (0600, atomically).
pub fn save(state_dir: &Path, people: &[OrgPerson], now: DateTime<Utc>) -> std::io::Result<()> {
    let path = file(state_dir);
    let dir = path.parent().unwrap_or(state_dir);
    crate::statefs::ensure_subdir(dir).map_err(std::io::Error::other)?;
    let body = serde_json::to_vec_pretty(&StoredDirectory {
        fetched_at: Some(now),
        people: people.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    crate::statefs::write_atomic(&path, &body).map_err(std::io::Error::other)
}

/// Why a sweep failed (the stored file is then left as it was).
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("the org directory could not be read through account {account}: {reason}")]
    Provider { account: String, reason: String },
    #[error("the org directory could not be stored: {0}")]
    Store(std::io::Error),
    #[error("org.account {0:?} is not a google service account or a microsoft app-only account")]
    Template(String),
}

/// Sweep the directory through the template account of `config.org` when due (or `force`d),
/// and store it. `Ok(None)` when the stored sweep is recent enough.
pub async fn sweep_if_due(
    config: &crate::config::Config,
    state_dir: &Path,
    client: &reqwest::Client,
    now: DateTime<Utc>,
    force: bool,
) -> Result<Option<usize>, SweepError> {
    use crate::config::AccountKind;
    let Some(org) = &config.org else {
        return Ok(None);
    };
    if !force && !due(state_dir, now) {
        return Ok(None);
    }
    let template = config
        .account(&org.account)
        .ok_or_else(|| SweepError::Template(org.account.clone()))?;
    let provider = |reason: String| SweepError::Provider {
        account: org.account.clone(),
        reason,
    };
    let people = match &template.kind {
        AccountKind::Google(g) => {
            let admin = org.admin.clone().unwrap_or_default();
            super::google::orgchart::sweep(client, state_dir, &template.name, g, &admin)
                .await
                .map_err(|e| provider(e.to_string()))?
        }
        AccountKind::Microsoft(m) => {
            super::microsoft::orgchart::sweep(client, state_dir, &template.name, m)
                .await
                .map_err(|e| provider(e.to_string()))?
        }
        AccountKind::Ics(_) | AccountKind::Caldav(_) => {
            return Err(SweepError::Template(org.account.clone()));
        }
    };
    let n = people.len();
    save(state_dir, &people, now).map_err(SweepError::Store)?;
    Ok(Some(n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(email: &str, manager: Option<&str>, active: bool) -> OrgPerson {
        OrgPerson {
            email: email.into(),
            name: None,
            manager: manager.map(Into::into),
            org_unit: None,
            hire_date: None,
            active,
        }
    }

    #[test]
    fn managers_are_the_people_with_active_reports() {
        let people = vec![
            p("Ceo@Example.com", None, true),
            p("mika@example.com", Some("ceo@example.com"), true),
            p("ann@example.com", Some("MIKA@example.com"), true),
            p("old@example.com", Some("ann@example.com"), false),
            p("gone@example.com", None, false),
            p("zed@example.com", Some("gone@example.com"), true),
            p("self@example.com", Some("self@example.com"), true),
            p("x@example.com", Some("nobody@example.com"), true),
        ];
        let chart = invert(&people);
        let managers: Vec<(&str, Option<&str>, Vec<&str>)> = chart
            .managers
            .iter()
            .map(|m| {
                (
                    m.person.email.as_str(),
                    m.manager.as_deref(),
                    m.reports.iter().map(|r| r.email.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            managers,
            vec![
                ("Ceo@Example.com", None, vec!["mika@example.com"]),
                (
                    "mika@example.com",
                    Some("ceo@example.com"),
                    vec!["ann@example.com"]
                ),
            ]
        );
    }

    fn person() -> impl Strategy<Value = OrgPerson> {
        let name = prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "A", "B"]);
        (name.clone(), prop::option::of(name), any::<bool>()).prop_map(|(e, m, active)| {
            p(
                &format!("{e}@x.com"),
                m.map(|m| format!("{m}@X.com")).as_deref(),
                active,
            )
        })
    }

    proptest! {
        /// Managers are exactly the active people with at least one active direct report; every
        /// active person with an active manager is under exactly that manager, and no one is
        /// under two managers.
        #[test]
        fn inversion(people in proptest::collection::vec(person(), 0..16)) {
            let chart = invert(&people);
            // The first entry of each address counts.
            let mut first: BTreeMap<String, &OrgPerson> = BTreeMap::new();
            for q in &people {
                first.entry(q.email.to_lowercase()).or_insert(q);
            }
            let active = |e: &str| first.get(&e.to_lowercase()).is_some_and(|q| q.active);
            let edge = |q: &OrgPerson| -> Option<String> {
                let m = q.manager.as_ref()?.to_lowercase();
                (q.active && active(&m) && m != q.email.to_lowercase()).then_some(m)
            };
            let expected: std::collections::BTreeSet<String> =
                first.values().filter_map(|q| edge(q)).collect();
            let got: std::collections::BTreeSet<String> =
                chart.managers.iter().map(|m| m.person.email.to_lowercase()).collect();
            prop_assert_eq!(&got, &expected);
            let mut seen = std::collections::HashSet::new();
            for m in &chart.managers {
                prop_assert!(!m.reports.is_empty());
                for r in &m.reports {
                    prop_assert!(r.active);
                    prop_assert!(seen.insert(r.email.to_lowercase()), "{} twice", r.email);
                    prop_assert_eq!(edge(r), Some(m.person.email.to_lowercase()));
                }
            }
            for q in first.values() {
                prop_assert_eq!(edge(q).is_some(), seen.contains(&q.email.to_lowercase()));
            }
        }
    }
}
