//! What the `axum-demo` and `actix-demo` servers share: reading the
//! environment of the demo contract, building the [`Authenticator`], and the
//! start-up banner with a sample token. Both demos call [`DemoConfig::from_env`]
//! so they are configured identically.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use jwt_auth_core::adapter::AuthRequest;
use jwt_auth_core::{
    Algorithm, AuthError, AuthErrorKind, Authenticator, CsrfPolicy, Dpop, Introspection, Issuers,
    Key, KeySource, MemoryStore, ProtectedResource, RemoteJwks, RemoteJwksBuilder, RevocationStore,
    Tenants, TokenIssuer, TokenService, TokenSource, VerifiedToken,
};
use serde_json::{Value, json};

/// The demo's configuration, read from the environment.
///
/// `Debug` leaves out the banner, which holds a sample token.
pub struct DemoConfig {
    /// Where to listen (`DEMO_ADDR`, default `127.0.0.1:3000`).
    pub addr: SocketAddr,
    /// The authenticator both demos wrap in their `JwtAuth`.
    pub authenticator: Authenticator,
    /// Text to print at start-up: the key in use and, when the demo can sign,
    /// a sample token and a curl line.
    pub banner: String,
    /// `/login`, `/refresh` and `/logout`, when the demo holds a signing key.
    pub tokens: Option<TokenService>,
    /// How long a client may take to send a request head, and how long an
    /// idle keep-alive connection stays open (`DEMO_HEAD_TIMEOUT`, default
    /// 30 s).
    pub head_timeout: Duration,
    /// The protected resource (`JWT_RESOURCE`, RFC 9728), already attached
    /// to `authenticator`; the demos serve its metadata document.
    pub resource: Option<ProtectedResource>,
    /// What `GET /stepup` requires ([`stepup_requirement`]).
    pub stepup: jwt_auth_core::Requirement,
}

/// What a demo binary sets apart from the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Defaults {
    /// The path of the default `JWT_RESOURCE`, `http://<DEMO_ADDR><path>`;
    /// `None`: no resource unless `JWT_RESOURCE` is set.
    pub resource_path: Option<&'static str>,
    /// The default `JWT_SCOPES_SUPPORTED`.
    pub scopes_supported: &'static [&'static str],
    /// Scopes the banner's sample token carries.
    pub sample_scope: Option<&'static str>,
}

impl std::fmt::Debug for DemoConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoConfig")
            .field("addr", &self.addr)
            .field("authenticator", &self.authenticator)
            .field("tokens", &self.tokens)
            .field("head_timeout", &self.head_timeout)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for DemoReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let members: Vec<&str> = match &self.body {
            Some(Value::Object(map)) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("DemoReply")
            .field("status", &self.status)
            .field("body", &members)
            .field("set_cookies", &self.set_cookies.len())
            .finish()
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn list(name: &str) -> Vec<String> {
    env(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn random_secret() -> Result<String, String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    }))
}

/// A number of seconds from `name`, within `min..=max`: anything else stops
/// the demo at start with a message, so no setting can overflow time
/// arithmetic later, on a request.
fn seconds(name: &str, default: u64, min: u64, max: Duration) -> Result<Duration, String> {
    let max = max.as_secs();
    let value = match env(name) {
        Some(v) => v.trim().parse::<u64>().map_err(|_| {
            format!("{name} must be a whole number of seconds, from {min} to {max}")
        })?,
        None => default,
    };
    if !(min..=max).contains(&value) {
        return Err(format!(
            "{name} is {value}: it must be from {min} to {max} seconds"
        ));
    }
    Ok(Duration::from_secs(value))
}

/// The longest `DEMO_HEAD_TIMEOUT`: one hour.
const MAX_HEAD_TIMEOUT: Duration = Duration::from_secs(3600);

/// `url` as it may be printed: without user information, query or fragment.
fn shown(url: &str) -> String {
    jwt_auth_core::remote::redacted_url(url)
}

/// Remote keys asked for by `JWT_JWKS_URL` or `JWT_OIDC_ISSUER`.
enum RemoteKeys {
    Jwks(String),
    Oidc(Vec<String>),
}

