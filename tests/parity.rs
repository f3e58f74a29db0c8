//! One table of cases, run through the tower/axum adapter and the actix-web
//! adapter. Every case asserts the expected outcome, and that both adapters
//! answer with the same status, `WWW-Authenticate`, `Content-Type` and body.
//!
//! Cases named `#N` cover row N of the attack catalogue in SECURITY.md, and
//! the test fails if any of the 30 rows has no case. Rows that need state
//! around the request (a JWKS server that fails or hangs, a revoked session)
//! carry hooks that set it up and check what the requests did, such as how
//! many key fetches they caused. The whole run's `tracing` output is captured
//! and searched for every token sent and the secret.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stdout)]

use jwt_auth_core::test_util::{b64url, forge, forge_signed, hmac_sha256};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use futures_util::future::join_all;
use jwt_auth_core::{
    Algorithm, Authenticator, BoxFuture, Key, KeySet, RemoteJwks, TokenIssuer, TokenService,
    TokenSource,
};
use jwt_auth_tests::jwks_server::{JwksServer, Mode};
use jwt_auth_tests::{
    Capture, NOW, Reply, TestRequest, authenticator, fixture, pem_key, via_actix, via_axum,
};
use serde_json::{Value, json};

/// Rows in the attack catalogue of SECURITY.md; each must have a case.
const CATALOGUE_ROWS: u32 = 30;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    /// 200 with verified claims.
    Ok,
    /// 200 on the optional route, anonymous.
    Anonymous,
    /// 401 with a bare `Bearer` challenge (no `error`).
    Missing,
    /// 400 `invalid_request`.
    BadRequest,
    /// 401 `invalid_token`.
    Invalid,
    /// 500, no challenge: claims asked for without middleware.
    NotConfigured,
    /// 403 `insufficient_scope`: authenticated, but without the role.
    Forbidden,
}

/// A step run around a case: sets up state (a failing key endpoint, a
/// revoked session) or checks what the requests did (how many fetches).
type Hook = Box<dyn Fn() -> BoxFuture<'static, Result<(), String>>>;

struct Case {
    name: String,
    auth: Authenticator,
    /// Sent at once through each adapter (usually one).
    reqs: Vec<TestRequest>,
    expect: Expect,
    before: Option<Hook>,
    after: Option<Hook>,
}

impl Case {
    fn new(
        name: impl Into<String>,
        auth: &Authenticator,
        req: TestRequest,
        expect: Expect,
    ) -> Self {
        Self {
            name: name.into(),
            auth: auth.clone(),
            reqs: vec![req],
            expect,
            before: None,
            after: None,
        }
    }

    fn before<F>(mut self, hook: impl Fn() -> F + 'static) -> Self
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.before = Some(Box::new(move || Box::pin(hook())));
        self
    }

    fn after<F>(mut self, hook: impl Fn() -> F + 'static) -> Self
    where
        F: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        self.after = Some(Box::new(move || Box::pin(hook())));
        self
    }
}

fn hs_key() -> Key {
    Key::hmac(b"parity-secret-0123456789abcdef-0123456789abcdef-0123456789abcde").unwrap()
}

