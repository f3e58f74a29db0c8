//! Authorization: roles, scopes, permissions and typed predicates over the
//! verified claims.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::authenticator::{Authentication, Rejection};
use crate::error::{AuthError, AuthErrorKind};
use crate::token::VerifiedToken;

type Extract = Arc<dyn Fn(&Map<String, Value>) -> Vec<String> + Send + Sync>;
type Predicate = Arc<dyn Fn(&Value) -> bool + Send + Sync>;

/// What a route requires of an authenticated token: roles, scopes or
/// permissions (any or all of a list), or a predicate over the claims.
///
/// Where the values come from, by default:
///
/// | requirement | claim |
/// |---|---|
/// | roles | `roles` (an array of strings, or one string separated by U+0020 spaces only) |
/// | scopes | `scope` (space-separated, RFC 8693/9068), else `scp` (array or string) |
/// | permissions | `permissions` (Auth0 RBAC) |
///
/// [`from_claim`](Self::from_claim) reads another claim, with a dotted path
/// for nested ones (Keycloak's `realm_access.roles`), and
/// [`values_with`](Self::values_with) takes a closure.
///
/// A failed requirement is a 403 `insufficient_scope` (with `scope="..."`
/// for scope requirements); an anonymous request stays a 401.
///
/// ```
/// use jwt_auth_core::{AuthErrorKind, Requirement};
/// use serde_json::json;
///
/// let admin = Requirement::any_role(["admin"]);
/// assert!(admin.check(&json!({"roles": ["user", "admin"]})).is_ok());
/// let err = admin.check(&json!({"roles": ["user"]})).unwrap_err();
/// assert_eq!(err.kind(), AuthErrorKind::InsufficientScope);
/// assert_eq!(err.status(), 403);
///
/// let keycloak = Requirement::any_role(["admin"]).from_claim("realm_access.roles");
/// assert!(keycloak.check(&json!({"realm_access": {"roles": ["admin"]}})).is_ok());
///
/// let write = Requirement::all_scopes(["orders:read", "orders:write"]);
/// assert!(write.check(&json!({"scope": "orders:read orders:write"})).is_ok());
/// let err = write.check(&json!({"scope": "orders:read"})).unwrap_err();
/// assert_eq!(err.scope(), Some("orders:read orders:write"));
///
/// #[derive(serde::Deserialize)]
/// struct Tenant { tenant: String }
/// let acme = Requirement::claims(|c: &Tenant| c.tenant == "acme");
/// assert!(acme.check(&json!({"tenant": "acme"})).is_ok());
/// assert!(acme.check(&json!({"tenant": "other"})).is_err());
/// ```
#[derive(Clone)]
pub struct Requirement {
    check: Check,
}

#[derive(Clone)]
enum Check {
    Values {
        what: What,
        all: bool,
        values: Arc<[String]>,
        source: Source,
    },
    Predicate(Predicate),
    /// RFC 9470: `acr` among these, `auth_time` at most this old.
    StepUp {
        acr: Option<Arc<[String]>>,
        max_age: Option<Duration>,
    },
    /// Every one of these.
    All(Arc<[Requirement]>),
    /// At least one of these.
    Any(Arc<[Requirement]>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum What {
    Roles,
    Scopes,
    Permissions,
}

#[derive(Clone)]
enum Source {
    Default,
    Path(Arc<[String]>),
    Custom(Extract),
}

impl fmt::Debug for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.check {
            Check::Values {
                what, all, values, ..
            } => f
                .debug_struct("Requirement")
                .field("what", what)
                .field("all", all)
                .field("values", values)
                .finish_non_exhaustive(),
            Check::Predicate(_) => f.debug_struct("Requirement").finish_non_exhaustive(),
            Check::StepUp { acr, max_age } => f
                .debug_struct("Requirement")
                .field("acr", acr)
                .field("max_age", max_age)
                .finish(),
            Check::All(all) => f.debug_tuple("Requirement::all").field(all).finish(),
            Check::Any(any) => f.debug_tuple("Requirement::any").field(any).finish(),
        }
    }
}

