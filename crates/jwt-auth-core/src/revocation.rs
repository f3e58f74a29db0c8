//! Revocation state: denied tokens (`jti`s) and refresh-token families.
//!
//! An [`Authenticator`](crate::Authenticator) with a store checks every
//! verified token against it (one call, at most one round trip); without a
//! store there is no check at all. [`MemoryStore`] keeps the state in the
//! process; `jwt-auth-redis` shares it between instances through Redis.
//!
//! Entries expire on their own: a denied `jti` lives as long as its token
//! would have, so the store never grows without bound.
//!
//! ```
//! use std::time::Duration;
//! use jwt_auth_core::{MemoryStore, RevocationStore};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! store.revoke_token("jti-1", Duration::from_secs(60)).await?;
//! assert!(store.is_revoked(Some("jti-1"), None).await?);
//! assert!(!store.is_revoked(Some("jti-2"), Some("family-a")).await?);
//! # Ok::<(), jwt_auth_core::StoreError>(()) }).unwrap();
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::BoxFuture;
use crate::denylist::{DenyList, Kind};

/// Where revocation and refresh-rotation state lives. Implementations must
/// be safe to share between instances of a service when they claim to be
/// (Redis), and every method must answer in bounded time: a store that
/// cannot answer returns [`StoreError`], and the request fails closed (503)
/// unless the authenticator was told to fail open.
pub trait RevocationStore: Send + Sync + 'static {
    /// Whether the token `jti`, or any token of `family`, is revoked.
    /// Called on every authenticated request: one round trip at most.
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// Answers [`is_revoked`](Self::is_revoked) at once when the store can do
    /// so without waiting (its state is in this process), so that the
    /// request path creates no future. `None`, the default, means "ask
    /// `is_revoked`". A store that implements it must answer as
    /// `is_revoked` would, but for the store's own, documented propagation
    /// delay (a near cache: milliseconds), and answer `None` whenever it
    /// cannot be sure.
    fn is_revoked_now(
        &self,
        jti: Option<&str>,
        family: Option<&str>,
    ) -> Option<Result<bool, StoreError>> {
        let _ = (jti, family);
        None
    }

    /// Denies the token `jti` for `ttl` (its remaining life).
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Revokes every token of `family` (access and refresh) for `ttl` (the
    /// longest remaining life of its tokens).
    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Records `jti` as the current refresh token of a new `family`, for
    /// `ttl`.
    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Atomically replaces the current refresh token of `family`:
    /// `presented` → `next` (kept for `ttl`). Returns [`Rotation::Reused`]
    /// when the family's current token is another one (`presented` was
    /// already used), and [`Rotation::Unknown`] when the family has expired
    /// or never existed.
    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>>;
}

/// The outcome of [`RevocationStore::rotate`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// `presented` was current; `next` is now.
    Rotated,
    /// `presented` was already rotated away: a replayed refresh token.
    Reused,
    /// No such family (expired, or never started).
    Unknown,
}

kinded_error! {
    /// A store could not answer (unreachable, timed out, refused).
    StoreError, StoreErrorKind
}

/// The kinds of [`StoreError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store cannot be reached, or the command failed.
    Unavailable,
    /// No answer within the configured timeout.
    Timeout,
    /// The store's configuration is unusable (a bad URL, for example).
    InvalidConfig,
    /// The store answered something it never should.
    Protocol,
}

/// Shares one store between authenticators, token services and your code.
impl<S: RevocationStore + ?Sized> RevocationStore for Arc<S> {
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).is_revoked(jti, family)
    }

    fn is_revoked_now(
        &self,
        jti: Option<&str>,
        family: Option<&str>,
    ) -> Option<Result<bool, StoreError>> {
        (**self).is_revoked_now(jti, family)
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_token(jti, ttl)
    }

    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).revoke_family(family, ttl)
    }

    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        (**self).start_family(family, jti, ttl)
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        (**self).rotate(family, presented, next, ttl)
    }
}

/// What a [`MemoryStore`] entry holds: a marker, or a family's current
/// refresh token, and when it expires.
#[derive(Clone)]
struct Entry {
    value: Arc<str>,
    expires: Instant,
}

struct EntryExpiry;

impl moka::Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, now: Instant) -> Option<Duration> {
        Some(value.expires.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.expires.saturating_duration_since(now))
    }
}

/// Revocation state in this process, whose entries expire with their tokens:
/// the revocations checked on every request in a hash map read without a
/// copy or an allocation, the refresh families in a `moka` cache. The
/// default store: right for one instance; use `jwt-auth-redis` when several
/// instances must see each other's logouts.
///
/// Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct MemoryStore {
    denied: Arc<DenyList>,
    entries: moka::sync::Cache<String, Entry>,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("revocations", &self.denied.len())
            .field("families", &self.entries.entry_count())
            .finish()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store. Entries leave when their tokens expire; nothing is
    /// evicted before that, since evicting a revocation would bring a token
    /// back.
    pub fn new() -> Self {
        Self {
            denied: Arc::new(DenyList::with_capacity(None)),
            entries: moka::sync::Cache::builder()
                .expire_after(EntryExpiry)
                .build(),
        }
    }

    /// An empty store holding at most `max_entries` revocations and
    /// `max_entries` refresh families. **When full, entries are evicted
    /// before they expire (the revocations that expire first go first), and
    /// an evicted revocation no longer applies**: size it well above the
    /// number of tokens revoked within the longest token lifetime, or use
    /// [`new`](Self::new).
    pub fn with_capacity(max_entries: u64) -> Self {
        Self {
            denied: Arc::new(DenyList::with_capacity(Some(max_entries))),
            entries: moka::sync::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(EntryExpiry)
                .build(),
        }
    }

    fn put(&self, key: String, value: &str, ttl: Duration) {
        let entry = Entry {
            value: value.into(),
            expires: deadline(Instant::now(), ttl),
        };
        self.entries.insert(key, entry);
    }
}

