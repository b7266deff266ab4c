//! CalDAV answers → the normalized model, without touching the store: what a sync-collection
//! or a listing says changed, and the events of each fetched resource (through the iCalendar
//! parser of `providers/ics`, so a CalDAV calendar and its .ics export give the same events,
//! the same repairs and the same line-numbered messages).

use std::collections::HashSet;

use reqwest::Url;

use super::discover::href_key;
use super::xml::{CALDAV, DAV, Multistatus};
use crate::providers::ics::{self, IcsError, SkippedItem};
use crate::providers::sink::Resource;

/// A member the server reported as changed (or listed), with the href as it spelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub href: String,
    pub key: String,
    pub etag: Option<String>,
}

/// What a sync-collection answer says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub changed: Vec<Member>,
    /// Keys of removed members.
    pub removed: Vec<String>,
    /// The server cut the answer short (a 507 on the collection): ask again with the new token.
    pub truncated: bool,
    pub token: Option<String>,
}

/// Read a sync-collection multistatus of the collection at `collection` (the URL that answered).
pub fn sync_changes(collection: &Url, ms: &Multistatus) -> Changes {
    let own = href_key(collection, collection.path());
    let own_trimmed = own.trim_end_matches('/');
    let mut out = Changes {
        token: ms.sync_token.clone(),
        ..Changes::default()
    };
    let mut seen = HashSet::new();
    for r in &ms.responses {
        let key = href_key(collection, &r.href);
        if key.trim_end_matches('/') == own_trimmed {
            out.truncated |= r.status == Some(507);
            continue;
        }
        // Each member at most once (Zimbra and DavMail repeat some).
        if !seen.insert(key.clone()) {
            continue;
        }
        match r.status {
            Some(404) | Some(410) => out.removed.push(key),
            _ => out.changed.push(Member {
                href: r.href.clone(),
                key,
                etag: r.etag(),
            }),
        }
    }
    out
}

/// The members of a `Depth: 1` getetag listing (the collection itself and sub-collections left
/// out).
pub fn listing(collection: &Url, ms: &Multistatus) -> Vec<Member> {
    let own = href_key(collection, collection.path());
    let mut seen = HashSet::new();
    ms.responses
        .iter()
        .filter(|r| !r.has_type(DAV, "collection") && r.status.is_none_or(|s| s < 300))
        .map(|r| Member {
            href: r.href.clone(),
            key: href_key(collection, &r.href),
            etag: r.etag(),
        })
        .filter(|m| m.key.trim_end_matches('/') != own.trim_end_matches('/'))
        .filter(|m| seen.insert(m.key.clone()))
        .collect()
}

/// One answer of a calendar-multiget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Body {
        key: String,
        etag: String,
        data: String,
    },
    /// Deleted between the listing and the fetch.
    Gone { key: String },
}

/// Read a calendar-multiget multistatus. A body without an entity tag gets a tag derived from
/// its content (so an unchanged body is still recognised).
pub fn multiget_items(collection: &Url, ms: &Multistatus) -> Vec<Fetched> {
    ms.responses
        .iter()
        .map(|r| {
            let key = href_key(collection, &r.href);
            match (r.status, r.prop.child(CALDAV, "calendar-data")) {
                (None, Some(d)) | (Some(200..=299), Some(d)) => Fetched::Body {
                    key,
                    etag: r.etag().unwrap_or_else(|| content_tag(&d.text)),
                    data: d.text.clone(),
                },
                _ => Fetched::Gone { key },
            }
        })
        .collect()
}

/// A stand-in entity tag for a body the server gave none for (FNV-1a of the text).
pub fn content_tag(data: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("cadenced-{h:016x}")
}

