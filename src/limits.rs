//! The fixed limits that keep the work per feed, per event and per HTTP exchange bounded whatever
//! the input (a calendar is written by other people: an invite from anyone lands in it, a shared
//! feed is someone else's file). Every limit here is documented for users in `docs/limits.md`;
//! change both together.
//!
//! What happens at a limit is chosen so that hostile input never costs the good data: a feed or
//! a sync that exceeds a whole-source limit is refused (the store keeps what it had, the account
//! reports the error), a series that exceeds a per-series limit is expanded partly with a warning
//! naming it, and warnings beyond their cap are counted in one summary line.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Largest HTTP response body read, after decompression (a 2 MB gzip can inflate to gigabytes),
/// and the largest feed file read from disk.
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

/// Largest body read from a response that is only inspected for an error message (webhooks).
pub const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// Pages followed in one listing (one Google calendar's events.list, one Graph delta round):
/// an API that always answers with a next page is stopped with an error, the store untouched
/// beyond the pages already applied (and no sync token is stored).
pub const MAX_PAGES: usize = 2_000;

/// Physical lines in one iCalendar feed.
pub const MAX_FEED_LINES: usize = 4_000_000;

/// VEVENTs in one iCalendar feed.
pub const MAX_FEED_EVENTS: usize = 200_000;

/// Warnings kept and logged per feed (or per sync of one calendar); the rest are counted in one
/// summary line.
pub const MAX_WARNINGS: usize = 200;

/// Occurrences one series contributes to one expansion (a window of `events`, `report`, the
/// daemon's analysis): beyond it the series is cut with a warning naming it. Daily for 54 years,
/// hourly for 2 years.
pub const MAX_INSTANCES_PER_SERIES: usize = 20_000;

/// Occurrences of series one expansion holds in total (a calendar's series together; single
/// events are bounded by what the store holds): the series expanded after it is reached are cut
/// with a warning naming each.
pub const MAX_SERIES_OCCURRENCES: usize = 200_000;

/// Work one rule may do in one expansion, in days examined (a yearly period examines up to 366
/// days, a monthly one up to 31, a sub-daily one 1): the rule stops with a warning naming the
/// series. Two million days is 5,400 years of a daily rule.
pub const MAX_RULE_WORK: u64 = 2_000_000;

/// Work one expansion may do in total over all its series, in the units of [`MAX_RULE_WORK`]:
/// the series expanded after it runs out are cut with a warning naming each.
pub const MAX_EXPANSION_WORK: u64 = 20_000_000;

/// Days a rule may examine without producing an instance: a little more than the 400-year
/// Gregorian cycle (146,097 days), after which the calendar repeats, so a rule that has matched
/// nothing by then never will (`FREQ=YEARLY;BYYEARDAY=1;BYMONTHDAY=31`).
pub const MAX_RULE_WORK_WITHOUT_MATCH: u64 = 150_000;

/// Candidates one period of a rule may hold (`FREQ=YEARLY` with every hour, minute and second
/// of every day would hold 32 million): the rule is cut after them with a warning.
pub const MAX_PERIOD_CANDIDATES: usize = 100_000;

/// Counts the warnings of one feed or sync so that at most [`MAX_WARNINGS`] are logged; the rest
/// are counted for one summary line. Shared by reference (the counts are atomic), so that
/// several closures and tasks of one sync can use it.
#[derive(Debug, Default)]
pub struct WarningCap {
    shown: AtomicUsize,
    unshown: AtomicUsize,
}

impl WarningCap {
    /// Whether this warning may be logged; counts it either way.
    pub fn allow(&self) -> bool {
        let allowed = self
            .shown
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < MAX_WARNINGS).then_some(n + 1)
            })
            .is_ok();
        if !allowed {
            self.unshown.fetch_add(1, Ordering::Relaxed);
        }
        allowed
    }

    /// How many warnings were counted but not logged.
    pub fn unshown(&self) -> usize {
        self.unshown.load(Ordering::Relaxed)
    }

    /// The summary line, when warnings were left out.
    pub fn summary(&self) -> Option<String> {
        (self.unshown() > 0).then(|| {
            format!(
                "{} more warnings not shown (at most {MAX_WARNINGS} are listed per sync)",
                self.unshown()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_lets_the_first_warnings_through_and_counts_the_rest() {
        let cap = WarningCap::default();
        let shown = (0..MAX_WARNINGS + 5).filter(|_| cap.allow()).count();
        assert_eq!(shown, MAX_WARNINGS);
        assert_eq!(cap.unshown(), 5);
        assert!(cap.summary().unwrap().starts_with("5 more warnings"));
        assert_eq!(WarningCap::default().summary(), None);
    }
}
