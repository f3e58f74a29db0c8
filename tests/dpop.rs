//! DPoP (RFC 9449) through both adapters: every proof defect of §4.3, the
//! downgrade of §7.2, nonces (§8), replay, the verified-token cache, and the
//! challenges of §7.1. Every case asserts the outcome and that the axum and
//! actix-web adapters answer alike.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use jwt_auth_core::dpop::thumbprint;
use jwt_auth_core::test_util::{b64url, forge, forge_signed};
use jwt_auth_core::{Authenticator, Dpop, Key};
use jwt_auth_tests::{NOW, Reply, TestRequest, authenticator, pem_key, via_actix, via_axum};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const PUBLIC_URL: &str = "https://api.example.com";
const ALGS: &str = r#"algs="ES256 ES384 EdDSA PS256 RS256""#;

fn issuer_key() -> Key {
    Key::hmac(b"dpop-issuer-secret-0123456789abcdef-0123456789abcdef").unwrap()
}

/// The client's key and its public JWK.
struct Client {
    key: Key,
    jwk: Value,
    alg: &'static str,
}

impl Client {
    fn p256() -> Self {
        Self::new("p256.pem", "ES256")
    }

    fn ed25519() -> Self {
        Self::new("ed25519.pem", "EdDSA")
    }

    fn new(pem: &str, alg: &'static str) -> Self {
        let key = pem_key(pem);
        let jwk = key.to_public_jwk().unwrap();
        Self { key, jwk, alg }
    }

    fn jkt(&self) -> String {
        thumbprint(self.jwk.as_object().unwrap()).unwrap()
    }

    /// A proof with the default header and claims, then `header` and
    /// `claims` merged in (`null` removes a member).
    fn proof(&self, token: &str, header: Value, claims: Value) -> String {
        let mut h = json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk});
        merge(&mut h, header);
        let mut c = json!({
            "jti": format!("jti-{}", rand_id()),
            "htm": "GET",
            "htu": format!("{PUBLIC_URL}/me"),
            "iat": NOW,
            "ath": ath(token),
        });
        merge(&mut c, claims);
        forge_signed(&h.to_string(), &c.to_string(), &self.key).unwrap()
    }
}

fn merge(base: &mut Value, over: Value) {
    if let (Value::Object(b), Value::Object(o)) = (base, over) {
        for (k, v) in o {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
}

fn rand_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed).to_string()
}

fn ath(token: &str) -> String {
    b64url(&Sha256::digest(token.as_bytes()))
}

/// An access token bound to `jkt` (or unbound).
fn token(jkt: Option<&str>) -> String {
    let mut claims = json!({"sub": "alice", "exp": NOW + 600});
    if let Some(jkt) = jkt {
        claims["cnf"] = json!({"jkt": jkt});
    }
    issuer_key().encode(&claims).unwrap()
}

fn dpop_auth(dpop: Dpop) -> Authenticator {
    authenticator(issuer_key()).dpop(dpop)
}

fn request(token: &str, proof: &str) -> TestRequest {
    TestRequest::get("/me")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
}

/// `req` through each adapter, each with its own authenticator from `make`
/// (a proof is accepted once per replay cache).
async fn both(make: impl Fn() -> Authenticator, req: &TestRequest) -> Reply {
    let axum = via_axum(&make(), req).await;
    let actix = via_actix(&make(), req).await;
    assert_eq!(axum, actix, "{req:?}");
    axum
}

fn challenge(reply: &Reply) -> &str {
    reply.www_authenticate.as_deref().unwrap_or_default()
}

