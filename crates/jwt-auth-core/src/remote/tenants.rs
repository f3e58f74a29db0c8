//! Issuers discovered when their first token arrives: one identity provider

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use moka::policy::EvictionPolicy;
use tokio::sync::watch;

use super::client::{HttpClient, RemoteError, RemoteErrorKind, default_client};
use super::policy::{check_url, loggable_url};
use super::refresh::{get_following, parse_discovery};
use super::settings::Settings;
use super::{RemoteJwks, RemoteJwksBuilder};
use crate::BoxFuture;
use crate::error::AuthErrorKind;

/// The default number of tenants kept.
pub const DEFAULT_TENANT_CAPACITY: u64 = 1_000;

/// The placeholder in a template.
const PLACEHOLDER: &str = "{tenant}";

/// How long a transient discovery failure (5xx, timeout) is remembered.
const TRANSIENT_TTL: Duration = Duration::from_secs(5);

type Predicate = Arc<dyn Fn(&str) -> bool + Send + Sync>;
type Configure = Arc<dyn Fn(RemoteJwksBuilder) -> RemoteJwksBuilder + Send + Sync>;

/// Issuers trusted by a template with one `{tenant}` placeholder, or by a
/// predicate, each discovered when its first token arrives. Give it to
/// [`Issuers::tenants`](crate::Issuers::tenants), or alone to
/// `Authenticator::new`.  Cheap to clone; clones share their tenants.
///
/// with a tenant per customer (Entra ID, Keycloak realms, Cognito pools).
///
/// ```no_run
/// use jwt_auth_core::{Authenticator, Issuers, Tenants};
///
/// # fn run() -> Result<(), jwt_auth_core::RemoteError> {
/// // Inside a Tokio runtime. Every Entra ID tenant, discovered on first use:
/// let entra = Tenants::template("https://login.microsoftonline.com/{tenant}/v2.0").build()?;
/// let auth = Authenticator::new(Issuers::new().tenants(entra)).audience("api://orders");
/// # Ok(()) }
/// ```
///
/// | when | what happens | default |
/// |---|---|---|
/// | `iss` fits no template (or the predicate says no) | 401, nothing fetched | — |
/// | first token of a tenant | its discovery document, then its `jwks_uri`; concurrent requests share one discovery (single flight) and wait for it | — |
/// | the document's `issuer` | must equal the resolved issuer exactly; Entra's literal `{tenantid}` is read as the tenant when the tenant is a GUID | — |
/// | a `jwks_uri` shared by many tenants | fetched and refreshed once, for all of them | — |
/// | tenants kept | bounded, least recently used evicted; a tenant enters once a token of its own has verified (discovered tenants wait in a probation set of the same size, which alone a flood can churn) | 1,000 |
/// | discoveries started | rate-limited (token bucket); a request over the limit gets 503 | 10/s, burst 20 |
/// | a discovery refused (4xx, a bad document, another issuer) | that issuer gets 401 without a fetch for a while (negative cache) | 5 min |
/// | a discovery failed (5xx, timeout, connection) | that issuer gets 503 without a fetch for a while | 5 s |
/// | a tenant without tokens | forgotten (its keys refresh in the background while it is kept) | after 24 h idle |
/// | the provider throttling discovery (408, 429) | 503 for that `iss`, retried after 5 s | — |
///
/// So a flood of invented tenant ids can neither hammer the provider (the
/// rate limit and the negative cache) nor evict the real tenants (refused
/// issuers never enter the set of known ones, nor do real tenants whose
/// tokens never verify).
#[derive(Clone)]
pub struct Tenants {
    inner: Arc<Inner>,
}

