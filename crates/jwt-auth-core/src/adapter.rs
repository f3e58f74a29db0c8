//! What a web adapter needs from core: one decision per request.
//!
//! An adapter (tower/axum, actix-web, or your own) turns its framework's
//! request into an [`AuthRequest`] view, asks [`Authenticator::decide`] (or
//! [`Requirement::decide`] for an authorization layer), and applies the
//! [`Decision`]: either let the request through with its [`Authentication`]
//! and the header edits of claim forwarding, or send the rendered
//! [`Refusal`]. Every policy — anonymous requests, gRPC "trailers-only"
//! answers, stripping and setting forwarded headers, the metrics outcome —
//! is decided here, once, so every framework answers alike.
//!
//! ```
//! use jwt_auth_core::adapter::Decision;
//! use jwt_auth_core::{Authenticator, Key};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let auth = Authenticator::new(Key::hmac([7u8; 32])?);
//! let request = http::Request::get("/me").body(()).unwrap();
//! match auth.decide(&request).await {
//!     Decision::Refuse(refusal) => {
//!         assert_eq!(refusal.status(), 401);
//!         assert_eq!(refusal.header("www-authenticate"), Some("Bearer"));
//!     }
//!     other => unreachable!("no token: {other:?}"),
//! }
//! # Ok::<(), jwt_auth_core::KeyError>(()) }).unwrap();
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::StatusCode;

pub use crate::authenticator::{Rejection, optional_claims, required_claims};
pub use crate::source::{AuthRequest, extract_token};

use crate::authenticator::{AuthenticateFuture, Authentication, Authenticator};
use crate::authz::Requirement;
use crate::error::{AuthError, AuthErrorKind, ErrorResponse};

/// Whether the request speaks gRPC: its `content-type` is
/// `application/grpc`, `application/grpc+<codec>` or `application/grpc;...`
/// (ASCII case-insensitive). gRPC-Web (`application/grpc-web...`) is not: it
/// keeps the HTTP answer.
pub fn is_grpc<R: AuthRequest + ?Sized>(req: &R) -> bool {
    const GRPC: &[u8] = b"application/grpc";
    req.header_values("content-type")
        .next()
        .is_some_and(|value| {
            value.len() >= GRPC.len()
                && value[..GRPC.len()].eq_ignore_ascii_case(GRPC)
                && matches!(value.get(GRPC.len()), None | Some(b'+' | b';'))
        })
}

/// A request view whose path is another one: the URL the client called,
/// when a router in front (axum's `Router::nest`) stripped a prefix from
/// the request's own. What a DPoP proof's `htu` names.
#[derive(Debug)]
pub struct WithPath<'r, R: ?Sized> {
    req: &'r R,
    path: &'r str,
}

impl<'r, R: AuthRequest + ?Sized> WithPath<'r, R> {
    /// `req`, with `path` as its path.
    pub fn new(req: &'r R, path: &'r str) -> Self {
        Self { req, path }
    }
}

impl<'r, R: AuthRequest + ?Sized> AuthRequest for WithPath<'r, R> {
    fn method(&self) -> Option<&str> {
        self.req.method()
    }

    fn path(&self) -> Option<&str> {
        Some(self.path)
    }

    fn query(&self) -> Option<&str> {
        self.req.query()
    }

    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'r, R> {
        self.req.header_values(name)
    }
}

/// Whether the request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_preflight<R: AuthRequest + ?Sized>(req: &R) -> bool {
    req.method() == Some("OPTIONS")
        && req.header_values("origin").next().is_some()
        && req
            .header_values("access-control-request-method")
            .next()
            .is_some()
}

/// What to do with a request.
#[derive(Debug)]
pub enum Decision {
    /// Let it through: put the [`Authentication`] in the request's
    /// extensions and apply the header edits first.
    Allow(Allow),
    /// Answer with this instead of calling the service.
    Refuse(Refusal),
    /// Answer with this, no token needed: the protected resource's metadata
    /// document (RFC 9728), asked for at its well-known path.
    Respond(Reply),
}

/// A request let through, with what the adapter must do to it.
#[derive(Debug)]
pub struct Allow {
    authentication: Authentication,
    removed: Vec<String>,
    added: Vec<(String, String)>,
}

