//! Shared pieces of the fuzz targets: the fixed keys and clock, a generator
//! of signed (and deliberately broken) tokens with an independent oracle that
//! says whether each one must be accepted, and the invariants every outcome
//! must satisfy.
//!
//! Every target runs with a fixed clock ([`NOW`]) and fixed keys, so a crash
//! reproduces from its input file alone.
#![allow(clippy::unwrap_used)] // a failed unwrap is a finding, reported with its input

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Unstructured;
use jwt_auth_core::test_util::{b64url, forge, forge_signed};
use jwt_auth_core::{
    AuthError, AuthErrorKind, Authenticator, Key, KeySet, MAX_NUMERIC_DATE, VerifiedToken,
};
use serde_json::{Map, Value};

/// The fixed "now" of every target (2027-01-15).
pub const NOW: u64 = 1_800_000_000;
/// The default leeway, in seconds.
pub const LEEWAY: f64 = 60.0;
/// The issuer and audience the strict authenticators require.
pub const ISS: &str = "https://issuer.example";
/// See [`ISS`].
pub const AUD: &str = "api";
/// The `typ` the strict authenticators require.
pub const TYP: &str = "at+jwt";
/// The `kid` of the fixed HMAC key.
pub const KID: &str = "k1";

/// The fixed HMAC secret: 64 bytes, long enough for HS256/384/512.
pub const SECRET: &[u8; 64] = b"fuzz-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef!!";
/// Another secret, for tokens signed with the wrong key.
pub const OTHER_SECRET: &[u8; 64] =
    b"another-secret-0123456789abcdef-0123456789abcdef-0123456789abcde";

/// The P-256 key pair from `tests/keys` (the private half signs).
pub const P256_PRIVATE_PEM: &[u8] = include_bytes!("../../tests/keys/p256.pem");
/// The P-256 public key from `tests/keys`.
pub const P256_PUBLIC_PEM: &[u8] = include_bytes!("../../tests/keys/p256.pub.pem");
/// The RSA-2048 public key from `tests/keys`.
pub const RSA_PUBLIC_PEM: &[u8] = include_bytes!("../../tests/keys/rsa.pub.pem");

/// The verification key: the fixed secret, `kid` [`KID`], HS256 and HS384.
pub fn hmac_key() -> Key {
    Key::hmac(SECRET)
        .unwrap()
        .with_algorithms([
            jwt_auth_core::Algorithm::HS256,
            jwt_auth_core::Algorithm::HS384,
        ])
        .unwrap()
        .with_kid(KID)
}

/// The fixed secret pinned to one algorithm (it signs with that one).
pub fn hmac_signer(alg: jwt_auth_core::Algorithm) -> Key {
    Key::hmac(SECRET).unwrap().with_algorithms([alg]).unwrap()
}

/// The key set holding [`hmac_key`] only.
pub fn hmac_keyset() -> KeySet {
    KeySet::new([hmac_key()]).unwrap()
}

/// An authenticator on the fixed clock, cache off (every call verifies from
/// scratch, so one input's outcome never depends on an earlier one), with no
/// `iss` or `aud` requirement: any `aud` is accepted (the explicit opt-out),
/// so that [`strict`] accepting a token implies this one does.
pub fn lenient(keys: impl Into<jwt_auth_core::KeySource>) -> Authenticator {
    Authenticator::new(keys)
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
        .cache_capacity(0)
        .accept_any_audience()
}

/// [`lenient`] plus `iss` = [`ISS`], `aud` ∋ [`AUD`] and `typ` = [`TYP`].
pub fn strict(keys: impl Into<jwt_auth_core::KeySource>) -> Authenticator {
    lenient(keys).issuer(ISS).audience(AUD).typ(TYP)
}

/// Polls a future once with a no-op waker. Static keys and no revocation
/// store: authentication never waits, so the future must be ready at once.
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("authentication with static keys was not ready at once"),
    }
}

/// An outcome reduced to what must agree between two ways of computing it.
pub type Verdict = Result<Option<Value>, AuthErrorKind>;

/// See [`Verdict`].
pub fn verdict(outcome: &Result<Option<VerifiedToken>, AuthError>) -> Verdict {
    match outcome {
        Ok(token) => Ok(token.as_ref().map(|t| t.claims_json().clone())),
        Err(e) => Err(e.kind()),
    }
}

