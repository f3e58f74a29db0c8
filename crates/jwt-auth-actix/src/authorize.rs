//! Authorization middleware: roles, scopes, permissions or any
//! [`Requirement`].

use std::future::{Ready, ready};
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use jwt_auth_core::{Authentication, Requirement};

use crate::ActixRequest;
use crate::middleware::MiddlewareFuture;

/// Middleware that lets through only requests whose verified token meets a
/// [`Requirement`]; it must run after [`JwtAuth`](crate::JwtAuth) (in
/// actix-web, `.wrap()` it *before* `JwtAuth`: the last `wrap` runs first).
///
/// Without a token the answer is 401; with a token that fails the
/// requirement, 403 `insufficient_scope`. Build it with
/// [`Authorize::new`] from a [`Requirement`](crate::Requirement) (roles,
/// scopes, permissions, or a predicate).
///
/// ```
/// use actix_web::{App, web};
/// use jwt_auth_actix::{Authorize, JwtAuth, Key, Requirement};
///
/// # fn main() -> Result<(), jwt_auth_actix::KeyError> {
/// let auth = JwtAuth::new(Key::hmac([7u8; 32])?);
/// let app = App::new().service(
///     web::resource("/admin")
///         .wrap(Authorize::new(Requirement::any_role(["admin"])))
///         .wrap(auth)
///         .route(web::get().to(|| async { "admin" })),
/// );
/// # let _ = app; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Authorize {
    requirement: Rc<Requirement>,
}

impl Authorize {
    /// Requires `requirement`.
    pub fn new(requirement: Requirement) -> Self {
        Self {
            requirement: Rc::new(requirement),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authorize
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = AuthorizeMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthorizeMiddleware {
            service,
            requirement: Rc::clone(&self.requirement),
        }))
    }
}

/// The service produced by [`Authorize`].
#[derive(Debug)]
pub struct AuthorizeMiddleware<S> {
    service: S,
    requirement: Rc<Requirement>,
}

impl<S, B> Service<ServiceRequest> for AuthorizeMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = MiddlewareFuture<S, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let verdict = {
            let view = ActixRequest::new(req.request());
            self.requirement
                .decide(&view, req.extensions().get::<Authentication>())
        };
        match verdict {
            Ok(()) => MiddlewareFuture::inner(self.service.call(req)),
            Err(refusal) => MiddlewareFuture::refused(req, &refusal),
        }
    }
}
