//! The alert outbox (issue 7; docs/design.md, Reliability "Alerts go through an outbox").
//!
//! Tables (migration 2): `outbox` (one row per message and channel, with its idempotency key
//! and delivery state), `outbox_attempts` (every attempt and its outcome), `alert_notices`
//! (which alert was announced on which channel, by which row) and `digest_slots` (the digest
//! times already handled).
//!
//! Invariants:
//! - [`Store::enqueue_deliveries`] reads the open alerts, the notices and the digest slots and
//!   writes the new rows, their notices and the handled slot in **one transaction**: an alert is
//!   either announced on a channel (a notice pointing at a row) or not, never half.
//! - A row's idempotency key is unique: planning the same message twice (two processes, a
//!   retried cycle) inserts it once.
//! - An attempt row is written (`ok` NULL) before the channel is called and completed after,
//!   together with the row's state, in one transaction: after a crash between the send and the
//!   commit the row is still pending and is sent again with the same key (at most one
//!   duplicate), and the interrupted attempt stays visible.
//! - A row leaves `pending` only as `delivered` (the channel accepted it) or `dropped` (every
//!   alert it carried was acknowledged, snoozed or resolved before it could be sent).

use std::collections::{HashMap, HashSet};

use super::db::{OptionalExtension, params};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{Result, Store, StoreError, StoredAlert};

/// How many attempts of one row are kept (the oldest are pruned).
const KEPT_ATTEMPTS: i64 = 50;

/// How long a delivery attempt's claim on a row lasts (longer than any channel's timeout).
pub const ATTEMPT_LEASE: chrono::Duration = chrono::Duration::minutes(5);

fn lease_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A delivery to add to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct NewDelivery {
    pub idempotency_key: String,
    pub channel: String,
    /// `alerts` or `digest`.
    pub kind: String,
    /// The message JSON.
    pub message: String,
    /// `(alert id, notice)` pairs the row announces on its channel.
    pub notices: Vec<(String, String)>,
}

/// What the planner sees in the enqueue transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxView {
    /// Unresolved alerts, as [`Store::open_alerts`] lists them.
    pub open: Vec<StoredAlert>,
    /// Every `(alert id, channel, notice)` already announced (or queued).
    pub notices: HashSet<(String, String, String)>,
    /// The latest digest slot handled, if any.
    pub last_digest_slot: Option<DateTime<Utc>>,
    /// Resolved alerts (not acknowledged) delivered on a channel whose resolution was not
    /// announced there yet, per channel.
    pub resolved: Vec<ResolvedAlert>,
    /// Each report's agenda document (its latest), by the report's lower-case e-mail.
    pub agendas: HashMap<String, String>,
    /// The make-up slots the last cycle proposed, by alert id (JSON, issue 17).
    pub proposals: HashMap<String, String>,
    /// The make-ups booked and not undone, by alert id.
    pub bookings: HashMap<String, super::Booking>,
    /// Whether the scheduling account may create events (set by the planner's caller; when it
    /// may not, e-mails carry the first slot as an iCalendar file).
    pub can_book: bool,
}

/// A resolved alert that was delivered on `channel`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedAlert {
    pub channel: String,
    pub alert: StoredAlert,
    pub resolved_at: DateTime<Utc>,
}

/// What the planner decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxPlan {
    pub deliveries: Vec<NewDelivery>,
    /// A digest slot now handled, with the number of alerts it carried (0: nothing to say).
    pub digest_slot: Option<(DateTime<Utc>, usize)>,
}

/// A row waiting for delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelivery {
    pub id: i64,
    pub idempotency_key: String,
    pub channel: String,
    pub kind: String,
    pub message: String,
    pub attempts: u32,
}

/// One row as `alerts test`, `status` and the tests see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub id: i64,
    pub idempotency_key: String,
    pub channel: String,
    pub kind: String,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub answer: Option<String>,
    /// The alert ids it announces.
    pub alerts: Vec<String>,
}

/// One attempt of a row.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub started_at: String,
    /// None: interrupted (the process stopped during the attempt).
    pub ok: Option<bool>,
    pub detail: Option<String>,
}