impl Allow {
    /// What handlers read (claims, or an anonymous request).
    pub fn authentication(&self) -> &Authentication {
        &self.authentication
    }

    /// Header names to remove from the request, every occurrence (claim
    /// forwarding: a client never sets them itself). Lowercase.
    pub fn removed_headers(&self) -> impl Iterator<Item = &str> {
        self.removed.iter().map(String::as_str)
    }

    /// Headers to append to the request after the removals: the forwarded
    /// claims of the verified token.
    pub fn added_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.added.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The [`Authentication`] to store in the request's extensions.
    pub fn into_authentication(self) -> Authentication {
        self.authentication
    }

    /// Applies the header edits to an `http::HeaderMap`.
    pub fn edit_headers(&self, headers: &mut http::HeaderMap) {
        for name in self.removed_headers() {
            if let Ok(name) = http::HeaderName::from_bytes(name.as_bytes()) {
                headers.remove(name);
            }
        }
        for (name, value) in self.added_headers() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
    }
}

/// A response rendered by core, for the adapter to send as it is: a
/// [`Refusal`]'s, or the protected resource's metadata document.
#[derive(Debug, Clone)]
pub struct Reply {
    status: StatusCode,
    headers: Vec<(&'static str, String)>,
    body: Bytes,
}

impl Reply {
    /// The metadata document of a protected resource (RFC 9728), with
    /// [`DOCUMENT_HEADERS`](crate::resource::DOCUMENT_HEADERS); `head`
    /// leaves the body out.
    pub fn document(document: Bytes, head: bool) -> Self {
        let headers = crate::resource::DOCUMENT_HEADERS
            .iter()
            .map(|(name, value)| (*name, (*value).to_owned()))
            .collect();
        Self {
            status: StatusCode::OK,
            headers,
            body: if head { Bytes::new() } else { document },
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers to send (lowercase names).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.headers.iter().map(|(n, v)| (*n, v.as_str()))
    }

    /// One header's value, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The body (empty for gRPC and `HEAD`).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// As an `http::Response`.
    pub fn into_http<B: From<Bytes>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = http::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A refusal, rendered: the status, the headers and the body to send, in
/// HTTP or as a gRPC "trailers-only" answer (HTTP 200, `grpc-status`,
/// `grpc-message`, an empty body) when the request spoke gRPC.
#[derive(Debug, Clone)]
pub struct Refusal {
    error: AuthError,
    reply: Reply,
}

impl Refusal {
    /// Renders `error`'s `response` for a request that did (`grpc`) or did
    /// not speak gRPC.
    pub fn new(error: AuthError, response: ErrorResponse, grpc: bool) -> Self {
        let challenge = response.www_authenticate.clone();
        if grpc {
            let status = error.grpc_status();
            let mut headers = vec![
                ("content-type", "application/grpc".to_owned()),
                ("grpc-status", status.code().to_string()),
                ("grpc-message", status.encoded_message().into_owned()),
            ];
            headers.extend(challenge.map(|c| ("www-authenticate", c)));
            headers.extend(error.dpop_nonce().map(|n| ("dpop-nonce", n.to_owned())));
            let reply = Reply {
                status: StatusCode::OK,
                headers,
                body: Bytes::new(),
            };
            return Self { error, reply };
        }
        let mut headers = vec![(
            "content-type",
            String::from_utf8_lossy(response.content_type.as_bytes()).into_owned(),
        )];
        headers.extend(challenge.map(|c| ("www-authenticate", c)));
        headers.extend(error.dpop_nonce().map(|n| ("dpop-nonce", n.to_owned())));
        let reply = Reply {
            status: response.status,
            headers,
            body: response.body_bytes(),
        };
        Self { error, reply }
    }

    /// Why.
    pub fn error(&self) -> &AuthError {
        &self.error
    }

    /// What to send.
    pub fn reply(&self) -> &Reply {
        &self.reply
    }

    /// What to send, owned.
    pub fn into_reply(self) -> Reply {
        self.reply
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.reply.status()
    }

    /// The headers to send (lowercase names).
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.reply.headers()
    }

    /// One header's value, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.reply.header(name)
    }

    /// The body (empty for gRPC).
    pub fn body(&self) -> &Bytes {
        self.reply.body()
    }

