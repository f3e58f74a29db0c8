//! Keys from JWKs (RFC 7517): members, `use`/`key_ops`, `alg` pinning, and
//! the `x5c` certificate check.

use serde_json::Value;

use super::der::from_certificate;
use super::weak::{ec_public_key, ed25519_public_key, rsa_public_key};
use super::{Algorithm, Key, KeyError, KeyErrorKind, KeyFamily};
use crate::b64;

pub(super) fn jwk_str<'a>(
    jwk: &'a serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, KeyError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyError::invalid("JWK member has the wrong type")),
    }
}

pub(super) fn jwk_bytes(
    jwk: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Vec<u8>, KeyError> {
    let s = jwk_str(jwk, name)?.ok_or_else(|| KeyError::invalid("JWK lacks a required member"))?;
    b64::decode(s).map_err(|_| KeyError::invalid("JWK member is not valid base64url"))
}

pub(super) fn from_jwk_value(jwk: &Value) -> Result<Key, KeyError> {
    let jwk = jwk
        .as_object()
        .ok_or_else(|| KeyError::invalid("JWK is not a JSON object"))?;
    if let Some(usage) = jwk_str(jwk, "use")?
        && usage != "sig"
    {
        return Err(KeyError::new(
            KeyErrorKind::WrongUse,
            "JWK `use` is not `sig`",
        ));
    }
    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops
            .as_array()
            .ok_or_else(|| KeyError::invalid("JWK `key_ops` is not an array"))?;
        if !ops.iter().any(|op| op == "verify") {
            return Err(KeyError::new(
                KeyErrorKind::WrongUse,
                "JWK `key_ops` does not include `verify`",
            ));
        }
    }
    let alg = match jwk_str(jwk, "alg")? {
        None => None,
        Some(name) => Some(name.parse::<Algorithm>().map_err(|_| {
            KeyError::new(
                KeyErrorKind::AlgorithmMismatch,
                "JWK `alg` is not a supported signature algorithm",
            )
        })?),
    };
    let kty = jwk_str(jwk, "kty")?.ok_or_else(|| KeyError::invalid("JWK lacks `kty`"))?;
    let key = match kty {
        "RSA" => {
            let n = jwk_bytes(jwk, "n")?;
            let e = jwk_bytes(jwk, "e")?;
            rsa_public_key(&n, &e, None)?
        }
        "EC" => {
            let family = match jwk_str(jwk, "crv")? {
                Some("P-256") => KeyFamily::EcP256,
                Some("P-384") => KeyFamily::EcP384,
                Some(_) => {
                    return Err(KeyError::new(
                        KeyErrorKind::Unsupported,
                        "unsupported EC curve (P-256 and P-384 are supported)",
                    ));
                }
                None => return Err(KeyError::invalid("EC JWK lacks `crv`")),
            };
            let x = jwk_bytes(jwk, "x")?;
            let y = jwk_bytes(jwk, "y")?;
            let size = if family == KeyFamily::EcP256 { 32 } else { 48 };
            if x.len() != size || y.len() != size {
                return Err(KeyError::invalid(
                    "EC JWK coordinates do not match the curve",
                ));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ec_public_key(family, &point, None)?
        }
        "OKP" => {
            if jwk_str(jwk, "crv")? != Some("Ed25519") {
                return Err(KeyError::new(
                    KeyErrorKind::Unsupported,
                    "unsupported OKP curve (Ed25519 is supported)",
                ));
            }
            ed25519_public_key(&jwk_bytes(jwk, "x")?, None)?
        }
        "oct" => {
            // Pinning to `alg` below also checks the secret is long enough for it.
            Key::hmac(jwk_bytes(jwk, "k")?)?
        }
        _ => {
            return Err(KeyError::new(
                KeyErrorKind::Unsupported,
                "unsupported JWK `kty`",
            ));
        }
    };
    check_x5c(jwk, &key)?;
    let key = match alg {
        Some(alg) => key.with_algorithms([alg])?,
        None => key,
    };
    Ok(match jwk_str(jwk, "kid")? {
        Some(kid) => key.with_kid(kid),
        None => key,
    })
}

/// RFC 7517 §4.7: the key in the first `x5c` certificate MUST match the
/// JWK's own key members. A JWK whose certificate holds another key is
/// refused, whichever of the two a verifier would have used.
pub(super) fn check_x5c(jwk: &serde_json::Map<String, Value>, key: &Key) -> Result<(), KeyError> {
    use base64::Engine as _;
    let Some(chain) = jwk.get("x5c") else {
        return Ok(());
    };
    let first = chain
        .as_array()
        .and_then(|chain| chain.first())
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::invalid("JWK `x5c` is not a non-empty array of strings"))?;
    // `x5c` holds standard base64 (with padding), not base64url.
    let der = base64::engine::general_purpose::STANDARD
        .decode(first)
        .map_err(|_| KeyError::invalid("JWK `x5c` certificate is not valid base64"))?;
    let certified = from_certificate(&der)
        .map_err(|e| KeyError::new(e.kind(), format!("JWK `x5c` certificate is refused: {e}")))?;
    if !key.same_public_key(&certified) {
        return Err(KeyError::new(
            KeyErrorKind::KeyMismatch,
            "JWK `x5c` certificate holds another key than the JWK (RFC 7517 §4.7)",
        ));
    }
    Ok(())
}