fn remote_keys() -> Result<Option<(RemoteKeys, Duration)>, String> {
    let cooldown = seconds(
        "JWT_JWKS_MIN_REFRESH",
        30,
        0,
        jwt_auth_core::remote::MAX_REMOTE_DURATION,
    )?;
    let jwks = env("JWT_JWKS_URL");
    let oidc = list("JWT_OIDC_ISSUER");
    match (jwks, oidc.is_empty()) {
        (Some(_), false) => Err("set JWT_JWKS_URL or JWT_OIDC_ISSUER, not both".into()),
        (Some(url), true) => Ok(Some((RemoteKeys::Jwks(url), cooldown))),
        (None, false) => Ok(Some((RemoteKeys::Oidc(oidc), cooldown))),
        (None, true) => Ok(None),
    }
}

/// Starts the remote key sources (their first fetch runs in the background).
fn build_remote(
    (remote, cooldown): (RemoteKeys, Duration),
    algorithms: &[Algorithm],
) -> Result<(KeySource, String), String> {
    {
        let configure = |builder: RemoteJwksBuilder| -> Result<RemoteJwks, String> {
            let mut builder = builder.unknown_kid_cooldown(cooldown);
            if !algorithms.is_empty() {
                builder = builder.algorithms(algorithms.iter().copied());
            }
            builder.build().map_err(|e| e.to_string())
        };
        match remote {
            RemoteKeys::Jwks(url) => {
                let keys = configure(RemoteJwks::builder(url.clone()))
                    .map_err(|e| format!("JWT_JWKS_URL: {e}"))?;
                Ok((keys.into(), format!("keys: JWKS {}", shown(&url))))
            }
            RemoteKeys::Oidc(issuers) => {
                let shown_issuers: Vec<String> = issuers.iter().map(|i| shown(i)).collect();
                let description = format!("keys: OpenID issuers {}", shown_issuers.join(", "));
                if let [issuer] = issuers.as_slice()
                    && !issuer.contains("{tenant}")
                {
                    let keys = configure(RemoteJwks::discover(issuer.clone()))
                        .map_err(|e| format!("JWT_OIDC_ISSUER: {e}"))?;
                    return Ok((keys.into(), description));
                }
                let mut map = Issuers::new();
                for issuer in issuers {
                    if issuer.contains("{tenant}") {
                        // Each tenant is discovered when its first token arrives.
                        let algorithms = algorithms.to_vec();
                        let tenants = Tenants::template(issuer)
                            .key_sets(move |builder| {
                                let builder = builder.unknown_kid_cooldown(cooldown);
                                if algorithms.is_empty() {
                                    builder
                                } else {
                                    builder.algorithms(algorithms.iter().copied())
                                }
                            })
                            .build()
                            .map_err(|e| format!("JWT_OIDC_ISSUER: {e}"))?;
                        map = map.tenants(tenants);
                        continue;
                    }
                    let keys = configure(RemoteJwks::discover(issuer.clone()))
                        .map_err(|e| format!("JWT_OIDC_ISSUER: {e}"))?;
                    map = map.issuer(issuer, keys);
                }
                Ok((map.into(), description))
            }
        }
    }
}

/// RFC 7662 introspection of `JWT_INTROSPECTION_URL` (client_secret_basic
/// with `JWT_INTROSPECTION_CLIENT_ID` and `JWT_INTROSPECTION_CLIENT_SECRET`).
fn introspection() -> Result<Option<Introspection>, String> {
    let Some(url) = env("JWT_INTROSPECTION_URL") else {
        return Ok(None);
    };
    let mut builder = Introspection::builder(url);
    match (
        env("JWT_INTROSPECTION_CLIENT_ID"),
        env("JWT_INTROSPECTION_CLIENT_SECRET"),
    ) {
        (Some(id), Some(secret)) => builder = builder.client_secret_basic(id, secret),
        (None, None) => {}
        _ => {
            return Err(
                "set both JWT_INTROSPECTION_CLIENT_ID and JWT_INTROSPECTION_CLIENT_SECRET".into(),
            );
        }
    }
    let introspection = builder
        .build()
        .map_err(|e| format!("JWT_INTROSPECTION_URL: {e}"))?;
    Ok(Some(introspection))
}

impl DemoConfig {
    /// Reads the environment described in `DEMO-CONTRACT.md` (and connects
    /// to Redis when `JWT_REDIS_URL` is set).
    pub async fn from_env() -> Result<Self, String> {
        Self::from_env_with(Defaults::default()).await
    }

