//! OAuth 2.0 for the providers that need it (Google, Microsoft), on the `oauth2` crate.
//!
//! The grants — authorization code with PKCE, refresh, client credentials, and the device-code
//! flow — are built, sent and parsed by `oauth2`; this module gives it our own HTTP client
//! ([`Transport`]: [`crate::providers::http`]'s retries on 429/5xx and dropped connections, its
//! metrics and URL redaction) through `oauth2`'s [`AsyncHttpClient`] trait. `oauth2`'s own
//! `reqwest` feature is off: it pins another reqwest major than ours.
//!
//! The providers supply only what differs: their endpoints, the scopes, and how an error answer
//! reads (Google shows `error_description`; Microsoft shows the `AADSTS` code from
//! `error_codes` and never the free-text description). The token file, its cache and the
//! redaction rules are [`crate::providers::tokens`]; the browser half of the code flow is
//! [`crate::providers::loopback`]. The Google service-account grant (a signed JWT) is not an
//! `oauth2` grant: it posts its form through [`post_form`].
//!
//! Client secrets travel in the request body (`client_secret_post`), never in a Basic header,
//! as before; a public client sends none.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicTokenIntrospectionResponse, BasicTokenType};
use oauth2::{
    AccessToken, AsyncHttpClient, AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, DeviceAuthorizationUrl, DeviceCodeErrorResponseType, EndpointNotSet, EndpointSet,
    ErrorResponse, ExtraDeviceAuthorizationFields, HttpRequest, HttpResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, RevocationErrorResponseType,
    Scope, StandardErrorResponse, StandardRevocableToken, TokenResponse, TokenUrl,
};
use reqwest::{Client, StatusCode};
use serde::{Deserialize, Serialize};

use crate::config::SecretSource;
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::tokens::Tokens;

/// The clock used for expiry decisions (injected in tests).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A configured client secret, read from the environment when it names a variable. The error
/// names the variable, never a value.
pub fn resolve_secret(secret: Option<&SecretSource>) -> Result<Option<String>, String> {
    secret
        .map(|s| {
            s.resolve_from_env()
                .map(|v| v.expose().to_string())
                .map_err(|e| format!("client_secret_env: {e}"))
        })
        .transpose()
}

/// A token endpoint's error answer, as both providers write it: RFC 6749's `error`,
/// `error_description`, `error_uri`, plus Microsoft's `error_codes` (the `AADSTS` numbers).
#[derive(Clone, Default, Deserialize, Serialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_codes: Vec<i64>,
}

// Error answers hold no secret, but `Debug` and `Display` show only the error code anyway: the
// description is free text chosen by the server.
impl std::fmt::Debug for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorBody")
            .field("error", &self.error)
            .field("error_codes", &self.error_codes)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ErrorBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl ErrorResponse for ErrorBody {}

/// A refusal from the token endpoint (or an answer that could not be read).
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The HTTP status of the answer.
    pub status: StatusCode,
    /// The error answer; `None` when the body was not one (an HTML page, empty, …).
    pub body: Option<ErrorBody>,
}

impl Refusal {
    /// The `error` code (`invalid_grant`, …), if the answer had one.
    pub fn error(&self) -> Option<&str> {
        self.body.as_ref().map(|b| b.error.as_str())
    }
}

/// Why a grant failed.
#[derive(Debug)]
pub enum GrantError {
    /// The endpoint answered with an error (or something unreadable).
    Refused(Refusal),
    /// The endpoint could not be reached (after the retries of [`http`]).
    Http(HttpError),
    /// The request could not be built (a malformed endpoint URL, …).
    Request(String),
}

/// A token endpoint's successful answer.
pub struct Grant {
    pub access_token: String,
    /// Present when the endpoint issued (or rotated) a refresh token.
    pub refresh_token: Option<String>,
    pub expires_in: Option<Duration>,
    /// The scopes granted, space-separated, when the answer names them.
    pub scope: Option<String>,
}

impl Grant {
    /// Write this grant into `tokens` at `now` (`default_expiry` when the answer has no
    /// `expires_in`). A refresh token in the answer replaces the stored one; without one the
    /// stored one is kept. Returns whether the refresh token was rotated.
    pub fn store_into(
        self,
        tokens: &mut Tokens,
        now: DateTime<Utc>,
        default_expiry: Duration,
    ) -> bool {
        let expires = self.expires_in.unwrap_or(default_expiry);
        tokens.access_token = Some(self.access_token);
        tokens.expires_at = Some(
            now + chrono::Duration::from_std(expires)
                .unwrap_or_else(|_| chrono::Duration::seconds(3600)),
        );
        if self.scope.is_some() {
            tokens.scope = self.scope;
        }
        match self.refresh_token.filter(|t| !t.is_empty()) {
            Some(rt) => {
                tokens.refresh_token = Some(rt);
                true
            }
            None => false,
        }
    }
}

