#!/usr/bin/env python3
"""Black-box interop and attack suite against both demo servers.

Starts the real `axum-demo` and `actix-demo` binaries for each key type
(HS256, RS256, ES256, ES384, EdDSA), sends tokens minted by PyJWT, jwcrypto and
authlib plus hand-forged attack tokens from SECURITY.md's catalogue, and checks
that both demos answer as expected and identically (status, WWW-Authenticate,
body). Only 127.0.0.1 is used.

Usage: interop.py [BIN_DIR]   (default: target/debug)
"""
import base64
import json
import os
import sys
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

import jwt as pyjwt
with warnings.catch_warnings():
    # authlib.jose announces its successor (joserfc) on import; it still works.
    warnings.simplefilter("ignore")
    from authlib.jose import jwt as authlib_jwt
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jc_jwk, jwt as jc_jwt

from demo_support import (KEYS, DemoProcess, Suite, b64, forge, make_claims, private_key,
                          read_key)

BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug")
ISSUER = "https://issuer.test"
AUDIENCE = "api"
SECRET = "interop-secret-0123456789abcdef-0123456789abcdef-0123456789abcdef"


class Demo(DemoProcess):
    force_rust_log = True

    def __init__(self, binary, env):
        super().__init__(BIN_DIR, binary, env)

    def get(self, path, headers=None):
        a = self.request("GET", path, headers)
        if a.error:
            raise ConnectionError(f"{self.binary} did not answer GET {path}: {a.error}")
        return a.status, a.www, a.body


def claims(**extra):
    return make_claims(ISSUER, AUDIENCE, **extra)


def library_tokens(alg, sign_key_pem, secret):
    """Valid tokens minted by three independent JOSE libraries."""
    c = claims()
    key = secret.encode() if secret else sign_key_pem
    out = {"PyJWT": (pyjwt.encode(c, key, algorithm=alg), c)}
    if secret:
        jk = jc_jwk.JWK(kty="oct", k=b64(secret))
    else:
        jk = jc_jwk.JWK.from_pem(sign_key_pem)
    t = jc_jwt.JWT(header={"alg": alg, "typ": "JWT"}, claims=c)
    t.make_signed_token(jk)
    out["jwcrypto"] = (t.serialize(), c)
    out["authlib"] = (authlib_jwt.encode({"alg": alg}, c, key).decode(), c)
    return out


CONFIGS = [
    # name, alg, env, signing key file (None = HMAC)
    ("HS256", "HS256", {"JWT_SECRET": SECRET}, None),
    ("RS256", "RS256", {"JWT_PUBLIC_KEY": os.path.join(KEYS, "rsa.pub.pem")}, "rsa.pem"),
    ("ES256", "ES256", {"JWT_PUBLIC_KEY": os.path.join(KEYS, "p256.pub.pem")}, "p256.pem"),
    ("ES384", "ES384", {"JWT_PUBLIC_KEY": os.path.join(KEYS, "p384.pub.pem")}, "p384.pem"),
    ("EdDSA", "EdDSA", {"JWT_PUBLIC_KEY": os.path.join(KEYS, "ed25519.pub.pem")}, "ed25519.pem"),
]


