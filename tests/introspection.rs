//! Opaque tokens checked by RFC 7662 introspection, through both adapters,
//! against an introspection endpoint the test controls on 127.0.0.1 (the
//! `idp` suite of `scripts/test` runs the demos against oidc-provider's).
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_auth_core::{
    AuthErrorKind, Authenticator, Introspection, IssuerRules, Key, MemoryStore, RevocationStore,
};
use jwt_auth_tests::idp_server::{IdpServer, Introspect};
use jwt_auth_tests::{Reply, TestRequest, via_actix, via_axum};
use serde_json::{Value, json};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

const OPAQUE: &str = "h3Kq9VfZr2Yc8-opaque_access_token~v1";
/// `client_secret_basic` of ("orders api", "s3cr:t"), both form-encoded
/// first (RFC 6749 §2.3.1): base64 of `orders+api:s3cr%3At`.
const BASIC: &str = "Basic b3JkZXJzK2FwaTpzM2NyJTNBdA==";

fn active(extra: Value) -> Value {
    let mut answer = json!({
        "active": true, "sub": "alice", "client_id": "web", "scope": "read",
        "iss": "https://op.example", "exp": now() + 600, "jti": "j-1",
    });
    if let (Value::Object(a), Value::Object(e)) = (&mut answer, extra) {
        a.extend(e);
    }
    answer
}

fn answers(pairs: &[(&str, Value)]) -> Introspect {
    Introspect::Answers(
        pairs
            .iter()
            .map(|(t, a)| ((*t).to_owned(), a.clone()))
            .collect::<HashMap<_, _>>(),
    )
}

fn endpoint(server: &IdpServer) -> jwt_auth_core::IntrospectionBuilder {
    Introspection::builder(format!("{}/introspect", server.base))
        .client_secret_basic("orders api", "s3cr:t")
        .timeout(Duration::from_secs(2))
}

fn authenticator(introspection: Introspection) -> Authenticator {
    Authenticator::new(Key::hmac([9u8; 32]).unwrap()).introspection(introspection)
}

async fn both(auth: &Authenticator, token: &str) -> Reply {
    let req = TestRequest::get("/me").bearer(token);
    let axum = via_axum(auth, &req).await;
    let actix = via_actix(auth, &req).await;
    assert_eq!(axum, actix, "the adapters disagree");
    axum
}

fn claims(reply: &Reply) -> Value {
    serde_json::from_str::<Value>(&reply.body).unwrap()["claims"].clone()
}

#[actix_web::test]
async fn active_inactive_and_refused_answers_alike() {
    let server = IdpServer::start().await;
    server.require_basic(BASIC);
    let answer = active(json!({}));
    server.set_introspect(answers(&[
        (OPAQUE, answer.clone()),
        ("expired", active(json!({"exp": now() - 3600}))),
        (
            "no-exp",
            active(json!({"exp": null}))
                .as_object()
                .map(|m| {
                    let mut m = m.clone();
                    m.remove("exp");
                    Value::Object(m)
                })
                .unwrap(),
        ),
        ("not-yet", active(json!({"nbf": now() + 3600}))),
        ("with-aud", active(json!({"aud": "another-api"}))),
        (
            "other-iss",
            active(json!({"iss": "https://elsewhere.example"})),
        ),
        ("refresh", active(json!({"token_type": "refresh_token"}))),
        ("active-string", active(json!({"active": "true"}))),
    ]));
    let auth = authenticator(
        endpoint(&server)
            .issuer("https://op.example")
            .build()
            .unwrap(),
    );

    let ok = both(&auth, OPAQUE).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(claims(&ok), answer, "the claims are the answer's members");

    let cases = [
        ("never issued", "unknown-token", "the token is not active"),
        ("expired", "expired", "the token has expired"),
        ("no exp", "no-exp", "the token lacks a required claim"),
        ("nbf ahead", "not-yet", "the token is not yet valid"),
        (
            "an aud and no audience configured",
            "with-aud",
            "the token audience is not accepted",
        ),
        (
            "another issuer",
            "other-iss",
            "the token issuer is not accepted",
        ),
        (
            "a refresh token",
            "refresh",
            "the token type is not accepted",
        ),
        (
            "active is not the boolean true",
            "active-string",
            "the token is not active",
        ),
    ];
    for (name, token, description) in cases {
        let reply = both(&auth, token).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
        assert_eq!(reply.challenge_error(), Some("invalid_token"), "{name}");
        assert!(
            reply
                .www_authenticate
                .as_deref()
                .unwrap()
                .contains(description),
            "{name}: {reply:?}"
        );
    }
    assert_eq!(
        server.count("/introspect"),
        2 * (1 + cases.len()),
        "asked every time"
    );
}