    /// [`from_env`](Self::from_env) with a binary's own defaults.
    pub async fn from_env_with(defaults: Defaults) -> Result<Self, String> {
        let addr: SocketAddr = env("DEMO_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| "DEMO_ADDR is not a socket address (like 127.0.0.1:3000)".to_owned())?;

        let mut banner = String::new();
        let remote = remote_keys()?;
        if remote.is_some() && (env("JWT_SECRET").is_some() || env("JWT_PUBLIC_KEY").is_some()) {
            return Err(
                "set either a static key (JWT_SECRET, JWT_PUBLIC_KEY) or remote keys \
                        (JWT_JWKS_URL, JWT_OIDC_ISSUER), not both"
                    .into(),
            );
        }
        let (mut key, generated_secret) = if remote.is_some() {
            (None, None)
        } else if let Some(secret) = env("JWT_SECRET") {
            let key = Key::hmac(secret.as_bytes()).map_err(|e| format!("JWT_SECRET: {e}"))?;
            (Some(key), None)
        } else if let Some(path) = env("JWT_PRIVATE_KEY") {
            let pem = std::fs::read(&path).map_err(|e| format!("JWT_PRIVATE_KEY {path}: {e}"))?;
            let key = Key::from_pem(&pem).map_err(|e| format!("JWT_PRIVATE_KEY {path}: {e}"))?;
            if !key.can_sign() {
                return Err(format!("JWT_PRIVATE_KEY {path}: not a private key"));
            }
            (Some(key), None)
        } else if let Some(path) = env("JWT_PUBLIC_KEY") {
            let pem = std::fs::read(&path).map_err(|e| format!("JWT_PUBLIC_KEY {path}: {e}"))?;
            let key = Key::from_pem(&pem).map_err(|e| format!("JWT_PUBLIC_KEY {path}: {e}"))?;
            (Some(key), None)
        } else {
            let secret = random_secret()?;
            let key = Key::hmac(secret.as_bytes()).map_err(|e| e.to_string())?;
            (Some(key), Some(secret))
        };

        let extra = list("JWT_ALGORITHMS");
        let mut algorithms = Vec::new();
        for name in &extra {
            algorithms.push(
                name.parse::<Algorithm>()
                    .map_err(|_| format!("JWT_ALGORITHMS: unknown algorithm {name}"))?,
            );
        }
        if let Some(k) = key.take() {
            key = Some(if algorithms.is_empty() {
                k
            } else {
                let mut all = k.algorithms().to_vec();
                all.extend(algorithms.iter().copied());
                k.with_algorithms(all)
                    .map_err(|e| format!("JWT_ALGORITHMS: {e}"))?
            });
        }
        let (source, description): (KeySource, String) = match (&key, remote) {
            (Some(key), _) => (
                key.clone().into(),
                format!(
                    "key: {:?}, algorithms: {:?}",
                    key.family(),
                    key.algorithms()
                ),
            ),
            (None, Some(remote)) => build_remote(remote, &algorithms)?,
            (None, None) => return Err("no key configured".into()),
        };

        let issuers = list("JWT_ISSUER");
        let audiences = list("JWT_AUDIENCE");
        let resource = protected_resource(addr, &issuers, defaults)?;
        // Cookie-authenticated unsafe requests (JWT_COOKIE, the refresh
        // cookie) from these origins proceed; by default the demo's own.
        let mut origins = list("JWT_ALLOWED_ORIGINS");
        if origins.is_empty() {
            origins.push(format!("http://{addr}"));
        }
        let csrf = CsrfPolicy::new().allowed_origins(origins);
        // Tokens this demo signs name the resource when no audience is set:
        // the authenticator then requires it (RFC 8707).
        let sample_audience = audiences
            .first()
            .cloned()
            .or_else(|| resource.as_ref().map(|r| r.resource().to_owned()));
        let leeway = seconds("JWT_LEEWAY", 60, 0, jwt_auth_core::MAX_LEEWAY)?;
        let access_ttl = seconds("JWT_ACCESS_TTL", 900, 1, jwt_auth_core::MAX_TOKEN_TTL)?;
        let refresh_ttl = seconds(
            "JWT_REFRESH_TTL",
            1_209_600,
            1,
            jwt_auth_core::MAX_TOKEN_TTL,
        )?;
        let head_timeout = seconds("DEMO_HEAD_TIMEOUT", 30, 1, MAX_HEAD_TIMEOUT)?;

        let mut authenticator = Authenticator::new(source).leeway(leeway);
        // A Redis Cluster (JWT_REDIS_CLUSTER) is used instead of one Redis.
        let cluster = list("JWT_REDIS_CLUSTER");
        let redis = match env("JWT_REDIS_URL") {
            _ if !cluster.is_empty() => {
                let seeds: Vec<&str> = cluster.iter().map(String::as_str).collect();
                Some(
                    jwt_auth_redis::RedisStore::builder()
                        .connect_cluster(&seeds)
                        .await
                        .map_err(|e| format!("JWT_REDIS_CLUSTER: {e}"))?,
                )
            }
            Some(url) => Some(
                jwt_auth_redis::RedisStore::connect(&url)
                    .await
                    .map_err(|e| format!("JWT_REDIS_URL: {e}"))?,
            ),
            None => None,
        };
        let store: Option<Arc<dyn RevocationStore>> = match &redis {
            Some(redis) => Some(Arc::new(redis.clone())),
            None if key.as_ref().is_some_and(Key::can_sign) => Some(Arc::new(MemoryStore::new())),
            None => None,
        };
        if let Some(dpop) = dpop_settings(addr, redis.as_ref())? {
            authenticator = authenticator.dpop(dpop);
        }
        if let Some(store) = &store {
            authenticator = authenticator.revocation_store(Arc::clone(store));
        }
        let tokens = match (&key, &store) {
            (Some(key), Some(store)) if key.can_sign() => {
                let mut issuer = TokenIssuer::new(key.clone())
                    .map_err(|e| e.to_string())?
                    .access_ttl(access_ttl)
                    .refresh_ttl(refresh_ttl);
                if let Some(iss) = issuers.first() {
                    issuer = issuer.issuer(iss.clone());
                }
                if let Some(aud) = &sample_audience {
                    issuer = issuer.audience(aud.clone());
                }
                Some(TokenService::with_store(issuer, Arc::clone(store)).csrf(csrf.clone()))
            }
            _ => None,
        };
        for issuer in &issuers {
            authenticator = authenticator.issuer(issuer.clone());
        }
        for audience in &audiences {
            authenticator = authenticator.audience(audience.clone());
        }
        if let Some(cookie) = env("JWT_COOKIE") {
            authenticator = authenticator.token_source(TokenSource::cookie(cookie));
        }
        if let Some(resource) = &resource {
            authenticator = authenticator.protected_resource(resource.clone());
        }
        authenticator = authenticator.csrf(csrf);
        if let Some(introspection) = introspection()? {
            authenticator = authenticator.introspection(introspection);
        }

        let _ = writeln!(
            banner,
            "jwt-auth demo listening on http://{addr}  ({description})"
        );
        if let Some(secret) = &generated_secret {
            let _ = writeln!(
                banner,
                "No JWT_SECRET or JWT_PUBLIC_KEY set: generated a random HS256 secret.\n\
                 JWT_SECRET={secret}"
            );
        }
        if let Some(key) = key.as_ref().filter(|k| k.can_sign()) {
            let token = sample_token_with(
                key,
                issuers.first(),
                sample_audience.as_ref(),
                defaults.sample_scope,
            )?;
            let _ = writeln!(banner, "Sample token (valid for 1 hour):\n{token}");
            match (&resource, defaults.resource_path) {
                (Some(resource), Some(path)) => {
                    let _ = writeln!(
                        banner,
                        "Try it:\ncurl {}\ncurl -H 'Authorization: Bearer {token}' \
                         -H 'Content-Type: application/json' \
                         -H 'Accept: application/json, text/event-stream' \
                         -d '{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\
                         \"params\":{{\"name\":\"whoami\",\"arguments\":{{}}}}}}' \
                         http://{addr}{path}",
                        resource.metadata_url()
                    );
                }
                _ => {
                    let _ = writeln!(
                        banner,
                        "Try it:\ncurl -H 'Authorization: Bearer {token}' http://{addr}/me"
                    );
                }
            }
        }
        // As attached: with the DPoP members when DPoP is on.
        let resource = authenticator.resource().cloned().or(resource);
        let stepup = stepup_requirement()?;
        Ok(Self {
            addr,
            authenticator,
            banner,
            tokens,
            head_timeout,
            resource,
            stepup,
        })
    }
}

/// DPoP from `JWT_DPOP` (`off`, `allowed`, `required`), `JWT_PUBLIC_URL`
/// (default `http://<DEMO_ADDR>`), `JWT_DPOP_NONCE=1` with
/// `JWT_DPOP_NONCE_SECRET` (default: random per process); seen proofs are
/// shared through Redis when the demo uses it.
fn dpop_settings(
    addr: SocketAddr,
    redis: Option<&jwt_auth_redis::RedisStore>,
) -> Result<Option<Dpop>, String> {
    let public_url = env("JWT_PUBLIC_URL").unwrap_or_else(|| format!("http://{addr}"));
    let dpop = match env("JWT_DPOP").as_deref().map(str::trim) {
        None | Some("off") => return Ok(None),
        Some("allowed") => Dpop::allowed(&public_url),
        Some("required") => Dpop::required(&public_url),
        Some(_) => return Err("JWT_DPOP must be off, allowed or required".into()),
    };
    let mut dpop = dpop.map_err(|e| format!("JWT_PUBLIC_URL: {e}"))?;
    match env("JWT_DPOP_NONCE").as_deref().map(str::trim) {
        None | Some("0") => {}
        Some("1") => {
            let secret = match env("JWT_DPOP_NONCE_SECRET") {
                Some(secret) => secret,
                None => random_secret()?,
            };
            dpop = dpop
                .nonce_secret(secret, None)
                .map_err(|e| format!("JWT_DPOP_NONCE_SECRET: {e}"))?;
        }
        Some(_) => return Err("JWT_DPOP_NONCE must be 0 or 1".into()),
    }
    if let Some(redis) = redis {
        dpop = dpop.replay_cache(redis.clone());
    }
    Ok(Some(dpop))
}

/// The protected resource of `JWT_RESOURCE` (or the binary's default), with
/// `JWT_AUTHORIZATION_SERVERS` (default: the `JWT_ISSUER` and
/// `JWT_OIDC_ISSUER` entries without a `{tenant}` placeholder) and
/// `JWT_SCOPES_SUPPORTED`.
fn protected_resource(
    addr: SocketAddr,
    issuers: &[String],
    defaults: Defaults,
) -> Result<Option<ProtectedResource>, String> {
    let default = defaults
        .resource_path
        .map(|path| format!("http://{addr}{path}"));
    let Some(identifier) = env("JWT_RESOURCE").or(default) else {
        return Ok(None);
    };
    let mut servers = list("JWT_AUTHORIZATION_SERVERS");
    if servers.is_empty() {
        servers = issuers
            .iter()
            .chain(&list("JWT_OIDC_ISSUER"))
            .filter(|issuer| !issuer.contains("{tenant}"))
            .cloned()
            .collect();
    }
    let mut scopes = list("JWT_SCOPES_SUPPORTED");
    if scopes.is_empty() {
        scopes = defaults
            .scopes_supported
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    }
    let resource = ProtectedResource::new(identifier)
        .map_err(|e| format!("JWT_RESOURCE: {e}"))?
        .authorization_servers(servers)
        .scopes(scopes);
    Ok(Some(resource))
}

/// The demo page served at `GET /`: plain HTML and JavaScript, no build
/// step. It keeps the access token in memory and the refresh token in the
/// HttpOnly cookie, and refreshes silently.
pub const INDEX_HTML: &str = include_str!("page.html");

/// A token for `sub: demo-user`, valid for one hour.
pub fn sample_token(
    key: &Key,
    issuer: Option<&String>,
    audience: Option<&String>,
) -> Result<String, String> {
    sample_token_with(key, issuer, audience, None)
}

/// [`sample_token`] with a `scope` claim.
fn sample_token_with(
    key: &Key,
    issuer: Option<&String>,
    audience: Option<&String>,
    scope: Option<&str>,
) -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let mut claims = json!({
        "sub": "demo-user",
        "iat": now,
        "exp": now + 3600,
        "roles": ["user"],
    });
    if let Value::Object(map) = &mut claims {
        if let Some(iss) = issuer {
            map.insert("iss".into(), iss.clone().into());
        }
        if let Some(aud) = audience {
            map.insert("aud".into(), aud.clone().into());
        }
        if let Some(scope) = scope {
            map.insert("scope".into(), scope.into());
        }
    }
    key.encode(&claims).map_err(|e| e.to_string())
}

