//! Incremental sync of a Microsoft 365 primary calendar (`calendarView/delta`) into the store.
//!
//! Section references (§) are to `docs/microsoft-graph.md`.
//!
//! - **Rounds** (§2.4): the first round GETs `{graph_base}/{mailbox}/calendarView/delta?
//!   startDateTime=…&endDateTime=…` (now − `sync.past`, now + `sync.future`, UTC) with
//!   `Prefer: outlook.timezone="UTC", odata.maxpagesize=200`, follows `@odata.nextLink` until
//!   `@odata.deltaLink`; later rounds GET the stored delta link as it is (the window is frozen in
//!   it). `mailbox` is `me`, or `users/{user}` for client credentials.
//! - **Crash safety**, as for Google: one transaction per page ([`CalendarSink::apply_page`]);
//!   a full round writes a new generation and its last page, with the delta link, sweeps the
//!   others. An incremental round applies its pages and stores the link with the last one.
//! - **Series masters, once per change** (§2.4, §3.3): occurrences come bare and masters are
//!   not (reliably) in delta. A master is read with `GET {graph_base}/{mailbox}/events/{id}?
//!   $select=…,cancelledOccurrences&$expand=exceptionOccurrences`, mapped with [`map_series`]
//!   (cancelled occurrences become EXDATEs, exceptions overrides; its stored overrides are
//!   replaced) and written in the page's transaction; bare occurrences are not stored (the
//!   master's expansion gives them). The cursor keeps, per series, the etag its bare
//!   occurrences carried and hashes of their ids (`SeriesMark`). A master is read again only
//!   when: it is unknown; a bare occurrence carries another etag (replays with the same etag
//!   are ignored); an exception item is new or changed (not a replay of the stored one: an
//!   exception changes its master, and a cancellation without an entry of its own may come
//!   with it); an `@removed` id is one of its occurrences or stored exceptions (a
//!   cancellation); a master item shows another change key. Each master is read at most once
//!   per round. `@removed` ids of nothing known are out-of-window noise.
//!   A master answering 404 is deleted (with its overrides). An idle round costs one request.
//! - **Full rounds** (first sync, `--full`, 410, re-baselining) would see every occurrence and
//!   so read every master; instead a master whose occurrences all carry the etag seen before is
//!   kept from the store when the stored series expands, in the window, to exactly the bare
//!   occurrences the round listed (`--full` forgets the marks and reads every master).
//! - **Cancelled occurrences without a delta entry** (§2.4 "may give no indication"): nothing
//!   in an incremental round shows them; they are picked up whenever the master is read (its
//!   `cancelledOccurrences`), and at the latest by the next re-baselining round, whose
//!   comparison finds the occurrence missing and reads that master.
//! - **Window** (§2.4: frozen in the token): the cursor records the window of its round. When
//!   `[now − past, now + future]` has drifted from it by more than `[sync] rebaseline`, a new
//!   full round starts over the new window; its last page sweeps what it did not list (events
//!   that left the window) and stores the new link. Until then the old link stays, so a crash
//!   mid-round only repeats the round.
//! - **410** or an error code `syncStateNotFound`/`resyncRequired` (any case): the link is
//!   dropped and exactly one full round follows.
//! - **Bounded and on its own origin** (docs/limits.md): `@odata.nextLink` and
//!   `@odata.deltaLink` are followed and stored only on graph_base's origin (the bearer token
//!   goes with every request); a stored link elsewhere (graph_base changed) starts a new full
//!   round. A round longer than `limits::MAX_PAGES` pages stops with an error, and a full round's last
//!   page without a delta link (`200 {}`) is an error before it is applied (nothing is swept).
//! - Requests go through [`http::send_buffered_with_retry`] (429, 5xx, dropped connections,
//!   `Retry-After`); a 401 refreshes the access token once and repeats the request.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, Utc};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};

use super::auth::{AuthError, Authenticator};
use super::model::{EventsPage, Mapped, MsEvent, SeriesInfo, map_event, map_series, start_instant};
use crate::config::MicrosoftAccount;
use crate::limits::{MAX_PAGES, WarningCap};
use crate::model::Event;
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::sink::{CalendarId, CalendarSink, PageWrite, SinkError};
use crate::recurrence::{Window as RWindow, expand};
use crate::tz::Zone;

