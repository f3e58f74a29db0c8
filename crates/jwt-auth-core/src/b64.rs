//! Strict base64url (RFC 7515 §2): no padding, no `+`/`/`, no non-zero
//! trailing bits.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Decodes strict base64url.
pub(crate) fn decode(input: &str) -> Result<Vec<u8>, base64::DecodeError> {
    URL_SAFE_NO_PAD.decode(input)
}

/// Encodes as base64url without padding.
pub(crate) fn encode(input: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness() {
        assert_eq!(decode("Zm9v").ok(), Some(b"foo".to_vec()));
        assert!(decode("Zm8=").is_err(), "padding");
        assert!(decode("+/8").is_err(), "standard alphabet");
        assert!(decode("Zm9").is_err(), "non-zero trailing bits");
        assert!(decode("Zm8").is_ok());
    }
}
