//! RRULE values (RFC 5545 §3.3.10): parsing into a [`Rule`] and iterating its instances in
//! naive wall-clock time.
//!
//! The iterator works period by period (a year, month, week, day, hour, minute or second of the
//! rule's frequency, stepped by INTERVAL): it builds the candidate set of the period from the BYxxx
//! parts (expanding or limiting as RFC 5545's table says), applies BYSETPOS, and yields the
//! candidates after DTSTART in order. DTSTART itself is always yielded first (RFC 5545 §3.8.5.3:
//! it is the first instance and counts toward COUNT). COUNT and UNTIL are left to the caller, which
//! knows how to compare UNTIL with the series' time frame. Invalid dates (February 30, day 31 in a
//! short month) are never generated, as RFC 5545 requires.
//!
//! Every iterator is bounded: it stops at a caller-given `limit` (no period starting after it is
//! visited), after a budget of work (days examined plus candidates built, at most
//! [`MAX_RULE_WORK`], less with [`Instances::with_work_limit`]), after
//! [`MAX_RULE_WORK_WITHOUT_MATCH`] days examined without a candidate (more than the 400-year cycle
//! of the Gregorian calendar, after which a rule that matched nothing never will), and after
//! [`MAX_PERIOD_CANDIDATES`] candidates in one period. [`Instances::cut`] says which stopped it.

use std::str::FromStr;

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};

pub use crate::limits::{MAX_PERIOD_CANDIDATES, MAX_RULE_WORK, MAX_RULE_WORK_WITHOUT_MATCH};

/// Why an RRULE value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("the rule has no FREQ")]
    MissingFreq,
    #[error("unknown rule part `{0}`")]
    UnknownPart(String),
    #[error("`{part}={value}` is not a valid value")]
    InvalidValue { part: String, value: String },
    #[error("`{0}` is not a NAME=VALUE pair")]
    Malformed(String),
    #[error("`{0}` is not supported")]
    Unsupported(String),
}

/// Why an iterator stopped before its `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Its work budget ran out (a rule with very many candidates, or a long way to the window).
    Work,
    /// One period held more than [`MAX_PERIOD_CANDIDATES`] candidates.
    PeriodSize,
    /// No candidate in [`MAX_RULE_WORK_WITHOUT_MATCH`] days examined: the rule matches nothing
    /// more (the calendar repeats every 400 years), so nothing was lost.
    NoMatch,
}

/// The FREQ of a rule, ordered from the finest to the coarsest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Frequency {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    /// Length of one period in seconds for the sub-daily frequencies.
    fn seconds(self) -> Option<i64> {
        match self {
            Frequency::Secondly => Some(1),
            Frequency::Minutely => Some(60),
            Frequency::Hourly => Some(3600),
            _ => None,
        }
    }
}

/// The UNTIL part as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// `...Z`: an instant (the naive value is UTC).
    Utc(NaiveDateTime),
    /// A DATE-TIME without `Z`: wall-clock time of the series' frame.
    Local(NaiveDateTime),
    /// A DATE.
    Date(NaiveDate),
}

/// One BYDAY entry: a weekday, optionally with an ordinal (`2MO`, `-1FR`); `nth == 0` means every.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WeekdayNum {
    pub nth: i32,
    pub weekday: Weekday,
}

/// A parsed RRULE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub freq: Frequency,
    pub interval: u32,
    pub count: Option<u32>,
    pub until: Option<Until>,
    pub by_second: Vec<u32>,
    pub by_minute: Vec<u32>,
    pub by_hour: Vec<u32>,
    pub by_day: Vec<WeekdayNum>,
    pub by_month_day: Vec<i32>,
    pub by_year_day: Vec<i32>,
    pub by_week_no: Vec<i32>,
    pub by_month: Vec<u32>,
    pub by_set_pos: Vec<i32>,
    pub wkst: Weekday,
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rule::parse(s)
    }
}

fn invalid(part: &str, value: &str) -> RuleError {
    RuleError::InvalidValue {
        part: part.to_owned(),
        value: value.to_owned(),
    }
}

fn parse_list<T>(
    part: &str,
    value: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, RuleError> {
    value
        .split(',')
        .map(|v| parse(v.trim()).ok_or_else(|| invalid(part, value)))
        .collect()
}

fn int_in(v: &str, lo: i32, hi: i32, allow_zero: bool) -> Option<i32> {
    let n: i32 = v.strip_prefix('+').unwrap_or(v).parse().ok()?;
    (n >= lo && n <= hi && (allow_zero || n != 0)).then_some(n)
}

fn weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_uppercase().as_str() {
        "MO" => Weekday::Mon,
        "TU" => Weekday::Tue,
        "WE" => Weekday::Wed,
        "TH" => Weekday::Thu,
        "FR" => Weekday::Fri,
        "SA" => Weekday::Sat,
        "SU" => Weekday::Sun,
        _ => return None,
    })
}

