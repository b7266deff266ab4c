//! Agenda bookkeeping (migration 3, issue 8): which agenda documents exist, which sessions got
//! their section, and what was linked into which event.
//!
//! Invariants: a session gets at most one section (`agenda_sections` is keyed by the session);
//! an event has at most one link row (keyed by account, calendar, event id); a row in state
//! `linked` means cadenced's block is in the event as of `etag`, so a later run needs no request
//! at all for it. Rows in the other states record where the agenda is so that `report`, the
//! dashboard and alerts can show it although nothing was written into the event.

use super::db::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::{Result, Store};
use crate::model::Event;

/// An agenda document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaDocument {
    pub doc_key: String,
    pub report: String,
    /// `local`, `google-drive` or `onedrive`.
    pub store: String,
    /// Where the store keeps it: a path relative to the agenda dir, or the provider's file id.
    pub location: String,
    /// The URL written into calendars, when there is one.
    pub link: Option<String>,
}

/// What is known about the agenda link of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaLink {
    pub account: String,
    pub calendar: String,
    pub event_id: String,
    pub report: String,
    pub doc_key: String,
    /// The URL written into the event, or the location shown instead.
    pub link: String,
    pub state: LinkState,
    pub etag: Option<String>,
    /// The marker value written into the event's private property.
    pub marker: Option<String>,
}

/// Whether the link is in the event, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// cadenced's block is in the event.
    Linked,
    /// Someone else organizes the event: nothing written; shown in report and alerts.
    NotOrganizer,
    /// The event's source cannot be written (an iCalendar feed).
    NotWritable,
    /// The document has no URL (local store without `link_base`): its path is shown instead.
    Unpublished,
}

impl LinkState {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkState::Linked => "linked",
            LinkState::NotOrganizer => "not_organizer",
            LinkState::NotWritable => "not_writable",
            LinkState::Unpublished => "unpublished",
        }
    }

    fn parse(s: &str) -> LinkState {
        match s {
            "linked" => LinkState::Linked,
            "not_organizer" => LinkState::NotOrganizer,
            "not_writable" => LinkState::NotWritable,
            _ => LinkState::Unpublished,
        }
    }
}

