//! Key loading: every supported format, and refusal of weak keys with a clear
//! error.
#![allow(missing_docs, clippy::unwrap_used)]

use jwt_auth_core::{Algorithm, Key, KeyErrorKind, KeyFamily, KeySet};
use jwt_auth_tests::fixture;
use serde_json::json;

fn roundtrip(signer: &Key, verifier: &Key) {
    let token = signer
        .encode(&json!({"sub": "x", "exp": 4_000_000_000u64}))
        .unwrap();
    let set = KeySet::new([verifier.clone()]).unwrap();
    set.verify_compact(&token, 8192, 16)
        .unwrap_or_else(|e| panic!("{verifier:?} refused a token of {signer:?}: {e}"));
}

#[test]
fn every_format_loads_with_its_default_algorithm() {
    let cases = [
        ("rsa.pem", KeyFamily::Rsa, Algorithm::RS256),
        ("rsa.pkcs1.pem", KeyFamily::Rsa, Algorithm::RS256),
        ("rsa.pub.pem", KeyFamily::Rsa, Algorithm::RS256),
        ("rsa.pkcs1.pub.pem", KeyFamily::Rsa, Algorithm::RS256),
        ("rsa.cert.pem", KeyFamily::Rsa, Algorithm::RS256),
        ("p256.pem", KeyFamily::EcP256, Algorithm::ES256),
        ("p256.sec1.pem", KeyFamily::EcP256, Algorithm::ES256),
        ("p256.pub.pem", KeyFamily::EcP256, Algorithm::ES256),
        ("p384.pem", KeyFamily::EcP384, Algorithm::ES384),
        ("p384.pub.pem", KeyFamily::EcP384, Algorithm::ES384),
        ("ed25519.pem", KeyFamily::Ed25519, Algorithm::EdDSA),
        ("ed25519.pub.pem", KeyFamily::Ed25519, Algorithm::EdDSA),
    ];
    for (file, family, alg) in cases {
        let key = Key::from_pem(fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(key.family(), family, "{file}");
        assert_eq!(key.algorithms(), &[alg], "{file}");
    }
    let der = Key::from_der(fixture("rsa.pub.der")).unwrap();
    assert_eq!(der.family(), KeyFamily::Rsa);
}

#[test]
fn private_keys_sign_and_public_halves_verify() {
    for (private, public) in [
        ("rsa.pem", "rsa.pub.pem"),
        ("rsa.pkcs1.pem", "rsa.cert.pem"),
        ("p256.pem", "p256.pub.pem"),
        ("p256.sec1.pem", "p256.pub.pem"),
        ("p384.pem", "p384.pub.pem"),
        ("ed25519.pem", "ed25519.pub.pem"),
    ] {
        let signer = Key::from_pem(fixture(private)).unwrap();
        assert!(signer.can_sign(), "{private}");
        roundtrip(&signer, &Key::from_pem(fixture(public)).unwrap());
        // A private key also verifies its own tokens.
        roundtrip(&signer, &signer);
    }
}

#[test]
fn weak_and_unsupported_keys_are_refused() {
    let weak = Key::from_pem(fixture("rsa1024.pub.pem")).unwrap_err();
    assert_eq!(weak.kind(), KeyErrorKind::Weak);
    assert!(weak.to_string().contains("1024 bits"), "{weak}");
    assert_eq!(
        Key::from_pem(fixture("rsa1024.pem")).unwrap_err().kind(),
        KeyErrorKind::Weak
    );
    assert_eq!(
        Key::from_pem(fixture("k256.pub.pem")).unwrap_err().kind(),
        KeyErrorKind::Unsupported
    );
    assert_eq!(Key::hmac(b"short").unwrap_err().kind(), KeyErrorKind::Weak);
    assert_eq!(
        Key::from_pem(b"not a pem").unwrap_err().kind(),
        KeyErrorKind::Invalid
    );
    assert_eq!(
        Key::from_der(b"\x30\x03\x02\x01\x01").unwrap_err().kind(),
        KeyErrorKind::Invalid
    );
}

#[test]
fn widening_stays_within_the_family() {
    let rsa = Key::from_pem(fixture("rsa.pub.pem")).unwrap();
    let wide = rsa
        .clone()
        .with_algorithms([Algorithm::RS256, Algorithm::PS512])
        .unwrap();
    assert_eq!(wide.algorithms(), &[Algorithm::RS256, Algorithm::PS512]);
    assert_eq!(
        rsa.clone()
            .with_algorithms([Algorithm::HS256])
            .unwrap_err()
            .kind(),
        KeyErrorKind::AlgorithmMismatch
    );
    let ec = Key::from_pem(fixture("p256.pub.pem")).unwrap();
    assert_eq!(
        ec.with_algorithms([Algorithm::ES384]).unwrap_err().kind(),
        KeyErrorKind::AlgorithmMismatch
    );
}

#[test]
fn keys_never_show_their_material() {
    let secret = "a-very-secret-hmac-key-of-enough-length!";
    let key = Key::hmac(secret).unwrap();
    let rsa = Key::from_pem(fixture("rsa.pem")).unwrap();
    for text in [
        format!("{key:?}"),
        format!("{rsa:?}"),
        format!("{:?}", KeySet::new([key.clone()]).unwrap()),
    ] {
        assert!(!text.contains(secret) && !text.contains("MII"), "{text}");
    }
}

#[test]
fn jwks_refuses_bad_keys_and_keeps_the_rest() {
    let token = Key::from_pem(fixture("p256.pem"))
        .unwrap()
        .with_kid("good")
        .encode(&json!({"exp": 4_000_000_000u64}))
        .unwrap();
    // Rebuild the P-256 public JWK from the PEM through the JWKS path.
    let p256 = p256_jwk();
    let jwks = json!({"keys": [
        p256,
        {"kty": "oct", "kid": "sym", "k": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"},
        {"kty": "EC", "kid": "enc", "use": "enc", "crv": "P-256", "x": p256["x"], "y": p256["y"]},
        {"kty": "EC", "kid": "ops", "key_ops": ["encrypt"], "crv": "P-256", "x": p256["x"], "y": p256["y"]},
        {"kty": "EC", "kid": "crv", "crv": "P-384", "x": p256["x"], "y": p256["y"]},
    ]})
    .to_string();
    let (set, refused) = KeySet::from_jwks_with_refusals(&jwks).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(refused.len(), 4, "{refused:?}");
    set.verify_compact(&token, 8192, 16).unwrap();
}

/// The public JWK of `p256.pem`, built by hand from the SPKI bytes.
fn p256_jwk() -> serde_json::Value {
    let pem = String::from_utf8(fixture("p256.pub.pem")).unwrap();
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let der = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap();
    let point = &der[der.len() - 65..];
    let enc =
        |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, b);
    json!({"kty": "EC", "kid": "good", "use": "sig", "alg": "ES256", "crv": "P-256",
           "x": enc(&point[1..33]), "y": enc(&point[33..])})
}

/// A PEM fixture's DER, standard base64 as in a JWK's `x5c`.
fn x5c(cert: &str) -> String {
    use base64::Engine as _;
    let pem = pem::parse(fixture(cert)).unwrap();
    base64::engine::general_purpose::STANDARD.encode(pem.contents())
}

/// SECURITY.md row 27 (RFC 7517 §4.7): the key in `x5c` must match the JWK's
/// own members.
#[test]
fn x5c_must_hold_the_jwk_key() {
    let rsa = Key::from_pem(fixture("rsa.pub.pem"))
        .unwrap()
        .to_public_jwk()
        .unwrap();
    let p256 = Key::from_pem(fixture("p256.pub.pem"))
        .unwrap()
        .to_public_jwk()
        .unwrap();
    let with = |jwk: &serde_json::Value, chain: serde_json::Value| {
        let mut jwk = jwk.clone();
        jwk["x5c"] = chain;
        Key::from_jwk_value(&jwk).map(|_| ()).map_err(|e| e.kind())
    };
    // The matching certificate (and any chain after it) is fine.
    assert_eq!(with(&rsa, json!([x5c("rsa.cert.pem")])), Ok(()));
    assert_eq!(
        with(&rsa, json!([x5c("rsa.cert.pem"), x5c("p256.cert.pem")])),
        Ok(())
    );
    assert_eq!(with(&p256, json!([x5c("p256.cert.pem")])), Ok(()));
    // Another key of the same family, or of another family: refused.
    assert_eq!(
        with(&rsa, json!([x5c("rsa-other.cert.pem")])),
        Err(KeyErrorKind::KeyMismatch)
    );
    assert_eq!(
        with(&rsa, json!([x5c("p256.cert.pem")])),
        Err(KeyErrorKind::KeyMismatch)
    );
    assert_eq!(
        with(&p256, json!([x5c("rsa.cert.pem")])),
        Err(KeyErrorKind::KeyMismatch)
    );
    // Not a certificate chain at all.
    for bad in [
        json!([]),
        json!("MIIB"),
        json!(["***"]),
        json!(["AAAA"]),
        json!([1]),
    ] {
        assert_eq!(with(&rsa, bad.clone()), Err(KeyErrorKind::Invalid), "{bad}");
    }
    // The same refusal in a JWK Set: that key is left out, the rest loads.
    let mut mismatched = rsa.clone();
    mismatched["x5c"] = json!([x5c("rsa-other.cert.pem")]);
    mismatched["kid"] = json!("bad");
    let mut good = p256.clone();
    good["kid"] = json!("good");
    let set = json!({"keys": [mismatched, good]}).to_string();
    let set = KeySet::from_jwks(&set).unwrap();
    assert_eq!(set.keys().len(), 1);
    assert_eq!(set.keys()[0].kid(), Some("good"));
}

/// RSA keys the crypto backend can never verify with are refused at load,
/// with a reason: a modulus over its maximum, an exponent over 33 bits.
#[test]
fn rsa_keys_the_backend_cannot_use_are_refused() {
    use base64::Engine as _;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let modulus = |bits: usize| {
        // An odd modulus of exactly `bits` bits (not a real key: loading
        // only measures it).
        let mut n = vec![0x5au8; bits / 8];
        n[0] = 0xc5;
        *n.last_mut().unwrap() |= 1;
        n
    };
    let jwk = |n: &[u8], e: &[u8]| json!({"kty": "RSA", "n": b64(n), "e": b64(e)});
    let load =
        |n: &[u8], e: &[u8]| Key::from_jwk_value(&jwk(n, e)).map_err(|e| (e.kind(), e.to_string()));

    let max = jwt_auth_core::MAX_RSA_BITS;
    assert!(load(&modulus(max), &[1, 0, 1]).is_ok(), "{max} bits load");
    for bits in [max + 8, 16_384] {
        let (kind, message) = load(&modulus(bits), &[1, 0, 1]).unwrap_err();
        assert_eq!(kind, KeyErrorKind::Unsupported, "{bits}");
        assert!(
            message.contains(&bits.to_string()) && message.contains("backend"),
            "{message}"
        );
    }
    // The largest exponent both backends take is 2^33 - 1.
    assert!(load(&modulus(2048), &[1, 0xff, 0xff, 0xff, 0xff]).is_ok());
    let sixty_three_bits = 0x7fff_ffff_ffff_ffffu64.to_be_bytes();
    for e in [&[3, 0, 0, 0, 1][..], &sixty_three_bits, &[1; 9]] {
        let (kind, message) = load(&modulus(2048), e).unwrap_err();
        assert_eq!(kind, KeyErrorKind::Unsupported, "{e:?}");
        assert!(message.contains("exponent"), "{message}");
    }
}
