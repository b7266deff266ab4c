//! A stateful fake of Microsoft Graph v1.0 (calendar reads) and of the Microsoft identity platform
//! v2.0 token/device-code endpoints, served over real HTTP/1.1 on `127.0.0.1:<random port>` for
//! integration tests. Same structure as `tests/fake_google/`: [`FakeGraph::start`] runs a hyper
//! accept loop on its own tokio runtime on a background thread; the handle mutates state, queues
//! faults and reads the (secret-free) request log.
//!
//! ```ignore
//! let g = fake_graph::FakeGraph::start();
//! let id = g.add_series(&NewEvent::new("1on1", "2025-03-04T10:00", "2025-03-04T10:30",
//!     "W. Europe Standard Time"), json!({"pattern": {...}, "range": {...}}));
//! // point the client at g.token_url("organizations") and g.graph_base() ...
//! let expected = g.snapshot_view("2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z");
//! ```
//!
//! # What it models, and where from
//! Section numbers are those of `docs/microsoft-graph.md`; "sample NN" are the bodies in
//! `tests/fake_graph/samples/` (provenance in `samples/SOURCES.md`).
//!
//! - **Token endpoint** `POST /{tenant}/oauth2/v2.0/token`, form-encoded (§1.2, §1.4, §1.5, §1.6).
//!   Errors are HTTP 400 (401 for a bad confidential-client secret) in the §1.6 shape: `error`,
//!   `error_description` starting `AADSTS<code>: ` and ending with Trace ID / Correlation ID /
//!   Timestamp lines, `error_codes`, `timestamp` (`YYYY-MM-DD HH:MM:SSZ`), `trace_id`,
//!   `correlation_id`, `error_uri` (samples 04, 05).
//!   - `refresh_token`: **rotation**: every success carries a new `refresh_token`. §1.4 says the
//!     old one "is not revoked when used" (FAKE-CHOICE: keep it valid), so by default it stays
//!     valid; [`Options::rotated_refresh_token_uses`] `= Some(n)` lets a redeemed token be used
//!     only `n` times in all (`Some(1)`: single use), after which it answers `invalid_grant`
//!     AADSTS70008. Revoked → `invalid_grant` AADSTS50173; inactive → AADSTS700082 with
//!     sample 05's wording; unknown → `invalid_grant` AADSTS9002313. `scope` may narrow the
//!     grant; a scope outside it → `invalid_grant` AADSTS65001.
//!   - `client_credentials`: tenant must not be `common`/`consumers` (AADSTS9001023), the client
//!     must be confidential, every scope must end in `/.default` (`invalid_scope`, AADSTS1002012:
//!     code unverified). Answer as sample 02 plus `ext_expires_in` (unverified); no refresh token.
//!   - `urn:ietf:params:oauth:grant-type:device_code` and `POST /{tenant}/oauth2/v2.0/devicecode`
//!     (sample 03, no `verification_uri_complete`): `authorization_pending` (AADSTS70016,
//!     sample 04) until [`FakeGraph::approve_device_code`]; `authorization_declined`,
//!     `expired_token` (AADSTS70020, also when `expires_in` has really passed), `slow_down`
//!     (UNVERIFIED for Entra; only when queued by [`FakeGraph::device_slow_down`]; no AADSTS
//!     code), `bad_verification_code` (unknown device code), a second redemption →
//!     `invalid_grant` AADSTS90120. `refresh_token` only with `offline_access`, `id_token` (a
//!     dummy) only with `openid`.
//!   - Public clients sending a secret → `invalid_client` AADSTS700025; unknown client →
//!     `unauthorized_client` AADSTS700016.
//! - **Bearer check** on every Graph call: missing, unknown or expired → 401
//!   `InvalidAuthenticationToken` (§5.1, wording UNVERIFIED). `/me` with an app-only token → 400.
//! - **calendarView delta** `GET /v1.0/me/calendarView/delta` and `/v1.0/users/{id|upn}/...`
//!   (§2.4): `startDateTime`/`endDateTime` (offset honoured, none = UTC) on the initial request
//!   only; `$select`, `$expand`, `$filter`, `$orderby`, `$search` → 400 (the docs say "not
//!   supported"; the real status is unverified). Pages of `Prefer: odata.maxpagesize` (default 10,
//!   [`Options::default_page_size`]), each with `@odata.nextLink` (`$skiptoken`, opaque) or, on the
//!   last, `@odata.deltaLink` (`$deltatoken`, opaque); links keep the `/me` or `/users/{x}`
//!   prefix; `Preference-Applied` echoes `odata.track-changes`, `odata.maxpagesize`,
//!   `outlook.timezone`. A round's content is frozen at its first page; later changes go to the
//!   next round. The window is frozen in the token. The next round returns only what changed
//!   since: new or changed items in full (occurrences bare, sample 09: `@odata.type`,
//!   `@odata.etag`, `id`, `seriesMasterId`, `type`, `start`, `end`; singles and exceptions with
//!   all fields and `@odata.type`), items that left the window or were deleted as
//!   `{"@odata.type","id","@removed":{"reason":"deleted"}}` (sample 08), and events changed
//!   **outside** the window since the last round also as `@removed` `deleted` (§2.4 "out-of-window
//!   noise"; [`Options::report_out_of_window_changes`], default true). Series masters are never
//!   emitted (FAKE-CHOICE). A cancelled occurrence produces `@removed` unless cancelled with
//!   `delta_entry = false` (§2.4: "may give no indication", UNVERIFIED;
//!   [`Options::cancelled_occurrence_delta_entry`] sets the default). Invalidated or unknown
//!   delta tokens and skiptokens of invalidated rounds → 410 in sample 10's shape, code
//!   [`Options::sync_state_not_found_code`] (default PascalCase `SyncStateNotFound`).
//!   [`Options::empty_first_page`] makes each round begin with an empty page (sample 06).
//! - **calendarView** `GET /v1.0/me/calendarView` (and `/me/calendar/calendarView`, `/users/{x}/…`)
//!   (§2.1): singles, occurrences and exceptions overlapping the window, never masters, full
//!   properties, sorted by start; `$top` (default 10, capped at 1000) and a `$skip` nextLink;
//!   `$select`.
//! - **GET event** `/v1.0/me/events/{id}` (§2.2, §3): singles, masters (`type: seriesMaster`,
//!   `recurrence` with the §3.1 sentinels `endDate: "0001-01-01"`, `numberOfOccurrences: 0`),
//!   occurrences and exceptions by id (`seriesMasterId`, `originalStart`, `recurrence: null`).
//!   Properties as sample 12: `changeKey` (= the etag's inner value), `originalStartTimeZone`,
//!   `iCalUId` (different per instance), `responseStatus`, `organizer`, `attendees` with
//!   `type`/`status.response`, `isCancelled`, `isOrganizer`, `webLink`. `cancelledOccurrences`
//!   (`OID.<masterId>.<yyyy-MM-dd>`, sample 14) only when `$select` names it;
//!   `exceptionOccurrences` only with `$expand=exceptionOccurrences` (§3.3). `$select` keeps
//!   `@odata.etag` and `id`. Cancelled occurrences → 404 `ErrorItemNotFound`.
//! - **Time zones** (§3.5): answers are UTC unless `Prefer: outlook.timezone="<Windows or IANA
//!   name>"`, which re-renders `start`/`end` and is echoed in `Preference-Applied`; an unknown name
//!   falls back to UTC without the echo (unverified). `dateTime` has seven fractional digits.
//!   All-day events and series (`NewEvent` at midnights `.with("isAllDay", json!(true))`) are
//!   floating (§3.5 FAKE-CHOICE): `YYYY-MM-DDT00:00:00` of their own dates, labelled UTC or the
//!   requested zone, never converted from the zone they were created in. (A bare delta
//!   occurrence carries no `isAllDay`: with a `Prefer` zone other than UTC its midnight is
//!   converted, a simplification.)
//! - **Recurrence** (§3.2, `recur.rs`): daily, weekly (interval, daysOfWeek, firstDayOfWeek),
//!   absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly; ranges endDate / numbered /
//!   noEnd. Occurrence wall-clock times are computed in `recurrenceTimeZone` (else the event's
//!   zone), so DST moves the UTC time (§3.2 FAKE-CHOICE). Windows names known: see
//!   `recur::WINDOWS_ZONES` (IANA names are accepted as they are).
//! - **Errors and faults** (§5): Graph errors are `{"error":{code,message,innerError{date,
//!   request-id,client-request-id}}}` with `request-id`/`client-request-id` headers. Faults
//!   ([`FaultKind`]) queue FIFO and hit the next request to their endpoint (default: any Graph
//!   endpoint): 429 with `Retry-After` and sample 11's body, 503 (optional `Retry-After`), 504,
//!   401 (the presented token stays expired), a dropped connection, a delay, a 200 with a given
//!   body (what a broken or hostile server could answer: an endless pager, a link to another
//!   host, an empty `{}`). More than
//!   [`Options::max_concurrent_requests`] (default 4, §5.3 FAKE-CHOICE) Graph requests in flight →
//!   429 `ApplicationThrottled`.
//!
//! - **OneDrive** (`onedrive.rs`): items by path and id, uploads (conditional with `If-Match`),
//!   downloads, invite, createLink.
//! - **getSchedule, POST/DELETE events, GET events by extended property** (`schedule.rs`,
//!   docs/scheduling.md): other users' mailboxes seeded with [`FakeGraph::add_schedule`].
//! - **PATCH event** (`write.rs`): `If-Match` → 412 on a stale etag, partial update, single-value
//!   extended properties kept beside the event, every PATCH recorded.
//!
//! # Simplifications
//! - One mailbox ([`DEFAULT_USER`]); `/users/{x}` must name it (UPN case-insensitively, or
//!   [`USER_ID`]), else 404 `ErrorInvalidUser`. Only the primary calendar.
//! - An exception keeps the id of the occurrence it replaces (real ids are opaque; clients must
//!   not rely on either). Occurrence ids encode master and date and are case-sensitive.
//! - Occurrences of a series share one etag (sample 13). It changes when the master itself is
//!   updated ([`FakeGraph::update_event`] on the master id), which makes every in-window
//!   occurrence reappear (bare) in the next delta round; cancelling an occurrence or creating an
//!   exception changes the master's `changeKey` but not the occurrences' etag. Whether Exchange
//!   re-sends occurrences on a master change is unverified.
//! - Out-of-window noise: ids touched since the last round that are neither in the window now nor
//!   were in it before; a master counts as inside while any of its instances is in the window.
//! - Revoking a refresh token revokes its whole sign-in session (all tokens rotated from the same
//!   original grant and the access tokens minted from them).
//! - No replays or duplicates within a round, no `@removed` reason `changed`, masters never in
//!   delta, no series-not-split-across-pages rule. Delta tokens never expire on their own
//!   ([`FakeGraph::invalidate_delta_tokens`]).
//! - `tzone://Microsoft/Custom`, `$filter`, `$orderby`, `$expand` other than
//!   `exceptionOccurrences`, `/instances`, `/events` listing, writes (PATCH), attachments,
//!   extensions, `$batch`, subscriptions, OneDrive and `/manager` are not served (404/400);
//!   `directReports` is (`directory.rs`).
//!   (The authorization-code grant and `/authorize` are served: see `authcode.rs`.)
//! - Declining only sets `responseStatus` (and the owner's attendee entry); whether Outlook then
//!   removes the item is not modelled.
//! - Moving a whole series (start/end of a master) is not modelled; moving an occurrence onto a
//!   neighbour (`ErrorOccurrenceCrossingBoundary`) is not checked.
//! - Token lifetimes use the wall clock; access tokens are opaque strings, not JWTs.

