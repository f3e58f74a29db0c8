//! An MCP server (the `rmcp` SDK, streamable HTTP) on axum behind `JwtAuth`.
//! See `DEMO-CONTRACT.md` ("Protected resource metadata (RFC 9728) and MCP")
//! for its environment and routes:
//!
//! - `POST /mcp`: MCP, for a token whose `aud` is this resource
//!   (`JWT_RESOURCE`, default `http://<DEMO_ADDR>/mcp`) and whose scope holds
//!   `mcp`. Without a valid token the answer is 401 with
//!   `resource_metadata="…"`, which tells an MCP client where to read
//!   which authorization server issues tokens for this resource; with a
//!   token lacking the scope, 403 `insufficient_scope`, `scope="mcp"`.
//! - `GET /.well-known/oauth-protected-resource/mcp`: that metadata, no token.
//! - `GET /health`.
//!
//! The tool `whoami` answers the token's `sub` and `scope`.

use axum::http::Uri;
use axum::http::request::Parts;
use axum::routing::get;
use axum::{Json, Router};
use jwt_auth_tower::{Authentication, Authorize, JwtAuth, ProtectedResource, Requirement};
use rmcp::ErrorData;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The verified token's claims as a `T`, for a tool parameter: the MCP
/// counterpart of the axum extractor `jwt_auth_tower::Claims<T>`.
///
/// rmcp hands every request's `http::request::Parts` to the tool, and
/// `JwtAuth` left the `Authentication` in their extensions.
struct TokenClaims<T>(T);

impl<C: AsRequestContext, T: DeserializeOwned> FromContextPart<C> for TokenClaims<T> {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        let token = context
            .as_request_context()
            .extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<Authentication>())
            .and_then(Authentication::token)
            .ok_or_else(|| ErrorData::internal_error("no verified token", None))?;
        token
            .claims()
            .map(TokenClaims)
            .map_err(|e| ErrorData::invalid_request(e.to_string(), None))
    }
}

/// What `whoami` reads from the token.
#[derive(Deserialize)]
struct Caller {
    sub: String,
    /// Space-separated scopes (RFC 9068 §2.2.3).
    scope: Option<String>,
}

/// The MCP server: its tools.
#[derive(Clone, Copy, Debug, Default)]
struct Tools;

#[tool_router]
impl Tools {
    /// The caller: the access token's `sub` and `scope`, as JSON text.
    #[tool(description = "Who is calling: the access token's sub and scope, as JSON")]
    fn whoami(&self, TokenClaims(caller): TokenClaims<Caller>) -> String {
        serde_json::json!({"sub": caller.sub, "scope": caller.scope}).to_string()
    }
}

#[tool_handler(name = "mcp-demo")]
impl ServerHandler for Tools {}

/// The `Host` rmcp accepts: the resource URL's `host[:port]`. rmcp checks
/// `Host` against DNS rebinding and by default accepts loopback names only;
/// this keeps the check on wherever the resource is served.
fn allowed_host(resource: &ProtectedResource) -> Result<String, String> {
    let uri: Uri = resource
        .resource()
        .parse()
        .map_err(|e| format!("JWT_RESOURCE: {e}"))?;
    let authority = uri
        .authority()
        .ok_or_else(|| "JWT_RESOURCE has no host".to_owned())?;
    Ok(match authority.port_u16() {
        Some(port) => format!("{}:{port}", authority.host()),
        None => authority.host().to_owned(),
    })
}

/// The demo's routes: MCP at `/mcp` behind `auth` and the scope `mcp`, the
/// resource metadata and `/health` without a token.
fn app(auth: JwtAuth, resource: &ProtectedResource) -> Result<Router, String> {
    // Stateless: each request is authenticated and authorized on its own,
    // and there is no session that another token's requests could join.
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts([allowed_host(resource)?]);
    let mcp =
        StreamableHttpService::new(|| Ok(Tools), NeverSessionManager::default().into(), config);
    let authenticator = auth.authenticator().clone();
    Ok(Router::new()
        .route(
            "/health",
            get(move || async move { Json(demo_support::health_body(&authenticator)) }),
        )
        .merge(jwt_auth_tower::resource_metadata(resource))
        .merge(
            Router::new()
                .route_service("/mcp", mcp)
                .route_layer(Authorize::new(Requirement::any_scope(["mcp"])))
                .route_layer(auth),
        ))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    demo_support::init_tracing();
    let config = demo_support::mcp_config_or_exit().await;
    // `mcp_config_or_exit` always sets a resource: JWT_RESOURCE or its default.
    let app = match &config.resource {
        Some(resource) => app(JwtAuth::new(config.authenticator.clone()), resource),
        None => Err("JWT_RESOURCE is not set".to_owned()),
    };
    let app = match app {
        Ok(app) => app,
        Err(message) => {
            eprintln!("jwt-auth demo: {message}");
            std::process::exit(2);
        }
    };
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", config.banner);
    }
    axum::serve(listener, app).await
}
