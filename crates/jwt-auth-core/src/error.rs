//! The error model: why a request was refused, and its RFC 6750 answer.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};

/// Why a request was not authenticated.
///
/// The variants are coarse on purpose: they say *what* failed, never *with which
/// value*, so they are safe to log and to count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No configured source held a bearer token.
    MissingToken,
    /// The `Authorization` header is present but not a well-formed
    /// `Bearer <token68>` (or appears more than once).
    MalformedRequest,
    /// The token is longer than the configured maximum.
    TokenTooLarge,
    /// The token is not a well-formed compact JWS/JWT (parts, base64url, JSON).
    Malformed,
    /// The header's `alg` is not one the configured key allows (including `none`).
    AlgorithmNotAllowed,
    /// No configured key matches the token's `kid` and algorithm.
    UnknownKey,
    /// The signature does not verify.
    InvalidSignature,
    /// The header carries a `crit` parameter; no extension is understood.
    CriticalHeader,
    /// The header's `typ` is not the required one.
    InvalidType,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// A required claim is missing.
    MissingClaim,
    /// A registered claim has the wrong type or an out-of-range value.
    InvalidClaim,
    /// `iss` is not one of the accepted issuers.
    InvalidIssuer,
    /// `aud` holds none of the accepted audiences.
    InvalidAudience,
    /// The verified claims do not deserialize into the type the handler asked for.
    ClaimsShape,
    /// The token has been revoked.
    Revoked,
    /// The verification keys could not be loaded; the request cannot be judged.
    KeysUnavailable,
    /// The token is valid but lacks the role, scope or permission the route
    /// requires (403).
    InsufficientScope,
    /// The revocation store could not answer and the authenticator fails
    /// closed (503).
    RevocationUnavailable,
    /// A handler asked for claims on a route that has no authentication middleware.
    NotConfigured,
    /// An unsafe request (not `GET`, `HEAD` or `OPTIONS`) authenticated by a
    /// cookie came from another site or origin: a possible cross-site
    /// request forgery (403, no challenge; [`CsrfPolicy`](crate::CsrfPolicy)).
    CrossSiteRequest,
    /// The DPoP proof is missing, malformed, not signed by its key, or does
    /// not match the request, the time, the token or a fresh `jti`
    /// (RFC 9449 §4.3): 401 `DPoP error="invalid_dpop_proof"`.
    InvalidDpopProof,
    /// The DPoP proof lacks the server's current nonce (RFC 9449 §8): 401
    /// `DPoP error="use_dpop_nonce"` with a fresh `DPoP-Nonce` header.
    UseDpopNonce,
    /// A DPoP-bound token (`cnf.jkt`) sent as a plain bearer token, or a
    /// bearer token where DPoP is required (RFC 9449 §7.2): 401
    /// `invalid_token`.
    DpopRequired,
    /// The token's authentication event is not strong or recent enough
    /// (`acr`, `auth_time`): 401 `insufficient_user_authentication` with
    /// `acr_values` and `max_age` (RFC 9470 §3), so the client re-authenticates.
    InsufficientUserAuthentication,
    /// The application's check after validation refused the token (401
    /// `invalid_token`, its reason as the description):
    /// [`AuthError::unauthorized`].
    Unauthorized,
    /// The application's check after validation refused the request (403
    /// `insufficient_scope`, its reason as the description):
    /// [`AuthError::forbidden`].
    Forbidden,
    /// The token introspection endpoint (RFC 7662) says the token is not
    /// active: 401 `invalid_token`.
    Inactive,
    /// The token introspection endpoint could not be asked, or answered
    /// nonsense; the token cannot be judged (503, no challenge).
    IntrospectionUnavailable,
}

