//! Org mode's directory sweep through Google (docs/org.md): ONE paged `users.list` of the whole
//! customer as the delegated admin, with each user's manager relation and org unit; the chart
//! is inverted locally by [`crate::providers::orgchart::invert`].
//!
//! - `GET {base}/admin/directory/v1/users?customer=my_customer&maxResults=500&projection=basic&
//!   fields=nextPageToken,users(primaryEmail,name/fullName,suspended,archived,orgUnitPath,relations)`,
//!   following `nextPageToken`; `base` as in [`super::directory`].
//! - The token is the service account's, impersonating `[org] admin` (the Admin SDK takes only
//!   a subject with admin privileges) with the scope `admin.directory.user.readonly`; it is
//!   cached as `<state>/tokens/<template>:admin.json`, apart from every manager's calendar token.
//! - The manager is `relations[type = manager].value`; suspended or archived users are kept as
//!   inactive (neither managers nor reports).

use reqwest::Client;
use serde::Deserialize;

use super::auth::Authenticator;
use super::directory::{DIRECTORY_SCOPE, DirectoryError};
use crate::config::{GoogleAccount, GoogleAuth};
use crate::providers::orgchart::OrgPerson;

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct User {
    primary_email: Option<String>,
    name: Option<Name>,
    suspended: bool,
    archived: bool,
    org_unit_path: Option<String>,
    /// Typed `any` in the discovery document: an array of `{type, customType, value}`.
    relations: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Name {
    full_name: Option<String>,
}

/// The token file name of the admin subject: an account name never contains `:`, and a
/// manager's derived account ends with their address (which has an `@`).
pub fn admin_account(template: &str) -> String {
    format!("{template}:admin")
}

/// Every user of the customer, as the delegated `admin` sees them.
pub async fn sweep(
    client: &Client,
    state_dir: &std::path::Path,
    template: &str,
    google: &GoogleAccount,
    admin: &str,
) -> Result<Vec<OrgPerson>, DirectoryError> {
    let mut as_admin = google.clone();
    if let GoogleAuth::ServiceAccount { subject, .. } = &mut as_admin.auth {
        *subject = admin.to_string();
    }
    let auth = Authenticator::new(
        &admin_account(template),
        &as_admin,
        state_dir,
        client.clone(),
        super::auth::system_clock(),
    )
    .with_scope(DIRECTORY_SCOPE.to_string());
    let users: Vec<User> = super::directory::list_users(
        client,
        &auth,
        google,
        &[(
            "fields",
            "nextPageToken,users(primaryEmail,name/fullName,suspended,archived,orgUnitPath,relations)",
        )],
    )
    .await?;
    Ok(users.into_iter().filter_map(person).collect())
}

fn person(u: User) -> Option<OrgPerson> {
    let email = u.primary_email?.trim().to_string();
    if !email.contains('@') {
        return None;
    }
    let manager = u.relations.as_array().and_then(|rs| {
        rs.iter()
            .find(|r| r["type"].as_str() == Some("manager"))
            .and_then(|r| r["value"].as_str())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    });
    Some(OrgPerson {
        email,
        name: u
            .name
            .and_then(|n| n.full_name)
            .filter(|n| !n.trim().is_empty()),
        manager,
        org_unit: u.org_unit_path.filter(|o| !o.is_empty()),
        hire_date: None,
        active: !u.suspended && !u.archived,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relations_org_units_and_suspension_are_read() {
        let page: super::super::directory::UsersPage<User> = serde_json::from_str(
            r#"{"users":[
                {"primaryEmail":"ann@example.com","name":{"fullName":"Ann Lee"},"orgUnitPath":"/Eng",
                 "relations":[{"type":"assistant","value":"x@example.com"},{"type":"manager","value":"Mika@Example.com"}]},
                {"primaryEmail":"old@example.com","suspended":true},
                {"primaryEmail":"arch@example.com","archived":true,"relations":"odd"},
                {"name":{"fullName":"No Mail"}}
            ]}"#,
        )
        .unwrap();
        let people: Vec<OrgPerson> = page.users.into_iter().filter_map(person).collect();
        assert_eq!(people.len(), 3);
        assert_eq!(people[0].manager.as_deref(), Some("Mika@Example.com"));
        assert_eq!(people[0].org_unit.as_deref(), Some("/Eng"));
        assert!(people[0].active);
        assert!(!people[1].active);
        assert!(!people[2].active);
        assert_eq!(people[2].manager, None);
    }
}
