//! Authorization layers: roles, scopes, permissions or any [`Requirement`].

use std::task::{Context, Poll};

use http::{Request, Response};
use jwt_auth_core::{Authentication, Requirement};
use tower_layer::Layer;
use tower_service::Service;

use crate::service::{RefusalBody, ResponseFuture};

/// A [`Layer`] that lets through only requests whose verified token meets a
/// [`Requirement`]; place it inside (after) a [`JwtAuth`](crate::JwtAuth).
///
/// Without a token the answer is 401; with a token that fails the
/// requirement, 403 `insufficient_scope` (on a gRPC request, `UNAUTHENTICATED`
/// and `PERMISSION_DENIED`: see [`grpc`](crate::grpc)). Build it with
/// [`Authorize::new`] from a [`Requirement`](crate::Requirement) (roles,
/// scopes, permissions, or a predicate).
///
/// ```
/// use axum::{Router, routing::get};
/// use jwt_auth_tower::{Authorize, JwtAuth, Key, Requirement};
///
/// # fn main() -> Result<(), jwt_auth_tower::KeyError> {
/// let auth = JwtAuth::new(Key::hmac([7u8; 32])?);
/// // One requirement per route (a `Router::route_layer` would also cover
/// // the routes added before it).
/// let app: Router = Router::new()
///     .route("/admin", get(|| async { "admin" }).route_layer(Authorize::new(Requirement::any_role(["admin"]))))
///     .route("/reports", get(|| async { "reports" }).route_layer(Authorize::new(
///         Requirement::any_role(["analyst"]).from_claim("realm_access.roles"),
///     )))
///     .layer(auth);
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Authorize(Requirement);

impl Authorize {
    /// Requires `requirement`.
    pub fn new(requirement: Requirement) -> Self {
        Self(requirement)
    }
}

impl<S> Layer<S> for Authorize {
    type Service = AuthorizeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthorizeService(inner, self.0.clone())
    }
}

/// The service produced by [`Authorize`].
#[derive(Clone, Debug)]
pub struct AuthorizeService<S>(S, Requirement);

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for AuthorizeService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let auth = req.extensions().get::<Authentication>();
        match self.1.decide(&req, auth) {
            Ok(()) => ResponseFuture::inner(self.0.call(req)),
            Err(refusal) => ResponseFuture::refused(refusal),
        }
    }
}