    /// As an `http::Response`.
    pub fn into_http<B: From<Bytes>>(self) -> http::Response<B> {
        self.reply.into_http()
    }
}

impl Authenticator {
    /// Decides what to do with a request: authenticates it, applies
    /// [`allow_anonymous`](Authenticator::allow_anonymous) (a request without
    /// a token goes through with no claims; an invalid token is still
    /// refused), computes the claim headers to forward, and renders a
    /// refusal (gRPC-aware).
    ///
    /// The returned future owns what it needs; it is ready at once unless
    /// remote keys must be fetched first.
    ///
    /// With a [protected resource](Authenticator::protected_resource), a
    /// `GET` or `HEAD` request for its metadata document is answered with
    /// the document ([`Decision::Respond`]), whatever the request carries.
    pub fn decide<R: AuthRequest + ?Sized>(&self, req: &R) -> DecideFuture {
        if let Some(document) = self.metadata_request(req) {
            return DecideFuture {
                state: DecideState::Decided(Some(Box::new(Decision::Respond(document)))),
            };
        }
        if self.passes_preflight() && is_preflight(req) && !is_grpc(req) {
            // Anonymous, and without any credential it carried.
            let mut allow = self.allow(Authentication::anonymous(self.clone()));
            allow.removed.extend(
                ["authorization", "cookie", "dpop"]
                    .into_iter()
                    .map(str::to_owned),
            );
            return DecideFuture {
                state: DecideState::Decided(Some(Box::new(Decision::Allow(allow)))),
            };
        }
        DecideFuture {
            state: DecideState::Authenticating {
                authenticate: self.authenticate_for(req, self.allows_anonymous()),
                authenticator: self.clone(),
                grpc: is_grpc(req),
            },
        }
    }

    fn metadata_request<R: AuthRequest + ?Sized>(&self, req: &R) -> Option<Reply> {
        self.resource()?;
        let head = match req.method()? {
            "GET" => false,
            "HEAD" => true,
            _ => return None,
        };
        let document = self.resource_document(req.path()?)?;
        Some(Reply::document(document, head))
    }

