//! The long-running daemon (`cadenced run`): its tasks, signals, readiness and shutdown.
//!
//! Tasks (all on one tokio runtime):
//! - one **account task** per configured account: sync, then sleep `sync.interval` (jittered)
//!   or back off after failures ([`super::schedule`]); SIGUSR1 wakes every account at once;
//! - the **analyser**: runs [`cycle::after_sync`] (analysis, then alert delivery and agenda
//!   planning) after every sync that changed something (events, or the account's outcome), and at
//!   least hourly;
//! - the **HTTP listener** ([`super::server`]);
//! - the **watchdog** pinger when systemd asked for one;
//! - the main task, which waits for signals: SIGTERM/SIGINT stop, SIGHUP reloads the config
//!   (validated first; an invalid one is logged with its key paths and the running one kept),
//!   SIGUSR1 syncs every account now.
//!
//! Shutdown order: stop accepting new work (cancel every task; an account task drops its sync at
//! the next await point, so the page being written — one SQLite transaction on the blocking pool
//! — either commits or never starts; the analyser finishes the stages it is in, so that an alert
//! is never sent without being recorded, and starts no other), wait for the tasks and the HTTP
//! listener up to [`SHUTDOWN_DEADLINE`], then wait for the store to be idle, then release the
//! instance lock.
//! Nothing is ever half-written: each page of changes and its cursor are one transaction.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::sync::{broadcast, mpsc};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cycle::{self, CycleContext};
use super::health::{self, AccountHealth, Verdict};
use super::leases::{self, Held, LeasedAccount};
use super::lock::{InstanceLock, LockError};
use super::schedule;
use super::server::{self, Access};
use crate::config::Config;
use crate::store::{AsyncStore, Store};
use crate::sync::SyncTarget;

/// Everything after a stop signal finishes within this, so that the process exits within 5 s.
pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(3);

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Lock(#[from] LockError),
    /// A configuration problem found at start (exit 2).
    #[error("{0}")]
    Config(String),
    /// Anything else that stops the daemon (exit 1).
    #[error("{0}")]
    Runtime(String),
}

impl DaemonError {
    /// 2 for usage and configuration problems (a second instance included), else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            DaemonError::Lock(LockError::Held { .. }) | DaemonError::Config(_) => 2,
            _ => 1,
        }
    }
}

/// The instant analyses treat as now: the clock, shifted when `--now` was given at start (time
/// then flows on from that instant).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    offset: chrono::Duration,
}

