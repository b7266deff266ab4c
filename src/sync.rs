//! One sync pass: bring the store up to date with each account's source.
//!
//! Invariants: a source is fully read and parsed before anything is written; the write (events
//! plus cursor) is one transaction; a failing account is reported and recorded, and never stops
//! the other accounts.

use chrono::{DateTime, Utc};
use reqwest::Client;

use std::path::Path;

use crate::config::{
    AccountKind, CaldavAccount, Config, GoogleAccount, IcsSource, MicrosoftAccount,
};
use crate::providers::caldav;
use crate::providers::directory;
use crate::providers::google::auth::{AuthError, Authenticator, Clock};
use crate::providers::google::directory as gdirectory;
use crate::providers::google::sync as gsync;
use crate::providers::ics::{self, FeedSource, IcsError, fetch::Fetched, fetch::Validators};
use crate::providers::microsoft::auth as msauth;
use crate::providers::microsoft::sync as mssync;
use crate::store::{AccountSink, AsyncStore, EventStore, StoreError, SyncOutcome};

/// What to sync for one account.
#[derive(Debug, Clone)]
pub struct SyncTarget {
    pub account: String,
    pub source: SourceKind,
}

#[derive(Debug, Clone)]
pub enum SourceKind {
    Ics(FeedSource),
    Google(GoogleSource),
    Microsoft(MicrosoftSource),
    Caldav(CaldavAccount),
}

/// A Microsoft 365 account to sync: its config, its token file's directory, and the window.
#[derive(Debug, Clone)]
pub struct MicrosoftSource {
    pub microsoft: MicrosoftAccount,
    pub state_dir: std::path::PathBuf,
    /// How far back and ahead of now the delta window reaches (`[sync] past`/`future`).
    pub past: chrono::Duration,
    pub future: chrono::Duration,
    /// How far the window may drift before a new full round re-baselines it (`[sync] rebaseline`).
    pub rebaseline: chrono::Duration,
}

/// A Google account to sync: its config, and where its token file lives.
#[derive(Debug, Clone)]
pub struct GoogleSource {
    pub google: GoogleAccount,
    pub state_dir: std::path::PathBuf,
}

impl SourceKind {
    pub fn provider(&self) -> &'static str {
        match self {
            SourceKind::Ics(_) => "ics",
            SourceKind::Google(_) => "google",
            SourceKind::Microsoft(_) => "microsoft",
            SourceKind::Caldav(_) => "caldav",
        }
    }
}

/// The sync targets of the config, one per account, in the config's order.
pub fn targets(config: &Config, state_dir: &Path) -> Vec<SyncTarget> {
    let mut out = Vec::new();
    for account in config.accounts.iter() {
        let source = match &account.kind {
            AccountKind::Ics(ics) => SourceKind::Ics(match &ics.source {
                IcsSource::Path(p) => FeedSource::Path(p.clone()),
                IcsSource::Url(u) => FeedSource::Url(u.expose().to_string()),
            }),
            AccountKind::Google(g) => SourceKind::Google(GoogleSource {
                google: g.clone(),
                state_dir: state_dir.to_path_buf(),
            }),
            AccountKind::Microsoft(m) => SourceKind::Microsoft(MicrosoftSource {
                microsoft: m.clone(),
                state_dir: state_dir.to_path_buf(),
                past: config.sync.past.as_chrono(),
                future: config.sync.future.as_chrono(),
                rebaseline: config.sync.rebaseline.as_chrono(),
            }),
            AccountKind::Caldav(c) => SourceKind::Caldav(c.clone()),
        };
        out.push(SyncTarget {
            account: account.name.clone(),
            source,
        });
    }
    out
}

