//! The alert message: one model, [`Message`] (also the versioned JSON payload of the `json`
//! webhook and of the `command` channel, documented in `docs/alerts.md`), and its renderings:
//! subject, plain text and HTML (e-mail), Slack blocks, a Teams Adaptive Card.
//!
//! Invariants: everything a rendering shows comes from the message itself (so a message read
//! back from the outbox renders exactly as when it was planned); texts are in the manager's
//! locale (`en`, `ja`); each alert names the report, what happened, since when and the action
//! that helps (the analysis' message carries the action); HTML output escapes every value.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, Locale};
use crate::store::StoredAlert;

/// The payload version (`"version": 1`). A change of meaning bumps it; added fields do not.
pub const PAYLOAD_VERSION: u32 = 1;

/// One message: the alerts of one cycle (`alerts`), a digest (`digest`) or a sample (`test`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub version: u32,
    /// `alerts` | `digest` | `test`.
    pub kind: String,
    /// The per-channel idempotency key (filled in when sent; the same on every retry).
    #[serde(default)]
    pub idempotency_key: String,
    /// RFC 3339 UTC: the cycle's `now` when the message was planned.
    pub generated_at: String,
    pub manager: String,
    /// `en` | `ja`.
    pub locale: String,
    /// The manager's IANA zone, in which the `*_local` texts are written.
    pub timezone: String,
    /// The digest schedule (`daily 09:00`), for digests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The scheduled instant a digest is for (RFC 3339 UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    pub subject: String,
    pub alerts: Vec<AlertItem>,
    /// The cadence table, for digests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cadence: Vec<CadenceRow>,
}

/// One alert in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertItem {
    /// The stable alert id (`cadenced alerts ack ID`).
    pub id: String,
    /// `gap`, `no_series`, `skipped`, `uneven`, `irregular`, `series_ending`, `needs_auth`.
    pub kind: String,
    /// `warning` | `info`.
    pub severity: String,
    /// The report's e-mail (null for an account alert).
    pub report: Option<String>,
    /// The account (for `needs_auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The report's name, or the account's.
    pub name: String,
    /// RFC 3339 UTC.
    pub since: String,
    /// `since` as a date in the manager's zone and locale (`Oct 8`, `10月8日`).
    pub since_local: String,
    /// One sentence: what happened and the action that helps.
    pub message: String,
    /// A few words for subjects (`23 days`, `uneven`).
    pub short: String,
    /// The report's agenda document (a link, or a local path when it is not published), so
    /// that the agenda reaches the manager even when it could not go into the invite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agenda: Option<String>,
    /// The proposed make-up slots (issue 17), best first; empty when none was found or the
    /// alert needs none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proposals: Vec<SlotItem>,
    /// The proposals in one sentence (or why there is none), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub makeup: Option<String>,
    /// The make-up cadenced booked for this alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booked: Option<BookedItem>,
    /// The first slot as an iCalendar file, for e-mail when the account cannot book it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
}

/// A proposed slot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotItem {
    /// RFC 3339 UTC.
    pub start: String,
    pub end: String,
    /// In the manager's zone and locale (`Thu Nov 26 10:00–10:30`).
    pub local: String,
}

/// A booked make-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BookedItem {
    pub title: String,
    pub start: String,
    pub end: String,
    pub local: String,
    pub event_id: String,
    /// `manual` or `auto`.
    pub how: String,
}

impl AlertItem {
    /// The lines about the make-up (booked, or the proposals and how to book one).
    pub fn makeup_lines(&self, ja: bool) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(b) = &self.booked {
            out.push(if ja {
                format!("代替の1on1を予約しました: {}（{}）", b.local, b.title)
            } else {
                format!("Booked the make-up: {} ({})", b.local, b.title)
            });
            return out;
        }
        out.extend(self.makeup.clone());
        out
    }
}

