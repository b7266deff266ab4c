//! Org mode at the command line (docs/org.md): every command that works on the whole org runs
//! once per manager on that manager's derived config; `--manager EMAIL` narrows any command to
//! one manager (and is required by those that only make sense for one: `events`, `series`,
//! `propose`, `book`, `agenda`, `report --html`).
//!
//! - `sync`: the directory sweep first (when due, or with `--full`), then every manager's
//!   account; a failed sweep is reported and the stored directory is used.
//! - `report`: one report per manager (`--json`: one document per line, in manager order);
//!   `alerts`: the same, one array per line with `--json`.
//! - `status`: the directory (when read, how many managers) and per manager their accounts.

use super::{CliError, Context};
use crate::org::{self, OrgManager};

/// The context of one manager (`email`) of an org config.
pub fn for_manager(ctx: Context, email: &str) -> Result<Context, CliError> {
    let (_, config) = org::config_of(&ctx.config, &ctx.state_dir, email).map_err(|e| match e {
        org::OrgError::NoDirectory => CliError::runtime(e.to_string()),
        org::OrgError::UnknownManager(_) => CliError::usage(e.to_string()),
    })?;
    Ok(Context {
        config,
        state_dir: ctx.state_dir,
        now: ctx.now,
    })
}

/// Every manager's context, in manager order (one warning line each on stderr for what the
/// expansion left out).
pub fn contexts(ctx: &Context) -> Result<Vec<(OrgManager, Context)>, CliError> {
    let e =
        org::configs(&ctx.config, &ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    for w in &e.warnings {
        eprintln!("cadenced: warning: {}", crate::terminal::escape(w));
    }
    Ok(e.managers
        .into_iter()
        .map(|(m, config)| {
            (
                m,
                Context {
                    config,
                    state_dir: ctx.state_dir.clone(),
                    now: ctx.now,
                },
            )
        })
        .collect())
}

/// The sweep when due (or `full`); a failure is said on stderr and the stored directory kept.
fn sweep(ctx: &Context, full: bool) -> Result<(), CliError> {
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let runtime = super::setup::runtime()?;
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let swept = runtime.block_on(crate::providers::orgchart::sweep_if_due(
        &ctx.config,
        &ctx.state_dir,
        &client,
        ctx.now,
        full,
    ));
    match swept {
        Ok(Some(n)) => println!("org directory: {n} people read"),
        Ok(None) => {}
        Err(e) => {
            let kept = if crate::providers::orgchart::load(&ctx.state_dir).is_some() {
                "; the directory read before is kept"
            } else {
                ""
            };
            eprintln!(
                "cadenced: {}{kept}",
                crate::terminal::escape(&e.to_string())
            );
            return Err(CliError::runtime(format!("{e}{kept}")));
        }
    }
    Ok(())
}

/// `sync` in org mode.
pub fn sync(ctx: &Context, only: Option<&str>, full: bool) -> Result<(), CliError> {
    let swept = sweep(ctx, full);
    let managers = match contexts(ctx) {
        Ok(m) => m,
        Err(e) => return Err(swept.err().unwrap_or(e)),
    };
    let mut targets = Vec::new();
    for (_, c) in &managers {
        targets.extend(crate::sync::targets(&c.config, &c.state_dir));
    }
    if let Some(name) = only {
        if !targets.iter().any(|t| t.account == name) {
            return Err(CliError::usage(format!(
                "there is no account named {name:?} among the org's managers (see `cadenced status`)"
            )));
        }
        targets.retain(|t| t.account == name);
    }
    let synced = super::setup::sync_targets(ctx, &targets, full);
    swept.and(synced)
}

/// `report` in org mode: one report per manager.
pub fn report(ctx: &Context, json: bool, html: Option<&std::path::Path>) -> Result<(), CliError> {
    if html.is_some() {
        return Err(CliError::usage(
            "in org mode the dashboard page is one manager's: add --manager EMAIL",
        ));
    }
    for (m, c) in contexts(ctx)? {
        if !json {
            println!("== {} ==", crate::terminal::escape(&title(&m)));
        }
        super::cadence::report_with(&c, json, None, false)?;
    }
    Ok(())
}

/// `alerts` (the list) in org mode: one list per manager.
pub fn alerts(ctx: &Context, json: bool, all: bool) -> Result<(), CliError> {
    for (m, c) in contexts(ctx)? {
        if !json {
            println!("== {} ==", crate::terminal::escape(&title(&m)));
        }
        super::cadence::alerts_with(&c, json, all, false)?;
    }
    Ok(())
}

fn title(m: &OrgManager) -> String {
    match &m.name {
        Some(n) => format!("{n} <{}>", m.email),
        None => m.email.clone(),
    }
}

#[derive(serde::Serialize)]
struct OrgStatus {
    /// When the directory was read (RFC 3339), or null: then nothing is analysed.
    directory_read_at: Option<String>,
    /// Why there is no manager, when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    warnings: Vec<String>,
    managers: Vec<ManagerStatus>,
}

#[derive(serde::Serialize)]
struct ManagerStatus {
    #[serde(flatten)]
    manager: OrgManager,
    status: super::status::StatusJson,
}

/// `status` in org mode.
pub fn status(ctx: &Context, json: bool) -> Result<(), CliError> {
    let doc = match org::configs(&ctx.config, &ctx.state_dir) {
        Err(e) => OrgStatus {
            directory_read_at: None,
            note: Some(e.to_string()),
            warnings: Vec::new(),
            managers: Vec::new(),
        },
        Ok(e) => {
            let mut managers = Vec::new();
            for (m, config) in e.managers {
                let c = Context {
                    config,
                    state_dir: ctx.state_dir.clone(),
                    now: ctx.now,
                };
                managers.push(ManagerStatus {
                    manager: m,
                    status: super::status::document(&c)?,
                });
            }
            OrgStatus {
                directory_read_at: e.fetched_at.map(crate::output::rfc3339),
                note: None,
                warnings: e.warnings,
                managers,
            }
        }
    };
    if json {
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::runtime(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    let mut out = String::new();
    match (&doc.directory_read_at, &doc.note) {
        (_, Some(note)) => out.push_str(&format!("org: {note}\n")),
        (Some(at), None) => out.push_str(&format!(
            "org: directory read at {at}; {} manager{}\n",
            doc.managers.len(),
            if doc.managers.len() == 1 { "" } else { "s" }
        )),
        (None, None) => out.push_str("org: directory read at an unknown time\n"),
    }
    for w in &doc.warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    for m in &doc.managers {
        out.push_str(&format!("\n== {} ==\n", title(&m.manager)));
        out.push_str(&super::status::human(&m.status));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    print!("{}", crate::terminal::escape_text(&out));
    Ok(())
}

/// `run --once` in org mode: the sweep when due, every manager's accounts (concurrently, each
/// its own sync as in the daemon), then each manager's analysis, agendas, make-ups and alerts.
pub fn run_once(ctx: &Context) -> Result<(), CliError> {
    use std::sync::Arc;

    use crate::daemon::cycle::{self, CycleContext};
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let _lock =
        crate::daemon::lock::InstanceLock::acquire(&ctx.state_dir).map_err(|e| match e {
            crate::daemon::lock::LockError::Held { .. } => CliError::usage(e.to_string()),
            other => CliError::runtime(other.to_string()),
        })?;
    let swept = sweep(ctx, false);
    let managers = match contexts(ctx) {
        Ok(m) => m,
        Err(e) => return Err(swept.err().unwrap_or(e)),
    };
    let store = crate::store::AsyncStore::new(ctx.open_store()?);
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let cycle_of = |c: &Context| CycleContext {
        config: Arc::new(c.config.clone()),
        state_dir: ctx.state_dir.clone(),
        store: store.clone(),
        client: client.clone(),
        freshness: crate::alerts::Freshness::OneShot,
    };
    let runtime = super::setup::runtime()?;
    let mut problems: Vec<String> = Vec::new();
    let mut targets = Vec::new();
    for (_, c) in &managers {
        targets.extend(crate::sync::targets(&c.config, &c.state_dir));
    }
    let outcomes = runtime.block_on(async {
        match managers.first() {
            Some((_, c)) => cycle::sync_all(&cycle_of(c), &targets, false, ctx.now).await,
            None => Vec::new(),
        }
    });
    for a in &outcomes {
        match &a.result {
            Ok(s) => println!("{}: {} events stored", a.account, s.events),
            Err(e) => {
                eprintln!("cadenced: {}", crate::terminal::escape(e));
                problems.push(format!("{} failed", a.account));
            }
        }
    }
    for (m, c) in &managers {
        let stages = runtime.block_on(cycle::after_sync(&cycle_of(c), ctx.now));
        match &stages.analysis {
            Ok(a) => {
                let open = cycle::open_alert_count(a, ctx.now);
                println!(
                    "{}: {} reports analysed, {open} open alerts{}",
                    m.email,
                    a.analysis.reports.len(),
                    if a.complete { "" } else { " (incomplete)" }
                );
            }
            Err(e) => problems.push(format!("{}: analysis failed: {e}", m.email)),
        }
        for p in stages.problems() {
            problems.push(format!("{}: {p}", m.email));
        }
    }
    swept?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "the cycle did not fully work: {}",
            problems.join("; ")
        )))
    }
}
