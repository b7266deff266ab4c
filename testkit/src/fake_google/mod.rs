//! A stateful fake of the Google Calendar v3 API and Google's OAuth 2.0 endpoints, served over
//! real HTTP/1.1 on `127.0.0.1:<random port>` for integration tests.
//!
//! Use it from an integration test with `mod fake_google;`, then:
//!
//! ```ignore
//! let g = fake_google::FakeGoogle::start();          // own tokio runtime on a background thread
//! let toml = g.google_account_toml("work", &["primary"]); // api_base / token_url / auth_url = g
//! g.insert_event("primary", serde_json::json!({...}));
//! // run `cadenced` with that config; then compare its store with g.snapshot("primary")
//! ```
//!
//! The binary is configured with `api_base = g.api_base()` (Calendar paths `/calendar/v3/...` under
//! it), `token_url = g.token_url()` (`<url>/token`) and `auth_url = g.auth_url()`.
//!
//! # What it models, and where each rule comes from
//! Section numbers are those of `docs/google-api.md`; "SAMPLE:x" are the real bodies, copied
//! into `tests/fake_google/samples/` (provenance in `samples/SOURCES.md`).
//!
//! - **Token endpoint** `POST /token`, form-encoded (§1.1, §1.2, §1.4):
//!   - `refresh_token` → `{access_token, expires_in, scope, token_type:"Bearer"}` and no new
//!     refresh token; an unknown, revoked or other-client refresh token → 400 `invalid_grant`.
//!     Its description defaults to the real capture's "Bad Request"
//!     (SAMPLE:token-error-invalid-grant.json); [`Options::invalid_grant_description`] selects the
//!     other, unverified wording "Token has been expired or revoked.".
//!   - `authorization_code` with `code_verifier` and `redirect_uri`: PKCE S256 or plain checked
//!     against the challenge registered by [`FakeGoogle::register_auth_code`] or by the authorize
//!     endpoint; single-use codes; returns a new refresh token (§1.1: always for installed apps).
//!   - `urn:ietf:params:oauth:grant-type:jwt-bearer`: a three-part JWT, header `alg: RS256`, claims
//!     iss/scope/aud/exp/iat present, `aud` the token URL, `exp − iat ≤ 3600` and a sane clock;
//!     `sub` (or `iss`) must be a known account. No refresh token, no `scope` in the answer.
//!   - Client credentials in the form or as HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1).
//!     Unknown client → 401 `invalid_client`; a wrong `client_secret` → 401 (the secret itself is
//!     optional, §1.2); other grant types → 400 `unsupported_grant_type`.
//!   - `GET /o/oauth2/v2/auth` auto-consents and redirects (302) to the loopback `redirect_uri` with
//!     `code`, `state` and `scope`; `POST /revoke` revokes (§1.2); `POST /device/code` refuses (§1.3:
//!     no Calendar scope in the device flow; 400 `invalid_scope`, error form unverified).
//! - **Bearer checks**: every Calendar request needs `Authorization: Bearer <live token>`; a missing,
//!   unknown, expired or revoked one → 401 `authError` with `"status":"UNAUTHENTICATED"` and
//!   `WWW-Authenticate` (§4.1; the `status` field is unverified for Calendar, clients must not care).
//!   The token must carry a scope the method accepts (§1.5) or the answer is 403
//!   `insufficientPermissions` (newer envelope, §4.1); [`Options::enforce_scopes`] turns this off.
//! - **calendarList.list** (§2.1): the account's calendars (its primary first, with
//!   `primary: true`); `maxResults` default 100, capped at 250; `minAccessRole`; paging with
//!   `nextPageToken`/`nextSyncToken`; `syncToken` returns entries added since; forbidden
//!   combinations → 400.
//! - **events.list** (§2.2, §2.3): `primary` aliases the account's own calendar; ids are
//!   percent-decoded. Every event has a per-change update sequence; a listing freezes the sequence
//!   at its first page ("upper"), and pages walk it in ascending order, so:
//!   - a full sync returns each matching event once; `nextPageToken` on every page but the last,
//!     `nextSyncToken` only on the last;
//!   - an incremental sync with token T returns exactly the events whose latest change is after T
//!     and at or before "upper", each once in its latest version, across pages, then a new token
//!     for "upper". A change made while the client pages is returned by the *next* sync;
//!   - `maxResults` default 250, values above 2500 are capped, below 1 → 400;
//!   - `showDeleted=false` (default): live events, plus cancelled *instances* (singleEvents=false
//!     lists them regardless, §2.2); `showDeleted=true` or `updatedMin` add deleted events;
//!   - with `syncToken`, deletions always come back as tombstones, whatever `showDeleted` says
//!     (CAL-SYNC rule 3); `showDeleted=false` with a token is accepted, not rejected (unverified);
//!   - `iCalUID`, `orderBy`, `privateExtendedProperty`, `q`, `sharedExtendedProperty`, `timeMin`,
//!     `timeMax`, `updatedMin` with `syncToken` → 400 `invalid` with the parameter as `location`
//!     (status and wording unverified, as the doc suggests);
//!   - an unknown, foreign or invalidated token → 410 exactly as SAMPLE:error-410-fullSyncRequired,
//!     also on later pages of an incremental listing;
//!   - `orderBy=startTime` without `singleEvents=true` → 400 `invalid` (GH java-samples#52);
//!     `orderBy=updated` sorts ascending (the update sequence order) and suppresses
//!     `nextSyncToken`; so do `q`, `iCalUID`, `updatedMin`, the extended-property filters and
//!     `timeMax` (configurable), but not `timeMin` (rule 6: "fake should suppress ... except timeMin");
//!   - `timeMin` (exclusive, on the end) and `timeMax` (exclusive, on the start) need an offset;
//!     `timeMin ≥ timeMax` → 400 `timeRangeEmpty` (location `timeMax`);
//!   - `eventTypes`, `q`, `iCalUID`, extended properties filter; `fields`, `prettyPrint`,
//!     `timeZone`, `maxAttendees`, `showHiddenInvitations`, `alwaysIncludeEmail` are accepted and
//!     ignored (the full resource is always returned, which is at least what Google returns);
//!   - the envelope carries kind, etag, summary, description, updated, timeZone, accessRole,
//!     defaultReminders like the SAMPLE:events-list-incremental-* bodies.
//! - **Event resources** (§3): inserts get kind, id (base32hex), status, created/updated (ms, `Z`),
//!   `iCalUID = <id>@google.com`, htmlLink, creator/organizer (`self: true`), sequence 0,
//!   reminders, eventType. Every write gives a new quoted numeric etag and a new `updated` (strictly
//!   increasing). Exceptions are separate resources `<masterId>_<YYYYMMDDTHHMMSSZ>` with
//!   `recurringEventId` and `originalStartTime` (in the master's zone, as in the samples) and the
//!   master's iCalUID. Creating an exception or cancelling an instance also touches the master,
//!   as in SAMPLE:events-list-incremental-cancelled-instance / -modified-exception. Tombstones:
//!   `{kind, etag, id, status:"cancelled"}`, plus `recurringEventId` and `originalStartTime` for a
//!   cancelled instance (SAMPLE:event-items-cancelled-tombstones). Deleting a series leaves one
//!   tombstone, the master's (SAMPLE:events-list-incremental-deleted-series-tombstone), and its
//!   exceptions vanish without tombstones of their own: the client must cascade. A split ("this and
//!   following") follows SAMPLE:events-list-incremental-split-series (`UNTIL` cut, new master
//!   `<id>_R<YYYYMMDDTHHMMSS>` with its own iCalUID).
//! - **events.get** (§2.5): stored events including cancelled ones (§2.3), unmodified instances by
//!   instance id, `ETag` header, `If-None-Match` → 304, otherwise 404 `notFound`.
//! - **events.patch** (§2.6): `If-Match` mismatch → 412 exactly as SAMPLE:error-412-conditionNotMet;
//!   RFC 7396 merge (objects merge, arrays replace, `null` removes); read-only fields in the body are
//!   ignored; `eventType` cannot change (400); `attachments` only with `supportsAttachments=true`
//!   (otherwise silently dropped, unverified), at most 25, `fileId` filled from Drive links (§6.4);
//!   `conferenceData` only with `conferenceDataVersion=1`; `sendUpdates` validated
//!   (all|externalOnly|none) and recorded ([`FakeGoogle::patches`]). Patching an unmodified instance
//!   creates the exception. The answer is the full event with its new etag.
//!   [`FakeGoogle::edit_before_next_patch`] lands another client's edit just before a patch is
//!   handled (the read-then-write race), so a client's `If-Match` meets a changed event.
//! - **Drive v3 and Docs v1** for agenda documents: see `drive.rs` (files.create multipart with
//!   conversion, files.list by app property, export to text/plain, permissions.create,
//!   documents.get, documents.batchUpdate with `requiredRevisionId`).
//! - **Responses**: `Content-Type: application/json; charset=UTF-8`, gzip when `Accept-Encoding`
//!   allows it (error bodies too), events.list bodies compact and the others pretty-printed
//!   (Google pretty-prints unless `prettyPrint=false`; no parser cares), `Server: ESF`, Google's cache headers; error bodies in the classic envelope without
//!   `status` (real 410/403 captures), with `Retry-After` only where a fault asks for it (§4.2:
//!   unverified whether Google sends it).
//! - **Faults** ([`Fault`], [`FaultKind`]): a FIFO queue; each fault hits the next request to its
//!   endpoint (default: any Calendar endpoint, never the OAuth ones) `times` times: 429 and 403
//!   `rateLimitExceeded` (each with or without `Retry-After`), 403 `userRateLimitExceeded`, 403
//!   `quotaExceeded`, 500 `backendError`, 503, 401 (and the presented token is expired for good), a
//!   dropped connection (the request is read, then the socket is closed without a response), a
//!   delay, and a 200 with a given body (an endless pager, an empty `{}`: what a broken proxy or a
//!   hostile server could answer). Faults are applied before authentication.
//!
//! # Simplifications (stated plainly)
//! - `singleEvents=true` is not implemented: it answers 400 `badRequest` naming the fake. The
//!   fake never expands RRULEs: time filters treat a master as spanning from its first start to its
//!   `UNTIL` (no `UNTIL`, or `COUNT`: unbounded), and any well-formed instance id of a live master
//!   is accepted by get/patch without checking that the rule produces it.
//! - An incremental sync returns every change, not only those inside the full sync's `timeMin`
//!   window (Google's behaviour there is unverified; a superset is what a client must cope with).
//! - Sequence rule: `sequence` is bumped when start, end, recurrence or status change (RFC 5545's
//!   "significant" properties); Google's own rule is undocumented. A reminders-only change keeps
//!   `updated` (§3) but still changes the etag and appears in the next incremental sync.
//! - Tombstones never carry the organizer's details, even with `showDeleted=true`.
//! - Tombstones never expire and tokens never expire on their own: use
//!   [`FakeGoogle::invalidate_sync_tokens`]. `updatedMin` is never "too long ago".
//! - Page tokens are server-side handles of the listing; a page token also carries the first
//!   page's filters, so later pages ignore changed filters (Google calls that undefined).
//! - Patching a cancelled event → 410 `deleted` (the organizer-restore path is not modelled);
//!   `locked` and `forbiddenForNonOrganizer` are not modelled.
//! - JWT signatures are not verified; rate limits exist only as injected faults.
//! - Size: [`FakeGoogle::generate_events`] makes 50,000 resources in about 1 s in a release
//!   build (a few seconds in debug); each stored event keeps its serialized list form, so paging
//!   a large calendar costs little server time.
//! - **freeBusy.query, events.insert, events.delete** (docs/scheduling.md): see
//!   `freebusy.rs`.
//! - HTTP/1.1 only (no h2c); watch/channels, instances, events.import/move/quickAdd are not
//!   served (404).

