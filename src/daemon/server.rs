//! The daemon's HTTP listener on `daemon.listen`: `/healthz`, `/metrics`, `/api/report`, and
//! (when the listener is not loopback) `/login` for a browser session.
//!
//! Invariants: when an access token is configured (required for a non-loopback `listen`), every
//! request carries `Authorization: Bearer <token>` or a session cookie obtained at `/login` with
//! that token, else it gets 401; the token is compared in constant time and never logged or
//! echoed. The route `/` is left for the dashboard: [`router`] is the one place routes are
//! mounted.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::service::Shared;

/// The name of the session cookie set by `/login`.
pub const SESSION_COOKIE: &str = "cadenced_session";
/// At most this many browser sessions are remembered (the oldest is forgotten first).
const MAX_SESSIONS: usize = 64;

/// Who may use the listener.
pub struct Access {
    token: String,
    sessions: Mutex<Vec<String>>,
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
        }
    }

    fn token_matches(&self, presented: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(
            presented.as_bytes(),
            self.token.as_bytes(),
        )
        .is_ok()
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if bearer.is_some_and(|t| self.token_matches(t.trim())) {
            return true;
        }
        let cookies: HashSet<&str> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
            .collect();
        if cookies.is_empty() {
            return false;
        }
        let sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        sessions.iter().any(|s| {
            cookies.iter().any(|c| {
                aws_lc_rs::constant_time::verify_slices_are_equal(c.as_bytes(), s.as_bytes())
                    .is_ok()
            })
        })
    }

    fn new_session(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).ok()?;
        let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.remove(0);
        }
        sessions.push(id.clone());
        Some(id)
    }
}

/// Every route of the listener. The dashboard (issue 9) mounts `/` here with one more `.route`.
pub fn router(shared: Arc<Shared>, access: Option<Arc<Access>>) -> Router {
    let routes = Router::new()
        .route("/", get(dashboard))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/report", get(report))
        .route("/login", get(login_page).post(login))
        .route(super::oauth::CALLBACK_PATH, get(oauth_callback));
    routes
        .layer(middleware::from_fn_with_state(
            access.clone(),
            require_access,
        ))
        .with_state(AppState { shared, access })
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
    let open = ["/login", super::oauth::CALLBACK_PATH];
    if open.contains(&request.uri().path()) || access.allows(request.headers()) {
        return next.run(request).await;
    }
    // A person opening the dashboard without a session is sent to sign in.
    if request.uri().path() == "/" && request.method() == axum::http::Method::GET {
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

async fn report(State(app): State<AppState>) -> Response {
    let shared = app.shared;
    let now = shared.clock.now();
    let ctx = shared.cycle_context();
    let config = Arc::clone(&ctx.config);
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
async fn dashboard(State(app): State<AppState>) -> Response {
    let shared = app.shared;
    let now = shared.clock.now();
    let ctx = shared.cycle_context();
    let config = Arc::clone(&ctx.config);
    let html = ctx
        .store
        .call(move |store| Ok(crate::dashboard::page(&config, store, now)))
        .await
        .map_err(|e| e.to_string())
        .and_then(|page| page.map_err(|e| e.to_string()));
    match html {
        Ok(html) => (
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
            .into_response(),
        Err(e) => {
            tracing::error!("dashboard failed: {e}");
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The dashboard could not be built; see the daemon's log.",
            )
        }
    }
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
    use super::oauth::{RelayRefused, relay};
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
    if !access.token_matches(form.token.trim()) {
        return (StatusCode::UNAUTHORIZED, "wrong access token\n").into_response();
    }
    let Some(id) = access.new_session() else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot create a session\n",
        )
            .into_response();
    };
    let cookie = format!("{SESSION_COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/");
    (
        StatusCode::SEE_OTHER,
        [
            (header::SET_COOKIE, cookie),
            (header::LOCATION, "/".to_string()),
        ],
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_and_session_cookies() {
        let access = Access::new("s3cret".into());
        let mut h = HeaderMap::new();
        assert!(!access.allows(&h));
        h.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(!access.allows(&h));
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(access.allows(&h));
        let id = access.new_session().unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("a=b; {SESSION_COOKIE}={id}").parse().unwrap(),
        );
        assert!(access.allows(&h));
        h.insert(
            header::COOKIE,
            format!("{SESSION_COOKIE}=nope").parse().unwrap(),
        );
        assert!(!access.allows(&h));
        assert_eq!(format!("{access:?}"), "Access(<redacted>)");
    }
}
