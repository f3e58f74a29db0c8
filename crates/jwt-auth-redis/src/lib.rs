//! A Redis [`RevocationStore`] for jwt-auth: denied tokens and refresh-token
//! families live in Redis, so every instance of a service that shares one
//! Redis sees every other instance's logouts, revocations and rotations at
//! once.
//!
//! ```no_run
//! use std::time::Duration;
//! use jwt_auth_core::RevocationStore;
//! use jwt_auth_redis::RedisStore;
//!
//! # async fn run() -> Result<(), jwt_auth_core::StoreError> {
//! // The defaults: prefix "jwt-auth:", 500 ms response and 1 s connection timeouts.
//! let store = RedisStore::connect("redis://127.0.0.1:6379/").await?;
//!
//! // Or tuned:
//! let store = RedisStore::builder()
//!     .prefix("my-service:")
//!     .response_timeout(Duration::from_millis(200))
//!     .connection_timeout(Duration::from_millis(500))
//!     .connect("redis://127.0.0.1:6379/")
//!     .await?;
//!
//! store.revoke_token("jti-1", Duration::from_secs(900)).await?;
//! assert!(store.is_revoked(Some("jti-1"), None).await?);
//! # Ok(()) }
//! ```
//!
//! # Semantics
//!
//! The same as [`MemoryStore`](jwt_auth_core::MemoryStore), with three kinds
//! of keys under a prefix (default `"jwt-auth:"`), each written with a
//! millisecond expiry (`PX`, at least 1 ms) so Redis forgets an entry when
//! the token it concerns would have expired anyway:
//!
//! | key | value | written by |
//! | --- | --- | --- |
//! | `<prefix>deny:<jti>` | `1` | [`revoke_token`](RevocationStore::revoke_token) |
//! | `<prefix>revoked-family:<family>` | `1` | [`revoke_family`](RevocationStore::revoke_family) |
//! | `<prefix>family:<family>` | the family's current refresh `jti` | [`start_family`](RevocationStore::start_family), [`rotate`](RevocationStore::rotate) |
//! | `<prefix>dpop:<thumbprint>:<jti>` | `1` | [`first_use`](ProofReplay::first_use) (DPoP proofs seen) |
//!
//! - A request's check is answered by the [near cache](#the-near-cache)
//!   without a round trip;
//!   [`is_revoked`](RevocationStore::is_revoked) (what the check falls
//!   back to) is one `EXISTS` over the keys it is given (none when it is
//!   given neither a `jti` nor a family).
//! - [`revoke_token`](RevocationStore::revoke_token) sets its key and
//!   publishes it on `<prefix>revocations` in one Lua script run (atomic).
//! - [`revoke_family`](RevocationStore::revoke_family) sets the revoked
//!   marker, deletes the family's current token and publishes, in one Lua
//!   script run, so no rotation can slip in between.
//! - [`rotate`](RevocationStore::rotate) is a Lua script (sent as `EVALSHA`,
//!   loaded again automatically after a Redis restart): a compare-and-set
//!   that Redis runs atomically, so of any number of concurrent rotations of
//!   the same refresh token, on any number of instances, exactly one gets
//!   [`Rotation::Rotated`] and the others [`Rotation::Reused`].
//!
//! # The near cache
//!
//! Revocations are rare and every request must be checked, so by default
//! each store keeps every revoked `jti` and family in the process and the
//! check on a request is a hash lookup (as with `MemoryStore`), never a
//! round trip:
//!
//! - every revocation is written and published on `<prefix>revocations` in
//!   one transaction; each store subscribes and applies what it receives
//!   (another instance's logout is refused here within milliseconds);
//! - on every (re)subscription the local state is reconciled with a `SCAN`
//!   of the revocation keys, made after the subscription is confirmed, so a
//!   revocation made while the channel was down is never missed;
//! - a heartbeat (`PING` through the subscription, every quarter of the
//!   window) proves the channel alive: a paused Redis keeps its connections
//!   open and is only seen by unanswered pings; every 30 s the state is
//!   also reconciled in full, as a backstop for anything no message said. The local state is trusted
//!   only while the last answered ping is younger than the window (default
//!   1 s, [`RedisStoreBuilder::near_cache`]); past it, each check asks Redis
//!   (`EXISTS`, and 503 when Redis cannot answer) until the channel is back;
//! - a lost connection (Redis killed or restarted) stops the trust at once:
//!   besides the subscription, each store keeps one idle "canary"
//!   connection (plain TCP Redis), which trusted checks peek at (one
//!   non-blocking `recv`, at most once every 250 µs), so the first check
//!   after Redis exits already asks Redis and fails closed;
//! - entries are only added, and forgotten at their expiry: a revocation
//!   seen stays refused here, even if Redis loses it. A Redis restarted
//!   **without persistence has lost its revocations**: instances that saw
//!   them keep refusing those tokens, new instances accept them. Run Redis
//!   with AOF (`appendonly yes`) where that matters; a Redis restarted from
//!   its append-only file is reconciled from it;
//! - at most a million revocations are kept; beyond, the near cache turns
//!   itself off (every check asks Redis) rather than drop one.
//!
//! [`RedisStore::near_cache_status`] reports its state.
//!
//! # Timeouts and failures
//!
//! Every call answers in bounded time. The store talks to Redis through a
//! [`ConnectionManager`], which reconnects on its own after the connection
//! drops (Redis restarted, network blip). Each command waits at most the
//! *response timeout* (default 500 ms) for its answer, each connection
//! attempt at most the *connection timeout* (default 1 s), a lost
//! connection is retried once after a short pause, and a whole call,
//! including waiting for a reconnection, never takes longer than the two
//! timeouts added up (1.5 s by default). A Redis that is down, refuses
//! connections or hangs makes every call return [`StoreError`]; the
//! authenticator then fails closed (503) unless it was told to fail open.
//! Once Redis is back, calls succeed again without any action on your side.
//!
//! State lives only as long as Redis keeps it: run Redis with persistence
//! (RDB or AOF) if revocations must survive a Redis restart.
//!
//! # Secrets
//!
//! A Redis URL may carry a password: this crate never prints it, and neither
//! [`RedisStore`]'s `Debug` nor its errors contain the URL, a key or a token
//! identifier.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use jwt_auth_core::{
    BoxFuture, ProofReplay, RevocationStore, Rotation, StoreError, StoreErrorKind,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

