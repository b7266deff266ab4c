//! Files in the state directory: the directory's ownership and mode, and how every file in it
//! is opened.
//!
//! The state directory holds tokens, the database and agendas. When cadenced runs as root (a
//! system service), a file planted by someone else (`cadenced.db -> /etc/passwd`) must never be
//! followed, read, written or chmod'ed. Invariants:
//! - the state directory (and every directory cadenced makes in it) is owned by the running user
//!   and writable by no one else; otherwise cadenced refuses it with one clear sentence (see
//!   [`StateFsError`]), so nobody else can plant a file in it after the check;
//! - every file is opened with `O_NOFOLLOW` (a symbolic link is refused, never followed), new
//!   files are created with create-new semantics (`O_EXCL`) and mode 0600, and a mode is fixed on
//!   the open handle (`fchmod`), never through the path;
//! - an opened file must be a regular file owned by the running user.

use std::fs::{File, OpenOptions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of the state directory and every directory in it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of every file in the state directory.
pub const FILE_MODE: u32 = 0o600;

/// Why a state file or directory was refused.
#[derive(Debug, thiserror::Error)]
pub enum StateFsError {
    #[error(
        "{}: the state directory is owned by uid {owner}, not by the user running cadenced (uid {me}); refusing to use it (give it to this user with chown, or choose another --state-dir)",
        path.display()
    )]
    NotOwned { path: PathBuf, owner: u32, me: u32 },
    #[error(
        "{}: the state directory is writable by its group or by others (mode {mode:04o}); refusing to use it (run chmod 700 on it)",
        path.display()
    )]
    Writable { path: PathBuf, mode: u32 },
    #[error("{}: is a symbolic link; cadenced does not follow links in its state directory (remove it)", path.display())]
    Symlink { path: PathBuf },
    #[error("{}: is not a {expected}; refusing to use it", path.display())]
    WrongType {
        path: PathBuf,
        expected: &'static str,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl StateFsError {
    fn io(path: &Path) -> impl Fn(std::io::Error) -> StateFsError + '_ {
        move |source| {
            // ELOOP is how O_NOFOLLOW says "a symbolic link".
            if source.raw_os_error() == Some(libc::ELOOP) {
                StateFsError::Symlink {
                    path: path.to_path_buf(),
                }
            } else {
                StateFsError::Io {
                    path: path.to_path_buf(),
                    source,
                }
            }
        }
    }

    /// Whether the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StateFsError::Io { source, .. } if source.kind() == ErrorKind::NotFound)
    }
}

/// The effective uid of this process.
pub fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// Create the state directory (0700) when missing, then check it: owned by this user, not
/// writable by group or others (read bits of an existing directory are tightened to 0700).
pub fn ensure_state_dir(dir: &Path) -> Result<(), StateFsError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(dir)
                .map_err(StateFsError::io(dir))?;
        }
        Err(e) => return Err(StateFsError::io(dir)(e)),
        Ok(_) => {}
    }
    // The state directory itself may be reached through a link the user made (the check is on
    // what it points to); the files and directories in it may not.
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(dir)
        .map_err(StateFsError::io(dir))?;
    check_dir_handle(dir, &handle)
}

fn check_dir_handle(dir: &Path, handle: &File) -> Result<(), StateFsError> {
    let meta = handle.metadata().map_err(StateFsError::io(dir))?;
    if !meta.is_dir() {
        return Err(StateFsError::WrongType {
            path: dir.to_path_buf(),
            expected: "directory",
        });
    }
    let me = euid();
    if meta.uid() != me {
        return Err(StateFsError::NotOwned {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(StateFsError::Writable {
            path: dir.to_path_buf(),
            mode,
        });
    }
    if mode & 0o777 != DIR_MODE {
        handle
            .set_permissions(std::fs::Permissions::from_mode(DIR_MODE))
            .map_err(StateFsError::io(dir))?;
    }
    Ok(())
}

/// A directory inside the state directory (`tokens/`, `oauth/`, agendas): created 0700 when
/// missing (with its parents, each checked), never a symbolic link, owned by this user, not
/// writable by others; its mode is fixed on the handle.
pub fn ensure_subdir(dir: &Path) -> Result<(), StateFsError> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty())
                && std::fs::symlink_metadata(parent).is_err()
            {
                ensure_subdir(parent)?;
            }
            match std::fs::DirBuilder::new().mode(DIR_MODE).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(StateFsError::io(dir)(e)),
            }
        }
        Err(e) => return Err(StateFsError::io(dir)(e)),
        Ok(m) if m.file_type().is_symlink() => {
            return Err(StateFsError::Symlink {
                path: dir.to_path_buf(),
            });
        }
        Ok(_) => {}
    }
    let handle = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(dir)
        .map_err(StateFsError::io(dir))?;
    check_dir_handle(dir, &handle)
}

