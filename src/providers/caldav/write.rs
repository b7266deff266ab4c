//! Agenda links in CalDAV events: the delimited block (`block.rs`) in DESCRIPTION, written with
//! `PUT` + `If-Match` on the entity tag just read.
//!
//! Invariants:
//! - Only DESCRIPTION property lines of VEVENTs change; every other line of the resource is
//!   written back byte for byte (line ends, folding, property order, VALARM descriptions).
//! - Adding keeps the existing DESCRIPTION lines as they are and appends continuation lines
//!   holding the escaped separator and block (or adds one DESCRIPTION before `END:VEVENT` when
//!   there was none); removing drops exactly those lines again (or, when the server re-folded
//!   them, folds the remaining value anew), so `agenda unlink` restores the resource.
//! - A resource holds one UID (the master and its overrides, RFC 4791 §4.1): the block goes into
//!   each of its VEVENTs, so every occurrence's invite shows it.
//! - Only events the manager organizes are written (ORGANIZER checked on the live copy); a 412
//!   re-reads and retries at most [`MAX_ATTEMPTS`] times.

use reqwest::{Method, StatusCode, Url};

use super::dav::{Dav, Request};
use crate::providers::block;
use crate::providers::write::{
    EventLinker, EventRef, LinkOutcome, MAX_ATTEMPTS, UNKNOWN_RESOURCE, UnlinkOutcome,
};
/// What an `agenda_links` row records as the mark of a CalDAV link (the block itself).
pub const MARK: &str = "description-block";

/// Longest physical line, in octets, without its line end (RFC 5545 §3.1).
const FOLD: usize = 75;

/// The physical lines of a text, each with its line end.
fn lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

fn newline_of(text: &str) -> &'static str {
    if text.contains("\r\n") { "\r\n" } else { "\n" }
}

fn strip_end(line: &str) -> &str {
    line.trim_end_matches('\n').trim_end_matches('\r')
}

fn is_continuation(line: &str) -> bool {
    line.starts_with(' ') || line.starts_with('\t')
}

/// The property name of a content line (upper-cased).
fn name_of(line: &str) -> String {
    strip_end(line)
        .split([';', ':'])
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// Where the value starts in an unfolded content line: after the first `:` outside quotes.
fn value_start(logical: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in logical.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ':' if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Split `text` into pieces of at most `max` octets at character boundaries.
fn chunks(text: &str, first_max: usize, max: usize) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut limit = first_max;
    while !rest.is_empty() {
        let mut cut = rest.len().min(limit);
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        out.push(&rest[..cut]);
        rest = &rest[cut..];
        limit = max;
    }
    out
}

/// A content line folded at [`FOLD`] octets.
fn fold(logical: &str, nl: &str) -> String {
    chunks(logical, FOLD, FOLD - 1)
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                format!("{c}{nl}")
            } else {
                format!(" {c}{nl}")
            }
        })
        .collect()
}

/// One top-level VEVENT: its line range, and its DESCRIPTION and ORGANIZER line ranges.
#[derive(Debug, Clone)]
struct VEvent {
    end: usize,
    description: Option<std::ops::Range<usize>>,
    organizer: Option<String>,
}

fn unfold(lines: &[&str]) -> String {
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let l = strip_end(l);
            if i == 0 { l } else { &l[1.min(l.len())..] }
        })
        .collect()
}

/// The VEVENTs of a resource (their own properties only, not those of a VALARM inside).
fn vevents(ls: &[&str]) -> Vec<VEvent> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut current: Option<VEvent> = None;
    let mut depth = 0usize;
    while i < ls.len() {
        let line = ls[i];
        // The logical line: this physical line and its continuations.
        let mut j = i + 1;
        while j < ls.len() && is_continuation(ls[j]) {
            j += 1;
        }
        let name = name_of(line);
        let value = || {
            let logical = unfold(&ls[i..j]);
            value_start(&logical).map(|s| logical[s..].to_string())
        };
        match (&mut current, name.as_str()) {
            (None, "BEGIN") if value().is_some_and(|v| v.eq_ignore_ascii_case("VEVENT")) => {
                current = Some(VEvent {
                    end: 0,
                    description: None,
                    organizer: None,
                });
                depth = 0;
            }
            (Some(_), "BEGIN") => depth += 1,
            (Some(_), "END") if depth > 0 => depth -= 1,
            (Some(ev), "END") => {
                ev.end = i;
                out.extend(current.take());
            }
            (Some(ev), "DESCRIPTION") if depth == 0 && ev.description.is_none() => {
                ev.description = Some(i..j);
            }
            (Some(ev), "ORGANIZER") if depth == 0 => {
                ev.organizer = value();
            }
            _ => {}
        }
        i = j;
    }
    out
}