mod authcode;
mod directory;
mod mailboxes;
mod users;
pub use users::OrgUser;
mod errors;
use crate::fake_http;
mod oauth;
pub mod onedrive;
mod recur;
pub mod schedule;
mod server;
mod state;
pub mod write;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Map, Value};

use oauth::{DeviceStatus, RefreshStatus};
use state::State;

/// The mailbox owner.
pub const DEFAULT_USER: &str = "adele@contoso.onmicrosoft.com";
pub const DEFAULT_USER_NAME: &str = "Adele Vance";
/// The mailbox owner's object id (usable as `/users/{USER_ID}`).
pub const USER_ID: &str = "87d349ed-44d7-43e1-9a83-5f2406dee5bd";
/// A tenant GUID (any tenant segment is accepted, except the client-credentials rule).
pub const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// A public (desktop/daemon) client: no secret.
pub const PUBLIC_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// A confidential client for client credentials.
pub const APP_CLIENT_ID: &str = "9d3a1b2c-0000-4c1e-8f00-5f1e2d3c4b5a";
pub const APP_CLIENT_SECRET: &str = "fake~app~secret";
/// A refresh token of [`PUBLIC_CLIENT_ID`] for [`DEFAULT_USER`] with [`DEFAULT_SCOPES`].
pub const REFRESH_TOKEN: &str = "1.AQsA-fake-graph-initial-refresh-token";
pub const DEFAULT_SCOPES: &str = "offline_access Calendars.Read User.Read";

