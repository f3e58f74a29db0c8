//! The application's own asynchronous check after a token verified
//! ([`Authenticator::after_validation`](crate::Authenticator::after_validation)):
//! "is this user still active in our database", "map this `sub` to our
//! account". It can refuse the request (401 or 403, with a reason of the
//! application's choosing) or attach data for handlers
//! ([`Authentication::data`](crate::Authentication::data)).

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use crate::BoxFuture;
use crate::error::AuthError;
use crate::token::VerifiedToken;

/// Data a check attached, for handlers.
pub(crate) type Data = Arc<dyn Any + Send + Sync>;

/// A running check.
pub(crate) struct CheckFuture(pub(crate) BoxFuture<'static, Result<Option<Data>, AuthError>>);

impl std::fmt::Debug for CheckFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckFuture")
    }
}

/// A configured check.
pub(crate) type Check = Arc<dyn Fn(VerifiedToken) -> CheckFuture + Send + Sync>;

/// Wraps an application's check.
pub(crate) fn check<F, Fut, T>(f: F) -> Check
where
    F: Fn(VerifiedToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<T>, AuthError>> + Send + 'static,
    T: Send + Sync + 'static,
{
    Arc::new(move |token| {
        let verdict = f(token);
        CheckFuture(Box::pin(async move {
            verdict.await.map(|data| data.map(|d| Arc::new(d) as Data))
        }))
    })
}
