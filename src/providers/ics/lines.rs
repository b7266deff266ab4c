//! Content lines (RFC 5545 §3.1) and the component tree, with physical line numbers.
//!
//! A small tolerant reader of our own rather than the `icalendar` crate's parser: we need the
//! physical line of every component and property for error messages, and real feeds break the
//! grammar in ways a strict parser refuses (`END:VTOOD`, a lost `END:VEVENT`, bare LF or CR line
//! ends, a UTF-8 BOM, junk lines between components). Every such repair is reported as a note.

/// One parameter of a content line, e.g. `TZID=Europe/Berlin` or `MEMBER="a","b"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    /// Upper-cased.
    pub name: String,
    /// Values with quotes removed and RFC 6868 `^` escapes decoded.
    pub values: Vec<String>,
}

/// One unfolded content line: `NAME;PARAM=VALUE:value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentLine {
    /// Upper-cased.
    pub name: String,
    pub params: Vec<Param>,
    /// The raw value, escapes untouched.
    pub value: String,
    /// The physical line (1-based) where this content line begins.
    pub line: usize,
}

impl ContentLine {
    /// The first value of parameter `name` (case-insensitive), if present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.values.first())
            .map(String::as_str)
    }
}

/// A component (`BEGIN:X` … `END:X`) with its properties and sub-components.
#[derive(Debug, Clone, Default)]
pub(crate) struct Component {
    /// Upper-cased.
    pub name: String,
    /// The physical line of its `BEGIN`.
    pub line: usize,
    pub props: Vec<ContentLine>,
    pub children: Vec<Component>,
    /// Closed implicitly (its `END` was missing).
    pub unterminated: bool,
}

impl Component {
    fn new(name: String, line: usize) -> Self {
        Component {
            name,
            line,
            ..Component::default()
        }
    }

    /// The first property called `name`.
    pub fn first(&self, name: &str) -> Option<&ContentLine> {
        self.props.iter().find(|p| p.name == name)
    }

    /// Every property called `name`, in file order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a ContentLine> + 'a {
        self.props.iter().filter(move |p| p.name == name)
    }
}

/// A repair or an ignored line, at a physical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub line: usize,
    pub message: String,
}

/// What [`read_components`] found.
#[derive(Debug, Default)]
pub(crate) struct Document {
    /// Every top-level `VCALENDAR`, in file order.
    pub calendars: Vec<Component>,
    pub notes: Vec<Note>,
    /// The first non-blank logical line (line, text), for "this is not iCalendar" messages.
    pub first_line: Option<(usize, String)>,
    /// VEVENT, VTIMEZONE … found outside any VCALENDAR.
    pub stray: Vec<Component>,
    /// A top-level component still open at the end of the text: (name, BEGIN line).
    pub unterminated: Option<(String, usize)>,
}

/// Unfold physical lines into logical lines, each with the physical line where it begins.
///
/// Accepts CRLF, LF and (when the text has no LF at all) bare CR line ends; a line starting with a
/// space or a tab continues the previous one; blank lines are dropped.
pub(crate) fn unfold(text: &str) -> Vec<(usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let separator = if !text.contains('\n') && text.contains('\r') {
        '\r'
    } else {
        '\n'
    };
    let mut out: Vec<(usize, String)> = Vec::new();
    for (index, raw) in text.split(separator).enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let first = line.as_bytes()[0];
        if first == b' ' || first == b'\t' {
            if let Some((_, current)) = out.last_mut() {
                current.push_str(&line[1..]);
                continue;
            }
            if line.trim().is_empty() {
                continue;
            }
        }
        out.push((index + 1, line.to_string()));
    }
    out
}

