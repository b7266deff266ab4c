//! Server-side state: calendars, event resources with a per-change update sequence, sync and page
//! tokens, and the events.list / get / patch logic (docs/google-api.md §2.2, §2.3, §2.5, §2.6, §3).

use std::collections::{BTreeMap, HashMap, VecDeque};

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::errors::{self, Reply};
use super::oauth::OAuthState;
use super::time::{self, InstanceStart};
use super::{CalendarSpec, Fault, Options, PatchRecord, RecordedRequest};

/// One calendar and its events.
#[derive(Debug)]
pub struct Calendar {
    pub id: String,
    pub summary: String,
    pub description: String,
    pub time_zone: String,
    pub tz: Tz,
    pub access_role: String,
    /// Extra calendarListEntry fields (colorId, backgroundColor, ...).
    pub entry_extra: Map<String, Value>,
    pub default_reminders: Value,
    /// Event id → latest version. Cancelled events stay as tombstones.
    pub events: HashMap<String, StoredEvent>,
    /// Update sequence of each event's latest change → event id (every id appears once).
    pub by_seq: BTreeMap<u64, String>,
    /// Bumped by `invalidate_sync_tokens`: tokens from an older generation answer 410.
    pub generation: u64,
    /// Sequence of the last change to this calendar's calendarList entry.
    pub entry_seq: u64,
    pub entry_etag: String,
}

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub resource: Value,
    pub seq: u64,
    /// The list form ([`State::render`]) serialized once at write time, so that listing large
    /// calendars costs a copy rather than a clone and a serialization per page.
    pub list_json: String,
}

impl StoredEvent {
    pub fn cancelled(&self) -> bool {
        self.resource["status"] == "cancelled"
    }
}

/// An account: an email and the calendar ids on its calendarList (the first is its primary).
#[derive(Debug, Clone)]
pub struct Account {
    pub email: String,
    pub calendars: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SyncTokenInfo {
    pub calendar: String,
    pub seq: u64,
    pub generation: u64,
}

/// Filters of one events.list query (kept in page tokens, so later pages use the first page's).
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub show_deleted: bool,
    pub time_min: Option<DateTime<Utc>>,
    pub time_max: Option<DateTime<Utc>>,
    pub updated_min: Option<DateTime<Utc>>,
    pub order_by: Option<String>,
    pub event_types: Vec<String>,
    pub q: Option<String>,
    pub ical_uid: Option<String>,
    pub private_props: Vec<(String, String)>,
    pub shared_props: Vec<(String, String)>,
}

/// A parsed events.list request.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    pub max_results: usize,
    pub page_token: Option<String>,
    pub sync_token: Option<String>,
    pub filter: ListFilter,
}

/// What a page token stands for: the listing's frozen upper bound and where the next page starts.
#[derive(Debug, Clone)]
pub struct PageState {
    pub calendar: String,
    /// `Some(seq of the sync token)` for an incremental listing.
    pub since: Option<u64>,
    pub generation: u64,
    /// Only changes with seq ≤ upper belong to this listing; later ones go to the next sync.
    pub upper: u64,
    /// The seq of the last item returned so far.
    pub cursor: u64,
    pub filter: ListFilter,
    pub issue_sync_token: bool,
    pub ragged_started: bool,
}

pub struct State {
    pub seq: u64,
    pub etag_counter: u64,
    pub id_counter: u64,
    pub token_counter: u64,
    pub last_updated: DateTime<Utc>,
    pub calendars: BTreeMap<String, Calendar>,
    pub accounts: BTreeMap<String, Account>,
    pub sync_tokens: HashMap<String, SyncTokenInfo>,
    pub page_tokens: HashMap<String, PageState>,
    /// calendarList page token → (offset, incremental since, upper seq).
    pub list_pages: HashMap<String, (usize, Option<u64>, u64)>,
    pub options: Options,
    pub oauth: OAuthState,
    pub faults: VecDeque<Fault>,
    pub log: Vec<RecordedRequest>,
    pub patches: Vec<PatchRecord>,
    /// Edits by "someone else" applied just before the next events.patch is handled (a change
    /// that lands between a client's read and its write): (calendar, event id, merge patch).
    pub edits_before_patch: VecDeque<(String, String, Value)>,
    /// Drive files and Docs (`drive.rs`).
    pub drive: super::drive::DriveState,
    /// Admin SDK Directory users (`directory.rs`).
    pub directory: Vec<super::directory::DirUser>,
    /// freeBusy sharing and the insert/delete outbox (`freebusy.rs`).
    pub free_busy: super::freebusy::FreeBusyState,
}

const BASE32HEX: &[u8] = b"0123456789abcdefghijklmnopqrstuv";

