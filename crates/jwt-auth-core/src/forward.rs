//! Claim forwarding for gateways and sidecars: after verification, set
//! request headers from claims (`x-auth-sub`, `x-auth-roles`, …) for the
//! service behind, the way Envoy's `claim_to_headers` and
//! `forward_payload_header` do.
//!
//! **The configured headers are always removed from the incoming request
//! first**, on every request the middleware passes on (anonymous ones
//! included), so a client can never supply them itself.
//!
//! ```
//! use jwt_auth_core::{Authenticator, ClaimHeaders, Key};
//!
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! let exp = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
//! let token = key.encode(&serde_json::json!({
//!     "sub": "alice", "exp": exp, "roles": ["admin", "user"],
//!     "realm_access": {"roles": ["ops"]},
//! }))?;
//! let forward = ClaimHeaders::new()
//!     .claim("x-auth-sub", "sub")
//!     .claim("x-auth-roles", "roles")
//!     .claim("x-auth-realm-roles", "realm_access.roles");
//! let auth = Authenticator::new(key).forward_claims(forward.clone());
//!
//! // A client tries to pass itself off as an admin.
//! let mut headers = http::HeaderMap::new();
//! headers.insert("x-auth-roles", "admin".parse().unwrap());
//! headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
//! let verified = auth.verify(&token).ok();
//! forward.apply(&mut headers, verified.as_ref());
//! assert_eq!(headers["x-auth-sub"], "alice");
//! assert_eq!(headers["x-auth-roles"], "admin,user");
//! assert_eq!(headers["x-auth-realm-roles"], "ops");
//!
//! // Without a verified token, the spoofed header is only removed.
//! let mut spoofed = http::HeaderMap::new();
//! spoofed.insert("x-auth-sub", "root".parse().unwrap());
//! forward.apply(&mut spoofed, None);
//! assert!(spoofed.is_empty());
//! # Ok::<(), jwt_auth_core::KeyError>(())
//! ```

use std::fmt;

use http::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::token::VerifiedToken;

/// Headers a forwarded value may never be written to: credentials, framing
/// and hop-by-hop headers.
const RESERVED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// Longest value forwarded; a longer one is left out.
const MAX_VALUE_LEN: usize = 8 * 1024;

#[derive(Clone)]
enum Source {
    /// A claim, by dotted path.
    Claim(Vec<String>),
    /// The whole claims object, as base64url JSON.
    Payload,
}

#[derive(Clone)]
struct Entry {
    header: HeaderName,
    source: Source,
}

/// Which request headers to set from verified claims. Set it with
/// `JwtAuth::forward_claims` (or [`Authenticator::forward_claims`]); the
/// adapters then remove these headers from every request they pass on and
/// set them from the verified token.
///
/// Values: a string claim as it is; a number or boolean as JSON text; an
/// array as its elements joined with `,` (as Envoy does); an object as
/// compact JSON. A claim that is missing, or whose value holds control
/// characters or is longer than 8 KiB, sets no header.
///
/// [`Authenticator::forward_claims`]: crate::Authenticator::forward_claims
#[derive(Clone, Default)]
pub struct ClaimHeaders {
    entries: Vec<Entry>,
}

impl fmt::Debug for ClaimHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| e.header.as_str()))
            .finish()
    }
}

fn header_name(name: &str) -> HeaderName {
    let header = HeaderName::from_bytes(name.as_bytes())
        .unwrap_or_else(|_| panic!("jwt-auth: {name:?} is not a valid header name"));
    assert!(
        !RESERVED.contains(&header.as_str()),
        "jwt-auth: claims cannot be forwarded in the {header} header"
    );
    header
}

impl ClaimHeaders {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `header` from the claim at `claim_path`: a name, or a dotted
    /// path into nested objects (`realm_access.roles` for Keycloak).
    ///
    /// # Panics
    ///
    /// When `header` is not a valid header name, or is one of the headers
    /// that carry credentials or framing (`authorization`, `cookie`, `host`,
    /// `content-length`, …). This is configuration, checked at start-up.
    pub fn claim(mut self, header: &str, claim_path: &str) -> Self {
        self.entries.push(Entry {
            header: header_name(header),
            source: Source::Claim(claim_path.split('.').map(str::to_owned).collect()),
        });
        self
    }

    /// Sets `header` to the whole verified claims object as base64url
    /// (no padding) JSON, like Envoy's `forward_payload_header`.
    ///
    /// # Panics
    ///
    /// As [`claim`](Self::claim).
    pub fn payload(mut self, header: &str) -> Self {
        self.entries.push(Entry {
            header: header_name(header),
            source: Source::Payload,
        });
        self
    }

    /// Whether no header is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The configured header names (lower case), for adapters to strip.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.header.as_str())
    }

    /// The headers to set for `token`: `(name, value)` pairs, values already
    /// checked to be valid header values.
    pub fn values(&self, token: &VerifiedToken) -> Vec<(&str, String)> {
        let claims = token.claims_map();
        self.entries
            .iter()
            .filter_map(|entry| {
                let value = match &entry.source {
                    Source::Payload => Some(crate::b64::encode(&token.claims_bytes())),
                    Source::Claim(path) => {
                        let (first, rest) = path.split_first()?;
                        let value = rest
                            .iter()
                            .try_fold(claims.get(first)?, |v, key| v.get(key))?;
                        render(value)
                    }
                }?;
                if value.len() > MAX_VALUE_LEN || value.bytes().any(|b| b < 0x20 || b == 0x7f) {
                    tracing::debug!(
                        header = entry.header.as_str(),
                        "jwt-auth: a claim was not forwarded (too long or control characters)"
                    );
                    return None;
                }
                Some((entry.header.as_str(), value))
            })
            .collect()
    }

    /// Removes every configured header from `headers`, then sets them from
    /// `token` (when there is one). For adapters on `http` 1 types.
    pub fn apply(&self, headers: &mut http::HeaderMap, token: Option<&VerifiedToken>) {
        for entry in &self.entries {
            // `remove` drops every value of the name.
            headers.remove(&entry.header);
        }
        let Some(token) = token else {
            return;
        };
        for (name, value) in self.values(token) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.append(name, value);
            }
        }
    }
}

/// A claim value as header text.
fn render(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect::<Vec<_>>()
                .join(","),
        ),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_render_like_envoy() {
        assert_eq!(render(&Value::from("a b")), Some("a b".into()));
        assert_eq!(render(&Value::from(42)), Some("42".into()));
        assert_eq!(render(&Value::from(true)), Some("true".into()));
        assert_eq!(
            render(&serde_json::json!(["a", 1, null, "b"])),
            Some("a,1,b".into())
        );
        assert_eq!(
            render(&serde_json::json!({"k": "v"})),
            Some(r#"{"k":"v"}"#.into())
        );
        assert_eq!(render(&Value::Null), None);
    }

    #[test]
    #[should_panic(expected = "cannot be forwarded")]
    fn credential_headers_are_refused() {
        let _ = ClaimHeaders::new().claim("Authorization", "sub");
    }

    #[test]
    #[should_panic(expected = "not a valid header name")]
    fn invalid_names_are_refused() {
        let _ = ClaimHeaders::new().claim("x auth", "sub");
    }
}
