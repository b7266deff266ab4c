//! `status`: each configured account's last sync (when, outcome, the error in one sentence),
//! whether it needs `cadenced auth`, its stored events and cursors, and the open alerts.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CliError, Context};

#[derive(Serialize)]
struct StatusJson {
    now: String,
    state_dir: String,
    accounts: Vec<AccountJson>,
    open_alerts: usize,
    open_alerts_by_kind: std::collections::BTreeMap<String, usize>,
}

#[derive(Serialize)]
struct AccountJson {
    name: String,
    provider: String,
    needs_auth: bool,
    last_sync: Option<String>,
    last_sync_ok: Option<bool>,
    last_error: Option<String>,
    last_success: Option<String>,
    events: i64,
    calendars: i64,
    cursors: i64,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn status(ctx: &Context, json: bool) -> Result<(), CliError> {
    let store = ctx.open_store()?;
    let runtime = |e: crate::store::StoreError| CliError::runtime(e.to_string());
    let stored = store.account_overview().map_err(runtime)?;
    let alerts = store.open_alerts().map_err(runtime)?;
    let mut by_kind = std::collections::BTreeMap::new();
    let open: Vec<_> = alerts
        .iter()
        .filter(|a| a.acked_at.is_none() && a.snoozed_until.is_none_or(|u| u <= ctx.now))
        .collect();
    for a in &open {
        *by_kind.entry(a.kind.clone()).or_insert(0) += 1;
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
                last_sync: s.and_then(|s| s.last_sync_at).map(rfc3339),
                last_sync_ok: s.and_then(|s| s.last_sync_ok),
                last_error: s.and_then(|s| s.last_error.clone()),
                last_success: s.and_then(|s| s.last_success_at).map(rfc3339),
                events: s.map_or(0, |s| s.events),
                calendars: s.map_or(0, |s| s.calendars),
                cursors: s.map_or(0, |s| s.cursors),
            }
        })
        .collect();
    let doc = StatusJson {
        now: rfc3339(ctx.now),
        state_dir: ctx.state_dir.display().to_string(),
        accounts,
        open_alerts: open.len(),
        open_alerts_by_kind: by_kind,
    };
    let text = if json {
        serde_json::to_string_pretty(&doc).map_err(|e| CliError::runtime(e.to_string()))? + "\n"
    } else {
        human(&doc)
    };
    print!("{text}");
    Ok(())
}

fn human(doc: &StatusJson) -> String {
    let mut out = format!("state: {}\n\n", doc.state_dir);
    for a in &doc.accounts {
        let sync = match (&a.last_sync, a.last_sync_ok) {
            (None, _) => "never synced".to_string(),
            (Some(t), Some(true)) => format!("last sync {t}: ok"),
            (Some(t), _) => format!(
                "last sync {t}: FAILED: {}",
                a.last_error.as_deref().unwrap_or("unknown error")
            ),
        };
        out.push_str(&format!(
            "{} ({}): {sync}; {} events in {} calendar(s), {} cursor(s)\n",
            a.name, a.provider, a.events, a.calendars, a.cursors
        ));
        if a.needs_auth {
            out.push_str(&format!(
                "  needs authorization: run `cadenced auth {}`\n",
                a.name
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
    out
}
