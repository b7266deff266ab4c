//! Where the rollup's input comes from: the one seam between org mode and the rollup, shared by
//! `report --org` and the daemon's `/org` (so they always show the same figures).
//!
//! NOT WIRED YET: org mode (`[org]`: every manager, directory-derived rosters, one analysis per
//! manager) is not in this version, so there is no source of many managers and this function
//! always answers [`RollupError::NoOrg`]. Org mode fills it in: one [`RollupInput`] whose
//! managers are built with [`ManagerInput::from_analysis`](super::ManagerInput::from_analysis)
//! from each manager's analysis, `min_group` from `[org] min_group` (default
//! [`DEFAULT_MIN_GROUP`](super::DEFAULT_MIN_GROUP)).

use chrono::{DateTime, Utc};

use super::{RollupError, RollupInput};
use crate::config::Config;
use crate::store::Store;

/// The rollup's input at `now`, or [`RollupError::NoOrg`] when the config has no `[org]`
/// section (today: always, see the module's note).
pub fn org_rollup_input(
    config: &Config,
    store: &Store,
    now: DateTime<Utc>,
) -> Result<RollupInput, RollupError> {
    // Org mode reads its managers, their org units and their analyses from here.
    let _ = (config, store, now);
    Err(RollupError::NoOrg)
}
