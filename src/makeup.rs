//! What a make-up proposal is and how people read it: the slots proposed for an alert
//! ([`Proposal`], [`Span`]), their text in the manager's zone and language, the `book` hint,
//! the `report --json` annotation and the first slot as an iCalendar invitation. Below both the
//! alert delivery (which shows proposals) and `scheduling` (which computes them), so neither
//! imports the other.

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Config;

/// A half-open span of time `[start, end)`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// Whose free/busy the proposal considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The manager's calendars and the report's free/busy.
    Both,
    /// Only the manager's calendars (no provider could tell the report's).
    ManagerOnly,
}

/// The slots proposed for one alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub alert_id: String,
    pub kind: String,
    pub report: String,
    pub report_name: String,
    /// The make-up's title.
    #[serde(default)]
    pub title: String,
    /// Best first.
    pub slots: Vec<Span>,
    pub basis: Basis,
    /// Why only the manager's side was used, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub window_end: DateTime<Utc>,
}

/// A slot as people read it, in the manager's zone: `Thu Nov 26 10:00–10:30`.
pub fn slot_text(config: &Config, s: &Span) -> String {
    let zone = config.manager.zone();
    let (a, b) = (zone.from_utc(s.start), zone.from_utc(s.end));
    match config.manager.locale {
        crate::config::Locale::En => {
            format!("{}–{}", a.format("%a %b %-d %H:%M"), b.format("%H:%M"))
        }
        crate::config::Locale::Ja => {
            const DAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
            format!(
                "{}（{}）{}–{}",
                a.format("%-m月%-d日"),
                DAYS[a.weekday().num_days_from_monday() as usize],
                a.format("%H:%M"),
                b.format("%H:%M")
            )
        }
    }
}

/// One line about a proposal for text outputs.
pub fn proposal_line(config: &Config, p: &Proposal) -> String {
    let ja = config.manager.locale == crate::config::Locale::Ja;
    let mut line = if p.slots.is_empty() {
        let until = slot_day(config, p.window_end);
        if ja {
            format!("{until}までに双方の空いている時間がありません")
        } else {
            format!("no free slot for both before {until}")
        }
    } else {
        let list: Vec<String> = p
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| format!("[{}] {}", i + 1, slot_text(config, s)))
            .collect();
        let head = if ja { "代替案" } else { "make-up slots" };
        format!("{head}: {}", list.join(", "))
    };
    if p.basis == Basis::ManagerOnly {
        line.push_str(if ja {
            "（相手の空き状況は不明のため、あなたの予定のみで判断）"
        } else {
            " (your calendar only: the report's free/busy is unknown)"
        });
    }
    line
}

/// The command that books one of the proposal's slots, when booking is possible.
pub fn book_hint(config: &Config, p: &Proposal) -> Option<String> {
    (config.scheduling.booking() && scheduling_account(config).is_some() && !p.slots.is_empty())
        .then(|| format!("cadenced book {} --slot N", p.alert_id))
}

pub fn slot_day(config: &Config, t: DateTime<Utc>) -> String {
    let local = config.manager.zone().from_utc(t);
    match config.manager.locale {
        crate::config::Locale::En => local.format("%a %b %-d %H:%M").to_string(),
        crate::config::Locale::Ja => local.format("%-m月%-d日 %H:%M").to_string(),
    }
}

/// The proposal of one report that `report` shows: its `skipped` alert's, else its `gap`'s,
/// else its `no_series`'.
pub fn for_report<'a>(proposals: &'a [Proposal], email: &str) -> Option<&'a Proposal> {
    let email = email.to_lowercase();
    ["skipped", "gap", "no_series"]
        .iter()
        .find_map(|k| proposals.iter().find(|p| p.report == email && p.kind == *k))
}

/// Add `proposals: [{start, end}]` (RFC 3339 UTC, best first), `proposals_alert` and
/// `proposals_basis` (`both` | `manager_only`) to each report of a `report --json` document that
/// has an alert needing a make-up, and `proposals` to those alerts (extra fields only).
pub fn annotate_report(doc: &mut serde_json::Value, proposals: &[Proposal]) {
    let slots = |p: &Proposal| {
        serde_json::Value::Array(
            p.slots
                .iter()
                .map(|s| {
                    serde_json::json!({
                        "start": crate::output::rfc3339(s.start),
                        "end": crate::output::rfc3339(s.end),
                    })
                })
                .collect(),
        )
    };
    if let Some(reports) = doc.get_mut("reports").and_then(|r| r.as_array_mut()) {
        for r in reports {
            let email = r["email"].as_str().unwrap_or("").to_string();
            if let (Some(p), Some(obj)) = (for_report(proposals, &email), r.as_object_mut()) {
                obj.insert("proposals".into(), slots(p));
                obj.insert("proposals_alert".into(), p.alert_id.clone().into());
                obj.insert(
                    "proposals_basis".into(),
                    serde_json::to_value(p.basis).unwrap_or_default(),
                );
            }
        }
    }
    if let Some(alerts) = doc.get_mut("alerts").and_then(|r| r.as_array_mut()) {
        for a in alerts {
            let id = a["id"].as_str().unwrap_or("").to_string();
            if let (Some(p), Some(obj)) = (
                proposals.iter().find(|p| p.alert_id == id),
                a.as_object_mut(),
            ) {
                obj.insert("proposals".into(), slots(p));
            }
        }
    }
}

/// The first slot of a proposal as an iCalendar file (`METHOD:PUBLISH`, the report as an
/// attendee) for managers whose account cannot book it: opening it adds the make-up.
pub fn invite_ics(config: &Config, p: &Proposal, now: DateTime<Utc>) -> Option<String> {
    use icalendar::{Calendar, Component, EventLike, Property};
    let slot = p.slots.first()?;
    let event = icalendar::Event::new()
        .uid(&format!("cadenced-makeup-{}@cadenced", p.alert_id))
        .timestamp(now)
        .starts(slot.start)
        .ends(slot.end)
        .summary(&p.title)
        .append_property(Property::new(
            "ORGANIZER",
            format!("mailto:{}", config.manager.email),
        ))
        .append_multi_property(Property::new("ATTENDEE", format!("mailto:{}", p.report)))
        .done();
    let mut cal = Calendar::new();
    cal.append_property(Property::new("METHOD", "PUBLISH"));
    cal.push(event);
    Some(cal.done().to_string())
}

/// The first Google or Microsoft account of the config: its free/busy answers for the reports,
/// and the manager's make-ups are created in its calendar. `None`: only iCalendar feeds.
pub fn scheduling_account(config: &Config) -> Option<&crate::config::Account> {
    config.accounts.iter().find(|a| {
        matches!(
            a.kind,
            crate::config::AccountKind::Google(_) | crate::config::AccountKind::Microsoft(_)
        )
    })
}
