//! Observability: one `tracing` span per authentication and, with the
//! `metrics` feature, counters through the `metrics` facade.
//!
//! The span `jwt_auth.authenticate` (level DEBUG) carries `outcome`
//! (`verified`, `anonymous`, `refused`), `reason` (an [`AuthErrorKind`] name),
//! `alg`, `kid` and `iss` of a verified token, and `cache_hit`. It never holds
//! the token, and never `sub`.
//!
//! Metrics (feature `metrics`):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `jwt_auth_requests_total` | counter | `outcome`, `reason` |
//! | `jwt_auth_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `jwt_auth_revocation_errors_total` | counter | — |
//! | `jwt_auth_jwks_fetches_total` | counter | `result` (`ok`, `error`) |
//! | `jwt_auth_jwks_last_success_seconds` | gauge | — (Unix time of the last good fetch; the key set's age is now minus this) |

use tracing::Span;
use tracing::field::Empty;

use crate::error::{AuthError, AuthErrorKind};
use crate::token::VerifiedToken;

/// The span of one authentication.
pub(crate) fn span() -> Span {
    tracing::debug_span!(
        "jwt_auth.authenticate",
        outcome = Empty,
        reason = Empty,
        alg = Empty,
        kid = Empty,
        iss = Empty,
        cache_hit = Empty,
    )
}

/// Records whether the verified-token cache answered.
pub(crate) fn cache(span: &Span, hit: bool) {
    if !span.is_disabled() {
        span.record("cache_hit", hit);
    }
    // Literal labels: the key is static, so counting allocates nothing.
    #[cfg(feature = "metrics")]
    if hit {
        metrics::counter!("jwt_auth_cache_total", "result" => "hit").increment(1);
    } else {
        metrics::counter!("jwt_auth_cache_total", "result" => "miss").increment(1);
    }
}

/// Records the outcome on the span (and the counters), logs a refusal at
/// DEBUG, and passes the outcome through.
pub(crate) fn finish(
    span: &Span,
    outcome: Result<Option<VerifiedToken>, AuthError>,
) -> Result<Option<VerifiedToken>, AuthError> {
    finish_as(span, outcome, true)
}

/// [`finish`], where a request without a token counts as `anonymous` only
/// when the route lets it through, and as `refused` otherwise.
pub(crate) fn finish_as(
    span: &Span,
    outcome: Result<Option<VerifiedToken>, AuthError>,
    anonymous_ok: bool,
) -> Result<Option<VerifiedToken>, AuthError> {
    let (label, reason) = match &outcome {
        Ok(Some(_)) if span.is_disabled() => ("verified", "none"),
        Ok(Some(token)) => {
            span.record(
                "alg",
                token.algorithm().map_or("introspected", |a| a.as_str()),
            );
            if let Some(kid) = token.kid() {
                span.record("kid", kid);
            }
            if let Some(iss) = token.issuer() {
                span.record("iss", iss);
            }
            ("verified", "none")
        }
        Ok(None) if anonymous_ok => ("anonymous", AuthErrorKind::MissingToken.as_str()),
        Ok(None) => {
            let _entered = span.enter();
            tracing::debug!(reason = "missing_token", "jwt-auth: request refused");
            ("refused", AuthErrorKind::MissingToken.as_str())
        }
        Err(error) => {
            let _entered = span.enter();
            tracing::debug!(reason = error.kind().as_str(), "jwt-auth: request refused");
            ("refused", error.kind().as_str())
        }
    };
    if !span.is_disabled() {
        span.record("outcome", label);
        span.record("reason", reason);
    }
    // The common case with literal labels (a static key: no allocation).
    #[cfg(feature = "metrics")]
    if matches!(outcome, Ok(Some(_))) {
        metrics::counter!("jwt_auth_requests_total", "outcome" => "verified", "reason" => "none")
            .increment(1);
    } else {
        metrics::counter!("jwt_auth_requests_total", "outcome" => label, "reason" => reason)
            .increment(1);
    }
    outcome
}

/// Counts a revocation store that could not answer.
pub(crate) fn revocation_error() {
    #[cfg(feature = "metrics")]
    metrics::counter!("jwt_auth_revocation_errors_total").increment(1);
}

/// Counts a JWKS fetch.
#[cfg(feature = "remote")]
pub(crate) fn jwks_fetch(ok: bool) {
    #[cfg(feature = "metrics")]
    {
        metrics::counter!("jwt_auth_jwks_fetches_total", "result" => if ok { "ok" } else { "error" })
            .increment(1);
        if ok {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64());
            metrics::gauge!("jwt_auth_jwks_last_success_seconds").set(now);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = ok;
}
