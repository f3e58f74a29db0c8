//! The one entry point the adapters call: request → verified claims.

use std::fmt;
use std::sync::Arc;

use std::time::{Duration, SystemTime};

use serde_json::{Map, Value};

#[cfg(feature = "remote")]
use crate::BoxFuture;
use crate::cache::{Scope, TokenCache};
use crate::csrf::CsrfPolicy;
use crate::dpop::{Binding, Dpop};
use crate::error::{AuthError, AuthErrorKind, ErrorResponder, ErrorResponse};
use crate::forward::ClaimHeaders;
use crate::json::{self, JsonError};
use crate::jws::{CompactParts, JwsHeader};
use crate::key::Key;
use crate::keysource::{IssuerRules, KeySource, Select, Selected};
use crate::resource::ProtectedResource;
use crate::revocation::{RevocationStore, StoreError};
use crate::source::{AuthRequest, Scheme, TokenSource, find_token};
use crate::token::VerifiedToken;
use crate::validation::Validation;

pub(crate) use crate::authentication::not_configured;
pub use crate::authentication::{Authentication, Rejection, optional_claims, required_claims};
pub use crate::outcome::AuthenticateFuture;
use crate::outcome::Outcome;

/// The default capacity of the verified-token cache.
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// The one entry point the adapters call: request → verified claims.
///
/// ```
/// use jwt_auth_core::{Authenticator, AuthErrorKind, Key};
///
/// # tokio_test();
/// # fn tokio_test() { tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let key = Key::hmac(b"0123456789abcdef0123456789abcdef")?;
/// let exp = std::time::SystemTime::now()
///     .duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
/// let token = key.encode(&serde_json::json!({"sub": "alice", "exp": exp}))?;
/// let auth = Authenticator::new(key);
///
/// let req = http::Request::builder()
///     .header("authorization", format!("Bearer {token}"))
///     .body(()).unwrap();
/// let verified = auth.authenticate(&req).await.expect("valid").expect("present");
/// assert_eq!(verified.subject(), Some("alice"));
///
/// let anonymous = http::Request::new(());
/// assert!(auth.authenticate(&anonymous).await.expect("no error").is_none());
///
/// let forged = http::Request::builder()
///     .header("authorization", format!("Bearer {token}x"))
///     .body(()).unwrap();
/// let err = auth.authenticate(&forged).await.unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::InvalidSignature);
/// assert_eq!(auth.error_response(&err).status, 401);
/// # Ok::<(), jwt_auth_core::KeyError>(()) }).unwrap(); }
/// ```
///
/// Verifies requests: finds the token, checks its signature with the configured
/// keys, then its claims. Cheap to clone (one `Arc`); configuration is fixed
/// once requests flow.
///
/// Builder methods take and return `Self`; each documents its default.
#[derive(Clone)]
pub struct Authenticator {
    pub(crate) inner: Arc<Config>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) keys: KeySource,
    pub(crate) validation: Validation,
    pub(crate) sources: Vec<TokenSource>,
    /// `realm` of the default answer.
    pub(crate) realm: Option<Arc<str>>,
    /// The protected resource (RFC 9728) whose metadata every challenge
    /// points to.
    pub(crate) resource: Option<ProtectedResource>,
    /// Which cookie-authenticated requests may change state.
    pub(crate) csrf: CsrfPolicy,
    /// DPoP (RFC 9449), when on.
    pub(crate) dpop: Option<Dpop>,
    /// CORS preflights go through without a token.
    pub(crate) pass_preflight: bool,
    /// The application's check after validation.
    pub(crate) after_validation: Option<crate::hook::Check>,
    /// Introspection endpoints for tokens that are not JWTs.
    #[cfg(feature = "remote")]
    pub(crate) introspection: Vec<crate::remote::Introspection>,
    /// Its metadata document, serialised once.
    pub(crate) resource_document: bytes::Bytes,
    /// A custom answer; `None` is the RFC 6750 one.
    pub(crate) responder: Option<Arc<dyn ErrorResponder>>,
    /// Requests without a token go through, with no claims.
    pub(crate) allow_anonymous: bool,
    pub(crate) store: Option<Arc<dyn RevocationStore>>,
    pub(crate) fail_open: bool,
    /// Verifies refresh tokens instead of refusing them (`TokenService`).
    pub(crate) refresh_only: bool,
    /// Most verified tokens kept; 0 turns the cache off.
    pub(crate) cache_capacity: u64,
    pub(crate) cache: TokenCache,
    /// Headers set from claims for the service behind.
    pub(crate) forward: Option<Arc<ClaimHeaders>>,
}

