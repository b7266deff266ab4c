//! Sections of an agenda document and the follow-ups carried over between them (docs/design.md, Agenda documents).
//!
//! A section starts with the marker line `<!-- cadenced:section <start RFC 3339 UTC> <tag> -->`,
//! which the planner writes itself (never the template), so a section is recognized whatever
//! template rendered it. In a living document the newest section is at the top.
//!
//! The tag is an HMAC-SHA256 of the start under a secret of the state directory
//! ([`MarkerKey`], `<state>/agenda.key`), cut to 16 hex digits. A document is shared with the
//! report, who can type anything into it: only a marker with a valid tag says "this session's
//! section is already here" ([`has_section`]), so a forged marker cannot suppress a section.
//! Markers without a valid tag (forged, or written before tags, or under a lost key) still
//! delimit sections for carrying follow-ups over and for placing the next section.
//!
//! Follow-ups are task lines `- [ ] text` (or `* [ ]`). An item is carried over while it is
//! unchecked everywhere it appears: checking it in any section (the original or a carried copy)
//! closes it. The date it was raised is the date written beside a carried copy (`(raised
//! YYYY-MM-DD)`, `（YYYY-MM-DD 提起）`), else the date of the first section it appears in.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The secret that signs section markers; one per state directory.
#[derive(Clone)]
pub struct MarkerKey(aws_lc_rs::hmac::Key);

impl std::fmt::Debug for MarkerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MarkerKey(<redacted>)")
    }
}

/// The key file in the state directory.
pub const KEY_FILE: &str = "agenda.key";

impl MarkerKey {
    pub fn new(secret: &[u8]) -> MarkerKey {
        MarkerKey(aws_lc_rs::hmac::Key::new(
            aws_lc_rs::hmac::HMAC_SHA256,
            secret,
        ))
    }

    /// The state directory's key: `<state>/agenda.key` (32 random bytes, hex, 0600), made on
    /// first use; never read through a link.
    pub fn load_or_create(
        state_dir: &std::path::Path,
    ) -> Result<MarkerKey, crate::statefs::StateFsError> {
        use std::io::Write;
        let path = state_dir.join(KEY_FILE);
        let io = |source| crate::statefs::StateFsError::Io {
            path: path.clone(),
            source,
        };
        if let Some(text) = crate::statefs::read_to_string(&path)?
            && text.trim().len() >= 32
        {
            return Ok(MarkerKey::new(text.trim().as_bytes()));
        }
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| io(std::io::Error::other("no randomness")))?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let _ = std::fs::remove_file(&path);
        let mut f = crate::statefs::create_new(&path)?;
        f.write_all(hex.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(MarkerKey::new(hex.as_bytes()))
    }

    fn tag(&self, start: &str) -> String {
        let tag = aws_lc_rs::hmac::sign(&self.0, format!("cadenced:section {start}").as_bytes());
        tag.as_ref()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn verifies(&self, start: &str, tag: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            self.tag(start).as_bytes(),
            tag.as_bytes(),
        )
        .is_ok()
    }
}

fn marker_time(start: DateTime<Utc>) -> String {
    start.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The marker line that opens a section, tagged with `key`.
pub fn section_marker(start: DateTime<Utc>, key: &MarkerKey) -> String {
    let at = marker_time(start);
    format!("<!-- cadenced:section {at} {} -->", key.tag(&at))
}

const MARKER_PREFIX: &str = "<!-- cadenced:section ";

/// One section of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section<'a> {
    /// The session's start, from the marker.
    pub start: Option<DateTime<Utc>>,
    /// The section's text after its marker line.
    pub body: &'a str,
}

/// The byte offset at which the first section starts (where a new section goes), or the end.
pub fn first_section_offset(doc: &str) -> usize {
    let mut offset = 0;
    for line in doc.split_inclusive('\n') {
        if line.trim_start().starts_with(MARKER_PREFIX) {
            return offset;
        }
        offset += line.len();
    }
    doc.len()
}

/// The sections of a document, in document order (newest first in a living document). Text
/// before the first marker is not a section.
pub fn sections(doc: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut current: Option<(Option<DateTime<Utc>>, usize)> = None;
    let mut offset = 0;
    for line in doc.split_inclusive('\n') {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix(MARKER_PREFIX) {
            if let Some((start, from)) = current.take() {
                out.push(Section {
                    start,
                    body: &doc[from..offset],
                });
            }
            let start = rest
                .trim_end_matches("-->")
                .split_whitespace()
                .next()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok());
            current = Some((start, offset + line.len()));
        }
        offset += line.len();
    }
    if let Some((start, from)) = current {
        out.push(Section {
            start,
            body: &doc[from..],
        });
    }
    out
}

/// Does the document already hold the section of the session starting at `start`, under a
/// marker that cadenced wrote (its tag verifies under `key`)?
///
/// `key` is `None` only while recovering a document that the state directory does not know
/// (its bookkeeping, and with it the key, was lost): then any marker for `start` counts, so
/// that the document is not given the same section twice.
pub fn has_section(doc: &str, start: DateTime<Utc>, key: Option<&MarkerKey>) -> bool {
    let Some(key) = key else {
        return sections(doc).iter().any(|s| s.start == Some(start));
    };
    let at = marker_time(start);
    doc.lines().any(|line| {
        let Some(rest) = line.trim().strip_prefix(MARKER_PREFIX) else {
            return false;
        };
        let mut words = rest.trim_end_matches("-->").split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(t), Some(tag), None) => t == at && key.verifies(&at, tag),
            _ => false,
        }
    })
}

/// An open follow-up to carry into a new section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FollowUp {
    pub text: String,
    /// `YYYY-MM-DD`.
    pub raised: NaiveDate,
}

