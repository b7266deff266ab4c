//! Google Calendar (`provider = "google"`): OAuth tokens, incremental sync, and the mapping of
//! Calendar v3 events into the normalized model.
//!
//! - [`model`]: Event JSON → [`crate::model::Event`] (pure; unit-tested on real samples).

pub mod model;
