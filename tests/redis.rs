//! The Redis revocation store against a real `redis-server` on 127.0.0.1
//! (one per test, on its own free port; see `support/redis_server.rs`):
//! the `RevocationStore` semantics of `MemoryStore`, expiry, two instances
//! sharing one Redis, Redis down, hung and restarted, and concurrent
//! rotations of one refresh token.
//!
//! Without `redis-server` on PATH each test prints `SKIPPED` and passes,
//! unless `CI=true`, where it fails.
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use jwt_auth_core::{RevocationStore, Rotation, StoreError, StoreErrorKind};
use jwt_auth_redis::RedisStore;
use jwt_auth_redis::redis::{self, aio::MultiplexedConnection};
use jwt_auth_tests::redis_server::RedisServer;

const TTL: Duration = Duration::from_secs(60);
/// What a store call must never exceed when Redis is down or hung.
const FAILURE_BOUND: Duration = Duration::from_secs(2);

/// Starts a server, or returns from the test when it is skipped.
macro_rules! server {
    () => {
        match RedisServer::start() {
            Some(server) => server,
            None => return,
        }
    };
}

async fn store(server: &RedisServer) -> RedisStore {
    RedisStore::connect(&server.url()).await.unwrap()
}

/// A plain connection, to look at the keys the store writes.
async fn raw(server: &RedisServer) -> MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn pttl(conn: &mut MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(conn).await.unwrap()
}

