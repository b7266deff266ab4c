//! TZID names → zones: IANA names, Windows names, and the decorated forms exporters write.
//!
//! [`resolve_name`] understands, case-insensitively and ignoring surrounding quotes and blanks:
//!
//! - IANA names known to chrono-tz, including the backward-compatible links (`US/Pacific`,
//!   `Asia/Calcutta`) and `Etc/GMT+5`;
//! - `UTC`, `GMT`, `Z`, `Etc/UTC`, `Zulu` … → [`Zone::Utc`];
//! - Windows zone names (CLDR `windowsZones.xml`, territory `001`): `W. Europe Standard Time` →
//!   `Europe/Berlin`, `Eastern Standard Time` → `America/New_York`, …;
//! - Outlook display names such as `(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna`
//!   (the common ones; the rest are unknown);
//! - path-decorated names: `/mozilla.org/20050126_1/Europe/Berlin`,
//!   `/freeassociation.sourceforge.net/Tzfile/Europe/Vienna` (the longest trailing part that is an
//!   IANA name wins);
//! - fixed whole-hour offsets written `UTC+05:00`, `GMT-3`, `UTC+0100` → `Etc/GMT∓N`.
//!
//! Anything else is unknown (`None`); the caller then falls back to the feed's VTIMEZONE.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono_tz::Tz;

use super::Zone;

/// The zone a TZID names without any VTIMEZONE help, if the name is known.
pub fn resolve_name(tzid: &str) -> Option<Zone> {
    let name = tzid.trim().trim_matches('"').trim();
    if name.is_empty() {
        return None;
    }
    if is_utc_name(name) {
        return Some(Zone::Utc);
    }
    if let Some(tz) = iana(name) {
        return Some(zone_of(tz));
    }
    if let Some(tz) = windows(name) {
        return Some(zone_of(tz));
    }
    if let Some(zone) = display_name(name) {
        return Some(zone);
    }
    if let Some(zone) = fixed_offset(name) {
        return Some(zone);
    }
    if name.contains('/') {
        // Decorated: try the trailing parts, longest first (`/mozilla.org/2005/Europe/Berlin`).
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty()).collect();
        for start in 1..parts.len() {
            let candidate = parts[start..].join("/");
            if is_utc_name(&candidate) {
                return Some(Zone::Utc);
            }
            if let Some(tz) = iana(&candidate) {
                return Some(zone_of(tz));
            }
            if let Some(tz) = windows(&candidate) {
                return Some(zone_of(tz));
            }
        }
    }
    None
}

fn zone_of(tz: Tz) -> Zone {
    if is_utc_name(tz.name()) {
        Zone::Utc
    } else {
        Zone::Iana(tz)
    }
}

const UTC_NAMES: &[&str] = &[
    "UTC",
    "GMT",
    "Z",
    "UT",
    "UCT",
    "Zulu",
    "Universal",
    "Greenwich",
    "GMT0",
    "GMT+0",
    "GMT-0",
    "Etc/UTC",
    "Etc/GMT",
    "Etc/UCT",
    "Etc/Zulu",
    "Etc/Universal",
    "Etc/Greenwich",
    "Etc/GMT0",
    "Etc/GMT+0",
    "Etc/GMT-0",
    "Coordinated Universal Time",
];

fn is_utc_name(name: &str) -> bool {
    UTC_NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// IANA names by lower-cased name (chrono-tz is case-sensitive without an extra feature).
static IANA_LOWER: LazyLock<HashMap<String, Tz>> = LazyLock::new(|| {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| (tz.name().to_ascii_lowercase(), *tz))
        .collect()
});

fn iana(name: &str) -> Option<Tz> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Some(tz);
    }
    IANA_LOWER.get(&name.to_ascii_lowercase()).copied()
}

fn windows(name: &str) -> Option<Tz> {
    let iana_name = WINDOWS_ZONES
        .iter()
        .find(|(windows, _)| windows.eq_ignore_ascii_case(name))
        .map(|(_, iana)| *iana)?;
    iana(iana_name)
}

