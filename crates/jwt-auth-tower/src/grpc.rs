//! gRPC: the same layers on a tonic server, answering gRPC status codes.
//!
//! [`JwtAuth`](crate::JwtAuth) and [`Authorize`](crate::Authorize) work
//! unchanged as layers of a tonic server. When a request is gRPC (its `content-type` is
//! `application/grpc` or `application/grpc+...`), a refusal is a gRPC
//! "trailers-only" response instead of the RFC 6750 HTTP answer:
//!
//! - HTTP status 200, `content-type: application/grpc`, no body;
//! - `grpc-status`: the code from [`AuthErrorKind::grpc_code`](crate::AuthErrorKind::grpc_code) — 16
//!   `UNAUTHENTICATED` without a valid token, 7 `PERMISSION_DENIED` when a
//!   requirement fails, 14 `UNAVAILABLE` while keys or revocation state
//!   cannot be had, 13 `INTERNAL` for a misconfiguration;
//! - `grpc-message`: the same fixed, coarse phrase as the HTTP
//!   `error_description` (percent-encoded as the gRPC spec says), never token
//!   content;
//! - `www-authenticate`: the RFC 6750 challenge the HTTP answer would carry
//!   (clients see it as metadata, as behind Envoy's `jwt_authn`), from the
//!   configured [`realm`](crate::Authenticator::realm) and
//!   [`error_responder`](crate::Authenticator::error_responder). The responder's
//!   status and body are not used: gRPC clients read the status only.
//!
//! Requests that are not gRPC keep the HTTP answers, so one layer can guard a
//! server that serves both. gRPC-Web requests (`application/grpc-web...`) get
//! the HTTP answers, which gRPC-Web clients map to gRPC codes (401 to
//! `UNAUTHENTICATED`, 403 to `PERMISSION_DENIED`); put
//! `tonic_web::GrpcWebLayer` outside `JwtAuth` to have them translated to
//! gRPC first.
//!
//! The layer sits in front of tonic's router, so it covers every method,
//! including unknown ones and the reflection service: without a token, an
//! unknown method is `UNAUTHENTICATED`, not `UNIMPLEMENTED`.
//!
//! ## On a tonic server
//!
//! ```no_run
//! # use std::convert::Infallible;
//! # use tonic::{body::Body, server::NamedService};
//! # async fn serve<G, A>(greeter_server: G, admin_server: A) -> Result<(), Box<dyn std::error::Error>>
//! # where
//! #     G: tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
//! #         + NamedService + Clone + Send + Sync + 'static,
//! #     G::Future: Send + 'static,
//! #     A: tower_service::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
//! #         + NamedService + Clone + Send + Sync + 'static,
//! #     A::Future: Send + 'static,
//! # {
//! use jwt_auth_tower::{Authenticator, Authorize, JwtAuth, Key, Requirement};
//! use tonic::service::LayerExt as _;
//! use tonic::transport::Server;
//!
//! let auth = JwtAuth::new(Authenticator::new(Key::hmac(b"0123456789abcdef0123456789abcdef")?)
//!     .issuer("https://auth.example.com")
//!     .audience("orders"));
//! Server::builder()
//!     // Every method, known or not: UNAUTHENTICATED without a valid token.
//!     .layer(auth)
//!     // `greeter_server` is a generated `GreeterServer::new(MyGreeter)`.
//!     .add_service(greeter_server)
//!     // One service only: PERMISSION_DENIED without the `admin` role.
//!     .add_service(Authorize::new(Requirement::any_role(["admin"])).named_layer(admin_server))
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! A requirement for a single method goes in its handler, with
//! `TonicRequestExt::authorize` (feature `tonic`).
//!
//! ## In a handler (feature `tonic`)
//!
//! tonic carries the HTTP request extensions into
//! [`tonic::Request::extensions`](https://docs.rs/tonic/0.14/tonic/struct.Request.html#method.extensions),
//! where the layer leaves its [`Authentication` value](crate::Authentication). `TonicRequestExt` reads
//! it, typed:
//!
//! ```
//! # #[cfg(feature = "tonic")]
//! # mod example {
//! use jwt_auth_tower::{DefaultClaims, Requirement, TonicRequestExt};
//! use tonic::{Request, Response, Status};
//!
//! /// The body of a generated `async fn me(&self, request: Request<MeRequest>)`.
//! pub async fn me(request: Request<()>) -> Result<Response<String>, Status> {
//!     let claims: DefaultClaims = request.claims()?; // UNAUTHENTICATED if anonymous
//!     Ok(Response::new(claims.sub().unwrap_or_default().to_owned()))
//! }
//!
//! pub async fn admin(request: Request<()>) -> Result<Response<String>, Status> {
//!     request.authorize(&Requirement::any_role(["admin"]))?; // PERMISSION_DENIED
//!     Ok(Response::new("welcome".to_owned()))
//! }
//! # }
//! # #[cfg(feature = "tonic")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use jwt_auth_tower::{Authentication, Authenticator, Key};
//! # let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
//! # let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 600;
//! # let token = key.encode(&serde_json::json!({"sub": "alice", "roles": ["user"], "exp": exp}))?;
//! # let authenticator = Authenticator::new(key);
//! # let verified = authenticator.verify(&token)?;
//! # let request = || {
//! #     let mut request = tonic::Request::new(());
//! #     request.extensions_mut().insert(Authentication::verified(authenticator.clone(), verified.clone()));
//! #     request
//! # };
//! # assert_eq!(example::me(request()).await?.into_inner(), "alice");
//! # let denied = example::admin(request()).await.unwrap_err();
//! # assert_eq!(denied.code(), tonic::Code::PermissionDenied);
//! # let no_layer = example::me(tonic::Request::new(())).await.unwrap_err();
//! # assert_eq!(no_layer.code(), tonic::Code::Internal);
//! # Ok(()) }
//! # #[cfg(not(feature = "tonic"))]
//! # fn main() {}
//! ```

