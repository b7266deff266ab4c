//! A feed read over real HTTP on loopback: conditional requests (an unchanged feed costs one
//! 304), retries of transient failures, and errors that keep the previous state.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{Env, fixture, stderr, stdout};

/// One scripted response: status line, extra headers, body.
#[derive(Clone)]
struct Reply {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A tiny HTTP/1.1 server on 127.0.0.1 that answers like a static file server with ETags:
/// 304 when `If-None-Match` matches the current ETag, else the scripted reply. Records every
/// request's head.
struct FeedServer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    script: Arc<Mutex<Vec<Reply>>>,
}

impl FeedServer {
    fn start(script: Vec<Reply>) -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/private-s3cr3t/team.ics",
            listener.local_addr().unwrap()
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        let (reqs, scr) = (Arc::clone(&requests), Arc::clone(&script));
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                reqs.lock().unwrap().push(head.clone());
                let reply = {
                    let mut s = scr.lock().unwrap();
                    if s.len() > 1 {
                        s.remove(0)
                    } else {
                        s[0].clone()
                    }
                };
                let etag = reply
                    .headers
                    .iter()
                    .find(|(k, _)| k == "ETag")
                    .map(|(_, v)| v.clone());
                let not_modified = etag.as_ref().is_some_and(|e| {
                    head.lines().any(|l| {
                        l.to_ascii_lowercase().starts_with("if-none-match:")
                            && l.contains(e.as_str())
                    })
                });
                let (status, body): (&str, &[u8]) = if not_modified {
                    ("304 Not Modified", b"")
                } else {
                    (reply.status, &reply.body)
                };
                let mut resp = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                    body.len()
                );
                for (k, v) in &reply.headers {
                    resp.push_str(&format!("{k}: {v}\r\n"));
                }
                resp.push_str("\r\n");
                let _ = stream.write_all(resp.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        FeedServer {
            url,
            requests,
            script,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn ok_feed(etag: &str) -> Reply {
    Reply {
        status: "200 OK",
        headers: vec![
            ("ETag".into(), etag.into()),
            (
                "Last-Modified".into(),
                "Tue, 07 Jan 2025 10:00:00 GMT".into(),
            ),
            ("Content-Type".into(), "text/calendar; charset=utf-8".into()),
        ],
        body: std::fs::read(fixture("overrides.ics")).unwrap(),
    }
}

fn env_for(url: &str) -> Env {
    Env::with_config_text(&format!(
        "[manager]\nemail = \"mika@example.com\"\n\n[[accounts]]\nname = \"feed\"\nprovider = \"ics\"\nurl = \"{url}\"\n"
    ))
}

#[test]
fn an_unchanged_feed_costs_one_304() {
    let server = FeedServer::start(vec![ok_feed("\"v1\"")]);
    let env = env_for(&server.url);
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 events stored") || stdout(&out).contains("events stored"),
        "{}",
        stdout(&out)
    );

    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("unchanged"), "{}", stdout(&out));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "one request per sync: {reqs:?}");
    let second = reqs[1].to_ascii_lowercase();
    assert!(second.contains("if-none-match: \"v1\""), "{second}");
    assert!(
        second.contains("if-modified-since: tue, 07 jan 2025 10:00:00 gmt"),
        "{second}"
    );
    assert_eq!(env.events("2025-01-01", "2026-01-01").len(), 3);

    // --full drops the validators and reads everything again.
    let out = env.run(&["sync", "--full"]);
    assert!(out.status.success());
    assert!(
        !server.requests()[2]
            .to_ascii_lowercase()
            .contains("if-none-match")
    );
}

#[test]
fn transient_failures_are_retried() {
    let unavailable = Reply {
        status: "503 Service Unavailable",
        headers: vec![("Retry-After".into(), "0".into())],
        body: b"busy".to_vec(),
    };
    let server = FeedServer::start(vec![unavailable, ok_feed("\"v1\"")]);
    let env = env_for(&server.url);
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_client_error_is_reported_without_the_secret_and_keeps_the_state() {
    let server = FeedServer::start(vec![ok_feed("\"v1\"")]);
    let env = env_for(&server.url);
    assert!(env.run(&["sync"]).status.success());
    *server.script.lock().unwrap() = vec![Reply {
        status: "404 Not Found",
        headers: vec![],
        body: b"gone".to_vec(),
    }];
    let out = env.run(&["sync", "--full"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("404") && err.contains("team.ics"), "{err}");
    assert!(
        !err.contains("s3cr3t"),
        "the secret part of the URL must not be shown: {err}"
    );
    assert_eq!(server.requests().len(), 2, "a 404 is not retried");
    assert_eq!(env.events("2025-01-01", "2026-01-01").len(), 3);
}

/// A gzip stream that inflates to `size` zero bytes, built by hand so that the test does not
/// compress hundreds of MiB: one fixed-Huffman deflate block of a literal zero followed by
/// (length 258, distance 1) copies, 13 bits per 258 bytes. The trailer's CRC is left zero: a
/// client that reads that far has already failed the test.
fn gzip_bomb(size: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `len` bits of `v`, least significant first (deflate's bit order for header fields).
        fn put(&mut self, v: u64, len: u32) {
            self.acc |= v << self.n;
            self.n += len;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code of `len` bits, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
            self.put(reversed, len);
        }
    }
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30, 8); // literal 0
    let mut left = size - 1;
    while left >= 258 {
        b.code(0b1100_0101, 8); // length code 285: 258 bytes
        b.code(0, 5); // distance code 0: distance 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block (code 256)
    b.put(0, 7); // pad to a byte
    b.out.extend_from_slice(&[0, 0, 0, 0]); // CRC (never checked: see above)
    b.out
        .extend_from_slice(&((size & 0xffff_ffff) as u32).to_le_bytes());
    b.out
}

#[test]
fn a_gzip_bomb_is_cut_off_and_the_stored_feed_kept() {
    let server = FeedServer::start(vec![ok_feed("\"v1\"")]);
    let env = env_for(&server.url);
    assert!(env.run(&["sync"]).status.success());
    // 1.7 MB on the wire, 256 MiB inflated: four times what cadenced reads.
    let bomb = gzip_bomb(256 * 1024 * 1024);
    assert!(bomb.len() < 2 * 1024 * 1024);
    *server.script.lock().unwrap() = vec![Reply {
        status: "200 OK",
        headers: vec![
            ("Content-Encoding".into(), "gzip".into()),
            ("Content-Type".into(), "text/calendar".into()),
        ],
        body: bomb,
    }];
    let (out, peak_kib) = common::run_limited(&env.cmd(&["sync", "--full"]), 1024);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("larger than 64 MiB (after decompression)"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
    assert!(
        peak_kib < 200 * 1024,
        "the body is cut at 64 MiB: peak {peak_kib} KiB"
    );
    assert_eq!(env.events("2025-01-01", "2026-01-01").len(), 3);
}

#[test]
fn a_redirect_to_another_host_gets_no_referer_and_no_secret() {
    let target = FeedServer::start(vec![ok_feed("\"v1\"")]);
    let origin = FeedServer::start(vec![Reply {
        status: "302 Found",
        headers: vec![(
            "Location".into(),
            target.url.replace("private-s3cr3t", "public"),
        )],
        body: Vec::new(),
    }]);
    let env = env_for(&origin.url);
    let out = env.run(&["sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.events("2025-01-01", "2026-01-01").len(), 3);
    let seen = target.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let head = seen[0].to_ascii_lowercase();
    assert!(!head.contains("referer"), "{head}");
    assert!(!head.contains("s3cr3t"), "{head}");
}
