use super::*;
use crate::providers::google::testserver::{self, json};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn account(token_url: &str) -> GoogleAccount {
    GoogleAccount {
        directory: false,
        calendars: vec!["primary".into()],
        auth: GoogleAuth::OAuth {
            client_id: "cid".into(),
            client_secret: None,
        },
        api_base: "http://127.0.0.1:1".into(),
        token_url: token_url.into(),
        auth_url: GoogleAccount::DEFAULT_AUTH_URL.into(),
    }
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn fixed_clock(t: Arc<Mutex<DateTime<Utc>>>) -> Clock {
    Arc::new(move || *t.lock().unwrap())
}

#[test]
fn token_file_is_0600_and_replaced_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let path = token_path(tmp.path(), "work");
    let t1 = Tokens {
        refresh_token: Some("r1".into()),
        ..Tokens::default()
    };
    save_tokens(&path, &t1).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let inode = |p: &Path| std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(p).unwrap());
    let before = inode(&path);
    let t2 = Tokens {
        refresh_token: Some("r2".into()),
        access_token: Some("a2".into()),
        expires_at: Some(at("2026-01-01T00:00:00Z")),
        scope: None,
    };
    save_tokens(&path, &t2).unwrap();
    assert_ne!(
        inode(&path),
        before,
        "replaced by rename, not rewritten in place"
    );
    assert_eq!(mode(&path), 0o600);
    assert_eq!(load_tokens(&path).unwrap(), Some(t2));
    // No temp file left behind.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    assert_eq!(load_tokens(&tmp.path().join("none.json")).unwrap(), None);
}

#[test]
fn debug_never_shows_tokens() {
    let t = Tokens {
        refresh_token: Some("1//secret-refresh".into()),
        access_token: Some("ya29.secret-access".into()),
        ..Tokens::default()
    };
    let shown = format!("{t:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn refresh_margin() {
    let t = Tokens {
        access_token: Some("a".into()),
        expires_at: Some(at("2026-01-01T10:00:00Z")),
        ..Tokens::default()
    };
    assert_eq!(t.valid_access_token(at("2026-01-01T09:58:59Z")), Some("a"));
    assert_eq!(t.valid_access_token(at("2026-01-01T09:59:00Z")), None);
    assert_eq!(t.valid_access_token(at("2026-01-01T11:00:00Z")), None);
    assert_eq!(
        Tokens::default().valid_access_token(at("2026-01-01T00:00:00Z")),
        None
    );
}

#[tokio::test]
async fn refreshes_shortly_before_expiry_with_an_injected_clock() {
    let server = testserver::serve(vec![
        json(
            200,
            r#"{"access_token":"A1","expires_in":3600,"token_type":"Bearer"}"#,
        ),
        json(
            200,
            r#"{"access_token":"A2","expires_in":3600,"token_type":"Bearer"}"#,
        ),
    ])
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let path = token_path(tmp.path(), "work");
    save_tokens(
        &path,
        &Tokens {
            refresh_token: Some("R".into()),
            ..Tokens::default()
        },
    )
    .unwrap();
    let now = Arc::new(Mutex::new(at("2026-01-01T09:00:00Z")));
    let auth = Authenticator::new(
        "work",
        &account(&format!("{}/token", server.base)),
        tmp.path(),
        reqwest::Client::new(),
        fixed_clock(Arc::clone(&now)),
    );
    assert_eq!(auth.access_token().await.unwrap(), "A1");
    // Still valid 58 minutes later: no request.
    *now.lock().unwrap() = at("2026-01-01T09:58:00Z");
    assert_eq!(auth.access_token().await.unwrap(), "A1");
    assert_eq!(server.seen.lock().unwrap().len(), 1);
    // Within the last minute: refreshed.
    *now.lock().unwrap() = at("2026-01-01T09:59:30Z");
    assert_eq!(auth.access_token().await.unwrap(), "A2");
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].request_line.starts_with("POST /token "));
    assert!(seen[0].body.contains("grant_type=refresh_token"));
    assert!(seen[0].body.contains("refresh_token=R"));
    assert!(seen[0].body.contains("client_id=cid"));
    assert!(!seen[0].body.contains("client_secret"));
    // The refresh token was kept (the answer had none) and the access token cached on disk.
    let stored = load_tokens(&path).unwrap().unwrap();
    assert_eq!(stored.refresh_token.as_deref(), Some("R"));
    assert_eq!(stored.access_token.as_deref(), Some("A2"));
}

