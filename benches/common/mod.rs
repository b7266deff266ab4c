//! What the sync benchmarks share: running a client under `/usr/bin/time`, the figures of one
//! run, and their medians. Not a benchmark itself (`benches/common/` is not a bench target).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Instant;

pub const TIME: &str = "/usr/bin/time";

/// One measured run of a client.
#[derive(Debug, Clone, Default)]
pub struct Run {
    /// user + sys seconds (None without /usr/bin/time).
    pub cpu: Option<f64>,
    pub user: Option<f64>,
    pub sys: Option<f64>,
    pub wall: f64,
    pub rss_kib: Option<f64>,
    pub list_requests: usize,
    pub token_requests: usize,
    pub other_requests: usize,
    /// Events the client ended up holding (stored rows / dict entries).
    pub kept: usize,
    /// Accept-Encoding of the first list request, and whether the answers were gzipped
    /// (Google; the Graph fake does not compress).
    pub accept_encoding: Option<String>,
    pub gzipped: bool,
    /// `GET /events/{id}` requests (series masters read by cadenced; Microsoft).
    pub master_requests: usize,
    /// Python only: in-process CPU seconds of imports and of the paging loop.
    pub import_cpu: Option<f64>,
    pub loop_cpu: Option<f64>,
}

impl Run {
    /// The measured figures of one run, for its progress line: "cpu …, wall …, peak RSS …".
    pub fn figures(&self) -> String {
        let cpu = self.cpu.map_or("n/a".into(), |c| {
            format!(
                "{c:.3} s (user {:.2} + sys {:.2})",
                self.user.unwrap_or(0.0),
                self.sys.unwrap_or(0.0)
            )
        });
        let rss = self
            .rss_kib
            .map_or("n/a".into(), |k| format!("{:.1} MiB", k / 1024.0));
        format!("cpu {cpu}, wall {:.3} s, peak RSS {rss}", self.wall)
    }

    /// The list-request count against the expected one: "20 (as expected)".
    pub fn lists_vs(&self, expected: usize) -> String {
        let verdict = if self.list_requests == expected {
            "as expected"
        } else {
            "UNEXPECTED"
        };
        format!("{} ({verdict})", self.list_requests)
    }

    /// Takes a Python reference's figures from the JSON line it prints last (`items`,
    /// `import_cpu_s`, `loop_cpu_s`).
    pub fn read_python_report(&mut self, stdout: &[u8]) {
        let report: serde_json::Value = text(stdout)
            .lines()
            .last()
            .and_then(|l| serde_json::from_str(l).ok())
            .unwrap_or_default();
        self.kept = report["items"].as_u64().unwrap_or(0) as usize;
        self.import_cpu = report["import_cpu_s"].as_f64();
        self.loop_cpu = report["loop_cpu_s"].as_f64();
    }

    /// ", in-process: imports …, paging loop …" for the Python runs that report it, else "".
    pub fn in_process(&self) -> String {
        match (self.import_cpu, self.loop_cpu) {
            (Some(i), Some(l)) => format!(", in-process: imports {i:.3} s, paging loop {l:.3} s"),
            _ => String::new(),
        }
    }
}

/// Runs `cmd` (program + args) under `/usr/bin/time` when `timed`, with `stdin` fed in.
/// Returns the output (time's line removed from stderr) and (user, sys, wall, max RSS KiB).
pub fn measure(
    timed: bool,
    program: &Path,
    args: &[String],
    env_remove: &[&str],
) -> (Output, Option<[f64; 4]>, f64) {
    measure_with(timed, program, args, env_remove, None)
}

/// [`measure`] with one environment variable set for the client.
pub fn measure_env(
    timed: bool,
    program: &Path,
    args: &[String],
    env: (&str, &str),
) -> (Output, Option<[f64; 4]>, f64) {
    measure_with(timed, program, args, &[], Some(env))
}

