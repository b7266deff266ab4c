//! Providers: each one translates one source's API into the normalized [`crate::model`].
//!
//! `ics` and `google` exist; `microsoft` slots in beside them.

pub mod caldav;
pub mod directory;
pub mod google;
pub mod http;
pub mod ics;
pub mod loopback;
pub mod microsoft;
pub mod oauth;
pub mod oauth_relay;
pub mod quota;
pub mod sink;
pub mod tokens;
