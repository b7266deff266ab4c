//! The mailbox: events, series expansion, calendarView, delta rounds, mutations.

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};

use base64::Engine as _;
use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::oauth::OAuthState;
use super::recur::{self, Recurrence};
use super::{Fault, ItemKind, NewEvent, Options, RecordedRequest, ViewItem};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE;
const OCC_PREFIX: &str = "AAMkAGocc";
const SENTINEL_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone)]
pub enum Override {
    Cancelled,
    Exception(Exception),
}

#[derive(Debug, Clone)]
pub struct Exception {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Properties that differ from the master (merged over it).
    pub fields: Map<String, Value>,
    pub version: u64,
    pub modified: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub rec: Recurrence,
    pub json: Value,
    pub tz: Tz,
    pub local_time: chrono::NaiveTime,
    pub duration: Duration,
    pub overrides: BTreeMap<NaiveDate, Override>,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub fields: Map<String, Value>,
    /// Single: the event's times. Master: the first occurrence's.
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Windows name (`originalStartTimeZone`).
    pub time_zone: String,
    pub series: Option<Series>,
    pub version: u64,
    /// Master only: bumped by changes that show in its occurrences (the occurrences' etag).
    pub occ_version: u64,
    pub created: DateTime<Utc>,
    pub modified: DateTime<Utc>,
}

/// One instance in a calendarView window.
#[derive(Debug, Clone)]
struct Inst {
    id: String,
    kind: ItemKind,
    master: Option<String>,
    date: Option<NaiveDate>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// What a delta token stands for: its window, the view as of its round, and where the change
/// log stood.
#[derive(Debug, Clone)]
pub struct DeltaState {
    pub base_path: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub known: HashMap<String, u64>,
    pub seq: u64,
    pub generation: u64,
}

/// One delta round in progress: its frozen entries and the state its deltaLink will name.
#[derive(Debug, Clone)]
pub struct Round {
    pub entries: Vec<Value>,
    pub next: DeltaState,
    pub delta_token: Option<String>,
}

pub struct State {
    pub options: Options,
    pub oauth: OAuthState,
    pub counter: u64,
    pub default_user: String,
    pub user_id: String,
    pub user_name: String,
    pub events: BTreeMap<String, Event>,
    pub seq: u64,
    pub changes: Vec<(u64, Vec<String>)>,
    /// Ids whose removal delta must not report (cancelled occurrences, "no indication" mode).
    pub silent: HashSet<String>,
    pub generation: u64,
    pub delta_tokens: HashMap<String, DeltaState>,
    pub rounds: HashMap<u64, Round>,
    /// skiptoken → (round, offset, generation).
    pub skip_tokens: HashMap<String, (u64, usize, u64)>,
    pub faults: VecDeque<Fault>,
    pub log: Vec<RecordedRequest>,
    pub in_flight: usize,
    /// Event PATCHes and extended properties (`write.rs`).
    pub writes: super::write::WriteState,
    /// The most Graph requests in flight at once since the log was last cleared.
    pub peak_in_flight: usize,
    /// Requests sleeping in an injected delay right now.
    pub delayed_now: usize,
    /// The mailbox owner's direct reports (`directory.rs`).
    pub directory: Vec<Value>,
    /// The signed-in user of the delegated flows (`/me`); the first mailbox.
    pub owner: String,
    /// The mailboxes that are not active now (`mailboxes.rs`), by lower-case UPN.
    pub mailboxes: BTreeMap<String, super::mailboxes::Mailbox>,
    /// The tenant's users (`users.rs`).
    pub org_users: Vec<super::users::OrgUser>,
    /// `GET /users` answers 403 (the app has no `User.Read.All`).
    pub users_denied: bool,
}

fn hash64(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

pub fn occurrence_id(master: &str, date: NaiveDate) -> String {
    format!(
        "{OCC_PREFIX}{}",
        B64.encode(format!("{master}|{}", date.format("%Y-%m-%d")))
    )
}

/// The (master, original date) an occurrence/exception id stands for.
pub fn parse_occurrence_id(id: &str) -> Option<(String, NaiveDate)> {
    let raw = B64.decode(id.strip_prefix(OCC_PREFIX)?).ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (m, d) = s.rsplit_once('|')?;
    Some((
        m.to_string(),
        NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?,
    ))
}

fn change_key(id: &str, version: u64) -> String {
    let mut bytes = hash64(id).to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 0]);
    bytes.extend_from_slice(&(version as u32).to_be_bytes());
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn dtz(t: DateTime<Utc>) -> Value {
    json!({"dateTime": recur::fmt_local(t, Tz::UTC), "timeZone": "UTC"})
}

fn offset_str(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f0Z").to_string()
}

/// Re-renders the `start`/`end` of an item (and of `exceptionOccurrences`) in `tz`. All-day
/// items are floating (§3.5 FAKE-CHOICE): the same midnight, labelled with the requested zone.
pub fn retz(v: &mut Value, tz_name: &str, tz: Tz) {
    let all_day = v["isAllDay"].as_bool() == Some(true);
    for key in ["start", "end"] {
        if all_day {
            if v[key].is_object() {
                v[key]["timeZone"] = json!(tz_name);
            }
            continue;
        }
        if let Some(dt) = v[key]["dateTime"].as_str().and_then(recur::parse_naive) {
            let utc = dt.and_utc();
            v[key] = json!({"dateTime": recur::fmt_local(utc, tz), "timeZone": tz_name});
        }
    }
    if let Some(list) = v
        .get_mut("exceptionOccurrences")
        .and_then(Value::as_array_mut)
    {
        for e in list {
            retz(e, tz_name, tz);
        }
    }
}

impl State {
    pub fn new(options: Options, user: &str, user_name: &str) -> State {
        State {
            options,
            oauth: OAuthState::default(),
            counter: 0,
            default_user: user.to_string(),
            user_id: "87d349ed-44d7-43e1-9a83-5f2406dee5bd".to_string(),
            user_name: user_name.to_string(),
            events: BTreeMap::new(),
            seq: 0,
            changes: Vec::new(),
            silent: HashSet::new(),
            generation: 0,
            delta_tokens: HashMap::new(),
            rounds: HashMap::new(),
            skip_tokens: HashMap::new(),
            faults: VecDeque::new(),
            log: Vec::new(),
            in_flight: 0,
            writes: Default::default(),
            peak_in_flight: 0,
            delayed_now: 0,
            directory: Vec::new(),
            owner: user.to_string(),
            mailboxes: BTreeMap::new(),
            org_users: Vec::new(),
            users_denied: false,
        }
    }

