//! The daemon's HTTP listener on `daemon.listen`: `/healthz`, `/metrics`, `/api/report`, the
//! dashboard at `/`, the org rollup at `/org`, and (with an access token) `/login` and `/logout`
//! for a browser session.
//!
//! Invariants:
//! - a request whose `Host` is not the listener's own address (any loopback address or
//!   `localhost` for a loopback listener) or a name in `daemon.hosts` gets 421 and no data, so a
//!   page on another site cannot read the listener through DNS rebinding; a state-changing
//!   request (`POST`) whose `Origin` is present and not such a host gets 403;
//! - when an access token is configured (required for a non-loopback `listen`), every other
//!   request carries `Authorization: Bearer <token>` or a session cookie obtained at `/login`
//!   with that token, else it gets 401; the token is compared in constant time and never logged
//!   or echoed; failed attempts (wrong token at `/login` or as a bearer) are limited to
//!   [`MAX_FAILURES`] per [`FAILURE_WINDOW`] (then 429); sessions end after
//!   [`SESSION_LIFETIME`] or at `/logout`;
//! - connections: at most [`MAX_CONNECTIONS`] at once (more are closed at once), a request head
//!   must arrive within [`HEADER_TIMEOUT`] (an idle keep-alive connection is closed after it),
//!   and a connection lives at most [`CONNECTION_LIFETIME`].
//!
//! The route `/` is the dashboard and `/org` the people-ops rollup (404 without `[org]`):
//! [`router`] is the one place routes are mounted.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::service::Shared;
use crate::config::Config;

/// The name of the session cookie set by `/login`.
pub const SESSION_COOKIE: &str = "cadenced_session";
/// At most this many browser sessions are remembered (the oldest is forgotten first).
const MAX_SESSIONS: usize = 64;
/// A browser session ends this long after sign-in.
pub const SESSION_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// Failed attempts (a wrong token) allowed per [`FAILURE_WINDOW`]; beyond them every attempt
/// gets 429 until the window has passed.
pub const MAX_FAILURES: usize = 10;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// The shortest access token accepted (characters); `check` suggests 32 random bytes.
pub const MIN_TOKEN_LEN: usize = 32;
/// A command that prints a good access token (32 random bytes).
pub const TOKEN_COMMAND: &str = "`head -c 32 /dev/urandom | base64`";
/// Connections served at once; more are closed as soon as they are accepted.
pub const MAX_CONNECTIONS: usize = 32;
/// A request head (first byte to the blank line) must arrive within this; an idle keep-alive
/// connection is closed after it too.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a connection is served (a request in flight is finished first).
pub const CONNECTION_LIFETIME: Duration = Duration::from_secs(120);

/// Who may use the listener.
pub struct Access {
    token: String,
    sessions: Mutex<Vec<(String, Instant)>>,
    failures: Mutex<VecDeque<Instant>>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Access(<redacted>)")
    }
}

impl Access {
    pub fn new(token: String) -> Access {
        Access {
            token,
            sessions: Mutex::new(Vec::new()),
            failures: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether failed attempts are being refused at `now` (too many in the window).
    fn throttled(&self, now: Instant) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        while failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= FAILURE_WINDOW)
        {
            failures.pop_front();
        }
        failures.len() >= MAX_FAILURES
    }

    fn failed(&self, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.push_back(now);
        while failures.len() > MAX_FAILURES {
            failures.pop_front();
        }
    }

    /// End the sessions named by the request's cookies.
    fn end_sessions(&self, headers: &HeaderMap) {
        let cookies = session_cookies(headers);
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|(s, _)| !cookies.contains(s.as_str()));
    }

    fn token_matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            presented.as_bytes(),
            self.token.as_bytes(),
        )
        .is_ok()
    }

    fn allows(&self, headers: &HeaderMap, now: Instant) -> Allowed {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if let Some(t) = bearer {
            if self.throttled(now) {
                return Allowed::Throttled;
            }
            if self.token_matches(t.trim()) {
                return Allowed::Yes;
            }
            self.failed(now);
            return Allowed::No;
        }
        let cookies = session_cookies(headers);
        if cookies.is_empty() {
            return Allowed::No;
        }
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|(_, at)| now.duration_since(*at) < SESSION_LIFETIME);
        let known = sessions.iter().any(|(s, _)| {
            cookies.iter().any(|c| {
                aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), s.as_bytes())
                    .is_ok()
            })
        });
        if known { Allowed::Yes } else { Allowed::No }
    }

    fn new_session(&self, now: Instant) -> Option<String> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).ok()?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.retain(|(_, at)| now.duration_since(*at) < SESSION_LIFETIME);
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push((id.clone(), now));
        Some(id)
    }
}

