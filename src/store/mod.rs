//! The store: accounts, calendars, normalized events, sync cursors and alerts, in the SQLite
//! file of the state directory (the default) or a PostgreSQL database (`[store] url`,
//! `docs/postgres.md`).
//!
//! Owns the database and its schema (versioned migrations in `migrations.rs`, the same steps for
//! PostgreSQL in `migrations_pg.rs`). Every query is written once over the connection layer
//! `db.rs`. Invariants:
//! - The database is created with mode 0600 (its WAL/SHM files inherit it), in a state directory
//!   created 0700.
//! - Every write that a sync makes for one page of changes, together with the cursor that covers
//!   it, is one transaction: a crash loses nothing and duplicates nothing.
//! - Every event row carries the UTC span it can touch (`start_utc`, `end_utc`; see `window.rs`),
//!   a superset of what it contributes to any expansion: expanding [`Store::load_events_in`]'s
//!   rows in their window gives what expanding every row would.
//! - Alerts (`alerts.rs`): at most one unresolved alert per (kind, report, episode); ids are
//!   deterministic; a reconcile is one transaction.
//! - The alert outbox (`outbox.rs`): deliveries are planned and written with their notices in
//!   one transaction; an attempt is recorded before the channel is called.
//! - Async code reaches the store through [`AsyncStore`], which runs the blocking database work
//!   on the blocking thread pool, never on the runtime's workers (the PostgreSQL client would
//!   panic there).

mod agendas;
mod alerts;
mod api;
mod bookings;
pub mod caldav;
pub(crate) mod db;
#[cfg(test)]
pub(crate) mod failing;
mod leases;
mod migrations;
pub mod migrations_pg;
mod outbox;
mod sink;
#[cfg(test)]
pub(crate) mod testing;
mod window;

pub use agendas::{AgendaDocument, AgendaLink, LinkState};
pub use alerts::{AckOutcome, AlertState, Finding, StoredAlert};
pub use api::{AgendaLedger, Bookings, EventStore, Leases, Outbox};
pub use bookings::Booking;
pub use leases::{Instance, InstanceRow, LeaseRound, LeaseRow, fair_share, host_name, process_id};
pub use outbox::{
    AttemptRecord, DeliveryRecord, NewDelivery, OutboxPlan, OutboxView, PendingDelivery,
    ResolvedAlert,
};
pub use sink::AccountSink;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use db::{Db, OptionalExtension, params};

use crate::model::Event;

/// The windowed load. `hit` is every row whose span meets `[?2, ?3)` (two index searches on
/// `events_window`: ends after `?2`, and open ends), the outer query adds the masters of the hit
/// overrides through the `(calendar_id, event_id)` key (`CROSS JOIN` keeps `hit` the outer loop;
/// the planner would otherwise scan every event).
const LOAD_WINDOW_SQL: &str = "
    WITH hit(id, calendar_id, series_id) AS MATERIALIZED (
        SELECT id, calendar_id, series_id FROM events WHERE end_utc > ?2 AND start_utc < ?3
        UNION ALL
        SELECT id, calendar_id, series_id FROM events WHERE end_utc IS NULL AND start_utc < ?3
    )
    SELECT a.name, c.calendar, e.event_id, e.data, e.kind, e.humans, e.summary FROM events e
    JOIN calendars c ON c.id = e.calendar_id
    JOIN accounts a ON a.id = c.account_id
    WHERE (CAST(?1 AS TEXT) IS NULL OR a.name = ?1)
      AND e.id IN (
        SELECT id FROM hit
        UNION
        SELECT m.id FROM hit h CROSS JOIN events m
        WHERE m.calendar_id = h.calendar_id AND m.event_id = h.series_id
          AND h.series_id IS NOT NULL
      )
    ORDER BY a.name, c.calendar, e.id";

