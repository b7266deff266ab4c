//! Test-only kit for cadenced (never shipped): what the integration tests (`tests/it`) and the
//! sync benches (`benches/`) run against, compiled once for all of them.
//!
//! - [`fake_google`], [`fake_graph`]: stateful loopback fakes of Google Calendar/Drive/Docs/Admin
//!   Directory and Microsoft Graph (+ the identity platform), following the documented behaviour
//!   of the real services, faults included (`docs/google-api.md`, `docs/microsoft-graph.md`);
//!   both parse requests through [`fake_http`]. Their sample bodies are the provider modules'
//!   `testdata/` (one copy each).
//! - [`smtp`]: a real SMTP server on loopback; [`webhook`]: a webhook receiver.

pub mod fake_google;
pub mod fake_graph;
pub mod fake_http;
pub mod pg;
pub mod smtp;
pub mod webhook;
