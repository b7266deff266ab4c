//! The `onedrive` document back-end (docs/design.md, Agenda documents): one Word document (`.docx`) per report (or per
//! session) in the manager's OneDrive under `Agendas/`, shared with the report (an invitation
//! without e-mail, and a "specific people" edit link, which is what goes into the invite); a new
//! section is written only conditionally on the eTag read (`If-Match`; 412 → re-read and retry),
//! never as a blind overwrite.
//!
//! Why `.docx`: the report opens and edits it in the browser with Word for the web, co-authoring
//! included, on any device, without installing anything; Markdown or text files open in a viewer
//! or a bare text editor only. See ARCHITECTURE.md.

use std::path::Path;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::auth::{AuthError, Authenticator, system_clock};
use super::docx;
use super::graph::graph_url;
use crate::config::MicrosoftAccount;
use crate::providers::documents::{Document, DocumentHost, DocumentSpec, SECTION_MARKER, Snapshot};
use crate::providers::http::{self, HttpError, RetryPolicy};

pub const FOLDER: &str = "Agendas";
const DOCX_MIME: &str = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

#[derive(Debug, thiserror::Error)]
pub enum OneDriveError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("OneDrive answered HTTP {status} to {what}: {message}")]
    Api {
        what: &'static str,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from OneDrive to {what}: {reason}")]
    Decode { what: &'static str, reason: String },
    #[error("the agenda document {path}: {source}")]
    Docx {
        path: String,
        source: docx::DocxError,
    },
    #[error("{0}")]
    Url(String),
}

/// A OneDrive item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub etag: String,
}

/// The version a section write is conditional on: the eTag and the package read at it.
#[derive(Debug, Clone)]
pub struct Version {
    pub etag: String,
    pub bytes: Vec<u8>,
}

/// The manager's OneDrive, through one Microsoft account.
pub struct OneDriveClient {
    client: Client,
    auth: Authenticator,
    ms: MicrosoftAccount,
}

enum Answer {
    Ok(Vec<u8>),
    Status(StatusCode, Vec<u8>),
}

fn item_of(what: &'static str, body: &[u8]) -> Result<Item, OneDriveError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| OneDriveError::Decode {
        what,
        reason: e.to_string(),
    })?;
    match (v["id"].as_str(), v["eTag"].as_str()) {
        (Some(id), Some(etag)) => Ok(Item {
            id: id.to_string(),
            etag: etag.to_string(),
        }),
        _ => Err(OneDriveError::Decode {
            what,
            reason: "no id or eTag".into(),
        }),
    }
}

fn api(what: &'static str, status: StatusCode, body: &[u8]) -> OneDriveError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    OneDriveError::Api {
        what,
        status: status.as_u16(),
        message: v["error"]["message"]
            .as_str()
            .unwrap_or("no error message")
            .to_string(),
    }
}

impl OneDriveClient {
    /// The OneDrive of account `name`.
    pub fn new(name: &str, ms: &MicrosoftAccount, state_dir: &Path, client: Client) -> Self {
        let auth = Authenticator::new(name, ms, state_dir, client.clone(), system_clock());
        OneDriveClient {
            client,
            auth,
            ms: ms.clone(),
        }
    }

    /// `…/me/drive/<tail>` (or `…/users/{user}/drive/<tail>`); `tail` may hold `root:/a/b:`.
    fn url(&self, tail: &[&str]) -> Result<reqwest::Url, OneDriveError> {
        let mut segs = vec!["drive"];
        segs.extend(tail);
        graph_url(&self.ms, &segs).map_err(|e| OneDriveError::Url(e.to_string()))
    }

    /// Path segments addressing `path` (relative to [`FOLDER`]) from the root: `root:`, `Agendas`,
    /// …, `name` (with a trailing `:` when more follows).
    fn by_path(path: &str, more: bool) -> Vec<String> {
        let mut segs = vec!["root:".to_string(), FOLDER.to_string()];
        segs.extend(path.split('/').map(str::to_string));
        if more && let Some(last) = segs.last_mut() {
            last.push(':');
        }
        segs
    }

