//! The `email` channel: SMTP through lettre (rustls), `starttls`, `tls` (implicit TLS) or
//! `none`, optional authentication with the password from the environment, a multipart message
//! (plain text + HTML) whose Message-ID carries the idempotency key.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::SendError;
use crate::alerts::render::Message;
use crate::config::{EmailChannel, SmtpTls};

fn mailbox(addr: &str, key: &str) -> Result<Mailbox, SendError> {
    addr.parse::<Mailbox>().map_err(|e| {
        SendError::permanent(format!(
            "[alerts.email] {key}: {addr:?} is not a usable address ({e})"
        ))
    })
}

/// The e-mail for `message` (also used by the tests to check what is sent).
pub fn build(cfg: &EmailChannel, message: &Message) -> Result<lettre::Message, SendError> {
    let from = mailbox(&cfg.from, "from")?;
    let from = Mailbox::new(Some("cadenced".into()), from.email);
    // The key is `[A-Za-z0-9-]`, a valid Message-ID left part.
    let domain = cfg.from.rsplit('@').next().unwrap_or("cadenced.invalid");
    let mut b = lettre::Message::builder()
        .from(from)
        .subject(message.subject.clone())
        .message_id(Some(format!("<{}@{domain}>", message.idempotency_key)));
    for to in &cfg.to {
        b = b.to(mailbox(to, "to")?);
    }
    if let Some(r) = &cfg.reply_to {
        b = b.reply_to(mailbox(r, "reply_to")?);
    }
    let body = MultiPart::alternative_plain_html(message.text(), message.html());
    // A make-up the account cannot book itself travels as an iCalendar file (issue 17).
    let invites: Vec<(&str, &str)> = message
        .alerts
        .iter()
        .filter_map(|a| Some((a.id.as_str(), a.invite.as_deref()?)))
        .collect();
    let body = if invites.is_empty() {
        body
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for (id, ics) in invites {
            mixed = mixed.singlepart(
                lettre::message::Attachment::new(format!("make-up-{id}.ics")).body(
                    ics.to_string(),
                    lettre::message::header::ContentType::parse("text/calendar; charset=utf-8")
                        .map_err(|e| {
                            SendError::permanent(format!("cannot build the e-mail: {e}"))
                        })?,
                ),
            );
        }
        mixed
    };
    b.multipart(body)
        .map_err(|e| SendError::permanent(format!("cannot build the e-mail: {e}")))
}

pub async fn send(cfg: &EmailChannel, message: &Message) -> Result<String, SendError> {
    let email = build(cfg, message)?;
    let server = format!("{}:{}", cfg.smtp_host, cfg.smtp_port);
    let tls_err = |e: lettre::transport::smtp::Error| {
        SendError::permanent(format!("SMTP {server}: cannot set up TLS: {e}"))
    };
    let builder = match cfg.tls {
        SmtpTls::Starttls => {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.smtp_host).map_err(tls_err)?
        }
        SmtpTls::Tls => {
            AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.smtp_host).map_err(tls_err)?
        }
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.smtp_host),
    };
    let timeout = Duration::from_secs(cfg.timeout.as_secs());
    let mut builder = builder.port(cfg.smtp_port).timeout(Some(timeout));
    if let (Some(user), Some(source)) = (&cfg.username, cfg.password()) {
        let password = source
            .resolve_from_env()
            .map_err(|e| SendError::permanent(format!("[alerts.email] password_env: {e}")))?;
        builder = builder.credentials(Credentials::new(
            user.clone(),
            password.expose().to_string(),
        ));
    }
    let transport = builder.build();
    // lettre's timeout is per command; bound the whole exchange too. A timeout is not retried
    // within the cycle (it already took long); the next cycle tries again.
    let sent = tokio::time::timeout(timeout * 2, transport.send(email)).await;
    match sent {
        Err(_) => Err(SendError::permanent(format!("SMTP {server}: timed out"))),
        Ok(Ok(resp)) => {
            let text: Vec<&str> = resp.message().collect();
            Ok(format!("{} {}", resp.code(), text.join(" "))
                .trim()
                .to_string())
        }
        Ok(Err(e)) => {
            let what = format!("SMTP {server}: {e}");
            if e.is_permanent() || e.is_timeout() {
                Err(SendError::permanent(what))
            } else {
                Err(SendError::transient(what))
            }
        }
    }
}
