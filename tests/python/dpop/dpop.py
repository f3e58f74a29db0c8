#!/usr/bin/env python3
"""DPoP (RFC 9449) on axum-demo and actix-demo, black box: proofs made here, then proofs and
tokens that nobody here wrote.

Usage:
    dpop.py [BIN_DIR] [--only A1,A5,B] [--demos axum-demo,actix-demo]

BIN_DIR (default target/debug) holds axum-demo and actix-demo (cargo build -p axum-demo -p
actix-demo). Everything runs on 127.0.0.1, on free ports. Follows DEMO-CONTRACT.md, "DPoP
(RFC 9449)". Prints one PASS/FAIL/SKIP line per check and a final "N passed, N failed" line;
exits 1 on any failure. Needs Python's `cryptography` and `jwcrypto` (tests/python/
requirements.txt); A5 needs `redis-server`, B needs `node` (each SKIPPED when missing, or
FAILED when CI=true).

Part A: HS256 access tokens minted here with JWT_SECRET (iss JWT_ISSUER), bound with
cnf.jkt = the RFC 7638 thumbprint of a client key made here (P-256 unless said), and proofs
signed here (header typ dpop+jwt, alg, jwk; claims jti, htm, htu, iat, ath). Every scenario
runs on each demo and the two demos' answers (status, WWW-Authenticate, JSON body, whether a
DPoP-Nonce header came; ports written <port>) are compared.
  A1 JWT_DPOP=allowed: no token → 401 `Bearer, DPoP algs="..."`; a good proof → 200 with the
     claims (cnf.jkt included); iat 30 s old or ahead, the scheme written `dpop`, a query on
     the request, and proofs by ES384, EdDSA, PS256 and RS256 keys (jwk without `alg`, as
     clients send it) → 200; every defect → 401 `Bearer, DPoP error="invalid_dpop_proof"`
     (error_description, algs) without the token echoed: typ JWT or none, alg none, HS256
     (signed with the issuer's own secret), ES512 (not offered), a private key in jwk, no jwk,
     a signature by another key than jwk's, an ES256 signature in DER form, htm POST or `get`,
     htu of another path, host, port or scheme or none, iat 90 s old or ahead, missing or a
     string, ath missing or of another token, no jti, thumbprint mismatch, not a JWS, no DPoP
     header, an empty one, two DPoP headers; the token is verified (and cached) before them,
     so a cached token still needs a good proof; replay of an accepted proof, or a new proof
     reusing its jti → 401; downgrade (the bound token as Bearer, with or without a DPoP
     header) → 401 `Bearer error="invalid_token"`; an unbound token as Bearer → 200; an
     unbound, garbage or expired token with the DPoP scheme → 401 invalid_token on the DPoP
     challenge.
  A2 JWT_DPOP=required: an unbound Bearer token → 401 (no 200), both challenges; the bound
     token with its proof → 200; as Bearer → 401 invalid_token.
  A3 JWT_DPOP_NONCE=1: no nonce → 401 `DPoP error="use_dpop_nonce"` + DPoP-Nonce; the same
     request retried with that nonce → 200; a forged nonce → 401 use_dpop_nonce.
  A4 JWT_DPOP_NONCE_SECRET shared: two instances of the demo with one secret accept each
     other's nonces; one with another secret answers use_dpop_nonce. Then an axum-demo and
     an actix-demo sharing a secret accept each other's nonces (pair, both directions).
  A5 a real redis-server (free port) and JWT_REDIS_URL on an axum-demo and an actix-demo with
     one JWT_PUBLIC_URL: a proof accepted by one is refused (invalid_dpop_proof) by the other,
     both directions; fresh proofs pass on both. Control: the same pair without Redis accepts
     the proof on both (in-memory caches are per process). Redis killed: a DPoP request is
     not 200 (503, fail closed).
  A6 JWT_DPOP unset: `Authorization: DPoP` is no token (401 bare `Bearer`); a bound token
     works as Bearer (with or without a DPoP header); no DPoP members in challenges.
  A7 JWT_PUBLIC_URL http://127.0.0.1:<port>/prefix (and .../prefix/): a proof whose htu is
     <that>/me is accepted on /me; htu http://127.0.0.1:<port>/me is refused; JWT_PUBLIC_URL
     https://api.dpop.test/v1: htu https://api.dpop.test/v1/me passes on /me, the URL the
     request was sent to does not, and Host / X-Forwarded-* never change it.
  A8 bad settings (JWT_DPOP=sometimes, JWT_DPOP_NONCE=2, JWT_PUBLIC_URL not a URL): the demo
     exits non-zero at start naming the variable.

Part B (B), interop with code nobody here wrote: a real OpenID Provider (node
tests/oidc/provider.mjs, oidc-provider from npm, config "dpop" on) and oauth4webapi (npm,
tests/dpop-client/client.mjs) making every proof: discovery, client_credentials with a DPoP
proof and resource indicator → a DPoP-bound RFC 9068 token (cnf.jkt = the client key's
thumbprint); GET /me on the demo (JWT_OIDC_ISSUER = the provider, JWT_DPOP=required) with the
library's proofs → 200 with cnf.jkt; a fresh proof again → 200; the same request replayed →
401 invalid_dpop_proof; another key's proofs → 401; the token as Bearer → 401 invalid_token.
Three times: an ES256 key without nonces (JWT_AUDIENCE = the resource); an ES256 key with
JWT_DPOP_NONCE=1 on the demo and require_nonce at the provider (JWT_RESOURCE = the resource),
where the library must retry after use_dpop_nonce at both; a PS256 key without nonces. Runs `npm ci` in tests/oidc and tests/dpop-client when their
node_modules are missing.
"""
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwcrypto import jwk as jwcrypto_jwk

