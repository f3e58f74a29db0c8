//! Compact JWS parsing and signature verification against a [`KeySet`].

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::b64;
use crate::error::{AuthError, AuthErrorKind};
use crate::json::{self, JsonError};
use crate::key::{Algorithm, Key, KeyError, KeyErrorKind};

/// Compact JWS parsing and signature verification against a [`KeySet`].
///
/// This is the layer below claims: it checks the token's shape (three
/// base64url parts, nothing else), reads the protected header strictly
/// (duplicate members, `crit`, `alg`), picks the key by `kid` and algorithm,
/// and verifies the signature. The payload is returned as bytes.
///
/// ```
/// use jwt_auth_core::{Authenticator, Key, KeySet};
///
/// let k1 = Key::hmac([7u8; 32])?.with_kid("k1");
/// let k2 = Key::hmac([8u8; 32])?.with_kid("k2");
/// let claims = serde_json::json!({"sub": "a", "exp": 4_000_000_000u64});
/// let token = k2.encode(&claims)?;
/// let auth = Authenticator::new(KeySet::new([k1, k2])?);
/// assert_eq!(auth.verify(&token).expect("valid").kid(), Some("k2"));
///
/// let tampered = format!("{}x", &token[..token.len() - 1]);
/// assert!(auth.verify(&tampered).is_err());
/// # Ok::<(), jwt_auth_core::KeyError>(())
/// ```
///
/// A set of verification keys, looked up by `kid`.
///
/// Rules, fixed at construction:
/// - two keys may not share a `kid`;
/// - symmetric (HMAC) and asymmetric keys may not be mixed (RFC 8725 §2.1);
/// - a token with a `kid` uses the key with that `kid`, or, failing that, the
///   single key without a `kid` that allows its algorithm;
/// - a token without a `kid` is accepted only when exactly one key allows its
///   algorithm.
#[derive(Clone)]
pub struct KeySet {
    inner: Arc<KeySetInner>,
}

struct KeySetInner {
    keys: Vec<Key>,
    by_kid: HashMap<String, usize>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.inner.keys.iter()).finish()
    }
}