/// The body of `GET /optional`.
pub fn optional_body(claims: Option<&Value>) -> Value {
    match claims {
        None => json!({"authenticated": false}),
        Some(claims) => json!({
            "authenticated": true,
            "sub": claims.get("sub").cloned().unwrap_or(Value::Null),
        }),
    }
}

/// The body of `GET /health`: always 200; `keys_ready` tells whether remote
/// keys are loaded (static keys always are).
pub fn health_body(authenticator: &Authenticator) -> Value {
    json!({"status": "ok", "keys_ready": authenticator.is_ready()})
}

/// Installs a `tracing` subscriber that honours `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

#[cfg(feature = "metrics")]
static METRICS: std::sync::OnceLock<Option<metrics_exporter_prometheus::PrometheusHandle>> =
    std::sync::OnceLock::new();

/// Installs the Prometheus recorder that `GET /metrics` renders, when the
/// `metrics` feature is on (the demos' default). Call it once at start-up,
/// before any request, so every counter is recorded.
pub fn init_metrics() {
    #[cfg(feature = "metrics")]
    METRICS.get_or_init(|| {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .map_err(|e| tracing::warn!(error = %e, "jwt-auth demo: no metrics recorder"))
            .ok()
    });
}

/// The media type of [`metrics_text`].
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The body of `GET /metrics`: the Prometheus text format, or `None` (the
/// route answers 404) when the `metrics` feature is off.
pub fn metrics_text() -> Option<String> {
    #[cfg(feature = "metrics")]
    if let Some(Some(handle)) = METRICS.get() {
        handle.run_upkeep();
        return Some(handle.render());
    }
    None
}

/// Reads the configuration or exits with a clear message.
pub async fn config_or_exit() -> DemoConfig {
    config_or_exit_with(Defaults::default()).await
}

/// `mcp-demo`'s configuration: [`config_or_exit`], but `JWT_RESOURCE`
/// defaults to `http://<DEMO_ADDR>/mcp`, `JWT_SCOPES_SUPPORTED` to `mcp`, and
/// the banner's sample token carries `scope: mcp`.
pub async fn mcp_config_or_exit() -> DemoConfig {
    config_or_exit_with(Defaults {
        resource_path: Some("/mcp"),
        scopes_supported: &["mcp"],
        sample_scope: Some("mcp"),
    })
    .await
}

/// [`config_or_exit`] with a binary's own defaults.
pub async fn config_or_exit_with(defaults: Defaults) -> DemoConfig {
    match DemoConfig::from_env_with(defaults).await {
        Ok(config) => config,
        Err(message) => {
            eprintln!("jwt-auth demo: {message}");
            std::process::exit(2);
        }
    }
}

/// A framework-neutral answer of the lifecycle routes; each demo renders it.
///
/// `Debug` shows the status and the body's member names only: the body and
/// the cookie hold tokens.
pub struct DemoReply {
    /// The status code.
    pub status: u16,
    /// The JSON body, if any.
    pub body: Option<Value>,
    /// `Set-Cookie` values, each its own header.
    pub set_cookies: Vec<String>,
}

impl DemoReply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            set_cookies: Vec::new(),
        }
    }

    fn refused(error: &AuthError) -> Self {
        let response = error.response(None);
        let body = serde_json::from_str(&response.body).unwrap_or(Value::Null);
        Self::json(response.status.as_u16(), body)
    }

    /// 404 for the lifecycle routes of a demo without a signing key.
    pub fn unavailable() -> Self {
        Self::json(
            404,
            json!({"error": "not_found", "error_description": "this demo holds no signing key"}),
        )
    }

    fn tokens(tokens: &TokenService, pair: &jwt_auth_core::TokenPair) -> Self {
        Self {
            status: 200,
            body: Some(json!({
                "access_token": pair.access.as_str(),
                "token_type": "Bearer",
                "expires_in": pair.access.expires_in(),
            })),
            set_cookies: tokens.set_cookies(pair),
        }
    }
}

