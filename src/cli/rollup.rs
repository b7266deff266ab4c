//! `report --org`: the people-ops rollup across managers (docs/org-rollup.md), as a table, one
//! JSON document, or the HTML page.
//!
//! The data comes from [`crate::rollup::org_rollup_input`] (the daemon's `/org` uses it too):
//! every manager's analysis at `now`. Without `[org]` it is a usage error (exit 2).

use std::path::Path;

use super::cadence::{write_atomically, write_out};
use super::{CliError, Context};
use crate::rollup::RollupError;

fn cli_error(e: RollupError) -> CliError {
    match e {
        RollupError::NoOrg | RollupError::MinGroupTooSmall(_) => CliError::usage(e.to_string()),
        RollupError::Source(_) => CliError::runtime(e.to_string()),
    }
}

/// `report --org [--json] [--html FILE]`.
pub fn report(ctx: &Context, json: bool, html: Option<&Path>) -> Result<(), CliError> {
    let mut store = ctx.open_store()?;
    let input = crate::rollup::org_rollup_input(
        &ctx.config,
        &ctx.state_dir,
        &mut store,
        ctx.now,
        crate::alerts::Freshness::OneShot,
    )
    .map_err(cli_error)?;
    let rollup = crate::rollup::rollup(&input).map_err(cli_error)?;
    if let Some(path) = html {
        let page =
            crate::dashboard::org::render(&rollup).map_err(|e| CliError::runtime(e.to_string()))?;
        write_atomically(path, page.as_bytes()).map_err(|e| {
            CliError::runtime(format!(
                "cannot write the org page to {}: {e}",
                path.display()
            ))
        })?;
        if !json {
            return Ok(());
        }
    }
    if json {
        let text =
            serde_json::to_string_pretty(&rollup).map_err(|e| CliError::runtime(e.to_string()))?;
        return write_out(&format!("{text}\n"));
    }
    write_out(&crate::terminal::escape_text(&crate::rollup::text(&rollup)))
}
