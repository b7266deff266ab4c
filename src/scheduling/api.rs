//! The provider calls scheduling needs, translated into the scheduling model: the report's
//! free/busy (Google `freeBusy.query`, Graph `calendar/getSchedule`), and creating, finding and
//! deleting the make-up event (Google `events.insert`/`events.list`/`events.delete`, Graph
//! `POST /me/events`, `GET /me/events?$filter`, `DELETE /me/events/{id}`).
//!
//! Invariants: one free/busy request covers every report of a cycle, split only at the APIs'
//! limits ([`GOOGLE_MAX_ITEMS`], [`GRAPH_MAX_SCHEDULES`], [`MAX_WINDOW_DAYS`]); a calendar the
//! API reports an error for is *unknown*, never free; a 401 refreshes the token once; 429/5xx
//! are retried by `providers/http.rs`; nothing here logs a token.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, NaiveTime, Utc};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use super::slots::{Hours, Span};
use crate::config::{AccountKind, Config, GoogleAccount, MicrosoftAccount, MicrosoftAuth};
use crate::providers::google::auth::Authenticator as GoogleAuth;
use crate::providers::http::{self, RetryPolicy};
use crate::providers::microsoft::auth::Authenticator as GraphAuth;
use crate::providers::microsoft::graph::{GraphUrlError, graph_url};

/// Google `freeBusy.query`: at most 50 calendars per request (`calendarExpansionMax`).
pub const GOOGLE_MAX_ITEMS: usize = 50;
/// Graph `getSchedule`: documented "up to 20 entities at once".
pub const GRAPH_MAX_SCHEDULES: usize = 20;
/// Neither API documents a safe window; cadenced never asks for more than this per request.
pub const MAX_WINDOW_DAYS: i64 = 28;

/// The private property naming the alert a make-up was booked for.
pub const MARK: &str = "cadencedMakeup";
/// The same as a Graph single-value extended property.
pub const GRAPH_PROPERTY_ID: &str =
    "String {5b1c3e7a-2f4d-4b8e-9c61-0d7a3f2e8b14} Name cadencedMakeup";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("account {account}: {message}")]
    Auth { account: String, message: String },
    #[error("account {account}: {source}")]
    Http {
        account: String,
        source: http::HttpError,
    },
    #[error("account {account}: {what} answered HTTP {status}: {message}")]
    Status {
        account: String,
        what: &'static str,
        status: u16,
        message: String,
    },
    #[error("account {account}: unexpected answer to {what}: {reason}")]
    Decode {
        account: String,
        what: &'static str,
        reason: String,
    },
    #[error("account {account}: {0}", account = .1)]
    Url(String, String),
}

/// One person's availability as a provider tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Availability {
    /// Busy spans (tentative and out of office included), and the working hours when the
    /// provider gives them.
    Known {
        busy: Vec<Span>,
        hours: Option<Hours>,
    },
    /// The provider could not say (unknown address, not shared, an error): one sentence why.
    Unknown(String),
}

/// The account through which scheduling talks to a provider.
pub enum SchedulingApi {
    Google {
        account: String,
        google: GoogleAccount,
        auth: GoogleAuth,
    },
    Microsoft {
        account: String,
        ms: MicrosoftAccount,
        auth: GraphAuth,
    },
}

pub use crate::makeup::scheduling_account;

/// Whether the account's stored token may edit events (its granted scope says so).
pub fn can_write(config: &Config, state_dir: &Path) -> bool {
    let Some(account) = scheduling_account(config) else {
        return false;
    };
    if !config.scheduling.booking() {
        return false;
    }
    let path = crate::providers::tokens::token_path(state_dir, &account.name);
    let scope = crate::providers::tokens::load_tokens(&path)
        .ok()
        .flatten()
        .and_then(|t| t.scope);
    match (&account.kind, scope) {
        (AccountKind::Google(_), Some(s)) => s.split_whitespace().any(|s| {
            s == crate::providers::google::auth::WRITE_SCOPE
                || s == "https://www.googleapis.com/auth/calendar"
        }),
        (AccountKind::Microsoft(_), Some(s)) => s.split_whitespace().any(|s| {
            s.eq_ignore_ascii_case("Calendars.ReadWrite") || s.ends_with("/Calendars.ReadWrite")
        }),
        // App-only tokens carry no scope list: the app's permissions decide.
        (AccountKind::Microsoft(m), None) => {
            matches!(m.auth, MicrosoftAuth::ClientCredentials { .. })
        }
        _ => false,
    }
}

