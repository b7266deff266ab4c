//! The `local` document back-end: Markdown files under `[agenda] dir` (`<report>.md` in series mode,
//! `<report>/<date>.md` in session mode).
//!
//! Invariants: a file is replaced atomically (temporary file, then rename), so a reader never sees
//! half a document; a new section is inserted before the first existing one and every other
//! byte of the file stays as it was; a write is conditional on the text read (the file is read
//! again just before the rename and the write is refused when it changed meanwhile).

use std::io::Write;
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
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file name for a report's address (no path separators, nothing hidden).
pub fn file_stem(report: &str) -> String {
    let s: String = report
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    s.trim_start_matches('.').to_string()
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
    std::fs::read_to_string(path).map_err(io(path))
}

/// Does the file (when it exists) hold the section of the session starting at `start`?
pub fn has_section(path: &Path, start: chrono::DateTime<chrono::Utc>) -> Result<bool, LocalError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(carryover::has_section(&text, start)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), LocalError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
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
            out.push((name, read(&entry.path())?));
        }
    }
    out.sort();
    Ok(out)
}
