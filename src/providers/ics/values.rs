//! Value types: DATE, DATE-TIME, DURATION, PERIOD, UTC-OFFSET (RFC 5545 §3.3).
//!
//! Tolerant of common deviations: ISO-extended separators (`2025-01-06T09:00:00Z`), missing
//! seconds (`T0900`), fractional seconds, a leap second `60`.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// A DATE or DATE-TIME as written, before any zone is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawTime {
    Date(NaiveDate),
    DateTime { local: NaiveDateTime, utc: bool },
}

impl RawTime {
    pub fn local(self) -> NaiveDateTime {
        match self {
            RawTime::Date(d) => d.and_time(NaiveTime::MIN),
            RawTime::DateTime { local, .. } => local,
        }
    }
}

/// Parse a DATE (`20250106`) or DATE-TIME (`20250106T090000`, `…Z`). The shape of the value
/// decides, not the `VALUE=` parameter (exporters get that wrong both ways).
pub(crate) fn parse_time(s: &str) -> Option<RawTime> {
    let s = s.trim();
    let (date_part, time_part) = match s.find(['T', 't']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let date = parse_date(date_part)?;
    let Some(time_part) = time_part else {
        return Some(RawTime::Date(date));
    };
    let (time_part, utc) = match time_part.strip_suffix(['Z', 'z']) {
        Some(t) => (t, true),
        None => (time_part, false),
    };
    let time_part = time_part.split('.').next().unwrap_or(time_part);
    let digits: String = time_part.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m, sec) = match digits.len() {
        6 => (
            num(&digits[0..2])?,
            num(&digits[2..4])?,
            num(&digits[4..6])?,
        ),
        4 => (num(&digits[0..2])?, num(&digits[2..4])?, 0),
        _ => return None,
    };
    let time = NaiveTime::from_hms_opt(h, m, sec.min(59))?;
    Some(RawTime::DateTime {
        local: date.and_time(time),
        utc,
    })
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    let digits: String = s.chars().filter(|c| *c != '-').collect();
    if digits.len() != 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let y: i32 = digits[0..4].parse().ok()?;
    NaiveDate::from_ymd_opt(y, num(&digits[4..6])?, num(&digits[6..8])?)
}

fn num(s: &str) -> Option<u32> {
    s.parse().ok()
}

/// A DURATION: whole days (nominal, wall-clock) plus exact seconds, with a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IcsDuration {
    pub negative: bool,
    /// Weeks × 7 + days.
    pub days: i64,
    /// Hours, minutes and seconds.
    pub seconds: i64,
}

impl IcsDuration {
    /// The signed exact length (days counted as 24 hours).
    pub fn as_chrono(self) -> Duration {
        let d = Duration::days(self.days) + Duration::seconds(self.seconds);
        if self.negative { -d } else { d }
    }
}

/// Parse `P1W`, `P2D`, `PT1H30M`, `-P1DT2H`, `+PT15M`.
pub(crate) fn parse_duration(s: &str) -> Option<IcsDuration> {
    let s = s.trim();
    let (negative, rest) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let rest = rest.strip_prefix(['P', 'p'])?;
    let mut days = 0i64;
    let mut seconds = 0i64;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in rest.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => number.push(c),
            'T' if number.is_empty() => in_time = true,
            unit => {
                let n: i64 = number.parse().ok()?;
                number.clear();
                any = true;
                match (unit, in_time) {
                    ('W', false) => days = days.checked_add(n.checked_mul(7)?)?,
                    ('D', false) => days = days.checked_add(n)?,
                    ('H', true) => seconds = seconds.checked_add(n.checked_mul(3600)?)?,
                    ('M', true) => seconds = seconds.checked_add(n.checked_mul(60)?)?,
                    ('S', true) => seconds = seconds.checked_add(n)?,
                    _ => return None,
                }
            }
        }
    }
    if !number.is_empty() || !any || days > 1_000_000 || seconds > 100_000_000 {
        return None;
    }
    Some(IcsDuration {
        negative,
        days,
        seconds,
    })
}

/// Parse a UTC-OFFSET (`+0100`, `-0530`, `+013045`) into seconds east of UTC.
pub(crate) fn parse_utc_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    let sec: i32 = if digits.len() == 6 {
        digits[4..6].parse().ok()?
    } else {
        0
    };
    if h > 23 || m > 59 || sec > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60 + sec))
}

/// One item of a PERIOD value: `start/end` or `start/duration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeriodEnd {
    At(RawTime),
    After(IcsDuration),
}

pub(crate) fn parse_period(s: &str) -> Option<(RawTime, PeriodEnd)> {
    let (start, end) = s.split_once('/')?;
    let start = parse_time(start)?;
    let end = match end.trim().as_bytes().first()? {
        b'P' | b'p' | b'+' | b'-' => PeriodEnd::After(parse_duration(end)?),
        _ => PeriodEnd::At(parse_time(end)?),
    };
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("20250106"),
            Some(RawTime::Date(NaiveDate::from_ymd_opt(2025, 1, 6).unwrap()))
        );
        assert_eq!(
            parse_time("20250106T090000Z"),
            Some(RawTime::DateTime {
                local: dt("2025-01-06 09:00:00"),
                utc: true
            })
        );
        assert_eq!(
            parse_time("2025-01-06T09:30"),
            Some(RawTime::DateTime {
                local: dt("2025-01-06 09:30:00"),
                utc: false
            })
        );
        assert_eq!(
            parse_time("20250106T090060.000Z"),
            Some(RawTime::DateTime {
                local: dt("2025-01-06 09:00:59"),
                utc: true
            })
        );
        assert_eq!(parse_time("20250230"), None);
        assert_eq!(parse_time("2025016T0900"), None);
        assert_eq!(parse_time("20250106T25"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("P1W"),
            Some(IcsDuration {
                negative: false,
                days: 7,
                seconds: 0
            })
        );
        assert_eq!(
            parse_duration("-P1DT2H3M4S"),
            Some(IcsDuration {
                negative: true,
                days: 1,
                seconds: 7384
            })
        );
        assert_eq!(
            parse_duration("PT15M").map(|d| d.as_chrono()),
            Some(Duration::minutes(15))
        );
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT"), None);
        assert_eq!(parse_duration("P1H"), None);
        assert_eq!(parse_duration("1H"), None);
        assert_eq!(parse_duration("P5"), None);
    }

    #[test]
    fn offsets_and_periods() {
        assert_eq!(parse_utc_offset("+0100"), Some(3600));
        assert_eq!(parse_utc_offset("-0530"), Some(-19800));
        assert_eq!(parse_utc_offset("+5328"), None);
        assert!(matches!(
            parse_period("20250106T090000Z/PT1H"),
            Some((_, PeriodEnd::After(IcsDuration { seconds: 3600, .. })))
        ));
        assert!(matches!(
            parse_period("20250106T090000Z/20250106T100000Z"),
            Some((_, PeriodEnd::At(_)))
        ));
    }
}
