//! The HTTP side: the [`HttpClient`] trait, what it answers, its errors, and
//! the default `reqwest` client.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

#[cfg(doc)]
use super::{RemoteJwks, RemoteJwksBuilder};
use crate::BoxFuture;

/// The HTTP client a [`RemoteJwks`] fetches with.
///
/// With the `reqwest` feature (on by default), `reqwest::Client` implements
/// it, so a client built with your proxies, root certificates or identity can
/// be passed to [`RemoteJwksBuilder::http_client`]. Any other client can be
/// adapted by implementing this trait.
///
/// **The client must not follow redirects.** jwt-auth follows them itself so
/// that every hop passes the URL policy (see the [module
/// documentation](crate::remote#redirects)): return a 3xx answer as it is,
/// with its `Location` ([`FetchResponse::with_location`]). A `reqwest::Client`
/// must be built with `redirect(reqwest::redirect::Policy::none())`; one that
/// follows a redirect anyway makes that fetch fail.
pub trait HttpClient: Send + Sync + 'static {
    /// GETs `url`, without following redirects. The body must be read only
    /// up to `max_body` bytes; a longer body is an error. Timeouts are
    /// enforced by the caller too.
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<FetchResponse, FetchError>>;

    /// POSTs `form` (`application/x-www-form-urlencoded`) to `url` with
    /// this `Authorization` header value, without following redirects, and
    /// reads the body up to `max_body` bytes: what token introspection
    /// (RFC 7662) sends. The header value holds client credentials: never
    /// log it.
    ///
    /// The default answers an error: a client that only GETs cannot
    /// introspect.
    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: Option<&'a str>,
        form: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<FetchResponse, FetchError>> {
        let _ = (url, authorization, form, max_body);
        Box::pin(async {
            Err(FetchError::new(
                FetchErrorKind::Transport,
                "this HttpClient cannot POST: implement HttpClient::post_form",
            ))
        })
    }
}

/// What an [`HttpClient`] answers: the status, the `Cache-Control` and
/// `Location` headers and the body.
#[derive(Clone, Debug)]
pub struct FetchResponse {
    pub(super) status: u16,
    pub(super) cache_control: Option<String>,
    pub(super) location: Option<String>,
    pub(super) body: Bytes,
}

impl FetchResponse {
    /// A response with this status and body.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        Self {
            status,
            cache_control: None,
            location: None,
            body: body.into(),
        }
    }

    /// Sets the `Location` header value (of a redirect), as received:
    /// relative references are resolved against the URL fetched.
    #[must_use]
    pub fn with_location(mut self, value: impl Into<String>) -> Self {
        self.location = Some(value.into());
        self
    }

    /// The `Location` header value, if any.
    pub fn location(&self) -> Option<&str> {
        self.location.as_deref()
    }

    /// Sets the `Cache-Control` header value.
    #[must_use]
    pub fn with_cache_control(mut self, value: impl Into<String>) -> Self {
        self.cache_control = Some(value.into());
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

kinded_error! {
    /// Why a fetch of the key set (or of the discovery document) failed.
    FetchError, FetchErrorKind
}

/// The kinds of [`FetchError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The request could not be sent or its answer read (DNS, connection,
    /// TLS, a broken body).
    Transport,
    /// No answer within the configured timeout.
    Timeout,
    /// The server answered with a status other than 2xx or a followed 3xx.
    Status,
    /// The body is larger than the configured maximum.
    TooLarge,
    /// A redirect that was refused: too many, no `Location`, a target the URL
    /// policy refuses, or one the HTTP client followed itself.
    Redirect,
    /// The document is not what it must be: not JSON, an unusable JWK set, a
    /// discovery document without `issuer` or `jwks_uri`, or naming another
    /// issuer.
    InvalidDocument,
    /// The background refresh task has stopped (its runtime shut down).
    Stopped,
}

kinded_error! {
    /// A remote key source could not be built: a bad URL or setting, no Tokio
    /// runtime, or no HTTP client.
    RemoteError, RemoteErrorKind
}

