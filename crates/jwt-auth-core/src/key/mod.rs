//! Key material, algorithm pinning and weak-key refusal.

mod algorithm;
mod der;
mod error;
mod jwk;
mod weak;

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{DecodingKey, EncodingKey};
use pkcs8::der::Decode;
use serde_json::Value;

use crate::b64;
use crate::redact::Redacted;

pub use algorithm::{Algorithm, KeyFamily};
pub use error::{KeyError, KeyErrorKind};
pub use weak::{MAX_RSA_BITS, MIN_RSA_BITS};

use algorithm::hmac_min_len;
use der::{
    from_certificate, from_pkcs1_private, from_pkcs1_public, from_pkcs8, from_sec1, from_spki,
};
use jwk::from_jwk_value;
use weak::strip_leading_zeros;

/// Key material, algorithm pinning and weak-key refusal.
///
/// A [`Key`] is a verification key plus the list of algorithms it may be used
/// with. That list comes from the key (and from you), **never from a token**:
///
/// | key | default algorithm | may be widened to |
/// |---|---|---|
/// | HMAC secret | HS256 | HS384, HS512 (if the secret is long enough) |
/// | RSA ≥ 2048 bits | RS256 | RS384, RS512, PS256, PS384, PS512 |
/// | EC P-256 | ES256 | — |
/// | EC P-384 | ES384 | — |
/// | Ed25519 | EdDSA | — |
///
/// Keys load from PEM (SPKI `PUBLIC KEY`, PKCS#1 `RSA PUBLIC KEY`, X.509
/// `CERTIFICATE`, PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY`, SEC1
/// `EC PRIVATE KEY`), from the same structures in DER, and from a JWK. A private
/// key verifies with its public half and can also [sign](Key::encode).
///
/// Construction refuses weak keys: HMAC secrets shorter than the hash output
/// (RFC 7518 §3.2), RSA moduli under 2048 bits, RSA public exponents that are
/// even or below 3, RSA moduli with the ROCA fingerprint (CVE-2017-15361), EC
/// points that are not on their curve, and JWKs meant for encryption. It
/// also refuses keys the crypto backend could never verify with (RSA moduli
/// over [`MAX_RSA_BITS`], public exponents over 33 bits), and JWKs whose
/// `x5c` certificate holds another key than their own members (RFC 7517
/// §4.7).
///
/// ```
/// use jwt_auth_core::{Algorithm, Key};
///
/// let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
/// assert_eq!(key.algorithms(), &[Algorithm::HS256]);
///
/// // Too short for HS256: refused.
/// assert!(Key::hmac(b"secret").is_err());
///
/// // Widen within the family; the secret must be long enough for each.
/// assert!(key.clone().with_algorithms([Algorithm::HS256, Algorithm::HS512]).is_err());
/// assert!(key.with_algorithms([Algorithm::RS256]).is_err());
/// # Ok::<(), jwt_auth_core::KeyError>(())
/// ```
///
/// A verification key (and, for secrets and private keys, a signing key),
/// pinned to the algorithms it may be used with.
///
/// Cheap to clone. `Debug` prints the family, algorithms and `kid`, never the
/// key material.
#[derive(Clone)]
pub struct Key {
    inner: Arc<KeyInner>,
}

#[derive(Clone)]
struct KeyInner {
    family: KeyFamily,
    /// Key material (public or secret): never printed.
    decoding: Redacted<DecodingKey>,
    /// Signing material: never printed.
    encoding: Option<Redacted<EncodingKey>>,
    algorithms: Vec<Algorithm>,
    kid: Option<String>,
    /// HMAC secret length, for widening checks.
    secret_len: usize,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("family", &self.inner.family)
            .field("algorithms", &self.inner.algorithms)
            .field("kid", &self.inner.kid)
            .field("can_sign", &self.inner.encoding.is_some())
            .finish_non_exhaustive()
    }
}