#[tokio::test]
async fn every_proof_defect_is_refused_alike() {
    let client = Client::p256();
    let other = Client::ed25519();
    let bound = token(Some(&client.jkt()));
    let auth = || dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap());
    let proof = |header: Value, claims: Value| client.proof(&bound, header, claims);
    let mut private_jwk = client.jwk.clone();
    private_jwk["d"] = json!("AAAA");
    let hs = Key::hmac([9u8; 32]).unwrap();
    let hs_proof = forge_signed(
        &json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": client.jwk}).to_string(),
        &json!({"jti": "hs", "htm": "GET", "htu": format!("{PUBLIC_URL}/me"), "iat": NOW, "ath": ath(&bound)}).to_string(),
        &hs,
    )
    .unwrap();
    let none_proof = forge(
        &json!({"typ": "dpop+jwt", "alg": "none", "jwk": client.jwk}).to_string(),
        &json!({"jti": "none", "htm": "GET", "htu": format!("{PUBLIC_URL}/me"), "iat": NOW, "ath": ath(&bound)}).to_string(),
        b"",
    );
    // Signed by `other`, naming `client`'s key.
    let foreign = other.proof(
        &bound,
        json!({"alg": "EdDSA", "jwk": client.jwk}),
        json!({}),
    );
    let cases: Vec<(&str, TestRequest)> = vec![
        (
            "typ JWT",
            request(&bound, &proof(json!({"typ": "JWT"}), json!({}))),
        ),
        (
            "no typ",
            request(&bound, &proof(json!({"typ": null}), json!({}))),
        ),
        ("symmetric alg", request(&bound, &hs_proof)),
        ("alg none", request(&bound, &none_proof)),
        (
            "private key in jwk",
            request(&bound, &proof(json!({"jwk": private_jwk}), json!({}))),
        ),
        (
            "no jwk",
            request(&bound, &proof(json!({"jwk": null}), json!({}))),
        ),
        ("signature by another key", request(&bound, &foreign)),
        (
            "htm POST",
            request(&bound, &proof(json!({}), json!({"htm": "POST"}))),
        ),
        (
            "htu other host",
            request(
                &bound,
                &proof(json!({}), json!({"htu": "https://evil.example.com/me"})),
            ),
        ),
        (
            "htu other path",
            request(
                &bound,
                &proof(json!({}), json!({"htu": format!("{PUBLIC_URL}/admin")})),
            ),
        ),
        (
            "htu http",
            request(
                &bound,
                &proof(json!({}), json!({"htu": "http://api.example.com/me"})),
            ),
        ),
        (
            "iat stale",
            request(&bound, &proof(json!({}), json!({"iat": NOW - 61}))),
        ),
        (
            "iat future",
            request(&bound, &proof(json!({}), json!({"iat": NOW + 61}))),
        ),
        (
            "no ath",
            request(&bound, &proof(json!({}), json!({"ath": null}))),
        ),
        (
            "wrong ath",
            request(
                &bound,
                &proof(json!({}), json!({"ath": ath("another token")})),
            ),
        ),
        (
            "no jti",
            request(&bound, &proof(json!({}), json!({"jti": null}))),
        ),
        (
            "thumbprint mismatch",
            request(&bound, &other.proof(&bound, json!({}), json!({}))),
        ),
        ("not a JWS", request(&bound, "not-a-proof")),
        (
            "no DPoP header",
            TestRequest::get("/me").header("authorization", format!("DPoP {bound}")),
        ),
        (
            "two DPoP headers",
            request(&bound, &proof(json!({}), json!({})))
                .header("dpop", proof(json!({}), json!({}))),
        ),
    ];
    for (name, req) in &cases {
        let reply = both(auth, req).await;
        assert_eq!(reply.status, 401, "{name}: {reply:?}");
        assert_eq!(
            challenge(&reply),
            format!(
                r#"Bearer, DPoP error="invalid_dpop_proof", error_description="the DPoP proof is invalid", {ALGS}"#
            ),
            "{name}"
        );
        assert!(
            !reply.body.contains(&bound),
            "{name}: the token is not echoed"
        );
    }

    // The good proof, with a query and a default port in htu (ignored and
    // normalised), passes; the handler sees the thumbprint.
    let good = request(
        &bound,
        &proof(
            json!({}),
            json!({"htu": "https://API.example.com:443/me?x=1"}),
        ),
    );
    let reply = both(auth, &good).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    // The same proof again is a replay, whichever adapter sees it.
    let shared = auth();
    assert_eq!(via_axum(&shared, &good).await.status, 200);
    let reply = via_actix(&shared, &good).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    assert!(challenge(&reply).contains("invalid_dpop_proof"));
    assert_eq!(reply, via_axum(&shared, &good).await);
}

