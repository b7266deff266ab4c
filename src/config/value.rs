//! The scalar value grammars of the configuration: durations, cadences, digests, secrets and
//! URLs. Each parser returns a one-sentence error message; the caller adds file, key and line.

use std::fmt;

use chrono::{NaiveTime, Weekday};

/// A non-negative length of time written as `"30s"`, `"5m"`, `"12h"`, `"2d"`, `"2w"` (units may
/// be combined, largest first is not required: `"1h30m"`). Bounded by [`ConfigDuration::MAX_SECS`]
/// so that every conversion below is infallible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigDuration {
    secs: u64,
}

impl ConfigDuration {
    /// 100 years of 365 days: far beyond any sensible window, far below every overflow.
    pub const MAX_SECS: u64 = 100 * 365 * 86_400;

    /// A duration of `secs` seconds, clamped to [`Self::MAX_SECS`].
    pub const fn from_secs(secs: u64) -> Self {
        let secs = if secs > Self::MAX_SECS {
            Self::MAX_SECS
        } else {
            secs
        };
        Self { secs }
    }

    /// A duration of whole days, clamped to [`Self::MAX_SECS`].
    pub const fn from_days(days: u64) -> Self {
        Self::from_secs(days.saturating_mul(86_400))
    }

    pub const fn as_secs(self) -> u64 {
        self.secs
    }

    pub const fn as_std(self) -> std::time::Duration {
        std::time::Duration::from_secs(self.secs)
    }

    pub fn as_chrono(self) -> chrono::Duration {
        // Invariant: secs <= MAX_SECS (about 3.2e9) fits an i64 and chrono's range.
        chrono::Duration::seconds(self.secs as i64)
    }

    /// The length in days, fractional (used for `sessions_per_30d = held × 30 / lookback days`).
    pub fn as_days_f64(self) -> f64 {
        self.secs as f64 / 86_400.0
    }

    pub const fn is_zero(self) -> bool {
        self.secs == 0
    }
}

impl fmt::Display for ConfigDuration {
    /// The shortest single-unit spelling that is exact: `400d`, `2w`, `5m`, `90s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, char); 5] = [
            (604_800, 'w'),
            (86_400, 'd'),
            (3_600, 'h'),
            (60, 'm'),
            (1, 's'),
        ];
        if self.secs == 0 {
            return f.write_str("0s");
        }
        for (size, unit) in UNITS {
            if self.secs.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.secs / size);
            }
        }
        write!(f, "{}s", self.secs)
    }
}

impl std::str::FromStr for ConfigDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s)
    }
}

/// Parses `"5m"`, `"400d"`, `"1h30m"`.
///
/// ```
/// use cadenced::config::parse_duration;
/// assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5400);
/// assert_eq!(parse_duration("2d").unwrap().as_secs(), 2 * 86_400);
/// assert!(parse_duration("forever").is_err());
/// ```
pub fn parse_duration(text: &str) -> Result<ConfigDuration, String> {
    let bad = || {
        format!(
            "invalid duration {text:?}: expected a whole number and a unit (s, m, h, d, w), like \"5m\", \"12h\" or \"400d\""
        )
    };
    if text.is_empty() {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let (number, tail) = rest.split_at(digits);
        let mut chars = tail.chars();
        let unit = match chars.next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3_600,
            Some('d') => 86_400,
            Some('w') => 604_800,
            _ => return Err(bad()),
        };
        rest = chars.as_str();
        let n: u64 = number.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|x| total.checked_add(x))
            .filter(|&x| x <= ConfigDuration::MAX_SECS)
            .ok_or_else(|| format!("duration {text:?} is too long (at most 36500d)"))?;
    }
    Ok(ConfigDuration { secs: total })
}

/// The expected interval between 1on1s with a report (docs/cadence-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cadence {
    Weekly,
    Biweekly,
    Monthly,
    /// `"<N>d"`, 1 ≤ N ≤ 365.
    Days(u32),
}