impl Key {
    fn build(
        family: KeyFamily,
        decoding: DecodingKey,
        encoding: Option<EncodingKey>,
        secret_len: usize,
    ) -> Self {
        Self {
            inner: Arc::new(KeyInner {
                family,
                decoding: Redacted::new(decoding),
                encoding: encoding.map(Redacted::new),
                algorithms: vec![family.default_algorithm()],
                kid: None,
                secret_len,
            }),
        }
    }

    /// An HMAC secret, allowed for HS256. The secret must be at least 32 bytes
    /// (the SHA-256 output size, RFC 7518 §3.2).
    pub fn hmac(secret: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            return Err(KeyError::new(
                KeyErrorKind::Weak,
                format!(
                    "HMAC secret is {} bytes; HS256 needs at least 32",
                    secret.len()
                ),
            ));
        }
        Ok(Self::build(
            KeyFamily::Hmac,
            DecodingKey::from_secret(secret),
            Some(EncodingKey::from_secret(secret)),
            secret.len(),
        ))
    }

    /// A key from PEM text. The label picks the structure: `PUBLIC KEY`,
    /// `RSA PUBLIC KEY`, `CERTIFICATE`, `PRIVATE KEY`, `RSA PRIVATE KEY` or
    /// `EC PRIVATE KEY`. The first PEM block is used.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let block = pem::parse(pem.as_ref()).map_err(|_| KeyError::invalid("not valid PEM"))?;
        let der = block.contents();
        match block.tag() {
            "PUBLIC KEY" => from_spki(der),
            "RSA PUBLIC KEY" => from_pkcs1_public(der),
            "CERTIFICATE" => from_certificate(der),
            "PRIVATE KEY" => from_pkcs8(der),
            "RSA PRIVATE KEY" => from_pkcs1_private(der),
            "EC PRIVATE KEY" => from_sec1(der),
            "ENCRYPTED PRIVATE KEY" => Err(KeyError::new(
                KeyErrorKind::Unsupported,
                "encrypted private keys are not supported; decrypt it first",
            )),
            _ => Err(KeyError::new(
                KeyErrorKind::Unsupported,
                "unsupported PEM label",
            )),
        }
    }

    /// A key from DER bytes: SPKI, PKCS#1 public, X.509 certificate, PKCS#8,
    /// PKCS#1 private or SEC1, tried in that order.
    pub fn from_der(der: impl AsRef<[u8]>) -> Result<Self, KeyError> {
        let der = der.as_ref();
        if spki::SubjectPublicKeyInfoRef::from_der(der).is_ok() {
            return from_spki(der);
        }
        if pkcs1::RsaPublicKey::from_der(der).is_ok() {
            return from_pkcs1_public(der);
        }
        if x509_cert::Certificate::from_der(der).is_ok() {
            return from_certificate(der);
        }
        if pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
            return from_pkcs8(der);
        }
        if pkcs1::RsaPrivateKey::from_der(der).is_ok() {
            return from_pkcs1_private(der);
        }
        if sec1::EcPrivateKey::from_der(der).is_ok() {
            return from_sec1(der);
        }
        Err(KeyError::invalid("not a supported DER key structure"))
    }

    /// A key from a JWK (RFC 7517) given as JSON text.
    ///
    /// `use` must be `sig` if present and `key_ops` must contain `verify` if
    /// present. If the JWK names an `alg`, the key is pinned to exactly that
    /// algorithm; it must belong to the key type (and curve). A private JWK
    /// verifies with its public members.
    pub fn from_jwk(jwk: &str) -> Result<Self, KeyError> {
        let value: Value =
            serde_json::from_str(jwk).map_err(|_| KeyError::invalid("JWK is not valid JSON"))?;
        Self::from_jwk_value(&value)
    }

    /// A key from a parsed JWK. See [`from_jwk`](Self::from_jwk).
    pub fn from_jwk_value(jwk: &Value) -> Result<Self, KeyError> {
        from_jwk_value(jwk)
    }

    /// Replaces the allowed algorithms. Each must belong to the key's family;
    /// for HMAC, the secret must be at least as long as each hash output.
    pub fn with_algorithms(
        mut self,
        algorithms: impl IntoIterator<Item = Algorithm>,
    ) -> Result<Self, KeyError> {
        let mut list: Vec<Algorithm> = Vec::new();
        for alg in algorithms {
            if !self.inner.family.algorithms().contains(&alg) {
                return Err(KeyError::new(
                    KeyErrorKind::AlgorithmMismatch,
                    format!(
                        "{} cannot be used with a {:?} key",
                        alg.as_str(),
                        self.inner.family
                    ),
                ));
            }
            if self.inner.family == KeyFamily::Hmac && self.inner.secret_len < hmac_min_len(alg) {
                return Err(KeyError::new(
                    KeyErrorKind::Weak,
                    format!(
                        "HMAC secret is {} bytes; {} needs at least {}",
                        self.inner.secret_len,
                        alg.as_str(),
                        hmac_min_len(alg)
                    ),
                ));
            }
            if !list.contains(&alg) {
                list.push(alg);
            }
        }
        if list.is_empty() {
            return Err(KeyError::new(
                KeyErrorKind::AlgorithmMismatch,
                "at least one algorithm is required",
            ));
        }
        Arc::make_mut(&mut self.inner).algorithms = list;
        Ok(self)
    }

    /// Sets the key id (`kid`) tokens are matched against.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.inner).kid = Some(kid.into());
        self
    }

    /// The key's family.
    pub fn family(&self) -> KeyFamily {
        self.inner.family
    }

    /// The algorithms this key accepts, the first being the one it signs with.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.algorithms
    }

    /// Whether `alg` is allowed with this key.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.inner.algorithms.contains(&alg)
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// The public half of an asymmetric key as a JWK (RFC 7517), with `kid`,
    /// `alg` (when the key allows one algorithm) and `use: "sig"`, ready to
    /// publish in a JWK Set. `None` for HMAC secrets, which are never
    /// published.
    ///
    /// ```
    /// use jwt_auth_core::Key;
    /// let pem = "-----BEGIN PUBLIC KEY-----
    /// MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8h2fmR/wsmKpZ9SKLVK3M74S2Ca9
    /// lC57o8hR3QWs5yZ0fkbU6RMdTEro6/kbzsUL9nrWDbPzsTHIXt9pQ2teAQ==
    /// -----END PUBLIC KEY-----";
    /// let key = Key::from_pem(pem)?.with_kid("k1");
    /// let jwk = key.to_public_jwk().expect("asymmetric");
    /// assert_eq!(jwk["kty"], "EC");
    /// assert_eq!(jwk["kid"], "k1");
    /// assert!(jwk.get("d").is_none());
    /// // It loads back as the same verification key.
    /// assert_eq!(Key::from_jwk_value(&jwk)?.algorithms(), key.algorithms());
    /// # Ok::<(), jwt_auth_core::KeyError>(())
    /// ```
    pub fn to_public_jwk(&self) -> Option<Value> {
        use jsonwebtoken::DecodingKeyKind;
        let inner = &*self.inner;
        let mut jwk = serde_json::Map::new();
        let raw = |k: &DecodingKey| match k.kind() {
            DecodingKeyKind::SecretOrDer(bytes) => Some(bytes.clone()),
            DecodingKeyKind::RsaModulusExponent { .. } => None,
        };
        match inner.family {
            KeyFamily::Hmac => return None,
            KeyFamily::Rsa => {
                let DecodingKeyKind::RsaModulusExponent { n, e } = inner.decoding.expose().kind()
                else {
                    return None;
                };
                jwk.insert("kty".into(), "RSA".into());
                jwk.insert("n".into(), b64::encode(n).into());
                jwk.insert("e".into(), b64::encode(e).into());
            }
            KeyFamily::EcP256 | KeyFamily::EcP384 => {
                let point = raw(inner.decoding.expose())?;
                let size = (point.len().checked_sub(1)?) / 2;
                let crv = if inner.family == KeyFamily::EcP256 {
                    "P-256"
                } else {
                    "P-384"
                };
                jwk.insert("kty".into(), "EC".into());
                jwk.insert("crv".into(), crv.into());
                jwk.insert("x".into(), b64::encode(point.get(1..1 + size)?).into());
                jwk.insert("y".into(), b64::encode(point.get(1 + size..)?).into());
            }
            KeyFamily::Ed25519 => {
                let public = raw(inner.decoding.expose())?;
                jwk.insert("kty".into(), "OKP".into());
                jwk.insert("crv".into(), "Ed25519".into());
                jwk.insert("x".into(), b64::encode(&public).into());
            }
        }
        jwk.insert("use".into(), "sig".into());
        if let [alg] = inner.algorithms.as_slice() {
            jwk.insert("alg".into(), alg.as_str().into());
        }
        if let Some(kid) = &inner.kid {
            jwk.insert("kid".into(), kid.clone().into());
        }
        Some(Value::Object(jwk))
    }

    /// Whether `other` holds the same verification key material (family and
    /// public key; the algorithms and `kid` may differ). Never true for HMAC
    /// secrets, which no certificate holds.
    fn same_public_key(&self, other: &Key) -> bool {
        use jsonwebtoken::DecodingKeyKind;
        if self.inner.family != other.inner.family || self.inner.family == KeyFamily::Hmac {
            return false;
        }
        match (
            self.inner.decoding.expose().kind(),
            other.inner.decoding.expose().kind(),
        ) {
            (
                DecodingKeyKind::RsaModulusExponent { n, e },
                DecodingKeyKind::RsaModulusExponent { n: n2, e: e2 },
            ) => {
                strip_leading_zeros(n) == strip_leading_zeros(n2)
                    && strip_leading_zeros(e) == strip_leading_zeros(e2)
            }
            (DecodingKeyKind::SecretOrDer(a), DecodingKeyKind::SecretOrDer(b)) => a == b,
            _ => false,
        }
    }

    /// Whether this key can sign (an HMAC secret or a private key).
    pub fn can_sign(&self) -> bool {
        self.inner.encoding.is_some()
    }

    /// Verifies `signature` (raw bytes) over `message` with `alg`, which must be
    /// one of the key's algorithms. Comparison of HMACs is constant-time (done by
    /// the crypto backend).
    pub fn verify_signature(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if !self.allows(alg) {
            return false;
        }
        let Ok(verifier) =
            (provider().verifier_factory)(&alg.to_jsonwebtoken(), self.inner.decoding.expose())
        else {
            return false;
        };
        verifier.verify(message, &signature.to_vec()).is_ok()
    }

    /// Signs `message` with the key's first algorithm; returns the raw signature.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let encoding =
            self.inner.encoding.as_ref().ok_or_else(|| {
                KeyError::new(KeyErrorKind::CannotSign, "a public key cannot sign")
            })?;
        let alg = self.inner.algorithms[0];
        let signer = (provider().signer_factory)(&alg.to_jsonwebtoken(), encoding.expose())
            .map_err(|_| KeyError::invalid("the key cannot sign with its algorithm"))?;
        signer
            .try_sign(message)
            .map_err(|_| KeyError::invalid("signing failed"))
    }

    /// Encodes and signs `claims` as a compact JWT with the key's first
    /// algorithm, `typ: JWT` and the key's `kid`.
    pub fn encode<T: serde::Serialize + ?Sized>(&self, claims: &T) -> Result<String, KeyError> {
        self.encode_with_typ(claims, "JWT")
    }

    /// Like [`encode`](Self::encode) with another `typ` (for example `at+jwt`).
    pub fn encode_with_typ<T: serde::Serialize + ?Sized>(
        &self,
        claims: &T,
        typ: &str,
    ) -> Result<String, KeyError> {
        let mut header = serde_json::Map::new();
        header.insert("alg".into(), self.inner.algorithms[0].as_str().into());
        header.insert("typ".into(), typ.into());
        if let Some(kid) = &self.inner.kid {
            header.insert("kid".into(), kid.clone().into());
        }
        let header = serde_json::to_vec(&header)
            .map_err(|_| KeyError::invalid("header serialization failed"))?;
        let claims = serde_json::to_vec(claims)
            .map_err(|_| KeyError::invalid("claims serialization failed"))?;
        let mut token = b64::encode(&header);
        token.push('.');
        token.push_str(&b64::encode(&claims));
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64::encode(&signature));
        Ok(token)
    }
}