/// One report's line in a digest's cadence table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CadenceRow {
    pub email: String,
    pub name: String,
    pub expected_interval_days: f64,
    pub last_held: Option<String>,
    pub days_since_last_held: Option<f64>,
    /// Calendar days in the manager's zone since the last held 1on1 (what the text shows).
    pub days_ago: Option<i64>,
    pub sessions_per_30d: f64,
    pub next_scheduled: Option<String>,
    /// `next_scheduled` in the manager's zone (`Nov 26 10:00`).
    pub next_scheduled_local: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    crate::output::rfc3339(t)
}

fn local_date(config: &Config, t: DateTime<Utc>) -> String {
    let local = config.manager.zone().from_utc(t);
    match config.manager.locale {
        Locale::En => local.format("%b %-d").to_string(),
        Locale::Ja => local.format("%-m月%-d日").to_string(),
    }
}

fn local_date_time(config: &Config, t: DateTime<Utc>) -> String {
    let local = config.manager.zone().from_utc(t);
    match config.manager.locale {
        Locale::En => local.format("%b %-d %H:%M").to_string(),
        Locale::Ja => local.format("%-m月%-d日 %H:%M").to_string(),
    }
}

/// A stored alert as a message item, at `now`.
pub fn item(config: &Config, a: &StoredAlert, now: DateTime<Utc>) -> AlertItem {
    let data: serde_json::Value = serde_json::from_str(&a.data).unwrap_or_default();
    let field = |k: &str| data.get(k).and_then(|v| v.as_str()).map(str::to_string);
    let (report, account, name) = match a.report.strip_prefix("account:") {
        Some(acc) => (None, Some(acc.to_string()), acc.to_string()),
        None => (
            Some(a.report.clone()),
            None,
            config
                .report_for(&a.report)
                .map_or_else(|| a.report.clone(), |r| r.display_name().to_string()),
        ),
    };
    let ja = config.manager.locale == Locale::Ja;
    let date = local_date(config, a.since);
    let short = match a.kind.as_str() {
        "gap" => {
            // Calendar days in the manager's zone, as the table and the message count them.
            let days =
                crate::cadence::days::calendar_days(&config.manager.zone(), a.since, now).max(0);
            if ja {
                format!("{days}日")
            } else {
                format!(
                    "{days} {}",
                    crate::cadence::messages::plural(days, "day", "days")
                )
            }
        }
        "no_series" if ja => "1on1なし".into(),
        "no_series" => "no 1on1".into(),
        "skipped" if ja => format!("{date}スキップ"),
        "skipped" => format!("skipped {date}"),
        "uneven" if ja => "頻度不足".into(),
        "uneven" => "uneven".into(),
        "irregular" if ja => "不規則".into(),
        "irregular" => "irregular".into(),
        // An ended series (its last occurrence is past) says so.
        "series_ending" if ja && a.since < now => format!("{date}で終了済み"),
        "series_ending" if ja => format!("{date}で終了"),
        "series_ending" if a.since < now => format!("series ended {date}"),
        "series_ending" => format!("series ends {date}"),
        "needs_auth" if ja => "要再認可".into(),
        "needs_auth" => "needs auth".into(),
        "sync_failed" if ja => "同期失敗".into(),
        "sync_failed" => "sync failed".into(),
        other => other.to_string(),
    };
    AlertItem {
        id: a.id.clone(),
        kind: a.kind.clone(),
        severity: field("severity").unwrap_or_else(|| "warning".into()),
        report,
        account,
        name,
        since: rfc3339(a.since),
        since_local: date,
        message: field("message").unwrap_or_else(|| a.kind.clone()),
        short,
        agenda: None,
        proposals: Vec::new(),
        makeup: None,
        booked: None,
        invite: None,
    }
}