/// The verdict on a request's credentials.
#[derive(Debug, PartialEq, Eq)]
enum Allowed {
    Yes,
    No,
    /// Too many wrong tokens lately: not even checked.
    Throttled,
}

fn session_cookies(headers: &HeaderMap) -> HashSet<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .collect()
}

/// The `Host` values the listener answers to (see the module doc).
#[derive(Debug, Clone)]
pub struct Hosts {
    listen: SocketAddr,
    /// `daemon.hosts`, lower case, `name` or `name:port`.
    names: Vec<String>,
}

impl Hosts {
    pub fn new(listen: SocketAddr, names: Vec<String>) -> Hosts {
        Hosts { listen, names }
    }

    /// Whether `host` (a `Host` header or the authority of an `Origin`) names this listener.
    /// A request without `Host` (HTTP/1.0) cannot come from a rebinding browser.
    pub fn allows(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let Some((name, port)) = crate::config::split_host_port(&host) else {
            return false;
        };
        // An entry with a port matches exactly; one without matches the name on any port.
        if self
            .names
            .iter()
            .any(|n| match crate::config::split_host_port(n) {
                Some((entry, None)) => entry == name,
                Some((_, Some(_))) => *n == host,
                None => false,
            })
        {
            return true;
        }
        // The listener's own address: only with its port (or none given).
        if port.is_some_and(|p| p.parse::<u16>().ok() != Some(self.listen.port())) {
            return false;
        }
        let ip = name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name)
            .parse::<std::net::IpAddr>();
        let listen_ip = self.listen.ip();
        match ip {
            Ok(ip) if listen_ip.is_unspecified() => !ip.is_unspecified(),
            Ok(ip) if listen_ip.is_loopback() => ip.is_loopback(),
            Ok(ip) => ip == listen_ip,
            Err(_) => listen_ip.is_loopback() && name == "localhost",
        }
    }

    /// Whether an `Origin` header value names this listener (`null` and other schemes do not).
    fn allows_origin(&self, origin: &str) -> bool {
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        authority.is_some_and(|a| !a.contains('/') && self.allows(a))
    }
}

/// Every route of the listener.
pub fn router(shared: Arc<Shared>, access: Option<Arc<Access>>, hosts: Hosts) -> Router {
    let routes = Router::new()
        .route("/", get(dashboard))
        .route("/org", get(org))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/report", get(report))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route(
            crate::providers::oauth_relay::CALLBACK_PATH,
            get(oauth_callback),
        );
    routes
        .layer(middleware::from_fn_with_state(
            access.clone(),
            require_access,
        ))
        // Outermost: a foreign Host learns nothing, not even whether it would need a token.
        .layer(middleware::from_fn_with_state(
            Arc::new(hosts),
            require_host,
        ))
        .with_state(AppState { shared, access })
}

async fn require_host(State(hosts): State<Arc<Hosts>>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let host_ok = headers
        .get(header::HOST)
        .map(|h| h.to_str().is_ok_and(|h| hosts.allows(h)))
        .unwrap_or(true);
    if !host_ok {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this listener does not serve that host name; add it to daemon.hosts if it is yours\n",
        )
            .into_response();
    }
    let safe = matches!(
        *request.method(),
        axum::http::Method::GET | axum::http::Method::HEAD | axum::http::Method::OPTIONS
    );
    let origin_ok = safe
        || headers
            .get(header::ORIGIN)
            .map(|o| o.to_str().is_ok_and(|o| hosts.allows_origin(o)))
            .unwrap_or(true);
    if !origin_ok {
        return (StatusCode::FORBIDDEN, "cross-origin request refused\n").into_response();
    }
    next.run(request).await
}

#[derive(Clone)]
struct AppState {
    shared: Arc<Shared>,
    access: Option<Arc<Access>>,
}

