//! Microsoft Graph v1.0 event JSON (calendarView, calendarView/delta, events, instances) → the
//! normalized [`Event`]. Pure: no HTTP, no store.
//!
//! Section references (§) are to `docs/microsoft-graph.md`.
//!
//! DTOs are loose, as for Google: `#[serde(default)]`, unknown fields ignored, `null` read as
//! absent (Graph writes `"seriesMasterId": null`, `"recurrence": null`; §3.1, samples 12, 13).
//! Items are decoded one by one from the page's raw JSON so a malformed item never spoils its
//! page. Enum strings (`type`, `response`, days, …) are compared case-insensitively.
//!
//! Decisions:
//! - **What an item is** (§3.1 `type`): `@removed` (any reason, §2.4) → [`Mapped::Delete`]; the
//!   sync must accept unknown ids, since delta reports out-of-window changes that way.
//!   `occurrence` → [`Mapped::BareOccurrence`], bare (delta, sample 09) or full (instances,
//!   sample 13): an unmodified occurrence carries nothing its master does not, and is produced
//!   by expanding the master, so the sync only needs the master id to fetch. `seriesMaster` →
//!   a master; without `recurrence` (a partial delta item, §2.4 "may carry only some
//!   properties") → [`Mapped::IncompleteMaster`] (fetch it by id). `exception` → an override.
//!   Anything else → a single event. When `type` is absent (a `$select` without it), an item
//!   with `recurrence` is a master and one with `seriesMasterId` an exception.
//! - **Times** (§3.1 `start`/`end`, §3.5): `dateTime` has no offset and is wall time in
//!   `timeZone` (absent → UTC, the default without `Prefer`); `timeZone` is resolved with
//!   [`resolve_name`] (Windows or IANA names). Singles and exceptions keep what Graph sent: a UTC
//!   instant when `timeZone` is UTC, else wall time in that zone. An unknown `timeZone` is an
//!   error (the instant is unknowable).
//! - **All-day** (`isAllDay`, §3.5): `EventTime::Date` from the *date part* of `dateTime`, never
//!   converted from UTC: Graph renders all-day events as midnight in the requested zone
//!   (floating, UNVERIFIED in Microsoft docs). `end` is exclusive (next midnight); an end not
//!   after the start becomes start + 1 day.
//! - **Series zone** (§3.2, §3.5): a master's DTSTART is wall time in its series zone so that
//!   expansion keeps the local time across DST: `recurrence.range.recurrenceTimeZone`, else
//!   `originalStartTimeZone`, else a non-UTC `start.timeZone`, each through [`resolve_name`]
//!   (Windows → IANA). When none resolves (`Customized Time Zone`, `tzone://Microsoft/Custom`:
//!   Graph gives no rules for it) the series is expanded in UTC and a warning says DST shifts
//!   will be wrong. The master's `start`/`end` (the first instance, UTC by default) are converted
//!   into that zone; the end uses the same zone.
//! - **RRULE** ([`recurrence_to_rrule`], §3.2): daily → `FREQ=DAILY`; weekly → `BYDAY` + `WKST`
//!   from `firstDayOfWeek` (it changes which weeks count for `INTERVAL>1`, RFC 5545 §3.3.10);
//!   absoluteMonthly → `BYMONTHDAY`; relativeMonthly → `BYDAY=<n><day>` for one day, or the
//!   day list + `BYSETPOS=<n>` for several ("first weekday"), `index: last` → -1;
//!   absoluteYearly → `BYMONTH` + `BYMONTHDAY`; relativeYearly → `BYMONTH` + the relative
//!   `BYDAY`/`BYSETPOS`. `INTERVAL` is written when it is not 1. Fields the pattern type does not
//!   use are ignored (Graph fills them with sentinels: `month: 0`, `dayOfMonth: 0`,
//!   `index: first`; §3.1 "Not set" sentinels).
//! - **Day 29–31 in shorter months**: Outlook puts such an occurrence on the month's last day
//!   (its recurrence dialog says so; not stated in the Graph docs), where RFC 5545 would skip the
//!   month. So `dayOfMonth` d beyond the shortest length L of the month(s) concerned is written
//!   `BYMONTHDAY=L,…,d;BYSETPOS=-1` (the last existing day of that list).
//! - **Range** (§3.2; Graph's recurrenceRange page: `recurrenceTimeZone` is the zone of
//!   `startDate`/`endDate`, and the last occurrence may fall before `endDate`): `endDate` →
//!   `UNTIL` at the *end* of that day (23:59:59) in the series zone, converted to UTC
//!   (`UNTIL=…Z`, as RFC 5545 requires for a zoned DTSTART), so an occurrence on `endDate` is
//!   kept; for all-day series `UNTIL=<date>` (a DATE, as RFC 5545 requires for a DATE DTSTART).
//!   `numbered` → `COUNT`; `noEnd` → no bound. An `endDate` range without a real date (the
//!   `0001-01-01` sentinel) or a `numbered` one with no positive count is an error: the series'
//!   extent is unknown, so it is not guessed.
//! - **Cancelled occurrences** (§3.1, §3.3): each `OID.<masterId>.<yyyy-MM-dd>` becomes an EXDATE
//!   on that date at DTSTART's wall time in the series zone (the date is read as the original
//!   occurrence's date in the series' frame; UNVERIFIED which zone Exchange uses), or a DATE for
//!   all-day series. This removes occurrences deleted without any delta entry (§2.4).
//! - **Exceptions** (§3.1 `originalStart`, §3.3): `series_id` = `seriesMasterId`; `recurrence_id`
//!   = `originalStart` (a UTC instant) written in the master's frame when the caller knows the
//!   master ([`SeriesInfo`]): wall time in its zone (UTC when that instant is the second reading
//!   of a fall-back hour), or its date for all-day series. Without the master: UTC, or for an
//!   all-day exception the date of `originalStart` in `originalStartTimeZone` (UTC if unknown;
//!   UNVERIFIED how Exchange writes it). The expansion matches zoned ids by instant, so a UTC id
//!   still lands. Without `originalStart`: the beta `occurrenceId` date (sample 14) at the
//!   master's wall time, else an error (`$select` must include `originalStart`).
//! - **Embedded exceptions** ([`map_series`], §3.3, sample 14): `exceptionOccurrences` items are
//!   mapped as exceptions of the master (their `seriesMasterId` defaults to the master's id).
//!   `Subject` with a capital S (sample 14, verbatim from the doc) is accepted as `subject`.
//! - **uid** (§3.1 `iCalUId`, "different for each occurrence"): the master's uid when the caller
//!   knows it, else the *clean* global object id: when `iCalUId` is an Exchange GlobalObjectId
//!   (`040000008200E00074C5B7101A82E008…`), bytes 16–19 (the instance date) are zeroed, which
//!   gives the same value for the master and all its instances ([MS-OXOCAL] §2.2.1.27/28, not
//!   in docs/microsoft-graph.md); else `iCalUId`; else the `seriesMasterId`/`id`.
//! - **Status**: `isCancelled` → `Cancelled`, else `Confirmed`.
//! - **People** (§3.1): `organizer.emailAddress` → organizer; `attendees[]` with an address →
//!   attendees, `type: resource` → `resource = true`; `status.response` accepted → Accepted,
//!   declined → Declined, tentativelyAccepted → Tentative, organizer → Accepted (the organizer
//!   attends), none/notResponded/other → NeedsAction. Graph does not mark which attendee is the
//!   owner (`is_self` stays false). The owner's own `responseStatus` (accepted, declined,
//!   tentativelyAccepted) → `self_response`: in an attendee's copy of a meeting the attendee
//!   list carries the invitation's statuses (`none`), and the owner's answer is only there, so
//!   a manager who declines a report's 1on1 is seen (`organizer`/`none`/`notResponded` → none).
//! - **Other fields**: `subject` → summary; `bodyPreview` (plain text) → description;
//!   `location.displayName` → location; `lastModifiedDateTime` → updated; `@odata.etag`, else
//!   `changeKey`, → etag; `sequence` is 0 (Graph has none).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use serde::{Deserialize, Deserializer};

