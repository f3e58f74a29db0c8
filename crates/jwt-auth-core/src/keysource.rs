//! Where verification keys come from: a static key or key set, a remote JWKS,
//! or a map from issuer to either.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use std::time::Duration;

use crate::error::{AuthError, AuthErrorKind};
use crate::jws::KeySet;
use crate::key::{Algorithm, Key};
#[cfg(feature = "remote")]
use crate::remote::{Lookup, RemoteJwks, Tenants};
use crate::validation::{MAX_LEEWAY, Validation};

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
    Issuers(Arc<IssuerMap>),
    #[cfg(feature = "remote")]
    Tenants(Tenants),
}

/// The issuer map as the authenticator reads it.
#[derive(Clone)]
pub(crate) struct IssuerMap {
    pub(crate) exact: HashMap<String, (KeySource, Option<Arc<IssuerRules>>)>,
    #[cfg(feature = "remote")]
    pub(crate) tenants: Vec<(Tenants, Option<Arc<IssuerRules>>)>,
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Static(keys) => f.debug_tuple("Static").field(keys).finish(),
            #[cfg(feature = "remote")]
            Repr::Remote(remote) => f.debug_tuple("Remote").field(remote).finish(),
            Repr::Issuers(map) => fmt::Debug::fmt(map, f),
            #[cfg(feature = "remote")]
            Repr::Tenants(tenants) => fmt::Debug::fmt(tenants, f),
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
            Repr::Issuers(map) => map.exact.values().all(|(keys, _)| keys.is_ready()),
            // Tenants are discovered when their first token arrives.
            #[cfg(feature = "remote")]
            Repr::Tenants(_) => true,
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
                for (source, _) in map.exact.values() {
                    all &= Box::pin(source.ready()).await;
                }
                all
            }
            #[cfg(feature = "remote")]
            Repr::Tenants(_) => true,
        }
    }

    /// Whether the keys are chosen by the token's `iss`.
    pub(crate) fn by_issuer(&self) -> bool {
        match &self.repr {
            Repr::Issuers(_) => true,
            #[cfg(feature = "remote")]
            Repr::Tenants(_) => true,
            _ => false,
        }
    }

    /// The keys (and rules) for a token with this unverified `iss`; a
    /// tenant not yet discovered is waited for only when `may_wait`.
    #[cfg_attr(not(feature = "remote"), allow(unused_variables))]
    pub(crate) fn select<'a>(
        &'a self,
        issuer: Option<&'a str>,
        may_wait: bool,
    ) -> Result<Selection<'a>, Select> {
        let mut source = self;
        let mut rules = None;
        loop {
            let map = match &source.repr {
                Repr::Static(keys) => {
                    let keys = Selected::Static(keys);
                    return Ok(Selection {
                        keys,
                        rules,
                        #[cfg(feature = "remote")]
                        tenants: None,
                    });
                }
                #[cfg(feature = "remote")]
                Repr::Remote(remote) => {
                    let keys = Selected::Remote(remote.clone(), None);
                    return Ok(Selection {
                        keys,
                        rules,
                        tenants: None,
                    });
                }
                #[cfg(feature = "remote")]
                Repr::Tenants(tenants) => {
                    let iss = issuer.ok_or_else(invalid_issuer)?;
                    return match select_tenant(tenants, iss, may_wait, rules) {
                        Err(Select::NotTrusted) => Err(invalid_issuer()),
                        found => found,
                    };
                }
                Repr::Issuers(map) => map,
            };
            let iss = issuer.ok_or_else(invalid_issuer)?;
            if let Some((keys, own)) = map.exact.get(iss) {
                source = keys;
                rules = own.as_deref().or(rules);
                continue;
            }
            #[cfg(feature = "remote")]
            for (tenants, own) in &map.tenants {
                let rules = own.as_deref().or(rules);
                match select_tenant(tenants, iss, may_wait, rules) {
                    Err(Select::NotTrusted) => {}
                    found => return found,
                }
            }
            return Err(invalid_issuer());
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

fn invalid_issuer() -> Select {
    Select::Refused(AuthErrorKind::InvalidIssuer.into())
}

#[cfg(feature = "remote")]
fn select_tenant<'a>(
    tenants: &'a Tenants,
    iss: &'a str,
    may_wait: bool,
    rules: Option<&'a IssuerRules>,
) -> Result<Selection<'a>, Select> {
    match tenants.lookup(iss, may_wait) {
        Lookup::Ready(remote) => Ok(Selection {
            keys: Selected::Remote(remote, Some(iss)),
            rules,
            tenants: Some(tenants),
        }),
        Lookup::NotTrusted => Err(Select::NotTrusted),
        Lookup::Refused(kind) => Err(Select::Refused(kind.into())),
        Lookup::Wait(wait) => Err(Select::Wait(wait)),
    }
}

