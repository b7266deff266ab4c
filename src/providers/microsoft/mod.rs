//! Microsoft 365 (Microsoft Graph v1.0) provider.
//!
//! Only the pure mapping layer exists so far: Graph event JSON → the normalized
//! [`crate::model::Event`] ([`model`]). HTTP, auth and the delta sync loop come later.

pub mod model;