use crate::model::{Attendee, Event, EventStatus, EventTime, Person, RecurrenceSet, Response};
use crate::tz::{Zone, resolve_name};

/// `null` and absent both read as the type's default (Graph writes `null` for unset values).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One page of a collection (`value` + `@odata.nextLink` / `@odata.deltaLink`, §2.1, §2.4).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EventsPage {
    /// Kept raw: each item is decoded on its own (a malformed one is skipped).
    #[serde(deserialize_with = "nullable")]
    pub value: Vec<Box<serde_json::value::RawValue>>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

/// A Graph `event` (§3.1), as far as the daemon reads it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsEvent {
    #[serde(deserialize_with = "nullable")]
    pub id: String,
    #[serde(rename = "@odata.etag")]
    pub odata_etag: Option<String>,
    #[serde(rename = "@removed")]
    pub removed: Option<MsRemoved>,
    #[serde(rename = "iCalUId")]
    pub ical_uid: Option<String>,
    /// `singleInstance`, `occurrence`, `exception`, `seriesMaster`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    pub series_master_id: Option<String>,
    #[serde(alias = "Subject")]
    pub subject: Option<String>,
    pub body_preview: Option<String>,
    pub start: Option<MsDateTime>,
    pub end: Option<MsDateTime>,
    #[serde(deserialize_with = "nullable")]
    pub is_all_day: bool,
    pub original_start_time_zone: Option<String>,
    pub original_end_time_zone: Option<String>,
    /// UTC with `Z` (occurrences and exceptions only).
    pub original_start: Option<String>,
    pub recurrence: Option<MsRecurrence>,
    #[serde(deserialize_with = "nullable")]
    pub is_cancelled: bool,
    pub is_organizer: Option<bool>,
    /// `free`, `tentative`, `busy`, `oof` (out of office), `workingElsewhere`, `unknown`.
    pub show_as: Option<String>,
    pub response_status: Option<MsResponseStatus>,
    pub organizer: Option<MsRecipient>,
    #[serde(deserialize_with = "nullable")]
    pub attendees: Vec<MsAttendee>,
    pub location: Option<MsLocation>,
    pub change_key: Option<String>,
    pub last_modified_date_time: Option<String>,
    /// `OID.<masterId>.<yyyy-MM-dd>` of each cancelled occurrence (masters, `$select` only).
    #[serde(deserialize_with = "nullable")]
    pub cancelled_occurrences: Vec<String>,
    /// Modified occurrences (masters, `$select` + `$expand` only).
    #[serde(deserialize_with = "nullable")]
    pub exception_occurrences: Vec<MsEvent>,
    /// Beta only: `OID.<masterId>.<yyyy-MM-dd>`.
    pub occurrence_id: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MsRemoved {
    pub reason: Option<String>,
}

