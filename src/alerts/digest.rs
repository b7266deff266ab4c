//! Digest scheduling (`[alerts] digest = "daily HH:MM" | "weekly DAY HH:MM"`, in the manager's
//! zone).
//!
//! A *slot* is one scheduled instant. At `now` the slot that matters is the latest one at or
//! before `now` ([`latest_slot`]); it is due when it is later than the last slot handled. So a
//! daemon that was down over several slots handles only the latest one when it comes back (one
//! digest, not one per missed day), and a slot is handled once whatever the number of cycles.
//!
//! Local times follow the crate's rule (RFC 5545): a time in a DST gap moves forward by the gap
//! (02:30 on the spring-forward night is 03:30), a time in an overlap is the earlier instant.
//! Everything is a function of `now`; the machine's zone is never used.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};

use crate::config::Digest;
use crate::tz::Zone;

/// The instant of `time` on local `date` in `zone`.
fn at(zone: &Zone, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    zone.to_utc(date.and_time(time))
}

/// The latest slot at or before `now`; `None` for `immediate`.
pub fn latest_slot(digest: Digest, zone: &Zone, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let today = zone.from_utc(now).date();
    // A few days back is always enough: a local day is at most 26 hours long.
    let (step, time, first): (i64, NaiveTime, NaiveDate) = match digest {
        Digest::Immediate => return None,
        Digest::Daily(t) => (1, t, today),
        Digest::Weekly(day, t) => {
            let back =
                (7 + today.weekday().num_days_from_monday() - day.num_days_from_monday()) % 7;
            (7, t, today - Duration::days(i64::from(back)))
        }
    };
    (0..4)
        .map(|k| at(zone, first - Duration::days(step * k), time))
        .find(|slot| *slot <= now)
}

/// Is the digest for the latest slot due, given the last slot handled? Returns that slot.
pub fn due_slot(
    digest: Digest,
    zone: &Zone,
    last_handled: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let slot = latest_slot(digest, zone, now)?;
    match last_handled {
        Some(last) if last >= slot => None,
        _ => Some(slot),
    }
}

/// The weekday's English name, as the config spells it.
pub fn weekday_name(d: Weekday) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn berlin() -> Zone {
        Zone::Iana(chrono_tz::Europe::Berlin)
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn daily_slots_follow_local_time_across_dst() {
        let d = Digest::Daily(hm(9, 0));
        // Winter (CET, UTC+1): 09:00 is 08:00Z.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-03-28T08:00:00Z")),
            Some(t("2026-03-28T08:00:00Z"))
        );
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-03-28T07:59:59Z")),
            Some(t("2026-03-27T08:00:00Z"))
        );
        // The morning after the change (CEST, UTC+2): 09:00 is 07:00Z.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-03-29T06:59:59Z")),
            Some(t("2026-03-28T08:00:00Z"))
        );
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-03-29T07:00:00Z")),
            Some(t("2026-03-29T07:00:00Z"))
        );
        // Autumn back to CET.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-10-25T08:00:00Z")),
            Some(t("2026-10-25T08:00:00Z"))
        );
    }

    #[test]
    fn a_time_in_the_gap_moves_forward_and_an_overlap_takes_the_first() {
        let d = Digest::Daily(hm(2, 30));
        // 02:30 does not exist on 2026-03-29 in Berlin: 03:30 CEST = 01:30Z.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-03-29T12:00:00Z")),
            Some(t("2026-03-29T01:30:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the first (CEST) is 00:30Z.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-10-25T00:45:00Z")),
            Some(t("2026-10-25T00:30:00Z"))
        );
    }

    #[test]
    fn weekly_slots_and_missed_days() {
        let d = Digest::Weekly(Weekday::Mon, hm(9, 0));
        // Wednesday 2026-11-25: the last Monday 09:00 Berlin was 2026-11-23 08:00Z.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-11-25T12:00:00Z")),
            Some(t("2026-11-23T08:00:00Z"))
        );
        // Monday before 09:00: the previous week's.
        assert_eq!(
            latest_slot(d, &berlin(), t("2026-11-23T07:00:00Z")),
            Some(t("2026-11-16T08:00:00Z"))
        );
        // Down for days: one due slot (the latest), then nothing.
        let daily = Digest::Daily(hm(9, 0));
        let last = Some(t("2026-11-20T08:00:00Z"));
        let now = t("2026-11-24T12:00:00Z");
        assert_eq!(
            due_slot(daily, &berlin(), last, now),
            Some(t("2026-11-24T08:00:00Z"))
        );
        assert_eq!(
            due_slot(daily, &berlin(), Some(t("2026-11-24T08:00:00Z")), now),
            None
        );
        assert_eq!(latest_slot(Digest::Immediate, &berlin(), now), None);
    }
}
