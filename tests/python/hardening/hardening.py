#!/usr/bin/env python3
"""Black-box acceptance suite for the "Hardening" block of the demo contract.

Runs every scenario against BOTH demo binaries (`axum-demo` and `actix-demo`), one after
the other, and checks that they answer the same requests identically (status,
WWW-Authenticate, JSON body; tokens scrubbed). Only 127.0.0.1 is used (example.com only
appears in URLs that the demo must refuse before any network access).

Usage:
    hardening.py [BIN_DIR] [--only H1,H4] [--demos axum-demo,actix-demo]

BIN_DIR defaults to target/debug. Prints one line per check (PASS/FAIL) and a final
"N passed, N failed" line; exits 1 on any failure. Needs Python's `cryptography`.

H1 /login content type: application/json (also with charset, and `Application/JSON`) and
   alice/alice-password → 200; form-urlencoded, text/plain, multipart/form-data, no
   Content-Type, two Content-Type headers → 415.
H2 no credentials printed (RUST_LOG=info, the demos' own default): JWT_JWKS_URL with user
   information and an `api_key` query, served by a JWKS server run here (its first answer is
   a 500, so the failure path logs too): the server receives the credentials, the keys load
   and a token signed by them gets 200, and the whole output never shows `s3cret-pw`,
   `k3y-value` or `api_key`. The same URL on a non-loopback host over plain http
   (example.com) is refused at start: non-zero exit, a message naming JWT_JWKS_URL, no
   secret. The same for JWT_OIDC_ISSUER: loopback issuers with user information and query,
   or with the query only, whose discovery document names another issuer (the failure is
   logged), and a refused example.com issuer.
H3 out-of-range numbers stop the demo at start (non-zero exit, a message naming the
   variable, never "listening on"): JWT_LEEWAY 9300000000000000000 and 3601,
   JWT_REFRESH_TTL u64::MAX, JWT_ACCESS_TTL 0, JWT_JWKS_MIN_REFRESH u64::MAX (with a JWKS
   URL), DEMO_HEAD_TIMEOUT 0 and -1. The in-range edges start and serve: JWT_LEEWAY 3600,
   JWT_ACCESS_TTL 1, JWT_REFRESH_TTL 315360000 (10 years), DEMO_HEAD_TIMEOUT 3600 (login,
   refresh, tokens expired within / beyond the leeway, exp = u64::MAX: no 5xx), and
   JWT_JWKS_MIN_REFRESH 2592000 (30 days).
H4 slow clients, DEMO_HEAD_TIMEOUT=2: (a) 150 connections that send half a request head and
   stall are all closed by the server within timeout + 8 s, while /health answers 200;
   (b) an idle keep-alive connection is closed within timeout + 8 s after its response;
   (c) the demo started with RLIMIT_NOFILE 128: 160 stalled half heads are all closed, and
   /health answers 200 afterwards. Measured close times are printed.
H5 `aud` without a configured audience (SECURITY.md row 25): aud "other-api" (string or
   array) → 401 invalid_token; no aud → 200; with JWT_AUDIENCE=orders-api, aud orders-api
   → 200 and aud other-api → 401.
H6 `Authorization: Bearer` then 1, 2 or 4 spaces then a valid token → 200 (RFC 7235
   1*SP); `Bearer<TAB><token>` → 400 invalid_request.
H7 roles split on U+0020 only (row 26): "user\\u00a0admin" (escaped and raw UTF-8),
   "user\\u2003admin", "user\\u3000admin", "user\\tadmin" → GET /admin 403
   insufficient_scope; "user admin" → 200.
H8 revocation outlives a short refresh TTL (row 29), JWT_ACCESS_TTL=120 JWT_REFRESH_TTL=2:
   a logged-out access token, and the access tokens of a family revoked by refresh reuse,
   are 401 at once and still 401 3.5 s later, while an untouched login's token is 200.
H9 JWKS redirects (row 28), servers A and B run here: A's /jwks.json redirects to
   http://[::ffff:127.0.0.1]:B/ (an IPv4-mapped address: not loopback by the policy) where
   B serves an attacker's key set: the attacker's token is 503 (keys never loaded) and B
   gets no request; a redirect to another scheme (ftp) is refused alike; a relative
   redirect to /good.json on the same loopback host is followed (200); 5 hops are followed
   (200), 6 are refused (503, /good.json never fetched).
"""
import base64
import collections
import http.client
import http.server
import json
import os
import resource
import selectors
import socket
import sys
import threading
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from demo_support import (DemoProcess, ScenarioRun, Suite, demo_arguments, error_of, forge,
                          free_port, is_invalid_token, is_unavailable, jwk_of, kill_live,
                          override, parse_demo_arguments, private_key, raw_request, run_scenario,
                          run_until_exit, unb64)

