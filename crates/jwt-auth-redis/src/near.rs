//! The near cache: every revoked `jti` and family, kept in this process and
//! kept current by a Redis pub/sub channel, so that the check on a request
//! costs a hash lookup instead of a round trip.
//!
//! - Every revocation is written and published in one script run, so a
//!   revocation that is in Redis has been published, and the other way
//!   round.
//! - A task per store holds a subscription, pings Redis through it every
//!   quarter of the window, and trusts the local state only while the last
//!   answered ping is younger than the window (default 1 s). A Redis that
//!   is paused keeps its connections open: only the missing answers show
//!   it.
//! - On every (re)subscription, the state is reconciled with a `SCAN` of
//!   the revocation keys, made *after* the subscription is confirmed, so
//!   nothing revoked meanwhile is missed. Entries are only ever added (and
//!   forgotten at their expiry), so the local state never loses a
//!   revocation it has seen.
//! - While the state is not trusted, each check asks Redis, as without the
//!   near cache (and fails closed when Redis cannot answer).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;

use crate::conn::Conn;

/// The channel revocations are published on, under the store's prefix.
pub(crate) const CHANNEL: &str = "revocations";

/// Entries kept at most; beyond, the local state is no longer trusted and
/// every check asks Redis (never a dropped revocation).
pub(crate) const MAX_ENTRIES: usize = 1_000_000;

/// The canary is peeked at most once every 250 µs: a Redis that exits is
/// seen by the first check 250 µs after the last peek.
pub(crate) const PEEK_EVERY_NANOS: u64 = 250_000;

/// How often expired entries are dropped, and the state reconciled in
/// full.
const PURGE_EVERY: Duration = Duration::from_secs(30);

/// The local copy of the revocation state.
pub(crate) struct NearCache {
    denied: RwLock<HashMap<Box<str>, Instant>>,
    families: RwLock<HashMap<Box<str>, Instant>>,
    /// Nanoseconds after `base` until which the state is trusted; 0: not.
    trusted_until: AtomicU64,
    /// Set when the entries exceed [`MAX_ENTRIES`].
    overflow: AtomicBool,
    base: Instant,
    window: Duration,
    /// Completed synchronisations (subscription confirmed, state reconciled).
    syncs: tokio::sync::watch::Sender<u64>,
    /// An idle connection to Redis, non-blocking, peeked by every trusted
    /// check: a Redis that exits closes it, and the very next check sees
    /// it, before the subscription task may have run.
    canary: RwLock<Option<std::net::TcpStream>>,
    /// When the canary was last peeked at (nanoseconds after `base`).
    peeked: AtomicU64,
}

impl NearCache {
    pub(crate) fn new(window: Duration) -> Arc<Self> {
        Arc::new(Self {
            denied: RwLock::default(),
            families: RwLock::default(),
            trusted_until: AtomicU64::new(0),
            overflow: AtomicBool::new(false),
            base: Instant::now(),
            window,
            syncs: tokio::sync::watch::Sender::new(0),
            canary: RwLock::new(None),
            peeked: AtomicU64::new(0),
        })
    }