impl KeySet {
    /// A key set from keys. Fails when empty, when two keys share a `kid`, or
    /// when HMAC and asymmetric keys are mixed.
    pub fn new(keys: impl IntoIterator<Item = Key>) -> Result<Self, KeyError> {
        let keys: Vec<Key> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(KeyError::new(KeyErrorKind::KeySet, "the key set is empty"));
        }
        let symmetric = keys.iter().filter(|k| k.family().is_symmetric()).count();
        if symmetric != 0 && symmetric != keys.len() {
            return Err(KeyError::new(
                KeyErrorKind::KeySet,
                "HMAC secrets and asymmetric keys cannot be mixed in one key set",
            ));
        }
        let mut by_kid = HashMap::new();
        for (i, key) in keys.iter().enumerate() {
            if let Some(kid) = key.kid()
                && by_kid.insert(kid.to_owned(), i).is_some()
            {
                return Err(KeyError::new(
                    KeyErrorKind::KeySet,
                    "two keys in the set share a `kid`",
                ));
            }
        }
        Ok(Self {
            inner: Arc::new(KeySetInner { keys, by_kid }),
        })
    }

    /// A set of one key.
    pub(crate) fn single(key: Key) -> Self {
        let by_kid = key
            .kid()
            .map(|kid| HashMap::from([(kid.to_owned(), 0)]))
            .unwrap_or_default();
        Self {
            inner: Arc::new(KeySetInner {
                keys: vec![key],
                by_kid,
            }),
        }
    }

    /// A key set from a JWK Set document (`{"keys":[...]}`), for example a
    /// JWKS file shipped with the service.
    ///
    /// Keys that are refused (weak, `use: enc`, unsupported, duplicate `kid`)
    /// are skipped and logged at `warn`; the rest of the set still works. If
    /// the set mixes HMAC and asymmetric keys, the HMAC keys are refused. It
    /// fails only if the document is not a JWK Set or no key is usable.
    pub fn from_jwks(jwks: &str) -> Result<Self, KeyError> {
        let (set, refused) = Self::from_jwks_with_refusals(jwks)?;
        for error in &refused {
            tracing::warn!(reason = %error, "jwt-auth: refused a key from the JWK set");
        }
        Ok(set)
    }

    /// Like [`from_jwks`](Self::from_jwks), returning the refused keys'
    /// errors instead of logging them.
    pub fn from_jwks_with_refusals(jwks: &str) -> Result<(Self, Vec<KeyError>), KeyError> {
        Self::parse_jwks(jwks.as_bytes(), &JwksPolicy::LOCAL)
    }

    /// A key set from a JWK Set file, as [`from_jwks`](Self::from_jwks) does.
    pub fn from_jwks_file(path: impl AsRef<std::path::Path>) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path.as_ref()).map_err(|e| {
            KeyError::new(
                KeyErrorKind::Invalid,
                format!("cannot read the JWK set file: {}", e.kind()),
            )
        })?;
        Self::from_jwks(&text)
    }

    /// Parses a JWK Set document under `policy`, returning the usable keys
    /// and the refused keys' errors.
    pub(crate) fn parse_jwks(
        jwks: &[u8],
        policy: &JwksPolicy,
    ) -> Result<(Self, Vec<KeyError>), KeyError> {
        let doc: Value = serde_json::from_slice(jwks)
            .map_err(|_| KeyError::new(KeyErrorKind::Invalid, "JWK set is not valid JSON"))?;
        let list = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| KeyError::new(KeyErrorKind::Invalid, "JWK set lacks a `keys` array"))?;
        if list.len() > policy.max_keys {
            return Err(KeyError::new(
                KeyErrorKind::KeySet,
                format!(
                    "the JWK set holds {} keys, more than the limit of {}",
                    list.len(),
                    policy.max_keys
                ),
            ));
        }
        // Duplicate kids are ambiguous: every entry that shares one is refused,
        // whether or not it would load.
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for jwk in list {
            if let Some(kid) = jwk.get("kid").and_then(Value::as_str) {
                *counts.entry(kid).or_default() += 1;
            }
        }
        let mut refused = Vec::new();
        let mut keys = Vec::new();
        for jwk in list {
            let kid = jwk.get("kid").and_then(Value::as_str);
            if kid.is_some_and(|kid| counts.get(kid).copied().unwrap_or(0) > 1) {
                refused.push(KeyError::new(
                    KeyErrorKind::KeySet,
                    "key refused: its `kid` appears more than once in the set",
                ));
                continue;
            }
            if !policy.allow_symmetric && jwk.get("kty").and_then(Value::as_str) == Some("oct") {
                refused.push(KeyError::new(
                    KeyErrorKind::WrongUse,
                    "symmetric (`oct`) key refused: a published key set must hold public keys only",
                ));
                continue;
            }
            let key = match Key::from_jwk_value(jwk) {
                Ok(key) => key,
                Err(e) => {
                    refused.push(e);
                    continue;
                }
            };
            match &policy.algorithms {
                None => keys.push(key),
                Some(allowed) => {
                    // A JWK without `alg` may serve any algorithm of its
                    // family; one with `alg` only that algorithm.
                    let candidates = if jwk.get("alg").is_some() {
                        key.algorithms()
                    } else {
                        key.family().algorithms()
                    };
                    let fit: Vec<Algorithm> = candidates
                        .iter()
                        .copied()
                        .filter(|a| allowed.contains(a))
                        .collect();
                    match key.clone().with_algorithms(fit) {
                        Ok(key) => keys.push(key),
                        Err(_) => refused.push(KeyError::new(
                            KeyErrorKind::AlgorithmMismatch,
                            "key ignored: it fits none of the allowed algorithms",
                        )),
                    }
                }
            }
        }
        let has_asymmetric = keys.iter().any(|k| !k.family().is_symmetric());
        if has_asymmetric {
            keys.retain(|key| {
                let symmetric = key.family().is_symmetric();
                if symmetric {
                    refused.push(KeyError::new(
                        KeyErrorKind::KeySet,
                        "HMAC key refused: the set also holds asymmetric keys",
                    ));
                }
                !symmetric
            });
        }
        if keys.is_empty() {
            return Err(KeyError::new(
                KeyErrorKind::KeySet,
                "the JWK set holds no usable key",
            ));
        }
        Ok((Self::new(keys)?, refused))
    }

    /// The keys in the set.
    pub fn keys(&self) -> &[Key] {
        &self.inner.keys
    }

    /// Picks the key for a token with algorithm `alg` and optional `kid`.
    pub fn select(&self, alg: Algorithm, kid: Option<&str>) -> Result<&Key, AuthError> {
        let keys = &self.inner.keys;
        if let Some(kid) = kid
            && let Some(&i) = self.inner.by_kid.get(kid)
        {
            let key = &keys[i];
            return if key.allows(alg) {
                Ok(key)
            } else {
                Err(AuthErrorKind::AlgorithmNotAllowed.into())
            };
        }
        let mut candidates = keys
            .iter()
            .filter(|k| (kid.is_none() || k.kid().is_none()) && k.allows(alg));
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => Ok(key),
            (Some(_), Some(_)) => Err(AuthErrorKind::UnknownKey.into()),
            (None, _) => {
                // A `kid` that names no key is unknown whatever its algorithm
                // (remote sets refresh on it).
                if kid.is_some() || keys.iter().any(|k| k.allows(alg)) {
                    Err(AuthErrorKind::UnknownKey.into())
                } else {
                    Err(AuthErrorKind::AlgorithmNotAllowed.into())
                }
            }
        }
    }

    /// Parses and verifies a compact JWS, the signature layer alone (no
    /// claim is checked: use [`Authenticator::verify`](crate::Authenticator::verify)).
    /// `max_len` bounds the token length (checked before anything is
    /// decoded), `max_depth` the header's JSON nesting. For conformance tests
    /// and fuzzing (feature `test-util`).
    #[cfg(feature = "test-util")]
    #[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
    pub fn verify_compact(
        &self,
        token: &str,
        max_len: usize,
        max_depth: usize,
    ) -> Result<VerifiedJws, AuthError> {
        let parts = CompactParts::split(token, max_len)?;
        let header = parts.header(max_depth)?;
        let key = self.select(header.alg, header.kid.as_deref())?;
        parts.verify_with(key, header.alg)?;
        let payload = parts.payload()?;
        Ok(VerifiedJws { header, payload })
    }
}

