//! Agenda links in calendar events: the links a plan writes, and `agenda unlink`, both through
//! the providers' linkers (`providers::write`: one per account, picked by its kind). What the
//! agenda decides stays here: which link to write, what the ledger records, what a person reads.

use chrono::{DateTime, Utc};

use super::{AgendaContext, AgendaError, PlanItem, content, manager_name};
use crate::config::{AccountKind, DocumentBackend};
use crate::providers::write::{
    self, EventLinker, EventRef, LinkOutcome, LinkSettings, MAX_ATTEMPTS, UNKNOWN_RESOURCE,
    UnlinkOutcome,
};
use crate::store::{AgendaLedger, AgendaLink, EventStore, LinkState};

/// What writing one link did.
pub(super) enum Written {
    Linked,
    Recorded,
    Deferred,
}

/// How the links of this config are written.
fn settings(cx: &AgendaContext) -> LinkSettings<'_> {
    LinkSettings {
        state_dir: &cx.state_dir,
        client: &cx.client,
        manager: &cx.config.manager.email,
        attach: cx.config.agenda.store == DocumentBackend::GoogleDrive,
        in_body: cx.config.agenda.notify_attendees,
    }
}

/// The resource holding the event, for an account that addresses events by resource (CalDAV);
/// `None` for the others.
async fn resource_of(
    cx: &AgendaContext,
    kind: &AccountKind,
    account: &str,
    calendar: &str,
    event_id: &str,
) -> Result<Option<reqwest::Url>, String> {
    if !write::resource_keyed(kind) {
        return Ok(None);
    }
    let (a, c, e) = (
        account.to_string(),
        calendar.to_string(),
        event_id.to_string(),
    );
    let found = cx
        .store
        .caldav_resource_location(&a, &c, &e)
        .await
        .map_err(|e| e.to_string())?;
    let (collection, href) = found.ok_or_else(|| UNKNOWN_RESOURCE.to_string())?;
    reqwest::Url::parse(&collection)
        .and_then(|u| u.join(&href))
        .map(Some)
        .map_err(|e| format!("the stored calendar address: {e}"))
}

/// Write the link of `item` into the event and record it.
pub(super) async fn write_link(
    cx: &AgendaContext,
    item: &PlanItem,
    account: &str,
    calendar: &str,
    event_id: &str,
    now: DateTime<Utc>,
) -> Result<Written, String> {
    let config = &cx.config;
    let Some(url) = &item.url else {
        return Err("the document has no URL".into());
    };
    let title = content::document_title(&item.report_name, &manager_name(config));
    let not_writable = || "the account's calendar cannot be written".to_string();
    let kind = &config.account(account).ok_or_else(not_writable)?.kind;
    let resource = resource_of(cx, kind, account, calendar, event_id).await?;
    let linker = write::linker(account, kind, &settings(cx))
        .ok_or_else(not_writable)?
        .map_err(|e| e.to_string())?;
    let event = EventRef {
        calendar,
        event_id,
        resource: resource.as_ref(),
    };
    let outcome = linker
        .link(&event, &title, url)
        .await
        .map_err(|e| e.to_string())?;
    let (state, etag, result) = match outcome {
        LinkOutcome::Linked { etag } => (LinkState::Linked, etag, Written::Linked),
        LinkOutcome::AlreadyLinked { etag } => (LinkState::Linked, etag, Written::Recorded),
        LinkOutcome::NotOrganizer => (LinkState::NotOrganizer, None, Written::Recorded),
        LinkOutcome::GaveUp => {
            tracing::warn!(
                account,
                event = event_id,
                attempts = MAX_ATTEMPTS,
                "gave up adding the agenda link: the event kept changing while it was written; \
                 nothing was overwritten, the next cycle tries again"
            );
            return Ok(Written::Deferred);
        }
    };
    let row = AgendaLink {
        account: account.to_string(),
        calendar: calendar.to_string(),
        event_id: event_id.to_string(),
        report: item.report.clone(),
        doc_key: item.doc_key.clone(),
        link: url.clone(),
        state,
        etag,
        marker: (state == LinkState::Linked).then(|| linker.mark().to_string()),
    };
    cx.store
        .put_agenda_link(row, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(result)
}

/// What `agenda unlink` did.
#[derive(Debug, Clone, Default)]
pub struct Unlinked {
    /// Events whose block and mark were removed.
    pub removed: usize,
    /// One sentence per event left as it was (the others still ran).
    pub failures: Vec<String>,
}

/// `agenda unlink`: remove exactly what cadenced added to events (the block and the mark) and
/// forget each link removed (or found gone). `say` gets one line per event as it goes; with
/// `dry_run`, what would be removed, and nothing is sent.
pub async fn unlink(
    cx: &AgendaContext,
    dry_run: bool,
    mut say: impl FnMut(&str),
) -> Result<Unlinked, AgendaError> {
    let config = &cx.config;
    let links = cx.store.agenda_links().await?;
    let mut done = Unlinked::default();
    for l in links.into_iter().filter(|l| l.state == LinkState::Linked) {
        if dry_run {
            say(&format!(
                "would remove the agenda link from event {} (account {})",
                l.event_id, l.account
            ));
            continue;
        }
        let kind = config.account(&l.account).map(|a| &a.kind);
        let linker = kind.filter(|k| write::writable(k));
        let Some(kind) = linker else {
            done.failures.push(format!(
                "account {}: no longer a Google, Microsoft or CalDAV account in the config; event {} left as is",
                l.account, l.event_id
            ));
            continue;
        };
        let result = async {
            let resource = resource_of(cx, kind, &l.account, &l.calendar, &l.event_id).await?;
            let linker = write::linker(&l.account, kind, &settings(cx))
                .ok_or_else(|| "the account's calendar cannot be written".to_string())?
                .map_err(|e| e.to_string())?;
            let event = EventRef {
                calendar: &l.calendar,
                event_id: &l.event_id,
                resource: resource.as_ref(),
            };
            linker.unlink(&event).await.map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(UnlinkOutcome::GaveUp) => done.failures.push(format!(
                "account {}, event {}: the event kept changing; nothing was removed, try again",
                l.account, l.event_id
            )),
            Ok(o) => {
                if o == UnlinkOutcome::Removed {
                    done.removed += 1;
                    say(&format!(
                        "removed the agenda link from event {} (account {})",
                        l.event_id, l.account
                    ));
                }
                let (a, c, e) = (l.account.clone(), l.calendar.clone(), l.event_id.clone());
                cx.store.delete_agenda_link(&a, &c, &e).await?;
            }
            Err(e) => done.failures.push(format!("account {}: {e}", l.account)),
        }
    }
    Ok(done)
}