impl Store {
    pub fn agenda_document(&self, doc_key: &str) -> Result<Option<AgendaDocument>> {
        self.conn
            .query_row(
                "SELECT doc_key, report, store, location, link FROM agenda_documents
                 WHERE doc_key = ?1",
                params![doc_key],
                |r| {
                    Ok(AgendaDocument {
                        doc_key: r.get(0)?,
                        report: r.get(1)?,
                        store: r.get(2)?,
                        location: r.get(3)?,
                        link: r.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(self.sql())
    }

    /// The documents of a report, oldest first.
    pub fn agenda_documents_of(&self, report: &str) -> Result<Vec<AgendaDocument>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT doc_key, report, store, location, link FROM agenda_documents
                 WHERE report = ?1 ORDER BY created_at, doc_key",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map(params![report], |r| {
                Ok(AgendaDocument {
                    doc_key: r.get(0)?,
                    report: r.get(1)?,
                    store: r.get(2)?,
                    location: r.get(3)?,
                    link: r.get(4)?,
                })
            })
            .map_err(self.sql())?
            .collect::<super::db::DbResult<Vec<_>>>()
            .map_err(self.sql())?;
        Ok(rows)
    }

    pub fn put_agenda_document(&self, doc: &AgendaDocument, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO agenda_documents (doc_key, report, store, location, link, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (doc_key) DO UPDATE SET
                   store = excluded.store, location = excluded.location, link = excluded.link",
                params![
                    doc.doc_key,
                    doc.report,
                    doc.store,
                    doc.location,
                    doc.link,
                    now.to_rfc3339()
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Has this session got its section?
    pub fn agenda_section_written(&self, session_key: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM agenda_sections WHERE session_key = ?1",
                params![session_key],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(self.sql())
    }

    pub fn record_agenda_section(
        &self,
        session_key: &str,
        doc_key: &str,
        report: &str,
        session_start: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO agenda_sections
                   (session_key, doc_key, report, session_start, written_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                params![
                    session_key,
                    doc_key,
                    report,
                    session_start.to_rfc3339(),
                    now.to_rfc3339()
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    pub fn agenda_link(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> Result<Option<AgendaLink>> {
        self.conn
            .query_row(
                "SELECT account, calendar, event_id, report, doc_key, link, state, etag, marker
                 FROM agenda_links WHERE account = ?1 AND calendar = ?2 AND event_id = ?3",
                params![account, calendar, event_id],
                link_row,
            )
            .optional()
            .map_err(self.sql())
    }

    /// Each report's latest agenda document, by the report's lower-case e-mail.
    pub fn latest_agendas(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(latest_links(&self.agenda_links()?))
    }

    /// Every link row, ordered by report then event.
    pub fn agenda_links(&self) -> Result<Vec<AgendaLink>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT account, calendar, event_id, report, doc_key, link, state, etag, marker
                 FROM agenda_links ORDER BY report, account, calendar, event_id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), link_row)
            .map_err(self.sql())?
            .collect::<super::db::DbResult<Vec<_>>>()
            .map_err(self.sql())?;
        Ok(rows)
    }

    pub fn put_agenda_link(&self, link: &AgendaLink, now: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO agenda_links
                   (account, calendar, event_id, report, doc_key, link, state, etag, marker, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT (account, calendar, event_id) DO UPDATE SET
                   report = excluded.report, doc_key = excluded.doc_key, link = excluded.link,
                   state = excluded.state, etag = excluded.etag, marker = excluded.marker,
                   updated_at = excluded.updated_at",
                params![
                    link.account,
                    link.calendar,
                    link.event_id,
                    link.report,
                    link.doc_key,
                    link.link,
                    link.state.as_str(),
                    link.etag,
                    link.marker,
                    now.to_rfc3339()
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    pub fn delete_agenda_link(&self, account: &str, calendar: &str, event_id: &str) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM agenda_links WHERE account = ?1 AND calendar = ?2 AND event_id = ?3",
                params![account, calendar, event_id],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The stored event (single, master or override) with this id in the account's calendar.
    pub fn stored_event(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> Result<Option<Event>> {
        let data: Option<String> = self
            .conn
            .query_row(
                "SELECT e.data FROM events e
                 JOIN calendars c ON c.id = e.calendar_id
                 JOIN accounts a ON a.id = c.account_id
                 WHERE a.name = ?1 AND c.calendar = ?2 AND e.event_id = ?3",
                params![account, calendar, event_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?;
        // A row that does not decode is treated as absent (it is logged by the loaders already).
        Ok(data.and_then(|d| serde_json::from_str(&d).ok()))
    }
}

fn link_row(r: &super::db::Row<'_>) -> super::db::DbResult<AgendaLink> {
    Ok(AgendaLink {
        account: r.get(0)?,
        calendar: r.get(1)?,
        event_id: r.get(2)?,
        report: r.get(3)?,
        doc_key: r.get(4)?,
        link: r.get(5)?,
        state: LinkState::parse(&r.get::<_, String>(6)?),
        etag: r.get(7)?,
        marker: r.get(8)?,
    })
}

/// The latest link of each report (session documents are keyed `session:<report>:<date>`, so
/// the largest key is the latest; in series mode there is one), by lower-case e-mail.
fn latest_links(links: &[AgendaLink]) -> std::collections::HashMap<String, String> {
    let mut out: std::collections::HashMap<String, (&str, &str)> = Default::default();
    for l in links {
        let report = l.report.to_lowercase();
        let newer = out
            .get(&report)
            .is_none_or(|(key, _)| *key < l.doc_key.as_str());
        if newer {
            out.insert(report, (&l.doc_key, &l.link));
        }
    }
    out.into_iter()
        .map(|(r, (_, link))| (r, link.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(report: &str, doc_key: &str, link: &str) -> AgendaLink {
        AgendaLink {
            account: "work".into(),
            calendar: "primary".into(),
            event_id: format!("ev-{doc_key}"),
            report: report.into(),
            doc_key: doc_key.into(),
            link: link.into(),
            state: LinkState::Unpublished,
            etag: None,
            marker: None,
        }
    }

    #[test]
    fn the_latest_session_document_is_each_reports_link_pg() {
        crate::store::testing::on_pg(the_latest_session_document_is_each_reports_link);
    }

    #[test]
    fn the_latest_session_document_is_each_reports_link() {
        let links = [
            link(
                "bob@example.com",
                "session:bob@example.com:2026-11-24",
                "b24",
            ),
            link(
                "Bob@Example.com",
                "session:bob@example.com:2026-12-01",
                "b01",
            ),
            link(
                "bob@example.com",
                "session:bob@example.com:2026-11-17",
                "b17",
            ),
            link("ann@example.com", "series:ann@example.com", "ann"),
        ];
        let latest = latest_links(&links);
        assert_eq!(latest.len(), 2);
        assert_eq!(latest["bob@example.com"], "b01");
        assert_eq!(latest["ann@example.com"], "ann");
    }
}
