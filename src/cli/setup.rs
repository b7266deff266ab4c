//! `init`, `check`, `sync`, and the context every other command starts from.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{Cli, CliError};
use crate::config::{self, Config, ConfigError};
use crate::store::{AsyncStore, Store};
use crate::sync::SyncTarget;

/// What a command that reads the config and the store starts from.
#[derive(Debug)]
pub struct Context {
    pub config: Config,
    pub state_dir: PathBuf,
    pub now: DateTime<Utc>,
}

impl Context {
    /// Load and validate the config, and settle the state directory and `now`.
    pub fn load(cli: &Cli, config_path: PathBuf) -> Result<Self, CliError> {
        let config = load_config(&config_path)?;
        let state_dir = match &cli.state_dir {
            Some(d) => d.clone(),
            None => config::default_state_dir().map_err(|e| CliError::usage(e.to_string()))?,
        };
        Ok(Context {
            config,
            state_dir,
            now: cli.now.unwrap_or_else(Utc::now),
        })
    }

    /// Open the store the config names: the SQLite file in the state directory (created 0700,
    /// database 0600), or `[store] url`. Before any runtime is entered (the PostgreSQL client
    /// blocks on a runtime of its own).
    pub fn open_store(&self) -> Result<Store, CliError> {
        crate::store::ensure_state_dir(&self.state_dir)
            .map_err(|e| CliError::runtime(e.to_string()))?;
        Store::open_config(&self.config.store, &self.state_dir)
            .map_err(|e| CliError::runtime(e.to_string()))
    }
}

fn load_config(path: &Path) -> Result<Config, CliError> {
    config::load(path).map_err(|e| match e {
        ConfigError::Invalid { problems } if problems.len() > 1 => CliError::usage(format!(
            "the config has {} problems (run `cadenced check` to list them); the first: {}",
            problems.len(),
            problems[0]
        )),
        other => CliError::usage(other.to_string()),
    })
}

/// `init`: write the example config, and the example calendar it reads, next to each other.
pub fn init(config_path: &Path) -> Result<(), CliError> {
    if config_path.exists() {
        return Err(CliError::usage(format!(
            "{} already exists; init never overwrites a config (edit it, or pass --config for a new path)",
            config_path.display()
        )));
    }
    let dir = config_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let calendar = dir.join("example.ics");
    write_new(config_path, Config::example())?;
    if !calendar.exists() {
        write_new(&calendar, EXAMPLE_CALENDAR)?;
    }
    println!(
        "Wrote {} (and the example calendar {}).",
        config_path.display(),
        calendar.display()
    );
    println!("Edit [manager], [[reports]] and [[accounts]], then run `cadenced check`.");
    Ok(())
}

/// The example calendar that the example config reads.
pub const EXAMPLE_CALENDAR: &str = include_str!("../../config/example.ics");

fn write_new(path: &Path, text: &str) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    // 0600: a config may come to hold a secret (client_secret) or name where one lives.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(text.as_bytes())
        .map_err(|e| CliError::runtime(format!("cannot write {}: {e}", path.display())))
}

/// `check`: print every problem with its key path; exit 2 when there is any.
pub fn check(config_path: &Path) -> Result<(), CliError> {
    match config::load(config_path) {
        Ok(cfg) => {
            if let Some(problem) = short_token(&cfg) {
                println!("{problem}");
                return Err(CliError::usage(format!(
                    "{}: 1 problem found",
                    config_path.display()
                )));
            }
            for warning in inline_secret_warnings(&cfg, config_path) {
                println!("warning: {warning}");
            }
            match &cfg.org {
                Some(org) => println!(
                    "{}: OK (org mode: the managers come from the directory, every calendar through account {})",
                    config_path.display(),
                    org.account
                ),
                None => println!(
                    "{}: OK ({} reports, {} accounts)",
                    config_path.display(),
                    cfg.reports.len(),
                    cfg.accounts.len()
                ),
            }
            // Valid, but a calendar that cannot be read would leave the analysis incomplete.
            for w in file_warnings(&cfg).into_iter().chain(store_warning(&cfg)) {
                println!("warning: {w}");
            }
            Ok(())
        }
        Err(ConfigError::Invalid { problems }) => {
            for p in &problems {
                println!("{p}");
            }
            Err(CliError::usage(format!(
                "{}: {} problem{} found",
                config_path.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            )))
        }
        Err(other) => Err(CliError::usage(other.to_string())),
    }
}