impl Clock {
    pub fn starting_at(now: Option<DateTime<Utc>>) -> Clock {
        Clock {
            offset: now.map_or(chrono::Duration::zero(), |n| n - Utc::now()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}

/// What the tasks share.
pub struct Shared {
    config: RwLock<Arc<Config>>,
    health: Mutex<BTreeMap<String, AccountHealth>>,
    pub clock: Clock,
    store: AsyncStore,
    client: reqwest::Client,
    state_dir: PathBuf,
    /// The last analysis, in one line (systemd's `STATUS=`).
    summary: Mutex<String>,
    /// Set when several instances may share the store: this instance and the accounts it holds.
    leases: Option<LeaseMode>,
    /// The configs the account tasks run for (org mode: one per manager), set whenever they
    /// start (start, reload, a changed directory), so that the analyser and `/healthz` do not
    /// expand the org again on every pass.
    cycle_configs: RwLock<Arc<Vec<Config>>>,
}

/// This instance among several sharing one store (`daemon/leases.rs`).
pub struct LeaseMode {
    pub me: crate::store::Instance,
    held_tx: tokio::sync::watch::Sender<Held>,
    /// The accounts the account tasks run for, set when they start.
    wanted: Mutex<std::collections::BTreeSet<String>>,
}

impl LeaseMode {
    fn new() -> LeaseMode {
        LeaseMode {
            me: leases::this_instance(),
            held_tx: tokio::sync::watch::Sender::new(Arc::default()),
            wanted: Mutex::new(std::collections::BTreeSet::new()),
        }
    }
}

/// Whether instances of this configuration may share the store, so that accounts must be
/// claimed by lease before they are synced: true for a store on a database server; the embedded
/// file belongs to one state directory, which one instance locks.
pub fn store_is_shared(config: &Config) -> bool {
    config.store.url.is_some()
}

impl Shared {
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read().unwrap_or_else(|p| p.into_inner()))
    }

    pub fn cycle_context(&self) -> CycleContext {
        CycleContext {
            config: self.config(),
            state_dir: self.state_dir.clone(),
            store: self.store.clone(),
            client: self.client.clone(),
            freshness: crate::alerts::Freshness::Daemon,
        }
    }

    pub fn state_dir(&self) -> &std::path::Path {
        &self.state_dir
    }

    /// The per-manager configs of the running account tasks (see the field).
    fn cycle_configs(&self) -> Arc<Vec<Config>> {
        Arc::clone(&self.cycle_configs.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Whether this instance holds `account` (always, without a shared store).
    pub fn holds(&self, account: &str) -> bool {
        self.leases
            .as_ref()
            .is_none_or(|l| l.held_tx.borrow().contains(account))
    }

    /// Whether this instance runs the analysis and delivery of `config` (one manager's): the one
    /// holding its first account (every instance without a shared store).
    pub fn analyses_here(&self, config: &Config) -> bool {
        config.accounts.first().is_none_or(|a| self.holds(&a.name))
    }

    /// The `/healthz` verdict now.
    pub fn verdict(&self) -> Verdict {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        // Org mode: every manager's accounts.
        let mut config = (*self.config()).clone();
        config.accounts = self
            .cycle_configs()
            .iter()
            .flat_map(|c| c.accounts.iter().cloned())
            .collect();
        match &self.leases {
            None => health::verdict(&config, &health, self.clock.now()),
            // Each instance answers for the accounts it holds; the others are theirs.
            Some(l) => {
                let held = l.held_tx.borrow().clone();
                let mut mine = config;
                mine.accounts.retain(|a| held.contains(&a.name));
                health::verdict(&mine, &health, self.clock.now())
            }
        }
    }

    /// Record a sync; the consecutive failures so far, and whether the outcome flipped (ok ↔
    /// failed, or the first one), which changes what the analysis says about the account.
    fn record(&self, account: &str, at: DateTime<Utc>, result: Result<(), String>) -> (u32, bool) {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        let h = health.entry(account.to_string()).or_default();
        let before = h.last_ok;
        h.record(at, result);
        (h.failures, before != h.last_ok)
    }

    /// Whether every account of `config` has an outcome (a sync finished, here or before this
    /// process started). Org mode analyses a manager only then: each manager after their own
    /// sync, never while their first one is still running.
    fn synced_once(&self, config: &Config) -> bool {
        let health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        config
            .accounts
            .iter()
            .all(|a| health.get(&a.name).is_some_and(|h| h.last_ok.is_some()))
    }

    fn status_line(&self) -> String {
        let verdict = self.verdict();
        let ok = verdict.accounts.iter().filter(|a| a.healthy).count();
        let summary = self
            .summary
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let mut line = format!("{ok}/{} accounts healthy", verdict.accounts.len());
        let bad: Vec<&str> = verdict
            .accounts
            .iter()
            .filter(|a| !a.healthy)
            .map(|a| a.account.as_str())
            .collect();
        if !bad.is_empty() {
            line.push_str(&format!(" (not: {})", bad.join(", ")));
        }
        if !summary.is_empty() {
            line.push_str(&format!("; {summary}"));
        }
        line
    }
}

/// How the daemon was asked to run.
pub struct Options {
    pub config_path: PathBuf,
    pub config: Config,
    pub state_dir: PathBuf,
    /// `--now`, if given.
    pub now: Option<DateTime<Utc>>,
}

/// The access token a non-loopback listener requires, read from `daemon.token_env`.
fn access_for(config: &Config) -> Result<Option<Arc<Access>>, DaemonError> {
    let listen = config.daemon.listen;
    let var = config.daemon.token_env.as_deref();
    let token = var
        .and_then(|v| std::env::var(v).ok())
        .filter(|t| !t.trim().is_empty());
    match (listen.ip().is_loopback(), var, token) {
        (_, _, Some(token)) if token.trim().chars().count() < server::MIN_TOKEN_LEN => {
            Err(DaemonError::Config(format!(
                "{}: daemon.token_env: the access token in {} is shorter than {} characters; use 32 random bytes, e.g. {}",
                config.file.display(),
                var.unwrap_or_default(),
                server::MIN_TOKEN_LEN,
                server::TOKEN_COMMAND
            )))
        }
        (_, _, Some(token)) => Ok(Some(Arc::new(Access::new(token.trim().to_string())))),
        (true, _, None) => Ok(None),
        (false, None, None) => Err(DaemonError::Config(format!(
            "{}: daemon.token_env: required because daemon.listen ({listen}) is not a loopback address; name the environment variable holding the access token",
            config.file.display()
        ))),
        (false, Some(var), None) => Err(DaemonError::Config(format!(
            "{}: daemon.token_env: the environment variable {var} is not set or empty, and daemon.listen ({listen}) is not a loopback address; refusing to serve without an access token",
            config.file.display()
        ))),
    }
}

/// Run the daemon until SIGTERM/SIGINT.
pub fn run(opts: Options) -> Result<(), DaemonError> {
    crate::store::ensure_state_dir(&opts.state_dir)
        .map_err(|e| DaemonError::Runtime(e.to_string()))?;
    let lock = InstanceLock::acquire(&opts.state_dir)?;
    let access = access_for(&opts.config)?;
    // Opened before the runtime starts: the PostgreSQL client blocks on a runtime of its own.
    let store = Store::open_config(&opts.config.store, &opts.state_dir)
        .map_err(|e| DaemonError::Runtime(e.to_string()))?;
    let client =
        crate::providers::http::client().map_err(|e| DaemonError::Runtime(e.to_string()))?;
    // Two workers are plenty for a handful of accounts and keep the footprint small.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(|e| DaemonError::Runtime(format!("cannot start the async runtime: {e}")))?;
    let overview = store.account_overview().unwrap_or_default();
    let health: BTreeMap<String, AccountHealth> = overview
        .iter()
        .map(|o| (o.name.clone(), AccountHealth::from_overview(o)))
        .collect();
    // /metrics tells what the store holds from the start, not only after the first sync.
    let flat = crate::org::flat(&opts.config, &opts.state_dir);
    for o in overview.iter().filter(|o| flat.account(&o.name).is_some()) {
        crate::metrics::global().account_state(
            &o.name,
            usize::try_from(o.events).ok(),
            o.last_success_at,
        );
    }
    let lease_mode = store_is_shared(&opts.config).then(LeaseMode::new);
    crate::providers::quota::global().configure(&opts.config.quota);
    let first_configs = Arc::new(crate::org::cycle_configs(&opts.config, &opts.state_dir));
    let shared = Arc::new(Shared {
        leases: lease_mode,
        cycle_configs: RwLock::new(first_configs),
        config: RwLock::new(Arc::new(opts.config)),
        health: Mutex::new(health),
        clock: Clock::starting_at(opts.now),
        store: AsyncStore::new(store),
        client,
        state_dir: opts.state_dir,
        summary: Mutex::new(String::new()),
    });
    let result = runtime.block_on(main_loop(Arc::clone(&shared), opts.config_path, access));
    // Blocking store calls still running (at most one, the store is serialized) get the rest of
    // a second; the database (SQLite, or the PostgreSQL server when the connection closes) rolls
    // back anything they leave uncommitted.
    runtime.shutdown_timeout(Duration::from_secs(1));
    tracing::info!(lock = %lock.path().display(), "stopped");
    drop(lock);
    result
}

fn notify(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!("cannot notify the service manager: {e}");
    }
}

/// How often unchanged syncs refresh systemd's `STATUS=` line at most.
const STATUS_EVERY: Duration = Duration::from_secs(5);

/// A finished sync, for the analyser.
struct Synced {
    changed: bool,
    /// The account synced; `None`: the configuration changed (everything is analysed).
    account: Option<String>,
}

async fn main_loop(
    shared: Arc<Shared>,
    config_path: PathBuf,
    access: Option<Arc<Access>>,
) -> Result<(), DaemonError> {
    use tokio::signal::unix::{SignalKind, signal};
    let sig = |kind: SignalKind, name: &str| {
        signal(kind).map_err(|e| DaemonError::Runtime(format!("cannot handle {name}: {e}")))
    };
    let (mut term, mut int, mut hup, mut usr1) = (
        sig(SignalKind::terminate(), "SIGTERM")?,
        sig(SignalKind::interrupt(), "SIGINT")?,
        sig(SignalKind::hangup(), "SIGHUP")?,
        sig(SignalKind::user_defined1(), "SIGUSR1")?,
    );

    let listen: SocketAddr = shared.config().daemon.listen;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        DaemonError::Runtime(format!(
            "cannot listen on {listen} (daemon.listen in {}): {e}",
            config_path.display()
        ))
    })?;
    let cancel = CancellationToken::new();
    let mut tasks = JoinSet::new();

