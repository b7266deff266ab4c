//! Writing the agenda link into Google Calendar events (docs/design.md, Writing to calendars): `events.get`, then
//! `events.patch` with `If-Match` on the etag read and `sendUpdates=none`.
//!
//! Invariants: only events whose organizer is the manager (`organizer.self`, or the manager's
//! address) are written; the description keeps every byte it had and gains one delimited block
//! (`block.rs`); `extendedProperties.private.cadencedAgenda` marks the edit; a 412 re-reads and
//! re-applies, at most [`MAX_ATTEMPTS`] times, then gives up without writing; an event that
//! already carries the block is never written again.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use super::auth::{AuthError, Authenticator, scopes, system_clock};
use super::sync::{events_url, google_retryable};
use crate::config::GoogleAccount;
use crate::providers::block;
use crate::providers::http::{self, HttpError, RetryPolicy};
use crate::providers::write::{
    EventLinker, EventRef, LinkOutcome, LinkSettings, MAX_ATTEMPTS, UnlinkOutcome,
};

/// The private extended property that marks cadenced's edit (its value is the link).
pub const MARK: &str = "cadencedAgenda";
/// Google's limit of attachments per event.
const MAX_ATTACHMENTS: usize = 25;
const DOC_MIME: &str = "application/vnd.google-apps.document";

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("event {event}: Google answered HTTP {status}: {message}")]
    Api {
        event: String,
        status: u16,
        message: String,
    },
    #[error("event {event}: unexpected answer from Google: {reason}")]
    Decode { event: String, reason: String },
    #[error("{0}")]
    Url(String),
}

/// One Google account's event writer.
pub struct GoogleWriter {
    client: Client,
    auth: Authenticator,
    api_base: String,
    /// The manager's address (the organizer check when Google does not say `self`).
    manager: String,
    /// Also attach the document natively (a Google Doc, the Drive store).
    attach: bool,
}

enum Patched {
    Ok(Value),
    Conflict,
}

impl GoogleWriter {
    /// The writer of account `name` (with the event-editing scope).
    pub fn new(name: &str, g: &GoogleAccount, settings: &LinkSettings<'_>) -> Self {
        let auth = Authenticator::new(
            name,
            g,
            settings.state_dir,
            settings.client.clone(),
            system_clock(),
        )
        .with_scope(scopes(true));
        GoogleWriter {
            client: settings.client.clone(),
            auth,
            api_base: g.api_base.clone(),
            manager: settings.manager.to_string(),
            attach: settings.attach,
        }
    }

    fn url(&self, calendar: &str, event_id: &str) -> Result<reqwest::Url, WriteError> {
        let mut url = events_url(&self.api_base, calendar).map_err(WriteError::Url)?;
        url.path_segments_mut()
            .map_err(|()| WriteError::Url("api_base cannot be a base URL".into()))?
            .push(event_id);
        Ok(url)
    }

