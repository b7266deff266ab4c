//! A throwaway PostgreSQL cluster for tests: one per test process, started on first use under
//! `target/pgtest-<pid>/` on a free loopback port with `--auth=trust` (never for anything but
//! tests), and a fresh database per call of [`database`].
//!
//! - The server binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, the newest), or
//!   the directory in `CADENCED_PG_BIN`. When they are missing the calling test fails, naming
//!   the package to install: a skipped back-end would hide a broken store.
//! - As root (CI), the tools refuse to run; the cluster then belongs to the `postgres` user and
//!   every tool runs through `runuser -u postgres`.
//! - A watcher process stops the cluster and removes its directory when the test process ends,
//!   however it ends; a directory left by a process that no longer exists (a killed watcher) is
//!   stopped and removed by the next start.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Cluster {
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The one role that must log in with a password (scram-sha-256); tests create it with
/// [`admin`] and the password they want.
pub const PASSWORD_ROLE: &str = "cadenced_pw";

static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// A URL (`postgres://postgres@127.0.0.1:<port>/t_<n>`) of a new, empty database; panics with
/// the reason when no cluster can be started.
pub fn database() -> String {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("PostgreSQL for the tests: {e}"),
    };
    let name = format!("t_{}", NEXT_DB.fetch_add(1, Ordering::SeqCst));
    let out = cluster
        .tool("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ])
        .args(["-p", &cluster.port.to_string()])
        .args(["-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap_or_else(|e| panic!("PostgreSQL for the tests: cannot run psql: {e}"));
    assert!(
        out.status.success(),
        "PostgreSQL for the tests: CREATE DATABASE {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    cluster.url(&name)
}

/// The URL of the cluster's `postgres` database with another user name and no password (for
/// tests of refused logins).
pub fn server_url(user: &str, db: &str) -> String {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("PostgreSQL for the tests: {e}"),
    };
    format!("postgres://{user}@127.0.0.1:{}/{db}", cluster.port)
}

/// Run SQL on the cluster's `postgres` database as the superuser (roles, settings).
pub fn admin(sql: &str) {
    let cluster = match CLUSTER.get_or_init(start) {
        Ok(c) => c,
        Err(e) => panic!("PostgreSQL for the tests: {e}"),
    };
    let out = cluster
        .tool("psql")
        .args([
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-d",
            "postgres",
        ])
        .args(["-p", &cluster.port.to_string(), "-v", "ON_ERROR_STOP=1"])
        .args(["-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("PostgreSQL for the tests: cannot run psql: {e}"));
    assert!(
        out.status.success(),
        "PostgreSQL for the tests: {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Cluster {
    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A server tool, run as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        tool(&self.bin, self.as_postgres, name)
    }
}

fn tool(bin: &Path, as_postgres: bool, name: &str) -> Command {
    let path = bin.join(name);
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CADENCED_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).ok_or_else(|| {
        "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb): install the `postgresql` package (apt-get install postgresql), or set CADENCED_PG_BIN".to_string()
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .join("target")
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// Stop and remove clusters left by test processes that no longer exist.
fn sweep_stale(target: &Path, bin: &Path, as_postgres: bool) {
    let Ok(entries) = std::fs::read_dir(target) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("pgtest-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let data = e.path().join("data");
        let mut stop = tool(bin, as_postgres, "pg_ctl");
        stop.arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.stdout(Stdio::null()).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(e.path());
    }
}

fn start() -> Result<Cluster, String> {
    let bin = bin_dir()?;
    let as_postgres = is_root();
    let target = target_dir();
    std::fs::create_dir_all(&target).map_err(|e| format!("{}: {e}", target.display()))?;
    sweep_stale(&target, &bin, as_postgres);
    let pid = std::process::id();
    let dir = target.join(format!("pgtest-{pid}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if as_postgres {
        let mut chown = Command::new("chown");
        chown.arg("postgres:postgres").arg(&dir);
        run(chown, "chown postgres the test cluster's directory")?;
    }
    let data = dir.join("data");
    let mut initdb = tool(&bin, as_postgres, "initdb");
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .arg("--no-sync");
    run(initdb, "initdb")?;
    // One role logs in with a password (tests of refused logins); every other role is trusted.
    let hba = data.join("pg_hba.conf");
    let rest = std::fs::read_to_string(&hba).map_err(|e| format!("{}: {e}", hba.display()))?;
    std::fs::write(
        &hba,
        format!("host all {PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256\n{rest}"),
    )
    .map_err(|e| format!("{}: {e}", hba.display()))?;
    // The port may be taken between the probe and the start by another process: try a few.
    let mut last = String::new();
    for _ in 0..5 {
        let port = free_port()?;
        let mut pg_ctl = tool(&bin, as_postgres, "pg_ctl");
        pg_ctl
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                dir.display()
            ))
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-w", "start"]);
        match run(pg_ctl, "pg_ctl start") {
            Ok(()) => {
                watch(pid, &bin, as_postgres, &dir);
                return Ok(Cluster {
                    bin,
                    port,
                    as_postgres,
                });
            }
            Err(e) => last = e,
        }
    }
    Err(format!("{last} (log: {})", dir.join("log").display()))
}

/// A detached shell that waits for this process to end, then stops the cluster and removes its
/// directory.
fn watch(pid: u32, bin: &Path, as_postgres: bool, dir: &Path) {
    let pg_ctl = bin.join("pg_ctl");
    let prefix = if as_postgres {
        "runuser -u postgres -- "
    } else {
        ""
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {prefix}'{}' -D '{}' -m immediate -w stop >/dev/null 2>&1; rm -rf '{}'",
        pg_ctl.display(),
        dir.join("data").display(),
        dir.display()
    );
    let _ = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}
