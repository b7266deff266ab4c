//! The store's async API, grouped by concern: what the daemon, the sync, the outbox, the agenda
//! writer and the scheduler ask of the store, as named methods behind traits.
//!
//! Each trait is one concern; [`AsyncStore`] implements all of them (on SQLite or PostgreSQL) by running the
//! matching [`Store`](super::Store) method on the blocking pool. A method that must be one
//! transaction or one consistent read (opening an account for a sync pass, planning the outbox)
//! is one method here, never several calls. Another back-end (PostgreSQL, or a wrapper that
//! fails a chosen method in a fault test) implements these traits.

use std::collections::{HashMap, HashSet};
use std::future::Future;

use chrono::{DateTime, Utc};

use crate::model::Event;

use super::{
    AgendaDocument, AgendaLink, AsyncStore, Booking, Instance, LeaseRound, OutboxPlan, OutboxView,
    PendingDelivery, Result, StoredCalendar, SyncOutcome,
};

/// Accounts, calendars, events and the record of sync passes.
pub trait EventStore: Send + Sync {
    /// Put the start of a sync attempt on record (the account's row is created if new).
    fn record_sync_start(
        &self,
        account: &str,
        provider: &'static str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Put the outcome of a sync attempt on record (the account's row is created if new).
    fn record_sync_outcome(
        &self,
        account: &str,
        provider: &'static str,
        outcome: SyncOutcome,
    ) -> impl Future<Output = Result<()>> + Send;

    /// In one call: the account's row (created if new), its cursors dropped when `full`, its
    /// calendars other than `keep` forgotten when `keep` is given; returns its id and whether
    /// it needs `auth`.
    fn open_account(
        &self,
        account: &str,
        provider: &'static str,
        full: bool,
        keep: Option<Vec<String>>,
    ) -> impl Future<Output = Result<(i64, bool)>> + Send;

    /// In one call: the account's row (created if new), its cursors dropped when `full`, and
    /// `calendar`'s row; returns the account's id and the calendar's cursor.
    fn open_feed(
        &self,
        account: &str,
        provider: &'static str,
        calendar: &str,
        full: bool,
    ) -> impl Future<Output = Result<(i64, Option<String>)>> + Send;

    /// Forget a calendar's cursor (the next pass is a full read).
    fn clear_cursor(&self, calendar_id: i64) -> impl Future<Output = Result<()>> + Send;

