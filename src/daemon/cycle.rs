//! One cycle of the pipeline (docs/design.md, Pipeline): sync every account, analyse, and then the stages that
//! act on the analysis (alert delivery, agenda planning).
//!
//! Invariants: accounts sync concurrently and independently (one failing never stops the others);
//! the analysis always runs, on whatever the store holds, even when some account failed; every
//! stage reports its own outcome so that `run --once` can exit with a status that says whether it
//! all worked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::alerts::Analysed;
use crate::config::Config;
use crate::store::AsyncStore;
use crate::sync::{SyncSummary, SyncTarget};

/// What a cycle works with.
#[derive(Clone)]
pub struct CycleContext {
    pub config: Arc<Config>,
    pub state_dir: PathBuf,
    pub store: AsyncStore,
    pub client: reqwest::Client,
    /// How current the accounts must be for report alerts (the completeness gate).
    pub freshness: crate::alerts::Freshness,
}

/// The outcome of syncing one account in a cycle.
#[derive(Debug)]
pub struct AccountOutcome {
    pub account: String,
    pub provider: &'static str,
    /// The error as one sentence when the sync failed.
    pub result: Result<SyncSummary, String>,
    pub duration: Duration,
}

/// The outcome of a whole cycle.
pub struct CycleReport {
    pub now: DateTime<Utc>,
    pub accounts: Vec<AccountOutcome>,
    /// The analysis with its alert states, or why it failed.
    pub analysis: Result<Analysed, String>,
    /// What alert delivery did (issue 7).
    pub delivery: crate::alerts::outbox::DeliveryReport,
    /// The agenda stage (issue 8): `None` when disabled or without an analysis.
    pub agenda: Option<Result<crate::agenda::AgendaOutcome, String>>,
}

impl CycleReport {
    /// Did every stage of the cycle work?
    pub fn ok(&self) -> bool {
        self.accounts.iter().all(|a| a.result.is_ok())
            && self.analysis.is_ok()
            && self.delivery.ok()
            && !matches!(&self.agenda, Some(Err(_)))
            && !matches!(&self.agenda, Some(Ok(o)) if !o.failures.is_empty())
    }

    /// Did any account's sync change what is stored?
    pub fn changed(&self) -> bool {
        self.accounts
            .iter()
            .any(|a| matches!(&a.result, Ok(s) if !s.unchanged))
    }

    /// One line for logs and systemd's `STATUS=`.
    pub fn summary(&self) -> String {
        let failed: Vec<&str> = self
            .accounts
            .iter()
            .filter(|a| a.result.is_err())
            .map(|a| a.account.as_str())
            .collect();
        let synced = self.accounts.len() - failed.len();
        let mut line = format!("{synced}/{} accounts synced", self.accounts.len());
        if !failed.is_empty() {
            line.push_str(&format!(" (failed: {})", failed.join(", ")));
        }
        match &self.analysis {
            Ok(a) => {
                let open = open_alert_count(a, self.now);
                line.push_str(&format!(
                    ", {open} open alert{}",
                    if open == 1 { "" } else { "s" }
                ));
            }
            Err(e) => line.push_str(&format!(", analysis failed: {e}")),
        }
        if !self.delivery.ok() {
            line.push_str(&format!(", alerts: {}", self.delivery.summary()));
        }
        line
    }
}

/// Alerts neither acknowledged nor snoozed past `now`.
pub fn open_alert_count(a: &Analysed, now: DateTime<Utc>) -> usize {
    a.states
        .iter()
        .chain(a.account_alerts.iter().map(|(_, s)| s))
        .filter(|s| !s.acked && s.snoozed_until.is_none_or(|u| u <= now))
        .count()
}

/// Sync the given accounts concurrently; one outcome per target, in the targets' order.
pub async fn sync_all(
    ctx: &CycleContext,
    targets: &[SyncTarget],
    full: bool,
    now: DateTime<Utc>,
) -> Vec<AccountOutcome> {
    let mut set = tokio::task::JoinSet::new();
    for (i, target) in targets.iter().enumerate() {
        let (store, client, target) = (ctx.store.clone(), ctx.client.clone(), target.clone());
        set.spawn(async move {
            let started = Instant::now();
            let provider = target.source.provider();
            let result = crate::metrics::with_provider(
                provider,
                crate::sync::sync_account(&store, &client, &target, full, now),
            )
            .await
            .map_err(|e| e.to_string());
            crate::metrics::global().sync_finished(
                &target.account,
                provider,
                result.is_ok(),
                started.elapsed(),
            );
            (
                i,
                AccountOutcome {
                    provider: target.source.provider(),
                    account: target.account,
                    result,
                    duration: started.elapsed(),
                },
            )
        });
    }
    let mut outcomes: Vec<Option<AccountOutcome>> = targets.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, outcome)) => outcomes[i] = Some(outcome),
            // A sync task panicked: record it against no account; the slot stays empty and is
            // reported below.
            Err(e) => tracing::error!("a sync task failed: {e}"),
        }
    }
    outcomes
        .into_iter()
        .zip(targets)
        .map(|(o, t)| {
            o.unwrap_or_else(|| AccountOutcome {
                account: t.account.clone(),
                provider: t.source.provider(),
                result: Err(format!(
                    "account {}: the sync task stopped unexpectedly",
                    t.account
                )),
                duration: Duration::ZERO,
            })
        })
        .collect()
}

