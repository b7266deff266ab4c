//! OAuth 2.0 token endpoint (docs/google-api.md §1.1, §1.2, §1.4), the authorize redirect, revoke, and
//! bearer-token checks for Calendar requests.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::errors::{self, Reply};
use super::state::State;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub account: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub account: String,
    pub scopes: Vec<String>,
    pub expires_at: Instant,
    pub revoked: bool,
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuthCode {
    pub client_id: String,
    pub redirect_uri: String,
    pub challenge: Option<String>,
    pub method: String,
    pub account: String,
    pub scopes: Vec<String>,
    pub used: bool,
}

#[derive(Debug, Default)]
pub struct OAuthState {
    /// client_id → client_secret (None: a public client).
    pub clients: HashMap<String, Option<String>>,
    pub refresh_tokens: HashMap<String, RefreshGrant>,
    pub access_tokens: HashMap<String, AccessGrant>,
    pub auth_codes: HashMap<String, AuthCode>,
    /// Service-account emails whose JWTs are accepted; empty means any `iss`.
    pub service_accounts: Vec<String>,
    /// Account used when the authorize endpoint auto-consents.
    pub consenting_account: Option<String>,
}

/// Which bearer check failed, for the caller to turn into 401 or 403.
pub enum AuthFailure {
    Unauthenticated,
    InsufficientScope,
}

fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .ok()
}

