//! Reading a feed: a local file, or a URL fetched conditionally (`If-None-Match` /
//! `If-Modified-Since`) so that an unchanged feed costs one 304.

use std::path::{Path, PathBuf};

use reqwest::{Client, StatusCode, header};
use serde::{Deserialize, Serialize};

use crate::providers::http::{self, HttpError, redact_url};

/// Where a feed comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    Path(PathBuf),
    Url(String),
}

impl FeedSource {
    /// How the feed is named in messages (URLs redacted).
    pub fn display(&self) -> String {
        match self {
            FeedSource::Path(p) => p.display().to_string(),
            FeedSource::Url(u) => redact_url(u),
        }
    }

    /// The calendar name the feed's events are stored under: its file name.
    pub fn calendar_name(&self) -> String {
        let name = match self {
            FeedSource::Path(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            FeedSource::Url(u) => reqwest::Url::parse(u)
                .ok()
                .and_then(|u| {
                    u.path_segments()
                        .and_then(|mut s| s.next_back().map(str::to_owned))
                })
                .filter(|s| !s.is_empty()),
        };
        name.unwrap_or_else(|| "feed".into())
    }
}

/// The HTTP validators of the last fetched copy, stored as the calendar's sync cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Validators {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
}

#[derive(Debug)]
pub enum Fetched {
    /// The server answered 304: the stored copy is current.
    Unchanged,
    Body {
        bytes: Vec<u8>,
        validators: Option<Validators>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("{url}: the server answered {status}")]
    Status { url: String, status: StatusCode },
    #[error(
        "{path}: the file is larger than {} MiB; cadenced reads at most that much (see docs/limits.md)",
        limit / (1024 * 1024)
    )]
    TooLarge { path: PathBuf, limit: u64 },
}

/// Read the feed. `previous` are the validators of the copy in the store, if any.
pub async fn fetch(
    source: &FeedSource,
    previous: Option<&Validators>,
    client: &Client,
) -> Result<Fetched, FetchError> {
    match source {
        FeedSource::Path(path) => read_file(path).await,
        FeedSource::Url(url) => fetch_url(url, previous, client).await,
    }
}

async fn read_file(path: &Path) -> Result<Fetched, FetchError> {
    use tokio::io::AsyncReadExt;
    let read = |source| FetchError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = tokio::fs::File::open(path).await.map_err(read)?;
    // One byte past the limit tells a file at the limit from a larger one.
    let mut bytes = Vec::new();
    file.take(http::MAX_BODY_BYTES + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(read)?;
    if bytes.len() as u64 > http::MAX_BODY_BYTES {
        return Err(FetchError::TooLarge {
            path: path.to_path_buf(),
            limit: http::MAX_BODY_BYTES,
        });
    }
    Ok(Fetched::Body {
        bytes,
        validators: None,
    })
}

async fn fetch_url(
    url: &str,
    previous: Option<&Validators>,
    client: &Client,
) -> Result<Fetched, FetchError> {
    let resp = http::send_with_retry(url, || {
        let mut req = client
            .get(url)
            .header(header::ACCEPT, "text/calendar, */*;q=0.5");
        if let Some(v) = previous {
            if let Some(etag) = &v.etag {
                req = req.header(header::IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &v.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
        }
        req
    })
    .await?;
    let status = resp.status();
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Fetched::Unchanged);
    }
    if !status.is_success() {
        return Err(FetchError::Status {
            url: redact_url(url),
            status,
        });
    }
    let header_value = |name| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let validators = Validators {
        etag: header_value(header::ETAG),
        last_modified: header_value(header::LAST_MODIFIED),
    };
    let validators = (validators != Validators::default()).then_some(validators);
    let bytes = http::read_body(resp, http::MAX_BODY_BYTES)
        .await
        .map_err(|e| FetchError::Http(e.into_http(url)))?;
    Ok(Fetched::Body { bytes, validators })
}