def attack_cases(alg, key, pub_file):
    """(catalogue row, description, token or raw Authorization value, expected status)."""
    c = claims()
    good = forge({"alg": alg, "typ": "JWT"}, c, alg, key)
    h, p, s = good.split(".")
    now = int(time.time())
    cases = [(None, "valid hand-made token", good, 200)]
    for none in ["none", "None", "NONE", "nOnE"]:
        cases.append((1, f"alg {none} without signature", forge({"alg": none}, c, signature=b""), 401))
        cases.append((1, f"alg {none} with signature", forge({"alg": none}, c, signature=b"sig"), 401))
    if pub_file:
        pem = read_key(pub_file)
        cases.append((2, "HS256 keyed with the public key PEM", forge({"alg": "HS256"}, c, "HS256", pem), 401))
        der = serialization.load_pem_public_key(pem).public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        cases.append((2, "HS256 keyed with the public key DER", forge({"alg": "HS256"}, c, "HS256", der), 401))
    if alg == "HS256":
        cases.append((3, "HS384 against an HS256 key", forge({"alg": "HS384"}, c, "HS384", key), 401))
    if alg == "RS256":
        cases.append((3, "PS256 against an RS256 key", forge({"alg": "PS256"}, c, "PS256", key), 401))
    if alg == "ES256":
        cases.append((3, "ES384 against a P-256 key", forge({"alg": "ES384"}, c, "ES384", private_key("p384.pem")), 401))
        cases.append((4, "ES256 r=0,s=0", forge({"alg": "ES256"}, c, signature=bytes(64)), 401))
        raw = base64.urlsafe_b64decode(s + "==")
        r, s_ = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
        cases.append((4, "ES256 DER signature", f"{h}.{p}.{b64(encode_dss_signature(r, s_))}", 401))
        n = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
        cases.append((4, "ES256 r=n", f"{h}.{p}.{b64(n.to_bytes(32, 'big') + raw[32:])}", 401))
    attacker = b"attacker-secret-attacker-secret-attacker-secret!!"
    cases.append((5, "jwk header with the attacker's key",
                  forge({"alg": "HS256", "jwk": {"kty": "oct", "k": b64(attacker)}}, c, "HS256", attacker), 401))
    cases.append((5, "jku header", forge({"alg": alg, "jku": "http://127.0.0.1:9/keys"}, c, "HS256", attacker), 401))
    cases.append((6, "kid path traversal", forge({"alg": "HS256", "kid": "../../../../dev/null"}, c, "HS256", b""), 401))
    cases.append((6, "kid SQL", forge({"alg": "HS256", "kid": "x' UNION SELECT 'k' --"}, c, "HS256", b"k"), 401))
    cases.append((8, "crit [exp]", forge({"alg": alg, "crit": ["exp"]}, c, alg, key), 401))
    cases.append((8, "crit []", forge({"alg": alg, "crit": []}, c, alg, key), 401))
    cases.append((9, "empty signature", f"{h}.{p}.", 401))
    cases.append((9, "no signature part", f"{h}.{p}", 401))
    cases.append((9, "four parts", f"{good}.{s}", 401))
    cases.append((9, "trailing dot", f"{good}.", 401))
    cases.append((10, "padding", f"{good}=", 401))
    cases.append((10, "standard alphabet", f"{h}.{p}.{s}+/", 401))
    cases.append((11, "token over 8 KiB", f"{h}.{'A' * 9000}.{s}", 401))
    deep = '{"sub":"a","exp":%d,"x":%s1%s}' % (now + 600, "[" * 3000, "]" * 3000)
    cases.append((12, "claims nested 3000 deep", forge({"alg": alg}, deep, alg, key), 401))
    dup = '{"sub":"a","iss":"%s","aud":"%s","exp":1,"exp":%d}' % (ISSUER, AUDIENCE, now + 600)
    cases.append((13, "exp twice", forge({"alg": alg}, dup, alg, key), 401))
    cases.append((13, "alg twice", forge('{"alg":"%s","alg":"none"}' % alg, c, alg, key), 401))
    for what, exp in [("missing", None), ("string", str(now + 600)), ("negative", -1), ("1e30", 1e30),
                      ("above u64", 18446744073709551616)]:
        cc = claims(exp=exp) if exp is not None else claims(exp=None)
        cases.append((14, f"exp {what}", forge({"alg": alg}, cc, alg, key), 401))
    cases.append((15, "exp with a fraction", forge({"alg": alg}, claims(exp=now + 600.5), alg, key), 200))
    cases.append((16, "expired beyond the leeway", forge({"alg": alg}, claims(exp=now - 70), alg, key), 401))
    cases.append((16, "expired within the leeway", forge({"alg": alg}, claims(exp=now - 50), alg, key), 200))
    cases.append((17, "nbf beyond the leeway", forge({"alg": alg}, claims(nbf=now + 70), alg, key), 401))
    cases.append((17, "nbf within the leeway", forge({"alg": alg}, claims(nbf=now + 50), alg, key), 200))
    cases.append((18, "iss wrong", forge({"alg": alg}, claims(iss="https://evil.test"), alg, key), 401))
    cases.append((18, "iss missing", forge({"alg": alg}, claims(iss=None), alg, key), 401))
    cases.append((19, "aud wrong", forge({"alg": alg}, claims(aud="web"), alg, key), 401))
    cases.append((19, "aud missing", forge({"alg": alg}, claims(aud=None), alg, key), 401))
    cases.append((19, "aud array without it", forge({"alg": alg}, claims(aud=["web", "app"]), alg, key), 401))
    cases.append((19, "aud array with it", forge({"alg": alg}, claims(aud=["web", AUDIENCE]), alg, key), 200))
    return cases


