//! Providers: each one translates one source's API into the normalized [`crate::model`].
//!
//! Only `ics` exists so far; `google` and `microsoft` slot in beside it.

pub mod http;
pub mod ics;
