//! Remote keys (JWKS URL, OpenID Connect discovery, issuer maps) through both
//! adapters, against a JWKS server the test controls, on 127.0.0.1.
//!
//! Catalogue rows 7 (unknown `kid`), 22 (weak keys in a set), 23 (endpoint
//! failures), 24 (a flood of random `kid`s) and 28 (redirects) of
//! `SECURITY.md`.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use jwt_auth_core::{Authenticator, FetchErrorKind, Issuers, Key, RemoteJwks};
use jwt_auth_tests::jwks_server::{JwksServer, Mode};
use jwt_auth_tests::{Reply, TestRequest, pem_key, via_actix, via_axum};
use serde_json::{Value, json};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn rsa(kid: &str) -> Key {
    pem_key("rsa.pem").with_kid(kid)
}

fn p256(kid: &str) -> Key {
    pem_key("p256.pem").with_kid(kid)
}

fn ed25519(kid: &str) -> Key {
    pem_key("ed25519.pem").with_kid(kid)
}

fn jwk(key: &Key) -> Value {
    key.to_public_jwk().unwrap()
}

fn token(key: &Key, extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "exp": now() + 600});
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    key.encode(&claims).unwrap()
}

fn remote(url: &str, cooldown: Duration) -> RemoteJwks {
    RemoteJwks::builder(url)
        .unknown_kid_cooldown(cooldown)
        .timeout(Duration::from_secs(2))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap()
}

/// Sends the request through both adapters and checks they agree.
async fn both(auth: &Authenticator, token: &str) -> Reply {
    let req = TestRequest::get("/me").bearer(token);
    let axum = via_axum(auth, &req).await;
    let actix = via_actix(auth, &req).await;
    assert_eq!(axum, actix, "the adapters disagree");
    axum
}

/// Like [`both`], for a token whose first use may trigger a refresh: the
/// adapters run one after the other, so the second sees the refreshed keys.
async fn status_both(auth: &Authenticator, token: &str) -> (u16, u16) {
    let req = TestRequest::get("/me").bearer(token);
    let axum = via_axum(auth, &req).await.status;
    let actix = via_actix(auth, &req).await.status;
    (axum, actix)
}

#[actix_web::test]
async fn known_kids_rotation_and_removal() {
    let server = JwksServer::start(vec![jwk(&rsa("r1")), jwk(&ed25519("d1"))]).await;
    let keys = remote(&server.url(), Duration::from_secs(3600));
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    assert_eq!(server.received(), 1);

    let reply = both(&auth, &token(&rsa("r1"), json!({}))).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        both(&auth, &token(&ed25519("d1"), json!({}))).await.status,
        200
    );
    assert_eq!(server.received(), 1, "known kids never fetch");

    // Rotation: a new kid is accepted on first use, with one fetch.
    server.set_keys(vec![jwk(&rsa("r1")), jwk(&ed25519("d1")), jwk(&p256("e2"))]);
    let reply = status_both(&auth, &token(&p256("e2"), json!({}))).await;
    assert_eq!(reply, (200, 200), "{:?}", keys.status());
    assert_eq!(server.received(), 2);

    // Removal: after a refresh the old kid is refused.
    server.set_keys(vec![jwk(&p256("e2"))]);
    assert_eq!(both(&auth, &token(&rsa("r1"), json!({}))).await.status, 200);
    keys.refresh().await.unwrap();
    let reply = both(&auth, &token(&rsa("r1"), json!({}))).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.challenge_error(), Some("invalid_token"));
    assert_eq!(
        both(&auth, &token(&p256("e2"), json!({}))).await.status,
        200
    );
    // The removed kid is within the cooldown: no further fetch.
    assert_eq!(server.received(), 3);
    assert_eq!(keys.status().keys, 1);
}

