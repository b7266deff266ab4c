//! Writing an agenda link into a calendar event (docs/design.md, Writing to calendars): the
//! neutral seam the agenda drives ([`EventLinker`]), what a write did ([`LinkOutcome`],
//! [`UnlinkOutcome`]), and the one place that picks an account's linker by its kind ([`linker`]).
//! The implementations are the providers' own: `google/write.rs` (events.patch),
//! `microsoft/write.rs` (Graph PATCH), `caldav/write.rs` (PUT of the resource).
//!
//! The trait lives here, below the agenda, for the same reason as [`super::sink`]: imports point
//! down the pipeline, so a provider never imports the agenda; the agenda imports this seam.
//!
//! Invariants every linker keeps: only events the manager organizes are written (checked on the
//! live copy); a write is conditional on the version just read (`If-Match` on its etag), and a
//! conflict re-reads and re-applies at most [`MAX_ATTEMPTS`] times, then gives up without
//! writing; the event gains one delimited block ([`super::block`]) and a private mark, and
//! [`EventLinker::unlink`] takes away exactly those.

use std::future::Future;
use std::path::Path;

use reqwest::{Client, Url};

use super::caldav::write::CaldavWriter;
use super::google::write::GoogleWriter;
use super::microsoft::write::MsWriter;
use crate::config::AccountKind;

/// Read-modify-write attempts before giving up for this cycle (the first included).
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a resource-keyed source (CalDAV) cannot be written: the store has no resource for the
/// event.
pub const UNKNOWN_RESOURCE: &str =
    "the event's resource is not known to the store yet (sync first)";

/// What linking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkOutcome {
    /// The block was added; the event's new etag.
    Linked { etag: Option<String> },
    /// The block was already there: nothing written.
    AlreadyLinked { etag: Option<String> },
    /// The manager does not organize the event: nothing written.
    NotOrganizer,
    /// Every attempt met a concurrent edit (412): nothing written this time.
    GaveUp,
}

/// What unlinking did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnlinkOutcome {
    Removed,
    /// Neither block nor mark was found.
    NothingToRemove,
    /// The event is gone.
    Gone,
    GaveUp,
}

/// The event to write, as the store knows it.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub calendar: &'a str,
    pub event_id: &'a str,
    /// For a resource-keyed source ([`resource_keyed`]): the URL of the resource holding the
    /// event, from the last sync.
    pub resource: Option<&'a Url>,
}

/// One account's way of writing agenda links into its events.
pub trait EventLinker: Sync {
    type Error: std::error::Error + Send + Sync + 'static;

    /// What the agenda ledger records as the mark of a link this linker wrote.
    fn mark(&self) -> &'static str;

    /// Add the block for `url` (titled `title`) to the event, once.
    fn link(
        &self,
        event: &EventRef<'_>,
        title: &str,
        url: &str,
    ) -> impl Future<Output = Result<LinkOutcome, Self::Error>> + Send;

    /// Remove exactly what [`Self::link`] added.
    fn unlink(
        &self,
        event: &EventRef<'_>,
    ) -> impl Future<Output = Result<UnlinkOutcome, Self::Error>> + Send;
}

/// How links are written, from the config.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings<'a> {
    pub state_dir: &'a Path,
    pub client: &'a Client,
    /// The manager's address (the organizer check when a source does not say "you").
    pub manager: &'a str,
    /// Google: also attach the document natively (documents are Google Docs).
    pub attach: bool,
    /// Microsoft: also write the block into the body (`[agenda] notify_attendees`).
    pub in_body: bool,
}

/// Does this kind of account address events by resource (so [`EventRef::resource`] is needed)?
pub fn resource_keyed(kind: &AccountKind) -> bool {
    matches!(kind, AccountKind::Caldav(_))
}

/// Can events of this kind of account be written (is there a linker)?
pub fn writable(kind: &AccountKind) -> bool {
    match kind {
        AccountKind::Google(_) | AccountKind::Microsoft(_) | AccountKind::Caldav(_) => true,
        AccountKind::Ics(_) => false,
    }
}

/// The linker of one account, by its kind.
pub enum AccountLinker {
    Google(GoogleWriter),
    Microsoft(MsWriter),
    Caldav(CaldavWriter),
}

