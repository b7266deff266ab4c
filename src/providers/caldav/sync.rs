//! Incremental sync of one CalDAV calendar into the store.
//!
//! With RFC 6578 (the usual case):
//! - `REPORT sync-collection` with the stored token (empty on a first or full sync), `Depth: 0`,
//!   `sync-level` 1 and `getetag` only. With nothing changed, the same token comes back with no
//!   member: an idle poll is this one request, and writes nothing.
//! - Changed members whose entity tag differs from the stored one are fetched with
//!   `calendar-multiget` in batches of [`MULTIGET_BATCH`] (an href missing from the answer is
//!   fetched alone with GET); removed members are deleted.
//! - Each batch commits in one transaction; the last one also carries the removals, the sweep of
//!   a full listing (stored hrefs the listing did not name) and the new token. A pass that dies
//!   mid-way stored no token: the next one asks again with the old token and skips the
//!   resources already stored with the same entity tag, so nothing is lost or duplicated.
//! - An answer stating the `DAV:valid-sync-token` precondition (403 on Radicale, sabre/dav,
//!   Cyrus, CalendarServer; 412 on Xandikos; 409 elsewhere) drops the token: exactly one full
//!   listing follows, and its sweep removes what was deleted meanwhile.
//! - A 507 on the collection (a truncated answer) is followed by another request with the new
//!   token; a full listing stores no token before its last round, so its sweep is never lost.
//!
//! Without sync-collection: a `Depth: 0` PROPFIND of `getctag` (one request when unchanged),
//! then a `Depth: 1` getetag listing, diffed against the stored entity tags, and the same
//! batches.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, Url};
use serde::{Deserialize, Serialize};

use super::dav::{Dav, DavError, Request};
use super::model::{self, Fetched, Member};
use super::xml::{self, CS, DAV};
use crate::providers::http::redact_url;
use crate::providers::sink::{CalendarSink, Resource, ResourceBatch, SinkError};

/// Hrefs per calendar-multiget (DAVx5 sends 10; CalendarServer refuses more than 5,000).
pub const MULTIGET_BATCH: usize = 50;

/// The stored cursor of a CalDAV calendar (JSON in `sync_cursors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The collection's absolute URL (it may be on another host than the configured one).
    pub url: String,
    /// The display name (for messages).
    pub name: String,
    pub sync_collection: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctag: Option<String>,
    /// The account settings the calendar was found with (a change means a new discovery).
    pub source: String,
    pub discovered_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    #[error("{0}")]
    Dav(#[from] DavError),
    #[error("{url} answered HTTP {status}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Server {
        url: String,
        status: u16,
        detail: Option<String>,
    },
    #[error("{url}: {message}")]
    Answer { url: String, message: String },
    #[error("{0}")]
    Store(#[from] SinkError),
}

/// What one calendar's sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarSummary {
    pub full: bool,
    /// Something was written (events, removals or a new cursor).
    pub wrote: bool,
    pub fetched: usize,
    pub deletions: usize,
    pub skipped: usize,
}

fn server_error(url: &Url, status: StatusCode, body: &[u8]) -> CalendarError {
    // A short, printable excerpt of an XML error (its element names), never the whole body.
    let detail = xml::parse(body).ok().and_then(|root| {
        root.children
            .first()
            .map(|c| format!("<{}>", c.name))
            .filter(|_| root.name == "error")
    });
    CalendarError::Server {
        url: redact_url(url.as_str()),
        status: status.as_u16(),
        detail,
    }
}

fn answer_error(url: &Url, e: impl std::fmt::Display) -> CalendarError {
    CalendarError::Answer {
        url: redact_url(url.as_str()),
        message: e.to_string(),
    }
}

/// Sync one calendar whose cursor is `cursor`. `full` ignores the stored token or ctag.
pub async fn sync_calendar(
    sink: &impl CalendarSink,
    dav: &Dav,
    cal_id: i64,
    cursor: &Cursor,
    full: bool,
) -> Result<CalendarSummary, CalendarError> {
    let url = Url::parse(&cursor.url).map_err(|e| CalendarError::Answer {
        url: "the stored calendar address".into(),
        message: e.to_string(),
    })?;
    if cursor.sync_collection {
        by_sync_collection(sink, dav, cal_id, cursor, &url, full).await
    } else {
        by_ctag(sink, dav, cal_id, cursor, &url, full).await
    }
}

