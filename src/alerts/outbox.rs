//! Alert delivery (issue 7): plan what each channel should receive, write it to the outbox,
//! and drain the outbox through the channels with bounded retries.
//!
//! One cycle ([`deliver`]) does two things:
//! 1. **Plan** (only when the analysis worked, so the stored alerts are current): in one store
//!    transaction, from the stored open alerts and what was already announced:
//!    - `digest = "immediate"`: per channel, one message with every alert that is active (not
//!      acknowledged, not snoozed past `now`) and not yet announced on that channel — grouped,
//!      not one message per alert. A snoozed alert whose snooze has ended is announced once
//!      more (a reminder).
//!    - `daily`/`weekly`: when a slot is due ([`super::digest`]), per channel one message with
//!      every active alert grouped by report and the cadence table; the slot is recorded as
//!      handled even when there is nothing to say (then nothing is sent).
//! 2. **Drain**: every pending row, channels in parallel, rows of a channel in order. Before
//!    sending, the row's alerts are checked again: alerts acknowledged, snoozed or resolved
//!    since the row was written are left out, and a row left with none is *dropped* (never
//!    sent). An attempt is recorded before the channel is called and completed after; up to
//!    [`ATTEMPTS_PER_CYCLE`] attempts with exponential backoff ([`BASE_DELAY`] doubling, at
//!    most [`MAX_DELAY`]); a refused attempt (4xx, permanent SMTP error) stops early. A row
//!    still failing stays pending and is tried again by the next cycle (the daemon's interval
//!    paces those), so nothing is lost; the first failure of a channel stops that channel's
//!    other rows for this cycle.
//!
//! Delivery is at least once: the idempotency key of a row (`cadenced-<hash>-<channel>`) is the
//! same on every attempt, is sent as `Idempotency-Key` (webhooks), in the JSON payload, in
//! `CADENCED_IDEMPOTENCY_KEY` (command) and as the e-mail's Message-ID, so a receiver can drop
//! the one duplicate a crash between a send and its commit can cause. A delivered row is never
//! sent again.
//!
//! Completeness: while an account is missing (the analysis is incomplete), the plan covers only
//! account alerts, and pending rows that carry a report alert wait, untouched, for a complete
//! analysis: nothing about reports is delivered from a partial calendar.
//!
//! Resolved alerts: with `[alerts] notify_resolved = true` (immediate digest only), an alert
//! that was delivered on a channel and then resolved (without being acknowledged) gets one short
//! "resolved" notice there, grouped per cycle; a pending notice whose alert came back is
//! dropped. Off by default: the next digest, `alerts` and `report` simply no longer list it.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::Analysed;
use super::channels::{self, SendError};
use super::render::{self, AlertItem, CadenceRow, Message};
use crate::config::{Channel, Config, Digest};
use crate::store::{NewDelivery, Outbox, OutboxPlan, OutboxView, PendingDelivery, StoredAlert};

/// Attempts of one row within one cycle.
pub const ATTEMPTS_PER_CYCLE: u32 = 3;
/// The delay before the second attempt; it doubles for each further one.
pub const BASE_DELAY: Duration = Duration::from_millis(500);
/// The longest delay between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(8);

/// What a cycle's delivery did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    /// Rows written to the outbox.
    pub enqueued: usize,
    /// `(channel, answer)` per row delivered.
    pub delivered: Vec<(String, String)>,
    /// Rows dropped because every alert in them was dealt with before delivery.
    pub dropped: usize,
    /// One sentence per row still pending after this cycle.
    pub failed: Vec<String>,
    /// The store failed (the delivery could not even be planned or drained).
    pub error: Option<String>,
}

impl DeliveryReport {
    /// Did every pending delivery go out?
    pub fn ok(&self) -> bool {
        self.failed.is_empty() && self.error.is_none()
    }

    /// One line for logs and `run --once`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "{} message{} delivered",
            self.delivered.len(),
            if self.delivered.len() == 1 { "" } else { "s" }
        );
        if self.dropped > 0 {
            line.push_str(&format!(", {} dropped (alerts dealt with)", self.dropped));
        }
        if !self.failed.is_empty() {
            line.push_str(&format!(
                ", {} pending after failures: {}",
                self.failed.len(),
                self.failed.join("; ")
            ));
        }
        if let Some(e) = &self.error {
            line.push_str(&format!(", delivery failed: {e}"));
        }
        line
    }
}