async fn require_access(
    State(access): State<Option<Arc<Access>>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(access) = access else {
        return next.run(request).await;
    };
    // The OAuth callback is reached by the browser coming back from Google: it carries no token,
    // and is protected by the unguessable `state` that `auth` is waiting for.
    let open = [
        "/login",
        "/logout",
        crate::providers::oauth_relay::CALLBACK_PATH,
    ];
    if open.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match access.allows(request.headers(), Instant::now()) {
        Allowed::Yes => return next.run(request).await,
        Allowed::Throttled => return too_many(),
        Allowed::No => {}
    }
    // A person opening a page without a session is sent to sign in.
    if ["/", "/org"].contains(&request.uri().path()) && request.method() == axum::http::Method::GET
    {
        return axum::response::Redirect::to("/login").into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer realm=\"cadenced\"")],
        "authentication required: send `Authorization: Bearer <token>` (the token in daemon.token_env) or sign in at /login\n",
    )
        .into_response()
}

async fn healthz(State(app): State<AppState>) -> Response {
    let verdict = app.shared.verdict();
    let status = if verdict.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(verdict)).into_response()
}

async fn metrics() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
        )],
        crate::metrics::global().render(),
    )
        .into_response()
}

/// `?manager=EMAIL`: org mode's choice of a manager for `/` and `/api/report`.
#[derive(serde::Deserialize, Default)]
struct ManagerQuery {
    manager: Option<String>,
}

/// The config a page is about: the config itself, or in org mode the `manager`'s (else the
/// answer that lists the managers: JSON for the API, links for the page).
fn page_config(
    shared: &Shared,
    q: &ManagerQuery,
    json: bool,
) -> Result<Arc<Config>, Box<Response>> {
    let config = shared.config();
    if config.org.is_none() {
        return Ok(config);
    }
    let managers: Vec<String> = crate::org::configs(&config, shared.state_dir())
        .map(|e| e.managers.into_iter().map(|(m, _)| m.email).collect())
        .unwrap_or_default();
    match q
        .manager
        .as_deref()
        .map(|m| crate::org::config_of(&config, shared.state_dir(), m))
    {
        Some(Ok((_, c))) => Ok(Arc::new(c)),
        other => {
            let why = match other {
                Some(Err(e)) => e.to_string(),
                _ => "org mode: name a manager with ?manager=EMAIL".to_string(),
            };
            Err(Box::new(if json {
                (
                    StatusCode::NOT_FOUND,
                    axum::Json(serde_json::json!({ "error": why, "managers": managers })),
                )
                    .into_response()
            } else {
                let links: String = managers
                    .iter()
                    .map(|m| {
                        // Managers' addresses hold only letters, digits and `._%+-@` (see
                        // `crate::org`): nothing to escape in HTML.
                        let href = m
                            .replace('%', "%25")
                            .replace('+', "%2B")
                            .replace('@', "%40");
                        format!("<li><a href=\"/?manager={href}\">{m}</a></li>")
                    })
                    .collect();
                // `why` may quote the query: escaped.
                let why: String = why
                    .chars()
                    .map(|c| match c {
                        '&' => "&amp;".to_string(),
                        '<' => "&lt;".to_string(),
                        '>' => "&gt;".to_string(),
                        '"' => "&quot;".to_string(),
                        '\'' => "&#39;".to_string(),
                        c => c.to_string(),
                    })
                    .collect();
                page(
                    StatusCode::NOT_FOUND,
                    &format!("{why}</p><ul>{links}</ul><p>"),
                )
            }))
        }
    }
}

async fn report(State(app): State<AppState>, Query(q): Query<ManagerQuery>) -> Response {
    let shared = app.shared;
    let now = shared.clock.now();
    let ctx = shared.cycle_context();
    let config = match page_config(&shared, &q, true) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let doc = ctx
        .store
        .call(move |store| {
            let analysed =
                crate::alerts::analyse_with(&config, store, now, crate::alerts::Freshness::Daemon)?;
            let links = store.agenda_links()?;
            Ok(crate::report::document(&config, &analysed, &links, now))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|doc| doc.map_err(|e| e.to_string()));
    match doc {
        Ok(doc) => axum::Json(doc).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(serde_json::json!({ "error": e })),
        )
            .into_response(),
    }
}

