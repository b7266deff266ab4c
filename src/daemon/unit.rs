//! The service definitions `service install` writes: a systemd unit (system or user) and a
//! macOS LaunchAgent plist.
//!
//! Invariants: paths in them are absolute; the unit is `Type=notify` with a watchdog, memory and
//! task limits, and the hardening the daemon can live with (it writes only its state directory,
//! talks only IP and the journal/notify sockets), which never hides a file it needs (see
//! [`systemd_unit`]); a user unit names its state directory (`--state-dir`), never
//! `StateDirectory=`; nothing secret is ever written into them (the access token
//! stays in the environment variable named by `daemon.token_env`, set through an
//! `EnvironmentFile`).

use std::path::{Path, PathBuf};

/// The watchdog period in the unit; the daemon pings at half of it.
pub const WATCHDOG_SEC: u32 = 60;

/// Memory the unit may use (`MemoryMax=`): a manager's calendars need far less; a runaway is
/// stopped (and restarted) before it hurts the machine.
pub const MEMORY_MAX: &str = "512M";
/// Threads and processes (`TasksMax=`): the runtime's workers, the blocking pool, notify commands.
pub const TASKS_MAX: u32 = 64;

/// What a service definition is written for.
#[derive(Debug, Clone)]
pub struct UnitSpec {
    /// This binary, absolute.
    pub exe: PathBuf,
    /// The config file, absolute.
    pub config: PathBuf,
    /// The state directory, passed as `--state-dir`; `None` only for a system unit, which then
    /// uses systemd's `StateDirectory=cadenced` (`/var/lib/cadenced`). A user unit always
    /// names it: systemd before 254 maps a user unit's `StateDirectory=` to `~/.config`.
    pub state_dir: Option<PathBuf>,
    /// A user unit (`systemctl --user`) rather than a system one.
    pub user: bool,
    /// `daemon.token_env`, if configured: mentioned in a comment for the `EnvironmentFile`.
    pub token_env: Option<String>,
    /// Other files the daemon reads (feed files, a template, a service-account key), absolute.
    pub reads: Vec<PathBuf>,
    /// Other directories the daemon writes (an agenda directory outside the state), absolute.
    pub writes: Vec<PathBuf>,
}

impl UnitSpec {
    /// Where the state lives when the unit runs.
    pub fn effective_state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/var/lib/cadenced"))
    }
}

/// Quote a path for `ExecStart=` (systemd's quoting: double quotes, backslash escapes).
fn quote(p: &Path) -> String {
    let s = p.display().to_string();
    if s.chars()
        .all(|c| c.is_ascii_alphanumeric() || "/._-+:@".contains(c))
    {
        s
    } else {
        format!(
            "\"{}\"",
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('%', "%%")
        )
    }
}

fn under_home(p: &Path) -> bool {
    p.starts_with("/home") || p.starts_with("/root") || p.starts_with("/run/user")
}

/// Paths that `PrivateTmp=yes` replaces with an empty directory.
fn under_tmp(p: &Path) -> bool {
    p.starts_with("/tmp") || p.starts_with("/var/tmp")
}