/// The endpoints the fake tells apart (faults, counters, log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    /// `GET /{tenant}/oauth2/v2.0/authorize` (authorization code + PKCE, `authcode.rs`).
    Authorize,
    DeviceCode,
    CalendarView,
    CalendarViewDelta,
    EventGet,
    /// `PATCH …/events/{id}` (`write.rs`).
    EventPatch,
    /// `…/drive/…` (`onedrive.rs`).
    Drive,
    /// `GET /me/directReports`, `/users/{x}/directReports` (`directory.rs`).
    DirectReports,
    /// `POST …/calendar/getSchedule` (`schedule.rs`).
    GetSchedule,
    /// `POST …/events` (`schedule.rs`).
    EventCreate,
    /// `DELETE …/events/{id}` (`schedule.rs`).
    EventDelete,
    /// `GET …/events` (with a `$filter` on an extended property; `schedule.rs`).
    EventList,
    /// `GET /users` (the tenant's users, `users.rs`).
    Users,
    /// Anything else (answered 400/404).
    Other,
}

impl Endpoint {
    pub fn is_graph(self) -> bool {
        matches!(
            self,
            Endpoint::CalendarView
                | Endpoint::CalendarViewDelta
                | Endpoint::EventGet
                | Endpoint::EventPatch
                | Endpoint::Drive
                | Endpoint::DirectReports
                | Endpoint::Users
                | Endpoint::GetSchedule
                | Endpoint::EventCreate
                | Endpoint::EventDelete
                | Endpoint::EventList
        )
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// 429 with sample 11's body; `Retry-After: <secs>` if given (§5.2 suggests 2).
    Throttled { retry_after: Option<u64> },
    /// 503 `serviceNotAvailable`, optional `Retry-After`.
    Unavailable503 { retry_after: Option<u64> },
    /// 504 `UnknownError` (gateway timeout).
    GatewayTimeout504,
    /// 401 `InvalidAuthenticationToken`; the presented access token stays expired.
    Unauthorized401,
    /// Read the request, then close the connection without answering.
    DropConnection,
    /// Sleep, then serve the request normally.
    Delay(Duration),
    /// Answer 200 with this JSON body instead of the real answer: a broken or hostile server
    /// (an endless pager, a next or delta link to another host, an empty `{}`).
    Body200(serde_json::Value),
}

/// A queued fault: `kind` hits the next `times` requests to `endpoint` (None: any Graph
/// endpoint, never the token endpoints).
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub endpoint: Option<Endpoint>,
    pub kind: FaultKind,
    pub times: u32,
}

