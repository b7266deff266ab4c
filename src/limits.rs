//! The fixed limits that keep the work per feed, per event and per HTTP exchange bounded whatever
//! the input (a calendar is written by other people: an invite from anyone lands in it, a shared
//! feed is someone else's file). Every limit here is documented for users in `docs/limits.md`;
//! change both together.
//!
//! What happens at a limit is chosen so that hostile input never costs the good data: a feed or
//! a sync that exceeds a whole-source limit is refused (the store keeps what it had, the account
//! reports the error), a series that exceeds a per-series limit is expanded partly with a warning
//! naming it, and warnings beyond their cap are counted in one summary line.

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
