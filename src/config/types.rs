//! The validated configuration (docs/design.md, Configuration), with every default filled in.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::value::{Cadence, ConfigDuration, Digest, SecretSource, SensitiveUrl};
use crate::tz::Zone;

/// The whole configuration, as loaded from one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from (as given to [`super::load`] / [`super::parse`]).
    pub file: PathBuf,
    pub manager: Manager,
    /// `[[reports]]`, in file order (the roster order of `report --json`).
    pub reports: Vec<Report>,
    /// `[[accounts]]`, in file order.
    pub accounts: Vec<Account>,
    pub sync: SyncConfig,
    pub detection: DetectionConfig,
    pub cadence: CadenceConfig,
    pub alerts: AlertsConfig,
    pub agenda: AgendaConfig,
    pub daemon: DaemonConfig,
    pub scheduling: SchedulingConfig,
    /// `[org]`: one deployment for every manager of a company (docs/org.md). `None` is the
    /// single-manager mode of `[manager]` + `[[reports]]`.
    pub org: Option<OrgConfig>,
    /// Set on the per-manager configs that org mode derives (`crate::org`): the store is shared
    /// by every manager, so this manager's analysis reads only these accounts' events and
    /// touches only the alerts of these reports and accounts. Never set by a config file.
    pub scoped: bool,
    pub store: StoreConfig,
    pub quota: QuotaConfig,
}

/// `[quota]`: request ceilings per provider quota scope, shared by every instance of a
/// deployment (see `providers/quota.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaConfig {
    /// Requests per minute per Google Cloud project (OAuth client or service-account key).
    /// Default 10,000: the Calendar API's published per-project quota.
    pub google_per_minute: u32,
    /// Requests per minute per Microsoft tenant and app. Default 10,000: Graph's published
    /// Outlook limit is 10,000 requests per 10 minutes per app and mailbox, so one mailbox never
    /// reaches it alone; the ceiling keeps a whole tenant's deployment well below the app-wide limits.
    pub microsoft_per_minute: u32,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            google_per_minute: 10_000,
            microsoft_per_minute: 10_000,
        }
    }
}

impl Config {
    /// The commented example configuration that `init` writes.
    pub fn example() -> &'static str {
        include_str!("../../config/example.toml")
    }

    /// The account with this name.
    pub fn account(&self, name: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.name == name)
    }

    /// The report whose e-mail or one of whose aliases is `email` (case-insensitive).
    pub fn report_for(&self, email: &str) -> Option<&Report> {
        self.reports.iter().find(|r| r.has_address(email))
    }
}

/// `[org]` (docs/org.md): the managers come from the directory (or a list), each analysed on
/// their own calendar read through the template account.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgConfig {
    pub source: OrgSource,
    /// `account`: the `[[accounts]]` entry used as the template for every manager's calendar
    /// (Google with `service_account_key`, or Microsoft app-only).
    pub account: String,
    /// `admin`: Google only, the delegated subject for Directory calls (a Workspace admin).
    pub admin: Option<String>,
    /// `managers`: with `source = "list"` the managers; with `"directory"`, when non-empty,
    /// only these of the directory's managers.
    pub managers: Vec<String>,
    /// `exclude`: never treated as managers.
    pub exclude: Vec<String>,
    /// `min_group`: the privacy threshold of the people-ops rollup; at least 5 (default 5).
    pub min_group: u32,
    /// `[[org.manager]]`: per-manager overrides, in file order.
    pub overrides: Vec<OrgManagerOverride>,
}

impl OrgConfig {
    /// The smallest `min_group` accepted (and the default).
    pub const MIN_GROUP: u32 = 5;

    /// The overrides of `email` (case-insensitive).
    pub fn override_for(&self, email: &str) -> Option<&OrgManagerOverride> {
        self.overrides
            .iter()
            .find(|o| o.email.eq_ignore_ascii_case(email))
    }
}

/// `[org] source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum OrgSource {
    /// Everyone the directory shows with at least one active direct report.
    #[default]
    Directory,
    /// Only `managers`.
    List,
}

