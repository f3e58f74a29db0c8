//! Opaque tokens checked by token introspection (RFC 7662).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::client::{HttpClient, RemoteError, RemoteErrorKind, default_client};
use super::policy::{check_url, loggable_url};
use super::settings::Settings;
use crate::error::{AuthError, AuthErrorKind};
use crate::keysource::IssuerRules;
use crate::token::VerifiedToken;
use crate::validation::Validation;

/// An RFC 7662 token introspection endpoint, for tokens that are not JWTs.
/// Give it to `Authenticator::introspection`. Cheap to clone.
///
/// ```no_run
/// use jwt_auth_core::{Authenticator, Introspection, RemoteJwks};
///
/// # fn run() -> Result<(), jwt_auth_core::RemoteError> {
/// // Inside a Tokio runtime. JWTs are verified with the provider's keys;
/// // tokens that are not JWTs are introspected.
/// let issuer = "https://sso.example.com/realms/api";
/// let introspection = Introspection::builder(format!("{issuer}/protocol/openid-connect/token/introspect"))
///     .client_secret_basic("orders-api", "the client secret")
///     .issuer(issuer)
///     .build()?;
/// let auth = Authenticator::new(RemoteJwks::discover(issuer).build()?)
///     .audience("orders-api")
///     .introspection(introspection);
/// # Ok(()) }
/// ```
///
/// | case | answer |
/// |---|---|
/// | a token with a `.` (a JWT, or a malformed one) | judged locally with the keys, never introspected |
/// | `active: true` | the response's members are the claims (`Claims<T>`), validated like a JWT's: `exp` (required), `nbf`, `iss`, `aud` (a token with `aud` and no audience configured is refused), then the revocation store |
/// | `active` anything but `true` | 401 `invalid_token` ([`Inactive`](crate::AuthErrorKind::Inactive)) |
/// | `token_type` naming a refresh token | 401: a refresh token never authenticates a request |
/// | the endpoint down, slow, answering non-2xx or not a JSON object | 503 ([`IntrospectionUnavailable`](crate::AuthErrorKind::IntrospectionUnavailable)) |
/// | the cache | off: every request asks, so a revoked token is refused at once. [`cache`](IntrospectionBuilder::cache) turns it on, each answer kept at most its maximum age and never past the token's `exp` |
#[derive(Clone)]
pub struct Introspection {
    inner: Arc<Inner>,
}

/// Active answers by the SHA-256 of their token, with when each stops serving.
type AnswerCache = moka::sync::Cache<[u8; 32], (VerifiedToken, Instant)>;

struct Inner {
    url: String,
    client_id: Option<String>,
    /// `Basic ...`: a secret, never logged.
    authorization: Option<String>,
    /// `private_key_jwt`: the key client assertions are signed with.
    assertion_key: Option<crate::Key>,
    client: Arc<dyn HttpClient>,
    settings: Settings,
    issuer: Option<String>,
    rules: Option<IssuerRules>,
    cache: Option<(AnswerCache, Duration)>,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("url", &loggable_url(&self.inner.url))
            .field("client_id", &self.inner.client_id)
            .field("issuer", &self.inner.issuer)
            .field("cache", &self.inner.cache.as_ref().map(|(_, age)| age))
            .finish_non_exhaustive()
    }
}

impl Introspection {
    /// The endpoint at `url` (`https`, or plain `http` to loopback).
    pub fn builder(url: impl Into<String>) -> IntrospectionBuilder {
        IntrospectionBuilder {
            url: url.into(),
            client_id: None,
            authorization: None,
            assertion_key: None,
            client: None,
            settings: Settings::default(),
            issuer: None,
            rules: None,
            cache: None,
        }
    }

    /// The answer kept for `token`, if the cache is on and holds it.
    pub(crate) fn cached(&self, token: &str) -> Option<VerifiedToken> {
        let (cache, _) = self.inner.cache.as_ref()?;
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        match cache.get(&key) {
            Some((verified, until)) if Instant::now() < until => Some(verified),
            Some(_) => {
                cache.invalidate(&key);
                None
            }
            None => None,
        }
    }

