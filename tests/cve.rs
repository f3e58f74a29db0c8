//! Regression tests named after the JWT library CVEs whose shapes keep
//! coming back, each run through both adapters. The attack catalogue rows
//! they belong to are named too; `parity.rs` holds the whole catalogue.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, UNIX_EPOCH};

use jwt_auth_core::test_util::{b64url, forge, forge_signed, hmac_sha256};
use jwt_auth_core::{Authenticator, Key, KeySet};
use jwt_auth_tests::jwks_server::JwksServer;
use jwt_auth_tests::{Capture, NOW, Reply, TestRequest, fixture, pem_key, via_actix, via_axum};
use serde_json::json;

fn on_clock(auth: Authenticator) -> Authenticator {
    auth.clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

fn claims() -> String {
    json!({"sub": "mallory", "admin": true, "exp": NOW + 600}).to_string()
}

/// Sends `token` through both adapters; they must agree.
async fn both(auth: &Authenticator, token: &str) -> Reply {
    let req = TestRequest::get("/me").bearer(token);
    let axum = via_axum(auth, &req).await;
    assert_eq!(axum, via_actix(auth, &req).await, "the adapters disagree");
    axum
}

async fn refused(auth: &Authenticator, token: &str, what: &str) {
    let reply = both(auth, token).await;
    assert_eq!(reply.status, 401, "{what}: {reply:?}");
    assert_eq!(reply.challenge_error(), Some("invalid_token"), "{what}");
}

/// An HS256 token keyed with `secret`, with `header` as its header.
fn hmac_token(header: &str, secret: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims().as_bytes())
    );
    format!("{input}.{}", b64url(&hmac_sha256(secret, input.as_bytes())))
}

/// CVE-2022-23540 (node jsonwebtoken): with no algorithm list, `alg: none`
/// verified. Catalogue row 1. Here the algorithm always comes from the key,
/// and no key allows `none`.
#[actix_web::test]
async fn cve_2022_23540_alg_none_is_never_accepted() {
    let hs = on_clock(Authenticator::new(
        Key::hmac(b"cve-secret-0123456789abcdef-0123456789").unwrap(),
    ));
    let rs = on_clock(Authenticator::new(pem_key("rsa.pub.pem")));
    let es = on_clock(Authenticator::new(pem_key("p256.pub.pem")));
    for auth in [&hs, &rs, &es] {
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = format!(r#"{{"alg":"{alg}"}}"#);
            let unsigned = forge(&header, &claims(), b"");
            refused(auth, &unsigned, &format!("alg {alg}, no signature")).await;
            refused(auth, unsigned.trim_end_matches('.'), "two parts").await;
            refused(
                auth,
                &forge(&header, &claims(), b"sig"),
                "alg none, a signature",
            )
            .await;
        }
    }
}

