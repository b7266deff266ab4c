//! Time zones (Windows names → IANA, §3.5) and expansion of `patternedRecurrence` (§3.2).
//!
//! Supported: `daily`, `weekly` (interval, daysOfWeek, firstDayOfWeek), `absoluteMonthly`,
//! `relativeMonthly`, `absoluteYearly`, `relativeYearly`; ranges `endDate` (inclusive, local
//! date), `numbered`, `noEnd`. A `dayOfMonth` past the month's end falls on the month's last day
//! (Outlook's behaviour as generally understood: UNVERIFIED). Local times that fall in a DST gap
//! move forward by the gap; ambiguous ones take the earlier instant.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde_json::Value;

/// The Windows zone names the fake knows (CLDR windowsZones, territory 001), plus `UTC`.
const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("UTC", "UTC"),
    ("Coordinated Universal Time", "UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Eastern Standard Time", "America/New_York"),
    ("Central Standard Time", "America/Chicago"),
    ("Mountain Standard Time", "America/Denver"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("India Standard Time", "Asia/Calcutta"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
];

/// A Windows name from the table above, or an IANA name.
pub fn zone(name: &str) -> Option<Tz> {
    let name = name.trim().trim_matches('"');
    WINDOWS_ZONES
        .iter()
        .find(|(w, _)| w.eq_ignore_ascii_case(name))
        .and_then(|(_, iana)| iana.parse().ok())
        .or_else(|| name.parse().ok())
}

/// Graph's `dateTime` form: seven fractional digits, no offset (§3.1).
pub fn fmt_local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .naive_local()
        .format("%Y-%m-%dT%H:%M:%S.0000000")
        .to_string()
}

/// A wall-clock time in `tz` as an instant (gap: shifted forward; ambiguous: earlier).
pub fn local_to_utc(local: NaiveDateTime, tz: Tz) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        LocalResult::None => {
            let mut probe = local;
            for _ in 0..8 {
                probe += Duration::minutes(30);
                if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                    tz.from_local_datetime(&probe)
                {
                    return t.with_timezone(&Utc) - (probe - local);
                }
            }
            Utc.from_utc_datetime(&local)
        }
    }
}

/// Parses Graph's `dateTime` (with or without fraction, no offset).
pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternType {
    Daily,
    Weekly,
    AbsoluteMonthly,
    RelativeMonthly,
    AbsoluteYearly,
    RelativeYearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeType {
    EndDate(NaiveDate),
    Numbered(u32),
    NoEnd,
}

#[derive(Debug, Clone)]
pub struct Recurrence {
    pub kind: PatternType,
    pub interval: u32,
    pub days: Vec<Weekday>,
    pub day_of_month: u32,
    pub month: u32,
    pub first_day_of_week: Weekday,
    /// 0..=3 for first..fourth, -1 for last.
    pub index: i32,
    pub start: NaiveDate,
    pub range: RangeType,
    /// `range.recurrenceTimeZone` as given (Windows name), if any.
    pub time_zone: Option<String>,
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// Parses a Graph `patternedRecurrence`; an error names what the fake doesn't accept.
pub fn parse(v: &Value) -> Result<Recurrence, String> {
    let p = &v["pattern"];
    let r = &v["range"];
    let kind = match p["type"].as_str().unwrap_or("") {
        "daily" => PatternType::Daily,
        "weekly" => PatternType::Weekly,
        "absoluteMonthly" => PatternType::AbsoluteMonthly,
        "relativeMonthly" => PatternType::RelativeMonthly,
        "absoluteYearly" => PatternType::AbsoluteYearly,
        "relativeYearly" => PatternType::RelativeYearly,
        other => return Err(format!("pattern.type {other:?}")),
    };
    let interval = p["interval"].as_u64().unwrap_or(1) as u32;
    if interval == 0 {
        return Err("pattern.interval 0".into());
    }
    let days: Vec<Weekday> = p["daysOfWeek"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().and_then(weekday))
                .collect()
        })
        .unwrap_or_default();
    let first_day_of_week = p["firstDayOfWeek"]
        .as_str()
        .and_then(weekday)
        .unwrap_or(Weekday::Sun);
    let index = match p["index"].as_str().unwrap_or("first") {
        "first" => 0,
        "second" => 1,
        "third" => 2,
        "fourth" => 3,
        "last" => -1,
        other => return Err(format!("pattern.index {other:?}")),
    };
    let day_of_month = p["dayOfMonth"].as_u64().unwrap_or(0) as u32;
    let month = p["month"].as_u64().unwrap_or(0) as u32;
    match kind {
        PatternType::Weekly | PatternType::RelativeMonthly | PatternType::RelativeYearly
            if days.is_empty() =>
        {
            return Err("pattern.daysOfWeek empty".into());
        }
        PatternType::AbsoluteMonthly | PatternType::AbsoluteYearly
            if !(1..=31).contains(&day_of_month) =>
        {
            return Err("pattern.dayOfMonth out of 1..=31".into());
        }
        _ => {}
    }
    if matches!(
        kind,
        PatternType::AbsoluteYearly | PatternType::RelativeYearly
    ) && !(1..=12).contains(&month)
    {
        return Err("pattern.month out of 1..=12".into());
    }
    let start = r["startDate"]
        .as_str()
        .and_then(date)
        .ok_or("range.startDate")?;
    let range = match r["type"].as_str().unwrap_or("") {
        "endDate" => {
            let end = r["endDate"]
                .as_str()
                .and_then(date)
                .ok_or("range.endDate")?;
            if end < start {
                return Err("range.endDate before startDate".into());
            }
            RangeType::EndDate(end)
        }
        "numbered" => match r["numberOfOccurrences"].as_u64() {
            Some(n) if n >= 1 => RangeType::Numbered(n as u32),
            _ => return Err("range.numberOfOccurrences".into()),
        },
        "noEnd" => RangeType::NoEnd,
        other => return Err(format!("range.type {other:?}")),
    };
    Ok(Recurrence {
        kind,
        interval,
        days,
        day_of_month,
        month,
        first_day_of_week,
        index,
        start,
        range,
        time_zone: r["recurrenceTimeZone"].as_str().map(str::to_string),
    })
}

