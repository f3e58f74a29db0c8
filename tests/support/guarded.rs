//! `/guarded` behind `JwtAuth` and an `Authorize` requirement, on both
//! adapters.

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::routing::get;
use jwt_auth_core::{Authenticator, Requirement};
use tower::ServiceExt;

use crate::Reply;

/// `/guarded` behind `JwtAuth` and the requirement, on axum.
pub async fn axum_call(
    auth: &Authenticator,
    requirement: Requirement,
    bearer: Option<&str>,
) -> Reply {
    use jwt_auth_tower::{Authorize, JwtAuth};
    let app = Router::new()
        .route("/guarded", get(|| async { "ok" }))
        .route_layer(Authorize::new(requirement))
        .route_layer(JwtAuth::new(auth.clone()));
    let mut req = http::Request::get("/guarded");
    if let Some(token) = bearer {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .oneshot(req.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &http::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (status, www_authenticate, content_type) = (
        response.status().as_u16(),
        header("www-authenticate"),
        header("content-type"),
    );
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Reply {
        status,
        www_authenticate,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        dpop_nonce: None,
    }
}

/// The same on actix-web.
pub async fn actix_call(
    auth: &Authenticator,
    requirement: Requirement,
    bearer: Option<&str>,
) -> Reply {
    use jwt_auth_actix::{Authorize, JwtAuth};
    let app = actix_test::init_service(
        App::new().service(
            web::resource("/guarded")
                .wrap(Authorize::new(requirement))
                .wrap(JwtAuth::new(auth.clone()))
                .route(web::get().to(|| async { HttpResponse::Ok().body("ok") })),
        ),
    )
    .await;
    let mut req = actix_test::TestRequest::get().uri("/guarded");
    if let Some(token) = bearer {
        req = req.append_header(("authorization", format!("Bearer {token}")));
    }
    let response = actix_test::call_service(&app, req.to_request()).await;
    let header = |name| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, www_authenticate, content_type) = (
        response.status().as_u16(),
        header("www-authenticate"),
        header("content-type"),
    );
    let body = actix_test::read_body(response).await;
    Reply {
        status,
        www_authenticate,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        dpop_nonce: None,
    }
}

/// Both adapters, which must agree (the 200 bodies are the handler's own).
pub async fn both(auth: &Authenticator, requirement: &Requirement, bearer: Option<&str>) -> Reply {
    let a = axum_call(auth, requirement.clone(), bearer).await;
    let b = actix_call(auth, requirement.clone(), bearer).await;
    assert_eq!(
        (a.status, &a.www_authenticate),
        (b.status, &b.www_authenticate),
        "the adapters disagree"
    );
    if a.status != 200 {
        assert_eq!(a, b, "the adapters disagree");
    }
    a
}