/// What a JWK Set document may hold.
#[derive(Clone, Debug)]
pub(crate) struct JwksPolicy {
    /// `oct` keys may be loaded (a local file may hold HMAC secrets; a
    /// published set may not).
    pub(crate) allow_symmetric: bool,
    /// More keys than this refuses the whole document.
    pub(crate) max_keys: usize,
    /// When set, keys are narrowed to these algorithms, and keys that fit
    /// none are ignored.
    pub(crate) algorithms: Option<Vec<Algorithm>>,
}

impl JwksPolicy {
    /// A JWK Set the service ships itself.
    pub(crate) const LOCAL: Self = Self {
        allow_symmetric: true,
        max_keys: 1024,
        algorithms: None,
    };
}

fn malformed(detail: &'static str) -> AuthError {
    AuthError::with_detail(AuthErrorKind::Malformed, detail)
}

/// The three parts of a compact JWS, checked for shape only.
pub(crate) struct CompactParts<'a> {
    signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> CompactParts<'a> {
    /// Splits a token into its parts: exactly two dots, only base64url
    /// characters, a non-empty header and signature.
    pub(crate) fn split(token: &'a str, max_len: usize) -> Result<Self, AuthError> {
        if token.len() > max_len {
            return Err(AuthErrorKind::TokenTooLarge.into());
        }
        let bytes = token.as_bytes();
        let mut dots = [0usize; 2];
        let mut n = 0;
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'.' => {
                    if n == 2 {
                        return Err(malformed("too many parts"));
                    }
                    dots[n] = i;
                    n += 1;
                }
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => {}
                _ => return Err(malformed("character outside base64url")),
            }
        }
        if n != 2 {
            return Err(malformed("too few parts"));
        }
        let (d1, d2) = (dots[0], dots[1]);
        let header = &token[..d1];
        let payload = &token[d1 + 1..d2];
        let signature = &token[d2 + 1..];
        if header.is_empty() || signature.is_empty() {
            return Err(malformed("empty part"));
        }
        Ok(Self {
            signing_input: &token[..d2],
            header,
            payload,
            signature,
        })
    }

    /// Checks the signature with `key` under `alg`.
    pub(crate) fn verify_with(&self, key: &Key, alg: Algorithm) -> Result<(), AuthError> {
        let signature = b64::decode(self.signature).map_err(|_| malformed("signature encoding"))?;
        if key.verify_signature(alg, self.signing_input.as_bytes(), &signature) {
            Ok(())
        } else {
            Err(AuthErrorKind::InvalidSignature.into())
        }
    }

    /// The decoded payload (not yet verified unless [`verify_with`] passed).
    ///
    /// [`verify_with`]: Self::verify_with
    pub(crate) fn payload(&self) -> Result<Vec<u8>, AuthError> {
        b64::decode(self.payload).map_err(|_| malformed("payload encoding"))
    }

    pub(crate) fn header(&self, max_depth: usize) -> Result<JwsHeader, AuthError> {
        let raw = b64::decode(self.header).map_err(|_| malformed("header encoding"))?;
        JwsHeader::parse(&raw, max_depth)
    }
}