/// Whether the manager organizes the resource's event: its first VEVENT with an ORGANIZER names
/// `manager` (an event without any ORGANIZER is the calendar owner's own).
pub fn organized_by(text: &str, manager: &str) -> bool {
    let ls = lines(text);
    match vevents(&ls).into_iter().find_map(|e| e.organizer) {
        None => true,
        Some(o) => {
            let o = o.trim();
            let addr = o
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case("mailto:"))
                .map_or(o, |_| &o[7..]);
            addr.eq_ignore_ascii_case(manager)
        }
    }
}

/// The resource with the block in every VEVENT's DESCRIPTION; `None` when each already has one.
pub fn add_block(text: &str, title: &str, url: &str) -> Option<String> {
    let nl = newline_of(text);
    let ls = lines(text);
    let events = vevents(&ls);
    let the_block = block::block(title, url);
    let mut insert: Vec<(usize, String)> = Vec::new();
    for ev in &events {
        match &ev.description {
            Some(r) => {
                let logical = unfold(&ls[r.clone()]);
                let Some(start) = value_start(&logical) else {
                    continue;
                };
                let current = unescape(&logical[start..]);
                if block::find(&current).is_some() {
                    continue;
                }
                let added = block::add(Some(&current), &the_block);
                // Only what `add` appended (a separator when the text was not empty).
                let tail = escape(&added[current.len()..]);
                let cont: String = chunks(&tail, FOLD - 1, FOLD - 1)
                    .iter()
                    .map(|c| format!(" {c}{nl}"))
                    .collect();
                // The last DESCRIPTION line may lack a line end only at the end of the text.
                let last = ls[r.end - 1];
                let fix = if last.ends_with('\n') { "" } else { nl };
                insert.push((r.end, format!("{fix}{cont}")));
            }
            None => {
                let line = format!("DESCRIPTION:{}", escape(&the_block));
                insert.push((ev.end, fold(&line, nl)));
            }
        }
    }
    if insert.is_empty() {
        return None;
    }
    Some(splice(&ls, &insert, &[]))
}

/// The resource without the block in any VEVENT; `None` when no VEVENT has one.
pub fn remove_block(text: &str) -> Option<String> {
    let nl = newline_of(text);
    let ls = lines(text);
    let mut insert: Vec<(usize, String)> = Vec::new();
    let mut drop: Vec<std::ops::Range<usize>> = Vec::new();
    for ev in vevents(&ls) {
        let Some(r) = ev.description else { continue };
        let logical = unfold(&ls[r.clone()]);
        let Some(start) = value_start(&logical) else {
            continue;
        };
        let current = unescape(&logical[start..]);
        let Some(rest) = block::remove(&current) else {
            continue;
        };
        drop.push(r.clone());
        let kept = format!("{}{}", &logical[..start], escape(&rest));
        // The original lines when the block's lines were appended after them (the usual case).
        let mut acc = String::new();
        let mut boundary = None;
        for k in r.clone() {
            acc.push_str(if k == r.start {
                strip_end(ls[k])
            } else {
                &strip_end(ls[k])[1..]
            });
            if acc == kept {
                boundary = Some(k + 1);
                break;
            }
        }
        // No boundary and nothing left: the DESCRIPTION was added with the block; drop it.
        let replacement = match boundary {
            Some(b) => ls[r.start..b].concat(),
            None if rest.is_empty() => continue,
            None => fold(&kept, nl),
        };
        insert.push((r.start, replacement));
    }
    if drop.is_empty() {
        return None;
    }
    Some(splice(&ls, &insert, &drop))
}