/// 64-bit FNV-1a (stable across Rust versions, unlike std's hasher).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// An alert that may be announced at `now`.
fn active(a: &StoredAlert, now: DateTime<Utc>) -> bool {
    a.acked_at.is_none() && a.snoozed_until.is_none_or(|u| u <= now)
}

/// What announcing `a` now means: `new`, or the reminder after its snooze ended.
fn notice(a: &StoredAlert) -> String {
    match a.snoozed_until {
        Some(u) => format!("after:{}", crate::output::rfc3339(u)),
        None => "new".to_string(),
    }
}

/// A stored alert as a message item, with its report's agenda document when there is one.
fn item(config: &Config, view: &OutboxView, a: &StoredAlert, now: DateTime<Utc>) -> AlertItem {
    let mut item = render::item(config, a, now);
    item.agenda = item
        .report
        .as_ref()
        .and_then(|r| view.agendas.get(&r.to_lowercase()).cloned());
    let slot = |s: &crate::makeup::Span| render::SlotItem {
        start: crate::output::rfc3339(s.start),
        end: crate::output::rfc3339(s.end),
        local: crate::makeup::slot_text(config, s),
    };
    if let Some(b) = view.bookings.get(&a.id) {
        item.booked = Some(render::BookedItem {
            title: b.title.clone(),
            start: crate::output::rfc3339(b.start),
            end: crate::output::rfc3339(b.end),
            local: crate::makeup::slot_text(
                config,
                &crate::makeup::Span {
                    start: b.start,
                    end: b.end,
                },
            ),
            event_id: b.event_id.clone(),
            how: b.how.clone(),
        });
    } else if let Some(p) = view
        .proposals
        .get(&a.id)
        .and_then(|j| serde_json::from_str::<crate::makeup::Proposal>(j).ok())
    {
        item.proposals = p.slots.iter().map(slot).collect();
        let mut line = crate::makeup::proposal_line(config, &p);
        if view.can_book
            && let Some(hint) = crate::makeup::book_hint(config, &p)
        {
            line.push_str(&format!(" · {hint}"));
        }
        item.makeup = Some(line);
        if !view.can_book {
            item.invite = crate::makeup::invite_ics(config, &p, now);
        }
    }
    item
}

/// The notice of an auto-booked make-up (announced once per channel).
fn booked_notice(view: &OutboxView, a: &StoredAlert) -> Option<String> {
    view.bookings
        .get(&a.id)
        .filter(|b| b.how == "auto")
        .map(|b| format!("booked:{}", b.event_id))
}

