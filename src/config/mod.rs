//! Configuration: owns the TOML config file of docs/design.md, Configuration — its types and defaults, loading and
//! validation with key paths and line numbers, the shipped example (`init`), and where the config
//! file and the state directory are when the command line does not say (docs/design.md, Command line).
//!
//! Loading has two stages, so that `check` can list every problem at once:
//! 1. TOML syntax: a syntax error is one [`ConfigProblem`] with its line, and nothing more is read;
//! 2. the walk over the parsed tree (with spans): every unknown key, wrong type, bad value,
//!    missing required key and cross-entry conflict is collected, in file order.
//!
//! Key paths are dotted, with 0-based indexes into arrays: `accounts[1].provider`,
//! `reports[2].emial`, `alerts.channels[0]`. Relative paths in the file (`ics` `path`,
//! `service_account_key`, `agenda.template`) are resolved against the config file's directory;
//! `agenda.dir` is relative to the state directory ([`AgendaConfig::dir_in`]). Files named in the
//! config are not required to exist at load time.
//!
//! Secrets (`client_secret`, private feed and webhook URLs) are redacted in `Debug` output;
//! `*_env` keys hold names of environment variables, read when the secret is needed
//! ([`SecretSource::resolve`]).

mod paths;
mod types;
mod validate;
mod value;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

pub use paths::{
    NoStateDir, SYSTEM_CONFIG_PATH, config_path_from, default_config_path, default_state_dir,
    state_dir_from,
};
pub use types::*;
pub use validate::MANAGER_PLACEHOLDER;
pub use value::{
    Cadence, ConfigDuration, Digest, MissingEnv, Secret, SecretSource, SensitiveUrl, parse_cadence,
    parse_digest, parse_duration, split_host_port,
};

/// One thing wrong with the configuration, located by key path and (when known) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub file: PathBuf,
    /// Dotted key path, e.g. `manager.timezone` or `accounts[1].provider`; empty for a TOML
    /// syntax error.
    pub key: String,
    /// 1-based line of the offending key or value (for a missing key: the table's header);
    /// `None` when there is no such line (a missing top-level table).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    /// `{file}:{line}: {key}: {message}`; without a line `{file}: {key}: {message}`; a syntax
    /// error has no key: `{file}:{line}: {message}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file is missing or unreadable (or not UTF-8).
    #[error("{}", read_message(path, source))]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration; every problem found, in file order.
    #[error("{}", problems_message(problems))]
    Invalid { problems: Vec<ConfigProblem> },
}

impl ConfigError {
    /// The problems of an invalid configuration (empty for a read error).
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems } => problems,
        }
    }
}

fn read_message(path: &Path, source: &std::io::Error) -> String {
    match source.kind() {
        std::io::ErrorKind::NotFound => format!(
            "cannot read the configuration file {}: it does not exist (create one with `cadenced init`)",
            path.display()
        ),
        std::io::ErrorKind::InvalidData => {
            format!(
                "cannot read the configuration file {}: it is not valid UTF-8",
                path.display()
            )
        }
        _ => format!(
            "cannot read the configuration file {}: {source}",
            path.display()
        ),
    }
}

fn problems_message(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Reads and validates the config file at `path`. Relative paths inside it are resolved against
/// the file's directory, made absolute against the current directory.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    parse_in(&text, path, base_dir(&absolute))
}

/// Validates config text as if read from `file` (used in problems, and its directory for
/// relative paths, as given).
pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
    parse_in(text, file, base_dir(file))
}

fn base_dir(file: &Path) -> &Path {
    file.parent().unwrap_or(Path::new(""))
}

fn parse_in(text: &str, file: &Path, base_dir: &Path) -> Result<Config, ConfigError> {
    let mut cx = validate::Cx::new(file, text, base_dir);
    let doc = match toml::de::DeTable::parse(text) {
        Ok(doc) => doc,
        Err(err) => {
            let message = err.message().trim_end().to_owned();
            cx.problem(String::new(), Some(err.span().unwrap_or(0..0)), message);
            return Err(ConfigError::Invalid {
                problems: cx.problems,
            });
        }
    };
    let config = validate::config(&mut cx, doc.get_ref());
    match config {
        Some(config) if cx.problems.is_empty() => Ok(config),
        _ => {
            let mut problems = cx.problems;
            // File order; a problem without a line (a missing table) first. The sort is stable,
            // so problems on one line keep the order they were found in.
            problems.sort_by_key(|p| p.line.unwrap_or(0));
            Err(ConfigError::Invalid { problems })
        }
    }
}
