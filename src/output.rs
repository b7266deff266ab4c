//! Machine-readable outputs: the `events --json` line format (docs/design.md, `events --json`: a
//! contract), and the time and figure formats every output shares (`rfc3339`, `round1`).
//!
//! Zoned times print in UTC (`2026-11-24T01:00:00Z`), floating times without a suffix
//! (`2026-11-24T10:00:00`), all-day dates as `YYYY-MM-DD`.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::model::EventTime;
use crate::recurrence::Occurrence;

/// Format an event time the way every output of cadenced does.
///
/// ```
/// use cadenced::{model::EventTime, output::format_time, tz::Zone};
/// let local = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(10, 0, 0).unwrap();
/// let tokyo = Zone::Iana(chrono_tz::Asia::Tokyo);
/// assert_eq!(format_time(&EventTime::Zoned { local, zone: tokyo }), "2026-11-24T01:00:00Z");
/// assert_eq!(format_time(&EventTime::Floating { local }), "2026-11-24T10:00:00");
/// assert_eq!(format_time(&EventTime::Date { date: local.date() }), "2026-11-24");
/// ```
pub fn format_time(t: &EventTime) -> String {
    match t {
        EventTime::Zoned { local, zone } => {
            zone.to_utc(*local).format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }
        EventTime::Floating { local } => local.format("%Y-%m-%dT%H:%M:%S").to_string(),
        EventTime::Date { date } => date.format("%Y-%m-%d").to_string(),
    }
}

#[derive(Debug, Serialize)]
pub struct EventLine<'a> {
    pub account: &'a str,
    pub calendar: &'a str,
    pub uid: &'a str,
    pub event_id: &'a str,
    pub series_id: Option<&'a str>,
    pub recurrence_id: Option<String>,
    pub start: String,
    pub end: String,
    pub all_day: bool,
    pub status: &'static str,
    pub summary: &'a str,
    pub organizer: Option<&'a str>,
    pub attendees: Vec<AttendeeLine<'a>>,
}

#[derive(Debug, Serialize)]
pub struct AttendeeLine<'a> {
    pub email: &'a str,
    pub response: &'static str,
    pub resource: bool,
}

impl<'a> EventLine<'a> {
    pub fn new(account: &'a str, occ: &'a Occurrence<'a>) -> Self {
        let e = occ.event;
        EventLine {
            account,
            calendar: &e.calendar,
            uid: &e.uid,
            event_id: &occ.event_id,
            series_id: occ.series_id,
            recurrence_id: occ.recurrence_id.as_ref().map(format_time),
            start: format_time(&occ.start),
            end: format_time(&occ.end),
            all_day: occ.start.is_date(),
            status: occ.status.as_str(),
            summary: &e.summary,
            organizer: e.organizer.as_ref().map(|p| p.email.as_str()),
            attendees: e
                .attendees
                .iter()
                .map(|a| AttendeeLine {
                    email: &a.email,
                    response: a.response.as_str(),
                    resource: a.resource,
                })
                .collect(),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Rounded to one decimal, as every figure in the report.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::Zone;
    use chrono::NaiveDate;

    #[test]
    fn formats_the_three_time_forms() {
        let local = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap();
        let zoned = EventTime::Zoned {
            local,
            zone: Zone::Iana(chrono_tz::Asia::Tokyo),
        };
        assert_eq!(format_time(&zoned), "2026-11-24T01:00:00Z");
        assert_eq!(
            format_time(&EventTime::Floating { local }),
            "2026-11-24T10:00:00"
        );
        assert_eq!(
            format_time(&EventTime::Date { date: local.date() }),
            "2026-11-24"
        );
    }
}