impl Requirement {
    fn values(what: What, all: bool, values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            check: Check::Values {
                what,
                all,
                values: values.into_iter().map(Into::into).collect(),
                source: Source::Default,
            },
        }
    }

    /// The roles, scopes or permissions this requirement names, in order
    /// (empty for a [`claims`](Self::claims) predicate): what an OpenAPI
    /// security requirement lists.
    pub fn required(&self) -> &[String] {
        match &self.check {
            Check::Values { values, .. } => values,
            _ => &[],
        }
    }

    /// Step-up (RFC 9470): the token's `acr` must be one of `values` (in
    /// order of preference). A failure is a 401
    /// [`insufficient_user_authentication`](AuthErrorKind::InsufficientUserAuthentication)
    /// with `acr_values`, so that the client asks its authorization server
    /// for a stronger login. Combine with [`with_max_age`](Self::with_max_age).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime, UNIX_EPOCH};
    /// use jwt_auth_core::{AuthErrorKind, Requirement};
    /// use serde_json::json;
    ///
    /// let mfa = Requirement::acr(["urn:demo:mfa"]).with_max_age(Duration::from_secs(300));
    /// let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    /// assert!(mfa.check(&json!({"acr": "urn:demo:mfa", "auth_time": now - 10})).is_ok());
    /// let stale = mfa.check(&json!({"acr": "urn:demo:mfa", "auth_time": now - 900})).unwrap_err();
    /// assert_eq!(stale.kind(), AuthErrorKind::InsufficientUserAuthentication);
    /// assert_eq!(stale.status(), 401);
    /// assert_eq!(stale.step_up(), (Some("urn:demo:mfa"), Some(300)));
    /// let weak = mfa.check(&json!({"acr": "urn:demo:pwd", "auth_time": now})).unwrap_err();
    /// assert_eq!(weak.step_up(), (Some("urn:demo:mfa"), None));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    /// Values holding a space cannot be named in `acr_values` (a
    /// space-separated list) and are left out; with none left, nothing
    /// satisfies the requirement.
    pub fn acr(values: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            check: Check::StepUp {
                acr: Some(
                    values
                        .into_iter()
                        .map(Into::into)
                        .filter(|v: &String| !v.is_empty() && !v.contains(' '))
                        .collect(),
                ),
                max_age: None,
            },
        }
    }

    /// Step-up (RFC 9470): the token's `auth_time` must be at most
    /// `max_age` old. A failure is a 401 `insufficient_user_authentication`
    /// with `max_age`.
    pub fn max_age(max_age: Duration) -> Self {
        Self {
            check: Check::StepUp {
                acr: None,
                max_age: Some(max_age),
            },
        }
    }

    /// Adds the `auth_time` limit of [`max_age`](Self::max_age) to an
    /// [`acr`](Self::acr) requirement, so that one challenge names both.
    /// No effect on other requirements.
    #[must_use]
    pub fn with_max_age(mut self, limit: Duration) -> Self {
        if let Check::StepUp { max_age, .. } = &mut self.check {
            *max_age = Some(limit);
        }
        self
    }

    /// Whether the requirement (or one it combines) is a step-up one
    /// ([`acr`](Self::acr), [`max_age`](Self::max_age)), which refuses with
    /// 401 rather than 403: what an OpenAPI document says.
    pub fn asks_step_up(&self) -> bool {
        match &self.check {
            Check::StepUp { .. } => true,
            Check::All(list) | Check::Any(list) => list.iter().any(Requirement::asks_step_up),
            _ => false,
        }
    }

    /// Whether every refusal of this requirement is a step-up 401 (no 403
    /// possible).
    #[cfg(feature = "utoipa")]
    pub(crate) fn only_step_up(&self) -> bool {
        match &self.check {
            Check::StepUp { .. } => true,
            Check::All(list) | Check::Any(list) => list.iter().all(Requirement::only_step_up),
            _ => false,
        }
    }

    /// Every one of `requirements` (the first failure answers).
    pub fn all(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self {
            check: Check::All(requirements.into_iter().collect()),
        }
    }

    /// At least one of `requirements` (when none passes, the first one's
    /// failure answers).
    pub fn any(requirements: impl IntoIterator<Item = Requirement>) -> Self {
        Self {
            check: Check::Any(requirements.into_iter().collect()),
        }
    }

    /// At least one of these roles.
    pub fn any_role(roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Roles, false, roles)
    }

    /// Every one of these roles.
    pub fn all_roles(roles: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Roles, true, roles)
    }

    /// At least one of these scopes.
    pub fn any_scope(scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Scopes, false, scopes)
    }

    /// Every one of these scopes.
    pub fn all_scopes(scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Scopes, true, scopes)
    }

    /// At least one of these permissions.
    pub fn any_permission(permissions: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Permissions, false, permissions)
    }

    /// Every one of these permissions.
    pub fn all_permissions(permissions: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::values(What::Permissions, true, permissions)
    }

    /// A predicate over the claims deserialized as `T`; claims that do not
    /// deserialize fail it.
    pub fn claims<T, F>(predicate: F) -> Self
    where
        T: DeserializeOwned,
        F: Fn(&T) -> bool + Send + Sync + 'static,
    {
        Self {
            check: Check::Predicate(Arc::new(move |claims: &Value| {
                T::deserialize(claims).is_ok_and(|c| predicate(&c))
            })),
        }
    }

    /// Reads the values from this claim instead of the default one; dots
    /// separate nested members (`realm_access.roles`,
    /// `resource_access.my-client.roles`). No effect on a predicate.
    #[must_use]
    pub fn from_claim(mut self, path: &str) -> Self {
        if let Check::Values { source, .. } = &mut self.check {
            *source = Source::Path(path.split('.').map(str::to_owned).collect());
        }
        self
    }

    /// Reads the values with a closure over the claims. No effect on a
    /// predicate.
    #[must_use]
    pub fn values_with(
        mut self,
        extract: impl Fn(&Map<String, Value>) -> Vec<String> + Send + Sync + 'static,
    ) -> Self {
        if let Check::Values { source, .. } = &mut self.check {
            *source = Source::Custom(Arc::new(extract));
        }
        self
    }

    /// Checks verified claims (a JSON object) now. A failure is a 403
    /// [`AuthErrorKind::InsufficientScope`], or a 401
    /// [`AuthErrorKind::InsufficientUserAuthentication`] for step-up.
    pub fn check(&self, claims: &Value) -> Result<(), AuthError> {
        self.check_at(claims, SystemTime::now(), Duration::from_secs(60))
    }

    /// [`check`](Self::check) at `now` (the authenticator's clock).
    fn check_at(&self, claims: &Value, now: SystemTime, leeway: Duration) -> Result<(), AuthError> {
        match &self.check {
            Check::StepUp { acr, max_age } => {
                step_up(claims, acr.as_deref(), *max_age, now, leeway)
            }
            // Nothing to require is a misconfiguration: refuse (fail closed).
            Check::All(all) if all.is_empty() => Err(AuthError::insufficient_scope(None)),
            Check::All(all) => all.iter().try_for_each(|r| r.check_at(claims, now, leeway)),
            Check::Any(any) => {
                let mut first = None;
                for requirement in any.iter() {
                    match requirement.check_at(claims, now, leeway) {
                        Ok(()) => return Ok(()),
                        Err(e) => {
                            first.get_or_insert(e);
                        }
                    }
                }
                Err(first.unwrap_or_else(|| AuthError::insufficient_scope(None)))
            }
            Check::Predicate(predicate) => {
                if predicate(claims) {
                    Ok(())
                } else {
                    Err(AuthError::insufficient_scope(None))
                }
            }
            Check::Values {
                what,
                all,
                values,
                source,
            } => {
                let empty = Map::new();
                let map = claims.as_object().unwrap_or(&empty);
                let held = match source {
                    Source::Default => match what {
                        What::Roles => strings(map.get("roles")),
                        What::Permissions => strings(map.get("permissions")),
                        What::Scopes => match map.get("scope") {
                            Some(scope) => strings(Some(scope)),
                            None => strings(map.get("scp")),
                        },
                    },
                    Source::Path(path) => strings(lookup(map, path)),
                    Source::Custom(extract) => extract(map),
                };
                let has = |v: &String| held.iter().any(|h| h == v);
                // An empty list is a misconfiguration: refuse (fail closed).
                let ok = !values.is_empty()
                    && if *all {
                        values.iter().all(has)
                    } else {
                        values.iter().any(has)
                    };
                if ok {
                    Ok(())
                } else if *what == What::Scopes {
                    Err(AuthError::insufficient_scope(Some(&values.join(" "))))
                } else {
                    Err(AuthError::insufficient_scope(None))
                }
            }
        }
    }

    /// Checks a verified token.
    pub fn check_token(&self, token: &VerifiedToken) -> Result<(), AuthError> {
        self.check(token.claims_json())
    }

    /// What the adapters' authorization layers call: 500 (logged) when no
    /// authentication middleware ran, 401 for an anonymous request, 403 when
    /// the requirement fails; each answered by the authenticator's
    /// responder.
    #[allow(clippy::result_large_err)] // the refusal path; a response is built anyway
    pub fn authorize(&self, auth: Option<&Authentication>) -> Result<(), Rejection> {
        let auth = auth.ok_or_else(crate::authenticator::not_configured)?;
        let result = match auth.token() {
            None => Err(AuthError::new(AuthErrorKind::MissingToken)),
            Some(token) => {
                let rules = auth.authenticator().validation_rules();
                self.check_at(
                    token.claims_json(),
                    rules.now_time(),
                    rules.allowed_leeway(),
                )
            }
        };
        result.map_err(|error| {
            // A token that passed with DPoP is answered on the DPoP challenge.
            let error = match auth.dpop_thumbprint() {
                Some(_) => error.via_dpop(),
                None => error,
            };
            tracing::debug!(
                reason = error.kind().as_str(),
                "jwt-auth: request forbidden"
            );
            let response = auth.authenticator().error_response(&error);
            Rejection { error, response }
        })
    }
}

