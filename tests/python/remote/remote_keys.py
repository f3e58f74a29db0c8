#!/usr/bin/env python3
"""Black-box acceptance suite for remote keys: JWKS URLs and OpenID Connect discovery.

Runs every scenario against BOTH demo binaries (`axum-demo` and `actix-demo`), one after
the other, and checks that they answer the same requests identically (status,
WWW-Authenticate, JSON body). Only 127.0.0.1 is used.

Usage:
    remote_keys.py [BIN_DIR] [--only A1,A4,B] [--demos axum-demo,actix-demo]

BIN_DIR defaults to target/debug. Prints one line per check (PASS/FAIL/SKIP) and a final
"N passed, N failed" line; exits 1 on any failure. Needs Python's `cryptography`; the B
scenarios need `node` (tests/oidc/provider.mjs, a real oidc-provider). When
tests/oidc/node_modules is missing it runs `npm ci --prefix tests/oidc`. When node is
missing the B scenarios are reported SKIPPED, or FAILED when CI=true.

A. A JWKS server run by this script (ThreadingHTTPServer on 127.0.0.1:0, /jwks.json), whose
   key list and mode (ok, 500, garbage, hang, slow) the test switches. It counts fetches and
   lets the test wait for "fetch N arrived/served". Tokens are signed here, header `kid` set.
   A1 basic: RS256, ES256 and EdDSA keys from the set are accepted (typ JWT and at+jwt) and
      /me echoes the claims; unknown signer with a known kid, alg none, HS256 keyed with the
      public key, kid/alg mismatch, no exp, wrong iss/aud, and `jwk`/`jku`/`x5u` headers
      naming an attacker key are 401, and nothing is fetched from the attacker URL (row 5).
   A2 rotation (JWT_JWKS_MIN_REFRESH=1): a new kid is accepted on first use with exactly one
      fetch; an unknown kid within the cooldown is 401 with no fetch (row 7); a removed kid
      is refused after the next refresh.
   A3 flood (row 24): 300 random kids from 24 threads: all 401, at most one fetch.
   A4 failures (row 23, cooldown 1): JWKS answers 500, garbage, hangs, or the port is closed:
      a refresh is attempted and cached keys keep working; during a hung fetch known-kid
      requests answer in < 0.5 s while the unknown-kid request waits (bounded by 5 s).
   A5 down at start: JWKS answering 500 / nothing listening at start: /me 503 with no
      WWW-Authenticate and error temporarily_unavailable, /health keys_ready false; once the
      JWKS works, /me becomes 200 within 15 s (backoff retries).
   A6 slow endpoint (row 23): a 3 s fetch does not delay known-kid requests (< 0.5 s), and
      the unknown-kid request that triggered it gets 200 when the key appears.
   A7 weak keys (row 22): RSA-1024, use enc, key_ops [encrypt], oct (also an HS256 token
      keyed with its secret), EC crv mismatching its coordinates, a JWK alg disagreeing with
      the key: each such kid is 401 while the good key in the same set is 200.
B. A real OpenID Provider (node tests/oidc/provider.mjs): client_credentials + resource
   indicators give RFC 9068 JWT access tokens (typ at+jwt) signed RS256, ES256 or EdDSA.
   B1 tokens from P1 are 200 with JWT_OIDC_ISSUER=P1 and JWT_AUDIENCE=the resources; /me
      echoes iss and aud. B2 forged tokens (P1's kid + another key, tampered payload, alg
      none, expired but signed with P1's real key, unknown aud) are 401.
   B3 issuer pinning: JWT_OIDC_ISSUER = P1 + "/" or with localhost: the discovered issuer
      does not match, so keys never load: /me 503, keys_ready false.
   B4 two issuers whose kids collide: tokens from both are 200; iss P1 with P2's key and
      kid is 401 (keys are per issuer); an iss not configured is 401 and no discovery or
      JWKS request reaches either provider or the token's iss URL.
"""
import base64
import collections
import concurrent.futures
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from demo_support import (Abort, Answer, DemoProcess, ScenarioRun, Suite, b64, demo_arguments,
                          forge, free_port, http_request, is_unavailable, jwk_of, kill_live,
                          make_claims, override, parse_demo_arguments, required_tool,
                          run_scenario, unb64)
from demo_support import is_invalid_token as invalid_token_answer
from services import node_packages, start_provider

OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
DEMOS = ["axum-demo", "actix-demo"]
ISSUER = "https://jwks-issuer.test"      # JWT_ISSUER for the A scenarios
AUDIENCE = "remote-api"                  # JWT_AUDIENCE for the A scenarios
FETCH_TIMEOUT = 5.0                      # the demos' JWKS fetch timeout (contract)
FAST = 0.5                               # a request that must not wait on a refresh
SLOW_DELAY = 3.0                         # the "slow" JWKS mode's delay
FIRST_FETCH_WAIT = 8.0                   # how long a demo may take to make its first fetch
BIN_DIR = os.path.join(ROOT, "target", "debug")


# ---------------------------------------------------------------------------------------
# JOSE helpers (b64, forge, jwk_of, ... are in tests/python/pysupport/demo_support.py)

