//! Drive v3 and Docs v1, as far as agenda documents use them (docs/google-api.md §6), for the Google
//! fake. Served on the fake's one address: Drive under `/drive/v3` and `/upload/drive/v3`, Docs
//! under `/v1/documents` (in production Docs lives on `docs.googleapis.com`).
//!
//! - **files.create** `POST /upload/drive/v3/files?uploadType=multipart` (§6.1): a
//!   `multipart/related` body (JSON metadata, then the media). With metadata `mimeType`
//!   `application/vnd.google-apps.document` the media is converted: `text/plain` becomes the
//!   document's text as is (the only import the fake models; other media types → 400). Without
//!   `fields` only `kind,id,name,mimeType` come back; `fields` selects top-level fields
//!   (`id,webViewLink,appProperties`, …); an unknown field → 400 `invalidParameter`.
//! - **files.list** `GET /drive/v3/files?q=…`: the account's own files, not trashed; `q` terms
//!   joined by `and`: `appProperties has { key='k' and value='v' }`, `trashed = false`,
//!   `mimeType = '…'`, `name = '…'`; other terms → 400 `invalid` (location `q`). `fields` like
//!   `files(id,webViewLink)`.
//! - **files.get** `GET /drive/v3/files/{id}` with `fields`; **files.export**
//!   `GET /drive/v3/files/{id}/export?mimeType=text/plain`: a UTF-8 BOM, then the text with CRLF
//!   line ends (observed behaviour of Google's plain-text export; unverified in the docs). Other
//!   export types → 400 `badRequest`.
//! - **permissions.create** `POST /drive/v3/files/{id}/permissions` (§6.3): `type` user|group|
//!   domain|anyone, `role` owner|organizer|fileOrganizer|writer|commenter|reader;
//!   `sendNotificationEmail` defaults to true for users and groups and is recorded
//!   ([`super::FakeGoogle::drive_permissions`]).
//! - **documents.get** `GET /v1/documents/{id}`: `documentId`, `title`, `revisionId` (changes on
//!   every edit), `body.content`: a section break (`endIndex: 1`), then one paragraph per line
//!   with UTF-16 `startIndex`/`endIndex` and one `textRun`. The text always ends with `\n`.
//! - **documents.batchUpdate** `POST /v1/documents/{id}:batchUpdate`: `insertText` at a
//!   `location.index` inside the body (1 ≤ index < end) or `endOfSegmentLocation`; a
//!   `writeControl.requiredRevisionId` that is not the current revision → 400 (the API reference
//!   says "400 bad request"; the status string `FAILED_PRECONDITION` is unverified). Answers
//!   `{documentId, replies, writeControl: {requiredRevisionId: <new>}}`.
//! - Scopes: Drive methods accept `drive.file` or `drive`, Docs also `documents` (§1.5).
//! - Test hooks: [`super::FakeGoogle::edit_doc_before_next_batch_update`] lands a collaborator's
//!   edit between a client's read and its write.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::errors::{self, Reply};

pub const DOC_MIME: &str = "application/vnd.google-apps.document";
pub const DRIVE_SCOPES: &[&str] = &["drive.file", "drive"];
pub const DOCS_SCOPES: &[&str] = &["drive.file", "drive", "documents"];

/// One Drive file (always a converted Google Doc here).
#[derive(Debug, Clone)]
pub struct DriveFile {
    pub id: String,
    pub name: String,
    pub mime_type: String,
    pub owner: String,
    pub app_properties: Map<String, Value>,
    /// The document's text; always ends with `\n`.
    pub text: String,
    pub revision: u64,
    pub trashed: bool,
    pub permissions: Vec<Value>,
}

/// A collaborator's edit of a document's text.
pub type TextEdit = Box<dyn FnOnce(&str) -> String + Send>;

/// A recorded permissions.create call.
#[derive(Debug, Clone)]
pub struct PermissionRecord {
    pub file_id: String,
    pub body: Value,
    pub send_notification_email: Option<String>,
    pub status: u16,
}