/// The lines with `drop` ranges left out and `insert` texts placed before the given line.
fn splice(ls: &[&str], insert: &[(usize, String)], drop: &[std::ops::Range<usize>]) -> String {
    let mut out = String::new();
    for (k, line) in ls.iter().enumerate() {
        for (_, text) in insert.iter().filter(|(at, _)| *at == k) {
            out.push_str(text);
        }
        if !drop.iter().any(|r| r.contains(&k)) {
            out.push_str(line);
        }
    }
    for (_, text) in insert.iter().filter(|(at, _)| *at >= ls.len()) {
        out.push_str(text);
    }
    out
}

/// One CalDAV account's event writer.
pub struct CaldavWriter {
    dav: Dav,
    manager: String,
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0}")]
    Dav(#[from] crate::providers::caldav::dav::DavError),
    #[error("{url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("{}", UNKNOWN_RESOURCE)]
    Unknown,
}

enum Read {
    Gone,
    Body { text: String, etag: String },
}

impl CaldavWriter {
    /// The writer over a CalDAV session (`caldav::session`).
    pub fn new(dav: Dav, manager: &str) -> Self {
        CaldavWriter {
            dav,
            manager: manager.to_string(),
        }
    }

    async fn read(&self, url: &Url) -> Result<Read, WriteError> {
        let reply = self
            .dav
            .send(&Request {
                method: Method::GET,
                url,
                depth: None,
                body: None,
                content_type: "",
                if_match: None,
            })
            .await?;
        match reply.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Read::Gone),
            s if s.is_success() => Ok(Read::Body {
                etag: reply.etag().unwrap_or_default(),
                text: String::from_utf8_lossy(&reply.body).into_owned(),
            }),
            s => Err(WriteError::Status {
                url: crate::providers::http::redact_url(url.as_str()),
                status: s.as_u16(),
            }),
        }
    }

    /// PUT `text` if the resource still has `etag`: `Ok(Some(new etag))`, `Ok(None)` on 412.
    async fn write(
        &self,
        url: &Url,
        etag: &str,
        text: String,
    ) -> Result<Option<Option<String>>, WriteError> {
        let reply = self
            .dav
            .send(&Request {
                method: Method::PUT,
                url,
                depth: None,
                body: Some(text),
                content_type: "text/calendar; charset=utf-8",
                if_match: (!etag.is_empty()).then_some(etag),
            })
            .await?;
        match reply.status {
            StatusCode::PRECONDITION_FAILED => Ok(None),
            s if s.is_success() => Ok(Some(reply.etag())),
            s => Err(WriteError::Status {
                url: crate::providers::http::redact_url(url.as_str()),
                status: s.as_u16(),
            }),
        }
    }
}

impl EventLinker for CaldavWriter {
    type Error = WriteError;

