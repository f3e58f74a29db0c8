//! Where a token is read from.

use std::borrow::Cow;

use crate::error::{AuthError, AuthErrorKind};

/// Where a token is read from.
///
/// By default only `Authorization: Bearer <token>` is read (RFC 6750 §2.1): the
/// scheme is case-insensitive, separated from the token by one or more spaces
/// (RFC 7235 `1*SP`), and the token is one `token68` with no other whitespace
/// around it. Other schemes (`Basic ...`) count as "no bearer
/// token". A bearer header with no token, or with a space inside the token, or
/// sent twice, is a malformed request (400).
///
/// Sources are tried in order; the first that holds a token decides.
///
/// ```
/// use jwt_auth_core::TokenSource;
/// use jwt_auth_core::adapter::extract_token;
///
/// let req = http::Request::builder()
///     .header("cookie", "theme=dark; session=abc.def.ghi")
///     .body(())
///     .unwrap();
/// let sources = [TokenSource::AuthorizationBearer, TokenSource::cookie("session")];
/// let token = extract_token(&sources, &req, 8192).unwrap();
/// assert_eq!(token.as_deref(), Some("abc.def.ghi"));
/// ```
///
/// A place a token may come from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>` (the default).
    AuthorizationBearer,
    /// A cookie with this name. Common in browser apps; pair it with CSRF
    /// protection (`SameSite` cookies or tokens).
    Cookie(Cow<'static, str>),
    /// A custom header whose whole value is the token (lower-case name).
    Header(Cow<'static, str>),
    /// A query parameter (RFC 6750 §2.3, usually `access_token`).
    ///
    /// **Discouraged**: URLs end up in logs, browser history and `Referer`
    /// headers. Off unless you add it.
    Query(Cow<'static, str>),
}

impl TokenSource {
    /// A cookie source.
    pub fn cookie(name: impl Into<Cow<'static, str>>) -> Self {
        Self::Cookie(name.into())
    }

    /// A custom header source; the name is matched case-insensitively.
    pub fn header(name: impl Into<Cow<'static, str>>) -> Self {
        let name: Cow<'static, str> = name.into();
        Self::Header(Cow::Owned(name.to_ascii_lowercase()))
    }

    /// A query parameter source (discouraged, see [`TokenSource::Query`]).
    pub fn query(name: impl Into<Cow<'static, str>>) -> Self {
        Self::Query(name.into())
    }
}

/// The request view core decides on: method, path, query and headers.
///
/// Implemented here for `http::Request`, `http::request::Parts` and a bare
/// `http::HeaderMap` (which knows no method, path or query), and in the
/// adapters for their framework's request type. A view that answers `None`
/// for the method or path cannot pass a check that needs them (such checks
/// fail closed).
pub trait AuthRequest {
    /// The request method (`"GET"`, `"POST"`, …), if the view knows it.
    fn method(&self) -> Option<&str>;

    /// The path of the request target as the service received it, without
    /// the query (`"/orders/7"`), if the view knows it.
    fn path(&self) -> Option<&str>;

    /// The raw query string, without `?`.
    fn query(&self) -> Option<&str>;

    /// The values of the header `name` (given in lower case), in order,
    /// borrowed from the request: a token is read without a copy.
    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a, Self>;
}

impl AuthRequest for http::HeaderMap {
    fn method(&self) -> Option<&str> {
        None
    }

    fn path(&self) -> Option<&str> {
        None
    }

    fn query(&self) -> Option<&str> {
        None
    }

    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        use http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE};
        // The names read on every request, without parsing them each time.
        let values = match name {
            "authorization" => self.get_all(AUTHORIZATION),
            "content-type" => self.get_all(CONTENT_TYPE),
            "cookie" => self.get_all(COOKIE),
            _ => self.get_all(name),
        };
        values.into_iter().map(http::HeaderValue::as_bytes)
    }
}

impl AuthRequest for http::request::Parts {
    fn method(&self) -> Option<&str> {
        Some(self.method.as_str())
    }

    fn path(&self) -> Option<&str> {
        Some(self.uri.path())
    }

    fn query(&self) -> Option<&str> {
        self.uri.query()
    }

    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a> {
        self.headers.header_values(name)
    }
}

impl<B> AuthRequest for http::Request<B> {
    fn method(&self) -> Option<&str> {
        Some(self.method().as_str())
    }

    fn path(&self) -> Option<&str> {
        Some(self.uri().path())
    }

    fn query(&self) -> Option<&str> {
        self.uri().query()
    }

    fn header_values<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> + use<'a, B> {
        self.headers().header_values(name)
    }
}

/// Bytes of headers scanned per cookie source, and cookie pairs per header.
const MAX_COOKIE_PAIRS: usize = 256;

