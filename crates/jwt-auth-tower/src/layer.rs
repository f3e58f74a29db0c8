//! The tower [`Layer`].

use jwt_auth_core::Authenticator;
use tower_layer::Layer;

use crate::service::JwtAuthService;

/// A [`Layer`] that authenticates every request with a JWT: the tower face of
/// an [`Authenticator`], where every setting lives.
///
/// Requests with a valid token reach the inner service with the verified token
/// in their extensions (read it with the `Claims<T>` extractor). Others get
/// the RFC 6750 answer. Cheap to clone.
///
/// ```
/// # fn main() -> Result<(), jwt_auth_tower::KeyError> {
/// use std::time::Duration;
/// use jwt_auth_tower::{Authenticator, JwtAuth, Key, TokenSource};
///
/// let key = Key::hmac([7u8; 32])?;
/// let simple = JwtAuth::new(key.clone()); // keys alone: the secure defaults
/// let auth = JwtAuth::new(
///     Authenticator::new(key)
///         .issuer("https://auth.example.com")
///         .audience("orders")
///         .leeway(Duration::from_secs(30))
///         .token_source(TokenSource::cookie("jwt")),
/// );
/// # let _ = (simple, auth); Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct JwtAuth(Authenticator);

impl<S> Layer<S> for JwtAuth {
    type Service = JwtAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuthService {
            inner,
            auth: self.0.clone(),
        }
    }
}

impl JwtAuth {
    /// The layer for a configured [`Authenticator`], or for keys (a
    /// [`Key`](crate::Key), a [`KeySet`](crate::KeySet), remote keys or an
    /// [`Issuers`](crate::Issuers) map) with the secure defaults.
    pub fn new(authenticator: impl Into<Authenticator>) -> Self {
        Self(authenticator.into())
    }

    /// The authenticator that judges every request.
    pub fn authenticator(&self) -> &Authenticator {
        &self.0
    }
}
