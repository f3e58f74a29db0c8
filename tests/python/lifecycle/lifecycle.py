#!/usr/bin/env python3
"""Black-box acceptance suite for the token lifecycle: /login, /refresh, /logout, Redis.

Runs every scenario against BOTH demo binaries (`axum-demo` and `actix-demo`) and checks
that they answer identically (status, WWW-Authenticate, JSON body, Set-Cookie shape).
Only 127.0.0.1 is used.

Usage:
    lifecycle.py [BIN_DIR] [--only S1,S4] [--demos axum-demo,actix-demo]
    lifecycle.py --self-test      checks this script's own helpers (no demo needed)

BIN_DIR defaults to target/debug. Prints one line per check (PASS/FAIL/SKIP) and a final
"N passed, N failed" line; exits 1 on any failure. Needs PyJWT and `cryptography`
(tests/python/requirements.txt). S4 needs `redis-server` on PATH: when it is missing S4
is reported SKIPPED, or FAILED when CI=true.

S1 HS256 flow (JWT_SECRET, JWT_ISSUER, JWT_AUDIENCE as comma lists, JWT_ACCESS_TTL=120,
   JWT_REFRESH_TTL=3600), in-memory state: login alice (tokens checked: typ at+jwt /
   refresh+jwt, sub, iat, nbf, exp = iat + TTL, jti unique, roles, fam, iss/aud = the first
   list entry, signature verified by PyJWT; expires_in; refresh cookie HttpOnly, Secure,
   SameSite=Strict, one cookie each for Path=/refresh and /logout, Max-Age = exp - iat) → /me echoes the claims → /admin
   200; bob /admin 403 insufficient_scope; no token 401 bare Bearer; token-type confusion
   (refresh token as bearer, access token as refresh cookie) 401; refresh rotates (new
   jti, same fam) and the new access token works (/me; /admin: roles survive); replaying the old refresh token is 401
   and kills the family (newest refresh token and the family's access tokens 401, bob's
   family unaffected); concurrent refreshes of one token: at most one 200; logout (bearer
   only, and bearer + cookie) is 204 with a clearing cookie, then access and refresh are
   401; logout without a valid bearer 401; wrong password / unknown user 401 (JSON error);
   malformed JSON 400.
S2 JWT_PRIVATE_KEY = tests/keys/rsa.pem, p256.pem, ed25519.pem (default TTLs 900 and
   1209600): login issues RS256 / ES256 / EdDSA tokens that verify with the public half,
   /me 200, token-type confusion 401 (no iss/aud configured), refresh and logout work.
S3 JWT_PUBLIC_KEY = tests/keys/rsa.pub.pem only: POST /login 404. No key at all: the demo
   makes up an HMAC secret and login, /me, refresh still work.
S4 Redis (a redis-server started here on a free port), one axum-demo and one actix-demo
   sharing JWT_SECRET and JWT_REDIS_URL, in both directions (X = the first, Y = the
   other): logout on X → the access token is 401 on Y and the refresh token 401 on Y;
   refresh on X, replay of the old refresh token on Y → 401 and the family is dead on
   both; concurrent refreshes of one token spread over both: at most one 200. Then Redis
   is killed: /me with a valid token is 503 without WWW-Authenticate on both (fail
   closed); redis-server is restarted on the same port: /me is 200 again on both within
   10 s.
"""
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

import jwt as pyjwt
from cryptography.hazmat.primitives import serialization

from demo_support import (KEYS, Abort, DemoProcess, ScenarioRun, Suite, compare, error_of,
                          demo_arguments, is_invalid_token, is_unavailable, kill_live,
                          parse_demo_arguments, private_key, required_tool, run_one, run_scenario,
                          unb64)
from demo_support import Answer as HttpAnswer
from services import Redis, start_redis

DEMOS = ["axum-demo", "actix-demo"]
BIN_DIR = os.path.join(ROOT, "target", "debug")

SECRET = "lifecycle-secret-0123456789abcdef-0123456789abcdef"
ISSUERS = ["https://lifecycle.test", "https://other-issuer.test"]
AUDIENCES = ["lifecycle-api", "other-api"]
ACCESS_TTL = 120
REFRESH_TTL = 3600
DEFAULT_ACCESS_TTL = 900
DEFAULT_REFRESH_TTL = 1209600
USERS = {"alice": ("alice-password", ["admin", "user"]), "bob": ("bob-password", ["user"])}
COOKIE = "refresh_token"
CLOCK_SLACK = 5           # seconds between the demo's clock reading and ours (same host)
RECOVERY_DEADLINE = 10.0  # Redis reconnection is time-based: poll at most this long
RACERS = 8                # concurrent refreshes of one refresh token


# ---------------------------------------------------------------------------------------
# JOSE and cookie helpers

def decode_jwt(token):
    """(header, claims) of a compact JWS, without verifying it; None when it is not one."""
    try:
        parts = token.split(".")
        if len(parts) != 3:
            return None
        header, claims = json.loads(unb64(parts[0])), json.loads(unb64(parts[1]))
        if not isinstance(header, dict) or not isinstance(claims, dict):
            return None
        return header, claims
    except (ValueError, AttributeError, TypeError):
        return None


def looks_like_jwt(text):
    return isinstance(text, str) and decode_jwt(text) is not None