/// The keys chosen for a token, and the rules of its issuer.
pub(crate) struct Selection<'a> {
    pub(crate) keys: Selected<'a>,
    pub(crate) rules: Option<&'a IssuerRules>,
    /// The tenants the keys came from, to confirm once a token verified.
    #[cfg(feature = "remote")]
    pub(crate) tenants: Option<&'a Tenants>,
}

/// Keys chosen for a token.
pub(crate) enum Selected<'a> {
    Static(&'a KeySet),
    /// A remote key set, with the issuer its tokens must carry when it is
    /// a tenant's.
    #[cfg(feature = "remote")]
    Remote(RemoteJwks, Option<&'a str>),
}

/// Why no keys were chosen.
pub(crate) enum Select {
    Refused(AuthError),
    /// An issuer map's template did not fit; the next one is tried.
    #[cfg(feature = "remote")]
    NotTrusted,
    /// A tenant's discovery is under way.
    #[cfg(feature = "remote")]
    Wait(crate::BoxFuture<'static, ()>),
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

#[cfg(feature = "remote")]
impl From<Tenants> for KeySource {
    fn from(tenants: Tenants) -> Self {
        Self {
            repr: Repr::Tenants(tenants),
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

/// A map from issuer (`iss`) to the keys that verify its tokens, with
/// rules of its own where an issuer needs them, and (feature `remote`)
/// issuer templates whose tenants are discovered when their first token
/// arrives.
///
/// - A token's unverified `iss` only *selects* the keys; the token is then
///   verified with them and its `iss` checked again.
/// - A token whose `iss` is missing, or neither in the map nor fitting a
///   template, is refused (401) without any fetch: no request ever makes the
///   service discover an issuer it was not told to trust.
/// - `kid`s are looked up within the selected issuer only, so two issuers
///   (or two tenants) may use the same `kid`.
/// - Exact issuers are tried first, then the templates in the order given.
///
/// ```
/// use std::time::Duration;
/// use jwt_auth_core::{Algorithm, Authenticator, IssuerRules, Issuers, Key};
///
/// let keycloak = Key::hmac([1u8; 32])?;
/// let partner = Key::hmac([2u8; 32])?;
/// let auth = Authenticator::new(
///     Issuers::new()
///         .issuer("https://sso.example.com/realms/api", keycloak)
///         .issuer_with(
///             "https://partner.example",
///             partner,
///             IssuerRules::new()
///                 .audience("partner-api")
///                 .typ("at+jwt")
///                 .algorithms([Algorithm::HS256])
///                 .leeway(Duration::from_secs(5)),
///         ),
/// )
/// .audience("orders-api");
/// assert!(auth.is_ready());
/// # Ok::<(), jwt_auth_core::KeyError>(())
/// ```
#[derive(Clone)]
#[must_use]
pub struct Issuers {
    map: IssuerMap,
}

impl Default for Issuers {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for IssuerMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        map.entries(self.exact.iter().map(|(iss, (keys, _))| (iss, keys)));
        #[cfg(feature = "remote")]
        map.entries(self.tenants.iter().map(|(t, _)| ("tenants", t)));
        map.finish()
    }
}

impl fmt::Debug for Issuers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.map, f)
    }
}

impl Issuers {
    /// An empty map.
    pub fn new() -> Self {
        Self {
            map: IssuerMap {
                exact: HashMap::new(),
                #[cfg(feature = "remote")]
                tenants: Vec::new(),
            },
        }
    }

    /// Trusts `keys` for tokens whose `iss` is exactly `issuer` (replacing
    /// any keys given before for it), with the authenticator's rules.
    pub fn issuer(mut self, issuer: impl Into<String>, keys: impl Into<KeySource>) -> Self {
        self.map.exact.insert(issuer.into(), (keys.into(), None));
        self
    }

    /// Trusts `keys` for tokens whose `iss` is exactly `issuer`, with
    /// `rules` over the authenticator's (its audience, `typ`, algorithms,
    /// leeway).
    pub fn issuer_with(
        mut self,
        issuer: impl Into<String>,
        keys: impl Into<KeySource>,
        rules: IssuerRules,
    ) -> Self {
        self.map
            .exact
            .insert(issuer.into(), (keys.into(), Some(Arc::new(rules))));
        self
    }

    /// Trusts every issuer that fits a [`Tenants`] template (or predicate),
    /// each discovered when its first token arrives, with the
    /// authenticator's rules.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn tenants(mut self, tenants: Tenants) -> Self {
        self.map.tenants.push((tenants, None));
        self
    }

    /// [`tenants`](Self::tenants), with `rules` over the authenticator's.
    #[cfg(feature = "remote")]
    #[cfg_attr(docsrs, doc(cfg(feature = "remote")))]
    pub fn tenants_with(mut self, tenants: Tenants, rules: IssuerRules) -> Self {
        self.map.tenants.push((tenants, Some(Arc::new(rules))));
        self
    }

    /// The exact issuers in the map.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.map.exact.keys().map(String::as_str)
    }
}

