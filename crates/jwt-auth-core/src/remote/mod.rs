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

mod builder;
mod client;
mod introspect;
mod policy;
mod refresh;
mod settings;
mod tenants;

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::{mpsc, watch};

pub use builder::RemoteJwksBuilder;
pub use client::{
    FetchError, FetchErrorKind, FetchResponse, HttpClient, RemoteError, RemoteErrorKind,
};
pub use introspect::{Introspection, IntrospectionBuilder};
pub use policy::redacted_url;
pub(crate) use tenants::Lookup;
pub use tenants::{DEFAULT_TENANT_CAPACITY, Tenants, TenantsBuilder};

use crate::BoxFuture;
use crate::jws::KeySet;
use policy::loggable_url;
use refresh::{Loaded, NEGATIVE_CACHE_MAX, Progress, Shared};
use settings::{Settings, Target};

/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

/// The longest duration a [`RemoteJwksBuilder`] setting may hold (other than
/// the timeout, which is at most [`MAX_FETCH_TIMEOUT`]): 30 days.
pub const MAX_REMOTE_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The longest fetch timeout: 5 minutes.
pub const MAX_FETCH_TIMEOUT: Duration = Duration::from_secs(300);

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
    pub last_error: Option<FetchError>,
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

    /// Keys of an OAuth 2.0 authorization server that is not an OpenID
    /// Provider, found from its issuer URL by RFC 8414 metadata: reads
    /// `/.well-known/oauth-authorization-server` with the issuer's path
    /// inserted after it (§3.1: the issuer `https://as.example.com/tenant1`
    /// publishes at `https://as.example.com/.well-known/oauth-authorization-server/tenant1`),
    /// then its `jwks_uri`. The document's `issuer` must equal `issuer`
    /// exactly (§3.3), as with [`discover`](Self::discover).
    pub fn discover_authorization_server(issuer: impl Into<String>) -> RemoteJwksBuilder {
        let issuer = issuer.into();
        let url = crate::resource::insert_path(&issuer, "/.well-known/oauth-authorization-server");
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

    /// Waits for the first fetch to end, whatever its outcome.
    pub(crate) async fn first_attempt(&self) {
        let mut rx = self.inner.progress.clone();
        let _ = rx.wait_for(|p| p.loaded || p.completed >= 1).await;
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
            return Err(FetchError::new(
                FetchErrorKind::Stopped,
                "the refresh task has stopped",
            ));
        }
        match self.status().last_error {
            Some(error) => Err(error),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let err = b.build().err();
            assert_eq!(
                err.as_ref().map(RemoteError::kind),
                Some(RemoteErrorKind::InvalidSetting),
                "{name}"
            );
            let err = err.map(|e| e.to_string()).unwrap_or_default();
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
            .err();
        assert_eq!(
            err.as_ref().map(RemoteError::kind),
            Some(RemoteErrorKind::NoRuntime)
        );
        assert!(err.is_some_and(|e| e.to_string().contains("Tokio runtime")));
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
