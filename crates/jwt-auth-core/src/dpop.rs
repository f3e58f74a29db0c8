//! DPoP (RFC 9449): access tokens bound to a key the client holds.
//!
//! A DPoP client signs a fresh *proof* for every request with its own key
//! and sends it in the `DPoP` header, beside `Authorization: DPoP <token>`;
//! the token names the key's RFC 7638 thumbprint in `cnf.jkt`. A stolen
//! token is useless without the key.
//!
//! [`Dpop`] configures it on an [`Authenticator`](crate::Authenticator)
//! ([`Authenticator::dpop`](crate::Authenticator::dpop)):
//!
//! - off (the default): nothing changes;
//! - [`Dpop::allowed`]: `Authorization: DPoP` with a proof is accepted beside
//!   bearer tokens; a token bound with `cnf.jkt` sent as `Bearer` is refused
//!   (the downgrade of RFC 9449 §7.2);
//! - [`Dpop::required`]: bearer tokens are refused.
//!
//! Every check of RFC 9449 §4.3 applies to the proof: one `DPoP` header, a
//! compact JWS with `typ: dpop+jwt`, an allowed asymmetric `alg`, a public
//! `jwk` (private members refused) whose signature verifies, `htm` equal to
//! the method, `htu` equal to the **configured public URL** plus the request
//! path (never built from `Host`), `iat` within the window, a `jti` never
//! seen within that window ([`ProofReplay`]), `ath` equal to the hash of the
//! token, and the server's nonce when [nonces](Dpop::nonce_secret) are on.
//! The token's `cnf.jkt` must be the proof key's thumbprint. The verified
//! token may come from the cache; the proof never does.
//!
//! The proof's key lives in its header by design, which the token path
//! refuses (CVE-2018-0114): proofs have their own parser, and tokens still
//! refuse `jwk`.
//!
//! ```
//! use jwt_auth_core::{Authenticator, Dpop, Key};
//!
//! let dpop = Dpop::allowed("https://api.example.com")?;
//! let auth = Authenticator::new(Key::hmac([7u8; 32])?).dpop(dpop);
//! assert!(auth.dpop_settings().is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::{AuthError, AuthErrorKind};
use crate::jws::CompactParts;
use crate::key::{Algorithm, Key};
use crate::revocation::StoreError;
use crate::source::{AuthRequest, Scheme};
use crate::token::VerifiedToken;
use crate::{BoxFuture, b64, json};

kinded_error! {
    /// A DPoP setting that cannot work.
    DpopError, DpopErrorKind
}

/// The kinds of [`DpopError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DpopErrorKind {
    /// The public URL is not an absolute `https` URL (or `http` on
    /// loopback) without query or fragment.
    InvalidUrl,
    /// Another setting is out of range (a nonce secret too short).
    InvalidSetting,
}

/// Whether DPoP is accepted, and whether it is required.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DpopMode {
    /// `Authorization: DPoP` is accepted beside `Bearer`; bound tokens must
    /// come with a proof.
    Allowed,
    /// Only `Authorization: DPoP` with a proof is accepted.
    Required,
}

/// The longest proof accepted, in bytes.
const MAX_PROOF_LEN: usize = 8 * 1024;
/// The longest `jti` accepted.
const MAX_JTI_LEN: usize = 256;
/// How deeply a proof's JSON may nest.
const MAX_DEPTH: usize = 8;
/// Members of a JWK that only a private key has.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// DPoP settings; see the [module docs](self).
#[derive(Clone)]
pub struct Dpop {
    mode: DpopMode,
    algorithms: Vec<Algorithm>,
    algs_param: String,
    window: Duration,
    base: PublicUrl,
    nonce: Option<Nonces>,
    replay: Arc<dyn ProofReplay>,
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dpop")
            .field("mode", &self.mode)
            .field("algorithms", &self.algorithms)
            .field("window", &self.window)
            .field("public_url", &self.base.shown)
            .field("nonces", &self.nonce.is_some())
            .finish_non_exhaustive()
    }
}