DEMOS = ["axum-demo", "actix-demo"]
BIN_DIR = os.path.join(ROOT, "target", "debug")

SECRET = "hardening-secret-0123456789abcdef-0123456789abcdef"
ALICE = {"username": "alice", "password": "alice-password"}
COOKIE = "refresh_token"
SECRETS = ("s3cret-pw", "k3y-value", "api_key")   # must never be printed (H2)
HEAD_TIMEOUT = 2          # DEMO_HEAD_TIMEOUT for H4
CLOSE_SLACK = 8           # the server must close a slow client within HEAD_TIMEOUT + this
EXIT_DEADLINE = 15        # a demo refusing its configuration exits at once; wait at most this
READY_DEADLINE = 10       # remote keys: first fetch, or a retry after a failed one (~1 s)
U64_MAX = 18446744073709551615
NOW = int(time.time())    # one clock reading, so both demos get the same claims to echo


# ---------------------------------------------------------------------------------------
# Tokens and keys

def hs256(claims):
    return forge({"alg": "HS256", "typ": "JWT"}, claims, "HS256", SECRET.encode())


def claims(**extra):
    """Valid claims for alice (no iss, no aud), changed by `extra` (None removes)."""
    return override({"sub": "alice", "iat": NOW, "exp": NOW + 600, "roles": ["user"]}, extra)


class Signer:
    """A private key with its kid: `jwks()` publishes it, `token()` signs with it."""

    def __init__(self, private, kid):
        self.private, self.kid = private, kid
        self.alg = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"

    def jwks(self):
        jwk = dict(jwk_of(self.private), kid=self.kid, alg=self.alg, use="sig")
        return json.dumps({"keys": [jwk]}).encode()

    def token(self, c=None):
        return forge({"alg": self.alg, "typ": "JWT", "kid": self.kid}, c or claims(), self.alg,
                     self.private)


GOOD = Signer(private_key("rsa.pem"), "k1")
# The attacker publishes the same kid, so a demo that fetched B's set would accept this.
ATTACKER = Signer(ec.generate_private_key(ec.SECP256R1()), "k1")


def looks_like_jwt(text):
    if not isinstance(text, str) or text.count(".") != 2:
        return False
    try:
        return isinstance(json.loads(unb64(text.split(".")[0])), dict)
    except (ValueError, TypeError):
        return False


def scrub(value):
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    return "<jwt>" if looks_like_jwt(value) else value


def comparable(a):
    """What must be identical between the demos: status, WWW-Authenticate, body."""
    if a.error:
        return ("no answer",)
    body = a.json()
    return (a.status, a.www, scrub(body if body is not None else a.body))


def has_secret(text):
    return [s for s in SECRETS if s in text]


def oneline(text, n=4):
    """The last n lines of `text`, on one line (a FAIL line stays one line)."""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-n:])


def strip_ansi(text):
    out, i = [], 0
    while i < len(text):
        if text[i] == "\x1b":
            j = text.find("m", i)
            i = j + 1 if j != -1 else len(text)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# ---------------------------------------------------------------------------------------
# HTTP plumbing

def refresh_cookie(a):
    for k, v in a.headers:
        if k.lower() == "set-cookie" and v.startswith(f"{COOKIE}="):
            return v.split(";")[0].split("=", 1)[1]
    return None


class TinyServer:
    """ThreadingHTTPServer on 127.0.0.1:0. `route(server, path, query, headers)` returns
    (status, {header: value}, body). Every GET is recorded, and waiters are woken."""

    def __init__(self, route):
        self.route = route
        self.cond = threading.Condition()
        self.requests = []   # (path, query, Authorization header)
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                with outer.cond:
                    outer.requests.append((parts.path, parts.query,
                                           self.headers.get("Authorization")))
                    n = len(outer.requests)
                status, headers, body = outer.route(outer, parts.path, parts.query, n)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    pass
                finally:
                    with outer.cond:
                        outer.cond.notify_all()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def count(self, path=None):
        with self.cond:
            return sum(1 for p, _, _ in self.requests if path is None or p == path)

    def wait_count(self, n, path=None, timeout=READY_DEADLINE):
        """Waits until `n` requests (for `path`) have arrived."""
        with self.cond:
            return self.cond.wait_for(
                lambda: sum(1 for p, _, _ in self.requests if path is None or p == path) >= n,
                timeout)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


JSON = {"Content-Type": "application/json"}


# ---------------------------------------------------------------------------------------
# Processes