#[actix_web::test]
async fn an_endpoint_that_cannot_answer_gives_503() {
    let server = IdpServer::start().await;
    server.require_basic(BASIC);
    server.set_introspect(answers(&[(OPAQUE, active(json!({})))]));
    let auth = authenticator(endpoint(&server).build().unwrap());
    assert_eq!(both(&auth, OPAQUE).await.status, 200);

    for (name, mode) in [
        ("HTTP 500", Introspect::Status(500)),
        ("HTTP 400", Introspect::Status(400)),
        ("not JSON", Introspect::Garbage),
    ] {
        server.set_introspect(mode);
        let reply = both(&auth, OPAQUE).await;
        assert_eq!(reply.status, 503, "{name}: {reply:?}");
        assert_eq!(reply.www_authenticate, None, "{name}: no challenge on 503");
    }
    // Wrong client credentials: the endpoint answers 401, the request 503.
    server.set_introspect(answers(&[(OPAQUE, active(json!({})))]));
    let wrong = authenticator(
        Introspection::builder(format!("{}/introspect", server.base))
            .client_secret_basic("orders api", "wrong")
            .build()
            .unwrap(),
    );
    assert_eq!(both(&wrong, OPAQUE).await.status, 503);
    // The endpoint gone.
    server.stop().await;
    let gone = both(&auth, OPAQUE).await;
    assert_eq!(gone.status, 503, "{gone:?}");
}

#[actix_web::test]
async fn without_the_cache_a_revocation_counts_at_once_with_it_after_max_age() {
    let server = IdpServer::start().await;
    server.set_introspect(answers(&[(OPAQUE, active(json!({})))]));
    let uncached = authenticator(endpoint(&server).build().unwrap());
    let cached = authenticator(
        endpoint(&server)
            .cache(Duration::from_millis(300), 100)
            .build()
            .unwrap(),
    );
    assert_eq!(both(&uncached, OPAQUE).await.status, 200);
    assert_eq!(both(&cached, OPAQUE).await.status, 200);
    let asked = server.count("/introspect");
    assert_eq!(both(&cached, OPAQUE).await.status, 200);
    assert_eq!(
        server.count("/introspect"),
        asked,
        "answered from the cache"
    );

    // Revoked at the provider.
    server.set_introspect(answers(&[]));
    let reply = both(&uncached, OPAQUE).await;
    assert_eq!(reply.status, 401, "refused at once without the cache");
    assert_eq!(
        both(&cached, OPAQUE).await.status,
        200,
        "the cache serves until its max age"
    );
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(both(&cached, OPAQUE).await.status, 401, "and no longer");

    // Never past the token's exp, whatever the max age.
    server.set_introspect(answers(&[("short", active(json!({"exp": now() + 1})))]));
    let long = authenticator(
        endpoint(&server)
            .cache(Duration::from_secs(3600), 100)
            .build()
            .unwrap(),
    )
    .leeway(Duration::ZERO);
    assert_eq!(both(&long, "short").await.status, 200);
    let asked = server.count("/introspect");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(both(&long, "short").await.status, 401);
    assert!(
        server.count("/introspect") > asked,
        "expired entries are not served"
    );
}

