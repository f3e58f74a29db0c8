//! The actix-web middleware.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::{Error, HttpMessage};
use jwt_auth_core::Authenticator;
use jwt_auth_core::adapter::{Allow, Decision, Refusal, Reply};
use pin_project_lite::pin_project;

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

type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

impl<S, B> Service<ServiceRequest> for JwtAuthMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = MiddlewareFuture<S, B>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let decide = self
            .auth
            .authenticator()
            .decide(&ActixRequest::new(req.request()));
        match decide.into_ready() {
            // Decided at once (the common case): nothing boxed.
            Ok(decision) => MiddlewareFuture::decided(&*self.service, decision, req),
            Err(decide) => {
                let service = Rc::clone(&self.service);
                MiddlewareFuture::waiting(Box::pin(async move {
                    let decision = decide.await;
                    MiddlewareFuture::decided(&*service, decision, req).await
                }))
            }
        }
    }
}

pin_project! {
    /// The response future of [`JwtAuthMiddleware`] and
    /// [`AuthorizeMiddleware`](crate::AuthorizeMiddleware).
    pub struct MiddlewareFuture<S, B>
    where
        S: Service<ServiceRequest>,
    {
        #[pin]
        state: State<S::Future, B>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, B> {
        Inner { #[pin] future: F },
        Refused { response: Option<ServiceResponse<EitherBody<B>>> },
        Waiting { future: LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>> },
    }
}

impl<S, B> MiddlewareFuture<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    pub(crate) fn inner(future: S::Future) -> Self {
        let state = State::Inner { future };
        Self { state }
    }

    pub(crate) fn refused(req: ServiceRequest, refusal: &Refusal) -> Self {
        Self::replied(req, refusal.reply())
    }

    fn replied(req: ServiceRequest, reply: &Reply) -> Self {
        let response = req.into_response(render(reply)).map_into_right_body();
        let state = State::Refused {
            response: Some(response),
        };
        Self { state }
    }

    fn waiting(future: LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>>) -> Self {
        let state = State::Waiting { future };
        Self { state }
    }

    fn decided(service: &S, decision: Decision, mut req: ServiceRequest) -> Self {
        match decision {
            Decision::Allow(allow) => {
                edit_headers(&allow, &mut req);
                req.extensions_mut().insert(allow.into_authentication());
                Self::inner(service.call(req))
            }
            Decision::Refuse(refusal) => Self::refused(req, &refusal),
            Decision::Respond(reply) => Self::replied(req, &reply),
        }
    }
}

impl<S, B> Future for MiddlewareFuture<S, B>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Inner { future } => {
                future.poll(cx).map_ok(ServiceResponse::map_into_left_body)
            }
            StateProj::Refused { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
            StateProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}

impl<S: Service<ServiceRequest>, B> std::fmt::Debug for MiddlewareFuture<S, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiddlewareFuture").finish_non_exhaustive()
    }
}
