//! Key material, algorithm pinning and weak-key refusal.

use std::fmt;
use std::sync::Arc;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::jwk::EllipticCurve;
use jsonwebtoken::{DecodingKey, EncodingKey};
use pkcs8::der::{Decode, Encode};
use serde_json::Value;

pub use jsonwebtoken::Algorithm;

use crate::b64;
use crate::redact::Redacted;

/// The kind of key, which fixes the algorithms it can be used with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// An HMAC secret (HS256/384/512).
    Hmac,
    /// An RSA key (RS256/384/512, PS256/384/512).
    Rsa,
    /// An EC key on P-256 (ES256).
    EcP256,
    /// An EC key on P-384 (ES384).
    EcP384,
    /// An Ed25519 key (EdDSA).
    Ed25519,
}

impl KeyFamily {
    /// The algorithms a key of this family may ever be used with.
    pub fn algorithms(self) -> &'static [Algorithm] {
        match self {
            Self::Hmac => &[Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            Self::Rsa => &[
                Algorithm::RS256,
                Algorithm::RS384,
                Algorithm::RS512,
                Algorithm::PS256,
                Algorithm::PS384,
                Algorithm::PS512,
            ],
            Self::EcP256 => &[Algorithm::ES256],
            Self::EcP384 => &[Algorithm::ES384],
            Self::Ed25519 => &[Algorithm::EdDSA],
        }
    }

    /// The algorithm a key of this family uses unless widened.
    pub fn default_algorithm(self) -> Algorithm {
        match self {
            Self::Hmac => Algorithm::HS256,
            Self::Rsa => Algorithm::RS256,
            Self::EcP256 => Algorithm::ES256,
            Self::EcP384 => Algorithm::ES384,
            Self::Ed25519 => Algorithm::EdDSA,
        }
    }

    /// Whether this family uses a shared secret.
    pub fn is_symmetric(self) -> bool {
        self == Self::Hmac
    }
}

/// The JOSE name of an algorithm (`"RS256"`).
pub fn algorithm_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
        _ => "unknown",
    }
}

/// Parses a JOSE algorithm name exactly (case-sensitive). `none` and every
/// unknown name give `None`.
pub fn parse_algorithm(name: &str) -> Option<Algorithm> {
    Some(match name {
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "EdDSA" => Algorithm::EdDSA,
        _ => return None,
    })
}

fn hmac_min_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

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
const MAX_RSA_EXPONENT_BITS: usize = 33;

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// The bytes are not a key in any supported encoding.
    Invalid,
    /// A well-formed key of a type or curve that is not supported.
    Unsupported,
    /// The key is too weak to be used safely.
    Weak,
    /// The requested algorithm does not belong to the key's family, or a JWK's
    /// `alg` disagrees with its key type.
    AlgorithmMismatch,
    /// The JWK is not meant for signatures (`use`/`key_ops`).
    WrongUse,
    /// The key cannot sign (it is a public key).
    CannotSign,
    /// A key set is ambiguous (duplicate `kid`s) or empty.
    KeySet,
    /// Two statements of one key disagree: a JWK's `x5c` certificate holds
    /// another key than its own members (RFC 7517 §4.7).
    KeyMismatch,
}

/// A refused key, with a message that names no secret material.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyError {
    kind: KeyErrorKind,
    message: Arc<str>,
}

