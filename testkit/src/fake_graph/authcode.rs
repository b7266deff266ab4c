//! Authorization code + PKCE for a public client on a loopback redirect (docs/microsoft-graph.md
//! §1.3): `GET /{tenant}/oauth2/v2.0/authorize` and the `authorization_code` grant of the token
//! endpoint.
//!
//! - **authorize**: there is no sign-in page; the request is consented at once as
//!   [`DEFAULT_USER`](super::DEFAULT_USER) (or refused with `access_denied` after
//!   [`super::FakeGraph::deny_next_authorization`]) and answered `302` to
//!   `{redirect_uri}?code=…&state=…` (`response_mode=query`). An unknown client (AADSTS700016)
//!   or a redirect URI that is not registered (AADSTS50011) gets a 400 error page and no
//!   redirect, as Entra shows them to the user. Registered for [`super::PUBLIC_CLIENT_ID`]:
//!   `http://localhost` and `http://127.0.0.1`; **the port is ignored** when matching a loopback
//!   URI, `http://` is allowed only there, and `[::1]` is not supported (§1.3, [E-REPLY]).
//!   Other problems are redirected as `?error=…&error_description=…&state=…`: a missing `scope`
//!   or `code_challenge` method other than `S256`/`plain` → `invalid_request`; a `response_type`
//!   other than `code` → `unsupported_response_type`. No method with a challenge means `plain`.
//! - **token** (`grant_type=authorization_code`): the code lives 10 minutes (AADSTS70008 after),
//!   is single use (a second redemption: AADSTS54005), must come from the same client with the
//!   same `redirect_uri` (exact, port included; AADSTS50148, code unverified), and the
//!   `code_verifier` must match the challenge (AADSTS501481, `invalid_grant`). Public clients
//!   must not send a secret (AADSTS700025, checked before). Success as §1.6, a refresh token
//!   only with `offline_access`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::errors::Reply;
use super::state::State;

/// A code issued by `/authorize`.
#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    /// `(challenge, method)`.
    pub challenge: Option<(String, String)>,
    pub user: String,
    pub expires_at: Instant,
    pub redeemed: bool,
}

/// Registered redirect URIs of the public client (the port of a loopback URI is ignored).
const REGISTERED: &[&str] = &["http://localhost", "http://127.0.0.1"];

/// Whether `uri` matches a registered loopback redirect, port ignored (§1.3).
fn redirect_registered(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    let host = u.host_str().unwrap_or("");
    if u.scheme() != "http" || !(host == "localhost" || host == "127.0.0.1") {
        return false;
    }
    let base = format!("http://{host}{}", u.path().trim_end_matches('/'));
    REGISTERED.contains(&base.as_str())
}

fn page(status: u16, code: u32, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"error_page": format!("AADSTS{code}: {message}")}),
        headers: Vec::new(),
    }
}

fn redirect(uri: &str, pairs: &[(&str, &str)]) -> Reply {
    let mut u = url::Url::parse(uri).expect("checked redirect uri");
    {
        let mut q = u.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
    }
    Reply {
        status: 302,
        body: json!({}),
        headers: vec![("Location".to_string(), u.to_string())],
    }
}

impl State {
    /// `GET /{tenant}/oauth2/v2.0/authorize`.
    pub fn authorize(&mut self, query: &[(String, String)]) -> Reply {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let client_id = get("client_id").unwrap_or_default();
        if !self.oauth.clients.contains_key(&client_id) {
            return page(
                400,
                700016,
                &format!("Application with identifier '{client_id}' was not found."),
            );
        }
        let redirect_uri = get("redirect_uri").unwrap_or_default();
        if !redirect_registered(&redirect_uri) {
            return page(
                400,
                50011,
                "The redirect URI specified in the request does not match the redirect URIs configured for the application.",
            );
        }
        let state = get("state").unwrap_or_default();
        let fail = |error: &str, description: &str| {
            redirect(
                &redirect_uri,
                &[
                    ("error", error),
                    ("error_description", description),
                    ("state", &state),
                ],
            )
        };
        if get("response_type").as_deref() != Some("code") {
            return fail(
                "unsupported_response_type",
                "AADSTS700054: response_type 'code' is expected.",
            );
        }
        let Some(scope) = get("scope").filter(|s| !s.trim().is_empty()) else {
            return fail(
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'scope'.",
            );
        };
        let challenge = match (get("code_challenge"), get("code_challenge_method")) {
            (None, _) => None,
            (Some(c), None) => Some((c, "plain".to_string())),
            (Some(c), Some(m)) if m == "S256" || m == "plain" => Some((c, m)),
            (Some(_), Some(_)) => {
                return fail(
                    "invalid_request",
                    "AADSTS501491: Invalid code_challenge_method.",
                );
            }
        };
        if std::mem::take(&mut self.oauth.deny_next_authorization) {
            return fail(
                "access_denied",
                "AADSTS65004: User declined to consent to access the app.",
            );
        }
        self.counter += 1;
        let code = format!("0.AQsA-fake-graph-code-{}", self.counter);
        let user = self.owner.clone();
        self.oauth.auth_codes.insert(
            code.clone(),
            AuthCode {
                client_id,
                redirect_uri: redirect_uri.clone(),
                scopes: scope.split_whitespace().map(str::to_string).collect(),
                challenge,
                user,
                expires_at: Instant::now() + Duration::from_secs(600),
                redeemed: false,
            },
        );
        redirect(&redirect_uri, &[("code", &code), ("state", &state)])
    }

    /// `grant_type=authorization_code` (the client is already authenticated).
    pub fn authorization_code_grant(
        &mut self,
        client_id: &str,
        fields: &HashMap<String, String>,
    ) -> Reply {
        let code = fields.get("code").cloned().unwrap_or_default();
        let invalid = |st: &mut State, n: u32, m: &str| st.aad(400, "invalid_grant", Some(n), m);
        let Some(grant) = self.oauth.auth_codes.get(&code).cloned() else {
            return invalid(
                self,
                9002313,
                "Invalid request. Request is malformed or invalid.",
            );
        };
        if grant.redeemed {
            return invalid(
                self,
                54005,
                "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.",
            );
        }
        if Instant::now() > grant.expires_at {
            return invalid(
                self,
                70008,
                "The provided authorization code or refresh token has expired due to inactivity.",
            );
        }
        if grant.client_id != client_id {
            return invalid(
                self,
                70000,
                "The provided value for the 'code' parameter is not valid. The code was issued to a different client.",
            );
        }
        if fields.get("redirect_uri") != Some(&grant.redirect_uri) {
            return invalid(
                self,
                50148,
                "The redirect_uri doesn't match the one used in the authorization request.",
            );
        }
        if let Some((challenge, method)) = &grant.challenge {
            let verifier = fields.get("code_verifier").cloned().unwrap_or_default();
            let computed = if method == "S256" {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(Sha256::digest(verifier.as_bytes()))
            } else {
                verifier.clone()
            };
            if verifier.is_empty() || &computed != challenge {
                return invalid(
                    self,
                    501481,
                    "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
        }
        if let Some(g) = self.oauth.auth_codes.get_mut(&code) {
            g.redeemed = true;
        }
        self.delegated_success(&grant.user, client_id, &grant.scopes, None)
    }
}