    fn mark(&self) -> &'static str {
        MARK
    }

    /// Add the block to the resource at `url` (see the module documentation).
    async fn link(
        &self,
        event: &EventRef<'_>,
        title: &str,
        link: &str,
    ) -> Result<LinkOutcome, WriteError> {
        let url = event.resource.ok_or(WriteError::Unknown)?;
        for _ in 0..MAX_ATTEMPTS {
            let Read::Body { text, etag } = self.read(url).await? else {
                return Err(WriteError::Status {
                    url: crate::providers::http::redact_url(url.as_str()),
                    status: 404,
                });
            };
            if !organized_by(&text, &self.manager) {
                return Ok(LinkOutcome::NotOrganizer);
            }
            let Some(new) = add_block(&text, title, link) else {
                return Ok(LinkOutcome::AlreadyLinked {
                    etag: Some(etag).filter(|e| !e.is_empty()),
                });
            };
            if let Some(etag) = self.write(url, &etag, new).await? {
                return Ok(LinkOutcome::Linked { etag });
            }
        }
        Ok(LinkOutcome::GaveUp)
    }

    /// Remove the block from the resource at `url`.
    async fn unlink(&self, event: &EventRef<'_>) -> Result<UnlinkOutcome, WriteError> {
        let url = event.resource.ok_or(WriteError::Unknown)?;
        for _ in 0..MAX_ATTEMPTS {
            let Read::Body { text, etag } = self.read(url).await? else {
                return Ok(UnlinkOutcome::Gone);
            };
            let Some(new) = remove_block(&text) else {
                return Ok(UnlinkOutcome::NothingToRemove);
            };
            if self.write(url, &etag, new).await?.is_some() {
                return Ok(UnlinkOutcome::Removed);
            }
        }
        Ok(UnlinkOutcome::GaveUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RES: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261005T090000Z\r\n\
DESCRIPTION:Agenda\\, notes and a long line that goes on and on and on and on and on \r\n and on\r\n\
ORGANIZER;CN=\"Mika: manager\":mailto:Mika@Example.com\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nEND:VALARM\r\n\
END:VEVENT\r\nBEGIN:VEVENT\r\nUID:a\r\nRECURRENCE-ID:20261012T090000Z\r\nDTSTART:20261013T090000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

    #[test]
    fn only_descriptions_change_and_unlink_restores_every_byte() {
        let url = "https://intranet.example.com/agendas/ana.md";
        let added = add_block(RES, "Ana ⇄ Mika — 1on1, weekly; notes", url).unwrap();
        // Every original line is still there, in order; the new ones are DESCRIPTION lines or
        // their continuations.
        let (old, new) = (lines(RES), lines(&added));
        let mut k = 0;
        for l in &new {
            if k < old.len() && *l == old[k] {
                k += 1;
            } else {
                assert!(l.starts_with(' ') || l.starts_with("DESCRIPTION:"), "{l:?}");
                assert!(l.len() <= FOLD + 2, "{l:?}");
            }
        }
        assert_eq!(k, old.len());
        assert_eq!(
            added.matches("cadenced agenda --").count(),
            4,
            "both VEVENTs"
        );
        assert!(added.contains("Reminder"), "the VALARM is untouched");
        assert!(add_block(&added, "x", url).is_none(), "already linked");
        assert_eq!(remove_block(&added).as_deref(), Some(RES));
        assert_eq!(remove_block(RES), None);
        // The block reads back through the .ics parser.
        let feed = crate::providers::ics::parse_feed(added.as_bytes(), "t", "c").unwrap();
        let d = feed.events[0].description.as_deref().unwrap();
        assert_eq!(block::link_in(d), Some(url));
        assert!(d.starts_with("Agenda, notes"));
    }

    #[test]
    fn refolded_by_the_server_still_unlinks() {
        let added = add_block(RES, "T", "https://x/a.md").unwrap();
        // A server that unfolds every line (and uses LF).
        let refolded: String = lines(&added.replace("\r\n ", ""))
            .iter()
            .map(|l| l.replace("\r\n", "\n"))
            .collect();
        let removed = remove_block(&refolded).unwrap();
        let feed = crate::providers::ics::parse_feed(removed.as_bytes(), "t", "c").unwrap();
        assert_eq!(
            feed.events[0].description.as_deref(),
            Some("Agenda, notes and a long line that goes on and on and on and on and on and on")
        );
        assert!(!removed.contains("cadenced"));
    }

    #[test]
    fn organizer() {
        assert!(organized_by(RES, "mika@example.com"));
        assert!(!organized_by(RES, "ana@example.com"));
        assert!(organized_by("BEGIN:VEVENT\nUID:x\nEND:VEVENT\n", "a@b.c"));
    }

    proptest::proptest! {
        #[test]
        fn remove_undoes_add(desc in "[ -~\\n,;\\\\é]{0,200}", title in "[ -~é]{1,40}") {
            let res = if desc.is_empty() {
                "BEGIN:VEVENT\r\nUID:p\r\nEND:VEVENT\r\n".to_string()
            } else {
                format!("BEGIN:VEVENT\r\nUID:p\r\n{}END:VEVENT\r\n", fold(&format!("DESCRIPTION:{}", escape(&desc)), "\r\n"))
            };
            let added = add_block(&res, &title, "https://x/y.md").unwrap();
            proptest::prop_assert_eq!(remove_block(&added), Some(res));
        }
    }
}
