//! actix-web extractors.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use jwt_auth_core::adapter::Rejection;
use jwt_auth_core::{AuthError, Authentication};
use serde::de::DeserializeOwned;

use crate::render;

/// The verified claims of the request, deserialized into `T`.
///
/// - `Claims<T>`: requires a verified token. Without one (a scope with
///   [`allow_anonymous`](crate::Authenticator::allow_anonymous)) the answer is 401.
/// - [`OptionalClaims<T>`]: `None` when the request had no token (not
///   `Option<Claims<T>>`, which actix-web turns into `None` on any error).
///
/// On a route without the [`JwtAuth`](crate::JwtAuth) middleware, both answer
/// 500 and log an error: a misconfiguration is never silently anonymous.
///
/// ```
/// use jwt_auth_actix::{Claims, DefaultClaims, OptionalClaims};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct MyClaims { sub: String, roles: Vec<String> }
///
/// async fn admin(Claims(c): Claims<MyClaims>) -> String { c.roles.join(",") }
/// async fn greet(OptionalClaims(claims): OptionalClaims<DefaultClaims>) -> &'static str {
///     if claims.is_some() { "hello, member" } else { "hello, stranger" }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Claims<T = jwt_auth_core::DefaultClaims>(pub T);

impl<T> Claims<T> {
    /// The claims, as actix-web's own extractors (`web::Json`,
    /// `web::Path`) unwrap with `into_inner`.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Claims<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Claims<T> {
    type Error = ClaimsRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        ready(
            jwt_auth_core::adapter::required_claims(extensions.get::<Authentication>())
                .map(Claims)
                .map_err(ClaimsRejection),
        )
    }
}

/// The verified claims deserialized into `T`, or `None` when the request
/// had no token (a scope whose authenticator
/// [`allow_anonymous`](crate::Authenticator::allow_anonymous)).
///
/// Use it instead of `Option<Claims<T>>`: actix-web's blanket
/// `Option<T>` extractor turns every error into `None`, so a token of the
/// wrong shape would look anonymous and a missing middleware would go
/// unnoticed. `OptionalClaims<T>` answers 401 for the first and 500 (logged)
/// for the second, exactly as on axum.
///
/// ```
/// use jwt_auth_actix::{DefaultClaims, OptionalClaims};
///
/// async fn greet(OptionalClaims(claims): OptionalClaims<DefaultClaims>) -> &'static str {
///     if claims.is_some() { "hello, member" } else { "hello, stranger" }
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionalClaims<T = jwt_auth_core::DefaultClaims>(pub Option<T>);

impl<T: DeserializeOwned> FromRequest for OptionalClaims<T> {
    type Error = ClaimsRejection;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let extensions = req.extensions();
        ready(
            jwt_auth_core::adapter::optional_claims(extensions.get::<Authentication>())
                .map(OptionalClaims)
                .map_err(ClaimsRejection),
        )
    }
}

/// Why `Claims<T>` could not be extracted; answers like the middleware does.
#[derive(Debug, Clone)]
pub struct ClaimsRejection(Rejection);

impl ClaimsRejection {
    /// The underlying error.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }
}

impl std::fmt::Display for ClaimsRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0.error, f)
    }
}

impl ResponseError for ClaimsRejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(self.0.response.status.as_u16())
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let refusal = jwt_auth_core::adapter::Refusal::new(
            self.0.error.clone(),
            self.0.response.clone(),
            false,
        );
        render(refusal.reply())
    }
}
