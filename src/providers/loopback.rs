//! The browser half of the installed-app OAuth flow (RFC 8252: a loopback redirect; RFC 7636:
//! PKCE S256), shared by `cadenced auth` for Google and Microsoft. Each provider builds its own
//! authorization URL and redeems the code at its own token endpoint; this module owns the parts
//! in between:
//!
//! - [`Loopback::bind`] listens on `127.0.0.1` on a free port (the redirect URI is
//!   `http://127.0.0.1:<port>`; both Google and Microsoft ignore the port when matching a
//!   loopback redirect, and Microsoft recommends `127.0.0.1` over `localhost`), and draws a
//!   random PKCE verifier (48 bytes) and `state` (24 bytes) from the system's secure RNG.
//! - [`Loopback::wait_for_code`] answers every request on the listener with a short page and
//!   returns the `code` of the first redirect that carries our `state` (or the provider's
//!   `error`); requests with another or no `state` are answered 400 and ignored.
//!
//! Nothing here logs: the code, verifier and state are secrets of the flow.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// How the loopback flow talks to the user.
pub struct FlowOptions {
    /// How long to wait for the browser's redirect.
    pub timeout: Duration,
    /// Try `xdg-open`/`open` on the URL.
    pub open_browser: bool,
    /// The scopes to ask for, space-separated (read-only, or with the write scopes that agendas
    /// need; see `agenda::google_scope` / `agenda::microsoft_scope`).
    pub scope: String,
    /// Receive the redirect through a running daemon's listener rather than an own port.
    pub relay: Option<Relay>,
}

/// A running daemon receives the browser's redirect at `redirect_uri` and hands the code over
/// through the state directory (`crate::providers::oauth_relay`).
#[derive(Debug, Clone)]
pub struct Relay {
    /// `http://127.0.0.1:<daemon port>/oauth/callback`.
    pub redirect_uri: String,
}

/// `length` random bytes, base64url without padding.
pub fn random_token(length: usize) -> Result<String, String> {
    use aws_lc_rs::rand::SecureRandom;
    let mut bytes = vec![0u8; length];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| "the system random source failed".to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// PKCE S256: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Where the browser's redirect arrives.
enum Receiver {
    /// Our own listener on 127.0.0.1.
    Listener(tokio::net::TcpListener),
    /// A running daemon's listener, which relays the code through the state directory.
    Daemon(crate::providers::oauth_relay::Pending),
}

/// A redirect endpoint with the flow's PKCE verifier and `state`.
pub struct Loopback {
    receiver: Receiver,
    /// `http://127.0.0.1:<port>`.
    pub redirect_uri: String,
    pub verifier: String,
    pub state: String,
}

impl Loopback {
    pub async fn bind() -> Result<Loopback, String> {
        let verifier = random_token(48)?;
        let state = random_token(24)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        Ok(Loopback {
            receiver: Receiver::Listener(listener),
            redirect_uri: format!("http://127.0.0.1:{port}"),
            verifier,
            state,
        })
    }

    /// An own listener, or with `relay` the running daemon's (see [`Relay`]).
    pub async fn open(
        state_dir: &std::path::Path,
        relay: Option<&Relay>,
    ) -> Result<Loopback, String> {
        let Some(relay) = relay else {
            return Loopback::bind().await;
        };
        let verifier = random_token(48)?;
        let state = random_token(24)?;
        let pending = crate::providers::oauth_relay::expect(state_dir, &state)
            .map_err(|e| format!("cannot prepare the relay through the daemon: {e}"))?;
        Ok(Loopback {
            receiver: Receiver::Daemon(pending),
            redirect_uri: relay.redirect_uri.clone(),
            verifier,
            state,
        })
    }

    /// The S256 `code_challenge` of the verifier.
    pub fn challenge(&self) -> String {
        pkce_challenge(&self.verifier)
    }

    /// The authorization code of the first redirect carrying our `state`, within `timeout`.
    /// `provider` names the service in messages ("Google answered `access_denied`").
    pub async fn wait_for_code(&self, provider: &str, timeout: Duration) -> Result<String, String> {
        let answer = async {
            match &self.receiver {
                Receiver::Listener(listener) => {
                    wait_for_code(listener, &self.state, provider).await
                }
                Receiver::Daemon(pending) => pending.wait(provider).await,
            }
        };
        tokio::time::timeout(timeout, answer)
            .await
            .map_err(|_| format!("no answer from the browser within {} s", timeout.as_secs()))?
    }
}

/// Best effort: open the URL in the desktop's browser (it is printed anyway).
pub fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    // Best effort: the URL is printed anyway.
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Accept connections until one carries `code` (or `error`) with our `state`.
async fn wait_for_code(
    listener: &tokio::net::TcpListener,
    state: &str,
    provider: &str,
) -> Result<String, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let (mut sock, _) = listener
            .accept()
            .await
            .map_err(|e| format!("the redirect listener failed: {e}"))?;
        let mut buf = vec![0u8; 8192];
        let mut len = 0;
        while len < buf.len() {
            match sock.read(&mut buf[len..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        let head = String::from_utf8_lossy(&buf[..len]);
        let target = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("/");
        let params: Vec<(String, String)> =
            reqwest::Url::parse(&format!("http://127.0.0.1{target}"))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let (reply, outcome) = match (get("state"), get("code"), get("error")) {
            (Some(s), Some(code), _) if s == state => (
                "Authorized. You can close this tab and return to cadenced.",
                Some(Ok(code)),
            ),
            (Some(s), _, Some(e)) if s == state => (
                "Authorization was not granted. You can close this tab.",
                Some(Err(format!("{provider} answered `{e}`"))),
            ),
            (Some(_), _, _) => ("This answer does not belong to this request.", None),
            _ => ("Waiting for the sign-in redirect.", None),
        };
        let status = if outcome.is_some() {
            "200 OK"
        } else {
            "400 Bad Request"
        };
        let body = format!("<!doctype html><title>cadenced</title><p>{reply}</p>");
        let _ = sock
            .write_all(
                format!(
                    "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await;
        let _ = sock.shutdown().await;
        if let Some(o) = outcome {
            return o;
        }
    }
}
