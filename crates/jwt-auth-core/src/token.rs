//! What a verified token is: [`VerifiedToken`], and the header `typ` values
//! that tell access and refresh tokens apart.

use std::fmt;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};
use crate::key::Algorithm;

/// The header `typ` of access tokens (RFC 9068).
pub const ACCESS_TYP: &str = "at+jwt";
/// The header `typ` of refresh tokens. An [`Authenticator`](crate::Authenticator)
/// never accepts a token of this type, and
/// [`TokenService::refresh`](crate::TokenService::refresh) accepts nothing else.
pub const REFRESH_TYP: &str = "refresh+jwt";

/// A token whose signature and claims verified. Cheap to clone.
///
/// `Debug` shows the algorithm, `kid` and claim *names*, never their values.
#[derive(Clone)]
pub struct VerifiedToken {
    inner: Arc<VerifiedInner>,
}

struct VerifiedInner {
    /// `None` for a token checked by introspection.
    alg: Option<Algorithm>,
    kid: Option<String>,
    claims: Value,
    /// `jti` and `fam` (string claims), read once per token for the
    /// revocation check of every request.
    revocation_ids: (Option<Box<str>>, Option<Box<str>>),
    /// The claims as JSON, serialised on first use and shared by every
    /// request the cached token serves.
    json: std::sync::OnceLock<bytes::Bytes>,
}

impl fmt::Debug for VerifiedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.claims_map().keys().map(String::as_str).collect();
        f.debug_struct("VerifiedToken")
            .field("alg", &self.inner.alg)
            .field("kid", &self.inner.kid)
            .field("claims", &names)
            .finish()
    }
}

impl VerifiedToken {
    /// A token whose signature and claims have been checked.
    pub(crate) fn new(alg: Algorithm, kid: Option<String>, claims: Map<String, Value>) -> Self {
        Self::with(Some(alg), kid, claims)
    }

    /// A token that an introspection endpoint (RFC 7662) said is active,
    /// with its answer as the claims.
    #[cfg(feature = "remote")]
    pub(crate) fn introspected(claims: Map<String, Value>) -> Self {
        Self::with(None, None, claims)
    }

    fn with(alg: Option<Algorithm>, kid: Option<String>, claims: Map<String, Value>) -> Self {
        let id = |name: &str| claims.get(name).and_then(Value::as_str).map(Box::from);
        let revocation_ids = (id("jti"), id("fam"));
        Self {
            inner: Arc::new(VerifiedInner {
                alg,
                kid,
                claims: Value::Object(claims),
                revocation_ids,
                json: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The token's `jti` and family (`fam`), when it has either: what the
    /// revocation check looks up.
    pub(crate) fn revocation_ids(&self) -> Option<(Option<&str>, Option<&str>)> {
        let (jti, fam) = &self.inner.revocation_ids;
        (jti.is_some() || fam.is_some()).then_some((jti.as_deref(), fam.as_deref()))
    }

    /// The algorithm the token was verified with; `None` for an opaque
    /// token checked by introspection.
    pub fn algorithm(&self) -> Option<Algorithm> {
        self.inner.alg
    }

    /// Whether the token was checked by introspection (RFC 7662) rather
    /// than verified locally.
    pub fn is_introspected(&self) -> bool {
        self.inner.alg.is_none()
    }

    /// The claims as compact JSON (what `serde_json::to_vec` of
    /// [`claims_json`](Self::claims_json) gives), serialised once per token
    /// and shared by every request that presents it while it is cached:
    /// echoing or forwarding the claims then costs a reference count.
    ///
    /// ```
    /// # use jwt_auth_core::{Authenticator, Key};
    /// let key = Key::hmac([7u8; 32])?;
    /// let token = key.encode(&serde_json::json!({"sub": "alice", "exp": 4_000_000_000u64}))?;
    /// let verified = Authenticator::new(key).verify(&token).expect("valid");
    /// assert_eq!(&verified.claims_bytes()[..], br#"{"exp":4000000000,"sub":"alice"}"#);
    /// # Ok::<(), jwt_auth_core::KeyError>(())
    /// ```
    pub fn claims_bytes(&self) -> bytes::Bytes {
        self.inner
            .json
            .get_or_init(|| {
                serde_json::to_vec(&self.inner.claims)
                    .map(bytes::Bytes::from)
                    .unwrap_or_default()
            })
            .clone()
    }

    /// The header's `kid`, if any.
    pub fn kid(&self) -> Option<&str> {
        self.inner.kid.as_deref()
    }

    /// Every verified claim, as in the token.
    pub fn claims_json(&self) -> &Value {
        &self.inner.claims
    }

    /// Every verified claim, as a map.
    pub fn claims_map(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        match &self.inner.claims {
            Value::Object(map) => map,
            _ => EMPTY.get_or_init(Map::new),
        }
    }

    /// The thumbprint the token is bound to (`cnf.jkt`, RFC 9449 §6), if
    /// it is DPoP-bound. With DPoP on, such a token only ever passes with a
    /// proof signed by that key.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.claims_map().get("cnf")?.get("jkt")?.as_str()
    }

    /// The `sub` claim, if it is a string.
    pub fn subject(&self) -> Option<&str> {
        self.claims_map().get("sub").and_then(Value::as_str)
    }

    /// The `iss` claim, if it is a string.
    pub fn issuer(&self) -> Option<&str> {
        self.claims_map().get("iss").and_then(Value::as_str)
    }

    /// Deserializes the claims into `T`. A mismatch is
    /// [`AuthErrorKind::ClaimsShape`] (401).
    pub fn claims<T: DeserializeOwned>(&self) -> Result<T, AuthError> {
        T::deserialize(&self.inner.claims).map_err(|_| AuthError::new(AuthErrorKind::ClaimsShape))
    }
}
