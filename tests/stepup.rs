//! Step-up authentication (RFC 9470), requirement combinators and CORS
//! preflights through both adapters.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::Duration;

use jwt_auth_core::{Key, Requirement};
use jwt_auth_tests::guarded::both;
use jwt_auth_tests::{NOW, TestRequest, authenticator, via_actix, via_axum};
use serde_json::{Value, json};

fn key() -> Key {
    Key::hmac(b"stepup-secret-0123456789abcdef-0123456789abcdef").unwrap()
}

fn token(extra: Value) -> String {
    let mut claims = json!({"sub": "alice", "exp": NOW + 600, "roles": ["user"]});
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    key().encode(&claims).unwrap()
}

const MFA: &str = "urn:demo:mfa";

#[tokio::test]
async fn step_up_answers_insufficient_user_authentication_alike() {
    let auth = authenticator(key());
    let mfa = Requirement::acr([MFA, "urn:demo:hwk"]).with_max_age(Duration::from_secs(300));
    let described = |params: &str| {
        format!(
            r#"Bearer error="insufficient_user_authentication", error_description="a stronger or more recent authentication is required", {params}"#
        )
    };
    let acr_values = r#"acr_values="urn:demo:mfa urn:demo:hwk""#;
    let cases = [
        // (claims, expected challenge; empty = 200)
        (json!({"acr": MFA, "auth_time": NOW - 10}), String::new()),
        (
            json!({"acr": "urn:demo:hwk", "auth_time": NOW - 300}),
            String::new(),
        ),
        (
            json!({"acr": "urn:demo:pwd", "auth_time": NOW - 10}),
            described(acr_values),
        ),
        (json!({"auth_time": NOW - 10}), described(acr_values)),
        (
            json!({"acr": ["urn:demo:mfa"], "auth_time": NOW - 10}),
            described(acr_values),
        ),
        (
            json!({"acr": MFA, "auth_time": NOW - 301}),
            described(&format!(r#"{acr_values}, max_age="300""#)),
        ),
        (
            json!({"acr": MFA}),
            described(&format!(r#"{acr_values}, max_age="300""#)),
        ),
        (
            json!({"acr": MFA, "auth_time": "recent"}),
            described(&format!(r#"{acr_values}, max_age="300""#)),
        ),
        (
            json!({"acr": MFA, "auth_time": NOW + 3600}),
            described(&format!(r#"{acr_values}, max_age="300""#)),
        ),
        (
            json!({"acr": "x"}),
            described(&format!(r#"{acr_values}, max_age="300""#)),
        ),
    ];
    for (claims, challenge) in cases {
        let reply = both(&auth, &mfa, Some(&token(claims.clone()))).await;
        if challenge.is_empty() {
            assert_eq!(reply.status, 200, "{claims}: {reply:?}");
        } else {
            assert_eq!(reply.status, 401, "{claims}");
            assert_eq!(
                reply.www_authenticate.as_deref(),
                Some(challenge.as_str()),
                "{claims}"
            );
            let body: Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["error"], "insufficient_user_authentication");
        }
    }
    // max_age alone.
    let recent = Requirement::max_age(Duration::from_secs(60));
    let reply = both(&auth, &recent, Some(&token(json!({"auth_time": NOW - 61})))).await;
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(described(r#"max_age="60""#).as_str())
    );
    assert_eq!(
        both(&auth, &recent, Some(&token(json!({"auth_time": NOW - 60}))))
            .await
            .status,
        200
    );
    // No token at all stays a bare 401.
    let reply = both(&auth, &mfa, None).await;
    assert_eq!(
        (reply.status, reply.www_authenticate.as_deref()),
        (401, Some("Bearer"))
    );
}

#[tokio::test]
async fn empty_requirement_lists_refuse() {
    let auth = authenticator(key());
    let admin = token(json!({"roles": ["admin"], "acr": MFA}));
    for requirement in [
        Requirement::all([]),
        Requirement::any([]),
        Requirement::all_roles(Vec::<String>::new()),
        Requirement::any_role(Vec::<String>::new()),
        Requirement::acr(Vec::<String>::new()),
        Requirement::acr(["has a space"]),
    ] {
        let reply = both(&auth, &requirement, Some(&admin)).await;
        assert_ne!(reply.status, 200, "{requirement:?}");
    }
}

#[tokio::test]
async fn requirements_combine_across_kinds() {
    let auth = authenticator(key());
    let admin_with_mfa =
        Requirement::all([Requirement::any_role(["admin"]), Requirement::acr([MFA])]);
    let admin_or_scope = Requirement::any([
        Requirement::any_role(["admin"]),
        Requirement::any_scope(["orders:write"]),
    ]);
    let cases = [
        (
            &admin_with_mfa,
            json!({"roles": ["admin"], "acr": MFA}),
            200,
        ),
        (&admin_with_mfa, json!({"roles": ["user"], "acr": MFA}), 403),
        (
            &admin_with_mfa,
            json!({"roles": ["admin"], "acr": "pwd"}),
            401,
        ),
        (&admin_or_scope, json!({"roles": ["admin"]}), 200),
        (&admin_or_scope, json!({"scope": "orders:write"}), 200),
        (&admin_or_scope, json!({"scope": "orders:read"}), 403),
    ];
    for (requirement, claims, status) in cases {
        let reply = both(&auth, requirement, Some(&token(claims.clone()))).await;
        assert_eq!(reply.status, status, "{requirement:?} {claims}: {reply:?}");
    }
}

#[tokio::test]
async fn preflights_pass_only_when_asked_and_reach_handlers_anonymous() {
    let preflight = TestRequest::get("/me")
        .method("OPTIONS")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST");
    // Off by default: a preflight has no token, so 401.
    let strict = authenticator(key());
    let reply = via_axum(&strict, &preflight).await;
    assert_eq!(reply, via_actix(&strict, &preflight).await);
    assert_eq!(reply.status, 401);
    // On: it goes through as an anonymous request; `/me` asks for claims,
    // so the handler's extractor refuses it, on both frameworks alike.
    let open = authenticator(key()).pass_preflight(true);
    let reply = via_axum(&open, &preflight).await;
    assert_eq!(reply, via_actix(&open, &preflight).await);
    assert_eq!(reply.status, 401, "{reply:?}");
    // What the middleware decided: let through with no token, or refused.
    let request = http::Request::options("/me")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(())
        .unwrap();
    use jwt_auth_core::adapter::Decision;
    match open.decide(&request).await {
        Decision::Allow(allow) => {
            assert!(allow.authentication().token().is_none());
            let removed: Vec<&str> = allow.removed_headers().collect();
            for credential in ["authorization", "cookie", "dpop"] {
                assert!(removed.contains(&credential), "{removed:?}");
            }
        }
        other => panic!("a preflight is let through: {other:?}"),
    }
    // A gRPC call dressed as a preflight is not one.
    let grpc = http::Request::options("/pkg.Service/Method")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("content-type", "application/grpc")
        .body(())
        .unwrap();
    assert!(matches!(open.decide(&grpc).await, Decision::Refuse(_)));
    assert!(matches!(strict.decide(&request).await, Decision::Refuse(_)));
    // Only a real preflight: OPTIONS without the CORS headers needs a token.
    let bare = TestRequest::get("/me").method("OPTIONS");
    let reply = via_axum(&open, &bare).await;
    assert_eq!(reply, via_actix(&open, &bare).await);
    assert_eq!(reply.status, 401);
    // A token-bearing request is unaffected.
    let ok = TestRequest::get("/me").bearer(&token(json!({})));
    assert_eq!(via_axum(&open, &ok).await.status, 200);
}

#[derive(Debug, PartialEq)]
struct Account(u64);

fn checked() -> jwt_auth_core::Authenticator {
    use jwt_auth_core::AuthError;
    authenticator(key()).after_validation(|token| async move {
        // Stands for a database look-up.
        tokio::task::yield_now().await;
        match token.subject() {
            Some("alice") => Ok(Some(Account(42))),
            Some("bob") => Ok(None),
            Some("mallory") => Err(AuthError::forbidden("this account is suspended")),
            _ => Err(AuthError::unauthorized("unknown \"account\"")),
        }
    })
}

fn token_for(sub: &str) -> String {
    key()
        .encode(&json!({"sub": sub, "exp": NOW + 600}))
        .unwrap()
}

#[tokio::test]
async fn the_applications_check_refuses_or_attaches_data_alike() {
    let auth = checked();
    let cases = [
        ("alice", 200, None),
        ("bob", 200, None),
        (
            "mallory",
            403,
            Some(
                r#"Bearer error="insufficient_scope", error_description="this account is suspended""#,
            ),
        ),
        (
            "eve",
            401,
            Some(r#"Bearer error="invalid_token", error_description="unknown \"account\"""#),
        ),
    ];
    for (sub, status, challenge) in cases {
        let req = TestRequest::get("/me").bearer(&token_for(sub));
        let reply = via_axum(&auth, &req).await;
        assert_eq!(reply, via_actix(&auth, &req).await, "{sub}");
        assert_eq!(reply.status, status, "{sub}: {reply:?}");
        assert_eq!(reply.www_authenticate.as_deref(), challenge, "{sub}");
    }
    // No token: the check never runs; an invalid token neither.
    let reply = via_axum(&auth, &TestRequest::get("/me")).await;
    assert_eq!(
        (reply.status, reply.www_authenticate.as_deref()),
        (401, Some("Bearer"))
    );
}

#[tokio::test]
async fn handlers_read_what_the_check_attached() {
    use axum::Router;
    use axum::extract::Extension;
    use axum::routing::get;
    use jwt_auth_core::Authentication;
    use tower::ServiceExt;

    let app = Router::new()
        .route(
            "/account",
            get(|Extension(auth): Extension<Authentication>| async move {
                format!("{:?}", auth.data::<Account>())
            }),
        )
        .layer(jwt_auth_tower::JwtAuth::new(checked()));
    let body = |sub: &'static str| {
        let app = app.clone();
        async move {
            let request = http::Request::get("/account")
                .header("authorization", format!("Bearer {}", token_for(sub)))
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            let bytes = http_body_util::BodyExt::collect(response.into_body())
                .await
                .unwrap()
                .to_bytes();
            String::from_utf8_lossy(&bytes).into_owned()
        }
    };
    assert_eq!(body("alice").await, "Some(Account(42))");
    assert_eq!(body("bob").await, "None");

    use actix_web::{App, HttpResponse, test as actix_test, web};
    let app = actix_test::init_service(
        App::new().service(
            web::resource("/account")
                .wrap(jwt_auth_actix::JwtAuth::new(checked()))
                .route(
                    web::get().to(|auth: web::ReqData<Authentication>| async move {
                        HttpResponse::Ok().body(format!("{:?}", auth.data::<Account>()))
                    }),
                ),
        ),
    )
    .await;
    let request = actix_test::TestRequest::get()
        .uri("/account")
        .insert_header(("authorization", format!("Bearer {}", token_for("alice"))))
        .to_request();
    let bytes = actix_test::call_and_read_body(&app, request).await;
    assert_eq!(bytes, "Some(Account(42))");
}
