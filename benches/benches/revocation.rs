//! The per-request cost of the revocation check: the same HS256 access token
//! authenticated with no store, with the in-memory store, and with the Redis
//! store (a real `redis-server` on 127.0.0.1, started by the bench), with
//! its near cache (the default) and without (one `EXISTS` per check).
//!
//! `dpop_replay/*`: recording a DPoP proof's `jti` (RFC 9449 §11.1), once per
//! DPoP request: the in-memory cache against the Redis one (`SET NX PX`).
//!
//! `cargo bench -p jwt-auth-benches --bench revocation`
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_auth_core::{Key, MemoryStore, TokenIssuer};
use jwt_auth_redis::RedisStore;
use jwt_auth_tests::redis_server::RedisServer;

fn revocation(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let issuer =
        TokenIssuer::new(Key::hmac(b"bench-secret-0123456789abcdef-0123").unwrap()).unwrap();
    let token = issuer
        .access_token("bench", serde_json::json!({"roles": ["user"]}))
        .unwrap();
    let req = http::Request::builder()
        .header("authorization", format!("Bearer {}", token.as_str()))
        .body(())
        .unwrap();
    let server = RedisServer::start().expect("redis-server is needed for this bench");
    let redis = rt.block_on(RedisStore::connect(&server.url())).unwrap();
    rt.block_on(redis.near_cache_synced(1));
    let round_trip = rt
        .block_on(
            RedisStore::builder()
                .near_cache(None)
                .connect(&server.url()),
        )
        .unwrap();

    let cases = [
        ("no_store", issuer.authenticator()),
        (
            "memory_store",
            issuer.authenticator().revocation_store(MemoryStore::new()),
        ),
        (
            "redis_store",
            issuer.authenticator().revocation_store(redis),
        ),
        (
            "redis_store_without_near_cache",
            issuer.authenticator().revocation_store(round_trip),
        ),
    ];
    let mut group = c.benchmark_group("revocation_check/HS256");
    for (name, auth) in &cases {
        // Every case must verify the token (and find it not revoked).
        assert!(rt.block_on(auth.authenticate(&req)).unwrap().is_some());
        group.bench_function(*name, |b| {
            b.to_async(&rt).iter(|| async {
                let verified = auth.authenticate(&req).await;
                std::hint::black_box(verified.is_ok())
            })
        });
    }
    group.finish();

    use jwt_auth_core::{MemoryReplay, ProofReplay};
    let memory = MemoryReplay::new();
    let redis = rt.block_on(RedisStore::connect(&server.url())).unwrap();
    let mut group = c.benchmark_group("dpop_replay");
    let mut n = 0u64;
    group.bench_function("memory", |b| {
        b.iter(|| {
            n += 1;
            let key = format!("jkt:{n}");
            memory.first_use_now(&key, Duration::from_secs(121))
        })
    });
    let n = std::sync::atomic::AtomicU64::new(0);
    group.bench_function("redis", |b| {
        b.to_async(&rt).iter(|| async {
            let key = format!(
                "jkt:{}",
                n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            );
            let fresh = redis.first_use(&key, Duration::from_secs(121)).await;
            std::hint::black_box(fresh == Ok(true))
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = revocation
}
criterion_main!(benches);
