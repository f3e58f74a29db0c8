//! What the `axum-demo` and `actix-demo` servers share: reading the
//! environment of the demo contract, building the [`Authenticator`], and the
//! start-up banner with a sample token. Both demos call [`DemoConfig::from_env`]
//! so they are configured identically.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jwt_auth_core::{Authenticator, Key, TokenSource, parse_algorithm};
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

impl DemoConfig {
    /// Reads the environment described in `DEMO-CONTRACT.md`.
    pub fn from_env() -> Result<Self, String> {
        let addr: SocketAddr = env("DEMO_ADDR")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .map_err(|_| "DEMO_ADDR is not a socket address (like 127.0.0.1:3000)".to_owned())?;

        let mut banner = String::new();
        let (mut key, generated_secret) = if let Some(secret) = env("JWT_SECRET") {
            let key = Key::hmac(secret.as_bytes()).map_err(|e| format!("JWT_SECRET: {e}"))?;
            (key, None)
        } else if let Some(path) = env("JWT_PUBLIC_KEY") {
            let pem = std::fs::read(&path).map_err(|e| format!("JWT_PUBLIC_KEY {path}: {e}"))?;
            let key = Key::from_pem(&pem).map_err(|e| format!("JWT_PUBLIC_KEY {path}: {e}"))?;
            (key, None)
        } else {
            let secret = random_secret()?;
            let key = Key::hmac(secret.as_bytes()).map_err(|e| e.to_string())?;
            (key, Some(secret))
        };

        let extra = list("JWT_ALGORITHMS");
        if !extra.is_empty() {
            let mut algorithms = key.algorithms().to_vec();
            for name in &extra {
                let alg = parse_algorithm(name)
                    .ok_or_else(|| format!("JWT_ALGORITHMS: unknown algorithm {name}"))?;
                algorithms.push(alg);
            }
            key = key
                .with_algorithms(algorithms)
                .map_err(|e| format!("JWT_ALGORITHMS: {e}"))?;
        }

        let issuers = list("JWT_ISSUER");
        let audiences = list("JWT_AUDIENCE");
        let leeway = match env("JWT_LEEWAY") {
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map_err(|_| "JWT_LEEWAY must be a number of seconds".to_owned())?,
            None => 60,
        };

        let mut authenticator = Authenticator::new(key.clone()).leeway(Duration::from_secs(leeway));
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
            "jwt-auth demo listening on http://{addr}  (key: {:?}, algorithms: {:?})",
            key.family(),
            key.algorithms()
        );
        if let Some(secret) = &generated_secret {
            let _ = writeln!(
                banner,
                "No JWT_SECRET or JWT_PUBLIC_KEY set: generated a random HS256 secret.\n\
                 JWT_SECRET={secret}"
            );
        }
        if key.can_sign() {
            let token = sample_token(&key, issuers.first(), audiences.first())?;
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

/// The body of `GET /health`.
pub fn health_body() -> Value {
    json!({"status": "ok"})
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