    /// Whether the canary connection is still open (or there is none).
    fn canary_open(&self) -> bool {
        use std::io::Read;
        let canary = self.canary.read().unwrap_or_else(PoisonError::into_inner);
        let Some(mut stream) = canary.as_ref() else {
            return true;
        };
        // Read, not peek: an unread `+PONG` must not hide the end of the
        // stream behind it.
        let mut buf = [0u8; 64];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
            }
        }
    }

    /// Sends a `PING` on the canary and drains its answers; `false` once
    /// Redis has closed it.
    fn canary_ping(&self) -> bool {
        use std::io::{Read, Write};
        let canary = self.canary.read().unwrap_or_else(PoisonError::into_inner);
        let Some(mut stream) = canary.as_ref() else {
            return true;
        };
        let mut buf = [0u8; 256];
        loop {
            match stream.read(&mut buf) {
                Ok(0) => return false,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return false,
            }
        }
        const PING: &[u8] = b"PING\r\n";
        match stream.write(PING) {
            // A partial write would leave half a command: start over.
            Ok(n) => n == PING.len(),
            Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }

    /// Completed synchronisations so far.
    pub(crate) fn syncs(&self) -> u64 {
        *self.syncs.borrow()
    }

    /// Waits until at least `n` synchronisations have completed.
    pub(crate) async fn synced(&self, n: u64) {
        let mut rx = self.syncs.subscribe();
        let _ = rx.wait_for(|s| *s >= n).await;
    }

    /// How many revocations are kept.
    pub(crate) fn len(&self) -> usize {
        [&self.denied, &self.families]
            .iter()
            .map(|m| m.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The answer from the local state, when it is trusted now.
    pub(crate) fn is_revoked(&self, jti: Option<&str>, family: Option<&str>) -> Option<bool> {
        let now = Instant::now();
        let found = |map: &RwLock<HashMap<Box<str>, Instant>>, id: Option<&str>| {
            id.is_some_and(|id| {
                map.read()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(id)
                    .is_some_and(|until| now < *until)
            })
        };
        // A revocation seen holds whatever Redis says now (a Redis restarted
        // without persistence has forgotten it): only "not revoked" needs
        // a trusted state.
        if found(&self.denied, jti) || found(&self.families, family) {
            return Some(true);
        }
        let at = self.nanos(now);
        if at >= self.trusted_until.load(Ordering::Acquire) || self.overflow.load(Ordering::Relaxed)
        {
            return None;
        }
        // One look at the canary per 250 µs at most: a syscall is most of a
        // check.
        if at.saturating_sub(self.peeked.load(Ordering::Relaxed)) >= PEEK_EVERY_NANOS {
            self.peeked.store(at, Ordering::Relaxed);
            if !self.canary_open() {
                self.distrust();
                return None;
            }
        }
        Some(false)
    }

    /// Trusts the state until a window after `since` (a ping sent then was
    /// answered).
    fn trust(&self, since: Instant) {
        self.trusted_until
            .fetch_max(self.nanos(since + self.window), Ordering::AcqRel);
    }

    fn distrust(&self) {
        self.trusted_until.store(0, Ordering::Release);
    }

    fn set_canary(&self, stream: Option<std::net::TcpStream>) {
        *self.canary.write().unwrap_or_else(PoisonError::into_inner) = stream;
    }

    /// Whether the state is trusted now.
    pub(crate) fn is_trusted(&self) -> bool {
        self.is_revoked(None, None).is_some()
    }

    /// Records a revocation: `kind` `d` (a `jti`) or `f` (a family).
    pub(crate) fn add(&self, kind: char, id: &str, ttl: Duration) {
        let map = match kind {
            'd' => &self.denied,
            'f' => &self.families,
            _ => return,
        };
        let until = Instant::now() + ttl.min(Duration::from_secs(100 * 365 * 24 * 3600));
        let mut map = map.write().unwrap_or_else(PoisonError::into_inner);
        let entry = map.entry(id.into()).or_insert(until);
        *entry = (*entry).max(until);
        if map.len() > MAX_ENTRIES {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
            if map.len() > MAX_ENTRIES {
                self.overflow.store(true, Ordering::Relaxed);
                tracing::error!(
                    "jwt-auth-redis: more than {MAX_ENTRIES} revocations: the near cache is off, \
                     every check asks Redis"
                );
            }
        }
    }

    /// Applies a published message: `<kind> <ttl ms> <id>`.
    pub(crate) fn apply(&self, message: &str) {
        let mut parts = message.splitn(3, ' ');
        let (Some(kind), Some(ttl), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return;
        };
        let (Some(kind), Ok(ttl)) = (kind.chars().next(), ttl.parse::<u64>()) else {
            return;
        };
        self.add(kind, id, Duration::from_millis(ttl));
    }

    fn purge(&self) {
        let now = Instant::now();
        for map in [&self.denied, &self.families] {
            map.write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, until| *until > now);
        }
    }
}

/// The message a revocation publishes.
pub(crate) fn message(kind: char, id: &str, ttl_ms: u64) -> String {
    format!("{kind} {ttl_ms} {id}")
}

/// What the background task needs.
pub(crate) struct Subscriber {
    /// Where to subscribe: one Redis, or a cluster's seed nodes (tried in
    /// turn).
    pub(crate) nodes: Vec<redis::Client>,
    /// The store's connection.
    pub(crate) conn: Conn,
    pub(crate) prefix: Arc<str>,
    pub(crate) timeout: Duration,
}

/// Each node that holds keys (one Redis, or every master of a cluster),
/// with a connection for reconciling and heartbeats.
type Holders = Vec<(redis::Client, MultiplexedConnection)>;

impl Subscriber {
    /// Opens the canary connection to `node`, for a plain TCP Redis.
    async fn canary(&self, node: &redis::Client) -> Result<Option<std::net::TcpStream>, String> {
        let redis::ConnectionAddr::Tcp(host, port) = node.get_connection_info().addr() else {
            return Ok(None);
        };
        let stream = tokio::time::timeout(
            self.timeout,
            tokio::net::TcpStream::connect((host.as_str(), *port)),
        )
        .await
        .map_err(|_| "canary: no connection in time".to_owned())?
        .map_err(|e| format!("canary: {}", e.kind()))?;
        let stream = stream
            .into_std()
            .map_err(|e| format!("canary: {}", e.kind()))?;
        stream
            .set_nonblocking(true)
            .map_err(|e| format!("canary: {}", e.kind()))?;
        Ok(Some(stream))
    }

    /// Connections to the nodes that hold keys: `node` itself, or every
    /// master the cluster names now.
    async fn holders(&self, node: &redis::Client) -> Result<Holders, String> {
        let connect = |client: redis::Client| async move {
            tokio::time::timeout(self.timeout, client.get_multiplexed_async_connection())
                .await
                .map_err(|_| "connect: no answer in time".to_owned())?
                .map_err(|e| format!("connect: {}", crate::describe(&e)))
        };
        if !self.conn.is_cluster() {
            return Ok(vec![(node.clone(), connect(node.clone()).await?)]);
        }
        let mut conn = self.conn.clone();
        let nodes: String = tokio::time::timeout(
            self.timeout,
            redis::cmd("CLUSTER").arg("NODES").query_async(&mut conn),
        )
        .await
        .map_err(|_| "CLUSTER NODES: no answer in time".to_owned())?
        .map_err(|e| format!("CLUSTER NODES: {}", crate::describe(&e)))?;
        let mut holders = Vec::new();
        // `<id> <ip:port@cport[,hostname]> <flags> <master> ...`
        for line in nodes.lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let (Some(addr), Some(flags)) = (fields.get(1), fields.get(2)) else {
                continue;
            };
            // A failed master is kept: the state cannot be trusted while
            // revocations may sit where nobody can read them.
            if !flags.split(',').any(|f| f == "master") {
                continue;
            }
            let addr = addr.split(['@', ',']).next().unwrap_or_default();
            let Some((host, port)) = addr.rsplit_once(':') else {
                continue;
            };
            let Ok(port) = port.parse::<u16>() else {
                continue;
            };
            // The seed's scheme (TLS or not) and credentials, at this address.
            let (host, info) = (host.to_owned(), node.get_connection_info().clone());
            let addr = match info.addr().clone() {
                redis::ConnectionAddr::TcpTls {
                    insecure,
                    tls_params,
                    ..
                } => redis::ConnectionAddr::TcpTls {
                    host,
                    port,
                    insecure,
                    tls_params,
                },
                _ => redis::ConnectionAddr::Tcp(host, port),
            };
            let client = redis::Client::open(info.set_addr(addr))
                .map_err(|e| format!("connect: {}", crate::describe(&e)))?;
            holders.push((client.clone(), connect(client).await?));
        }
        if holders.is_empty() {
            return Err("the cluster names no master".into());
        }
        Ok(holders)
    }
}

