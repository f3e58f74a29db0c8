//! OpenAPI security for documented APIs, with [`utoipa`] (feature
//! `utoipa`): the bearer JWT security scheme, and per-route security
//! requirements for routes guarded by roles or scopes.
//!
//! Use [`BearerJwt`] as a `modifiers(...)` entry of `#[derive(OpenApi)]` (or
//! call [`Modify::modify`] on a document you build), then mark the routes
//! that need a token with [`secure`]. OpenAPI 3.1 lets a security
//! requirement list the roles a route needs for any scheme, so a route
//! behind `Authorize::new(Requirement::any_role(["admin"]))` documents `{"bearer_jwt": ["admin"]}`.
//!
//! ```
//! use jwt_auth_core::Requirement;
//! use jwt_auth_core::openapi::{BearerJwt, Security, secure};
//! use utoipa::Modify;
//! use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
//! use utoipa::openapi::{OpenApiBuilder, PathsBuilder};
//!
//! let mut doc = OpenApiBuilder::new()
//!     .paths(
//!         PathsBuilder::new()
//!             .path("/me", PathItem::new(HttpMethod::Get, OperationBuilder::new()))
//!             .path("/admin", PathItem::new(HttpMethod::Get, OperationBuilder::new())),
//!     )
//!     .build();
//! BearerJwt::new().modify(&mut doc);
//! secure(&mut doc, "/me", HttpMethod::Get, Security::Required);
//! let admin = Requirement::any_role(["admin"]);
//! secure(&mut doc, "/admin", HttpMethod::Get, Security::Requires(&admin));
//!
//! let json = serde_json::to_value(&doc).unwrap();
//! let scheme = &json["components"]["securitySchemes"]["bearer_jwt"];
//! assert_eq!(scheme["type"], "http");
//! assert_eq!(scheme["scheme"], "bearer");
//! assert_eq!(scheme["bearerFormat"], "JWT");
//! let admin = &json["paths"]["/admin"]["get"];
//! assert_eq!(admin["security"][0]["bearer_jwt"][0], "admin");
//! assert!(admin["responses"]["403"].is_object());
//! ```

use utoipa::Modify;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi, RefOr, Response, ResponseBuilder};

use crate::authz::Requirement;

/// The scheme name [`BearerJwt::new`] registers.
pub const DEFAULT_SCHEME: &str = "bearer_jwt";

/// Declares the bearer JWT security scheme (`type: http`, `scheme: bearer`,
/// `bearerFormat: JWT`, RFC 6750) in a document's components.
#[derive(Clone, Debug)]
pub struct BearerJwt {
    name: String,
    description: Option<String>,
    global: bool,
}

impl Default for BearerJwt {
    fn default() -> Self {
        Self::new()
    }
}

impl BearerJwt {
    /// The scheme under [`DEFAULT_SCHEME`], not required by default.
    pub fn new() -> Self {
        Self {
            name: DEFAULT_SCHEME.to_owned(),
            description: None,
            global: false,
        }
    }

    /// Registers the scheme under another name.
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// A description of the scheme (for example, where tokens come from).
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Also makes the scheme the document's default requirement (every
    /// operation needs a token unless it says otherwise), for APIs whose
    /// whole router sits behind `JwtAuth`. Defaults to off.
    #[must_use]
    pub fn required_by_default(mut self, global: bool) -> Self {
        self.global = global;
        self
    }

    /// The security scheme object itself.
    pub fn scheme(&self) -> SecurityScheme {
        let mut http = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT");
        if let Some(description) = &self.description {
            http = http.description(Some(description.clone()));
        }
        SecurityScheme::Http(http.build())
    }
}

impl Modify for BearerJwt {
    fn modify(&self, openapi: &mut OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(&self.name, self.scheme());
        if self.global {
            openapi.security = Some(vec![SecurityRequirement::new(
                &self.name,
                Vec::<String>::new(),
            )]);
        }
    }
}

/// What a route needs, for [`secure`].
#[derive(Clone, Copy, Debug)]
pub enum Security<'a> {
    /// A valid token (the route sits behind `JwtAuth`).
    Required,
    /// A valid token that meets this requirement (roles, scopes or
    /// permissions): listed in the security requirement, and a 403 response.
    Requires(&'a Requirement),
    /// A token is optional (`allow_anonymous()`): `[{}, {"bearer_jwt": []}]`.
    Optional,
}

/// Sets the security of the operation `method path` to the default scheme
/// ([`DEFAULT_SCHEME`]), and adds its 401 (and 403) responses. Returns
/// `false` when the document has no such operation.
pub fn secure(
    openapi: &mut OpenApi,
    path: &str,
    method: HttpMethod,
    security: Security<'_>,
) -> bool {
    secure_with_scheme(openapi, DEFAULT_SCHEME, path, method, security)
}

