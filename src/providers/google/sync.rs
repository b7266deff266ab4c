//! Incremental sync of Google calendars into the store (`events.list` with sync tokens).
//!
//! Per configured calendar: `GET {api_base}/calendar/v3/calendars/{id}/events?singleEvents=false
//! &showDeleted=true&maxResults=2500&fields=…`, then the same with `syncToken=` on later runs (no
//! other filter is ever sent, so the two requests stay "the same other parameters"). Pages are
//! followed through `nextPageToken`; `nextSyncToken` comes with the last page only.
//!
//! Crash safety (docs/design.md, Reliability), one transaction per page:
//! - A **full** sync (no token, `--full`, or after a 410) takes a fresh generation number for the
//!   calendar and writes every page's rows with it. Its **last** page, in the same transaction as
//!   the new sync token, deletes the calendar's rows of any other generation. A full sync that
//!   dies mid-way stored no token, so the next run simply starts a new full sync (a new
//!   generation) and its last page sweeps whatever the interrupted one or the past left: the
//!   store ends equal to the server, without duplicates (rows are keyed by event id) or stale
//!   leftovers. Resuming from a saved page token was not chosen: page tokens are not documented
//!   to survive, and a restart is always correct.
//! - An **incremental** sync applies each page (upserts and deletions are idempotent) and stores
//!   the new token with its last page; a crash in between repeats the same changes next time.
//! - **410** (`fullSyncRequired`): the token is dropped and exactly one full sync follows.
//! - A full sync whose last page has no `nextSyncToken` (Google always sends one there; a `200
//!   {}` is no answer) is an error before that page is applied, so nothing is swept. A listing
//!   longer than `limits::MAX_PAGES` pages is stopped with an error (no token stored).
//!
//! Requests go through [`http::send_buffered_with_retry`] with [`google_retryable`] (429, 5xx,
//! 403 `rateLimitExceeded`/`userRateLimitExceeded`, dropped connections; `Retry-After` honoured;
//! bounded total time). A 401 refreshes the access token once and repeats the request. Other
//! errors carry Google's `error.message`. With a valid cached access token, an idle poll is one
//! request per calendar. A failing calendar is reported and the others still sync.

use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::{AuthError, Authenticator};
use super::model::{EventsPage, GEvent, Mapped, map_event, map_item};
use crate::config::GoogleAccount;
use crate::limits::{MAX_PAGES, WarningCap};
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::sink::{CalendarId, CalendarSink, PageWrite, SinkError};

/// The partial-response selector: what the mapping reads, and the page tokens.
pub const FIELDS: &str = "nextPageToken,nextSyncToken,items(id,status,iCalUID,etag,summary,\
description,location,sequence,updated,start,end,recurrence,recurringEventId,originalStartTime,\
organizer,attendees,eventType)";

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Http(HttpError),
    #[error("Google answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Config(String),
    #[error("the sync token is no longer valid")]
    Gone,
    #[error("an events page could not be read: {0}")]
    Decode(String),
    #[error(
        "Google answered more than {limit} pages for one listing; stopped (see docs/limits.md), \
         no sync token stored"
    )]
    TooManyPages { limit: usize },
    #[error(
        "Google's last page of a full sync carried no nextSyncToken (an empty or shapeless \
         answer); the stored calendar is kept"
    )]
    Shapeless,
    #[error("{0}")]
    Store(#[from] SinkError),
}

/// The stored cursor of a Google calendar.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    sync_token: String,
}

/// What one calendar's sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarSummary {
    pub full: bool,
    pub pages: usize,
    pub upserts: usize,
    pub deletions: usize,
    pub skipped: usize,
}

/// Whether a Calendar API answer is worth retrying: 429, 5xx, and 403 with reason
/// `rateLimitExceeded` or `userRateLimitExceeded` (not `quotaExceeded`, not permission errors).
pub fn google_retryable(status: StatusCode, body: &[u8]) -> bool {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        return true;
    }
    status == StatusCode::FORBIDDEN
        && matches!(
            api_error(body).1.as_deref(),
            Some("rateLimitExceeded" | "userRateLimitExceeded")
        )
}

