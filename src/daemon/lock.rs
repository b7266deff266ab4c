//! The single-instance lock: an exclusive advisory lock (`flock`) on `<state>/daemon.lock`,
//! holding the pid of the process that owns it.
//!
//! Invariants: at most one daemon (or `run --once`) works on a state directory at a time; the
//! lock is released by the kernel when the process ends, however it ends (no stale lock after a
//! crash or `SIGKILL`); the pid in the file is informational only, the lock is the truth.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "daemon.lock";

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "another cadenced daemon{} is already running on the state directory {}; stop it first (lock file {})",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        dir.display(),
        file.display()
    )]
    Held {
        pid: Option<u32>,
        dir: PathBuf,
        file: PathBuf,
    },
    #[error("cannot lock {}: {reason}", file.display())]
    Refused { file: PathBuf, reason: String },
    #[error("cannot lock {}: {source}", file.display())]
    Io {
        file: PathBuf,
        source: std::io::Error,
    },
}

/// The held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
    path: PathBuf,
}

impl InstanceLock {
    /// Take the lock on `state_dir` (which must exist) and write this process's pid into it.
    pub fn acquire(state_dir: &Path) -> Result<InstanceLock, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            file: path.clone(),
            source,
        };
        // Never through a link: a planted `daemon.lock -> /etc/passwd` is refused, not truncated.
        let mut file = crate::statefs::open_rw(&path).map_err(|e| LockError::Refused {
            file: path.clone(),
            reason: e.to_string(),
        })?;
        // `status` takes a shared lock for an instant to look; a few tries ride over that.
        let mut tries = 0;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if tries < 3 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(30));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        pid: read_pid(&mut file),
                        dir: state_dir.to_path_buf(),
                        file: path,
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(InstanceLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Who holds the lock on `state_dir`, if anyone: `Some(pid)` (pid `None` when unreadable).
pub fn holder(state_dir: &Path) -> Option<Option<u32>> {
    let path = state_dir.join(LOCK_FILE);
    let mut file = crate::statefs::open_read(&path).ok()?;
    match file.try_lock_shared() {
        // Nobody holds it exclusively; the shared lock is released when `file` closes.
        Ok(()) => None,
        Err(TryLockError::WouldBlock) => Some(read_pid(&mut file)),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_pid_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let lock = InstanceLock::acquire(dir.path()).unwrap();
        assert_eq!(holder(dir.path()), Some(Some(std::process::id())));
        let err = InstanceLock::acquire(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(lock);
        assert_eq!(holder(dir.path()), None);
        InstanceLock::acquire(dir.path()).unwrap();
    }
}