#[cfg(feature = "tonic")]
use jwt_auth_core::{AuthError, Authentication, Requirement};
#[cfg(feature = "tonic")]
use serde::de::DeserializeOwned;

/// The `tonic::Status` for a refusal: the code of
/// [`AuthError::grpc_status`] and its fixed, coarse message.
///
/// ```
/// use jwt_auth_tower::{AuthError, AuthErrorKind, tonic_status};
///
/// let status = tonic_status(&AuthError::new(AuthErrorKind::Expired));
/// assert_eq!(status.code(), tonic::Code::Unauthenticated);
/// assert_eq!(status.message(), "the token has expired");
/// ```
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub fn tonic_status(error: &AuthError) -> tonic::Status {
    let status = error.grpc_status();
    tonic::Status::new(tonic::Code::from_i32(status.code()), status.message())
}

/// Typed access to what [`JwtAuth`](crate::JwtAuth) verified, from a tonic
/// handler's [`tonic::Request`].
///
/// Every refusal is a [`tonic::Status`] made by [`tonic_status`]:
/// `UNAUTHENTICATED` for an anonymous request (a server layered with
/// [`allow_anonymous`](crate::Authenticator::allow_anonymous)) or claims of the
/// wrong shape, `PERMISSION_DENIED` for a failed requirement, and `INTERNAL`
/// (logged) when no `JwtAuth` layer ran: a misconfiguration is never silently
/// anonymous. See the [module docs](self) for an example.
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub trait TonicRequestExt: sealed::Sealed {
    /// What the layer left in the extensions: the verified token or the fact
    /// that the request was let through anonymously. `None` when no
    /// `JwtAuth` layer ran.
    fn authentication(&self) -> Option<&Authentication>;

    /// The verified claims, deserialized into `T` (for example
    /// [`DefaultClaims`](crate::DefaultClaims), `serde_json::Value` or your
    /// own type).
    #[allow(clippy::result_large_err)] // tonic's own handlers return `Result<_, Status>`
    fn claims<T: DeserializeOwned>(&self) -> Result<T, tonic::Status>;

    /// Like [`claims`](Self::claims), but `Ok(None)` for a request let
    /// through anonymously.
    #[allow(clippy::result_large_err)]
    fn optional_claims<T: DeserializeOwned>(&self) -> Result<Option<T>, tonic::Status>;

    /// Checks a [`Requirement`] (roles, scopes, permissions, a predicate):
    /// `PERMISSION_DENIED` when the token does not meet it.
    #[allow(clippy::result_large_err)]
    fn authorize(&self, requirement: &Requirement) -> Result<(), tonic::Status>;
}

#[cfg(feature = "tonic")]
impl<M> TonicRequestExt for tonic::Request<M> {
    fn authentication(&self) -> Option<&Authentication> {
        self.extensions().get::<Authentication>()
    }

    fn claims<T: DeserializeOwned>(&self) -> Result<T, tonic::Status> {
        jwt_auth_core::adapter::required_claims(self.authentication())
            .map_err(|rejection| tonic_status(&rejection.error))
    }

