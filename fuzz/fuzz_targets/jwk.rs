//! JWK (`Key::from_jwk`) and JWK Set (`KeySet::from_jwks`,
//! `KeySet::from_jwks_with_refusals`) parsing. The input is the JSON text.
#![no_main]

use std::collections::HashSet;

use jwt_auth_core::{Algorithm, Key, KeyFamily, KeySet};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0";

/// The canonical encodings of the 8 points of small order on edwards25519
/// (libsodium's blocklist, canonical part).
const SMALL_ORDER: [[u8; 32]; 8] = {
    let mut points = [[0u8; 32]; 8];
    // identity (order 1)
    points[0][0] = 1;
    // (0, -1), order 2: y = p - 1
    let mut p2 = [0xffu8; 32];
    p2[0] = 0xec;
    p2[31] = 0x7f;
    points[1] = p2;
    // (±sqrt(-1), 0), order 4: y = 0, sign bit 0 (points[2], all zero) or 1
    points[3][31] = 0x80;
    // order 8
    points[4] = [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ];
    points[5] = points[4];
    points[5][31] |= 0x80;
    points[6] = [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ];
    points[7] = points[6];
    points[7][31] |= 0x80;
    points
};

/// Signatures that verify for every message under a public key of small
/// order: `R` a small-order point, `S = 0` (then `[S]B - [k]A` is one of the
/// 8 small-order points, whatever `k`). A weak-key check must make every one
/// of them fail.
fn small_order_forgeries() -> impl Iterator<Item = [u8; 64]> {
    SMALL_ORDER.iter().map(|r| {
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(r);
        sig
    })
}

/// What every loaded key must satisfy.
fn check_key(key: &Key) {
    let family = key.family();
    let algorithms = key.algorithms();
    assert!(!algorithms.is_empty(), "a key with no algorithm");
    for alg in algorithms {
        assert!(
            family.algorithms().contains(alg),
            "{alg:?} on a {family:?} key"
        );
        assert!(key.allows(*alg));
        // Garbage never verifies (and never panics), whatever the key material.
        assert!(!key.verify_signature(*alg, MESSAGE, b""));
        assert!(!key.verify_signature(*alg, MESSAGE, &[0u8; 64]));
        if *alg == Algorithm::EdDSA {
            for sig in small_order_forgeries() {
                assert!(
                    !key.verify_signature(*alg, MESSAGE, &sig),
                    "an Ed25519 key of small order was loaded: a fixed signature verifies \
                     any message (R = {:02x?}, S = 0)",
                    &sig[..32]
                );
            }
        }
    }
    for other in [
        Algorithm::HS256,
        Algorithm::RS256,
        Algorithm::ES256,
        Algorithm::EdDSA,
    ] {
        if !algorithms.contains(&other) {
            assert!(!key.allows(other));
        }
    }
    // The public JWK loads back as the same verification key; secrets are
    // never exported.
    match key.to_public_jwk() {
        None => assert_eq!(family, KeyFamily::Hmac, "no public JWK for {family:?}"),
        Some(jwk) => {
            assert_ne!(family, KeyFamily::Hmac, "an HMAC secret was exported");
            for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
                assert!(jwk.get(private).is_none(), "public JWK holds `{private}`");
            }
            let back = Key::from_jwk_value(&jwk).expect("an exported JWK loads back");
            assert_eq!(back.family(), family);
            assert_eq!(back.kid(), key.kid());
            if let [alg] = algorithms {
                assert_eq!(back.algorithms(), &[*alg]);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // A JWK Set.
    let set = KeySet::from_jwks(text);
    let with_refusals = KeySet::from_jwks_with_refusals(text);
    assert_eq!(set.is_ok(), with_refusals.is_ok());
    if let (Ok(set), Ok((same, refused))) = (&set, &with_refusals) {
        let keys = set.keys();
        assert!(!keys.is_empty(), "an empty key set loaded");
        assert_eq!(keys.len(), same.keys().len());
        // Every entry is either loaded or refused, exactly once.
        let doc: Value = serde_json::from_str(text).expect("a loaded set is JSON");
        let entries = doc["keys"].as_array().map_or(0, Vec::len);
        assert_eq!(keys.len() + refused.len(), entries);
        // No shared `kid`, no HMAC mixed with asymmetric keys.
        let mut kids = HashSet::new();
        for key in keys {
            if let Some(kid) = key.kid() {
                assert!(kids.insert(kid), "two keys share a kid");
            }
            check_key(key);
        }
        let symmetric = keys
            .iter()
            .filter(|k| k.family() == KeyFamily::Hmac)
            .count();
        assert!(symmetric == 0 || symmetric == keys.len(), "mixed key set");
    }

    // A single JWK, and the same JWK as a one-key set: they agree.
    let single = Key::from_jwk(text);
    if let Ok(key) = &single {
        check_key(key);
    }
    if serde_json::from_str::<Value>(text).is_ok() {
        let wrapped = format!("{{\"keys\":[{text}]}}");
        let one = KeySet::from_jwks_with_refusals(&wrapped);
        assert_eq!(
            single.is_ok(),
            one.is_ok(),
            "Key::from_jwk and a one-key set disagree"
        );
        if let (Ok(key), Ok((set, refused))) = (&single, &one) {
            assert!(refused.is_empty());
            let [loaded] = set.keys() else {
                panic!("a one-key set loaded {} keys", set.keys().len());
            };
            assert_eq!(loaded.family(), key.family());
            assert_eq!(loaded.algorithms(), key.algorithms());
            assert_eq!(loaded.kid(), key.kid());
        }
    }
});
