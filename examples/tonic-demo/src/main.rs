//! The tonic (gRPC) demo server: the environment of `DEMO-CONTRACT.md`
//! (`DEMO_ADDR`, `JWT_SECRET`, `JWT_PUBLIC_KEY`, `JWT_ISSUER`, `JWT_AUDIENCE`,
//! ...), and gRPC status codes instead of HTTP ones.
//!
//! - `jwtauth.demo.v1.Demo/Me`: every verified claim, as a JSON object.
//! - `jwtauth.demo.v1.Demo/Admin`: requires `admin` in the `roles` claim,
//!   else `PERMISSION_DENIED`.
//! - gRPC server reflection (v1 and v1alpha), so `grpcurl` needs no .proto.
//!
//! The `JwtAuth` layer is on the whole server: every method, reflection and
//! unknown methods included, is `UNAUTHENTICATED` without a valid token.

use jwt_auth_tower::{JwtAuth, Requirement, TonicRequestExt};
use serde_json::Value;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Response, Status};
use tonic_demo::proto::demo_server::{Demo, DemoServer};
use tonic_demo::proto::{AdminRequest, JsonReply, MeRequest, file_descriptor_set};

/// The `Demo` service.
struct DemoService {
    admin: Requirement,
}

#[tonic::async_trait]
impl Demo for DemoService {
    async fn me(&self, request: Request<MeRequest>) -> Result<Response<JsonReply>, Status> {
        let claims: Value = request.claims()?;
        Ok(Response::new(JsonReply {
            json: claims.to_string(),
        }))
    }

    async fn admin(&self, request: Request<AdminRequest>) -> Result<Response<JsonReply>, Status> {
        request.authorize(&self.admin)?;
        let claims: Value = request.claims()?;
        Ok(Response::new(JsonReply {
            json: demo_support::admin_body(&claims).to_string(),
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    demo_support::init_tracing();
    let config = demo_support::config_or_exit().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_file_descriptor_set(file_descriptor_set())
    };
    let reflection_v1 = reflection().build_v1()?;
    let reflection_v1alpha = reflection().build_v1alpha()?;
    let demo = DemoServer::new(DemoService {
        admin: Requirement::any_role(["admin"]),
    });

    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    #[allow(clippy::print_stdout)]
    {
        println!("{}", tonic_demo::banner(&config.banner));
    }
    Server::builder()
        .layer(JwtAuth::new(config.authenticator))
        .add_service(demo)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await?;
    Ok(())
}
