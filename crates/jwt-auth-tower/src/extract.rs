//! axum extractors.

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use jwt_auth_core::adapter::Rejection;
use jwt_auth_core::{AuthError, Authentication};
use serde::de::DeserializeOwned;

/// The verified claims of the request, deserialized into `T`.
///
/// - `Claims<T>`: requires a verified token. Without one (a route with
///   [`allow_anonymous`](crate::Authenticator::allow_anonymous)) the answer is 401.
/// - `Option<Claims<T>>` or [`OptionalClaims<T>`] (the same on actix-web):
///   `None` when the request had no token; a token of the wrong shape is 401.
///
/// On a route without the [`JwtAuth`](crate::JwtAuth) layer, both answer 500
/// and log an error: a misconfiguration is never silently anonymous.
///
/// ```
/// use jwt_auth_tower::{Claims, DefaultClaims};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims { sub: String, roles: Vec<String> }
///
/// async fn admin(Claims(c): Claims<MyClaims>) -> String { c.roles.join(",") }
/// async fn greet(claims: Option<Claims<DefaultClaims>>) -> &'static str {
///     if claims.is_some() { "hello, member" } else { "hello, stranger" }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims<T = jwt_auth_core::DefaultClaims>(pub T);

impl<T> std::ops::Deref for Claims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T, S> FromRequestParts<S> for Claims<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        jwt_auth_core::adapter::required_claims(parts.extensions.get::<Authentication>())
            .map(Claims)
            .map_err(ClaimsRejection)
    }
}

impl<T, S> OptionalFromRequestParts<S> for Claims<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        jwt_auth_core::adapter::optional_claims(parts.extensions.get::<Authentication>())
            .map(|c| c.map(Claims))
            .map_err(ClaimsRejection)
    }
}

/// The verified claims deserialized into `T`, or `None` when the request
/// had no token (a route whose authenticator
/// [`allow_anonymous`](crate::Authenticator::allow_anonymous)). A token of the
/// wrong shape answers 401; a route without the layer, 500 (logged). The
/// same extractor, with the same answers, exists on actix-web, where
/// `Option<Claims<T>>` cannot give them; on axum `Option<Claims<T>>` answers
/// alike.
///
/// ```
/// use jwt_auth_tower::{DefaultClaims, OptionalClaims};
///
/// async fn greet(OptionalClaims(claims): OptionalClaims<DefaultClaims>) -> &'static str {
///     if claims.is_some() { "hello, member" } else { "hello, stranger" }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalClaims<T = jwt_auth_core::DefaultClaims>(pub Option<T>);

impl<T, S> FromRequestParts<S> for OptionalClaims<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ClaimsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        jwt_auth_core::adapter::optional_claims(parts.extensions.get::<Authentication>())
            .map(OptionalClaims)
            .map_err(ClaimsRejection)
    }
}

/// Why `Claims<T>` could not be extracted; answers like the middleware does.
#[derive(Debug, Clone)]
pub struct ClaimsRejection(Rejection);

impl ClaimsRejection {
    /// The underlying error.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }

    /// The status code.
    pub fn status(&self) -> http::StatusCode {
        self.0.response.status
    }

    /// The body text.
    pub fn body_text(&self) -> String {
        self.0.response.body.clone()
    }
}

impl IntoResponse for ClaimsRejection {
    fn into_response(self) -> Response {
        self.0
            .response
            .into_http::<String>()
            .map(|b| axum_core::body::Body::from(Bytes::from(b)))
    }
}

impl std::fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0.error, f)
    }
}

impl std::error::Error for ClaimsRejection {}
