//! The recurrence set of each series (DTSTART + RRULEs + RDATEs − EXDATEs), overrides
//! (RECURRENCE-ID, RANGE=THISANDFUTURE), orphans and singles, selected by window and sorted.
//!
//! Decisions where RFC 5545 and the references (recurring-ical-events, ical.js) leave room:
//! - DTSTART is always the first instance (RFC 5545 §3.8.5.3). When the rule itself does not
//!   produce it, it does not use up COUNT: the RFC calls such a set undefined, and both references
//!   count only the rule's own instances (recurring-ical-events adds DTSTART on top, ical.js
//!   leaves it out).
//! - UNTIL before DTSTART: the rule yields nothing (recurring-ical-events agrees).
//! - UNTIL as a DATE with a DATE-TIME DTSTART ends at that date's midnight (both references);
//!   a date-time UNTIL with a DATE DTSTART compares dates (UTC UNTIL's own date).
//! - EXDATE/RECURRENCE-ID matching: zoned times as instants; a DATE against a date-time by the
//!   date-time's own wall-clock date (both references); floating against zoned by wall clock.
//! - An EXDATE wins over an override of the same instance (both references); the instance is
//!   reported removed. Duplicate overrides of one instance: the highest SEQUENCE wins.
//! - An override whose recurrence id matches no instance of the set is dropped (both references
//!   agree on it, e.g. recurring-ical-events' issue 253 calendar).
//! - THISANDFUTURE shifts later instances (RRULE and RDATE) by the override's wall-clock move in
//!   the series' frame and gives them the override's duration and fields (both references);
//!   their recurrence id stays their own original start (ical.js).
//! - An RDATE on a rule instance is merged into it; a PERIOD end wins.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc,
};

use super::{Expansion, Limits, Occurrence, Window};
use crate::model::{Event, EventTime};
use crate::rrule::{Cut, Rule, Until};
use crate::tz::Zone;

/// Slack around the window when bounding generation in wall-clock time: covers any UTC offset
/// (±14 h) and a DST gap, so that the bounds never exclude an instance that overlaps the window.
const SLACK_DAYS: i64 = 2;

fn add(t: NaiveDateTime, d: Duration) -> NaiveDateTime {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        NaiveDateTime::MIN
    } else {
        NaiveDateTime::MAX
    })
}

