//! Authorization and the token lifecycle through both adapters: role, scope
//! and permission requirements; login → refresh → reuse detection → logout;
//! the revocation check failing closed (catalogue rows 20 and 21).
#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, test as actix_test, web};
use axum::Router;
use axum::routing::get;
use jwt_auth_core::{
    AuthErrorKind, BoxFuture, Key, MemoryStore, Requirement, RevocationStore, Rotation, StoreError,
    StoreErrorKind, TokenIssuer, TokenService,
};
use serde_json::{Value, json};
use tower::ServiceExt;

fn key() -> Key {
    Key::hmac(b"lifecycle-secret-0123456789abcdef").unwrap()
}

fn issuer() -> TokenIssuer {
    TokenIssuer::new(key())
        .unwrap()
        .issuer("https://auth.test")
        .audience("api")
        .access_ttl(Duration::from_secs(120))
        .refresh_ttl(Duration::from_secs(3600))
}

use jwt_auth_tests::guarded::both;

fn token(claims: Value) -> String {
    issuer()
        .access_token("alice", claims)
        .unwrap()
        .as_str()
        .to_owned()
}

#[actix_web::test]
async fn roles_scopes_and_permissions() {
    let auth = issuer().authenticator();
    let admin = token(json!({"roles": ["admin", "user"]}));
    let user = token(json!({"roles": "user"}));

    let role = Requirement::any_role(["admin"]);
    assert_eq!(both(&auth, &role, Some(&admin)).await.status, 200);
    let reply = both(&auth, &role, Some(&user)).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer error="insufficient_scope", error_description="the token lacks the required role or scope""#
        )
    );
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    // No token: still 401, with the bare challenge.
    let reply = both(&auth, &role, None).await;
    assert_eq!(reply.status, 401);
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    // An invalid token: 401, never 403.
    assert_eq!(both(&auth, &role, Some("a.b.c")).await.status, 401);

    let all = Requirement::all_roles(["admin", "user"]);
    assert_eq!(both(&auth, &all, Some(&admin)).await.status, 200);
    assert_eq!(both(&auth, &all, Some(&user)).await.status, 403);

    // Scopes: `scope` (space-separated) or `scp`; the challenge names them.
    let scope = Requirement::all_scopes(["orders:read", "orders:write"]);
    let reader = token(json!({"scope": "orders:read"}));
    let writer = token(json!({"scp": ["orders:read", "orders:write"]}));
    assert_eq!(both(&auth, &scope, Some(&writer)).await.status, 200);
    let reply = both(&auth, &scope, Some(&reader)).await;
    assert_eq!(reply.status, 403);
    assert!(
        reply
            .www_authenticate
            .as_deref()
            .unwrap()
            .ends_with(r#", scope="orders:read orders:write""#)
    );

    // Permissions, Keycloak's nested roles, a closure, a typed predicate.
    let perm = Requirement::any_permission(["delete:orders"]);
    let can = token(json!({"permissions": ["delete:orders"]}));
    assert_eq!(both(&auth, &perm, Some(&can)).await.status, 200);
    assert_eq!(both(&auth, &perm, Some(&admin)).await.status, 403);
    let keycloak = Requirement::any_role(["admin"]).from_claim("realm_access.roles");
    let kc = token(json!({"realm_access": {"roles": ["admin"]}}));
    assert_eq!(both(&auth, &keycloak, Some(&kc)).await.status, 200);
    assert_eq!(both(&auth, &keycloak, Some(&admin)).await.status, 403);
    let groups = Requirement::any_role(["ops"]).values_with(|claims| {
        claims
            .get("groups")
            .and_then(Value::as_array)
            .map(|g| {
                g.iter()
                    .filter_map(|v| v.as_str()?.strip_prefix("/").map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    });
    let ops = token(json!({"groups": ["/ops"]}));
    assert_eq!(both(&auth, &groups, Some(&ops)).await.status, 200);
    #[derive(serde::Deserialize)]
    struct Tenant {
        tenant: String,
    }
    let acme = Requirement::claims(|t: &Tenant| t.tenant == "acme");
    assert_eq!(
        both(&auth, &acme, Some(&token(json!({"tenant": "acme"}))))
            .await
            .status,
        200
    );
    assert_eq!(both(&auth, &acme, Some(&admin)).await.status, 403);
}

#[actix_web::test]
async fn authorization_without_authentication_is_a_server_error() {
    use jwt_auth_tower::Authorize;
    // The requirement layer alone (no JwtAuth): a configuration error.
    let app = Router::new()
        .route("/guarded", get(|| async { "ok" }))
        .route_layer(Authorize::new(Requirement::any_role(["admin"])));
    let response = app
        .oneshot(
            http::Request::get("/guarded")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 500);
    let app = actix_test::init_service(
        App::new().service(
            web::resource("/guarded")
                .wrap(jwt_auth_actix::Authorize::new(Requirement::any_role([
                    "admin",
                ])))
                .route(web::get().to(|| async { HttpResponse::Ok().finish() })),
        ),
    )
    .await;
    let response = actix_test::call_service(
        &app,
        actix_test::TestRequest::get().uri("/guarded").to_request(),
    )
    .await;
    assert_eq!(response.status(), 500);
}

/// Any requirement that always holds: the route just needs authentication.
fn authenticated() -> Requirement {
    Requirement::claims(|_: &Value| true)
}

#[actix_web::test]
async fn login_refresh_reuse_and_logout() {
    let service = TokenService::new(issuer());
    let auth = service.authenticator();
    let ok = authenticated();

    let first = service
        .login("alice", json!({"roles": ["admin"]}))
        .await
        .unwrap();
    assert_eq!(first.access.expires_in(), 120);
    assert_eq!(first.refresh.expires_in(), 3600);
    assert_eq!(
        both(&auth, &ok, Some(first.access.as_str())).await.status,
        200
    );
    // Row 20: a refresh token never authenticates; an access token never refreshes.
    assert_eq!(
        both(&auth, &ok, Some(first.refresh.as_str())).await.status,
        401
    );
    assert!(service.refresh(first.access.as_str()).await.is_err());

    // Rotation: a new pair, same family; custom claims carried over.
    let second = service.refresh(first.refresh.as_str()).await.unwrap();
    assert_ne!(second.refresh.jti(), first.refresh.jti());
    assert_eq!(second.refresh.family(), first.refresh.family());
    let admin = Requirement::any_role(["admin"]);
    assert_eq!(
        both(&auth, &admin, Some(second.access.as_str()))
            .await
            .status,
        200
    );

    // Row 21: replaying the first refresh token kills the whole family.
    let err = service.refresh(first.refresh.as_str()).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Revoked);
    assert_eq!(
        service
            .refresh(second.refresh.as_str())
            .await
            .unwrap_err()
            .kind(),
        AuthErrorKind::Revoked
    );
    for access in [&first.access, &second.access] {
        let reply = both(&auth, &ok, Some(access.as_str())).await;
        assert_eq!(reply.status, 401);
        assert!(reply.body.contains("revoked"));
    }

    // Logout: the access token and its family's refresh token stop working.
    let third = service.login("bob", json!({})).await.unwrap();
    assert_eq!(
        both(&auth, &ok, Some(third.access.as_str())).await.status,
        200
    );
    let verified = auth.verify(third.access.as_str()).unwrap();
    service.logout(&verified).await.unwrap();
    assert_eq!(
        both(&auth, &ok, Some(third.access.as_str())).await.status,
        401
    );
    assert!(service.refresh(third.refresh.as_str()).await.is_err());
    // Other sessions are untouched.
    let fourth = service.login("bob", json!({})).await.unwrap();
    assert_eq!(
        both(&auth, &ok, Some(fourth.access.as_str())).await.status,
        200
    );
}

#[actix_web::test]
async fn concurrent_refreshes_rotate_once() {
    let service = TokenService::new(issuer());
    let pair = service.login("alice", json!({})).await.unwrap();
    let results =
        futures_util::future::join_all((0..10).map(|_| service.refresh(pair.refresh.as_str())))
            .await;
    // One wins; the others are replays, which revoke the family.
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
}

#[test]
fn the_refresh_cookies_match_the_token() {
    let service = TokenService::new(issuer());
    let pair = service.issuer().token_pair("alice", json!({})).unwrap();
    let cookies = service.set_cookies(&pair);
    // One per endpoint that needs it, and no other path.
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for (cookie, path) in cookies.iter().zip(["Path=/refresh", "Path=/logout"]) {
        assert!(cookie.starts_with(&format!("refresh_token={};", pair.refresh.as_str())));
        for attribute in ["HttpOnly", "Secure", "SameSite=Strict", path] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        let max_age: u64 = cookie
            .split("; ")
            .find_map(|a| a.strip_prefix("Max-Age="))
            .unwrap()
            .parse()
            .unwrap();
        // Seconds, and consistent with the token's own `exp`.
        let left = pair.refresh.expires_at()
            - std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
        assert!(max_age.abs_diff(left) <= 1, "{max_age} vs {left}");
    }
    let cleared = service.clear_cookies();
    assert_eq!(cleared.len(), 2);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert!(cleared[1].contains("Path=/logout"), "{cleared:?}");
    let custom = TokenService::new(issuer())
        .refresh_cookie(jwt_auth_core::RefreshCookie::default().paths(["/auth/refresh"]));
    assert_eq!(custom.set_cookies(&pair).len(), 1);
}

fn with_cookies(values: &[&str], headers: &[(&str, &str)]) -> http::Request<()> {
    let cookie = values
        .iter()
        .map(|v| format!("refresh_token={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut req = http::Request::post("/refresh").header("cookie", cookie);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.body(()).unwrap()
}

#[tokio::test]
async fn a_stale_duplicate_cookie_does_not_revoke_a_live_family() {
    let service = TokenService::new(issuer());
    let first = service.login("alice", json!({})).await.unwrap();
    let second = service.refresh(first.refresh.as_str()).await.unwrap();
    let (stale, live) = (first.refresh.as_str(), second.refresh.as_str());
    // The browser sends the stale duplicate first (or last): the live one is
    // rotated, nothing is revoked.
    let third = service
        .refresh_request(&with_cookies(&[stale, live], &[]))
        .await
        .expect("the live cookie rotates");
    let fourth = service
        .refresh_request(&with_cookies(&[third.refresh.as_str(), stale], &[]))
        .await
        .expect("the live cookie rotates, in either order");
    // The family is alive: its access tokens work.
    let auth = service.authenticator();
    let bearer = |token: &str| {
        http::Request::get("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
    };
    assert!(
        auth.authenticate(&bearer(fourth.access.as_str()))
            .await
            .is_ok()
    );
    // Only stale ones presented: that is a reuse, and the family dies.
    let err = service
        .refresh_request(&with_cookies(&[stale, third.refresh.as_str()], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Revoked);
    let err = auth
        .authenticate(&bearer(fourth.access.as_str()))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Revoked);
    assert!(service.refresh(fourth.refresh.as_str()).await.is_err());
    // Garbage beside nothing current is refused as such.
    let err = service
        .refresh_request(&with_cookies(&["a.b.c", "x"], &[]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::Malformed);
}

#[tokio::test]
async fn a_stolen_stale_token_beside_the_callers_own_still_revokes_its_family() {
    let service = TokenService::new(issuer());
    let victim = service.login("victim", json!({})).await.unwrap();
    let victim_next = service.refresh(victim.refresh.as_str()).await.unwrap();
    let attacker = service.login("attacker", json!({})).await.unwrap();
    // The stolen, already rotated token first, the attacker's own after.
    let pair = service
        .refresh_request(&with_cookies(
            &[victim.refresh.as_str(), attacker.refresh.as_str()],
            &[],
        ))
        .await
        .expect("the attacker's own token rotates");
    assert_eq!(pair.refresh.family(), attacker.refresh.family());
    // The victim's family is revoked: the reuse was seen.
    assert!(service.refresh(victim_next.refresh.as_str()).await.is_err());
    // A GET to the refresh endpoint gets the origin check too.
    let service = TokenService::new(issuer());
    let login = service.login("alice", json!({})).await.unwrap();
    let cookie = format!("refresh_token={}", login.refresh.as_str());
    let get = http::Request::get("/refresh")
        .header("cookie", cookie)
        .header("sec-fetch-site", "same-site")
        .body(())
        .unwrap();
    let err = service.refresh_request(&get).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::CrossSiteRequest);
    // Junk cookies planted before the real one do not hide it.
    let mut values: Vec<String> = (0..10).map(|i| format!("junk-{i}")).collect();
    values.insert(3, "x".repeat(9000));
    values.push(login.refresh.as_str().to_owned());
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    service
        .revoke_refresh_cookie(&with_cookies(&refs, &[]))
        .await
        .unwrap();
    assert!(
        service.refresh(login.refresh.as_str()).await.is_err(),
        "revoked"
    );
}

#[tokio::test]
async fn the_refresh_cookie_is_refused_across_sites() {
    let service = TokenService::new(issuer())
        .csrf(jwt_auth_core::CsrfPolicy::new().allowed_origin("https://app.example.com"));
    let pair = service.login("alice", json!({})).await.unwrap();
    let token = pair.refresh.as_str();
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.example")],
    ] {
        let err = service
            .refresh_request(&with_cookies(&[token], headers))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::CrossSiteRequest, "{headers:?}");
        assert_eq!(err.status(), 403);
        let err = service
            .revoke_refresh_cookie(&with_cookies(&[token], headers))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::CrossSiteRequest, "{headers:?}");
    }
    // Nothing was spent or revoked: the same cookie still rotates.
    let next = service
        .refresh_request(&with_cookies(
            &[token],
            &[
                ("origin", "https://app.example.com"),
                ("sec-fetch-site", "cross-site"),
            ],
        ))
        .await
        .expect("an allowed origin");
    let next = service
        .refresh_request(&with_cookies(
            &[next.refresh.as_str()],
            &[("sec-fetch-site", "same-origin")],
        ))
        .await
        .expect("same origin");
    // Without the cookie there is nothing to forge: 401, not 403.
    let none = http::Request::post("/refresh")
        .header("sec-fetch-site", "cross-site")
        .body(())
        .unwrap();
    let err = service.refresh_request(&none).await.unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::MissingToken);
    assert!(service.revoke_refresh_cookie(&none).await.is_ok());
    service
        .revoke_refresh_cookie(&with_cookies(&[next.refresh.as_str()], &[]))
        .await
        .unwrap();
    assert!(service.refresh(next.refresh.as_str()).await.is_err());
}

/// A store whose backend can be switched off, to show what the authenticator
/// does when revocation state cannot be read (the real Redis outage is in
/// `tests/redis.rs`).
#[derive(Clone, Default)]
struct Switchable {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Switchable {
    fn gate<'a, T: Send + 'static>(
        &'a self,
        f: BoxFuture<'a, Result<T, StoreError>>,
    ) -> BoxFuture<'a, Result<T, StoreError>> {
        if self.down.load(Ordering::SeqCst) {
            Box::pin(std::future::ready(Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "store is down",
            ))))
        } else {
            f
        }
    }
}

