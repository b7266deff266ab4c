//! TZID names → zones: IANA names, Windows names, and the decorated forms exporters write.

use super::Zone;

/// The zone a TZID names without any VTIMEZONE help, if the name is known.
pub fn resolve_name(tzid: &str) -> Option<Zone> {
    let name = tzid.trim().trim_matches('"');
    if name.eq_ignore_ascii_case("UTC") || name.eq_ignore_ascii_case("GMT") || name == "Z" {
        return Some(Zone::Utc);
    }
    name.parse::<chrono_tz::Tz>().ok().map(Zone::Iana)
}
