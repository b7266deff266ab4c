//! WebDAV XML: the request bodies CalDAV sync sends, and a namespace-aware reading of the
//! `multistatus` and `error` bodies it gets back (quick-xml, no hand parsing).
//!
//! Answers are read into a small element tree ([`Element`]) keyed by (namespace, local name), so
//! prefixes never matter (`d:`, `D:`, a default namespace: all the same). Text is the XML text
//! with entities and character references resolved (`&#13;` from sabre/dav is a CR) and CDATA
//! kept as written. Several `propstat`s per response are merged, each one's properties kept only
//! when its status is 2xx (Radicale answers the calendar properties of a home in a second
//! `propstat` with 404).

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;

pub const DAV: &str = "DAV:";
pub const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
pub const CS: &str = "http://calendarserver.org/ns/";

/// One XML element: its namespace, local name, children and direct text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    pub ns: String,
    pub name: String,
    /// Attributes by local name (`name` of `C:comp`).
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// The value of the attribute with this local name.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first child named `(ns, name)`.
    pub fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// Every child named `(ns, name)`.
    pub fn children<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The text of the first child named `(ns, name)`, trimmed.
    pub fn child_text(&self, ns: &str, name: &str) -> Option<String> {
        self.child(ns, name).map(|c| c.text.trim().to_string())
    }

    /// Whether some descendant (or this element) is named `(ns, name)`.
    pub fn contains(&self, ns: &str, name: &str) -> bool {
        self.is(ns, name) || self.children.iter().any(|c| c.contains(ns, name))
    }
}

/// An XML body that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unreadable XML answer: {0}")]
pub struct XmlError(pub String);

