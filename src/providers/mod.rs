//! Providers: each one translates one source's API into the normalized [`crate::model`], and
//! writes only through the seams beside them: [`sink`] (a sync into the store), [`write`](mod@write)
//! (agenda links into events) and [`documents`] (agenda documents in the cloud).

pub mod block;
pub mod caldav;
pub mod directory;
pub mod documents;
pub mod google;
pub mod http;
pub mod ics;
pub mod loopback;
pub mod microsoft;
pub mod oauth;
pub mod oauth_relay;
pub mod orgchart;
pub mod quota;
pub mod sink;
pub mod tokens;
pub mod write;