struct Inner {
    pattern: Pattern,
    oauth_metadata: bool,
    client: Arc<dyn HttpClient>,
    settings: Settings,
    configure: Option<Configure>,
    known: moka::sync::Cache<String, RemoteJwks>,
    /// Discovered tenants no token has verified for yet: a flood of real
    /// but foreign tenant ids (anyone can look up other organisations'
    /// Entra ID tenant ids) evicts only these, never a known tenant.
    probation: moka::sync::Cache<String, RemoteJwks>,
    key_sets: moka::sync::Cache<String, RemoteJwks>,
    refused: moka::sync::Cache<String, (AuthErrorKind, Instant)>,
    negative_ttl: Duration,
    pending: Mutex<HashMap<String, watch::Receiver<bool>>>,
    bucket: Mutex<Bucket>,
    runtime: tokio::runtime::Handle,
}

enum Pattern {
    Template {
        template: String,
        prefix: String,
        suffix: String,
    },
    Predicate(Predicate),
}

/// A token bucket: `rate` discoveries a second, at most `burst` at once.
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for Tenants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Tenants");
        match &self.inner.pattern {
            Pattern::Template { template, .. } => s.field("template", &loggable_url(template)),
            Pattern::Predicate(_) => s.field("predicate", &".."),
        };
        s.field("known", &self.inner.known.entry_count())
            .finish_non_exhaustive()
    }
}

/// What a lookup found for an `iss`.
pub(crate) enum Lookup {
    /// The tenant's keys.
    Ready(RemoteJwks),
    /// `iss` fits neither the template nor the predicate.
    NotTrusted,
    /// Refused: 401 (`InvalidIssuer`) or 503 (`KeysUnavailable`).
    Refused(AuthErrorKind),
    /// A discovery is under way: wait for it, then look again.
    Wait(BoxFuture<'static, ()>),
}

impl Tenants {
    /// Trusts every issuer that fits `template`, an issuer URL whose one
    /// `{tenant}` placeholder stands for one whole path segment: for example
    /// `https://login.microsoftonline.com/{tenant}/v2.0` or
    /// `https://sso.example.com/realms/{tenant}`. A tenant is
    /// `[A-Za-z0-9._-]{1,64}`, never `.` or `..`.
    pub fn template(template: impl Into<String>) -> TenantsBuilder {
        TenantsBuilder::new(Err(template.into()))
    }

    /// Trusts every issuer for which `trusted` answers `true` (and whose URL
    /// passes the URL policy: `https`, no query or fragment), for shapes a
    /// template cannot say. The predicate decides what the service may be
    /// made to fetch: never answer `true` for any URL.
    pub fn matching(trusted: impl Fn(&str) -> bool + Send + Sync + 'static) -> TenantsBuilder {
        TenantsBuilder::new(Ok(Arc::new(trusted)))
    }

    /// How many tenants are known: discovered, and a token of theirs
    /// verified.
    pub fn known(&self) -> u64 {
        self.inner.known.run_pending_tasks();
        self.inner.known.entry_count()
    }

    /// A token of `iss` verified: the tenant leaves probation.
    pub(crate) fn confirm(&self, iss: &str) {
        let inner = &self.inner;
        if !inner.known.contains_key(iss)
            && let Some(keys) = inner.probation.remove(iss)
        {
            inner.known.insert(iss.to_owned(), keys);
        }
    }

