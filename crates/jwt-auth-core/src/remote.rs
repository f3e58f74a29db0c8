//! Remote key sets: a JWKS URL, or an issuer found through OpenID Connect
//! discovery, kept fresh by a background task.
//!
//! ```no_run
//! use std::time::Duration;
//! use jwt_auth_core::{Authenticator, RemoteJwks};
//!
//! # async fn run() -> Result<(), jwt_auth_core::RemoteError> {
//! // Inside a Tokio runtime (`#[tokio::main]`, `#[actix_web::main]`).
//! let keys = RemoteJwks::discover("https://login.example.com/realms/api")
//!     .unknown_kid_cooldown(Duration::from_secs(30))
//!     .build()?;
//! let auth = Authenticator::new(keys).audience("https://api.example.com");
//! # Ok(()) }
//! ```
//!
//! # Refresh policy
//!
//! | when | what happens | default |
//! |---|---|---|
//! | start | the first fetch runs at once, in the background; the service starts even if it fails | — |
//! | periodically | refetch after the response's `Cache-Control: max-age`, clamped to bounds | 5 min without `max-age`; bounds 1 min – 1 h |
//! | unknown `kid` | one refetch, shared by every request that misses meanwhile (single flight); the request waits for it | at most one per 30 s cooldown |
//! | the same unknown `kid` again | 401 at once, without a fetch, until the next successful refresh (negative cache) | — |
//! | a fetch fails (status, bad JSON, no usable key, timeout, hang) | the old keys keep serving; retry with exponential backoff and jitter | 1 s doubling to 1 min |
//! | no successful fetch for too long | keys go stale: requests get 503 | 24 h |
//! | keys never loaded | requests get 503 (no `WWW-Authenticate`) | — |
//!
//! A request whose `kid` is known never waits: the key set is read through
//! an atomic pointer swap, and fetches happen on the background task only.
//!
//! # Redirects
//!
//! jwt-auth follows redirects itself (301, 302, 303, 307, 308; at most
//! [`MAX_REDIRECTS`] hops), and every hop must pass the same URL policy as
//! the configured URL: `https`, or plain `http` to loopback (any host with
//! [`allow_insecure_http`](RemoteJwksBuilder::allow_insecure_http)), and
//! never from `https` down to `http`. A hop that fails the policy fails the
//! fetch, and the keys already loaded stay in use. [`HttpClient`]s must
//! therefore return 3xx answers as they are, with their `Location`.
//!
//! # Bounds
//!
//! Every duration setting is checked when [`RemoteJwksBuilder::build`] runs:
//! the timeout must be more than zero and at most [`MAX_FETCH_TIMEOUT`] (5
//! minutes), every other duration at most [`MAX_REMOTE_DURATION`] (30 days).
//! A value outside is a [`RemoteError`] naming the setting.
//!
//! The task ends when the last clone of the [`RemoteJwks`] (and of every
//! authenticator holding it) is dropped.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::BoxFuture;
use crate::jws::{JwksPolicy, KeySet};
use crate::key::Algorithm;

/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

/// The longest duration a [`RemoteJwksBuilder`] setting may hold (other than
/// the timeout, which is at most [`MAX_FETCH_TIMEOUT`]): 30 days.
pub const MAX_REMOTE_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest fetch timeout: 5 minutes.
pub const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// The HTTP client a [`RemoteJwks`] fetches with.
///
/// With the `reqwest` feature (on by default), `reqwest::Client` implements
/// it, so a client built with your proxies, root certificates or identity can
/// be passed to [`RemoteJwksBuilder::http_client`]. Any other client can be
/// adapted by implementing this trait.
///
/// **The client must not follow redirects.** jwt-auth follows them itself so
/// that every hop passes the URL policy (see the [module
/// documentation](crate::remote#redirects)): return a 3xx answer as it is,
/// with its `Location` ([`HttpResponse::with_location`]). A `reqwest::Client`
/// must be built with `redirect(reqwest::redirect::Policy::none())`; one that
/// follows a redirect anyway makes that fetch fail.
pub trait HttpClient: Send + Sync + 'static {
    /// GETs `url`, without following redirects. The body must be read only
    /// up to `max_body` bytes; a longer body is an error. Timeouts are
    /// enforced by the caller too.
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, FetchError>>;
}

/// What an [`HttpClient`] answers: the status, the `Cache-Control` and
/// `Location` headers and the body.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    status: u16,
    cache_control: Option<String>,
    location: Option<String>,
    body: Bytes,
}

impl HttpResponse {
    /// A response with this status and body.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            cache_control: None,
            location: None,
            body: body.into(),
        }
    }

    /// Sets the `Location` header value (of a redirect), as received:
    /// relative references are resolved against the URL fetched.
    #[must_use]
    pub fn with_location(mut self, value: impl Into<String>) -> Self {
        self.location = Some(value.into());
        self
    }

    /// The `Location` header value, if any.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Sets the `Cache-Control` header value.
    #[must_use]
    pub fn with_cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Why a fetch of the key set (or of the discovery document) failed.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchError {
    message: Arc<str>,
}