/// Why a link could not be written, in the provider's own words.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Google(#[from] super::google::write::WriteError),
    #[error(transparent)]
    Microsoft(#[from] super::microsoft::write::MsWriteError),
    #[error(transparent)]
    Caldav(#[from] super::caldav::write::WriteError),
    #[error(transparent)]
    CaldavSession(#[from] super::caldav::CaldavError),
}

/// The linker of account `name`; `None` when its kind cannot be written (an iCalendar feed).
pub fn linker(
    name: &str,
    kind: &AccountKind,
    settings: &LinkSettings<'_>,
) -> Option<Result<AccountLinker, LinkError>> {
    Some(match kind {
        AccountKind::Google(g) => Ok(AccountLinker::Google(GoogleWriter::new(name, g, settings))),
        AccountKind::Microsoft(ms) => {
            Ok(AccountLinker::Microsoft(MsWriter::new(name, ms, settings)))
        }
        AccountKind::Caldav(acc) => super::caldav::session(name, acc)
            .map(|(dav, _)| AccountLinker::Caldav(CaldavWriter::new(dav, settings.manager)))
            .map_err(LinkError::from),
        AccountKind::Ics(_) => return None,
    })
}

impl EventLinker for AccountLinker {
    type Error = LinkError;

    fn mark(&self) -> &'static str {
        match self {
            AccountLinker::Google(w) => w.mark(),
            AccountLinker::Microsoft(w) => w.mark(),
            AccountLinker::Caldav(w) => w.mark(),
        }
    }

    async fn link(
        &self,
        event: &EventRef<'_>,
        title: &str,
        url: &str,
    ) -> Result<LinkOutcome, LinkError> {
        Ok(match self {
            AccountLinker::Google(w) => w.link(event, title, url).await?,
            AccountLinker::Microsoft(w) => w.link(event, title, url).await?,
            AccountLinker::Caldav(w) => w.link(event, title, url).await?,
        })
    }

    async fn unlink(&self, event: &EventRef<'_>) -> Result<UnlinkOutcome, LinkError> {
        Ok(match self {
            AccountLinker::Google(w) => w.unlink(event).await?,
            AccountLinker::Microsoft(w) => w.unlink(event).await?,
            AccountLinker::Caldav(w) => w.unlink(event).await?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds() -> Vec<(String, AccountKind)> {
        let text = "[manager]\nemail = \"mika@example.com\"\n\n\
             [[accounts]]\nname = \"g\"\nprovider = \"google\"\nclient_id = \"x\"\n\n\
             [[accounts]]\nname = \"m\"\nprovider = \"microsoft\"\nclient_id = \"y\"\n\n\
             [[accounts]]\nname = \"f\"\nprovider = \"ics\"\npath = \"a.ics\"\n\n\
             [[accounts]]\nname = \"d\"\nprovider = \"caldav\"\nurl = \"https://dav.example.com/\"\n\
             username = \"mika\"\npassword_env = \"CADENCED_TEST_UNSET_DAV_PASSWORD\"\n";
        let c = crate::config::parse(text, Path::new("/tmp/config.toml")).unwrap();
        c.accounts.into_iter().map(|a| (a.name, a.kind)).collect()
    }

    #[test]
    fn every_kind_but_a_feed_has_a_linker_and_only_caldav_needs_the_resource() {
        let client = Client::new();
        let settings = LinkSettings {
            state_dir: Path::new("/nonexistent"),
            client: &client,
            manager: "mika@example.com",
            attach: false,
            in_body: true,
        };
        for (name, kind) in kinds() {
            let made = linker(&name, &kind, &settings);
            match name.as_str() {
                "g" | "m" => {
                    assert!(writable(&kind) && !resource_keyed(&kind));
                    let l = made.unwrap().unwrap();
                    let want = if name == "g" {
                        super::super::google::write::MARK
                    } else {
                        super::super::microsoft::write::PROPERTY_ID
                    };
                    assert_eq!(l.mark(), want);
                }
                "f" => {
                    assert!(!writable(&kind) && !resource_keyed(&kind));
                    assert!(made.is_none());
                }
                _ => {
                    assert!(writable(&kind) && resource_keyed(&kind));
                    // The password is read when the session is made: its absence is the error.
                    let err = made.unwrap().err().unwrap().to_string();
                    assert!(err.contains("CADENCED_TEST_UNSET_DAV_PASSWORD"), "{err}");
                }
            }
        }
    }
}