/// The crypto provider of the enabled backend. When both backend features are
/// on (as with `--all-features`), aws-lc-rs wins.
/// HMAC-SHA256 of `input` under `secret`, through the crypto backend.
pub(crate) fn hmac_sha256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    match (provider().signer_factory)(&jsonwebtoken::Algorithm::HS256, &key) {
        Ok(signer) => signer.try_sign(input).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

pub(crate) fn provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws_lc_rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust_crypto", not(feature = "aws_lc_rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
    // Only the `compile_error!` below should speak when no backend is on.
    #[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
    unreachable!()
}

#[cfg(not(any(feature = "aws_lc_rs", feature = "rust_crypto")))]
compile_error!(
    "jwt-auth-core needs a crypto backend: enable `aws_lc_rs` (default) or `rust_crypto`"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_lengths() {
        assert_eq!(
            Key::hmac([7u8; 31]).map(|_| ()).map_err(|e| e.kind()),
            Err(KeyErrorKind::Weak)
        );
        let k = Key::hmac([7u8; 48]).and_then(|k| k.with_algorithms([Algorithm::HS384]));
        assert!(k.is_ok());
        let k = Key::hmac([7u8; 48]).and_then(|k| k.with_algorithms([Algorithm::HS512]));
        assert_eq!(k.map(|_| ()).map_err(|e| e.kind()), Err(KeyErrorKind::Weak));
    }

    #[test]
    fn debug_hides_material() {
        let k =
            Key::hmac(b"super-secret-value-that-is-32-bytes!!").unwrap_or_else(|_| unreachable!());
        let s = format!("{k:?}");
        assert!(!s.contains("super-secret"), "{s}");
        assert!(s.contains("Hmac"));
    }

    #[test]
    fn jwk_refusals() {
        let enc = r#"{"kty":"oct","use":"enc","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
        assert_eq!(
            Key::from_jwk(enc).map(|_| ()).map_err(|e| e.kind()),
            Err(KeyErrorKind::WrongUse)
        );
        let ops =
            r#"{"kty":"oct","key_ops":["sign"],"k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
        assert_eq!(
            Key::from_jwk(ops).map(|_| ()).map_err(|e| e.kind()),
            Err(KeyErrorKind::WrongUse)
        );
        let ok = r#"{"kty":"oct","alg":"HS256","kid":"a","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
        let key = Key::from_jwk(ok).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key.kid(), Some("a"));
        let wrong_alg =
            r#"{"kty":"oct","alg":"RS256","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
        assert_eq!(
            Key::from_jwk(wrong_alg).map(|_| ()).map_err(|e| e.kind()),
            Err(KeyErrorKind::AlgorithmMismatch)
        );
    }

    #[test]
    fn sign_and_verify_roundtrip() {
        let key = Key::hmac([1u8; 32]).unwrap_or_else(|_| unreachable!());
        let sig = key.sign_bytes(b"msg").unwrap_or_default();
        assert!(key.verify_signature(Algorithm::HS256, b"msg", &sig));
        assert!(!key.verify_signature(Algorithm::HS256, b"msh", &sig));
        assert!(!key.verify_signature(Algorithm::HS384, b"msg", &sig));
    }
}
