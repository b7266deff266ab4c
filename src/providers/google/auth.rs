//! Google OAuth: the token file, access-token refresh, the service-account JWT grant, and the
//! installed-app (loopback + PKCE) flow behind `cadenced auth`.
//!
//! - The grants (authorization code with PKCE, refresh) go through the shared OAuth core
//!   ([`crate::providers::oauth`], on the `oauth2` crate); this file supplies Google's endpoints
//!   (`auth_url`, `token_url`), its scopes, and how its error answers read.
//! - Tokens live in the per-account token file ([`crate::providers::tokens`]: 0600, atomic).
//!   They hold the refresh token and the cached access token with its expiry. [`Tokens`]'
//!   `Debug` is redacted and no error message ever carries a token.
//! - An access token is used until [`REFRESH_MARGIN`] before its expiry, then refreshed with
//!   `grant_type=refresh_token` (the refresh response has no new refresh token: the old one is
//!   kept). A 401 from the API forces one refresh ([`Authenticator::refresh`]).
//! - `invalid_grant` on a refresh is [`AuthError::NeedsAuth`]: the sync marks the account and
//!   tells the user to run `cadenced auth ACCOUNT`.
//! - Service accounts (`service_account_key` + `subject`): an RS256 JWT (`iss`, `scope`, `aud`,
//!   `iat`, `exp` = `iat` + 1 h, `sub`) signed with the key's PKCS#8 RSA key through aws-lc-rs
//!   (already in the build as rustls' provider), posted as `jwt-bearer` (a grant `oauth2` does
//!   not have, so it is the one form built here). The key's `token_uri` is used unless the
//!   account overrides `token_url`.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use reqwest::{Client, StatusCode};
use serde::Deserialize;

use crate::config::{GoogleAccount, GoogleAuth};
use crate::providers::http::HttpError;
#[cfg(test)]
use crate::providers::loopback::random_token;
pub use crate::providers::loopback::{FlowOptions, Relay, pkce_challenge};
use crate::providers::loopback::{Loopback, open_browser};
use crate::providers::oauth::{self, Grant, GrantError, OAuthClient, Refusal};
pub use crate::providers::oauth::{Clock, system_clock};
use crate::providers::tokens::{self, TokenFileError};
pub use crate::providers::tokens::{REFRESH_MARGIN, Tokens, token_path};

/// The scope for reading calendars; all that is requested unless agenda write-back is enabled.
pub const SCOPE: &str = "https://www.googleapis.com/auth/calendar.readonly";
/// Added when agendas are linked into events (docs/design.md, Writing to calendars): edit
/// events.
pub const WRITE_SCOPE: &str = "https://www.googleapis.com/auth/calendar.events";

/// The scopes to request (space-separated): reading always, editing events only with `write`.
pub fn scopes(write: bool) -> String {
    if write {
        format!("{SCOPE} {WRITE_SCOPE}")
    } else {
        SCOPE.to_string()
    }
}
/// Google's token endpoint (the JWT audience when the account does not override `token_url`).
const DEFAULT_TOKEN_URL: &str = GoogleAccount::DEFAULT_TOKEN_URL;

/// Expiry assumed when a token answer has no `expires_in`.
const DEFAULT_EXPIRY: std::time::Duration = std::time::Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "account {account}: the refresh token was revoked or expired; run `cadenced auth {account}`"
    )]
    NeedsAuth { account: String },
    #[error("account {account}: not authorized yet; run `cadenced auth {account}`")]
    NotAuthorized { account: String },
    #[error("token file {path}: {reason}")]
    TokenFile { path: PathBuf, reason: String },
    #[error("account {account}: the token endpoint refused: {reason}")]
    Endpoint { account: String, reason: String },
    #[error("account {account}: {source}")]
    Http { account: String, source: HttpError },
    #[error("account {account}: {reason}")]
    Config { account: String, reason: String },
    #[error("account {account}: service account key {path}: {reason}")]
    ServiceAccountKey {
        account: String,
        path: PathBuf,
        reason: String,
    },
    #[error("account {account}: authorization failed: {reason}")]
    Flow { account: String, reason: String },
}

