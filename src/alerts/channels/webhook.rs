//! The `webhook` channel: one POST per message with `Idempotency-Key`, as the versioned JSON
//! payload (`format = "json"`), Slack incoming-webhook blocks or a Teams Adaptive Card. The
//! URL is shown only as `scheme://host/…` (Slack and Teams URLs carry their token).

use std::time::Duration;

use super::SendError;
use crate::alerts::render::Message;
use crate::config::{WebhookChannel, WebhookFormat};

/// The body posted for `message`.
pub fn body(format: WebhookFormat, message: &Message) -> serde_json::Value {
    match format {
        // The message model is the documented payload itself.
        WebhookFormat::Json => serde_json::to_value(message).unwrap_or_default(),
        WebhookFormat::Slack => message.slack(),
        WebhookFormat::Teams => message.teams(),
    }
}

pub async fn send(
    cfg: &WebhookChannel,
    client: &reqwest::Client,
    message: &Message,
) -> Result<String, SendError> {
    let shown = cfg.url.redacted();
    let resp = client
        .post(cfg.url.expose())
        .header("Idempotency-Key", &message.idempotency_key)
        .timeout(Duration::from_secs(cfg.timeout.as_secs()))
        .json(&body(cfg.format, message))
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                // Not retried within the cycle (it already took long); the next cycle will.
                return SendError::permanent(format!("webhook {shown}: the request timed out"));
            }
            let reason = if e.is_connect() {
                "cannot connect".to_string()
            } else {
                e.without_url().to_string()
            };
            SendError::transient(format!("webhook {shown}: {reason}"))
        })?;
    let status = resp.status();
    // Only a few characters of the answer are shown: never read more than a small body.
    let text = crate::providers::http::read_body(resp, crate::limits::MAX_ERROR_BODY_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let text: String = text.trim().chars().take(200).collect();
    let answer = if text.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {text}", status.as_u16())
    };
    if status.is_success() {
        Ok(answer)
    } else {
        let what = format!("webhook {shown}: {answer}");
        let retry = status.is_server_error()
            || status == reqwest::StatusCode::TOO_MANY_REQUESTS
            || status == reqwest::StatusCode::REQUEST_TIMEOUT;
        Err(SendError {
            message: what,
            retryable: retry,
        })
    }
}
