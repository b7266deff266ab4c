//! `auth ACCOUNT [--refresh-token-stdin | --device]`: store an account's OAuth tokens.

use std::time::Duration;

use super::{CliError, Context};
use crate::config::{AccountKind, CaldavAccount, GoogleAccount, MicrosoftAccount};
use crate::providers::google::auth::{self as gauth, AuthError, FlowOptions};
use crate::providers::microsoft::auth as mauth;

/// How long the loopback flow waits for the browser.
const FLOW_TIMEOUT: Duration = Duration::from_secs(300);

pub fn auth(
    ctx: &Context,
    account: &str,
    refresh_token_stdin: bool,
    device: bool,
    open_browser: bool,
) -> Result<(), CliError> {
    let Some(acc) = ctx.config.account(account) else {
        return Err(CliError::usage(format!(
            "there is no account named {account:?} in {}",
            ctx.config.file.display()
        )));
    };
    let google = match &acc.kind {
        AccountKind::Google(g) => g,
        AccountKind::Microsoft(ms) => {
            return microsoft(ctx, account, ms, refresh_token_stdin, device, open_browser);
        }
        AccountKind::Ics(_) => {
            return Err(CliError::usage(format!(
                "account {account} is an iCalendar feed; it needs no authorization"
            )));
        }
        AccountKind::Caldav(c) => return caldav(ctx, account, c),
    };
    if device {
        return Err(CliError::usage(format!(
            "account {account}: Google does not allow calendar scopes on the device flow; run `cadenced auth {account}` (browser) or use --refresh-token-stdin"
        )));
    }
    let refresh_token = if refresh_token_stdin {
        Some(read_token_line()?)
    } else {
        None
    };
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let runtime = super::setup::runtime()?;
    let result = runtime.block_on(run(
        ctx,
        account,
        google,
        client,
        refresh_token,
        open_browser,
    ));
    result.map_err(|e| match e {
        AuthError::Config { .. } => CliError::usage(e.to_string()),
        other => CliError::runtime(other.to_string()),
    })?;
    authorized(ctx, account, "google")
}

/// Authorized again: clear the mark a revoked token left, and say so.
fn authorized(ctx: &Context, account: &str, provider: &str) -> Result<(), CliError> {
    let store = ctx.open_store()?;
    let id = store
        .ensure_account(account, provider)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    store
        .set_needs_auth(id, false)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    println!("{account}: authorized; tokens stored in the state directory.");
    Ok(())
}