    fn optional_claims<T: DeserializeOwned>(&self) -> Result<Option<T>, tonic::Status> {
        jwt_auth_core::adapter::optional_claims(self.authentication())
            .map_err(|rejection| tonic_status(&rejection.error))
    }

    fn authorize(&self, requirement: &Requirement) -> Result<(), tonic::Status> {
        requirement
            .authorize(self.authentication())
            .map_err(|rejection| tonic_status(&rejection.error))
    }
}

#[cfg(feature = "tonic")]
mod sealed {
    pub trait Sealed {}
    impl<M> Sealed for tonic::Request<M> {}
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::header::CONTENT_TYPE;
    use http::{Request, Response, StatusCode};
    use http_body::Body as _;
    use http_body_util::BodyExt as _;
    use serde_json::json;
    use tower::{Layer as _, ServiceExt as _};

    use super::*;
    use crate::{Authorize, JwtAuth, Key, Requirement};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn token(claims: serde_json::Value) -> String {
        let exp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 600;
        let mut claims = claims;
        claims["exp"] = exp.into();
        let key = Key::hmac(SECRET).expect("a 32-byte secret");
        key.encode(&claims).expect("signed")
    }

    fn auth() -> JwtAuth {
        JwtAuth::new(Key::hmac(SECRET).expect("a 32-byte secret"))
    }

    async fn inner(_: Request<String>) -> Result<Response<String>, Infallible> {
        Ok(Response::new("reached".to_owned()))
    }

    fn request(content_type: Option<&str>, token: Option<&str>) -> Request<String> {
        let mut builder = Request::post("/pkg.Service/Method");
        if let Some(content_type) = content_type {
            builder = builder.header(CONTENT_TYPE, content_type);
        }
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder.body(String::new()).expect("a request")
    }