/// PKCE S256: BASE64URL(SHA256(verifier)) without padding (RFC 7636 §4.2).
pub fn s256_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl State {
    fn issue_access_token(
        &mut self,
        account: &str,
        scopes: &[String],
        refresh_token: Option<&str>,
    ) -> (String, u64) {
        let lifetime = self.options.access_token_lifetime_secs;
        self.token_counter += 1;
        let token = format!(
            "ya29.fake-{}-{:x}",
            self.token_counter,
            self.token_counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        );
        self.oauth.access_tokens.insert(
            token.clone(),
            AccessGrant {
                account: account.to_string(),
                scopes: scopes.to_vec(),
                expires_at: Instant::now() + Duration::from_secs(lifetime),
                revoked: false,
                refresh_token: refresh_token.map(str::to_string),
            },
        );
        (token, lifetime)
    }

    pub fn new_refresh_token(
        &mut self,
        account: &str,
        client_id: &str,
        scopes: &[String],
    ) -> String {
        self.token_counter += 1;
        let token = format!("1//fake-refresh-{}", self.token_counter);
        self.oauth.refresh_tokens.insert(
            token.clone(),
            RefreshGrant {
                account: account.to_string(),
                client_id: client_id.to_string(),
                scopes: scopes.to_vec(),
                revoked: false,
            },
        );
        token
    }

    /// Checks `Authorization: Bearer <token>` and the scope the method needs (§1.5). Returns the
    /// account. Expired, revoked or unknown tokens → Unauthenticated.
    pub fn authenticate(
        &self,
        authorization: Option<&str>,
        accepted_scopes: &[&str],
    ) -> Result<String, AuthFailure> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(AuthFailure::Unauthenticated)?;
        let grant = self
            .oauth
            .access_tokens
            .get(token)
            .filter(|g| !g.revoked && g.expires_at > Instant::now())
            .ok_or(AuthFailure::Unauthenticated)?;
        if self.options.enforce_scopes
            && !grant.scopes.iter().any(|s| {
                let short = s.strip_prefix(super::SCOPE_PREFIX).unwrap_or(s);
                accepted_scopes.contains(&short)
            })
        {
            return Err(AuthFailure::InsufficientScope);
        }
        Ok(grant.account.clone())
    }

    /// Marks the access token presented in `authorization` as expired (the 401 fault).
    pub fn expire_presented_token(&mut self, authorization: Option<&str>) {
        if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer "))
            && let Some(g) = self.oauth.access_tokens.get_mut(token.trim())
        {
            g.expires_at = Instant::now();
        }
    }

    fn check_client(&self, form: &HashMap<String, String>) -> Result<String, Reply> {
        let client_id = form.get("client_id").cloned().unwrap_or_default();
        let Some(secret) = self.oauth.clients.get(&client_id) else {
            return Err(errors::oauth_error(
                401,
                "invalid_client",
                "The OAuth client was not found.",
            ));
        };
        if let (Some(expected), Some(given)) = (secret, form.get("client_secret"))
            && expected != given
        {
            return Err(errors::oauth_error(401, "invalid_client", "Unauthorized"));
        }
        Ok(client_id)
    }

    /// `POST /token` with a form body. Client credentials may come in the form or as HTTP Basic
    /// (`client_secret_basic`, RFC 6749 §2.3.1: each part form-urlencoded, then base64).
    pub fn token_endpoint(
        &mut self,
        form: &HashMap<String, String>,
        authorization: Option<&str>,
    ) -> Reply {
        let mut form = form.clone();
        if let Some(basic) = authorization.and_then(|h| h.strip_prefix("Basic ")) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(basic.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return errors::oauth_error(401, "invalid_client", "Unauthorized");
            };
            let dec = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            form.entry("client_id".into()).or_insert_with(|| dec(id));
            form.entry("client_secret".into())
                .or_insert_with(|| dec(secret));
        }
        let form = &form;
        let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
        match grant_type {
            "refresh_token" => self.grant_refresh(form),
            "authorization_code" => self.grant_code(form),
            JWT_BEARER => self.grant_jwt(form),
            "urn:ietf:params:oauth:grant-type:device_code" => {
                errors::oauth_error(400, "invalid_grant", "Bad Request")
            }
            other => errors::oauth_error(
                400,
                "unsupported_grant_type",
                &format!("Invalid grant_type: {other}"),
            ),
        }
    }

    fn grant_refresh(&mut self, form: &HashMap<String, String>) -> Reply {
        let client_id = match self.check_client(form) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let Some(rt) = form.get("refresh_token").filter(|s| !s.is_empty()) else {
            return errors::oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: refresh_token",
            );
        };
        let grant = self
            .oauth
            .refresh_tokens
            .get(rt)
            .filter(|g| !g.revoked && g.client_id == client_id)
            .cloned();
        let Some(grant) = grant else {
            let description = self.options.invalid_grant_description.clone();
            return errors::oauth_error(400, "invalid_grant", &description);
        };
        let (access, expires_in) = self.issue_access_token(&grant.account, &grant.scopes, Some(rt));
        // §1.2: no new refresh_token on refresh.
        Reply::ok(json!({
            "access_token": access,
            "expires_in": expires_in,
            "scope": grant.scopes.join(" "),
            "token_type": "Bearer",
        }))
    }

    fn grant_code(&mut self, form: &HashMap<String, String>) -> Reply {
        let client_id = match self.check_client(form) {
            Ok(c) => c,
            Err(r) => return r,
        };
        let code = form.get("code").cloned().unwrap_or_default();
        let Some(entry) = self.oauth.auth_codes.get(&code).cloned() else {
            return errors::oauth_error(400, "invalid_grant", "Malformed auth code.");
        };
        if entry.used || entry.client_id != client_id {
            return errors::oauth_error(400, "invalid_grant", "Bad Request");
        }
        if form.get("redirect_uri") != Some(&entry.redirect_uri) {
            return errors::oauth_error(400, "redirect_uri_mismatch", "Bad Request");
        }
        if let Some(challenge) = &entry.challenge {
            let Some(verifier) = form.get("code_verifier") else {
                return errors::oauth_error(400, "invalid_grant", "Missing code verifier.");
            };
            let computed = if entry.method == "S256" {
                s256_challenge(verifier)
            } else {
                verifier.clone()
            };
            if &computed != challenge {
                return errors::oauth_error(400, "invalid_grant", "Invalid code verifier.");
            }
        }
        if let Some(e) = self.oauth.auth_codes.get_mut(&code) {
            e.used = true;
        }
        let refresh = self.new_refresh_token(&entry.account, &client_id, &entry.scopes);
        let (access, expires_in) =
            self.issue_access_token(&entry.account, &entry.scopes, Some(&refresh));
        // §1.1: refresh_token is always returned for installed apps.
        Reply::ok(json!({
            "access_token": access,
            "expires_in": expires_in,
            "refresh_token": refresh,
            "scope": entry.scopes.join(" "),
            "token_type": "Bearer",
        }))
    }

    /// §1.4: any well-formed three-part JWT with iss/scope/aud/exp/iat, exp − iat ≤ 3600, `aud`
    /// the token URL. The signature is not verified (simplification).
    fn grant_jwt(&mut self, form: &HashMap<String, String>) -> Reply {
        let bad = |d: &str| errors::oauth_error(400, "invalid_grant", d);
        let Some(assertion) = form.get("assertion") else {
            return errors::oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: assertion",
            );
        };
        let parts: Vec<&str> = assertion.split('.').collect();
        if parts.len() != 3 || parts.iter().any(|p| p.is_empty()) {
            return bad("Invalid JWT Signature.");
        }
        let header: Option<Value> =
            b64url_decode(parts[0]).and_then(|b| serde_json::from_slice(&b).ok());
        let claims: Option<Value> =
            b64url_decode(parts[1]).and_then(|b| serde_json::from_slice(&b).ok());
        let (Some(header), Some(claims)) = (header, claims) else {
            return errors::oauth_error(400, "invalid_grant", "Invalid JWT: Could not parse.");
        };
        if header["alg"] != "RS256" || b64url_decode(parts[2]).is_none() {
            return bad("Invalid JWT Signature.");
        }
        let (Some(iss), Some(scope), Some(aud), Some(exp), Some(iat)) = (
            claims["iss"].as_str(),
            claims["scope"].as_str(),
            claims["aud"].as_str(),
            claims["exp"].as_i64(),
            claims["iat"].as_i64(),
        ) else {
            return errors::oauth_error(
                400,
                "invalid_request",
                "Invalid JWT: missing one of the iss, scope, aud, exp, iat claims.",
            );
        };
        if !(aud == "https://oauth2.googleapis.com/token" || aud.ends_with("/token")) {
            return bad("Invalid JWT: Failed audience check.");
        }
        let now = chrono::Utc::now().timestamp();
        if exp - iat > 3600 || exp <= iat || exp < now - 60 || iat > now + 300 {
            return bad(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            );
        }
        if !self.oauth.service_accounts.is_empty()
            && !self.oauth.service_accounts.iter().any(|s| s == iss)
        {
            return errors::oauth_error(401, "invalid_client", "The OAuth client was not found.");
        }
        // With `sub`, the token acts for that user (domain-wide delegation); without, for the
        // service account itself (which has no calendars here unless a test adds them).
        let subject = claims["sub"].as_str().unwrap_or(iss).to_string();
        if claims.get("sub").is_some() && !self.accounts.contains_key(&subject) {
            return bad("Invalid email or User ID");
        }
        let scopes: Vec<String> = scope.split_whitespace().map(str::to_string).collect();
        let (access, expires_in) = self.issue_access_token(&subject, &scopes, None);
        Reply::ok(json!({
            "access_token": access,
            "expires_in": expires_in,
            "token_type": "Bearer",
        }))
    }

    /// `GET /o/oauth2/v2/auth`: the consent page, auto-approved for the consenting account.
    /// Registers a code and answers 302 to `redirect_uri?code=..&state=..&scope=..`.
    pub fn authorize(&mut self, query: &[(String, String)]) -> Result<String, Reply> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let client_id = get("client_id").unwrap_or_default();
        if !self.oauth.clients.contains_key(&client_id) {
            return Err(errors::oauth_error(
                401,
                "invalid_client",
                "The OAuth client was not found.",
            ));
        }
        if get("response_type").as_deref() != Some("code") {
            return Err(errors::oauth_error(
                400,
                "invalid_request",
                "Invalid response_type.",
            ));
        }
        let Some(redirect_uri) = get("redirect_uri") else {
            return Err(errors::oauth_error(
                400,
                "invalid_request",
                "Missing redirect_uri.",
            ));
        };
        if !(redirect_uri.starts_with("http://127.0.0.1:")
            || redirect_uri.starts_with("http://[::1]:")
            || redirect_uri.starts_with("http://localhost"))
        {
            return Err(errors::oauth_error(
                400,
                "redirect_uri_mismatch",
                "Bad Request",
            ));
        }
        let scopes: Vec<String> = get("scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if scopes.is_empty() {
            return Err(errors::oauth_error(
                400,
                "invalid_request",
                "Missing required parameter: scope",
            ));
        }
        let challenge = get("code_challenge");
        let method = get("code_challenge_method").unwrap_or_else(|| "plain".to_string());
        let account = self
            .oauth
            .consenting_account
            .clone()
            .or_else(|| self.accounts.keys().next().cloned())
            .unwrap_or_default();
        let code = format!("4/fake-code-{}", {
            self.token_counter += 1;
            self.token_counter
        });
        self.oauth.auth_codes.insert(
            code.clone(),
            AuthCode {
                client_id,
                redirect_uri: redirect_uri.clone(),
                challenge,
                method,
                account,
                scopes: scopes.clone(),
                used: false,
            },
        );
        let mut location = format!(
            "{redirect_uri}{}",
            if redirect_uri.contains('?') { '&' } else { '?' }
        );
        let mut ser = form_urlencoded::Serializer::new(String::new());
        if let Some(state) = get("state") {
            ser.append_pair("state", &state);
        }
        ser.append_pair("code", &code);
        ser.append_pair("scope", &scopes.join(" "));
        location.push_str(&ser.finish());
        Ok(location)
    }

    /// `POST /revoke?token=..` (§1.2): revoking either token revokes the refresh token and its
    /// access tokens.
    pub fn revoke(&mut self, token: &str) -> Reply {
        let refresh = if self.oauth.refresh_tokens.contains_key(token) {
            Some(token.to_string())
        } else if let Some(g) = self.oauth.access_tokens.get_mut(token) {
            g.revoked = true;
            g.refresh_token.clone()
        } else {
            return errors::oauth_error(400, "invalid_token", "Bad Request");
        };
        if let Some(rt) = refresh {
            self.revoke_refresh_token(&rt);
        }
        Reply::ok(json!({}))
    }

    pub fn revoke_refresh_token(&mut self, refresh_token: &str) {
        if let Some(g) = self.oauth.refresh_tokens.get_mut(refresh_token) {
            g.revoked = true;
        }
        for g in self.oauth.access_tokens.values_mut() {
            if g.refresh_token.as_deref() == Some(refresh_token) {
                g.revoked = true;
            }
        }
    }

    pub fn expire_access_tokens(&mut self, account: Option<&str>) {
        let now = Instant::now();
        for g in self.oauth.access_tokens.values_mut() {
            if account.is_none_or(|a| a == g.account) {
                g.expires_at = now;
            }
        }
    }
}
