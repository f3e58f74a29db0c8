//! The tower [`Layer`].

use tower_layer::Layer;

use crate::service::JwtAuthService;

jwt_auth_core::__jwt_auth_middleware_type! {
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
}

impl<S> Layer<S> for JwtAuth {
    type Service = JwtAuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuthService::new(inner, self.clone())
    }
}
