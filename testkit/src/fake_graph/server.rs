//! HTTP layer: an accept loop over hyper's HTTP/1.1 connection driver (so a fault can drop a
//! connection unanswered), routing, `Prefer` handling, paging, faults and the request log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::errors::{self, Reply};
use super::oauth::AuthFailure;
use super::recur;
use super::state::{State, retz};
use super::{Endpoint, FaultKind, RecordedRequest};

pub type Shared = Arc<Mutex<State>>;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fake_graph: connection dropped by an injected fault")
    }
}

impl std::error::Error for Dropped {}

pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    base_url: String,
    mut shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let base_url = Arc::new(base_url);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let state = state.clone();
                let base_url = base_url.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(state.clone(), base_url.clone(), req));
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Runs its function on the state when dropped (a counter that must come down however the
/// request ends).
struct Countdown(Shared, fn(&mut State));

impl Drop for Countdown {
    fn drop(&mut self) {
        if let Ok(mut st) = self.0.lock() {
            (self.1)(&mut st);
        }
    }
}

enum Outcome {
    Respond(Response<Full<Bytes>>),
    Drop,
}

async fn handle(
    state: Shared,
    base_url: Arc<String>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let incoming = Req::from_parts(&parts, body, classify);
    let graph = incoming.endpoint.is_graph();
    let (delay, over_limit) = {
        let mut st = state.lock().expect("fake_graph state");
        let delay = take_fault(&mut st, incoming.endpoint, |k| {
            matches!(k, FaultKind::Delay(_))
        });
        let mut over = false;
        if graph {
            st.in_flight += 1;
            st.peak_in_flight = st.peak_in_flight.max(st.in_flight);
            over = st
                .options
                .max_concurrent_requests
                .is_some_and(|max| st.in_flight > max);
        }
        (delay, over)
    };
    // Counted down even when the client goes away mid-delay (hyper then drops this future).
    let _in_flight = graph.then(|| Countdown(state.clone(), |st: &mut State| st.in_flight -= 1));
    if let Some(FaultKind::Delay(d)) = delay {
        state.lock().expect("fake_graph state").delayed_now += 1;
        let _delayed = Countdown(state.clone(), |st: &mut State| st.delayed_now -= 1);
        tokio::time::sleep(d).await;
    }
    let outcome = {
        let mut st = state.lock().expect("fake_graph state");
        process(&mut st, &base_url, &incoming, over_limit)
    };
    match outcome {
        Outcome::Respond(r) => Ok(r),
        Outcome::Drop => Err(Dropped),
    }
}

/// A request as the fake sees it (`fake_http`), with this fake's endpoints.
type Req = super::fake_http::Req<Endpoint>;

impl Req {
    /// Query parameters by name, case-insensitively (`$skipToken` = `$skiptoken`).
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All `Prefer` preferences as (lower-case name, unquoted value).
    fn prefer(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "prefer")
            .flat_map(|(_, v)| v.split(','))
            .filter_map(|p| {
                let (k, v) = p.split_once('=')?;
                Some((
                    k.trim().to_ascii_lowercase(),
                    v.trim().trim_matches('"').to_string(),
                ))
            })
            .collect()
    }

    fn preference(&self, name: &str) -> Option<String> {
        self.prefer()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Where the mailbox part of a Graph path ends: `/v1.0/me/...` → 2, `/v1.0/users/{x}/...` → 3.
fn mailbox_len(s: &[String]) -> Option<usize> {
    match s {
        [v, me, ..] if v == "v1.0" && me.eq_ignore_ascii_case("me") => Some(2),
        [v, users, _, ..] if v == "v1.0" && users.eq_ignore_ascii_case("users") => Some(3),
        _ => None,
    }
}

fn classify(method: &str, seg: &[String]) -> Endpoint {
    let lower: Vec<String> = seg.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    if method == "GET" && l.len() == 4 && l[1] == "oauth2" && l[2] == "v2.0" && l[3] == "authorize"
    {
        return Endpoint::Authorize;
    }
    if method == "POST" && l.len() == 4 && l[1] == "oauth2" && l[2] == "v2.0" {
        return match l[3] {
            "token" => Endpoint::Token,
            "devicecode" => Endpoint::DeviceCode,
            _ => Endpoint::Other,
        };
    }
    if method == "GET" && l.len() == 2 && l[0] == "v1.0" && l[1] == "users" {
        return Endpoint::Users;
    }
    let Some(n) = mailbox_len(seg) else {
        return Endpoint::Other;
    };
    if l.get(n) == Some(&"drive") {
        return Endpoint::Drive;
    }
    if method == "PATCH" {
        return match &l[n..] {
            ["events", _] | ["calendar", "events", _] => Endpoint::EventPatch,
            _ => Endpoint::Other,
        };
    }
    if method == "POST" {
        return match &l[n..] {
            ["calendar", "getschedule"] => Endpoint::GetSchedule,
            ["events"] | ["calendar", "events"] => Endpoint::EventCreate,
            _ => Endpoint::Other,
        };
    }
    if method == "DELETE" {
        return match &l[n..] {
            ["events", _] | ["calendar", "events", _] => Endpoint::EventDelete,
            _ => Endpoint::Other,
        };
    }
    if method != "GET" {
        return Endpoint::Other;
    }
    match &l[n..] {
        ["calendarview", "delta"] => Endpoint::CalendarViewDelta,
        ["calendarview"] | ["calendar", "calendarview"] => Endpoint::CalendarView,
        ["events"] | ["calendar", "events"] => Endpoint::EventList,
        ["events", _] | ["calendar", "events", _] => Endpoint::EventGet,
        ["directreports"] => Endpoint::DirectReports,
        _ => Endpoint::Other,
    }
}

fn take_fault(
    st: &mut State,
    endpoint: Endpoint,
    pred: impl Fn(&FaultKind) -> bool,
) -> Option<FaultKind> {
    let pos = st.faults.iter().position(|f| {
        let target = match f.endpoint {
            Some(e) => e == endpoint,
            None => endpoint.is_graph(),
        };
        target && pred(&f.kind)
    })?;
    let f = &mut st.faults[pos];
    let kind = f.kind.clone();
    f.times = f.times.saturating_sub(1);
    if f.times == 0 {
        st.faults.remove(pos);
    }
    Some(kind)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(body).into_owned().collect()
}

fn process(st: &mut State, base_url: &str, req: &Req, over_limit: bool) -> Outcome {
    st.counter += 1;
    let request_id = errors::guid(st.counter);
    let client_request_id = req
        .header("client-request-id")
        .map_or_else(|| request_id.clone(), str::to_string);
    let is_oauth = matches!(
        req.endpoint,
        Endpoint::Token | Endpoint::DeviceCode | Endpoint::Authorize
    );
    let mut record = RecordedRequest {
        endpoint: req.endpoint,
        method: req.method.clone(),
        path: req.raw_path.clone(),
        query: req.query.clone(),
        headers: req
            .headers
            .iter()
            .map(|(k, v)| {
                let v = if k == "authorization" {
                    format!("{} <redacted>", v.split_whitespace().next().unwrap_or(""))
                } else {
                    v.clone()
                };
                (k.clone(), v)
            })
            .collect(),
        form: if is_oauth {
            form_urlencoded::parse(&req.body)
                .into_owned()
                .filter(|(k, _)| ["grant_type", "client_id", "scope"].contains(&k.as_str()))
                .collect()
        } else {
            Vec::new()
        },
        status: 0,
        fault: None,
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
            fault_reply(st, &kind, req, &request_id)
        }
        None if over_limit => errors::throttled().with_header("Retry-After", "2"),
        None => route(st, base_url, req, &request_id),
    };
    record.status = reply.status;
    st.log.push(record);
    let mut reply = reply;
    if !is_oauth {
        reply = reply
            .with_header("request-id", request_id)
            .with_header("client-request-id", client_request_id);
    }
    Outcome::Respond(to_response(reply, is_oauth))
}

fn fault_reply(st: &mut State, kind: &FaultKind, req: &Req, rid: &str) -> Reply {
    let retry = |r: Reply, ra: &Option<u64>| match ra {
        Some(s) => r.with_header("Retry-After", s.to_string()),
        None => r,
    };
    match kind {
        FaultKind::Throttled { retry_after } => retry(errors::throttled(), retry_after),
        FaultKind::Unavailable503 { retry_after } => retry(
            errors::graph_error(503, "serviceNotAvailable", "Service Unavailable", rid),
            retry_after,
        ),
        FaultKind::GatewayTimeout504 => errors::graph_error(504, "UnknownError", "", rid),
        FaultKind::Unauthorized401 => {
            st.expire_presented_token(req.header("authorization"));
            unauthenticated(AuthFailure::Expired, rid)
        }
        FaultKind::Body200(body) => Reply::ok(body.clone()),
        FaultKind::DropConnection | FaultKind::Delay(_) => unreachable!("handled by the caller"),
    }
}

fn unauthenticated(why: AuthFailure, rid: &str) -> Reply {
    let message = match why {
        AuthFailure::Missing => "Access token is empty.",
        AuthFailure::Invalid => "Access token validation failure.",
        AuthFailure::Expired => "Lifetime validation failed, the token is expired.",
    };
    errors::graph_error(401, "InvalidAuthenticationToken", message, rid)
}

fn to_response(reply: Reply, oauth: bool) -> Response<Full<Bytes>> {
    use super::onedrive::RAW_BODY_HEADER;
    // A file download (`onedrive.rs`): the bytes, with the reply's own Content-Type.
    if reply.headers.iter().any(|(k, _)| k == RAW_BODY_HEADER) {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(reply.body.as_str().unwrap_or(""))
            .expect("base64");
        let mut builder = Response::builder().status(reply.status);
        for (k, v) in reply.headers.iter().filter(|(k, _)| k != RAW_BODY_HEADER) {
            builder = builder.header(k.as_str(), v.as_str());
        }
        return builder
            .body(Full::new(Bytes::from(bytes)))
            .expect("response");
    }
    let body = serde_json::to_vec(&reply.body).expect("json");
    let mut builder = Response::builder().status(reply.status).header(
        "Content-Type",
        if oauth {
            "application/json; charset=utf-8"
        } else {
            "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
        },
    );
    builder = builder.header("Cache-Control", "no-store, no-cache");
    for (k, v) in &reply.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

fn basic_auth(header: Option<&str>) -> Option<(String, String)> {
    let h = header?;
    let (scheme, b64) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (id, secret) = s.split_once(':')?;
    let dec = |x: &str| {
        form_urlencoded::parse(format!("x={x}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((dec(id), dec(secret)))
}

fn route(st: &mut State, base_url: &str, req: &Req, rid: &str) -> Reply {
    // Several mailboxes (`mailboxes.rs`): the path names the one every handler below serves.
    match mailbox_len(&req.segments) {
        Some(2) => {
            let owner = st.owner.clone();
            st.activate(&owner);
        }
        Some(3) => {
            let who = req.segments[2].clone();
            st.activate(&who);
        }
        _ => {}
    }
    match req.endpoint {
        Endpoint::Users => {
            if let Err(why) = st.authenticate(req.header("authorization")) {
                return unauthenticated(why, rid);
            }
            st.users_page(&format!("{base_url}{}", req.raw_path), &req.query, rid)
        }
        Endpoint::Token | Endpoint::DeviceCode => {
            let is_form = req
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
            if !is_form {
                st.counter += 1;
                return errors::aad_error(
                    400,
                    "invalid_request",
                    Some(900144),
                    "The request body must contain the following parameter: 'grant_type'.",
                    st.counter,
                );
            }
            let fields = form(&req.body);
            if req.endpoint == Endpoint::Token {
                let tenant = req.segments[0].clone();
                st.token_endpoint(&tenant, &fields, basic_auth(req.header("authorization")))
            } else {
                st.device_code_request(&fields)
            }
        }
        Endpoint::Authorize => st.authorize(&req.query),
        Endpoint::Other => {
            let seg = req.segments.last().cloned().unwrap_or_default();
            errors::graph_error(
                400,
                "BadRequest",
                &format!("Resource not found for the segment '{seg}'."),
                rid,
            )
        }
        Endpoint::Drive => {
            if let Err(why) = st.authenticate(req.header("authorization")) {
                return unauthenticated(why, rid);
            }
            let n = mailbox_len(&req.segments).expect("graph path");
            let tail = req.segments[n + 1..].to_vec();
            st.writes.drive.route(
                &req.method,
                &tail,
                &req.query,
                req.header("if-match"),
                &req.body,
                rid,
            )
        }
        Endpoint::GetSchedule
        | Endpoint::EventCreate
        | Endpoint::EventDelete
        | Endpoint::EventList => {
            if let Err(why) = st.authenticate(req.header("authorization")) {
                return unauthenticated(why, rid);
            }
            match req.endpoint {
                Endpoint::GetSchedule => super::schedule::get_schedule(st, &req.body, rid),
                Endpoint::EventCreate => super::schedule::create_event(st, &req.body, rid),
                Endpoint::EventDelete => {
                    let id = req.segments.last().cloned().unwrap_or_default();
                    super::schedule::delete_event(st, &id, rid)
                }
                _ => super::schedule::list_events(st, req.param("$filter"), rid),
            }
        }
        Endpoint::EventPatch => {
            if let Err(why) = st.authenticate(req.header("authorization")) {
                return unauthenticated(why, rid);
            }
            let id = req.segments.last().cloned().unwrap_or_default();
            super::write::patch_event(st, &id, req.header("if-match"), &req.body, rid)
        }
        Endpoint::CalendarView
        | Endpoint::CalendarViewDelta
        | Endpoint::EventGet
        | Endpoint::DirectReports => {
            let user = match st.authenticate(req.header("authorization")) {
                Ok(u) => u,
                Err(why) => return unauthenticated(why, rid),
            };
            let n = mailbox_len(&req.segments).expect("graph path");
            if n == 2 && user.is_none() {
                return errors::graph_error(
                    400,
                    "BadRequest",
                    "/me request is only valid with delegated authentication flow.",
                    rid,
                );
            }
            if n == 3 {
                let who = &req.segments[2];
                if !who.eq_ignore_ascii_case(&st.default_user)
                    && !who.eq_ignore_ascii_case(&st.user_id)
                {
                    return errors::graph_error(
                        404,
                        "ErrorInvalidUser",
                        &format!("The requested user '{who}' is invalid."),
                        rid,
                    );
                }
            }
            let tz = time_zone(req);
            let mut reply = match req.endpoint {
                Endpoint::CalendarViewDelta => delta(st, base_url, req, rid),
                Endpoint::CalendarView => calendar_view(st, base_url, req, rid),
                Endpoint::DirectReports => {
                    st.direct_reports_page(&format!("{base_url}{}", req.raw_path), &req.query)
                }
                _ => get_event(st, req, rid),
            };
            if reply.status == 200 {
                if let Some((name, tz)) = &tz {
                    render_tz(&mut reply.body, name, *tz);
                }
                let mut applied: Vec<String> = Vec::new();
                if req.endpoint == Endpoint::CalendarViewDelta {
                    applied.push("odata.track-changes".into());
                    if let Some(n) = req.preference("odata.maxpagesize") {
                        applied.push(format!("odata.maxpagesize={n}"));
                    }
                }
                if let Some((name, _)) = &tz {
                    applied.push(format!("outlook.timezone=\"{name}\""));
                }
                if !applied.is_empty() {
                    reply = reply.with_header("Preference-Applied", applied.join(","));
                }
            }
            reply
        }
    }
}

fn time_zone(req: &Req) -> Option<(String, Tz)> {
    let name = req.preference("outlook.timezone")?;
    let tz = recur::zone(&name)?;
    Some((name, tz))
}

fn render_tz(body: &mut Value, name: &str, tz: Tz) {
    if let Some(list) = body.get_mut("value").and_then(Value::as_array_mut) {
        for v in list {
            retz(v, name, tz);
        }
    } else {
        retz(body, name, tz);
    }
}

fn parse_window_value(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| recur::parse_naive(s).map(|n| n.and_utc()))
}

/// `startDateTime`/`endDateTime` (§2.1): an offset wins, none means UTC; Prefer has no effect.
fn window(req: &Req, rid: &str) -> Result<(DateTime<Utc>, DateTime<Utc>), Reply> {
    let (Some(s), Some(e)) = (req.param("startDateTime"), req.param("endDateTime")) else {
        return Err(errors::graph_error(
            400,
            "ErrorInvalidParameter",
            "This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.",
            rid,
        ));
    };
    let parse = |name: &str, v: &str| {
        parse_window_value(v).ok_or_else(|| {
            errors::graph_error(
                400,
                "ErrorInvalidParameter",
                &format!("The value '{v}' of parameter '{name}' is invalid."),
                rid,
            )
        })
    };
    Ok((parse("StartDateTime", s)?, parse("EndDateTime", e)?))
}

fn sync_gone(st: &State, generation: u64, rid: &str) -> Reply {
    errors::sync_state_not_found(
        &st.options.sync_state_not_found_code,
        generation,
        st.generation,
        rid,
    )
}

/// calendarView delta (§2.4).
fn delta(st: &mut State, base_url: &str, req: &Req, rid: &str) -> Reply {
    for p in ["$select", "$expand", "$filter", "$orderby", "$search"] {
        if req.param(p).is_some() {
            return errors::graph_error(
                400,
                "ErrorInvalidUrlQuery",
                &format!("The query parameter '{p}' is not supported with delta."),
                rid,
            );
        }
    }
    let page_size = req
        .preference("odata.maxpagesize")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(st.options.default_page_size);
    let n = mailbox_len(&req.segments).expect("graph path");
    let base_path = format!(
        "/{}/calendarView/delta",
        req.raw_path
            .split('/')
            .skip(1)
            .take(n)
            .collect::<Vec<_>>()
            .join("/")
    );
    let (round, offset, first) = if let Some(tok) = req.param("$deltatoken") {
        let Some(ds) = st.delta_tokens.get(tok).cloned() else {
            return sync_gone(st, 0, rid);
        };
        if ds.generation != st.generation {
            return sync_gone(st, ds.generation, rid);
        }
        (
            st.start_round(&ds.base_path, ds.start, ds.end, Some(&ds)),
            0,
            true,
        )
    } else if let Some(tok) = req.param("$skiptoken") {
        let Some((round, offset, generation)) = st.skip_tokens.get(tok).copied() else {
            return sync_gone(st, 0, rid);
        };
        if generation != st.generation || !st.rounds.contains_key(&round) {
            return sync_gone(st, generation, rid);
        }
        (round, offset, false)
    } else {
        let (ws, we) = match window(req, rid) {
            Ok(w) => w,
            Err(r) => return r,
        };
        (st.start_round(&base_path, ws, we, None), 0, true)
    };
    let link_path = st.rounds[&round].next.base_path.clone();
    let context = format!("{base_url}/v1.0/$metadata#Collection(event)");
    if first && st.options.empty_first_page {
        let tok = st.opaque("skip");
        st.skip_tokens
            .insert(tok.clone(), (round, 0, st.generation));
        return Reply::ok(json!({
            "@odata.context": context,
            "@odata.nextLink": format!("{base_url}{link_path}?$skiptoken={tok}"),
            "value": [],
        }));
    }
    let total = st.rounds[&round].entries.len();
    let end = (offset + page_size).min(total);
    let value: Vec<Value> = st.rounds[&round].entries[offset.min(total)..end].to_vec();
    let mut body = json!({"@odata.context": context});
    if end < total {
        let tok = st.opaque("skip");
        st.skip_tokens
            .insert(tok.clone(), (round, end, st.generation));
        body["@odata.nextLink"] = json!(format!("{base_url}{link_path}?$skiptoken={tok}"));
    } else {
        let tok = match st.rounds[&round].delta_token.clone() {
            Some(t) => t,
            None => {
                let t = st.opaque("delta");
                let next = st.rounds[&round].next.clone();
                st.delta_tokens.insert(t.clone(), next);
                if let Some(r) = st.rounds.get_mut(&round) {
                    r.delta_token = Some(t.clone());
                }
                t
            }
        };
        body["@odata.deltaLink"] = json!(format!("{base_url}{link_path}?$deltatoken={tok}"));
    }
    body["value"] = json!(value);
    Reply::ok(body)
}

fn select_list(req: &Req) -> Option<Vec<String>> {
    req.param("$select").map(|s| {
        s.split(',')
            .map(|x| x.trim().to_ascii_lowercase())
            .filter(|x| !x.is_empty())
            .collect()
    })
}

/// `$select`: keep `@odata.*`, `id` and the named properties (case-insensitive).
fn apply_select(v: &mut Value, select: &[String], keep: &[&str]) {
    if let Some(o) = v.as_object_mut() {
        o.retain(|k, _| {
            k.starts_with("@odata.")
                || k == "id"
                || keep.contains(&k.as_str())
                || select.contains(&k.to_ascii_lowercase())
        });
    }
}

/// calendarView (§2.1).
fn calendar_view(st: &mut State, base_url: &str, req: &Req, rid: &str) -> Reply {
    let (ws, we) = match window(req, rid) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let top = match req.param("$top").map(str::parse::<usize>) {
        None => 10,
        Some(Ok(n)) if n >= 1 => n.min(1000),
        Some(_) => {
            return errors::graph_error(400, "BadRequest", "Invalid $top value.", rid);
        }
    };
    let skip = req
        .param("$skip")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(0);
    let items = st.calendar_view(ws, we);
    let select = select_list(req);
    let mut value: Vec<Value> = items.iter().skip(skip).take(top).cloned().collect();
    if let Some(sel) = &select {
        for v in &mut value {
            apply_select(v, sel, &[]);
        }
    }
    let mut body = json!({
        "@odata.context": format!("{base_url}/v1.0/$metadata#Collection(event)"),
        "value": value,
    });
    if skip + top < items.len() {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &req.query {
            if !k.eq_ignore_ascii_case("$skip") {
                q.append_pair(k, v);
            }
        }
        q.append_pair("$skip", &(skip + top).to_string());
        body["@odata.nextLink"] = json!(format!("{base_url}{}?{}", req.raw_path, q.finish()));
    }
    Reply::ok(body)
}

/// GET /events/{id} (§2.2, §3.3).
fn get_event(st: &mut State, req: &Req, rid: &str) -> Reply {
    let id = req.segments.last().cloned().unwrap_or_default();
    let select = select_list(req);
    let expand = req
        .param("$expand")
        .is_some_and(|e| e.to_ascii_lowercase().contains("exceptionoccurrences"));
    let with_cancelled = select
        .as_ref()
        .is_some_and(|s| s.iter().any(|x| x == "cancelledoccurrences"));
    let Some(mut v) = st.get_event(&id, expand, with_cancelled) else {
        return errors::graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            rid,
        );
    };
    if let Some(sel) = &select {
        apply_select(&mut v, sel, &["exceptionOccurrences"]);
    }
    Reply::ok(v)
}
