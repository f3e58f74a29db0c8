//! Property tests over random inputs:
//!
//! - no input panics: arbitrary bearer tokens, cookie headers and JWK Set
//!   texts; token inputs get a 4xx from both adapters, never a 5xx;
//! - a token verifies only if its signature is valid under an allowed key and
//!   algorithm: random claims signed by the configured key are accepted; signed
//!   by another key, with a disallowed algorithm, or with any single character
//!   changed, they are refused;
//! - the adapters agree: random requests get the same `Reply` from axum and
//!   actix-web;
//! - no duration setting (leeway, token lifetimes, revocation TTLs, remote
//!   key-set timings), up to `Duration::MAX`, makes `authenticate`, issuing,
//!   refreshing or logging out panic (SECURITY.md row 30).
//!
//! 256 cases per property by default (a few seconds in a debug build);
//! `PROPTEST_CASES` overrides it.
#![allow(missing_docs, clippy::unwrap_used)]

use std::future::Future;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_auth_core::test_util::{b64url, forge, forge_signed, hmac_sha256};
use jwt_auth_core::{Algorithm, Authenticator, Key, KeySet, TokenSource};
use jwt_auth_tests::{
    NOW, Reply, TestRequest, authenticator, fixture, pem_key, via_actix, via_axum,
};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value, json};

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // Failing seeds go next to this file (tests/proptest.regressions),
        // not to a directory at the workspace root.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

thread_local! {
    /// One actix system (a Tokio current-thread runtime) per test thread: both
    /// adapters run on it, as in `#[actix_web::test]`.
    static SYSTEM: actix_web::rt::SystemRunner = actix_web::rt::System::new();
}

fn block_on<F: Future>(future: F) -> F::Output {
    SYSTEM.with(|system| system.block_on(future))
}

/// Both adapters' replies to `req`; they must be identical.
fn both(auth: &Authenticator, req: &TestRequest) -> Result<Reply, TestCaseError> {
    let (axum, actix) = block_on(async { (via_axum(auth, req).await, via_actix(auth, req).await) });
    prop_assert_eq!(&axum, &actix, "the adapters disagree on {:?}", req);
    Ok(axum)
}

// --- keys -------------------------------------------------------------------

const SECRET: &[u8; 64] = b"proptest-secret-0123456789abcdef-0123456789abcdef-0123456789abcd";

fn hs_key() -> Key {
    Key::hmac(SECRET).unwrap()
}

/// The configured keys, each with its authenticator (cache off, so every
/// case is verified from scratch).
struct Keys {
    hs: Authenticator,
    rs: Authenticator,
    es: Authenticator,
    /// Tokens signed once (RSA and ECDSA signing is slow in debug builds).
    rs_tokens: Vec<String>,
    es_tokens: Vec<String>,
}

static KEYS: LazyLock<Keys> = LazyLock::new(|| {
    let rsa = pem_key("rsa.pem");
    let p256 = pem_key("p256.pem");
    let claims = |i: u64| json!({"sub": format!("user-{i}"), "exp": NOW + 600 + i, "n": i});
    Keys {
        hs: authenticator(hs_key()).cache_capacity(0),
        rs: authenticator(pem_key("rsa.pub.pem")).cache_capacity(0),
        es: authenticator(pem_key("p256.pub.pem")).cache_capacity(0),
        rs_tokens: (0..3).map(|i| rsa.encode(&claims(i)).unwrap()).collect(),
        es_tokens: (0..3).map(|i| p256.encode(&claims(i)).unwrap()).collect(),
    }
});

// --- strategies -------------------------------------------------------------