/// Finds the token in the first source that holds one.
///
/// `Ok(None)` means no source held a token. The token is borrowed from the
/// request, never copied; one longer than `max_len` is refused (401).
pub fn extract_token<'a, R: AuthRequest + ?Sized>(
    sources: &[TokenSource],
    req: &'a R,
    max_len: usize,
) -> Result<Option<&'a str>, AuthError> {
    Ok(find_token(sources, req, max_len, false)?.map(|(token, _, _)| token))
}

/// The authentication scheme a token came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Authorization: Bearer`, or any other source.
    Bearer,
    /// `Authorization: DPoP` (only when DPoP is on).
    Dpop,
}

/// [`extract_token`], with the source the token came from and its scheme;
/// `dpop`: `Authorization: DPoP` counts too.
pub(crate) fn find_token<'a, 's, R: AuthRequest + ?Sized>(
    sources: &'s [TokenSource],
    req: &'a R,
    max_len: usize,
    dpop: bool,
) -> Result<Option<(&'a str, &'s TokenSource, Scheme)>, AuthError> {
    for source in sources {
        if let (TokenSource::AuthorizationBearer, true) = (source, dpop)
            && let Some(value) = single(req, "authorization", "several Authorization headers")?
            && let Some(token) = parse_credentials(value, b"dpop", max_len)?
        {
            return Ok(Some((token, source, Scheme::Dpop)));
        }
        let found = match source {
            TokenSource::AuthorizationBearer => from_authorization(req, max_len)?,
            TokenSource::Cookie(name) => from_cookie(req, name, max_len)?,
            TokenSource::Header(name) => from_header(req, name, max_len)?,
            TokenSource::Query(name) => from_query(req, name, max_len)?,
        };
        if let Some(token) = found {
            return Ok(Some((token, source, Scheme::Bearer)));
        }
    }
    Ok(None)
}

fn bounded(token: &[u8], max_len: usize) -> Result<Option<&str>, AuthError> {
    if token.len() > max_len {
        return Err(AuthErrorKind::TokenTooLarge.into());
    }
    // Non-UTF-8 cannot be a JWT; keep it as a malformed token.
    match std::str::from_utf8(token) {
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(AuthError::with_detail(
            AuthErrorKind::Malformed,
            "token is not UTF-8",
        )),
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim_start(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if !is_ws(*first) {
            break;
        }
        v = rest;
    }
    v
}

fn trim(v: &[u8]) -> &[u8] {
    let mut v = trim_start(v);
    while let [rest @ .., last] = v {
        if !is_ws(*last) {
            break;
        }
        v = rest;
    }
    v
}

/// The one value of a header that must not be repeated: `Ok(None)` when it
/// is absent, an error naming `what` when it is sent more than once (which
/// one counts would be ambiguous).
fn single<'a, R: AuthRequest + ?Sized>(
    req: &'a R,
    name: &str,
    what: &'static str,
) -> Result<Option<&'a [u8]>, AuthError> {
    let mut values = req.header_values(name);
    let first = values.next();
    if values.next().is_some() {
        return Err(AuthError::with_detail(
            AuthErrorKind::MalformedRequest,
            what,
        ));
    }
    Ok(first)
}

fn from_authorization<R: AuthRequest + ?Sized>(
    req: &R,
    max_len: usize,
) -> Result<Option<&str>, AuthError> {
    match single(req, "authorization", "several Authorization headers")? {
        Some(value) => parse_bearer(value, max_len),
        None => Ok(None),
    }
}

/// Parses one `Authorization` value. `Ok(None)` for another scheme.
///
/// One or more spaces separate the scheme from the token (RFC 7235 `1*SP`).
/// A tab there, a missing token or
/// whitespace between two parts of the credentials is a malformed request
/// (400); stray whitespace before or after the token makes the token itself
/// invalid (401), as does anything that is not a JWS.
fn parse_bearer(value: &[u8], max_len: usize) -> Result<Option<&str>, AuthError> {
    parse_credentials(value, b"bearer", max_len)
}

/// [`parse_bearer`] for the scheme `want` (lowercase).
fn parse_credentials<'a>(
    value: &'a [u8],
    want: &[u8],
    max_len: usize,
) -> Result<Option<&'a str>, AuthError> {
    let value = trim_start(value);
    let scheme_end = value.iter().position(|&b| is_ws(b)).unwrap_or(value.len());
    let (scheme, rest) = value.split_at(scheme_end);
    if !scheme.eq_ignore_ascii_case(want) {
        return Ok(None);
    }
    let malformed =
        || AuthError::with_detail(AuthErrorKind::MalformedRequest, "bearer credentials");
    // RFC 7235: `credentials = auth-scheme [ 1*SP token68 ]`.
    let Some((b' ', mut token)) = rest.split_first() else {
        return Err(malformed());
    };
    while let [b' ', after @ ..] = token {
        token = after;
    }
    let core = trim(token);
    // memchr's vectorised scan: a byte-by-byte one cost about 0.5 ns per
    // byte of every bearer token (BENCHMARKS.md, "extract").
    if core.is_empty() || memchr::memchr2(b' ', b'\t', core).is_some() {
        return Err(malformed());
    }
    if core.len() != token.len() {
        return Err(AuthError::with_detail(
            AuthErrorKind::Malformed,
            "whitespace around the token",
        ));
    }
    bounded(token, max_len)
}

