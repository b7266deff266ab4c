//! The HTTP client every provider shares: timeouts, a user agent, and retries with backoff.
//!
//! Retry policy (docs/design.md, Reliability): 429 and 5xx responses and connection failures are retried with
//! exponential backoff and full jitter, honouring `Retry-After`; other statuses are returned to
//! the caller to report. URLs are shown through [`redact_url`] because feed URLs often carry a
//! secret in their path or query.
//!
//! [`send_buffered_with_retry`] is the variant for JSON APIs whose retry decision needs the body
//! (Google answers rate limits with 403 `rateLimitExceeded`): the caller classifies each
//! (status, body), a body that breaks off mid-way counts as a dropped connection, and the whole
//! exchange is bounded by [`RetryPolicy::max_total`]. `Retry-After` is read as seconds or as an
//! HTTP date there.
//!
//! Every exchange and every retry is counted in `crate::metrics` (by provider and status).
//!
//! Bounded I/O (docs/limits.md): every body is read through [`read_body`], which stops at
//! [`MAX_BODY_BYTES`] after decompression (a 2 MB gzip that inflates to 2 GiB is cut off with
//! [`HttpError::TooLarge`], never retried). Redirects ([`redirect_policy`]): at most 5, never from
//! `https` to `http`; no `Referer` header is ever sent, so a secret feed URL does not reach the
//! host it redirects to, and reqwest drops `Authorization` when a redirect leaves the origin.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, Response, StatusCode};

pub use crate::limits::MAX_BODY_BYTES;

/// Attempts per request, the first included.
pub const MAX_ATTEMPTS: u32 = 4;
const BASE_DELAY: Duration = Duration::from_millis(500);
const MAX_DELAY: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot build the HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("{url}: {reason}")]
    Transport { url: String, reason: String },
    #[error(
        "{url}: the response is larger than {} MiB (after decompression) and was cut off; cadenced \
         reads at most that much (see docs/limits.md)",
        limit / (1024 * 1024)
    )]
    TooLarge { url: String, limit: u64 },
}

/// Redirects followed per request.
pub const MAX_REDIRECTS: usize = 5;

/// The redirect policy of the shared client: at most [`MAX_REDIRECTS`], never from `https` to
/// `http` (a downgrade would expose the request to the network).
pub fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let downgrade = attempt
            .previous()
            .last()
            .is_some_and(|p| p.scheme() == "https" && attempt.url().scheme() != "https");
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if downgrade {
            attempt.error("a redirect from https to another scheme was refused")
        } else {
            attempt.follow()
        }
    })
}

/// The shared client: rustls, gzip, connect and overall timeouts, [`redirect_policy`], and no
/// `Referer` header (it would carry a feed URL's secret to another host on a redirect).
pub fn client() -> Result<Client, HttpError> {
    builder()
        .redirect(redirect_policy())
        .build()
        .map_err(HttpError::Client)
}

/// The shared client with redirects left to the caller: WebDAV methods (PROPFIND, REPORT) must
/// survive a redirect unchanged (reqwest turns them into GET after a 301), and CalDAV follows
/// redirects only within one origin (see `providers/caldav/dav.rs`).
pub fn client_manual_redirects() -> Result<Client, HttpError> {
    builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(HttpError::Client)
}