/// The result of syncing one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSummary {
    /// Events stored for the account after the sync.
    pub events: usize,
    /// Malformed items that were logged and skipped.
    pub skipped: usize,
    /// The source had not changed (an HTTP 304, or incremental passes without a changed item);
    /// no event was written (a provider's new sync cursor may have been).
    pub unchanged: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("account {account}: {source}")]
    Fetch {
        account: String,
        source: ics::fetch::FetchError,
    },
    #[error("account {account}: {source}")]
    Parse { account: String, source: IcsError },
    #[error("account {account}: {source}")]
    Store { account: String, source: StoreError },
    /// Authorization failed (the message names the account and, if needed, `cadenced auth`).
    #[error("{source}")]
    Auth { account: String, source: AuthError },
    /// Microsoft authorization failed (the message names `cadenced auth`).
    #[error("{source}")]
    MicrosoftAuth {
        account: String,
        source: msauth::AuthError,
    },
    /// A CalDAV account could not start (password, address, discovery) or its server refused
    /// the credentials (the message names `cadenced auth`).
    #[error("account {account}: {source}")]
    Caldav {
        account: String,
        source: caldav::CaldavError,
    },
    /// Some calendars of the account failed (the others were synced).
    #[error("account {account}: {}", failures.join("; "))]
    Calendars {
        account: String,
        failures: Vec<String>,
    },
}

/// Sync one account into the store. `full` drops the cursor first.
pub async fn sync_account(
    store: &AsyncStore,
    client: &Client,
    target: &SyncTarget,
    full: bool,
    now: DateTime<Utc>,
) -> Result<SyncSummary, SyncError> {
    // The attempt is on record before it starts: one that never finishes (killed, a crash)
    // shows as such in `status`, not as the previous outcome.
    let provider = target.source.provider();
    let started = store
        .record_sync_start(&target.account, provider, now)
        .await;
    if let Err(e) = started {
        tracing::warn!(account = %target.account, error = %e, "cannot record the sync start");
    }
    let result = match &target.source {
        SourceKind::Ics(feed) => sync_ics(store, client, &target.account, feed, full).await,
        SourceKind::Google(g) => {
            sync_google(
                store,
                client,
                &target.account,
                g,
                full,
                now,
                crate::providers::google::auth::system_clock(),
            )
            .await
        }
        SourceKind::Microsoft(m) => {
            sync_microsoft(
                store,
                client,
                &target.account,
                m,
                full,
                now,
                msauth::system_clock(),
            )
            .await
        }
        SourceKind::Caldav(c) => sync_caldav(store, &target.account, c, full, now).await,
    };
    let outcome = SyncOutcome {
        at: now,
        ok: result.is_ok(),
        error: result.as_ref().err().map(ToString::to_string),
        changed: result.as_ref().is_ok_and(|s| !s.unchanged),
    };
    let recorded = store
        .record_sync_outcome(&target.account, provider, outcome)
        .await;
    if let Err(e) = recorded {
        tracing::warn!(account = %target.account, error = %e, "cannot record the sync outcome");
    }
    result
}

/// The bookkeeping before an OAuth account's pass: its row, its cursors dropped for a full
/// sync, calendars no longer configured forgotten; returns its id and whether it needs `auth`.
async fn prepare_oauth_account(
    store: &AsyncStore,
    account: &str,
    provider: &'static str,
    calendars: &[String],
    full: bool,
) -> Result<(i64, bool), SyncError> {
    store
        .open_account(account, provider, full, Some(calendars.to_vec()))
        .await
        .map_err(|source| SyncError::Store {
            account: account.to_string(),
            source,
        })
}