#[actix_web::test]
async fn a_forged_token_with_a_known_kid_is_refused() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = remote(&server.url(), Duration::ZERO);
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    // Signed by another key under the published kid.
    let forged = token(&p256("r1"), json!({}));
    assert_eq!(both(&auth, &forged).await.status, 401);
    // A token naming its own key (`jwk`/`jku` headers) is never trusted.
    let attacker = p256("r1");
    let evil = jwt_auth_core::test_util::forge_signed(
        &json!({
            "alg": "ES256",
            "kid": "r1",
            "jku": format!("{}/evil", server.base),
            "jwk": jwk(&attacker),
        })
        .to_string(),
        &json!({"sub": "mallory", "exp": now() + 600}).to_string(),
        &attacker,
    )
    .unwrap();
    assert_eq!(both(&auth, &evil).await.status, 401);
    assert_eq!(
        server.received(),
        1,
        "nothing is fetched from a token's URL"
    );
}

#[actix_web::test]
async fn unknown_kids_refresh_once_then_hit_the_negative_cache() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = remote(&server.url(), Duration::ZERO);
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);

    let stranger = token(&rsa("x"), json!({}));
    let reply = via_axum(&auth, &TestRequest::get("/me").bearer(&stranger)).await;
    assert_eq!(reply.status, 401);
    assert_eq!(server.received(), 2, "an unknown kid refreshes once");
    // The same kid again, on either adapter: known to be unknown, no fetch.
    assert_eq!(both(&auth, &stranger).await.status, 401);
    assert_eq!(server.received(), 2);
    // Another unknown kid may refresh (the cooldown here is zero).
    assert_eq!(
        via_actix(
            &auth,
            &TestRequest::get("/me").bearer(&token(&rsa("y"), json!({})))
        )
        .await
        .status,
        401
    );
    assert_eq!(server.received(), 3);
    // A successful refresh forgets the negative cache.
    keys.refresh().await.unwrap();
    assert_eq!(both(&auth, &stranger).await.status, 401);
    assert_eq!(server.received(), 5);
}

#[actix_web::test]
async fn a_flood_of_random_kids_costs_one_fetch_per_cooldown() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = remote(&server.url(), Duration::from_secs(3600));
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    let before = server.received();

    let tokens: Vec<String> = (0..300)
        .map(|i| token(&rsa(&format!("random-{i}-{}", now())), json!({})))
        .collect();
    let requests: Vec<TestRequest> = tokens
        .iter()
        .map(|t| TestRequest::get("/me").bearer(t))
        .collect();
    // All 300 at once, half through each adapter.
    let replies = join_all(requests.iter().enumerate().map(|(i, req)| {
        let auth = auth.clone();
        async move {
            if i % 2 == 0 {
                via_axum(&auth, req).await
            } else {
                via_actix(&auth, req).await
            }
        }
    }))
    .await;
    assert!(
        replies
            .iter()
            .all(|r| r.status == 401 && r.challenge_error() == Some("invalid_token"))
    );
    let after = server.received();
    println!("flood: 300 requests with random kids, JWKS fetches before={before} after={after}");
    assert_eq!(after - before, 1, "one fetch for the whole flood");
    // A valid token is still served.
    assert_eq!(both(&auth, &token(&rsa("r1"), json!({}))).await.status, 200);
}

#[actix_web::test]
async fn failing_endpoints_keep_the_cached_keys() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = remote(&server.url(), Duration::ZERO);
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    let good = token(&rsa("r1"), json!({}));

    for (n, (mode, kind)) in [
        (Mode::Status500, FetchErrorKind::Status),
        (Mode::Garbage, FetchErrorKind::InvalidDocument),
        (Mode::Hang, FetchErrorKind::Timeout),
    ]
    .into_iter()
    .enumerate()
    {
        server.set_mode(mode);
        let stranger = token(&rsa(&format!("new-{n}")), json!({}));
        let received = server.received();
        let req = TestRequest::get("/me").bearer(&stranger);
        // The unknown kid's refresh runs (and fails or hangs) meanwhile...
        let miss = via_axum(&auth, &req);
        let known = async {
            server.wait_received(received + 1).await;
            // ...and a known kid is answered without waiting for it.
            let reply = both(&auth, &good).await;
            (reply, server.received())
        };
        let (miss, (known, _)) = tokio::join!(miss, known);
        assert_eq!(known.status, 200, "{mode:?}: {known:?}");
        assert_eq!(miss.status, 401, "{mode:?}");
        let status = keys.status();
        let error = status.last_error.expect("the failure is reported");
        assert_eq!(error.kind(), kind, "{mode:?}: {error}");
        assert!(status.ready, "{mode:?}: the old keys stay in use");
        assert_eq!(both(&auth, &good).await.status, 200);
    }
}

