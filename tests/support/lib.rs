//! Shared harness: the same request sent through the tower/axum adapter and the
//! actix-web adapter, built from one core [`Authenticator`].
#![allow(missing_docs, clippy::unwrap_used)]

pub mod guarded;
pub mod idp_server;
pub mod jwks_server;
pub mod redis_cluster;
pub mod redis_server;

use std::time::{Duration, UNIX_EPOCH};

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::routing::{any, get};
use jwt_auth_core::{Authenticator, Key};
use serde_json::Value;
use tower::ServiceExt;

/// The fixed "now" of every parity case, so leeway edges are exact.
pub const NOW: u64 = 1_800_000_000;

/// Reads a key fixture from `tests/keys/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/keys/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A key loaded from a PEM fixture.
pub fn pem_key(name: &str) -> Key {
    Key::from_pem(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// An authenticator on the fixed clock.
pub fn authenticator(key: Key) -> Authenticator {
    Authenticator::new(key).clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
}

/// A request to send through both adapters.
#[derive(Clone, Debug)]
pub struct TestRequest {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
}

impl TestRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            headers: Vec::new(),
        }
    }

    /// The same request with another method (`/me` takes any).
    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }
}

/// What came back, in the parts that must agree across adapters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub www_authenticate: Option<String>,
    pub content_type: Option<String>,
    pub body: String,
    /// The `DPoP-Nonce` header (RFC 9449 §8), if any.
    pub dpop_nonce: Option<String>,
}

impl Reply {
    /// The `error` attribute of the challenge, if any.
    pub fn challenge_error(&self) -> Option<&str> {
        let c = self.www_authenticate.as_deref()?;
        let start = c.find("error=\"")? + 7;
        let end = c[start..].find('"')? + start;
        Some(&c[start..end])
    }
}

/// Claims with required members, for the typed-extractor cases: a validly
/// signed token without `roles` does not fit.
#[derive(Debug, serde::Deserialize, serde::Serialize)]
pub struct Typed {
    pub sub: String,
    pub roles: Vec<String>,
}

fn typed_body(claims: Option<&Typed>) -> Value {
    claims_body(
        claims
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .as_ref(),
    )
}

fn claims_body(claims: Option<&Value>) -> Value {
    match claims {
        Some(c) => serde_json::json!({"authenticated": true, "claims": c}),
        None => serde_json::json!({"authenticated": false}),
    }
}