mod directory;
mod drive;
mod freebusy;
pub use directory::DirUser;
mod errors;
use crate::fake_http;
mod generate;
mod oauth;
mod server;
mod state;
mod time;

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{Map, Value};

#[allow(unused_imports)]
pub use generate::{GenerateSpec, GenerateSummary};
#[allow(unused_imports)]
pub use oauth::s256_challenge;
use state::State;
use time::InstanceStart;

/// Prefix of every Google scope string (§1.5).
pub const SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";
/// The account every [`FakeGoogle::start`] creates; its primary calendar has this id.
pub const DEFAULT_ACCOUNT: &str = "me@example.com";
pub const DEFAULT_TIME_ZONE: &str = "America/Chicago";
/// The OAuth client every [`FakeGoogle::start`] registers.
pub const CLIENT_ID: &str = "fake-client-id.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "fake-client-secret";
/// A refresh token for [`DEFAULT_ACCOUNT`] with [`DEFAULT_SCOPES`], valid from the start.
pub const REFRESH_TOKEN: &str = "1//fake-default-refresh-token";
/// The daemon's suggested minimum scopes (§1.5), without [`SCOPE_PREFIX`].
pub const DEFAULT_SCOPES: &[&str] = &[
    "calendar.events",
    "calendar.calendarlist.readonly",
    "drive.file",
];

