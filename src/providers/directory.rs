//! The direct reports read from a provider's directory (`directory = true`: Microsoft Graph
//! `directReports`, Google Admin Directory `directManager`), and how they join the roster.
//!
//! - The org chart changes rarely, so it is read at most once per [`REFRESH`] (by the sync's
//!   `now`; `sync --full` reads it anyway): an idle poll stays one request per calendar.
//! - The list is written with the time it was read to `<state>/directory/<account>.json`
//!   (0600, temp file + rename, so a crash leaves the old list), and read by [`with_directory`],
//!   which the analysis uses as its roster: the configured `[[reports]]` first, unchanged, then
//!   every directory report not already among them (e-mail or alias, case-insensitively, and
//!   not the manager), with the default cadence. A missing or unreadable file adds nobody.
//! - A hire date the directory gives (Graph `employeeHireDate`) becomes the report's `joined`
//!   (tenure start) unless the config sets one.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{AccountKind, Config, Report};

/// How often the direct reports are read again.
pub const REFRESH: chrono::Duration = chrono::Duration::days(1);

/// The stored file.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    fetched_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    reports: Vec<DirectoryPerson>,
}

/// One direct report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryPerson {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The hire date the directory gives (Graph `employeeHireDate`): the report's tenure start
    /// unless `[[reports]] joined` says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hire_date: Option<chrono::NaiveDate>,
}

/// `<state>/directory/<account>.json`.
pub fn file(state_dir: &Path, account: &str) -> PathBuf {
    state_dir.join("directory").join(format!("{account}.json"))
}

/// Whether the stored list is missing or older than [`REFRESH`] at `now`.
pub fn due(state_dir: &Path, account: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    match read(state_dir, account).and_then(|s| s.fetched_at) {
        Some(at) => now < at || now - at >= REFRESH,
        None => true,
    }
}

fn read(state_dir: &Path, account: &str) -> Option<Stored> {
    let path = file(state_dir, account);
    let text = crate::statefs::read_to_string(&path).ok()??;
    match serde_json::from_str(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(file = %path.display(), "the stored direct reports are unreadable: {e}");
            None
        }
    }
}

/// Write the list read at `now` (0600, atomically).
pub fn save(
    state_dir: &Path,
    account: &str,
    people: &[DirectoryPerson],
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<()> {
    let path = file(state_dir, account);
    let dir = path.parent().unwrap_or(state_dir);
    crate::statefs::ensure_subdir(dir).map_err(std::io::Error::other)?;
    let body = serde_json::to_vec_pretty(&Stored {
        fetched_at: Some(now),
        reports: people.to_vec(),
    })
    .map_err(std::io::Error::other)?;
    crate::statefs::write_atomic(&path, &body).map_err(std::io::Error::other)
}

/// The stored list of an account (empty when there is none or it cannot be read).
pub fn load(state_dir: &Path, account: &str) -> Vec<DirectoryPerson> {
    read(state_dir, account)
        .map(|s| s.reports)
        .unwrap_or_default()
}

/// The config with the directory reports of its `directory = true` accounts added to the
/// roster (see the module doc); the config itself when none adds anyone.
pub fn with_directory<'a>(config: &'a Config, state_dir: &Path) -> Cow<'a, Config> {
    let mut known: Vec<String> = config
        .reports
        .iter()
        .flat_map(|r| std::iter::once(&r.email).chain(r.aliases.iter()))
        .map(|e| e.to_lowercase())
        .collect();
    known.push(config.manager.email.to_lowercase());
    let mut added = Vec::new();
    // Hire dates for configured reports without `joined`.
    let mut hired: Vec<(String, chrono::NaiveDate)> = Vec::new();
    for account in &config.accounts {
        let directory = match &account.kind {
            AccountKind::Microsoft(ms) => ms.directory,
            AccountKind::Google(g) => g.directory,
            AccountKind::Ics(_) | AccountKind::Caldav(_) => false,
        };
        if !directory {
            continue;
        }
        for p in load(state_dir, &account.name) {
            let key = p.email.to_lowercase();
            if !known.contains(&key) {
                known.push(key);
                added.push(Report {
                    email: p.email,
                    name: p.name,
                    cadence: None,
                    aliases: Vec::new(),
                    timezone: None,
                    working_hours: None,
                    joined: p.hire_date,
                });
            } else if let Some(d) = p.hire_date {
                hired.push((key, d));
            }
        }
    }
    let fills = |r: &Report| r.joined.is_none() && hired.iter().any(|(e, _)| r.has_address(e));
    if added.is_empty() && !config.reports.iter().any(fills) {
        return Cow::Borrowed(config);
    }
    let mut c = config.clone();
    for r in &mut c.reports {
        if r.joined.is_none()
            && let Some((_, d)) = hired.iter().find(|(e, _)| r.has_address(e))
        {
            r.joined = Some(*d);
        }
    }
    c.reports.extend(added);
    Cow::Owned(c)
}