/// `dateTimeTimeZone`: `dateTime` without offset, wall time in `timeZone`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsDateTime {
    pub date_time: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsRecurrence {
    pub pattern: Option<MsPattern>,
    pub range: Option<MsRange>,
}

/// `recurrencePattern` (§3.2).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsPattern {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub interval: Option<i64>,
    #[serde(deserialize_with = "nullable")]
    pub days_of_week: Vec<String>,
    pub day_of_month: Option<i64>,
    pub month: Option<i64>,
    pub first_day_of_week: Option<String>,
    pub index: Option<String>,
}

/// `recurrenceRange` (§3.2).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsRange {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub number_of_occurrences: Option<i64>,
    pub recurrence_time_zone: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsResponseStatus {
    pub response: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsRecipient {
    pub email_address: Option<MsEmail>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct MsEmail {
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsAttendee {
    /// `required`, `optional`, `resource`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<MsResponseStatus>,
    pub email_address: Option<MsEmail>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct MsLocation {
    pub display_name: Option<String>,
}

/// What one item means for the store.
#[derive(Debug, Clone, PartialEq)]
pub enum Mapped {
    /// Store (insert or replace) this event.
    Upsert(Box<Event>),
    /// Remove this id (it may be unknown: delta reports out-of-window changes this way).
    Delete(String),
    /// An occurrence of a series: nothing to store (the master's expansion produces it), but
    /// the master must be known; fetch it if it is not.
    BareOccurrence {
        id: String,
        series_master_id: String,
    },
    /// A series master without its `recurrence`: fetch it by id.
    IncompleteMaster(String),
}

/// What an exception needs to know about its series master.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesInfo {
    /// The master's `uid`.
    pub uid: String,
    /// The master's DTSTART: its frame (date → all-day, zoned → that zone) and wall time.
    pub start: EventTime,
}

impl SeriesInfo {
    /// The info of a stored master (`None` for anything else).
    pub fn of(master: &Event) -> Option<SeriesInfo> {
        master.is_master().then(|| SeriesInfo {
            uid: master.uid.clone(),
            start: master.start.clone(),
        })
    }
}

/// A lookup of series masters by id, for exceptions (`|_| None` when none is known).
pub type SeriesLookup<'a> = &'a dyn Fn(&str) -> Option<SeriesInfo>;

/// Decode and map one raw item. `Err` is a one-sentence reason to log; the item is skipped.
pub fn map_item(
    raw: &serde_json::value::RawValue,
    calendar: &str,
    series: SeriesLookup<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    let item: MsEvent =
        serde_json::from_str(raw.get()).map_err(|e| format!("an item could not be read: {e}"))?;
    map_event(&item, calendar, series, warn)
}

/// How an item is treated (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    Occurrence,
    Exception,
    Master,
}

fn kind_of(item: &MsEvent) -> Kind {
    let has_master_id = non_empty(item.series_master_id.as_deref()).is_some();
    match item
        .event_type
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("occurrence") => Kind::Occurrence,
        Some("exception") => Kind::Exception,
        Some("seriesmaster") => Kind::Master,
        Some(t) if !t.is_empty() => Kind::Single,
        _ if item.recurrence.is_some() && !has_master_id => Kind::Master,
        _ if has_master_id => Kind::Exception,
        _ => Kind::Single,
    }
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// Map one decoded item (see the module doc for every rule).
pub fn map_event(
    item: &MsEvent,
    calendar: &str,
    series: SeriesLookup<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<Mapped, String> {
    let id = item.id.trim();
    if id.is_empty() {
        return Err("an item has no id".into());
    }
    if item.removed.is_some() {
        return Ok(Mapped::Delete(id.to_string()));
    }
    match kind_of(item) {
        Kind::Occurrence => match non_empty(item.series_master_id.as_deref()) {
            Some(m) => Ok(Mapped::BareOccurrence {
                id: id.to_string(),
                series_master_id: m.to_string(),
            }),
            None => Err(format!("event {id}: an occurrence without seriesMasterId")),
        },
        Kind::Master if item.recurrence.is_none() => Ok(Mapped::IncompleteMaster(id.to_string())),
        Kind::Master => map_master(item, calendar, warn).map(|e| Mapped::Upsert(Box::new(e))),
        Kind::Exception => {
            let master_id = non_empty(item.series_master_id.as_deref())
                .ok_or_else(|| format!("event {id}: an exception without seriesMasterId"))?;
            let info = series(master_id);
            map_exception(item, calendar, master_id, info.as_ref(), warn)
                .map(|e| Mapped::Upsert(Box::new(e)))
        }
        Kind::Single => {
            let (start, end) = times(item)?;
            Ok(Mapped::Upsert(Box::new(base_event(
                item, calendar, start, end, None,
            ))))
        }
    }
}

/// Map a master fetched by id with `$select=…,recurrence,cancelledOccurrences,exceptionOccurrences`
/// (§3.3): the master first (always read as a master, whatever its `type`), then one override
/// per `exceptionOccurrences` item. An exception that cannot be
/// mapped is skipped with a warning; `Err` only when the master itself cannot be.
pub fn map_series(
    master: &MsEvent,
    calendar: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Vec<Mapped>, String> {
    let mut item = master.clone();
    // Whatever `$select` left out, this is a master (without `recurrence`: incomplete).
    item.event_type = Some("seriesMaster".into());
    let mapped = map_event(&item, calendar, &|_| None, warn)?;
    let info = match &mapped {
        Mapped::Upsert(e) => SeriesInfo::of(e),
        _ => None,
    };
    let master_id = master.id.trim();
    let mut out = vec![mapped];
    for ex in &master.exception_occurrences {
        let mut ex = ex.clone();
        if non_empty(ex.series_master_id.as_deref()).is_none() {
            ex.series_master_id = Some(master_id.to_string());
        }
        if ex.event_type.is_none() {
            ex.event_type = Some("exception".into());
        }
        let lookup = |_: &str| info.clone();
        match map_event(&ex, calendar, &lookup, warn) {
            Ok(m) => out.push(m),
            Err(e) => warn(format!("series {master_id}: exception skipped: {e}")),
        }
    }
    Ok(out)
}

/// The fields every kind shares; `start`/`end` and the series parts are the caller's.
fn base_event(
    item: &MsEvent,
    calendar: &str,
    start: EventTime,
    end: EventTime,
    uid: Option<String>,
) -> Event {
    let id = item.id.trim();
    let organizer = item
        .organizer
        .as_ref()
        .and_then(|o| o.email_address.as_ref())
        .and_then(person);
    let attendees = item
        .attendees
        .iter()
        .filter_map(|a| {
            let p = person(a.email_address.as_ref()?)?;
            Some(Attendee {
                email: p.email,
                name: p.name,
                response: response(a.status.as_ref().and_then(|s| s.response.as_deref())),
                resource: a
                    .kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case("resource")),
                is_self: false,
            })
        })
        .collect();
    let uid = uid
        .or_else(|| non_empty(item.ical_uid.as_deref()).map(clean_global_object_id))
        .unwrap_or_else(|| id.to_string());
    Event {
        calendar: calendar.to_string(),
        uid,
        event_id: id.to_string(),
        series_id: None,
        recurrence: None,
        recurrence_id: None,
        this_and_future: false,
        start,
        end,
        status: if item.is_cancelled {
            EventStatus::Cancelled
        } else {
            EventStatus::Confirmed
        },
        summary: item.subject.clone().unwrap_or_default(),
        description: non_empty(item.body_preview.as_deref()).map(str::to_string),
        location: item
            .location
            .as_ref()
            .and_then(|l| non_empty(l.display_name.as_deref()))
            .map(str::to_string),
        organizer,
        attendees,
        self_response: own_response(item),
        out_of_office: item.show_as.as_deref() == Some("oof"),
        sequence: 0,
        updated: item
            .last_modified_date_time
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t.trim()).ok())
            .map(|t| t.with_timezone(&Utc)),
        etag: non_empty(item.odata_etag.as_deref())
            .or_else(|| non_empty(item.change_key.as_deref()))
            .map(str::to_string),
    }
}

fn person(e: &MsEmail) -> Option<Person> {
    Some(Person {
        email: non_empty(e.address.as_deref())?.to_string(),
        name: non_empty(e.name.as_deref()).map(str::to_string),
    })
}

/// The owner's own answer (`responseStatus`, §3.1) when it is one: `organizer` (the owner
/// organizes), `none` and `notResponded` say nothing the attendee list would not.
fn own_response(item: &MsEvent) -> Option<Response> {
    let r = item.response_status.as_ref()?.response.as_deref()?;
    match response(Some(r)) {
        Response::NeedsAction => None,
        _ if r.eq_ignore_ascii_case("organizer") => None,
        answer => Some(answer),
    }
}

/// `responseType` (§3.1) → the model's response.
fn response(r: Option<&str>) -> Response {
    match r.map(str::to_ascii_lowercase).as_deref() {
        Some("accepted") | Some("organizer") => Response::Accepted,
        Some("declined") => Response::Declined,
        Some("tentativelyaccepted") => Response::Tentative,
        _ => Response::NeedsAction,
    }
}

/// Exchange's GlobalObjectId prefix ([MS-OXOCAL] §2.2.1.27), as Graph writes it in `iCalUId`.
const GOID_PREFIX: &str = "040000008200E00074C5B7101A82E008";

/// The clean GlobalObjectId: the instance date (bytes 16–19, hex 32..40) zeroed, so every
/// instance of a series has its master's id. Other values are returned as they are.
fn clean_global_object_id(uid: &str) -> String {
    let is_goid = uid.len() >= 40
        && uid.is_char_boundary(40)
        && uid[..32].eq_ignore_ascii_case(GOID_PREFIX)
        && uid[32..40].bytes().all(|b| b.is_ascii_hexdigit());
    if is_goid && &uid[32..40] != "00000000" {
        format!("{}00000000{}", &uid[..32], &uid[40..])
    } else {
        uid.to_string()
    }
}

/// A Graph `dateTime` value: wall time, 7 fractional digits, no offset (§3.1). A value with an
/// offset (never seen, tolerated) is returned as UTC.
fn parse_local(v: &str) -> Result<(NaiveDateTime, bool), String> {
    let v = v.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok((t.with_timezone(&Utc).naive_utc(), true));
    }
    NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|t| (t, false))
        .map_err(|_| format!("`{v}` is not a date-time"))
}

