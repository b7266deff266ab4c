//! Where the rollup's input comes from: the one seam between org mode and the rollup, shared by
//! `report --org` and the daemon's `/org` (so they always show the same figures).
//!
//! Every manager of the org is analysed at `now` ([`crate::org::analyses_with`]); each one whose
//! analysis is complete becomes one [`ManagerInput`] built from that analysis. A manager whose
//! calendar was not read (an incomplete analysis) is left out of every figure and counted in
//! `managers_left_out`: the rollup never counts a report as "no 1on1" from a calendar it did not
//! read. `min_group` is `[org] min_group`.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{ManagerInput, RollupError, RollupInput};
use crate::config::Config;
use crate::store::Store;

/// The rollup's input at `now`, or [`RollupError::NoOrg`] when the config has no `[org]`
/// section.
pub fn org_rollup_input(
    config: &Config,
    state_dir: &Path,
    store: &mut Store,
    now: DateTime<Utc>,
    freshness: crate::alerts::Freshness,
) -> Result<RollupInput, RollupError> {
    let Some(org) = &config.org else {
        return Err(RollupError::NoOrg);
    };
    let analyses = crate::org::analyses_with(config, state_dir, store, now, freshness)
        .map_err(|e| RollupError::Source(e.to_string()))?;
    let mut managers = Vec::new();
    let mut left_out = 0;
    for m in &analyses {
        if !m.analysed.complete {
            left_out += 1;
            continue;
        }
        let name = m.manager.name.as_deref().unwrap_or(&m.manager.email);
        managers.push(ManagerInput::from_analysis(
            &m.manager.email,
            name,
            m.manager.manager.as_deref(),
            m.manager.org_unit.as_deref(),
            &m.analysed.analysis,
        ));
    }
    Ok(RollupInput {
        now,
        min_group: usize::try_from(org.min_group).unwrap_or(usize::MAX),
        managers,
        managers_left_out: left_out,
    })
}