/// Checks a refusal: 400 or 401 only (static keys, no store: never 403/5xx),
/// and the response the authenticator builds for it is a valid HTTP response.
pub fn check_refusal(auth: &Authenticator, error: &AuthError) {
    let status = error.status().as_u16();
    assert!(
        status == 400 || status == 401,
        "{error:?} answered with status {status}"
    );
    let response = auth.error_response(error);
    assert_eq!(response.status.as_u16(), status);
    let challenge = response
        .www_authenticate
        .as_deref()
        .expect("a 400/401 carries a challenge");
    assert!(challenge.starts_with("Bearer"), "challenge {challenge:?}");
    assert!(
        http::HeaderValue::from_str(challenge).is_ok(),
        "challenge {challenge:?} is not a valid header value"
    );
    let code = if status == 400 {
        "invalid_request"
    } else {
        "invalid_token"
    };
    if error.kind() != AuthErrorKind::MissingToken {
        assert!(
            challenge.contains(&format!("error=\"{code}\"")),
            "{error:?}: challenge {challenge:?}"
        );
    }
    let http = response.into_http::<String>();
    assert_eq!(http.status().as_u16(), status);
}

fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, ()> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(v) if v.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&v) => Ok(Some(v)),
            _ => Err(()),
        },
        Some(_) => Err(()),
    }
}

/// Whether claims pass the default checks at [`NOW`] (`exp` required and in
/// the future within the leeway, `nbf`, `iat` valid NumericDates, `iss`,
/// `sub`, `jti` strings). Written from the documented rules, independently of
/// the crate's code.
pub fn claims_acceptable(claims: &Map<String, Value>) -> bool {
    let now = NOW as f64;
    let Ok(Some(exp)) = numeric_date(claims, "exp") else {
        return false;
    };
    if now >= exp + LEEWAY {
        return false;
    }
    match numeric_date(claims, "nbf") {
        Ok(Some(nbf)) if now + LEEWAY < nbf => return false,
        Ok(_) => {}
        Err(()) => return false,
    }
    if numeric_date(claims, "iat").is_err() {
        return false;
    }
    ["iss", "sub", "jti"]
        .iter()
        .all(|name| matches!(claims.get(*name), None | Some(Value::String(_))))
}

/// Whether claims also pass the strict authenticator's `iss` and `aud` rules.
pub fn issuer_audience_acceptable(claims: &Map<String, Value>) -> bool {
    let iss_ok = claims.get("iss").and_then(Value::as_str) == Some(ISS);
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == AUD,
        Some(Value::Array(list)) => {
            list.iter().all(Value::is_string) && list.iter().any(|a| a.as_str() == Some(AUD))
        }
        _ => false,
    };
    iss_ok && aud_ok
}

fn strip_application(s: &str) -> &str {
    match (s.get(..12), s.get(12..)) {
        (Some(head), Some(rest)) if head.eq_ignore_ascii_case("application/") => rest,
        _ => s,
    }
}

/// `typ` comparison: case-insensitive, `application/` optional (RFC 7515 §4.1.9).
pub fn media_type_eq(a: &str, b: &str) -> bool {
    strip_application(a).eq_ignore_ascii_case(strip_application(b))
}

/// Checks what every accepted token must satisfy, whatever produced it.
pub fn check_accepted(token: &VerifiedToken) {
    let claims = token.claims_map();
    assert!(
        claims_acceptable(claims),
        "accepted claims break the default rules: {:?}",
        token.claims_json()
    );
}

/// Who signs a generated token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signer {
    /// The fixed secret with HS256 (accepted).
    Hs256,
    /// The fixed secret with HS384 (accepted: the key allows it).
    Hs384,
    /// The fixed secret with HS512 (refused: the key does not allow it).
    Hs512,
    /// Another secret, HS256 (refused).
    OtherKey,
    /// No key: the signature is arbitrary bytes (refused).
    Garbage,
}

impl Signer {
    /// The `alg` this signer produces, if any.
    pub fn alg_name(self) -> Option<&'static str> {
        match self {
            Self::Hs256 | Self::OtherKey => Some("HS256"),
            Self::Hs384 => Some("HS384"),
            Self::Hs512 => Some("HS512"),
            Self::Garbage => None,
        }
    }

    /// Whether a token signed this way can verify under [`hmac_key`].
    pub fn trusted(self) -> bool {
        matches!(self, Self::Hs256 | Self::Hs384)
    }
}

/// How a signed token is damaged after signing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// Left alone.
    None,
    /// One byte of the decoded signature XORed with a non-zero mask.
    SignatureByte { index: usize, mask: u8 },
    /// One character of the header or payload part replaced by another
    /// base64url character (so the signing input changes).
    SigningInputChar { index: usize, with: u8 },
}