/// One `[[org.manager]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrgManagerOverride {
    pub email: String,
    pub name: Option<String>,
    pub timezone: Option<chrono_tz::Tz>,
    pub locale: Option<Locale>,
    /// `[[org.manager.reports]]`, shaped like `[[reports]]`: a directory report with the same
    /// address takes these settings; another address joins the roster after the directory's.
    pub reports: Vec<Report>,
}

/// `[manager]`: the person whose calendar is read.
#[derive(Debug, Clone, PartialEq)]
pub struct Manager {
    pub email: String,
    pub name: Option<String>,
    /// IANA name; default `UTC`.
    pub timezone: chrono_tz::Tz,
    pub locale: Locale,
    /// `working_hours`; default Mon–Fri 09:00–18:00 (in `timezone`).
    pub working_hours: WorkingHours,
}

/// `[manager] working_hours = "Mon-Fri 09:00-18:00"`: the days and the daily span (local
/// times in the manager's zone) in which make-up 1on1s are proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// Monday first.
    pub days: [bool; 7],
    pub start: chrono::NaiveTime,
    pub end: chrono::NaiveTime,
}

impl Default for WorkingHours {
    fn default() -> Self {
        Self {
            days: [true, true, true, true, true, false, false],
            // 09:00 and 18:00 are valid times of day.
            start: chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap_or(chrono::NaiveTime::MIN),
            end: chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap_or(chrono::NaiveTime::MIN),
        }
    }
}

/// `[scheduling]`: proposing and booking make-up 1on1s.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulingConfig {
    /// Default true: propose slots for open `gap`, `no_series` and `skipped` alerts.
    pub enabled: bool,
    /// Default false: with it (and `enabled`), `cadenced book` may create events and
    /// `cadenced auth` asks for the scope to edit events. Without it cadenced stays read-only
    /// and e-mailed alerts carry the first slot as an iCalendar file.
    pub book: bool,
    /// Default 20h: no slot starts sooner than this after now.
    pub notice: ConfigDuration,
    /// Default false: the daemon books the first slot of a `skipped` run by itself.
    pub auto_book: bool,
}

impl Default for SchedulingConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            book: false,
            notice: ConfigDuration::from_secs(20 * 3_600),
            auto_book: false,
        }
    }
}

impl SchedulingConfig {
    /// Whether booking (and so the write scope) is on.
    pub fn booking(&self) -> bool {
        self.enabled && self.book
    }
}

impl Manager {
    /// The manager's zone in the crate's zone type.
    pub fn zone(&self) -> Zone {
        Zone::Iana(self.timezone)
    }

    /// The name, or the e-mail address when no name is configured.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }
}

/// `[manager] locale`: the agenda template language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Locale {
    #[default]
    En,
    Ja,
}

impl Locale {
    pub const fn as_str(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ja => "ja",
        }
    }
}

/// One `[[reports]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub email: String,
    pub name: Option<String>,
    /// The configured cadence, if any (`cadence_source = "config"`).
    pub cadence: Option<Cadence>,
    /// Other addresses of the same person; they count as the report.
    pub aliases: Vec<String>,
    /// The report's zone for proposing make-ups, when the provider does not give it.
    pub timezone: Option<chrono_tz::Tz>,
    /// The report's working hours (in `timezone`, else the manager's zone), when the provider
    /// does not give them.
    pub working_hours: Option<WorkingHours>,
    /// When the report joined the team (`joined = "YYYY-MM-DD"`): the start of their tenure.
    pub joined: Option<chrono::NaiveDate>,
}

impl Report {
    /// The name, or the e-mail address when no name is configured.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.email)
    }

    /// Whether `email` is this report's address or one of its aliases (case-insensitive).
    pub fn has_address(&self, email: &str) -> bool {
        self.email.eq_ignore_ascii_case(email)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(email))
    }
}

/// `provider = "…"` of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    Google,
    Microsoft,
    Ics,
    Caldav,
}

impl Provider {
    pub const fn as_str(self) -> &'static str {
        match self {
            Provider::Google => "google",
            Provider::Microsoft => "microsoft",
            Provider::Ics => "ics",
            Provider::Caldav => "caldav",
        }
    }
}

impl std::fmt::Display for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[accounts]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    /// Unique; letters, digits, `-`, `_`, `.`.
    pub name: String,
    pub kind: AccountKind,
}