class Demo(DemoProcess):
    """A demo listening on 127.0.0.1; with `nofile`, started under that RLIMIT_NOFILE.
    A missing binary or a demo that does not start raises RuntimeError, which run_one
    reports as a failed check."""

    def __init__(self, binary, env, nofile=None):
        env = dict(env)
        env.setdefault("DEMO_HEAD_TIMEOUT", "30")   # not the caller's

        def limit():   # in the child only, between fork and exec
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        super().__init__(BIN_DIR, binary, env, preexec_fn=None if nofile is None else limit)

    def get(self, path, token=None, headers=None, timeout=10):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return self.request("GET", path, h, timeout=timeout)

    def me(self, token):
        return self.get("/me", token)

    def login(self):
        return self.request("POST", "/login", JSON, json.dumps(ALICE))

    def refresh(self, token):
        return self.request("POST", "/refresh", {"Cookie": f"{COOKIE}={token}"})

    def logout(self, access, refresh=None):
        h = {"Authorization": f"Bearer {access}"}
        if refresh is not None:
            h["Cookie"] = f"{COOKIE}={refresh}"
        return self.request("POST", "/logout", h)

    def output(self):
        return strip_ansi("\n".join(self.lines))


def refused_start(binary, env):
    """Starts a demo that must refuse its configuration (RUST_LOG=info unless `env` says,
    no inherited DEMO_HEAD_TIMEOUT): (exit code, or None if it kept running until
    EXIT_DEADLINE; its whole output, without colours)."""
    code, out = run_until_exit(BIN_DIR, binary, dict({"RUST_LOG": "info"}, **env), EXIT_DEADLINE,
                               drop=("DEMO_HEAD_TIMEOUT",))
    return code, strip_ansi(out)


# ---------------------------------------------------------------------------------------
# Slow clients