/// A few words naming an alert kind, for the subject of a resolved notice.
pub fn kind_label(kind: &str, locale: Locale) -> String {
    let ja = locale == Locale::Ja;
    match (kind, ja) {
        ("gap", false) => "gap",
        ("gap", true) => "間隔超過",
        ("no_series", false) => "no 1on1",
        ("no_series", true) => "1on1なし",
        ("skipped", false) => "skipped",
        ("skipped", true) => "スキップ",
        ("uneven", false) => "uneven",
        ("uneven", true) => "頻度不足",
        ("irregular", false) => "irregular",
        ("irregular", true) => "不規則",
        ("series_ending", false) => "series ending",
        ("series_ending", true) => "定例終了",
        ("needs_auth", false) => "needs auth",
        ("needs_auth", true) => "要再認可",
        ("sync_failed", false) => "sync failed",
        ("sync_failed", true) => "同期失敗",
        (other, _) => other,
    }
    .to_string()
}

/// The digest's cadence table from the analysis.
pub fn cadence_rows(config: &Config, a: &crate::cadence::Analysis) -> Vec<CadenceRow> {
    a.reports
        .iter()
        .map(|r| CadenceRow {
            email: r.email.clone(),
            name: r.name.clone(),
            expected_interval_days: crate::output::round1(r.expected_interval_days),
            last_held: r.last_held.map(rfc3339),
            days_since_last_held: r.days_since_last_held.map(crate::output::round1),
            days_ago: r.days_since_last_held_local,
            sessions_per_30d: crate::output::round1(r.sessions_per_30d),
            next_scheduled: r.next_scheduled.map(rfc3339),
            next_scheduled_local: r.next_scheduled.map(|t| local_date_time(config, t)),
        })
        .collect()
}

impl Message {
    /// A message of `kind` with these items, its subject filled in.
    pub fn new(config: &Config, kind: &str, items: Vec<AlertItem>, now: DateTime<Utc>) -> Message {
        let mut m = Message {
            version: PAYLOAD_VERSION,
            kind: kind.to_string(),
            idempotency_key: String::new(),
            generated_at: rfc3339(now),
            manager: config.manager.email.clone(),
            locale: config.manager.locale.as_str().to_string(),
            timezone: config.manager.timezone.name().to_string(),
            digest: None,
            slot: None,
            subject: String::new(),
            alerts: items,
            cadence: Vec::new(),
        };
        m.subject = m.make_subject();
        m
    }

    fn ja(&self) -> bool {
        self.locale == "ja"
    }

    /// Keep only the alerts `keep` accepts, and say so in the subject.
    pub fn retain(&mut self, keep: impl Fn(&AlertItem) -> bool) {
        self.alerts.retain(keep);
        self.subject = self.make_subject();
    }

    /// The alerts grouped by report (or account), in message order.
    pub fn groups(&self) -> Vec<(&str, Option<&str>, Vec<&AlertItem>)> {
        let mut out: Vec<(&str, Option<&str>, Vec<&AlertItem>)> = Vec::new();
        for a in &self.alerts {
            let key = a.report.as_deref().or(a.account.as_deref());
            match out
                .iter_mut()
                .find(|(n, k, _)| *n == a.name.as_str() && *k == key)
            {
                Some((_, _, items)) => items.push(a),
                None => out.push((a.name.as_str(), key, vec![a])),
            }
        }
        out
    }