impl FetchError {
    /// An error with this message. Never put a secret in it: it is logged.
    pub fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Debug for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FetchError({:?})", &*self.message)
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// A remote key source could not be built: a bad URL, no Tokio runtime, or
/// no HTTP client.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteError {
    message: Arc<str>,
}

impl RemoteError {
    fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Debug for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteError({:?})", &*self.message)
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

#[cfg(feature = "reqwest")]
impl HttpClient for reqwest::Client {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<HttpResponse, FetchError>> {
        Box::pin(async move {
            let requested = reqwest::Url::parse(url)
                .map_err(|_| FetchError::new("the URL cannot be parsed"))?;
            let mut response = reqwest::Client::get(self, requested.clone())
                .header(
                    http::header::ACCEPT,
                    "application/jwk-set+json, application/json",
                )
                .send()
                .await
                .map_err(|e| FetchError::new(format!("request failed: {}", e.without_url())))?;
            // reqwest moves user information into an `Authorization` header
            // and out of the URL: that is not a redirect.
            let mut plain = requested.clone();
            let _ = plain.set_username("");
            let _ = plain.set_password(None);
            if response.url() != &requested && response.url() != &plain {
                return Err(FetchError::new(
                    "the HTTP client followed a redirect itself, so its hops were not checked: \
                     build it with redirect(reqwest::redirect::Policy::none())",
                ));
            }
            let status = response.status().as_u16();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &http::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let cache_control = header(http::header::CACHE_CONTROL);
            let location = header(http::header::LOCATION);
            if response
                .content_length()
                .is_some_and(|len| len > max_body as u64)
            {
                return Err(too_large(max_body));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| {
                FetchError::new(format!("reading the body failed: {}", e.without_url()))
            })? {
                if body.len() + chunk.len() > max_body {
                    return Err(too_large(max_body));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(HttpResponse {
                status,
                cache_control,
                location,
                body: body.into(),
            })
        })
    }
}

fn too_large(max_body: usize) -> FetchError {
    FetchError::new(format!("the response is larger than {max_body} bytes"))
}

#[cfg(feature = "reqwest")]
fn default_client(timeout: Duration) -> Result<Arc<dyn HttpClient>, RemoteError> {
    // Redirects are followed by `Shared::get_with_cache_control`, which
    // checks every hop.
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jwt-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RemoteError::new(format!("cannot build the HTTP client: {e}")))?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "reqwest"))]
fn default_client(_timeout: Duration) -> Result<Arc<dyn HttpClient>, RemoteError> {
    Err(RemoteError::new(
        "no HTTP client: enable the `reqwest` feature or call `http_client`",
    ))
}

#[derive(Clone)]
enum Target {
    Jwks(String),
    Discover { issuer: String, url: String },
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Jwks(url) => f.debug_tuple("Jwks").field(&loggable_url(url)).finish(),
            Self::Discover { issuer, url } => f
                .debug_struct("Discover")
                .field("issuer", &loggable_url(issuer))
                .field("url", &loggable_url(url))
                .finish(),
        }
    }
}

/// `url` as jwt-auth logs it: without what may hold a credential (user
/// information, the query and the fragment). Use it wherever your own code
/// prints a JWKS or issuer URL.
///
/// ```
/// use jwt_auth_core::remote::redacted_url;
/// assert_eq!(
///     redacted_url("https://user:pw@idp.example/jwks.json?api_key=k#f"),
///     "https://idp.example/jwks.json"
/// );
/// ```
pub fn redacted_url(url: &str) -> String {
    loggable_url(url)
}

fn loggable_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

#[derive(Clone, Debug)]
struct Settings {
    timeout: Duration,
    refresh_interval: Duration,
    min_interval: Duration,
    max_interval: Duration,
    cooldown: Duration,
    max_stale: Duration,
    backoff_initial: Duration,
    backoff_max: Duration,
    max_body: usize,
    policy: JwksPolicy,
    allow_http: bool,
}

impl Settings {
    /// Refuses durations that are zero where that makes no sense, or so
    /// large that time arithmetic could overflow.
    fn check(&self) -> Result<(), String> {
        if self.timeout.is_zero() || self.timeout > MAX_FETCH_TIMEOUT {
            return Err(format!(
                "the fetch timeout is {:?}: it must be more than zero and at most {:?}",
                self.timeout, MAX_FETCH_TIMEOUT
            ));
        }
        let durations = [
            ("refresh_interval", self.refresh_interval),
            ("refresh_bounds (min)", self.min_interval),
            ("refresh_bounds (max)", self.max_interval),
            ("unknown_kid_cooldown", self.cooldown),
            ("max_stale", self.max_stale),
            ("retry_backoff (initial)", self.backoff_initial),
            ("retry_backoff (max)", self.backoff_max),
        ];
        for (name, value) in durations {
            if value > MAX_REMOTE_DURATION {
                return Err(format!(
                    "{name} is {value:?}: it must be at most {MAX_REMOTE_DURATION:?} (30 days)"
                ));
            }
        }
        Ok(())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(5),
            refresh_interval: Duration::from_secs(300),
            min_interval: Duration::from_secs(60),
            max_interval: Duration::from_secs(3600),
            cooldown: Duration::from_secs(30),
            max_stale: Duration::from_secs(24 * 3600),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            max_body: 256 * 1024,
            policy: JwksPolicy {
                allow_symmetric: false,
                max_keys: 64,
                algorithms: None,
            },
            allow_http: false,
        }
    }
}