mod conn;
mod near;

/// The `redis` crate this store is built on, for
/// [`RedisStore::from_manager`] and its [`ConnectionManagerConfig`].
pub use redis;

/// The key prefix used unless [`RedisStoreBuilder::prefix`] says otherwise.
pub const DEFAULT_PREFIX: &str = "jwt-auth:";
/// How long a command waits for Redis's answer by default.
pub const DEFAULT_RESPONSE_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a connection attempt may take by default.
pub const DEFAULT_CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the near cache trusts its state after Redis last answered.
pub const DEFAULT_NEAR_CACHE_WINDOW: Duration = Duration::from_secs(1);
/// The longest response or connection timeout: one minute. Longer values are
/// clamped to it, so a revocation check never holds a request longer, and no
/// timeout arithmetic can overflow.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Retries of a failed connection attempt before the attempt's callers get
/// an error (the next call starts a new attempt).
const RECONNECT_RETRIES: usize = 1;
/// The pause before such a retry (jittered below it).
const RECONNECT_DELAY: Duration = Duration::from_millis(50);
/// The longest a PX expiry can be without Redis refusing it.
const MAX_TTL_MS: u64 = (i64::MAX / 2) as u64;

/// Compare-and-set of a family's current refresh token.
/// KEYS[1] = family key; ARGV = presented, next, ttl in ms.
/// Returns 1 (rotated), 2 (reused) or 0 (unknown family).
const ROTATE_LUA: &str = r"
local current = redis.call('GET', KEYS[1])
if not current then
  return 0
end
if current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 2
";

static ROTATE: LazyLock<Script> = LazyLock::new(|| Script::new(ROTATE_LUA));

/// A revocation, written and published at once (a script runs atomically,
/// on the node of its keys, also in a cluster, where a `MULTI` could not
/// hold the `PUBLISH`).
/// KEYS[1] = the revocation key, KEYS[2] (optional) = a key to delete;
/// ARGV = ttl in ms, channel, message.
const REVOKE_LUA: &str = r"
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
if KEYS[2] then
  redis.call('DEL', KEYS[2])
end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
";

static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE_LUA));

/// A [`RevocationStore`] in Redis, shared by every instance of a service
/// that connects to the same Redis (and uses the same prefix). See the
/// [crate documentation](crate) for the keys, the semantics and the
/// timeouts.
///
/// Cheap to clone: clones share one multiplexed connection.
#[derive(Clone)]
pub struct RedisStore {
    conn: conn::Conn,
    /// The local copy of the revocation state, when on.
    near: Option<Arc<near::NearCache>>,
    prefix: Arc<str>,
    /// The bound on one whole call, reconnection included.
    call_timeout: Duration,
}

