//! Input limits, each proven by a test: the token size and the size of the
//! headers it comes in are checked before anything proportional to the input
//! is allocated; JSON nesting is bounded; cookie parsing is bounded; a JWK
//! Set is capped in key count (a remote one also in bytes, in `jwks.rs`).
//!
//! This binary counts the bytes allocated on the test's own thread
//! (`allocation-counter`), so "before any allocation" is measured, not
//! assumed.
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use jwt_auth_core::adapter::extract_token;
use jwt_auth_core::test_util::forge_signed;
use jwt_auth_core::{AuthErrorKind, Authenticator, Key, KeySet, TokenSource};
use jwt_auth_tests::NOW;
use serde_json::json;

/// Runs `f`, returning its result and the bytes it allocated on this thread
/// (`allocation-counter` replaces the global allocator in this binary).
fn allocated<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let mut out = None;
    let info = allocation_counter::measure(|| out = Some(f()));
    (out.unwrap(), info.bytes_total)
}

/// Polls a future that must be ready at once (static keys, no store).
fn now_or_never<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the future was expected to be ready"),
    }
}

fn key() -> Key {
    Key::hmac(b"limits-secret-0123456789abcdef-0123456789").unwrap()
}

fn auth() -> Authenticator {
    Authenticator::new(key()).clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

const MIB: usize = 1 << 20;

/// At most this much may be allocated to refuse an input of 1 MiB: fixed
/// costs (an error, a log span), nothing proportional to the input.
const SMALL: u64 = 4096;

fn request(name: &str, value: &[u8]) -> http::Request<()> {
    http::Request::builder()
        .header(name, value)
        .body(())
        .unwrap()
}

#[test]
fn an_oversized_token_is_refused_before_it_is_copied() {
    let mut value = b"Bearer ".to_vec();
    value.resize(MIB, b'a');
    let req = request("authorization", &value);
    let (outcome, bytes) =
        allocated(|| extract_token(&[TokenSource::AuthorizationBearer], &req, 8192));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::TokenTooLarge);
    assert!(
        bytes < SMALL,
        "{bytes} bytes allocated to refuse a 1 MiB header"
    );

    // The whole authenticate path, through to the refusal.
    let auth = auth();
    let (outcome, bytes) = allocated(|| now_or_never(auth.authenticate(&req)));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::TokenTooLarge);
    assert!(bytes < SMALL, "{bytes} bytes allocated by authenticate");

    // The same through a custom header and the query string.
    let header = request("x-token", &vec![b'a'; MIB]);
    let (outcome, bytes) =
        allocated(|| extract_token(&[TokenSource::header("x-token")], &header, 8192));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::TokenTooLarge);
    assert!(bytes < SMALL, "{bytes} bytes for a custom header");
    // (`http` refuses URIs of 64 KiB and more.)
    let uri = format!("/?access_token={}", "a".repeat(60 * 1024));
    let query = http::Request::get(uri).body(()).unwrap();
    let (outcome, bytes) =
        allocated(|| extract_token(&[TokenSource::query("access_token")], &query, 8192));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::TokenTooLarge);
    assert!(bytes < SMALL, "{bytes} bytes for a query parameter");
}