/// Configures a [`RemoteJwks`]. Every setting documents its default.
#[must_use]
pub struct RemoteJwksBuilder {
    target: Target,
    issuer: Option<String>,
    client: Option<Arc<dyn HttpClient>>,
    settings: Settings,
    bootstrap: Option<KeySet>,
}

impl fmt::Debug for RemoteJwksBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwksBuilder")
            .field("target", &self.target)
            .field("issuer", &self.issuer.as_deref().map(loggable_url))
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RemoteJwksBuilder {
    /// Uses this HTTP client (proxies, custom root certificates, mTLS).
    /// Defaults to a `reqwest` client with rustls and the timeout below.
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// The longest a fetch (connect, headers and body) may take. Defaults to
    /// 5 s. A request waiting for a refresh waits at most this long.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How often keys are refetched when the response has no
    /// `Cache-Control: max-age`. Defaults to 5 minutes.
    pub fn refresh_interval(mut self, interval: Duration) -> Self {
        self.settings.refresh_interval = interval;
        self
    }

    /// Bounds applied to `Cache-Control: max-age` (and to
    /// [`refresh_interval`](Self::refresh_interval)). Defaults to 1 minute –
    /// 1 hour.
    pub fn refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.settings.min_interval = min.min(max);
        self.settings.max_interval = max.max(min);
        self
    }

    /// The least time between two refreshes triggered by tokens with an
    /// unknown `kid`. Defaults to 30 s.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.settings.cooldown = cooldown;
        self
    }

    /// How long keys keep serving without a successful refresh, after which
    /// requests get 503. Defaults to 24 hours.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.settings.max_stale = max_stale;
        self
    }

    /// Retry delays after a failed fetch: `initial`, doubling up to `max`
    /// (with jitter). Defaults to 1 s – 1 minute.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.settings.backoff_initial = initial.min(max);
        self.settings.backoff_max = max.max(initial);
        self
    }

    /// Largest response accepted, in bytes. Defaults to 256 KiB.
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.settings.max_body = max;
        self
    }

    /// Most keys a JWK Set may hold; a larger set is refused whole.
    /// Defaults to 64.
    pub fn max_keys(mut self, max: usize) -> Self {
        self.settings.policy.max_keys = max;
        self
    }

    /// Only these algorithms are accepted; keys that fit none are ignored
    /// (and logged). Defaults to each key's own algorithm (its JWK `alg`, or
    /// its family's default).
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.settings.policy.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Requires every token verified with these keys to carry this `iss`.
    /// [`RemoteJwks::discover`] sets it to the discovered issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Allows `http://` URLs for hosts other than loopback. Defaults to
    /// `https` only (plain `http` to `127.0.0.1`, `::1` or `localhost` is
    /// always allowed). Keys fetched over plain HTTP can be replaced by
    /// anyone on the path.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_http = allow;
        self
    }

    /// Keys to serve until the first fetch succeeds (for example a JWKS file
    /// shipped with the service, from [`KeySet::from_jwks_file`]), so the
    /// service can verify tokens while its identity provider is down.
    pub fn bootstrap_keys(mut self, keys: KeySet) -> Self {
        self.bootstrap = Some(keys);
        self
    }

    /// Starts the key source: spawns its refresh task on the current Tokio
    /// runtime and returns at once; the first fetch runs in the background.
    ///
    /// Fails when the URL is not `https` (see
    /// [`allow_insecure_http`](Self::allow_insecure_http)), when a duration
    /// is out of its bounds (see the [module documentation](crate::remote#bounds)),
    /// when there is no Tokio runtime, or when the default HTTP client cannot
    /// be built.
    pub fn build(self) -> Result<RemoteJwks, RemoteError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            RemoteError::new(
                "RemoteJwks::build needs a Tokio runtime: call it from async code running on \
                 Tokio (#[tokio::main], #[actix_web::main]) or inside Runtime::enter",
            )
        })?;
        let url = match &self.target {
            Target::Jwks(url) | Target::Discover { url, .. } => url,
        };
        check_url(url, self.settings.allow_http).map_err(RemoteError::new)?;
        if let Target::Discover { issuer, .. } = &self.target
            && issuer.contains(['?', '#'])
        {
            // OpenID Connect Discovery §2: an issuer has no query or fragment.
            return Err(RemoteError::new(format!(
                "the issuer {:?} has a query or fragment, which an OpenID issuer never has",
                loggable_url(issuer)
            )));
        }
        self.settings.check().map_err(RemoteError::new)?;
        let client = match self.client {
            Some(client) => client,
            None => default_client(self.settings.timeout)?,
        };
        let issuer = match &self.target {
            Target::Discover { issuer, .. } => Some(issuer.clone()),
            Target::Jwks(_) => self.issuer,
        };
        let loaded = self.bootstrap.map(|keys| {
            Arc::new(Loaded {
                keys,
                loaded_at: Instant::now(),
                generation: 1,
                body_hash: None,
            })
        });
        let ready = loaded.is_some();
        let shared = Arc::new(Shared {
            target: self.target,
            issuer,
            settings: self.settings,
            client,
            current: ArcSwapOption::new(loaded),
            requested: AtomicU64::new(0),
            last_on_demand: Mutex::new(None),
            negative: Mutex::new(Negative::default()),
            hasher: RandomState::new(),
            status: Mutex::new(StatusInner::default()),
        });
        let (wake_tx, wake_rx) = mpsc::channel(1);
        let (progress_tx, progress_rx) = watch::channel(Progress {
            started: 0,
            completed: 0,
            loaded: ready,
        });
        runtime.spawn(run(Arc::clone(&shared), wake_rx, progress_tx));
        Ok(RemoteJwks {
            inner: Arc::new(Handle {
                shared,
                wake: wake_tx,
                progress: progress_rx,
            }),
        })
    }
}

