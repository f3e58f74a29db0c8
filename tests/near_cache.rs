//! The Redis store's near cache against real `redis-server`s on 127.0.0.1:
//! checks without a round trip, propagation between instances, and every
//! fault transition (paused, killed, restarted with and without its
//! append-only file) without a revoked token ever accepted.
//!
//! Without `redis-server` on PATH each test prints `SKIPPED` and passes,
//! unless `CI=true`, where it fails.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jwt_auth_core::{AuthErrorKind, Authenticator, Key, RevocationStore};
use jwt_auth_redis::RedisStore;
use jwt_auth_redis::redis;
use jwt_auth_tests::redis_server::RedisServer;
use serde_json::json;

const TTL: Duration = Duration::from_secs(600);
/// The trust window of these tests (the default is 1 s).
const WINDOW: Duration = Duration::from_millis(300);
const SYNC_BOUND: Duration = Duration::from_secs(10);

macro_rules! server {
    ($start:expr) => {
        match $start {
            Some(server) => server,
            None => return,
        }
    };
}

async fn store(server: &RedisServer) -> RedisStore {
    let store = RedisStore::builder()
        .near_cache(Some(WINDOW))
        .connect(&server.url())
        .await
        .unwrap();
    synced(&store, 1).await;
    store
}

async fn synced(store: &RedisStore, syncs: u64) {
    tokio::time::timeout(SYNC_BOUND, store.near_cache_synced(syncs))
        .await
        .expect("the near cache did not synchronise");
}

fn key() -> Key {
    Key::hmac(b"near-cache-secret-0123456789abcdef0123").unwrap()
}

fn token(jti: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    key()
        .encode(&json!({"sub": "alice", "jti": jti, "fam": format!("fam-{jti}"), "exp": exp}))
        .unwrap()
}

/// 200, 401 or 503, as the adapters would answer.
async fn status(auth: &Authenticator, jti: &str) -> u16 {
    let req = http::Request::get("/")
        .header("authorization", format!("Bearer {}", token(jti)))
        .body(())
        .unwrap();
    match auth.authenticate(&req).await {
        Ok(_) => 200,
        Err(e) if e.kind() == AuthErrorKind::Revoked => 401,
        Err(e) => e.kind().status().as_u16(),
    }
}

fn authenticator(store: &RedisStore) -> Authenticator {
    Authenticator::new(key()).revocation_store(store.clone())
}

async fn calls(server: &RedisServer, command: &str) -> u64 {
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut conn)
        .await
        .unwrap();
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

