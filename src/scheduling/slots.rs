//! The slot finder: a pure function from the people's working hours, their busy time, a window,
//! a length and a preference to at most a few proposed slots.
//!
//! Invariants (property-tested below): a slot never overlaps a busy interval; it lies inside
//! every person's working hours on one local day of that person's zone (DST included, since
//! each bound is converted on its own); it starts at least `notice` after `now` and ends by the
//! window's end; the answer depends only on the query (deterministic, input order irrelevant).

pub use crate::makeup::Span;
use chrono::{DateTime, Datelike, Duration, NaiveTime, Utc, Weekday};

use crate::tz::Zone;

/// Candidate starts are on this grid (UTC quarter hours, which are local quarter hours in every
/// zone in use), plus the usual time of day on each day.
const STEP_MINUTES: i64 = 15;

/// One person's working hours in their zone.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    pub zone: Zone,
    /// Monday first.
    pub days: [bool; 7],
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Hours {
    /// Whether `[start, end)` lies inside one working day of these hours.
    pub fn contains(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        if end <= start {
            return false;
        }
        let (s, e) = (self.zone.from_utc(start), self.zone.from_utc(end));
        s.date() == e.date()
            && self.days[s.date().weekday().num_days_from_monday() as usize]
            && s.time() >= self.start
            && e.time() <= self.end
            && e > s
    }
}

/// The usual weekday and time of day of a series, in a zone (the manager's).
#[derive(Debug, Clone, PartialEq)]
pub struct Preference {
    pub zone: Zone,
    pub weekday: Weekday,
    pub time: NaiveTime,
}

/// What to find slots for.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub now: DateTime<Utc>,
    /// No slot starts before `now + notice`.
    pub notice: Duration,
    /// No slot ends after this.
    pub window_end: DateTime<Utc>,
    /// The slot's length.
    pub length: Duration,
    /// Every person's working hours; the first one's zone decides what "one day" means when the
    /// slots are spread over days.
    pub hours: Vec<Hours>,
    /// Everybody's busy time, in any order, overlapping or not.
    pub busy: Vec<Span>,
    pub preference: Option<Preference>,
    /// At most this many slots.
    pub max: usize,
}

/// Up to `q.max` free slots, best first: the usual weekday at the usual time of day, then the
/// usual time of day on another day, then the usual weekday at another time, then any other
/// time; within each, the earliest. The slots fall on different days (of the first person's
/// zone) as long as there are enough days with a free slot.
pub fn find(q: &Query) -> Vec<Span> {
    if q.max == 0 || q.length <= Duration::zero() || q.hours.is_empty() {
        return Vec::new();
    }
    let earliest = q.now + q.notice;
    let latest_start = q.window_end - q.length;
    if latest_start < earliest {
        return Vec::new();
    }
    let mut busy = q.busy.clone();
    busy.retain(|b| b.end > b.start && b.end > earliest && b.start < q.window_end);
    busy.sort();

    let mut starts = grid(earliest, latest_start);
    if let Some(p) = &q.preference {
        starts.extend(usual_starts(p, earliest, latest_start));
    }
    starts.sort();
    starts.dedup();

    let mut ranked: Vec<(u8, Span)> = starts
        .into_iter()
        .map(|s| Span {
            start: s,
            end: s + q.length,
        })
        .filter(|span| q.hours.iter().all(|h| h.contains(span.start, span.end)))
        .filter(|span| !overlaps_any(&busy, span))
        .map(|span| (rank(q.preference.as_ref(), span.start), span))
        .collect();
    ranked.sort();

    let day_zone = &q.hours[0].zone;
    let day = |s: &Span| day_zone.from_utc(s.start).date();
    let mut out: Vec<Span> = Vec::new();
    // First pass: one slot per day; second pass: fill up with other free, disjoint slots.
    for distinct_days in [true, false] {
        for (_, span) in &ranked {
            if out.len() >= q.max {
                break;
            }
            if out.iter().any(|o| o.overlaps(span))
                || (distinct_days && out.iter().any(|o| day(o) == day(span)))
            {
                continue;
            }
            out.push(*span);
        }
    }
    out.sort_by_key(|s| {
        (
            ranked
                .iter()
                .position(|(_, r)| r == s)
                .unwrap_or(usize::MAX),
            s.start,
        )
    });
    out
}

