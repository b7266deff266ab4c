//! Helpers for driving the real `cadenced` binary on temporary configs and state directories.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Env {
    /// Owns the temporary directory holding `config` and `state` (removed on drop).
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
}

impl Env {
    /// A config with one ics account reading `feed` (a path), manager in `timezone`.
    pub fn with_feed(feed: &Path, timezone: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(
            &config,
            format!(
                "[manager]\nemail = \"mika@example.com\"\ntimezone = \"{timezone}\"\n\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\npath = \"{}\"\n",
                feed.display()
            ),
        )
        .unwrap();
        let state = dir.path().join("state");
        Env { dir, config, state }
    }

    pub fn with_config_text(text: &str) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.toml");
        std::fs::write(&config, text).unwrap();
        let state = dir.path().join("state");
        Env { dir, config, state }
    }

    /// The binary on this config and state directory, with `args` (RUST_LOG unset).
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cadenced"));
        c.arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env_remove("RUST_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs with `input` written to stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Signs `account` in by importing `token` with `auth ACCOUNT --refresh-token-stdin`.
    pub fn import_refresh_token(&self, account: &str, token: &str) {
        let out = self.run_with_stdin(
            &["auth", account, "--refresh-token-stdin"],
            &format!("{token}\n"),
        );
        assert!(out.status.success(), "auth {account}: {}", stderr(&out));
    }

    /// `events --json` lines in the window, parsed.
    pub fn events(&self, from: &str, to: &str) -> Vec<serde_json::Value> {
        let out = self.run(&["events", "--json", "--from", from, "--to", to]);
        assert!(
            out.status.success(),
            "events failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// An agenda document's text with the tags of its section markers taken out
/// (`<!-- cadenced:section T <16 hex> -->` → `<!-- cadenced:section T -->`), after checking that
/// every marker cadenced wrote carries one.
pub fn untag_markers(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let Some(rest) = line.strip_prefix("<!-- cadenced:section ") else {
                return line.to_string();
            };
            let words: Vec<&str> = rest.split_whitespace().collect();
            assert!(
                words.len() == 3
                    && words[2] == "-->"
                    && words[1].len() == 16
                    && words[1].bytes().all(|b| b.is_ascii_hexdigit()),
                "a marker without its tag: {line:?}"
            );
            line.replacen(&format!(" {} -->", words[1]), " -->", 1)
        })
        .collect()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `uid start end` per line, compactly, for assertions.
pub fn summary(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            format!(
                "{} {} {} {}",
                e["uid"].as_str().unwrap(),
                e["start"].as_str().unwrap(),
                e["end"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect()
}

/// Runs `cmd` (from [`Env::cmd`]) under `prlimit --data=LIMIT` (the kernel refuses the process
/// more private writable memory than `limit_mib`: an allocation past it aborts the child) and
/// returns its output with its peak resident size in KiB (`VmHWM`, polled from `/proc` while it
/// runs, so a process that ends within one poll may show less than its true peak). A test
/// asserts both: the exit status (no abort under the limit) and the peak.
pub fn run_limited(cmd: &Command, limit_mib: u64) -> (Output, u64) {
    use std::io::Read;
    let mut limited = Command::new("prlimit");
    limited
        .arg(format!("--data={}", limit_mib * 1024 * 1024))
        .arg("--")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => limited.env(k, v),
            None => limited.env_remove(k),
        };
    }
    let mut child = limited
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs the child");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(kib);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, peak)
}
