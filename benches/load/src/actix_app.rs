//! The actix-web 4 apps.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::{App, HttpMessage, HttpServer, web};
use actix_web_httpauth::extractors::AuthenticationError;
use actix_web_httpauth::extractors::bearer::{self, BearerAuth};
use actix_web_httpauth::headers::www_authenticate::bearer::Bearer;
use actix_web_httpauth::middleware::HttpAuthentication;

use crate::common::{self, Stack, Subject, Variant};

/// Runs `HttpServer::new($factory)` with `$workers` workers on `$addr` until
/// the process is killed (each variant's `App` is a different type).
macro_rules! run_server {
    ($variant:expr, $addr:expr, $workers:expr, $factory:expr) => {{
        let server = HttpServer::new($factory)
            .workers($workers)
            .bind($addr)?
            .run();
        eprintln!(
            "load-server: actix {} listening on {} ({} workers)",
            $variant.name(),
            $addr,
            $workers
        );
        server.await?;
        Ok(())
    }};
}

/// Serves `variant` on `addr` with `workers` actix workers, until the process
/// is killed.
pub(crate) fn serve(
    variant: Variant,
    addr: SocketAddr,
    workers: usize,
) -> Result<(), Box<dyn Error>> {
    actix_web::rt::System::new().block_on(run(variant, addr, workers))
}

/// The server of `variant`.
async fn run(variant: Variant, addr: SocketAddr, workers: usize) -> Result<(), Box<dyn Error>> {
    match variant.stack {
        Stack::None => run_server!(variant, addr, workers, || {
            App::new().route("/", web::get().to(hello_world))
        }),
        Stack::JwtAuth { cache } => {
            let mut authenticator =
                jwt_auth_actix::Authenticator::new(common::jwt_auth_key(variant.alg)?)
                    .validation(common::jwt_auth_validation());
            if !cache {
                authenticator = authenticator.cache_capacity(0);
            }
            let auth = jwt_auth_actix::JwtAuth::new(authenticator);
            run_server!(variant, addr, workers, move || {
                App::new()
                    .wrap(auth.clone())
                    .route("/", web::get().to(hello_jwt_auth))
            })
        }
        Stack::Httpauth => {
            let (key, validation) = common::jsonwebtoken_11(variant.alg)?;
            let verifier = Arc::new(Verifier { key, validation });
            run_server!(variant, addr, workers, move || {
                let verifier = Arc::clone(&verifier);
                App::new()
                    .wrap(HttpAuthentication::bearer(move |req, credentials| {
                        validate(Arc::clone(&verifier), req, credentials)
                    }))
                    .route("/", web::get().to(hello_httpauth))
            })
        }
        Stack::JwtAuthorizer | Stack::AxumJwtAuth => {
            Err(format!("{} is axum only", variant.name()).into())
        }
    }
}

/// What the actix-web-httpauth validator checks tokens with.
struct Verifier {
    /// The HS256 secret or RSA public key.
    key: jsonwebtoken::DecodingKey,
    /// One algorithm; `exp`, `sub`, `iss`, `aud` required; `iss`, `aud` checked.
    validation: jsonwebtoken::Validation,
}

/// The usual actix-web-httpauth bearer validator: `jsonwebtoken::decode`,
/// the claims into the request extensions, `401 invalid_token` on failure.
async fn validate(
    verifier: Arc<Verifier>,
    req: ServiceRequest,
    credentials: BearerAuth,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    match jsonwebtoken::decode::<Subject>(credentials.token(), &verifier.key, &verifier.validation)
    {
        Ok(token) => {
            req.extensions_mut().insert(token.claims);
            Ok(req)
        }
        Err(_) => {
            let challenge =
                AuthenticationError::new(Bearer::default()).with_error(bearer::Error::InvalidToken);
            Err((challenge.into(), req))
        }
    }
}

/// `GET /` without auth.
async fn hello_world() -> &'static str {
    "hello world"
}

/// `GET /` behind jwt-auth.
async fn hello_jwt_auth(jwt_auth_actix::Claims(claims): jwt_auth_actix::Claims<Subject>) -> String {
    format!("hello {}", claims.sub)
}

/// `GET /` behind actix-web-httpauth (the claims the validator stored).
async fn hello_httpauth(subject: web::ReqData<Subject>) -> String {
    format!("hello {}", subject.sub)
}