impl Cadence {
    /// The expected interval in days: weekly 7, biweekly 14, monthly 30, `<N>d` N.
    pub const fn days(self) -> u32 {
        match self {
            Cadence::Weekly => 7,
            Cadence::Biweekly => 14,
            Cadence::Monthly => 30,
            Cadence::Days(n) => n,
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cadence::Weekly => f.write_str("weekly"),
            Cadence::Biweekly => f.write_str("biweekly"),
            Cadence::Monthly => f.write_str("monthly"),
            Cadence::Days(n) => write!(f, "{n}d"),
        }
    }
}

impl std::str::FromStr for Cadence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_cadence(s)
    }
}

/// Parses `weekly | biweekly | monthly | "<N>d" | "<N>w"` (weeks are 7 days each).
pub fn parse_cadence(text: &str) -> Result<Cadence, String> {
    let bad = || {
        format!(
            "invalid cadence {text:?}: expected weekly, biweekly, monthly, a number of days like \"10d\" or of weeks like \"2w\""
        )
    };
    match text {
        "weekly" => Ok(Cadence::Weekly),
        "biweekly" => Ok(Cadence::Biweekly),
        "monthly" => Ok(Cadence::Monthly),
        _ => {
            let (digits, per) = if let Some(d) = text.strip_suffix('d') {
                (d, 1)
            } else if let Some(w) = text.strip_suffix('w') {
                (w, 7)
            } else {
                return Err(bad());
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            match digits.parse::<u32>().map(|n| n.saturating_mul(per)) {
                Ok(n @ 1..=365) => Ok(Cadence::Days(n)),
                _ => Err(format!(
                    "invalid cadence {text:?}: the interval must be between 1 and 365 days"
                )),
            }
        }
    }
}

/// Parses a calendar date `YYYY-MM-DD` (`[[reports]] joined`).
pub fn parse_date(text: &str) -> Result<chrono::NaiveDate, String> {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| format!("invalid date {text:?}: expected YYYY-MM-DD, like \"2026-11-09\""))
}

/// When alerts are delivered: at once, or gathered into a digest at a local time of the
/// manager's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    Immediate,
    Daily(NaiveTime),
    Weekly(Weekday, NaiveTime),
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Digest::Immediate => f.write_str("immediate"),
            Digest::Daily(t) => write!(f, "daily {}", t.format("%H:%M")),
            Digest::Weekly(d, t) => write!(f, "weekly {} {}", weekday_name(*d), t.format("%H:%M")),
        }
    }
}

fn weekday_name(d: Weekday) -> &'static str {
    match d {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
}

/// Parses `immediate | daily HH:MM | weekly DAY HH:MM` (DAY: an English day name or its first
/// three letters; keywords and days are case-insensitive; HH is 0–23, MM two digits).
pub fn parse_digest(text: &str) -> Result<Digest, String> {
    let bad = || {
        format!(
            "invalid digest {text:?}: expected \"immediate\", \"daily HH:MM\" or \"weekly DAY HH:MM\" (e.g. \"weekly monday 09:00\")"
        )
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    match words.as_slice() {
        [w] if w.eq_ignore_ascii_case("immediate") => Ok(Digest::Immediate),
        [w, time] if w.eq_ignore_ascii_case("daily") => {
            Ok(Digest::Daily(parse_hh_mm(time).ok_or_else(bad)?))
        }
        [w, day, time] if w.eq_ignore_ascii_case("weekly") => {
            let day = parse_weekday(day).ok_or_else(bad)?;
            Ok(Digest::Weekly(day, parse_hh_mm(time).ok_or_else(bad)?))
        }
        _ => Err(bad()),
    }
}

fn parse_hh_mm(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.to_ascii_lowercase();
    [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
        Weekday::Sat,
        Weekday::Sun,
    ]
    .into_iter()
    .find(|&d| {
        let name = weekday_name(d);
        lower == name || lower == name[..3]
    })
}

/// A secret value (client secret, password) written in the config file. Its `Debug` output is
/// redacted and it has no `Display`: read it with [`Secret::expose`] where it is sent.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that sends it to the provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret comes from: the file itself (`client_secret = "…"`) or an environment variable
/// named by a `*_env` key (`client_secret_env = "VAR"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Inline(Secret),
    /// The name of an environment variable.
    Env(String),
}