/// Page size asked for with `Prefer: odata.maxpagesize`.
pub const PAGE_SIZE: usize = 200;

/// What the mapping reads of a series master (§3.1, §3.3).
pub const MASTER_SELECT: &str = "id,type,subject,bodyPreview,start,end,isAllDay,\
originalStartTimeZone,originalEndTimeZone,originalStart,recurrence,isCancelled,isOrganizer,\
showAs,responseStatus,organizer,attendees,location,changeKey,lastModifiedDateTime,iCalUId,\
seriesMasterId,cancelledOccurrences";

#[derive(Debug, thiserror::Error)]
pub enum MsSyncError {
    #[error("{0}")]
    Directory(String),
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
    #[error(
        "Microsoft Graph answered more than {limit} pages for one delta round; stopped (see \
         docs/limits.md), no delta link stored"
    )]
    TooManyPages { limit: usize },
    #[error(
        "Microsoft Graph sent an {which} on another origin than graph_base ({origin}); it was not \
         followed (the access token is only sent to graph_base)"
    )]
    ForeignLink { which: &'static str, origin: String },
    #[error(
        "the last page of a full delta round carried no @odata.deltaLink (an empty or shapeless \
         answer); the stored calendar is kept"
    )]
    Shapeless,
    #[error("{0}")]
    Store(#[from] SinkError),
}

/// The stored cursor of a Microsoft calendar: the delta link, the window frozen in it, and what
/// the rounds showed of each series (so that a master is read again only when it changed).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Cursor {
    delta_link: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_start: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window_end: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    series: BTreeMap<String, SeriesMark>,
}

/// What the delta rounds showed of one series.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct SeriesMark {
    /// The `@odata.etag` its bare occurrences carried last (they share one, sample 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    etag: Option<String>,
    /// [`id_hash`] of each occurrence id seen, to tell whose occurrence an `@removed` id is.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    occ: BTreeSet<u64>,
}

/// FNV-1a 64 of an id: stable across runs and builds (unlike `DefaultHasher`).
fn id_hash(id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The inside of an etag or change key (`W/"abc"` → `abc`), to compare the two spellings.
fn etag_core(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    s.trim_matches('"')
}

/// What one calendar's sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarSummary {
    pub full: bool,
    /// A full round started because the window had drifted (`[sync] rebaseline`).
    pub rebaselined: bool,
    pub pages: usize,
    pub upserts: usize,
    pub deletions: usize,
    pub masters_fetched: usize,
    /// Masters a full round kept from the store (unchanged, verified against the round).
    pub masters_reused: usize,
    pub skipped: usize,
}

/// The sync window `[now − past, now + future]`.
#[derive(Debug, Clone)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// How far the window may drift from the one frozen in the delta link before a new full
    /// round re-baselines it (`[sync] rebaseline`).
    pub rebaseline: chrono::Duration,
}

/// A Graph URL of the account's mailbox (the shared builder, `graph.rs`).
fn graph_url(ms: &MicrosoftAccount, tail: &[&str]) -> Result<reqwest::Url, MsSyncError> {
    super::graph::graph_url(ms, tail).map_err(|e| MsSyncError::Config(e.to_string()))
}

