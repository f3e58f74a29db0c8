//! Verification cost: jwt-auth against raw `jsonwebtoken::decode` into the
//! same claims type, for HS256, RS256, ES256 and EdDSA, in one run:
//!
//! - `raw_decode`: `jsonwebtoken::decode::<Claims>` with the same checks
//!   (`exp`, `iss`, `aud`, the algorithm);
//! - `cache_off`: `Authenticator::verify` + `claims::<Claims>()`, no cache;
//! - `cache_cold`: a first-seen token with the cache on (default capacity):
//!   hash, lookup miss, verify, insert;
//! - `cache_evicting`: the cache full and evicting: 4,096 tokens cycled
//!   through a 64-entry cache (a flood of unique tokens);
//! - `cache_hot`: the same token again, answered from the cache;
//! - `claims/*`: converting the shared claims into a handler's type (what
//!   `Claims<T>` does per request) against cloning an already converted
//!   value (what a per-token slot would cost).
//!
//! - `dpop/*`: a whole request decision (`Authenticator::decide`) with the
//!   token cached: Bearer against DPoP (a fresh ES256 proof each time: its
//!   parse, signature, thumbprint, `ath` and replay record), beside one bare
//!   ES256 signature verification.
//!
//! `cargo bench -p jwt-auth-benches --bench verify`
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use jwt_auth_core::{Authenticator, Key};
use jwt_auth_tests::{fixture, pem_key};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
}

fn tokens(key: &Key, n: usize) -> Vec<String> {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    (0..n)
        .map(|i| {
            key.encode(&serde_json::json!({
                "sub": format!("user-{i}"), "iss": "https://bench.example", "aud": "bench", "exp": exp
            }))
            .unwrap()
        })
        .collect()
}

fn verify(c: &mut Criterion) {
    let secret = b"bench-secret-0123456789abcdef-0123456789";
    let cases: Vec<(&str, Key, DecodingKey, Algorithm)> = vec![
        (
            "HS256",
            Key::hmac(secret).unwrap(),
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
        ),
        (
            "RS256",
            pem_key("rsa.pem"),
            DecodingKey::from_rsa_pem(&fixture("rsa.pub.pem")).unwrap(),
            Algorithm::RS256,
        ),
        (
            "ES256",
            pem_key("p256.pem"),
            DecodingKey::from_ec_pem(&fixture("p256.pub.pem")).unwrap(),
            Algorithm::ES256,
        ),
        (
            "EdDSA",
            pem_key("ed25519.pem"),
            DecodingKey::from_ed_pem(&fixture("ed25519.pub.pem")).unwrap(),
            Algorithm::EdDSA,
        ),
    ];
    for (name, key, decoding, alg) in cases {
        let many = tokens(&key, 4096);
        let one = &many[0];
        let mut validation = Validation::new(alg);
        validation.set_issuer(&["https://bench.example"]);
        validation.set_audience(&["bench"]);
        let base = Authenticator::new(key)
            .issuer("https://bench.example")
            .audience("bench");
        let off = base.clone().cache_capacity(0);
        let cold = base.clone().cache_capacity(64);
        let hot = base.clone();
        // Every path must accept the token.
        assert_eq!(
            jsonwebtoken::decode::<Claims>(one, &decoding, &validation)
                .unwrap()
                .claims
                .sub,
            "user-0"
        );
        for auth in [&off, &cold, &hot] {
            assert_eq!(
                auth.verify(one).unwrap().claims::<Claims>().unwrap().sub,
                "user-0"
            );
        }

        let mut group = c.benchmark_group(format!("verify/{name}"));
        group.bench_function("raw_decode", |b| {
            b.iter(|| jsonwebtoken::decode::<Claims>(one, &decoding, &validation).unwrap())
        });
        group.bench_function("cache_off", |b| {
            b.iter(|| off.verify(one).unwrap().claims::<Claims>().unwrap())
        });
        group.bench_function("cache_cold", |b| {
            b.iter_batched(
                || {
                    base.clone()
                        .cache_capacity(jwt_auth_core::DEFAULT_CACHE_CAPACITY)
                },
                |fresh| {
                    let claims = fresh.verify(one).unwrap().claims::<Claims>().unwrap();
                    // Dropped outside the measurement.
                    (fresh, claims)
                },
                criterion::BatchSize::PerIteration,
            )
        });
        let mut i = 0;
        group.bench_function("cache_evicting", |b| {
            b.iter(|| {
                i = (i + 1) % many.len();
                cold.verify(&many[i]).unwrap().claims::<Claims>().unwrap()
            })
        });
        group.bench_function("cache_hot", |b| {
            b.iter(|| hot.verify(one).unwrap().claims::<Claims>().unwrap())
        });
        group.finish();
    }
}

