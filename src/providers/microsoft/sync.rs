//! Incremental sync of a Microsoft 365 primary calendar (`calendarView/delta`) into the store.
//!
//! Section references (§) are to `docs/microsoft-graph.md`.
//!
//! - **Rounds** (§2.4): the first round GETs `{graph_base}/{mailbox}/calendarView/delta?
//!   startDateTime=…&endDateTime=…` (now − `sync.past`, now + `sync.future`, UTC) with
//!   `Prefer: outlook.timezone="UTC", odata.maxpagesize=200`, follows `@odata.nextLink` until
//!   `@odata.deltaLink`; later rounds GET the stored delta link as it is (the window is frozen in
//!   it). `mailbox` is `me`, or `users/{user}` for client credentials.
//! - **Crash safety**, as for Google: one transaction per page ([`Store::apply_generation_page`]);
//!   a full round writes a new generation and its last page, with the delta link, sweeps the
//!   others. An incremental round applies its pages and stores the link with the last one.
//! - **Series** (§2.4, §3.3): occurrences come bare and masters are not (reliably) in delta, so
//!   for each occurrence, exception or master item the master is fetched once per round with
//!   `GET {graph_base}/{mailbox}/events/{id}?$select=…,cancelledOccurrences&$expand=
//!   exceptionOccurrences` and mapped with [`map_series`]; master and exceptions are written in
//!   the same page transaction. Bare occurrences are not stored: the master's expansion gives
//!   them. A master answering 404 is deleted (with its overrides).
//! - **Cancelled occurrences** leave an `@removed` entry for an id the store never held (an
//!   occurrence), which is indistinguishable from out-of-window noise (§2.4). So when an
//!   incremental round removes any id the store does not hold, every stored master not fetched
//!   in that round is re-read once, and rewritten when its etag (`@odata.etag`/`changeKey`)
//!   changed. An idle round (no items) costs one request.
//! - **410** or an error code `syncStateNotFound`/`resyncRequired` (any case): the link is
//!   dropped and exactly one full round follows.
//! - Requests go through [`http::send_buffered_with_retry`] (429, 5xx, dropped connections,
//!   `Retry-After`); a 401 refreshes the access token once and repeats the request.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::{AuthError, Authenticator};
use super::model::{EventsPage, Mapped, MsEvent, SeriesInfo, map_event, map_series};
use crate::config::{MicrosoftAccount, MicrosoftAuth};
use crate::model::Event;
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::store::{AsyncStore, GenerationPage, StoreError};

/// Page size asked for with `Prefer: odata.maxpagesize`.
pub const PAGE_SIZE: usize = 200;

/// What the mapping reads of a series master (§3.1, §3.3).
pub const MASTER_SELECT: &str = "id,type,subject,bodyPreview,start,end,isAllDay,\
originalStartTimeZone,originalEndTimeZone,originalStart,recurrence,isCancelled,isOrganizer,\
responseStatus,organizer,attendees,location,changeKey,lastModifiedDateTime,iCalUId,\
seriesMasterId,cancelledOccurrences";

#[derive(Debug, thiserror::Error)]
pub enum MsSyncError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Http(HttpError),
    #[error("Microsoft Graph answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("{0}")]
    Config(String),
    #[error("the delta link is no longer valid")]
    Gone,
    #[error("a Graph answer could not be read: {0}")]
    Decode(String),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// The stored cursor of a Microsoft calendar.
#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    delta_link: String,
}

/// What one calendar's sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarSummary {
    pub full: bool,
    pub pages: usize,
    pub upserts: usize,
    pub deletions: usize,
    pub masters_fetched: usize,
    pub skipped: usize,
}

/// The sync window and the account's settings.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `me`, or `users/{user}` in org mode (as URL path segments).
fn mailbox(ms: &MicrosoftAccount) -> Vec<String> {
    match &ms.auth {
        MicrosoftAuth::Delegated { .. } => vec!["me".to_string()],
        MicrosoftAuth::ClientCredentials { user, .. } => {
            vec!["users".to_string(), user.clone()]
        }
    }
}