/// The dashboard (issue 9): the same page as `report --html`, at request time.
async fn dashboard(State(app): State<AppState>, Query(q): Query<ManagerQuery>) -> Response {
    let shared = app.shared;
    let now = shared.clock.now();
    let ctx = shared.cycle_context();
    let config = match page_config(&shared, &q, false) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let html = ctx
        .store
        .call(move |store| Ok(crate::dashboard::page(&config, store, now)))
        .await
        .map_err(|e| e.to_string())
        .and_then(|page| page.map_err(|e| e.to_string()));
    match html {
        Ok(html) => html_page(html),
        Err(e) => {
            tracing::error!("dashboard failed: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The dashboard could not be built; see the daemon's log.",
            )
        }
    }
}

/// The people-ops page (docs/org-rollup.md): the same rollup as `report --org`, at request
/// time; 404 without `[org]`.
async fn org(State(app): State<AppState>) -> Response {
    let shared = app.shared;
    let now = shared.clock.now();
    let ctx = shared.cycle_context();
    let config = Arc::clone(&ctx.config);
    let state_dir = ctx.state_dir.clone();
    let built = ctx
        .store
        .call(move |store| {
            Ok(crate::rollup::org_rollup_input(
                &config,
                &state_dir,
                store,
                now,
                crate::alerts::Freshness::Daemon,
            )
            .and_then(|input| crate::rollup::rollup(&input)))
        })
        .await;
    let rollup = match built {
        Ok(Ok(r)) => r,
        Ok(Err(crate::rollup::RollupError::NoOrg)) => {
            return page(
                StatusCode::NOT_FOUND,
                "There is no org rollup: the config has no [org] section.",
            );
        }
        Ok(Err(e)) => {
            tracing::error!("org rollup refused: {e}");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The org rollup could not be built; see the daemon's log.",
            );
        }
        Err(e) => {
            tracing::error!("org rollup failed: {e}");
            return page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The org rollup could not be built; see the daemon's log.",
            );
        }
    };
    match crate::dashboard::org::render(&rollup) {
        Ok(html) => html_page(html),
        Err(e) => {
            tracing::error!("org page failed: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The org rollup could not be built; see the daemon's log.",
            )
        }
    }
}

/// A whole self-contained page (the dashboard's headers).
fn html_page(html: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            // Self-contained: inline styles only, nothing loaded from anywhere.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                ),
            ),
        ],
        html,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn page(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        format!("<!doctype html><title>cadenced</title><p>{text}</p>\n"),
    )
        .into_response()
}

async fn oauth_callback(
    State(app): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<Callback>,
) -> Response {
    use crate::providers::oauth_relay::{RelayRefused, relay};
    let state_dir = app.shared.state_dir().to_path_buf();
    let state = q.state.unwrap_or_default();
    let relayed = tokio::task::spawn_blocking(move || {
        relay(&state_dir, &state, q.code.as_deref(), q.error.as_deref())
    })
    .await
    .unwrap_or_else(|e| Err(RelayRefused::Io(e.to_string())));
    match relayed {
        Ok(()) => page(
            StatusCode::OK,
            "Answer received. You can close this tab and return to cadenced.",
        ),
        Err(RelayRefused::NotExpected) => page(
            StatusCode::BAD_REQUEST,
            "This answer does not belong to a running `cadenced auth`.",
        ),
        Err(RelayRefused::Io(e)) => {
            tracing::error!("cannot relay the OAuth answer: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The daemon could not pass the answer on; see its log.",
            )
        }
    }
}

const LOGIN_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>cadenced: sign in</title></head><body><form method=\"post\" action=\"/login\"><label>Access token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label> <button>Sign in</button></form></body></html>\n";

async fn login_page() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        LOGIN_PAGE,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(app): State<AppState>, form: axum::Form<LoginForm>) -> Response {
    let Some(access) = app.access else {
        // A loopback listener needs no sign-in.
        return (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    };
    let now = Instant::now();
    if access.throttled(now) {
        return too_many();
    }
    if !access.token_matches(form.token.trim()) {
        access.failed(now);
        return (StatusCode::UNAUTHORIZED, "wrong access token\n").into_response();
    }
    let Some(id) = access.new_session(now) else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot create a session\n",
        )
            .into_response();
    };
    let cookie = format!(
        "{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_LIFETIME.as_secs()
    );
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

fn too_many() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, FAILURE_WINDOW.as_secs().to_string())],
        "too many wrong access tokens; try again in a minute\n",
    )
        .into_response()
}