#[actix_web::test]
async fn a_slow_endpoint_does_not_delay_known_kids() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = remote(&server.url(), Duration::ZERO);
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    server.set_mode(Mode::Gate);
    let refresh = keys.refresh();
    let known = async {
        server.wait_received(2).await;
        // The refresh is held at the server until `release`: these must
        // complete anyway.
        let mut replies = Vec::new();
        for _ in 0..20 {
            replies.push(both(&auth, &token(&rsa("r1"), json!({}))).await.status);
        }
        server.release();
        replies
    };
    let (refreshed, replies) = tokio::join!(refresh, known);
    assert!(replies.iter().all(|&s| s == 200));
    refreshed.unwrap();
}

#[actix_web::test]
async fn keys_never_loaded_give_503_then_recover() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    server.set_mode(Mode::Status500);
    let keys = remote(&server.url(), Duration::ZERO);
    let auth = Authenticator::new(keys.clone());
    assert!(keys.refresh().await.is_err());
    assert!(!auth.is_ready());
    let good = token(&rsa("r1"), json!({}));
    let reply = both(&auth, &good).await;
    assert_eq!(reply.status, 503, "{reply:?}");
    assert_eq!(reply.www_authenticate, None);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");

    // The endpoint comes back: the next request loads the keys.
    server.set_mode(Mode::Ok);
    assert_eq!(status_both(&auth, &good).await, (200, 200));
    assert!(auth.is_ready());

    // An endpoint that is not even listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let keys = remote(&format!("http://{closed}/jwks.json"), Duration::ZERO);
    assert!(keys.refresh().await.is_err());
    let auth = Authenticator::new(keys);
    assert_eq!(both(&auth, &good).await.status, 503);
}

