//! Time zones: what a TZID means, and wall-clock ⇄ instant conversion by RFC 5545 rules.
//!
//! A [`Zone`] is UTC, an IANA zone (chrono-tz), or a custom zone defined by an iCalendar VTIMEZONE
//! block (Outlook's "Customized Time Zone" and other names no database knows).
//!
//! Conversion rules (RFC 5545 §3.3.5): a local time inside a spring-forward gap is moved forward by
//! the gap's length (it is read with the offset in force before the gap); a local time inside a
//! fall-back overlap is the first (earlier) of the two instants.
//!
//! VTIMEZONE evaluation lives in `vtimezone`; IANA names and Windows names are resolved by `names`.

mod names;
mod vtimezone;

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDateTime, Offset, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub use names::resolve_name;

/// A time zone an event time can be expressed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zone {
    Utc,
    Iana(chrono_tz::Tz),
    Custom(Arc<CustomZone>),
}

/// A zone defined by a VTIMEZONE component (RFC 5545 §3.6.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomZone {
    pub tzid: String,
    pub observances: Vec<Observance>,
}

/// One STANDARD or DAYLIGHT sub-component of a VTIMEZONE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observance {
    pub daylight: bool,
    /// Local onset (in the offset *before* the transition, `offset_from`).
    pub dtstart: NaiveDateTime,
    /// Seconds east of UTC.
    pub offset_from: i32,
    pub offset_to: i32,
    /// RRULE value (without `RRULE:`), usually yearly.
    pub rrule: Option<String>,
    pub rdates: Vec<NaiveDateTime>,
}

impl Zone {
    /// The name to show for this zone (IANA name, `UTC`, or the VTIMEZONE's TZID).
    pub fn name(&self) -> &str {
        match self {
            Zone::Utc => "UTC",
            Zone::Iana(tz) => tz.name(),
            Zone::Custom(c) => &c.tzid,
        }
    }

    /// The instant of a wall-clock time in this zone (gap: forward; overlap: earlier).
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Utc => local.and_utc(),
            Zone::Iana(tz) => iana_to_utc(tz, local),
            Zone::Custom(c) => c.to_utc(local),
        }
    }

    /// The wall-clock time of an instant in this zone.
    pub fn from_utc(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        match self {
            Zone::Utc => instant.naive_utc(),
            Zone::Iana(tz) => instant.with_timezone(tz).naive_local(),
            Zone::Custom(c) => c.from_utc(instant),
        }
    }
}

fn iana_to_utc(tz: &chrono_tz::Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        chrono::LocalResult::None => {
            // In a gap: read the time with the offset in force before the gap. Transitions are
            // never closer together than a day, so the offset a day earlier is the one before.
            let before = local - Duration::days(1);
            let offset = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
            (local - Duration::seconds(i64::from(offset))).and_utc()
        }
    }
}

impl CustomZone {
    /// The instant of a wall-clock time in this zone (same rules as [`Zone::to_utc`]).
    ///
    /// The observances are evaluated (DTSTART + RRULE + RDATE onsets, each in `offset_from`);
    /// before the first onset its `offset_from` applies.
    pub fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        vtimezone::to_utc(self, local)
    }

    /// The wall-clock time of an instant in this zone.
    pub fn from_utc(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        vtimezone::from_utc(self, instant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    #[test]
    fn spring_gap_moves_forward() {
        let z = Zone::Iana(chrono_tz::America::New_York);
        assert_eq!(
            z.to_utc(at(2025, 3, 9, 2, 30)).to_rfc3339(),
            "2025-03-09T07:30:00+00:00"
        );
    }

    #[test]
    fn fall_overlap_takes_first() {
        let z = Zone::Iana(chrono_tz::Europe::Berlin);
        assert_eq!(
            z.to_utc(at(2025, 10, 26, 2, 30)).to_rfc3339(),
            "2025-10-26T00:30:00+00:00"
        );
    }
}