async fn by_sync_collection(
    sink: &impl CalendarSink,
    dav: &Dav,
    cal_id: i64,
    cursor: &Cursor,
    url: &Url,
    full: bool,
) -> Result<CalendarSummary, CalendarError> {
    let mut token = if full { None } else { cursor.token.clone() };
    let mut restarted = false;
    let mut full_pass = token.is_none();
    let mut summary = CalendarSummary {
        full: full_pass,
        ..CalendarSummary::default()
    };
    // The members a full listing named so far (its rounds, when truncated).
    let mut listed: HashSet<String> = HashSet::new();
    loop {
        let reply = dav
            .send(&Request::xml(
                "REPORT",
                url,
                Some("0"),
                xml::sync_collection(token.as_deref()),
            ))
            .await?;
        if reply.status != StatusCode::MULTI_STATUS {
            if reply.status.is_client_error()
                && xml::is_invalid_sync_token(&reply.body)
                && token.is_some()
                && !restarted
            {
                tracing::info!(calendar = %cursor.name, status = %reply.status, "the sync token is no longer valid; one full listing");
                token = None;
                restarted = true;
                full_pass = true;
                summary.full = true;
                listed.clear();
                continue;
            }
            return Err(server_error(url, reply.status, &reply.body));
        }
        let ms = xml::multistatus(&reply.body).map_err(|e| answer_error(url, e))?;
        let changes = model::sync_changes(&reply.url, &ms);
        if full_pass {
            listed.extend(changes.changed.iter().map(|m| m.key.clone()));
        }
        let stored = sink.resource_etags(cal_id).await?;
        let queue: Vec<Member> = changes
            .changed
            .iter()
            .filter(|m| m.etag.is_none() || stored.get(&m.key) != m.etag.as_ref())
            .cloned()
            .collect();
        let removed: Vec<String> = changes
            .removed
            .iter()
            .filter(|k| stored.contains_key(*k))
            .cloned()
            .collect();
        let last_round = !changes.truncated;
        let sweep = (full_pass && last_round).then_some(&listed);
        let new_token = changes.token.clone().or_else(|| token.clone());
        // A full listing keeps its token to its last round.
        let save = !full_pass || last_round;
        let next_cursor = Cursor {
            token: new_token.clone(),
            ..cursor.clone()
        };
        let sweeps_something = sweep.is_some_and(|keep| stored.keys().any(|k| !keep.contains(k)));
        let token_moved = save && (new_token != cursor.token || full);
        if !queue.is_empty() || !removed.is_empty() || sweeps_something || token_moved {
            let cursor_json = if save {
                serde_json::to_string(&next_cursor).ok()
            } else {
                None
            };
            apply(
                sink,
                dav,
                cal_id,
                cursor,
                &reply.url,
                &queue,
                removed,
                sweep.cloned(),
                cursor_json,
                &mut summary,
            )
            .await?;
        }
        if last_round {
            return Ok(summary);
        }
        if new_token == token {
            return Err(answer_error(
                url,
                "a truncated sync answer (507) without a new sync token",
            ));
        }
        token = new_token;
    }
}

async fn by_ctag(
    sink: &impl CalendarSink,
    dav: &Dav,
    cal_id: i64,
    cursor: &Cursor,
    url: &Url,
    full: bool,
) -> Result<CalendarSummary, CalendarError> {
    let mut summary = CalendarSummary {
        full,
        ..CalendarSummary::default()
    };
    let reply = dav
        .send(&Request::xml(
            "PROPFIND",
            url,
            Some("0"),
            xml::propfind_ctag(),
        ))
        .await?;
    if reply.status != StatusCode::MULTI_STATUS {
        return Err(server_error(url, reply.status, &reply.body));
    }
    let ms = xml::multistatus(&reply.body).map_err(|e| answer_error(url, e))?;
    let ctag = ms.responses.first().and_then(|r| {
        r.prop_text(CS, "getctag")
            .or_else(|| r.prop_text(DAV, "sync-token"))
    });
    if !full && ctag.is_some() && ctag == cursor.ctag {
        return Ok(summary);
    }
    let reply = dav
        .send(&Request::xml(
            "PROPFIND",
            url,
            Some("1"),
            xml::propfind_etags(),
        ))
        .await?;
    if reply.status != StatusCode::MULTI_STATUS {
        return Err(server_error(url, reply.status, &reply.body));
    }
    let ms = xml::multistatus(&reply.body).map_err(|e| answer_error(url, e))?;
    let members = model::listing(&reply.url, &ms);
    let stored = sink.resource_etags(cal_id).await?;
    let keep: HashSet<String> = members.iter().map(|m| m.key.clone()).collect();
    let queue: Vec<Member> = members
        .iter()
        .filter(|m| m.etag.is_none() || stored.get(&m.key) != m.etag.as_ref())
        .cloned()
        .collect();
    summary.full = true;
    let next = Cursor {
        ctag,
        ..cursor.clone()
    };
    apply(
        sink,
        dav,
        cal_id,
        cursor,
        &reply.url,
        &queue,
        Vec::new(),
        Some(keep),
        serde_json::to_string(&next).ok(),
        &mut summary,
    )
    .await?;
    Ok(summary)
}