/// Keys fetched from a JWKS URL, or from an issuer through OpenID Connect
/// discovery, refreshed in the background. See the [module
/// documentation](crate::remote) for the refresh policy.
///
/// Give it to `Authenticator::new` or `JwtAuth::new`, alone or per issuer in
/// an [`Issuers`](crate::Issuers) map. Cheap to clone; every clone shares
/// one background task, which stops when the last clone is dropped.
#[derive(Clone)]
pub struct RemoteJwks {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    // Dropping the last sender ends the background task.
    wake: mpsc::Sender<()>,
    progress: watch::Receiver<Progress>,
}

impl fmt::Debug for RemoteJwks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJwks")
            .field("target", &self.inner.shared.target)
            .field(
                "issuer",
                &self.inner.shared.issuer.as_deref().map(loggable_url),
            )
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

/// A snapshot of a [`RemoteJwks`]'s health, for readiness probes and
/// dashboards.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RemoteStatus {
    /// Keys are loaded and not stale: tokens can be verified.
    pub ready: bool,
    /// How many keys are in use.
    pub keys: usize,
    /// Increases each time a fetched key set differs from the previous one.
    pub generation: u64,
    /// When the keys were last fetched successfully.
    pub last_success: Option<SystemTime>,
    /// Why the last fetch failed, if it did.
    pub last_error: Option<String>,
    /// Fetches attempted so far.
    pub fetches: u64,
    /// Fetches that failed so far.
    pub failures: u64,
}

impl RemoteJwks {
    /// Keys from a JWK Set URL.
    pub fn builder(jwks_url: impl Into<String>) -> RemoteJwksBuilder {
        Self::with_target(Target::Jwks(jwks_url.into()))
    }

    /// Keys of an OpenID Provider, found from its issuer URL: reads
    /// `<issuer>/.well-known/openid-configuration`, then its `jwks_uri`.
    ///
    /// The document's `issuer` must equal `issuer` exactly (OpenID Connect
    /// Discovery §4.3), or the keys are never loaded; tokens must carry that
    /// `iss`.
    pub fn discover(issuer: impl Into<String>) -> RemoteJwksBuilder {
        let issuer = issuer.into();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        Self::with_target(Target::Discover { issuer, url })
    }

    fn with_target(target: Target) -> RemoteJwksBuilder {
        RemoteJwksBuilder {
            target,
            issuer: None,
            client: None,
            settings: Settings::default(),
            bootstrap: None,
        }
    }

    /// The issuer tokens must carry, if pinned.
    pub fn issuer(&self) -> Option<&str> {
        self.inner.shared.issuer.as_deref()
    }

    /// Whether keys are loaded and not stale.
    pub fn is_ready(&self) -> bool {
        self.keys().is_some()
    }

    /// Waits until keys are loaded for the first time. Returns `false` if
    /// the background task has stopped (its runtime shut down) first. Wrap
    /// it in a timeout to bound the wait.
    pub async fn ready(&self) -> bool {
        let mut rx = self.inner.progress.clone();
        let _ = rx.wait_for(|p| p.loaded).await;
        self.is_ready()
    }

