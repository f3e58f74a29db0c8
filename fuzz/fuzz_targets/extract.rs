//! Token extraction from `Authorization`, `Cookie`, a custom header and the
//! query string.
//!
//! Input: lines `tag:value` (split on `\n`, values are raw bytes):
//! `a:` an `Authorization` value, `c:` a `Cookie` value, `x:` an `X-Token`
//! value, `q:` the query string, `m:` the maximum token length (decimal).
//! Unknown lines are ignored; values that are not valid header values are
//! dropped (a server never hands those to the middleware).
#![no_main]

use std::sync::LazyLock;

use http::HeaderValue;
use jwt_auth_core::adapter::extract_token;
use jwt_auth_core::{AuthErrorKind, TokenSource};
use libfuzzer_sys::fuzz_target;

type Found = Result<Option<String>, AuthErrorKind>;

struct Sources {
    bearer: [TokenSource; 1],
    cookie: [TokenSource; 1],
    header: [TokenSource; 1],
    query: [TokenSource; 1],
    all: [TokenSource; 4],
    reversed: [TokenSource; 4],
}

static SOURCES: LazyLock<Sources> = LazyLock::new(|| {
    let bearer = TokenSource::AuthorizationBearer;
    let cookie = TokenSource::cookie("jwt");
    let header = TokenSource::header("X-Token");
    let query = TokenSource::query("access_token");
    Sources {
        bearer: [bearer.clone()],
        cookie: [cookie.clone()],
        header: [header.clone()],
        query: [query.clone()],
        all: [
            bearer.clone(),
            cookie.clone(),
            header.clone(),
            query.clone(),
        ],
        reversed: [query, header, cookie, bearer],
    }
});

#[derive(Default)]
struct Input {
    max_len: usize,
    authorization: Vec<HeaderValue>,
    cookies: Vec<HeaderValue>,
    custom: Vec<HeaderValue>,
    query: Option<String>,
}

fn parse(data: &[u8]) -> Input {
    let mut input = Input {
        max_len: 8192,
        ..Input::default()
    };
    for line in data.split(|&b| b == b'\n') {
        let [tag, b':', value @ ..] = line else {
            continue;
        };
        let header = || HeaderValue::from_bytes(value).ok();
        match tag {
            b'a' => input.authorization.extend(header()),
            b'c' => input.cookies.extend(header()),
            b'x' => input.custom.extend(header()),
            b'q' => input.query = std::str::from_utf8(value).ok().map(str::to_owned),
            b'm' => {
                if let Some(n) = std::str::from_utf8(value).ok().and_then(|s| s.parse().ok()) {
                    input.max_len = n;
                }
            }
            _ => {}
        }
    }
    input
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = v {
        if !is_ws(*first) {
            break;
        }
        v = rest;
    }
    while let [rest @ .., last] = v {
        if !is_ws(*last) {
            break;
        }
        v = rest;
    }
    v
}

fn run<R: jwt_auth_core::adapter::AuthRequest + ?Sized>(
    sources: &[TokenSource],
    req: &R,
    max_len: usize,
) -> Found {
    extract_token(sources, req, max_len)
        .map(|t| t.map(str::to_owned))
        .map_err(|e| e.kind())
}

/// The first source that holds a token decides, an error included.
fn first_decisive(results: &[&Found]) -> Found {
    for r in results {
        if !matches!(r, Ok(None)) {
            return (*r).clone();
        }
    }
    Ok(None)
}

