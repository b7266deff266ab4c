//! `PATCH /v1.0/me/events/{id}` (and `/users/{x}/…`, `/me/calendar/events/{id}`) for the Graph
//! fake, as far as agenda links use it (docs/microsoft-graph.md; Graph "Update event"):
//!
//! - `If-Match` with the item's current `@odata.etag` (weak form `W/"<changeKey>"`); a stale one →
//!   412 `ErrorIrresolvableConflict` (the code Exchange uses for a change-key mismatch; the status
//!   for events is unverified: 409 is also seen). No `If-Match`: the write is unconditional.
//! - The body is a partial event; top-level properties replace the stored ones (`body` as a
//!   whole: `contentType` must be `html` or `text`). Read-only properties (`id`, `@odata.etag`,
//!   `changeKey`, `createdDateTime`, `lastModifiedDateTime`, `type`, `seriesMasterId`,
//!   `isOrganizer`, `organizer`, `webLink`, `iCalUId`) → 400 `ErrorInvalidProperty`
//!   (FAKE-CHOICE: Graph ignores some and rejects others).
//! - `singleValueExtendedProperties: [{id, value}]` are stored beside the event (shown by
//!   [`super::FakeGraph::extended_property`], never in GETs: Graph returns them only with
//!   `$expand`, which the fake does not serve). An `id` must look like
//!   `String {GUID} Name <name>`, else 400.
//! - The answer is the updated event (200), with a new etag; the change reaches the next delta.
//! - Every PATCH is recorded ([`super::FakeGraph::patches`]); [`super::FakeGraph::edit_before_next_patch`]
//!   lands another client's edit just before the next PATCH is handled.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::errors::{self, Reply};
use super::state::State;

/// One recorded PATCH.
#[derive(Debug, Clone)]
pub struct PatchRecord {
    pub event_id: String,
    pub if_match: Option<String>,
    pub body: Value,
    pub status: u16,
}

#[derive(Debug, Default)]
pub struct WriteState {
    /// (event id, property id) → value.
    pub extended: BTreeMap<(String, String), String>,
    pub patches: Vec<PatchRecord>,
    /// Another client's edits: (event id, properties), applied before the next PATCH of that id.
    pub edits_before_patch: Vec<(String, Map<String, Value>)>,
    /// OneDrive (`onedrive.rs`).
    pub drive: super::onedrive::DriveState,
    /// getSchedule, event creation and deletion (`schedule.rs`).
    pub schedule: super::schedule::ScheduleState,
}

const READ_ONLY: &[&str] = &[
    "id",
    "@odata.etag",
    "changeKey",
    "createdDateTime",
    "lastModifiedDateTime",
    "type",
    "seriesMasterId",
    "isOrganizer",
    "organizer",
    "webLink",
    "iCalUId",
];

fn valid_property_id(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("String {") else {
        return false;
    };
    let Some((guid, name)) = rest.split_once("} Name ") else {
        return false;
    };
    guid.len() == 36 && guid.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && !name.is_empty()
}

/// PATCH an event; the caller has authenticated the request.
pub fn patch_event(
    st: &mut State,
    id: &str,
    if_match: Option<&str>,
    body: &[u8],
    rid: &str,
) -> Reply {
    let body_v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let reply = apply(st, id, if_match, &body_v, rid);
    st.writes.patches.push(PatchRecord {
        event_id: id.to_string(),
        if_match: if_match.map(str::to_string),
        body: body_v,
        status: reply.status,
    });
    reply
}

fn apply(st: &mut State, id: &str, if_match: Option<&str>, body: &Value, rid: &str) -> Reply {
    if let Some(pos) = st
        .writes
        .edits_before_patch
        .iter()
        .position(|(e, _)| e == id)
    {
        let (_, edit) = st.writes.edits_before_patch.remove(pos);
        st.update_event(id, &edit);
    }
    let Some(current) = st.get_event(id, false, false) else {
        return errors::graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            rid,
        );
    };
    if let Some(tag) = if_match
        && current["@odata.etag"].as_str() != Some(tag)
    {
        return errors::graph_error(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.",
            rid,
        );
    }
    let Some(fields) = body.as_object() else {
        return errors::graph_error(
            400,
            "BadRequest",
            "Empty Payload. JSON content expected.",
            rid,
        );
    };
    let mut patch = fields.clone();
    for k in READ_ONLY {
        if patch.contains_key(*k) {
            return errors::graph_error(
                400,
                "ErrorInvalidProperty",
                &format!("The property '{k}' is read-only and cannot be set."),
                rid,
            );
        }
    }
    if let Some(b) = patch.get("body")
        && !matches!(b["contentType"].as_str(), Some("html" | "text"))
    {
        return errors::graph_error(
            400,
            "BadRequest",
            "body.contentType must be html or text.",
            rid,
        );
    }
    let mut props = Vec::new();
    if let Some(list) = patch.remove("singleValueExtendedProperties") {
        for p in list.as_array().cloned().unwrap_or_default() {
            let (Some(pid), Some(value)) = (p["id"].as_str(), p["value"].as_str()) else {
                return errors::graph_error(
                    400,
                    "BadRequest",
                    "An extended property needs an id and a value.",
                    rid,
                );
            };
            if !valid_property_id(pid) {
                return errors::graph_error(
                    400,
                    "ErrorInvalidExtendedPropertyValue",
                    &format!("The extended property id '{pid}' is not valid."),
                    rid,
                );
            }
            props.push((pid.to_string(), value.to_string()));
        }
    }
    if let Some(b) = patch.get("body") {
        // Exchange derives the preview from the body.
        let preview: String = b["content"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(255)
            .collect();
        patch.insert("bodyPreview".into(), Value::String(preview));
    }
    let touched = !patch.is_empty() || !props.is_empty();
    for (pid, value) in props {
        st.writes.extended.insert((id.to_string(), pid), value);
    }
    if touched {
        // An extended property alone still makes a new version of the item.
        st.update_event(id, &patch);
    }
    match st.get_event(id, false, false) {
        Some(v) => Reply::ok(v),
        None => errors::graph_error(
            404,
            "ErrorItemNotFound",
            "The specified object was not found in the store.",
            rid,
        ),
    }
}
