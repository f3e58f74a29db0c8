//! Claim forwarding through both adapters: the configured headers are set
//! from the verified claims, and a client's own copies of them never reach
//! the service behind (the Envoy `claim_to_headers` spoofing bug).
#![allow(missing_docs, clippy::unwrap_used)]

use actix_web::{App, HttpRequest, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use jwt_auth_core::{ClaimHeaders, Key};
use jwt_auth_tests::{NOW, TestRequest, authenticator};
use serde_json::{Value, json};
use tower::ServiceExt;

const FORWARDED: [&str; 4] = ["x-auth-sub", "x-auth-roles", "x-auth-org", "x-jwt-payload"];

fn key() -> Key {
    Key::hmac(b"forwarding-secret-0123456789abcdef-012345").unwrap()
}

fn forward() -> ClaimHeaders {
    ClaimHeaders::new()
        .claim("x-auth-sub", "sub")
        .claim("X-Auth-Roles", "roles")
        .claim("x-auth-org", "org.id")
        .payload("x-jwt-payload")
}

fn token(extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "exp": NOW + 600});
    claims
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    key().encode(&claims).unwrap()
}

/// What the service behind saw: every value of each forwarded header, and
/// of one header that is not forwarded.
fn seen(get: impl Fn(&str) -> Vec<String>) -> Value {
    let mut out = serde_json::Map::new();
    for name in FORWARDED.iter().chain(&["x-other"]) {
        out.insert((*name).to_owned(), json!(get(name)));
    }
    Value::Object(out)
}

async fn via_axum(req: &TestRequest) -> (u16, Value) {
    use jwt_auth_tower::JwtAuth;
    let authenticator = authenticator(key()).forward_claims(forward());
    let auth = JwtAuth::new(authenticator.clone());
    let echo = |headers: http::HeaderMap| async move {
        axum::Json(seen(|name| {
            headers
                .get_all(name)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect()
        }))
    };
    let app = Router::new()
        .route("/me", get(echo))
        .route_layer(auth.clone())
        .merge(
            Router::new()
                .route("/optional", get(echo))
                .route_layer(JwtAuth::new(authenticator.allow_anonymous())),
        );
    let mut builder = http::Request::get(req.path.as_str());
    for (name, value) in &req.headers {
        builder = builder.header(*name, value.as_str());
    }
    let response = app
        .oneshot(builder.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn via_actix(req: &TestRequest) -> (u16, Value) {
    use jwt_auth_actix::JwtAuth;
    let authenticator = authenticator(key()).forward_claims(forward());
    let auth = JwtAuth::new(authenticator.clone());
    async fn echo(req: HttpRequest) -> HttpResponse {
        HttpResponse::Ok().json(seen(|name| {
            req.headers()
                .get_all(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect()
        }))
    }
    let app = actix_test::init_service(
        App::new()
            .service(web::resource("/me").wrap(auth.clone()).to(echo))
            .service(
                web::resource("/optional")
                    .wrap(JwtAuth::new(authenticator.allow_anonymous()))
                    .to(echo),
            ),
    )
    .await;
    let mut request = actix_test::TestRequest::get().uri(&req.path);
    for (name, value) in &req.headers {
        request = request.append_header((*name, value.as_str()));
    }
    let response = actix_test::call_service(&app, request.to_request()).await;
    let status = response.status().as_u16();
    let body = actix_test::read_body(response).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

async fn both(req: TestRequest) -> Value {
    let axum = via_axum(&req).await;
    assert_eq!(axum, via_actix(&req).await, "the adapters disagree");
    assert_eq!(axum.0, 200, "{axum:?}");
    axum.1
}

/// A request carrying a client's own copies of every forwarded header, in
/// several spellings and more than once.
fn spoofed(path: &str) -> TestRequest {
    TestRequest::get(path)
        .header("x-auth-sub", "root")
        .header("X-Auth-Sub", "admin")
        .header("x-auth-roles", "admin")
        .header("X-AUTH-ORG", "evil-corp")
        .header("x-jwt-payload", "eyJzdWIiOiJyb290In0")
        .header("x-other", "kept")
}

#[actix_web::test]
async fn verified_claims_replace_spoofed_headers() {
    let t = token(json!({"roles": ["user", "billing"], "org": {"id": 42}}));
    let seen = both(spoofed("/me").bearer(&t)).await;
    assert_eq!(seen["x-auth-sub"], json!(["alice"]));
    assert_eq!(seen["x-auth-roles"], json!(["user,billing"]));
    assert_eq!(seen["x-auth-org"], json!(["42"]));
    assert_eq!(seen["x-other"], json!(["kept"]), "other headers pass");
    let payload = seen["x-jwt-payload"][0].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["org"]["id"], 42);
}

#[actix_web::test]
async fn anonymous_requests_lose_the_spoofed_headers() {
    let seen = both(spoofed("/optional")).await;
    for name in FORWARDED {
        assert_eq!(seen[name], json!([]), "{name} reached the service");
    }
    assert_eq!(seen["x-other"], json!(["kept"]));
}

#[actix_web::test]
async fn missing_or_unsafe_claims_set_nothing() {
    // No roles and no org: the spoofed values must not survive either.
    let seen = both(spoofed("/me").bearer(&token(json!({})))).await;
    assert_eq!(seen["x-auth-sub"], json!(["alice"]));
    assert_eq!(seen["x-auth-roles"], json!([]));
    assert_eq!(seen["x-auth-org"], json!([]));
    // A claim with a line break would split the header: it is left out.
    let seen =
        both(spoofed("/me").bearer(&token(json!({"sub": "alice\r\nx-auth-roles: admin"})))).await;
    assert_eq!(seen["x-auth-sub"], json!([]));
    assert_eq!(seen["x-auth-roles"], json!([]));
}

#[actix_web::test]
async fn refused_requests_never_reach_the_service() {
    for req in [spoofed("/me"), spoofed("/me").bearer("not.a.token")] {
        let axum = via_axum(&req).await;
        assert_eq!(axum.0, 401);
        assert_eq!(axum.0, via_actix(&req).await.0);
    }
}
