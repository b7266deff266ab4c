//! `run`: the daemon, or with `--once` one whole cycle.

use std::path::PathBuf;
use std::sync::Arc;

use super::{CliError, Context};
use crate::daemon::cycle::{self, CycleContext};
use crate::daemon::lock::InstanceLock;
use crate::daemon::service::{self, DaemonError};
use crate::store::AsyncStore;

/// `run`: the daemon, until SIGTERM/SIGINT (exit 0), or exit 2 when another daemon holds the
/// state directory or the listener has no access token, 1 on any other failure.
pub fn run_daemon(
    ctx: Context,
    config_path: PathBuf,
    now: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), CliError> {
    let config_path = std::path::absolute(&config_path).unwrap_or(config_path);
    service::run(service::Options {
        config_path,
        config: ctx.config,
        state_dir: ctx.state_dir,
        now,
    })
    .map_err(|e: DaemonError| CliError {
        code: e.exit_code(),
        message: e.to_string(),
    })
}

/// `run --once`: one cycle; exit 1 when any stage failed (the others still ran), 2 when a
/// daemon is running on the same state directory.
pub fn run_once(ctx: &Context) -> Result<(), CliError> {
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let _lock = InstanceLock::acquire(&ctx.state_dir).map_err(|e| match e {
        crate::daemon::lock::LockError::Held { .. } => CliError::usage(e.to_string()),
        other => CliError::runtime(other.to_string()),
    })?;
    let store = AsyncStore::new(ctx.open_store()?);
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let cycle_ctx = CycleContext {
        config: Arc::new(ctx.config.clone()),
        state_dir: ctx.state_dir.clone(),
        store,
        client,
        freshness: crate::alerts::Freshness::OneShot,
    };
    let runtime = super::setup::runtime()?;
    let report = runtime.block_on(cycle::run_cycle(&cycle_ctx, ctx.now));
    for a in &report.accounts {
        match &a.result {
            Ok(s) if s.unchanged => println!(
                "{}: unchanged ({} {})",
                a.account,
                s.events,
                plural(s.events, "event", "events")
            ),
            Ok(s) => println!(
                "{}: {} {} stored",
                a.account,
                s.events,
                plural(s.events, "event", "events")
            ),
            Err(e) => eprintln!("cadenced: {}", crate::terminal::escape(&e.to_string())),
        }
    }
    if let Ok(a) = &report.analysis {
        let open = cycle::open_alert_count(a, ctx.now);
        let n = a.analysis.reports.len();
        println!(
            "{n} {} analysed, {open} open {} (see `cadenced alerts`)",
            plural(n, "report", "reports"),
            plural(open, "alert", "alerts")
        );
        if !a.complete {
            println!("incomplete: cadence alerts are on hold until every account syncs");
            for acc in a
                .accounts
                .iter()
                .filter(|acc| acc.status != crate::alerts::AccountStatus::Ok)
            {
                println!("  {}", acc.missing_text(&ctx.config));
            }
        }
    }
    if !report.delivery.delivered.is_empty() || report.delivery.dropped > 0 {
        println!("alerts: {}", report.delivery.summary());
    }
    if report.ok() {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "the cycle did not fully work: {}",
            report.summary()
        )))
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    crate::cadence::messages::plural(i64::try_from(n).unwrap_or(i64::MAX), one, many)
}
