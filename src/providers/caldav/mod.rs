//! CalDAV (`provider = "caldav"`): Fastmail, iCloud, Nextcloud, Radicale and other RFC 4791
//! servers, read incrementally with RFC 6578 sync-collection.
//!
//! - [`xml`]: request bodies and the namespace-aware reading of multistatus answers (quick-xml).
//! - [`dav`]: one request with HTTP Basic, retries with backoff, same-origin redirects, 401.
//! - [`discover`]: `/.well-known/caldav` → principal → calendar home(s) → calendars.
//! - [`model`]: answers → changed/removed members and each resource's events (through the .ics
//!   parser); pure, no store.
//! - [`sync`]: one calendar's pass (sync-collection or the ctag fallback, batched multiget, one
//!   transaction per batch, the token with the last one).
//! - [`write`](mod@write): the agenda link in an event's resource (`PUT` with `If-Match`, only DESCRIPTION
//!   lines changed).
//!
//! Discovery costs several requests, so its result is kept in each calendar's cursor and redone
//! only on `sync --full`, when the account's `url`, `username` or `calendars` change, when a
//! calendar disappears (404), or once a day (new calendars): an idle poll stays one request per
//! calendar.

pub mod dav;
pub mod discover;
pub mod model;
pub mod sync;
pub mod write;
pub mod xml;

use chrono::{DateTime, Duration, Utc};
use reqwest::Url;

use crate::config::{CaldavAccount, MissingEnv};
use crate::providers::sink::{CalendarSink, ResourceBatch, SinkError};
use dav::Dav;
use discover::{Calendar, DiscoverError};
use sync::Cursor;

/// How long a discovery is trusted before the calendar list is read again.
pub const REDISCOVER_AFTER: Duration = Duration::days(1);

#[derive(Debug, thiserror::Error)]
pub enum CaldavError {
    #[error("password_env: {0}")]
    Password(#[from] MissingEnv),
    #[error("url: {0}")]
    Url(String),
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    #[error("{0}")]
    Discover(#[from] DiscoverError),
    #[error("{0}")]
    Store(#[from] SinkError),
    #[error(
        "the server refused the credentials earlier; fix username or password_env, then run `cadenced auth {account}`"
    )]
    NeedsAuth { account: String },
}

impl CaldavError {
    /// The server refused the credentials.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            CaldavError::Discover(DiscoverError::Dav(dav::DavError::Unauthorized { .. }))
        )
    }
}

/// A session for `account`: the shared HTTP settings without automatic redirects, and the
/// password from its environment variable.
pub fn session(account: &str, acc: &CaldavAccount) -> Result<(Dav, Url), CaldavError> {
    let password = acc.password.resolve_from_env()?;
    let url = Url::parse(acc.url.expose()).map_err(|e| CaldavError::Url(e.to_string()))?;
    let client = crate::providers::http::client_manual_redirects()
        .map_err(|e| CaldavError::Client(e.to_string()))?;
    Ok((Dav::new(client, account, &acc.username, password), url))
}

/// The account settings a discovery depends on (stored in each cursor).
pub fn source_key(acc: &CaldavAccount) -> String {
    format!(
        "{}\n{}\n{}",
        acc.url.expose(),
        acc.username,
        acc.calendars.join("\n")
    )
}

/// The calendars to sync and their cursors: the stored ones when they are recent and were found
/// with the same settings, else a new discovery (whose cursors keep the tokens of calendars
/// already known at the same address). Also returns the configured `calendars` entries that
/// matched nothing.
pub async fn calendars(
    sink: &impl CalendarSink,
    dav: &Dav,
    start: &Url,
    acc: &CaldavAccount,
    full: bool,
    now: DateTime<Utc>,
) -> Result<(Vec<(i64, Cursor)>, Vec<String>), CaldavError> {
    let source = source_key(acc);
    let stored = sink.calendars().await?;
    let parsed: Vec<(i64, String, Option<Cursor>)> = stored
        .into_iter()
        .map(|(id, name, c)| (id, name, c.and_then(|c| serde_json::from_str(&c).ok())))
        .collect();
    let fresh = !parsed.is_empty()
        && parsed.iter().all(|(_, _, c)| {
            c.as_ref()
                .is_some_and(|c| c.source == source && now - c.discovered_at < REDISCOVER_AFTER)
        });
    if fresh && !full {
        return Ok((
            parsed
                .into_iter()
                .filter_map(|(id, _, c)| c.map(|c| (id, c)))
                .collect(),
            Vec::new(),
        ));
    }
    let found = discover::discover(dav, start).await?;
    let (chosen, missing) = discover::select(&found, &acc.calendars);
    let mut out = Vec::with_capacity(chosen.len());
    let keep: Vec<String> = chosen.iter().map(|c| c.path.clone()).collect();
    sink.retain_calendars(keep).await?;
    for cal in chosen {
        let previous = parsed
            .iter()
            .find(|(_, name, _)| *name == cal.path)
            .and_then(|(_, _, c)| c.clone())
            .filter(|c| c.url == cal.url.as_str() && c.sync_collection == cal.sync_collection);
        let cursor = new_cursor(&cal, previous.as_ref(), &source, now);
        // Strings, a bool and a time: serializing cannot fail.
        let json = serde_json::to_string(&cursor).unwrap_or_default();
        let (id, _) = sink.open(&cal.path).await?;
        sink.apply_resources(
            id,
            ResourceBatch {
                cursor: Some(json),
                ..ResourceBatch::default()
            },
        )
        .await?;
        out.push((id, cursor));
    }
    Ok((out, missing))
}

fn new_cursor(
    cal: &Calendar,
    previous: Option<&Cursor>,
    source: &str,
    now: DateTime<Utc>,
) -> Cursor {
    Cursor {
        url: cal.url.to_string(),
        name: cal.name.clone(),
        sync_collection: cal.sync_collection,
        token: previous.and_then(|p| p.token.clone()),
        ctag: previous.and_then(|p| p.ctag.clone()),
        source: source.to_string(),
        discovered_at: now,
    }
}