impl Store {
    /// Plan and enqueue deliveries in one transaction: `plan` sees the open alerts, the notices
    /// and the last digest slot as they are inside the transaction. Returns the rows inserted
    /// (a row whose idempotency key exists already is skipped with its notices).
    pub fn enqueue_deliveries(
        &mut self,
        now: DateTime<Utc>,
        plan: impl FnOnce(&OutboxView) -> OutboxPlan,
    ) -> Result<usize> {
        let tx = self.conn.transaction().map_err(self.sql())?;
        let view = OutboxView {
            open: self.open_alerts()?,
            notices: self.all_notices()?,
            last_digest_slot: self.last_digest_slot()?,
            resolved: self.unannounced_resolutions()?,
            agendas: self.latest_agendas()?,
            proposals: self.proposals()?,
            bookings: self
                .bookings()?
                .into_iter()
                .filter(|b| b.undone_at.is_none())
                .map(|b| (b.alert_id.clone(), b))
                .collect(),
            can_book: false,
        };
        let plan = plan(&view);
        let now_text = text(now);
        let mut inserted = 0;
        for d in &plan.deliveries {
            let id: Option<i64> = tx
                .query_row(
                    "INSERT INTO outbox (idempotency_key, channel, kind, message, created_at)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT(idempotency_key) DO NOTHING
                     RETURNING id",
                    params![d.idempotency_key, d.channel, d.kind, d.message, now_text],
                    |r| r.get(0),
                )
                .optional()
                .map_err(self.sql())?;
            let Some(id) = id else { continue };
            inserted += 1;
            for (alert, notice) in &d.notices {
                tx.execute(
                    "INSERT INTO alert_notices (alert_id, channel, notice, outbox_id)
                     VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
                    params![alert, d.channel, notice, id],
                )
                .map_err(self.sql())?;
            }
        }
        if let Some((slot, alerts)) = plan.digest_slot {
            tx.execute(
                "INSERT INTO digest_slots (slot, handled_at, alerts) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
                params![text(slot), now_text, alerts as i64],
            )
            .map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())?;
        Ok(inserted)
    }

    fn all_notices(&self) -> Result<HashSet<(String, String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT alert_id, channel, notice FROM alert_notices")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }

    fn unannounced_resolutions(&self) -> Result<Vec<ResolvedAlert>> {
        let sql = "SELECT DISTINCT o.channel, a.id, a.kind, a.report, a.episode, a.since,
                        a.first_seen, a.last_seen, a.snoozed_until, a.data, a.resolved_at
                 FROM alerts a
                 JOIN alert_notices n ON n.alert_id = a.id
                 JOIN outbox o ON o.id = n.outbox_id
                 WHERE a.resolved_at IS NOT NULL AND a.acked_at IS NULL
                   AND o.state = 'delivered' AND n.notice NOT LIKE 'resolved:%'
                   AND NOT EXISTS (
                     SELECT 1 FROM alert_notices r
                     WHERE r.alert_id = a.id AND r.channel = o.channel
                       AND r.notice = 'resolved:' || a.resolved_at)
                 ORDER BY o.channel, a.report, a.kind, a.since, a.id";
        let mut out = Vec::new();
        self.conn.query_each(sql, (), self.sql(), |r| {
            let get = |i| r.get::<_, String>(i).map_err(self.sql());
            let id = get(1)?;
            let time = |v: String| {
                DateTime::parse_from_rfc3339(&v)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| StoreError::BadValue {
                        path: self.path.clone(),
                        what: format!("alert {id}"),
                        value: v,
                    })
            };
            let snoozed: Option<String> = r.get(8).map_err(self.sql())?;
            out.push(ResolvedAlert {
                channel: get(0)?,
                resolved_at: time(get(10)?)?,
                alert: StoredAlert {
                    kind: get(2)?,
                    report: get(3)?,
                    episode: get(4)?,
                    since: time(get(5)?)?,
                    first_seen: time(get(6)?)?,
                    last_seen: time(get(7)?)?,
                    acked_at: None,
                    snoozed_until: snoozed.map(time).transpose()?,
                    data: get(9)?,
                    id,
                },
            });
            Ok(())
        })?;
        Ok(out)
    }

