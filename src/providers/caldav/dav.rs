//! The WebDAV exchange: one request with HTTP Basic, retries, and same-origin redirects.
//!
//! - `Authorization: Basic` is sent on every request, without waiting for a challenge (Radicale
//!   answers 401 to an unauthenticated `current-user-principal` even with no auth configured;
//!   iCloud's challenge may name another scheme).
//! - Retries go through the shared client ([`http::send_buffered_with_retry`]): 429 and 5xx with
//!   `Retry-After` honoured, dropped connections; bounded in attempts and total time.
//! - 401 is never retried: it becomes [`DavError::Unauthorized`], and the caller marks the
//!   account as needing `cadenced auth` (no retry storm against a wrong password).
//! - Redirects are followed by hand, at most [`MAX_REDIRECTS`], keeping the method and body, and
//!   only to the same origin (scheme, host, port): credentials are never replayed elsewhere.

use reqwest::header::{self, HeaderMap};
use reqwest::{Client, Method, StatusCode, Url};

use crate::config::Secret;
use crate::providers::http::{self, HttpError, RetryPolicy};

/// Redirects followed per request (as libdav does for the well-known URI).
pub const MAX_REDIRECTS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum DavError {
    #[error(
        "the server refused the user name or password (HTTP 401); check username and password_env (an app password for iCloud and Fastmail), then run `cadenced auth {account}`"
    )]
    Unauthorized { account: String },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{url} redirected to another origin ({to}); not followed")]
    CrossOrigin { url: String, to: String },
    #[error("{url}: too many redirects")]
    TooManyRedirects { url: String },
    #[error("{url}: a redirect without a usable Location")]
    BadRedirect { url: String },
}

/// A response read in full, with the URL that finally answered (after redirects).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub url: Url,
}

impl Reply {
    pub fn etag(&self) -> Option<String> {
        self.headers
            .get(header::ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    }
}

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: Method,
    pub url: &'a Url,
    pub depth: Option<&'a str>,
    pub body: Option<String>,
    /// `text/calendar` for PUT; XML otherwise.
    pub content_type: &'a str,
    pub if_match: Option<&'a str>,
}

impl<'a> Request<'a> {
    pub fn xml(method: &str, url: &'a Url, depth: Option<&'a str>, body: String) -> Self {
        Request {
            // A fixed token list: PROPFIND and REPORT are valid method names.
            method: Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET),
            url,
            depth,
            body: Some(body),
            content_type: "application/xml; charset=utf-8",
            if_match: None,
        }
    }
}

/// A CalDAV server session: the client, the account (for messages) and its credentials.
#[derive(Clone)]
pub struct Dav {
    client: Client,
    account: String,
    username: String,
    password: Secret,
}

impl std::fmt::Debug for Dav {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dav")
            .field("account", &self.account)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// Whether `to` has the same scheme, host and port as `from`.
pub fn same_origin(from: &Url, to: &Url) -> bool {
    from.scheme() == to.scheme()
        && from.host_str() == to.host_str()
        && from.port_or_known_default() == to.port_or_known_default()
}

fn retryable(status: StatusCode, _body: &[u8]) -> bool {
    http::is_retryable(status)
}

impl Dav {
    /// `client` must not follow redirects itself ([`http::client_manual_redirects`]).
    pub fn new(client: Client, account: &str, username: &str, password: Secret) -> Self {
        Dav {
            client,
            account: account.to_string(),
            username: username.to_string(),
            password,
        }
    }

    /// Send `req`, following same-origin redirects; 401 is [`DavError::Unauthorized`].
    pub async fn send(&self, req: &Request<'_>) -> Result<Reply, DavError> {
        let mut url = req.url.clone();
        for _ in 0..=MAX_REDIRECTS {
            let buffered = http::send_buffered_with_retry(
                url.as_str(),
                RetryPolicy::default(),
                || {
                    let mut b = self
                        .client
                        .request(req.method.clone(), url.clone())
                        .basic_auth(&self.username, Some(self.password.expose()));
                    if let Some(d) = req.depth {
                        b = b.header("Depth", d);
                    }
                    if let Some(m) = req.if_match {
                        b = b.header(header::IF_MATCH, m);
                    }
                    if let Some(body) = &req.body {
                        b = b
                            .header(header::CONTENT_TYPE, req.content_type)
                            .body(body.clone());
                    }
                    b
                },
                retryable,
            )
            .await?;
            let status = buffered.status;
            if status == StatusCode::UNAUTHORIZED {
                return Err(DavError::Unauthorized {
                    account: self.account.clone(),
                });
            }
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = buffered
                    .headers
                    .get(header::LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url.join(l).ok())
                    .ok_or_else(|| DavError::BadRedirect {
                        url: http::redact_url(url.as_str()),
                    })?;
                if !same_origin(&url, &next) {
                    return Err(DavError::CrossOrigin {
                        url: http::redact_url(url.as_str()),
                        to: http::redact_url(next.as_str()),
                    });
                }
                tracing::debug!(from = %http::redact_url(url.as_str()), to = %http::redact_url(next.as_str()), "following a redirect");
                url = next;
                continue;
            }
            return Ok(Reply {
                status,
                headers: buffered.headers,
                body: buffered.body,
                url,
            });
        }
        Err(DavError::TooManyRedirects {
            url: http::redact_url(req.url.as_str()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(
            &u("https://caldav.example.com/.well-known/caldav"),
            &u("https://caldav.example.com:443/dav/")
        ));
        assert!(!same_origin(
            &u("https://caldav.example.com/"),
            &u("http://caldav.example.com/")
        ));
        assert!(!same_origin(
            &u("https://caldav.example.com/"),
            &u("https://evil.example.net/")
        ));
        assert!(!same_origin(
            &u("http://127.0.0.1:5232/"),
            &u("http://127.0.0.1:5233/")
        ));
    }

    #[test]
    fn debug_hides_the_password() {
        let d = Dav::new(Client::new(), "acc", "alice", Secret::new("hunter2"));
        let shown = format!("{d:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("alice"),
            "{shown}"
        );
    }
}