    /// The tenant segment `iss` fits the template with, `Some("")` for a
    /// predicate's issuer; `None` when it is not trusted.
    fn tenant_of<'a>(&self, iss: &'a str) -> Option<&'a str> {
        match &self.inner.pattern {
            Pattern::Template { prefix, suffix, .. } => {
                let tenant = iss
                    .strip_prefix(prefix.as_str())?
                    .strip_suffix(suffix.as_str())?;
                is_tenant(tenant).then_some(tenant)
            }
            Pattern::Predicate(trusted) => {
                // No query, fragment or user information (which would let
                // `https://trusted.example@evil.example` pass a careless
                // prefix test), and the URL policy, before the predicate.
                let fits = !iss.contains(['?', '#'])
                    && check_url(iss, self.inner.settings.allow_http)
                        .is_ok_and(|url| url.username().is_empty() && url.password().is_none())
                    && trusted(iss);
                fits.then_some("")
            }
        }
    }

    /// The keys for `iss`, a refusal, or a discovery to wait for (only when
    /// `may_wait`; otherwise 503 until it is known).
    pub(crate) fn lookup(&self, iss: &str, may_wait: bool) -> Lookup {
        let inner = &self.inner;
        let Some(tenant) = self.tenant_of(iss) else {
            return Lookup::NotTrusted;
        };
        if let Some(keys) = inner.known.get(iss).or_else(|| inner.probation.get(iss)) {
            return Lookup::Ready(keys);
        }
        if let Some((kind, until)) = inner.refused.get(iss)
            && Instant::now() < until
        {
            return Lookup::Refused(kind);
        }
        if !may_wait {
            return Lookup::Refused(AuthErrorKind::KeysUnavailable);
        }
        let mut pending = inner.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(rx) = pending.get(iss) {
            return Lookup::Wait(wait(rx.clone()));
        }
        let allowed = inner
            .bucket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(Instant::now());
        if !allowed {
            tracing::warn!(
                issuer = %loggable_url(iss),
                "jwt-auth: tenant discovery rate limit reached; answering 503"
            );
            return Lookup::Refused(AuthErrorKind::KeysUnavailable);
        }
        let (tx, rx) = watch::channel(false);
        pending.insert(iss.to_owned(), rx.clone());
        drop(pending);
        let this = self.clone();
        let (iss, tenant) = (iss.to_owned(), tenant.to_owned());
        // Spawned, so that a request that gives up does not cancel the
        // discovery the others wait for.
        inner.runtime.spawn(async move {
            // Whatever happens (even a panic in a `key_sets` closure), the
            // waiters are released and the next request may try again.
            let _guard = Pending {
                tenants: this.clone(),
                iss: iss.clone(),
                done: tx,
            };
            this.discover(&iss, &tenant).await;
        });
        Lookup::Wait(wait(rx))
    }

    /// Discovers one tenant and records the outcome.
    async fn discover(&self, iss: &str, tenant: &str) {
        let inner = &self.inner;
        let url = if inner.oauth_metadata {
            crate::resource::insert_path(iss, "/.well-known/oauth-authorization-server")
        } else {
            format!(
                "{}/.well-known/openid-configuration",
                iss.trim_end_matches('/')
            )
        };
        let fetched = tokio::time::timeout(
            inner.settings.timeout,
            get_following(&*inner.client, &url, &inner.settings),
        )
        .await;
        let outcome = match fetched {
            Err(_) => Err((AuthErrorKind::KeysUnavailable, "timed out".to_owned())),
            Ok(Err(e)) => Err((AuthErrorKind::KeysUnavailable, e.to_string())),
            Ok(Ok(r)) if (200..300).contains(&r.status()) => {
                // Entra ID's documents may name the issuer with a literal
                // `{tenantid}`: read it as this tenant.
                let accept = |found: &str| {
                    found == iss || (is_guid(tenant) && found.replace("{tenantid}", tenant) == iss)
                };
                parse_discovery(r.body(), accept, iss, inner.settings.allow_http)
                    .map_err(|e| (AuthErrorKind::InvalidIssuer, e.to_string()))
            }
            // 408 and 429 say "not now", not "no such tenant".
            Ok(Ok(r)) if (400..500).contains(&r.status()) && !matches!(r.status(), 408 | 429) => {
                Err((
                    AuthErrorKind::InvalidIssuer,
                    format!("the discovery document answered HTTP {}", r.status()),
                ))
            }
            Ok(Ok(r)) => Err((
                AuthErrorKind::KeysUnavailable,
                format!("the discovery document answered HTTP {}", r.status()),
            )),
        };
        let jwks_uri = match outcome {
            Ok(uri) => uri,
            Err((kind, reason)) => {
                tracing::warn!(
                    issuer = %loggable_url(iss),
                    %reason,
                    "jwt-auth: tenant discovery failed"
                );
                let ttl = match kind {
                    AuthErrorKind::InvalidIssuer => inner.negative_ttl,
                    _ => TRANSIENT_TTL.min(inner.negative_ttl),
                };
                inner
                    .refused
                    .insert(iss.to_owned(), (kind, Instant::now() + ttl));
                return;
            }
        };
        let built = inner.key_sets.try_get_with(jwks_uri.clone(), || {
            let mut builder = RemoteJwks::builder(jwks_uri.clone());
            if let Some(configure) = &inner.configure {
                builder = configure(builder);
            }
            builder.settings.timeout = inner.settings.timeout;
            builder.settings.max_body = inner.settings.max_body;
            builder.settings.allow_http = inner.settings.allow_http;
            builder.client = Some(Arc::clone(&inner.client));
            builder.build()
        });
        match built {
            Ok(keys) => {
                // Wait for the first fetch of a new key set, so the first
                // token is judged with keys.
                let _ = tokio::time::timeout(inner.settings.timeout, keys.first_attempt()).await;
                inner.probation.insert(iss.to_owned(), keys);
                tracing::info!(issuer = %loggable_url(iss), "jwt-auth: tenant discovered");
            }
            Err(e) => {
                tracing::warn!(issuer = %loggable_url(iss), reason = %e, "jwt-auth: tenant keys refused");
                inner.refused.insert(
                    iss.to_owned(),
                    (
                        AuthErrorKind::InvalidIssuer,
                        Instant::now() + inner.negative_ttl,
                    ),
                );
            }
        }
    }
}

