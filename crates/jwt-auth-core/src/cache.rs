//! The verified-token cache: a token seen again is answered from memory,
//! without checking its signature again.
//!
//! - **Key:** SHA-256 of the whole token, never the token itself.
//! - **Value:** the verified token (its claims shared through an `Arc`), its
//!   `exp`/`nbf`, and, for remote keys, the key source and the key-set
//!   generation it was verified under.
//! - **On a hit** `exp`/`nbf` are checked again with the leeway, and the key
//!   set must still be the one the token was verified with (fresh, same
//!   generation); otherwise the token is verified again from scratch. The
//!   revocation check, when a store is configured, runs on hits too.
//! - **Lifetime:** an entry is served no longer than its token lives (`exp`
//!   plus the leeway; at most 5 minutes without `exp`); expired entries are
//!   dropped when looked up and swept every 4,096 inserts. The cache holds at
//!   most its capacity (10,000 by default), evicting the least useful
//!   entries (`quick_cache`, CLOCK-Pro: one-hit wonders do not push out
//!   tokens in use).
//! - Only successes are cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use sha2::{Digest, Sha256};

#[cfg(feature = "remote")]
use crate::remote::RemoteJwks;
use crate::token::VerifiedToken;

/// Entries for tokens without `exp` live at most this long.
const NO_EXP_TTL: Duration = Duration::from_secs(300);

/// The key set a cached token was verified with.
#[derive(Clone)]
pub(crate) enum Scope {
    /// Fixed keys: they cannot change under the entry.
    Static,
    /// Remote keys: the entry holds while the source serves this generation.
    #[cfg(feature = "remote")]
    Remote(RemoteJwks, u64),
}

impl Scope {
    fn still_valid(&self) -> bool {
        match self {
            Scope::Static => true,
            #[cfg(feature = "remote")]
            Scope::Remote(remote, generation) => remote
                .fresh()
                .is_some_and(|loaded| loaded.generation == *generation),
        }
    }
}

pub(crate) struct Entry {
    token: VerifiedToken,
    exp: Option<f64>,
    nbf: Option<f64>,
    scope: Scope,
    /// When the entry must be gone, in the cache's (monotonic) time.
    expires: Instant,
}

/// SHA-256 of the token: the cache key.
pub(crate) type TokenHash = [u8; 32];

/// A bounded map from token hash to verified token.
#[derive(Clone)]
pub(crate) struct TokenCache {
    entries: Option<Arc<Entries>>,
}

struct Entries {
    map: quick_cache::sync::Cache<TokenHash, Arc<Entry>>,
    inserts: AtomicU64,
}

/// Every this many inserts, entries past their lifetime are dropped (they
/// are never served anyway; this returns their memory early).
const PURGE_EVERY: u64 = 4096;

impl TokenCache {
    /// A cache of `capacity` entries; `0` is no cache.
    pub(crate) fn new(capacity: u64) -> Self {
        let entries = (capacity > 0).then(|| {
            Arc::new(Entries {
                map: quick_cache::sync::Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX)),
                inserts: AtomicU64::new(0),
            })
        });
        Self { entries }
    }

    pub(crate) fn is_enabled(&self) -> bool {
        self.entries.is_some()
    }

    pub(crate) fn hash(token: &str) -> TokenHash {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The cached token, if any and still valid at `now` with `leeway`.
    pub(crate) fn get(
        &self,
        hash: &TokenHash,
        now: SystemTime,
        leeway: Duration,
    ) -> Option<VerifiedToken> {
        let entries = self.entries.as_ref()?;
        let entry = entries.map.get(hash)?;
        let now = seconds(now);
        let leeway = leeway.as_secs_f64();
        let timely = entry.expires > Instant::now()
            && entry.exp.is_none_or(|exp| now < exp + leeway)
            && entry.nbf.is_none_or(|nbf| nbf - leeway <= now);
        if timely && entry.scope.still_valid() {
            Some(entry.token.clone())
        } else {
            entries.map.remove(hash);
            None
        }
    }

    /// Remembers a token that just verified.
    pub(crate) fn insert(
        &self,
        hash: TokenHash,
        token: &VerifiedToken,
        scope: Scope,
        now: SystemTime,
        leeway: Duration,
    ) {
        let Some(entries) = &self.entries else {
            return;
        };
        let claims = token.claims_map();
        let number = |name: &str| claims.get(name).and_then(Value::as_f64);
        let (exp, nbf) = (number("exp"), number("nbf"));
        let ttl = match exp {
            Some(exp) => {
                let left = exp + leeway.as_secs_f64() - seconds(now);
                if left.is_nan() || left <= 0.0 {
                    return;
                }
                Duration::try_from_secs_f64(left).unwrap_or(NO_EXP_TTL)
            }
            None => NO_EXP_TTL,
        };
        // Whatever the clock and the claims say, no arithmetic may overflow:
        // a deadline that cannot be represented is simply not cached.
        let Some(expires) = Instant::now().checked_add(ttl) else {
            return;
        };
        let entry = Entry {
            token: token.clone(),
            exp,
            nbf,
            scope,
            expires,
        };
        entries.map.insert(hash, Arc::new(entry));
        if entries.inserts.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            let now = Instant::now();
            entries.map.retain(|_, entry| entry.expires > now);
        }
    }

    /// How many entries are held (approximately: eviction is lazy).
    pub(crate) fn len(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.map.len() as u64)
    }
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