impl AuthErrorKind {
    /// The HTTP status this kind is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::MalformedRequest => StatusCode::BAD_REQUEST,
            Self::KeysUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InsufficientScope | Self::CrossSiteRequest | Self::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNAUTHORIZED,
        }
    }

    /// The gRPC status code (the `grpc-status` value) this kind is answered
    /// with on a gRPC request.
    ///
    /// | kinds | code |
    /// |---|---|
    /// | no token, malformed request or token, any verification failure, revoked | 16 `UNAUTHENTICATED` |
    /// | [`InsufficientScope`](Self::InsufficientScope), [`CrossSiteRequest`](Self::CrossSiteRequest) | 7 `PERMISSION_DENIED` |
    /// | [`KeysUnavailable`](Self::KeysUnavailable), [`RevocationUnavailable`](Self::RevocationUnavailable), [`IntrospectionUnavailable`](Self::IntrospectionUnavailable) | 14 `UNAVAILABLE` |
    /// | [`NotConfigured`](Self::NotConfigured) | 13 `INTERNAL` |
    ///
    /// The values are the canonical codes of `google.rpc.Code`, so
    /// `tonic::Code::from_i32(kind.grpc_code())` gives the matching tonic code.
    pub fn grpc_code(self) -> i32 {
        match self {
            Self::InsufficientScope | Self::CrossSiteRequest | Self::Forbidden => {
                GrpcStatus::PERMISSION_DENIED
            }
            Self::KeysUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable => GrpcStatus::UNAVAILABLE,
            Self::NotConfigured => GrpcStatus::INTERNAL,
            _ => GrpcStatus::UNAUTHENTICATED,
        }
    }

    /// The RFC 6750 `error` code, or `None` where the RFC says there is none
    /// (a request with no token) or where the answer is not a challenge (5xx).
    pub fn error_code(self) -> Option<&'static str> {
        match self {
            Self::MissingToken
            | Self::KeysUnavailable
            | Self::RevocationUnavailable
            | Self::IntrospectionUnavailable
            | Self::NotConfigured
            | Self::CrossSiteRequest => None,
            Self::MalformedRequest => Some("invalid_request"),
            Self::InsufficientScope | Self::Forbidden => Some("insufficient_scope"),
            Self::InvalidDpopProof => Some("invalid_dpop_proof"),
            Self::UseDpopNonce => Some("use_dpop_nonce"),
            Self::InsufficientUserAuthentication => Some("insufficient_user_authentication"),
            _ => Some("invalid_token"),
        }
    }

    /// The fixed, coarse description sent to the client.
    pub fn description(self) -> &'static str {
        match self {
            Self::MissingToken => "a bearer token is required",
            Self::MalformedRequest => "the Authorization header is malformed",
            Self::TokenTooLarge => "the token is too large",
            Self::Malformed => "the token is malformed",
            Self::AlgorithmNotAllowed => "the token algorithm is not allowed",
            Self::UnknownKey => "no key matches the token",
            Self::InvalidSignature => "the token signature is invalid",
            Self::CriticalHeader => "the token uses an unsupported critical header",
            Self::InvalidType => "the token type is not accepted",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not yet valid",
            Self::MissingClaim => "the token lacks a required claim",
            Self::InvalidClaim => "a token claim is invalid",
            Self::InvalidIssuer => "the token issuer is not accepted",
            Self::InvalidAudience => "the token audience is not accepted",
            Self::ClaimsShape => "the token claims do not have the expected shape",
            Self::Revoked => "the token has been revoked",
            Self::KeysUnavailable => "the verification keys are unavailable",
            Self::InsufficientScope => "the token lacks the required role or scope",
            Self::RevocationUnavailable => "the revocation state is unavailable",
            Self::NotConfigured => "authentication is not configured for this route",
            Self::CrossSiteRequest => "cross-site request refused",
            Self::InvalidDpopProof => "the DPoP proof is invalid",
            Self::UseDpopNonce => "the DPoP proof must carry the server's nonce",
            Self::DpopRequired => "the token must be sent with a DPoP proof",
            Self::InsufficientUserAuthentication => {
                "a stronger or more recent authentication is required"
            }
            Self::Unauthorized => "the token is not accepted",
            Self::Forbidden => "access is denied",
            Self::Inactive => "the token is not active",
            Self::IntrospectionUnavailable => "the token cannot be checked now",
        }
    }

    /// A short, stable, snake_case name for logs and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingToken => "missing_token",
            Self::MalformedRequest => "malformed_request",
            Self::TokenTooLarge => "token_too_large",
            Self::Malformed => "malformed",
            Self::AlgorithmNotAllowed => "algorithm_not_allowed",
            Self::UnknownKey => "unknown_key",
            Self::InvalidSignature => "invalid_signature",
            Self::CriticalHeader => "critical_header",
            Self::InvalidType => "invalid_type",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::MissingClaim => "missing_claim",
            Self::InvalidClaim => "invalid_claim",
            Self::InvalidIssuer => "invalid_issuer",
            Self::InvalidAudience => "invalid_audience",
            Self::ClaimsShape => "claims_shape",
            Self::Revoked => "revoked",
            Self::KeysUnavailable => "keys_unavailable",
            Self::InsufficientScope => "insufficient_scope",
            Self::RevocationUnavailable => "revocation_unavailable",
            Self::NotConfigured => "not_configured",
            Self::CrossSiteRequest => "cross_site_request",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::DpopRequired => "dpop_required",
            Self::InsufficientUserAuthentication => "insufficient_user_authentication",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::Inactive => "inactive",
            Self::IntrospectionUnavailable => "introspection_unavailable",
        }
    }
}

