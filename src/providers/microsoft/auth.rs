//! Microsoft identity platform (Entra ID v2.0) OAuth: the browser flow behind `cadenced auth
//! ACCOUNT` (authorization code + PKCE on a loopback redirect, [`loopback_flow`], sharing
//! [`crate::providers::loopback`] with Google), the device-code flow behind `--device`,
//! refresh-token import, client credentials (org-wide mode), and the [`Authenticator`] that
//! hands out Graph access tokens.
//!
//! - Endpoints: `{login_base}/{tenant}/oauth2/v2.0/{authorize|token|devicecode}`.
//! - A 401 renews the access token once; requests rejected together renew it once in all
//!   ([`Authenticator::refresh_rejected`]).
//! - Tokens live in the shared token file ([`crate::providers::tokens`]: 0600, atomic).
//! - **Refresh-token rotation**: every refresh answer may carry a new `refresh_token`. It is
//!   written together with the new access token in ONE atomic file write (temp + rename) before
//!   the access token is handed out; if that write fails the refresh fails, so the file never
//!   lags behind a rotation we acted on.
//! - `invalid_grant` on a refresh is [`AuthError::NeedsAuth`], whose message names the AADSTS code
//!   (e.g. `AADSTS700082`) and never a token or the server's free-text description.
//! - Public clients send no `client_secret` (AADSTS700025 otherwise); a confidential client's
//!   secret comes from the config's `client_secret`/`client_secret_env`.
//! - Errors are branched on `error` and `error_codes`, never on the description text (§1.6).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Client, StatusCode};
use serde::Deserialize;

use crate::config::{MicrosoftAccount, MicrosoftAuth, SecretSource};
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::loopback::{FlowOptions, Loopback, open_browser};
use crate::providers::tokens::{self, TokenFileError, Tokens, save_tokens};

/// Delegated scopes requested by the device flow (short names are Graph scopes).
pub const SCOPE: &str = "offline_access Calendars.Read User.Read";
/// Delegated scopes when agendas are linked into events (DESIGN §8): edit events.
pub const WRITE_SCOPE: &str = "offline_access Calendars.ReadWrite User.Read";
/// The client-credentials scope (application permissions granted to the app).
pub const APP_SCOPE: &str = "https://graph.microsoft.com/.default";
const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The clock used for expiry decisions (injected in tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "account {account}: the refresh token was revoked or expired ({code}); run `cadenced auth {account} --device`"
    )]
    NeedsAuth { account: String, code: String },
    #[error("account {account}: not authorized yet; run `cadenced auth {account} --device`")]
    NotAuthorized { account: String },
    #[error(transparent)]
    TokenFile(#[from] TokenFileError),
    #[error("account {account}: the token endpoint refused: {reason}")]
    Endpoint { account: String, reason: String },
    #[error("account {account}: {source}")]
    Http { account: String, source: HttpError },
    #[error("account {account}: {reason}")]
    Config { account: String, reason: String },
    #[error("account {account}: authorization failed: {reason}")]
    Flow { account: String, reason: String },
}

/// The token endpoint's answer (success or error). `Debug` is deliberately not derived.
#[derive(Default, Deserialize)]
#[serde(default)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    scope: Option<String>,
    error: Option<String>,
    error_codes: Vec<i64>,
}

impl TokenResponse {
    /// `AADSTS<first code>`, else the `error` string, else the HTTP status.
    fn code(&self, status: StatusCode) -> String {
        match (self.error_codes.first(), &self.error) {
            (Some(c), _) => format!("AADSTS{c}"),
            (None, Some(e)) => e.clone(),
            (None, None) => format!("HTTP {}", status.as_u16()),
        }
    }

    /// `error` and the AADSTS code; the description is left out (it is free text).
    fn reason(&self, status: StatusCode) -> String {
        match (&self.error, self.error_codes.first()) {
            (Some(e), Some(c)) => format!("{e} (AADSTS{c}), HTTP {}", status.as_u16()),
            (Some(e), None) => format!("{e}, HTTP {}", status.as_u16()),
            _ => format!("HTTP {}", status.as_u16()),
        }
    }
}

/// `{login_base}/{tenant}/oauth2/v2.0/{what}`.
pub fn endpoint(ms: &MicrosoftAccount, what: &str) -> String {
    format!(
        "{}/{}/oauth2/v2.0/{what}",
        ms.login_base.trim_end_matches('/'),
        ms.tenant
    )
}