fn from_cookie<'a, R: AuthRequest + ?Sized>(
    req: &'a R,
    name: &str,
    max_len: usize,
) -> Result<Option<&'a str>, AuthError> {
    Ok(cookie_values(req, name, max_len, 1, false)?.pop())
}

/// The non-empty values of the cookies named `name`, in the order sent, at
/// most `limit` of them; `skip_bad`: oversized or non-text values are
/// skipped instead of refusing the request.
pub(crate) fn cookie_values<'a, R: AuthRequest + ?Sized>(
    req: &'a R,
    name: &str,
    max_len: usize,
    limit: usize,
    skip_bad: bool,
) -> Result<Vec<&'a str>, AuthError> {
    let mut found = Vec::new();
    for header in req.header_values("cookie") {
        for pair in header.split(|&b| b == b';').take(MAX_COOKIE_PAIRS) {
            let pair = trim(pair);
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            if trim(&pair[..eq]) != name.as_bytes() {
                continue;
            }
            let mut value = trim(&pair[eq + 1..]);
            if value.len() >= 2 && value[0] == b'"' && value[value.len() - 1] == b'"' {
                value = &value[1..value.len() - 1];
            }
            if value.is_empty() {
                continue;
            }
            match bounded(value, max_len) {
                Ok(value) => found.extend(value),
                Err(_) if skip_bad => continue,
                Err(e) => return Err(e),
            }
            if found.len() == limit {
                return Ok(found);
            }
        }
    }
    Ok(found)
}

fn from_header<'a, R: AuthRequest + ?Sized>(
    req: &'a R,
    name: &str,
    max_len: usize,
) -> Result<Option<&'a str>, AuthError> {
    match single(req, name, "token header sent more than once")? {
        Some(value) if !trim(value).is_empty() => bounded(trim(value), max_len),
        _ => Ok(None),
    }
}

fn from_query<'a, R: AuthRequest + ?Sized>(
    req: &'a R,
    name: &str,
    max_len: usize,
) -> Result<Option<&'a str>, AuthError> {
    let Some(query) = req.query() else {
        return Ok(None);
    };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == name && !value.is_empty() {
            return bounded(value.as_bytes(), max_len);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(values: &[&str]) -> Result<Option<String>, AuthErrorKind> {
        let mut b = http::Request::builder();
        for v in values {
            b = b.header("authorization", *v);
        }
        let req = b.body(()).map_err(|_| AuthErrorKind::Malformed)?;
        extract_token(&[TokenSource::AuthorizationBearer], &req, 64)
            .map(|t| t.map(str::to_owned))
            .map_err(|e| e.kind())
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(auth(&["Bearer abc"]), Ok(Some("abc".into())));
        assert_eq!(auth(&["bEaReR abc"]), Ok(Some("abc".into())));
        assert_eq!(auth(&["Bearer  abc"]), Ok(Some("abc".into())));
        assert_eq!(auth(&["Bearer    abc"]), Ok(Some("abc".into())));
        assert_eq!(auth(&["Bearer  \tabc"]), Err(AuthErrorKind::Malformed));
        assert_eq!(auth(&["Bearer abc "]), Err(AuthErrorKind::Malformed));
        assert_eq!(auth(&["Basic dXNlcjpwYXNz"]), Ok(None));
        assert_eq!(auth(&[]), Ok(None));
        assert_eq!(auth(&["Bearer"]), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(auth(&["Bearer "]), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(auth(&["Bearer a b"]), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(auth(&["Bearer\tabc"]), Err(AuthErrorKind::MalformedRequest));
        assert_eq!(
            auth(&["Bearer a", "Bearer b"]),
            Err(AuthErrorKind::MalformedRequest)
        );
        assert_eq!(
            auth(&[&format!("Bearer {}", "a".repeat(65))]),
            Err(AuthErrorKind::TokenTooLarge)
        );
    }

    #[test]
    fn order_and_cookies() {
        let req = http::Request::builder()
            .uri("/x?access_token=q.q.q")
            .header("cookie", "a=1; jwt=\"c.c.c\"")
            .header("x-token", "h.h.h")
            .body(())
            .unwrap_or_default();
        let all = [
            TokenSource::AuthorizationBearer,
            TokenSource::query("access_token"),
            TokenSource::cookie("jwt"),
            TokenSource::header("X-Token"),
        ];
        assert_eq!(extract_token(&all, &req, 64).ok().flatten(), Some("q.q.q"));
        assert_eq!(
            extract_token(&all[2..], &req, 64).ok().flatten(),
            Some("c.c.c")
        );
        assert_eq!(
            extract_token(&all[3..], &req, 64).ok().flatten(),
            Some("h.h.h")
        );
        assert_eq!(extract_token(&all[..1], &req, 64).ok().flatten(), None);
    }
}