/// The typed claims of an extractor (`Claims<T>`) are converted from the
/// shared JSON on every request. What would converting once per token and
/// cloning the result on each request save? `convert` is today's cost per
/// request, `clone` what a per-type slot in the cached entry would cost.
fn claims(c: &mut Criterion) {
    #[derive(Clone, serde::Deserialize)]
    #[allow(dead_code)]
    struct Typed {
        sub: String,
        roles: Vec<String>,
        exp: u64,
        jti: String,
    }
    // The demo's access token for alice.
    let value = serde_json::json!({
        "sub": "alice", "roles": ["admin", "user"], "iat": 1_764_000_000u64,
        "exp": 4_000_000_000u64, "jti": "0f9c2b7e-6d1a-4f3e-9b8a-2c7d5e4f1a3b",
        "fam": "5b2e8c1d-3f4a-4b6c-8d7e-9f0a1b2c3d4e"
    });
    let key = Key::hmac(b"bench-secret-0123456789abcdef-0123456789").unwrap();
    let auth = Authenticator::new(key.clone());
    let verified = auth.verify(&key.encode(&value).unwrap()).unwrap();
    let mut group = c.benchmark_group("claims");
    group.bench_function("Value/convert", |b| {
        b.iter(|| verified.claims::<serde_json::Value>().unwrap())
    });
    let v = verified.claims::<serde_json::Value>().unwrap();
    group.bench_function("Value/clone", |b| b.iter(|| v.clone()));
    group.bench_function("DefaultClaims/convert", |b| {
        b.iter(|| verified.claims::<jwt_auth_core::DefaultClaims>().unwrap())
    });
    let d = verified.claims::<jwt_auth_core::DefaultClaims>().unwrap();
    group.bench_function("DefaultClaims/clone", |b| b.iter(|| d.clone()));
    group.bench_function("struct/convert", |b| {
        b.iter(|| verified.claims::<Typed>().unwrap())
    });
    let t = verified.claims::<Typed>().unwrap();
    group.bench_function("struct/clone", |b| b.iter(|| t.clone()));
    group.finish();
}

/// Reading the bearer token of a request: the header scan every request
/// pays, for an HS256-sized and an RS256-sized token.
fn extract(c: &mut Criterion) {
    use jwt_auth_core::TokenSource;
    use jwt_auth_core::adapter::extract_token;
    let mut group = c.benchmark_group("extract");
    for (name, len) in [("212 bytes", 212), ("600 bytes", 600)] {
        let token = format!(
            "eyJ{}.{}.{}",
            "a".repeat(len / 3 - 4),
            "b".repeat(len / 3),
            "c".repeat(len / 3)
        );
        let req = http::Request::get("/me")
            .header("host", "127.0.0.1")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap();
        let sources = [TokenSource::AuthorizationBearer];
        group.bench_function(name, |b| {
            b.iter(|| extract_token(&sources, &req, 8192).unwrap().map(str::len))
        });
    }
    group.finish();
}

/// What DPoP adds to a request whose token is cached: the proof (an ES256
/// signature) and its bookkeeping, against the same request as Bearer.
fn dpop(c: &mut Criterion) {
    use criterion::BatchSize;
    use jwt_auth_core::Dpop;
    use jwt_auth_core::adapter::Decision;
    use jwt_auth_core::test_util::{b64url, forge_signed};
    use sha2::{Digest, Sha256};

    let now = || {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let issuer = Key::hmac(b"bench-secret-0123456789abcdef-0123456789").unwrap();
    let client = pem_key("p256.pem");
    let jwk = client.to_public_jwk().unwrap();
    let jkt = jwt_auth_core::dpop::thumbprint(jwk.as_object().unwrap()).unwrap();
    let claims = |cnf: bool| {
        let mut c = serde_json::json!({"sub": "alice", "exp": now() + 3600});
        if cnf {
            c["cnf"] = serde_json::json!({"jkt": jkt});
        }
        issuer.encode(&c).unwrap()
    };
    let (plain, bound) = (claims(false), claims(true));
    let auth =
        Authenticator::new(issuer.clone()).dpop(Dpop::allowed("https://api.example.com").unwrap());
    let allowed = |decision: Decision| matches!(decision, Decision::Allow(_));
    let bearer = http::Request::get("/me")
        .header("authorization", format!("Bearer {plain}"))
        .body(())
        .unwrap();
    let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk}).to_string();
    let ath = b64url(&Sha256::digest(bound.as_bytes()));
    let mut n = 0u64;
    let mut dpop_request = || {
        n += 1;
        let proof = forge_signed(
            &header,
            &serde_json::json!({
                "jti": format!("bench-{n}"), "htm": "GET",
                "htu": "https://api.example.com/me", "iat": now(), "ath": ath,
            })
            .to_string(),
            &client,
        )
        .unwrap();
        http::Request::get("/me")
            .header("authorization", format!("DPoP {bound}"))
            .header("dpop", proof)
            .body(())
            .unwrap()
    };
    // Warm the token cache for both tokens.
    assert!(allowed(auth.decide(&bearer).into_ready().unwrap()));
    assert!(allowed(auth.decide(&dpop_request()).into_ready().unwrap()));

    let mut group = c.benchmark_group("dpop");
    group.bench_function("bearer, token cached", |b| {
        b.iter(|| allowed(auth.decide(&bearer).into_ready().unwrap()))
    });
    group.bench_function("DPoP ES256, token cached", |b| {
        b.iter_batched(
            &mut dpop_request,
            |req| allowed(auth.decide(&req).into_ready().unwrap()),
            BatchSize::SmallInput,
        )
    });
    let message = b"header.payload";
    let signature = client.sign_bytes(message).unwrap();
    let public = Key::from_jwk_value(&jwk).unwrap();
    group.bench_function("one ES256 signature verification", |b| {
        b.iter(|| public.verify_signature(jwt_auth_core::Algorithm::ES256, message, &signature))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify, claims, extract, dpop
}
criterion_main!(benches);
