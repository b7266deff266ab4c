//! `events`: the stored occurrences in a window, recurrences expanded.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};

use super::{CliError, Context};
use crate::model::EventTime;
use crate::output::EventLine;
use crate::recurrence::{self, Occurrence, Window};
use crate::store::StoredCalendar;
use crate::tz::Zone;

pub fn events(
    ctx: &Context,
    account: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    if let Some(name) = account
        && ctx.config.account(name).is_none()
    {
        return Err(CliError::usage(format!(
            "there is no account named {name:?} in {}",
            ctx.config.file.display()
        )));
    }
    let zone = ctx.config.manager.zone();
    let window = Window {
        from: match from {
            Some(s) => parse_bound(s, &zone, "--from")?,
            None => ctx.now - ctx.config.sync.past.as_chrono(),
        },
        to: match to {
            Some(s) => parse_bound(s, &zone, "--to")?,
            None => ctx.now + ctx.config.sync.future.as_chrono(),
        },
    };
    if window.to <= window.from {
        return Err(CliError::usage("--to must be after --from"));
    }
    let store = ctx.open_store()?;
    let stored = store
        .load_events(account)
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let occurrences = expand_stored(&stored, &window, &zone);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = if json {
        occurrences.iter().try_for_each(|(acc, occ)| {
            let line =
                serde_json::to_string(&EventLine::new(acc, occ)).map_err(std::io::Error::other)?;
            writeln!(out, "{line}")
        })
    } else {
        occurrences.iter().try_for_each(|(acc, occ)| {
            let line = human_line(acc, occ, &zone, &ctx.config.manager.email);
            writeln!(out, "{}", crate::terminal::escape(&line))
        })
    };
    result
        .and_then(|()| out.flush())
        .or_else(ignore_broken_pipe)
}

/// Expand every calendar's events in the window; the result is sorted by start, then uid.
/// Floating times and dates are placed in the manager's zone.
pub fn expand_stored<'a>(
    stored: &'a [StoredCalendar],
    window: &Window,
    zone: &Zone,
) -> Vec<(&'a str, Occurrence<'a>)> {
    let mut all: Vec<(&str, Occurrence<'_>)> = Vec::new();
    for cal in stored {
        let expansion = recurrence::expand(&cal.events, window, zone);
        for warning in &expansion.warnings {
            tracing::warn!(account = %cal.account, calendar = %cal.calendar, "{warning}");
        }
        all.extend(
            expansion
                .occurrences
                .into_iter()
                .map(|o| (cal.account.as_str(), o)),
        );
    }
    all.retain(|(_, o)| !o.removed);
    all.sort_by_cached_key(|(_, o)| (o.start.instant(zone), o.event.uid.clone()));
    all
}

pub(super) fn parse_bound(s: &str, zone: &Zone, flag: &str) -> Result<DateTime<Utc>, CliError> {
    if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(zone.to_utc(date.and_time(chrono::NaiveTime::MIN)));
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            CliError::usage(format!(
                "{flag} {s:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 time"
            ))
        })
}

fn human_line(account: &str, occ: &Occurrence<'_>, zone: &Zone, manager: &str) -> String {
    let when = match (&occ.start, &occ.end) {
        (EventTime::Date { date }, EventTime::Date { date: end }) => {
            let days = (*end - *date).num_days();
            if days > 1 {
                format!("{} all day ({days} days)", date.format("%a %Y-%m-%d"))
            } else {
                format!("{} all day", date.format("%a %Y-%m-%d"))
            }
        }
        (start, end) => {
            let s = local_in(start, zone);
            let e = local_in(end, zone);
            if s.date() == e.date() {
                format!(
                    "{} {}–{}",
                    s.format("%a %Y-%m-%d"),
                    s.format("%H:%M"),
                    e.format("%H:%M")
                )
            } else {
                format!(
                    "{} {} – {}",
                    s.format("%a %Y-%m-%d"),
                    s.format("%H:%M"),
                    e.format("%a %Y-%m-%d %H:%M")
                )
            }
        }
    };
    let status = match occ.status {
        crate::model::EventStatus::Cancelled => "  [cancelled]",
        crate::model::EventStatus::Tentative => "  [tentative]",
        crate::model::EventStatus::Confirmed => "",
    };
    // Who declined: the calendar owner (the manager) or an attendee; such a session is not held.
    let e = occ.event;
    let mut declined: Vec<&str> = Vec::new();
    if e.self_response == Some(crate::model::Response::Declined)
        || e.attendees.iter().any(|a| {
            a.response == crate::model::Response::Declined && a.email.eq_ignore_ascii_case(manager)
        })
    {
        declined.push("you");
    }
    for a in &e.attendees {
        if a.response == crate::model::Response::Declined
            && !a.resource
            && !a.email.eq_ignore_ascii_case(manager)
        {
            declined.push(&a.email);
        }
    }
    let declined = if declined.is_empty() {
        String::new()
    } else {
        format!("  [declined by {}]", declined.join(", "))
    };
    let away = if e.out_of_office {
        "  [out of office]"
    } else {
        ""
    };
    format!(
        "{when}  {}{status}{declined}{away}  ({account})",
        occ.event.summary
    )
}

/// A time as the manager's wall clock shows it (floating times are already wall-clock times).
fn local_in(t: &EventTime, zone: &Zone) -> chrono::NaiveDateTime {
    match t {
        EventTime::Zoned { local, zone: z } => zone.from_utc(z.to_utc(*local)),
        other => other.local(),
    }
}

fn ignore_broken_pipe(e: std::io::Error) -> Result<(), CliError> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(CliError::runtime(format!("cannot write the output: {e}")))
    }
}
