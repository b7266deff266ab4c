//! Writing the agenda link into Microsoft 365 events (docs/design.md, Writing to calendars): `GET …/events/{id}`, then
//! `PATCH …/events/{id}` with `If-Match` on the `@odata.etag` read.
//!
//! Invariants: only events the manager organizes are written (`isOrganizer`, or the manager's
//! address); an HTML body gains one delimited block just before `</body>` (so after everything
//! already there, an online-meeting join block included) and keeps every other byte; a text body
//! gets the plain block of `block.rs`; a single-value extended property marks the edit; a 412
//! (or 409) re-reads and re-applies, at most [`MAX_ATTEMPTS`] times, then gives up; an event that
//! already carries the block (or the link) is never written again. Graph has no switch to keep
//! attendees from being notified, so the planner writes a series once (series mode).

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::auth::{AuthError, Authenticator, system_clock};
use super::graph::graph_url;
use crate::config::MicrosoftAccount;
use crate::providers::block;
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::write::{
    EventLinker, EventRef, LinkOutcome, LinkSettings, MAX_ATTEMPTS, UnlinkOutcome,
};

/// The single-value extended property marking cadenced's edit (its value is the link).
pub const PROPERTY_ID: &str = "String {5b1c3e7a-2f4d-4b8e-9c61-0d7a3f2e8b14} Name cadencedAgenda";
const HTML_BEGIN: &str = "<!-- cadenced agenda -->";
const HTML_END: &str = "<!-- end of cadenced agenda -->";

#[derive(Debug, thiserror::Error)]
pub enum MsWriteError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("event {event}: Microsoft Graph answered HTTP {status}: {message}")]
    Api {
        event: String,
        status: u16,
        message: String,
    },
    #[error("event {event}: unexpected answer from Microsoft Graph: {reason}")]
    Decode { event: String, reason: String },
    #[error("{0}")]
    Url(String),
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The HTML block for a link.
pub fn html_block(title: &str, url: &str) -> String {
    format!(
        "{HTML_BEGIN}<div data-cadenced=\"agenda\"><p>{}: <a href=\"{}\">{}</a></p></div>{HTML_END}",
        "Agenda",
        escape(url),
        escape(title)
    )
}

/// The HTML body with the block inserted just before the last `</body>` (or at the end).
pub fn html_add(content: &str, block: &str) -> String {
    let at = content
        .to_ascii_lowercase()
        .rfind("</body>")
        .unwrap_or(content.len());
    let mut out = String::with_capacity(content.len() + block.len());
    out.push_str(&content[..at]);
    out.push_str(block);
    out.push_str(&content[at..]);
    out
}

/// The HTML body without cadenced's block, if it is there.
pub fn html_remove(content: &str) -> Option<String> {
    let start = content.find(HTML_BEGIN)?;
    let end = content[start..].find(HTML_END)? + start + HTML_END.len();
    Some(format!("{}{}", &content[..start], &content[end..]))
}

/// One Microsoft account's event writer.
pub struct MsWriter {
    client: Client,
    auth: Authenticator,
    ms: MicrosoftAccount,
    manager: String,
    /// Also write the block into the body (`[agenda] notify_attendees`).
    in_body: bool,
}

enum Patched {
    Ok,
    Conflict,
}

impl MsWriter {
    /// The writer of account `name`.
    pub fn new(name: &str, ms: &MicrosoftAccount, settings: &LinkSettings<'_>) -> Self {
        let auth = Authenticator::new(
            name,
            ms,
            settings.state_dir,
            settings.client.clone(),
            system_clock(),
        );
        MsWriter {
            client: settings.client.clone(),
            auth,
            ms: ms.clone(),
            manager: settings.manager.to_string(),
            in_body: settings.in_body,
        }
    }

    fn url(&self, event_id: &str) -> Result<reqwest::Url, MsWriteError> {
        graph_url(&self.ms, &["events", event_id]).map_err(|e| MsWriteError::Url(e.to_string()))
    }

    async fn send(
        &self,
        event_id: &str,
        url: &reqwest::Url,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Result<Vec<u8>, StatusCode>, MsWriteError> {
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
                s if s.is_success() => return Ok(Ok(resp.body)),
                s @ (StatusCode::PRECONDITION_FAILED | StatusCode::CONFLICT) => return Ok(Err(s)),
                StatusCode::NOT_FOUND => return Ok(Err(StatusCode::NOT_FOUND)),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    access = self.auth.refresh().await?;
                }
                s => {
                    let v: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
                    return Err(MsWriteError::Api {
                        event: event_id.to_string(),
                        status: s.as_u16(),
                        message: v["error"]["message"]
                            .as_str()
                            .unwrap_or("no error message")
                            .to_string(),
                    });
                }
            }
        }
    }

    /// The event (subject, body, organizer), or `None` when it is gone.
    pub async fn get(&self, event_id: &str) -> Result<Option<Value>, MsWriteError> {
        let url = self.url(event_id)?;
        let r = self
            .send(event_id, &url, |a| {
                self.client
                    .get(url.clone())
                    .query(&[("$select", "subject,body,organizer,isOrganizer")])
                    .bearer_auth(a)
            })
            .await?;
        match r {
            Ok(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| MsWriteError::Decode {
                    event: event_id.to_string(),
                    reason: e.to_string(),
                }),
            Err(_) => Ok(None),
        }
    }

    async fn patch(
        &self,
        event_id: &str,
        etag: &str,
        body: &Value,
    ) -> Result<Patched, MsWriteError> {
        let url = self.url(event_id)?;
        match self
            .send(event_id, &url, |a| {
                self.client
                    .patch(url.clone())
                    .bearer_auth(a)
                    .header(reqwest::header::IF_MATCH, etag)
                    .json(body)
            })
            .await?
        {
            Ok(_) => Ok(Patched::Ok),
            Err(StatusCode::NOT_FOUND) => Err(MsWriteError::Api {
                event: event_id.to_string(),
                status: 404,
                message: "the event no longer exists".into(),
            }),
            Err(_) => Ok(Patched::Conflict),
        }
    }

    fn organizes(&self, event: &Value) -> bool {
        event["isOrganizer"].as_bool() == Some(true)
            || event["organizer"]["emailAddress"]["address"]
                .as_str()
                .is_some_and(|a| a.eq_ignore_ascii_case(&self.manager))
    }
}

