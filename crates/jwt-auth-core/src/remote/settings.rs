//! What a [`RemoteJwks`](super::RemoteJwks) fetches (`Target`) and how
//! (`Settings`), with the bounds `build` checks.

use std::fmt;
use std::time::Duration;

use super::policy::loggable_url;
use super::{MAX_FETCH_TIMEOUT, MAX_REMOTE_DURATION};
use crate::jws::JwksPolicy;

#[derive(Clone)]
pub(super) enum Target {
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

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) timeout: Duration,
    pub(super) refresh_interval: Duration,
    pub(super) min_interval: Duration,
    pub(super) max_interval: Duration,
    pub(super) cooldown: Duration,
    pub(super) max_stale: Duration,
    pub(super) backoff_initial: Duration,
    pub(super) backoff_max: Duration,
    pub(super) max_body: usize,
    pub(super) policy: JwksPolicy,
    pub(super) allow_http: bool,
}

impl Settings {
    /// Refuses durations that are zero where that makes no sense, or so
    /// large that time arithmetic could overflow.
    pub(super) fn check(&self) -> Result<(), String> {
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