def decode_part(token, index):
    return json.loads(unb64(token.split(".")[index]))


class Key:
    """A signing key with its kid and alg; `jwk()` is what a JWKS publishes."""

    def __init__(self, kind, kid):
        self.kid = kid
        if kind in ("RS256", "RSA1024"):
            self.alg = "RS256"
            self.private = rsa.generate_private_key(65537, 1024 if kind == "RSA1024" else 2048)
        elif kind == "ES256":
            self.alg = "ES256"
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif kind == "EdDSA":
            self.alg = "EdDSA"
            self.private = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(kind)

    def jwk(self, with_private=False, **overrides):
        jwk = dict(jwk_of(self.private, with_private), kid=self.kid, alg=self.alg, use="sig")
        return override(jwk, overrides)

    def public_pem(self):
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def token(self, claims, kid="<own>", alg=None, typ="JWT", **header):
        h = {"alg": alg or self.alg}
        if typ is not None:
            h["typ"] = typ
        kid = self.kid if kid == "<own>" else kid
        if kid is not None:
            h["kid"] = kid
        h.update(header)
        return forge(h, claims, alg or self.alg, self.private)


def claims(**extra):
    return make_claims(ISSUER, AUDIENCE, **extra)


def none_token(c, kid):
    return forge({"alg": "none", "typ": "JWT", "kid": kid}, c, signature=b"")


# ---------------------------------------------------------------------------------------
# HTTP plumbing

def is_invalid_token(a, secret_text=None):
    ok = invalid_token_answer(a) and "error_description" in a.json()
    if ok and secret_text:  # error_description never echoes key ids or token content
        ok = secret_text not in a.body and secret_text not in (a.www or "")
    return ok


def is_claims(a, c):
    return a.status == 200 and a.json() == c


# ---------------------------------------------------------------------------------------
# The controlled JWKS server

class JwksServer:
    """Serves /jwks.json on 127.0.0.1 with a mutable key list and a failure mode.

    Modes: ok, 500, garbage (200, not JSON), hang (never answers until stop()),
    slow (answers after SLOW_DELAY). Any other path is counted and answers an attacker's
    JWKS (so a demo that fetched it would accept the attacker's token).
    """

    def __init__(self, keys=(), mode="ok", port=0, attacker_keys=()):
        self.keys = list(keys)
        self.attacker_keys = list(attacker_keys)
        self.mode = mode
        self.cond = threading.Condition()
        self.arrived = 0          # GET /jwks.json received
        self.served = 0           # ... and answered (or given up on)
        self.paths = collections.Counter()
        self.release = threading.Event()   # ends "hang" and "slow" waits at stop()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                with outer.cond:
                    outer.paths[path] += 1
                    jwks_path = path == "/jwks.json"
                    if jwks_path:
                        outer.arrived += 1
                    mode = outer.mode if jwks_path else "attacker"
                    outer.cond.notify_all()
                try:
                    self.answer(mode)
                except OSError:
                    pass   # the client gave up (timeout): that is what "hang" is for
                finally:
                    if jwks_path:
                        with outer.cond:
                            outer.served += 1
                            outer.cond.notify_all()

            def answer(self, mode):
                if mode == "hang":
                    outer.release.wait()
                    self.close_connection = True
                    return
                if mode == "slow":
                    outer.release.wait(SLOW_DELAY)
                if mode == "500":
                    self.send(500, b'{"error":"boom"}')
                elif mode == "garbage":
                    self.send(200, b"<html>this is {not JSON")
                elif mode == "attacker":
                    with outer.cond:
                        keys = list(outer.attacker_keys)
                    self.send(200, json.dumps({"keys": keys}).encode())
                else:
                    with outer.cond:
                        keys = list(outer.keys)
                    self.send(200, json.dumps({"keys": keys}).encode())

            def send(self, status, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.stopped = False

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self):
        return f"{self.base}/jwks.json"

    def set(self, keys=None, mode=None):
        with self.cond:
            if keys is not None:
                self.keys = list(keys)
            if mode is not None:
                self.mode = mode

    def count(self):
        with self.cond:
            return self.arrived

    def wait_arrived(self, n, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: self.arrived >= n, timeout)

    def wait_served(self, n, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: self.served >= n, timeout)

    def other_paths(self):
        with self.cond:
            return {p: n for p, n in self.paths.items() if p != "/jwks.json"}

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------
# Processes: the demos and the OpenID Provider

class Demo(DemoProcess):
    missing_error = Abort
    start_error = Abort

    def __init__(self, binary, env):
        super().__init__(BIN_DIR, binary, env)

    def get(self, path, headers=None, timeout=10):
        return self.request("GET", path, headers, timeout=timeout)

    def me(self, token, timeout=10):
        return self.get("/me", {"Authorization": f"Bearer {token}"}, timeout)

    def wait_keys_ready(self, timeout):
        """Polls /health briefly: keys_ready flips just after the fetch that loads them."""
        return super().wait_keys_ready(timeout, interval=0.02)