/// A `dateTimeTimeZone` as an instant plus the zone it was written in.
fn instant_of(t: &MsDateTime) -> Result<(DateTime<Utc>, Zone, NaiveDateTime), String> {
    let v = non_empty(t.date_time.as_deref()).ok_or("no dateTime")?;
    let (local, is_utc) = parse_local(v)?;
    let zone = match non_empty(t.time_zone.as_deref()) {
        _ if is_utc => Zone::Utc,
        None => Zone::Utc,
        Some(name) => resolve_name(name).ok_or_else(|| format!("unknown timeZone `{name}`"))?,
    };
    Ok((zone.to_utc(local), zone, local))
}

/// The date part of an all-day `dateTime`, not converted (§3.5).
fn date_of(t: &MsDateTime) -> Result<NaiveDate, String> {
    let v = non_empty(t.date_time.as_deref()).ok_or("no dateTime")?;
    let d = v.get(..10).unwrap_or(v);
    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| format!("`{v}` is not a date-time"))
}

/// Start and end as Graph sent them (singles, exceptions).
/// The start instant of an item (all-day: midnight UTC of its date), to compare a series'
/// occurrences with an expansion of the stored master. `None` when the start is unreadable.
pub fn start_instant(item: &MsEvent) -> Option<DateTime<Utc>> {
    times(item).ok().map(|(s, _)| s.instant(&Zone::Utc))
}