impl SchedulingApi {
    pub fn new(config: &Config, state_dir: &Path, client: &Client) -> Option<SchedulingApi> {
        let account = scheduling_account(config)?;
        let clock = crate::providers::google::auth::system_clock();
        match &account.kind {
            AccountKind::Google(g) => {
                let scope = if config.scheduling.booking() {
                    crate::providers::google::auth::scopes(true)
                } else {
                    crate::providers::google::auth::SCOPE.to_string()
                };
                Some(SchedulingApi::Google {
                    account: account.name.clone(),
                    google: g.clone(),
                    auth: GoogleAuth::new(&account.name, g, state_dir, client.clone(), clock)
                        .with_scope(scope),
                })
            }
            AccountKind::Microsoft(m) => Some(SchedulingApi::Microsoft {
                account: account.name.clone(),
                ms: m.clone(),
                auth: GraphAuth::new(
                    &account.name,
                    m,
                    state_dir,
                    client.clone(),
                    crate::providers::microsoft::auth::system_clock(),
                ),
            }),
            // No free/busy or booking through feeds; CalDAV's scheduling outbox (RFC 6638) is not
            // used either: the manager's side only, said so in the output (docs/scheduling.md).
            AccountKind::Ics(_) | AccountKind::Caldav(_) => None,
        }
    }

    pub fn account(&self) -> &str {
        match self {
            SchedulingApi::Google { account, .. } | SchedulingApi::Microsoft { account, .. } => {
                account
            }
        }
    }

