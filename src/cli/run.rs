//! `run`: the daemon, or with `--once` one whole cycle.

use std::sync::Arc;

use super::{CliError, Context};
use crate::daemon::cycle::{self, CycleContext};
use crate::store::AsyncStore;

/// `run --once`: one cycle; exit 1 when any stage failed (the others still ran).
pub fn run_once(ctx: &Context) -> Result<(), CliError> {
    let store = AsyncStore::new(ctx.open_store()?);
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let cycle_ctx = CycleContext {
        config: Arc::new(ctx.config.clone()),
        state_dir: ctx.state_dir.clone(),
        store,
        client,
    };
    let runtime = super::setup::runtime()?;
    let report = runtime.block_on(cycle::run_cycle(&cycle_ctx, ctx.now));
    for a in &report.accounts {
        match &a.result {
            Ok(s) if s.unchanged => println!("{}: unchanged ({} events)", a.account, s.events),
            Ok(s) => println!("{}: {} events stored", a.account, s.events),
            Err(e) => eprintln!("cadenced: {e}"),
        }
    }
    if let Ok(a) = &report.analysis {
        let open = cycle::open_alert_count(a, ctx.now);
        println!(
            "{} reports analysed, {open} open alert{} (see `cadenced alerts`)",
            a.analysis.reports.len(),
            if open == 1 { "" } else { "s" }
        );
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
