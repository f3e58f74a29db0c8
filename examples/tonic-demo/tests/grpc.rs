//! The `tonic-demo` binary against a real tonic client over 127.0.0.1:
//! gRPC status codes (trailers-only, never an HTTP 401), the claims back
//! with a valid token, `PERMISSION_DENIED` for `Admin` without the role,
//! unknown methods and reflection behind the same layer.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body::Body as _;
use jwt_auth_tower::Key;
use serde_json::{Value, json};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};
use tonic_demo::proto::demo_client::DemoClient;
use tonic_demo::proto::{AdminRequest, JsonReply, MeRequest};
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};
use tower::ServiceExt as _;

const SECRET: &str = "tonic-demo-test-secret-0123456789abcdef";
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "grpc-demo";

/// The demo's environment, cleared first so the caller's shell cannot leak in.
const DEMO_ENV: &[&str] = &[
    "DEMO_ADDR",
    "JWT_SECRET",
    "JWT_PUBLIC_KEY",
    "JWT_PRIVATE_KEY",
    "JWT_JWKS_URL",
    "JWT_OIDC_ISSUER",
    "JWT_JWKS_MIN_REFRESH",
    "JWT_ALGORITHMS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "JWT_LEEWAY",
    "JWT_COOKIE",
    "JWT_REDIS_URL",
    "JWT_ACCESS_TTL",
    "JWT_REFRESH_TTL",
];

/// A running `tonic-demo`, killed on drop.
struct Demo {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<String>>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts the binary on a free port with `env`, and connects once it
    /// accepts connections (retrying, up to 60 s).
    async fn start(env: &[(&str, &str)]) -> (Self, Channel) {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut command = Command::new(env!("CARGO_BIN_EXE_tonic-demo"));
        for name in DEMO_ENV {
            command.env_remove(name);
        }
        command
            .env("DEMO_ADDR", addr.to_string())
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("tonic-demo starts");
        let stdout = Arc::new(Mutex::new(String::new()));
        if let Some(pipe) = child.stdout.take() {
            let sink = Arc::clone(&stdout);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut text) = sink.lock() {
                        text.push_str(&line);
                        text.push('\n');
                    }
                }
            });
        }
        let mut demo = Demo {
            child,
            addr,
            stdout,
        };
        let endpoint = Endpoint::from_shared(format!("http://{addr}")).expect("an endpoint");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(channel) = endpoint.connect().await {
                return (demo, channel);
            }
            if let Ok(Some(status)) = demo.child.try_wait() {
                panic!("tonic-demo exited early ({status}): {}", demo.output());
            }
            assert!(
                Instant::now() < deadline,
                "tonic-demo never accepted a connection"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// What the demo printed so far.
    fn output(&self) -> String {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Waits (up to 10 s) for the banner's `grpcurl` line and returns the
    /// whole output.
    async fn banner(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let output = self.output();
            if output.contains("grpcurl ") || Instant::now() > deadline {
                return output;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn sign(claims: &Value) -> String {
    Key::hmac(SECRET.as_bytes())
        .expect("a long secret")
        .encode(claims)
        .expect("signed")
}

fn with_token<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ASCII"),
    );
    request
}

fn refused<T: std::fmt::Debug>(result: Result<T, Status>) -> Status {
    match result {
        Ok(ok) => panic!("expected a refusal, got {ok:?}"),
        Err(status) => status,
    }
}

/// A refusal sent by the layer as gRPC trailers-only, not inferred by tonic
/// from an HTTP error status.
fn assert_layer_status(status: &Status, code: Code, message: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), message, "{status:?}");
    assert_eq!(
        status
            .metadata()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/grpc"),
        "{status:?}"
    );
}