from demo_support import (Abort, DemoProcess, ScenarioRun, Suite, b64, compare, demo_arguments,
                          error_of, forge, free_port, json_or_text, jwk_of, kill_live, override,
                          parse_demo_arguments, raw_request, required_tool, run_one, run_scenario,
                          run_until_exit)
from services import (node_packages, rsa_private_jwk, run_node_client, start_provider,
                      start_redis)

DEMOS = ["axum-demo", "actix-demo"]
BIN_DIR = os.path.join(ROOT, "target", "debug")
OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
CLIENT_DIR = os.path.join(ROOT, "tests", "dpop-client")

SECRET = "dpop-suite-hs256-secret-0123456789-abcdef"   # the issuer's secret, 32+ bytes
ISSUER = "https://issuer.dpop.test"
NONCE_SECRET = "dpop-suite-nonce-secret-0123456789-abcdef"
ALGS = "ES256 ES384 EdDSA PS256 RS256"
NOW = int(time.time())   # one iat/exp for every token, so that both demos see the same claims
EXIT_DEADLINE = 30       # seconds a demo with bad settings gets to exit
CLIENT_ID = "dpop-test-client"
CLIENT_SECRET = "dpop-test-client-secret-not-a-secret"


# ---------------------------------------------------------------------------------------
# Keys, thumbprints, tokens, proofs

class ClientKey:
    """A client's key pair: its public JWK, RFC 7638 thumbprint, and proofs signed with it."""

    def __init__(self, kind):
        self.kind = kind
        if kind in ("P-256", "P-384", "P-521"):
            curve = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}[kind]
            self.alg = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}[kind]
            self.private = ec.generate_private_key(curve)
        elif kind == "Ed25519":
            self.alg = "EdDSA"
            self.private = ed25519.Ed25519PrivateKey.generate()
        elif kind in ("RS256", "PS256"):
            self.alg = kind
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(kind)
        self.jwk = jwk_of(self.private)
        self.d = {k: v for k, v in jwk_of(self.private, with_private=True).items()
                  if k not in self.jwk}   # the private members

    @property
    def jkt(self):
        return thumbprint(self.jwk)

    def proof(self, token, htu, htm="GET", header=None, claims=None, signer=None, alg=None,
              key=None):
        """A proof for `token` (None: no ath) at htm/htu, header and claims changed by
        `header`/`claims` (None removes a member); signed by `signer` (another ClientKey) or
        with `alg`/`key` as given (an HS256 secret, say)."""
        h = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk}
        c = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time())}
        if token is not None:
            c["ath"] = ath(token)
        override(h, header or {})
        override(c, claims or {})
        if key is not None:
            return forge(h, c, alg, key)
        signer = signer or self
        return forge(h, c, alg or signer.alg, signer.private)


def thumbprint(jwk):
    """RFC 7638: SHA-256 of the required members, sorted, no whitespace."""
    required = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def ath(token):
    return b64(hashlib.sha256(token.encode()).digest())


def token(jkt=None, **extra):
    """alice's HS256 access token from ISSUER, bound to `jkt` when given."""
    claims = {"sub": "alice", "iss": ISSUER, "iat": NOW, "exp": NOW + 3600, "roles": ["user"]}
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    claims.update(extra)
    return forge({"alg": "HS256", "typ": "JWT"}, claims, "HS256", SECRET.encode())


# One set of keys for the whole run, so that both demos see the same tokens.
KEYS = {}


def key(kind, name=None):
    name = name or kind
    if name not in KEYS:
        KEYS[name] = ClientKey(kind)
    return KEYS[name]


# ---------------------------------------------------------------------------------------
# HTTP and challenges

CHALLENGE_PART = re.compile(
    r"""[\s,]*([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:\s*=\s*("(?:[^"\\]|\\.)*"|[^\s,]+))?""")


def challenges(www):
    """[(scheme, {param: value})] of a WWW-Authenticate value (no token68 forms)."""
    out = []
    for m in CHALLENGE_PART.finditer(www or ""):
        name, value = m.group(1), m.group(2)
        if value is None:
            out.append((name, {}))
        elif out:
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            out[-1][1][name.lower()] = value
        else:
            return None
    return out