    /// Fetches the keys now, ignoring the cooldown, and waits for the
    /// result. The old keys keep serving meanwhile, and after a failure.
    pub async fn refresh(&self) -> Result<(), FetchError> {
        let need = {
            let p = *self.inner.progress.borrow();
            p.started + 1
        };
        self.request(need);
        let mut rx = self.inner.progress.clone();
        if rx.wait_for(|p| p.completed >= need).await.is_err() {
            return Err(FetchError::new("the refresh task has stopped"));
        }
        match self.status().last_error {
            Some(error) => Err(FetchError::new(error)),
            None => Ok(()),
        }
    }

    /// The keys in use, unless none were loaded or they are stale.
    pub fn keys(&self) -> Option<KeySet> {
        self.inner.shared.fresh().map(|l| l.keys.clone())
    }

    /// A snapshot of the source's health.
    pub fn status(&self) -> RemoteStatus {
        let shared = &self.inner.shared;
        let loaded = shared.current.load_full();
        let status = shared
            .status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        RemoteStatus {
            ready: shared.fresh().is_some(),
            keys: loaded.as_ref().map_or(0, |l| l.keys.keys().len()),
            generation: loaded.as_ref().map_or(0, |l| l.generation),
            last_success: status.last_success,
            last_error: status.last_error,
            fetches: status.fetches,
            failures: status.failures,
        }
    }

    /// The fresh key set, if any.
    pub(crate) fn fresh(&self) -> Option<Arc<Loaded>> {
        self.inner.shared.fresh()
    }

    /// Whether a refresh already showed that `kid` is unknown.
    pub(crate) fn known_unknown(&self, kid: Option<&str>) -> bool {
        let shared = &self.inner.shared;
        let hash = shared.hasher.hash_one(kid);
        shared
            .negative
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set
            .contains(&hash)
    }

    /// Records that `kid` was still unknown after a refresh.
    pub(crate) fn remember_unknown(&self, kid: Option<&str>) {
        let shared = &self.inner.shared;
        let hash = shared.hasher.hash_one(kid);
        let mut negative = shared
            .negative
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if negative.set.len() < NEGATIVE_CACHE_MAX {
            negative.set.insert(hash);
        }
    }

    /// Asks for a refresh because a token's key was not found, and returns
    /// a future that completes when it is done; `None` when the cooldown
    /// forbids one. A fetch already in flight is joined, not repeated.
    pub(crate) fn refresh_for_miss(&self) -> Option<BoxFuture<'static, ()>> {
        let p = *self.inner.progress.borrow();
        let need = if p.started > p.completed {
            p.started
        } else {
            let shared = &self.inner.shared;
            let now = Instant::now();
            let mut last = shared
                .last_on_demand
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if last.is_some_and(|t| now.duration_since(t) < shared.settings.cooldown) {
                return None;
            }
            *last = Some(now);
            drop(last);
            let need = p.started + 1;
            self.request(need);
            need
        };
        let mut rx = self.inner.progress.clone();
        Some(Box::pin(async move {
            let _ = rx.wait_for(|p| p.completed >= need).await;
        }))
    }

    fn request(&self, need: u64) {
        self.inner
            .shared
            .requested
            .fetch_max(need, Ordering::AcqRel);
        // A full channel already holds a wake-up; a closed one means the task
        // is gone, and waiters learn it from the progress channel.
        let _ = self.inner.wake.try_send(());
    }
}

const NEGATIVE_CACHE_MAX: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Progress {
    started: u64,
    completed: u64,
    loaded: bool,
}

#[derive(Default)]
struct Negative {
    set: std::collections::HashSet<u64>,
}

#[derive(Clone, Default)]
struct StatusInner {
    last_success: Option<SystemTime>,
    last_error: Option<String>,
    fetches: u64,
    failures: u64,
}

/// A key set in use, and when it was fetched.
pub(crate) struct Loaded {
    pub(crate) keys: KeySet,
    loaded_at: Instant,
    pub(crate) generation: u64,
    body_hash: Option<u64>,
}

struct Shared {
    target: Target,
    issuer: Option<String>,
    settings: Settings,
    client: Arc<dyn HttpClient>,
    current: ArcSwapOption<Loaded>,
    /// The highest fetch number a caller waits for.
    requested: AtomicU64,
    last_on_demand: Mutex<Option<Instant>>,
    negative: Mutex<Negative>,
    hasher: RandomState,
    status: Mutex<StatusInner>,
}

struct Fetched {
    keys: KeySet,
    refused: Vec<crate::key::KeyError>,
    max_age: Option<Duration>,
    body_hash: u64,
}

impl Shared {
    fn fresh(&self) -> Option<Arc<Loaded>> {
        let loaded = self.current.load_full()?;
        (loaded.loaded_at.elapsed() <= self.settings.max_stale).then_some(loaded)
    }

    fn url_for_log(&self) -> String {
        let url = match &self.target {
            Target::Jwks(url) | Target::Discover { url, .. } => url,
        };
        loggable_url(url)
    }

    async fn get(&self, url: &str) -> Result<Bytes, FetchError> {
        let (body, _) = self.get_with_cache_control(url).await?;
        Ok(body)
    }