/// Keeps `cache` current until it is dropped (the task holds it weakly).
pub(crate) fn spawn(cache: &Arc<NearCache>, subscriber: Subscriber) {
    let weak = Arc::downgrade(cache);
    tokio::spawn(async move { run(weak, subscriber).await });
}

async fn run(cache: Weak<NearCache>, sub: Subscriber) {
    let channel = format!("{}{CHANNEL}", sub.prefix);
    let mut delay = Duration::from_millis(50);
    for attempt in 0usize.. {
        let Some(window) = cache.upgrade().map(|c| c.window) else {
            return;
        };
        let node = &sub.nodes[attempt % sub.nodes.len()];
        match session(&cache, &sub, node, &channel, window).await {
            Ok(()) => delay = Duration::from_millis(50),
            Err(reason) => {
                tracing::warn!(%reason, "jwt-auth-redis: the revocation channel is lost; checks ask Redis");
            }
        }
        if let Some(cache) = cache.upgrade() {
            cache.distrust();
            cache.set_canary(None);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(1));
    }
}

/// One subscription, from connecting to losing it.
async fn session(
    cache: &Weak<NearCache>,
    sub: &Subscriber,
    node: &redis::Client,
    channel: &str,
    window: Duration,
) -> Result<(), String> {
    let bound = |what: &'static str| move |_| format!("{what}: no answer in time");
    let holders = sub.holders(node).await?;
    // Subscribed on every node that holds keys: a revocation's message
    // reaches the subscribers of the node that ran its script directly,
    // whatever happens to the cluster bus between nodes.
    let mut sinks = Vec::new();
    let mut streams = Vec::new();
    for (client, _) in &holders {
        let pubsub = tokio::time::timeout(sub.timeout, client.get_async_pubsub())
            .await
            .map_err(bound("connect"))?
            .map_err(|e| format!("connect: {}", crate::describe(&e)))?;
        let (mut sink, stream) = pubsub.split();
        tokio::time::timeout(sub.timeout, sink.subscribe(channel))
            .await
            .map_err(bound("subscribe"))?
            .map_err(|e| format!("subscribe: {}", crate::describe(&e)))?;
        sinks.push(sink);
        streams.push(stream);
    }
    let mut stream = futures_util::stream::select_all(streams);
    let pinged = Instant::now();
    let canary = sub.canary(node).await?;
    reconcile_all(cache, sub, &holders).await?;
    match cache.upgrade() {
        Some(cache) => {
            cache.set_canary(canary);
            cache.trust(pinged);
            cache.syncs.send_modify(|s| *s += 1);
        }
        None => return Ok(()),
    }
    let heartbeat = heartbeat(cache, sub, sinks, holders, window);
    tokio::pin!(heartbeat);
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(message) = message else {
                    return Err("the connection closed".into());
                };
                let Some(cache) = cache.upgrade() else { return Ok(()) };
                if let Ok(text) = message.get_payload::<String>() {
                    cache.apply(&text);
                }
            }
            lost = &mut heartbeat => return lost,
        }
    }
}

