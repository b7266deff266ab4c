//! `GET /users` (the tenant's users; docs/org.md): what org mode's directory sweep reads.
//!
//! - Needs a valid token (app-only: the application permission `User.Read.All`; the fake does
//!   not model app roles, any valid token of the tenant is accepted).
//! - `$top` 1..=999 (default 100; more → 400 like Graph's page-size check); `@odata.nextLink`
//!   carries the whole query plus `$skiptoken` (the client follows the link as it is); a page
//!   can be short, the last one has no `nextLink`.
//! - `$select`: the listed properties plus `id`. Without it, the default set (`businessPhones`,
//!   `displayName`, `givenName`, `id`, `jobTitle`, `mail`, `mobilePhone`, `officeLocation`,
//!   `preferredLanguage`, `surname`, `userPrincipalName`); `accountEnabled`, `department` and
//!   `employeeHireDate` are returned only when selected, as the user resource says.
//! - `$expand=manager` or `manager($select=…)`: each user with a manager gets `"manager":
//!   {"@odata.type": "#microsoft.graph.user", …}` with the manager's default properties (or
//!   the selected ones and `id`); a user without one has no `manager` key. `$levels` on the
//!   collection → 400 ("List manager": `$levels` is supported only on a single user); any other
//!   expansion → 400.
//! - `$skip` is not supported by Graph for users → 400.
//! - [`State::users_denied`] (an app without `User.Read.All`): 403 `Authorization_RequestDenied`
//!   "Insufficient privileges to complete the operation.", as Graph answers it.

use serde_json::{Map, Value, json};

use super::errors::{self, Reply};
use super::state::State;

/// One user of the tenant.
#[derive(Debug, Clone, Default)]
pub struct OrgUser {
    pub id: String,
    pub upn: String,
    pub mail: Option<String>,
    pub display_name: String,
    /// The manager's id.
    pub manager: Option<String>,
    pub account_enabled: bool,
    pub department: Option<String>,
    /// `employeeHireDate`, RFC 3339.
    pub hire_date: Option<String>,
}

const DEFAULT_SET: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

fn full(u: &OrgUser) -> Map<String, Value> {
    let (given, surname) = u
        .display_name
        .split_once(' ')
        .unwrap_or((&u.display_name, ""));
    let v = json!({
        "businessPhones": [], "displayName": u.display_name, "givenName": given, "id": u.id,
        "jobTitle": null, "mail": u.mail, "mobilePhone": null, "officeLocation": null,
        "preferredLanguage": null, "surname": surname, "userPrincipalName": u.upn,
        "accountEnabled": u.account_enabled, "department": u.department,
        "employeeHireDate": u.hire_date,
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn project(m: &Map<String, Value>, select: Option<&[String]>) -> Map<String, Value> {
    m.iter()
        .filter(|(k, _)| match select {
            Some(props) => *k == "id" || props.iter().any(|p| p.eq_ignore_ascii_case(k)),
            None => DEFAULT_SET.contains(&k.as_str()),
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `manager(...)` options: `$select` list, `$levels`.
fn expand_manager(expand: &str) -> Result<Option<Vec<String>>, String> {
    let e = expand.trim();
    if e.eq_ignore_ascii_case("manager") {
        return Ok(None);
    }
    let inner = e
        .strip_prefix("manager(")
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            format!("Parsing OData Select and Expand failed: '{e}' is not supported.")
        })?;
    let mut select = None;
    for opt in inner.split(';') {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "$levels" => {
                return Err(
                    "The $levels parameter is only supported on a single user, not on the users collection."
                        .into(),
                );
            }
            "$select" => select = Some(v.split(',').map(|s| s.trim().to_string()).collect()),
            other => return Err(format!("Query option '{other}' is not allowed in $expand.")),
        }
    }
    Ok(select)
}

impl State {
    /// One page of `/users`; `base` is the request URL without its query.
    pub fn users_page(&self, base: &str, query: &[(String, String)], rid: &str) -> Reply {
        if self.users_denied {
            return errors::graph_error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
                rid,
            );
        }
        let get = |k: &str| {
            query
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        if get("$skip").is_some() {
            return errors::graph_error(
                400,
                "Request_BadRequest",
                "'$skip' is not supported by the service.",
                rid,
            );
        }
        let top = match get("$top").map(str::parse::<usize>) {
            None => 100,
            Some(Ok(n)) if (1..=999).contains(&n) => n,
            Some(_) => {
                return errors::graph_error(
                    400,
                    "Request_BadRequest",
                    "Invalid page size specified: must be between 1 and 999 inclusive.",
                    rid,
                );
            }
        };
        let skip = get("$skiptoken")
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(0);
        let select: Option<Vec<String>> =
            get("$select").map(|v| v.split(',').map(|p| p.trim().to_string()).collect());
        let expand = match get("$expand").map(expand_manager) {
            None => None,
            Some(Ok(sel)) => Some(sel),
            Some(Err(msg)) => return errors::graph_error(400, "Request_BadRequest", &msg, rid),
        };
        let value: Vec<Value> = self
            .org_users
            .iter()
            .skip(skip)
            .take(top)
            .map(|u| {
                let mut m = project(&full(u), select.as_deref());
                if let Some(sel) = &expand
                    && let Some(mid) = &u.manager
                    && let Some(boss) = self.org_users.iter().find(|x| &x.id == mid)
                {
                    let mut b = project(&full(boss), sel.as_deref());
                    b.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                    m.insert("manager".into(), Value::Object(b));
                }
                Value::Object(m)
            })
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users",
            "value": value,
        });
        if skip + top < self.org_users.len() {
            let mut next = next_link(base, query);
            next.push_str(&format!("$skiptoken={}", skip + top));
            body["@odata.nextLink"] = json!(next);
        }
        Reply::ok(body)
    }
}

/// `base?k=v&…&` with every parameter but `$skiptoken`, percent-encoded.
fn next_link(base: &str, query: &[(String, String)]) -> String {
    let mut out = format!("{base}?");
    for (k, v) in query {
        if k.eq_ignore_ascii_case("$skiptoken") {
            continue;
        }
        let enc: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
        out.push_str(&format!("{k}={enc}&"));
    }
    out
}