#[actix_web::test]
async fn weak_and_mismatched_keys_in_a_set_are_refused() {
    let mut enc = jwk(&rsa("enc"));
    enc["use"] = "enc".into();
    let mut ops = jwk(&rsa("ops"));
    ops["key_ops"] = json!(["encrypt"]);
    let mut crv = jwk(&p256("crv"));
    crv["crv"] = "P-384".into();
    let mut alg = jwk(&p256("alg"));
    alg["alg"] = "RS256".into();
    // Key refuses 1024-bit RSA, so this JWK comes from a fixture.
    let weak_jwk: Value =
        serde_json::from_slice(&jwt_auth_tests::fixture("rsa1024.pub.jwk.json")).unwrap();
    let oct =
        json!({"kty": "oct", "kid": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"});
    let server =
        JwksServer::start(vec![jwk(&rsa("good")), enc, ops, crv, alg, weak_jwk, oct]).await;
    let keys = remote(&server.url(), Duration::from_secs(3600));
    let auth = Authenticator::new(keys.clone());
    assert!(keys.ready().await);
    assert_eq!(keys.status().keys, 1, "only the good key is loaded");
    assert_eq!(
        both(&auth, &token(&rsa("good"), json!({}))).await.status,
        200
    );
    for bad in [
        token(&rsa("enc"), json!({})),
        token(&rsa("ops"), json!({})),
        token(&p256("crv"), json!({})),
        token(&p256("alg"), json!({})),
        weak_token(),
        token(
            &Key::hmac(b"secret-secret-secret-secret-secret")
                .unwrap()
                .with_kid("oct"),
            json!({}),
        ),
    ] {
        assert_eq!(both(&auth, &bad).await.status, 401);
    }
}

/// An RS256 token (kid "weak", `exp` in 2100) validly signed by the
/// 1024-bit key, made once with PyJWT: neither this library nor aws-lc-rs
/// will sign with such a key.
fn weak_token() -> String {
    String::from_utf8(jwt_auth_tests::fixture("rsa1024.token"))
        .unwrap()
        .trim()
        .to_owned()
}

#[actix_web::test]
async fn discovery_pins_the_issuer() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let issuer = server.base.clone();
    server.set_discovery(json!({"issuer": issuer, "jwks_uri": server.url()}));
    let keys = RemoteJwks::discover(issuer.clone())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert_eq!(keys.issuer(), Some(issuer.as_str()));
    let auth = Authenticator::new(keys.clone()).audience("api");
    assert!(keys.ready().await);
    let ok = token(&rsa("r1"), json!({"iss": issuer, "aud": "api"}));
    assert_eq!(both(&auth, &ok).await.status, 200);
    let other = token(
        &rsa("r1"),
        json!({"iss": "https://other.example", "aud": "api"}),
    );
    assert_eq!(both(&auth, &other).await.status, 401);
    let none = token(&rsa("r1"), json!({"aud": "api"}));
    assert_eq!(both(&auth, &none).await.status, 401);

    // A document naming another issuer is refused: the keys never load.
    let mismatched = RemoteJwks::discover(format!("{issuer}/"))
        .timeout(Duration::from_secs(2))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    let err = mismatched.refresh().await.unwrap_err();
    assert!(err.to_string().contains("issuer"), "{err}");
    assert_eq!(err.kind(), FetchErrorKind::InvalidDocument);
    let auth = Authenticator::new(mismatched);
    assert_eq!(both(&auth, &ok).await.status, 503);
}

#[actix_web::test]
async fn rfc_8414_metadata_is_found_by_path_insertion() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    // An issuer with a path: its metadata lives at the origin, the path
    // after the well-known segment (not at <issuer>/.well-known/...).
    let issuer = format!("{}/tenant1", server.base);
    server.set_discovery(json!({"issuer": issuer, "jwks_uri": server.url()}));
    let keys = RemoteJwks::discover_authorization_server(issuer.clone())
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    assert!(keys.ready().await);
    let auth = Authenticator::new(keys).audience("api");
    let ok = token(&rsa("r1"), json!({"iss": issuer, "aud": "api"}));
    assert_eq!(both(&auth, &ok).await.status, 200);
    // OpenID discovery of the same issuer looks under its path: not there.
    let oidc = RemoteJwks::discover(issuer.clone())
        .timeout(Duration::from_secs(2))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(oidc.refresh().await.is_err());
    // The document must name the issuer exactly.
    let other = RemoteJwks::discover_authorization_server(format!("{}/tenant2", server.base))
        .timeout(Duration::from_secs(2))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    let err = other.refresh().await.unwrap_err();
    assert_eq!(err.kind(), FetchErrorKind::InvalidDocument, "{err}");
}

#[actix_web::test]
async fn issuers_select_keys_and_namespace_kids() {
    // Both issuers publish the same kid, for different keys.
    let a = JwksServer::start(vec![jwk(&rsa("k"))]).await;
    let b = JwksServer::start(vec![jwk(&p256("k"))]).await;
    let keys_a = remote(&a.url(), Duration::ZERO);
    let keys_b = remote(&b.url(), Duration::ZERO);
    let auth = Authenticator::new(
        Issuers::new()
            .issuer("https://a.example", keys_a)
            .issuer("https://b.example", keys_b),
    );
    assert!(auth.ready().await);
    let from_a = token(&rsa("k"), json!({"iss": "https://a.example"}));
    let from_b = token(&p256("k"), json!({"iss": "https://b.example"}));
    assert_eq!(both(&auth, &from_a).await.status, 200);
    assert_eq!(both(&auth, &from_b).await.status, 200);
    // B's key claiming to be A: A's "k" is another key.
    let crossed = token(&p256("k"), json!({"iss": "https://a.example"}));
    assert_eq!(both(&auth, &crossed).await.status, 401);
    // Unknown or missing issuers are refused without any fetch.
    let (ra, rb) = (a.received(), b.received());
    for t in [
        token(&rsa("k"), json!({"iss": "https://c.example"})),
        token(&rsa("k"), json!({})),
        token(&rsa("zz"), json!({"iss": "https://c.example"})),
    ] {
        let reply = both(&auth, &t).await;
        assert_eq!(reply.status, 401);
        assert_eq!(reply.challenge_error(), Some("invalid_token"));
    }
    assert_eq!((a.received(), b.received()), (ra, rb));
}

