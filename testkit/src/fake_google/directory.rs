//! Admin SDK Directory `users.list` (docs/google-api.md §7), as far as the manager lookup uses it:
//! `GET /admin/directory/v1/users?customer=my_customer&query=directManager='x'`.
//!
//! - Scope `admin.directory.user.readonly` or `admin.directory.user` (§1.5 table), else 403.
//! - `customer` or `domain` is required (400 otherwise); `maxResults` 1..=500, default 100;
//!   `pageToken` is an offset into the filtered list; `nextPageToken` only when more follow.
//! - `query`: `directManager='email'` (exact, case-insensitive) and `manager='email'` (anyone
//!   up the chain); no query lists everyone. An empty result has no `users` key, like the real
//!   response (`{"kind":"admin#directory#users","etag":…}`).
//! - Suspended users are listed with `suspended: true`, archived ones with `archived: true`
//!   (the client decides).
//! - Each user carries `orgUnitPath` (default `/`) and, when they have a manager, `relations`
//!   with one `{"type": "manager", "value": <email>}` element, as the Users resource does
//!   (`relations` is not a custom schema, so `projection=basic` returns it; `custom`/`full`
//!   are accepted too, any other value is 400). `fields` is accepted and ignored (the whole
//!   user is returned, a superset of any selection).
//! - §7: the default `viewType=admin_view` needs a Workspace admin as the caller (the token's
//!   subject); anyone else gets 403 `Not Authorized to access this resource/api` unless they ask
//!   for `viewType=domain_public`.

use serde_json::{Value, json};

use super::errors::{self, Reply};

pub const DIRECTORY_SCOPES: &[&str] = &["admin.directory.user.readonly", "admin.directory.user"];

/// One Workspace user.
#[derive(Debug, Clone, Default)]
pub struct DirUser {
    pub email: String,
    pub full_name: String,
    /// The direct manager's e-mail.
    pub manager: Option<String>,
    pub suspended: bool,
    /// A Workspace admin (may use the default `admin_view`).
    pub admin: bool,
    pub archived: bool,
    /// `orgUnitPath`; `/` when unset.
    pub org_unit: Option<String>,
}

fn query_manager(q: &str) -> Option<(bool, String)> {
    let (direct, rest) = if let Some(r) = q.strip_prefix("directManager=") {
        (true, r)
    } else {
        (false, q.strip_prefix("manager=")?)
    };
    let v = rest.trim().trim_matches('\'').trim_matches('"');
    Some((direct, v.to_lowercase()))
}

fn reports_of<'a>(users: &'a [DirUser], manager: &str, direct: bool) -> Vec<&'a DirUser> {
    users
        .iter()
        .filter(|u| {
            let mut m = u.manager.clone();
            let mut hops = 0;
            while let Some(cur) = m {
                if cur.to_lowercase() == manager {
                    return true;
                }
                if direct || hops > 20 {
                    return false;
                }
                hops += 1;
                m = users
                    .iter()
                    .find(|x| x.email.eq_ignore_ascii_case(&cur))
                    .and_then(|x| x.manager.clone());
            }
            false
        })
        .collect()
}

/// `users.list` called by `caller` (the token's account).
pub fn list(users: &[DirUser], caller: &str, query: &[(String, String)]) -> Reply {
    let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match param("viewType").unwrap_or("admin_view") {
        "domain_public" => {}
        "admin_view" => {
            let admin = users
                .iter()
                .any(|u| u.admin && u.email.eq_ignore_ascii_case(caller));
            if !admin {
                return errors::calendar_error(
                    403,
                    "global",
                    "forbidden",
                    "Not Authorized to access this resource/api",
                    None,
                );
            }
        }
        _ => return errors::invalid_parameter("viewType", "Invalid Input: viewType"),
    }
    match param("projection") {
        None | Some("basic" | "custom" | "full") => {}
        Some(_) => return errors::invalid_parameter("projection", "Invalid Input: projection"),
    }
    if param("customer").is_none() && param("domain").is_none() {
        return errors::invalid_parameter("customer", "Bad Request");
    }
    let max: usize = match param("maxResults").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=500).contains(&n) => n,
        Some(_) => return errors::invalid_parameter("maxResults", "Invalid Input: maxResults"),
    };
    let start: usize = match param("pageToken").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return errors::invalid_parameter("pageToken", "Invalid Input: pageToken"),
    };
    let matched: Vec<&DirUser> = match param("query") {
        None | Some("") => users.iter().collect(),
        Some(q) => match query_manager(q) {
            Some((direct, m)) => reports_of(users, &m, direct),
            None => return errors::invalid_parameter("query", "Invalid Input: query"),
        },
    };
    let page: Vec<Value> = matched
        .iter()
        .skip(start)
        .take(max)
        .map(|u| {
            let mut v = json!({
                "kind": "admin#directory#user",
                "primaryEmail": u.email,
                "name": {"fullName": u.full_name},
                "suspended": u.suspended,
                "archived": u.archived,
                "orgUnitPath": u.org_unit.as_deref().unwrap_or("/"),
            });
            if let Some(m) = &u.manager {
                v["relations"] = json!([{"type": "manager", "value": m}]);
            }
            v
        })
        .collect();
    let mut body = json!({"kind": "admin#directory#users", "etag": "\"fake-directory\""});
    if !page.is_empty() {
        body["users"] = Value::Array(page);
    }
    if start + max < matched.len() {
        body["nextPageToken"] = json!((start + max).to_string());
    }
    Reply::ok(body)
}
