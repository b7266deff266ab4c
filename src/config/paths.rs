//! Where the config file and the state directory are when the command line does not say
//! (docs/design.md, Command line). Each function has a variant taking the environment as a closure, for tests.
//!
//! An environment variable that is set but empty counts as unset. Per the XDG base directory
//! specification, a relative `XDG_CONFIG_HOME` / `XDG_STATE_HOME` is ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The system-wide config file, used when no per-user one exists.
pub const SYSTEM_CONFIG_PATH: &str = "/etc/cadenced/config.toml";

/// No state directory can be derived from the environment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no state directory: pass --state-dir, or set CADENCED_STATE_DIR, STATE_DIRECTORY, XDG_STATE_HOME or HOME"
)]
pub struct NoStateDir;

fn var(env: &impl Fn(&str) -> Option<OsString>, name: &str) -> Option<PathBuf> {
    env(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// An XDG base directory: `$xdg_var` if absolute, else `$HOME/<home_rel>`.
fn xdg_dir(
    env: &impl Fn(&str) -> Option<OsString>,
    xdg_var: &str,
    home_rel: &str,
) -> Option<PathBuf> {
    var(env, xdg_var)
        .filter(|p| p.is_absolute())
        .or_else(|| var(env, "HOME").map(|home| home.join(home_rel)))
}

/// The config file when `--config` is not given:
///
/// 1. `$CADENCED_CONFIG`, if set;
/// 2. else the per-user file `$XDG_CONFIG_HOME/cadenced/config.toml` (with `XDG_CONFIG_HOME`
///    defaulting to `$HOME/.config`) if that file exists;
/// 3. else `/etc/cadenced/config.toml` if that file exists;
/// 4. else the per-user path if there is one (neither exists: `init` creates it there, and
///    other commands report it as missing), else `/etc/cadenced/config.toml`.
pub fn default_config_path() -> PathBuf {
    config_path_from(|name| std::env::var_os(name), |path| path.exists())
}

/// [`default_config_path`] with the environment and the file-existence test given.
pub fn config_path_from(
    env: impl Fn(&str) -> Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(path) = var(&env, "CADENCED_CONFIG") {
        return path;
    }
    let user = xdg_dir(&env, "XDG_CONFIG_HOME", ".config")
        .map(|dir| dir.join("cadenced").join("config.toml"));
    let system = PathBuf::from(SYSTEM_CONFIG_PATH);
    match user {
        Some(user) if exists(&user) => user,
        _ if exists(&system) => system,
        Some(user) => user,
        None => system,
    }
}

/// The state directory when `--state-dir` is not given:
///
/// 1. `$CADENCED_STATE_DIR`, if set;
/// 2. else systemd's `$STATE_DIRECTORY` (colon-separated when the unit names several: the first);
/// 3. else `$XDG_STATE_HOME/cadenced` (with `XDG_STATE_HOME` defaulting to `$HOME/.local/state`);
/// 4. else an error.
///
/// The directory is not created here.
pub fn default_state_dir() -> Result<PathBuf, NoStateDir> {
    state_dir_from(|name| std::env::var_os(name))
}

/// [`default_state_dir`] with the environment given.
pub fn state_dir_from(env: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf, NoStateDir> {
    if let Some(path) = var(&env, "CADENCED_STATE_DIR") {
        return Ok(path);
    }
    if let Some(dirs) = env("STATE_DIRECTORY")
        // `split_paths` splits on ':' on Unix, the separator systemd uses.
        && let Some(first) = std::env::split_paths(&dirs).find(|d| !d.as_os_str().is_empty())
    {
        return Ok(first);
    }
    xdg_dir(&env, "XDG_STATE_HOME", ".local/state")
        .map(|dir| dir.join("cadenced"))
        .ok_or(NoStateDir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn exists_only(paths: &[&str]) -> impl Fn(&Path) -> bool {
        let paths: Vec<PathBuf> = paths.iter().map(PathBuf::from).collect();
        move |p| paths.iter().any(|x| x == p)
    }

    #[test]
    fn config_path_explicit_env_wins() {
        let e = env(&[("CADENCED_CONFIG", "/x/c.toml"), ("HOME", "/home/m")]);
        assert_eq!(
            config_path_from(e, exists_only(&[SYSTEM_CONFIG_PATH])),
            PathBuf::from("/x/c.toml")
        );
    }

    #[test]
    fn config_path_user_file_when_it_exists() {
        let e = env(&[("HOME", "/home/m")]);
        let user = "/home/m/.config/cadenced/config.toml";
        assert_eq!(
            config_path_from(&e, exists_only(&[user, SYSTEM_CONFIG_PATH])),
            PathBuf::from(user)
        );
        let e = env(&[("HOME", "/home/m"), ("XDG_CONFIG_HOME", "/cfg")]);
        let user = "/cfg/cadenced/config.toml";
        assert_eq!(
            config_path_from(&e, exists_only(&[user])),
            PathBuf::from(user)
        );
    }

    #[test]
    fn config_path_system_when_no_user_file() {
        let e = env(&[("HOME", "/home/m")]);
        assert_eq!(
            config_path_from(&e, exists_only(&[SYSTEM_CONFIG_PATH])),
            PathBuf::from(SYSTEM_CONFIG_PATH)
        );
    }

    #[test]
    fn config_path_user_when_neither_exists_else_system() {
        let e = env(&[
            ("HOME", "/home/m"),
            ("XDG_CONFIG_HOME", "relative/ignored"),
            ("CADENCED_CONFIG", ""),
        ]);
        assert_eq!(
            config_path_from(&e, exists_only(&[])),
            PathBuf::from("/home/m/.config/cadenced/config.toml")
        );
        assert_eq!(
            config_path_from(env(&[]), exists_only(&[])),
            PathBuf::from(SYSTEM_CONFIG_PATH)
        );
    }

    #[test]
    fn state_dir_order() {
        let all = [
            ("CADENCED_STATE_DIR", "/s"),
            ("STATE_DIRECTORY", "/var/lib/cadenced:/var/lib/other"),
            ("XDG_STATE_HOME", "/xdg"),
            ("HOME", "/home/m"),
        ];
        assert_eq!(state_dir_from(env(&all)), Ok(PathBuf::from("/s")));
        assert_eq!(
            state_dir_from(env(&all[1..])),
            Ok(PathBuf::from("/var/lib/cadenced"))
        );
        assert_eq!(
            state_dir_from(env(&all[2..])),
            Ok(PathBuf::from("/xdg/cadenced"))
        );
        assert_eq!(
            state_dir_from(env(&all[3..])),
            Ok(PathBuf::from("/home/m/.local/state/cadenced"))
        );
        assert_eq!(state_dir_from(env(&[])), Err(NoStateDir));
        assert_eq!(
            state_dir_from(env(&[("STATE_DIRECTORY", "")])),
            Err(NoStateDir)
        );
    }
}
