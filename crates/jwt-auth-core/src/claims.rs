//! Claims types: the registered claims of RFC 7519 §4.1, an audience that is

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Claims types: the registered claims of RFC 7519 §4.1, an audience that is
/// one string or many, and a default claims type that keeps everything else.
///
/// Handlers may use any `T: DeserializeOwned` as their claims type; these are
/// the building blocks.
///
/// ```
/// use jwt_auth_core::{Audience, DefaultClaims};
///
/// let claims: DefaultClaims = serde_json::from_value(serde_json::json!({
///     "sub": "alice", "aud": ["api", "web"], "exp": 1.9e9, "roles": ["admin"]
/// })).unwrap();
/// assert_eq!(claims.registered.sub.as_deref(), Some("alice"));
/// assert!(claims.registered.aud.as_ref().is_some_and(|a| a.contains("web")));
/// assert_eq!(claims.extra["roles"][0], "admin");
/// ```
///
/// `aud`: a single string or an array of strings (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    /// A single audience.
    One(String),
    /// Several audiences.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `aud` names `audience`.
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Self::One(a) => a == audience,
            Self::Many(list) => list.iter().any(|a| a == audience),
        }
    }

    /// Iterates over the audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Self::One(a) => (Some(a.as_str()), &[][..]),
            Self::Many(list) => (None, list.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }
}

/// The registered claims (RFC 7519 §4.1). Times are NumericDates: seconds
/// since the epoch, possibly with a fraction.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RegisteredClaims {
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiration time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<f64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<f64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<f64>,
    /// JWT ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

/// The default claims type: the registered claims plus every other claim.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DefaultClaims {
    /// The registered claims.
    #[serde(flatten)]
    pub registered: RegisteredClaims,
    /// Every other claim, as in the token.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DefaultClaims {
    /// The subject, if any.
    pub fn sub(&self) -> Option<&str> {
        self.registered.sub.as_deref()
    }
}