/// Full scope URLs for short names (`calendar.events` → `https://www.googleapis.com/auth/...`).
pub fn scopes(short: &[&str]) -> Vec<String> {
    short
        .iter()
        .map(|s| {
            if s.starts_with("https://") || ["openid", "email", "profile"].contains(s) {
                s.to_string()
            } else {
                format!("{SCOPE_PREFIX}{s}")
            }
        })
        .collect()
}

/// The endpoints the fake tells apart (for faults, counters and the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Token,
    Authorize,
    Revoke,
    DeviceCode,
    CalendarList,
    EventsList,
    EventsGet,
    EventsPatch,
    /// `POST /calendar/v3/freeBusy` (`freebusy.rs`).
    FreeBusy,
    /// `POST /calendar/v3/calendars/{id}/events` (`freebusy.rs`).
    EventsInsert,
    /// `DELETE /calendar/v3/calendars/{id}/events/{eventId}` (`freebusy.rs`).
    EventsDelete,
    /// Drive and Docs (`drive.rs`).
    DriveCreate,
    DriveList,
    DriveGet,
    DriveExport,
    DrivePermissionCreate,
    DocsGet,
    DocsBatchUpdate,
    /// Admin SDK Directory `users.list` (`directory.rs`).
    DirectoryUsersList,
    /// Anything else (answered 404).
    Other,
}

