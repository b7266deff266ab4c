//! Microsoft 365 (Microsoft Graph v1.0) provider.
//!
//! So far: the mapping layer, Graph event JSON → the normalized [`crate::model::Event`]
//! ([`model`]), and authorization ([`auth`]: device code, refresh with rotation, client
//! credentials), and the calendarView delta sync ([`sync`]).

pub mod auth;
pub mod directory;
pub mod model;
pub mod sync;
