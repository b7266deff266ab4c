//! Leases: which daemon instance syncs which account, when several instances share one store
//! (see `docs/instances.md`).
//!
//! - Every instance has a row in `instances` that it refreshes on each lease round (its
//!   heartbeat); an instance is *live* while its heartbeat is younger than the lease period.
//! - Every account has a row in `leases`: the instance holding it (`holder`), until when
//!   (`lease_until`), and when its last sync started (`synced_at`, whoever ran it). An instance
//!   syncs only the accounts it holds, and schedules each from `synced_at`, so an account changing
//!   hands is not synced again before its interval is over.
//! - One lease round ([`Store::lease_round`]) is one transaction: heartbeat, renew what the
//!   instance holds, give back what it holds beyond its fair share (accounts ÷ live instances,
//!   rounded up) or no longer wants, then claim free or expired leases up to the share. An
//!   instance that dies stops renewing, so its leases expire within one lease period and the
//!   others claim them on their next round.
//! - Times here are wall-clock UTC passed in by the caller (never the analysis' `now`, which
//!   `--now` may move): instances on several machines need clocks within a few seconds of each
//!   other (NTP), well inside a lease period.
//! - `throttles` is the shared "slow down" of the quota scheduler: a rate-limit answer seen by
//!   one instance pauses that quota scope for all of them until the time it names.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::db::{Dialect, OptionalExtension, params};
use super::{Result, Store, StoreError};

/// A daemon instance as it announces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// Unique per process: `<host>:<pid>:<random>`.
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
}

/// What one lease round left this instance with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRound {
    /// The accounts this instance holds now.
    pub held: BTreeSet<String>,
    /// Live instances, this one included.
    pub live: usize,
    /// The most accounts this instance keeps (wanted ÷ live, rounded up).
    pub share: usize,
}

/// One account's lease, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub account: String,
    pub holder: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub synced_at: Option<DateTime<Utc>>,
}

/// One instance's heartbeat row, for `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub seen_at: Option<DateTime<Utc>>,
}

/// This process's id among the processes sharing a store (`<host>:<pid>:<random>`): a daemon
/// instance's id, and the owner of the delivery attempts it makes.
pub fn process_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| {
        format!(
            "{}:{}:{:08x}",
            host_name(),
            std::process::id(),
            fastrand::u32(..)
        )
    })
}

/// The machine's name, for `status` (best effort).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn plus(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    // A lease period is minutes at most (validated in the config), far inside chrono's range.
    t + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// The fair share of `wanted` accounts among `live` instances: rounded up, so together the
/// instances always cover every account.
pub fn fair_share(wanted: usize, live: usize) -> usize {
    wanted.div_ceil(live.max(1))
}