/// An authenticator with the default settings, so that `JwtAuth::new` takes
/// keys or a configured [`Authenticator`] alike.
macro_rules! authenticator_from_keys {
    ($($(#[$meta:meta])* $keys:ty),*) => {$(
        $(#[$meta])*
        impl From<$keys> for Authenticator {
            fn from(keys: $keys) -> Self {
                Self::new(keys)
            }
        }
    )*};
}

authenticator_from_keys!(
    Key,
    crate::KeySet,
    KeySource,
    crate::Issuers,
    #[cfg(feature = "remote")]
    crate::RemoteJwks
);

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("keys", &self.inner.keys)
            .field("validation", &self.inner.validation)
            .field("sources", &self.inner.sources)
            .field("allow_anonymous", &self.inner.allow_anonymous)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Verifies tokens with `keys` — a [`Key`], a [`KeySet`](crate::KeySet),
    /// a `RemoteJwks` or an [`Issuers`](crate::Issuers)
    /// map — with the default [`Validation`] and the `Authorization: Bearer`
    /// source.
    pub fn new(keys: impl Into<KeySource>) -> Self {
        Self {
            inner: Arc::new(Config {
                keys: keys.into(),
                validation: Validation::new(),
                sources: vec![TokenSource::AuthorizationBearer],
                realm: None,
                resource: None,
                resource_document: bytes::Bytes::new(),
                csrf: CsrfPolicy::new(),
                dpop: None,
                pass_preflight: false,
                after_validation: None,
                #[cfg(feature = "remote")]
                introspection: Vec::new(),
                responder: None,
                allow_anonymous: false,
                store: None,
                fail_open: false,
                refresh_only: false,
                cache_capacity: DEFAULT_CACHE_CAPACITY,
                cache: TokenCache::new(DEFAULT_CACHE_CAPACITY),
                forward: None,
            }),
        }
    }

    /// The configuration, for a builder method to change. The cache starts
    /// empty again: entries verified under other settings must not be used.
    pub(crate) fn config(&mut self) -> &mut Config {
        let config = Arc::make_mut(&mut self.inner);
        config.cache = TokenCache::new(config.cache_capacity);
        config
    }

    /// Replaces all claim checks at once. Defaults to [`Validation::new`].
    #[must_use]
    pub fn validation(mut self, validation: Validation) -> Self {
        self.config().validation = validation;
        self
    }

    /// Edits the claim checks in place.
    #[must_use]
    pub fn map_validation(mut self, f: impl FnOnce(Validation) -> Validation) -> Self {
        let config = self.config();
        config.validation = f(std::mem::take(&mut config.validation));
        self
    }

    /// Requires `iss` to be this issuer (adds to the accepted list). Defaults
    /// to not checking `iss`.
    #[must_use]
    pub fn issuer(self, issuer: impl Into<String>) -> Self {
        self.map_validation(|v| v.issuer(issuer))
    }

    /// Requires `iss` to be one of these issuers: replaces the accepted list
    /// (like every plural builder; the singular one adds).
    #[must_use]
    pub fn issuers<I: IntoIterator<Item = S>, S: Into<String>>(self, issuers: I) -> Self {
        self.map_validation(|v| v.issuers(issuers))
    }

    /// Requires `aud` to contain one of these audiences: replaces the
    /// accepted list (like every plural builder; the singular one adds).
    #[must_use]
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(self, audiences: I) -> Self {
        self.map_validation(|v| v.audiences(audiences))
    }

    /// Requires `aud` to contain this audience (adds to the accepted list).
    /// With no audience configured, tokens that carry `aud` are refused
    /// (RFC 7519 §4.1.3), unless [`accept_any_audience`](Self::accept_any_audience).
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        self.map_validation(|v| v.audience(audience))
    }

    /// Accepts tokens whatever their `aud` when no audience is configured.
    /// Defaults to off. See [`Validation::accept_any_audience`].
    #[must_use]
    pub fn accept_any_audience(self) -> Self {
        self.map_validation(Validation::accept_any_audience)
    }

    /// Clock skew tolerated on `exp`/`nbf`. Defaults to 60 s, at most
    /// [`MAX_LEEWAY`](crate::MAX_LEEWAY) (larger values are clamped).
    #[must_use]
    pub fn leeway(self, leeway: Duration) -> Self {
        self.map_validation(|v| v.leeway(leeway))
    }

    /// Requires the header `typ` (for example `at+jwt`). Defaults to no check.
    #[must_use]
    pub fn typ(self, typ: impl Into<String>) -> Self {
        self.map_validation(|v| v.typ(typ))
    }

    /// Longest token accepted. Defaults to 8 KiB.
    #[must_use]
    pub fn max_token_len(self, len: usize) -> Self {
        self.map_validation(|v| v.max_token_len(len))
    }

    /// Uses another clock (tests, simulations). Defaults to the system clock.
    #[must_use]
    pub fn clock(self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.map_validation(|v| v.clock(clock))
    }

    /// The token sources, tried in order: replaces the list (like every
    /// plural builder; [`token_source`](Self::token_source) adds). Defaults
    /// to `[TokenSource::AuthorizationBearer]`.
    #[must_use]
    pub fn token_sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.config().sources = sources.into_iter().collect();
        self
    }

    /// Adds a token source after the existing ones.
    #[must_use]
    pub fn token_source(mut self, source: TokenSource) -> Self {
        self.config().sources.push(source);
        self
    }

    /// Adds `realm="..."` to every challenge of the default answer.
    /// Defaults to no realm. Independent of
    /// [`error_responder`](Self::error_responder): the order of the two
    /// calls does not matter.
    #[must_use]
    pub fn realm(mut self, realm: impl Into<Arc<str>>) -> Self {
        self.settings().realm = Some(realm.into());
        self
    }

    /// Replaces the error response. Defaults to the RFC 6750 answer (with the
    /// [`realm`](Self::realm), if set); a custom responder builds the whole
    /// answer (start from [`AuthError::response`] to keep the RFC 6750 one).
    ///
    /// ```
    /// use jwt_auth_core::{Authenticator, AuthError, AuthErrorKind, Key};
    ///
    /// let auth = Authenticator::new(Key::hmac([7u8; 32])?)
    ///     .realm("api")
    ///     .error_responder(|err| {
    ///         let mut answer = err.response(Some("api"));
    ///         answer.body = format!(r#"{{"denied":"{}"}}"#, err.kind());
    ///         answer
    ///     });
    /// let answer = auth.error_response(&AuthError::new(AuthErrorKind::Expired));
    /// assert_eq!(answer.body, r#"{"denied":"expired"}"#);
    /// # Ok::<(), jwt_auth_core::KeyError>(())
    /// ```
    #[must_use]
    pub fn error_responder<F>(mut self, responder: F) -> Self
    where
        F: Fn(&AuthError) -> ErrorResponse + Send + Sync + 'static,
    {
        self.settings().responder = Some(Arc::new(responder));
        self
    }

    /// Lets requests without a token through, with no claims (handlers take
    /// optional claims); an invalid token is still refused. Defaults to
    /// requiring a token.
    #[must_use]
    pub fn allow_anonymous(mut self) -> Self {
        self.settings().allow_anonymous = true;
        self
    }

    /// Whether requests without a token go through.
    pub fn allows_anonymous(&self) -> bool {
        self.inner.allow_anonymous
    }

    /// The configuration, for a setting that does not change what verifies:
    /// the verified-token cache is kept (shared with the original).
    fn settings(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.inner)
    }

    /// Sets request headers from verified claims for the service behind
    /// (gateway use), after removing those headers from every incoming
    /// request, so clients cannot supply them. See [`ClaimHeaders`].
    /// Defaults to forwarding nothing.
    #[must_use]
    pub fn forward_claims(mut self, headers: ClaimHeaders) -> Self {
        self.config().forward = (!headers.is_empty()).then(|| Arc::new(headers));
        self
    }

    /// The headers set from claims, if any (for adapters).
    pub fn claim_headers(&self) -> Option<&ClaimHeaders> {
        self.inner.forward.as_deref()
    }

    /// Checks every verified token against `store`: a revoked `jti`, or a
    /// revoked refresh family (`fam`), is refused (401). One store call per
    /// request; without a store there is no check. Defaults to no store.
    #[must_use]
    pub fn revocation_store(mut self, store: impl RevocationStore) -> Self {
        self.config().store = Some(Arc::new(store));
        self
    }

    /// When the revocation store cannot answer, let verified tokens through
    /// (logged at `warn`) instead of answering 503. Defaults to failing
    /// closed.
    #[must_use]
    pub fn revocation_fail_open(mut self, fail_open: bool) -> Self {
        self.config().fail_open = fail_open;
        self
    }

    /// How many verified tokens to keep, so that a token seen again is
    /// answered without re-verifying its signature (its `exp`/`nbf` are
    /// checked again, and revocation too when a store is configured). `0`
    /// turns the cache off. Defaults to 10,000.
    #[must_use]
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        let config = self.config();
        config.cache_capacity = capacity;
        config.cache = TokenCache::new(capacity);
        self
    }

    /// How many verified tokens the cache holds now.
    pub fn cached_tokens(&self) -> u64 {
        self.inner.cache.len()
    }

    /// Accepts refresh tokens (and, with `typ`, only them): for the
    /// `TokenService`'s own refresh check.
    pub(crate) fn refresh_tokens_only(mut self) -> Self {
        self.config().refresh_only = true;
        self
    }

    /// Where the keys come from.
    pub fn keys(&self) -> &KeySource {
        &self.inner.keys
    }

    /// Whether tokens can be verified now (remote keys loaded and not
    /// stale). Static keys are always ready. For readiness probes.
    pub fn is_ready(&self) -> bool {
        self.inner.keys.is_ready()
    }

    /// Waits until remote keys are loaded for the first time; see
    /// [`KeySource::ready`].
    pub async fn ready(&self) -> bool {
        self.inner.keys.ready().await
    }

    /// The claim checks in use.
    pub fn validation_rules(&self) -> &Validation {
        &self.inner.validation
    }

    /// The response for `error`: the custom responder's, or the RFC 6750
    /// answer with the realm.
    pub fn error_response(&self, error: &AuthError) -> ErrorResponse {
        let mut response = match &self.inner.responder {
            Some(responder) => responder.respond(error),
            None => error.response(self.inner.realm.as_deref()),
        };
        if let (Some(dpop), Some(challenge)) = (&self.inner.dpop, &response.www_authenticate) {
            let [bearer, dpop] = dpop.challenges(challenge, error, self.inner.realm.as_deref());
            let metadata = self.inner.resource.as_ref().map(|r| r.metadata_url());
            let with_metadata = |mut challenge: String| {
                if let Some(url) = metadata
                    && !challenge.contains("resource_metadata=")
                {
                    crate::error::add_param(&mut challenge, "resource_metadata", url);
                }
                challenge
            };
            response.www_authenticate = Some(format!(
                "{}, {}",
                with_metadata(bearer),
                with_metadata(dpop)
            ));
            return response;
        }
        if let (Some(resource), Some(challenge)) =
            (&self.inner.resource, &mut response.www_authenticate)
            && !challenge.contains("resource_metadata=")
        {
            crate::error::add_param(challenge, "resource_metadata", resource.metadata_url());
        }
        response
    }

    /// Authenticates a request.
    ///
    /// - `Ok(Some(token))`: a token was found and verified;
    /// - `Ok(None)`: no configured source held a token;
    /// - `Err(e)`: the request or its token was refused.
    ///
    /// The returned future owns what it needs, so the request can be moved
    /// on. It is ready at once unless remote keys must be fetched first (an
    /// unknown `kid`, or keys not loaded yet).
    pub fn authenticate<R: AuthRequest + ?Sized>(&self, req: &R) -> AuthenticateFuture {
        self.authenticate_for(req, true)
    }

    /// [`authenticate`](Self::authenticate) for a route that does
    /// (`anonymous_ok`) or does not let requests without a token through:
    /// only the metrics outcome of such a request differs.
    pub(crate) fn authenticate_for<R: AuthRequest + ?Sized>(
        &self,
        req: &R,
        anonymous_ok: bool,
    ) -> AuthenticateFuture {
        let config = &*self.inner;
        let span = crate::observe::span();
        let dpop = config.dpop.as_ref();
        let max_len = config.validation.max_token_len;
        let (token, scheme) = match find_token(&config.sources, req, max_len, dpop.is_some()) {
            Ok(Some((token, TokenSource::Cookie(_), scheme))) => match config.csrf.check(req) {
                Ok(()) => (token, scheme),
                Err(e) => {
                    return AuthenticateFuture::ready(crate::observe::finish(&span, Err(e)));
                }
            },
            Ok(Some((token, _, scheme))) => (token, scheme),
            Ok(None) => {
                let outcome = crate::observe::finish_as(&span, Ok(None), anonymous_ok);
                return AuthenticateFuture::ready(outcome);
            }
            Err(e) => return AuthenticateFuture::ready(crate::observe::finish(&span, Err(e))),
        };
        // Errors of a request that used the DPoP scheme go on its challenge.
        let via = move |e: AuthError| match scheme {
            Scheme::Dpop => e.via_dpop(),
            Scheme::Bearer => e,
        };
        let binding = match dpop.map(|d| d.binding(req, scheme)).transpose() {
            Ok(binding) => binding,
            Err(e) => return AuthenticateFuture::ready(crate::observe::finish(&span, Err(via(e)))),
        };
        match self.attempt(token, Mode::MayRefresh, &span) {
            Attempt::Done(Ok(verified)) => self.conclude(verified, token, binding, via, span),
            Attempt::Done(Err(e)) => {
                AuthenticateFuture::ready(crate::observe::finish(&span, Err(via(e))))
            }
            #[cfg(feature = "remote")]
            Attempt::Wait(wait) => {
                let this = self.clone();
                let token = token.to_owned();
                AuthenticateFuture::waiting(async move {
                    wait.await;
                    match this.attempt(&token, Mode::AfterRefresh, &span) {
                        Attempt::Done(Ok(verified)) => {
                            this.conclude(verified, &token, binding, via, span).await
                        }
                        Attempt::Done(Err(e)) => crate::observe::finish(&span, Err(via(e))),
                        Attempt::Wait(_) | Attempt::Introspect(_) => crate::observe::finish(
                            &span,
                            Err(via(AuthErrorKind::UnknownKey.into())),
                        ),
                    }
                })
            }
            #[cfg(feature = "remote")]
            Attempt::Introspect(answer) => {
                let this = self.clone();
                let token = token.to_owned();
                AuthenticateFuture::waiting(async move {
                    match answer.await {
                        Ok(verified) => this.conclude(verified, &token, binding, via, span).await,
                        Err(e) => crate::observe::finish(&span, Err(via(e))),
                    }
                })
            }
        }
    }

    /// What follows a verified token: its DPoP binding and proof, the
    /// proof's replay check, the revocation check; at once where every
    /// answer is at hand (no DPoP, an in-memory cache and store).
    fn conclude(
        &self,
        verified: VerifiedToken,
        token: &str,
        binding: Option<Binding>,
        via: impl Fn(AuthError) -> AuthError + Send + 'static,
        span: tracing::Span,
    ) -> AuthenticateFuture {
        let config = &*self.inner;
        let ready = |outcome: Outcome| {
            AuthenticateFuture::ready(crate::observe::finish(&span, outcome.map_err(&via)))
        };
        let mut replay = None;
        if let (Some(dpop), Some(binding)) = (&config.dpop, &binding) {
            let now = config.validation.now_time();
            match dpop.check(binding, token, &verified, now) {
                Err(e) => return ready(Err(e)),
                Ok(None) => {}
                Ok(Some(key)) => match dpop.record_now(&key) {
                    Some(Err(e)) => return ready(Err(e)),
                    Some(Ok(())) => {}
                    None => replay = Some(key),
                },
            }
        }
        if replay.is_none() {
            if config.store.is_none() {
                return ready(Ok(Some(verified)));
            }
            // A store that answers at once (in memory) needs no future.
            if let Some(outcome) = self.revocation_now(&verified) {
                return ready(outcome.map(|()| Some(verified)));
            }
        }
        let this = self.clone();
        AuthenticateFuture::waiting(async move {
            if let (Some(key), Some(dpop)) = (replay, &this.inner.dpop)
                && let Err(e) = dpop.record(&key).await
            {
                return crate::observe::finish(&span, Err(via(e)));
            }
            let outcome = this.check_revocation(verified).await;
            crate::observe::finish(&span, outcome.map_err(via))
        })
    }

    /// The revocation verdict when the store can give it at once: `None`
    /// when the store must be awaited.
    fn revocation_now(&self, token: &VerifiedToken) -> Option<Result<(), AuthError>> {
        let store = self.inner.store.as_ref()?;
        let Some((jti, family)) = token.revocation_ids() else {
            return Some(Ok(()));
        };
        Some(self.revocation_verdict(store.is_revoked_now(jti, family)?))
    }

    /// Consults the revocation store, if any, about a verified token.
    async fn check_revocation(self, token: VerifiedToken) -> Outcome {
        let Some(store) = &self.inner.store else {
            return Ok(Some(token));
        };
        let Some((jti, family)) = token.revocation_ids() else {
            return Ok(Some(token));
        };
        let answer = store.is_revoked(jti, family).await;
        self.revocation_verdict(answer).map(|()| Some(token))
    }

    /// What the store's answer means for the request (failing closed unless
    /// told otherwise).
    fn revocation_verdict(&self, answer: Result<bool, StoreError>) -> Result<(), AuthError> {
        match answer {
            Ok(false) => Ok(()),
            Ok(true) => Err(AuthErrorKind::Revoked.into()),
            Err(error) if self.inner.fail_open => {
                crate::observe::revocation_error();
                tracing::warn!(%error, "jwt-auth: the revocation store failed; failing open");
                Ok(())
            }
            Err(error) => {
                crate::observe::revocation_error();
                tracing::error!(%error, "jwt-auth: the revocation store failed; answering 503");
                Err(AuthErrorKind::RevocationUnavailable.into())
            }
        }
    }

    /// Verifies a token string: signature first, then claims.
    ///
    /// This never waits: with remote keys, a token whose `kid` is not loaded
    /// is refused ([`AuthErrorKind::UnknownKey`]), and keys not loaded yet
    /// give [`AuthErrorKind::KeysUnavailable`]. [`authenticate`] refreshes
    /// the keys for such tokens.
    ///
    /// [`authenticate`]: Self::authenticate
    pub fn verify(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        match self.attempt(token, Mode::NoWait, &tracing::Span::none()) {
            Attempt::Done(outcome) => outcome,
            #[cfg(feature = "remote")]
            Attempt::Wait(_) => Err(AuthErrorKind::UnknownKey.into()),
            #[cfg(feature = "remote")]
            Attempt::Introspect(_) => Err(AuthErrorKind::IntrospectionUnavailable.into()),
        }
    }

    #[cfg_attr(not(feature = "remote"), allow(unused_variables))]
    fn attempt(&self, token: &str, mode: Mode, span: &tracing::Span) -> Attempt {
        let config = &*self.inner;
        let v = &config.validation;
        let cached = config.cache.is_enabled() && token.len() <= v.max_token_len;
        if cached {
            let hit = config.cache.get(token, v.now_time(), v.leeway);
            crate::observe::cache(span, hit.is_some());
            if let Some(hit) = hit {
                return Attempt::Done(Ok(hit));
            }
        }
        let remember = |verified: Result<VerifiedToken, AuthError>, scope: Scope, leeway| {
            if let (true, Ok(verified)) = (cached, &verified) {
                config
                    .cache
                    .insert(token, verified, scope, v.now_time(), leeway);
            }
            Attempt::Done(verified)
        };
        #[cfg(feature = "remote")]
        if !config.introspection.is_empty() && memchr::memchr(b'.', token.as_bytes()).is_none() {
            // Not a JWT (no `.` at all; a malformed JWT stays a local 401):
            // ask the introspection endpoints (RFC 7662).
            if let Some(hit) = config.introspection.iter().find_map(|i| i.cached(token)) {
                return Attempt::Done(Ok(hit));
            }
            if mode == Mode::NoWait {
                return Attempt::Done(Err(AuthErrorKind::IntrospectionUnavailable.into()));
            }
            let this = self.clone();
            let token = token.to_owned();
            return Attempt::Introspect(Box::pin(async move { this.introspect(&token).await }));
        }
        let parts = match CompactParts::split(token, v.max_token_len) {
            Ok(parts) => parts,
            Err(e) => return Attempt::Done(Err(e)),
        };
        let header = match parts.header(v.max_json_depth) {
            Ok(header) => header,
            Err(e) => return Attempt::Done(Err(e)),
        };
        // With an issuer map or tenants, the unverified `iss` selects the
        // keys; the claims parsed for that are reused once the signature
        // verified.
        let mut claims = None;
        if config.keys.by_issuer() {
            match parts
                .payload()
                .and_then(|p| parse_claims(&p, v.max_json_depth))
            {
                Ok(parsed) => claims = Some(parsed),
                Err(e) => return Attempt::Done(Err(e)),
            }
        }
        let issuer = claims
            .as_ref()
            .and_then(|c: &Map<String, Value>| c.get("iss"))
            .and_then(Value::as_str);
        let selected = match config.keys.select(issuer, mode == Mode::MayRefresh) {
            Ok(selected) => selected,
            #[cfg(feature = "remote")]
            Err(Select::Wait(wait)) => return Attempt::Wait(wait),
            Err(Select::Refused(e)) => return Attempt::Done(Err(e)),
            #[cfg(feature = "remote")]
            Err(Select::NotTrusted) => {
                return Attempt::Done(Err(AuthErrorKind::InvalidIssuer.into()));
            }
        };
        let rules = selected.rules;
        let leeway = rules.map_or(v.leeway, |r| r.apply(v).leeway);
        match selected.keys {
            Selected::Static(keys) => remember(
                keys.select(header.alg(), header.kid())
                    .and_then(|key| self.finish(&parts, &header, key, claims.clone(), None, rules)),
                Scope::Static,
                leeway,
            ),
            #[cfg(feature = "remote")]
            Selected::Remote(remote, pinned) => {
                let pinned = pinned.or(remote.issuer());
                let kid = header.kid();
                let Some(loaded) = remote.fresh() else {
                    if mode == Mode::MayRefresh
                        && let Some(wait) = remote.refresh_for_miss()
                    {
                        return Attempt::Wait(wait);
                    }
                    return Attempt::Done(Err(AuthErrorKind::KeysUnavailable.into()));
                };
                match loaded.keys.select(header.alg(), kid) {
                    Ok(key) => {
                        let verified =
                            self.finish(&parts, &header, key, claims.clone(), pinned, rules);
                        if let (Ok(_), Some(tenants), Some(iss)) =
                            (&verified, selected.tenants, pinned)
                        {
                            tenants.confirm(iss);
                        }
                        let scope = Scope::Remote(remote.clone(), loaded.generation);
                        remember(verified, scope, leeway)
                    }
                    Err(e) if e.kind() == AuthErrorKind::UnknownKey => {
                        match mode {
                            Mode::MayRefresh if !remote.known_unknown(kid) => {
                                if let Some(wait) = remote.refresh_for_miss() {
                                    return Attempt::Wait(wait);
                                }
                            }
                            Mode::AfterRefresh => remote.remember_unknown(kid),
                            _ => {}
                        }
                        Attempt::Done(Err(e))
                    }
                    Err(e) => Attempt::Done(Err(e)),
                }
            }
        }
    }

    /// Checks the signature with the selected key, then the claims.
    fn finish(
        &self,
        parts: &CompactParts<'_>,
        header: &JwsHeader,
        key: &Key,
        claims: Option<Map<String, Value>>,
        pinned_issuer: Option<&str>,
        rules: Option<&IssuerRules>,
    ) -> Result<VerifiedToken, AuthError> {
        let ruled;
        let v = match rules {
            Some(rules) => {
                if !rules.allows(header.alg()) {
                    return Err(AuthErrorKind::AlgorithmNotAllowed.into());
                }
                ruled = rules.apply(&self.inner.validation);
                &ruled
            }
            None => &self.inner.validation,
        };
        parts.verify_with(key, header.alg())?;
        // A refresh token never authenticates a request (see `TokenIssuer`).
        if !self.inner.refresh_only
            && header
                .typ()
                .is_some_and(|t| crate::validation::media_type_eq(t, crate::token::REFRESH_TYP))
        {
            return Err(AuthError::with_detail(
                AuthErrorKind::InvalidType,
                "a refresh token cannot authenticate a request",
            ));
        }
        let claims = match claims {
            Some(claims) => claims,
            None => parse_claims(&parts.payload()?, v.max_json_depth)?,
        };
        v.check(header.typ(), &claims)?;
        if let Some(pinned) = pinned_issuer
            && claims.get("iss").and_then(Value::as_str) != Some(pinned)
        {
            return Err(AuthErrorKind::InvalidIssuer.into());
        }
        Ok(VerifiedToken::new(
            header.alg(),
            header.kid().map(str::to_owned),
            claims,
        ))
    }
}

fn parse_claims(payload: &[u8], max_depth: usize) -> Result<Map<String, Value>, AuthError> {
    json::parse_object(payload, max_depth).map_err(|e| {
        let detail = match e {
            JsonError::Duplicate => "duplicate claim",
            JsonError::TooDeep => "claims nested too deep",
            _ => "claims are not a JSON object",
        };
        AuthError::with_detail(AuthErrorKind::Malformed, detail)
    })
}

/// How far verification may go to find a key.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "remote"), allow(dead_code))]
enum Mode {
    /// A request: an unknown `kid` may trigger a (rate-limited) refresh.
    MayRefresh,
    /// Second try after a refresh: an unknown `kid` is remembered as such.
    AfterRefresh,
    /// A direct `verify`: never wait.
    NoWait,
}

enum Attempt {
    Done(Result<VerifiedToken, AuthError>),
    #[cfg(feature = "remote")]
    Wait(BoxFuture<'static, ()>),
    /// An opaque token, being introspected.
    #[cfg(feature = "remote")]
    Introspect(BoxFuture<'static, Result<VerifiedToken, AuthError>>),
}