fn weekday_num(s: &str) -> Option<WeekdayNum> {
    if s.len() < 2 || !s.is_char_boundary(s.len() - 2) {
        return None;
    }
    let (num, day) = s.split_at(s.len() - 2);
    let nth = if num.is_empty() {
        0
    } else {
        int_in(num, -53, 53, false)?
    };
    Some(WeekdayNum {
        nth,
        weekday: weekday(day)?,
    })
}

/// Parse an UNTIL value: `YYYYMMDD`, `YYYYMMDDTHHMMSS` or `YYYYMMDDTHHMMSSZ`.
fn parse_until(v: &str) -> Option<Until> {
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d").ok().map(Until::Date);
    }
    if let Some(utc) = v.strip_suffix(['Z', 'z']) {
        return NaiveDateTime::parse_from_str(utc, "%Y%m%dT%H%M%S")
            .ok()
            .map(Until::Utc);
    }
    NaiveDateTime::parse_from_str(v, "%Y%m%dT%H%M%S")
        .ok()
        .map(Until::Local)
}

impl Rule {
    /// Parse an RRULE value (without the `RRULE:` prefix). Part names and values are
    /// case-insensitive; a repeated part takes its last value; `RSCALE=GREGORIAN` and `SKIP=OMIT`
    /// (RFC 7529 defaults) are accepted, any other part is an error.
    pub fn parse(s: &str) -> Result<Rule, RuleError> {
        let s = s.trim();
        let s = s.strip_prefix("RRULE:").unwrap_or(s);
        let mut rule = Rule {
            freq: Frequency::Yearly,
            interval: 1,
            count: None,
            until: None,
            by_second: Vec::new(),
            by_minute: Vec::new(),
            by_hour: Vec::new(),
            by_day: Vec::new(),
            by_month_day: Vec::new(),
            by_year_day: Vec::new(),
            by_week_no: Vec::new(),
            by_month: Vec::new(),
            by_set_pos: Vec::new(),
            wkst: Weekday::Mon,
        };
        let mut freq = None;
        for pair in s.split(';').filter(|p| !p.trim().is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| RuleError::Malformed(pair.to_owned()))?;
            let name = name.trim().to_ascii_uppercase();
            let value = value.trim();
            if value.is_empty() {
                return Err(invalid(&name, value));
            }
            let upper = value.to_ascii_uppercase();
            match name.as_str() {
                "FREQ" => {
                    freq = Some(match upper.as_str() {
                        "SECONDLY" => Frequency::Secondly,
                        "MINUTELY" => Frequency::Minutely,
                        "HOURLY" => Frequency::Hourly,
                        "DAILY" => Frequency::Daily,
                        "WEEKLY" => Frequency::Weekly,
                        "MONTHLY" => Frequency::Monthly,
                        "YEARLY" => Frequency::Yearly,
                        _ => return Err(invalid(&name, value)),
                    })
                }
                "INTERVAL" => {
                    rule.interval = value
                        .parse()
                        .ok()
                        .filter(|&n: &u32| n >= 1)
                        .ok_or_else(|| invalid(&name, value))?
                }
                // A negative COUNT (`COUNT=-1`, written by some exporters beside UNTIL) means
                // nothing: it is ignored, as recurring-ical-events does.
                "COUNT"
                    if value.trim().starts_with('-')
                        && value.trim()[1..].parse::<u32>().is_ok() => {}
                "COUNT" => rule.count = Some(value.parse().map_err(|_| invalid(&name, value))?),
                "UNTIL" => {
                    rule.until = Some(parse_until(value).ok_or_else(|| invalid(&name, value))?)
                }
                "BYSECOND" => {
                    rule.by_second = parse_list(&name, value, |v| int_in(v, 0, 60, true))?
                        .into_iter()
                        .map(|n| n.unsigned_abs())
                        .collect()
                }
                "BYMINUTE" => {
                    rule.by_minute = parse_list(&name, value, |v| int_in(v, 0, 59, true))?
                        .into_iter()
                        .map(|n| n.unsigned_abs())
                        .collect()
                }
                "BYHOUR" => {
                    rule.by_hour = parse_list(&name, value, |v| int_in(v, 0, 23, true))?
                        .into_iter()
                        .map(|n| n.unsigned_abs())
                        .collect()
                }
                "BYDAY" => rule.by_day = parse_list(&name, value, weekday_num)?,
                "BYMONTHDAY" => {
                    rule.by_month_day = parse_list(&name, value, |v| int_in(v, -31, 31, false))?
                }
                "BYYEARDAY" => {
                    rule.by_year_day = parse_list(&name, value, |v| int_in(v, -366, 366, false))?
                }
                "BYWEEKNO" => {
                    rule.by_week_no = parse_list(&name, value, |v| int_in(v, -53, 53, false))?
                }
                "BYMONTH" => {
                    rule.by_month = parse_list(&name, value, |v| int_in(v, 1, 12, false))?
                        .into_iter()
                        .map(|n| n.unsigned_abs())
                        .collect()
                }
                "BYSETPOS" => {
                    rule.by_set_pos = parse_list(&name, value, |v| int_in(v, -366, 366, false))?
                }
                "WKST" => rule.wkst = weekday(value).ok_or_else(|| invalid(&name, value))?,
                "RSCALE" if upper == "GREGORIAN" => {}
                "SKIP" if upper == "OMIT" => {}
                "RSCALE" | "SKIP" => {
                    return Err(RuleError::Unsupported(format!("{name}={value}")));
                }
                _ => return Err(RuleError::UnknownPart(name)),
            }
        }
        rule.freq = freq.ok_or(RuleError::MissingFreq)?;
        Ok(rule)
    }

    /// The instances of this rule for a series starting at `dtstart`, in wall-clock time,
    /// DTSTART first, visiting no period that starts after `limit`.
    pub fn instances(&self, dtstart: NaiveDateTime, limit: NaiveDateTime) -> Instances<'_> {
        Instances::new(self, dtstart, limit)
    }
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_in_year(year: i32) -> u32 {
    if is_leap(year) { 366 } else { 365 }
}

