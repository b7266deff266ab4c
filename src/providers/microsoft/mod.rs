//! Microsoft 365 (Microsoft Graph v1.0) provider.
//!
//! The mapping layer, Graph event JSON → the normalized [`crate::model::Event`] ([`model`]);
//! authorization ([`auth`]: browser with PKCE, device code, refresh with rotation, client
//! credentials); the calendarView delta sync ([`sync`]); and the org chart's direct reports
//! for the roster ([`directory`]); the agenda link in an event ([`write`](mod@write), PATCH with
//! `If-Match`) and agenda documents as Word files in OneDrive ([`onedrive`], [`docx`]). Every
//! Graph URL is built by [`graph`].

pub mod auth;
pub mod directory;
pub mod docx;
pub mod graph;
pub mod model;
pub mod onedrive;
pub mod orgchart;
pub mod sync;
pub mod write;