    let hosts = server::Hosts::new(listen, shared.config().daemon.hosts.clone());
    let app = server::router(Arc::clone(&shared), access, hosts);
    tasks.spawn(server::serve(
        listener,
        app,
        cancel.clone(),
        SHUTDOWN_DEADLINE,
    ));

    let (synced_tx, synced_rx) = mpsc::channel::<Synced>(64);
    tasks.spawn(analyser(Arc::clone(&shared), synced_rx, cancel.clone()));

    if let Some(period) = sd_notify::watchdog_enabled() {
        let stop = cancel.clone();
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(period / 2);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = tick.tick() => notify(&[NotifyState::Watchdog]),
                }
            }
        });
    }

    if let Some(mode) = &shared.leases {
        let period = shared.config().daemon.lease.as_std();
        let for_wanted = Arc::clone(&shared);
        tracing::info!(instance = %mode.me.id, lease = ?period, "sharing the store with other instances");
        tasks.spawn(leases::lease_loop(
            shared.store.clone(),
            mode.me.clone(),
            period,
            // The accounts the account tasks were started for (org mode: every manager's),
            // so a round does not expand the org again.
            move || {
                for_wanted
                    .leases
                    .as_ref()
                    .map(|l| l.wanted.lock().unwrap_or_else(|p| p.into_inner()).clone())
                    .unwrap_or_default()
            },
            mode.held_tx.clone(),
            cancel.clone(),
        ));
    }

    let (wake, _) = broadcast::channel::<()>(4);
    let mut accounts = AccountTasks::start(&shared, &cancel, &wake, &synced_tx);
    // Org mode: the directory is swept at start when due and then checked hourly; a sweep that
    // changes the managers' accounts restarts the account tasks.
    let (org_tx, mut org_rx) = mpsc::channel::<()>(4);
    if shared.config().org.is_some() {
        tasks.spawn(org_directory(Arc::clone(&shared), org_tx, cancel.clone()));
    } else {
        drop(org_tx);
    }

    tracing::info!(%listen, accounts = shared.config().accounts.len(), "cadenced running");
    let status = format!("listening on {listen}; first sync running");
    notify(&[NotifyState::Ready, NotifyState::Status(&status)]);

    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = usr1.recv() => {
                tracing::info!("SIGUSR1: syncing every account now");
                let _ = wake.send(());
            }
            Some(()) = org_rx.recv() => {
                tracing::info!("the org directory changed the managers: restarting the account tasks");
                accounts.stop().await;
                {
                    let cfg = crate::org::flat(&shared.config(), &shared.state_dir);
                    let mut health = shared.health.lock().unwrap_or_else(|p| p.into_inner());
                    health.retain(|name, _| cfg.account(name).is_some());
                }
                accounts = AccountTasks::start(&shared, &cancel, &wake, &synced_tx);
                let _ = synced_tx.send(Synced { changed: true, account: None }).await;
            }
            _ = hup.recv() => {
                notify(&[NotifyState::Reloading]);
                match crate::config::load(&config_path) {
                    Ok(new) => {
                        let old = shared.config();
                        if new.daemon != old.daemon {
                            tracing::warn!(
                                "daemon.listen, daemon.token_env and daemon.hosts changes take effect at the next restart"
                            );
                        }
                        accounts.stop().await;
                        *shared.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
                        {
                            let cfg = crate::org::flat(&shared.config(), &shared.state_dir);
                            let mut health = shared.health.lock().unwrap_or_else(|p| p.into_inner());
                            health.retain(|name, _| cfg.account(name).is_some());
                        }
                        crate::metrics::global().clear_accounts();
                        accounts = AccountTasks::start(&shared, &cancel, &wake, &synced_tx);
                        // The roster or the cadence rules may have changed: analyse again.
                        let _ = synced_tx.send(Synced { changed: true, account: None }).await;
                        tracing::info!(file = %config_path.display(), "configuration reloaded");
                    }
                    Err(e) => {
                        tracing::error!(
                            "reload refused, keeping the running configuration: {}",
                            e.to_string().replace('\n', "; ")
                        );
                    }
                }
                let status = shared.status_line();
                notify(&[NotifyState::Ready, NotifyState::Status(&status)]);
            }
        }
    }

    tracing::info!("stopping");
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
    let deadline = Instant::now() + SHUTDOWN_DEADLINE;
    cancel.cancel();
    accounts.stop_until(deadline).await;
    drop(synced_tx);
    while tokio::time::timeout_at(deadline, tasks.join_next())
        .await
        .is_ok_and(|joined| joined.is_some())
    {}
    tasks.abort_all();
    // The store is idle once this runs: an in-flight page transaction has finished first.
    let idle = shared.store.idle();
    if tokio::time::timeout_at(deadline, idle).await.is_err() {
        tracing::warn!(
            "the store was still busy at shutdown; the database rolls back what was not committed"
        );
    }
    Ok(())
}

