//! # jwt-auth-tower
//!
//! JWT bearer authentication for tower services and axum, built on
//! [`jwt_auth_core`]. One line installs it:
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_auth_tower::{Authenticator, Claims, DefaultClaims, JwtAuth, Key};
//! use tower::ServiceExt;
//!
//! async fn me(Claims(claims): Claims<DefaultClaims>) -> String {
//!     format!("hello {}", claims.sub().unwrap_or("?"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! let app = Router::new()
//!     .route("/me", get(me))
//!     .layer(JwtAuth::new(Authenticator::new(key.clone()).issuer("https://auth.test")));
//!
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let token = key.encode(&serde_json::json!({
//!     "sub": "alice", "iss": "https://auth.test", "exp": exp
//! }))?;
//!
//! let ok = http::Request::get("/me")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())?;
//! assert_eq!(app.clone().oneshot(ok).await?.status(), 200);
//!
//! let anonymous = http::Request::get("/me").body(axum::body::Body::empty())?;
//! let response = app.oneshot(anonymous).await?;
//! assert_eq!(response.status(), 401);
//! assert_eq!(response.headers()["www-authenticate"], "Bearer");
//! # Ok(()) }
//! ```
//!
//! - [`JwtAuth`] is the [`Layer`](tower_layer::Layer); put it on a router, a
//!   nested router or a single route. [`Authenticator::allow_anonymous`] lets requests
//!   without a token through.
//! - Handlers take [`Claims<T>`] for any `T: DeserializeOwned`, or
//!   `Option<Claims<T>>` where a token is optional (feature `axum`, on by
//!   default).
//! - Refusals are the RFC 6750 answers of [`jwt_auth_core`], identical to the
//!   actix-web adapter's.
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `axum` | yes | the `Claims<T>` extractors (depends on `axum-core` only) |
//! | `aws_lc_rs` | yes | verify with aws-lc-rs |
//! | `rust_crypto` | no | verify with RustCrypto |
//! | `reqwest` | yes | remote key sets (`RemoteJwks`: JWKS URL, OpenID Connect discovery) with `reqwest` as the HTTP client |
//! | `remote` | with `reqwest` | remote key sets with your own `HttpClient` |
//! | `tonic` | no | `TonicRequestExt`: `request.claims::<T>()` and friends in tonic handlers (the layers themselves need no feature) |
//!
//! ## gRPC (tonic)
//!
//! The same layers guard a tonic server: `Server::builder().layer(JwtAuth::new(key))`.
//! On gRPC requests a refusal is a gRPC status instead of an HTTP 401/403 —
//! `UNAUTHENTICATED` (16) without a valid token, `PERMISSION_DENIED` (7) when
//! an [`Authorize`] requirement fails —
//! sent "trailers-only" with `grpc-status` and `grpc-message`. Handlers read
//! the claims with `TonicRequestExt` (feature `tonic`):
//! `let claims: MyClaims = request.claims()?;`. See [`grpc`].
//!
//! ## Keys from an identity provider
//!
//! Give [`JwtAuth::new`] a `RemoteJwks` (or an [`Issuers`] map) instead of
//! a [`Key`]. Keys refresh in the background; a request with a known `kid`
//! never waits for a fetch (see `jwt_auth_core::remote`).
//!
//! ```no_run
//! # #[cfg(feature = "reqwest")]
//! # mod example {
//! use axum::{Router, routing::get};
//! use jwt_auth_tower::{Authenticator, Claims, DefaultClaims, JwtAuth, RemoteJwks};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Reads https://idp.example.com/.well-known/openid-configuration, then its jwks_uri.
//!     let keys = RemoteJwks::discover("https://idp.example.com").build()?;
//!     let app = Router::new()
//!         .route("/me", get(|Claims(c): Claims<DefaultClaims>| async move {
//!             c.sub().unwrap_or_default().to_owned()
//!         }))
//!         .layer(
//!             JwtAuth::new(Authenticator::new(keys)
//!                 .issuer("https://idp.example.com")
//!                 .audience("orders-api")
//!                 .typ("at+jwt")), // RFC 9068 access tokens
//!         );
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     axum::serve(listener, app).await?;
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! ## Roles, scopes and permissions
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_auth_tower::{Authorize, JwtAuth, Key, Requirement};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! // Each requirement on its own route (a `Router::route_layer` would also
//! // cover every route added before it).
//! let app = Router::new()
//!     .route("/admin", get(|| async { "admin" })
//!         .route_layer(Authorize::new(Requirement::any_role(["admin"]))))         // `roles` claim
//!     .route("/orders", get(|| async { "orders" })
//!         .route_layer(Authorize::new(Requirement::all_scopes(["orders:read"]))))  // `scope` or `scp`
//!     .layer(JwtAuth::new(key.clone()));                      // runs first
//!
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let user = key.encode(&serde_json::json!({"sub": "bob", "exp": exp, "roles": ["user"],
//!                                            "scope": "orders:read"}))?;
//! let admin = key.encode(&serde_json::json!({"sub": "ann", "exp": exp, "roles": ["admin"]}))?;
//! let call = |path: &str, token: &str| http::Request::get(path)
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty());
//! let denied = app.clone().oneshot(call("/admin", &user)?).await?;
//! assert_eq!(denied.status(), 403); // Bearer error="insufficient_scope"
//! assert_eq!(app.clone().oneshot(call("/orders", &user)?).await?.status(), 200);
//! assert_eq!(app.clone().oneshot(call("/admin", &admin)?).await?.status(), 200);
//! assert_eq!(app.oneshot(call("/orders", &admin)?).await?.status(), 403);
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
//! use std::sync::Arc;
//!
//! use axum::extract::State;
//! use axum::http::{HeaderMap, HeaderName, StatusCode, header};
//! use axum::response::{AppendHeaders, IntoResponse};
//! use axum::{Router, routing::{get, post}};
//! use jwt_auth_tower::{JwtAuth, Key, TokenIssuer, TokenPair, TokenService};
//! use tower::ServiceExt;
//!
//! /// The refresh cookies (one for `/refresh`, one for `/logout`).
//! fn cookies(tokens: &TokenService, pair: &TokenPair) -> AppendHeaders<Vec<(HeaderName, String)>> {
//!     AppendHeaders(tokens.set_cookies(pair).into_iter().map(|c| (header::SET_COOKIE, c)).collect())
//! }
//!
//! async fn login(State(tokens): State<Arc<TokenService>>) -> impl IntoResponse {
//!     // (check the user's password first)
//!     match tokens.login("alice", serde_json::json!({"roles": ["admin"]})).await {
//!         // The access token as the body (a real service answers JSON).
//!         Ok(pair) => Ok((cookies(&tokens, &pair), pair.access.as_str().to_owned())),
//!         Err(_) => Err(StatusCode::SERVICE_UNAVAILABLE), // the store is down
//!     }
//! }
//!
//! async fn refresh(State(tokens): State<Arc<TokenService>>, headers: HeaderMap) -> impl IntoResponse {
//!     // Reads the refresh cookie and rotates it; a reused one revokes its family.
//!     match tokens.refresh_request(&headers).await {
//!         Ok(pair) => Ok((cookies(&tokens, &pair), pair.access.as_str().to_owned())),
//!         Err(_) => Err(StatusCode::UNAUTHORIZED),
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let issuer = TokenIssuer::new(Key::hmac(b"0123456789abcdef0123456789abcdef")?)?;
//! let tokens = Arc::new(TokenService::new(issuer)); // jwt-auth-redis shares the state
//! let app = Router::new()
//!     .route("/me", get(|| async { "me" }))
//!     .route_layer(JwtAuth::new(tokens.authenticator()))
//!     .route("/login", post(login))
//!     .route("/refresh", post(refresh))
//!     .with_state(tokens);
//!
//! let empty = || axum::body::Body::empty();
//! let res = app.clone().oneshot(http::Request::post("/login").body(empty())?).await?;
//! let cookie = res.headers()["set-cookie"].to_str()?.split(';').next().unwrap_or("").to_owned();
//! let body = http_body_util::BodyExt::collect(res.into_body()).await?.to_bytes();
//! let access = String::from_utf8(body.to_vec())?;
//! let me = http::Request::get("/me")
//!     .header("authorization", format!("Bearer {access}"))
//!     .body(empty())?;
//! assert_eq!(app.clone().oneshot(me).await?.status(), 200);
//! let again = || http::Request::post("/refresh").header("cookie", &cookie).body(empty());
//! assert_eq!(app.clone().oneshot(again()?).await?.status(), 200);
//! assert_eq!(app.oneshot(again()?).await?.status(), 401, "reuse is refused");
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

mod authorize;
#[cfg(feature = "axum")]
mod extract;
pub mod grpc;
mod layer;
mod service;

pub use authorize::{Authorize, AuthorizeService};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::{Claims, ClaimsRejection, OptionalClaims, resource_metadata};
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use grpc::{TonicRequestExt, tonic_status};
pub use layer::JwtAuth;
pub use service::{JwtAuthService, RefusalBody, ResponseFuture};

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
