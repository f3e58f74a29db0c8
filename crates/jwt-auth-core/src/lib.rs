//! # jwt-auth-core
//!
//! Framework-agnostic JWT bearer authentication. Every policy lives here: keys
//! and algorithm pinning, remote key sets (`remote`: JWKS URLs and OpenID
//! Connect discovery), validation, token sources, claims types and the
//! RFC 6750 error model. The web adapters — `jwt-auth-tower` (tower/axum) and
//! `jwt-auth-actix` (actix-web) — only translate requests and responses, so
//! both frameworks behave identically.
//!
//! ```
//! use jwt_auth_core::{Authenticator, Key};
//!
//! let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! let exp = std::time::SystemTime::now()
//!     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
//! let token = key.encode(&serde_json::json!({"sub": "alice", "iss": "me", "exp": exp}))?;
//!
//! let auth = Authenticator::new(key).issuer("me");
//! let verified = auth.verify(&token).expect("valid token");
//! assert_eq!(verified.subject(), Some("alice"));
//!
//! let err = auth.verify("not.a.token").unwrap_err();
//! assert_eq!(auth.error_response(&err).status, 401);
//! # Ok::<(), jwt_auth_core::KeyError>(())
//! ```
//!
//! ## Where keys come from
//!
//! [`Authenticator::new`] takes anything that converts into a [`KeySource`]:
//! a [`Key`], a [`KeySet`] (for example from a JWKS file), a `RemoteJwks`
//! (feature `remote`: a JWKS URL or an OpenID Provider, refreshed in the
//! background) or an [`Issuers`] map from `iss` to any of those.
//!
//! ## Secure by default
//!
//! - The algorithm comes from the configured [`Key`], never from the token;
//!   `alg: none` is never accepted.
//! - The signature is checked before any claim is read.
//! - `exp` is required; `nbf` is checked; `iss`/`aud` are required once
//!   configured; a `crit` header is refused; duplicate JSON members are refused.
//! - Tokens over 8 KiB are refused before decoding; JSON nesting is bounded.
//! - Weak keys are refused at construction.
//! - No token, secret or key reaches `Debug`, `Display`, logs or error messages.
//!
//! ## Features
//!
//! | feature | default | what it does |
//! |---|---|---|
//! | `aws_lc_rs` | yes | verify with aws-lc-rs |
//! | `rust_crypto` | no | verify with the pure-Rust RustCrypto crates (if both are on, aws-lc-rs is used) |
//! | `reqwest` | yes | `remote`, with `reqwest` (rustls) as the default HTTP client |
//! | `remote` | with `reqwest` | the `remote` module: `RemoteJwks`, refreshed on Tokio; bring your own `HttpClient` |
//! | `metrics` | no | counters and a gauge through the `metrics` facade (see [`observe`]) |
//! | `utoipa` | no | the `openapi` module: the bearer JWT security scheme and per-route requirements |
//! | `test-util` | no | the `test_util` module: forge arbitrary, even invalid, tokens for tests |
//!
//! ## Beyond verification
//!
//! - [`Requirement`]: roles, scopes and permissions (403 `insufficient_scope`).
//! - [`TokenService`]: login, refresh rotation with reuse detection, logout,
//!   with a [`RevocationStore`] ([`MemoryStore`] here, Redis in
//!   `jwt-auth-redis`).
//! - [`ClaimHeaders`] ([`forward`]): claims forwarded as request headers for
//!   the service behind a gateway, with client copies always stripped.
//! - [`AuthError::grpc_status`]: the gRPC status of a refusal, for tonic.
//! - [`observe`]: the tracing span and the metrics.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

/// Defines an error type that carries a kind (for matching) and a message
/// (for logs), with a redaction-safe `Debug`.
macro_rules! kinded_error {
    ($(#[$meta:meta])* $name:ident, $kind:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name {
            kind: $kind,
            message: std::sync::Arc<str>,
        }

        impl $name {
            /// An error of this kind with this message. Never put a token, a
            /// secret or a key in the message: it is logged.
            pub fn new(kind: $kind, message: impl Into<std::sync::Arc<str>>) -> Self {
                Self {
                    kind,
                    message: message.into(),
                }
            }

            /// What went wrong, for matching.
            pub fn kind(&self) -> $kind {
                self.kind
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("kind", &self.kind)
                    .field("message", &&*self.message)
                    .finish()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.message)
            }
        }

        impl std::error::Error for $name {}
    };
}

pub mod adapter;
mod authentication;
mod authenticator;
mod authz;
mod b64;
mod cache;
mod claims;
pub mod csrf;
mod denylist;
pub mod dpop;
mod error;
pub mod forward;
mod hook;
mod issue;
mod json;
mod jws;
mod key;
mod keysource;
pub mod observe;
#[cfg(feature = "utoipa")]
#[cfg_attr(docsrs, doc(cfg(feature = "utoipa")))]
pub mod openapi;
mod outcome;
mod policies;
mod redact;
#[cfg(feature = "remote")]
#[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
pub mod remote;
pub mod resource;
mod revocation;
mod roca;
mod source;
mod token;
mod validation;

#[cfg(feature = "test-util")]
#[cfg_attr(docsrs, doc(cfg(feature = "test-util")))]
pub mod test_util;

pub use authenticator::{
    AuthenticateFuture, Authentication, Authenticator, DEFAULT_CACHE_CAPACITY,
};
pub use authz::Requirement;
pub use claims::{Audience, DefaultClaims, RegisteredClaims};
pub use csrf::CsrfPolicy;
pub use dpop::{Dpop, DpopError, DpopErrorKind, DpopMode, MemoryReplay, ProofReplay};
pub use error::{
    AuthError, AuthErrorKind, DefaultResponder, ErrorResponder, ErrorResponse, GrpcStatus,
};
pub use forward::ClaimHeaders;
pub use issue::{IssuedToken, MAX_TOKEN_TTL, RefreshCookie, TokenIssuer, TokenPair, TokenService};
pub use jws::{JwsHeader, KeySet, VerifiedJws};
pub use key::{Algorithm, Key, KeyError, KeyErrorKind, KeyFamily, MAX_RSA_BITS, MIN_RSA_BITS};
pub use keysource::{IssuerRules, Issuers, KeySource};
#[cfg(feature = "remote")]
pub use remote::{
    FetchError, FetchErrorKind, FetchResponse, HttpClient, Introspection, IntrospectionBuilder,
    RemoteError, RemoteErrorKind, RemoteJwks, RemoteJwksBuilder, RemoteStatus, Tenants,
    TenantsBuilder,
};
pub use resource::{ProtectedResource, ResourceError, ResourceErrorKind};
pub use revocation::{MemoryStore, RevocationStore, Rotation, StoreError, StoreErrorKind};
pub use source::TokenSource;
pub use token::{ACCESS_TYP, REFRESH_TYP, VerifiedToken};
pub use validation::{Clock, MAX_LEEWAY, MAX_NUMERIC_DATE, Validation};

/// A boxed, `Send` future, as [`RevocationStore`] methods and the remote
/// key source's `HttpClient` return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