/// The account tasks of the current configuration.
struct AccountTasks {
    cancel: CancellationToken,
    set: JoinSet<()>,
}

impl AccountTasks {
    fn start(
        shared: &Arc<Shared>,
        parent: &CancellationToken,
        wake: &broadcast::Sender<()>,
        synced: &mpsc::Sender<Synced>,
    ) -> AccountTasks {
        let cancel = parent.child_token();
        let mut set = JoinSet::new();
        let config = shared.config();
        let interval = config.sync.interval.as_std();
        // Org mode: every manager's accounts, each its own task as in the single-manager mode.
        let configs = crate::org::cycle_configs(&config, &shared.state_dir);
        *shared
            .cycle_configs
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(configs.clone());
        if let Some(l) = &shared.leases {
            *l.wanted.lock().unwrap_or_else(|p| p.into_inner()) = configs
                .iter()
                .flat_map(|c| c.accounts.iter().map(|a| a.name.clone()))
                .collect();
        }
        for c in &configs {
            for target in crate::sync::targets(c, &shared.state_dir) {
                let scope = c
                    .account(&target.account)
                    .and_then(crate::providers::quota::scope_of);
                set.spawn(crate::providers::quota::with_scope(
                    scope,
                    account_task(
                        Arc::clone(shared),
                        target,
                        interval,
                        wake.subscribe(),
                        synced.clone(),
                        cancel.clone(),
                    ),
                ));
            }
        }
        AccountTasks { cancel, set }
    }

