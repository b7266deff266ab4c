//! The one way a provider writes during a sync: a narrow, account-bound sink that the store
//! implements (`store::AccountSink`). A provider only translates its API into the model; what
//! it may do to the store is exactly this: open a calendar (its id and stored cursor), read the
//! series it stored there before, take a generation number for a full listing, apply one page
//! (events, deletions and the cursor, committed together), and forget an expired cursor.
//!
//! Providers are generic over [`CalendarSink`], so a second store back-end (or a deliberately
//! failing one in a fault test) plugs in without touching them.

use std::future::Future;

use crate::model::Event;

/// A calendar's id in the store, as handed out by [`CalendarSink::open`].
pub type CalendarId = i64;

/// A store failure, in one sentence (the store's own error, already rendered).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// One page of a generation-tracked listing, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct PageWrite {
    /// Inserted or replaced, tagged with `generation`.
    pub upserts: Vec<Event>,
    /// Removed, together with the overrides whose `series_id` is one of them.
    pub deleted_ids: Vec<String>,
    /// The listing's generation ([`CalendarSink::next_generation`] for a full listing, the
    /// current one for an incremental listing).
    pub generation: i64,
    /// The last page of a full listing: rows of the calendar of any other generation go.
    pub sweep: bool,
    /// Stored with the page (the last page's sync token or delta link); `None` keeps the cursor.
    pub cursor: Option<String>,
}

/// What a provider may do to the store for the account it is syncing.
pub trait CalendarSink: Sync {
    /// The calendar's id (created on first use) and its stored cursor, if any.
    fn open(
        &self,
        calendar: &str,
    ) -> impl Future<Output = Result<(CalendarId, Option<String>), SinkError>> + Send;

    /// A generation number that no row of the calendar carries yet (for a full listing).
    fn next_generation(
        &self,
        calendar: CalendarId,
    ) -> impl Future<Output = Result<i64, SinkError>> + Send;

    /// Apply one page: deletions, upserts, the sweep of a finished full listing and the cursor,
    /// in one transaction.
    fn apply_page(
        &self,
        calendar: CalendarId,
        page: PageWrite,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Forget the calendar's cursor (an expired sync token or delta link).
    fn clear_cursor(
        &self,
        calendar: CalendarId,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The series masters and overrides stored for the calendar (what earlier rounds kept).
    fn series_events(
        &self,
        calendar: CalendarId,
    ) -> impl Future<Output = Result<Vec<Event>, SinkError>> + Send;
}
