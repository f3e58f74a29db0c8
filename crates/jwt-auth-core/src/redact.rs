//! A holder for secret material whose `Debug` prints nothing of it.
//!
//! Every field that holds a token, a secret or key material is wrapped in
//! [`Redacted`], so a `Debug` derived (or written) for the type around it
//! cannot print the secret, and there is no `Display` to reach for.

use std::fmt;

/// Secret material: `Debug` prints `<redacted>`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Redacted<T>(T);

impl<T> Redacted<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the code that must use it.
    pub(crate) const fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Redacted<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_prints_nothing_of_the_value() {
        let secret = Redacted::new(String::from("hunter2-hunter2"));
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{secret:#?}"), "<redacted>");
        assert_eq!(secret.expose(), "hunter2-hunter2");
    }
}