    /// "2 1on1s need attention: Bob (23 days), Erin (uneven)".
    fn make_subject(&self) -> String {
        let ja = self.ja();
        let groups = self.groups();
        let reports = groups
            .iter()
            .filter(|(_, _, items)| items.iter().any(|i| i.report.is_some()))
            .count();
        let resolved = self.kind == "resolved";
        let n = self.alerts.len();
        let head = match (ja, reports) {
            _ if resolved && ja => format!("{n}件のアラートが解消しました"),
            _ if resolved => format!("{n} alert{} resolved", if n == 1 { "" } else { "s" }),
            (false, 0) => "cadenced needs attention".to_string(),
            (false, 1) => "1 1on1 needs attention".to_string(),
            (false, n) => format!("{n} 1on1s need attention"),
            (true, 0) => "cadenced: 確認が必要です".to_string(),
            (true, n) => format!("{n}件の1on1に対応が必要です"),
        };
        const SHOWN: usize = 5;
        let mut parts: Vec<String> = groups
            .iter()
            .take(SHOWN)
            .map(|(name, _, items)| {
                let shorts: Vec<&str> = items.iter().map(|i| i.short.as_str()).collect();
                if ja {
                    format!("{name}（{}）", shorts.join("、"))
                } else {
                    format!("{name} ({})", shorts.join(", "))
                }
            })
            .collect();
        if groups.len() > SHOWN {
            let more = groups.len() - SHOWN;
            parts.push(if ja {
                format!("他{more}件")
            } else {
                format!("{more} more")
            });
        }
        let prefix = match (self.kind.as_str(), self.digest.as_deref(), ja) {
            ("digest", Some(d), false) if d.starts_with("weekly") => "Weekly digest: ",
            ("digest", _, false) => "Daily digest: ",
            ("digest", Some(d), true) if d.starts_with("weekly") => "【週次ダイジェスト】",
            ("digest", _, true) => "【日次ダイジェスト】",
            ("test", _, false) => "[test] ",
            ("test", _, true) => "［テスト］",
            _ => "",
        };
        let sep = if ja { "：" } else { ": " };
        let list_sep = if ja { "、" } else { ", " };
        format!("{prefix}{head}{sep}{}", parts.join(list_sep))
    }

    /// The plain-text body.
    pub fn text(&self) -> String {
        let ja = self.ja();
        let mut out = String::new();
        let _ = writeln!(out, "{}\n", self.subject);
        for (name, key, items) in self.groups() {
            match key {
                Some(k) if k != name => {
                    let _ = writeln!(out, "{name} <{k}>");
                }
                _ => {
                    let _ = writeln!(out, "{name}");
                }
            }
            for i in &items {
                let since = if ja {
                    format!("（{}から）", i.since_local)
                } else {
                    format!(" (since {})", i.since_local)
                };
                let _ = writeln!(out, "  - {}{}{since}", self.line_prefix(), i.message);
                for line in i.makeup_lines(ja) {
                    let _ = writeln!(out, "    {line}");
                }
                let _ = writeln!(out, "    [{}] id {}", i.kind, i.id);
            }
            if let Some(agenda) = items.iter().find_map(|i| i.agenda.as_deref()) {
                let label = if ja { "アジェンダ" } else { "Agenda" };
                let _ = writeln!(out, "  {label}: {agenda}");
            }
            out.push('\n');
        }
        if !self.cadence.is_empty() {
            let _ = writeln!(out, "{}", if ja { "ケイデンス" } else { "Cadence" });
            for r in &self.cadence {
                let _ = writeln!(out, "  {}", self.cadence_line(r));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "{}", self.footer());
        out
    }

    fn cadence_line(&self, r: &CadenceRow) -> String {
        let ja = self.ja();
        let every = crate::output::round1(r.expected_interval_days);
        let last = match (r.days_ago, ja) {
            (Some(d), false) => format!(
                "last held {d} {} ago",
                crate::cadence::messages::plural(d, "day", "days")
            ),
            (Some(d), true) => format!("前回から{d}日"),
            (None, false) => "never held".into(),
            (None, true) => "実施なし".into(),
        };
        let next = match (&r.next_scheduled_local, ja) {
            (Some(n), false) => format!("next {n}"),
            (Some(n), true) => format!("次回 {n}"),
            (None, false) => "nothing scheduled".into(),
            (None, true) => "予定なし".into(),
        };
        if ja {
            format!(
                "{}: {every}日ごと・{last}・30日あたり{}回・{next}",
                r.name, r.sessions_per_30d
            )
        } else {
            format!(
                "{}: every {every} days · {last} · {}/30 days · {next}",
                r.name, r.sessions_per_30d
            )
        }
    }

    /// What each alert line starts with: nothing, or "Resolved: " in a resolved notice.
    fn line_prefix(&self) -> &'static str {
        match (self.kind.as_str(), self.ja()) {
            ("resolved", false) => "Resolved: ",
            ("resolved", true) => "解消: ",
            ("test", false) => "[test] ",
            ("test", true) => "［テスト］",
            _ => "",
        }
    }

