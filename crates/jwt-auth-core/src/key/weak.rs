//! Public keys built from their raw parts, and the checks that refuse weak
//! ones or ones the crypto backend cannot use: RSA size and exponent, ROCA,
//! EC points on their curve, Ed25519 points of small order.

use jsonwebtoken::{DecodingKey, EncodingKey};

use super::{Key, KeyError, KeyErrorKind, KeyFamily};

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// The largest RSA modulus the crypto backend can verify with, in bits:
/// 8192 with aws-lc-rs, 4096 with the RustCrypto `rsa` crate. Larger keys
/// are refused at load, since no signature could ever verify with them.
#[cfg(feature = "aws_lc_rs")]
pub const MAX_RSA_BITS: usize = 8192;
/// The largest RSA modulus the crypto backend can verify with, in bits:
/// 8192 with aws-lc-rs, 4096 with the RustCrypto `rsa` crate. Larger keys
/// are refused at load, since no signature could ever verify with them.
#[cfg(not(feature = "aws_lc_rs"))]
pub const MAX_RSA_BITS: usize = 4096;

/// The largest RSA public exponent either backend verifies with, in bits
/// (e < 2³³).
pub(super) const MAX_RSA_EXPONENT_BITS: usize = 33;

pub(super) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

pub(super) fn rsa_public_key(
    n: &[u8],
    e: &[u8],
    encoding: Option<EncodingKey>,
) -> Result<Key, KeyError> {
    let n = strip_leading_zeros(n);
    let e = strip_leading_zeros(e);
    let bits = match n.first() {
        Some(&top) => n.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if bits < MIN_RSA_BITS {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            format!("RSA key is {bits} bits; at least {MIN_RSA_BITS} are required"),
        ));
    }
    if bits > MAX_RSA_BITS {
        return Err(KeyError::new(
            KeyErrorKind::Unsupported,
            format!(
                "RSA key is {bits} bits; the crypto backend verifies with at most \
                 {MAX_RSA_BITS}"
            ),
        ));
    }
    let e_odd = e.last().is_some_and(|b| b & 1 == 1);
    if !e_odd || (e.len() == 1 && e[0] < 3) {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            "RSA public exponent must be odd and at least 3",
        ));
    }
    let e_bits = match e.first() {
        Some(&top) => e.len() * 8 - top.leading_zeros() as usize,
        None => 0,
    };
    if e_bits > MAX_RSA_EXPONENT_BITS {
        return Err(KeyError::new(
            KeyErrorKind::Unsupported,
            format!(
                "RSA public exponent is {e_bits} bits; the crypto backend verifies with at \
                 most {MAX_RSA_EXPONENT_BITS}"
            ),
        ));
    }
    if crate::roca::has_roca_fingerprint(n) {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            "RSA modulus has the ROCA fingerprint (CVE-2017-15361)",
        ));
    }
    Ok(Key::build(
        KeyFamily::Rsa,
        DecodingKey::from_rsa_raw_components(n, e),
        encoding,
        0,
    ))
}

pub(super) fn ec_public_key(
    family: KeyFamily,
    point: &[u8],
    encoding: Option<EncodingKey>,
) -> Result<Key, KeyError> {
    let coordinate = if family == KeyFamily::EcP256 { 32 } else { 48 };
    if point.len() != 1 + 2 * coordinate || point[0] != 4 {
        return Err(KeyError::invalid(
            "EC public key must be an uncompressed point of its curve's size",
        ));
    }
    if !backend::ec_point_is_valid(family, point) {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            "EC public key is not a point on its curve",
        ));
    }
    Ok(Key::build(
        family,
        DecodingKey::from_ec_der(point),
        encoding,
        0,
    ))
}

