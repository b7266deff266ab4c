//! TZID resolution for one VCALENDAR, and VTIMEZONE → [`CustomZone`].
//!
//! Order for a `TZID=` parameter:
//! 1. a name [`resolve_name`] knows (IANA, Windows, decorated, Outlook display name) — even when
//!    the file carries a VTIMEZONE for it: the database is more complete than the export's
//!    (Outlook writes one year of rules; Google and Apple the rules in force at export time);
//! 2. otherwise the file's VTIMEZONE with that TZID, as a [`CustomZone`] (Outlook's "Customized
//!    Time Zone", Lotus Notes names, …); if it has no usable observance, its `X-LIC-LOCATION` if
//!    that is a known name;
//! 3. otherwise unknown: the time is read as floating and a warning is recorded (the manager's
//!    zone then applies, which is the best guess for a personal feed).
//!
//! `X-WR-TIMEZONE` (Google, Apple): as the reference `x-wr-timezone` conversion used by the
//! Python `recurring-ical-events`, UTC date-times are moved into that zone (same instant, local
//! wall clock, so recurrences keep their local time across DST) and floating date-times are read
//! in it; dates and `TZID=` times are untouched. It applies to DTSTART, DTEND, RDATE, EXDATE and
//! RECURRENCE-ID.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::NaiveDateTime;

use super::lines::Component;
use super::values::{RawTime, parse_period, parse_time, parse_utc_offset};
use crate::model::EventTime;
use crate::tz::{CustomZone, Observance, Zone, resolve_name};

/// Zone knowledge of one VCALENDAR.
pub(crate) struct Zones<'a> {
    vtimezones: HashMap<String, &'a Component>,
    cache: HashMap<String, Resolved>,
    /// Unknown TZIDs already warned about.
    reported: HashSet<String>,
    /// The zone named by `X-WR-TIMEZONE`, when it is known.
    pub x_wr: Option<Zone>,
}

#[derive(Clone)]
enum Resolved {
    Known(Zone),
    /// Unknown; the message explains why (reported once per use site).
    Unknown(String),
}

impl<'a> Zones<'a> {
    /// Index the VTIMEZONEs of `calendar`. Returns notes (line, message) about X-WR-TIMEZONE.
    pub fn new(calendar: &'a Component) -> (Self, Vec<(usize, String)>) {
        let mut notes = Vec::new();
        let mut vtimezones = HashMap::new();
        for tz in calendar.children.iter().filter(|c| c.name == "VTIMEZONE") {
            if let Some(id) = tz.first("TZID") {
                vtimezones.entry(id.value.trim().to_string()).or_insert(tz);
            }
        }
        let x_wr = calendar.first("X-WR-TIMEZONE").and_then(|p| {
            let zone = resolve_name(&p.value);
            if zone.is_none() {
                notes.push((
                    p.line,
                    format!(
                        "X-WR-TIMEZONE `{}` is not a known zone; ignored",
                        p.value.trim()
                    ),
                ));
            }
            zone
        });
        (
            Zones {
                vtimezones,
                cache: HashMap::new(),
                reported: HashSet::new(),
                x_wr,
            },
            notes,
        )
    }

    /// The zone of a `TZID=` value, or why it is unknown.
    pub fn resolve(&mut self, tzid: &str) -> Result<Zone, String> {
        let key = tzid.trim().to_string();
        if let Some(r) = self.cache.get(&key) {
            return match r {
                Resolved::Known(z) => Ok(z.clone()),
                Resolved::Unknown(why) => Err(why.clone()),
            };
        }
        let resolved = match resolve_name(&key) {
            Some(zone) => Resolved::Known(zone),
            None => match self.vtimezones.get(key.as_str()).or_else(|| {
                // Tolerate a case or quoting mismatch between TZID= and the VTIMEZONE's TZID.
                self.vtimezones
                    .iter()
                    .find(|(id, _)| {
                        id.trim_matches('"')
                            .eq_ignore_ascii_case(key.trim_matches('"'))
                    })
                    .map(|(_, c)| c)
            }) {
                Some(vtz) => match build_custom_zone(vtz, &key) {
                    Ok(zone) => Resolved::Known(Zone::Custom(Arc::new(zone))),
                    Err(why) => match vtz
                        .first("X-LIC-LOCATION")
                        .and_then(|p| resolve_name(&p.value))
                    {
                        Some(zone) => Resolved::Known(zone),
                        None => Resolved::Unknown(format!(
                            "TZID `{key}`: its VTIMEZONE (line {}) is unusable ({why}); time read as floating",
                            vtz.line
                        )),
                    },
                },
                None => Resolved::Unknown(format!(
                    "TZID `{key}` is not a known zone and the feed has no VTIMEZONE for it; time read as floating"
                )),
            },
        };
        self.cache.insert(key, resolved.clone());
        match resolved {
            Resolved::Known(z) => Ok(z),
            Resolved::Unknown(why) => Err(why),
        }
    }

