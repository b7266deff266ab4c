//! Client CPU time per synced occurrence for a Microsoft 365 first delta round: cadenced against a
//! sync loop written with Microsoft's official Python Graph SDK (`msgraph-sdk`, on kiota + httpx;
//! `benches/microsoft_sync_ref.py`), both against the same stateful fake of Graph
//! (`testkit/src/fake_graph`) on loopback.
//!
//! Run: `cargo bench --bench microsoft_sync` (another size: `cargo bench --bench microsoft_sync --
//! 10000`). Needs `/usr/bin/time` for CPU time and peak memory. The Python side needs `pip install
//! msgraph-sdk` (`PYTHON=/path/to/python` picks the interpreter); it is skipped, with that hint,
//! when `import msgraph` fails. `BENCH_PERF=FILE` records a `perf` profile of each client run.
//!
//! What it does: starts the fake in this process (its server threads are not counted: only the
//! client process is measured) and fills the mailbox with N occurrences inside cadenced's sync
//! window (default 400 days back, 120 ahead): 98 % of them from daily series of 490 occurrences
//! (2 attendees each, one moved occurrence = an exception per series), the rest single events.
//! Then
//! - cadenced: for each run a fresh state directory and config (account "m365", public client),
//!   the refresh token imported with `auth m365 --refresh-token-stdin` (not timed), then the
//!   release binary's `sync` under `/usr/bin/time -f "%U %S %e %M"`. cadenced pages
//!   `calendarView/delta` (200 per page) and reads each series master once (`GET /events/{id}`
//!   with `cancelledOccurrences` and `exceptionOccurrences`); it stores masters, exceptions and
//!   singles, not the bare occurrences (the master's expansion gives them).
//! - Python: `microsoft_sync_ref.py` under the same `/usr/bin/time`, twice over: `--client sdk`
//!   (msgraph-sdk: one refresh-token POST, then `client.me.calendar_view.delta` over the same
//!   window with the same `Prefer` header, following `@odata.nextLink` to `@odata.deltaLink`,
//!   every parsed `Event` model kept in a dict) and `--client requests` (the same loop with plain
//!   `requests` + `json`, items kept as dicts: the lean baseline). Neither reads masters (so they
//!   make fewer requests than cadenced). The SDK spends ~3 ms of CPU per item (its generated
//!   `Entity.get_field_deserializers` runs thousands of function-local imports per item), so it
//!   runs once by default (`BENCH_SDK_RUNS=3` for three); `requests` runs 3 times.
//!
//! Each side runs 3 times; every figure is the median of its own 3 values. CPU is user + sys of
//! the whole client process (start-up included). Per-occurrence = CPU / occurrences listed by the
//! round. The fake answers uncompressed (it does not implement gzip), for both sides alike.
//! No assertion is made on the figures: this is a benchmark, not a test.
//!
//! # Figures (2026-11-24, 2 shared cores, Python 3.11, msgraph-sdk 1.x / kiota 1.16, median of 3)
//!
//! 50,000 occurrences (100 daily series of 490 with one moved occurrence each, 1,000 singles):
//! every client makes 250 delta requests; cadenced also reads the 100 masters.
//!
//! | client                         | CPU s (user+sys)       | µs/occurrence | ratio | peak RSS |
//! |--------------------------------|------------------------|---------------|-------|----------|
//! | cadenced                       | 0.17 (0.13 + 0.04)     | 3.4           | 1     | 24 MiB   |
//! | Python, plain requests + json  | 0.48 (0.43 + 0.05)     | 9.6           | 2.8×  | 104 MiB  |
//! | Python, msgraph-sdk (1 run)    | 147.6 (146.8 + 0.8)    | 2,952         | 868×  | 571 MiB  |
//!
//! Re-run with the final store settings on a busier machine (`BENCH_SDK_RUNS=0`): cadenced
//! 0.21 s = 4.2 µs/occurrence (23 MiB), requests 0.62 s = 12.4 µs (2.95×). The msgraph-sdk was
//! installed with `python3 -m venv --system-site-packages VENV && VENV/bin/pip install
//! msgraph-sdk` (then `PYTHON=VENV/bin/python`).
//!
//! cadenced stores 1,200 rows (masters, exceptions, singles): the bare occurrences are not
//! stored, their master's recurrence gives them. The 10× acceptance holds against the SDK (the
//! well-known Python Graph client); against a hand-written `requests` loop that parses JSON
//! into dicts in C and stores nothing, cadenced is 2.8× cheaper per occurrence.

mod common;