impl fmt::Debug for RedisStore {
    // Never the manager: its `Debug` shows the connection info, which may
    // hold a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &&*self.prefix)
            .field("near_cache", &self.near.as_ref().map(|n| n.is_trusted()))
            .field("call_timeout", &self.call_timeout)
            .finish_non_exhaustive()
    }
}

/// A snapshot of a [`RedisStore`]'s near cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct NearCacheStatus {
    /// The local state answers checks now (the channel is up and Redis
    /// answered a heartbeat within the window).
    pub trusted: bool,
    /// Synchronisations completed (the first, then one per reconnection).
    pub syncs: u64,
    /// Revocations kept locally.
    pub revocations: usize,
}

/// Options for a [`RedisStore`]: key prefix and timeouts. Made by
/// [`RedisStore::builder`].
#[derive(Clone)]
pub struct RedisStoreBuilder {
    prefix: String,
    response_timeout: Duration,
    connection_timeout: Duration,
    near_cache: Option<Duration>,
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("response_timeout", &self.response_timeout)
            .field("connection_timeout", &self.connection_timeout)
            .field("near_cache", &self.near_cache)
            .finish()
    }
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            prefix: DEFAULT_PREFIX.to_owned(),
            response_timeout: DEFAULT_RESPONSE_TIMEOUT,
            connection_timeout: DEFAULT_CONNECTION_TIMEOUT,
            near_cache: Some(DEFAULT_NEAR_CACHE_WINDOW),
        }
    }
}