impl fmt::Display for AuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error model: why a request was refused, and its RFC 6750 answer.
///
/// Every refusal is an [`AuthError`]. Its [`kind`](AuthError::kind) is meant for
/// logs and metrics; its [`response`](AuthError::response) is the framework-neutral
/// HTTP answer that both adapters send:
///
/// | situation | status | `WWW-Authenticate` |
/// |---|---|---|
/// | no token in any configured source | 401 | `Bearer` (with `realm` when configured) |
/// | malformed `Authorization` header | 400 | `Bearer error="invalid_request"` |
/// | any verification failure | 401 | `Bearer error="invalid_token"` |
/// | valid token, but the route's role/scope requirement fails | 403 | `Bearer error="insufficient_scope"` (with `scope=` for scope requirements) |
/// | keys or revocation state unavailable | 503 | none |
/// | claims asked for on a route without the middleware | 500 | none |
///
/// The `error_description` is a fixed phrase per kind: it never echoes token
/// content, expected issuers or audiences, key ids or times.
///
/// ```
/// use jwt_auth_core::{AuthError, AuthErrorKind};
///
/// let err = AuthError::new(AuthErrorKind::Expired);
/// let response = err.response(None);
/// assert_eq!(response.status, http::StatusCode::UNAUTHORIZED);
/// assert_eq!(
///     response.www_authenticate.as_deref(),
///     Some(r#"Bearer error="invalid_token", error_description="the token has expired""#)
/// );
/// assert_eq!(
///     response.body,
///     r#"{"error":"invalid_token","error_description":"the token has expired"}"#
/// );
/// ```
///
/// A refused authentication.
///
/// Opaque on purpose; inspect it with [`kind`](Self::kind). It never holds the
/// token, a key or a claim value, so its `Debug` and `Display` are safe to log.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthError {
    kind: AuthErrorKind,
    /// A static, non-secret detail for logs (for example the name of a missing claim).
    detail: Option<&'static str>,
    /// For [`AuthErrorKind::InsufficientScope`]: the scopes the route
    /// requires (configuration, never token data).
    scope: Option<Arc<str>>,
    /// The request used the `DPoP` scheme: the error goes on the DPoP
    /// challenge.
    dpop: bool,
    /// For [`AuthErrorKind::UseDpopNonce`]: the nonce to send.
    nonce: Option<Arc<str>>,
    /// For [`AuthErrorKind::InsufficientUserAuthentication`]: what to ask
    /// the authorization server for (`acr_values`, `max_age`).
    step_up: Option<Arc<(Option<String>, Option<u64>)>>,
    /// For [`AuthErrorKind::Unauthorized`] and [`AuthErrorKind::Forbidden`]:
    /// the application's reason, sent as the description.
    reason: Option<Arc<str>>,
}

impl AuthError {
    /// An error of the given kind.
    pub fn new(kind: AuthErrorKind) -> Self {
        Self {
            kind,
            detail: None,
            scope: None,
            dpop: false,
            nonce: None,
            step_up: None,
            reason: None,
        }
    }

