//! The future of an authentication, and what it comes to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::BoxFuture;
use crate::error::{AuthError, AuthErrorKind};
use crate::token::VerifiedToken;

/// What authenticating a request came to.
pub(crate) type Outcome = Result<Option<VerifiedToken>, AuthError>;

/// The future returned by [`Authenticator::authenticate`](crate::Authenticator::authenticate).
#[must_use = "futures do nothing unless polled"]
pub struct AuthenticateFuture {
    state: AuthenticateState,
}

enum AuthenticateState {
    Ready(Option<Outcome>),
    Waiting(BoxFuture<'static, Outcome>),
}

impl AuthenticateFuture {
    pub(crate) fn ready(outcome: Outcome) -> Self {
        Self {
            state: AuthenticateState::Ready(Some(outcome)),
        }
    }

    pub(crate) fn waiting(future: impl Future<Output = Outcome> + Send + 'static) -> Self {
        Self {
            state: AuthenticateState::Waiting(Box::pin(future)),
        }
    }

    /// The outcome, if it was known at once; otherwise the future back.
    pub(crate) fn into_ready(self) -> Result<Outcome, Self> {
        match self.state {
            AuthenticateState::Ready(Some(outcome)) => Ok(outcome),
            state => Err(Self { state }),
        }
    }
}

impl fmt::Debug for AuthenticateFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthenticateFuture").finish_non_exhaustive()
    }
}

impl Future for AuthenticateFuture {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            AuthenticateState::Ready(outcome) => match outcome.take() {
                Some(outcome) => Poll::Ready(outcome),
                None => Poll::Ready(Err(AuthError::new(AuthErrorKind::NotConfigured))),
            },
            AuthenticateState::Waiting(future) => future.as_mut().poll(cx),
        }
    }
}