def challenge_ok(a, status, bearer=None, dpop=None, dpop_on=True):
    """`status`, and the challenges: Bearer with exactly the params `bearer` names (a dict of
    expected values; "*" = present), then (when dpop_on) DPoP with algs and `dpop`'s."""
    if a.status != status:
        return False
    parsed = challenges(a.www)
    if not parsed:
        return False
    schemes = [s for s, _ in parsed]
    if schemes != (["Bearer", "DPoP"] if dpop_on else ["Bearer"]):
        return False

    def fits(params, expected):
        expected = dict(expected or {})
        params = dict(params)
        params.pop("resource_metadata", None)
        if set(params) != set(expected):
            return False
        return all(v == "*" or params[k] == v for k, v in expected.items())

    if not fits(parsed[0][1], bearer):
        return False
    if dpop_on:
        expected = dict(dpop or {})
        expected["algs"] = ALGS
        if not fits(parsed[1][1], expected):
            return False
    return True


def bad_proof(a):
    return (challenge_ok(a, 401, None, {"error": "invalid_dpop_proof", "error_description": "*"})
            and error_of(a) == "invalid_dpop_proof")


def dpop_invalid_token(a):
    return (challenge_ok(a, 401, None, {"error": "invalid_token", "error_description": "*"})
            and error_of(a) == "invalid_token")


def downgrade_refused(a):
    return (challenge_ok(a, 401, {"error": "invalid_token", "error_description": "*"}, {})
            and error_of(a) == "invalid_token")


def use_nonce(a):
    return (challenge_ok(a, 401, None, {"error": "use_dpop_nonce", "error_description": "*"})
            and error_of(a) == "use_dpop_nonce" and bool(a.header("DPoP-Nonce")))


def bare(a, dpop_on=True):
    return challenge_ok(a, 401, None, {}, dpop_on=dpop_on)


# ---------------------------------------------------------------------------------------
# Demos and runs

class Demo(DemoProcess):
    missing_error = Abort

    def __init__(self, bin_dir, binary, env, port=None):
        super().__init__(bin_dir, binary, env, port=port)
        self.base = f"http://127.0.0.1:{self.port}"

    def call(self, path="/me", tok=None, proof=None, scheme="DPoP", extra=(), method="GET"):
        headers = []
        if tok is not None:
            headers.append(("Authorization", f"{scheme} {tok}"))
        if proof is not None:
            headers.append(("DPoP", proof))
        headers.extend(extra)
        return raw_request(self.port, method, path, headers)


class Run(ScenarioRun):
    """Records answers with the ports written <port>, to compare the two demos."""

    def __init__(self, suite, scenario, name, bin_dir):
        super().__init__(suite, scenario, name)
        self.bin_dir = bin_dir
        self.ports = []
        self.secrets = []   # never to be echoed in a body

    def demo(self, binary, env, port=None):
        d = Demo(self.bin_dir, binary, env, port=port)
        self.ports.append(d.port)
        self.cleanup.append(d.stop)
        return d

    def norm(self, text):
        if not text:
            return text
        for i, port in enumerate(self.ports):
            text = text.replace(f":{port}", f":<port{i}>")
        return text

    def record(self, label, answer):
        self.answers[label] = (answer.status, self.norm(answer.www),
                               json_or_text(self.norm(answer.body)),
                               answer.header("DPoP-Nonce") is not None)
        return answer

    def expect(self, label, answer, ok, what):
        """Records `answer` and checks it; a refusal must not echo a token."""
        self.record(label, answer)
        echoed = [s for s in self.secrets if s and s in (answer.body or "")]
        self.check(ok(answer) and not (answer.status != 200 and echoed),
                   f"{label}: {what}", answer if not echoed else f"token echoed: {answer!r}")
        return answer


def dpop_env(mode="allowed", **extra):
    env = {"JWT_SECRET": SECRET, "JWT_ISSUER": ISSUER}
    if mode is not None:
        env["JWT_DPOP"] = mode
    env.update(extra)
    return env


def claims_ok(a, tok):
    body = a.json()
    claims = json.loads(b64decode(tok.split(".")[1]))
    return a.status == 200 and body == claims


def der_signed(proof):
    """The same proof with its ES256 signature re-made in DER form (not JOSE's r || s)."""
    from cryptography.hazmat.primitives import hashes
    h, c, _ = proof.split(".")
    der = key("P-256", "client").private.sign(f"{h}.{c}".encode(), ec.ECDSA(hashes.SHA256()))
    return f"{h}.{c}.{b64(der)}"


def b64decode(text):
    import base64
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------------------
# Part A scenarios (each gets a Run for one demo, or for a pair)