impl Dpop {
    /// DPoP accepted beside bearer tokens. `public_url` is the base URL that
    /// clients call, which proofs' `htu` are compared against: scheme, host,
    /// port, and the path prefix when the service sits behind one (the
    /// request path is appended). Never taken from `Host`.
    pub fn allowed(public_url: &str) -> Result<Self, DpopError> {
        Self::new(DpopMode::Allowed, public_url)
    }

    /// DPoP required: bearer tokens are refused.
    pub fn required(public_url: &str) -> Result<Self, DpopError> {
        Self::new(DpopMode::Required, public_url)
    }

    fn new(mode: DpopMode, public_url: &str) -> Result<Self, DpopError> {
        let algorithms = vec![
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::EdDSA,
            Algorithm::PS256,
            Algorithm::RS256,
        ];
        Ok(Self {
            mode,
            algs_param: algs_param(&algorithms),
            algorithms,
            window: Duration::from_secs(60),
            base: PublicUrl::parse(public_url)?,
            nonce: None,
            replay: Arc::new(MemoryReplay::new()),
        })
    }

    /// The proof algorithms accepted (replaces the default ES256, ES384,
    /// EdDSA, PS256, RS256). Symmetric algorithms are never accepted and are
    /// left out; a list with none left keeps the previous one.
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        let algorithms: Vec<Algorithm> = algorithms
            .into_iter()
            .filter(|alg| !alg.is_symmetric())
            .collect();
        if !algorithms.is_empty() {
            self.algs_param = algs_param(&algorithms);
            self.algorithms = algorithms;
        }
        self
    }

    /// How far a proof's `iat` may be from now, either way (default 60 s;
    /// clamped to 1 s – 10 min). Seen `jti`s are kept twice as long.
    #[must_use]
    pub fn iat_window(mut self, window: Duration) -> Self {
        self.window = window.clamp(Duration::from_secs(1), Duration::from_secs(600));
        self
    }

    /// Requires server nonces (RFC 9449 §8), derived without state from
    /// `secret`: an HMAC of the current time step (`step`, default 5 min),
    /// the previous step's accepted too. Instances that share the secret
    /// accept each other's nonces. At least 32 bytes (the HMAC's output
    /// size), random.
    pub fn nonce_secret(
        mut self,
        secret: impl AsRef<[u8]>,
        step: Option<Duration>,
    ) -> Result<Self, DpopError> {
        if secret.as_ref().len() < 32 {
            return Err(DpopError::new(
                DpopErrorKind::InvalidSetting,
                "the DPoP nonce secret must be at least 32 bytes",
            ));
        }
        self.nonce = Some(Nonces {
            secret: Arc::from(secret.as_ref()),
            step: step
                .unwrap_or(Duration::from_secs(300))
                .max(Duration::from_secs(1)),
        });
        Ok(self)
    }

    /// Where seen proof `jti`s are kept (default: in memory, per process).
    /// Give every instance the same shared one (`jwt_auth_redis::RedisStore`)
    /// so that a proof replayed to another instance is refused too.
    #[must_use]
    pub fn replay_cache(mut self, cache: impl ProofReplay) -> Self {
        self.replay = Arc::new(cache);
        self
    }

    /// Allowed or required.
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// The `algs` parameter of the DPoP challenge: the accepted algorithms,
    /// space-separated.
    pub fn algs(&self) -> &str {
        &self.algs_param
    }

    /// The nonce a client must use now, when nonces are on.
    pub fn current_nonce(&self, now: SystemTime) -> Option<String> {
        let nonces = self.nonce.as_ref()?;
        Some(nonces.at(nonces.step_of(now)))
    }

    /// How long a seen `jti` is remembered.
    pub(crate) fn replay_ttl(&self) -> Duration {
        self.window * 2 + Duration::from_secs(1)
    }

    /// Checks `proof` for a request (`method`, `path` without the query)
    /// that presents `token` with `cnf_jkt` (its `cnf.jkt` claim, if any).
    /// Returns the key under which the proof's `jti` must be new.
    pub(crate) fn check_proof(
        &self,
        proof: &str,
        method: &str,
        path: &str,
        token: &str,
        cnf_jkt: Option<&str>,
        now: SystemTime,
    ) -> Result<String, AuthError> {
        let invalid = |detail| AuthError::with_detail(AuthErrorKind::InvalidDpopProof, detail);
        let parts = CompactParts::split(proof, MAX_PROOF_LEN).map_err(|_| invalid("not a JWS"))?;
        let header = parts
            .header(MAX_DEPTH)
            .map_err(|_| invalid("malformed header"))?;
        if !header
            .typ()
            .is_some_and(|typ| crate::validation::media_type_eq(typ, "dpop+jwt"))
        {
            return Err(invalid("typ is not dpop+jwt"));
        }
        let alg = header.alg();
        if !self.algorithms.contains(&alg) {
            return Err(invalid("alg not allowed"));
        }
        let jwk = match header.members().get("jwk") {
            Some(Value::Object(jwk)) => jwk,
            _ => return Err(invalid("no jwk")),
        };
        if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
            return Err(invalid("jwk holds a private key"));
        }
        let thumbprint = thumbprint(jwk).ok_or_else(|| invalid("jwk is not a public key"))?;
        let mut key = Key::from_jwk_value(&Value::Object(jwk.clone()))
            .map_err(|_| invalid("jwk is not a usable key"))?;
        // A JWK without `alg` defaults to one algorithm of its family (RS256
        // for RSA); the proof's own, already allowed, `alg` is the one to
        // verify with. A JWK that names another `alg` stays pinned to it.
        if !jwk.contains_key("alg") {
            key = key
                .with_algorithms([alg])
                .map_err(|_| invalid("alg does not fit the jwk"))?;
        }
        parts
            .verify_with(&key, alg)
            .map_err(|_| invalid("signature"))?;
        let payload = parts.payload().map_err(|_| invalid("payload encoding"))?;
        let claims = json::parse_object(&payload, MAX_DEPTH).map_err(|_| invalid("payload"))?;
        let text = |name: &'static str| match claims.get(name) {
            Some(Value::String(s)) => Ok(s.as_str()),
            _ => Err(invalid(name)),
        };
        let jti = text("jti")?;
        if jti.is_empty() || jti.len() > MAX_JTI_LEN {
            return Err(invalid("jti"));
        }
        if text("htm")? != method {
            return Err(invalid("htm"));
        }
        if !self.base.matches(text("htu")?, path) {
            return Err(invalid("htu"));
        }
        let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let iat = match claims.get("iat") {
            Some(Value::Number(n)) => n.as_f64().ok_or_else(|| invalid("iat"))?,
            _ => return Err(invalid("iat")),
        };
        if (iat - now_secs as f64).abs() > self.window.as_secs_f64() {
            return Err(invalid("iat outside the window"));
        }
        let ath = b64::encode(&Sha256::digest(token.as_bytes()));
        if text("ath")? != ath {
            return Err(invalid("ath"));
        }
        if let Some(nonces) = &self.nonce {
            let step = nonces.step_of(now);
            let fresh = || AuthError::use_dpop_nonce(nonces.at(step));
            match claims.get("nonce") {
                Some(Value::String(n)) if nonces.accepts(n, step) => {}
                _ => return Err(fresh()),
            }
        }
        match cnf_jkt {
            Some(jkt) if jkt == thumbprint => {}
            Some(_) => return Err(invalid("cnf.jkt is not the proof key's thumbprint")),
            None => {
                return Err(
                    AuthError::with_detail(AuthErrorKind::InvalidClaim, "cnf.jkt").via_dpop(),
                );
            }
        }
        Ok(format!("{thumbprint}:{jti}"))
    }
}

