//! The tower [`Service`], the response future every service of this crate
//! returns, and the bodies a refusal can be sent in.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use jwt_auth_core::Authenticator;
#[cfg(feature = "axum")]
use jwt_auth_core::adapter::WithPath;
use jwt_auth_core::adapter::{DecideFuture, Decision, Refusal, Reply};
use pin_project_lite::pin_project;
use tower_service::Service;

/// A response body a refusal can be answered in: the layers answer in the
/// inner service's own body type, so a response is passed through as it is,
/// never wrapped or boxed.
///
/// Implemented for axum's `Body` (feature `axum`), tonic's `Body` (feature
/// `tonic`), `http_body_util::Full<Bytes>`, the boxed bodies of
/// `http_body_util` and `String`. Implement it for your own body type to use
/// the layers with it.
pub trait RefusalBody {
    /// A body holding `bytes`: the JSON document of an HTTP refusal, or
    /// nothing for a gRPC "trailers-only" one.
    fn from_refusal(bytes: Bytes) -> Self;
}

/// `RefusalBody` for `$body`, built from the refusal's bytes by `$make`.
macro_rules! refusal_body {
    ($($(#[$attr:meta])* [$($generic:ident)?] $body:ty => $make:expr;)*) => {$(
        $(#[$attr])*
        impl$(<$generic>)? RefusalBody for $body {
            fn from_refusal(bytes: Bytes) -> Self {
                $make(bytes)
            }
        }
    )*};
}

refusal_body! {
    #[cfg(feature = "axum")]
    [] axum_core::body::Body => axum_core::body::Body::from;
    #[cfg(feature = "tonic")]
    [] tonic::body::Body => |b| tonic::body::Body::new(Full::new(b));
    [] Full<Bytes> => Full::new;
    [] String => |b: Bytes| String::from_utf8_lossy(&b).into_owned();
    [E] http_body_util::combinators::UnsyncBoxBody<Bytes, E> =>
        |b| BodyExt::boxed_unsync(BodyExt::map_err(Full::new(b), |never| match never {}));
    [E] http_body_util::combinators::BoxBody<Bytes, E> =>
        |b| BodyExt::boxed(BodyExt::map_err(Full::new(b), |never| match never {}));
}

/// The service produced by [`JwtAuth`](crate::JwtAuth): authenticates, then
/// calls the inner service with the verified token in the request
/// extensions.
#[derive(Clone, Debug)]
pub struct JwtAuthService<S> {
    pub(crate) inner: S,
    pub(crate) auth: Authenticator,
}

impl<S> JwtAuthService<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for JwtAuthService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
    ResBody: RefusalBody,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Under axum's `Router::nest` the URI lost its prefix: core reads
        // the original one, the URL a DPoP proof's `htu` names.
        #[cfg(feature = "axum")]
        let decide = match req.extensions().get::<axum::extract::OriginalUri>() {
            Some(original) => self.auth.decide(&WithPath::new(&req, original.0.path())),
            None => self.auth.decide(&req),
        };
        #[cfg(not(feature = "axum"))]
        let decide = self.auth.decide(&req);
        match decide.into_ready() {
            // Decided at once (the common case): call the service that was
            // driven to readiness, nothing cloned.
            Ok(decision) => ResponseFuture::decided(&mut self.inner, decision, req),
            // Keys or a store to wait for: take the ready service along and
            // leave a fresh clone behind.
            Err(decide) => {
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                let state = State::Deciding {
                    decide,
                    pending: Some((inner, req)),
                };
                ResponseFuture { state }
            }
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
        Replied {
            reply: Option<Reply>,
        },
    }
}

impl<S: Service<Request<ReqBody>>, ReqBody> ResponseFuture<S, ReqBody> {
    pub(crate) fn inner(future: S::Future) -> Self {
        let state = State::Inner { future };
        Self { state }
    }

    pub(crate) fn refused(refusal: Refusal) -> Self {
        Self::replied(refusal.into_reply())
    }

    fn replied(reply: Reply) -> Self {
        let state = State::Replied { reply: Some(reply) };
        Self { state }
    }

    /// Applies a decision: the request goes on to `inner` with its
    /// `Authentication` and header edits, or the refusal is answered.
    fn decided(inner: &mut S, decision: Decision, mut req: Request<ReqBody>) -> Self {
        match decision {
            Decision::Allow(allow) => {
                allow.edit_headers(req.headers_mut());
                req.extensions_mut().insert(allow.into_authentication());
                Self::inner(inner.call(req))
            }
            Decision::Refuse(refusal) => Self::refused(refusal),
            Decision::Respond(reply) => Self::replied(reply),
        }
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: RefusalBody,
{
    type Output = Result<Response<ResBody>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let next = match self.as_mut().project().state.project() {
                StateProj::Deciding { decide, pending } => {
                    let decision = ready!(Pin::new(decide).poll(cx));
                    let (mut inner, req) = pending.take().expect("polled after completion");
                    Self::decided(&mut inner, decision, req).state
                }
                StateProj::Inner { future } => return future.poll(cx),
                StateProj::Replied { reply } => {
                    let reply = reply.take().expect("polled after completion");
                    let response = reply.into_http::<Bytes>();
                    return Poll::Ready(Ok(response.map(ResBody::from_refusal)));
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