/// A link from an answer, accepted only on graph_base's origin (scheme, host and port): the
/// access token is sent with every request, so a link elsewhere is never followed.
fn own_link(
    ms: &MicrosoftAccount,
    link: &str,
    which: &'static str,
) -> Result<reqwest::Url, MsSyncError> {
    let base = super::graph::graph_base(ms).map_err(|e| MsSyncError::Config(e.to_string()))?;
    let url =
        reqwest::Url::parse(link).map_err(|e| MsSyncError::Decode(format!("{which}: {e}")))?;
    if url.origin() == base.origin() {
        Ok(url)
    } else {
        Err(MsSyncError::ForeignLink {
            which,
            origin: url.origin().ascii_serialization(),
        })
    }
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
pub async fn sync_calendar(
    sink: &impl CalendarSink,
    client: &Client,
    auth: &Authenticator,
    ms: &MicrosoftAccount,
    calendar: &str,
    window: &Window,
    full: bool,
) -> Result<CalendarSummary, MsSyncError> {
    if calendar != "primary" {
        return Err(MsSyncError::Config(format!(
            "calendar {calendar:?}: only the primary calendar can be synced in this version"
        )));
    }
    let (cal_id, cursor) = sink.open(calendar).await?;
    let stored: Option<Cursor> = cursor.and_then(|c| serde_json::from_str(&c).ok());
    // `--full` reads every master again; otherwise what the last rounds saw is kept.
    let marks = match (&stored, full) {
        (Some(c), false) => c.series.clone(),
        _ => BTreeMap::new(),
    };
    let mut link = None;
    let mut frozen = window.clone();
    let mut rebaselined = false;
    if let (Some(c), false) = (&stored, full) {
        match (c.window_start, c.window_end) {
            (Some(s), Some(e)) => {
                let drift = (s - window.start).abs().max((e - window.end).abs());
                if drift > window.rebaseline {
                    tracing::info!(
                        calendar,
                        drift_hours = drift.num_hours(),
                        "the window has drifted; a new round re-baselines it"
                    );
                    rebaselined = true;
                } else if own_link(ms, &c.delta_link, "stored delta link").is_err() {
                    // graph_base changed since the link was stored: never send the token to
                    // the old origin; a new round starts over on graph_base.
                    tracing::warn!(
                        calendar,
                        "the stored delta link is not on graph_base's origin; a new full round"
                    );
                    rebaselined = true;
                } else {
                    link = Some(c.delta_link.clone());
                    frozen = Window {
                        start: s,
                        end: e,
                        rebaseline: window.rebaseline,
                    };
                }
            }
            // A cursor without its window (an older version): start over with this window.
            _ => rebaselined = true,
        }
    }
    let ctx = Ctx {
        client,
        auth,
        ms,
        calendar,
        cal_id,
        warnings: WarningCap::default(),
    };
    let mut restarted = false;
    loop {
        let round = if link.is_some() { &frozen } else { window };
        match run(sink, &ctx, round, link.as_deref(), &marks).await {
            Err(MsSyncError::Gone) if !restarted => {
                tracing::info!(calendar, "delta link expired (410); one full resync");
                sink.clear_cursor(cal_id).await?;
                link = None;
                restarted = true;
            }
            Ok(mut summary) => {
                summary.rebaselined = rebaselined && link.is_none();
                if let Some(line) = ctx.warnings.summary() {
                    tracing::warn!(calendar, "{line}");
                }
                return Ok(summary);
            }
            other => return other,
        }
    }
}

struct Ctx<'a> {
    client: &'a Client,
    auth: &'a Authenticator,
    ms: &'a MicrosoftAccount,
    calendar: &'a str,
    cal_id: CalendarId,
    /// The warnings of this calendar's sync, logged up to the cap.
    warnings: WarningCap,
}

/// Stored masters and their overrides, by master id.
#[derive(Default)]
struct StoredSeries {
    masters: HashMap<String, Event>,
    overrides: HashMap<String, Vec<Event>>,
    /// Override id → its master.
    override_master: HashMap<String, String>,
    /// Override id → its stored etag.
    override_etag: HashMap<String, Option<String>>,
}

/// Adds `m` to the masters to fetch on this page (once).
fn want(need: &mut Vec<String>, fetched: &HashSet<String>, m: &str) {
    if !fetched.contains(m) && !need.iter().any(|x| x == m) {
        need.push(m.to_string());
    }
}

