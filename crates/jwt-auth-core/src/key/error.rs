//! Why a key was refused.

/// Why a key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyErrorKind {
    /// The bytes are not a key in any supported encoding.
    Invalid,
    /// A well-formed key of a type or curve that is not supported.
    Unsupported,
    /// The key is too weak to be used safely.
    Weak,
    /// The requested algorithm does not belong to the key's family, or a JWK's
    /// `alg` disagrees with its key type.
    AlgorithmMismatch,
    /// The JWK is not meant for signatures (`use`/`key_ops`).
    WrongUse,
    /// The key cannot sign (it is a public key).
    CannotSign,
    /// A key set is ambiguous (duplicate `kid`s) or empty.
    KeySet,
    /// Two statements of one key disagree: a JWK's `x5c` certificate holds
    /// another key than its own members (RFC 7517 §4.7).
    KeyMismatch,
}

kinded_error! {
    /// A refused key, with a message that names no secret material.
    KeyError, KeyErrorKind
}

impl KeyError {
    pub(crate) fn invalid(message: &str) -> Self {
        Self::new(KeyErrorKind::Invalid, message)
    }
}