/// Outlook display names: `(UTC+01:00) Amsterdam, Berlin, …` or the older `(GMT+01:00) …`.
fn display_name(name: &str) -> Option<Zone> {
    let rest = name.strip_prefix('(')?;
    let close = rest.find(')')?;
    let (offset, places) = (&rest[..close], rest[close + 1..].trim());
    let places_norm = normalize_places(places);
    if let Some((_, iana_name)) = OUTLOOK_DISPLAY_NAMES
        .iter()
        .find(|(p, _)| normalize_places(p) == places_norm)
    {
        return iana(iana_name).map(zone_of);
    }
    // `(UTC) Coordinated Universal Time`, `(UTC) Dublin, …` are handled above; a bare `(UTC)`:
    if places.is_empty() {
        return fixed_offset(offset).or_else(|| is_utc_name(offset).then_some(Zone::Utc));
    }
    None
}

fn normalize_places(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric() || *c == ',')
        .flat_map(char::to_lowercase)
        .collect()
}

/// `UTC+05:00`, `GMT-3`, `UTC+0100`: whole-hour offsets only, as `Etc/GMT∓N` (POSIX sign).
fn fixed_offset(name: &str) -> Option<Zone> {
    let upper = name.to_ascii_uppercase();
    let rest = upper
        .strip_prefix("UTC")
        .or_else(|| upper.strip_prefix("GMT"))?;
    let (sign, digits) = match rest.as_bytes().first()? {
        b'+' => ('+', &rest[1..]),
        b'-' => ('-', &rest[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<u32>().ok()?, 0),
        3 => (
            digits[..1].parse::<u32>().ok()?,
            digits[1..].parse::<u32>().ok()?,
        ),
        _ => (
            digits[..2].parse::<u32>().ok()?,
            digits[2..].parse::<u32>().ok()?,
        ),
    };
    if minutes != 0 || hours > 14 {
        return None;
    }
    if hours == 0 {
        return Some(Zone::Utc);
    }
    // Etc/GMT+5 is five hours *west* of Greenwich.
    let etc_sign = if sign == '+' { '-' } else { '+' };
    iana(&format!("Etc/GMT{etc_sign}{hours}")).map(Zone::Iana)
}

/// CLDR `windowsZones.xml`, the `territory="001"` mapping of every Windows zone id, plus a few
/// retired ids that old Outlook exports still write.
pub const WINDOWS_ZONES: &[(&str, &str)] = &[
    ("Dateline Standard Time", "Etc/GMT+12"),
    ("UTC-11", "Etc/GMT+11"),
    ("Aleutian Standard Time", "America/Adak"),
    ("Hawaiian Standard Time", "Pacific/Honolulu"),
    ("Marquesas Standard Time", "Pacific/Marquesas"),
    ("Alaskan Standard Time", "America/Anchorage"),
    ("UTC-09", "Etc/GMT+9"),
    ("Pacific Standard Time (Mexico)", "America/Tijuana"),
    ("UTC-08", "Etc/GMT+8"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("US Mountain Standard Time", "America/Phoenix"),
    ("Mountain Standard Time (Mexico)", "America/Mazatlan"),
    ("Mountain Standard Time", "America/Denver"),
    ("Yukon Standard Time", "America/Whitehorse"),
    ("Central America Standard Time", "America/Guatemala"),
    ("Central Standard Time", "America/Chicago"),
    ("Easter Island Standard Time", "Pacific/Easter"),
    ("Central Standard Time (Mexico)", "America/Mexico_City"),
    ("Canada Central Standard Time", "America/Regina"),
    ("SA Pacific Standard Time", "America/Bogota"),
    ("Eastern Standard Time (Mexico)", "America/Cancun"),
    ("Eastern Standard Time", "America/New_York"),
    ("Haiti Standard Time", "America/Port-au-Prince"),
    ("Cuba Standard Time", "America/Havana"),
    ("US Eastern Standard Time", "America/Indiana/Indianapolis"),
    ("Turks And Caicos Standard Time", "America/Grand_Turk"),
    ("Paraguay Standard Time", "America/Asuncion"),
    ("Atlantic Standard Time", "America/Halifax"),
    ("Venezuela Standard Time", "America/Caracas"),
    ("Central Brazilian Standard Time", "America/Cuiaba"),
    ("SA Western Standard Time", "America/La_Paz"),
    ("Pacific SA Standard Time", "America/Santiago"),
    ("Newfoundland Standard Time", "America/St_Johns"),
    ("Tocantins Standard Time", "America/Araguaina"),
    ("E. South America Standard Time", "America/Sao_Paulo"),
    ("SA Eastern Standard Time", "America/Cayenne"),
    ("Argentina Standard Time", "America/Argentina/Buenos_Aires"),
    ("Greenland Standard Time", "America/Nuuk"),
    ("Montevideo Standard Time", "America/Montevideo"),
    ("Magallanes Standard Time", "America/Punta_Arenas"),
    ("Saint Pierre Standard Time", "America/Miquelon"),
    ("Bahia Standard Time", "America/Bahia"),
    ("UTC-02", "Etc/GMT+2"),
    ("Mid-Atlantic Standard Time", "Etc/GMT+2"),
    ("Azores Standard Time", "Atlantic/Azores"),
    ("Cape Verde Standard Time", "Atlantic/Cape_Verde"),
    ("UTC", "Etc/UTC"),
    ("GMT Standard Time", "Europe/London"),
    ("Greenwich Standard Time", "Atlantic/Reykjavik"),
    ("Sao Tome Standard Time", "Africa/Sao_Tome"),
    ("Morocco Standard Time", "Africa/Casablanca"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Central Europe Standard Time", "Europe/Budapest"),
    ("Romance Standard Time", "Europe/Paris"),
    ("Central European Standard Time", "Europe/Warsaw"),
    ("W. Central Africa Standard Time", "Africa/Lagos"),
    ("Jordan Standard Time", "Asia/Amman"),
    ("GTB Standard Time", "Europe/Bucharest"),
    ("Middle East Standard Time", "Asia/Beirut"),
    ("Egypt Standard Time", "Africa/Cairo"),
    ("E. Europe Standard Time", "Europe/Chisinau"),
    ("Syria Standard Time", "Asia/Damascus"),
    ("West Bank Standard Time", "Asia/Hebron"),
    ("South Africa Standard Time", "Africa/Johannesburg"),
    ("FLE Standard Time", "Europe/Kiev"),
    ("Israel Standard Time", "Asia/Jerusalem"),
    ("South Sudan Standard Time", "Africa/Juba"),
    ("Kaliningrad Standard Time", "Europe/Kaliningrad"),
    ("Sudan Standard Time", "Africa/Khartoum"),
    ("Libya Standard Time", "Africa/Tripoli"),
    ("Namibia Standard Time", "Africa/Windhoek"),
    ("Arabic Standard Time", "Asia/Baghdad"),
    ("Turkey Standard Time", "Europe/Istanbul"),
    ("Arab Standard Time", "Asia/Riyadh"),
    ("Belarus Standard Time", "Europe/Minsk"),
    ("Russian Standard Time", "Europe/Moscow"),
    ("E. Africa Standard Time", "Africa/Nairobi"),
    ("Volgograd Standard Time", "Europe/Volgograd"),
    ("Iran Standard Time", "Asia/Tehran"),
    ("Arabian Standard Time", "Asia/Dubai"),
    ("Astrakhan Standard Time", "Europe/Astrakhan"),
    ("Azerbaijan Standard Time", "Asia/Baku"),
    ("Russia Time Zone 3", "Europe/Samara"),
    ("Mauritius Standard Time", "Indian/Mauritius"),
    ("Saratov Standard Time", "Europe/Saratov"),
    ("Georgian Standard Time", "Asia/Tbilisi"),
    ("Caucasus Standard Time", "Asia/Yerevan"),
    ("Armenian Standard Time", "Asia/Yerevan"),
    ("Afghanistan Standard Time", "Asia/Kabul"),
    ("West Asia Standard Time", "Asia/Tashkent"),
    ("Qyzylorda Standard Time", "Asia/Qyzylorda"),
    ("Ekaterinburg Standard Time", "Asia/Yekaterinburg"),
    ("Pakistan Standard Time", "Asia/Karachi"),
    ("India Standard Time", "Asia/Kolkata"),
    ("Sri Lanka Standard Time", "Asia/Colombo"),
    ("Nepal Standard Time", "Asia/Kathmandu"),
    ("Central Asia Standard Time", "Asia/Bishkek"),
    ("Bangladesh Standard Time", "Asia/Dhaka"),
    ("Omsk Standard Time", "Asia/Omsk"),
    ("Myanmar Standard Time", "Asia/Yangon"),
    ("SE Asia Standard Time", "Asia/Bangkok"),
    ("Altai Standard Time", "Asia/Barnaul"),
    ("W. Mongolia Standard Time", "Asia/Hovd"),
    ("North Asia Standard Time", "Asia/Krasnoyarsk"),
    ("N. Central Asia Standard Time", "Asia/Novosibirsk"),
    ("Tomsk Standard Time", "Asia/Tomsk"),
    ("China Standard Time", "Asia/Shanghai"),
    ("North Asia East Standard Time", "Asia/Irkutsk"),
    ("Singapore Standard Time", "Asia/Singapore"),
    ("W. Australia Standard Time", "Australia/Perth"),
    ("Taipei Standard Time", "Asia/Taipei"),
    ("Ulaanbaatar Standard Time", "Asia/Ulaanbaatar"),
    ("Aus Central W. Standard Time", "Australia/Eucla"),
    ("Transbaikal Standard Time", "Asia/Chita"),
    ("Tokyo Standard Time", "Asia/Tokyo"),
    ("North Korea Standard Time", "Asia/Pyongyang"),
    ("Korea Standard Time", "Asia/Seoul"),
    ("Yakutsk Standard Time", "Asia/Yakutsk"),
    ("Cen. Australia Standard Time", "Australia/Adelaide"),
    ("AUS Central Standard Time", "Australia/Darwin"),
    ("E. Australia Standard Time", "Australia/Brisbane"),
    ("AUS Eastern Standard Time", "Australia/Sydney"),
    ("West Pacific Standard Time", "Pacific/Port_Moresby"),
    ("Tasmania Standard Time", "Australia/Hobart"),
    ("Vladivostok Standard Time", "Asia/Vladivostok"),
    ("Lord Howe Standard Time", "Australia/Lord_Howe"),
    ("Bougainville Standard Time", "Pacific/Bougainville"),
    ("Russia Time Zone 10", "Asia/Srednekolymsk"),
    ("Magadan Standard Time", "Asia/Magadan"),
    ("Norfolk Standard Time", "Pacific/Norfolk"),
    ("Sakhalin Standard Time", "Asia/Sakhalin"),
    ("Central Pacific Standard Time", "Pacific/Guadalcanal"),
    ("Russia Time Zone 11", "Asia/Kamchatka"),
    ("Kamchatka Standard Time", "Asia/Kamchatka"),
    ("New Zealand Standard Time", "Pacific/Auckland"),
    ("UTC+12", "Etc/GMT-12"),
    ("Fiji Standard Time", "Pacific/Fiji"),
    ("Chatham Islands Standard Time", "Pacific/Chatham"),
    ("UTC+13", "Etc/GMT-13"),
    ("Tonga Standard Time", "Pacific/Tongatapu"),
    ("Samoa Standard Time", "Pacific/Apia"),
    ("Line Islands Standard Time", "Pacific/Kiritimati"),
    // Retired ids still found in old exports.
    ("Mexico Standard Time", "America/Mexico_City"),
    ("Mexico Standard Time 2", "America/Chihuahua"),
    ("Central Standard Time (Mexico) 2", "America/Mexico_City"),
    ("Kamchatka Standard Time 2", "Asia/Kamchatka"),
];

/// Outlook display names (the part after `(UTC±hh:mm) `) of the zones people most often use.
const OUTLOOK_DISPLAY_NAMES: &[(&str, &str)] = &[
    (
        "Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna",
        "Europe/Berlin",
    ),
    (
        "Belgrade, Bratislava, Budapest, Ljubljana, Prague",
        "Europe/Budapest",
    ),
    ("Brussels, Copenhagen, Madrid, Paris", "Europe/Paris"),
    ("Sarajevo, Skopje, Warsaw, Zagreb", "Europe/Warsaw"),
    ("West Central Africa", "Africa/Lagos"),
    ("Dublin, Edinburgh, Lisbon, London", "Europe/London"),
    (
        "Greenwich Mean Time : Dublin, Edinburgh, Lisbon, London",
        "Europe/London",
    ),
    (
        "Greenwich Mean Time: Dublin, Edinburgh, Lisbon, London",
        "Europe/London",
    ),
    ("Monrovia, Reykjavik", "Atlantic/Reykjavik"),
    ("Casablanca", "Africa/Casablanca"),
    ("Coordinated Universal Time", "Etc/UTC"),
    ("Athens, Bucharest", "Europe/Bucharest"),
    ("Athens, Bucharest, Istanbul", "Europe/Bucharest"),
    (
        "Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius",
        "Europe/Kiev",
    ),
    (
        "Helsinki, Kiev, Riga, Sofia, Tallinn, Vilnius",
        "Europe/Kiev",
    ),
    ("Jerusalem", "Asia/Jerusalem"),
    ("Cairo", "Africa/Cairo"),
    ("Harare, Pretoria", "Africa/Johannesburg"),
    ("Istanbul", "Europe/Istanbul"),
    ("Kuwait, Riyadh", "Asia/Riyadh"),
    ("Baghdad", "Asia/Baghdad"),
    ("Nairobi", "Africa/Nairobi"),
    ("Moscow, St. Petersburg", "Europe/Moscow"),
    ("Moscow, St. Petersburg, Volgograd", "Europe/Moscow"),
    ("Tehran", "Asia/Tehran"),
    ("Abu Dhabi, Muscat", "Asia/Dubai"),
    ("Kabul", "Asia/Kabul"),
    ("Islamabad, Karachi", "Asia/Karachi"),
    ("Chennai, Kolkata, Mumbai, New Delhi", "Asia/Kolkata"),
    ("Kathmandu", "Asia/Kathmandu"),
    ("Dhaka", "Asia/Dhaka"),
    ("Yangon (Rangoon)", "Asia/Yangon"),
    ("Bangkok, Hanoi, Jakarta", "Asia/Bangkok"),
    ("Beijing, Chongqing, Hong Kong, Urumqi", "Asia/Shanghai"),
    ("Kuala Lumpur, Singapore", "Asia/Singapore"),
    ("Perth", "Australia/Perth"),
    ("Taipei", "Asia/Taipei"),
    ("Osaka, Sapporo, Tokyo", "Asia/Tokyo"),
    ("Seoul", "Asia/Seoul"),
    ("Adelaide", "Australia/Adelaide"),
    ("Darwin", "Australia/Darwin"),
    ("Brisbane", "Australia/Brisbane"),
    ("Canberra, Melbourne, Sydney", "Australia/Sydney"),
    ("Hobart", "Australia/Hobart"),
    ("Auckland, Wellington", "Pacific/Auckland"),
    ("Fiji", "Pacific/Fiji"),
    ("Azores", "Atlantic/Azores"),
    ("Brasilia", "America/Sao_Paulo"),
    ("City of Buenos Aires", "America/Argentina/Buenos_Aires"),
    ("Buenos Aires", "America/Argentina/Buenos_Aires"),
    ("Newfoundland", "America/St_Johns"),
    ("Atlantic Time (Canada)", "America/Halifax"),
    ("Santiago", "America/Santiago"),
    ("Caracas", "America/Caracas"),
    ("Eastern Time (US & Canada)", "America/New_York"),
    ("Indiana (East)", "America/Indiana/Indianapolis"),
    ("Bogota, Lima, Quito, Rio Branco", "America/Bogota"),
    ("Bogota, Lima, Quito", "America/Bogota"),
    ("Central Time (US & Canada)", "America/Chicago"),
    ("Guadalajara, Mexico City, Monterrey", "America/Mexico_City"),
    ("Saskatchewan", "America/Regina"),
    ("Central America", "America/Guatemala"),
    ("Mountain Time (US & Canada)", "America/Denver"),
    ("Arizona", "America/Phoenix"),
    ("Chihuahua, La Paz, Mazatlan", "America/Mazatlan"),
    ("Pacific Time (US & Canada)", "America/Los_Angeles"),
    ("Pacific Time (US & Canada); Tijuana", "America/Los_Angeles"),
    ("Alaska", "America/Anchorage"),
    ("Hawaii", "Pacific/Honolulu"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn iana_name(tzid: &str) -> Option<String> {
        resolve_name(tzid).map(|z| z.name().to_string())
    }

    #[test]
    fn every_windows_entry_resolves_to_a_known_iana_zone() {
        for (windows, target) in WINDOWS_ZONES {
            assert!(
                iana(target).is_some(),
                "{windows} → {target} is not in chrono-tz"
            );
            assert!(resolve_name(windows).is_some(), "{windows}");
        }
        assert!(WINDOWS_ZONES.len() >= 140, "{}", WINDOWS_ZONES.len());
        for (place, target) in OUTLOOK_DISPLAY_NAMES {
            assert!(iana(target).is_some(), "{place} → {target}");
        }
    }

    #[test]
    fn iana_names_and_links() {
        assert_eq!(iana_name("Europe/Berlin").as_deref(), Some("Europe/Berlin"));
        assert_eq!(iana_name("europe/berlin").as_deref(), Some("Europe/Berlin"));
        assert_eq!(
            iana_name(" \"America/New_York\" ").as_deref(),
            Some("America/New_York")
        );
        assert_eq!(iana_name("US/Pacific").as_deref(), Some("US/Pacific"));
        assert_eq!(iana_name("Etc/GMT+5").as_deref(), Some("Etc/GMT+5"));
        assert_eq!(iana_name("Nowhere/Special"), None);
        assert_eq!(iana_name(""), None);
    }

    #[test]
    fn utc_spellings() {
        for name in [
            "UTC",
            "utc",
            "GMT",
            "Z",
            "Etc/UTC",
            "Etc/GMT",
            "\"UTC\"",
            "Zulu",
            "UTC+00:00",
        ] {
            assert_eq!(resolve_name(name), Some(Zone::Utc), "{name}");
        }
    }

    #[test]
    fn windows_names() {
        assert_eq!(
            iana_name("W. Europe Standard Time").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            iana_name("w. europe standard time").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            iana_name("Eastern Standard Time").as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            iana_name("Tokyo Standard Time").as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(
            iana_name("India Standard Time").as_deref(),
            Some("Asia/Kolkata")
        );
        assert_eq!(
            iana_name("Pacific Standard Time (Mexico)").as_deref(),
            Some("America/Tijuana")
        );
        assert_eq!(iana_name("UTC-11").as_deref(), Some("Etc/GMT+11"));
        assert_eq!(iana_name("Customized Time Zone"), None);
    }

    #[test]
    fn decorated_names() {
        assert_eq!(
            iana_name("/mozilla.org/20050126_1/Europe/Berlin").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            iana_name("/freeassociation.sourceforge.net/Tzfile/Europe/Vienna").as_deref(),
            Some("Europe/Vienna")
        );
        assert_eq!(
            iana_name("/softwarestudio.org/Olson_20011030_5/America/Argentina/Buenos_Aires")
                .as_deref(),
            Some("America/Argentina/Buenos_Aires")
        );
        assert_eq!(iana_name("/citadel.org/20190914_1/UTC"), Some("UTC".into()));
    }

    #[test]
    fn outlook_display_names() {
        assert_eq!(
            iana_name("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna").as_deref(),
            Some("Europe/Berlin")
        );
        assert_eq!(
            iana_name("(GMT-05:00) Eastern Time (US & Canada)").as_deref(),
            Some("America/New_York")
        );
        assert_eq!(
            iana_name("(UTC) Dublin, Edinburgh, Lisbon, London").as_deref(),
            Some("Europe/London")
        );
        assert_eq!(iana_name("(UTC+01:00) Somewhere Unheard Of"), None);
    }

    #[test]
    fn fixed_offsets() {
        assert_eq!(iana_name("UTC+05:00").as_deref(), Some("Etc/GMT-5"));
        assert_eq!(iana_name("GMT-3").as_deref(), Some("Etc/GMT+3"));
        assert_eq!(iana_name("UTC+0100").as_deref(), Some("Etc/GMT-1"));
        assert_eq!(iana_name("UTC+05:30"), None);
    }
}
