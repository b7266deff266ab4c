//! Google error bodies (docs/google-api.md §4.1 and the samples), as `(status, body)` pairs.

use serde_json::{Value, json};

/// An HTTP answer the fake produces: status, JSON body, extra headers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
    /// A pre-serialized body that replaces `body` when set.
    pub raw: Option<String>,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body,
            headers: Vec::new(),
            raw: None,
        }
    }

    /// `envelope` with an `"items"` array spliced in from already serialized JSON.
    pub fn raw_with_items(envelope: Value, items_json: &str) -> Reply {
        let mut text = serde_json::to_string(&envelope).expect("json");
        text.pop(); // the closing brace
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str("\"items\":");
        text.push_str(items_json);
        text.push('}');
        Reply {
            status: 200,
            body: Value::Null,
            headers: Vec::new(),
            raw: Some(text),
        }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// The classic Calendar error envelope (no `status` field), as in the real 410 and 403 captures.
pub fn calendar_error(
    status: u16,
    domain: &str,
    reason: &str,
    message: &str,
    location: Option<(&str, &str)>,
) -> Reply {
    let mut item = json!({"domain": domain, "reason": reason, "message": message});
    if let Some((location_type, location)) = location {
        item["locationType"] = json!(location_type);
        item["location"] = json!(location);
    }
    Reply {
        status,
        body: json!({"error": {"errors": [item], "code": status, "message": message}}),
        headers: Vec::new(),
        raw: None,
    }
}

/// SAMPLE:error-410-fullSyncRequired.json (real capture), byte-for-byte in content.
pub fn full_sync_required() -> Reply {
    calendar_error(
        410,
        "calendar",
        "fullSyncRequired",
        "Sync token is no longer valid, a full sync is required.",
        Some(("parameter", "syncToken")),
    )
}

/// SAMPLE:error-412-conditionNotMet.json.
pub fn condition_not_met() -> Reply {
    calendar_error(
        412,
        "global",
        "conditionNotMet",
        "Precondition Failed",
        Some(("header", "If-Match")),
    )
}

/// SAMPLE:error-403-rateLimitExceeded.json (real) and SAMPLE:error-429-rateLimitExceeded.json (doc).
pub fn rate_limit_exceeded(status: u16) -> Reply {
    calendar_error(
        status,
        "usageLimits",
        "rateLimitExceeded",
        "Rate Limit Exceeded",
        None,
    )
}

/// CAL-ERR 403 userRateLimitExceeded.
pub fn user_rate_limit_exceeded() -> Reply {
    calendar_error(
        403,
        "usageLimits",
        "userRateLimitExceeded",
        "User Rate Limit Exceeded",
        None,
    )
}

/// CAL-ERR 403 quotaExceeded.
pub fn quota_exceeded() -> Reply {
    calendar_error(
        403,
        "usageLimits",
        "quotaExceeded",
        "Calendar usage limits exceeded.",
        None,
    )
}

/// CAL-ERR 500 backendError.
pub fn backend_error() -> Reply {
    calendar_error(500, "global", "backendError", "Backend Error", None)
}

/// 503: the body shape Google's front end uses (with `status`); the exact wording is unverified.
pub fn unavailable() -> Reply {
    Reply {
        status: 503,
        body: json!({"error": {
            "code": 503,
            "message": "The service is currently unavailable.",
            "errors": [{"message": "The service is currently unavailable.", "domain": "global", "reason": "backendError"}],
            "status": "UNAVAILABLE"
        }}),
        headers: Vec::new(),
        raw: None,
    }
}

/// CAL-ERR 401 authError, in the newer envelope with `"status":"UNAUTHENTICATED"` (the brief asks
/// for it; docs/google-api.md §4.1 marks its presence on Calendar as unverified, so clients must not
/// depend on it either way).
pub fn unauthenticated() -> Reply {
    Reply {
        status: 401,
        body: json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "errors": [{
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header"
            }],
            "status": "UNAUTHENTICATED"
        }}),
        headers: vec![(
            "WWW-Authenticate".to_string(),
            "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"".to_string(),
        )],
        raw: None,
    }
}

/// §4.1: insufficient scope, newer envelope with `details` (seen on Admin; unverified on Calendar).
pub fn insufficient_scope(method: &str) -> Reply {
    Reply {
        status: 403,
        body: json!({"error": {
            "code": 403,
            "message": "Request had insufficient authentication scopes.",
            "errors": [{"message": "Insufficient Permission", "domain": "global", "reason": "insufficientPermissions"}],
            "status": "PERMISSION_DENIED",
            "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
                "domain": "googleapis.com",
                "metadata": {"service": "calendar-json.googleapis.com", "method": method}
            }]
        }}),
        headers: vec![(
            "WWW-Authenticate".to_string(),
            "Bearer realm=\"https://accounts.google.com/\", error=\"insufficient_scope\""
                .to_string(),
        )],
        raw: None,
    }
}

/// 400 global/invalid on a query parameter.
pub fn invalid_parameter(location: &str, message: &str) -> Reply {
    calendar_error(
        400,
        "global",
        "invalid",
        message,
        Some(("parameter", location)),
    )
}

/// CAL-ERR 404 notFound.
pub fn not_found() -> Reply {
    calendar_error(404, "global", "notFound", "Not Found", None)
}

/// CAL-ERR 410 deleted.
pub fn deleted() -> Reply {
    calendar_error(410, "global", "deleted", "Resource has been deleted", None)
}

/// OAuth token-endpoint error: `{"error", "error_description"}` (§1.2, §1.4, §8 item 10).
pub fn oauth_error(status: u16, error: &str, description: &str) -> Reply {
    Reply {
        status,
        body: json!({"error": error, "error_description": description}),
        headers: Vec::new(),
        raw: None,
    }
}
