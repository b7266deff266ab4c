//! Microsoft identity platform (Entra ID v2.0) OAuth: the browser flow behind `cadenced auth
//! ACCOUNT` (authorization code + PKCE on a loopback redirect, [`loopback_flow`], sharing
//! [`crate::providers::loopback`] with Google), the device-code flow behind `--device`,
//! refresh-token import, client credentials (org-wide mode), and the [`Authenticator`] that
//! hands out Graph access tokens.
//!
//! - The grants go through the shared OAuth core ([`crate::providers::oauth`], on the `oauth2`
//!   crate); this file supplies the identity platform's endpoints,
//!   `{login_base}/{tenant}/oauth2/v2.0/{authorize|token|devicecode}`, its scopes, and its
//!   quirks (`response_mode=query` and `scope` on the code redemption, the `AADSTS` code).
//! - A 401 renews the access token once; requests rejected together renew it once in all
//!   ([`Authenticator::refresh_rejected`]).
//! - Tokens live in the per-account token file ([`crate::providers::tokens`]: 0600, atomic).
//! - **Refresh-token rotation**: every refresh answer may carry a new `refresh_token`. It is
//!   written together with the new access token in ONE atomic file write (temp + rename) before
//!   the access token is handed out; if that write fails the refresh fails, so the file never
//!   lags behind a rotation we acted on.
//! - `invalid_grant` on a refresh is [`AuthError::NeedsAuth`], whose message names the AADSTS code
//!   (e.g. `AADSTS700082`) and never a token or the server's free-text description.
//! - Public clients send no `client_secret` (AADSTS700025 otherwise); a confidential client's
//!   secret comes from the config's `client_secret`/`client_secret_env`.
//! - Errors are branched on `error` and `error_codes`, never on the description text
//!   (docs/microsoft-graph.md §1.6).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;
use reqwest::Client;

use crate::config::{MicrosoftAccount, MicrosoftAuth, SecretSource};
use crate::providers::http::HttpError;
use crate::providers::loopback::{FlowOptions, Loopback, open_browser};
use crate::providers::oauth::{self, DeviceError, Grant, GrantError, OAuthClient, Refusal};
pub use crate::providers::oauth::{Clock, system_clock};
use crate::providers::tokens::{self, TokenFileError, Tokens, save_tokens};

/// Delegated scopes requested by the device flow (short names are Graph scopes).
pub const SCOPE: &str = "offline_access Calendars.Read User.Read";
/// Delegated scopes when agendas are linked into events (docs/design.md, Writing to calendars):
/// edit events.
pub const WRITE_SCOPE: &str = "offline_access Calendars.ReadWrite User.Read";
/// The client-credentials scope (application permissions granted to the app).
pub const APP_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Expiry assumed when a token answer has no `expires_in`.
const DEFAULT_EXPIRY: Duration = Duration::from_secs(3599);

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

/// `AADSTS<first code>`, else the `error` string, else the HTTP status.
fn refusal_code(r: &Refusal) -> String {
    match &r.body {
        Some(b) => match b.error_codes.first() {
            Some(c) => format!("AADSTS{c}"),
            None => b.error.clone(),
        },
        None => format!("HTTP {}", r.status.as_u16()),
    }
}

/// `error` and the AADSTS code; the description is left out (it is free text).
fn refusal_reason(r: &Refusal) -> String {
    let status = r.status.as_u16();
    match &r.body {
        Some(b) => match b.error_codes.first() {
            Some(c) => format!("{} (AADSTS{c}), HTTP {status}", b.error),
            None => format!("{}, HTTP {status}", b.error),
        },
        None => format!("HTTP {status}"),
    }
}

