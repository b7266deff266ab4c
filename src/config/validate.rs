//! The high-level stage of loading: walks the parsed TOML tree (with spans), builds the typed
//! [`Config`] and collects every problem on the way instead of stopping at the first.
//!
//! Each section function reads only the keys it knows, reports every other key as unknown, and
//! returns its struct with defaults for what is missing or wrong; the caller only keeps the
//! result when no problem was recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigProblem;
use super::types::*;
use super::value::{
    self, ConfigDuration, Digest, SecretSource, SensitiveUrl, is_email, is_env_name, parse_http_url,
};

type Val<'i> = Spanned<DeValue<'i>>;

const TOP_KEYS: &[&str] = &[
    "manager",
    "reports",
    "accounts",
    "sync",
    "detection",
    "cadence",
    "alerts",
    "agenda",
    "daemon",
    "scheduling",
    "org",
    "store",
    "quota",
];
const ORG_KEYS: &[&str] = &[
    "source",
    "account",
    "admin",
    "managers",
    "exclude",
    "min_group",
    "manager",
];
const ORG_MANAGER_KEYS: &[&str] = &["email", "name", "timezone", "locale", "reports"];
/// The stand-in for each manager's address in channel settings (org mode; docs/org.md).
pub const MANAGER_PLACEHOLDER: &str = "{manager}";
const QUOTA_KEYS: &[&str] = &["google_per_minute", "microsoft_per_minute"];
const MANAGER_KEYS: &[&str] = &["email", "name", "timezone", "locale", "working_hours"];
const SCHEDULING_KEYS: &[&str] = &["enabled", "book", "notice", "auto_book"];
const REPORT_KEYS: &[&str] = &[
    "email",
    "name",
    "cadence",
    "aliases",
    "joined",
    "timezone",
    "working_hours",
];
const ACCOUNT_KEYS: &[&str] = &["name", "provider"];
const GOOGLE_KEYS: &[&str] = &[
    "calendars",
    "client_id",
    "client_secret",
    "client_secret_env",
    "api_base",
    "token_url",
    "auth_url",
    "service_account_key",
    "subject",
    "directory",
];
const MICROSOFT_KEYS: &[&str] = &[
    "calendars",
    "tenant",
    "client_id",
    "client_secret",
    "client_secret_env",
    "graph_base",
    "login_base",
    "user",
    "directory",
];
const ICS_KEYS: &[&str] = &["url", "path"];
const CALDAV_KEYS: &[&str] = &["url", "calendars", "username", "password_env"];
const SYNC_KEYS: &[&str] = &["past", "future", "interval", "rebaseline"];
const DETECTION_KEYS: &[&str] = &["title_patterns", "exclude_patterns", "absence_patterns"];
const CADENCE_KEYS: &[&str] = &["default", "grace", "uneven_ratio", "lookback"];
const ALERTS_KEYS: &[&str] = &[
    "channels",
    "digest",
    "email",
    "webhook",
    "command",
    "notify_resolved",
];
const EMAIL_KEYS: &[&str] = &[
    "smtp_host",
    "smtp_port",
    "tls",
    "username",
    "password_env",
    "from",
    "to",
    "reply_to",
    "timeout",
];
const WEBHOOK_KEYS: &[&str] = &["url", "format", "timeout"];
const COMMAND_KEYS: &[&str] = &["argv", "timeout"];
const AGENDA_KEYS: &[&str] = &[
    "enabled",
    "mode",
    "lead_time",
    "store",
    "dir",
    "link_base",
    "template",
    "notify_attendees",
];
const DAEMON_KEYS: &[&str] = &["listen", "token_env", "hosts", "lease"];
const STORE_KEYS: &[&str] = &["url", "password_env"];

/// The shortest `sync.interval` accepted: the providers' rate limits make anything faster useless.
const MIN_INTERVAL_SECS: u64 = 30;

/// A table of the document and where it is.
struct Sec<'t, 'i> {
    /// Dotted key path (`""` for the document).
    path: String,
    table: &'t DeTable<'i>,
    /// The table's header (`[manager]`, `[[reports]]`), or the document for the root.
    span: Option<Range<usize>>,
}

impl<'t, 'i> Sec<'t, 'i> {
    fn get(&self, key: &str) -> Option<&'t Val<'i>> {
        self.table.get(key)
    }

    fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }
}

/// `parent.key`, quoting keys that are not bare TOML keys.
fn join(parent: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let key = if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if parent.is_empty() {
        key
    } else {
        format!("{parent}.{key}")
    }
}

fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// The edit distance between two short keys (for "did you mean").
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn unknown_key_message(key: &str, allowed: &[&str]) -> String {
    let hint = match key {
        "password" => {
            Some("; secrets are not written here: use password_env to name an environment variable")
        }
        "token" => Some("; use token_env to name an environment variable"),
        _ => None,
    };
    if let Some(hint) = hint {
        return format!("unknown key{hint}");
    }
    let best = allowed
        .iter()
        .map(|k| (distance(key, k), *k))
        .filter(|&(d, k)| d <= 2 && d < k.len().max(key.len()) / 2 + 1)
        .min_by_key(|&(d, _)| d);
    match best {
        Some((_, k)) => format!("unknown key (did you mean `{k}`?)"),
        None => format!("unknown key; expected one of: {}", allowed.join(", ")),
    }
}

/// The walk's state: where the text is, and what went wrong so far.
pub(super) struct Cx<'a> {
    file: &'a Path,
    text: &'a str,
    /// The directory relative paths in the file are resolved against.
    base_dir: &'a Path,
    pub(super) problems: Vec<ConfigProblem>,
}

