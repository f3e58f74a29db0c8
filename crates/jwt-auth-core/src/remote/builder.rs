//! Configuring a [`RemoteJwks`]: the target, every setting with its bound,
//! and `build`, which starts the background task.

use std::fmt;
use std::hash::RandomState;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::{mpsc, watch};

use super::client::{HttpClient, RemoteError, RemoteErrorKind, default_client};
use super::policy::{check_url, loggable_url};
use super::refresh::{Loaded, Negative, Progress, Shared, StatusInner, run};
use super::settings::{Settings, Target};
use super::{Handle, RemoteJwks};
use crate::jws::KeySet;
use crate::key::Algorithm;

/// Configures a [`RemoteJwks`]. Every setting documents its default.
#[must_use]
pub struct RemoteJwksBuilder {
    pub(super) target: Target,
    pub(super) issuer: Option<String>,
    pub(super) client: Option<Arc<dyn HttpClient>>,
    pub(super) settings: Settings,
    pub(super) bootstrap: Option<KeySet>,
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
                RemoteErrorKind::NoRuntime,
                "RemoteJwks::build needs a Tokio runtime: call it from async code running on \
                 Tokio (#[tokio::main], #[actix_web::main]) or inside Runtime::enter",
            )
        })?;
        let url = match &self.target {
            Target::Jwks(url) | Target::Discover { url, .. } => url,
        };
        check_url(url, self.settings.allow_http)
            .map_err(|e| RemoteError::new(RemoteErrorKind::InvalidUrl, e))?;
        if let Target::Discover { issuer, .. } = &self.target
            && issuer.contains(['?', '#'])
        {
            // OpenID Connect Discovery §2: an issuer has no query or fragment.
            return Err(RemoteError::new(
                RemoteErrorKind::InvalidUrl,
                format!(
                    "the issuer {:?} has a query or fragment, which an OpenID issuer never has",
                    loggable_url(issuer)
                ),
            ));
        }
        self.settings
            .check()
            .map_err(|e| RemoteError::new(RemoteErrorKind::InvalidSetting, e))?;
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