    /// The events of every calendar (or of one account's) overlapping `[from, to)`, in one
    /// consistent read.
    fn events_in(
        &self,
        account: Option<String>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<StoredCalendar>>> + Send;

    /// Mark an account as needing (or no longer needing) `auth`.
    fn set_needs_auth(
        &self,
        account_id: i64,
        needs: bool,
    ) -> impl Future<Output = Result<()>> + Send;

    /// How many events the account holds.
    fn account_event_count(&self, account_id: i64) -> impl Future<Output = Result<usize>> + Send;

    /// Replace a calendar's events and cursor in one transaction.
    fn replace_account_events(
        &self,
        account_id: i64,
        calendar: String,
        events: Vec<Event>,
        cursor: Option<String>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Where a CalDAV event's resource lives (its href and etag), if known.
    fn caldav_resource_location(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<Option<(String, String)>>> + Send;
}

/// The outbox: deliveries planned from the alert ledger, and their attempts.
pub trait Outbox: Send + Sync {
    /// Plan and enqueue deliveries in one transaction: `plan` turns the ledger's view into the
    /// rows to enqueue (data in, data out; it never sees the connection).
    fn enqueue_deliveries<P>(
        &self,
        now: DateTime<Utc>,
        plan: P,
    ) -> impl Future<Output = Result<usize>> + Send
    where
        P: FnOnce(&OutboxView) -> OutboxPlan + Send + 'static;

    /// The deliveries still to make, oldest first.
    fn pending_deliveries(&self) -> impl Future<Output = Result<Vec<PendingDelivery>>> + Send;

    /// Which of `ids` are still worth announcing: resolved ones when `resolved`, otherwise the
    /// open ones neither acknowledged nor snoozed at `now`.
    fn live_alert_ids(
        &self,
        ids: Vec<String>,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<HashSet<String>>> + Send;

    /// Drop a pending delivery with a reason.
    fn drop_delivery(
        &self,
        id: i64,
        now: DateTime<Utc>,
        reason: &'static str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Claim the row for an attempt by this process and record its start; returns its number,
    /// or `None` when it is no longer pending or another process's attempt holds it.
    fn start_attempt(
        &self,
        id: i64,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<u32>>> + Send;

    /// Record an attempt's outcome: the answer when delivered, the error otherwise.
    fn finish_attempt(
        &self,
        id: i64,
        attempt: u32,
        now: DateTime<Utc>,
        outcome: std::result::Result<String, String>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The agenda ledger: documents, links from sessions to them, and sections written.
pub trait AgendaLedger: Send + Sync {
    fn agenda_links(&self) -> impl Future<Output = Result<Vec<AgendaLink>>> + Send;
    /// The latest agenda link of each report.
    fn latest_agendas(&self) -> impl Future<Output = Result<HashMap<String, String>>> + Send;
    fn put_agenda_link(
        &self,
        link: AgendaLink,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    fn delete_agenda_link(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> impl Future<Output = Result<()>> + Send;
    fn agenda_document(
        &self,
        doc_key: &str,
    ) -> impl Future<Output = Result<Option<AgendaDocument>>> + Send;
    fn agenda_documents_of(
        &self,
        report: &str,
    ) -> impl Future<Output = Result<Vec<AgendaDocument>>> + Send;
    fn put_agenda_document(
        &self,
        doc: AgendaDocument,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Record that a session's section was written (once per session).
    fn record_agenda_section(
        &self,
        session_key: &str,
        doc_key: &str,
        report: &str,
        session_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Bookings of make-up sessions and the proposals on offer.
pub trait Bookings: Send + Sync {
    fn booking(&self, alert_id: &str) -> impl Future<Output = Result<Option<Booking>>> + Send;
    fn record_booking(&self, booking: Booking) -> impl Future<Output = Result<()>> + Send;
    fn undo_booking(
        &self,
        alert_id: &str,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// Replace the proposals on offer (report, alert, slot) in one transaction.
    fn replace_proposals(
        &self,
        rows: Vec<(String, String, String)>,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// Several daemon instances sharing one store: who syncs which account, and the shared
/// rate-limit pauses (see `leases.rs`).
pub trait Leases: Send + Sync {
    /// One lease round (heartbeat, renew, give back the surplus, claim up to the fair share),
    /// one transaction.
    fn lease_round(
        &self,
        me: &Instance,
        wanted: &std::collections::BTreeSet<String>,
        period: std::time::Duration,
        wall: DateTime<Utc>,
    ) -> impl Future<Output = Result<LeaseRound>> + Send;
    /// Give back every lease of `me` (a clean stop).
    fn release_leases(&self, me: &str) -> impl Future<Output = Result<()>> + Send;
    /// Record that `me` starts a sync of `account` at `wall`; false when the lease is gone.
    fn start_leased_sync(
        &self,
        me: &str,
        account: &str,
        wall: DateTime<Utc>,
    ) -> impl Future<Output = Result<bool>> + Send;
    /// When the last sync of `account` started, whoever ran it.
    fn leased_synced_at(
        &self,
        account: &str,
    ) -> impl Future<Output = Result<Option<DateTime<Utc>>>> + Send;
    /// Pause a quota scope for every instance until `until`.
    fn note_throttle(
        &self,
        scope: &str,
        until: DateTime<Utc>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The paused quota scopes after `wall`.
    fn throttles(
        &self,
        wall: DateTime<Utc>,
    ) -> impl Future<Output = Result<Vec<(String, DateTime<Utc>)>>> + Send;
}

impl Leases for AsyncStore {
    async fn lease_round(
        &self,
        me: &Instance,
        wanted: &std::collections::BTreeSet<String>,
        period: std::time::Duration,
        wall: DateTime<Utc>,
    ) -> Result<LeaseRound> {
        let (me, wanted) = (me.clone(), wanted.clone());
        self.call(move |s| s.lease_round(&me, &wanted, period, wall))
            .await
    }

    async fn release_leases(&self, me: &str) -> Result<()> {
        let me = me.to_string();
        self.call(move |s| s.release_leases(&me)).await
    }

    async fn start_leased_sync(
        &self,
        me: &str,
        account: &str,
        wall: DateTime<Utc>,
    ) -> Result<bool> {
        let (me, account) = (me.to_string(), account.to_string());
        self.call(move |s| s.start_leased_sync(&me, &account, wall))
            .await
    }

    async fn leased_synced_at(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        let account = account.to_string();
        self.call(move |s| s.leased_synced_at(&account)).await
    }

    async fn note_throttle(&self, scope: &str, until: DateTime<Utc>) -> Result<()> {
        let scope = scope.to_string();
        self.call(move |s| s.note_throttle(&scope, until)).await
    }

    async fn throttles(&self, wall: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.call(move |s| s.throttles(wall)).await
    }
}

impl EventStore for AsyncStore {
    async fn record_sync_start(
        &self,
        account: &str,
        provider: &'static str,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let name = account.to_string();
        self.call(move |s| {
            let id = s.ensure_account(&name, provider)?;
            s.record_sync_start(id, at)
        })
        .await
    }

    async fn record_sync_outcome(
        &self,
        account: &str,
        provider: &'static str,
        outcome: SyncOutcome,
    ) -> Result<()> {
        let name = account.to_string();
        self.call(move |s| {
            let id = s.ensure_account(&name, provider)?;
            s.record_sync(id, &outcome)
        })
        .await
    }

    async fn open_account(
        &self,
        account: &str,
        provider: &'static str,
        full: bool,
        keep: Option<Vec<String>>,
    ) -> Result<(i64, bool)> {
        let name = account.to_string();
        self.call(move |s| {
            let id = s.ensure_account(&name, provider)?;
            if full {
                s.drop_cursors(id)?;
            }
            if let Some(keep) = keep {
                s.retain_calendars(id, &keep)?;
            }
            Ok((id, s.needs_auth(id)?))
        })
        .await
    }

    async fn open_feed(
        &self,
        account: &str,
        provider: &'static str,
        calendar: &str,
        full: bool,
    ) -> Result<(i64, Option<String>)> {
        let (name, cal) = (account.to_string(), calendar.to_string());
        self.call(move |s| {
            let id = s.ensure_account(&name, provider)?;
            if full {
                s.drop_cursors(id)?;
            }
            let cal_id = s.ensure_calendar(id, &cal)?;
            Ok((id, s.cursor(cal_id)?))
        })
        .await
    }

    async fn clear_cursor(&self, calendar_id: i64) -> Result<()> {
        self.call(move |s| s.clear_cursor(calendar_id)).await
    }

    async fn events_in(
        &self,
        account: Option<String>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredCalendar>> {
        self.call(move |s| s.load_events_in(account.as_deref(), from, to))
            .await
    }

    async fn set_needs_auth(&self, account_id: i64, needs: bool) -> Result<()> {
        self.call(move |s| s.set_needs_auth(account_id, needs))
            .await
    }

    async fn account_event_count(&self, account_id: i64) -> Result<usize> {
        self.call(move |s| s.account_event_count(account_id)).await
    }

    async fn replace_account_events(
        &self,
        account_id: i64,
        calendar: String,
        events: Vec<Event>,
        cursor: Option<String>,
    ) -> Result<()> {
        self.call(move |s| {
            s.replace_account_events(account_id, &calendar, &events, cursor.as_deref())
        })
        .await
    }

    async fn caldav_resource_location(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> Result<Option<(String, String)>> {
        let (a, c, e) = (
            account.to_string(),
            calendar.to_string(),
            event_id.to_string(),
        );
        self.call(move |s| s.caldav_resource_location(&a, &c, &e))
            .await
    }
}

impl Outbox for AsyncStore {
    async fn enqueue_deliveries<P>(&self, now: DateTime<Utc>, plan: P) -> Result<usize>
    where
        P: FnOnce(&OutboxView) -> OutboxPlan + Send + 'static,
    {
        self.call(move |s| s.enqueue_deliveries(now, plan)).await
    }

    async fn pending_deliveries(&self) -> Result<Vec<PendingDelivery>> {
        self.call(|s| s.pending_deliveries()).await
    }

    async fn live_alert_ids(
        &self,
        ids: Vec<String>,
        resolved: bool,
        now: DateTime<Utc>,
    ) -> Result<HashSet<String>> {
        self.call(move |s| {
            if resolved {
                s.resolved_alert_ids(&ids)
            } else {
                s.active_alert_ids(&ids, now)
            }
        })
        .await
    }

    async fn drop_delivery(&self, id: i64, now: DateTime<Utc>, reason: &'static str) -> Result<()> {
        self.call(move |s| s.drop_delivery(id, now, reason)).await
    }

    async fn start_attempt(&self, id: i64, now: DateTime<Utc>) -> Result<Option<u32>> {
        self.call(move |s| s.start_attempt(id, now)).await
    }

    async fn finish_attempt(
        &self,
        id: i64,
        attempt: u32,
        now: DateTime<Utc>,
        outcome: std::result::Result<String, String>,
    ) -> Result<()> {
        self.call(move |s| {
            s.finish_attempt(id, attempt, now, outcome.as_deref().map_err(String::as_str))
        })
        .await
    }
}

impl AgendaLedger for AsyncStore {
    async fn agenda_links(&self) -> Result<Vec<AgendaLink>> {
        self.call(|s| s.agenda_links()).await
    }

    async fn latest_agendas(&self) -> Result<HashMap<String, String>> {
        self.call(|s| s.latest_agendas()).await
    }

    async fn put_agenda_link(&self, link: AgendaLink, now: DateTime<Utc>) -> Result<()> {
        self.call(move |s| s.put_agenda_link(&link, now)).await
    }

    async fn delete_agenda_link(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> Result<()> {
        let (a, c, e) = (
            account.to_string(),
            calendar.to_string(),
            event_id.to_string(),
        );
        self.call(move |s| s.delete_agenda_link(&a, &c, &e)).await
    }

    async fn agenda_document(&self, doc_key: &str) -> Result<Option<AgendaDocument>> {
        let key = doc_key.to_string();
        self.call(move |s| s.agenda_document(&key)).await
    }

    async fn agenda_documents_of(&self, report: &str) -> Result<Vec<AgendaDocument>> {
        let report = report.to_string();
        self.call(move |s| s.agenda_documents_of(&report)).await
    }

    async fn put_agenda_document(&self, doc: AgendaDocument, now: DateTime<Utc>) -> Result<()> {
        self.call(move |s| s.put_agenda_document(&doc, now)).await
    }

    async fn record_agenda_section(
        &self,
        session_key: &str,
        doc_key: &str,
        report: &str,
        session_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (k, d, r) = (
            session_key.to_string(),
            doc_key.to_string(),
            report.to_string(),
        );
        self.call(move |s| s.record_agenda_section(&k, &d, &r, session_start, now))
            .await
    }
}

impl Bookings for AsyncStore {
    async fn booking(&self, alert_id: &str) -> Result<Option<Booking>> {
        let id = alert_id.to_string();
        self.call(move |s| s.booking(&id)).await
    }

    async fn record_booking(&self, booking: Booking) -> Result<()> {
        self.call(move |s| s.record_booking(&booking)).await
    }

    async fn undo_booking(&self, alert_id: &str, at: DateTime<Utc>) -> Result<()> {
        let id = alert_id.to_string();
        self.call(move |s| s.undo_booking(&id, at)).await
    }

    async fn replace_proposals(
        &self,
        rows: Vec<(String, String, String)>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.call(move |s| s.replace_proposals(&rows, now)).await
    }
}