impl Fault {
    pub fn new(kind: FaultKind) -> Fault {
        Fault {
            endpoint: None,
            kind,
            times: 1,
        }
    }

    pub fn on(mut self, endpoint: Endpoint) -> Fault {
        self.endpoint = Some(endpoint);
        self
    }

    pub fn times(mut self, n: u32) -> Fault {
        self.times = n;
        self
    }
}

/// Behaviour switches, mostly for what the doc marks UNVERIFIED or FAKE-CHOICE.
#[derive(Debug, Clone)]
pub struct Options {
    /// `expires_in` of access tokens and their real lifetime. Default 3599 (samples 01/02).
    pub access_token_lifetime_secs: u64,
    /// How many redemptions in all a refresh token allows once it has been rotated. `None`
    /// (default, §1.4 FAKE-CHOICE): unlimited; `Some(1)`: single use.
    pub rotated_refresh_token_uses: Option<u32>,
    /// Device code `expires_in`. Default 900 (§1.2).
    pub device_code_lifetime_secs: u64,
    /// Device code `interval`. Default 5 (sample 03).
    pub device_poll_interval_secs: u64,
    /// Delta page size without `Prefer: odata.maxpagesize`. Default 10 (§2.4 FAKE-CHOICE).
    pub default_page_size: usize,
    /// Each delta round starts with an empty page carrying a nextLink (sample 06). Default false.
    pub empty_first_page: bool,
    /// Report events changed outside the window as `@removed` (§2.4). Default true.
    pub report_out_of_window_changes: bool,
    /// Whether [`FakeGraph::cancel_occurrence`] leaves an `@removed` entry (§2.4, UNVERIFIED).
    /// Default true.
    pub cancelled_occurrence_delta_entry: bool,
    /// The 410 error code (§2.4/§5.1 list `SyncStateNotFound`, `syncStateNotFound`,
    /// `resyncRequired`). Default `SyncStateNotFound` (sample 10).
    pub sync_state_not_found_code: String,
    /// More Graph requests than this in flight → 429 (§5.3 FAKE-CHOICE: 4). None: no limit.
    pub max_concurrent_requests: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            access_token_lifetime_secs: 3599,
            rotated_refresh_token_uses: None,
            device_code_lifetime_secs: 900,
            device_poll_interval_secs: 5,
            default_page_size: 10,
            empty_first_page: false,
            report_out_of_window_changes: true,
            cancelled_occurrence_delta_entry: true,
            sync_state_not_found_code: "SyncStateNotFound".to_string(),
            max_concurrent_requests: Some(4),
        }
    }
}

/// The kind of a calendarView item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    SingleInstance,
    Occurrence,
    Exception,
}

/// One item of a calendarView window (what [`FakeGraph::snapshot_view`] returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewItem {
    pub id: String,
    pub kind: ItemKind,
    pub series_master_id: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// An attendee of a [`NewEvent`].
#[derive(Debug, Clone)]
pub struct Attendee {
    pub name: String,
    pub address: String,
    /// `required`, `optional` or `resource`.
    pub kind: String,
    /// `none`, `organizer`, `tentativelyAccepted`, `accepted`, `declined`, `notResponded`.
    pub response: String,
}

/// An event to add: wall-clock `start`/`end` in `time_zone` (Windows or IANA name; becomes
/// `originalStartTimeZone`). For a series, `start`/`end` give the time of day and duration.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub subject: String,
    pub start: NaiveDateTime,
    pub end: NaiveDateTime,
    pub time_zone: String,
    pub attendees: Vec<Attendee>,
    /// `(name, address)`; None: the mailbox owner organizes (`isOrganizer: true`,
    /// `responseStatus.response: organizer`). Otherwise `notResponded`.
    pub organizer: Option<(String, String)>,
    /// Extra Graph properties, e.g. `isCancelled`, `body`, `location`.
    pub extra: Map<String, Value>,
}

fn naive(s: &str) -> NaiveDateTime {
    recur::parse_naive(s).unwrap_or_else(|| panic!("fake_graph: bad local date-time {s:?}"))
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .unwrap_or_else(|_| panic!("fake_graph: bad date {s:?}"))
}

/// Parses RFC 3339 (offset) or a naive date-time (UTC).
pub fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| naive(s).and_utc())
}