#[tokio::test]
async fn invalid_grant_needs_auth() {
    let server = testserver::serve(vec![json(
        400,
        include_str!("../testdata/token-error-invalid-grant.json"),
    )])
    .await;
    let tmp = tempfile::tempdir().unwrap();
    save_tokens(
        &token_path(tmp.path(), "work"),
        &Tokens {
            refresh_token: Some("dead".into()),
            ..Tokens::default()
        },
    )
    .unwrap();
    let auth = Authenticator::new(
        "work",
        &account(&format!("{}/token", server.base)),
        tmp.path(),
        reqwest::Client::new(),
        system_clock(),
    );
    let e = auth.access_token().await.unwrap_err();
    assert!(matches!(e, AuthError::NeedsAuth { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "account work: the refresh token was revoked or expired; run `cadenced auth work`"
    );
}

#[tokio::test]
async fn no_token_file_means_not_authorized() {
    let tmp = tempfile::tempdir().unwrap();
    let auth = Authenticator::new(
        "work",
        &account("http://127.0.0.1:1/token"),
        tmp.path(),
        reqwest::Client::new(),
        system_clock(),
    );
    assert!(matches!(
        auth.access_token().await.unwrap_err(),
        AuthError::NotAuthorized { .. }
    ));
}

#[test]
fn pkce_s256_matches_rfc7636_example() {
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
    let a = random_token(32).unwrap();
    assert_eq!(a.len(), 43);
    assert_ne!(a, random_token(32).unwrap());
}

#[tokio::test]
async fn loopback_flow_checks_state_and_exchanges_the_code() {
    let server = testserver::serve(vec![json(
        200,
        include_str!("../testdata/token-response-authorization-code.json"),
    )])
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let google = account(&format!("{}/token", server.base));
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let mut tx = Some(tx);
    let state_dir = tmp.path().to_path_buf();
    let flow = tokio::spawn(async move {
        loopback_flow(
            "work",
            &google,
            &state_dir,
            reqwest::Client::new(),
            FlowOptions {
                timeout: Duration::from_secs(10),
                open_browser: false,
                scope: SCOPE.to_string(),
                relay: None,
            },
            &mut |url| {
                if let Some(tx) = tx.take() {
                    let _ = tx.send(url.to_string());
                }
            },
        )
        .await
    });
    let url = reqwest::Url::parse(&rx.await.unwrap()).unwrap();
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], SCOPE);
    assert_eq!(q["response_type"], "code");
    let redirect = q["redirect_uri"].clone();
    assert!(redirect.starts_with("http://127.0.0.1:"));
    let client = reqwest::Client::new();
    // A forged state is refused and the flow keeps waiting.
    let r = client
        .get(format!("{redirect}/?state=forged&code=evil"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = client
        .get(format!("{redirect}/?state={}&code=the-code", q["state"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    flow.await.unwrap().unwrap();
    let seen = server.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let body = &seen[0].body;
    assert!(body.contains("grant_type=authorization_code"));
    assert!(body.contains("code=the-code"));
    assert!(body.contains("code_verifier="));
    let stored = load_tokens(&token_path(tmp.path(), "work"))
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.refresh_token.as_deref(),
        Some("1//xEoDL4iW3cxlI7yDbSRFYNG01kVKM2C-259HOF2aQbI")
    );
}

#[test]
fn service_account_jwt_is_signed_rs256() {
    use aws_lc_rs::signature::{self, KeyPair, RsaKeyPair};
    // A throwaway key generated for this test.
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der.as_ref())
    );
    let key = ServiceKey {
        client_email: "sa@proj.iam.gserviceaccount.com".into(),
        private_key: pem,
        private_key_id: Some("kid1".into()),
        token_uri: None,
    };
    let jwt = service_account_jwt(
        "work",
        Path::new("sa.json"),
        &key,
        "mika@example.com",
        DEFAULT_TOKEN_URL,
        at("2026-01-01T00:00:00Z"),
        SCOPE,
    )
    .unwrap();
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["iss"], "sa@proj.iam.gserviceaccount.com");
    assert_eq!(claims["sub"], "mika@example.com");
    assert_eq!(claims["aud"], DEFAULT_TOKEN_URL);
    assert_eq!(claims["scope"], SCOPE);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let signer = RsaKeyPair::from_pkcs8(der.as_ref()).unwrap();
    let public = signature::UnparsedPublicKey::new(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        signer.public_key().as_ref(),
    );
    public
        .verify(
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &URL_SAFE_NO_PAD.decode(parts[2]).unwrap(),
        )
        .unwrap();
}
