//! The `google-drive` document back-end (docs/design.md, Agenda documents): one Google Doc per report (or per session) in the
//! manager's Drive, found again by an app property, shared with the report as writer without a
//! notification e-mail; new sections are inserted above the newest one with the Docs API,
//! conditional on the revision read; open follow-ups are read back from the exported text.
//!
//! The document holds the same Markdown text as the local store, as plain text: it is created by
//! converting a `text/plain` upload, and sections are inserted as text, so the exported text
//! parses exactly like a local file (checking an item is editing `[ ]` into `[x]`).
//!
//! Invariants: a document is created only when the app-property search finds none; a section is
//! inserted only with `writeControl.requiredRevisionId` of the revision it was computed from (the
//! agenda re-reads and recomputes a rejected one).

use std::path::Path;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::auth::{AuthError, Authenticator, system_clock};
use super::sync::google_retryable;
use crate::config::GoogleAccount;
use crate::providers::documents::{Document, DocumentHost, DocumentSpec, SECTION_MARKER, Snapshot};
use crate::providers::http::{self, HttpError, RetryPolicy};

/// The app property naming the report (series mode) or `report|date` (session mode).
pub const APP_PROPERTY: &str = "cadencedAgenda";
pub const DOC_MIME: &str = "application/vnd.google-apps.document";
/// Scope for the files cadenced creates (and only those).
pub const DRIVE_SCOPE: &str = "https://www.googleapis.com/auth/drive.file";
const DEFAULT_API_BASE: &str = "https://www.googleapis.com";
const DOCS_API_BASE: &str = "https://docs.googleapis.com";

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("Google Drive answered HTTP {status} to {what}: {message}")]
    Api {
        what: &'static str,
        status: u16,
        message: String,
    },
    #[error("unexpected answer from Google Drive to {what}: {reason}")]
    Decode { what: &'static str, reason: String },
}

/// A Drive document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriveDoc {
    pub id: String,
    pub web_view_link: String,
}

/// A document as the Docs API shows it.
#[derive(Debug, Clone)]
pub struct DocState {
    pub revision_id: String,
    /// The body text (without the leading section break).
    pub text: String,
    /// Where a new section goes (UTF-16 index): before the first section, else at the end.
    pub insert_index: usize,
}

/// The version a section insert is conditional on, and where it goes.
#[derive(Debug, Clone)]
pub struct Revision {
    pub revision_id: String,
    /// Where a new section goes (UTF-16 index).
    pub insert_index: usize,
}

/// The manager's Drive, through one Google account.
pub struct DriveClient {
    client: Client,
    auth: Authenticator,
    api_base: String,
}

enum Answer {
    Ok(Vec<u8>),
    Status(StatusCode, Vec<u8>),
}

impl DriveClient {
    /// The Drive of account `name`, authorized for `scope` (reading, and the app's own files).
    pub fn new(
        name: &str,
        g: &GoogleAccount,
        state_dir: &Path,
        client: Client,
        scope: String,
    ) -> Self {
        let auth = Authenticator::new(name, g, state_dir, client.clone(), system_clock())
            .with_scope(scope);
        DriveClient {
            client,
            auth,
            api_base: g.api_base.clone(),
        }
    }

    fn docs_base(&self) -> &str {
        // Production Docs lives on its own host; an overridden api_base (a proxy, a fake) serves
        // both under one address.
        if self.api_base.trim_end_matches('/') == DEFAULT_API_BASE {
            DOCS_API_BASE
        } else {
            self.api_base.trim_end_matches('/')
        }
    }

    fn base(&self) -> &str {
        self.api_base.trim_end_matches('/')
    }

