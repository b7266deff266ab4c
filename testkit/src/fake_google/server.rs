//! HTTP layer: our own accept loop over hyper's HTTP/1.1 connection driver (so a fault can drop a
//! connection without answering), routing, parameter validation, faults, the request log, gzip.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::{Arc, Mutex};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::errors::{self, Reply};
use super::oauth::AuthFailure;
use super::state::{ListFilter, ListRequest, PatchParams, State};
use super::time;
use super::{Endpoint, FaultKind, PatchRecord, RecordedRequest};

/// Scopes (without the `https://www.googleapis.com/auth/` prefix) each method accepts (§1.5).
const READ_EVENTS: &[&str] = &[
    "calendar.events.readonly",
    "calendar.readonly",
    "calendar.events",
    "calendar",
    "calendar.events.owned",
    "calendar.events.owned.readonly",
    "calendar.app.created",
    "calendar.events.freebusy",
    "calendar.events.public.readonly",
];
const WRITE_EVENTS: &[&str] = &[
    "calendar.events",
    "calendar",
    "calendar.events.owned",
    "calendar.app.created",
];
const FREE_BUSY: &[&str] = &[
    "calendar.readonly",
    "calendar",
    "calendar.freebusy",
    "calendar.events.freebusy",
];
const READ_CALENDAR_LIST: &[&str] = &[
    "calendar.calendarlist.readonly",
    "calendar.calendarlist",
    "calendar.readonly",
    "calendar",
];

/// Parameters that may not be combined with `syncToken` (CAL-SYNC rule 2).
const FORBIDDEN_WITH_SYNC: &[&str] = &[
    "iCalUID",
    "orderBy",
    "privateExtendedProperty",
    "q",
    "sharedExtendedProperty",
    "timeMin",
    "timeMax",
    "updatedMin",
];

/// Query parameters whose values are credentials and must never reach the log.
const SECRET_PARAMS: &[&str] = &["access_token", "oauth_token", "key", "token"];

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake_google: connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

pub type Shared = Arc<Mutex<State>>;

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), req));
                    // A service error (the drop fault) makes hyper close the socket unanswered.
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// What the locked part decided.
enum Outcome {
    Respond(Response<Full<Bytes>>),
    Drop,
}

async fn handle(state: Shared, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    // Read the whole request first, as a real server would before deciding anything.
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let incoming = Req::from_parts(&parts, body, classify);

    // A delay fault sleeps outside the lock, then the request is served normally.
    let delay = {
        let mut st = state.lock().expect("fake_google state");
        take_fault(&mut st, incoming.endpoint, |k| {
            matches!(k, FaultKind::Delay(_))
        })
    };
    if let Some(FaultKind::Delay(d)) = delay {
        tokio::time::sleep(d).await;
    }
    let outcome = {
        let mut st = state.lock().expect("fake_google state");
        process(&mut st, &incoming)
    };
    match outcome {
        Outcome::Respond(r) => Ok(r),
        Outcome::Drop => Err(Dropped),
    }
}

/// A request as the fake sees it (`fake_http`), with this fake's endpoints.
type Req = super::fake_http::Req<Endpoint>;