fn algs_param(algorithms: &[Algorithm]) -> String {
    algorithms
        .iter()
        .map(|a| a.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The JWK thumbprint of RFC 7638 (SHA-256, base64url) of a public JWK:
/// its required members, in lexicographic order, as compact JSON. `None`
/// for a key type without one or a member that is not a string.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let member = |name: &str| match jwk.get(name) {
        Some(Value::String(s)) => serde_json::to_string(s).ok(),
        _ => None,
    };
    let canonical = match jwk.get("kty")?.as_str()? {
        "EC" => format!(
            r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
            member("crv")?,
            member("x")?,
            member("y")?
        ),
        "RSA" => format!(
            r#"{{"e":{},"kty":"RSA","n":{}}}"#,
            member("e")?,
            member("n")?
        ),
        "OKP" => format!(
            r#"{{"crv":{},"kty":"OKP","x":{}}}"#,
            member("crv")?,
            member("x")?
        ),
        _ => return None,
    };
    Some(b64::encode(&Sha256::digest(canonical.as_bytes())))
}

/// The public base URL proofs' `htu` are compared against.
#[derive(Clone)]
struct PublicUrl {
    scheme: String,
    host: String,
    port: u16,
    prefix: String,
    shown: String,
}

impl PublicUrl {
    fn parse(text: &str) -> Result<Self, DpopError> {
        let invalid = |why: &str| {
            DpopError::new(
                DpopErrorKind::InvalidUrl,
                format!("the DPoP public URL {why}"),
            )
        };
        let url = url::Url::parse(text).map_err(|_| invalid("is not a URL"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("has a query or fragment"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("has user information"));
        }
        let host = url.host().ok_or_else(|| invalid("has no host"))?;
        let loopback = match &host {
            url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
        };
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err(invalid("is not https (or http on loopback)")),
        }
        Ok(Self {
            scheme: url.scheme().to_owned(),
            host: host.to_string().to_ascii_lowercase(),
            port: url.port_or_known_default().unwrap_or(443),
            prefix: url.path().trim_end_matches('/').to_owned(),
            shown: text.to_owned(),
        })
    }

