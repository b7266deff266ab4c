//! The alert channels (`[alerts] channels`): `log`, `email`, `webhook` (json, slack, teams) and
//! `command`. Each takes a rendered [`Message`] and answers one sentence (what the other side
//! said) or a [`SendError`].
//!
//! Invariants: a channel never retries by itself (the outbox worker owns retries, so attempts
//! are counted once); no error or answer carries a secret (webhook URLs are shown as
//! `scheme://host/…`, the SMTP password never leaves the transport).

mod command;
mod email;
mod log;
mod webhook;

use crate::alerts::render::Message;
use crate::config::{Channel, Config};

/// A failed attempt, as one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Worth another attempt in the same cycle (a refused connection, a 5xx, a transient SMTP
    /// error); a refusal (4xx, a permanent SMTP error, a missing password) or a timeout waits
    /// for the next cycle. Either way the delivery stays pending.
    pub retryable: bool,
}

impl SendError {
    pub fn transient(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: true,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        SendError {
            message: message.into(),
            retryable: false,
        }
    }
}

/// Send `message` through `channel`; the answer on success.
pub async fn send(
    channel: Channel,
    config: &Config,
    client: &reqwest::Client,
    message: &Message,
) -> Result<String, SendError> {
    let missing =
        || SendError::permanent(format!("[alerts.{}] is not configured", channel.as_str()));
    match channel {
        Channel::Log => Ok(log::send(message)),
        Channel::Email => {
            email::send(config.alerts.email.as_ref().ok_or_else(missing)?, message).await
        }
        Channel::Webhook => {
            webhook::send(
                config.alerts.webhook.as_ref().ok_or_else(missing)?,
                client,
                message,
            )
            .await
        }
        Channel::Command => {
            command::send(config.alerts.command.as_ref().ok_or_else(missing)?, message).await
        }
    }
}

/// The configured channel with this name.
pub fn parse_channel(name: &str) -> Option<Channel> {
    [
        Channel::Log,
        Channel::Email,
        Channel::Webhook,
        Channel::Command,
    ]
    .into_iter()
    .find(|c| c.as_str() == name)
}