async fn post_form(
    client: &Client,
    account: &str,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(StatusCode, Vec<u8>), AuthError> {
    let resp = http::send_buffered_with_retry(
        url,
        RetryPolicy::default(),
        || client.post(url).form(form),
        |status, _| http::is_retryable(status),
    )
    .await
    .map_err(|source| AuthError::Http {
        account: account.to_string(),
        source,
    })?;
    Ok((resp.status, resp.body))
}

async fn post_token(
    client: &Client,
    account: &str,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(StatusCode, TokenResponse), AuthError> {
    let (status, body) = post_form(client, account, url, form).await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or_default()))
}

fn resolve_secret(
    account: &str,
    secret: Option<&SecretSource>,
) -> Result<Option<String>, AuthError> {
    secret
        .map(|s| {
            s.resolve_from_env()
                .map(|v| v.expose().to_string())
                .map_err(|e| AuthError::Config {
                    account: account.to_string(),
                    reason: format!("client_secret_env: {e}"),
                })
        })
        .transpose()
}

/// Hands out Graph access tokens for one account, refreshing (and rotating) as needed.
pub struct Authenticator {
    account: String,
    ms: MicrosoftAccount,
    path: PathBuf,
    client: Client,
    clock: Clock,
    cache: tokens::TokenCache,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("account", &self.account)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(
        account: &str,
        ms: &MicrosoftAccount,
        state_dir: &Path,
        client: Client,
        clock: Clock,
    ) -> Self {
        Authenticator {
            account: account.to_string(),
            ms: ms.clone(),
            path: tokens::token_path(state_dir, account),
            client,
            clock,
            cache: tokens::TokenCache::default(),
        }
    }

    /// A valid access token: the cached one while it has [`tokens::REFRESH_MARGIN`] left, else a
    /// new one.
    pub async fn access_token(&self) -> Result<String, AuthError> {
        let mut cached = self.cache.lock(&self.path).await?;
        let now = (self.clock)();
        if let Some(t) = cached.as_ref().and_then(|t| t.valid_access_token(now)) {
            return Ok(t.to_string());
        }
        self.renew(&mut cached).await
    }

    /// A new access token regardless of the cached one (after a 401).
    pub async fn refresh(&self) -> Result<String, AuthError> {
        let mut cached = self.cache.lock(&self.path).await?;
        self.renew(&mut cached).await
    }

    /// After a 401 for `rejected`: a new access token, unless a concurrent request has already
    /// renewed it (then the renewed one), so that requests in flight together refresh once.
    pub async fn refresh_rejected(&self, rejected: &str) -> Result<String, AuthError> {
        let mut cached = self.cache.lock(&self.path).await?;
        let now = (self.clock)();
        if let Some(t) = cached.as_ref().and_then(|t| t.valid_access_token(now))
            && t != rejected
        {
            return Ok(t.to_string());
        }
        self.renew(&mut cached).await
    }

    async fn renew(&self, cached: &mut Option<Tokens>) -> Result<String, AuthError> {
        let now = (self.clock)();
        let url = endpoint(&self.ms, "token");
        let mut tokens = cached.clone().unwrap_or_default();
        let (status, r) = match &self.ms.auth {
            MicrosoftAuth::Delegated { client_secret } => {
                let Some(refresh) = tokens.refresh_token.clone() else {
                    return Err(AuthError::NotAuthorized {
                        account: self.account.clone(),
                    });
                };
                let secret = resolve_secret(&self.account, client_secret.as_ref())?;
                let mut form = vec![
                    ("grant_type", "refresh_token"),
                    ("refresh_token", refresh.as_str()),
                    ("client_id", self.ms.client_id.as_str()),
                ];
                if let Some(s) = secret.as_deref() {
                    form.push(("client_secret", s));
                }
                let (status, r) = post_token(&self.client, &self.account, &url, &form).await?;
                if r.error.as_deref() == Some("invalid_grant") {
                    return Err(AuthError::NeedsAuth {
                        account: self.account.clone(),
                        code: r.code(status),
                    });
                }
                (status, r)
            }
            MicrosoftAuth::ClientCredentials { client_secret, .. } => {
                let secret =
                    resolve_secret(&self.account, Some(client_secret))?.unwrap_or_default();
                post_token(
                    &self.client,
                    &self.account,
                    &url,
                    &[
                        ("grant_type", "client_credentials"),
                        ("client_id", self.ms.client_id.as_str()),
                        ("client_secret", secret.as_str()),
                        ("scope", APP_SCOPE),
                    ],
                )
                .await?
            }
        };
        let access = match (&r.access_token, status.is_success()) {
            (Some(a), true) if !a.is_empty() => a.clone(),
            _ => {
                return Err(AuthError::Endpoint {
                    account: self.account.clone(),
                    reason: r.reason(status),
                });
            }
        };
        tokens.access_token = Some(access.clone());
        tokens.expires_at = Some(now + chrono::Duration::seconds(r.expires_in.unwrap_or(3599)));
        let rotated = match r.refresh_token.filter(|t| !t.is_empty()) {
            Some(rt) => {
                tokens.refresh_token = Some(rt);
                true
            }
            None => false,
        };
        if r.scope.is_some() {
            tokens.scope = r.scope;
        }
        // One atomic write of the rotated refresh token and the access token, before the access
        // token is used. Without a rotation the write only caches the access token.
        match save_tokens(&self.path, &tokens) {
            Ok(()) => {}
            Err(e) if rotated => return Err(e.into()),
            Err(e) => tracing::warn!(account = %self.account, "cannot cache the access token: {e}"),
        }
        *cached = Some(tokens);
        Ok(access)
    }
}

