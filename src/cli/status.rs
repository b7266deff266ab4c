//! `status`: each configured account's last sync (when, outcome, the error in one sentence),
//! whether it needs `cadenced auth`, its stored events and cursors (and how old the stalest
//! one is), the open alerts, and whether a daemon is running on the state directory (its lock).
//!
//! The open alerts are the analysis' at `now` (the same as `report` and `alerts` show, through
//! the same completeness gate), not merely what an earlier run left in the store; and when an
//! account keeps the analysis incomplete, the first lines say which and since when.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CliError, Context};

#[derive(Serialize)]
pub(super) struct StatusJson {
    now: String,
    state_dir: String,
    /// Whether a daemon holds the state directory's lock, and its pid.
    daemon: DaemonJson,
    accounts: Vec<AccountJson>,
    /// Every account read and current (report alerts follow the calendar).
    complete: bool,
    /// One sentence per account that keeps the analysis incomplete.
    missing: Vec<String>,
    open_alerts: usize,
    open_alerts_by_kind: std::collections::BTreeMap<String, usize>,
    /// The make-up 1on1s cadenced booked (issue 17), newest first.
    bookings: Vec<BookingJson>,
    /// Daemon instances sharing the store (empty unless several may: a store on a database
    /// server), by id.
    instances: Vec<InstanceJson>,
}

#[derive(Serialize)]
struct InstanceJson {
    id: String,
    host: String,
    pid: u32,
    started: Option<String>,
    last_seen: Option<String>,
    /// Whether its last lease round is within one lease period (wall clock).
    live: bool,
    /// The accounts whose lease it holds now.
    accounts: usize,
}

#[derive(Serialize)]
struct LeaseJson {
    /// The instance holding the account, `null` when it is free or its lease ran out.
    holder: Option<String>,
    until: Option<String>,
    /// When the last sync of the account started, whichever instance ran it.
    last_started: Option<String>,
}

#[derive(Serialize)]
struct BookingJson {
    alert: String,
    report: String,
    account: String,
    event_id: String,
    title: String,
    start: String,
    end: String,
    /// `manual` (`cadenced book`) or `auto` (the daemon).
    how: String,
    booked_at: String,
    undone_at: Option<String>,
}

#[derive(Serialize)]
struct DaemonJson {
    running: bool,
    pid: Option<u32>,
}

