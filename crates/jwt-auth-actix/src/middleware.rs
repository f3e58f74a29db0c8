//! The actix-web middleware.

use std::future::{Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use jwt_auth_core::Authenticator;
use jwt_auth_core::adapter::{Allow, Decision};

use crate::{ActixRequest, render};

/// Middleware that authenticates every request with a JWT: the actix-web
/// face of an [`Authenticator`], where every setting lives.
///
/// Requests with a valid token reach the handler with the verified token in
/// their extensions (read it with [`Claims<T>`](crate::Claims)). Others get the
/// RFC 6750 answer. Cheap to clone.
///
/// ```
/// # fn main() -> Result<(), jwt_auth_actix::KeyError> {
/// use std::time::Duration;
/// use jwt_auth_actix::{Authenticator, JwtAuth, Key, TokenSource};
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

impl JwtAuth {
    /// The middleware for a configured [`Authenticator`], or for keys (a
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

impl<S, B> Transform<S, ServiceRequest> for JwtAuth
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = JwtAuthMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(JwtAuthMiddleware {
            service: Rc::new(service),
            auth: self.clone(),
        }))
    }
}

/// The service produced by [`JwtAuth`].
#[derive(Debug)]
pub struct JwtAuthMiddleware<S> {
    service: Rc<S>,
    auth: JwtAuth,
}

/// Applies the core's header edits (claim forwarding) with actix-web's own
/// header types.
fn edit_headers(allow: &Allow, req: &mut ServiceRequest) {
    use actix_web::http::header::{HeaderName, HeaderValue};
    let headers = req.headers_mut();
    for name in allow.removed_headers() {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            headers.remove(name);
        }
    }
    for (name, value) in allow.added_headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
}

type LocalBoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for JwtAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let view = ActixRequest::new(req.request());
        let decide = self.auth.authenticator().decide(&view);
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut req = req;
            let allow = match decide.await {
                Decision::Allow(allow) => allow,
                Decision::Refuse(refusal) => {
                    return Ok(req.into_response(render(&refusal)).map_into_right_body());
                }
            };
            edit_headers(&allow, &mut req);
            req.extensions_mut().insert(allow.into_authentication());
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}