    pub fn opaque(&mut self, tag: &str) -> String {
        self.counter += 1;
        let raw = format!(
            "{tag}:{}:{}",
            self.counter,
            hash64(&self.counter.to_string())
        );
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    fn touch(&mut self, ids: Vec<String>) {
        self.seq += 1;
        self.changes.push((self.seq, ids));
    }

    // ----- rendering ---------------------------------------------------------------------------

    fn defaults(&self) -> Map<String, Value> {
        let me = json!({"emailAddress": {"name": self.user_name, "address": self.default_user}});
        let v = json!({
            "categories": [],
            "reminderMinutesBeforeStart": 15,
            "isReminderOn": true,
            "hasAttachments": false,
            "subject": "",
            "bodyPreview": "",
            "importance": "normal",
            "sensitivity": "normal",
            "isAllDay": false,
            "isCancelled": false,
            "isOrganizer": true,
            "isDraft": false,
            "responseRequested": true,
            "showAs": "busy",
            "onlineMeetingUrl": null,
            "isOnlineMeeting": false,
            "onlineMeetingProvider": "unknown",
            "allowNewTimeProposals": true,
            "hideAttendees": false,
            "responseStatus": {"response": "organizer", "time": SENTINEL_TIME},
            "body": {"contentType": "html", "content": ""},
            "location": {"displayName": "", "locationType": "default", "uniqueIdType": "unknown"},
            "locations": [],
            "attendees": [],
            "organizer": me,
            "onlineMeeting": null,
        });
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// The full Graph event (UTC) for `id` with `fields` over the defaults.
    #[allow(clippy::too_many_arguments)]
    fn full(
        &self,
        id: &str,
        kind: &str,
        master: Option<&Event>,
        fields: &Map<String, Value>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        version_of: (&str, u64),
        times: (DateTime<Utc>, DateTime<Utc>),
        tz_name: &str,
    ) -> Value {
        let ck = change_key(version_of.0, version_of.1);
        let mut out = Map::new();
        out.insert("@odata.etag".into(), json!(format!("W/\"{ck}\"")));
        out.insert("id".into(), json!(id));
        out.insert("createdDateTime".into(), json!(offset_str(times.0)));
        out.insert("lastModifiedDateTime".into(), json!(offset_str(times.1)));
        out.insert("changeKey".into(), json!(ck));
        out.insert("originalStartTimeZone".into(), json!(tz_name));
        out.insert("originalEndTimeZone".into(), json!(tz_name));
        let uid_seed = format!("{:016X}{:016X}", hash64(id), hash64(&format!("{id}/uid")));
        out.insert(
            "iCalUId".into(),
            json!(format!(
                "040000008200E00074C5B7101A82E00800000000{uid_seed}"
            )),
        );
        for (k, v) in self.defaults() {
            out.insert(k, v);
        }
        if let Some(m) = master {
            for (k, v) in &m.fields {
                out.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in fields {
            out.insert(k.clone(), v.clone());
        }
        out.insert("type".into(), json!(kind));
        out.insert(
            "seriesMasterId".into(),
            master.map_or(Value::Null, |m| json!(m.id)),
        );
        out.insert(
            "webLink".into(),
            json!(format!(
                "https://outlook.office365.com/owa/?itemid={}&exvsurl=1&path=/calendar/item",
                percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC)
            )),
        );
        if out.get("isAllDay").and_then(Value::as_bool) == Some(true) {
            // §3.5 FAKE-CHOICE: an all-day item is midnight to midnight of its dates, written as
            // such whatever zone is asked for (UTC here), never converted from its own zone.
            let own = recur::zone(tz_name).unwrap_or(Tz::UTC);
            for (key, t) in [("start", start), ("end", end)] {
                out.insert(
                    key.into(),
                    json!({"dateTime": recur::fmt_local(t, own), "timeZone": "UTC"}),
                );
            }
        } else {
            out.insert("start".into(), dtz(start));
            out.insert("end".into(), dtz(end));
        }
        out.insert("recurrence".into(), Value::Null);
        Value::Object(out)
    }

    fn render_event(&self, ev: &Event) -> Value {
        let kind = if ev.series.is_some() {
            "seriesMaster"
        } else {
            "singleInstance"
        };
        let mut v = self.full(
            &ev.id,
            kind,
            None,
            &ev.fields,
            ev.start,
            ev.end,
            (&ev.id, ev.version),
            (ev.created, ev.modified),
            &ev.time_zone,
        );
        if let Some(s) = &ev.series {
            v["recurrence"] = s.json.clone();
        }
        v
    }

    fn occurrence_times(s: &Series, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
        let start = recur::local_to_utc(NaiveDateTime::new(date, s.local_time), s.tz);
        (start, start + s.duration)
    }

    /// A full occurrence or exception (GET by id, calendarView).
    fn render_instance(&self, master: &Event, date: NaiveDate) -> Option<Value> {
        let s = master.series.as_ref()?;
        let id = occurrence_id(&master.id, date);
        let (orig, _) = Self::occurrence_times(s, date);
        let mut v = match s.overrides.get(&date) {
            Some(Override::Cancelled) => return None,
            Some(Override::Exception(e)) => self.full(
                &id,
                "exception",
                Some(master),
                &e.fields,
                e.start,
                e.end,
                (&id, e.version),
                (master.created, e.modified),
                &master.time_zone,
            ),
            None => {
                let (start, end) = Self::occurrence_times(s, date);
                // Occurrences share the master's etag (sample 13).
                self.full(
                    &id,
                    "occurrence",
                    Some(master),
                    &Map::new(),
                    start,
                    end,
                    (&master.id, master.occ_version),
                    (master.created, master.modified),
                    &master.time_zone,
                )
            }
        };
        v["originalStart"] = json!(orig.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        Some(v)
    }

    /// Sample 09: an occurrence in delta has only these seven properties.
    fn render_bare(&self, master: &Event, date: NaiveDate) -> Value {
        let s = master.series.as_ref().expect("series");
        let (start, end) = Self::occurrence_times(s, date);
        // An all-day series' occurrences are floating like the series (§3.5 FAKE-CHOICE).
        let all_day = master.fields.get("isAllDay").and_then(Value::as_bool) == Some(true);
        let at = |t: DateTime<Utc>| {
            if all_day {
                json!({"dateTime": recur::fmt_local(t, s.tz), "timeZone": "UTC"})
            } else {
                dtz(t)
            }
        };
        json!({
            "@odata.type": "#microsoft.graph.event",
            "@odata.etag": format!("W/\"{}\"", change_key(&master.id, master.occ_version)),
            "id": occurrence_id(&master.id, date),
            "seriesMasterId": master.id,
            "type": "occurrence",
            "start": at(start),
            "end": at(end),
        })
    }

    // ----- views -------------------------------------------------------------------------------

    fn instances(&self, ws: DateTime<Utc>, we: DateTime<Utc>) -> Vec<Inst> {
        let mut out = Vec::new();
        let overlaps =
            |s: DateTime<Utc>, e: DateTime<Utc>| s < we && (e > ws || (s == e && s >= ws));
        for ev in self.events.values() {
            match &ev.series {
                None => {
                    if overlaps(ev.start, ev.end) {
                        out.push(Inst {
                            id: ev.id.clone(),
                            kind: ItemKind::SingleInstance,
                            master: None,
                            date: None,
                            start: ev.start,
                            end: ev.end,
                        });
                    }
                }
                Some(s) => {
                    let until = we.with_timezone(&s.tz).date_naive() + Duration::days(1);
                    for d in s.rec.dates(until) {
                        match s.overrides.get(&d) {
                            Some(Override::Cancelled) | Some(Override::Exception(_)) => {}
                            None => {
                                let (a, b) = Self::occurrence_times(s, d);
                                if overlaps(a, b) {
                                    out.push(Inst {
                                        id: occurrence_id(&ev.id, d),
                                        kind: ItemKind::Occurrence,
                                        master: Some(ev.id.clone()),
                                        date: Some(d),
                                        start: a,
                                        end: b,
                                    });
                                }
                            }
                        }
                    }
                    for (d, o) in &s.overrides {
                        if let Override::Exception(e) = o
                            && overlaps(e.start, e.end)
                        {
                            out.push(Inst {
                                id: occurrence_id(&ev.id, *d),
                                kind: ItemKind::Exception,
                                master: Some(ev.id.clone()),
                                date: Some(*d),
                                start: e.start,
                                end: e.end,
                            });
                        }
                    }
                }
            }
        }
        out.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        out
    }

    pub fn snapshot_view(&self, ws: DateTime<Utc>, we: DateTime<Utc>) -> Vec<ViewItem> {
        self.instances(ws, we)
            .into_iter()
            .map(|i| ViewItem {
                id: i.id,
                kind: i.kind,
                series_master_id: i.master,
                start: i.start,
                end: i.end,
            })
            .collect()
    }

    fn render_inst(&self, i: &Inst, bare: bool) -> Value {
        match (&i.master, i.date) {
            (Some(m), Some(d)) => {
                let master = &self.events[m];
                if bare && i.kind == ItemKind::Occurrence {
                    self.render_bare(master, d)
                } else {
                    self.render_instance(master, d).expect("live instance")
                }
            }
            _ => self.render_event(&self.events[&i.id]),
        }
    }

    /// calendarView items (full, UTC), sorted by start.
    pub fn calendar_view(&self, ws: DateTime<Utc>, we: DateTime<Utc>) -> Vec<Value> {
        self.instances(ws, we)
            .iter()
            .map(|i| self.render_inst(i, false))
            .collect()
    }

    /// The delta rendering of the window: id → item (singles and exceptions full with
    /// `@odata.type`, occurrences bare).
    fn delta_view(&self, ws: DateTime<Utc>, we: DateTime<Utc>) -> Vec<(String, Value)> {
        self.instances(ws, we)
            .iter()
            .map(|i| {
                let mut v = self.render_inst(i, true);
                if let Some(o) = v.as_object_mut()
                    && !o.contains_key("@odata.type")
                {
                    let mut n = Map::new();
                    n.insert("@odata.type".into(), json!("#microsoft.graph.event"));
                    n.extend(std::mem::take(o));
                    *o = n;
                }
                (i.id.clone(), v)
            })
            .collect()
    }

    /// Starts a delta round: the initial one (`prev` None) or the one after a delta token.
    pub fn start_round(
        &mut self,
        base_path: &str,
        ws: DateTime<Utc>,
        we: DateTime<Utc>,
        prev: Option<&DeltaState>,
    ) -> u64 {
        let view = self.delta_view(ws, we);
        let known: HashMap<String, u64> = view
            .iter()
            .map(|(id, v)| (id.clone(), hash64(&v.to_string())))
            .collect();
        let mut entries = Vec::new();
        match prev {
            None => entries.extend(view.into_iter().map(|(_, v)| v)),
            Some(p) => {
                let tomb = |id: &str| json!({"@odata.type": "#microsoft.graph.event", "id": id, "@removed": {"reason": "deleted"}});
                let mut removed: Vec<&String> = p
                    .known
                    .keys()
                    .filter(|id| !known.contains_key(*id) && !self.silent.contains(*id))
                    .collect();
                removed.sort();
                entries.extend(removed.into_iter().map(|id| tomb(id)));
                if self.options.report_out_of_window_changes {
                    // A series with instances in the window is not "outside" it.
                    let present_masters: HashSet<&str> = view
                        .iter()
                        .filter_map(|(_, v)| v["seriesMasterId"].as_str())
                        .collect();
                    let mut noise: Vec<&String> = self
                        .changes
                        .iter()
                        .filter(|(s, _)| *s > p.seq)
                        .flat_map(|(_, ids)| ids)
                        .filter(|id| {
                            !known.contains_key(*id)
                                && !p.known.contains_key(*id)
                                && !present_masters.contains(id.as_str())
                        })
                        .collect();
                    noise.sort();
                    noise.dedup();
                    entries.extend(noise.into_iter().map(|id| tomb(id)));
                }
                for (id, v) in view {
                    if p.known.get(&id) != Some(&known[&id]) {
                        entries.push(v);
                    }
                }
            }
        }
        self.counter += 1;
        let round_id = self.counter;
        self.rounds.insert(
            round_id,
            Round {
                entries,
                next: DeltaState {
                    base_path: base_path.to_string(),
                    start: ws,
                    end: we,
                    known,
                    seq: self.seq,
                    generation: self.generation,
                },
                delta_token: None,
            },
        );
        round_id
    }

    // ----- events by id ------------------------------------------------------------------------

    /// GET /events/{id}: a single, a master, an occurrence or an exception.
    pub fn get_event(
        &self,
        id: &str,
        expand_exceptions: bool,
        with_cancelled: bool,
    ) -> Option<Value> {
        if let Some(ev) = self.events.get(id) {
            let mut v = self.render_event(ev);
            if let Some(s) = &ev.series {
                if with_cancelled {
                    let list: Vec<String> = s
                        .overrides
                        .iter()
                        .filter(|(_, o)| matches!(o, Override::Cancelled))
                        .map(|(d, _)| format!("OID.{}.{}", ev.id, d.format("%Y-%m-%d")))
                        .collect();
                    v["cancelledOccurrences"] = json!(list);
                }
                if expand_exceptions {
                    let list: Vec<Value> = s
                        .overrides
                        .keys()
                        .filter_map(|d| match s.overrides.get(d) {
                            Some(Override::Exception(_)) => self.render_instance(ev, *d),
                            _ => None,
                        })
                        .collect();
                    v["exceptionOccurrences"] = json!(list);
                }
            }
            return Some(v);
        }
        let (m, d) = parse_occurrence_id(id)?;
        let master = self.events.get(&m)?;
        let s = master.series.as_ref()?;
        // The date must be one the pattern produces.
        if !s.rec.dates(d).contains(&d) {
            return None;
        }
        self.render_instance(master, d)
    }

    // ----- mutations ---------------------------------------------------------------------------

    fn new_id(&mut self) -> String {
        self.counter += 1;
        format!(
            "AAMkAGfake{}",
            B64.encode(format!("evt-{:06}", self.counter))
        )
    }

    fn fields_of(&self, spec: &NewEvent) -> Map<String, Value> {
        let mut f = Map::new();
        f.insert("subject".into(), json!(spec.subject));
        let attendees: Vec<Value> = spec
            .attendees
            .iter()
            .map(|a| {
                json!({
                    "type": a.kind,
                    "status": {"response": a.response, "time": if a.response == "none" { SENTINEL_TIME.to_string() } else { offset_str(Utc::now()) }},
                    "emailAddress": {"name": a.name, "address": a.address},
                })
            })
            .collect();
        f.insert("attendees".into(), json!(attendees));
        if let Some((name, address)) = &spec.organizer {
            f.insert(
                "organizer".into(),
                json!({"emailAddress": {"name": name, "address": address}}),
            );
            f.insert("isOrganizer".into(), json!(false));
            f.insert(
                "responseStatus".into(),
                json!({"response": "notResponded", "time": SENTINEL_TIME}),
            );
        }
        for (k, v) in &spec.extra {
            f.insert(k.clone(), v.clone());
        }
        f
    }

    pub fn add_event(&mut self, spec: &NewEvent) -> String {
        let tz = recur::zone(&spec.time_zone)
            .unwrap_or_else(|| panic!("fake_graph: unknown time zone {:?}", spec.time_zone));
        let id = self.new_id();
        let now = Utc::now();
        let ev = Event {
            id: id.clone(),
            fields: self.fields_of(spec),
            start: recur::local_to_utc(spec.start, tz),
            end: recur::local_to_utc(spec.end, tz),
            time_zone: spec.time_zone.clone(),
            series: None,
            version: 1,
            occ_version: 1,
            created: now,
            modified: now,
        };
        self.events.insert(id.clone(), ev);
        self.touch(vec![id.clone()]);
        id
    }

    pub fn add_series(&mut self, spec: &NewEvent, recurrence: &Value) -> Result<String, String> {
        let mut rec = recur::parse(recurrence)?;
        let tz_name = rec
            .time_zone
            .clone()
            .unwrap_or_else(|| spec.time_zone.clone());
        let tz = recur::zone(&tz_name).ok_or(format!("unknown time zone {tz_name:?}"))?;
        let mut json = recurrence.clone();
        json["range"]["recurrenceTimeZone"] = json!(tz_name);
        if json["range"]["endDate"].is_null() {
            json["range"]["endDate"] = json!("0001-01-01");
        }
        if json["range"]["numberOfOccurrences"].is_null() {
            json["range"]["numberOfOccurrences"] = json!(0);
        }
        rec.time_zone = Some(tz_name);
        let local_start = spec.start;
        let duration = spec.end - spec.start;
        let first = rec
            .dates(rec.start + Duration::days(3700))
            .first()
            .copied()
            .ok_or("the pattern produces no occurrence")?;
        let series = Series {
            rec,
            json,
            tz,
            local_time: local_start.time(),
            duration,
            overrides: BTreeMap::new(),
        };
        let (start, end) = Self::occurrence_times(&series, first);
        let id = self.new_id();
        let now = Utc::now();
        self.events.insert(
            id.clone(),
            Event {
                id: id.clone(),
                fields: self.fields_of(spec),
                start,
                end,
                time_zone: spec.time_zone.clone(),
                series: Some(series),
                version: 1,
                occ_version: 1,
                created: now,
                modified: now,
            },
        );
        self.touch(vec![id.clone()]);
        Ok(id)
    }

    fn series_mut(&mut self, master: &str, date: NaiveDate) -> &mut Series {
        let ev = self
            .events
            .get_mut(master)
            .unwrap_or_else(|| panic!("fake_graph: no event {master}"));
        let s = ev
            .series
            .as_mut()
            .unwrap_or_else(|| panic!("fake_graph: {master} is not a series master"));
        assert!(
            s.rec.dates(date).contains(&date),
            "fake_graph: the series {master} has no occurrence on {date}"
        );
        s
    }

    pub fn cancel_occurrence(&mut self, master: &str, date: NaiveDate, delta_entry: bool) {
        self.series_mut(master, date)
            .overrides
            .insert(date, Override::Cancelled);
        let id = occurrence_id(master, date);
        if !delta_entry {
            self.silent.insert(id.clone());
        }
        self.bump(master);
        self.touch(vec![id]);
    }

    /// Creates or updates the exception at `date`: new times (UTC) and/or changed fields.
    pub fn modify_occurrence(
        &mut self,
        master: &str,
        date: NaiveDate,
        times: Option<(DateTime<Utc>, DateTime<Utc>)>,
        patch: &Map<String, Value>,
    ) -> String {
        let s = self.series_mut(master, date);
        let (os, oe) = Self::occurrence_times(s, date);
        let now = Utc::now();
        let exc = match s.overrides.get(&date) {
            Some(Override::Exception(e)) => e.clone(),
            Some(Override::Cancelled) => panic!("fake_graph: occurrence {date} is cancelled"),
            None => Exception {
                start: os,
                end: oe,
                fields: Map::new(),
                version: 0,
                modified: now,
            },
        };
        let mut exc = exc;
        if let Some((a, b)) = times {
            exc.start = a;
            exc.end = b;
        }
        for (k, v) in patch {
            exc.fields.insert(k.clone(), v.clone());
        }
        exc.version += 1;
        exc.modified = now;
        s.overrides.insert(date, Override::Exception(exc));
        self.bump(master);
        let id = occurrence_id(master, date);
        self.touch(vec![id.clone()]);
        id
    }

    pub fn local_of_series(&self, master: &str, local: NaiveDateTime) -> DateTime<Utc> {
        let s = self.events[master].series.as_ref().expect("series");
        recur::local_to_utc(local, s.tz)
    }

    fn bump(&mut self, id: &str) {
        if let Some(ev) = self.events.get_mut(id) {
            ev.version += 1;
            ev.modified = Utc::now();
        }
    }

    /// Merges `patch` into a single event, a master or (by occurrence/exception id) an exception.
    /// `start`/`end` (dateTimeTimeZone) move a single event.
    pub fn update_event(&mut self, id: &str, patch: &Map<String, Value>) {
        if let Some(ev) = self.events.get_mut(id) {
            let mut patch = patch.clone();
            for key in ["start", "end"] {
                if let Some(v) = patch.remove(key) {
                    assert!(
                        ev.series.is_none(),
                        "fake_graph: moving a series is not modelled"
                    );
                    let tz = v["timeZone"]
                        .as_str()
                        .and_then(recur::zone)
                        .expect("timeZone");
                    let t = recur::local_to_utc(
                        v["dateTime"]
                            .as_str()
                            .and_then(recur::parse_naive)
                            .expect("dateTime"),
                        tz,
                    );
                    if key == "start" {
                        ev.start = t;
                    } else {
                        ev.end = t;
                    }
                }
            }
            for (k, v) in patch {
                ev.fields.insert(k, v);
            }
            ev.occ_version += 1;
            self.bump(id);
            self.touch(vec![id.to_string()]);
            return;
        }
        let (m, d) = parse_occurrence_id(id).expect("fake_graph: unknown event id");
        self.modify_occurrence(&m, d, None, patch);
    }

    /// The owner's `responseStatus` (e.g. `declined`), and their entry in `attendees` if present.
    pub fn set_response(&mut self, id: &str, response: &str) {
        let mut patch = Map::new();
        patch.insert(
            "responseStatus".into(),
            json!({"response": response, "time": offset_str(Utc::now())}),
        );
        let current = if let Some(ev) = self.events.get(id) {
            Some(self.render_event(ev))
        } else {
            self.get_event(id, false, false)
        };
        if let Some(cur) = current
            && let Some(list) = cur["attendees"].as_array()
        {
            let me = self.default_user.to_ascii_lowercase();
            let updated: Vec<Value> = list
                .iter()
                .map(|a| {
                    let mut a = a.clone();
                    if a["emailAddress"]["address"]
                        .as_str()
                        .map(str::to_ascii_lowercase)
                        == Some(me.clone())
                    {
                        a["status"] = json!({"response": response, "time": offset_str(Utc::now())});
                    }
                    a
                })
                .collect();
            patch.insert("attendees".into(), json!(updated));
        }
        self.update_event(id, &patch);
    }

    /// Deletes a single event or a whole series; an occurrence/exception id cancels it.
    pub fn delete_event(&mut self, id: &str) {
        if let Some(ev) = self.events.remove(id) {
            let mut ids = vec![id.to_string()];
            if let Some(s) = &ev.series {
                ids.extend(s.overrides.keys().map(|d| occurrence_id(id, *d)));
            }
            self.touch(ids);
            return;
        }
        let (m, d) = parse_occurrence_id(id).expect("fake_graph: unknown event id");
        self.cancel_occurrence(&m, d, true);
    }

    pub fn invalidate_delta_tokens(&mut self) {
        self.generation += 1;
    }
}