CLIENT_ID = "remote-keys-test"
CLIENT_SECRET = "remote-keys-test-client-secret"
RESOURCES = {
    "http://127.0.0.1/api/rs256": "RS256",
    "http://127.0.0.1/api/es256": "ES256",
    "http://127.0.0.1/api/eddsa": "EdDSA",
}
RESOURCE_FOR = {alg: url for url, alg in RESOURCES.items()}
DISCOVERY = "/.well-known/openid-configuration"


class Provider:
    """node tests/oidc/provider.mjs with keys generated here (so the test can forge too)."""

    def __init__(self, node, name, keys):
        self.name = name
        self.keys = {k.alg: k for k in keys}
        self.dir = tempfile.mkdtemp(prefix="remote-keys-op-")
        self.cond = threading.Condition()
        self.counts = collections.Counter()     # from the provider's stderr request log

        def count_request(line):
            try:
                key = json.loads(line)["request"]
            except (ValueError, KeyError, TypeError):
                return False   # kept in the process's lines
            with self.cond:
                self.counts[key] += 1
                self.cond.notify_all()
            return True

        try:
            self.process, self.issuer = start_provider(
                node, self.dir, {"port": 0, "jwks": {"keys": [k.jwk(with_private=True) for k in keys]},
                                 "resources": RESOURCES, "client_id": CLIENT_ID,
                                 "client_secret": CLIENT_SECRET},
                on_stderr=count_request)
        except RuntimeError as e:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise RuntimeError(f"provider {name}: {e}") from e
        meta = json.loads(http_request("GET", self.issuer + DISCOVERY).body)
        self.token_endpoint = meta["token_endpoint"]
        self.jwks_path = "GET " + urllib.parse.urlsplit(meta["jwks_uri"]).path
        self.discovery_meta = meta

    def logged(self, predicate):
        with self.cond:
            return sum(n for k, n in self.counts.items() if predicate(k))

    def wait_logged(self, predicate, n, timeout):
        with self.cond:
            return self.cond.wait_for(
                lambda: sum(c for k, c in self.counts.items() if predicate(k)) >= n, timeout)

    def is_discovery(self, key):
        return key.startswith("GET ") and key.endswith(DISCOVERY)

    def is_jwks(self, key):
        return key == self.jwks_path

    def stats(self):
        """Exact request counts, straight from the provider (its /__test__/requests)."""
        return json.loads(http_request("GET", self.issuer + "/__test__/requests").body)

    def access_token(self, alg):
        """client_credentials + resource (RFC 8707) → RFC 9068 JWT access token."""
        resource = RESOURCE_FOR[alg]
        data = urllib.parse.urlencode({"grant_type": "client_credentials", "resource": resource,
                                       "scope": "api:read"}).encode()
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        req = urllib.request.Request(self.token_endpoint, data=data, method="POST", headers={
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                body = json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"token endpoint of {self.name}: {e.code} {e.read()!r}") from e
        token = body["access_token"]
        return token, decode_part(token, 0), decode_part(token, 1)

    def stop(self):
        self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------
# Reporting

class Run(ScenarioRun):
    """One scenario against one demo: prefixes check lines and records answers to compare."""

    def record(self, label, answer):
        """Remembers what the demo answered, to compare with the other demo."""
        body = answer.json()
        if answer.status == 200 and label.startswith("/me"):
            body = "(claims, checked against the token)"
        elif body is None:
            body = answer.body
        self.answers[label] = (answer.status, answer.www, body)
        return answer

    def demo(self, env):
        d = Demo(self.name, env)
        self.cleanup.append(d.stop)
        return d

    def jwks(self, *args, **kwargs):
        s = JwksServer(*args, **kwargs)
        self.cleanup.append(s.stop)
        return s


def wait_out_cooldown(seconds):
    """The cooldown is a time-based policy: waiting it out is the only way past it."""
    time.sleep(seconds + 0.3)


def jwks_env(server_url, min_refresh=None, **extra):
    env = {"JWT_JWKS_URL": server_url, "JWT_ISSUER": ISSUER, "JWT_AUDIENCE": AUDIENCE}
    if min_refresh is not None:
        env["JWT_JWKS_MIN_REFRESH"] = str(min_refresh)
    env.update(extra)
    return env


def start_loaded(run, server, min_refresh=None):
    """Starts the demo and waits until its keys are loaded (first fetch served, keys_ready)."""
    demo = run.demo(jwks_env(server.url, min_refresh))
    fetched = server.wait_served(1, FIRST_FETCH_WAIT)
    ready = fetched and demo.wait_keys_ready(3)
    if not run.check(ready, "keys load at start (JWKS fetched, /health keys_ready true)",
                     f"fetches={server.count()}, health={demo.health()[0]!r}, "
                     f"output: {demo.tail()}"):
        raise Abort("keys never loaded")
    return demo


# ---------------------------------------------------------------------------------------
# Keys used by the A scenarios (generated once)

class KeySet:
    def __init__(self):
        self.rs1 = Key("RS256", "rs-1")
        self.rs2 = Key("RS256", "rs-2")
        self.es1 = Key("ES256", "es-1")
        self.ed1 = Key("EdDSA", "ed-1")
        self.attacker = Key("RS256", "attacker-1")
        self.weak = Key("RSA1024", "weak-rsa1024")
        self.enc = Key("RS256", "enc-rsa")
        self.ops = Key("RS256", "ops-encrypt")
        self.alg_rsa = Key("RS256", "alg-mismatch-rsa")
        self.alg_ec = Key("ES256", "alg-mismatch-ec")
        self.crv = Key("ES256", "crv-mismatch")
        self.good = Key("RS256", "good-rs")
        self.oct_secret = os.urandom(32)


# ---------------------------------------------------------------------------------------
# A scenarios

def a1_basic(run, K):
    server = run.jwks([K.rs1.jwk(), K.es1.jwk(), K.ed1.jwk()], attacker_keys=[K.attacker.jwk()])
    demo = start_loaded(run, server)
    for key in (K.rs1, K.es1, K.ed1):
        c = claims()
        a = run.record(f"/me {key.alg}", demo.me(key.token(c)))
        run.check(is_claims(a, c), f"{key.alg} token (kid {key.kid}) → 200, /me echoes the claims", a)
        c = claims(scope="api:read")
        a = run.record(f"/me {key.alg} at+jwt", demo.me(key.token(c, typ="at+jwt")))
        run.check(is_claims(a, c), f"{key.alg} token with typ at+jwt → 200", a)
    attacker_url = f"{server.base}/attacker/jwks.json"
    c = claims()
    bad = [
        ("unknown signer claiming kid rs-1", K.attacker.token(c, kid="rs-1")),
        ("alg none with kid rs-1", none_token(c, "rs-1")),
        ("HS256 keyed with rs-1's public key PEM",
         forge({"alg": "HS256", "kid": "rs-1"}, c, "HS256", K.rs1.public_pem())),
        ("RS256 token naming the ES256 kid es-1", K.rs1.token(c, kid="es-1")),
        ("no exp", K.rs1.token(claims(exp=None))),
        ("wrong iss", K.rs1.token(claims(iss="https://evil.test"))),
        ("wrong aud", K.rs1.token(claims(aud="someone-else"))),
        ("#5 jwk header (kid rs-1) embedding the attacker's key",
         K.attacker.token(c, kid="rs-1", jwk=K.attacker.jwk())),
        ("#5 jwk header without kid", K.attacker.token(c, kid=None, jwk=K.attacker.jwk())),
        ("#5 jku header naming the attacker's JWKS", K.attacker.token(c, jku=attacker_url)),
        ("#5 x5u header naming an attacker URL", K.attacker.token(c, x5u=attacker_url)),
    ]
    for what, token in bad:
        a = run.record(f"/me {what}", demo.me(token))
        run.check(is_invalid_token(a), f"{what} → 401 invalid_token", a)
    a = run.record("/me no token", demo.get("/me"))
    run.check(a.status == 401 and (a.www or "").startswith("Bearer")
              and "error=" not in (a.www or ""), "no token → 401 Bearer without error", a)
    others = server.other_paths()
    run.check(not others, "#5 nothing fetched from a URL a token named", others)


def a2_rotation(run, K):
    server = run.jwks([K.rs1.jwk()])
    demo = start_loaded(run, server, min_refresh=1)
    c = claims()
    a = run.record("/me rs-1", demo.me(K.rs1.token(c)))
    run.check(is_claims(a, c), "kid rs-1 → 200", a)

    server.set(keys=[K.rs1.jwk(), K.rs2.jwk()])
    wait_out_cooldown(1)
    before = server.count()
    c = claims()
    a = run.record("/me rs-2 new", demo.me(K.rs2.token(c)))
    after = server.count()
    run.check(is_claims(a, c), "new kid rs-2 → 200 on first use", a)
    run.check(after - before == 1, f"new kid rs-2: exactly one fetch (before={before} after={after})")

    kid = "unknown-" + uuid.uuid4().hex
    a = run.record("/me unknown kid in cooldown", demo.me(K.rs1.token(claims(), kid=kid)))
    run.check(is_invalid_token(a, kid) and a.elapsed < FAST,
              f"#7 unknown kid within the cooldown → 401 at once ({a.elapsed:.3f}s)", a)
    run.check(server.count() == after, "#7 unknown kid within the cooldown: no fetch",
              f"before={after} after={server.count()}")

    server.set(keys=[K.rs2.jwk()])   # rs-1 retired
    wait_out_cooldown(1)
    before = server.count()
    kid = "unknown-" + uuid.uuid4().hex
    a = run.record("/me unknown kid after cooldown", demo.me(K.rs1.token(claims(), kid=kid)))
    after = server.count()
    run.check(is_invalid_token(a, kid), "unknown kid after the cooldown → 401", a)
    run.check(after - before == 1, f"unknown kid after the cooldown: one refresh (before={before} after={after})")
    a = run.record("/me rs-1 removed", demo.me(K.rs1.token(claims())))
    run.check(is_invalid_token(a), "removed kid rs-1 → 401 after the refresh", a)
    c = claims()
    a = run.record("/me rs-2 kept", demo.me(K.rs2.token(c)))
    run.check(is_claims(a, c), "kid rs-2 still → 200", a)


def a3_flood(run, K):
    server = run.jwks([K.rs1.jwk()])
    demo = start_loaded(run, server, min_refresh=30)
    before = server.count()
    kids = ["flood-" + uuid.uuid4().hex for _ in range(300)]
    tokens = [K.rs1.token(claims(), kid=kid) for kid in kids]
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(lambda t: demo.me(t, timeout=20), tokens))
    elapsed = time.monotonic() - start
    after = server.count()
    bad = [(kid, a) for kid, a in zip(kids, answers) if not is_invalid_token(a, kid)]
    run.record("/me flood kid", answers[0])
    run.check(not bad, f"#24 flood: all 300 random kids → 401 invalid_token ({elapsed:.1f}s)",
              f"{len(bad)} others, e.g. {bad[:2]}")
    run.check(after - before <= 1, f"#24 flood: 300 requests, fetches before={before} after={after}")
    c = claims()
    a = run.record("/me after flood", demo.me(K.rs1.token(c)))
    run.check(is_claims(a, c) and a.elapsed < FAST, f"known kid after the flood → 200 ({a.elapsed:.3f}s)", a)