impl NewEvent {
    /// `start`/`end` as `YYYY-MM-DDTHH:MM[:SS]` wall-clock in `time_zone`.
    pub fn new(subject: &str, start: &str, end: &str, time_zone: &str) -> NewEvent {
        NewEvent {
            subject: subject.to_string(),
            start: naive(start),
            end: naive(end),
            time_zone: time_zone.to_string(),
            attendees: Vec::new(),
            organizer: None,
            extra: Map::new(),
        }
    }

    pub fn attendee(mut self, address: &str, kind: &str, response: &str) -> NewEvent {
        self.attendees.push(Attendee {
            name: address.split('@').next().unwrap_or(address).to_string(),
            address: address.to_string(),
            kind: kind.to_string(),
            response: response.to_string(),
        });
        self
    }

    pub fn organized_by(mut self, name: &str, address: &str) -> NewEvent {
        self.organizer = Some((name.to_string(), address.to_string()));
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> NewEvent {
        self.extra.insert(key.to_string(), value);
        self
    }
}

/// One request as received. No credentials: `authorization` becomes `Bearer <redacted>`, and of a
/// form body only `grant_type`, `client_id` and `scope` are kept.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub endpoint: Endpoint,
    pub method: String,
    /// Raw (percent-encoded) path.
    pub path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    /// `grant_type`, `client_id`, `scope` of a token/devicecode form.
    pub form: Vec<(String, String)>,
    /// 0 when the connection was dropped.
    pub status: u16,
    pub fault: Option<FaultKind>,
    /// When it was answered (after any injected delay).
    pub at: std::time::Instant,
}

impl RecordedRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn grant_type(&self) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == "grant_type")
            .map(|(_, v)| v.as_str())
    }
}

/// A running fake. Dropping it stops the server.
pub struct FakeGraph {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl FakeGraph {
    /// Starts with [`Options::default`], the mailbox [`DEFAULT_USER`], clients
    /// [`PUBLIC_CLIENT_ID`] and [`APP_CLIENT_ID`], and [`REFRESH_TOKEN`].
    pub fn start() -> FakeGraph {
        FakeGraph::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> FakeGraph {
        let mut st = State::new(options, DEFAULT_USER, DEFAULT_USER_NAME);
        st.oauth.clients.insert(PUBLIC_CLIENT_ID.to_string(), None);
        st.oauth.clients.insert(
            APP_CLIENT_ID.to_string(),
            Some(APP_CLIENT_SECRET.to_string()),
        );
        let rt_scopes: Vec<String> = DEFAULT_SCOPES.split(' ').map(str::to_string).collect();
        let issued = st.issue_refresh(DEFAULT_USER, PUBLIC_CLIENT_ID, &rt_scopes, None);
        let grant = st.oauth.refresh_tokens.remove(&issued).expect("grant");
        st.oauth
            .refresh_tokens
            .insert(REFRESH_TOKEN.to_string(), grant);
        let state = Arc::new(Mutex::new(st));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = state.clone();
        let base = url.clone();
        let thread = std::thread::Builder::new()
            .name("fake-graph".to_string())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    server::serve(listener, shared, base, rx).await;
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn fake-graph thread");
        FakeGraph {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake_graph state")
    }

    // ----- where it listens -------------------------------------------------------------------

    /// `http://127.0.0.1:PORT` (no trailing slash); also the authority host.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `<url>/v1.0` (the Graph base URL).
    pub fn graph_base(&self) -> String {
        format!("{}/v1.0", self.url)
    }

    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.url)
    }

    pub fn device_code_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/devicecode", self.url)
    }

    pub fn configure(&self, f: impl FnOnce(&mut Options)) {
        f(&mut self.st().options);
    }

    // ----- identity ---------------------------------------------------------------------------

    /// A live delegated access token for [`DEFAULT_USER`], without going through /token.
    pub fn mint_access_token(&self) -> String {
        let mut st = self.st();
        let scopes: Vec<String> = DEFAULT_SCOPES.split(' ').map(str::to_string).collect();
        let rt = st.issue_refresh(DEFAULT_USER, PUBLIC_CLIENT_ID, &scopes, None);
        st.oauth.refresh_tokens.remove(&rt);
        let n = st.counter;
        let token = format!("eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.fake-graph-minted-{n}.sig");
        let lifetime = st.options.access_token_lifetime_secs;
        st.oauth.access_tokens.insert(
            token.clone(),
            oauth::AccessGrant {
                user: Some(DEFAULT_USER.to_string()),
                expires_at: std::time::Instant::now() + Duration::from_secs(lifetime),
                expired: false,
                family: None,
            },
        );
        token
    }

    /// Registers a refresh token of [`PUBLIC_CLIENT_ID`] for [`DEFAULT_USER`].
    pub fn add_refresh_token(&self, token: &str, scopes: &str) {
        let mut st = self.st();
        let list: Vec<String> = scopes.split_whitespace().map(str::to_string).collect();
        let issued = st.issue_refresh(DEFAULT_USER, PUBLIC_CLIENT_ID, &list, None);
        let grant = st.oauth.refresh_tokens.remove(&issued).expect("grant");
        st.oauth.refresh_tokens.insert(token.to_string(), grant);
    }

