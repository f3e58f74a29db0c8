//! A JWKS (and OpenID discovery) server on 127.0.0.1 whose answers a test
//! controls: the keys, failures, hangs, and held ("gated") responses. It
//! counts every request, so tests can assert how many fetches happened.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::watch;

/// How the server answers `/jwks.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `{"keys": [...]}` with the current keys.
    Ok,
    /// HTTP 500.
    Status500,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Accepts the request and never answers.
    Hang,
    /// Answers only once the test calls `release`.
    Gate,
}

struct ServerState {
    keys: Mutex<Vec<Value>>,
    mode: Mutex<Mode>,
    /// Every request received, including ones that hang.
    received: AtomicUsize,
    received_tx: watch::Sender<usize>,
    /// Whether gated answers may go (reset when the mode is set).
    released: watch::Sender<bool>,
    /// Sent as `Cache-Control` with the keys, when set.
    cache_control: Mutex<Option<String>>,
    /// Served at `/.well-known/openid-configuration` when set.
    discovery: Mutex<Option<Value>>,
    /// When set, `/jwks.json` answers this status with this `Location`.
    redirect: Mutex<Option<(u16, String)>>,
}

/// A JWKS (and discovery) server on 127.0.0.1 whose answers the test sets.
pub struct JwksServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    state: Arc<ServerState>,
    received_rx: watch::Receiver<usize>,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> Self {
        let (received_tx, received_rx) = watch::channel(0);
        let state = Arc::new(ServerState {
            keys: Mutex::new(keys),
            mode: Mutex::new(Mode::Ok),
            received: AtomicUsize::new(0),
            received_tx,
            released: watch::Sender::new(false),
            discovery: Mutex::new(None),
            cache_control: Mutex::new(None),
            redirect: Mutex::new(None),
        });
        let app = Router::new()
            .route("/jwks.json", get(jwks))
            .route("/hop/{n}", get(hop))
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/.well-known/oauth-authorization-server", get(discovery))
            .route(
                "/.well-known/oauth-authorization-server/{*issuer}",
                get(discovery),
            )
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
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
            received_rx,
            shutdown,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn url(&self) -> String {
        format!("{}/jwks.json", self.base)
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.state.keys.lock().unwrap() = keys;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.released.send_replace(false);
        *self.state.mode.lock().unwrap() = mode;
    }

    pub fn received(&self) -> usize {
        self.state.received.load(Ordering::SeqCst)
    }

    /// Waits until the server has received `n` requests in all.
    pub async fn wait_received(&self, n: usize) {
        let mut rx = self.received_rx.clone();
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|&r| r >= n))
            .await
            .expect("the JWKS server was never asked")
            .unwrap();
    }

    /// Stops listening and closes idle connections; returns once the port
    /// is closed. Later fetches find nothing there.
    pub async fn stop(&self) {
        self.shutdown.send_replace(true);
        let task = self.state_task();
        if let Some(task) = task {
            task.await.unwrap();
        }
    }

    fn state_task(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.task.lock().unwrap().take()
    }

    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Sends this `Cache-Control` value with the keys.
    pub fn set_cache_control(&self, value: &str) {
        *self.state.cache_control.lock().unwrap() = Some(value.to_owned());
    }

    /// Makes `/jwks.json` answer `status` with `Location: location` (a
    /// redirect), or serve the keys again (`None`). `/hop/N` always
    /// redirects to `/hop/N-1`, and `/hop/0` to `/jwks.json`: a chain of N+1
    /// redirects.
    pub fn set_redirect(&self, redirect: Option<(u16, &str)>) {
        *self.state.redirect.lock().unwrap() = redirect.map(|(s, l)| (s, l.to_owned()));
    }

    /// Serves `doc` at `/.well-known/openid-configuration` and at
    /// `/.well-known/oauth-authorization-server[/<path>]` (RFC 8414).
    pub fn set_discovery(&self, doc: Value) {
        *self.state.discovery.lock().unwrap() = Some(doc);
    }
}

fn count(state: &ServerState) {
    let n = state.received.fetch_add(1, Ordering::SeqCst) + 1;
    state.received_tx.send_replace(n);
}

fn redirect_to(status: u16, location: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap();
    (status, [(http::header::LOCATION, location.to_owned())]).into_response()
}

async fn hop(
    State(state): State<Arc<ServerState>>,
    axum::extract::Path(n): axum::extract::Path<u32>,
) -> Response {
    count(&state);
    match n {
        0 => redirect_to(302, "/jwks.json"),
        n => redirect_to(307, &format!("/hop/{}", n - 1)),
    }
}

async fn jwks(State(state): State<Arc<ServerState>>) -> Response {
    count(&state);
    if let Some((status, location)) = state.redirect.lock().unwrap().clone() {
        return redirect_to(status, &location);
    }
    let mode = *state.mode.lock().unwrap();
    match mode {
        Mode::Ok => {}
        Mode::Status500 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Mode::Garbage => return "<html>this is not JSON".into_response(),
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Gate => {
            let mut released = state.released.subscribe();
            let _ = released.wait_for(|&r| r).await;
        }
    }
    let keys = state.keys.lock().unwrap().clone();
    let mut response = axum::Json(json!({ "keys": keys })).into_response();
    if let Some(value) = state.cache_control.lock().unwrap().clone() {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, value.parse().unwrap());
    }
    response
}

async fn discovery(State(state): State<Arc<ServerState>>) -> Response {
    match state.discovery.lock().unwrap().clone() {
        Some(doc) => axum::Json(doc).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
