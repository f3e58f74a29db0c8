//! Many tenants (`{tenant}` issuer templates discovered on first use) and
//! per-issuer rules, through both adapters, against an identity server the
//! test controls on 127.0.0.1.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use jwt_auth_core::{Algorithm, Authenticator, IssuerRules, Issuers, Key, KeySet, Tenants};
use jwt_auth_tests::idp_server::{IdpServer, Tenant};
use jwt_auth_tests::{Reply, TestRequest, pem_key, via_actix, via_axum};
use serde_json::{Value, json};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(key: &Key, iss: &str, extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "iss": iss, "exp": now() + 600});
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    key.encode(&claims).unwrap()
}

/// Every tenant's key has the same `kid`.
fn rsa() -> Key {
    pem_key("rsa.pem").with_kid("k1")
}
fn p256() -> Key {
    pem_key("p256.pem").with_kid("k1")
}
fn ed25519() -> Key {
    pem_key("ed25519.pem").with_kid("k1")
}

fn jwks(key: &Key) -> Vec<Value> {
    vec![key.to_public_jwk().unwrap()]
}

fn tenants(server: &IdpServer) -> jwt_auth_core::TenantsBuilder {
    Tenants::template(format!("{}/{{tenant}}", server.base)).timeout(Duration::from_secs(2))
}

/// Both adapters, one after the other (the first may trigger the discovery).
async fn both(auth: &Authenticator, token: &str) -> Reply {
    let req = TestRequest::get("/me").bearer(token);
    let axum = via_axum(auth, &req).await;
    let actix = via_actix(auth, &req).await;
    assert_eq!(axum, actix, "the adapters disagree");
    axum
}

#[actix_web::test]
async fn tenants_with_colliding_kids_are_discovered_once_each() {
    let server = IdpServer::start().await;
    server.set_tenant("a", Tenant::new(jwks(&rsa())));
    server.set_tenant("b", Tenant::new(jwks(&p256())));
    let auth = Authenticator::new(Issuers::new().tenants(tenants(&server).build().unwrap()));
    assert!(
        auth.is_ready(),
        "tenants need nothing before their first token"
    );
    assert_eq!(server.total(), 0, "nothing is fetched at start");

    let a = both(&auth, &token(&rsa(), &server.issuer("a"), json!({}))).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.contains(&server.issuer("a")));
    let b = both(&auth, &token(&p256(), &server.issuer("b"), json!({}))).await;
    assert_eq!(b.status, 200, "{b:?}");
    // kid k1 of tenant a signs a token that names tenant b: b's k1 is
    // another key, so the token is refused.
    let forged = both(&auth, &token(&rsa(), &server.issuer("b"), json!({}))).await;
    assert_eq!(forged.status, 401);
    assert_eq!(forged.challenge_error(), Some("invalid_token"));
    let forged = both(&auth, &token(&p256(), &server.issuer("a"), json!({}))).await;
    assert_eq!(forged.status, 401);

    for tenant in ["a", "b"] {
        assert_eq!(
            server.count(&format!("/{tenant}/.well-known/openid-configuration")),
            1
        );
        assert_eq!(server.count(&format!("/{tenant}/jwks")), 1, "{tenant}");
    }
}

#[actix_web::test]
async fn an_issuer_that_fits_no_template_causes_no_request() {
    let server = IdpServer::start().await;
    server.set_tenant("a", Tenant::new(jwks(&rsa())));
    let auth = Authenticator::new(Issuers::new().tenants(tenants(&server).build().unwrap()));
    let base = &server.base;
    let other_port = base.replace("127.0.0.1:", "127.0.0.1:1");
    let long = "x".repeat(65);
    let bad = [
        format!("{other_port}/a"),
        format!("{base}/a/extra"),
        format!("{base}/a/"),
        format!("{base}/.."),
        format!("{base}/."),
        format!("{base}/"),
        format!("{base}/{long}"),
        format!("{base}/a?x=1"),
        format!("{base}/a#f"),
        format!("{base}/%2e%2e"),
        format!("{base}/a%2Fb"),
        base.replace("http://", "https://") + "/a",
        format!("{base}/a b"),
        "a".to_owned(),
        String::new(),
    ];
    for iss in &bad {
        let reply = both(&auth, &token(&rsa(), iss, json!({}))).await;
        assert_eq!(reply.status, 401, "{iss}");
        assert_eq!(reply.challenge_error(), Some("invalid_token"), "{iss}");
    }
    let no_iss = rsa()
        .encode(&json!({"sub": "x", "exp": now() + 60}))
        .unwrap();
    assert_eq!(both(&auth, &no_iss).await.status, 401);
    let numeric_iss = rsa().encode(&json!({"iss": 7, "exp": now() + 60})).unwrap();
    assert_eq!(both(&auth, &numeric_iss).await.status, 401);
    assert_eq!(
        server.total(),
        0,
        "an untrusted issuer made the service fetch"
    );
}