    fn footer(&self) -> String {
        if self.ja() {
            "確認済みにする: cadenced alerts ack ID ／ 延期: cadenced alerts snooze ID --until DATE"
                .into()
        } else {
            "Acknowledge: cadenced alerts ack ID · snooze: cadenced alerts snooze ID --until DATE"
                .into()
        }
    }

    /// The HTML body (the same content as [`Self::text`]).
    pub fn html(&self) -> String {
        let ja = self.ja();
        let mut out = String::new();
        let _ = write!(
            out,
            "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{}</title></head><body>",
            esc(&self.locale),
            esc(&self.subject)
        );
        let _ = write!(out, "<h2>{}</h2>", esc(&self.subject));
        for (name, key, items) in self.groups() {
            let _ = write!(out, "<h3>{}", esc(name));
            if let Some(k) = key.filter(|k| *k != name) {
                let _ = write!(out, " <small>&lt;{}&gt;</small>", esc(k));
            }
            out.push_str("</h3><ul>");
            for i in &items {
                let since = if ja {
                    format!("{}から", i.since_local)
                } else {
                    format!("since {}", i.since_local)
                };
                let makeup: String = i
                    .makeup_lines(ja)
                    .iter()
                    .map(|l| format!("<br>{}", esc(l)))
                    .collect();
                let _ = write!(
                    out,
                    "<li><strong>{}{}</strong> <em>({})</em>{makeup}<br><small>{} · id <code>{}</code></small></li>",
                    esc(self.line_prefix()),
                    esc(&i.message),
                    esc(&since),
                    esc(&i.kind),
                    esc(&i.id)
                );
            }
            out.push_str("</ul>");
            if let Some(agenda) = items.iter().find_map(|i| i.agenda.as_deref()) {
                let label = if ja { "アジェンダ" } else { "Agenda" };
                if agenda.starts_with("https://") || agenda.starts_with("http://") {
                    let _ = write!(
                        out,
                        "<p>{label}: <a href=\"{}\">{}</a></p>",
                        esc(agenda),
                        esc(agenda)
                    );
                } else {
                    let _ = write!(out, "<p>{label}: <code>{}</code></p>", esc(agenda));
                }
            }
        }
        if !self.cadence.is_empty() {
            let _ = write!(
                out,
                "<h3>{}</h3><ul>",
                if ja { "ケイデンス" } else { "Cadence" }
            );
            for r in &self.cadence {
                let _ = write!(out, "<li>{}</li>", esc(&self.cadence_line(r)));
            }
            out.push_str("</ul>");
        }
        let _ = write!(
            out,
            "<p><small>{}</small></p></body></html>",
            esc(&self.footer())
        );
        out
    }