#[tokio::test]
async fn bound_tokens_cannot_be_downgraded_and_required_refuses_bearer() {
    let client = Client::p256();
    let bound = token(Some(&client.jkt()));
    let plain = token(None);
    let allowed = || dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap());
    let required = || dpop_auth(Dpop::required(PUBLIC_URL).unwrap());
    let bearer = |t: &str| TestRequest::get("/me").bearer(t);

    // A bound token as Bearer: 401 invalid_token on the Bearer challenge.
    for auth in [&allowed as &dyn Fn() -> Authenticator, &required] {
        let reply = both(auth, &bearer(&bound)).await;
        assert_eq!(reply.status, 401);
        assert_eq!(
            challenge(&reply),
            format!(
                r#"Bearer error="invalid_token", error_description="the token must be sent with a DPoP proof", DPoP {ALGS}"#
            )
        );
    }
    // Bound some other way, or with a malformed jkt: never a bearer token
    // while DPoP is on.
    for cnf in [
        json!({"x5t#S256": "abc"}),
        json!({"jkt": 123}),
        json!("jkt"),
    ] {
        let odd = issuer_key()
            .encode(&json!({"sub": "alice", "exp": NOW + 600, "cnf": cnf}))
            .unwrap();
        assert_eq!(both(allowed, &bearer(&odd)).await.status, 401, "{cnf}");
    }
    // An unbound bearer token: fine when allowed, refused when required.
    assert_eq!(both(allowed, &bearer(&plain)).await.status, 200);
    assert_eq!(both(required, &bearer(&plain)).await.status, 401);
    // An unbound token with the DPoP scheme: invalid_token on the DPoP challenge.
    let reply = both(
        allowed,
        &request(&plain, &client.proof(&plain, json!({}), json!({}))),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        challenge(&reply),
        format!(
            r#"Bearer, DPoP error="invalid_token", error_description="a token claim is invalid", {ALGS}"#
        )
    );
    // No token: both challenges, bare.
    let reply = both(allowed, &TestRequest::get("/me")).await;
    assert_eq!(challenge(&reply), format!("Bearer, DPoP {ALGS}"));
    // A bound token with its proof passes in both modes.
    for auth in [&allowed as &dyn Fn() -> Authenticator, &required] {
        let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
        assert_eq!(both(auth, &req).await.status, 200);
    }

    // DPoP off: the DPoP scheme is not a token (401 bare Bearer, as
    // before), and a bound token works as a bearer token.
    let off = || authenticator(issuer_key());
    let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
    let reply = both(off, &req).await;
    assert_eq!((reply.status, challenge(&reply)), (401, "Bearer"));
    assert_eq!(both(off, &bearer(&bound)).await.status, 200);
}

#[tokio::test]
async fn a_cached_token_still_needs_a_good_proof() {
    let client = Client::p256();
    let bound = token(Some(&client.jkt()));
    let auth = dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap());
    let good = request(&bound, &client.proof(&bound, json!({}), json!({})));
    assert_eq!(via_axum(&auth, &good).await.status, 200);
    assert!(auth.cached_tokens() >= 1, "the token is cached");
    for bad in [
        request(
            &bound,
            &client.proof(&bound, json!({}), json!({"htm": "POST"})),
        ),
        request(
            &bound,
            &Client::ed25519().proof(&bound, json!({}), json!({})),
        ),
        TestRequest::get("/me").header("authorization", format!("DPoP {bound}")),
    ] {
        let reply = via_axum(&auth, &bad).await;
        assert_eq!(reply.status, 401, "{bad:?}");
        assert_eq!(reply, via_actix(&auth, &bad).await);
    }
}

