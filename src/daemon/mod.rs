//! The daemon: the cycle (sync every account, analyse, then the later stages) and, around it,
//! the long-running service.
//!
//! - [`cycle`]: one whole cycle; `run --once` is exactly one of these.

pub mod cycle;
