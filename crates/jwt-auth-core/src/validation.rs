//! What is checked once the signature has verified, with every default.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};

/// Largest NumericDate accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;

/// The largest leeway [`Validation::leeway`] accepts: one hour. A larger
/// value is clamped to it (and logged), so no setting can make time
/// arithmetic overflow, and a logout's deny-list entry (kept an hour past the
/// token's `exp`) always outlives the leeway of any authenticator.
pub const MAX_LEEWAY: Duration = Duration::from_secs(3600);

/// A source of the current time, for tests and simulations.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// What is checked once the signature has verified, with every default.
///
/// | check | default |
/// |---|---|
/// | signature | always first, with the configured key's algorithms |
/// | `exp` | required; valid while `now < exp + leeway` |
/// | `nbf` | checked when present: valid once `now + leeway >= nbf` |
/// | `iat` | must be a valid NumericDate when present; not compared to now |
/// | `iss` | not checked; when issuers are configured it is required and must match one |
/// | `aud` | when audiences are configured it is required and must contain one; when none are, a token that carries `aud` is refused (RFC 7519 §4.1.3) unless [`accept_any_audience`](Self::accept_any_audience) |
/// | `typ` | not checked; when configured, the header's `typ` must match (case-insensitive, `application/` optional) |
/// | leeway | 60 seconds (at most [`MAX_LEEWAY`], one hour) |
/// | maximum token length | 8 KiB, checked before any decoding |
/// | maximum JSON nesting | 16 levels, in header and claims |
/// | duplicate member names | always refused, in header and claims |
/// | `crit` header | always refused |
///
/// NumericDates may carry a fraction but must be finite, not negative, and no
/// later than year 9999; `iss`, `sub` and `jti` must be strings when present.
///
/// ```
/// use std::time::Duration;
/// use jwt_auth_core::Validation;
///
/// let v = Validation::new()
///     .issuer("https://idp.example.com/")
///     .audience("orders-api")
///     .leeway(Duration::from_secs(30))
///     .typ("at+jwt");
/// assert_eq!(v.allowed_leeway(), Duration::from_secs(30));
/// ```
///
/// Claim and header checks.
#[derive(Clone)]
pub struct Validation {
    pub(crate) leeway: Duration,
    pub(crate) issuers: Vec<String>,
    pub(crate) audiences: Vec<String>,
    /// The audience required when none is configured: a protected
    /// resource's identifier (RFC 8707), set by the authenticator.
    pub(crate) default_audience: Option<String>,
    pub(crate) any_audience: bool,
    pub(crate) typ: Option<String>,
    pub(crate) require_exp: bool,
    pub(crate) validate_nbf: bool,
    pub(crate) required_claims: Vec<String>,
    pub(crate) max_token_len: usize,
    pub(crate) max_json_depth: usize,
    pub(crate) clock: Option<Clock>,
}

impl std::fmt::Debug for Validation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validation")
            .field("leeway", &self.leeway)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("default_audience", &self.default_audience)
            .field("any_audience", &self.any_audience)
            .field("typ", &self.typ)
            .field("require_exp", &self.require_exp)
            .field("validate_nbf", &self.validate_nbf)
            .field("required_claims", &self.required_claims)
            .field("max_token_len", &self.max_token_len)
            .field("max_json_depth", &self.max_json_depth)
            .field("custom_clock", &self.clock.is_some())
            .finish()
    }
}

impl Default for Validation {
    fn default() -> Self {
        Self::new()
    }
}