#[actix_web::test]
async fn bootstrap_keys_serve_until_the_provider_answers() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    server.set_mode(Mode::Status500);
    // A JWKS file shipped with the service.
    let path = std::env::temp_dir().join(format!("jwt-auth-bootstrap-{}.json", std::process::id()));
    std::fs::write(&path, json!({"keys": [jwk(&rsa("r1"))]}).to_string()).unwrap();
    let bootstrap = jwt_auth_core::KeySet::from_jwks_file(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let keys = RemoteJwks::builder(server.url())
        .bootstrap_keys(bootstrap)
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(keys.refresh().await.is_err());
    let auth = Authenticator::new(keys);
    assert_eq!(both(&auth, &token(&rsa("r1"), json!({}))).await.status, 200);
}

#[actix_web::test]
async fn stale_keys_fail_closed() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let keys = RemoteJwks::builder(server.url())
        .max_stale(Duration::from_millis(300))
        .unknown_kid_cooldown(Duration::from_secs(3600))
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(keys.ready().await);
    let auth = Authenticator::new(keys.clone());
    let good = token(&rsa("r1"), json!({}));
    assert_eq!(both(&auth, &good).await.status, 200);
    server.set_mode(Mode::Status500);
    assert!(keys.refresh().await.is_err());
    // Time-based policy: wait out the maximum age.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!keys.is_ready());
    assert_eq!(both(&auth, &good).await.status, 503);
}

#[actix_web::test]
async fn oversized_documents_are_refused() {
    let many: Vec<Value> = (0..5).map(|i| jwk(&rsa(&format!("k{i}")))).collect();
    let server = JwksServer::start(many).await;
    for (builder, kind) in [
        (
            RemoteJwks::builder(server.url()).max_keys(4),
            FetchErrorKind::InvalidDocument,
        ),
        (
            RemoteJwks::builder(server.url()).max_response_bytes(1024),
            FetchErrorKind::TooLarge,
        ),
    ] {
        let keys = builder
            .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
            .build()
            .unwrap();
        let err = keys.refresh().await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        let err = err.to_string();
        assert!(err.contains("limit") || err.contains("larger"), "{err}");
        let auth = Authenticator::new(keys);
        assert_eq!(both(&auth, &token(&rsa("k0"), json!({}))).await.status, 503);
    }
}

/// A user-supplied client is used for every fetch (here a `reqwest` client
/// wrapped to count its calls, as a proxy or custom-CA client would be).
#[actix_web::test]
async fn a_user_supplied_http_client_is_used() {
    use jwt_auth_core::{BoxFuture, FetchError, FetchResponse, HttpClient};

    struct Counting {
        inner: reqwest::Client,
        calls: Arc<AtomicUsize>,
    }
    impl HttpClient for Counting {
        fn fetch<'a>(
            &'a self,
            url: &'a str,
            max_body: usize,
        ) -> BoxFuture<'a, Result<FetchResponse, FetchError>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.inner.fetch(url, max_body)
        }
    }

    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let keys = RemoteJwks::builder(server.url())
        .http_client(Counting {
            inner: reqwest::Client::new(),
            calls: Arc::clone(&calls),
        })
        .build()
        .unwrap();
    assert!(keys.ready().await);
    keys.refresh().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(server.received(), 2);
    let auth = Authenticator::new(keys);
    assert_eq!(both(&auth, &token(&rsa("r1"), json!({}))).await.status, 200);
}