def a4_failures(run, K):
    server = run.jwks([K.rs1.jwk()])
    demo = start_loaded(run, server, min_refresh=1)

    def known(label, what):
        c = claims()
        a = run.record(f"/me known {label}", demo.me(K.rs1.token(c)))
        run.check(is_claims(a, c) and a.elapsed < FAST, f"{what} → known kid 200 ({a.elapsed:.3f}s)", a)

    for mode in ("500", "garbage"):
        wait_out_cooldown(1)
        server.set(mode=mode)
        before = server.count()
        kid = "unknown-" + uuid.uuid4().hex
        a = run.record(f"/me unknown {mode}", demo.me(K.rs1.token(claims(), kid=kid)))
        run.check(is_invalid_token(a, kid), f"#23 JWKS {mode}: unknown kid → 401", a)
        run.check(server.count() > before, f"#23 JWKS {mode}: a refresh was attempted",
                  f"fetches before={before} after={server.count()}")
        known(mode, f"#23 JWKS {mode}: cached keys keep working")

    wait_out_cooldown(1)
    server.set(mode="hang")
    before = server.count()
    kid = "unknown-" + uuid.uuid4().hex
    pending = {}
    waiter = threading.Thread(target=lambda: pending.setdefault(
        "a", demo.me(K.rs1.token(claims(), kid=kid), timeout=20)), daemon=True)
    waiter.start()
    reached = server.wait_arrived(before + 1, FETCH_TIMEOUT)
    run.check(reached, "#23 JWKS hangs: the unknown kid triggered a fetch", f"fetches={server.count()}")
    for i in range(5):
        c = claims()
        a = run.record(f"/me known during hang {i}", demo.me(K.rs1.token(c)))
        run.check(is_claims(a, c) and a.elapsed < FAST,
                  f"#23 JWKS hangs: known kid → 200 without waiting ({a.elapsed:.3f}s)", a)
    run.check(waiter.is_alive(), "#23 JWKS hangs: the unknown-kid request was still waiting on the fetch",
              pending.get("a"))
    waiter.join(FETCH_TIMEOUT + 10)
    a = pending.get("a") or Answer(error="still waiting")
    run.record("/me unknown after hang", a)
    run.check(is_invalid_token(a, kid) and a.elapsed < FETCH_TIMEOUT + 3,
              f"#23 JWKS hangs: the unknown-kid request → 401 after the fetch timeout ({a.elapsed:.1f}s)", a)
    known("after hang", "#23 after the hung fetch")

    wait_out_cooldown(1)
    server.stop()   # nothing listens any more: connection refused
    kid = "unknown-" + uuid.uuid4().hex
    a = run.record("/me unknown refused", demo.me(K.rs1.token(claims(), kid=kid)))
    run.check(is_invalid_token(a, kid) and a.elapsed < FETCH_TIMEOUT + 1,
              f"#23 JWKS unreachable: unknown kid → 401 ({a.elapsed:.2f}s)", a)
    known("refused", "#23 JWKS unreachable: cached keys keep working")