/// [`LOAD_WINDOW_SQL`] for one account (`?1`): the window is looked up only in that account's
/// calendars (through the `events (calendar_id, …)` index), so one manager's load in org mode
/// costs their own events, not the whole store's. The same rows as the query above with the
/// account set. `(e.end_utc || '') IS NULL` is `e.end_utc IS NULL` that SQLite cannot answer
/// from `events_window`: without statistics it would rather walk every account's unbounded
/// series in that index than this account's few rows in `events (calendar_id, …)`.
const LOAD_ACCOUNT_WINDOW_SQL: &str = "
    WITH cal(id) AS MATERIALIZED (
        SELECT c.id FROM calendars c JOIN accounts a ON a.id = c.account_id WHERE a.name = ?1
    ),
    hit(id, calendar_id, series_id) AS MATERIALIZED (
        SELECT e.id, e.calendar_id, e.series_id FROM cal JOIN events e ON e.calendar_id = cal.id
        WHERE e.end_utc > ?2 AND e.start_utc < ?3
        UNION ALL
        SELECT e.id, e.calendar_id, e.series_id FROM cal JOIN events e ON e.calendar_id = cal.id
        WHERE (e.end_utc || '') IS NULL AND e.start_utc < ?3
    )
    SELECT a.name, c.calendar, e.event_id, e.data, e.kind, e.humans, e.summary FROM events e
    JOIN calendars c ON c.id = e.calendar_id
    JOIN accounts a ON a.id = c.account_id
    WHERE e.id IN (
        SELECT id FROM hit
        UNION
        SELECT m.id FROM hit h CROSS JOIN events m
        WHERE m.calendar_id = h.calendar_id AND m.event_id = h.series_id
          AND h.series_id IS NOT NULL
      )
    ORDER BY a.name, c.calendar, e.id";

/// A reader's test on a single event's humans (lower-cased) and title: false skips the event
/// without decoding it.
pub type KeepSingle<'a> = &'a dyn Fn(&mut dyn Iterator<Item = &str>, &str) -> bool;

/// The database file name inside the state directory.
pub const DB_FILE: &str = "cadenced.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The state directory or the database file was refused (owner, mode, a link).
    #[error(transparent)]
    StateFs(#[from] crate::statefs::StateFsError),
    /// A database error; `path` is the SQLite file, or the PostgreSQL server and database
    /// (`postgres://user@host:port/db`, never a password).
    #[error("database {}: {source}{}", path.display(), corrupt_hint(source))]
    Database { path: PathBuf, source: db::DbError },
    #[error("database {path}: cannot migrate the schema: {source}")]
    Migrate {
        path: PathBuf,
        source: rusqlite_migration::Error,
    },
    #[error("database {}: cannot migrate the schema: {source}", path.display())]
    MigratePostgres {
        path: PathBuf,
        source: migrations_pg::MigrateError,
    },
    #[error("database {path}: stored event {event_id} is unreadable: {source}")]
    Decode {
        path: PathBuf,
        event_id: String,
        source: serde_json::Error,
    },
    #[error("database {path}: cannot encode event {event_id}: {source}")]
    Encode {
        path: PathBuf,
        event_id: String,
        source: serde_json::Error,
    },
    #[error("database {path}: {what} has an unreadable value `{value}`")]
    BadValue {
        path: PathBuf,
        what: String,
        value: String,
    },
    #[error("the database worker stopped unexpectedly")]
    Worker,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Create the state directory (mode 0700) if needed, and check an existing one: owned by this
/// user and writable by no one else ([`crate::statefs::ensure_state_dir`]).
pub fn ensure_state_dir(dir: &Path) -> Result<()> {
    Ok(crate::statefs::ensure_state_dir(dir)?)
}

/// Parse a PostgreSQL URL (or `key=value` string).
pub fn pg_config(url: &str) -> std::result::Result<postgres::Config, postgres::Error> {
    url.parse::<postgres::Config>()
}

/// How a PostgreSQL database is named in messages: `postgres://user@host:port/db`, never with
/// a password.
pub fn pg_label(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!("postgres://{at}{host}:{port}/{db}")
}

/// The TLS client settings for PostgreSQL: aws-lc-rs, the platform's certificate verifier.
fn tls_config() -> std::result::Result<rustls::ClientConfig, rustls::Error> {
    use rustls_platform_verifier::BuilderVerifierExt;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_platform_verifier()?
    .with_no_client_auth())
}

/// A damaged database file gets one sentence on how to recover.
fn corrupt_hint(e: &db::DbError) -> &'static str {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
            "; the database file is damaged: stop the daemon, move the database (with its -wal and -shm files) out of the state directory and run `cadenced sync` to rebuild it from the calendars (alert acknowledgements and agenda bookkeeping start afresh)"
        }
        _ => "",
    }
}

/// The stored events of one calendar of one account.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCalendar {
    pub account: String,
    pub calendar: String,
    pub events: Vec<Event>,
}

/// What a sync leaves behind for an account (`status` shows it).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncOutcome {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// One sentence; never holds a secret.
    pub error: Option<String>,
    pub changed: bool,
}

/// One account as `status` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountOverview {
    pub name: String,
    pub provider: String,
    pub needs_auth: bool,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub last_sync_ok: Option<bool>,
    /// One sentence; never holds a secret.
    pub last_error: Option<String>,
    pub last_success_at: Option<DateTime<Utc>>,
    pub events: i64,
    pub calendars: i64,
    /// Calendars with a stored sync cursor (sync token, delta link, HTTP validators).
    pub cursors: i64,
}

