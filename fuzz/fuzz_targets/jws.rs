//! Compact JWS parsing (`KeySet::verify_compact`) and claims validation
//! (`Authenticator::verify`) with a fixed HMAC key (`kid` k1, HS256+HS384).
//!
//! The first byte picks the mode (`'0'`, `'1'`, `'2'` in the seed files):
//! - `0`: the rest is the token text (lossy UTF-8);
//! - `1`: the rest is `header \0 claims`, raw bytes, signed with HS256 by the
//!   fixed key, so arbitrary header and claims bytes get past the signature;
//! - `2`: the rest drives a structured generator (header and claims around
//!   the rules, signers good and bad, duplicates, damage), and an independent
//!   oracle says whether each layer must accept the token.
#![no_main]

use std::sync::LazyLock;

use arbitrary::Unstructured;
use jwt_auth_core::test_util::b64url;
use jwt_auth_core::{Algorithm, AuthError, Authenticator, KeySet, VerifiedJws, VerifiedToken};
use jwt_auth_fuzz::{
    KID, TYP, check_accepted, check_refusal, decode_b64url, generate, hmac_keyset, hmac_signer,
    issuer_audience_acceptable, lenient, media_type_eq, strict,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const MAX_LEN: usize = 8192;
const MAX_DEPTH: usize = 16;

struct Fixture {
    keys: KeySet,
    lenient: Authenticator,
    strict: Authenticator,
    /// Like `lenient` with the verified-token cache on: it must never change
    /// an outcome.
    cached: Authenticator,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let keys = hmac_keyset();
    Fixture {
        lenient: lenient(keys.clone()),
        strict: strict(keys.clone()),
        cached: lenient(keys.clone()).cache_capacity(4096),
        keys,
    }
});

struct Outcome {
    jws: Result<VerifiedJws, AuthError>,
    lenient: Result<VerifiedToken, AuthError>,
    strict: Result<VerifiedToken, AuthError>,
}

fn kind<T>(r: &Result<T, AuthError>) -> Option<jwt_auth_core::AuthErrorKind> {
    r.as_ref().err().map(AuthError::kind)
}

/// Runs every layer on `token` and checks what must hold whatever it is.
fn check(token: &str) -> Outcome {
    let f = &*FIXTURE;
    let jws = f.keys.verify_compact(token, MAX_LEN, MAX_DEPTH);
    let again = f.keys.verify_compact(token, MAX_LEN, MAX_DEPTH);
    assert_eq!(
        kind(&jws),
        kind(&again),
        "verify_compact is not deterministic"
    );
    let lenient = f.lenient.verify(token);
    let strict = f.strict.verify(token);
    let cached = f.cached.verify(token);

    assert_eq!(
        kind(&lenient),
        kind(&cached),
        "the cache changed the outcome"
    );
    if let (Ok(a), Ok(b)) = (&lenient, &cached) {
        assert_eq!(a.claims_json(), b.claims_json());
    }
    for (auth, r) in [(&f.lenient, &lenient), (&f.strict, &strict)] {
        if let Err(e) = r {
            check_refusal(auth, e);
            assert_eq!(e.status().as_u16(), 401, "verify refused with {e:?}");
        }
    }
    if let Err(e) = &jws {
        assert_eq!(
            e.status().as_u16(),
            401,
            "verify_compact refused with {e:?}"
        );
    }
    assert!(token.len() <= MAX_LEN || jws.is_err());

    // Layering: strict ⇒ lenient ⇒ signature.
    assert!(
        strict.is_err() || lenient.is_ok(),
        "strict accepted, lenient refused"
    );
    assert!(
        lenient.is_err() || jws.is_ok(),
        "claims accepted, signature refused"
    );

    if let Ok(v) = &jws {
        let alg = v.header().alg();
        assert!(
            alg == Algorithm::HS256 || alg == Algorithm::HS384,
            "verified with {alg:?}"
        );
        assert!(v.kid().is_none() || v.kid() == Some(KID));
        let mut parts = token.split('.');
        let (_, payload) = (parts.next(), parts.next());
        assert_eq!(
            decode_b64url(payload.unwrap_or_default()).as_deref(),
            Some(v.payload()),
            "payload is not the decoded middle part"
        );
    }
    if let (Ok(t), Ok(v)) = (&lenient, &jws) {
        check_accepted(t);
        assert_eq!(t.algorithm(), Some(v.header().alg()));
        let claims: Value = serde_json::from_slice(v.payload()).expect("accepted claims are JSON");
        assert_eq!(t.claims_json(), &claims);
        assert!(
            v.header()
                .typ()
                .is_none_or(|typ| !media_type_eq(typ, "refresh+jwt")),
            "a refresh token authenticated"
        );
    }
    if let (Ok(t), Ok(v)) = (&strict, &jws) {
        assert!(issuer_audience_acceptable(t.claims_map()));
        assert!(v.header().typ().is_some_and(|typ| media_type_eq(typ, TYP)));
    }
    Outcome {
        jws,
        lenient,
        strict,
    }
}

fn raw(rest: &[u8]) {
    check(&String::from_utf8_lossy(rest));
}

fn signed_bytes(rest: &[u8]) {
    let (header, claims) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b""[..]),
    };
    let input = format!("{}.{}", b64url(header), b64url(claims));
    let signature = hmac_signer(Algorithm::HS256)
        .sign_bytes(input.as_bytes())
        .expect("the fixed key signs");
    let token = format!("{input}.{}", b64url(&signature));
    let outcome = check(&token);
    if let Ok(v) = &outcome.jws {
        assert_eq!(v.payload(), claims);
        assert_eq!(v.header().alg(), Algorithm::HS256);
    }

    // The same token with one signature bit flipped is refused everywhere.
    let mut bad = signature;
    let i = usize::from(header.first().copied().unwrap_or(0)) % bad.len();
    bad[i] ^= 1;
    let forged = format!("{input}.{}", b64url(&bad));
    let outcome = check(&forged);
    assert!(outcome.jws.is_err() && outcome.lenient.is_err());
}

fn structured(rest: &[u8]) {
    let mut u = Unstructured::new(rest);
    let Ok(g) = generate(&mut u) else {
        return;
    };
    let outcome = check(&g.token);
    assert_eq!(
        outcome.jws.is_ok(),
        g.signature_accepts(),
        "signature layer: {:?} for {g:#?}",
        kind(&outcome.jws)
    );
    assert_eq!(
        outcome.lenient.is_ok(),
        g.lenient_accepts(),
        "lenient: {:?} for {g:#?}",
        kind(&outcome.lenient)
    );
    assert_eq!(
        outcome.strict.is_ok(),
        g.strict_accepts(),
        "strict: {:?} for {g:#?}",
        kind(&outcome.strict)
    );
    if let Ok(t) = &outcome.lenient {
        assert_eq!(t.claims_map(), &g.claims);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => raw(rest),
        1 => signed_bytes(rest),
        _ => structured(rest),
    }
});
