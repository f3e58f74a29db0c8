//! The request policies beside token validation, on the
//! [`Authenticator`]: protected resource metadata (RFC 9728), CSRF for
//! cookie tokens, DPoP (RFC 9449), CORS preflights and the application's
//! own check after validation.

use crate::authenticator::{Authenticator, Config};
use crate::csrf::CsrfPolicy;
use crate::dpop::Dpop;
use crate::error::AuthError;
#[cfg(feature = "remote")]
use crate::error::AuthErrorKind;
use crate::resource::ProtectedResource;
use crate::token::VerifiedToken;

impl Authenticator {
    /// Describes this API as an OAuth protected resource (RFC 9728): every
    /// challenge, 401 and 403 (a custom responder's too), carries
    /// `resource_metadata="<its metadata URL>"`, and, unless audiences are
    /// configured, tokens must name the resource in `aud` (RFC 8707).
    ///
    /// The middleware also answers `GET` and `HEAD` requests for the
    /// metadata document itself, at [`ProtectedResource::document_paths`],
    /// without a token: a protected scope around the well-known path does
    /// not hide it. Where the middleware does not see that path (a layer on
    /// some routes only), mount the adapter's ready route as well.
    #[must_use]
    pub fn protected_resource(mut self, resource: ProtectedResource) -> Self {
        let config = self.config();
        config.validation.default_audience = Some(resource.resource().to_owned());
        config.resource = Some(resource);
        config.sync_resource_document();
        self
    }

    /// The cross-site request forgery defence for tokens read from a cookie
    /// ([`TokenSource::cookie`](crate::TokenSource::cookie)); on by default ([`CsrfPolicy::new`]): an
    /// unsafe request from another site or origin gets 403. Tokens from
    /// headers are never checked.
    #[must_use]
    pub fn csrf(mut self, policy: CsrfPolicy) -> Self {
        self.config().csrf = policy;
        self
    }

    /// The cross-site request forgery defence in use.
    pub fn csrf_policy(&self) -> &CsrfPolicy {
        &self.inner.csrf
    }

    /// Turns DPoP on (RFC 9449; see [`Dpop`]): `Authorization: DPoP` with a
    /// proof, bound tokens refused as bearer tokens, and the DPoP challenge
    /// beside the Bearer one.
    #[must_use]
    pub fn dpop(mut self, dpop: Dpop) -> Self {
        let config = self.config();
        config.dpop = Some(dpop);
        config.sync_resource_document();
        self
    }

    /// Lets CORS preflights through without a token (off by default): an
    /// `OPTIONS` request with `Origin` and `Access-Control-Request-Method`
    /// reaches the service as an anonymous request, whatever it carries.
    ///
    /// Prefer a CORS layer outside the authentication (tower-http's
    /// `CorsLayer`, `actix-cors`), which answers preflights itself. With
    /// this option, a handler the preflight reaches that asks for claims
    /// refuses it (401), but a handler without an extractor runs,
    /// unauthenticated: route `OPTIONS` only to handlers that do nothing.
    /// The preflight is forwarded without its `Authorization`, `Cookie` and
    /// `DPoP` headers, and a gRPC request (routed by path alone) is never
    /// taken for one.
    #[must_use]
    pub fn pass_preflight(mut self, pass: bool) -> Self {
        self.config().pass_preflight = pass;
        self
    }