/// `url` with its host replaced by the IPv4-mapped IPv6 form of 127.0.0.1:
/// it reaches the same server, but it is not a loopback host to the URL
/// policy, so plain `http` to it stands for "plain http to another host"
/// while the test's traffic stays on 127.0.0.1.
fn mapped(url: &str) -> String {
    url.replace("127.0.0.1", "[::ffff:127.0.0.1]")
}

/// SECURITY.md row 28: every redirect hop passes the URL policy, and a
/// refused hop keeps the keys already loaded.
#[actix_web::test]
async fn redirects_pass_the_url_policy_at_every_hop() {
    let good = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    let attacker = JwksServer::start(vec![jwk(&p256("r1"))]).await;
    let forged = token(&p256("r1"), json!({}));
    let genuine = token(&rsa("r1"), json!({}));
    // The configured URL itself is refused when it names that host.
    assert!(
        RemoteJwks::builder(mapped(&attacker.url()))
            .build()
            .is_err()
    );

    // A redirect there is refused too: no keys load, and the forged token
    // never verifies.
    let entry = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    entry.set_redirect(Some((302, &mapped(&attacker.url()))));
    let keys = remote(&entry.url(), Duration::from_secs(3600));
    let error = keys.refresh().await.unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::Redirect, "{error}");
    let error = error.to_string();
    assert!(error.contains("redirect refused"), "{error}");
    assert!(!keys.is_ready());
    assert_eq!(
        both(&Authenticator::new(keys.clone()), &forged)
            .await
            .status,
        503
    );

    // With keys loaded, a redirect appearing later fails that refresh and
    // the old keys keep serving; the attacker's keys are never used.
    let keys = remote(&good.url(), Duration::from_secs(3600));
    assert!(keys.ready().await);
    let auth = Authenticator::new(keys.clone());
    for status in [301, 302, 303, 307, 308] {
        good.set_redirect(Some((status, &mapped(&attacker.url()))));
        assert!(keys.refresh().await.is_err(), "{status}");
        assert!(keys.is_ready());
        assert_eq!(both(&auth, &genuine).await.status, 200, "{status}");
        assert_eq!(both(&auth, &forged).await.status, 401, "{status}");
    }
    // Another scheme, and a Location that is not a URL.
    for location in [
        "ftp://127.0.0.1/jwks.json",
        "file:///etc/passwd",
        "http://[::1",
    ] {
        good.set_redirect(Some((302, location)));
        let error = keys.refresh().await.unwrap_err();
        assert_eq!(
            error.kind(),
            FetchErrorKind::Redirect,
            "{location}: {error}"
        );
    }
    assert_eq!(
        attacker.received(),
        0,
        "the attacker's server is never asked"
    );

    // Redirects that pass the policy are followed: relative, absolute,
    // `localhost`, up to five hops.
    good.set_redirect(None);
    let hops = |n: usize| format!("{}/hop/{}", good.base, n - 1);
    let chained = remote(&hops(5), Duration::from_secs(3600));
    chained.refresh().await.expect("5 redirects are followed");
    assert_eq!(
        both(&Authenticator::new(chained), &genuine).await.status,
        200
    );
    let localhost = good.url().replace("127.0.0.1", "localhost");
    entry.set_redirect(Some((307, &localhost)));
    let moved = remote(&entry.url(), Duration::from_secs(3600));
    moved
        .refresh()
        .await
        .expect("a redirect to localhost is followed");
    // Six are too many.
    let too_many = remote(&hops(6), Duration::from_secs(3600));
    let error = too_many.refresh().await.unwrap_err().to_string();
    assert!(error.contains("more than 5 redirects"), "{error}");
}