/// The systemd unit. Its protections never hide what the daemon needs: files it reads in a
/// home directory make `ProtectHome=read-only` (and directories it writes there are listed in
/// `ReadWritePaths=`); anything under `/tmp` or `/var/tmp`, which `PrivateTmp=yes` hides, is
/// bound into the service's private view (`BindReadOnlyPaths=`, `BindPaths=`).
pub fn systemd_unit(spec: &UnitSpec) -> String {
    let mut exec = format!("{} --config {}", quote(&spec.exe), quote(&spec.config));
    let state_dir = spec.state_dir.clone();
    if let Some(dir) = &state_dir {
        exec.push_str(&format!(" --state-dir {}", quote(dir)));
    }
    exec.push_str(" run");
    let mut reads: Vec<&Path> = vec![&spec.exe, &spec.config];
    reads.extend(spec.reads.iter().map(PathBuf::as_path));
    let mut writes: Vec<&Path> = state_dir.iter().map(PathBuf::as_path).collect();
    writes.extend(spec.writes.iter().map(PathBuf::as_path));
    let protect_home = if spec.user || reads.iter().chain(&writes).any(|p| under_home(p)) {
        "read-only"
    } else {
        "yes"
    };
    let env_file = if spec.user {
        "%h/.config/cadenced/env"
    } else {
        "/etc/cadenced/env"
    };
    let mut out = String::new();
    out.push_str("# cadenced: keeps the 1on1s with your reports on cadence.\n");
    out.push_str(
        "# Written by `cadenced service install`; see `cadenced service install --help`.\n",
    );
    out.push_str("[Unit]\n");
    out.push_str("Description=cadenced calendar cadence daemon\n");
    out.push_str("Wants=network-online.target\n");
    out.push_str("After=network-online.target\n\n");
    out.push_str("[Service]\n");
    out.push_str("Type=notify\n");
    if !spec.user {
        out.push_str(
            "# Runs as root without capabilities; or create a user and set it (it must own the state).\n#User=cadenced\n",
        );
    }
    out.push_str("NotifyAccess=main\n");
    out.push_str(&format!("ExecStart={exec}\n"));
    out.push_str("ExecReload=/bin/kill -HUP $MAINPID\n");
    out.push_str("Restart=on-failure\n");
    out.push_str("RestartSec=10s\n");
    out.push_str(&format!("WatchdogSec={WATCHDOG_SEC}s\n"));
    out.push_str("TimeoutStopSec=10s\n");
    if state_dir.is_none() {
        out.push_str("StateDirectory=cadenced\n");
        out.push_str("StateDirectoryMode=0700\n");
    }
    out.push_str("UMask=0077\n");
    match &spec.token_env {
        Some(var) => out.push_str(&format!(
            "# {var} (daemon.token_env) is read from this file (mode 0600): {var}=…\nEnvironmentFile=-{env_file}\n"
        )),
        None => out.push_str(&format!(
            "# Secrets named by *_env keys can be set in this file (mode 0600).\nEnvironmentFile=-{env_file}\n"
        )),
    }
    out.push_str("Environment=RUST_LOG=info\n");
    out.push_str(&format!("MemoryMax={MEMORY_MAX}\n"));
    out.push_str(&format!("TasksMax={TASKS_MAX}\n"));
    out.push_str("# Hardening: the daemon writes only its state directory and talks only IP.\n");
    out.push_str("NoNewPrivileges=yes\n");
    out.push_str("ProtectSystem=strict\n");
    out.push_str(&format!("ProtectHome={protect_home}\n"));
    out.push_str("PrivateTmp=yes\n");
    for w in &writes {
        if under_tmp(w) {
            out.push_str(&format!("BindPaths={}\n", quote(w)));
        } else {
            out.push_str(&format!("ReadWritePaths={}\n", quote(w)));
        }
    }
    let mut bound: Vec<&Path> = Vec::new();
    for r in reads.iter().filter(|r| under_tmp(r)) {
        // Already visible when a directory written (bound) holds it.
        if writes.iter().any(|w| under_tmp(w) && r.starts_with(w)) || bound.contains(r) {
            continue;
        }
        bound.push(r);
        out.push_str(&format!("BindReadOnlyPaths={}\n", quote(r)));
    }
    out.push_str("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6\n");
    out.push_str("RestrictRealtime=yes\n");
    out.push_str("LockPersonality=yes\n");
    out.push_str("SystemCallArchitectures=native\n");
    if !spec.user {
        // These need the system manager (a user manager cannot drop what it never had).
        out.push_str("PrivateDevices=yes\n");
        out.push_str("ProtectKernelTunables=yes\n");
        out.push_str("ProtectKernelModules=yes\n");
        out.push_str("ProtectControlGroups=yes\n");
        out.push_str("RestrictNamespaces=yes\n");
        out.push_str("RestrictSUIDSGID=yes\n");
        out.push_str("MemoryDenyWriteExecute=yes\n");
        out.push_str("CapabilityBoundingSet=\n");
    }
    out.push('\n');
    out.push_str("[Install]\n");
    out.push_str(if spec.user {
        "WantedBy=default.target\n"
    } else {
        "WantedBy=multi-user.target\n"
    });
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The launchd label.
pub const LAUNCHD_LABEL: &str = "io.github.cadenced";

/// The macOS LaunchAgent plist. `log_dir` receives stdout/stderr.
pub fn launchd_plist(spec: &UnitSpec, log_dir: &Path) -> String {
    let mut args = vec![
        spec.exe.display().to_string(),
        "--config".to_string(),
        spec.config.display().to_string(),
    ];
    if let Some(dir) = &spec.state_dir {
        args.push("--state-dir".to_string());
        args.push(dir.display().to_string());
    }
    args.push("run".to_string());
    let args: String = args
        .iter()
        .map(|a| format!("    <string>{}</string>\n", xml(a)))
        .collect();
    let log = xml(&log_dir.join("cadenced.log").display().to_string());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args}  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ProcessType</key>
  <string>Background</string>
  <key>EnvironmentVariables</key>
  <dict>
    <key>RUST_LOG</key>
    <string>info</string>
  </dict>
  <key>StandardOutPath</key>
  <string>{log}</string>
  <key>StandardErrorPath</key>
  <string>{log}</string>
</dict>
</plist>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(user: bool) -> UnitSpec {
        UnitSpec {
            exe: "/usr/local/bin/cadenced".into(),
            config: "/etc/cadenced/config.toml".into(),
            state_dir: (user).then(|| "/home/mika/.local/state/cadenced".into()),
            user,
            token_env: None,
            reads: vec![],
            writes: vec![],
        }
    }

    #[test]
    fn system_unit_is_notify_and_hardened() {
        let u = systemd_unit(&spec(false));
        for line in [
            "Type=notify",
            "ExecStart=/usr/local/bin/cadenced --config /etc/cadenced/config.toml run",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "StateDirectory=cadenced",
            "MemoryMax=512M",
            "TasksMax=64",
            "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
            "Restart=on-failure",
            "WatchdogSec=60s",
            "WantedBy=multi-user.target",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line}:\n{u}");
        }
    }

    #[test]
    fn user_unit_reads_home_and_paths_are_quoted() {
        let mut s = spec(true);
        s.config = "/home/mika/My Config/cadenced.toml".into();
        let u = systemd_unit(&s);
        assert!(u.contains("ProtectHome=read-only\n"));
        assert!(u.contains(
            "--config \"/home/mika/My Config/cadenced.toml\" --state-dir /home/mika/.local/state/cadenced run\n"
        ));
        assert!(u.contains("ReadWritePaths=/home/mika/.local/state/cadenced\n"));
        assert!(!u.contains("StateDirectory"), "{u}");
        assert!(u.contains("WantedBy=default.target\n"));
    }

    #[test]
    fn protections_never_hide_the_config_or_the_state() {
        let mut s = spec(false);
        s.config = "/tmp/cadenced/config.toml".into();
        s.reads = vec![
            "/home/mika/team.ics".into(),
            "/tmp/cadenced/config.toml".into(),
        ];
        s.state_dir = Some("/srv/cadenced".into());
        let u = systemd_unit(&s);
        for line in [
            "ProtectHome=read-only",
            "PrivateTmp=yes",
            "BindReadOnlyPaths=/tmp/cadenced/config.toml",
            "ReadWritePaths=/srv/cadenced",
            "MemoryMax=512M",
            "TasksMax=64",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line}:\n{u}");
        }
        assert_eq!(u.matches("BindReadOnlyPaths=").count(), 1, "{u}");
        assert!(!u.contains("StateDirectory"), "{u}");
        s.state_dir = Some("/tmp/cadenced/state".into());
        let u = systemd_unit(&s);
        assert!(
            u.lines().any(|l| l == "BindPaths=/tmp/cadenced/state"),
            "{u}"
        );
    }

    /// `config/cadenced.service` is the system unit for the default paths, exactly;
    /// `UPDATE_GOLDEN=1` rewrites it.
    #[test]
    fn the_reference_copy_is_what_install_writes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cadenced.service");
        let unit = systemd_unit(&spec(false));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &unit).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), unit);
    }

    #[test]
    fn plist_escapes_and_lists_arguments() {
        let mut s = spec(true);
        s.config = "/Users/mika/a&b.toml".into();
        let p = launchd_plist(&s, Path::new("/Users/mika/Library/Logs"));
        assert!(p.contains("<string>/Users/mika/a&amp;b.toml</string>"));
        assert!(p.contains("<string>run</string>"));
        assert!(p.contains("<key>Label</key>\n  <string>io.github.cadenced</string>"));
    }
}