def main():
    suite = Suite(show_passes=False)   # one FAIL line per failure, then the counts
    report = suite.check

    for name, alg, env, key_file in CONFIGS:
        env = dict(env, JWT_ISSUER=ISSUER, JWT_AUDIENCE=AUDIENCE, JWT_LEEWAY="60")
        demos = [Demo("axum-demo", env), Demo("actix-demo", env)]
        try:
            if key_file:
                sign_pem = read_key(key_file)
                key = private_key(key_file)
                pub_file = key_file.replace(".pem", ".pub.pem")
            else:
                sign_pem, key, pub_file = None, SECRET.encode(), None

            def ask(auth_value, path="/me"):
                headers = {"Authorization": auth_value} if auth_value is not None else {}
                answers = [d.get(path, headers) for d in demos]
                return answers[0], answers[0] == answers[1], answers

            sent = []
            for lib, (token, c) in library_tokens(alg, sign_pem, SECRET if not key_file else None).items():
                sent.append(token)
                (status, _, body), same, answers = ask(f"Bearer {token}")
                ok = same and status == 200 and json.loads(body) == c
                report(ok, f"[{name}] {lib} token: {answers}")
                # Change the signature's first character: it always changes the
                # decoded bytes (replacing the last two with "AA" is a no-op for
                # the ~1 in 256 signatures that already end that way).
                head, sig = token.rsplit(".", 1)
                broken = f"{head}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"
                assert broken != token
                (status, challenge, _), same, answers = ask(f"Bearer {broken}")
                report(same and status == 401 and 'error="invalid_token"' in (challenge or ""),
                       f"[{name}] {lib} token with a broken signature: {answers}")
            for row, what, token, expected in attack_cases(alg, key, pub_file):
                (status, challenge, body), same, answers = ask(f"Bearer {token}")
                ok = same and status == expected
                if expected == 401:
                    ok = ok and 'error="invalid_token"' in (challenge or "") and "error_description" in body
                label = f"#{row} " if row else ""
                report(ok, f"[{name}] {label}{what}: expected {expected}, got {[a[0] for a in answers]} same={same}")
            for what, value, expected in [("no token", None, 401), ("Basic", "Basic YTpi", 401),
                                          ("Bearer alone", "Bearer", 400), ("space inside", "Bearer a b", 400)]:
                (status, challenge, _), same, answers = ask(value)
                report(same and status == expected, f"[{name}] {what}: {answers}")
            (status, _, body), same, answers = ask(None, "/optional")
            report(same and status == 200 and json.loads(body) == {"authenticated": False},
                   f"[{name}] /optional anonymous: {answers}")
            # GET /metrics (DEMO-CONTRACT): Prometheus text counting what was
            # just sent, and holding no token.
            for d in demos:
                status, _, text = d.get("/metrics")
                counted = {}
                for line in text.splitlines():
                    if line.startswith("jwt_auth_requests_total{"):
                        labels, _, value = line.rpartition(" ")
                        counted[labels] = float(value)
                refused = sum(v for k, v in counted.items() if 'outcome="refused"' in k)
                verified = sum(v for k, v in counted.items() if 'outcome="verified"' in k)
                clean = not any(part in text for t in sent for part in t.split(".") if len(part) >= 16)
                report(status == 200 and verified >= 3 and refused >= 3 and clean
                       and 'reason="invalid_signature"' in text,
                       f"[{name}] {d.binary} GET /metrics: status {status}, verified {verified}, "
                       f"refused {refused}, clean {clean}")
            # GET /openapi.json (DEMO-CONTRACT): the same document on both,
            # declaring the bearer JWT scheme and what each route needs.
            docs = [d.get("/openapi.json") for d in demos]
            doc = json.loads(docs[0][2]) if docs[0][0] == 200 else {}
            scheme = doc.get("components", {}).get("securitySchemes", {}).get("bearer_jwt", {})
            paths = doc.get("paths", {})
            report(docs[0] == docs[1] and doc.get("openapi", "").startswith("3.")
                   and scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                                  "description": scheme.get("description")}
                   and paths.get("/me", {}).get("get", {}).get("security") == [{"bearer_jwt": []}]
                   and paths.get("/admin", {}).get("get", {}).get("security") == [{"bearer_jwt": ["admin"]}]
                   and {} in paths.get("/optional", {}).get("get", {}).get("security", [])
                   and "security" not in paths.get("/health", {}).get("get", {}),
                   f"[{name}] GET /openapi.json declares the bearer JWT scheme: {scheme}")
        finally:
            for d in demos:
                d.stop()
    return suite.finish(f"interop: {len(CONFIGS)} key types x 2 demos")


if __name__ == "__main__":
    sys.exit(main())
