//! The HTTP side: the [`HttpClient`] trait, what it answers, its errors, and
//! the default `reqwest` client.

use std::fmt;
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

/// Why a fetch of the key set (or of the discovery document) failed.
#[derive(Clone, PartialEq, Eq)]
pub struct FetchError {
    message: Arc<str>,
}

impl FetchError {
    /// An error with this message. Never put a secret in it: it is logged.
    pub fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Debug for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FetchError({:?})", &*self.message)
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FetchError {}

/// A remote key source could not be built: a bad URL, no Tokio runtime, or
/// no HTTP client.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteError {
    message: Arc<str>,
}

impl RemoteError {
    pub(super) fn new(message: impl Into<Arc<str>>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Debug for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteError({:?})", &*self.message)
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RemoteError {}

#[cfg(feature = "reqwest")]
impl HttpClient for reqwest::Client {
    fn fetch<'a>(
        &'a self,
        url: &'a str,
        max_body: usize,
    ) -> BoxFuture<'a, Result<FetchResponse, FetchError>> {
        Box::pin(async move {
            let requested = reqwest::Url::parse(url)
                .map_err(|_| FetchError::new("the URL cannot be parsed"))?;
            let mut response = reqwest::Client::get(self, requested.clone())
                .header(
                    http::header::ACCEPT,
                    "application/jwk-set+json, application/json",
                )
                .send()
                .await
                .map_err(|e| FetchError::new(format!("request failed: {}", e.without_url())))?;
            // reqwest moves user information into an `Authorization` header
            // and out of the URL: that is not a redirect.
            let mut plain = requested.clone();
            let _ = plain.set_username("");
            let _ = plain.set_password(None);
            if response.url() != &requested && response.url() != &plain {
                return Err(FetchError::new(
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
                FetchError::new(format!("reading the body failed: {}", e.without_url()))
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
        })
    }
}

pub(super) fn too_large(max_body: usize) -> FetchError {
    FetchError::new(format!("the response is larger than {max_body} bytes"))
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
        .map_err(|e| RemoteError::new(format!("cannot build the HTTP client: {e}")))?;
    Ok(Arc::new(client))
}

#[cfg(not(feature = "reqwest"))]
pub(super) fn default_client(_timeout: Duration) -> Result<Arc<dyn HttpClient>, RemoteError> {
    Err(RemoteError::new(
        "no HTTP client: enable the `reqwest` feature or call `http_client`",
    ))
}