use common::{
    Run, Summary, TIME, apply_time, cadenced_sync, fmt_opt, import_token, measure, per_event_us,
    summarize, text,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::json;
use testkit::fake_graph::{
    Endpoint, FakeGraph, NewEvent, PUBLIC_CLIENT_ID, REFRESH_TOKEN, TENANT_ID,
};

const RUNS: usize = 3;
const PAGE: usize = 200;

fn print_run(side: &str, i: usize, r: &Run, expected_lists: usize) {
    println!(
        "  {side} run {}: {}, delta pages {}, master GETs {}, token {}, other {}, kept {}{}",
        i + 1,
        r.figures(),
        r.lists_vs(expected_lists),
        r.master_requests,
        r.token_requests,
        r.other_requests,
        r.kept,
        r.in_process(),
    );
}

const ACCOUNT: &str = "m365";
const ZONE: &str = "W. Europe Standard Time";
/// Occurrences per generated series.
const SERIES_LEN: usize = 490;

/// Fills the fake's mailbox with `count` occurrences; returns (series, singles, exceptions).
fn generate(g: &FakeGraph, count: usize) -> (usize, usize, usize) {
    let day = |d: i64| Utc::now() + Duration::days(d);
    let local = |d: i64, t: &str| format!("{}T{t}", day(d).format("%Y-%m-%d"));
    let date = |d: i64| day(d).format("%Y-%m-%d").to_string();
    let series = count * 98 / 100 / SERIES_LEN;
    let singles = count - series * SERIES_LEN;
    let first = -380;
    for s in 0..series {
        let hour = 7 + (s % 10);
        let minute = (s / 10 % 4) * 15;
        let start = format!("{hour:02}:{minute:02}");
        let end = format!("{hour:02}:{:02}", minute + 10);
        let ev = NewEvent::new(
            &format!("series {s}"),
            &local(first, &start),
            &local(first, &end),
            ZONE,
        )
        .attendee("me@example.com", "required", "accepted")
        .attendee(
            &format!("report{}@example.com", s % 40),
            "required",
            "accepted",
        );
        let master = g.add_series(
            &ev,
            json!({
                "pattern": {"type": "daily", "interval": 1},
                "range": {"type": "numbered", "startDate": date(first),
                          "numberOfOccurrences": SERIES_LEN, "recurrenceTimeZone": ZONE}
            }),
        );
        // One exception per series: an occurrence moved by an hour.
        let d = first + 10 + (s as i64 % 300);
        let later = |t: &str| {
            let h: usize = t[..2].parse().unwrap_or(0);
            format!("{:02}{}", h + 1, &t[2..])
        };
        g.move_occurrence(
            &master,
            &date(d),
            &local(d, &later(&start)),
            &local(d, &later(&end)),
        );
    }
    for i in 0..singles {
        let d = first + (i as i64 * 7 % 490);
        g.add_event(
            &NewEvent::new(
                &format!("single {i}"),
                &local(d, "14:00"),
                &local(d, "14:45"),
                ZONE,
            )
            .attendee(
                &format!("report{}@example.com", i % 40),
                "required",
                "accepted",
            ),
        );
    }
    (series, singles, series)
}

fn record_requests(g: &FakeGraph, run: &mut Run) {
    run.list_requests = g.count(Endpoint::CalendarViewDelta);
    run.master_requests = g.count(Endpoint::EventGet);
    run.token_requests = g.count(Endpoint::Token);
    run.other_requests =
        g.requests().len() - run.list_requests - run.master_requests - run.token_requests;
}

fn cadenced_run(g: &FakeGraph, timed: bool) -> Run {
    let bin = Path::new(env!("CARGO_BIN_EXE_cadenced"));
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("config.toml");
    let state = dir.path().join("state");
    std::fs::write(
        &config,
        format!(
            "[manager]\nemail = \"me@example.com\"\ntimezone = \"Europe/Berlin\"\n\n[[reports]]\nemail = \"report1@example.com\"\nname = \"Report One\"\n\n\
             [[accounts]]\nname = \"{ACCOUNT}\"\nprovider = \"microsoft\"\ntenant = \"{TENANT_ID}\"\nclient_id = \"{PUBLIC_CLIENT_ID}\"\n\
             login_base = \"{}\"\ngraph_base = \"{}\"\n",
            g.url(),
            g.graph_base()
        ),
    )
    .expect("write config");
    let base: Vec<String> = vec![
        "--config".into(),
        config.to_string_lossy().into_owned(),
        "--state-dir".into(),
        state.to_string_lossy().into_owned(),
    ];
    // Import the refresh token (not timed).
    import_token(bin, &base, ACCOUNT, REFRESH_TOKEN);
    g.clear_log();
    let mut run = cadenced_sync(bin, &base, timed);
    record_requests(g, &mut run);
    run.kept = cadenced::store::Store::open_in(&state)
        .and_then(|s| s.load_events(Some(ACCOUNT)))
        .map(|cals| cals.iter().map(|c| c.events.len()).sum())
        .unwrap_or(0);
    run
}

fn python() -> PathBuf {
    std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

fn python_ready() -> bool {
    Command::new(python())
        .args(["-c", "import msgraph, kiota_abstractions, httpx"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The sync window cadenced uses by default (now − 400 days, now + 120 days), in UTC.
fn window() -> (String, String) {
    let now = Utc::now();
    let f = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    (f(now - Duration::days(400)), f(now + Duration::days(120)))
}

fn python_run(g: &FakeGraph, timed: bool, client: &str) -> Run {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/microsoft_sync_ref.py");
    let (start, end) = window();
    let args: Vec<String> = vec![
        script.to_string_lossy().into_owned(),
        "--graph-base".into(),
        g.graph_base(),
        "--token-url".into(),
        g.token_url(TENANT_ID),
        "--refresh-token".into(),
        REFRESH_TOKEN.into(),
        "--client-id".into(),
        PUBLIC_CLIENT_ID.into(),
        "--start".into(),
        start,
        "--end".into(),
        end,
        "--client".into(),
        client.into(),
    ];
    g.clear_log();
    let (out, figures, wall) = measure(timed, &python(), &args, &[]);
    assert!(
        out.status.success(),
        "python reference failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let mut run = Run::default();
    apply_time(&mut run, figures, wall);
    record_requests(g, &mut run);
    run.read_python_report(&out.stdout);
    run
}

fn main() {
    let count = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(50_000);
    let timed = Path::new(TIME).exists();
    if !timed {
        println!("note: {TIME} not found: per-occurrence figures use wall time");
    }
    let g = FakeGraph::start();
    let t = Instant::now();
    let (series, singles, exceptions) = generate(&g, count);
    let (from, to) = window();
    let listed = g.snapshot_view(&from, &to).len();
    let expected_lists = listed.div_ceil(PAGE);
    println!(
        "fake: {series} daily series of {SERIES_LEN} ({exceptions} moved occurrences), {singles} singles, generated in {:.2?}; the window lists {listed} occurrences; expected delta pages ceil({listed} / {PAGE}) = {expected_lists} (cadenced also reads {series} masters)",
        t.elapsed()
    );

    println!("cadenced ({}):", env!("CARGO_BIN_EXE_cadenced"));
    let mut runs = Vec::new();
    for i in 0..RUNS {
        let r = cadenced_run(&g, timed);
        print_run("cadenced", i, &r, expected_lists);
        runs.push(r);
    }
    let cadenced = summarize(&runs);

    // The SDK costs milliseconds per occurrence (see the module doc): by default it runs once.
    let sdk_runs = std::env::var("BENCH_SDK_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut py = Vec::new();
    if python_ready() {
        for (client, runs_wanted) in [("requests", RUNS), ("sdk", sdk_runs)] {
            println!("python --client {client} ({}):", python().display());
            let mut runs = Vec::new();
            for i in 0..runs_wanted {
                let r = python_run(&g, timed, client);
                print_run(&format!("python-{client}"), i, &r, expected_lists);
                runs.push(r);
            }
            if !runs.is_empty() {
                py.push((client, runs.len(), summarize(&runs)));
            }
        }
    } else {
        println!(
            "python: skipped, `{} -c \"import msgraph\"` failed; install with: pip install msgraph-sdk",
            python().display()
        );
    }

    println!();
    println!(
        "First round over {listed} occurrences (median of {RUNS} runs each; per-occurrence = CPU user+sys / {listed}):"
    );
    println!(
        "{:<10} {:>12} {:>10} {:>16} {:>14} {:>9} {:>13} {:>9}",
        "client", "µs/occ", "ratio", "cpu s (u+s)", "delta pages", "wall s", "peak RSS MiB", "kept"
    );
    let (c_us, basis) = per_event_us(&cadenced, listed);
    let row = |name: &str, s: &Summary, us: f64, ratio: String| {
        println!(
            "{:<10} {:>12.2} {:>10} {:>16} {:>14} {:>9.3} {:>13} {:>9}",
            name,
            us,
            ratio,
            fmt_opt(s.cpu, |c| format!("{c:.3}")),
            format!(
                "{}{}",
                s.list_requests,
                if s.list_requests == expected_lists {
                    " ok"
                } else {
                    " !="
                }
            ),
            s.wall,
            fmt_opt(s.rss_kib, |k| format!("{:.1}", k / 1024.0)),
            s.kept,
        );
    };
    row("cadenced", &cadenced, c_us, "1.00".into());
    for (client, n, p) in &py {
        let (p_us, _) = per_event_us(p, listed);
        row(
            &format!("py-{client}"),
            p,
            p_us,
            format!("{:.2}", p_us / c_us),
        );
        println!(
            "  (python --client {client}, {n} run(s): user {} s, sys {} s; in-process imports {} s, paging loop {} s = {} µs/occurrence for the loop alone)",
            fmt_opt(p.user, |v| format!("{v:.3}")),
            fmt_opt(p.sys, |v| format!("{v:.3}")),
            fmt_opt(p.import_cpu, |v| format!("{v:.3}")),
            fmt_opt(p.loop_cpu, |v| format!("{v:.3}")),
            fmt_opt(p.loop_cpu, |v| format!("{:.2}", v * 1e6 / listed as f64)),
        );
    }
    if basis == "wall" {
        println!("(per-occurrence figures are wall time: {TIME} is missing)");
    }
    println!(
        "cadenced: user {} s, sys {} s; \"kept\" = rows cadenced stored (masters, exceptions, singles), the Python dict's entries (every listed item).",
        fmt_opt(cadenced.user, |v| format!("{v:.3}")),
        fmt_opt(cadenced.sys, |v| format!("{v:.3}")),
    );
}