    /// Whether `htu` names this base plus `path` (RFC 9449 §4.3: query and
    /// fragment ignored; scheme and host case-insensitive, default ports
    /// normalised by the URL parser).
    fn matches(&self, htu: &str, path: &str) -> bool {
        let Ok(url) = url::Url::parse(htu) else {
            return false;
        };
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        let Some(host) = url.host() else {
            return false;
        };
        url.scheme() == self.scheme
            && host.to_string().eq_ignore_ascii_case(&self.host)
            && url.port_or_known_default() == Some(self.port)
            && url
                .path()
                .strip_prefix(self.prefix.as_str())
                .is_some_and(|rest| rest == path || (rest.is_empty() && path == "/"))
    }
}

/// Stateless nonces: HMAC-SHA256 of the time step.
#[derive(Clone)]
struct Nonces {
    secret: Arc<[u8]>,
    step: Duration,
}

impl Nonces {
    fn step_of(&self, now: SystemTime) -> u64 {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        secs / self.step.as_secs().max(1)
    }

    fn at(&self, step: u64) -> String {
        b64::encode(&crate::key::hmac_sha256(&self.secret, &step.to_be_bytes()))
    }

    /// The current or the previous step's nonce, compared in constant time.
    fn accepts(&self, nonce: &str, step: u64) -> bool {
        let eq = |expected: String| {
            !expected.is_empty()
                && expected.len() == nonce.len()
                && expected
                    .bytes()
                    .zip(nonce.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        };
        eq(self.at(step)) | eq(self.at(step.saturating_sub(1)))
    }
}

/// Where seen proof `jti`s are kept, so that a proof is accepted once: an
/// atomic insert in which the first writer wins.
pub trait ProofReplay: Send + Sync + 'static {
    /// Records `key` for `ttl`: `Ok(true)` when it was not there (the proof
    /// is fresh), `Ok(false)` when it was (a replay).
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>>;

    /// The same answer when it can be given without waiting (an in-memory
    /// cache); `None` to be awaited through [`first_use`](Self::first_use).
    fn first_use_now(&self, key: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        let _ = (key, ttl);
        None
    }
}

impl<T: ProofReplay + ?Sized> ProofReplay for Arc<T> {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        (**self).first_use(key, ttl)
    }

    fn first_use_now(&self, key: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        (**self).first_use_now(key, ttl)
    }
}

/// The in-memory [`ProofReplay`] (per process). Each seen proof is kept for
/// its own TTL as a 32-byte hash; when a million are held, new proofs are
/// refused (503) rather than old ones forgotten, which would let a replay
/// through (RFC 9449 §11.1).
#[derive(Clone)]
pub struct MemoryReplay {
    seen: moka::sync::Cache<[u8; 32], Duration>,
    capacity: u64,
}

