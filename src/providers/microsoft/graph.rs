//! The one builder of Microsoft Graph request URLs, shared by every Graph call (sync, directory,
//! agenda write-back, OneDrive documents, free/busy and booking): `{graph_base}/me/…` for a
//! delegated account, `{graph_base}/users/{user}/…` for client credentials (org mode); and the
//! one origin links from answers are followed on.

use reqwest::Url;

use crate::config::{MicrosoftAccount, MicrosoftAuth};

/// Why `graph_base` gave no URL (the config's validation makes both unlikely).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphUrlError {
    #[error("graph_base: {0}")]
    Parse(String),
    #[error("graph_base cannot be a base URL")]
    CannotBeABase,
}

/// `graph_base` itself. Its origin (scheme, host and port) is the only one the access token is
/// sent to, so the only one a link from an answer may point to.
pub fn graph_base(ms: &MicrosoftAccount) -> Result<Url, GraphUrlError> {
    Url::parse(&ms.graph_base).map_err(|e| GraphUrlError::Parse(e.to_string()))
}

/// The mailbox's path segments: `me`, or `users/{user}` in org mode.
pub fn mailbox(ms: &MicrosoftAccount) -> Vec<&str> {
    match &ms.auth {
        MicrosoftAuth::Delegated { .. } => vec!["me"],
        MicrosoftAuth::ClientCredentials { user, .. } => vec!["users", user.as_str()],
    }
}

/// `{graph_base}/{mailbox}/{tail…}`, each tail item one path segment (percent-encoded as
/// needed; an item such as `root:` stays one segment).
pub fn graph_url(ms: &MicrosoftAccount, tail: &[&str]) -> Result<Url, GraphUrlError> {
    let mut url = graph_base(ms)?;
    url.path_segments_mut()
        .map_err(|()| GraphUrlError::CannotBeABase)?
        .pop_if_empty()
        .extend(mailbox(ms))
        .extend(tail);
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AccountKind;

    fn account(extra: &str) -> MicrosoftAccount {
        let text = format!(
            "[manager]\nemail = \"mika@example.com\"\n\n[[accounts]]\nname = \"m\"\n\
             provider = \"microsoft\"\nclient_id = \"cid\"\n{extra}"
        );
        let c = crate::config::parse(&text, std::path::Path::new("/tmp/config.toml")).unwrap();
        match &c.accounts[0].kind {
            AccountKind::Microsoft(ms) => ms.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn one_builder_for_both_mailboxes_with_each_tail_item_one_segment() {
        let me = account("graph_base = \"http://127.0.0.1:9000/v1.0/\"\n");
        assert_eq!(
            graph_url(&me, &["events", "AAMk/a+b=="]).unwrap().as_str(),
            "http://127.0.0.1:9000/v1.0/me/events/AAMk%2Fa+b=="
        );
        assert_eq!(
            graph_url(&me, &["drive", "root:", "Agendas", "a%b.docx:", "content"])
                .unwrap()
                .as_str(),
            "http://127.0.0.1:9000/v1.0/me/drive/root:/Agendas/a%25b.docx:/content"
        );
        let org = account(
            "tenant = \"contoso.onmicrosoft.com\"\nclient_secret_env = \"S\"\n\
             user = \"ana@example.com\"\n",
        );
        assert_eq!(
            graph_url(&org, &["calendarView", "delta"])
                .unwrap()
                .as_str(),
            "https://graph.microsoft.com/v1.0/users/ana@example.com/calendarView/delta"
        );
        assert_eq!(
            graph_base(&org).unwrap().origin(),
            Url::parse("https://graph.microsoft.com/x")
                .unwrap()
                .origin()
        );
    }
}
