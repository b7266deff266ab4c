//! `directory = true` on a Google account in org mode: the subject's direct reports from the
//! Admin SDK Directory API (`users.list` with `query=directManager='<subject>'`), which then join
//! the roster through [`crate::providers::directory`].
//!
//! - `GET {base}/admin/directory/v1/users?customer=my_customer&query=directManager='…'&
//!   maxResults=500&projection=basic&viewType=domain_public&fields=…`, following `nextPageToken`. `base` is
//!   `https://admin.googleapis.com` for the default `api_base`, else `api_base` itself (a proxy
//!   or a test fake serves every Google API under one base).
//! - Needs the `admin.directory.user.readonly` scope, granted to the service account's
//!   domain-wide delegation; the sync's authenticator asks for it only when `directory = true`.
//! - Each user's address is `primaryEmail`; its name `name.fullName`. Suspended users are left
//!   out (they are not anyone's report any more).

use reqwest::{Client, StatusCode};
use serde::Deserialize;

use super::auth::{AuthError, Authenticator};
use super::sync::{api_error, google_retryable};
use crate::config::GoogleAccount;
use crate::providers::directory::DirectoryPerson;
use crate::providers::http::{self, HttpError, RetryPolicy};

/// Read-only access to user profiles in the Admin Directory.
pub const DIRECTORY_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";

/// The Admin SDK's own host, used when `api_base` is Google's default.
const ADMIN_BASE: &str = "https://admin.googleapis.com";

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Http(HttpError),
    #[error("the Admin Directory answered HTTP {status}: {message}")]
    Api { status: u16, message: String },
    #[error("a directory page could not be read: {0}")]
    Decode(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct User {
    primary_email: Option<String>,
    name: Option<Name>,
    suspended: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Name {
    full_name: Option<String>,
}

/// The `users.list` URL for `api_base`.
pub(crate) fn users_url(google: &GoogleAccount) -> Result<reqwest::Url, DirectoryError> {
    let base = if google.api_base == GoogleAccount::DEFAULT_API_BASE {
        ADMIN_BASE
    } else {
        google.api_base.as_str()
    };
    reqwest::Url::parse(&format!(
        "{}/admin/directory/v1/users",
        base.trim_end_matches('/')
    ))
    .map_err(|e| DirectoryError::Decode(format!("api_base does not give a URL: {e}")))
}

/// Every user whose direct manager is `manager`, following `nextPageToken`.
pub async fn direct_reports(
    client: &Client,
    auth: &Authenticator,
    google: &GoogleAccount,
    manager: &str,
) -> Result<Vec<DirectoryPerson>, DirectoryError> {
    let query = format!("directManager='{manager}'");
    let users: Vec<User> = list_users(
        client,
        auth,
        google,
        &[
            ("query", &query),
            // The subject is the manager, rarely a Workspace admin: the public view is the
            // one a non-admin may list (docs/google-api.md §7).
            ("viewType", "domain_public"),
            (
                "fields",
                "nextPageToken,users(primaryEmail,name/fullName,suspended)",
            ),
        ],
    )
    .await?;
    Ok(users.into_iter().filter_map(person).collect())
}

/// One page of `users.list`, with the user shape the caller asks for in `fields`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", bound = "U: serde::de::DeserializeOwned")]
pub(super) struct UsersPage<U> {
    #[serde(default = "Vec::new")]
    pub(super) users: Vec<U>,
    #[serde(default)]
    pub(super) next_page_token: Option<String>,
}

/// `users.list?customer=my_customer&maxResults=500&projection=basic` plus `params`, every page
/// (following `nextPageToken`, at most `limits::MAX_PAGES`), as `auth`'s subject; a 401 is
/// refreshed once; another error status is [`DirectoryError::Api`] with Google's message.
/// Shared by the manager's direct reports and org mode's sweep (`orgchart.rs`).
pub(crate) async fn list_users<U: serde::de::DeserializeOwned>(
    client: &Client,
    auth: &Authenticator,
    google: &GoogleAccount,
    params: &[(&str, &str)],
) -> Result<Vec<U>, DirectoryError> {
    let url = users_url(google)?;
    let mut out = Vec::new();
    let mut page_token: Option<String> = None;
    let mut access = auth.access_token().await?;
    let mut refreshed = false;
    let mut pages = 0usize;
    loop {
        pages += 1;
        if pages > crate::limits::MAX_PAGES {
            return Err(DirectoryError::Decode(format!(
                "more than {} pages of users; stopped (see docs/limits.md)",
                crate::limits::MAX_PAGES
            )));
        }
        let mut query: Vec<(&str, &str)> = vec![
            ("customer", "my_customer"),
            ("maxResults", "500"),
            ("projection", "basic"),
        ];
        query.extend_from_slice(params);
        if let Some(t) = &page_token {
            query.push(("pageToken", t));
        }
        let resp = http::send_buffered_with_retry(
            url.as_str(),
            RetryPolicy::default(),
            || {
                client
                    .get(url.clone())
                    .query(&query)
                    .bearer_auth(&access)
                    .header(reqwest::header::ACCEPT, "application/json")
            },
            google_retryable,
        )
        .await
        .map_err(DirectoryError::Http)?;
        match resp.status {
            s if s.is_success() => {
                let page: UsersPage<U> = serde_json::from_slice(&resp.body)
                    .map_err(|e| DirectoryError::Decode(e.to_string()))?;
                out.extend(page.users);
                match page.next_page_token.filter(|t| !t.is_empty()) {
                    Some(t) => page_token = Some(t),
                    None => return Ok(out),
                }
            }
            StatusCode::UNAUTHORIZED if !refreshed => {
                refreshed = true;
                access = auth.refresh().await?;
            }
            s => {
                let (message, reason) = api_error(&resp.body);
                let message = match (message, reason) {
                    (Some(m), Some(r)) => format!("{m} ({r})"),
                    (Some(m), None) => m,
                    (None, _) => s.canonical_reason().unwrap_or("error").to_string(),
                };
                return Err(DirectoryError::Api {
                    status: s.as_u16(),
                    message,
                });
            }
        }
    }
}

fn person(u: User) -> Option<DirectoryPerson> {
    if u.suspended {
        return None;
    }
    let email = u.primary_email?.trim().to_string();
    if !email.contains('@') {
        return None;
    }
    Some(DirectoryPerson {
        email,
        name: u
            .name
            .and_then(|n| n.full_name)
            .filter(|n| !n.trim().is_empty()),
        // The Admin Directory gives no hire date: tenure comes from `joined` or the first 1on1.
        hire_date: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspended_and_addressless_users_are_left_out() {
        let page: UsersPage<User> = serde_json::from_str(
            r#"{"users":[
                {"primaryEmail":"ann@example.com","name":{"fullName":"Ann Lee"}},
                {"primaryEmail":"old@example.com","suspended":true},
                {"name":{"fullName":"No Mail"}},
                {"primaryEmail":"bo@example.com","name":{"fullName":" "}}
            ],"nextPageToken":""}"#,
        )
        .unwrap();
        let people: Vec<DirectoryPerson> = page.users.into_iter().filter_map(person).collect();
        assert_eq!(
            people,
            vec![
                DirectoryPerson {
                    email: "ann@example.com".into(),
                    name: Some("Ann Lee".into()),
                    hire_date: None,
                },
                DirectoryPerson {
                    email: "bo@example.com".into(),
                    name: None,
                    hire_date: None,
                },
            ]
        );
    }
}