fn add_instant(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

/// Whether an occurrence `[start, end)` overlaps the window; a zero-length one counts when it
/// starts inside the window.
pub(crate) fn overlaps(start: DateTime<Utc>, end: DateTime<Utc>, w: &Window) -> bool {
    if end <= start {
        w.from <= start && start < w.to
    } else {
        start < w.to && end > w.from
    }
}

/// The length of an event, in the terms its frame uses.
#[derive(Debug, Clone, Copy)]
enum Span {
    /// DATE-TIME: an exact duration (zoned) or a wall-clock one (floating).
    Time(Duration),
    /// DATE: whole days.
    Days(i64),
}

fn span_of(start: &EventTime, end: &EventTime, fz: &Zone) -> Span {
    match start {
        EventTime::Date { date } => Span::Days((end.local().date() - *date).num_days().max(0)),
        EventTime::Zoned { .. } => {
            Span::Time((end.instant(fz) - start.instant(fz)).max(Duration::zero()))
        }
        EventTime::Floating { local } => Span::Time((end.local() - *local).max(Duration::zero())),
    }
}

fn span_len(s: Span) -> Duration {
    match s {
        Span::Time(d) => d,
        Span::Days(n) => Duration::try_days(n).unwrap_or(Duration::MAX),
    }
}

/// `instant` as a wall-clock time in `zone`; an instant in the second half of a fall-back
/// overlap cannot be written that way (the wall clock reads as the earlier instant) and is
/// written in UTC instead.
fn zoned_at(zone: &Zone, instant: DateTime<Utc>) -> EventTime {
    let local = zone.from_utc(instant);
    if zone.to_utc(local) == instant {
        EventTime::Zoned {
            local,
            zone: zone.clone(),
        }
    } else {
        EventTime::utc(instant)
    }
}

/// Whether two zones are the same zone (cheaply: custom zones by identity).
fn same_zone(a: &Zone, b: &Zone) -> bool {
    match (a, b) {
        (Zone::Utc, Zone::Utc) => true,
        (Zone::Iana(x), Zone::Iana(y)) => x == y,
        (Zone::Custom(x), Zone::Custom(y)) => Arc::ptr_eq(x, y),
        _ => false,
    }
}

/// The end of an instance starting at `start` (placed at `start_instant`), `span` later, with
/// its instant; zoned ends use `end_zone` (the master's end zone) when there is one.
fn end_after(
    start: &EventTime,
    start_instant: DateTime<Utc>,
    span: Span,
    end_zone: Option<&Zone>,
    fz: &Zone,
) -> (EventTime, DateTime<Utc>) {
    let len = span_len(span);
    match start {
        EventTime::Zoned {
            zone: start_zone,
            local: start_local,
        } => {
            let zone = end_zone.unwrap_or(start_zone);
            let instant = add_instant(start_instant, len);
            let local = zone.from_utc(instant);
            // Same zone, same offset, less than a day later: the end's wall clock cannot be the
            // second reading of an overlap (the start's is not), so no round trip is needed.
            let offset_kept =
                *start_local - start_instant.naive_utc() == local - instant.naive_utc();
            if (same_zone(zone, start_zone) && offset_kept && len <= Duration::days(1))
                || zone.to_utc(local) == instant
            {
                (
                    EventTime::Zoned {
                        local,
                        zone: zone.clone(),
                    },
                    instant,
                )
            } else {
                (EventTime::utc(instant), instant)
            }
        }
        EventTime::Floating { local } => {
            let t = EventTime::Floating {
                local: add(*local, len),
            };
            let i = t.instant(fz);
            (t, i)
        }
        EventTime::Date { date } => {
            let days = Duration::try_days(len.num_days()).unwrap_or(Duration::zero());
            let t = EventTime::Date {
                date: date.checked_add_signed(days).unwrap_or(*date),
            };
            let i = t.instant(fz);
            (t, i)
        }
    }
}

/// Place a wall-clock time of `zone`: the instant (gap: forward; overlap: earlier) and the
/// wall clock that instant reads (differs from `local` only in a gap).
fn place(zone: &Zone, local: NaiveDateTime) -> (NaiveDateTime, DateTime<Utc>) {
    match zone {
        Zone::Utc => (local, local.and_utc()),
        Zone::Iana(tz) => match tz.from_local_datetime(&local) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => (local, t.with_timezone(&Utc)),
            LocalResult::None => {
                let i = zone.to_utc(local);
                (zone.from_utc(i), i)
            }
        },
        Zone::Custom(_) => {
            let i = zone.to_utc(local);
            (zone.from_utc(i), i)
        }
    }
}

fn push_digits(out: &mut String, n: u32, width: usize) {
    let s = n.to_string();
    for _ in s.len()..width {
        out.push('0');
    }
    out.push_str(&s);
}

fn push_compact_date(out: &mut String, d: chrono::NaiveDate) {
    if (0..=9999).contains(&d.year()) {
        push_digits(out, d.year().unsigned_abs(), 4);
        push_digits(out, d.month(), 2);
        push_digits(out, d.day(), 2);
    } else {
        out.push_str(&d.format("%Y%m%d").to_string());
    }
}

fn push_compact_time(out: &mut String, t: NaiveDateTime) {
    push_compact_date(out, t.date());
    out.push('T');
    push_digits(out, t.hour(), 2);
    push_digits(out, t.minute(), 2);
    push_digits(out, t.second(), 2);
}

/// The compact form of a recurrence id used in instance ids.
fn push_compact(out: &mut String, t: &EventTime, instant: DateTime<Utc>) {
    match t {
        EventTime::Zoned { .. } => {
            push_compact_time(out, instant.naive_utc());
            out.push('Z');
        }
        EventTime::Floating { local } => push_compact_time(out, *local),
        EventTime::Date { date } => push_compact_date(out, *date),
    }
}