/// CVE-2022-23541 (node jsonwebtoken): a key-retrieval callback returned an
/// RSA public key, and an HS256 token keyed with that public key's text
/// verified. Catalogue row 2. Tried with the key found by `kid` in a set, as
/// the callback did, and with the PEM, DER and JWK forms of the public key.
#[actix_web::test]
async fn cve_2022_23541_hs256_keyed_with_the_public_key() {
    let rsa = pem_key("rsa.pub.pem").with_kid("k1");
    let ec = pem_key("p256.pub.pem").with_kid("k2");
    let set = KeySet::new([rsa.clone(), ec.clone()]).unwrap();
    let auth = on_clock(Authenticator::new(set));
    let rsa_jwk = rsa.to_public_jwk().unwrap().to_string();
    let ec_jwk = ec.to_public_jwk().unwrap().to_string();
    for (kid, what, secret) in [
        ("k1", "RSA PEM", fixture("rsa.pub.pem")),
        ("k1", "RSA DER", fixture("rsa.pub.der")),
        ("k1", "RSA JWK", rsa_jwk.into_bytes()),
        ("k2", "EC PEM", fixture("p256.pub.pem")),
        ("k2", "EC JWK", ec_jwk.into_bytes()),
    ] {
        let token = hmac_token(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#), &secret);
        refused(&auth, &token, what).await;
    }
    // The single-key form too.
    let single = on_clock(Authenticator::new(pem_key("rsa.pub.pem")));
    refused(
        &single,
        &hmac_token(r#"{"alg":"HS256"}"#, &fixture("rsa.pub.pem")),
        "single key",
    )
    .await;
}

/// The order of P-256 and P-384.
const N_P256: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
const N_P384: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// CVE-2022-21449 (Java 15-18 "psychic signatures"): an ECDSA signature of
/// r = s = 0 verified for any message. Catalogue row 4, on P-256 and P-384,
/// with the other degenerate shapes: r or s equal to n, and DER encoding.
#[actix_web::test]
async fn cve_2022_21449_psychic_signatures() {
    for (alg, key, n) in [
        ("ES256", "p256.pub.pem", N_P256),
        ("ES384", "p384.pub.pem", N_P384),
    ] {
        let auth = on_clock(Authenticator::new(pem_key(key)));
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        let n = hex(n);
        let zero = vec![0u8; n.len()];
        let one = {
            let mut v = zero.clone();
            *v.last_mut().unwrap() = 1;
            v
        };
        for (what, signature) in [
            ("r = s = 0", [zero.clone(), zero.clone()].concat()),
            ("r = s = n", [n.clone(), n.clone()].concat()),
            ("r = n, s = 1", [n.clone(), one.clone()].concat()),
            ("r = 1, s = n", [one.clone(), n.clone()].concat()),
            // DER for r = s = 0: SEQUENCE { INTEGER 0, INTEGER 0 }.
            (
                "DER-encoded zeros",
                vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00],
            ),
        ] {
            refused(
                &auth,
                &forge(&header, &claims(), &signature),
                &format!("{alg} {what}"),
            )
            .await;
        }
    }
}

/// CVE-2018-0114 (node-jose) trusted a key embedded in the token's `jwk`
/// header; many libraries since fetched `jku`/`x5u` URLs the token named.
/// Catalogue row 5. The URLs point at a server this test runs: it must never
/// be asked for anything.
#[actix_web::test]
async fn cve_2018_0114_keys_named_by_the_token_are_never_used() {
    let server = JwksServer::start(vec![]).await;
    let attacker = pem_key("p256.pem");
    let auth = on_clock(Authenticator::new(pem_key("rsa.pub.pem")));
    let jwk = attacker.to_public_jwk().unwrap();
    for (what, header) in [
        ("jwk", json!({"alg": "ES256", "jwk": jwk})),
        ("jku", json!({"alg": "ES256", "jku": server.url()})),
        ("x5u", json!({"alg": "ES256", "x5u": server.url()})),
        (
            "x5c",
            json!({"alg": "ES256", "x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]}),
        ),
        (
            "all at once",
            json!({"alg": "ES256", "jwk": jwk, "jku": server.url(), "x5u": server.url()}),
        ),
    ] {
        let token = forge_signed(&header.to_string(), &claims(), &attacker).unwrap();
        refused(&auth, &token, what).await;
    }
    // The authenticator is ready at once for a static key, so any fetch
    // would have happened before the replies came back.
    assert_eq!(server.received(), 0, "a URL named by a token was fetched");
}

/// golang-jwt CVE-2025-30204: a header of many `.` characters made the
/// parser allocate per part. Catalogue rows 9 and 11. `limits.rs` measures
/// that refusing such a token allocates nothing proportional to it.
#[actix_web::test]
async fn cve_2025_30204_many_periods() {
    let auth = on_clock(Authenticator::new(
        Key::hmac(b"cve-secret-0123456789abcdef-0123456789").unwrap(),
    ));
    for token in [".".repeat(8000), "a.".repeat(4000), ".".repeat(100_000)] {
        refused(&auth, &token, "periods").await;
    }
}

/// Nimbus JOSE+JWT CVE-2025-53864: deeply nested JSON in the claims of a
/// validly signed token overflowed the stack. Catalogue row 12. The token
/// limit is raised so that 200 000 levels fit; the server keeps serving.
#[actix_web::test]
async fn cve_2025_53864_deeply_nested_claims() {
    let key = Key::hmac(b"cve-secret-0123456789abcdef-0123456789").unwrap();
    let auth = on_clock(Authenticator::new(key.clone())).max_token_len(1 << 20);
    let depth = 200_000;
    let nested = format!(
        r#"{{"sub":"a","exp":{},"x":{}{}}}"#,
        NOW + 600,
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let token = forge_signed(r#"{"alg":"HS256"}"#, &nested, &key).unwrap();
    refused(&auth, &token, "nested claims").await;
    let nested_header = format!(
        r#"{{"alg":"HS256","x":{}{}}}"#,
        "{\"a\":".repeat(depth),
        "}".repeat(depth)
    );
    let token = forge_signed(&nested_header, &claims(), &key).unwrap();
    refused(&auth, &token, "nested header").await;
    let fine = forge_signed(r#"{"alg":"HS256"}"#, &claims(), &key).unwrap();
    assert_eq!(both(&auth, &fine).await.status, 200, "still serving");
}

/// CVE-2021-34532 (ASP.NET Core): a JWT that failed validation was written
/// to the log. Every kind of refusal here is logged at TRACE, and the
/// errors' `Debug` and `Display` are logged too; no token or part of one
/// appears.
#[actix_web::test]
async fn cve_2021_34532_refused_tokens_never_reach_the_logs() {
    let secret = b"cve-secret-0123456789abcdef-0123456789";
    let key = Key::hmac(secret).unwrap();
    let auth = on_clock(Authenticator::new(key.clone()))
        .issuer("https://issuer.test")
        .audience("api");
    let sign = |claims: serde_json::Value| {
        forge_signed(r#"{"alg":"HS256"}"#, &claims.to_string(), &key).unwrap()
    };
    let base = json!({"sub": "alice-subject", "iss": "https://issuer.test", "aud": "api", "exp": NOW + 600});
    let with = |k: &str, v: serde_json::Value| {
        let mut c = base.clone();
        c[k] = v;
        sign(c)
    };
    let good = sign(base.clone());
    let tokens = [
        with("exp", json!(NOW - 3600)),
        with("nbf", json!(NOW + 3600)),
        with("iss", json!("https://evil.test")),
        with("aud", json!("other")),
        with("exp", json!("soon")),
        format!("{}x", &good[..good.len() - 1]),
        format!("{good}.extra"),
        good.replace('.', "!"),
        hmac_token(
            r#"{"alg":"HS256"}"#,
            b"another-secret-another-secret-another",
        ),
        forge(r#"{"alg":"none"}"#, &claims(), b""),
        forge_signed(r#"{"alg":"HS256","crit":["exp"]}"#, &claims(), &key).unwrap(),
    ];
    let (capture, guard) = Capture::everything();
    for token in &tokens {
        refused(&auth, token, "a refused token").await;
        let error = auth.verify(token).unwrap_err();
        tracing::error!(?error, %error, "the application logs the error");
    }
    assert_eq!(both(&auth, &good).await.status, 200);
    let verified = auth.verify(&good).unwrap();
    tracing::info!(?verified, "the application logs the verified token");
    drop(guard);
    let logs = capture.text();
    assert!(
        logs.contains("request refused"),
        "refusals are logged: {logs}"
    );
    assert!(logs.contains("the application logs the error"));
    for token in tokens.iter().chain([&good]) {
        for part in token.split(['.', '!']).filter(|p| p.len() >= 8) {
            assert!(
                !logs.contains(part),
                "part of a token reached the logs: {part}"
            );
        }
    }
    assert!(
        !logs.contains("alice-subject"),
        "sub is not logged by default"
    );
    assert!(!logs.contains(std::str::from_utf8(secret).unwrap()));
}
