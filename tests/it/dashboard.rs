//! The dashboard page (`report --html FILE`) on the shipped example calendar: its structure (one
//! row per report in roster order, one cell per week), every cell cross-checked against
//! `series --json` and `report --json`, the legend, the hover/focus text, escaping, both
//! languages, stale accounts, no secrets; and the same checks on the DOM that a real headless
//! Chromium renders, plus a screenshot.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use common::stderr;
use scraper::{ElementRef, Html, Selector};

const NOW: &str = "2026-11-24T09:00:00+09:00";
const TOKYO: chrono_tz::Tz = chrono_tz::Asia::Tokyo;

struct Example {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

impl Example {
    /// The shipped example, with `edit` applied to the config and the calendar, synced.
    fn new(edit: impl Fn(String, String) -> (String, String)) -> Example {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let toml = std::fs::read_to_string(root.join("example.toml")).unwrap();
        let ics = std::fs::read_to_string(root.join("example.ics")).unwrap();
        let (toml, ics) = edit(toml, ics);
        let config = dir.path().join("config.toml");
        std::fs::write(&config, toml).unwrap();
        std::fs::write(dir.path().join("example.ics"), ics).unwrap();
        let state = dir.path().join("state");
        let ex = Example { dir, config, state };
        let out = ex.run(&["sync", "--account", "example"]);
        assert!(out.status.success(), "{}", stderr(&out));
        ex
    }

    fn english() -> Example {
        Example::new(|t, i| (t, i))
    }

    fn japanese() -> Example {
        Example::new(|t, i| {
            let t = t.replace("locale = \"en\"", "locale = \"ja\"");
            assert!(t.contains("locale = \"ja\""));
            (t, i)
        })
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::cargo_bin("cadenced")
            .unwrap()
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.run(args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// `report --html` at `now` into the example's directory; returns the file.
    fn html(&self, now: &str) -> PathBuf {
        let path = self.dir.path().join("out").join("cadence.html");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let out = self.run(&["--now", now, "report", "--html", path.to_str().unwrap()]);
        assert!(out.status.success(), "report --html: {}", stderr(&out));
        assert!(out.stdout.is_empty(), "--html alone prints nothing");
        path
    }
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).unwrap()
}

fn attr<'a>(e: &ElementRef<'a>, name: &str) -> &'a str {
    e.value()
        .attr(name)
        .unwrap_or_else(|| panic!("<{}> has no {name}: {}", e.value().name(), e.html()))
}