impl Endpoint {
    /// Calendar API endpoints (the default target of a fault).
    pub fn is_calendar(self) -> bool {
        matches!(
            self,
            Endpoint::CalendarList
                | Endpoint::EventsList
                | Endpoint::EventsGet
                | Endpoint::EventsPatch
                | Endpoint::FreeBusy
                | Endpoint::EventsInsert
                | Endpoint::EventsDelete
        )
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    /// 429 usageLimits/rateLimitExceeded (SAMPLE:error-429), `Retry-After` if given (seconds or an
    /// HTTP date, sent verbatim).
    TooManyRequests { retry_after: Option<String> },
    /// 403 usageLimits/rateLimitExceeded (SAMPLE:error-403, real).
    RateLimitExceeded403 { retry_after: Option<String> },
    /// 403 usageLimits/userRateLimitExceeded.
    UserRateLimitExceeded403,
    /// 403 usageLimits/quotaExceeded (not to be retried quickly).
    QuotaExceeded403,
    /// 500 global/backendError.
    InternalError500,
    /// 503.
    Unavailable503 { retry_after: Option<String> },
    /// 401 authError; the presented access token stays expired afterwards.
    Unauthorized401,
    /// Read the request, then close the connection without a response.
    DropConnection,
    /// Wait, then serve the request normally.
    Delay(Duration),
    /// Answer 200 with this JSON body instead of the real answer: a broken or hostile server
    /// (an endless pager `{"items":[],"nextPageToken":"…"}`, an empty `{}`). Applied before
    /// authentication like every fault.
    Body200(serde_json::Value),
}

/// One queued fault.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// `None`: the next request to any Calendar endpoint (never the OAuth ones).
    pub endpoint: Option<Endpoint>,
    pub kind: FaultKind,
    /// How many matching requests it hits (consecutively, as they come).
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

/// Behaviour switches.
#[derive(Debug, Clone)]
pub struct Options {
    /// `expires_in` of issued access tokens, and their real lifetime. Default 3599.
    pub access_token_lifetime_secs: u64,
    /// `error_description` of a refresh-token `invalid_grant`. Default "Bad Request", as in the
    /// real capture; "Token has been expired or revoked." is the unverified alternative.
    pub invalid_grant_description: String,
    /// Make every events.list listing start with an empty page and hold at most half of
    /// `maxResults` per page afterwards (both legal, §2.2 / §8 item 1). Default false.
    pub ragged_pages: bool,
    /// Whether a full sync with `timeMax` still ends with `nextSyncToken` (unverified, §2.3 rule 6).
    /// Default false (suppressed).
    pub time_max_keeps_sync_token: bool,
    /// Check that the access token's scopes allow the method (§1.5). Default true.
    pub enforce_scopes: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            access_token_lifetime_secs: 3599,
            invalid_grant_description: "Bad Request".to_string(),
            ragged_pages: false,
            time_max_keeps_sync_token: false,
            enforce_scopes: true,
        }
    }
}

/// A calendar to add to an account's calendarList.
#[derive(Debug, Clone)]
pub struct CalendarSpec {
    pub id: String,
    pub summary: String,
    pub description: String,
    pub time_zone: String,
    /// `freeBusyReader|reader|writerWithoutPrivateAccess|writer|owner`.
    pub access_role: String,
    /// Extra calendarListEntry fields (override the defaults), e.g. `colorId`, `hidden`.
    pub entry_extra: Map<String, Value>,
}

impl Default for CalendarSpec {
    fn default() -> Self {
        CalendarSpec {
            id: String::new(),
            summary: String::new(),
            description: String::new(),
            time_zone: DEFAULT_TIME_ZONE.to_string(),
            access_role: "owner".to_string(),
            entry_extra: Map::new(),
        }
    }
}

/// One request as the fake received it. Credentials never appear: the `authorization` header value
/// is reduced to `"Bearer <redacted>"`, token-like query parameters to `<redacted>`, and form
/// bodies are not kept (only `grant_type`).
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub endpoint: Endpoint,
    pub method: String,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    pub has_authorization: bool,
    pub if_match: Option<String>,
    pub accept_encoding: Option<String>,
    /// The account the bearer token belonged to, when it was valid.
    pub account: Option<String>,
    /// `grant_type` of a token request.
    pub grant_type: Option<String>,
    /// 0 when the connection was dropped.
    pub status: u16,
    pub fault: Option<FaultKind>,
    /// Whether the response body was gzip-encoded.
    pub gzipped: bool,
    /// When the fake received it (for tests of how often something is asked for).
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
}

/// One events.patch call (whatever its outcome).
#[derive(Debug, Clone)]
pub struct PatchRecord {
    /// Resolved (never `primary`).
    pub calendar_id: String,
    pub event_id: String,
    pub send_updates: Option<String>,
    pub supports_attachments: bool,
    pub if_match: Option<String>,
    /// The JSON body as sent (Null if it did not parse).
    pub body: Value,
    pub status: u16,
}

