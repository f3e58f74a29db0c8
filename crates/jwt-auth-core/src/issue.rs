//! Issuing tokens: access and refresh tokens, refresh rotation with reuse
//! detection, logout, and the refresh cookie.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::authenticator::Authenticator;
use crate::csrf::CsrfPolicy;
use crate::error::{AuthError, AuthErrorKind};
use crate::key::{Key, KeyError, KeyErrorKind};
use crate::redact::Redacted;
use crate::revocation::{MemoryStore, RevocationStore, Rotation};
use crate::source::{AuthRequest, cookie_values};
use crate::token::{ACCESS_TYP, REFRESH_TYP, VerifiedToken};
use crate::validation::Clock;

/// Claims the issuer sets itself; custom claims cannot override them.
const RESERVED: &[&str] = &["iss", "sub", "aud", "iat", "nbf", "exp", "jti", "fam"];
/// How long past the last `exp` a revocation is kept: the largest leeway
/// any authenticator may have, so no authenticator still accepts a token
/// whose revocation is gone.
const DENY_MARGIN: Duration = crate::validation::MAX_LEEWAY;

/// The longest token lifetime a [`TokenIssuer`] accepts: ten years. Longer
/// lifetimes are clamped to it (and logged).
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `ttl` within one second and [`MAX_TOKEN_TTL`], in whole seconds.
fn bounded_ttl(what: &str, ttl: Duration) -> Duration {
    let bounded = Duration::from_secs(ttl.as_secs().clamp(1, MAX_TOKEN_TTL.as_secs()));
    if bounded.as_secs() != ttl.as_secs() {
        tracing::warn!(
            requested = ?ttl,
            used = ?bounded,
            "jwt-auth: the {what} lifetime is clamped to 1 s – 10 years"
        );
    }
    bounded
}

/// Where a refresh token keeps the custom claims of its family.
const CONTEXT: &str = "ctx";

/// A token just issued, with what the caller needs to hand it out.
///
/// `Debug` never shows the token itself.
#[derive(Clone)]
pub struct IssuedToken {
    token: Redacted<String>,
    jti: String,
    family: String,
    issued_at: u64,
    expires_at: u64,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("jti", &self.jti)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl IssuedToken {
    /// The compact JWT.
    pub fn as_str(&self) -> &str {
        self.token.expose()
    }

    /// Its unique id (`jti`).
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// Its refresh family (`fam`).
    pub fn family(&self) -> &str {
        &self.family
    }

    /// `iat`, in seconds since the epoch.
    pub fn issued_at(&self) -> u64 {
        self.issued_at
    }

    /// `exp`, in seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// Seconds from issue to expiry: the OAuth `expires_in`.
    pub fn expires_in(&self) -> u64 {
        self.expires_at.saturating_sub(self.issued_at)
    }
}

/// An access token and the refresh token of the same family.
#[derive(Clone, Debug)]
pub struct TokenPair {
    /// Sent as `Authorization: Bearer`; lives [`TokenIssuer::access_ttl`].
    pub access: IssuedToken,
    /// Kept in an HttpOnly cookie; lives [`TokenIssuer::refresh_ttl`].
    pub refresh: IssuedToken,
}

/// Signs access and refresh tokens with a private key or HMAC secret.
///
/// Every token gets `iss` and `aud` (when configured), `sub`, `iat`, `nbf`,
/// `exp`, a random `jti` and its family `fam`. Access tokens carry header
/// `typ: at+jwt` and your custom claims; refresh tokens carry `typ:
/// refresh+jwt`, so neither can pass for the other.
///
/// ```
/// use jwt_auth_core::{Authenticator, Key, TokenIssuer};
/// use serde_json::json;
///
/// let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
/// let issuer = TokenIssuer::new(key.clone())?.issuer("https://auth.example.com");
/// let pair = issuer.token_pair("alice", json!({"roles": ["admin"]}))?;
/// assert_eq!(pair.access.expires_in(), 900);
///
/// let auth = Authenticator::new(key).issuer("https://auth.example.com");
/// let verified = auth.verify(pair.access.as_str()).expect("an access token");
/// assert_eq!(verified.subject(), Some("alice"));
/// // A refresh token never authenticates a request.
/// assert!(auth.verify(pair.refresh.as_str()).is_err());
/// # Ok::<(), jwt_auth_core::KeyError>(())
/// ```
#[derive(Clone)]
pub struct TokenIssuer {
    inner: Arc<IssuerConfig>,
}

#[derive(Clone)]
struct IssuerConfig {
    key: Key,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    clock: Clock,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &*self.inner;
        f.debug_struct("TokenIssuer")
            .field("key", &c.key)
            .field("issuer", &c.issuer)
            .field("audience", &c.audience)
            .field("access_ttl", &c.access_ttl)
            .field("refresh_ttl", &c.refresh_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `key`, which must be able to sign (an HMAC
    /// secret or a private key).
    pub fn new(key: Key) -> Result<Self, KeyError> {
        if !key.can_sign() {
            return Err(KeyError::new(
                KeyErrorKind::CannotSign,
                "a token issuer needs an HMAC secret or a private key",
            ));
        }
        Ok(Self {
            inner: Arc::new(IssuerConfig {
                key,
                issuer: None,
                audience: None,
                access_ttl: Duration::from_secs(15 * 60),
                refresh_ttl: Duration::from_secs(14 * 24 * 3600),
                clock: Arc::new(SystemTime::now),
            }),
        })
    }

    fn config(&mut self) -> &mut IssuerConfig {
        Arc::make_mut(&mut self.inner)
    }

    /// Sets `iss`. Defaults to none.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config().issuer = Some(issuer.into());
        self
    }

    /// Sets `aud`. Defaults to none.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.config().audience = Some(audience.into());
        self
    }

