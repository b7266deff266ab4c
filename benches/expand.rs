//! In-process benchmark of the iCalendar path: parse a generated org calendar of 2,000 series,
//! expand it over one year, and format every occurrence as an `events --json` line.
//!
//! Run: `cargo bench --bench expand` (optionally `-- FILE.ics` to use a real file instead).
//! Figures are medians of several runs; no assertion is made on them.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use cadenced::output::EventLine;
use cadenced::providers::ics::parse_feed;
use cadenced::recurrence::{Window, expand};
use cadenced::tz::Zone;
use chrono::{TimeZone, Utc};

const SERIES: usize = 2_000;
const RUNS: usize = 7;

/// A deterministic calendar shaped like a real org calendar: weekly, biweekly and monthly series
/// in several zones, EXDATEs (some stale), moved and cancelled overrides, all-day series.
fn generate() -> String {
    let zones = [
        "Europe/Berlin",
        "America/New_York",
        "Asia/Tokyo",
        "W. Europe Standard Time",
        "UTC",
    ];
    let days = ["MO", "TU", "WE", "TH", "FR"];
    let mut s = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cadenced bench//EN\r\n");
    for i in 0..SERIES {
        let zone = zones[i % zones.len()];
        let day = 1 + (i % 28);
        let hour = 8 + (i % 9);
        let (rule, label) = match i % 4 {
            0 | 1 => (format!("FREQ=WEEKLY;BYDAY={}", days[i % 5]), "weekly"),
            2 => (
                format!("FREQ=WEEKLY;INTERVAL=2;BYDAY={}", days[(i / 3) % 5]),
                "biweekly",
            ),
            _ => (
                format!("FREQ=MONTHLY;BYDAY={}{}", 1 + (i % 3), days[i % 5]),
                "monthly",
            ),
        };
        let dtstart = if zone == "UTC" {
            format!("DTSTART:202501{day:02}T{hour:02}0000Z\r\nDTEND:202501{day:02}T{hour:02}3000Z")
        } else if i % 50 == 7 {
            format!("DTSTART;VALUE=DATE:202501{day:02}")
        } else {
            format!(
                "DTSTART;TZID={zone}:202501{day:02}T{hour:02}0000\r\nDTEND;TZID={zone}:202501{day:02}T{hour:02}3000"
            )
        };
        let _ = write!(
            s,
            "BEGIN:VEVENT\r\nUID:series-{i}@bench\r\nDTSTAMP:20250101T000000Z\r\n{dtstart}\r\nRRULE:{rule}\r\n\
             SUMMARY:{label} 1on1 #{i}\r\nORGANIZER:mailto:m{i}@example.com\r\n\
             ATTENDEE;PARTSTAT=ACCEPTED:mailto:m{i}@example.com\r\nATTENDEE;PARTSTAT=ACCEPTED:mailto:r{i}@example.com\r\n"
        );
        if i % 5 == 0 {
            let _ = write!(s, "EXDATE:20260301T000000Z,20260401T000000Z\r\n");
        }
        s.push_str("END:VEVENT\r\n");
        if i % 12 == 0 && zone != "UTC" && i % 50 != 7 {
            // A cancelled override of an instance that does not exist is still listed (RFC 5545).
            let _ = write!(
                s,
                "BEGIN:VEVENT\r\nUID:series-{i}@bench\r\nDTSTAMP:20250101T000000Z\r\n\
                 RECURRENCE-ID;TZID={zone}:202601{day:02}T{hour:02}0000\r\n\
                 DTSTART;TZID={zone}:202601{day:02}T{h2:02}0000\r\nDTEND;TZID={zone}:202601{day:02}T{h2:02}3000\r\n\
                 SUMMARY:moved\r\nEND:VEVENT\r\n",
                h2 = hour + 1
            );
        }
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let arg = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let (text, name) = match &arg {
        Some(path) => (
            std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}")),
            path.clone(),
        ),
        None => (
            generate().into_bytes(),
            format!("generated ({SERIES} series)"),
        ),
    };
    let window = Window {
        from: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        to: Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap(),
    };
    let (mut parse_t, mut expand_t, mut format_t) = (vec![], vec![], vec![]);
    let mut counts = (0, 0, 0);
    for _ in 0..RUNS {
        let t = Instant::now();
        let feed = parse_feed(&text, &name, "bench").expect("the benchmark feed parses");
        parse_t.push(t.elapsed());

        let t = Instant::now();
        let expansion = expand(&feed.events, &window, &Zone::Utc);
        expand_t.push(t.elapsed());

        let t = Instant::now();
        let mut bytes = 0;
        let listed: Vec<_> = expansion
            .occurrences
            .iter()
            .filter(|o| !o.removed)
            .collect();
        for occ in &listed {
            bytes += serde_json::to_string(&EventLine::new("bench", occ))
                .map(|l| l.len() + 1)
                .unwrap_or(0);
        }
        format_t.push(t.elapsed());
        counts = (feed.events.len(), listed.len(), bytes);
    }
    println!("input: {name}, {} bytes", text.len());
    println!(
        "events: {}, occurrences in 2026: {}, JSON bytes: {}",
        counts.0, counts.1, counts.2
    );
    println!("parse:  {:>8.2?} (median of {RUNS})", median(parse_t));
    println!("expand: {:>8.2?}", median(expand_t));
    println!("format: {:>8.2?}", median(format_t));
}