#[test]
fn the_limit_is_exact_and_configurable() {
    let token = "a".repeat(100);
    let req = request("authorization", format!("Bearer {token}").as_bytes());
    let sources = [TokenSource::AuthorizationBearer];
    assert_eq!(
        extract_token(&sources, &req, 100).unwrap(),
        Some(token.as_str())
    );
    assert_eq!(
        extract_token(&sources, &req, 99).unwrap_err().kind(),
        AuthErrorKind::TokenTooLarge
    );
    // A token of the default maximum passes the size check (and fails later
    // on its shape); one byte more is refused for its size.
    let auth = auth();
    let at = "a".repeat(8192);
    assert_eq!(
        auth.verify(&at).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    let over = "a".repeat(8193);
    assert_eq!(
        auth.verify(&over).unwrap_err().kind(),
        AuthErrorKind::TokenTooLarge
    );
    let wider = auth.max_token_len(16 * 1024);
    assert_eq!(
        wider.verify(&over).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
}

#[test]
fn a_token_of_dots_costs_nothing_to_refuse() {
    // golang-jwt CVE-2025-30204: splitting on every `.` allocated per dot.
    let auth = auth();
    let dots = ".".repeat(8000);
    let (outcome, bytes) = allocated(|| auth.verify(&dots));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::Malformed);
    assert!(bytes < SMALL, "{bytes} bytes allocated for 8000 dots");
}

#[test]
fn cookie_parsing_is_bounded() {
    let sources = [TokenSource::cookie("jwt")];
    // A 1 MiB cookie value: refused for its size without being copied.
    let mut value = b"jwt=".to_vec();
    value.resize(MIB, b'a');
    let req = request("cookie", &value);
    let (outcome, bytes) = allocated(|| extract_token(&sources, &req, 8192));
    assert_eq!(outcome.unwrap_err().kind(), AuthErrorKind::TokenTooLarge);
    assert!(bytes < SMALL, "{bytes} bytes for a 1 MiB cookie");

    // A Cookie header of 100 000 pairs: only the first 256 are looked at,
    // and nothing is allocated while scanning.
    let mut many = (0..100_000).map(|i| format!("c{i}=v")).collect::<Vec<_>>();
    many.push("jwt=a.b.c".into());
    let req = request("cookie", many.join("; ").as_bytes());
    let (outcome, bytes) = allocated(|| extract_token(&sources, &req, 8192));
    assert_eq!(outcome.unwrap(), None, "the 100 001st pair is not read");
    assert!(bytes < SMALL, "{bytes} bytes to scan 100 000 cookie pairs");

    // Within the bound, the cookie is found.
    let mut few = (0..200).map(|i| format!("c{i}=v")).collect::<Vec<_>>();
    few.push("jwt=a.b.c".into());
    let req = request("cookie", few.join("; ").as_bytes());
    assert_eq!(extract_token(&sources, &req, 8192).unwrap(), Some("a.b.c"));
}

/// A valid HS256 token whose claims hold `depth` nested arrays.
fn nested(depth: usize) -> String {
    let claims = format!(
        r#"{{"sub":"a","exp":{},"deep":{}{}}}"#,
        NOW + 600,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    forge_signed(r#"{"alg":"HS256"}"#, &claims, &key()).unwrap()
}

#[test]
fn json_nesting_is_bounded() {
    // The top-level object is depth 1, so 15 arrays inside reach the default
    // bound of 16 exactly.
    let auth = auth();
    assert!(auth.verify(&nested(15)).is_ok());
    assert_eq!(
        auth.verify(&nested(16)).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    // Deeper than any stack would take, with a signature that verifies:
    // refused by the bound, not by a stack overflow.
    let huge = auth.clone().max_token_len(4 * MIB);
    assert_eq!(
        huge.verify(&nested(500_000)).unwrap_err().kind(),
        AuthErrorKind::Malformed
    );
    // The bound is configurable.
    let deeper = auth.map_validation(|v| v.max_json_depth(64));
    assert!(deeper.verify(&nested(40)).is_ok());
}

#[test]
fn a_jwk_set_is_capped_in_key_count() {
    let keys: Vec<_> = (0..1025)
        .map(|i| json!({"kty": "oct", "kid": format!("k{i}"), "k": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}))
        .collect();
    let over = json!({ "keys": keys }).to_string();
    assert!(KeySet::from_jwks(&over).is_err(), "1025 keys are refused");
    let under = json!({ "keys": keys[..1024] }).to_string();
    assert_eq!(KeySet::from_jwks(&under).unwrap().keys().len(), 1024);
}

/// A cache hit allocates nothing in jwt-auth: the token is read from the
/// header without a copy, the cache is probed with it (a fast keyed hash and
/// one comparison, no digest), the clock is read once, and the decision
/// shares the cached claims. Only the adapter's insertion of the
/// `Authentication` into the request's extensions allocates (the extension
/// map), and that is measured apart.
#[test]
fn a_cache_hit_allocates_nothing() {
    use jwt_auth_core::adapter::Decision;

    let rsa = jwt_auth_tests::pem_key("rsa.pem");
    let claims = json!({"sub": "alice", "exp": NOW + 600, "scope": "read write"});
    let with_ids = json!({"sub": "alice", "exp": NOW + 600, "jti": "j-1", "fam": "f-1"});
    let cases = [
        ("HS256", auth(), key().encode(&claims).unwrap()),
        (
            "RS256",
            Authenticator::new(rsa.clone()).clock(|| UNIX_EPOCH + Duration::from_secs(NOW)),
            rsa.encode(&claims).unwrap(),
        ),
        // The in-memory revocation check answers at once: no future, no key
        // string.
        (
            "HS256 + MemoryStore",
            auth().revocation_store(jwt_auth_core::MemoryStore::new()),
            key().encode(&with_ids).unwrap(),
        ),
    ];
    for (name, auth, token) in cases {
        let req = request("authorization", format!("Bearer {token}").as_bytes());
        // The first request verifies and fills the cache.
        assert!(matches!(
            now_or_never(auth.decide(&req)),
            Decision::Allow(_)
        ));
        assert_eq!(auth.cached_tokens(), 1, "{name}");
        for _ in 0..3 {
            let (decision, bytes) = allocated(|| now_or_never(auth.decide(&req)));
            let Decision::Allow(allow) = decision else {
                panic!("{name}: a cached token is refused");
            };
            assert_eq!(bytes, 0, "{name}: a cache hit allocated {bytes} bytes");
            let claims = allow
                .authentication()
                .token()
                .map(|t| t.claims_map().clone());
            assert_eq!(
                claims.as_ref().and_then(|c| c.get("sub")),
                Some(&json!("alice")),
                "{name}"
            );
            // Outside the hit: the adapter stores the extension.
            let mut parts = request("x", b"y").into_parts().0;
            let (_, bytes) = allocated(|| parts.extensions.insert(allow.into_authentication()));
            assert!(bytes > 0, "the extension map is the one allocation");
        }
    }
}

/// Through the tower layer, a cache hit costs the inner call and the
/// `Authentication` extension, nothing else: the ready decision skips the
/// asynchronous path (no clone of the inner service), and the inner
/// service's response is passed through in its own body type (no wrapping,
/// no boxing).
#[test]
fn a_cache_hit_through_the_tower_layer_allocates_only_the_extension() {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http_body_util::Full;
    use tower::{Layer, Service, ServiceExt};

    let auth = auth();
    let token = key()
        .encode(&json!({"sub": "alice", "exp": NOW + 600}))
        .unwrap();
    let request = || {
        http::Request::builder()
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    // A service whose clone allocates (as a boxed axum route's does), so a
    // clone per request would show.
    let name: Vec<u8> = b"inner service".to_vec();
    let mut inner = tower::service_fn(move |req: http::Request<()>| {
        let ok = req
            .extensions()
            .get::<jwt_auth_core::Authentication>()
            .is_some();
        let status = if ok && name.len() == 13 { 200 } else { 500 };
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
        std::future::ready(Ok::<_, Infallible>(response))
    });
    let mut service = jwt_auth_tower::JwtAuth::new(auth.clone()).layer(inner.clone());
    // The response is the inner service's own type: `Response<Full<Bytes>>`.
    fn same_response<S>(_: &S)
    where
        S: Service<http::Request<()>, Response = http::Response<Full<Bytes>>>,
    {
    }
    same_response(&service);
    let response = now_or_never(service.ready()).unwrap();
    let warm = now_or_never(response.call(request())).unwrap();
    assert_eq!(warm.status(), 200);

    // What storing the extension costs on its own, in the same request shape.
    let authentication = match now_or_never(auth.decide(&request())) {
        jwt_auth_core::adapter::Decision::Allow(allow) => allow.into_authentication(),
        other => panic!("not let through: {other:?}"),
    };
    let mut bare = request();
    let (_, extension) = allocated(|| bare.extensions_mut().insert(authentication));
    assert!(extension > 0);
    // And what the inner service's own call costs (its boxed future).
    let ready = now_or_never(inner.ready()).unwrap();
    let (response, own) = allocated(|| now_or_never(ready.call(bare)));
    assert_eq!(response.unwrap().status(), 200);

    for _ in 0..3 {
        let req = request();
        let ready = now_or_never(service.ready()).unwrap();
        let (response, bytes) = allocated(|| now_or_never(ready.call(req)));
        assert_eq!(response.unwrap().status(), 200);
        assert_eq!(
            bytes,
            extension + own,
            "a cache hit through the layer allocated {bytes} bytes; the extension alone \
             {extension}, the inner call {own}"
        );
    }
}