#[derive(Default)]
pub struct DriveState {
    pub files: BTreeMap<String, DriveFile>,
    pub counter: u64,
    pub permission_log: Vec<PermissionRecord>,
    /// (document id, text edit) applied just before the next batchUpdate is handled.
    pub edits_before_batch: Vec<(String, TextEdit)>,
    /// Every batchUpdate body with its answer status.
    pub batch_log: Vec<(String, Value, u16)>,
}

impl DriveFile {
    pub fn revision_id(&self) -> String {
        format!("ALm37B{:06}_fake", self.revision)
    }

    pub fn web_view_link(&self) -> String {
        format!(
            "https://docs.google.com/document/d/{}/edit?usp=drivesdk",
            self.id
        )
    }

    fn resource(&self) -> Value {
        json!({
            "kind": "drive#file",
            "id": self.id,
            "name": self.name,
            "mimeType": self.mime_type,
            "webViewLink": self.web_view_link(),
            "appProperties": self.app_properties,
            "trashed": self.trashed,
            "version": self.revision.to_string(),
        })
    }

    /// A collaborator's edit (or the API's): new text, new revision.
    pub fn set_text(&mut self, text: String) {
        self.text = if text.ends_with('\n') {
            text
        } else {
            format!("{text}\n")
        };
        self.revision += 1;
    }
}

const FILE_FIELDS: &[&str] = &[
    "kind",
    "id",
    "name",
    "mimeType",
    "webViewLink",
    "appProperties",
    "trashed",
    "version",
];

/// Select `fields` (a comma list of top-level names) of a file resource; `None` → the default set.
fn select(resource: &Value, fields: Option<&str>) -> Result<Value, Reply> {
    let default = "kind,id,name,mimeType";
    let fields = fields.unwrap_or(default);
    let mut out = Map::new();
    for f in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if !FILE_FIELDS.contains(&f) {
            return Err(errors::calendar_error(
                400,
                "global",
                "invalidParameter",
                &format!("Invalid field selection {f}"),
                Some(("parameter", "fields")),
            ));
        }
        out.insert(f.to_string(), resource[f].clone());
    }
    Ok(Value::Object(out))
}

fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The Docs body of a text: a section break, then one paragraph per line.
fn body_content(text: &str) -> Vec<Value> {
    let mut content = vec![json!({"endIndex": 1, "sectionBreak": {"sectionStyle": {}}})];
    let mut index = 1;
    for line in text.split_inclusive('\n') {
        let end = index + utf16_len(line);
        content.push(json!({
            "startIndex": index,
            "endIndex": end,
            "paragraph": {
                "elements": [{"startIndex": index, "endIndex": end, "textRun": {"content": line, "textStyle": {}}}],
                "paragraphStyle": {"namedStyleType": "NORMAL_TEXT", "direction": "LEFT_TO_RIGHT"}
            }
        }));
        index = end;
    }
    content
}

/// The byte offset of a UTF-16 index counted from body index 1.
fn byte_offset(text: &str, index: usize) -> Option<usize> {
    let mut units = 1;
    for (byte, ch) in text.char_indices() {
        if units == index {
            return Some(byte);
        }
        if units > index {
            return None; // inside a surrogate pair
        }
        units += ch.len_utf16();
    }
    (units == index).then_some(text.len())
}

fn not_found(id: &str) -> Reply {
    errors::calendar_error(
        404,
        "global",
        "notFound",
        &format!("File not found: {id}."),
        Some(("parameter", "fileId")),
    )
}

fn docs_error(status: u16, grpc: &str, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": {"code": status, "message": message, "status": grpc}}),
        headers: Vec::new(),
        raw: None,
    }
}

impl DriveState {
    fn new_id(&mut self) -> String {
        self.counter += 1;
        format!("1fakeDoc{:04}xYz", self.counter)
    }

    fn own(&self, account: &str, id: &str) -> Option<&DriveFile> {
        self.files
            .get(id)
            .filter(|f| f.owner == account && !f.trashed)
    }