/// Calls any method path with the prost codec (the stubs only know `Me` and
/// `Admin`).
async fn call_path(channel: &Channel, path: &'static str, request: Request<MeRequest>) -> Status {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let result: Result<tonic::Response<JsonReply>, Status> = grpc
        .unary(
            request,
            PathAndQuery::from_static(path),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    refused(result)
}

async fn reflect(
    channel: &Channel,
    token: Option<&str>,
    message: MessageRequest,
) -> Result<ServerReflectionResponse, Status> {
    let outbound = tokio_stream::iter([ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    }]);
    let request = match token {
        Some(token) => with_token(outbound, token),
        None => Request::new(outbound),
    };
    let mut client = ServerReflectionClient::new(channel.clone());
    let mut inbound = client.server_reflection_info(request).await?.into_inner();
    inbound
        .message()
        .await?
        .ok_or_else(|| Status::internal("no reflection answer"))
}

#[tokio::test]
async fn tonic_client_against_tonic_demo() {
    let (demo, channel) = Demo::start(&[
        ("JWT_SECRET", SECRET),
        ("JWT_ISSUER", ISSUER),
        ("JWT_AUDIENCE", AUDIENCE),
    ])
    .await;
    let mut client = DemoClient::new(channel.clone());
    let now = now();
    let user_claims = json!({
        "sub": "bob",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 600,
        "roles": ["user"],
        "tenant": {"id": 42, "tags": ["a", "b"]},
    });
    let user = sign(&user_claims);
    let admin = sign(&json!({
        "sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 600, "roles": ["admin", "user"],
    }));

    // No token: UNAUTHENTICATED, from the layer.
    let status = refused(client.me(MeRequest {}).await);
    assert_layer_status(&status, Code::Unauthenticated, "a bearer token is required");
    assert_eq!(
        status
            .metadata()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    // Bad tokens: UNAUTHENTICATED.
    let status = refused(client.me(with_token(MeRequest {}, "not.a.token")).await);
    assert_layer_status(&status, Code::Unauthenticated, "the token is malformed");
    let forged = Key::hmac(b"another-secret-0123456789abcdef-xyz".as_slice())
        .expect("a long secret")
        .encode(&user_claims)
        .expect("signed");
    let status = refused(client.me(with_token(MeRequest {}, &forged)).await);
    assert_layer_status(
        &status,
        Code::Unauthenticated,
        "the token signature is invalid",
    );
    let expired = sign(&json!({"sub": "bob", "iss": ISSUER, "aud": AUDIENCE, "exp": now - 3600}));
    let status = refused(client.me(with_token(MeRequest {}, &expired)).await);
    assert_layer_status(&status, Code::Unauthenticated, "the token has expired");
    // JWT_AUDIENCE is applied, as in the HTTP demos.
    let other_audience =
        sign(&json!({"sub": "bob", "iss": ISSUER, "aud": "someone-else", "exp": now + 600}));
    let status = refused(client.me(with_token(MeRequest {}, &other_audience)).await);
    assert_layer_status(
        &status,
        Code::Unauthenticated,
        "the token audience is not accepted",
    );

    // A valid token: the claims back, exactly.
    let reply = client
        .me(with_token(MeRequest {}, &user))
        .await
        .expect("Me with a valid token")
        .into_inner();
    let claims: Value = serde_json::from_str(&reply.json).expect("JSON claims");
    assert_eq!(claims, user_claims);

    // Admin: PERMISSION_DENIED without the role, the admin body with it.
    let status = refused(client.admin(with_token(AdminRequest {}, &user)).await);
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        status.message(),
        "the token lacks the required role or scope"
    );
    let status = refused(client.admin(AdminRequest {}).await);
    assert_layer_status(&status, Code::Unauthenticated, "a bearer token is required");
    let reply = client
        .admin(with_token(AdminRequest {}, &admin))
        .await
        .expect("Admin with the admin role")
        .into_inner();
    let body: Value = serde_json::from_str(&reply.json).expect("JSON");
    assert_eq!(body, json!({"admin": true, "sub": "alice"}));

    // Unknown methods and services: the layer answers first.
    for path in ["/jwtauth.demo.v1.Demo/Nope", "/other.v1.Service/Call"] {
        let status = call_path(&channel, path, Request::new(MeRequest {})).await;
        assert_layer_status(&status, Code::Unauthenticated, "a bearer token is required");
        let status = call_path(&channel, path, with_token(MeRequest {}, &user)).await;
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
    }

    // Reflection, behind the same layer.
    let list = MessageRequest::ListServices(String::new());
    let status = refused(reflect(&channel, None, list.clone()).await);
    assert_layer_status(&status, Code::Unauthenticated, "a bearer token is required");
    let answer = reflect(&channel, Some(&user), list)
        .await
        .expect("reflection with a token");
    let Some(MessageResponse::ListServicesResponse(services)) = answer.message_response else {
        panic!("not a service list: {answer:?}");
    };
    let names: Vec<&str> = services.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"jwtauth.demo.v1.Demo"), "{names:?}");
    let answer = reflect(
        &channel,
        Some(&user),
        MessageRequest::FileContainingSymbol("jwtauth.demo.v1.Demo".into()),
    )
    .await
    .expect("the service's file");
    let Some(MessageResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!("not a file: {answer:?}");
    };
    let file = <prost_types::FileDescriptorProto as prost::Message>::decode(
        files.file_descriptor_proto[0].as_slice(),
    )
    .expect("a file descriptor");
    let methods: Vec<&str> = file.service[0].method.iter().map(|m| m.name()).collect();
    assert_eq!(methods, ["Me", "Admin"]);

    // On the wire: HTTP 200 trailers-only for gRPC, the RFC 6750 401 for
    // plain HTTP, from the same server.
    let request = http::Request::post("/jwtauth.demo.v1.Demo/Me")
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(tonic::body::Body::empty())
        .expect("a request");
    let response = channel.clone().oneshot(request).await.expect("a response");
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("application/grpc"));
    assert_eq!(header("grpc-status").as_deref(), Some("16"));
    assert_eq!(
        header("grpc-message").as_deref(),
        Some("a bearer token is required")
    );
    assert!(response.body().is_end_stream(), "trailers-only: no body");

    let request = http::Request::get("/jwtauth.demo.v1.Demo/Me")
        .body(tonic::body::Body::empty())
        .expect("a request");
    let response = channel.clone().oneshot(request).await.expect("a response");
    assert_eq!(response.status(), 401);
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert!(response.headers().get("grpc-status").is_none());

    // The banner, as the HTTP demos print it, speaks gRPC; the secret given
    // in the environment is not printed.
    let banner = demo.banner().await;
    assert!(
        banner.contains(&format!("gRPC demo (tonic) listening on {}", demo.addr)),
        "{banner}"
    );
    assert!(banner.contains("grpcurl -plaintext"), "{banner}");
    assert!(!banner.contains(SECRET), "{banner}");
}

/// With no configuration the demo generates a secret and prints a sample
/// token and a `grpcurl` line: that token works, none does not.
#[tokio::test]
async fn zero_configuration_sample_token_works() {
    let (demo, channel) = Demo::start(&[]).await;
    let banner = demo.banner().await;
    let token = banner
        .lines()
        .find_map(|line| line.strip_prefix("grpcurl -plaintext -H 'authorization: Bearer "))
        .and_then(|rest| rest.split_once('\''))
        .map(|(token, _)| token.to_owned())
        .unwrap_or_else(|| panic!("no grpcurl line in {banner}"));
    assert!(
        banner.contains(&format!("{} jwtauth.demo.v1.Demo/Me", demo.addr)),
        "{banner}"
    );

    let mut client = DemoClient::new(channel);
    let status = refused(client.me(MeRequest {}).await);
    assert_layer_status(&status, Code::Unauthenticated, "a bearer token is required");
    let reply = client
        .me(with_token(MeRequest {}, &token))
        .await
        .expect("the sample token works")
        .into_inner();
    let claims: Value = serde_json::from_str(&reply.json).expect("JSON claims");
    assert_eq!(claims["sub"], "demo-user");
    assert_eq!(claims["roles"], json!(["user"]));
}