    async fn body_text<B: http_body::Body<Data = Bytes>>(body: B) -> String
    where
        B::Error: std::fmt::Debug,
    {
        let bytes = body.collect().await.expect("a body").to_bytes();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn header<'a>(response: &'a Response<impl Sized>, name: &str) -> Option<&'a str> {
        response.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[tokio::test]
    async fn grpc_request_without_token_is_trailers_only_unauthenticated() {
        let service = auth().layer(tower::service_fn(inner));
        let response = service
            .oneshot(request(Some("application/grpc"), None))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), Some("application/grpc"));
        assert_eq!(header(&response, "grpc-status"), Some("16"));
        assert_eq!(
            header(&response, "grpc-message"),
            Some("a bearer token is required")
        );
        assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
        // Trailers-only: the stream ends with the headers.
        assert!(response.body().is_end_stream());
        assert_eq!(response.body().size_hint().exact(), Some(0));
        assert_eq!(body_text(response.into_body()).await, "");
    }

    #[tokio::test]
    async fn grpc_request_with_bad_token_is_unauthenticated() {
        let realm = crate::Authenticator::new(Key::hmac(SECRET).expect("a 32-byte secret"));
        let service = JwtAuth::new(realm.realm("api")).layer(tower::service_fn(inner));
        let response = service
            .oneshot(request(Some("application/grpc+proto"), Some("not.a.token")))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "grpc-status"), Some("16"));
        assert_eq!(
            header(&response, "grpc-message"),
            Some("the token is malformed")
        );
        assert_eq!(
            header(&response, "www-authenticate"),
            Some(
                r#"Bearer realm="api", error="invalid_token", error_description="the token is malformed""#
            )
        );
        assert!(response.body().is_end_stream());
    }

    #[tokio::test]
    async fn http_request_still_gets_401_and_a_challenge() {
        let service = auth().layer(tower::service_fn(inner));
        let response = service
            .oneshot(request(None, None))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(header(&response, "www-authenticate"), Some("Bearer"));
        assert_eq!(header(&response, "content-type"), Some("application/json"));
        assert!(header(&response, "grpc-status").is_none());
        let body = body_text(response.into_body()).await;
        assert_eq!(
            body,
            r#"{"error":"missing_token","error_description":"a bearer token is required"}"#
        );

        // gRPC-Web is not gRPC: it keeps the HTTP answer.
        let service = auth().layer(tower::service_fn(inner));
        let response = service
            .oneshot(request(Some("application/grpc-web+proto"), None))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn valid_grpc_request_reaches_the_service() {
        let service = auth().layer(tower::service_fn(inner));
        let token = token(json!({"sub": "alice"}));
        let response = service
            .oneshot(request(Some("application/grpc"), Some(&token)))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header(&response, "grpc-status").is_none());
        assert_eq!(body_text(response.into_body()).await, "reached");
    }

    #[tokio::test]
    async fn failed_requirement_is_permission_denied_on_grpc_and_403_on_http() {
        let service = || {
            auth().layer(
                Authorize::new(Requirement::any_role(["admin"])).layer(tower::service_fn(inner)),
            )
        };
        let user = token(json!({"sub": "bob", "roles": ["user"]}));

        let response = service()
            .oneshot(request(Some("application/grpc"), Some(&user)))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "content-type"), Some("application/grpc"));
        assert_eq!(header(&response, "grpc-status"), Some("7"));
        assert_eq!(
            header(&response, "grpc-message"),
            Some("the token lacks the required role or scope")
        );
        assert!(
            header(&response, "www-authenticate")
                .is_some_and(|c| c.contains(r#"error="insufficient_scope""#))
        );
        assert!(response.body().is_end_stream());

        let response = service()
            .oneshot(request(None, Some(&user)))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::FORBIDDEN);

        let admin = token(json!({"sub": "alice", "roles": ["admin"]}));
        let response = service()
            .oneshot(request(Some("application/grpc"), Some(&admin)))
            .await
            .unwrap_or_else(|e| match e {});
        assert!(header(&response, "grpc-status").is_none());
        assert_eq!(body_text(response.into_body()).await, "reached");
    }

    #[tokio::test]
    async fn requirement_without_the_layer_is_internal() {
        let service =
            Authorize::new(Requirement::any_role(["admin"])).layer(tower::service_fn(inner));
        let response = service
            .oneshot(request(Some("application/grpc"), None))
            .await
            .unwrap_or_else(|e| match e {});
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "grpc-status"), Some("13"));
        assert!(header(&response, "www-authenticate").is_none());
    }

    #[cfg(feature = "tonic")]
    #[test]
    fn tonic_request_ext() {
        use crate::{Authentication, DefaultClaims, Requirement};

        let auth = auth();
        let authenticator = auth.authenticator().clone();
        let verified = authenticator
            .verify(&token(json!({"sub": "bob", "roles": ["user"]})))
            .expect("a valid token");
        let with = |authentication: Option<Authentication>| {
            let mut request = tonic::Request::new(());
            if let Some(authentication) = authentication {
                request.extensions_mut().insert(authentication);
            }
            request
        };

        let request = with(Some(Authentication::verified(
            authenticator.clone(),
            verified,
        )));
        assert!(request.authentication().is_some());
        let claims: Result<DefaultClaims, _> = request.claims();
        assert_eq!(claims.ok().as_ref().and_then(|c| c.sub()), Some("bob"));
        let value: Result<Option<serde_json::Value>, _> = request.optional_claims();
        assert_eq!(
            value.ok().flatten().map(|v| v["sub"].clone()),
            Some(json!("bob"))
        );
        assert!(request.authorize(&Requirement::any_role(["user"])).is_ok());
        let denied = request.authorize(&Requirement::any_role(["admin"]));
        assert_eq!(
            denied.err().map(|s| s.code()),
            Some(tonic::Code::PermissionDenied)
        );
        let shape: Result<Vec<u8>, _> = request.claims();
        assert_eq!(
            shape.err().map(|s| s.code()),
            Some(tonic::Code::Unauthenticated)
        );

        let anonymous = with(Some(Authentication::anonymous(authenticator)));
        let missing: Result<DefaultClaims, _> = anonymous.claims();
        let missing = missing.err();
        assert_eq!(
            missing.as_ref().map(|s| s.code()),
            Some(tonic::Code::Unauthenticated)
        );
        assert_eq!(
            missing.as_ref().map(|s| s.message()),
            Some("a bearer token is required")
        );
        let optional: Result<Option<DefaultClaims>, _> = anonymous.optional_claims();
        assert!(matches!(optional, Ok(None)));
        let denied = anonymous.authorize(&Requirement::any_role(["user"]));
        assert_eq!(
            denied.err().map(|s| s.code()),
            Some(tonic::Code::Unauthenticated)
        );

        let unlayered = with(None);
        assert!(unlayered.authentication().is_none());
        let internal: Result<DefaultClaims, _> = unlayered.claims();
        assert_eq!(
            internal.err().map(|s| s.code()),
            Some(tonic::Code::Internal)
        );
    }
}
