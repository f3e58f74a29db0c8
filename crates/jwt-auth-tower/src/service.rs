//! The tower [`Service`], and the response future every service of this
//! crate returns.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use jwt_auth_core::Authenticator;
use jwt_auth_core::adapter::{DecideFuture, Decision, Refusal};
use pin_project_lite::pin_project;
use tower_service::Service;

/// The response body of this crate's services: the inner service's body
/// (`Left`), or the rendered refusal (`Right`: JSON for HTTP, empty for a
/// gRPC "trailers-only" answer).
pub type ResponseBody<B> = Either<B, Full<Bytes>>;

/// The service produced by [`JwtAuth`](crate::JwtAuth): authenticates, then calls the inner
/// service with the verified token in the request extensions.
#[derive(Clone, Debug)]
pub struct JwtAuthService<S> {
    inner: S,
    auth: Authenticator,
}

impl<S> JwtAuthService<S> {
    pub(crate) fn new(inner: S, auth: Authenticator) -> Self {
        Self { inner, auth }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decide = self.auth.decide(&req);
        // Use the service that was driven to readiness; leave a fresh clone behind.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        ResponseFuture {
            state: State::Deciding {
                decide,
                pending: Some((inner, req)),
            },
        }
    }
}

pin_project! {
    /// The response future of [`JwtAuthService`] and
    /// [`AuthorizeService`](crate::AuthorizeService).
    pub struct ResponseFuture<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        Deciding {
            decide: DecideFuture,
            pending: Option<(S, Request<ReqBody>)>,
        },
        Inner {
            #[pin]
            future: S::Future,
        },
        Refused {
            refusal: Option<Refusal>,
        },
    }
}

impl<S: Service<Request<ReqBody>>, ReqBody> ResponseFuture<S, ReqBody> {
    pub(crate) fn inner(future: S::Future) -> Self {
        let state = State::Inner { future };
        Self { state }
    }

    pub(crate) fn refused(refusal: Refusal) -> Self {
        let state = State::Refused {
            refusal: Some(refusal),
        };
        Self { state }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Deciding { decide, pending } => {
                    let decision = ready!(Pin::new(decide).poll(cx));
                    let (mut inner, mut req) = pending.take().expect("polled after completion");
                    match decision {
                        Decision::Allow(allow) => {
                            allow.edit_headers(req.headers_mut());
                            req.extensions_mut().insert(allow.into_authentication());
                            State::Inner {
                                future: inner.call(req),
                            }
                        }
                        Decision::Refuse(refusal) => State::Refused {
                            refusal: Some(refusal),
                        },
                    }
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(Either::Left)));
                }
                StateProj::Refused { refusal } => {
                    let refusal = refusal.take().expect("polled after completion");
                    let response = refusal.into_http::<Bytes>();
                    return Poll::Ready(Ok(response.map(|b| Either::Right(Full::new(b)))));
                }
            };
            self.as_mut().project().state.set(next);
        }
    }
}

impl<S: Service<Request<ReqBody>>, ReqBody> std::fmt::Debug for ResponseFuture<S, ReqBody> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