fn times(item: &MsEvent) -> Result<(EventTime, EventTime), String> {
    let id = item.id.trim();
    let start = item
        .start
        .as_ref()
        .ok_or_else(|| format!("event {id}: no start"))?;
    if item.is_all_day {
        let s = date_of(start).map_err(|e| format!("event {id}: start: {e}"))?;
        return Ok(all_day(s, item.end.as_ref().and_then(|e| date_of(e).ok())));
    }
    let as_written = |t: &MsDateTime| -> Result<EventTime, String> {
        let (_, zone, local) = instant_of(t)?;
        Ok(EventTime::Zoned { local, zone })
    };
    let s = as_written(start).map_err(|e| format!("event {id}: start: {e}"))?;
    let e = match &item.end {
        Some(e) => as_written(e).map_err(|err| format!("event {id}: end: {err}"))?,
        None => s.clone(),
    };
    Ok(fix_end(s, e))
}

fn all_day(start: NaiveDate, end: Option<NaiveDate>) -> (EventTime, EventTime) {
    let next = start.succ_opt().unwrap_or(start);
    let end = end.filter(|e| *e > start).unwrap_or(next);
    (
        EventTime::Date { date: start },
        EventTime::Date { date: end },
    )
}

/// An end before the start becomes the start (a zero-length event).
fn fix_end(start: EventTime, end: EventTime) -> (EventTime, EventTime) {
    if end.instant(&Zone::Utc) < start.instant(&Zone::Utc) {
        (start.clone(), start)
    } else {
        (start, end)
    }
}