impl RedisStoreBuilder {
    /// Puts every key under `prefix` (default [`DEFAULT_PREFIX`],
    /// `"jwt-auth:"`). Services that must not see each other's revocations
    /// in one Redis use different prefixes; instances of one service share
    /// one.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a command waits for Redis's answer (default 500 ms, at most
    /// [`MAX_TIMEOUT`]: longer values are clamped). A Redis that accepts
    /// connections but does not answer makes calls fail after this long.
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// How long one connection attempt may take (default 1 s, at most
    /// [`MAX_TIMEOUT`]: longer values are clamped). A Redis that is
    /// unreachable (packets dropped) makes calls fail after at most this plus
    /// the response timeout.
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout.min(MAX_TIMEOUT);
        self
    }

    /// Keeps every revocation in this process, current through a pub/sub
    /// channel, so that a check costs no round trip; `None` turns it off
    /// (every check asks Redis). The `window` (default
    /// [`DEFAULT_NEAR_CACHE_WINDOW`], 1 s; 100 ms to 60 s) is the longest
    /// the local state is trusted after Redis last answered a heartbeat:
    /// past it, checks ask Redis (and fail closed when it cannot answer)
    /// until the channel is back and the state reconciled. See the
    /// [crate documentation](crate#the-near-cache). Only
    /// [`connect`](Self::connect) can start it.
    pub fn near_cache(mut self, window: Option<Duration>) -> Self {
        self.near_cache =
            window.map(|w| w.clamp(Duration::from_millis(100), Duration::from_secs(60)));
        self
    }

    /// The [`ConnectionManagerConfig`] [`connect`](Self::connect) uses: these
    /// timeouts, and one retry of a failed connection attempt after a short
    /// pause. Start from it to tune the manager further, then pass the
    /// manager to [`build`](Self::build).
    pub fn manager_config(&self) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(Some(self.response_timeout))
            .set_connection_timeout(Some(self.connection_timeout))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_min_delay(RECONNECT_DELAY)
            .set_max_delay(RECONNECT_DELAY)
    }

    /// Connects to the Redis at `url` (`redis://[:password@]host[:port][/db]`;
    /// `rediss://` needs one of the `redis` crate's TLS features) and waits
    /// for the first connection. Fails if the URL is invalid or Redis cannot
    /// be reached in time.
    pub async fn connect(self, url: &str) -> Result<RedisStore, StoreError> {
        // The URL may hold a password: it is never part of the error.
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::new(
                StoreErrorKind::InvalidConfig,
                format!("redis: invalid URL: {}", describe(&e)),
            )
        })?;
        let config = self.manager_config();
        // Every attempt, the pause between them, and the handshake.
        let limit = self
            .connection_timeout
            .saturating_mul(RECONNECT_RETRIES as u32 + 1)
            .saturating_add(RECONNECT_DELAY.saturating_mul(RECONNECT_RETRIES as u32))
            .saturating_add(self.response_timeout);
        let manager = bounded("connect", limit, async {
            ConnectionManager::new_with_config(client.clone(), config).await
        })
        .await?;
        let window = self.near_cache;
        let store = self.build(manager);
        Ok(store.with_near_cache(window, vec![client]))
    }

    /// Connects to the Redis Cluster that `seeds` belong to (`redis://host:port`
    /// URLs of some of its nodes; the rest of the cluster is found from
    /// them) and waits for the first connection. The cluster-aware client
    /// follows the slot map and its changes; keys of one refresh family
    /// carry a hash tag (`family:{<family>}`), so a rotation and a family
    /// revocation each touch one slot and stay atomic. The near cache
    /// subscribes on every master (so no message depends on the cluster
    /// bus), reconciles from every master (on each resubscription, and every
    /// 30 s as a backstop), and is trusted only while every master answers
    /// its heartbeat: a dead master (even one never coming back, until it
    /// is forgotten with `CLUSTER FORGET`) leaves every check to Redis.
    ///
    /// Tested against Redis 7.0 clusters; Valkey speaks the same protocol
    /// but is untested.
    pub async fn connect_cluster(self, seeds: &[&str]) -> Result<RedisStore, StoreError> {
        let invalid = |e: &RedisError| {
            StoreError::new(
                StoreErrorKind::InvalidConfig,
                format!("redis: invalid cluster URL: {}", describe(e)),
            )
        };
        let clients = seeds
            .iter()
            .map(|url| redis::Client::open(*url).map_err(|e| invalid(&e)))
            .collect::<Result<Vec<_>, _>>()?;
        if clients.is_empty() {
            return Err(StoreError::new(
                StoreErrorKind::InvalidConfig,
                "redis: no cluster seed node",
            ));
        }
        let cluster = redis::cluster::ClusterClientBuilder::new(seeds.to_vec())
            .connection_timeout(self.connection_timeout)
            .response_timeout(self.response_timeout)
            .retries(RECONNECT_RETRIES as u32)
            .build()
            .map_err(|e| invalid(&e))?;
        let limit = self
            .connection_timeout
            .saturating_mul(2)
            .saturating_add(self.response_timeout);
        let connection = bounded("connect", limit, cluster.get_async_connection()).await?;
        let window = self.near_cache;
        let store = RedisStore {
            conn: conn::Conn::Cluster(connection),
            near: None,
            prefix: self.prefix.into(),
            call_timeout: self
                .response_timeout
                .saturating_add(self.connection_timeout),
        };
        Ok(store.with_near_cache(window, clients))
    }

    /// A store on a connection manager you made, with this builder's prefix;
    /// each call is bounded by this builder's response plus connection
    /// timeouts, whatever the manager's own settings.
    pub fn build(self, manager: ConnectionManager) -> RedisStore {
        RedisStore {
            conn: conn::Conn::Single(manager),
            near: None,
            prefix: self.prefix.into(),
            call_timeout: self
                .response_timeout
                .saturating_add(self.connection_timeout),
        }
    }
}