    /// Is this refresh token still redeemable?
    pub fn refresh_token_valid(&self, token: &str) -> bool {
        self.st()
            .oauth
            .refresh_tokens
            .get(token)
            .is_some_and(|g| g.status == RefreshStatus::Live)
    }

    /// The user completes the device-code sign-in for `user_code`. Panics if unknown.
    pub fn approve_device_code(&self, user_code: &str) {
        assert!(
            self.st()
                .set_device_status(user_code, DeviceStatus::Approved),
            "fake_graph: unknown user_code {user_code}"
        );
    }

    pub fn decline_device_code(&self, user_code: &str) {
        assert!(
            self.st()
                .set_device_status(user_code, DeviceStatus::Declined)
        );
    }

    pub fn expire_device_code(&self, user_code: &str) {
        assert!(
            self.st()
                .set_device_status(user_code, DeviceStatus::Expired)
        );
    }

    /// The next `n` polls with this code answer `slow_down` (UNVERIFIED for Entra).
    pub fn device_slow_down(&self, user_code: &str, n: u32) {
        self.st().device_slow_down(user_code, n);
    }

    /// Every access token issued so far stops working (401).
    pub fn expire_access_tokens(&self) {
        self.st().expire_access_tokens();
    }

    /// AADSTS50173 from now on, for this token and every token of its sign-in session (rotated
    /// successors included); access tokens minted in that session stop working (401).
    pub fn revoke_refresh_token(&self, token: &str) {
        self.st().set_refresh_status(token, RefreshStatus::Revoked);
    }

    /// The next `/authorize` request is refused (`access_denied`), as when the user declines.
    pub fn deny_next_authorization(&self) {
        self.st().oauth.deny_next_authorization = true;
    }

    /// AADSTS700082 (90 days of inactivity, sample 05) from now on.
    pub fn expire_refresh_token_inactive(&self, token: &str) {
        self.st().set_refresh_status(token, RefreshStatus::Inactive);
    }

    // ----- org chart --------------------------------------------------------------------------

    /// Adds another mailbox of the tenant (`/users/{upn|id}/…` names it; `mailboxes.rs`).
    pub fn add_mailbox(&self, upn: &str, name: &str) {
        self.st().add_mailbox(upn, name);
    }

    /// Makes `upn` the mailbox the seeding helpers (`add_event`, …) act on; false when there is
    /// no such mailbox.
    pub fn use_mailbox(&self, upn: &str) -> bool {
        self.st().activate(upn)
    }

    /// The tenant's users as `GET /users` lists them (`users.rs`).
    pub fn set_users(&self, users: Vec<OrgUser>) {
        self.st().org_users = users;
    }

    /// `GET /users` answers 403 `Authorization_RequestDenied` while `denied`.
    pub fn deny_users(&self, denied: bool) {
        self.st().users_denied = denied;
    }

    /// Adds a direct report of the mailbox owner (`#microsoft.graph.user`).
    pub fn add_direct_report(&self, name: &str, mail: &str) {
        self.st().add_direct_report(name, mail, false);
    }

    /// Adds an organizational contact as a direct report (`#microsoft.graph.orgContact`).
    /// A direct report (a user) with its `employeeHireDate` (RFC 3339).
    pub fn add_direct_report_hired(&self, name: &str, mail: &str, hired: &str) {
        self.st()
            .add_direct_report_hired(name, mail, false, Some(hired));
    }

    pub fn add_direct_report_contact(&self, name: &str, mail: &str) {
        self.st().add_direct_report(name, mail, true);
    }

    // ----- other mailboxes (getSchedule) and the outbox (`schedule.rs`) -----------------------

    /// Adds another user's mailbox for getSchedule: its working hours (Graph `workingHours`,
    /// e.g. [`schedule::default_hours`]) and `(start, end, status)` items (RFC 3339; status
    /// `busy`, `tentative`, `oof`, `free`, `workingElsewhere`).
    pub fn add_schedule(&self, address: &str, working_hours: Value, items: &[(&str, &str, &str)]) {
        let mut st = self.st();
        let m = st
            .writes
            .schedule
            .mailboxes
            .entry(address.to_lowercase())
            .or_default();
        m.working_hours = working_hours;
        m.items.extend(
            items
                .iter()
                .map(|(a, b, s)| (utc(a), utc(b), s.to_string(), None)),
        );
    }

    /// Sets the mailbox owner's working hours as getSchedule reports them.
    pub fn set_owner_working_hours(&self, hours: Value) {
        self.st().writes.schedule.owner_hours = Some(hours);
    }

    /// getSchedule answers without `workingHours` (seen in reality).
    pub fn omit_working_hours(&self, omit: bool) {
        self.st().writes.schedule.omit_working_hours = omit;
    }

    /// `(kind, attendee, event id)`: invitations (`invite`) and cancellations (`cancel`) sent.
    pub fn outbox(&self) -> Vec<(String, String, String)> {
        self.st().writes.schedule.outbox.clone()
    }

