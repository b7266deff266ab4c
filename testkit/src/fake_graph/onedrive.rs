//! OneDrive for the Graph fake, as far as agenda documents use it (docs/microsoft-graph.md §7):
//!
//! - `GET …/drive/root:/{path}` → the driveItem (`id`, `name`, `eTag`, `cTag`, `size`, `webUrl`,
//!   `file.mimeType`, `parentReference.path`), or 404 `itemNotFound`. `GET …/drive/items/{id}`.
//! - `PUT …/drive/root:/{path}:/content` (§7.1): creates the file (parent folders implied) → 201;
//!   an existing file is replaced (201, §7.1) unless `@microsoft.graph.conflictBehavior=fail` →
//!   409 `nameAlreadyExists` (UNVERIFIED wording). `PUT …/drive/items/{id}/content` replaces;
//!   with `If-Match` not the current eTag → 412 `resourceModified`. Every write changes eTag and
//!   cTag. Size limit 4 MB (§7.1) → 413.
//! - `GET …/drive/items/{id}/content` → the bytes (200; the real service answers 302 to a
//!   pre-authenticated download URL, which HTTP clients follow: a simplification).
//! - `POST …/drive/items/{id}/invite` (`recipients`, `roles`, `requireSignIn`, `sendInvitation`)
//!   → 200 `{value: [permission]}`, recorded; `POST …/drive/items/{id}/createLink` (§7.2) →
//!   201 with a new link, 200 with the existing one of the same type and scope.
//! - Hooks: [`super::FakeGraph::drive_put_before_next_upload`] lands another client's save
//!   between a client's read and its conditional write.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::errors::{self, Reply};

#[derive(Debug, Clone)]
pub struct DriveItem {
    pub id: String,
    pub path: String,
    pub content: Vec<u8>,
    pub version: u64,
    pub links: Vec<Value>,
}

/// A recorded invite.
#[derive(Debug, Clone)]
pub struct Invite {
    pub item_id: String,
    pub body: Value,
}

#[derive(Debug, Default)]
pub struct DriveState {
    pub items: BTreeMap<String, DriveItem>,
    pub counter: u64,
    pub invites: Vec<Invite>,
    /// (item id, new content) saved by another client before the next upload of that item.
    pub puts_before_upload: Vec<(String, Vec<u8>)>,
    /// Every upload: (item id or path, If-Match, status).
    pub uploads: Vec<(String, Option<String>, u16)>,
}

const MAX_SIMPLE_UPLOAD: usize = 4 * 1024 * 1024;

impl DriveItem {
    pub fn etag(&self) -> String {
        format!("\"{{{}}},{}\"", self.id, self.version)
    }

    fn resource(&self) -> Value {
        let name = self.path.rsplit('/').next().unwrap_or(&self.path);
        let parent = self.path.rsplit_once('/').map_or("", |(p, _)| p);
        json!({
            "id": self.id,
            "name": name,
            "eTag": self.etag(),
            "cTag": format!("\"c:{{{}}},{}\"", self.id, self.version),
            "size": self.content.len(),
            "webUrl": format!("https://contoso-my.sharepoint.com/personal/adele/Documents/{}", self.path),
            "file": {"mimeType": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
            "parentReference": {"path": format!("/drive/root:/{parent}")},
        })
    }
}

/// A non-JSON body: carried base64-encoded and marked, decoded by the server's `to_response`.
fn bytes_reply(bytes: &[u8]) -> Reply {
    use base64::Engine;
    Reply::ok(Value::String(
        base64::engine::general_purpose::STANDARD.encode(bytes),
    ))
    .with_header(RAW_BODY_HEADER, "1")
    .with_header("Content-Type", "application/octet-stream")
}

/// Marks a [`Reply`] whose body is base64 bytes (never sent on the wire).
pub const RAW_BODY_HEADER: &str = "X-Fake-Raw-Body";

fn not_found(rid: &str) -> Reply {
    errors::graph_error(404, "itemNotFound", "The resource could not be found.", rid)
}

impl DriveState {
    fn by_path(&self, path: &str) -> Option<&DriveItem> {
        self.items
            .values()
            .find(|i| i.path.eq_ignore_ascii_case(path))
    }