/// A running fake. Dropping it stops the server.
pub struct FakeGoogle {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl FakeGoogle {
    /// Starts with [`Options::default`]: account [`DEFAULT_ACCOUNT`] (primary calendar of the same
    /// id in [`DEFAULT_TIME_ZONE`]), client [`CLIENT_ID`]/[`CLIENT_SECRET`], and [`REFRESH_TOKEN`].
    pub fn start() -> FakeGoogle {
        FakeGoogle::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> FakeGoogle {
        let mut st = State::new(options);
        st.add_account(DEFAULT_ACCOUNT, DEFAULT_TIME_ZONE);
        st.oauth
            .clients
            .insert(CLIENT_ID.to_string(), Some(CLIENT_SECRET.to_string()));
        st.oauth.refresh_tokens.insert(
            REFRESH_TOKEN.to_string(),
            oauth::RefreshGrant {
                account: DEFAULT_ACCOUNT.to_string(),
                client_id: CLIENT_ID.to_string(),
                scopes: scopes(DEFAULT_SCOPES),
                revoked: false,
            },
        );
        let state = Arc::new(Mutex::new(st));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).expect("nonblocking");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shared = state.clone();
        let thread = std::thread::Builder::new()
            .name("fake-google".to_string())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    server::serve(listener, shared, rx).await;
                });
                rt.shutdown_timeout(Duration::from_millis(200));
            })
            .expect("spawn fake-google thread");
        FakeGoogle {
            url,
            state,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The Workspace directory that `users.list` searches (`directory.rs`).
    pub fn set_directory(&self, users: Vec<DirUser>) {
        self.st().directory = users;
    }

    fn st(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("fake_google state")
    }

    /// `primary` → [`DEFAULT_ACCOUNT`]'s calendar; anything else unchanged.
    fn cal(calendar: &str) -> &str {
        if calendar == "primary" {
            DEFAULT_ACCOUNT
        } else {
            calendar
        }
    }

    fn original(original_start: &str) -> InstanceStart {
        InstanceStart::parse(original_start).unwrap_or_else(|| {
            panic!(
                "fake_google: original start {original_start:?} is neither RFC 3339 nor YYYY-MM-DD"
            )
        })
    }

    // ----- where it listens -------------------------------------------------------------------

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The value for the account's `api_base` (same as [`FakeGoogle::url`]).
    pub fn api_base(&self) -> &str {
        &self.url
    }

    pub fn token_url(&self) -> String {
        format!("{}/token", self.url)
    }

    pub fn auth_url(&self) -> String {
        format!("{}/o/oauth2/v2/auth", self.url)
    }

    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.url)
    }

    /// An `[[accounts]]` block for cadenced's config (docs/design.md, Configuration) pointing at this fake, with the
    /// default client.
    pub fn google_account_toml(&self, name: &str, calendars: &[&str]) -> String {
        let cals: Vec<String> = calendars.iter().map(|c| format!("{c:?}")).collect();
        format!(
            "[[accounts]]\nname = {name:?}\nprovider = \"google\"\ncalendars = [{}]\nclient_id = {CLIENT_ID:?}\nclient_secret = {CLIENT_SECRET:?}\napi_base = {:?}\ntoken_url = {:?}\nauth_url = {:?}\n",
            cals.join(", "),
            self.api_base(),
            self.token_url(),
            self.auth_url(),
        )
    }

    // ----- behaviour --------------------------------------------------------------------------

    /// Changes [`Options`] on a running fake.
    pub fn configure(&self, f: impl FnOnce(&mut Options)) {
        f(&mut self.st().options);
    }

    // ----- OAuth ------------------------------------------------------------------------------

    /// Registers an OAuth client (`secret: None` for a public client).
    pub fn add_client(&self, client_id: &str, secret: Option<&str>) {
        self.st()
            .oauth
            .clients
            .insert(client_id.to_string(), secret.map(str::to_string));
    }

    /// Registers a refresh token of [`CLIENT_ID`] for `account` with the given short scopes.
    pub fn add_refresh_token(&self, account: &str, token: &str, short_scopes: &[&str]) {
        self.st().oauth.refresh_tokens.insert(
            token.to_string(),
            oauth::RefreshGrant {
                account: account.to_string(),
                client_id: CLIENT_ID.to_string(),
                scopes: scopes(short_scopes),
                revoked: false,
            },
        );
    }

    /// A live access token for `account` with [`DEFAULT_SCOPES`], without going through /token.
    pub fn mint_access_token(&self, account: &str) -> String {
        self.mint_access_token_with(account, DEFAULT_SCOPES)
    }

    /// [`Self::mint_access_token`] with these scopes (short names, as [`scopes`] takes them).
    pub fn mint_access_token_with(&self, account: &str, short_scopes: &[&str]) -> String {
        let mut st = self.st();
        st.token_counter += 1;
        let token = format!("ya29.fake-minted-{}", st.token_counter);
        let lifetime = st.options.access_token_lifetime_secs;
        st.oauth.access_tokens.insert(
            token.clone(),
            oauth::AccessGrant {
                account: account.to_string(),
                scopes: scopes(short_scopes),
                expires_at: std::time::Instant::now() + Duration::from_secs(lifetime),
                revoked: false,
                refresh_token: None,
            },
        );
        token
    }

    /// Registers an authorization code as if the user had consented: `challenge` is the PKCE
    /// `code_challenge` (method `S256` or `plain`), `redirect_uri` must be repeated at exchange.
    pub fn register_auth_code(
        &self,
        code: &str,
        account: &str,
        redirect_uri: &str,
        challenge: Option<(&str, &str)>,
        short_scopes: &[&str],
    ) {
        self.st().oauth.auth_codes.insert(
            code.to_string(),
            oauth::AuthCode {
                client_id: CLIENT_ID.to_string(),
                redirect_uri: redirect_uri.to_string(),
                challenge: challenge.map(|(c, _)| c.to_string()),
                method: challenge.map_or("plain", |(_, m)| m).to_string(),
                account: account.to_string(),
                scopes: scopes(short_scopes),
                used: false,
            },
        );
    }

    /// Which account the authorize endpoint consents as (default: the first account).
    pub fn set_consenting_account(&self, account: &str) {
        self.st().oauth.consenting_account = Some(account.to_string());
    }

    /// Restricts jwt-bearer grants to these service-account emails (default: any `iss`).
    pub fn add_service_account(&self, email: &str) {
        self.st().oauth.service_accounts.push(email.to_string());
    }

    /// Every access token issued so far stops working (401 on the next Calendar call).
    pub fn expire_access_tokens(&self) {
        self.st().expire_access_tokens(None);
    }

    pub fn expire_access_tokens_of(&self, account: &str) {
        self.st().expire_access_tokens(Some(account));
    }

    /// The refresh token and the access tokens minted from it stop working.
    pub fn revoke_refresh_token(&self, token: &str) {
        self.st().revoke_refresh_token(token);
    }

    // ----- accounts and calendars -------------------------------------------------------------

    /// Adds an account and its primary calendar (id = email).
    pub fn add_account(&self, email: &str, time_zone: &str) {
        self.st().add_account(email, time_zone);
    }

    /// Lets anyone read `calendar`'s free/busy (ACL role `freeBusyReader` for the domain).
    pub fn share_free_busy(&self, calendar: &str) {
        self.st().free_busy.shared.insert(calendar.to_string());
    }

    /// `(kind, attendee, event id)` for every invitation (`invite`) and cancellation (`cancel`)
    /// events.insert / events.delete sent, in order.
    pub fn outbox(&self) -> Vec<(String, String, String)> {
        self.st().free_busy.outbox.clone()
    }

    /// What freeBusy.query would answer as `calendar`'s busy periods over `[from, to)`.
    pub fn busy(&self, calendar: &str, from: &str, to: &str) -> Vec<(String, String)> {
        let p = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("RFC 3339")
                .with_timezone(&chrono::Utc)
        };
        let st = self.st();
        freebusy::busy_of(&st, Self::cal(calendar), p(from), p(to))
            .into_iter()
            .map(|(a, b)| (a.to_rfc3339(), b.to_rfc3339()))
            .collect()
    }

    /// Adds a calendar to `account`'s calendarList (shared calendars may be added to several).
    pub fn add_calendar(&self, account: &str, spec: CalendarSpec) {
        self.st().add_calendar(account, spec);
    }

    // ----- events (each mutation is one or more changes with new etags) -----------------------

    /// Inserts an event (fills id, etag, created, updated, iCalUID, ... like Google) and returns
    /// the stored resource. `calendar` may be `primary` (the default account's).
    pub fn insert_event(&self, calendar: &str, event: Value) -> Value {
        self.st().insert_event(Self::cal(calendar), event)
    }

    /// Inserts Event items as they are (e.g. a sample page's `items`), except that each gets a new
    /// etag and `updated`. Cancelled ones become tombstones.
    pub fn insert_items(&self, calendar: &str, items: &[Value]) {
        let mut st = self.st();
        for item in items {
            st.write(Self::cal(calendar), item.clone(), false);
        }
    }

    /// Merge-patches an event as its organizer would (sequence bumped on start/end/recurrence/
    /// status changes).
    pub fn update_event(&self, calendar: &str, id: &str, patch: Value) -> Value {
        self.st().update_event(Self::cal(calendar), id, &patch)
    }

    /// Creates or changes the exception of a series at `original_start` (RFC 3339 with offset, or
    /// `YYYY-MM-DD` for all-day series) by merge-patching it.
    pub fn modify_instance(
        &self,
        calendar: &str,
        master_id: &str,
        original_start: &str,
        patch: Value,
    ) -> Value {
        self.st().modify_instance(
            Self::cal(calendar),
            master_id,
            Self::original(original_start),
            &patch,
        )
    }

    /// Moves one instance: an exception with new `start`/`end` (RFC 3339 with offset), written in
    /// the master's zone.
    pub fn move_instance(
        &self,
        calendar: &str,
        master_id: &str,
        original_start: &str,
        new_start: &str,
        new_end: &str,
    ) -> Value {
        let zone = {
            let st = self.st();
            st.calendar(Self::cal(calendar)).events[master_id].resource["start"]["timeZone"]
                .as_str()
                .map(str::to_string)
        };
        let edt = |s: &str| {
            let t = time::parse_rfc3339(s).expect("RFC 3339 with offset");
            InstanceStart::Timed(t).to_edt(zone.as_deref())
        };
        let patch = serde_json::json!({"start": edt(new_start), "end": edt(new_end)});
        self.modify_instance(calendar, master_id, original_start, patch)
    }

    /// Cancels one instance of a series (a cancelled-instance tombstone).
    pub fn cancel_instance(&self, calendar: &str, master_id: &str, original_start: &str) -> Value {
        self.st().cancel_instance(
            Self::cal(calendar),
            master_id,
            Self::original(original_start),
        )
    }

    /// Deletes an event (a master: the whole series; an exception: cancels that instance).
    pub fn delete_event(&self, calendar: &str, id: &str) {
        self.st().delete_event(Self::cal(calendar), id);
    }

    /// Deletes a whole series: one tombstone for the master; exceptions vanish without tombstones.
    pub fn delete_series(&self, calendar: &str, master_id: &str) {
        self.st().delete_series(Self::cal(calendar), master_id);
    }

    /// Sets `email`'s `responseStatus` on an event, an exception, or (by instance id
    /// `<master>_<YYYYMMDDTHHMMSSZ>`) an unmodified instance, which becomes an exception.
    pub fn set_response_status(&self, calendar: &str, event_id: &str, email: &str, status: &str) {
        self.st()
            .set_response_status(Self::cal(calendar), event_id, email, status);
    }

    /// "This and following": cuts the series before `from_original_start` and starts a new master
    /// `<id>_R<YYYYMMDDTHHMMSS>` there with `patch` applied; returns the new master.
    pub fn split_series(
        &self,
        calendar: &str,
        master_id: &str,
        from_original_start: &str,
        patch: Value,
    ) -> Value {
        self.st().split_series(
            Self::cal(calendar),
            master_id,
            Self::original(from_original_start),
            &patch,
        )
    }

    /// The id of the instance of `master_id` at `original_start` (`<master>_<YYYYMMDDTHHMMSSZ>`).
    pub fn instance_id(master_id: &str, original_start: &str) -> String {
        format!("{master_id}_{}", Self::original(original_start).id_suffix())
    }

    /// Fills a calendar with `spec.count` generated resources; see [`GenerateSpec`].
    pub fn generate_events(&self, calendar: &str, spec: &GenerateSpec) -> GenerateSummary {
        self.st().generate_events(Self::cal(calendar), spec)
    }

    /// The next incremental sync of `calendar` (any token issued so far) answers 410.
    pub fn invalidate_sync_tokens(&self, calendar: &str) {
        self.st().invalidate_sync_tokens(Self::cal(calendar));
    }

    // ----- inspection -------------------------------------------------------------------------

    /// The server-side events of a calendar sorted by id, as a full sync with default parameters
    /// returns them: live events and cancelled instances (as tombstones).
    pub fn snapshot(&self, calendar: &str) -> Vec<Value> {
        self.st().snapshot(Self::cal(calendar), false)
    }

    /// Like [`FakeGoogle::snapshot`], plus the tombstones of deleted events and series.
    pub fn snapshot_with_tombstones(&self, calendar: &str) -> Vec<Value> {
        self.st().snapshot(Self::cal(calendar), true)
    }

    /// The stored resource of one event (full, even when cancelled).
    pub fn event(&self, calendar: &str, id: &str) -> Option<Value> {
        self.st()
            .calendar(Self::cal(calendar))
            .events
            .get(id)
            .map(|e| e.resource.clone())
    }

    // ----- faults -----------------------------------------------------------------------------

    pub fn push_fault(&self, fault: Fault) {
        self.st().faults.push_back(fault);
    }

    pub fn clear_faults(&self) {
        self.st().faults.clear();
    }

    /// Faults not yet consumed (counting `times`).
    pub fn pending_faults(&self) -> u32 {
        self.st().faults.iter().map(|f| f.times).sum()
    }

    // ----- log and counters -------------------------------------------------------------------

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

    /// How many requests reached `endpoint` (faulted and dropped ones included).
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
        st.patches.clear();
    }

    /// Every events.patch call, with `sendUpdates`, `If-Match` and the body.
    pub fn patches(&self) -> Vec<PatchRecord> {
        self.st().patches.clone()
    }

    /// The Drive files (Google Docs) of every account, by id: (name, app properties, text).
    pub fn drive_files(&self) -> Vec<(String, String, serde_json::Map<String, Value>, String)> {
        self.st()
            .drive
            .files
            .values()
            .map(|f| {
                (
                    f.id.clone(),
                    f.name.clone(),
                    f.app_properties.clone(),
                    f.text.clone(),
                )
            })
            .collect()
    }

    /// The text of a Google Doc.
    pub fn doc_text(&self, id: &str) -> String {
        self.st().drive.files[id].text.clone()
    }

    /// A collaborator edits a Google Doc (new text, new revision).
    pub fn edit_doc(&self, id: &str, edit: impl FnOnce(&str) -> String) {
        let mut st = self.st();
        let f = st.drive.files.get_mut(id).expect("no such document");
        let new = edit(&f.text);
        f.set_text(new);
    }

    /// A collaborator's edit that lands just before the next batchUpdate of `id` is handled.
    pub fn edit_doc_before_next_batch_update(
        &self,
        id: &str,
        edit: impl FnOnce(&str) -> String + Send + 'static,
    ) {
        self.st()
            .drive
            .edits_before_batch
            .push((id.to_string(), Box::new(edit)));
    }

    /// permissions.create calls: (file id, body, `sendNotificationEmail` as sent, status).
    pub fn drive_permissions(&self) -> Vec<(String, Value, Option<String>, u16)> {
        self.st()
            .drive
            .permission_log
            .iter()
            .map(|p| {
                (
                    p.file_id.clone(),
                    p.body.clone(),
                    p.send_notification_email.clone(),
                    p.status,
                )
            })
            .collect()
    }

    /// batchUpdate calls: (document id, body, status).
    pub fn docs_batch_updates(&self) -> Vec<(String, Value, u16)> {
        self.st().drive.batch_log.clone()
    }

    /// Someone else's edit (a merge patch, as [`Self::update_event`]) that lands just before the
    /// next events.patch is handled: the client's `If-Match` then names a stale etag (→ 412).
    /// Queue several to make several writes conflict.
    pub fn edit_before_next_patch(&self, calendar: &str, id: &str, patch: Value) {
        let cal = Self::cal(calendar).to_string();
        self.st()
            .edits_before_patch
            .push_back((cal, id.to_string(), patch));
    }
}