/// A part of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The protected header.
    Header,
    /// The claims.
    Claims,
}

/// A generated token, with everything the oracle needs.
#[derive(Debug)]
pub struct Generated {
    /// The compact token.
    pub token: String,
    /// The exact claims bytes that were encoded.
    pub claims_text: String,
    /// The header members (as parsed back from the encoded text).
    pub header: Map<String, Value>,
    /// The claims (as parsed back from the encoded text).
    pub claims: Map<String, Value>,
    /// Who signed.
    pub signer: Signer,
    /// Where a duplicate member was spliced in, if anywhere.
    pub duplicate: Option<Part>,
    /// The damage done after signing.
    pub tamper: Tamper,
}

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn pick<'a, T>(u: &mut Unstructured<'_>, items: &'a [T]) -> arbitrary::Result<&'a T> {
    u.choose(items)
}

fn arbitrary_string(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let s: &str = u.arbitrary()?;
    Ok(s.chars().take(64).collect())
}

/// An arbitrary JSON value, at most `depth` containers deep.
pub fn arbitrary_json(u: &mut Unstructured<'_>, depth: usize) -> arbitrary::Result<Value> {
    let choice = if depth == 0 {
        u.int_in_range(0..=5)?
    } else {
        u.int_in_range(0..=7)?
    };
    Ok(match choice {
        0 => Value::Null,
        1 => Value::Bool(u.arbitrary()?),
        2 => Value::from(u.arbitrary::<i64>()?),
        3 => Value::from(u.arbitrary::<u64>()?),
        4 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        5 => Value::String(arbitrary_string(u)?),
        6 => {
            let n = u.int_in_range(0..=4)?;
            let mut list = Vec::with_capacity(n);
            for _ in 0..n {
                list.push(arbitrary_json(u, depth - 1)?);
            }
            Value::Array(list)
        }
        _ => {
            let n = u.int_in_range(0..=4)?;
            let mut map = Map::new();
            for _ in 0..n {
                map.insert(arbitrary_string(u)?, arbitrary_json(u, depth - 1)?);
            }
            Value::Object(map)
        }
    })
}

/// A NumericDate-ish claim value: mostly around [`NOW`] and its edges, some
/// out of range or of the wrong type.
fn arbitrary_date(u: &mut Unstructured<'_>) -> arbitrary::Result<Value> {
    let now = NOW as i64;
    Ok(match u.int_in_range(0..=11)? {
        0 => Value::from(now + i64::from(u.arbitrary::<i32>()?)),
        1 => Value::from(now + u.int_in_range(-70..=70)?),
        2 => Value::from(now - 60),
        3 => Value::from(now + 60),
        4 => serde_json::Number::from_f64(NOW as f64 + u.arbitrary::<f64>()? % 1000.0)
            .map_or(Value::Null, Value::Number),
        5 => Value::from(-1),
        6 => Value::from(MAX_NUMERIC_DATE as u64 + u.int_in_range(0..=1)?),
        7 => serde_json::Number::from_f64(u.arbitrary()?).map_or(Value::Null, Value::Number),
        8 => Value::from(u.arbitrary::<u64>()?),
        9 => Value::String((NOW + 600).to_string()),
        10 => Value::Null,
        _ => arbitrary_json(u, 1)?,
    })
}

