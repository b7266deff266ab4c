//! Error bodies: the Entra token-endpoint shape (docs/microsoft-graph.md §1.6, samples 04/05) and the
//! Graph `{"error":{code,message,innerError}}` shape (§5.1, samples 10/11).

use chrono::Utc;
use serde_json::{Value, json};

/// An HTTP answer the fake produces: status, JSON body, extra headers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// A fresh GUID-looking string (not random: a counter mixed into a fixed pattern is enough).
pub fn guid(n: u64) -> String {
    let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        (h >> 32) as u32,
        (h >> 16) as u16,
        (h & 0xfff) as u16,
        ((h >> 20) & 0xfff) as u16,
        h & 0xffff_ffff_ffff
    )
}

/// Entra token-endpoint error (§1.6): `error`, `error_description` starting `AADSTS<code>: ` and
/// ending with the Trace ID / Correlation ID / Timestamp lines, `error_codes` (integers),
/// `timestamp` (`YYYY-MM-DD HH:MM:SSZ`), `trace_id`, `correlation_id`, `error_uri`.
pub fn aad_error(status: u16, error: &str, code: Option<u32>, message: &str, n: u64) -> Reply {
    let ts = Utc::now().format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace = guid(n.wrapping_mul(2) + 1);
    let corr = guid(n.wrapping_mul(2) + 2);
    let prefix = code.map(|c| format!("AADSTS{c}: ")).unwrap_or_default();
    let mut body = json!({
        "error": error,
        "error_description": format!(
            "{prefix}{message}\r\nTrace ID: {trace}\r\nCorrelation ID: {corr}\r\nTimestamp: {ts}"
        ),
        "error_codes": code.map(|c| vec![c]).unwrap_or_default(),
        "timestamp": ts,
        "trace_id": trace,
        "correlation_id": corr,
    });
    if let Some(c) = code {
        body["error_uri"] = json!(format!("https://login.microsoftonline.com/error?code={c}"));
    }
    Reply {
        status,
        body,
        headers: Vec::new(),
    }
}

/// Graph error (§5.1): `innerError.date` without a zone suffix, `request-id` and
/// `client-request-id` also echoed as response headers.
pub fn graph_error(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
    let date = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    Reply {
        status,
        body: json!({"error": {
            "code": code,
            "message": message,
            "innerError": {"date": date, "request-id": request_id, "client-request-id": request_id}
        }}),
        headers: Vec::new(),
    }
}

/// 410 exactly in the shape of sample 10 (its `innerError` has only `request-id`), with the
/// configurable code (PascalCase on the wire by default).
pub fn sync_state_not_found(code: &str, generation: u64, highest: u64, request_id: &str) -> Reply {
    Reply {
        status: 410,
        body: json!({"error": {
            "code": code,
            "message": format!(
                "The sync state generation is not found; generation={generation};[highest={highest}][{highest}]."
            ),
            "innerError": {"request-id": request_id}
        }}),
        headers: Vec::new(),
    }
}

/// 429 with sample 11's body (no `innerError`, as captured).
pub fn throttled() -> Reply {
    Reply {
        status: 429,
        body: json!({"error": {
            "code": "ApplicationThrottled",
            "message": "Application is over its MailboxConcurrency limit."
        }}),
        headers: Vec::new(),
    }
}
