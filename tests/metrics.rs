//! The `metrics` feature: request outcomes, cache hits and misses, and
//! revocation-store errors, counted through the `metrics` facade.
#![allow(missing_docs, clippy::unwrap_used)]

use std::collections::HashMap;
use std::future::Future;

use futures_util::FutureExt;
use std::time::Duration;

use jwt_auth_core::{
    BoxFuture, Key, RevocationStore, Rotation, StoreError, StoreErrorKind, TokenIssuer,
};
use jwt_auth_tests::{NOW, authenticator};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use serde_json::json;

/// Runs `f` with a fresh recorder; returns the counters as
/// `"name{label=value,...}" → count`.
fn counted(f: impl FnOnce()) -> HashMap<String, u64> {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, f);
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let DebugValue::Counter(n) = value else {
                return None;
            };
            let mut labels: Vec<String> = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            Some((format!("{}{{{}}}", key.key().name(), labels.join(",")), n))
        })
        .collect()
}

fn now<F: Future>(f: F) -> F::Output {
    f.now_or_never().expect("static keys answer at once")
}

#[test]
fn outcomes_and_cache_are_counted() {
    let key = Key::hmac(b"metrics-secret-0123456789abcdef-01").unwrap();
    let auth = authenticator(key.clone());
    let token = key.encode(&json!({"sub": "a", "exp": NOW + 600})).unwrap();
    let expired = key.encode(&json!({"sub": "a", "exp": NOW - 600})).unwrap();
    let request = |t: &str| {
        http::Request::builder()
            .header("authorization", format!("Bearer {t}"))
            .body(())
            .unwrap()
    };
    let counts = counted(|| {
        for _ in 0..3 {
            assert!(now(auth.authenticate(&request(&token))).is_ok());
        }
        assert!(now(auth.authenticate(&request(&expired))).is_err());
        assert!(
            now(auth.authenticate(&http::Request::new(())))
                .unwrap()
                .is_none()
        );
    });
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert_eq!(
        get("jwt_auth_requests_total{outcome=verified,reason=none}"),
        3,
        "{counts:?}"
    );
    assert_eq!(
        get("jwt_auth_requests_total{outcome=refused,reason=expired}"),
        1
    );
    assert_eq!(
        get("jwt_auth_requests_total{outcome=anonymous,reason=missing_token}"),
        1
    );
    assert_eq!(get("jwt_auth_cache_total{result=miss}"), 2, "{counts:?}");
    assert_eq!(get("jwt_auth_cache_total{result=hit}"), 2);
}

/// A request without a token is `anonymous` only where the route lets it
/// through; where a token is required it is `refused` (`missing_token`).
#[test]
fn a_missing_token_counts_as_refused_where_one_is_required() {
    use jwt_auth_core::adapter::Decision;
    let auth = authenticator(Key::hmac(b"metrics-secret-0123456789abcdef-01").unwrap());
    let anonymous = auth.clone().allow_anonymous();
    let request = http::Request::new(());
    let counts = counted(|| {
        assert!(matches!(now(auth.decide(&request)), Decision::Refuse(_)));
        assert!(matches!(
            now(anonymous.decide(&request)),
            Decision::Allow(_)
        ));
        assert!(matches!(
            now(anonymous.decide(&request)),
            Decision::Allow(_)
        ));
    });
    let get = |k: &str| counts.get(k).copied().unwrap_or(0);
    assert_eq!(
        get("jwt_auth_requests_total{outcome=refused,reason=missing_token}"),
        1,
        "{counts:?}"
    );
    assert_eq!(
        get("jwt_auth_requests_total{outcome=anonymous,reason=missing_token}"),
        2,
        "{counts:?}"
    );
}

/// A store that cannot answer (its backend is gone).
struct Unreachable;

fn down<T: Send + 'static>() -> BoxFuture<'static, Result<T, StoreError>> {
    Box::pin(std::future::ready(Err(StoreError::new(
        StoreErrorKind::Unavailable,
        "unreachable",
    ))))
}

impl RevocationStore for Unreachable {
    fn is_revoked<'a>(
        &'a self,
        _: Option<&'a str>,
        _: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        down()
    }
    fn revoke_token<'a>(
        &'a self,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn revoke_family<'a>(
        &'a self,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn start_family<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        down()
    }
    fn rotate<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
        _: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        down()
    }
}

#[test]
fn revocation_store_errors_are_counted() {
    let issuer = TokenIssuer::new(Key::hmac([9u8; 32]).unwrap()).unwrap();
    let auth = issuer.authenticator().revocation_store(Unreachable);
    let token = issuer.access_token("a", json!({})).unwrap();
    let req = http::Request::builder()
        .header("authorization", format!("Bearer {}", token.as_str()))
        .body(())
        .unwrap();
    let counts = counted(|| {
        let err = now(auth.authenticate(&req)).unwrap_err();
        assert_eq!(
            err.kind(),
            jwt_auth_core::AuthErrorKind::RevocationUnavailable
        );
    });
    assert_eq!(
        counts.get("jwt_auth_revocation_errors_total{}"),
        Some(&1),
        "{counts:?}"
    );
    assert_eq!(
        counts.get("jwt_auth_requests_total{outcome=refused,reason=revocation_unavailable}"),
        Some(&1)
    );
}
