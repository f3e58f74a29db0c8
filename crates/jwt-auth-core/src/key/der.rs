//! Keys from DER structures: SPKI, X.509 certificates, PKCS#1, PKCS#8 and
//! SEC1 (what PEM blocks hold).

use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::EllipticCurve;
use pkcs8::der::{Decode, Encode};

use super::weak::{ec_public_key, ed25519_public_key, rsa_public_key};
use super::{Key, KeyError, KeyErrorKind, KeyFamily, provider};

pub(super) const OID_RSA: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
pub(super) const OID_EC: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
pub(super) const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
pub(super) const OID_P384: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");
pub(super) const OID_ED25519: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

pub(super) fn ec_family(
    params: Option<pkcs8::der::asn1::AnyRef<'_>>,
) -> Result<KeyFamily, KeyError> {
    let curve = params
        .and_then(|p| p.decode_as::<pkcs8::ObjectIdentifier>().ok())
        .ok_or_else(|| KeyError::invalid("EC key without a named curve"))?;
    if curve == OID_P256 {
        Ok(KeyFamily::EcP256)
    } else if curve == OID_P384 {
        Ok(KeyFamily::EcP384)
    } else {
        Err(KeyError::new(
            KeyErrorKind::Unsupported,
            "unsupported EC curve (P-256 and P-384 are supported)",
        ))
    }
}

pub(super) fn from_spki(der: &[u8]) -> Result<Key, KeyError> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid SubjectPublicKeyInfo"))?;
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| KeyError::invalid("public key bit string is not byte-aligned"))?;
    let oid = spki.algorithm.oid;
    if oid == OID_RSA {
        from_pkcs1_public(bits)
    } else if oid == OID_EC {
        let family = ec_family(spki.algorithm.parameters)?;
        ec_public_key(family, bits, None)
    } else if oid == OID_ED25519 {
        ed25519_public_key(bits, None)
    } else {
        Err(KeyError::new(
            KeyErrorKind::Unsupported,
            "unsupported public key algorithm",
        ))
    }
}

pub(super) fn from_certificate(der: &[u8]) -> Result<Key, KeyError> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid X.509 certificate"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| KeyError::invalid("certificate public key cannot be re-encoded"))?;
    from_spki(&spki)
}

pub(super) fn from_pkcs1_public(der: &[u8]) -> Result<Key, KeyError> {
    let key = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#1 RSA public key"))?;
    rsa_public_key(key.modulus.as_bytes(), key.public_exponent.as_bytes(), None)
}

pub(super) fn from_pkcs1_private(der: &[u8]) -> Result<Key, KeyError> {
    let key = pkcs1::RsaPrivateKey::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#1 RSA private key"))?;
    rsa_public_key(
        key.modulus.as_bytes(),
        key.public_exponent.as_bytes(),
        Some(EncodingKey::from_rsa_der(der)),
    )
}

pub(super) fn from_pkcs8(der: &[u8]) -> Result<Key, KeyError> {
    let info = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#8 private key"))?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        from_pkcs1_private(info.private_key)
    } else if oid == OID_EC {
        let family = ec_family(info.algorithm.parameters)?;
        let alg = family.default_algorithm();
        let (_, x, y) =
            (provider().key_utils.ec_pub_components_from_private_key)(der, alg.to_jsonwebtoken())
                .map_err(|_| KeyError::invalid("not a valid EC private key"))?;
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(4);
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        ec_public_key(family, &point, Some(EncodingKey::from_ec_der(der)))
    } else if oid == OID_ED25519 {
        let public =
            (provider().key_utils.ed_pub_components_from_private_key)(der, &EllipticCurve::Ed25519)
                .map_err(|_| KeyError::invalid("not a valid Ed25519 private key"))?;
        ed25519_public_key(&public, Some(EncodingKey::from_ed_der(der)))
    } else {
        Err(KeyError::new(
            KeyErrorKind::Unsupported,
            "unsupported private key algorithm",
        ))
    }
}

pub(super) fn from_sec1(der: &[u8]) -> Result<Key, KeyError> {
    let key = sec1::EcPrivateKey::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid SEC1 EC private key"))?;
    let curve = key
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or_else(|| KeyError::invalid("EC key without a named curve"))?;
    // Re-wrap as PKCS#8, the form the signing backends take.
    let curve_any = pkcs8::der::asn1::AnyRef::from(&curve);
    let info = pkcs8::PrivateKeyInfo {
        algorithm: pkcs8::AlgorithmIdentifierRef {
            oid: OID_EC,
            parameters: Some(curve_any),
        },
        private_key: der,
        public_key: None,
    };
    let pkcs8_der = info
        .to_der()
        .map_err(|_| KeyError::invalid("EC key cannot be re-encoded"))?;
    from_pkcs8(&pkcs8_der)
}