/// Decide the deliveries for this cycle (pure: the store runs it inside its transaction).
/// `cadence` is the digest's cadence table (None when the analysis failed: a due digest then
/// waits for the next cycle).
pub fn plan(
    config: &Config,
    view: &OutboxView,
    cadence: Option<&[CadenceRow]>,
    now: DateTime<Utc>,
) -> OutboxPlan {
    let channels = &config.alerts.channels;
    let active: Vec<&StoredAlert> = view.open.iter().filter(|a| active(a, now)).collect();
    match config.alerts.digest {
        Digest::Immediate => {
            let mut deliveries = Vec::new();
            for c in channels {
                let c = c.as_str();
                let fresh = |a: &StoredAlert, n: &String| {
                    !view
                        .notices
                        .contains(&(a.id.clone(), c.to_string(), n.clone()))
                };
                // Each alert once, with every notice it is due for: new (or the reminder after
                // a snooze), and the make-up the daemon booked for it.
                let mut due: Vec<(&StoredAlert, String)> = Vec::new();
                let mut extra: Vec<(String, String)> = Vec::new();
                for a in &active {
                    let mut ns: Vec<String> = std::iter::once(notice(a))
                        .chain(booked_notice(view, a))
                        .filter(|n| fresh(a, n))
                        .collect();
                    if ns.is_empty() {
                        continue;
                    }
                    let first = ns.remove(0);
                    extra.extend(ns.into_iter().map(|n| (a.id.clone(), n)));
                    due.push((*a, first));
                }
                if due.is_empty() {
                    continue;
                }
                let mut seed: Vec<String> =
                    due.iter().map(|(a, n)| format!("{}@{n}", a.id)).collect();
                seed.extend(extra.iter().map(|(a, n)| format!("{a}@{n}")));
                let key = format!("cadenced-{:016x}-{c}", fnv1a64(seed.join(",").as_bytes()));
                let items = due
                    .iter()
                    .map(|(a, _)| item(config, view, a, now))
                    .collect();
                let mut message = Message::new(config, "alerts", items, now);
                message.idempotency_key = key.clone();
                deliveries.push(new_delivery(
                    key,
                    c,
                    "alerts",
                    &message,
                    due.iter()
                        .map(|(a, n)| (a.id.clone(), n.clone()))
                        .chain(extra.iter().cloned()),
                ));
            }
            if config.alerts.notify_resolved {
                deliveries.extend(resolved_notices(config, view, now));
            }
            OutboxPlan {
                deliveries,
                digest_slot: None,
            }
        }
        digest => {
            let zone = config.manager.zone();
            let Some(slot) = super::digest::due_slot(digest, &zone, view.last_digest_slot, now)
            else {
                return OutboxPlan::default();
            };
            let Some(cadence) = cadence else {
                return OutboxPlan::default();
            };
            if active.is_empty() {
                return OutboxPlan {
                    deliveries: Vec::new(),
                    digest_slot: Some((slot, 0)),
                };
            }
            let slot_text = crate::output::rfc3339(slot);
            let notice = format!("digest:{slot_text}");
            let compact: String = slot_text.chars().filter(char::is_ascii_digit).collect();
            let mut deliveries = Vec::new();
            for c in channels {
                let c = c.as_str();
                let key = format!("cadenced-digest-{compact}-{c}");
                let items = active.iter().map(|a| item(config, view, a, now)).collect();
                let mut message = Message::new(config, "alerts", items, now);
                message.kind = "digest".into();
                message.digest = Some(digest.to_string());
                message.slot = Some(slot_text.clone());
                message.cadence = cadence.to_vec();
                message.retain(|_| true);
                message.idempotency_key = key.clone();
                deliveries.push(new_delivery(
                    key,
                    c,
                    "digest",
                    &message,
                    active.iter().map(|a| (a.id.clone(), notice.clone())),
                ));
            }
            OutboxPlan {
                deliveries,
                digest_slot: Some((slot, active.len())),
            }
        }
    }
}

/// Per configured channel, one short notice with the alerts resolved since they were
/// delivered there.
fn resolved_notices(config: &Config, view: &OutboxView, now: DateTime<Utc>) -> Vec<NewDelivery> {
    let mut out = Vec::new();
    for c in &config.alerts.channels {
        let c = c.as_str();
        let due: Vec<_> = view.resolved.iter().filter(|r| r.channel == c).collect();
        if due.is_empty() {
            continue;
        }
        let notices: Vec<(String, String)> = due
            .iter()
            .map(|r| {
                (
                    r.alert.id.clone(),
                    format!("resolved:{}", crate::output::rfc3339(r.resolved_at)),
                )
            })
            .collect();
        let seed: Vec<String> = notices.iter().map(|(a, n)| format!("{a}@{n}")).collect();
        let key = format!(
            "cadenced-resolved-{:016x}-{c}",
            fnv1a64(seed.join(",").as_bytes())
        );
        let items = due
            .iter()
            .map(|r| {
                let mut item = item(config, view, &r.alert, now);
                item.short = render::kind_label(&r.alert.kind, config.manager.locale);
                item
            })
            .collect();
        let mut message = Message::new(config, "alerts", items, now);
        message.kind = "resolved".into();
        message.retain(|_| true);
        message.idempotency_key = key.clone();
        out.push(new_delivery(
            key,
            c,
            "resolved",
            &message,
            notices.into_iter(),
        ));
    }
    out
}

