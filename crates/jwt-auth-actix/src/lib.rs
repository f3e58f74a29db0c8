//! # jwt-auth-actix
//!
//! JWT bearer authentication for actix-web, built on [`jwt_auth_core`]. One
//! line installs it:
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use jwt_auth_actix::{Claims, DefaultClaims, JwtAuth, Key};
//!
//! async fn me(Claims(claims): Claims<DefaultClaims>) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("hello {}", claims.sub().unwrap_or("?")))
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! let app = test::init_service(
//!     App::new()
//!         .wrap(JwtAuth::new(key.clone()).issuer("https://auth.example.com"))
//!         .route("/me", web::get().to(me)),
//! )
//! .await;
//!
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let token = key.encode(&serde_json::json!({
//!     "sub": "alice", "iss": "https://auth.example.com", "exp": exp
//! }))?;
//!
//! let ok = test::TestRequest::get().uri("/me")
//!     .insert_header(("authorization", format!("Bearer {token}")))
//!     .to_request();
//! assert_eq!(test::call_service(&app, ok).await.status(), 200);
//!
//! let anonymous = test::TestRequest::get().uri("/me").to_request();
//! let response = test::call_service(&app, anonymous).await;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers().get("www-authenticate").unwrap(), "Bearer");
//! # Ok(()) }
//! ```
//!
//! - [`JwtAuth`] is a middleware for `App::wrap`, `Scope::wrap` or
//!   `Resource::wrap`. [`JwtAuth::allow_anonymous`] lets requests without a
//!   token through.
//! - Handlers take [`Claims<T>`] for any `T: DeserializeOwned`, or
//!   `Option<Claims<T>>` where a token is optional. (actix-web's own rule for
//!   `Option<T>` also turns a route without the middleware into `None`; the
//!   misconfiguration is still logged at error level.)
//! - Refusals are the RFC 6750 answers of [`jwt_auth_core`], identical to the
//!   tower/axum adapter's.
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | verify with aws-lc-rs |
//! | `rust_crypto` | no | verify with RustCrypto |
//! | `reqwest` | yes | remote key sets (`RemoteJwks`: JWKS URL, OpenID Connect discovery) with `reqwest` as the HTTP client |
//! | `remote` | with `reqwest` | remote key sets with your own `HttpClient` |
//!
//! ## Keys from an identity provider
//!
//! Give [`JwtAuth::new`] a `RemoteJwks` (or an [`Issuers`] map) instead of
//! a [`Key`]: `JwtAuth::new(RemoteJwks::discover("https://idp.example.com").build()?)`.
//! Build it once inside the Tokio runtime and clone the `JwtAuth` where it is
//! needed; keys refresh in the background (see `jwt_auth_core::remote`).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod authorize;
mod extract;
mod middleware;

pub use authorize::{Authorize, AuthorizeMiddleware, RequirePermission, RequireRole, RequireScope};
pub use extract::{Claims, ClaimsRejection};
pub use middleware::{JwtAuth, JwtAuthMiddleware};

#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub use jwt_auth_core::openapi;
pub use jwt_auth_core::{
    Algorithm, AuthError, AuthErrorKind, Authentication, Authenticator, ClaimHeaders,
    DefaultClaims, ErrorResponse, IssuedToken, Issuers, Key, KeyError, KeySet, KeySource,
    MemoryStore, RefreshCookie, Requirement, RevocationStore, TokenIssuer, TokenPair, TokenService,
    TokenSource, Validation, VerifiedToken,
};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use jwt_auth_core::{RemoteError, RemoteJwks, RemoteStatus};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, WWW_AUTHENTICATE};

/// An actix request as the core reads it (headers and query), for calling
/// core APIs from handlers, such as `TokenService::refresh_request`.
#[derive(Debug, Clone, Copy)]
pub struct ActixRequest<'a> {
    headers: &'a HeaderMap,
    query: &'a str,
}

impl<'a> ActixRequest<'a> {
    /// A view of `req`.
    pub fn new(req: &'a actix_web::HttpRequest) -> Self {
        Self {
            headers: req.headers(),
            query: req.query_string(),
        }
    }

    pub(crate) fn from_parts(headers: &'a HeaderMap, query: &'a str) -> Self {
        Self { headers, query }
    }
}

impl jwt_auth_core::AuthRequest for ActixRequest<'_> {
    fn for_each_header(&self, name: &str, f: &mut dyn FnMut(&[u8])) {
        for value in self.headers.get_all(name) {
            f(value.as_bytes());
        }
    }

    fn query(&self) -> Option<&str> {
        (!self.query.is_empty()).then_some(self.query)
    }
}

/// Renders the core's neutral response as an actix response.
fn render(response: ErrorResponse) -> HttpResponse {
    let status =
        StatusCode::from_u16(response.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    if let Ok(value) = HeaderValue::from_bytes(response.content_type.as_bytes()) {
        builder.insert_header((CONTENT_TYPE, value));
    }
    if let Some(challenge) = response.www_authenticate
        && let Ok(value) = HeaderValue::from_str(&challenge)
    {
        builder.insert_header((WWW_AUTHENTICATE, value));
    }
    builder.body(response.body)
}