fn measure_with(
    timed: bool,
    program: &Path,
    args: &[String],
    env_remove: &[&str],
    env_set: Option<(&str, &str)>,
) -> (Output, Option<[f64; 4]>, f64) {
    // BENCH_PERF=FILE: record a profile of the client with `perf record` (for looking, not timing).
    let perf = std::env::var_os("BENCH_PERF");
    let mut cmd = if timed {
        let mut c = Command::new(TIME);
        c.args(["-f", "%U %S %e %M"]);
        if let Some(out) = &perf {
            let name = program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            c.args(["perf", "record", "--call-graph", "dwarf,16384", "-o"])
                .arg(format!("{}.{name}", out.to_string_lossy()));
        }
        c.arg(program);
        c
    } else {
        Command::new(program)
    };
    cmd.args(args).stdin(Stdio::null());
    for v in env_remove {
        cmd.env_remove(v);
    }
    if let Some((k, v)) = env_set {
        cmd.env(k, v);
    }
    let t = Instant::now();
    let mut out = cmd.output().expect("run client");
    let wall = t.elapsed().as_secs_f64();
    if !timed {
        return (out, None, wall);
    }
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut lines: Vec<&str> = stderr.lines().collect();
    let figures = lines.pop().and_then(|l| {
        let v: Vec<f64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        <[f64; 4]>::try_from(v).ok()
    });
    out.stderr = lines.join("\n").into_bytes();
    (out, figures, wall)
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn apply_time(run: &mut Run, figures: Option<[f64; 4]>, wall: f64) {
    run.wall = wall;
    if let Some([user, sys, elapsed, rss]) = figures {
        run.user = Some(user);
        run.sys = Some(sys);
        run.cpu = Some(user + sys);
        run.wall = elapsed;
        run.rss_kib = Some(rss);
    }
}

pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

pub fn summarize(runs: &[Run]) -> Summary {
    let opt = |f: fn(&Run) -> Option<f64>| median(runs.iter().filter_map(f).collect());
    Summary {
        cpu: opt(|r| r.cpu),
        user: opt(|r| r.user),
        sys: opt(|r| r.sys),
        wall: median(runs.iter().map(|r| r.wall).collect()).unwrap_or(0.0),
        rss_kib: opt(|r| r.rss_kib),
        list_requests: median(runs.iter().map(|r| r.list_requests as f64).collect()).unwrap_or(0.0)
            as usize,
        kept: median(runs.iter().map(|r| r.kept as f64).collect()).unwrap_or(0.0) as usize,
        import_cpu: opt(|r| r.import_cpu),
        loop_cpu: opt(|r| r.loop_cpu),
    }
}

pub fn per_event_us(s: &Summary, events: usize) -> (f64, &'static str) {
    match s.cpu {
        Some(c) => (c * 1e6 / events as f64, "cpu"),
        None => (s.wall * 1e6 / events as f64, "wall"),
    }
}

pub fn fmt_opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "n/a".to_string(), f)
}

/// The median of each figure over the runs (figures taken independently).
#[derive(Debug, Clone)]
pub struct Summary {
    pub cpu: Option<f64>,
    pub user: Option<f64>,
    pub sys: Option<f64>,
    pub wall: f64,
    pub rss_kib: Option<f64>,
    pub list_requests: usize,
    pub kept: usize,
    pub import_cpu: Option<f64>,
    pub loop_cpu: Option<f64>,
}

/// `auth ACCOUNT --refresh-token-stdin` with `token` (not timed).
pub fn import_token(bin: &Path, base: &[String], account: &str, token: &str) {
    use std::io::Write;
    let mut child = Command::new(bin)
        .args(base)
        .args(["auth", account, "--refresh-token-stdin"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run cadenced auth");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{token}\n").as_bytes())
        .expect("write token");
    let out = child.wait_with_output().expect("cadenced auth");
    assert!(out.status.success(), "auth: {}", text(&out.stderr));
}

/// cadenced's `sync` with `base` arguments, measured when `timed`; the request figures are the
/// caller's (from its fake's log).
pub fn cadenced_sync(bin: &Path, base: &[String], timed: bool) -> Run {
    let mut args = base.to_vec();
    args.push("sync".into());
    let (out, figures, wall) = measure(timed, bin, &args, &["RUST_LOG"]);
    assert!(
        out.status.success(),
        "cadenced sync failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let mut run = Run::default();
    apply_time(&mut run, figures, wall);
    run
}