    /// Apply a zone to a raw value: `Z` → UTC, `TZID` → its zone (unknown → floating, with the
    /// reason in `warning`), neither → floating; then the X-WR-TIMEZONE rule.
    pub fn event_time(
        &mut self,
        raw: RawTime,
        tzid: Option<&str>,
        warning: &mut Option<String>,
    ) -> EventTime {
        let time = match raw {
            RawTime::Date(date) => EventTime::Date { date },
            RawTime::DateTime { local, utc: true } => EventTime::Zoned {
                local,
                zone: Zone::Utc,
            },
            RawTime::DateTime { local, utc: false } => match tzid {
                Some(tzid) if !tzid.trim().is_empty() => match self.resolve(tzid) {
                    Ok(zone) => EventTime::Zoned { local, zone },
                    Err(why) => {
                        // Reported once per feed and TZID, not at every use.
                        if self.reported.insert(tzid.trim().to_string()) {
                            warning.get_or_insert(why);
                        }
                        EventTime::Floating { local }
                    }
                },
                _ => EventTime::Floating { local },
            },
        };
        self.apply_x_wr(time)
    }

    fn apply_x_wr(&self, time: EventTime) -> EventTime {
        let Some(x_wr) = &self.x_wr else { return time };
        match time {
            EventTime::Floating { local } => EventTime::Zoned {
                local,
                zone: x_wr.clone(),
            },
            EventTime::Zoned {
                local,
                zone: Zone::Utc,
            } => {
                let instant = local.and_utc();
                let moved = x_wr.from_utc(instant);
                // A UTC instant in the second half of a fall-back overlap has no unambiguous wall
                // clock there: keep it in UTC rather than shift it by an hour.
                if x_wr.to_utc(moved) == instant {
                    EventTime::Zoned {
                        local: moved,
                        zone: x_wr.clone(),
                    }
                } else {
                    EventTime::Zoned {
                        local,
                        zone: Zone::Utc,
                    }
                }
            }
            other => other,
        }
    }
}

/// Build a [`CustomZone`] from a VTIMEZONE. Unusable observances are left out; a zone with none
/// left is an error.
pub(crate) fn build_custom_zone(vtz: &Component, tzid: &str) -> Result<CustomZone, String> {
    let mut observances = Vec::new();
    let mut problems = Vec::new();
    for obs in vtz
        .children
        .iter()
        .filter(|c| c.name == "STANDARD" || c.name == "DAYLIGHT")
    {
        match observance(obs) {
            Ok(o) => observances.push(o),
            Err(why) => problems.push(format!("{} at line {}: {why}", obs.name, obs.line)),
        }
    }
    if observances.is_empty() {
        return Err(if problems.is_empty() {
            "no STANDARD or DAYLIGHT".to_string()
        } else {
            problems.join("; ")
        });
    }
    observances.sort_by_key(|o| o.dtstart);
    Ok(CustomZone {
        tzid: tzid.to_string(),
        observances,
    })
}

fn observance(obs: &Component) -> Result<Observance, String> {
    let dtstart = obs.first("DTSTART").ok_or("no DTSTART")?.value.as_str();
    let dtstart = parse_time(dtstart)
        .ok_or_else(|| format!("DTSTART `{dtstart}` is not a date-time"))?
        .local();
    let to = obs.first("TZOFFSETTO").ok_or("no TZOFFSETTO")?;
    let offset_to = parse_utc_offset(&to.value)
        .ok_or_else(|| format!("TZOFFSETTO `{}` is not an offset", to.value.trim()))?;
    let offset_from = match obs.first("TZOFFSETFROM") {
        Some(from) => parse_utc_offset(&from.value)
            .ok_or_else(|| format!("TZOFFSETFROM `{}` is not an offset", from.value.trim()))?,
        None => offset_to,
    };
    let rrule = obs
        .first("RRULE")
        .map(|r| r.value.trim().to_string())
        .filter(|r| !r.is_empty());
    let mut rdates: Vec<NaiveDateTime> = Vec::new();
    for rdate in obs.all("RDATE") {
        for item in rdate
            .value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let start = if item.contains('/') {
                parse_period(item).map(|(s, _)| s)
            } else {
                parse_time(item)
            };
            // An unreadable RDATE in a zone definition only loses that one transition.
            if let Some(start) = start {
                rdates.push(start.local());
            }
        }
    }
    Ok(Observance {
        daylight: obs.name == "DAYLIGHT",
        dtstart,
        offset_from,
        offset_to,
        rrule,
        rdates,
    })
}