    /// Access-token lifetime (whole seconds). Defaults to 15 minutes. Clamped
    /// to 1 s – [`MAX_TOKEN_TTL`] (10 years), with a warning in the log.
    #[must_use]
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.config().access_ttl = bounded_ttl("access-token", ttl);
        self
    }

    /// Refresh-token lifetime (whole seconds). Defaults to 14 days. Clamped
    /// to 1 s – [`MAX_TOKEN_TTL`] (10 years), with a warning in the log.
    ///
    /// It may be shorter than the access-token lifetime: revocations of a
    /// family always last until its longest-lived token has expired.
    #[must_use]
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.config().refresh_ttl = bounded_ttl("refresh-token", ttl);
        self
    }

    /// Uses another clock. Defaults to the system clock.
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.config().clock = Arc::new(clock);
        self
    }

    /// The signing key.
    pub fn key(&self) -> &Key {
        &self.inner.key
    }

    /// The access-token lifetime.
    pub fn access_token_ttl(&self) -> Duration {
        self.inner.access_ttl
    }

    /// The refresh-token lifetime.
    pub fn refresh_token_ttl(&self) -> Duration {
        self.inner.refresh_ttl
    }

    /// How long a revocation of a whole family must last: until the last
    /// token it covers (one issued just now, access or refresh) has expired,
    /// plus the largest leeway an authenticator may grant.
    fn family_revocation_ttl(&self) -> Duration {
        let c = &*self.inner;
        c.access_ttl.max(c.refresh_ttl).saturating_add(DENY_MARGIN)
    }

    /// An authenticator for this issuer's access tokens: the verifying half
    /// of its key, its `iss` and `aud`, and `typ: at+jwt` required.
    pub fn authenticator(&self) -> Authenticator {
        let c = &*self.inner;
        let mut auth = Authenticator::new(c.key.clone()).typ(ACCESS_TYP);
        let clock = Arc::clone(&c.clock);
        auth = auth.clock(move || clock());
        if let Some(iss) = &c.issuer {
            auth = auth.issuer(iss.clone());
        }
        if let Some(aud) = &c.audience {
            auth = auth.audience(aud.clone());
        }
        auth
    }

    fn now(&self) -> u64 {
        (self.inner.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }

    fn sign(
        &self,
        typ: &str,
        subject: &str,
        family: &str,
        ttl: Duration,
        extra: Map<String, Value>,
    ) -> Result<IssuedToken, KeyError> {
        let c = &*self.inner;
        let now = self.now();
        let exp = now.saturating_add(ttl.as_secs());
        let jti = random_id()?;
        let mut claims = extra;
        claims.retain(|name, _| !RESERVED.contains(&name.as_str()));
        if let Some(iss) = &c.issuer {
            claims.insert("iss".into(), iss.clone().into());
        }
        if let Some(aud) = &c.audience {
            claims.insert("aud".into(), aud.clone().into());
        }
        claims.insert("sub".into(), subject.into());
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("jti".into(), jti.clone().into());
        claims.insert("fam".into(), family.into());
        let token = c.key.encode_with_typ(&Value::Object(claims), typ)?;
        Ok(IssuedToken {
            token: Redacted::new(token),
            jti,
            family: family.to_owned(),
            issued_at: now,
            expires_at: exp,
        })
    }

    /// An access token for `subject` with custom `claims` (a JSON object;
    /// anything else adds no claim), in a new family.
    pub fn access_token(
        &self,
        subject: &str,
        claims: impl serde::Serialize,
    ) -> Result<IssuedToken, KeyError> {
        let family = random_id()?;
        self.sign(
            ACCESS_TYP,
            subject,
            &family,
            self.inner.access_ttl,
            object(claims)?,
        )
    }

    /// An access token and a refresh token of a new family. The refresh
    /// token carries the custom claims (as `ctx`), so a refresh re-issues
    /// them.
    pub fn token_pair(
        &self,
        subject: &str,
        claims: impl serde::Serialize,
    ) -> Result<TokenPair, KeyError> {
        let family = random_id()?;
        self.pair_in(subject, &family, object(claims)?)
    }

    fn pair_in(
        &self,
        subject: &str,
        family: &str,
        claims: Map<String, Value>,
    ) -> Result<TokenPair, KeyError> {
        let c = &*self.inner;
        let access = self.sign(ACCESS_TYP, subject, family, c.access_ttl, claims.clone())?;
        let mut refresh_claims = Map::new();
        refresh_claims.insert(CONTEXT.into(), Value::Object(claims));
        let refresh = self.sign(REFRESH_TYP, subject, family, c.refresh_ttl, refresh_claims)?;
        Ok(TokenPair { access, refresh })
    }
}