    /// files.create with a multipart upload.
    pub fn create(
        &mut self,
        account: &str,
        content_type: Option<&str>,
        params: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if param("uploadType") != Some("multipart") {
            return errors::calendar_error(
                400,
                "global",
                "badRequest",
                "The fake serves uploadType=multipart only.",
                Some(("parameter", "uploadType")),
            );
        }
        let Some(boundary) = content_type
            .filter(|c| c.starts_with("multipart/related"))
            .and_then(|c| c.split("boundary=").nth(1))
            .map(|b| b.trim_matches('"').to_string())
        else {
            return errors::calendar_error(
                400,
                "global",
                "badContent",
                "Content-Type must be multipart/related with a boundary.",
                None,
            );
        };
        let parts = multipart_parts(body, &boundary);
        let [(meta_type, meta), (media_type, media)] = parts.as_slice() else {
            return errors::calendar_error(
                400,
                "global",
                "badContent",
                "A multipart upload has exactly two parts: metadata and media.",
                None,
            );
        };
        if !meta_type.starts_with("application/json") {
            return errors::calendar_error(
                400,
                "global",
                "badContent",
                "The first part must be application/json metadata.",
                None,
            );
        }
        let Ok(meta) = serde_json::from_slice::<Value>(meta) else {
            return errors::calendar_error(400, "global", "parseError", "Parse Error", None);
        };
        let mime = meta["mimeType"]
            .as_str()
            .unwrap_or("text/plain")
            .to_string();
        if mime != DOC_MIME {
            return errors::calendar_error(
                400,
                "global",
                "badRequest",
                "The fake stores Google Docs only.",
                None,
            );
        }
        if !media_type.starts_with("text/plain") {
            return errors::calendar_error(
                400,
                "global",
                "badRequest",
                &format!("The fake converts text/plain only, not {media_type}."),
                None,
            );
        }
        let id = self.new_id();
        let mut file = DriveFile {
            id: id.clone(),
            name: meta["name"].as_str().unwrap_or("Untitled").to_string(),
            mime_type: mime,
            owner: account.to_string(),
            app_properties: meta["appProperties"]
                .as_object()
                .cloned()
                .unwrap_or_default(),
            text: String::new(),
            revision: 0,
            trashed: false,
            permissions: vec![
                json!({"kind": "drive#permission", "id": "owner", "type": "user", "role": "owner", "emailAddress": account}),
            ],
        };
        file.set_text(String::from_utf8_lossy(media).replace("\r\n", "\n"));
        let resource = file.resource();
        self.files.insert(id, file);
        match select(&resource, param("fields")) {
            Ok(v) => Reply::ok(v),
            Err(r) => r,
        }
    }

    /// files.list with a `q` the fake understands.
    pub fn list(&self, account: &str, params: &[(String, String)]) -> Reply {
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let terms = match parse_q(param("q").unwrap_or("")) {
            Ok(t) => t,
            Err(term) => {
                return errors::calendar_error(
                    400,
                    "global",
                    "invalid",
                    &format!("Invalid Value: the fake does not understand {term:?}"),
                    Some(("parameter", "q")),
                );
            }
        };
        let inner = param("fields").and_then(|f| {
            f.strip_prefix("files(")?
                .strip_suffix(')')
                .map(str::to_string)
        });
        let mut files = Vec::new();
        for f in self.files.values().filter(|f| f.owner == account) {
            if !terms.iter().all(|t| t.matches(f)) {
                continue;
            }
            match select(&f.resource(), inner.as_deref()) {
                Ok(v) => files.push(v),
                Err(r) => return r,
            }
        }
        Reply::ok(json!({"kind": "drive#fileList", "incompleteSearch": false, "files": files}))
    }

    pub fn get(&self, account: &str, id: &str, params: &[(String, String)]) -> Reply {
        let fields = params
            .iter()
            .find(|(n, _)| n == "fields")
            .map(|(_, v)| v.as_str());
        match self.own(account, id) {
            None => not_found(id),
            Some(f) => match select(&f.resource(), fields) {
                Ok(v) => Reply::ok(v),
                Err(r) => r,
            },
        }
    }

