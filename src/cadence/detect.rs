//! 1on1 detection (docs/cadence-rules.md): who the humans of an occurrence are, and whether it is the 1on1 of
//! a report, a candidate (a two-person meeting with someone outside the roster), an absence of
//! the manager, or neither.
//!
//! Rules:
//! - The humans are the organizer and the attendees minus resources and rooms, deduplicated by
//!   e-mail compared case-insensitively; a report's aliases count as the report.
//! - *1on1-shaped* for R: the humans are exactly the manager and R and the title matches no
//!   exclusion pattern ([`Detector::shape`]).
//! - *1on1-titled*: the title matches a 1on1 pattern, or consists only of the two people's names
//!   joined by separators and a few cadence words ([`Detector::is_titled`]). Which shaped
//!   occurrences count (titled series, the fallback when no series is titled) is decided per
//!   report by the analysis, which sees all of R's series at once.
//! - Titles are normalized first: full-width letters, digits, punctuation and spaces become their
//!   ASCII forms, and case is ignored. A pattern made of ASCII matches only where it is not glued
//!   to other letters or digits (`1-1` does not match `11-12`); other patterns match anywhere.
//! - An *absence* ([`Detector::is_absence`]): marked out of office by its source, or titled like
//!   one (built-in and `[detection] absence_patterns`, unless the title also names a 1on1), and
//!   organized by the manager or with nobody else in it.

use crate::config::Config;
use crate::model::Event;

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

/// The built-in out-of-office titles (normalized form).
pub const BUILTIN_ABSENCES: &[&str] = &[
    "out of office",
    "out-of-office",
    "ooo",
    "vacation",
    "pto",
    "holiday",
    "休暇",
    "有給",
    "不在",
];

/// Words that may stand between (or beside) the two names of a names-only title.
const NAME_JOINERS: &[&str] = &[
    "and", "x", "weekly", "biweekly", "monthly", "sync", "catch-up", "check-in", "と", "さん",
];

/// Separator characters of a names-only title.
const NAME_SEPARATORS: &[char] = &['/', '<', '>', '&', ':', '-', '・', '･', '×', ' ', '\t'];

/// What an occurrence is, as far as cadence goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    absences: Vec<String>,
    /// The pieces of the manager's names (normalized).
    manager_names: Vec<String>,
    /// The pieces of each report's names (normalized), per roster index.
    report_names: Vec<Vec<String>>,
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
            absences: BUILTIN_ABSENCES
                .iter()
                .map(|p| (*p).to_string())
                .chain(config.detection.absence_patterns.iter().map(norm))
                .filter(|p| !p.is_empty())
                .collect(),
            manager_names: name_pieces(config.manager.name.as_deref(), &[&config.manager.email]),
            report_names: config
                .reports
                .iter()
                .map(|r| {
                    let mut addrs: Vec<&str> = vec![&r.email];
                    addrs.extend(r.aliases.iter().map(String::as_str));
                    name_pieces(r.name.as_deref(), &addrs)
                })
                .collect(),
        }
    }

    /// Whether the title names a 1on1: a 1on1 pattern, or only the two people's names (the
    /// manager's and the other person's of `who`) joined by separators and cadence words.
    /// Exclusions are the shape's business ([`Detector::shape`]).
    pub fn is_titled(&self, title: &str, who: &Match) -> bool {
        let t = normalize_title(title);
        if self.patterns.iter().any(|p| contains_pattern(&t, p)) {
            return true;
        }
        let other: Vec<String> = match who {
            Match::Report(i) => self.report_names.get(*i).cloned().unwrap_or_default(),
            Match::Candidate(email) => name_pieces(None, &[email]),
            Match::None => return false,
        };
        names_only(&t, &self.manager_names, &other)
    }

    /// Whether the manager is away during this event: the source marks it out of office, or
    /// its title matches an absence pattern and no 1on1 pattern; and the manager organizes it
    /// or nobody else is in it.
    pub fn is_absence(&self, event: &Event) -> bool {
        let title = normalize_title(&event.summary);
        let flagged = event.out_of_office
            || (self.absences.iter().any(|p| contains_pattern(&title, p))
                && !self.patterns.iter().any(|p| contains_pattern(&title, p)));
        if !flagged {
            return false;
        }
        let by_manager = event
            .organizer
            .as_ref()
            .is_some_and(|o| self.is_manager(&o.email));
        by_manager || event.humans().iter().all(|h| self.is_manager(h))
    }

    /// Whether a stored single event with these humans and this title may be an absence (the
    /// store's cheap pre-filter; `out_of_office` is checked on the decoded event).
    pub fn may_be_absence<'h>(&self, humans: impl Iterator<Item = &'h str>, title: &str) -> bool {
        let title = normalize_title(title);
        self.absences.iter().any(|p| contains_pattern(&title, p))
            || humans.into_iter().all(|h| self.is_manager(h))
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

    fn is_excluded_normalized(&self, t: &str) -> bool {
        self.exclusions.iter().any(|p| t.contains(p.as_str()))
    }

    /// Whether an event can count for someone on its own: its shape, kept for a single event
    /// only when it is 1on1-titled. (A recurring series also needs the per-report rule of the
    /// analysis: a non-titled series counts only when no series with that person is titled.)
    /// The analysis applies the same rule inline, memoised per event; this is its statement.
    #[cfg(test)]
    pub fn classify_event(&self, event: &Event, recurring: bool) -> Match {
        let m = self.shape(event.humans_iter(), &event.summary);
        if recurring || m == Match::None || self.is_titled(&event.summary, &m) {
            m
        } else {
            Match::None
        }
    }

    /// Whether a single (non-recurring) event with these humans and this title can matter to the
    /// analysis (a report's 1on1 or a candidate). Lets the store skip decoding the rest.
    pub fn single_may_matter<'h>(
        &self,
        humans: impl Iterator<Item = &'h str>,
        title: &str,
    ) -> bool {
        let m = self.shape(humans, title);
        m != Match::None && self.is_titled(title, &m)
    }

    /// The 1on1 *shape*: the humans are exactly the manager and one other person (a report, its
    /// aliases folded in, or someone outside the roster) and the title matches no exclusion.
    pub fn shape<S: AsRef<str>>(&self, humans: impl Iterator<Item = S>, title: &str) -> Match {
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
        if self.is_excluded_normalized(&normalize_title(title)) {
            return Match::None;
        }
        match others.pop() {
            Some(Person::Report(i)) => Match::Report(i),
            Some(Person::Other(email)) => Match::Candidate(email),
            None => Match::None,
        }
    }
}

