//! The `command` channel: runs `argv` (no shell) with the message JSON on standard input and
//! `CADENCED_IDEMPOTENCY_KEY` in its environment, killed after `timeout`; exit 0 is a delivery,
//! anything else a failed attempt.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use super::SendError;
use crate::alerts::render::Message;
use crate::config::CommandChannel;

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

pub async fn send(cfg: &CommandChannel, message: &Message) -> Result<String, SendError> {
    let Some((program, args)) = cfg.argv.split_first() else {
        return Err(SendError::permanent("[alerts.command] argv is empty"));
    };
    let input = serde_json::to_vec(message)
        .map_err(|e| SendError::permanent(format!("cannot encode the alert JSON: {e}")))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("CADENCED_IDEMPOTENCY_KEY", &message.idempotency_key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| SendError::permanent(format!("command {program}: cannot start: {e}")))?;
    let stdin = child.stdin.take();
    let writer = async move {
        if let Some(mut stdin) = stdin {
            // A program that does not read its input closes the pipe: not an error of ours.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        }
    };
    let timeout = Duration::from_secs(cfg.timeout.as_secs());
    let run = async {
        let ((), out) = tokio::join!(writer, child.wait_with_output());
        out
    };
    match tokio::time::timeout(timeout, run).await {
        // Not retried within the cycle (it already took long); the next cycle will.
        Err(_) => Err(SendError::permanent(format!(
            "command {program}: killed after {}s",
            timeout.as_secs()
        ))),
        Ok(Err(e)) => Err(SendError::transient(format!("command {program}: {e}"))),
        Ok(Ok(out)) if out.status.success() => {
            let said = first_line(&out.stdout);
            Ok(if said.is_empty() {
                "exit 0".to_string()
            } else {
                format!("exit 0: {said}")
            })
        }
        Ok(Ok(out)) => {
            let code = out
                .status
                .code()
                .map_or_else(|| "killed by a signal".to_string(), |c| format!("exit {c}"));
            let said = first_line(&out.stderr);
            Err(SendError::transient(if said.is_empty() {
                format!("command {program}: {code}")
            } else {
                format!("command {program}: {code}: {said}")
            }))
        }
    }
}
