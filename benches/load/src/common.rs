//! What every app shares: the claims checked, the keys, the variants, minting.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The issuer every auth variant requires (`iss`).
pub(crate) const ISSUER: &str = "https://bench.example";

/// The audience every auth variant requires (`aud`).
pub(crate) const AUDIENCE: &str = "bench";

/// The subject of the minted tokens (`sub`).
pub(crate) const SUBJECT: &str = "bench-user";

/// The HS256 secret (ASCII, since `jwt-authorizer` takes it as `&str`; 42
/// bytes, above the 32 bytes HS256 needs).
pub(crate) const HMAC_SECRET: &str = "jwt-auth-load-test-hmac-secret-0123456789a";

/// How long minted tokens are valid, in seconds.
const TOKEN_LIFETIME_SECS: u64 = 3600;

/// The claims each handler extracts: only the subject, which is required
/// (deserializing it fails when `sub` is missing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Subject {
    /// The verified `sub`.
    pub(crate) sub: String,
}

/// The signing algorithm of a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alg {
    /// HMAC with SHA-256 and [`HMAC_SECRET`].
    Hs256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 and the repo's `tests/keys/rsa.pem`.
    Rs256,
}

impl Alg {
    /// `hs256` or `rs256` (case-insensitive).
    pub(crate) fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "hs256" => Some(Self::Hs256),
            "rs256" => Some(Self::Rs256),
            _ => None,
        }
    }
}

/// Which authentication sits in front of the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stack {
    /// No authentication: the baseline.
    None,
    /// jwt-auth (`jwt-auth-tower` or `jwt-auth-actix`), with its verified-token
    /// cache on (the default) or off (`cache_capacity(0)`).
    JwtAuth {
        /// Whether the verified-token cache is on.
        cache: bool,
    },
    /// `jwt-authorizer` (a tower layer; axum only).
    JwtAuthorizer,
    /// `axum-jwt-auth` (an axum extractor; axum only).
    AxumJwtAuth,
    /// `actix-web-httpauth` bearer middleware with a `jsonwebtoken::decode`
    /// validator (actix only).
    Httpauth,
}

/// One app configuration: a stack and, unless the stack is [`Stack::None`],
/// an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Variant {
    /// The authentication in front of the handler.
    pub(crate) stack: Stack,
    /// The algorithm (ignored by [`Stack::None`]).
    pub(crate) alg: Alg,
}

impl Variant {
    /// Every variant, in the order the report lists them.
    pub(crate) const ALL: &'static [Variant] = &[
        Variant::new(Stack::None, Alg::Hs256),
        Variant::new(Stack::JwtAuth { cache: true }, Alg::Hs256),
        Variant::new(Stack::JwtAuth { cache: false }, Alg::Hs256),
        Variant::new(Stack::JwtAuth { cache: true }, Alg::Rs256),
        Variant::new(Stack::JwtAuth { cache: false }, Alg::Rs256),
        Variant::new(Stack::JwtAuthorizer, Alg::Hs256),
        Variant::new(Stack::JwtAuthorizer, Alg::Rs256),
        Variant::new(Stack::AxumJwtAuth, Alg::Hs256),
        Variant::new(Stack::AxumJwtAuth, Alg::Rs256),
        Variant::new(Stack::Httpauth, Alg::Hs256),
        Variant::new(Stack::Httpauth, Alg::Rs256),
    ];

    /// A variant.
    const fn new(stack: Stack, alg: Alg) -> Self {
        Self { stack, alg }
    }

    /// The command-line name: `none`, `jwt-auth-rs256`,
    /// `jwt-auth-hs256-nocache`, `httpauth-rs256`, ...
    pub(crate) fn name(&self) -> String {
        let alg = match self.alg {
            Alg::Hs256 => "hs256",
            Alg::Rs256 => "rs256",
        };
        match self.stack {
            Stack::None => "none".into(),
            Stack::JwtAuth { cache: true } => format!("jwt-auth-{alg}"),
            Stack::JwtAuth { cache: false } => format!("jwt-auth-{alg}-nocache"),
            Stack::JwtAuthorizer => format!("jwt-authorizer-{alg}"),
            Stack::AxumJwtAuth => format!("axum-jwt-auth-{alg}"),
            Stack::Httpauth => format!("httpauth-{alg}"),
        }
    }

    /// The variant called `name`.
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == name)
    }

    /// Whether this variant exists for `framework` (`axum` or `actix`).
    pub(crate) fn runs_on(&self, framework: &str) -> bool {
        match self.stack {
            Stack::None | Stack::JwtAuth { .. } => matches!(framework, "axum" | "actix"),
            Stack::JwtAuthorizer | Stack::AxumJwtAuth => framework == "axum",
            Stack::Httpauth => framework == "actix",
        }
    }
}