fn wd_bit(w: Weekday) -> u8 {
    1 << w.num_days_from_monday()
}

/// Start of week 1 of `year` for weeks starting on `wkst`: the week that holds January 4
/// (the first week with at least four days in the year).
fn week1_start(year: i32, wkst: Weekday) -> Option<NaiveDate> {
    let jan4 = NaiveDate::from_ymd_opt(year, 1, 4)?;
    let back = (7 + jan4.weekday().num_days_from_monday() - wkst.num_days_from_monday()) % 7;
    jan4.checked_sub_signed(Duration::days(i64::from(back)))
}

/// The (week number, number of weeks in that week-year) of `d` (RFC 5545 BYWEEKNO numbering).
fn week_number(d: NaiveDate, wkst: Weekday) -> Option<(i32, i32)> {
    let y = d.year();
    let mut wy = y;
    let this = week1_start(y, wkst)?;
    let next = week1_start(y + 1, wkst)?;
    let start = if d < this {
        wy = y - 1;
        week1_start(wy, wkst)?
    } else if d >= next {
        wy = y + 1;
        next
    } else {
        this
    };
    let end = week1_start(wy + 1, wkst)?;
    let wn = i32::try_from((d - start).num_days() / 7 + 1).ok()?;
    let total = i32::try_from((end - start).num_days() / 7).ok()?;
    Some((wn, total))
}

/// Where the ordinal of a `BYDAY=2MO` counts: within the month or within the year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NthScope {
    Month,
    Year,
}

/// Iterator over the instances of a [`Rule`] (see the module docs).
#[derive(Debug)]
pub struct Instances<'r> {
    rule: &'r Rule,
    dtstart: NaiveDateTime,
    limit: NaiveDateTime,
    /// Start of the current period.
    cur: NaiveDateTime,
    /// Work done so far (days examined plus candidates built) and the budget for it.
    work: u64,
    work_limit: u64,
    /// Days examined since the last candidate.
    idle: u64,
    cut: Option<Cut>,
    done: bool,
    dtstart_pending: bool,
    /// The rule itself produced DTSTART (it is "synchronized" with the rule).
    dtstart_matched: bool,
    buf: Vec<NaiveDateTime>,
    days: Vec<NaiveDate>,
    pos: usize,
    // Effective filters (RFC 5545 defaults applied).
    months: u16,
    wd_plain: u8,
    wd_nth: Vec<WeekdayNum>,
    nth_scope: NthScope,
    month_days: Vec<i32>,
    hours: Vec<u32>,
    minutes: Vec<u32>,
    seconds: Vec<u32>,
    /// For DAILY and coarser: the times of day of every instance, sorted.
    times: Vec<NaiveTime>,
}

fn sorted_unique(mut v: Vec<u32>) -> Vec<u32> {
    v.sort_unstable();
    v.dedup();
    v
}