/// Write renewed tokens to the token file before the access token is used. When the refresh
/// token was rotated the write must succeed (the file may never lag behind a rotation we act
/// on); otherwise it only caches the access token, and a failure costs a refresh next run.
pub fn persist(
    account: &str,
    path: &std::path::Path,
    tokens: &Tokens,
    rotated: bool,
) -> Result<(), crate::providers::tokens::TokenFileError> {
    match crate::providers::tokens::save_tokens(path, tokens) {
        Ok(()) => Ok(()),
        Err(e) if rotated => Err(e),
        Err(e) => {
            tracing::warn!(account = %account, "cannot cache the access token: {e}");
            Ok(())
        }
    }
}

/// A token endpoint's success answer. Like [`oauth2::StandardTokenResponse`], except that a
/// missing `token_type` means `Bearer` (both providers send it; an answer without it was
/// accepted before `oauth2` read them, so it still is). `oauth2`'s token types print as
/// `[redacted]` in `Debug`.
#[derive(Debug, Deserialize, Serialize)]
struct TokenAnswer {
    access_token: AccessToken,
    #[serde(
        default = "bearer",
        deserialize_with = "oauth2::helpers::deserialize_untagged_enum_case_insensitive"
    )]
    token_type: BasicTokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_in: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<RefreshToken>,
    #[serde(
        rename = "scope",
        default,
        deserialize_with = "oauth2::helpers::deserialize_space_delimited_vec",
        serialize_with = "oauth2::helpers::serialize_space_delimited_vec",
        skip_serializing_if = "Option::is_none"
    )]
    scopes: Option<Vec<Scope>>,
}

fn bearer() -> BasicTokenType {
    BasicTokenType::Bearer
}

impl TokenResponse for TokenAnswer {
    type TokenType = BasicTokenType;
    fn access_token(&self) -> &AccessToken {
        &self.access_token
    }
    fn token_type(&self) -> &BasicTokenType {
        &self.token_type
    }
    fn expires_in(&self) -> Option<Duration> {
        self.expires_in.map(Duration::from_secs)
    }
    fn refresh_token(&self) -> Option<&RefreshToken> {
        self.refresh_token.as_ref()
    }
    fn scopes(&self) -> Option<&Vec<Scope>> {
        self.scopes.as_ref()
    }
}

/// The `oauth2` client type with a token endpoint set (the other endpoints are set per flow).
type Core<HasAuthUrl = EndpointNotSet, HasDeviceAuthUrl = EndpointNotSet> = oauth2::Client<
    ErrorBody,
    TokenAnswer,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    StandardErrorResponse<RevocationErrorResponseType>,
    HasAuthUrl,
    HasDeviceAuthUrl,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Our HTTP client, as `oauth2` sees it: each request goes through
/// [`http::send_buffered_with_retry`]; the status of the last answer is kept so that an error
/// that `oauth2` reports without it can still name it.
pub struct Transport {
    client: Client,
    last_status: AtomicU16,
}

impl Transport {
    pub fn new(client: Client) -> Self {
        Transport {
            client,
            last_status: AtomicU16::new(0),
        }
    }

    fn last_status(&self) -> StatusCode {
        StatusCode::from_u16(self.last_status.load(Ordering::Relaxed)).unwrap_or(StatusCode::OK)
    }

    async fn send(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let url = request.uri().to_string();
        let (parts, body) = request.into_parts();
        let resp = http::send_buffered_with_retry(
            &url,
            RetryPolicy::default(),
            || {
                self.client
                    .request(parts.method.clone(), &url)
                    .headers(parts.headers.clone())
                    .body(body.clone())
            },
            |status, _| http::is_retryable(status),
        )
        .await?;
        self.last_status
            .store(resp.status.as_u16(), Ordering::Relaxed);
        // No headers are passed on: `oauth2` then parses the body as JSON whatever its type,
        // as this module did before it.
        let mut answer = HttpResponse::new(resp.body);
        *answer.status_mut() = resp.status;
        Ok(answer)
    }
}

