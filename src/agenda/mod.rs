//! Agenda documents (docs/design.md, Agenda documents and Writing to calendars; issue 8): for every upcoming 1on1 session within
//! `[agenda] lead_time`, make sure its document exists, add the session's dated section once, and
//! link the document into the calendar event once.
//!
//! The planner ([`plan`]) decides from the analysis, the bookkeeping in the store
//! (`store/agendas.rs`) and the documents themselves; [`run`] carries the plan out. Modules:
//! `content.rs` renders a section, `carryover.rs` finds sections and open follow-ups, `local.rs`
//! keeps Markdown files, `documents.rs` keeps cloud documents through a provider's
//! `providers::documents::DocumentHost` (Google Drive, OneDrive), `links.rs` writes and removes
//! the links in events through a provider's `providers::write::EventLinker` (and is
//! `agenda unlink`). The HTTP clients are the providers' own; this module only decides.
//!
//! Invariants:
//! - Idempotent: a session whose section is recorded (or found in the document by its marker)
//!   gets nothing new; an event whose link is recorded gets no request at all. Running twice
//!   creates and writes nothing the second time.
//! - Nothing already in a document changes: a section is inserted above the newest one.
//! - Only events the manager organizes are written; for the others (and for unpublished local
//!   documents, and read-only sources) the link is recorded so that `report` and alerts can show
//!   it, and the cycle goes on.
//! - A link write that keeps meeting concurrent edits gives up for this cycle with a log line;
//!   one failing write never stops the others.

pub mod carryover;
pub mod content;
mod documents;
mod links;
pub mod local;

pub use links::unlink;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cadence::{Analysis, Outcome, Session};
use crate::config::{AccountKind, AgendaMode, Config, DocumentBackend};
use crate::providers::google::drive::{DRIVE_SCOPE, DriveClient};
use crate::providers::microsoft::onedrive::OneDriveClient;
use crate::store::{
    AgendaDocument, AgendaLedger, AgendaLink, AsyncStore, LinkState, Store, StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum AgendaError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Content(#[from] content::ContentError),
    #[error(transparent)]
    Local(#[from] local::LocalError),
    /// A cloud document host's error (Google Drive, OneDrive), in its own words.
    #[error(transparent)]
    Documents(Box<dyn std::error::Error + Send + Sync>),
    #[error(
        "the agenda document {0} kept changing while a section was added; nothing was \
         overwritten, the next run tries again"
    )]
    GaveUp(String),
    #[error("[agenda] store = \"google-drive\" needs a Google account in [[accounts]]")]
    NoDriveAccount,
    #[error("[agenda] store = \"onedrive\" needs a Microsoft account in [[accounts]]")]
    NoOneDriveAccount,
    /// The section-marker key file was refused or unreadable.
    #[error("agenda key: {0}")]
    Key(#[from] crate::statefs::StateFsError),
}

/// What the agenda stage works with.
#[derive(Clone)]
pub struct AgendaContext {
    pub config: Arc<Config>,
    pub state_dir: PathBuf,
    pub store: AsyncStore,
    pub client: reqwest::Client,
}

/// One due session and what to do for it.
#[derive(Debug, Clone, Serialize)]
pub struct PlanItem {
    pub report: String,
    pub report_name: String,
    pub account: String,
    pub calendar: String,
    pub event_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub title: String,
    pub session_key: String,
    pub doc_key: String,
    /// Path relative to the agenda dir.
    pub location: String,
    /// The URL written into calendars, when the document has one.
    pub url: Option<String>,
    pub create_document: bool,
    pub add_section: bool,
    pub link: LinkStep,
}

/// What to do about the calendar link of a session's event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum LinkStep {
    /// Already linked or recorded (or planned by an earlier item of this plan): nothing to do.
    Done,
    /// Write the block into the event (Google).
    Write {
        account: String,
        calendar: String,
        event_id: String,
    },
    /// Record where the agenda is without writing to the event.
    Record {
        account: String,
        calendar: String,
        event_id: String,
        state: &'static str,
    },
}

/// The plan of one run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub items: Vec<PlanItem>,
}