def open_half_heads(port, n):
    """n connections that each send half a request head and stall: [(socket, opened at)]."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        socks.append((s, time.monotonic()))
    return socks


def wait_closed(socks, deadline):
    """Waits on the sockets (epoll) until the server closes each (recv → b'' or a reset) or
    the monotonic `deadline` passes. Returns (seconds from opening to close for each closed
    socket, how many are still open, Counter of status lines the server sent first)."""
    sel = selectors.DefaultSelector()
    for s, opened in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [opened, None])
    times, statuses = [], collections.Counter()
    try:
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            for key, _ in sel.select(left):
                try:
                    data = key.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:   # ECONNRESET and the like: closed by the server too
                    data = b""
                if data:
                    if key.data[1] is None:
                        key.data[1] = data.split(b"\r\n")[0].decode(errors="replace")
                        statuses[key.data[1]] += 1
                    continue
                times.append(time.monotonic() - key.data[0])
                sel.unregister(key.fileobj)
        return times, len(sel.get_map()), statuses
    finally:
        sel.close()


def close_all(socks):
    for s, _ in socks:
        try:
            s.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------------------
# Bookkeeping

class Run(ScenarioRun):
    def record(self, label, answer):
        self.answers[label] = comparable(answer)
        return answer

    def demo(self, binary, env, nofile=None):
        d = Demo(binary, env, nofile)
        self.cleanup.append(d.stop)
        return d

    def server(self, route):
        s = TinyServer(route)
        self.cleanup.append(s.stop)
        return s

    def expect(self, label, a, ok, what):
        """Records `a` and checks it."""
        self.record(label, a)
        return self.check(ok, what, a)


# ---------------------------------------------------------------------------------------
# H1 /login content type

LOGIN_CASES = [
    # label, Content-Type headers, expected status
    ("application/json", ["application/json"], 200),
    ("application/json; charset=utf-8", ["application/json; charset=utf-8"], 200),
    ("Application/JSON", ["Application/JSON"], 200),
    ("application/x-www-form-urlencoded", ["application/x-www-form-urlencoded"], 415),
    ("text/plain", ["text/plain"], 415),
    ("multipart/form-data; boundary=x", ["multipart/form-data; boundary=x"], 415),
    ("no Content-Type", [], 415),
    ("two Content-Type headers (json, json)", ["application/json", "application/json"], 415),
    ("two Content-Type headers (json, text/plain)", ["application/json", "text/plain"], 415),
]


def h1_login_content_type(run, binary):
    demo = run.demo(binary, {"JWT_SECRET": SECRET})
    body = json.dumps(ALICE).encode()
    for label, types, expected in LOGIN_CASES:
        a = raw_request(demo.port, "POST", "/login", [("Content-Type", t) for t in types], body)
        if expected == 200:
            b = a.json() or {}
            ok = (a.status == 200 and looks_like_jwt(b.get("access_token"))
                  and b.get("token_type") == "Bearer" and refresh_cookie(a))
        else:
            ok = a.status == 415 and refresh_cookie(a) is None
        run.expect(label, a, ok, f"POST /login, {label} → {expected}")


# ---------------------------------------------------------------------------------------
# H2 no credentials printed

def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def output_clean(run, what, text, must_show=None):
    leaked = has_secret(text)
    tail = oneline(text)
    lines = [line.strip() for line in text.splitlines() if has_secret(line)]
    run.check(not leaked, f"{what}: the output never shows {', '.join(SECRETS)}",
              f"found {leaked} in {len(lines)} line(s), the first: {lines[0] if lines else ''}")
    if must_show:
        run.check(must_show in text, f"{what}: the output mentions {must_show!r}", tail)


def expect_refused(run, binary, label, env, variable):
    code, out = refused_start(binary, env)
    lines = [line for line in out.splitlines() if variable in line]
    run.answers[f"{label} exit"] = (code, lines[:1])
    run.check(code not in (None, 0) and "listening on" not in out,
              f"{label}: refused at start (exit {code}, never 'listening on')", oneline(out))
    run.check(bool(lines), f"{label}: the message names {variable}", oneline(out))
    output_clean(run, label, out)


def h2_no_credentials(run, binary):
    # A JWKS URL carrying user information and an api_key query. The first fetch gets a 500
    # (so the failure is logged), the next one the key set.
    def jwks_route(server, path, query, n):
        if path != "/jwks.json":
            return 404, {}, b"{}"
        return (500, JSON, b'{"error":"boom"}') if n == 1 else (200, JSON, GOOD.jwks())

    jwks = run.server(jwks_route)
    url = f"http://user:s3cret-pw@127.0.0.1:{jwks.port}/jwks.json?api_key=k3y-value"
    demo = run.demo(binary, {"JWT_JWKS_URL": url, "RUST_LOG": "info"})
    what = "JWT_JWKS_URL with user:password and ?api_key on loopback"
    run.check(jwks.wait_count(2, "/jwks.json"),
              f"{what}: the first fetch failed (500) and was retried", jwks.requests)
    seen = list(jwks.requests)
    run.check(bool(seen) and all(q == "api_key=k3y-value" and auth == basic("user", "s3cret-pw")
                                 for _, q, auth in seen),
              f"{what}: the JWKS server received the query and the Basic credentials", seen)
    ready = demo.wait_keys_ready(3)
    run.check(ready, f"{what}: the keys load from the credentialed URL (/health keys_ready)",
              oneline(demo.output(), 2))
    if ready:
        a = demo.me(GOOD.token())
        run.check(a.status == 200, f"{what}: a token signed by the served key → 200", a)
    demo.stop()
    output_clean(run, what, demo.output(), must_show="listening on")

    expect_refused(run, binary, "JWT_JWKS_URL http://user:s3cret-pw@example.com/…?api_key=…",
                   {"JWT_JWKS_URL": "http://user:s3cret-pw@example.com/jwks.json?api_key=k3y-value"},
                   "JWT_JWKS_URL")

    # An OpenID Connect issuer never has a query (Discovery §2): refused at start, and
    # the message shows neither the query nor the user information.
    expect_refused(run, binary, "JWT_OIDC_ISSUER with user:password and ?api_key on loopback",
                   {"JWT_OIDC_ISSUER": "http://user:s3cret-pw@127.0.0.1:9/realm?api_key=k3y-value"},
                   "JWT_OIDC_ISSUER")
    # An issuer with user information; the discovery document names the issuer without
    # it (as a real provider would), so the demo logs a refusal, redacted.
    for label, issuer_of in [
        ("user:password", lambda p: f"http://user:s3cret-pw@127.0.0.1:{p}/realm"),
    ]:
        def oidc_route(server, path, query, n):
            if path.startswith("/realm"):
                doc = {"issuer": f"{server.base}/realm", "jwks_uri": f"{server.base}/jwks.json"}
                return 200, JSON, json.dumps(doc).encode()
            if path == "/jwks.json":
                return 200, JSON, GOOD.jwks()
            return 404, {}, b"{}"

        idp = run.server(oidc_route)
        what = f"JWT_OIDC_ISSUER with {label} on loopback"
        demo = run.demo(binary, {"JWT_OIDC_ISSUER": issuer_of(idp.port), "RUST_LOG": "info"})
        # Two discovery requests: the first attempt has finished (and was logged).
        run.check(idp.wait_count(2), f"{what}: discovery attempted, then retried", idp.requests)
        run.check(not demo.keys_ready(),
                  f"{what}: keys not loaded (the document names another issuer)")
        demo.stop()
        output_clean(run, what, demo.output(), must_show="listening on")

    expect_refused(run, binary, "JWT_OIDC_ISSUER http://user:s3cret-pw@example.com/…?api_key=…",
                   {"JWT_OIDC_ISSUER": "http://user:s3cret-pw@example.com/realm?api_key=k3y-value"},
                   "JWT_OIDC_ISSUER")


# ---------------------------------------------------------------------------------------
# H3 out-of-range numbers

def closed_port_url():
    return f"http://127.0.0.1:{free_port()}/jwks.json"


OUT_OF_RANGE = [
    ("JWT_LEEWAY", "9300000000000000000", {}),
    ("JWT_LEEWAY", "3601", {}),
    ("JWT_REFRESH_TTL", str(U64_MAX), {}),
    ("JWT_ACCESS_TTL", "0", {}),
    ("JWT_JWKS_MIN_REFRESH", str(U64_MAX), "jwks"),
    ("DEMO_HEAD_TIMEOUT", "0", {}),
    ("DEMO_HEAD_TIMEOUT", "-1", {}),
]


def h3_out_of_range(run, binary):
    for variable, value, extra in OUT_OF_RANGE:
        env = {variable: value}
        if extra == "jwks":
            env["JWT_JWKS_URL"] = closed_port_url()
        else:
            env["JWT_SECRET"] = SECRET
        code, out = refused_start(binary, env)
        label = f"{variable}={value}"
        lines = [line for line in out.splitlines() if variable in line]
        run.answers[f"{label} exit"] = (code, lines[:1])
        run.check(code not in (None, 0) and "listening on" not in out,
                  f"{label}: stops at start (exit {code}, never 'listening on')", oneline(out))
        run.check(bool(lines) and "panicked" not in out,
                  f"{label}: a clear message naming {variable} ({lines[0].strip() if lines else '-'})",
                  oneline(out))

    # In-range edges start and serve without a 5xx.
    env = {"JWT_SECRET": SECRET, "JWT_LEEWAY": "3600", "JWT_ACCESS_TTL": "1",
           "JWT_REFRESH_TTL": "315360000", "DEMO_HEAD_TIMEOUT": "3600"}
    demo = run.demo(binary, env)
    run.check(True, "JWT_LEEWAY=3600 JWT_ACCESS_TTL=1 JWT_REFRESH_TTL=315360000 "
                    "DEMO_HEAD_TIMEOUT=3600: starts")
    now = NOW
    cases = [
        ("expired 1800 s ago (within the 3600 s leeway)", claims(exp=now - 1800, iat=now - 2000), 200),
        ("expired 3700 s ago (beyond the leeway)", claims(exp=now - 3700, iat=now - 4000), 401),
        ("exp = u64::MAX", claims(exp=U64_MAX), 401),
        ("nbf = u64::MAX", claims(nbf=U64_MAX), 401),
    ]
    for label, c, expected in cases:
        a = run.record(f"leeway 3600 {label}", demo.me(hs256(c)))
        run.check(a.status == expected, f"leeway 3600: /me with a token {label} → {expected}", a)
    a = run.record("edges login", demo.login())
    b = a.json() or {}
    run.check(a.status == 200 and b.get("expires_in") == 1,
              "JWT_ACCESS_TTL=1: /login → 200, expires_in 1", a)
    cookie = refresh_cookie(a)
    if cookie:
        r = run.record("edges refresh", demo.refresh(cookie))
        run.check(r.status == 200 and refresh_cookie(r),
                  "JWT_REFRESH_TTL=315360000: /refresh → 200 with a rotated cookie", r)
    demo.stop()

    demo = run.demo(binary, {"JWT_JWKS_URL": closed_port_url(),
                             "JWT_JWKS_MIN_REFRESH": "2592000"})
    a = demo.get("/health")
    run.check(a.status == 200, "JWT_JWKS_MIN_REFRESH=2592000 (30 days, the maximum): starts, "
                               "/health 200", a)


# ---------------------------------------------------------------------------------------
# H4 slow clients

def h4_slow_clients(run, binary):
    limit = HEAD_TIMEOUT + CLOSE_SLACK
    demo = run.demo(binary, {"JWT_SECRET": SECRET, "DEMO_HEAD_TIMEOUT": str(HEAD_TIMEOUT)})

    # (a) 150 stalled half heads.
    socks = open_half_heads(demo.port, 150)
    run.cleanup.append(lambda: close_all(socks))
    t = time.monotonic()
    a = demo.get("/health", timeout=5)
    run.check(a.status == 200, f"/health → 200 while 150 half-sent heads are open "
                               f"({time.monotonic() - socks[0][1]:.2f} s after the first)", a)
    times, still, statuses = wait_closed(socks, t + limit)
    run.check(still == 0 and len(times) == 150,
              f"150 half-sent heads all closed by the server within {limit} s "
              f"(max {max(times, default=0):.2f} s, min {min(times, default=0):.2f} s; "
              f"answers sent first: {dict(statuses) or 'none'})",
              f"{still} still open after {limit} s; closed: {len(times)}")
    run.check(bool(times) and min(times) >= HEAD_TIMEOUT / 2,
              f"the half-sent heads were held for the timeout, not dropped at once "
              f"(min {min(times, default=0):.2f} s)")
    close_all(socks)

    # (b) an idle keep-alive connection.
    s = socket.create_connection(("127.0.0.1", demo.port), timeout=5)
    run.cleanup.append(s.close)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
    r = http.client.HTTPResponse(s)
    r.begin()
    r.read()
    done = time.monotonic()
    run.check(r.status == 200 and not r.will_close,
              "a keep-alive GET /health → 200, connection kept open",
              (r.status, r.getheaders()))
    times, still, statuses = wait_closed([(s, done)], done + limit)
    run.check(still == 0, f"the idle keep-alive connection is closed within {limit} s "
                          f"(after {max(times, default=0):.2f} s)", f"still open after {limit} s")
    s.close()
    demo.stop()

    # (c) RLIMIT_NOFILE 128 and 160 stalled half heads.
    demo = run.demo(binary, {"JWT_SECRET": SECRET, "DEMO_HEAD_TIMEOUT": str(HEAD_TIMEOUT)},
                    nofile=128)
    socks = open_half_heads(demo.port, 160)
    run.cleanup.append(lambda: close_all(socks))
    opened = time.monotonic()
    times, still, statuses = wait_closed(socks, opened + limit)
    run.check(still == 0 and len(times) == 160,
              f"RLIMIT_NOFILE=128: 160 half-sent heads all closed within {limit} s "
              f"(max {max(times, default=0):.2f} s)",
              f"{still} still open after {limit} s; closed: {len(times)}")
    close_all(socks)
    deadline = time.monotonic() + limit
    while True:
        a = demo.get("/health", timeout=2)
        if a.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    run.check(a.status == 200, f"RLIMIT_NOFILE=128: afterwards a fresh /health → 200 "
                               f"({time.monotonic() - opened:.2f} s after the flood)", a)
    run.check(demo.proc.poll() is None, "RLIMIT_NOFILE=128: the demo is still running",
              demo.tail())


# ---------------------------------------------------------------------------------------
# H5 aud without a configured audience

def h5_audience(run, binary):
    demo = run.demo(binary, {"JWT_SECRET": SECRET})
    a = run.record("no audience, aud other-api", demo.me(hs256(claims(aud="other-api"))))
    run.check(is_invalid_token(a), "no JWT_AUDIENCE: aud \"other-api\" → 401 invalid_token", a)
    a = run.record("no audience, aud [other-api]", demo.me(hs256(claims(aud=["other-api"]))))
    run.check(is_invalid_token(a), "no JWT_AUDIENCE: aud [\"other-api\"] → 401 invalid_token", a)
    c = claims()
    a = run.record("no audience, no aud", demo.me(hs256(c)))
    run.check(a.status == 200 and a.json() == c, "no JWT_AUDIENCE: no aud → 200 with the claims", a)
    demo.stop()

    demo = run.demo(binary, {"JWT_SECRET": SECRET, "JWT_AUDIENCE": "orders-api"})
    c = claims(aud="orders-api")
    a = run.record("orders-api, aud orders-api", demo.me(hs256(c)))
    run.check(a.status == 200 and a.json() == c, "JWT_AUDIENCE=orders-api: aud orders-api → 200", a)
    a = run.record("orders-api, aud other-api", demo.me(hs256(claims(aud="other-api"))))
    run.check(is_invalid_token(a), "JWT_AUDIENCE=orders-api: aud other-api → 401 invalid_token", a)


# ---------------------------------------------------------------------------------------
# H6 spaces after Bearer

def h6_bearer_spaces(run, binary):
    demo = run.demo(binary, {"JWT_SECRET": SECRET})
    token = hs256(claims())
    for label, sep in [("1 space", " "), ("2 spaces", "  "), ("4 spaces", "    ")]:
        a = run.record(label, demo.get("/me", headers={"Authorization": f"Bearer{sep}{token}"}))
        run.check(a.status == 200, f"Bearer + {label} + a valid token → 200", a)
    a = run.record("tab", demo.get("/me", headers={"Authorization": f"Bearer\t{token}"}))
    run.check(a.status == 400 and 'error="invalid_request"' in (a.www or "")
              and error_of(a) == "invalid_request",
              "Bearer + TAB + a valid token → 400 invalid_request", a)


# ---------------------------------------------------------------------------------------
# H7 roles split on U+0020 only

def raw_token(c):
    """HS256 with the claims as raw UTF-8 (no \\u escapes)."""
    return forge({"alg": "HS256", "typ": "JWT"}, json.dumps(c, ensure_ascii=False), "HS256",
                 SECRET.encode())


def h7_roles(run, binary):
    demo = run.demo(binary, {"JWT_SECRET": SECRET})
    refused = [
        ("user\\u00a0admin (escaped)", hs256(claims(roles="user\u00a0admin"))),
        ("user<NBSP>admin (raw UTF-8)", raw_token(claims(roles="user\u00a0admin"))),
        ("user\\u2003admin", hs256(claims(roles="user\u2003admin"))),
        ("user\\u3000admin", hs256(claims(roles="user\u3000admin"))),
        ("user\\tadmin", hs256(claims(roles="user\tadmin"))),
    ]
    for label, token in refused:
        a = run.record(label, demo.get("/admin", token))
        run.check(a.status == 403 and 'error="insufficient_scope"' in (a.www or "")
                  and error_of(a) == "insufficient_scope",
                  f"roles \"{label}\" → GET /admin 403 insufficient_scope", a)
    a = run.record("user admin", demo.get("/admin", hs256(claims(roles="user admin"))))
    run.check(a.status == 200, "roles \"user admin\" → GET /admin 200", a)


# ---------------------------------------------------------------------------------------
# H8 revocation outlives a short refresh TTL

def logged_in(run, demo, label):
    a = run.record(label, demo.login())
    access, cookie = (a.json() or {}).get("access_token"), refresh_cookie(a)
    run.need(a.status == 200 and access and cookie, f"{label} → 200 with a token pair", a)
    return access, cookie


def h8_revocation(run, binary):
    demo = run.demo(binary, {"JWT_SECRET": SECRET, "JWT_ACCESS_TTL": "120",
                             "JWT_REFRESH_TTL": "2"})
    # (a) logout
    access_a, cookie_a = logged_in(run, demo, "login (a)")
    a = run.record("logout", demo.logout(access_a, cookie_a))
    run.need(a.status == 204, "POST /logout with the bearer token and the cookie → 204", a)
    a = run.record("(a) /me after logout", demo.me(access_a))
    run.check(is_invalid_token(a), "(a) the logged-out access token → 401 at once", a)

    # (b) refresh reuse
    access_b, cookie_b = logged_in(run, demo, "login (b)")
    r = run.record("(b) refresh", demo.refresh(cookie_b))
    access_b2, cookie_b2 = (r.json() or {}).get("access_token"), refresh_cookie(r)
    run.need(r.status == 200 and access_b2 and cookie_b2, "(b) /refresh → 200 with a new pair", r)
    a = run.record("(b) replay", demo.refresh(cookie_b))
    run.check(a.status == 401, "(b) replaying the old refresh cookie → 401 (family revoked)", a)
    a = run.record("(b) new access", demo.me(access_b2))
    run.check(is_invalid_token(a), "(b) the family's new access token → 401", a)
    a = run.record("(b) old access", demo.me(access_b))
    run.check(is_invalid_token(a), "(b) the family's first access token → 401", a)
    revoked = time.monotonic()

    access_c, _ = logged_in(run, demo, "login (c, untouched)")
    # No event marks "the refresh TTL has elapsed": waiting for that TTL is the behaviour
    # under test, so this is a real sleep, not a synchronisation shortcut.
    time.sleep(max(0.0, revoked + 3.5 - time.monotonic()))
    a = run.record("(a) /me after 3.5 s", demo.me(access_a))
    run.check(is_invalid_token(a), "(a) the logged-out access token → still 401 after 3.5 s "
                                   "(refresh TTL 2 s, access TTL 120 s)", a)
    a = run.record("(b) new access after 3.5 s", demo.me(access_b2))
    run.check(is_invalid_token(a), "(b) the revoked family's new access token → still 401 "
                                   "after 3.5 s", a)
    a = run.record("(b) old access after 3.5 s", demo.me(access_b))
    run.check(is_invalid_token(a), "(b) the revoked family's first access token → still 401 "
                                   "after 3.5 s", a)
    a = demo.me(access_c)
    run.answers["(c) /me after 3.5 s"] = (a.status, a.www)   # the body holds jti/iat
    run.check(a.status == 200, "(c) an untouched login's access token → 200 after the same wait "
                               "(the 401s are not expiry)", a)


# ---------------------------------------------------------------------------------------
# H9 JWKS redirects

def ipv6_mapped_reachable(port):
    try:
        with socket.create_connection(("::ffff:127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def h9_redirects(run, binary):
    def attacker_route(server, path, query, n):
        return 200, JSON, ATTACKER.jwks()

    attacker = run.server(attacker_route)
    mapped = ipv6_mapped_reachable(attacker.port)
    baseline = attacker.count()   # the reachability probe is not an HTTP request

    def origin_route(server, path, query, n):
        if path == "/good.json":
            return 200, JSON, GOOD.jwks()
        if path == "/jwks.json":
            return 302, {"Location": f"http://[::ffff:127.0.0.1]:{attacker.port}/jwks.json"}, b""
        if path == "/scheme.json":
            return 302, {"Location": f"ftp://127.0.0.1:{server.port}/good.json"}, b""
        if path == "/ok.json":
            return 302, {"Location": "/good.json"}, b""
        if path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            return 302, {"Location": "/good.json" if left <= 1 else f"/hop/{left - 1}"}, b""
        return 404, {}, b"{}"

    # Refused redirects: the keys never load, the attacker is never asked.
    for label, path in [("to http://[::ffff:127.0.0.1]:B (not loopback)", "/jwks.json"),
                        ("to ftp:// on the same host", "/scheme.json"),
                        ("6 hops", "/hop/6")]:
        origin = run.server(origin_route)
        demo = run.demo(binary, {"JWT_JWKS_URL": f"{origin.base}{path}"})
        # The second request for the configured URL is the retry after the first fetch
        # failed: by then the redirect has been dealt with.
        run.check(origin.wait_count(2, path), f"redirect {label}: fetched, failed, retried",
                  origin.requests)
        a = run.record(f"{label}: attacker token", demo.me(ATTACKER.token()))
        run.check(is_unavailable(a), f"redirect {label}: the attacker's token → 503 "
                                     f"(keys never loaded)", a)
        a = run.record(f"{label}: good token", demo.me(GOOD.token()))
        run.check(is_unavailable(a), f"redirect {label}: the good key's token → 503 too", a)
        run.check(not demo.keys_ready(), f"redirect {label}: /health keys_ready false")
        run.check(origin.count("/good.json") == 0,
                  f"redirect {label}: /good.json never fetched", origin.requests)
        demo.stop()
        origin.stop()
    note = ("" if mapped else
            " (IPv6 is unavailable here: [::ffff:127.0.0.1] cannot be reached, so this count "
            "says nothing)")
    run.check(attacker.count() == baseline,
              f"the attacker's server B received no request{note}", attacker.requests)

    # Followed redirects: a relative one on the same loopback host, and 5 hops.
    for label, path in [("relative /good.json on the same host", "/ok.json"),
                        ("5 hops", "/hop/5")]:
        origin = run.server(origin_route)
        demo = run.demo(binary, {"JWT_JWKS_URL": f"{origin.base}{path}"})
        run.check(demo.wait_keys_ready(READY_DEADLINE), f"redirect {label}: followed, keys loaded "
                                          f"(/health keys_ready)", origin.requests)
        c = claims()
        a = run.record(f"{label}: good token", demo.me(GOOD.token(c)))
        run.check(a.status == 200 and a.json() == c, f"redirect {label}: the good key's token → 200", a)
        a = run.record(f"{label}: attacker token", demo.me(ATTACKER.token()))
        run.check(is_invalid_token(a), f"redirect {label}: the attacker's token → 401", a)
        demo.stop()
        origin.stop()


# ---------------------------------------------------------------------------------------

SCENARIOS = [
    ("H1", "login content type", h1_login_content_type),
    ("H2", "no credentials printed", h2_no_credentials),
    ("H3", "out-of-range numbers", h3_out_of_range),
    ("H4", "slow clients", h4_slow_clients),
    ("H5", "aud without an audience", h5_audience),
    ("H6", "spaces after Bearer", h6_bearer_spaces),
    ("H7", "roles split on U+0020", h7_roles),
    ("H8", "revocation outlives the refresh TTL", h8_revocation),
    ("H9", "JWKS redirects", h9_redirects),
]


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of scenario ids (H1,...,H9)")
    _, BIN_DIR, demos, only = parse_demo_arguments(parser)
    suite = Suite()
    start = time.monotonic()
    try:
        for sid, name, fn in SCENARIOS:
            if not only or sid in only:
                run_scenario(suite, f"{sid} {name}", demos, fn, run_class=Run, skip_silent=True)
    finally:
        kill_live()
    return suite.finish(f"hardening: {len(demos)} demos, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