    /// A 401 `invalid_token` refusal from the application's own check
    /// ([`Authenticator::after_validation`](crate::Authenticator::after_validation)),
    /// with `reason` as the `error_description` (sent to the client: no
    /// secrets, no token data).
    pub fn unauthorized(reason: impl Into<Arc<str>>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(AuthErrorKind::Unauthorized)
        }
    }

    /// A 403 `insufficient_scope` refusal from the application's own check,
    /// with `reason` as the `error_description`.
    pub fn forbidden(reason: impl Into<Arc<str>>) -> Self {
        Self {
            reason: Some(reason.into()),
            ..Self::new(AuthErrorKind::Forbidden)
        }
    }

    /// The application's reason, for [`AuthError::unauthorized`] and
    /// [`AuthError::forbidden`].
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// A 401 [`AuthErrorKind::InsufficientUserAuthentication`] (RFC 9470):
    /// `acr_values` (space-separated, in order of preference) and `max_age`
    /// (seconds) are added to the challenge.
    pub fn insufficient_user_authentication(
        acr_values: Option<&str>,
        max_age: Option<u64>,
    ) -> Self {
        Self {
            step_up: Some(Arc::new((
                acr_values.filter(|a| !a.is_empty()).map(str::to_owned),
                max_age,
            ))),
            ..Self::new(AuthErrorKind::InsufficientUserAuthentication)
        }
    }

    /// For a step-up refusal: the `acr_values` and `max_age` it names.
    pub fn step_up(&self) -> (Option<&str>, Option<u64>) {
        match self.step_up.as_deref() {
            Some((acr, max_age)) => (acr.as_deref(), *max_age),
            None => (None, None),
        }
    }

    pub(crate) fn with_detail(kind: AuthErrorKind, detail: &'static str) -> Self {
        Self {
            detail: Some(detail),
            ..Self::new(kind)
        }
    }

    /// Marks the error as one of a request that used the `DPoP` scheme.
    pub(crate) fn via_dpop(mut self) -> Self {
        self.dpop = true;
        self
    }

    /// A 401 [`AuthErrorKind::UseDpopNonce`] carrying the nonce to send.
    pub(crate) fn use_dpop_nonce(nonce: String) -> Self {
        Self {
            nonce: Some(nonce.into()),
            dpop: true,
            ..Self::new(AuthErrorKind::UseDpopNonce)
        }
    }

    /// Whether the error belongs on the DPoP challenge (the request used the
    /// `DPoP` scheme, or the proof failed).
    pub fn is_dpop(&self) -> bool {
        self.dpop
            || matches!(
                self.kind,
                AuthErrorKind::InvalidDpopProof | AuthErrorKind::UseDpopNonce
            )
    }

    /// For [`AuthErrorKind::UseDpopNonce`]: the nonce to send in the
    /// `DPoP-Nonce` header.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// A 403 [`AuthErrorKind::InsufficientScope`]; `scope` (space-separated,
    /// from configuration) is added to the challenge as `scope="..."`.
    pub fn insufficient_scope(scope: Option<&str>) -> Self {
        Self {
            scope: scope.filter(|s| !s.is_empty()).map(Arc::from),
            ..Self::new(AuthErrorKind::InsufficientScope)
        }
    }

    /// The scopes a 403 names, if any.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A static detail for logs, such as the name of the missing claim. Never
    /// derived from request data.
    pub fn detail(&self) -> Option<&'static str> {
        self.detail
    }

    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The gRPC answer to this error: the code for `grpc-status` and the
    /// fixed, coarse `grpc-message` (the same phrase as the RFC 6750
    /// `error_description`).
    ///
    /// ```
    /// use jwt_auth_core::{AuthError, AuthErrorKind};
    ///
    /// let status = AuthError::new(AuthErrorKind::Expired).grpc_status();
    /// assert_eq!(status.code(), 16);
    /// assert_eq!(status.code_name(), "UNAUTHENTICATED");
    /// assert_eq!(status.message(), "the token has expired");
    ///
    /// let status = AuthError::insufficient_scope(Some("orders:write")).grpc_status();
    /// assert_eq!((status.code(), status.code_name()), (7, "PERMISSION_DENIED"));
    /// ```
    pub fn grpc_status(&self) -> GrpcStatus {
        GrpcStatus::from(self.kind)
    }

    /// The default RFC 6750 answer. `realm` is added to the challenge when given.
    pub fn response(&self, realm: Option<&str>) -> ErrorResponse {
        let kind = self.kind;
        let description = self.reason.as_deref().unwrap_or(kind.description());
        let www_authenticate = match kind {
            AuthErrorKind::KeysUnavailable
            | AuthErrorKind::RevocationUnavailable
            | AuthErrorKind::IntrospectionUnavailable
            | AuthErrorKind::NotConfigured
            | AuthErrorKind::CrossSiteRequest => None,
            _ => {
                let mut challenge = String::from("Bearer");
                let mut sep = " ";
                if let Some(realm) = realm {
                    challenge.push_str(sep);
                    challenge.push_str("realm=\"");
                    push_quoted(&mut challenge, realm);
                    challenge.push('"');
                    sep = ", ";
                }
                if let Some(code) = kind.error_code() {
                    challenge.push_str(sep);
                    challenge.push_str("error=\"");
                    challenge.push_str(code);
                    challenge.push_str("\", error_description=\"");
                    push_quoted(&mut challenge, description);
                    challenge.push('"');
                }
                if let Some(scope) = &self.scope {
                    challenge.push_str(", scope=\"");
                    push_quoted(&mut challenge, scope);
                    challenge.push('"');
                }
                let (acr_values, max_age) = self.step_up();
                if let Some(acr_values) = acr_values {
                    add_param(&mut challenge, "acr_values", acr_values);
                }
                if let Some(max_age) = max_age {
                    add_param(&mut challenge, "max_age", &max_age.to_string());
                }
                Some(challenge)
            }
        };
        let code = kind.error_code().unwrap_or(match kind {
            AuthErrorKind::MissingToken => "missing_token",
            AuthErrorKind::KeysUnavailable
            | AuthErrorKind::RevocationUnavailable
            | AuthErrorKind::IntrospectionUnavailable => "temporarily_unavailable",
            AuthErrorKind::CrossSiteRequest => "forbidden",
            _ => "server_error",
        });
        let body = serde_json::json!({ "error": code, "error_description": description });
        ErrorResponse {
            status: kind.status(),
            www_authenticate,
            content_type: HeaderValue::from_static("application/json"),
            body: body.to_string(),
        }
    }
}

