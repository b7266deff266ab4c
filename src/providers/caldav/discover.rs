//! Finding the calendars of an account (RFC 6764, RFC 4791 §6.2.1, RFC 5397).
//!
//! From `url`: when it is a calendar collection, that calendar alone. Otherwise the context path
//! (`/.well-known/caldav` first for a bare server address, after the URL itself otherwise),
//! then `current-user-principal`, then `calendar-home-set` (one or more homes), then a
//! `Depth: 1` listing of each home. Every href is resolved against the URL that answered (after
//! redirects); a home may live on another host (iCloud's partitions). A collection is kept when
//! its `resourcetype` has `C:calendar` and its supported components list VEVENT or are absent.
//! A redirect to another origin is never followed (see `dav.rs`): that candidate is skipped.

use reqwest::{StatusCode, Url};

use super::dav::{Dav, DavError, Request};
use super::xml::{self, CALDAV, DAV, Multistatus};

/// One calendar collection of the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// The collection's path, percent-decoded, with a trailing slash: the calendar's name in the
    /// store (stable across display-name changes).
    pub path: String,
    pub url: Url,
    /// The display name, or the path when the server gives none.
    pub name: String,
    /// The server offers RFC 6578 sync-collection on it.
    pub sync_collection: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0}")]
    Dav(#[from] DavError),
    #[error("{url}: {message}")]
    Server { url: String, message: String },
    #[error(
        "no calendar home found from {url} (neither a calendar, a principal, nor a server that names one); give the calendar's own address as url"
    )]
    NoHome { url: String },
}

