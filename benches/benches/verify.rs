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
//! - `cache_hot`: the same token again, answered from the cache.
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

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = verify
}
criterion_main!(benches);