fn object(claims: impl serde::Serialize) -> Result<Map<String, Value>, KeyError> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(mut map)) => {
            map.retain(|name, _| !RESERVED.contains(&name.as_str()) && name != CONTEXT);
            Ok(map)
        }
        Ok(Value::Null) => Ok(Map::new()),
        Ok(_) => Err(KeyError::invalid("custom claims must be a JSON object")),
        Err(_) => Err(KeyError::invalid("custom claims do not serialize")),
    }
}

/// 128 random bits, base64url.
fn random_id() -> Result<String, KeyError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| KeyError::invalid("no randomness available"))?;
    Ok(crate::b64::encode(&bytes))
}

/// Refresh cookies of one name read from a request, at most (oversized or
/// non-text values skipped, so junk planted beside the real one cannot hide
/// it).
const MAX_REFRESH_COOKIES: usize = 16;

/// What rotating one refresh token came to.
enum Refreshed {
    Rotated(TokenPair),
    /// Not the family's current token: a reuse, unless another presented
    /// cookie was current.
    Reused(String),
    Refused(AuthError),
}

/// How the refresh cookie is written. Defaults: name `refresh_token`, one
/// cookie for each of the paths `/refresh` and `/logout`,
/// `HttpOnly; Secure; SameSite=Strict`.
///
/// A cookie has one `Path`, and a browser sends it to that path and below
/// only. The refresh token is needed at two endpoints, refresh and logout,
/// and nowhere else, so it is written once per path, with the same value,
/// and rotated and cleared together: no content route ever receives it.
#[derive(Clone, Debug)]
pub struct RefreshCookie {
    name: String,
    paths: Vec<String>,
}

impl Default for RefreshCookie {
    fn default() -> Self {
        Self {
            name: "refresh_token".into(),
            paths: vec!["/refresh".into(), "/logout".into()],
        }
    }
}

impl RefreshCookie {
    /// The cookie name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The paths of your refresh and logout endpoints (replaces the
    /// default `/refresh` and `/logout`): one cookie is written per path.
    #[must_use]
    pub fn paths<I: IntoIterator<Item = S>, S: Into<String>>(mut self, paths: I) -> Self {
        self.paths = paths.into_iter().map(Into::into).collect();
        self
    }

    /// The cookie name in use.
    pub fn cookie_name(&self) -> &str {
        &self.name
    }

    /// The paths in use.
    pub fn cookie_paths(&self) -> impl Iterator<Item = &str> {
        self.paths.iter().map(String::as_str)
    }

    /// The `Set-Cookie` values holding `token`, one per path; `Max-Age` is
    /// the time left until its `exp`, so the cookies and the token end
    /// together.
    pub fn set(&self, token: &IssuedToken, now: SystemTime) -> Vec<String> {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let max_age = token.expires_at.saturating_sub(now);
        self.paths
            .iter()
            .map(|path| {
                format!(
                    "{}={}; Max-Age={max_age}; Path={path}; HttpOnly; Secure; SameSite=Strict",
                    self.name,
                    token.token.expose(),
                )
            })
            .collect()
    }