fn new_delivery(
    key: String,
    channel: &str,
    kind: &str,
    message: &Message,
    notices: impl Iterator<Item = (String, String)>,
) -> NewDelivery {
    NewDelivery {
        idempotency_key: key,
        channel: channel.to_string(),
        kind: kind.to_string(),
        // A Message always serializes (strings, numbers and vectors only).
        message: serde_json::to_string(message).unwrap_or_else(|_| "{}".into()),
        notices: notices.collect(),
    }
}

/// Whether an outbox row's message carries an alert about a report.
fn about_reports(message: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(message)
        .ok()
        .and_then(|v| {
            v["alerts"]
                .as_array()
                .map(|a| a.iter().any(|x| !x["report"].is_null()))
        })
        .unwrap_or(false)
}

/// The view with only the account alerts (the completeness gate holds the report alerts).
fn accounts_only(view: &OutboxView) -> OutboxView {
    only(view, &|report: &str| report.starts_with("account:"))
}

/// Org mode: the view of one manager (their reports and their accounts), so that no message
/// carries another manager's alert.
fn own_only(config: &Config, view: &OutboxView) -> OutboxView {
    only(view, &|report: &str| crate::alerts::owns(config, report))
}

/// Whether an org-mode message row belongs to this manager (its `manager` field).
fn own_row(config: &Config, message: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(message)
        .ok()
        .and_then(|v| {
            v["manager"]
                .as_str()
                .map(|m| m.eq_ignore_ascii_case(&config.manager.email))
        })
        .unwrap_or(false)
}

fn only(view: &OutboxView, account: &dyn Fn(&str) -> bool) -> OutboxView {
    OutboxView {
        open: view
            .open
            .iter()
            .filter(|a| account(&a.report))
            .cloned()
            .collect(),
        notices: view.notices.clone(),
        last_digest_slot: view.last_digest_slot,
        resolved: view
            .resolved
            .iter()
            .filter(|r| account(&r.alert.report))
            .cloned()
            .collect(),
        agendas: view.agendas.clone(),
        proposals: view.proposals.clone(),
        bookings: view.bookings.clone(),
        can_book: view.can_book,
    }
}

/// One cycle's delivery: plan (when `analysis` is there), then drain the outbox. `can_book`:
/// whether the scheduling account may create events (when it may not, e-mails carry the first
/// make-up slot as an iCalendar file).
pub async fn deliver<S: Outbox + Clone + 'static>(
    config: &Arc<Config>,
    store: &S,
    client: &reqwest::Client,
    analysis: Option<&Analysed>,
    can_book: bool,
    now: DateTime<Utc>,
) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    if let Some(a) = analysis {
        let cadence = render::cadence_rows(config, &a.analysis);
        let cfg = Arc::clone(config);
        let complete = a.complete;
        let planned = store
            .enqueue_deliveries(now, move |view| {
                let view = OutboxView {
                    can_book,
                    ..view.clone()
                };
                let view = if cfg.scoped {
                    own_only(&cfg, &view)
                } else {
                    view
                };
                if complete {
                    plan(&cfg, &view, Some(&cadence), now)
                } else {
                    // Incomplete (an account is missing): nothing is announced about
                    // reports; the account alerts still go out.
                    plan(&cfg, &accounts_only(&view), Some(&cadence), now)
                }
            })
            .await;
        match planned {
            Ok(n) => report.enqueued = n,
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        }
    }
    // While an account is missing, nothing about reports goes out, not even a row planned
    // earlier and still pending: it waits (as pending) for a complete analysis.
    let hold_reports = analysis.is_some_and(|a| !a.complete);
    drain(config, store, client, now, hold_reports, &mut report).await;
    for (channel, answer) in &report.delivered {
        tracing::info!(channel = %channel, "alert message delivered: {answer}");
    }
    for f in &report.failed {
        tracing::warn!("alert delivery failed (will retry): {f}");
    }
    report
}

/// The outcome of one row.
enum RowOutcome {
    Delivered(String),
    Dropped,
    Failed(String),
    /// Another process (a daemon instance sharing the store) is delivering it, or just did.
    Elsewhere,
}