def a5_down_at_start(run, K):
    def expect_unavailable(demo, what):
        c = claims()
        a = run.record(f"/me {what}", demo.me(K.rs1.token(c)))
        run.check(is_unavailable(a), f"{what}: valid token → 503 temporarily_unavailable, no WWW-Authenticate", a)
        h, ready = demo.health()
        run.record(f"/health {what}", h)
        run.check(h.status == 200 and ready is False, f"{what}: /health 200 keys_ready false", h)

    def expect_recovery(demo, what):
        deadline = time.monotonic() + 15
        start = time.monotonic()
        c = claims()
        token = K.rs1.token(c)
        while True:   # time-based behaviour (backoff retries): poll with a deadline
            a = demo.me(token)
            if a.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        run.check(is_claims(a, c), f"{what}: /me → 200 once the JWKS answers "
                                   f"({time.monotonic() - start:.1f}s)", a)
        run.check(demo.health()[1] is True, f"{what}: /health keys_ready true afterwards")

    server = run.jwks([K.rs1.jwk()], mode="500")
    demo = run.demo(jwks_env(server.url, min_refresh=1))
    run.check(server.wait_served(1, FIRST_FETCH_WAIT), "JWKS 500 at start: the demo tried to load keys",
              f"fetches={server.count()}, output: {demo.tail()}")
    expect_unavailable(demo, "JWKS 500 at start")
    server.set(mode="ok")
    expect_recovery(demo, "JWKS 500 at start")

    port = free_port()   # nothing listens there (yet)
    demo = run.demo(jwks_env(f"http://127.0.0.1:{port}/jwks.json", min_refresh=1))
    expect_unavailable(demo, "JWKS port closed at start")
    run.jwks([K.rs1.jwk()], port=port)
    expect_recovery(demo, "JWKS port closed at start")