/// A JSON leaf or a small nested value.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Claims that pass the default checks at `NOW`: a future `exp`, maybe a
/// past `nbf`/`iat`, a string `sub`, and random private claims.
fn valid_claims() -> impl Strategy<Value = Value> {
    (
        ".{0,16}",
        1u64..10_000_000,
        proptest::option::of(0u64..1_000_000),
        prop::collection::btree_map("[a-z_]{1,10}", json_value(), 0..5),
    )
        .prop_map(|(sub, exp, past, extra)| {
            let mut claims: Map<String, Value> = extra
                .into_iter()
                .filter(|(k, _)| {
                    !["exp", "nbf", "iat", "iss", "aud", "sub", "jti"].contains(&k.as_str())
                })
                .collect();
            claims.insert("sub".into(), sub.into());
            claims.insert("exp".into(), (NOW + exp).into());
            if let Some(past) = past {
                claims.insert("nbf".into(), (NOW - past).into());
                claims.insert("iat".into(), (NOW - past).into());
            }
            Value::Object(claims)
        })
}

/// A string that is a valid header value (no control characters but tab).
fn header_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..max).prop_map(|chars| {
        chars
            .into_iter()
            .filter(|&c| c == '\t' || (c >= ' ' && c != '\u{7f}'))
            .collect()
    })
}

/// Token-like text: random, base64url-ish three parts, or encoded JSON.
fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        header_text(80),
        "[A-Za-z0-9_.=+/ -]{0,80}",
        "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,60}",
        (
            ".{0,40}",
            ".{0,60}",
            prop::collection::vec(any::<u8>(), 0..64)
        )
            .prop_map(|(h, c, s)| forge(&h, &c, &s)),
        (json_value(), json_value()).prop_map(|(h, c)| forge(
            &h.to_string(),
            &c.to_string(),
            b"sig"
        )),
        (json_value(), json_value()).prop_map(|(h, c)| forge_signed(
            &h.to_string(),
            &c.to_string(),
            &hs_key()
        )
        .unwrap()),
    ]
}

/// `token` with the character at `at` replaced by another base64url character.
fn alter(token: &str, at: Index, shift: usize) -> String {
    let mut bytes = token.as_bytes().to_vec();
    let i = at.index(bytes.len());
    let current = B64URL.iter().position(|&b| b == bytes[i]).unwrap_or(0);
    bytes[i] = B64URL[(current + 1 + shift % (B64URL.len() - 1)) % B64URL.len()];
    String::from_utf8(bytes).unwrap()
}

/// The decoded parts, `None` if the text is not three base64url parts.
fn decoded(token: &str) -> Option<Vec<Vec<u8>>> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return None;
    }
    parts
        .iter()
        .map(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .collect()
}