    pub fn provider(&self) -> &'static str {
        match self {
            SchedulingApi::Google { .. } => "google",
            SchedulingApi::Microsoft { .. } => "microsoft",
        }
    }

    /// A request with the account's token; a 401 refreshes once. Answers status and body.
    async fn call(
        &self,
        client: &Client,
        method: Method,
        url: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), ApiError> {
        let account = self.account().to_string();
        let auth_err = |e: String| ApiError::Auth {
            account: account.clone(),
            message: e,
        };
        let mut access = match self {
            SchedulingApi::Google { auth, .. } => auth
                .access_token()
                .await
                .map_err(|e| auth_err(e.to_string()))?,
            SchedulingApi::Microsoft { auth, .. } => auth
                .access_token()
                .await
                .map_err(|e| auth_err(e.to_string()))?,
        };
        let mut refreshed = false;
        loop {
            let resp = http::send_buffered_with_retry(
                url,
                RetryPolicy::default(),
                || {
                    let mut b = client
                        .request(method.clone(), url)
                        .query(query)
                        .bearer_auth(&access)
                        .header(reqwest::header::ACCEPT, "application/json");
                    if let Some(body) = body {
                        b = b.json(body);
                    }
                    b
                },
                |s, body| match self {
                    SchedulingApi::Google { .. } => {
                        crate::providers::google::sync::google_retryable(s, body)
                    }
                    SchedulingApi::Microsoft { .. } => {
                        s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error()
                    }
                },
            )
            .await
            .map_err(|source| ApiError::Http {
                account: account.clone(),
                source,
            })?;
            if resp.status == StatusCode::UNAUTHORIZED && !refreshed {
                refreshed = true;
                access = match self {
                    SchedulingApi::Google { auth, .. } => {
                        auth.refresh().await.map_err(|e| auth_err(e.to_string()))?
                    }
                    SchedulingApi::Microsoft { auth, .. } => {
                        auth.refresh().await.map_err(|e| auth_err(e.to_string()))?
                    }
                };
                continue;
            }
            let value = if resp.body.is_empty() {
                Value::Null
            } else {
                serde_json::from_slice(&resp.body).unwrap_or(Value::Null)
            };
            return Ok((resp.status, value));
        }
    }

    fn status_error(&self, what: &'static str, status: StatusCode, body: &Value) -> ApiError {
        ApiError::Status {
            account: self.account().to_string(),
            what,
            status: status.as_u16(),
            message: body["error"]["message"]
                .as_str()
                .unwrap_or("no error message")
                .to_string(),
        }
    }

    fn url(&self, tail: &[&str]) -> Result<String, ApiError> {
        let base = match self {
            SchedulingApi::Google { google, .. } => &google.api_base,
            // Graph: the one builder every Graph call shares.
            SchedulingApi::Microsoft { ms, .. } => {
                return match graph_url(ms, tail) {
                    Ok(url) => Ok(url.to_string()),
                    Err(GraphUrlError::Parse(e)) => Err(ApiError::Url(
                        format!("bad base URL: {e}"),
                        self.account().into(),
                    )),
                    Err(GraphUrlError::CannotBeABase) => Err(ApiError::Url(
                        "the base URL cannot be a base".into(),
                        self.account().into(),
                    )),
                };
            }
        };
        let prefix = ["calendar", "v3"];
        let mut url = reqwest::Url::parse(base)
            .map_err(|e| ApiError::Url(format!("bad base URL: {e}"), self.account().into()))?;
        url.path_segments_mut()
            .map_err(|()| {
                ApiError::Url(
                    "the base URL cannot be a base".into(),
                    self.account().into(),
                )
            })?
            .pop_if_empty()
            .extend(prefix)
            .extend(tail);
        Ok(url.to_string())
    }

    /// The free/busy of `people` over `[from, to)`: one request for all of them, split only at
    /// the API's limits. Every address gets an answer (possibly `Unknown`).
    pub async fn availability(
        &self,
        client: &Client,
        people: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<BTreeMap<String, Availability>, ApiError> {
        let mut out = BTreeMap::new();
        if people.is_empty() || to <= from {
            return Ok(out);
        }
        let mut windows = Vec::new();
        let mut start = from;
        while start < to {
            let end = (start + Duration::days(MAX_WINDOW_DAYS)).min(to);
            windows.push((start, end));
            start = end;
        }
        let per = match self {
            SchedulingApi::Google { .. } => GOOGLE_MAX_ITEMS,
            SchedulingApi::Microsoft { .. } => GRAPH_MAX_SCHEDULES,
        };
        for chunk in people.chunks(per) {
            for (a, b) in &windows {
                let part = match self {
                    SchedulingApi::Google { .. } => self.free_busy(client, chunk, *a, *b).await?,
                    SchedulingApi::Microsoft { .. } => {
                        self.get_schedule(client, chunk, *a, *b).await?
                    }
                };
                for (who, av) in part {
                    merge(
                        out.entry(who).or_insert(Availability::Known {
                            busy: Vec::new(),
                            hours: None,
                        }),
                        av,
                    );
                }
            }
        }
        Ok(out)
    }

    async fn free_busy(
        &self,
        client: &Client,
        people: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, Availability)>, ApiError> {
        let body = json!({
            "timeMin": crate::output::rfc3339(from),
            "timeMax": crate::output::rfc3339(to),
            "timeZone": "UTC",
            "items": people.iter().map(|p| json!({"id": p})).collect::<Vec<_>>(),
        });
        let url = self.url(&["freeBusy"])?;
        let (status, v) = self
            .call(client, Method::POST, &url, &[], Some(&body))
            .await?;
        if !status.is_success() {
            return Err(self.status_error("freeBusy.query", status, &v));
        }
        let calendars = v.get("calendars").and_then(Value::as_object);
        Ok(people
            .iter()
            .map(|p| {
                let entry = calendars.and_then(|c| {
                    c.get(p).or_else(|| {
                        c.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(p))
                            .map(|(_, v)| v)
                    })
                });
                let av = match entry {
                    None => {
                        Availability::Unknown("Google gave no free/busy for this address".into())
                    }
                    Some(e) => match e
                        .get("errors")
                        .and_then(Value::as_array)
                        .filter(|a| !a.is_empty())
                    {
                        Some(errors) => Availability::Unknown(format!(
                            "Google's free/busy answered {}",
                            errors
                                .iter()
                                .filter_map(|e| e["reason"].as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        None => Availability::Known {
                            busy: e
                                .get("busy")
                                .and_then(Value::as_array)
                                .map(|a| a.iter().filter_map(google_period).collect())
                                .unwrap_or_default(),
                            hours: None,
                        },
                    },
                };
                (p.clone(), av)
            })
            .collect())
    }

    async fn get_schedule(
        &self,
        client: &Client,
        people: &[String],
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, Availability)>, ApiError> {
        let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
        let body = json!({
            "schedules": people,
            "startTime": {"dateTime": fmt(from), "timeZone": "UTC"},
            "endTime": {"dateTime": fmt(to), "timeZone": "UTC"},
        });
        let url = self.url(&["calendar", "getSchedule"])?;
        let (status, v) = self
            .call(client, Method::POST, &url, &[], Some(&body))
            .await?;
        if !status.is_success() {
            return Err(self.status_error("getSchedule", status, &v));
        }
        let items = v
            .get("value")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        Ok(people
            .iter()
            .map(|p| {
                let info = items.iter().find(|i| {
                    i["scheduleId"]
                        .as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(p))
                });
                let av = match info {
                    None => Availability::Unknown(
                        "Microsoft Graph gave no schedule for this address".into(),
                    ),
                    Some(i) if i.get("error").is_some_and(|e| !e.is_null()) => {
                        Availability::Unknown(format!(
                            "Microsoft Graph's schedule answered {}",
                            i["error"]["message"].as_str().unwrap_or("an error")
                        ))
                    }
                    Some(i) => Availability::Known {
                        busy: i["scheduleItems"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter(|it| {
                                        let s = it["status"].as_str().unwrap_or("busy");
                                        !s.eq_ignore_ascii_case("free")
                                            && !s.eq_ignore_ascii_case("workingElsewhere")
                                    })
                                    .filter_map(|it| {
                                        Some(Span {
                                            start: graph_time(&it["start"])?,
                                            end: graph_time(&it["end"])?,
                                        })
                                    })
                                    .collect()
                            })
                            .unwrap_or_default(),
                        hours: graph_hours(&i["workingHours"]),
                    },
                };
                (p.clone(), av)
            })
            .collect())
    }

    /// Create the make-up in the manager's calendar, the report invited, marked with `mark`.
    /// Answers the new event's id.
    pub async fn create(&self, client: &Client, e: &NewMakeup) -> Result<String, ApiError> {
        match self {
            SchedulingApi::Google { .. } => {
                let body = json!({
                    "summary": e.title,
                    "description": e.description,
                    "start": {"dateTime": crate::output::rfc3339(e.span.start)},
                    "end": {"dateTime": crate::output::rfc3339(e.span.end)},
                    "attendees": [{"email": e.manager}, {"email": e.report}],
                    "extendedProperties": {"private": {MARK: e.mark}},
                });
                let url = self.url(&["calendars", "primary", "events"])?;
                let (status, v) = self
                    .call(
                        client,
                        Method::POST,
                        &url,
                        &[("sendUpdates", "all")],
                        Some(&body),
                    )
                    .await?;
                if !status.is_success() {
                    return Err(self.status_error("events.insert", status, &v));
                }
                self.id_of(&v, "events.insert")
            }
            SchedulingApi::Microsoft { .. } => {
                let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S").to_string();
                let body = json!({
                    "subject": e.title,
                    "body": {"contentType": "text", "content": e.description},
                    "start": {"dateTime": fmt(e.span.start), "timeZone": "UTC"},
                    "end": {"dateTime": fmt(e.span.end), "timeZone": "UTC"},
                    "attendees": [{"emailAddress": {"address": e.report}, "type": "required"}],
                    "transactionId": e.transaction,
                    "singleValueExtendedProperties": [{"id": GRAPH_PROPERTY_ID, "value": e.mark}],
                });
                let url = self.url(&["events"])?;
                let (status, v) = self
                    .call(client, Method::POST, &url, &[], Some(&body))
                    .await?;
                if !status.is_success() {
                    return Err(self.status_error("POST events", status, &v));
                }
                self.id_of(&v, "POST events")
            }
        }
    }

    fn id_of(&self, v: &Value, what: &'static str) -> Result<String, ApiError> {
        v["id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| ApiError::Decode {
                account: self.account().to_string(),
                what,
                reason: "no event id".into(),
            })
    }

    /// The live event carrying `mark`, if the calendar has one.
    pub async fn find(&self, client: &Client, mark: &str) -> Result<Option<Found>, ApiError> {
        match self {
            SchedulingApi::Google { .. } => {
                let url = self.url(&["calendars", "primary", "events"])?;
                let prop = format!("{MARK}={mark}");
                let (status, v) = self
                    .call(
                        client,
                        Method::GET,
                        &url,
                        &[("privateExtendedProperty", prop.as_str())],
                        None,
                    )
                    .await?;
                if !status.is_success() {
                    return Err(self.status_error("events.list", status, &v));
                }
                Ok(v["items"].as_array().and_then(|items| {
                    let i = items
                        .iter()
                        .find(|i| i["status"].as_str() != Some("cancelled"))?;
                    let at = |k: &str| {
                        DateTime::parse_from_rfc3339(i[k]["dateTime"].as_str()?)
                            .ok()
                            .map(|t| t.with_timezone(&Utc))
                    };
                    Some(Found {
                        id: i["id"].as_str()?.to_string(),
                        title: i["summary"].as_str().unwrap_or("").to_string(),
                        start: at("start"),
                        end: at("end"),
                    })
                }))
            }
            SchedulingApi::Microsoft { .. } => {
                let url = self.url(&["events"])?;
                let filter = format!(
                    "singleValueExtendedProperties/Any(ep: ep/id eq '{GRAPH_PROPERTY_ID}' and ep/value eq '{}')",
                    mark.replace('\'', "''")
                );
                let (status, v) = self
                    .call(
                        client,
                        Method::GET,
                        &url,
                        &[
                            ("$filter", filter.as_str()),
                            ("$select", "id,subject,start,end"),
                        ],
                        None,
                    )
                    .await?;
                if !status.is_success() {
                    return Err(self.status_error("GET events", status, &v));
                }
                Ok(v["value"].as_array().and_then(|a| a.first()).and_then(|i| {
                    Some(Found {
                        id: i["id"].as_str()?.to_string(),
                        title: i["subject"].as_str().unwrap_or("").to_string(),
                        start: graph_time(&i["start"]),
                        end: graph_time(&i["end"]),
                    })
                }))
            }
        }
    }

    /// Delete the make-up (attendees get the cancellation). `Ok(false)`: it was already gone.
    pub async fn delete(&self, client: &Client, event_id: &str) -> Result<bool, ApiError> {
        let (url, query): (String, Vec<(&str, &str)>) = match self {
            SchedulingApi::Google { .. } => (
                self.url(&["calendars", "primary", "events", event_id])?,
                vec![("sendUpdates", "all")],
            ),
            SchedulingApi::Microsoft { .. } => (self.url(&["events", event_id])?, vec![]),
        };
        let (status, v) = self
            .call(client, Method::DELETE, &url, &query, None)
            .await?;
        match status.as_u16() {
            200..=299 => Ok(true),
            404 | 410 => Ok(false),
            _ => Err(self.status_error("delete event", status, &v)),
        }
    }
}