    /// POSTs answered with an existing event because of a repeated `transactionId`.
    pub fn duplicate_posts(&self) -> usize {
        self.st().writes.schedule.duplicate_posts
    }

    // ----- calendar mutations -----------------------------------------------------------------

    /// Adds a single-instance event; returns its id.
    pub fn add_event(&self, ev: &NewEvent) -> String {
        self.st().add_event(ev)
    }

    /// Adds a series master with a Graph `patternedRecurrence`; returns the master id. Panics on a
    /// pattern the fake can't expand.
    pub fn add_series(&self, ev: &NewEvent, recurrence: Value) -> String {
        self.st()
            .add_series(ev, &recurrence)
            .unwrap_or_else(|e| panic!("fake_graph: unsupported recurrence: {e}"))
    }

    /// The id of the occurrence of `master` originally on `date` (`YYYY-MM-DD`, recurrence zone).
    pub fn occurrence_id(&self, master: &str, date: &str) -> String {
        state::occurrence_id(master, day(date))
    }

    /// Cancels one occurrence (it leaves calendarView and joins `cancelledOccurrences`); the delta
    /// entry follows [`Options::cancelled_occurrence_delta_entry`].
    pub fn cancel_occurrence(&self, master: &str, date: &str) {
        let mut st = self.st();
        let entry = st.options.cancelled_occurrence_delta_entry;
        st.cancel_occurrence(master, day(date), entry);
    }

    /// Cancels one occurrence, choosing whether delta reports its removal.
    pub fn cancel_occurrence_with(&self, master: &str, date: &str, delta_entry: bool) {
        self.st().cancel_occurrence(master, day(date), delta_entry);
    }

    /// Moves an occurrence (it becomes an exception); times are wall-clock in the series zone.
    pub fn move_occurrence(&self, master: &str, date: &str, start: &str, end: &str) -> String {
        let mut st = self.st();
        let (a, b) = (
            st.local_of_series(master, naive(start)),
            st.local_of_series(master, naive(end)),
        );
        st.modify_occurrence(master, day(date), Some((a, b)), &Map::new())
    }

    /// Changes properties of one occurrence (it becomes an exception).
    pub fn update_occurrence(&self, master: &str, date: &str, patch: Value) -> String {
        let patch = patch.as_object().cloned().expect("patch object");
        self.st().modify_occurrence(master, day(date), None, &patch)
    }

    /// Merges Graph properties into an event (single, master, or by occurrence id an exception).
    /// `start`/`end` as dateTimeTimeZone move a single event (e.g. out of a window).
    pub fn update_event(&self, id: &str, patch: Value) {
        let patch = patch.as_object().cloned().expect("patch object");
        self.st().update_event(id, &patch);
    }

    /// The owner declines: `responseStatus.response = declined`.
    pub fn decline(&self, id: &str) {
        self.st().set_response(id, "declined");
    }

    /// Sets the owner's `responseStatus.response`.
    pub fn set_response(&self, id: &str, response: &str) {
        self.st().set_response(id, response);
    }

    /// Deletes a single event or a whole series; an occurrence id cancels that occurrence.
    pub fn delete_event(&self, id: &str) {
        self.st().delete_event(id);
    }

    /// Every delta token and skiptoken issued so far answers 410.
    pub fn invalidate_delta_tokens(&self) {
        self.st().invalidate_delta_tokens();
    }

    // ----- inspection -------------------------------------------------------------------------

    /// What a fresh calendarView over `[start, end)` would return (RFC 3339, or naive = UTC).
    pub fn snapshot_view(&self, start: &str, end: &str) -> Vec<ViewItem> {
        self.st().snapshot_view(utc(start), utc(end))
    }

    /// The event as `GET /me/events/{id}?$select=…cancelledOccurrences&$expand=exceptionOccurrences`
    /// would show it (UTC).
    pub fn event_json(&self, id: &str) -> Option<Value> {
        self.st().get_event(id, true, true)
    }

    /// Every event PATCH (`write.rs`), in order.
    pub fn patches(&self) -> Vec<write::PatchRecord> {
        self.st().writes.patches.clone()
    }

    /// A single-value extended property written by PATCH.
    pub fn extended_property(&self, event_id: &str, property_id: &str) -> Option<String> {
        self.st()
            .writes
            .extended
            .get(&(event_id.to_string(), property_id.to_string()))
            .cloned()
    }

    /// OneDrive items: (id, path, content).
    pub fn drive_items(&self) -> Vec<(String, String, Vec<u8>)> {
        self.st()
            .writes
            .drive
            .items
            .values()
            .map(|i| (i.id.clone(), i.path.clone(), i.content.clone()))
            .collect()
    }

    /// Replace a OneDrive item's content as another client would (new eTag).
    pub fn drive_put(&self, id: &str, content: Vec<u8>) {
        let mut st = self.st();
        let item = st.writes.drive.items.get_mut(id).expect("no such item");
        item.content = content;
        item.version += 1;
    }

