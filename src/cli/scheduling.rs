//! `propose [REPORT]`, `book ALERT_ID [--slot N]` and `book --undo ALERT_ID` (issue 17), and the
//! proposals that `report` shows.

use super::{CliError, Context};
use crate::alerts::Analysed;
use crate::scheduling::book::{self, BookContext, Booked, Undone};
use crate::scheduling::{self, Basis, Proposal};
use crate::store::{AsyncStore, Store};

fn runtime_err(e: impl std::fmt::Display) -> CliError {
    CliError::runtime(e.to_string())
}

/// The proposals at `ctx.now` for the analysed alerts (the report's free/busy read from the
/// provider; on failure the manager's side only, said so).
pub fn proposals(
    ctx: &Context,
    store: &mut Store,
    a: &Analysed,
) -> Result<Vec<Proposal>, CliError> {
    if scheduling::needs(&ctx.config, a, ctx.now).is_empty() {
        store.replace_proposals(&[], ctx.now).map_err(runtime_err)?;
        return Ok(Vec::new());
    }
    let calendars = scheduling::load_calendars(store, ctx.now).map_err(runtime_err)?;
    let client = crate::providers::http::client().map_err(runtime_err)?;
    let rt = super::setup::runtime()?;
    let proposals = rt.block_on(scheduling::propose(
        &ctx.config,
        &ctx.state_dir,
        &client,
        a,
        &calendars,
        ctx.now,
    ));
    // Kept like the daemon's, so that the dashboard and the next alert messages show them.
    let rows: Vec<(String, String, String)> = proposals
        .iter()
        .map(|p| {
            (
                p.alert_id.clone(),
                p.report.clone(),
                serde_json::to_string(p).unwrap_or_default(),
            )
        })
        .collect();
    store
        .replace_proposals(&rows, ctx.now)
        .map_err(runtime_err)?;
    Ok(proposals)
}

/// The proposals as text: one block per alert.
pub fn describe(config: &crate::config::Config, proposals: &[Proposal]) -> String {
    if proposals.is_empty() {
        return String::new();
    }
    let ja = config.manager.locale == crate::config::Locale::Ja;
    let mut out = String::from(if ja {
        "\n代替の1on1の候補\n"
    } else {
        "\nMake-up slots\n"
    });
    for p in proposals {
        out.push_str(&format!(
            "  {} [{}] {}\n",
            p.report_name,
            p.kind,
            scheduling::proposal_line(config, p)
        ));
        if let (Basis::ManagerOnly, Some(note)) = (p.basis, &p.note) {
            out.push_str(&format!("      ({note})\n"));
        }
        if let Some(hint) = scheduling::book_hint(config, p) {
            out.push_str(&format!(
                "      {}: {hint}\n",
                if ja { "予約" } else { "book" },
            ));
        }
    }
    out
}

/// `cadenced propose [REPORT] [--json]`.
pub fn propose(ctx: &Context, report: Option<&str>, json: bool) -> Result<(), CliError> {
    if !ctx.config.scheduling.enabled {
        return Err(CliError::usage(
            "scheduling is off in the config ([scheduling] enabled = false)",
        ));
    }
    let mut store = ctx.open_store()?;
    let a = crate::alerts::analyse(&ctx.config, &mut store, ctx.now).map_err(runtime_err)?;
    if let Some(r) = report
        && !a
            .analysis
            .reports
            .iter()
            .any(|x| x.email.eq_ignore_ascii_case(r) || x.name.eq_ignore_ascii_case(r))
    {
        return Err(CliError::usage(format!(
            "{r} is not a report in the config (give an e-mail address or a name)"
        )));
    }
    let mut proposals = proposals(ctx, &mut store, &a)?;
    if let Some(r) = report {
        proposals
            .retain(|p| p.report.eq_ignore_ascii_case(r) || p.report_name.eq_ignore_ascii_case(r));
    }
    if json {
        let doc: Vec<serde_json::Value> = proposals
            .iter()
            .map(|p| {
                serde_json::json!({
                    "alert": p.alert_id,
                    "kind": p.kind,
                    "report": p.report,
                    "basis": p.basis,
                    "note": p.note,
                    "window_end": crate::output::rfc3339(p.window_end),
                    "proposals": p.slots.iter().map(|s| serde_json::json!({
                        "start": crate::output::rfc3339(s.start),
                        "end": crate::output::rfc3339(s.end),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&doc).map_err(runtime_err)?;
        println!("{text}");
        return Ok(());
    }
    if proposals.is_empty() {
        println!(
            "{}",
            if ctx.config.manager.locale == crate::config::Locale::Ja {
                "代替の1on1が必要なアラートはありません。"
            } else {
                "No open alert needs a make-up 1on1."
            }
        );
        return Ok(());
    }
    print!("{}", describe(&ctx.config, &proposals).trim_start());
    Ok(())
}

/// `cadenced book ALERT_ID [--slot N]` and `cadenced book --undo ALERT_ID`.
pub fn book(ctx: &Context, alert_id: &str, slot: usize, undo: bool) -> Result<(), CliError> {
    let mut store = ctx.open_store()?;
    let a = crate::alerts::analyse(&ctx.config, &mut store, ctx.now).map_err(runtime_err)?;
    let calendars = scheduling::load_calendars(&store, ctx.now).map_err(runtime_err)?;
    let client = crate::providers::http::client().map_err(runtime_err)?;
    let store = AsyncStore::new(store);
    let cx = BookContext {
        config: &ctx.config,
        state_dir: &ctx.state_dir,
        store: &store,
        client: &client,
    };
    let rt = super::setup::runtime()?;
    let when = |b: &crate::store::Booking| {
        scheduling::slot_text(
            &ctx.config,
            &scheduling::slots::Span {
                start: b.start,
                end: b.end,
            },
        )
    };
    if undo {
        return match rt.block_on(book::undo(&cx, alert_id, ctx.now)) {
            Ok(Undone::Deleted(b)) => {
                println!(
                    "Deleted the make-up booked for alert {alert_id} (event {}).",
                    b.event_id
                );
                Ok(())
            }
            Ok(Undone::Gone(b)) => {
                println!(
                    "The make-up booked for alert {alert_id} (event {}) was already gone from the calendar.",
                    b.event_id
                );
                Ok(())
            }
            Ok(Undone::Nothing) => {
                println!("Nothing to undo: cadenced booked no make-up for alert {alert_id}.");
                Ok(())
            }
            Err(e) => Err(book_error(e)),
        };
    }
    match rt.block_on(book::book(
        &cx, &a, &calendars, alert_id, slot, "manual", ctx.now,
    )) {
        Ok(Booked::Created(b)) => {
            println!(
                "Booked \"{}\" {} with {} (event {}); the invitation was sent.",
                b.title,
                when(&b),
                b.report,
                b.event_id
            );
            Ok(())
        }
        Ok(Booked::Already(b)) => {
            println!(
                "Alert {alert_id} already has its make-up (event {}): nothing booked.",
                b.event_id
            );
            Ok(())
        }
        Err(e) => Err(book_error(e)),
    }
}

fn book_error(e: book::BookError) -> CliError {
    use book::BookError as E;
    match e {
        E::UnknownAlert(_) | E::NotSchedulable { .. } | E::Disabled | E::NoSuchSlot { .. } => {
            CliError::usage(e.to_string())
        }
        _ => CliError::runtime(e.to_string()),
    }
}