def a1_allowed(run, binary):
    d = run.demo(binary, dpop_env("allowed"))
    me = f"{d.base}/me"
    client, other = key("P-256", "client"), key("P-256", "other")
    bound = token(client.jkt)
    plain = token()
    run.secrets += [bound, plain]
    good = lambda **kw: client.proof(bound, me, **kw)   # noqa: E731

    run.expect("no token", d.call(), bare, '401 `Bearer, DPoP algs="..."`')
    a = run.expect("a good proof", d.call(tok=bound, proof=good()), lambda a: claims_ok(a, bound),
                   "200 with the token's claims")
    run.check((a.json() or {}).get("cnf") == {"jkt": client.jkt},
              "a good proof: the claims include cnf.jkt", a)
    run.expect("iat 30 s old", d.call(tok=bound, proof=good(claims={"iat": int(time.time()) - 30})),
               lambda a: a.status == 200, "200")
    run.expect("iat 30 s ahead", d.call(tok=bound, proof=good(claims={"iat": int(time.time()) + 30})),
               lambda a: a.status == 200, "200")
    for kind in ("P-384", "Ed25519", "PS256", "RS256"):
        k = key(kind)
        t = token(k.jkt)
        run.secrets.append(t)
        run.expect(f"a good {k.alg} proof", d.call(tok=t, proof=k.proof(t, me)),
                   lambda a, t=t: claims_ok(a, t), "200 with the token's claims")

    private_jwk = dict(client.jwk, **client.d)
    p521 = key("P-521")
    t521 = token(p521.jkt)
    run.secrets.append(t521)
    defects = [
        ("typ JWT", bound, good(header={"typ": "JWT"})),
        ("no typ", bound, good(header={"typ": None})),
        ("alg none", bound, forge({"typ": "dpop+jwt", "alg": "none", "jwk": client.jwk},
                                  json.loads(b64decode(good().split(".")[1])), signature=b"")),
        ("alg HS256 signed with the issuer's secret", bound,
         client.proof(bound, me, header={"alg": "HS256"}, alg="HS256", key=SECRET.encode())),
        ("ES512 (not in algs)", t521, p521.proof(t521, me)),
        ("a private key in jwk", bound, good(header={"jwk": private_jwk})),
        ("no jwk", bound, good(header={"jwk": None})),
        ("signed by another key than jwk's", bound, good(signer=other)),
        ("htm POST", bound, good(htm="POST")),
        ("htm get (lower case)", bound, good(htm="get")),
        ("htu another path", bound, client.proof(bound, f"{d.base}/admin")),
        ("htu another host", bound, client.proof(bound, f"http://127.0.0.2:{d.port}/me")),
        ("htu another port", bound, client.proof(bound, f"http://127.0.0.1:{free_port()}/me")),
        ("htu https", bound, client.proof(bound, f"https://127.0.0.1:{d.port}/me")),
        ("htu missing", bound, good(claims={"htu": None})),
        ("iat 90 s old", bound, good(claims={"iat": int(time.time()) - 90})),
        ("iat 90 s ahead", bound, good(claims={"iat": int(time.time()) + 90})),
        ("iat missing", bound, good(claims={"iat": None})),
        ("ath missing", bound, good(claims={"ath": None})),
        ("ath of another token", bound, good(claims={"ath": ath(plain)})),
        ("jti missing", bound, good(claims={"jti": None})),
        ("iat a string", bound, good(claims={"iat": str(int(time.time()))})),
        ("an ES256 signature in DER form", bound, der_signed(good())),
        ("thumbprint mismatch (another key's own proof)", bound, other.proof(bound, me)),
        ("not a JWS", bound, "not-a-proof"),
        ("no DPoP header", bound, None),
        ("an empty DPoP header", bound, ""),
    ]
    for what, tok, proof in defects:
        run.expect(what, d.call(tok=tok, proof=proof), bad_proof,
                   '401 `Bearer, DPoP error="invalid_dpop_proof", error_description, algs`')
    two = d.call(tok=bound, proof=good(), extra=[("DPoP", good())])
    run.expect("two DPoP headers", two, bad_proof, "401 invalid_dpop_proof")

    proof = good()
    run.expect("replay: first use", d.call(tok=bound, proof=proof), lambda a: a.status == 200, "200")
    run.expect("replay: second use", d.call(tok=bound, proof=proof), bad_proof,
               "401 invalid_dpop_proof")
    jti = json.loads(b64decode(proof.split(".")[1]))["jti"]
    run.expect("replay: a new proof reusing the seen jti",
               d.call(tok=bound, proof=good(claims={"jti": jti, "iat": int(time.time()) - 1})),
               bad_proof, "401 invalid_dpop_proof")
    run.expect("the scheme written dpop (schemes are case-insensitive)",
               d.call(tok=bound, proof=good(), scheme="dpop"), lambda a: claims_ok(a, bound), "200")
    run.expect("GET /me?x=1 with htu .../me (the query is not part of htu)",
               d.call(path="/me?x=1", tok=bound, proof=good()), lambda a: claims_ok(a, bound), "200")
    expired = token(client.jkt, iat=NOW - 7200, exp=NOW - 3600)
    run.secrets.append(expired)
    run.expect("an expired bound token with a good proof", d.call(tok=expired, proof=client.proof(expired, me)),
               dpop_invalid_token, '401 `Bearer, DPoP error="invalid_token"`')
    run.expect("downgrade: the bound token as Bearer", d.call(tok=bound, scheme="Bearer"),
               downgrade_refused, '401 `Bearer error="invalid_token", ..., DPoP algs="..."`')
    run.expect("downgrade: the bound token as Bearer with a good DPoP header",
               d.call(tok=bound, scheme="Bearer", proof=good()), downgrade_refused,
               "401 Bearer invalid_token")
    run.expect("an unbound token as Bearer", d.call(tok=plain, scheme="Bearer"),
               lambda a: claims_ok(a, plain), "200 with its claims")
    run.expect("an unbound token with the DPoP scheme and a good proof",
               d.call(tok=plain, proof=client.proof(plain, me)), dpop_invalid_token,
               '401 `Bearer, DPoP error="invalid_token"`')
    run.expect("a garbage token with the DPoP scheme", d.call(tok="garbage", proof=client.proof("garbage", me)),
               dpop_invalid_token, "401 invalid_token on the DPoP challenge")
    run.expect("after all that, a good proof", d.call(tok=bound, proof=good()),
               lambda a: claims_ok(a, bound), "200")