impl RevocationStore for Switchable {
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.gate(self.inner.is_revoked(jti, family))
    }
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.gate(self.inner.revoke_token(jti, ttl))
    }
    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.gate(self.inner.revoke_family(family, ttl))
    }
    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        self.gate(self.inner.start_family(family, jti, ttl))
    }
    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<Rotation, StoreError>> {
        self.gate(self.inner.rotate(family, presented, next, ttl))
    }
}

#[actix_web::test]
async fn an_unreachable_store_fails_closed_unless_told_otherwise() {
    let store = Switchable::default();
    let service = TokenService::with_store(issuer(), store.clone());
    let pair = service.login("alice", json!({})).await.unwrap();
    let closed = service.authenticator();
    let open = service.authenticator().revocation_fail_open(true);
    let ok = authenticated();
    assert_eq!(
        both(&closed, &ok, Some(pair.access.as_str())).await.status,
        200
    );

    store.down.store(true, Ordering::SeqCst);
    let reply = both(&closed, &ok, Some(pair.access.as_str())).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.www_authenticate, None);
    assert_eq!(
        both(&open, &ok, Some(pair.access.as_str())).await.status,
        200
    );
    // Refreshing needs the store: refused, not granted.
    assert_eq!(
        service
            .refresh(pair.refresh.as_str())
            .await
            .unwrap_err()
            .kind(),
        AuthErrorKind::RevocationUnavailable
    );

    store.down.store(false, Ordering::SeqCst);
    assert_eq!(
        both(&closed, &ok, Some(pair.access.as_str())).await.status,
        200
    );
    assert!(service.refresh(pair.refresh.as_str()).await.is_ok());
}