/// `POST /logout`: the session named by the cookie ends; the browser forgets the cookie.
async fn logout(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(access) = &app.access {
        access.end_sessions(&headers);
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

/// Serve `app` on `listener` until `stop` is cancelled, with the connection cap and timeouts of
/// the module doc; then let the connections finish what they are doing (up to `grace`).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: tokio_util::sync::CancellationToken,
    grace: Duration,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut refused_logged = false;
    loop {
        let (stream, _) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!("the listener cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&slots).try_acquire_owned() else {
            if !refused_logged {
                tracing::warn!(
                    "{MAX_CONNECTIONS} connections are open on the listener; refusing more until some close"
                );
                refused_logged = true;
            }
            drop(stream);
            continue;
        };
        refused_logged = false;
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(true);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let lifetime = tokio::time::sleep(CONNECTION_LIFETIME);
            tokio::select! {
                _ = conn.as_mut() => return,
                () = stop.cancelled() => {}
                () = lifetime => {}
            }
            // Finish the request in flight, if any, then close.
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(HEADER_TIMEOUT, conn).await;
        });
    }
    drop(listener);
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(grace, slots.acquire_many(all)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_session_cookies() {
        let access = Access::new("s3cret".into());
        let now = Instant::now();
        let mut h = HeaderMap::new();
        assert_eq!(access.allows(&h, now), Allowed::No);
        h.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert_eq!(access.allows(&h, now), Allowed::No);
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert_eq!(access.allows(&h, now), Allowed::Yes);
        let id = access.new_session(now).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={id}").parse().unwrap(),
        );
        assert_eq!(access.allows(&h, now), Allowed::Yes);
        // Sessions expire.
        let later = now + SESSION_LIFETIME - Duration::from_secs(1);
        assert_eq!(access.allows(&h, later), Allowed::Yes);
        assert_eq!(access.allows(&h, now + SESSION_LIFETIME), Allowed::No);
        let id = access.new_session(now).unwrap();
        h.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}={id}").parse().unwrap(),
        );
        assert_eq!(access.allows(&h, now), Allowed::Yes);
        // And end at logout.
        access.end_sessions(&h);
        assert_eq!(access.allows(&h, now), Allowed::No);
        h.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}=nope").parse().unwrap(),
        );
        assert_eq!(access.allows(&h, now), Allowed::No);
        assert_eq!(format!("{access:?}"), "Access(<redacted>)");
    }

    #[test]
    fn wrong_tokens_are_throttled_then_forgotten() {
        let access = Access::new("s3cret".into());
        let now = Instant::now();
        let mut wrong = HeaderMap::new();
        wrong.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        let mut right = HeaderMap::new();
        right.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        for _ in 0..MAX_FAILURES {
            assert_eq!(access.allows(&wrong, now), Allowed::No);
        }
        // Even the right token waits until the window has passed.
        assert_eq!(access.allows(&right, now), Allowed::Throttled);
        assert_eq!(access.allows(&right, now + FAILURE_WINDOW), Allowed::Yes);
    }

    #[test]
    fn hosts_are_the_listeners_own_address_or_configured_names() {
        let lo = Hosts::new("127.0.0.1:8737".parse().unwrap(), vec![]);
        for ok in [
            "127.0.0.1:8737",
            "localhost:8737",
            "[::1]:8737",
            "127.0.0.1",
            "LOCALHOST:8737",
        ] {
            assert!(lo.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example:8737",
            "evil.example",
            "127.0.0.1.nip.io:8737",
            "localhost:8738",
            "10.0.0.1:8737",
            "",
            "[::1",
        ] {
            assert!(!lo.allows(bad), "{bad}");
        }
        let named = Hosts::new(
            "0.0.0.0:8737".parse().unwrap(),
            vec![
                "cadenced.example.com".into(),
                "other.example:8443".into(),
                "[2001:db8::1]".into(),
            ],
        );
        for ok in [
            "cadenced.example.com",
            "cadenced.example.com:443",
            "other.example:8443",
            "192.0.2.7:8737",
            "[2001:db8::1]:443",
        ] {
            assert!(named.allows(ok), "{ok}");
        }
        for bad in ["other.example", "localhost:8737", "rebind.example:8737"] {
            assert!(!named.allows(bad), "{bad}");
        }
        assert!(named.allows_origin("https://cadenced.example.com"));
        assert!(!named.allows_origin("null"));
        assert!(!named.allows_origin("https://evil.example"));
    }
}