impl Account {
    pub fn provider(&self) -> Provider {
        match self.kind {
            AccountKind::Google(_) => Provider::Google,
            AccountKind::Microsoft(_) => Provider::Microsoft,
            AccountKind::Ics(_) => Provider::Ics,
            AccountKind::Caldav(_) => Provider::Caldav,
        }
    }
}

/// The provider-specific part of an account.
#[derive(Debug, Clone, PartialEq)]
pub enum AccountKind {
    Google(GoogleAccount),
    Microsoft(MicrosoftAccount),
    Ics(IcsAccount),
    Caldav(CaldavAccount),
}

/// A Google Calendar account.
#[derive(Debug, Clone, PartialEq)]
pub struct GoogleAccount {
    /// Calendar ids; default `["primary"]`.
    pub calendars: Vec<String>,
    pub auth: GoogleAuth,
    /// Default `https://www.googleapis.com` (no trailing slash).
    pub api_base: String,
    /// Default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// Default `https://accounts.google.com/o/oauth2/v2/auth`.
    pub auth_url: String,
    /// `directory = true` (org mode only): the subject's direct reports (Admin Directory
    /// `directManager`) join the roster.
    pub directory: bool,
}

impl GoogleAccount {
    pub const DEFAULT_API_BASE: &'static str = "https://www.googleapis.com";
    pub const DEFAULT_TOKEN_URL: &'static str = "https://oauth2.googleapis.com/token";
    pub const DEFAULT_AUTH_URL: &'static str = "https://accounts.google.com/o/oauth2/v2/auth";
}

/// How a Google account authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum GoogleAuth {
    /// User OAuth (`cadenced auth`): `client_id` and optionally `client_secret`/`client_secret_env`.
    OAuth {
        client_id: String,
        client_secret: Option<SecretSource>,
    },
    /// Org-wide mode: a service account with domain-wide delegation impersonating `subject`.
    ServiceAccount {
        /// `service_account_key`, resolved against the config file's directory.
        key: PathBuf,
        /// `subject`; defaults to `[manager] email`.
        subject: String,
    },
}

/// A Microsoft 365 (Graph) account.
#[derive(Debug, Clone, PartialEq)]
pub struct MicrosoftAccount {
    /// Calendar ids; default `["primary"]`, meaning the user's default calendar.
    pub calendars: Vec<String>,
    /// Default `organizations`.
    pub tenant: String,
    pub client_id: String,
    pub auth: MicrosoftAuth,
    /// Default `https://graph.microsoft.com/v1.0` (no trailing slash).
    pub graph_base: String,
    /// Default `https://login.microsoftonline.com`.
    pub login_base: String,
    /// `directory = true`: the user's direct reports (Graph `directReports`) join the roster.
    pub directory: bool,
}

impl MicrosoftAccount {
    pub const DEFAULT_TENANT: &'static str = "organizations";
    pub const DEFAULT_GRAPH_BASE: &'static str = "https://graph.microsoft.com/v1.0";
    pub const DEFAULT_LOGIN_BASE: &'static str = "https://login.microsoftonline.com";
}

/// How a Microsoft account authenticates.
#[derive(Debug, Clone, PartialEq)]
pub enum MicrosoftAuth {
    /// User OAuth (`cadenced auth`), optionally a confidential client.
    Delegated { client_secret: Option<SecretSource> },
    /// Org-wide mode (`user` is set): client-credentials flow reading `user`'s calendar.
    ClientCredentials {
        client_secret: SecretSource,
        user: String,
    },
}

/// A plain iCalendar feed.
#[derive(Debug, Clone, PartialEq)]
pub struct IcsAccount {
    pub source: IcsSource,
}

/// Where an ics account reads its calendar; exactly one of `url` and `path`.
#[derive(Debug, Clone, PartialEq)]
pub enum IcsSource {
    /// `http(s)://…`; `webcal://` is read as `https://`. Often a private address: redacted in Debug.
    Url(SensitiveUrl),
    /// Resolved against the config file's directory; not required to exist at load time.
    Path(PathBuf),
}

