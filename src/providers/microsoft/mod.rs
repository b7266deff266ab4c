//! Microsoft 365 (Microsoft Graph v1.0) provider.
//!
//! The mapping layer, Graph event JSON → the normalized [`crate::model::Event`] ([`model`]);
//! authorization ([`auth`]: browser with PKCE, device code, refresh with rotation, client
//! credentials); the calendarView delta sync ([`sync`]); and the org chart's direct reports
//! for the roster ([`directory`]).

pub mod auth;
pub mod directory;
pub mod model;
pub mod orgchart;
pub mod sync;
