//! Time helpers: RFC 3339 parsing, EventDateTime → instant, RRULE UNTIL, Google's formats.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Value, json};

/// `2025-03-23T10:41:35.252Z`: the form of `created`/`updated` in real bodies (§3).
pub fn google_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn parse_tz(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// RFC 3339 with a mandatory offset (§2.2 `timeMin`/`timeMax`).
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn local_to_utc(local: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

/// The instant of an EventDateTime: `dateTime` with offset, `dateTime` + `timeZone`, or `date`
/// (midnight in the calendar's zone).
pub fn edt_instant(edt: &Value, calendar_tz: Tz) -> Option<DateTime<Utc>> {
    let zone = edt
        .get("timeZone")
        .and_then(Value::as_str)
        .and_then(parse_tz)
        .unwrap_or(calendar_tz);
    if let Some(dt) = edt.get("dateTime").and_then(Value::as_str) {
        if let Some(t) = parse_rfc3339(dt) {
            return Some(t);
        }
        let local = NaiveDateTime::parse_from_str(dt, "%Y-%m-%dT%H:%M:%S").ok()?;
        return local_to_utc(local, zone);
    }
    let date = edt.get("date").and_then(Value::as_str)?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    local_to_utc(date.and_time(chrono::NaiveTime::MIN), calendar_tz)
}

/// The latest UNTIL over the RRULE lines, or None when any rule is unbounded (no UNTIL; COUNT is
/// treated as unbounded, a documented over-approximation).
pub fn series_until(recurrence: &[Value], calendar_tz: Tz) -> Option<DateTime<Utc>> {
    let mut latest: Option<DateTime<Utc>> = None;
    let mut any_rule = false;
    for line in recurrence.iter().filter_map(Value::as_str) {
        let Some(rule) = line.strip_prefix("RRULE:") else {
            continue;
        };
        any_rule = true;
        let until = rule
            .split(';')
            .find_map(|part| part.strip_prefix("UNTIL="))?;
        let t = if let Some(utc) = until.strip_suffix('Z') {
            NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
                .ok()
                .map(|n| n.and_utc())
        } else if until.len() == 8 {
            NaiveDate::parse_from_str(until, "%Y%m%d")
                .ok()
                .and_then(|d| local_to_utc(d.and_hms_opt(23, 59, 59)?, calendar_tz))
        } else {
            NaiveDateTime::parse_from_str(until, "%Y%m%dT%H%M%S")
                .ok()
                .and_then(|n| local_to_utc(n, calendar_tz))
        }?;
        latest = Some(latest.map_or(t, |l| l.max(t)));
    }
    if any_rule { latest } else { None }
}

/// `YYYYMMDDTHHMMSSZ`, the suffix of instance ids (§2.3).
pub fn basic_utc(t: DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Inverse of [`basic_utc`], also accepting the all-day form `YYYYMMDD`.
pub fn parse_instance_suffix(s: &str) -> Option<InstanceStart> {
    if let Some(utc) = s.strip_suffix('Z') {
        let n = NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S").ok()?;
        return Some(InstanceStart::Timed(n.and_utc()));
    }
    if s.len() == 8 {
        return NaiveDate::parse_from_str(s, "%Y%m%d")
            .ok()
            .map(InstanceStart::AllDay);
    }
    None
}

/// An instance's original start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InstanceStart {
    Timed(DateTime<Utc>),
    AllDay(NaiveDate),
}

impl InstanceStart {
    /// Parses a test-supplied original start: RFC 3339 with offset, or `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<InstanceStart> {
        if let Some(t) = parse_rfc3339(s) {
            return Some(InstanceStart::Timed(t));
        }
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(InstanceStart::AllDay)
    }

    /// The id suffix: `YYYYMMDDTHHMMSSZ`, or `YYYYMMDD` for all-day (that form is unverified).
    pub fn id_suffix(self) -> String {
        match self {
            InstanceStart::Timed(t) => basic_utc(t),
            InstanceStart::AllDay(d) => d.format("%Y%m%d").to_string(),
        }
    }

    /// The EventDateTime for `originalStartTime`/`start`, written in the master's zone the way the
    /// real samples do: `{"dateTime":"2025-03-25T08:00:00-05:00","timeZone":"America/Chicago"}`.
    pub fn to_edt(self, zone_name: Option<&str>) -> Value {
        match self {
            InstanceStart::AllDay(d) => json!({"date": d.format("%Y-%m-%d").to_string()}),
            InstanceStart::Timed(t) => match zone_name.and_then(parse_tz) {
                Some(tz) => json!({
                    "dateTime": t.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false),
                    "timeZone": zone_name,
                }),
                None => json!({"dateTime": t.to_rfc3339_opts(SecondsFormat::Secs, true)}),
            },
        }
    }

    /// This start shifted by `d`, as an EventDateTime in the same form.
    pub fn plus_edt(self, d: chrono::Duration, zone_name: Option<&str>) -> Value {
        match self {
            InstanceStart::AllDay(date) => {
                let days = d.num_days().max(1);
                InstanceStart::AllDay(date + chrono::Duration::days(days)).to_edt(zone_name)
            }
            InstanceStart::Timed(t) => InstanceStart::Timed(t + d).to_edt(zone_name),
        }
    }
}