fn last_day(y: i32, m: u32) -> u32 {
    let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    (NaiveDate::from_ymd_opt(ny, nm, 1).expect("date") - Duration::days(1)).day()
}

fn clamp_day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d.min(last_day(y, m))).expect("date")
}

/// The `index`-th day of month `y-m` whose weekday is in `days` (index -1: the last one).
fn nth_in_month(y: i32, m: u32, days: &[Weekday], index: i32) -> Option<NaiveDate> {
    let matching: Vec<NaiveDate> = (1..=last_day(y, m))
        .map(|d| NaiveDate::from_ymd_opt(y, m, d).expect("date"))
        .filter(|d| days.contains(&d.weekday()))
        .collect();
    if index < 0 {
        matching.last().copied()
    } else {
        matching.get(index as usize).copied()
    }
}

fn add_months(y: i32, m: u32, k: u64) -> (i32, u32) {
    let total = (y as i64) * 12 + (m as i64 - 1) + k as i64;
    ((total / 12) as i32, (total % 12) as u32 + 1)
}

impl Recurrence {
    /// Occurrence dates (local to the recurrence zone) from `startDate` through `until`
    /// (inclusive), honouring the range's end date or count.
    pub fn dates(&self, until: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let limit = match self.range {
            RangeType::EndDate(e) => e.min(until),
            _ => until,
        };
        let max_count = match self.range {
            RangeType::Numbered(n) => n as usize,
            _ => usize::MAX,
        };
        let interval = self.interval as u64;
        let push = |d: NaiveDate, out: &mut Vec<NaiveDate>| -> bool {
            if d < self.start {
                return true;
            }
            if d > limit || out.len() >= max_count {
                return false;
            }
            out.push(d);
            true
        };
        let (sy, sm) = (self.start.year(), self.start.month());
        for k in 0u64..200_000 {
            let go_on = match self.kind {
                PatternType::Daily => {
                    push(self.start + Duration::days((k * interval) as i64), &mut out)
                }
                PatternType::Weekly => {
                    let back = (7 + self.start.weekday().num_days_from_monday()
                        - self.first_day_of_week.num_days_from_monday())
                        % 7;
                    let week = self.start - Duration::days(back as i64)
                        + Duration::days((7 * k * interval) as i64);
                    if week > limit {
                        false
                    } else {
                        let mut ok = true;
                        for i in 0..7 {
                            let d = week + Duration::days(i);
                            if self.days.contains(&d.weekday()) && !push(d, &mut out) {
                                ok = false;
                                break;
                            }
                        }
                        ok
                    }
                }
                PatternType::AbsoluteMonthly | PatternType::RelativeMonthly => {
                    let (y, m) = add_months(sy, sm, k * interval);
                    if NaiveDate::from_ymd_opt(y, m, 1).is_none_or(|f| f > limit) {
                        false
                    } else {
                        let d = if self.kind == PatternType::AbsoluteMonthly {
                            Some(clamp_day(y, m, self.day_of_month))
                        } else {
                            nth_in_month(y, m, &self.days, self.index)
                        };
                        d.is_none_or(|d| push(d, &mut out))
                    }
                }
                PatternType::AbsoluteYearly | PatternType::RelativeYearly => {
                    let y = sy + (k * interval) as i32;
                    if NaiveDate::from_ymd_opt(y, 1, 1).is_none_or(|f| f > limit) {
                        false
                    } else {
                        let d = if self.kind == PatternType::AbsoluteYearly {
                            Some(clamp_day(y, self.month, self.day_of_month))
                        } else {
                            nth_in_month(y, self.month, &self.days, self.index)
                        };
                        d.is_none_or(|d| push(d, &mut out))
                    }
                }
            };
            if !go_on || out.len() >= max_count {
                break;
            }
        }
        out
    }
}
