//! A small SMTP server over real TCP for the tests (RFC 5321 subset: EHLO/HELO, AUTH PLAIN
//! and LOGIN, MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP, QUIT). It records every
//! message with its envelope, and can refuse the next connections with `421` (a server that is
//! down for a while).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

#[derive(Debug, Clone, Default)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// `user:password` when the client authenticated.
    pub auth: Option<String>,
    /// The message as sent after DATA (CRLF line ends, dots unstuffed).
    pub data: Vec<u8>,
}

pub struct SmtpServer {
    pub port: u16,
    pub messages: Arc<Mutex<Vec<Received>>>,
    /// Connections still to refuse with 421.
    pub refuse: Arc<AtomicUsize>,
    /// Connections accepted (refused ones included).
    pub connections: Arc<AtomicUsize>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let refuse = Arc::new(AtomicUsize::new(0));
        let connections = Arc::new(AtomicUsize::new(0));
        let (m, r, c) = (
            Arc::clone(&messages),
            Arc::clone(&refuse),
            Arc::clone(&connections),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                c.fetch_add(1, Ordering::SeqCst);
                let refuse_this = r
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    let _ = session(stream, refuse_this, &m);
                });
            }
        });
        SmtpServer {
            port,
            messages,
            refuse,
            connections,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.messages.lock().unwrap().clone()
    }
}

fn session(
    stream: TcpStream,
    refuse: bool,
    messages: &Mutex<Vec<Received>>,
) -> std::io::Result<()> {
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    if refuse {
        out.write_all(b"421 4.3.2 test server busy, try again later\r\n")?;
        return Ok(());
    }
    out.write_all(b"220 localhost ESMTP cadenced-test\r\n")?;
    let mut current = Received::default();
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") {
            out.write_all(
                b"250-localhost\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 OK\r\n",
            )?;
        } else if upper.starts_with("HELO") {
            out.write_all(b"250 localhost\r\n")?;
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd.split_whitespace().nth(2).map(str::to_string);
            let arg = match arg {
                Some(a) => a,
                None => {
                    out.write_all(b"334 \r\n")?;
                    let mut l = String::new();
                    reader.read_line(&mut l)?;
                    l.trim().to_string()
                }
            };
            let raw = base64::engine::general_purpose::STANDARD
                .decode(arg)
                .unwrap_or_default();
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            current.auth = Some(format!(
                "{}:{}",
                parts.get(1).cloned().unwrap_or_default(),
                parts.get(2).cloned().unwrap_or_default()
            ));
            out.write_all(b"235 2.7.0 Authentication successful\r\n")?;
        } else if upper.starts_with("AUTH LOGIN") {
            let b64 = base64::engine::general_purpose::STANDARD;
            out.write_all(b"334 VXNlcm5hbWU6\r\n")?;
            let mut u = String::new();
            reader.read_line(&mut u)?;
            out.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
            let mut p = String::new();
            reader.read_line(&mut p)?;
            let dec = |s: &str| {
                String::from_utf8(b64.decode(s.trim()).unwrap_or_default()).unwrap_or_default()
            };
            current.auth = Some(format!("{}:{}", dec(&u), dec(&p)));
            out.write_all(b"235 2.7.0 Authentication successful\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            current.mail_from = angle(&cmd);
            out.write_all(b"250 2.1.0 Ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            current.rcpt_to.push(angle(&cmd));
            out.write_all(b"250 2.1.5 Ok\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if reader.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" || l == b".\n" {
                    break;
                }
                let l = if l.starts_with(b"..") {
                    &l[1..]
                } else {
                    &l[..]
                };
                data.extend_from_slice(l);
            }
            current.data = data;
            let n = {
                let mut all = messages.lock().unwrap();
                all.push(std::mem::take(&mut current));
                all.len()
            };
            out.write_all(format!("250 2.0.0 Ok: queued as TEST{n}\r\n").as_bytes())?;
        } else if upper == "RSET" {
            current = Received::default();
            out.write_all(b"250 2.0.0 Ok\r\n")?;
        } else if upper == "NOOP" {
            out.write_all(b"250 2.0.0 Ok\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 Bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"502 5.5.2 Command not recognized\r\n")?;
        }
    }
}

/// The address between `<` and `>` of a MAIL/RCPT command.
fn angle(cmd: &str) -> String {
    let start = cmd.find('<').map_or(0, |i| i + 1);
    let end = cmd[start..].find('>').map_or(cmd.len(), |i| start + i);
    cmd[start..end].to_string()
}