/// Sync every configured calendar of a Google account; a failing calendar does not stop the
/// others. A revoked refresh token marks the account (`needs_auth`) and is reported without
/// further requests until `cadenced auth` clears the mark.
pub async fn sync_google(
    store: &AsyncStore,
    client: &Client,
    account: &str,
    source: &GoogleSource,
    full: bool,
    now: DateTime<Utc>,
    clock: Clock,
) -> Result<SyncSummary, SyncError> {
    let (account_id, needs_auth) =
        prepare_oauth_account(store, account, "google", &source.google.calendars, full).await?;
    if needs_auth {
        return Err(SyncError::Auth {
            account: account.to_string(),
            source: AuthError::NeedsAuth {
                account: account.to_string(),
            },
        });
    }
    let mut auth = Authenticator::new(
        account,
        &source.google,
        &source.state_dir,
        client.clone(),
        clock,
    );
    if source.google.directory {
        auth = auth.with_scope(format!(
            "{} {}",
            crate::providers::google::auth::SCOPE,
            gdirectory::DIRECTORY_SCOPE
        ));
    }
    let sink = AccountSink::new(store, account_id);
    let mut failures = Vec::new();
    let mut skipped = 0;
    // Whether any calendar's pass wrote something (an idle poll writes nothing).
    let mut changed = false;
    for calendar in &source.google.calendars {
        match gsync::sync_calendar(&sink, client, &auth, &source.google, calendar, full).await {
            Ok(s) => {
                skipped += s.skipped;
                changed |= s.full || s.upserts + s.deletions > 0;
                tracing::info!(
                    account,
                    calendar,
                    full = s.full,
                    pages = s.pages,
                    upserts = s.upserts,
                    deletions = s.deletions,
                    "calendar synced"
                );
            }
            Err(gsync::CalendarError::Auth(e)) => {
                if matches!(e, AuthError::NeedsAuth { .. }) {
                    mark_needs_auth(store, account, account_id).await;
                }
                // The same credentials serve every calendar: stop here.
                return Err(SyncError::Auth {
                    account: account.to_string(),
                    source: e,
                });
            }
            Err(e) => failures.push(format!("calendar {calendar}: {e}")),
        }
    }
    // Validation allows `directory` only in org mode, where the subject is the manager.
    if let crate::config::GoogleAuth::ServiceAccount { subject, .. } = &source.google.auth
        && source.google.directory
        && (full || directory::due(&source.state_dir, account, now))
    {
        match gdirectory::direct_reports(client, &auth, &source.google, subject).await {
            Ok(people) => match directory::save(&source.state_dir, account, &people, now) {
                // The roster may have changed: the daemon analyses again.
                Ok(()) => changed = true,
                Err(e) => failures.push(format!("direct reports could not be stored: {e}")),
            },
            Err(e) => failures.push(format!("direct reports: {e}")),
        }
    }
    summarize(store, account, account_id, failures, skipped, changed).await
}

/// Sync a Microsoft 365 account (its primary calendar); as for Google, a revoked refresh token
/// marks the account (`needs_auth`) and later syncs skip it until `cadenced auth` clears the mark.
pub async fn sync_microsoft(
    store: &AsyncStore,
    client: &Client,
    account: &str,
    source: &MicrosoftSource,
    full: bool,
    now: DateTime<Utc>,
    clock: msauth::Clock,
) -> Result<SyncSummary, SyncError> {
    let (account_id, needs_auth) = prepare_oauth_account(
        store,
        account,
        "microsoft",
        &source.microsoft.calendars,
        full,
    )
    .await?;
    if needs_auth {
        return Err(SyncError::MicrosoftAuth {
            account: account.to_string(),
            source: msauth::AuthError::NeedsAuth {
                account: account.to_string(),
                code: "marked by an earlier sync".to_string(),
            },
        });
    }
    let auth = msauth::Authenticator::new(
        account,
        &source.microsoft,
        &source.state_dir,
        client.clone(),
        clock,
    );
    let window = mssync::Window {
        start: now - source.past,
        end: now + source.future,
        rebaseline: source.rebaseline,
    };
    let sink = AccountSink::new(store, account_id);
    let mut failures = Vec::new();
    let mut skipped = 0;
    // Whether any calendar's pass wrote something (an idle poll writes nothing).
    let mut changed = false;
    for calendar in &source.microsoft.calendars {
        match mssync::sync_calendar(
            &sink,
            client,
            &auth,
            &source.microsoft,
            calendar,
            &window,
            full,
        )
        .await
        {
            Ok(s) => {
                skipped += s.skipped;
                changed |= s.full || s.upserts + s.deletions > 0;
                tracing::info!(
                    account,
                    calendar,
                    full = s.full,
                    pages = s.pages,
                    upserts = s.upserts,
                    deletions = s.deletions,
                    masters = s.masters_fetched,
                    "calendar synced"
                );
            }
            Err(mssync::MsSyncError::Auth(e)) => {
                if matches!(e, msauth::AuthError::NeedsAuth { .. }) {
                    mark_needs_auth(store, account, account_id).await;
                }
                return Err(SyncError::MicrosoftAuth {
                    account: account.to_string(),
                    source: e,
                });
            }
            Err(e) => failures.push(format!("calendar {calendar}: {e}")),
        }
    }
    if source.microsoft.directory && (full || directory::due(&source.state_dir, account, now)) {
        match mssync::direct_reports(client, &auth, &source.microsoft).await {
            Ok(people) => {
                match directory::save(&source.state_dir, account, &people, now) {
                    // The roster may have changed: the daemon analyses again.
                    Ok(()) => changed = true,
                    Err(e) => failures.push(format!("direct reports could not be stored: {e}")),
                }
            }
            Err(e) => failures.push(format!("direct reports: {e}")),
        }
    }
    summarize(store, account, account_id, failures, skipped, changed).await
}