/// Parse one logical line. The error says what is wrong, without the line number.
pub(crate) fn parse_content_line(text: &str, line: usize) -> Result<ContentLine, String> {
    let bytes = text.as_bytes();
    let name_end = text
        .find([';', ':'])
        .ok_or_else(|| "no `:` between name and value".to_string())?;
    let name = text[..name_end].trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(format!("`{}` is not a property name", truncate(name, 40)));
    }
    let mut params = Vec::new();
    let mut pos = name_end;
    while pos < bytes.len() && bytes[pos] == b';' {
        pos += 1;
        let rest = &text[pos..];
        let pname_len = rest.find(['=', ';', ':']).unwrap_or(rest.len());
        let pname = rest[..pname_len].trim().to_ascii_uppercase();
        pos += pname_len;
        let mut values = Vec::new();
        if pos < bytes.len() && bytes[pos] == b'=' {
            pos += 1;
            loop {
                if pos < bytes.len() && bytes[pos] == b'"' {
                    let close = text[pos + 1..]
                        .find('"')
                        .ok_or_else(|| format!("parameter {pname} has an unclosed quote"))?;
                    values.push(decode_caret(&text[pos + 1..pos + 1 + close]));
                    pos += close + 2;
                } else {
                    let rest = &text[pos..];
                    let len = rest.find([',', ';', ':']).unwrap_or(rest.len());
                    values.push(decode_caret(&rest[..len]));
                    pos += len;
                }
                if pos < bytes.len() && bytes[pos] == b',' {
                    pos += 1;
                    continue;
                }
                break;
            }
        }
        if !pname.is_empty() {
            params.push(Param {
                name: pname,
                values,
            });
        }
    }
    if pos >= bytes.len() || bytes[pos] != b':' {
        return Err(format!("property {name}: no `:` before the value"));
    }
    Ok(ContentLine {
        name: name.to_ascii_uppercase(),
        params,
        value: text[pos + 1..].to_string(),
        line,
    })
}

