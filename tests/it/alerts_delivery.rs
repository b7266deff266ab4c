//! Alert delivery end to end with the real binary: a real SMTP server over TCP
//! (`common/smtp.rs`), a real HTTP webhook receiver (`common/webhook.rs`, hyper) and a real
//! command, on the shipped example calendar. Covers one message per channel per cycle, nothing
//! twice, acknowledged alerts never sent, a channel that is down getting its message later,
//! retries within a cycle, a crash between a send and its commit, digests across a DST change
//! and `alerts test`.

use crate::common;
use testkit::smtp;
use testkit::webhook;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use common::{stderr, stdout};
use smtp::SmtpServer;
use webhook::WebhookServer;

const NOW: &str = "2026-11-24T09:00:00+09:00";

/// The (report, kind) pairs docs/cadence-rules.md prescribes for the example at NOW (the golden report).
fn expected_alerts() -> BTreeSet<(String, String)> {
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/example-report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    golden["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["report"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
    config: PathBuf,
    state: PathBuf,
}

impl Setup {
    /// The example config and calendar, with `[alerts]` replaced by `alerts` (its `channels`
    /// and `digest` lines) and `sections` appended.
    fn new(channels: &str, digest: &str, sections: &str, edit: impl Fn(String) -> String) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let text = std::fs::read_to_string(root.join("example.toml")).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("channels = ") {
                out.push_str(&format!("channels = {channels}\n"));
            } else if line.starts_with("digest = ") {
                out.push_str(&format!("digest = \"{digest}\"\n"));
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push_str(sections);
        let out = edit(out);
        let config = dir.path().join("config.toml");
        std::fs::write(&config, out).unwrap();
        std::fs::copy(root.join("example.ics"), dir.path().join("example.ics")).unwrap();
        let state = dir.path().join("state");
        Setup { dir, config, state }
    }

    fn run(&self, now: &str, args: &[&str]) -> Output {
        Command::cargo_bin("cadenced")
            .unwrap()
            .arg("--config")
            .arg(&self.config)
            .arg("--state-dir")
            .arg(&self.state)
            .arg("--now")
            .arg(now)
            .args(args)
            .env("NO_COLOR", "1")
            .env("TEST_SMTP_PASSWORD", "s3cret-pw")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    fn run_ok(&self, now: &str, args: &[&str]) -> Output {
        let out = self.run(now, args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}{}",
            stdout(&out),
            stderr(&out)
        );
        out
    }

    /// The command channel's script: stores each stdin in `cmd/`, answers one line.
    fn command_section(&self, exit: i32) -> String {
        let cmd_dir = self.dir.path().join("cmd");
        std::fs::create_dir_all(&cmd_dir).unwrap();
        let script = self.dir.path().join("notify.sh");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nf=$(mktemp \"{}/msg.XXXXXX\")\ncat > \"$f\"\necho \"$CADENCED_IDEMPOTENCY_KEY\" > \"$f.key\"\necho \"accepted $(wc -c < \"$f\") bytes\"\nexit {exit}\n",
                cmd_dir.display()
            ),
        )
        .unwrap();
        format!(
            "\n[alerts.command]\nargv = [\"/bin/sh\", \"{}\"]\ntimeout = \"20s\"\n",
            script.display()
        )
    }

    /// The JSON documents the command received.
    fn command_messages(&self) -> Vec<serde_json::Value> {
        let dir = self.dir.path().join("cmd");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map(|r| r.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_none_or(|e| e != "key"));
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
            .collect()
    }
}

fn email_section(port: u16, extra: &str) -> String {
    format!(
        "\n[alerts.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {port}\ntls = \"none\"\nfrom = \"cadenced@example.com\"\nto = [\"mika@example.com\", \"assistant@example.com\"]\nreply_to = \"mika+reply@example.com\"\ntimeout = \"10s\"\n{extra}"
    )
}

fn webhook_section(url: &str, format: &str) -> String {
    format!("\n[alerts.webhook]\nurl = \"{url}\"\nformat = \"{format}\"\ntimeout = \"5s\"\n")
}

