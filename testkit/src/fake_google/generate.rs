//! Bulk generation of realistic event resources (for benchmarks and paging tests).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, SecondsFormat, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::state::State;
use super::time::InstanceStart;

/// What to generate. `count` is the number of event resources created (masters, exceptions and
/// cancelled instances each count as one).
#[derive(Debug, Clone)]
pub struct GenerateSpec {
    pub count: usize,
    pub seed: u64,
    /// First day of the window the events fall in (in the calendar's zone).
    pub first_day: NaiveDate,
    pub days: i64,
    /// Domain of the generated attendees' emails.
    pub domain: String,
}

impl Default for GenerateSpec {
    fn default() -> Self {
        GenerateSpec {
            count: 1000,
            seed: 1,
            first_day: NaiveDate::from_ymd_opt(2026, 1, 5).expect("date"),
            days: 180,
            domain: "example.com".to_string(),
        }
    }
}

/// What was generated, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerateSummary {
    pub total: usize,
    pub singles: usize,
    pub all_day: usize,
    pub masters: usize,
    pub modified_exceptions: usize,
    pub cancelled_instances: usize,
    pub by_event_type: BTreeMap<String, usize>,
    /// Ids of the recurring masters, in creation order.
    pub master_ids: Vec<String>,
}

struct Rng(u64);

impl Rng {
    /// splitmix64: deterministic, no dependency.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const STATUSES: &[&str] = &[
    "accepted",
    "accepted",
    "tentative",
    "needsAction",
    "declined",
];
const TITLES: &[&str] = &[
    "Planning",
    "Design review",
    "Sync",
    "Lunch",
    "Interview",
    "Roadmap",
    "Demo",
    "Retro",
];