/// [`secure`], naming the scheme (see [`BearerJwt::name`]).
pub fn secure_with_scheme(
    openapi: &mut OpenApi,
    scheme: &str,
    path: &str,
    method: HttpMethod,
    security: Security<'_>,
) -> bool {
    let Some(item) = openapi.paths.paths.get_mut(path) else {
        return false;
    };
    let operation = match method {
        HttpMethod::Get => &mut item.get,
        HttpMethod::Post => &mut item.post,
        HttpMethod::Put => &mut item.put,
        HttpMethod::Delete => &mut item.delete,
        HttpMethod::Options => &mut item.options,
        HttpMethod::Head => &mut item.head,
        HttpMethod::Patch => &mut item.patch,
        HttpMethod::Trace => &mut item.trace,
    };
    let Some(operation) = operation.as_mut() else {
        return false;
    };
    apply(operation, scheme, security);
    true
}

fn apply(operation: &mut Operation, scheme: &str, security: Security<'_>) {
    let required: &[String] = match security {
        Security::Requires(requirement) => requirement.required(),
        _ => &[],
    };
    let bearer = SecurityRequirement::new(scheme, required.iter().cloned());
    operation.security = Some(match security {
        Security::Optional => vec![SecurityRequirement::default(), bearer],
        _ => vec![bearer],
    });
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_response(description)));
    };
    let step_up = matches!(security, Security::Requires(r) if r.asks_step_up());
    add(
        "401",
        if step_up {
            "The bearer token is missing, malformed or invalid (RFC 6750), or the login behind it \
             is not strong or recent enough (`insufficient_user_authentication` with \
             `acr_values` and `max_age`, RFC 9470); see `WWW-Authenticate`."
        } else {
            "The bearer token is missing, malformed or invalid (RFC 6750); see `WWW-Authenticate`."
        },
    );
    if matches!(security, Security::Requires(r) if !r.only_step_up()) {
        add(
            "403",
            "The token lacks a required role, scope or permission (`insufficient_scope`).",
        );
    }
}

fn error_response(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{OperationBuilder, PathItem};
    use utoipa::openapi::{OpenApiBuilder, PathsBuilder};

    fn doc() -> OpenApi {
        OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path(
                        "/a",
                        PathItem::new(HttpMethod::Get, OperationBuilder::new()),
                    )
                    .path(
                        "/b",
                        PathItem::new(HttpMethod::Post, OperationBuilder::new()),
                    ),
            )
            .build()
    }

    #[test]
    fn optional_and_global_security() {
        let mut doc = doc();
        BearerJwt::new()
            .name("jwt")
            .required_by_default(true)
            .modify(&mut doc);
        assert!(secure_with_scheme(
            &mut doc,
            "jwt",
            "/a",
            HttpMethod::Get,
            Security::Optional
        ));
        assert!(!secure(
            &mut doc,
            "/a",
            HttpMethod::Post,
            Security::Required
        ));
        assert!(!secure(
            &mut doc,
            "/missing",
            HttpMethod::Get,
            Security::Required
        ));
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["security"], serde_json::json!([{"jwt": []}]));
        assert_eq!(
            json["paths"]["/a"]["get"]["security"],
            serde_json::json!([{}, {"jwt": []}])
        );
        assert!(json["paths"]["/a"]["get"]["responses"]["403"].is_null());
        assert!(json["paths"]["/b"]["post"].get("security").is_none());
    }

    #[test]
    fn scopes_are_listed() {
        let mut doc = doc();
        BearerJwt::new().modify(&mut doc);
        let scopes = Requirement::all_scopes(["orders:read", "orders:write"]);
        assert!(secure(
            &mut doc,
            "/b",
            HttpMethod::Post,
            Security::Requires(&scopes)
        ));
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json["paths"]["/b"]["post"]["security"],
            serde_json::json!([{"bearer_jwt": ["orders:read", "orders:write"]}])
        );
    }

    #[test]
    fn step_up_is_described_on_the_401() {
        let mut doc = doc();
        BearerJwt::new().modify(&mut doc);
        let step_up = Requirement::all([
            Requirement::any_role(["admin"]),
            Requirement::acr(["urn:example:mfa"]),
        ]);
        assert!(step_up.asks_step_up());
        assert!(!Requirement::any_role(["admin"]).asks_step_up());
        assert!(secure(
            &mut doc,
            "/b",
            HttpMethod::Post,
            Security::Requires(&step_up)
        ));
        let json = serde_json::to_value(&doc).unwrap();
        let responses = &json["paths"]["/b"]["post"]["responses"];
        let description = responses["401"]["description"].as_str().unwrap_or_default();
        assert!(
            description.contains("insufficient_user_authentication"),
            "{description}"
        );
        assert!(!responses["403"].is_null());
    }
}