/// Appends `name="value"` to a challenge (after a space when it has no
/// parameters yet, else after a comma).
pub(crate) fn add_param(challenge: &mut String, name: &str, value: &str) {
    challenge.push_str(if challenge.contains(' ') { ", " } else { " " });
    challenge.push_str(name);
    challenge.push_str("=\"");
    push_quoted(challenge, value);
    challenge.push('"');
}

fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        if !c.is_control() {
            out.push(c);
        }
    }
}

impl From<AuthErrorKind> for AuthError {
    fn from(kind: AuthErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Debug for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AuthError");
        d.field("kind", &self.kind);
        if let Some(detail) = self.detail {
            d.field("detail", &detail);
        }
        d.finish()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.description())?;
        if let Some(detail) = self.detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl std::error::Error for AuthError {}

/// A framework-neutral HTTP answer to a refused request.
///
/// Both adapters turn this into their own response type, so an axum and an
/// actix-web service answer byte for byte alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// The status code.
    pub status: StatusCode,
    /// The `WWW-Authenticate` header value, if any.
    pub www_authenticate: Option<String>,
    /// The `Content-Type` of the body.
    pub content_type: HeaderValue,
    /// The body.
    pub body: String,
}

impl ErrorResponse {
    /// The body as bytes.
    pub fn body_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.body.as_bytes())
    }

    /// Converts into an `http::Response`.
    pub fn into_http<B: From<String>>(self) -> http::Response<B> {
        let mut response = http::Response::new(B::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(http::header::CONTENT_TYPE, self.content_type);
        if let Some(challenge) = self.www_authenticate
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            headers.insert(http::header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The gRPC status of a refusal: the `grpc-status` code and the
/// `grpc-message` text, for services that speak gRPC (for example tonic
/// behind `jwt-auth-tower`).
///
/// Build it with [`AuthError::grpc_status`] (or `From<AuthErrorKind>`). The
/// mapping is [`AuthErrorKind::grpc_code`]; the message is the kind's fixed
/// [`description`](AuthErrorKind::description), so it never echoes token
/// content. A gRPC refusal is answered "trailers-only": HTTP 200 with
/// `content-type: application/grpc`, [`code`](Self::code) in `grpc-status`,
/// [`encoded_message`](Self::encoded_message) in `grpc-message`, and no body.
///
/// ```
/// use jwt_auth_core::{AuthErrorKind, GrpcStatus};
///
/// let status = GrpcStatus::from(AuthErrorKind::MissingToken);
/// assert_eq!(status.code(), GrpcStatus::UNAUTHENTICATED);
/// assert_eq!(status.encoded_message(), "a bearer token is required");
/// assert_eq!(status.to_string(), "UNAUTHENTICATED: a bearer token is required");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrpcStatus {
    code: i32,
    message: &'static str,
}

impl GrpcStatus {
    /// `PERMISSION_DENIED` (7): the token is valid but lacks a required role,
    /// scope or permission.
    pub const PERMISSION_DENIED: i32 = 7;
    /// `INTERNAL` (13): authentication is not configured where claims were
    /// asked for.
    pub const INTERNAL: i32 = 13;
    /// `UNAVAILABLE` (14): keys or revocation state cannot be had right now;
    /// the client may retry.
    pub const UNAVAILABLE: i32 = 14;
    /// `UNAUTHENTICATED` (16): no token, or a token that was refused.
    pub const UNAUTHENTICATED: i32 = 16;

    /// The `grpc-status` code.
    pub fn code(&self) -> i32 {
        self.code
    }

    /// The code's canonical name, such as `"UNAUTHENTICATED"`, for logs.
    pub fn code_name(&self) -> &'static str {
        match self.code {
            Self::PERMISSION_DENIED => "PERMISSION_DENIED",
            Self::INTERNAL => "INTERNAL",
            Self::UNAVAILABLE => "UNAVAILABLE",
            _ => "UNAUTHENTICATED",
        }
    }

    /// The status message, as a client shows it once decoded.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// The `grpc-message` header value: the message percent-encoded as the
    /// gRPC over HTTP/2 specification requires (every byte outside
    /// `%x20-%x7E`, and `%` itself, becomes `%XX`). Borrowed when nothing
    /// needs encoding, which holds for every built-in message.
    pub fn encoded_message(&self) -> Cow<'static, str> {
        grpc_percent_encode(self.message)
    }
}