    /// Another client's save of `id` that lands just before the next upload to it.
    pub fn drive_put_before_next_upload(&self, id: &str, content: Vec<u8>) {
        self.st()
            .writes
            .drive
            .puts_before_upload
            .push((id.to_string(), content));
    }

    /// Invitations: (item id, body).
    pub fn drive_invites(&self) -> Vec<(String, Value)> {
        self.st()
            .writes
            .drive
            .invites
            .iter()
            .map(|i| (i.item_id.clone(), i.body.clone()))
            .collect()
    }

    /// Uploads: (item id or path, If-Match, status).
    pub fn drive_uploads(&self) -> Vec<(String, Option<String>, u16)> {
        self.st().writes.drive.uploads.clone()
    }

    /// Another client's edit that lands just before the next PATCH of `id` is handled.
    pub fn edit_before_next_patch(&self, id: &str, patch: Value) {
        let Value::Object(m) = patch else {
            panic!("fake_graph: an edit is a JSON object")
        };
        self.st()
            .writes
            .edits_before_patch
            .push((id.to_string(), m));
    }

    // ----- faults, log, counters --------------------------------------------------------------

    pub fn push_fault(&self, fault: Fault) {
        self.st().faults.push_back(fault);
    }

    pub fn clear_faults(&self) {
        self.st().faults.clear();
    }

    pub fn pending_faults(&self) -> u32 {
        self.st().faults.iter().map(|f| f.times).sum()
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.st().log.clone()
    }

    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.st()
            .log
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .cloned()
            .collect()
    }

    /// Requests that reached `endpoint` (faulted and dropped ones included).
    pub fn count(&self, endpoint: Endpoint) -> usize {
        self.st()
            .log
            .iter()
            .filter(|r| r.endpoint == endpoint)
            .count()
    }

    pub fn clear_log(&self) {
        let mut st = self.st();
        st.log.clear();
        st.peak_in_flight = st.in_flight;
    }

    /// The most Graph requests that were in flight at once (§5.3) since the last
    /// [`FakeGraph::clear_log`].
    pub fn peak_in_flight(&self) -> usize {
        self.st().peak_in_flight
    }

    /// How many requests are sleeping in an injected [`FaultKind::Delay`] right now.
    pub fn delayed_now(&self) -> usize {
        self.st().delayed_now
    }
}

/// The sample bodies (`samples/`; their origins in `samples/SOURCES.md`), for tests to compare shapes against.
pub mod samples {
    pub const TOKEN_AUTHCODE_SUCCESS: &str =
        include_str!("../../../src/providers/microsoft/testdata/01-token-authcode-success.json");
    pub const TOKEN_CLIENT_CREDENTIALS: &str = include_str!(
        "../../../src/providers/microsoft/testdata/02-token-client-credentials-success.json"
    );
    pub const DEVICECODE_RESPONSE: &str =
        include_str!("../../../src/providers/microsoft/testdata/03-devicecode-response.json");
    pub const TOKEN_AUTHORIZATION_PENDING: &str = include_str!(
        "../../../src/providers/microsoft/testdata/04-token-error-authorization-pending.json"
    );
    pub const TOKEN_INVALID_GRANT_INACTIVE: &str = include_str!(
        "../../../src/providers/microsoft/testdata/05-token-error-invalid-grant-inactive-refresh-token.json"
    );
    pub const DELTA_INITIAL_EMPTY_PAGE: &str = include_str!(
        "../../../src/providers/microsoft/testdata/06-calendarview-delta-initial-empty-page.json"
    );
    pub const DELTA_PAGE_WITH_NEXTLINK: &str = include_str!(
        "../../../src/providers/microsoft/testdata/07-calendarview-delta-page-with-nextlink.json"
    );
    pub const DELTA_NEXT_ROUND_REMOVED: &str = include_str!(
        "../../../src/providers/microsoft/testdata/08-calendarview-delta-next-round-with-removed.json"
    );
    pub const DELTA_BARE_OCCURRENCE: &str = include_str!(
        "../../../src/providers/microsoft/testdata/09-calendarview-delta-bare-occurrence-item.json"
    );
    pub const ERROR_410_SYNC_STATE_NOT_FOUND: &str = include_str!(
        "../../../src/providers/microsoft/testdata/10-error-410-syncstatenotfound.json"
    );
    pub const ERROR_429_THROTTLED: &str = include_str!(
        "../../../src/providers/microsoft/testdata/11-error-429-applicationthrottled.json"
    );
    pub const EVENT_SERIES_MASTER: &str = include_str!(
        "../../../src/providers/microsoft/testdata/12-event-seriesmaster-with-attendees.json"
    );
    pub const INSTANCES: &str = include_str!(
        "../../../src/providers/microsoft/testdata/13-instances-occurrences-and-exception.json"
    );
    pub const MASTER_CANCELLED_AND_EXCEPTIONS: &str = include_str!(
        "../../../src/providers/microsoft/testdata/14-seriesmaster-cancelled-and-exception-occurrences.json"
    );

    pub fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("sample JSON")
    }
}
