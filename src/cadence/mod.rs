//! Cadence: from the stored events, find each report's 1on1s and say how the cadence stands
//! (docs/cadence-rules.md). Nothing here knows which provider an event came from.
//!
//! - [`detect`]: who is in a meeting, and whether it is a report's 1on1, a candidate, or neither.
//! - [`analyse`](mod@analyse): sessions and outcomes, the report's figures, the expected interval, findings.
//! - [`messages`]: severities and the alert sentences in English and Japanese.
//! - [`days`]: the one day-count rule of every text a person reads.
//!
//! The analysis is a pure function of the config, the stored events and `now`; alert ids and
//! their lifecycle (acknowledged, snoozed, resolved) live in the store.

pub mod analyse;
pub mod days;
pub mod detect;
pub mod messages;

pub use analyse::{
    AlertKind, Analysis, CadenceSource, Finding, Outcome, ReportFigures, Session, analyse,
};
pub use detect::Detector;