/// `instant` as wall time in `zone`, or UTC when that wall time would read as another instant
/// (the second pass of a fall-back hour).
fn zoned_at(zone: &Zone, instant: DateTime<Utc>) -> EventTime {
    let local = zone.from_utc(instant);
    if zone.to_utc(local) == instant {
        EventTime::Zoned {
            local,
            zone: zone.clone(),
        }
    } else {
        EventTime::utc(instant)
    }
}

/// The zone a series is expanded in (see the module doc), or `None` when no name resolves.
fn series_zone(item: &MsEvent) -> Option<Zone> {
    let range_zone = item
        .recurrence
        .as_ref()
        .and_then(|r| r.range.as_ref())
        .and_then(|r| non_empty(r.recurrence_time_zone.as_deref()));
    // `start.timeZone` is only the rendering zone (`Prefer`); UTC there says nothing.
    let start_zone = item
        .start
        .as_ref()
        .and_then(|s| non_empty(s.time_zone.as_deref()))
        .and_then(resolve_name)
        .filter(|z| *z != Zone::Utc);
    [
        range_zone,
        non_empty(item.original_start_time_zone.as_deref()),
    ]
    .into_iter()
    .flatten()
    .find_map(resolve_name)
    .or(start_zone)
}

fn map_master(
    item: &MsEvent,
    calendar: &str,
    warn: &mut dyn FnMut(String),
) -> Result<Event, String> {
    let id = item.id.trim();
    let rec = item
        .recurrence
        .as_ref()
        .ok_or_else(|| format!("event {id}: a series master without recurrence"))?;
    let pattern = rec
        .pattern
        .as_ref()
        .ok_or_else(|| format!("event {id}: recurrence without pattern"))?;
    let range = rec
        .range
        .as_ref()
        .ok_or_else(|| format!("event {id}: recurrence without range"))?;
    let start_dt = item
        .start
        .as_ref()
        .ok_or_else(|| format!("event {id}: no start"))?;

    let (start, end, zone) = if item.is_all_day {
        let s = date_of(start_dt).map_err(|e| format!("event {id}: start: {e}"))?;
        let (s, e) = all_day(s, item.end.as_ref().and_then(|e| date_of(e).ok()));
        (s, e, None)
    } else {
        let zone = series_zone(item).unwrap_or_else(|| {
            warn(format!(
                "event {id}: no known series time zone (recurrenceTimeZone {:?}, \
                 originalStartTimeZone {:?}); expanded in UTC, so DST changes will shift it",
                range.recurrence_time_zone, item.original_start_time_zone
            ));
            Zone::Utc
        });
        let (s_instant, ..) =
            instant_of(start_dt).map_err(|e| format!("event {id}: start: {e}"))?;
        let e_instant = match &item.end {
            Some(e) => {
                instant_of(e)
                    .map_err(|err| format!("event {id}: end: {err}"))?
                    .0
            }
            None => s_instant,
        };
        let (s, e) = fix_end(zoned_at(&zone, s_instant), zoned_at(&zone, e_instant));
        (s, e, Some(zone))
    };

    let (rrule, warnings) = recurrence_to_rrule(pattern, range, zone.as_ref())
        .map_err(|e| format!("event {id}: recurrence: {e}"))?;
    for w in warnings {
        warn(format!("event {id}: recurrence: {w}"));
    }
    let mut exdates = Vec::new();
    for oid in &item.cancelled_occurrences {
        match occurrence_date(oid) {
            Some(date) => exdates.push(on_date(&start, date)),
            None => warn(format!(
                "event {id}: cancelled occurrence `{oid}` ignored: no date"
            )),
        }
    }
    let mut event = base_event(item, calendar, start, end, None);
    event.recurrence = Some(RecurrenceSet {
        rrules: vec![rrule],
        rdates: Vec::new(),
        exdates,
    });
    Ok(event)
}

/// The date of an occurrence id `OID.<masterId>.<yyyy-MM-dd>` (§3.3).
fn occurrence_date(oid: &str) -> Option<NaiveDate> {
    let (_, date) = oid.trim().rsplit_once('.')?;
    NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()
}

