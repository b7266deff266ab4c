//! Evaluation of VTIMEZONE definitions ([`CustomZone`]): the UTC offset transitions from the
//! STANDARD/DAYLIGHT observances (DTSTART + RRULE + RDATE onsets, each onset a wall-clock time in
//! the offset in force before it, `offset_from`), and conversion between wall clock and instants
//! with the RFC 5545 rules (gap: forward by the gap; overlap: the earlier instant).
//!
//! Compiled transition tables are cached per thread, keyed by the zone's content, and cover the
//! years from the first onset up to a horizon that grows on demand.

use std::cell::RefCell;
use std::rc::Rc;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::CustomZone;
use crate::rrule::{Rule, Until};

/// Transitions are computed at least up to the start of this year.
const MIN_HORIZON_YEAR: i32 = 2100;
/// No zone keeps more transitions than this (a guard against absurd observance rules).
const MAX_TRANSITIONS: usize = 100_000;
/// Zones kept in each thread's cache.
const CACHE_SIZE: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Transition {
    /// The instant of the change, as naive UTC.
    at: NaiveDateTime,
    from: i32,
    to: i32,
}

/// The offset transitions of a custom zone up to `horizon` (the start of a year).
#[derive(Debug)]
pub(crate) struct Compiled {
    transitions: Vec<Transition>,
    /// The offset before the first transition.
    initial: i32,
    horizon_year: i32,
}

/// Work (see `rrule`) one observance's RRULE may do: a yearly onset over centuries
/// needs a few thousand.
const ZONE_RULE_WORK: u64 = 200_000;

fn secs(n: i32) -> Duration {
    Duration::seconds(i64::from(n))
}

impl Compiled {
    fn new(zone: &CustomZone, horizon_year: i32) -> Compiled {
        let limit = NaiveDate::from_ymd_opt(horizon_year, 1, 1)
            .map_or(NaiveDateTime::MAX, |d| d.and_time(NaiveTime::MIN));
        let mut transitions = Vec::new();
        for o in &zone.observances {
            let push = |transitions: &mut Vec<Transition>, local: NaiveDateTime| {
                if let Some(at) = local.checked_sub_signed(secs(o.offset_from)) {
                    transitions.push(Transition {
                        at,
                        from: o.offset_from,
                        to: o.offset_to,
                    });
                }
            };
            let rule = o.rrule.as_deref().and_then(|r| Rule::parse(r).ok());
            match rule {
                Some(rule) => {
                    // A zone's rule needs little work (a yearly onset); a hostile one is cut.
                    let onsets = rule
                        .instances(o.dtstart, limit)
                        .with_work_limit(ZONE_RULE_WORK);
                    for (n, onset) in (1u32..).zip(onsets) {
                        if onset >= limit || transitions.len() >= MAX_TRANSITIONS {
                            break;
                        }
                        let past = match rule.until {
                            Some(Until::Utc(u)) => onset
                                .checked_sub_signed(secs(o.offset_from))
                                .is_none_or(|x| x > u),
                            Some(Until::Local(u)) => onset > u,
                            Some(Until::Date(d)) => onset.date() > d,
                            None => false,
                        };
                        if past || rule.count.is_some_and(|c| n > c) {
                            break;
                        }
                        push(&mut transitions, onset);
                    }
                }
                // An unusable RRULE leaves the DTSTART onset (and the RDATEs).
                None => push(&mut transitions, o.dtstart),
            }
            for &rd in &o.rdates {
                push(&mut transitions, rd);
            }
        }
        transitions.sort_by_key(|t| t.at);
        transitions.dedup_by_key(|t| t.at);
        transitions.truncate(MAX_TRANSITIONS);
        let initial = transitions.first().map_or_else(
            || zone.observances.first().map_or(0, |o| o.offset_to),
            |t| t.from,
        );
        Compiled {
            transitions,
            initial,
            horizon_year,
        }
    }