def a2_required(run, binary):
    d = run.demo(binary, dpop_env("required"))
    me = f"{d.base}/me"
    client = key("P-256", "client")
    bound, plain = token(client.jkt), token()
    run.secrets += [bound, plain]
    run.expect("no token", d.call(), bare, '401 `Bearer, DPoP algs="..."`')
    run.expect("an unbound token as Bearer", d.call(tok=plain, scheme="Bearer"),
               lambda a: a.status == 401 and [s for s, _ in challenges(a.www) or []] == ["Bearer", "DPoP"],
               "401 with the Bearer and DPoP challenges")
    run.expect("the bound token with its proof", d.call(tok=bound, proof=client.proof(bound, me)),
               lambda a: claims_ok(a, bound), "200 with the token's claims")
    run.expect("the bound token as Bearer", d.call(tok=bound, scheme="Bearer"), downgrade_refused,
               "401 Bearer invalid_token")
    run.expect("a bad proof", d.call(tok=bound, proof=client.proof(bound, me, htm="PUT")), bad_proof,
               "401 invalid_dpop_proof")


def a3_nonce(run, binary):
    d = run.demo(binary, dpop_env("allowed", JWT_DPOP_NONCE="1", JWT_DPOP_NONCE_SECRET=NONCE_SECRET))
    me = f"{d.base}/me"
    client = key("P-256", "client")
    bound = token(client.jkt)
    run.secrets.append(bound)
    a = run.expect("no nonce", d.call(tok=bound, proof=client.proof(bound, me)), use_nonce,
                   '401 `Bearer, DPoP error="use_dpop_nonce"` with a DPoP-Nonce header')
    nonce = a.header("DPoP-Nonce")
    run.need(bool(nonce), "a DPoP-Nonce to retry with")
    run.expect("retried with the nonce", d.call(tok=bound, proof=client.proof(bound, me, claims={"nonce": nonce})),
               lambda a: claims_ok(a, bound), "200 with the token's claims")
    run.expect("another proof with the nonce", d.call(tok=bound, proof=client.proof(bound, me, claims={"nonce": nonce})),
               lambda a: a.status == 200, "200")
    run.expect("a forged nonce", d.call(tok=bound, proof=client.proof(bound, me, claims={"nonce": "forged" + nonce[6:]})),
               use_nonce, "401 use_dpop_nonce with a DPoP-Nonce header")
    run.expect("an empty nonce", d.call(tok=bound, proof=client.proof(bound, me, claims={"nonce": ""})),
               use_nonce, "401 use_dpop_nonce")
    run.expect("the nonce but a bad proof (htm POST)",
               d.call(tok=bound, proof=client.proof(bound, me, htm="POST", claims={"nonce": nonce})),
               lambda a: a.status == 401, "401")


def first_nonce(run, d, name):
    """(client key, a token bound to it, the nonce that `d`, called `name`, answers a proof
    without a nonce with), both answers checked."""
    client = key("P-256", "client")
    bound = token(client.jkt)
    run.secrets.append(bound)
    a = d.call(tok=bound, proof=client.proof(bound, f"{d.base}/me"))
    nonce = a.header("DPoP-Nonce")
    run.expect(f"{name}: no nonce", a, use_nonce, "401 use_dpop_nonce with a nonce")
    run.need(bool(nonce), f"a nonce from {name}")
    return client, bound, nonce


def a4_shared_secret(run, binary):
    """Two instances of one demo with one secret; a third with another secret."""
    env = dpop_env("allowed", JWT_DPOP_NONCE="1", JWT_DPOP_NONCE_SECRET=NONCE_SECRET)
    first, second = run.demo(binary, env), run.demo(binary, env)
    stranger = run.demo(binary, dict(env, JWT_DPOP_NONCE_SECRET=NONCE_SECRET + "-other"))
    client, bound, nonce = first_nonce(run, first, "instance 1")
    for name, d in (("instance 1", first), ("instance 2 (same secret)", second)):
        run.expect(f"{name}: instance 1's nonce",
                   d.call(tok=bound, proof=client.proof(bound, f"{d.base}/me", claims={"nonce": nonce})),
                   lambda a: a.status == 200, "200")
    a = run.expect("instance 3 (another secret): instance 1's nonce",
                   stranger.call(tok=bound, proof=client.proof(bound, f"{stranger.base}/me", claims={"nonce": nonce})),
                   use_nonce, "401 use_dpop_nonce")
    run.check(a.header("DPoP-Nonce") not in (None, nonce),
              "instance 3 (another secret): its DPoP-Nonce is not instance 1's", a)