def a6_slow(run, K):
    server = run.jwks([K.rs1.jwk()])
    demo = start_loaded(run, server, min_refresh=1)
    wait_out_cooldown(1)
    server.set(keys=[K.rs1.jwk(), K.rs2.jwk()], mode="slow")
    before = server.count()
    c2 = claims()
    pending = {}
    waiter = threading.Thread(target=lambda: pending.setdefault(
        "a", demo.me(K.rs2.token(c2), timeout=20)), daemon=True)
    waiter.start()
    reached = server.wait_arrived(before + 1, FETCH_TIMEOUT)
    run.check(reached, "#23 slow JWKS: the new kid triggered a fetch", f"fetches={server.count()}")
    for i in range(5):
        c = claims()
        a = run.record(f"/me known during slow {i}", demo.me(K.rs1.token(c)))
        run.check(is_claims(a, c) and a.elapsed < FAST,
                  f"#23 slow JWKS: known kid → 200 without waiting ({a.elapsed:.3f}s)", a)
    run.check(waiter.is_alive(), "#23 slow JWKS: the new-kid request was still waiting on the fetch",
              pending.get("a"))
    waiter.join(SLOW_DELAY + FETCH_TIMEOUT + 5)
    a = pending.get("a") or Answer(error="still waiting")
    run.record("/me new kid after slow fetch", a)
    run.check(is_claims(a, c2), f"#23 slow JWKS: the new kid → 200 once the {SLOW_DELAY:.0f}s fetch "
                                f"answers ({a.elapsed:.1f}s)", a)


def a7_weak_keys(run, K):
    crv_jwk = K.crv.jwk(crv="P-384", alg=None)   # P-256 coordinates labelled P-384
    oct_jwk = {"kty": "oct", "kid": "oct-1", "alg": "HS256", "use": "sig", "k": b64(K.oct_secret)}
    server = run.jwks([
        K.good.jwk(),
        K.weak.jwk(),
        K.enc.jwk(use="enc"),
        K.ops.jwk(use=None, key_ops=["encrypt"]),
        oct_jwk,
        crv_jwk,
        K.alg_rsa.jwk(alg="ES256"),
        K.alg_ec.jwk(alg="ES384"),
    ])
    demo = start_loaded(run, server)
    c = claims()
    a = run.record("/me good", demo.me(K.good.token(c)))
    run.check(is_claims(a, c), "the good RS256 key in the set → 200", a)
    cases = [
        ("RSA-1024 key", K.weak.token(claims())),
        ('use "enc" key', K.enc.token(claims())),
        ('key_ops ["encrypt"] key', K.ops.token(claims())),
        ("oct key, HS256 token keyed with its secret",
         forge({"alg": "HS256", "typ": "JWT", "kid": "oct-1"}, claims(), "HS256", K.oct_secret)),
        ("oct key, RS256 token naming it", K.good.token(claims(), kid="oct-1")),
        ("EC key whose crv (P-384) mismatches its P-256 coordinates", K.crv.token(claims())),
        ("EC key whose crv mismatches, ES384 token", K.crv.token(claims(), alg="ES384")),
        ('RSA key whose JWK alg says "ES256"', K.alg_rsa.token(claims())),
        ('P-256 key whose JWK alg says "ES384"', K.alg_ec.token(claims())),
        ('P-256 key whose JWK alg says "ES384", ES384 token', K.alg_ec.token(claims(), alg="ES384")),
    ]
    for what, token in cases:
        a = run.record(f"/me {what}", demo.me(token))
        run.check(is_invalid_token(a), f"#22 {what} is refused → 401", a)
    c = claims()
    a = run.record("/me good again", demo.me(K.good.token(c)))
    run.check(is_claims(a, c), "the good key still → 200", a)


# ---------------------------------------------------------------------------------------
# B scenarios: a real OpenID Provider

def oidc_env(issuers, min_refresh=None):
    env = {"JWT_OIDC_ISSUER": ",".join(issuers), "JWT_AUDIENCE": ",".join(RESOURCES)}
    if min_refresh is not None:
        env["JWT_JWKS_MIN_REFRESH"] = str(min_refresh)
    return env


def start_oidc_loaded(run, providers):
    jwks_before = [p.logged(p.is_jwks) for p in providers]
    demo = run.demo(oidc_env([p.issuer for p in providers]))
    fetched = all(p.wait_logged(p.is_jwks, n + 1, FIRST_FETCH_WAIT)
                  for p, n in zip(providers, jwks_before))
    ready = fetched and demo.wait_keys_ready(3)
    names = "+".join(p.name for p in providers)
    if not run.check(ready, f"keys of {names} load at start (discovery, jwks_uri, keys_ready)",
                     f"fetched={fetched}, health={demo.health()[0]!r}, output: {demo.tail()}"):
        raise Abort("keys never loaded")
    return demo