fn maybe<T>(
    u: &mut Unstructured<'_>,
    f: impl FnOnce(&mut Unstructured<'_>) -> arbitrary::Result<T>,
) -> arbitrary::Result<Option<T>> {
    if u.ratio(1, 5)? {
        Ok(None)
    } else {
        f(u).map(Some)
    }
}

/// Builds a token from fuzz data: header and claims chosen around the rules
/// (edges of `exp`/`nbf`, wrong types, `crit`, refresh `typ`, other `kid`s),
/// extra members, a signer, an optional duplicate member and optional damage.
pub fn generate(u: &mut Unstructured<'_>) -> arbitrary::Result<Generated> {
    use jwt_auth_core::Algorithm;

    let signer = *pick(
        u,
        &[
            Signer::Hs256,
            Signer::Hs256,
            Signer::Hs256,
            Signer::Hs384,
            Signer::Hs512,
            Signer::OtherKey,
            Signer::Garbage,
        ],
    )?;

    // Header.
    let mut header = Map::new();
    for _ in 0..u.int_in_range(0..=2)? {
        header.insert(arbitrary_string(u)?, arbitrary_json(u, 2)?);
    }
    let alg = match u.int_in_range(0..=9)? {
        0..=5 => signer.alg_name().map(Value::from),
        6 => Some(Value::from(*pick(
            u,
            &[
                "none", "None", "hs256", "HS384", "HS512", "RS256", "ES256", "EdDSA",
            ],
        )?)),
        7 => Some(Value::String(arbitrary_string(u)?)),
        8 => Some(arbitrary_json(u, 1)?),
        _ => None,
    };
    if let Some(alg) = alg {
        header.insert("alg".into(), alg);
    }
    if let Some(typ) = maybe(u, |u| {
        Ok(match u.int_in_range(0..=7)? {
            0 | 1 => Value::from("JWT"),
            2 | 3 => Value::from(TYP),
            4 => Value::from("application/AT+JWT"),
            5 => Value::from(*pick(u, &["refresh+jwt", "application/refresh+JWT"])?),
            6 => Value::String(arbitrary_string(u)?),
            _ => arbitrary_json(u, 1)?,
        })
    })? {
        header.insert("typ".into(), typ);
    }
    if u.ratio(1, 2)? {
        let kid = match u.int_in_range(0..=4)? {
            0 | 1 => Value::from(KID),
            2 => Value::from("k2"),
            3 => Value::String(arbitrary_string(u)?),
            _ => arbitrary_json(u, 1)?,
        };
        header.insert("kid".into(), kid);
    }
    if u.ratio(1, 16)? {
        header.insert("crit".into(), serde_json::json!(["exp"]));
    }

    // Claims.
    let mut claims = Map::new();
    for _ in 0..u.int_in_range(0..=3)? {
        claims.insert(arbitrary_string(u)?, arbitrary_json(u, 3)?);
    }
    if let Some(exp) = maybe(u, arbitrary_date)? {
        claims.insert("exp".into(), exp);
    }
    if u.ratio(1, 3)? {
        claims.insert("nbf".into(), arbitrary_date(u)?);
    }
    if u.ratio(1, 3)? {
        claims.insert("iat".into(), arbitrary_date(u)?);
    }
    if let Some(iss) = maybe(u, |u| {
        Ok(match u.int_in_range(0..=3)? {
            0 | 1 => Value::from(ISS),
            2 => Value::String(arbitrary_string(u)?),
            _ => arbitrary_json(u, 1)?,
        })
    })? {
        claims.insert("iss".into(), iss);
    }
    if let Some(aud) = maybe(u, |u| {
        Ok(match u.int_in_range(0..=5)? {
            0 | 1 => Value::from(AUD),
            2 => serde_json::json!(["other", AUD]),
            3 => serde_json::json!(["other"]),
            4 => serde_json::json!([AUD, 7]),
            _ => arbitrary_json(u, 1)?,
        })
    })? {
        claims.insert("aud".into(), aud);
    }
    for name in ["sub", "jti"] {
        if u.ratio(1, 2)? {
            let value = if u.ratio(7, 8)? {
                Value::String(arbitrary_string(u)?)
            } else {
                arbitrary_json(u, 1)?
            };
            claims.insert(name.into(), value);
        }
    }

    let mut header_text = serde_json::to_string(&header).unwrap();
    let mut claims_text = serde_json::to_string(&claims).unwrap();

    // A duplicate member: `{"name":0,` spliced in front of the existing one.
    let mut duplicate = None;
    if u.ratio(1, 12)? {
        let (text, map, part) = if u.arbitrary()? {
            (&mut header_text, &header, Part::Header)
        } else {
            (&mut claims_text, &claims, Part::Claims)
        };
        let names: Vec<&String> = map.keys().collect();
        if !names.is_empty() {
            let name = *pick(u, &names)?;
            let spliced = format!(
                "{{{}:0,{}",
                serde_json::to_string(name).unwrap(),
                &text[1..]
            );
            *text = spliced;
            duplicate = Some(part);
        }
    }

    let mut token = match signer {
        Signer::Hs256 => forge_signed(&header_text, &claims_text, &hmac_signer(Algorithm::HS256)),
        Signer::Hs384 => forge_signed(&header_text, &claims_text, &hmac_signer(Algorithm::HS384)),
        Signer::Hs512 => forge_signed(&header_text, &claims_text, &hmac_signer(Algorithm::HS512)),
        Signer::OtherKey => forge_signed(
            &header_text,
            &claims_text,
            &Key::hmac(OTHER_SECRET).unwrap(),
        ),
        Signer::Garbage => {
            let n = u.int_in_range(0..=64)?;
            let sig = u.bytes(n)?;
            Ok(forge(&header_text, &claims_text, sig))
        }
    }
    .unwrap();

    let mut tamper = Tamper::None;
    if u.ratio(1, 6)? {
        let (input, signature) = token.rsplit_once('.').unwrap();
        if u.arbitrary()? {
            let mut sig = jwt_auth_core::test_util::b64url(b"");
            let decoded = decode_b64url(signature);
            if let Some(mut bytes) = decoded.filter(|b| !b.is_empty()) {
                let index = u.choose_index(bytes.len())?;
                let mask = u.int_in_range(1..=255)?;
                bytes[index] ^= mask;
                sig = b64url(&bytes);
                tamper = Tamper::SignatureByte { index, mask };
            }
            if tamper != Tamper::None {
                token = format!("{input}.{sig}");
            }
        } else {
            let positions: Vec<usize> = input
                .bytes()
                .enumerate()
                .filter(|&(_, b)| b != b'.')
                .map(|(i, _)| i)
                .collect();
            if !positions.is_empty() {
                let index = *pick(u, &positions)?;
                let old = input.as_bytes()[index];
                let with = *pick(u, B64URL)?;
                if with != old {
                    let mut bytes = token.into_bytes();
                    bytes[index] = with;
                    token = String::from_utf8(bytes).unwrap();
                    tamper = Tamper::SigningInputChar { index, with };
                }
            }
        }
    }

    // What the crate will read: the encoded texts parsed back.
    let header = serde_json::from_str(&header_text).unwrap_or_default();
    let claims_parsed = serde_json::from_str(&claims_text).unwrap_or_default();
    Ok(Generated {
        token,
        claims_text,
        header,
        claims: claims_parsed,
        signer,
        duplicate,
        tamper,
    })
}

/// Decodes strict base64url (no padding, zero trailing bits); `None` when invalid.
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in s.as_bytes() {
        let v = B64URL.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits can never be a valid tail; 2 or 4 must be zero.
    if bits == 6 || acc != 0 {
        return None;
    }
    Some(out)
}

impl Generated {
    /// Whether the header passes: `alg` is exactly the signer's and allowed,
    /// no `crit`, `kid` absent or ours, `typ` absent or a string that is not
    /// the refresh type.
    fn header_acceptable(&self) -> bool {
        let h = &self.header;
        let alg_ok = match (h.get("alg"), self.signer.alg_name()) {
            (Some(Value::String(alg)), Some(name)) => alg == name,
            _ => false,
        };
        let kid_ok = match h.get("kid") {
            None => true,
            Some(Value::String(kid)) => kid == KID,
            Some(_) => false,
        };
        let typ_ok = match h.get("typ") {
            None => true,
            Some(Value::String(typ)) => !media_type_eq(typ, "refresh+jwt"),
            Some(_) => false,
        };
        alg_ok && kid_ok && typ_ok && !h.contains_key("crit")
    }

    /// Whether [`lenient`] over [`hmac_keyset`] must accept the token.
    pub fn lenient_accepts(&self) -> bool {
        self.signer.trusted()
            && self.tamper == Tamper::None
            && self.duplicate.is_none()
            && self.header_acceptable()
            && claims_acceptable(&self.claims)
    }

    /// Whether [`strict`] over [`hmac_keyset`] must accept the token.
    pub fn strict_accepts(&self) -> bool {
        let typ_ok =
            matches!(self.header.get("typ"), Some(Value::String(t)) if media_type_eq(t, TYP));
        self.lenient_accepts() && typ_ok && issuer_audience_acceptable(&self.claims)
    }

    /// Whether `KeySet::verify_compact` (signature layer only) must accept it.
    pub fn signature_accepts(&self) -> bool {
        let h = &self.header;
        let alg_ok = matches!(
            (h.get("alg"), self.signer.alg_name()),
            (Some(Value::String(alg)), Some(name)) if alg == name
        );
        let kid_ok = match h.get("kid") {
            None => true,
            Some(Value::String(kid)) => kid == KID,
            Some(_) => false,
        };
        let typ_ok = matches!(h.get("typ"), None | Some(Value::String(_)));
        self.signer.trusted()
            && self.tamper == Tamper::None
            && self.duplicate != Some(Part::Header)
            && alg_ok
            && kid_ok
            && typ_ok
            && !h.contains_key("crit")
    }
}
