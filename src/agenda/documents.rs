//! Agenda documents in the cloud (`[agenda] store = "google-drive"` or `"onedrive"`), through a
//! provider's document host (`providers::documents`): find or create (and share) each document,
//! then add the sections. What a section says, whether the document has it already and how often
//! to try again are decided here; the host only reads and writes, conditionally on the version.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{
    AgendaContext, AgendaError, Plan, carryover, content, local, manager_name, section_context,
    store_name,
};
use crate::config::{AgendaMode, DocumentBackend};
use crate::providers::documents::{Document, DocumentHost, DocumentSpec};
use crate::store::{AgendaDocument, AgendaLedger};

/// Attempts at adding one section (the first included) before giving up for this run.
pub const MAX_ATTEMPTS: u32 = 3;

fn host_error(e: impl std::error::Error + Send + Sync + 'static) -> AgendaError {
    AgendaError::Documents(Box::new(e))
}

/// The documents and sections of the plan, kept by `host` (the `backend` store); fills in the
/// items' document ids and links. Returns (documents created, sections added).
pub(super) async fn cloud_documents<H: DocumentHost>(
    cx: &AgendaContext,
    host: &H,
    backend: DocumentBackend,
    plan: &mut Plan,
    now: DateTime<Utc>,
) -> Result<(usize, usize), AgendaError> {
    let config = Arc::clone(&cx.config);
    let template = content::Template::load(&config.agenda.template, config.manager.locale)?;
    let marker_key = carryover::MarkerKey::load_or_create(&cx.state_dir)?;
    let manager = content::PersonView {
        name: manager_name(&config),
        email: config.manager.email.clone(),
    };
    let (mut created, mut added) = (0, 0);
    for i in 0..plan.items.len() {
        let item = plan.items[i].clone();
        let key = item.doc_key.clone();
        let known = cx.store.agenda_document(&key).await?;
        // A document the state directory knows must carry our tag for a section to count; one
        // found again after the state was lost is trusted on its markers alone.
        let trusted = known.is_some().then_some(&marker_key);
        let (id, link) = match known.and_then(|d| Some((d.location, d.link?))) {
            Some(x) => x,
            None => {
                let stem = local::file_stem(&item.report);
                let date = item
                    .start
                    .with_timezone(&config.manager.timezone)
                    .format("%Y-%m-%d")
                    .to_string();
                let spec = DocumentSpec {
                    key: &item.doc_key,
                    stem: &stem,
                    date: (config.agenda.mode == AgendaMode::Session).then_some(date.as_str()),
                };
                let doc: Document = match host.find(&spec).await.map_err(host_error)? {
                    Some(d) => d,
                    None => {
                        let title = content::document_title(&item.report_name, &manager.name);
                        let title = host.title(&title, &spec);
                        created += 1;
                        host.create(&spec, &title, &content::new_document(&title))
                            .await
                            .map_err(host_error)?
                    }
                };
                // Shared before it is recorded, so that a failed share is retried next time.
                let link = host.share(&doc, &item.report).await.map_err(host_error)?;
                let row = AgendaDocument {
                    doc_key: item.doc_key.clone(),
                    report: item.report.clone(),
                    store: store_name(backend).to_string(),
                    location: doc.id.clone(),
                    link: Some(link.clone()),
                };
                cx.store.put_agenda_document(row, now).await?;
                (doc.id, link)
            }
        };
        for it in plan
            .items
            .iter_mut()
            .filter(|it| it.doc_key == item.doc_key)
        {
            it.location = id.clone();
            it.url = Some(link.clone());
        }
        if !item.add_section {
            continue;
        }
        // The report's earlier session documents (session mode), as (link, text).
        let mut others: Vec<(String, String)> = Vec::new();
        if config.agenda.mode == AgendaMode::Session {
            let report = item.report.clone();
            let docs = cx.store.agenda_documents_of(&report).await?;
            for d in docs.into_iter().filter(|d| d.location != id) {
                let text = host.text(&d.location).await.map_err(host_error)?;
                others.push((d.link.unwrap_or_default(), text));
            }
        }
        let mut render = |current: &str| -> Result<String, AgendaError> {
            let mut docs = others.clone();
            docs.push((link.clone(), current.to_string()));
            let ctx = section_context(&config, &item, &docs, &manager);
            Ok(content::render_section(
                &template,
                item.start,
                &ctx,
                &marker_key,
            )?)
        };
        if add_section(host, &id, item.start, trusted, &mut render).await? {
            added += 1;
        }
        let (k, d, r, st) = (
            item.session_key.clone(),
            item.doc_key.clone(),
            item.report.clone(),
            item.start,
        );
        cx.store.record_agenda_section(&k, &d, &r, st, now).await?;
    }
    Ok((created, added))
}

/// Insert the session's section above the newest one unless the document has it already;
/// `render` makes the section from the document's current text. Each attempt is conditional on
/// the version read; a document that keeps changing gives up after [`MAX_ATTEMPTS`]. Returns
/// whether a section was inserted.
async fn add_section<H: DocumentHost>(
    host: &H,
    id: &str,
    start: DateTime<Utc>,
    key: Option<&carryover::MarkerKey>,
    render: &mut (dyn FnMut(&str) -> Result<String, AgendaError> + Send),
) -> Result<bool, AgendaError> {
    for _ in 0..MAX_ATTEMPTS {
        let snapshot = host.read(id).await.map_err(host_error)?;
        if carryover::has_section(&snapshot.text, start, key) {
            return Ok(false);
        }
        let current = host.text_at(id, &snapshot).await.map_err(host_error)?;
        let section = render(&current)?;
        let first = carryover::sections(&snapshot.text).is_empty();
        if host
            .insert_section(id, &snapshot, section, first)
            .await
            .map_err(host_error)?
        {
            return Ok(true);
        }
        tracing::info!(
            document = id,
            "the agenda document changed while a section was added; reading it again"
        );
    }
    Err(AgendaError::GaveUp(id.to_string()))
}