/// Sync every calendar of a CalDAV account; a failing calendar does not stop the others. A 401
/// marks the account (`needs_auth`) and later passes send nothing until `cadenced auth` has
/// checked the credentials again (no retry storm against a wrong password).
pub async fn sync_caldav(
    store: &AsyncStore,
    account: &str,
    acc: &CaldavAccount,
    full: bool,
    now: DateTime<Utc>,
) -> Result<SyncSummary, SyncError> {
    let fail = |source: caldav::CaldavError| SyncError::Caldav {
        account: account.to_string(),
        source,
    };
    let (account_id, needs_auth) = store
        .open_account(account, "caldav", full, None)
        .await
        .map_err(|source| SyncError::Store {
            account: account.to_string(),
            source,
        })?;
    if needs_auth {
        return Err(SyncError::Caldav {
            account: account.to_string(),
            source: caldav::CaldavError::NeedsAuth {
                account: account.to_string(),
            },
        });
    }
    let (dav, start) = caldav::session(account, acc).map_err(fail)?;
    let sink = AccountSink::new(store, account_id);
    let (calendars, missing) = match caldav::calendars(&sink, &dav, &start, acc, full, now).await {
        Ok(c) => c,
        Err(e) => {
            if e.is_unauthorized() {
                mark_needs_auth(store, account, account_id).await;
            }
            return Err(fail(e));
        }
    };
    let mut failures: Vec<String> = missing
        .iter()
        .map(|m| format!("calendar {m:?}: not found on the server (calendars = [...] lists display names or paths)"))
        .collect();
    let mut skipped = 0;
    let mut changed = false;
    for (cal_id, cursor) in &calendars {
        match caldav::sync::sync_calendar(&sink, &dav, *cal_id, cursor, full).await {
            Ok(s) => {
                skipped += s.skipped;
                changed |= s.wrote && (s.full || s.fetched + s.deletions > 0);
                tracing::info!(
                    account,
                    calendar = %cursor.name,
                    full = s.full,
                    fetched = s.fetched,
                    deletions = s.deletions,
                    "calendar synced"
                );
            }
            Err(caldav::sync::CalendarError::Dav(
                e @ caldav::dav::DavError::Unauthorized { .. },
            )) => {
                mark_needs_auth(store, account, account_id).await;
                return Err(fail(caldav::CaldavError::Discover(e.into())));
            }
            Err(e) => {
                if let caldav::sync::CalendarError::Server {
                    status: 404 | 410, ..
                } = e
                {
                    // The calendar went away: the next pass discovers the account again.
                    let id = *cal_id;
                    let _ = store.clear_cursor(id).await;
                }
                failures.push(format!("calendar {}: {e}", cursor.name));
            }
        }
    }
    summarize(store, account, account_id, failures, skipped, changed).await
}

/// Record that an account's authorization was revoked (later syncs skip it until `auth`).
async fn mark_needs_auth(store: &AsyncStore, account: &str, account_id: i64) {
    let marked = store.set_needs_auth(account_id, true).await;
    if let Err(err) = marked {
        tracing::warn!(account, "cannot mark the account: {err}");
    }
}