/// `(error.message, error.errors[0].reason)` of a Google error body.
pub(crate) fn api_error(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Inner {
        message: Option<String>,
        errors: Vec<Item>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Item {
        reason: Option<String>,
    }
    let e: Envelope = serde_json::from_slice(body).unwrap_or_default();
    let reason = e.error.errors.into_iter().find_map(|i| i.reason);
    (e.error.message, reason)
}

/// The events.list URL of a calendar (the id is one percent-encoded path segment).
pub fn events_url(api_base: &str, calendar: &str) -> Result<reqwest::Url, String> {
    let mut url = reqwest::Url::parse(api_base).map_err(|e| format!("api_base: {e}"))?;
    url.path_segments_mut()
        .map_err(|()| "api_base cannot be a base URL".to_string())?
        .pop_if_empty()
        .extend(["calendar", "v3", "calendars", calendar, "events"]);
    Ok(url)
}

/// Sync one calendar. `full` ignores the stored token.
pub async fn sync_calendar(
    sink: &impl CalendarSink,
    client: &Client,
    auth: &Authenticator,
    google: &GoogleAccount,
    calendar: &str,
    full: bool,
) -> Result<CalendarSummary, CalendarError> {
    let (cal_id, cursor) = sink.open(calendar).await?;
    let mut token = if full {
        None
    } else {
        cursor.and_then(|c| {
            serde_json::from_str::<Cursor>(&c)
                .ok()
                .map(|c| c.sync_token)
        })
    };
    let url = events_url(&google.api_base, calendar).map_err(CalendarError::Config)?;
    let mut restarted = false;
    loop {
        match run(sink, client, auth, &url, calendar, cal_id, token.as_deref()).await {
            Err(CalendarError::Gone) if token.is_some() && !restarted => {
                tracing::info!(calendar, "sync token expired (410); one full resync");
                sink.clear_cursor(cal_id).await?;
                token = None;
                restarted = true;
            }
            other => return other,
        }
    }
}

async fn run(
    sink: &impl CalendarSink,
    client: &Client,
    auth: &Authenticator,
    url: &reqwest::Url,
    calendar: &str,
    cal_id: CalendarId,
    sync_token: Option<&str>,
) -> Result<CalendarSummary, CalendarError> {
    let full = sync_token.is_none();
    let next = sink.next_generation(cal_id).await?;
    // A full sync writes a new generation; an incremental one keeps the current one.
    let generation = if full { next } else { (next - 1).max(1) };
    let mut summary = CalendarSummary {
        full,
        ..CalendarSummary::default()
    };
    let mut page_token: Option<String> = None;
    let warnings = WarningCap::default();
    loop {
        if summary.pages >= MAX_PAGES {
            return Err(CalendarError::TooManyPages { limit: MAX_PAGES });
        }
        let page = fetch_page(client, auth, url, sync_token, page_token.as_deref()).await?;
        summary.pages += 1;
        let last = page.next_page_token.is_none();
        if full && last && page.next_sync_token.is_none() {
            // A full sync's last page sweeps every row it did not write: an answer without the
            // token that ends a listing (`200 {}`) must not empty the calendar.
            return Err(CalendarError::Shapeless);
        }
        let mut upserts = Vec::with_capacity(page.len());
        let mut deletes = Vec::new();
        page.map_items(calendar, &warnings, |result| match result {
            Ok(Mapped::Upsert(e)) => upserts.push(*e),
            Ok(Mapped::Delete(id)) => deletes.push(id),
            Ok(Mapped::Ignored { id, event_type }) => {
                tracing::debug!(calendar, id, event_type, "not stored (not a meeting type)");
                deletes.push(id);
            }
            Err(reason) => {
                summary.skipped += 1;
                if warnings.allow() {
                    tracing::warn!(calendar, "skipped an item: {reason}");
                }
            }
        });
        if last && page.next_sync_token.is_none() {
            tracing::warn!(
                calendar,
                "the last page carried no nextSyncToken; the next sync will be a full one"
            );
        }
        let cursor = if last {
            page.next_sync_token.as_ref().and_then(|t| {
                serde_json::to_string(&Cursor {
                    sync_token: t.clone(),
                })
                .ok()
            })
        } else {
            None
        };
        summary.upserts += upserts.len();
        summary.deletions += deletes.len();
        sink.apply_page(
            cal_id,
            PageWrite {
                upserts,
                deleted_ids: deletes,
                generation,
                sweep: last && full,
                cursor,
            },
        )
        .await?;
        match page.next_page_token {
            Some(t) => page_token = Some(t),
            None => {
                if let Some(line) = warnings.summary() {
                    tracing::warn!(calendar, "{line}");
                }
                return Ok(summary);
            }
        }
    }
}

/// The items of a page: decoded with the page (the common case), or kept raw when some item of
/// the page did not decode (each raw item is then decoded on its own, and only the bad ones are
/// skipped).
enum Items {
    Typed(Vec<GEvent>),
    Raw(Vec<Box<serde_json::value::RawValue>>),
}

/// A decoded events.list page.
struct Page {
    items: Items,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

impl Page {
    fn len(&self) -> usize {
        match &self.items {
            Items::Typed(v) => v.len(),
            Items::Raw(v) => v.len(),
        }
    }

    /// Maps every item, in page order ([`map_event`] / [`map_item`]); warnings are logged
    /// (within `cap`).
    fn map_items(
        &self,
        calendar: &str,
        cap: &WarningCap,
        mut f: impl FnMut(Result<Mapped, String>),
    ) {
        let mut warn = |m: String| {
            if cap.allow() {
                tracing::warn!(calendar, "{m}");
            }
        };
        match &self.items {
            Items::Typed(v) => v.iter().for_each(|e| f(map_event(e, calendar, &mut warn))),
            Items::Raw(v) => v.iter().for_each(|r| f(map_item(r, calendar, &mut warn))),
        }
    }
}

/// The page with its items decoded in the same pass (no raw copy of each item, no second scan).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct TypedPage {
    items: Vec<GEvent>,
    next_page_token: Option<String>,
    next_sync_token: Option<String>,
}

/// Decodes a page in one pass; if any item does not decode, falls back to [`EventsPage`] (raw
/// items, decoded one by one by [`map_item`]) so that one malformed item never spoils its page.
fn decode_page(body: &[u8]) -> Result<Page, CalendarError> {
    if let Ok(p) = serde_json::from_slice::<TypedPage>(body) {
        return Ok(Page {
            items: Items::Typed(p.items),
            next_page_token: p.next_page_token,
            next_sync_token: p.next_sync_token,
        });
    }
    let p: EventsPage =
        serde_json::from_slice(body).map_err(|e| CalendarError::Decode(e.to_string()))?;
    Ok(Page {
        items: Items::Raw(p.items),
        next_page_token: p.next_page_token,
        next_sync_token: p.next_sync_token,
    })
}

/// One events.list request: retries inside, one token refresh on 401.
async fn fetch_page(
    client: &Client,
    auth: &Authenticator,
    url: &reqwest::Url,
    sync_token: Option<&str>,
    page_token: Option<&str>,
) -> Result<Page, CalendarError> {
    let mut query: Vec<(&str, &str)> = vec![
        ("singleEvents", "false"),
        ("showDeleted", "true"),
        ("maxResults", "2500"),
        ("fields", FIELDS),
    ];
    if let Some(t) = sync_token {
        query.push(("syncToken", t));
    }
    if let Some(t) = page_token {
        query.push(("pageToken", t));
    }
    let mut access = auth.access_token().await?;
    let mut refreshed = false;
    loop {
        let resp = http::send_buffered_with_retry(
            url.as_str(),
            RetryPolicy::default(),
            || {
                client
                    .get(url.clone())
                    .query(&query)
                    .bearer_auth(&access)
                    .header(reqwest::header::ACCEPT, "application/json")
            },
            google_retryable,
        )
        .await
        .map_err(CalendarError::Http)?;
        match resp.status {
            s if s.is_success() => {
                return decode_page(&resp.body);
            }
            StatusCode::UNAUTHORIZED if !refreshed => {
                refreshed = true;
                access = auth.refresh().await?;
            }
            StatusCode::GONE => return Err(CalendarError::Gone),
            s => {
                let (message, reason) = api_error(&resp.body);
                let message = match (message, reason) {
                    (Some(m), Some(r)) => format!("{m} ({r})"),
                    (Some(m), None) => m,
                    (None, _) => s.canonical_reason().unwrap_or("error").to_string(),
                };
                return Err(CalendarError::Api {
                    status: s.as_u16(),
                    message,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
