//! Where the middleware goes: a whole router/app, a nested router/scope, a
//! single route; and what a handler gets when the claims do not fit its type.
#![allow(missing_docs, clippy::unwrap_used)]

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::routing::get;
use jwt_auth_core::{Authenticator, Key};
use jwt_auth_tests::{NOW, authenticator};
use serde::Deserialize;
use serde_json::json;
use tower::ServiceExt;

fn key() -> Key {
    Key::hmac(b"placement-secret-0123456789abcdef-0123").unwrap()
}

fn token() -> String {
    key()
        .encode(&json!({"sub": "alice", "exp": NOW + 600}))
        .unwrap()
}

fn auth() -> Authenticator {
    authenticator(key())
}

async fn axum_status(app: &Router, path: &str, token: Option<&str>) -> u16 {
    let mut req = http::Request::get(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    res.status().as_u16()
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NeedsTenant {
    tenant: String,
}

#[tokio::test]
async fn axum_nested_router_single_route_and_claims_shape() {
    use jwt_auth_tower::{Claims, JwtAuth};
    let layer = JwtAuth::new(auth());
    let api = Router::new()
        .route(
            "/me",
            get(|Claims(c): Claims| async move { c.sub().unwrap_or("").to_owned() }),
        )
        .route(
            "/tenant",
            get(|Claims(c): Claims<NeedsTenant>| async move { c.tenant }),
        )
        .layer(layer.clone());
    let app = Router::new()
        .nest("/api", api)
        .route("/open", get(|| async { "open" }))
        .route(
            "/one",
            get(|Claims(c): Claims| async move { c.sub().unwrap_or("").to_owned() }).layer(layer),
        );
    let t = token();
    assert_eq!(
        axum_status(&app, "/open", None).await,
        200,
        "routes outside the layer are open"
    );
    assert_eq!(axum_status(&app, "/api/me", None).await, 401);
    assert_eq!(axum_status(&app, "/api/me", Some(&t)).await, 200);
    assert_eq!(
        axum_status(&app, "/one", None).await,
        401,
        "single-route layer"
    );
    assert_eq!(axum_status(&app, "/one", Some(&t)).await, 200);
    assert_eq!(
        axum_status(&app, "/api/tenant", Some(&t)).await,
        401,
        "claims that do not fit T"
    );
}

#[actix_web::test]
async fn actix_app_scope_resource_and_claims_shape() {
    use jwt_auth_actix::{Claims, JwtAuth};
    let mw = JwtAuth::new(auth());
    let app = actix_test::init_service(
        App::new()
            .service(
                web::scope("/api")
                    .wrap(mw.clone())
                    .route(
                        "/me",
                        web::get().to(|Claims(c): Claims| async move {
                            HttpResponse::Ok().body(c.sub().unwrap_or("").to_owned())
                        }),
                    )
                    .route(
                        "/tenant",
                        web::get().to(|Claims(c): Claims<NeedsTenant>| async move {
                            HttpResponse::Ok().body(c.tenant)
                        }),
                    ),
            )
            .route(
                "/open",
                web::get().to(|| async { HttpResponse::Ok().body("open") }),
            )
            .service(web::resource("/one").wrap(mw).route(web::get().to(
                |Claims(c): Claims| async move {
                    HttpResponse::Ok().body(c.sub().unwrap_or("").to_owned())
                },
            ))),
    )
    .await;
    let t = token();
    let status = |path: &'static str, token: Option<String>| {
        let mut req = actix_test::TestRequest::get().uri(path);
        if let Some(t) = token {
            req = req.insert_header(("authorization", format!("Bearer {t}")));
        }
        req.to_request()
    };
    let call = |req| actix_test::call_service(&app, req);
    assert_eq!(call(status("/open", None)).await.status(), 200);
    assert_eq!(call(status("/api/me", None)).await.status(), 401);
    assert_eq!(call(status("/api/me", Some(t.clone()))).await.status(), 200);
    assert_eq!(call(status("/one", None)).await.status(), 401);
    assert_eq!(call(status("/one", Some(t.clone()))).await.status(), 200);
    assert_eq!(call(status("/api/tenant", Some(t))).await.status(), 401);
}

#[actix_web::test]
async fn app_wide_wrap() {
    use jwt_auth_actix::{Claims, JwtAuth};
    let app = actix_test::init_service(App::new().wrap(JwtAuth::new(auth())).route(
        "/me",
        web::get().to(|Claims(c): Claims| async move {
            HttpResponse::Ok().body(c.sub().unwrap_or("").to_owned())
        }),
    ))
    .await;
    let req = actix_test::TestRequest::get()
        .uri("/me")
        .insert_header(("authorization", format!("Bearer {}", token())))
        .to_request();
    let res = actix_test::call_service(&app, req).await;
    assert_eq!(res.status(), 200);
    assert_eq!(actix_test::read_body(res).await, "alice");
}