fn claims(extra: Value) -> String {
    let mut base = json!({"sub": "alice", "exp": NOW + 600});
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        for (k, v) in e {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    base.to_string()
}

fn signed(key: &Key, header: &str, claims: &str) -> String {
    forge_signed(header, claims, key).unwrap()
}

fn hs(claims_text: &str) -> String {
    signed(&hs_key(), r#"{"alg":"HS256","typ":"JWT"}"#, claims_text)
}

fn split(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    (
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
        it.next().unwrap().to_owned(),
    )
}

/// DER-encodes an ECDSA `r || s` signature.
fn der_signature(raw: &[u8]) -> Vec<u8> {
    let int = |bytes: &[u8]| {
        let mut v: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        if v.first().is_some_and(|&b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, auth: &Authenticator, req: TestRequest, expect: Expect| {
        cases.push(Case::new(name, auth, req, expect));
    };
    let me = || TestRequest::get("/me");
    let hs_auth = authenticator(hs_key());
    let good = hs(&claims(json!({})));

    // --- Responses (SECURITY.md "Responses") --------------------------------
    add(
        "valid HS256 token",
        &hs_auth,
        me().bearer(&good),
        Expect::Ok,
    );
    add("no token", &hs_auth, me(), Expect::Missing);
    add(
        "Basic scheme counts as no token",
        &hs_auth,
        me().header("authorization", "Basic YWxpY2U6cHc="),
        Expect::Missing,
    );
    add(
        "scheme is case-insensitive",
        &hs_auth,
        me().header("authorization", format!("bEARER {good}")),
        Expect::Ok,
    );
    add(
        "Bearer with no token",
        &hs_auth,
        me().header("authorization", "Bearer"),
        Expect::BadRequest,
    );
    add(
        "Bearer and a space, no token",
        &hs_auth,
        me().header("authorization", "Bearer "),
        Expect::BadRequest,
    );
    add(
        "space inside the token",
        &hs_auth,
        me().header(
            "authorization",
            format!("Bearer {} {}", &good[..10], &good[10..]),
        ),
        Expect::BadRequest,
    );
    add(
        "two Authorization headers",
        &hs_auth,
        me().bearer(&good).bearer(&good),
        Expect::BadRequest,
    );
    add(
        "realm in the challenge",
        &hs_auth.clone().realm("api"),
        me(),
        Expect::Missing,
    );
    add(
        "optional route, no token",
        &hs_auth,
        TestRequest::get("/optional"),
        Expect::Anonymous,
    );
    add(
        "optional route, valid token",
        &hs_auth,
        TestRequest::get("/optional").bearer(&good),
        Expect::Ok,
    );
    add(
        "optional route, invalid token",
        &hs_auth,
        TestRequest::get("/optional").bearer(&format!("{good}x")),
        Expect::Invalid,
    );
    add(
        "claims without middleware is a 500",
        &hs_auth,
        TestRequest::get("/bare").bearer(&good),
        Expect::NotConfigured,
    );

    // --- #1 alg none ------------------------------------------------------------
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        add(
            &format!("#1 alg {alg}, empty signature"),
            &hs_auth,
            me().bearer(&forge(&header, &claims(json!({})), b"")),
            Expect::Invalid,
        );
        add(
            &format!("#1 alg {alg}, with signature"),
            &hs_auth,
            me().bearer(&signed(&hs_key(), &header, &claims(json!({})))),
            Expect::Invalid,
        );
    }

    // --- #2 algorithm confusion: HS256 keyed with the public key ------------------
    let rsa_pub = authenticator(pem_key("rsa.pub.pem"));
    for (what, secret) in [
        ("PEM", fixture("rsa.pub.pem")),
        ("DER", fixture("rsa.pub.der")),
    ] {
        let input = format!(
            "{}.{}",
            b64url(br#"{"alg":"HS256","typ":"JWT"}"#),
            b64url(claims(json!({})).as_bytes())
        );
        let token = format!(
            "{input}.{}",
            b64url(&hmac_sha256(&secret, input.as_bytes()))
        );
        add(
            &format!("#2 HS256 with the RSA public key ({what}) as secret"),
            &rsa_pub,
            me().bearer(&token),
            Expect::Invalid,
        );
    }
    let ec_pub = authenticator(pem_key("p256.pub.pem"));
    {
        let input = format!(
            "{}.{}",
            b64url(br#"{"alg":"HS256"}"#),
            b64url(claims(json!({})).as_bytes())
        );
        let token = format!(
            "{input}.{}",
            b64url(&hmac_sha256(&fixture("p256.pub.pem"), input.as_bytes()))
        );
        add(
            "#2 HS256 with the EC public key (PEM) as secret",
            &ec_pub,
            me().bearer(&token),
            Expect::Invalid,
        );
    }

    // --- #3 right family, algorithm not allowed ------------------------------------
    let hs384 = hs_key().with_algorithms([Algorithm::HS384]).unwrap();
    add(
        "#3 HS384 against an HS256 key",
        &hs_auth,
        me().bearer(&signed(&hs384, r#"{"alg":"HS384"}"#, &claims(json!({})))),
        Expect::Invalid,
    );
    let rsa = pem_key("rsa.pem");
    let ps256 = rsa.clone().with_algorithms([Algorithm::PS256]).unwrap();
    let ps_token = signed(&ps256, r#"{"alg":"PS256"}"#, &claims(json!({})));
    add(
        "#3 PS256 against an RS256-only key",
        &rsa_pub,
        me().bearer(&ps_token),
        Expect::Invalid,
    );
    let p384 = pem_key("p384.pem");
    add(
        "#3 ES384 against a P-256 key",
        &ec_pub,
        me().bearer(&signed(&p384, r#"{"alg":"ES384"}"#, &claims(json!({})))),
        Expect::Invalid,
    );

    // --- #4 ECDSA signature shapes (CVE-2022-21449) -----------------------------------
    let p256 = pem_key("p256.pem");
    let es = signed(&p256, r#"{"alg":"ES256"}"#, &claims(json!({})));
    add("ES256 valid token", &ec_pub, me().bearer(&es), Expect::Ok);
    let (h, p, s) = split(&es);
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &s).unwrap();
    add(
        "#4 ES256 r=0, s=0",
        &ec_pub,
        me().bearer(&format!("{h}.{p}.{}", b64url(&[0u8; 64]))),
        Expect::Invalid,
    );
    add(
        "#4 ES256 DER-encoded signature",
        &ec_pub,
        me().bearer(&format!("{h}.{p}.{}", b64url(&der_signature(&raw)))),
        Expect::Invalid,
    );
    let n = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
    let r_is_n = [n.as_slice(), &raw[32..]].concat();
    add(
        "#4 ES256 r = n",
        &ec_pub,
        me().bearer(&format!("{h}.{p}.{}", b64url(&r_is_n))),
        Expect::Invalid,
    );
    let s_is_n = [&raw[..32], n.as_slice()].concat();
    add(
        "#4 ES256 s = n",
        &ec_pub,
        me().bearer(&format!("{h}.{p}.{}", b64url(&s_is_n))),
        Expect::Invalid,
    );

    // --- #5 embedded or remote keys named by the token ------------------------------
    let attacker = Key::hmac(b"attacker-secret-attacker-secret-!!").unwrap();
    let attacker_k = b64url(b"attacker-secret-attacker-secret-!!");
    for (what, header) in [
        ("jwk", format!(r#"{{"alg":"HS256","jwk":{{"kty":"oct","k":"{attacker_k}"}}}}"#)),
        ("jku", r#"{"alg":"HS256","jku":"http://127.0.0.1:9/jwks.json"}"#.to_owned()),
        ("x5u", r#"{"alg":"HS256","x5u":"http://127.0.0.1:9/cert.pem"}"#.to_owned()),
        ("x5c", r#"{"alg":"HS256","x5c":["MIIBkTCB+wIJAKHBfpegPjMCMA0GCSqGSIb3DQEBCwUAMBExDzANBgNVBAMMBnVudXNlZDAeFw0="]}"#.to_owned()),
    ] {
        add(&format!("#5 {what} header naming the attacker's key"), &hs_auth, me().bearer(&signed(&attacker, &header, &claims(json!({})))), Expect::Invalid);
    }

    // --- #6 kid is only a lookup key -----------------------------------------------------
    let kid_auth = authenticator(hs_key().with_kid("k1"));
    for (what, kid, secret) in [
        ("path traversal", "../../../../../../dev/null", &b""[..]),
        ("SQL", "x' UNION SELECT 'secret' --", &b"secret"[..]),
        ("shell", "$(touch /tmp/jwt-auth-pwned)|id", &b"pwned"[..]),
    ] {
        let header = json!({"alg": "HS256", "kid": kid}).to_string();
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(claims(json!({})).as_bytes())
        );
        let token = format!("{input}.{}", b64url(&hmac_sha256(secret, input.as_bytes())));
        add(
            &format!("#6 kid with {what}"),
            &kid_auth,
            me().bearer(&token),
            Expect::Invalid,
        );
    }
    let right_kid = signed(
        &hs_key(),
        r#"{"alg":"HS256","kid":"k1"}"#,
        &claims(json!({})),
    );
    add(
        "#6 the right kid",
        &kid_auth,
        me().bearer(&right_kid),
        Expect::Ok,
    );

    // --- #8 crit ---------------------------------------------------------------------------
    for (what, header) in [
        ("crit [exp]", r#"{"alg":"HS256","crit":["exp"]}"#),
        ("crit []", r#"{"alg":"HS256","crit":[]}"#),
        (
            "b64=false with crit",
            r#"{"alg":"HS256","b64":false,"crit":["b64"]}"#,
        ),
    ] {
        add(
            &format!("#8 {what}"),
            &hs_auth,
            me().bearer(&signed(&hs_key(), header, &claims(json!({})))),
            Expect::Invalid,
        );
    }

    // --- #9 structure ------------------------------------------------------------------------
    let (h, p, s) = split(&good);
    for (what, token) in [
        ("empty signature h.p.", format!("{h}.{p}.")),
        ("signature removed h.p", format!("{h}.{p}")),
        ("four parts", format!("{good}.{s}")),
        ("trailing dot", format!("{good}.")),
        ("one part", h.clone()),
    ] {
        add(
            &format!("#9 {what}"),
            &hs_auth,
            me().bearer(&token),
            Expect::Invalid,
        );
    }
    for spaces in [2, 3, 8] {
        add(
            &format!("#9 Bearer followed by {spaces} spaces (RFC 7235 1*SP)"),
            &hs_auth,
            me().header(
                "authorization",
                format!("Bearer{}{good}", " ".repeat(spaces)),
            ),
            Expect::Ok,
        );
    }
    add(
        "#9 leading tab before the token",
        &hs_auth,
        me().header("authorization", format!("Bearer \t{good}")),
        Expect::Invalid,
    );
    add(
        "#9 trailing whitespace",
        &hs_auth,
        me().header("authorization", format!("Bearer {good}\t")),
        Expect::Invalid,
    );

    // --- #10 base64 strictness ------------------------------------------------------------------
    add(
        "#10 padding",
        &hs_auth,
        me().bearer(&format!("{h}.{p}.{s}=")),
        Expect::Invalid,
    );
    add(
        "#10 '+' and '/'",
        &hs_auth,
        me().bearer(&format!(
            "{h}.{p}.{}",
            s.replace('-', "+").replace('_', "/") + "+/"
        )),
        Expect::Invalid,
    );
    {
        // Same bytes, but the unused low bits of the last character set.
        let last = s.chars().last().unwrap();
        const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let idx = ALPHABET.find(last).unwrap();
        let tweaked = ALPHABET.chars().nth(idx | 0b0011).unwrap();
        let token = format!("{h}.{p}.{}{tweaked}", &s[..s.len() - 1]);
        add(
            "#10 non-zero trailing bits",
            &hs_auth,
            me().bearer(&token),
            Expect::Invalid,
        );
    }

    // --- #11 size --------------------------------------------------------------------------------
    let huge = format!("{h}.{}.{s}", "A".repeat(9000));
    add(
        "#11 token over 8 KiB",
        &hs_auth,
        me().bearer(&huge),
        Expect::Invalid,
    );
    add(
        "#11 token of 64 KiB",
        &hs_auth,
        me().bearer(&"a".repeat(64 * 1024)),
        Expect::Invalid,
    );
    add(
        "#11 limit is configurable",
        &hs_auth.clone().max_token_len(64),
        me().bearer(&good),
        Expect::Invalid,
    );

    // --- #12 nesting ------------------------------------------------------------------------------
    let deep = format!(
        r#"{{"sub":"a","exp":{},"x":{}1{}}}"#,
        NOW + 600,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    add(
        "#12 claims nested 5000 deep",
        &hs_auth.clone().max_token_len(1 << 20),
        me().bearer(&hs(&deep)),
        Expect::Invalid,
    );
    let deep_header = format!(
        r#"{{"alg":"HS256","x":{}1{}}}"#,
        "[".repeat(3000),
        "]".repeat(3000)
    );
    add(
        "#12 header nested 3000 deep",
        &hs_auth.clone().max_token_len(1 << 20),
        me().bearer(&signed(&hs_key(), &deep_header, &claims(json!({})))),
        Expect::Invalid,
    );

    // --- #13 duplicate members -----------------------------------------------------------------------
    let dup = format!(r#"{{"sub":"a","exp":1,"exp":{}}}"#, NOW + 600);
    add(
        "#13 exp twice in claims",
        &hs_auth,
        me().bearer(&hs(&dup)),
        Expect::Invalid,
    );
    add(
        "#13 alg twice in header",
        &hs_auth,
        me().bearer(&signed(
            &hs_key(),
            r#"{"alg":"HS256","alg":"none"}"#,
            &claims(json!({})),
        )),
        Expect::Invalid,
    );

    // --- #14/#15 exp format --------------------------------------------------------------------------------
    add(
        "#14 exp missing",
        &hs_auth,
        me().bearer(&hs(r#"{"sub":"a"}"#)),
        Expect::Invalid,
    );
    for (what, exp) in [
        ("a string", r#""1900000000""#),
        ("negative", "-1"),
        ("1e30", "1e30"),
        ("above u64", "18446744073709551616"),
        ("null", "null"),
        ("bool", "true"),
    ] {
        add(
            &format!("#14 exp {what}"),
            &hs_auth,
            me().bearer(&hs(&format!(r#"{{"sub":"a","exp":{exp}}}"#))),
            Expect::Invalid,
        );
    }
    add(
        "#15 exp with a fraction",
        &hs_auth,
        me().bearer(&hs(&format!(r#"{{"sub":"a","exp":{}.5}}"#, NOW + 600))),
        Expect::Ok,
    );

    // --- #16/#17 time ----------------------------------------------------------------------------------------
    add(
        "#16 expired by leeway+1",
        &hs_auth,
        me().bearer(&hs(&claims(json!({"exp": NOW - 61})))),
        Expect::Invalid,
    );
    add(
        "#16 expired by leeway-1",
        &hs_auth,
        me().bearer(&hs(&claims(json!({"exp": NOW - 59})))),
        Expect::Ok,
    );
    add(
        "#17 nbf beyond the leeway",
        &hs_auth,
        me().bearer(&hs(&claims(json!({"nbf": NOW + 61})))),
        Expect::Invalid,
    );
    add(
        "#17 nbf within the leeway",
        &hs_auth,
        me().bearer(&hs(&claims(json!({"nbf": NOW + 59})))),
        Expect::Ok,
    );

    // --- #18 iss -----------------------------------------------------------------------------------------------
    let iss_auth = hs_auth.clone().issuer("https://issuer.test");
    add(
        "#18 iss wrong",
        &iss_auth,
        me().bearer(&hs(&claims(json!({"iss": "https://evil.test"})))),
        Expect::Invalid,
    );
    add(
        "#18 iss missing",
        &iss_auth,
        me().bearer(&good),
        Expect::Invalid,
    );
    add(
        "#18 iss right",
        &iss_auth,
        me().bearer(&hs(&claims(json!({"iss": "https://issuer.test"})))),
        Expect::Ok,
    );

    // --- #19 aud -------------------------------------------------------------------------------------------------
    let aud_auth = hs_auth.clone().audience("api");
    add(
        "#19 aud wrong",
        &aud_auth,
        me().bearer(&hs(&claims(json!({"aud": "web"})))),
        Expect::Invalid,
    );
    add(
        "#19 aud missing",
        &aud_auth,
        me().bearer(&good),
        Expect::Invalid,
    );
    add(
        "#19 aud array without it",
        &aud_auth,
        me().bearer(&hs(&claims(json!({"aud": ["web", "app"]})))),
        Expect::Invalid,
    );
    add(
        "#19 aud array with it",
        &aud_auth,
        me().bearer(&hs(&claims(json!({"aud": ["web", "api"]})))),
        Expect::Ok,
    );
    add(
        "#19 aud string",
        &aud_auth,
        me().bearer(&hs(&claims(json!({"aud": "api"})))),
        Expect::Ok,
    );

    // --- key types and formats --------------------------------------------------------------------------------------
    add(
        "RS256 with the SPKI public key",
        &rsa_pub,
        me().bearer(&signed(&rsa, r#"{"alg":"RS256"}"#, &claims(json!({})))),
        Expect::Ok,
    );
    add(
        "RS256 with the PKCS#1 public key",
        &authenticator(pem_key("rsa.pkcs1.pub.pem")),
        me().bearer(&signed(&rsa, r#"{"alg":"RS256"}"#, &claims(json!({})))),
        Expect::Ok,
    );
    add(
        "RS256 with the certificate",
        &authenticator(pem_key("rsa.cert.pem")),
        me().bearer(&signed(&rsa, r#"{"alg":"RS256"}"#, &claims(json!({})))),
        Expect::Ok,
    );
    let widened = authenticator(
        pem_key("rsa.pub.pem")
            .with_algorithms([Algorithm::RS256, Algorithm::PS256])
            .unwrap(),
    );
    add(
        "PS256 once widened",
        &widened,
        me().bearer(&ps_token),
        Expect::Ok,
    );
    add(
        "ES384",
        &authenticator(pem_key("p384.pub.pem")),
        me().bearer(&signed(&p384, r#"{"alg":"ES384"}"#, &claims(json!({})))),
        Expect::Ok,
    );
    let ed = pem_key("ed25519.pem");
    add(
        "EdDSA",
        &authenticator(pem_key("ed25519.pub.pem")),
        me().bearer(&signed(&ed, r#"{"alg":"EdDSA"}"#, &claims(json!({})))),
        Expect::Ok,
    );
    add(
        "RS256 signed by another key",
        &rsa_pub,
        me().bearer(&signed(&p256, r#"{"alg":"RS256"}"#, &claims(json!({})))),
        Expect::Invalid,
    );

    // --- typ ---------------------------------------------------------------------------------------------------------------
    let typ_auth = hs_auth.clone().typ("at+jwt");
    add(
        "typ at+jwt required and present",
        &typ_auth,
        me().bearer(
            &hs_key()
                .encode_with_typ(&json!({"sub":"a","exp":NOW+600}), "at+jwt")
                .unwrap(),
        ),
        Expect::Ok,
    );
    add(
        "typ at+jwt required, JWT given",
        &typ_auth,
        me().bearer(&good),
        Expect::Invalid,
    );

    // --- #25 aud with no audience configured ---------------------------------------------------
    for aud in [json!("other-api"), json!(["other-api", "more"]), json!([])] {
        add(
            &format!("#25 aud {aud} refused when no audience is configured"),
            &hs_auth,
            me().bearer(&hs(&claims(json!({"aud": aud})))),
            Expect::Invalid,
        );
    }
    add(
        "#25 explicit opt-out: any aud accepted",
        &hs_auth.clone().accept_any_audience(),
        me().bearer(&hs(&claims(json!({"aud": "other-api"})))),
        Expect::Ok,
    );
    add(
        "#25 the opt-out never weakens a configured audience",
        &hs_auth.clone().audience("orders-api").accept_any_audience(),
        me().bearer(&hs(&claims(json!({"aud": "other-api"})))),
        Expect::Invalid,
    );

    // --- #26 lists split on U+0020 only --------------------------------------------------------
    let admin = || TestRequest::get("/admin");
    for (what, roles) in [
        ("no-break space", "user\u{a0}admin"),
        ("em space", "user\u{2003}admin"),
        ("ideographic space", "user\u{3000}admin"),
        ("tab", "user\tadmin"),
        ("newline", "user\nadmin"),
    ] {
        add(
            &format!("#26 roles separated by a {what}: no role admin"),
            &hs_auth,
            admin().bearer(&hs(&claims(json!({"roles": roles})))),
            Expect::Forbidden,
        );
    }
    add(
        "#26 roles separated by U+0020 spaces",
        &hs_auth,
        admin().bearer(&hs(&claims(json!({"roles": "user  admin"})))),
        Expect::Ok,
    );
    add(
        "#26 roles as an array",
        &hs_auth,
        admin().bearer(&hs(&claims(json!({"roles": ["user", "admin"]})))),
        Expect::Ok,
    );

    // --- #27 x5c that holds another key ---------------------------------------------------------
    let x5c = |cert: &str| {
        use base64::Engine as _;
        let pem = pem::parse(fixture(cert)).unwrap();
        base64::engine::general_purpose::STANDARD.encode(pem.contents())
    };
    let rsa_signer = pem_key("rsa.pem");
    let mut mismatched = jwk(&rsa_signer);
    mismatched["kid"] = "mismatched".into();
    mismatched["x5c"] = json!([x5c("rsa-other.cert.pem")]);
    let mut matching = jwk(&rsa_signer);
    matching["kid"] = "matching".into();
    matching["x5c"] = json!([x5c("rsa.cert.pem")]);
    let set = KeySet::from_jwks(&json!({"keys": [mismatched, matching]}).to_string()).unwrap();
    let x5c_auth = authenticator_from(set);
    let rs_with_kid = |kid: &str| {
        signed(
            &rsa_signer,
            &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
            &claims(json!({})),
        )
    };
    add(
        "#27 JWK whose x5c certificate holds another key: refused",
        &x5c_auth,
        me().bearer(&rs_with_kid("mismatched")),
        Expect::Invalid,
    );
    add(
        "#27 JWK whose x5c certificate holds its own key: used",
        &x5c_auth,
        me().bearer(&rs_with_kid("matching")),
        Expect::Ok,
    );

    // --- #30 duration settings that would overflow ------------------------------------------------
    let huge_leeway = hs_auth.clone().leeway(std::time::Duration::MAX);
    add(
        "#30 leeway Duration::MAX (clamped): a valid token, verified and cached",
        &huge_leeway,
        me().bearer(&good),
        Expect::Ok,
    );
    add(
        "#30 leeway Duration::MAX is clamped to one hour: expired 30 min ago is accepted",
        &huge_leeway,
        me().bearer(&hs(&claims(json!({"exp": NOW - 1800})))),
        Expect::Ok,
    );
    add(
        "#30 leeway Duration::MAX is clamped to one hour: expired 2 h ago is refused",
        &huge_leeway,
        me().bearer(&hs(&claims(json!({"exp": NOW - 7200})))),
        Expect::Invalid,
    );
    add(
        "#30 leeway u64::MAX seconds",
        &hs_auth
            .clone()
            .leeway(std::time::Duration::from_secs(u64::MAX)),
        me().bearer(&hs(&claims(json!({"exp": 253_402_300_799u64})))),
        Expect::Ok,
    );
    let long_lived = TokenIssuer::new(hs_key())
        .unwrap()
        .access_ttl(std::time::Duration::MAX)
        .refresh_ttl(std::time::Duration::from_secs(u64::MAX))
        .clock(|| UNIX_EPOCH + std::time::Duration::from_secs(NOW));
    add(
        "#30 token lifetimes near u64::MAX are clamped to 10 years",
        &long_lived
            .authenticator()
            .clock(|| UNIX_EPOCH + std::time::Duration::from_secs(NOW)),
        me().bearer(
            long_lived
                .access_token("alice", json!({}))
                .unwrap()
                .as_str(),
        ),
        Expect::Ok,
    );

    // --- typed claims, optional claims, no middleware (the same on both) ---------------------
    let typed = || TestRequest::get("/typed");
    let typed_optional = || TestRequest::get("/typed-optional");
    let fits = hs(&claims(json!({"roles": ["user"]})));
    add(
        "typed claims: a token that fits",
        &hs_auth,
        typed().bearer(&fits),
        Expect::Ok,
    );
    add(
        "typed claims: a validly signed token of the wrong shape",
        &hs_auth,
        typed().bearer(&good),
        Expect::Invalid,
    );
    add("typed claims: no token", &hs_auth, typed(), Expect::Missing);
    add(
        "typed optional claims: a token that fits",
        &hs_auth,
        typed_optional().bearer(&fits),
        Expect::Ok,
    );
    add(
        "typed optional claims: a validly signed token of the wrong shape",
        &hs_auth,
        typed_optional().bearer(&good),
        Expect::Invalid,
    );
    add(
        "typed optional claims: no token",
        &hs_auth,
        typed_optional(),
        Expect::Anonymous,
    );
    for (what, req) in [
        ("no token", TestRequest::get("/bare-optional")),
        (
            "a valid token",
            TestRequest::get("/bare-optional").bearer(&good),
        ),
    ] {
        add(
            &format!("optional claims without the middleware, {what}: 500"),
            &hs_auth,
            req,
            Expect::NotConfigured,
        );
    }

    // --- token sources ---------------------------------------------------------------------------------------------------
    let cookie_auth = hs_auth.clone().token_source(TokenSource::cookie("jwt"));
    add(
        "token from a cookie",
        &cookie_auth,
        me().header("cookie", format!("theme=dark; jwt={good}")),
        Expect::Ok,
    );
    add(
        "header wins over cookie",
        &cookie_auth,
        me().bearer(&good).header("cookie", "jwt=garbage"),
        Expect::Ok,
    );
    add(
        "header decides even when the cookie is valid",
        &cookie_auth,
        me().bearer("garbage")
            .header("cookie", format!("jwt={good}")),
        Expect::Invalid,
    );
    add(
        "cookie source off by default",
        &hs_auth,
        me().header("cookie", format!("jwt={good}")),
        Expect::Missing,
    );
    add(
        "query source off by default",
        &hs_auth,
        TestRequest::get(format!("/me?access_token={good}")),
        Expect::Missing,
    );
    let query_auth = hs_auth
        .clone()
        .token_source(TokenSource::query("access_token"));
    add(
        "query source when enabled",
        &query_auth,
        TestRequest::get(format!("/me?access_token={good}")),
        Expect::Ok,
    );

    cases
}

/// A public JWK of `key`.
fn jwk(key: &Key) -> Value {
    key.to_public_jwk().unwrap()
}

/// Remote keys from `server`, with slow retries so only the test triggers
/// fetches, and `cooldown` between unknown-`kid` refreshes.
fn remote(server: &JwksServer, cooldown: std::time::Duration) -> RemoteJwks {
    RemoteJwks::builder(server.url())
        .unknown_kid_cooldown(cooldown)
        .timeout(std::time::Duration::from_secs(2))
        .retry_backoff(
            std::time::Duration::from_secs(3600),
            std::time::Duration::from_secs(3600),
        )
        .build()
        .unwrap()
}

/// Fails unless `server` has answered exactly `n` fetches.
fn fetched(
    server: &Arc<JwksServer>,
    n: usize,
) -> impl Fn() -> std::future::Ready<Result<(), String>> + use<> {
    let server = Arc::clone(server);
    move || {
        let got = server.received();
        std::future::ready(if got == n {
            Ok(())
        } else {
            Err(format!("{got} JWKS fetches, expected {n}"))
        })
    }
}

/// `case` after `break_endpoint` and a refresh that must fail; afterwards
/// the keys must still be ready, with the failure on record.
fn failed_refresh<F>(
    case: Case,
    keys: &RemoteJwks,
    break_endpoint: impl Fn() -> F + 'static,
) -> Case
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (refresh_keys, status_keys) = (keys.clone(), keys.clone());
    case.before(move || {
        let (broken, keys) = (break_endpoint(), refresh_keys.clone());
        async move {
            broken.await;
            match keys.refresh().await {
                Err(_) => Ok(()),
                Ok(()) => Err("the refresh should have failed".into()),
            }
        }
    })
    .after(move || {
        let status = status_keys.status();
        std::future::ready(if status.ready && status.last_error.is_some() {
            Ok(())
        } else {
            Err(format!("status after the failed refresh: {status:?}"))
        })
    })
}

/// Catalogue rows that need state around the request: remote key sets (7,
/// 22, 23, 24) and the token lifecycle (20, 21). Cases run in order; the
/// servers must outlive them.
async fn stateful_cases() -> (Vec<Case>, Vec<Arc<JwksServer>>) {
    use std::time::Duration;
    let mut cases = Vec::new();
    let me = || TestRequest::get("/me");
    let rsa = |kid: &str| pem_key("rsa.pem").with_kid(kid);
    let p256 = |kid: &str| pem_key("p256.pem").with_kid(kid);
    let on_clock = |keys: &RemoteJwks| {
        Authenticator::new(keys.clone()).clock(|| UNIX_EPOCH + Duration::from_secs(NOW))
    };
    let good = signed(
        &rsa("r1"),
        r#"{"alg":"RS256","kid":"r1"}"#,
        &claims(json!({})),
    );
    let with_kid = |kid: &str| {
        signed(
            &rsa(kid),
            &format!(r#"{{"alg":"RS256","kid":"{kid}"}}"#),
            &claims(json!({})),
        )
    };

    // --- #7 unknown kid from a JWKS: one rate-limited refresh ---------------------
    let server = Arc::new(JwksServer::start(vec![jwk(&rsa("r1"))]).await);
    let keys = remote(&server, Duration::from_secs(3600));
    assert!(keys.ready().await, "the JWKS server answers");
    let auth = on_clock(&keys);
    cases.push(
        Case::new(
            "#7 known kid from a JWKS",
            &auth,
            me().bearer(&good),
            Expect::Ok,
        )
        .after(fetched(&server, 1)),
    );
    cases.push(
        Case::new(
            "#7 unknown kid: 401 after one refresh",
            &auth,
            me().bearer(&with_kid("stranger-1")),
            Expect::Invalid,
        )
        .after(fetched(&server, 2)),
    );
    cases.push(
        Case::new(
            "#7 another unknown kid within the cooldown: no fetch",
            &auth,
            me().bearer(&with_kid("stranger-2")),
            Expect::Invalid,
        )
        .after(fetched(&server, 2)),
    );
    let mut servers = vec![server];

    // --- #24 a flood of random kids ------------------------------------------------------
    let server = Arc::new(JwksServer::start(vec![jwk(&rsa("r1"))]).await);
    let keys = remote(&server, Duration::from_secs(3600));
    assert!(keys.ready().await, "the JWKS server answers");
    let auth = on_clock(&keys);
    let mut flood = Case::new(
        "#24 a flood of 100 random kids: one fetch",
        &auth,
        me(),
        Expect::Invalid,
    )
    .after(fetched(&server, 2));
    flood.reqs = (0..100)
        .map(|i| me().bearer(&with_kid(&format!("flood-{i}-{:x}", rand_u64()))))
        .collect();
    cases.push(flood);
    cases.push(
        Case::new(
            "#24 the known kid still works after the flood",
            &auth,
            me().bearer(&good),
            Expect::Ok,
        )
        .after(fetched(&server, 2)),
    );
    servers.push(server);

    // --- #23 the endpoint fails after keys were loaded --------------------------------------
    let server = Arc::new(JwksServer::start(vec![jwk(&rsa("r1"))]).await);
    let keys = remote(&server, Duration::from_secs(3600));
    assert!(keys.ready().await, "the JWKS server answers");
    let auth = on_clock(&keys);
    for (what, mode) in [
        ("answers 500", Mode::Status500),
        ("answers garbage JSON", Mode::Garbage),
    ] {
        let server = Arc::clone(&server);
        let case = Case::new(
            format!("#23 the JWKS endpoint {what}: cached keys keep working"),
            &auth,
            me().bearer(&good),
            Expect::Ok,
        );
        cases.push(failed_refresh(case, &keys, move || {
            server.set_mode(mode);
            std::future::ready(())
        }));
    }
    // A hanging endpoint: the refresh is held at the server while requests run.
    let pending: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<bool>>>> = Arc::default();
    {
        let (server_b, server_a, keys, pending_b, pending_a) = (
            Arc::clone(&server),
            Arc::clone(&server),
            keys.clone(),
            Arc::clone(&pending),
            Arc::clone(&pending),
        );
        cases.push(
            Case::new(
                "#23 the JWKS endpoint hangs: no request waits on the refresh",
                &auth,
                me().bearer(&good),
                Expect::Ok,
            )
            .before(move || {
                let (server, keys, pending) =
                    (Arc::clone(&server_b), keys.clone(), Arc::clone(&pending_b));
                async move {
                    server.set_mode(Mode::Gate);
                    let seen = server.received();
                    let refresh = tokio::spawn(async move { keys.refresh().await.is_ok() });
                    *pending.lock().unwrap() = Some(refresh);
                    server.wait_received(seen + 1).await;
                    Ok(())
                }
            })
            .after(move || {
                let (server, pending) = (Arc::clone(&server_a), Arc::clone(&pending_a));
                async move {
                    let refresh = pending.lock().unwrap().take().ok_or("no refresh")?;
                    // Every request was answered while the fetch was held.
                    if refresh.is_finished() {
                        return Err("the refresh ended before the gate opened".into());
                    }
                    server.release();
                    match refresh.await {
                        Ok(true) => Ok(()),
                        other => Err(format!("the held refresh failed: {other:?}")),
                    }
                }
            }),
        );
    }
    {
        let server = Arc::clone(&server);
        let case = Case::new(
            "#23 the JWKS endpoint is unreachable: cached keys keep working",
            &auth,
            me().bearer(&good),
            Expect::Ok,
        );
        cases.push(failed_refresh(case, &keys, move || {
            let server = Arc::clone(&server);
            async move { server.stop().await }
        }));
    }
    servers.push(server);

    // --- #22 weak or mismatched keys in a set -------------------------------------------------
    let mut enc = jwk(&rsa("enc"));
    enc["use"] = "enc".into();
    let mut ops = jwk(&rsa("ops"));
    ops["key_ops"] = json!(["encrypt"]);
    let mut crv = jwk(&p256("crv"));
    crv["crv"] = "P-384".into();
    // Key refuses 1024-bit RSA, so this JWK (kid "weak") comes from a fixture.
    let weak: Value = serde_json::from_slice(&fixture("rsa1024.pub.jwk.json")).unwrap();
    let oct_secret = b"remote-oct-secret-remote-oct-secret!";
    let oct = json!({"kty": "oct", "kid": "oct", "k": b64url(oct_secret)});
    let server = Arc::new(JwksServer::start(vec![jwk(&rsa("r1")), enc, ops, crv, weak, oct]).await);
    let keys = remote(&server, Duration::from_secs(3600));
    assert!(keys.ready().await, "the JWKS server answers");
    assert_eq!(keys.status().keys, 1, "only the sound key is loaded");
    let auth = on_clock(&keys);
    let es = |kid: &str| {
        signed(
            &p256(kid),
            &format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#),
            &claims(json!({})),
        )
    };
    let hs_with = |secret: &[u8], kid: &str| {
        let input = format!(
            "{}.{}",
            b64url(format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#).as_bytes()),
            b64url(claims(json!({})).as_bytes())
        );
        format!("{input}.{}", b64url(&hmac_sha256(secret, input.as_bytes())))
    };
    for (what, token) in [
        (
            "RSA key under 2048 bits",
            String::from_utf8(fixture("rsa1024.token"))
                .unwrap()
                .trim()
                .to_owned(),
        ),
        ("use: enc", with_kid("enc")),
        ("key_ops without verify", with_kid("ops")),
        ("crv that does not match the coordinates", es("crv")),
        (
            "symmetric key inside a remote JWKS",
            hs_with(oct_secret, "oct"),
        ),
    ] {
        cases.push(Case::new(
            format!("#22 remote set: {what} is refused"),
            &auth,
            me().bearer(&token),
            Expect::Invalid,
        ));
    }
    cases.push(Case::new(
        "#22 remote set: the sound key still works",
        &auth,
        me().bearer(&good),
        Expect::Ok,
    ));
    servers.push(server);
    // A local JWKS file may hold HMAC secrets, but not short ones.
    let short = b"sixteen-byte-key";
    let long = b"a-local-hmac-secret-of-forty-bytes-long!";
    let local = json!({"keys": [
        {"kty": "oct", "kid": "short", "alg": "HS256", "k": b64url(short)},
        {"kty": "oct", "kid": "long", "alg": "HS256", "k": b64url(long)},
    ]});
    let (set, refused) = KeySet::from_jwks_with_refusals(&local.to_string()).unwrap();
    assert_eq!(refused.len(), 1, "the short secret is refused");
    let auth = authenticator_from(set);
    cases.push(Case::new(
        "#22 JWKS file: HMAC key shorter than the hash is refused",
        &auth,
        me().bearer(&hs_with(short, "short")),
        Expect::Invalid,
    ));
    cases.push(Case::new(
        "#22 JWKS file: the rest of the set still works",
        &auth,
        me().bearer(&hs_with(long, "long")),
        Expect::Ok,
    ));

    // An Ed25519 key of small order: one fixed signature (R of small order,
    // S = 0) would verify anything. It is refused; the real key still works.
    let ed = pem_key("ed25519.pem").with_kid("ed");
    let mut ed_jwk = jwk(&ed);
    ed_jwk["kid"] = "ed".into();
    let identity = json!({"kty": "OKP", "crv": "Ed25519", "kid": "weak-ed", "x": b64url(&{
        let mut x = [0u8; 32];
        x[0] = 1;
        x
    })});
    let (set, refused) =
        KeySet::from_jwks_with_refusals(&json!({"keys": [ed_jwk, identity]}).to_string()).unwrap();
    assert_eq!(refused.len(), 1, "the small-order key is refused");
    let auth = authenticator_from(set);
    let mut psychic = [0u8; 64];
    psychic[0] = 1; // R = the identity point, S = 0
    cases.push(Case::new(
        "#22 JWKS file: Ed25519 key of small order is refused",
        &auth,
        me().bearer(&forge(
            r#"{"alg":"EdDSA","kid":"weak-ed"}"#,
            &claims(json!({})),
            &psychic,
        )),
        Expect::Invalid,
    ));
    cases.push(Case::new(
        "#22 JWKS file: the sound Ed25519 key still works",
        &auth,
        me().bearer(&signed(
            &ed,
            r#"{"alg":"EdDSA","kid":"ed"}"#,
            &claims(json!({})),
        )),
        Expect::Ok,
    ));

    // --- #20 token types ------------------------------------------------------------------------
    let issuer = TokenIssuer::new(hs_key())
        .unwrap()
        .issuer("https://auth.test")
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    let service = Arc::new(TokenService::new(issuer));
    let auth = service
        .authenticator()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    let pair = service.login("alice", json!({})).await.unwrap();
    cases.push(Case::new(
        "#20 an access token is accepted",
        &auth,
        me().bearer(pair.access.as_str()),
        Expect::Ok,
    ));
    {
        let (service, access) = (Arc::clone(&service), pair.access.as_str().to_owned());
        cases.push(
            Case::new(
                "#20 a refresh token presented as an access token",
                &auth,
                me().bearer(pair.refresh.as_str()),
                Expect::Invalid,
            )
            // ...and vice versa: the refresh endpoint's verifier.
            .after(move || {
                let (service, access) = (Arc::clone(&service), access.clone());
                async move {
                    match service.refresh(&access).await {
                        Err(e) if e.kind() == jwt_auth_core::AuthErrorKind::InvalidType => Ok(()),
                        Err(e) => Err(format!(
                            "an access token refused for refresh with {}",
                            e.kind()
                        )),
                        Ok(_) => Err("an access token was accepted as a refresh token".into()),
                    }
                }
            }),
        );
    }

    // --- #21 revoked tokens -----------------------------------------------------------------------
    let logged_out = service.login("bob", json!({})).await.unwrap();
    service
        .logout(&auth.verify(logged_out.access.as_str()).unwrap())
        .await
        .unwrap();
    cases.push(Case::new(
        "#21 jti on the deny list (logged out)",
        &auth,
        me().bearer(logged_out.access.as_str()),
        Expect::Invalid,
    ));
    let stolen = service.login("carol", json!({})).await.unwrap();
    let next = service.refresh(stolen.refresh.as_str()).await.unwrap();
    assert!(
        service.refresh(stolen.refresh.as_str()).await.is_err(),
        "a replayed refresh token revokes the family"
    );
    cases.push(Case::new(
        "#21 refresh family revoked (replayed refresh token)",
        &auth,
        me().bearer(next.access.as_str()),
        Expect::Invalid,
    ));
    let other = service.login("dave", json!({})).await.unwrap();
    cases.push(Case::new(
        "#21 other sessions are untouched",
        &auth,
        me().bearer(other.access.as_str()),
        Expect::Ok,
    ));

    // --- #28 a JWKS URL that redirects ---------------------------------------------------------
    // The attacker's keys sit behind `http://[::ffff:127.0.0.1]:PORT`: the
    // same loopback server, but not a loopback host to the URL policy, so it
    // stands for plain http to another host.
    let attacker = Arc::new(JwksServer::start(vec![jwk(&p256("r1"))]).await);
    let server = Arc::new(JwksServer::start(vec![jwk(&rsa("r1"))]).await);
    let keys = remote(&server, Duration::from_secs(3600));
    assert!(keys.ready().await, "the JWKS server answers");
    let auth = on_clock(&keys);
    let forged = signed(
        &p256("r1"),
        r#"{"alg":"ES256","kid":"r1"}"#,
        &claims(json!({})),
    );
    let to_attacker = attacker.url().replace("127.0.0.1", "[::ffff:127.0.0.1]");
    let redirected = |location: String| {
        let (server, keys) = (Arc::clone(&server), keys.clone());
        move || {
            let (server, keys, location) = (Arc::clone(&server), keys.clone(), location.clone());
            async move {
                server.set_redirect(Some((302, &location)));
                match keys.refresh().await {
                    Err(e) if e.to_string().contains("redirect") => Ok(()),
                    other => Err(format!("the redirect was not refused: {other:?}")),
                }
            }
        }
    };
    for (what, location) in [
        ("to plain http on another host", to_attacker.clone()),
        ("to another scheme", "ftp://127.0.0.1/jwks.json".to_owned()),
        ("more than five times", format!("{}/hop/5", server.base)),
    ] {
        cases.push(
            Case::new(
                format!("#28 a redirect {what}: refused, the old keys stay"),
                &auth,
                me().bearer(&good),
                Expect::Ok,
            )
            .before(redirected(location)),
        );
    }
    {
        let attacker_hits = Arc::clone(&attacker);
        cases.push(
            Case::new(
                "#28 the attacker's keys behind the redirect are never used",
                &auth,
                me().bearer(&forged),
                Expect::Invalid,
            )
            .before(redirected(to_attacker))
            .after(move || {
                let got = attacker_hits.received();
                std::future::ready(if got == 0 {
                    Ok(())
                } else {
                    Err(format!("the attacker's server was asked {got} times"))
                })
            }),
        );
    }
    servers.push(server);
    servers.push(attacker);

    // --- #29 revocations outlive a refresh TTL shorter than the access TTL --------------------------
    let recorder = Recording::default();
    let issuer = TokenIssuer::new(hs_key())
        .unwrap()
        .access_ttl(Duration::from_secs(120))
        .refresh_ttl(Duration::from_secs(2))
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    let service = Arc::new(TokenService::with_store(issuer, recorder.clone()));
    let auth = service
        .authenticator()
        .clock(|| UNIX_EPOCH + Duration::from_secs(NOW));
    let logged_out = service.login("erin", json!({})).await.unwrap();
    service
        .logout(&auth.verify(logged_out.access.as_str()).unwrap())
        .await
        .unwrap();
    let stolen = service.login("frank", json!({})).await.unwrap();
    let next = service.refresh(stolen.refresh.as_str()).await.unwrap();
    assert!(service.refresh(stolen.refresh.as_str()).await.is_err());
    // The last token a revocation covers expires 120 s from now; an
    // authenticator may accept it up to its leeway (60 s) longer.
    let lasts_long_enough = || {
        let recorder = recorder.clone();
        move || {
            let short: Vec<String> = recorder
                .ttls()
                .into_iter()
                .filter(|(_, ttl)| *ttl < Duration::from_secs(120 + 60))
                .map(|(what, ttl)| format!("{what} for {ttl:?}"))
                .collect();
            std::future::ready(if short.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "revocations that expire before their tokens: {short:?}"
                ))
            })
        }
    };
    cases.push(
        Case::new(
            "#29 logged out, refresh TTL 2 s < access TTL 120 s",
            &auth,
            me().bearer(logged_out.access.as_str()),
            Expect::Invalid,
        )
        .after(lasts_long_enough()),
    );
    cases.push(
        Case::new(
            "#29 family revoked by reuse, refresh TTL 2 s < access TTL 120 s",
            &auth,
            me().bearer(next.access.as_str()),
            Expect::Invalid,
        )
        .after(lasts_long_enough()),
    );

    (cases, servers)
}

/// A [`MemoryStore`] that also records the TTL of every revocation.
#[derive(Clone, Default)]
struct Recording {
    store: jwt_auth_core::MemoryStore,
    ttls: Arc<std::sync::Mutex<Vec<(&'static str, std::time::Duration)>>>,
}

impl Recording {
    fn ttls(&self) -> Vec<(&'static str, std::time::Duration)> {
        self.ttls.lock().unwrap().clone()
    }
}

impl jwt_auth_core::RevocationStore for Recording {
    fn is_revoked<'a>(
        &'a self,
        jti: Option<&'a str>,
        family: Option<&'a str>,
    ) -> BoxFuture<'a, Result<bool, jwt_auth_core::StoreError>> {
        self.store.is_revoked(jti, family)
    }
    fn revoke_token<'a>(
        &'a self,
        jti: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), jwt_auth_core::StoreError>> {
        self.ttls.lock().unwrap().push(("token", ttl));
        self.store.revoke_token(jti, ttl)
    }
    fn revoke_family<'a>(
        &'a self,
        family: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), jwt_auth_core::StoreError>> {
        self.ttls.lock().unwrap().push(("family", ttl));
        self.store.revoke_family(family, ttl)
    }
    fn start_family<'a>(
        &'a self,
        family: &'a str,
        jti: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<(), jwt_auth_core::StoreError>> {
        self.store.start_family(family, jti, ttl)
    }
    fn rotate<'a>(
        &'a self,
        family: &'a str,
        presented: &'a str,
        next: &'a str,
        ttl: std::time::Duration,
    ) -> BoxFuture<'a, Result<jwt_auth_core::Rotation, jwt_auth_core::StoreError>> {
        self.store.rotate(family, presented, next, ttl)
    }
}

fn authenticator_from(set: KeySet) -> Authenticator {
    Authenticator::new(set).clock(|| UNIX_EPOCH + std::time::Duration::from_secs(NOW))
}

/// A random number (for kids no one has seen).
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(NOW);
    h.finish()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn check(case: &Case, reply: &Reply) -> Result<(), String> {
    let (status, error) = match case.expect {
        Expect::Ok | Expect::Anonymous => (200, None),
        Expect::Missing => (401, None),
        Expect::BadRequest => (400, Some("invalid_request")),
        Expect::Invalid => (401, Some("invalid_token")),
        Expect::NotConfigured => (500, None),
        Expect::Forbidden => (403, Some("insufficient_scope")),
    };
    if reply.status != status {
        return Err(format!("status {} (expected {status})", reply.status));
    }
    if reply.challenge_error() != error {
        return Err(format!("challenge {:?}", reply.www_authenticate));
    }
    match case.expect {
        Expect::Missing => {
            let c = reply.www_authenticate.as_deref().unwrap_or("");
            if !(c == "Bearer" || c.starts_with("Bearer realm=")) {
                return Err(format!("challenge {c:?}"));
            }
        }
        Expect::NotConfigured if reply.www_authenticate.is_some() => {
            return Err("a 500 must not carry a challenge".into());
        }
        _ => {}
    }
    let body: Value = serde_json::from_str(&reply.body)
        .map_err(|_| format!("body is not JSON: {}", reply.body))?;
    match case.expect {
        Expect::Ok if body["authenticated"] != true => Err(format!("body {body}")),
        Expect::Anonymous if body["authenticated"] != false => Err(format!("body {body}")),
        Expect::Ok | Expect::Anonymous => Ok(()),
        _ if body["error"].is_string() && body["error_description"].is_string() => Ok(()),
        _ => Err(format!("error body {body}")),
    }
}

/// The token-like part of every header a case sends.
fn sent_tokens(case: &Case) -> Vec<String> {
    case.reqs
        .iter()
        .flat_map(|r| r.headers.iter())
        .flat_map(|(_, v)| {
            v.split([' ', ';', '='])
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|t| t.len() >= 24 && t.contains('.'))
        .collect()
}

#[actix_web::test]
async fn both_adapters_answer_every_case_alike() {
    let mut cases = cases();
    let (stateful, _servers) = stateful_cases().await;
    cases.extend(stateful);
    assert!(cases.len() >= 40, "the table must hold at least 40 cases");
    // Capture every log line written while the whole table runs.
    let (capture, guard) = Capture::everything();
    let mut failures = Vec::new();
    for case in &cases {
        if let Some(before) = &case.before
            && let Err(why) = before().await
        {
            failures.push(format!("{}: set-up failed: {why}", case.name));
            continue;
        }
        let axum = join_all(case.reqs.iter().map(|r| via_axum(&case.auth, r))).await;
        let actix = join_all(case.reqs.iter().map(|r| via_actix(&case.auth, r))).await;
        for (axum, actix) in axum.iter().zip(&actix) {
            if axum != actix {
                failures.push(format!(
                    "{}: adapters differ\n  axum:  {axum:?}\n  actix: {actix:?}",
                    case.name
                ));
            } else if let Err(why) = check(case, axum) {
                failures.push(format!("{}: {why}", case.name));
            }
        }
        if let Some(after) = &case.after
            && let Err(why) = after().await
        {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    drop(guard);
    let logs = capture.text();
    assert!(
        logs.contains("request refused"),
        "refusals are logged (capture works)"
    );
    assert!(
        logs.contains("without the JwtAuth middleware"),
        "misconfiguration is logged"
    );
    for case in &cases {
        for token in sent_tokens(case) {
            assert!(
                !logs.contains(&token),
                "{}: a token reached the logs",
                case.name
            );
            for part in token.split('.').filter(|p| p.len() >= 16) {
                assert!(
                    !logs.contains(part),
                    "{}: part of a token reached the logs",
                    case.name
                );
            }
        }
        let debug = format!("{:?}", case.auth);
        assert!(
            !debug.contains("parity-secret"),
            "{}: Debug shows the secret",
            case.name
        );
    }
    assert!(
        !logs.contains("parity-secret"),
        "the secret reached the logs"
    );
    let rows: std::collections::BTreeSet<u32> = cases
        .iter()
        .filter_map(|c| c.name.strip_prefix('#')?.split(' ').next()?.parse().ok())
        .collect();
    let requests: usize = cases.iter().map(|c| c.reqs.len()).sum();
    println!(
        "parity: {} cases ({requests} requests) through axum and actix-web; catalogue rows covered: {}",
        cases.len(),
        rows.iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    );
    let missing: Vec<u32> = (1..=CATALOGUE_ROWS).filter(|r| !rows.contains(r)).collect();
    assert!(
        missing.is_empty(),
        "catalogue rows with no case: {missing:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[actix_web::test]
async fn a_realm_is_carried_in_every_challenge() {
    let auth = authenticator(hs_key()).realm("orders");
    let reply = via_axum(&auth, &TestRequest::get("/me").bearer("a.b.c")).await;
    assert_eq!(
        reply,
        via_actix(&auth, &TestRequest::get("/me").bearer("a.b.c")).await
    );
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(
            r#"Bearer realm="orders", error="invalid_token", error_description="the token is malformed""#
        )
    );
}

#[actix_web::test]
async fn a_custom_responder_replaces_the_answer_on_both() {
    let auth = authenticator(hs_key()).error_responder(|e| {
        let mut r = e.response(None);
        r.body = format!("{{\"denied\":\"{}\"}}", e.kind());
        r
    });
    let req = TestRequest::get("/me");
    let reply = via_axum(&auth, &req).await;
    assert_eq!(reply, via_actix(&auth, &req).await);
    assert_eq!(reply.body, r#"{"denied":"missing_token"}"#);
}

/// The realm and a custom responder are two independent settings: neither
/// drops the other, whatever the order they are set in (a builder-order bug
/// made the later call win), and the closure's argument type is inferred.
#[actix_web::test]
async fn realm_and_custom_responder_in_either_order() {
    let custom = |e: &jwt_auth_core::AuthError| {
        let mut r = e.response(Some("custom"));
        r.body = format!("{{\"denied\":\"{}\"}}", e.kind());
        r
    };
    let orders = [
        authenticator(hs_key())
            .realm("orders")
            .error_responder(custom),
        authenticator(hs_key())
            .error_responder(custom)
            .realm("orders"),
    ];
    for auth in orders {
        let req = TestRequest::get("/me");
        let reply = via_axum(&auth, &req).await;
        assert_eq!(reply, via_actix(&auth, &req).await);
        assert_eq!(reply.body, r#"{"denied":"missing_token"}"#, "{auth:?}");
        assert_eq!(
            reply.www_authenticate.as_deref(),
            Some(r#"Bearer realm="custom""#)
        );
    }
    // A custom responder answers alone; without one, the realm is in the challenge.
    let auth = authenticator(hs_key())
        .error_responder(|e| e.response(None))
        .realm("orders");
    let reply = via_axum(&auth, &TestRequest::get("/me")).await;
    assert_eq!(reply.www_authenticate.as_deref(), Some("Bearer"));
    let auth = authenticator(hs_key()).realm("orders");
    let reply = via_actix(&auth, &TestRequest::get("/me")).await;
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(r#"Bearer realm="orders""#)
    );
}

/// RFC 9728: with a protected resource described, every challenge the
/// middleware sends, 401 and 403, carries `resource_metadata` (the
/// path-inserted URL built from the resource identifier, never from `Host`),
/// a custom responder's too; tokens must name the resource in `aud` unless
/// audiences are configured; without a resource there is no such parameter.
#[actix_web::test]
async fn a_protected_resource_is_named_in_every_challenge() {
    use jwt_auth_core::ProtectedResource;

    let resource = ProtectedResource::new("https://api.example.com/mcp")
        .unwrap()
        .authorization_server("https://auth.example.com");
    let metadata =
        r#"resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#;
    let auth = authenticator(hs_key()).protected_resource(resource.clone());
    let exp = json!({"exp": jwt_auth_tests::NOW + 600});
    let token = |aud: Value, roles: Value| {
        let mut claims = exp.clone();
        claims["aud"] = aud;
        claims["roles"] = roles;
        hs(&claims.to_string())
    };
    let ours = token(json!("https://api.example.com/mcp"), json!(["user"]));
    let admin = token(
        json!(["other", "https://api.example.com/mcp"]),
        json!(["admin"]),
    );
    let foreign = token(json!("https://other.example.com/"), json!(["admin"]));
    let cases = [
        // (request, status, challenge)
        (TestRequest::get("/me"), 401, format!("Bearer {metadata}")),
        (
            TestRequest::get("/me").bearer("a.b.c"),
            401,
            format!(
                r#"Bearer error="invalid_token", error_description="the token is malformed", {metadata}"#
            ),
        ),
        (
            TestRequest::get("/me").bearer(&foreign),
            401,
            format!(
                r#"Bearer error="invalid_token", error_description="the token audience is not accepted", {metadata}"#
            ),
        ),
        // A `Host` that tries to change the advertised URL changes nothing.
        (
            TestRequest::get("/admin")
                .bearer(&ours)
                .header("host", "evil.example"),
            403,
            String::new(),
        ),
    ];
    for (req, status, challenge) in cases {
        let reply = via_axum(&auth, &req).await;
        assert_eq!(reply, via_actix(&auth, &req).await, "{req:?}");
        assert_eq!(reply.status, status, "{req:?}: {reply:?}");
        let got = reply.www_authenticate.unwrap_or_default();
        if challenge.is_empty() {
            assert!(got.contains("insufficient_scope"), "{got}");
            assert!(got.ends_with(metadata), "{got}");
        } else {
            assert_eq!(got, challenge, "{req:?}");
        }
    }
    for ok in [&ours, &admin] {
        let req = TestRequest::get("/me").bearer(ok);
        let reply = via_axum(&auth, &req).await;
        assert_eq!(reply, via_actix(&auth, &req).await);
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    assert_eq!(
        via_axum(&auth, &TestRequest::get("/admin").bearer(&admin))
            .await
            .status,
        200
    );

    // A gRPC refusal (trailers-only) carries it as metadata text.
    let grpc = TestRequest::get("/me").header("content-type", "application/grpc");
    let reply = via_axum(&auth, &grpc).await;
    assert_eq!(reply, via_actix(&auth, &grpc).await);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(format!("Bearer {metadata}").as_str())
    );

    // Configured audiences win over the resource.
    let configured = authenticator(hs_key())
        .protected_resource(resource.clone())
        .audience("https://other.example.com/");
    let reply = via_axum(&configured, &TestRequest::get("/me").bearer(&foreign)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let reply = via_actix(&configured, &TestRequest::get("/me").bearer(&ours)).await;
    assert_eq!(reply.status, 401, "{reply:?}");

    // A custom responder's challenge gets the parameter too.
    let custom = authenticator(hs_key())
        .error_responder(|e| e.response(Some("api")))
        .protected_resource(resource);
    let reply = via_axum(&custom, &TestRequest::get("/me")).await;
    assert_eq!(reply, via_actix(&custom, &TestRequest::get("/me")).await);
    assert_eq!(
        reply.www_authenticate.as_deref(),
        Some(format!(r#"Bearer realm="api", {metadata}"#).as_str())
    );

    // Without a resource, no challenge carries the parameter.
    let plain = authenticator(hs_key());
    for req in [
        TestRequest::get("/me"),
        TestRequest::get("/admin").bearer(&ours),
    ] {
        let reply = via_actix(&plain, &req).await;
        let got = reply.www_authenticate.unwrap_or_default();
        assert!(!got.contains("resource_metadata"), "{got}");
    }
}

/// What a request for the metadata document got: status, the headers that
/// matter, the body.
#[derive(Debug, PartialEq)]
struct Served {
    status: u16,
    content_type: Option<String>,
    cache_control: Option<String>,
    challenge: Option<String>,
    body: String,
}

/// The metadata routes through axum: `mounted` merges the ready route next
/// to a `route_layer`ed API; otherwise the whole app sits behind
/// `Router::layer` with no route for the document at all.
async fn metadata_via_axum(
    auth: &Authenticator,
    mounted: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Served {
    use axum::Router;
    use axum::routing::any;
    use jwt_auth_tower::{JwtAuth, resource_metadata};
    use tower::ServiceExt;

    let api = Router::new().route("/mcp", any(|| async { "tools" }));
    let app = match (mounted, auth.resource()) {
        (true, Some(resource)) => api
            .route_layer(JwtAuth::new(auth.clone()))
            .merge(resource_metadata(resource)),
        _ => api.layer(JwtAuth::new(auth.clone())),
    };
    let mut request = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .oneshot(request.body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let (status, content_type, cache_control, challenge) = (
        response.status().as_u16(),
        header("content-type"),
        header("cache-control"),
        header("www-authenticate"),
    );
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    Served {
        status,
        content_type,
        cache_control,
        challenge,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// The same through actix-web: `mounted` configures the ready route next to
/// a scope the middleware wraps; otherwise `App::wrap` covers everything.
async fn metadata_via_actix(
    auth: &Authenticator,
    mounted: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Served {
    use actix_web::{App, HttpResponse, test as actix_test, web};
    use jwt_auth_actix::{JwtAuth, resource_metadata};

    let tools = || async { HttpResponse::Ok().body("tools") };
    let mut request = actix_test::TestRequest::default()
        .method(actix_web::http::Method::from_bytes(method.as_bytes()).unwrap())
        .uri(path);
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let response = match (mounted, auth.resource()) {
        (true, Some(resource)) => {
            let app = actix_test::init_service(
                App::new().configure(resource_metadata(resource)).service(
                    web::scope("")
                        .wrap(JwtAuth::new(auth.clone()))
                        .route("/mcp", web::to(tools)),
                ),
            )
            .await;
            actix_test::call_service(&app, request.to_request())
                .await
                .map_into_boxed_body()
        }
        _ => {
            let app = actix_test::init_service(
                App::new()
                    .wrap(JwtAuth::new(auth.clone()))
                    .route("/mcp", web::to(tools)),
            )
            .await;
            actix_test::call_service(&app, request.to_request())
                .await
                .map_into_boxed_body()
        }
    };
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let (status, content_type, cache_control, challenge) = (
        response.status().as_u16(),
        header("content-type"),
        header("cache-control"),
        header("www-authenticate"),
    );
    let body = actix_test::read_body(response).await;
    Served {
        status,
        content_type,
        cache_control,
        challenge,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

#[tokio::test]
async fn the_metadata_document_is_served_alike_without_a_token() {
    use jwt_auth_core::ProtectedResource;

    let resource = ProtectedResource::new("https://api.example.com/mcp")
        .unwrap()
        .authorization_server("https://auth.example.com")
        .scope("mcp");
    let auth = authenticator(hs_key()).protected_resource(resource.clone());
    let expected = json!({
        "resource": "https://api.example.com/mcp",
        "authorization_servers": ["https://auth.example.com"],
        "scopes_supported": ["mcp"],
        "bearer_methods_supported": ["header"],
    });
    let challenge = r#"Bearer resource_metadata="https://api.example.com/.well-known/oauth-protected-resource/mcp""#;
    let own = "/.well-known/oauth-protected-resource/mcp";
    let root = "/.well-known/oauth-protected-resource";
    // (method, path, headers, status, the document?)
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u16, bool);
    let cases: [Case<'_>; 9] = [
        ("GET", own, &[], 200, true),
        ("GET", root, &[], 200, true),
        // The document does not follow Host or forwarding headers, and a
        // token, even a broken one, is not looked at.
        (
            "GET",
            own,
            &[
                ("host", "evil.example"),
                ("x-forwarded-host", "evil.example"),
                ("x-forwarded-proto", "http"),
                ("authorization", "Bearer not.a.token"),
            ],
            200,
            true,
        ),
        ("GET", &format!("{own}?x=1"), &[], 200, true),
        ("HEAD", own, &[], 200, false),
        // Neither another path nor another method is the document.
        (
            "GET",
            "/.well-known/oauth-protected-resource/other",
            &[],
            401,
            false,
        ),
        (
            "GET",
            "/.well-known/oauth-protected-resource/mcp/",
            &[],
            401,
            false,
        ),
        ("GET", "/mcp", &[], 401, false),
        ("POST", root, &[], 401, false),
    ];
    for mounted in [false, true] {
        for (method, path, headers, status, document) in &cases {
            let axum = metadata_via_axum(&auth, mounted, method, path, headers).await;
            let actix = metadata_via_actix(&auth, mounted, method, path, headers).await;
            let case = format!("{method} {path} {headers:?} (ready route: {mounted})");
            // Beside the ready route, what else answers depends on how the
            // app is composed (axum's route_layer: 404 or 405; an actix
            // scope around everything: the middleware's 401), but never the
            // document.
            if mounted && *status == 401 && path.starts_with("/.well-known") {
                for served in [&axum, &actix] {
                    assert!(
                        matches!(served.status, 401 | 404 | 405),
                        "{case}: {served:?}"
                    );
                    assert!(!served.body.contains("authorization_servers"), "{case}");
                }
                continue;
            }
            assert_eq!(axum, actix, "{case}");
            assert_eq!(axum.status, *status, "{case}: {axum:?}");
            if *status == 200 {
                assert_eq!(axum.content_type.as_deref(), Some("application/json"));
                assert_eq!(
                    axum.cache_control.as_deref(),
                    Some("public, max-age=3600"),
                    "{case}"
                );
                assert_eq!(axum.challenge, None, "{case}");
                if *document {
                    let body: Value = serde_json::from_str(&axum.body).unwrap();
                    assert_eq!(body, expected, "{case}");
                } else {
                    assert_eq!(axum.body, "", "{case}");
                }
            } else {
                assert_eq!(axum.challenge.as_deref(), Some(challenge), "{case}");
            }
        }
    }

    // Without the root alias, and for a resource without a path.
    let no_root = authenticator(hs_key()).protected_resource(resource.also_at_root(false));
    let reply = metadata_via_actix(&no_root, false, "GET", root, &[]).await;
    assert_eq!(reply.status, 401, "{reply:?}");
    let bare = authenticator(hs_key())
        .protected_resource(ProtectedResource::new("https://api.example.com/").unwrap());
    let reply = metadata_via_axum(&bare, false, "GET", root, &[]).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply,
        metadata_via_actix(&bare, false, "GET", root, &[]).await
    );

    // Without a resource the well-known path is just another protected path.
    let plain = authenticator(hs_key());
    let reply = metadata_via_axum(&plain, false, "GET", own, &[]).await;
    assert_eq!(
        reply,
        metadata_via_actix(&plain, false, "GET", own, &[]).await
    );
    assert_eq!(
        (reply.status, reply.challenge.as_deref()),
        (401, Some("Bearer"))
    );
}

#[tokio::test]
async fn cookie_tokens_are_defended_against_cross_site_requests() {
    use jwt_auth_core::CsrfPolicy;

    let exp = jwt_auth_tests::NOW + 600;
    let token = hs(&json!({"sub": "alice", "exp": exp}).to_string());
    let cookie = format!("access_token={token}");
    let auth = authenticator(hs_key())
        .token_source(TokenSource::cookie("access_token"))
        .csrf(CsrfPolicy::new().allowed_origin("https://app.example.com"));
    let with_cookie = |method| {
        TestRequest::get("/me")
            .method(method)
            .header("cookie", cookie.clone())
    };
    // (request, allowed?)
    let cases = [
        (with_cookie("POST"), true),
        (
            with_cookie("POST").header("sec-fetch-site", "same-origin"),
            true,
        ),
        (with_cookie("PUT").header("sec-fetch-site", "none"), true),
        (
            with_cookie("POST").header("sec-fetch-site", "same-site"),
            false,
        ),
        (
            with_cookie("PATCH").header("sec-fetch-site", "cross-site"),
            false,
        ),
        (
            with_cookie("DELETE").header("origin", "https://evil.example"),
            false,
        ),
        (with_cookie("POST").header("origin", "null"), false),
        // The allow list takes precedence.
        (
            with_cookie("POST")
                .header("origin", "https://app.example.com")
                .header("sec-fetch-site", "cross-site"),
            true,
        ),
        // Safe methods are not checked.
        (
            with_cookie("GET").header("sec-fetch-site", "cross-site"),
            true,
        ),
        (
            with_cookie("OPTIONS").header("sec-fetch-site", "cross-site"),
            true,
        ),
        // A header token cannot be sent by another site.
        (
            TestRequest::get("/me")
                .method("POST")
                .bearer(&token)
                .header("cookie", cookie.clone())
                .header("sec-fetch-site", "cross-site"),
            true,
        ),
    ];
    for (req, allowed) in &cases {
        let reply = via_axum(&auth, req).await;
        assert_eq!(reply, via_actix(&auth, req).await, "{req:?}");
        if *allowed {
            assert_eq!(reply.status, 200, "{req:?}: {reply:?}");
        } else {
            assert_eq!(reply.status, 403, "{req:?}: {reply:?}");
            assert_eq!(reply.www_authenticate, None, "no challenge: {reply:?}");
            assert_eq!(reply.content_type.as_deref(), Some("application/json"));
            let body: Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(
                body,
                json!({"error": "forbidden", "error_description": "cross-site request refused"})
            );
            assert!(!reply.body.contains(&token));
        }
    }

    // A request with neither header can be refused too; the check can be
    // turned off.
    let strict = auth.clone().csrf(CsrfPolicy::new().refuse_unmarked(true));
    let reply = via_actix(&strict, &with_cookie("POST")).await;
    assert_eq!(reply, via_axum(&strict, &with_cookie("POST")).await);
    assert_eq!(reply.status, 403, "{reply:?}");
    let off = auth.clone().csrf(CsrfPolicy::disabled());
    let forged = with_cookie("POST").header("sec-fetch-site", "cross-site");
    assert_eq!(via_axum(&off, &forged).await.status, 200);
    assert_eq!(via_actix(&off, &forged).await.status, 200);
}
