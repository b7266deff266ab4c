//! The command line (docs/design.md, Command line: a contract): flags, commands, and the one place where errors
//! become one sentence on stderr and an exit code (0 success, 1 runtime failure, 2 usage or
//! configuration error).

mod agenda;
mod auth;
mod cadence;
mod delivery;
mod events;
mod org;
mod rollup;
mod run;
mod scheduling;
mod service;
mod setup;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};

pub use setup::Context;

#[derive(Debug, Parser)]
#[command(
    name = "cadenced",
    version,
    about = "Keeps the 1on1s with your reports on cadence."
)]
pub struct Cli {
    /// Config file [default: $CADENCED_CONFIG, else $XDG_CONFIG_HOME/cadenced/config.toml, else /etc/cadenced/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// State directory [default: $CADENCED_STATE_DIR, else $STATE_DIRECTORY, else $XDG_STATE_HOME/cadenced]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The instant every analysis treats as now [default: the clock]
    #[arg(long, global = true, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Log format on stderr: text, or json (one object per line, for log shippers). Under
    /// systemd (JOURNAL_STREAM set) logs go to the journal. Filters: RUST_LOG.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Org mode (an `[org]` section in the config): work on this manager only (their derived config)
    #[arg(long, global = true, value_name = "EMAIL")]
    pub manager: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented example config (and its example calendar) to the config path.
    Init,
    /// Validate the config and print every problem with its key path.
    Check,
    /// Authorize an account: the browser on a loopback redirect with PKCE, or an imported
    /// refresh token.
    Auth {
        /// The account name in the config.
        account: String,
        /// Read an existing refresh token (one line) from standard input.
        #[arg(long, conflicts_with = "device")]
        refresh_token_stdin: bool,
        /// The device-code flow (Microsoft only: Google does not allow calendar scopes on it).
        #[arg(long)]
        device: bool,
        /// Do not try to open a browser; only print the URL.
        #[arg(long)]
        no_browser: bool,
    },
    /// One incremental sync pass.
    Sync {
        /// Only this account.
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Drop the sync cursor first and read everything again.
        #[arg(long)]
        full: bool,
    },
    /// The stored occurrences in a window, recurrences expanded.
    Events {
        /// Only this account.
        #[arg(long, value_name = "NAME")]
        account: Option<String>,
        /// Window start: YYYY-MM-DD (midnight in the manager's zone) or RFC 3339 [default: now − sync.past]
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Window end, exclusive: YYYY-MM-DD or RFC 3339 [default: now + sync.future]
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// The detected 1on1 series per report, their sessions, and the candidates that are not
    /// counted (people outside the roster, a report's series that is not their 1on1).
    Series {
        /// One JSON document (reports, sessions, candidates with the reason).
        #[arg(long)]
        json: bool,
    },
    /// Accounts, their last sync and its outcome, cursors, counts, open alerts.
    Status {
        /// One JSON document.
        #[arg(long)]
        json: bool,
    },
    /// The cadence report: one row per report, and the alerts.
    Report {
        /// The report as one JSON document (`complete`, `accounts`, `reports`, `alerts`).
        #[arg(long)]
        json: bool,
        /// Write the dashboard page (one self-contained HTML file) to FILE; stdout stays quiet
        /// unless --json is given too.
        #[arg(long, value_name = "FILE")]
        html: Option<std::path::PathBuf>,
        /// The people-ops rollup across every manager instead: per org unit and per manager of
        /// managers, aggregates only, no figure over fewer than 5 people (needs `[org]`).
        #[arg(long)]
        org: bool,
    },
    /// The daemon: sync, analyse, alert and prepare agendas on a schedule.
    Run {
        /// One whole cycle, then exit (0 when everything worked).
        #[arg(long)]
        once: bool,
    },
    /// The system service: `service install [--user]` writes a systemd unit (Linux) or a
    /// LaunchAgent plist (macOS) that runs the daemon with this config.
    Service {
        /// What to do with the service definition.
        #[command(subcommand)]
        action: ServiceAction,
    },
    /// Open alerts, and their lifecycle (ack, snooze).
    Alerts {
        #[command(subcommand)]
        action: Option<AlertAction>,
        /// The alerts as a JSON array.
        #[arg(long)]
        json: bool,
        /// Also list acknowledged and snoozed alerts.
        #[arg(long)]
        all: bool,
    },
    /// Propose make-up 1on1 slots for the open gap, no_series and skipped alerts (of one
    /// report: its e-mail or name).
    Propose {
        report: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Book a proposed make-up 1on1 in your calendar with the report invited (or, with
    /// --undo, delete the one cadenced booked for this alert).
    Book {
        /// The alert's id (`cadenced alerts`).
        alert_id: String,
        /// Which proposed slot (1 = the first).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=3))]
        slot: u16,
        /// Delete the make-up cadenced booked for this alert.
        #[arg(long, conflicts_with = "slot")]
        undo: bool,
    },
    /// Create and link the agendas that are due (the sessions within `[agenda] lead_time`).
    Agenda {
        #[command(subcommand)]
        action: Option<AgendaAction>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgendaAction {
    /// Remove exactly what cadenced added to calendar events (its block and its mark).
    Unlink {
        /// Print what would be removed and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Write the service definition and say how to enable it.
    Install {
        /// A user service (systemctl --user / a LaunchAgent) instead of a system one.
        #[arg(long)]
        user: bool,
        /// Write it to FILE instead (`-` for standard output) [default: the service manager's
        /// directory]
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// systemd or launchd [default: launchd on macOS, else systemd]
        #[arg(long, value_enum)]
        format: Option<service::ServiceFormat>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Acknowledge an alert: it stays quiet until its condition clears.
    Ack {
        /// The alert's id (as `cadenced alerts` lists it).
        id: String,
    },
    /// Silence an alert until a date (YYYY-MM-DD in the manager's zone, or RFC 3339).
    Snooze {
        /// The alert's id (as `cadenced alerts` lists it).
        id: String,
        /// When the alert may speak again: YYYY-MM-DD (midnight in the manager's zone) or
        /// RFC 3339.
        #[arg(long, value_name = "DATE")]
        until: String,
    },
    /// Send a sample alert through every configured channel and print what each answered.
    Test,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339, e.g. 2026-11-24T09:00:00+09:00)"))
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// An error at the command line's edge: one sentence and an exit code.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            code: 2,
            message: message.into(),
        }
    }

    pub fn runtime(message: impl Into<String>) -> Self {
        CliError {
            code: 1,
            message: message.into(),
        }
    }
}

/// Parse the process arguments, run the command, and turn its outcome into an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Printing can only fail when stdout/stderr is gone; nothing more to say then.
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(
        cli.log_format,
        matches!(cli.command, Command::Run { once: false }),
    );
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cadenced: {}", crate::terminal::escape_text(&e.message));
            ExitCode::from(e.code)
        }
    }
}

/// Logging: `RUST_LOG` filters (default `warn`, `info` for the daemon); the journal when
/// systemd connected stderr to it (`JOURNAL_STREAM` matching stderr), else stderr as text or
/// JSON lines.
fn init_logging(format: LogFormat, daemon: bool) {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::prelude::*;
    let default = if daemon { "info" } else { "warn" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // A second initialisation (tests calling main twice) is harmless; ignore it.
    if stderr_is_journal()
        && let Ok(journald) = tracing_journald::layer()
    {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(journald.with_syslog_identifier("cadenced".to_string()))
            .try_init();
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder
            .with_writer(std::io::stderr)
            .json()
            .with_current_span(false)
            .try_init(),
        LogFormat::Text => {
            // Colour only on a terminal, so that logs captured by a file stay plain text.
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none();
            // A logged title or feed line cannot act on the terminal (crate::terminal).
            builder
                .with_writer(crate::terminal::EscapingStderr { colour: ansi })
                .with_ansi(ansi)
                .try_init()
        }
    };
}

/// Whether systemd connected stderr to the journal: `JOURNAL_STREAM` holds the device and inode
/// of that stream, and they must match stderr (a shell started from a service inherits the
/// variable with another stderr).
fn stderr_is_journal() -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
        let (d, i) = v.split_once(':')?;
        Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?))
    }) else {
        return false;
    };
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.dev() == dev && m.ino() == ino)
}

