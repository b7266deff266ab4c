//! The per-account token file shared by the OAuth providers (Google, Microsoft).
//!
//! Tokens live in `<state dir>/tokens/<account>.json` (directory 0700, file 0600), written
//! atomically (a 0600 temp file in the same directory, fsync, rename, fsync of the directory), so
//! a crash leaves either the old file or the new one, never a mix. [`Tokens`]' `Debug` is
//! redacted and [`TokenFileError`] never carries file content.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An access token is refreshed this long before it expires.
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::seconds(60);

/// A token file could not be read or written (the message never holds its content).
#[derive(Debug, thiserror::Error)]
#[error("token file {path}: {reason}")]
pub struct TokenFileError {
    pub path: PathBuf,
    pub reason: String,
}

/// What the token file holds.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tokens {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The scopes actually granted (granular consent may grant fewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |o: &Option<String>| if o.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("Tokens")
            .field("refresh_token", &shown(&self.refresh_token))
            .field("access_token", &shown(&self.access_token))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

impl Tokens {
    /// The cached access token if it is still good at `now` (with [`REFRESH_MARGIN`] to spare).
    pub fn valid_access_token(&self, now: DateTime<Utc>) -> Option<&str> {
        let token = self.access_token.as_deref()?;
        let expires = self.expires_at?;
        (now + REFRESH_MARGIN < expires).then_some(token)
    }
}

/// `<state dir>/tokens/<account>.json`.
pub fn token_path(state_dir: &Path, account: &str) -> PathBuf {
    state_dir.join("tokens").join(format!("{account}.json"))
}

/// Read a token file; `None` when there is none.
pub fn load_tokens(path: &Path) -> Result<Option<Tokens>, TokenFileError> {
    let err = |reason: String| TokenFileError {
        path: path.to_path_buf(),
        reason,
    };
    // Never through a link, and only a regular file of ours.
    crate::statefs::check_parent(path).map_err(|e| err(e.to_string()))?;
    let text = match crate::statefs::read_to_string(path) {
        Ok(Some(t)) => t,
        Ok(None) => return Ok(None),
        Err(e) => return Err(err(e.to_string())),
    };
    // serde_json's message names a position, never the content.
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| err(format!("unreadable ({e})")))
}

/// Write a token file atomically with mode 0600 (its directory 0700).
pub fn save_tokens(path: &Path, tokens: &Tokens) -> Result<(), TokenFileError> {
    let err = |reason: String| TokenFileError {
        path: path.to_path_buf(),
        reason,
    };
    let dir = path
        .parent()
        .ok_or_else(|| err("has no parent directory".into()))?;
    // `tokens/` is a directory of ours (never a link), 0700; the file is replaced atomically
    // through a new 0600 temp file, never written through a link.
    crate::statefs::ensure_subdir(dir).map_err(|e| err(e.to_string()))?;
    let body = serde_json::to_vec_pretty(tokens).map_err(|e| err(e.to_string()))?;
    crate::statefs::write_atomic(path, &body).map_err(|e| err(e.to_string()))
}

/// The in-memory copy of one account's tokens, read from the token file on first use. Shared by
/// the OAuth providers' authenticators, which hold the lock while they renew.
#[derive(Default)]
pub struct TokenCache {
    cached: tokio::sync::Mutex<Option<Tokens>>,
}

impl TokenCache {
    /// Lock the cache, loading `path` the first time (still `None` when there is no file).
    pub async fn lock(
        &self,
        path: &Path,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<Tokens>>, TokenFileError> {
        let mut cached = self.cached.lock().await;
        if cached.is_none() {
            *cached = load_tokens(path)?;
        }
        Ok(cached)
    }
}