    /// Asks the endpoint about `token` and validates the answer with
    /// `base` (and this endpoint's rules).
    pub(crate) async fn introspect(
        &self,
        token: &str,
        base: &Validation,
    ) -> Result<VerifiedToken, AuthError> {
        let inner = &self.inner;
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("token", token)
                .append_pair("token_type_hint", "access_token");
            if let (Some(key), Some(client_id)) = (&inner.assertion_key, &inner.client_id) {
                let assertion = client_assertion(key, client_id, &inner.url).map_err(|e| {
                    tracing::error!(reason = %e, "jwt-auth: cannot sign the client assertion");
                    AuthError::from(AuthErrorKind::IntrospectionUnavailable)
                })?;
                form.append_pair("client_id", client_id)
                    .append_pair("client_assertion_type", ASSERTION_TYPE)
                    .append_pair("client_assertion", &assertion);
            }
            form.finish()
        };
        let asked = tokio::time::timeout(
            inner.settings.timeout,
            inner.client.post_form(
                &inner.url,
                inner.authorization.as_deref(),
                &form,
                inner.settings.max_body,
            ),
        )
        .await;
        let unavailable = |reason: String| {
            tracing::error!(
                url = %loggable_url(&inner.url),
                %reason,
                "jwt-auth: token introspection failed; answering 503"
            );
            AuthError::from(AuthErrorKind::IntrospectionUnavailable)
        };
        let response = match asked {
            Err(_) => return Err(unavailable("timed out".into())),
            Ok(Err(e)) => return Err(unavailable(e.to_string())),
            Ok(Ok(r)) if r.status() == 200 => r,
            Ok(Ok(r)) => return Err(unavailable(format!("HTTP {}", r.status()))),
        };
        let claims = crate::json::parse_object(response.body(), base.max_json_depth)
            .map_err(|_| unavailable("the answer is not a JSON object".into()))?;
        let verified = self.judge(claims, base)?;
        if let Some((cache, max_age)) = &inner.cache {
            let until = cache_deadline(&verified, *max_age, base.now_time());
            let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
            cache.insert(key, (verified.clone(), until));
        }
        Ok(verified)
    }

    /// What an answer means: inactive, or claims validated like a JWT's.
    fn judge(
        &self,
        claims: Map<String, Value>,
        base: &Validation,
    ) -> Result<VerifiedToken, AuthError> {
        if claims.get("active") != Some(&Value::Bool(true)) {
            return Err(AuthErrorKind::Inactive.into());
        }
        let refresh = claims
            .get("token_type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.to_ascii_lowercase().contains("refresh"));
        if refresh {
            return Err(AuthError::with_detail(
                AuthErrorKind::InvalidType,
                "a refresh token cannot authenticate a request",
            ));
        }
        let mut v = match &self.inner.rules {
            Some(rules) => rules.apply(base),
            None => base.clone(),
        };
        // No header: `typ` cannot apply.
        v.typ = None;
        v.check(None, &claims)?;
        if let Some(issuer) = &self.inner.issuer
            && let Some(iss) = claims.get("iss")
            && iss.as_str() != Some(issuer)
        {
            return Err(AuthErrorKind::InvalidIssuer.into());
        }
        Ok(VerifiedToken::introspected(claims))
    }
}

/// RFC 7523 §2.2: a JWT that authenticates the client.
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A fresh client assertion (RFC 7523 §3, OpenID Connect Core §9
/// `private_key_jwt`): `iss` = `sub` = the client, `aud` = the endpoint, a
/// random `jti`, valid for 60 seconds.
fn client_assertion(
    key: &crate::Key,
    client_id: &str,
    audience: &str,
) -> Result<String, crate::KeyError> {
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|_| crate::KeyError::invalid("no randomness available"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    key.encode(&serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": crate::b64::encode(&jti),
        "iat": now,
        "exp": now + 60,
    }))
}

/// When a cached answer stops serving: its maximum age, and never past the
/// token's `exp`.
fn cache_deadline(token: &VerifiedToken, max_age: Duration, now: SystemTime) -> Instant {
    let mut ttl = max_age;
    if let Some(exp) = token.claims_map().get("exp").and_then(Value::as_f64) {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        ttl = ttl.min(Duration::from_secs_f64((exp - now).clamp(0.0, 1e9)));
    }
    Instant::now() + ttl
}

/// Configures an [`Introspection`]. Every setting documents its default.
#[must_use]
pub struct IntrospectionBuilder {
    url: String,
    client_id: Option<String>,
    authorization: Option<String>,
    assertion_key: Option<crate::Key>,
    client: Option<Arc<dyn HttpClient>>,
    settings: Settings,
    issuer: Option<String>,
    rules: Option<IssuerRules>,
    cache: Option<(Duration, u64)>,
}