    pub fn export(&self, account: &str, id: &str, params: &[(String, String)]) -> Reply {
        let Some(f) = self.own(account, id) else {
            return not_found(id);
        };
        let mime = params
            .iter()
            .find(|(n, _)| n == "mimeType")
            .map(|(_, v)| v.as_str());
        if mime != Some("text/plain") {
            return errors::calendar_error(
                400,
                "global",
                "badRequest",
                "The fake exports text/plain only.",
                Some(("parameter", "mimeType")),
            );
        }
        let text = format!("\u{feff}{}", f.text.replace('\n', "\r\n"));
        Reply {
            status: 200,
            body: Value::Null,
            headers: vec![("Content-Type".into(), "text/plain; charset=UTF-8".into())],
            raw: Some(text),
        }
    }

    pub fn create_permission(
        &mut self,
        account: &str,
        id: &str,
        params: &[(String, String)],
        body: &[u8],
    ) -> Reply {
        let notify = params
            .iter()
            .find(|(n, _)| n == "sendNotificationEmail")
            .map(|(_, v)| v.clone());
        let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let mut rec = PermissionRecord {
            file_id: id.to_string(),
            body: body.clone(),
            send_notification_email: notify,
            status: 200,
        };
        let reply = (|| {
            if self.own(account, id).is_none() {
                return not_found(id);
            }
            let ty = body["type"].as_str().unwrap_or("");
            let role = body["role"].as_str().unwrap_or("");
            if !["user", "group", "domain", "anyone"].contains(&ty)
                || ![
                    "owner",
                    "organizer",
                    "fileOrganizer",
                    "writer",
                    "commenter",
                    "reader",
                ]
                .contains(&role)
            {
                return errors::calendar_error(
                    400,
                    "global",
                    "invalid",
                    "Invalid permission type or role.",
                    None,
                );
            }
            if ["user", "group"].contains(&ty) && body["emailAddress"].as_str().is_none() {
                return errors::calendar_error(
                    400,
                    "global",
                    "required",
                    "The permission emailAddress field is required.",
                    None,
                );
            }
            let f = self.files.get_mut(id).expect("checked above");
            let pid = format!("perm{}", f.permissions.len());
            let mut p = body.clone();
            p["kind"] = json!("drive#permission");
            p["id"] = json!(pid);
            f.permissions.push(p.clone());
            Reply::ok(p)
        })();
        rec.status = reply.status;
        self.permission_log.push(rec);
        reply
    }

    pub fn document(&self, account: &str, id: &str) -> Reply {
        let Some(f) = self.own(account, id) else {
            return docs_error(404, "NOT_FOUND", "Requested entity was not found.");
        };
        Reply::ok(json!({
            "documentId": f.id,
            "title": f.name,
            "revisionId": f.revision_id(),
            "body": {"content": body_content(&f.text)},
        }))
    }

    pub fn batch_update(&mut self, account: &str, id: &str, body: &[u8]) -> Reply {
        if let Some(pos) = self.edits_before_batch.iter().position(|(d, _)| d == id) {
            let (_, edit) = self.edits_before_batch.remove(pos);
            if let Some(f) = self.files.get_mut(id) {
                let new = edit(&f.text);
                f.set_text(new);
            }
        }
        let body_v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let reply = self.apply_batch(account, id, &body_v);
        self.batch_log.push((id.to_string(), body_v, reply.status));
        reply
    }

    fn apply_batch(&mut self, account: &str, id: &str, body: &Value) -> Reply {
        if self.own(account, id).is_none() {
            return docs_error(404, "NOT_FOUND", "Requested entity was not found.");
        }
        let f = self.files.get_mut(id).expect("checked above");
        if let Some(required) = body["writeControl"]["requiredRevisionId"].as_str()
            && required != f.revision_id()
        {
            return docs_error(
                400,
                "FAILED_PRECONDITION",
                "The document was modified since the required revision.",
            );
        }
        let Some(requests) = body["requests"].as_array() else {
            return docs_error(400, "INVALID_ARGUMENT", "requests is required.");
        };
        let mut text = f.text.clone();
        let mut replies = Vec::new();
        for r in requests {
            let Some(ins) = r.get("insertText") else {
                return docs_error(
                    400,
                    "INVALID_ARGUMENT",
                    "The fake supports insertText requests only.",
                );
            };
            let new = ins["text"].as_str().unwrap_or("");
            let end = 1 + utf16_len(&text);
            let at = if ins.get("endOfSegmentLocation").is_some() {
                text.len() - 1
            } else {
                let index = ins["location"]["index"].as_u64().unwrap_or(0) as usize;
                if index < 1 || index >= end {
                    return docs_error(
                        400,
                        "INVALID_ARGUMENT",
                        &format!(
                            "Invalid requests[0].insertText: Index {index} must be less than the end index of the referenced segment, {end}."
                        ),
                    );
                }
                match byte_offset(&text, index) {
                    Some(b) => b,
                    None => {
                        return docs_error(
                            400,
                            "INVALID_ARGUMENT",
                            "The insertion index splits a surrogate pair.",
                        );
                    }
                }
            };
            text.insert_str(at, new);
            replies.push(json!({}));
        }
        f.set_text(text);
        Reply::ok(json!({
            "documentId": id,
            "replies": replies,
            "writeControl": {"requiredRevisionId": f.revision_id()},
        }))
    }
}

