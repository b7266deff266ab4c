//! Agenda documents kept by a provider (docs/design.md, Agenda documents): the neutral seam the
//! agenda drives ([`DocumentHost`]) over the cloud document back-ends, `google/drive.rs` (a
//! Google Doc edited with the Docs API) and `microsoft/onedrive.rs` (a Word document in
//! OneDrive). Local Markdown files are the agenda's own (`agenda/local.rs`), not a provider.
//!
//! The trait lives here, below the agenda, for the same reason as [`super::sink`]: imports point
//! down the pipeline, so a provider never imports the agenda; the agenda imports this seam and
//! keeps every decision (what a section says, whether the document has it, how often to retry).
//!
//! Invariants every host keeps: a document is created only when [`DocumentHost::find`] finds
//! none; a section is inserted only conditionally on the version it was computed from
//! ([`DocumentHost::insert_section`] answers `false` when the document changed meanwhile), above
//! the first paragraph that starts with [`SECTION_MARKER`], and nothing else in the document
//! changes; sharing never sends the report an e-mail.

use std::future::Future;

/// How every section's marker line starts: a new section goes above the first one.
pub const SECTION_MARKER: &str = "<!-- cadenced:section ";

/// Which document the agenda means.
#[derive(Debug, Clone, Copy)]
pub struct DocumentSpec<'a> {
    /// The agenda's key (`series:<report>` or `session:<report>:<date>`).
    pub key: &'a str,
    /// The report's file stem (one-to-one with the address).
    pub stem: &'a str,
    /// The session's date in the manager's zone for a session document; `None` for a series.
    pub date: Option<&'a str>,
}

/// A document found or created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    /// Its link, when the host gives one without sharing (Drive's `webViewLink`).
    pub link: Option<String>,
}

/// A document's text and the version it was read at.
#[derive(Debug, Clone)]
pub struct Snapshot<V> {
    /// The text, one line per paragraph.
    pub text: String,
    pub version: V,
}

/// The documents of one account's cloud storage.
pub trait DocumentHost: Sync {
    type Error: std::error::Error + Send + Sync + 'static;
    /// What a conditional write is conditional on (a revision, an eTag and the bytes read).
    type Version: Send + Sync;

    /// The title a new document gets, from the agenda's `title`.
    fn title(&self, title: &str, spec: &DocumentSpec<'_>) -> String;

    /// The document for `spec`, if one exists.
    fn find(
        &self,
        spec: &DocumentSpec<'_>,
    ) -> impl Future<Output = Result<Option<Document>, Self::Error>> + Send;

    /// Create the document for `spec` titled `title`, holding `text`.
    fn create(
        &self,
        spec: &DocumentSpec<'_>,
        title: &str,
        text: &str,
    ) -> impl Future<Output = Result<Document, Self::Error>> + Send;

    /// Give `email` write access (without an e-mail); returns the link to put in invites.
    fn share(
        &self,
        doc: &Document,
        email: &str,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// The document's text, as the agenda parses it (its sections and follow-ups).
    fn text(&self, id: &str) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// The document's current text and version.
    fn read(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Snapshot<Self::Version>, Self::Error>> + Send;

    /// The text a new section is computed from, for the version in `snapshot`.
    fn text_at(
        &self,
        id: &str,
        snapshot: &Snapshot<Self::Version>,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Insert `section` above the first section (or, when `first`, after everything) if the
    /// document is still at `snapshot`'s version; `Ok(false)` when it is not.
    fn insert_section(
        &self,
        id: &str,
        snapshot: &Snapshot<Self::Version>,
        section: String,
        first: bool,
    ) -> impl Future<Output = Result<bool, Self::Error>> + Send;
}