    /// Of `ids`, the alerts that are resolved.
    pub fn resolved_alert_ids(&self, ids: &[String]) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM alerts WHERE id = ?1 AND resolved_at IS NOT NULL")
            .map_err(self.sql())?;
        let mut out = HashSet::new();
        for id in ids {
            if stmt.exists([id]).map_err(self.sql())? {
                out.insert(id.clone());
            }
        }
        Ok(out)
    }

    /// The latest digest slot handled.
    pub fn last_digest_slot(&self) -> Result<Option<DateTime<Utc>>> {
        let slot: Option<String> = self
            .conn
            .query_row("SELECT MAX(slot) FROM digest_slots", (), |r| r.get(0))
            .map_err(self.sql())?;
        slot.map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| StoreError::BadValue {
                    path: self.path.clone(),
                    what: "digest slot".into(),
                    value: s,
                })
        })
        .transpose()
    }

    /// The pending rows, oldest first.
    pub fn pending_deliveries(&self) -> Result<Vec<PendingDelivery>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, idempotency_key, channel, kind, message, attempts
                 FROM outbox WHERE state = 'pending' ORDER BY id",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| {
                Ok(PendingDelivery {
                    id: r.get(0)?,
                    idempotency_key: r.get(1)?,
                    channel: r.get(2)?,
                    kind: r.get(3)?,
                    message: r.get(4)?,
                    attempts: r.get(5)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }

    /// Of `ids`, the alerts that may still be announced at `now`: unresolved, not acknowledged,
    /// not snoozed past `now`.
    pub fn active_alert_ids(&self, ids: &[String], now: DateTime<Utc>) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM alerts WHERE id = ?1 AND resolved_at IS NULL AND acked_at IS NULL
                 AND (snoozed_until IS NULL OR snoozed_until <= ?2)",
            )
            .map_err(self.sql())?;
        let now = text(now);
        let mut out = HashSet::new();
        for id in ids {
            if stmt.exists(params![id, now]).map_err(self.sql())? {
                out.insert(id.clone());
            }
        }
        Ok(out)
    }

    /// Claim a pending row for one delivery attempt by this process and record its start;
    /// returns its number, or `None` when the row is no longer pending or (on PostgreSQL)
    /// another process (another daemon instance sharing the store) holds an attempt on it that
    /// has not run out.
    /// The claim lasts `ATTEMPT_LEASE` (5 minutes) of wall-clock time; [`Store::finish_attempt`] ends it.
    /// Several instances thus never send the same row at the same time, and a row whose sender
    /// died is taken up again once its lease is over (same idempotency key).
    pub fn start_attempt(&mut self, id: i64, now: DateTime<Utc>) -> Result<Option<u32>> {
        let owner = super::leases::process_id();
        let wall = chrono::Utc::now();
        let until = wall + ATTEMPT_LEASE;
        let sql = |source| StoreError::Database {
            path: self.path.clone(),
            source,
        };
        // The embedded file belongs to one state directory, which one daemon locks: an attempt
        // left by a process that died is taken up at once (as before). On a database server
        // several instances may be sending: an attempt is theirs until its claim runs out.
        let claim = match self.conn.dialect() {
            super::db::Dialect::Sqlite => {
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2,
                        lease_owner = ?3, lease_until = ?4
                 WHERE id = ?1 AND state = 'pending' AND CAST(?5 AS TEXT) IS NOT NULL
                 RETURNING attempts"
            }
            super::db::Dialect::Postgres => {
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?2,
                        lease_owner = ?3, lease_until = ?4
                 WHERE id = ?1 AND state = 'pending'
                   AND (lease_owner IS NULL OR lease_owner = ?3 OR lease_until < ?5)
                 RETURNING attempts"
            }
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let attempt: Option<u32> = tx
            .query_row(
                claim,
                params![id, text(now), owner, lease_text(until), lease_text(wall)],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        let Some(attempt) = attempt else {
            return Ok(None);
        };
        tx.execute(
            "INSERT INTO outbox_attempts (outbox_id, attempt, started_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (outbox_id, attempt) DO UPDATE SET started_at = excluded.started_at,
               ok = NULL, detail = NULL",
            params![id, attempt, text(now)],
        )
        .and_then(|_| {
            tx.execute(
                "DELETE FROM outbox_attempts WHERE outbox_id = ?1 AND attempt <= ?2",
                params![id, i64::from(attempt) - KEPT_ATTEMPTS],
            )
        })
        .and_then(|_| tx.commit())
        .map_err(sql)?;
        Ok(Some(attempt))
    }

    /// Complete an attempt: on `Ok(answer)` the row is delivered, on `Err(error)` it stays
    /// pending with the error. One transaction.
    pub fn finish_attempt(
        &mut self,
        id: i64,
        attempt: u32,
        now: DateTime<Utc>,
        outcome: std::result::Result<&str, &str>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let (ok, detail) = match outcome {
            Ok(a) => (true, a),
            Err(e) => (false, e),
        };
        tx.execute(
            "UPDATE outbox_attempts SET ok = ?3, detail = ?4 WHERE outbox_id = ?1 AND attempt = ?2",
            params![id, attempt, ok, detail],
        )
        .map_err(sql)?;
        if ok {
            tx.execute(
                "UPDATE outbox SET state = 'delivered', answer = ?2, done_at = ?3,
                        lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1 AND state = 'pending'",
                params![id, detail, text(now)],
            )
        } else {
            tx.execute(
                "UPDATE outbox SET last_error = ?2, lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1",
                params![id, detail],
            )
        }
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Drop a pending row without sending it (everything it carried was dealt with).
    pub fn drop_delivery(&self, id: i64, now: DateTime<Utc>, reason: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'dropped', last_error = ?2, done_at = ?3
                 WHERE id = ?1 AND state = 'pending'",
                params![id, reason, text(now)],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Every outbox row, oldest first, with the alerts it announces.
    pub fn deliveries(&self) -> Result<Vec<DeliveryRecord>> {
        let mut alerts: HashMap<i64, Vec<String>> = HashMap::new();
        for (row, alert) in self
            .conn
            .query_map(
                "SELECT DISTINCT outbox_id, alert_id FROM alert_notices
                 ORDER BY outbox_id, alert_id",
                (),
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .map_err(self.sql())?
        {
            alerts.entry(row).or_default().push(alert);
        }
        self.conn
            .query_map(
                "SELECT id, idempotency_key, channel, kind, state, attempts, last_error, answer
                 FROM outbox ORDER BY id",
                (),
                |r| {
                    let id = r.get(0)?;
                    Ok(DeliveryRecord {
                        id,
                        idempotency_key: r.get(1)?,
                        channel: r.get(2)?,
                        kind: r.get(3)?,
                        state: r.get(4)?,
                        attempts: r.get(5)?,
                        last_error: r.get(6)?,
                        answer: r.get(7)?,
                        alerts: alerts.remove(&id).unwrap_or_default(),
                    })
                },
            )
            .map_err(self.sql())
    }

    /// The attempts of one row, in order.
    pub fn delivery_attempts(&self, id: i64) -> Result<Vec<AttemptRecord>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT attempt, started_at, ok, detail FROM outbox_attempts
                 WHERE outbox_id = ?1 ORDER BY attempt",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AttemptRecord {
                    attempt: r.get(0)?,
                    started_at: r.get(1)?,
                    ok: r.get(2)?,
                    detail: r.get(3)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }

    /// The channels on which an alert was delivered (a delivered row announced it): the
    /// "delivered" step of its lifecycle.
    pub fn alert_delivered_on(&self, alert_id: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT DISTINCT o.channel FROM alert_notices n JOIN outbox o ON o.id = n.outbox_id
                 WHERE n.alert_id = ?1 AND o.state = 'delivered' ORDER BY o.channel",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([alert_id], |r| r.get(0))
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::store::Finding;

    fn t(d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap()
    }

    fn store_with_alert() -> (tempfile::TempDir, Store, String) {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = crate::store::testing::open_in(tmp.path()).unwrap();
        let states = store
            .reconcile_alerts(
                &[Finding {
                    kind: "gap".into(),
                    report: "bob@example.com".into(),
                    episode: "e1".into(),
                    since: Some(t(1)),
                    data: "{}".into(),
                }],
                t(20),
            )
            .unwrap();
        let id = states[0].id.clone();
        (tmp, store, id)
    }

    fn plan_for(id: &str, key: &str) -> OutboxPlan {
        OutboxPlan {
            deliveries: vec![NewDelivery {
                idempotency_key: key.into(),
                channel: "webhook".into(),
                kind: "alerts".into(),
                message: "{}".into(),
                notices: vec![(id.to_string(), "new".into())],
            }],
            digest_slot: Some((t(20), 1)),
        }
    }

    #[test]
    fn a_plan_is_written_once_with_its_notices_and_slot_pg() {
        crate::store::testing::on_pg(a_plan_is_written_once_with_its_notices_and_slot);
    }

    #[test]
    fn a_plan_is_written_once_with_its_notices_and_slot() {
        let (_tmp, mut store, id) = store_with_alert();
        let n = store
            .enqueue_deliveries(t(20), |view| {
                assert_eq!(view.open.len(), 1);
                assert!(view.notices.is_empty());
                assert_eq!(view.last_digest_slot, None);
                plan_for(&id, "k1")
            })
            .unwrap();
        assert_eq!(n, 1);
        // The same key again (another process planned the same message): nothing new.
        let n = store
            .enqueue_deliveries(t(20), |view| {
                assert!(
                    view.notices
                        .contains(&(id.clone(), "webhook".into(), "new".into()))
                );
                assert_eq!(view.last_digest_slot, Some(t(20)));
                plan_for(&id, "k1")
            })
            .unwrap();
        assert_eq!(n, 0);
        assert_eq!(store.pending_deliveries().unwrap().len(), 1);
        assert_eq!(store.deliveries().unwrap()[0].alerts, vec![id]);
    }

    #[test]
    fn attempts_are_recorded_and_success_ends_the_row_pg() {
        crate::store::testing::on_pg(attempts_are_recorded_and_success_ends_the_row);
    }

    #[test]
    fn an_attempt_claims_the_row_from_other_processes_until_its_lease_ends() {
        let (_tmp, mut store, id) = store_with_alert();
        store
            .enqueue_deliveries(t(20), |_| plan_for(&id, "k1"))
            .unwrap();
        let row = store.pending_deliveries().unwrap()[0].id;
        // Another instance is sending it right now.
        let soon = lease_text(chrono::Utc::now() + chrono::Duration::minutes(1));
        store
            .conn
            .execute(
                "UPDATE outbox SET lease_owner = 'other:1:x', lease_until = ?2 WHERE id = ?1",
                params![row, soon],
            )
            .unwrap();
        let expected = match store.conn.dialect() {
            // One daemon per state directory: the row is taken up at once.
            crate::store::db::Dialect::Sqlite => Some(1),
            crate::store::db::Dialect::Postgres => None,
        };
        assert_eq!(store.start_attempt(row, t(20)).unwrap(), expected);
        // Its lease ran out (it died): this process takes the row up again.
        let past = lease_text(chrono::Utc::now() - chrono::Duration::seconds(1));
        store
            .conn
            .execute(
                "UPDATE outbox SET lease_until = ?2 WHERE id = ?1",
                params![row, past],
            )
            .unwrap();
        let n = store.start_attempt(row, t(20)).unwrap().unwrap();
        store.finish_attempt(row, n, t(20), Ok("HTTP 200")).unwrap();
        // Delivered: nobody claims it again.
        assert_eq!(store.start_attempt(row, t(21)).unwrap(), None);
    }

    #[test]
    fn an_attempt_claims_the_row_from_other_processes_until_its_lease_ends_pg() {
        crate::store::testing::on_pg(
            an_attempt_claims_the_row_from_other_processes_until_its_lease_ends,
        );
    }

    #[test]
    fn attempts_are_recorded_and_success_ends_the_row() {
        let (_tmp, mut store, id) = store_with_alert();
        store
            .enqueue_deliveries(t(20), |_| plan_for(&id, "k1"))
            .unwrap();
        let row = store.pending_deliveries().unwrap()[0].id;
        let a1 = store.start_attempt(row, t(20)).unwrap().unwrap();
        store
            .finish_attempt(row, a1, t(20), Err("HTTP 500"))
            .unwrap();
        let a2 = store.start_attempt(row, t(20)).unwrap().unwrap();
        store
            .finish_attempt(row, a2, t(20), Ok("HTTP 200"))
            .unwrap();
        assert!(store.pending_deliveries().unwrap().is_empty());
        assert_eq!(store.alert_delivered_on(&id).unwrap(), vec!["webhook"]);
        let rec = &store.deliveries().unwrap()[0];
        assert_eq!((rec.state.as_str(), rec.attempts), ("delivered", 2));
        assert_eq!(rec.answer.as_deref(), Some("HTTP 200"));
        let attempts = store.delivery_attempts(row).unwrap();
        assert_eq!(
            attempts.iter().map(|a| a.ok).collect::<Vec<_>>(),
            [Some(false), Some(true)]
        );
        // A delivered row is never dropped or re-sent.
        store.drop_delivery(row, t(21), "late").unwrap();
        assert_eq!(store.deliveries().unwrap()[0].state, "delivered");
    }

    #[test]
    fn only_active_alerts_stay_in_a_pending_message_pg() {
        crate::store::testing::on_pg(only_active_alerts_stay_in_a_pending_message);
    }

    #[test]
    fn only_active_alerts_stay_in_a_pending_message() {
        let (_tmp, store, id) = store_with_alert();
        assert!(
            store
                .active_alert_ids(std::slice::from_ref(&id), t(20))
                .unwrap()
                .contains(&id)
        );
        store.snooze_alert(&id, t(25), t(20)).unwrap();
        assert!(
            store
                .active_alert_ids(std::slice::from_ref(&id), t(20))
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .active_alert_ids(std::slice::from_ref(&id), t(25))
                .unwrap()
                .contains(&id)
        );
        store.ack_alert(&id, t(26)).unwrap();
        assert!(
            store
                .active_alert_ids(std::slice::from_ref(&id), t(27))
                .unwrap()
                .is_empty()
        );
    }
}
