//! The verified-token cache: a token seen again is answered from memory,
//! without checking its signature again.
//!
//! - **Key:** the whole token, compared in full on a hit, so no collision
//!   can ever serve one token's claims for another. It is found through
//!   `quick_cache`'s default hasher (foldhash, seeded at random per cache),
//!   so a hit costs one fast hash of the token and one comparison: no
//!   cryptographic digest, no copy, no allocation. The token is held for the
//!   entry's life, as its claims are; the cache is never printed.
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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

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
    /// Unix seconds (on the validation clock) after which the entry is
    /// never served: `exp` plus the leeway, or 5 minutes after it was cached
    /// for a token without `exp`.
    deadline: f64,
}

/// A bounded map from token to verified token.
#[derive(Clone)]
pub(crate) struct TokenCache {
    entries: Option<Arc<Entries>>,
}

struct Entries {
    map: quick_cache::sync::Cache<Box<str>, Arc<Entry>>,
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

    /// The verified token cached for `token`, if it is still timely at
    /// `now` (the one clock reading of the request) and its key set is
    /// still the one it was verified with.
    pub(crate) fn get(
        &self,
        token: &str,
        now: SystemTime,
        leeway: Duration,
    ) -> Option<VerifiedToken> {
        let entries = self.entries.as_ref()?;
        let entry = entries.map.get(token)?;
        let now = seconds(now);
        let leeway = leeway.as_secs_f64();
        let timely = now < entry.deadline
            && entry.exp.is_none_or(|exp| now < exp + leeway)
            && entry.nbf.is_none_or(|nbf| nbf - leeway <= now);
        if timely && entry.scope.still_valid() {
            Some(entry.token.clone())
        } else {
            entries.map.remove(token);
            None
        }
    }

    pub(crate) fn insert(
        &self,
        raw: &str,
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
        let now = seconds(now);
        let deadline = match exp {
            Some(exp) => exp + leeway.as_secs_f64(),
            None => now + NO_EXP_TTL.as_secs_f64(),
        };
        if deadline.is_nan() || deadline <= now {
            return;
        }
        let entry = Entry {
            token: token.clone(),
            exp,
            nbf,
            scope,
            deadline,
        };
        entries.map.insert(raw.into(), Arc::new(entry));
        if entries.inserts.fetch_add(1, Ordering::Relaxed) % PURGE_EVERY == PURGE_EVERY - 1 {
            entries.map.retain(|_, entry| entry.deadline > now);
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.map.len() as u64)
    }
}

fn seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