impl Plan {
    /// Does the plan change anything?
    pub fn is_empty(&self) -> bool {
        self.items
            .iter()
            .all(|i| !i.create_document && !i.add_section && i.link == LinkStep::Done)
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgendaOutcome {
    pub due_sessions: usize,
    pub documents_created: usize,
    pub sections_added: usize,
    pub links_written: usize,
    /// Links recorded without writing (not the organizer, read-only source, unpublished).
    pub links_recorded: usize,
    /// Links left for the next cycle after concurrent edits.
    pub links_deferred: usize,
    /// One sentence per failed step (the others still ran).
    pub failures: Vec<String>,
}

/// The upcoming sessions that start within `lead_time` of `now`, per report, oldest first.
pub fn due_sessions(config: &Config, analysis: &Analysis, now: DateTime<Utc>) -> Vec<DueSession> {
    let horizon = now + config.agenda.lead_time.as_chrono();
    let mut out = Vec::new();
    for r in &analysis.reports {
        let mut sessions: Vec<&Session> = r
            .sessions
            .iter()
            .filter(|s| s.outcome == Outcome::Upcoming && s.start >= now && s.start <= horizon)
            .collect();
        sessions.sort_by_key(|s| s.start);
        for s in sessions {
            out.push(DueSession {
                report: r.email.to_lowercase(),
                report_name: r.name.clone(),
                session: s.clone(),
            });
        }
    }
    out
}

/// A session due for its agenda.
#[derive(Debug, Clone)]
pub struct DueSession {
    pub report: String,
    pub report_name: String,
    pub session: Session,
}

fn store_name(s: DocumentBackend) -> &'static str {
    match s {
        DocumentBackend::Local => "local",
        DocumentBackend::GoogleDrive => "google-drive",
        DocumentBackend::OneDrive => "onedrive",
    }
}

fn session_key(s: &Session) -> String {
    format!("{}|{}|{}", s.account, s.calendar, s.event_id)
}

/// The manager's display name (the address when there is none).
pub fn manager_name(config: &Config) -> String {
    config
        .manager
        .name
        .clone()
        .unwrap_or_else(|| config.manager.email.clone())
}

/// The plan for the due sessions, from the bookkeeping and the documents.
pub fn plan(
    config: &Config,
    state_dir: &Path,
    store: &Store,
    due: &[DueSession],
) -> Result<Plan, AgendaError> {
    // Cloud stores: the document's id and link are known once it exists.
    let drive = config.agenda.store != DocumentBackend::Local;
    let dir = config.agenda.dir_in(state_dir);
    let marker_key = carryover::MarkerKey::load_or_create(state_dir)?;
    let mut items: Vec<PlanItem> = Vec::new();
    for d in due {
        let s = &d.session;
        let local_date = s
            .start
            .with_timezone(&config.manager.timezone)
            .format("%Y-%m-%d")
            .to_string();
        let (doc_key, location) = match config.agenda.mode {
            AgendaMode::Series => (
                format!("series:{}", d.report),
                format!("{}.md", local::file_stem(&d.report)),
            ),
            AgendaMode::Session => (
                format!("session:{}:{local_date}", d.report),
                format!("{}/{local_date}.md", local::file_stem(&d.report)),
            ),
        };
        let key = session_key(s);
        let planned_doc = items.iter().any(|i| i.doc_key == doc_key);
        let (location, url, create_document, in_file) = if drive {
            // The Drive document's id and link are known once it exists.
            match store.agenda_document(&doc_key)? {
                Some(d) => (d.location, d.link, false, false),
                None => (String::new(), None, !planned_doc, false),
            }
        } else {
            let url = config
                .agenda
                .link_base
                .as_deref()
                .map(|base| local::join_url(base, &location));
            let path = dir.join(&location);
            let exists = planned_doc || path.exists();
            let trusted = store
                .agenda_document(&doc_key)?
                .is_some()
                .then_some(&marker_key);
            let in_file = exists && !planned_doc && local::has_section(&path, s.start, trusted)?;
            (location, url, !exists, in_file)
        };
        let path = dir.join(&location);
        let add_section = !(in_file || store.agenda_section_written(&key)?);
        let publishable = url.is_some() || drive;
        // The event to link: the series in series mode (once), the occurrence in session mode.
        let target_id = match config.agenda.mode {
            AgendaMode::Series => s.series_id.clone().unwrap_or_else(|| s.event_id.clone()),
            AgendaMode::Session => s.event_id.clone(),
        };
        let already_planned = items.iter().any(|i| {
            matches!(&i.link, LinkStep::Write { account, calendar, event_id }
                | LinkStep::Record { account, calendar, event_id, .. }
                if *account == s.account && *calendar == s.calendar && *event_id == target_id)
        });
        let shown = url
            .clone()
            .unwrap_or_else(|| path.to_string_lossy().into_owned());
        let wanted_state = match (publishable, config.account(&s.account).map(|a| &a.kind)) {
            (false, _) => LinkState::Unpublished,
            (true, Some(AccountKind::Google(_))) => {
                if organized_by_manager(config, store, s, &target_id)? {
                    LinkState::Linked
                } else {
                    LinkState::NotOrganizer
                }
            }
            // Graph can only address stored items: a series master, a single event or an
            // exception (an unmodified occurrence's id here is cadenced's own).
            (true, Some(AccountKind::Microsoft(_))) => {
                if store
                    .stored_event(&s.account, &s.calendar, &target_id)?
                    .is_none()
                {
                    LinkState::NotWritable
                } else if organized_by_manager(config, store, s, &target_id)? {
                    LinkState::Linked
                } else {
                    LinkState::NotOrganizer
                }
            }
            // CalDAV writes a whole resource (the master and its overrides): a series or a
            // single event, not one occurrence.
            (true, Some(AccountKind::Caldav(_))) => {
                match store.stored_event(&s.account, &s.calendar, &target_id)? {
                    Some(e) if !e.is_override() => {
                        if organized_by_manager(config, store, s, &target_id)? {
                            LinkState::Linked
                        } else {
                            LinkState::NotOrganizer
                        }
                    }
                    _ => LinkState::NotWritable,
                }
            }
            (true, _) => LinkState::NotWritable,
        };
        let recorded = store.agenda_link(&s.account, &s.calendar, &target_id)?;
        let done = already_planned
            || recorded
                .as_ref()
                .is_some_and(|r| r.state == wanted_state && r.link == shown);
        let link = if done {
            LinkStep::Done
        } else if wanted_state == LinkState::Linked {
            LinkStep::Write {
                account: s.account.clone(),
                calendar: s.calendar.clone(),
                event_id: target_id,
            }
        } else {
            LinkStep::Record {
                account: s.account.clone(),
                calendar: s.calendar.clone(),
                event_id: target_id,
                state: wanted_state.as_str(),
            }
        };
        items.push(PlanItem {
            report: d.report.clone(),
            report_name: d.report_name.clone(),
            account: s.account.clone(),
            calendar: s.calendar.clone(),
            event_id: s.event_id.clone(),
            start: s.start,
            end: s.end,
            title: s.title.clone(),
            session_key: key,
            doc_key,
            location,
            url,
            create_document,
            add_section,
            link,
        });
    }
    Ok(Plan { items })
}

/// Does the manager organize the event (per the stored copy; the writer checks again live)?
/// An event the store does not know (yet) is assumed to be the manager's: the live check decides.
fn organized_by_manager(
    config: &Config,
    store: &Store,
    s: &Session,
    target_id: &str,
) -> Result<bool, StoreError> {
    let mut event = store.stored_event(&s.account, &s.calendar, target_id)?;
    if event.is_none()
        && let Some(series) = &s.series_id
    {
        event = store.stored_event(&s.account, &s.calendar, series)?;
    }
    Ok(match event.and_then(|e| e.organizer) {
        Some(o) => o.email.eq_ignore_ascii_case(&config.manager.email),
        None => true,
    })
}

/// Plan and (unless `dry_run`) carry out the agendas due at `now`.
pub async fn run(
    cx: &AgendaContext,
    analysis: &Analysis,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<(Plan, AgendaOutcome), AgendaError> {
    let config = Arc::clone(&cx.config);
    let due = due_sessions(&config, analysis, now);
    let n_due = due.len();
    let state_dir = cx.state_dir.clone();
    let plan = {
        let config = Arc::clone(&config);
        cx.store
            .call(move |s| Ok(plan(&config, &state_dir, s, &due)))
            .await??
    };
    let mut outcome = AgendaOutcome {
        due_sessions: n_due,
        ..Default::default()
    };
    if dry_run || plan.is_empty() {
        return Ok((plan, outcome));
    }
    // Documents and sections first (so a link never points at a missing document).
    let mut plan = plan;
    if config.agenda.store == DocumentBackend::OneDrive {
        let (account, ms) = config
            .accounts
            .iter()
            .find_map(|a| match &a.kind {
                AccountKind::Microsoft(m) => Some((a.name.as_str(), m)),
                _ => None,
            })
            .ok_or(AgendaError::NoOneDriveAccount)?;
        let host = OneDriveClient::new(account, ms, &cx.state_dir, cx.client.clone());
        let (created, added) =
            documents::cloud_documents(cx, &host, DocumentBackend::OneDrive, &mut plan, now)
                .await?;
        outcome.documents_created = created;
        outcome.sections_added = added;
    } else if config.agenda.store == DocumentBackend::GoogleDrive {
        let (account, g) = drive_account(&config)?;
        let host = DriveClient::new(
            account,
            g,
            &cx.state_dir,
            cx.client.clone(),
            google_scope(&config),
        );
        let (created, added) =
            documents::cloud_documents(cx, &host, DocumentBackend::GoogleDrive, &mut plan, now)
                .await?;
        outcome.documents_created = created;
        outcome.sections_added = added;
    } else {
        let (config, state_dir, p) = (Arc::clone(&config), cx.state_dir.clone(), plan.clone());
        let (created, added) = cx
            .store
            .call(move |s| Ok(write_documents(&config, &state_dir, s, &p, now)))
            .await??;
        outcome.documents_created = created;
        outcome.sections_added = added;
    }
    // Then the links.
    for item in &plan.items {
        match &item.link {
            LinkStep::Done => {}
            LinkStep::Record {
                account,
                calendar,
                event_id,
                state,
            } => {
                let row = AgendaLink {
                    account: account.clone(),
                    calendar: calendar.clone(),
                    event_id: event_id.clone(),
                    report: item.report.clone(),
                    doc_key: item.doc_key.clone(),
                    link: item.url.clone().unwrap_or_else(|| {
                        config
                            .agenda
                            .dir_in(&cx.state_dir)
                            .join(&item.location)
                            .to_string_lossy()
                            .into_owned()
                    }),
                    state: match *state {
                        "not_organizer" => LinkState::NotOrganizer,
                        "not_writable" => LinkState::NotWritable,
                        _ => LinkState::Unpublished,
                    },
                    etag: None,
                    marker: None,
                };
                cx.store.put_agenda_link(row, now).await?;
                outcome.links_recorded += 1;
            }
            LinkStep::Write {
                account,
                calendar,
                event_id,
            } => match links::write_link(cx, item, account, calendar, event_id, now).await {
                Ok(links::Written::Linked) => outcome.links_written += 1,
                Ok(links::Written::Recorded) => outcome.links_recorded += 1,
                Ok(links::Written::Deferred) => outcome.links_deferred += 1,
                Err(e) => {
                    tracing::warn!(account = %account, event = %event_id, "agenda link not written: {e}");
                    outcome.failures.push(format!(
                        "account {account}, event {event_id}: the agenda link was not written: {e}"
                    ));
                }
            },
        }
    }
    Ok((plan, outcome))
}

/// The Google account whose Drive holds the documents: the first Google account.
fn drive_account(config: &Config) -> Result<(&str, &crate::config::GoogleAccount), AgendaError> {
    config
        .accounts
        .iter()
        .find_map(|a| match &a.kind {
            AccountKind::Google(g) => Some((a.name.as_str(), g)),
            _ => None,
        })
        .ok_or(AgendaError::NoDriveAccount)
}

/// Create the documents and add the sections of the plan (local store); returns (documents
/// created, sections added).
fn write_documents(
    config: &Config,
    state_dir: &Path,
    store: &Store,
    plan: &Plan,
    now: DateTime<Utc>,
) -> Result<(usize, usize), AgendaError> {
    let template = content::Template::load(&config.agenda.template, config.manager.locale)?;
    let marker_key = carryover::MarkerKey::load_or_create(state_dir)?;
    let dir = config.agenda.dir_in(state_dir);
    let manager = content::PersonView {
        name: manager_name(config),
        email: config.manager.email.clone(),
    };
    let (mut created, mut added) = (0, 0);
    for item in &plan.items {
        let path = dir.join(&item.location);
        let trusted = (store.agenda_document(&item.doc_key)?.is_some() || item.create_document)
            .then_some(&marker_key);
        if item.create_document && !path.exists() {
            let title = content::document_title(&item.report_name, &manager.name);
            local::create(&path, &content::new_document(&title))?;
            created += 1;
        }
        store.put_agenda_document(
            &AgendaDocument {
                doc_key: item.doc_key.clone(),
                report: item.report.clone(),
                store: store_name(config.agenda.store).to_string(),
                location: item.location.clone(),
                link: item.url.clone(),
            },
            now,
        )?;
        if !item.add_section {
            continue;
        }
        let doc = local::read(&path)?;
        if !carryover::has_section(&doc, item.start, trusted) {
            // Every document of the report: the living document, or the session files (linked
            // by their file names, which sit in the same directory).
            let docs: Vec<(String, String)> = match config.agenda.mode {
                AgendaMode::Series => vec![(String::new(), doc.clone())],
                AgendaMode::Session => {
                    local::report_documents(&dir.join(local::file_stem(&item.report)))?
                }
            };
            let ctx = section_context(config, item, &docs, &manager);
            let section = content::render_section(&template, item.start, &ctx, &marker_key)?;
            local::insert_section(&path, &doc, &section)?;
            added += 1;
        }
        store.record_agenda_section(
            &item.session_key,
            &item.doc_key,
            &item.report,
            item.start,
            now,
        )?;
    }
    Ok((created, added))
}

/// The template's context for a plan item: the previous section or document, the open
/// follow-ups of the earlier ones, the rotating prompts.
/// `docs` are the report's documents as (link to show for it, text): the living document, or
/// every session document.
fn section_context(
    config: &Config,
    item: &PlanItem,
    docs: &[(String, String)],
    manager: &content::PersonView,
) -> content::SectionContext {
    let zone = config.manager.timezone;
    let locale = config.manager.locale;
    let texts: Vec<&str> = docs.iter().map(|(_, t)| t.as_str()).collect();
    let earlier = carryover::earlier_sections(&texts, item.start, zone);
    let carried = carryover::open_follow_ups(earlier.iter().copied());
    let ordinal = earlier.len();
    let previous = match config.agenda.mode {
        AgendaMode::Series => earlier.last().map(|(date, _)| content::PreviousView {
            label: date.format("%Y-%m-%d").to_string(),
            href: None,
        }),
        AgendaMode::Session => {
            // The latest document with a section before this session.
            docs.iter()
                .filter_map(|(name, text)| {
                    carryover::sections(text)
                        .iter()
                        .filter_map(|s| s.start)
                        .filter(|t| *t < item.start)
                        .max()
                        .map(|t| (t, name.clone()))
                })
                .max()
                .map(|(t, href)| content::PreviousView {
                    label: t.with_timezone(&zone).format("%Y-%m-%d").to_string(),
                    href: Some(href),
                })
        }
    };
    content::SectionContext {
        report: content::PersonView {
            name: item.report_name.clone(),
            email: item.report.clone(),
        },
        manager: manager.clone(),
        session: content::SessionView::new(&item.title, item.start, item.end, zone, locale),
        previous,
        carried,
        prompts: content::prompts(locale, ordinal),
        ordinal,
        locale: locale.as_str(),
    }
}

/// One line per planned change, for `agenda --dry-run` and logs.
pub fn describe(plan: &Plan, zone: chrono_tz::Tz) -> Vec<String> {
    let mut out = Vec::new();
    for i in &plan.items {
        let when = i.start.with_timezone(&zone).format("%Y-%m-%d %H:%M");
        let doc = if i.location.is_empty() {
            "a new cloud document".to_string()
        } else {
            i.location.clone()
        };
        if i.create_document {
            out.push(format!("create document {doc} for {}", i.report));
        }
        if i.add_section {
            out.push(format!("add section for {} ({when}) to {doc}", i.report));
        }
        match &i.link {
            LinkStep::Done => {}
            LinkStep::Write {
                account, event_id, ..
            } => out.push(format!(
                "link {} into event {event_id} (account {account})",
                i.url.as_deref().unwrap_or("the new document")
            )),
            LinkStep::Record {
                account,
                event_id,
                state,
                ..
            } => out.push(format!(
                "record the agenda of event {event_id} (account {account}) without writing to it: {}",
                match *state {
                    "not_organizer" => "the manager does not organize it",
                    "not_writable" => "its calendar is read-only",
                    _ => "the document has no URL (set [agenda] link_base)",
                }
            )),
        }
    }
    out
}

/// The agenda stage of a daemon cycle: `None` when agendas are disabled or there is no analysis;
/// otherwise what the run did, or why it failed, as one sentence. Failures are logged here.
pub async fn cycle_stage(
    config: &Arc<Config>,
    state_dir: &Path,
    store: &AsyncStore,
    client: &reqwest::Client,
    analysis: Option<&Analysis>,
    now: DateTime<Utc>,
) -> Option<Result<AgendaOutcome, String>> {
    let analysis = analysis?;
    if !config.agenda.enabled {
        return None;
    }
    let cx = AgendaContext {
        config: Arc::clone(config),
        state_dir: state_dir.to_path_buf(),
        store: store.clone(),
        client: client.clone(),
    };
    let result = run(&cx, analysis, now, false)
        .await
        .map(|(_, o)| o)
        .map_err(|e| e.to_string());
    match &result {
        Ok(o) => {
            for f in &o.failures {
                tracing::warn!("agenda: {f}");
            }
            tracing::info!(
                due = o.due_sessions,
                created = o.documents_created,
                sections = o.sections_added,
                linked = o.links_written,
                deferred = o.links_deferred,
                "agendas prepared"
            );
        }
        Err(e) => tracing::warn!("agendas not prepared: {e}"),
    }
    Some(result)
}

/// Does the agenda write links into Google events (so the write scope is needed)? Only when
/// agendas are enabled and documents have URLs: the Drive store, or a local store published
/// under `link_base`.
pub fn google_write_enabled(config: &Config) -> bool {
    calendar_write_enabled(config)
}

/// Does the agenda write links into calendar events at all (any provider)?
pub fn calendar_write_enabled(config: &Config) -> bool {
    config.agenda.enabled
        && match config.agenda.store {
            DocumentBackend::GoogleDrive | DocumentBackend::OneDrive => true,
            DocumentBackend::Local => config.agenda.link_base.is_some(),
        }
}

/// The delegated Microsoft scopes for this config: reading; editing events when agendas are
/// linked into them; the user's files for the OneDrive store.
pub fn microsoft_scope(config: &Config) -> &'static str {
    use crate::providers::microsoft::auth::{SCOPE, WRITE_SCOPE};
    if config.agenda.enabled && config.agenda.store == DocumentBackend::OneDrive {
        "offline_access Calendars.ReadWrite Files.ReadWrite User.Read"
    } else if calendar_write_enabled(config) || config.scheduling.booking() {
        WRITE_SCOPE
    } else {
        SCOPE
    }
}

/// The Google scopes to request for this config: reading always; editing events when agendas
/// are linked into them; the app's own Drive files for the Drive store.
pub fn google_scope(config: &Config) -> String {
    let mut s = crate::providers::google::auth::scopes(
        google_write_enabled(config) || config.scheduling.booking(),
    );
    if config.agenda.enabled && config.agenda.store == DocumentBackend::GoogleDrive {
        s.push(' ');
        s.push_str(DRIVE_SCOPE);
    }
    s
}

/// Add `agenda: [{account, event_id, link, state}]` to each report of a `report --json`
/// document that has agenda links (an extra field; reports without any are left as they are).
pub fn annotate_report(doc: &mut serde_json::Value, links: &[AgendaLink]) {
    let Some(reports) = doc.get_mut("reports").and_then(|r| r.as_array_mut()) else {
        return;
    };
    for r in reports {
        let email = r["email"].as_str().unwrap_or("").to_lowercase();
        let mine: Vec<serde_json::Value> = links
            .iter()
            .filter(|l| l.report == email)
            .map(|l| {
                serde_json::json!({
                    "account": l.account,
                    "event_id": l.event_id,
                    "link": l.link,
                    "state": l.state.as_str(),
                })
            })
            .collect();
        if !mine.is_empty() {
            r["agenda"] = serde_json::Value::Array(mine);
        }
    }
}

/// The agenda lines under the text report (empty when there are no agendas).
pub fn describe_links(links: &[AgendaLink], locale: crate::config::Locale) -> String {
    if links.is_empty() {
        return String::new();
    }
    let ja = locale == crate::config::Locale::Ja;
    let mut out = String::from(if ja {
        "\nアジェンダ:\n"
    } else {
        "\nAgendas:\n"
    });
    for l in links {
        let how = match (l.state, ja) {
            (LinkState::Linked, false) => "linked into the invite",
            (LinkState::NotOrganizer, false) => "not in the invite (someone else organizes it)",
            (LinkState::NotWritable, false) => "not in the invite (read-only calendar)",
            (LinkState::Unpublished, false) => "not in the invite (no link_base)",
            (LinkState::Linked, true) => "招待にリンク済み",
            (LinkState::NotOrganizer, true) => "招待には未記載（主催者が別の人）",
            (LinkState::NotWritable, true) => "招待には未記載（読み取り専用のカレンダー）",
            (LinkState::Unpublished, true) => "招待には未記載（link_base が未設定）",
        };
        out.push_str(&format!("  {}: {} — {how}\n", l.report, l.link));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(agenda: &str) -> Config {
        let text = format!(
            "[manager]\nemail = \"mika@example.com\"\n\n[[accounts]]\nname = \"work\"\nprovider = \"google\"\nclient_id = \"x\"\n\n\
             [[accounts]]\nname = \"m365\"\nprovider = \"microsoft\"\nclient_id = \"y\"\n\n[agenda]\n{agenda}"
        );
        crate::config::parse(&text, Path::new("/tmp/config.toml")).unwrap()
    }

    #[test]
    fn write_scopes_are_requested_only_when_agendas_are_linked() {
        let read = crate::providers::google::auth::SCOPE;
        assert_eq!(google_scope(&config("")), read);
        assert_eq!(google_scope(&config("link_base = \"\"\n")), read);
        assert_eq!(
            google_scope(&config(
                "enabled = false\nlink_base = \"https://x.example/\"\n"
            )),
            read
        );
        assert_eq!(
            google_scope(&config("link_base = \"https://x.example/\"\n")),
            format!("{read} https://www.googleapis.com/auth/calendar.events")
        );
        assert!(google_scope(&config("store = \"google-drive\"\n")).ends_with("/auth/drive.file"));
        use crate::providers::microsoft::auth::{SCOPE, WRITE_SCOPE};
        assert_eq!(microsoft_scope(&config("")), SCOPE);
        assert_eq!(
            microsoft_scope(&config("link_base = \"https://x.example/\"\n")),
            WRITE_SCOPE
        );
        assert!(microsoft_scope(&config("store = \"onedrive\"\n")).contains("Files.ReadWrite"));
        // Booking make-ups (issue 17) needs the edit permission too; proposing does not.
        let booking = "enabled = false\n\n[scheduling]\nbook = true\n";
        assert_eq!(
            google_scope(&config(booking)),
            format!("{read} https://www.googleapis.com/auth/calendar.events")
        );
        assert_eq!(microsoft_scope(&config(booking)), WRITE_SCOPE);
        assert_eq!(
            google_scope(&config("enabled = false\n\n[scheduling]\nenabled = true\n")),
            read
        );
    }
}