/// Whether two times name the same instance start (the rule [`StartIndex`] implements; kept as
/// the reference its tests compare with): zoned times as instants, dates as dates, a
/// date against a date-time by the date-time's local date, floating against anything by wall
/// clock.
#[cfg(test)]
fn same_start(
    a: &EventTime,
    a_instant: DateTime<Utc>,
    b: &EventTime,
    b_instant: DateTime<Utc>,
) -> bool {
    match (a, b) {
        (EventTime::Zoned { .. }, EventTime::Zoned { .. }) => a_instant == b_instant,
        (EventTime::Date { date: x }, EventTime::Date { date: y }) => x == y,
        (EventTime::Date { date }, other) | (other, EventTime::Date { date }) => {
            other.local().date() == *date
        }
        _ => a.local() == b.local(),
    }
}

/// The entries of a list (overrides, EXDATEs, instances) keyed so that the ones with the same
/// instance start as a query ([`same_start`]) are found without comparing with every entry:
/// 20,000 overrides or 10,000 EXDATEs of one series cost a hash lookup per instance.
#[derive(Default)]
struct StartIndex {
    /// Zoned entries by instant.
    instant: HashMap<DateTime<Utc>, Vec<usize>>,
    /// Zoned entries by wall clock.
    zoned_local: HashMap<NaiveDateTime, Vec<usize>>,
    /// Floating entries by wall clock.
    floating: HashMap<NaiveDateTime, Vec<usize>>,
    /// Date entries.
    dates: HashMap<NaiveDate, Vec<usize>>,
    /// Zoned and floating entries by their wall-clock date.
    datetime_dates: HashMap<NaiveDate, Vec<usize>>,
}

impl StartIndex {
    fn insert(&mut self, t: &EventTime, instant: DateTime<Utc>, i: usize) {
        match t {
            EventTime::Zoned { local, .. } => {
                self.instant.entry(instant).or_default().push(i);
                self.zoned_local.entry(*local).or_default().push(i);
                self.datetime_dates.entry(local.date()).or_default().push(i);
            }
            EventTime::Floating { local } => {
                self.floating.entry(*local).or_default().push(i);
                self.datetime_dates.entry(local.date()).or_default().push(i);
            }
            EventTime::Date { date } => self.dates.entry(*date).or_default().push(i),
        }
    }

    /// The lowest index of an entry with the same start as `t` (as [`same_start`] decides).
    fn first(&self, t: &EventTime, instant: DateTime<Utc>) -> Option<usize> {
        let first = |m: Option<&Vec<usize>>| m.and_then(|v| v.first().copied());
        let found = match t {
            EventTime::Zoned { local, .. } => [
                first(self.instant.get(&instant)),
                first(self.floating.get(local)),
                first(self.dates.get(&local.date())),
            ],
            EventTime::Floating { local } => [
                first(self.floating.get(local)),
                first(self.zoned_local.get(local)),
                first(self.dates.get(&local.date())),
            ],
            EventTime::Date { date } => [
                first(self.dates.get(date)),
                first(self.datetime_dates.get(date)),
                None,
            ],
        };
        found.into_iter().flatten().min()
    }

    fn any(&self, t: &EventTime, instant: DateTime<Utc>) -> bool {
        self.first(t, instant).is_some()
    }
}

/// What is left of an expansion's limits (see [`Limits`]).
struct Budget {
    per_series: usize,
    series_left: usize,
    work_left: u64,
}

/// Why a series was expanded only partly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Loss {
    /// More instances in the window than a series may contribute.
    Instances,
    /// The rule's work budget (or the expansion's) ran out.
    Work,
    /// One period of the rule held too many candidates.
    PeriodSize,
    /// The expansion already holds its maximum of series occurrences.
    Total,
}

/// One member of a series' recurrence set.
#[derive(Debug)]
struct Inst {
    /// The original start (the recurrence id), normalized to the zone's wall clock.
    start: EventTime,
    instant: DateTime<Utc>,
    /// A PERIOD RDATE's own end.
    end: Option<EventTime>,
}

/// The wall-clock frame a series is expanded in.
enum Frame<'z> {
    Zoned(&'z Zone),
    Floating,
    Date,
}

struct Keyed<'a> {
    instant: DateTime<Utc>,
    occ: Occurrence<'a>,
}

pub(super) fn expand<'a>(
    events: &'a [Event],
    window: &Window,
    fz: &Zone,
    limits: &Limits,
) -> Expansion<'a> {
    let refs: Vec<&'a Event> = events.iter().collect();
    expand_refs(&refs, window, fz, limits)
}

