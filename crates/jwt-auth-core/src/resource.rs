//! OAuth 2.0 Protected Resource Metadata (RFC 9728): what this API tells a
//! client about itself, so that the client finds where to get a token.
//!
//! A [`ProtectedResource`] names the resource (its identifier, an `https`
//! URL, or `http` on loopback) and the authorization servers that issue
//! tokens for it. Attached to an [`Authenticator`] with
//! [`Authenticator::protected_resource`], it
//!
//! - makes the resource a required audience (RFC 8707) unless audiences are
//!   configured;
//! - adds `resource_metadata="<metadata URL>"` to every challenge the
//!   middleware sends, 401 and 403 (RFC 9728 §5.1), gRPC refusals included.
//!
//! The metadata URL is built from the resource identifier alone, never from
//! the request's `Host` or forwarding headers, with the path insertion of
//! RFC 9728 §3.1: the resource `https://api.example.com/mcp` publishes its
//! metadata at `https://api.example.com/.well-known/oauth-protected-resource/mcp`.
//!
//! ```
//! use jwt_auth_core::ProtectedResource;
//!
//! let resource = ProtectedResource::new("https://api.example.com/mcp")?
//!     .authorization_server("https://auth.example.com")
//!     .scope("mcp");
//! assert_eq!(
//!     resource.metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
//! );
//! assert_eq!(resource.metadata_path(), "/.well-known/oauth-protected-resource/mcp");
//! let document: serde_json::Value = serde_json::from_slice(&resource.document())?;
//! assert_eq!(document["resource"], "https://api.example.com/mcp");
//! assert_eq!(document["authorization_servers"][0], "https://auth.example.com");
//! assert_eq!(document["bearer_methods_supported"][0], "header");
//! assert!(ProtectedResource::new("http://api.example.com/").is_err(), "http off loopback");
//! assert!(ProtectedResource::new("https://api.example.com/#x").is_err(), "a fragment");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Authenticator`]: crate::Authenticator
//! [`Authenticator::protected_resource`]: crate::Authenticator::protected_resource

use serde::Serialize;

/// The well-known path segment of RFC 9728 §3.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The headers the metadata document is served with: JSON, cacheable by
/// anyone for an hour (it changes with a deployment, not per request), and
/// readable from any origin (browser-based clients discover from other
/// origins; the document holds nothing secret and no credentials are sent).
pub const DOCUMENT_HEADERS: [(&str, &str); 3] = [
    ("content-type", "application/json"),
    ("cache-control", "public, max-age=3600"),
    ("access-control-allow-origin", "*"),
];

kinded_error! {
    /// A resource identifier or metadata URL that RFC 9728 does not allow.
    ResourceError, ResourceErrorKind
}

/// The kinds of [`ResourceError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResourceErrorKind {
    /// Not an absolute `https` URL (or `http` on loopback), or it has a
    /// fragment.
    InvalidUrl,
}

/// A protected resource's metadata (RFC 9728 §2), validated when built.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProtectedResource {
    resource: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_documentation: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dpop_signing_alg_values_supported: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dpop_bound_access_tokens_required: bool,
    #[serde(skip)]
    metadata_url: String,
    #[serde(skip)]
    at_root: bool,
}

impl ProtectedResource {
    /// The resource identified by `resource`, kept byte for byte (clients
    /// compare it so): an absolute `https` URL, or `http` on loopback
    /// (`localhost`, `127.0.0.0/8`, `::1`), without a fragment. Tokens are
    /// sent in the `Authorization` header only (`bearer_methods_supported`).
    pub fn new(resource: impl Into<String>) -> Result<Self, ResourceError> {
        let resource = resource.into();
        check_url(&resource)?;
        let metadata_url = insert_well_known(&resource);
        Ok(Self {
            resource,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            resource_name: None,
            resource_documentation: None,
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            metadata_url,
            at_root: true,
        })
    }

