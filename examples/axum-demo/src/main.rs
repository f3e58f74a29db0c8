//! The axum demo server. See `DEMO-CONTRACT.md` for its environment and routes.

use axum::routing::get;
use axum::{Json, Router};
use jwt_auth_tower::{Claims, JwtAuth};
use serde_json::Value;

async fn me(Claims(claims): Claims<Value>) -> Json<Value> {
    Json(claims)
}

async fn optional(claims: Option<Claims<Value>>) -> Json<Value> {
    Json(demo_support::optional_body(claims.as_ref().map(|c| &c.0)))
}

/// The demo's routes, authenticated by `auth`.
fn app(auth: JwtAuth) -> Router {
    let authenticator = auth.authenticator().clone();
    Router::new()
        .route(
            "/health",
            get(move || async move { Json(demo_support::health_body(&authenticator)) }),
        )
        .merge(
            Router::new()
                .route("/me", get(me))
                .route_layer(auth.clone()),
        )
        .merge(
            Router::new()
                .route("/optional", get(optional))
                .route_layer(auth.allow_anonymous()),
        )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    demo_support::init_tracing();
    let config = demo_support::config_or_exit();
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", config.banner);
    }
    axum::serve(listener, app(JwtAuth::from(config.authenticator))).await
}
