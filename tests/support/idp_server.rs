//! A multi-tenant identity server on 127.0.0.1 whose answers a test
//! controls: per-tenant discovery documents and key sets (tenants may share a
//! `jwks_uri`, name another issuer, or answer with a status), and an RFC 7662
//! introspection endpoint. It counts every request by path, so tests can
//! assert what was fetched and that nothing was.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::watch;

/// One tenant as the server describes it.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// The JWK Set served at `/{tenant}/jwks`.
    pub keys: Vec<Value>,
    /// The `issuer` of its discovery document; `None`: its own URL.
    pub issuer: Option<String>,
    /// The `jwks_uri`; `None`: its own `/{tenant}/jwks`.
    pub jwks_uri: Option<String>,
    /// A status instead of the discovery document.
    pub status: Option<u16>,
}

impl Tenant {
    pub fn new(keys: Vec<Value>) -> Self {
        Self {
            keys,
            issuer: None,
            jwks_uri: None,
            status: None,
        }
    }
}

/// How the introspection endpoint answers.
#[derive(Clone, Debug)]
pub enum Introspect {
    /// The answer for each token; `{"active": false}` for others.
    Answers(HashMap<String, Value>),
    /// This status, no body.
    Status(u16),
    /// 200 with a body that is not JSON.
    Garbage,
}

struct ServerState {
    tenants: Mutex<HashMap<String, Tenant>>,
    introspect: Mutex<Introspect>,
    /// The `Authorization` value the introspection endpoint requires.
    basic: Mutex<Option<String>>,
    counts: Mutex<HashMap<String, usize>>,
    base: Mutex<String>,
    /// The form of the last introspection request.
    last_form: Mutex<HashMap<String, String>>,
}

pub struct IdpServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<ServerState>,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl IdpServer {
    pub async fn start() -> Self {
        let state = Arc::new(ServerState {
            tenants: Mutex::new(HashMap::new()),
            introspect: Mutex::new(Introspect::Answers(HashMap::new())),
            basic: Mutex::new(None),
            counts: Mutex::new(HashMap::new()),
            base: Mutex::new(String::new()),
            last_form: Mutex::new(HashMap::new()),
        });
        let app = Router::new()
            .route("/{tenant}/.well-known/openid-configuration", get(discovery))
            .route("/{tenant}/jwks", get(jwks))
            .route("/shared/jwks", get(shared_jwks))
            .route("/introspect", post(introspect))
            .fallback(|| async { StatusCode::NOT_FOUND })
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        state.base.lock().unwrap().clone_from(&base);
        let shutdown = watch::Sender::new(false);
        let mut stopped = shutdown.subscribe();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|&s| s).await;
                })
                .await;
        });
        Self {
            base,
            state,
            shutdown,
            task: Mutex::new(Some(task)),
        }
    }

    /// The issuer of `tenant`.
    pub fn issuer(&self, tenant: &str) -> String {
        format!("{}/{tenant}", self.base)
    }

    pub fn set_tenant(&self, name: &str, tenant: Tenant) {
        self.state
            .tenants
            .lock()
            .unwrap()
            .insert(name.to_owned(), tenant);
    }

    pub fn set_introspect(&self, answers: Introspect) {
        *self.state.introspect.lock().unwrap() = answers;
    }

    /// Requires this exact `Authorization` value at `/introspect`.
    pub fn require_basic(&self, value: &str) {
        *self.state.basic.lock().unwrap() = Some(value.to_owned());
    }

    /// The form of the last introspection request.
    pub fn last_form(&self) -> HashMap<String, String> {
        self.state.last_form.lock().unwrap().clone()
    }

    /// Requests served at `path` so far.
    pub fn count(&self, path: &str) -> usize {
        self.state
            .counts
            .lock()
            .unwrap()
            .get(path)
            .copied()
            .unwrap_or(0)
    }

    /// Requests served so far, at any path.
    pub fn total(&self) -> usize {
        self.state.counts.lock().unwrap().values().sum()
    }

    /// Stops listening and closes idle connections; returns once the port
    /// is closed.
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            task.await.unwrap();
        }
    }
}

fn counted(state: &ServerState, path: String) {
    *state.counts.lock().unwrap().entry(path).or_default() += 1;
}

async fn discovery(State(state): State<Arc<ServerState>>, Path(name): Path<String>) -> Response {
    counted(&state, format!("/{name}/.well-known/openid-configuration"));
    let Some(tenant) = state.tenants.lock().unwrap().get(&name).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(status) = tenant.status {
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    let base = state.base.lock().unwrap().clone();
    axum::Json(json!({
        "issuer": tenant.issuer.unwrap_or_else(|| format!("{base}/{name}")),
        "jwks_uri": tenant.jwks_uri.unwrap_or_else(|| format!("{base}/{name}/jwks")),
    }))
    .into_response()
}

async fn jwks(State(state): State<Arc<ServerState>>, Path(name): Path<String>) -> Response {
    counted(&state, format!("/{name}/jwks"));
    match state.tenants.lock().unwrap().get(&name) {
        Some(tenant) => axum::Json(json!({ "keys": tenant.keys })).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The keys of the tenant named `shared`, for tenants whose documents point
/// to `/shared/jwks`.
async fn shared_jwks(State(state): State<Arc<ServerState>>) -> Response {
    counted(&state, "/shared/jwks".into());
    match state.tenants.lock().unwrap().get("shared") {
        Some(tenant) => axum::Json(json!({ "keys": tenant.keys })).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn introspect(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    counted(&state, "/introspect".into());
    if let Some(required) = state.basic.lock().unwrap().clone() {
        let sent = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if sent != required {
            return StatusCode::UNAUTHORIZED.into_response();
        }
    }
    let form: HashMap<String, String> = url_form(&body);
    state.last_form.lock().unwrap().clone_from(&form);
    let token = form.get("token").cloned().unwrap_or_default();
    match state.introspect.lock().unwrap().clone() {
        Introspect::Answers(answers) => axum::Json(
            answers
                .get(&token)
                .cloned()
                .unwrap_or(json!({"active": false})),
        )
        .into_response(),
        Introspect::Status(status) => StatusCode::from_u16(status).unwrap().into_response(),
        Introspect::Garbage => "not json".into_response(),
    }
}

fn url_form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}