/// Ends a discovery: forgets it as pending and wakes its waiters.
struct Pending {
    tenants: Tenants,
    iss: String,
    done: watch::Sender<bool>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.tenants
            .inner
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.iss);
        let _ = self.done.send(true);
    }
}

fn wait(mut rx: watch::Receiver<bool>) -> BoxFuture<'static, ()> {
    Box::pin(async move {
        let _ = rx.wait_for(|done| *done).await;
    })
}

/// A tenant id as Entra ID writes them: 8-4-4-4-12 hexadecimal digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// One path segment of `[A-Za-z0-9._-]{1,64}`, never `.` or `..`.
fn is_tenant(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Configures [`Tenants`]. Every setting documents its default.
#[must_use]
pub struct TenantsBuilder {
    pattern: Result<Predicate, String>,
    oauth_metadata: bool,
    client: Option<Arc<dyn HttpClient>>,
    settings: Settings,
    configure: Option<Configure>,
    capacity: u64,
    rate: (u32, u32),
    negative_ttl: Duration,
    rediscover_after: Duration,
}

impl fmt::Debug for TenantsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantsBuilder")
            .field("capacity", &self.capacity)
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl TenantsBuilder {
    fn new(pattern: Result<Predicate, String>) -> Self {
        Self {
            pattern,
            oauth_metadata: false,
            client: None,
            settings: Settings::default(),
            configure: None,
            capacity: DEFAULT_TENANT_CAPACITY,
            rate: (10, 20),
            negative_ttl: Duration::from_secs(300),
            rediscover_after: Duration::from_secs(24 * 3600),
        }
    }

    /// Reads RFC 8414 authorization-server metadata
    /// (`/.well-known/oauth-authorization-server`, path-inserted) instead
    /// of OpenID Connect discovery.
    pub fn authorization_server_metadata(mut self) -> Self {
        self.oauth_metadata = true;
        self
    }

    /// The HTTP client for discovery and keys. Defaults to `reqwest` with
    /// rustls. It must not follow redirects (see [`HttpClient`]).
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// The longest a discovery or key fetch may take (a first request waits
    /// at most about twice this). Defaults to 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Allows `http://` issuers and key sets on hosts other than loopback.
    /// Defaults to `https` only.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_http = allow;
        self
    }

    /// Most tenants kept; the least recently used is evicted beyond it.
    /// Defaults to [`DEFAULT_TENANT_CAPACITY`] (1,000).
    pub fn capacity(mut self, tenants: u64) -> Self {
        self.capacity = tenants;
        self
    }

    /// Most discoveries started: `per_second` on average, `burst` at once.
    /// Defaults to 10 a second, 20 at once. A request for a new tenant over
    /// the limit gets 503.
    pub fn discovery_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.rate = (per_second, burst);
        self
    }

    /// How long an issuer whose discovery was refused (4xx, a bad document,
    /// another issuer) is refused without a fetch. Defaults to 5 minutes.
    pub fn negative_ttl(mut self, ttl: Duration) -> Self {
        self.negative_ttl = ttl;
        self
    }

    /// How long a tenant is kept without any token before it is forgotten
    /// (and discovered again on its next token). Its keys refresh in the
    /// background meanwhile, as any `RemoteJwks`'s. Defaults to 24 hours.
    pub fn rediscover_after(mut self, after: Duration) -> Self {
        self.rediscover_after = after;
        self
    }

    /// Configures each tenant's key set (refresh interval, cooldown,
    /// algorithms, ...). The HTTP client, timeout and URL policy are the
    /// ones set here.
    pub fn key_sets(
        mut self,
        configure: impl Fn(RemoteJwksBuilder) -> RemoteJwksBuilder + Send + Sync + 'static,
    ) -> Self {
        self.configure = Some(Arc::new(configure));
        self
    }

    /// Checks the template and the settings, and builds. Needs a Tokio
    /// runtime (discoveries run on it).
    pub fn build(self) -> Result<Tenants, RemoteError> {
        let invalid = |kind, message: String| RemoteError::new(kind, message);
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            invalid(
                RemoteErrorKind::NoRuntime,
                "Tenants::build needs a Tokio runtime".into(),
            )
        })?;
        let pattern = match self.pattern {
            Ok(predicate) => Pattern::Predicate(predicate),
            Err(template) => parse_template(template, self.settings.allow_http)
                .map_err(|e| invalid(RemoteErrorKind::InvalidUrl, e))?,
        };
        self.settings
            .check()
            .map_err(|e| invalid(RemoteErrorKind::InvalidSetting, e))?;
        let checks = [
            (self.capacity == 0, "capacity must be at least 1"),
            (
                self.rate.0 == 0 || self.rate.1 == 0,
                "discovery_rate must be at least 1",
            ),
            (
                self.negative_ttl > super::MAX_REMOTE_DURATION
                    || self.rediscover_after > super::MAX_REMOTE_DURATION,
                "durations must be at most 30 days",
            ),
        ];
        if let Some((_, message)) = checks.iter().find(|(bad, _)| *bad) {
            return Err(invalid(RemoteErrorKind::InvalidSetting, (*message).into()));
        }
        let client = match self.client {
            Some(client) => client,
            None => default_client(self.settings.timeout)?,
        };
        // No hard expiry: a tenant's keys refresh in the background; it
        // leaves when evicted (least recently used), or after
        // `rediscover_after` without any token.
        let known = moka::sync::Cache::builder()
            .max_capacity(self.capacity)
            .eviction_policy(EvictionPolicy::lru())
            .time_to_idle(self.rediscover_after)
            .build();
        Ok(Tenants {
            inner: Arc::new(Inner {
                pattern,
                oauth_metadata: self.oauth_metadata,
                client,
                settings: self.settings,
                configure: self.configure,
                known,
                probation: moka::sync::Cache::builder()
                    .max_capacity(self.capacity)
                    .eviction_policy(EvictionPolicy::lru())
                    .time_to_idle(self.rediscover_after)
                    .build(),
                key_sets: moka::sync::Cache::builder()
                    .max_capacity(self.capacity)
                    .time_to_idle(self.rediscover_after)
                    .build(),
                refused: moka::sync::Cache::builder()
                    .max_capacity(10 * self.capacity)
                    .time_to_live(self.negative_ttl.max(TRANSIENT_TTL))
                    .build(),
                negative_ttl: self.negative_ttl,
                pending: Mutex::new(HashMap::new()),
                bucket: Mutex::new(Bucket {
                    rate: f64::from(self.rate.0),
                    burst: f64::from(self.rate.1),
                    tokens: f64::from(self.rate.1),
                    last: Instant::now(),
                }),
                runtime,
            }),
        })
    }
}