/// One sentence per `[[accounts]] path` that does not name a readable file right now. Not an
/// error (the file may appear before the first sync), but until it does the account is never
/// read and no report alert is raised.
pub fn file_warnings(config: &Config) -> Vec<String> {
    config
        .accounts
        .iter()
        .enumerate()
        .filter_map(|(i, acc)| match &acc.kind {
            crate::config::AccountKind::Ics(ics) => match &ics.source {
                crate::config::IcsSource::Path(path) if !path.is_file() => Some(format!(
                    "accounts[{i}].path: {} (account {}) does not exist; the account cannot sync until it does",
                    path.display(),
                    acc.name
                )),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// `store.password_env` naming a variable that is not set here: the PostgreSQL server will be
/// asked without a password.
pub fn store_warning(config: &Config) -> Option<String> {
    let var = config.store.password_env.as_deref()?;
    std::env::var(var).map_or(true, |v| v.is_empty()).then(|| {
        format!(
            "store.password_env: the environment variable {var} is not set or empty; the database server will be asked without a password"
        )
    })
}

/// The sync targets of the config, optionally only one account.
pub fn targets(
    config: &Config,
    state_dir: &Path,
    only: Option<&str>,
) -> Result<Vec<SyncTarget>, CliError> {
    if let Some(name) = only
        && config.account(name).is_none()
    {
        return Err(CliError::usage(format!(
            "there is no account named {name:?} in {}",
            config.file.display()
        )));
    }
    Ok(crate::sync::targets(config, state_dir)
        .into_iter()
        .filter(|t| only.is_none_or(|n| n == t.account))
        .collect())
}

/// `sync`: one pass over the accounts; exit 1 when any account failed (the others still sync).
pub fn sync(ctx: &Context, only: Option<&str>, full: bool) -> Result<(), CliError> {
    let targets = targets(&ctx.config, &ctx.state_dir, only)?;
    sync_targets(ctx, &targets, full)
}

/// One pass over `targets` (org mode passes every manager's accounts).
pub fn sync_targets(ctx: &Context, targets: &[SyncTarget], full: bool) -> Result<(), CliError> {
    let store = AsyncStore::new(ctx.open_store()?);
    let runtime = runtime()?;
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let results = runtime.block_on(async {
        let mut results = Vec::new();
        for target in targets {
            let r = crate::sync::sync_account(&store, &client, target, full, ctx.now).await;
            results.push((target, r));
        }
        results
    });
    let mut failed = Vec::new();
    for (target, result) in results {
        match result {
            Ok(s) if s.unchanged => println!(
                "{}: unchanged ({} {})",
                target.account,
                s.events,
                events_word(s.events)
            ),
            Ok(s) => {
                let skipped = if s.skipped > 0 {
                    format!(", {} malformed skipped", s.skipped)
                } else {
                    String::new()
                };
                println!(
                    "{}: {} {} stored{skipped}",
                    target.account,
                    s.events,
                    events_word(s.events)
                );
            }
            Err(e) => {
                eprintln!("cadenced: {}", crate::terminal::escape(&e.to_string()));
                failed.push(target.account.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "sync failed for {} account{}: {}",
            failed.len(),
            if failed.len() == 1 { "" } else { "s" },
            failed.join(", ")
        )))
    }
}

pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::runtime(format!("cannot start the async runtime: {e}")))
}

/// The access token named by `daemon.token_env`, when set here and too short.
fn short_token(cfg: &config::Config) -> Option<String> {
    let var = cfg.daemon.token_env.as_deref()?;
    let token = std::env::var(var).ok()?;
    let min = crate::daemon::server::MIN_TOKEN_LEN;
    (token.trim().chars().count() < min).then(|| {
        format!(
            "{}: daemon.token_env: the access token in {var} is shorter than {min} characters; use 32 random bytes, e.g. {}",
            cfg.file.display(),
            crate::daemon::server::TOKEN_COMMAND
        )
    })
}

/// Secrets written in the config file itself while others may read the file.
fn inline_secret_warnings(cfg: &config::Config, path: &Path) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Vec::new();
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return Vec::new();
    }
    let inline =
        |s: &Option<config::SecretSource>| matches!(s, Some(config::SecretSource::Inline(_)));
    cfg.accounts
        .iter()
        .enumerate()
        .filter(|(_, a)| match &a.kind {
            config::AccountKind::Google(g) => {
                matches!(&g.auth, config::GoogleAuth::OAuth { client_secret, .. } if inline(client_secret))
            }
            config::AccountKind::Microsoft(m) => match &m.auth {
                config::MicrosoftAuth::Delegated { client_secret } => inline(client_secret),
                config::MicrosoftAuth::ClientCredentials { client_secret, .. } => {
                    matches!(client_secret, config::SecretSource::Inline(_))
                }
            },
            // CalDAV takes its password only from the environment (`password_env`).
            config::AccountKind::Ics(_) | config::AccountKind::Caldav(_) => false,
        })
        .map(|(i, _)| {
            format!(
                "{}: accounts[{i}].client_secret is written in a file others can read (mode {mode:04o}); run chmod 600 on it, or use client_secret_env",
                path.display()
            )
        })
        .collect()
}

fn events_word(n: usize) -> &'static str {
    if n == 1 { "event" } else { "events" }
}
