//! The one way a provider writes during a sync: a narrow, account-bound sink that the store
//! implements (`store::AccountSink`). A provider only translates its API into the model; what
//! it may do to the store is exactly this: open a calendar (its id and stored cursor), read the
//! series it stored there before, take a generation number for a full listing, apply one page
//! (events, deletions and the cursor, committed together), and forget an expired cursor.
//!
//! Providers are generic over [`CalendarSink`], so a second store back-end (or a deliberately
//! failing one in a fault test) plugs in without touching them.

use std::collections::{HashMap, HashSet};
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

/// One resource of a resource-keyed source (a CalDAV href): its entity tag and the events its
/// body gave. The href is the key, never derived from a UID.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub href: String,
    pub etag: String,
    pub events: Vec<Event>,
}

/// One batch of a resource-keyed listing, applied in one transaction.
#[derive(Debug, Clone, Default)]
pub struct ResourceBatch {
    /// Fetched resources; each replaces the stored one (and all its events) as a whole.
    pub upserts: Vec<Resource>,
    /// Removed hrefs (unknown ones are ignored).
    pub removed: Vec<String>,
    /// The last batch of a full listing: every stored href not in this set is removed.
    pub keep_only: Option<HashSet<String>>,
    /// The calendar's cursor after this batch; `None` leaves it as it is.
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

    /// The account's stored calendars: id, name and cursor.
    fn calendars(
        &self,
    ) -> impl Future<Output = Result<Vec<(CalendarId, String, Option<String>)>, SinkError>> + Send;

    /// Remove the account's calendars not named in `keep` (with their events and cursors).
    fn retain_calendars(
        &self,
        keep: Vec<String>,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// The stored entity tag of every resource of a calendar, by href.
    fn resource_etags(
        &self,
        calendar: CalendarId,
    ) -> impl Future<Output = Result<HashMap<String, String>, SinkError>> + Send;

    /// Apply one batch of resources (see [`ResourceBatch`]) in one transaction.
    fn apply_resources(
        &self,
        calendar: CalendarId,
        batch: ResourceBatch,
    ) -> impl Future<Output = Result<(), SinkError>> + Send;
}