/// RFC 6868 parameter value escapes: `^n` newline, `^'` double quote, `^^` caret.
fn decode_caret(s: &str) -> String {
    if !s.contains('^') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '^' {
            match chars.peek() {
                Some('n') | Some('N') => {
                    out.push('\n');
                    chars.next();
                }
                Some('\'') => {
                    out.push('"');
                    chars.next();
                }
                Some('^') => {
                    out.push('^');
                    chars.next();
                }
                _ => out.push('^'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Unescape a TEXT value (RFC 5545 §3.3.11): `\n` `\N` newline, `\,` `\;` `\\`; any other
/// backslash pair keeps the second character.
pub(crate) fn unescape_text(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') | Some('N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

/// Components nested deeper than this (the VCALENDAR counts as one level) are skipped with their
/// content: real feeds need four (VCALENDAR › VEVENT › VALARM, VCALENDAR › VTIMEZONE › STANDARD),
/// and a deeper tree would only cost memory (and, dropped recursively, stack).
pub(crate) const MAX_DEPTH: usize = 8;

/// Components that sit directly in a VCALENDAR: a `BEGIN` of one of these while another is open
/// means the open one lost its `END`.
const CALENDAR_CHILDREN: &[&str] = &["VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY", "VTIMEZONE"];

/// Read the component tree of a whole feed, repairing what can be repaired.
pub(crate) fn read_components(text: &str) -> Document {
    let mut doc = Document::default();
    let mut stack: Vec<Component> = Vec::new();
    // Components below MAX_DEPTH are not built: `deep` counts the open ones, `deep_total` all of
    // them, `deep_first` is the line of the first.
    let (mut deep, mut deep_total, mut deep_first) = (0usize, 0usize, 0usize);
    for (line, logical) in unfold(text) {
        if doc.first_line.is_none() && !logical.trim().is_empty() {
            doc.first_line = Some((line, truncate(logical.trim(), 60)));
        }
        let prop = match parse_content_line(&logical, line) {
            Ok(prop) => prop,
            Err(_) if deep > 0 => continue,
            Err(why) => {
                let open = !stack.is_empty();
                match stack.last_mut().and_then(|top| top.props.last_mut()) {
                    // Not a content line right after a property: a fold that lost its leading
                    // space (seen in Confluence exports). Unfold it.
                    Some(prev) => {
                        prev.value.push_str(&logical);
                        doc.notes.push(Note {
                            line,
                            message: format!(
                                "not a content line ({why}); appended to {} at line {}",
                                prev.name, prev.line
                            ),
                        });
                    }
                    None if open => {
                        doc.notes.push(Note {
                            line,
                            message: format!("line ignored: {why}"),
                        });
                    }
                    None => {}
                }
                continue;
            }
        };
        match prop.name.as_str() {
            "BEGIN" => {
                let name = prop.value.trim().to_ascii_uppercase();
                let top_level = name == "VCALENDAR" || CALENDAR_CHILDREN.contains(&name.as_str());
                if deep > 0 && top_level {
                    // The skipped components lost their ENDs; this one starts afresh.
                    deep = 0;
                } else if deep > 0 || stack.len() >= MAX_DEPTH {
                    if deep_total == 0 {
                        deep_first = line;
                    }
                    deep += 1;
                    deep_total += 1;
                    continue;
                }
                if CALENDAR_CHILDREN.contains(&name.as_str()) {
                    // A calendar-level component inside another one: the other lost its END.
                    if let Some(depth) = stack
                        .iter()
                        .position(|c| CALENDAR_CHILDREN.contains(&c.name.as_str()))
                    {
                        close_to(&mut stack, depth, &mut doc, line, true);
                    }
                }
                stack.push(Component::new(name, line));
            }
            "END" => {
                let name = prop.value.trim().to_ascii_uppercase();
                if deep > 0 {
                    if name == "VCALENDAR" || CALENDAR_CHILDREN.contains(&name.as_str()) {
                        // Closes a component we built: the skipped ones lost their ENDs.
                        deep = 0;
                    } else {
                        deep -= 1;
                        continue;
                    }
                }
                if let Some(depth) = stack.iter().rposition(|c| c.name == name) {
                    close_to(&mut stack, depth, &mut doc, line, false);
                } else if let Some(top) = stack.last().filter(|c| c.name != "VCALENDAR") {
                    doc.notes.push(Note {
                        line,
                        message: format!(
                            "END:{name} read as END:{} (begun at line {})",
                            top.name, top.line
                        ),
                    });
                    let depth = stack.len() - 1;
                    close_to(&mut stack, depth, &mut doc, line, false);
                } else {
                    doc.notes.push(Note {
                        line,
                        message: format!("END:{name} without BEGIN ignored"),
                    });
                }
            }
            _ if deep > 0 => {}
            _ => {
                if let Some(top) = stack.last_mut() {
                    top.props.push(prop);
                }
            }
        }
    }
    if deep_total > 0 {
        doc.notes.push(Note {
            line: deep_first,
            message: format!(
                "{deep_total} component(s) nested deeper than {MAX_DEPTH} levels ignored with \
                 their content (the first begins here)"
            ),
        });
    }
    if let Some(open) = stack.first() {
        doc.unterminated = Some((open.name.clone(), open.line));
    }
    if doc.calendars.is_empty() && doc.unterminated.is_none() && !doc.stray.is_empty() {
        // Bare components without a VCALENDAR around them (some generators write just VEVENTs):
        // read them as one calendar.
        let first = doc.stray[0].line;
        doc.notes.push(Note {
            line: first,
            message: "no VCALENDAR around the components; read as one calendar".into(),
        });
        doc.calendars.push(Component {
            name: "VCALENDAR".into(),
            line: first,
            children: std::mem::take(&mut doc.stray),
            ..Component::default()
        });
    } else {
        for c in &doc.stray {
            doc.notes.push(Note {
                line: c.line,
                message: format!("{} outside VCALENDAR ignored", c.name),
            });
        }
    }
    doc
}

/// Close every component from the top of `stack` down to and including index `depth`. Those
/// above `depth` lost their END; so does the one at `depth` when `implicit`.
fn close_to(
    stack: &mut Vec<Component>,
    depth: usize,
    doc: &mut Document,
    line: usize,
    implicit: bool,
) {
    while stack.len() > depth {
        let Some(mut done) = stack.pop() else { break };
        if stack.len() > depth || implicit {
            done.unterminated = true;
            doc.notes.push(Note {
                line: done.line,
                message: format!(
                    "BEGIN:{} has no END:{} (closed at line {line})",
                    done.name, done.name
                ),
            });
        }
        match stack.last_mut() {
            Some(parent) => parent.children.push(done),
            None => {
                if done.name == "VCALENDAR" {
                    doc.calendars.push(done);
                } else if CALENDAR_CHILDREN.contains(&done.name.as_str()) {
                    doc.stray.push(done);
                } else {
                    doc.notes.push(Note {
                        line: done.line,
                        message: format!("{} outside VCALENDAR ignored", done.name),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_crlf_lf_and_tabs_keeping_first_line_numbers() {
        let text = "BEGIN:VCALENDAR\r\nDESCRIPTION:a\r\n b\r\n\tc\r\n\r\nX:1\nY:2";
        let lines = unfold(text);
        assert_eq!(
            lines,
            vec![
                (1, "BEGIN:VCALENDAR".to_string()),
                (2, "DESCRIPTION:abc".to_string()),
                (6, "X:1".to_string()),
                (7, "Y:2".to_string()),
            ]
        );
        assert_eq!(
            unfold("A:1\rB:2\r"),
            vec![(1, "A:1".into()), (2, "B:2".into())]
        );
        assert_eq!(unfold("\u{feff}A:1"), vec![(1, "A:1".into())]);
    }

    #[test]
    fn parses_quoted_parameters_with_separators() {
        let l = parse_content_line(
            "ATTENDEE;CN=\"Doe, Jane; PhD: x\";PARTSTAT=DECLINED;MEMBER=\"a\",\"b\":mailto:j@x.org",
            3,
        )
        .unwrap();
        assert_eq!(l.name, "ATTENDEE");
        assert_eq!(l.param("cn"), Some("Doe, Jane; PhD: x"));
        assert_eq!(l.param("PARTSTAT"), Some("DECLINED"));
        assert_eq!(l.params[2].values, vec!["a", "b"]);
        assert_eq!(l.value, "mailto:j@x.org");
        assert_eq!(l.line, 3);
        let l = parse_content_line("dtstart;tzid=Europe/Berlin:20250101T090000", 1).unwrap();
        assert_eq!(
            (l.name.as_str(), l.param("TZID")),
            ("DTSTART", Some("Europe/Berlin"))
        );
        let l = parse_content_line("X-FOO;CN=a^'b^nc:v", 1).unwrap();
        assert_eq!(l.param("CN"), Some("a\"b\nc"));
        assert!(parse_content_line("no colon here", 1).is_err());
        assert!(parse_content_line("Bad Name:x", 1).is_err());
        // Apple's vCard-style group prefixes are read (and then ignored as unknown properties).
        assert_eq!(
            parse_content_line("item1.X-ABLABEL:x", 1).unwrap().name,
            "ITEM1.X-ABLABEL"
        );
        assert!(parse_content_line("X;CN=\"open:x", 1).is_err());
    }

    #[test]
    fn unescapes_text() {
        assert_eq!(unescape_text(r"a\, b\; c\\d\ne\Nf\:"), "a, b; c\\d\ne\nf:");
    }

    #[test]
    fn repairs_structure() {
        let text = "BEGIN:VCALENDAR\nBEGIN:VTODO\nEND:VTOOD\nBEGIN:VEVENT\nUID:1\nBEGIN:VEVENT\nUID:2\nEND:VEVENT\nEND:VCALENDAR\n";
        let doc = read_components(text);
        assert_eq!(doc.calendars.len(), 1);
        let kids = &doc.calendars[0].children;
        assert_eq!(
            kids.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["VTODO", "VEVENT", "VEVENT"]
        );
        assert!(!kids[0].unterminated);
        assert!(kids[1].unterminated);
        assert!(!kids[2].unterminated);
        assert_eq!(kids[2].line, 6);
        assert!(doc.unterminated.is_none());
        let doc = read_components("BEGIN:VCALENDAR\nBEGIN:VEVENT\n");
        assert_eq!(doc.unterminated, Some(("VCALENDAR".into(), 1)));
    }

    #[test]
    fn deep_nesting_is_cut_at_max_depth() {
        let n = 100_000;
        let mut text = String::from("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\n");
        text.push_str(&"BEGIN:VALARM\nX-A:1\n".repeat(n));
        text.push_str(&"END:VALARM\n".repeat(n));
        text.push_str("SUMMARY:kept\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\nEND:VEVENT\nEND:VCALENDAR\n");
        let doc = read_components(&text);
        assert!(doc.unterminated.is_none());
        let cal = &doc.calendars[0];
        assert_eq!(cal.children.len(), 2);
        let ev = &cal.children[0];
        assert_eq!(ev.first("SUMMARY").map(|p| p.value.as_str()), Some("kept"));
        // The tree stops at MAX_DEPTH: VCALENDAR, VEVENT and six VALARMs.
        let mut depth = 1;
        let mut c = cal;
        while let Some(k) = c.children.first() {
            depth += 1;
            c = k;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert!(
            doc.notes
                .iter()
                .any(|n| n.message.contains("nested deeper"))
        );
        // Skipped components that lose their END do not swallow the next VEVENT.
        let doc = read_components(
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nBEGIN:X\nBEGIN:X\nBEGIN:X\nBEGIN:X\nBEGIN:X\nBEGIN:X\nBEGIN:X\nBEGIN:X\nEND:VEVENT\nBEGIN:VEVENT\nUID:b\nEND:VEVENT\nEND:VCALENDAR\n",
        );
        assert_eq!(doc.calendars[0].children.len(), 2);
    }
}