def a4_pair(run, first_binary, second_binary):
    """An axum-demo and an actix-demo sharing the nonce secret accept each other's nonces."""
    env = dpop_env("allowed", JWT_DPOP_NONCE="1", JWT_DPOP_NONCE_SECRET=NONCE_SECRET)
    x, y = run.demo(first_binary, env), run.demo(second_binary, env)
    client, bound, nonce = first_nonce(run, x, "X")
    run.expect("Y: X's nonce", y.call(tok=bound, proof=client.proof(bound, f"{y.base}/me", claims={"nonce": nonce})),
               lambda a: claims_ok(a, bound), "200 with the token's claims")


PUBLIC = "https://api.dpop.test"   # one JWT_PUBLIC_URL for a pair, so a proof fits both


def a5_redis_pair(run, first_binary, second_binary, redis):
    env = dpop_env("allowed", JWT_PUBLIC_URL=PUBLIC, JWT_REDIS_URL=redis.url)
    x, y = run.demo(first_binary, env), run.demo(second_binary, env)
    client = key("P-256", "client")
    bound = token(client.jkt)
    run.secrets.append(bound)
    proof = client.proof(bound, f"{PUBLIC}/me")
    run.expect("X accepts a proof", x.call(tok=bound, proof=proof), lambda a: claims_ok(a, bound), "200")
    run.expect("Y: the same proof (replay)", y.call(tok=bound, proof=proof), bad_proof,
               "401 invalid_dpop_proof")
    run.expect("X: the same proof again", x.call(tok=bound, proof=proof), bad_proof,
               "401 invalid_dpop_proof")
    for name, d in (("X", x), ("Y", y)):
        run.expect(f"{name}: a fresh proof", d.call(tok=bound, proof=client.proof(bound, f"{PUBLIC}/me")),
                   lambda a: a.status == 200, "200")
    redis.kill()
    run.check(not redis.ping(), "redis-server killed")
    for name, d in (("X", x), ("Y", y)):
        run.expect(f"{name} with Redis down: a fresh proof",
                   d.call(tok=bound, proof=client.proof(bound, f"{PUBLIC}/me")),
                   lambda a: a.status == 503, "503 (fail closed: the replay cannot be checked)")


def a5_control_pair(run, first_binary, second_binary):
    """The same pair without Redis: each keeps its own seen jtis, so both accept the proof
    (shows that A5's refusals come from the shared cache, not from something else)."""
    env = dpop_env("allowed", JWT_PUBLIC_URL=PUBLIC)
    x, y = run.demo(first_binary, env), run.demo(second_binary, env)
    client = key("P-256", "client")
    bound = token(client.jkt)
    proof = client.proof(bound, f"{PUBLIC}/me")
    run.expect("X accepts a proof", x.call(tok=bound, proof=proof), lambda a: a.status == 200, "200")
    run.expect("Y (no shared cache) accepts the same proof", y.call(tok=bound, proof=proof),
               lambda a: a.status == 200, "200")
    run.expect("X: the same proof again", x.call(tok=bound, proof=proof), bad_proof,
               "401 invalid_dpop_proof")


def a6_off(run, binary):
    d = run.demo(binary, dpop_env(None))
    me = f"{d.base}/me"
    client = key("P-256", "client")
    bound = token(client.jkt)
    run.secrets.append(bound)
    run.expect("no token", d.call(), lambda a: a.status == 401 and a.www == "Bearer", "401 bare `Bearer`")
    run.expect("Authorization: DPoP with a good proof", d.call(tok=bound, proof=client.proof(bound, me)),
               lambda a: a.status == 401 and a.www == "Bearer", "401 bare `Bearer` (not a token)")
    run.expect("the bound token as Bearer", d.call(tok=bound, scheme="Bearer"),
               lambda a: claims_ok(a, bound), "200 with its claims")
    run.expect("the bound token as Bearer with a DPoP header",
               d.call(tok=bound, scheme="Bearer", proof=client.proof(bound, me)),
               lambda a: claims_ok(a, bound), "200 (the header is ignored)")
    run.expect("a garbage Bearer token", d.call(tok="garbage", scheme="Bearer"),
               lambda a: a.status == 401 and "DPoP" not in (a.www or "")
               and challenge_ok(a, 401, {"error": "invalid_token", "error_description": "*"}, dpop_on=False),
               "401 Bearer invalid_token, no DPoP challenge")