def op_claims(p, alg, **extra):
    """Claims shaped like the provider's own access tokens."""
    now = int(time.time())
    c = {"jti": uuid.uuid4().hex, "sub": CLIENT_ID, "iat": now, "exp": now + 600,
         "scope": "api:read", "client_id": CLIENT_ID, "iss": p.issuer, "aud": RESOURCE_FOR[alg]}
    return override(c, extra)


def b1_b2_tokens(run, P1, _P2, stranger):
    demo = start_oidc_loaded(run, [P1])
    for alg in ("RS256", "ES256", "EdDSA"):
        token, header, payload = P1.access_token(alg)
        run.check(header.get("alg") == alg and header.get("typ") == "at+jwt"
                  and header.get("kid") == P1.keys[alg].kid,
                  f"B1 {P1.name} issues a {alg} at+jwt token with kid {P1.keys[alg].kid}", header)
        a = run.record(f"/me P1 {alg}", demo.me(token))
        body = a.json() or {}
        run.check(is_claims(a, payload) and body.get("iss") == P1.issuer
                  and body.get("aud") == RESOURCE_FOR[alg],
                  f"B1 {P1.name} {alg} access token → 200, /me iss={P1.issuer} aud={RESOURCE_FOR[alg]}", a)

    rs = P1.keys["RS256"]
    c = op_claims(P1, "RS256")
    a = run.record("/me P1 forged with P1's real key", demo.me(rs.token(c, typ="at+jwt")))
    run.check(is_claims(a, c), "B2 control: a token minted here with P1's real key → 200", a)
    real, _, payload = P1.access_token("RS256")
    h, p, s = real.split(".")
    tampered = f"{h}.{b64(json.dumps(dict(payload, sub='admin', scope='api:read api:admin')))}.{s}"
    now = int(time.time())
    forged = [
        ("P1's kid signed by another key", stranger.token(op_claims(P1, "RS256"), kid=rs.kid, typ="at+jwt")),
        ("payload tampered", tampered),
        ("alg none with P1's kid", forge({"alg": "none", "typ": "at+jwt", "kid": rs.kid},
                                         op_claims(P1, "RS256"), signature=b"")),
        ("expired, signed with P1's real key",
         rs.token(op_claims(P1, "RS256", iat=now - 4000, exp=now - 3600), typ="at+jwt")),
        ("aud not configured, signed with P1's real key",
         rs.token(op_claims(P1, "RS256", aud="http://127.0.0.1/api/other"), typ="at+jwt")),
        ("no exp, signed with P1's real key", rs.token(op_claims(P1, "RS256", exp=None), typ="at+jwt")),
    ]
    for what, token in forged:
        a = run.record(f"/me {what}", demo.me(token))
        run.check(is_invalid_token(a), f"B2 {what} → 401", a)


def b3_pinning(run, P1, _P2, _stranger):
    port = urllib.parse.urlsplit(P1.issuer).port
    token, _, _ = P1.access_token("RS256")
    for what, configured in [("trailing slash", P1.issuer + "/"),
                             ("localhost", f"http://localhost:{port}")]:
        before = P1.logged(P1.is_discovery)
        demo = run.demo(oidc_env([configured], min_refresh=1))
        # Wait for a second discovery attempt (the first retry): by then the first attempt,
        # including any JWKS fetch a lax implementation would make, is over.
        asked = P1.wait_logged(P1.is_discovery, before + 2, FIRST_FETCH_WAIT)
        run.check(asked, f"B3 {what}: the demo asked P1 for discovery (and retried)",
                  f"discovery requests: {P1.logged(P1.is_discovery) - before}, output: {demo.tail()}")
        a = run.record(f"/me pinning {what}", demo.me(token))
        run.check(is_unavailable(a), f"B3 issuer {configured!r} ≠ discovered {P1.issuer!r}: "
                                     f"valid P1 token → 503, no WWW-Authenticate", a)
        h, ready = demo.health()
        run.record(f"/health pinning {what}", h)
        run.check(h.status == 200 and ready is False, f"B3 {what}: /health keys_ready false", h)
        demo.stop()