    async fn send(
        &self,
        url: &reqwest::Url,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, OneDriveError> {
        let mut access = self.auth.access_token().await?;
        let mut refreshed = false;
        loop {
            let resp = http::send_buffered_with_retry(
                url.as_str(),
                RetryPolicy::default(),
                || build(&access),
                |s, _| s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error(),
            )
            .await?;
            match resp.status {
                s if s.is_success() => return Ok(Answer::Ok(resp.body)),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    access = self.auth.refresh().await?;
                }
                s => return Ok(Answer::Status(s, resp.body)),
            }
        }
    }

    /// The item at `path` (under [`FOLDER`]), if it exists.
    pub async fn find_path(&self, path: &str) -> Result<Option<Item>, OneDriveError> {
        let segs = Self::by_path(path, false);
        let url = self.url(&segs.iter().map(String::as_str).collect::<Vec<_>>())?;
        match self
            .send(&url, |a| self.client.get(url.clone()).bearer_auth(a))
            .await?
        {
            Answer::Ok(b) => item_of("get item", &b).map(Some),
            Answer::Status(StatusCode::NOT_FOUND, _) => Ok(None),
            Answer::Status(s, b) => Err(api("get item", s, &b)),
        }
    }

    /// Create the document at `path`; when someone created it meanwhile, that one is returned.
    pub async fn create_path(&self, path: &str, text: &str) -> Result<Item, OneDriveError> {
        let bytes = docx::new_document(text).map_err(|source| OneDriveError::Docx {
            path: path.to_string(),
            source,
        })?;
        let mut segs = Self::by_path(path, true);
        segs.push("content".into());
        let url = self.url(&segs.iter().map(String::as_str).collect::<Vec<_>>())?;
        match self
            .send(&url, |a| {
                self.client
                    .put(url.clone())
                    .query(&[("@microsoft.graph.conflictBehavior", "fail")])
                    .bearer_auth(a)
                    .header(reqwest::header::CONTENT_TYPE, DOCX_MIME)
                    .body(bytes.clone())
            })
            .await?
        {
            Answer::Ok(b) => item_of("upload", &b),
            Answer::Status(StatusCode::CONFLICT, b) => match self.find_path(path).await? {
                Some(item) => Ok(item),
                None => Err(api("upload", StatusCode::CONFLICT, &b)),
            },
            Answer::Status(s, b) => Err(api("upload", s, &b)),
        }
    }

    pub async fn item(&self, id: &str) -> Result<Item, OneDriveError> {
        let url = self.url(&["items", id])?;
        match self
            .send(&url, |a| self.client.get(url.clone()).bearer_auth(a))
            .await?
        {
            Answer::Ok(b) => item_of("get item", &b),
            Answer::Status(s, b) => Err(api("get item", s, &b)),
        }
    }

    pub async fn content(&self, id: &str) -> Result<Vec<u8>, OneDriveError> {
        let url = self.url(&["items", id, "content"])?;
        match self
            .send(&url, |a| self.client.get(url.clone()).bearer_auth(a))
            .await?
        {
            Answer::Ok(b) => Ok(b),
            Answer::Status(s, b) => Err(api("download", s, &b)),
        }
    }

    /// Replace the content if the item is still at `etag`; `Ok(false)` on 412.
    pub async fn replace(
        &self,
        id: &str,
        etag: &str,
        bytes: Vec<u8>,
    ) -> Result<bool, OneDriveError> {
        let url = self.url(&["items", id, "content"])?;
        match self
            .send(&url, |a| {
                self.client
                    .put(url.clone())
                    .bearer_auth(a)
                    .header(reqwest::header::IF_MATCH, etag)
                    .header(reqwest::header::CONTENT_TYPE, DOCX_MIME)
                    .body(bytes.clone())
            })
            .await?
        {
            Answer::Ok(_) => Ok(true),
            Answer::Status(StatusCode::PRECONDITION_FAILED, _) => Ok(false),
            Answer::Status(s, b) => Err(api("upload", s, &b)),
        }
    }