def a7_public_url(run, binary):
    client = key("P-256", "client")
    bound = token(client.jkt)
    run.secrets.append(bound)
    for suffix in ("/prefix", "/prefix/"):
        port = free_port()
        public = f"http://127.0.0.1:{port}{suffix}"
        d = run.demo(binary, dpop_env("allowed", JWT_PUBLIC_URL=public), port=port)
        base = f"http://127.0.0.1:{port}/prefix"
        run.expect(f"JWT_PUBLIC_URL {suffix}: htu {suffix.rstrip('/')}/me",
                   d.call(tok=bound, proof=client.proof(bound, f"{base}/me")),
                   lambda a: claims_ok(a, bound), "200 on /me")
        for what, htu in (("htu /me (no prefix)", f"{d.base}/me"),
                          ("htu /prefix/prefix/me", f"{base}/prefix/me"),
                          ("htu /prefixme", f"{base}me")):
            run.expect(f"JWT_PUBLIC_URL {suffix}: {what}", d.call(tok=bound, proof=client.proof(bound, htu)),
                       bad_proof, "401 invalid_dpop_proof")
        d.stop()
    public = "https://api.dpop.test/v1"
    d = run.demo(binary, dpop_env("allowed", JWT_PUBLIC_URL=public))
    run.expect("JWT_PUBLIC_URL https://api.dpop.test/v1: htu <that>/me",
               d.call(tok=bound, proof=client.proof(bound, f"{public}/me")),
               lambda a: claims_ok(a, bound), "200 on /me")
    run.expect("JWT_PUBLIC_URL https://api.dpop.test/v1: htu = the URL the request went to",
               d.call(tok=bound, proof=client.proof(bound, f"{d.base}/me")), bad_proof,
               "401 invalid_dpop_proof")
    hostile = [("Host", "evil.test"), ("X-Forwarded-Host", "evil.test"),
               ("X-Forwarded-Proto", "http"), ("X-Forwarded-Prefix", "/x"),
               ("Forwarded", "host=evil.test;proto=http")]
    run.expect("Host and X-Forwarded-* naming evil.test: htu http://evil.test/me",
               d.call(tok=bound, proof=client.proof(bound, "http://evil.test/me"), extra=hostile),
               bad_proof, "401 invalid_dpop_proof (htu is never taken from the request)")
    run.expect("Host and X-Forwarded-* naming evil.test: htu <JWT_PUBLIC_URL>/me",
               d.call(tok=bound, proof=client.proof(bound, f"{public}/me"), extra=hostile),
               lambda a: a.status == 200, "200")


def a8_bad_settings(run, binary):
    for variable, env in (("JWT_DPOP", dpop_env("sometimes")),
                          ("JWT_DPOP_NONCE", dpop_env("allowed", JWT_DPOP_NONCE="2")),
                          ("JWT_PUBLIC_URL", dpop_env("allowed", JWT_PUBLIC_URL="not a url"))):
        code, out = run_until_exit(run.bin_dir, binary, env, EXIT_DEADLINE, missing_error=Abort)
        run.answers[f"{variable}={env.get(variable)}"] = (code is None or code == 0,)
        run.check(code not in (0, None) and variable in out,
                  f"{variable}={env.get(variable)!r}: exits non-zero at start naming {variable}",
                  f"exit {code}, output: {out[-400:]!r}")


SINGLE = [
    ("A1", "JWT_DPOP=allowed: proofs, defects, replay, downgrade", a1_allowed),
    ("A2", "JWT_DPOP=required", a2_required),
    ("A3", "JWT_DPOP_NONCE=1", a3_nonce),
    ("A4", "JWT_DPOP_NONCE_SECRET shared by two instances", a4_shared_secret),
    ("A6", "JWT_DPOP unset", a6_off),
    ("A7", "JWT_PUBLIC_URL with a path prefix or another origin", a7_public_url),
    ("A8", "bad DPoP settings", a8_bad_settings),
]


def part_a(suite, bin_dir, demos, only):
    for sid, title, fn in SINGLE:
        if only and sid not in only:
            continue
        run_scenario(suite, f"{sid} {title}", demos, fn, run_class=Run, run_args=(bin_dir,))
    if len(demos) == 2 and (not only or "A4" in only):
        pair(suite, bin_dir, demos, "A4", "axum-demo and actix-demo sharing the nonce secret", a4_pair)
    if len(demos) == 2 and (not only or "A5" in only):
        pair(suite, bin_dir, demos, "A5", "control: no Redis, each demo its own replay cache",
             a5_control_pair)
        binary = required_tool(suite, "A5", "redis-server",
                               "redis-server is not on PATH: the shared replay cache cannot be tested",
                               "Install it (apt-get install redis-server) to run it.")
        if binary is not None:
            pair(suite, bin_dir, demos, "A5", "JWT_REDIS_URL: a replay refused across demos",
                 a5_redis_pair, redis_binary=binary)