impl Validation {
    /// The secure defaults listed on [`Validation`].
    pub fn new() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            issuers: Vec::new(),
            audiences: Vec::new(),
            default_audience: None,
            any_audience: false,
            typ: None,
            require_exp: true,
            validate_nbf: true,
            required_claims: Vec::new(),
            max_token_len: 8 * 1024,
            max_json_depth: 16,
            clock: None,
        }
    }

    /// Accept tokens from this issuer (adds it to the list). Defaults to not
    /// checking `iss`; once any issuer is set, `iss` is required.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Accept tokens from any of these issuers, and only these: replaces the
    /// list (like every plural builder; the singular one adds).
    #[must_use]
    pub fn issuers<I: IntoIterator<Item = S>, S: Into<String>>(mut self, issuers: I) -> Self {
        self.issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// Accept tokens meant for this audience (adds it to the list). Once any
    /// audience is set, `aud` is required and must contain one of them.
    ///
    /// With no audience configured, a token that carries `aud` is refused
    /// (RFC 7519 §4.1.3: a recipient that does not identify itself with a
    /// value of `aud` must reject the token); tokens without `aud` pass. See
    /// [`accept_any_audience`](Self::accept_any_audience) for the opt-out.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Accept tokens meant for any of these audiences, and only these:
    /// replaces the list (like every plural builder; the singular one adds).
    #[must_use]
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = audiences.into_iter().map(Into::into).collect();
        self
    }

    /// Accepts tokens whatever their `aud`, when no audience is configured.
    /// Defaults to off: a token meant for another service is refused. Turn
    /// it on only when this service really is every token's audience (for
    /// example an identity provider that stamps an `aud` nobody checks).
    /// Configured audiences are always checked.
    #[must_use]
    pub fn accept_any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Clock skew tolerated on `exp` and `nbf`. Defaults to 60 seconds.
    ///
    /// At most [`MAX_LEEWAY`] (one hour): a larger value is clamped to it,
    /// with a warning in the log.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        if leeway > MAX_LEEWAY {
            tracing::warn!(
                requested = ?leeway,
                used = ?MAX_LEEWAY,
                "jwt-auth: the leeway is clamped to its maximum"
            );
        }
        self.leeway = leeway.min(MAX_LEEWAY);
        self
    }

    /// The leeway in force.
    pub fn allowed_leeway(&self) -> Duration {
        self.leeway
    }

    /// Require the header `typ` to be this value, for example `at+jwt`
    /// (RFC 9068). Compared case-insensitively; an `application/` prefix on
    /// either side is ignored. Defaults to no check.
    #[must_use]
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Whether `exp` is required. Defaults to `true`; turning it off accepts
    /// tokens that never expire, which RFC 8725 advises against.
    #[must_use]
    pub fn require_exp(mut self, require: bool) -> Self {
        self.require_exp = require;
        self
    }

    /// Whether `nbf` is checked when present. Defaults to `true`.
    #[must_use]
    pub fn validate_nbf(mut self, validate: bool) -> Self {
        self.validate_nbf = validate;
        self
    }

    /// Require a claim to be present (for example `sub` or `jti`). Defaults to
    /// none beyond `exp`.
    #[must_use]
    pub fn require_claim(mut self, claim: impl Into<String>) -> Self {
        self.required_claims.push(claim.into());
        self
    }

    /// Longest token accepted, in bytes, checked before any decoding. Defaults
    /// to 8192.
    #[must_use]
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.max_token_len = len;
        self
    }

    /// Deepest JSON nesting accepted in header and claims. Defaults to 16.
    #[must_use]
    pub fn max_json_depth(mut self, depth: usize) -> Self {
        self.max_json_depth = depth.max(1);
        self
    }

    /// Use another clock than the system's. Defaults to [`SystemTime::now`].
    #[must_use]
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    pub(crate) fn now_time(&self) -> SystemTime {
        self.clock.as_ref().map_or_else(SystemTime::now, |c| c())
    }

    pub(crate) fn now(&self) -> f64 {
        let now = self.clock.as_ref().map_or_else(SystemTime::now, |c| c());
        now.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Checks the header `typ` (if configured) and the claims.
    pub(crate) fn check(
        &self,
        typ: Option<&str>,
        claims: &Map<String, Value>,
    ) -> Result<(), AuthError> {
        if let Some(expected) = &self.typ {
            let ok = typ.is_some_and(|t| media_type_eq(t, expected));
            if !ok {
                return Err(AuthErrorKind::InvalidType.into());
            }
        }
        let now = self.now();
        let leeway = self.leeway.as_secs_f64();

        match numeric_date(claims, "exp")? {
            Some(exp) if now >= exp + leeway => {
                return Err(AuthErrorKind::Expired.into());
            }
            Some(_) => {}
            None if self.require_exp => {
                return Err(AuthError::with_detail(AuthErrorKind::MissingClaim, "exp"));
            }
            None => {}
        }
        if let Some(nbf) = numeric_date(claims, "nbf")?
            && self.validate_nbf
            && now + leeway < nbf
        {
            return Err(AuthErrorKind::NotYetValid.into());
        }
        numeric_date(claims, "iat")?;
        let iss = string_claim(claims, "iss")?;
        string_claim(claims, "sub")?;
        string_claim(claims, "jti")?;

        if !self.issuers.is_empty() {
            let iss = iss.ok_or(AuthError::with_detail(AuthErrorKind::MissingClaim, "iss"))?;
            if !self.issuers.iter().any(|i| i == iss) {
                return Err(AuthErrorKind::InvalidIssuer.into());
            }
        }
        let audiences = match (&self.default_audience, self.audiences.is_empty()) {
            (Some(resource), true) => std::slice::from_ref(resource),
            _ => self.audiences.as_slice(),
        };
        if !audiences.is_empty() {
            let ok = match claims.get("aud") {
                None => return Err(AuthError::with_detail(AuthErrorKind::MissingClaim, "aud")),
                Some(Value::String(a)) => audiences.iter().any(|x| x == a),
                Some(Value::Array(list)) => {
                    let mut found = false;
                    for item in list {
                        let Value::String(a) = item else {
                            return Err(AuthError::with_detail(AuthErrorKind::InvalidClaim, "aud"));
                        };
                        found |= audiences.iter().any(|x| x == a);
                    }
                    found
                }
                Some(_) => return Err(AuthError::with_detail(AuthErrorKind::InvalidClaim, "aud")),
            };
            if !ok {
                return Err(AuthErrorKind::InvalidAudience.into());
            }
        } else if claims.contains_key("aud") && !self.any_audience {
            // RFC 7519 §4.1.3: this service is not among the token's audiences.
            return Err(AuthErrorKind::InvalidAudience.into());
        }
        for name in &self.required_claims {
            if !claims.contains_key(name) {
                return Err(AuthErrorKind::MissingClaim.into());
            }
        }
        Ok(())
    }
}

