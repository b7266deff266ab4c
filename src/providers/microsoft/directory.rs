//! `directory = true` on a Microsoft account (docs/microsoft-graph.md §7.3): reading the account
//! user's direct reports from Graph. Where they are kept and how they join the roster is
//! [`crate::providers::directory`].
//!
//! [`fetch`] reads `GET {graph_base}/me/directReports` (`/users/{user}/directReports` in org
//! mode) with `$select=id,displayName,mail,userPrincipalName,employeeHireDate`, following
//! `@odata.nextLink` (`employeeHireDate` is returned only when selected; it is the report's
//! tenure start).
//! Each item is a `directoryObject` (a user or an orgContact); its address is `mail`, else the
//! `userPrincipalName`; items with neither are skipped.

use serde::Deserialize;

pub use crate::providers::directory::DirectoryPerson;

/// A `directoryObject` as far as it is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct DirectoryObject {
    display_name: Option<String>,
    /// Returned only on `$select` (users; an orgContact has none).
    employee_hire_date: Option<String>,
    mail: Option<String>,
    user_principal_name: Option<String>,
}

/// A page of `directReports`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Page {
    value: Vec<DirectoryObject>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

/// The people of one page (`Err`: the page could not be read).
fn people(body: &[u8]) -> Result<(Vec<DirectoryPerson>, Option<String>), String> {
    let page: Page = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let out = page
        .value
        .into_iter()
        .filter_map(|o| {
            let email = [o.mail, o.user_principal_name]
                .into_iter()
                .flatten()
                .map(|s| s.trim().to_string())
                .find(|s| s.contains('@'))?;
            // `employeeHireDate` is a DateTimeOffset; its date (UTC) is the hire date.
            let hire_date = o
                .employee_hire_date
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t.trim()).ok())
                .map(|t| t.with_timezone(&chrono::Utc).date_naive());
            Some(DirectoryPerson {
                email,
                name: o.display_name.filter(|n| !n.trim().is_empty()),
                hire_date,
            })
        })
        .collect();
    Ok((out, page.next_link))
}

/// Read every direct report, following `@odata.nextLink` on the first URL's origin only, at most
/// `limits::MAX_PAGES` pages; `get` does one Graph GET.
pub async fn fetch<F, Fut, E>(first: reqwest::Url, mut get: F) -> Result<Vec<DirectoryPerson>, E>
where
    F: FnMut(reqwest::Url) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, E>>,
    E: From<String>,
{
    let origin = first.origin();
    let mut url = first;
    let mut all = Vec::new();
    for _ in 0..crate::limits::MAX_PAGES {
        let body = get(url).await?;
        let (mut page, next) = people(&body).map_err(|e| E::from(format!("directReports: {e}")))?;
        all.append(&mut page);
        match next {
            Some(n) => {
                url = reqwest::Url::parse(&n)
                    .map_err(|e| E::from(format!("directReports @odata.nextLink: {e}")))?;
                // The access token goes with every request: only graph_base's origin is followed.
                if url.origin() != origin {
                    return Err(E::from(format!(
                        "directReports @odata.nextLink points to another origin ({}); not followed",
                        url.origin().ascii_serialization()
                    )));
                }
            }
            None => return Ok(all),
        }
    }
    Err(E::from(format!(
        "directReports: more than {} pages; stopped (see docs/limits.md)",
        crate::limits::MAX_PAGES
    )))
}