/// A task line: (checked, text without the raised annotation, raised date if annotated).
fn task(line: &str) -> Option<(bool, String, Option<NaiveDate>)> {
    let t = line.trim_start();
    let rest = t.strip_prefix("- ").or_else(|| t.strip_prefix("* "))?;
    let (checked, text) = if let Some(r) = rest.strip_prefix("[ ]") {
        (false, r)
    } else if let Some(r) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, r)
    } else {
        return None;
    };
    let text = text.trim();
    let (text, raised) = strip_raised(text);
    let text = text.trim().to_string();
    if text.is_empty() {
        return None;
    }
    Some((checked, text, raised))
}

/// Split a trailing raised-date annotation off: `(raised 2026-11-17)`, `（2026-11-17 提起）`,
/// `(2026-11-17)`.
fn strip_raised(text: &str) -> (&str, Option<NaiveDate>) {
    let candidates: [(&str, &str); 2] = [("(", ")"), ("（", "）")];
    for (open, close) in candidates {
        if let Some(inner_end) = text.strip_suffix(close)
            && let Some(pos) = inner_end.rfind(open)
        {
            let inner = &inner_end[pos + open.len()..];
            let inner = inner
                .trim()
                .trim_start_matches("raised")
                .trim_end_matches("提起")
                .trim();
            if let Ok(d) = NaiveDate::parse_from_str(inner, "%Y-%m-%d") {
                return (&text[..pos], Some(d));
            }
        }
    }
    (text, None)
}

fn key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The open follow-ups of earlier sections. `sections` are `(date of the section, body)` in
/// chronological order (oldest first).
pub fn open_follow_ups<'a>(
    sections: impl IntoIterator<Item = (NaiveDate, &'a str)>,
) -> Vec<FollowUp> {
    let mut open: Vec<(String, FollowUp)> = Vec::new();
    let mut closed: HashSet<String> = HashSet::new();
    for (date, body) in sections {
        for line in body.lines() {
            let Some((checked, text, raised)) = task(line) else {
                continue;
            };
            let k = key(&text);
            if checked {
                closed.insert(k);
            } else if let Some((_, f)) = open.iter_mut().find(|(ok, _)| *ok == k) {
                if let Some(r) = raised
                    && r < f.raised
                {
                    f.raised = r;
                }
            } else {
                open.push((
                    k,
                    FollowUp {
                        text,
                        raised: raised.unwrap_or(date),
                    },
                ));
            }
        }
    }
    open.into_iter()
        .filter(|(k, _)| !closed.contains(k))
        .map(|(_, f)| f)
        .collect()
}

/// The sections of documents strictly before `before`, oldest first, with their local dates.
/// `docs` are whole documents (a living document, or one document per session), in any order.
pub fn earlier_sections<'a>(
    docs: &[&'a str],
    before: DateTime<Utc>,
    zone: Tz,
) -> Vec<(NaiveDate, &'a str)> {
    let mut all: Vec<(DateTime<Utc>, &'a str)> = docs
        .iter()
        .flat_map(|d| sections(d))
        .filter_map(|s| s.start.filter(|t| *t < before).map(|t| (t, s.body)))
        .collect();
    all.sort_by_key(|(t, _)| *t);
    all.into_iter()
        .map(|(t, b)| (t.with_timezone(&zone).date_naive(), b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn unchecked_items_carry_with_their_first_date_and_checked_ones_close() {
        let s1 = "## s1\n- [ ] Write the design doc\n- [x] Book the offsite\n- [ ] Ask about budget\n- [ ] \n";
        let s2 = "## s2\n- [x] Write the design doc (raised 2026-11-03)\n- [ ] Ask about budget (raised 2026-11-03)\n- [ ] Pair with Bob\n";
        let open = open_follow_ups([(d("2026-11-03"), s1), (d("2026-11-10"), s2)]);
        assert_eq!(
            open,
            vec![
                FollowUp {
                    text: "Ask about budget".into(),
                    raised: d("2026-11-03")
                },
                FollowUp {
                    text: "Pair with Bob".into(),
                    raised: d("2026-11-10")
                },
            ]
        );
    }

    #[test]
    fn japanese_annotation_is_recognized() {
        let (t, r) = strip_raised("評価面談の準備（2026-11-03 提起）");
        assert_eq!(t, "評価面談の準備");
        assert_eq!(r, Some(d("2026-11-03")));
    }

    #[test]
    fn sections_split_on_markers_and_new_ones_go_before_the_first() {
        let key = MarkerKey::new(b"0123456789abcdef0123456789abcdef");
        let t = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let doc = format!(
            "# Title\n\n{}\nB\n<!-- cadenced:section 2026-11-17T01:00:00Z -->\nA\n",
            section_marker(t("2026-11-24T01:00:00Z"), &key)
        );
        let s = sections(&doc);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].body, "B\n");
        assert_eq!(s[0].start, Some(t("2026-11-24T01:00:00Z")));
        assert_eq!(s[1].body, "A\n");
        assert_eq!(first_section_offset(&doc), "# Title\n\n".len());
        assert!(has_section(&doc, t("2026-11-24T01:00:00Z"), Some(&key)));
        // An untagged (or forged) marker delimits a section but does not count as written.
        assert!(!has_section(&doc, t("2026-11-17T01:00:00Z"), Some(&key)));
        assert!(has_section(&doc, t("2026-11-17T01:00:00Z"), None));
        let forged = "<!-- cadenced:section 2026-12-01T01:00:00Z 0000000000000000 -->\n";
        assert!(!has_section(forged, t("2026-12-01T01:00:00Z"), Some(&key)));
        let other = MarkerKey::new(b"another key, another state dir!!");
        assert!(!has_section(&doc, t("2026-11-24T01:00:00Z"), Some(&other)));
    }
}
