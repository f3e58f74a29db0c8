//! The axum demo server. See `DEMO-CONTRACT.md` for its environment and routes.

use axum::body::Bytes;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use demo_support::DemoReply;
use jwt_auth_tower::{
    Authentication, Authorize, Claims, JwtAuth, OptionalClaims, Requirement, TokenService,
};
use serde_json::Value;

type Tokens = State<Option<TokenService>>;

/// Echoes every verified claim, exactly as in the token. The claims are read
/// where the middleware left them, parsed once per token and shared, and
/// serialised from there: `Claims<Value>` would rebuild the JSON tree on
/// every request only to serialise it again (BENCHMARKS.md, "Demo load").
async fn me(Extension(auth): Extension<Authentication>) -> Response {
    match auth.token() {
        // Serialised once per token, shared by every request while cached.
        Some(token) => (
            [(header::CONTENT_TYPE, "application/json")],
            token.claims_bytes(),
        )
            .into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn optional(OptionalClaims(claims): OptionalClaims<Value>) -> Json<Value> {
    Json(demo_support::optional_body(claims.as_ref()))
}

async fn admin(Claims(claims): Claims<Value>) -> Json<Value> {
    Json(demo_support::admin_body(&claims))
}

/// `GET /`: the demo page (plain HTML and JavaScript, embedded).
async fn index() -> Html<&'static str> {
    Html(demo_support::INDEX_HTML)
}

async fn openapi() -> Response {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let doc = DOC.get_or_init(demo_support::openapi_json).clone();
    ([(header::CONTENT_TYPE, "application/json")], doc).into_response()
}

async fn metrics() -> Response {
    match demo_support::metrics_text() {
        Some(text) => (
            [(header::CONTENT_TYPE, demo_support::METRICS_CONTENT_TYPE)],
            text,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn login(State(tokens): Tokens, headers: HeaderMap, body: Bytes) -> Response {
    match &tokens {
        Some(tokens) => render(demo_support::login(tokens, &headers, &body).await),
        None => render(DemoReply::unavailable()),
    }
}

async fn refresh(State(tokens): Tokens, headers: HeaderMap) -> Response {
    match &tokens {
        Some(tokens) => render(demo_support::refresh(tokens, &headers).await),
        None => render(DemoReply::unavailable()),
    }
}

async fn logout(
    State(tokens): Tokens,
    Extension(auth): Extension<Authentication>,
    headers: HeaderMap,
) -> Response {
    match (&tokens, auth.token()) {
        (Some(tokens), Some(token)) => render(demo_support::logout(tokens, token, &headers).await),
        _ => render(DemoReply::unavailable()),
    }
}

fn render(reply: DemoReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => (status, Json(body)).into_response(),
        None => status.into_response(),
    };
    for cookie in reply.set_cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The demo's routes, authenticated by `auth`; `/stepup` requires `stepup`.
fn app(auth: JwtAuth, tokens: Option<TokenService>, stepup: Requirement) -> Router {
    let authenticator = auth.authenticator().clone();
    let anonymous = JwtAuth::new(authenticator.clone().allow_anonymous());
    // RFC 9728: the metadata document at its well-known paths, when
    // JWT_RESOURCE is set (no routes otherwise).
    let metadata = authenticator
        .resource()
        .map(jwt_auth_tower::resource_metadata)
        .unwrap_or_default();
    Router::new()
        .merge(metadata)
        .route("/", get(index))
        .route(
            "/health",
            get(move || async move { Json(demo_support::health_body(&authenticator)) }),
        )
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .route("/login", post(login))
        .route("/refresh", post(refresh))
        .merge(
            Router::new()
                .route("/me", get(me))
                .route("/logout", post(logout))
                .route_layer(auth.clone()),
        )
        .merge(
            Router::new()
                .route("/admin", get(admin))
                .route_layer(Authorize::new(demo_support::admin_requirement()))
                .route_layer(auth.clone()),
        )
        .merge(
            Router::new()
                .route("/stepup", get(me))
                .route_layer(Authorize::new(stepup))
                .route_layer(auth.clone()),
        )
        .merge(
            Router::new()
                .route("/optional", get(optional))
                .route_layer(anonymous),
        )
        .with_state(tokens)
        // Outside the authentication: CORS preflights are answered here,
        // without a token, on every route (README, "CORS").
        .layer(tower_http::cors::CorsLayer::permissive())
}

/// Serves `app` over HTTP/1.1 like `axum::serve`, but drops a client that has
/// not sent a whole request head within `head_timeout`, and closes keep-alive
/// connections left idle that long. `axum::serve` has no such timeout, so
/// 150 half-sent requests would hold 150 connections forever; hyper applies
/// `header_read_timeout` (to the first request and between requests) only
/// when a timer is set.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    head_timeout: std::time::Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            // Out of file descriptors, say: back off instead of spinning.
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let connection = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()))
            .with_upgrades();
        tokio::spawn(connection);
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    demo_support::init_tracing();
    demo_support::init_metrics();
    let config = demo_support::config_or_exit().await;
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", config.banner);
    }
    let app = app(
        JwtAuth::new(config.authenticator),
        config.tokens,
        config.stepup,
    );
    serve(listener, app, config.head_timeout).await
}