    /// The offset (seconds east of UTC) in force at the naive UTC instant `at`.
    fn offset_at(&self, at: NaiveDateTime) -> i32 {
        let idx = self.transitions.partition_point(|t| t.at <= at);
        match idx.checked_sub(1).and_then(|i| self.transitions.get(i)) {
            Some(t) => t.to,
            None => self.initial,
        }
    }

    fn local_of(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        let at = instant.naive_utc();
        at.checked_add_signed(secs(self.offset_at(at)))
            .unwrap_or(at)
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let two_days = Duration::days(2);
        let lo = local
            .checked_sub_signed(two_days)
            .unwrap_or(NaiveDateTime::MIN);
        let hi = local
            .checked_add_signed(two_days)
            .unwrap_or(NaiveDateTime::MAX);
        let a = self.transitions.partition_point(|t| t.at < lo);
        let b = self.transitions.partition_point(|t| t.at <= hi);
        let near = self.transitions.get(a..b).unwrap_or(&[]);
        let try_offset = |o: i32| {
            let at = local.checked_sub_signed(secs(o))?;
            (self.offset_at(at) == o).then_some(at)
        };
        // Every offset that reads `local` consistently; the earliest instant wins (overlap).
        let candidates =
            std::iter::once(self.offset_at(lo)).chain(near.iter().flat_map(|t| [t.from, t.to]));
        if let Some(at) = candidates.filter_map(try_offset).min() {
            return at.and_utc();
        }
        // In a gap: read the time with the offset in force before the gap.
        for t in near {
            if let (Some(before), Some(after)) = (
                local.checked_sub_signed(secs(t.from)),
                local.checked_sub_signed(secs(t.to)),
            ) && before >= t.at
                && after < t.at
            {
                return before.and_utc();
            }
        }
        let o = self.offset_at(local);
        local.checked_sub_signed(secs(o)).unwrap_or(local).and_utc()
    }
}

thread_local! {
    static CACHE: RefCell<Vec<(CustomZone, Rc<Compiled>)>> = const { RefCell::new(Vec::new()) };
}

/// The compiled table of `zone` covering `year` (from this thread's cache when possible).
fn compiled(zone: &CustomZone, year: i32) -> Rc<Compiled> {
    let needed = year.saturating_add(2);
    CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(pos) = cache.iter().position(|(z, _)| z == zone) {
            let c = &cache[pos].1;
            if c.horizon_year >= needed {
                return Rc::clone(c);
            }
            cache.remove(pos);
        }
        let horizon = needed
            .max(MIN_HORIZON_YEAR)
            .saturating_add(if needed > MIN_HORIZON_YEAR { 50 } else { 0 });
        let c = Rc::new(Compiled::new(zone, horizon));
        if cache.len() >= CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((zone.clone(), Rc::clone(&c)));
        c
    })
}

pub(crate) fn to_utc(zone: &CustomZone, local: NaiveDateTime) -> DateTime<Utc> {
    compiled(zone, local.year()).to_utc(local)
}