/// CalDAV: check the user name and password against the server (discovery) and list the
/// calendars found, marking those `calendars = [...]` selects; clears a `needs_auth` mark.
fn caldav(ctx: &Context, account: &str, acc: &CaldavAccount) -> Result<(), CliError> {
    use crate::providers::caldav;
    let (dav, start) = caldav::session(account, acc).map_err(|e| match e {
        caldav::CaldavError::Password(_) | caldav::CaldavError::Url(_) => {
            CliError::usage(format!("account {account}: {e}"))
        }
        other => CliError::runtime(format!("account {account}: {other}")),
    })?;
    let runtime = super::setup::runtime()?;
    let found = runtime
        .block_on(caldav::discover::discover(&dav, &start))
        .map_err(|e| CliError::runtime(format!("account {account}: {e}")))?;
    let (chosen, missing) = caldav::discover::select(&found, &acc.calendars);
    println!(
        "{account}: the server accepted the credentials; {} calendar(s) with events:",
        found.len()
    );
    for c in &found {
        let mark = if chosen.iter().any(|x| x.path == c.path) {
            "synced"
        } else {
            "not in calendars"
        };
        let sync = if c.sync_collection {
            "sync-collection"
        } else {
            "ctag listing"
        };
        println!("  {}  {}  ({sync}; {mark})", c.name, c.path);
    }
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let store = ctx.open_store()?;
    let id = store
        .ensure_account(account, "caldav")
        .map_err(|e| CliError::runtime(e.to_string()))?;
    store
        .set_needs_auth(id, false)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "account {account}: calendars: {} not found on the server (use a display name or a path listed above)",
            missing
                .iter()
                .map(|m| format!("{m:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(())
}

/// Microsoft: the browser (authorization code + PKCE on a loopback redirect), `--device`
/// (device-code flow) or `--refresh-token-stdin`.
fn microsoft(
    ctx: &Context,
    account: &str,
    ms: &MicrosoftAccount,
    refresh_token_stdin: bool,
    device: bool,
    open_browser: bool,
) -> Result<(), CliError> {
    if matches!(
        ms.auth,
        crate::config::MicrosoftAuth::ClientCredentials { .. }
    ) {
        return Err(CliError::usage(format!(
            "account {account} uses client credentials (org-wide mode), which needs no `cadenced auth`"
        )));
    }
    let refresh_token = if refresh_token_stdin {
        Some(read_token_line()?)
    } else {
        None
    };
    crate::store::ensure_state_dir(&ctx.state_dir).map_err(|e| CliError::runtime(e.to_string()))?;
    let client = crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?;
    let runtime = super::setup::runtime()?;
    let result = runtime.block_on(async {
        match refresh_token {
            Some(token) => {
                mauth::import_refresh_token(account, ms, &ctx.state_dir, client, &token).await
            }
            None if device => {
                let scope = crate::agenda::microsoft_scope(&ctx.config);
                explain_microsoft_scope(scope);
                mauth::device_flow_scoped(
                    account,
                    ms,
                    &ctx.state_dir,
                    client,
                    scope,
                    &mut |message| {
                        eprintln!("{message}");
                    },
                )
                .await
            }
            None => {
                let scope = crate::agenda::microsoft_scope(&ctx.config);
                explain_microsoft_scope(scope);
                mauth::loopback_flow(
                    account,
                    ms,
                    &ctx.state_dir,
                    client,
                    FlowOptions {
                        timeout: FLOW_TIMEOUT,
                        open_browser,
                        scope: scope.to_string(),
                        // Always an own port: Microsoft matches a loopback redirect's path
                        // against the app registration (only the port is ignored), so the
                        // daemon's `/oauth/callback` would have to be registered too.
                        relay: None,
                    },
                    &mut |url| {
                        eprintln!(
                            "Open this address in a browser to authorize cadenced:\n\n  {url}\n"
                        );
                    },
                )
                .await
            }
        }
    });
    result.map_err(|e| match e {
        mauth::AuthError::Config { .. } => CliError::usage(e.to_string()),
        other => CliError::runtime(other.to_string()),
    })?;
    authorized(ctx, account, "microsoft")
}

async fn run(
    ctx: &Context,
    account: &str,
    google: &GoogleAccount,
    client: reqwest::Client,
    refresh_token: Option<String>,
    open_browser: bool,
) -> Result<(), AuthError> {
    match refresh_token {
        Some(token) => {
            gauth::import_refresh_token(account, google, &ctx.state_dir, client, &token).await
        }
        None => {
            if ctx.config.agenda.enabled
                && ctx.config.agenda.store == crate::config::DocumentBackend::GoogleDrive
            {
                eprintln!(
                    "cadenced also asks for the files it creates in your Drive (drive.file): the \
                     agenda documents, one per report, shared with that report.\n"
                );
            }
            if ctx.config.scheduling.booking() {
                eprintln!(
                    "cadenced also asks to edit events: [scheduling] book = true lets `cadenced \
                     book` create make-up 1on1s in your calendar with the report invited. Set \
                     book = false to keep it read-only (alerts then carry an .ics file).\n"
                );
            }
            if crate::agenda::google_write_enabled(&ctx.config) {
                eprintln!(
                    "cadenced also asks to edit events: [agenda] links each agenda into the 1on1 \
                     invites you organize (one delimited block, no e-mails to attendees). Set \
                     [agenda] link_base = \"\" (local store) or enabled = false to keep it read-only.\n"
                );
            }
            gauth::loopback_flow(
                account,
                google,
                &ctx.state_dir,
                client,
                FlowOptions {
                    timeout: FLOW_TIMEOUT,
                    open_browser,
                    scope: crate::agenda::google_scope(&ctx.config),
                    relay: daemon_relay(ctx),
                },
                &mut |url| {
                    eprintln!("Open this address in a browser to authorize cadenced:\n\n  {url}\n");
                },
            )
            .await
        }
    }
}

/// One line from standard input, trimmed; never echoed.
fn read_token_line() -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CliError::runtime(format!("cannot read standard input: {e}")))?;
    let token = line.trim().to_string();
    if token.is_empty() {
        return Err(CliError::usage(
            "--refresh-token-stdin: standard input held no token",
        ));
    }
    Ok(token)
}

/// When a daemon runs on this state directory with a loopback listener, the browser comes back
/// to it (a fixed port, easy to tunnel to) and it relays the code; else `auth` listens itself.
/// Say why cadenced asks Microsoft for more than read access, when it does.
fn explain_microsoft_scope(scope: &str) {
    if scope != mauth::SCOPE {
        eprintln!(
            "cadenced also asks to edit events (Calendars.ReadWrite): [agenda] links each agenda \
             into the 1on1 series you organize, once per series, and [scheduling] book = true \
             lets `cadenced book` create make-up 1on1s. Set [agenda] link_base = \"\" (local \
             store) or enabled = false, and [scheduling] book = false, to keep it read-only.\n"
        );
    }
}

fn daemon_relay(ctx: &Context) -> Option<gauth::Relay> {
    let pid = crate::daemon::lock::holder(&ctx.state_dir)?;
    let listen = ctx.config.daemon.listen;
    if !listen.ip().is_loopback() {
        return None;
    }
    let host = match listen.ip() {
        std::net::IpAddr::V4(ip) => ip.to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
    };
    let redirect_uri = format!(
        "http://{host}:{}{}",
        listen.port(),
        crate::providers::oauth_relay::CALLBACK_PATH
    );
    eprintln!(
        "The running daemon{} receives the browser's answer on {host}:{}.",
        pid.map(|p| format!(" (pid {p})")).unwrap_or_default(),
        listen.port()
    );
    Some(gauth::Relay { redirect_uri })
}