    async fn send(
        &self,
        url: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer, DriveError> {
        let mut access = self.auth.access_token().await?;
        let mut refreshed = false;
        loop {
            let resp = http::send_buffered_with_retry(
                url,
                RetryPolicy::default(),
                || build(&access),
                google_retryable,
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

    async fn json(
        &self,
        what: &'static str,
        url: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Value, DriveError> {
        match self.send(url, build).await? {
            Answer::Ok(body) => serde_json::from_slice(&body).map_err(|e| DriveError::Decode {
                what,
                reason: e.to_string(),
            }),
            Answer::Status(s, body) => Err(api_error(what, s, &body)),
        }
    }

    /// The document with this app-property value, if one exists (and is not trashed).
    pub async fn find_key(&self, key: &str) -> Result<Option<DriveDoc>, DriveError> {
        let url = format!("{}/drive/v3/files", self.base());
        let q = format!(
            "appProperties has {{ key='{APP_PROPERTY}' and value='{}' }} and trashed = false",
            key.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let v = self
            .json("files.list", &url, |a| {
                self.client
                    .get(&url)
                    .query(&[("q", q.as_str()), ("fields", "files(id,webViewLink)")])
                    .bearer_auth(a)
            })
            .await?;
        Ok(v["files"]
            .as_array()
            .and_then(|f| f.first())
            .and_then(doc_of))
    }

    /// Create a Google Doc from `text` (a `text/plain` upload converted to a Doc).
    pub async fn create_doc(
        &self,
        key: &str,
        name: &str,
        text: &str,
    ) -> Result<DriveDoc, DriveError> {
        let url = format!("{}/upload/drive/v3/files", self.base());
        let boundary = "cadenced-agenda-boundary-7f3a9c";
        let meta = json!({
            "name": name,
            "mimeType": DOC_MIME,
            "appProperties": {APP_PROPERTY: key},
        });
        let body = format!(
            "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n\
             --{boundary}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n--{boundary}--\r\n"
        );
        let v = self
            .json("files.create", &url, |a| {
                self.client
                    .post(&url)
                    .query(&[("uploadType", "multipart"), ("fields", "id,webViewLink")])
                    .bearer_auth(a)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        format!("multipart/related; boundary={boundary}"),
                    )
                    .body(body.clone())
            })
            .await?;
        doc_of(&v).ok_or(DriveError::Decode {
            what: "files.create",
            reason: "no id or webViewLink".into(),
        })
    }

    /// Share the document with `email` as writer, without a notification e-mail.
    pub async fn share_with(&self, id: &str, email: &str) -> Result<(), DriveError> {
        let url = format!("{}/drive/v3/files/{id}/permissions", self.base());
        let body = json!({"type": "user", "role": "writer", "emailAddress": email});
        self.json("permissions.create", &url, |a| {
            self.client
                .post(&url)
                .query(&[("sendNotificationEmail", "false")])
                .bearer_auth(a)
                .json(&body)
        })
        .await
        .map(|_| ())
    }

    /// The document's text as Drive exports it (BOM and CRLF removed).
    pub async fn export_text(&self, id: &str) -> Result<String, DriveError> {
        let url = format!("{}/drive/v3/files/{id}/export", self.base());
        match self
            .send(&url, |a| {
                self.client
                    .get(&url)
                    .query(&[("mimeType", "text/plain")])
                    .bearer_auth(a)
            })
            .await?
        {
            Answer::Ok(body) => {
                let text = String::from_utf8_lossy(&body);
                Ok(text.trim_start_matches('\u{feff}').replace("\r\n", "\n"))
            }
            Answer::Status(s, body) => Err(api_error("files.export", s, &body)),
        }
    }

    /// The document's revision, text and the index where a new section goes.
    pub async fn document(&self, id: &str) -> Result<DocState, DriveError> {
        let url = format!("{}/v1/documents/{id}", self.docs_base());
        let v = self
            .json("documents.get", &url, |a| {
                self.client.get(&url).bearer_auth(a)
            })
            .await?;
        doc_state(&v).ok_or(DriveError::Decode {
            what: "documents.get",
            reason: "no revisionId or body".into(),
        })
    }

    /// Insert `text` at `index` if the document is still at `revision`; `Ok(false)` when it was
    /// not (the caller re-reads).
    pub async fn insert(
        &self,
        id: &str,
        index: usize,
        text: &str,
        revision: &str,
    ) -> Result<bool, DriveError> {
        let url = format!("{}/v1/documents/{id}:batchUpdate", self.docs_base());
        let body = json!({
            "requests": [{"insertText": {"location": {"index": index}, "text": text}}],
            "writeControl": {"requiredRevisionId": revision},
        });
        match self
            .send(&url, |a| self.client.post(&url).bearer_auth(a).json(&body))
            .await?
        {
            Answer::Ok(_) => Ok(true),
            // A stale required revision is a 400; whether that was the cause is settled by
            // reading the revision again.
            Answer::Status(StatusCode::BAD_REQUEST, body) => {
                let now = self.document(id).await?;
                if now.revision_id != revision {
                    Ok(false)
                } else {
                    Err(api_error(
                        "documents.batchUpdate",
                        StatusCode::BAD_REQUEST,
                        &body,
                    ))
                }
            }
            Answer::Status(s, body) => Err(api_error("documents.batchUpdate", s, &body)),
        }
    }
}

impl DocumentHost for DriveClient {
    type Error = DriveError;
    type Version = Revision;

    /// A Doc is named by its title: a session document's carries the session's date.
    fn title(&self, title: &str, spec: &DocumentSpec<'_>) -> String {
        match spec.date {
            None => title.to_string(),
            Some(date) => format!("{title} {date}"),
        }
    }

    async fn find(&self, spec: &DocumentSpec<'_>) -> Result<Option<Document>, DriveError> {
        Ok(self.find_key(spec.key).await?.map(Document::from))
    }

    async fn create(
        &self,
        spec: &DocumentSpec<'_>,
        title: &str,
        text: &str,
    ) -> Result<Document, DriveError> {
        Ok(self.create_doc(spec.key, title, text).await?.into())
    }

    /// The link is the document's `webViewLink`, known since it was found or created.
    async fn share(&self, doc: &Document, email: &str) -> Result<String, DriveError> {
        self.share_with(&doc.id, email).await?;
        // Always there: `find` and `create` only return documents with their webViewLink.
        doc.link.clone().ok_or(DriveError::Decode {
            what: "permissions.create",
            reason: "the document has no webViewLink".into(),
        })
    }

    async fn text(&self, id: &str) -> Result<String, DriveError> {
        self.export_text(id).await
    }

    async fn read(&self, id: &str) -> Result<Snapshot<Revision>, DriveError> {
        let doc = self.document(id).await?;
        Ok(Snapshot {
            text: doc.text,
            version: Revision {
                revision_id: doc.revision_id,
                insert_index: doc.insert_index,
            },
        })
    }

    /// The exported text (checked items read `[x]` there, as in a local file).
    async fn text_at(&self, id: &str, _: &Snapshot<Revision>) -> Result<String, DriveError> {
        self.export_text(id).await
    }

    async fn insert_section(
        &self,
        id: &str,
        snapshot: &Snapshot<Revision>,
        mut section: String,
        first: bool,
    ) -> Result<bool, DriveError> {
        if first {
            let text = &snapshot.text;
            // Appended before the final newline: keep a blank line after the title block.
            let before = text.strip_suffix('\n').unwrap_or(text);
            if !before.ends_with("\n\n") {
                section.insert_str(0, if before.ends_with('\n') { "\n" } else { "\n\n" });
            }
            // The body's own final newline follows: one less here.
            if section.ends_with("\n\n") {
                section.pop();
            }
        }
        let v = &snapshot.version;
        self.insert(id, v.insert_index, &section, &v.revision_id)
            .await
    }
}

impl From<DriveDoc> for Document {
    fn from(d: DriveDoc) -> Document {
        Document {
            id: d.id,
            link: Some(d.web_view_link),
        }
    }
}

fn doc_of(v: &Value) -> Option<DriveDoc> {
    Some(DriveDoc {
        id: v["id"].as_str()?.to_string(),
        web_view_link: v["webViewLink"].as_str()?.to_string(),
    })
}

/// The text of a Docs body and where a new section goes.
fn doc_state(v: &Value) -> Option<DocState> {
    let revision_id = v["revisionId"].as_str()?.to_string();
    let content = v["body"]["content"].as_array()?;
    let mut text = String::new();
    let mut insert_index = None;
    let mut end = 1;
    for el in content {
        let Some(p) = el.get("paragraph") else {
            if let Some(e) = el["endIndex"].as_u64() {
                end = end.max(e as usize);
            }
            continue;
        };
        let para: String = p["elements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["textRun"]["content"].as_str())
            .collect();
        if insert_index.is_none() && para.trim_start().starts_with(SECTION_MARKER) {
            insert_index = el["startIndex"].as_u64().map(|i| i as usize);
        }
        if let Some(e) = el["endIndex"].as_u64() {
            end = end.max(e as usize);
        }
        text.push_str(&para);
    }
    // With no section yet, append before the body's final newline.
    let insert_index = insert_index.unwrap_or(end.saturating_sub(1).max(1));
    Some(DocState {
        revision_id,
        text,
        insert_index,
    })
}

fn api_error(what: &'static str, status: StatusCode, body: &[u8]) -> DriveError {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    DriveError::Api {
        what,
        status: status.as_u16(),
        message: v["error"]["message"]
            .as_str()
            .unwrap_or("no error message")
            .to_string(),
    }
}