/// The encodings of the eight Ed25519 points of small order, and their
/// non-canonical forms, compared without the sign bit (libsodium's
/// `ge25519_has_small_order` list). With such a public key, one fixed
/// signature (R of small order, S = 0) verifies every message, and neither
/// backend refuses the key by itself.
pub(super) const ED25519_SMALL_ORDER: [[u8; 32]; 7] = [
    // 0 (order 4)
    [0; 32],
    // 1 (order 1)
    [
        0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0,
    ],
    // 2707385501144840649318225287225658788936804267575313519463743609750303402022 (order 8)
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    // 55188659117513257062467267217118295137698188065244968500265048394206261417927 (order 8)
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    // p - 1 (order 2)
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p (= 0, order 4)
    [
        0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    // p + 1 (= 1, order 1)
    [
        0xee, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
];

/// Whether the 32-byte Ed25519 public key `public` has small order.
pub(super) fn ed25519_has_small_order(public: &[u8; 32]) -> bool {
    ED25519_SMALL_ORDER
        .iter()
        .any(|bad| bad[..31] == public[..31] && bad[31] == public[31] & 0x7f)
}

pub(super) fn ed25519_public_key(
    public: &[u8],
    encoding: Option<EncodingKey>,
) -> Result<Key, KeyError> {
    let Ok(bytes) = <&[u8; 32]>::try_from(public) else {
        return Err(KeyError::invalid("Ed25519 public key must be 32 bytes"));
    };
    if ed25519_has_small_order(bytes) {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            "Ed25519 public key of small order (any signature could verify)",
        ));
    }
    if !backend::ed25519_point_is_valid(public) {
        return Err(KeyError::new(
            KeyErrorKind::Weak,
            "Ed25519 public key is not a valid point",
        ));
    }
    Ok(Key::build(
        KeyFamily::Ed25519,
        DecodingKey::from_ed_der(public),
        encoding,
        0,
    ))
}

/// Checks that need the crypto backend directly.
pub(super) mod backend {
    use super::KeyFamily;

    #[cfg(feature = "aws_lc_rs")]
    pub(super) fn ec_point_is_valid(family: KeyFamily, point: &[u8]) -> bool {
        use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED};
        let alg = if family == KeyFamily::EcP256 {
            &ECDSA_P256_SHA256_FIXED
        } else {
            &ECDSA_P384_SHA384_FIXED
        };
        aws_lc_rs::signature::ParsedPublicKey::new(alg, point).is_ok()
    }

    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    pub(super) fn ec_point_is_valid(family: KeyFamily, point: &[u8]) -> bool {
        if family == KeyFamily::EcP256 {
            p256::PublicKey::from_sec1_bytes(point).is_ok()
        } else {
            p384::PublicKey::from_sec1_bytes(point).is_ok()
        }
    }

    #[cfg(feature = "aws_lc_rs")]
    pub(super) fn ed25519_point_is_valid(public: &[u8]) -> bool {
        aws_lc_rs::signature::ParsedPublicKey::new(&aws_lc_rs::signature::ED25519, public).is_ok()
    }

    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    pub(super) fn ed25519_point_is_valid(public: &[u8]) -> bool {
        <[u8; 32]>::try_from(public)
            .is_ok_and(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JWK of the small-order point 1 (the identity), and a token with
    /// R = identity, S = 0 that verifies under it with both backends.
    const IDENTITY_JWK: &str =
        r#"{"kty":"OKP","crv":"Ed25519","x":"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#;

    #[test]
    fn ed25519_keys_of_small_order_are_refused() {
        assert_eq!(
            Key::from_jwk(IDENTITY_JWK)
                .map(|_| ())
                .map_err(|e| e.kind()),
            Err(KeyErrorKind::Weak)
        );
        let set = format!(r#"{{"keys":[{IDENTITY_JWK}]}}"#);
        assert!(crate::KeySet::from_jwks(&set).is_err());
        // Every listed encoding, with and without the sign bit.
        for bad in ED25519_SMALL_ORDER {
            for sign in [0, 0x80] {
                let mut x = bad;
                x[31] |= sign;
                assert!(ed25519_public_key(&x, None).is_err(), "{x:02x?}");
            }
        }
        // A real key still loads.
        let real = Key::from_pem(
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n",
        );
        assert!(real.is_ok());
    }

    /// The list agrees with ed25519-dalek's `is_weak` on every encoding that
    /// decompresses, and on random keys.
    #[cfg(feature = "rust_crypto")]
    #[test]
    fn the_small_order_list_matches_ed25519_dalek() {
        let mut weak_points = 0;
        for bad in ED25519_SMALL_ORDER {
            for sign in [0, 0x80] {
                let mut x = bad;
                x[31] |= sign;
                if let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&x) {
                    assert!(key.is_weak(), "{x:02x?}");
                    weak_points += 1;
                }
            }
        }
        assert!(weak_points >= 8, "{weak_points}");
        for seed in 0u8..64 {
            let signing = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
            let public = signing.verifying_key().to_bytes();
            assert!(!ed25519_has_small_order(&public));
            assert!(!signing.verifying_key().is_weak());
        }
    }
}
