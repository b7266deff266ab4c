//! The `log` channel: one structured line per alert (level WARN, so that the default filter
//! shows it), with the alert's id, kind, report and since as fields.

use crate::alerts::render::Message;

pub fn send(message: &Message) -> String {
    // `alerts test` says so on this channel too, so a sample is never taken for a real alert.
    let what = if message.kind == "test" {
        "test alert"
    } else {
        "alert"
    };
    for a in &message.alerts {
        tracing::warn!(
            alert_id = %a.id,
            kind = %a.kind,
            report = %a.report.as_deref().or(a.account.as_deref()).unwrap_or(""),
            severity = %a.severity,
            since = %a.since,
            idempotency_key = %message.idempotency_key,
            "{what}: {}{}",
            a.message,
            a.makeup_lines(message.locale == "ja")
                .iter()
                .map(|l| format!(" · {l}"))
                .collect::<String>()
        );
    }
    let n = message.alerts.len();
    format!("logged {n} {what}{}", if n == 1 { "" } else { "s" })
}