impl<'r> Instances<'r> {
    fn new(rule: &'r Rule, dtstart: NaiveDateTime, limit: NaiveDateTime) -> Self {
        let freq = rule.freq;
        let no_day_parts = rule.by_week_no.is_empty()
            && rule.by_year_day.is_empty()
            && rule.by_month_day.is_empty()
            && rule.by_day.is_empty();
        let mut by_month = rule.by_month.clone();
        let mut month_days = rule.by_month_day.clone();
        let mut by_day = rule.by_day.clone();
        if no_day_parts {
            match freq {
                Frequency::Yearly => {
                    if by_month.is_empty() {
                        by_month.push(dtstart.month());
                    }
                    month_days.push(i32::try_from(dtstart.day()).unwrap_or(1));
                }
                Frequency::Monthly => month_days.push(i32::try_from(dtstart.day()).unwrap_or(1)),
                Frequency::Weekly => by_day.push(WeekdayNum {
                    nth: 0,
                    weekday: dtstart.weekday(),
                }),
                _ => {}
            }
        }
        let months = by_month.iter().fold(0u16, |m, &b| m | (1 << b));
        let ordinals_apply = matches!(freq, Frequency::Monthly | Frequency::Yearly);
        let mut wd_plain = 0u8;
        let mut wd_nth = Vec::new();
        for wd in &by_day {
            if wd.nth == 0 || !ordinals_apply {
                wd_plain |= wd_bit(wd.weekday);
            } else {
                wd_nth.push(*wd);
            }
        }
        let nth_scope = if freq == Frequency::Yearly && months == 0 {
            NthScope::Year
        } else {
            NthScope::Month
        };
        let default_or = |v: &Vec<u32>, d: u32| {
            if v.is_empty() {
                vec![d]
            } else {
                sorted_unique(v.clone())
            }
        };
        let hours = if freq <= Frequency::Hourly && rule.by_hour.is_empty() {
            Vec::new()
        } else {
            default_or(&rule.by_hour, dtstart.hour())
        };
        let minutes = if freq <= Frequency::Minutely && rule.by_minute.is_empty() {
            Vec::new()
        } else {
            default_or(&rule.by_minute, dtstart.minute())
        };
        let seconds = if freq == Frequency::Secondly && rule.by_second.is_empty() {
            Vec::new()
        } else {
            default_or(&rule.by_second, dtstart.second())
        };
        let mut times = Vec::new();
        if freq >= Frequency::Daily {
            for &h in &hours {
                for &m in &minutes {
                    for &s in &seconds {
                        if let Some(t) = NaiveTime::from_hms_opt(h, m, s) {
                            times.push(t);
                        }
                    }
                }
            }
        }
        let d = dtstart.date();
        let cur = match freq {
            Frequency::Yearly => NaiveDate::from_ymd_opt(d.year(), 1, 1),
            Frequency::Monthly => NaiveDate::from_ymd_opt(d.year(), d.month(), 1),
            Frequency::Weekly => {
                let back =
                    (7 + d.weekday().num_days_from_monday() - rule.wkst.num_days_from_monday()) % 7;
                d.checked_sub_signed(Duration::days(i64::from(back)))
            }
            _ => Some(d),
        };
        let cur = match freq {
            Frequency::Hourly => cur.and_then(|c| c.and_hms_opt(dtstart.hour(), 0, 0)),
            Frequency::Minutely => {
                cur.and_then(|c| c.and_hms_opt(dtstart.hour(), dtstart.minute(), 0))
            }
            Frequency::Secondly => Some(dtstart),
            _ => cur.map(|c| c.and_time(NaiveTime::MIN)),
        };
        Instances {
            rule,
            dtstart,
            limit,
            cur: cur.unwrap_or(dtstart),
            work: 0,
            work_limit: MAX_RULE_WORK,
            idle: 0,
            cut: None,
            done: cur.is_none(),
            dtstart_pending: true,
            dtstart_matched: false,
            buf: Vec::new(),
            days: Vec::new(),
            pos: 0,
            months,
            wd_plain,
            wd_nth,
            nth_scope,
            month_days,
            hours,
            minutes,
            seconds,
            times,
        }
    }

    /// Lower the work budget (days examined plus candidates built) below [`MAX_RULE_WORK`].
    pub fn with_work_limit(mut self, limit: u64) -> Self {
        self.work_limit = limit.min(MAX_RULE_WORK);
        self
    }

    /// The work done so far, in the units of [`Instances::with_work_limit`].
    pub fn work(&self) -> u64 {
        self.work
    }

    /// Why the iterator stopped early, if it did.
    pub fn cut(&self) -> Option<Cut> {
        self.cut
    }

    /// Whether instances may have been lost: the iterator stopped on its work budget or on an
    /// oversized period (not on a rule that matches nothing more).
    pub fn truncated(&self) -> bool {
        matches!(self.cut, Some(Cut::Work | Cut::PeriodSize))
    }