#[actix_web::test]
async fn refused_tenants_are_remembered_and_never_fetch_keys() {
    let server = IdpServer::start().await;
    server.set_tenant("a", Tenant::new(jwks(&rsa())));
    let mut liar = Tenant::new(jwks(&rsa()));
    liar.issuer = Some(server.issuer("a"));
    server.set_tenant("liar", liar);
    let mut slash = Tenant::new(jwks(&rsa()));
    slash.issuer = Some(format!("{}/", server.issuer("slash")));
    server.set_tenant("slash", slash);
    let mut down = Tenant::new(jwks(&rsa()));
    down.status = Some(503);
    server.set_tenant("down", down);
    let auth = Authenticator::new(Issuers::new().tenants(tenants(&server).build().unwrap()));

    for (tenant, status) in [
        ("nobody", 401),
        ("liar", 401),
        ("slash", 401),
        ("down", 503),
    ] {
        let discovery = format!("/{tenant}/.well-known/openid-configuration");
        for round in 0..3 {
            // A new token each time, so the verified-token cache is no help.
            let t = token(&rsa(), &server.issuer(tenant), json!({"n": round}));
            let reply = both(&auth, &t).await;
            assert_eq!(reply.status, status, "{tenant} {round}: {reply:?}");
        }
        assert_eq!(server.count(&discovery), 1, "{tenant}: remembered");
        assert_eq!(server.count(&format!("/{tenant}/jwks")), 0, "{tenant}");
    }
    // The real tenant is unaffected.
    assert_eq!(
        both(&auth, &token(&rsa(), &server.issuer("a"), json!({})))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn entra_tenantid_placeholder_and_a_shared_jwks_uri() {
    let server = IdpServer::start().await;
    server.set_tenant("shared", Tenant::new(jwks(&ed25519())));
    let names = [
        "9188040d-6c67-4c5b-b112-36a304b66dad",
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        "f8cdef31-a31e-4b4a-93e4-5f571e91255a",
    ];
    for name in names.iter().chain(&["organizations"]) {
        let mut tenant = Tenant::new(Vec::new());
        // As Entra ID's documents do: the issuer with a literal {tenantid}.
        tenant.issuer = Some(format!("{}/{{tenantid}}", server.base));
        tenant.jwks_uri = Some(format!("{}/shared/jwks", server.base));
        server.set_tenant(name, tenant);
    }
    let auth = Authenticator::new(tenants(&server).build().unwrap());
    for name in names {
        let reply = both(&auth, &token(&ed25519(), &server.issuer(name), json!({}))).await;
        assert_eq!(reply.status, 200, "{name}: {reply:?}");
    }
    assert_eq!(
        server.count("/shared/jwks"),
        1,
        "one key set for every tenant"
    );
    // The placeholder stands only for a tenant id (a GUID): never for
    // `common` or `organizations`, whose documents publish it literally.
    let reply = both(
        &auth,
        &token(&ed25519(), &server.issuer("organizations"), json!({})),
    )
    .await;
    assert_eq!(reply.status, 401);
    for name in names {
        assert_eq!(
            server.count(&format!("/{name}/.well-known/openid-configuration")),
            1
        );
    }
}

#[actix_web::test]
async fn concurrent_first_tokens_share_one_discovery() {
    let server = IdpServer::start().await;
    server.set_tenant("a", Tenant::new(jwks(&rsa())));
    let auth = Authenticator::new(tenants(&server).build().unwrap());
    let replies = join_all((0..20).map(|n| {
        let auth = auth.clone();
        let t = token(&rsa(), &server.issuer("a"), json!({"n": n}));
        async move {
            auth.authenticate(
                &http::Request::get("/")
                    .header("authorization", format!("Bearer {t}"))
                    .body(())
                    .unwrap(),
            )
            .await
        }
    }))
    .await;
    assert!(
        replies.iter().all(|r| matches!(r, Ok(Some(_)))),
        "{replies:?}"
    );
    assert_eq!(server.count("/a/.well-known/openid-configuration"), 1);
    assert_eq!(server.count("/a/jwks"), 1);
}

#[actix_web::test]
async fn a_predicate_never_sees_user_information() {
    let server = IdpServer::start().await;
    server.set_tenant("a", Tenant::new(jwks(&rsa())));
    let base = server.base.clone();
    let trusted = Tenants::matching(move |iss| iss.starts_with(&base))
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let auth = Authenticator::new(trusted);
    assert_eq!(
        both(&auth, &token(&rsa(), &server.issuer("a"), json!({})))
            .await
            .status,
        200
    );
    let sneaky = format!("{}@127.0.0.2:1/a", server.base);
    assert_eq!(
        both(&auth, &token(&rsa(), &sneaky, json!({}))).await.status,
        401
    );
    assert_eq!(server.total(), 2, "only tenant a's discovery and keys");
}

#[actix_web::test]
async fn discoveries_are_rate_limited() {
    let server = IdpServer::start().await;
    for name in ["a", "b", "c"] {
        server.set_tenant(name, Tenant::new(jwks(&rsa())));
    }
    let built = tenants(&server).discovery_rate(1, 2).build().unwrap();
    let auth = Authenticator::new(built);
    for name in ["a", "b"] {
        assert_eq!(
            both(&auth, &token(&rsa(), &server.issuer(name), json!({})))
                .await
                .status,
            200
        );
    }
    let limited = both(&auth, &token(&rsa(), &server.issuer("c"), json!({}))).await;
    assert_eq!(limited.status, 503, "over the limit: {limited:?}");
    assert_eq!(server.count("/c/.well-known/openid-configuration"), 0);
}

/// A thousand real tenants fit the default bound; a flood of invented ones
/// afterwards neither refetches nor evicts them.
#[actix_web::test]
async fn a_thousand_tenants_then_a_flood_of_invented_ones() {
    let server = IdpServer::start().await;
    let key = ed25519();
    for n in 0..1000 {
        server.set_tenant(&format!("t{n}"), Tenant::new(jwks(&key)));
    }
    let built = tenants(&server)
        .discovery_rate(100_000, 100_000)
        .build()
        .unwrap();
    let auth = Authenticator::new(Issuers::new().tenants(built.clone()));
    let verify_all = |round: u32, range: std::ops::Range<u32>| {
        let auth = auth.clone();
        let server_issuers: Vec<String> = range.map(|n| server.issuer(&format!("t{n}"))).collect();
        let key = key.clone();
        async move {
            let mut ok = 0;
            for chunk in server_issuers.chunks(50) {
                let replies = join_all(chunk.iter().map(|iss| {
                    let t = token(&key, iss, json!({"round": round}));
                    let auth = auth.clone();
                    async move {
                        let req = http::Request::get("/")
                            .header("authorization", format!("Bearer {t}"))
                            .body(())
                            .unwrap();
                        auth.authenticate(&req).await
                    }
                }))
                .await;
                ok += replies.iter().filter(|r| matches!(r, Ok(Some(_)))).count();
            }
            ok
        }
    };
    assert_eq!(verify_all(0, 0..1000).await, 1000);
    assert_eq!(built.known(), 1000);
    let fetched = server.total();
    assert_eq!(fetched, 2000, "one discovery and one key set per tenant");

    // A flood of invented tenants: each refused, none kept.
    let flood = join_all((0..500).map(|n| {
        let auth = auth.clone();
        let t = token(&key, &server.issuer(&format!("invented{n}")), json!({}));
        async move {
            let req = http::Request::get("/")
                .header("authorization", format!("Bearer {t}"))
                .body(())
                .unwrap();
            auth.authenticate(&req)
                .await
                .map(|_| ())
                .map_err(|e| e.kind())
        }
    }))
    .await;
    assert!(flood.iter().all(Result::is_err));
    assert_eq!(built.known(), 1000, "invented tenants never enter");
    // Every real tenant still verifies, with new tokens, without a fetch.
    let before = server.total();
    assert_eq!(verify_all(1, 0..1000).await, 1000);
    assert_eq!(server.total(), before, "no real tenant was evicted");
}

/// Real tenants whose tokens never verify (anyone can name other
/// organisations' tenants) wait in probation and evict no known tenant.
#[actix_web::test]
async fn real_but_unverified_tenants_never_evict_known_ones() {
    let server = IdpServer::start().await;
    for n in 0..50 {
        server.set_tenant(&format!("t{n}"), Tenant::new(jwks(&ed25519())));
    }
    let built = tenants(&server)
        .capacity(10)
        .discovery_rate(1000, 1000)
        .build()
        .unwrap();
    let auth = Authenticator::new(built.clone());
    for n in 0..10 {
        let t = token(&ed25519(), &server.issuer(&format!("t{n}")), json!({}));
        assert_eq!(both(&auth, &t).await.status, 200);
    }
    assert_eq!(built.known(), 10);
    // 40 other real tenants, with tokens signed by a stranger (same kid).
    for n in 10..50 {
        let forged = token(&rsa(), &server.issuer(&format!("t{n}")), json!({}));
        assert_eq!(both(&auth, &forged).await.status, 401);
    }
    assert_eq!(built.known(), 10, "unverified tenants are not known");
    let before = server.total();
    for n in 0..10 {
        let t = token(
            &ed25519(),
            &server.issuer(&format!("t{n}")),
            json!({"again": true}),
        );
        assert_eq!(both(&auth, &t).await.status, 200, "t{n}");
    }
    assert_eq!(server.total(), before, "no known tenant was evicted");
}

#[tokio::test]
async fn per_issuer_rules_override_the_authenticators() {
    let strict = KeySet::new([rsa(), p256().with_kid("k2")]).unwrap();
    let auth = Authenticator::new(
        Issuers::new()
            .issuer("https://plain.example", Key::hmac([7u8; 32]).unwrap())
            .issuer_with(
                "https://strict.example",
                strict,
                IssuerRules::new()
                    .audience("strict-api")
                    .typ("at+jwt")
                    .algorithms([Algorithm::ES256])
                    .leeway(Duration::ZERO),
            ),
    )
    .audience("plain-api");
    let hs = Key::hmac([7u8; 32]).unwrap();
    let es = p256().with_kid("k2");
    let at_jwt = |key: &Key, claims: Value| key.encode_with_typ(&claims, "at+jwt").unwrap();
    let strict = |extra: Value| {
        let mut claims =
            json!({"iss": "https://strict.example", "aud": "strict-api", "exp": now() + 60});
        if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
            c.extend(e);
        }
        claims
    };
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "plain issuer, global audience",
            hs.encode(
                &json!({"iss": "https://plain.example", "aud": "plain-api", "exp": now() + 60}),
            )
            .unwrap(),
            200,
        ),
        (
            "plain issuer, the strict audience",
            hs.encode(
                &json!({"iss": "https://plain.example", "aud": "strict-api", "exp": now() + 60}),
            )
            .unwrap(),
            401,
        ),
        (
            "strict issuer, all rules met",
            at_jwt(&es, strict(json!({}))),
            200,
        ),
        (
            "strict issuer, the global audience",
            at_jwt(&es, strict(json!({"aud": "plain-api"}))),
            401,
        ),
        (
            "strict issuer, no typ",
            es.encode(&strict(json!({}))).unwrap(),
            401,
        ),
        (
            "strict issuer, RS256 key of its own set",
            at_jwt(&rsa(), strict(json!({}))),
            401,
        ),
        (
            "strict issuer, expired 5 s ago (no leeway)",
            at_jwt(&es, strict(json!({"exp": now() - 5}))),
            401,
        ),
        (
            "plain issuer, expired 5 s ago (60 s leeway)",
            hs.encode(
                &json!({"iss": "https://plain.example", "aud": "plain-api", "exp": now() - 5}),
            )
            .unwrap(),
            200,
        ),
    ];
    for (name, token, status) in cases {
        let reply = both(&auth, &token).await;
        assert_eq!(reply.status, status, "{name}: {reply:?}");
    }
}