/// The worker threads each server gets: `LOAD_WORKERS`, default 1.
pub(crate) fn workers() -> Result<usize, String> {
    match std::env::var("LOAD_WORKERS") {
        Ok(value) => match value.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("LOAD_WORKERS={value} is not a positive number")),
        },
        Err(_) => Ok(1),
    }
}

/// The directory of the repo's key fixtures: `LOAD_KEYS_DIR`, or
/// `tests/keys` of this checkout.
fn keys_dir() -> PathBuf {
    std::env::var_os("LOAD_KEYS_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/keys")),
        PathBuf::from,
    )
}

/// The RSA private key (PKCS#8 PEM), `tests/keys/rsa.pem`.
pub(crate) fn rsa_private_pem() -> std::io::Result<Vec<u8>> {
    std::fs::read(keys_dir().join("rsa.pem"))
}

/// The matching RSA public key (SPKI PEM), `tests/keys/rsa.pub.pem`, for the
/// peer crates.
pub(crate) fn rsa_public_pem() -> std::io::Result<Vec<u8>> {
    std::fs::read(keys_dir().join("rsa.pub.pem"))
}

/// A token signed with `alg`, valid for an hour: `sub`, `iss`, `aud`, `iat`,
/// `exp` — or, when `bare`, without `iss` and `aud`.
pub(crate) fn mint(alg: Alg, bare: bool) -> Result<String, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let mut claims = serde_json::json!({
        "sub": SUBJECT,
        "iat": now,
        "exp": now + TOKEN_LIFETIME_SECS,
    });
    if !bare {
        claims["iss"] = ISSUER.into();
        claims["aud"] = AUDIENCE.into();
    }
    let key = jwt_auth_key(alg)?;
    Ok(key.encode(&claims)?)
}

/// The jwt-auth key for `alg`, limited to that one algorithm (the peers are
/// configured the same way).
pub(crate) fn jwt_auth_key(alg: Alg) -> Result<jwt_auth_tower::Key, Box<dyn std::error::Error>> {
    use jwt_auth_tower::{Algorithm, Key};
    Ok(match alg {
        Alg::Hs256 => Key::hmac(HMAC_SECRET)?.with_algorithms([Algorithm::HS256])?,
        Alg::Rs256 => Key::from_pem(rsa_private_pem()?)?.with_algorithms([Algorithm::RS256])?,
    })
}

/// The jwt-auth claim checks: `iss`, `aud`, and `sub` required (`exp` is
/// required by default).
pub(crate) fn jwt_auth_validation() -> jwt_auth_tower::Validation {
    jwt_auth_tower::Validation::new()
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .require_claim("sub")
}

/// The `jsonwebtoken` 11 key and validation of the actix-web-httpauth
/// validator: one algorithm, `exp`/`sub`/`iss`/`aud` required, `iss` and
/// `aud` checked, `nbf` checked when present (as jwt-auth does; off by
/// default in `jsonwebtoken`).
pub(crate) fn jsonwebtoken_11(
    alg: Alg,
) -> Result<(jsonwebtoken::DecodingKey, jsonwebtoken::Validation), Box<dyn std::error::Error>> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    let (key, algorithm) = match alg {
        Alg::Hs256 => (
            DecodingKey::from_secret(HMAC_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
        Alg::Rs256 => (
            DecodingKey::from_rsa_pem(&rsa_public_pem()?)?,
            Algorithm::RS256,
        ),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.validate_nbf = true;
    Ok((key, validation))
}

/// The same as [`jsonwebtoken_11`] with `jsonwebtoken` 10 (RustCrypto
/// backend), the major `axum-jwt-auth` 0.7 is built on.
pub(crate) fn jsonwebtoken_10(
    alg: Alg,
) -> Result<(jsonwebtoken_10::DecodingKey, jsonwebtoken_10::Validation), Box<dyn std::error::Error>>
{
    use jsonwebtoken_10::{Algorithm, DecodingKey, Validation};
    let (key, algorithm) = match alg {
        Alg::Hs256 => (
            DecodingKey::from_secret(HMAC_SECRET.as_bytes()),
            Algorithm::HS256,
        ),
        Alg::Rs256 => (
            DecodingKey::from_rsa_pem(&rsa_public_pem()?)?,
            Algorithm::RS256,
        ),
    };
    let mut validation = Validation::new(algorithm);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
    validation.validate_nbf = true;
    Ok((key, validation))
}