    /// Whether the rule itself produced DTSTART. Known once the iterator has yielded an instance
    /// after DTSTART (candidates come in order, so DTSTART's slot has been visited by then).
    pub fn dtstart_matched(&self) -> bool {
        self.dtstart_matched
    }

    /// Jump ahead over whole periods (multiples of INTERVAL) so that the next period visited is
    /// the one holding `target` or the last one before it. Exact: the periods skipped hold only
    /// instances before `target`. DTSTART is still yielded first. Never use with COUNT.
    pub fn skip_to(&mut self, target: NaiveDateTime) {
        if self.done || target <= self.cur {
            return;
        }
        let interval = i64::from(self.rule.interval);
        let (c, t) = (self.cur, target);
        let units = match self.rule.freq {
            Frequency::Yearly => i64::from(t.year() - c.year()),
            Frequency::Monthly => {
                i64::from(t.year() - c.year()) * 12 + i64::from(t.month()) - i64::from(c.month())
            }
            Frequency::Weekly => (t.date() - c.date()).num_days().div_euclid(7),
            Frequency::Daily => (t.date() - c.date()).num_days(),
            f => (t - c).num_seconds().div_euclid(f.seconds().unwrap_or(1)),
        };
        let steps = units.div_euclid(interval);
        if steps > 0 {
            self.advance_by(steps.saturating_mul(interval));
        }
    }

    /// Move the period start forward by `units` base units of the frequency.
    fn advance_by(&mut self, units: i64) {
        let c = self.cur;
        let next = match self.rule.freq {
            Frequency::Yearly => i32::try_from(units)
                .ok()
                .and_then(|u| c.year().checked_add(u))
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
                .map(|d| d.and_time(NaiveTime::MIN)),
            Frequency::Monthly => u32::try_from(units)
                .ok()
                .and_then(|u| c.checked_add_months(Months::new(u))),
            Frequency::Weekly => units
                .checked_mul(7)
                .and_then(Duration::try_days)
                .and_then(|d| c.checked_add_signed(d)),
            Frequency::Daily => Duration::try_days(units).and_then(|d| c.checked_add_signed(d)),
            f => units
                .checked_mul(f.seconds().unwrap_or(1))
                .and_then(Duration::try_seconds)
                .and_then(|d| c.checked_add_signed(d)),
        };
        match next {
            Some(n) => self.cur = n,
            None => self.done = true,
        }
    }

    fn day_matches(&self, d: NaiveDate) -> bool {
        let rule = self.rule;
        if self.months != 0 && self.months & (1 << d.month()) == 0 {
            return false;
        }
        if !rule.by_week_no.is_empty() {
            let Some((wn, total)) = week_number(d, rule.wkst) else {
                return false;
            };
            if !rule
                .by_week_no
                .iter()
                .any(|&w| w == wn || w == wn - total - 1)
            {
                return false;
            }
        }
        if !rule.by_year_day.is_empty() {
            let yd = i32::try_from(d.ordinal()).unwrap_or(0);
            let len = i32::try_from(days_in_year(d.year())).unwrap_or(365);
            if !rule
                .by_year_day
                .iter()
                .any(|&n| n == yd || n == yd - len - 1)
            {
                return false;
            }
        }
        if !self.month_days.is_empty() {
            let md = i32::try_from(d.day()).unwrap_or(0);
            let len = i32::try_from(days_in_month(d.year(), d.month())).unwrap_or(31);
            if !self
                .month_days
                .iter()
                .any(|&n| n == md || n == md - len - 1)
            {
                return false;
            }
        }
        if self.wd_plain != 0 || !self.wd_nth.is_empty() {
            if self.wd_plain & wd_bit(d.weekday()) != 0 {
                return true;
            }
            let (index, len) = match self.nth_scope {
                NthScope::Month => (d.day(), days_in_month(d.year(), d.month())),
                NthScope::Year => (d.ordinal(), days_in_year(d.year())),
            };
            let fwd = i32::try_from((index - 1) / 7 + 1).unwrap_or(0);
            let back = -i32::try_from((len - index) / 7 + 1).unwrap_or(0);
            return self
                .wd_nth
                .iter()
                .any(|w| w.weekday == d.weekday() && (w.nth == fwd || w.nth == back));
        }
        true
    }

