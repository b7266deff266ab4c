//! cadenced: a calendar daemon for people managers.
//!
//! The crate follows the pipeline of docs/design.md, Pipeline; each stage is one module. The
//! library exports only what the binary, the integration tests and the benches use; the other
//! modules (shown without a link) are crate-private:
//!
//! - [`config`]: the TOML configuration, validated with key paths.
//! - [`model`]: the normalized event model shared by every provider.
//! - [`tz`]: time zones: IANA, Windows names, and iCalendar VTIMEZONE definitions.
//! - [`providers`]: translate each source (iCalendar feeds, later Google and Microsoft) into the model.
//! - [`store`]: the state, in SQLite or PostgreSQL (accounts, calendars, events, sync cursors).
//! - [`statefs`]: the state directory's ownership and mode; every state file opened without
//!   following links.
//! - `sync`: one sync pass over the configured accounts into the store.
//! - [`recurrence`]: expansion of stored series into occurrences for a window.
//! - `cadence`: 1on1 detection, cadence figures and alert findings.
//! - [`alerts`]: findings matched to their stored lifecycle (ids, ack, snooze).
//! - `agenda`: agenda documents before each 1on1, linked into the invites (docs/design.md, Agenda documents and Writing to calendars).
//! - `report`: the `report --json` document shared by the CLI and the dashboard.
//! - `rollup`: the people-ops rollup across managers (`report --org`, `/org`), aggregates only.
//! - [`dashboard`]: the HTML page (heatmap, figures, alerts, sync state) of `report --html` and `/`.
//! - [`org`]: org mode: one single-manager config per manager of the directory.
//! - [`output`]: the machine-readable output formats (`events --json`).
//! - [`daemon`]: the cycle (sync, analyse, act) and the service around it.
//! - `limits`: the fixed limits that bound the work per feed, event and HTTP exchange.
//! - `metrics`: the process metrics served at `/metrics`.
//! - `terminal`: control characters made visible in every human-facing output.
//! - [`cli`]: the command line; turns every error into one sentence and an exit code.

pub(crate) mod agenda;
pub mod alerts;
pub(crate) mod cadence;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod dashboard;
pub(crate) mod limits;
pub(crate) mod makeup;
pub(crate) mod metrics;
pub mod model;
pub mod org;
pub mod output;
pub mod providers;
pub mod recurrence;
pub(crate) mod report;
pub(crate) mod rollup;
pub(crate) mod rrule;
pub mod scheduling;
pub mod statefs;
pub mod store;
pub(crate) mod sync;
pub(crate) mod terminal;
pub mod tz;
