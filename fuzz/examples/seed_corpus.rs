//! Writes the seed corpus under `fuzz/corpus/<target>/`: valid and broken
//! tokens, key sets, header and cookie lines. Deterministic (fixed keys and
//! clock), so re-running it rewrites the same files.
//!
//! ```text
//! cargo +nightly run --manifest-path fuzz/Cargo.toml --example seed_corpus
//! ```
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::Path;

use jwt_auth_core::test_util::{b64url, forge, forge_signed};
use jwt_auth_core::{Algorithm, Key};
use jwt_auth_fuzz::{AUD, ISS, NOW, OTHER_SECRET, P256_PRIVATE_PEM, TYP, hmac_signer};
use serde_json::json;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

fn key(name: &str) -> Key {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/keys")
        .join(name);
    Key::from_pem(std::fs::read(path).unwrap()).unwrap()
}

fn main() {
    let hs = hmac_signer(Algorithm::HS256).with_kid("k1");
    let hs384 = hmac_signer(Algorithm::HS384);
    let ec = Key::from_pem(P256_PRIVATE_PEM).unwrap();
    let rsa = key("rsa.pem");

    let exp = NOW + 600;
    let basic = json!({"sub": "alice", "exp": exp}).to_string();
    let full = json!({
        "sub": "alice", "iss": ISS, "aud": [AUD, "other"], "exp": exp,
        "nbf": NOW - 10, "iat": NOW - 10, "jti": "id-1", "scope": "read write",
        "roles": ["admin"], "nested": {"a": [1, 2.5, null, true]}
    })
    .to_string();
    let hs_header = r#"{"alg":"HS256","typ":"JWT","kid":"k1"}"#;
    let strict_header = format!(r#"{{"alg":"HS256","typ":"{TYP}"}}"#);

    let valid = hs.encode(&json!({"sub": "alice", "exp": exp})).unwrap();
    let strict = forge_signed(&strict_header, &full, &hs).unwrap();
    let hs384_token = forge_signed(r#"{"alg":"HS384"}"#, &basic, &hs384).unwrap();
    let expired = forge_signed(hs_header, &json!({"exp": NOW - 61}).to_string(), &hs).unwrap();
    let refresh = forge_signed(r#"{"alg":"HS256","typ":"refresh+jwt"}"#, &basic, &hs).unwrap();
    let none = forge(r#"{"alg":"none"}"#, &basic, b"");
    let crit = forge_signed(r#"{"alg":"HS256","crit":["exp"]}"#, &basic, &hs).unwrap();
    let dup = forge_signed(hs_header, &format!(r#"{{"exp":1,{}"#, &basic[1..]), &hs).unwrap();
    let wrong_key = Key::hmac(OTHER_SECRET)
        .unwrap()
        .encode(&json!({"exp": exp}))
        .unwrap();
    let ec_token = ec.encode(&json!({"sub": "bob", "exp": exp})).unwrap();
    let rsa_token = rsa.encode(&json!({"sub": "carol", "exp": exp})).unwrap();

    // jws: mode '0' raw token, '1' header\0claims signed, '2' generator bytes.
    for (name, token) in [
        ("valid", &valid),
        ("strict", &strict),
        ("hs384", &hs384_token),
        ("expired", &expired),
        ("refresh", &refresh),
        ("alg-none", &none),
        ("crit", &crit),
        ("duplicate-claim", &dup),
        ("wrong-key", &wrong_key),
        ("es256", &ec_token),
    ] {
        write(
            "jws",
            &format!("raw-{name}"),
            format!("0{token}").as_bytes(),
        );
    }
    for (name, header, claims) in [
        ("basic", hs_header.to_owned(), basic.clone()),
        ("full", strict_header.clone(), full.clone()),
        (
            "deep",
            hs_header.to_owned(),
            format!(
                r#"{{"exp":{exp},"a":{}1{}}}"#,
                "[".repeat(17),
                "]".repeat(17)
            ),
        ),
        (
            "float-exp",
            hs_header.to_owned(),
            format!(r#"{{"exp":{exp}.5,"nbf":1e3}}"#),
        ),
        ("not-object", hs_header.to_owned(), "[1,2]".to_owned()),
    ] {
        write(
            "jws",
            &format!("signed-{name}"),
            format!("1{header}\0{claims}").as_bytes(),
        );
    }
    for i in 0u8..8 {
        let bytes: Vec<u8> = (0..256u32)
            .map(|j| (j as u8).wrapping_mul(31).wrapping_add(i * 17))
            .collect();
        let mut seed = vec![b'2'];
        seed.extend(bytes);
        write("jws", &format!("generated-{i}"), &seed);
    }

    // authenticate: '0' header lines, '1' HS256-signed, '2' ES256-signed.
    for (name, lines) in [
        ("bearer-hs", format!("Bearer {valid}")),
        ("bearer-es", format!("Bearer {ec_token}")),
        ("bearer-rs", format!("Bearer {rsa_token}")),
        ("cookie", format!("cookie:theme=dark; jwt={valid}")),
        (
            "basic-then-cookie",
            format!("Basic dXNlcjpwYXNz\ncookie:jwt=\"{valid}\""),
        ),
        ("two-bearers", format!("Bearer {valid}\nBearer {valid}")),
        ("bad-bearer", "Bearer  a.b.c".to_owned()),
        ("expired", format!("bearer {expired}")),
    ] {
        write(
            "authenticate",
            &format!("raw-{name}"),
            format!("0{lines}").as_bytes(),
        );
    }
    for (mode, name) in [("1", "hs"), ("2", "es")] {
        let header = if mode == "1" {
            hs_header
        } else {
            r#"{"alg":"ES256","typ":"JWT"}"#
        };
        write(
            "authenticate",
            &format!("signed-{name}"),
            format!("{mode}{header}\0{full}").as_bytes(),
        );
    }

    // extract: `tag:value` lines.
    for (name, text) in [
        ("bearer", format!("a:Bearer {valid}")),
        (
            "all-sources",
            "a:Basic dXNlcjpwYXNz\nc:theme=dark; jwt=c.c.c\nx:  h.h.h  \nq:a=1&access_token=q.q.q\nm:64".to_owned(),
        ),
        ("cookies", "c:jwt=\"quoted.tok.en\"; other=1\nc:jwt=second\nc:jwt=".to_owned()),
        ("two-authorization", "a:Bearer a.b.c\na:Bearer d.e.f".to_owned()),
        ("bearer-tab", "a:Bearer\ta.b.c\nx:a\nx:b".to_owned()),
        ("too-long", "a:bEaReR abcdefgh\nm:4".to_owned()),
        ("query", "q:access_token=&x=1&access_token=t.t.t".to_owned()),
        ("whitespace", "a:  Bearer a.b.c \nc: jwt = v ; jwt=w".to_owned()),
    ] {
        write("extract", name, text.as_bytes());
    }

    // jwk: key sets and single keys.
    let ed = key("ed25519.pub.pem").with_kid("ed");
    let p256 = key("p256.pub.pem").with_kid("p256");
    let p384 = key("p384.pub.pem").with_kid("p384");
    let rsa_pub = key("rsa.pub.pem").with_kid("rsa");
    let jwks: Vec<_> = [&ed, &p256, &p384, &rsa_pub]
        .iter()
        .map(|k| k.to_public_jwk().unwrap())
        .collect();
    let oct = json!({"kty": "oct", "k": b64url(&[7u8; 48]), "alg": "HS384", "kid": "hs"});
    write(
        "jwk",
        "set-public",
        json!({"keys": jwks}).to_string().as_bytes(),
    );
    write(
        "jwk",
        "set-oct",
        json!({"keys": [oct]}).to_string().as_bytes(),
    );
    write(
        "jwk",
        "set-mixed",
        json!({"keys": [oct, jwks[0]]}).to_string().as_bytes(),
    );
    write(
        "jwk",
        "set-duplicate-kid",
        json!({"keys": [jwks[1], jwks[1]]}).to_string().as_bytes(),
    );
    let mut enc = jwks[3].clone();
    enc["use"] = json!("enc");
    let mut narrowed = jwks[3].clone();
    narrowed["alg"] = json!("PS384");
    narrowed["key_ops"] = json!(["verify"]);
    write(
        "jwk",
        "set-use-enc",
        json!({"keys": [enc, narrowed]}).to_string().as_bytes(),
    );
    for (name, jwk) in [
        ("ed25519", &jwks[0]),
        ("p256", &jwks[1]),
        ("p384", &jwks[2]),
        ("rsa", &jwks[3]),
    ] {
        write("jwk", &format!("key-{name}"), jwk.to_string().as_bytes());
    }
    write("jwk", "key-oct", oct.to_string().as_bytes());
    let weak = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/keys/rsa1024.pub.jwk.json");
    write("jwk", "key-rsa1024", &std::fs::read(weak).unwrap());
    println!("seed corpus written under fuzz/corpus/");
}
