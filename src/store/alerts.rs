//! The lifecycle of alerts (docs/cadence-rules.md, Alerts; `alerts ack`, `alerts snooze`).
//!
//! The analysis produces its current findings on every run; [`Store::reconcile_alerts`] matches
//! them to the stored alerts so that:
//! - an alert keeps its id while its condition lasts (same kind, report and episode);
//! - an acknowledged alert stays acknowledged for the rest of its episode, a snoozed one keeps
//!   its date (the caller compares it with `now`);
//! - a new episode is a new alert with a new id;
//! - an alert whose finding is gone is resolved; if the same data-keyed episode comes back, the
//!   resolved row (same id) is reopened with its acknowledgement and snooze kept, since it is
//!   the episode the manager already dealt with.
//!
//! Ids are deterministic, so two fresh state directories analysed at the same `--now` agree:
//! the first 12 hex digits of a 64-bit FNV-1a hash over `kind|report|episode`, or, for
//! open-ended kinds (empty episode), over `kind|report|<episode start, RFC 3339>`. FNV-1a is
//! written out here because std's hasher is not stable across Rust versions. On the (unlikely)
//! clash with a different alert's id, `#1`, `#2`… is appended to the hashed text until the id
//! is free.
//!
//! Times are stored as `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, UTC) and returned as stored.
//! `data` must be JSON (a CHECK constraint): a bad finding fails the whole reconcile, which
//! leaves the table as it was (one transaction).

use std::collections::{HashMap, HashSet};

use super::db::{Db, OptionalExtension, params};
use chrono::{DateTime, SecondsFormat, Utc};

use super::{Result, Store, StoreError};

/// One current finding of the analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `gap`, `no_series`, `skipped`, `uneven`, `irregular`, `series_ending` (others are kept
    /// as they come).
    pub kind: String,
    /// The report's e-mail (compared lower-cased).
    pub report: String,
    /// What distinguishes one episode from the next for this (kind, report), derived from the
    /// data (e.g. the last held session's start for a gap, the session for a skipped one).
    /// Empty for kinds whose episodes have no natural key (uneven, irregular): then an open alert
    /// of the same (kind, report) continues, and a new one starts an episode at `now`.
    pub episode: String,
    /// The analysis' "since" (None: take the episode's start from the store).
    pub since: Option<DateTime<Utc>>,
    /// JSON of the finding, stored for display (message, severity, …).
    pub data: String,
}

/// The lifecycle state of the alert that carries a finding.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertState {
    /// Stable id.
    pub id: String,
    /// `finding.since`, or the first time the episode was seen.
    pub since: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    pub acked: bool,
    pub snoozed_until: Option<DateTime<Utc>>,
}

/// The result of `alerts ack` / `alerts snooze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// No alert has this id.
    NotFound,
    Done,
    /// The alert's condition is over; nothing was changed.
    AlreadyResolved,
}

/// An open (unresolved) alert as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub id: String,
    pub kind: String,
    pub report: String,
    pub episode: String,
    pub since: DateTime<Utc>,
    pub first_seen: DateTime<Utc>,
    /// The last reconcile that saw its finding.
    pub last_seen: DateTime<Utc>,
    pub acked_at: Option<DateTime<Utc>>,
    pub snoozed_until: Option<DateTime<Utc>>,
    /// The finding's JSON, as last reconciled.
    pub data: String,
}

/// How many digits of the hash an id keeps (48 bits).
const ID_DIGITS: usize = 12;

/// 64-bit FNV-1a (stable by definition, unlike std's `DefaultHasher`).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The id for the hashed text `seed`, with clash counter `salt` (0: none).
pub(super) fn make_id(seed: &str, salt: u32) -> String {
    let text = if salt == 0 {
        seed.to_string()
    } else {
        format!("{seed}#{salt}")
    };
    let mut id = format!("{:016x}", fnv1a64(text.as_bytes()));
    id.truncate(ID_DIGITS);
    id
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The identity of an episode.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: String,
    report: String,
    episode: String,
}

/// An unresolved alert as reconcile needs it (times as stored text).
#[derive(Debug, Clone)]
struct Open {
    id: String,
    since: String,
    first_seen: String,
    acked: bool,
    snoozed_until: Option<String>,
}

impl Store {
    fn bad_time(&self, id: &str, value: &str) -> StoreError {
        StoreError::BadValue {
            path: self.path.clone(),
            what: format!("alert {id}"),
            value: value.to_string(),
        }
    }

    fn time(&self, id: &str, value: &str) -> Result<DateTime<Utc>> {
        parse(value).ok_or_else(|| self.bad_time(id, value))
    }

