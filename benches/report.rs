//! End-to-end benchmark of `cadenced report --json` on a very busy calendar: ten years of
//! meetings (about one million stored occurrences by default) for a manager with 12 reports.
//!
//! Run: `cargo bench --bench report` (sizes: `-- 1000000 500000`). For each size it fills a
//! fresh store directly through the store API (not timed), then runs the release binary
//! `report --json` three times and prints wall time and peak memory (via /usr/bin/time when it
//! is installed). No assertion is made on the figures.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cadenced::model::{Attendee, Event, EventTime, Person, RecurrenceSet, Response};
use cadenced::store::Store;
use cadenced::tz::Zone;
use chrono::{Duration, NaiveDate, NaiveDateTime};

const REPORTS: usize = 12;
const NOW: &str = "2026-11-24T09:00:00+09:00";

fn at(day: i64, minutes: i64) -> NaiveDateTime {
    let start = NaiveDate::from_ymd_opt(2016, 11, 24)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default();
    start + Duration::days(day) + Duration::minutes(minutes)
}

fn person(i: usize) -> String {
    format!("person{i}@example.com")
}

fn event(
    uid: String,
    start: NaiveDateTime,
    minutes: i64,
    summary: String,
    people: &[String],
) -> Event {
    let zone = Zone::Iana(chrono_tz::Asia::Tokyo);
    Event {
        calendar: "primary".into(),
        event_id: uid.clone(),
        uid,
        series_id: None,
        recurrence: None,
        recurrence_id: None,
        this_and_future: false,
        start: EventTime::Zoned {
            local: start,
            zone: zone.clone(),
        },
        end: EventTime::Zoned {
            local: start + Duration::minutes(minutes),
            zone,
        },
        status: Default::default(),
        summary,
        description: None,
        location: None,
        organizer: Some(Person {
            email: "mika@example.com".into(),
            name: None,
        }),
        attendees: std::iter::once("mika@example.com".to_string())
            .chain(people.iter().cloned())
            .map(|email| Attendee {
                email,
                response: Response::Accepted,
                ..Default::default()
            })
            .collect(),
        self_response: None,
        out_of_office: false,
        sequence: 0,
        updated: None,
        etag: None,
    }
}

/// `n` occurrences over ten years: a weekly 1on1 series per report, and single meetings
/// (group meetings, ad-hoc 1on1s with reports, meetings with others) filling the rest.
fn fill(state: &Path, n: usize) {
    let mut store = Store::open_in(state).expect("open the bench store");
    let account = store.ensure_account("bench", "google").expect("account");
    let calendar = store.ensure_calendar(account, "primary").expect("calendar");
    let mut batch = Vec::with_capacity(10_000);
    for r in 0..REPORTS {
        let mut e = event(
            format!("series-{r}"),
            at(r as i64 % 5, 10 * 60),
            30,
            format!("1on1 {r}"),
            &[person(r)],
        );
        e.recurrence = Some(RecurrenceSet {
            rrules: vec!["FREQ=WEEKLY".into()],
            ..Default::default()
        });
        batch.push(e);
    }
    let series_occurrences = REPORTS * 52 * 10;
    let singles = n.saturating_sub(series_occurrences);
    let per_day = singles.div_ceil(3650).max(1);
    for i in 0..singles {
        let day = (i / per_day) as i64;
        let slot = (i % per_day) as i64;
        let minutes = 7 * 60 + (slot * 600 / per_day as i64);
        let e = match i % 10 {
            0 => event(
                format!("adhoc-{i}"),
                at(day, minutes),
                30,
                "1:1 catch-up".into(),
                &[person(i % REPORTS)],
            ),
            1..=5 => {
                let people: Vec<String> = (0..4).map(|k| person((i + k) % REPORTS)).collect();
                event(
                    format!("group-{i}"),
                    at(day, minutes),
                    60,
                    format!("Design review {i}"),
                    &people,
                )
            }
            _ => event(
                format!("ext-{i}"),
                at(day, minutes),
                30,
                format!("Customer call {i}"),
                &[format!("ext{}@partner.example", i % 500)],
            ),
        };
        batch.push(e);
        if batch.len() == 10_000 {
            store
                .apply_changes(calendar, &batch, &[], None)
                .expect("write a batch");
            batch.clear();
        }
    }
    store
        .apply_changes(calendar, &batch, &[], None)
        .expect("write the last batch");
    // The account synced at NOW, so the analysis is complete and the report alerts are
    // reconciled as in real use (a never-synced account would hold them).
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("NOW")
        .with_timezone(&chrono::Utc);
    store
        .record_sync(
            account,
            &cadenced::store::SyncOutcome {
                at: now,
                ok: true,
                error: None,
                changed: true,
            },
        )
        .expect("record the sync");
}