impl Req {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn params(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

fn classify(method: &str, seg: &[String]) -> Endpoint {
    let s: Vec<&str> = seg.iter().map(String::as_str).collect();
    match (method, s.as_slice()) {
        ("POST", ["token"]) => Endpoint::Token,
        ("GET", ["o", "oauth2", "v2", "auth"]) => Endpoint::Authorize,
        ("POST", ["revoke"]) => Endpoint::Revoke,
        ("POST", ["device", "code"]) => Endpoint::DeviceCode,
        ("GET", ["calendar", "v3", "users", "me", "calendarList"]) => Endpoint::CalendarList,
        ("GET", ["calendar", "v3", "calendars", _, "events"]) => Endpoint::EventsList,
        ("GET", ["calendar", "v3", "calendars", _, "events", _]) => Endpoint::EventsGet,
        ("PATCH", ["calendar", "v3", "calendars", _, "events", _]) => Endpoint::EventsPatch,
        ("POST", ["calendar", "v3", "freeBusy"]) => Endpoint::FreeBusy,
        ("POST", ["calendar", "v3", "calendars", _, "events"]) => Endpoint::EventsInsert,
        ("DELETE", ["calendar", "v3", "calendars", _, "events", _]) => Endpoint::EventsDelete,
        ("POST", ["upload", "drive", "v3", "files"]) => Endpoint::DriveCreate,
        ("GET", ["drive", "v3", "files"]) => Endpoint::DriveList,
        ("GET", ["drive", "v3", "files", _]) => Endpoint::DriveGet,
        ("GET", ["drive", "v3", "files", _, "export"]) => Endpoint::DriveExport,
        ("POST", ["drive", "v3", "files", _, "permissions"]) => Endpoint::DrivePermissionCreate,
        ("GET", ["v1", "documents", _]) => Endpoint::DocsGet,
        ("GET", ["admin", "directory", "v1", "users"]) => Endpoint::DirectoryUsersList,
        ("POST", ["v1", "documents", d]) if d.ends_with(":batchUpdate") => {
            Endpoint::DocsBatchUpdate
        }
        _ => Endpoint::Other,
    }
}

/// Pops the first queued fault that targets `endpoint` and satisfies `pred`.
fn take_fault(
    st: &mut State,
    endpoint: Endpoint,
    pred: impl Fn(&FaultKind) -> bool,
) -> Option<FaultKind> {
    let pos = st.faults.iter().position(|f| {
        let target_ok = match f.endpoint {
            Some(e) => e == endpoint,
            None => endpoint.is_calendar(),
        };
        target_ok && pred(&f.kind)
    })?;
    let f = &mut st.faults[pos];
    let kind = f.kind.clone();
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        st.faults.remove(pos);
    }
    Some(kind)
}

fn process(st: &mut State, req: &Req) -> Outcome {
    let mut record = RecordedRequest {
        endpoint: req.endpoint,
        method: req.method.clone(),
        path: req.raw_path.clone(),
        query: req
            .query
            .iter()
            .map(|(k, v)| {
                let v = if SECRET_PARAMS.contains(&k.as_str()) {
                    "<redacted>".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        headers: req
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if k == "authorization" {
                    let scheme = v.split_whitespace().next().unwrap_or("");
                    format!("{scheme} <redacted>")
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        has_authorization: req.header("authorization").is_some(),
        if_match: req.header("if-match").map(str::to_string),
        accept_encoding: req.header("accept-encoding").map(str::to_string),
        account: None,
        grant_type: None,
        status: 0,
        fault: None,
        gzipped: false,
        at: std::time::Instant::now(),
    };

    let fault = take_fault(st, req.endpoint, |k| !matches!(k, FaultKind::Delay(_)));
    let reply = match fault {
        Some(FaultKind::DropConnection) => {
            record.fault = Some(FaultKind::DropConnection);
            st.log.push(record);
            return Outcome::Drop;
        }
        Some(kind) => {
            record.fault = Some(kind.clone());
            fault_reply(st, &kind, req)
        }
        None => route(st, req, &mut record),
    };
    let gzip = wants_gzip(req.header("accept-encoding"));
    record.status = reply.status;
    record.gzipped = gzip;
    st.log.push(record);
    Outcome::Respond(to_response(reply, gzip))
}

fn fault_reply(st: &mut State, kind: &FaultKind, req: &Req) -> Reply {
    let with_retry_after = |r: Reply, ra: &Option<String>| match ra {
        Some(v) => r.with_header("Retry-After", v.clone()),
        None => r,
    };
    match kind {
        FaultKind::TooManyRequests { retry_after } => {
            with_retry_after(errors::rate_limit_exceeded(429), retry_after)
        }
        FaultKind::RateLimitExceeded403 { retry_after } => {
            with_retry_after(errors::rate_limit_exceeded(403), retry_after)
        }
        FaultKind::UserRateLimitExceeded403 => errors::user_rate_limit_exceeded(),
        FaultKind::QuotaExceeded403 => errors::quota_exceeded(),
        FaultKind::InternalError500 => errors::backend_error(),
        FaultKind::Unavailable503 { retry_after } => {
            with_retry_after(errors::unavailable(), retry_after)
        }
        FaultKind::Unauthorized401 => {
            st.expire_presented_token(req.header("authorization"));
            errors::unauthenticated()
        }
        FaultKind::Body200(body) => Reply::ok(body.clone()),
        FaultKind::DropConnection | FaultKind::Delay(_) => unreachable!("handled by the caller"),
    }
}

fn wants_gzip(accept: Option<&str>) -> bool {
    accept.is_some_and(|a| {
        a.split(',').any(|part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !q_zero
        })
    })
}

fn to_response(reply: Reply, gzip: bool) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    let mut body = Vec::new();
    if reply.status != 304 && reply.status != 302 {
        body = match reply.raw {
            Some(raw) => raw.into_bytes(),
            None => serde_json::to_vec_pretty(&reply.body).expect("json"),
        };
        if !reply
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("Content-Type", "application/json; charset=UTF-8");
        }
        builder = builder.header("Vary", "Origin, X-Origin, Referer");
    }
    builder = builder.header("Server", "ESF").header(
        "Cache-Control",
        if reply.status < 300 {
            "private, max-age=0, must-revalidate, no-transform"
        } else {
            "no-cache, no-store, max-age=0, must-revalidate"
        },
    );
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    if gzip && !body.is_empty() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).expect("gzip");
        body = enc.finish().expect("gzip");
        builder = builder.header("Content-Encoding", "gzip");
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn route(st: &mut State, req: &Req, record: &mut RecordedRequest) -> Reply {
    match req.endpoint {
        Endpoint::Token => {
            let is_form = req
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                return errors::oauth_error(
                    400,
                    "invalid_request",
                    "Content-Type must be application/x-www-form-urlencoded",
                );
            }
            let fields = form(&req.body);
            record.grant_type = fields.get("grant_type").cloned();
            st.token_endpoint(&fields, req.header("authorization"))
        }
        Endpoint::Authorize => match st.authorize(&req.query) {
            Ok(location) => Reply {
                status: 302,
                body: Value::Null,
                headers: vec![("Location".to_string(), location)],
                raw: None,
            },
            Err(r) => r,
        },
        Endpoint::Revoke => {
            let mut fields = form(&req.body);
            if let Some(t) = req.param("token") {
                fields.insert("token".into(), t.to_string());
            }
            st.revoke(fields.get("token").map(String::as_str).unwrap_or(""))
        }
        Endpoint::DeviceCode => {
            // §1.3: the device flow does not allow Calendar scopes (error form unverified).
            errors::oauth_error(400, "invalid_scope", "Invalid device flow scope.")
        }
        Endpoint::Other => errors::not_found(),
        Endpoint::DirectoryUsersList => {
            let caller = match st.authenticate(
                req.header("authorization"),
                super::directory::DIRECTORY_SCOPES,
            ) {
                Ok(account) => account,
                Err(AuthFailure::Unauthenticated) => return errors::unauthenticated(),
                Err(AuthFailure::InsufficientScope) => {
                    return errors::insufficient_scope("directory.users.list");
                }
            };
            record.account = Some(caller.clone());
            super::directory::list(&st.directory, &caller, &req.query)
        }
        Endpoint::DriveCreate
        | Endpoint::DriveList
        | Endpoint::DriveGet
        | Endpoint::DriveExport
        | Endpoint::DrivePermissionCreate
        | Endpoint::DocsGet
        | Endpoint::DocsBatchUpdate => drive_route(st, req, record),
        Endpoint::FreeBusy => {
            let account = match st.authenticate(req.header("authorization"), FREE_BUSY) {
                Ok(a) => a,
                Err(AuthFailure::Unauthenticated) => return errors::unauthenticated(),
                Err(AuthFailure::InsufficientScope) => {
                    return errors::insufficient_scope("calendar.freebusy.query");
                }
            };
            record.account = Some(account.clone());
            super::freebusy::query(st, &account, &req.body)
        }
        Endpoint::EventsInsert | Endpoint::EventsDelete => {
            let account = match st.authenticate(req.header("authorization"), WRITE_EVENTS) {
                Ok(a) => a,
                Err(AuthFailure::Unauthenticated) => return errors::unauthenticated(),
                Err(AuthFailure::InsufficientScope) => {
                    return errors::insufficient_scope(if req.endpoint == Endpoint::EventsInsert {
                        "calendar.v3.Events.Insert"
                    } else {
                        "calendar.v3.Events.Delete"
                    });
                }
            };
            record.account = Some(account.clone());
            let Some(calendar) = st.resolve_calendar(&account, &req.segments[3]) else {
                return errors::not_found();
            };
            if req.endpoint == Endpoint::EventsInsert {
                super::freebusy::insert(
                    st,
                    &account,
                    &calendar,
                    req.param("sendUpdates"),
                    &req.body,
                )
            } else {
                let id = req.segments[5].clone();
                super::freebusy::delete(st, &account, &calendar, &id, req.param("sendUpdates"))
            }
        }
        Endpoint::CalendarList
        | Endpoint::EventsList
        | Endpoint::EventsGet
        | Endpoint::EventsPatch => {
            let (scopes, method) = match req.endpoint {
                Endpoint::CalendarList => (READ_CALENDAR_LIST, "calendar.v3.CalendarList.List"),
                Endpoint::EventsList => (READ_EVENTS, "calendar.v3.Events.List"),
                Endpoint::EventsGet => (READ_EVENTS, "calendar.v3.Events.Get"),
                _ => (WRITE_EVENTS, "calendar.v3.Events.Patch"),
            };
            let account = match st.authenticate(req.header("authorization"), scopes) {
                Ok(a) => a,
                Err(AuthFailure::Unauthenticated) => return errors::unauthenticated(),
                Err(AuthFailure::InsufficientScope) => return errors::insufficient_scope(method),
            };
            record.account = Some(account.clone());
            if let Some(alt) = req.param("alt")
                && alt != "json"
            {
                return errors::invalid_parameter(
                    "alt",
                    &format!(
                        "Invalid value '{alt}'. Values must match the following regular expression: 'json'"
                    ),
                );
            }
            match req.endpoint {
                Endpoint::CalendarList => calendar_list(st, &account, req),
                _ => {
                    let Some(calendar) = st.resolve_calendar(&account, &req.segments[3]) else {
                        return errors::not_found();
                    };
                    match req.endpoint {
                        Endpoint::EventsList => match parse_list_request(req) {
                            Ok(lr) => match st.list_events(&calendar, &lr) {
                                Ok(reply) => reply,
                                Err(r) => r,
                            },
                            Err(r) => r,
                        },
                        Endpoint::EventsGet => get_event(st, &calendar, req),
                        _ => patch_event(st, &calendar, req),
                    }
                }
            }
        }
    }
}

/// Drive and Docs (`drive.rs`).
fn drive_route(st: &mut State, req: &Req, record: &mut RecordedRequest) -> Reply {
    use super::drive::{DOCS_SCOPES, DRIVE_SCOPES};
    let docs = matches!(req.endpoint, Endpoint::DocsGet | Endpoint::DocsBatchUpdate);
    let scopes = if docs { DOCS_SCOPES } else { DRIVE_SCOPES };
    let account = match st.authenticate(req.header("authorization"), scopes) {
        Ok(a) => a,
        Err(AuthFailure::Unauthenticated) => return errors::unauthenticated(),
        Err(AuthFailure::InsufficientScope) => {
            return errors::insufficient_scope(if docs {
                "google.apps.docs.v1.Documents"
            } else {
                "drive.files"
            });
        }
    };
    record.account = Some(account.clone());
    let seg = |i: usize| req.segments.get(i).map(String::as_str).unwrap_or("");
    let d = &mut st.drive;
    match req.endpoint {
        Endpoint::DriveCreate => {
            d.create(&account, req.header("content-type"), &req.query, &req.body)
        }
        Endpoint::DriveList => d.list(&account, &req.query),
        Endpoint::DriveGet => d.get(&account, seg(3), &req.query),
        Endpoint::DriveExport => d.export(&account, seg(3), &req.query),
        Endpoint::DrivePermissionCreate => {
            d.create_permission(&account, seg(3), &req.query, &req.body)
        }
        Endpoint::DocsGet => d.document(&account, seg(2)),
        _ => d.batch_update(&account, seg(2).trim_end_matches(":batchUpdate"), &req.body),
    }
}

fn parse_bool(req: &Req, name: &str) -> Result<Option<bool>, Reply> {
    match req.param(name) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(errors::invalid_parameter(
            name,
            &format!("Invalid boolean value: '{v}'."),
        )),
    }
}

