//! `agenda [--dry-run]` and `agenda unlink [--dry-run]` (docs/design.md, Command line, Agenda documents and Writing to calendars).

use std::sync::Arc;

use super::{CliError, Context};
use crate::agenda::{self, AgendaContext};
use crate::store::AsyncStore;

fn context(ctx: &Context) -> Result<AgendaContext, CliError> {
    Ok(AgendaContext {
        config: Arc::new(ctx.config.clone()),
        state_dir: ctx.state_dir.clone(),
        store: AsyncStore::new(ctx.open_store()?),
        client: crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?,
    })
}

/// `agenda`: create and link the agendas that are due; `--dry-run` prints the plan only.
pub fn agenda(ctx: &Context, dry_run: bool) -> Result<(), CliError> {
    if !ctx.config.agenda.enabled {
        println!("agendas are disabled ([agenda] enabled = false)");
        return Ok(());
    }
    let analysed = super::cadence::analyse(ctx)?;
    let cx = context(ctx)?;
    let runtime = super::setup::runtime()?;
    let (plan, outcome) = runtime
        .block_on(agenda::run(&cx, &analysed.analysis, ctx.now, dry_run))
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let lines = agenda::describe(&plan, ctx.config.manager.timezone);
    if dry_run {
        if lines.is_empty() {
            println!(
                "nothing to do ({} session{} due within {})",
                outcome.due_sessions,
                if outcome.due_sessions == 1 { "" } else { "s" },
                ctx.config.agenda.lead_time
            );
        }
        for l in &lines {
            println!("would {l}");
        }
        return Ok(());
    }
    println!(
        "{} session{} due: {} document{} created, {} section{} added, {} link{} written, {} recorded without writing, {} deferred",
        outcome.due_sessions,
        plural(outcome.due_sessions),
        outcome.documents_created,
        plural(outcome.documents_created),
        outcome.sections_added,
        plural(outcome.sections_added),
        outcome.links_written,
        plural(outcome.links_written),
        outcome.links_recorded,
        outcome.links_deferred,
    );
    if outcome.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(outcome.failures.join("; ")))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `agenda unlink`: remove exactly what cadenced added to events (the block and the mark).
pub fn unlink(ctx: &Context, dry_run: bool) -> Result<(), CliError> {
    let cx = context(ctx)?;
    let runtime = super::setup::runtime()?;
    let done = runtime
        .block_on(agenda::unlink(&cx, dry_run, |line| println!("{line}")))
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if !dry_run {
        println!(
            "{} agenda link{} removed",
            done.removed,
            plural(done.removed)
        );
    }
    if done.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(done.failures.join("; ")))
    }
}
