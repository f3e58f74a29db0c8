//! Cross-site request forgery defence for tokens that browsers send on
//! their own: cookies.
//!
//! A token read from a cookie is ambient authority: a form on another site
//! can POST to the API and the browser attaches the cookie. `SameSite` is
//! the first line of defence, but `Lax` still lets some top-level POSTs
//! through and old browsers ignore it. [`CsrfPolicy`] is the second line,
//! following OWASP's CSRF cheat sheet (Fetch Metadata plus an `Origin`
//! check). For an unsafe method (anything but `GET`, `HEAD` and `OPTIONS`):
//!
//! 1. an `Origin` in the allow list proceeds (this takes precedence);
//! 2. otherwise, when the browser sent `Sec-Fetch-Site`, `same-origin` and
//!    `none` (the user typed it, or a bookmark) proceed, and `same-site`
//!    (another port or subdomain: same site, not same origin) and
//!    `cross-site` are refused;
//! 3. otherwise, a foreign `Origin` (or `Origin: null`) is refused;
//! 4. a request with neither header is not from a browser that could be
//!    tricked, and proceeds, unless
//!    [`refuse_unmarked`](CsrfPolicy::refuse_unmarked) is set.
//!
//! A refusal is a 403 [`CrossSiteRequest`](crate::AuthErrorKind::CrossSiteRequest)
//! with a JSON body and no challenge. The [`Authenticator`](crate::Authenticator)
//! applies its policy (on by default) to tokens from a
//! [`TokenSource::cookie`](crate::TokenSource::cookie) only; header tokens
//! cannot be sent by another site and are not affected. The
//! [`TokenService`](crate::TokenService) applies it to the refresh cookie.
//!
//! ```
//! use jwt_auth_core::{AuthErrorKind, CsrfPolicy};
//!
//! let policy = CsrfPolicy::new().allowed_origin("https://app.example.com");
//! let post = |headers: &[(&str, &str)]| {
//!     let mut req = http::Request::post("/orders");
//!     for (name, value) in headers {
//!         req = req.header(*name, *value);
//!     }
//!     policy.check(&req.body(()).unwrap())
//! };
//! assert!(post(&[("origin", "https://app.example.com"), ("sec-fetch-site", "same-site")]).is_ok());
//! assert!(post(&[("sec-fetch-site", "same-origin")]).is_ok());
//! assert!(post(&[]).is_ok(), "not a browser");
//! let refused = post(&[("sec-fetch-site", "cross-site")]).unwrap_err();
//! assert_eq!(refused.kind(), AuthErrorKind::CrossSiteRequest);
//! assert_eq!(refused.status(), 403);
//! assert!(post(&[("origin", "https://evil.example")]).is_err());
//! ```

use crate::error::{AuthError, AuthErrorKind};
use crate::source::AuthRequest;

/// Which cookie-authenticated requests may change state; see the
/// [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrfPolicy {
    enabled: bool,
    origins: Vec<String>,
    refuse_unmarked: bool,
}

impl Default for CsrfPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl CsrfPolicy {
    /// The default policy: on, no allowed origins besides what
    /// `Sec-Fetch-Site` proves same-origin, requests without either header
    /// let through.
    pub fn new() -> Self {
        Self {
            enabled: true,
            origins: Vec::new(),
            refuse_unmarked: false,
        }
    }

    /// No check at all: for cookies that are not ambient authority (an API
    /// only other servers call, with its own defence). Not recommended.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            ..Self::new()
        }
    }

    /// Adds an origin (`scheme://host[:port]`, compared ASCII
    /// case-insensitively, a trailing `/` ignored) whose unsafe requests
    /// proceed whatever `Sec-Fetch-Site` says: your front end's origin when
    /// it is another site than the API's.
    #[must_use]
    pub fn allowed_origin(mut self, origin: impl Into<String>) -> Self {
        self.origins.push(normalize(origin.into()));
        self
    }

    /// The allowed origins: replaces the list (like every plural builder;
    /// the singular one adds).
    #[must_use]
    pub fn allowed_origins<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        origins: I,
    ) -> Self {
        self.origins = origins.into_iter().map(|o| normalize(o.into())).collect();
        self
    }

    /// Refuses unsafe requests that carry neither `Origin` nor
    /// `Sec-Fetch-Site` (default: they proceed, as OWASP's Fetch Metadata
    /// guidance says: they don't come from a browser that could be
    /// tricked, and every current browser sends one of the two).
    #[must_use]
    pub fn refuse_unmarked(mut self, refuse: bool) -> Self {
        self.refuse_unmarked = refuse;
        self
    }

    /// Whether the policy checks anything.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// The allowed origins, normalized.
    pub fn origins(&self) -> impl Iterator<Item = &str> {
        self.origins.iter().map(String::as_str)
    }

    /// Checks a request that is authenticated by a cookie: `Ok` when it may
    /// proceed, a 403 [`AuthErrorKind::CrossSiteRequest`] when not. A
    /// request whose method the adapter does not know is checked as unsafe.
    pub fn check<R: AuthRequest + ?Sized>(&self, req: &R) -> Result<(), AuthError> {
        let safe = matches!(req.method(), Some("GET" | "HEAD" | "OPTIONS"));
        if safe && !is_websocket(req) {
            return Ok(());
        }
        self.check_origin(req)
    }

    /// The origin rules of [`check`](Self::check) whatever the method: for
    /// endpoints that act on ambient authority even when called with `GET`
    /// (the [`TokenService`](crate::TokenService) applies it to the refresh
    /// cookie). A WebSocket handshake is checked by [`check`](Self::check)
    /// too (cross-site WebSocket hijacking).
    pub fn check_origin<R: AuthRequest + ?Sized>(&self, req: &R) -> Result<(), AuthError> {
        if !self.enabled {
            return Ok(());
        }
        let origin = single(req, "origin");
        if let Some(Some(origin)) = origin
            && self.allows(origin)
        {
            return Ok(());
        }
        let refused = || Err(AuthError::new(AuthErrorKind::CrossSiteRequest));
        match single(req, "sec-fetch-site") {
            Some(Some(site)) if site.eq_ignore_ascii_case("same-origin") => return Ok(()),
            Some(Some(site)) if site.eq_ignore_ascii_case("none") => return Ok(()),
            Some(_) => return refused(),
            None => {}
        }
        match origin {
            Some(_) => refused(),
            None if self.refuse_unmarked => refused(),
            None => Ok(()),
        }
    }

    fn allows(&self, origin: &str) -> bool {
        let origin = origin.strip_suffix('/').unwrap_or(origin);
        self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin))
    }
}

