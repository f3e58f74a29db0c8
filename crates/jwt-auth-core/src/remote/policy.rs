//! The URL policy every fetched URL passes, redirects included, and URLs as
//! they may be logged.

/// `url` as jwt-auth logs it: without what may hold a credential (user
/// information, the query and the fragment). Use it wherever your own code
/// prints a JWKS or issuer URL.
///
/// ```
/// use jwt_auth_core::remote::redacted_url;
/// assert_eq!(
///     redacted_url("https://user:pw@idp.example/jwks.json?api_key=k#f"),
///     "https://idp.example/jwks.json"
/// );
/// ```
pub fn redacted_url(url: &str) -> String {
    loggable_url(url)
}

pub(super) fn loggable_url(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, url),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    match scheme {
        Some(scheme) => format!("{scheme}://{host}{path}"),
        None => format!("{host}{path}"),
    }
}

/// Refuses URLs that are not absolute `https` (or plain `http` to loopback,
/// or any `http` when allowed). Parsed as the HTTP client parses them (the
/// `url` crate), so the host checked is the host connected to. Messages show
/// the URL without credentials.
pub(super) fn check_url(url: &str, allow_http: bool) -> Result<url::Url, String> {
    let shown = loggable_url(url);
    let parsed = url::Url::parse(url).map_err(|_| format!("{shown:?} is not a valid URL"))?;
    let host = parsed
        .host()
        .ok_or_else(|| format!("{shown:?} is not an absolute URL with a host"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http || is_loopback(&host) => {}
        "http" => {
            return Err(format!(
                "{shown:?} uses plain http: keys fetched over http can be replaced by anyone on \
                 the path (use https, or allow_insecure_http(true))"
            ));
        }
        _ => return Err(format!("{shown:?} is not an http(s) URL")),
    }
    Ok(parsed)
}

fn is_loopback(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Where a redirect from `from` to `location` leads, if that hop is allowed:
/// the target passes [`check_url`], and an `https` URL never redirects to
/// plain `http`.
pub(super) fn redirect_target(
    from: &str,
    location: &str,
    allow_http: bool,
) -> Result<String, String> {
    let base = url::Url::parse(from).map_err(|_| "the redirecting URL is invalid".to_owned())?;
    let target = base
        .join(location)
        .map_err(|_| "a redirect to an invalid URL".to_owned())?;
    let target =
        check_url(target.as_str(), allow_http).map_err(|e| format!("a redirect refused: {e}"))?;
    if base.scheme() == "https" && target.scheme() != "https" {
        return Err(format!(
            "a redirect refused: from https down to {:?}",
            loggable_url(target.as_str())
        ));
    }
    Ok(target.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_logged_without_credentials() {
        assert_eq!(
            loggable_url("https://user:pw@idp.example/jwks?key=k#f"),
            "https://idp.example/jwks"
        );
        assert_eq!(loggable_url("https://idp.example"), "https://idp.example");
        assert_eq!(loggable_url("idp.example/a@b"), "idp.example/a@b");
        let debug = format!(
            "{:?}",
            crate::remote::settings::Target::Jwks("https://u:secret-pw@h/j?token=abc".into())
        );
        assert!(
            !debug.contains("secret-pw") && !debug.contains("abc"),
            "{debug}"
        );
    }

    #[test]
    fn urls() {
        assert!(check_url("https://idp.example/jwks", false).is_ok());
        assert!(check_url("http://127.0.0.1:8080/jwks", false).is_ok());
        assert!(check_url("http://[::1]:8080/jwks", false).is_ok());
        assert!(check_url("http://localhost/jwks", false).is_ok());
        assert!(check_url("http://idp.example/jwks", false).is_err());
        assert!(check_url("http://idp.example/jwks", true).is_ok());
        assert!(check_url("file:///etc/passwd", true).is_err());
        assert!(check_url("/jwks", true).is_err());
    }

    #[test]
    fn every_redirect_hop_passes_the_url_policy() {
        let to = |from: &str, location: &str| redirect_target(from, location, false);
        assert_eq!(
            to("http://127.0.0.1:1/a/jwks", "keys.json").as_deref(),
            Ok("http://127.0.0.1:1/a/keys.json")
        );
        assert_eq!(
            to("https://idp.example/a", "//other.example/jwks").as_deref(),
            Ok("https://other.example/jwks")
        );
        assert_eq!(
            to("http://[::1]:8/a", "http://localhost:9/b").as_deref(),
            Ok("http://localhost:9/b")
        );
        // Plain http to another host, another scheme, a downgrade.
        for (from, location) in [
            ("http://127.0.0.1:1/jwks", "http://attacker.example/jwks"),
            (
                "http://127.0.0.1:1/jwks",
                "http://user:pw@10.0.0.1/jwks?k=v",
            ),
            ("http://127.0.0.1:1/jwks", "ftp://127.0.0.1/jwks"),
            ("http://127.0.0.1:1/jwks", "file:///etc/passwd"),
            ("https://idp.example/jwks", "http://127.0.0.1/jwks"),
            ("http://127.0.0.1:1/jwks", "http://[::ffff:7f00:1]/jwks"),
            (
                "http://127.0.0.1:1/jwks",
                "http://127.0.0.1.attacker.example/jwks",
            ),
        ] {
            match to(from, location) {
                Ok(target) => panic!("{location}: followed to {target}"),
                Err(message) => assert!(
                    !message.contains("pw") && !message.contains("k=v"),
                    "{message}"
                ),
            }
        }
        // Explicitly allowed plain http still never downgrades from https.
        assert!(redirect_target("http://127.0.0.1/a", "http://idp.example/b", true).is_ok());
        assert!(redirect_target("https://idp.example/a", "http://idp.example/b", true).is_err());
    }
}