/// A CalDAV account (Fastmail, iCloud, Nextcloud, Radicale, …): HTTP Basic with an app password.
#[derive(Debug, Clone, PartialEq)]
pub struct CaldavAccount {
    /// A calendar collection, or a server root / principal from which the calendar home is
    /// discovered. Kept as written (a trailing slash matters to some servers). Redacted in Debug.
    pub url: SensitiveUrl,
    /// Display names or collection paths; empty means every calendar that can hold events.
    pub calendars: Vec<String>,
    pub username: String,
    /// `password_env`: the variable holding the (app) password.
    pub password: SecretSource,
}

/// `[sync]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// Default 400d.
    pub past: ConfigDuration,
    /// Default 120d.
    pub future: ConfigDuration,
    /// Default 5m; at least 30s.
    pub interval: ConfigDuration,
    /// Default 1d: how far the sync window may drift from the one a Microsoft delta link is
    /// frozen on before a new full round re-baselines it.
    pub rebaseline: ConfigDuration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            past: ConfigDuration::from_days(400),
            future: ConfigDuration::from_days(120),
            interval: ConfigDuration::from_secs(300),
            rebaseline: ConfigDuration::from_days(1),
        }
    }
}

/// `[detection]`: patterns added to the built-in ones (matching is the detector's business).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DetectionConfig {
    pub title_patterns: Vec<String>,
    pub exclude_patterns: Vec<String>,
    /// Titles added to the built-in out-of-office titles (the manager is away).
    pub absence_patterns: Vec<String>,
}

/// `[cadence]`.
#[derive(Debug, Clone, PartialEq)]
pub struct CadenceConfig {
    /// Default biweekly.
    pub default: Cadence,
    /// Default 0.5; ≥ 0.
    pub grace: f64,
    /// Default 0.5; in [0, 1].
    pub uneven_ratio: f64,
    /// Default 90d; at least 1d.
    pub lookback: ConfigDuration,
}

impl Default for CadenceConfig {
    fn default() -> Self {
        Self {
            default: Cadence::Biweekly,
            grace: 0.5,
            uneven_ratio: 0.5,
            lookback: ConfigDuration::from_days(90),
        }
    }
}

/// An alert channel named in `[alerts] channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Log,
    Email,
    Webhook,
    Command,
}

impl Channel {
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Log => "log",
            Channel::Email => "email",
            Channel::Webhook => "webhook",
            Channel::Command => "command",
        }
    }
}

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertsConfig {
    /// Default `["log"]`; no duplicates; every non-log channel listed has its section.
    pub channels: Vec<Channel>,
    /// Default immediate.
    pub digest: Digest,
    pub email: Option<EmailChannel>,
    pub webhook: Option<WebhookChannel>,
    pub command: Option<CommandChannel>,
    /// Send a short notice when an announced alert's condition clears (immediate digest only).
    /// Default false.
    pub notify_resolved: bool,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            channels: vec![Channel::Log],
            notify_resolved: false,
            digest: Digest::Immediate,
            email: None,
            webhook: None,
            command: None,
        }
    }
}

/// `[alerts.email]`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmailChannel {
    pub smtp_host: String,
    /// Default by `tls`: starttls 587, tls 465, none 25.
    pub smtp_port: u16,
    /// Default starttls.
    pub tls: SmtpTls,
    /// Given together with `password_env`, or neither.
    pub username: Option<String>,
    /// Name of the environment variable holding the SMTP password.
    pub password_env: Option<String>,
    pub from: String,
    /// A string or an array of strings; default `[manager] email`.
    pub to: Vec<String>,
    /// Default none.
    pub reply_to: Option<String>,
    /// Per SMTP command; default 30s.
    pub timeout: ConfigDuration,
}

impl EmailChannel {
    /// The password source, when SMTP authentication is configured.
    pub fn password(&self) -> Option<SecretSource> {
        self.password_env.clone().map(SecretSource::Env)
    }
}

/// `[alerts.email] tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

impl SmtpTls {
    pub const fn default_port(self) -> u16 {
        match self {
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
            SmtpTls::None => 25,
        }
    }
}

/// `[alerts.webhook]`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookChannel {
    /// Often holds a token (Slack, Teams): redacted in Debug.
    pub url: SensitiveUrl,
    /// Default json.
    pub format: WebhookFormat,
    /// The whole request; default 10s.
    pub timeout: ConfigDuration,
}