fn byday(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

fn local_edt(
    tz: Tz,
    zone: &str,
    date: NaiveDate,
    hour: u32,
    minute: u32,
) -> (Value, DateTime<Utc>) {
    let local = date.and_hms_opt(hour, minute, 0).expect("time");
    let t = tz
        .from_local_datetime(&local)
        .earliest()
        .expect("local time");
    (
        json!({"dateTime": t.to_rfc3339_opts(SecondsFormat::Secs, false), "timeZone": zone}),
        t.with_timezone(&Utc),
    )
}

fn attendees(rng: &mut Rng, me: &str, domain: &str, others: usize) -> Value {
    let mut list = vec![json!({
        "email": me, "organizer": true, "self": true, "responseStatus": "accepted"
    })];
    for _ in 0..others {
        let n = rng.below(400);
        list.push(json!({
            "email": format!("person{n}@{domain}"),
            "displayName": format!("Person {n}"),
            "responseStatus": STATUSES[rng.below(STATUSES.len() as u64) as usize],
        }));
    }
    json!(list)
}

impl State {
    pub fn generate_events(&mut self, calendar: &str, spec: &GenerateSpec) -> GenerateSummary {
        let mut rng = Rng(spec.seed);
        let mut sum = GenerateSummary::default();
        let (tz, zone) = {
            let c = self.calendar(calendar);
            (c.tz, c.time_zone.clone())
        };
        let me = calendar.to_string();
        let count_type = |sum: &mut GenerateSummary, t: &str| {
            *sum.by_event_type.entry(t.to_string()).or_default() += 1;
        };
        while sum.total < spec.count {
            let left = spec.count - sum.total;
            let day = spec.first_day + Duration::days(rng.below(spec.days.max(1) as u64) as i64);
            let hour = 8 + rng.below(9) as u32;
            let minute = [0, 15, 30, 45][rng.below(4) as usize];
            let roll = rng.below(100);
            let title = TITLES[rng.below(TITLES.len() as u64) as usize];
            if roll < 30 && left >= 2 {
                // A recurring master (1on1 or team meeting) with a few exceptions.
                let day = day - Duration::days(day.weekday().num_days_from_monday() as i64);
                let (start, start_utc) = local_edt(tz, &zone, day, hour, minute);
                let minutes = [25, 30, 45, 60][rng.below(4) as usize];
                let (end, _) = local_edt(
                    tz,
                    &zone,
                    day,
                    hour + (minute + minutes) / 60,
                    (minute + minutes) % 60,
                );
                let interval = 1 + rng.below(2) as i64;
                let one_on_one = rng.below(2) == 0;
                let report = rng.below(400);
                let (summary, people) = if one_on_one {
                    (format!("Me / Person {report} 1:1"), 1)
                } else {
                    (format!("Team {title}"), 2 + rng.below(8) as usize)
                };
                let mut rule = format!("RRULE:FREQ=WEEKLY;BYDAY={}", byday(day.weekday()));
                if interval > 1 {
                    rule = format!(
                        "RRULE:FREQ=WEEKLY;INTERVAL={interval};BYDAY={}",
                        byday(day.weekday())
                    );
                }
                let mut att = attendees(&mut rng, &me, &spec.domain, people);
                if one_on_one {
                    att[1]["email"] = json!(format!("person{report}@{}", spec.domain));
                    att[1]["displayName"] = json!(format!("Person {report}"));
                    att[1]["responseStatus"] = json!("accepted");
                }
                let master = self.insert_event(
                    calendar,
                    json!({
                        "summary": summary,
                        "start": start,
                        "end": end,
                        "recurrence": [rule],
                        "attendees": att,
                        "reminders": {"useDefault": true},
                    }),
                );
                let master_id = master["id"].as_str().expect("id").to_string();
                sum.total += 1;
                sum.masters += 1;
                count_type(&mut sum, "default");
                sum.master_ids.push(master_id.clone());
                let _ = start_utc;
                let exceptions = (rng.below(4) as usize).min(spec.count - sum.total);
                let mut used = Vec::new();
                for _ in 0..exceptions {
                    let k = 1 + rng.below(8) as i64;
                    if used.contains(&k) {
                        continue;
                    }
                    used.push(k);
                    let occ_day = day + Duration::days(7 * interval * k);
                    let (_, orig_utc) = local_edt(tz, &zone, occ_day, hour, minute);
                    let original = InstanceStart::Timed(orig_utc);
                    match rng.below(3) {
                        0 => {
                            self.cancel_instance(calendar, &master_id, original);
                            sum.cancelled_instances += 1;
                        }
                        1 => {
                            let (s, _) =
                                local_edt(tz, &zone, occ_day + Duration::days(1), hour, minute);
                            let shifted =
                                orig_utc + Duration::days(1) + Duration::minutes(minutes as i64);
                            let e = json!({
                                "dateTime": shifted.with_timezone(&tz).to_rfc3339_opts(SecondsFormat::Secs, false),
                                "timeZone": zone,
                            });
                            self.modify_instance(
                                calendar,
                                &master_id,
                                original,
                                &json!({"start": s, "end": e}),
                            );
                            sum.modified_exceptions += 1;
                        }
                        _ => {
                            let base = self.calendar(calendar).events[&master_id].resource.clone();
                            let mut att = base["attendees"].clone();
                            att[0]["responseStatus"] = json!("declined");
                            self.modify_instance(
                                calendar,
                                &master_id,
                                original,
                                &json!({"attendees": att}),
                            );
                            sum.modified_exceptions += 1;
                        }
                    }
                    sum.total += 1;
                    count_type(&mut sum, "default");
                }
            } else if roll < 40 {
                // All-day: a default event or a working location.
                let working = rng.below(2) == 0;
                let end = day + Duration::days(1);
                let mut ev = json!({
                    "summary": if working { "Home" } else { "Offsite" },
                    "start": {"date": day.format("%Y-%m-%d").to_string()},
                    "end": {"date": end.format("%Y-%m-%d").to_string()},
                    "transparency": "transparent",
                });
                let t = if working {
                    ev["eventType"] = json!("workingLocation");
                    ev["visibility"] = json!("public");
                    ev["workingLocationProperties"] =
                        json!({"type": "homeOffice", "homeOffice": {}});
                    "workingLocation"
                } else {
                    "default"
                };
                self.insert_event(calendar, ev);
                sum.total += 1;
                sum.all_day += 1;
                count_type(&mut sum, t);
            } else {
                let (start, _) = local_edt(tz, &zone, day, hour, minute);
                let (end, _) = local_edt(tz, &zone, day, hour + 1, minute);
                let t = match rng.below(10) {
                    0 => "focusTime",
                    1 => "outOfOffice",
                    _ => "default",
                };
                let mut ev = json!({"summary": title, "start": start, "end": end, "eventType": t});
                match t {
                    "focusTime" => {
                        ev["summary"] = json!("Focus time");
                        ev["focusTimeProperties"] = json!({"autoDeclineMode": "declineOnlyNewConflictingInvitations", "chatStatus": "doNotDisturb"});
                        ev["transparency"] = json!("opaque");
                    }
                    "outOfOffice" => {
                        ev["summary"] = json!("Out of office");
                        ev["outOfOfficeProperties"] = json!({"autoDeclineMode": "declineAllConflictingInvitations", "declineMessage": "Away"});
                    }
                    _ => {
                        let n = rng.below(6) as usize;
                        if n > 0 {
                            ev["attendees"] = attendees(&mut rng, &me, &spec.domain, n);
                        }
                    }
                }
                self.insert_event(calendar, ev);
                sum.total += 1;
                sum.singles += 1;
                count_type(&mut sum, t);
            }
        }
        sum
    }
}