/// A `*_env` key names a variable that is not set (or is empty) at the time the secret is needed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {var} is not set")]
pub struct MissingEnv {
    pub var: String,
}

impl SecretSource {
    /// The secret, reading the environment through `env` when it is named there.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Secret, MissingEnv> {
        match self {
            SecretSource::Inline(s) => Ok(s.clone()),
            SecretSource::Env(var) => match env(var) {
                Some(v) if !v.is_empty() => Ok(Secret(v)),
                _ => Err(MissingEnv { var: var.clone() }),
            },
        }
    }

    /// [`Self::resolve`] against the process environment.
    pub fn resolve_from_env(&self) -> Result<Secret, MissingEnv> {
        self.resolve(|var| std::env::var(var).ok())
    }
}

/// A URL that may carry a credential (a private iCalendar address, a Slack webhook). `Debug`
/// and [`SensitiveUrl::redacted`] show only the scheme and host.
#[derive(Clone, PartialEq, Eq)]
pub struct SensitiveUrl(String);

impl SensitiveUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The full URL, for the request itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://host/…`: safe for logs and status output.
    pub fn redacted(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, rest)) => {
                let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
                // Drop any userinfo (`user:pass@host`).
                let host = authority.rsplit('@').next().unwrap_or(authority);
                format!("{scheme}://{host}/…")
            }
            None => "<redacted>".to_owned(),
        }
    }
}

impl fmt::Debug for SensitiveUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SensitiveUrl({:?})", self.redacted())
    }
}

/// Checks an `http://` or `https://` URL with a host; returns it without trailing slashes.
pub fn parse_http_url(text: &str) -> Result<String, String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("invalid URL {text:?}: expected an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || text.chars().any(char::is_whitespace) {
        return Err(format!(
            "invalid URL {text:?}: expected an http:// or https:// URL with a host"
        ));
    }
    Ok(text.trim_end_matches('/').to_owned())
}

/// A plausible e-mail address: no spaces, exactly one `@`, something on both sides.
pub fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(local), Some(domain), None) => {
            !local.is_empty()
                && !domain.is_empty()
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        }
        _ => false,
    }
}

/// A portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A `[daemon] hosts` entry: a DNS name or IP literal (`[v6]` in brackets), optionally with
/// `:port`; returned in lower case.
pub fn parse_host(s: &str) -> Result<String, String> {
    let bad = || {
        format!(
            "invalid host {s:?}: expected a name like \"cadenced.example.com\" or \"cadenced.example.com:443\" (no scheme, no path)"
        )
    };
    let lower = s.trim().to_ascii_lowercase();
    let (name, port) = split_host_port(&lower).ok_or_else(bad)?;
    if let Some(p) = port
        && p.parse::<u16>().ok().filter(|p| *p > 0).is_none()
    {
        return Err(bad());
    }
    let ip = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .map_or_else(
            || name.parse::<std::net::IpAddr>().is_ok(),
            |v6| v6.parse::<std::net::Ipv6Addr>().is_ok(),
        );
    let dns = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if ip || dns { Ok(lower) } else { Err(bad()) }
}