/// Fetch `queue` in batches and store them; the last transaction also removes `removed`, sweeps
/// to `keep` (a full listing) and stores `cursor_json`.
#[allow(clippy::too_many_arguments)]
async fn apply(
    sink: &impl CalendarSink,
    dav: &Dav,
    cal_id: i64,
    cursor: &Cursor,
    collection: &Url,
    queue: &[Member],
    mut removed: Vec<String>,
    keep: Option<HashSet<String>>,
    cursor_json: Option<String>,
    summary: &mut CalendarSummary,
) -> Result<(), CalendarError> {
    let batches: Vec<&[Member]> = if queue.is_empty() {
        vec![&[]]
    } else {
        queue.chunks(MULTIGET_BATCH).collect()
    };
    let count = batches.len();
    for (i, batch) in batches.into_iter().enumerate() {
        let last = i + 1 == count;
        let mut resources = Vec::with_capacity(batch.len());
        if !batch.is_empty() {
            let (got, gone) = multiget(dav, cursor, collection, batch, summary).await?;
            resources = got;
            removed.extend(gone);
        }
        summary.fetched += resources.len();
        let batch_removed: Vec<String> = if last {
            std::mem::take(&mut removed)
        } else {
            Vec::new()
        };
        summary.deletions += batch_removed.len();
        let keep = if last { keep.clone() } else { None };
        let cursor_json = if last { cursor_json.clone() } else { None };
        if resources.is_empty()
            && batch_removed.is_empty()
            && keep.is_none()
            && cursor_json.is_none()
        {
            continue;
        }
        summary.wrote = true;
        sink.apply_resources(
            cal_id,
            ResourceBatch {
                upserts: resources,
                removed: batch_removed,
                keep_only: keep,
                cursor: cursor_json,
            },
        )
        .await?;
    }
    Ok(())
}

/// The file name of a resource, for messages (`Work/a.ics`).
fn source_label(cursor: &Cursor, key: &str) -> String {
    let file = key.rsplit('/').next().unwrap_or(key);
    format!("{}/{file}", cursor.name)
}

/// One calendar-multiget; hrefs the answer left out are fetched alone. Returns the resources and
/// the keys found gone.
async fn multiget(
    dav: &Dav,
    cursor: &Cursor,
    collection: &Url,
    batch: &[Member],
    summary: &mut CalendarSummary,
) -> Result<(Vec<Resource>, Vec<String>), CalendarError> {
    let reply = dav
        .send(&Request::xml(
            "REPORT",
            collection,
            None,
            xml::multiget(batch.iter().map(|m| m.href.as_str())),
        ))
        .await?;
    if reply.status != StatusCode::MULTI_STATUS {
        return Err(server_error(collection, reply.status, &reply.body));
    }
    let ms = xml::multistatus(&reply.body).map_err(|e| answer_error(collection, e))?;
    let mut bodies: HashMap<String, (String, String)> = HashMap::new();
    let mut gone = Vec::new();
    for item in model::multiget_items(&reply.url, &ms) {
        match item {
            Fetched::Body { key, etag, data } => {
                bodies.insert(key, (etag, data));
            }
            Fetched::Gone { key } => gone.push(key),
        }
    }
    let mut out = Vec::with_capacity(batch.len());
    for m in batch {
        let (etag, data) = match bodies.remove(&m.key) {
            Some(b) => b,
            None if gone.contains(&m.key) => continue,
            None => match get(dav, collection, m).await? {
                Some(b) => b,
                None => {
                    gone.push(m.key.clone());
                    continue;
                }
            },
        };
        let source = source_label(cursor, &m.key);
        let (resource, skipped, error) =
            model::resource(&m.key, &etag, &data, &source, &cursor.path_name());
        for item in &skipped {
            tracing::warn!(
                source,
                line = item.line,
                uid = item.uid.as_deref().unwrap_or("-"),
                "skipped a malformed event: {}",
                item.reason
            );
        }
        summary.skipped += skipped.len();
        if let Some(e) = error {
            tracing::warn!(source, "skipped an unreadable resource: {e}");
            summary.skipped += 1;
        }
        out.push(resource);
    }
    Ok((out, gone))
}

/// GET one resource: `Some((etag, body))`, or `None` when it is gone.
async fn get(
    dav: &Dav,
    collection: &Url,
    m: &Member,
) -> Result<Option<(String, String)>, CalendarError> {
    let url = collection
        .join(&m.href)
        .map_err(|e| answer_error(collection, e))?;
    let reply = dav
        .send(&Request {
            method: Method::GET,
            url: &url,
            depth: None,
            body: None,
            content_type: "",
            if_match: None,
        })
        .await?;
    match reply.status {
        StatusCode::NOT_FOUND | StatusCode::GONE => Ok(None),
        s if s.is_success() => {
            let data = String::from_utf8_lossy(&reply.body).into_owned();
            let etag = reply.etag().unwrap_or_else(|| model::content_tag(&data));
            Ok(Some((etag, data)))
        }
        s => Err(server_error(&url, s, &reply.body)),
    }
}

impl Cursor {
    /// The calendar's name in the store and in events: the collection's path.
    pub fn path_name(&self) -> String {
        Url::parse(&self.url)
            .map(|u| {
                let mut p = super::discover::decode_path(u.path());
                if !p.ends_with('/') {
                    p.push('/');
                }
                p
            })
            .unwrap_or_else(|_| self.url.clone())
    }
}