impl Store {
    /// One lease round for `me` at wall-clock `wall` (see the module doc): one transaction.
    /// `wanted` are the accounts of the configuration (an instance never holds others).
    pub fn lease_round(
        &mut self,
        me: &Instance,
        wanted: &BTreeSet<String>,
        period: Duration,
        wall: DateTime<Utc>,
    ) -> Result<LeaseRound> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let until = text(plus(wall, period));
        let now = text(wall);
        let live_since = text(wall - chrono::Duration::from_std(period).unwrap_or_default());
        // BEGIN IMMEDIATE on SQLite: the whole round excludes every other writer.
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT INTO instances (id, host, pid, started_at, seen_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
            params![me.id, me.host, me.pid, text(me.started_at), now],
        )
        .map_err(sql)?;
        // Instances gone for many periods are forgotten (their leases expired long ago).
        let forget = text(wall - chrono::Duration::from_std(period * 20).unwrap_or_default());
        tx.execute("DELETE FROM instances WHERE seen_at < ?1", [&forget])
            .map_err(sql)?;
        let live: usize = tx
            .query_row(
                "SELECT COUNT(*) FROM instances WHERE seen_at >= ?1",
                [&live_since],
                |r| r.get::<_, i64>(0),
            )
            .map_err(sql)?
            .try_into()
            .unwrap_or(1);
        let live = live.max(1);
        {
            let mut add = tx
                .prepare_cached("INSERT INTO leases (account) VALUES (?1) ON CONFLICT DO NOTHING")
                .map_err(sql)?;
            for name in wanted {
                add.execute([name]).map_err(sql)?;
            }
        }
        let share = fair_share(wanted.len(), live);
        // What I hold and still have time on (an expired lease of mine may already be
        // someone else's claim target: it is claimed again below like any free one).
        let mut mine: Vec<String> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT account FROM leases WHERE holder = ?1 AND lease_until >= ?2
                     ORDER BY account",
                )
                .map_err(sql)?;
            let rows = stmt
                .query_map(params![me.id, now], |r| r.get::<_, String>(0))
                .map_err(sql)?;
            rows.collect::<super::db::DbResult<_>>().map_err(sql)?
        };
        // Give back what is no longer configured, then the surplus over the share (the last
        // names, so the choice is stable from one round to the next).
        let mut give_back: Vec<String> = Vec::new();
        mine.retain(|a| {
            let keep = wanted.contains(a);
            if !keep {
                give_back.push(a.clone());
            }
            keep
        });
        while mine.len() > share {
            if let Some(a) = mine.pop() {
                give_back.push(a);
            }
        }
        for a in &give_back {
            tx.execute(
                "UPDATE leases SET holder = NULL, lease_until = NULL WHERE account = ?1 AND holder = ?2",
                params![a, me.id],
            )
            .map_err(sql)?;
        }
        tx.execute(
            "UPDATE leases SET lease_until = ?2 WHERE holder = ?1 AND lease_until >= ?3",
            params![me.id, until, now],
        )
        .map_err(sql)?;
        let mut held: BTreeSet<String> = mine.into_iter().collect();
        let need = share.saturating_sub(held.len());
        if need > 0 {
            // SQLite: the IMMEDIATE transaction already excludes every other writer.
            // PostgreSQL: lock the candidates and skip the rows another instance is claiming
            // this very moment, so two rounds take different accounts instead of waiting.
            let free_sql = match tx.dialect() {
                Dialect::Sqlite => {
                    "SELECT account FROM leases
                     WHERE holder IS NULL OR lease_until IS NULL OR lease_until < ?1
                     ORDER BY account"
                }
                Dialect::Postgres => {
                    "SELECT account FROM leases
                     WHERE holder IS NULL OR lease_until IS NULL OR lease_until < ?1
                     ORDER BY account
                     FOR UPDATE SKIP LOCKED"
                }
            };
            let free: Vec<String> = {
                let mut stmt = tx.prepare_cached(free_sql).map_err(sql)?;
                let rows = stmt
                    .query_map([&now], |r| r.get::<_, String>(0))
                    .map_err(sql)?;
                rows.collect::<super::db::DbResult<Vec<_>>>().map_err(sql)?
            };
            for a in free.into_iter().filter(|a| wanted.contains(a)).take(need) {
                tx.execute(
                    "UPDATE leases SET holder = ?2, lease_until = ?3 WHERE account = ?1",
                    params![a, me.id, until],
                )
                .map_err(sql)?;
                held.insert(a);
            }
        }
        tx.commit().map_err(sql)?;
        Ok(LeaseRound { held, live, share })
    }

    /// Give back every lease of `me` and drop its heartbeat (a clean shutdown), so the others
    /// take its accounts at their next round instead of after a lease period.
    pub fn release_leases(&mut self, me: &str) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "UPDATE leases SET holder = NULL, lease_until = NULL WHERE holder = ?1",
            [me],
        )
        .map_err(sql)?;
        tx.execute("DELETE FROM instances WHERE id = ?1", [me])
            .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Note that a sync of `account` starts at `wall`, if `me` still holds its lease then.
    /// Returns false (and records nothing) when the lease is no longer `me`'s: the caller must
    /// not sync.
    pub fn start_leased_sync(&self, me: &str, account: &str, wall: DateTime<Utc>) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE leases SET synced_at = ?3
                 WHERE account = ?1 AND holder = ?2 AND lease_until >= ?3",
                params![account, me, text(wall)],
            )
            .map_err(self.sql())?;
        Ok(n == 1)
    }

    /// When the last sync of `account` started, whoever ran it.
    pub fn leased_synced_at(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        self.conn
            .query_row(
                "SELECT synced_at FROM leases WHERE account = ?1",
                [account],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()
            .map(|s| parse(s.flatten()))
            .map_err(self.sql())
    }

    /// Every lease, by account.
    pub fn leases(&self) -> Result<Vec<LeaseRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT account, holder, lease_until, synced_at FROM leases ORDER BY account",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| {
                Ok(LeaseRow {
                    account: r.get(0)?,
                    holder: r.get(1)?,
                    lease_until: parse(r.get(2)?),
                    synced_at: parse(r.get(3)?),
                })
            })
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }

    /// Every known instance, by id.
    pub fn instances(&self) -> Result<Vec<InstanceRow>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, host, pid, started_at, seen_at FROM instances ORDER BY id")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| {
                Ok(InstanceRow {
                    id: r.get(0)?,
                    host: r.get(1)?,
                    pid: r.get(2)?,
                    started_at: parse(r.get(3)?),
                    seen_at: parse(r.get(4)?),
                })
            })
            .map_err(self.sql())?;
        rows.collect::<super::db::DbResult<_>>().map_err(self.sql())
    }

    /// Pause the quota `scope` for every instance until `until` (a later time wins).
    pub fn note_throttle(&self, scope: &str, until: DateTime<Utc>) -> Result<()> {
        let sql = match self.conn.dialect() {
            Dialect::Sqlite => {
                "INSERT INTO throttles (scope, until) VALUES (?1, ?2)
                 ON CONFLICT (scope) DO UPDATE SET until = MAX(until, excluded.until)"
            }
            Dialect::Postgres => {
                "INSERT INTO throttles (scope, until) VALUES (?1, ?2)
                 ON CONFLICT (scope) DO UPDATE SET until = GREATEST(throttles.until, excluded.until)"
            }
        };
        self.conn
            .execute(sql, params![scope, text(until)])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The quota scopes paused after `wall`, with their end.
    pub fn throttles(&self, wall: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scope, until FROM throttles WHERE until > ?1 ORDER BY scope")
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([text(wall)], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let rows: Vec<(String, String)> = rows
            .collect::<super::db::DbResult<_>>()
            .map_err(self.sql())?;
        Ok(rows
            .into_iter()
            .filter_map(|(s, u)| parse(Some(u)).map(|u| (s, u)))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str) -> Instance {
        Instance {
            id: id.into(),
            host: "h".into(),
            pid: 1,
            started_at: "2026-12-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn names(n: usize) -> BTreeSet<String> {
        (0..n).map(|i| format!("acct{i:02}")).collect()
    }

    fn at(s: u32) -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + chrono::Duration::seconds(s.into())
    }

    const PERIOD: Duration = Duration::from_secs(10);

    /// Two connections to one file, like two instances sharing a database.
    fn two() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let a = crate::store::testing::open_in(dir.path()).unwrap();
        let b = crate::store::testing::open_in(dir.path()).unwrap();
        (dir, a, b)
    }

    #[test]
    fn two_instances_split_the_accounts_and_never_share_one() {
        let (_d, mut a, mut b) = two();
        let wanted = names(50);
        let r = a.lease_round(&inst("A"), &wanted, PERIOD, at(0)).unwrap();
        assert_eq!((r.live, r.held.len()), (1, 50), "alone, A takes everything");
        let r = b.lease_round(&inst("B"), &wanted, PERIOD, at(1)).unwrap();
        assert_eq!((r.live, r.share), (2, 25));
        assert!(r.held.is_empty(), "nothing is free yet: {:?}", r.held);
        // A's next round gives back its surplus; B's next round claims it.
        let ra = a.lease_round(&inst("A"), &wanted, PERIOD, at(3)).unwrap();
        let rb = b.lease_round(&inst("B"), &wanted, PERIOD, at(4)).unwrap();
        assert_eq!((ra.held.len(), rb.held.len()), (25, 25));
        assert!(ra.held.is_disjoint(&rb.held));
        let all: BTreeSet<_> = ra.held.union(&rb.held).cloned().collect();
        assert_eq!(all, wanted);
        // Stable: further rounds change nothing.
        let ra2 = a.lease_round(&inst("A"), &wanted, PERIOD, at(6)).unwrap();
        let rb2 = b.lease_round(&inst("B"), &wanted, PERIOD, at(7)).unwrap();
        assert_eq!((ra2.held, rb2.held), (ra.held, rb.held));
    }

    #[test]
    fn a_dead_instances_accounts_move_within_one_period() {
        let (_d, mut a, mut b) = two();
        let wanted = names(10);
        a.lease_round(&inst("A"), &wanted, PERIOD, at(0)).unwrap();
        b.lease_round(&inst("B"), &wanted, PERIOD, at(1)).unwrap();
        a.lease_round(&inst("A"), &wanted, PERIOD, at(2)).unwrap();
        let rb = b.lease_round(&inst("B"), &wanted, PERIOD, at(3)).unwrap();
        assert_eq!(rb.held.len(), 5);
        // A stops (killed) after its round at 2 s: its leases run until 12 s.
        let rb = b.lease_round(&inst("B"), &wanted, PERIOD, at(11)).unwrap();
        assert_eq!(rb.held.len(), 5, "A's leases are still valid at 11 s");
        let rb = b.lease_round(&inst("B"), &wanted, PERIOD, at(13)).unwrap();
        assert_eq!(
            (rb.live, rb.held.len()),
            (1, 10),
            "at 13 s B holds everything"
        );
        assert!(!a.start_leased_sync("A", "acct00", at(13)).unwrap());
    }

    #[test]
    fn a_sync_is_recorded_only_under_a_valid_lease() {
        let (_d, mut a, b) = two();
        let wanted = names(1);
        a.lease_round(&inst("A"), &wanted, PERIOD, at(0)).unwrap();
        assert!(!b.start_leased_sync("B", "acct00", at(1)).unwrap());
        assert!(a.start_leased_sync("A", "acct00", at(2)).unwrap());
        assert_eq!(b.leased_synced_at("acct00").unwrap(), Some(at(2)));
        assert!(
            !a.start_leased_sync("A", "acct00", at(11)).unwrap(),
            "expired"
        );
    }

    #[test]
    fn a_clean_stop_hands_over_at_once_and_unwanted_accounts_are_given_back() {
        let (_d, mut a, mut b) = two();
        let wanted = names(4);
        a.lease_round(&inst("A"), &wanted, PERIOD, at(0)).unwrap();
        a.release_leases("A").unwrap();
        let rb = b.lease_round(&inst("B"), &wanted, PERIOD, at(1)).unwrap();
        assert_eq!((rb.live, rb.held.len()), (1, 4));
        let fewer = names(2);
        let rb = b.lease_round(&inst("B"), &fewer, PERIOD, at(2)).unwrap();
        assert_eq!(rb.held, fewer);
        let rows = b.leases().unwrap();
        assert!(
            rows.iter()
                .filter(|r| !fewer.contains(&r.account))
                .all(|r| r.holder.is_none())
        );
    }

    #[test]
    fn throttles_keep_the_later_end() {
        let (_d, a, b) = two();
        a.note_throttle("google:proj", at(30)).unwrap();
        b.note_throttle("google:proj", at(20)).unwrap();
        assert_eq!(
            b.throttles(at(0)).unwrap(),
            vec![("google:proj".to_string(), at(30))]
        );
        assert!(b.throttles(at(31)).unwrap().is_empty());
    }

    #[test]
    fn fair_share_covers_everything() {
        for wanted in 0..60 {
            for live in 1..6 {
                assert!(fair_share(wanted, live) * live >= wanted);
                assert!(fair_share(wanted, live) <= wanted.max(1));
            }
        }
    }

    #[test]
    fn two_instances_split_the_accounts_and_never_share_one_pg() {
        crate::store::testing::on_pg(two_instances_split_the_accounts_and_never_share_one);
    }

    #[test]
    fn a_dead_instances_accounts_move_within_one_period_pg() {
        crate::store::testing::on_pg(a_dead_instances_accounts_move_within_one_period);
    }

    #[test]
    fn a_sync_is_recorded_only_under_a_valid_lease_pg() {
        crate::store::testing::on_pg(a_sync_is_recorded_only_under_a_valid_lease);
    }

    #[test]
    fn a_clean_stop_hands_over_at_once_and_unwanted_accounts_are_given_back_pg() {
        crate::store::testing::on_pg(
            a_clean_stop_hands_over_at_once_and_unwanted_accounts_are_given_back,
        );
    }

    #[test]
    fn throttles_keep_the_later_end_pg() {
        crate::store::testing::on_pg(throttles_keep_the_later_end);
    }
}
