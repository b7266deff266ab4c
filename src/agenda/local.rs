//! The `local` document back-end: Markdown files under `[agenda] dir` (`<report>.md` in series mode,
//! `<report>/<date>.md` in session mode).
//!
//! Invariants: a file is replaced atomically (temporary file, then rename), so a reader never sees
//! half a document; a new section is inserted before the first existing one and every other
//! byte of the file stays as it was; a write is conditional on the text read (the file is read
//! again just before the rename and the write is refused when it changed meanwhile); files are
//! 0600 in 0700 directories of the running user, read and written without following links
//! ([`crate::statefs`]); file names are one-to-one with report addresses ([`file_stem`]).

use std::path::{Path, PathBuf};

use super::carryover;

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("agenda file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("agenda file {path} changed while cadenced was adding a section; it was left as is")]
    Changed { path: PathBuf },
    #[error("agenda file: {0}")]
    Refused(#[from] crate::statefs::StateFsError),
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file name for a report's address: one-to-one (two addresses never share a file), with no
/// path separator, control character or leading dot. `%`, `/`, `\\`, control characters and a
/// leading `.` are written as `%XX` (their UTF-8 bytes); everything else is kept as it is.
pub fn file_stem(report: &str) -> String {
    let mut out = String::with_capacity(report.len());
    for (i, c) in report.chars().enumerate() {
        if matches!(c, '%' | '/' | '\\') || c.is_control() || (i == 0 && c == '.') {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `base` + `location`, with exactly one `/` between them.
pub fn join_url(base: &str, location: &str) -> String {
    if base.ends_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    }
}

pub fn read(path: &Path) -> Result<String, LocalError> {
    crate::statefs::check_parent(path)?;
    match crate::statefs::read_to_string(path)? {
        Some(text) => Ok(text),
        None => Err(io(path)(std::io::ErrorKind::NotFound.into())),
    }
}

/// Does the file (when it exists) hold the section of the session starting at `start`?
pub fn has_section(
    path: &Path,
    start: chrono::DateTime<chrono::Utc>,
    key: Option<&carryover::MarkerKey>,
) -> Result<bool, LocalError> {
    crate::statefs::check_parent(path)?;
    Ok(crate::statefs::read_to_string(path)?
        .is_some_and(|text| carryover::has_section(&text, start, key)))
}

fn write_atomic(path: &Path, text: &str) -> Result<(), LocalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::statefs::ensure_subdir(dir)?;
    Ok(crate::statefs::write_atomic(path, text.as_bytes())?)
}

/// Create a new document (refuses nothing: the caller checked it does not exist).
pub fn create(path: &Path, text: &str) -> Result<(), LocalError> {
    write_atomic(path, text)
}

/// Insert `section` before the first section of `read_text` (the text read from `path`).
pub fn insert_section(path: &Path, read_text: &str, section: &str) -> Result<(), LocalError> {
    let at = carryover::first_section_offset(read_text);
    let mut text = String::with_capacity(read_text.len() + section.len() + 1);
    text.push_str(&read_text[..at]);
    if !text.is_empty() && !text.ends_with("\n\n") {
        text.push_str(if text.ends_with('\n') { "\n" } else { "\n\n" });
    }
    text.push_str(section);
    text.push_str(&read_text[at..]);
    if read(path)? != read_text {
        return Err(LocalError::Changed {
            path: path.to_path_buf(),
        });
    }
    write_atomic(path, &text)
}

/// The Markdown documents in a report's session directory: (file name, text), by name.
pub fn report_documents(dir: &Path) -> Result<Vec<(String, String)>, LocalError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".md") && !name.starts_with('.') {
            // A link among them is refused by `read` (it never follows one).
            out.push((name, read(&entry.path())?));
        }
    }
    out.sort();
    Ok(out)
}