/// The protected header of a verified JWS.
#[derive(Clone, PartialEq)]
pub struct JwsHeader {
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
    members: Map<String, Value>,
}

impl fmt::Debug for JwsHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwsHeader")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("typ", &self.typ)
            .finish_non_exhaustive()
    }
}

impl JwsHeader {
    fn parse(raw: &[u8], max_depth: usize) -> Result<Self, AuthError> {
        let members = json::parse_object(raw, max_depth).map_err(|e| match e {
            JsonError::Duplicate => malformed("duplicate header member"),
            JsonError::TooDeep => malformed("header nested too deep"),
            _ => malformed("header is not a JSON object"),
        })?;
        if members.contains_key("crit") {
            return Err(AuthErrorKind::CriticalHeader.into());
        }
        let alg = match members.get("alg") {
            Some(Value::String(name)) => name
                .parse::<Algorithm>()
                .map_err(|_| AuthError::new(AuthErrorKind::AlgorithmNotAllowed))?,
            Some(_) => return Err(malformed("alg is not a string")),
            None => return Err(malformed("alg is missing")),
        };
        let text = |name: &'static str| -> Result<Option<String>, AuthError> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(malformed("header member has the wrong type")),
            }
        };
        let kid = text("kid")?;
        let typ = text("typ")?;
        Ok(Self {
            alg,
            kid,
            typ,
            members,
        })
    }

    /// The algorithm (already checked against the key).
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The token type, if any.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Every header member.
    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }
}

/// A JWS whose signature verified.
#[derive(Clone)]
pub struct VerifiedJws {
    header: JwsHeader,
    payload: Vec<u8>,
}

impl fmt::Debug for VerifiedJws {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedJws")
            .field("header", &self.header)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl VerifiedJws {
    /// The protected header.
    pub fn header(&self) -> &JwsHeader {
        &self.header
    }

    /// The key id from the header.
    pub fn kid(&self) -> Option<&str> {
        self.header.kid()
    }

    /// The verified payload bytes.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind<T>(r: Result<T, AuthError>) -> Option<AuthErrorKind> {
        r.err().map(|e| e.kind())
    }

    #[test]
    fn shapes() {
        let t = |s| kind(CompactParts::split(s, 100).map(|_| ()));
        assert_eq!(t("a.b.c"), None);
        assert_eq!(t("a..c"), None);
        assert_eq!(t("a.b."), Some(AuthErrorKind::Malformed));
        assert_eq!(t("a.b"), Some(AuthErrorKind::Malformed));
        assert_eq!(t("a.b.c.d"), Some(AuthErrorKind::Malformed));
        assert_eq!(t(" a.b.c"), Some(AuthErrorKind::Malformed));
        assert_eq!(t("a.b=.c"), Some(AuthErrorKind::Malformed));
        assert_eq!(t(&"a".repeat(101)), Some(AuthErrorKind::TokenTooLarge));
    }

    #[test]
    fn mixed_sets_are_refused() {
        let h = Key::hmac([1u8; 32]).unwrap_or_else(|_| unreachable!());
        let dup = KeySet::new([h.clone().with_kid("a"), h.clone().with_kid("a")]);
        assert!(dup.is_err());
        assert!(KeySet::new([h.clone().with_kid("a"), h.with_kid("b")]).is_ok());
    }

    #[test]
    fn selection_rules() {
        let a = Key::hmac([1u8; 32])
            .unwrap_or_else(|_| unreachable!())
            .with_kid("a");
        let b = Key::hmac([2u8; 32])
            .unwrap_or_else(|_| unreachable!())
            .with_kid("b");
        let set = KeySet::new([a, b]).unwrap_or_else(|_| unreachable!());
        assert!(set.select(Algorithm::HS256, Some("a")).is_ok());
        assert_eq!(
            kind(set.select(Algorithm::HS256, Some("c"))),
            Some(AuthErrorKind::UnknownKey)
        );
        // Two candidates and no kid: ambiguous.
        assert_eq!(
            kind(set.select(Algorithm::HS256, None)),
            Some(AuthErrorKind::UnknownKey)
        );
        assert_eq!(
            kind(set.select(Algorithm::HS384, Some("a"))),
            Some(AuthErrorKind::AlgorithmNotAllowed)
        );
    }
}