/// Two services (two "instances") sharing one real `redis-server`: a logout
/// or a replayed refresh token on one is seen by the other, through both
/// adapters; Redis down fails closed (503), and a restart recovers.
#[actix_web::test]
async fn two_instances_share_revocations_through_redis() {
    use jwt_auth_core::RevocationStore;
    /// Waits (at most 100 ms) until `store`'s near cache refuses `token`.
    async fn propagated(store: &RedisStore, auth: &jwt_auth_core::Authenticator, token: &str) {
        let verified = auth.verify(token).unwrap();
        let claims = verified.claims_map();
        let (jti, fam) = (
            claims.get("jti").and_then(|v| v.as_str()),
            claims.get("fam").and_then(|v| v.as_str()),
        );
        let start = std::time::Instant::now();
        while store.is_revoked_now(jti, fam) != Some(Ok(true)) {
            assert!(
                start.elapsed() < Duration::from_millis(100),
                "not propagated"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    use jwt_auth_redis::RedisStore;
    use jwt_auth_tests::redis_server::RedisServer;

    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let store_b = RedisStore::connect(&server.url()).await.unwrap();
    let store_a = RedisStore::connect(&server.url()).await.unwrap();
    let a = TokenService::with_store(issuer(), store_a.clone());
    let b = TokenService::with_store(issuer(), store_b.clone());
    let (auth_a, auth_b) = (a.authenticator(), b.authenticator());
    let ok = authenticated();

    // Logout on A; B refuses the token.
    let pair = a.login("alice", json!({})).await.unwrap();
    assert_eq!(
        both(&auth_b, &ok, Some(pair.access.as_str())).await.status,
        200
    );
    a.logout(&auth_a.verify(pair.access.as_str()).unwrap())
        .await
        .unwrap();
    // B's near cache learns it from Redis's channel: within 100 ms.
    propagated(&store_b, &auth_b, pair.access.as_str()).await;
    assert_eq!(
        both(&auth_b, &ok, Some(pair.access.as_str())).await.status,
        401
    );
    assert!(b.refresh(pair.refresh.as_str()).await.is_err());

    // Refresh on A, replay on B: the family dies on both.
    let first = b.login("bob", json!({})).await.unwrap();
    let second = a.refresh(first.refresh.as_str()).await.unwrap();
    assert_eq!(
        b.refresh(first.refresh.as_str()).await.unwrap_err().kind(),
        AuthErrorKind::Revoked
    );
    assert!(a.refresh(second.refresh.as_str()).await.is_err());
    propagated(&store_a, &auth_a, second.access.as_str()).await;
    assert_eq!(
        both(&auth_a, &ok, Some(second.access.as_str()))
            .await
            .status,
        401
    );

    // Redis down: fail closed on every request, once the near cache has
    // seen its subscription close (at once; at most its 1 s window).
    let live = a.login("carol", json!({})).await.unwrap();
    server.stop();
    let stopped = std::time::Instant::now();
    while store_b.near_cache_status().is_some_and(|s| s.trusted) {
        assert!(
            stopped.elapsed() < Duration::from_secs(1),
            "trusted past the window"
        );
        tokio::task::yield_now().await;
    }
    let reply = both(&auth_b, &ok, Some(live.access.as_str())).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.www_authenticate, None);
    // Restarted (empty): the connection manager reconnects; reconnection is
    // time-based, so poll with a deadline.
    server.restart();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let status = both(&auth_b, &ok, Some(live.access.as_str())).await.status;
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no recovery: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SECURITY.md row 29, in real time, on one store: with a refresh TTL (1 s)
/// shorter than the access TTL (120 s), a logout and a detected reuse still
/// refuse the family's access tokens after the refresh TTL has passed.
async fn revocations_outlive_a_short_refresh_ttl(store: impl RevocationStore) {
    let issuer = issuer().refresh_ttl(Duration::from_secs(1));
    let service = TokenService::with_store(issuer, store);
    let auth = service.authenticator();
    let ok = authenticated();

    let logged_out = service.login("alice", json!({})).await.unwrap();
    service
        .logout(&auth.verify(logged_out.access.as_str()).unwrap())
        .await
        .unwrap();
    let stolen = service.login("bob", json!({})).await.unwrap();
    let next = service.refresh(stolen.refresh.as_str()).await.unwrap();
    assert!(service.refresh(stolen.refresh.as_str()).await.is_err());
    let untouched = service.login("carol", json!({})).await.unwrap();

    // The behaviour under test is what happens once the refresh TTL has
    // elapsed, so this waits for time itself to pass (no event to wait for).
    tokio::time::sleep(Duration::from_millis(2200)).await;
    for (what, token) in [
        ("logged out", &logged_out.access),
        ("family revoked by reuse", &next.access),
        ("family revoked by reuse (first token)", &stolen.access),
    ] {
        let reply = both(&auth, &ok, Some(token.as_str())).await;
        assert_eq!(reply.status, 401, "{what}: {reply:?}");
        assert!(reply.body.contains("revoked"), "{what}: {}", reply.body);
    }
    // Not just expiry: an untouched session's access token still works.
    assert_eq!(
        both(&auth, &ok, Some(untouched.access.as_str()))
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn revocations_outlive_a_short_refresh_ttl_in_memory() {
    revocations_outlive_a_short_refresh_ttl(MemoryStore::new()).await;
}

#[actix_web::test]
async fn revocations_outlive_a_short_refresh_ttl_in_redis() {
    use jwt_auth_redis::RedisStore;
    use jwt_auth_tests::redis_server::RedisServer;
    let Some(server) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::connect(&server.url()).await.unwrap();
    revocations_outlive_a_short_refresh_ttl(store).await;
}