fn graph_url(ms: &MicrosoftAccount, tail: &[&str]) -> Result<reqwest::Url, MsSyncError> {
    let mut url = reqwest::Url::parse(&ms.graph_base)
        .map_err(|e| MsSyncError::Config(format!("graph_base: {e}")))?;
    {
        let mut segs = url
            .path_segments_mut()
            .map_err(|()| MsSyncError::Config("graph_base cannot be a base URL".into()))?;
        segs.pop_if_empty();
        segs.extend(mailbox(ms));
        segs.extend(tail);
    }
    Ok(url)
}

/// The initial delta URL of the window.
pub fn initial_delta_url(
    ms: &MicrosoftAccount,
    window: &Window,
) -> Result<reqwest::Url, MsSyncError> {
    let mut url = graph_url(ms, &["calendarView", "delta"])?;
    url.query_pairs_mut()
        .append_pair(
            "startDateTime",
            &window.start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
        .append_pair(
            "endDateTime",
            &window.end.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
    Ok(url)
}

/// Whether a Graph error code means "start a new round" (§2.4).
fn is_resync_code(code: &str) -> bool {
    code.eq_ignore_ascii_case("syncStateNotFound") || code.eq_ignore_ascii_case("resyncRequired")
}

/// `(error.code, error.message)` of a Graph error body.
fn api_error(body: &[u8]) -> (Option<String>, Option<String>) {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Envelope {
        error: Inner,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    let e: Envelope = serde_json::from_slice(body).unwrap_or_default();
    (e.error.code, e.error.message)
}

/// Sync the account's primary calendar. `full` ignores the stored delta link.
#[allow(clippy::too_many_arguments)]
pub async fn sync_calendar(
    store: &AsyncStore,
    client: &Client,
    auth: &Authenticator,
    ms: &MicrosoftAccount,
    account_id: i64,
    calendar: &str,
    window: &Window,
    full: bool,
) -> Result<CalendarSummary, MsSyncError> {
    if calendar != "primary" {
        return Err(MsSyncError::Config(format!(
            "calendar {calendar:?}: only the primary calendar can be synced in this version"
        )));
    }
    let cal = calendar.to_string();
    let (cal_id, cursor) = store
        .call(move |s| {
            let id = s.ensure_calendar(account_id, &cal)?;
            Ok((id, s.cursor(id)?))
        })
        .await?;
    let mut link = if full {
        None
    } else {
        cursor.and_then(|c| {
            serde_json::from_str::<Cursor>(&c)
                .ok()
                .map(|c| c.delta_link)
        })
    };
    let ctx = Ctx {
        store,
        client,
        auth,
        ms,
        calendar,
        cal_id,
    };
    let mut restarted = false;
    loop {
        match run(&ctx, window, link.as_deref()).await {
            Err(MsSyncError::Gone) if !restarted => {
                tracing::info!(calendar, "delta link expired (410); one full resync");
                store.call(move |s| s.clear_cursor(cal_id)).await?;
                link = None;
                restarted = true;
            }
            other => return other,
        }
    }
}

struct Ctx<'a> {
    store: &'a AsyncStore,
    client: &'a Client,
    auth: &'a Authenticator,
    ms: &'a MicrosoftAccount,
    calendar: &'a str,
    cal_id: i64,
}

async fn run(
    ctx: &Ctx<'_>,
    window: &Window,
    delta_link: Option<&str>,
) -> Result<CalendarSummary, MsSyncError> {
    let full = delta_link.is_none();
    let cal_id = ctx.cal_id;
    let calendar = ctx.calendar;
    let next = ctx.store.call(move |s| s.next_generation(cal_id)).await?;
    let generation = if full { next } else { (next - 1).max(1) };
    let mut summary = CalendarSummary {
        full,
        ..CalendarSummary::default()
    };
    // Stored masters (for exceptions' series info and etag comparison).
    let mut masters: HashMap<String, Event> = if full {
        HashMap::new()
    } else {
        ctx.store
            .call(move |s| s.calendar_masters(cal_id))
            .await?
            .into_iter()
            .map(|e| (e.event_id.clone(), e))
            .collect()
    };
    let mut fetched: HashSet<String> = HashSet::new();
    let mut unknown_removed = false;
    let mut url = match delta_link {
        Some(l) => reqwest::Url::parse(l)
            .map_err(|e| MsSyncError::Decode(format!("stored delta link: {e}")))?,
        None => initial_delta_url(ctx.ms, window)?,
    };
    loop {
        let body = get_json(ctx, &url, true)
            .await?
            .ok_or_else(|| MsSyncError::Api {
                status: 404,
                message: "the delta endpoint was not found".into(),
            })?;
        let page: EventsPage =
            serde_json::from_slice(&body).map_err(|e| MsSyncError::Decode(e.to_string()))?;
        summary.pages += 1;
        let mut items = Vec::new();
        for raw in &page.value {
            match serde_json::from_str::<MsEvent>(raw.get()) {
                Ok(item) => items.push(item),
                Err(e) => {
                    summary.skipped += 1;
                    tracing::warn!(calendar, "skipped an item: it could not be read: {e}");
                }
            }
        }
        // Masters this page needs: of occurrences, exceptions, and masters themselves.
        let mut need: Vec<String> = Vec::new();
        for item in &items {
            if item.removed.is_some() {
                continue;
            }
            let kind = item
                .event_type
                .as_deref()
                .unwrap_or("")
                .to_ascii_lowercase();
            let master = match kind.as_str() {
                "seriesmaster" => Some(item.id.trim().to_string()),
                "occurrence" | "exception" => item
                    .series_master_id
                    .as_deref()
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
                _ => None,
            };
            if let Some(m) = master
                && !fetched.contains(&m)
                && !need.contains(&m)
            {
                need.push(m);
            }
        }
        let mut upserts: Vec<Event> = Vec::new();
        let mut deletes: Vec<String> = Vec::new();
        for m in need {
            fetch_master(ctx, &m, &mut upserts, &mut deletes, &mut masters, None).await?;
            fetched.insert(m);
            summary.masters_fetched += 1;
        }
        let removed: Vec<String> = items
            .iter()
            .filter(|i| i.removed.is_some())
            .map(|i| i.id.trim().to_string())
            .collect();
        if !full && !removed.is_empty() {
            let known = ctx
                .store
                .call(move |s| s.known_event_ids(cal_id, &removed))
                .await?;
            unknown_removed |= items
                .iter()
                .filter(|i| i.removed.is_some())
                .any(|i| !known.contains(i.id.trim()));
        }
        for item in &items {
            let mut warn = |m: String| tracing::warn!(calendar, "{m}");
            let lookup = |id: &str| masters.get(id).and_then(SeriesInfo::of);
            match map_event(item, calendar, &lookup, &mut warn) {
                // Masters were written from their full fetch above.
                Ok(Mapped::Upsert(e)) if e.is_master() => {}
                Ok(Mapped::Upsert(e)) => upserts.push(*e),
                Ok(Mapped::Delete(id)) => deletes.push(id),
                Ok(Mapped::BareOccurrence { .. } | Mapped::IncompleteMaster(_)) => {}
                Err(reason) => {
                    summary.skipped += 1;
                    tracing::warn!(calendar, "skipped an item: {reason}");
                }
            }
        }
        let last = page.next_link.is_none();
        if last && !full && unknown_removed {
            // A cancelled occurrence shows only as an unknown removed id: re-read the masters.
            let ids: Vec<(String, Option<String>)> = masters
                .iter()
                .filter(|(id, _)| !fetched.contains(*id))
                .map(|(id, e)| (id.clone(), e.etag.clone()))
                .collect();
            for (id, etag) in ids {
                fetch_master(
                    ctx,
                    &id,
                    &mut upserts,
                    &mut deletes,
                    &mut masters,
                    Some(etag),
                )
                .await?;
                fetched.insert(id);
                summary.masters_fetched += 1;
            }
        }
        if last && page.delta_link.is_none() {
            tracing::warn!(
                calendar,
                "the last page carried no deltaLink; the next sync will be a full one"
            );
        }
        let cursor = if last {
            page.delta_link.as_ref().and_then(|l| {
                serde_json::to_string(&Cursor {
                    delta_link: l.clone(),
                })
                .ok()
            })
        } else {
            None
        };
        summary.upserts += upserts.len();
        summary.deletions += deletes.len();
        ctx.store
            .call(move |s| {
                s.apply_generation_page(
                    cal_id,
                    &GenerationPage {
                        upserts: &upserts,
                        deleted_ids: &deletes,
                        generation,
                        sweep: last && full,
                        cursor: cursor.as_deref(),
                    },
                )
            })
            .await?;
        match page.next_link {
            Some(next) => {
                url = reqwest::Url::parse(&next)
                    .map_err(|e| MsSyncError::Decode(format!("@odata.nextLink: {e}")))?;
            }
            None => return Ok(summary),
        }
    }
}

/// Fetch one master with its cancelled and exception occurrences, and queue what to write. With
/// `only_if_changed`, nothing is queued when the etag is the stored one. 404 → delete it.
async fn fetch_master(
    ctx: &Ctx<'_>,
    id: &str,
    upserts: &mut Vec<Event>,
    deletes: &mut Vec<String>,
    masters: &mut HashMap<String, Event>,
    only_if_changed: Option<Option<String>>,
) -> Result<(), MsSyncError> {
    let mut url = graph_url(ctx.ms, &["events", id])?;
    url.query_pairs_mut()
        .append_pair("$select", MASTER_SELECT)
        .append_pair("$expand", "exceptionOccurrences");
    let Some(body) = get_json(ctx, &url, false).await? else {
        tracing::info!(calendar = ctx.calendar, id, "series master gone; removed");
        deletes.push(id.to_string());
        masters.remove(id);
        return Ok(());
    };
    let item: MsEvent = serde_json::from_slice(&body)
        .map_err(|e| MsSyncError::Decode(format!("series master {id}: {e}")))?;
    let calendar = ctx.calendar;
    let mut warn = |m: String| tracing::warn!(calendar, "{m}");
    let mapped = match map_series(&item, calendar, &mut warn) {
        Ok(m) => m,
        Err(reason) => {
            tracing::warn!(calendar, "skipped series master {id}: {reason}");
            return Ok(());
        }
    };
    let mut master_event = None;
    let mut out = Vec::new();
    for m in mapped {
        match m {
            Mapped::Upsert(e) if e.event_id == id && e.is_master() => master_event = Some(*e),
            Mapped::Upsert(e) => out.push(*e),
            Mapped::Delete(d) => deletes.push(d),
            other => tracing::debug!(calendar, "series {id}: ignored {other:?}"),
        }
    }
    let Some(master) = master_event else {
        tracing::warn!(
            calendar,
            "series master {id} could not be mapped as a master"
        );
        return Ok(());
    };
    if let Some(stored) = only_if_changed
        && stored.is_some()
        && stored == master.etag
    {
        return Ok(());
    }
    masters.insert(id.to_string(), master.clone());
    upserts.push(master);
    upserts.extend(out);
    Ok(())
}

/// One Graph GET: retries inside, one token refresh on 401. `Ok(None)` on 404.
async fn get_json(
    ctx: &Ctx<'_>,
    url: &reqwest::Url,
    delta: bool,
) -> Result<Option<Vec<u8>>, MsSyncError> {
    let prefer = if delta {
        format!("outlook.timezone=\"UTC\", odata.maxpagesize={PAGE_SIZE}")
    } else {
        "outlook.timezone=\"UTC\"".to_string()
    };
    let mut access = ctx.auth.access_token().await?;
    let mut refreshed = false;
    loop {
        let resp = http::send_buffered_with_retry(
            url.as_str(),
            RetryPolicy::default(),
            || {
                ctx.client
                    .get(url.clone())
                    .bearer_auth(&access)
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header("Prefer", prefer.as_str())
            },
            |status, _| http::is_retryable(status),
        )
        .await
        .map_err(MsSyncError::Http)?;
        let (code, message) = if resp.status.is_success() {
            (None, None)
        } else {
            api_error(&resp.body)
        };
        match resp.status {
            s if s.is_success() => return Ok(Some(resp.body)),
            StatusCode::UNAUTHORIZED if !refreshed => {
                refreshed = true;
                access = ctx.auth.refresh().await?;
            }
            StatusCode::GONE if delta => return Err(MsSyncError::Gone),
            _ if delta && code.as_deref().is_some_and(is_resync_code) => {
                return Err(MsSyncError::Gone);
            }
            StatusCode::NOT_FOUND if !delta => return Ok(None),
            s => {
                let message = match (message, code) {
                    (Some(m), Some(c)) => format!("{m} ({c})"),
                    (Some(m), None) => m,
                    (None, Some(c)) => c,
                    (None, None) => s.canonical_reason().unwrap_or("error").to_string(),
                };
                return Err(MsSyncError::Api {
                    status: s.as_u16(),
                    message,
                });
            }
        }
    }
}
