//! The org chart's direct reports (docs/microsoft-graph.md §7.3): `GET /me/directReports` and
//! `/users/{id|upn}/directReports` → 200 `{"@odata.context": …#directoryObjects, "value":
//! [directoryObject…]}`, each item a `#microsoft.graph.user` (or an `orgContact`) with
//! `@odata.type` set. `$top` pages with an `@odata.nextLink` carrying `$skiptoken`
//! (FAKE-CHOICE: the page size of this endpoint is undocumented; default 100).
//! `$select` projects each item on the listed properties (with `@odata.type` and `id`), as
//! Graph does; `employeeHireDate` is one of the user properties Graph returns *only* when
//! selected (user resource: "Returned only on $select"), so it never appears without it.

use serde_json::{Value, json};

use super::errors::{self, Reply};
use super::state::State;

impl State {
    /// Adds a direct report of the mailbox owner (a user, or with `contact` an orgContact).
    pub fn add_direct_report(&mut self, name: &str, mail: &str, contact: bool) {
        self.add_direct_report_hired(name, mail, contact, None);
    }

    /// [`State::add_direct_report`] with the user's `employeeHireDate` (`2026-11-02T00:00:00Z`).
    pub fn add_direct_report_hired(
        &mut self,
        name: &str,
        mail: &str,
        contact: bool,
        hired: Option<&str>,
    ) {
        self.counter += 1;
        let id = errors::guid(self.counter.wrapping_add(1 << 40));
        let (given, surname) = name.split_once(' ').unwrap_or((name, ""));
        let item = if contact {
            json!({"@odata.type": "#microsoft.graph.orgContact", "id": id,
                   "displayName": name, "mail": mail})
        } else {
            json!({"@odata.type": "#microsoft.graph.user", "id": id, "businessPhones": [],
                   "displayName": name, "givenName": given, "jobTitle": "Engineer",
                   "mail": mail, "mobilePhone": null, "officeLocation": null,
                   "preferredLanguage": null, "surname": surname,
                   "userPrincipalName": mail.to_ascii_lowercase(),
                   "employeeHireDate": hired})
        };
        self.directory.push(item);
    }

    /// One page of direct reports; `base` is the request URL without its query.
    pub fn direct_reports_page(&self, base: &str, query: &[(String, String)]) -> Reply {
        let get = |k: &str| {
            query
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .and_then(|(_, v)| v.parse::<usize>().ok())
        };
        let top = get("$top").unwrap_or(100).clamp(1, 999);
        let skip = get("$skiptoken").unwrap_or(0);
        let select: Option<Vec<String>> = query
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("$select"))
            .map(|(_, v)| v.split(',').map(|p| p.trim().to_string()).collect());
        const SELECT_ONLY: &[&str] = &["employeeHireDate"];
        let project = |item: &Value| -> Value {
            let Value::Object(m) = item else {
                return item.clone();
            };
            let keep = |k: &str| match &select {
                Some(props) => {
                    k == "@odata.type"
                        || k == "id"
                        || props.iter().any(|p| p.eq_ignore_ascii_case(k))
                }
                None => !SELECT_ONLY.contains(&k),
            };
            Value::Object(
                m.iter()
                    .filter(|(k, _)| keep(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        };
        let page: Vec<Value> = self
            .directory
            .iter()
            .skip(skip)
            .take(top)
            .map(project)
            .collect();
        let mut body = json!({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects",
            "value": page,
        });
        if skip + top < self.directory.len() {
            body["@odata.nextLink"] = json!(format!("{base}?$top={top}&$skiptoken={}", skip + top));
        }
        Reply::ok(body)
    }
}
