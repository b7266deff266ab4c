//! CalDAV bookkeeping (migration 4, issue 18): the resources (hrefs) of each calendar, their
//! entity tags, and the events each one's body gave.
//!
//! Invariants: the href is the key, never derived from a UID; a batch of fetched resources, the
//! removed hrefs and the calendar's new cursor commit in one transaction ([`Store::apply_caldav`]);
//! a resource's events are replaced as a whole (events of its previous body that its new body no
//! longer has are deleted with it); a full listing's last batch deletes every resource it did not
//! list, with its events.

use std::collections::{HashMap, HashSet};

use super::db::{Dialect, OptionalExtension, params};

use super::{Result, Store, StoreError, set_cursor, write_events};

use crate::providers::sink::Resource;

/// One batch of a CalDAV sync of a calendar, applied in one transaction.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaldavBatch<'a> {
    pub upserts: &'a [Resource],
    /// Removed hrefs (unknown ones are ignored).
    pub removed: &'a [String],
    /// The last batch of a full listing: every stored href not in this set is removed.
    pub keep_only: Option<&'a HashSet<String>>,
    /// The calendar's cursor after this batch; `None` leaves it as it is.
    pub cursor: Option<&'a str>,
}

impl Store {
    /// The stored entity tag of every resource of a calendar, by href.
    pub fn caldav_etags(&self, calendar_id: i64) -> Result<HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT href, etag FROM caldav_resources WHERE calendar_id = ?1")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([calendar_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<HashMap<_, _>>>()
            .map_err(self.sql())
    }

    /// The calendars of an account with their cursors (`id`, name, cursor).
    pub fn calendars_with_cursors(
        &self,
        account_id: i64,
    ) -> Result<Vec<(i64, String, Option<String>)>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT c.id, c.calendar, s.cursor FROM calendars c \
                 LEFT JOIN sync_cursors s ON s.calendar_id = c.id \
                 WHERE c.account_id = ?1 ORDER BY c.id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<Vec<_>>>()
            .map_err(self.sql())
    }

    /// The href and entity tag of the resource that gave `event_id` in a calendar.
    pub fn caldav_resource_of(
        &self,
        calendar_id: i64,
        event_id: &str,
    ) -> Result<Option<(String, String)>> {
        // Dialects differ: the JSON array's elements as rows.
        let sql = match self.conn.dialect() {
            Dialect::Sqlite => {
                "SELECT href, etag FROM caldav_resources r, json_each(r.event_ids) j \
                 WHERE r.calendar_id = ?1 AND j.value = ?2"
            }
            Dialect::Postgres => {
                "SELECT href, etag FROM caldav_resources r, \
                 jsonb_array_elements_text(r.event_ids::jsonb) j(value) \
                 WHERE r.calendar_id = ?1 AND j.value = ?2"
            }
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.sql())?;
        stmt.query_row(params![calendar_id, event_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(self.sql())
    }

    /// Where the resource that gave `event_id` lives: the collection's URL (from the calendar's
    /// cursor) and the resource's href (a path).
    pub fn caldav_resource_location(
        &self,
        account: &str,
        calendar: &str,
        event_id: &str,
    ) -> Result<Option<(String, String)>> {
        // Dialects differ: a JSON member, and the JSON array's elements as rows.
        let sql = match self.conn.dialect() {
            Dialect::Sqlite => {
                "SELECT json_extract(s.cursor, '$.url'), r.href FROM accounts a \
                 JOIN calendars c ON c.account_id = a.id \
                 JOIN sync_cursors s ON s.calendar_id = c.id \
                 JOIN caldav_resources r ON r.calendar_id = c.id, json_each(r.event_ids) j \
                 WHERE a.name = ?1 AND c.calendar = ?2 AND j.value = ?3"
            }
            Dialect::Postgres => {
                "SELECT s.cursor::jsonb ->> 'url', r.href FROM accounts a \
                 JOIN calendars c ON c.account_id = a.id \
                 JOIN sync_cursors s ON s.calendar_id = c.id \
                 JOIN caldav_resources r ON r.calendar_id = c.id, \
                 jsonb_array_elements_text(r.event_ids::jsonb) j(value) \
                 WHERE a.name = ?1 AND c.calendar = ?2 AND j.value = ?3"
            }
        };
        let mut stmt = self.conn.prepare_cached(sql).map_err(self.sql())?;
        stmt.query_row(params![account, calendar, event_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(self.sql())
    }

    /// Apply one batch (see [`CaldavBatch`]) in one transaction.
    pub fn apply_caldav(&mut self, calendar_id: i64, batch: &CaldavBatch<'_>) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut removed: Vec<String> = batch.removed.to_vec();
        if let Some(keep) = batch.keep_only {
            let mut stmt = tx
                .prepare_cached("SELECT href FROM caldav_resources WHERE calendar_id = ?1")
                .map_err(sql)?;
            let hrefs = stmt
                .query_map([calendar_id], |r| r.get::<_, String>(0))
                .map_err(sql)?
                .collect::<super::db::DbResult<Vec<_>>>()
                .map_err(sql)?;
            removed.extend(hrefs.into_iter().filter(|h| !keep.contains(h)));
        }
        {
            let mut ids_of = tx
                .prepare_cached(
                    "SELECT event_ids FROM caldav_resources WHERE calendar_id = ?1 AND href = ?2",
                )
                .map_err(sql)?;
            let mut del_event = tx
                .prepare_cached("DELETE FROM events WHERE calendar_id = ?1 AND event_id = ?2")
                .map_err(sql)?;
            let mut del_resource = tx
                .prepare_cached("DELETE FROM caldav_resources WHERE calendar_id = ?1 AND href = ?2")
                .map_err(sql)?;
            let mut put_resource = tx
                .prepare_cached(
                    "INSERT INTO caldav_resources (calendar_id, href, etag, event_ids) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(calendar_id, href) DO UPDATE SET etag = excluded.etag, event_ids = excluded.event_ids",
                )
                .map_err(sql)?;
            let mut stored_ids = |href: &str| -> Result<Vec<String>> {
                let json: Option<String> = ids_of
                    .query_row(params![calendar_id, href], |r| r.get(0))
                    .optional()
                    .map_err(sql)?;
                Ok(json
                    .and_then(|j| serde_json::from_str(&j).ok())
                    .unwrap_or_default())
            };
            for href in &removed {
                for id in stored_ids(href)? {
                    del_event.execute(params![calendar_id, id]).map_err(sql)?;
                }
                del_resource
                    .execute(params![calendar_id, href])
                    .map_err(sql)?;
            }
            for r in batch.upserts {
                let new: Vec<String> = r.events.iter().map(|e| e.event_id.clone()).collect();
                for id in stored_ids(&r.href)? {
                    if !new.contains(&id) {
                        del_event.execute(params![calendar_id, id]).map_err(sql)?;
                    }
                }
                let json = serde_json::to_string(&new).map_err(|source| StoreError::Encode {
                    path: path.clone(),
                    event_id: r.href.clone(),
                    source,
                })?;
                put_resource
                    .execute(params![calendar_id, r.href, r.etag, json])
                    .map_err(sql)?;
            }
        }
        for r in batch.upserts {
            write_events(&tx, &path, calendar_id, &r.events, 0)?;
        }
        if batch.cursor.is_some() {
            set_cursor(&tx, calendar_id, batch.cursor).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, EventTime, RecurrenceSet};

    fn event(id: &str) -> Event {
        let t = EventTime::utc("2026-03-02T10:00:00Z".parse().unwrap());
        Event {
            calendar: "/alice/work/".into(),
            uid: id.split('_').next().unwrap().into(),
            event_id: id.into(),
            series_id: None,
            recurrence: (!id.contains('_')).then(RecurrenceSet::default),
            recurrence_id: None,
            this_and_future: false,
            start: t.clone(),
            end: t,
            status: Default::default(),
            summary: "1on1".into(),
            description: None,
            location: None,
            organizer: None,
            attendees: vec![],
            self_response: None,
            out_of_office: false,
            sequence: 0,
            updated: None,
            etag: None,
        }
    }

    fn ids(store: &Store) -> Vec<String> {
        let mut v: Vec<String> = store
            .load_events(None)
            .unwrap()
            .into_iter()
            .flat_map(|c| c.events)
            .map(|e| e.event_id)
            .collect();
        v.sort();
        v
    }

    #[test]
    fn resources_replace_remove_and_sweep_their_events_pg() {
        crate::store::testing::on_pg(resources_replace_remove_and_sweep_their_events);
    }

    #[test]
    fn resources_replace_remove_and_sweep_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = crate::store::testing::open_in(dir.path()).unwrap();
        let acc = store.ensure_account("dav", "caldav").unwrap();
        let cal = store.ensure_calendar(acc, "/alice/work/").unwrap();
        let a = Resource {
            href: "/alice/work/a.ics".into(),
            etag: "\"1\"".into(),
            events: vec![event("a"), event("a_20260309")],
        };
        let b = Resource {
            href: "/alice/work/b.ics".into(),
            etag: "\"1\"".into(),
            events: vec![event("b")],
        };
        store
            .apply_caldav(
                cal,
                &CaldavBatch {
                    upserts: &[a.clone(), b.clone()],
                    cursor: Some("{}"),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ids(&store), ["a", "a_20260309", "b"]);
        assert_eq!(store.cursor(cal).unwrap().as_deref(), Some("{}"));
        assert_eq!(
            store.caldav_resource_of(cal, "a_20260309").unwrap(),
            Some(("/alice/work/a.ics".into(), "\"1\"".into()))
        );
        // A new body without the override: the override goes with the old body.
        let a2 = Resource {
            etag: "\"2\"".into(),
            events: vec![event("a")],
            ..a.clone()
        };
        store
            .apply_caldav(
                cal,
                &CaldavBatch {
                    upserts: &[a2],
                    removed: &["/alice/work/b.ics".into(), "/alice/work/unknown.ics".into()],
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ids(&store), ["a"]);
        assert_eq!(
            store.caldav_etags(cal).unwrap()["/alice/work/a.ics"],
            "\"2\""
        );
        // A full listing that no longer lists a.ics.
        let keep: HashSet<String> = ["/alice/work/b.ics".to_string()].into();
        store
            .apply_caldav(
                cal,
                &CaldavBatch {
                    upserts: &[b],
                    keep_only: Some(&keep),
                    cursor: Some("{\"t\":1}"),
                    ..Default::default()
                },
            )
            .unwrap();
        assert_eq!(ids(&store), ["b"]);
        assert_eq!(store.caldav_etags(cal).unwrap().len(), 1);
    }
}
