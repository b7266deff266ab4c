//! The schema, as an append-only list of migrations (never edit a released one; add a new one).

use rusqlite_migration::{M, Migrations};

pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
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
            UNIQUE (calendar_id, event_id)
        );
        CREATE INDEX events_series ON events (calendar_id, series_id);
        CREATE TABLE sync_cursors (
            calendar_id INTEGER PRIMARY KEY REFERENCES calendars(id) ON DELETE CASCADE,
            cursor TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );",
    )])
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        assert!(super::migrations().validate().is_ok());
    }
}
