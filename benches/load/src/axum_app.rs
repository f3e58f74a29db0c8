//! The axum 0.8 apps.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Router};
use jwt_authorizer::IntoLayer;
use tower::ServiceBuilder;

use crate::common::{self, Alg, Stack, Subject, Variant};

/// Serves `variant` on `addr` with a multi-thread Tokio runtime of `workers`
/// worker threads, until the process is killed.
pub(crate) fn serve(
    variant: Variant,
    addr: SocketAddr,
    workers: usize,
) -> Result<(), Box<dyn Error>> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let app = router(variant).await?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        eprintln!(
            "load-server: axum {} listening on {addr} ({workers} workers)",
            variant.name()
        );
        axum::serve(listener, app).await?;
        Ok(())
    })
}

/// The app of `variant`: `GET /` behind its authentication.
async fn router(variant: Variant) -> Result<Router, Box<dyn Error>> {
    Ok(match variant.stack {
        Stack::None => Router::new().route("/", get(hello_world)),
        Stack::JwtAuth { cache } => {
            let mut authenticator =
                jwt_auth_tower::Authenticator::new(common::jwt_auth_key(variant.alg)?)
                    .validation(common::jwt_auth_validation());
            if !cache {
                authenticator = authenticator.cache_capacity(0);
            }
            let auth = jwt_auth_tower::JwtAuth::new(authenticator);
            Router::new().route("/", get(hello_jwt_auth)).layer(auth)
        }
        Stack::JwtAuthorizer => {
            let layer = jwt_authorizer(variant.alg).await?;
            // jwt-authorizer 0.15 is written for axum 0.7: its service needs
            // `Response<axum_core 0.4 Body>: From<AuthError>`. Convert the
            // bodies on the way into and out of it.
            Router::new().route("/", get(hello_jwt_authorizer)).layer(
                ServiceBuilder::new()
                    .map_response(to_axum_08)
                    .layer(layer)
                    .map_response(to_axum_07),
            )
        }
        Stack::AxumJwtAuth => {
            let (key, validation) = common::jsonwebtoken_10(variant.alg)?;
            let decoder: axum_jwt_auth::Decoder<Subject> = Arc::new(
                axum_jwt_auth::LocalDecoder::builder()
                    .keys(vec![key])
                    .validation(validation)
                    .build()?,
            );
            Router::new()
                .route("/", get(hello_axum_jwt_auth))
                .with_state(decoder)
        }
        Stack::Httpauth => return Err("actix-web-httpauth is actix only".into()),
    })
}

/// The `jwt-authorizer` layer: one algorithm, `iss` and `aud` checked, `exp`
/// required, `nbf` checked when present. It has no switch to require
/// `iss`/`aud`: `jsonwebtoken` only compares them when the token has them,
/// so a token without `iss` and `aud` gets through.
async fn jwt_authorizer(
    alg: Alg,
) -> Result<jwt_authorizer::layer::AuthorizationLayer<Subject>, Box<dyn Error>> {
    let (builder, algorithm) = match alg {
        Alg::Hs256 => (
            jwt_authorizer::JwtAuthorizer::<Subject>::from_secret(common::HMAC_SECRET),
            jsonwebtoken_9::Algorithm::HS256,
        ),
        Alg::Rs256 => {
            let pem = String::from_utf8(common::rsa_public_pem()?)?;
            (
                jwt_authorizer::JwtAuthorizer::<Subject>::from_rsa_pem_text(&pem),
                jsonwebtoken_9::Algorithm::RS256,
            )
        }
    };
    let validation = jwt_authorizer::Validation::new()
        .iss(&[common::ISSUER])
        .aud(&[common::AUDIENCE])
        .nbf(true)
        .algs(vec![algorithm]);
    let authorizer = builder.validation(validation).build().await?;
    Ok(authorizer.into_layer())
}

/// An axum 0.8 response as the axum 0.7 response `jwt-authorizer` expects.
fn to_axum_07(response: axum::response::Response) -> http::Response<axum_core_04::body::Body> {
    response.map(axum_core_04::body::Body::new)
}

/// A response from `jwt-authorizer` (axum 0.7 body) as an axum 0.8 response.
fn to_axum_08(response: http::Response<axum_core_04::body::Body>) -> axum::response::Response {
    response.map(axum::body::Body::new)
}

/// `GET /` without auth.
async fn hello_world() -> &'static str {
    "hello world"
}

/// `GET /` behind jwt-auth.
async fn hello_jwt_auth(jwt_auth_tower::Claims(claims): jwt_auth_tower::Claims<Subject>) -> String {
    format!("hello {}", claims.sub)
}

/// `GET /` behind `jwt-authorizer` (its `JwtClaims` extractor is an axum 0.7
/// `FromRequestParts`, so read the `TokenData` it puts in the extensions).
async fn hello_jwt_authorizer(
    Extension(token): Extension<jsonwebtoken_9::TokenData<Subject>>,
) -> String {
    format!("hello {}", token.claims.sub)
}

/// `GET /` behind `axum-jwt-auth`.
async fn hello_axum_jwt_auth(claims: axum_jwt_auth::Claims<Subject>) -> String {
    format!("hello {}", claims.claims.sub)
}
