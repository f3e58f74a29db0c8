//! What the `axum-demo` and `actix-demo` servers share: reading the
//! environment of the demo contract, building the [`Authenticator`], and the
//! start-up banner with a sample token. Both demos call [`DemoConfig::from_env`]
//! so they are configured identically.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_auth_core::{
    Algorithm, Authenticator, Issuers, Key, KeySource, RemoteJwks, RemoteJwksBuilder, TokenSource,
    parse_algorithm,
};
use serde_json::{Value, json};

/// The demo's configuration, read from the environment.
#[derive(Debug)]
pub struct DemoConfig {
    /// Where to listen (`DEMO_ADDR`, default `127.0.0.1:3000`).
    pub addr: SocketAddr,
    /// The authenticator both demos wrap in their `JwtAuth`.
    pub authenticator: Authenticator,
    /// Text to print at start-up: the key in use and, when the demo can sign,
    /// a sample token and a curl line.
    pub banner: String,
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

/// Remote keys asked for by `JWT_JWKS_URL` or `JWT_OIDC_ISSUER`.
enum RemoteKeys {
    Jwks(String),
    Oidc(Vec<String>),
}

fn remote_keys() -> Result<Option<(RemoteKeys, Duration)>, String> {
    let cooldown = match env("JWT_JWKS_MIN_REFRESH") {
        Some(v) => Duration::from_secs(
            v.trim()
                .parse::<u64>()
                .map_err(|_| "JWT_JWKS_MIN_REFRESH must be a number of seconds".to_owned())?,
        ),
        None => Duration::from_secs(30),
    };
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
                Ok((keys.into(), format!("keys: JWKS {url}")))
            }
            RemoteKeys::Oidc(issuers) => {
                let description = format!("keys: OpenID issuers {}", issuers.join(", "));
                if let [issuer] = issuers.as_slice() {
                    let keys = configure(RemoteJwks::discover(issuer.clone()))
                        .map_err(|e| format!("JWT_OIDC_ISSUER: {e}"))?;
                    return Ok((keys.into(), description));
                }
                let mut map = Issuers::new();
                for issuer in issuers {
                    let keys = configure(RemoteJwks::discover(issuer.clone()))
                        .map_err(|e| format!("JWT_OIDC_ISSUER: {e}"))?;
                    map = map.issuer(issuer, keys);
                }
                Ok((map.into(), description))
            }
        }
    }
}

impl DemoConfig {
    /// Reads the environment described in `DEMO-CONTRACT.md`.
    pub fn from_env() -> Result<Self, String> {
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
                parse_algorithm(name)
                    .ok_or_else(|| format!("JWT_ALGORITHMS: unknown algorithm {name}"))?,
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
        let leeway = match env("JWT_LEEWAY") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| "JWT_LEEWAY must be a number of seconds".to_owned())?,
            None => 60,
        };

        let mut authenticator = Authenticator::new(source).leeway(Duration::from_secs(leeway));
        for issuer in &issuers {
            authenticator = authenticator.issuer(issuer.clone());
        }
        for audience in &audiences {
            authenticator = authenticator.audience(audience.clone());
        }
        if let Some(cookie) = env("JWT_COOKIE") {
            authenticator = authenticator.token_source(TokenSource::cookie(cookie));
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
            let token = sample_token(key, issuers.first(), audiences.first())?;
            let _ = writeln!(banner, "Sample token (valid for 1 hour):\n{token}");
            let _ = writeln!(
                banner,
                "Try it:\ncurl -H 'Authorization: Bearer {token}' http://{addr}/me"
            );
        }
        Ok(Self {
            addr,
            authenticator,
            banner,
        })
    }
}

/// A token for `sub: demo-user`, valid for one hour.
pub fn sample_token(
    key: &Key,
    issuer: Option<&String>,
    audience: Option<&String>,
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

/// Reads the configuration or exits with a clear message.
pub fn config_or_exit() -> DemoConfig {
    match DemoConfig::from_env() {
        Ok(config) => config,
        Err(message) => {
            eprintln!("jwt-auth demo: {message}");
            std::process::exit(2);
        }
    }
}