/// A make-up found in the calendar by its property.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub id: String,
    pub title: String,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// What to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMakeup {
    pub title: String,
    pub description: String,
    pub span: Span,
    pub manager: String,
    pub report: String,
    /// The private property's value: the alert id.
    pub mark: String,
    /// Graph `transactionId`: the same for the retries of one booking, new for a booking made
    /// again after an undo (Graph documents no retention for it).
    pub transaction: String,
}

fn merge(into: &mut Availability, part: Availability) {
    match (into, part) {
        (Availability::Known { busy, hours }, Availability::Known { busy: b, hours: h }) => {
            busy.extend(b);
            if hours.is_none() {
                *hours = h;
            }
        }
        (into @ Availability::Known { .. }, unknown @ Availability::Unknown(_)) => *into = unknown,
        (Availability::Unknown(_), _) => {}
    }
}

fn google_period(p: &Value) -> Option<Span> {
    let parse = |k: &str| {
        DateTime::parse_from_rfc3339(p.get(k)?.as_str()?)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let (start, end) = (parse("start")?, parse("end")?);
    (end > start).then_some(Span { start, end })
}

/// A Graph dateTimeTimeZone (seven fractional digits, no offset) as an instant.
fn graph_time(v: &Value) -> Option<DateTime<Utc>> {
    let text = v["dateTime"].as_str()?;
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let zone = crate::tz::resolve_name(v["timeZone"].as_str().unwrap_or("UTC"))?;
    Some(zone.to_utc(local))
}

/// Graph `workingHours` as [`Hours`] (`None` when absent or in a zone cadenced cannot name).
fn graph_hours(v: &Value) -> Option<Hours> {
    let days = v["daysOfWeek"].as_array()?;
    let mut set = [false; 7];
    for d in days.iter().filter_map(Value::as_str) {
        let i = [
            "monday",
            "tuesday",
            "wednesday",
            "thursday",
            "friday",
            "saturday",
            "sunday",
        ]
        .iter()
        .position(|n| d.eq_ignore_ascii_case(n))?;
        set[i] = true;
    }
    let time = |k: &str| {
        let s = v[k].as_str()?;
        NaiveTime::parse_from_str(s, "%H:%M:%S%.f").ok()
    };
    let zone = crate::tz::resolve_name(v["timeZone"]["name"].as_str()?)?;
    let (start, end) = (time("startTime")?, time("endTime")?);
    (end > start).then_some(Hours {
        zone,
        days: set,
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_working_hours_and_times() {
        let h = graph_hours(&json!({
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
            "timeZone": {"name": "W. Europe Standard Time"}
        }))
        .unwrap();
        assert_eq!(h.days, [true, true, true, true, true, false, false]);
        assert_eq!(h.start, NaiveTime::from_hms_opt(8, 0, 0).unwrap());
        assert_eq!(h.zone.name(), "Europe/Berlin");
        assert!(graph_hours(&json!({"daysOfWeek": ["monday"], "startTime": "08:00:00", "endTime": "17:00:00", "timeZone": {"name": "Nowhere/Else"}})).is_none());
        let t = graph_time(&json!({"dateTime": "2026-03-15T09:00:00.0000000", "timeZone": "UTC"}))
            .unwrap();
        assert_eq!(crate::output::rfc3339(t), "2026-03-15T09:00:00Z");
    }

    #[test]
    fn an_error_makes_a_person_unknown_never_free() {
        let mut a = Availability::Known {
            busy: vec![],
            hours: None,
        };
        merge(&mut a, Availability::Unknown("x".into()));
        assert!(matches!(a, Availability::Unknown(_)));
    }
}
