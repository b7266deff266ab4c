//! The daemon: the cycle (sync every account, analyse, then the later stages) and, around it,
//! the long-running service.
//!
//! - [`cycle`]: one whole cycle; `run --once` is exactly one of these, and the stages after the
//!   syncs ([`cycle::after_sync`]) are the ones the daemon runs after each sync that changed
//!   something.
//! - [`service`]: `cadenced run`: account tasks, the analyser, signals, readiness, shutdown.
//! - [`schedule`]: when an account syncs next (interval, jitter, backoff).
//! - [`health`]: the `/healthz` verdict.
//! - [`server`]: the HTTP listener (`/healthz`, `/metrics`, `/api/report`, access control).
//! - [`lock`]: the single-instance lock on the state directory.
//! - [`leases`]: several instances sharing one store: lease rounds and the leased schedule.
//! - the OAuth redirect relay for `auth` beside a running daemon lives in
//!   [`crate::providers::oauth_relay`]; the listener serves its callback.
//! - [`mod@unit`]: the systemd unit and LaunchAgent plist of `service install`.

pub mod cycle;
pub mod health;
pub mod leases;
pub mod lock;
pub mod schedule;
pub mod server;
pub mod service;
pub mod unit;