impl From<AuthErrorKind> for GrpcStatus {
    fn from(kind: AuthErrorKind) -> Self {
        Self {
            code: kind.grpc_code(),
            message: kind.description(),
        }
    }
}

impl fmt::Display for GrpcStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code_name(), self.message)
    }
}

/// Percent-encodes a `grpc-message` value: bytes outside `%x20-%x7E`, and `%`.
fn grpc_percent_encode(message: &str) -> Cow<'_, str> {
    let keep = |b: u8| (0x20..=0x7e).contains(&b) && b != b'%';
    if message.bytes().all(keep) {
        return Cow::Borrowed(message);
    }
    let mut out = String::with_capacity(message.len() + 8);
    for b in message.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// Turns an [`AuthError`] into the response sent to the client.
///
/// The default ([`DefaultResponder`]) writes the RFC 6750 answer. Replace it to
/// change the body or add headers; any `Fn(&AuthError) -> ErrorResponse` works.
///
/// ```
/// use jwt_auth_core::{AuthError, ErrorResponder, ErrorResponse};
///
/// let plain = |err: &AuthError| {
///     let mut response = err.response(Some("api"));
///     response.body = format!("denied: {}", err.kind());
///     response.content_type = http::HeaderValue::from_static("text/plain");
///     response
/// };
/// let err = AuthError::new(jwt_auth_core::AuthErrorKind::Expired);
/// assert_eq!(plain.respond(&err).body, "denied: expired");
/// ```
pub trait ErrorResponder: Send + Sync + 'static {
    /// Builds the response for `error`.
    fn respond(&self, error: &AuthError) -> ErrorResponse;
}