    /// GETs `url`, following at most [`MAX_REDIRECTS`] redirects, each of
    /// which must pass the URL policy.
    async fn get_with_cache_control(
        &self,
        url: &str,
    ) -> Result<(Bytes, Option<String>), FetchError> {
        let max = self.settings.max_body;
        let mut current = url.to_owned();
        let mut hops = 0;
        loop {
            let response = self.client.fetch(&current, max).await?;
            if matches!(response.status, 301 | 302 | 303 | 307 | 308) {
                if hops == MAX_REDIRECTS {
                    return Err(FetchError::new(format!(
                        "more than {MAX_REDIRECTS} redirects"
                    )));
                }
                hops += 1;
                let location = response
                    .location
                    .ok_or_else(|| FetchError::new("a redirect without a Location"))?;
                current = redirect_target(&current, &location, self.settings.allow_http)
                    .map_err(FetchError::new)?;
                continue;
            }
            if !(200..300).contains(&response.status) {
                return Err(FetchError::new(format!(
                    "the server answered HTTP {}",
                    response.status
                )));
            }
            if response.body.len() > max {
                return Err(too_large(max));
            }
            return Ok((response.body, response.cache_control));
        }
    }

    async fn discover(&self, issuer: &str, url: &str) -> Result<String, FetchError> {
        let body = self.get(url).await?;
        let doc: Value = serde_json::from_slice(&body)
            .map_err(|_| FetchError::new("the discovery document is not JSON"))?;
        let found = doc
            .get("issuer")
            .and_then(Value::as_str)
            .ok_or_else(|| FetchError::new("the discovery document has no `issuer`"))?;
        if found != issuer {
            return Err(FetchError::new(format!(
                "the discovery document names issuer {:?}, not the configured {:?}: refused",
                loggable_url(found),
                loggable_url(issuer)
            )));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| FetchError::new("the discovery document has no `jwks_uri`"))?;
        let jwks_uri = check_url(jwks_uri, self.settings.allow_http).map_err(FetchError::new)?;
        Ok(jwks_uri.into())
    }

    async fn fetch(&self, jwks_uri: &mut Option<String>) -> Result<Fetched, FetchError> {
        let url = match (&self.target, jwks_uri.as_ref()) {
            (Target::Jwks(url), _) => url.clone(),
            (Target::Discover { .. }, Some(uri)) => uri.clone(),
            (Target::Discover { issuer, url }, None) => {
                let uri = self.discover(issuer, url).await?;
                *jwks_uri = Some(uri.clone());
                uri
            }
        };
        let (body, cache_control) = self.get_with_cache_control(&url).await?;
        let (keys, refused) = KeySet::parse_jwks(&body, &self.settings.policy)
            .map_err(|e| FetchError::new(format!("unusable JWK set: {e}")))?;
        Ok(Fetched {
            keys,
            refused,
            max_age: cache_control.as_deref().and_then(max_age),
            body_hash: self.hasher.hash_one(&body[..]),
        })
    }

    fn install(&self, fetched: Fetched) -> Duration {
        let previous = self.current.load_full();
        let same = previous
            .as_ref()
            .is_some_and(|p| p.body_hash == Some(fetched.body_hash));
        let generation = previous
            .as_ref()
            .map_or(1, |p| if same { p.generation } else { p.generation + 1 });
        if !same {
            for error in &fetched.refused {
                tracing::warn!(
                    url = %self.url_for_log(),
                    reason = %error,
                    "jwt-auth: ignored a key of the remote JWK set"
                );
            }
            tracing::info!(
                url = %self.url_for_log(),
                keys = fetched.keys.keys().len(),
                generation,
                "jwt-auth: loaded the remote JWK set"
            );
        }
        let kept_hash = if same {
            previous.as_ref().and_then(|p| p.body_hash)
        } else {
            Some(fetched.body_hash)
        };
        self.current.store(Some(Arc::new(Loaded {
            keys: fetched.keys,
            loaded_at: Instant::now(),
            generation,
            body_hash: kept_hash,
        })));
        self.negative
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set
            .clear();
        let s = &self.settings;
        fetched
            .max_age
            .unwrap_or(s.refresh_interval)
            .clamp(s.min_interval, s.max_interval)
    }

    fn backoff(&self, failures: u32) -> Duration {
        let s = &self.settings;
        let exp = failures.saturating_sub(1).min(20);
        let base = s
            .backoff_initial
            .saturating_mul(1u32 << exp)
            .min(s.backoff_max);
        // Up to 20% less, so many instances do not retry in lockstep.
        let jitter = RandomState::new().hash_one(failures) % 1000;
        base.saturating_sub(base.mul_f64(jitter as f64 / 5000.0))
    }
}