/// One `q` term.
enum Term {
    AppProperty(String, String),
    NotTrashed,
    Mime(String),
    Name(String),
}

impl Term {
    fn matches(&self, f: &DriveFile) -> bool {
        match self {
            Term::AppProperty(k, v) => f.app_properties.get(k).and_then(Value::as_str) == Some(v),
            Term::NotTrashed => !f.trashed,
            Term::Mime(m) => f.mime_type == *m,
            Term::Name(n) => f.name == *n,
        }
    }
}

fn quoted(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("\\'", "'"))
}

/// Parse the `q` subset; `Err(term)` names what it does not understand.
fn parse_q(q: &str) -> Result<Vec<Term>, String> {
    let mut terms = Vec::new();
    let mut rest = q.trim();
    while !rest.is_empty() {
        let (term, after) = if let Some(r) = rest.strip_prefix("appProperties has {") {
            let close = r.find('}').ok_or_else(|| rest.to_string())?;
            let inner = &r[..close];
            let (k, v) = inner.split_once(" and ").ok_or_else(|| inner.to_string())?;
            let k = k
                .trim()
                .strip_prefix("key")
                .map(str::trim)
                .and_then(|x| x.strip_prefix('='));
            let v = v
                .trim()
                .strip_prefix("value")
                .map(str::trim)
                .and_then(|x| x.strip_prefix('='));
            match (k.and_then(quoted), v.and_then(quoted)) {
                (Some(k), Some(v)) => (Term::AppProperty(k, v), &r[close + 1..]),
                _ => return Err(inner.to_string()),
            }
        } else {
            let end = rest.find(" and ").unwrap_or(rest.len());
            let t = rest[..end].trim();
            let term = if t == "trashed = false" || t == "trashed=false" {
                Term::NotTrashed
            } else if let Some(v) = t
                .strip_prefix("mimeType")
                .map(str::trim)
                .and_then(|x| x.strip_prefix('='))
            {
                Term::Mime(quoted(v).ok_or_else(|| t.to_string())?)
            } else if let Some(v) = t
                .strip_prefix("name")
                .map(str::trim)
                .and_then(|x| x.strip_prefix('='))
            {
                Term::Name(quoted(v).ok_or_else(|| t.to_string())?)
            } else {
                return Err(t.to_string());
            };
            (term, &rest[end..])
        };
        terms.push(term);
        rest = after.trim_start();
        rest = rest.strip_prefix("and").unwrap_or(rest).trim_start();
    }
    Ok(terms)
}

/// The parts of a multipart body: (content type, content).
fn multipart_parts(body: &[u8], boundary: &str) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(body);
    let delim = format!("--{boundary}");
    let mut out = Vec::new();
    for chunk in text.split(delim.as_str()).skip(1) {
        if chunk.starts_with("--") {
            break;
        }
        let chunk = chunk.strip_prefix("\r\n").unwrap_or(chunk);
        let Some((head, content)) = chunk.split_once("\r\n\r\n") else {
            continue;
        };
        let ctype = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim()
                    .eq_ignore_ascii_case("content-type")
                    .then(|| v.trim().to_string())
            })
            .unwrap_or_default();
        let content = content.strip_suffix("\r\n").unwrap_or(content);
        out.push((ctype, content.as_bytes().to_vec()));
    }
    out
}