    /// Fill `buf` with the candidates of the current period, sorted. Returns the number of days
    /// examined.
    fn fill(&mut self) -> u64 {
        self.buf.clear();
        self.pos = 0;
        self.days.clear();
        let c = self.cur.date();
        let mut examined: u64 = 1;
        match self.rule.freq {
            Frequency::Yearly => {
                examined = 0;
                for m in 1..=12u32 {
                    if self.months != 0 && self.months & (1 << m) == 0 {
                        continue;
                    }
                    if let Some(first) = NaiveDate::from_ymd_opt(c.year(), m, 1) {
                        let len = days_in_month(c.year(), m);
                        examined += u64::from(len);
                        for d in first.iter_days().take(len as usize) {
                            if self.day_matches(d) {
                                self.days.push(d);
                            }
                        }
                    }
                }
            }
            Frequency::Monthly => {
                if self.months == 0 || self.months & (1 << c.month()) != 0 {
                    let len = days_in_month(c.year(), c.month());
                    examined = u64::from(len);
                    for d in c.iter_days().take(len as usize) {
                        if self.day_matches(d) {
                            self.days.push(d);
                        }
                    }
                }
            }
            Frequency::Weekly => {
                examined = 7;
                for i in 0..7 {
                    if let Some(d) = c.checked_add_signed(Duration::days(i))
                        && self.day_matches(d)
                    {
                        self.days.push(d);
                    }
                }
            }
            _ => {
                if self.day_matches(c) {
                    self.days.push(c);
                }
            }
        }
        if self.rule.freq >= Frequency::Daily {
            'days: for &d in &self.days {
                for &t in &self.times {
                    if self.buf.len() >= MAX_PERIOD_CANDIDATES {
                        self.cut = Some(Cut::PeriodSize);
                        break 'days;
                    }
                    self.buf.push(d.and_time(t));
                }
            }
        } else if let Some(&d) = self.days.first() {
            let (h, m, s) = (self.cur.hour(), self.cur.minute(), self.cur.second());
            let ok = |list: &[u32], v: u32| list.is_empty() || list.contains(&v);
            if ok(&self.hours, h) {
                match self.rule.freq {
                    Frequency::Hourly => {
                        for &m in &self.minutes {
                            for &s in &self.seconds {
                                if let Some(t) = NaiveTime::from_hms_opt(h, m, s) {
                                    self.buf.push(d.and_time(t));
                                }
                            }
                        }
                    }
                    Frequency::Minutely => {
                        if ok(&self.minutes, m) {
                            for &s in &self.seconds {
                                if let Some(t) = NaiveTime::from_hms_opt(h, m, s) {
                                    self.buf.push(d.and_time(t));
                                }
                            }
                        }
                    }
                    _ => {
                        if ok(&self.minutes, m) && ok(&self.seconds, s) {
                            self.buf.push(self.cur);
                        }
                    }
                }
            }
        }
        if !self.rule.by_set_pos.is_empty() && !self.buf.is_empty() {
            let len = i64::try_from(self.buf.len()).unwrap_or(i64::MAX);
            let mut picked: Vec<NaiveDateTime> = self
                .rule
                .by_set_pos
                .iter()
                .filter_map(|&p| {
                    let p = i64::from(p);
                    let idx = if p > 0 { p - 1 } else { len + p };
                    usize::try_from(idx)
                        .ok()
                        .and_then(|i| self.buf.get(i).copied())
                })
                .collect();
            picked.sort_unstable();
            picked.dedup();
            self.buf = picked;
        }
        examined
    }

    /// For sub-daily frequencies: when the current period's day (or hour, minute) cannot match,
    /// jump to the first period at or after the next day (hour, minute) boundary.
    fn skip_dead_subdaily(&mut self) -> bool {
        let Some(step) = self.rule.freq.seconds() else {
            return false;
        };
        let c = self.cur;
        let boundary = if !self.day_matches(c.date()) {
            c.date().succ_opt().map(|d| d.and_time(NaiveTime::MIN))
        } else if !self.hours.is_empty()
            && !self.hours.contains(&c.hour())
            && self.rule.freq < Frequency::Hourly
        {
            c.with_minute(0)
                .and_then(|x| x.with_second(0))
                .and_then(|x| x.checked_add_signed(Duration::hours(1)))
        } else if self.rule.freq == Frequency::Secondly
            && !self.minutes.is_empty()
            && !self.minutes.contains(&c.minute())
        {
            c.with_second(0)
                .and_then(|x| x.checked_add_signed(Duration::minutes(1)))
        } else {
            return false;
        };
        let Some(boundary) = boundary else {
            self.done = true;
            return true;
        };
        let step = step * i64::from(self.rule.interval);
        let diff = (boundary - c).num_seconds();
        let k = (diff + step - 1) / step;
        self.advance_by(k.saturating_mul(i64::from(self.rule.interval)));
        true
    }
}