/// The longest an entry is kept: a hundred years. Longer TTLs (up to
/// `Duration::MAX`) are cut to it, so no deadline overflows.
const MAX_ENTRY_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + ttl`, with `ttl` cut to [`MAX_ENTRY_TTL`]: never overflows, and
/// never shortens a revocation to less than a century.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    let ttl = ttl.min(MAX_ENTRY_TTL);
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

fn family_key(family: &str) -> String {
    format!("family:{family}")
}

impl MemoryStore {
    fn revoked(&self, jti: Option<&str>, family: Option<&str>) -> bool {
        self.denied.contains(jti, family)
    }
}

impl RevocationStore for MemoryStore {
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(std::future::ready(Ok(self.revoked(jti, family))))
    }

    fn is_revoked_now(
        &self,
        jti: Option<&str>,
        family: Option<&str>,
    ) -> Option<Result<bool, StoreError>> {
        Some(Ok(self.revoked(jti, family)))
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.denied
            .insert(Kind::Token, jti, deadline(Instant::now(), ttl));
        Box::pin(std::future::ready(Ok(())))
    }

    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.denied
            .insert(Kind::Family, family, deadline(Instant::now(), ttl));
        self.entries.invalidate(&family_key(family));
        Box::pin(std::future::ready(Ok(())))
    }

    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.put(family_key(family), jti, ttl);
        Box::pin(std::future::ready(Ok(())))
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        let key = family_key(family);
        let now = Instant::now();
        // Compare-and-set under moka's per-key lock.
        let mut outcome = Rotation::Unknown;
        let _ = self.entries.entry(key).and_compute_with(|current| {
            use moka::ops::compute::Op;
            match current {
                Some(entry) if entry.value().expires > now => {
                    if &*entry.value().value == presented {
                        outcome = Rotation::Rotated;
                        Op::Put(Entry {
                            value: next.into(),
                            expires: deadline(now, ttl),
                        })
                    } else {
                        outcome = Rotation::Reused;
                        Op::Nop
                    }
                }
                _ => Op::Nop,
            }
        });
        Box::pin(std::future::ready(Ok(outcome)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block<T>(f: BoxFuture<'_, T>) -> T {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut f = f;
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(v) => v,
            std::task::Poll::Pending => unreachable!("the memory store is synchronous"),
        }
    }

    #[test]
    fn rotation_and_reuse() {
        let store = MemoryStore::new();
        let ttl = Duration::from_secs(60);
        assert_eq!(
            block(store.rotate("f", "a", "b", ttl)),
            Ok(Rotation::Unknown)
        );
        block(store.start_family("f", "a", ttl)).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            block(store.rotate("f", "a", "b", ttl)),
            Ok(Rotation::Rotated)
        );
        assert_eq!(
            block(store.rotate("f", "a", "c", ttl)),
            Ok(Rotation::Reused)
        );
        assert_eq!(
            block(store.rotate("f", "b", "c", ttl)),
            Ok(Rotation::Rotated)
        );
        block(store.revoke_family("f", ttl)).unwrap_or_else(|_| unreachable!());
        assert_eq!(block(store.is_revoked(None, Some("f"))), Ok(true));
        assert_eq!(
            block(store.rotate("f", "c", "d", ttl)),
            Ok(Rotation::Unknown)
        );
    }

    #[test]
    fn huge_ttls_do_not_overflow() {
        let store = MemoryStore::new();
        block(store.revoke_token("j", Duration::MAX)).unwrap_or_else(|_| unreachable!());
        block(store.revoke_family("f", Duration::MAX)).unwrap_or_else(|_| unreachable!());
        block(store.start_family("g", "a", Duration::MAX)).unwrap_or_else(|_| unreachable!());
        assert_eq!(
            block(store.rotate("g", "a", "b", Duration::MAX)),
            Ok(Rotation::Rotated)
        );
        assert_eq!(block(store.is_revoked(Some("j"), Some("f"))), Ok(true));
    }

    #[test]
    fn long_ids_are_checked_too() {
        let store = MemoryStore::new();
        let long = "j".repeat(500);
        block(store.revoke_token(&long, Duration::from_secs(60)))
            .unwrap_or_else(|_| unreachable!());
        block(store.revoke_family(&long, Duration::from_secs(60)))
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(store.is_revoked_now(Some(&long), None), Some(Ok(true)));
        assert_eq!(store.is_revoked_now(None, Some(&long)), Some(Ok(true)));
        assert_eq!(store.is_revoked_now(Some("j"), Some("j")), Some(Ok(false)));
        assert_eq!(block(store.is_revoked(Some(&long), None)), Ok(true));
    }

    #[test]
    fn entries_expire() {
        let store = MemoryStore::new();
        block(store.revoke_token("gone", Duration::ZERO)).unwrap_or_else(|_| unreachable!());
        block(store.revoke_token("kept", Duration::from_secs(60)))
            .unwrap_or_else(|_| unreachable!());
        assert_eq!(block(store.is_revoked(Some("gone"), None)), Ok(false));
        assert_eq!(block(store.is_revoked(Some("kept"), None)), Ok(true));
    }
}