/// Deliver every pending row.
pub async fn drain<S: Outbox + Clone + 'static>(
    config: &Arc<Config>,
    store: &S,
    client: &reqwest::Client,
    now: DateTime<Utc>,
    hold_reports: bool,
    report: &mut DeliveryReport,
) {
    let mut pending = match store.pending_deliveries().await {
        Ok(p) => p,
        Err(e) => {
            report.error = Some(e.to_string());
            return;
        }
    };
    if hold_reports {
        pending.retain(|row| !about_reports(&row.message));
    }
    if config.scoped {
        // Org mode: the outbox is shared; each manager's channels send only their messages.
        pending.retain(|row| own_row(config, &row.message));
    }
    let mut by_channel: BTreeMap<String, Vec<PendingDelivery>> = BTreeMap::new();
    for row in pending {
        by_channel.entry(row.channel.clone()).or_default().push(row);
    }
    let mut set = tokio::task::JoinSet::new();
    for (name, rows) in by_channel {
        let Some(channel) =
            channels::parse_channel(&name).filter(|c| config.alerts.channels.contains(c))
        else {
            // Kept for when the channel is configured again.
            tracing::debug!(channel = %name, rows = rows.len(), "outbox rows for an unconfigured channel");
            continue;
        };
        let (config, store, client) = (Arc::clone(config), store.clone(), client.clone());
        set.spawn(async move {
            let mut out = Vec::new();
            let mut failing: Option<String> = None;
            for row in rows {
                if let Some(reason) = &failing {
                    out.push((
                        name.clone(),
                        RowOutcome::Failed(format!(
                            "{name}: not tried after an earlier failure ({reason})"
                        )),
                    ));
                    continue;
                }
                let outcome = deliver_row(&config, &store, &client, channel, &row, now).await;
                if let RowOutcome::Failed(e) = &outcome {
                    failing = Some(e.clone());
                }
                out.push((name.clone(), outcome));
            }
            out
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok(outcomes) => {
                for (channel, o) in outcomes {
                    match o {
                        RowOutcome::Delivered(answer) => report.delivered.push((channel, answer)),
                        RowOutcome::Dropped => report.dropped += 1,
                        RowOutcome::Failed(e) => report.failed.push(e),
                        RowOutcome::Elsewhere => {}
                    }
                }
            }
            Err(e) => report
                .failed
                .push(format!("a delivery task stopped unexpectedly: {e}")),
        }
    }
}

/// The message a pending row should send now: its alerts still active, its key set. `None`
/// when nothing is left to say (the row is then dropped by the caller).
pub async fn prepare(
    store: &impl Outbox,
    row: &PendingDelivery,
    now: DateTime<Utc>,
) -> Result<Option<Message>, String> {
    let mut message: Message = serde_json::from_str(&row.message)
        .map_err(|e| format!("outbox row {} holds an unreadable message: {e}", row.id))?;
    let ids: Vec<String> = message.alerts.iter().map(|a| a.id.clone()).collect();
    let resolved = message.kind == "resolved";
    let live: HashSet<String> = store
        .live_alert_ids(ids, resolved, now)
        .await
        .map_err(|e| e.to_string())?;
    message.retain(|a| live.contains(&a.id));
    message.idempotency_key = row.idempotency_key.clone();
    Ok((!message.alerts.is_empty()).then_some(message))
}

async fn deliver_row(
    config: &Config,
    store: &impl Outbox,
    client: &reqwest::Client,
    channel: Channel,
    row: &PendingDelivery,
    now: DateTime<Utc>,
) -> RowOutcome {
    let name = channel.as_str();
    let message = match prepare(store, row, now).await {
        Ok(Some(m)) => m,
        Ok(None) => {
            let id = row.id;
            return match store
                .drop_delivery(
                    id,
                    now,
                    "every alert was acknowledged, snoozed or resolved before delivery",
                )
                .await
            {
                Ok(()) => RowOutcome::Dropped,
                Err(e) => RowOutcome::Failed(format!("{name}: {e}")),
            };
        }
        Err(e) => return RowOutcome::Failed(format!("{name}: {e}")),
    };
    let mut last = String::new();
    for attempt in 0..ATTEMPTS_PER_CYCLE {
        if attempt > 0 {
            let delay = BASE_DELAY.saturating_mul(1 << (attempt - 1)).min(MAX_DELAY);
            tokio::time::sleep(delay).await;
        }
        let id = row.id;
        let number = match store.start_attempt(id, now).await {
            Ok(Some(n)) => n,
            Ok(None) => return RowOutcome::Elsewhere,
            Err(e) => return RowOutcome::Failed(format!("{name}: {e}")),
        };
        let result: Result<String, SendError> =
            channels::send(channel, config, client, &message).await;
        let recorded = {
            let outcome = result.clone().map_err(|e| e.message);
            store.finish_attempt(id, number, now, outcome).await
        };
        if let Err(e) = recorded {
            return RowOutcome::Failed(format!("{name}: {e}"));
        }
        match result {
            Ok(answer) => return RowOutcome::Delivered(answer),
            Err(e) => {
                tracing::debug!(
                    channel = name,
                    attempt = number,
                    "delivery attempt failed: {}",
                    e.message
                );
                last = e.message;
                if !e.retryable {
                    break;
                }
            }
        }
    }
    RowOutcome::Failed(format!("{name}: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        crate::config::parse(
            &format!(
                "[manager]\nemail = \"m@example.com\"\ntimezone = \"Europe/Berlin\"\n\n[[reports]]\nemail = \"bob@example.com\"\nname = \"Bob\"\n\n{extra}"
            ),
            std::path::Path::new("c.toml"),
        )
        .unwrap()
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn alert(id: &str, kind: &str) -> StoredAlert {
        StoredAlert {
            id: id.into(),
            kind: kind.into(),
            report: "bob@example.com".into(),
            episode: String::new(),
            since: t("2026-11-01T09:00:00Z"),
            first_seen: t("2026-11-20T00:00:00Z"),
            last_seen: t("2026-11-24T00:00:00Z"),
            acked_at: None,
            snoozed_until: None,
            data: r#"{"severity":"warning","message":"No 1on1 with Bob for 23 days (expected every 7)."}"#.into(),
        }
    }

    fn view(open: Vec<StoredAlert>) -> OutboxView {
        OutboxView {
            open,
            notices: HashSet::new(),
            last_digest_slot: None,
            resolved: Vec::new(),
            agendas: std::collections::HashMap::new(),
            proposals: std::collections::HashMap::new(),
            bookings: std::collections::HashMap::new(),
            can_book: false,
        }
    }

    #[test]
    fn rows_about_reports_are_told_apart_from_account_alerts() {
        assert!(about_reports(
            r#"{"alerts":[{"report":"bob@example.com","account":null}]}"#
        ));
        assert!(!about_reports(
            r#"{"alerts":[{"report":null,"account":"work"}]}"#
        ));
        assert!(!about_reports("not json"));
    }

    #[test]
    fn immediate_groups_new_alerts_per_channel_and_skips_announced_ones() {
        let c = config(
            "[alerts]\nchannels = [\"log\", \"command\"]\n[alerts.command]\nargv = [\"true\"]\n",
        );
        let now = t("2026-11-24T00:00:00Z");
        let mut v = view(vec![alert("a1", "gap"), alert("a2", "uneven")]);
        let p = plan(&c, &v, None, now);
        assert_eq!(p.deliveries.len(), 2);
        assert_eq!(p.deliveries[0].channel, "log");
        assert_eq!(p.deliveries[0].notices.len(), 2);
        assert!(p.deliveries[0].idempotency_key.ends_with("-log"));
        let m: Message = serde_json::from_str(&p.deliveries[0].message).unwrap();
        // Calendar days in the manager's zone (Nov 1 → Nov 24), the figure the message says.
        assert_eq!(m.subject, "1 1on1 needs attention: Bob (23 days, uneven)");
        // Once announced on log, only command still needs a1.
        v.notices.insert(("a1".into(), "log".into(), "new".into()));
        v.notices.insert(("a2".into(), "log".into(), "new".into()));
        v.notices
            .insert(("a2".into(), "command".into(), "new".into()));
        let p = plan(&c, &v, None, now);
        assert_eq!(p.deliveries.len(), 1);
        assert_eq!(p.deliveries[0].channel, "command");
        assert_eq!(
            p.deliveries[0].notices,
            vec![("a1".to_string(), "new".to_string())]
        );
    }

    #[test]
    fn acked_and_snoozed_alerts_are_not_planned_and_a_snooze_ending_reminds() {
        let c = config("");
        let now = t("2026-11-24T00:00:00Z");
        let mut acked = alert("a1", "gap");
        acked.acked_at = Some(now);
        let mut snoozed = alert("a2", "uneven");
        snoozed.snoozed_until = Some(t("2026-12-01T00:00:00Z"));
        let mut v = view(vec![acked, snoozed]);
        assert!(plan(&c, &v, None, now).deliveries.is_empty());
        v.notices.insert(("a2".into(), "log".into(), "new".into()));
        let later = t("2026-12-02T00:00:00Z");
        let p = plan(&c, &v, None, later);
        assert_eq!(
            p.deliveries[0].notices,
            vec![("a2".to_string(), "after:2026-12-01T00:00:00Z".to_string())]
        );
    }

    #[test]
    fn a_due_digest_waits_for_the_analysis_and_records_an_empty_slot() {
        let c = config("[alerts]\ndigest = \"daily 09:00\"\n");
        let now = t("2026-11-24T12:00:00Z");
        assert_eq!(
            plan(&c, &view(vec![alert("a1", "gap")]), None, now),
            OutboxPlan::default()
        );
        let p = plan(&c, &view(vec![]), Some(&[]), now);
        assert!(p.deliveries.is_empty());
        assert_eq!(p.digest_slot, Some((t("2026-11-24T08:00:00Z"), 0)));
        let p = plan(&c, &view(vec![alert("a1", "gap")]), Some(&[]), now);
        assert_eq!(
            p.deliveries[0].idempotency_key,
            "cadenced-digest-20261124080000-log"
        );
        let m: Message = serde_json::from_str(&p.deliveries[0].message).unwrap();
        assert_eq!(m.kind, "digest");
        assert!(m.subject.starts_with("Daily digest: "), "{}", m.subject);
    }

    /// A fault in the store while an outcome is recorded: the row is not counted as delivered
    /// and stays pending (same key), so the next cycle sends it again; nothing half-written.
    #[tokio::test]
    async fn a_delivery_whose_outcome_cannot_be_recorded_stays_pending() {
        use crate::store::failing::Failing;
        use crate::store::{AsyncStore, Finding, Store};

        let tmp = tempfile::tempdir().unwrap();
        let now = t("2026-11-24T00:00:00Z");
        let mut sqlite = Store::open_in(tmp.path()).unwrap();
        sqlite
            .reconcile_alerts(
                &[Finding {
                    kind: "gap".into(),
                    report: "bob@example.com".into(),
                    episode: "e1".into(),
                    since: Some(t("2026-11-01T09:00:00Z")),
                    data: alert("x", "gap").data,
                }],
                now,
            )
            .unwrap();
        let store = AsyncStore::new(sqlite);
        let c = Arc::new(config("[alerts]\nchannels = [\"log\"]\n"));
        let cfg = Arc::clone(&c);
        let n = store
            .enqueue_deliveries(now, move |v| plan(&cfg, v, None, now))
            .await
            .unwrap();
        assert_eq!(n, 1);
        let key = store.pending_deliveries().await.unwrap()[0]
            .idempotency_key
            .clone();
        let client = reqwest::Client::new();

        let failing = Failing::new(&store, "finish_attempt");
        let mut report = DeliveryReport::default();
        drain(&c, &failing, &client, now, false, &mut report).await;
        assert!(report.delivered.is_empty(), "{report:?}");
        assert_eq!(report.failed.len(), 1, "{report:?}");
        let pending = store.pending_deliveries().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].idempotency_key, key);

        // The store back: the same row goes out, once.
        let mut report = DeliveryReport::default();
        drain(&c, &store, &client, now, false, &mut report).await;
        assert_eq!(report.delivered.len(), 1, "{report:?}");
        assert!(store.pending_deliveries().await.unwrap().is_empty());
    }
}