/// The instance of a series starting at `start` that falls on `date` (same wall time, frame).
fn on_date(start: &EventTime, date: NaiveDate) -> EventTime {
    match start {
        EventTime::Date { .. } => EventTime::Date { date },
        EventTime::Zoned { local, zone } => EventTime::Zoned {
            local: date.and_time(local.time()),
            zone: zone.clone(),
        },
        EventTime::Floating { local } => EventTime::Floating {
            local: date.and_time(local.time()),
        },
    }
}

fn map_exception(
    item: &MsEvent,
    calendar: &str,
    master_id: &str,
    info: Option<&SeriesInfo>,
    warn: &mut dyn FnMut(String),
) -> Result<Event, String> {
    let id = item.id.trim();
    let (start, end) = times(item)?;
    let original = non_empty(item.original_start.as_deref())
        .map(|o| {
            DateTime::parse_from_rfc3339(o)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| format!("event {id}: originalStart `{o}` is not a date-time"))
        })
        .transpose()?;
    let recurrence_id = match (original, info) {
        (Some(o), Some(info)) => match &info.start {
            EventTime::Date { .. } => EventTime::Date {
                date: own_zone(item).from_utc(o).date(),
            },
            EventTime::Zoned { zone, .. } => zoned_at(zone, o),
            EventTime::Floating { .. } => EventTime::Floating {
                local: o.naive_utc(),
            },
        },
        (Some(o), None) if item.is_all_day => EventTime::Date {
            date: own_zone(item).from_utc(o).date(),
        },
        (Some(o), None) => EventTime::utc(o),
        (None, info) => {
            let date = item.occurrence_id.as_deref().and_then(occurrence_date);
            match (date, info) {
                (Some(d), Some(info)) => on_date(&info.start, d),
                _ => {
                    return Err(format!(
                        "event {id}: an exception without originalStart (select it)"
                    ));
                }
            }
        }
    };
    let uid = info.map(|i| i.uid.clone()).or_else(|| {
        non_empty(item.ical_uid.as_deref())
            .map(clean_global_object_id)
            .or_else(|| Some(master_id.to_string()))
    });
    if item.recurrence.is_some() {
        warn(format!(
            "event {id}: an exception with a recurrence; ignored"
        ));
    }
    let mut event = base_event(item, calendar, start, end, uid);
    event.series_id = Some(master_id.to_string());
    event.recurrence_id = Some(recurrence_id);
    Ok(event)
}

/// The zone an item was created in (`originalStartTimeZone`), UTC when unknown.
fn own_zone(item: &MsEvent) -> Zone {
    non_empty(item.original_start_time_zone.as_deref())
        .and_then(resolve_name)
        .unwrap_or(Zone::Utc)
}

fn weekday_code(day: &str) -> Option<&'static str> {
    Some(match day.trim().to_ascii_lowercase().as_str() {
        "monday" => "MO",
        "tuesday" => "TU",
        "wednesday" => "WE",
        "thursday" => "TH",
        "friday" => "FR",
        "saturday" => "SA",
        "sunday" => "SU",
        _ => return None,
    })
}

/// `weekIndex` → the RRULE ordinal.
fn week_index(index: Option<&str>) -> Result<i32, String> {
    Ok(
        match index.map(|i| i.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("first") => 1,
            Some("second") => 2,
            Some("third") => 3,
            Some("fourth") => 4,
            Some("last") => -1,
            Some(other) => return Err(format!("unknown index `{other}`")),
        },
    )
}

/// The shortest length of month `month` (1–12), or of any month when `None`.
fn shortest_month(month: Option<u32>) -> u32 {
    match month {
        Some(2) | None => 28,
        Some(4 | 6 | 9 | 11) => 30,
        Some(_) => 31,
    }
}

/// `BYMONTHDAY` for `dayOfMonth`, falling back to the month's last day (see the module doc).
fn month_day_parts(day: i64, month: Option<u32>) -> Result<Vec<String>, String> {
    let day = u32::try_from(day)
        .ok()
        .filter(|d| (1..=31).contains(d))
        .ok_or_else(|| format!("dayOfMonth {day} is not 1–31"))?;
    let shortest = shortest_month(month);
    if day <= shortest {
        return Ok(vec![format!("BYMONTHDAY={day}")]);
    }
    let days: Vec<String> = (shortest..=day).map(|d| d.to_string()).collect();
    Ok(vec![
        format!("BYMONTHDAY={}", days.join(",")),
        "BYSETPOS=-1".into(),
    ])
}