#[tokio::test]
async fn nonces_are_required_stateless_and_shared() {
    let client = Client::p256();
    let bound = token(Some(&client.jkt()));
    let secret = [42u8; 32];
    let step = Duration::from_secs(300);
    let dpop = Dpop::allowed(PUBLIC_URL)
        .unwrap()
        .nonce_secret(secret, Some(step))
        .unwrap();
    // A fresh replay cache for each authenticator (clones of one `Dpop`
    // share theirs).
    let auth = || {
        dpop_auth(
            dpop.clone()
                .replay_cache(jwt_auth_core::MemoryReplay::new()),
        )
    };
    let now = std::time::UNIX_EPOCH + Duration::from_secs(NOW);
    let current = dpop.current_nonce(now).unwrap();

    // No nonce: use_dpop_nonce with a fresh one.
    let reply = both(
        auth,
        &request(&bound, &client.proof(&bound, json!({}), json!({}))),
    )
    .await;
    assert_eq!(reply.status, 401);
    assert_eq!(
        challenge(&reply),
        format!(
            r#"Bearer, DPoP error="use_dpop_nonce", error_description="the DPoP proof must carry the server's nonce", {ALGS}"#
        )
    );
    assert_eq!(reply.dpop_nonce.as_deref(), Some(current.as_str()));

    // The nonce from the answer works, on another instance with the secret too.
    let other_instance = || {
        dpop_auth(
            Dpop::allowed(PUBLIC_URL)
                .unwrap()
                .nonce_secret(secret, Some(step))
                .unwrap(),
        )
    };
    for auth in [&auth as &dyn Fn() -> Authenticator, &other_instance] {
        let req = request(
            &bound,
            &client.proof(&bound, json!({}), json!({"nonce": current})),
        );
        assert_eq!(both(auth, &req).await.status, 200);
    }
    // The previous step's nonce is accepted; older ones, forged ones and
    // another secret's are not.
    let earlier = |steps: u64| dpop.current_nonce(now - step * steps as u32).unwrap();
    let req = request(
        &bound,
        &client.proof(&bound, json!({}), json!({"nonce": earlier(1)})),
    );
    assert_eq!(both(auth, &req).await.status, 200);
    let foreign = Dpop::allowed(PUBLIC_URL)
        .unwrap()
        .nonce_secret([7u8; 32], Some(step))
        .unwrap()
        .current_nonce(now)
        .unwrap();
    for nonce in [earlier(2), "forged".to_owned(), foreign] {
        let req = request(
            &bound,
            &client.proof(&bound, json!({}), json!({"nonce": nonce})),
        );
        let reply = both(auth, &req).await;
        assert_eq!(reply.status, 401, "{nonce}");
        assert!(challenge(&reply).contains("use_dpop_nonce"));
        assert_eq!(reply.dpop_nonce.as_deref(), Some(current.as_str()));
    }
}

