//! The tower [`Layer`].

use jwt_auth_core::{Authenticator, Key};
use tower_layer::Layer;

use crate::service::JwtAuthService;

/// A [`Layer`] that authenticates every request with a JWT.
///
/// Requests with a valid token reach the inner service with the verified token
/// in their extensions (read it with the `Claims<T>` extractor). Others get
/// the RFC 6750 answer. Cheap to clone.
///
/// ```
/// # fn main() -> Result<(), jwt_auth_tower::KeyError> {
/// use std::time::Duration;
/// use jwt_auth_tower::{JwtAuth, Key, TokenSource};
///
/// let auth = JwtAuth::new(Key::hmac([7u8; 32])?)
///     .issuer("https://auth.example.com")
///     .audience("orders")
///     .leeway(Duration::from_secs(30))
///     .token_source(TokenSource::cookie("jwt"));
/// # let _ = auth; Ok(()) }
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct JwtAuth {
    pub(crate) authenticator: Authenticator,
    pub(crate) allow_anonymous: bool,
}

impl JwtAuth {
    /// Authenticates with `key` and the secure defaults of [`jwt_auth_core::Validation`].
    pub fn new(key: Key) -> Self {
        Self::from(Authenticator::new(key))
    }

    jwt_auth_core::__jwt_auth_builder_methods!();
}

impl From<Authenticator> for JwtAuth {
    fn from(authenticator: Authenticator) -> Self {
        Self {
            authenticator,
            allow_anonymous: false,
        }
    }
}

impl<S> Layer<S> for JwtAuth {
    type Service = JwtAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuthService::new(inner, self.clone())
    }
}