impl RedisStore {
    /// Connects to the Redis at `url` with the default prefix and timeouts
    /// (see [`RedisStore::builder`] to change them).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::builder().connect(url).await
    }

    /// Options: key prefix and timeouts.
    pub fn builder() -> RedisStoreBuilder {
        RedisStoreBuilder::default()
    }

    /// A store on a connection manager you made, with the default prefix.
    /// Each call is bounded by the default timeouts added up (1.5 s); use
    /// [`RedisStoreBuilder::build`] for others.
    pub fn from_manager(manager: ConnectionManager) -> Self {
        Self::builder().build(manager)
    }

    /// Starts the near cache (when `window` is set), subscribing on one of
    /// `nodes`.
    fn with_near_cache(mut self, window: Option<Duration>, nodes: Vec<redis::Client>) -> Self {
        if let Some(window) = window {
            let cache = near::NearCache::new(window);
            near::spawn(
                &cache,
                near::Subscriber {
                    nodes,
                    conn: self.conn.clone(),
                    prefix: Arc::clone(&self.prefix),
                    timeout: self.call_timeout,
                },
            );
            self.near = Some(cache);
        }
        self
    }

    /// The near cache's health, when it is on.
    pub fn near_cache_status(&self) -> Option<NearCacheStatus> {
        let near = self.near.as_ref()?;
        Some(NearCacheStatus {
            trusted: near.is_trusted(),
            syncs: near.syncs(),
            revocations: near.len(),
        })
    }

    /// Waits until the near cache has synchronised with Redis at least
    /// `syncs` times (subscribed, then reconciled): `1` is the first time
    /// after [`connect`](RedisStoreBuilder::connect). Returns at once when
    /// the near cache is off. Wrap it in a timeout to bound the wait.
    pub async fn near_cache_synced(&self, syncs: u64) {
        if let Some(near) = &self.near {
            near.synced(syncs).await;
        }
    }

    /// The prefix of every key this store writes.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn key(&self, kind: &str, id: &str) -> String {
        let mut key = String::with_capacity(self.prefix.len() + kind.len() + id.len());
        key.push_str(&self.prefix);
        key.push_str(kind);
        key.push_str(id);
        key
    }

    fn deny_key(&self, jti: &str) -> String {
        self.key("deny:", jti)
    }

    fn revoked_family_key(&self, family: &str) -> String {
        self.key("revoked-family:", &self.tagged(family))
    }

    fn family_key(&self, family: &str) -> String {
        self.key("family:", &self.tagged(family))
    }

    /// A family id as it appears in keys: in a cluster, a hash tag, so that
    /// every key of one family lives in one slot.
    fn tagged<'a>(&self, family: &'a str) -> std::borrow::Cow<'a, str> {
        if self.conn.is_cluster() {
            format!("{{{family}}}").into()
        } else {
            family.into()
        }
    }

    /// Runs one store operation on a clone of the connection (a handle),
    /// within the call bound.
    async fn run<T, F, Fut>(&self, op: &'static str, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(conn::Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        bounded(op, self.call_timeout, f(self.conn.clone())).await
    }

    /// Writes a revocation (`kind` `d`: a `jti`, `f`: a family), deletes
    /// `also_delete`, and publishes it for the near caches, in one script
    /// run: never written without being published.
    async fn revoke(
        &self,
        op: &'static str,
        kind: char,
        id: &str,
        also_delete: Option<String>,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = match kind {
            'd' => self.deny_key(id),
            _ => self.revoked_family_key(id),
        };
        let channel = self.key(near::CHANNEL, "");
        let message = near::message(kind, id, ttl_ms(ttl));
        self.run(op, |mut conn| async move {
            let mut invocation = REVOKE.prepare_invoke();
            invocation.key(key);
            if let Some(other) = also_delete {
                invocation.key(other);
            }
            invocation.arg(ttl_ms(ttl)).arg(channel).arg(message);
            invocation.invoke_async::<i64>(&mut conn).await.map(drop)
        })
        .await?;
        if let Some(near) = &self.near {
            near.add(kind, id, ttl);
        }
        Ok(())
    }

    async fn set_px(
        &self,
        op: &'static str,
        key: String,
        value: &str,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.run(op, |mut conn| async move {
            redis::cmd("SET")
                .arg(key)
                .arg(value)
                .arg("PX")
                .arg(ttl_ms(ttl))
                .exec_async(&mut conn)
                .await
        })
        .await
    }
}

/// The DPoP replay cache (RFC 9449 §11.1) shared by every instance: one
/// `SET <prefix>dpop:<thumbprint>:<jti> 1 NX PX <ttl>` per DPoP request,
/// the first writer wins. Give it to `Dpop::replay_cache`.
impl ProofReplay for RedisStore {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let key = self.key("dpop:", key);
            let set: Option<String> = self
                .run("dpop_first_use", |mut conn| async move {
                    redis::cmd("SET")
                        .arg(key)
                        .arg("1")
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl_ms(ttl))
                        .query_async(&mut conn)
                        .await
                })
                .await?;
            Ok(set.is_some())
        })
    }
}

