//! The schema, as an append-only list of migrations: never edit a released migration, add a new
//! one. Migration 1 is released (issues 2–5).
//!
//! `events.start_utc`/`end_utc` are the span a row can touch (see `window.rs`), as
//! `YYYY-MM-DDTHH:MM:SSZ` text (lexically sortable); `end_utc` is NULL for an open-ended series.
//! The index `events_window` serves windowed loads: one range on `end_utc`, one equality on
//! NULL, each then bounded by `start_utc`.
//!
//! `events.generation` numbers the full syncs of a calendar (see `providers/google/sync.rs`): rows
//! a full sync did not see again are the ones of another generation when its last page commits.
//!
//! `alerts` keeps the lifecycle of the analysis' findings (see `alerts.rs`): at most one
//! unresolved alert per (kind, report, episode), which the partial unique index enforces.

use rusqlite_migration::{M, Migrations};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
            "CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            provider TEXT NOT NULL,
            needs_auth INTEGER NOT NULL DEFAULT 0,
            last_sync_at TEXT,
            last_sync_ok INTEGER,
            last_error TEXT,
            last_success_at TEXT
        );
        CREATE TABLE calendars (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            calendar TEXT NOT NULL,
            UNIQUE (account_id, calendar)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            calendar_id INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
            event_id TEXT NOT NULL,
            uid TEXT NOT NULL,
            series_id TEXT,
            kind TEXT NOT NULL CHECK (kind IN ('single', 'master', 'override')),
            data TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            end_utc TEXT,
            -- The event's humans (lower-cased, one per line) and title, so that a reader can
            -- skip decoding `data` for events it has no use for.
            humans TEXT NOT NULL DEFAULT '',
            summary TEXT NOT NULL DEFAULT '',
            -- The full sync that last wrote the row (Google): the last page of a full sync
            -- deletes the calendar's rows of any other generation. 0 for providers without it.
            generation INTEGER NOT NULL DEFAULT 0,
            UNIQUE (calendar_id, event_id)
        );
        CREATE INDEX events_series ON events (calendar_id, series_id);
        CREATE INDEX events_window ON events (end_utc, start_utc);
        CREATE TABLE sync_cursors (
            calendar_id INTEGER PRIMARY KEY REFERENCES calendars(id) ON DELETE CASCADE,
            cursor TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE alerts (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            report TEXT NOT NULL,
            episode TEXT NOT NULL,
            since TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            resolved_at TEXT,
            acked_at TEXT,
            snoozed_until TEXT,
            data TEXT NOT NULL CHECK (json_valid(data))
        ) WITHOUT ROWID;
        CREATE UNIQUE INDEX alerts_open ON alerts (kind, report, episode) WHERE resolved_at IS NULL;",
        ),
        // Migration 2 (issue 7): the alert outbox, its attempts, which alerts each delivery
        // carries, and the digest slots already handled (see `outbox.rs`).
        M::up(
            "CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            -- Sent as `Idempotency-Key` (webhooks), in the payload and as the e-mail Message-ID.
            idempotency_key TEXT NOT NULL UNIQUE,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('alerts', 'digest', 'resolved')),
            message TEXT NOT NULL CHECK (json_valid(message)),
            created_at TEXT NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'dropped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_attempt_at TEXT,
            last_error TEXT,
            -- What the channel answered on success (`250 Ok`, `HTTP 200`, `exit 0`).
            answer TEXT,
            done_at TEXT
        );
        CREATE INDEX outbox_pending ON outbox (id) WHERE state = 'pending';
        CREATE TABLE outbox_attempts (
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            attempt INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            -- NULL while in flight: a row left NULL is an attempt interrupted by a crash.
            ok INTEGER,
            detail TEXT,
            PRIMARY KEY (outbox_id, attempt)
        ) WITHOUT ROWID;
        CREATE TABLE alert_notices (
            alert_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            -- `new`, `after:<snoozed_until>` (the reminder once a snooze ends), `digest:<slot>`,
            -- `resolved:<resolved_at>`.
            notice TEXT NOT NULL,
            outbox_id INTEGER NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
            PRIMARY KEY (alert_id, channel, notice)
        ) WITHOUT ROWID;
        CREATE INDEX alert_notices_outbox ON alert_notices (outbox_id);
        CREATE TABLE digest_slots (
            slot TEXT PRIMARY KEY,
            handled_at TEXT NOT NULL,
            alerts INTEGER NOT NULL
        ) WITHOUT ROWID;",
        ),
        // Migration 3 (issue 8): agenda bookkeeping, see `agendas.rs`. Documents by key
        // (`series:<report>` or `session:<report>:<date>`), the sessions that got a section, and
        // what was linked into which event (or why nothing was written there).
        M::up(
            "CREATE TABLE agenda_documents (
            doc_key TEXT PRIMARY KEY,
            report TEXT NOT NULL,
            store TEXT NOT NULL,
            location TEXT NOT NULL,
            link TEXT,
            created_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE agenda_sections (
            session_key TEXT PRIMARY KEY,
            doc_key TEXT NOT NULL,
            report TEXT NOT NULL,
            session_start TEXT NOT NULL,
            written_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE agenda_links (
            account TEXT NOT NULL,
            calendar TEXT NOT NULL,
            event_id TEXT NOT NULL,
            report TEXT NOT NULL,
            doc_key TEXT NOT NULL,
            link TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('linked', 'not_organizer', 'not_writable', 'unpublished')),
            etag TEXT,
            marker TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (account, calendar, event_id)
        ) WITHOUT ROWID;
        CREATE INDEX agenda_links_report ON agenda_links (report);",
        ),
        // Migration 4 (issue 18): the CalDAV resources of a calendar (see `caldav.rs`). The href
        // is the key (a resource's UID is data); `event_ids` are the events its body gave, so a
        // changed or removed resource replaces or removes exactly those.
        M::up(
            "CREATE TABLE caldav_resources (
            calendar_id INTEGER NOT NULL REFERENCES calendars(id) ON DELETE CASCADE,
            href TEXT NOT NULL,
            etag TEXT NOT NULL,
            event_ids TEXT NOT NULL CHECK (json_valid(event_ids)),
            PRIMARY KEY (calendar_id, href)
        ) WITHOUT ROWID;",
        ),
        // Migration 5 (issue 17): the make-up 1on1s cadenced booked, see `bookings.rs`. One row
        // per alert (so at most one make-up per alert, whoever asked), kept after an undo. And
        // the slots the daemon's last cycle proposed per alert (JSON), for alert messages and
        // the dashboard.
        M::up(
            "CREATE TABLE bookings (
            alert_id TEXT PRIMARY KEY,
            report TEXT NOT NULL,
            account TEXT NOT NULL,
            calendar TEXT NOT NULL,
            event_id TEXT NOT NULL,
            title TEXT NOT NULL,
            start_utc TEXT NOT NULL,
            end_utc TEXT NOT NULL,
            how TEXT NOT NULL CHECK (how IN ('manual', 'auto')),
            created_at TEXT NOT NULL,
            undone_at TEXT
        ) WITHOUT ROWID;
        CREATE TABLE proposals (
            alert_id TEXT PRIMARY KEY,
            report TEXT NOT NULL,
            data TEXT NOT NULL,
            computed_at TEXT NOT NULL
        ) WITHOUT ROWID;",
        ),
        // Migration 6 (issue 19): several daemon instances sharing one store, see `leases.rs`.
        // `instances` are the heartbeats; `leases` say which instance syncs which account and
        // when its last sync started; `throttles` pause a quota scope for every instance;
        // `outbox.lease_owner`/`lease_until` fence a delivery attempt to the instance making it.
        M::up(
            "CREATE TABLE instances (
            id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            seen_at TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE leases (
            account TEXT PRIMARY KEY,
            holder TEXT,
            lease_until TEXT,
            synced_at TEXT
        ) WITHOUT ROWID;
        CREATE INDEX leases_holder ON leases (holder);
        CREATE TABLE throttles (
            scope TEXT PRIMARY KEY,
            until TEXT NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
        ALTER TABLE outbox ADD COLUMN lease_until TEXT;",
        ),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