#[actix_web::test]
async fn the_revocation_store_audience_rules_and_local_jwts() {
    let server = IdpServer::start().await;
    server.set_introspect(answers(&[
        (OPAQUE, active(json!({"aud": "orders-api"}))),
        (
            "other-aud",
            active(json!({"aud": "billing-api", "jti": "j-2"})),
        ),
    ]));
    let store = Arc::new(MemoryStore::new());
    let key = Key::hmac([9u8; 32]).unwrap();
    let auth = Authenticator::new(key.clone())
        .audience("orders-api")
        .revocation_store(Arc::clone(&store))
        .introspection(endpoint(&server).build().unwrap());
    assert_eq!(both(&auth, OPAQUE).await.status, 200);
    assert_eq!(both(&auth, "other-aud").await.status, 401);
    store
        .revoke_token("j-1", Duration::from_secs(600))
        .await
        .unwrap();
    let revoked = both(&auth, OPAQUE).await;
    assert_eq!(revoked.status, 401, "the store is consulted: {revoked:?}");

    // Rules of the endpoint's own.
    let ruled = Authenticator::new(key.clone())
        .audience("orders-api")
        .introspection(
            endpoint(&server)
                .rules(IssuerRules::new().audience("billing-api"))
                .build()
                .unwrap(),
        );
    assert_eq!(both(&ruled, "other-aud").await.status, 200);
    assert_eq!(both(&ruled, OPAQUE).await.status, 401);

    // A JWT is verified locally, never introspected.
    let asked = server.count("/introspect");
    let jwt = key
        .encode(&json!({"sub": "bob", "aud": "orders-api", "exp": now() + 60}))
        .unwrap();
    assert_eq!(both(&auth, &jwt).await.status, 200);
    let forged = format!("{}x", &jwt[..jwt.len() - 1]);
    assert_eq!(both(&auth, &forged).await.status, 401);
    assert_eq!(server.count("/introspect"), asked);

    // A malformed JWT is refused locally, never introspected.
    let asked = server.count("/introspect");
    assert_eq!(both(&auth, "a.b").await.status, 401);
    assert_eq!(both(&auth, "a.b.c.d").await.status, 401);
    assert_eq!(server.count("/introspect"), asked);

    // `verify` never waits: an opaque token cannot be judged there.
    let err = auth.verify(OPAQUE).unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::IntrospectionUnavailable);
}

#[actix_web::test]
async fn private_key_jwt_sends_a_fresh_signed_assertion() {
    let server = IdpServer::start().await;
    server.set_introspect(answers(&[(OPAQUE, active(json!({})))]));
    let url = format!("{}/introspect", server.base);
    let private = jwt_auth_tests::pem_key("p256.pem").with_kid("client-key-1");
    let auth = authenticator(
        Introspection::builder(url.clone())
            .private_key_jwt("orders-api", private.clone())
            .build()
            .unwrap(),
    );
    assert_eq!(both(&auth, OPAQUE).await.status, 200);
    let form = server.last_form();
    assert_eq!(form["client_id"], "orders-api");
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    assert!(!form.contains_key("client_secret"));
    // The assertion verifies with the client's public key, for this endpoint.
    let public = jwt_auth_tests::pem_key("p256.pub.pem").with_kid("client-key-1");
    let checker = Authenticator::new(public)
        .issuer("orders-api")
        .audience(url.clone());
    let first = checker.verify(&form["client_assertion"]).unwrap();
    let claims = first.claims_map();
    assert_eq!(claims["sub"], "orders-api");
    assert_eq!(first.kid(), Some("client-key-1"));
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert_eq!(lifetime, 60);
    // A new assertion (a new jti) for every call.
    assert_eq!(both(&auth, OPAQUE).await.status, 200);
    let second = checker
        .verify(&server.last_form()["client_assertion"])
        .unwrap();
    assert_ne!(first.claims_map()["jti"], second.claims_map()["jti"]);
    // A public key cannot sign.
    let public = jwt_auth_tests::pem_key("p256.pub.pem");
    assert!(
        Introspection::builder(url)
            .private_key_jwt("x", public)
            .build()
            .is_err()
    );
}