/// The end of an OAuth provider's pass: the failed calendars, or the account's stored count.
async fn summarize(
    store: &AsyncStore,
    account: &str,
    account_id: i64,
    failures: Vec<String>,
    skipped: usize,
    changed: bool,
) -> Result<SyncSummary, SyncError> {
    if !failures.is_empty() {
        return Err(SyncError::Calendars {
            account: account.to_string(),
            failures,
        });
    }
    let events = store
        .account_event_count(account_id)
        .await
        .map_err(|source| SyncError::Store {
            account: account.to_string(),
            source,
        })?;
    Ok(SyncSummary {
        events,
        skipped,
        unchanged: !changed,
    })
}

async fn sync_ics(
    store: &AsyncStore,
    client: &Client,
    account: &str,
    feed: &FeedSource,
    full: bool,
) -> Result<SyncSummary, SyncError> {
    let store_err = |source| SyncError::Store {
        account: account.to_string(),
        source,
    };
    let calendar = feed.calendar_name();
    let (account_id, previous) = store
        .open_feed(account, "ics", &calendar, full)
        .await
        .map_err(store_err)?;
    // The cursor holds the HTTP validators and a hash of the last content read, so that a feed
    // read again with the same content (a file, or a server without validators) is unchanged.
    let previous_hash = previous
        .as_deref()
        .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
        .and_then(|v| {
            v.get("content")
                .and_then(|h| h.as_str())
                .map(str::to_string)
        });
    let previous: Option<Validators> = previous.and_then(|c| serde_json::from_str(&c).ok());

    let fetched = ics::fetch::fetch(feed, previous.as_ref(), client)
        .await
        .map_err(|source| SyncError::Fetch {
            account: account.to_string(),
            source,
        })?;
    let (bytes, validators) = match fetched {
        Fetched::Unchanged => {
            let count = store
                .account_event_count(account_id)
                .await
                .map_err(store_err)?;
            tracing::info!(account, "feed unchanged (304)");
            return Ok(SyncSummary {
                events: count,
                skipped: 0,
                unchanged: true,
            });
        }
        Fetched::Body { bytes, validators } => (bytes, validators),
    };
    let hash = content_hash(&bytes);
    if previous_hash.as_deref() == Some(hash.as_str()) {
        let count = store
            .account_event_count(account_id)
            .await
            .map_err(store_err)?;
        tracing::info!(account, "feed unchanged (same content)");
        return Ok(SyncSummary {
            events: count,
            skipped: 0,
            unchanged: true,
        });
    }

    let display = feed.display();
    let cal = calendar.clone();
    let parsed = tokio::task::spawn_blocking(move || ics::parse_feed(&bytes, &display, &cal))
        .await
        .map_err(|_| store_err(StoreError::Worker))?
        .map_err(|source| SyncError::Parse {
            account: account.to_string(),
            source,
        })?;
    for item in parsed.skipped.iter().take(crate::limits::MAX_WARNINGS) {
        tracing::warn!(
            account,
            source = %feed.display(),
            line = item.line,
            uid = item.uid.as_deref().unwrap_or("-"),
            "skipped a malformed event: {}",
            item.reason
        );
    }
    if let Some(unshown) = parsed
        .skipped
        .len()
        .checked_sub(crate::limits::MAX_WARNINGS)
        .filter(|n| *n > 0)
    {
        tracing::warn!(
            account,
            source = %feed.display(),
            "{unshown} more malformed events skipped and not listed (at most {} are listed per feed)",
            crate::limits::MAX_WARNINGS
        );
    }
    let cursor = {
        let mut v = validators
            .and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        v["content"] = serde_json::Value::String(hash);
        Some(v.to_string())
    };
    let events = parsed.events;
    let count = events.len();
    store
        .replace_account_events(account_id, calendar, events, cursor)
        .await
        .map_err(store_err)?;
    Ok(SyncSummary {
        events: count,
        skipped: parsed.skipped.len(),
        unchanged: false,
    })
}

/// A stable hash of a feed's content (64-bit FNV-1a, hex): equal content, equal hash.
fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}
#[cfg(test)]
mod tests_google;