impl fmt::Debug for MemoryReplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplay")
            .field("entries", &self.seen.entry_count())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Default for MemoryReplay {
    fn default() -> Self {
        Self::new()
    }
}

struct ForItsTtl;

impl moka::Expiry<[u8; 32], Duration> for ForItsTtl {
    fn expire_after_create(
        &self,
        _: &[u8; 32],
        ttl: &Duration,
        _: std::time::Instant,
    ) -> Option<Duration> {
        Some(*ttl)
    }
}

impl MemoryReplay {
    /// An empty cache holding at most a million proofs.
    pub fn new() -> Self {
        Self::with_capacity(1_000_000)
    }

    /// An empty cache holding at most `capacity` proofs at once; past it,
    /// new proofs are refused until old ones expire.
    pub fn with_capacity(capacity: u64) -> Self {
        Self {
            // Never evicts: entries leave when their TTL ends.
            seen: moka::sync::Cache::builder().expire_after(ForItsTtl).build(),
            capacity,
        }
    }
}

impl ProofReplay for MemoryReplay {
    fn first_use<'a>(
        &'a self,
        key: &'a str,
        ttl: Duration,
    ) -> BoxFuture<'a, Result<bool, StoreError>> {
        let fresh = self.first_use_now(key, ttl).unwrap_or(Ok(false));
        Box::pin(std::future::ready(fresh))
    }

    fn first_use_now(&self, key: &str, ttl: Duration) -> Option<Result<bool, StoreError>> {
        if self.seen.entry_count() >= self.capacity {
            return Some(Err(StoreError::new(
                crate::revocation::StoreErrorKind::Unavailable,
                "the DPoP replay cache is full",
            )));
        }
        let hash: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let entry = self.seen.entry(hash).or_insert(ttl);
        Some(Ok(entry.is_fresh()))
    }
}

/// What DPoP asks of one request, read before its token is verified (owned:
/// remote keys may have to be awaited first).
#[derive(Debug)]
pub(crate) enum Binding {
    /// A bearer token: refused if it is bound.
    Bearer,
    /// `Authorization: DPoP` with its proof.
    Proof {
        proof: String,
        method: String,
        path: String,
    },
}

impl Dpop {
    /// The binding of a request whose token came with `scheme`.
    pub(crate) fn binding<R: AuthRequest + ?Sized>(
        &self,
        req: &R,
        scheme: Scheme,
    ) -> Result<Binding, AuthError> {
        let invalid = |detail| AuthError::with_detail(AuthErrorKind::InvalidDpopProof, detail);
        match scheme {
            Scheme::Bearer if self.mode == DpopMode::Required => {
                Err(AuthError::new(AuthErrorKind::DpopRequired))
            }
            Scheme::Bearer => Ok(Binding::Bearer),
            Scheme::Dpop => {
                let mut proofs = req.header_values("dpop");
                let proof = proofs.next().ok_or_else(|| invalid("no DPoP header"))?;
                if proofs.next().is_some() {
                    return Err(invalid("several DPoP headers"));
                }
                let proof = std::str::from_utf8(proof).map_err(|_| invalid("not text"))?;
                let method = req.method().ok_or_else(|| invalid("no method"))?;
                let path = req.path().ok_or_else(|| invalid("no path"))?;
                Ok(Binding::Proof {
                    proof: proof.trim().to_owned(),
                    method: method.to_owned(),
                    path: path.to_owned(),
                })
            }
        }
    }

    /// Checks a verified token against the request's binding: `Ok(Some(key))`
    /// when a proof's `jti` must still be recorded as new.
    pub(crate) fn check(
        &self,
        binding: &Binding,
        token: &str,
        verified: &VerifiedToken,
        now: SystemTime,
    ) -> Result<Option<String>, AuthError> {
        match binding {
            // Bound to a key (`jkt`) or anything else this server does not
            // check (`x5t#S256`, a malformed `jkt`): never a bearer token.
            Binding::Bearer if verified.claims_map().contains_key("cnf") => {
                Err(AuthError::new(AuthErrorKind::DpopRequired))
            }
            Binding::Bearer => Ok(None),
            Binding::Proof {
                proof,
                method,
                path,
            } => self
                .check_proof(proof, method, path, token, verified.dpop_jkt(), now)
                .map(Some),
        }
    }