// --- no input panics ----------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bearer_tokens_get_a_4xx(token in token_text()) {
        let auth = &KEYS.hs;
        prop_assert!(auth.verify(&token).is_err());
        for req in [
            TestRequest::get("/me").bearer(&token),
            TestRequest::get("/optional").bearer(&token),
            TestRequest::get("/me").header("authorization", token.clone()),
        ] {
            let reply = both(auth, &req)?;
            prop_assert!(
                (400..500).contains(&reply.status),
                "{:?} answered {}", req, reply.status
            );
            prop_assert!(reply.www_authenticate.is_some_and(|c| c.starts_with("Bearer")));
        }
    }

    #[test]
    fn arbitrary_cookie_headers_never_get_a_5xx(
        pairs in prop::collection::vec(
            (
                prop_oneof![Just("jwt".to_owned()), Just(" jwt ".to_owned()), "[a-z]{0,5}", header_text(8)],
                prop_oneof![token_text(), Just("\"\"".to_owned()), Just(String::new())],
                prop_oneof![Just("; "), Just(";"), Just(" ;\t"), Just(",")],
            ),
            0..5,
        ),
        claims in valid_claims(),
        with_valid in any::<bool>(),
    ) {
        let good = hs_key().encode(&claims).unwrap();
        let mut cookie = String::new();
        for (name, value, sep) in &pairs {
            cookie.push_str(&format!("{name}={value}{sep}"));
        }
        if with_valid {
            cookie.push_str(&format!("jwt={good}"));
        }
        let auth = KEYS.hs.clone().token_sources([TokenSource::cookie("jwt")]);
        for path in ["/me", "/optional"] {
            let req = TestRequest::get(path).header("cookie", cookie.clone());
            let reply = both(&auth, &req)?;
            prop_assert!(reply.status < 500, "{:?} answered {}", req, reply.status);
            if reply.status == 200 && path == "/me" {
                // Accepted: the cookie held the one valid token.
                prop_assert!(cookie.contains(&good), "200 for {:?}", cookie);
            }
        }
    }

    #[test]
    fn arbitrary_jwks_text_never_panics(
        text in prop_oneof![
            ".{0,200}",
            json_value().prop_map(|v| v.to_string()),
            prop::collection::vec(
                (
                    select(vec!["RSA", "EC", "OKP", "oct", "foo"]),
                    select(vec!["P-256", "P-384", "Ed25519", "secp256k1", ""]),
                    prop::collection::vec(any::<u8>(), 0..80),
                    prop::collection::vec(any::<u8>(), 0..80),
                    proptest::option::of(select(vec!["RS256", "ES256", "HS256", "EdDSA", "none"])),
                    proptest::option::of(select(vec!["sig", "enc"])),
                ),
                0..4,
            )
            .prop_map(|keys| {
                let keys: Vec<Value> = keys
                    .into_iter()
                    .map(|(kty, crv, a, b, alg, usage)| {
                        json!({
                            "kty": kty, "crv": crv, "alg": alg, "use": usage,
                            "x": b64url(&a), "y": b64url(&b), "n": b64url(&a), "e": b64url(&b), "k": b64url(&a),
                        })
                    })
                    .collect();
                json!({"keys": keys}).to_string()
            }),
        ]
    ) {
        if let Ok((set, refused)) = KeySet::from_jwks_with_refusals(&text) {
            prop_assert!(!set.keys().is_empty());
            let entries = serde_json::from_str::<Value>(&text).unwrap()["keys"]
                .as_array()
                .map_or(0, Vec::len);
            prop_assert_eq!(set.keys().len() + refused.len(), entries);
            for key in set.keys() {
                for alg in key.algorithms() {
                    prop_assert!(key.family().algorithms().contains(alg));
                }
            }
        }
        prop_assert_eq!(KeySet::from_jwks(&text).is_ok(), KeySet::from_jwks_with_refusals(&text).is_ok());
        let _ = Key::from_jwk(&text);
    }
}