async fn get(conn: &mut MultiplexedConnection, key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(conn).await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_and_reuse() {
    let server = server!();
    let store = store(&server).await;
    assert_eq!(
        store.rotate("f", "a", "b", TTL).await,
        Ok(Rotation::Unknown)
    );
    store.start_family("f", "a", TTL).await.unwrap();
    assert_eq!(
        store.rotate("f", "a", "b", TTL).await,
        Ok(Rotation::Rotated)
    );
    assert_eq!(store.rotate("f", "a", "c", TTL).await, Ok(Rotation::Reused));
    assert_eq!(
        store.rotate("f", "b", "c", TTL).await,
        Ok(Rotation::Rotated)
    );
    store.revoke_family("f", TTL).await.unwrap();
    assert_eq!(store.is_revoked(None, Some("f")).await, Ok(true));
    assert_eq!(
        store.rotate("f", "c", "d", TTL).await,
        Ok(Rotation::Unknown)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_the_documented_ones() {
    let server = server!();
    let store = store(&server).await;
    let mut conn = raw(&server).await;
    store.revoke_token("j1", TTL).await.unwrap();
    store.start_family("f1", "r1", TTL).await.unwrap();
    assert_eq!(
        get(&mut conn, "jwt-auth:deny:j1").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        get(&mut conn, "jwt-auth:family:f1").await.as_deref(),
        Some("r1")
    );
    assert_eq!(
        store.rotate("f1", "r1", "r2", TTL).await,
        Ok(Rotation::Rotated)
    );
    assert_eq!(
        get(&mut conn, "jwt-auth:family:f1").await.as_deref(),
        Some("r2")
    );
    // Revoking the family sets its marker and deletes its current token,
    // in one transaction.
    store.revoke_family("f1", TTL).await.unwrap();
    assert_eq!(
        get(&mut conn, "jwt-auth:revoked-family:f1")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(get(&mut conn, "jwt-auth:family:f1").await, None);
    assert_eq!(
        store.rotate("f1", "r2", "r3", TTL).await,
        Ok(Rotation::Unknown)
    );
}

/// How many times the server ran `command` since the last `CONFIG RESETSTAT`.
async fn calls(conn: &mut MultiplexedConnection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(conn)
        .await
        .unwrap();
    // Lines like `cmdstat_exists:calls=1,usec=...`.
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
        .map_or(0, |rest| rest.split(',').next().unwrap().parse().unwrap())
}

async fn reset_stats(conn: &mut MultiplexedConnection) {
    redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .exec_async(conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn commands_sent_per_call() {
    let server = server!();
    let store = store(&server).await;
    let mut conn = raw(&server).await;

    // is_revoked: one EXISTS over both keys; nothing at all for no keys.
    reset_stats(&mut conn).await;
    assert_eq!(store.is_revoked(Some("j"), Some("f")).await, Ok(false));
    assert_eq!(store.is_revoked(None, None).await, Ok(false));
    assert_eq!(calls(&mut conn, "exists").await, 1);
    assert_eq!(calls(&mut conn, "get").await, 0);

    // revoke_family: SET, DEL and PUBLISH in one script run (loaded once).
    reset_stats(&mut conn).await;
    store.revoke_family("f", TTL).await.unwrap();
    store.revoke_family("f2", TTL).await.unwrap();
    assert_eq!(
        calls(&mut conn, "evalsha").await,
        3,
        "one NOSCRIPT, two runs"
    );
    assert_eq!(calls(&mut conn, "set").await, 2);
    assert_eq!(calls(&mut conn, "del").await, 2);
    assert_eq!(calls(&mut conn, "publish").await, 2);
    assert_eq!(calls(&mut conn, "multi").await, 0);

    // rotate: EVALSHA, falling back to loading the script once.
    reset_stats(&mut conn).await;
    store.start_family("g", "r0", TTL).await.unwrap();
    assert_eq!(
        store.rotate("g", "r0", "r1", TTL).await,
        Ok(Rotation::Rotated)
    );
    assert_eq!(
        store.rotate("g", "r1", "r2", TTL).await,
        Ok(Rotation::Rotated)
    );
    assert_eq!(
        calls(&mut conn, "evalsha").await,
        3,
        "one NOSCRIPT, two runs"
    );
    // `script|load` since Redis 7, `script` before.
    let loads = calls(&mut conn, "script|load").await + calls(&mut conn, "script").await;
    assert_eq!(loads, 1);
    assert_eq!(calls(&mut conn, "eval").await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn is_revoked_by_jti_family_both_or_none() {
    let server = server!();
    let store = store(&server).await;
    store.revoke_token("bad-jti", TTL).await.unwrap();
    store.revoke_family("bad-family", TTL).await.unwrap();

    assert_eq!(store.is_revoked(None, None).await, Ok(false));
    assert_eq!(store.is_revoked(Some("bad-jti"), None).await, Ok(true));
    assert_eq!(store.is_revoked(Some("ok-jti"), None).await, Ok(false));
    assert_eq!(store.is_revoked(None, Some("bad-family")).await, Ok(true));
    assert_eq!(store.is_revoked(None, Some("ok-family")).await, Ok(false));
    assert_eq!(
        store.is_revoked(Some("bad-jti"), Some("ok-family")).await,
        Ok(true)
    );
    assert_eq!(
        store.is_revoked(Some("ok-jti"), Some("bad-family")).await,
        Ok(true)
    );
    assert_eq!(
        store.is_revoked(Some("bad-jti"), Some("bad-family")).await,
        Ok(true)
    );
    assert_eq!(
        store.is_revoked(Some("ok-jti"), Some("ok-family")).await,
        Ok(false)
    );
    // A jti and a family of the same name are different things.
    assert_eq!(store.is_revoked(Some("bad-family"), None).await, Ok(false));
    assert_eq!(store.is_revoked(None, Some("bad-jti")).await, Ok(false));
    // With no server at all, asking about nothing needs no round trip.
    drop(server);
    assert_eq!(store.is_revoked(None, None).await, Ok(false));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_write_carries_the_requested_ttl() {
    let server = server!();
    let store = store(&server).await;
    let mut conn = raw(&server).await;
    let ttl = Duration::from_millis(45_678);
    let within = |pttl: i64| pttl <= 45_678 && pttl > 45_678 - 5_000;

    store.revoke_token("j", ttl).await.unwrap();
    store.revoke_family("f", ttl).await.unwrap();
    store.start_family("g", "r1", ttl).await.unwrap();
    for key in [
        "jwt-auth:deny:j",
        "jwt-auth:revoked-family:f",
        "jwt-auth:family:g",
    ] {
        let pttl = pttl(&mut conn, key).await;
        assert!(within(pttl), "{key}: PTTL {pttl}");
    }
    // A rotation sets the new token's own TTL.
    let longer = Duration::from_millis(98_765);
    assert_eq!(
        store.rotate("g", "r1", "r2", longer).await,
        Ok(Rotation::Rotated)
    );
    let after = pttl(&mut conn, "jwt-auth:family:g").await;
    assert!(after > 45_678 && after <= 98_765, "PTTL {after}");
    // Sub-millisecond TTLs round down, but never to "no expiry".
    store
        .revoke_token("tiny", Duration::from_micros(1500))
        .await
        .unwrap();
    let tiny = pttl(&mut conn, "jwt-auth:deny:tiny").await;
    // 1 ms left, or already gone (-2); never -1 (no expiry).
    assert!(tiny == -2 || (0..=1).contains(&tiny), "PTTL {tiny}");
}

#[tokio::test(flavor = "multi_thread")]
async fn entries_expire() {
    let server = server!();
    let store = store(&server).await;
    let ttl = Duration::from_millis(250);
    let written = Instant::now();
    store.revoke_token("short", ttl).await.unwrap();
    store.revoke_token("long", TTL).await.unwrap();
    store.revoke_family("fam", ttl).await.unwrap();
    assert_eq!(store.is_revoked(Some("short"), None).await, Ok(true));
    // Expiry is time-based: poll until Redis has dropped the entries.
    let deadline = written + Duration::from_secs(5);
    while store.is_revoked(Some("short"), Some("fam")).await != Ok(false) {
        assert!(Instant::now() < deadline, "not expired after 5 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(written.elapsed() >= ttl, "expired early");
    assert_eq!(store.is_revoked(Some("long"), None).await, Ok(true));
    // Zero is the shortest TTL Redis takes, 1 ms, not "forever".
    store.revoke_token("zero", Duration::ZERO).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while store.is_revoked(Some("zero"), None).await != Ok(false) {
        assert!(Instant::now() < deadline, "a zero TTL did not expire");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_see_each_other() {
    let server = server!();
    let a = store(&server).await;
    let b = store(&server).await;

    a.revoke_token("j", TTL).await.unwrap();
    assert_eq!(b.is_revoked(Some("j"), None).await, Ok(true));

    a.start_family("f", "r0", TTL).await.unwrap();
    assert_eq!(b.rotate("f", "r0", "r1", TTL).await, Ok(Rotation::Rotated));
    // The token B rotated away is a replay on A.
    assert_eq!(a.rotate("f", "r0", "x", TTL).await, Ok(Rotation::Reused));
    assert_eq!(a.rotate("f", "r1", "r2", TTL).await, Ok(Rotation::Rotated));

    b.revoke_family("f", TTL).await.unwrap();
    assert_eq!(a.is_revoked(Some("any"), Some("f")).await, Ok(true));
    assert_eq!(a.rotate("f", "r2", "r3", TTL).await, Ok(Rotation::Unknown));
}

#[tokio::test(flavor = "multi_thread")]
async fn prefixes_separate_services() {
    let server = server!();
    let a = store(&server).await;
    let other = RedisStore::builder()
        .prefix("other:")
        .connect(&server.url())
        .await
        .unwrap();
    assert_eq!(other.prefix(), "other:");
    a.revoke_token("j", TTL).await.unwrap();
    a.start_family("f", "r0", TTL).await.unwrap();
    assert_eq!(other.is_revoked(Some("j"), None).await, Ok(false));
    assert_eq!(
        other.rotate("f", "r0", "r1", TTL).await,
        Ok(Rotation::Unknown)
    );
    let mut conn = raw(&server).await;
    assert_eq!(
        get(&mut conn, "jwt-auth:family:f").await.as_deref(),
        Some("r0")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_shows_no_url_or_password() {
    let server = server!();
    // Redis without a password accepts AUTH-less connections; the URL still
    // carries one, which must never be shown.
    let store = RedisStore::connect(&format!("redis://127.0.0.1:{}/", server.port()))
        .await
        .unwrap();
    let shown = format!("{store:?}");
    assert!(shown.contains("jwt-auth:"), "{shown}");
    assert!(!shown.contains("127.0.0.1"), "{shown}");
    assert!(!shown.contains(&server.port().to_string()), "{shown}");

    let err = RedisStore::connect(&format!("redis://:hunter2@127.0.0.1:{}/", server.port()))
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    // A password given to a server that has none is refused; the error must
    // not repeat it.
    assert!(!err.contains("hunter2"), "{err}");
}

/// Runs every store method and asserts each fails within the bound.
async fn assert_every_method_fails_fast(store: &RedisStore, why: &str) {
    async fn timed<T: std::fmt::Debug>(
        what: &str,
        why: &str,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) {
        let started = Instant::now();
        let result = call.await;
        let took = started.elapsed();
        let err = result.expect_err(&format!("{what} succeeded with Redis {why}"));
        assert!(
            took < FAILURE_BOUND,
            "{what} took {took:?} with Redis {why}"
        );
        let message = err.to_string();
        assert!(message.starts_with("redis: "), "{message}");
        assert!(!message.contains("secret-jti"), "{message}");
    }
    timed(
        "is_revoked",
        why,
        store.is_revoked(Some("secret-jti"), Some("f")),
    )
    .await;
    timed("revoke_token", why, store.revoke_token("secret-jti", TTL)).await;
    timed("revoke_family", why, store.revoke_family("f", TTL)).await;
    timed(
        "start_family",
        why,
        store.start_family("f", "secret-jti", TTL),
    )
    .await;
    timed("rotate", why, store.rotate("f", "secret-jti", "n", TTL)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_fails_every_call_fast() {
    let mut server = server!();
    let store = store(&server).await;
    store.revoke_token("j", TTL).await.unwrap();
    server.stop();
    assert_every_method_fails_fast(&store, "down").await;
    // Again, now that the manager has noticed and is reconnecting.
    assert_every_method_fails_fast(&store, "still down").await;
    // Connecting anew fails fast too.
    let started = Instant::now();
    assert!(RedisStore::connect(&server.url()).await.is_err());
    assert!(started.elapsed() < FAILURE_BOUND);
}

#[tokio::test(flavor = "multi_thread")]
async fn hung_redis_fails_every_call_fast() {
    let server = server!();
    let store = store(&server).await;
    store.revoke_token("j", TTL).await.unwrap();
    server.pause();
    assert_every_method_fails_fast(&store, "hung").await;
    server.resume();
    // The timed-out connection is replaced; calls succeed again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.is_revoked(Some("j"), None).await {
            Ok(revoked) => {
                assert!(revoked, "the entry survived the pause");
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn restarted_redis_recovers() {
    let mut server = server!();
    let store = store(&server).await;
    store.start_family("f", "r0", TTL).await.unwrap();
    // Loads the rotation script into this server's script cache.
    assert_eq!(
        store.rotate("f", "r0", "r1", TTL).await,
        Ok(Rotation::Rotated)
    );

    server.stop();
    let err = store.revoke_token("j", TTL).await.unwrap_err();
    assert!(
        matches!(
            err.kind(),
            StoreErrorKind::Unavailable | StoreErrorKind::Timeout
        ),
        "{err:?}"
    );
    server.restart();

    // Reconnection happens in the background, on its own schedule: retry
    // until a deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Err(e) = store.revoke_token("j", TTL).await {
        assert!(Instant::now() < deadline, "not recovered after 10 s: {e}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(store.is_revoked(Some("j"), None).await, Ok(true));
    // The new server has no keys (no persistence) and no scripts: the
    // rotation falls back from EVALSHA to loading the script again.
    assert_eq!(
        store.rotate("f", "r1", "r2", TTL).await,
        Ok(Rotation::Unknown)
    );
    store.start_family("f", "s0", TTL).await.unwrap();
    assert_eq!(
        store.rotate("f", "s0", "s1", TTL).await,
        Ok(Rotation::Rotated)
    );
    assert_eq!(
        store.rotate("f", "s0", "s2", TTL).await,
        Ok(Rotation::Reused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_rotations_of_one_token_have_one_winner() {
    let server = server!();
    // Two instances, so the race is also between connections.
    let stores = [store(&server).await, store(&server).await];
    stores[0].start_family("f", "r0", TTL).await.unwrap();

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let next = format!("r1-{i}");
                let outcome = store.rotate("f", "r0", &next, TTL).await.unwrap();
                (outcome, next)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut reused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (Rotation::Rotated, next) => winners.push(next),
            (Rotation::Reused, _) => reused += 1,
            (Rotation::Unknown, _) => panic!("the family vanished"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(reused, 19);
    // The family's current token is the winner's.
    let mut conn = raw(&server).await;
    assert_eq!(
        get(&mut conn, "jwt-auth:family:f").await.as_deref(),
        Some(winners[0].as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dpop_proofs_are_accepted_once_across_instances() {
    use jwt_auth_core::ProofReplay;
    let server = server!();
    let a = store(&server).await;
    let b = store(&server).await;
    assert_eq!(a.first_use("jkt:jti-1", TTL).await, Ok(true));
    assert_eq!(b.first_use("jkt:jti-1", TTL).await, Ok(false));
    assert_eq!(a.first_use("jkt:jti-1", TTL).await, Ok(false));
    let mut conn = raw(&server).await;
    let ttl = pttl(&mut conn, "jwt-auth:dpop:jkt:jti-1").await;
    assert!(ttl > 59_000 && ttl <= 60_000, "{ttl}");
    // Many instances racing for one proof: exactly one wins.
    let stores = futures_util::future::join_all((0..8).map(|_| store(&server))).await;
    let wins =
        futures_util::future::join_all(stores.iter().map(|s| s.first_use("jkt:race", TTL))).await;
    assert_eq!(
        wins.iter().filter(|w| **w == Ok(true)).count(),
        1,
        "{wins:?}"
    );
    assert!(wins.iter().all(Result::is_ok));
}