/// Splits a template around its placeholder, which must be one whole path
/// segment of an issuer URL the URL policy accepts.
fn parse_template(template: String, allow_http: bool) -> Result<Pattern, String> {
    let shown = loggable_url(&template);
    let (prefix, suffix) = template
        .split_once(PLACEHOLDER)
        .ok_or_else(|| format!("the issuer template {shown:?} has no {PLACEHOLDER}"))?;
    if suffix.contains(PLACEHOLDER) {
        return Err(format!(
            "the issuer template {shown:?} has more than one {PLACEHOLDER}"
        ));
    }
    let after_authority = prefix
        .split_once("://")
        .is_some_and(|(_, rest)| rest.contains('/'));
    if !after_authority || !prefix.ends_with('/') || !(suffix.is_empty() || suffix.starts_with('/'))
    {
        return Err(format!(
            "in the issuer template {shown:?}, {PLACEHOLDER} must be one whole path segment"
        ));
    }
    if template.contains(['?', '#']) {
        return Err(format!(
            "the issuer template {shown:?} has a query or fragment"
        ));
    }
    check_url(&format!("{prefix}tenant{suffix}"), allow_http)?;
    Ok(Pattern::Template {
        prefix: prefix.to_owned(),
        suffix: suffix.to_owned(),
        template,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_segments() {
        for ok in [
            "a",
            "contoso",
            "9188040d-6c67-4c5b-b112-36a304b66dad",
            "a.b_c-d",
            &"x".repeat(64),
        ] {
            assert!(is_tenant(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a?b",
            "a%2Fb",
            "é",
            &"x".repeat(65),
            "a b",
        ] {
            assert!(!is_tenant(bad), "{bad}");
        }
    }

    #[test]
    fn guids() {
        assert!(is_guid("9188040d-6c67-4c5b-b112-36a304b66dad"));
        for not in [
            "common",
            "organizations",
            "9188040d6c674c5bb11236a304b66dad",
            "9188040d-6c67-4c5b-b112-36a304b66dax",
        ] {
            assert!(!is_guid(not), "{not}");
        }
    }

    #[test]
    fn templates() {
        let ok = |t: &str| parse_template(t.into(), false).is_ok();
        assert!(ok("https://login.microsoftonline.com/{tenant}/v2.0"));
        assert!(ok("https://sso.example.com/realms/{tenant}"));
        assert!(ok("http://127.0.0.1:8080/{tenant}"));
        assert!(
            !ok("https://{tenant}.example.com/"),
            "host, not a path segment"
        );
        assert!(
            !ok("https://sso.example.com/realm-{tenant}"),
            "part of a segment"
        );
        assert!(
            !ok("https://sso.example.com/{tenant}x/"),
            "part of a segment"
        );
        assert!(!ok("https://sso.example.com/{tenant}/{tenant}"), "two");
        assert!(!ok("https://sso.example.com/realms"), "none");
        assert!(!ok("http://sso.example.com/{tenant}"), "plain http");
        assert!(!ok("https://sso.example.com/{tenant}?x=1"), "query");
        assert!(parse_template("http://sso.example.com/{tenant}".into(), true).is_ok());
    }

    #[test]
    fn the_bucket_refills_at_its_rate() {
        let start = Instant::now();
        let mut bucket = Bucket {
            rate: 2.0,
            burst: 3.0,
            tokens: 3.0,
            last: start,
        };
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start), "burst spent");
        assert!(
            bucket.take(start + Duration::from_millis(500)),
            "one more after 0.5 s at 2/s"
        );
        assert!(!bucket.take(start + Duration::from_millis(500)));
        assert!(
            (0..3).all(|_| bucket.take(start + Duration::from_secs(60))),
            "refilled to the burst"
        );
        assert!(
            !bucket.take(start + Duration::from_secs(60)),
            "never beyond the burst"
        );
    }
}