/// Check an opened file: a regular file owned by this user, mode 0600 (fixed on the handle).
fn checked(path: &Path, file: File) -> Result<File, StateFsError> {
    let meta = file.metadata().map_err(StateFsError::io(path))?;
    if !meta.is_file() {
        return Err(StateFsError::WrongType {
            path: path.to_path_buf(),
            expected: "regular file",
        });
    }
    let me = euid();
    if meta.uid() != me {
        return Err(StateFsError::NotOwned {
            path: path.to_path_buf(),
            owner: meta.uid(),
            me,
        });
    }
    if meta.mode() & 0o7777 != FILE_MODE {
        file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))
            .map_err(StateFsError::io(path))?;
    }
    Ok(file)
}

fn no_follow() -> i32 {
    libc::O_NOFOLLOW | libc::O_CLOEXEC
}

/// Open an existing state file for reading (never through a symbolic link).
pub fn open_read(path: &Path) -> Result<File, StateFsError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(no_follow())
        .open(path)
        .map_err(StateFsError::io(path))?;
    checked(path, file)
}

/// Open a state file for reading and writing, creating it (0600) when missing; never through a
/// symbolic link; the content is kept.
pub fn open_rw(path: &Path) -> Result<File, StateFsError> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .custom_flags(no_follow())
        .open(path)
        .map_err(StateFsError::io(path))?;
    checked(path, file)
}

/// Create a new state file (0600); refused when anything (a file, a link) is already there.
pub fn create_new(path: &Path) -> Result<File, StateFsError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(no_follow())
        .open(path)
        .map_err(StateFsError::io(path))?;
    checked(path, file)
}

/// Read a whole state file as text; `Ok(None)` when it does not exist.
pub fn read_to_string(path: &Path) -> Result<Option<String>, StateFsError> {
    use std::io::Read;
    let mut file = match open_read(path) {
        Ok(f) => f,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)
        .map_err(StateFsError::io(path))?;
    Ok(Some(text))
}

/// Replace `path` atomically with `bytes`: a new 0600 temp file beside it (create-new; a
/// leftover temp file of ours is removed first, a link is never followed), fsync, rename over
/// `path` (a rename replaces a link, it never writes through it), fsync of the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateFsError> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // remove_file unlinks a link itself, never its target.
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut f = create_new(&tmp)?;
        f.write_all(bytes).map_err(StateFsError::io(&tmp))?;
        f.sync_all().map_err(StateFsError::io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(StateFsError::io(path))?;
        // Make the rename itself durable.
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(StateFsError::io(dir))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Refuse a file whose directory (a directory cadenced made in the state directory, such as
/// `tokens/`) is a symbolic link; a missing directory is fine.
pub fn check_parent(path: &Path) -> Result<(), StateFsError> {
    let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_symlink() => Err(StateFsError::Symlink {
            path: dir.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Refuse `path` when it is a symbolic link (a missing path is fine). For files another library
/// opens by name (SQLite's `-wal` and `-shm`).
pub fn refuse_symlink(path: &Path) -> Result<(), StateFsError> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(StateFsError::Symlink {
            path: path.to_path_buf(),
        }),
        Ok(m) if !m.is_file() => Err(StateFsError::WrongType {
            path: path.to_path_buf(),
            expected: "regular file",
        }),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StateFsError::io(path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn a_linked_file_is_refused_and_its_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "precious\n").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("cadenced.db");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        for result in [open_rw(&link), open_read(&link), create_new(&link)] {
            let err = result.unwrap_err();
            assert!(
                matches!(err, StateFsError::Symlink { .. } | StateFsError::Io { .. }),
                "{err}"
            );
        }
        assert!(matches!(
            open_rw(&link).unwrap_err(),
            StateFsError::Symlink { .. }
        ));
        assert!(refuse_symlink(&link).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "precious\n");
        assert_eq!(mode(&target), 0o644);
    }

    #[test]
    fn files_are_0600_fixed_on_the_handle_and_written_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "x").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        open_rw(&path).unwrap().write_all(b"y").unwrap();
        assert_eq!(mode(&path), 0o600);
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(mode(&path), 0o600);
        // A link at the destination is replaced, its target is never written.
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("l");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        write_atomic(&link, b"mine").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn state_dirs_writable_by_others_or_linked_subdirs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        ensure_state_dir(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_state_dir(&state).unwrap();
        assert_eq!(mode(&state), 0o700);
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o770)).unwrap();
        let err = ensure_state_dir(&state).unwrap_err();
        assert!(err.to_string().contains("chmod 700"), "{err}");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::set_permissions(&elsewhere, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tokens = state.join("tokens");
        std::os::unix::fs::symlink(&elsewhere, &tokens).unwrap();
        assert!(matches!(
            ensure_subdir(&tokens).unwrap_err(),
            StateFsError::Symlink { .. }
        ));
        assert_eq!(mode(&elsewhere), 0o755);
        ensure_subdir(&state.join("a/b")).unwrap();
        assert_eq!(mode(&state.join("a")), 0o700);
        assert_eq!(mode(&state.join("a/b")), 0o700);
    }
}