/// (report, kind) of a JSON payload's alerts.
fn pairs(payload: &serde_json::Value) -> BTreeSet<(String, String)> {
    payload["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["report"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn one_message_per_channel_then_nothing_and_acknowledged_alerts_stay_quiet() {
    let smtp = SmtpServer::start();
    let hook = WebhookServer::start("/hooks/T000/B000/s3cr3tt0ken");
    let mut sections = email_section(smtp.port, "");
    sections.push_str(&webhook_section(&hook.url, "json"));
    let s = Setup::new(
        "[\"log\", \"email\", \"webhook\", \"command\"]",
        "immediate",
        &sections,
        |t| t,
    );
    let text = std::fs::read_to_string(&s.config).unwrap() + &s.command_section(0);
    std::fs::write(&s.config, text).unwrap();

    let out = s.run_ok(NOW, &["run", "--once"]);
    assert!(
        stdout(&out).contains("4 messages delivered"),
        "{}",
        stdout(&out)
    );
    let expected = expected_alerts();

    // E-mail: one message, both parts, the headers.
    let mails = smtp.received();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(m.mail_from, "cadenced@example.com");
    assert_eq!(m.rcpt_to, ["mika@example.com", "assistant@example.com"]);
    let parsed = mailparse::parse_mail(&m.data).unwrap();
    let h = &parsed.headers;
    use mailparse::MailHeaderMap;
    let subject = h.get_first_value("Subject").unwrap();
    assert_eq!(
        subject,
        "6 1on1s need attention: Alice (skipped Oct 20), Bob (47 days, series ended Oct 8, skipped Sep 10, uneven), \
         Chen Wei (series ends Dec 7, skipped Sep 21), Erin (skipped Oct 2, uneven), Fatima (no 1on1), 1 more"
    );
    assert!(
        h.get_first_value("From")
            .unwrap()
            .contains("cadenced@example.com")
    );
    let to = h.get_first_value("To").unwrap();
    assert!(
        to.contains("mika@example.com") && to.contains("assistant@example.com"),
        "{to}"
    );
    assert_eq!(
        h.get_first_value("Reply-To").unwrap(),
        "mika+reply@example.com"
    );
    let message_id = h.get_first_value("Message-ID").unwrap();
    assert!(
        message_id.starts_with("<cadenced-") && message_id.contains("-email@"),
        "{message_id}"
    );
    // The feed account cannot create events: the make-ups proposed for Bob's gap and Fatima's
    // missing 1on1 travel as iCalendar files after the text and HTML parts (issue 17).
    assert_eq!(parsed.ctype.mimetype, "multipart/mixed");
    assert_eq!(parsed.subparts.len(), 3);
    let alt = &parsed.subparts[0];
    assert_eq!(alt.ctype.mimetype, "multipart/alternative");
    assert_eq!(alt.subparts.len(), 2);
    assert_eq!(alt.subparts[0].ctype.mimetype, "text/plain");
    assert_eq!(alt.subparts[1].ctype.mimetype, "text/html");
    let plain = alt.subparts[0].get_body().unwrap();
    let html = alt.subparts[1].get_body().unwrap();
    for (part, who) in parsed.subparts[1..].iter().zip(["bob", "fatima"]) {
        assert_eq!(part.ctype.mimetype, "text/calendar");
        let ics = part.get_body().unwrap();
        assert!(
            ics.contains("BEGIN:VEVENT") && ics.contains("METHOD:PUBLISH"),
            "{ics}"
        );
        assert!(
            ics.contains(&format!("ATTENDEE:mailto:{who}@example.com")),
            "{ics}"
        );
        assert!(
            part.get_content_disposition()
                .params
                .get("filename")
                .is_some_and(|f| f.starts_with("make-up-") && f.ends_with(".ics"))
        );
    }
    // Bob's usual Thursday 15:00 on Nov 26 is taken by the biweekly Atlas working session.
    assert!(
        plain.contains("make-up slots: [1] Thu Dec 3 15:00–15:30"),
        "{plain}"
    );
    // The example's agendas are local files without link_base: nothing goes into the invites,
    // so the alert names the agenda prepared in the same cycle (docs/design.md, Writing to calendars).
    for part in [&plain, &html] {
        assert!(
            part.contains("Agenda: ") && part.contains("alice@example.com.md"),
            "the message names Alice's agenda:\n{part}"
        );
    }
    for needle in [
        "No 1on1 with Bob for 47 days (expected every 21).",
        "The recurring 1on1 with Chen Wei ends on Dec 7 and nothing follows: extend it.",
        "No 1on1 with Fatima since Aug 20 and none scheduled: set up a recurring 1on1.",
        "6316f53d6e74",
    ] {
        assert!(
            plain.contains(needle),
            "text part lacks {needle:?}:\n{plain}"
        );
        assert!(html.contains(needle), "html part lacks {needle:?}:\n{html}");
    }
    assert!(plain.contains("(since Oct 8)"), "{plain}");
    assert!(html.contains("<h3>Bob"), "{html}");

    // Webhook: one POST, the versioned payload, the idempotency key.
    let hits = hook.hits();
    assert_eq!(hits.len(), 1);
    let body = &hits[0].body;
    assert_eq!(hits[0].path, "/hooks/T000/B000/s3cr3tt0ken");
    assert_eq!(body["version"], 1);
    assert_eq!(body["kind"], "alerts");
    let key = hits[0].header("idempotency-key").unwrap();
    assert_eq!(body["idempotency_key"], key);
    assert!(key.ends_with("-webhook"), "{key}");
    assert_eq!(pairs(body), expected);
    assert_eq!(body["subject"], subject);
    let bob_gap = body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "gap")
        .unwrap();
    assert_eq!(bob_gap["name"], "Bob");
    assert_eq!(bob_gap["since"], "2026-10-08T06:00:00Z");
    assert_eq!(bob_gap["id"], "6316f53d6e74");
    // The make-up slots proposed for the gap (issue 17), as in `report --json`.
    let slots = bob_gap["proposals"].as_array().unwrap();
    assert_eq!(slots.len(), 3);
    // (Thu Nov 26 15:00, Bob's usual slot, is taken by the biweekly Atlas working session.)
    assert_eq!(slots[0]["start"], "2026-12-03T06:00:00Z");
    assert_eq!(slots[0]["end"], "2026-12-03T06:30:00Z");
    assert_eq!(slots[0]["local"], "Thu Dec 3 15:00–15:30");
    assert!(
        bob_gap["makeup"]
            .as_str()
            .unwrap()
            .contains("your calendar only")
    );
    assert!(
        bob_gap["invite"]
            .as_str()
            .unwrap()
            .contains("DTSTART:20261203T060000Z")
    );
    // Skips that a held session followed need no make-up.
    assert!(
        body["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["kind"] == "skipped")
            .all(|a| a.get("proposals").is_none())
    );

    // Command: one run, the same payload on stdin.
    let cmds = s.command_messages();
    assert_eq!(cmds.len(), 1);
    assert_eq!(pairs(&cmds[0]), expected);
    assert!(
        cmds[0]["idempotency_key"]
            .as_str()
            .unwrap()
            .ends_with("-command")
    );

    // Log: one structured line per alert.
    let err = stderr(&out);
    assert_eq!(err.matches("alert: ").count(), expected.len(), "{err}");
    assert!(err.contains("alert_id=6316f53d6e74"), "{err}");
    assert!(!err.contains("s3cr3tt0ken") && !stdout(&out).contains("s3cr3tt0ken"));

    // A second cycle delivers nothing.
    let out = s.run_ok(NOW, &["run", "--once"]);
    assert!(!stdout(&out).contains("delivered"), "{}", stdout(&out));
    assert!(!stderr(&out).contains("alert: "));
    assert_eq!(
        (
            smtp.received().len(),
            hook.hits().len(),
            s.command_messages().len()
        ),
        (1, 1, 1)
    );

    // `alerts --json` shows the lifecycle's delivered step: every channel carried Bob's gap.
    let listed: serde_json::Value =
        serde_json::from_slice(&s.run_ok(NOW, &["alerts", "--json"]).stdout).unwrap();
    let gap = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == "6316f53d6e74")
        .unwrap();
    assert_eq!(
        gap["delivered_on"],
        serde_json::json!(["command", "email", "log", "webhook"])
    );

    // Acknowledge an alert, run a day later: still nothing.
    s.run_ok(NOW, &["alerts", "ack", "6316f53d6e74"]);
    s.run_ok("2026-11-25T09:00:00+09:00", &["run", "--once"]);
    assert_eq!(
        (
            smtp.received().len(),
            hook.hits().len(),
            s.command_messages().len()
        ),
        (1, 1, 1)
    );
}

