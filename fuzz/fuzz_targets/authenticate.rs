//! The whole `Authenticator::authenticate` path on an `http::Request`, with
//! fixed keys: an HMAC key set (sources `Authorization: Bearer`, then cookie
//! `jwt`), a P-256 public key and an RSA-2048 public key (RS256 and PS256).
//!
//! The first byte picks the mode (`'0'`, `'1'`, `'2'` in the seed files):
//! - `0`: the rest is raw header lines: `Authorization` values, or
//!   `cookie:`-prefixed lines for `Cookie` values (split on `\n`);
//! - `1`: the rest is `header \0 claims`, signed with HS256 by the fixed key
//!   and sent as `Authorization: Bearer`;
//! - `2`: the same, signed with ES256 by the P-256 key.
#![no_main]

use std::sync::LazyLock;

use http::HeaderValue;
use jwt_auth_core::adapter::extract_token;
use jwt_auth_core::test_util::b64url;
use jwt_auth_core::{Algorithm, AuthError, Authenticator, Key, TokenSource};
use jwt_auth_fuzz::{
    P256_PRIVATE_PEM, P256_PUBLIC_PEM, RSA_PUBLIC_PEM, Verdict, check_accepted, check_refusal,
    hmac_keyset, hmac_signer, lenient, ready, verdict,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    hmac: Authenticator,
    /// `hmac` with the verified-token cache on: it must never change an outcome.
    hmac_cached: Authenticator,
    ec: Authenticator,
    rsa: Authenticator,
    ec_signer: Key,
    hmac_signer: Key,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let sources = [TokenSource::AuthorizationBearer, TokenSource::cookie("jwt")];
    let hmac = lenient(hmac_keyset()).token_sources(sources);
    let rsa_key = Key::from_pem(RSA_PUBLIC_PEM)
        .expect("RSA fixture")
        .with_algorithms([Algorithm::RS256, Algorithm::PS256])
        .expect("RSA algorithms");
    Fixture {
        hmac_cached: hmac.clone().cache_capacity(4096),
        hmac,
        ec: lenient(Key::from_pem(P256_PUBLIC_PEM).expect("P-256 fixture")),
        rsa: lenient(rsa_key),
        ec_signer: Key::from_pem(P256_PRIVATE_PEM).expect("P-256 private fixture"),
        hmac_signer: hmac_signer(Algorithm::HS256),
    }
});

/// Authenticates `req` and checks what must hold whatever it holds.
fn check(auth: &Authenticator, req: &http::Request<()>) -> Verdict {
    let outcome = ready(auth.authenticate(req));
    match &outcome {
        Ok(Some(token)) => {
            check_accepted(token);
            let family = auth
                .keys()
                .static_keys()
                .and_then(|set| set.keys().first())
                .map(Key::family);
            let allowed = auth
                .keys()
                .static_keys()
                .zip(token.algorithm())
                .is_some_and(|(set, alg)| set.keys().iter().any(|k| k.allows(alg)));
            assert!(
                allowed,
                "{:?} accepted by a {family:?} key",
                token.algorithm()
            );
        }
        Ok(None) => {}
        Err(e) => check_refusal(auth, e),
    }

    // authenticate = extract, then verify.
    let max_len = 8192; // the default limit (8 KiB)
    let sources: &[TokenSource] =
        if std::ptr::eq(auth, &FIXTURE.hmac) || std::ptr::eq(auth, &FIXTURE.hmac_cached) {
            &[TokenSource::AuthorizationBearer, TokenSource::cookie("jwt")]
        } else {
            &[TokenSource::AuthorizationBearer]
        };
    let composed: Result<Option<_>, AuthError> = match extract_token(sources, req, max_len) {
        Ok(Some(token)) => auth.verify(&token).map(Some),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    let outcome = verdict(&outcome);
    assert_eq!(
        outcome,
        verdict(&composed),
        "authenticate ≠ extract + verify"
    );
    outcome
}

fn check_all(req: &http::Request<()>) -> [Verdict; 3] {
    let f = &*FIXTURE;
    let hmac = check(&f.hmac, req);
    let cached = check(&f.hmac_cached, req);
    assert_eq!(hmac, cached, "the cache changed the outcome");
    [hmac, check(&f.ec, req), check(&f.rsa, req)]
}

fn raw(rest: &[u8]) {
    let mut builder = http::Request::builder();
    for line in rest.split(|&b| b == b'\n') {
        let (name, value) = match line.strip_prefix(b"cookie:") {
            Some(value) => (http::header::COOKIE, value),
            None => (http::header::AUTHORIZATION, line),
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            builder = builder.header(name, value);
        }
    }
    if let Ok(req) = builder.body(()) {
        let _verdicts = check_all(&req);
    }
}

fn signed(rest: &[u8], ec: bool) {
    let f = &*FIXTURE;
    let (header, claims) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let input = format!("{}.{}", b64url(header), b64url(claims));
    let signer = if ec { &f.ec_signer } else { &f.hmac_signer };
    let signature = signer.sign_bytes(input.as_bytes()).expect("fixture signs");
    let token = format!("{input}.{}", b64url(&signature));
    let Ok(req) = http::Request::builder()
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(())
    else {
        return;
    };
    let [hmac, ec_verdict, rsa] = check_all(&req);
    // A token signed by one key is refused by every other key (no algorithm
    // confusion): the RSA key signed nothing here.
    assert!(rsa.is_err(), "RSA key accepted a token it did not sign");
    if ec {
        assert!(hmac.is_err(), "HMAC key accepted an ES256 token");
    } else {
        assert!(ec_verdict.is_err(), "P-256 key accepted an HS256 token");
    }
    // Accepted claims are the signed bytes.
    for v in [&hmac, &ec_verdict] {
        if let Ok(Some(accepted)) = v {
            let sent: serde_json::Value =
                serde_json::from_slice(claims).expect("accepted claims are JSON");
            assert_eq!(&sent, accepted);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => raw(rest),
        1 => signed(rest, false),
        _ => signed(rest, true),
    }
});
