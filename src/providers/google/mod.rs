//! Google Calendar (`provider = "google"`): OAuth tokens, incremental sync, and the mapping of
//! Calendar v3 events into the normalized model.
//!
//! - [`auth`]: the token file, refresh, the service-account grant, `cadenced auth` flows.
//! - [`model`]: Event JSON → [`crate::model::Event`] (pure; unit-tested on real samples).
//! - [`sync`]: events.list with sync tokens, one transaction per page, crash-safe full syncs.
//! - [`write`](mod@write): the agenda link in an event (events.patch with `If-Match`).
//! - [`drive`]: agenda documents as Google Docs in the manager's Drive.

pub mod auth;
pub mod directory;
pub mod drive;
pub mod model;
pub mod orgchart;
pub mod sync;
#[cfg(test)]
pub(crate) mod testserver;
pub mod write;