/// Pings through every subscription and every node that holds keys, every
/// quarter of the window, extending the trust after each round of answers;
/// ends at the first round unanswered within half the window. Reconciles
/// in full every [`PURGE_EVERY`], as a backstop.
async fn heartbeat(
    cache: &Weak<NearCache>,
    sub: &Subscriber,
    mut sinks: Vec<redis::aio::PubSubSink>,
    holders: Holders,
    window: Duration,
) -> Result<(), String> {
    let mut ticks = tokio::time::interval(window / 4);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purged = Instant::now();
    loop {
        ticks.tick().await;
        let sent = Instant::now();
        let round = async {
            for sink in &mut sinks {
                sink.ping::<redis::Value>().await?;
            }
            for (_, holder) in &holders {
                let mut holder = holder.clone();
                redis::cmd("PING")
                    .query_async::<redis::Value>(&mut holder)
                    .await?;
            }
            Ok::<(), redis::RedisError>(())
        };
        match tokio::time::timeout(window / 2, round).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("ping: {}", crate::describe(&e))),
            Err(_) => return Err("ping: no answer within half the window".into()),
        }
        {
            let Some(strong) = cache.upgrade() else {
                return Ok(());
            };
            if !strong.canary_ping() {
                return Err("the canary connection closed".into());
            }
            strong.trust(sent);
        }
        if purged.elapsed() >= PURGE_EVERY {
            purged = Instant::now();
            if let Some(strong) = cache.upgrade() {
                strong.purge();
            }
            // A backstop: what no message said (a key written by hand, a
            // message lost) is found within this period.
            reconcile_all(cache, sub, &holders).await?;
        }
    }
}

/// Adds every revocation held by every node to the local state.
async fn reconcile_all(
    cache: &Weak<NearCache>,
    sub: &Subscriber,
    holders: &Holders,
) -> Result<(), String> {
    for (_, conn) in holders {
        reconcile(cache, sub, conn.clone()).await?;
    }
    Ok(())
}