fn parse_max_results(req: &Req, default: usize, max: usize) -> Result<usize, Reply> {
    match req.param("maxResults") {
        None => Ok(default),
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 1 => Ok((n as usize).min(max)),
            _ => Err(errors::invalid_parameter(
                "maxResults",
                &format!("Invalid value '{v}'. Values must be within the range: [1, {max}]"),
            )),
        },
    }
}

fn parse_time(req: &Req, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, Reply> {
    match req.param(name) {
        None => Ok(None),
        Some(v) => time::parse_rfc3339(v)
            .map(Some)
            .ok_or_else(|| errors::invalid_parameter(name, "Bad Request")),
    }
}

fn parse_props(req: &Req, name: &str) -> Result<Vec<(String, String)>, Reply> {
    req.params(name)
        .into_iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| errors::invalid_parameter(name, "Bad Request"))
        })
        .collect()
}

/// Validates events.list parameters (§2.2, §2.3) in roughly the order Google reports them.
fn parse_list_request(req: &Req) -> Result<ListRequest, Reply> {
    let max_results = parse_max_results(req, 250, 2500)?;
    let single_events = parse_bool(req, "singleEvents")?.unwrap_or(false);
    let show_deleted = parse_bool(req, "showDeleted")?.unwrap_or(false);
    parse_bool(req, "showHiddenInvitations")?;
    if single_events {
        // Documented simplification: the fake does not expand recurrences.
        return Err(errors::calendar_error(
            400,
            "global",
            "badRequest",
            "fake_google does not implement singleEvents=true (recurrence expansion).",
            Some(("parameter", "singleEvents")),
        ));
    }
    let order_by = req.param("orderBy").map(str::to_string);
    match order_by.as_deref() {
        None | Some("updated") => {}
        Some("startTime") => {
            return Err(errors::invalid_parameter(
                "orderBy",
                "The requested ordering is not available for the particular query.",
            ));
        }
        Some(other) => {
            return Err(errors::invalid_parameter(
                "orderBy",
                &format!("Invalid value '{other}'. Values must match one of: startTime, updated"),
            ));
        }
    }
    let sync_token = req.param("syncToken").map(str::to_string);
    if sync_token.is_some()
        && let Some(p) = FORBIDDEN_WITH_SYNC.iter().find(|p| req.param(p).is_some())
    {
        // Status and wording unverified (§2.3 rule 2); the doc suggests 400 with the location.
        return Err(errors::invalid_parameter(
            p,
            &format!("The {p} parameter cannot be combined with syncToken."),
        ));
    }
    let time_min = parse_time(req, "timeMin")?;
    let time_max = parse_time(req, "timeMax")?;
    if let (Some(a), Some(b)) = (time_min, time_max)
        && a >= b
    {
        return Err(errors::calendar_error(
            400,
            "calendar",
            "timeRangeEmpty",
            "The specified time range is empty.",
            Some(("parameter", "timeMax")),
        ));
    }
    let updated_min = parse_time(req, "updatedMin")?;
    if let Some(tz) = req.param("timeZone")
        && time::parse_tz(tz).is_none()
    {
        return Err(errors::invalid_parameter(
            "timeZone",
            "Invalid time zone definition.",
        ));
    }
    const TYPES: &[&str] = &[
        "birthday",
        "default",
        "focusTime",
        "fromGmail",
        "outOfOffice",
        "workingLocation",
    ];
    let event_types = req.params("eventTypes");
    if let Some(bad) = event_types.iter().find(|t| !TYPES.contains(&t.as_str())) {
        return Err(errors::invalid_parameter(
            "eventTypes",
            &format!("Invalid event type: {bad}"),
        ));
    }
    Ok(ListRequest {
        max_results,
        page_token: req.param("pageToken").map(str::to_string),
        sync_token,
        filter: ListFilter {
            show_deleted,
            time_min,
            time_max,
            updated_min,
            order_by,
            event_types,
            q: req.param("q").map(str::to_string),
            ical_uid: req.param("iCalUID").map(str::to_string),
            private_props: parse_props(req, "privateExtendedProperty")?,
            shared_props: parse_props(req, "sharedExtendedProperty")?,
        },
    })
}