/// The analysis at `now`, with the alerts reconciled in the store.
pub async fn analyse(ctx: &CycleContext, now: DateTime<Utc>) -> Result<Analysed, String> {
    let config = Arc::clone(&ctx.config);
    let freshness = ctx.freshness;
    ctx.store
        .call(move |store| crate::alerts::analyse_with(&config, store, now, freshness))
        .await
        .map_err(|e| e.to_string())
}

/// The stages after the syncs, at `now`: analyse, then act on the analysis. `run --once` runs
/// them once after syncing every account; the daemon after every sync that changed something,
/// and at least hourly.
pub async fn after_sync(ctx: &CycleContext, now: DateTime<Utc>) -> Stages {
    let analysis = analyse(ctx, now).await;
    // Agenda planning (issue 8): the sessions due within `lead_time`. Before delivery, so that
    // an alert names the agenda just prepared for its report.
    let agenda = crate::agenda::cycle_stage(
        &ctx.config,
        &ctx.state_dir,
        &ctx.store,
        &ctx.client,
        analysis.as_ref().ok().map(|a| &a.analysis),
        now,
    )
    .await;
    // Make-up slots (issue 17): proposed for the alerts that need them and kept for the
    // messages; the daemon books a skipped run's first slot when `auto_book` is on.
    match crate::scheduling::cycle_stage(
        &ctx.config,
        &ctx.state_dir,
        &ctx.store,
        &ctx.client,
        analysis.as_ref().ok(),
        now,
    )
    .await
    {
        Ok(booked) => {
            for b in booked.iter().filter_map(|b| b.as_ref().err()) {
                tracing::warn!("make-up not booked: {b}");
            }
        }
        Err(e) => tracing::warn!("make-up slots not proposed: {e}"),
    }
    // Alert delivery (issue 7): the outbox is filled from `analysis` and drained.
    let can_book = crate::scheduling::api::can_write(&ctx.config, &ctx.state_dir);
    let delivery = crate::alerts::outbox::deliver(
        &ctx.config,
        &ctx.store,
        &ctx.client,
        analysis.as_ref().ok(),
        can_book,
        now,
    )
    .await;
    Stages {
        analysis,
        delivery,
        agenda,
    }
}

/// What the stages after the syncs did.
pub struct Stages {
    /// The analysis with its alert states, or why it failed.
    pub analysis: Result<Analysed, String>,
    /// What alert delivery did (issue 7).
    pub delivery: crate::alerts::outbox::DeliveryReport,
    /// The agenda stage (issue 8): `None` when disabled or without an analysis.
    pub agenda: Option<Result<crate::agenda::AgendaOutcome, String>>,
}

impl Stages {
    /// The delivery and agenda problems, each as one sentence (empty when both worked).
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.delivery.ok() {
            out.push(format!("alerts: {}", self.delivery.summary()));
        }
        match &self.agenda {
            Some(Err(e)) => out.push(format!("agendas: {e}")),
            Some(Ok(o)) if !o.failures.is_empty() => {
                out.push(format!("agendas: {}", o.failures.join("; ")))
            }
            _ => {}
        }
        out
    }
}

/// One whole cycle at `now`: sync all accounts, analyse, then act on the analysis.
pub async fn run_cycle(ctx: &CycleContext, now: DateTime<Utc>) -> CycleReport {
    let targets = crate::sync::targets(&ctx.config, &ctx.state_dir);
    let accounts = sync_all(ctx, &targets, false, now).await;
    for a in &accounts {
        if let Err(e) = &a.result {
            tracing::warn!(account = %a.account, "sync failed: {e}");
        }
    }
    let Stages {
        analysis,
        delivery,
        agenda,
    } = after_sync(ctx, now).await;
    CycleReport {
        now,
        accounts,
        analysis,
        delivery,
        agenda,
    }
}