/// A connection to the state database.
pub struct Store {
    conn: Db,
    path: PathBuf,
    /// The state directory (tokens, directory files, agendas): the SQLite file's directory, or
    /// the one given with a PostgreSQL database.
    state_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open (creating if needed) the database in `state_dir`, and bring its schema up to date.
    pub fn open_in(state_dir: &Path) -> Result<Self> {
        ensure_state_dir(state_dir)?;
        Self::open(&state_dir.join(DB_FILE))
    }

    /// Open (creating with mode 0600 if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let path = path.to_path_buf();
        // Create (or open) the file ourselves, never through a link, as a regular file of ours
        // with mode 0600 fixed on the handle; SQLite opens it only after that check, with
        // SQLITE_OPEN_NOFOLLOW, and its -wal/-shm files must not be links either.
        let _checked = crate::statefs::open_rw(&path)?;
        for suffix in ["-wal", "-shm", "-journal"] {
            let mut side = path.clone().into_os_string();
            side.push(suffix);
            crate::statefs::refuse_symlink(Path::new(&side))?;
        }
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NOFOLLOW
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = rusqlite::Connection::open_with_flags(&path, flags).map_err(|source| {
            StoreError::Database {
                path: path.clone(),
                source: source.into(),
            }
        })?;
        let sql = |source: rusqlite::Error| StoreError::Database {
            path: path.clone(),
            source: source.into(),
        };
        // 16 KiB pages for a new database (an existing one keeps its page size): an event row
        // is ~1.3 KB, and with 4 KiB pages a 50,000-event full sync spent ~40 % more CPU in
        // SQLite (more b-tree pages, splits, WAL frames and write calls; figures in
        // benches/google_sync.rs). Must precede the switch to WAL, which writes the header.
        conn.pragma_update(None, "page_size", 16_384).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        // Throughput of large syncs (a 50,000-event full sync writes ~60 MB), durability unchanged:
        // - a 16 MiB page cache (default 2 MiB) keeps the event indexes (~5 MB per 50,000 events)
        //   in memory instead of re-reading their pages from the file for every row (allocated
        //   only as used; 32 MiB measured no faster, 2 MiB twice the SQLite CPU);
        // - a checkpoint every 8,192 WAL pages (128 MiB of 16 KiB pages; default 1,000, i.e. after nearly
        //   every 2,500-event page) copies each page once instead of after every transaction;
        //   commits are unaffected (each is still atomic in the WAL), and the WAL file is trimmed
        //   back to 64 MiB at most after a checkpoint.
        conn.pragma_update(None, "cache_size", -16_384)
            .map_err(sql)?;
        conn.pragma_update(None, "wal_autocheckpoint", 8_192)
            .map_err(sql)?;
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
            .map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(sql)?;
        migrations::migrations()
            .to_latest(&mut conn)
            .map_err(|source| StoreError::Migrate {
                path: path.clone(),
                source,
            })?;
        Ok(Store {
            conn: Db::sqlite(conn),
            state_dir: path.parent().map(Path::to_path_buf),
            path,
        })
    }

    /// Open a PostgreSQL database (`postgres://user@host:port/db`; the password, if any, is
    /// given apart and never shown), and bring its schema up to date.
    ///
    /// Blocks: call it outside async code (or on the blocking pool).
    pub fn open_postgres(url: &str, password: Option<&str>) -> Result<Self> {
        let config = pg_config(url).map_err(|source| StoreError::Database {
            path: PathBuf::from("postgres://"),
            source: source.into(),
        })?;
        let path = PathBuf::from(pg_label(&config));
        let mut config = config;
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        config.application_name("cadenced");
        let db_err = |source: db::DbError| StoreError::Database {
            path: path.clone(),
            source,
        };
        // TLS when the URL asks for it (`sslmode=require`): rustls with the platform's roots, as
        // for every other connection cadenced makes. Otherwise none (`prefer`, the default,
        // would fail on a server whose certificate does not verify instead of falling back).
        let tls = if config.get_ssl_mode() == postgres::config::SslMode::Require {
            let tls = tls_config().map_err(|e| db_err(db::DbError::Tls(e.to_string())))?;
            Some(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        } else {
            None
        };
        let connect = move || match &tls {
            Some(tls) => config.connect(tls.clone()),
            None => config.connect(postgres::NoTls),
        };
        let client = connect().map_err(|e| db_err(e.into()))?;
        let conn = Db::postgres(client, Box::new(connect));
        migrations_pg::migrate(&conn).map_err(|e| StoreError::MigratePostgres {
            path: path.clone(),
            source: e,
        })?;
        Ok(Store {
            conn,
            path,
            state_dir: None,
        })
    }

    /// Open the store a config names: `[store] url` (PostgreSQL, password from
    /// `[store] password_env`), else the SQLite file in `state_dir`.
    ///
    /// Blocks: call it outside async code (or on the blocking pool).
    pub fn open_config(store: &crate::config::StoreConfig, state_dir: &Path) -> Result<Self> {
        match &store.url {
            None => Self::open_in(state_dir),
            Some(url) => {
                let password = store
                    .password_env
                    .as_deref()
                    .and_then(|var| std::env::var(var).ok())
                    .filter(|p| !p.is_empty());
                let mut store = Self::open_postgres(url, password.as_deref())?;
                store.state_dir = Some(state_dir.to_path_buf());
                Ok(store)
            }
        }
    }

    /// The SQLite file, or the PostgreSQL server and database (`postgres://user@host:port/db`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state directory that goes with this store (`None` for a PostgreSQL database opened
    /// without one).
    pub fn state_dir(&self) -> Option<&Path> {
        self.state_dir.as_deref()
    }

    /// Which back-end this store is on.
    pub fn dialect(&self) -> db::Dialect {
        self.conn.dialect()
    }

    fn sql(&self) -> impl Fn(db::DbError) -> StoreError + '_ {
        |source| StoreError::Database {
            path: self.path.clone(),
            source,
        }
    }

    /// The id of the account, created if it is new. A changed provider updates the row.
    pub fn ensure_account(&self, name: &str, provider: &str) -> Result<i64> {
        self.conn
            .query_row(
                "INSERT INTO accounts (name, provider) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET provider = excluded.provider
                 RETURNING id",
                params![name, provider],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    /// The id of a calendar of an account, created if it is new.
    pub fn ensure_calendar(&self, account_id: i64, calendar: &str) -> Result<i64> {
        upsert_calendar(&self.conn, account_id, calendar).map_err(self.sql())
    }

    /// The stored cursor of a calendar (sync token, delta link, HTTP validators…).
    pub fn cursor(&self, calendar_id: i64) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT cursor FROM sync_cursors WHERE calendar_id = ?1",
                [calendar_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }

    /// Forget the cursors of an account (`sync --full`).
    pub fn drop_cursors(&self, account_id: i64) -> Result<()> {
        self.conn
            .execute(
                "DELETE FROM sync_cursors WHERE calendar_id IN (SELECT id FROM calendars WHERE account_id = ?1)",
                [account_id],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Replace every event of an account's calendar, and its cursor, in one transaction. Other
    /// calendars of the account that are not `calendar` are removed (a feed has one calendar).
    pub fn replace_account_events(
        &mut self,
        account_id: i64,
        calendar: &str,
        events: &[Event],
        cursor: Option<&str>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "DELETE FROM calendars WHERE account_id = ?1 AND calendar <> ?2",
            params![account_id, calendar],
        )
        .map_err(sql)?;
        let calendar_id = upsert_calendar(&tx, account_id, calendar).map_err(sql)?;
        tx.execute("DELETE FROM events WHERE calendar_id = ?1", [calendar_id])
            .map_err(sql)?;
        write_events(&tx, &path, calendar_id, events, 0)?;
        set_cursor(&tx, calendar_id, cursor).map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Apply one page of incremental changes and the cursor that covers it, in one transaction.
    pub fn apply_changes(
        &mut self,
        calendar_id: i64,
        upserts: &[Event],
        deleted_ids: &[String],
        cursor: Option<&str>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            let mut del = tx
                .prepare_cached("DELETE FROM events WHERE calendar_id = ?1 AND event_id = ?2")
                .map_err(sql)?;
            for id in deleted_ids {
                del.execute(params![calendar_id, id]).map_err(sql)?;
            }
        }
        write_events(&tx, &path, calendar_id, upserts, 0)?;
        if cursor.is_some() {
            set_cursor(&tx, calendar_id, cursor).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// Every stored event, optionally of one account, grouped by account and calendar.
    pub fn load_events(&self, account: Option<&str>) -> Result<Vec<StoredCalendar>> {
        self.group_rows(
            "SELECT a.name, c.calendar, e.event_id, e.data FROM events e
             JOIN calendars c ON c.id = e.calendar_id
             JOIN accounts a ON a.id = c.account_id
             WHERE (CAST(?1 AS TEXT) IS NULL OR a.name = ?1)
             ORDER BY a.name, c.calendar, e.id",
            params![account],
            None,
        )
    }

    /// The stored events, optionally of one account, that can overlap `[from, to)`, grouped and
    /// ordered as [`Store::load_events`] does: the rows whose span meets the window padded by
    /// 14 hours on each side (floating times and dates are placed in UTC when stored, but
    /// analysed in the manager's zone), plus the master of every such override (so that an
    /// override is expanded as part of its series even when the series ended earlier).
    ///
    /// Expanding the result in `[from, to)`, in any floating zone, gives what expanding the
    /// whole store would.
    pub fn load_events_in(
        &self,
        account: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<StoredCalendar>> {
        self.load_window(account, from, to, None)
    }

    /// Like [`Store::load_events_in`], but single events (neither a series nor an override) for
    /// which `keep_single(humans, summary)` is false are skipped without being decoded, unless
    /// they are marked out of office (those tell when the manager is away).
    pub fn load_events_in_filtered(
        &self,
        account: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        keep_single: KeepSingle<'_>,
    ) -> Result<Vec<StoredCalendar>> {
        self.load_window(account, from, to, Some(keep_single))
    }

    fn load_window(
        &self,
        account: Option<&str>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        keep_single: Option<KeepSingle<'_>>,
    ) -> Result<Vec<StoredCalendar>> {
        let (lo, hi) = window::query_bounds(from, to);
        match account {
            Some(name) => {
                self.group_rows(LOAD_ACCOUNT_WINDOW_SQL, params![name, lo, hi], keep_single)
            }
            None => self.group_rows(LOAD_WINDOW_SQL, params![account, lo, hi], keep_single),
        }
    }

    /// Decode `(account, calendar, event_id, data[, kind, humans, summary])` rows, grouping
    /// consecutive rows of one calendar; with `keep_single`, rejected singles are not decoded.
    fn group_rows<P: db::Params>(
        &self,
        sql: &str,
        params: P,
        keep_single: Option<KeepSingle<'_>>,
    ) -> Result<Vec<StoredCalendar>> {
        let mut out: Vec<StoredCalendar> = Vec::new();
        let each = |row: &db::Row<'_>| -> Result<()> {
            if let Some(keep) = keep_single {
                let text = |i| row.get_str(i).unwrap_or("");
                // Out-of-office singles are always kept: they mark the manager's absences.
                if text(4) == "single"
                    && !keep(&mut text(5).lines(), text(6))
                    && !text(3).contains("\"out_of_office\":true")
                {
                    return Ok(());
                }
            }
            let account: String = row.get(0).map_err(self.sql())?;
            let calendar: String = row.get(1).map_err(self.sql())?;
            let event_id: String = row.get(2).map_err(self.sql())?;
            let data = row.get_str(3).map_err(self.sql())?;
            let event = serde_json::from_str(data).map_err(|source| StoreError::Decode {
                path: self.path.clone(),
                event_id,
                source,
            })?;
            match out.last_mut() {
                Some(last) if last.account == account && last.calendar == calendar => {
                    last.events.push(event)
                }
                _ => out.push(StoredCalendar {
                    account,
                    calendar,
                    events: vec![event],
                }),
            }
            Ok(())
        };
        self.conn.query_each(sql, params, self.sql(), each)?;
        Ok(out)
    }

    /// Number of stored events per account name.
    pub fn event_counts(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.name, COUNT(e.id) FROM accounts a
                 LEFT JOIN calendars c ON c.account_id = a.id
                 LEFT JOIN events e ON e.calendar_id = c.id
                 GROUP BY a.id ORDER BY a.name",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Number of stored events of one account.
    pub fn account_event_count(&self, account_id: i64) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT COUNT(*) FROM events e JOIN calendars c ON c.id = e.calendar_id WHERE c.account_id = ?1",
                [account_id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(self.sql())
    }

    /// What `status` shows of every stored account, by name.
    pub fn account_overview(&self) -> Result<Vec<AccountOverview>> {
        self.overview_rows(
            "SELECT a.name, a.provider, a.needs_auth, a.last_sync_at, a.last_sync_ok, a.last_error,
                    a.last_success_at,
                    (SELECT COUNT(*) FROM events e JOIN calendars c ON c.id = e.calendar_id WHERE c.account_id = a.id),
                    (SELECT COUNT(*) FROM calendars c WHERE c.account_id = a.id),
                    (SELECT COUNT(*) FROM sync_cursors s JOIN calendars c ON c.id = s.calendar_id WHERE c.account_id = a.id)
             FROM accounts a ORDER BY a.name",
            (),
        )
    }

    /// [`Store::account_overview`] of the named accounts only (those stored), by name. An
    /// analysis in org mode needs its manager's one account out of thousands: asking for every
    /// account there made each manager's analysis cost as much as all the accounts together.
    pub fn account_overview_of(&self, names: &[&str]) -> Result<Vec<AccountOverview>> {
        let mut out = Vec::new();
        for name in names {
            out.extend(self.overview_rows(
                "SELECT a.name, a.provider, a.needs_auth, a.last_sync_at, a.last_sync_ok, a.last_error,
                        a.last_success_at,
                        (SELECT COUNT(*) FROM events e JOIN calendars c ON c.id = e.calendar_id WHERE c.account_id = a.id),
                        (SELECT COUNT(*) FROM calendars c WHERE c.account_id = a.id),
                        (SELECT COUNT(*) FROM sync_cursors s JOIN calendars c ON c.id = s.calendar_id WHERE c.account_id = a.id)
                 FROM accounts a WHERE a.name = ?1",
                [*name],
            )?);
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn overview_rows<P: db::Params>(&self, sql: &str, params: P) -> Result<Vec<AccountOverview>> {
        let mut stmt = self.conn.prepare(sql).map_err(self.sql())?;
        let time = |s: Option<String>| {
            s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let rows = stmt
            .query_map(params, |r| {
                Ok(AccountOverview {
                    name: r.get(0)?,
                    provider: r.get(1)?,
                    needs_auth: r.get(2)?,
                    last_sync_at: time(r.get(3)?),
                    last_sync_ok: r.get(4)?,
                    last_error: r.get(5)?,
                    last_success_at: time(r.get(6)?),
                    events: r.get(7)?,
                    calendars: r.get(8)?,
                    cursors: r.get(9)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Record that a sync of an account starts at `at`: until its outcome is recorded, the
    /// account shows a sync that did not finish (`last_sync_ok` NULL), never the previous
    /// outcome; `last_success_at` is kept.
    pub fn record_sync_start(&self, account_id: i64, at: DateTime<Utc>) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET last_sync_at = ?2, last_sync_ok = NULL, last_error = NULL
                 WHERE id = ?1",
                params![account_id, at.to_rfc3339()],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Record the outcome of a sync of an account.
    pub fn record_sync(&self, account_id: i64, outcome: &SyncOutcome) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET last_sync_at = ?2, last_sync_ok = ?3, last_error = ?4,
                        last_success_at = CASE WHEN CAST(?3 AS BIGINT) = 1 THEN ?2 ELSE last_success_at END
                 WHERE id = ?1",
                params![
                    account_id,
                    outcome.at.to_rfc3339(),
                    outcome.ok,
                    outcome.error
                ],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Per account, when its stalest sync cursor was last written (UTC), for `status`.
    pub fn oldest_cursor_updates(&self) -> Result<Vec<(String, DateTime<Utc>)>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.name, MIN(s.updated_at) FROM sync_cursors s
                 JOIN calendars c ON c.id = s.calendar_id JOIN accounts a ON a.id = c.account_id
                 GROUP BY a.name ORDER BY a.name",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map((), |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (name, at) = row.map_err(self.sql())?;
            // `set_cursor` writes "YYYY-MM-DD HH:MM:SS" in UTC.
            if let Ok(t) = chrono::NaiveDateTime::parse_from_str(&at, "%Y-%m-%d %H:%M:%S") {
                out.push((name, t.and_utc()));
            }
        }
        Ok(out)
    }

    /// The last recorded sync of an account.
    pub fn last_sync(&self, account: &str) -> Result<Option<SyncOutcome>> {
        self.conn
            .query_row(
                "SELECT last_sync_at, last_sync_ok, last_error FROM accounts WHERE name = ?1 AND last_sync_at IS NOT NULL",
                [account],
                |r| {
                    let at: String = r.get(0)?;
                    Ok((at, r.get::<_, bool>(1)?, r.get::<_, Option<String>>(2)?))
                },
            )
            .optional()
            .map_err(self.sql())
            .map(|row| {
                row.and_then(|(at, ok, error)| {
                    let at = DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc);
                    Some(SyncOutcome { at, ok, error, changed: false })
                })
            })
    }
}

/// One page of a generation-tracked sync (Google), applied with
/// [`Store::apply_generation_page`].
#[derive(Debug, Clone, Copy)]
pub struct GenerationPage<'a> {
    /// Inserted or replaced, tagged with `generation`.
    pub upserts: &'a [Event],
    /// Removed, together with the overrides whose `series_id` is one of them.
    pub deleted_ids: &'a [String],
    pub generation: i64,
    /// The last page of a full sync: rows of the calendar of any other generation are deleted.
    pub sweep: bool,
    /// Stored with the page (the last page's sync token); `None` leaves the cursor as it is.
    pub cursor: Option<&'a str>,
}

impl Store {
    /// Apply one page of a generation-tracked sync, in one transaction (see [`GenerationPage`]).
    pub fn apply_generation_page(
        &mut self,
        calendar_id: i64,
        page: &GenerationPage<'_>,
    ) -> Result<()> {
        let path = self.path.clone();
        let sql = |source| StoreError::Database {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        {
            // Two statements, each on its own index: with `event_id = ?2 OR series_id = ?2`
            // SQLite scanned every row of the calendar per deletion (quadratic full syncs).
            let mut del = tx
                .prepare_cached("DELETE FROM events WHERE calendar_id = ?1 AND event_id = ?2")
                .map_err(sql)?;
            let mut del_overrides = tx
                .prepare_cached("DELETE FROM events WHERE calendar_id = ?1 AND series_id = ?2")
                .map_err(sql)?;
            for id in page.deleted_ids {
                del.execute(params![calendar_id, id]).map_err(sql)?;
                del_overrides
                    .execute(params![calendar_id, id])
                    .map_err(sql)?;
            }
        }
        write_events(&tx, &path, calendar_id, page.upserts, page.generation)?;
        if page.sweep {
            tx.execute(
                "DELETE FROM events WHERE calendar_id = ?1 AND generation <> ?2",
                params![calendar_id, page.generation],
            )
            .map_err(sql)?;
        }
        if page.cursor.is_some() {
            set_cursor(&tx, calendar_id, page.cursor).map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// A generation number no row of the calendar carries yet (for a new full sync).
    pub fn next_generation(&self, calendar_id: i64) -> Result<i64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(generation), 0) + 1 FROM events WHERE calendar_id = ?1",
                [calendar_id],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    /// Forget the cursor of one calendar (an expired sync token).
    pub fn clear_cursor(&mut self, calendar_id: i64) -> Result<()> {
        let path = self.path.clone();
        let tx = self
            .conn
            .transaction()
            .map_err(|source| StoreError::Database {
                path: path.clone(),
                source,
            })?;
        set_cursor(&tx, calendar_id, None)
            .and_then(|()| tx.commit())
            .map_err(|source| StoreError::Database { path, source })
    }

    /// Remove the calendars of an account that are not in `keep` (and their events and cursors).
    pub fn retain_calendars(&self, account_id: i64, keep: &[String]) -> Result<()> {
        let existing: Vec<(i64, String)> = {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT id, calendar FROM calendars WHERE account_id = ?1")
                .map_err(self.sql())?;
            let rows = stmt
                .query_map([account_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(self.sql())?;
            rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())?
        };
        for (id, name) in existing {
            if !keep.contains(&name) {
                self.conn
                    .execute("DELETE FROM calendars WHERE id = ?1", [id])
                    .map_err(self.sql())?;
            }
        }
        Ok(())
    }

    /// Mark an account as needing `cadenced auth` (a revoked refresh token), or clear the mark.
    pub fn set_needs_auth(&self, account_id: i64, needs: bool) -> Result<()> {
        self.conn
            .execute(
                "UPDATE accounts SET needs_auth = ?2 WHERE id = ?1",
                params![account_id, needs],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The stored series masters of a calendar (for providers that fetch masters by id).
    pub fn calendar_masters(&self, calendar_id: i64) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event_id, data FROM events WHERE calendar_id = ?1 AND kind = 'master'",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([calendar_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (event_id, data) = row.map_err(self.sql())?;
            let event = serde_json::from_str(&data).map_err(|source| StoreError::Decode {
                path: self.path.clone(),
                event_id,
                source,
            })?;
            out.push(event);
        }
        Ok(out)
    }

    /// The stored series masters and overrides of a calendar (for providers that decide per
    /// series whether to re-read a master).
    pub fn calendar_series_events(&self, calendar_id: i64) -> Result<Vec<Event>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT event_id, data FROM events \
                 WHERE calendar_id = ?1 AND kind IN ('master', 'override')",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([calendar_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (event_id, data) = row.map_err(self.sql())?;
            let event = serde_json::from_str(&data).map_err(|source| StoreError::Decode {
                path: self.path.clone(),
                event_id,
                source,
            })?;
            out.push(event);
        }
        Ok(out)
    }

    /// Which of `ids` are stored in the calendar (as an event id).
    pub fn known_event_ids(
        &self,
        calendar_id: i64,
        ids: &[String],
    ) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM events WHERE calendar_id = ?1 AND event_id = ?2")
            .map_err(self.sql())?;
        let mut out = std::collections::HashSet::new();
        for id in ids {
            if stmt.exists(params![calendar_id, id]).map_err(self.sql())? {
                out.insert(id.clone());
            }
        }
        Ok(out)
    }

    /// Whether the account is marked as needing `cadenced auth`.
    pub fn needs_auth(&self, account_id: i64) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT needs_auth FROM accounts WHERE id = ?1",
                [account_id],
                |r| r.get(0),
            )
            .optional()
            .map(|v| v.unwrap_or(false))
            .map_err(self.sql())
    }
}

fn upsert_calendar(conn: &Db, account_id: i64, calendar: &str) -> db::DbResult<i64> {
    conn.query_row(
        "INSERT INTO calendars (account_id, calendar) VALUES (?1, ?2)
         ON CONFLICT(account_id, calendar) DO UPDATE SET calendar = excluded.calendar
         RETURNING id",
        params![account_id, calendar],
        |r| r.get(0),
    )
}

fn set_cursor(tx: &Db, calendar_id: i64, cursor: Option<&str>) -> db::DbResult<()> {
    match cursor {
        Some(c) => tx.execute(
            "INSERT INTO sync_cursors (calendar_id, cursor, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(calendar_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
            params![
                calendar_id,
                c,
                Utc::now().format("%Y-%m-%d %H:%M:%S").to_string()
            ],
        )?,
        None => tx.execute("DELETE FROM sync_cursors WHERE calendar_id = ?1", [calendar_id])?,
    };
    Ok(())
}

fn write_events(
    tx: &Db,
    path: &Path,
    calendar_id: i64,
    events: &[Event],
    generation: i64,
) -> Result<()> {
    let sql = |source| StoreError::Database {
        path: path.to_path_buf(),
        source,
    };
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO events (calendar_id, event_id, uid, series_id, kind, data, start_utc, end_utc, humans, summary, generation)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(calendar_id, event_id) DO UPDATE SET
               uid = excluded.uid, series_id = excluded.series_id, kind = excluded.kind,
               data = excluded.data, start_utc = excluded.start_utc, end_utc = excluded.end_utc,
               humans = excluded.humans, summary = excluded.summary, generation = excluded.generation",
        )
        .map_err(sql)?;
    for event in events {
        let data = serde_json::to_string(event).map_err(|source| StoreError::Encode {
            path: path.to_path_buf(),
            event_id: event.event_id.clone(),
            source,
        })?;
        let kind = if event.is_override() {
            "override"
        } else if event.is_master() {
            "master"
        } else {
            "single"
        };
        let (start_utc, end_utc) = window::columns(event);
        stmt.execute(params![
            calendar_id,
            event.event_id,
            event.uid,
            event.series_id,
            kind,
            data,
            start_utc,
            end_utc,
            event.humans().join("\n"),
            event.summary,
            generation
        ])
        .map_err(sql)?;
    }
    Ok(())
}

/// The store for async code: each call runs on the blocking pool with exclusive access.
#[derive(Clone, Debug)]
pub struct AsyncStore {
    inner: Arc<Mutex<Store>>,
}

impl AsyncStore {
    pub fn new(store: Store) -> Self {
        AsyncStore {
            inner: Arc::new(Mutex::new(store)),
        }
    }

    /// Resolves once every call already queued on the store has finished (an in-flight page
    /// transaction included): used at shutdown.
    pub async fn idle(&self) -> Result<()> {
        self.call(|_| Ok(())).await
    }

    /// Run `f` with the store on the blocking thread pool.
    ///
    /// Crate-private: callers use the named methods of [`EventStore`], [`Outbox`],
    /// [`AgendaLedger`] and [`Bookings`]. The only callers outside the store left are the
    /// whole-store analyses that still take a `Store` (the alert analysis, the dashboard page,
    /// agenda planning and its state-directory documents), shared with the one-shot CLI.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T>
    where
        F: FnOnce(&mut Store) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            // A poisoned lock means a previous call panicked mid-way; its transaction was rolled
            // back as the panic dropped it (`db::Tx`), so the connection is still consistent.
            let mut store = inner
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut store)
        })
        .await
        .map_err(|_| StoreError::Worker)?
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_alerts;
#[cfg(test)]
mod tests_generation;
#[cfg(test)]
mod tests_pg;
