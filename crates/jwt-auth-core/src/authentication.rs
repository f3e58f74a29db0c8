//! What a request's authentication left for its handler: [`Authentication`]
//! (the verified token, or an anonymous request), and the typed claims
//! extractors' rules ([`required_claims`], [`optional_claims`]).

use serde::de::DeserializeOwned;

use crate::authenticator::Authenticator;
use crate::error::{AuthError, AuthErrorKind, ErrorResponse};
use crate::token::VerifiedToken;

/// What the middleware leaves in the request extensions for extractors: the
/// verified token, or the fact that the request was let through anonymously.
#[derive(Clone, Debug)]
pub struct Authentication {
    state: State,
    authenticator: Authenticator,
    /// What the application's check after validation attached.
    data: Option<crate::hook::Data>,
}

#[derive(Clone, Debug)]
enum State {
    Anonymous,
    Token(VerifiedToken),
}

impl Authentication {
    /// A verified request.
    pub fn verified(authenticator: Authenticator, token: VerifiedToken) -> Self {
        Self {
            state: State::Token(token),
            authenticator,
            data: None,
        }
    }

    /// A request let through without a token.
    pub fn anonymous(authenticator: Authenticator) -> Self {
        Self {
            state: State::Anonymous,
            authenticator,
            data: None,
        }
    }

    /// With what the application's check attached.
    pub(crate) fn with_data(mut self, data: Option<crate::hook::Data>) -> Self {
        self.data = data;
        self
    }

    /// What the application's check after validation attached
    /// ([`Authenticator::after_validation`]), if it is a `T`.
    pub fn data<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.data.as_deref()?.downcast_ref()
    }

    /// The verified token, if the request had one.
    pub fn token(&self) -> Option<&VerifiedToken> {
        match &self.state {
            State::Token(t) => Some(t),
            State::Anonymous => None,
        }
    }

    /// The thumbprint of the key the token is bound to, when it was sent
    /// with a DPoP proof (RFC 9449): with DPoP on, a bound token passes only
    /// with a valid proof by that key.
    pub fn dpop_thumbprint(&self) -> Option<&str> {
        self.authenticator.dpop_settings()?;
        self.token()?.dpop_jkt()
    }

    /// The authenticator that judged the request.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }
}

/// A refusal ready to send: the error and the response the configured
/// responder built for it.
#[derive(Debug, Clone)]
pub struct Rejection {
    /// Why.
    pub error: AuthError,
    /// The answer.
    pub response: ErrorResponse,
}

pub(crate) fn not_configured() -> Rejection {
    tracing::error!(
        "jwt-auth: a handler asked for claims on a route without the JwtAuth middleware; \
         add the layer (axum) or wrap (actix-web) to this route"
    );
    let error = AuthError::new(AuthErrorKind::NotConfigured);
    let response = error.response(None);
    Rejection { error, response }
}

fn reject(auth: &Authentication, error: AuthError) -> Rejection {
    let response = auth.authenticator.error_response(&error);
    Rejection { error, response }
}

/// The logic behind every `Claims<T>` extractor: the claims, a 401 when the
/// request was anonymous, a 500 (logged) when no middleware ran.
#[allow(clippy::result_large_err)] // the refusal path; a response is built anyway
pub fn required_claims<T: DeserializeOwned>(auth: Option<&Authentication>) -> Result<T, Rejection> {
    let auth = auth.ok_or_else(not_configured)?;
    match &auth.state {
        State::Token(token) => token.claims().map_err(|e| reject(auth, e)),
        State::Anonymous => Err(reject(auth, AuthError::new(AuthErrorKind::MissingToken))),
    }
}

/// The logic behind every `Option<Claims<T>>` extractor: `None` when the
/// request was anonymous, a 500 (logged) when no middleware ran.
#[allow(clippy::result_large_err)] // the refusal path; a response is built anyway
pub fn optional_claims<T: DeserializeOwned>(
    auth: Option<&Authentication>,
) -> Result<Option<T>, Rejection> {
    let auth = auth.ok_or_else(not_configured)?;
    match &auth.state {
        State::Token(token) => token.claims().map(Some).map_err(|e| reject(auth, e)),
        State::Anonymous => Ok(None),
    }
}