/// `[alerts.webhook] format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
    Teams,
}

/// `[alerts.command]`: run `argv` with the alert JSON on stdin.
#[derive(Debug, Clone, PartialEq)]
pub struct CommandChannel {
    /// Non-empty; `argv[0]` is the program.
    pub argv: Vec<String>,
    /// The program is killed after this long (a failed attempt); default 30s.
    pub timeout: ConfigDuration,
}

/// `[agenda]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgendaConfig {
    /// Default true.
    pub enabled: bool,
    /// Default series.
    pub mode: AgendaMode,
    /// Default 2d.
    pub lead_time: ConfigDuration,
    /// Default local.
    pub store: DocumentBackend,
    /// Default `agendas`; relative paths are relative to the state directory (see [`Self::dir_in`]).
    pub dir: PathBuf,
    /// Default none (`""` in the file): URL prefix under which `dir` is published.
    pub link_base: Option<String>,
    /// Default builtin.
    pub template: AgendaTemplate,
    /// Default true: on Microsoft, the agenda link also goes into the event's body (in series
    /// mode the series, once: one update message to the attendees, once); false writes only
    /// the private mark, and report/alerts show the link.
    pub notify_attendees: bool,
}

impl Default for AgendaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mode: AgendaMode::Series,
            lead_time: ConfigDuration::from_days(2),
            store: DocumentBackend::Local,
            dir: PathBuf::from("agendas"),
            link_base: None,
            template: AgendaTemplate::Builtin,
            notify_attendees: true,
        }
    }
}

impl AgendaConfig {
    /// The local agenda directory for a state directory (`dir` if it is absolute).
    pub fn dir_in(&self, state_dir: &Path) -> PathBuf {
        state_dir.join(&self.dir)
    }
}

/// `[agenda] mode` (docs/design.md, Agenda documents).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AgendaMode {
    #[default]
    Series,
    Session,
}

/// `[agenda] store`: the document back-end that holds agenda documents (local Markdown files,
/// Google Docs in Drive, Word documents in OneDrive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DocumentBackend {
    #[default]
    Local,
    GoogleDrive,
    OneDrive,
}

/// `[agenda] template`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum AgendaTemplate {
    #[default]
    Builtin,
    /// A minijinja template file, resolved against the config file's directory.
    File(PathBuf),
}

/// `[store]`: where the state database lives.
#[derive(Clone, PartialEq, Default)]
pub struct StoreConfig {
    /// `url`: a PostgreSQL database (`postgres://user@host:port/db`, never with a password);
    /// `None` (the default) is the SQLite file in the state directory.
    pub url: Option<String>,
    /// `password_env`: the environment variable holding the PostgreSQL password.
    pub password_env: Option<String>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL never holds a password (validation refuses one), but stay on the safe side.
        let url = self
            .url
            .as_deref()
            .map(|u| u.split_once('@').map_or("(hidden)", |(_, rest)| rest));
        f.debug_struct("StoreConfig")
            .field("url", &url)
            .field("password_env", &self.password_env)
            .finish()
    }
}

/// `[daemon]`.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Default 127.0.0.1:8737.
    pub listen: SocketAddr,
    /// Default none (`""`): name of the env var holding the access token; required when `listen`
    /// is not a loopback address.
    pub token_env: Option<String>,
    /// `hosts`: the names (`name` or `name:port`, lower case) under which the listener is
    /// reached besides its own address, e.g. behind a reverse proxy; a request with any other
    /// `Host` gets no data (DNS rebinding).
    pub hosts: Vec<String>,
    /// `lease`: how long an instance's claim on an account lasts without renewal when several
    /// instances share a store (default 1 minute; 5 s to 10 min). An instance that dies hands
    /// its accounts to the others within this period.
    pub lease: ConfigDuration,
}

impl DaemonConfig {
    pub const DEFAULT_LEASE: ConfigDuration = ConfigDuration::from_secs(60);
    pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::V4(std::net::SocketAddrV4::new(
        std::net::Ipv4Addr::LOCALHOST,
        8737,
    ));
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: Self::DEFAULT_LISTEN,
            token_env: None,
            hosts: Vec::new(),
            lease: Self::DEFAULT_LEASE,
        }
    }
}
