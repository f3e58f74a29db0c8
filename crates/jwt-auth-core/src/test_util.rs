//! Forging tokens for tests, including ones no honest issuer would make:
//! arbitrary headers (`alg: none`, `crit`, a `jwk`), raw claims text (duplicate
//! members), and arbitrary signatures.
//!
//! ```
//! use jwt_auth_core::test_util::{forge, b64url};
//!
//! let token = forge(r#"{"alg":"none"}"#, r#"{"sub":"x"}"#, b"");
//! assert_eq!(token, format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(br#"{"sub":"x"}"#)));
//! ```

use crate::key::{Key, KeyError};

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    crate::b64::encode(bytes)
}

/// `b64(header).b64(claims).b64(signature)` with the given raw texts.
pub fn forge(header: &str, claims: &str, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes()),
        b64url(signature)
    )
}

/// `b64(header).b64(claims)` signed by `key` with its first algorithm,
/// whatever `header` says.
pub fn forge_signed(header: &str, claims: &str, key: &Key) -> Result<String, KeyError> {
    let input = format!(
        "{}.{}",
        b64url(header.as_bytes()),
        b64url(claims.as_bytes())
    );
    let signature = key.sign_bytes(input.as_bytes())?;
    Ok(format!("{input}.{}", b64url(&signature)))
}

/// An HMAC signature over `input` with an arbitrary secret (no length rule):
/// for forging algorithm-confusion tokens that use a public key as the secret.
pub fn hmac_sha256(secret: &[u8], input: &[u8]) -> Vec<u8> {
    crate::key::hmac_sha256(secret, input)
}