fn require_delegated<'a>(
    account: &str,
    ms: &'a MicrosoftAccount,
) -> Result<Option<&'a SecretSource>, AuthError> {
    match &ms.auth {
        MicrosoftAuth::Delegated { client_secret } => Ok(client_secret.as_ref()),
        MicrosoftAuth::ClientCredentials { .. } => Err(AuthError::Config {
            account: account.to_string(),
            reason: "uses client credentials (org-wide mode), which needs no `cadenced auth`"
                .into(),
        }),
    }
}

/// Store a refresh token (from `--refresh-token-stdin`), then verify it with one refresh (which
/// also stores the rotated refresh token).
pub async fn import_refresh_token(
    account: &str,
    ms: &MicrosoftAccount,
    state_dir: &Path,
    client: Client,
    refresh_token: &str,
) -> Result<(), AuthError> {
    require_delegated(account, ms)?;
    save_tokens(
        &tokens::token_path(state_dir, account),
        &Tokens {
            refresh_token: Some(refresh_token.to_string()),
            ..Tokens::default()
        },
    )?;
    Authenticator::new(account, ms, state_dir, client, system_clock())
        .refresh()
        .await
        .map(|_| ())
}

/// The device-code answer (§1.2). `device_code` is a secret of sorts: no `Debug`.
#[derive(Deserialize)]
struct DeviceCode {
    device_code: String,
    user_code: String,
    verification_uri: String,
    #[serde(default = "default_expires")]
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
    #[serde(default)]
    message: Option<String>,
}

fn default_expires() -> u64 {
    900
}

fn default_interval() -> u64 {
    5
}

/// The device-code flow (RFC 8628 as Entra implements it): request a code, `show` the sign-in
/// message (URL + user code), poll the token endpoint every `interval` s (`slow_down` adds 5 s)
/// until the user finishes, declines, or the code expires; store the tokens (0600).
pub async fn device_flow(
    account: &str,
    ms: &MicrosoftAccount,
    state_dir: &Path,
    client: Client,
    show: &mut (dyn FnMut(&str) + Send),
) -> Result<(), AuthError> {
    device_flow_scoped(account, ms, state_dir, client, SCOPE, show).await
}

/// [`device_flow`] asking for `scope` ([`SCOPE`] or [`WRITE_SCOPE`]).
pub async fn device_flow_scoped(
    account: &str,
    ms: &MicrosoftAccount,
    state_dir: &Path,
    client: Client,
    scope: &str,
    show: &mut (dyn FnMut(&str) + Send),
) -> Result<(), AuthError> {
    let flow_err = |reason: &str| AuthError::Flow {
        account: account.to_string(),
        reason: reason.to_string(),
    };
    let secret = resolve_secret(account, require_delegated(account, ms)?)?;
    let (status, body) = post_form(
        &client,
        account,
        &endpoint(ms, "devicecode"),
        &[("client_id", ms.client_id.as_str()), ("scope", scope)],
    )
    .await?;
    let code: DeviceCode = match serde_json::from_slice(&body) {
        Ok(c) if status.is_success() => c,
        _ => {
            let r: TokenResponse = serde_json::from_slice(&body).unwrap_or_default();
            return Err(AuthError::Endpoint {
                account: account.to_string(),
                reason: r.reason(status),
            });
        }
    };
    let message = code.message.clone().unwrap_or_else(|| {
        format!(
            "To sign in, open {} and enter the code {}.",
            code.verification_uri, code.user_code
        )
    });
    show(&message);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in);
    let mut interval = Duration::from_secs(code.interval.max(1));
    let url = endpoint(ms, "token");
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(flow_err(
                "the code expired before the sign-in finished; run the command again",
            ));
        }
        let mut form = vec![
            ("grant_type", DEVICE_CODE_GRANT),
            ("client_id", ms.client_id.as_str()),
            ("device_code", code.device_code.as_str()),
        ];
        if let Some(s) = secret.as_deref() {
            form.push(("client_secret", s));
        }
        let (status, r) = post_token(&client, account, &url, &form).await?;
        if status.is_success()
            && let Some(access) = r.access_token.clone().filter(|a| !a.is_empty())
        {
            return store_grant(account, state_dir, access, r);
        }
        match r.error.as_deref() {
            Some("authorization_pending") => {}
            Some("slow_down") => interval += Duration::from_secs(5),
            Some("authorization_declined") => {
                return Err(flow_err("the sign-in was declined"));
            }
            Some("expired_token" | "code_expired") => {
                return Err(flow_err(
                    "the code expired before the sign-in finished; run the command again",
                ));
            }
            Some("bad_verification_code") => {
                return Err(flow_err(
                    "the identity platform did not recognise the device code",
                ));
            }
            _ => {
                return Err(AuthError::Endpoint {
                    account: account.to_string(),
                    reason: r.reason(status),
                });
            }
        }
    }
}