/// Validation rules for one issuer, each over the authenticator's own
/// setting (which stays the default for what a rule does not set).
///
/// | rule | effect |
/// |---|---|
/// | [`audience`](Self::audience) / [`audiences`](Self::audiences) | the accepted audiences, instead of the authenticator's |
/// | [`typ`](Self::typ) | the required header `typ` |
/// | [`algorithms`](Self::algorithms) | only keys of these algorithms verify this issuer's tokens |
/// | [`leeway`](Self::leeway) | the clock skew tolerated on `exp` and `nbf` (at most [`MAX_LEEWAY`]) |
///
/// Tokens checked by introspection follow their endpoint's rules the same
/// way (`typ` and algorithms do not apply to them).
#[derive(Clone, Debug, Default)]
#[must_use]
pub struct IssuerRules {
    audiences: Option<Vec<String>>,
    typ: Option<String>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Option<Duration>,
}

impl IssuerRules {
    /// No rule of its own: the authenticator's apply.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accept this audience (adds it to this issuer's list, which replaces
    /// the authenticator's).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences
            .get_or_insert_with(Vec::new)
            .push(audience.into());
        self
    }

    /// Accept these audiences, and only these, for this issuer.
    pub fn audiences<I: IntoIterator<Item = S>, S: Into<String>>(mut self, audiences: I) -> Self {
        self.audiences = Some(audiences.into_iter().map(Into::into).collect());
        self
    }

    /// Require this header `typ` (for example `at+jwt`) from this issuer.
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Accept only tokens signed with one of these algorithms from this
    /// issuer; a token verified by a key of another algorithm is refused
    /// ([`AlgorithmNotAllowed`](crate::AuthErrorKind::AlgorithmNotAllowed)).
    /// The algorithm still comes from the key, never from the token.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Clock skew tolerated on this issuer's `exp` and `nbf`; clamped to
    /// [`MAX_LEEWAY`].
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = Some(leeway.min(MAX_LEEWAY));
        self
    }

    /// The validation these rules make of the authenticator's.
    pub(crate) fn apply(&self, base: &Validation) -> Validation {
        let mut v = base.clone();
        if let Some(audiences) = &self.audiences {
            v.audiences.clone_from(audiences);
        }
        if let Some(typ) = &self.typ {
            v.typ = Some(typ.clone());
        }
        if let Some(leeway) = self.leeway {
            v.leeway = leeway;
        }
        v
    }

    /// Whether a key of `alg` may verify this issuer's tokens.
    pub(crate) fn allows(&self, alg: Algorithm) -> bool {
        self.algorithms
            .as_ref()
            .is_none_or(|list| list.contains(&alg))
    }
}