impl KeyError {
    pub(crate) fn new(kind: KeyErrorKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(message: &str) -> Self {
        Self::new(KeyErrorKind::Invalid, message)
    }

    /// What was wrong with the key.
    pub fn kind(&self) -> KeyErrorKind {
        self.kind
    }
}

impl fmt::Debug for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyError")
            .field("kind", &self.kind)
            .field("message", &&*self.message)
            .finish()
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KeyError {}

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
                        algorithm_name(alg),
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
                        algorithm_name(alg),
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
            jwk.insert("alg".into(), algorithm_name(*alg).into());
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
        let Ok(verifier) = (provider().verifier_factory)(&alg, self.inner.decoding.expose()) else {
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
        let signer = (provider().signer_factory)(&alg, encoding.expose())
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
        header.insert(
            "alg".into(),
            algorithm_name(self.inner.algorithms[0]).into(),
        );
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

// ---------------------------------------------------------------------------
// Loading

const OID_RSA: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: pkcs8::ObjectIdentifier =
    pkcs8::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ED25519: pkcs8::ObjectIdentifier = pkcs8::ObjectIdentifier::new_unwrap("1.3.101.112");

fn ec_family(params: Option<pkcs8::der::asn1::AnyRef<'_>>) -> Result<KeyFamily, KeyError> {
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

fn from_spki(der: &[u8]) -> Result<Key, KeyError> {
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

fn from_certificate(der: &[u8]) -> Result<Key, KeyError> {
    let cert = x509_cert::Certificate::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid X.509 certificate"))?;
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| KeyError::invalid("certificate public key cannot be re-encoded"))?;
    from_spki(&spki)
}

fn from_pkcs1_public(der: &[u8]) -> Result<Key, KeyError> {
    let key = pkcs1::RsaPublicKey::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#1 RSA public key"))?;
    rsa_public_key(key.modulus.as_bytes(), key.public_exponent.as_bytes(), None)
}

fn from_pkcs1_private(der: &[u8]) -> Result<Key, KeyError> {
    let key = pkcs1::RsaPrivateKey::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#1 RSA private key"))?;
    rsa_public_key(
        key.modulus.as_bytes(),
        key.public_exponent.as_bytes(),
        Some(EncodingKey::from_rsa_der(der)),
    )
}

fn from_pkcs8(der: &[u8]) -> Result<Key, KeyError> {
    let info = pkcs8::PrivateKeyInfo::from_der(der)
        .map_err(|_| KeyError::invalid("not a valid PKCS#8 private key"))?;
    let oid = info.algorithm.oid;
    if oid == OID_RSA {
        from_pkcs1_private(info.private_key)
    } else if oid == OID_EC {
        let family = ec_family(info.algorithm.parameters)?;
        let alg = family.default_algorithm();
        let (_, x, y) = (provider().key_utils.ec_pub_components_from_private_key)(der, alg)
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

fn from_sec1(der: &[u8]) -> Result<Key, KeyError> {
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

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn rsa_public_key(n: &[u8], e: &[u8], encoding: Option<EncodingKey>) -> Result<Key, KeyError> {
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

fn ec_public_key(
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
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = [
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
fn ed25519_has_small_order(public: &[u8; 32]) -> bool {
    ED25519_SMALL_ORDER
        .iter()
        .any(|bad| bad[..31] == public[..31] && bad[31] == public[31] & 0x7f)
}

fn ed25519_public_key(public: &[u8], encoding: Option<EncodingKey>) -> Result<Key, KeyError> {
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

fn jwk_str<'a>(
    jwk: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::invalid("JWK member has the wrong type")),
    }
}

fn jwk_bytes(jwk: &serde_json::Map<String, Value>, name: &str) -> Result<Vec<u8>, KeyError> {
    let s = jwk_str(jwk, name)?.ok_or_else(|| KeyError::invalid("JWK lacks a required member"))?;
    b64::decode(s).map_err(|_| KeyError::invalid("JWK member is not valid base64url"))
}

fn from_jwk_value(jwk: &Value) -> Result<Key, KeyError> {
    let jwk = jwk
        .as_object()
        .ok_or_else(|| KeyError::invalid("JWK is not a JSON object"))?;
    if let Some(usage) = jwk_str(jwk, "use")?
        && usage != "sig"
    {
        return Err(KeyError::new(
            KeyErrorKind::WrongUse,
            "JWK `use` is not `sig`",
        ));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops
            .as_array()
            .ok_or_else(|| KeyError::invalid("JWK `key_ops` is not an array"))?;
        if !ops.iter().any(|op| op == "verify") {
            return Err(KeyError::new(
                KeyErrorKind::WrongUse,
                "JWK `key_ops` does not include `verify`",
            ));
        }
    }
    let alg = match jwk_str(jwk, "alg")? {
        None => None,
        Some(name) => Some(parse_algorithm(name).ok_or_else(|| {
            KeyError::new(
                KeyErrorKind::AlgorithmMismatch,
                "JWK `alg` is not a supported signature algorithm",
            )
        })?),
    };
    let kty = jwk_str(jwk, "kty")?.ok_or_else(|| KeyError::invalid("JWK lacks `kty`"))?;
    let key = match kty {
        "RSA" => {
            let n = jwk_bytes(jwk, "n")?;
            let e = jwk_bytes(jwk, "e")?;
            rsa_public_key(&n, &e, None)?
        }
        "EC" => {
            let family = match jwk_str(jwk, "crv")? {
                Some("P-256") => KeyFamily::EcP256,
                Some("P-384") => KeyFamily::EcP384,
                Some(_) => {
                    return Err(KeyError::new(
                        KeyErrorKind::Unsupported,
                        "unsupported EC curve (P-256 and P-384 are supported)",
                    ));
                }
                None => return Err(KeyError::invalid("EC JWK lacks `crv`")),
            };
            let x = jwk_bytes(jwk, "x")?;
            let y = jwk_bytes(jwk, "y")?;
            let size = if family == KeyFamily::EcP256 { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return Err(KeyError::invalid(
                    "EC JWK coordinates do not match the curve",
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ec_public_key(family, &point, None)?
        }
        "OKP" => {
            if jwk_str(jwk, "crv")? != Some("Ed25519") {
                return Err(KeyError::new(
                    KeyErrorKind::Unsupported,
                    "unsupported OKP curve (Ed25519 is supported)",
                ));
            }
            ed25519_public_key(&jwk_bytes(jwk, "x")?, None)?
        }
        "oct" => {
            // Pinning to `alg` below also checks the secret is long enough for it.
            Key::hmac(jwk_bytes(jwk, "k")?)?
        }
        _ => {
            return Err(KeyError::new(
                KeyErrorKind::Unsupported,
                "unsupported JWK `kty`",
            ));
        }
    };
    check_x5c(jwk, &key)?;
    let key = match alg {
        Some(alg) => key.with_algorithms([alg])?,
        None => key,
    };
    Ok(match jwk_str(jwk, "kid")? {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// RFC 7517 §4.7: the key in the first `x5c` certificate MUST match the
/// JWK's own key members. A JWK whose certificate holds another key is
/// refused, whichever of the two a verifier would have used.
fn check_x5c(jwk: &serde_json::Map<String, Value>, key: &Key) -> Result<(), KeyError> {
    use base64::Engine as _;
    let Some(chain) = jwk.get("x5c") else {
        return Ok(());
    };
    let first = chain
        .as_array()
        .and_then(|chain| chain.first())
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::invalid("JWK `x5c` is not a non-empty array of strings"))?;
    // `x5c` holds standard base64 (with padding), not base64url.
    let der = base64::engine::general_purpose::STANDARD
        .decode(first)
        .map_err(|_| KeyError::invalid("JWK `x5c` certificate is not valid base64"))?;
    let certified = from_certificate(&der).map_err(|e| {
        KeyError::new(
            e.kind(),
            format!("JWK `x5c` certificate is refused: {}", e.message),
        )
    })?;
    if !key.same_public_key(&certified) {
        return Err(KeyError::new(
            KeyErrorKind::KeyMismatch,
            "JWK `x5c` certificate holds another key than the JWK (RFC 7517 §4.7)",
        ));
    }
    Ok(())
}

/// Checks that need the crypto backend directly.
mod backend {
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
