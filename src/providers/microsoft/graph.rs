//! The one builder of Microsoft Graph request URLs, shared by every Graph call (sync, directory,
//! agenda write-back, OneDrive documents, free/busy and booking): `{graph_base}/me/…` for a
//! delegated account, `{graph_base}/users/{user}/…` for client credentials (org mode).

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
    let mut url = Url::parse(&ms.graph_base).map_err(|e| GraphUrlError::Parse(e.to_string()))?;
    url.path_segments_mut()
        .map_err(|()| GraphUrlError::CannotBeABase)?
        .pop_if_empty()
        .extend(mailbox(ms))
        .extend(tail);
    Ok(url)
}
