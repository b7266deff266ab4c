//! What both provider fakes (`fake_google`, `fake_graph`) see of an HTTP request: the path split
//! into percent-decoded segments, the decoded query, lower-cased header names, the body, and the
//! endpoint the fake's own `classify` makes of method and path. Each fake adds its own query
//! rules (Google's parameter names are case-sensitive, Graph's OData ones are not).

use hyper::body::Bytes;
use percent_encoding::percent_decode_str;

/// A request as a fake sees it.
pub struct Req<E> {
    pub method: String,
    pub raw_path: String,
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub endpoint: E,
}

impl<E> Req<E> {
    pub fn from_parts(
        parts: &hyper::http::request::Parts,
        body: Bytes,
        classify: impl Fn(&str, &[String]) -> E,
    ) -> Req<E> {
        let raw_path = parts.uri.path().to_string();
        let segments: Vec<String> = raw_path
            .split('/')
            .skip(1)
            .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
            .collect();
        let query: Vec<(String, String)> = parts
            .uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        let headers: Vec<(String, String)> = parts
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let method = parts.method.as_str().to_string();
        let endpoint = classify(&method, &segments);
        Req {
            method,
            raw_path,
            segments,
            query,
            headers,
            body,
            endpoint,
        }
    }

    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