/// Event-field names that patch treats as read-only and drops from the body.
const READ_ONLY: &[&str] = &[
    "kind",
    "etag",
    "id",
    "htmlLink",
    "created",
    "updated",
    "iCalUID",
    "recurringEventId",
    "originalStartTime",
    "creator",
    "organizer",
    "hangoutLink",
    "locked",
    "privateCopy",
];

/// RFC 7396 JSON merge patch: objects merge, `null` removes, arrays and scalars replace.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let target = target.as_object_mut().expect("object");
    for (k, v) in patch {
        if v.is_null() {
            target.remove(k);
        } else {
            merge_patch(target.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// RFC 5545 §3.8.7.4 "significant" changes bump SEQUENCE; the fake applies that rule (start, end,
/// recurrence, status). Google's exact rule is not documented.
fn significant_change(old: &Value, new: &Value) -> bool {
    ["start", "end", "recurrence", "status"]
        .iter()
        .any(|k| old.get(*k) != new.get(*k))
}

impl State {
    pub fn new(options: Options) -> State {
        State {
            seq: 0,
            etag_counter: 0,
            id_counter: 0,
            token_counter: 0,
            last_updated: DateTime::<Utc>::MIN_UTC,
            calendars: BTreeMap::new(),
            accounts: BTreeMap::new(),
            sync_tokens: HashMap::new(),
            page_tokens: HashMap::new(),
            list_pages: HashMap::new(),
            options,
            oauth: OAuthState::default(),
            faults: VecDeque::new(),
            log: Vec::new(),
            patches: Vec::new(),
            edits_before_patch: VecDeque::new(),
            drive: Default::default(),
            directory: Vec::new(),
            free_busy: Default::default(),
        }
    }

    // ----- small generators -------------------------------------------------------------------

    /// A fresh event id: 26 base32hex characters (`a-v0-9`, §3).
    pub fn new_event_id(&mut self) -> String {
        self.id_counter += 1;
        let mut x = self
            .id_counter
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17)
            ^ 0x5DEE_CE66_D1CE_4E5B;
        let mut s = String::with_capacity(26);
        for i in 0..26 {
            if i == 13 {
                x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ self.id_counter;
            }
            s.push(BASE32HEX[(x & 31) as usize] as char);
            x >>= 5;
            if x == 0 {
                x = self.id_counter.wrapping_mul(0x94D0_49BB_1331_11EB) | 1;
            }
        }
        s
    }

    /// An opaque token with Google's look (base64 of a counter-derived payload).
    pub fn new_opaque(&mut self, prefix: &str) -> String {
        self.token_counter += 1;
        let payload = format!("{prefix}:{}:{}", self.token_counter, self.seq);
        base64::engine::general_purpose::STANDARD.encode(payload)
    }

    fn next_etag(&mut self) -> String {
        self.etag_counter += 1;
        format!("\"{}\"", 3_500_000_000_000_000u64 + self.etag_counter)
    }

    /// Wall-clock `now`, forced strictly increasing by at least 1 ms so that `updated` orders
    /// changes the way the update sequence does.
    fn next_updated(&mut self) -> DateTime<Utc> {
        let now = Utc::now();
        let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
        let t = if now > self.last_updated {
            now
        } else {
            self.last_updated + Duration::milliseconds(1)
        };
        self.last_updated = t;
        t
    }

    // ----- accounts and calendars -------------------------------------------------------------

    pub fn add_account(&mut self, email: &str, time_zone: &str) {
        if self.accounts.contains_key(email) {
            return;
        }
        self.accounts.insert(
            email.to_string(),
            Account {
                email: email.to_string(),
                calendars: Vec::new(),
            },
        );
        self.add_calendar(
            email,
            CalendarSpec {
                id: email.to_string(),
                summary: email.to_string(),
                time_zone: time_zone.to_string(),
                access_role: "owner".to_string(),
                ..CalendarSpec::default()
            },
        );
    }

    pub fn add_calendar(&mut self, account: &str, spec: CalendarSpec) {
        let tz = time::parse_tz(&spec.time_zone)
            .unwrap_or_else(|| panic!("fake_google: unknown time zone {:?}", spec.time_zone));
        self.seq += 1;
        let entry_etag = self.next_etag();
        let acc = self
            .accounts
            .get_mut(account)
            .unwrap_or_else(|| panic!("fake_google: no account {account:?}"));
        if !acc.calendars.contains(&spec.id) {
            acc.calendars.push(spec.id.clone());
        }
        let cal = Calendar {
            id: spec.id.clone(),
            summary: spec.summary,
            description: spec.description,
            time_zone: spec.time_zone,
            tz,
            access_role: spec.access_role,
            entry_extra: spec.entry_extra,
            default_reminders: json!([{"method": "popup", "minutes": 30}]),
            events: HashMap::new(),
            by_seq: BTreeMap::new(),
            generation: 0,
            entry_seq: self.seq,
            entry_etag,
        };
        self.calendars.entry(spec.id).or_insert(cal);
    }

    /// Resolves `primary` (§2.2) for `account`, and checks the account can see the calendar.
    pub fn resolve_calendar(&self, account: &str, calendar_id: &str) -> Option<String> {
        let acc = self.accounts.get(account)?;
        let id = if calendar_id == "primary" {
            acc.calendars.first()?.clone()
        } else {
            calendar_id.to_string()
        };
        (acc.calendars.contains(&id) && self.calendars.contains_key(&id)).then_some(id)
    }

    pub fn calendar(&self, id: &str) -> &Calendar {
        self.calendars
            .get(id)
            .unwrap_or_else(|| panic!("fake_google: no calendar {id:?}"))
    }

    fn calendar_mut(&mut self, id: &str) -> &mut Calendar {
        self.calendars
            .get_mut(id)
            .unwrap_or_else(|| panic!("fake_google: no calendar {id:?}"))
    }

    /// The owner email of a calendar (the account whose primary it is, else the first lister).
    fn owner_of(&self, calendar: &str) -> String {
        self.accounts
            .values()
            .find(|a| a.calendars.first().map(String::as_str) == Some(calendar))
            .or_else(|| {
                self.accounts
                    .values()
                    .find(|a| a.calendars.iter().any(|c| c == calendar))
            })
            .map(|a| a.email.clone())
            .unwrap_or_else(|| calendar.to_string())
    }

    // ----- the one write primitive ------------------------------------------------------------

    /// Stores `resource` as the latest version of its event: new etag, `updated` (unless
    /// `keep_updated`), and a new update sequence so the next incremental sync returns it once.
    pub fn write(&mut self, calendar: &str, mut resource: Value, keep_updated: bool) -> Value {
        let id = resource["id"]
            .as_str()
            .expect("fake_google: event without id")
            .to_string();
        self.seq += 1;
        let seq = self.seq;
        resource["etag"] = json!(self.next_etag());
        if !keep_updated || resource.get("updated").is_none() {
            let t = self.next_updated();
            resource["updated"] = json!(time::google_timestamp(t));
        }
        let cal = self.calendar_mut(calendar);
        if let Some(old) = cal.events.get(&id) {
            cal.by_seq.remove(&old.seq);
        }
        let mut stored = StoredEvent {
            resource: resource.clone(),
            seq,
            list_json: String::new(),
        };
        stored.list_json = serde_json::to_string(&State::render(&stored)).expect("json");
        cal.by_seq.insert(seq, id.clone());
        cal.events.insert(id, stored);
        resource
    }

    fn remove_silently(&mut self, calendar: &str, id: &str) {
        let cal = self.calendar_mut(calendar);
        if let Some(old) = cal.events.remove(id) {
            cal.by_seq.remove(&old.seq);
        }
    }

    /// Re-writes an event unchanged but for etag/updated/seq (a master touched by an exception
    /// change, as in SAMPLE:events-list-incremental-cancelled-instance.json).
    fn touch(&mut self, calendar: &str, id: &str) {
        let resource = self.calendar(calendar).events[id].resource.clone();
        self.write(calendar, resource, false);
    }

    // ----- test-facing mutations --------------------------------------------------------------

    /// Fills the fields Google sets on insert (kind, id, status, created, iCalUID, htmlLink,
    /// creator/organizer, sequence, reminders, eventType) and stores the event.
    pub fn insert_event(&mut self, calendar: &str, mut event: Value) -> Value {
        assert!(event.is_object(), "fake_google: an event must be an object");
        let owner = self.owner_of(calendar);
        let id = match event.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => self.new_event_id(),
        };
        if let Some(old) = self.calendar(calendar).events.get(&id) {
            assert!(
                old.cancelled(),
                "fake_google: event {id:?} already exists in {calendar:?}"
            );
        }
        let created = self.next_updated();
        let e = event.as_object_mut().expect("object");
        e.insert("kind".into(), json!("calendar#event"));
        e.insert("id".into(), json!(id));
        e.entry("status").or_insert(json!("confirmed"));
        e.entry("created").or_insert(json!(time::google_timestamp(
            DateTime::from_timestamp(created.timestamp(), 0).unwrap_or(created)
        )));
        let ical = match e.get("recurringEventId").and_then(Value::as_str) {
            Some(master) => format!("{master}@google.com"),
            None => format!("{id}@google.com"),
        };
        e.entry("iCalUID").or_insert(json!(ical));
        let eid = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode(format!("{id} {calendar}"))
            .replace('=', "");
        e.entry("htmlLink").or_insert(json!(format!(
            "https://www.google.com/calendar/event?eid={eid}"
        )));
        e.entry("creator")
            .or_insert(json!({"email": owner, "self": true}));
        e.entry("organizer")
            .or_insert(json!({"email": owner, "self": true}));
        e.entry("sequence").or_insert(json!(0));
        e.entry("reminders").or_insert(json!({"useDefault": true}));
        e.entry("eventType").or_insert(json!("default"));
        self.write(calendar, event, false)
    }

    /// An organizer-side edit: merge-patches the stored event (bumping `sequence` on a significant
    /// change). Works on exceptions as well.
    pub fn update_event(&mut self, calendar: &str, id: &str, patch: &Value) -> Value {
        let old = self
            .calendar(calendar)
            .events
            .get(id)
            .unwrap_or_else(|| panic!("fake_google: no event {id:?} in {calendar:?}"))
            .resource
            .clone();
        let mut new = old.clone();
        merge_patch(&mut new, patch);
        if significant_change(&old, &new) {
            new["sequence"] = json!(old["sequence"].as_i64().unwrap_or(0) + 1);
        }
        let reminders_only = patch
            .as_object()
            .is_some_and(|p| p.keys().all(|k| k == "reminders"));
        self.write(calendar, new, reminders_only)
    }

    fn live_master(&self, calendar: &str, master_id: &str) -> Value {
        let ev = self
            .calendar(calendar)
            .events
            .get(master_id)
            .unwrap_or_else(|| panic!("fake_google: no series {master_id:?} in {calendar:?}"));
        assert!(
            !ev.cancelled() && ev.resource.get("recurrence").is_some(),
            "fake_google: {master_id:?} is not a live recurring master"
        );
        ev.resource.clone()
    }

    fn master_duration(&self, calendar: &str, master: &Value) -> Duration {
        let tz = self.calendar(calendar).tz;
        match (
            time::edt_instant(&master["start"], tz),
            time::edt_instant(&master["end"], tz),
        ) {
            (Some(s), Some(e)) if e >= s => e - s,
            _ => Duration::hours(1),
        }
    }

    /// The instance of `master` at `original`, as Google would show it before any change.
    pub fn instance_base(&self, calendar: &str, master: &Value, original: InstanceStart) -> Value {
        let zone = master["start"]["timeZone"].as_str();
        let dur = self.master_duration(calendar, master);
        let master_id = master["id"].as_str().expect("id");
        let mut inst = master.clone();
        let e = inst.as_object_mut().expect("object");
        e.remove("recurrence");
        e.insert(
            "id".into(),
            json!(format!("{master_id}_{}", original.id_suffix())),
        );
        e.insert("recurringEventId".into(), json!(master_id));
        e.insert("originalStartTime".into(), original.to_edt(zone));
        e.insert("start".into(), original.to_edt(zone));
        e.insert("end".into(), original.plus_edt(dur, zone));
        inst
    }

    /// Creates or changes the exception of `master_id` at `original` (merge-patch `patch` onto it).
    /// Creating an exception also touches the master, as in the real incremental samples.
    pub fn modify_instance(
        &mut self,
        calendar: &str,
        master_id: &str,
        original: InstanceStart,
        patch: &Value,
    ) -> Value {
        let master = self.live_master(calendar, master_id);
        let id = format!("{master_id}_{}", original.id_suffix());
        let existing = self
            .calendar(calendar)
            .events
            .get(&id)
            .filter(|e| !e.cancelled())
            .map(|e| e.resource.clone());
        let fresh = existing.is_none();
        let old = existing.unwrap_or_else(|| self.instance_base(calendar, &master, original));
        let mut new = old.clone();
        merge_patch(&mut new, patch);
        if significant_change(&old, &new) {
            new["sequence"] = json!(old["sequence"].as_i64().unwrap_or(0) + 1);
        }
        if fresh {
            self.touch(calendar, master_id);
        }
        self.write(calendar, new, false)
    }

    /// Cancels one instance: the exception becomes a tombstone with `recurringEventId` and
    /// `originalStartTime` (SAMPLE:events-list-incremental-cancelled-instance.json); the master is
    /// touched too.
    pub fn cancel_instance(
        &mut self,
        calendar: &str,
        master_id: &str,
        original: InstanceStart,
    ) -> Value {
        let master = self.live_master(calendar, master_id);
        let id = format!("{master_id}_{}", original.id_suffix());
        let mut inst = match self.calendar(calendar).events.get(&id) {
            Some(e) => e.resource.clone(),
            None => self.instance_base(calendar, &master, original),
        };
        inst["status"] = json!("cancelled");
        self.touch(calendar, master_id);
        self.write(calendar, inst, false)
    }

    /// Deletes an event. A recurring master deletes the series; an exception becomes a cancelled
    /// instance; anything else becomes a `{kind, etag, id, status}` tombstone.
    pub fn delete_event(&mut self, calendar: &str, id: &str) {
        let ev = self
            .calendar(calendar)
            .events
            .get(id)
            .unwrap_or_else(|| panic!("fake_google: no event {id:?} in {calendar:?}"))
            .resource
            .clone();
        if ev.get("recurrence").is_some() {
            return self.delete_series(calendar, id);
        }
        if let (Some(master), Some(orig)) =
            (ev["recurringEventId"].as_str(), ev.get("originalStartTime"))
        {
            let tz = self.calendar(calendar).tz;
            let master_live = self
                .calendar(calendar)
                .events
                .get(master)
                .is_some_and(|m| !m.cancelled());
            let original = match orig.get("date").and_then(Value::as_str) {
                Some(d) => InstanceStart::parse(d),
                None => time::edt_instant(orig, tz).map(InstanceStart::Timed),
            };
            if let (true, Some(original)) = (master_live, original) {
                self.cancel_instance(calendar, master, original);
                return;
            }
        }
        let mut ev = ev;
        ev["status"] = json!("cancelled");
        self.write(calendar, ev, false);
    }

    /// Deletes a whole series: the master becomes a tombstone (SAMPLE:
    /// events-list-incremental-deleted-series-tombstone.json, one item only); its exceptions are
    /// dropped without tombstones of their own, so a client must cascade the master's deletion.
    pub fn delete_series(&mut self, calendar: &str, master_id: &str) {
        let mut master = self.live_master(calendar, master_id);
        let exceptions: Vec<String> = self
            .calendar(calendar)
            .events
            .values()
            .filter(|e| e.resource["recurringEventId"] == master_id)
            .filter_map(|e| e.resource["id"].as_str().map(str::to_string))
            .collect();
        for id in exceptions {
            self.remove_silently(calendar, &id);
        }
        master["status"] = json!("cancelled");
        self.write(calendar, master, false);
    }

    /// Sets one attendee's `responseStatus` on an event, an exception, or (by its instance id) an
    /// unmodified instance of a series, which then becomes an exception.
    pub fn set_response_status(
        &mut self,
        calendar: &str,
        event_id: &str,
        email: &str,
        status: &str,
    ) {
        let set = |ev: &Value| -> Value {
            let mut attendees = ev["attendees"].as_array().cloned().unwrap_or_default();
            let a = attendees
                .iter_mut()
                .find(|a| {
                    a["email"]
                        .as_str()
                        .is_some_and(|e| e.eq_ignore_ascii_case(email))
                })
                .unwrap_or_else(|| panic!("fake_google: {email:?} does not attend {event_id:?}"));
            a["responseStatus"] = json!(status);
            json!({"attendees": attendees})
        };
        if let Some(ev) = self.calendar(calendar).events.get(event_id) {
            let patch = set(&ev.resource);
            let mut new = ev.resource.clone();
            merge_patch(&mut new, &patch);
            self.write(calendar, new, false);
            return;
        }
        let (master_id, original) = self
            .parse_instance_id(calendar, event_id)
            .unwrap_or_else(|| panic!("fake_google: no event {event_id:?} in {calendar:?}"));
        let master = self.live_master(calendar, &master_id);
        let patch = set(&master);
        self.modify_instance(calendar, &master_id, original, &patch);
    }

    /// "This and following" (SAMPLE:events-list-incremental-split-series.json): the old master is
    /// cut with `UNTIL` just before `from`, and a new master `<id>_R<YYYYMMDDTHHMMSS>` with its own
    /// iCalUID starts at `from` with `patch` applied. Returns the new master.
    pub fn split_series(
        &mut self,
        calendar: &str,
        master_id: &str,
        from: InstanceStart,
        patch: &Value,
    ) -> Value {
        let mut master = self.live_master(calendar, master_id);
        let zone = master["start"]["timeZone"].as_str().map(str::to_string);
        let dur = self.master_duration(calendar, &master);
        let rules: Vec<Value> = master["recurrence"].as_array().cloned().unwrap_or_default();
        let until = match from {
            InstanceStart::Timed(t) => time::basic_utc(t - Duration::seconds(1)),
            InstanceStart::AllDay(d) => (d - Duration::days(1)).format("%Y%m%d").to_string(),
        };
        let strip = |line: &str| -> String {
            line.split(';')
                .filter(|p| !p.starts_with("UNTIL=") && !p.starts_with("COUNT="))
                .collect::<Vec<_>>()
                .join(";")
        };
        let cut: Vec<Value> = rules
            .iter()
            .filter_map(Value::as_str)
            .map(|l| {
                if l.starts_with("RRULE:") {
                    json!(format!("{};UNTIL={until}", strip(l)))
                } else {
                    json!(l)
                }
            })
            .collect();
        let new_rules: Vec<Value> = rules
            .iter()
            .filter_map(Value::as_str)
            .map(|l| {
                if l.starts_with("RRULE:") {
                    json!(strip(l))
                } else {
                    json!(l)
                }
            })
            .collect();
        master["recurrence"] = json!(cut);
        let mut new = master.clone();
        self.write(calendar, master, false);
        let suffix = match from {
            InstanceStart::Timed(t) => t.format("%Y%m%dT%H%M%S").to_string(),
            InstanceStart::AllDay(d) => d.format("%Y%m%d").to_string(),
        };
        let new_id = format!("{master_id}_R{suffix}");
        new["id"] = json!(new_id);
        new["iCalUID"] = json!(format!("{new_id}@google.com"));
        new["start"] = from.to_edt(zone.as_deref());
        new["end"] = from.plus_edt(dur, zone.as_deref());
        new["recurrence"] = json!(new_rules);
        new["sequence"] = json!(0);
        merge_patch(&mut new, patch);
        self.write(calendar, new, false)
    }

    /// Makes every sync token of `calendar` answer 410 fullSyncRequired from now on.
    pub fn invalidate_sync_tokens(&mut self, calendar: &str) {
        self.calendar_mut(calendar).generation += 1;
    }

    /// `<masterId>_<suffix>` of a live master → (master id, original start).
    pub fn parse_instance_id(&self, calendar: &str, id: &str) -> Option<(String, InstanceStart)> {
        let (master, suffix) = id.rsplit_once('_')?;
        let original = time::parse_instance_suffix(suffix)?;
        let ev = self.calendars.get(calendar)?.events.get(master)?;
        let all_day = ev.resource["start"].get("date").is_some();
        let ok = !ev.cancelled()
            && ev.resource.get("recurrence").is_some()
            && all_day == matches!(original, InstanceStart::AllDay(_));
        ok.then(|| (master.to_string(), original))
    }

    // ----- rendering --------------------------------------------------------------------------

    /// The list form of an event: cancelled ones as tombstones (§2.3; samples).
    pub fn render(ev: &StoredEvent) -> Value {
        if !ev.cancelled() {
            return ev.resource.clone();
        }
        let r = &ev.resource;
        let mut t = json!({
            "kind": "calendar#event",
            "etag": r["etag"],
            "id": r["id"],
            "status": "cancelled",
        });
        if let Some(m) = r.get("recurringEventId") {
            t["recurringEventId"] = m.clone();
            if let Some(o) = r.get("originalStartTime") {
                t["originalStartTime"] = o.clone();
            }
        }
        t
    }

    /// Current server-side events of a calendar, sorted by id: what a full sync with
    /// `showDeleted=false&singleEvents=false` returns (live events plus cancelled instances).
    pub fn snapshot(&self, calendar: &str, with_all_tombstones: bool) -> Vec<Value> {
        let mut v: Vec<(String, Value)> = self
            .calendar(calendar)
            .events
            .iter()
            .filter(|(_, e)| {
                with_all_tombstones
                    || !e.cancelled()
                    || e.resource.get("recurringEventId").is_some()
            })
            .map(|(id, e)| (id.clone(), State::render(e)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, e)| e).collect()
    }

    // ----- events.list ------------------------------------------------------------------------

    fn event_span(cal: &Calendar, r: &Value) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (start_edt, end_edt) = if r["status"] == "cancelled" {
            let o = r.get("originalStartTime")?;
            (o, o)
        } else {
            (&r["start"], &r["end"])
        };
        let start = time::edt_instant(start_edt, cal.tz)?;
        let end = time::edt_instant(end_edt, cal.tz).unwrap_or(start);
        match r.get("recurrence").and_then(Value::as_array) {
            Some(rules) => {
                let last = time::series_until(rules, cal.tz)
                    .map(|u| u + (end - start))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                Some((start, last.max(end)))
            }
            None => Some((start, end)),
        }
    }

    fn matches_filter(cal: &Calendar, r: &Value, f: &ListFilter) -> bool {
        if let Some(min) = f.updated_min {
            let upd = r["updated"].as_str().and_then(time::parse_rfc3339);
            if upd.is_none_or(|u| u < min) {
                return false;
            }
        }
        if f.time_min.is_some() || f.time_max.is_some() {
            let Some((start, end)) = State::event_span(cal, r) else {
                return false;
            };
            let is_point = r["status"] == "cancelled";
            if let Some(min) = f.time_min
                && (end < min || (!is_point && end == min))
            {
                return false;
            }
            if let Some(max) = f.time_max
                && start >= max
            {
                return false;
            }
        }
        if !f.event_types.is_empty() {
            // Judged on the stored resource, so a tombstone keeps its series' type.
            let t = r["eventType"].as_str().unwrap_or("default");
            if !f.event_types.iter().any(|e| e == t) {
                return false;
            }
        }
        if r["status"] == "cancelled" {
            return true;
        }
        if let Some(uid) = &f.ical_uid
            && r["iCalUID"].as_str() != Some(uid.as_str())
        {
            return false;
        }
        if let Some(q) = &f.q {
            let q = q.to_lowercase();
            let hay = ["summary", "description", "location"]
                .iter()
                .filter_map(|k| r[*k].as_str())
                .chain(
                    r["attendees"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(|a| {
                            [a["email"].as_str(), a["displayName"].as_str()]
                                .into_iter()
                                .flatten()
                        }),
                )
                .any(|s| s.to_lowercase().contains(&q));
            if !hay {
                return false;
            }
        }
        for (props, key) in [(&f.private_props, "private"), (&f.shared_props, "shared")] {
            for (k, v) in props {
                if r["extendedProperties"][key][k].as_str() != Some(v.as_str()) {
                    return false;
                }
            }
        }
        true
    }

    fn include(cal: &Calendar, ev: &StoredEvent, page: &PageState) -> bool {
        let r = &ev.resource;
        if page.since.is_some() {
            // CAL-SYNC rule 3: incremental results always include deletions, whatever showDeleted
            // says (even of other event types: a superset is safe). Live items still honour
            // eventTypes (the "same other parameters").
            if ev.cancelled() {
                return true;
            }
            let f = ListFilter {
                event_types: page.filter.event_types.clone(),
                ..ListFilter::default()
            };
            return State::matches_filter(cal, r, &f);
        }
        if ev.cancelled() {
            // §2.2 showDeleted: cancelled instances are listed with singleEvents=false even when
            // showDeleted is false; other cancelled events only with showDeleted or updatedMin.
            let instance = r.get("recurringEventId").is_some();
            if !(instance || page.filter.show_deleted || page.filter.updated_min.is_some()) {
                return false;
            }
        }
        State::matches_filter(cal, r, &page.filter)
    }

    /// One page of events.list. `req` is already validated.
    pub fn list_events(&mut self, calendar: &str, req: &ListRequest) -> Result<Reply, Reply> {
        let generation = self.calendar(calendar).generation;
        let mut page = if let Some(pt) = &req.page_token {
            let st = self
                .page_tokens
                .get(pt)
                .filter(|st| st.calendar == calendar)
                .cloned()
                .ok_or_else(|| errors::invalid_parameter("pageToken", "Invalid page token."))?;
            if st.since.is_some() && st.generation != generation {
                return Err(errors::full_sync_required());
            }
            st
        } else if let Some(tok) = &req.sync_token {
            let info = self
                .sync_tokens
                .get(tok)
                .filter(|i| i.calendar == calendar && i.generation == generation)
                .cloned()
                .ok_or_else(errors::full_sync_required)?;
            PageState {
                calendar: calendar.to_string(),
                since: Some(info.seq),
                generation,
                upper: self.seq,
                cursor: info.seq,
                filter: req.filter.clone(),
                issue_sync_token: true,
                ragged_started: false,
            }
        } else {
            let f = &req.filter;
            // CAL-SYNC rule 6: orderBy suppresses nextSyncToken (confirmed); the fake also does so
            // for the other parameters forbidden with syncToken, except timeMin (and timeMax
            // when Options::time_max_keeps_sync_token is set).
            let suppress = f.order_by.is_some()
                || f.q.is_some()
                || f.ical_uid.is_some()
                || f.updated_min.is_some()
                || !f.private_props.is_empty()
                || !f.shared_props.is_empty()
                || (f.time_max.is_some() && !self.options.time_max_keeps_sync_token);
            PageState {
                calendar: calendar.to_string(),
                since: None,
                generation,
                upper: self.seq,
                cursor: 0,
                filter: req.filter.clone(),
                issue_sync_token: !suppress,
                ragged_started: false,
            }
        };

        let ragged = self.options.ragged_pages;
        let mut items = Vec::new();
        let mut more = false;
        let mut last = page.cursor;
        if ragged && !page.ragged_started {
            // An empty first page that still has a nextPageToken: legal (§2.2 maxResults).
            page.ragged_started = true;
            more = true;
        } else {
            let limit = if ragged {
                (req.max_results / 2).max(1)
            } else {
                req.max_results
            };
            let cal = self.calendar(calendar);
            let range = if page.cursor < page.upper {
                cal.by_seq.range(page.cursor + 1..=page.upper)
            } else {
                cal.by_seq.range(0..0)
            };
            for (&seq, id) in range {
                let ev = &cal.events[id];
                if !State::include(cal, ev, &page) {
                    continue;
                }
                if items.len() == limit {
                    more = true;
                    break;
                }
                items.push(ev.list_json.as_str());
                last = seq;
            }
        }

        let cal = self.calendar(calendar);
        let updated = cal
            .by_seq
            .last_key_value()
            .and_then(|(_, id)| cal.events[id].resource["updated"].as_str())
            .map(str::to_string)
            .unwrap_or_else(|| time::google_timestamp(Utc::now()));
        let mut body = json!({
            "kind": "calendar#events",
            "etag": format!("\"p{:014x}\"", page.upper),
            "summary": cal.summary,
            "description": cal.description,
            "updated": updated,
            "timeZone": cal.time_zone,
            "accessRole": cal.access_role,
            "defaultReminders": cal.default_reminders,
        });
        let raw_items = format!("[{}]", items.join(","));
        drop(items);
        if more {
            page.cursor = last;
            let token = self.new_opaque("page");
            self.page_tokens.insert(token.clone(), page);
            body["nextPageToken"] = json!(token);
        } else if page.issue_sync_token {
            let token = self.new_opaque("sync");
            self.sync_tokens.insert(
                token.clone(),
                SyncTokenInfo {
                    calendar: calendar.to_string(),
                    seq: page.upper,
                    generation,
                },
            );
            body["nextSyncToken"] = json!(token);
        }
        Ok(Reply::raw_with_items(body, &raw_items))
    }

    // ----- events.get / events.patch ----------------------------------------------------------

    /// The current resource for `id`: a stored event (cancelled ones included, §2.3 "events.get
    /// always returns cancelled events"), or an unmodified instance of a live series.
    pub fn get_event(&self, calendar: &str, id: &str) -> Option<(Value, bool)> {
        if let Some(ev) = self.calendar(calendar).events.get(id) {
            return Some((ev.resource.clone(), false));
        }
        let (master_id, original) = self.parse_instance_id(calendar, id)?;
        let master = &self.calendar(calendar).events[&master_id].resource;
        Some((self.instance_base(calendar, master, original), true))
    }

    /// events.patch (§2.6). `params` are the query parameters.
    pub fn patch_event(
        &mut self,
        calendar: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        params: &PatchParams,
    ) -> Result<Value, Reply> {
        let (current, virtual_instance) =
            self.get_event(calendar, id).ok_or_else(errors::not_found)?;
        if current["status"] == "cancelled" {
            return Err(errors::deleted());
        }
        if let Some(tag) = if_match
            && tag != "*"
            && Some(tag) != current["etag"].as_str()
        {
            return Err(errors::condition_not_met());
        }
        let Value::Object(fields) = body else {
            return Err(errors::calendar_error(
                400,
                "global",
                "parseError",
                "Parse Error",
                None,
            ));
        };
        let mut patch = fields.clone();
        for k in READ_ONLY {
            patch.remove(*k);
        }
        if let Some(t) = patch.get("eventType")
            && Some(t) != current.get("eventType")
            && !(t == "default" && current.get("eventType").is_none())
        {
            return Err(errors::invalid_parameter(
                "eventType",
                "The event type cannot be changed.",
            ));
        }
        if patch.contains_key("attachments") {
            if !params.supports_attachments {
                // CAL-DISC Event.attachments: not applied without supportsAttachments=true.
                patch.remove("attachments");
            } else {
                let list = patch["attachments"].as_array().cloned().unwrap_or_default();
                if list.len() > 25 {
                    return Err(errors::calendar_error(
                        400,
                        "global",
                        "invalid",
                        "Too many attachments. An event can have at most 25 attachments.",
                        None,
                    ));
                }
                let filled: Vec<Value> = list.into_iter().map(fill_attachment).collect();
                patch.insert("attachments".into(), json!(filled));
            }
        }
        if params.conference_data_version != 1 {
            patch.remove("conferenceData");
        }
        let patch = Value::Object(patch);
        let out = if virtual_instance {
            let (master_id, original) = self
                .parse_instance_id(calendar, id)
                .expect("virtual instance id");
            self.modify_instance(calendar, &master_id, original, &patch)
        } else {
            self.update_event(calendar, id, &patch)
        };
        Ok(out)
    }
}

/// The query parameters of events.patch that change behaviour.
#[derive(Debug, Clone, Default)]
pub struct PatchParams {
    pub supports_attachments: bool,
    pub conference_data_version: u8,
}

/// Fills `fileId` from a Drive link when it can (docs/google-api.md §6.4 asks a fake to accept both
/// `.../document/d/<id>/...` and `open?id=<id>` forms).
fn fill_attachment(mut a: Value) -> Value {
    if a.get("fileId").is_some() {
        return a;
    }
    let url = a["fileUrl"].as_str().unwrap_or_default().to_string();
    let id = url
        .split_once("/d/")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or_default())
        .or_else(|| {
            url.split_once("id=")
                .map(|(_, rest)| rest.split(['&', '#']).next().unwrap_or_default())
        });
    if let Some(id) = id.filter(|s| !s.is_empty()) {
        a["fileId"] = json!(id);
    }
    a
}
