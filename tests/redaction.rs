//! Redaction by construction: every public type that holds a token, a secret
//! or key material prints none of it through `Debug` (plain and `{:#?}`) or
//! `Display`. The tracing side (the whole catalogue run, captured) is in
//! `parity.rs` and `cve.rs`.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use jwt_auth_core::{
    AuthErrorKind, Authenticator, Key, KeySet, KeySource, MemoryStore, RemoteJwks, TokenIssuer,
    TokenService,
};
use jwt_auth_tests::fixture;
use serde_json::json;

const SECRET: &str = "redaction-secret-0123456789abcdef-0123456789";

/// Fails if any `needle` (or a long piece of one) shows in `text`.
fn clean(what: &str, text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(!text.contains(needle), "{what} shows a secret: {text}");
        for piece in needle.split(['.', '\n', '-']).filter(|p| p.len() >= 16) {
            assert!(
                !text.contains(piece),
                "{what} shows part of a secret: {text}"
            );
        }
    }
}

fn debug_both(value: &impl std::fmt::Debug) -> String {
    format!("{value:?}\n{value:#?}")
}

#[actix_web::test]
async fn nothing_secret_is_printed() {
    let hmac = Key::hmac(SECRET).unwrap();
    let rsa_pem = String::from_utf8(fixture("rsa.pem")).unwrap();
    let ec_pem = String::from_utf8(fixture("p256.pem")).unwrap();
    let ed_pem = String::from_utf8(fixture("ed25519.pem")).unwrap();
    let rsa = Key::from_pem(&rsa_pem).unwrap();
    let ec = Key::from_pem(&ec_pem).unwrap();
    let ed = Key::from_pem(&ed_pem).unwrap();
    // The base64 body of each PEM, the part that is the secret.
    let bodies: Vec<String> = [&rsa_pem, &ec_pem, &ed_pem]
        .iter()
        .map(|pem| {
            pem.lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>()
        })
        .collect();
    let mut needles: Vec<&str> = vec![SECRET];
    needles.extend(bodies.iter().map(String::as_str));
    for line in [&rsa_pem, &ec_pem, &ed_pem]
        .iter()
        .flat_map(|pem| pem.lines())
        .filter(|l| !l.starts_with("-----"))
    {
        needles.push(line);
    }

    for (what, key) in [("hmac", &hmac), ("rsa", &rsa), ("ec", &ec), ("ed", &ed)] {
        clean(&format!("Key {what}"), &debug_both(key), &needles);
    }
    let set = KeySet::new([rsa.clone().with_kid("r"), ec.clone().with_kid("e")]).unwrap();
    clean(
        "KeySet of secrets",
        &debug_both(&KeySet::new([hmac.clone().with_kid("h")]).unwrap()),
        &needles,
    );
    clean("KeySet", &debug_both(&set), &needles);
    clean(
        "KeySource",
        &debug_both(&KeySource::from(set.clone())),
        &needles,
    );
    let auth = Authenticator::new(set).revocation_store(MemoryStore::new());
    clean("Authenticator", &debug_both(&auth), &needles);

    // Issued tokens, the issuer and the service.
    let issuer = TokenIssuer::new(hmac.clone())
        .unwrap()
        .issuer("https://a.test");
    clean("TokenIssuer", &debug_both(&issuer), &needles);
    let service = TokenService::new(issuer);
    clean("TokenService", &debug_both(&service), &needles);
    let pair = service
        .login("subject-alice-0123456789", json!({"roles": ["admin"]}))
        .await
        .unwrap();
    let tokens = [pair.access.as_str(), pair.refresh.as_str()];
    let mut with_tokens = needles.clone();
    with_tokens.extend(tokens);
    clean("TokenPair", &debug_both(&pair), &with_tokens);
    clean("IssuedToken", &debug_both(&pair.access), &with_tokens);
    // The verified token shows claim names, not values (not even `sub`).
    let verified = service.authenticator().verify(tokens[0]).unwrap();
    let text = debug_both(&verified);
    clean("VerifiedToken", &text, &with_tokens);
    assert!(!text.contains("subject-alice"), "sub shown: {text}");
    assert!(text.contains("\"sub\""), "claim names are shown: {text}");

    // Errors: every way a token is refused, through Debug and Display.
    let bad = [
        format!("{}x", tokens[0]),
        tokens[1].to_owned(),
        "not-a-token".to_owned(),
        tokens[0].replace('.', " "),
    ];
    for token in &bad {
        let error = service.authenticator().verify(token).unwrap_err();
        let text = format!("{}\n{error}", debug_both(&error));
        clean("AuthError", &text, &with_tokens);
        let response = service.authenticator().error_response(&error);
        clean("ErrorResponse", &debug_both(&response), &with_tokens);
    }
    // Key errors never echo the material they refuse.
    let short = Key::hmac("short-secret-value").unwrap_err();
    let text = format!("{}\n{short}", debug_both(&short));
    assert!(!text.contains("short-secret-value"), "{text}");
    let broken = rsa_pem.replace("MII", "XXX");
    let error = Key::from_pem(&broken).unwrap_err();
    let text = format!("{}\n{error}", debug_both(&error));
    clean("KeyError", &text, &needles);
    let jwk = json!({"keys": [{"kty": "oct", "k": "c2hvcnQtc2VjcmV0LXZhbHVl"}]});
    if let Err(error) = KeySet::from_jwks(&jwk.to_string()) {
        let text = format!("{}\n{error}", debug_both(&error));
        assert!(!text.contains("c2hvcnQtc2VjcmV0LXZhbHVl"), "{text}");
    }

    // A JWKS URL may carry a credential in its user information or query.
    let remote =
        RemoteJwks::builder("http://user:url-password-123@127.0.0.1:9/jwks?api_key=url-key-456")
            .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
            .build()
            .unwrap();
    let text = format!("{}\n{:?}", debug_both(&remote), remote.status());
    assert!(
        !text.contains("url-password-123") && !text.contains("url-key-456"),
        "{text}"
    );
    assert_eq!(
        AuthErrorKind::InvalidSignature.to_string(),
        "invalid_signature"
    );
}
