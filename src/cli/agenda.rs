//! `agenda [--dry-run]` and `agenda unlink [--dry-run]` (docs/design.md, Command line, Agenda documents and Writing to calendars).

use std::sync::Arc;

use super::{CliError, Context};
use crate::agenda::{self, AgendaContext, google};
use crate::config::AccountKind;
use crate::providers::google::auth::{Authenticator, system_clock};
use crate::store::{AgendaLedger, AsyncStore, LinkState};

fn context(ctx: &Context) -> Result<AgendaContext, CliError> {
    Ok(AgendaContext {
        config: Arc::new(ctx.config.clone()),
        state_dir: ctx.state_dir.clone(),
        store: AsyncStore::new(ctx.open_store()?),
        client: crate::providers::http::client().map_err(|e| CliError::runtime(e.to_string()))?,
    })
}

/// `agenda`: create and link the agendas that are due; `--dry-run` prints the plan only.
pub fn agenda(ctx: &Context, dry_run: bool) -> Result<(), CliError> {
    if !ctx.config.agenda.enabled {
        println!("agendas are disabled ([agenda] enabled = false)");
        return Ok(());
    }
    let analysed = super::cadence::analyse(ctx)?;
    let cx = context(ctx)?;
    let runtime = super::setup::runtime()?;
    let (plan, outcome) = runtime
        .block_on(agenda::run(&cx, &analysed.analysis, ctx.now, dry_run))
        .map_err(|e| CliError::runtime(e.to_string()))?;
    let lines = agenda::describe(&plan, ctx.config.manager.timezone);
    if dry_run {
        if lines.is_empty() {
            println!(
                "nothing to do ({} session{} due within {})",
                outcome.due_sessions,
                if outcome.due_sessions == 1 { "" } else { "s" },
                ctx.config.agenda.lead_time
            );
        }
        for l in &lines {
            println!("would {l}");
        }
        return Ok(());
    }
    println!(
        "{} session{} due: {} document{} created, {} section{} added, {} link{} written, {} recorded without writing, {} deferred",
        outcome.due_sessions,
        plural(outcome.due_sessions),
        outcome.documents_created,
        plural(outcome.documents_created),
        outcome.sections_added,
        plural(outcome.sections_added),
        outcome.links_written,
        plural(outcome.links_written),
        outcome.links_recorded,
        outcome.links_deferred,
    );
    if outcome.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::runtime(outcome.failures.join("; ")))
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `agenda unlink`: remove exactly what cadenced added to events (the block and the mark).
pub fn unlink(ctx: &Context, dry_run: bool) -> Result<(), CliError> {
    let cx = context(ctx)?;
    let runtime = super::setup::runtime()?;
    runtime.block_on(async {
        let links = cx
            .store
            .agenda_links()
            .await
            .map_err(|e| CliError::runtime(e.to_string()))?;
        let mut failures = Vec::new();
        let mut removed = 0;
        for l in links.into_iter().filter(|l| l.state == LinkState::Linked) {
            if dry_run {
                println!(
                    "would remove the agenda link from event {} (account {})",
                    l.event_id, l.account
                );
                continue;
            }
            let result = match ctx.config.account(&l.account).map(|a| &a.kind) {
                Some(AccountKind::Google(g)) => {
                    let auth = Authenticator::new(
                        &l.account,
                        g,
                        &ctx.state_dir,
                        cx.client.clone(),
                        system_clock(),
                    )
                    .with_scope(crate::providers::google::auth::scopes(true));
                    let writer = google::GoogleWriter {
                        client: &cx.client,
                        auth: &auth,
                        api_base: &g.api_base,
                        manager: &ctx.config.manager.email,
                    };
                    writer
                        .unlink(&l.calendar, &l.event_id)
                        .await
                        .map_err(|e| e.to_string())
                }
                Some(AccountKind::Microsoft(ms)) => {
                    let auth = crate::providers::microsoft::auth::Authenticator::new(
                        &l.account,
                        ms,
                        &ctx.state_dir,
                        cx.client.clone(),
                        crate::providers::microsoft::auth::system_clock(),
                    );
                    let writer = agenda::microsoft::MsWriter {
                        client: &cx.client,
                        auth: &auth,
                        ms,
                        manager: &ctx.config.manager.email,
                    };
                    writer.unlink(&l.event_id).await.map_err(|e| e.to_string())
                }
                Some(AccountKind::Caldav(acc)) => {
                    caldav_unlink(&cx, acc, &l.account, &l.calendar, &l.event_id).await
                }
                _ => {
                    failures.push(format!(
                        "account {}: no longer a Google, Microsoft or CalDAV account in the config; event {} left as is",
                        l.account, l.event_id
                    ));
                    continue;
                }
            };
            match result {
                Ok(google::UnlinkOutcome::GaveUp) => failures.push(format!(
                    "account {}, event {}: the event kept changing; nothing was removed, try again",
                    l.account, l.event_id
                )),
                Ok(o) => {
                    if o == google::UnlinkOutcome::Removed {
                        removed += 1;
                        println!(
                            "removed the agenda link from event {} (account {})",
                            l.event_id, l.account
                        );
                    }
                    let (a, c, e) = (l.account.clone(), l.calendar.clone(), l.event_id.clone());
                    cx.store
                        .delete_agenda_link(&a, &c, &e)
                        .await
                        .map_err(|e| CliError::runtime(e.to_string()))?;
                }
                Err(e) => failures.push(format!("account {}: {e}", l.account)),
            }
        }
        if !dry_run {
            println!("{removed} agenda link{} removed", plural(removed));
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(CliError::runtime(failures.join("; ")))
        }
    })
}

/// `agenda unlink` for a CalDAV event: the resource's block removed, every other line kept.
async fn caldav_unlink(
    cx: &AgendaContext,
    acc: &crate::config::CaldavAccount,
    account: &str,
    calendar: &str,
    event_id: &str,
) -> Result<google::UnlinkOutcome, String> {
    let url = agenda::caldav_resource_url(cx, account, calendar, event_id).await?;
    let (dav, _) = crate::providers::caldav::session(account, acc).map_err(|e| e.to_string())?;
    let writer = agenda::caldav::CaldavWriter {
        dav: &dav,
        manager: &cx.config.manager.email,
    };
    writer.unlink(&url).await.map_err(|e| e.to_string())
}
