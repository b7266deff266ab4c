//! The make-up 1on1s cadenced booked (migration 5, issue 17).
//!
//! Invariants: one row per alert id, so an alert gets at most one make-up whoever books it
//! (`cadenced book` or the daemon); an undone booking keeps its row with `undone_at`, so the
//! daemon never books again what the manager took back, while `cadenced book` may book anew.

use super::db::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::{Result, Store};

/// One booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub alert_id: String,
    pub report: String,
    pub account: String,
    pub calendar: String,
    pub event_id: String,
    pub title: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `manual` (`cadenced book`) or `auto` (the daemon).
    pub how: String,
    pub created_at: DateTime<Utc>,
    pub undone_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "alert_id, report, account, calendar, event_id, title, start_utc, end_utc, \
                       how, created_at, undone_at";

fn time(s: String) -> super::db::DbResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(&s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| super::db::DbError::conversion(0, e))
}

fn row(r: &super::db::Row<'_>) -> super::db::DbResult<Booking> {
    Ok(Booking {
        alert_id: r.get(0)?,
        report: r.get(1)?,
        account: r.get(2)?,
        calendar: r.get(3)?,
        event_id: r.get(4)?,
        title: r.get(5)?,
        start: time(r.get(6)?)?,
        end: time(r.get(7)?)?,
        how: r.get(8)?,
        created_at: time(r.get(9)?)?,
        undone_at: r.get::<_, Option<String>>(10)?.map(time).transpose()?,
    })
}

impl Store {
    /// The booking of an alert (undone or not).
    pub fn booking(&self, alert_id: &str) -> Result<Option<Booking>> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM bookings WHERE alert_id = ?1"),
                params![alert_id],
                row,
            )
            .optional()
            .map_err(self.sql())
    }

    /// Every booking, newest first.
    pub fn bookings(&self) -> Result<Vec<Booking>> {
        let sql = format!("SELECT {COLUMNS} FROM bookings ORDER BY created_at DESC, alert_id");
        self.conn.query_map(&sql, (), row).map_err(self.sql())
    }

    /// Record a booking (replacing an undone one of the same alert).
    pub fn record_booking(&self, b: &Booking) -> Result<()> {
        self.conn
            .execute(
                &format!(
                    "INSERT INTO bookings ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (alert_id) DO UPDATE SET report = excluded.report,
                       account = excluded.account, calendar = excluded.calendar,
                       event_id = excluded.event_id, title = excluded.title,
                       start_utc = excluded.start_utc, end_utc = excluded.end_utc,
                       how = excluded.how, created_at = excluded.created_at,
                       undone_at = excluded.undone_at"
                ),
                params![
                    b.alert_id,
                    b.report,
                    b.account,
                    b.calendar,
                    b.event_id,
                    b.title,
                    crate::output::rfc3339(b.start),
                    crate::output::rfc3339(b.end),
                    b.how,
                    crate::output::rfc3339(b.created_at),
                    b.undone_at.map(crate::output::rfc3339),
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Mark a booking undone.
    pub fn undo_booking(&self, alert_id: &str, at: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE bookings SET undone_at = ?2 WHERE alert_id = ?1",
                params![alert_id, crate::output::rfc3339(at)],
            )
            .map(|_| ())
            .map_err(self.sql())
    }
}

impl Store {
    /// Replace the stored proposals with this cycle's: `(alert id, report, JSON)`.
    pub fn replace_proposals(
        &mut self,
        rows: &[(String, String, String)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| super::StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let run = || -> super::db::DbResult<()> {
            tx.execute("DELETE FROM proposals", ())?;
            for (id, report, data) in rows {
                tx.execute(
                    "INSERT INTO proposals (alert_id, report, data, computed_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (alert_id) DO UPDATE SET report = excluded.report,
                       data = excluded.data, computed_at = excluded.computed_at",
                    params![id, report, data, crate::output::rfc3339(now)],
                )?;
            }
            Ok(())
        };
        run().map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// The stored proposals: alert id → JSON.
    pub fn proposals(&self) -> Result<std::collections::HashMap<String, String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT alert_id, data FROM proposals")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.sql())?
            .collect::<super::db::DbResult<_>>()
            .map_err(self.sql())?;
        Ok(rows)
    }
}