def public_pem_of(private_name):
    return private_key(private_name).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def parse_set_cookie(value):
    """`name=value; Attr; Attr=v` → (name, value, {attr lower-case: value or True})."""
    parts = value.split(";")
    name, _, cookie_value = parts[0].partition("=")
    attrs = {}
    for part in parts[1:]:
        if not part.strip():
            continue
        key, eq, v = part.partition("=")
        attrs[key.strip().lower()] = v.strip() if eq else True
    return name.strip(), cookie_value.strip().strip('"'), attrs


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


# ---------------------------------------------------------------------------------------
# HTTP plumbing

class Answer(HttpAnswer):
    """An HTTP answer, with its Set-Cookie headers parsed."""

    @property
    def set_cookies(self):
        return [v for k, v in self.headers if k.lower() == "set-cookie"]

    def cookie(self, name=COOKIE):
        """The parsed Set-Cookie for `name`: (value, attrs), or None; a list if repeated."""
        found = [parse_set_cookie(c) for c in self.set_cookies]
        found = [(v, a) for n, v, a in found if n == name]
        if len(found) == 1:
            return found[0]
        return found or None

    def __repr__(self):
        if self.error:
            return f"<no answer: {self.error} after {self.elapsed:.2f}s>"
        body = self.body if len(self.body) < 200 else self.body[:200] + "..."
        extra = f" set-cookie={self.set_cookies!r}" if self.set_cookies else ""
        return f"<{self.status} www={self.www!r} body={body!r}{extra}>"


