//! The cost of authenticating a request whose `kid` is known, with keys from
//! a remote JWKS, while no refresh runs and while a refresh is in flight (the
//! JWKS server holds its answer for the whole measurement). A static key of
//! the same type is the baseline. Target: in flight = idle.
//!
//! `cargo bench -p jwt-auth-benches --bench remote_keys`
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use jwt_auth_core::{Authenticator, Key, RemoteJwks};
use jwt_auth_tests::jwks_server::{JwksServer, Mode};
use jwt_auth_tests::pem_key;

/// Polls `authenticate` once: a known `kid` must be answered without
/// waiting, so anything but `Ready(Ok(Some))` is a failure.
fn authenticate_now(auth: &Authenticator, req: &http::Request<()>) {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(auth.authenticate(req)).poll(&mut cx) {
        Poll::Ready(Ok(Some(token))) => {
            std::hint::black_box(token);
        }
        Poll::Ready(other) => panic!("not verified: {other:?}"),
        Poll::Pending => panic!("a request with a known kid waited"),
    }
}

fn request(key: &Key) -> http::Request<()> {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 3600;
    let token = key
        .encode(&serde_json::json!({"sub": "bench", "exp": exp}))
        .unwrap();
    http::Request::builder()
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
}

fn known_kid(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for (name, key) in [
        ("RS256", pem_key("rsa.pem").with_kid("k1")),
        ("ES256", pem_key("p256.pem").with_kid("k1")),
    ] {
        let server = rt.block_on(JwksServer::start(vec![key.to_public_jwk().unwrap()]));
        let keys = rt.block_on(async {
            RemoteJwks::builder(server.url())
                .timeout(Duration::from_secs(3600))
                .build()
                .unwrap()
        });
        assert!(rt.block_on(keys.ready()));
        let remote = Authenticator::new(keys.clone());
        let fixed = Authenticator::new(key.clone());
        let req = request(&key);

        let mut group = c.benchmark_group(format!("known_kid/{name}"));
        group.bench_function("static_key", |b| b.iter(|| authenticate_now(&fixed, &req)));
        group.bench_function("remote_idle", |b| {
            b.iter(|| authenticate_now(&remote, &req))
        });

        // Hold a refresh in flight: the server keeps the answer until released.
        server.set_mode(Mode::Gate);
        let refresh = {
            let keys = keys.clone();
            rt.spawn(async move { keys.refresh().await })
        };
        rt.block_on(server.wait_received(2));
        group.bench_function("remote_refresh_in_flight", |b| {
            b.iter(|| authenticate_now(&remote, &req))
        });
        assert_eq!(
            keys.status().fetches,
            1,
            "the refresh stayed in flight during the measurement"
        );
        group.finish();
        server.release();
        rt.block_on(refresh).unwrap().unwrap();
        assert_eq!(keys.status().fetches, 2);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = known_kid
}
criterion_main!(benches);