    /// Adds an authorization server (its issuer identifier) that issues
    /// tokens for this resource.
    #[must_use]
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// The authorization servers: replaces the list (like every plural
    /// builder; the singular one adds).
    #[must_use]
    pub fn authorization_servers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        issuers: I,
    ) -> Self {
        self.authorization_servers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a scope to `scopes_supported`.
    #[must_use]
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes_supported.push(scope.into());
        self
    }

    /// `scopes_supported`: replaces the list.
    #[must_use]
    pub fn scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// `bearer_methods_supported`: replaces the default `["header"]` (the
    /// other values of RFC 9728 are `body` and `query`). An empty list says
    /// that no bearer method is supported.
    #[must_use]
    pub fn bearer_methods<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        methods: I,
    ) -> Self {
        self.bearer_methods_supported = methods.into_iter().map(Into::into).collect();
        self
    }

    /// `resource_name`: a human-readable name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// `resource_documentation`: a URL of human-readable documentation.
    #[must_use]
    pub fn documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Whether the document is also served at the root well-known path,
    /// `/.well-known/oauth-protected-resource`, when the resource has a path
    /// (default: yes). Clients that predate the path insertion of RFC 9728
    /// §3.1 look there; turn it off when several resources share a host.
    #[must_use]
    pub fn also_at_root(mut self, yes: bool) -> Self {
        self.at_root = yes;
        self
    }

    /// The DPoP members (RFC 9728 §2): `dpop_signing_alg_values_supported`
    /// from `dpop`'s algorithms and `dpop_bound_access_tokens_required` when
    /// it is required. [`Authenticator::dpop`](crate::Authenticator::dpop)
    /// and [`Authenticator::protected_resource`](crate::Authenticator::protected_resource)
    /// fill them in when both are set, in either order.
    #[must_use]
    pub fn dpop(mut self, dpop: &crate::Dpop) -> Self {
        self.dpop_signing_alg_values_supported =
            dpop.algs().split(' ').map(str::to_owned).collect();
        self.dpop_bound_access_tokens_required = dpop.mode() == crate::DpopMode::Required;
        self
    }

    /// The resource identifier, as given.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the metadata is published (RFC 9728 §3.1): the resource's
    /// scheme and authority, the well-known path, then the resource's path
    /// and query (a lone `/` path dropped). The `resource_metadata` of
    /// every challenge.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    /// The path part of [`metadata_url`](Self::metadata_url) (with the
    /// query, if the resource has one): the route to serve the document at.
    pub fn metadata_path(&self) -> &str {
        let after_scheme = self.metadata_url.find("://").map_or(0, |i| i + 3);
        let start = self.metadata_url[after_scheme..]
            .find('/')
            .map_or(self.metadata_url.len(), |i| after_scheme + i);
        &self.metadata_url[start..]
    }

    /// The paths the document is served at: [`metadata_path`] without its
    /// query and, unless [`also_at_root`] is off, the root well-known path
    /// when that differs.
    ///
    /// [`metadata_path`]: Self::metadata_path
    /// [`also_at_root`]: Self::also_at_root
    pub fn document_paths(&self) -> impl Iterator<Item = &str> {
        let own = self.own_path();
        let root = (self.at_root && own != WELL_KNOWN).then_some(WELL_KNOWN);
        std::iter::once(own).chain(root)
    }

    /// Whether a request for `path` asks for the document: `path` is one of
    /// the [`document_paths`](Self::document_paths) (a query is not
    /// compared).
    pub fn is_document_path(&self, path: &str) -> bool {
        path.starts_with(WELL_KNOWN) && self.document_paths().any(|p| p == path)
    }

    fn own_path(&self) -> &str {
        let path = self.metadata_path();
        path.split_once('?').map_or(path, |(path, _)| path)
    }

    /// The metadata document, JSON (RFC 9728 §2): `resource`,
    /// `authorization_servers`, `scopes_supported`, `bearer_methods_supported`,
    /// `resource_name`, `resource_documentation`, the DPoP members, empty
    /// ones left out (but `bearer_methods_supported`, which is meaningful
    /// empty).
    pub fn document(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

fn check_url(resource: &str) -> Result<(), ResourceError> {
    let invalid = |why: &str| {
        ResourceError::new(
            ResourceErrorKind::InvalidUrl,
            format!("the resource identifier {why}"),
        )
    };
    if resource.contains('#') {
        return Err(invalid("has a fragment (RFC 9728 §1.2)"));
    }
    let parsed = url::Url::parse(resource).map_err(|_| invalid("is not a URL"))?;
    let Some(host) = parsed.host() else {
        return Err(invalid("is not an absolute URL with a host"));
    };
    let loopback = match host {
        url::Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        "http" => Err(invalid("uses plain http off loopback")),
        _ => Err(invalid("is not an http(s) URL")),
    }
}

/// RFC 9728 §3.1 on the identifier's own text: `scheme://authority` +
/// the well-known path + the path and query, a lone `/` path dropped.
fn insert_well_known(resource: &str) -> String {
    insert_path(resource, WELL_KNOWN)
}

/// The path insertion of RFC 8414 §3.1 and RFC 9728 §3.1: `well_known`
/// between the identifier's `scheme://authority` and its path and query (a
/// lone `/` path dropped).
pub(crate) fn insert_path(resource: &str, well_known: &str) -> String {
    let after_scheme = resource.find("://").map_or(0, |i| i + 3);
    let rest = &resource[after_scheme..];
    let split = rest
        .find(['/', '?'])
        .map_or(resource.len(), |i| after_scheme + i);
    let (origin, mut tail) = resource.split_at(split);
    if tail == "/" {
        tail = "";
    } else if let Some(query) = tail.strip_prefix("/?") {
        // A terminating slash before a query goes too.
        return format!("{origin}{well_known}?{query}");
    }
    format!("{origin}{well_known}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(resource: &str) -> Option<String> {
        ProtectedResource::new(resource)
            .ok()
            .map(|r| r.metadata_url().to_owned())
    }

    #[test]
    fn path_insertion() {
        let cases = [
            (
                "https://api.example.com",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "https://api.example.com/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/mcp",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp",
            ),
            (
                "https://api.example.com/mcp/",
                "https://api.example.com/.well-known/oauth-protected-resource/mcp/",
            ),
            (
                "http://127.0.0.1:8080/a/b?x=1",
                "http://127.0.0.1:8080/.well-known/oauth-protected-resource/a/b?x=1",
            ),
            (
                "https://API.example.com:443/v1",
                "https://API.example.com:443/.well-known/oauth-protected-resource/v1",
            ),
        ];
        for (resource, expected) in cases {
            assert_eq!(metadata(resource).as_deref(), Some(expected), "{resource}");
        }
    }

    #[test]
    fn identifiers_are_checked() {
        for bad in [
            "http://api.example.com/",
            "https://api.example.com/#frag",
            "api.example.com/mcp",
            "/mcp",
            "ftp://api.example.com/",
            "",
        ] {
            let err = ProtectedResource::new(bad).err();
            assert_eq!(
                err.map(|e| e.kind()),
                Some(ResourceErrorKind::InvalidUrl),
                "{bad}"
            );
        }
        for good in [
            "http://localhost:3000/mcp",
            "http://127.0.0.1/",
            "http://[::1]:8080",
            "https://api.example.com/mcp",
        ] {
            assert!(ProtectedResource::new(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn the_document_follows_rfc_9728() {
        let resource = ProtectedResource::new("https://api.example.com/mcp/")
            .unwrap_or_else(|e| panic!("{e}"))
            .authorization_servers(["https://a.example", "https://b.example"])
            .scope("mcp")
            .name("Example MCP")
            .documentation("https://docs.example.com");
        let doc: serde_json::Value =
            serde_json::from_slice(&resource.document()).unwrap_or_default();
        assert_eq!(
            doc,
            serde_json::json!({
                "resource": "https://api.example.com/mcp/",
                "authorization_servers": ["https://a.example", "https://b.example"],
                "scopes_supported": ["mcp"],
                "bearer_methods_supported": ["header"],
                "resource_name": "Example MCP",
                "resource_documentation": "https://docs.example.com",
            })
        );
        let bare = ProtectedResource::new("https://api.example.com")
            .unwrap_or_else(|e| panic!("{e}"))
            .bearer_methods(Vec::<String>::new());
        let doc: serde_json::Value = serde_json::from_slice(&bare.document()).unwrap_or_default();
        assert_eq!(
            doc,
            serde_json::json!({"resource": "https://api.example.com", "bearer_methods_supported": []})
        );
        assert_eq!(
            bare.metadata_path(),
            "/.well-known/oauth-protected-resource"
        );
    }
}