/// Adds every revocation held by one node to the local state.
async fn reconcile(
    cache: &Weak<NearCache>,
    sub: &Subscriber,
    mut conn: MultiplexedConnection,
) -> Result<(), String> {
    for (kind, pattern) in [('d', "deny:"), ('f', "revoked-family:")] {
        let prefix = format!("{}{pattern}", sub.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = tokio::time::timeout(
                sub.timeout,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}*", escape_glob(&prefix)))
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn),
            )
            .await
            .map_err(|_| "reconcile: no answer in time".to_owned())?
            .map_err(|e| format!("reconcile: {}", crate::describe(&e)))?;
            if !keys.is_empty() {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.cmd("PTTL").arg(key);
                }
                let ttls: Vec<i64> = tokio::time::timeout(sub.timeout, pipe.query_async(&mut conn))
                    .await
                    .map_err(|_| "reconcile: no answer in time".to_owned())?
                    .map_err(|e| format!("reconcile: {}", crate::describe(&e)))?;
                let Some(cache) = cache.upgrade() else {
                    return Ok(());
                };
                for (key, ttl) in keys.iter().zip(ttls) {
                    // -1: no expiry (never written so by this crate): keep it a day.
                    let ttl = match ttl {
                        -1 => 86_400_000,
                        t if t > 0 => t.unsigned_abs(),
                        _ => continue,
                    };
                    if let Some(id) = key.strip_prefix(&prefix) {
                        // A cluster's family ids are hash tags: `{id}`.
                        let id = match (sub.conn.is_cluster(), kind) {
                            (true, 'f') => id
                                .strip_prefix('{')
                                .and_then(|i| i.strip_suffix('}'))
                                .unwrap_or(id),
                            _ => id,
                        };
                        cache.add(kind, id, Duration::from_millis(ttl));
                    }
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    Ok(())
}

/// `s` with the glob characters of `SCAN MATCH` escaped.
fn escape_glob(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_state_answers_only_what_it_has_seen() {
        let cache = NearCache::new(Duration::from_secs(1));
        cache.add('d', "j1", Duration::from_secs(60));
        assert_eq!(cache.is_revoked(Some("j2"), None), None, "not trusted yet");
        assert_eq!(
            cache.is_revoked(Some("j1"), None),
            Some(true),
            "a revocation seen holds, trusted or not"
        );
        cache.trust(Instant::now());
        assert_eq!(cache.is_revoked(Some("j1"), None), Some(true));
        assert_eq!(cache.is_revoked(Some("j2"), Some("f")), Some(false));
        cache.apply("f 60000 fam one");
        assert_eq!(
            cache.is_revoked(None, Some("fam one")),
            Some(true),
            "ids may hold spaces"
        );
        cache.apply("garbage");
        cache.apply("d notanumber x");
        assert_eq!(cache.is_revoked(Some("x"), None), Some(false));
        cache.distrust();
        assert_eq!(cache.is_revoked(Some("x"), None), None);
        assert_eq!(cache.is_revoked(Some("j1"), None), Some(true));
        // Trust lapses a window after the last answered ping.
        cache.trust(Instant::now() - Duration::from_secs(2));
        assert_eq!(cache.is_revoked(Some("x"), None), None);
    }

    #[test]
    fn a_canary_with_unread_answers_still_shows_its_end() {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        client.set_nonblocking(true).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let cache = NearCache::new(Duration::from_secs(1));
        cache.set_canary(Some(client));
        assert!(cache.canary_open(), "idle");
        server.write_all(b"+PONG\r\n").unwrap();
        drop(server);
        // The unread answer, then the end: both read until the end shows.
        let start = Instant::now();
        while cache.canary_open() {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the end never showed"
            );
            std::thread::yield_now();
        }
    }

    #[test]
    fn entries_expire_and_are_never_shortened() {
        let cache = NearCache::new(Duration::from_secs(1));
        cache.trust(Instant::now());
        cache.add('d', "j", Duration::from_secs(60));
        cache.add('d', "j", Duration::ZERO);
        assert_eq!(cache.is_revoked(Some("j"), None), Some(true));
        cache.add('d', "gone", Duration::ZERO);
        cache.purge();
        assert_eq!(cache.is_revoked(Some("gone"), None), Some(false));
    }

    #[test]
    fn globs_are_escaped() {
        assert_eq!(escape_glob("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