/// The name pieces of a person (normalized): the full name, each of its words, the name without
/// spaces, and each address' local part and its `.`/`_`/`-`/`+` parts. A name written without
/// spaces in a script without case (`佐藤大輝`) also gives its leading and trailing parts, since
/// such a name is often shortened to the family or the given name (`佐藤`).
fn name_pieces(name: Option<&str>, addresses: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |p: String| {
        let p = p.trim().to_string();
        if !p.is_empty() && !out.contains(&p) {
            out.push(p);
        }
    };
    if let Some(name) = name {
        let n = normalize_title(name);
        push(n.clone());
        push(n.split_whitespace().collect::<String>());
        for word in n.split_whitespace() {
            push(word.to_string());
            if !word.chars().any(|c| c.is_ascii()) {
                let chars: Vec<char> = word.chars().collect();
                for k in 1..chars.len() {
                    push(chars[..k].iter().collect());
                    push(chars[k..].iter().collect());
                }
            }
        }
    }
    for a in addresses {
        let local = normalize_title(a.split('@').next().unwrap_or(""));
        push(local.clone());
        for part in local.split(['.', '_', '-', '+']) {
            push(part.to_string());
        }
    }
    out
}

/// Whether the normalized title consists only of names from `a` and from `b` (at least one of
/// each) joined by [`NAME_SEPARATORS`] and [`NAME_JOINERS`]. Pieces made of ASCII letters or
/// digits at an edge must not be glued to other ASCII letters or digits there.
fn names_only(title: &str, a: &[String], b: &[String]) -> bool {
    let t = title.trim();
    if t.is_empty() {
        return false;
    }
    let bytes = t.as_bytes();
    let alnum_at = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_alphanumeric);
    // reach[i]: bit m set when the prefix t[..i] can be read with the people of mask m
    // (1: the manager, 2: the other person).
    let mut reach = vec![0u8; t.len() + 1];
    reach[0] = 1;
    let pieces = a
        .iter()
        .map(|p| (p.as_str(), 1u8))
        .chain(b.iter().map(|p| (p.as_str(), 2u8)))
        .chain(NAME_JOINERS.iter().map(|p| (*p, 0u8)));
    let pieces: Vec<(&str, u8)> = pieces.collect();
    for i in 0..t.len() {
        if reach[i] == 0 || !t.is_char_boundary(i) {
            continue;
        }
        let rest = &t[i..];
        let mut next: Vec<(usize, u8)> = Vec::new();
        if let Some(c) = rest.chars().next()
            && NAME_SEPARATORS.contains(&c)
        {
            next.push((i + c.len_utf8(), 0));
        }
        for (p, who) in &pieces {
            if p.is_empty() || !rest.starts_with(p) {
                continue;
            }
            let end = i + p.len();
            let pb = p.as_bytes();
            let glued_before =
                pb.first().is_some_and(u8::is_ascii_alphanumeric) && i > 0 && alnum_at(i - 1);
            let glued_after = pb.last().is_some_and(u8::is_ascii_alphanumeric) && alnum_at(end);
            if !glued_before && !glued_after {
                next.push((end, *who));
            }
        }
        let from = reach[i];
        for (end, who) in next {
            for mask in 0..4u8 {
                if from & (1 << mask) != 0 {
                    reach[end] |= 1 << (mask | who);
                }
            }
        }
    }
    reach[t.len()] & (1 << 3) != 0
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