fn text(e: &ElementRef) -> String {
    e.text().collect::<String>()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn monday(t: DateTime<Utc>) -> NaiveDate {
    let d = t.with_timezone(&TOKYO).date_naive();
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// The weeks the page must show at NOW: Mondays (Tokyo) from the week of now − 90 days to four
/// weeks after the current one.
fn expected_weeks() -> Vec<String> {
    let now = utc(NOW);
    let mut w = monday(now - Duration::days(90));
    let last = monday(now) + Duration::weeks(4);
    let mut out = Vec::new();
    while w <= last {
        out.push(w.to_string());
        w += Duration::weeks(1);
    }
    out
}

/// The structural checks shared by the generated file and the DOM Chromium renders from it.
fn check_page(html: &str, report: &serde_json::Value, series: &serde_json::Value, lang: &str) {
    let doc = Html::parse_document(html);
    let root = doc.root_element();
    assert_eq!(attr(&root, "lang"), lang);

    // Self-contained: no script, no external resource.
    assert_eq!(doc.select(&sel("script")).count(), 0, "no script");
    assert_eq!(doc.select(&sel("link, img, iframe")).count(), 0);
    assert_eq!(doc.select(&sel("[src]")).count(), 0, "nothing loaded");
    let style: String = doc.select(&sel("style")).map(|s| text(&s)).collect();
    assert!(style.contains(".heatmap"), "the CSS is inline");
    assert!(
        !style.contains("url(") && !style.contains("@import"),
        "no external resource"
    );

    let weeks = expected_weeks();
    assert_eq!(weeks.len(), 18);
    let table = doc
        .select(&sel("table#heatmap"))
        .next()
        .expect("the heatmap table");
    assert_eq!(attr(&table, "data-weeks"), weeks.len().to_string());
    let header: Vec<&str> = table
        .select(&sel("thead th[data-week]"))
        .map(|th| attr(&th, "data-week"))
        .collect();
    assert_eq!(header, weeks, "one column per week, Monday first");
    let current: Vec<&str> = table
        .select(&sel("thead th.now"))
        .map(|th| attr(&th, "data-week"))
        .collect();
    assert_eq!(current, ["2026-11-23"]);

    // One row per report, roster order.
    let rows: Vec<ElementRef> = table.select(&sel("tbody tr.report")).collect();
    let reports = report["reports"].as_array().unwrap();
    assert_eq!(rows.len(), reports.len());
    assert_eq!(rows.len(), 7);
    let now = utc(NOW);
    let lookback_start = now - Duration::days(90);
    let shown_end =
        NaiveDate::parse_from_str(weeks.last().unwrap(), "%Y-%m-%d").unwrap() + Duration::weeks(1);
    let series_reports = series["reports"].as_array().unwrap();
    for ((row, rep), ser) in rows.iter().zip(reports).zip(series_reports) {
        let email = rep["email"].as_str().unwrap();
        let name = rep["name"].as_str().unwrap();
        assert_eq!(attr(row, "data-email"), email);
        assert_eq!(ser["email"].as_str().unwrap(), email);
        let th = row.select(&sel("th.name")).next().unwrap();
        assert!(text(&th).contains(name), "{name} in {}", text(&th));

        let cells: Vec<ElementRef> = row.select(&sel("td.cell")).collect();
        assert_eq!(cells.len(), weeks.len(), "{name}: one cell per week");

        // What series --json says each shown week holds, by outcome.
        let mut expected: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for s in ser["sessions"].as_array().unwrap() {
            let start = utc(s["start"].as_str().unwrap());
            let w = monday(start);
            if w.to_string() >= weeks[0] && w < shown_end {
                expected.entry(w.to_string()).or_default().push((
                    s["start"].as_str().unwrap().to_string(),
                    s["outcome"].as_str().unwrap().to_string(),
                ));
            }
        }
        let mut in_lookback: BTreeMap<String, usize> = BTreeMap::new();
        for (cell, week) in cells.iter().zip(&weeks) {
            assert_eq!(attr(cell, "data-week"), week);
            let sessions: Vec<(String, String)> = cell
                .select(&sel("[data-start]"))
                .map(|s| {
                    (
                        attr(&s, "data-start").to_string(),
                        attr(&s, "data-outcome").to_string(),
                    )
                })
                .collect();
            let want = expected.remove(week).unwrap_or_default();
            assert_eq!(sessions, want, "{name}, week of {week}");

            // The cell's colour follows its most telling session; its symbols are the outcomes'.
            let outcome = attr(cell, "data-outcome");
            let dominant = ["held", "upcoming", "declined", "cancelled", "excused"]
                .into_iter()
                .find(|o| sessions.iter().any(|(_, so)| so == o))
                .unwrap_or("none");
            assert_eq!(outcome, dominant, "{name}, week of {week}");
            let symbols: String = cell
                .select(&sel("[data-start]"))
                .map(|s| text(&s))
                .collect();
            let want_symbols: String = sessions
                .iter()
                .map(|(_, o)| match o.as_str() {
                    "held" => "●",
                    "cancelled" => "✕",
                    "declined" => "⊘",
                    "upcoming" => "○",
                    "excused" => "◌",
                    other => panic!("outcome {other}"),
                })
                .collect();
            assert_eq!(symbols, want_symbols);

            // Hover and focus: a focusable element whose title and aria-label explain the week.
            let bx = cell
                .select(&sel("[tabindex='0']"))
                .next()
                .expect("focusable cell");
            let title = attr(&bx, "title");
            let label = attr(&bx, "aria-label");
            for t in [title, label] {
                assert!(t.contains(name), "{t}");
                assert!(t.contains(week.as_str()), "{t}");
            }
            let titles: Vec<&str> = ser["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|s| sessions.iter().any(|(st, _)| s["start"] == st.as_str()))
                .map(|s| s["title"].as_str().unwrap())
                .collect();
            for t in &titles {
                assert!(label.contains(t), "{label:?} names {t:?}");
                assert!(title.contains(t), "{title:?} names {t:?}");
            }
            assert_eq!(
                label.matches('\n').count(),
                sessions.len(),
                "one line per session: {label:?}"
            );

            for (start, o) in &sessions {
                let t = utc(start);
                if t >= lookback_start && t < now {
                    *in_lookback.entry(o.clone()).or_default() += 1;
                }
                assert_eq!(o == "upcoming", t >= now, "{start} {o}");
            }
        }
        assert!(
            expected.is_empty(),
            "{name}: sessions missing: {expected:?}"
        );
        // The cells of the lookback add up to the report's figures.
        for k in ["held", "cancelled", "declined"] {
            assert_eq!(
                in_lookback.get(k).copied().unwrap_or(0) as u64,
                rep[k].as_u64().unwrap(),
                "{name}: {k} in the heatmap vs report --json"
            );
            assert_eq!(attr(row, &format!("data-{k}")), rep[k].to_string());
        }
    }

    // The legend: all six states with their symbols.
    let legend: Vec<(String, String)> = doc
        .select(&sel("#legend li"))
        .map(|li| {
            (
                attr(&li, "data-outcome").to_string(),
                text(&li.select(&sel(".chip")).next().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        legend,
        [
            ("held", "●"),
            ("cancelled", "✕"),
            ("declined", "⊘"),
            ("upcoming", "○"),
            ("excused", "◌"),
            ("none", "·")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );

    // The alert list holds the report's open alerts.
    let ids: Vec<&str> = doc
        .select(&sel("#alerts li.alert"))
        .map(|li| attr(&li, "data-id"))
        .collect();
    let want: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, want);
    // One card per report, with its cadence and where it comes from.
    let cards: Vec<ElementRef> = doc.select(&sel("#reports article.person")).collect();
    assert_eq!(cards.len(), reports.len());
    for (card, rep) in cards.iter().zip(reports) {
        let dd = card.select(&sel("dd.expected")).next().unwrap();
        assert_eq!(
            attr(&dd, "data-source"),
            rep["cadence_source"].as_str().unwrap()
        );
    }
    // The account and its last successful sync.
    let acc: Vec<&str> = doc
        .select(&sel("#accounts li.account"))
        .map(|li| attr(&li, "data-account"))
        .collect();
    assert_eq!(acc, ["example"]);
}

fn example_docs(ex: &Example) -> (serde_json::Value, serde_json::Value) {
    (
        ex.json(&["--now", NOW, "report", "--json"]),
        ex.json(&["--now", NOW, "series", "--json"]),
    )
}

#[test]
fn the_page_matches_the_report_in_english() {
    let ex = Example::english();
    let (report, series) = example_docs(&ex);
    let path = ex.html(NOW);
    let html = std::fs::read_to_string(&path).unwrap();
    check_page(&html, &report, &series, "en");
    // Figures a person reads.
    assert!(html.contains("Weekly heatmap"));
    assert!(html.contains("every 7 days"));
    assert!(html.contains("set in the config"));
    assert!(html.contains("as of Tue 24 Nov 2026 09:00"));
    // Alice's declined week (Oct 19) explains itself.
    let doc = Html::parse_document(&html);
    let alice = doc
        .select(&sel("tr[data-email='alice@example.com']"))
        .next()
        .unwrap();
    let cell = alice
        .select(&sel("td[data-week='2026-10-19']"))
        .next()
        .unwrap();
    assert_eq!(attr(&cell, "data-outcome"), "declined");
    let label = attr(
        &cell.select(&sel("[aria-label]")).next().unwrap(),
        "aria-label",
    );
    assert!(label.contains("Tue 20 Oct 10:00"), "{label}");
    assert!(label.contains("(declined)"), "{label}");
    // The file was replaced atomically: nothing else is left in its directory.
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);
}

#[test]
fn the_page_speaks_japanese_when_the_manager_does() {
    let ex = Example::japanese();
    let (report, series) = example_docs(&ex);
    let html = std::fs::read_to_string(ex.html(NOW)).unwrap();
    check_page(&html, &report, &series, "ja");
    for s in [
        "週ごとのヒートマップ",
        "凡例",
        "実施",
        "中止",
        "辞退",
        "予定",
        "7日ごと",
        "設定ファイル",
        "佐藤大輝",
    ] {
        assert!(html.contains(s), "{s}");
    }
    let doc = Html::parse_document(&html);
    let sub = text(&doc.select(&sel("header .sub")).next().unwrap());
    assert!(sub.contains("2026/11/24(火) 09:00 時点"), "{sub}");
    let sato = doc
        .select(&sel("tr[data-email='daiki.sato@example.com']"))
        .next()
        .unwrap();
    let label = attr(
        &sato
            .select(&sel("td[data-week='2026-11-09'] [aria-label]"))
            .next()
            .unwrap(),
        "aria-label",
    );
    assert!(
        label.contains("佐藤大輝: 週の開始 2026-11-09:\n"),
        "{label}"
    );
    assert!(label.contains("(実施)"), "{label}");
    assert!(!html.contains("Weekly heatmap"));
}

#[test]
fn user_text_is_escaped() {
    let hostile = r#"<img src=x onerror="alert(1)"> & 'Bob'"#;
    let ex = Example::new(|t, i| {
        let t = t.replace("name = \"Bob\"", &format!("name = {}", toml_str(hostile)));
        let i = i.replace(
            "SUMMARY:Bob <> Mika 1:1",
            "SUMMARY:Bob <script>alert(2)</script> 1:1",
        );
        (t, i)
    });
    let (report, series) = example_docs(&ex);
    assert_eq!(report["reports"][1]["name"], hostile);
    let html = std::fs::read_to_string(ex.html(NOW)).unwrap();
    assert!(!html.contains("<img"), "raw markup from the config");
    assert!(!html.contains("<script"), "raw markup from the calendar");
    assert!(html.contains("&lt;img src=x onerror="));
    assert!(html.contains("&lt;script&gt;alert(2)&lt;"));
    check_page(&html, &report, &series, "en");
    let doc = Html::parse_document(&html);
    let bob = doc
        .select(&sel("tr[data-email='bob@example.com'] th .nm"))
        .next()
        .unwrap();
    assert_eq!(text(&bob), hostile);
    let cell = doc
        .select(&sel(
            "tr[data-email='bob@example.com'] td[data-outcome='held'] [aria-label]",
        ))
        .next()
        .unwrap();
    let label = attr(&cell, "aria-label");
    assert!(label.starts_with(hostile), "{label}");
    assert!(
        label.contains("Bob <script>alert(2)</script> 1:1"),
        "{label}"
    );
}

fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn stale_and_failing_accounts_are_flagged_and_secrets_never_shown() {
    let secret = "GOCSPX-do-not-show-this-secret";
    let ex = Example::new(|t, i| {
        let t = t.replace(
            "[sync]",
            &format!(
                "[[accounts]]\nname = \"broken\"\nprovider = \"ics\"\npath = \"missing.ics\"\n\n\
                 [[accounts]]\nname = \"work\"\nprovider = \"google\"\nclient_id = \"id\"\n\
                 client_secret = \"{secret}\"\n\n[sync]"
            ),
        );
        (t, i)
    });
    // The broken feed fails its sync (recorded in the store); the others still run.
    let out = ex.run(&["sync", "--account", "broken"]);
    assert!(!out.status.success());
    // Long after the last successful sync: stale.
    let html = std::fs::read_to_string(ex.html("2030-01-01T00:00:00Z")).unwrap();
    assert!(!html.contains(secret));
    let doc = Html::parse_document(&html);
    let state = |name: &str| {
        let li = doc
            .select(&sel(&format!("#accounts li[data-account='{name}']")))
            .next()
            .unwrap_or_else(|| panic!("account {name} listed"));
        (attr(&li, "data-stale").to_string(), text(&li))
    };
    let (stale, t) = state("example");
    assert_eq!(stale, "true", "{t}");
    assert!(t.contains("not synced for over 15 minutes"), "{t}");
    let (stale, t) = state("broken");
    assert_eq!(stale, "true", "{t}");
    assert!(t.contains("the last sync failed"), "{t}");
    assert!(t.contains("never"), "no successful sync: {t}");

    // Right after the sync, the example account is up to date.
    let html = std::fs::read_to_string(ex.html(&Utc::now().to_rfc3339())).unwrap();
    let doc = Html::parse_document(&html);
    let li = doc
        .select(&sel("#accounts li[data-account='example']"))
        .next()
        .unwrap();
    assert_eq!(attr(&li, "data-stale"), "false", "{}", text(&li));
}

#[test]
fn an_unwritable_html_path_is_one_clear_error() {
    let ex = Example::english();
    let target = ex.dir.path().join("no/such/dir/page.html");
    let out = ex.run(&["--now", NOW, "report", "--html", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("cannot write the dashboard to"), "{err}");
    assert!(err.contains("page.html"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

// ---------------------------------------------------------------- real browser

/// Debian's `chromium` (CI installs it), or `$CADENCED_CHROMIUM`.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CADENCED_CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        let paths = std::env::var_os("PATH").unwrap_or_default();
        for dir in std::env::split_paths(&paths) {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "no headless browser found: the dashboard's end-to-end test needs Debian's `chromium` \
         (apt-get install chromium; .ci/run installs it) or CADENCED_CHROMIUM=/path/to/chrome"
    );
}

fn browser(profile: &Path, args: &[&str], page: &Path) -> std::process::Output {
    browser_url(profile, args, &format!("file://{}", page.display()))
}

fn browser_url(profile: &Path, args: &[&str], url: &str) -> std::process::Output {
    let out = Process::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
        ])
        .args(["--no-first-run", "--disable-extensions", "--mute-audio"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the browser {}: {e}", chromium().display()));
    assert!(
        out.status.success(),
        "chromium {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG file");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

#[test]
fn headless_chromium_renders_the_heatmap_and_a_screenshot() {
    let ex = Example::english();
    let (report, series) = example_docs(&ex);
    let page = ex.html(NOW);
    let profile = tempfile::tempdir().unwrap();

    // The DOM as the browser built it from the file.
    let out = browser(profile.path(), &["--dump-dom"], &page);
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(
        dom.contains("<table class=\"heatmap\""),
        "the browser rendered the page"
    );
    check_page(&dom, &report, &series, "en");

    // A screenshot for people (and the issue note).
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("dashboard-en-1280x900.png");
    let _ = std::fs::remove_file(&shot);
    browser(
        profile.path(),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,900",
        ],
        &page,
    );
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert_eq!(png_size(&png), (1280, 900));
    assert!(
        png.len() > 20_000,
        "a real picture, not a blank page: {} bytes",
        png.len()
    );
    println!("dashboard screenshot: {}", shot.display());
}

/// A headless Chromium driven over the DevTools protocol (one page session), killed on drop.
struct Devtools {
    child: std::process::Child,
    ws: tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    session: Option<String>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Drop for Devtools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Devtools {
    fn launch() -> Devtools {
        use std::io::BufRead;
        let profile = tempfile::tempdir().unwrap();
        let mut child = Process::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(["--no-first-run", "--disable-extensions", "--mute-audio"])
            .args(["--remote-debugging-port=0", "--window-size=1280,900"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run the browser {}: {e}", chromium().display()));
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(i) = line.find("ws://") {
                        break line[i..].trim().to_string();
                    }
                }
                _ => panic!("chromium exited before opening its DevTools endpoint"),
            }
        };
        // Keep draining the browser's log so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let (ws, _) = tungstenite::connect(url.as_str()).expect("DevTools websocket");
        Devtools {
            child,
            ws,
            session: None,
            next_id: 0,
            _profile: profile,
        }
    }

    /// One command; its result (panics on a protocol error).
    fn call(&mut self, method: &str, params: serde_json::Value) -> serde_json::Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = serde_json::json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = serde_json::Value::String(s.clone());
        }
        self.ws
            .send(tungstenite::Message::text(msg.to_string()))
            .unwrap();
        loop {
            let m = self.ws.read().expect("DevTools message");
            let tungstenite::Message::Text(t) = m else {
                continue;
            };
            let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Opens `page` in a new 1280×900 tab and waits until it has loaded.
    fn open(&mut self, page: &Path) {
        self.open_sized(page, 1280, 900, false);
    }

    /// Opens `page` in a new tab of the given viewport and waits until it has loaded.
    fn open_sized(&mut self, page: &Path, width: u32, height: u32, mobile: bool) {
        let target = self.call(
            "Target.createTarget",
            serde_json::json!({"url": "about:blank"}),
        );
        let attached = self.call(
            "Target.attachToTarget",
            serde_json::json!({"targetId": target["targetId"], "flatten": true}),
        );
        self.session = Some(attached["sessionId"].as_str().unwrap().to_string());
        self.call(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        );
        self.call(
            "Page.navigate",
            serde_json::json!({"url": format!("file://{}", page.display())}),
        );
        for _ in 0..200 {
            // (The tab is about:blank until the file's navigation commits.)
            let loaded = "document.readyState === 'complete' && location.protocol === 'file:'";
            if self.eval(loaded) == true {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("the page never finished loading");
    }

    /// Evaluates an expression in the page (the test's probe; the page itself has no script).
    fn eval(&mut self, expression: &str) -> serde_json::Value {
        let r = self.call(
            "Runtime.evaluate",
            serde_json::json!({"expression": expression, "returnByValue": true}),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expression}: {r}");
        r["result"]["value"].clone()
    }

    fn mouse_to(&mut self, x: f64, y: f64) {
        self.call(
            "Input.dispatchMouseEvent",
            serde_json::json!({"type": "mouseMoved", "x": x, "y": y}),
        );
    }

    fn tab(&mut self) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                serde_json::json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9}),
            );
        }
    }

    fn screenshot(&mut self, path: &Path) {
        use base64::Engine;
        let shot = self.call(
            "Page.captureScreenshot",
            serde_json::json!({"format": "png"}),
        );
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

#[test]
fn hovering_or_focusing_a_cell_explains_it_in_chromium() {
    let ex = Example::english();
    let page = ex.html(NOW);
    let mut b = Devtools::launch();
    b.open(&page);

    let cell = r#"tr[data-email="alice@example.com"] td[data-week="2026-10-19"]"#;
    let tip = |b: &mut Devtools| {
        let v = b.eval(&format!(
            r#"(() => {{ const t = document.querySelector('{cell} .tip');
                return [getComputedStyle(t).display, t.innerText]; }})()"#
        ));
        (
            v[0].as_str().unwrap().to_string(),
            v[1].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(tip(&mut b).0, "none", "hidden until asked");

    // Hover: the pointer over the cell shows its explanation.
    let at = b.eval(&format!(
        r#"(() => {{ const e = document.querySelector('{cell} .box');
            e.scrollIntoView({{block: 'center', inline: 'center'}});
            const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"#
    ));
    b.mouse_to(at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    let (display, text) = tip(&mut b);
    assert_eq!(display, "block", "the tooltip shows on hover");
    assert!(text.contains("Alice"), "{text}");
    assert!(text.contains("Week of 2026-10-19"), "{text}");
    assert!(text.contains("Tue 20 Oct 10:00"), "{text}");
    assert!(text.contains("Alice / Mika 1on1"), "{text}");
    assert!(text.contains("(declined)"), "{text}");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    let shot = dir.join("dashboard-en-hover.png");
    b.screenshot(&shot);
    assert_eq!(png_size(&std::fs::read(&shot).unwrap()), (1280, 900));
    println!("dashboard hover screenshot: {}", shot.display());

    // Away from the cell, the tooltip goes.
    b.mouse_to(5.0, 5.0);
    assert_eq!(tip(&mut b).0, "none");

    // Keyboard: Tab reaches the cells, and the focused one explains itself.
    let mut focused = serde_json::Value::Null;
    for _ in 0..10 {
        b.tab();
        focused = b.eval(
            "(() => { const e = document.activeElement; if (!e.classList.contains('box')) return null; \
             return [e.closest('td').dataset.week, e.getAttribute('aria-label'), \
                     getComputedStyle(e.nextElementSibling).display]; })()",
        );
        if !focused.is_null() {
            break;
        }
    }
    assert!(
        !focused.is_null(),
        "a heatmap cell takes the keyboard focus"
    );
    // (Chromium starts the Tab order where the pointer last was, so which cell varies.)
    let week = focused[0].as_str().unwrap();
    assert!(expected_weeks().iter().any(|w| w == week), "{focused}");
    assert!(
        focused[1]
            .as_str()
            .unwrap()
            .starts_with(&format!("Alice: Week of {week}")),
        "{focused}"
    );
    assert_eq!(focused[2], "block", "the tooltip shows on focus");
}

#[test]
fn agenda_links_render_when_present_and_only_web_addresses_become_links() {
    let ex = Example::english();
    let config = cadenced::config::load(&ex.config).unwrap();
    let mut store = cadenced::store::Store::open_in(&ex.state).unwrap();
    let now = utc(NOW);
    // The library path the daemon takes gives the same page as the CLI (which keeps the make-up
    // slots it proposed for the daemon's page: the page itself asks no provider).
    let cli = std::fs::read_to_string(ex.html(NOW)).unwrap();
    let page = cadenced::dashboard::page(&config, &mut store, now).unwrap();
    assert_eq!(page, cli);
    assert!(page.contains("class=\"makeup\""));

    let a = cadenced::alerts::analyse(&config, &mut store, now).unwrap();
    let accounts = store.account_overview().unwrap();
    let links = |email: &str| match email {
        "alice@example.com" => Some("https://docs.example.com/d/alice?x=1&y=<2>".to_string()),
        "bob@example.com" => Some("agendas/bob@example.com.md".to_string()),
        "chen.wei@example.com" => Some("javascript:alert(1)".to_string()),
        _ => None,
    };
    let input = cadenced::dashboard::input_with_agendas(&config, &a, &accounts, now, &links);
    let html = cadenced::dashboard::render(&input).unwrap();
    let doc = Html::parse_document(&html);
    let agenda = |email: &str| {
        doc.select(&sel(&format!("article[data-email='{email}'] dd.agenda")))
            .next()
            .unwrap()
    };
    let alice = agenda("alice@example.com");
    let a_link = alice.select(&sel("a")).next().expect("a web link");
    assert_eq!(
        attr(&a_link, "href"),
        "https://docs.example.com/d/alice?x=1&y=<2>"
    );
    let bob = agenda("bob@example.com");
    assert_eq!(
        bob.select(&sel("a")).count(),
        0,
        "a local path is shown, not linked"
    );
    assert_eq!(text(&bob), "agendas/bob@example.com.md");
    let chen = agenda("chen.wei@example.com");
    assert_eq!(
        chen.select(&sel("a")).count(),
        0,
        "never a javascript: link"
    );
    assert!(!html.contains("href=\"javascript"));
    assert_eq!(text(&agenda("erin@example.com")), "no agenda yet");
}

#[test]
fn on_a_phone_the_heatmap_scrolls_under_fixed_names_and_dark_mode_follows_the_system() {
    let ex = Example::japanese();
    let page = ex.html(NOW);
    let mut b = Devtools::launch();
    b.open_sized(&page, 390, 844, true);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard");
    std::fs::create_dir_all(&dir).unwrap();

    // The page fits the phone; only the heatmap scrolls sideways.
    let fits = b.eval("document.documentElement.scrollWidth <= window.innerWidth");
    assert_eq!(fits, true, "the page does not scroll sideways");
    let geometry = |b: &mut Devtools| {
        b.eval(
            r#"(() => { const s = document.querySelector('.scroll').getBoundingClientRect();
                const box = (q) => { const r = document.querySelector(q).getBoundingClientRect();
                                     return [r.left, r.right]; };
                const sc = document.querySelector('.scroll');
                return { left: s.left, right: s.right, scrolls: sc.scrollWidth > sc.clientWidth + 50,
                         name: box('tbody tr th.name'), now: box('thead th.now'),
                         first: box('thead th[data-week]') }; })()"#,
        )
    };
    let g = geometry(&mut b);
    assert_eq!(g["scrolls"], true, "{g}");
    let f = |v: &serde_json::Value| v.as_f64().unwrap();
    let (left, right) = (f(&g["left"]), f(&g["right"]));
    // It opens on the recent weeks: the current week is in view, the oldest is not.
    assert!(
        f(&g["now"][0]) >= left && f(&g["now"][1]) <= right + 1.0,
        "{g}"
    );
    assert!(
        f(&g["first"][1]) <= left + f(&g["name"][1]) - f(&g["name"][0]) + 1.0,
        "{g}"
    );
    // The names stay at the left edge.
    // (4px of border-spacing separate the table from the scroller's edge.)
    assert!((f(&g["name"][0]) - left).abs() <= 5.0, "{g}");
    let shot = dir.join("dashboard-ja-phone.png");
    b.screenshot(&shot);
    println!("dashboard phone screenshot: {}", shot.display());

    // Scrolled back to the oldest week, the names are still there.
    b.eval("document.querySelector('.scroll').scrollLeft = -1e6");
    let g = geometry(&mut b);
    assert!((f(&g["name"][0]) - left).abs() <= 5.0, "sticky names: {g}");
    assert!(
        f(&g["first"][0]) >= f(&g["name"][1]) - 1.0,
        "oldest week in view: {g}"
    );
    assert!(f(&g["now"][0]) > right, "current week scrolled away: {g}");

    // Light and dark follow prefers-color-scheme.
    let background = |b: &mut Devtools| b.eval("getComputedStyle(document.body).backgroundColor");
    assert_eq!(background(&mut b), "rgb(244, 245, 247)");
    b.call(
        "Emulation.setEmulatedMedia",
        serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
    );
    assert_eq!(background(&mut b), "rgb(15, 18, 23)");
    b.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
    );
    let shot = dir.join("dashboard-ja-dark.png");
    b.screenshot(&shot);
    assert_eq!(png_size(&std::fs::read(&shot).unwrap()), (1280, 900));
    println!("dashboard dark screenshot: {}", shot.display());
}

/// Kills the daemon when the test ends, whatever happens.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_daemon_serves_the_same_dashboard_at_its_root_to_headless_chromium() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ex = Example::new(|t, i| {
        let t = t.replace(
            "listen = \"127.0.0.1:8737\"",
            &format!("listen = \"127.0.0.1:{port}\""),
        );
        assert!(t.contains(&format!("127.0.0.1:{port}")));
        (t, i)
    });
    let (report, series) = example_docs(&ex);
    let daemon = Process::new(env!("CARGO_BIN_EXE_cadenced"))
        .arg("--config")
        .arg(&ex.config)
        .arg("--state-dir")
        .arg(&ex.state)
        .args(["--now", NOW, "run"])
        .env_remove("NOTIFY_SOCKET")
        .env_remove("JOURNAL_STREAM")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _daemon = Running(daemon);
    // Up once its listener answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let out = browser_url(
        profile.path(),
        &["--dump-dom"],
        &format!("http://127.0.0.1:{port}/"),
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    assert!(
        dom.contains("<table class=\"heatmap\""),
        "the browser rendered the daemon's page: {dom:.300}"
    );
    check_page(&dom, &report, &series, "en");
}
