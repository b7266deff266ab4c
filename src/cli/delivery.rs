//! `alerts test`: a sample alert through every configured channel, printing what each
//! answered (exit 1 when one failed). Nothing is written to the outbox.

use chrono::Duration;

use super::{CliError, Context};
use crate::alerts::channels;
use crate::alerts::render::{AlertItem, Message};
use crate::cadence::messages::Texts;

/// The sample: a gap of 23 days with the first report of the roster (or a made-up one).
pub fn sample(ctx: &Context) -> Message {
    let config = &ctx.config;
    let (email, name) = config.reports.first().map_or_else(
        || ("alice@example.com".to_string(), "Alice".to_string()),
        |r| (r.email.clone(), r.display_name().to_string()),
    );
    let since = ctx.now - Duration::days(23);
    let stored = crate::store::StoredAlert {
        id: "000000000000".into(),
        kind: "gap".into(),
        report: email.to_lowercase(),
        episode: String::new(),
        since,
        first_seen: ctx.now,
        last_seen: ctx.now,
        acked_at: None,
        snoozed_until: None,
        data: serde_json::json!({
            "severity": "warning",
            "message": Texts::new(config, &name).gap(Some(23), 7.0, None),
        })
        .to_string(),
    };
    let item: AlertItem = crate::alerts::render::item(config, &stored, ctx.now);
    Message::new(config, "test", vec![item], ctx.now)
}

pub fn test(ctx: &Context) -> Result<(), CliError> {
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let runtime = super::setup::runtime()?;
    let stamp: String = crate::output::rfc3339(ctx.now)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let mut failed = Vec::new();
    for &channel in &ctx.config.alerts.channels {
        let mut message = sample(ctx);
        message.idempotency_key = format!("cadenced-test-{stamp}-{}", channel.as_str());
        let result = runtime.block_on(channels::send(channel, &ctx.config, &client, &message));
        match result {
            Ok(answer) => println!("{}: ok: {answer}", channel.as_str()),
            Err(e) => {
                println!("{}: failed: {e}", channel.as_str());
                failed.push(channel.as_str());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(format!(
            "the sample alert did not go through: {}",
            failed.join(", ")
        )))
    }
}