impl AuthError {
    fn from_grant(account: &str, e: GrantError) -> AuthError {
        let account = account.to_string();
        match e {
            GrantError::Refused(r) => AuthError::Endpoint {
                account,
                reason: refusal_reason(&r),
            },
            GrantError::Http(source) => AuthError::Http { account, source },
            GrantError::Request(reason) => AuthError::Config { account, reason },
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

fn resolve_secret(
    account: &str,
    secret: Option<&SecretSource>,
) -> Result<Option<String>, AuthError> {
    oauth::resolve_secret(secret).map_err(|reason| AuthError::Config {
        account: account.to_string(),
        reason,
    })
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
        let grant = match &self.ms.auth {
            MicrosoftAuth::Delegated { client_secret } => {
                let Some(refresh) = tokens.refresh_token.clone() else {
                    return Err(AuthError::NotAuthorized {
                        account: self.account.clone(),
                    });
                };
                let secret = resolve_secret(&self.account, client_secret.as_ref())?;
                OAuthClient::new(&self.ms.client_id, secret, &url)
                    .refresh(&self.client, &refresh)
                    .await
                    .map_err(|e| match e {
                        GrantError::Refused(r) if r.error() == Some("invalid_grant") => {
                            AuthError::NeedsAuth {
                                account: self.account.clone(),
                                code: refusal_code(&r),
                            }
                        }
                        e => AuthError::from_grant(&self.account, e),
                    })?
            }
            MicrosoftAuth::ClientCredentials { client_secret, .. } => {
                let secret =
                    resolve_secret(&self.account, Some(client_secret))?.unwrap_or_default();
                OAuthClient::new(&self.ms.client_id, Some(secret), &url)
                    .client_credentials(&self.client, APP_SCOPE)
                    .await
                    .map_err(|e| AuthError::from_grant(&self.account, e))?
            }
        };
        let access = grant.access_token.clone();
        let rotated = grant.store_into(&mut tokens, now, DEFAULT_EXPIRY);
        // One atomic write of the rotated refresh token and the access token, before the access
        // token is used. Without a rotation the write only caches the access token.
        oauth::persist(&self.account, &self.path, &tokens, rotated)?;
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
    let app = OAuthClient::new(&ms.client_id, secret, &endpoint(ms, "token"));
    let device = app
        .device_code(&client, &endpoint(ms, "devicecode"), scope)
        .await
        .map_err(|e| AuthError::from_grant(account, e))?;
    let message = device.message().map(str::to_string).unwrap_or_else(|| {
        format!(
            "To sign in, open {} and enter the code {}.",
            device.verification_uri(),
            device.user_code()
        )
    });
    show(&message);
    match app.poll_device(&client, &device).await {
        Ok(grant) => store_grant(account, state_dir, grant),
        Err(DeviceError::Declined) => Err(flow_err("the sign-in was declined")),
        Err(DeviceError::Expired) => Err(flow_err(
            "the code expired before the sign-in finished; run the command again",
        )),
        Err(DeviceError::BadCode) => Err(flow_err(
            "the identity platform did not recognise the device code",
        )),
        Err(DeviceError::Grant(e)) => Err(AuthError::from_grant(account, e)),
    }
}

/// Store the tokens of a successful sign-in (0600); it must carry a refresh token.
fn store_grant(account: &str, state_dir: &Path, grant: Grant) -> Result<(), AuthError> {
    if grant.refresh_token.as_deref().is_none_or(str::is_empty) {
        return Err(AuthError::Flow {
            account: account.to_string(),
            reason: "no refresh token was granted (the offline_access permission is missing)"
                .into(),
        });
    };
    let mut tokens = Tokens::default();
    grant.store_into(&mut tokens, Utc::now(), DEFAULT_EXPIRY);
    save_tokens(&tokens::token_path(state_dir, account), &tokens)?;
    Ok(())
}

/// `cadenced auth ACCOUNT` without a flag: authorization code with PKCE S256 on a loopback
/// redirect (docs/microsoft-graph.md §1.3), through the shared [`Loopback`]: print (and optionally open) the
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
    let app = OAuthClient::new(&ms.client_id, secret, &endpoint(ms, "token"));
    let url = app
        .authorize_url(
            &endpoint(ms, "authorize"),
            &lb.redirect_uri,
            &options.scope,
            &lb.state,
            &lb.verifier,
            &[("response_mode", "query")],
        )
        .map_err(|e| flow_err(format!("login_base does not give a URL: {e}")))?;
    show(url.as_str());
    if options.open_browser {
        open_browser(url.as_str());
    }
    let code = lb
        .wait_for_code("The identity platform", options.timeout)
        .await
        .map_err(flow_err)?;
    // The identity platform wants the scopes again on the redemption.
    let grant = app
        .exchange_code(
            &client,
            &code,
            &lb.verifier,
            &lb.redirect_uri,
            &[("scope", options.scope.as_str())],
        )
        .await
        .map_err(|e| AuthError::from_grant(account, e))?;
    store_grant(account, state_dir, grant)
}