def scrub(value):
    """Replaces what differs between two correct demos (tokens) so answers compare."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if looks_like_jwt(value):
        return "<jwt>"
    return value


def comparable(a, body="full"):
    """What must be identical between the demos. body: full | keys (values vary)."""
    parsed = a.json()
    if parsed is None:
        parsed = a.body
    elif body == "keys" and isinstance(parsed, dict):
        parsed = sorted(parsed)
    cookies = []
    for c in a.set_cookies:
        name, value, attrs = parse_set_cookie(c)
        attrs = {k: ("<date>" if k == "expires" else v) for k, v in attrs.items()}
        cookies.append((name, "<jwt>" if looks_like_jwt(value) else value, sorted(attrs.items())))
    return (a.status, a.www, scrub(parsed), sorted(cookies))


# ---------------------------------------------------------------------------------------
# Processes: the demos (redis-server: services.Redis)

class Demo(DemoProcess):
    missing_error = Abort
    answer_class = Answer

    def __init__(self, binary, env):
        super().__init__(BIN_DIR, binary, env)

    def login(self, user, password=None, raw=None):
        if password is None:
            password = USERS[user][0]
        body = raw if raw is not None else json.dumps({"username": user, "password": password})
        return self.request("POST", "/login", {"Content-Type": "application/json"}, body)

    def refresh(self, refresh_token):
        headers = {"Cookie": f"{COOKIE}={refresh_token}"} if refresh_token is not None else {}
        return self.request("POST", "/refresh", headers)

    def logout(self, access_token, refresh_token=None):
        headers = {}
        if access_token is not None:
            headers["Authorization"] = f"Bearer {access_token}"
        if refresh_token is not None:
            headers["Cookie"] = f"{COOKIE}={refresh_token}"
        return self.request("POST", "/logout", headers)

    def get(self, path, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        return self.request("GET", path, headers)

    def me(self, token):
        return self.get("/me", token)


# ---------------------------------------------------------------------------------------
# Bookkeeping

class Run(ScenarioRun):
    """One scenario against one demo (or one pair): prefixes lines, records answers."""

    def __init__(self, suite, scenario, name):
        super().__init__(suite, scenario, name)
        self.jtis = set()

    def record(self, label, answer, body="full"):
        """Remembers what the demo answered, to compare with the other demo."""
        self.answers[label] = comparable(answer, body)
        return answer

    def demo(self, binary, env):
        d = Demo(binary, env)
        self.cleanup.append(d.stop)
        return d


# ---------------------------------------------------------------------------------------
# What /login and /refresh must answer

class Config:
    """What the demo was started with, and so what its tokens must look like."""

    def __init__(self, alg, verify_key, issuers=(), audiences=(), access_ttl=DEFAULT_ACCESS_TTL,
                 refresh_ttl=DEFAULT_REFRESH_TTL):
        self.alg, self.verify_key = alg, verify_key   # verify_key None: not known (random)
        self.issuers, self.audiences = list(issuers), list(audiences)
        self.access_ttl, self.refresh_ttl = access_ttl, refresh_ttl

    def env(self):
        env = {}
        if self.issuers:
            env["JWT_ISSUER"] = ",".join(self.issuers)
        if self.audiences:
            env["JWT_AUDIENCE"] = ",".join(self.audiences)
        if self.access_ttl != DEFAULT_ACCESS_TTL:
            env["JWT_ACCESS_TTL"] = str(self.access_ttl)
        if self.refresh_ttl != DEFAULT_REFRESH_TTL:
            env["JWT_REFRESH_TTL"] = str(self.refresh_ttl)
        return env


class Issued:
    """The tokens of one /login or /refresh answer."""

    def __init__(self, user, access, refresh, answer):
        self.user, self.access, self.refresh, self.answer = user, access, refresh, answer
        self.access_header, self.claims = decode_jwt(access)
        self.refresh_header, self.refresh_claims = decode_jwt(refresh)

    @property
    def fam(self):
        return self.claims.get("fam")


def audience_ok(aud, expected):
    return aud == expected or aud == [expected]


def access_problems(header, c, user, cfg, now):
    p = []
    if header.get("typ") != "at+jwt":
        p.append(f"header typ {header.get('typ')!r} is not 'at+jwt'")
    if header.get("alg") != cfg.alg:
        p.append(f"header alg {header.get('alg')!r} is not {cfg.alg!r}")
    if c.get("sub") != user:
        p.append(f"sub {c.get('sub')!r}")
    for name in ("iat", "nbf", "exp"):
        if not is_int(c.get(name)):
            p.append(f"{name} {c.get(name)!r} is not an integer")
    if is_int(c.get("iat")):
        if abs(c["iat"] - now) > CLOCK_SLACK:
            p.append(f"iat {c['iat']} is not now ({now})")
        if is_int(c.get("exp")) and c["exp"] - c["iat"] != cfg.access_ttl:
            p.append(f"exp - iat = {c['exp'] - c['iat']}, not JWT_ACCESS_TTL {cfg.access_ttl}")
        if is_int(c.get("nbf")) and c["nbf"] > c["iat"]:
            p.append(f"nbf {c['nbf']} is after iat {c['iat']}")
    if not isinstance(c.get("jti"), str) or not c.get("jti"):
        p.append(f"jti {c.get('jti')!r}")
    if c.get("roles") != USERS[user][1]:
        p.append(f"roles {c.get('roles')!r}, expected {USERS[user][1]!r}")
    if not isinstance(c.get("fam"), str) or not c.get("fam"):
        p.append(f"fam {c.get('fam')!r}")
    if cfg.issuers and c.get("iss") != cfg.issuers[0]:
        p.append(f"iss {c.get('iss')!r}, expected the first JWT_ISSUER {cfg.issuers[0]!r}")
    if not cfg.issuers and "iss" in c:
        p.append(f"iss {c.get('iss')!r} although JWT_ISSUER is not set")
    if cfg.audiences and not audience_ok(c.get("aud"), cfg.audiences[0]):
        p.append(f"aud {c.get('aud')!r}, expected the first JWT_AUDIENCE {cfg.audiences[0]!r}")
    if not cfg.audiences and "aud" in c:
        p.append(f"aud {c.get('aud')!r} although JWT_AUDIENCE is not set")
    return p


def refresh_problems(header, c, user, cfg, now, access_claims):
    p = []
    if header.get("typ") != "refresh+jwt":
        p.append(f"header typ {header.get('typ')!r} is not 'refresh+jwt'")
    if header.get("alg") != cfg.alg:
        p.append(f"header alg {header.get('alg')!r} is not {cfg.alg!r}")
    if c.get("sub") != user:
        p.append(f"sub {c.get('sub')!r}")
    for name in ("iat", "exp"):
        if not is_int(c.get(name)):
            p.append(f"{name} {c.get(name)!r} is not an integer")
    if is_int(c.get("iat")):
        if abs(c["iat"] - now) > CLOCK_SLACK:
            p.append(f"iat {c['iat']} is not now ({now})")
        if is_int(c.get("exp")) and c["exp"] - c["iat"] != cfg.refresh_ttl:
            p.append(f"exp - iat = {c['exp'] - c['iat']}, not JWT_REFRESH_TTL {cfg.refresh_ttl}")
    if not isinstance(c.get("jti"), str) or not c.get("jti"):
        p.append(f"jti {c.get('jti')!r}")
    elif c.get("jti") == access_claims.get("jti"):
        p.append("jti equals the access token's jti")
    if c.get("fam") != access_claims.get("fam"):
        p.append(f"fam {c.get('fam')!r} differs from the access token's {access_claims.get('fam')!r}")
    return p


def signature_problems(token, cfg, access):
    """Verifies the token with PyJWT and the key the demo was configured with."""
    if cfg.verify_key is None:
        return []
    kwargs = {"algorithms": [cfg.alg], "leeway": CLOCK_SLACK}
    options = {"verify_aud": False, "verify_iss": False}
    if access and cfg.audiences:
        kwargs["audience"] = cfg.audiences[0]
        options["verify_aud"] = True
    if access and cfg.issuers:
        kwargs["issuer"] = cfg.issuers[0]
        options["verify_iss"] = True
    try:
        pyjwt.decode(token, cfg.verify_key, options=options, **kwargs)
        return []
    except pyjwt.PyJWTError as e:
        return [f"PyJWT ({cfg.alg}): {type(e).__name__}: {e}"]


REFRESH_COOKIE_PATHS = ["/refresh", "/logout"]


def cookie_problems(answer, refresh_ttl_claims):
    """The refresh cookies' attributes: one per path in REFRESH_COOKIE_PATHS (the browser sends
    the refresh token to /refresh and /logout only), the same value in each; returns
    (problems, cookie value)."""
    found = answer.cookie()
    if found is None:
        return [f"no Set-Cookie {COOKIE}; Set-Cookie headers: {answer.set_cookies!r}"], None
    found = found if isinstance(found, list) else [found]
    paths = [attrs.get("path") for _, attrs in found]
    p = []
    if sorted(map(str, paths)) != sorted(REFRESH_COOKIE_PATHS):
        p.append(f"Set-Cookie {COOKIE} paths {paths!r}, not one each of {REFRESH_COOKIE_PATHS}")
    values = {value for value, _ in found}
    if len(values) != 1:
        p.append(f"Set-Cookie {COOKIE} carries {len(values)} different values")
    for value, attrs in found:
        p.extend(attribute_problems(attrs, refresh_ttl_claims))
    return sorted(set(p), key=p.index), found[0][0]


def attribute_problems(attrs, refresh_ttl_claims):
    p = []
    if attrs.get("httponly") is not True:
        p.append("no HttpOnly")
    if attrs.get("secure") is not True:
        p.append("no Secure")
    if str(attrs.get("samesite", "")).lower() != "strict":
        p.append(f"SameSite {attrs.get('samesite')!r}, not Strict")
    max_age = attrs.get("max-age")
    try:
        max_age = int(max_age)
    except (TypeError, ValueError):
        p.append(f"Max-Age {max_age!r} is not a number")
        max_age = None
    if max_age is not None and refresh_ttl_claims is not None and abs(max_age - refresh_ttl_claims) > 1:
        p.append(f"Max-Age {max_age} ≠ the refresh token's exp - iat {refresh_ttl_claims}")
    return p


def check_issued(run, what, answer, user, cfg, expect_fam=None):
    """Checks a /login or /refresh answer from top to bottom; returns the Issued tokens."""
    now = int(time.time())
    body = answer.json()
    run.need(answer.status == 200 and isinstance(body, dict), f"{what} → 200 JSON", answer)
    p = []
    if not (answer.header("Content-Type") or "").startswith("application/json"):
        p.append(f"Content-Type {answer.header('Content-Type')!r}")
    if set(body) != {"access_token", "token_type", "expires_in"}:
        p.append(f"members {sorted(body)}, expected access_token, token_type, expires_in")
    if body.get("token_type") != "Bearer":
        p.append(f"token_type {body.get('token_type')!r}")
    if not (is_int(body.get("expires_in")) and body["expires_in"] == cfg.access_ttl):
        p.append(f"expires_in {body.get('expires_in')!r}, expected {cfg.access_ttl}")
    access = body.get("access_token")
    if not looks_like_jwt(access):
        p.append(f"access_token {access!r} is not a JWT")
    run.need(not p, f"{what}: body {{access_token, token_type: Bearer, expires_in: {cfg.access_ttl}}}",
             p or None)

    header, claims = decode_jwt(access)
    p = access_problems(header, claims, user, cfg, now)
    if is_int(claims.get("exp")) and is_int(claims.get("iat")) \
            and body["expires_in"] != claims["exp"] - claims["iat"]:
        p.append(f"expires_in {body['expires_in']} ≠ exp - iat {claims['exp'] - claims['iat']}")
    if expect_fam is not None and claims.get("fam") != expect_fam:
        p.append(f"fam {claims.get('fam')!r}, expected the family's {expect_fam!r}")
    p += signature_problems(access, cfg, access=True)
    run.check(not p, f"{what}: access token ({cfg.alg}, typ at+jwt, sub {user}, exp = iat + "
                     f"{cfg.access_ttl}, roles, jti, fam, iss/aud)", p or claims)

    refresh_claims_ttl = None
    cookie = answer.cookie()
    if isinstance(cookie, tuple) and looks_like_jwt(cookie[0]):
        rc = decode_jwt(cookie[0])[1]
        if is_int(rc.get("exp")) and is_int(rc.get("iat")):
            refresh_claims_ttl = rc["exp"] - rc["iat"]
    p, refresh = cookie_problems(answer, refresh_claims_ttl)
    run.check(not p, f"{what}: Set-Cookie {COOKIE} (HttpOnly, Secure, SameSite=Strict, "
                     f"Path=/refresh, Max-Age = exp - iat)", p or None)
    run.need(looks_like_jwt(refresh), f"{what}: the refresh cookie holds a JWT", answer.set_cookies)

    rheader, rclaims = decode_jwt(refresh)
    p = refresh_problems(rheader, rclaims, user, cfg, now, claims)
    p += signature_problems(refresh, cfg, access=False)
    run.check(not p, f"{what}: refresh token ({cfg.alg}, typ refresh+jwt, sub, jti, fam, "
                     f"exp = iat + {cfg.refresh_ttl})", p or rclaims)

    fresh = [j for j in (claims.get("jti"), rclaims.get("jti")) if j not in run.jtis]
    run.check(len(fresh) == 2, f"{what}: both jtis are new in this run", (claims.get("jti"), rclaims.get("jti")))
    run.jtis.update((claims.get("jti"), rclaims.get("jti")))
    return Issued(user, access, refresh, answer)


def login(run, demo, user, cfg, label):
    a = run.record(label, demo.login(user), body="keys")
    return check_issued(run, f"{label} ({demo.binary})", a, user, cfg)


def refresh(run, demo, old, cfg, label):
    a = run.record(label, demo.refresh(old.refresh), body="keys")
    new = check_issued(run, f"{label} ({demo.binary})", a, old.user, cfg, expect_fam=old.fam)
    run.check(new.refresh_claims.get("jti") != old.refresh_claims.get("jti")
              and new.refresh_claims.get("fam") == old.refresh_claims.get("fam"),
              f"{label}: rotated refresh token (new jti, same fam)",
              (old.refresh_claims, new.refresh_claims))
    return new


def expect_me_ok(run, demo, issued, label):
    a = run.record(label, demo.me(issued.access), body="keys")
    run.check(a.status == 200 and a.json() == issued.claims,
              f"{label} ({demo.binary}): /me 200 with every claim of the access token", a)


def expect_invalid(run, a, label, what):
    run.record(label, a)
    run.check(is_invalid_token(a), f"{what} → 401 invalid_token", a)


def expect_401(run, a, label, what):
    run.record(label, a)
    run.check(a.status == 401, f"{what} → 401", a)


def race(run, targets, token, label):
    """Fires one /refresh per target at once with the same refresh token."""
    barrier = threading.Barrier(len(targets))
    answers = [None] * len(targets)

    def go(i, demo):
        try:
            barrier.wait(5)
        except threading.BrokenBarrierError:
            pass
        answers[i] = demo.refresh(token)

    threads = [threading.Thread(target=go, args=(i, d)) for i, d in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted((a.status if a is not None and a.status is not None else -1) for a in answers)
    wins = [a for a in answers if a is not None and a.status == 200]
    run.check(len(wins) <= 1 and all(s in (200, 401) for s in statuses),
              f"{label}: {len(targets)} concurrent refreshes of one token → at most one 200, "
              f"the rest 401 ({len(wins)} won)", statuses)
    return wins


# ---------------------------------------------------------------------------------------
# Scenarios

def hs256_config():
    return Config("HS256", SECRET.encode(), ISSUERS, AUDIENCES, ACCESS_TTL, REFRESH_TTL)


def s1_hs256(run, binary):
    cfg = hs256_config()
    demo = run.demo(binary, dict(cfg.env(), JWT_SECRET=SECRET))

    alice = login(run, demo, "alice", cfg, "login alice")
    expect_me_ok(run, demo, alice, "/me alice")
    a = run.record("/admin alice", demo.get("/admin", alice.access), body="keys")
    run.check(a.status == 200 and isinstance(a.json(), dict), "/admin alice (roles has admin) → 200 JSON", a)

    bob = login(run, demo, "bob", cfg, "login bob")
    run.check(alice.fam != bob.fam, "alice and bob get different families", (alice.fam, bob.fam))
    a = run.record("/admin bob", demo.get("/admin", bob.access))
    run.check(a.status == 403 and (a.www or "").startswith('Bearer error="insufficient_scope"')
              and error_of(a) == "insufficient_scope",
              '/admin bob → 403, WWW-Authenticate: Bearer error="insufficient_scope", '
              'JSON error insufficient_scope', a)
    a = run.record("/admin no token", demo.get("/admin"))
    run.check(a.status == 401 and (a.www or "").startswith("Bearer") and "error" not in (a.www or ""),
              "/admin without a token → 401, bare Bearer challenge (no error attribute)", a)

    # Token-type confusion.
    expect_invalid(run, demo.me(alice.refresh), "/me refresh as bearer",
                   "/me with the refresh token as the bearer token")
    expect_401(run, demo.refresh(alice.access), "/refresh access as cookie",
               "/refresh with the access token in the refresh cookie")
    expect_401(run, demo.refresh(None), "/refresh no cookie", "/refresh without the cookie")
    expect_me_ok(run, demo, alice, "/me alice after the confusion attempts")

    # Rotation, then reuse detection.
    alice2 = refresh(run, demo, alice, cfg, "refresh alice")
    expect_me_ok(run, demo, alice2, "/me alice rotated access token")
    a = run.record("/admin alice rotated", demo.get("/admin", alice2.access), body="keys")
    run.check(a.status == 200, "/admin with alice's rotated access token → 200 (roles survive a refresh)", a)
    a = run.record("/refresh replay", demo.refresh(alice.refresh))
    run.check(a.status == 401, "replaying the already-used refresh token → 401", a)
    expect_401(run, demo.refresh(alice2.refresh), "/refresh newest after replay",
               "the family's newest refresh token after the replay (family revoked)")
    expect_invalid(run, demo.me(alice2.access), "/me newest access after replay",
                   "the family's newest access token after the replay")
    expect_invalid(run, demo.me(alice.access), "/me first access after replay",
                   "the family's first access token after the replay")
    expect_me_ok(run, demo, bob, "/me bob (another family) after alice's family died")

    # Concurrent refreshes of one token.
    racer = login(run, demo, "bob", cfg, "login bob for the race")
    wins = race(run, [demo] * RACERS, racer.refresh, "race")
    if wins:
        winner = wins[0].cookie()
        if isinstance(winner, tuple):
            expect_401(run, demo.refresh(winner[0]), "/refresh race winner",
                       "the race winner's refresh token (the losers replayed: family revoked)")

    # Logout with the bearer only: the family named by its fam dies.
    alice3 = login(run, demo, "alice", cfg, "login alice again")
    run.check(alice3.fam != alice.fam, "a new login starts a new family", (alice.fam, alice3.fam))
    expect_me_ok(run, demo, alice3, "/me alice new family")
    a = run.record("logout bearer only", demo.logout(alice3.access))
    cleared = a.cookie()
    run.check(a.status == 204 and a.body == "", "/logout with the bearer only → 204, empty body", a)
    cleared = cleared if isinstance(cleared, list) else [cleared] if cleared else []
    ok = (sorted(str(c[1].get("path")) for c in cleared) == sorted(REFRESH_COOKIE_PATHS)
          and all(c[1].get("max-age") == "0" for c in cleared))
    run.check(ok, f"/logout → Set-Cookie clearing {COOKIE} (Max-Age=0, Path=/refresh and /logout)",
              a.set_cookies)
    expect_invalid(run, demo.me(alice3.access), "/me after logout", "/me with the logged-out access token")
    expect_401(run, demo.refresh(alice3.refresh), "/refresh after logout",
               "/refresh with the family's refresh token after logout (cookie not sent to /logout)")
    expect_401(run, demo.logout(alice3.access), "logout revoked bearer", "/logout with a revoked bearer")

    # Logout with bearer and cookie.
    bob2 = login(run, demo, "bob", cfg, "login bob again")
    a = run.record("logout bearer and cookie", demo.logout(bob2.access, bob2.refresh))
    run.check(a.status == 204, "/logout with bearer and refresh cookie → 204", a)
    expect_invalid(run, demo.me(bob2.access), "/me after logout 2", "/me after logout (bearer + cookie)")
    expect_401(run, demo.refresh(bob2.refresh), "/refresh after logout 2",
               "/refresh after logout (bearer + cookie)")

    a = run.record("logout no bearer", demo.logout(None))
    run.check(a.status == 401, "/logout without a bearer → 401", a)
    a = run.record("logout refresh as bearer", demo.logout(bob.refresh))
    run.check(a.status == 401, "/logout with the refresh token as the bearer → 401", a)
    expect_me_ok(run, demo, bob, "/me bob still fine")

    # Bad credentials and bad requests.
    for label, answer, status in [
            ("login wrong password", demo.login("alice", "bob-password"), 401),
            ("login unknown user", demo.login("mallory", "mallory-password"), 401),
            ("login empty password", demo.login("alice", ""), 401)]:
        run.record(label, answer)
        run.check(answer.status == status and isinstance(error_of(answer), str)
                  and not answer.set_cookies,
                  f"{label} → {status}, JSON error, no cookie", answer)
    a = run.record("login malformed JSON", demo.login("alice", raw='{"username": "alice", "password": '))
    run.check(a.status == 400 and not a.set_cookies, "login with malformed JSON → 400", a)


KEY_CONFIGS = [("RS256", "rsa.pem"), ("ES256", "p256.pem"), ("EdDSA", "ed25519.pem")]


def s2_private_keys(run, binary):
    for alg, key_file in KEY_CONFIGS:
        cfg = Config(alg, public_pem_of(key_file))
        demo = run.demo(binary, {"JWT_PRIVATE_KEY": os.path.join(KEYS, key_file)})
        try:
            s2_one(run, demo, alg, cfg)
        except Abort:
            pass   # already reported; go on with the next key type
        finally:
            demo.stop()


def s2_one(run, demo, alg, cfg):
    first = login(run, demo, "alice", cfg, f"{alg} login alice")
    expect_me_ok(run, demo, first, f"{alg} /me alice")
    a = run.record(f"{alg} /admin alice", demo.get("/admin", first.access), body="keys")
    run.check(a.status == 200, f"{alg} /admin alice → 200", a)
    expect_invalid(run, demo.me(first.refresh), f"{alg} /me refresh as bearer",
                   f"{alg} refresh token as the bearer token (no iss/aud configured)")
    expect_401(run, demo.refresh(first.access), f"{alg} /refresh access as cookie",
               f"{alg} access token in the refresh cookie")
    second = refresh(run, demo, first, cfg, f"{alg} refresh")
    expect_me_ok(run, demo, second, f"{alg} /me rotated")
    a = run.record(f"{alg} logout", demo.logout(second.access))
    run.check(a.status == 204, f"{alg} /logout → 204", a)
    expect_invalid(run, demo.me(second.access), f"{alg} /me after logout",
                   f"{alg} /me after logout")


def s3_key_modes(run, binary):
    demo = run.demo(binary, {"JWT_PUBLIC_KEY": os.path.join(KEYS, "rsa.pub.pem")})
    a = run.record("public key only /health", demo.get("/health"), body="keys")
    run.check(a.status == 200, "JWT_PUBLIC_KEY only: /health → 200 (the demo runs)", a)
    a = run.record("public key only login", demo.login("alice"))
    run.check(a.status == 404 and not a.set_cookies, "JWT_PUBLIC_KEY only: POST /login → 404", a)
    demo.stop()

    demo = run.demo(binary, {})
    cfg = Config("HS256", None)
    first = login(run, demo, "alice", cfg, "random secret login alice")
    expect_me_ok(run, demo, first, "random secret /me alice")
    second = refresh(run, demo, first, cfg, "random secret refresh")
    expect_me_ok(run, demo, second, "random secret /me rotated")


def s4_redis_pair(run, redis, first, second):
    """first/second: binaries. X (first) and Y (second) share Redis and the secret."""
    cfg = hs256_config()
    env = dict(cfg.env(), JWT_SECRET=SECRET, JWT_REDIS_URL=redis.url)
    X = run.demo(first, env)
    Y = run.demo(second, env)

    # Logout on X is seen by Y.
    s = login(run, X, "alice", cfg, "X login")
    expect_me_ok(run, Y, s, "Y /me with X's token")
    a = run.record("X logout", X.logout(s.access))
    run.check(a.status == 204, "X /logout → 204", a)
    expect_invalid(run, Y.me(s.access), "Y /me after X logout", "Y /me with the token logged out on X")
    expect_invalid(run, X.me(s.access), "X /me after X logout", "X /me with the token logged out on X")
    expect_401(run, Y.refresh(s.refresh), "Y refresh after X logout",
               "Y /refresh with the family's refresh token after logout on X")

    # Refresh on X, replay on Y.
    s = login(run, Y, "bob", cfg, "Y login")
    s2 = refresh(run, X, s, cfg, "X refresh of Y's login")
    expect_me_ok(run, Y, s2, "Y /me rotated on X")
    a = run.record("Y replay", Y.refresh(s.refresh))
    run.check(a.status == 401, "Y: replay of the refresh token already used on X → 401", a)
    for name, d in (("X", X), ("Y", Y)):
        expect_401(run, d.refresh(s2.refresh), f"{name} newest refresh after replay",
                   f"{name} /refresh with the family's newest refresh token (family revoked)")
        expect_invalid(run, d.me(s2.access), f"{name} /me newest access after replay",
                       f"{name} /me with the family's newest access token")
        expect_invalid(run, d.me(s.access), f"{name} /me first access after replay",
                       f"{name} /me with the family's first access token")

    # Concurrent refreshes of one token, half on each instance.
    s = login(run, X, "alice", cfg, "X login for the race")
    wins = race(run, [X, Y] * (RACERS // 2), s.refresh, "race over X and Y")
    if wins:
        winner = wins[0].cookie()
        if isinstance(winner, tuple):
            for name, d in (("X", X), ("Y", Y)):
                expect_401(run, d.refresh(winner[0]), f"{name} race winner refresh",
                           f"{name} /refresh with the race winner's refresh token (family revoked)")

    # Redis goes away: fail closed; it comes back: recovery.
    live = login(run, X, "bob", cfg, "X login before Redis dies")
    for name, d in (("X", X), ("Y", Y)):
        expect_me_ok(run, d, live, f"{name} /me with Redis up")
    redis.kill()
    for name, d in (("X", X), ("Y", Y)):
        a = run.record(f"{name} /me Redis down", d.me(live.access))
        run.check(is_unavailable(a), f"{name} /me with Redis killed → 503, no WWW-Authenticate, "
                                     f"error temporarily_unavailable (fail closed)", a)
    redis.start()
    run.check(redis.ping(), f"redis-server restarted on port {redis.port}")
    for name, d in (("X", X), ("Y", Y)):
        deadline = time.monotonic() + RECOVERY_DEADLINE
        start = time.monotonic()
        while True:
            a = d.me(live.access)
            if a.status == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)   # reconnection is time-based: there is no event to wait on
        run.record(f"{name} /me Redis back", a, body="keys")
        run.check(a.status == 200 and a.json() == live.claims,
                  f"{name} /me after Redis restarted → 200 within {RECOVERY_DEADLINE:.0f} s "
                  f"(took {time.monotonic() - start:.1f} s)", a)
    # The store works again (not only reads): a logout on Y is seen by X.
    s = login(run, Y, "alice", cfg, "Y login after Redis restart")
    a = run.record("Y logout after restart", Y.logout(s.access))
    run.check(a.status == 204, "Y /logout after the Redis restart → 204", a)
    expect_invalid(run, X.me(s.access), "X /me after Y logout after restart",
                   "X /me with the token logged out on Y after the Redis restart")


# ---------------------------------------------------------------------------------------

SCENARIOS = [
    ("S1", "HS256 lifecycle", s1_hs256),
    ("S2", "private keys", s2_private_keys),
    ("S3", "public key only / random secret", s3_key_modes),
]


def redis_binary(suite):
    return required_tool(suite, "S4", "redis-server",
                         "redis-server is not on PATH: the Redis scenario (S4) cannot run",
                         "Install it (apt-get install redis-server) to run it.")


def run_redis(suite, demos):
    binary = redis_binary(suite)
    if binary is None:
        return
    pairs = [(demos[0], demos[1]), (demos[1], demos[0])] if len(demos) == 2 else [(demos[0], demos[0])]
    runs = []
    for first, second in pairs:
        run = Run(suite, "S4 Redis", f"X={first} Y={second}")
        redis = start_redis(run, binary)
        if redis is None:
            continue
        run_one(run, s4_redis_pair, redis, first, second)
        runs.append(run)
    if len(runs) == 2:
        compare(suite, "S4 Redis (X=axum Y=actix vs X=actix Y=axum)", runs[0], runs[1],
                [r.name for r in runs])


# ---------------------------------------------------------------------------------------
# Self-test of the helpers that do not need a demo

def self_test(suite):
    # Cookie parsing.
    name, value, attrs = parse_set_cookie(
        "refresh_token=a.b.c; HttpOnly; secure; SameSite=Strict; Path=/refresh; Max-Age=3600")
    suite.check((name, value, attrs) == ("refresh_token", "a.b.c", {
        "httponly": True, "secure": True, "samesite": "Strict", "path": "/refresh",
        "max-age": "3600"}), "self-test: parse_set_cookie", (name, value, attrs))
    name, value, attrs = parse_set_cookie("refresh_token=; Max-Age=0; path=/refresh; "
                                          "Expires=Thu, 01 Jan 1970 00:00:00 GMT")
    suite.check(value == "" and attrs.get("max-age") == "0" and attrs.get("path") == "/refresh"
                and attrs.get("expires") == "Thu, 01 Jan 1970 00:00:00 GMT",
                "self-test: parse_set_cookie of a clearing cookie", attrs)

    # Token decoding and the issued-token checks, on tokens minted here with PyJWT.
    cfg = hs256_config()
    now = int(time.time())
    access_claims = {"sub": "alice", "iat": now, "nbf": now, "exp": now + ACCESS_TTL, "jti": "j1",
                     "roles": ["admin", "user"], "fam": "f1", "iss": ISSUERS[0], "aud": AUDIENCES[0]}
    refresh_claims = {"sub": "alice", "iat": now, "exp": now + REFRESH_TTL, "jti": "r1", "fam": "f1"}
    access = pyjwt.encode(access_claims, SECRET, "HS256", headers={"typ": "at+jwt"})
    refresh_tok = pyjwt.encode(refresh_claims, SECRET, "HS256", headers={"typ": "refresh+jwt"})
    h, c = decode_jwt(access)
    suite.check(h == {"alg": "HS256", "typ": "at+jwt"} and c == access_claims,
                "self-test: decode_jwt", (h, c))
    suite.check(decode_jwt("a.b") is None and decode_jwt("x.y.z") is None and not looks_like_jwt(42),
                "self-test: decode_jwt refuses non-JWTs")
    suite.check(access_problems(h, c, "alice", cfg, now) == [], "self-test: access_problems (good)",
                access_problems(h, c, "alice", cfg, now))
    bad = dict(access_claims, exp=now + 900, roles=["user"], iss=ISSUERS[1], jti="")
    p = access_problems({"alg": "HS256", "typ": "JWT"}, bad, "alice", cfg, now)
    suite.check(len(p) == 5, "self-test: access_problems finds typ, exp, jti, roles, iss", p)
    rh, rc = decode_jwt(refresh_tok)
    suite.check(refresh_problems(rh, rc, "alice", cfg, now, c) == [],
                "self-test: refresh_problems (good)", refresh_problems(rh, rc, "alice", cfg, now, c))
    suite.check(signature_problems(access, cfg, True) == [] and signature_problems(refresh_tok, cfg, False) == [],
                "self-test: PyJWT verifies HS256 access (iss/aud) and refresh tokens")
    head, sig = access.rsplit(".", 1)
    broken = f"{head}.{'B' if sig[0] == 'A' else 'A'}{sig[1:]}"
    suite.check(signature_problems(broken, cfg, True) != [],
                "self-test: PyJWT refuses a broken signature")
    for alg, key_file in KEY_CONFIGS:
        k = private_key(key_file)
        t = pyjwt.encode(access_claims, k, alg, headers={"typ": "at+jwt"})
        kcfg = Config(alg, public_pem_of(key_file), ISSUERS, AUDIENCES)
        suite.check(signature_problems(t, kcfg, True) == [], f"self-test: PyJWT verifies {alg} with "
                                                            f"the public half of {key_file}",
                    signature_problems(t, kcfg, True))

    # Answers and cookie checks.
    fake = Answer(200, [("Content-Type", "application/json"),
                        ("Set-Cookie", f"refresh_token={refresh_tok}; HttpOnly; Secure; "
                                       f"SameSite=Strict; Path=/refresh; Max-Age={REFRESH_TTL}"),
                        ("Set-Cookie", f"refresh_token={refresh_tok}; HttpOnly; Secure; "
                                       f"SameSite=Strict; Path=/logout; Max-Age={REFRESH_TTL}"),
                        ("Set-Cookie", "other=1")],
                  json.dumps({"access_token": access, "token_type": "Bearer", "expires_in": 120}))
    p, v = cookie_problems(fake, REFRESH_TTL)
    suite.check(p == [] and v == refresh_tok, "self-test: cookie_problems (good)", p)
    lax = Answer(200, [("Set-Cookie", f"refresh_token={refresh_tok}; SameSite=Lax; Path=/; Max-Age=60")])
    p, _ = cookie_problems(lax, REFRESH_TTL)
    suite.check(len(p) == 5, "self-test: cookie_problems finds HttpOnly, Secure, SameSite, Path, Max-Age", p)
    one = Answer(200, [fake.headers[1]])
    p, _ = cookie_problems(one, REFRESH_TTL)
    suite.check(len(p) == 1 and "paths" in p[0], "self-test: cookie_problems wants the /logout cookie", p)
    cmp = comparable(fake, body="full")
    suite.check(cmp[2] == {"access_token": "<jwt>", "token_type": "Bearer", "expires_in": 120}
                and cmp[3][1][1] == "<jwt>", "self-test: comparable scrubs tokens", cmp)
    inner = Run(Suite(), "self", "self")
    with open(os.devnull, "w") as devnull:
        stdout, sys.stdout = sys.stdout, devnull
        try:
            issued = check_issued(inner, "fake login", fake, "alice", cfg)
        finally:
            sys.stdout = stdout
    suite.check(inner.suite.failed == 0 and issued.fam == "f1",
                "self-test: check_issued accepts a correct login answer",
                f"{inner.suite.failed} inner failures")

    # redis-server: start, PING, kill (connection refused), restart on the same port.
    binary = redis_binary(suite)
    if binary:
        r = Redis(binary)
        try:
            suite.check(r.ping(), f"self-test: redis-server up on {r.port}, PING → PONG")
            suite.check(r.command("SET", "k", "v") == "+OK" and r.command("GET", "k") == "$1",
                        "self-test: redis SET/GET")
            r.kill()
            suite.check(r.command("PING") is None, "self-test: killed redis-server refuses connections")
            t = time.monotonic()
            r.start()
            suite.check(r.ping() and r.command("GET", "k") == "$-1",
                        f"self-test: redis-server restarted on the same port in "
                        f"{time.monotonic() - t:.2f} s, empty (no persistence)")
        finally:
            r.stop()


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of scenario ids (S1,S2,S3,S4)")
    parser.add_argument("--self-test", action="store_true", help="check this script's helpers only")
    args, BIN_DIR, demos, only = parse_demo_arguments(parser)

    suite = Suite()
    start = time.monotonic()
    try:
        if args.self_test:
            self_test(suite)
        else:
            for sid, name, fn in SCENARIOS:
                if not only or sid in only:
                    run_scenario(suite, f"{sid} {name}", demos, fn, run_class=Run)
            if not only or "S4" in only:
                run_redis(suite, demos)
    finally:
        kill_live()
    return suite.finish(f"lifecycle: {len(demos)} demos, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