/// `name[:port]` of a `Host` value (`[v6]:port` included); `None` when malformed.
pub fn split_host_port(host: &str) -> Option<(&str, Option<&str>)> {
    if host.starts_with('[') {
        let end = host.find(']')?;
        let (name, rest) = host.split_at(end + 1);
        return match rest {
            "" => Some((name, None)),
            _ => Some((name, Some(rest.strip_prefix(':')?))),
        };
    }
    match host.split_once(':') {
        Some((name, port)) if !port.contains(':') => Some((name, Some(port))),
        Some(_) => None,
        None => Some((host, None)),
    }
}

/// `[manager] working_hours`: `"Mon-Fri 09:00-18:00"`, or days listed with commas
/// (`"Mon,Tue,Thu 10:00-16:30"`); the end is after the start, both on the same day.
pub fn parse_working_hours(text: &str) -> Result<super::types::WorkingHours, String> {
    use chrono::NaiveTime;
    let bad = |why: &str| {
        format!(
            "invalid working hours {text:?}: {why} (expected days and a span like \"Mon-Fri 09:00-18:00\")"
        )
    };
    let (days_text, span) = text
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(|| bad("missing the time span"))?;
    const NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |s: &str| {
        NAMES
            .iter()
            .position(|n| s.trim().eq_ignore_ascii_case(n))
            .ok_or_else(|| bad(&format!("unknown day {:?}", s.trim())))
    };
    let mut days = [false; 7];
    for part in days_text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if b < a {
                    return Err(bad("a day range runs from Monday towards Sunday"));
                }
                days[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => days[day(part)?] = true,
        }
    }
    let (start, end) = span
        .trim()
        .split_once('-')
        .ok_or_else(|| bad("the span needs a start and an end"))?;
    let time = |s: &str| {
        NaiveTime::parse_from_str(s.trim(), "%H:%M")
            .map_err(|_| bad(&format!("bad time {:?}", s.trim())))
    };
    let (start, end) = (time(start)?, time(end)?);
    if end <= start {
        return Err(bad("the end must come after the start"));
    }
    Ok(super::types::WorkingHours { days, start, end })
}

