//! Booking the make-up: `cadenced book ALERT_ID [--slot N]`, `cadenced book --undo ALERT_ID`,
//! and the daemon's auto-booking (`[scheduling] auto_book = true`).
//!
//! Invariants: a booking re-reads both sides' free/busy first (the slots are computed afresh at
//! `now`, so a slot that became busy is never booked); an alert gets at most one make-up: the
//! store's `bookings` row and the private property in the calendar (Google
//! `extendedProperties.private.cadencedMakeup`, Graph a single-value extended property, both
//! holding the alert id) are both looked up before creating anything; `--undo` deletes only the
//! event that carries the alert's property; the daemon books only `skipped` alerts of series the
//! manager organizes, never within `notice`, never again after an undo.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::api::{self, NewMakeup, SchedulingApi};
use super::{Proposal, propose};
use crate::alerts::Analysed;
use crate::cadence::AlertKind;
use crate::config::Config;
use crate::store::{AgendaLedger, AsyncStore, Booking, Bookings, StoredCalendar};

#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("no open alert has id {0} (see `cadenced alerts`)")]
    UnknownAlert(String),
    #[error("alert {id} is a {kind} alert: only gap, no_series and skipped alerts get a make-up")]
    NotSchedulable { id: String, kind: String },
    #[error(
        "booking is off: set [scheduling] book = true, then run `cadenced auth ACCOUNT` once more for the permission to edit events"
    )]
    Disabled,
    #[error(
        "only iCalendar feeds are configured: cadenced cannot create events; add the slot yourself"
    )]
    NoWritableAccount,
    #[error(
        "account {0} may not edit events: run `cadenced auth {0}` again (with [scheduling] on, it asks for that permission)"
    )]
    NoWriteScope(String),
    #[error("no free slot for both before {0}: nothing booked")]
    NoSlot(String),
    #[error("there is no slot {wanted}: {available} proposed")]
    NoSuchSlot { wanted: usize, available: usize },
    #[error(transparent)]
    Api(#[from] api::ApiError),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// What `book` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Booked {
    Created(Booking),
    /// The alert already has its make-up (in the store or in the calendar): nothing created.
    Already(Booking),
}

/// What `book --undo` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Undone {
    Deleted(Booking),
    /// The event was already gone from the calendar; the booking is marked undone.
    Gone(Booking),
    Nothing,
}

/// Everything a booking works with.
pub struct BookContext<'a> {
    pub config: &'a Config,
    pub state_dir: &'a Path,
    pub store: &'a AsyncStore,
    pub client: &'a reqwest::Client,
}

/// Whether the manager organizes the report's 1on1 series (the latest session's event).
fn manager_organizes(
    config: &Config,
    calendars: &[StoredCalendar],
    a: &Analysed,
    report: usize,
) -> bool {
    let r = &a.analysis.reports[report];
    let Some(last) = r.sessions.last() else {
        return false;
    };
    let id = last.series_id.as_deref().unwrap_or(&last.event_id);
    calendars
        .iter()
        .filter(|c| c.account == last.account && c.calendar == last.calendar)
        .flat_map(|c| c.events.iter())
        .find(|e| e.event_id == id)
        .is_some_and(|e| {
            e.organizer
                .as_ref()
                .is_none_or(|o| o.email.eq_ignore_ascii_case(&config.manager.email))
        })
}

/// Book slot `slot` (1-based) of the alert's fresh proposals. `how` is `manual` or `auto`.
pub async fn book(
    cx: &BookContext<'_>,
    a: &Analysed,
    calendars: &[StoredCalendar],
    alert_id: &str,
    slot: usize,
    how: &str,
    now: DateTime<Utc>,
) -> Result<Booked, BookError> {
    let config = cx.config;
    let Some((finding, _)) = a
        .analysis
        .findings
        .iter()
        .zip(&a.states)
        .find(|(_, s)| s.id == alert_id)
    else {
        return Err(BookError::UnknownAlert(alert_id.to_string()));
    };
    if !matches!(
        finding.kind,
        AlertKind::Gap | AlertKind::NoSeries | AlertKind::Skipped
    ) {
        return Err(BookError::NotSchedulable {
            id: alert_id.to_string(),
            kind: finding.kind.as_str().to_string(),
        });
    }
    if !config.scheduling.booking() {
        return Err(BookError::Disabled);
    }
    let Some(api) = SchedulingApi::new(config, cx.state_dir, cx.client) else {
        return Err(BookError::NoWritableAccount);
    };
    // Already booked? The store first, then the calendar (a lost state directory, a crash
    // between creating and recording).
    let id = alert_id.to_string();
    if let Some(b) = cx.store.booking(&id).await?
        && b.undone_at.is_none()
    {
        return Ok(Booked::Already(b));
    }
    if !api::can_write(config, cx.state_dir) {
        return Err(BookError::NoWriteScope(api.account().to_string()));
    }
    let report = &a.analysis.reports[finding.report];
    let title = super::makeup_title(config, report);
    if let Some(found) = api.find(cx.client, alert_id).await? {
        let b = Booking {
            alert_id: alert_id.to_string(),
            report: report.email.to_lowercase(),
            account: api.account().to_string(),
            calendar: "primary".into(),
            event_id: found.id,
            title: if found.title.is_empty() {
                title
            } else {
                found.title
            },
            start: found.start.unwrap_or(now),
            end: found.end.or(found.start).unwrap_or(now),
            how: how.to_string(),
            created_at: now,
            undone_at: None,
        };
        let rec = b.clone();
        cx.store.record_booking(rec).await?;
        return Ok(Booked::Already(b));
    }
    // Fresh proposals: both sides' free/busy are read again now.
    let proposals = propose(config, cx.state_dir, cx.client, a, calendars, now).await;
    let Some(p) = proposals.iter().find(|p| p.alert_id == alert_id) else {
        return Err(BookError::NotSchedulable {
            id: alert_id.to_string(),
            kind: finding.kind.as_str().to_string(),
        });
    };
    let Some(span) = p.slots.get(slot.saturating_sub(1)).copied() else {
        if p.slots.is_empty() {
            return Err(BookError::NoSlot(crate::makeup::slot_day(
                config,
                p.window_end,
            )));
        }
        return Err(BookError::NoSuchSlot {
            wanted: slot,
            available: p.slots.len(),
        });
    };
    let agenda = if config.agenda.enabled {
        let email = report.email.to_lowercase();
        cx.store.latest_agendas().await?.get(&email).cloned()
    } else {
        None
    };
    let mut description = finding.message.clone();
    if let Some(link) = &agenda {
        description.push_str(&format!("\n\nAgenda: {link}"));
    }
    description.push_str(&format!("\n\nBooked by cadenced for alert {alert_id}."));
    let event_id = api
        .create(
            cx.client,
            &NewMakeup {
                title: title.clone(),
                description,
                span,
                manager: config.manager.email.clone(),
                report: report.email.clone(),
                mark: alert_id.to_string(),
                transaction: format!("cadenced-{alert_id}-{}", now.timestamp()),
            },
        )
        .await?;
    let b = Booking {
        alert_id: alert_id.to_string(),
        report: report.email.to_lowercase(),
        account: api.account().to_string(),
        calendar: "primary".into(),
        event_id,
        title,
        start: span.start,
        end: span.end,
        how: how.to_string(),
        created_at: now,
        undone_at: None,
    };
    let rec = b.clone();
    cx.store.record_booking(rec).await?;
    Ok(Booked::Created(b))
}