pub(crate) fn from_utc(zone: &CustomZone, instant: DateTime<Utc>) -> NaiveDateTime {
    compiled(zone, instant.year()).local_of(instant)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tz::{Observance, Zone};
    use std::sync::Arc;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
    }

    /// Outlook's `W. Europe Standard Time` block.
    pub(crate) fn w_europe() -> CustomZone {
        CustomZone {
            tzid: "W. Europe Standard Time".into(),
            observances: vec![
                Observance {
                    daylight: false,
                    dtstart: at(1601, 1, 1, 3, 0),
                    offset_from: 7200,
                    offset_to: 3600,
                    rrule: Some("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10".into()),
                    rdates: vec![],
                },
                Observance {
                    daylight: true,
                    dtstart: at(1601, 1, 1, 2, 0),
                    offset_from: 3600,
                    offset_to: 7200,
                    rrule: Some("FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3".into()),
                    rdates: vec![],
                },
            ],
        }
    }

    #[test]
    fn outlook_zone_matches_berlin() {
        let custom = Zone::Custom(Arc::new(w_europe()));
        let berlin = Zone::Iana(chrono_tz::Europe::Berlin);
        // Every half hour around both 2025 transitions, plus ordinary days in several years.
        let mut probes = Vec::new();
        for (y, m, d) in [
            (2025, 3, 30),
            (2025, 10, 26),
            (2024, 3, 31),
            (2030, 10, 27),
            (2025, 7, 1),
            (2026, 1, 15),
        ] {
            for i in 0..96 {
                probes.push(at(y, m, d, 0, 0) - Duration::hours(12) + Duration::minutes(30 * i));
            }
        }
        for local in probes {
            assert_eq!(custom.to_utc(local), berlin.to_utc(local), "to_utc {local}");
            let instant = local.and_utc();
            assert_eq!(
                custom.from_utc(instant),
                berlin.from_utc(instant),
                "from_utc {instant}"
            );
        }
    }

    #[test]
    fn gap_and_overlap() {
        let z = Zone::Custom(Arc::new(w_europe()));
        assert_eq!(
            z.to_utc(at(2025, 3, 30, 2, 30)).to_rfc3339(),
            "2025-03-30T01:30:00+00:00"
        );
        assert_eq!(
            z.to_utc(at(2025, 10, 26, 2, 30)).to_rfc3339(),
            "2025-10-26T00:30:00+00:00"
        );
    }

    #[test]
    fn rdate_zone_and_until() {
        // A zone that observed DST by a rule until 2006 and then by RDATEs only.
        let z = CustomZone {
            tzid: "Makebelieve".into(),
            observances: vec![
                Observance {
                    daylight: false,
                    dtstart: at(2000, 10, 29, 2, 0),
                    offset_from: -4 * 3600,
                    offset_to: -5 * 3600,
                    rrule: Some("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;UNTIL=20061029T060000Z".into()),
                    rdates: vec![at(2007, 11, 4, 2, 0)],
                },
                Observance {
                    daylight: true,
                    dtstart: at(2000, 4, 2, 2, 0),
                    offset_from: -5 * 3600,
                    offset_to: -4 * 3600,
                    rrule: Some("FREQ=YEARLY;BYMONTH=4;BYDAY=1SU;UNTIL=20060402T070000Z".into()),
                    rdates: vec![at(2007, 3, 11, 2, 0)],
                },
            ],
        };
        let z = Zone::Custom(Arc::new(z));
        let ny = Zone::Iana(chrono_tz::America::New_York);
        for local in [
            at(2005, 7, 1, 12, 0),
            at(2006, 12, 1, 12, 0),
            at(2007, 3, 20, 12, 0),
            at(2007, 11, 5, 12, 0),
        ] {
            assert_eq!(z.to_utc(local), ny.to_utc(local), "{local}");
        }
        // After the last onset the last offset stays.
        assert_eq!(
            z.to_utc(at(2030, 7, 1, 12, 0)).to_rfc3339(),
            "2030-07-01T17:00:00+00:00"
        );
        // Before the first onset: the first onset's offset_from.
        assert_eq!(
            z.to_utc(at(1990, 1, 1, 12, 0)).to_rfc3339(),
            "1990-01-01T17:00:00+00:00"
        );
    }

    #[test]
    fn far_future_and_empty() {
        let z = Zone::Custom(Arc::new(w_europe()));
        assert_eq!(
            z.to_utc(at(2300, 7, 1, 12, 0)).to_rfc3339(),
            "2300-07-01T10:00:00+00:00"
        );
        let empty = Zone::Custom(Arc::new(CustomZone {
            tzid: "x".into(),
            observances: vec![],
        }));
        assert_eq!(
            empty.to_utc(at(2025, 7, 1, 12, 0)).to_rfc3339(),
            "2025-07-01T12:00:00+00:00"
        );
    }
}