    /// Records a proof's `jti` when the cache answers at once: `None` when
    /// it must be awaited ([`record`](Self::record)).
    pub(crate) fn record_now(&self, key: &str) -> Option<Result<(), AuthError>> {
        Some(replay_verdict(
            self.replay.first_use_now(key, self.replay_ttl())?,
        ))
    }

    /// Records a proof's `jti`: a replay is refused, a cache that cannot
    /// answer fails closed (503).
    pub(crate) async fn record(&self, key: &str) -> Result<(), AuthError> {
        replay_verdict(self.replay.first_use(key, self.replay_ttl()).await)
    }
}

fn replay_verdict(answer: Result<bool, StoreError>) -> Result<(), AuthError> {
    match answer {
        Ok(true) => Ok(()),
        Ok(false) => Err(AuthError::with_detail(
            AuthErrorKind::InvalidDpopProof,
            "jti replayed",
        )),
        Err(error) => {
            tracing::error!(%error, "jwt-auth: the DPoP replay cache failed; answering 503");
            Err(AuthErrorKind::RevocationUnavailable.into())
        }
    }
}

impl Dpop {
    /// The Bearer and DPoP challenges (RFC 9449 §7.1) for an answer whose
    /// single challenge is `challenge`: the error goes on the challenge of
    /// the scheme the request used (DPoP for a failed proof), the other one
    /// is bare, and the DPoP one lists the accepted `algs`.
    pub(crate) fn challenges(
        &self,
        challenge: &str,
        error: &AuthError,
        realm: Option<&str>,
    ) -> [String; 2] {
        let bare = AuthError::new(AuthErrorKind::MissingToken)
            .response(realm)
            .www_authenticate
            .unwrap_or_else(|| "Bearer".to_owned());
        let params = |c: &str| c.strip_prefix("Bearer").map(str::to_owned);
        let (bearer, mut dpop) = if error.is_dpop() {
            let own = params(challenge)
                .or_else(|| {
                    error
                        .response(realm)
                        .www_authenticate
                        .as_deref()
                        .and_then(params)
                })
                .unwrap_or_default();
            (bare, format!("DPoP{own}"))
        } else {
            let realm = params(&bare).unwrap_or_default();
            (challenge.to_owned(), format!("DPoP{realm}"))
        };
        crate::error::add_param(&mut dpop, "algs", &self.algs_param);
        [bearer, dpop]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_replay_cache_refuses_instead_of_forgetting() {
        let cache = MemoryReplay::with_capacity(100);
        let ttl = Duration::from_secs(60);
        let mut refused = 0;
        for i in 0..1_000 {
            match cache.first_use_now(&format!("k{i}"), ttl) {
                Some(Ok(true)) => {}
                Some(Err(_)) => refused += 1,
                other => panic!("{other:?}"),
            }
        }
        assert!(refused > 0, "past its capacity the cache refuses");
        // Nothing seen was forgotten: k0 is a replay or (while full) refused,
        // never fresh again.
        assert!(!matches!(cache.first_use_now("k0", ttl), Some(Ok(true))));
    }

    #[test]
    fn nonces_need_a_long_secret_and_never_match_empty() {
        let dpop = Dpop::allowed("https://api.example.com").unwrap_or_else(|e| panic!("{e}"));
        assert!(dpop.clone().nonce_secret([1u8; 31], None).is_err());
        let dpop = dpop
            .nonce_secret([1u8; 32], None)
            .unwrap_or_else(|e| panic!("{e}"));
        let nonces = dpop.nonce.as_ref().unwrap_or_else(|| panic!("nonces on"));
        assert!(!nonces.accepts("", 5));
        assert!(nonces.accepts(&nonces.at(5), 5));
        assert!(nonces.accepts(&nonces.at(4), 5));
        assert!(!nonces.accepts(&nonces.at(3), 5));
    }

    #[test]
    fn the_thumbprint_follows_rfc_7638() {
        // RFC 7638 §3.1's example key and thumbprint.
        let jwk = serde_json::json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(jwk.as_object().unwrap_or_else(|| panic!("object"))).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }
}