/// Store the tokens of a successful sign-in (0600); it must carry a refresh token.
fn store_grant(
    account: &str,
    state_dir: &Path,
    access: String,
    r: TokenResponse,
) -> Result<(), AuthError> {
    let Some(refresh) = r.refresh_token.clone().filter(|t| !t.is_empty()) else {
        return Err(AuthError::Flow {
            account: account.to_string(),
            reason: "no refresh token was granted (the offline_access permission is missing)"
                .into(),
        });
    };
    save_tokens(
        &tokens::token_path(state_dir, account),
        &Tokens {
            refresh_token: Some(refresh),
            access_token: Some(access),
            expires_at: Some(Utc::now() + chrono::Duration::seconds(r.expires_in.unwrap_or(3599))),
            scope: r.scope,
        },
    )?;
    Ok(())
}

/// `cadenced auth ACCOUNT` without a flag: authorization code with PKCE S256 on a loopback
/// redirect (§1.3), through the shared [`Loopback`]: print (and optionally open) the
/// `/authorize` URL (`response_mode=query`, `state`), take the code from the redirect to
/// `http://127.0.0.1:<port>` (the port is ignored when Entra matches a registered
/// `http://127.0.0.1` or `http://localhost` redirect, §1.3), redeem it with the verifier and
/// the same `redirect_uri` (a public client sends no secret; a delegated confidential client
/// does), and store the tokens (0600).
pub async fn loopback_flow(
    account: &str,
    ms: &MicrosoftAccount,
    state_dir: &Path,
    client: Client,
    options: FlowOptions,
    show: &mut (dyn FnMut(&str) + Send),
) -> Result<(), AuthError> {
    let flow_err = |reason: String| AuthError::Flow {
        account: account.to_string(),
        reason,
    };
    let secret = resolve_secret(account, require_delegated(account, ms)?)?;
    let lb = Loopback::open(state_dir, options.relay.as_ref())
        .await
        .map_err(flow_err)?;
    let mut url = reqwest::Url::parse(&endpoint(ms, "authorize"))
        .map_err(|e| flow_err(format!("login_base does not give a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &ms.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &lb.redirect_uri)
        .append_pair("response_mode", "query")
        .append_pair("scope", &options.scope)
        .append_pair("state", &lb.state)
        .append_pair("code_challenge", &lb.challenge())
        .append_pair("code_challenge_method", "S256");
    show(url.as_str());
    if options.open_browser {
        open_browser(url.as_str());
    }
    let code = lb
        .wait_for_code("The identity platform", options.timeout)
        .await
        .map_err(flow_err)?;
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", ms.client_id.as_str()),
        ("scope", options.scope.as_str()),
        ("code", code.as_str()),
        ("redirect_uri", lb.redirect_uri.as_str()),
        ("code_verifier", lb.verifier.as_str()),
    ];
    if let Some(s) = secret.as_deref() {
        form.push(("client_secret", s));
    }
    let (status, r) = post_token(&client, account, &endpoint(ms, "token"), &form).await?;
    match r.access_token.clone().filter(|a| !a.is_empty()) {
        Some(access) if status.is_success() => store_grant(account, state_dir, access, r),
        _ => Err(AuthError::Endpoint {
            account: account.to_string(),
            reason: r.reason(status),
        }),
    }
}