/// The demo's users: name, password, roles.
const USERS: &[(&str, &str, &[&str])] = &[
    ("alice", "alice-password", &["admin", "user"]),
    ("bob", "bob-password", &["user"]),
];

/// Whether the request's `Content-Type` is `application/json` (parameters
/// such as `charset` aside). `/login` accepts nothing else, so a cross-site
/// HTML form (which can only send `application/x-www-form-urlencoded`,
/// `multipart/form-data` or `text/plain`) cannot log a browser in.
fn is_json<R: AuthRequest + ?Sized>(req: &R) -> bool {
    let mut values = req.header_values("content-type");
    let (Some(value), None) = (values.next(), values.next()) else {
        return false;
    };
    let essence = value.split(|&b| b == b';').next().unwrap_or_default();
    essence
        .trim_ascii()
        .eq_ignore_ascii_case(b"application/json")
}

/// `POST /login` with JSON `{"username","password"}` (`Content-Type:
/// application/json` only: anything else gets 415).
pub async fn login<R: AuthRequest + ?Sized>(
    tokens: &TokenService,
    req: &R,
    body: &[u8],
) -> DemoReply {
    #[derive(serde::Deserialize)]
    struct Login {
        username: String,
        password: String,
    }
    if !is_json(req) {
        return DemoReply::json(
            415,
            json!({"error": "invalid_request", "error_description": "the body must be application/json"}),
        );
    }
    let Ok(login) = serde_json::from_slice::<Login>(body) else {
        return DemoReply::json(
            400,
            json!({"error": "invalid_request", "error_description": "expected JSON {\"username\",\"password\"}"}),
        );
    };
    let user = USERS
        .iter()
        .find(|(name, password, _)| *name == login.username && *password == login.password);
    let Some((name, _, roles)) = user else {
        return DemoReply::json(
            401,
            json!({"error": "invalid_grant", "error_description": "wrong username or password"}),
        );
    };
    match tokens.login(name, json!({ "roles": roles })).await {
        Ok(pair) => DemoReply::tokens(tokens, &pair),
        Err(e) => DemoReply::refused(&e),
    }
}

