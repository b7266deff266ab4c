//! `service install [--user] [--output FILE] [--format systemd|launchd]`: write the service
//! definition that runs `cadenced run` with this config, and say how to enable it.

use std::path::{Path, PathBuf};

use super::{Cli, CliError, Context};
use crate::daemon::unit::{self, UnitSpec};

/// Which service manager the definition is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceFormat {
    Systemd,
    Launchd,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Where the service manager looks for the definition.
fn default_path(format: ServiceFormat, user: bool) -> Result<PathBuf, CliError> {
    let no_home = || CliError::usage("HOME is not set; pass --output FILE");
    Ok(match (format, user) {
        (ServiceFormat::Systemd, false) => PathBuf::from("/etc/systemd/system/cadenced.service"),
        (ServiceFormat::Systemd, true) => std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home().map(|h| h.join(".config")))
            .ok_or_else(no_home)?
            .join("systemd/user/cadenced.service"),
        (ServiceFormat::Launchd, false) => PathBuf::from(format!(
            "/Library/LaunchDaemons/{}.plist",
            unit::LAUNCHD_LABEL
        )),
        (ServiceFormat::Launchd, true) => home().ok_or_else(no_home)?.join(format!(
            "Library/LaunchAgents/{}.plist",
            unit::LAUNCHD_LABEL
        )),
    })
}

pub fn install(
    ctx: &Context,
    cli: &Cli,
    config_path: &Path,
    user: bool,
    output: Option<&Path>,
    format: Option<ServiceFormat>,
) -> Result<(), CliError> {
    let format = format.unwrap_or(if cfg!(target_os = "macos") {
        ServiceFormat::Launchd
    } else {
        ServiceFormat::Systemd
    });
    let exe = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| CliError::runtime(format!("cannot find this program's path: {e}")))?;
    let config = std::path::absolute(config_path)
        .map_err(|e| CliError::runtime(format!("cannot resolve {}: {e}", config_path.display())))?;
    let state_dir = match &cli.state_dir {
        Some(d) => Some(
            std::path::absolute(d)
                .map_err(|e| CliError::runtime(format!("cannot resolve {}: {e}", d.display())))?,
        ),
        // launchd has no StateDirectory=, and a user unit must not use it (systemd before 254
        // maps it to ~/.config): pin the directory the commands use now.
        None if format == ServiceFormat::Launchd || user => Some(ctx.state_dir.clone()),
        None => None,
    };
    let (reads, writes) = service_paths(&ctx.config, state_dir.as_deref());
    let spec = UnitSpec {
        exe,
        config,
        state_dir,
        user,
        token_env: ctx.config.daemon.token_env.clone(),
        reads,
        writes,
    };
    let text = match format {
        ServiceFormat::Systemd => unit::systemd_unit(&spec),
        ServiceFormat::Launchd => {
            let logs = if user {
                home()
                    .map(|h| h.join("Library/Logs"))
                    .unwrap_or_else(|| ctx.state_dir.clone())
            } else {
                PathBuf::from("/Library/Logs")
            };
            unit::launchd_plist(&spec, &logs)
        }
    };
    if output == Some(Path::new("-")) {
        print!("{text}");
        return Ok(());
    }
    let path = match output {
        Some(p) => p.to_path_buf(),
        None => default_path(format, user)?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, &text).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::PermissionDenied && !user {
            " (a system service needs root: run it with sudo, or use --user or --output FILE)"
        } else {
            ""
        };
        CliError::runtime(format!("cannot write {}: {e}{hint}", path.display()))
    })?;
    println!("Wrote {}.", path.display());
    // The unit makes the state directory writable only if it exists when the service starts.
    if let Some(dir) = &spec.state_dir {
        crate::store::ensure_state_dir(dir).map_err(|e| CliError::runtime(e.to_string()))?;
    }
    let state = spec.effective_state_dir();
    match (format, user) {
        (ServiceFormat::Systemd, false) => {
            println!(
                "Enable and start it:\n  sudo systemctl daemon-reload\n  sudo systemctl enable --now cadenced.service"
            );
            println!(
                "Its state lives in {}: authorize OAuth accounts there with\n  sudo cadenced --config {} --state-dir {} auth ACCOUNT",
                state.display(),
                spec.config.display(),
                state.display()
            );
            println!(
                "Logs: journalctl -u cadenced; reload the config: sudo systemctl reload cadenced"
            );
        }
        (ServiceFormat::Systemd, true) => {
            println!(
                "Enable and start it:\n  systemctl --user daemon-reload\n  systemctl --user enable --now cadenced.service"
            );
            println!(
                "Its state lives in {} (the directory `cadenced` uses here too).",
                state.display()
            );
            println!("To keep it running while you are logged out: loginctl enable-linger $USER");
            println!(
                "Logs: journalctl --user -u cadenced; reload the config: systemctl --user reload cadenced"
            );
        }
        (ServiceFormat::Launchd, true) => {
            println!(
                "Load it:\n  launchctl bootstrap gui/$(id -u) {}",
                path.display()
            );
            println!(
                "Stop it:\n  launchctl bootout gui/$(id -u)/{}",
                unit::LAUNCHD_LABEL
            );
        }
        (ServiceFormat::Launchd, false) => {
            println!(
                "Load it:\n  sudo launchctl bootstrap system {}",
                path.display()
            );
        }
    }
    if let Some(var) = &ctx.config.daemon.token_env {
        println!(
            "The daemon reads its access token from {var} (daemon.token_env): set it in the service's environment, never in the unit file."
        );
    }
    Ok(())
}

/// Files the daemon reads besides its config (feed files, a template, a service-account key),
/// and directories it writes outside the state directory (the agenda directory): the unit's
/// protections must leave them visible.
fn service_paths(
    config: &crate::config::Config,
    state_dir: Option<&Path>,
) -> (Vec<PathBuf>, Vec<PathBuf>) {
    use crate::config::{AccountKind, AgendaTemplate, DocumentBackend, GoogleAuth, IcsSource};
    let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut reads = Vec::new();
    for account in &config.accounts {
        match &account.kind {
            AccountKind::Ics(ics) => {
                if let IcsSource::Path(p) = &ics.source {
                    reads.push(abs(p));
                }
            }
            AccountKind::Google(g) => {
                if let GoogleAuth::ServiceAccount { key, .. } = &g.auth {
                    reads.push(abs(key));
                }
            }
            AccountKind::Microsoft(_) | AccountKind::Caldav(_) => {}
        }
    }
    if let AgendaTemplate::File(p) = &config.agenda.template {
        reads.push(abs(p));
    }
    let mut writes = Vec::new();
    let state = state_dir.map_or_else(|| PathBuf::from("/var/lib/cadenced"), Path::to_path_buf);
    let agendas = config.agenda.dir_in(&state);
    if config.agenda.enabled
        && config.agenda.store == DocumentBackend::Local
        && !agendas.starts_with(&state)
    {
        writes.push(abs(&agendas));
    }
    (reads, writes)
}