/// A WebSocket handshake (`Upgrade: websocket`): a `GET` that opens a
/// channel the cookie authenticates.
fn is_websocket<R: AuthRequest + ?Sized>(req: &R) -> bool {
    req.header_values("upgrade")
        .any(|v| v.eq_ignore_ascii_case(b"websocket"))
}

/// `None` when the header is absent; `Some(None)` when it is repeated or not
/// text (neither can be trusted, so neither can allow anything).
fn single<'a, R: AuthRequest + ?Sized>(req: &'a R, name: &str) -> Option<Option<&'a str>> {
    let mut values = req.header_values(name);
    let first = values.next()?;
    if values.next().is_some() {
        return Some(None);
    }
    Some(std::str::from_utf8(first).ok().map(str::trim))
}

fn normalize(mut origin: String) -> String {
    if origin.ends_with('/') {
        origin.pop();
    }
    origin
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(policy: &CsrfPolicy, method: &str, headers: &[(&str, &str)]) -> bool {
        let mut req = http::Request::builder().method(method).uri("/x");
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        policy.check(&req.body(()).unwrap_or_default()).is_ok()
    }

    #[test]
    fn the_rules_in_order() {
        let policy = CsrfPolicy::new().allowed_origin("https://app.example.com/");
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: &[Case<'_>] = &[
            ("GET", &[("sec-fetch-site", "cross-site")], true),
            ("HEAD", &[("sec-fetch-site", "cross-site")], true),
            ("OPTIONS", &[("origin", "https://evil.example")], true),
            ("POST", &[], true),
            ("POST", &[("sec-fetch-site", "same-origin")], true),
            ("POST", &[("sec-fetch-site", "SAME-ORIGIN")], true),
            ("POST", &[("sec-fetch-site", "none")], true),
            ("POST", &[("sec-fetch-site", "same-site")], false),
            ("DELETE", &[("sec-fetch-site", "cross-site")], false),
            ("PUT", &[("sec-fetch-site", "bogus")], false),
            // The allow list takes precedence.
            (
                "POST",
                &[
                    ("origin", "HTTPS://app.example.com"),
                    ("sec-fetch-site", "cross-site"),
                ],
                true,
            ),
            ("PATCH", &[("origin", "https://evil.example")], false),
            ("POST", &[("origin", "null")], false),
            (
                "POST",
                &[
                    ("origin", "https://evil.example"),
                    ("sec-fetch-site", "same-origin"),
                ],
                true,
            ),
            // Repeated headers allow nothing.
            (
                "POST",
                &[
                    ("sec-fetch-site", "same-origin"),
                    ("sec-fetch-site", "same-origin"),
                ],
                false,
            ),
            (
                "POST",
                &[
                    ("origin", "https://app.example.com"),
                    ("origin", "https://app.example.com"),
                ],
                false,
            ),
        ];
        for (method, headers, ok) in cases {
            assert_eq!(check(&policy, method, headers), *ok, "{method} {headers:?}");
        }
        // A cross-site WebSocket handshake is a GET, and checked.
        assert!(!check(
            &policy,
            "GET",
            &[("upgrade", "websocket"), ("sec-fetch-site", "cross-site")]
        ));
        assert!(check(
            &policy,
            "GET",
            &[
                ("upgrade", "WebSocket"),
                ("origin", "https://app.example.com")
            ]
        ));
        assert!(
            policy
                .check_origin(&{
                    let mut r = http::Request::new(());
                    r.headers_mut().insert(
                        "sec-fetch-site",
                        http::HeaderValue::from_static("same-origin"),
                    );
                    r
                })
                .is_ok()
        );
        let strict = policy.clone().refuse_unmarked(true);
        assert!(!check(&strict, "POST", &[]));
        assert!(check(&strict, "POST", &[("sec-fetch-site", "same-origin")]));
        assert!(check(
            &CsrfPolicy::disabled(),
            "POST",
            &[("sec-fetch-site", "cross-site")]
        ));
    }
}