pub(super) fn expand_refs<'a>(
    events: &[&'a Event],
    window: &Window,
    fz: &Zone,
    limits: &Limits,
) -> Expansion<'a> {
    let mut budget = Budget {
        per_series: limits.instances_per_series,
        series_left: limits.series_occurrences,
        work_left: limits.work,
    };
    let mut warnings = Vec::new();
    let mut out: Vec<Keyed<'a>> = Vec::new();
    let masters: HashMap<&'a str, &'a Event> = events
        .iter()
        .copied()
        .filter(|e| e.is_master())
        .map(|e| (e.event_id.as_str(), e))
        .collect();
    let mut overrides: HashMap<&'a str, Vec<&'a Event>> = HashMap::new();
    for &e in events {
        if e.is_override() {
            match e.series_id.as_deref().filter(|s| masters.contains_key(s)) {
                Some(s) => overrides.entry(s).or_default().push(e),
                None => {
                    // Orphan override: shown on its own.
                    push_plain(
                        &mut out,
                        e,
                        e.series_id.as_deref(),
                        e.recurrence_id.clone(),
                        window,
                        fz,
                    )
                }
            }
        } else if !e.is_master() {
            push_plain(&mut out, e, None, None, window, fz);
        }
    }
    let mut done: HashSet<&'a str> = HashSet::new();
    let mut unlisted = 0usize;
    for &e in events.iter().filter(|e| e.is_master()) {
        // A duplicated master id is expanded once (the map holds the last one).
        if !done.insert(e.event_id.as_str()) {
            continue;
        }
        let master = masters.get(e.event_id.as_str()).copied().unwrap_or(e);
        let ovs = overrides
            .get(master.event_id.as_str())
            .map_or(&[][..], Vec::as_slice);
        if let Err(w) = expand_series(master, ovs, window, fz, &mut out, &mut budget) {
            if warnings.len() < crate::limits::MAX_WARNINGS {
                warnings.push(w);
            } else {
                unlisted += 1;
            }
        }
    }
    if unlisted > 0 {
        warnings.push(format!(
            "{unlisted} more series were skipped or expanded only partly (at most {} are listed).",
            crate::limits::MAX_WARNINGS
        ));
    }
    // Sort small keys, not the occurrences themselves; uids are ranked once so that the many
    // ties on the start instant compare integers.
    let mut uids: Vec<&str> = out.iter().map(|k| k.occ.event.uid.as_str()).collect();
    uids.sort_unstable();
    uids.dedup();
    let rank: HashMap<&str, usize> = uids.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let mut order: Vec<(DateTime<Utc>, usize, usize)> = out
        .iter()
        .enumerate()
        .map(|(i, k)| {
            (
                k.instant,
                rank.get(k.occ.event.uid.as_str()).copied().unwrap_or(0),
                i,
            )
        })
        .collect();
    order.sort_unstable_by(|(ta, ra, a), (tb, rb, b)| {
        ta.cmp(tb)
            .then(ra.cmp(rb))
            .then_with(|| out[*a].occ.event_id.cmp(&out[*b].occ.event_id))
    });
    let mut slots: Vec<Option<Occurrence<'a>>> = out.into_iter().map(|k| Some(k.occ)).collect();
    let occurrences = order
        .iter()
        .filter_map(|(_, _, i)| slots.get_mut(*i).and_then(Option::take))
        .collect();
    Expansion {
        occurrences,
        warnings,
    }
}

fn push_plain<'a>(
    out: &mut Vec<Keyed<'a>>,
    e: &'a Event,
    series_id: Option<&'a str>,
    recurrence_id: Option<EventTime>,
    window: &Window,
    fz: &Zone,
) {
    let (s, t) = (e.start.instant(fz), e.end.instant(fz));
    if overlaps(s, t, window) {
        out.push(Keyed {
            instant: s,
            occ: Occurrence {
                event: e,
                event_id: e.event_id.clone(),
                series_id,
                recurrence_id,
                start: e.start.clone(),
                end: e.end.clone(),
                status: e.status,
                removed: false,
            },
        });
    }
}