fn get_event(st: &mut State, calendar: &str, req: &Req) -> Reply {
    let Some((event, _)) = st.get_event(calendar, &req.segments[5]) else {
        return errors::not_found();
    };
    let etag = event["etag"].as_str().unwrap_or_default().to_string();
    if req.header("if-none-match") == Some(etag.as_str()) {
        return Reply {
            status: 304,
            body: Value::Null,
            headers: vec![("ETag".to_string(), etag)],
            raw: None,
        };
    }
    Reply::ok(event).with_header("ETag", etag)
}

fn patch_event(st: &mut State, calendar: &str, req: &Req) -> Reply {
    let event_id = req.segments[5].clone();
    let send_updates = req.param("sendUpdates").map(str::to_string);
    let body: Result<Value, _> = serde_json::from_slice(&req.body);
    let mut rec = PatchRecord {
        calendar_id: calendar.to_string(),
        event_id: event_id.clone(),
        send_updates: send_updates.clone(),
        supports_attachments: req.param("supportsAttachments") == Some("true"),
        if_match: req.header("if-match").map(str::to_string),
        body: body.as_ref().cloned().unwrap_or(Value::Null),
        status: 0,
    };
    let reply = (|| {
        if let Some(s) = &send_updates
            && !["all", "externalOnly", "none"].contains(&s.as_str())
        {
            return errors::invalid_parameter(
                "sendUpdates",
                &format!("Invalid value '{s}'. Values must match one of: all, externalOnly, none"),
            );
        }
        let supports_attachments = match parse_bool(req, "supportsAttachments") {
            Ok(b) => b.unwrap_or(false),
            Err(r) => return r,
        };
        let conference_data_version = match req.param("conferenceDataVersion") {
            None | Some("0") => 0,
            Some("1") => 1,
            Some(v) => {
                return errors::invalid_parameter(
                    "conferenceDataVersion",
                    &format!("Invalid value '{v}'. Values must be within the range: [0, 1]"),
                );
            }
        };
        let Ok(body) = &body else {
            return errors::calendar_error(400, "global", "parseError", "Parse Error", None);
        };
        if let Some((cal, id, edit)) = st.edits_before_patch.pop_front() {
            st.update_event(&cal, &id, &edit);
        }
        let params = PatchParams {
            supports_attachments,
            conference_data_version,
        };
        match st.patch_event(calendar, &event_id, body, req.header("if-match"), &params) {
            Ok(ev) => {
                let etag = ev["etag"].as_str().unwrap_or_default().to_string();
                Reply::ok(ev).with_header("ETag", etag)
            }
            Err(r) => r,
        }
    })();
    rec.status = reply.status;
    st.patches.push(rec);
    reply
}