/// The real sample bodies (`samples/`; their origins in `samples/SOURCES.md`), for tests to compare against.
pub mod samples {
    pub const ERROR_410_FULL_SYNC_REQUIRED: &str =
        include_str!("../../../src/providers/google/testdata/error-410-fullSyncRequired.json");
    pub const ERROR_412_CONDITION_NOT_MET: &str =
        include_str!("../../../src/providers/google/testdata/error-412-conditionNotMet.json");
    pub const ERROR_403_RATE_LIMIT: &str =
        include_str!("../../../src/providers/google/testdata/error-403-rateLimitExceeded.json");
    pub const ERROR_429_RATE_LIMIT: &str =
        include_str!("../../../src/providers/google/testdata/error-429-rateLimitExceeded.json");
    pub const TOKEN_ERROR_INVALID_GRANT: &str =
        include_str!("../../../src/providers/google/testdata/token-error-invalid-grant.json");
    pub const TOKEN_RESPONSE_AUTHORIZATION_CODE: &str = include_str!(
        "../../../src/providers/google/testdata/token-response-authorization-code.json"
    );
    pub const CALENDAR_LIST: &str =
        include_str!("../../../src/providers/google/testdata/calendar-list.json");
    pub const EVENT_ALLDAY: &str =
        include_str!("../../../src/providers/google/testdata/event-allday.json");
    pub const EVENT_ITEMS_CANCELLED_TOMBSTONES: &str = include_str!(
        "../../../src/providers/google/testdata/event-items-cancelled-tombstones.json"
    );
    pub const EVENT_ITEMS_RECURRING_ATTENDEES_EXCEPTIONS: &str = include_str!(
        "../../../src/providers/google/testdata/event-items-recurring-attendees-exceptions.json"
    );
    pub const LIST_INCREMENTAL_CANCELLED_INSTANCE: &str = include_str!(
        "../../../src/providers/google/testdata/events-list-incremental-cancelled-instance.json"
    );
    pub const LIST_INCREMENTAL_DELETED_SERIES: &str = include_str!(
        "../../../src/providers/google/testdata/events-list-incremental-deleted-series-tombstone.json"
    );
    pub const LIST_INCREMENTAL_MODIFIED_EXCEPTION: &str = include_str!(
        "../../../src/providers/google/testdata/events-list-incremental-modified-exception.json"
    );
    pub const LIST_INCREMENTAL_SPLIT_SERIES: &str = include_str!(
        "../../../src/providers/google/testdata/events-list-incremental-split-series.json"
    );

    /// Parses one of the constants above.
    pub fn json(text: &str) -> serde_json::Value {
        serde_json::from_str(text).expect("sample JSON")
    }
}