    async fn stop(&mut self) {
        self.stop_until(Instant::now() + SHUTDOWN_DEADLINE).await;
    }

    async fn stop_until(&mut self, deadline: Instant) {
        self.cancel.cancel();
        while tokio::time::timeout_at(deadline, self.set.join_next())
            .await
            .is_ok_and(|joined| joined.is_some())
        {}
        self.set.abort_all();
    }
}

async fn account_task(
    shared: Arc<Shared>,
    target: SyncTarget,
    interval: Duration,
    wake: broadcast::Receiver<()>,
    synced: mpsc::Sender<Synced>,
    cancel: CancellationToken,
) {
    if let Some(mode) = &shared.leases {
        let (name, held) = (target.account.clone(), mode.held_tx.subscribe());
        let me = mode.me.id.clone();
        let account = Leased {
            shared: Arc::clone(&shared),
            target,
            synced,
            me,
        };
        leases::leased_schedule(&name, account, interval, held, wake, cancel).await;
        return;
    }
    let target = Arc::new(target);
    // Cancelling (inside `run_schedule`) drops the sync at an await point: a page already handed
    // to the store commits (its transaction runs to completion on the blocking pool), later ones
    // never start, and the stored cursor still matches the stored events.
    schedule::run_schedule(interval, wake, cancel, move || {
        let (shared, target, synced) = (Arc::clone(&shared), Arc::clone(&target), synced.clone());
        async move { sync_once(&shared, &target, &synced).await }
    })
    .await;
}

/// An account task's view of its account when instances share the store.
struct Leased {
    shared: Arc<Shared>,
    target: SyncTarget,
    synced: mpsc::Sender<Synced>,
    me: String,
}

impl LeasedAccount for Leased {
    async fn last_start(&self) -> Option<DateTime<Utc>> {
        use crate::store::Leases;
        match self
            .shared
            .store
            .leased_synced_at(&self.target.account)
            .await
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(account = %self.target.account, "cannot read when it last synced: {e}");
                // Unknown: wait a whole interval rather than risk a second sync in one.
                Some(Utc::now())
            }
        }
    }

    async fn start(&self) -> bool {
        use crate::store::Leases;
        match self
            .shared
            .store
            .start_leased_sync(&self.me, &self.target.account, Utc::now())
            .await
        {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(account = %self.target.account, "cannot record the sync under its lease: {e}");
                false
            }
        }
    }

    async fn sync(&self) -> u32 {
        sync_once(&self.shared, &self.target, &self.synced).await
    }
}