impl Iterator for Instances<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        if self.dtstart_pending {
            self.dtstart_pending = false;
            return Some(self.dtstart);
        }
        loop {
            if let Some(&c) = self.buf.get(self.pos) {
                self.pos += 1;
                if c > self.dtstart {
                    return Some(c);
                }
                if c == self.dtstart {
                    self.dtstart_matched = true;
                }
                continue;
            }
            if self.done || self.cut.is_some() || self.cur > self.limit {
                self.done = true;
                return None;
            }
            if self.work >= self.work_limit {
                self.cut = Some(Cut::Work);
                continue;
            }
            if self.idle >= MAX_RULE_WORK_WITHOUT_MATCH {
                self.cut = Some(Cut::NoMatch);
                continue;
            }
            if self.rule.freq < Frequency::Daily && self.skip_dead_subdaily() {
                self.work += 1;
                self.idle += 1;
                continue;
            }
            let examined = self.fill();
            let built = self.buf.len() as u64;
            self.work = self.work.saturating_add(examined + built);
            if built == 0 {
                self.idle += examined;
            } else {
                self.idle = 0;
            }
            if self.cut.is_some() {
                // An oversized period: its candidates so far are yielded, then the iterator ends.
                self.done = true;
            }
            self.advance_by(i64::from(self.rule.interval));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y%m%dT%H%M%S").unwrap()
    }

    /// The first `n` instances (DTSTART included), formatted compactly.
    fn first(rule: &str, dtstart: &str, n: usize) -> Vec<String> {
        let rule = Rule::parse(rule).unwrap();
        rule.instances(dt(dtstart), dt("21000101T000000"))
            .take(n)
            .map(|d| d.format("%Y%m%dT%H%M%S").to_string())
            .collect()
    }

    #[test]
    fn parses_parts_and_rejects_typos() {
        let r =
            Rule::parse("FREQ=MONTHLY;BYDAY=-1FR,2MO;INTERVAL=2;UNTIL=20251231T235959Z").unwrap();
        assert_eq!(r.freq, Frequency::Monthly);
        assert_eq!(r.interval, 2);
        assert_eq!(
            r.by_day,
            vec![
                WeekdayNum {
                    nth: -1,
                    weekday: Weekday::Fri
                },
                WeekdayNum {
                    nth: 2,
                    weekday: Weekday::Mon
                }
            ]
        );
        assert_eq!(r.until, Some(Until::Utc(dt("20251231T235959"))));
        assert!(matches!(
            Rule::parse("FREQ=WEEKLY;UNTL=20250101"),
            Err(RuleError::UnknownPart(_))
        ));
        assert!(matches!(
            Rule::parse("INTERVAL=2"),
            Err(RuleError::MissingFreq)
        ));
        assert!(Rule::parse("FREQ=WEEKLY;BYDAY=XX").is_err());
        assert!(Rule::parse("FREQ=WEEKLY;INTERVAL=0").is_err());
        assert!(Rule::parse("FREQ=MONTHLY;BYMONTHDAY=32").is_err());
        assert!(Rule::parse("FREQ=WEEKLY;BYDAY=").is_err());
        assert!(Rule::parse("FREQ=WEEKLY;junk").is_err());
        assert!(Rule::parse("FREQ=WEEKLY;BYDAY=1€").is_err());
        assert!(Rule::parse("FREQ=WEEKLY;COUNT=x").is_err());
        // A negative COUNT beside UNTIL (seen in real exports) is ignored; UNTIL bounds the rule.
        let r = Rule::parse("FREQ=WEEKLY;UNTIL=20240331;COUNT=-1;INTERVAL=4;BYDAY=MO").unwrap();
        assert_eq!(r.count, None);
        assert!(r.until.is_some());
    }

    #[test]
    fn rfc_wkst_example() {
        // RFC 5545 §3.3.10: the WKST changes the result.
        assert_eq!(
            first(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
                "19970805T090000",
                4
            ),
            [
                "19970805T090000",
                "19970810T090000",
                "19970819T090000",
                "19970824T090000"
            ]
        );
        assert_eq!(
            first(
                "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
                "19970805T090000",
                4
            ),
            [
                "19970805T090000",
                "19970817T090000",
                "19970819T090000",
                "19970831T090000"
            ]
        );
    }

    #[test]
    fn monthly_last_friday_and_setpos() {
        assert_eq!(
            first("FREQ=MONTHLY;BYDAY=-1FR", "20250131T100000", 3),
            ["20250131T100000", "20250228T100000", "20250328T100000"]
        );
        // Last weekday of the month (RFC example).
        assert_eq!(
            first(
                "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
                "20250131T090000",
                4
            ),
            [
                "20250131T090000",
                "20250228T090000",
                "20250331T090000",
                "20250430T090000"
            ]
        );
        // Third instance of Tue/Wed/Thu in the month (RFC example).
        assert_eq!(
            first(
                "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
                "19970904T090000",
                3
            ),
            ["19970904T090000", "19971007T090000", "19971106T090000"]
        );
    }

    #[test]
    fn monthday_31_skips_short_months() {
        assert_eq!(
            first("FREQ=MONTHLY;BYMONTHDAY=31", "20250131T090000", 4),
            [
                "20250131T090000",
                "20250331T090000",
                "20250531T090000",
                "20250731T090000"
            ]
        );
        assert_eq!(
            first("FREQ=MONTHLY", "20250131T090000", 3),
            ["20250131T090000", "20250331T090000", "20250531T090000"]
        );
        assert_eq!(
            first("FREQ=MONTHLY;BYMONTHDAY=-1", "20250131T090000", 3),
            ["20250131T090000", "20250228T090000", "20250331T090000"]
        );
    }

    #[test]
    fn yearly_variants() {
        assert_eq!(
            first("FREQ=YEARLY", "20240229T120000", 3),
            ["20240229T120000", "20280229T120000", "20320229T120000"]
        );
        // RFC: every Thursday in March.
        assert_eq!(
            first("FREQ=YEARLY;BYMONTH=3;BYDAY=TH", "19970313T090000", 5),
            [
                "19970313T090000",
                "19970320T090000",
                "19970327T090000",
                "19980305T090000",
                "19980312T090000"
            ]
        );
        // RFC: Monday of week 20.
        assert_eq!(
            first("FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO", "19970512T090000", 3),
            ["19970512T090000", "19980511T090000", "19990517T090000"]
        );
        // RFC: every 20th Monday of the year.
        assert_eq!(
            first("FREQ=YEARLY;BYDAY=20MO", "19970519T090000", 3),
            ["19970519T090000", "19980518T090000", "19990517T090000"]
        );
        // RFC: days 1, 100, 200 every third year.
        assert_eq!(
            first(
                "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
                "19970101T090000",
                4
            ),
            [
                "19970101T090000",
                "19970410T090000",
                "19970719T090000",
                "20000101T090000"
            ]
        );
        // US Thanksgiving-like: 4th Thursday of November; and the last Sunday of October.
        assert_eq!(
            first("FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "20251026T030000", 2),
            ["20251026T030000", "20261025T030000"]
        );
    }

    #[test]
    fn dtstart_first_even_when_not_matching() {
        assert_eq!(
            first("FREQ=WEEKLY;BYDAY=MO", "20250107T100000", 3),
            ["20250107T100000", "20250113T100000", "20250120T100000"]
        );
    }

    #[test]
    fn sub_daily() {
        assert_eq!(
            first("FREQ=HOURLY;INTERVAL=5", "20250101T220000", 3),
            ["20250101T220000", "20250102T030000", "20250102T080000"]
        );
        assert_eq!(
            first(
                "FREQ=MINUTELY;INTERVAL=20;BYHOUR=9,10",
                "20250101T090000",
                7
            ),
            [
                "20250101T090000",
                "20250101T092000",
                "20250101T094000",
                "20250101T100000",
                "20250101T102000",
                "20250101T104000",
                "20250102T090000"
            ]
        );
        assert_eq!(
            first(
                "FREQ=SECONDLY;BYMONTH=2;BYHOUR=1;BYMINUTE=2;BYSECOND=3",
                "20250101T000000",
                3
            ),
            ["20250101T000000", "20250201T010203", "20250202T010203"]
        );
    }

    #[test]
    fn matching_nothing_terminates() {
        let rule = Rule::parse("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30").unwrap();
        let v: Vec<_> = rule
            .instances(dt("20250101T000000"), dt("29991231T000000"))
            .collect();
        assert_eq!(v.len(), 1);
        let rule = Rule::parse("FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30").unwrap();
        let v: Vec<_> = rule
            .instances(dt("20250101T000000"), dt("29991231T000000"))
            .collect();
        assert_eq!(v.len(), 1);
    }

    #[test]
    fn skip_to_is_exact() {
        let rule = Rule::parse("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH").unwrap();
        let start = dt("20200106T090000");
        let limit = dt("20260101T000000");
        let target = dt("20250601T000000");
        let all: Vec<_> = rule
            .instances(start, limit)
            .filter(|d| *d >= target)
            .collect();
        let mut it = rule.instances(start, limit);
        it.skip_to(target);
        let skipped: Vec<_> = it.filter(|d| *d >= target).collect();
        assert_eq!(all, skipped);
        assert!(!all.is_empty());
    }
}
