//! Where verification keys come from: a static key or key set, a remote JWKS,
//! or a map from issuer to either.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::jws::KeySet;
use crate::key::Key;
#[cfg(feature = "remote")]
use crate::remote::RemoteJwks;

/// Where the verification keys come from. Built from a [`Key`], a
/// [`KeySet`], a `RemoteJwks` (feature `remote`) or an [`Issuers`] map, so
/// `Authenticator::new` and `JwtAuth::new` take any of them.
///
/// ```
/// use jwt_auth_core::{Authenticator, Issuers, Key, KeySet};
///
/// let a = Key::hmac([1u8; 32])?;
/// let b = KeySet::new([Key::hmac([2u8; 32])?.with_kid("b1")])?;
/// let auth = Authenticator::new(
///     Issuers::new().issuer("https://a.example", a).issuer("https://b.example", b),
/// );
/// assert!(auth.is_ready());
/// # Ok::<(), jwt_auth_core::KeyError>(())
/// ```
#[derive(Clone)]
pub struct KeySource {
    pub(crate) repr: Repr,
}

#[derive(Clone)]
pub(crate) enum Repr {
    Static(KeySet),
    #[cfg(feature = "remote")]
    Remote(RemoteJwks),
    Issuers(Arc<HashMap<String, KeySource>>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Static(keys) => f.debug_tuple("Static").field(keys).finish(),
            #[cfg(feature = "remote")]
            Repr::Remote(remote) => f.debug_tuple("Remote").field(remote).finish(),
            Repr::Issuers(map) => f.debug_map().entries(map.iter()).finish(),
        }
    }
}

impl KeySource {
    /// Whether tokens can be verified now: static keys always are; a remote
    /// source once its keys are loaded and not stale; an issuer map when
    /// every issuer's source is ready.
    pub fn is_ready(&self) -> bool {
        match &self.repr {
            Repr::Static(_) => true,
            #[cfg(feature = "remote")]
            Repr::Remote(remote) => remote.is_ready(),
            Repr::Issuers(map) => map.values().all(KeySource::is_ready),
        }
    }

    /// Waits until every remote source has loaded its keys once (at once for
    /// static keys). Returns whether the source is ready. Wrap it in a
    /// timeout to bound the wait.
    pub async fn ready(&self) -> bool {
        match &self.repr {
            Repr::Static(_) => true,
            #[cfg(feature = "remote")]
            Repr::Remote(remote) => remote.ready().await,
            Repr::Issuers(map) => {
                let mut all = true;
                for source in map.values() {
                    all &= Box::pin(source.ready()).await;
                }
                all
            }
        }
    }

    /// The static keys, if this source is a fixed key set.
    pub fn static_keys(&self) -> Option<&KeySet> {
        match &self.repr {
            Repr::Static(keys) => Some(keys),
            _ => None,
        }
    }
}

impl From<Key> for KeySource {
    fn from(key: Key) -> Self {
        KeySet::single(key).into()
    }
}

impl From<KeySet> for KeySource {
    fn from(keys: KeySet) -> Self {
        Self {
            repr: Repr::Static(keys),
        }
    }
}

#[cfg(feature = "remote")]
impl From<RemoteJwks> for KeySource {
    fn from(remote: RemoteJwks) -> Self {
        Self {
            repr: Repr::Remote(remote),
        }
    }
}

impl From<Issuers> for KeySource {
    fn from(issuers: Issuers) -> Self {
        Self {
            repr: Repr::Issuers(Arc::new(issuers.map)),
        }
    }
}

/// A fixed map from issuer (`iss`) to the keys that verify its tokens.
///
/// - A token's unverified `iss` only *selects* the keys; the token is then
///   verified with them and its `iss` checked again.
/// - A token whose `iss` is missing or not in the map is refused (401)
///   without any fetch: no request ever makes the service discover an
///   unknown issuer.
/// - `kid`s are looked up within the selected issuer only, so two issuers
///   may use the same `kid`.
#[derive(Clone, Default)]
#[must_use]
pub struct Issuers {
    map: HashMap<String, KeySource>,
}

impl fmt::Debug for Issuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.map.iter()).finish()
    }
}

impl Issuers {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts `keys` for tokens whose `iss` is exactly `issuer` (replacing
    /// any keys given before for it).
    pub fn issuer(mut self, issuer: impl Into<String>, keys: impl Into<KeySource>) -> Self {
        self.map.insert(issuer.into(), keys.into());
        self
    }

    /// The issuers in the map.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}