    /// A Slack incoming-webhook payload: a header, a section per report, the footer.
    pub fn slack(&self) -> serde_json::Value {
        let ja = self.ja();
        let mut blocks = vec![serde_json::json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&self.subject, 150), "emoji": true}
        })];
        // Slack allows 50 blocks per message: header, footer, cadence and up to 45 reports.
        for (name, _, items) in self.groups().into_iter().take(45) {
            let mut text = format!("*{}*", slack_esc(name));
            for i in &items {
                let since = if ja {
                    format!("（{}から）", i.since_local)
                } else {
                    format!(" (since {})", i.since_local)
                };
                let _ = write!(
                    text,
                    "\n• {}{}{} `{}`",
                    self.line_prefix(),
                    slack_esc(&i.message),
                    slack_esc(&since),
                    i.id
                );
                for line in i.makeup_lines(ja) {
                    let _ = write!(text, "\n    {}", slack_esc(&line));
                }
            }
            blocks.push(serde_json::json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&text, 3000)}
            }));
        }
        if !self.cadence.is_empty() {
            let lines: Vec<String> = self
                .cadence
                .iter()
                .map(|r| slack_esc(&self.cadence_line(r)))
                .collect();
            blocks.push(serde_json::json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": truncate(&lines.join("\n"), 3000)}
            }));
        }
        blocks.push(serde_json::json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": slack_esc(&self.footer())}]
        }));
        serde_json::json!({"text": self.subject, "blocks": blocks})
    }

    /// A Teams message carrying an Adaptive Card (the envelope both the incoming-webhook
    /// connector and the Workflows "post to a channel when a webhook request is received"
    /// template accept).
    pub fn teams(&self) -> serde_json::Value {
        let ja = self.ja();
        let mut body = vec![serde_json::json!({
            "type": "TextBlock", "text": self.subject, "weight": "Bolder", "size": "Medium",
            "wrap": true
        })];
        for (name, _, items) in self.groups() {
            body.push(serde_json::json!({
                "type": "TextBlock", "text": name, "weight": "Bolder", "spacing": "Medium",
                "wrap": true
            }));
            for i in &items {
                let since = if ja {
                    format!("（{}から）", i.since_local)
                } else {
                    format!(" (since {})", i.since_local)
                };
                body.push(serde_json::json!({
                    "type": "TextBlock",
                    "text": format!("- {}{}{since}", self.line_prefix(), i.message),
                    "wrap": true,
                    "color": if i.severity == "warning" { "Attention" } else { "Default" }
                }));
                let lines = i.makeup_lines(ja);
                if !lines.is_empty() {
                    body.push(serde_json::json!({
                        "type": "TextBlock", "text": lines.join("\n"), "wrap": true,
                        "isSubtle": true, "spacing": "None"
                    }));
                }
            }
        }
        if !self.cadence.is_empty() {
            let facts: Vec<serde_json::Value> = self
                .cadence
                .iter()
                .map(|r| {
                    let line = self.cadence_line(r);
                    let value = line
                        .split_once(": ")
                        .map_or(line.as_str(), |(_, v)| v)
                        .to_string();
                    serde_json::json!({"title": r.name, "value": value})
                })
                .collect();
            body.push(serde_json::json!({"type": "FactSet", "facts": facts, "spacing": "Medium"}));
        }
        body.push(serde_json::json!({
            "type": "TextBlock", "text": self.footer(), "isSubtle": true, "size": "Small",
            "wrap": true
        }));
        serde_json::json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body
                }
            }]
        })
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// HTML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Slack's mrkdwn escaping (`&`, `<`, `>`).
fn slack_esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, report: &str, kind: &str, short: &str) -> AlertItem {
        AlertItem {
            id: format!("{kind}-{name}"),
            kind: kind.into(),
            severity: "warning".into(),
            report: Some(report.into()),
            account: None,
            name: name.into(),
            since: "2026-11-01T00:00:00Z".into(),
            since_local: "Nov 1".into(),
            message: format!("{name} <needs> & {kind}"),
            short: short.into(),
            agenda: None,
            proposals: Vec::new(),
            makeup: None,
            booked: None,
            invite: None,
        }
    }

    fn config(locale: &str) -> Config {
        crate::config::parse(
            &format!("[manager]\nemail = \"m@example.com\"\nlocale = \"{locale}\"\n"),
            std::path::Path::new("c.toml"),
        )
        .unwrap()
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn subject_names_reports_and_what_happened() {
        let m = Message::new(
            &config("en"),
            "alerts",
            vec![
                item("Bob", "bob@x", "gap", "23 days"),
                item("Bob", "bob@x", "skipped", "skipped Nov 1"),
                item("Erin", "erin@x", "uneven", "uneven"),
            ],
            now(),
        );
        assert_eq!(
            m.subject,
            "2 1on1s need attention: Bob (23 days, skipped Nov 1), Erin (uneven)"
        );
        let ja = Message::new(
            &config("ja"),
            "alerts",
            vec![item("Bob", "bob@x", "gap", "23日")],
            now(),
        );
        assert_eq!(ja.subject, "1件の1on1に対応が必要です：Bob（23日）");
    }

    #[test]
    fn renderings_escape_and_group() {
        let m = Message::new(
            &config("en"),
            "alerts",
            vec![
                item("Bob", "bob@x", "gap", "23 days"),
                item("Erin", "erin@x", "uneven", "uneven"),
            ],
            now(),
        );
        let html = m.html();
        assert!(html.contains("Bob &lt;needs&gt; &amp; gap"), "{html}");
        assert!(!html.contains("<needs>"));
        let text = m.text();
        assert!(text.contains("Bob <bob@x>\n  - Bob <needs> & gap (since Nov 1)"));
        let slack = m.slack();
        assert_eq!(slack["blocks"][0]["type"], "header");
        assert_eq!(slack["blocks"].as_array().unwrap().len(), 4);
        assert!(
            slack["blocks"][1]["text"]["text"]
                .as_str()
                .unwrap()
                .contains("&lt;needs&gt;")
        );
        let teams = m.teams();
        assert_eq!(
            teams["attachments"][0]["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(teams["attachments"][0]["content"]["type"], "AdaptiveCard");
    }

    #[test]
    fn make_up_slots_and_bookings_show_on_every_rendering() {
        let mut gap = item("Bob", "bob@x", "gap", "23 days");
        gap.proposals = vec![SlotItem {
            start: "2026-11-26T06:00:00Z".into(),
            end: "2026-11-26T06:30:00Z".into(),
            local: "Thu Nov 26 15:00–15:30".into(),
        }];
        gap.makeup = Some(
            "make-up slots: [1] Thu Nov 26 15:00–15:30 · cadenced book gap-Bob --slot N".into(),
        );
        let mut skip = item("Erin", "erin@x", "skipped", "skipped Nov 1");
        skip.booked = Some(BookedItem {
            title: "Erin 1on1 (make-up)".into(),
            start: "2026-11-27T06:00:00Z".into(),
            end: "2026-11-27T06:30:00Z".into(),
            local: "Fri Nov 27 15:00–15:30".into(),
            event_id: "ev1".into(),
            how: "auto".into(),
        });
        let m = Message::new(&config("en"), "alerts", vec![gap, skip], now());
        let slot = "make-up slots: [1] Thu Nov 26 15:00–15:30";
        let book = "cadenced book gap-Bob --slot N";
        let booked = "Booked the make-up: Fri Nov 27 15:00–15:30 (Erin 1on1 (make-up))";
        for text in [
            m.text(),
            m.html(),
            m.slack().to_string(),
            m.teams().to_string(),
        ] {
            assert!(text.contains(slot), "{text}");
            assert!(text.contains(book), "{text}");
            assert!(text.contains(booked), "{text}");
        }
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(
            json["alerts"][0]["proposals"][0]["start"],
            "2026-11-26T06:00:00Z"
        );
        assert_eq!(json["alerts"][1]["booked"]["how"], "auto");
        assert!(json["alerts"][1].get("proposals").is_none());
    }

    #[test]
    fn retain_updates_the_subject() {
        let mut m = Message::new(
            &config("en"),
            "alerts",
            vec![
                item("Bob", "bob@x", "gap", "23 days"),
                item("Erin", "erin@x", "uneven", "uneven"),
            ],
            now(),
        );
        m.retain(|i| i.name == "Erin");
        assert_eq!(m.subject, "1 1on1 needs attention: Erin (uneven)");
    }
}