/// Read a token file; `None` when there is none (see [`tokens::load_tokens`]).
pub fn load_tokens(path: &Path) -> Result<Option<Tokens>, AuthError> {
    tokens::load_tokens(path).map_err(AuthError::from)
}

/// Write a token file atomically with mode 0600 (see [`tokens::save_tokens`]).
pub fn save_tokens(path: &Path, t: &Tokens) -> Result<(), AuthError> {
    tokens::save_tokens(path, t).map_err(AuthError::from)
}

impl From<TokenFileError> for AuthError {
    fn from(e: TokenFileError) -> Self {
        AuthError::TokenFile {
            path: e.path,
            reason: e.reason,
        }
    }
}

/// The JWT grant's answer (success or error).
#[derive(Default, Deserialize)]
#[serde(default)]
struct JwtAnswer {
    access_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// Google's error answers read `error (error_description), HTTP status`.
fn refusal_reason(r: &Refusal) -> String {
    let status = r.status.as_u16();
    match &r.body {
        Some(b) => match &b.error_description {
            Some(d) => format!("{} ({d}), HTTP {status}", b.error),
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

/// Hands out access tokens for one account, refreshing them as needed.
pub struct Authenticator {
    account: String,
    google: GoogleAccount,
    path: PathBuf,
    client: Client,
    clock: Clock,
    cache: tokens::TokenCache,
    /// The scopes a service-account assertion asks for (see [`scopes`]).
    scope: String,
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
        google: &GoogleAccount,
        state_dir: &Path,
        client: Client,
        clock: Clock,
    ) -> Self {
        Authenticator {
            account: account.to_string(),
            google: google.clone(),
            path: token_path(state_dir, account),
            client,
            clock,
            cache: tokens::TokenCache::default(),
            scope: SCOPE.to_string(),
        }
    }

    /// Ask for these scopes (see [`scopes`]). For a service account a cached token that lacks
    /// one of them is renewed; a user token carries what the user granted at `cadenced auth`.
    pub fn with_scope(mut self, scope: String) -> Self {
        self.scope = scope;
        self
    }

    fn cached_covers_scope(&self, t: &Tokens) -> bool {
        match (&self.google.auth, &t.scope) {
            (GoogleAuth::ServiceAccount { .. }, Some(granted)) => self
                .scope
                .split_whitespace()
                .all(|want| granted.split_whitespace().any(|g| g == want)),
            _ => true,
        }
    }

    /// A valid access token: the cached one while it has [`REFRESH_MARGIN`] left, else a new one.
    pub async fn access_token(&self) -> Result<String, AuthError> {
        let mut cached = self.cache.lock(&self.path).await?;
        let now = (self.clock)();
        if let Some(t) = cached
            .as_ref()
            .filter(|t| self.cached_covers_scope(t))
            .and_then(|t| t.valid_access_token(now))
        {
            return Ok(t.to_string());
        }
        self.renew(&mut cached).await
    }

    /// A new access token regardless of the cached one (after a 401).
    pub async fn refresh(&self) -> Result<String, AuthError> {
        let mut cached = self.cache.lock(&self.path).await?;
        self.renew(&mut cached).await
    }

    async fn renew(&self, cached: &mut Option<Tokens>) -> Result<String, AuthError> {
        let now = (self.clock)();
        let mut tokens = cached.clone().unwrap_or_default();
        let grant = match &self.google.auth {
            GoogleAuth::OAuth {
                client_id,
                client_secret,
            } => {
                let Some(refresh) = tokens.refresh_token.clone() else {
                    return Err(AuthError::NotAuthorized {
                        account: self.account.clone(),
                    });
                };
                let secret = resolve_secret(&self.account, client_secret.as_ref())?;
                OAuthClient::new(client_id, secret, &self.google.token_url)
                    .refresh(&self.client, &refresh)
                    .await
                    .map_err(|e| match e {
                        GrantError::Refused(r) if r.error() == Some("invalid_grant") => {
                            AuthError::NeedsAuth {
                                account: self.account.clone(),
                            }
                        }
                        e => AuthError::from_grant(&self.account, e),
                    })?
            }
            GoogleAuth::ServiceAccount { key, subject } => {
                let mut grant = self.service_account_grant(key, subject, now).await?;
                // A service-account answer names no scope: the token has what the assertion
                // asked for.
                grant.scope.get_or_insert_with(|| self.scope.clone());
                grant
            }
        };
        let access = grant.access_token.clone();
        // Google's refresh answers carry no new refresh token, so the write normally only caches
        // the access token; should one come, it is stored before use as for Microsoft.
        let rotated = grant.store_into(&mut tokens, now, DEFAULT_EXPIRY);
        oauth::persist(&self.account, &self.path, &tokens, rotated)?;
        *cached = Some(tokens);
        Ok(access)
    }

    /// The JWT-bearer grant of a service account (domain-wide delegation to `subject`).
    async fn service_account_grant(
        &self,
        key: &Path,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<Grant, AuthError> {
        let key_file = read_service_key(&self.account, key)?;
        let url = if self.google.token_url == DEFAULT_TOKEN_URL {
            key_file
                .token_uri
                .clone()
                .unwrap_or_else(|| DEFAULT_TOKEN_URL.into())
        } else {
            self.google.token_url.clone()
        };
        let assertion = service_account_jwt(
            &self.account,
            key,
            &key_file,
            subject,
            &url,
            now,
            &self.scope,
        )?;
        let (status, body) = oauth::post_form(
            &self.client,
            &url,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ],
        )
        .await
        .map_err(|source| AuthError::Http {
            account: self.account.clone(),
            source,
        })?;
        let r: JwtAnswer = serde_json::from_slice(&body).unwrap_or_default();
        match r.access_token {
            Some(access_token) if status.is_success() && !access_token.is_empty() => Ok(Grant {
                access_token,
                refresh_token: None,
                expires_in: r.expires_in.map(std::time::Duration::from_secs),
                scope: r.scope,
            }),
            _ => Err(AuthError::Endpoint {
                account: self.account.clone(),
                reason: jwt_reason(status, &r),
            }),
        }
    }
}

fn jwt_reason(status: StatusCode, r: &JwtAnswer) -> String {
    refusal_reason(&Refusal {
        status,
        body: r.error.clone().map(|error| oauth::ErrorBody {
            error,
            error_description: r.error_description.clone(),
            ..oauth::ErrorBody::default()
        }),
    })
}

fn resolve_secret(
    account: &str,
    secret: Option<&crate::config::SecretSource>,
) -> Result<Option<String>, AuthError> {
    oauth::resolve_secret(secret).map_err(|reason| AuthError::Config {
        account: account.to_string(),
        reason,
    })
}

/// The fields of a service-account key file that the grant needs.
#[derive(Deserialize)]
struct ServiceKey {
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

fn read_service_key(account: &str, path: &Path) -> Result<ServiceKey, AuthError> {
    let err = |reason: String| AuthError::ServiceAccountKey {
        account: account.to_string(),
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| {
        err(format!(
            "not a service account key (client_email, private_key) ({e})"
        ))
    })
}

/// Build and sign the JWT-bearer assertion.
fn service_account_jwt(
    account: &str,
    path: &Path,
    key: &ServiceKey,
    subject: &str,
    audience: &str,
    now: DateTime<Utc>,
    scope: &str,
) -> Result<String, AuthError> {
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
    let err = |reason: &str| AuthError::ServiceAccountKey {
        account: account.to_string(),
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let der = pem_body(&key.private_key).ok_or_else(|| err("private_key is not a PEM key"))?;
    let pair =
        RsaKeyPair::from_pkcs8(&der).map_err(|_| err("private_key is not a PKCS#8 RSA key"))?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &key.private_key_id {
        header["kid"] = serde_json::Value::String(kid.clone());
    }
    let iat = now.timestamp();
    let claims = serde_json::json!({
        "iss": key.client_email,
        "scope": scope,
        "aud": audience,
        "iat": iat,
        "exp": iat + 3600,
        "sub": subject,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut sig = vec![0u8; pair.public_modulus_len()];
    pair.sign(
        &RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut sig,
    )
    .map_err(|_| err("signing failed"))?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The DER bytes of a `-----BEGIN PRIVATE KEY-----` block.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let b64: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

// ---------------------------------------------------------------------------------------------
// `cadenced auth`: installed-app flow and refresh-token import.

/// Store a refresh token (from `--refresh-token-stdin`), then verify it by refreshing once.
pub async fn import_refresh_token(
    account: &str,
    google: &GoogleAccount,
    state_dir: &Path,
    client: Client,
    refresh_token: &str,
) -> Result<(), AuthError> {
    let path = token_path(state_dir, account);
    save_tokens(
        &path,
        &Tokens {
            refresh_token: Some(refresh_token.to_string()),
            ..Tokens::default()
        },
    )?;
    Authenticator::new(account, google, state_dir, client, system_clock())
        .refresh()
        .await
        .map(|_| ())
}

/// The installed-app flow: PKCE S256 on a loopback redirect, `state` checked, code exchanged at
/// `token_url`, tokens stored 0600. `show` receives the URL to print.
pub async fn loopback_flow(
    account: &str,
    google: &GoogleAccount,
    state_dir: &Path,
    client: Client,
    options: FlowOptions,
    show: &mut (dyn FnMut(&str) + Send),
) -> Result<(), AuthError> {
    let flow_err = |reason: String| AuthError::Flow {
        account: account.to_string(),
        reason,
    };
    let GoogleAuth::OAuth {
        client_id,
        client_secret,
    } = &google.auth
    else {
        return Err(AuthError::Config {
            account: account.to_string(),
            reason: "uses a service account, which needs no `cadenced auth`".into(),
        });
    };
    let secret = resolve_secret(account, client_secret.as_ref())?;
    let lb = Loopback::open(state_dir, options.relay.as_ref())
        .await
        .map_err(flow_err)?;
    let app = OAuthClient::new(client_id, secret, &google.token_url);
    let url = app
        .authorize_url(
            &google.auth_url,
            &lb.redirect_uri,
            &options.scope,
            &lb.state,
            &lb.verifier,
            &[],
        )
        .map_err(|e| flow_err(format!("auth_url is not a URL: {e}")))?;
    show(url.as_str());
    if options.open_browser {
        open_browser(url.as_str());
    }
    let code = lb
        .wait_for_code("Google", options.timeout)
        .await
        .map_err(flow_err)?;
    let r = app
        .exchange_code(&client, &code, &lb.verifier, &lb.redirect_uri, &[])
        .await
        .map_err(|e| AuthError::from_grant(account, e))?;
    // Installed apps always get a refresh token; an answer without one is a refusal.
    let Some(refresh) = r.refresh_token.clone().filter(|t| !t.is_empty()) else {
        return Err(AuthError::Endpoint {
            account: account.to_string(),
            reason: "no refresh token was granted".into(),
        });
    };
    if let Some(scope) = &r.scope
        && !scope
            .split_whitespace()
            .any(|s| s == SCOPE || s == "https://www.googleapis.com/auth/calendar")
    {
        return Err(flow_err(
            "the calendar read permission was not granted (tick it on the consent screen)".into(),
        ));
    }
    if options.scope.split_whitespace().any(|s| s == WRITE_SCOPE)
        && let Some(scope) = &r.scope
        && !scope
            .split_whitespace()
            .any(|s| s == WRITE_SCOPE || s == "https://www.googleapis.com/auth/calendar")
    {
        return Err(flow_err(
            "the permission to edit events was not granted; it is needed to link agendas into \
             your 1on1 invites (tick it on the consent screen, or set [agenda] link_base = \"\")"
                .into(),
        ));
    }
    let mut tokens = Tokens {
        refresh_token: Some(refresh),
        ..Tokens::default()
    };
    r.store_into(&mut tokens, Utc::now(), DEFAULT_EXPIRY);
    save_tokens(&token_path(state_dir, account), &tokens)
}

#[cfg(test)]
mod tests;