/// Waits until `store` answers `jti` revoked from its near cache; the time
/// it took.
async fn until_refused(store: &RedisStore, jti: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    loop {
        if store.is_revoked_now(Some(jti), None) == Some(Ok(true)) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < bound,
            "{jti} not refused within {bound:?}"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_cost_no_round_trip_and_revocations_propagate() {
    let server = server!(RedisServer::start());
    let (a, b) = (store(&server).await, store(&server).await);
    let auth_b = authenticator(&b);
    let before = calls(&server, "exists").await;
    for n in 0..50 {
        assert_eq!(status(&auth_b, &format!("live-{n}")).await, 200);
    }
    assert_eq!(
        calls(&server, "exists").await,
        before,
        "no EXISTS per request"
    );

    a.revoke_token("j-1", TTL).await.unwrap();
    until_refused(&b, "j-1", Duration::from_millis(100)).await;
    assert_eq!(status(&auth_b, "j-1").await, 401);
    a.revoke_family("fam-j-2", TTL).await.unwrap();
    let start = Instant::now();
    while b.is_revoked_now(None, Some("fam-j-2")) != Some(Ok(true)) {
        assert!(start.elapsed() < Duration::from_millis(100));
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    assert_eq!(status(&auth_b, "j-2").await, 401, "the family is revoked");
    let status_b = b.near_cache_status().unwrap();
    assert!(
        status_b.trusted && status_b.revocations == 2,
        "{status_b:?}"
    );
}

/// 100 logouts on one instance, each timed until the other refuses.
#[tokio::test(flavor = "multi_thread")]
async fn propagation_delay_of_a_hundred_logouts() {
    let server = server!(RedisServer::start());
    let (a, b) = (store(&server).await, store(&server).await);
    let mut delays = Vec::new();
    for n in 0..100 {
        let jti = format!("logout-{n}");
        let start = Instant::now();
        a.revoke_family(&format!("fam-{jti}"), TTL).await.unwrap();
        a.revoke_token(&jti, TTL).await.unwrap();
        until_refused(&b, &jti, Duration::from_secs(1)).await;
        delays.push(start.elapsed());
    }
    // Once refused, always refused.
    for n in 0..100 {
        assert_eq!(
            b.is_revoked_now(Some(&format!("logout-{n}")), None),
            Some(Ok(true))
        );
    }
    delays.sort();
    let (p50, p99, max) = (delays[49], delays[98], delays[99]);
    println!("near cache propagation: p50 {p50:?}, p99 {p99:?}, max {max:?} (100 logouts)");
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_redis_is_trusted_for_the_window_then_checks_fail_closed() {
    let server = server!(RedisServer::start());
    let (a, b) = (store(&server).await, store(&server).await);
    let auth_b = authenticator(&b);
    a.revoke_token("revoked", TTL).await.unwrap();
    until_refused(&b, "revoked", Duration::from_millis(100)).await;

    server.pause();
    let paused = Instant::now();
    // Within the window: the local state answers.
    assert_eq!(status(&auth_b, "revoked").await, 401);
    // Past it (the heartbeat is unanswered), checks ask Redis and fail closed.
    tokio::time::sleep(WINDOW + Duration::from_millis(100)).await;
    assert!(!b.near_cache_status().unwrap().trusted);
    assert_eq!(status(&auth_b, "revoked").await, 401, "what was seen holds");
    assert_eq!(status(&auth_b, "live").await, 503);
    // A logout sent while Redis is frozen fails, but Redis runs it on resume.
    let during = a.revoke_token("during-pause", TTL).await;
    assert!(during.is_err(), "{during:?}");
    println!("paused for {:?}", paused.elapsed());
    let syncs = b.near_cache_status().unwrap().syncs;
    server.resume();
    synced(&b, syncs + 1).await;
    assert_eq!(status(&auth_b, "live").await, 200);
    assert_eq!(status(&auth_b, "revoked").await, 401);
    assert_eq!(status(&auth_b, "during-pause").await, 401, "reconciled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_redis_stops_the_trust_at_once_and_a_restart_without_persistence_loses_state() {
    let mut server = server!(RedisServer::start());
    let (a, b) = (store(&server).await, store(&server).await);
    let auth_b = authenticator(&b);
    a.revoke_token("revoked", TTL).await.unwrap();
    until_refused(&b, "revoked", Duration::from_millis(100)).await;
    let syncs = b.near_cache_status().unwrap().syncs;
    let syncs_a = a.near_cache_status().unwrap().syncs;

    server.stop();
    // Its connections close: the first check 250 µs after the last look at
    // the canary sees it (no window of trust).
    tokio::time::sleep(Duration::from_micros(300)).await;
    assert_eq!(status(&auth_b, "live").await, 503, "fail closed at once");
    assert!(!b.near_cache_status().unwrap().trusted);
    assert_eq!(status(&auth_b, "revoked").await, 401, "what was seen holds");

    server.restart();
    synced(&b, syncs + 1).await;
    assert_eq!(status(&auth_b, "live").await, 200);
    assert_eq!(
        status(&auth_b, "revoked").await,
        401,
        "what this instance saw stays refused"
    );
    // The documented loss: a Redis restarted without persistence forgot it.
    let c = store(&server).await;
    assert_eq!(status(&authenticator(&c), "revoked").await, 200);
    // New revocations propagate again, once A's connection is back (the
    // first command after the restart may fail: the manager reconnects).
    synced(&a, syncs_a + 1).await;
    let start = Instant::now();
    while let Err(e) = a.revoke_token("after-restart", TTL).await {
        assert!(start.elapsed() < Duration::from_secs(3), "{e}");
    }
    until_refused(&b, "after-restart", Duration::from_millis(500)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_restarted_from_its_append_only_file_keeps_every_revocation() {
    let mut server = server!(RedisServer::start_persistent());
    let (a, b) = (store(&server).await, store(&server).await);
    a.revoke_token("revoked", TTL).await.unwrap();
    a.revoke_family("fam-family-revoked", TTL).await.unwrap();
    let syncs = b.near_cache_status().unwrap().syncs;
    server.restart();
    synced(&b, syncs + 1).await;
    let fresh = store(&server).await;
    for store in [&b, &fresh] {
        let auth = authenticator(store);
        assert_eq!(status(&auth, "revoked").await, 401);
        assert_eq!(status(&auth, "family-revoked").await, 401);
        assert_eq!(status(&auth, "live").await, 200);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revocations_missed_while_the_channel_was_down_are_reconciled() {
    let server = server!(RedisServer::start());
    let (a, b) = (store(&server).await, store(&server).await);
    let auth_b = Arc::new(authenticator(&b));
    let syncs = b.near_cache_status().unwrap().syncs;
    // Drop every subscriber's connection, then revoke at once: B may miss
    // the message, never the revocation.
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(killed >= 2, "{killed}");
    a.revoke_token("missed", TTL).await.unwrap();
    assert_ne!(status(&auth_b, "missed").await, 200);
    synced(&b, syncs + 1).await;
    assert_eq!(status(&auth_b, "missed").await, 401);
}
