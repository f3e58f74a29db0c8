//! The actix-web demo server. See `DEMO-CONTRACT.md` for its environment and routes.

use actix_web::{App, HttpResponse, HttpServer, web};
use jwt_auth_actix::{Authenticator, Claims, JwtAuth};
use serde_json::Value;

async fn health(auth: web::Data<Authenticator>) -> HttpResponse {
    HttpResponse::Ok().json(demo_support::health_body(&auth))
}

async fn me(Claims(claims): Claims<Value>) -> HttpResponse {
    HttpResponse::Ok().json(claims)
}

async fn optional(claims: Option<Claims<Value>>) -> HttpResponse {
    HttpResponse::Ok().json(demo_support::optional_body(claims.as_ref().map(|c| &c.0)))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    demo_support::init_tracing();
    let config = demo_support::config_or_exit();
    let auth = JwtAuth::from(config.authenticator);
    let authenticator = web::Data::new(auth.authenticator().clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(authenticator.clone())
            .route("/health", web::get().to(health))
            .service(
                web::resource("/me")
                    .wrap(auth.clone())
                    .route(web::get().to(me)),
            )
            .service(
                web::resource("/optional")
                    .wrap(auth.clone().allow_anonymous())
                    .route(web::get().to(optional)),
            )
    })
    .bind(config.addr)?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", config.banner);
    }
    server.run().await
}