/// An array of strings, or a string separated by U+0020 SPACE only (RFC 6749
/// §3.3): `"user\u{a0}admin"` is one value, not two.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s
            .split(' ')
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn lookup<'a>(map: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter()
        .try_fold(map.get(first)?, |value, key| value.get(key))
}

/// RFC 9470 §3: `acr` among the accepted values (`acr_values` named on a
/// failure), `auth_time` at most `max_age` old (`max_age` named when it is
/// missing or too old).
fn step_up(
    claims: &Value,
    acr: Option<&[String]>,
    max_age: Option<Duration>,
    now: SystemTime,
    leeway: Duration,
) -> Result<(), AuthError> {
    let acr_ok = acr.is_none_or(|accepted| {
        claims
            .get("acr")
            .and_then(Value::as_str)
            .is_some_and(|held| accepted.iter().any(|a| a == held))
    });
    let age_ok = max_age.is_none_or(|max_age| {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        claims
            .get("auth_time")
            .and_then(Value::as_f64)
            .is_some_and(|at| at <= now + leeway.as_secs_f64() && now - at <= max_age.as_secs_f64())
    });
    if acr_ok && age_ok {
        return Ok(());
    }
    let acr_values = acr.map(|a| a.join(" "));
    // Whole seconds, rounded up: a sub-second limit is never announced as 0.
    let max_age = max_age
        .filter(|_| !age_ok)
        .map(|d| d.as_secs() + u64::from(d.subsec_nanos() > 0));
    Err(AuthError::insufficient_user_authentication(
        acr_values.as_deref(),
        max_age,
    ))
}

#[cfg(test)]
mod tests {
    use super::strings;
    use serde_json::json;

    #[test]
    fn lists_split_on_ascii_space_only() {
        let got = strings(Some(&json!("user  admin ops")));
        assert_eq!(got, ["user", "admin", "ops"]);
        // U+00A0, U+2003, U+3000, tab and newline do not separate values.
        for s in [
            "user\u{a0}admin",
            "user\u{2003}admin",
            "user\u{3000}admin",
            "user\tadmin",
            "user\nadmin",
        ] {
            assert_eq!(strings(Some(&json!(s))), [s], "{s:?}");
        }
    }
}
