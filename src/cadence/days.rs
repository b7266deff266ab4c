//! Days as people read them (docs/cadence-rules.md, "Days"): calendar days in the manager's zone between an
//! event's date and today's date. Every text (table, dashboard, messages, digests) uses this one
//! rule, so the table and the alert never disagree by one.

use chrono::{DateTime, Utc};

use crate::tz::Zone;

/// Calendar days in `zone` from the date of `from` to the date of `to` (negative when `to`'s
/// date is earlier).
pub fn calendar_days(zone: &Zone, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
    (zone.from_utc(to).date() - zone.from_utc(from).date()).num_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn counts_dates_in_the_zone_not_elapsed_hours() {
        let tokyo = Zone::Iana(chrono_tz::Asia::Tokyo);
        // 23:30 on Nov 1 in Tokyo to 00:30 on Nov 2: one calendar day, one hour elapsed.
        let a = Utc.with_ymd_and_hms(2026, 11, 1, 14, 30, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 11, 1, 15, 30, 0).unwrap();
        assert_eq!(calendar_days(&tokyo, a, b), 1);
        assert_eq!(calendar_days(&Zone::Utc, a, b), 0);
        // 46.9 days elapsed across 47 dates is 47, the same figure everywhere.
        let c = Utc.with_ymd_and_hms(2026, 10, 8, 6, 0, 0).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 24, 0, 0, 0).unwrap();
        assert_eq!(calendar_days(&tokyo, c, now), 47);
        assert_eq!(calendar_days(&tokyo, now, c), -47);
    }
}