/// One sync of an account, recorded (health, metrics, log) and announced to the analyser;
/// returns the consecutive failures so far.
async fn sync_once(shared: &Shared, target: &SyncTarget, synced: &mpsc::Sender<Synced>) -> u32 {
    let provider = target.source.provider();
    let now = shared.clock.now();
    let started = std::time::Instant::now();
    let result = crate::metrics::with_provider(
        provider,
        crate::sync::sync_account(&shared.store, &shared.client, target, false, now),
    )
    .await;
    let metrics = crate::metrics::global();
    metrics.sync_finished(&target.account, provider, result.is_ok(), started.elapsed());
    let changed = match &result {
        Ok(s) => {
            metrics.account_state(&target.account, Some(s.events), Some(now));
            tracing::info!(account = %target.account, events = s.events, unchanged = s.unchanged, "synced");
            !s.unchanged
        }
        Err(e) => {
            tracing::warn!(account = %target.account, "sync failed: {e}");
            false
        }
    };
    let (failures, flipped) = shared.record(
        &target.account,
        now,
        result.as_ref().map(|_| ()).map_err(ToString::to_string),
    );
    // A flip matters to the analysis too: an account that needs `auth` is an alert.
    let _ = synced
        .send(Synced {
            changed: changed || flipped,
            account: Some(target.account.clone()),
        })
        .await;
    failures
}

/// Open alerts by kind in an analysis.
fn open_by_kind(a: &crate::alerts::Analysed, now: DateTime<Utc>) -> BTreeMap<String, usize> {
    let open = |s: &crate::store::AlertState| !s.acked && s.snoozed_until.is_none_or(|u| u <= now);
    let mut by_kind = BTreeMap::new();
    for (f, s) in a.analysis.findings.iter().zip(&a.states) {
        if open(s) {
            *by_kind.entry(f.kind.as_str().to_string()).or_insert(0) += 1;
        }
    }
    for (acc, s) in &a.account_alerts {
        if open(s) {
            *by_kind.entry(acc.kind.to_string()).or_insert(0) += 1;
        }
    }
    by_kind
}

