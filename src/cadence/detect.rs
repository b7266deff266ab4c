//! 1on1 detection (docs/cadence-rules.md): who the humans of an occurrence are, and whether it is the 1on1 of
//! a report, a candidate (a two-person meeting with someone outside the roster), or neither.
//!
//! Rules:
//! - The humans are the organizer and the attendees minus resources and rooms, deduplicated by
//!   e-mail compared case-insensitively; a report's aliases count as the report.
//! - A 1on1 of report R: the humans are exactly the manager and R, the title matches no exclusion
//!   pattern, and the occurrence is part of a recurring series or its title matches a 1on1 pattern.
//! - Titles are normalized first: full-width letters, digits, punctuation and spaces become their
//!   ASCII forms, and case is ignored. A pattern made of ASCII matches only where it is not glued
//!   to other letters or digits (`1-1` does not match `11-12`); other patterns match anywhere.

use crate::config::Config;
use crate::model::Event;
use crate::recurrence::Occurrence;

/// The built-in 1on1 title patterns (normalized form).
pub const BUILTIN_PATTERNS: &[&str] = &[
    "1on1",
    "1:1",
    "1-1",
    "1-on-1",
    "1 on 1",
    "one-on-one",
    "one on one",
    "1対1",
    "ワンオンワン",
    "面談",
];

/// The built-in exclusions: performance reviews and evaluations, interviews.
pub const BUILTIN_EXCLUSIONS: &[&str] = &["review", "評価", "interview", "面接"];

/// What an occurrence is, as far as cadence goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// The 1on1 of the report with this roster index.
    Report(usize),
    /// A 1on1-shaped meeting with someone outside the roster (lower-cased e-mail).
    Candidate(String),
    None,
}

/// Classifies occurrences for one configuration.
#[derive(Debug, Clone)]
pub struct Detector {
    manager: String,
    /// Lower-cased addresses (e-mail and aliases) per roster index.
    reports: Vec<Vec<String>>,
    patterns: Vec<String>,
    exclusions: Vec<String>,
}

impl Detector {
    pub fn new(config: &Config) -> Self {
        let norm = |p: &String| normalize_title(p);
        Detector {
            manager: config.manager.email.to_lowercase(),
            reports: config
                .reports
                .iter()
                .map(|r| {
                    std::iter::once(&r.email)
                        .chain(&r.aliases)
                        .map(|a| a.to_lowercase())
                        .collect()
                })
                .collect(),
            patterns: BUILTIN_PATTERNS
                .iter()
                .map(|p| (*p).to_string())
                .chain(config.detection.title_patterns.iter().map(norm))
                .filter(|p| !p.is_empty())
                .collect(),
            exclusions: BUILTIN_EXCLUSIONS
                .iter()
                .map(|p| (*p).to_string())
                .chain(config.detection.exclude_patterns.iter().map(norm))
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }

    /// The roster index of an address, if it belongs to a report.
    pub fn report_of(&self, email: &str) -> Option<usize> {
        self.reports
            .iter()
            .position(|addrs| addrs.iter().any(|a| a.eq_ignore_ascii_case(email)))
    }

    /// Whether an address is the manager's.
    pub fn is_manager(&self, email: &str) -> bool {
        email.eq_ignore_ascii_case(&self.manager)
    }

    /// Whether the title names a 1on1 (and is not excluded).
    pub fn title_is_1on1(&self, title: &str) -> bool {
        let t = normalize_title(title);
        !self.is_excluded_normalized(&t) && self.patterns.iter().any(|p| contains_pattern(&t, p))
    }

    /// Whether the title matches an exclusion (performance review, interview, …).
    pub fn is_excluded(&self, title: &str) -> bool {
        self.is_excluded_normalized(&normalize_title(title))
    }

    fn is_excluded_normalized(&self, t: &str) -> bool {
        self.exclusions.iter().any(|p| t.contains(p.as_str()))
    }

    /// Classify one occurrence.
    pub fn classify(&self, occ: &Occurrence<'_>) -> Match {
        self.classify_event(occ.event, occ.series_id.is_some())
    }

    /// Classify an event's participants and title; `recurring` says whether it belongs to a series.
    pub fn classify_event(&self, event: &Event, recurring: bool) -> Match {
        self.classify_parts(event.humans_iter(), &event.summary, recurring)
    }

    /// Whether a single (non-recurring) event with these humans and this title can matter to the
    /// analysis (a report's 1on1 or a candidate). Lets the store skip decoding the rest.
    pub fn single_may_matter<'h>(
        &self,
        humans: impl Iterator<Item = &'h str>,
        title: &str,
    ) -> bool {
        self.classify_parts(humans, title, false) != Match::None
    }

    fn classify_parts<S: AsRef<str>>(
        &self,
        humans: impl Iterator<Item = S>,
        title: &str,
        recurring: bool,
    ) -> Match {
        // Fold every address to a person: the manager, a report (aliases included), or itself.
        // Stops at the second person besides the manager: an event may have any number of them.
        let mut manager = false;
        let mut others: Vec<Person> = Vec::with_capacity(2);
        for email in humans {
            let email = email.as_ref();
            let person = if self.is_manager(email) {
                manager = true;
                continue;
            } else if let Some(i) = self.report_of(email) {
                Person::Report(i)
            } else {
                Person::Other(email.to_lowercase())
            };
            if !others.contains(&person) {
                others.push(person);
            }
            if others.len() > 1 {
                return Match::None;
            }
        }
        if !manager || others.len() != 1 {
            return Match::None;
        }
        let title = normalize_title(title);
        if self.is_excluded_normalized(&title) {
            return Match::None;
        }
        if !recurring && !self.patterns.iter().any(|p| contains_pattern(&title, p)) {
            return Match::None;
        }
        match others.pop() {
            Some(Person::Report(i)) => Match::Report(i),
            Some(Person::Other(email)) => Match::Candidate(email),
            None => Match::None,
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Person {
    Report(usize),
    Other(String),
}

/// Full-width ASCII forms (U+FF01–U+FF5E) and the ideographic space become ASCII; lower case.
pub fn normalize_title(title: &str) -> String {
    title
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// Whether `pattern` occurs in `title`; an ASCII pattern must not touch letters or digits on
/// either side.
fn contains_pattern(title: &str, pattern: &str) -> bool {
    if !pattern.is_ascii() {
        return title.contains(pattern);
    }
    let bytes = title.as_bytes();
    let glued = |i: Option<usize>| {
        i.and_then(|i| bytes.get(i))
            .is_some_and(|b| b.is_ascii_alphanumeric())
    };
    title.match_indices(pattern).any(|(at, _)| {
        let first = pattern
            .as_bytes()
            .first()
            .is_some_and(u8::is_ascii_alphanumeric);
        let last = pattern
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric);
        let end = at + pattern.len();
        let before = if first {
            glued(at.checked_sub(1))
        } else {
            false
        };
        // A plural ("1on1s") still names 1on1s.
        let plural = bytes.get(end) == Some(&b's') && !glued(Some(end + 1));
        let after = last && glued(Some(end)) && !plural;
        !before && !after
    })
}

#[cfg(test)]
mod tests;