/// The kinds of [`RemoteError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// The URL (or OpenID issuer) is refused by the URL policy.
    InvalidUrl,
    /// A duration or limit is outside its allowed range.
    InvalidSetting,
    /// No Tokio runtime to run the refresh task on.
    NoRuntime,
    /// No HTTP client: the default one could not be built, or the `reqwest`
    /// feature is off and none was given.
    NoClient,
}

#[cfg(feature = "reqwest")]
impl HttpClient for reqwest::Client {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<FetchResponse, FetchError>> {
        Box::pin(async move {
            let requested = parse_url(url)?;
            let request = reqwest::Client::get(self, requested.clone()).header(
                http::header::ACCEPT,
                "application/jwk-set+json, application/json",
            );
            send(request, &requested, max_body).await
        })
    }

    fn post_form<'a>(
        &'a self,
        url: &'a str,
        authorization: Option<&'a str>,
        form: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<FetchResponse, FetchError>> {
        Box::pin(async move {
            let requested = parse_url(url)?;
            let mut request = reqwest::Client::post(self, requested.clone())
                .header(http::header::ACCEPT, "application/json")
                .header(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.to_owned());
            if let Some(value) = authorization {
                let mut value = http::HeaderValue::from_str(value).map_err(|_| {
                    FetchError::new(FetchErrorKind::Transport, "invalid Authorization value")
                })?;
                value.set_sensitive(true);
                request = request.header(http::header::AUTHORIZATION, value);
            }
            send(request, &requested, max_body).await
        })
    }
}

#[cfg(feature = "reqwest")]
fn parse_url(url: &str) -> Result<reqwest::Url, FetchError> {
    reqwest::Url::parse(url)
        .map_err(|_| FetchError::new(FetchErrorKind::Transport, "the URL cannot be parsed"))
}

/// Sends a request and reads its answer, refusing redirects followed by the
/// client and bodies over `max_body`.
#[cfg(feature = "reqwest")]
async fn send(
    request: reqwest::RequestBuilder,
    requested: &reqwest::Url,
    max_body: usize,
) -> Result<FetchResponse, FetchError> {
    let mut response = request.send().await.map_err(|e| {
        FetchError::new(
            if e.is_timeout() {
                FetchErrorKind::Timeout
            } else {
                FetchErrorKind::Transport
            },
            format!("request failed: {}", e.without_url()),
        )
    })?;
    // reqwest moves user information into an `Authorization` header
    // and out of the URL: that is not a redirect.
    let mut plain = requested.clone();
    let _ = plain.set_username("");
    let _ = plain.set_password(None);
    if response.url() != requested && response.url() != &plain {
        return Err(FetchError::new(
            FetchErrorKind::Redirect,
            "the HTTP client followed a redirect itself, so its hops were not checked: \
             build it with redirect(reqwest::redirect::Policy::none())",
        ));
    }
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let cache_control = header(http::header::CACHE_CONTROL);
    let location = header(http::header::LOCATION);
    if response
        .content_length()
        .is_some_and(|len| len > max_body as u64)
    {
        return Err(too_large(max_body));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        FetchError::new(
            FetchErrorKind::Transport,
            format!("reading the body failed: {}", e.without_url()),
        )
    })? {
        if body.len() + chunk.len() > max_body {
            return Err(too_large(max_body));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchResponse {
        status,
        cache_control,
        location,
        body: body.into(),
    })
}

pub(super) fn too_large(max_body: usize) -> FetchError {
    FetchError::new(
        FetchErrorKind::TooLarge,
        format!("the response is larger than {max_body} bytes"),
    )
}

#[cfg(feature = "reqwest")]
pub(super) fn default_client(timeout: Duration) -> Result<Arc<dyn HttpClient>, RemoteError> {
    // Redirects are followed by `Shared::get_with_cache_control`, which
    // checks every hop.
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("jwt-auth/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            RemoteError::new(
                RemoteErrorKind::NoClient,
                format!("cannot build the HTTP client: {e}"),
            )
        })?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "reqwest"))]
pub(super) fn default_client(_timeout: Duration) -> Result<Arc<dyn HttpClient>, RemoteError> {
    Err(RemoteError::new(
        RemoteErrorKind::NoClient,
        "no HTTP client: enable the `reqwest` feature or call `http_client`",
    ))
}