async fn analyser(
    shared: Arc<Shared>,
    mut synced: mpsc::Receiver<Synced>,
    cancel: CancellationToken,
) {
    let mut analysed_once = false;
    // A manager's figures, kept between passes: a pass after a sync analyses only the managers
    // whose accounts changed, and the totals (status line, metrics) cover everyone.
    let mut per_manager: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    // With a shared store a manager's accounts may sync on other instances, whose changes this
    // one does not hear about: when some manager has several accounts, analyse everyone at
    // least every interval; else at least hourly (time passing alone opens gaps).
    let every = {
        let config = shared.config();
        let split = shared.leases.is_some()
            && crate::org::cycle_configs(&config, &shared.state_dir)
                .iter()
                .any(|c| c.accounts.len() > 1);
        if split {
            config.sync.interval.as_std()
        } else {
            schedule::ANALYSIS_EVERY
        }
    };
    let mut hourly = Box::pin(tokio::time::sleep(every));
    let mut status_at = Instant::now();
    loop {
        // The accounts whose change calls for an analysis; `None`: every manager.
        let dirty: Option<std::collections::BTreeSet<String>> = tokio::select! {
            biased;
            () = cancel.cancelled() => return,
            msg = synced.recv() => {
                let Some(first) = msg else { return };
                let mut all = false;
                let mut accounts = std::collections::BTreeSet::new();
                for m in std::iter::once(first).chain(std::iter::from_fn(|| synced.try_recv().ok())) {
                    if m.changed {
                        match m.account {
                            Some(a) => { accounts.insert(a); }
                            None => all = true,
                        }
                    }
                }
                if accounts.is_empty() && !all && analysed_once {
                    // The status line looks at every account: at most every few seconds, not
                    // after every one of thousands of unchanged syncs.
                    if status_at.elapsed() >= STATUS_EVERY {
                        status_at = Instant::now();
                        let status = shared.status_line();
                        notify(&[NotifyState::Status(&status)]);
                    }
                    continue;
                }
                (analysed_once && !all).then_some(accounts)
            }
            () = &mut hourly => None,
        };
        let now = shared.clock.now();
        let base = shared.cycle_context();
        let configs = shared.cycle_configs();
        let org = base.config.org.is_some();
        // Not cut short by a stop request: a delivery must not be dropped between sending an
        // alert and recording it. The shutdown deadline bounds the wait. Org mode: one pass
        // per manager, each on their own derived config.
        let mut problems: Vec<String> = Vec::new();
        let mut failed: Option<String> = None;
        let managers: std::collections::BTreeSet<String> =
            configs.iter().map(|c| c.manager.email.clone()).collect();
        per_manager.retain(|m, _| managers.contains(m));
        for config in configs.iter().cloned() {
            if cancel.is_cancelled() {
                return;
            }
            if let Some(dirty) = &dirty
                && !config.accounts.iter().any(|a| dirty.contains(&a.name))
            {
                continue;
            }
            if !shared.analyses_here(&config) {
                // Another instance holds the account this analysis goes with: it analyses and
                // delivers; doing it here too would race it.
                continue;
            }
            // (With leases the first sync may have run on another instance: the store, which
            // the completeness gate reads, knows; this instance's memory does not.)
            if org && shared.leases.is_none() && !shared.synced_once(&config) {
                continue;
            }
            let ctx = CycleContext {
                config: Arc::new(config),
                ..base.clone()
            };
            let stages = cycle::after_sync(&ctx, now).await;
            for p in stages.problems() {
                tracing::error!("{p}");
                problems.push(p);
            }
            match &stages.analysis {
                Ok(a) => {
                    per_manager.insert(
                        ctx.config.manager.email.clone(),
                        (a.analysis.reports.len(), open_by_kind(a, now)),
                    );
                }
                Err(e) => {
                    tracing::error!(manager = %ctx.config.manager.email, "analysis failed: {e}");
                    failed.get_or_insert_with(|| e.clone());
                }
            }
        }
        analysed_once = true;
        if dirty.is_none() {
            hourly.as_mut().reset(Instant::now() + every);
        }
        let reports: usize = per_manager.values().map(|(n, _)| n).sum();
        let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
        for (_, kinds) in per_manager.values() {
            for (k, n) in kinds {
                *by_kind.entry(k.clone()).or_insert(0) += n;
            }
        }
        let line = match failed {
            None => {
                crate::metrics::global().alerts_open(&by_kind);
                let open: usize = by_kind.values().sum();
                tracing::info!(reports, open_alerts = open, "analysed");
                let mut line = format!(
                    "{reports} reports, {open} open alert{} at {}",
                    if open == 1 { "" } else { "s" },
                    crate::output::rfc3339(now)
                );
                if org && crate::providers::orgchart::load(&shared.state_dir).is_none() {
                    line.push_str("; the org directory has not been read yet");
                }
                for p in &problems {
                    line.push_str(&format!("; {p}"));
                }
                line
            }
            Some(e) => format!("analysis failed: {e}"),
        };
        *shared.summary.lock().unwrap_or_else(|p| p.into_inner()) = line;
        let status = shared.status_line();
        notify(&[NotifyState::Status(&status)]);
    }
}

/// Org mode: sweep the directory when due (at start, then checked hourly); tell the main task
/// when the managers' accounts changed. A failed sweep keeps the stored directory and is logged.
async fn org_directory(shared: Arc<Shared>, changed: mpsc::Sender<()>, cancel: CancellationToken) {
    loop {
        let config = shared.config();
        let before: Vec<String> = crate::org::flat(&config, &shared.state_dir)
            .accounts
            .into_iter()
            .map(|a| a.name)
            .collect();
        let now = shared.clock.now();
        match crate::providers::orgchart::sweep_if_due(
            &config,
            &shared.state_dir,
            &shared.client,
            now,
            false,
        )
        .await
        {
            Ok(Some(n)) => {
                tracing::info!(people = n, "org directory read");
                let after: Vec<String> = crate::org::flat(&config, &shared.state_dir)
                    .accounts
                    .into_iter()
                    .map(|a| a.name)
                    .collect();
                if after != before {
                    let _ = changed.send(()).await;
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}; the directory read before is kept"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(3_600)) => {}
        }
    }
}