/// `POST /refresh` with the refresh cookie: a new pair and a rotated cookie.
pub async fn refresh<R: AuthRequest + ?Sized>(tokens: &TokenService, req: &R) -> DemoReply {
    match tokens.refresh_request(req).await {
        Ok(pair) => DemoReply::tokens(tokens, &pair),
        Err(e) if e.kind() == AuthErrorKind::MissingToken => DemoReply::json(
            401,
            json!({"error": "invalid_request", "error_description": "the refresh cookie is missing"}),
        ),
        Err(e) => DemoReply::refused(&e),
    }
}

/// `POST /logout` (behind the middleware): revokes the access token and its
/// refresh family (and the family of a refresh cookie sent along).
pub async fn logout<R: AuthRequest + ?Sized>(
    tokens: &TokenService,
    access: &VerifiedToken,
    req: &R,
) -> DemoReply {
    // The refresh cookie first: a cross-site request that carries it is
    // refused (403) before anything is revoked.
    let outcome = match tokens.revoke_refresh_cookie(req).await {
        Ok(()) => tokens.logout(access).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => DemoReply {
            status: 204,
            body: None,
            set_cookies: tokens.clear_cookies(),
        },
        Err(e) => DemoReply::refused(&e),
    }
}

/// What `GET /stepup` requires (RFC 9470): `acr` = `JWT_STEPUP_ACR` (default
/// `urn:demo:mfa`) and `auth_time` at most `JWT_STEPUP_MAX_AGE` seconds old
/// (default 300).
pub fn stepup_requirement() -> Result<jwt_auth_core::Requirement, String> {
    let acr = env("JWT_STEPUP_ACR").unwrap_or_else(|| "urn:demo:mfa".to_owned());
    let max_age = seconds(
        "JWT_STEPUP_MAX_AGE",
        300,
        0,
        Duration::from_secs(10 * 365 * 86_400),
    )?;
    Ok(jwt_auth_core::Requirement::acr(list_or(acr)).with_max_age(max_age))
}

