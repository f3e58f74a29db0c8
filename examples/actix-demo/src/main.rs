//! The actix-web demo server. See `DEMO-CONTRACT.md` for its environment and routes.

use actix_web::http::StatusCode;
use actix_web::http::header::SET_COOKIE;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use demo_support::DemoReply;
use jwt_auth_actix::{
    ActixRequest, Authentication, Authenticator, Authorize, Claims, JwtAuth, OptionalClaims,
    TokenService,
};
use serde_json::Value;

type Tokens = web::Data<Option<TokenService>>;

async fn health(auth: web::Data<Authenticator>) -> HttpResponse {
    HttpResponse::Ok().json(demo_support::health_body(&auth))
}

/// Echoes every verified claim, exactly as in the token. The claims are read
/// where the middleware left them, parsed once per token and shared, and
/// serialised from there: `Claims<Value>` would rebuild the JSON tree on
/// every request only to serialise it again (BENCHMARKS.md, "Demo load").
async fn me(auth: web::ReqData<Authentication>) -> HttpResponse {
    match auth.token() {
        // Serialised once per token, shared by every request while cached.
        Some(token) => HttpResponse::Ok()
            .content_type("application/json")
            .body(token.claims_bytes()),
        None => HttpResponse::InternalServerError().finish(),
    }
}

async fn optional(OptionalClaims(claims): OptionalClaims<Value>) -> HttpResponse {
    HttpResponse::Ok().json(demo_support::optional_body(claims.as_ref()))
}

async fn admin(Claims(claims): Claims<Value>) -> HttpResponse {
    HttpResponse::Ok().json(demo_support::admin_body(&claims))
}

async fn login(tokens: Tokens, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    match tokens.get_ref() {
        Some(tokens) => render(demo_support::login(tokens, &ActixRequest::new(&req), &body).await),
        None => render(DemoReply::unavailable()),
    }
}

async fn refresh(tokens: Tokens, req: HttpRequest) -> HttpResponse {
    match tokens.get_ref() {
        Some(tokens) => render(demo_support::refresh(tokens, &ActixRequest::new(&req)).await),
        None => render(DemoReply::unavailable()),
    }
}

async fn logout(tokens: Tokens, req: HttpRequest) -> HttpResponse {
    let auth = req.extensions().get::<Authentication>().cloned();
    match (
        tokens.get_ref(),
        auth.as_ref().and_then(Authentication::token),
    ) {
        (Some(tokens), Some(token)) => {
            render(demo_support::logout(tokens, token, &ActixRequest::new(&req)).await)
        }
        _ => render(DemoReply::unavailable()),
    }
}

fn render(reply: DemoReply) -> HttpResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for cookie in reply.set_cookies {
        builder.append_header((SET_COOKIE, cookie));
    }
    match reply.body {
        Some(body) => builder.json(body),
        None => builder.finish(),
    }
}

/// `GET /`: the demo page (plain HTML and JavaScript, embedded).
async fn index() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(demo_support::INDEX_HTML)
}

async fn openapi() -> HttpResponse {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOC.get_or_init(demo_support::openapi_json).clone())
}

async fn metrics() -> HttpResponse {
    match demo_support::metrics_text() {
        Some(text) => HttpResponse::Ok()
            .content_type(demo_support::METRICS_CONTENT_TYPE)
            .body(text),
        None => HttpResponse::NotFound().finish(),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    demo_support::init_tracing();
    demo_support::init_metrics();
    let config = demo_support::config_or_exit().await;
    let auth = JwtAuth::new(config.authenticator.clone());
    let anonymous = JwtAuth::new(config.authenticator.clone().allow_anonymous());
    let authenticator = web::Data::new(config.authenticator);
    let tokens = web::Data::new(config.tokens);
    let head_timeout = config.head_timeout;
    let stepup = config.stepup.clone();
    // RFC 9728: the metadata document at its well-known paths, when
    // JWT_RESOURCE is set (no routes otherwise).
    let metadata = config
        .resource
        .as_ref()
        .map(jwt_auth_actix::resource_metadata);
    let server = HttpServer::new(move || {
        let metadata = metadata.clone();
        App::new()
            // Outside the authentication: CORS preflights are answered here,
            // without a token, on every route (README, "CORS").
            .wrap(actix_cors::Cors::permissive())
            .configure(move |config| {
                if let Some(metadata) = metadata {
                    metadata(config);
                }
            })
            .app_data(authenticator.clone())
            .app_data(tokens.clone())
            .route("/", web::get().to(index))
            .route("/health", web::get().to(health))
            .route("/metrics", web::get().to(metrics))
            .route("/openapi.json", web::get().to(openapi))
            .route("/login", web::post().to(login))
            .route("/refresh", web::post().to(refresh))
            .service(
                web::resource("/me")
                    .wrap(auth.clone())
                    .route(web::get().to(me)),
            )
            .service(
                web::resource("/logout")
                    .wrap(auth.clone())
                    .route(web::post().to(logout)),
            )
            .service(
                web::resource("/admin")
                    .wrap(Authorize::new(demo_support::admin_requirement()))
                    .wrap(auth.clone())
                    .route(web::get().to(admin)),
            )
            .service(
                web::resource("/stepup")
                    .wrap(Authorize::new(stepup.clone()))
                    .wrap(auth.clone())
                    .route(web::get().to(me)),
            )
            .service(
                web::resource("/optional")
                    .wrap(anonymous.clone())
                    .route(web::get().to(optional)),
            )
    })
    // Drop a client that has not sent its request head in time, and close
    // keep-alive connections left idle as long.
    .client_request_timeout(head_timeout)
    .keep_alive(head_timeout)
    .bind(config.addr)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", config.banner);
    }
    server.run().await
}