/// Parse a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(|e| XmlError(format!("not UTF-8: {e}")))?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let open = |resolved: ResolveResult<'_>, e: &quick_xml::events::BytesStart<'_>| Element {
        ns: match resolved {
            ResolveResult::Bound(ns) => ns.as_ref().to_string(),
            _ => String::new(),
        },
        name: e.local_name().as_ref().to_string(),
        attrs: e
            .attributes()
            .flatten()
            .filter_map(|a| {
                let key = a.key.local_name().as_ref().to_string();
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(|v| (key, v.into_owned()))
            })
            .collect(),
        ..Element::default()
    };
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| XmlError(e.to_string()))?;
        match event {
            Event::Start(e) => {
                let el = open(resolved, &e);
                stack.push(el);
            }
            Event::Empty(e) => {
                let el = open(resolved, &e);
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(XmlError("an end tag without a start".into()));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some(el),
                }
            }
            Event::Text(t) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(c) => {
                if let Some(el) = stack.last_mut() {
                    el.text.push_str(&c.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(el) = stack.last_mut() {
                    match r.resolve_char_ref().map_err(|e| XmlError(e.to_string()))? {
                        Some(ch) => el.text.push(ch),
                        None => {
                            let name = r.xml10_content();
                            let resolved = quick_xml::escape::resolve_xml_entity(&name)
                                .ok_or_else(|| XmlError(format!("unknown entity &{name};")))?;
                            el.text.push_str(resolved);
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError("the document ends inside an element".into()));
    }
    root.ok_or_else(|| XmlError("no element".into()))
}

/// The status code of a `DAV:status` line (`HTTP/1.1 404 Not Found` → 404).
pub fn status_code(line: &str) -> Option<u16> {
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One `DAV:response` of a multistatus: its href, its own status (removed members, failed
/// hrefs), and the properties of its 2xx `propstat`s merged into one `prop` element.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Response {
    pub href: String,
    pub status: Option<u16>,
    pub prop: Element,
}

impl Response {
    pub fn prop_text(&self, ns: &str, name: &str) -> Option<String> {
        self.prop.child_text(ns, name).filter(|t| !t.is_empty())
    }

    /// The `DAV:href`s inside a property (`current-user-principal`, `calendar-home-set`).
    pub fn prop_hrefs(&self, ns: &str, name: &str) -> Vec<String> {
        self.prop
            .child(ns, name)
            .map(|p| {
                p.children(DAV, "href")
                    .map(|h| h.text.trim().to_string())
                    .filter(|h| !h.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `resourcetype` holds `(ns, name)`.
    pub fn has_type(&self, ns: &str, name: &str) -> bool {
        self.prop
            .child(DAV, "resourcetype")
            .is_some_and(|t| t.child(ns, name).is_some())
    }

    /// The entity tag, as the server wrote it (quotes included; a weak `W/` kept).
    pub fn etag(&self) -> Option<String> {
        self.prop_text(DAV, "getetag")
    }
}

/// A parsed multistatus body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Multistatus {
    pub responses: Vec<Response>,
    /// `DAV:sync-token` of a sync-collection answer.
    pub sync_token: Option<String>,
}

/// Read a `DAV:multistatus` body.
pub fn multistatus(body: &[u8]) -> Result<Multistatus, XmlError> {
    let root = parse(body)?;
    if !root.is(DAV, "multistatus") {
        return Err(XmlError(format!(
            "expected a DAV multistatus, found <{}>",
            root.name
        )));
    }
    let mut out = Multistatus {
        sync_token: root.child_text(DAV, "sync-token").filter(|t| !t.is_empty()),
        ..Multistatus::default()
    };
    for r in root.children(DAV, "response") {
        let Some(href) = r.child_text(DAV, "href").filter(|h| !h.is_empty()) else {
            continue;
        };
        let mut prop = Element {
            ns: DAV.into(),
            name: "prop".into(),
            ..Element::default()
        };
        for ps in r.children(DAV, "propstat") {
            let ok = ps
                .child_text(DAV, "status")
                .and_then(|s| status_code(&s))
                .is_none_or(|c| (200..300).contains(&c));
            if let (true, Some(p)) = (ok, ps.child(DAV, "prop")) {
                prop.children.extend(p.children.iter().cloned());
            }
        }
        out.responses.push(Response {
            href,
            status: r.child_text(DAV, "status").and_then(|s| status_code(&s)),
            prop,
        });
    }
    Ok(out)
}

/// Whether an error body states the `DAV:valid-sync-token` precondition.
pub fn is_invalid_sync_token(body: &[u8]) -> bool {
    parse(body).is_ok_and(|root| root.contains(DAV, "valid-sync-token"))
}

fn escape(text: &str) -> String {
    quick_xml::escape::escape(text).into_owned()
}

const PROLOGUE: &str = r#"<?xml version="1.0" encoding="utf-8"?>"#;

/// PROPFIND for discovery and the calendar list (one body for every step: servers answer the
/// properties they have and 404 the others).
pub fn propfind_discovery() -> String {
    format!(
        r#"{PROLOGUE}<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/"><d:prop><d:resourcetype/><d:displayname/><d:current-user-principal/><c:calendar-home-set/><c:supported-calendar-component-set/><d:supported-report-set/><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#
    )
}

/// PROPFIND `Depth: 0` for the change tag of a collection (servers without sync-collection).
pub fn propfind_ctag() -> String {
    format!(
        r#"{PROLOGUE}<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/"><d:prop><cs:getctag/><d:sync-token/></d:prop></d:propfind>"#
    )
}

/// PROPFIND `Depth: 1` listing members and their entity tags.
pub fn propfind_etags() -> String {
    format!(
        r#"{PROLOGUE}<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getcontenttype/><d:getetag/></d:prop></d:propfind>"#
    )
}

/// RFC 6578 sync-collection: the stored token (empty on a first or full sync), level 1, etags.
/// No `DAV:limit` (ignored by Radicale, lossy on Xandikos); truncation is handled by the 507.
pub fn sync_collection(token: Option<&str>) -> String {
    let token = token.map(escape).unwrap_or_default();
    format!(
        r#"{PROLOGUE}<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#
    )
}

/// RFC 4791 calendar-multiget for `hrefs` (as the server spelled them).
pub fn multiget<'a>(hrefs: impl IntoIterator<Item = &'a str>) -> String {
    let mut body = format!(
        r#"{PROLOGUE}<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>"#
    );
    for h in hrefs {
        body.push_str("<d:href>");
        body.push_str(&escape(h));
        body.push_str("</d:href>");
    }
    body.push_str("</c:calendar-multiget>");
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: &str = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">
 <response><href>/alice/</href>
  <propstat><prop><resourcetype><principal/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat>
  <propstat><prop><displayname/><C:supported-calendar-component-set/><CS:getctag/><sync-token/></prop>
   <status>HTTP/1.1 404 Not Found</status></propstat></response>
 <response><href>/alice/tasks/</href><propstat><prop>
   <resourcetype><C:calendar/><collection/></resourcetype><displayname>Tasks</displayname>
   <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set>
   <CS:getctag>"e825"</CS:getctag>
   <sync-token>http://radicale.org/ns/sync/e3b0</sync-token>
  </prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;

    #[test]
    fn merges_propstats_and_ignores_failed_ones() {
        let ms = multistatus(HOME.as_bytes()).unwrap();
        assert_eq!(ms.responses.len(), 2);
        let home = &ms.responses[0];
        assert!(home.has_type(DAV, "principal") && !home.has_type(CALDAV, "calendar"));
        assert_eq!(home.prop_text(DAV, "displayname"), None);
        assert!(
            home.prop
                .child(CALDAV, "supported-calendar-component-set")
                .is_none()
        );
        let tasks = &ms.responses[1];
        assert!(tasks.has_type(CALDAV, "calendar"));
        assert_eq!(
            tasks.prop_text(DAV, "displayname").as_deref(),
            Some("Tasks")
        );
        let comps = tasks
            .prop
            .child(CALDAV, "supported-calendar-component-set")
            .unwrap();
        assert_eq!(comps.children[0].attr("name"), Some("VTODO"));
        assert_eq!(tasks.prop_text(CS, "getctag").as_deref(), Some("\"e825\""));
        assert_eq!(
            tasks.prop_text(DAV, "sync-token").as_deref(),
            Some("http://radicale.org/ns/sync/e3b0")
        );
    }

    #[test]
    fn prefixes_do_not_matter_and_entities_resolve() {
        let body = "<?xml version='1.0'?><D:multistatus xmlns:D=\"DAV:\"><D:sync-token>t&amp;1</D:sync-token>\
            <D:response><D:href>/c/a.ics</D:href><D:propstat><D:prop><D:getetag>\"x\"</D:getetag>\
            <cal:calendar-data xmlns:cal=\"urn:ietf:params:xml:ns:caldav\">BEGIN:VCALENDAR&#13;\nEND:VCALENDAR&#13;\n</cal:calendar-data>\
            </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>\
            <D:response><D:href>/c/gone.ics</D:href><D:status>HTTP/1.1 404 Not Found</D:status></D:response></D:multistatus>";
        let ms = multistatus(body.as_bytes()).unwrap();
        assert_eq!(ms.sync_token.as_deref(), Some("t&1"));
        assert_eq!(ms.responses[0].etag().as_deref(), Some("\"x\""));
        assert_eq!(
            ms.responses[0]
                .prop
                .child(CALDAV, "calendar-data")
                .unwrap()
                .text,
            "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"
        );
        assert_eq!(ms.responses[1].status, Some(404));
        assert_eq!(ms.responses[0].status, None);
    }

    #[test]
    fn invalid_token_precondition() {
        let body = b"<?xml version='1.0' encoding='utf-8'?>\n<error xmlns=\"DAV:\"><valid-sync-token /></error>";
        assert!(is_invalid_sync_token(body));
        assert!(!is_invalid_sync_token(
            b"<error xmlns=\"DAV:\"><need-privileges/></error>"
        ));
        assert!(!is_invalid_sync_token(b"Forbidden"));
    }

    #[test]
    fn bodies_escape_their_values() {
        assert!(sync_collection(Some("a<b")).contains("<d:sync-token>a&lt;b</d:sync-token>"));
        assert!(sync_collection(None).contains("<d:sync-token></d:sync-token>"));
        let m = multiget(["/c/a&b.ics", "/c/b.ics"]);
        assert!(m.contains("<d:href>/c/a&amp;b.ics</d:href><d:href>/c/b.ics</d:href>"));
        for body in [
            propfind_discovery(),
            propfind_ctag(),
            propfind_etags(),
            sync_collection(Some("t")),
            m,
        ] {
            parse(body.as_bytes()).unwrap();
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(multistatus(b"<multistatus xmlns=\"DAV:\"><response>").is_err());
        assert!(multistatus(b"not xml at all").is_err());
        assert!(multistatus(b"<other/>").is_err());
        assert!(multistatus(&[0xff, 0xfe]).is_err());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = multistatus(&bytes);
            let _ = is_invalid_sync_token(&bytes);
        }

        #[test]
        fn multiget_hrefs_round_trip(hrefs in proptest::collection::vec("[ -~]{1,20}", 1..5)) {
            let root = parse(multiget(hrefs.iter().map(String::as_str)).as_bytes()).unwrap();
            let back: Vec<String> = root.children(DAV, "href").map(|h| h.text.clone()).collect();
            proptest::prop_assert_eq!(back, hrefs);
        }
    }
}
