//! The OAuth redirect relay: when a daemon runs on the state directory, `cadenced auth` asks
//! the browser to come back to the daemon's listener (`/oauth/callback` on `daemon.listen`, a
//! fixed loopback port, easy to reach through an SSH tunnel) instead of a port of its own, and
//! the daemon hands the authorization code over through the state directory.
//!
//! Protocol, all under `<state>/oauth/` (0700; files 0600):
//! 1. `auth` creates `<state>.pending` (its random OAuth `state`) before showing the URL;
//! 2. the daemon, on `/oauth/callback?state=…&code=…` (or `&error=…`), accepts only a `state`
//!    with a pending file, writes `<state>.result` atomically (temp + rename) and answers the
//!    browser;
//! 3. `auth` polls for the result, removes both files, and exchanges the code itself (PKCE: only
//!    it knows the verifier).
//!
//! Invariants: the daemon never sees the verifier or any token; a code for a `state` nobody is
//! waiting for is refused and never written; `auth` removes what it created, whatever happens.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The path of the callback on the daemon's listener.
pub const CALLBACK_PATH: &str = "/oauth/callback";

/// The relay directory in a state directory.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("oauth")
}

/// A `state` the relay accepts: the URL-safe random token `auth` makes.
fn valid_state(state: &str) -> bool {
    (16..=128).contains(&state.len())
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "snake_case")]
enum Relayed {
    Code(String),
    Error(String),
}

/// A new 0600 file (create-new: a leftover of ours is removed first, a link never followed).
fn create_0600(path: &Path) -> std::io::Result<std::fs::File> {
    let _ = std::fs::remove_file(path);
    crate::statefs::create_new(path).map_err(std::io::Error::other)
}

/// `auth`'s side: announce that it waits for `state`. Dropping the guard removes its files.
pub fn expect(state_dir: &Path, state: &str) -> std::io::Result<Pending> {
    let dir = dir(state_dir);
    crate::statefs::ensure_subdir(&dir).map_err(std::io::Error::other)?;
    let pending = dir.join(format!("{state}.pending"));
    create_0600(&pending)?;
    Ok(Pending {
        pending,
        result: dir.join(format!("{state}.result")),
    })
}

/// A waiting `auth`; its files go away when it is dropped.
#[derive(Debug)]
pub struct Pending {
    pending: PathBuf,
    result: PathBuf,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.pending);
        let _ = std::fs::remove_file(&self.result);
    }
}

impl Pending {
    /// Wait (polling) until the daemon relays the browser's answer: the code, or the error
    /// Google answered with.
    pub async fn wait(&self, provider: &str) -> Result<String, String> {
        loop {
            if let Ok(Some(text)) = crate::statefs::read_to_string(&self.result) {
                return match serde_json::from_str::<Relayed>(&text) {
                    Ok(Relayed::Code(code)) => Ok(code),
                    Ok(Relayed::Error(e)) => Err(format!("{provider} answered `{e}`")),
                    Err(e) => Err(format!("the relayed answer is unreadable: {e}")),
                };
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Why the daemon refused a callback.
#[derive(Debug, PartialEq, Eq)]
pub enum RelayRefused {
    /// No `auth` waits for this `state` (or it is malformed, or carries neither code nor error).
    NotExpected,
    /// Writing the answer failed.
    Io(String),
}

/// The daemon's side: relay the browser's `code` (or `error`) for `state`.
pub fn relay(
    state_dir: &Path,
    state: &str,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<(), RelayRefused> {
    if !valid_state(state) {
        return Err(RelayRefused::NotExpected);
    }
    let dir = dir(state_dir);
    // The pending file must be ours (never a link); the answer then goes through a new file.
    if crate::statefs::open_read(&dir.join(format!("{state}.pending"))).is_err() {
        return Err(RelayRefused::NotExpected);
    }
    let answer = match (code, error) {
        (Some(c), _) => Relayed::Code(c.to_string()),
        (None, Some(e)) => Relayed::Error(e.to_string()),
        (None, None) => return Err(RelayRefused::NotExpected),
    };
    let io = |e: std::io::Error| RelayRefused::Io(e.to_string());
    let tmp = dir.join(format!("{state}.tmp"));
    let mut f = create_0600(&tmp).map_err(io)?;
    let text = serde_json::to_string(&answer).map_err(|e| RelayRefused::Io(e.to_string()))?;
    f.write_all(text.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, dir.join(format!("{state}.result"))).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn relays_only_what_is_expected_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let state = "abcdefghijklmnop_0123";
        assert_eq!(
            relay(dir.path(), state, Some("c0de"), None),
            Err(RelayRefused::NotExpected)
        );
        let pending = expect(dir.path(), state).unwrap();
        assert_eq!(
            relay(dir.path(), "../../etc/passwd-xxxxxxxx", Some("x"), None),
            Err(RelayRefused::NotExpected)
        );
        assert_eq!(
            relay(dir.path(), state, None, None),
            Err(RelayRefused::NotExpected)
        );
        relay(dir.path(), state, Some("c0de"), None).unwrap();
        assert_eq!(pending.wait("Google").await, Ok("c0de".to_string()));
        drop(pending);
        assert_eq!(
            std::fs::read_dir(super::dir(dir.path())).unwrap().count(),
            0
        );

        let pending = expect(dir.path(), state).unwrap();
        relay(dir.path(), state, None, Some("access_denied")).unwrap();
        assert!(
            pending
                .wait("Google")
                .await
                .unwrap_err()
                .contains("access_denied")
        );
    }
}
