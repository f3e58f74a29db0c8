//! The protected resource's metadata document (RFC 9728), served as a route.

use actix_web::web;
use actix_web::web::Bytes;
use jwt_auth_core::ProtectedResource;
use jwt_auth_core::adapter::Reply;

/// Serves `resource`'s metadata document (RFC 9728) at its well-known
/// paths ([`ProtectedResource::document_paths`]), for `App::configure`:
/// `GET` and `HEAD`, no token needed, `application/json` and cacheable;
/// other methods get 405.
///
/// [`JwtAuth`](crate::JwtAuth) with a protected resource already answers
/// these paths wherever it wraps them; mount this where it does not (a
/// middleware on a scope), so the document is there either way.
///
/// ```
/// use actix_web::{App, test, web};
/// use jwt_auth_actix::{Authenticator, JwtAuth, Key, ProtectedResource, resource_metadata};
///
/// # #[actix_web::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let resource = ProtectedResource::new("https://api.example.com/mcp")?
///     .authorization_server("https://auth.example.com");
/// let auth = Authenticator::new(Key::hmac([7u8; 32])?).protected_resource(resource.clone());
/// let app = test::init_service(
///     App::new()
///         .configure(resource_metadata(&resource))
///         .service(web::scope("/mcp").wrap(JwtAuth::new(auth))),
/// )
/// .await;
/// let request = test::TestRequest::get()
///     .uri("/.well-known/oauth-protected-resource/mcp")
///     .to_request();
/// let document: serde_json::Value = test::call_and_read_body_json(&app, request).await;
/// assert_eq!(document["resource"], "https://api.example.com/mcp");
/// # Ok(()) }
/// ```
pub fn resource_metadata(
    resource: &ProtectedResource,
) -> impl Fn(&mut web::ServiceConfig) + Clone + 'static {
    let document = Bytes::from(resource.document());
    let paths: Vec<String> = resource.document_paths().map(str::to_owned).collect();
    move |config| {
        for path in &paths {
            let handler = |head: bool| {
                let document = document.clone();
                move || {
                    let reply = Reply::document(document.clone(), head);
                    async move { crate::render(&reply) }
                }
            };
            config.service(
                web::resource(path.as_str())
                    .route(web::get().to(handler(false)))
                    .route(web::head().to(handler(true))),
            );
        }
    }
}