#[derive(Serialize)]
struct AccountJson {
    name: String,
    provider: String,
    needs_auth: bool,
    /// `ok | never_synced | failed | stale | needs_auth`, as in `report --json`.
    state: String,
    last_sync: Option<String>,
    last_sync_ok: Option<bool>,
    last_error: Option<String>,
    last_success: Option<String>,
    events: i64,
    calendars: i64,
    cursors: i64,
    /// Seconds since the stalest cursor of the account was written (wall clock).
    cursor_age_secs: Option<i64>,
    /// Who syncs the account when instances share the store (`null` otherwise).
    lease: Option<LeaseJson>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn status(ctx: &Context, json: bool) -> Result<(), CliError> {
    let doc = document(ctx)?;
    let text = if json {
        serde_json::to_string_pretty(&doc).map_err(|e| CliError::runtime(e.to_string()))? + "\n"
    } else {
        crate::terminal::escape_text(&human(&doc)).into_owned()
    };
    print!("{text}");
    Ok(())
}

/// The status of one (single-manager or derived) config.
pub(super) fn document(ctx: &Context) -> Result<StatusJson, CliError> {
    let mut store = ctx.open_store()?;
    let runtime = |e: crate::store::StoreError| CliError::runtime(e.to_string());
    let analysed = crate::alerts::analyse(&ctx.config, &mut store, ctx.now).map_err(runtime)?;
    // Org mode: this manager's accounts only (the whole overview once per manager grows with
    // managers × accounts).
    let stored = if ctx.config.scoped {
        let names: Vec<&str> = ctx
            .config
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        store.account_overview_of(&names)
    } else {
        store.account_overview()
    }
    .map_err(runtime)?;
    let cursor_updates = store.oldest_cursor_updates().map_err(runtime)?;
    let bookings = store.bookings().map_err(runtime)?;
    let leases = store.leases().map_err(runtime)?;
    let instances = store.instances().map_err(runtime)?;
    let wall = Utc::now();
    let period = ctx.config.daemon.lease.as_chrono();
    let valid = |until: Option<DateTime<Utc>>| until.is_some_and(|u| u >= wall);
    let holder = crate::daemon::lock::holder(&ctx.state_dir);
    let mut by_kind = std::collections::BTreeMap::new();
    let active =
        |s: &crate::store::AlertState| !s.acked && s.snoozed_until.is_none_or(|u| u <= ctx.now);
    let mut open = 0;
    for (f, st) in analysed.analysis.findings.iter().zip(&analysed.states) {
        if active(st) {
            open += 1;
            *by_kind.entry(f.kind.as_str().to_string()).or_insert(0) += 1;
        }
    }
    for (acc, st) in &analysed.account_alerts {
        if active(st) {
            open += 1;
            *by_kind.entry(acc.kind.to_string()).or_insert(0) += 1;
        }
    }
    // Configured accounts in config order; one never synced shows as such.
    let accounts: Vec<AccountJson> = ctx
        .config
        .accounts
        .iter()
        .map(|acc| {
            let s = stored.iter().find(|s| s.name == acc.name);
            AccountJson {
                name: acc.name.clone(),
                provider: acc.provider().to_string(),
                needs_auth: s.is_some_and(|s| s.needs_auth),
                state: analysed
                    .accounts
                    .iter()
                    .find(|a| a.name == acc.name)
                    .map_or("never_synced", |a| a.status.as_str())
                    .to_string(),
                last_sync: s.and_then(|s| s.last_sync_at).map(rfc3339),
                last_sync_ok: s.and_then(|s| s.last_sync_ok),
                last_error: s.and_then(|s| s.last_error.clone()),
                last_success: s.and_then(|s| s.last_success_at).map(rfc3339),
                events: s.map_or(0, |s| s.events),
                calendars: s.map_or(0, |s| s.calendars),
                cursors: s.map_or(0, |s| s.cursors),
                cursor_age_secs: cursor_updates
                    .iter()
                    .find(|(name, _)| *name == acc.name)
                    .map(|(_, t)| (wall - *t).num_seconds().max(0)),
                lease: leases
                    .iter()
                    .find(|l| l.account == acc.name)
                    .map(|l| LeaseJson {
                        holder: l.holder.clone().filter(|_| valid(l.lease_until)),
                        until: l.lease_until.filter(|&u| valid(Some(u))).map(rfc3339),
                        last_started: l.synced_at.map(rfc3339),
                    }),
            }
        })
        .collect();
    let doc = StatusJson {
        now: rfc3339(ctx.now),
        state_dir: ctx.state_dir.display().to_string(),
        daemon: DaemonJson {
            running: holder.is_some(),
            pid: holder.flatten(),
        },
        accounts,
        complete: analysed.complete,
        missing: analysed
            .accounts
            .iter()
            .filter(|a| a.status != crate::alerts::AccountStatus::Ok)
            .map(|a| a.missing_text(&ctx.config))
            .collect(),
        open_alerts: open,
        open_alerts_by_kind: by_kind,
        bookings: bookings
            .into_iter()
            .map(|b| BookingJson {
                alert: b.alert_id,
                report: b.report,
                account: b.account,
                event_id: b.event_id,
                title: b.title,
                start: rfc3339(b.start),
                end: rfc3339(b.end),
                how: b.how,
                booked_at: rfc3339(b.created_at),
                undone_at: b.undone_at.map(rfc3339),
            })
            .collect(),
        instances: instances
            .into_iter()
            .map(|i| InstanceJson {
                accounts: leases
                    .iter()
                    .filter(|l| l.holder.as_deref() == Some(&i.id) && valid(l.lease_until))
                    .count(),
                live: i.seen_at.is_some_and(|t| wall - t <= period),
                started: i.started_at.map(rfc3339),
                last_seen: i.seen_at.map(rfc3339),
                id: i.id,
                host: i.host,
                pid: i.pid,
            })
            .collect(),
    };
    Ok(doc)
}

pub(super) fn human(doc: &StatusJson) -> String {
    let daemon = match (doc.daemon.running, doc.daemon.pid) {
        (true, Some(pid)) => format!("running (pid {pid})"),
        (true, None) => "running".to_string(),
        (false, _) => "not running".to_string(),
    };
    let mut out = String::new();
    if !doc.complete {
        out.push_str("INCOMPLETE: cadence alerts are on hold until every account syncs.\n");
        for m in &doc.missing {
            out.push_str(&format!("  {m}\n"));
        }
        out.push('\n');
    }
    out.push_str(&format!("state: {}\ndaemon: {daemon}\n\n", doc.state_dir));
    for a in &doc.accounts {
        let sync = match (&a.last_sync, a.last_sync_ok) {
            (None, _) => "never synced".to_string(),
            (Some(t), Some(true)) => format!("last sync {t}: ok"),
            (Some(t), None) => format!(
                "last sync {t}: did not finish ({}); last success {}",
                if doc.daemon.running {
                    "still running, or interrupted"
                } else {
                    "interrupted"
                },
                a.last_success.as_deref().unwrap_or("never")
            ),
            (Some(t), _) => format!(
                "last sync {t}: FAILED: {}",
                a.last_error.as_deref().unwrap_or("unknown error")
            ),
        };
        let age = a
            .cursor_age_secs
            .map(|s| format!(", oldest written {} ago", human_age(s)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} ({}): {sync}; {} {} in {} {}, {} {}{age}\n",
            a.name,
            a.provider,
            a.events,
            plural(a.events, "event", "events"),
            a.calendars,
            plural(a.calendars, "calendar", "calendars"),
            a.cursors,
            plural(a.cursors, "cursor", "cursors"),
        ));
        if let Some(l) = &a.lease {
            match (&l.holder, &l.until) {
                (Some(h), Some(u)) => {
                    out.push_str(&format!("  synced by instance {h} (lease until {u})\n"))
                }
                _ => out.push_str("  no instance holds it now\n"),
            }
        }
        if a.needs_auth {
            out.push_str(&format!(
                "  needs authorization: run `cadenced auth {}`\n",
                a.name
            ));
        }
    }
    if !doc.instances.is_empty() {
        out.push_str("\ninstances:\n");
        for i in &doc.instances {
            out.push_str(&format!(
                "  {} (pid {} on {}): {}, {} {}, last seen {}\n",
                i.id,
                i.pid,
                i.host,
                if i.live { "live" } else { "gone" },
                i.accounts,
                plural(
                    i64::try_from(i.accounts).unwrap_or(i64::MAX),
                    "account",
                    "accounts"
                ),
                i.last_seen.as_deref().unwrap_or("never"),
            ));
        }
    }
    out.push_str(&format!("\nopen alerts: {}", doc.open_alerts));
    if !doc.open_alerts_by_kind.is_empty() {
        let kinds: Vec<String> = doc
            .open_alerts_by_kind
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!(" ({})", kinds.join(", ")));
    }
    out.push('\n');
    if !doc.bookings.is_empty() {
        out.push_str("\nmake-ups booked:\n");
        for b in &doc.bookings {
            let undone = b
                .undone_at
                .as_ref()
                .map(|t| format!(", undone {t}"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} {}–{} with {} ({}, alert {}, event {}{undone})\n",
                b.title, b.start, b.end, b.report, b.how, b.alert, b.event_id
            ));
        }
    }
    out
}

fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    crate::cadence::messages::plural(n, one, many)
}

fn human_age(secs: i64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}
