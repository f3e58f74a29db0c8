//! The background task: fetching (discovery, redirects, size limits),
//! installing a new key set, backing off after failures.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use super::client::{FetchError, FetchErrorKind, HttpClient, too_large};
use super::policy::{check_url, loggable_url, redirect_target};
use super::settings::{Settings, Target};
use super::{MAX_REDIRECTS, MAX_REMOTE_DURATION};
use crate::jws::KeySet;

pub(super) const NEGATIVE_CACHE_MAX: usize = 4096;

/// GETs `url` with `client`, following at most [`MAX_REDIRECTS`] redirects,
/// each of which must pass the URL policy; answers the last response,
/// whatever its status, with its size checked.
pub(super) async fn get_following(
    client: &dyn HttpClient,
    url: &str,
    settings: &Settings,
) -> Result<super::FetchResponse, FetchError> {
    let max = settings.max_body;
    let mut current = url.to_owned();
    let mut hops = 0;
    loop {
        let response = client.fetch(&current, max).await?;
        if matches!(response.status, 301 | 302 | 303 | 307 | 308) {
            if hops == MAX_REDIRECTS {
                return Err(FetchError::new(
                    FetchErrorKind::Redirect,
                    format!("more than {MAX_REDIRECTS} redirects"),
                ));
            }
            hops += 1;
            let location = response.location.ok_or_else(|| {
                FetchError::new(FetchErrorKind::Redirect, "a redirect without a Location")
            })?;
            current = redirect_target(&current, &location, settings.allow_http)
                .map_err(|e| FetchError::new(FetchErrorKind::Redirect, e))?;
            continue;
        }
        if response.body.len() > max {
            return Err(too_large(max));
        }
        return Ok(response);
    }
}

/// Reads a discovery document (OpenID Connect or RFC 8414): its `issuer`
/// must satisfy `accept` (exact equality, but for a tenant's placeholder),
/// and its `jwks_uri` pass the URL policy. Answers the `jwks_uri`.
pub(super) fn parse_discovery(
    body: &[u8],
    accept: impl Fn(&str) -> bool,
    expected: &str,
    allow_http: bool,
) -> Result<String, FetchError> {
    let doc: Value = serde_json::from_slice(body).map_err(|_| {
        FetchError::new(
            FetchErrorKind::InvalidDocument,
            "the discovery document is not JSON",
        )
    })?;
    let found = doc.get("issuer").and_then(Value::as_str).ok_or_else(|| {
        FetchError::new(
            FetchErrorKind::InvalidDocument,
            "the discovery document has no `issuer`",
        )
    })?;
    if !accept(found) {
        return Err(FetchError::new(
            FetchErrorKind::InvalidDocument,
            format!(
                "the discovery document names issuer {:?}, not the configured {:?}: refused",
                loggable_url(found),
                loggable_url(expected)
            ),
        ));
    }
    let jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| {
        FetchError::new(
            FetchErrorKind::InvalidDocument,
            "the discovery document has no `jwks_uri`",
        )
    })?;
    let jwks_uri = check_url(jwks_uri, allow_http)
        .map_err(|e| FetchError::new(FetchErrorKind::InvalidDocument, e))?;
    Ok(jwks_uri.into())
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Progress {
    pub(super) started: u64,
    pub(super) completed: u64,
    pub(super) loaded: bool,
}

#[derive(Default)]
pub(super) struct Negative {
    pub(super) set: std::collections::HashSet<u64>,
}

#[derive(Clone, Default)]
pub(super) struct StatusInner {
    pub(super) last_success: Option<SystemTime>,
    pub(super) last_error: Option<FetchError>,
    pub(super) fetches: u64,
    pub(super) failures: u64,
}

/// A key set in use, and when it was fetched.
pub(crate) struct Loaded {
    pub(crate) keys: KeySet,
    pub(super) loaded_at: Instant,
    pub(crate) generation: u64,
    pub(super) body_hash: Option<u64>,
}

pub(super) struct Shared {
    pub(super) target: Target,
    pub(super) issuer: Option<String>,
    pub(super) settings: Settings,
    pub(super) client: Arc<dyn HttpClient>,
    pub(super) current: ArcSwapOption<Loaded>,
    /// The highest fetch number a caller waits for.
    pub(super) requested: AtomicU64,
    pub(super) last_on_demand: Mutex<Option<Instant>>,
    pub(super) negative: Mutex<Negative>,
    pub(super) hasher: RandomState,
    pub(super) status: Mutex<StatusInner>,
}

pub(super) struct Fetched {
    pub(crate) keys: KeySet,
    pub(super) refused: Vec<crate::key::KeyError>,
    pub(super) max_age: Option<Duration>,
    pub(super) body_hash: u64,
}

impl Shared {
    pub(super) fn fresh(&self) -> Option<Arc<Loaded>> {
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
        let response = get_following(&*self.client, url, &self.settings).await?;
        if !(200..300).contains(&response.status) {
            return Err(FetchError::new(
                FetchErrorKind::Status,
                format!("the server answered HTTP {}", response.status),
            ));
        }
        Ok((response.body, response.cache_control))
    }

    async fn discover(&self, issuer: &str, url: &str) -> Result<String, FetchError> {
        let body = self.get(url).await?;
        parse_discovery(
            &body,
            |found| found == issuer,
            issuer,
            self.settings.allow_http,
        )
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
        let (keys, refused) = KeySet::parse_jwks(&body, &self.settings.policy).map_err(|e| {
            FetchError::new(
                FetchErrorKind::InvalidDocument,
                format!("unusable JWK set: {e}"),
            )
        })?;
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
pub(super) fn max_age(value: &str) -> Option<Duration> {
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

/// `now + delay`; the settings are bounded, but this never overflows
/// regardless.
pub(super) fn later(delay: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(delay.min(MAX_REMOTE_DURATION))
        .unwrap_or(now)
}

pub(super) async fn run(
    shared: Arc<Shared>,
    mut wake: mpsc::Receiver<()>,
    progress: watch::Sender<Progress>,
) {
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
            Err(_) => Err(FetchError::new(
                FetchErrorKind::Timeout,
                format!("no answer within {:?}", shared.settings.timeout),
            )),
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
                    status.last_error = Some(e.clone());
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
}