/// `max-age` from a `Cache-Control` value; `no-cache`/`no-store` count as 0
/// (the lower bound applies).
fn max_age(value: &str) -> Option<Duration> {
    let mut result = None;
    for directive in value.split(',') {
        let directive = directive.trim();
        let (name, arg) = directive
            .split_once('=')
            .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
        if name.eq_ignore_ascii_case("no-cache") || name.eq_ignore_ascii_case("no-store") {
            return Some(Duration::ZERO);
        }
        if name.eq_ignore_ascii_case("max-age")
            && let Some(secs) = arg.and_then(|a| a.trim_matches('"').parse::<u64>().ok())
        {
            result = Some(Duration::from_secs(secs));
        }
    }
    result
}

/// Refuses URLs that are not absolute `https` (or plain `http` to loopback,
/// or any `http` when allowed). Parsed as the HTTP client parses them (the
/// `url` crate), so the host checked is the host connected to. Messages show
/// the URL without credentials.
fn check_url(url: &str, allow_http: bool) -> Result<url::Url, String> {
    let shown = loggable_url(url);
    let parsed = url::Url::parse(url).map_err(|_| format!("{shown:?} is not a valid URL"))?;
    let host = parsed
        .host()
        .ok_or_else(|| format!("{shown:?} is not an absolute URL with a host"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&host) => {}
        "http" => {
            return Err(format!(
                "{shown:?} uses plain http: keys fetched over http can be replaced by anyone on \
                 the path (use https, or allow_insecure_http(true))"
            ));
        }
        _ => return Err(format!("{shown:?} is not an http(s) URL")),
    }
    Ok(parsed)
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Where a redirect from `from` to `location` leads, if that hop is allowed:
/// the target passes [`check_url`], and an `https` URL never redirects to
/// plain `http`.
fn redirect_target(from: &str, location: &str, allow_http: bool) -> Result<String, String> {
    let base = url::Url::parse(from).map_err(|_| "the redirecting URL is invalid".to_owned())?;
    let target = base
        .join(location)
        .map_err(|_| "a redirect to an invalid URL".to_owned())?;
    let target =
        check_url(target.as_str(), allow_http).map_err(|e| format!("a redirect refused: {e}"))?;
    if base.scheme() == "https" && target.scheme() != "https" {
        return Err(format!(
            "a redirect refused: from https down to {:?}",
            loggable_url(target.as_str())
        ));
    }
    Ok(target.into())
}

/// `now + delay`; the settings are bounded, but this never overflows
/// regardless.
fn later(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(MAX_REMOTE_DURATION))
        .unwrap_or(now)
}