fn list_or(value: String) -> Vec<String> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// What `GET /admin` requires: the role `admin`. The demos guard the route
/// with it and document it in `/openapi.json`, from this one value.
pub fn admin_requirement() -> jwt_auth_core::Requirement {
    jwt_auth_core::Requirement::any_role(["admin"])
}

/// The demo's OpenAPI document (`GET /openapi.json`): every route, the bearer
/// JWT security scheme, and which routes need a token (and which role).
pub fn openapi_json() -> String {
    use jwt_auth_core::openapi::{BearerJwt, Security, secure};
    use utoipa::Modify;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{
        ContentBuilder, InfoBuilder, ObjectBuilder, OpenApiBuilder, PathsBuilder, ResponseBuilder,
        Type,
    };

    let op = |summary: &str, responses: &[(&str, &str)]| {
        let mut op = OperationBuilder::new().summary(Some(summary));
        for (status, description) in responses {
            op = op.response(*status, ResponseBuilder::new().description(*description));
        }
        op
    };
    let credentials = ObjectBuilder::new()
        .property("username", ObjectBuilder::new().schema_type(Type::String))
        .property("password", ObjectBuilder::new().schema_type(Type::String))
        .required("username")
        .required("password");
    let login = op(
        "Log in with a demo user; sets the refresh cookie",
        &[
            (
                "200",
                "An access token (`access_token`, `token_type`, `expires_in`)",
            ),
            ("401", "Wrong username or password"),
            ("404", "The demo holds no signing key"),
        ],
    )
    .request_body(Some(
        RequestBodyBuilder::new()
            .content(
                "application/json",
                ContentBuilder::new().schema(Some(credentials)).build(),
            )
            .required(Some(utoipa::openapi::Required::True))
            .build(),
    ));
    let paths = PathsBuilder::new()
        .path(
            "/health",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Liveness and key readiness",
                    &[("200", "`{\"status\":\"ok\",\"keys_ready\":…}`")],
                ),
            ),
        )
        .path(
            "/me",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Every verified claim",
                    &[
                        ("200", "The claims, exactly as in the token"),
                        ("503", "Remote keys have never loaded"),
                    ],
                ),
            ),
        )
        .path(
            "/optional",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Works with or without a token",
                    &[("200", "`{\"authenticated\":…}`")],
                ),
            ),
        )
        .path(
            "/admin",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Needs the `admin` role",
                    &[("200", "`{\"admin\":true,\"sub\":…}`")],
                ),
            ),
        )
        .path(
            "/stepup",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Needs a recent, strong login (`acr`, `auth_time`; RFC 9470)",
                    &[("200", "The token's claims")],
                ),
            ),
        )
        .path("/login", PathItem::new(HttpMethod::Post, login))
        .path(
            "/refresh",
            PathItem::new(
                HttpMethod::Post,
                op(
                    "Rotate the refresh cookie for a new access token",
                    &[
                        ("200", "A new access token and a rotated cookie"),
                        ("401", "Missing, invalid or reused refresh token"),
                    ],
                ),
            ),
        )
        .path(
            "/logout",
            PathItem::new(
                HttpMethod::Post,
                op(
                    "Revoke the access token and its refresh family",
                    &[("204", "Logged out")],
                ),
            ),
        )
        .path(
            "/metrics",
            PathItem::new(
                HttpMethod::Get,
                op(
                    "Prometheus metrics (with the `metrics` feature)",
                    &[
                        ("200", "Prometheus text format"),
                        ("404", "Built without metrics"),
                    ],
                ),
            ),
        )
        .path(
            "/openapi.json",
            PathItem::new(
                HttpMethod::Get,
                op("This document", &[("200", "OpenAPI 3.1")]),
            ),
        );
    let mut doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("jwt-auth demo")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The jwt-auth demo server (axum and actix-web answer alike).",
                )),
        )
        .paths(paths)
        .build();
    BearerJwt::new()
        .description("A JWT access token: `Authorization: Bearer <token>` (RFC 6750).")
        .modify(&mut doc);
    secure(&mut doc, "/me", HttpMethod::Get, Security::Required);
    secure(&mut doc, "/logout", HttpMethod::Post, Security::Required);
    secure(&mut doc, "/optional", HttpMethod::Get, Security::Optional);
    let admin = admin_requirement();
    secure(
        &mut doc,
        "/admin",
        HttpMethod::Get,
        Security::Requires(&admin),
    );
    if let Ok(stepup) = stepup_requirement() {
        secure(
            &mut doc,
            "/stepup",
            HttpMethod::Get,
            Security::Requires(&stepup),
        );
    }
    doc.to_json().unwrap_or_else(|_| "{}".to_owned())
}

/// The body of `GET /admin`.
pub fn admin_body(claims: &Value) -> Value {
    json!({"admin": true, "sub": claims.get("sub").cloned().unwrap_or(Value::Null)})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_tokens() {
        let reply = DemoReply {
            status: 200,
            body: Some(json!({"access_token": "eyJ-access-token-text", "token_type": "Bearer"})),
            set_cookies: vec!["refresh_token=eyJ-refresh-token-text; HttpOnly".into()],
        };
        let text = format!("{reply:?}");
        assert!(
            text.contains("access_token") && text.contains("200"),
            "{text}"
        );
        assert!(!text.contains("eyJ"), "{text}");
    }
}
