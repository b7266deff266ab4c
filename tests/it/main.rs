//! The integration tests, in one binary (linked once): each module drives the real `cadenced`
//! binary against temporary state, loopback fakes of the providers' APIs (`fake_google`,
//! `fake_graph`, sharing `fake_http`), a real SMTP server and webhook receiver (`common`), and a
//! real headless Chromium for the dashboard. Run one area with `cargo test --test it <module>::`.

mod common;
mod ms_env;

mod agenda;
mod agenda_google;
mod agenda_microsoft;
mod alerts_delivery;
mod cadence;
mod caldav;
mod cli;
mod cross_provider;
mod daemon;
mod dashboard;
mod fake_google_selftest;
mod fake_graph_selftest;
mod google_directory;
mod google_sync;
mod ics_events;
mod ics_url;
mod instances;
mod microsoft_auth;
mod microsoft_directory;
mod microsoft_org;
mod microsoft_resilience;
mod microsoft_series;
mod microsoft_sync;
mod org;
mod org_instances;
mod org_rollup;
mod scheduling;
mod store_pg;