#[cfg(test)]
mod tests {
    #[test]
    fn working_hours_parse_ranges_lists_and_refuse_nonsense() {
        let h = parse_working_hours("Mon-Fri 09:00-18:00").unwrap();
        assert_eq!(h, super::super::types::WorkingHours::default());
        let h = parse_working_hours("tue,Thu,sat-sun 10:30-16:00").unwrap();
        assert_eq!(h.days, [false, true, false, true, false, true, true]);
        assert_eq!(h.start, chrono::NaiveTime::from_hms_opt(10, 30, 0).unwrap());
        for bad in [
            "Mon-Fri",
            "Fri-Mon 09:00-18:00",
            "Mon 18:00-09:00",
            "Xyz 09:00-10:00",
            "Mon 9-10",
        ] {
            let e = parse_working_hours(bad).unwrap_err();
            assert!(e.contains("invalid working hours"), "{bad}: {e}");
        }
    }

    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap().as_secs(), 30);
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("12h").unwrap().as_secs(), 43_200);
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172_800);
        assert_eq!(parse_duration("400d").unwrap().as_secs(), 400 * 86_400);
        assert_eq!(parse_duration("2w").unwrap().as_secs(), 14 * 86_400);
        assert_eq!(parse_duration("1h30m").unwrap().as_secs(), 5_400);
        assert_eq!(parse_duration("0s").unwrap().as_secs(), 0);
        assert_eq!(
            parse_duration("5m").unwrap().as_std(),
            std::time::Duration::from_secs(300)
        );
        assert_eq!(
            parse_duration("2d").unwrap().as_chrono(),
            chrono::Duration::days(2)
        );
        for bad in [
            "",
            "5",
            "m",
            "5x",
            "5 m",
            "-5m",
            "1.5h",
            "5M",
            "d5",
            "99999999999999999999d",
            "40000d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn duration_display_round_trips() {
        for text in ["400d", "2w", "5m", "90s", "12h", "0s"] {
            assert_eq!(parse_duration(text).unwrap().to_string(), text);
        }
        assert_eq!(parse_duration("14d").unwrap().to_string(), "2w");
    }

    #[test]
    fn cadences() {
        assert_eq!(parse_cadence("weekly").unwrap().days(), 7);
        assert_eq!(parse_cadence("biweekly").unwrap().days(), 14);
        assert_eq!(parse_cadence("monthly").unwrap().days(), 30);
        assert_eq!(parse_cadence("10d").unwrap(), Cadence::Days(10));
        assert_eq!(parse_cadence("2w").unwrap(), Cadence::Days(14));
        assert_eq!(parse_cadence("1w").unwrap(), Cadence::Days(7));
        assert!(parse_cadence("0w").is_err() && parse_cadence("60w").is_err());
        assert!(parse_cadence("w").is_err() && parse_cadence("2x").is_err());
        assert_eq!(
            parse_date("2026-11-09").unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 9).unwrap()
        );
        assert!(parse_date("2026-13-01").is_err() && parse_date("next week").is_err());
        assert_eq!(parse_cadence("10d").unwrap().to_string(), "10d");
        for bad in [
            "fortnightly",
            "0d",
            "d",
            "Weekly",
            "-3d",
            "366d",
            "1.5d",
            "",
        ] {
            assert!(parse_cadence(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(
            parse_cadence("fortnightly")
                .unwrap_err()
                .contains("fortnightly")
        );
    }

    #[test]
    fn digests() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert_eq!(parse_digest("immediate").unwrap(), Digest::Immediate);
        assert_eq!(parse_digest("daily 09:00").unwrap(), Digest::Daily(t(9, 0)));
        assert_eq!(parse_digest("daily 7:05").unwrap(), Digest::Daily(t(7, 5)));
        assert_eq!(
            parse_digest("weekly Monday 17:30").unwrap(),
            Digest::Weekly(Weekday::Mon, t(17, 30))
        );
        assert_eq!(
            parse_digest("weekly fri 08:00").unwrap(),
            Digest::Weekly(Weekday::Fri, t(8, 0))
        );
        assert_eq!(
            parse_digest("weekly fri 08:00").unwrap().to_string(),
            "weekly friday 08:00"
        );
        for bad in [
            "hourly",
            "daily",
            "daily 24:00",
            "daily 9",
            "daily 09:0",
            "weekly 09:00",
            "weekly funday 09:00",
            "immediate now",
        ] {
            assert!(parse_digest(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let s = SecretSource::Inline(Secret::new("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
        let u = SensitiveUrl::new(
            "https://user:pw@calendar.example.com/private-abc123/basic.ics?token=xyz",
        );
        let shown = format!("{u:?}");
        assert!(
            !shown.contains("abc123") && !shown.contains("xyz") && !shown.contains("pw"),
            "{shown}"
        );
        assert!(shown.contains("calendar.example.com"));
    }

    #[test]
    fn secret_from_env() {
        let src = SecretSource::Env("MY_SECRET".into());
        let env = |v: &str| (v == "MY_SECRET").then(|| "s3".to_owned());
        assert_eq!(src.resolve(env).unwrap().expose(), "s3");
        assert_eq!(src.resolve(|_| None).unwrap_err().var, "MY_SECRET");
    }

    #[test]
    fn small_grammars() {
        assert!(
            is_email("a@b.c")
                && !is_email("a b@c")
                && !is_email("a@")
                && !is_email("a@@b")
                && !is_email("ab")
        );
        assert!(
            is_env_name("CADENCED_X1")
                && is_env_name("_x")
                && !is_env_name("1X")
                && !is_env_name("A-B")
                && !is_env_name("")
        );
        assert_eq!(
            parse_http_url("https://graph.microsoft.com/v1.0/").unwrap(),
            "https://graph.microsoft.com/v1.0"
        );
        assert!(parse_http_url("ftp://x").is_err() && parse_http_url("https://").is_err());
    }
}