#[tokio::test]
async fn a_path_prefix_and_the_resource_metadata_apply() {
    let client = Client::p256();
    let bound = issuer_key()
        .encode(&json!({
            "sub": "alice", "exp": NOW + 600, "aud": "https://api.example.com/v1",
            "cnf": {"jkt": client.jkt()},
        }))
        .unwrap();
    let resource = jwt_auth_core::ProtectedResource::new("https://api.example.com/v1").unwrap();
    let auth = || {
        authenticator(issuer_key())
            .dpop(Dpop::allowed("https://api.example.com/v1/").unwrap())
            .protected_resource(resource.clone())
    };
    // Behind a proxy that strips /v1: the service sees /me, the client
    // signed https://api.example.com/v1/me.
    let good = client.proof(
        &bound,
        json!({}),
        json!({"htu": "https://api.example.com/v1/me"}),
    );
    assert_eq!(both(auth, &request(&bound, &good)).await.status, 200);
    let unprefixed = client.proof(&bound, json!({}), json!({}));
    let reply = both(auth, &request(&bound, &unprefixed)).await;
    assert_eq!(reply.status, 401);
    // Both challenges name the metadata.
    let metadata =
        r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/v1""#;
    assert_eq!(
        challenge(&reply),
        format!(
            r#"Bearer {metadata}, DPoP error="invalid_dpop_proof", error_description="the DPoP proof is invalid", {ALGS}, {metadata}"#
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proof_replayed_to_another_instance_sharing_redis_is_refused() {
    let Some(server) = jwt_auth_tests::redis_server::RedisServer::start() else {
        return;
    };
    let instance = || async {
        let store = jwt_auth_redis::RedisStore::connect(&server.url())
            .await
            .unwrap();
        dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap().replay_cache(store))
    };
    let (a, b) = (instance().await, instance().await);
    let client = Client::p256();
    let bound = token(Some(&client.jkt()));
    let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
    assert_eq!(via_axum(&a, &req).await.status, 200);
    let replayed = via_actix(&b, &req).await;
    assert_eq!(replayed.status, 401, "{replayed:?}");
    assert!(challenge(&replayed).contains("invalid_dpop_proof"));
    // A fresh proof passes on either.
    let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
    assert_eq!(via_actix(&b, &req).await.status, 200);
    // Redis down: the replay cannot be checked, so the request fails closed.
    drop(server);
    let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
    assert_eq!(via_axum(&a, &req).await.status, 503);
}

#[tokio::test]
async fn under_axum_nest_the_original_uri_is_what_the_proof_names() {
    use axum::Router;
    use axum::routing::get;
    use jwt_auth_tower::JwtAuth;
    use tower::ServiceExt;

    let client = Client::p256();
    let bound = token(Some(&client.jkt()));
    let app = Router::new().nest(
        "/api",
        Router::new()
            .route("/me", get(|| async { "me" }))
            .layer(JwtAuth::new(dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap()))),
    );
    let send = |htu: String| {
        let app = app.clone();
        let proof = client.proof(&bound, json!({}), json!({"htu": htu}));
        let request = http::Request::get("/api/me")
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
            .body(axum::body::Body::empty())
            .unwrap();
        async move { app.oneshot(request).await.unwrap().status() }
    };
    assert_eq!(send(format!("{PUBLIC_URL}/api/me")).await, 200);
    assert_eq!(send(format!("{PUBLIC_URL}/me")).await, 401);
}

#[tokio::test]
async fn a_jwk_without_alg_verifies_with_the_proofs_own_alg() {
    // Clients send the bare key (oauth4webapi does); an RSA JWK without
    // `alg` must verify PS256 as well as RS256.
    for alg in [
        jwt_auth_core::Algorithm::PS256,
        jwt_auth_core::Algorithm::RS256,
    ] {
        let key = pem_key("rsa.pem").with_algorithms([alg]).unwrap();
        let mut jwk = key.to_public_jwk().unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        let client = Client {
            key,
            jwk,
            alg: alg.as_str(),
        };
        let bound = token(Some(&client.jkt()));
        let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
        let reply = both(|| dpop_auth(Dpop::allowed(PUBLIC_URL).unwrap()), &req).await;
        assert_eq!(reply.status, 200, "{alg}: {reply:?}");
        // The proof's alg must still be allowed.
        let narrow = || {
            dpop_auth(
                Dpop::allowed(PUBLIC_URL)
                    .unwrap()
                    .algorithms([jwt_auth_core::Algorithm::ES256]),
            )
        };
        let req = request(&bound, &client.proof(&bound, json!({}), json!({})));
        assert_eq!(both(narrow, &req).await.status, 401, "{alg}");
    }
}