impl RevocationStore for RedisStore {
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        Box::pin(async move {
            let keys: Vec<String> = jti
                .map(|j| self.deny_key(j))
                .into_iter()
                .chain(family.map(|f| self.revoked_family_key(f)))
                .collect();
            if keys.is_empty() {
                return Ok(false);
            }
            let found: u64 = self
                .run("is_revoked", |mut conn| async move {
                    if !conn.is_cluster() {
                        return redis::cmd("EXISTS").arg(keys).query_async(&mut conn).await;
                    }
                    // Keys of other slots: one EXISTS each.
                    let mut found = 0;
                    for key in keys {
                        let n: u64 = redis::cmd("EXISTS").arg(key).query_async(&mut conn).await?;
                        found += n;
                    }
                    Ok(found)
                })
                .await?;
            Ok(found > 0)
        })
    }

    fn is_revoked_now(
        &self,
        jti: Option<&str>,
        family: Option<&str>,
    ) -> Option<Result<bool, StoreError>> {
        self.near.as_ref()?.is_revoked(jti, family).map(Ok)
    }

    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.revoke("revoke_token", 'd', jti, None, ttl))
    }

    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        // The family's current token goes in the same transaction, so no
        // rotation can slip in between.
        let current = self.family_key(family);
        Box::pin(self.revoke("revoke_family", 'f', family, Some(current), ttl))
    }

    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.set_px("start_family", self.family_key(family), jti, ttl))
    }

    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        Box::pin(async move {
            let key = self.family_key(family);
            let outcome: i64 = self
                .run("rotate", |mut conn| async move {
                    let mut invocation = ROTATE.prepare_invoke();
                    invocation
                        .key(key)
                        .arg(presented)
                        .arg(next)
                        .arg(ttl_ms(ttl));
                    invocation.invoke_async(&mut conn).await
                })
                .await?;
            match outcome {
                1 => Ok(Rotation::Rotated),
                2 => Ok(Rotation::Reused),
                0 => Ok(Rotation::Unknown),
                _ => Err(StoreError::new(
                    StoreErrorKind::Protocol,
                    "redis: rotate: unexpected answer from the rotation script",
                )),
            }
        })
    }
}

/// `ttl` as a `PX` argument: whole milliseconds, at least 1 (Redis refuses
/// 0), at most what Redis accepts.
fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_TTL_MS)
}

/// Awaits `fut` for at most `limit`, mapping both failures to a
/// [`StoreError`] naming the operation.
async fn bounded<T>(
    op: &'static str,
    limit: Duration,
    fut: impl Future<Output = Result<T, RedisError>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(StoreError::new(
            if e.is_timeout() {
                StoreErrorKind::Timeout
            } else {
                StoreErrorKind::Unavailable
            },
            format!("redis: {op}: {}", describe(&e)),
        )),
        Err(_) => Err(StoreError::new(
            StoreErrorKind::Timeout,
            format!("redis: {op}: no answer within {limit:?}"),
        )),
    }
}

/// What went wrong, in words that never carry a URL, a key or a value: the
/// error's category, and the server's error code when it sent one.
fn describe(e: &RedisError) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() {
        "connection dropped".to_owned()
    } else if e.is_io_error() {
        "I/O error".to_owned()
    } else if let Some(code) = e.code() {
        format!("server error {code}")
    } else {
        format!("{:?} error", e.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_clamped() {
        let builder = RedisStore::builder()
            .response_timeout(Duration::MAX)
            .connection_timeout(Duration::from_secs(u64::MAX));
        assert_eq!(builder.response_timeout, MAX_TIMEOUT);
        assert_eq!(builder.connection_timeout, MAX_TIMEOUT);
    }

    #[test]
    fn ttl_is_whole_milliseconds_at_least_one() {
        assert_eq!(ttl_ms(Duration::ZERO), 1);
        assert_eq!(ttl_ms(Duration::from_micros(1500)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(60)), 60_000);
        assert_eq!(ttl_ms(Duration::MAX), MAX_TTL_MS);
    }

    #[tokio::test]
    async fn huge_timeouts_do_not_overflow() {
        let builder = RedisStore::builder()
            .response_timeout(Duration::MAX)
            .connection_timeout(Duration::MAX);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        // Refused at once: the (saturated) bound is never reached.
        let result = builder.connect(&format!("redis://127.0.0.1:{port}/")).await;
        assert!(result.is_err());
    }

    #[test]
    fn builder_debug_has_no_url() {
        let builder = RedisStore::builder().prefix("p:");
        let shown = format!("{builder:?}");
        assert!(shown.contains("\"p:\""), "{shown}");
    }

    #[tokio::test]
    async fn invalid_url_is_an_error_without_the_url() {
        let err = RedisStore::connect("nope://user:hunter2@somewhere")
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("redis: invalid URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn unreachable_redis_fails_in_bounded_time() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let started = std::time::Instant::now();
        let result = RedisStore::builder()
            .connection_timeout(Duration::from_millis(200))
            .connect(&format!("redis://:secret@127.0.0.1:{port}/"))
            .await;
        let err = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.starts_with("redis: connect:"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

/// The README's example, compiled as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