async fn run(shared: Arc<Shared>, mut wake: mpsc::Receiver<()>, progress: watch::Sender<Progress>) {
    let mut jwks_uri = None;
    let mut failures: u32 = 0;
    let mut done: u64 = 0;
    let mut next = Instant::now();
    let mut stale_reported = false;
    loop {
        let wanted = shared.requested.load(Ordering::Acquire) > done;
        if !wanted && Instant::now() < next {
            tokio::select! {
                message = wake.recv() => {
                    if message.is_none() {
                        return;
                    }
                    continue;
                }
                () = tokio::time::sleep_until(next.into()) => {}
            }
        }
        let number = done + 1;
        progress.send_modify(|p| p.started = number);
        let result = match tokio::time::timeout(
            shared.settings.timeout,
            shared.fetch(&mut jwks_uri),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(FetchError::new(format!(
                "no answer within {:?}",
                shared.settings.timeout
            ))),
        };
        done = number;
        let ok = result.is_ok();
        crate::observe::jwks_fetch(ok);
        {
            let mut status = shared.status.lock().unwrap_or_else(PoisonError::into_inner);
            status.fetches += 1;
            match &result {
                Ok(_) => {
                    status.last_success = Some(SystemTime::now());
                    status.last_error = None;
                }
                Err(e) => {
                    status.failures += 1;
                    status.last_error = Some(e.to_string());
                }
            }
        }
        match result {
            Ok(fetched) => {
                failures = 0;
                stale_reported = false;
                next = later(shared.install(fetched));
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                // The issuer may have moved its keys: discover again.
                jwks_uri = None;
                let delay = shared.backoff(failures);
                let loaded = shared.current.load_full().is_some();
                tracing::warn!(
                    url = %shared.url_for_log(),
                    reason = %error,
                    retry_in = ?delay,
                    keys_loaded = loaded,
                    "jwt-auth: fetching the remote JWK set failed; the previous keys stay in use"
                );
                if loaded && shared.fresh().is_none() && !stale_reported {
                    stale_reported = true;
                    tracing::error!(
                        url = %shared.url_for_log(),
                        "jwt-auth: the remote keys are stale; requests get 503 until a refresh succeeds"
                    );
                }
                next = later(delay);
            }
        }
        progress.send_modify(|p| {
            p.completed = number;
            p.loaded |= ok;
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_logged_without_credentials() {
        use super::loggable_url;
        assert_eq!(
            loggable_url("https://user:pw@idp.example/jwks?key=k#f"),
            "https://idp.example/jwks"
        );
        assert_eq!(loggable_url("https://idp.example"), "https://idp.example");
        assert_eq!(loggable_url("idp.example/a@b"), "idp.example/a@b");
        let debug = format!(
            "{:?}",
            super::Target::Jwks("https://u:secret-pw@h/j?token=abc".into())
        );
        assert!(
            !debug.contains("secret-pw") && !debug.contains("abc"),
            "{debug}"
        );
    }

    use super::*;

    #[test]
    fn cache_control() {
        assert_eq!(
            max_age("public, max-age=600"),
            Some(Duration::from_secs(600))
        );
        assert_eq!(max_age("max-age=\"60\""), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }

    #[test]
    fn urls() {
        assert!(check_url("https://idp.example/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://idp.example/jwks", false).is_err());
        assert!(check_url("http://idp.example/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("/jwks", true).is_err());
    }

    #[test]
    fn every_redirect_hop_passes_the_url_policy() {
        let to = |from: &str, location: &str| redirect_target(from, location, false);
        assert_eq!(
            to("http://127.0.0.1:1/a/jwks", "keys.json").as_deref(),
            Ok("http://127.0.0.1:1/a/keys.json")
        );
        assert_eq!(
            to("https://idp.example/a", "//other.example/jwks").as_deref(),
            Ok("https://other.example/jwks")
        );
        assert_eq!(
            to("http://[::1]:8/a", "http://localhost:9/b").as_deref(),
            Ok("http://localhost:9/b")
        );
        // Plain http to another host, another scheme, a downgrade.
        for (from, location) in [
            ("http://127.0.0.1:1/jwks", "http://attacker.example/jwks"),
            (
                "http://127.0.0.1:1/jwks",
                "http://user:pw@10.0.0.1/jwks?k=v",
            ),
            ("http://127.0.0.1:1/jwks", "ftp://127.0.0.1/jwks"),
            ("http://127.0.0.1:1/jwks", "file:///etc/passwd"),
            ("https://idp.example/jwks", "http://127.0.0.1/jwks"),
            ("http://127.0.0.1:1/jwks", "http://[::ffff:7f00:1]/jwks"),
            (
                "http://127.0.0.1:1/jwks",
                "http://127.0.0.1.attacker.example/jwks",
            ),
        ] {
            match to(from, location) {
                Ok(target) => panic!("{location}: followed to {target}"),
                Err(message) => assert!(
                    !message.contains("pw") && !message.contains("k=v"),
                    "{message}"
                ),
            }
        }
        // Explicitly allowed plain http still never downgrades from https.
        assert!(redirect_target("http://127.0.0.1/a", "http://idp.example/b", true).is_ok());
        assert!(redirect_target("https://idp.example/a", "http://idp.example/b", true).is_err());
    }

    #[tokio::test]
    async fn durations_out_of_bounds_are_refused_at_build() {
        let builder = || RemoteJwks::builder("http://127.0.0.1:9/jwks");
        let cases: Vec<(&str, RemoteJwksBuilder)> = vec![
            ("timeout", builder().timeout(Duration::ZERO)),
            ("timeout", builder().timeout(Duration::MAX)),
            (
                "refresh_interval",
                builder().refresh_interval(Duration::MAX),
            ),
            (
                "refresh_bounds",
                builder().refresh_bounds(Duration::ZERO, Duration::MAX),
            ),
            (
                "unknown_kid_cooldown",
                builder().unknown_kid_cooldown(Duration::from_secs(u64::MAX)),
            ),
            ("max_stale", builder().max_stale(Duration::MAX)),
            (
                "retry_backoff",
                builder().retry_backoff(Duration::MAX, Duration::MAX),
            ),
        ];
        for (name, b) in cases {
            let err = b.build().err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(name), "{name}: {err:?}");
        }
        let at_the_bounds = builder()
            .timeout(MAX_FETCH_TIMEOUT)
            .refresh_interval(MAX_REMOTE_DURATION)
            .unknown_kid_cooldown(MAX_REMOTE_DURATION)
            .max_stale(MAX_REMOTE_DURATION)
            .retry_backoff(MAX_REMOTE_DURATION, MAX_REMOTE_DURATION)
            .build();
        assert!(at_the_bounds.is_ok());
    }

    #[test]
    fn build_needs_a_runtime() {
        let err = RemoteJwks::builder("https://idp.example/jwks")
            .build()
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("Tokio runtime")));
    }

    #[tokio::test]
    async fn the_task_stops_with_the_last_handle() {
        let keys = RemoteJwks::builder("http://127.0.0.1:9/jwks")
            .retry_backoff(Duration::from_secs(3600), Duration::from_secs(3600))
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let clone = keys.clone();
        let mut progress = keys.inner.progress.clone();
        drop(keys);
        // One handle left: the task keeps running.
        assert!(progress.has_changed().is_ok());
        drop(clone);
        // The task drops its sender when it ends: wait for that event.
        while progress.changed().await.is_ok() {}
        assert!(progress.has_changed().is_err());
    }
}