pub(crate) fn media_type_eq(actual: &str, expected: &str) -> bool {
    // `typ` comes from the token: never slice it at a byte that may not be a
    // character boundary.
    fn strip(s: &str) -> &str {
        const PREFIX: &str = "application/";
        match (s.get(..PREFIX.len()), s.get(PREFIX.len()..)) {
            (Some(head), Some(rest)) if head.eq_ignore_ascii_case(PREFIX) => rest,
            _ => s,
        }
    }
    strip(actual).eq_ignore_ascii_case(strip(expected))
}

fn numeric_date(claims: &Map<String, Value>, name: &'static str) -> Result<Option<f64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            let v = n
                .as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0 && *v <= MAX_NUMERIC_DATE)
                .ok_or(AuthError::with_detail(AuthErrorKind::InvalidClaim, name))?;
            Ok(Some(v))
        }
        Some(_) => Err(AuthError::with_detail(AuthErrorKind::InvalidClaim, name)),
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::with_detail(AuthErrorKind::InvalidClaim, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(t: u64) -> Validation {
        Validation::new().clock(move || UNIX_EPOCH + Duration::from_secs(t))
    }

    fn check(v: &Validation, claims: Value) -> Option<AuthErrorKind> {
        let Value::Object(map) = claims else {
            return Some(AuthErrorKind::Malformed);
        };
        v.check(None, &map).err().map(|e| e.kind())
    }

    #[test]
    fn singular_builders_add_and_plural_builders_replace() {
        let v = at(1000)
            .issuer("a")
            .issuer("b")
            .audience("x")
            .audiences(["y", "z"]);
        let token = |iss: &str, aud: &str| check(&v, json!({"exp": 2000, "iss": iss, "aud": aud}));
        assert_eq!(token("a", "y"), None);
        assert_eq!(token("b", "z"), None);
        assert_eq!(
            token("a", "x"),
            Some(AuthErrorKind::InvalidAudience),
            "replaced"
        );
        let v = v.issuers(["c"]).audience("x");
        let token = |iss: &str, aud: &str| check(&v, json!({"exp": 2000, "iss": iss, "aud": aud}));
        assert_eq!(token("c", "x"), None, "added after the replacement");
        assert_eq!(
            token("a", "y"),
            Some(AuthErrorKind::InvalidIssuer),
            "replaced"
        );
    }

    #[test]
    fn exp_rules() {
        let v = at(1000);
        assert_eq!(check(&v, json!({})), Some(AuthErrorKind::MissingClaim));
        assert_eq!(check(&v, json!({"exp": 941})), None, "within leeway");
        assert_eq!(
            check(&v, json!({"exp": 940})),
            Some(AuthErrorKind::Expired),
            "exactly leeway"
        );
        assert_eq!(check(&v, json!({"exp": 939})), Some(AuthErrorKind::Expired));
        assert_eq!(check(&v, json!({"exp": 2000.5})), None, "fraction");
        for bad in [
            json!("2000"),
            json!(-1),
            json!(1e30),
            json!(18446744073709551616.0),
            json!(null),
        ] {
            assert_eq!(
                check(&v, json!({"exp": bad})),
                Some(AuthErrorKind::InvalidClaim),
                "{bad}"
            );
        }
    }

    #[test]
    fn nbf_iss_aud() {
        let v = at(1000).issuer("i").audience("a");
        let base = |extra: Value| {
            let mut m = json!({"exp": 5000, "iss": "i", "aud": "a"});
            if let (Value::Object(m), Value::Object(e)) = (&mut m, extra) {
                m.extend(e);
            }
            m
        };
        assert_eq!(check(&v, base(json!({}))), None);
        assert_eq!(
            check(&v, base(json!({"nbf": 1061}))),
            Some(AuthErrorKind::NotYetValid)
        );
        assert_eq!(check(&v, base(json!({"nbf": 1059}))), None);
        assert_eq!(
            check(&v, base(json!({"iss": "j"}))),
            Some(AuthErrorKind::InvalidIssuer)
        );
        assert_eq!(
            check(&v, json!({"exp": 5000, "aud": "a"})),
            Some(AuthErrorKind::MissingClaim)
        );
        assert_eq!(check(&v, base(json!({"aud": ["x", "a"]}))), None);
        assert_eq!(
            check(&v, base(json!({"aud": ["x"]}))),
            Some(AuthErrorKind::InvalidAudience)
        );
        assert_eq!(
            check(&v, base(json!({"aud": []}))),
            Some(AuthErrorKind::InvalidAudience)
        );
        assert_eq!(
            check(&v, base(json!({"aud": [1]}))),
            Some(AuthErrorKind::InvalidClaim)
        );
    }

    #[test]
    fn aud_without_a_configured_audience() {
        let v = at(1000);
        assert_eq!(check(&v, json!({"exp": 5000})), None);
        for aud in [
            json!("other-api"),
            json!(["a", "b"]),
            json!([]),
            json!(null),
        ] {
            assert_eq!(
                check(&v, json!({"exp": 5000, "aud": aud})),
                Some(AuthErrorKind::InvalidAudience),
                "{aud}"
            );
            assert_eq!(
                check(
                    &v.clone().accept_any_audience(),
                    json!({"exp": 5000, "aud": aud})
                ),
                None,
                "opted out: {aud}"
            );
        }
        // The opt-out never weakens a configured audience.
        let v = at(1000).audience("a").accept_any_audience();
        assert_eq!(
            check(&v, json!({"exp": 5000, "aud": "b"})),
            Some(AuthErrorKind::InvalidAudience)
        );
    }

    #[test]
    fn leeway_is_bounded() {
        assert_eq!(
            Validation::new().leeway(Duration::MAX).allowed_leeway(),
            MAX_LEEWAY
        );
        let v = at(u64::MAX / 4).leeway(Duration::from_secs(9_300_000_000_000_000_000));
        assert_eq!(
            check(&v, json!({"exp": 5000})),
            Some(AuthErrorKind::Expired)
        );
    }

    #[test]
    fn typ_matching() {
        assert!(media_type_eq("at+jwt", "at+JWT"));
        assert!(media_type_eq("application/at+jwt", "at+jwt"));
        assert!(!media_type_eq("JWT", "at+jwt"));
        assert!(
            !media_type_eq("applicatio\u{e9}n/x", "at+jwt"),
            "multi-byte text must not panic"
        );
        assert!(!media_type_eq("\u{1F600}\u{1F600}\u{1F600}x", "at+jwt"));
    }
}