/// `BYDAY` (+ `BYSETPOS`) for a relative pattern.
fn relative_parts(pattern: &MsPattern) -> Result<Vec<String>, String> {
    let days = weekday_list(&pattern.days_of_week)?;
    if days.is_empty() {
        return Err("a relative pattern without daysOfWeek".into());
    }
    let n = week_index(pattern.index.as_deref())?;
    Ok(if days.len() == 1 {
        vec![format!("BYDAY={n}{}", days[0])]
    } else {
        vec![format!("BYDAY={}", days.join(",")), format!("BYSETPOS={n}")]
    })
}

fn weekday_list(days: &[String]) -> Result<Vec<&'static str>, String> {
    let mut out = Vec::new();
    for d in days {
        let code = weekday_code(d).ok_or_else(|| format!("unknown day `{d}`"))?;
        if !out.contains(&code) {
            out.push(code);
        }
    }
    Ok(out)
}

fn month_of(pattern: &MsPattern) -> Result<u32, String> {
    pattern
        .month
        .and_then(|m| u32::try_from(m).ok())
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| format!("month {:?} is not 1–12", pattern.month))
}

/// A Graph `patternedRecurrence` as one RRULE value (without `RRULE:`), plus warnings.
///
/// `zone` is the series zone of a timed series (the frame of its DTSTART), `None` for an
/// all-day series; it decides how `endDate` becomes `UNTIL` (see the module doc).
pub fn recurrence_to_rrule(
    pattern: &MsPattern,
    range: &MsRange,
    zone: Option<&Zone>,
) -> Result<(String, Vec<String>), String> {
    let mut warnings = Vec::new();
    let kind = pattern.kind.as_deref().unwrap_or("").trim();
    let interval = match pattern.interval {
        Some(n) if n >= 1 => n,
        other => {
            warnings.push(format!("interval {other:?} read as 1"));
            1
        }
    };
    let mut parts: Vec<String> = Vec::new();
    let freq = match kind.to_ascii_lowercase().as_str() {
        "daily" => "DAILY",
        "weekly" => {
            let days = weekday_list(&pattern.days_of_week)?;
            if days.is_empty() {
                warnings.push("weekly without daysOfWeek: the start's weekday is used".into());
            } else {
                parts.push(format!("BYDAY={}", days.join(",")));
            }
            if let Some(first) = non_empty(pattern.first_day_of_week.as_deref()) {
                match weekday_code(first) {
                    Some(code) => parts.push(format!("WKST={code}")),
                    None => warnings.push(format!("unknown firstDayOfWeek `{first}` ignored")),
                }
            }
            "WEEKLY"
        }
        "absolutemonthly" => {
            parts.extend(month_day_parts(pattern.day_of_month.unwrap_or(0), None)?);
            "MONTHLY"
        }
        "relativemonthly" => {
            parts.extend(relative_parts(pattern)?);
            "MONTHLY"
        }
        "absoluteyearly" => {
            let month = month_of(pattern)?;
            parts.push(format!("BYMONTH={month}"));
            parts.extend(month_day_parts(
                pattern.day_of_month.unwrap_or(0),
                Some(month),
            )?);
            "YEARLY"
        }
        "relativeyearly" => {
            let month = month_of(pattern)?;
            parts.push(format!("BYMONTH={month}"));
            parts.extend(relative_parts(pattern)?);
            "YEARLY"
        }
        other => return Err(format!("unknown pattern type `{other}`")),
    };
    let mut rule = format!("FREQ={freq}");
    if interval != 1 {
        rule.push_str(&format!(";INTERVAL={interval}"));
    }
    // BYSETPOS last among the BY parts reads best; order does not matter to the parser.
    parts.sort_by_key(|p| p.starts_with("BYSETPOS") || p.starts_with("WKST"));
    for p in parts {
        rule.push(';');
        rule.push_str(&p);
    }

    let range_kind = range.kind.as_deref().unwrap_or("").trim();
    match range_kind.to_ascii_lowercase().as_str() {
        "noend" => {}
        "numbered" => match range.number_of_occurrences {
            Some(n) if n >= 1 => rule.push_str(&format!(";COUNT={n}")),
            other => return Err(format!("numbered range with numberOfOccurrences {other:?}")),
        },
        "enddate" => {
            let date = non_empty(range.end_date.as_deref())
                .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                .filter(|d| d.year() > 1)
                .ok_or_else(|| format!("endDate range with endDate {:?}", range.end_date))?;
            match zone {
                None => rule.push_str(&format!(";UNTIL={}", date.format("%Y%m%d"))),
                Some(z) => {
                    let last =
                        date.and_time(NaiveTime::MIN) + Duration::days(1) - Duration::seconds(1);
                    let until = z.to_utc(last);
                    rule.push_str(&format!(";UNTIL={}", until.format("%Y%m%dT%H%M%SZ")));
                }
            }
        }
        other => return Err(format!("unknown range type `{other}`")),
    }
    Ok((rule, warnings))
}

#[cfg(test)]
mod tests;