#[test]
fn a_channel_down_for_the_first_run_gets_the_message_on_a_later_run() {
    let smtp = SmtpServer::start();
    let hook = WebhookServer::start("/hook");
    hook.answer(&[500]);
    // Every connection of the first run is refused: 3 attempts.
    smtp.refuse.store(3, std::sync::atomic::Ordering::SeqCst);
    let mut sections = email_section(smtp.port, "");
    sections.push_str(&webhook_section(&hook.url, "json"));
    let s = Setup::new("[\"email\", \"webhook\"]", "immediate", &sections, |t| t);

    let out = s.run(NOW, &["run", "--once"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let err = stderr(&out);
    assert!(err.contains("webhook") && err.contains("HTTP 500"), "{err}");
    assert!(err.contains("email") && err.contains("421"), "{err}");
    assert!(smtp.received().is_empty());
    let failed_hits = hook.hits();
    assert_eq!(failed_hits.len(), 3, "three attempts in the cycle");

    // The SMTP server is back, the webhook still fails: the e-mail goes out.
    let out = s.run(NOW, &["run", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("1 message delivered"),
        "{}",
        stdout(&out)
    );
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(hook.hits().len(), 6);

    // The webhook is back: it gets its message once, with the same key; no second e-mail.
    hook.answer(&[200]);
    let out = s.run_ok(NOW, &["run", "--once"]);
    assert!(
        stdout(&out).contains("1 message delivered"),
        "{}",
        stdout(&out)
    );
    assert_eq!(smtp.received().len(), 1);
    let hits = hook.hits();
    assert_eq!(hits.len(), 7);
    let keys: BTreeSet<&str> = hits
        .iter()
        .map(|h| h.header("idempotency-key").unwrap())
        .collect();
    assert_eq!(keys.len(), 1, "every attempt carries the same key");
    assert_eq!(pairs(&hits[6].body), expected_alerts());

    s.run_ok(NOW, &["run", "--once"]);
    assert_eq!((smtp.received().len(), hook.hits().len()), (1, 7));
}

#[test]
fn retries_within_a_cycle_deliver_exactly_once_and_record_each_attempt() {
    let hook = WebhookServer::start("/hook");
    hook.answer(&[500, 503, 200]);
    let s = Setup::new(
        "[\"webhook\"]",
        "immediate",
        &webhook_section(&hook.url, "json"),
        |t| t,
    );
    s.run_ok(NOW, &["run", "--once"]);
    let hits = hook.hits();
    assert_eq!(hits.len(), 3);
    assert!(
        hits.windows(2)
            .all(|w| w[0].header("idempotency-key") == w[1].header("idempotency-key"))
    );
    assert!(hits.windows(2).all(|w| w[0].body == w[1].body));

    let store = cadenced::store::Store::open_in(&s.state).unwrap();
    let rows = store.deliveries().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("delivered", 3));
    assert_eq!(rows[0].alerts.len(), expected_alerts().len());
    let attempts = store.delivery_attempts(rows[0].id).unwrap();
    let outcome: Vec<(Option<bool>, bool)> = attempts
        .iter()
        .map(|a| (a.ok, a.detail.as_deref().unwrap_or("").contains("HTTP 50")))
        .collect();
    assert_eq!(
        outcome,
        [
            (Some(false), true),
            (Some(false), true),
            (Some(true), false)
        ]
    );
    drop(store);

    s.run_ok(NOW, &["run", "--once"]);
    assert_eq!(hook.hits().len(), 3);
}

#[test]
fn a_crash_between_send_and_commit_sends_one_duplicate_with_the_same_key() {
    let hook = WebhookServer::start("/hook");
    hook.answer(&[500]);
    let s = Setup::new(
        "[\"webhook\"]",
        "immediate",
        &webhook_section(&hook.url, "json"),
        |t| t,
    );
    // The first cycle leaves the row pending.
    assert_eq!(s.run(NOW, &["run", "--once"]).status.code(), Some(1));
    let before = hook.hits().len();
    hook.answer(&[200]);

    // A process that sends and stops before recording the outcome (the library's steps, as the
    // worker runs them, without the commit).
    let config = cadenced::config::load(&s.config).unwrap();
    let now: chrono::DateTime<chrono::Utc> = "2026-11-24T00:00:00Z".parse().unwrap();
    {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            use cadenced::store::Outbox;
            let store = cadenced::store::AsyncStore::new(
                cadenced::store::Store::open_in(&s.state).unwrap(),
            );
            let rows = store.pending_deliveries().await.unwrap();
            assert_eq!(rows.len(), 1);
            let id = rows[0].id;
            store.start_attempt(id, now).await.unwrap();
            let message = cadenced::alerts::outbox::prepare(&store, &rows[0], now)
                .await
                .unwrap()
                .unwrap();
            let client = reqwest::Client::new();
            let answer = cadenced::alerts::channels::send(
                cadenced::config::Channel::Webhook,
                &config,
                &client,
                &message,
            )
            .await
            .unwrap();
            assert!(answer.starts_with("HTTP 200"), "{answer}");
            // "Crash": the store is dropped without finish_attempt.
        });
    }
    assert_eq!(hook.hits().len(), before + 1);

    // After the restart the row is still pending: sent once more, with the same key.
    s.run_ok(NOW, &["run", "--once"]);
    let hits = hook.hits();
    assert_eq!(hits.len(), before + 2);
    let delivered = &hits[before..];
    assert_eq!(
        delivered[0].header("idempotency-key"),
        delivered[1].header("idempotency-key")
    );
    let store = cadenced::store::Store::open_in(&s.state).unwrap();
    let rows = store.deliveries().unwrap();
    assert_eq!(rows[0].state, "delivered");
    let attempts = store.delivery_attempts(rows[0].id).unwrap();
    assert!(
        attempts.iter().any(|a| a.ok.is_none()),
        "the interrupted attempt stays visible: {attempts:?}"
    );
    drop(store);
    s.run_ok(NOW, &["run", "--once"]);
    assert_eq!(hook.hits().len(), before + 2);
}

