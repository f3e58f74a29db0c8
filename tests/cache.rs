//! The verified-token cache's safety properties, through both adapters:
//! expiry, key removal, revocation, configuration changes, failures never
//! cached, and bounded memory.
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use jwt_auth_core::{Authenticator, Key, MemoryStore, RemoteJwks, RevocationStore};
use jwt_auth_tests::jwks_server::JwksServer;
use jwt_auth_tests::{Reply, TestRequest, pem_key, via_actix, via_axum};
use serde_json::json;

const T0: u64 = 1_800_000_000;

fn key() -> Key {
    Key::hmac(b"cache-secret-0123456789abcdef-0123").unwrap()
}

/// An authenticator whose clock the test moves.
fn with_clock(key: Key) -> (Authenticator, Arc<AtomicU64>) {
    let now = Arc::new(AtomicU64::new(T0));
    let clock = Arc::clone(&now);
    let auth = Authenticator::new(key)
        .clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)));
    (auth, now)
}

async fn both(auth: &Authenticator, token: &str) -> Reply {
    let req = TestRequest::get("/me").bearer(token);
    let a = via_axum(auth, &req).await;
    let b = via_actix(auth, &req).await;
    assert_eq!(a, b, "the adapters disagree");
    a
}

#[actix_web::test]
async fn a_cached_token_still_expires() {
    let (auth, now) = with_clock(key());
    let token = key()
        .encode(&json!({"sub": "alice", "nbf": T0, "exp": T0 + 100}))
        .unwrap();
    assert_eq!(both(&auth, &token).await.status, 200);
    assert_eq!(auth.cached_tokens(), 1, "the token is cached");
    // Within the leeway (60 s) after exp: still accepted, from the cache.
    now.store(T0 + 159, Ordering::SeqCst);
    assert_eq!(both(&auth, &token).await.status, 200);
    // Past exp + leeway: refused although cached.
    now.store(T0 + 160, Ordering::SeqCst);
    let reply = both(&auth, &token).await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("expired"), "{}", reply.body);
    // And before nbf - leeway.
    now.store(T0 - 61, Ordering::SeqCst);
    assert_eq!(both(&auth, &token).await.status, 401);
}

#[actix_web::test]
async fn a_cached_token_dies_with_its_key() {
    let rsa = pem_key("rsa.pem").with_kid("r1");
    let p256 = pem_key("p256.pem").with_kid("e1");
    let server = JwksServer::start(vec![
        rsa.to_public_jwk().unwrap(),
        p256.to_public_jwk().unwrap(),
    ])
    .await;
    let keys = RemoteJwks::builder(server.url())
        .unknown_kid_cooldown(Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(keys.ready().await);
    let auth = Authenticator::new(keys.clone());
    let exp = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let token = rsa.encode(&json!({"sub": "alice", "exp": exp})).unwrap();
    let other = p256.encode(&json!({"sub": "bob", "exp": exp})).unwrap();
    assert_eq!(both(&auth, &token).await.status, 200);
    assert_eq!(both(&auth, &other).await.status, 200);
    assert_eq!(auth.cached_tokens(), 2);
    // r1 leaves the key set: its cached token is refused after the refresh;
    // the other key's token verifies again and is accepted.
    server.set_keys(vec![p256.to_public_jwk().unwrap()]);
    keys.refresh().await.unwrap();
    assert_eq!(both(&auth, &token).await.status, 401);
    assert_eq!(both(&auth, &other).await.status, 200);
}

#[actix_web::test]
async fn a_cached_token_can_be_revoked() {
    let store = MemoryStore::new();
    let (auth, _) = with_clock(key());
    let auth = auth.revocation_store(store.clone());
    let token = key()
        .encode(&json!({"sub": "alice", "exp": T0 + 600, "jti": "t-1"}))
        .unwrap();
    assert_eq!(both(&auth, &token).await.status, 200);
    assert_eq!(auth.cached_tokens(), 1);
    store
        .revoke_token("t-1", Duration::from_secs(600))
        .await
        .unwrap();
    let reply = both(&auth, &token).await;
    assert_eq!(reply.status, 401);
    assert!(reply.body.contains("revoked"));
}

#[actix_web::test]
async fn settings_changed_after_caching_are_honoured() {
    let (auth, _) = with_clock(key());
    let token = key()
        .encode(&json!({"sub": "alice", "exp": T0 + 600}))
        .unwrap();
    assert_eq!(both(&auth, &token).await.status, 200);
    assert_eq!(auth.cached_tokens(), 1);
    // A stricter authenticator derived from this one never reuses its
    // cache: the token has no `iss`.
    let strict = auth.clone().issuer("https://auth.example");
    assert_eq!(strict.cached_tokens(), 0);
    assert_eq!(both(&strict, &token).await.status, 401);
    assert_eq!(both(&auth, &token).await.status, 200);
}

#[actix_web::test]
async fn failures_are_never_cached_and_memory_is_bounded() {
    let (auth, _) = with_clock(key());
    let auth = auth.cache_capacity(100);
    let good = key()
        .encode(&json!({"sub": "alice", "exp": T0 + 600}))
        .unwrap();
    let forged = format!("{}x", &good[..good.len() - 1]);
    let expired = key()
        .encode(&json!({"sub": "alice", "exp": T0 - 600}))
        .unwrap();
    for bad in [&forged, &expired] {
        assert_eq!(both(&auth, bad).await.status, 401);
    }
    assert_eq!(auth.cached_tokens(), 0);

    // A flood of unique valid tokens: the cache stays within its capacity.
    for i in 0..1000 {
        let token = key()
            .encode(&json!({"sub": format!("user-{i}"), "exp": T0 + 600}))
            .unwrap();
        assert!(auth.verify(&token).is_ok());
    }
    let held = auth.cached_tokens();
    assert!(held <= 100, "{held} entries for a capacity of 100");

    // Off means off.
    let off = auth.clone().cache_capacity(0);
    assert_eq!(both(&off, &good).await.status, 200);
    assert_eq!(off.cached_tokens(), 0);
}