impl fmt::Debug for IntrospectionBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntrospectionBuilder")
            .field("url", &loggable_url(&self.url))
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl IntrospectionBuilder {
    /// Authenticates to the endpoint with HTTP Basic (`client_secret_basic`,
    /// RFC 6749 §2.3.1: both parts form-encoded first). Defaults to no
    /// client authentication, which most endpoints refuse.
    pub fn client_secret_basic(
        mut self,
        client_id: impl Into<String>,
        secret: impl AsRef<str>,
    ) -> Self {
        use base64::Engine as _;
        let client_id = client_id.into();
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", encode(&client_id), encode(secret.as_ref()));
        self.authorization = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        ));
        self.client_id = Some(client_id);
        self.assertion_key = None;
        self
    }

    /// Authenticates to the endpoint with a signed client assertion
    /// (`private_key_jwt`, RFC 7523): a fresh JWT per call, signed with
    /// `key` (a private key; its `kid`, if any, goes in the header), with
    /// `iss` and `sub` = `client_id`, `aud` = the endpoint URL, a random
    /// `jti` and a 60-second lifetime. Replaces `client_secret_basic`.
    pub fn private_key_jwt(mut self, client_id: impl Into<String>, key: crate::Key) -> Self {
        self.client_id = Some(client_id.into());
        self.authorization = None;
        self.assertion_key = Some(key);
        self
    }

    /// The issuer whose tokens this endpoint answers for: an answer that
    /// names another `iss` is refused. Defaults to none (any `iss`, still
    /// subject to the authenticator's issuer check).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Rules over the authenticator's for these tokens (audience, leeway).
    pub fn rules(mut self, rules: IssuerRules) -> Self {
        self.rules = Some(rules);
        self
    }

    /// Keeps active answers, each at most `max_age` and never past the
    /// token's `exp`, for up to `capacity` tokens. Off by default: with it
    /// on, a token revoked at the provider keeps working for up to
    /// `max_age` (the revocation store, if any, is still consulted).
    pub fn cache(mut self, max_age: Duration, capacity: u64) -> Self {
        self.cache = Some((max_age, capacity));
        self
    }

    /// The HTTP client; it must implement [`HttpClient::post_form`].
    /// Defaults to `reqwest` with rustls.
    pub fn http_client(mut self, client: impl HttpClient) -> Self {
        self.client = Some(Arc::new(client));
        self
    }

    /// The longest a call may take before the request gets 503. Defaults
    /// to 5 s.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// Allows a plain `http://` endpoint on a host other than loopback.
    /// Defaults to `https` only: tokens and client credentials would travel
    /// in clear.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.settings.allow_http = allow;
        self
    }

    /// Checks the URL and settings, and builds.
    pub fn build(self) -> Result<Introspection, RemoteError> {
        if self.assertion_key.as_ref().is_some_and(|k| !k.can_sign()) {
            return Err(RemoteError::new(
                RemoteErrorKind::InvalidSetting,
                "private_key_jwt needs a private key",
            ));
        }
        check_url(&self.url, self.settings.allow_http)
            .map_err(|e| RemoteError::new(RemoteErrorKind::InvalidUrl, e))?;
        self.settings
            .check()
            .map_err(|e| RemoteError::new(RemoteErrorKind::InvalidSetting, e))?;
        if let Some((age, capacity)) = self.cache
            && (age.is_zero() || age > super::MAX_REMOTE_DURATION || capacity == 0)
        {
            return Err(RemoteError::new(
                RemoteErrorKind::InvalidSetting,
                "the introspection cache needs a maximum age (at most 30 days) and a capacity",
            ));
        }
        let client = match self.client {
            Some(client) => client,
            None => default_client(self.settings.timeout)?,
        };
        let cache = self.cache.map(|(age, capacity)| {
            let cache = moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(age)
                .build();
            (cache, age)
        });
        Ok(Introspection {
            inner: Arc::new(Inner {
                url: self.url,
                client_id: self.client_id,
                authorization: self.authorization,
                assertion_key: self.assertion_key,
                client,
                settings: self.settings,
                issuer: self.issuer,
                rules: self.rules,
                cache,
            }),
        })
    }
}