/// One delta round: `delta_link` None is a full round over `window` (the window is frozen in
/// the link otherwise). `marks_in` is what earlier rounds saw of each series.
async fn run(
    sink: &impl CalendarSink,
    ctx: &Ctx<'_>,
    window: &Window,
    delta_link: Option<&str>,
    marks_in: &BTreeMap<String, SeriesMark>,
) -> Result<CalendarSummary, MsSyncError> {
    let full = delta_link.is_none();
    let cal_id = ctx.cal_id;
    let calendar = ctx.calendar;
    let next = sink.next_generation(cal_id).await?;
    let generation = if full { next } else { (next - 1).max(1) };
    let mut summary = CalendarSummary {
        full,
        ..CalendarSummary::default()
    };
    let mut stored = StoredSeries::default();
    for e in sink.series_events(cal_id).await? {
        if e.is_override() {
            if let Some(m) = e.series_id.clone() {
                stored.override_master.insert(e.event_id.clone(), m.clone());
                stored
                    .override_etag
                    .insert(e.event_id.clone(), e.etag.clone());
                stored.overrides.entry(m).or_default().push(e);
            }
        } else if e.is_master() {
            stored.masters.insert(e.event_id.clone(), e);
        }
    }
    // Masters as known now (stored, then as fetched in this round): exceptions' series info.
    let mut masters: HashMap<String, Event> = stored.masters.clone();
    let occ_index: HashMap<u64, String> = if full {
        HashMap::new()
    } else {
        marks_in
            .iter()
            .flat_map(|(m, k)| k.occ.iter().map(move |h| (*h, m.clone())))
            .collect()
    };
    let mut marks: BTreeMap<String, SeriesMark> = if full {
        BTreeMap::new()
    } else {
        marks_in.clone()
    };
    let mut fetched: HashSet<String> = HashSet::new();
    // Full rounds: masters whose occurrences carry the etag seen before, with the starts of
    // their bare occurrences; checked against the stored expansion on the last page.
    let mut deferred: BTreeMap<String, Vec<DateTime<Utc>>> = BTreeMap::new();
    let mut written: HashSet<String> = HashSet::new();
    let mut url = match delta_link {
        Some(l) => own_link(ctx.ms, l, "stored delta link")?,
        None => initial_delta_url(ctx.ms, window)?,
    };
    loop {
        if summary.pages >= MAX_PAGES {
            return Err(MsSyncError::TooManyPages { limit: MAX_PAGES });
        }
        let body = get_json(ctx, &url, true)
            .await?
            .ok_or_else(|| MsSyncError::Api {
                status: 404,
                message: "the delta endpoint was not found".into(),
            })?;
        let page: EventsPage =
            serde_json::from_slice(&body).map_err(|e| MsSyncError::Decode(e.to_string()))?;
        summary.pages += 1;
        // Links are checked before anything of the page is used or stored.
        let next_url = match &page.next_link {
            Some(next) => Some(own_link(ctx.ms, next, "@odata.nextLink")?),
            None => None,
        };
        if let Some(delta) = &page.delta_link {
            own_link(ctx.ms, delta, "@odata.deltaLink")?;
        }
        if full && next_url.is_none() && page.delta_link.is_none() {
            // A full round's last page sweeps every row it did not write: an answer without
            // the link that ends a round (`200 {}`) must not empty the calendar.
            return Err(MsSyncError::Shapeless);
        }
        let mut items = Vec::new();
        for raw in &page.value {
            match serde_json::from_str::<MsEvent>(raw.get()) {
                Ok(item) => items.push(item),
                Err(e) => {
                    summary.skipped += 1;
                    if ctx.warnings.allow() {
                        tracing::warn!(calendar, "skipped an item: it could not be read: {e}");
                    }
                }
            }
        }
        // Which masters changed, by what this page shows of their series.
        let mut need: Vec<String> = Vec::new();
        for item in &items {
            let id = item.id.trim();
            if item.removed.is_some() {
                if full {
                    continue;
                }
                // A removed occurrence (cancelled, or moved out of the window) or exception:
                // its master changed. Unknown ids are out-of-window noise (§2.4).
                let h = id_hash(id);
                if let Some(m) = occ_index.get(&h) {
                    if let Some(k) = marks.get_mut(m) {
                        k.occ.remove(&h);
                    }
                    want(&mut need, &fetched, m);
                }
                if let Some(m) = stored.override_master.get(id) {
                    want(&mut need, &fetched, m);
                }
                continue;
            }
            let kind = item
                .event_type
                .as_deref()
                .unwrap_or("")
                .to_ascii_lowercase();
            let series_master = item
                .series_master_id
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty());
            match (kind.as_str(), series_master) {
                ("occurrence", Some(m)) => {
                    let etag = item
                        .odata_etag
                        .as_deref()
                        .map(|e| etag_core(e).to_string())
                        .filter(|e| !e.is_empty());
                    let before = marks_in.get(m).and_then(|k| k.etag.clone());
                    let mark = marks.entry(m.to_string()).or_default();
                    mark.occ.insert(id_hash(id));
                    mark.etag.clone_from(&etag);
                    let unchanged =
                        stored.masters.contains_key(m) && etag.is_some() && before == etag;
                    if fetched.contains(m) || need.iter().any(|x| x == m) {
                        continue;
                    }
                    if !unchanged {
                        want(&mut need, &fetched, m);
                    } else if full {
                        match start_instant(item) {
                            Some(t) => deferred.entry(m.to_string()).or_default().push(t),
                            None => want(&mut need, &fetched, m),
                        }
                    }
                }
                ("exception", Some(m)) => {
                    // A new or changed exception changed its series (the master's change key
                    // moves with it, and a cancellation that left no entry of its own may have
                    // come with it): read the master once, unless this is a replay of the
                    // stored exception. In a full round, a known series is verified instead.
                    marks.entry(m.to_string()).or_default();
                    let replay = !full
                        && match (stored.override_etag.get(id), item.odata_etag.as_deref()) {
                            (Some(Some(a)), Some(b)) => etag_core(a) == etag_core(b),
                            _ => false,
                        };
                    if !stored.masters.contains_key(m) || (!full && !replay) {
                        want(&mut need, &fetched, m);
                    } else if full && !fetched.contains(m) {
                        deferred.entry(m.to_string()).or_default();
                    }
                }
                ("seriesmaster", _) => {
                    // Not emitted per the docs, but tolerated (§2.4): fetched when its change
                    // key is not the stored one.
                    marks.entry(id.to_string()).or_default();
                    let seen = item.odata_etag.as_deref().or(item.change_key.as_deref());
                    let same = match (stored.masters.get(id).and_then(|e| e.etag.as_deref()), seen)
                    {
                        (Some(a), Some(b)) => etag_core(a) == etag_core(b),
                        _ => false,
                    };
                    if !same {
                        want(&mut need, &fetched, id);
                    } else if full && !fetched.contains(id) {
                        deferred.entry(id.to_string()).or_default();
                    }
                }
                _ => {}
            }
        }
        let mut upserts: Vec<Event> = Vec::new();
        let mut deletes: Vec<String> = Vec::new();
        fetch_masters(ctx, &need, &mut upserts, &mut deletes, &mut masters).await?;
        summary.masters_fetched += need.len();
        for m in need {
            deferred.remove(&m);
            fetched.insert(m);
        }
        for item in &items {
            let mut warn = |m: String| {
                if ctx.warnings.allow() {
                    tracing::warn!(calendar, "{m}");
                }
            };
            let lookup = |id: &str| masters.get(id).and_then(SeriesInfo::of);
            match map_event(item, calendar, &lookup, &mut warn) {
                // Masters are written from their full fetch (or kept, in a full round).
                Ok(Mapped::Upsert(e)) if e.is_master() => {}
                Ok(Mapped::Upsert(e)) => upserts.push(*e),
                Ok(Mapped::Delete(id)) => deletes.push(id),
                Ok(Mapped::BareOccurrence { .. } | Mapped::IncompleteMaster(_)) => {}
                Err(reason) => {
                    summary.skipped += 1;
                    if ctx.warnings.allow() {
                        tracing::warn!(calendar, "skipped an item: {reason}");
                    }
                }
            }
        }
        if full {
            written.extend(upserts.iter().map(|e| e.event_id.clone()));
        }
        let last = page.next_link.is_none();
        if last && full {
            let mut changed = Vec::new();
            for (m, starts) in std::mem::take(&mut deferred) {
                if fetched.contains(&m) {
                    continue;
                }
                if let Some(kept) = reusable(&stored, &m, &starts, window) {
                    summary.masters_reused += 1;
                    upserts.extend(kept.into_iter().filter(|e| !written.contains(&e.event_id)));
                } else {
                    changed.push(m);
                }
            }
            fetch_masters(ctx, &changed, &mut upserts, &mut deletes, &mut masters).await?;
            summary.masters_fetched += changed.len();
            fetched.extend(changed);
        }
        if last && page.delta_link.is_none() {
            tracing::warn!(
                calendar,
                "the last page carried no deltaLink; the next sync will be a full one"
            );
        }
        let cursor = if last {
            marks.retain(|m, _| masters.contains_key(m));
            page.delta_link.as_ref().and_then(|l| {
                serde_json::to_string(&Cursor {
                    delta_link: l.clone(),
                    window_start: Some(window.start),
                    window_end: Some(window.end),
                    series: std::mem::take(&mut marks),
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
        match next_url {
            Some(next) => url = next,
            None => return Ok(summary),
        }
    }
}

/// In a full round: the stored master `m` and its overrides, when the round's bare occurrences
/// of it (`starts`, all with the etag seen before) are exactly what the stored series expands
/// to in the window, so nothing about it changed. `None`: read it again (an occurrence the
/// store still has is gone, e.g. cancelled without a delta entry, or one appeared).
fn reusable(
    stored: &StoredSeries,
    m: &str,
    starts: &[DateTime<Utc>],
    window: &Window,
) -> Option<Vec<Event>> {
    let master = stored.masters.get(m)?;
    let mut events = vec![master.clone()];
    events.extend(stored.overrides.get(m).into_iter().flatten().cloned());
    let in_window = |t: &DateTime<Utc>| *t >= window.start && *t < window.end;
    let mut ours: Vec<DateTime<Utc>> = {
        let exp = expand(
            &events,
            &RWindow {
                from: window.start,
                to: window.end,
            },
            &Zone::Utc,
        );
        if !exp.warnings.is_empty() {
            return None;
        }
        exp.occurrences
            .iter()
            .filter(|o| !o.removed && o.event.event_id == m)
            .map(|o| o.start.instant(&Zone::Utc))
            .filter(in_window)
            .collect()
    };
    let mut theirs: Vec<DateTime<Utc>> = starts.iter().copied().filter(in_window).collect();
    ours.sort();
    theirs.sort();
    theirs.dedup();
    (ours == theirs).then_some(events)
}

/// At most this many Graph requests of one mailbox in flight (§5.3: Outlook runs 4 at once
/// and answers 429 `MailboxConcurrency` beyond). Delta pages are read one after another; the
/// masters a page needs are read this many at a time in between.
pub const MAX_IN_FLIGHT: usize = 4;

/// What reading one master gave.
enum MasterRead {
    /// 404: the series is gone.
    Gone,
    /// It could not be mapped (logged).
    Skipped,
    /// The master, its exceptions, and ids to delete.
    Found(Box<Event>, Vec<Event>, Vec<String>),
}

/// Fetch masters (at most [`MAX_IN_FLIGHT`] at a time) with their cancelled and exception
/// occurrences, and queue what to write. A master replaces its stored overrides.
async fn fetch_masters(
    ctx: &Ctx<'_>,
    ids: &[String],
    upserts: &mut Vec<Event>,
    deletes: &mut Vec<String>,
    masters: &mut HashMap<String, Event>,
) -> Result<(), MsSyncError> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    let reads: Vec<(String, MasterRead)> = stream::iter(ids.iter().cloned())
        .map(|id| async move {
            let read = read_master(ctx, &id).await?;
            Ok::<_, MsSyncError>((id, read))
        })
        .buffered(MAX_IN_FLIGHT)
        .try_collect()
        .await?;
    for (id, read) in reads {
        match read {
            MasterRead::Gone => {
                tracing::info!(calendar = ctx.calendar, id, "series master gone; removed");
                deletes.push(id.clone());
                masters.remove(&id);
            }
            MasterRead::Skipped => {}
            MasterRead::Found(master, rest, dels) => {
                // Deleting the id first drops its stored overrides (no longer exceptions).
                deletes.push(id.clone());
                deletes.extend(dels);
                masters.insert(id, (*master).clone());
                upserts.push(*master);
                upserts.extend(rest);
            }
        }
    }
    Ok(())
}

/// `GET …/events/{id}?$select=…,cancelledOccurrences&$expand=exceptionOccurrences`, mapped.
async fn read_master(ctx: &Ctx<'_>, id: &str) -> Result<MasterRead, MsSyncError> {
    let mut url = graph_url(ctx.ms, &["events", id])?;
    url.query_pairs_mut()
        .append_pair("$select", MASTER_SELECT)
        .append_pair("$expand", "exceptionOccurrences");
    let Some(body) = get_json(ctx, &url, false).await? else {
        return Ok(MasterRead::Gone);
    };
    let item: MsEvent = serde_json::from_slice(&body)
        .map_err(|e| MsSyncError::Decode(format!("series master {id}: {e}")))?;
    let calendar = ctx.calendar;
    let mut warn = |m: String| {
        if ctx.warnings.allow() {
            tracing::warn!(calendar, "{m}");
        }
    };
    let mapped = match map_series(&item, calendar, &mut warn) {
        Ok(m) => m,
        Err(reason) => {
            if ctx.warnings.allow() {
                tracing::warn!(calendar, "skipped series master {id}: {reason}");
            }
            return Ok(MasterRead::Skipped);
        }
    };
    let mut master_event = None;
    let mut out = Vec::new();
    let mut deletes = Vec::new();
    for m in mapped {
        match m {
            Mapped::Upsert(e) if e.event_id == id && e.is_master() => master_event = Some(e),
            Mapped::Upsert(e) => out.push(*e),
            Mapped::Delete(d) => deletes.push(d),
            other => tracing::debug!(calendar, "series {id}: ignored {other:?}"),
        }
    }
    match master_event {
        Some(master) => Ok(MasterRead::Found(master, out, deletes)),
        None => {
            tracing::warn!(
                calendar,
                "series master {id} could not be mapped as a master"
            );
            Ok(MasterRead::Skipped)
        }
    }
}

/// The account user's direct reports (`directory = true`, §7.3), through the same GET as the
/// calendar (retries, one refresh on 401).
pub async fn direct_reports(
    client: &Client,
    auth: &Authenticator,
    ms: &MicrosoftAccount,
) -> Result<Vec<super::directory::DirectoryPerson>, MsSyncError> {
    let ctx = Ctx {
        client,
        auth,
        ms,
        calendar: "directReports",
        cal_id: 0,
        warnings: WarningCap::default(),
    };
    let mut first = graph_url(ms, &["directReports"])?;
    first.query_pairs_mut().append_pair(
        "$select",
        "id,displayName,mail,userPrincipalName,employeeHireDate",
    );
    super::directory::fetch(first, |url| {
        let ctx = &ctx;
        async move {
            get_json(ctx, &url, false)
                .await?
                .ok_or_else(|| MsSyncError::Api {
                    status: 404,
                    message: "the user's directReports were not found".into(),
                })
        }
    })
    .await
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
                access = ctx.auth.refresh_rejected(&access).await?;
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

impl From<String> for MsSyncError {
    fn from(s: String) -> Self {
        MsSyncError::Directory(s)
    }
}

/// One Graph GET through the calendar's machinery (retries, one token refresh on 401) for a
/// caller outside the calendar sync (org mode's directory sweep). `Ok(None)` on 404.
pub async fn graph_get(
    client: &Client,
    auth: &Authenticator,
    ms: &MicrosoftAccount,
    url: &reqwest::Url,
) -> Result<Option<Vec<u8>>, MsSyncError> {
    let ctx = Ctx {
        client,
        auth,
        ms,
        calendar: "users",
        cal_id: 0,
        warnings: WarningCap::default(),
    };
    get_json(&ctx, url, false).await
}