/// A user-supplied client that follows redirects itself would bypass the
/// per-hop check: such a fetch fails, whatever the redirect.
#[actix_web::test]
async fn a_client_that_follows_redirects_itself_is_refused() {
    let attacker = JwksServer::start(vec![jwk(&p256("r1"))]).await;
    let entry = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    entry.set_redirect(Some((302, &mapped(&attacker.url()))));
    // reqwest's default policy follows up to ten redirects.
    let keys = RemoteJwks::builder(entry.url())
        .http_client(reqwest::Client::new())
        .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
        .build()
        .unwrap();
    let error = keys.refresh().await.unwrap_err();
    assert_eq!(error.kind(), FetchErrorKind::Redirect, "{error}");
    let error = error.to_string();
    assert!(error.contains("followed a redirect itself"), "{error}");
    let forged = token(&p256("r1"), json!({}));
    assert_eq!(both(&Authenticator::new(keys), &forged).await.status, 503);
    // The same client without redirects works, with jwt-auth following them.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    entry.set_redirect(None);
    let keys = RemoteJwks::builder(format!("{}/hop/0", entry.base))
        .http_client(client)
        .build()
        .unwrap();
    keys.refresh().await.unwrap();
    assert!(keys.is_ready());
}

#[actix_web::test]
async fn cache_control_max_age_sets_the_next_refresh() {
    let server = JwksServer::start(vec![jwk(&rsa("r1"))]).await;
    server.set_cache_control("public, max-age=1");
    let keys = RemoteJwks::builder(server.url())
        .refresh_bounds(Duration::ZERO, Duration::from_secs(3600))
        .build()
        .unwrap();
    assert!(keys.ready().await);
    let loaded = std::time::Instant::now();
    // No request at all: the background task refetches after max-age.
    server.wait_received(2).await;
    let waited = loaded.elapsed();
    assert!(
        waited >= Duration::from_millis(900),
        "refetched after {waited:?}, before max-age"
    );
    // The same document again (a forced third fetch, awaited): the key set
    // generation does not move; a changed document moves it.
    keys.refresh().await.unwrap();
    assert_eq!(keys.status().generation, 1);
    server.set_keys(vec![jwk(&rsa("r1")), jwk(&p256("e1"))]);
    keys.refresh().await.unwrap();
    assert_eq!(keys.status().generation, 2);
}

/// Project Wycheproof's JWK vectors through the *remote* loader: each
/// group's key set is served by the JWKS server and fetched by a
/// `RemoteJwks`. Asymmetric groups must agree with their label; groups with
/// symmetric (`oct`) keys must be refused whatever their label, since a
/// published key set holds public keys only (catalogue row 22).
#[actix_web::test]
async fn wycheproof_jwk_vectors_through_the_remote_loader() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/vectors/wycheproof/json_web_key_test.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("Wycheproof vectors missing at {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let server = JwksServer::start(Vec::new()).await;
    let (mut agree, mut refused_symmetric, mut disagree) = (0, 0, Vec::new());
    for group in doc["testGroups"].as_array().unwrap() {
        let set = group
            .get("public")
            .or_else(|| group.get("private"))
            .unwrap();
        let symmetric = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kty"] == "oct");
        server.set_keys(set["keys"].as_array().unwrap().clone());
        let remote = RemoteJwks::builder(server.url())
            .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
            .build()
            .unwrap();
        let loaded = remote.refresh().await.is_ok();
        for test in group["tests"].as_array().unwrap() {
            let jws = test["jws"].as_str().unwrap_or("");
            let accepted = loaded
                && remote
                    .keys()
                    .is_some_and(|keys| keys.verify_compact(jws, 1 << 20, 32).is_ok());
            let tc = &test["tcId"];
            if symmetric {
                if accepted {
                    disagree.push(format!("tc{tc}: a symmetric key was used"));
                } else {
                    refused_symmetric += 1;
                }
            } else if accepted == (test["result"] == "valid") {
                agree += 1;
            } else {
                disagree.push(format!(
                    "tc{tc}: label {}, accepted={accepted}",
                    test["result"]
                ));
            }
        }
    }
    println!(
        "wycheproof JWK via remote JWKS: {agree} agree with their label, \
         {refused_symmetric} refused for holding symmetric keys, {} disagree",
        disagree.len()
    );
    assert!(disagree.is_empty(), "{}", disagree.join("\n"));
    assert_eq!(agree + refused_symmetric, 26);
    assert_eq!(agree, 11);
}