fuzz_target!(|data: &[u8]| {
    let input = parse(data);
    let s = &*SOURCES;

    let mut builder = http::Request::builder();
    if let Some(q) = &input.query
        && let Ok(uri) = http::Uri::try_from(format!("/p?{q}"))
    {
        builder = builder.uri(uri);
    }
    for v in &input.authorization {
        builder = builder.header(http::header::AUTHORIZATION, v.clone());
    }
    for v in &input.cookies {
        builder = builder.header(http::header::COOKIE, v.clone());
    }
    for v in &input.custom {
        builder = builder.header("x-token", v.clone());
    }
    let Ok(req) = builder.body(()) else {
        return;
    };
    let query = req.uri().query().map(str::to_owned);
    let max = input.max_len;

    let bearer = run(&s.bearer, &req, max);
    let cookie = run(&s.cookie, &req, max);
    let header = run(&s.header, &req, max);
    let query_found = run(&s.query, &req, max);

    for (name, found) in [
        ("bearer", &bearer),
        ("cookie", &cookie),
        ("header", &header),
        ("query", &query_found),
    ] {
        match found {
            Ok(Some(t)) => {
                assert!(!t.is_empty(), "{name}: empty token");
                assert!(t.len() <= max, "{name}: {} bytes > max {max}", t.len());
            }
            Ok(None) => {}
            Err(kind) => {
                assert!(
                    matches!(
                        kind,
                        AuthErrorKind::MalformedRequest
                            | AuthErrorKind::Malformed
                            | AuthErrorKind::TokenTooLarge
                    ),
                    "{name}: unexpected error {kind:?}"
                );
                let status = kind.status().as_u16();
                assert!(status == 400 || status == 401, "{name}: status {status}");
            }
        }
    }

    // Authorization: Bearer — one header, `bearer` (any case), one or more
    // spaces (RFC 7235 `1*SP`), a token without whitespace; two headers are a
    // malformed request.
    match input.authorization.len() {
        0 => assert_eq!(bearer, Ok(None)),
        1 => {
            if let Ok(Some(t)) = &bearer {
                assert!(!t.bytes().any(is_ws), "bearer token with whitespace: {t:?}");
                let value = input.authorization[0].as_bytes();
                let start = value.iter().position(|&b| !is_ws(b)).unwrap_or(value.len());
                let value = &value[start..];
                assert!(value[..6].eq_ignore_ascii_case(b"bearer"));
                let spaces = value[6..].iter().take_while(|&&b| b == b' ').count();
                assert!(spaces >= 1, "no space after the scheme: {value:?}");
                assert_eq!(&value[6 + spaces..], t.as_bytes(), "bearer value {value:?}");
            }
        }
        _ => assert_eq!(bearer, Err(AuthErrorKind::MalformedRequest)),
    }

    // Cookie: the value of a `jwt` pair in one of the Cookie headers.
    if input.cookies.is_empty() {
        assert_eq!(cookie, Ok(None));
    }
    if let Ok(Some(t)) = &cookie {
        assert!(!t.contains(';'), "cookie token with ';': {t:?}");
        let needle = t.as_bytes();
        assert!(
            input
                .cookies
                .iter()
                .any(|c| c.as_bytes().windows(needle.len()).any(|w| w == needle)),
            "cookie token {t:?} not in any Cookie header"
        );
    }

    // Custom header: its whole trimmed value; twice is a malformed request.
    match input.custom.len() {
        0 => assert_eq!(header, Ok(None)),
        1 => {
            if let Ok(Some(t)) = &header {
                assert_eq!(t.as_bytes(), trim(input.custom[0].as_bytes()));
            }
        }
        _ => assert_eq!(header, Err(AuthErrorKind::MalformedRequest)),
    }

    // Query: the value of an `access_token=` pair.
    match &query {
        None => assert_eq!(query_found, Ok(None)),
        Some(q) => {
            if let Ok(Some(t)) = &query_found {
                assert!(!t.contains('&'));
                let pair = format!("access_token={t}");
                assert!(q.split('&').any(|p| p == pair), "{pair:?} not in {q:?}");
            }
        }
    }

    // Sources are tried in order; the first that holds a token (or fails) decides.
    let all = run(&s.all, &req, max);
    assert_eq!(
        all,
        first_decisive(&[&bearer, &cookie, &header, &query_found])
    );
    assert_eq!(
        run(&s.reversed, &req, max),
        first_decisive(&[&query_found, &header, &cookie, &bearer])
    );

    // The length limit only ever turns a found token into TokenTooLarge.
    for (sources, bounded) in [
        (&s.bearer, &bearer),
        (&s.cookie, &cookie),
        (&s.header, &header),
        (&s.query, &query_found),
    ] {
        let unbounded = run(sources, &req, usize::MAX);
        match &unbounded {
            Ok(Some(t)) if t.len() > max => assert_eq!(bounded, &Err(AuthErrorKind::TokenTooLarge)),
            // A non-UTF-8 candidate: its length is checked first.
            Err(AuthErrorKind::Malformed) => assert!(
                matches!(
                    bounded,
                    Err(AuthErrorKind::Malformed | AuthErrorKind::TokenTooLarge)
                ),
                "{bounded:?}"
            ),
            _ => assert_eq!(bounded, &unbounded),
        }
    }

    // Every `AuthRequest` view of the same request agrees.
    let (parts, ()) = req.into_parts();
    assert_eq!(run(&s.all, &parts, max), all);
    for (sources, expected) in [
        (&s.bearer[..], &bearer),
        (&s.cookie, &cookie),
        (&s.header, &header),
    ] {
        assert_eq!(&run(sources, &parts, max), expected);
        assert_eq!(&run(sources, &parts.headers, max), expected);
    }
    assert_eq!(run(&s.query, &parts, max), query_found);
    assert_eq!(run(&s.query, &parts.headers, max), Ok(None));
});
