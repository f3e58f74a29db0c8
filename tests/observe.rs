//! One `tracing` span per authentication, with its fields, through both
//! adapters; never the token, never `sub`.
#![allow(missing_docs, clippy::unwrap_used)]

use jwt_auth_core::Key;
use jwt_auth_tests::{Capture, NOW, TestRequest, authenticator, via_actix, via_axum};
use serde_json::json;
use tracing_subscriber::fmt::format::FmtSpan;

#[actix_web::test]
async fn one_span_per_authentication_with_its_fields() {
    let key = Key::hmac(b"observe-secret-0123456789abcdef-01")
        .unwrap()
        .with_kid("k1");
    let auth = authenticator(key.clone()).issuer("https://auth.test");
    let token = key
        .encode(&json!({"sub": "alice-the-subject", "iss": "https://auth.test", "exp": NOW + 600}))
        .unwrap();
    let expired = key
        .encode(&json!({"sub": "alice-the-subject", "iss": "https://auth.test", "exp": NOW - 600}))
        .unwrap();

    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    for via in [0, 1] {
        for t in [&token, &token, &expired] {
            let req = TestRequest::get("/me").bearer(t);
            let reply = if via == 0 {
                via_axum(&auth, &req).await
            } else {
                via_actix(&auth, &req).await
            };
            assert_eq!(reply.status, if t == &token { 200 } else { 401 });
        }
        let req = TestRequest::get("/optional");
        let reply = if via == 0 {
            via_axum(&auth, &req).await
        } else {
            via_actix(&auth, &req).await
        };
        assert_eq!(reply.status, 200);
    }
    drop(guard);
    let logs = capture.text();
    let spans: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("jwt_auth.authenticate") && l.contains("close"))
        .collect();
    assert_eq!(spans.len(), 8, "one span per authentication:\n{logs}");
    let verified: Vec<&&str> = spans
        .iter()
        .filter(|l| l.contains("outcome=\"verified\""))
        .collect();
    assert_eq!(verified.len(), 4);
    for line in &verified {
        assert!(line.contains("alg=\"HS256\""), "{line}");
        assert!(line.contains("kid=\"k1\""), "{line}");
        assert!(line.contains("iss=\"https://auth.test\""), "{line}");
    }
    // The first sighting misses the cache; every later one hits.
    assert!(spans[0].contains("cache_hit=false"), "{}", spans[0]);
    assert!(spans[1].contains("cache_hit=true"), "{}", spans[1]);
    assert!(
        spans
            .iter()
            .any(|l| l.contains("outcome=\"refused\"") && l.contains("reason=\"expired\""))
    );
    assert!(spans.iter().any(|l| l.contains("outcome=\"anonymous\"")));
    // Never the token, never `sub`.
    for part in token.split('.').chain(expired.split('.')) {
        assert!(!logs.contains(part), "a token part reached the logs");
    }
    assert!(!logs.contains("alice-the-subject"), "sub reached the logs");
}