/// Expand one master with its overrides into `out`; an unusable rule skips the whole series
/// and returns the warning sentence.
fn expand_series<'a>(
    master: &'a Event,
    overrides: &[&'a Event],
    window: &Window,
    fz: &Zone,
    out: &mut Vec<Keyed<'a>>,
    budget: &mut Budget,
) -> Result<(), String> {
    let Some(set) = master.recurrence.as_ref() else {
        return Ok(());
    };
    let rules = set
        .rrules
        .iter()
        .map(|r| {
            Rule::parse(r).map_err(|e| {
                format!(
                    "Series {} ({}) skipped: its RRULE `{r}` cannot be used: {e}.",
                    master.uid, master.event_id
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let span = span_of(&master.start, &master.end, fz);
    let end_zone = match &master.end {
        EventTime::Zoned { zone, .. } => Some(zone),
        _ => None,
    };

    // Overrides with their recurrence-id instants; THISANDFUTURE ones sorted by it.
    let mut ovs: Vec<(&'a Event, &EventTime, DateTime<Utc>)> = Vec::with_capacity(overrides.len());
    let mut ov_index = StartIndex::default();
    for o in overrides {
        let Some(r) = o.recurrence_id.as_ref() else {
            continue;
        };
        let ri = r.instant(fz);
        // Several overrides of the same instance: the highest SEQUENCE wins (the later one on a tie).
        match ov_index.first(r, ri) {
            Some(k) if ovs[k].0.sequence <= o.sequence => {
                ovs[k] = (*o, r, ri);
                ov_index.insert(r, ri, k);
            }
            Some(_) => {}
            None => {
                ov_index.insert(r, ri, ovs.len());
                ovs.push((*o, r, ri));
            }
        }
    }
    let mut taf: Vec<&(&'a Event, &EventTime, DateTime<Utc>)> =
        ovs.iter().filter(|o| o.0.this_and_future).collect();
    taf.sort_by_key(|o| o.2);
    let max_shift = taf
        .iter()
        .map(|(o, r, ri)| {
            (o.start.instant(fz) - *ri).abs()
                + (o.start.local() - r.local()).abs()
                + span_len(span_of(&o.start, &o.end, fz))
        })
        .max()
        .unwrap_or(Duration::zero());

    // Wall-clock bounds for generation: every instance that can overlap the window lies inside.
    let slack = Duration::days(SLACK_DAYS);
    let lower = add(
        add(add(window.from.naive_utc(), -slack), -span_len(span)),
        -max_shift,
    );
    let upper = add(add(window.to.naive_utc(), slack), max_shift);

    let mut exdates = StartIndex::default();
    for (i, x) in set.exdates.iter().enumerate() {
        exdates.insert(x, x.instant(fz), i);
    }
    let frame = match &master.start {
        EventTime::Zoned { zone, .. } => Frame::Zoned(zone),
        EventTime::Floating { .. } => Frame::Floating,
        EventTime::Date { .. } => Frame::Date,
    };

    let mut insts: Vec<Inst> = Vec::new();
    let dtstart = master.start.local();
    if rules.is_empty() {
        insts.push(Inst {
            start: master.start.clone(),
            instant: master.start.instant(fz),
            end: None,
        });
    }
    let mut loss: Option<Loss> = None;
    // Only instances that can meet the window are kept (and counted against the limits): the
    // generation range has slack for any zone and DST, which for a sub-daily rule is many
    // instances that never show.
    let reach = Window {
        from: add_instant(window.from, -max_shift),
        to: add_instant(window.to, max_shift),
    };
    let keep_main = |start: &EventTime, instant: DateTime<Utc>| {
        let (_, end) = end_after(start, instant, span, end_zone, fz);
        overlaps(instant, end, &reach)
    };
    for rule in &rules {
        let range = LocalRange { lower, upper };
        generate(
            rule, dtstart, &frame, range, fz, &keep_main, &mut insts, budget, &mut loss,
        );
    }
    for rd in &set.rdates {
        insts.push(Inst {
            start: rd.start.clone(),
            instant: rd.start.instant(fz),
            end: rd.end.clone(),
        });
    }
    insts.sort_by_key(|i| i.instant);
    // Duplicates (several rules, an RDATE on a rule instance): keep one, a PERIOD end wins.
    insts.dedup_by(|later, kept| {
        if later.instant == kept.instant && later.start.is_date() == kept.start.is_date() {
            if kept.end.is_none() {
                kept.end = later.end.take();
            }
            true
        } else {
            false
        }
    });

    let series_id = Some(master.event_id.as_str());
    let mut used = vec![false; ovs.len()];
    let mut pushed = 0usize;
    for inst in &insts {
        if pushed >= budget.per_series {
            loss.get_or_insert(Loss::Instances);
            break;
        }
        if budget.series_left == 0 {
            loss.get_or_insert(Loss::Total);
            break;
        }
        let before = out.len();
        let removed = exdates.any(&inst.start, inst.instant);
        let own = ov_index.first(&inst.start, inst.instant);
        if let Some(k) = own {
            used[k] = true;
            if !removed {
                let o = ovs[k].0;
                push_override(out, o, series_id, inst.start.clone(), window, fz);
                let n = out.len() - before;
                pushed += n;
                budget.series_left = budget.series_left.saturating_sub(n);
                continue;
            }
            // EXDATE wins over an override of the same instance (both references agree).
        }
        // The latest THISANDFUTURE override before this instance, if any (`taf` is sorted).
        let follow = taf
            .partition_point(|o| o.2 < inst.instant)
            .checked_sub(1)
            .and_then(|k| taf.get(k));
        let (event, start, si, end, ei) = match follow {
            Some((o, r, _)) => {
                let start = shifted(&inst.start, &o.start, r, fz);
                let si = start.instant(fz);
                let (end, ei) = end_after(&start, si, span_of(&o.start, &o.end, fz), None, fz);
                (*o, start, si, end, ei)
            }
            None => {
                let (end, ei) = match &inst.end {
                    Some(e) => (e.clone(), e.instant(fz)),
                    None => end_after(&inst.start, inst.instant, span, end_zone, fz),
                };
                (master, inst.start.clone(), inst.instant, end, ei)
            }
        };
        if !overlaps(si, ei, window) {
            continue;
        }
        let mut event_id = String::with_capacity(master.event_id.len() + 17);
        event_id.push_str(&master.event_id);
        event_id.push('_');
        push_compact(&mut event_id, &inst.start, inst.instant);
        out.push(Keyed {
            instant: si,
            occ: Occurrence {
                event,
                event_id,
                series_id,
                recurrence_id: Some(inst.start.clone()),
                start,
                end,
                status: event.status,
                removed,
            },
        });
        pushed += 1;
        budget.series_left = budget.series_left.saturating_sub(1);
    }
    // Overrides of instances outside the generated range (they may move into the window): shown
    // with their own times unless an EXDATE removes their recurrence id. An override whose
    // recurrence id is no instance of the set at all refers to nothing and is dropped (both
    // references agree; RFC 5545 §3.8.4.4: RECURRENCE-ID identifies an instance of the set).
    // Only those whose own times meet the window can show; their instances are generated once,
    // over the range of their recurrence ids.
    let pending: Vec<usize> = (0..ovs.len())
        .filter(|&k| {
            let (o, r, ri) = ovs[k];
            !used[k]
                && !exdates.any(r, ri)
                && overlaps(o.start.instant(fz), o.end.instant(fz), window)
        })
        .collect();
    let lo = pending.iter().map(|&k| ovs[k].2.naive_utc()).min();
    let hi = pending.iter().map(|&k| ovs[k].2.naive_utc()).max();
    if let (Some(lo), Some(hi)) = (lo, hi) {
        let mut wanted = StartIndex::default();
        for (i, &k) in pending.iter().enumerate() {
            wanted.insert(ovs[k].1, ovs[k].2, i);
        }
        let keep_wanted = |start: &EventTime, instant: DateTime<Utc>| wanted.any(start, instant);
        let mut near: Vec<Inst> = vec![Inst {
            // DTSTART is always an instance of the set.
            start: master.start.clone(),
            instant: master.start.instant(fz),
            end: None,
        }];
        for rule in &rules {
            let range = LocalRange {
                lower: add(lo, -slack),
                upper: add(hi, slack),
            };
            generate(
                rule,
                dtstart,
                &frame,
                range,
                fz,
                &keep_wanted,
                &mut near,
                budget,
                &mut loss,
            );
        }
        let mut instances = StartIndex::default();
        for (i, inst) in near.iter().enumerate() {
            instances.insert(&inst.start, inst.instant, i);
        }
        for (i, rd) in set.rdates.iter().enumerate() {
            instances.insert(&rd.start, rd.start.instant(fz), near.len() + i);
        }
        for k in pending {
            let (o, r, ri) = ovs[k];
            if pushed >= budget.per_series || budget.series_left == 0 {
                loss.get_or_insert(Loss::Instances);
                break;
            }
            if instances.any(r, ri) {
                push_override(out, o, series_id, r.clone(), window, fz);
                pushed += 1;
                budget.series_left = budget.series_left.saturating_sub(1);
            }
        }
    }
    if let Some(loss) = loss {
        // The series was cut short: say so, but keep what was generated.
        let why = match loss {
            Loss::Instances => format!(
                "it has more than {} instances in the window",
                budget.per_series
            ),
            Loss::Work => "its RRULE takes too much work to expand".to_string(),
            Loss::PeriodSize => format!(
                "its RRULE has more than {} candidates in one period",
                crate::limits::MAX_PERIOD_CANDIDATES
            ),
            Loss::Total => format!(
                "the calendar's series already hold {} occurrences in this window",
                crate::limits::MAX_SERIES_OCCURRENCES
            ),
        };
        return Err(format!(
            "Series {} ({}) was expanded only partly: {why} (see docs/limits.md).",
            master.uid, master.event_id
        ));
    }
    Ok(())
}

fn push_override<'a>(
    out: &mut Vec<Keyed<'a>>,
    o: &'a Event,
    series_id: Option<&'a str>,
    recurrence_id: EventTime,
    window: &Window,
    fz: &Zone,
) {
    let (s, t) = (o.start.instant(fz), o.end.instant(fz));
    if overlaps(s, t, window) {
        out.push(Keyed {
            instant: s,
            occ: Occurrence {
                event: o,
                event_id: o.event_id.clone(),
                series_id,
                recurrence_id: Some(recurrence_id),
                start: o.start.clone(),
                end: o.end.clone(),
                status: o.status,
                removed: false,
            },
        });
    }
}

/// The start of instance `orig` under a THISANDFUTURE override that moved `recurrence_id` to
/// `moved_to`: the same wall-clock shift in the series' frame.
fn shifted(
    orig: &EventTime,
    moved_to: &EventTime,
    recurrence_id: &EventTime,
    fz: &Zone,
) -> EventTime {
    match orig {
        EventTime::Zoned { local, zone } => {
            let delta =
                zone.from_utc(moved_to.instant(fz)) - zone.from_utc(recurrence_id.instant(fz));
            let local = add(*local, delta);
            zoned_at(zone, zone.to_utc(local))
        }
        EventTime::Floating { local } => EventTime::Floating {
            local: add(*local, moved_to.local() - recurrence_id.local()),
        },
        EventTime::Date { date } => {
            let days = (moved_to.local().date() - recurrence_id.local().date()).num_days();
            EventTime::Date {
                date: date
                    .checked_add_signed(Duration::days(days))
                    .unwrap_or(*date),
            }
        }
    }
}

/// Whether the instance at `local` (placed at `instant`) lies after UNTIL. UTC UNTIL compares
/// instants for a zoned series and wall clocks otherwise; a DATE UNTIL ends a date series on that
/// day and a date-time series at that day's midnight (both references agree on this).
fn past_until(until: Until, local: NaiveDateTime, instant: DateTime<Utc>, frame: &Frame) -> bool {
    match (until, frame) {
        (Until::Utc(u), Frame::Zoned(_)) => instant > u.and_utc(),
        (Until::Utc(u) | Until::Local(u), Frame::Date) => local.date() > u.date(),
        (Until::Utc(u) | Until::Local(u), _) => local > u,
        (Until::Date(d), Frame::Date) => local.date() > d,
        (Until::Date(d), _) => local > d.and_time(chrono::NaiveTime::MIN),
    }
}

/// The wall-clock range instances are collected in.
#[derive(Debug, Clone, Copy)]
struct LocalRange {
    lower: NaiveDateTime,
    upper: NaiveDateTime,
}

/// Push the instances of `rule` whose wall clock lies in `range` and that `keep` accepts (at most
/// the per-series limit of `budget`), spending the budget's work; `loss` says why generation
/// stopped early, if it did.
#[allow(clippy::too_many_arguments)]
fn generate(
    rule: &Rule,
    dtstart: NaiveDateTime,
    frame: &Frame,
    range: LocalRange,
    fz: &Zone,
    keep: &dyn Fn(&EventTime, DateTime<Utc>) -> bool,
    insts: &mut Vec<Inst>,
    budget: &mut Budget,
    loss: &mut Option<Loss>,
) {
    let LocalRange { lower, upper } = range;
    let mut it = rule
        .instances(dtstart, upper)
        .with_work_limit(budget.work_left);
    if rule.count.is_none() {
        it.skip_to(lower);
    }
    let mut pushed = 0usize;
    let mut n: u32 = 0;
    let mut yielded: u32 = 0;
    let mut last_date = None;
    // `while let` rather than `for`: the loop asks the iterator whether DTSTART matched.
    #[allow(clippy::while_let_on_iterator)]
    while let Some(local) = it.next() {
        yielded += 1;
        // A DTSTART the rule does not produce is an extra first instance that does not use up
        // COUNT (RFC 5545 leaves such a set undefined; both references count it this way).
        if yielded == 2 && !it.dtstart_matched() {
            n = n.saturating_sub(1);
        }
        let (start, instant) = match frame {
            Frame::Zoned(zone) => {
                let (local, instant) = place(zone, local);
                (
                    EventTime::Zoned {
                        local,
                        zone: (*zone).clone(),
                    },
                    instant,
                )
            }
            Frame::Floating => (EventTime::Floating { local }, fz.to_utc(local)),
            Frame::Date => {
                let date = local.date();
                // A date series has one instance per day even if BYHOUR asks for more.
                if last_date == Some(date) {
                    continue;
                }
                last_date = Some(date);
                (
                    EventTime::Date { date },
                    fz.to_utc(date.and_time(chrono::NaiveTime::MIN)),
                )
            }
        };
        if let Some(u) = rule.until
            && past_until(u, local, instant, frame)
        {
            break;
        }
        n = n.saturating_add(1);
        if rule.count.is_some_and(|c| n > c) || local > upper {
            break;
        }
        if local < lower || !keep(&start, instant) {
            continue;
        }
        if pushed >= budget.per_series {
            loss.get_or_insert(Loss::Instances);
            break;
        }
        insts.push(Inst {
            start,
            instant,
            end: None,
        });
        pushed += 1;
    }
    budget.work_left = budget.work_left.saturating_sub(it.work());
    match it.cut() {
        Some(Cut::Work) => {
            loss.get_or_insert(Loss::Work);
        }
        Some(Cut::PeriodSize) => {
            loss.get_or_insert(Loss::PeriodSize);
        }
        Some(Cut::NoMatch) | None => {}
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use proptest::prelude::*;

    fn time(kind: u8, day: u32, hour: u32) -> EventTime {
        let date = NaiveDate::from_ymd_opt(2025, 3, 1 + day).unwrap();
        let local = date.and_hms_opt(hour, 0, 0).unwrap();
        match kind % 4 {
            0 => EventTime::Date { date },
            1 => EventTime::Floating { local },
            2 => EventTime::Zoned {
                local,
                zone: Zone::Utc,
            },
            _ => EventTime::Zoned {
                local,
                zone: Zone::Iana(chrono_tz::Asia::Tokyo),
            },
        }
    }

    proptest! {
        /// The index finds exactly the first entry `same_start` would find by a linear search.
        #[test]
        fn index_agrees_with_same_start(
            entries in proptest::collection::vec((0u8..4, 0u32..3, 0u32..24), 0..40),
            queries in proptest::collection::vec((0u8..4, 0u32..3, 0u32..24), 1..20),
        ) {
            let fz = Zone::Iana(chrono_tz::Europe::Berlin);
            let entries: Vec<EventTime> = entries.iter().map(|&(k, d, h)| time(k, d, h)).collect();
            let mut index = StartIndex::default();
            for (i, e) in entries.iter().enumerate() {
                index.insert(e, e.instant(&fz), i);
            }
            for &(k, d, h) in &queries {
                let q = time(k, d, h);
                let qi = q.instant(&fz);
                let linear = entries.iter().position(|e| same_start(&q, qi, e, e.instant(&fz)));
                prop_assert_eq!(index.first(&q, qi), linear);
            }
        }
    }
}