impl<'a> Cx<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str, base_dir: &'a Path) -> Self {
        Self {
            file,
            text,
            base_dir,
            problems: Vec::new(),
        }
    }

    /// The 1-based line of a byte offset.
    pub(super) fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn problem(
        &mut self,
        key: String,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) {
        let line = span.map(|s| self.line(s.start));
        self.problems.push(ConfigProblem {
            file: self.file.to_path_buf(),
            key,
            line,
            message: message.into(),
        });
    }

    fn wrong_type(&mut self, sec: &Sec<'_, '_>, key: &str, v: &Val<'_>, expected: &str) {
        let msg = format!("expected {expected}, found {}", type_name(v.get_ref()));
        self.problem(sec.key(key), Some(v.span()), msg);
    }

    fn missing(&mut self, sec: &Sec<'_, '_>, key: &str, what: &str) {
        let msg = if what.is_empty() {
            "missing required key".to_owned()
        } else {
            format!("missing required key ({what})")
        };
        self.problem(sec.key(key), sec.span.clone(), msg);
    }

    fn unknown_keys(&mut self, sec: &Sec<'_, '_>, allowed: &[&str]) {
        for (k, _) in sec.table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                let msg = unknown_key_message(k.get_ref(), allowed);
                self.problem(sec.key(k.get_ref()), Some(k.span()), msg);
            }
        }
    }

    fn table<'t, 'i>(&mut self, sec: &Sec<'t, 'i>, key: &str) -> Option<Sec<'t, 'i>> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Sec {
                path: sec.key(key),
                table: t,
                span: Some(v.span()),
            }),
            _ => {
                self.wrong_type(sec, key, v, &format!("a table ([{}])", sec.key(key)));
                None
            }
        }
    }

    fn tables<'t, 'i>(&mut self, sec: &Sec<'t, 'i>, key: &str) -> Vec<Sec<'t, 'i>> {
        let Some(v) = sec.get(key) else {
            return Vec::new();
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                sec,
                key,
                v,
                &format!("an array of tables ([[{}]])", sec.key(key)),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", sec.key(key));
            match item.get_ref() {
                DeValue::Table(t) => out.push(Sec {
                    path,
                    table: t,
                    span: Some(item.span()),
                }),
                other => {
                    let msg = format!("expected a table, found {}", type_name(other));
                    self.problem(path, Some(item.span()), msg);
                }
            }
        }
        out
    }

    /// A string value with its span; `None` when absent or of another type (reported).
    fn string<'t>(&mut self, sec: &Sec<'t, '_>, key: &str) -> Option<(&'t str, Range<usize>)> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some((s.as_ref(), v.span())),
            _ => {
                self.wrong_type(sec, key, v, "a string");
                None
            }
        }
    }

    /// A non-empty string; an empty one is reported.
    fn text<'t>(&mut self, sec: &Sec<'t, '_>, key: &str) -> Option<(&'t str, Range<usize>)> {
        let (s, span) = self.string(sec, key)?;
        if s.trim().is_empty() {
            self.problem(sec.key(key), Some(span), "must not be empty");
            return None;
        }
        Some((s, span))
    }

    /// A required non-empty string; absence is reported at the table's header.
    fn required_text<'t>(
        &mut self,
        sec: &Sec<'t, '_>,
        key: &str,
        what: &str,
    ) -> Option<(&'t str, Range<usize>)> {
        if sec.get(key).is_none() {
            self.missing(sec, key, what);
            return None;
        }
        self.text(sec, key)
    }

    fn boolean(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<bool> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.wrong_type(sec, key, v, "a boolean (true or false)");
                None
            }
        }
    }

    /// A number (integer or float) with its span.
    fn number(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<(f64, Range<usize>)> {
        let v = sec.get(key)?;
        let n = match v.get_ref() {
            DeValue::Float(f) => f.as_str().parse::<f64>().ok(),
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix())
                .ok()
                .map(|i| i as f64),
            _ => {
                self.wrong_type(sec, key, v, "a number");
                return None;
            }
        };
        match n {
            Some(n) if n.is_finite() => Some((n, v.span())),
            _ => {
                self.problem(sec.key(key), Some(v.span()), "expected a finite number");
                None
            }
        }
    }

    fn integer(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<(i64, Range<usize>)> {
        let v = sec.get(key)?;
        match v.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some((n, v.span())),
                Err(_) => {
                    self.problem(sec.key(key), Some(v.span()), "integer out of range");
                    None
                }
            },
            _ => {
                self.wrong_type(sec, key, v, "an integer");
                None
            }
        }
    }

    /// An array of strings: the items with their spans, and the array's span.
    #[allow(clippy::type_complexity)]
    fn strings<'t>(
        &mut self,
        sec: &Sec<'t, '_>,
        key: &str,
    ) -> Option<(Vec<(&'t str, Range<usize>)>, Range<usize>)> {
        let v = sec.get(key)?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(sec, key, v, "an array of strings");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) if !s.trim().is_empty() => out.push((s.as_ref(), item.span())),
                DeValue::String(_) => {
                    self.problem(
                        format!("{}[{i}]", sec.key(key)),
                        Some(item.span()),
                        "must not be empty",
                    );
                    ok = false;
                }
                other => {
                    let msg = format!("expected a string, found {}", type_name(other));
                    self.problem(format!("{}[{i}]", sec.key(key)), Some(item.span()), msg);
                    ok = false;
                }
            }
        }
        ok.then(|| (out, v.span()))
    }

    /// A string parsed by `parse`; its error message is reported at the value.
    fn parsed<T>(
        &mut self,
        sec: &Sec<'_, '_>,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let (s, span) = self.string(sec, key)?;
        match parse(s) {
            Ok(t) => Some(t),
            Err(msg) => {
                self.problem(sec.key(key), Some(span), msg);
                None
            }
        }
    }

    fn duration(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<(ConfigDuration, Range<usize>)> {
        let v = sec.get(key)?;
        if !matches!(v.get_ref(), DeValue::String(_)) {
            self.wrong_type(sec, key, v, "a duration string like \"5m\" or \"400d\"");
            return None;
        }
        let d = self.parsed(sec, key, value::parse_duration)?;
        Some((d, v.span()))
    }

    /// One of `choices` (`(spelling, value)`), compared exactly.
    fn choice<T: Copy>(
        &mut self,
        sec: &Sec<'_, '_>,
        key: &str,
        choices: &[(&str, T)],
    ) -> Option<T> {
        self.parsed(sec, key, |s| {
            choices
                .iter()
                .find(|(name, _)| *name == s)
                .map(|&(_, t)| t)
                .ok_or_else(|| {
                    let names: Vec<String> =
                        choices.iter().map(|(n, _)| format!("\"{n}\"")).collect();
                    format!("invalid value {s:?}: expected {}", or_list(&names))
                })
        })
    }

    fn http_url(&mut self, sec: &Sec<'_, '_>, key: &str, default: &str) -> String {
        self.parsed(sec, key, parse_http_url)
            .unwrap_or_else(|| default.to_owned())
    }

    fn email(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<(String, Range<usize>)> {
        let (s, span) = self.text(sec, key)?;
        self.check_email(sec.key(key), s, span)
    }

    fn check_email(
        &mut self,
        key: String,
        s: &str,
        span: Range<usize>,
    ) -> Option<(String, Range<usize>)> {
        if is_email(s) {
            Some((s.to_owned(), span))
        } else {
            self.problem(key, Some(span), format!("invalid e-mail address {s:?}"));
            None
        }
    }

    /// The name of an environment variable.
    fn env_name(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<String> {
        let (s, span) = self.string(sec, key)?;
        if is_env_name(s) {
            Some(s.to_owned())
        } else {
            let msg =
                format!("invalid environment variable name {s:?}: expected letters, digits and _");
            self.problem(sec.key(key), Some(span), msg);
            None
        }
    }

    /// A path resolved against the config file's directory.
    fn path(&mut self, sec: &Sec<'_, '_>, key: &str) -> Option<PathBuf> {
        let (s, _) = self.text(sec, key)?;
        Some(self.base_dir.join(s))
    }

    /// `client_secret` / `client_secret_env`: at most one of them.
    fn client_secret(&mut self, sec: &Sec<'_, '_>) -> Option<SecretSource> {
        let inline = self
            .text(sec, "client_secret")
            .map(|(s, _)| SecretSource::Inline(value::Secret::new(s)));
        let env = self
            .env_name(sec, "client_secret_env")
            .map(SecretSource::Env);
        if sec.get("client_secret").is_some() && sec.get("client_secret_env").is_some() {
            let span = sec.get("client_secret_env").map(|v| v.span());
            self.problem(
                sec.key("client_secret_env"),
                span,
                "give either client_secret or client_secret_env, not both",
            );
        }
        inline.or(env)
    }

    /// `calendars`, default `["primary"]`, at least one.
    fn calendars(&mut self, sec: &Sec<'_, '_>) -> Vec<String> {
        match self.strings(sec, "calendars") {
            Some((items, span)) if items.is_empty() => {
                self.problem(
                    sec.key("calendars"),
                    Some(span),
                    "must list at least one calendar",
                );
                Vec::new()
            }
            Some((items, _)) => items.into_iter().map(|(s, _)| s.to_owned()).collect(),
            None => vec!["primary".to_owned()],
        }
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// Builds the configuration from a parsed document, recording every problem in `cx`.
/// The result is meaningful only when `cx.problems` is empty afterwards.
pub(super) fn config(cx: &mut Cx<'_>, doc: &DeTable<'_>) -> Option<Config> {
    let root = Sec {
        path: String::new(),
        table: doc,
        span: None,
    };
    cx.unknown_keys(&root, TOP_KEYS);
    let org_sec = cx.table(&root, "org");
    let org_mode = root.get("org").is_some();

    let manager = match cx.table(&root, "manager") {
        Some(sec) => Some(manager(cx, &sec, org_mode)),
        None => {
            if org_mode {
                // Org mode: `[manager]` only gives the defaults of every manager.
                Some((
                    Manager {
                        email: String::new(),
                        name: None,
                        timezone: chrono_tz::Tz::UTC,
                        locale: Locale::default(),
                        working_hours: WorkingHours::default(),
                    },
                    None,
                ))
            } else {
                if root.get("manager").is_none() {
                    cx.problem("manager".into(), None, "missing required table [manager]");
                }
                None
            }
        }
    };
    let manager_email = manager
        .as_ref()
        .map(|(m, _)| m.email.clone())
        .unwrap_or_default();

    let report_secs = cx.tables(&root, "reports");
    if org_mode && let Some(v) = root.get("reports") {
        cx.problem(
            "reports".into(),
            Some(v.span()),
            "in org mode the rosters come from the directory; use [[org.manager.reports]] for a manager's overrides",
        );
    }
    let reports = reports(
        cx,
        &report_secs,
        manager
            .as_ref()
            .map(|(m, span)| (m.email.as_str(), span.clone())),
    );

    let account_secs = cx.tables(&root, "accounts");
    let accounts = accounts(cx, &account_secs, &manager_email);

    let sync = cx
        .table(&root, "sync")
        .map(|s| sync(cx, &s))
        .unwrap_or_default();
    let detection = cx
        .table(&root, "detection")
        .map(|s| detection(cx, &s))
        .unwrap_or_default();
    let cadence = cx
        .table(&root, "cadence")
        .map(|s| cadence(cx, &s))
        .unwrap_or_default();
    let mut alerts = cx
        .table(&root, "alerts")
        .map(|s| {
            alerts(
                cx,
                &s,
                if org_mode {
                    MANAGER_PLACEHOLDER
                } else {
                    &manager_email
                },
            )
        })
        .unwrap_or_default();
    if !org_mode && let Some(email) = &mut alerts.email {
        // `{manager}` is the manager's own address in the single-manager mode too.
        for to in &mut email.to {
            *to = to.replace(MANAGER_PLACEHOLDER, &manager_email);
        }
    }
    let agenda = match cx.table(&root, "agenda") {
        Some(s) => agenda(cx, &s, &accounts),
        None => AgendaConfig::default(),
    };
    let daemon = cx
        .table(&root, "daemon")
        .map(|s| daemon(cx, &s))
        .unwrap_or_default();
    let scheduling = cx
        .table(&root, "scheduling")
        .map(|s| scheduling(cx, &s))
        .unwrap_or_default();
    let store = cx
        .table(&root, "store")
        .map(|s| store(cx, &s))
        .unwrap_or_default();

    let org = org_sec.map(|sec| org(cx, &sec, &account_secs, &accounts, &alerts));
    let quota = cx
        .table(&root, "quota")
        .map(|s| quota(cx, &s))
        .unwrap_or_default();

    Some(Config {
        file: cx.file.to_path_buf(),
        org,
        scoped: false,
        manager: manager?.0,
        reports,
        accounts,
        sync,
        detection,
        cadence,
        alerts,
        agenda,
        daemon,
        scheduling,
        store,
        quota,
    })
}

/// The manager, and the span of its e-mail value (for duplicate checks).
fn manager(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, org: bool) -> (Manager, Option<Range<usize>>) {
    cx.unknown_keys(sec, MANAGER_KEYS);
    let email = if sec.get("email").is_none() {
        if !org {
            cx.missing(sec, "email", "the manager's e-mail address");
        }
        None
    } else {
        cx.email(sec, "email")
    };
    let name = cx.text(sec, "name").map(|(s, _)| s.to_owned());
    let timezone = cx
        .parsed(sec, "timezone", parse_timezone)
        .unwrap_or(chrono_tz::Tz::UTC);
    let locale = cx
        .choice(sec, "locale", &[("en", Locale::En), ("ja", Locale::Ja)])
        .unwrap_or_default();
    let working_hours = cx
        .parsed(sec, "working_hours", value::parse_working_hours)
        .unwrap_or_default();
    let (email, span) = match email {
        Some((e, span)) => (e, Some(span)),
        None => (String::new(), None),
    };
    (
        Manager {
            email,
            name,
            timezone,
            locale,
            working_hours,
        },
        span,
    )
}

fn parse_timezone(s: &str) -> Result<chrono_tz::Tz, String> {
    if let Ok(tz) = s.parse::<chrono_tz::Tz>() {
        return Ok(tz);
    }
    let hint = chrono_tz::TZ_VARIANTS
        .iter()
        .find(|tz| tz.name().eq_ignore_ascii_case(s))
        .map(|tz| format!(" (did you mean {:?}?)", tz.name()))
        .unwrap_or_default();
    Err(format!(
        "unknown time zone {s:?}: expected an IANA name like \"Asia/Tokyo\" or \"Europe/Berlin\"{hint}"
    ))
}

fn reports(
    cx: &mut Cx<'_>,
    secs: &[Sec<'_, '_>],
    manager: Option<(&str, Option<Range<usize>>)>,
) -> Vec<Report> {
    // Every address (e-mail or alias), lower-cased → the line it first appeared on.
    let mut seen: HashMap<String, Option<usize>> = HashMap::new();
    if let Some((email, span)) = &manager
        && !email.is_empty()
    {
        seen.insert(
            email.to_ascii_lowercase(),
            span.as_ref().map(|s| cx.line(s.start)),
        );
    }
    let manager_email = manager
        .map(|(e, _)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = Vec::new();
    for sec in secs {
        cx.unknown_keys(sec, REPORT_KEYS);
        let email = if sec.get("email").is_none() {
            cx.missing(sec, "email", "the report's e-mail address");
            None
        } else {
            cx.email(sec, "email")
        };
        let name = cx.text(sec, "name").map(|(s, _)| s.to_owned());
        let cadence = cx.parsed(sec, "cadence", value::parse_cadence);
        let timezone = cx.parsed(sec, "timezone", parse_timezone);
        let working_hours = cx.parsed(sec, "working_hours", value::parse_working_hours);
        let joined = cx.parsed(sec, "joined", value::parse_date);
        let mut aliases = Vec::new();
        if let Some((items, _)) = cx.strings(sec, "aliases") {
            for (i, (alias, span)) in items.into_iter().enumerate() {
                if let Some((a, span)) =
                    cx.check_email(format!("{}[{i}]", sec.key("aliases")), alias, span)
                {
                    aliases.push((a, span, format!("{}[{i}]", sec.key("aliases"))));
                }
            }
        }
        let addresses = email
            .iter()
            .map(|(e, span)| (e.clone(), span.clone(), sec.key("email")))
            .chain(aliases.iter().cloned());
        for (address, span, key) in addresses {
            let lower = address.to_ascii_lowercase();
            let line = cx.line(span.start);
            if let Some(first) = seen.get(&lower) {
                let msg = if lower == manager_email {
                    format!("{address:?} is the manager's own address")
                } else {
                    match first {
                        Some(l) => {
                            format!("duplicate report address {address:?} (also on line {l})")
                        }
                        None => format!("duplicate report address {address:?}"),
                    }
                };
                cx.problem(key, Some(span), msg);
            } else {
                seen.insert(lower, Some(line));
            }
        }
        out.push(Report {
            email: email.map(|(e, _)| e).unwrap_or_default(),
            name,
            cadence,
            aliases: aliases.into_iter().map(|(a, _, _)| a).collect(),
            timezone,
            working_hours,
            joined,
        });
    }
    out
}

fn accounts(cx: &mut Cx<'_>, secs: &[Sec<'_, '_>], manager_email: &str) -> Vec<Account> {
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut out = Vec::new();
    for sec in secs {
        let name = cx.required_text(
            sec,
            "name",
            "the account's name, used by --account and auth",
        );
        if let Some((name, span)) = name.clone() {
            let line = cx.line(span.start);
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            {
                let msg =
                    format!("invalid account name {name:?}: use letters, digits, '-', '_' and '.'");
                cx.problem(sec.key("name"), Some(span), msg);
            } else if let Some(first) = names.get(name) {
                let msg = format!("duplicate account name {name:?} (also on line {first})");
                cx.problem(sec.key("name"), Some(span), msg);
            } else {
                names.insert(name.to_owned(), line);
            }
        }
        let providers = [
            ("google", Provider::Google),
            ("microsoft", Provider::Microsoft),
            ("ics", Provider::Ics),
            ("caldav", Provider::Caldav),
        ];
        let provider = if sec.get("provider").is_none() {
            cx.missing(sec, "provider", "google, microsoft, ics or caldav");
            None
        } else {
            cx.choice(sec, "provider", &providers)
        };
        account_keys(cx, sec, provider);
        let kind = match provider {
            Some(Provider::Google) => Some(AccountKind::Google(google(cx, sec, manager_email))),
            Some(Provider::Microsoft) => Some(AccountKind::Microsoft(microsoft(cx, sec))),
            Some(Provider::Ics) => ics(cx, sec).map(AccountKind::Ics),
            Some(Provider::Caldav) => caldav(cx, sec).map(AccountKind::Caldav),
            None => None,
        };
        if let (Some((name, _)), Some(kind)) = (name, kind) {
            out.push(Account {
                name: name.to_owned(),
                kind,
            });
        }
    }
    out
}

/// Unknown keys of an account: a key of another provider gets its own message.
fn account_keys(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, provider: Option<Provider>) {
    let specific: &[(Provider, &[&str])] = &[
        (Provider::Google, GOOGLE_KEYS),
        (Provider::Microsoft, MICROSOFT_KEYS),
        (Provider::Ics, ICS_KEYS),
        (Provider::Caldav, CALDAV_KEYS),
    ];
    let mut allowed: Vec<&str> = ACCOUNT_KEYS.to_vec();
    for (p, keys) in specific {
        // With an unknown provider, every provider's keys are let through.
        if provider.is_none_or(|provider| provider == *p) {
            allowed.extend(keys.iter().filter(|k| !ACCOUNT_KEYS.contains(k)));
        }
    }
    allowed.sort_unstable();
    allowed.dedup();
    for (k, _) in sec.table.iter() {
        let key = k.get_ref().as_ref();
        if allowed.contains(&key) {
            continue;
        }
        let owners: Vec<String> = specific
            .iter()
            .filter(|(_, keys)| keys.contains(&key))
            .map(|(p, _)| p.as_str().to_owned())
            .collect();
        let msg = match (provider, owners.is_empty()) {
            (Some(p), false) => format!(
                "not a key of a {p} account (it belongs to {} accounts)",
                or_list(&owners)
            ),
            _ => unknown_key_message(key, &allowed),
        };
        cx.problem(sec.key(key), Some(k.span()), msg);
    }
}

fn google(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, manager_email: &str) -> GoogleAccount {
    let calendars = cx.calendars(sec);
    let api_base = cx.http_url(sec, "api_base", GoogleAccount::DEFAULT_API_BASE);
    let token_url = cx.http_url(sec, "token_url", GoogleAccount::DEFAULT_TOKEN_URL);
    let auth_url = cx.http_url(sec, "auth_url", GoogleAccount::DEFAULT_AUTH_URL);
    let auth = if sec.get("service_account_key").is_some() {
        let key = cx.path(sec, "service_account_key").unwrap_or_default();
        for other in ["client_id", "client_secret", "client_secret_env"] {
            if let Some(v) = sec.get(other) {
                cx.problem(
                    sec.key(other),
                    Some(v.span()),
                    "not used with service_account_key (the service account's key file names its client); remove one of them",
                );
            }
        }
        let subject = cx
            .email(sec, "subject")
            .map_or_else(|| manager_email.to_owned(), |(s, _)| s);
        GoogleAuth::ServiceAccount { key, subject }
    } else {
        if sec.get("client_id").is_none() {
            cx.missing(
                sec,
                "client_id",
                "the OAuth client id of a google account, or service_account_key",
            );
        }
        if let Some(v) = sec.get("subject") {
            cx.problem(
                sec.key("subject"),
                Some(v.span()),
                "subject is only used with service_account_key",
            );
        }
        if let Some(v) = sec.get("directory")
            && cx.boolean(sec, "directory") == Some(true)
        {
            cx.problem(
                sec.key("directory"),
                Some(v.span()),
                "directory = true reads the Admin Directory, which needs org mode (service_account_key with domain-wide delegation)",
            );
        }
        GoogleAuth::OAuth {
            client_id: cx
                .text(sec, "client_id")
                .map(|(s, _)| s.to_owned())
                .unwrap_or_default(),
            client_secret: cx.client_secret(sec),
        }
    };
    let directory = matches!(auth, GoogleAuth::ServiceAccount { .. })
        && cx.boolean(sec, "directory").unwrap_or(false);
    GoogleAccount {
        calendars,
        auth,
        api_base,
        token_url,
        auth_url,
        directory,
    }
}

fn microsoft(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> MicrosoftAccount {
    let calendars = cx.calendars(sec);
    let graph_base = cx.http_url(sec, "graph_base", MicrosoftAccount::DEFAULT_GRAPH_BASE);
    let login_base = cx.http_url(sec, "login_base", MicrosoftAccount::DEFAULT_LOGIN_BASE);
    let tenant = match cx.text(sec, "tenant") {
        Some((t, span)) if t.contains(['/', '?', '#']) || t.contains(char::is_whitespace) => {
            let msg = format!(
                "invalid tenant {t:?}: expected a tenant id, a domain, \
                 or organizations/common/consumers"
            );
            cx.problem(sec.key("tenant"), Some(span), msg);
            String::new()
        }
        Some((t, _)) => t.to_owned(),
        None => MicrosoftAccount::DEFAULT_TENANT.to_owned(),
    };
    let client_id = cx.required_text(
        sec,
        "client_id",
        "the application (client) id of a microsoft account",
    );
    let client_secret = cx.client_secret(sec);
    let auth = match sec.get("user") {
        Some(_) => {
            let user = cx.email(sec, "user").map(|(u, _)| u).unwrap_or_default();
            if ["organizations", "common", "consumers"].contains(&tenant.as_str()) {
                let span = sec
                    .get("tenant")
                    .map(|v| v.span())
                    .or_else(|| sec.span.clone());
                cx.problem(
                    sec.key("tenant"),
                    span,
                    format!("the client-credentials flow (user = …) needs a specific tenant id or domain, not {tenant:?}"),
                );
            }
            let client_secret = client_secret.unwrap_or_else(|| {
                if sec.get("client_secret").is_none() && sec.get("client_secret_env").is_none() {
                    let what = "the client-credentials flow (user = …) needs \
                                client_secret or client_secret_env";
                    cx.missing(sec, "client_secret_env", what);
                }
                SecretSource::Env(String::new())
            });
            MicrosoftAuth::ClientCredentials {
                client_secret,
                user,
            }
        }
        None => MicrosoftAuth::Delegated { client_secret },
    };
    MicrosoftAccount {
        calendars,
        tenant,
        client_id: client_id.map(|(s, _)| s.to_owned()).unwrap_or_default(),
        auth,
        graph_base,
        login_base,
        directory: cx.boolean(sec, "directory").unwrap_or(false),
    }
}

fn ics(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> Option<IcsAccount> {
    let url = cx.parsed(sec, "url", |s| {
        let https = s
            .strip_prefix("webcal://")
            .or_else(|| s.strip_prefix("webcals://"))
            .map(|rest| format!("https://{rest}"));
        let url = https.as_deref().unwrap_or(s);
        parse_http_url(url).map(|_| url.to_owned()).map_err(|_| {
            "invalid URL (not shown: it may hold a secret): expected an http://, https:// or webcal:// URL with a host".to_owned()
        })
    });
    let path = cx.path(sec, "path");
    match (sec.get("url"), sec.get("path")) {
        (Some(_), Some(p)) => {
            cx.problem(
                sec.key("path"),
                Some(p.span()),
                "give either url or path, not both",
            );
            None
        }
        (None, None) => {
            cx.missing(
                sec,
                "url",
                "an ics account needs url (a feed) or path (a file)",
            );
            None
        }
        _ => match (url, path) {
            (Some(u), _) => Some(IcsAccount {
                source: IcsSource::Url(SensitiveUrl::new(u)),
            }),
            (_, Some(p)) => Some(IcsAccount {
                source: IcsSource::Path(p),
            }),
            _ => None,
        },
    }
}

/// A CalDAV account: `url`, `username` and `password_env` are required; `calendars` is optional
/// (default: every calendar that can hold events) but, when given, lists at least one.
fn caldav(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> Option<CaldavAccount> {
    let url = if sec.get("url").is_none() {
        cx.missing(
            sec,
            "url",
            "a caldav account needs url (the server, e.g. https://caldav.fastmail.com/, or a calendar's address)",
        );
        None
    } else {
        cx.parsed(sec, "url", |s| {
            parse_http_url(s).map(|_| s.to_owned()).map_err(|_| {
                "invalid URL (not shown: it may hold a secret): expected an http:// or https:// URL with a host".to_owned()
            })
        })
    };
    let calendars = match cx.strings(sec, "calendars") {
        Some((items, span)) if items.is_empty() => {
            cx.problem(
                sec.key("calendars"),
                Some(span),
                "must list at least one calendar (leave the key out to sync every calendar)",
            );
            Vec::new()
        }
        Some((items, _)) => items.into_iter().map(|(s, _)| s.to_owned()).collect(),
        None => Vec::new(),
    };
    let username = cx.required_text(
        sec,
        "username",
        "the user name of a caldav account (often the e-mail address)",
    );
    if sec.get("password_env").is_none() {
        cx.missing(
            sec,
            "password_env",
            "the environment variable holding the account's (app) password",
        );
    }
    let password = cx.env_name(sec, "password_env");
    Some(CaldavAccount {
        url: SensitiveUrl::new(url?),
        calendars,
        username: username?.0.to_owned(),
        password: SecretSource::Env(password?),
    })
}

fn sync(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> SyncConfig {
    cx.unknown_keys(sec, SYNC_KEYS);
    let d = SyncConfig::default();
    let interval = match cx.duration(sec, "interval") {
        Some((i, span)) if i.as_secs() < MIN_INTERVAL_SECS => {
            cx.problem(
                sec.key("interval"),
                Some(span),
                format!("must be at least {MIN_INTERVAL_SECS}s"),
            );
            d.interval
        }
        Some((i, _)) => i,
        None => d.interval,
    };
    SyncConfig {
        past: cx.duration(sec, "past").map_or(d.past, |(x, _)| x),
        future: cx.duration(sec, "future").map_or(d.future, |(x, _)| x),
        interval,
        rebaseline: cx
            .duration(sec, "rebaseline")
            .map_or(d.rebaseline, |(x, _)| x),
    }
}

fn detection(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> DetectionConfig {
    cx.unknown_keys(sec, DETECTION_KEYS);
    let mut list = |key| {
        cx.strings(sec, key)
            .map(|(items, _)| items.into_iter().map(|(s, _)| s.to_owned()).collect())
            .unwrap_or_default()
    };
    DetectionConfig {
        title_patterns: list("title_patterns"),
        exclude_patterns: list("exclude_patterns"),
        absence_patterns: list("absence_patterns"),
    }
}

fn cadence(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> CadenceConfig {
    cx.unknown_keys(sec, CADENCE_KEYS);
    let d = CadenceConfig::default();
    let default = cx
        .parsed(sec, "default", value::parse_cadence)
        .unwrap_or(d.default);
    let grace = match cx.number(sec, "grace") {
        Some((g, span)) if g < 0.0 => {
            cx.problem(sec.key("grace"), Some(span), "must be 0 or more");
            d.grace
        }
        Some((g, _)) => g,
        None => d.grace,
    };
    let uneven_ratio = match cx.number(sec, "uneven_ratio") {
        Some((r, span)) if !(0.0..=1.0).contains(&r) => {
            cx.problem(
                sec.key("uneven_ratio"),
                Some(span),
                "must be between 0 and 1",
            );
            d.uneven_ratio
        }
        Some((r, _)) => r,
        None => d.uneven_ratio,
    };
    let lookback = match cx.duration(sec, "lookback") {
        Some((l, span)) if l.as_secs() < 86_400 => {
            cx.problem(sec.key("lookback"), Some(span), "must be at least 1d");
            d.lookback
        }
        Some((l, _)) => l,
        None => d.lookback,
    };
    CadenceConfig {
        default,
        grace,
        uneven_ratio,
        lookback,
    }
}

fn alerts(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, manager_email: &str) -> AlertsConfig {
    cx.unknown_keys(sec, ALERTS_KEYS);
    let d = AlertsConfig::default();
    let digest: Digest = cx
        .parsed(sec, "digest", value::parse_digest)
        .unwrap_or(d.digest);
    let email = cx.table(sec, "email").map(|s| email(cx, &s, manager_email));
    let webhook = cx.table(sec, "webhook").and_then(|s| webhook(cx, &s));
    let command = cx.table(sec, "command").and_then(|s| command(cx, &s));

    let all = [
        ("log", Channel::Log),
        ("email", Channel::Email),
        ("webhook", Channel::Webhook),
        ("command", Channel::Command),
    ];
    let mut channels = Vec::new();
    if let Some((items, _)) = cx.strings(sec, "channels") {
        for (i, (name, span)) in items.into_iter().enumerate() {
            let key = format!("{}[{i}]", sec.key("channels"));
            let Some(&(_, channel)) = all.iter().find(|(n, _)| *n == name) else {
                cx.problem(
                    key,
                    Some(span),
                    format!("unknown channel {name:?}: expected log, email, webhook or command"),
                );
                continue;
            };
            if channels.contains(&channel) {
                cx.problem(key, Some(span), format!("channel {name:?} is listed twice"));
                continue;
            }
            // A section that is present but broken has been reported already.
            if channel != Channel::Log && sec.get(name).is_none() {
                cx.problem(
                    key,
                    Some(span),
                    format!("channel {name:?} needs an [alerts.{name}] section"),
                );
            }
            channels.push(channel);
        }
    } else {
        channels = d.channels;
    }
    AlertsConfig {
        channels,
        digest,
        email,
        webhook,
        command,
        notify_resolved: cx
            .boolean(sec, "notify_resolved")
            .unwrap_or(d.notify_resolved),
    }
}

fn email(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, manager_email: &str) -> EmailChannel {
    cx.unknown_keys(sec, EMAIL_KEYS);
    let smtp_host = cx.required_text(sec, "smtp_host", "the SMTP server's host name");
    let tls = cx
        .choice(
            sec,
            "tls",
            &[
                ("starttls", SmtpTls::Starttls),
                ("tls", SmtpTls::Tls),
                ("none", SmtpTls::None),
            ],
        )
        .unwrap_or_default();
    let smtp_port = match cx.integer(sec, "smtp_port") {
        Some((p, span)) => u16::try_from(p)
            .ok()
            .filter(|&p| p != 0)
            .unwrap_or_else(|| {
                cx.problem(
                    sec.key("smtp_port"),
                    Some(span),
                    "must be a port number between 1 and 65535",
                );
                tls.default_port()
            }),
        None => tls.default_port(),
    };
    let username = cx.text(sec, "username").map(|(s, _)| s.to_owned());
    let password_env = cx.env_name(sec, "password_env");
    match (sec.get("username"), sec.get("password_env")) {
        (Some(_), None) => cx.missing(
            sec,
            "password_env",
            "username is set: name the variable holding the SMTP password",
        ),
        (None, Some(v)) => {
            cx.problem(
                sec.key("password_env"),
                Some(v.span()),
                "password_env needs a username",
            );
        }
        _ => {}
    }
    let from = if sec.get("from").is_none() {
        cx.missing(sec, "from", "the sender address");
        None
    } else {
        cx.email(sec, "from")
    };
    let to = match sec.get("to").map(|v| v.get_ref()) {
        None => vec![manager_email.to_owned()],
        Some(DeValue::String(s)) if s.as_ref() == MANAGER_PLACEHOLDER => {
            vec![MANAGER_PLACEHOLDER.to_owned()]
        }
        Some(DeValue::String(_)) => cx
            .email(sec, "to")
            .map(|(e, _)| vec![e])
            .unwrap_or_default(),
        Some(_) => {
            let mut out = Vec::new();
            if let Some((items, span)) = cx.strings(sec, "to") {
                if items.is_empty() {
                    cx.problem(sec.key("to"), Some(span), "must list at least one address");
                }
                for (i, (addr, span)) in items.into_iter().enumerate() {
                    if addr == MANAGER_PLACEHOLDER {
                        out.push(addr.to_owned());
                    } else if let Some((a, _)) =
                        cx.check_email(format!("{}[{i}]", sec.key("to")), addr, span)
                    {
                        out.push(a);
                    }
                }
            }
            out
        }
    };
    EmailChannel {
        smtp_host: smtp_host.map(|(s, _)| s.to_owned()).unwrap_or_default(),
        smtp_port,
        tls,
        username,
        password_env,
        from: from.map(|(s, _)| s).unwrap_or_default(),
        to,
        reply_to: cx.email(sec, "reply_to").map(|(s, _)| s),
        timeout: channel_timeout(cx, sec, 30),
    }
}

/// `[alerts.*] timeout`: at least one second, at most an hour.
fn channel_timeout(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, default_secs: u64) -> ConfigDuration {
    match cx.duration(sec, "timeout") {
        Some((d, span)) if !(1..=3600).contains(&d.as_secs()) => {
            cx.problem(sec.key("timeout"), Some(span), "must be between 1s and 1h");
            ConfigDuration::from_secs(default_secs)
        }
        Some((d, _)) => d,
        None => ConfigDuration::from_secs(default_secs),
    }
}

fn webhook(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> Option<WebhookChannel> {
    cx.unknown_keys(sec, WEBHOOK_KEYS);
    let format = cx
        .choice(
            sec,
            "format",
            &[
                ("json", WebhookFormat::Json),
                ("slack", WebhookFormat::Slack),
                ("teams", WebhookFormat::Teams),
            ],
        )
        .unwrap_or_default();
    if sec.get("url").is_none() {
        cx.missing(sec, "url", "where alerts are posted");
        return None;
    }
    let url = cx.parsed(sec, "url", |s| {
        parse_http_url(s).map(|_| s.to_owned()).map_err(|_| {
            "invalid URL (not shown: it may hold a secret): expected an http:// or https:// URL with a host".to_owned()
        })
    })?;
    let timeout = channel_timeout(cx, sec, 10);
    Some(WebhookChannel {
        url: SensitiveUrl::new(url),
        format,
        timeout,
    })
}

fn command(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> Option<CommandChannel> {
    cx.unknown_keys(sec, COMMAND_KEYS);
    if sec.get("argv").is_none() {
        cx.missing(
            sec,
            "argv",
            "the program and its arguments, e.g. [\"/usr/local/bin/notify\"]",
        );
        return None;
    }
    let (items, span) = cx.strings(sec, "argv")?;
    if items.is_empty() {
        cx.problem(
            sec.key("argv"),
            Some(span),
            "must name at least the program",
        );
        return None;
    }
    let timeout = channel_timeout(cx, sec, 30);
    Some(CommandChannel {
        argv: items.into_iter().map(|(s, _)| s.to_owned()).collect(),
        timeout,
    })
}

fn agenda(cx: &mut Cx<'_>, sec: &Sec<'_, '_>, accounts: &[Account]) -> AgendaConfig {
    cx.unknown_keys(sec, AGENDA_KEYS);
    let d = AgendaConfig::default();
    let store = cx
        .choice(
            sec,
            "store",
            &[
                ("local", DocumentBackend::Local),
                ("google-drive", DocumentBackend::GoogleDrive),
                ("onedrive", DocumentBackend::OneDrive),
            ],
        )
        .unwrap_or(d.store);
    let needs = match store {
        DocumentBackend::Local => None,
        DocumentBackend::GoogleDrive => Some(Provider::Google),
        DocumentBackend::OneDrive => Some(Provider::Microsoft),
    };
    if let Some(p) = needs
        && !accounts.iter().any(|a| a.provider() == p)
    {
        let span = sec.get("store").map(|v| v.span());
        cx.problem(
            sec.key("store"),
            span,
            format!("this store needs a {p} account in [[accounts]]"),
        );
    }
    let link_base = match cx.string(sec, "link_base") {
        Some(("", _)) | None => None,
        Some((s, span)) => {
            if s.contains("://") && !s.contains(char::is_whitespace) {
                Some(s.to_owned())
            } else {
                let msg = format!(
                    "invalid URL prefix {s:?}: expected a URL like \
                     \"https://intranet.example.com/agendas/\""
                );
                cx.problem(sec.key("link_base"), Some(span), msg);
                None
            }
        }
    };
    let template = match cx.text(sec, "template") {
        Some(("builtin", _)) | None => AgendaTemplate::Builtin,
        Some((path, _)) => AgendaTemplate::File(cx.base_dir.join(path)),
    };
    AgendaConfig {
        enabled: cx.boolean(sec, "enabled").unwrap_or(d.enabled),
        mode: cx
            .choice(
                sec,
                "mode",
                &[
                    ("series", AgendaMode::Series),
                    ("session", AgendaMode::Session),
                ],
            )
            .unwrap_or(d.mode),
        lead_time: cx
            .duration(sec, "lead_time")
            .map_or(d.lead_time, |(x, _)| x),
        store,
        dir: cx.text(sec, "dir").map_or(d.dir, |(s, _)| PathBuf::from(s)),
        link_base,
        template,
        notify_attendees: cx
            .boolean(sec, "notify_attendees")
            .unwrap_or(d.notify_attendees),
    }
}

fn scheduling(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> SchedulingConfig {
    cx.unknown_keys(sec, SCHEDULING_KEYS);
    let d = SchedulingConfig::default();
    let enabled = cx.boolean(sec, "enabled").unwrap_or(d.enabled);
    let book = cx.boolean(sec, "book").unwrap_or(d.book);
    let auto_book = cx.boolean(sec, "auto_book").unwrap_or(d.auto_book);
    if auto_book && !(enabled && book) {
        let span = sec.get("auto_book").map(|v| v.span());
        cx.problem(
            sec.key("auto_book"),
            span,
            "needs scheduling with booking on (enabled = true and book = true)",
        );
    }
    SchedulingConfig {
        enabled,
        book,
        notice: cx.duration(sec, "notice").map_or(d.notice, |(x, _)| x),
        auto_book,
    }
}

/// `[store]`: the URL is never repeated in a problem (it could hold a password).
fn store(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> StoreConfig {
    cx.unknown_keys(sec, STORE_KEYS);
    let url = match cx.string(sec, "url") {
        None | Some(("", _)) => None,
        Some((url, span)) => {
            let url = url.to_string();
            let problem = if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                Some("expected a PostgreSQL URL \"postgres://user@host:port/database\"".to_string())
            } else {
                match url.parse::<postgres::Config>() {
                    Err(e) => Some(format!("not a valid PostgreSQL URL ({e})")),
                    Ok(c) if c.get_password().is_some() => Some(
                        "holds a password; remove it from the URL and name the environment variable holding it in store.password_env".to_string(),
                    ),
                    Ok(c) if c.get_hosts().is_empty() => {
                        Some("names no host: expected \"postgres://user@host:port/database\"".to_string())
                    }
                    Ok(_) => None,
                }
            };
            match problem {
                Some(p) => {
                    cx.problem(sec.key("url"), Some(span), p);
                    None
                }
                None => Some(url),
            }
        }
    };
    let password_env = match cx.string(sec, "password_env") {
        Some(("", _)) | None => None,
        Some(_) => cx.env_name(sec, "password_env"),
    };
    StoreConfig { url, password_env }
}

fn daemon(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> DaemonConfig {
    cx.unknown_keys(sec, DAEMON_KEYS);
    let listen = cx.parsed(sec, "listen", |s| {
        s.parse::<SocketAddr>().map_err(|_| {
            format!(
                "invalid address {s:?}: expected IP:PORT like \"127.0.0.1:8737\" or \"[::1]:8737\""
            )
        })
    });
    let token_env = match cx.string(sec, "token_env") {
        Some(("", _)) | None => None,
        Some(_) => cx.env_name(sec, "token_env"),
    };
    if let Some(addr) = listen
        && !addr.ip().is_loopback()
        && token_env.is_none()
        && sec
            .get("token_env")
            .is_none_or(|v| v.get_ref().as_str() == Some(""))
    {
        let span = sec.get("listen").map(|v| v.span());
        cx.problem(
            sec.key("token_env"),
            span,
            format!("required because listen ({addr}) is not a loopback address: name the variable holding the access token"),
        );
    }
    let mut hosts = Vec::new();
    if let Some((items, _)) = cx.strings(sec, "hosts") {
        for (i, (host, span)) in items.into_iter().enumerate() {
            match value::parse_host(host) {
                Ok(h) => hosts.push(h),
                Err(e) => cx.problem(format!("{}[{i}]", sec.key("hosts")), Some(span), e),
            }
        }
    }
    let lease = match cx.duration(sec, "lease") {
        Some((d, span)) if !(5..=600).contains(&d.as_std().as_secs()) => {
            cx.problem(sec.key("lease"), Some(span), "must be between 5s and 10m");
            DaemonConfig::DEFAULT_LEASE
        }
        Some((d, _)) => d,
        None => DaemonConfig::DEFAULT_LEASE,
    };
    DaemonConfig {
        listen: listen.unwrap_or(DaemonConfig::DEFAULT_LISTEN),
        token_env,
        hosts,
        lease,
    }
}

fn quota(cx: &mut Cx<'_>, sec: &Sec<'_, '_>) -> QuotaConfig {
    cx.unknown_keys(sec, QUOTA_KEYS);
    let d = QuotaConfig::default();
    let mut per_minute = |key: &str, default: u32| match cx.integer(sec, key) {
        Some((n, span)) => u32::try_from(n).ok().filter(|&n| n > 0).unwrap_or_else(|| {
            cx.problem(
                sec.key(key),
                Some(span),
                "must be a whole number of requests per minute, at least 1",
            );
            default
        }),
        None => default,
    };
    QuotaConfig {
        google_per_minute: per_minute("google_per_minute", d.google_per_minute),
        microsoft_per_minute: per_minute("microsoft_per_minute", d.microsoft_per_minute),
    }
}

/// `[org]` (docs/org.md): the template account, the managers' sources and overrides.
fn org(
    cx: &mut Cx<'_>,
    sec: &Sec<'_, '_>,
    account_secs: &[Sec<'_, '_>],
    accounts: &[Account],
    alerts: &AlertsConfig,
) -> OrgConfig {
    cx.unknown_keys(sec, ORG_KEYS);
    let source = cx
        .choice(
            sec,
            "source",
            &[
                ("directory", OrgSource::Directory),
                ("list", OrgSource::List),
            ],
        )
        .unwrap_or_default();
    let account = cx.required_text(
        sec,
        "account",
        "the [[accounts]] entry used as the template for every manager's calendar",
    );
    let account_span = account.as_ref().map(|(_, s)| s.clone());
    let account = account.map(|(a, _)| a.to_owned()).unwrap_or_default();
    let template = accounts.iter().find(|a| a.name == account);
    if !account.is_empty() {
        match template.map(|a| &a.kind) {
            None => {
                let names: Vec<String> = accounts.iter().map(|a| format!("{:?}", a.name)).collect();
                let msg = if names.is_empty() {
                    format!("there is no [[accounts]] entry named {account:?}")
                } else {
                    format!(
                        "there is no [[accounts]] entry named {account:?} (the accounts are {})",
                        names.join(", ")
                    )
                };
                cx.problem(sec.key("account"), account_span.clone(), msg);
            }
            Some(AccountKind::Google(g)) if matches!(g.auth, GoogleAuth::ServiceAccount { .. }) => {}
            Some(AccountKind::Microsoft(m))
                if matches!(
                    m.auth,
                    MicrosoftAuth::ClientCredentials { .. }
                        | MicrosoftAuth::Delegated {
                            client_secret: Some(_)
                        }
                ) =>
            {
                if ["organizations", "common", "consumers"].contains(&m.tenant.as_str()) {
                    cx.problem(
                        sec.key("account"),
                        account_span.clone(),
                        format!(
                            "the template account {account:?} reads every mailbox app-only, which needs a specific tenant id or domain, not {:?}",
                            m.tenant
                        ),
                    );
                }
            }
            Some(_) => cx.problem(
                sec.key("account"),
                account_span.clone(),
                format!(
                    "the template account {account:?} must be a google account with service_account_key (domain-wide delegation) or a microsoft account with client_secret_env (app-only)"
                ),
            ),
        }
    }
    // Every manager's calendar comes from the template: another account would be shared by
    // all of them, which no roster means.
    for s in account_secs {
        let Some((name, span)) = s
            .get("name")
            .and_then(|v| v.get_ref().as_str().map(|n| (n.to_owned(), v.span())))
        else {
            continue;
        };
        if template.is_some() && name != account {
            cx.problem(
                s.key("name"),
                Some(span),
                format!(
                    "in org mode every manager's calendar is read through org.account ({account:?}); remove account {name:?}"
                ),
            );
        }
    }
    let google = matches!(template.map(|a| &a.kind), Some(AccountKind::Google(_)));
    let admin = cx.email(sec, "admin").map(|(a, _)| a);
    if google && source == OrgSource::Directory && admin.is_none() && sec.get("admin").is_none() {
        cx.missing(
            sec,
            "admin",
            "the Workspace admin the service account acts as for the Admin Directory",
        );
    }
    if !google
        && template.is_some()
        && let Some(v) = sec.get("admin")
    {
        cx.problem(
            sec.key("admin"),
            Some(v.span()),
            "admin is only used with a google template account (Graph reads the directory app-only)",
        );
    }
    let emails = |cx: &mut Cx<'_>, key: &str| -> Vec<String> {
        let mut out = Vec::new();
        if let Some((items, _)) = cx.strings(sec, key) {
            for (i, (e, span)) in items.into_iter().enumerate() {
                if let Some((e, _)) = cx.check_email(format!("{}[{i}]", sec.key(key)), e, span) {
                    out.push(e);
                }
            }
        }
        out
    };
    let managers = emails(cx, "managers");
    let exclude = emails(cx, "exclude");
    if source == OrgSource::List && managers.is_empty() {
        let span = sec
            .get("managers")
            .map(|v| v.span())
            .or_else(|| sec.span.clone());
        cx.problem(
            sec.key("managers"),
            span,
            "source = \"list\" needs the managers listed",
        );
    }
    let min_group = match cx.integer(sec, "min_group") {
        Some((n, span)) => match u32::try_from(n) {
            Ok(n) if n >= OrgConfig::MIN_GROUP => n,
            _ => {
                cx.problem(
                    sec.key("min_group"),
                    Some(span),
                    format!(
                        "must be at least {} (no figure is shown over fewer people)",
                        OrgConfig::MIN_GROUP
                    ),
                );
                OrgConfig::MIN_GROUP
            }
        },
        None => OrgConfig::MIN_GROUP,
    };
    if alerts.digest != Digest::Immediate {
        cx.problem(
            "alerts.digest".into(),
            None,
            "org mode delivers each manager's alerts immediately for now (digest slots are not kept per manager); remove digest",
        );
    }
    let mut overrides: Vec<OrgManagerOverride> = Vec::new();
    for m in cx.tables(sec, "manager") {
        cx.unknown_keys(&m, ORG_MANAGER_KEYS);
        let email = if m.get("email").is_none() {
            cx.missing(&m, "email", "the manager's e-mail address");
            None
        } else {
            cx.email(&m, "email")
        };
        if let Some((e, span)) = &email
            && overrides.iter().any(|o| o.email.eq_ignore_ascii_case(e))
        {
            cx.problem(
                m.key("email"),
                Some(span.clone()),
                format!("manager {e:?} has two [[org.manager]] entries"),
            );
        }
        let name = cx.text(&m, "name").map(|(s, _)| s.to_owned());
        let timezone = cx.parsed(&m, "timezone", parse_timezone);
        let locale = cx.choice(&m, "locale", &[("en", Locale::En), ("ja", Locale::Ja)]);
        let report_secs = cx.tables(&m, "reports");
        let reports = reports(
            cx,
            &report_secs,
            email
                .as_ref()
                .map(|(e, span)| (e.as_str(), Some(span.clone()))),
        );
        overrides.push(OrgManagerOverride {
            email: email.map(|(e, _)| e).unwrap_or_default(),
            name,
            timezone,
            locale,
            reports,
        });
    }
    OrgConfig {
        source,
        account,
        admin,
        managers,
        exclude,
        min_group,
        overrides,
    }
}