    /// Runs the application's own asynchronous check after every token
    /// verified (ASP.NET's `OnTokenValidated`): "is this user still active",
    /// "map this `sub` to our account". `Ok(None)` lets the request through,
    /// `Ok(Some(data))` also attaches `data` for handlers
    /// ([`Authentication::data`](crate::Authentication::data)), and an error refuses it:
    /// [`AuthError::unauthorized`] (401) or [`AuthError::forbidden`] (403),
    /// each with a reason of your choosing.
    ///
    /// It runs in the middleware's decision, after the revocation check, on
    /// every request (cache it yourself if it is costly); not in
    /// [`verify`](Self::verify) or [`authenticate`](Self::authenticate).
    ///
    /// ```
    /// use jwt_auth_core::adapter::Decision;
    /// use jwt_auth_core::{AuthError, Authenticator, Key};
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct Account(u64);
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let key = Key::hmac([7u8; 32])?;
    /// let auth = Authenticator::new(key.clone()).after_validation(|token| async move {
    ///     match token.subject() {
    ///         Some("alice") => Ok(Some(Account(42))),
    ///         _ => Err(AuthError::forbidden("this account is suspended")),
    ///     }
    /// });
    /// let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs() + 60;
    /// let request = |sub: &str| {
    ///     let token = key.encode(&serde_json::json!({"sub": sub, "exp": exp})).unwrap();
    ///     http::Request::get("/").header("authorization", format!("Bearer {token}")).body(()).unwrap()
    /// };
    /// match auth.decide(&request("alice")).await {
    ///     Decision::Allow(allow) => assert_eq!(allow.authentication().data(), Some(&Account(42))),
    ///     other => panic!("{other:?}"),
    /// }
    /// match auth.decide(&request("mallory")).await {
    ///     Decision::Refuse(refusal) => assert_eq!(refusal.status(), 403),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn after_validation<F, Fut, T>(mut self, check: F) -> Self
    where
        F: Fn(VerifiedToken) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<Option<T>, AuthError>> + Send + 'static,
        T: Send + Sync + 'static,
    {
        self.config().after_validation = Some(crate::hook::check(check));
        self
    }

    /// Checks opaque tokens (without any `.`) at this RFC 7662
    /// introspection endpoint; call it again to add more, asked in order
    /// until one says active. JWTs (and malformed JWTs) are still judged
    /// locally. Defaults to none: such tokens are malformed (401). See
    /// [`Introspection`](crate::Introspection).
    ///
    /// With several endpoints, an opaque token is shown to each until one
    /// says active: give one authenticator only endpoints you trust with
    /// every opaque token it receives.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    #[must_use]
    pub fn introspection(mut self, endpoint: crate::remote::Introspection) -> Self {
        self.config().introspection.push(endpoint);
        self
    }

    /// Asks every introspection endpoint about an opaque token: the first
    /// active answer wins; when none is, an endpoint that could not answer
    /// makes it 503 (it might have said active), else the first refusal.
    #[cfg(feature = "remote")]
    pub(crate) async fn introspect(&self, token: &str) -> Result<VerifiedToken, AuthError> {
        let (mut unavailable, mut refusal) = (None, None);
        for endpoint in &self.inner.introspection {
            match endpoint.introspect(token, &self.inner.validation).await {
                Ok(verified) => return Ok(verified),
                Err(e) if e.kind() == AuthErrorKind::IntrospectionUnavailable => {
                    unavailable = Some(e);
                }
                Err(e) => {
                    refusal.get_or_insert(e);
                }
            }
        }
        Err(unavailable
            .or(refusal)
            .unwrap_or_else(|| AuthErrorKind::Inactive.into()))
    }

    pub(crate) fn after_validation_check(&self) -> Option<&crate::hook::Check> {
        self.inner.after_validation.as_ref()
    }

    /// Whether CORS preflights go through without a token.
    pub fn passes_preflight(&self) -> bool {
        self.inner.pass_preflight
    }

    /// The DPoP settings, when DPoP is on.
    pub fn dpop_settings(&self) -> Option<&Dpop> {
        self.inner.dpop.as_ref()
    }

    /// The protected resource, if one is described.
    pub fn resource(&self) -> Option<&ProtectedResource> {
        self.inner.resource.as_ref()
    }

    /// The protected resource's metadata document, when `path` asks for it.
    pub(crate) fn resource_document(&self, path: &str) -> Option<bytes::Bytes> {
        let resource = self.inner.resource.as_ref()?;
        resource
            .is_document_path(path)
            .then(|| self.inner.resource_document.clone())
    }
}

impl Config {
    /// Fills the protected resource's DPoP members from the DPoP settings,
    /// and serialises its document once.
    fn sync_resource_document(&mut self) {
        if let Some(resource) = self.resource.take() {
            let resource = match &self.dpop {
                Some(dpop) => resource.dpop(dpop),
                None => resource,
            };
            self.resource_document = resource.document().into();
            self.resource = Some(resource);
        }
    }
}