/// The events of one resource. `source` names it in messages (calendar and file name).
/// A resource that cannot be read at all keeps no events (and is reported as skipped).
pub fn resource(
    key: &str,
    etag: &str,
    data: &str,
    source: &str,
    calendar: &str,
) -> (Resource, Vec<SkippedItem>, Option<IcsError>) {
    let (events, skipped, error) = match ics::parse_feed(data.as_bytes(), source, calendar) {
        Ok(feed) => (feed.events, feed.skipped, None),
        Err(e) => (Vec::new(), Vec::new(), Some(e)),
    };
    (
        Resource {
            href: key.to_string(),
            etag: etag.to_string(),
            events,
        },
        skipped,
        error,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::caldav::xml::multistatus;

    #[test]
    fn sync_answer_changes_removals_and_truncation() {
        let body = r#"<multistatus xmlns="DAV:"><sync-token>http://radicale.org/ns/sync/7f</sync-token>
 <response><href>/alice/work/todo.ics</href><status>HTTP/1.1 404 Not Found</status></response>
 <response><href>/alice/work/evt%401.ics</href><propstat><prop><getetag>"d8"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/work/evt%401.ics</href><propstat><prop><getetag>"d8"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/work/</href><status>HTTP/1.1 507 Insufficient Storage</status></response>
</multistatus>"#;
        let url = Url::parse("http://h/alice/work/").unwrap();
        let c = sync_changes(&url, &multistatus(body.as_bytes()).unwrap());
        assert_eq!(c.removed, ["/alice/work/todo.ics"]);
        assert_eq!(c.changed.len(), 1);
        assert_eq!(c.changed[0].key, "/alice/work/evt@1.ics");
        assert_eq!(c.changed[0].href, "/alice/work/evt%401.ics");
        assert_eq!(c.changed[0].etag.as_deref(), Some("\"d8\""));
        assert!(c.truncated);
        assert_eq!(c.token.as_deref(), Some("http://radicale.org/ns/sync/7f"));
    }

    #[test]
    fn listing_skips_the_collection() {
        let body = r#"<multistatus xmlns="DAV:">
 <response><href>/alice/work/</href><propstat><prop><resourcetype><collection/></resourcetype><getetag>"c"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/work/a.ics</href><propstat><prop><resourcetype/><getetag>"a"</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
        let url = Url::parse("http://h/alice/work/").unwrap();
        let l = listing(&url, &multistatus(body.as_bytes()).unwrap());
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].key, "/alice/work/a.ics");
    }

    #[test]
    fn multiget_bodies_and_gone_hrefs_become_events() {
        let body = "<multistatus xmlns=\"DAV:\" xmlns:C=\"urn:ietf:params:xml:ns:caldav\">\
 <response><href>/alice/work/todo.ics</href><status>HTTP/1.1 404 Not Found</status></response>\
 <response><href>/alice/work/e.ics</href><propstat><prop><getetag>\"60\"</getetag><C:calendar-data>BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTART:20260302T100000Z\r\nDTEND:20260302T103000Z\r\nSUMMARY:1on1\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:e1\r\nDTSTART:bad\r\nRECURRENCE-ID:20260309T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n</C:calendar-data></prop>\
<status>HTTP/1.1 200 OK</status></propstat></response></multistatus>";
        let url = Url::parse("http://h/alice/work/").unwrap();
        let items = multiget_items(&url, &multistatus(body.as_bytes()).unwrap());
        assert_eq!(
            items[0],
            Fetched::Gone {
                key: "/alice/work/todo.ics".into()
            }
        );
        let Fetched::Body { key, etag, data } = &items[1] else {
            panic!("{items:?}")
        };
        let (res, skipped, err) = resource(key, etag, data, "Work/e.ics", "/alice/work/");
        assert!(err.is_none());
        assert_eq!(res.events.len(), 1);
        assert_eq!(res.events[0].uid, "e1");
        assert_eq!(res.events[0].calendar, "/alice/work/");
        // The bad override is skipped with the line of its BEGIN:VEVENT in the resource (LF
        // line ends: the XML reader turned Radicale's CR LF into LF).
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line, 9);
        let (res, _, err) = resource(key, etag, "BEGIN:VCALENDAR\n", "Work/e.ics", "/w/");
        assert!(res.events.is_empty());
        assert_eq!(err.unwrap().line(), 1);
    }
}