// --- a token verifies only under an allowed key and algorithm -----------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tokens_signed_by_the_configured_key_verify(claims in valid_claims()) {
        let token = hs_key().encode(&claims).unwrap();
        let verified = KEYS.hs.verify(&token);
        prop_assert!(verified.is_ok(), "{:?}", verified);
        // The signed claims as JSON reads them back (serde_json may parse a
        // float one ULP away from the value it wrote).
        let signed: Value = serde_json::from_str(&claims.to_string()).unwrap();
        let verified = verified.unwrap();
        prop_assert_eq!(verified.claims_json(), &signed);
        // The same through a header the caller chose.
        let typ = forge_signed(r#"{"typ":"at+jwt","alg":"HS256"}"#, &claims.to_string(), &hs_key()).unwrap();
        prop_assert!(KEYS.hs.verify(&typ).is_ok());
    }

    #[test]
    fn tokens_signed_otherwise_are_refused(claims in valid_claims(), other in prop::collection::vec(any::<u8>(), 32..80)) {
        let text = claims.to_string();
        prop_assume!(other.as_slice() != SECRET.as_slice());
        let refused = |auth: &Authenticator, token: &str| -> Result<(), TestCaseError> {
            let outcome = auth.verify(token);
            prop_assert!(outcome.is_err(), "accepted {}", token);
            Ok(())
        };
        // Another secret.
        refused(&KEYS.hs, &Key::hmac(&other).unwrap().encode(&claims).unwrap())?;
        // The right secret with an algorithm the key does not allow.
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let key = hs_key().with_algorithms([alg]).unwrap();
            refused(&KEYS.hs, &key.encode(&claims).unwrap())?;
            // ...also when the header claims HS256.
            refused(&KEYS.hs, &forge_signed(r#"{"alg":"HS256"}"#, &text, &key).unwrap())?;
        }
        // `alg: none`, with and without a signature.
        refused(&KEYS.hs, &forge(r#"{"alg":"none"}"#, &text, b""))?;
        refused(&KEYS.hs, &forge(r#"{"alg":"none"}"#, &text, &other))?;
        // Algorithm confusion: HS256 keyed with the public key, against the
        // RSA and EC authenticators.
        for (auth, public) in [(&KEYS.rs, "rsa.pub.pem"), (&KEYS.es, "p256.pub.pem")] {
            let input = format!("{}.{}", b64url(br#"{"alg":"HS256"}"#), b64url(text.as_bytes()));
            let mac = hmac_sha256(&fixture(public), input.as_bytes());
            refused(auth, &format!("{input}.{}", b64url(&mac)))?;
            // And the HMAC-signed token itself.
            refused(auth, &hs_key().encode(&claims).unwrap())?;
        }
    }

    #[test]
    fn a_single_changed_character_is_refused(
        claims in valid_claims(),
        which in 0usize..3,
        pick in 0usize..3,
        at in any::<Index>(),
        shift in 0usize..63,
    ) {
        let k = &*KEYS;
        let (auth, token) = match which {
            0 => (&k.hs, hs_key().encode(&claims).unwrap()),
            1 => (&k.rs, k.rs_tokens[pick].clone()),
            _ => (&k.es, k.es_tokens[pick].clone()),
        };
        prop_assert!(auth.verify(&token).is_ok());
        let altered = alter(&token, at, shift);
        prop_assert_ne!(&altered, &token);
        // Skip a change that decodes to the very same bytes (it cannot happen
        // with strict base64url, but a lenient decoder would allow it).
        prop_assume!(decoded(&altered).is_none() || decoded(&altered) != decoded(&token));
        let outcome = auth.verify(&altered);
        prop_assert!(outcome.is_err(), "accepted {} (from {})", altered, token);
    }
}

// --- the adapters agree --------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_adapters_agree_on_random_requests(
        path in select(vec!["/me", "/optional", "/bare"]),
        authorization in proptest::option::of(prop_oneof![
            valid_claims().prop_map(|c| format!("Bearer {}", hs_key().encode(&c).unwrap())),
            (valid_claims(), any::<Index>(), 0usize..63)
                .prop_map(|(c, at, shift)| format!("Bearer {}", alter(&hs_key().encode(&c).unwrap(), at, shift))),
            token_text().prop_map(|t| format!("Bearer {t}")),
            (select(vec!["bearer", "BEARER", "Basic", "Bearer", "Token", ""]), select(vec![" ", "  ", "\t", ""]), token_text())
                .prop_map(|(s, sep, t)| format!("{s}{sep}{t}")),
            header_text(40),
        ]),
        twice in any::<bool>(),
        cookie in proptest::option::of(prop_oneof![
            valid_claims().prop_map(|c| format!("theme=dark; jwt={}", hs_key().encode(&c).unwrap())),
            header_text(60),
        ]),
        other in proptest::option::of(header_text(30)),
        cookie_source in any::<bool>(),
    ) {
        let mut req = TestRequest::get(path);
        if let Some(a) = &authorization {
            req = req.header("authorization", a.clone());
            if twice {
                req = req.header("authorization", a.clone());
            }
        }
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        if let Some(o) = other {
            req = req.header("x-other", o);
        }
        let auth = if cookie_source {
            KEYS.hs.clone().token_source(TokenSource::cookie("jwt"))
        } else {
            KEYS.hs.clone()
        };
        let reply = both(&auth, &req)?;
        if path == "/bare" {
            // No middleware on this route: the extractor answers 500.
            prop_assert_eq!(reply.status, 500);
        } else {
            prop_assert!(
                matches!(reply.status, 200 | 400 | 401),
                "{:?} answered {}", req, reply.status
            );
        }
        if twice && path == "/me" && authorization.as_deref().is_some_and(|a| a.get(..7).is_some_and(|p| p.eq_ignore_ascii_case("bearer "))) {
            // Two Authorization headers are never accepted.
            prop_assert_ne!(reply.status, 200);
        }
    }
}

// --- no duration setting panics (SECURITY.md row 30) ---------------------------

/// Durations from zero to `Duration::MAX`, biased towards the edges where
/// time arithmetic overflows.
fn any_duration() -> impl Strategy<Value = std::time::Duration> {
    use std::time::Duration;
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::MAX),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::from_secs(9_300_000_000_000_000_000)),
        (0u64..=u64::MAX, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..100_000_000).prop_map(Duration::from_secs),
        (0u64..=u64::MAX).prop_map(Duration::from_millis),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_duration_setting_makes_a_request_panic(
        leeway in any_duration(),
        access_ttl in any_duration(),
        refresh_ttl in any_duration(),
        revoke_ttl in any_duration(),
        cooldown in any_duration(),
        timeout in any_duration(),
        stale in any_duration(),
        exp_offset in -4_000_000_000i64..4_000_000_000,
    ) {
        use std::time::{Duration, UNIX_EPOCH};
        use jwt_auth_core::{MemoryStore, RemoteJwks, RevocationStore, TokenIssuer, TokenService};
        let clock = || UNIX_EPOCH + Duration::from_secs(NOW);
        // A token verified (and cached) under an arbitrary leeway, sent twice
        // so the second is a cache hit.
        let exp = (NOW as i64).saturating_add(exp_offset).max(0);
        let token = hs_key().encode(&json!({"sub": "a", "exp": exp})).unwrap();
        let auth = authenticator(hs_key()).leeway(leeway);
        let req = TestRequest::get("/me").bearer(&token);
        for _ in 0..2 {
            let reply = both(&auth, &req)?;
            prop_assert!(matches!(reply.status, 200 | 401), "{}", reply.status);
        }
        // Issuing, refreshing and logging out under arbitrary lifetimes, and
        // revocations stored for arbitrary TTLs.
        let store = MemoryStore::new();
        let issuer = TokenIssuer::new(hs_key()).unwrap()
            .access_ttl(access_ttl)
            .refresh_ttl(refresh_ttl)
            .clock(clock);
        let service = TokenService::with_store(issuer, store.clone());
        let verifier = service.authenticator().clock(clock).leeway(leeway);
        block_on(async {
            let pair = service.login("a", json!({})).await.unwrap();
            let next = service.refresh(pair.refresh.as_str()).await.unwrap();
            let _ = service.refresh(pair.refresh.as_str()).await;
            let verified = verifier.verify(next.access.as_str());
            if let Ok(verified) = verified {
                service.logout(&verified).await.unwrap();
            }
            store.revoke_token("j", revoke_ttl).await.unwrap();
            store.revoke_family("f", revoke_ttl).await.unwrap();
            // A revocation of a second or more is in force right after.
            let revoked = store.is_revoked(Some("j"), Some("f")).await.unwrap();
            prop_assert!(revoked || revoke_ttl < Duration::from_secs(1));
            // Remote key-set timings: out-of-range values are refused when
            // the builder runs, never later.
            let built = RemoteJwks::builder("http://127.0.0.1:9/jwks.json")
                .unknown_kid_cooldown(cooldown)
                .timeout(timeout)
                .max_stale(stale)
                .refresh_interval(cooldown)
                .retry_backoff(timeout, stale)
                .build();
            let in_bounds = !timeout.is_zero()
                && timeout <= jwt_auth_core::remote::MAX_FETCH_TIMEOUT
                && [cooldown, stale].iter().all(|d| *d <= jwt_auth_core::remote::MAX_REMOTE_DURATION);
            prop_assert_eq!(built.is_ok(), in_bounds, "cooldown {:?} timeout {:?} stale {:?}", cooldown, timeout, stale);
            Ok(())
        })?;
    }
}