impl<'c> AsyncHttpClient<'c> for Transport {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}

/// One OAuth client registration at one token endpoint.
pub struct OAuthClient {
    client_id: String,
    secret: Option<String>,
    token_url: String,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url)
            .finish_non_exhaustive()
    }
}

/// A started device-code flow: what to show the user, and what to poll with.
pub struct DeviceAuthorization {
    inner: oauth2::DeviceAuthorizationResponse<DeviceExtra>,
}

impl DeviceAuthorization {
    pub fn user_code(&self) -> &str {
        self.inner.user_code().secret()
    }
    pub fn verification_uri(&self) -> &str {
        self.inner.verification_uri().as_str()
    }
    /// The sign-in sentence the endpoint wrote (Microsoft's `message`), if any.
    pub fn message(&self) -> Option<&str> {
        self.inner.extra_fields().message.as_deref()
    }
}

/// The fields of a device-code answer beyond RFC 8628's.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct DeviceExtra {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl ExtraDeviceAuthorizationFields for DeviceExtra {}

/// How a device-code flow ended without a token.
#[derive(Debug)]
pub enum DeviceError {
    /// The user declined (`authorization_declined`, `access_denied`).
    Declined,
    /// The code expired before the user finished (`expired_token`, `code_expired`, or the
    /// flow's own deadline).
    Expired,
    /// The endpoint did not recognise the device code (`bad_verification_code`).
    BadCode,
    /// Any other answer or failure.
    Grant(GrantError),
}

impl OAuthClient {
    pub fn new(client_id: &str, secret: Option<String>, token_url: &str) -> Self {
        OAuthClient {
            client_id: client_id.to_string(),
            secret,
            token_url: token_url.to_string(),
        }
    }