/// Delete the make-up booked for `alert_id`: the recorded event, or (no record) the event in
/// the calendar carrying the alert's property.
pub async fn undo(
    cx: &BookContext<'_>,
    alert_id: &str,
    now: DateTime<Utc>,
) -> Result<Undone, BookError> {
    let Some(api) = SchedulingApi::new(cx.config, cx.state_dir, cx.client) else {
        return Err(BookError::NoWritableAccount);
    };
    let id = alert_id.to_string();
    let recorded = cx
        .store
        .booking(&id)
        .await?
        .filter(|b| b.undone_at.is_none());
    let booking = match recorded {
        Some(b) => b,
        None => match api.find(cx.client, alert_id).await? {
            Some(found) => Booking {
                alert_id: alert_id.to_string(),
                report: String::new(),
                account: api.account().to_string(),
                calendar: "primary".into(),
                event_id: found.id,
                title: found.title,
                start: found.start.unwrap_or(now),
                end: found.end.unwrap_or(now),
                how: "manual".into(),
                created_at: now,
                undone_at: None,
            },
            None => return Ok(Undone::Nothing),
        },
    };
    let deleted = api.delete(cx.client, &booking.event_id).await?;
    let id = alert_id.to_string();
    let known = cx.store.booking(&id).await?.is_some();
    if known {
        let id = alert_id.to_string();
        cx.store.undo_booking(&id, now).await?;
    }
    Ok(if deleted {
        Undone::Deleted(booking)
    } else {
        Undone::Gone(booking)
    })
}

/// The daemon's auto-booking: for each `skipped` proposal whose alert has no booking at all
/// (undone ones included), whose series the manager organizes, book its first slot. At most one
/// booking per alert; failures are logged and tried again next cycle.
pub async fn auto_book(
    cx: &BookContext<'_>,
    a: &Analysed,
    calendars: &[StoredCalendar],
    proposals: &[Proposal],
    now: DateTime<Utc>,
) -> Vec<Result<Booking, String>> {
    let mut out = Vec::new();
    if !cx.config.scheduling.auto_book || !cx.config.scheduling.booking() {
        return out;
    }
    for p in proposals
        .iter()
        .filter(|p| p.kind == "skipped" && !p.slots.is_empty())
    {
        let id = p.alert_id.clone();
        match cx.store.booking(&id).await {
            Ok(Some(_)) => continue,
            Ok(None) => {}
            Err(e) => {
                out.push(Err(e.to_string()));
                continue;
            }
        }
        let Some((f, state)) = a
            .analysis
            .findings
            .iter()
            .zip(&a.states)
            .find(|(_, s)| s.id == p.alert_id)
        else {
            continue;
        };
        // An acknowledged or snoozed alert was dealt with by the manager: not ours to book.
        if state.acked || state.snoozed_until.is_some_and(|u| u > now) {
            continue;
        }
        if !manager_organizes(cx.config, calendars, a, f.report) {
            tracing::info!(alert = %p.alert_id, "not auto-booked: the manager does not organize this 1on1");
            continue;
        }
        match book(cx, a, calendars, &p.alert_id, 1, "auto", now).await {
            Ok(Booked::Created(b)) => {
                tracing::info!(alert = %b.alert_id, event = %b.event_id, "make-up booked");
                out.push(Ok(b));
            }
            Ok(Booked::Already(_)) => {}
            Err(e) => {
                tracing::warn!(alert = %p.alert_id, "make-up not booked: {e}");
                out.push(Err(e.to_string()));
            }
        }
    }
    out
}