    /// The `Set-Cookie` values that delete the cookies.
    pub fn clear(&self) -> Vec<String> {
        self.paths
            .iter()
            .map(|path| {
                format!(
                    "{}=; Max-Age=0; Path={path}; HttpOnly; Secure; SameSite=Strict",
                    self.name
                )
            })
            .collect()
    }
}

/// The token lifecycle: log in, refresh with rotation and reuse detection,
/// log out. State lives in a [`RevocationStore`] (in memory by default;
/// `jwt-auth-redis` to share it between instances).
///
/// - [`login`](Self::login) issues a pair and starts a refresh family.
/// - [`refresh`](Self::refresh) accepts only a refresh token that is the
///   family's current one, and rotates it. Presenting one that was already
///   used revokes the whole family, access tokens included (OAuth 2.0
///   Security BCP §4.14).
/// - [`logout`](Self::logout) denies the access token until its `exp` and
///   revokes its family.
///
/// Give the same store to the [`Authenticator`] (see
/// [`authenticator`](Self::authenticator)) so that revoked tokens stop
/// working on every request.
///
/// ```
/// use jwt_auth_core::{AuthErrorKind, Key, TokenIssuer, TokenService};
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let issuer = TokenIssuer::new(Key::hmac([7u8; 32])?)?;
/// let service = TokenService::new(issuer);
/// let auth = service.authenticator();
///
/// let first = service.login("alice", json!({"roles": ["user"]})).await.expect("login");
/// let second = service.refresh(first.refresh.as_str()).await.expect("rotated");
/// // Replaying the first refresh token revokes the family.
/// let err = service.refresh(first.refresh.as_str()).await.unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::Revoked);
/// assert!(service.refresh(second.refresh.as_str()).await.is_err());
///
/// let req = http::Request::builder()
///     .header("authorization", format!("Bearer {}", second.access.as_str()))
///     .body(()).unwrap();
/// assert_eq!(auth.authenticate(&req).await.unwrap_err().kind(), AuthErrorKind::Revoked);
/// # Ok::<(), jwt_auth_core::KeyError>(()) }).unwrap();
/// ```
#[derive(Clone)]
pub struct TokenService {
    issuer: TokenIssuer,
    store: Arc<dyn RevocationStore>,
    refresh_verifier: Authenticator,
    cookie: RefreshCookie,
    csrf: CsrfPolicy,
}

impl fmt::Debug for TokenService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenService")
            .field("issuer", &self.issuer)
            .field("cookie", &self.cookie)
            .field("csrf", &self.csrf)
            .finish_non_exhaustive()
    }
}

impl TokenService {
    /// A service issuing with `issuer`, keeping state in a [`MemoryStore`].
    pub fn new(issuer: TokenIssuer) -> Self {
        Self::with_store(issuer, MemoryStore::new())
    }

    /// A service keeping state in `store`.
    pub fn with_store(issuer: TokenIssuer, store: impl RevocationStore) -> Self {
        let refresh_verifier = issuer
            .authenticator()
            .typ(REFRESH_TYP)
            .refresh_tokens_only();
        Self {
            issuer,
            store: Arc::new(store),
            refresh_verifier,
            cookie: RefreshCookie::default(),
            csrf: CsrfPolicy::new(),
        }
    }

    /// The cross-site request forgery defence of
    /// [`refresh_request`](Self::refresh_request) and
    /// [`revoke_refresh_cookie`](Self::revoke_refresh_cookie): the refresh
    /// cookie is ambient authority, so a request that carries it from
    /// another site or origin is refused (403). On by default; give it the
    /// same allowed origins as the [`Authenticator::csrf`].
    #[must_use]
    pub fn csrf(mut self, policy: CsrfPolicy) -> Self {
        self.csrf = policy;
        self
    }