    fn core(&self) -> Result<Core, GrantError> {
        let token_url = TokenUrl::new(self.token_url.clone())
            .map_err(|e| GrantError::Request(format!("token_url is not a URL: {e}")))?;
        let mut core = oauth2::Client::new(ClientId::new(self.client_id.clone()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        if let Some(s) = &self.secret {
            core = core.set_client_secret(ClientSecret::new(s.clone()));
        }
        Ok(core)
    }

    /// The authorization URL of the code flow with PKCE S256: `response_type=code`,
    /// `client_id`, `state`, the challenge of `verifier`, `redirect_uri`, `scope`, then `extra`.
    pub fn authorize_url(
        &self,
        auth_url: &str,
        redirect_uri: &str,
        scope: &str,
        state: &str,
        verifier: &str,
        extra: &[(&str, &str)],
    ) -> Result<reqwest::Url, String> {
        let auth_url = AuthUrl::new(auth_url.to_string()).map_err(|e| e.to_string())?;
        let redirect = RedirectUrl::new(redirect_uri.to_string()).map_err(|e| e.to_string())?;
        // RFC 7636 bounds a verifier to 43..=128 characters (and `oauth2` asserts it).
        if !(43..=128).contains(&verifier.len()) {
            return Err("the PKCE verifier has the wrong length".into());
        }
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.into()));
        let core = self
            .core()
            .map_err(|_| "token_url is not a URL".to_string())?
            .set_auth_uri(auth_url)
            .set_redirect_uri(redirect);
        let state = state.to_string();
        let mut request = core
            .authorize_url(move || CsrfToken::new(state))
            .set_pkce_challenge(challenge)
            .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.into())));
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        Ok(request.url().0)
    }

    /// Redeem an authorization code (with its PKCE verifier and the same `redirect_uri`).
    /// `extra` adds form fields (Microsoft sends `scope` again).
    pub async fn exchange_code(
        &self,
        http: &Client,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
        extra: &[(&str, &str)],
    ) -> Result<Grant, GrantError> {
        let redirect = RedirectUrl::new(redirect_uri.to_string())
            .map_err(|e| GrantError::Request(e.to_string()))?;
        let core = self.core()?.set_redirect_uri(redirect);
        let transport = Transport::new(http.clone());
        let mut request = core
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()));
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let answer = request.request_async(&transport).await;
        grant(answer, &transport)
    }

    /// `grant_type=refresh_token`. No scope is sent: the grant keeps the scopes consented to.
    pub async fn refresh(&self, http: &Client, refresh_token: &str) -> Result<Grant, GrantError> {
        let core = self.core()?;
        let transport = Transport::new(http.clone());
        let token = RefreshToken::new(refresh_token.to_string());
        let answer = core
            .exchange_refresh_token(&token)
            .request_async(&transport)
            .await;
        grant(answer, &transport)
    }

    /// `grant_type=client_credentials` for `scope`.
    pub async fn client_credentials(
        &self,
        http: &Client,
        scope: &str,
    ) -> Result<Grant, GrantError> {
        let core = self.core()?;
        let transport = Transport::new(http.clone());
        let answer = core
            .exchange_client_credentials()
            .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.into())))
            .request_async(&transport)
            .await;
        grant(answer, &transport)
    }

    /// Start a device-code flow at `device_url` for `scope`.
    pub async fn device_code(
        &self,
        http: &Client,
        device_url: &str,
        scope: &str,
    ) -> Result<DeviceAuthorization, GrantError> {
        let url = DeviceAuthorizationUrl::new(device_url.to_string())
            .map_err(|e| GrantError::Request(e.to_string()))?;
        let core = self.core()?.set_device_authorization_url(url);
        let transport = Transport::new(http.clone());
        let answer = core
            .exchange_device_code()
            .add_scopes(scope.split_whitespace().map(|s| Scope::new(s.into())))
            .request_async(&transport)
            .await;
        match answer {
            Ok(inner) => Ok(DeviceAuthorization { inner }),
            Err(e) => Err(refused(e, &transport)),
        }
    }

    /// Poll the token endpoint until the user finishes the device-code flow: every `interval`
    /// seconds, 5 s more after each `slow_down`, until the code's `expires_in`.
    pub async fn poll_device(
        &self,
        http: &Client,
        device: &DeviceAuthorization,
    ) -> Result<Grant, DeviceError> {
        // A device flow never needs a device-authorization URL on the polling side, only the
        // token endpoint.
        let core = self.core().map_err(DeviceError::Grant)?;
        let transport = Transport::new(http.clone());
        let answer = core
            .exchange_device_access_token(&device.inner)
            // At least a second between polls, whatever `interval` says (0 would spin).
            .request_async(
                &transport,
                |d: Duration| tokio::time::sleep(d.max(Duration::from_secs(1))),
                None,
            )
            .await;
        match answer {
            Ok(t) => Ok(to_grant(&t)),
            Err(RequestTokenError::ServerResponse(e)) => Err(match e.error() {
                DeviceCodeErrorResponseType::AccessDenied => DeviceError::Declined,
                DeviceCodeErrorResponseType::ExpiredToken => DeviceError::Expired,
                other => match other.as_ref() {
                    "authorization_declined" => DeviceError::Declined,
                    "code_expired" => DeviceError::Expired,
                    "bad_verification_code" => DeviceError::BadCode,
                    code => DeviceError::Grant(GrantError::Refused(Refusal {
                        status: transport.last_status(),
                        body: Some(ErrorBody {
                            error: code.to_string(),
                            error_description: e.error_description().cloned(),
                            ..ErrorBody::default()
                        }),
                    })),
                },
            }),
            Err(e) => Err(DeviceError::Grant(refused_with(e, &transport, |_| None))),
        }
    }
}

fn to_grant(t: &TokenAnswer) -> Grant {
    Grant {
        access_token: t.access_token().secret().clone(),
        refresh_token: t.refresh_token().map(|r| r.secret().clone()),
        expires_in: t.expires_in(),
        scope: t
            .scopes()
            .map(|s| s.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")),
    }
}

fn grant(
    answer: Result<TokenAnswer, RequestTokenError<HttpError, ErrorBody>>,
    transport: &Transport,
) -> Result<Grant, GrantError> {
    match answer {
        Ok(t) if !t.access_token().secret().is_empty() => Ok(to_grant(&t)),
        Ok(_) => Err(GrantError::Refused(Refusal {
            status: transport.last_status(),
            body: None,
        })),
        Err(e) => Err(refused(e, transport)),
    }
}

fn refused(e: RequestTokenError<HttpError, ErrorBody>, transport: &Transport) -> GrantError {
    refused_with(e, transport, Some)
}

/// The failure of a request whose error answers are `TE`, read through `body`.
fn refused_with<TE: ErrorResponse>(
    e: RequestTokenError<HttpError, TE>,
    transport: &Transport,
    body: impl FnOnce(TE) -> Option<ErrorBody>,
) -> GrantError {
    let status = transport.last_status();
    match e {
        RequestTokenError::ServerResponse(e) => GrantError::Refused(Refusal {
            status,
            body: body(e),
        }),
        RequestTokenError::Request(e) => GrantError::Http(e),
        // An answer that is not a token (nor an error we can read): only its status is told.
        RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
            GrantError::Refused(Refusal { status, body: None })
        }
    }
}