impl<F> ErrorResponder for F
where
    F: Fn(&AuthError) -> ErrorResponse + Send + Sync + 'static,
{
    fn respond(&self, error: &AuthError) -> ErrorResponse {
        self(error)
    }
}

/// The default responder: the RFC 6750 answer, with an optional `realm`.
#[derive(Debug, Clone, Default)]
pub struct DefaultResponder {
    realm: Option<Arc<str>>,
}

impl DefaultResponder {
    /// A responder that adds `realm="..."` to every challenge.
    pub fn with_realm(realm: impl Into<Arc<str>>) -> Self {
        Self {
            realm: Some(realm.into()),
        }
    }
}

impl ErrorResponder for DefaultResponder {
    fn respond(&self, error: &AuthError) -> ErrorResponse {
        error.response(self.realm.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_has_bare_challenge() {
        let r = AuthError::new(AuthErrorKind::MissingToken).response(None);
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.www_authenticate.as_deref(), Some("Bearer"));
        let r = AuthError::new(AuthErrorKind::MissingToken).response(Some("a\"b"));
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(r#"Bearer realm="a\"b""#)
        );
    }

    #[test]
    fn malformed_request_is_400() {
        let r = AuthError::new(AuthErrorKind::MalformedRequest).response(Some("api"));
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            r.www_authenticate.as_deref(),
            Some(
                r#"Bearer realm="api", error="invalid_request", error_description="the Authorization header is malformed""#
            )
        );
    }

    #[test]
    fn unavailable_has_no_challenge() {
        let r = AuthError::new(AuthErrorKind::KeysUnavailable).response(None);
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.www_authenticate.is_none());
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
        assert_eq!(v["error"], "temporarily_unavailable");
    }

    #[test]
    fn grpc_codes_follow_the_kind() {
        use AuthErrorKind::*;
        for kind in [
            MissingToken,
            MalformedRequest,
            TokenTooLarge,
            Malformed,
            AlgorithmNotAllowed,
            UnknownKey,
            InvalidSignature,
            CriticalHeader,
            InvalidType,
            Expired,
            NotYetValid,
            MissingClaim,
            InvalidClaim,
            InvalidIssuer,
            InvalidAudience,
            ClaimsShape,
            Revoked,
        ] {
            let status = AuthError::new(kind).grpc_status();
            assert_eq!(status.code(), 16, "{kind}");
            assert_eq!(status.message(), kind.description());
            // Every built-in message is sent as is.
            assert!(matches!(status.encoded_message(), Cow::Borrowed(_)));
        }
        let code = |kind| AuthError::new(kind).grpc_status().code();
        assert_eq!(code(InsufficientScope), 7);
        assert_eq!(code(KeysUnavailable), 14);
        assert_eq!(code(RevocationUnavailable), 14);
        assert_eq!(code(NotConfigured), 13);
        assert_eq!(
            GrpcStatus::from(NotConfigured).to_string(),
            "INTERNAL: authentication is not configured for this route"
        );
    }

    #[test]
    fn grpc_message_is_percent_encoded() {
        assert_eq!(grpc_percent_encode("plain text ~!"), "plain text ~!");
        assert_eq!(grpc_percent_encode("100%"), "100%25");
        assert_eq!(grpc_percent_encode("a\r\nb"), "a%0D%0Ab");
        assert_eq!(grpc_percent_encode("caf\u{e9}"), "caf%C3%A9");
    }

    #[test]
    fn debug_is_coarse() {
        let e = AuthError::with_detail(AuthErrorKind::MissingClaim, "exp");
        assert_eq!(
            format!("{e:?}"),
            r#"AuthError { kind: MissingClaim, detail: "exp" }"#
        );
        assert_eq!(e.to_string(), "the token lacks a required claim (exp)");
    }
}
