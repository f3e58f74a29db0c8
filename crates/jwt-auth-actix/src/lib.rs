//! # jwt-auth-actix
//!
//! JWT bearer authentication for actix-web, built on [`jwt_auth_core`]. One
//! line installs it:
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use jwt_auth_actix::{Authenticator, Claims, DefaultClaims, JwtAuth, Key};
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
//!         .wrap(JwtAuth::new(Authenticator::new(key.clone()).issuer("https://auth.test")))
//!         .route("/me", web::get().to(me)),
//! )
//! .await;
//!
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let token = key.encode(&serde_json::json!({
//!     "sub": "alice", "iss": "https://auth.test", "exp": exp
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
//!   `Resource::wrap`. [`Authenticator::allow_anonymous`] lets requests without a
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
//! | `metrics` | no | counters through the `metrics` facade (`jwt_auth_core::observe`) |
//! | `utoipa` | no | OpenAPI security scheme and per-route requirements (`openapi`) |
//!
//! ## Keys from an identity provider
//!
//! Give [`JwtAuth::new`] a `RemoteJwks` (or an [`Issuers`] map) instead of
//! a [`Key`]. Build it once inside the runtime, before the `HttpServer`
//! factory, and clone the `JwtAuth` into it; keys refresh in the
//! background, and a request with a known `kid` never waits for a fetch
//! (see `jwt_auth_core::remote`).
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # mod example {
//! use actix_web::{App, HttpServer, web};
//! use jwt_auth_actix::{Authenticator, Claims, DefaultClaims, JwtAuth, RemoteJwks};
//!
//! #[actix_web::main]
//! async fn main() -> std::io::Result<()> {
//!     // Reads https://idp.example.com/.well-known/openid-configuration, then its jwks_uri.
//!     let keys = RemoteJwks::discover("https://idp.example.com")
//!         .build()
//!         .map_err(std::io::Error::other)?;
//!     let auth = JwtAuth::new(Authenticator::new(keys)
//!         .issuer("https://idp.example.com")
//!         .audience("orders-api")
//!         .typ("at+jwt")); // RFC 9068 access tokens
//!     HttpServer::new(move || {
//!         App::new().wrap(auth.clone()).route(
//!             "/me",
//!             web::get().to(|Claims(c): Claims<DefaultClaims>| async move {
//!                 c.sub().unwrap_or_default().to_owned()
//!             }),
//!         )
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! ## Roles, scopes and permissions
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use jwt_auth_actix::{Authorize, JwtAuth, Key, Requirement};
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! let auth = JwtAuth::new(key.clone());
//! let app = test::init_service(
//!     App::new()
//!         .service(
//!             web::resource("/admin")
//!                 .wrap(Authorize::new(Requirement::any_role(["admin"]))) // runs after JwtAuth:
//!                 .wrap(auth.clone())               // the last `wrap` runs first
//!                 .to(|| async { HttpResponse::Ok().finish() }),
//!         )
//!         .service(
//!             web::resource("/orders")
//!                 .wrap(Authorize::new(Requirement::all_scopes(["orders:read"])))
//!                 .wrap(auth)
//!                 .to(|| async { HttpResponse::Ok().finish() }),
//!         ),
//! )
//! .await;
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let user = key.encode(&serde_json::json!({"sub": "bob", "exp": exp, "roles": ["user"],
//!                                            "scope": "orders:read"}))?;
//! let call = |path: &str| test::TestRequest::get().uri(path)
//!     .insert_header(("authorization", format!("Bearer {user}"))).to_request();
//! let denied = test::call_service(&app, call("/admin")).await;
//! assert_eq!(denied.status(), 403); // Bearer error="insufficient_scope"
//! assert_eq!(test::call_service(&app, call("/orders")).await.status(), 200);
//! # Ok(()) }
//! ```
//!
//! ## Login, refresh and logout
//!
//! A service with its own login endpoint issues and rotates tokens with
//! [`TokenService`]; its [`TokenService::authenticator`] verifies the access
//! tokens and checks revocation.
//!
//! ```
//! use actix_web::{App, HttpRequest, HttpResponse, HttpResponseBuilder, test, web};
//! use jwt_auth_actix::{ActixRequest, JwtAuth, Key, TokenIssuer, TokenPair, TokenService};
//!
//! /// The refresh cookies (one for `/refresh`, one for `/logout`).
//! fn with_cookies(
//!     mut builder: HttpResponseBuilder,
//!     tokens: &TokenService,
//!     pair: &TokenPair,
//! ) -> HttpResponseBuilder {
//!     for cookie in tokens.set_cookies(pair) {
//!         builder.append_header(("set-cookie", cookie));
//!     }
//!     builder
//! }
//!
//! async fn login(tokens: web::Data<TokenService>) -> HttpResponse {
//!     // (check the user's password first)
//!     match tokens.login("alice", serde_json::json!({"roles": ["admin"]})).await {
//!         Ok(pair) => with_cookies(HttpResponse::Ok(), &tokens, &pair)
//!             .json(serde_json::json!({"access_token": pair.access.as_str()})),
//!         Err(_) => HttpResponse::ServiceUnavailable().finish(), // the store is down
//!     }
//! }
//!
//! async fn refresh(tokens: web::Data<TokenService>, req: HttpRequest) -> HttpResponse {
//!     // Reads the refresh cookie, rotates it; a reused one revokes its family.
//!     match tokens.refresh_request(&ActixRequest::new(&req)).await {
//!         Ok(pair) => with_cookies(HttpResponse::Ok(), &tokens, &pair)
//!             .json(serde_json::json!({"access_token": pair.access.as_str()})),
//!         Err(_) => HttpResponse::Unauthorized().finish(),
//!     }
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TokenIssuer::new(Key::hmac(b"0123456789abcdef0123456789abcdef")?)?;
//! let tokens = TokenService::new(issuer); // jwt-auth-redis shares the state
//! let auth = JwtAuth::new(tokens.authenticator());
//! let app = test::init_service(
//!     App::new()
//!         .app_data(web::Data::new(tokens))
//!         .route("/login", web::post().to(login))
//!         .route("/refresh", web::post().to(refresh))
//!         .service(web::resource("/me").wrap(auth).to(|| async { HttpResponse::Ok().finish() })),
//! )
//! .await;
//! let res = test::call_service(&app, test::TestRequest::post().uri("/login").to_request()).await;
//! let cookie = res.headers().get("set-cookie").unwrap().to_str()?.split(';').next().unwrap().to_owned();
//! let body: serde_json::Value = test::read_body_json(res).await;
//! let access = body["access_token"].as_str().unwrap();
//! let me = test::TestRequest::get().uri("/me")
//!     .insert_header(("authorization", format!("Bearer {access}"))).to_request();
//! assert_eq!(test::call_service(&app, me).await.status(), 200);
//! let again = || test::TestRequest::post().uri("/refresh")
//!     .insert_header(("cookie", cookie.clone())).to_request();
//! assert_eq!(test::call_service(&app, again()).await.status(), 200);
//! assert_eq!(test::call_service(&app, again()).await.status(), 401, "reuse is refused");
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod authorize;
mod extract;
mod middleware;
mod resource;

pub use authorize::{Authorize, AuthorizeMiddleware};
pub use extract::{Claims, ClaimsRejection, OptionalClaims};
pub use middleware::{JwtAuth, JwtAuthMiddleware, MiddlewareFuture};
pub use resource::resource_metadata;

#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub use jwt_auth_core::openapi;
pub use jwt_auth_core::{
    Algorithm, AuthError, AuthErrorKind, Authentication, Authenticator, ClaimHeaders,
    DefaultClaims, ErrorResponder, ErrorResponse, IssuedToken, IssuerRules, Issuers, Key, KeyError,
    KeySet, KeySource, MemoryStore, ProtectedResource, RefreshCookie, Requirement, RevocationStore,
    TokenIssuer, TokenPair, TokenService, TokenSource, Validation, VerifiedToken,
};
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub use jwt_auth_core::{Introspection, RemoteError, RemoteJwks, RemoteStatus, Tenants};

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;

/// An actix request as the core reads it (method, path, query, headers), for
/// calling core APIs from handlers, such as `TokenService::refresh_request`.
#[derive(Debug, Clone, Copy)]
pub struct ActixRequest<'a>(&'a actix_web::HttpRequest);

impl<'a> ActixRequest<'a> {
    /// A view of `req`.
    pub fn new(req: &'a actix_web::HttpRequest) -> Self {
        Self(req)
    }
}

impl<'r> jwt_auth_core::adapter::AuthRequest for ActixRequest<'r> {
    fn method(&self) -> Option<&str> {
        Some(self.0.method().as_str())
    }

    fn path(&self) -> Option<&str> {
        Some(self.0.path())
    }

    fn query(&self) -> Option<&str> {
        Some(self.0.query_string()).filter(|q| !q.is_empty())
    }

    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a, 'r> {
        self.0.headers().get_all(name).map(|v| v.as_bytes())
    }
}

/// Renders a response of core's as an actix response.
fn render(reply: &jwt_auth_core::adapter::Reply) -> HttpResponse {
    let status =
        StatusCode::from_u16(reply.status().as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in reply.headers() {
        if let Ok(value) = HeaderValue::from_str(value) {
            builder.insert_header((name, value));
        }
    }
    builder.body(reply.body().clone())
}