/// Sends `req` through an axum router: `/me` (any method) requires a token, `/admin` the
/// role `admin`, `/optional` allows anonymous requests, `/bare` has no
/// middleware; `/typed` and `/typed-optional` extract [`Typed`] claims, and
/// `/bare-optional` takes optional claims without middleware.
pub async fn via_axum(auth: &Authenticator, req: &TestRequest) -> Reply {
    use jwt_auth_tower::{Authorize, Claims, JwtAuth, OptionalClaims, Requirement};
    let layer = JwtAuth::new(auth.clone());
    let app = Router::new()
        .route(
            "/me",
            any(|Claims(c): Claims<Value>| async move { axum::Json(claims_body(Some(&c))) }),
        )
        .route(
            "/typed",
            get(|Claims(c): Claims<Typed>| async move { axum::Json(typed_body(Some(&c))) }),
        )
        .route_layer(layer.clone())
        .merge(
            Router::new()
                .route(
                    "/typed-optional",
                    get(|OptionalClaims(c): OptionalClaims<Typed>| async move {
                        axum::Json(typed_body(c.as_ref()))
                    }),
                )
                .route_layer(JwtAuth::new(auth.clone().allow_anonymous())),
        )
        .route(
            "/bare-optional",
            get(|OptionalClaims(c): OptionalClaims<Value>| async move {
                axum::Json(claims_body(c.as_ref()))
            }),
        )
        .merge(
            Router::new()
                .route(
                    "/admin",
                    get(
                        |Claims(c): Claims<Value>| async move { axum::Json(claims_body(Some(&c))) },
                    ),
                )
                .route_layer(Authorize::new(Requirement::any_role(["admin"])))
                .route_layer(layer.clone()),
        )
        .merge(
            Router::new()
                .route(
                    "/optional",
                    get(|c: Option<Claims<Value>>| async move {
                        axum::Json(claims_body(c.as_ref().map(|c| &c.0)))
                    }),
                )
                .route_layer(JwtAuth::new(auth.clone().allow_anonymous())),
        )
        .route(
            "/bare",
            get(|Claims(c): Claims<Value>| async move { axum::Json(claims_body(Some(&c))) }),
        );
    let mut builder = http::Request::builder()
        .method(req.method)
        .uri(req.path.as_str());
    for (name, value) in &req.headers {
        builder = builder.header(*name, value.as_bytes());
    }
    let request = builder.body(axum::body::Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &http::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let status = response.status().as_u16();
    let www_authenticate = header("www-authenticate");
    let content_type = header("content-type");
    let dpop_nonce = header("dpop-nonce");
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Reply {
        status,
        www_authenticate,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        dpop_nonce,
    }
}

/// Sends `req` through an actix-web app with the same routes as [`via_axum`].
pub async fn via_actix(auth: &Authenticator, req: &TestRequest) -> Reply {
    use jwt_auth_actix::{Authorize, Claims, JwtAuth, OptionalClaims, Requirement};
    let mw = JwtAuth::new(auth.clone());
    let app = actix_test::init_service(
        App::new()
            .service(web::resource("/typed").wrap(mw.clone()).route(
                web::get().to(|Claims(c): Claims<Typed>| async move {
                    HttpResponse::Ok().json(typed_body(Some(&c)))
                }),
            ))
            .service(
                web::resource("/typed-optional")
                    .wrap(JwtAuth::new(auth.clone().allow_anonymous()))
                    .route(
                        web::get().to(|OptionalClaims(c): OptionalClaims<Typed>| async move {
                            HttpResponse::Ok().json(typed_body(c.as_ref()))
                        }),
                    ),
            )
            .route(
                "/bare-optional",
                web::get().to(|OptionalClaims(c): OptionalClaims<Value>| async move {
                    HttpResponse::Ok().json(claims_body(c.as_ref()))
                }),
            )
            .service(
                web::resource("/admin")
                    .wrap(Authorize::new(Requirement::any_role(["admin"])))
                    .wrap(mw.clone())
                    .route(web::get().to(|Claims(c): Claims<Value>| async move {
                        HttpResponse::Ok().json(claims_body(Some(&c)))
                    })),
            )
            .service(web::resource("/me").wrap(mw.clone()).route(
                web::route().to(|Claims(c): Claims<Value>| async move {
                    HttpResponse::Ok().json(claims_body(Some(&c)))
                }),
            ))
            .service(
                web::resource("/optional")
                    .wrap(JwtAuth::new(auth.clone().allow_anonymous()))
                    .route(web::get().to(|c: Option<Claims<Value>>| async move {
                        HttpResponse::Ok().json(claims_body(c.as_ref().map(|c| &c.0)))
                    })),
            )
            .route(
                "/bare",
                web::get().to(|Claims(c): Claims<Value>| async move {
                    HttpResponse::Ok().json(claims_body(Some(&c)))
                }),
            ),
    )
    .await;
    let method = actix_web::http::Method::from_bytes(req.method.as_bytes()).unwrap();
    let mut request = actix_test::TestRequest::default()
        .method(method)
        .uri(&req.path);
    for (name, value) in &req.headers {
        request = request.append_header((*name, value.as_bytes()));
    }
    let response = actix_test::call_service(&app, request.to_request()).await;
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let status = response.status().as_u16();
    let www_authenticate = header("www-authenticate");
    let content_type = header("content-type");
    let dpop_nonce = header("dpop-nonce");
    let bytes = actix_test::read_body(response).await;
    Reply {
        status,
        www_authenticate,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        dpop_nonce,
    }
}

/// Collects everything a `tracing` subscriber writes.
#[derive(Clone, Default)]
pub struct Capture(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Captures every event, at every level, written on this thread until
    /// the guard is dropped.
    pub fn everything() -> (Self, tracing::subscriber::DefaultGuard) {
        let capture = Self::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    /// What was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The README's quick starts, compiled as doc tests.
#[doc = include_str!("../../README.md")]
#[allow(dead_code)]
struct ReadmeDoctests;