    fn opt_time(&self, id: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>> {
        value.map(|v| self.time(id, v)).transpose()
    }

    /// Match the findings to stored alerts in one transaction: a finding continues the
    /// unresolved alert with the same (kind, report, episode) — for an empty episode, the
    /// unresolved alert of the same (kind, report) with an empty episode — else it reopens the
    /// resolved alert with the same id (the same data-keyed episode came back), else a new alert
    /// is created. Unresolved alerts that match no finding are resolved at `now`. Returns one
    /// [`AlertState`] per finding, in input order (duplicate findings share one alert; the last
    /// one's data is kept).
    pub fn reconcile_alerts(
        &mut self,
        findings: &[Finding],
        now: DateTime<Utc>,
    ) -> Result<Vec<AlertState>> {
        self.reconcile_alerts_where(findings, now, &|_| true)
    }

    /// [`Store::reconcile_alerts`], resolving only the unmatched open alerts whose report
    /// (`report` column: an e-mail, or `account:<name>`) satisfies `resolvable`; the others are
    /// left exactly as they are (not even `last_seen` changes). The completeness gate uses it to
    /// keep every report alert untouched while an account is missing.
    pub fn reconcile_alerts_where(
        &mut self,
        findings: &[Finding],
        now: DateTime<Utc>,
        resolvable: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<AlertState>> {
        let now_text = text(now);
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut open = load_open(&tx).map_err(sql)?;
        let mut seen: HashSet<String> = HashSet::new();
        let mut opens: Vec<Open> = Vec::with_capacity(findings.len());
        for f in findings {
            let key = Key {
                kind: f.kind.clone(),
                report: f.report.to_lowercase(),
                episode: f.episode.clone(),
            };
            let since = f.since.map(text);
            let current = match open.get(&key) {
                Some(o) => {
                    let since = since.unwrap_or_else(|| o.since.clone());
                    tx.execute(
                        "UPDATE alerts SET since = ?2, last_seen = ?3, data = ?4 WHERE id = ?1",
                        params![o.id, since, now_text, f.data],
                    )
                    .map_err(sql)?;
                    Open { since, ..o.clone() }
                }
                None => {
                    let since = since.unwrap_or_else(|| now_text.clone());
                    start_or_reopen(&tx, &key, &since, &now_text, &f.data).map_err(sql)?
                }
            };
            seen.insert(current.id.clone());
            open.insert(key, current.clone());
            opens.push(current);
        }
        {
            let mut resolve = tx
                .prepare_cached("UPDATE alerts SET resolved_at = ?2 WHERE id = ?1")
                .map_err(sql)?;
            for (_, o) in open
                .iter()
                .filter(|(k, o)| !seen.contains(&o.id) && resolvable(&k.report))
            {
                resolve.execute(params![o.id, now_text]).map_err(sql)?;
            }
        }
        // Read the states before committing, so that a corrupt time aborts the whole reconcile.
        let states = opens
            .iter()
            .map(|o| state(&self.path, o))
            .collect::<Result<Vec<_>>>()?;
        tx.commit().map_err(sql)?;
        Ok(states)
    }

    /// Acknowledge an open alert: it stays quiet (listed as acknowledged) for the rest of its
    /// episode. Acknowledging twice keeps the first time.
    pub fn ack_alert(&self, id: &str, now: DateTime<Utc>) -> Result<AckOutcome> {
        let changed = self
            .conn
            .execute(
                "UPDATE alerts SET acked_at = COALESCE(acked_at, ?2)
                 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, text(now)],
            )
            .map_err(self.sql())?;
        self.outcome(id, changed)
    }

    /// Snooze an open alert until `until` (replacing an earlier snooze). It is active again once
    /// `until` ≤ now; the caller compares. `now` is not stored: it is there for the callers'
    /// symmetry with [`Store::ack_alert`].
    pub fn snooze_alert(
        &self,
        id: &str,
        until: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Result<AckOutcome> {
        let changed = self
            .conn
            .execute(
                "UPDATE alerts SET snoozed_until = ?2 WHERE id = ?1 AND resolved_at IS NULL",
                params![id, text(until)],
            )
            .map_err(self.sql())?;
        self.outcome(id, changed)
    }

    fn outcome(&self, id: &str, changed: usize) -> Result<AckOutcome> {
        if changed > 0 {
            return Ok(AckOutcome::Done);
        }
        let exists = self
            .conn
            .query_row("SELECT 1 FROM alerts WHERE id = ?1", [id], |_| Ok(()))
            .optional()
            .map_err(self.sql())?;
        Ok(match exists {
            Some(()) => AckOutcome::AlreadyResolved,
            None => AckOutcome::NotFound,
        })
    }

    /// The open (unresolved) alerts with their state and data, sorted by report, kind, since.
    pub fn open_alerts(&self) -> Result<Vec<StoredAlert>> {
        let mut out = Vec::new();
        let sql = "SELECT id, kind, report, episode, since, first_seen, last_seen, acked_at,
                          snoozed_until, data
                   FROM alerts WHERE resolved_at IS NULL
                   ORDER BY report, kind, since, id";
        self.conn.query_each(sql, (), self.sql(), |r| {
            let get = |i| r.get::<_, String>(i).map_err(self.sql());
            let get_opt = |i| r.get::<_, Option<String>>(i).map_err(self.sql());
            let id = get(0)?;
            out.push(StoredAlert {
                kind: get(1)?,
                report: get(2)?,
                episode: get(3)?,
                since: self.time(&id, &get(4)?)?,
                first_seen: self.time(&id, &get(5)?)?,
                last_seen: self.time(&id, &get(6)?)?,
                acked_at: self.opt_time(&id, get_opt(7)?.as_deref())?,
                snoozed_until: self.opt_time(&id, get_opt(8)?.as_deref())?,
                data: get(9)?,
                id,
            });
            Ok(())
        })?;
        Ok(out)
    }
}

/// The state of an alert, from its stored text (the transaction holds the store).
fn state(path: &std::path::Path, open: &Open) -> Result<AlertState> {
    let time = |v: &str| {
        parse(v).ok_or_else(|| StoreError::BadValue {
            path: path.to_path_buf(),
            what: format!("alert {}", open.id),
            value: v.to_string(),
        })
    };
    Ok(AlertState {
        id: open.id.clone(),
        since: time(&open.since)?,
        first_seen: time(&open.first_seen)?,
        acked: open.acked,
        snoozed_until: open.snoozed_until.as_deref().map(time).transpose()?,
    })
}

/// Every unresolved alert, by its key.
fn load_open(tx: &Db) -> super::db::DbResult<HashMap<Key, Open>> {
    let mut stmt = tx.prepare_cached(
        "SELECT id, kind, report, episode, since, first_seen, acked_at IS NOT NULL, snoozed_until
         FROM alerts WHERE resolved_at IS NULL",
    )?;
    let rows = stmt.query_map((), |r| {
        Ok((
            Key {
                kind: r.get(1)?,
                report: r.get(2)?,
                episode: r.get(3)?,
            },
            Open {
                id: r.get(0)?,
                since: r.get(4)?,
                first_seen: r.get(5)?,
                acked: r.get(6)?,
                snoozed_until: r.get(7)?,
            },
        ))
    })?;
    rows.collect()
}

/// A finding that continues no open alert: reopen the resolved alert of the same episode (same
/// id), or insert a new one.
fn start_or_reopen(
    tx: &Db,
    key: &Key,
    since: &str,
    now: &str,
    data: &str,
) -> super::db::DbResult<Open> {
    let seed = if key.episode.is_empty() {
        format!("{}|{}|{}", key.kind, key.report, since)
    } else {
        format!("{}|{}|{}", key.kind, key.report, key.episode)
    };
    let mut salt = 0u32;
    loop {
        let id = make_id(&seed, salt);
        let existing = tx
            .query_row(
                "SELECT kind, report, episode, resolved_at IS NOT NULL, first_seen,
                        acked_at IS NOT NULL, snoozed_until
                 FROM alerts WHERE id = ?1",
                [&id],
                |r| {
                    Ok((
                        Key {
                            kind: r.get(0)?,
                            report: r.get(1)?,
                            episode: r.get(2)?,
                        },
                        r.get::<_, bool>(3)?,
                        Open {
                            id: id.clone(),
                            since: since.to_string(),
                            first_seen: r.get(4)?,
                            acked: r.get(5)?,
                            snoozed_until: r.get(6)?,
                        },
                    ))
                },
            )
            .optional()?;
        match existing {
            None => {
                tx.execute(
                    "INSERT INTO alerts (id, kind, report, episode, since, first_seen, last_seen, data)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
                    params![id, key.kind, key.report, key.episode, since, now, data],
                )?;
                return Ok(Open {
                    id,
                    since: since.to_string(),
                    first_seen: now.to_string(),
                    acked: false,
                    snoozed_until: None,
                });
            }
            // Resolved (an open one with this key would have been continued): the same episode
            // came back.
            Some((k, true, reopened)) if k == *key => {
                tx.execute(
                    "UPDATE alerts SET resolved_at = NULL, since = ?2, last_seen = ?3, data = ?4
                     WHERE id = ?1",
                    params![id, since, now, data],
                )?;
                return Ok(reopened);
            }
            // Another alert holds this id.
            Some(_) => salt += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn ids_are_short_hex() {
        let id = make_id("gap|bob@example.com|2026-11-01T00:00:00Z", 0);
        assert_eq!(id.len(), ID_DIGITS);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, make_id("gap|bob@example.com|2026-11-01T00:00:00Z", 1));
    }

    #[test]
    fn stored_times_are_whole_seconds() {
        let t = DateTime::parse_from_rfc3339("2026-11-24T00:00:00.7Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(text(t), "2026-11-24T00:00:00Z");
    }
}