fn config(dir: &Path) -> std::path::PathBuf {
    let mut text =
        String::from("[manager]\nemail = \"mika@example.com\"\ntimezone = \"Asia/Tokyo\"\n");
    for r in 0..REPORTS {
        text.push_str(&format!(
            "\n[[reports]]\nemail = \"{}\"\nname = \"Report {r}\"\n",
            person(r)
        ));
    }
    text.push_str("\n[[accounts]]\nname = \"bench\"\nprovider = \"ics\"\npath = \"unused.ics\"\n");
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![1_000_000, 500_000]
    } else {
        sizes
    };
    let bin = env!("CARGO_BIN_EXE_cadenced");
    let has_time = Path::new("/usr/bin/time").exists();
    for n in sizes {
        // BENCH_KEEP=DIR keeps the generated state and config there (for profiling).
        let guard = tempfile::tempdir().expect("temp dir");
        let root = match std::env::var_os("BENCH_KEEP") {
            Some(keep) => std::path::PathBuf::from(keep).join(n.to_string()),
            None => guard.path().to_path_buf(),
        };
        std::fs::create_dir_all(&root).expect("bench dir");
        let _ = std::fs::remove_dir_all(root.join("state"));
        let state = root.join("state");
        let t = Instant::now();
        fill(&state, n);
        let db = std::fs::metadata(state.join("cadenced.db"))
            .map(|m| m.len())
            .unwrap_or(0);
        println!(
            "{n} occurrences stored in {:.1?} ({} MiB database)",
            t.elapsed(),
            db / (1 << 20)
        );
        let config = config(&root);
        for run in 0..3 {
            let args = [
                "--config",
                &config.to_string_lossy(),
                "--state-dir",
                &state.to_string_lossy(),
                "--now",
                NOW,
                "report",
                "--json",
            ]
            .map(str::to_owned);
            let t = Instant::now();
            let out = if has_time {
                Command::new("/usr/bin/time")
                    .args(["-f", "%e %M %U %S"])
                    .arg(bin)
                    .args(&args)
                    .output()
            } else {
                Command::new(bin).args(&args).output()
            }
            .expect("run cadenced");
            let wall = t.elapsed();
            assert!(
                out.status.success(),
                "report failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let peak = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|k| k.parse::<f64>().ok())
                })
                .map_or_else(
                    || "n/a".to_string(),
                    |kib| format!("{:.1} MiB", kib / 1024.0),
                );
            // User + system CPU: the figure that does not depend on what else the machine runs.
            let cpu = String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .and_then(|l| {
                    let f: Vec<f64> = l
                        .split_whitespace()
                        .filter_map(|x| x.parse::<f64>().ok())
                        .collect();
                    (f.len() == 4).then(|| format!("{:.2}s cpu", f[2] + f[3]))
                })
                .unwrap_or_else(|| "cpu n/a".to_string());
            let complete = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v["complete"].as_bool());
            println!(
                "  run {run}: report --json {wall:.2?} wall, {cpu}, peak {peak}, {} bytes out, complete: {complete:?}",
                out.stdout.len()
            );
        }
    }
}
