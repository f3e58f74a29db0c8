//! The tower [`Service`], its response future and response body.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use jwt_auth_core::adapter::{DecideFuture, Decision, Refusal};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::layer::JwtAuth;

/// The service produced by [`JwtAuth`]: authenticates, then calls the inner
/// service with the verified token in the request extensions.
#[derive(Clone, Debug)]
pub struct JwtAuthService<S> {
    inner: S,
    auth: JwtAuth,
}

impl<S> JwtAuthService<S> {
    pub(crate) fn new(inner: S, auth: JwtAuth) -> Self {
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
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let decide = self.auth.authenticator().decide(&req);
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
    /// The response future of [`JwtAuthService`].
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
    }
}

impl<S, ReqBody, ResBody> Future for ResponseFuture<S, ReqBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let this = self.as_mut().project();
            match this.state.project() {
                StateProj::Deciding { decide, pending } => {
                    let decision = ready!(Pin::new(decide).poll(cx));
                    let Some((mut inner, mut req)) = pending.take() else {
                        panic!("jwt-auth ResponseFuture polled after completion");
                    };
                    let allow = match decision {
                        Decision::Allow(allow) => allow,
                        Decision::Refuse(refusal) => return Poll::Ready(Ok(refused(refusal))),
                    };
                    allow.edit_headers(req.headers_mut());
                    req.extensions_mut().insert(allow.into_authentication());
                    let future = inner.call(req);
                    self.as_mut().project().state.set(State::Inner { future });
                }
                StateProj::Inner { future } => {
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
            }
        }
    }
}

/// The response for a refusal; an empty body (a gRPC "trailers-only"
/// answer) ends the stream with the headers.
pub(crate) fn refused<B>(refusal: Refusal) -> Response<ResponseBody<B>> {
    refusal.into_http::<Bytes>().map(|body| {
        if body.is_empty() {
            ResponseBody::empty()
        } else {
            ResponseBody::rejection(body)
        }
    })
}

pin_project! {
    /// The response body of [`JwtAuthService`]: the inner service's body, or
    /// the JSON body of a refusal (empty for a gRPC refusal).
    pub struct ResponseBody<B> {
        #[pin]
        kind: BodyKind<B>,
    }
}

pin_project! {
    #[project = BodyKindProj]
    enum BodyKind<B> {
        Inner { #[pin] body: B },
        Rejection { body: Option<Bytes> },
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: BodyKind::Inner { body },
        }
    }

    fn rejection(body: Bytes) -> Self {
        Self {
            kind: BodyKind::Rejection { body: Some(body) },
        }
    }

    /// The empty body of a gRPC "trailers-only" refusal.
    pub(crate) fn empty() -> Self {
        Self {
            kind: BodyKind::Rejection { body: None },
        }
    }
}

impl<B: Body<Data = Bytes>> Body for ResponseBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            BodyKindProj::Inner { body } => body.poll_frame(cx),
            BodyKindProj::Rejection { body } => {
                Poll::Ready(body.take().map(|b| Ok(Frame::data(b))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body } => body.is_end_stream(),
            BodyKind::Rejection { body } => body.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body } => body.size_hint(),
            BodyKind::Rejection { body } => {
                SizeHint::with_exact(body.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

impl<B> std::fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody").finish_non_exhaustive()
    }
}
