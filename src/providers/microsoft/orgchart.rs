//! Org mode's directory sweep through Microsoft Graph (docs/org.md): ONE paged `GET /users`
//! with each user's manager expanded, app-only; the chart is inverted locally by
//! [`crate::providers::orgchart::invert`].
//!
//! - `GET {graph_base}/users?$select=id,mail,userPrincipalName,displayName,employeeHireDate,
//!   accountEnabled,department&$expand=manager&$top=999`, following the whole `@odata.nextLink`
//!   (same origin only, at most `limits::MAX_PAGES` pages). `employeeHireDate`,
//!   `accountEnabled` and `department` are returned only when selected. The plain
//!   `$expand=manager` is the form "List manager" documents for the whole collection: its current
//!   text supports `$levels` only on a single user, and `$select` inside the expansion is shown
//!   only together with `$levels` (docs/org.md, Decisions).
//! - The manager comes back as an id: it is translated to that user's address after the sweep
//!   (a manager outside the listing has no address and the edge is dropped).
//! - `accountEnabled = false` users are kept as inactive; the org unit is `department`.
//! - The token is the app's (client credentials, `.default` scope: the application permission
//!   `User.Read.All` must be granted), cached as `<state>/tokens/<template>:directory.json`.

use std::collections::HashMap;

use serde::Deserialize;

use super::auth::Authenticator;
use super::sync::MsSyncError;
use crate::config::{MicrosoftAccount, MicrosoftAuth};
use crate::providers::orgchart::OrgPerson;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Page {
    value: Vec<User>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct User {
    id: Option<String>,
    mail: Option<String>,
    user_principal_name: Option<String>,
    display_name: Option<String>,
    employee_hire_date: Option<String>,
    account_enabled: Option<bool>,
    department: Option<String>,
    manager: Option<Manager>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Manager {
    id: Option<String>,
}

/// The token file name of the directory sweep.
pub fn directory_account(template: &str) -> String {
    format!("{template}:directory")
}

/// The template with app-only credentials (a template without `user` is app-only in org mode).
pub fn app_only(ms: &MicrosoftAccount, user: &str) -> Option<MicrosoftAccount> {
    let client_secret = match &ms.auth {
        MicrosoftAuth::ClientCredentials { client_secret, .. } => client_secret.clone(),
        MicrosoftAuth::Delegated {
            client_secret: Some(s),
        } => s.clone(),
        MicrosoftAuth::Delegated {
            client_secret: None,
        } => return None,
    };
    let mut out = ms.clone();
    out.auth = MicrosoftAuth::ClientCredentials {
        client_secret,
        user: user.to_string(),
    };
    out.directory = false;
    Some(out)
}

/// Every user of the tenant.
pub async fn sweep(
    client: &reqwest::Client,
    state_dir: &std::path::Path,
    template: &str,
    ms: &MicrosoftAccount,
) -> Result<Vec<OrgPerson>, MsSyncError> {
    let ms = app_only(ms, "").ok_or_else(|| MsSyncError::Api {
        status: 0,
        message: "the template account has no client secret (app-only needs one)".into(),
    })?;
    let auth = Authenticator::new(
        &directory_account(template),
        &ms,
        state_dir,
        client.clone(),
        super::auth::system_clock(),
    );
    let mut url = reqwest::Url::parse(&format!("{}/users", ms.graph_base.trim_end_matches('/')))
        .map_err(|e| MsSyncError::Api {
            status: 0,
            message: format!("graph_base does not give a URL: {e}"),
        })?;
    url.query_pairs_mut()
        .append_pair(
            "$select",
            "id,mail,userPrincipalName,displayName,employeeHireDate,accountEnabled,department",
        )
        .append_pair("$expand", "manager")
        .append_pair("$top", "999");
    let origin = url.origin();
    let mut users: Vec<User> = Vec::new();
    let mut pages = 0usize;
    loop {
        pages += 1;
        if pages > crate::limits::MAX_PAGES {
            return Err(MsSyncError::Api {
                status: 0,
                message: format!(
                    "users: more than {} pages; stopped (see docs/limits.md)",
                    crate::limits::MAX_PAGES
                ),
            });
        }
        let body = super::sync::graph_get(client, &auth, &ms, &url)
            .await?
            .ok_or_else(|| MsSyncError::Api {
                status: 404,
                message: "the users collection was not found".into(),
            })?;
        let page: Page = serde_json::from_slice(&body).map_err(|e| MsSyncError::Api {
            status: 200,
            message: format!("a users page could not be read: {e}"),
        })?;
        users.extend(page.value);
        match page.next_link {
            Some(n) => {
                url = reqwest::Url::parse(&n).map_err(|e| MsSyncError::Api {
                    status: 200,
                    message: format!("users @odata.nextLink: {e}"),
                })?;
                // The access token goes with every request: only graph_base's origin is followed.
                if url.origin() != origin {
                    return Err(MsSyncError::Api {
                        status: 200,
                        message: "users @odata.nextLink points to another origin; not followed"
                            .into(),
                    });
                }
            }
            None => return Ok(people(users)),
        }
    }
}

fn address(u: &User) -> Option<String> {
    [u.mail.as_deref(), u.user_principal_name.as_deref()]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_string())
        .find(|s| s.contains('@'))
}

/// The people of the sweep, managers' ids translated to addresses.
fn people(users: Vec<User>) -> Vec<OrgPerson> {
    let by_id: HashMap<String, String> = users
        .iter()
        .filter_map(|u| Some((u.id.clone()?, address(u)?)))
        .collect();
    users
        .iter()
        .filter_map(|u| {
            let email = address(u)?;
            let hire_date = u
                .employee_hire_date
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.with_timezone(&chrono::Utc).date_naive());
            Some(OrgPerson {
                email,
                name: u.display_name.clone().filter(|n| !n.trim().is_empty()),
                manager: u
                    .manager
                    .as_ref()
                    .and_then(|m| m.id.as_ref())
                    .and_then(|id| by_id.get(id).cloned()),
                org_unit: u.department.clone().filter(|d| !d.trim().is_empty()),
                hire_date,
                // Graph leaves `accountEnabled` out only when not selected: treat as enabled.
                active: u.account_enabled != Some(false),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_ids_become_addresses_and_disabled_users_are_inactive() {
        let page: Page = serde_json::from_str(
            r##"{"value":[
              {"id":"1","mail":"Mika@example.com","displayName":"Mika","accountEnabled":true,"department":"Eng"},
              {"id":"2","mail":null,"userPrincipalName":"ann@example.com","employeeHireDate":"2026-03-01T00:00:00Z",
               "accountEnabled":true,"manager":{"@odata.type":"#microsoft.graph.user","id":"1"}},
              {"id":"3","mail":"off@example.com","accountEnabled":false,"manager":{"id":"1"}},
              {"id":"4","mail":"x@example.com","accountEnabled":true,"manager":{"id":"99"}}
                        ]}"##,
        )
        .unwrap();
        let people = people(page.value);
        assert_eq!(people.len(), 4);
        assert_eq!(people[0].org_unit.as_deref(), Some("Eng"));
        assert_eq!(people[1].manager.as_deref(), Some("Mika@example.com"));
        assert_eq!(
            people[1].hire_date,
            chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert!(!people[2].active);
        assert_eq!(people[3].manager, None);
    }
}