/// Percent-decode a path (invalid escapes are kept as written).
pub fn decode_path(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits: at most 0xFF.
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The key of an href: its path (an absolute href is reduced to it), percent-decoded, so that
/// `/c/a%40b.ics` and `/c/a@b.ics` are one resource.
pub fn href_key(base: &Url, href: &str) -> String {
    let path = base
        .join(href)
        .map(|u| u.path().to_string())
        .unwrap_or_else(|_| href.to_string());
    decode_path(&path)
}

fn collection_key(base: &Url, href: &str) -> String {
    let mut k = href_key(base, href);
    if !k.ends_with('/') {
        k.push('/');
    }
    k
}

async fn propfind(
    dav: &Dav,
    url: &Url,
    depth: &str,
) -> Result<Option<(Url, Multistatus)>, DiscoverError> {
    let reply = dav
        .send(&Request::xml(
            "PROPFIND",
            url,
            Some(depth),
            xml::propfind_discovery(),
        ))
        .await?;
    if reply.status != StatusCode::MULTI_STATUS {
        tracing::debug!(url = %crate::providers::http::redact_url(url.as_str()), status = %reply.status, "PROPFIND gave no multistatus");
        return Ok(None);
    }
    let ms = xml::multistatus(&reply.body).map_err(|e| DiscoverError::Server {
        url: crate::providers::http::redact_url(url.as_str()),
        message: e.to_string(),
    })?;
    Ok(Some((reply.url, ms)))
}

/// Whether a listed collection is a calendar that can hold events.
fn holds_events(r: &xml::Response) -> bool {
    if !r.has_type(CALDAV, "calendar") {
        return false;
    }
    match r.prop.child(CALDAV, "supported-calendar-component-set") {
        None => true,
        Some(set) => {
            let comps: Vec<&str> = set
                .children(CALDAV, "comp")
                .filter_map(|c| c.attr("name"))
                .collect();
            comps.is_empty() || comps.iter().any(|c| c.eq_ignore_ascii_case("VEVENT"))
        }
    }
}

fn calendar_of(base: &Url, r: &xml::Response) -> Option<Calendar> {
    let url = base.join(&r.href).ok()?;
    let path = collection_key(base, &r.href);
    let name = r
        .prop_text(DAV, "displayname")
        .unwrap_or_else(|| path.clone());
    // Without supported-report-set, a sync token is the sign of sync-collection.
    let sync_collection = match r.prop.child(DAV, "supported-report-set") {
        Some(set) => set.contains(DAV, "sync-collection"),
        None => r.prop_text(DAV, "sync-token").is_some(),
    };
    Some(Calendar {
        path,
        url,
        name,
        sync_collection,
    })
}

/// Every calendar that can hold events, from `start` (see the module documentation).
pub async fn discover(dav: &Dav, start: &Url) -> Result<Vec<Calendar>, DiscoverError> {
    let well_known = start.join("/.well-known/caldav").ok();
    let bare = start.path() == "/" || start.path().is_empty();
    let mut candidates: Vec<Url> = Vec::new();
    if bare {
        candidates.extend(well_known.clone());
        candidates.push(start.clone());
    } else {
        candidates.push(start.clone());
        candidates.extend(well_known);
    }
    let mut homes: Vec<Url> = Vec::new();
    // A redirect to another origin is not followed; it is the error when nothing else works.
    let mut refused: Option<DiscoverError> = None;
    for candidate in &candidates {
        let found = match propfind(dav, candidate, "0").await {
            Err(DiscoverError::Dav(e @ DavError::CrossOrigin { .. })) => {
                tracing::warn!("{e}");
                refused = Some(e.into());
                continue;
            }
            other => other?,
        };
        let Some((base, ms)) = found else {
            continue;
        };
        let Some(own) = ms.responses.first() else {
            continue;
        };
        if holds_events(own) {
            return Ok(calendar_of(&base, own).into_iter().collect());
        }
        let mut found: Vec<Url> = own
            .prop_hrefs(CALDAV, "calendar-home-set")
            .iter()
            .filter_map(|h| base.join(h).ok())
            .collect();
        if found.is_empty()
            && let Some(principal) = own
                .prop_hrefs(DAV, "current-user-principal")
                .first()
                .and_then(|h| base.join(h).ok())
            && let Some((pbase, pms)) = propfind(dav, &principal, "0").await?
            && let Some(p) = pms.responses.first()
        {
            found = p
                .prop_hrefs(CALDAV, "calendar-home-set")
                .iter()
                .filter_map(|h| pbase.join(h).ok())
                .collect();
        }
        if !found.is_empty() {
            homes = found;
            break;
        }
    }
    if homes.is_empty() {
        if let Some(e) = refused {
            return Err(e);
        }
        return Err(DiscoverError::NoHome {
            url: crate::providers::http::redact_url(start.as_str()),
        });
    }
    let mut out: Vec<Calendar> = Vec::new();
    for home in &homes {
        let Some((base, ms)) = propfind(dav, home, "1").await? else {
            return Err(DiscoverError::Server {
                url: crate::providers::http::redact_url(home.as_str()),
                message: "the calendar home could not be listed".into(),
            });
        };
        for r in ms.responses.iter().filter(|r| holds_events(r)) {
            if let Some(c) = calendar_of(&base, r)
                && !out.iter().any(|o| o.path == c.path)
            {
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The calendars `wanted` names (display names or paths; all when empty), and the entries that
/// matched nothing.
pub fn select(found: &[Calendar], wanted: &[String]) -> (Vec<Calendar>, Vec<String>) {
    if wanted.is_empty() {
        return (found.to_vec(), Vec::new());
    }
    let mut out: Vec<Calendar> = Vec::new();
    let mut missing = Vec::new();
    for w in wanted {
        let as_path = {
            let p = Url::parse(w)
                .map(|u| u.path().to_string())
                .unwrap_or_else(|_| w.clone());
            let mut p = decode_path(&p);
            if !p.ends_with('/') {
                p.push('/');
            }
            p
        };
        let hit = found
            .iter()
            .find(|c| c.name == *w)
            .or_else(|| found.iter().find(|c| c.path == as_path))
            .or_else(|| found.iter().find(|c| c.name.eq_ignore_ascii_case(w)));
        match hit {
            Some(c) if !out.iter().any(|o| o.path == c.path) => out.push(c.clone()),
            Some(_) => {}
            None => missing.push(w.clone()),
        }
    }
    (out, missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cal(path: &str, name: &str) -> Calendar {
        Calendar {
            path: path.into(),
            url: Url::parse("http://h").unwrap().join(path).unwrap(),
            name: name.into(),
            sync_collection: true,
        }
    }

    #[test]
    fn hrefs_are_decoded_paths() {
        let base = Url::parse("http://127.0.0.1:5232/alice/work/").unwrap();
        assert_eq!(
            href_key(&base, "/alice/work/a%40example.com.ics"),
            "/alice/work/a@example.com.ics"
        );
        assert_eq!(
            href_key(&base, "http://127.0.0.1:5232/alice/work/b.ics"),
            "/alice/work/b.ics"
        );
        assert_eq!(href_key(&base, "c.ics"), "/alice/work/c.ics");
        assert_eq!(decode_path("%zz%4"), "%zz%4");
        assert_eq!(collection_key(&base, "/alice/x"), "/alice/x/");
    }

    #[test]
    fn components_decide_what_is_a_calendar_of_events() {
        let body = r#"<multistatus xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
 <response><href>/alice/</href><propstat><prop><resourcetype><principal/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/tasks/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><displayname>Tasks</displayname>
   <C:supported-calendar-component-set><C:comp name="VTODO"/></C:supported-calendar-component-set></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/work/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype><displayname>Work</displayname>
   <C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set>
   <supported-report-set><supported-report><report><sync-collection/></report></supported-report></supported-report-set></prop><status>HTTP/1.1 200 OK</status></propstat></response>
 <response><href>/alice/any/</href><propstat><prop><resourcetype><C:calendar/><collection/></resourcetype></prop><status>HTTP/1.1 200 OK</status></propstat></response>
</multistatus>"#;
        let ms = xml::multistatus(body.as_bytes()).unwrap();
        let base = Url::parse("http://h/alice/").unwrap();
        let cals: Vec<Calendar> = ms
            .responses
            .iter()
            .filter(|r| holds_events(r))
            .filter_map(|r| calendar_of(&base, r))
            .collect();
        assert_eq!(cals.len(), 2);
        assert_eq!(
            (cals[0].name.as_str(), cals[0].sync_collection),
            ("Work", true)
        );
        assert_eq!(
            (cals[1].name.as_str(), cals[1].sync_collection),
            ("/alice/any/", false)
        );
    }

    #[test]
    fn select_by_name_or_path() {
        let found = [cal("/alice/work/", "Work"), cal("/alice/team/", "Team")];
        let (all, none) = select(&found, &[]);
        assert_eq!((all.len(), none.len()), (2, 0));
        let (some, missing) = select(
            &found,
            &[
                "/alice/team".into(),
                "work".into(),
                "Holidays".into(),
                "http://h/alice/work/".into(),
            ],
        );
        assert_eq!(
            some.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["Team", "Work"]
        );
        assert_eq!(missing, ["Holidays"]);
    }
}
