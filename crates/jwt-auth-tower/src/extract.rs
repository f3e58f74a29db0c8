//! axum: the extractors, and the protected resource's metadata document
//! (RFC 9728) served as a route.

use axum::Router;
use axum::routing::get;
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use jwt_auth_core::adapter::{Rejection, Reply};
use jwt_auth_core::{AuthError, Authentication, ProtectedResource};
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

/// A router that serves `resource`'s metadata document (RFC 9728) at its
/// well-known paths ([`ProtectedResource::document_paths`]), to merge into
/// the app: `GET` and `HEAD`, no token needed, `application/json` and
/// cacheable; other methods get 405.
///
/// [`JwtAuth`](crate::JwtAuth) with a protected resource already answers
/// these paths wherever it sees them (`Router::layer`); merge this where it
/// does not (`route_layer`, a nested router), so the document is there
/// either way.
///
/// ```
/// use axum::{Router, routing::post};
/// use jwt_auth_tower::{Authenticator, JwtAuth, Key, ProtectedResource, resource_metadata};
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let resource = ProtectedResource::new("https://api.example.com/mcp")?
///     .authorization_server("https://auth.example.com");
/// let auth = Authenticator::new(Key::hmac([7u8; 32])?).protected_resource(resource.clone());
/// let app: Router = Router::new()
///     .route("/mcp", post(|| async { "tools" }))
///     .route_layer(JwtAuth::new(auth))
///     .merge(resource_metadata(&resource));
///
/// let request = http::Request::get("/.well-known/oauth-protected-resource/mcp")
///     .body(axum::body::Body::empty())?;
/// let response = app.oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// # Ok(()) }
/// ```
pub fn resource_metadata<S: Clone + Send + Sync + 'static>(
    resource: &ProtectedResource,
) -> Router<S> {
    let document = Bytes::from(resource.document());
    let answer = move || {
        let reply = Reply::document(document.clone(), false);
        std::future::ready(reply.into_http::<axum::body::Body>())
    };
    let route = |router: Router<S>, path| router.route(path, get(answer.clone()));
    resource.document_paths().fold(Router::new(), route)
}