def b4_two_issuers(run, P1, P2, _stranger):
    demo = start_oidc_loaded(run, [P1, P2])
    for p in (P1, P2):
        for alg in ("RS256", "ES256", "EdDSA"):
            token, _, payload = p.access_token(alg)
            a = run.record(f"/me {p.name} {alg}", demo.me(token))
            run.check(is_claims(a, payload) and (a.json() or {}).get("iss") == p.issuer,
                      f"B4 {p.name} {alg} token → 200 (iss {p.issuer})", a)
    for alg in ("RS256", "ES256", "EdDSA"):
        k2 = P2.keys[alg]
        a = run.record(f"/me iss P1 P2 key {alg}", demo.me(k2.token(op_claims(P1, alg), typ="at+jwt")))
        run.check(is_invalid_token(a), f"B4 iss P1 signed with P2's {alg} key and kid {k2.kid!r} "
                                       f"(P1 has the same kid) → 401", a)
        k1 = P1.keys[alg]
        a = run.record(f"/me iss P2 P1 key {alg}", demo.me(k1.token(op_claims(P2, alg), typ="at+jwt")))
        run.check(is_invalid_token(a), f"B4 iss P2 signed with P1's {alg} key → 401", a)

    rogue = run.jwks()   # counts any request made to the token's iss URL
    stats_before = [p.stats() for p in (P1, P2)]
    rs = P1.keys["RS256"]
    cases = [("known kid", rs.token(op_claims(P1, "RS256", iss=rogue.base), typ="at+jwt")),
             ("unknown kid", rs.token(op_claims(P1, "RS256", iss=rogue.base), kid="rogue-kid",
                                      typ="at+jwt"))]
    for what, token in cases:
        a = run.record(f"/me iss not configured {what}", demo.me(token))
        run.check(is_invalid_token(a), f"B4 iss not configured ({what}), signed with P1's key → 401", a)
    stats_after = [p.stats() for p in (P1, P2)]
    for p, b, a in zip((P1, P2), stats_before, stats_after):
        disc = sum(n for k, n in a.items() if p.is_discovery(k)) - \
            sum(n for k, n in b.items() if p.is_discovery(k))
        run.check(disc == 0, f"B4 iss not configured: no discovery request to {p.name}", f"{b} → {a}")
    run.check(rogue.count() == 0 and not rogue.other_paths(),
              "B4 iss not configured: nothing fetched from the token's iss URL", rogue.other_paths())
    # The known-kid case must not cause any JWKS fetch either (the unknown kid may, at most once).
    p1_jwks = [sum(n for k, n in s.items() if P1.is_jwks(k)) for s in (stats_before[0], stats_after[0])]
    run.check(p1_jwks[1] - p1_jwks[0] <= 1, f"B4 iss not configured: at most one JWKS fetch from P1 "
                                            f"(before={p1_jwks[0]} after={p1_jwks[1]})")


# ---------------------------------------------------------------------------------------

A_SCENARIOS = [
    ("A1", "basic", a1_basic),
    ("A2", "rotation", a2_rotation),
    ("A3", "flood", a3_flood),
    ("A4", "failures", a4_failures),
    ("A5", "down at start", a5_down_at_start),
    ("A6", "slow endpoint", a6_slow),
    ("A7", "weak keys", a7_weak_keys),
]
B_SCENARIOS = [
    ("B1", "OIDC tokens and forgeries", b1_b2_tokens),
    ("B3", "OIDC issuer pinning", b3_pinning),
    ("B4", "OIDC two issuers", b4_two_issuers),
]


def scenario(suite, sid, name, fn, demos, *args):
    """fn(run, *args) on each demo (Run.demo starts the run's own), then the two compared."""
    run_scenario(suite, f"{sid} {name}", demos, lambda run, _binary, *a: fn(run, *a), *args,
                 run_class=Run)


def oidc_node(suite):
    """The node binary, with tests/oidc's packages installed; None when B must be skipped."""
    node = required_tool(suite, "B", "node",
                         "node is not on PATH: the OpenID Provider scenarios (B) cannot run",
                         "Install Node.js >= 20 to run them.")
    if node is None or not node_packages(suite, (OIDC_DIR, "oidc-provider"), prefix="B: "):
        return None
    return node


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of scenario ids or A/B (e.g. A1,A4,B)")
    _, BIN_DIR, demos, only = parse_demo_arguments(parser)

    def wanted(sid):
        return not only or sid in only or sid[0] in only

    suite = Suite()
    start = time.monotonic()
    try:
        a_list = [s for s in A_SCENARIOS if wanted(s[0])]
        if a_list:
            keys = KeySet()
            for sid, name, fn in a_list:
                scenario(suite, sid, name, fn, demos, keys)
        b_list = [s for s in B_SCENARIOS if wanted(s[0])]
        node = oidc_node(suite) if b_list else None
        if node:
            providers = []
            try:
                # P2's kids collide with P1's on purpose: keys must be looked up per issuer.
                p1_keys = [Key("RS256", "op-rs"), Key("ES256", "op-es"), Key("EdDSA", "op-ed")]
                p2_keys = [Key("RS256", "op-rs"), Key("ES256", "op-es"), Key("EdDSA", "op-ed")]
                stranger = Key("RS256", "stranger")
                providers.append(Provider(node, "P1", p1_keys))
                providers.append(Provider(node, "P2", p2_keys))
                P1, P2 = providers
                suite.check(True, f"providers P1 {P1.issuer} and P2 {P2.issuer} started")
                for sid, name, fn in b_list:
                    scenario(suite, sid, name, fn, demos, P1, P2, stranger)
            except Exception:   # noqa: BLE001
                suite.check(False, "B: the OpenID Providers", traceback.format_exc().strip().replace("\n", " | "))
            finally:
                for p in providers:
                    p.stop()
    finally:
        kill_live()
    return suite.finish(f"remote keys: {len(demos)} demos, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
