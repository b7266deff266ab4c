//! Text shown to a person (terminal output, error sentences, log lines): control characters
//! from calendars and feeds are made visible instead of acting on the terminal.
//!
//! A title or a feed is written by someone else; an escape sequence in it could set the window
//! title, write the clipboard or hide text. Every human-facing output goes through [`escape`]
//! (or [`escape_text`] for whole lines of output): C0 controls (tab and newline included), DEL,
//! C1 controls and the Unicode bidirectional controls (which reorder what a line appears to
//! say) become `\u{…}` escapes (ESC as `\e`). JSON output does not use it (serde escapes).

use std::borrow::Cow;
use std::fmt::Write;

/// Characters that act on a terminal or on the order text is shown in.
fn is_dangerous(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || matches!(
            c,
            '\u{061C}' // Arabic letter mark
                | '\u{200E}'..='\u{200F}' // LRM, RLM
                | '\u{202A}'..='\u{202E}' // LRE, RLE, PDF, LRO, RLO
                | '\u{2066}'..='\u{2069}' // LRI, RLI, FSI, PDI
        )
}

fn push_escaped(out: &mut String, c: char) {
    if c == '\u{1b}' {
        out.push_str("\\e");
    } else {
        let _ = write!(out, "\\u{{{:x}}}", c as u32);
    }
}

fn escape_with(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_dangerous(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_dangerous(c) && !keep(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// One value (a title, a name, an error sentence): every control character escaped.
pub fn escape(s: &str) -> Cow<'_, str> {
    escape_with(s, |_| false)
}

/// Lines of output that cadenced assembled: line breaks kept, every other control escaped.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    escape_with(s, |c| c == '\n')
}

/// A formatted log line: its final newline kept, and ESC kept when `colour` (the log
/// formatter's own colours; it already writes an ESC inside a logged value as `\x1b`).
pub fn escape_log_line(s: &str, colour: bool) -> Cow<'_, str> {
    let body = s.strip_suffix('\n').unwrap_or(s);
    let escaped = escape_with(body, |c| colour && c == '\u{1b}');
    match escaped {
        Cow::Borrowed(_) => Cow::Borrowed(s),
        Cow::Owned(mut o) => {
            if body.len() != s.len() {
                o.push('\n');
            }
            Cow::Owned(o)
        }
    }
}

/// The log writer of the text format: each formatted line goes through [`escape_log_line`].
#[derive(Clone, Copy)]
pub struct EscapingStderr {
    pub colour: bool,
}

impl std::io::Write for EscapingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(escape_log_line(&text, self.colour).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for EscapingStderr {
    type Writer = EscapingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        *self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_are_made_visible() {
        assert_eq!(escape("plain 1on1 ✓"), "plain 1on1 ✓");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("\u{1b}]0;owned\u{7}x\u{1b}[2J"),
            "\\e]0;owned\\u{7}x\\e[2J"
        );
        assert_eq!(escape("a\u{9b}31mb\u{7f}"), "a\\u{9b}31mb\\u{7f}");
        assert_eq!(escape("a\u{202e}cod.exe"), "a\\u{202e}cod.exe");
        assert_eq!(escape("two\nlines\r"), "two\\u{a}lines\\u{d}");
        assert_eq!(escape_text("two\nlines\r\n"), "two\nlines\\u{d}\n");
        assert_eq!(escape_log_line("x\u{1b}[1m\n", true), "x\u{1b}[1m\n");
        assert_eq!(
            escape_log_line("x\u{1b}[1m\ny\n", false),
            "x\\e[1m\\u{a}y\n"
        );
    }
}