#[test]
fn a_pending_message_whose_alerts_were_acknowledged_is_dropped() {
    let hook = WebhookServer::start("/hook");
    hook.answer(&[500]);
    let s = Setup::new(
        "[\"webhook\"]",
        "immediate",
        &webhook_section(&hook.url, "json"),
        |t| t,
    );
    assert_eq!(s.run(NOW, &["run", "--once"]).status.code(), Some(1));
    let before = hook.hits().len();
    let ids: Vec<String> = {
        let out = s.run_ok(NOW, &["alerts", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let list = v
            .as_array()
            .cloned()
            .unwrap_or_else(|| v["alerts"].as_array().unwrap().clone());
        list.iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids.len(), expected_alerts().len());
    // All but Bob's gap acknowledged: the retried message carries only that one.
    for id in ids.iter().filter(|i| *i != "6316f53d6e74") {
        s.run_ok(NOW, &["alerts", "ack", id]);
    }
    hook.answer(&[200]);
    s.run_ok(NOW, &["run", "--once"]);
    let hits = hook.hits();
    assert_eq!(hits.len(), before + 1);
    let ids: Vec<&str> = hits[before].body["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["6316f53d6e74"]);
    assert_eq!(
        hits[before].body["subject"],
        "1 1on1 needs attention: Bob (47 days)"
    );

    // Down again; Bob's gap acknowledged too while the next message waits: nothing is sent.
    hook.answer(&[500]);
    s.run_ok(NOW, &["alerts", "ack", "6316f53d6e74"]);
    s.run_ok("2026-11-25T09:00:00+09:00", &["run", "--once"]);
    assert_eq!(hook.hits().len(), before + 1);
}

#[test]
fn digests_follow_the_managers_local_time_across_a_dst_change() {
    let hook = WebhookServer::start("/hook");
    let s = Setup::new(
        "[\"webhook\"]",
        "daily 09:00",
        &webhook_section(&hook.url, "json"),
        |t| t.replace("timezone = \"Asia/Tokyo\"", "timezone = \"Europe/Berlin\""),
    );
    let slots = |from: usize| -> Vec<String> {
        hook.hits()[from..]
            .iter()
            .map(|h| h.body["slot"].as_str().unwrap().to_string())
            .collect()
    };
    // Saturday 2026-10-24 09:30 CEST: the day's slot (07:00Z) is due.
    s.run_ok("2026-10-24T07:30:00Z", &["run", "--once"]);
    assert_eq!(slots(0), ["2026-10-24T07:00:00Z"]);
    let first = &hook.hits()[0].body;
    assert_eq!(first["kind"], "digest");
    assert_eq!(first["digest"], "daily 09:00");
    assert!(
        first["subject"]
            .as_str()
            .unwrap()
            .starts_with("Daily digest: ")
    );
    assert_eq!(first["cadence"].as_array().unwrap().len(), 7);
    assert!(!first["alerts"].as_array().unwrap().is_empty());
    // Later that day: nothing more.
    s.run_ok("2026-10-24T18:00:00Z", &["run", "--once"]);
    assert_eq!(hook.hits().len(), 1);
    // Sunday after the change to CET: 07:30Z is 08:30 local, not yet 09:00.
    s.run_ok("2026-10-25T07:30:00Z", &["run", "--once"]);
    assert_eq!(hook.hits().len(), 1);
    // 08:00Z is 09:00 CET.
    s.run_ok("2026-10-25T08:00:00Z", &["run", "--once"]);
    assert_eq!(slots(1), ["2026-10-25T08:00:00Z"]);
    // Down from Monday to Thursday afternoon: one digest, for Thursday.
    s.run_ok("2026-10-29T15:00:00Z", &["run", "--once"]);
    assert_eq!(slots(2), ["2026-10-29T08:00:00Z"]);
    s.run_ok("2026-10-29T15:05:00Z", &["run", "--once"]);
    assert_eq!(hook.hits().len(), 3);

    // Nothing to say: every alert acknowledged, so Friday's slot sends nothing.
    let out = s.run_ok("2026-10-29T15:05:00Z", &["alerts", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v
        .as_array()
        .cloned()
        .unwrap_or_else(|| v["alerts"].as_array().unwrap().clone());
    for a in list {
        s.run_ok(
            "2026-10-29T15:05:00Z",
            &["alerts", "ack", a["id"].as_str().unwrap()],
        );
    }
    s.run_ok("2026-10-30T08:00:00Z", &["run", "--once"]);
    assert_eq!(hook.hits().len(), 3);
}

#[test]
fn alerts_test_sends_a_sample_through_every_channel() {
    let smtp = SmtpServer::start();
    let slack = WebhookServer::start("/services/T1/B1/s3cr3t");
    let mut sections = email_section(
        smtp.port,
        "username = \"mika\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n",
    );
    sections.push_str(&webhook_section(&slack.url, "slack"));
    let s = Setup::new(
        "[\"log\", \"email\", \"webhook\", \"command\"]",
        "immediate",
        &sections,
        |t| t.replace("locale = \"en\"", "locale = \"ja\""),
    );
    let text = std::fs::read_to_string(&s.config).unwrap() + &s.command_section(0);
    std::fs::write(&s.config, text).unwrap();

    let out = s.run_ok(NOW, &["alerts", "test"]);
    let o = stdout(&out);
    assert!(o.contains("log: ok: logged 1 test alert"), "{o}");
    assert!(
        o.contains("email: ok: 250 2.0.0 Ok: queued as TEST1"),
        "{o}"
    );
    assert!(o.contains("webhook: ok: HTTP 200: ok"), "{o}");
    assert!(o.contains("command: ok: exit 0: accepted"), "{o}");
    assert!(!o.contains("s3cr3t") && !stderr(&out).contains("s3cr3t"));
    assert!(!o.contains("s3cret-pw") && !stderr(&out).contains("s3cret-pw"));

    // The e-mail authenticated with the password from the environment, in Japanese.
    let mails = smtp.received();
    assert_eq!(mails[0].auth.as_deref(), Some("mika:s3cret-pw"));
    let parsed = mailparse::parse_mail(&mails[0].data).unwrap();
    use mailparse::MailHeaderMap;
    assert_eq!(
        parsed.headers.get_first_value("Subject").unwrap(),
        "［テスト］1件の1on1に対応が必要です：Alice（23日）"
    );
    let plain = parsed.subparts[0].get_body().unwrap();
    assert!(
        plain.contains("Aliceさんとの1on1が23日間ありません（想定: 7日ごと）。"),
        "{plain}"
    );

    // Slack blocks.
    let hit = &slack.hits()[0];
    assert_eq!(hit.body["blocks"][0]["type"], "header");
    assert_eq!(hit.body["blocks"][1]["type"], "section");
    assert!(
        hit.body["blocks"][1]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*Alice*")
    );
    assert!(
        hit.header("idempotency-key")
            .unwrap()
            .starts_with("cadenced-test-")
    );

    // A channel that fails says so, and the command exits 1.
    slack.answer(&[404]);
    let out = s.run(NOW, &["alerts", "test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("webhook: failed: webhook http://127.0.0.1"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("did not go through: webhook"),
        "{}",
        stderr(&out)
    );
    assert!(!stdout(&out).contains("s3cr3t"));
}

#[test]
fn teams_gets_an_adaptive_card() {
    let teams = WebhookServer::start("/workflows/abc/triggers/manual/paths/invoke");
    let s = Setup::new(
        "[\"webhook\"]",
        "immediate",
        &webhook_section(&teams.url, "teams"),
        |t| t,
    );
    s.run_ok(NOW, &["run", "--once"]);
    let hits = teams.hits();
    assert_eq!(hits.len(), 1);
    let att = &hits[0].body["attachments"][0];
    assert_eq!(
        att["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(att["content"]["type"], "AdaptiveCard");
    let texts: Vec<&str> = att["content"]["body"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect();
    assert!(
        texts[0].starts_with("6 1on1s need attention: "),
        "{texts:?}"
    );
    assert!(texts.contains(&"Fatima"));
    assert!(
        texts
            .iter()
            .any(|t| t.contains("No 1on1 with Bob for 47 days"))
    );
}

#[test]
fn a_failing_or_hanging_command_is_a_failed_attempt_and_starttls_is_never_skipped() {
    let smtp = SmtpServer::start();
    // The test server offers no STARTTLS: a starttls channel must refuse to go on in clear.
    let sections = email_section(
        smtp.port,
        "username = \"mika\"\npassword_env = \"TEST_SMTP_PASSWORD\"\n",
    )
    .replace("tls = \"none\"", "tls = \"starttls\"");
    let s = Setup::new("[\"email\", \"command\"]", "immediate", &sections, |t| t);
    let script = s.dir.path().join("fail.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\ncat > /dev/null\necho 'no route to pager' >&2\nexit 3\n",
    )
    .unwrap();
    let text = std::fs::read_to_string(&s.config).unwrap()
        + &format!(
            "\n[alerts.command]\nargv = [\"/bin/sh\", \"{}\"]\n",
            script.display()
        );
    std::fs::write(&s.config, text).unwrap();
    let out = s.run(NOW, &["alerts", "test"]);
    assert_eq!(out.status.code(), Some(1));
    let o = stdout(&out);
    assert!(
        o.contains("command: failed: command /bin/sh: exit 3: no route to pager"),
        "{o}"
    );
    assert!(o.contains("email: failed: SMTP 127.0.0.1:"), "{o}");
    assert!(smtp.received().is_empty());
    assert!(!o.contains("s3cret-pw") && !stderr(&out).contains("s3cret-pw"));

    // A command that hangs is killed after its timeout.
    std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
    let text = std::fs::read_to_string(&s.config)
        .unwrap()
        .replace("\"email\", \"command\"", "\"command\"")
        + "timeout = \"1s\"\n";
    std::fs::write(&s.config, text).unwrap();
    let out = s.run(NOW, &["alerts", "test"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("command: failed: command /bin/sh: killed after 1s"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn new_channel_keys_are_checked_with_their_key_path() {
    let s = Setup::new(
        "[\"webhook\", \"email\"]",
        "immediate",
        "\n[alerts.webhook]\nurl = \"https://example.com/h\"\ntimeout = \"0s\"\n\n[alerts.email]\nsmtp_host = \"localhost\"\nfrom = \"a@example.com\"\nreply_to = \"not an address\"\n",
        |t| t,
    );
    let out = s.run(NOW, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let all = stdout(&out) + &stderr(&out);
    assert!(all.contains("alerts.webhook.timeout"), "{all}");
    assert!(all.contains("alerts.email.reply_to"), "{all}");
}

#[test]
fn a_resolved_notice_goes_where_the_alert_was_delivered_when_asked_for() {
    let hook = WebhookServer::start("/hook");
    let s = Setup::new(
        "[\"webhook\"]",
        "immediate",
        &webhook_section(&hook.url, "json"),
        |t| t.replace("notify_resolved = false", "notify_resolved = true"),
    );
    s.run_ok(NOW, &["run", "--once"]);
    assert_eq!(hook.hits().len(), 1);
    // Erin's uneven alert is acknowledged: its resolution stays quiet too.
    s.run_ok(NOW, &["alerts", "ack", "704a3c36e5b9"]);
    // Fatima and Erin leave the roster: their alerts resolve.
    let text = std::fs::read_to_string(&s.config).unwrap();
    let text = text
        .replace(
            "[[reports]]\nemail = \"fatima@example.com\"\nname = \"Fatima\"\n",
            "",
        )
        .replace(
            "[[reports]]\nemail = \"erin@example.com\"\nname = \"Erin\"\n",
            "",
        );
    std::fs::write(&s.config, text).unwrap();
    s.run_ok(NOW, &["run", "--once"]);
    let hits = hook.hits();
    assert_eq!(
        hits.len(),
        2,
        "{:?}",
        hits.iter().map(|h| &h.body["subject"]).collect::<Vec<_>>()
    );
    let body = &hits[1].body;
    assert_eq!(body["kind"], "resolved");
    assert_eq!(
        pairs(body),
        BTreeSet::from([
            ("erin@example.com".to_string(), "skipped".to_string()),
            ("fatima@example.com".to_string(), "no_series".to_string()),
        ])
    );
    // They left the roster, so their addresses stand for their names.
    assert_eq!(
        body["subject"],
        "2 alerts resolved: erin@example.com (skipped), fatima@example.com (no 1on1)"
    );
    let text = body["alerts"][1]["message"].as_str().unwrap();
    assert!(
        text.starts_with("No 1on1 with Fatima since Aug 20"),
        "{text}"
    );
    assert!(
        hits[1]
            .header("idempotency-key")
            .unwrap()
            .starts_with("cadenced-resolved-")
    );
    s.run_ok(NOW, &["run", "--once"]);
    assert_eq!(hook.hits().len(), 2);
}

#[test]
fn a_command_that_leaves_a_background_child_counts_as_delivered_once() {
    let s = Setup::new("[\"command\"]", "immediate", "", |t| t);
    let cmd_dir = s.dir.path().join("cmd");
    std::fs::create_dir_all(&cmd_dir).unwrap();
    let script = s.dir.path().join("notify.sh");
    // The notifier hands off to a helper that lives on in the background with stdout and
    // stderr still open, and exits 0 itself at once.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nf=$(mktemp \"{}/msg.XXXXXX\")\ncat > \"$f\"\nsleep 30 &\necho \"queued\"\nexit 0\n",
            cmd_dir.display()
        ),
    )
    .unwrap();
    let text = std::fs::read_to_string(&s.config).unwrap()
        + &format!(
            "\n[alerts.command]\nargv = [\"/bin/sh\", \"{}\"]\ntimeout = \"10s\"\n",
            script.display()
        );
    std::fs::write(&s.config, text).unwrap();
    let out = s.run_ok(NOW, &["run", "--once"]);
    assert!(
        stdout(&out).contains("1 message delivered"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(s.command_messages().len(), 1);
    let listed: serde_json::Value =
        serde_json::from_slice(&s.run_ok(NOW, &["alerts", "--json"]).stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["delivered_on"] == serde_json::json!(["command"])),
        "{listed:#}"
    );
    // Not pending: the next cycle sends nothing.
    let out = s.run_ok(NOW, &["run", "--once"]);
    assert!(!stdout(&out).contains("delivered"), "{}", stdout(&out));
    assert_eq!(s.command_messages().len(), 1);
    // And `alerts test` reports the program's own answer.
    let out = s.run_ok(NOW, &["alerts", "test"]);
    assert!(
        stdout(&out).contains("command: ok: exit 0: queued"),
        "{}",
        stdout(&out)
    );
}