    /// Give `email` write access without an e-mail, and return a "specific people" edit link.
    pub async fn share_with(&self, id: &str, email: &str) -> Result<String, OneDriveError> {
        let url = self.url(&["items", id, "invite"])?;
        let body = json!({
            "recipients": [{"email": email}],
            "roles": ["write"],
            "requireSignIn": true,
            "sendInvitation": false,
        });
        if let Answer::Status(s, b) = self
            .send(&url, |a| {
                self.client.post(url.clone()).bearer_auth(a).json(&body)
            })
            .await?
        {
            return Err(api("invite", s, &b));
        }
        let url = self.url(&["items", id, "createLink"])?;
        let body = json!({"type": "edit", "scope": "users"});
        match self
            .send(&url, |a| {
                self.client.post(url.clone()).bearer_auth(a).json(&body)
            })
            .await?
        {
            Answer::Ok(b) => {
                let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                v["link"]["webUrl"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or(OneDriveError::Decode {
                        what: "createLink",
                        reason: "no link.webUrl".into(),
                    })
            }
            Answer::Status(s, b) => Err(api("createLink", s, &b)),
        }
    }

    /// The document's text (one line per paragraph).
    pub async fn docx_text(&self, id: &str) -> Result<String, OneDriveError> {
        let bytes = self.content(id).await?;
        docx::text(&bytes).map_err(|source| OneDriveError::Docx {
            path: id.to_string(),
            source,
        })
    }
}

/// The file's path under [`FOLDER`]: `<stem>.docx`, or `<stem>/<date>.docx` for a session.
fn path_of(spec: &DocumentSpec<'_>) -> String {
    match spec.date {
        None => format!("{}.docx", spec.stem),
        Some(date) => format!("{}/{date}.docx", spec.stem),
    }
}

impl DocumentHost for OneDriveClient {
    type Error = OneDriveError;
    type Version = Version;

    /// A file is named by its path, which carries a session's date already.
    fn title(&self, title: &str, _: &DocumentSpec<'_>) -> String {
        title.to_string()
    }

    async fn find(&self, spec: &DocumentSpec<'_>) -> Result<Option<Document>, OneDriveError> {
        Ok(self.find_path(&path_of(spec)).await?.map(|i| Document {
            id: i.id,
            link: None,
        }))
    }

    async fn create(
        &self,
        spec: &DocumentSpec<'_>,
        _title: &str,
        text: &str,
    ) -> Result<Document, OneDriveError> {
        let item = self.create_path(&path_of(spec), text).await?;
        Ok(Document {
            id: item.id,
            link: None,
        })
    }

    async fn share(&self, doc: &Document, email: &str) -> Result<String, OneDriveError> {
        self.share_with(&doc.id, email).await
    }

    async fn text(&self, id: &str) -> Result<String, OneDriveError> {
        self.docx_text(id).await
    }

    async fn read(&self, id: &str) -> Result<Snapshot<Version>, OneDriveError> {
        let item = self.item(id).await?;
        let bytes = self.content(id).await?;
        let text = docx::text(&bytes).map_err(|source| OneDriveError::Docx {
            path: id.to_string(),
            source,
        })?;
        Ok(Snapshot {
            text,
            version: Version {
                etag: item.etag,
                bytes,
            },
        })
    }

    async fn text_at(
        &self,
        _: &str,
        snapshot: &Snapshot<Version>,
    ) -> Result<String, OneDriveError> {
        Ok(snapshot.text.clone())
    }

    /// The new paragraphs go before the first section's (or at the end), in `word/document.xml`
    /// only; `If-Match` on the eTag read.
    async fn insert_section(
        &self,
        id: &str,
        snapshot: &Snapshot<Version>,
        section: String,
        _first: bool,
    ) -> Result<bool, OneDriveError> {
        let v = &snapshot.version;
        let new = docx::insert_before(&v.bytes, SECTION_MARKER, &section).map_err(|source| {
            OneDriveError::Docx {
                path: id.to_string(),
                source,
            }
        })?;
        self.replace(id, &v.etag, new).await
    }
}