    /// Route `…/drive/<tail>`; `tail` are the path segments after `drive`.
    pub fn route(
        &mut self,
        method: &str,
        tail: &[String],
        params: &[(String, String)],
        if_match: Option<&str>,
        body: &[u8],
        rid: &str,
    ) -> Reply {
        let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        // root:/a/b        root:/a/b:/content
        if tail.first().map(String::as_str) == Some("root:") {
            let rest = &tail[1..];
            let content = rest.last().map(String::as_str) == Some("content")
                && rest.len() >= 2
                && rest[rest.len() - 2].ends_with(':');
            let path_segs = if content {
                &rest[..rest.len() - 1]
            } else {
                rest
            };
            let path = path_segs.join("/").trim_end_matches(':').to_string();
            return match (method, content) {
                ("GET", false) => match self.by_path(&path) {
                    Some(i) => Reply::ok(i.resource()),
                    None => not_found(rid),
                },
                ("PUT", true) => {
                    let existing = self.by_path(&path).map(|i| i.id.clone());
                    let fail = param("@microsoft.graph.conflictBehavior") == Some("fail");
                    let reply = match existing {
                        Some(_) if fail => errors::graph_error(
                            409,
                            "nameAlreadyExists",
                            "The specified item name already exists.",
                            rid,
                        ),
                        Some(id) => self.upload(&id, None, body, rid),
                        None if body.len() > MAX_SIMPLE_UPLOAD => errors::graph_error(
                            413,
                            "requestTooLarge",
                            "Use an upload session for files over 4 MB.",
                            rid,
                        ),
                        None => {
                            self.counter += 1;
                            let id = format!("01FAKEITEM{:04}", self.counter);
                            let item = DriveItem {
                                id: id.clone(),
                                path: path.clone(),
                                content: body.to_vec(),
                                version: 1,
                                links: Vec::new(),
                            };
                            let r = item.resource();
                            self.items.insert(id, item);
                            Reply {
                                status: 201,
                                ..Reply::ok(r)
                            }
                        }
                    };
                    self.uploads.push((path, None, reply.status));
                    reply
                }
                _ => errors::graph_error(400, "invalidRequest", "Unsupported drive request.", rid),
            };
        }
        let (Some("items"), Some(id)) = (tail.first().map(String::as_str), tail.get(1)) else {
            return errors::graph_error(400, "invalidRequest", "Unsupported drive request.", rid);
        };
        let id = id.clone();
        match (method, tail.get(2).map(String::as_str)) {
            ("GET", None) => match self.items.get(&id) {
                Some(i) => Reply::ok(i.resource()),
                None => not_found(rid),
            },
            ("GET", Some("content")) => match self.items.get(&id) {
                Some(i) => bytes_reply(&i.content),
                None => not_found(rid),
            },
            ("PUT", Some("content")) => {
                let reply = self.upload(&id, if_match, body, rid);
                self.uploads
                    .push((id, if_match.map(str::to_string), reply.status));
                reply
            }
            ("POST", Some("invite")) => {
                if !self.items.contains_key(&id) {
                    return not_found(rid);
                }
                let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let Some(email) = b["recipients"][0]["email"].as_str() else {
                    return errors::graph_error(
                        400,
                        "invalidRequest",
                        "recipients is required.",
                        rid,
                    );
                };
                let perm = json!({"id": format!("perm-{email}"), "roles": b["roles"].clone(),
                    "grantedTo": {"user": {"email": email}}});
                self.invites.push(Invite {
                    item_id: id,
                    body: b,
                });
                Reply::ok(json!({"value": [perm]}))
            }
            ("POST", Some("createLink")) => {
                let Some(item) = self.items.get_mut(&id) else {
                    return not_found(rid);
                };
                let b: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
                let (ty, scope) = (b["type"].clone(), b["scope"].clone());
                if let Some(l) = item
                    .links
                    .iter()
                    .find(|l| l["link"]["type"] == ty && l["link"]["scope"] == scope)
                {
                    return Reply::ok(l.clone());
                }
                let roles = if ty == "edit" {
                    json!(["write"])
                } else {
                    json!(["read"])
                };
                let link = json!({"id": format!("link{}", item.links.len()), "roles": roles,
                    "link": {"type": ty, "scope": scope,
                             "webUrl": format!("https://contoso-my.sharepoint.com/:w:/g/personal/adele/{}?e=share{}", item.id, item.links.len())}});
                item.links.push(link.clone());
                Reply {
                    status: 201,
                    ..Reply::ok(link)
                }
            }
            _ => errors::graph_error(400, "invalidRequest", "Unsupported drive request.", rid),
        }
    }

    fn upload(&mut self, id: &str, if_match: Option<&str>, body: &[u8], rid: &str) -> Reply {
        if let Some(pos) = self.puts_before_upload.iter().position(|(i, _)| i == id) {
            let (_, other) = self.puts_before_upload.remove(pos);
            if let Some(item) = self.items.get_mut(id) {
                item.content = other;
                item.version += 1;
            }
        }
        let Some(item) = self.items.get_mut(id) else {
            return not_found(rid);
        };
        if let Some(tag) = if_match
            && tag != item.etag()
            && tag != "*"
        {
            return errors::graph_error(
                412,
                "resourceModified",
                "ETag does not match current item's value",
                rid,
            );
        }
        if body.len() > MAX_SIMPLE_UPLOAD {
            return errors::graph_error(413, "requestTooLarge", "Use an upload session.", rid);
        }
        item.content = body.to_vec();
        item.version += 1;
        Reply {
            status: 201,
            ..Reply::ok(item.resource())
        }
    }
}
