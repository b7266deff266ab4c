//! The `command` channel: runs `argv` (no shell) with the message JSON on standard input and
//! `CADENCED_IDEMPOTENCY_KEY` in its environment, killed after `timeout`; exit 0 is a delivery,
//! anything else a failed attempt. The program is judged by its own exit status alone: a child
//! it leaves running in the background (holding stdout open) does not keep the attempt pending.

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

/// How long the output is still read after the program exited (a background child of it may
/// hold the pipes open forever).
const OUTPUT_GRACE: Duration = Duration::from_millis(500);
/// At most this much of each output stream is kept (only the first line is shown).
const OUTPUT_CAP: usize = 16 * 1024;

type Kept = std::sync::Arc<std::sync::Mutex<Vec<u8>>>;

/// Read a pipe to its end into `kept`, keeping the first [`OUTPUT_CAP`] bytes (what was read
/// stays there if the reading is abandoned).
async fn read_some<R: tokio::io::AsyncRead + Unpin>(pipe: Option<R>, kept: Kept) {
    use tokio::io::AsyncReadExt;
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut buf = [0u8; 4096];
    while let Ok(n) = pipe.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
        let room = OUTPUT_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
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
    // The output is read beside the program, but the program is judged by its own exit: a
    // child it leaves in the background may keep the pipes open for as long as it likes.
    let kept: [Kept; 2] = Default::default();
    let stdout = tokio::spawn(read_some(child.stdout.take(), kept[0].clone()));
    let stderr = tokio::spawn(read_some(child.stderr.take(), kept[1].clone()));
    let timeout = Duration::from_secs(cfg.timeout.as_secs());
    let run = async {
        let ((), status) = tokio::join!(writer, child.wait());
        status
    };
    let waited = tokio::time::timeout(timeout, run).await;
    let output = |status| async move {
        for reader in [stdout, stderr] {
            let abort = reader.abort_handle();
            if tokio::time::timeout(OUTPUT_GRACE, reader).await.is_err() {
                abort.abort();
            }
        }
        let [stdout, stderr] =
            kept.map(|k| std::mem::take(&mut *k.lock().unwrap_or_else(|p| p.into_inner())));
        std::process::Output {
            status,
            stdout,
            stderr,
        }
    };
    let waited = match waited {
        Ok(Ok(status)) => Ok(Ok(output(status).await)),
        Ok(Err(e)) => Ok(Err(e)),
        Err(e) => Err(e),
    };
    match waited {
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