    fn allow(&self, authentication: Authentication) -> Allow {
        let (removed, added) = match self.claim_headers() {
            Some(forward) => (
                forward
                    .header_names()
                    .map(str::to_ascii_lowercase)
                    .collect(),
                authentication
                    .token()
                    .map(|t| forward.values(t))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(n, v)| (n.to_owned(), v))
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        Allow {
            authentication,
            removed,
            added,
        }
    }

    fn refuse(&self, error: AuthError, grpc: bool) -> Refusal {
        let response = self.error_response(&error);
        Refusal::new(error, response, grpc)
    }
}

/// The future of [`Authenticator::decide`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct DecideFuture {
    state: DecideState,
}

#[derive(Debug)]
enum DecideState {
    Authenticating {
        authenticate: AuthenticateFuture,
        authenticator: Authenticator,
        grpc: bool,
    },
    /// Decided without authenticating (rare: a metadata document, a
    /// preflight); `None` once taken.
    Decided(Option<Box<Decision>>),
    /// The token verified; the application's check after validation runs.
    Checking {
        check: crate::hook::CheckFuture,
        token: Option<crate::VerifiedToken>,
        authenticator: Authenticator,
        grpc: bool,
    },
}

/// What follows an authentication outcome.
enum Next {
    Decided(Decision),
    Checking(DecideState),
}

/// A decision, or the application's check to run first.
fn next(
    auth: &Authenticator,
    outcome: Result<Option<crate::VerifiedToken>, AuthError>,
    grpc: bool,
) -> Next {
    match (outcome, auth.after_validation_check()) {
        (Ok(Some(token)), Some(check)) => Next::Checking(DecideState::Checking {
            check: check(token.clone()),
            token: Some(token),
            authenticator: auth.clone(),
            grpc,
        }),
        (outcome, _) => Next::Decided(decision(auth, outcome, grpc)),
    }
}

impl DecideFuture {
    /// The decision, if it was made at once (a cached or statically verified
    /// token, an in-memory revocation check, a refusal); otherwise the
    /// future back, to be awaited. Lets an adapter skip the asynchronous
    /// path, and what it costs, on the common case.
    pub fn into_ready(self) -> Result<Decision, Self> {
        match self.state {
            DecideState::Authenticating {
                authenticate,
                authenticator,
                grpc,
            } => match authenticate.into_ready() {
                Ok(outcome) => match next(&authenticator, outcome, grpc) {
                    Next::Decided(decision) => Ok(decision),
                    Next::Checking(state) => Err(Self { state }),
                },
                Err(authenticate) => Err(Self {
                    state: DecideState::Authenticating {
                        authenticate,
                        authenticator,
                        grpc,
                    },
                }),
            },
            DecideState::Decided(Some(decision)) => Ok(*decision),
            DecideState::Decided(None) => Err(Self {
                state: DecideState::Decided(None),
            }),
            state @ DecideState::Checking { .. } => Err(Self { state }),
        }
    }
}

/// The decision for an authentication outcome.
fn decision(
    auth: &Authenticator,
    outcome: Result<Option<crate::VerifiedToken>, AuthError>,
    grpc: bool,
) -> Decision {
    match outcome {
        Ok(Some(token)) => {
            Decision::Allow(auth.allow(Authentication::verified(auth.clone(), token)))
        }
        Ok(None) if auth.allows_anonymous() => {
            Decision::Allow(auth.allow(Authentication::anonymous(auth.clone())))
        }
        Ok(None) => {
            Decision::Refuse(auth.refuse(AuthError::new(AuthErrorKind::MissingToken), grpc))
        }
        Err(error) => Decision::Refuse(auth.refuse(error, grpc)),
    }
}

impl Future for DecideFuture {
    type Output = Decision;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Decision> {
        loop {
            let next = match &mut self.state {
                DecideState::Authenticating {
                    authenticate,
                    authenticator,
                    grpc,
                } => {
                    let outcome = ready!(Pin::new(authenticate).poll(cx));
                    match next(authenticator, outcome, *grpc) {
                        Next::Decided(decision) => return Poll::Ready(decision),
                        Next::Checking(state) => state,
                    }
                }
                DecideState::Decided(decision) => {
                    return Poll::Ready(
                        *decision
                            .take()
                            .expect("DecideFuture polled after completion"),
                    );
                }
                DecideState::Checking {
                    check,
                    token,
                    authenticator,
                    grpc,
                } => {
                    let verdict = ready!(check.0.as_mut().poll(cx));
                    let token = token.take().expect("DecideFuture polled after completion");
                    return Poll::Ready(match verdict {
                        Ok(data) => {
                            let auth = Authentication::verified(authenticator.clone(), token)
                                .with_data(data);
                            Decision::Allow(authenticator.allow(auth))
                        }
                        Err(error) => Decision::Refuse(authenticator.refuse(error, *grpc)),
                    });
                }
            };
            self.state = next;
        }
    }
}

impl Requirement {
    /// Decides whether a request the authentication middleware let through
    /// meets this requirement: `Ok(())`, or the rendered refusal (403
    /// `insufficient_scope`, 401 for an anonymous request, 500 without the
    /// middleware; gRPC-aware).
    #[allow(clippy::result_large_err)] // the refusal path; a response is built anyway
    pub fn decide<R: AuthRequest + ?Sized>(
        &self,
        req: &R,
        auth: Option<&Authentication>,
    ) -> Result<(), Refusal> {
        self.authorize(auth)
            .map_err(|rejection| Refusal::new(rejection.error, rejection.response, is_grpc(req)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_grpc_content_types() {
        let grpc = |value: &str| {
            let req = http::Request::post("/x")
                .header("content-type", value)
                .body(())
                .unwrap_or_default();
            is_grpc(&req)
        };
        assert!(grpc("application/grpc"));
        assert!(grpc("application/grpc+proto"));
        assert!(grpc("application/grpc+json"));
        assert!(grpc("Application/GRPC"));
        assert!(grpc("application/grpc;charset=utf-8"));
        assert!(!grpc("application/grpc-web"));
        assert!(!grpc("application/grpc-web+proto"));
        assert!(!grpc("application/grpcx"));
        assert!(!grpc("application/json"));
        assert!(!grpc("application/grp"));
        assert!(!is_grpc(&http::Request::new(())));
    }
}