/// The quarter hours in `[from, to]`, `from` rounded up.
fn grid(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let step = STEP_MINUTES * 60;
    let first = from.timestamp().div_euclid(step) * step;
    let first = if first < from.timestamp() {
        first + step
    } else {
        first
    };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to.timestamp())
        .filter_map(|t| DateTime::from_timestamp(t, 0))
        .collect()
}

/// The usual time of day on every local day between `from` and `to`.
fn usual_starts(p: &Preference, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut date = p.zone.from_utc(from).date();
    let last = p.zone.from_utc(to).date();
    while date <= last {
        let t = p.zone.to_utc(date.and_time(p.time));
        if t >= from && t <= to {
            out.push(t);
        }
        match date.succ_opt() {
            Some(d) => date = d,
            None => break,
        }
    }
    out
}

fn rank(p: Option<&Preference>, start: DateTime<Utc>) -> u8 {
    let Some(p) = p else {
        return 3;
    };
    let local = p.zone.from_utc(start);
    match (local.weekday() == p.weekday, local.time() == p.time) {
        (true, true) => 0,
        (false, true) => 1,
        (true, false) => 2,
        (false, false) => 3,
    }
}

/// Whether `span` overlaps any of the sorted `busy` spans.
fn overlaps_any(busy: &[Span], span: &Span) -> bool {
    // Spans starting before the slot ends; any of them ending after it starts overlaps.
    let upto = busy.partition_point(|b| b.start < span.end);
    busy[..upto].iter().any(|b| b.end > span.start)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn hours(zone: &str) -> Hours {
        Hours {
            zone: Zone::Iana(zone.parse().unwrap()),
            days: [true, true, true, true, true, false, false],
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            end: NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        }
    }

    fn query(now: &str, days: i64) -> Query {
        let now = t(now);
        Query {
            now,
            notice: Duration::hours(20),
            window_end: now + Duration::days(days),
            length: Duration::minutes(30),
            hours: vec![hours("Asia/Tokyo"), hours("Europe/Berlin")],
            busy: Vec::new(),
            preference: None,
            max: 3,
        }
    }

    #[test]
    fn tokyo_and_berlin_meet_in_the_overlap() {
        // Tokyo 17:00–18:00 is Berlin 09:00–10:00 in winter (UTC 08:00–09:00).
        let q = query("2026-01-05T00:00:00Z", 7);
        let slots = find(&q);
        assert_eq!(slots.len(), 3);
        assert_eq!(slots[0].start, t("2026-01-06T08:00:00Z"));
        assert_eq!(slots[1].start, t("2026-01-07T08:00:00Z"));
        assert_eq!(slots[2].start, t("2026-01-08T08:00:00Z"));
    }

    #[test]
    fn the_overlap_widens_after_berlin_moves_to_summer_time() {
        // Berlin switches on 2026-03-29: 09:00 is then 07:00 UTC (Tokyo 16:00).
        let mut q = query("2026-03-26T00:00:00Z", 10);
        q.max = 20;
        let slots = find(&q);
        assert!(slots.contains(&Span {
            start: t("2026-03-30T07:00:00Z"),
            end: t("2026-03-30T07:30:00Z")
        }));
        assert!(!slots.iter().any(|s| s.start < t("2026-03-28T00:00:00Z")
            && s.start.time() < NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
    }

    #[test]
    fn usual_weekday_and_time_come_first_then_the_earliest() {
        let mut q = query("2026-01-05T00:00:00Z", 14);
        q.hours = vec![hours("Europe/Berlin")];
        q.preference = Some(Preference {
            zone: Zone::Iana("Europe/Berlin".parse().unwrap()),
            weekday: Weekday::Thu,
            time: NaiveTime::from_hms_opt(14, 0, 0).unwrap(),
        });
        q.busy = vec![Span {
            start: t("2026-01-08T12:00:00Z"),
            end: t("2026-01-08T14:00:00Z"),
        }];
        let slots = find(&q);
        // Thursday Jan 8 14:00 Berlin is busy: Thursday Jan 15 14:00, then 14:00 on the
        // earliest other days.
        assert_eq!(slots[0].start, t("2026-01-15T13:00:00Z"));
        assert_eq!(slots[1].start, t("2026-01-06T13:00:00Z"));
        assert_eq!(slots[2].start, t("2026-01-07T13:00:00Z"));
    }

    #[test]
    fn nothing_when_the_window_closes_before_the_notice() {
        let q = query("2026-01-05T00:00:00Z", 0);
        assert!(find(&q).is_empty());
        let mut q = query("2026-01-05T00:00:00Z", 7);
        q.busy = vec![Span {
            start: t("2026-01-01T00:00:00Z"),
            end: t("2026-02-01T00:00:00Z"),
        }];
        assert!(find(&q).is_empty());
    }

    fn arb_busy() -> impl Strategy<Value = Vec<(i64, i64)>> {
        prop::collection::vec((0i64..(14 * 96), 1i64..16), 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Manager in Tokyo, report in Berlin, windows across Berlin's spring and autumn
        /// changes: every slot is free, inside both working days, after the notice, inside the
        /// window, and the answer does not depend on the busy list's order.
        #[test]
        fn slots_are_free_in_hours_after_notice_within_window(
            start_day in 0i64..40,
            autumn in any::<bool>(),
            start_quarter in 0i64..96,
            notice_h in 0i64..48,
            days in 1i64..14,
            length_q in 1i64..8,
            busy in arb_busy(),
            pref in proptest::option::of((0u32..7, 0u32..24)),
            max in 1usize..5,
        ) {
            let base = if autumn { t("2026-10-10T00:00:00Z") } else { t("2026-03-14T00:00:00Z") };
            let now = base + Duration::days(start_day % 20) + Duration::minutes(start_quarter * 15 + 7);
            let spans: Vec<Span> = busy.iter().map(|(q, len)| {
                let s = now + Duration::minutes(q * 15);
                Span { start: s, end: s + Duration::minutes(len * 15) }
            }).collect();
            let q = Query {
                now,
                notice: Duration::hours(notice_h),
                window_end: now + Duration::days(days),
                length: Duration::minutes(length_q * 15),
                hours: vec![hours("Asia/Tokyo"), hours("Europe/Berlin")],
                busy: spans.clone(),
                preference: pref.map(|(d, h)| Preference {
                    zone: Zone::Iana("Asia/Tokyo".parse().unwrap()),
                    weekday: Weekday::try_from(d as u8).unwrap(),
                    time: NaiveTime::from_hms_opt(h, 0, 0).unwrap(),
                }),
                max,
            };
            let slots = find(&q);
            prop_assert!(slots.len() <= max);
            for s in &slots {
                prop_assert_eq!(s.end - s.start, q.length);
                prop_assert!(s.start >= now + q.notice);
                prop_assert!(s.end <= q.window_end);
                for h in &q.hours {
                    prop_assert!(h.contains(s.start, s.end));
                }
                prop_assert!(!spans.iter().any(|b| b.overlaps(s)));
            }
            for (i, a) in slots.iter().enumerate() {
                for b in &slots[i + 1..] {
                    prop_assert!(!a.overlaps(b));
                }
            }
            let mut reversed = q.clone();
            reversed.busy.reverse();
            prop_assert_eq!(find(&reversed), slots);
        }

        /// When free time exists on the grid inside both people's hours, a slot is found.
        #[test]
        fn a_free_overlap_is_found(start_day in 0i64..60) {
            let now = t("2026-01-05T00:00:00Z") + Duration::days(start_day);
            let q = query(&now.to_rfc3339(), 7);
            prop_assert!(!find(&q).is_empty());
        }
    }
}