/// Load the context; in org mode with `--manager`, that manager's derived config.
fn load(cli: &Cli, config_path: PathBuf) -> Result<Context, CliError> {
    let ctx = Context::load(cli, config_path)?;
    match (&cli.manager, ctx.config.org.is_some()) {
        (Some(m), true) => org::for_manager(ctx, m),
        (Some(_), false) => Err(CliError::usage(
            "--manager is for org mode ([org] in the config)",
        )),
        (None, _) => Ok(ctx),
    }
}

/// Commands that work on one manager need `--manager` in org mode.
fn one_manager(ctx: Context, what: &str) -> Result<Context, CliError> {
    if ctx.config.org.is_some() {
        return Err(CliError::usage(format!(
            "in org mode `{what}` works on one manager: add --manager EMAIL"
        )));
    }
    Ok(ctx)
}

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let config_path = match &cli.config {
        Some(p) => p.clone(),
        None => crate::config::default_config_path(),
    };
    match &cli.command {
        Command::Init => setup::init(&config_path),
        Command::Check => setup::check(&config_path),
        Command::Auth {
            account,
            refresh_token_stdin,
            device,
            no_browser,
        } => {
            let ctx = one_manager(load(&cli, config_path)?, "auth")?;
            auth::auth(&ctx, account, *refresh_token_stdin, *device, !*no_browser)
        }
        Command::Sync { account, full } => {
            let ctx = load(&cli, config_path)?;
            if ctx.config.org.is_some() {
                org::sync(&ctx, account.as_deref(), *full)
            } else {
                setup::sync(&ctx, account.as_deref(), *full)
            }
        }
        Command::Events {
            account,
            from,
            to,
            json,
        } => {
            let ctx = one_manager(load(&cli, config_path)?, "events")?;
            events::events(
                &ctx,
                account.as_deref(),
                from.as_deref(),
                to.as_deref(),
                *json,
            )
        }
        Command::Series { json } => {
            cadence::series(&one_manager(load(&cli, config_path)?, "series")?, *json)
        }
        Command::Status { json } => {
            let ctx = load(&cli, config_path)?;
            if ctx.config.org.is_some() {
                org::status(&ctx, *json)
            } else {
                status::status(&ctx, *json)
            }
        }
        Command::Report { json, html, org } => {
            let ctx = load(&cli, config_path)?;
            if *org {
                rollup::report(&ctx, *json, html.as_deref())
            } else if ctx.config.org.is_some() {
                org::report(&ctx, *json, html.as_deref())
            } else {
                cadence::report(&ctx, *json, html.as_deref())
            }
        }
        Command::Run { once } => {
            let ctx = load(&cli, config_path.clone())?;
            if *once && ctx.config.org.is_some() {
                org::run_once(&ctx)
            } else if *once {
                run::run_once(&ctx)
            } else {
                run::run_daemon(ctx, config_path, cli.now)
            }
        }
        Command::Service {
            action:
                ServiceAction::Install {
                    user,
                    output,
                    format,
                },
        } => {
            let ctx = load(&cli, config_path.clone())?;
            service::install(&ctx, &cli, &config_path, *user, output.as_deref(), *format)
        }
        Command::Alerts { action, json, all } => {
            let ctx = load(&cli, config_path)?;
            match action {
                None if ctx.config.org.is_some() => org::alerts(&ctx, *json, *all),
                None => cadence::alerts(&ctx, *json, *all),
                Some(AlertAction::Ack { id }) => cadence::ack(&ctx, id),
                Some(AlertAction::Snooze { id, until }) => cadence::snooze(&ctx, id, until),
                Some(AlertAction::Test) => delivery::test(&one_manager(ctx, "alerts test")?),
            }
        }
        Command::Propose { report, json } => scheduling::propose(
            &one_manager(load(&cli, config_path)?, "propose")?,
            report.as_deref(),
            *json,
        ),
        Command::Book {
            alert_id,
            slot,
            undo,
        } => scheduling::book(
            &one_manager(load(&cli, config_path)?, "book")?,
            alert_id,
            usize::from(*slot),
            *undo,
        ),
        Command::Agenda { action, dry_run } => {
            let ctx = one_manager(load(&cli, config_path)?, "agenda")?;
            match action {
                None => agenda::agenda(&ctx, *dry_run),
                Some(AgendaAction::Unlink { dry_run: d }) => agenda::unlink(&ctx, *d || *dry_run),
            }
        }
    }
}
