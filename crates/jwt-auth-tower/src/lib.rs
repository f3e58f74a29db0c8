//! # jwt-auth-tower
//!
//! JWT bearer authentication for tower services and axum, built on
//! [`jwt_auth_core`]. One line installs it:
//!
//! ```
//! use axum::{Router, routing::get};
//! use jwt_auth_tower::{Claims, DefaultClaims, JwtAuth, Key};
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
//!     .layer(JwtAuth::new(key.clone()).issuer("https://auth.example.com"));
//!
//! let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! let token = key.encode(&serde_json::json!({
//!     "sub": "alice", "iss": "https://auth.example.com", "exp": exp
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
//!   nested router or a single route. [`JwtAuth::allow_anonymous`] lets requests
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
//! a [`RequireRole`]/[`RequireScope`]/[`RequirePermission`] requirement fails —
//! sent "trailers-only" with `grpc-status` and `grpc-message`. Handlers read
//! the claims with `TonicRequestExt` (feature `tonic`):
//! `let claims: MyClaims = request.claims()?;`. See [`grpc`].
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
#[cfg(feature = "axum")]
mod extract;
pub mod grpc;
mod layer;
mod service;

pub use authorize::{
    Authorize, AuthorizeFuture, AuthorizeService, RequirePermission, RequireRole, RequireScope,
};
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use extract::{Claims, ClaimsRejection};
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub use grpc::{TonicRequestExt, tonic_status};
pub use layer::JwtAuth;
pub use service::{JwtAuthService, ResponseBody, ResponseFuture};

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