def pair(suite, bin_dir, demos, sid, title, fn, redis_binary=None):
    """fn on (X, Y) = the two demos, then on (Y, X); the two runs compared."""
    runs = []
    for x, y in ((demos[0], demos[1]), (demos[1], demos[0])):
        run = Run(suite, f"{sid} {title}", f"X={x}, Y={y}", bin_dir)
        args = (x, y)
        if redis_binary:
            redis = start_redis(run, redis_binary)
            if redis is None:
                continue
            args = (x, y, redis)
        run_one(run, fn, *args)
        runs.append(run)
    if len(runs) == 2:
        compare(suite, f"{sid} {title}", runs[0], runs[1], ("X,Y", "Y,X"))


# ---------------------------------------------------------------------------------------
# Part B: oidc-provider issues DPoP-bound tokens, oauth4webapi makes the proofs

VARIANTS = [
    # (name, the provider's "dpop", the demo's nonce, the demo's audience variable, the
    # client key's alg)
    ("ES256, no nonces, JWT_AUDIENCE", True, False, "JWT_AUDIENCE", "ES256"),
    ("ES256, nonces at the provider and the demo, JWT_RESOURCE", {"require_nonce": True}, True,
     "JWT_RESOURCE", "ES256"),
    ("PS256, no nonces, JWT_AUDIENCE", True, False, "JWT_AUDIENCE", "PS256"),
]


def b_interop(run, binary, node, workdir, variant):
    name, provider_dpop, demo_nonce, audience_var, alg = variant
    port = free_port()
    resource = f"http://127.0.0.1:{port}/"
    # tests/oidc/provider.mjs with "dpop" on
    provider, issuer = start_provider(node, workdir, {
        "port": 0, "jwks": {"keys": [rsa_private_jwk("dpop-test-rs256")]},
        "resources": {resource: "RS256"}, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "dpop": provider_dpop})
    run.cleanup.append(provider.stop)
    env = {"JWT_OIDC_ISSUER": issuer, audience_var: resource, "JWT_DPOP": "required"}
    if demo_nonce:
        env["JWT_DPOP_NONCE"] = "1"
    d = run.demo(binary, env, port=port)
    if not d.wait_keys_ready(30):
        raise Abort(f"{binary} did not get its keys: {d.tail()}")
    config = {"issuer": issuer, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
              "resource": resource, "url": f"{d.base}/me", "alg": alg, "demo_nonce": demo_nonce,
              "provider_nonce": bool(isinstance(provider_dpop, dict)
                                     and provider_dpop.get("require_nonce"))}
    # tests/dpop-client/client.mjs: one check per JSON line it prints
    run.answers.update(run_node_client(run.check, node, os.path.join(CLIENT_DIR, "client.mjs"),
                                       workdir, config, "the DPoP client", "oauth4webapi: "))


def part_b(suite, bin_dir, demos):
    node = required_tool(suite, "B", "node",
                         "node is not on PATH: the oidc-provider / oauth4webapi interop cannot run",
                         "Install Node.js >= 20.19 to run it.")
    if node is None or not node_packages(suite, (OIDC_DIR, "oidc-provider"),
                                         (CLIENT_DIR, "oauth4webapi")):
        return
    workdir = tempfile.mkdtemp(prefix="dpop-interop-")
    try:
        for variant in VARIANTS:
            run_scenario(suite, f"B oidc-provider + oauth4webapi, {variant[0]}", demos, b_interop,
                         node, workdir, variant, run_class=Run, run_args=(bin_dir,))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------

def self_test(suite):
    """This script's own helpers against jwcrypto and known answers."""
    for kind in ("P-256", "P-384", "Ed25519", "RS256"):
        k = key(kind)
        theirs = jwcrypto_jwk.JWK(**k.jwk).thumbprint()
        suite.check(k.jkt == theirs, f"self-test: RFC 7638 thumbprint of a {kind} key = jwcrypto's",
                    (k.jkt, theirs))
    # RFC 7638 §3.1's example.
    rfc = {"kty": "RSA", "e": "AQAB", "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
        "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
        "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
        "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")}
    suite.check(thumbprint(rfc) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                "self-test: RFC 7638 §3.1 example thumbprint")
    parsed = challenges('Bearer error="invalid_token", error_description="a \\"b\\"", DPoP algs="ES256 RS256"')
    suite.check(parsed == [("Bearer", {"error": "invalid_token", "error_description": 'a "b"'}),
                           ("DPoP", {"algs": "ES256 RS256"})], "self-test: challenge parser", parsed)
    suite.check(challenges("Bearer, DPoP") == [("Bearer", {}), ("DPoP", {})],
                "self-test: challenge parser, bare schemes")


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of ids (A1..A8, B)")
    args, BIN_DIR, demos, only = parse_demo_arguments(parser)
    suite = Suite()
    start = time.monotonic()
    try:
        self_test(suite)
        part_a(suite, BIN_DIR, demos, only)
        if not only or "B" in only:
            part_b(suite, BIN_DIR, demos)
    except Exception:   # noqa: BLE001 - a broken setup is a failure, not a crash
        suite.check(False, "dpop suite", traceback.format_exc().strip().replace("\n", " | "))
    finally:
        kill_live()
    return suite.finish(f"dpop: {', '.join(demos)}, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