/// POST a form to a token endpoint with the shared retry policy (for the grants `oauth2` does
/// not cover: the service-account JWT assertion). Returns the status and the body.
pub async fn post_form(
    client: &Client,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(StatusCode, Vec<u8>), HttpError> {
    let resp = http::send_buffered_with_retry(
        url,
        RetryPolicy::default(),
        || client.post(url).form(form),
        |status, _| http::is_retryable(status),
    )
    .await?;
    Ok((resp.status, resp.body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::google::testserver::{self, json};

    #[tokio::test]
    async fn refresh_sends_the_secret_in_the_body_and_reads_a_rotated_token() {
        let server = testserver::serve(vec![json(
            200,
            r#"{"access_token":"A","expires_in":60,"refresh_token":"R2","scope":"a b"}"#,
        )])
        .await;
        let app = OAuthClient::new("cid", Some("s3cret".into()), &format!("{}/t", server.base));
        let grant = app.refresh(&Client::new(), "R1").await.unwrap();
        let seen = server.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1);
        assert!(seen[0].request_line.starts_with("POST /t "));
        for field in [
            "grant_type=refresh_token",
            "refresh_token=R1",
            "client_id=cid",
            "client_secret=s3cret",
        ] {
            assert!(seen[0].body.contains(field), "{}", seen[0].body);
        }
        assert!(
            !seen[0].body.contains("scope="),
            "a refresh asks for no scope"
        );
        assert!(
            !seen[0].headers.contains("authorization:"),
            "no Basic header"
        );
        // No token_type in the answer: read as Bearer, as before.
        let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mut tokens = Tokens {
            refresh_token: Some("R1".into()),
            ..Tokens::default()
        };
        assert!(grant.store_into(&mut tokens, now, Duration::from_secs(3600)));
        assert_eq!(tokens.refresh_token.as_deref(), Some("R2"));
        assert_eq!(tokens.access_token.as_deref(), Some("A"));
        assert_eq!(tokens.scope.as_deref(), Some("a b"));
        assert_eq!(tokens.expires_at, Some(now + chrono::Duration::seconds(60)));
    }

    #[tokio::test]
    async fn an_error_answer_keeps_its_status_and_codes_and_a_public_client_sends_no_secret() {
        let server = testserver::serve(vec![
            json(
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS700082: expired","error_codes":[700082]}"#,
            ),
            json(403, "<html>forbidden</html>"),
        ])
        .await;
        let app = OAuthClient::new("cid", None, &format!("{}/t", server.base));
        let Err(GrantError::Refused(r)) = app.refresh(&Client::new(), "R1").await else {
            panic!("expected a refusal");
        };
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(r.error(), Some("invalid_grant"));
        let body = r.body.as_ref().unwrap();
        assert_eq!(body.error_codes, [700082]);
        // Neither Debug nor Display shows the free-text description.
        assert!(!format!("{body:?} {body}").contains("expired"));
        assert!(
            !server.seen.lock().unwrap()[0]
                .body
                .contains("client_secret")
        );
        // An answer that is no JSON at all: only its status is told.
        let Err(GrantError::Refused(r)) =
            app.client_credentials(&Client::new(), "x/.default").await
        else {
            panic!("expected a refusal");
        };
        assert_eq!((r.status, r.error()), (StatusCode::FORBIDDEN, None));
    }

    #[test]
    fn authorize_url_carries_pkce_state_scope_and_extras() {
        let app = OAuthClient::new("cid", None, "https://login.example/t");
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let url = app
            .authorize_url(
                "https://login.example/authorize",
                "http://127.0.0.1:4242",
                "a b",
                "st4te",
                verifier,
                &[("response_mode", "query")],
            )
            .unwrap();
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["state"], "st4te");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:4242");
        assert_eq!(q["scope"], "a b");
        assert_eq!(q["response_mode"], "query");
        assert_eq!(q["code_challenge_method"], "S256");
        // RFC 7636's own example.
        assert_eq!(
            q["code_challenge"],
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(
            app.authorize_url("https://x/a", "http://127.0.0.1:1", "a", "s", "short", &[])
                .is_err(),
            "a verifier outside RFC 7636's bounds is an error, not a panic"
        );
    }
}
