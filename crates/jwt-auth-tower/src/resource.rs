//! The protected resource's metadata document (RFC 9728), served as an axum
//! route.

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use jwt_auth_core::ProtectedResource;
use jwt_auth_core::adapter::Reply;

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
pub fn resource_metadata<S>(resource: &ProtectedResource) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let document = Bytes::from(resource.document());
    resource
        .document_paths()
        .fold(Router::new(), |router, path| {
            let document = document.clone();
            router.route(
                path,
                get(move || {
                    let reply = Reply::document(document.clone(), false);
                    async move { reply.into_http::<axum::body::Body>() }
                }),
            )
        })
}