    /// Send a request (retries inside, one token refresh on 401); `Ok(None)` on 412.
    async fn send(
        &self,
        event_id: &str,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
        url: &reqwest::Url,
    ) -> Result<Option<http::Buffered>, WriteError> {
        let mut access = self.auth.access_token().await?;
        let mut refreshed = false;
        loop {
            let resp = http::send_buffered_with_retry(
                url.as_str(),
                RetryPolicy::default(),
                || build(&access),
                google_retryable,
            )
            .await?;
            match resp.status {
                s if s.is_success() => return Ok(Some(resp)),
                StatusCode::PRECONDITION_FAILED => return Ok(None),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    access = self.auth.refresh().await?;
                }
                s => {
                    return Err(WriteError::Api {
                        event: event_id.to_string(),
                        status: s.as_u16(),
                        message: api_message(&resp.body),
                    });
                }
            }
        }
    }

    /// events.get: the event, or `None` when it is gone (404/410).
    pub async fn get(&self, calendar: &str, event_id: &str) -> Result<Option<Value>, WriteError> {
        let url = self.url(calendar, event_id)?;
        let result = self
            .send(
                event_id,
                |access| {
                    self.client
                        .get(url.clone())
                        .bearer_auth(access)
                        .header(reqwest::header::ACCEPT, "application/json")
                },
                &url,
            )
            .await;
        match result {
            Ok(Some(resp)) => {
                serde_json::from_slice(&resp.body)
                    .map(Some)
                    .map_err(|e| WriteError::Decode {
                        event: event_id.to_string(),
                        reason: e.to_string(),
                    })
            }
            Ok(None) => Ok(None),
            Err(WriteError::Api {
                status: 404 | 410, ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn patch(
        &self,
        calendar: &str,
        event_id: &str,
        etag: &str,
        body: &Value,
    ) -> Result<Patched, WriteError> {
        let url = self.url(calendar, event_id)?;
        // Attachments change only with supportsAttachments=true; the list sent is always the
        // existing one with cadenced's entry added or taken away.
        let attachments = if body.get("attachments").is_some() {
            "true"
        } else {
            "false"
        };
        let resp = self
            .send(
                event_id,
                |access| {
                    self.client
                        .patch(url.clone())
                        .query(&[
                            ("sendUpdates", "none"),
                            ("supportsAttachments", attachments),
                        ])
                        .bearer_auth(access)
                        .header(reqwest::header::IF_MATCH, etag)
                        .json(body)
                },
                &url,
            )
            .await?;
        match resp {
            None => Ok(Patched::Conflict),
            Some(r) => serde_json::from_slice(&r.body)
                .map(Patched::Ok)
                .map_err(|e| WriteError::Decode {
                    event: event_id.to_string(),
                    reason: e.to_string(),
                }),
        }
    }

    fn organizes(&self, event: &Value) -> bool {
        let o = &event["organizer"];
        o["self"].as_bool() == Some(true)
            || o["email"]
                .as_str()
                .is_some_and(|e| e.eq_ignore_ascii_case(&self.manager))
    }
}

impl EventLinker for GoogleWriter {
    type Error = WriteError;

    fn mark(&self) -> &'static str {
        MARK
    }

    /// Add the block for `url` to the event, once; with `attach`, also a native attachment (a
    /// Google Doc), keeping the existing attachments.
    async fn link(
        &self,
        event: &EventRef<'_>,
        title: &str,
        url: &str,
    ) -> Result<LinkOutcome, WriteError> {
        let (calendar, event_id) = (event.calendar, event.event_id);
        for attempt in 1..=MAX_ATTEMPTS {
            let Some(event) = self.get(calendar, event_id).await? else {
                return Err(WriteError::Api {
                    event: event_id.to_string(),
                    status: 404,
                    message: "the event no longer exists".into(),
                });
            };
            let etag = event["etag"].as_str().map(str::to_string);
            if !self.organizes(&event) {
                return Ok(LinkOutcome::NotOrganizer);
            }
            let description = event["description"].as_str();
            if description.is_some_and(|d| block::find(d).is_some()) {
                return Ok(LinkOutcome::AlreadyLinked { etag });
            }
            let Some(tag) = etag else {
                return Err(WriteError::Decode {
                    event: event_id.to_string(),
                    reason: "the event has no etag to write against".into(),
                });
            };
            let mut body = json!({
                "description": block::add(description, &block::block(title, url)),
                "extendedProperties": {"private": {MARK: url}},
            });
            if self.attach {
                let mut list = event["attachments"].as_array().cloned().unwrap_or_default();
                if !list.iter().any(|a| a["fileUrl"] == url) {
                    if list.len() >= MAX_ATTACHMENTS {
                        tracing::info!(
                            event = event_id,
                            "the event has {MAX_ATTACHMENTS} attachments already; the agenda is linked in the description only"
                        );
                    } else {
                        list.push(json!({"fileUrl": url, "title": title, "mimeType": DOC_MIME}));
                        body["attachments"] = Value::Array(list);
                    }
                }
            }
            match self.patch(calendar, event_id, &tag, &body).await? {
                Patched::Ok(v) => {
                    return Ok(LinkOutcome::Linked {
                        etag: v["etag"].as_str().map(str::to_string),
                    });
                }
                Patched::Conflict => {
                    tracing::info!(
                        event = event_id,
                        attempt,
                        "the event changed while the agenda link was added; reading it again"
                    );
                }
            }
        }
        Ok(LinkOutcome::GaveUp)
    }

    /// Remove exactly what [`Self::link`] added: the block and the mark.
    async fn unlink(&self, event: &EventRef<'_>) -> Result<UnlinkOutcome, WriteError> {
        let (calendar, event_id) = (event.calendar, event.event_id);
        for _ in 0..MAX_ATTEMPTS {
            let Some(event) = self.get(calendar, event_id).await? else {
                return Ok(UnlinkOutcome::Gone);
            };
            let description = event["description"].as_str();
            let stripped = description.and_then(block::remove);
            let mark = event["extendedProperties"]["private"][MARK].as_str();
            let marked = mark.is_some();
            let attachments = event["attachments"].as_array();
            let ours = |a: &Value| mark.is_some_and(|m| a["fileUrl"] == m);
            let attached = attachments.is_some_and(|l| l.iter().any(ours));
            if stripped.is_none() && !marked && !attached {
                return Ok(UnlinkOutcome::NothingToRemove);
            }
            let Some(tag) = event["etag"].as_str() else {
                return Err(WriteError::Decode {
                    event: event_id.to_string(),
                    reason: "the event has no etag to write against".into(),
                });
            };
            let mut body = json!({});
            if let Some(d) = stripped {
                // An empty remainder means the block was all there was: remove the field again.
                body["description"] = if d.is_empty() { Value::Null } else { json!(d) };
            }
            if marked {
                body["extendedProperties"] = json!({"private": {MARK: null}});
            }
            if attached && let Some(list) = attachments {
                let kept: Vec<Value> = list.iter().filter(|a| !ours(a)).cloned().collect();
                body["attachments"] = Value::Array(kept);
            }
            match self.patch(calendar, event_id, tag, &body).await? {
                Patched::Ok(_) => return Ok(UnlinkOutcome::Removed),
                Patched::Conflict => continue,
            }
        }
        Ok(UnlinkOutcome::GaveUp)
    }
}

fn api_message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (
        v["error"]["message"].as_str(),
        v["error"]["errors"][0]["reason"].as_str(),
    ) {
        (Some(m), Some(r)) => format!("{m} ({r})"),
        (Some(m), None) => m.to_string(),
        _ => "no error message".to_string(),
    }
}