impl EventLinker for MsWriter {
    type Error = MsWriteError;

    fn mark(&self) -> &'static str {
        PROPERTY_ID
    }

    /// Mark the event with the link, once; with `in_body` (`[agenda] notify_attendees`, the
    /// default) also add it to the body. Graph cannot keep an organizer's body edit from
    /// reaching attendees as an update: in series mode that is one update per series, once;
    /// `notify_attendees = false` opts out (private mark only).
    async fn link(
        &self,
        event: &EventRef<'_>,
        title: &str,
        url: &str,
    ) -> Result<LinkOutcome, MsWriteError> {
        let event_id = event.event_id;
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(event) = self.get(event_id).await? else {
                return Err(MsWriteError::Api {
                    event: event_id.to_string(),
                    status: 404,
                    message: "the event no longer exists".into(),
                });
            };
            let etag = event["@odata.etag"].as_str().map(str::to_string);
            if !self.organizes(&event) {
                return Ok(LinkOutcome::NotOrganizer);
            }
            let html = event["body"]["contentType"].as_str() != Some("text");
            let content = event["body"]["content"].as_str().unwrap_or("");
            if content.contains(HTML_BEGIN)
                || block::find(content).is_some()
                || content.contains(&escape(url))
            {
                return Ok(LinkOutcome::AlreadyLinked { etag });
            }
            let Some(tag) = etag else {
                return Err(MsWriteError::Decode {
                    event: event_id.to_string(),
                    reason: "the event has no etag to write against".into(),
                });
            };
            let mut body = json!({
                "singleValueExtendedProperties": [{"id": PROPERTY_ID, "value": url}],
            });
            if self.in_body {
                let (content_type, new) = if html {
                    ("html", html_add(content, &html_block(title, url)))
                } else {
                    ("text", block::add(Some(content), &block::block(title, url)))
                };
                body["body"] = json!({"contentType": content_type, "content": new});
            }
            match self.patch(event_id, &tag, &body).await? {
                Patched::Ok => {
                    // The answer's etag is the new one; read it back cheaply from the next run.
                    return Ok(LinkOutcome::Linked { etag: None });
                }
                Patched::Conflict => tracing::info!(
                    event = event_id,
                    attempt,
                    "the event changed while the agenda link was added; reading it again"
                ),
            }
        }
        Ok(LinkOutcome::GaveUp)
    }

    /// Remove exactly the block [`Self::link`] added, and empty the mark (Graph cannot delete a
    /// single-value extended property short of deleting the event).
    async fn unlink(&self, event: &EventRef<'_>) -> Result<UnlinkOutcome, MsWriteError> {
        let event_id = event.event_id;
        for _ in 0..MAX_ATTEMPTS {
            let Some(event) = self.get(event_id).await? else {
                return Ok(UnlinkOutcome::Gone);
            };
            let html = event["body"]["contentType"].as_str() != Some("text");
            let content = event["body"]["content"].as_str().unwrap_or("");
            let stripped = if html {
                html_remove(content)
            } else {
                block::remove(content)
            };
            let Some(tag) = event["@odata.etag"].as_str() else {
                return Err(MsWriteError::Decode {
                    event: event_id.to_string(),
                    reason: "the event has no etag to write against".into(),
                });
            };
            // The mark is always emptied (the caller knows cadenced wrote it); the body only
            // changes when it holds cadenced's block.
            let mut body = json!({
                "singleValueExtendedProperties": [{"id": PROPERTY_ID, "value": ""}],
            });
            if let Some(stripped) = stripped {
                body["body"] =
                    json!({"contentType": if html { "html" } else { "text" }, "content": stripped});
            }
            if let Patched::Ok = self.patch(event_id, tag, &body).await? {
                return Ok(UnlinkOutcome::Removed);
            }
        }
        Ok(UnlinkOutcome::GaveUp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_block_goes_before_body_end_and_comes_out_exactly() {
        let body = "<html><head></head><body><div>Alice's topics first.</div><div>________________<br>Microsoft Teams meeting<br><a href=\"https://teams.microsoft.com/l/meetup-join/x\">Join</a></div></BODY></html>";
        let b = html_block("Alice ⇄ Mika — 1on1", "https://x.example/a?b=1&c=2");
        let added = html_add(body, &b);
        assert!(added.contains("</div><!-- cadenced agenda -->"));
        assert!(added.ends_with("<!-- end of cadenced agenda --></BODY></html>"));
        assert!(added.contains("b=1&amp;c=2"));
        assert_eq!(html_remove(&added).as_deref(), Some(body));
    }
}