const ROLE_RANK: &[&str] = &[
    "freeBusyReader",
    "reader",
    "writerWithoutPrivateAccess",
    "writer",
    "owner",
];

fn calendar_list(st: &mut State, account: &str, req: &Req) -> Reply {
    let max_results = match parse_max_results(req, 100, 250) {
        Ok(n) => n,
        Err(r) => return r,
    };
    for b in ["showDeleted", "showHidden", "showOwnOrganizationOnly"] {
        if let Err(r) = parse_bool(req, b) {
            return r;
        }
    }
    let min_role = req.param("minAccessRole");
    if let Some(r) = min_role
        && !ROLE_RANK.contains(&r)
    {
        return errors::invalid_parameter("minAccessRole", &format!("Invalid value '{r}'."));
    }
    let sync_token = req.param("syncToken");
    if sync_token.is_some() {
        for p in ["minAccessRole", "showOwnOrganizationOnly"] {
            if req.param(p).is_some() {
                return errors::invalid_parameter(
                    p,
                    &format!("The {p} parameter cannot be combined with syncToken."),
                );
            }
        }
    }
    let (offset, since, upper) = if let Some(pt) = req.param("pageToken") {
        match st.list_pages.get(pt) {
            Some(v) => *v,
            None => return errors::invalid_parameter("pageToken", "Invalid page token."),
        }
    } else if let Some(tok) = sync_token {
        match st.sync_tokens.get(tok).filter(|i| i.calendar.is_empty()) {
            Some(info) => (0, Some(info.seq), st.seq),
            None => return errors::full_sync_required(),
        }
    } else {
        (0, None, st.seq)
    };
    let min_rank = min_role
        .and_then(|r| ROLE_RANK.iter().position(|x| *x == r))
        .unwrap_or(0);
    let ids = st
        .accounts
        .get(account)
        .map(|a| a.calendars.clone())
        .unwrap_or_default();
    let primary = ids.first().cloned();
    let entries: Vec<Value> = ids
        .iter()
        .filter_map(|id| st.calendars.get(id))
        .filter(|c| c.entry_seq <= upper && since.is_none_or(|s| c.entry_seq > s))
        .filter(|c| {
            ROLE_RANK
                .iter()
                .position(|x| *x == c.access_role)
                .unwrap_or(0)
                >= min_rank
        })
        .map(|c| {
            let mut e = json!({
                "kind": "calendar#calendarListEntry",
                "etag": c.entry_etag,
                "id": c.id,
                "summary": c.summary,
                "timeZone": c.time_zone,
                "colorId": "15",
                "backgroundColor": "#9fc6e7",
                "foregroundColor": "#000000",
                "selected": true,
                "accessRole": c.access_role,
                "defaultReminders": c.default_reminders,
                "conferenceProperties": {"allowedConferenceSolutionTypes": ["hangoutsMeet"]},
            });
            if !c.description.is_empty() {
                e["description"] = json!(c.description);
            }
            if primary.as_deref() == Some(c.id.as_str()) {
                e["primary"] = json!(true);
                e["notificationSettings"] = json!({"notifications": [
                    {"method": "email", "type": "eventCreation"},
                    {"method": "email", "type": "eventChange"},
                    {"method": "email", "type": "eventCancellation"},
                    {"method": "email", "type": "eventResponse"}
                ]});
            }
            for (k, v) in &c.entry_extra {
                e[k] = v.clone();
            }
            e
        })
        .collect();
    let page: Vec<Value> = entries
        .iter()
        .skip(offset)
        .take(max_results)
        .cloned()
        .collect();
    let mut body = json!({
        "kind": "calendar#calendarList",
        "etag": format!("\"p{:014x}\"", upper),
        "items": page,
    });
    if offset + max_results < entries.len() {
        let token = st.new_opaque("listpage");
        st.list_pages
            .insert(token.clone(), (offset + max_results, since, upper));
        body["nextPageToken"] = json!(token);
    } else {
        let token = st.new_opaque("listsync");
        st.sync_tokens.insert(
            token.clone(),
            super::state::SyncTokenInfo {
                calendar: String::new(),
                seq: upper,
                generation: 0,
            },
        );
        body["nextSyncToken"] = json!(token);
    }
    Reply::ok(body)
}
