//! Microsoft identity platform v2.0 token and device-code endpoints (docs/microsoft-graph.md §1), and
//! the bearer check for Graph requests (§5.1).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use super::errors::{self, Reply};
use super::state::State;

pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Scopes that are not resource permissions (not echoed in `scope`, not part of subset checks).
const OIDC_SCOPES: &[&str] = &["offline_access", "openid", "profile", "email"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshStatus {
    Live,
    /// Revoked by an admin/user or a password change: AADSTS50173.
    Revoked,
    /// Inactive for 90 days: AADSTS700082 (sample 05).
    Inactive,
    /// Rotated away and its configured grace uses are spent: AADSTS70008.
    UsedUp,
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub user: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub status: RefreshStatus,
    /// After this token was redeemed once (and so rotated): how many more redemptions it allows.
    /// `None` = unlimited.
    pub uses_left: Option<u32>,
    pub issued_at: chrono::DateTime<chrono::Utc>,
    /// The sign-in session: rotated tokens inherit it; revocation covers the whole family.
    pub family: u64,
}

#[derive(Debug, Clone)]
pub struct AccessGrant {
    /// `None` for an app-only (client credentials) token.
    pub user: Option<String>,
    pub expires_at: Instant,
    pub expired: bool,
    /// The refresh-token family (sign-in session) it belongs to, for revocation.
    pub family: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    Pending,
    Approved,
    Declined,
    Expired,
    Redeemed,
}

#[derive(Debug, Clone)]
pub struct DeviceGrant {
    pub user_code: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub status: DeviceStatus,
    pub user: String,
    pub expires_at: Instant,
    /// How many of the next polls answer `slow_down`.
    pub slow_down: u32,
}

#[derive(Debug, Default)]
pub struct OAuthState {
    /// client_id → client_secret (None: a public client).
    pub clients: HashMap<String, Option<String>>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub access_tokens: HashMap<String, AccessGrant>,
    /// device_code → grant.
    pub device_codes: HashMap<String, DeviceGrant>,
    /// Authorization codes issued by `/authorize` (`authcode.rs`).
    pub auth_codes: HashMap<String, super::authcode::AuthCode>,
    /// The next `/authorize` answers `access_denied`.
    pub deny_next_authorization: bool,
}

/// Why a bearer check failed.
pub enum AuthFailure {
    Missing,
    Invalid,
    Expired,
}

fn split_scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

fn resource_scopes(scopes: &[String]) -> Vec<String> {
    scopes
        .iter()
        .filter(|s| !OIDC_SCOPES.contains(&s.to_ascii_lowercase().as_str()))
        .cloned()
        .collect()
}

fn has_scope(scopes: &[String], name: &str) -> bool {
    scopes.iter().any(|s| s.eq_ignore_ascii_case(name))
}

impl State {
    fn next_n(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    pub(super) fn aad(
        &mut self,
        status: u16,
        error: &str,
        code: Option<u32>,
        message: &str,
    ) -> Reply {
        let n = self.next_n();
        errors::aad_error(status, error, code, message, n)
    }

    fn issue_access(&mut self, user: Option<&str>, family: Option<u64>) -> (String, u64) {
        let n = self.next_n();
        let token = format!("eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ.fake-graph-at-{n}.sig");
        let lifetime = self.options.access_token_lifetime_secs;
        self.oauth.access_tokens.insert(
            token.clone(),
            AccessGrant {
                user: user.map(str::to_string),
                expires_at: Instant::now() + Duration::from_secs(lifetime),
                expired: false,
                family,
            },
        );
        (token, lifetime)
    }

    pub fn issue_refresh(
        &mut self,
        user: &str,
        client_id: &str,
        scopes: &[String],
        family: Option<u64>,
    ) -> String {
        let n = self.next_n();
        let family = family.unwrap_or(n);
        let token = format!("1.AQsA-fake-graph-rt-{n}");
        self.oauth.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                user: user.to_string(),
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                status: RefreshStatus::Live,
                uses_left: None,
                issued_at: chrono::Utc::now(),
                family,
            },
        );
        token
    }

    /// A delegated success body (§1.6): token_type, scope, expires_in, ext_expires_in,
    /// access_token, refresh_token (only with offline_access), id_token (only with openid).
    pub(super) fn delegated_success(
        &mut self,
        user: &str,
        client_id: &str,
        scopes: &[String],
        family: Option<u64>,
    ) -> Reply {
        let refresh = has_scope(scopes, "offline_access")
            .then(|| self.issue_refresh(user, client_id, scopes, family));
        let family = refresh
            .as_ref()
            .and_then(|r| self.oauth.refresh_tokens.get(r))
            .map(|g| g.family)
            .or(family);
        let (access, lifetime) = self.issue_access(Some(user), family);
        let mut body = json!({
            "token_type": "Bearer",
            "scope": resource_scopes(scopes).join(" "),
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        });
        if let Some(r) = refresh {
            body["refresh_token"] = json!(r);
        }
        if has_scope(scopes, "openid") {
            body["id_token"] = json!("eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.eyJmYWtlIjp0cnVlfQ.");
        }
        Reply::ok(body)
    }

    /// Client authentication (§1.3, §1.5): public clients must not send a secret (AADSTS700025);
    /// confidential ones must send the right one (AADSTS7000215, wording/status unverified).
    fn check_client(
        &mut self,
        fields: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Result<String, Reply> {
        let (client_id, secret) = match basic {
            Some((id, secret)) => (id, Some(secret)),
            None => (
                fields.get("client_id").cloned().unwrap_or_default(),
                fields.get("client_secret").cloned(),
            ),
        };
        if client_id.is_empty() {
            return Err(self.aad(
                400,
                "invalid_request",
                Some(900144),
                "The request body must contain the following parameter: 'client_id'.",
            ));
        }
        let Some(registered) = self.oauth.clients.get(&client_id).cloned() else {
            return Err(self.aad(
                400,
                "unauthorized_client",
                Some(700016),
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory 'fake'."
                ),
            ));
        };
        match (registered, secret) {
            (None, Some(_)) => Err(self.aad(
                400,
                "invalid_client",
                Some(700025),
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
            )),
            (Some(expected), Some(given)) if expected != given => Err(self.aad(
                401,
                "invalid_client",
                Some(7000215),
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            )),
            (Some(_), None) => Err(self.aad(
                401,
                "invalid_client",
                Some(7000218),
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            )),
            _ => Ok(client_id),
        }
    }

    /// `POST /{tenant}/oauth2/v2.0/token`.
    pub fn token_endpoint(
        &mut self,
        tenant: &str,
        fields: &HashMap<String, String>,
        basic: Option<(String, String)>,
    ) -> Reply {
        let grant = fields.get("grant_type").cloned().unwrap_or_default();
        let client_id = match self.check_client(fields, basic) {
            Ok(c) => c,
            Err(r) => return r,
        };
        match grant.as_str() {
            "refresh_token" => self.refresh_grant(&client_id, fields),
            "authorization_code" => self.authorization_code_grant(&client_id, fields),
            "client_credentials" => self.client_credentials(tenant, &client_id, fields),
            DEVICE_CODE_GRANT => self.device_code_grant(&client_id, fields),
            "" => self.aad(
                400,
                "invalid_request",
                Some(900144),
                "The request body must contain the following parameter: 'grant_type'.",
            ),
            other => self.aad(
                400,
                "unsupported_grant_type",
                Some(70003),
                &format!("The app requested an unsupported grant type '{other}'."),
            ),
        }
    }

    /// §1.4: rotation. Every success returns a new refresh token. The old one is "not revoked
    /// when used" [E-AC], so by default it stays valid; `Options::rotated_refresh_token_uses`
    /// bounds how often it may still be redeemed.
    fn refresh_grant(&mut self, client_id: &str, fields: &HashMap<String, String>) -> Reply {
        let token = fields.get("refresh_token").cloned().unwrap_or_default();
        let Some(g) = self.oauth.refresh_tokens.get(&token).cloned() else {
            return self.aad(
                400,
                "invalid_grant",
                Some(9002313),
                "Invalid request. Request is malformed or invalid.",
            );
        };
        match g.status {
            RefreshStatus::Live => {}
            RefreshStatus::Inactive => {
                let issued = g.issued_at.format("%Y-%m-%dT%H:%M:%S%.6f0Z");
                return self.aad(
                    400,
                    "invalid_grant",
                    Some(700082),
                    &format!(
                        "The refresh token has expired due to inactivity. The token was issued on {issued} and was inactive for 90.00:00:00."
                    ),
                );
            }
            RefreshStatus::Revoked => {
                return self.aad(
                    400,
                    "invalid_grant",
                    Some(50173),
                    "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.",
                );
            }
            RefreshStatus::UsedUp => {
                return self.aad(
                    400,
                    "invalid_grant",
                    Some(70008),
                    "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
                );
            }
        }
        if g.client_id != client_id {
            return self.aad(
                400,
                "invalid_grant",
                Some(70000),
                "Provided grant is invalid or malformed.",
            );
        }
        let scopes = match fields.get("scope") {
            None => g.scopes.clone(),
            Some(s) => {
                let asked = split_scopes(s);
                let missing = resource_scopes(&asked)
                    .into_iter()
                    .find(|s| !has_scope(&g.scopes, s));
                if let Some(m) = missing {
                    return self.aad(
                        400,
                        "invalid_grant",
                        Some(65001),
                        &format!(
                            "The user or administrator has not consented to use the application with ID '{client_id}'. Scope '{m}' was not granted."
                        ),
                    );
                }
                // offline_access stays with the grant even if the refresh omits it.
                let mut s = asked;
                if !has_scope(&s, "offline_access") {
                    s.push("offline_access".to_string());
                }
                s
            }
        };
        // Rotation bookkeeping for the presented token.
        let grace = self.options.rotated_refresh_token_uses;
        if let Some(entry) = self.oauth.refresh_tokens.get_mut(&token) {
            entry.uses_left = match entry.uses_left {
                None => grace.map(|n| n.saturating_sub(1)),
                Some(n) => Some(n.saturating_sub(1)),
            };
            if entry.uses_left == Some(0) {
                entry.status = RefreshStatus::UsedUp;
            }
        }
        let user = g.user.clone();
        self.delegated_success(&user, client_id, &scopes, Some(g.family))
    }

    /// §1.5: a real tenant (not `common`/`consumers`, AADSTS9001023 wording approximate), a
    /// confidential client, and a `/.default` scope (AADSTS1002012, unverified). No refresh token.
    fn client_credentials(
        &mut self,
        tenant: &str,
        client_id: &str,
        fields: &HashMap<String, String>,
    ) -> Reply {
        if matches!(tenant.to_ascii_lowercase().as_str(), "common" | "consumers") {
            return self.aad(
                400,
                "invalid_request",
                Some(9001023),
                "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.",
            );
        }
        if self
            .oauth
            .clients
            .get(client_id)
            .is_some_and(Option::is_none)
        {
            return self.aad(
                400,
                "invalid_client",
                Some(7000218),
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            );
        }
        let scope = fields.get("scope").cloned().unwrap_or_default();
        let scopes = split_scopes(&scope);
        if scopes.is_empty() || !scopes.iter().all(|s| s.ends_with("/.default")) {
            return self.aad(
                400,
                "invalid_scope",
                Some(1002012),
                &format!(
                    "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        }
        let (access, lifetime) = self.issue_access(None, None);
        // Sample 02 shape; ext_expires_in is common in practice (unverified, §1.5).
        Reply::ok(json!({
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": access,
        }))
    }

    /// `POST /{tenant}/oauth2/v2.0/devicecode` (§1.2, sample 03). No `verification_uri_complete`.
    pub fn device_code_request(&mut self, fields: &HashMap<String, String>) -> Reply {
        let client_id = fields.get("client_id").cloned().unwrap_or_default();
        if !self.oauth.clients.contains_key(&client_id) {
            return self.aad(
                400,
                "unauthorized_client",
                Some(700016),
                &format!(
                    "Application with identifier '{client_id}' was not found in the directory 'fake'."
                ),
            );
        }
        let scopes = split_scopes(fields.get("scope").map(String::as_str).unwrap_or(""));
        if scopes.is_empty() {
            return self.aad(
                400,
                "invalid_request",
                Some(900144),
                "The request body must contain the following parameter: 'scope'.",
            );
        }
        let n = self.next_n();
        let user_code = format!("F{:08X}", n.wrapping_mul(2_654_435_761) & 0xffff_ffff)
            .chars()
            .take(9)
            .collect::<String>();
        let device_code = format!("DAQABAAEAAAD-fake-device-code-{n}");
        let lifetime = self.options.device_code_lifetime_secs;
        let user = self.owner.clone();
        self.oauth.device_codes.insert(
            device_code.clone(),
            DeviceGrant {
                user_code: user_code.clone(),
                client_id,
                scopes,
                status: DeviceStatus::Pending,
                user,
                expires_at: Instant::now() + Duration::from_secs(lifetime),
                slow_down: 0,
            },
        );
        Reply::ok(json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": "https://microsoft.com/devicelogin",
            "expires_in": lifetime,
            "interval": self.options.device_poll_interval_secs,
            "message": format!(
                "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."
            ),
        }))
    }

    /// Device-code polling (§1.2 table).
    fn device_code_grant(&mut self, client_id: &str, fields: &HashMap<String, String>) -> Reply {
        let code = fields.get("device_code").cloned().unwrap_or_default();
        let Some(g) = self.oauth.device_codes.get_mut(&code) else {
            return self.aad(
                400,
                "bad_verification_code",
                Some(70018),
                "The provided value for the input parameter 'device_code' is not valid.",
            );
        };
        if g.status == DeviceStatus::Pending && Instant::now() >= g.expires_at {
            g.status = DeviceStatus::Expired;
        }
        let slow = g.status == DeviceStatus::Pending && g.slow_down > 0;
        if slow {
            g.slow_down -= 1;
        }
        let g = g.clone();
        if g.client_id != client_id {
            return self.aad(
                400,
                "invalid_grant",
                Some(70000),
                "Provided grant is invalid or malformed.",
            );
        }
        if slow {
            // RFC 8628 error; not in Microsoft's table (UNVERIFIED, FAKE-CHOICE): no AADSTS code.
            return self.aad(400, "slow_down", None, "Polling too fast; add 5 seconds.");
        }
        match g.status {
            DeviceStatus::Pending => self.aad(
                400,
                "authorization_pending",
                Some(70016),
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            ),
            DeviceStatus::Declined => self.aad(
                400,
                "authorization_declined",
                Some(70000),
                "The user declined the authorization request.",
            ),
            DeviceStatus::Expired => self.aad(
                400,
                "expired_token",
                Some(70020),
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ),
            DeviceStatus::Redeemed => self.aad(
                400,
                "invalid_grant",
                Some(90120),
                "InvalidDeviceFlowRequest: the request was already authorized or declined.",
            ),
            DeviceStatus::Approved => {
                if let Some(e) = self.oauth.device_codes.get_mut(&code) {
                    e.status = DeviceStatus::Redeemed;
                }
                self.delegated_success(&g.user, client_id, &g.scopes, None)
            }
        }
    }

    /// Sets the status of the device grant whose `user_code` is given; returns false if unknown.
    pub fn set_device_status(&mut self, user_code: &str, status: DeviceStatus) -> bool {
        let mut found = false;
        for g in self.oauth.device_codes.values_mut() {
            if g.user_code == user_code {
                g.status = status;
                found = true;
            }
        }
        found
    }

    pub fn device_slow_down(&mut self, user_code: &str, n: u32) {
        for g in self.oauth.device_codes.values_mut() {
            if g.user_code == user_code {
                g.slow_down = n;
            }
        }
    }

    /// Checks `Authorization: Bearer <token>`; returns the token's user (`None`: app-only).
    pub fn authenticate(&mut self, header: Option<&str>) -> Result<Option<String>, AuthFailure> {
        let Some(h) = header else {
            return Err(AuthFailure::Missing);
        };
        let token = match h.split_once(' ') {
            Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") => t.trim(),
            _ => return Err(AuthFailure::Invalid),
        };
        let Some(g) = self.oauth.access_tokens.get(token) else {
            return Err(AuthFailure::Invalid);
        };
        if g.expired || Instant::now() >= g.expires_at {
            return Err(AuthFailure::Expired);
        }
        Ok(g.user.clone())
    }

    pub fn expire_presented_token(&mut self, header: Option<&str>) {
        if let Some(t) = header
            .and_then(|h| h.split_once(' '))
            .map(|(_, t)| t.trim())
            && let Some(g) = self.oauth.access_tokens.get_mut(t)
        {
            g.expired = true;
        }
    }

    pub fn expire_access_tokens(&mut self) {
        for g in self.oauth.access_tokens.values_mut() {
            g.expired = true;
        }
    }

    /// Revocation covers the token's whole family (the sign-in session): every refresh token
    /// rotated from it and the access tokens minted along the way.
    pub fn set_refresh_status(&mut self, token: &str, status: RefreshStatus) {
        let Some(family) = self.oauth.refresh_tokens.get(token).map(|g| g.family) else {
            return;
        };
        if status == RefreshStatus::Revoked {
            for g in self.oauth.refresh_tokens.values_mut() {
                if g.family == family {
                    g.status = status;
                }
            }
            for a in self.oauth.access_tokens.values_mut() {
                if a.family == Some(family) {
                    a.expired = true;
                }
            }
        } else if let Some(g) = self.oauth.refresh_tokens.get_mut(token) {
            g.status = status;
        }
    }
}
