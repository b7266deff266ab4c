//! `auth ACCOUNT [--refresh-token-stdin | --device]`: store an account's OAuth tokens.

use std::time::Duration;

use super::{CliError, Context};
use crate::config::{AccountKind, GoogleAccount, MicrosoftAccount};
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
                mauth::device_flow(account, ms, &ctx.state_dir, client, &mut |message| {
                    eprintln!("{message}");
                })
                .await
            }
            None => {
                mauth::loopback_flow(
                    account,
                    ms,
                    &ctx.state_dir,
                    client,
                    FlowOptions {
                        timeout: FLOW_TIMEOUT,
                        open_browser,
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
            gauth::loopback_flow(
                account,
                google,
                &ctx.state_dir,
                client,
                FlowOptions {
                    timeout: FLOW_TIMEOUT,
                    open_browser,
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