fn builder() -> reqwest::ClientBuilder {
    Client::builder()
        .user_agent(concat!("cadenced/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(60))
        .referer(false)
}

/// Why a body could not be read in full.
#[derive(Debug)]
pub enum BodyError {
    /// The connection failed or the body broke off.
    Transport(reqwest::Error),
    /// More than the limit, after decompression.
    TooLarge { limit: u64 },
}

/// Read a response body, decompressed, stopping with [`BodyError::TooLarge`] as soon as it
/// exceeds `limit` bytes (checked against `Content-Length` first, then while reading).
pub async fn read_body(mut resp: Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let capacity = resp.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Transport)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(BodyError::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl BodyError {
    /// The error for a request to `url` (shown redacted).
    pub fn into_http(self, url: &str) -> HttpError {
        match self {
            BodyError::Transport(e) => HttpError::Transport {
                url: redact_url(url),
                reason: transport_reason(e),
            },
            BodyError::TooLarge { limit } => HttpError::TooLarge {
                url: redact_url(url),
                limit,
            },
        }
    }
}

/// Whether a response status is worth retrying.
pub fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// The delay before attempt `attempt + 1`: `Retry-After` when the server gave one (capped),
/// else exponential backoff with full jitter.
pub fn backoff_delay(attempt: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(d) = retry_after {
        return d.min(MAX_DELAY);
    }
    let exp = BASE_DELAY
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_DELAY);
    // Full jitter without a RNG dependency: the sub-second clock is random enough to spread
    // clients apart, which is all jitter is for.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let frac = f64::from(nanos % 1_000_000) / 1_000_000.0;
    exp.mul_f64(0.5 + frac / 2.0)
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
pub fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Send a request built by `build`, retrying transient failures. Returns the final response
/// (which may still be an error status) or the last transport error.
pub async fn send_with_retry<F>(url: &str, mut build: F) -> Result<Response, HttpError>
where
    F: FnMut() -> RequestBuilder,
{
    let mut attempt = 0;
    loop {
        super::quota::global().acquire().await;
        let result = build().send().await;
        crate::metrics::global().http_request(result.as_ref().ok().map(|r| r.status().as_u16()));
        let delay = match &result {
            Ok(resp) if is_retryable(resp.status()) && attempt + 1 < MAX_ATTEMPTS => {
                let delay = backoff_delay(attempt, retry_after(resp));
                if resp.status() == StatusCode::TOO_MANY_REQUESTS {
                    super::quota::global().rate_limited(delay);
                }
                delay
            }
            Err(e)
                if (e.is_connect() || e.is_timeout() || e.is_request())
                    && attempt + 1 < MAX_ATTEMPTS =>
            {
                backoff_delay(attempt, None)
            }
            _ => {
                return result.map_err(|e| HttpError::Transport {
                    url: redact_url(url),
                    reason: transport_reason(e),
                });
            }
        };
        tracing::debug!(url = %redact_url(url), attempt, ?delay, "retrying request");
        crate::metrics::global().http_retry();
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// How hard [`send_buffered_with_retry`] tries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts, the first included.
    pub max_attempts: u32,
    /// No retry is started whose delay would end after this much time since the first attempt.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_total: Duration::from_secs(120),
        }
    }
}

/// A response read in full.
#[derive(Debug, Clone)]
pub struct Buffered {
    pub status: StatusCode,
    /// The final response's headers (`ETag`, `Location`, …).
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110 §10.2.3), relative to `now`.
pub fn retry_after_value(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// Send a request built by `build` and read its body, retrying while `retryable(status, body)`
/// says so, and on connection failures (including a body cut off mid-way), within `policy`.
/// Returns the final response, which may still be an error status.
pub async fn send_buffered_with_retry<F, R>(
    url: &str,
    policy: RetryPolicy,
    mut build: F,
    retryable: R,
) -> Result<Buffered, HttpError>
where
    F: FnMut() -> RequestBuilder,
    R: Fn(StatusCode, &[u8]) -> bool,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 0;
    loop {
        let last = attempt + 1 >= policy.max_attempts;
        // What to return if no further attempt is made, and how long to wait otherwise.
        super::quota::global().acquire().await;
        let sent = build().send().await;
        crate::metrics::global().http_request(sent.as_ref().ok().map(|r| r.status().as_u16()));
        let (outcome, delay) = match sent {
            Ok(resp) => {
                let status = resp.status();
                let headers = resp.headers().clone();
                let after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| retry_after_value(v, chrono::Utc::now()));
                match read_body(resp, MAX_BODY_BYTES).await {
                    Ok(body) => {
                        if last || !retryable(status, &body) {
                            return Ok(Buffered {
                                status,
                                headers,
                                body,
                            });
                        }
                        let delay = backoff_delay(attempt, after);
                        // A retryable 429 or 403 is the provider's rate limit (Google answers
                        // 403 `rateLimitExceeded`): slow the whole scope down, not only this task.
                        if matches!(
                            status,
                            StatusCode::TOO_MANY_REQUESTS | StatusCode::FORBIDDEN
                        ) {
                            super::quota::global().rate_limited(delay);
                        }
                        let buffered = Buffered {
                            status,
                            headers,
                            body,
                        };
                        (Ok(buffered), delay)
                    }
                    Err(e @ BodyError::TooLarge { .. }) => return Err(e.into_http(url)),
                    Err(BodyError::Transport(e)) => (Err(e), backoff_delay(attempt, None)),
                }
            }
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() || e.is_body() => {
                (Err(e), backoff_delay(attempt, None))
            }
            Err(e) => (Err(e), Duration::MAX),
        };
        if last || delay == Duration::MAX || started.elapsed() + delay > policy.max_total {
            return outcome.map_err(|e| HttpError::Transport {
                url: redact_url(url),
                reason: transport_reason(e),
            });
        }
        tracing::debug!(url = %redact_url(url), attempt, ?delay, "retrying request");
        crate::metrics::global().http_retry();
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

fn transport_reason(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "the request timed out".into()
    } else if e.is_connect() {
        "cannot connect".into()
    } else {
        // reqwest's Display includes the URL; strip it to keep secrets out.
        e.without_url().to_string()
    }
}

/// A URL safe to show: scheme, host, port and the last path segment; no query, no userinfo, no
/// middle path segments (private feed URLs keep their secret there).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let host = u.host_str().unwrap_or("");
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            let last = u
                .path_segments()
                .and_then(|mut s| s.next_back())
                .unwrap_or("");
            let hidden = if u.path().matches('/').count() > 1 {
                "…/"
            } else {
                ""
            };
            format!("{}://{host}{port}/{hidden}{last}", u.scheme())
        }
        Err(_) => "<invalid URL>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_parts_of_urls() {
        assert_eq!(
            redact_url(
                "https://user:pw@calendar.example.com/ical/abc/private-s3cr3t/basic.ics?token=x"
            ),
            "https://calendar.example.com/…/basic.ics"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/team.ics"),
            "http://127.0.0.1:8080/team.ics"
        );
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        assert_eq!(
            backoff_delay(0, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(backoff_delay(0, Some(Duration::from_secs(3600))), MAX_DELAY);
        let d0 = backoff_delay(0, None);
        assert!(d0 >= BASE_DELAY / 2 && d0 <= BASE_DELAY);
        let d3 = backoff_delay(3, None);
        assert!(d3 >= BASE_DELAY * 4 && d3 <= BASE_DELAY * 8);
        assert!(backoff_delay(30, None) <= MAX_DELAY);
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now: chrono::DateTime<chrono::Utc> = "2013-11-19T01:13:50Z".parse().unwrap();
        assert_eq!(retry_after_value("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            retry_after_value("Tue, 19 Nov 2013 01:13:52 GMT", now),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            retry_after_value("Tue, 19 Nov 2013 01:13:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_value("soon", now), None);
    }

    #[test]
    fn retryable_statuses() {
        assert!(is_retryable(StatusCode::TOO_MANY_REQUESTS));
        assert!(is_retryable(StatusCode::SERVICE_UNAVAILABLE));
        assert!(!is_retryable(StatusCode::NOT_FOUND));
        assert!(!is_retryable(StatusCode::FORBIDDEN));
    }
}