    /// How the refresh cookie is written and read.
    #[must_use]
    pub fn refresh_cookie(mut self, cookie: RefreshCookie) -> Self {
        self.cookie = cookie;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The cookie settings.
    pub fn cookie(&self) -> &RefreshCookie {
        &self.cookie
    }

    /// An authenticator for this service's access tokens, consulting its
    /// store on every request (failing closed).
    pub fn authenticator(&self) -> Authenticator {
        self.issuer
            .authenticator()
            .revocation_store(Arc::clone(&self.store))
    }

    fn store_error(error: crate::revocation::StoreError) -> AuthError {
        tracing::error!(%error, "jwt-auth: the revocation store failed");
        AuthErrorKind::RevocationUnavailable.into()
    }

    /// Issues a pair for `subject` and starts its refresh family.
    pub async fn login(
        &self,
        subject: &str,
        claims: impl serde::Serialize,
    ) -> Result<TokenPair, AuthError> {
        let pair = self
            .issuer
            .token_pair(subject, claims)
            .map_err(|_| AuthError::new(AuthErrorKind::NotConfigured))?;
        self.store
            .start_family(
                pair.refresh.family(),
                pair.refresh.jti(),
                self.issuer.refresh_token_ttl(),
            )
            .await
            .map_err(Self::store_error)?;
        Ok(pair)
    }

    /// Verifies a refresh token (signature, `typ: refresh+jwt`, expiry, `iss`,
    /// `aud`) and returns its claims.
    fn verify_refresh(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        self.refresh_verifier.verify(token)
    }

    /// Exchanges a refresh token for a new pair, rotating it. A refresh
    /// token that was already used revokes its whole family: every token of
    /// it stops working, and this call fails with
    /// [`AuthErrorKind::Revoked`].
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, AuthError> {
        let verified = self.verify_refresh(refresh_token)?;
        match self.rotate(&verified).await? {
            Refreshed::Rotated(pair) => Ok(pair),
            Refreshed::Reused(family) => self.revoke_reused(&[family]).await,
            Refreshed::Refused(error) => Err(error),
        }
    }

    /// Rotates a verified refresh token, without acting on a reuse.
    async fn rotate(&self, verified: &VerifiedToken) -> Result<Refreshed, AuthError> {
        let claims = verified.claims_map();
        let text = |name: &'static str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| AuthError::with_detail(AuthErrorKind::MissingClaim, name))
        };
        let (subject, jti, family) = match (text("sub"), text("jti"), text("fam")) {
            (Ok(subject), Ok(jti), Ok(family)) => (subject, jti, family),
            (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return Ok(Refreshed::Refused(e)),
        };
        let context = match claims.get(CONTEXT) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        let ttl = self.issuer.refresh_token_ttl();
        if self
            .store
            .is_revoked(None, Some(family))
            .await
            .map_err(Self::store_error)?
        {
            return Ok(Refreshed::Refused(AuthErrorKind::Revoked.into()));
        }
        let pair = self
            .issuer
            .pair_in(subject, family, context)
            .map_err(|_| AuthError::new(AuthErrorKind::NotConfigured))?;
        let rotation = self
            .store
            .rotate(family, jti, pair.refresh.jti(), ttl)
            .await
            .map_err(Self::store_error)?;
        Ok(match rotation {
            Rotation::Rotated => Refreshed::Rotated(pair),
            Rotation::Reused => Refreshed::Reused(family.to_owned()),
            Rotation::Unknown => Refreshed::Refused(AuthErrorKind::Revoked.into()),
        })
    }

    /// A refresh token was used twice: its family is revoked.
    async fn revoke_reused(&self, families: &[String]) -> Result<TokenPair, AuthError> {
        tracing::warn!("jwt-auth: a refresh token was used twice; its whole family is revoked");
        for family in families {
            self.store
                .revoke_family(family, self.issuer.family_revocation_ttl())
                .await
                .map_err(Self::store_error)?;
        }
        Err(AuthErrorKind::Revoked.into())
    }

    /// Like [`refresh`](Self::refresh), reading the refresh token from the
    /// request's cookie, after the [`csrf`](Self::csrf) check.
    ///
    /// **Several cookies of that name** (a browser keeps one per path and
    /// domain, so a stale one survives a change of path) are handled
    /// deliberately: each is tried (at most sixteen), the first that is its
    /// family's current token is rotated, and a stale duplicate of **that
    /// family** beside it is ignored, never taken for a reuse. A reused
    /// token of any other family revokes that family, as a single reused
    /// token would, so a stolen stale token cannot be tried for free beside
    /// the caller's own.
    pub async fn refresh_request<R: AuthRequest + ?Sized>(
        &self,
        req: &R,
    ) -> Result<TokenPair, AuthError> {
        let tokens = self.cookie_tokens(req)?;
        self.csrf.check_origin(req)?;
        if let [token] = tokens.as_slice() {
            return self.refresh(token).await;
        }
        let mut rotated: Option<(TokenPair, String)> = None;
        let mut reused = Vec::new();
        let mut refused = None;
        for token in tokens {
            let outcome = match self.verify_refresh(token) {
                Ok(verified) => self.rotate(&verified).await?,
                Err(error) => Refreshed::Refused(error),
            };
            match outcome {
                // The first current token is used; those after it are not
                // looked at (nor rotated).
                Refreshed::Rotated(pair) => {
                    let family = pair.refresh.family().to_owned();
                    rotated = Some((pair, family));
                    break;
                }
                Refreshed::Reused(family) => reused.push(family),
                Refreshed::Refused(error) => {
                    refused.get_or_insert(error);
                }
            }
        }
        // A stale duplicate is excused only beside the current token of its
        // own family; a reused token of any other family is a reuse.
        if let Some((pair, family)) = rotated {
            reused.retain(|f| *f != family);
            if !reused.is_empty() {
                let _ = self.revoke_reused(&reused).await;
            }
            return Ok(pair);
        }
        if reused.is_empty() {
            return Err(refused.unwrap_or_else(|| AuthErrorKind::MissingToken.into()));
        }
        self.revoke_reused(&reused).await
    }

    /// The values of every refresh cookie in the request, in order (at
    /// most eight); none is [`AuthErrorKind::MissingToken`].
    fn cookie_tokens<'a, R: AuthRequest + ?Sized>(
        &self,
        req: &'a R,
    ) -> Result<Vec<&'a str>, AuthError> {
        let tokens = cookie_values(req, &self.cookie.name, 8192, MAX_REFRESH_COOKIES, true)?;
        if tokens.is_empty() {
            return Err(AuthErrorKind::MissingToken.into());
        }
        Ok(tokens)
    }

    /// Logs out: denies the access token until an hour past its `exp` (the
    /// largest leeway, [`MAX_LEEWAY`](crate::MAX_LEEWAY), is covered) and
    /// revokes its family, so the refresh token and every other access token
    /// of the session stop working too. The family's revocation lasts until
    /// its longest-lived token has expired, whichever of the access and
    /// refresh lifetimes is longer.
    pub async fn logout(&self, access: &VerifiedToken) -> Result<(), AuthError> {
        let claims = access.claims_map();
        let now = (self.issuer.inner.clock)()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(jti) = claims.get("jti").and_then(Value::as_str) {
            let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(now);
            // The validation leeway keeps a token alive a little past `exp`.
            let left = (exp - now).max(0.0) + DENY_MARGIN.as_secs_f64();
            let ttl = Duration::try_from_secs_f64(left)
                .unwrap_or_else(|_| self.issuer.family_revocation_ttl());
            self.store
                .revoke_token(jti, ttl)
                .await
                .map_err(Self::store_error)?;
        }
        if let Some(family) = claims.get("fam").and_then(Value::as_str) {
            self.store
                .revoke_family(family, self.issuer.family_revocation_ttl())
                .await
                .map_err(Self::store_error)?;
        }
        Ok(())
    }

    /// Revokes the family of every valid refresh token in the request's
    /// cookies (for a logout, which receives them), after the
    /// [`csrf`](Self::csrf) check: a request that carries the cookie from
    /// another site or origin fails with
    /// [`AuthErrorKind::CrossSiteRequest`] and revokes nothing. Without the
    /// cookie there is nothing to do.
    pub async fn revoke_refresh_cookie<R: AuthRequest + ?Sized>(
        &self,
        req: &R,
    ) -> Result<(), AuthError> {
        let Ok(tokens) = self.cookie_tokens(req) else {
            return Ok(());
        };
        self.csrf.check_origin(req)?;
        for token in tokens {
            let Ok(verified) = self.verify_refresh(token) else {
                continue;
            };
            if let Some(family) = verified.claims_map().get("fam").and_then(Value::as_str) {
                self.store
                    .revoke_family(family, self.issuer.family_revocation_ttl())
                    .await
                    .map_err(Self::store_error)?;
            }
        }
        Ok(())
    }

    /// The `Set-Cookie` values carrying a pair's refresh token, one per
    /// [cookie path](RefreshCookie::paths): send each as its own
    /// `Set-Cookie` header.
    pub fn set_cookies(&self, pair: &TokenPair) -> Vec<String> {
        self.cookie.set(&pair.refresh, (self.issuer.inner.clock)())
    }

    /// The `Set-Cookie` values that clear the refresh cookies.
    pub fn clear_cookies(&self) -> Vec<String> {
        self.cookie.clear()
    }
}
