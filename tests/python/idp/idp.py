#!/usr/bin/env python3
"""Identity-provider reach on axum-demo and actix-demo, black box: `{tenant}` issuer templates
with lazy discovery, RFC 7662 introspection, and a step-up / CORS smoke test.

Usage:
    idp.py [BIN_DIR] [--only T1,T2,T,I,S] [--demos axum-demo,actix-demo]

BIN_DIR (default target/debug) holds axum-demo and actix-demo (cargo build -p axum-demo -p
actix-demo). Everything runs on 127.0.0.1, on free ports. Follows DEMO-CONTRACT.md,
"Identity-provider reach". Prints one PASS/FAIL/SKIP line per check and a final "N passed,
N failed" line; exits 1 on any failure. Needs Python's `cryptography` (tests/python/
requirements.txt); I and S need `node` and tests/oidc (oidc-provider; `npm ci --prefix
tests/oidc` is run when its node_modules is missing): SKIPPED without node, or FAILED when
CI=true. Every scenario runs on each demo, then the two demos' answers (status,
WWW-Authenticate, JSON body; ports written <portN>) are compared.

Part T: a multi-tenant identity server run here (ThreadingHTTPServer on 127.0.0.1) serving,
for a fixed set of tenants and two layouts, /{t} and /org/{t}/v2, the discovery document
<layout>/.well-known/openid-configuration (issuer http://127.0.0.1:PORT<layout>, jwks_uri
<issuer>/jwks) and <layout>/jwks; 404 for any other path. Every tenant's key has kid "k1"
(RSA or P-256, a different key each). It counts every request by path and every connection.
The demo runs with JWT_OIDC_ISSUER = "http://127.0.0.1:PORT/{tenant},
http://127.0.0.1:PORT/org/{tenant}/v2" and JWT_AUDIENCE; tokens are signed here.
  T1 nothing fetched at start; tenants a (RS256) and b (ES256) → 200 with their claims, each
     discovery and JWKS fetched once, on first use; a second token → no fetch; iss b signed by a's key (same kid) → 401;
     iss c (RSA too, not yet discovered) signed by a's key → 401, then c's own → 200; iss a
     signed by c's key → 401; a wrong aud → 401; the second layout, a 64-character tenant and
     one using every allowed character class (A-Z a-z 0-9 . _ -) → 200.
  T2 an iss fitting no template → 401 invalid_token and no request (nor connection) reaches
     the server or a twin server on another port: another port, another host name, an extra
     path segment, a trailing slash, `..`, `.`, `%2e%2e`, an encoded slash, an empty tenant,
     no path, 65 characters, a query, a fragment, https, the second layout cut short or
     extended.
  T3 an unknown tenant (discovery 404) → 401 with one discovery request; again → 401 with
     none (negative cache); its JWKS never fetched. A tenant whose discovery document names
     another tenant's issuer, or its own with a trailing slash → 401, its JWKS never fetched.
  T4 20 tenants (t00..t19): a first token each → 200 and one discovery + one JWKS fetch each;
     a second round → 200 and no request at all.
Part I (oidc-provider with "introspection": true; JWT_INTROSPECTION_URL = its
/token/introspection, client_secret_basic):
  a demo with JWT_OIDC_ISSUER = the provider, JWT_AUDIENCE and introspection: the provider's
  JWT access token for the audience → 200 with its claims, and a JWT for another audience →
  401, neither causing an introspection request (GET /__test__/requests); a demo with
  introspection only: an opaque client_credentials token (no resource) → 200 whose members
  equal the introspection response the test itself got (every member but `active`; nothing
  else); an unknown opaque token → 401 invalid_token; the token revoked at /token/revocation
  → active false at the provider and 401 invalid_token at once; the provider stopped → 503
  temporarily_unavailable, for a fresh token and for the one that was active (no cache).
Part S (oidc-provider with "extra_claims": acr and auth_time, per resource): GET /stepup with
  JWT_STEPUP_ACR=urn:demo:mfa, JWT_STEPUP_MAX_AGE=300: acr urn:demo:mfa + auth_time 5 s ago →
  200 with the claims; acr urn:demo:pwd → 401 Bearer error="insufficient_user_authentication"
  with acr_values and no max_age; auth_time an hour ago → 401 with acr_values and
  max_age="300"; /me takes the urn:demo:pwd token. CORS preflights (OPTIONS, Origin,
  Access-Control-Request-Method/-Headers) on /me and /stepup → 2xx without a token, with
  Access-Control-Allow-Origin.
"""
import base64
import collections
import http.server
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from cryptography.hazmat.primitives.asymmetric import ec, rsa

from demo_support import (Abort, DemoProcess, ScenarioRun, Suite, demo_arguments, error_of,
                          forge, http_request, is_invalid_token, is_unavailable, json_or_text,
                          jwk_of, kill_live, make_claims, parse_demo_arguments, required_tool,
                          run_scenario, unb64)
from services import node_packages, rsa_private_jwk, start_provider

DEMOS = ["axum-demo", "actix-demo"]
BIN_DIR = os.path.join(ROOT, "target", "debug")
OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
DISCOVERY = "/.well-known/openid-configuration"
AUDIENCE = "https://api.idp.test"       # JWT_AUDIENCE of the T scenarios
KID = "k1"                              # every tenant's kid: they collide on purpose
LAYOUTS = ("/{t}", "/org/{t}/v2")       # the two templates' paths
NOW = int(time.time())                  # one iat/exp for every token made here
CLIENT_ID = "idp-test-client"
CLIENT_SECRET = "idp-test-client-secret-not-a-secret"
MFA, PWD = "urn:demo:mfa", "urn:demo:pwd"
ORIGIN = "http://app.idp.test"


# ---------------------------------------------------------------------------------------
# Tenant keys (made once, so that both demos see the same tokens)

class Key:
    """A tenant's signing key, kid "k1": RS256 (RSA-2048) or ES256 (P-256)."""

    def __init__(self, alg):
        self.alg = alg
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())

    def jwk(self):
        return dict(jwk_of(self.private), kid=KID, alg=self.alg, use="sig")

    def token(self, claims):
        return forge({"alg": self.alg, "typ": "JWT", "kid": KID}, claims, self.alg, self.private)


LONG = "L" * 64                          # the longest tenant name
MIXED = "Tn.0_z-9"                        # every allowed character class
TWENTY = [f"t{i:02d}" for i in range(20)]
KEYS = {}


def tenant_keys():
    if not KEYS:
        KEYS.update(a=Key("RS256"), b=Key("ES256"), c=Key("RS256"))
        for name in [LONG, MIXED, "liar", "slash", *TWENTY]:
            KEYS[name] = Key("ES256")
    return KEYS


# ---------------------------------------------------------------------------------------
# The multi-tenant identity server

class TenantServer:
    """Discovery documents and JWKS for the tenants in `keys`, under each of LAYOUTS; 404
    for anything else. `lies` maps a tenant to the issuer its discovery document names
    instead of its own. Counts requests by "METHOD path" (query kept) and connections; a
    request for a path holding the template itself ({tenant}, encoded or not) is counted
    apart, in `literal` (a demo that took the template for an issuer; T1 checks it)."""

    def __init__(self, keys, lies=None):
        self.keys = keys
        self.lies = dict(lies or {})
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.literal = collections.Counter()
        self.connections = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.count_request("GET", self.path)
                status, body = outer.answer(self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                outer.count_request("POST", self.path)
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def verify_request(self, request, client_address):
                with outer.lock:
                    outer.connections += 1
                return True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def issuer(self, tenant, layout=LAYOUTS[0]):
        return self.base + layout.format(t=tenant)

    def templates(self):
        return ",".join(self.base + layout.replace("{t}", "{tenant}") for layout in LAYOUTS)

    def count_request(self, method, path):
        literal = "{tenant}" in urllib.parse.unquote(path)
        with self.lock:
            (self.literal if literal else self.counts)[f"{method} {path}"] += 1

    def answer(self, path):
        for layout in LAYOUTS:
            pattern = re.escape(layout).replace(re.escape("{t}"), "([^/?#]+)")
            m = re.fullmatch(pattern + r"(/\.well-known/openid-configuration|/jwks)", path)
            if m and m.group(1) in self.keys:
                tenant, what = m.group(1), m.group(2)
                issuer = self.issuer(tenant, layout)
                if what == "/jwks":
                    return 200, {"keys": [self.keys[tenant].jwk()]}
                return 200, {
                    "issuer": self.lies.get(tenant, issuer),
                    "jwks_uri": f"{issuer}/jwks",
                    "authorization_endpoint": f"{issuer}/authorize",
                    "token_endpoint": f"{issuer}/token",
                    "response_types_supported": ["code"],
                    "subject_types_supported": ["public"],
                    "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                }
        return 404, {"error": "not_found"}

    def snapshot(self):
        with self.lock:
            return collections.Counter(self.counts), self.connections

    def new_since(self, snapshot):
        """({"GET path": n} of the requests since `snapshot`, connections since)."""
        counts, connections = self.snapshot()
        return dict(counts - snapshot[0]), connections - snapshot[1]

    def count(self, tenant, what, layout=LAYOUTS[0]):
        path = layout.format(t=tenant) + (DISCOVERY if what == "discovery" else "/jwks")
        with self.lock:
            return self.counts[f"GET {path}"]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------------------
# Demos and runs

class Demo(DemoProcess):
    missing_error = Abort
    start_error = Abort

    def me(self, token, path="/me"):
        return self.request("GET", path, {"Authorization": f"Bearer {token}"})


class Run(ScenarioRun):
    """Records answers with ports written <portN> and 200 bodies summarized, to compare the
    two demos."""

    def __init__(self, suite, scenario, name, bin_dir):
        super().__init__(suite, scenario, name)
        self.bin_dir = bin_dir
        self.ports = []

    def port(self, port):
        self.ports.append(port)

    def demo(self, binary, env):
        d = Demo(self.bin_dir, binary, env)
        self.port(d.port)
        self.cleanup.append(d.stop)
        return d

    def tenants(self, lies=None):
        s = TenantServer(tenant_keys(), lies)
        self.port(s.port)
        self.cleanup.append(s.stop)
        return s

    def norm(self, value):
        if isinstance(value, str):
            for i, port in enumerate(self.ports):
                value = value.replace(f":{port}", f":<port{i}>")
            return value
        if isinstance(value, dict):
            return {k: self.norm(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.norm(v) for v in value]
        return value

    def record(self, label, answer, summary=None):
        """summary: what to record instead of a 200 body whose values differ between runs
        (checked separately)."""
        body = json_or_text(answer.body)
        if answer.status == 200 and summary is not None:
            body = summary
        self.answers[label] = (answer.status, self.norm(answer.www), self.norm(body))
        return answer

    def expect(self, label, answer, ok, what, summary=None):
        self.record(label, answer, summary)
        self.check(ok(answer), f"{label}: {what}", answer)
        return answer


def claims_of(token):
    return json.loads(unb64(token.split(".")[1]))


def echoes(a, claims):
    return a.status == 200 and a.json() == claims


# ---------------------------------------------------------------------------------------
# Part T: tenant templates

def tenant_demo(run, binary, server):
    return run.demo(binary, {"JWT_OIDC_ISSUER": server.templates(), "JWT_AUDIENCE": AUDIENCE})


def tenant_claims(server, tenant, layout=LAYOUTS[0], **extra):
    return make_claims(server.issuer(tenant, layout), AUDIENCE, sub=f"user-of-{tenant[:8]}",
                       iat=NOW, exp=NOW + 3600, **extra)


def fetched_once(run, server, label, tenant, layout=LAYOUTS[0]):
    d, j = server.count(tenant, "discovery", layout), server.count(tenant, "jwks", layout)
    run.check(d == 1 and j == 1, f"{label}: its discovery document and JWKS fetched once each",
              f"discovery {d}, jwks {j}")


def t1_tenants(run, binary):
    K = tenant_keys()
    server = run.tenants()
    d = tenant_demo(run, binary, server)
    time.sleep(0.3)   # time for a start-up fetch, which must not happen
    run.check(not server.snapshot()[0] and not server.literal,
              "nothing fetched at start (tenants are discovered lazily)",
              (server.snapshot()[0], server.literal))
    for tenant in ("a", "b"):
        c = tenant_claims(server, tenant)
        run.expect(f"tenant {tenant} ({K[tenant].alg})", d.me(K[tenant].token(c)),
                   lambda a, c=c: echoes(a, c), "200 with its claims")
        fetched_once(run, server, f"tenant {tenant}", tenant)
    before = server.snapshot()
    c = tenant_claims(server, "a", jti="second")
    run.expect("tenant a, a second token", d.me(K["a"].token(c)), lambda a: echoes(a, c),
               "200 with its claims")
    run.check(server.new_since(before)[0] == {}, "tenant a, a second token: nothing fetched",
              server.new_since(before))
    run.expect("iss b signed by a's key (same kid k1)", d.me(K["a"].token(tenant_claims(server, "b"))),
               is_invalid_token, "401 invalid_token")
    run.expect("iss a signed by b's key (same kid k1)", d.me(K["b"].token(tenant_claims(server, "a"))),
               is_invalid_token, "401 invalid_token")
    run.expect("iss c (not yet discovered, RSA too) signed by a's RSA key",
               d.me(K["a"].token(tenant_claims(server, "c"))), is_invalid_token, "401 invalid_token")
    c = tenant_claims(server, "c")
    run.expect("tenant c (RS256), its own key", d.me(K["c"].token(c)), lambda a: echoes(a, c),
               "200 with its claims")
    run.check(server.count("c", "discovery") == 1,
              "tenant c: discovered once (its keys were kept after the forged token)",
              server.count("c", "discovery"))
    run.expect("iss a signed by c's RSA key (same kid k1)", d.me(K["c"].token(tenant_claims(server, "a"))),
               is_invalid_token, "401 invalid_token")
    c = tenant_claims(server, "a")
    run.expect("tenant a after c: its own key", d.me(K["a"].token(c)), lambda a: echoes(a, c),
               "200 with its claims")
    run.expect("tenant a, aud of another API", d.me(K["a"].token(tenant_claims(server, "a", aud="https://other.test"))),
               is_invalid_token, "401 invalid_token (JWT_AUDIENCE applies to tenants)")
    for what, tenant, layout in (("the second template /org/{tenant}/v2, tenant a", "a", LAYOUTS[1]),
                                 ("a 64-character tenant", LONG, LAYOUTS[0]),
                                 (f"tenant {MIXED} (A-Z a-z 0-9 . _ -)", MIXED, LAYOUTS[0])):
        c = tenant_claims(server, tenant, layout)
        run.expect(what, d.me(K[tenant].token(c)), lambda a, c=c: echoes(a, c), "200 with its claims")
        fetched_once(run, server, what, tenant, layout)


def t2_no_template(run, binary):
    K = tenant_keys()
    server = run.tenants()
    twin = run.tenants()   # the same tenants on another port
    d = tenant_demo(run, binary, server)
    base, host = server.base, f"127.0.0.1:{server.port}"
    cases = [
        ("another port", f"{twin.base}/a"),
        ("another host name (localhost)", f"http://localhost:{server.port}/a"),
        ("an extra path segment", f"{base}/a/b"),
        ("a trailing slash", f"{base}/a/"),
        ("tenant ..", f"{base}/.."),
        ("tenant .", f"{base}/."),
        ("tenant %2e%2e", f"{base}/%2e%2e"),
        ("tenant a%2Fb (an encoded slash)", f"{base}/a%2Fb"),
        ("an empty tenant", f"{base}/"),
        ("no path at all", base),
        ("a 65-character tenant", f"{base}/{'L' * 65}"),
        ("a query string", f"{base}/a?x=1"),
        ("a fragment", f"{base}/a#x"),
        ("scheme https", f"https://{host}/a"),
        ("the second template cut short (/org/a)", f"{base}/org/a"),
        ("the second template extended (/org/a/v2/x)", f"{base}/org/a/v2/x"),
        ("the second template with an empty tenant (/org//v2)", f"{base}/org//v2"),
        ("the second template with tenant .. (/org/../v2)", f"{base}/org/../v2"),
    ]
    first = (server.snapshot(), twin.snapshot())
    for what, iss in cases:
        before = (server.snapshot(), twin.snapshot())
        c = make_claims(iss, AUDIENCE, iat=NOW, exp=NOW + 3600)
        run.expect(f"iss {what}", d.me(K["a"].token(c)), is_invalid_token, "401 invalid_token")
        new = [server.new_since(before[0]), twin.new_since(before[1])]
        # Requests are checked case by case, connections (all a TLS client would make) for
        # https here and for all the cases together below.
        ok = new[0][0] == new[1][0] == {} and (not what.startswith("scheme") or new[0][1] == 0)
        run.check(ok, f"iss {what}: no request reaches either server",
                  f"server {new[0]}, twin {new[1]}")
    run.check([server.new_since(first[0]), twin.new_since(first[1])] == [({}, 0), ({}, 0)],
              f"after all {len(cases)}: no request or connection at all")
    c = tenant_claims(server, "a")
    run.expect("control: tenant a itself", d.me(K["a"].token(c)), lambda a: echoes(a, c),
               "200 with its claims")


def t3_unknown(run, binary):
    K = tenant_keys()
    server = run.tenants()
    server.lies.update(liar=server.issuer("a"), slash=server.issuer("slash") + "/")
    d = tenant_demo(run, binary, server)
    c = make_claims(server.issuer("nobody"), AUDIENCE, iat=NOW, exp=NOW + 3600)
    token = K["a"].token(c)
    run.expect("unknown tenant nobody", d.me(token), is_invalid_token, "401 invalid_token")
    run.check(server.count("nobody", "discovery") == 1,
              "unknown tenant nobody: one discovery request (answered 404)",
              server.snapshot()[0])
    before = server.snapshot()
    run.expect("unknown tenant nobody again", d.me(token), is_invalid_token, "401 invalid_token")
    run.check(server.new_since(before) == ({}, 0), "unknown tenant nobody again: nothing fetched "
              "(negative cache)", server.new_since(before))
    run.expect("unknown tenant nobody, another token", d.me(K["b"].token(dict(c, jti="x"))),
               is_invalid_token, "401 invalid_token")
    run.check(server.count("nobody", "discovery") == 1 and server.count("nobody", "jwks") == 0,
              "unknown tenant nobody: still one discovery request, no JWKS request",
              server.snapshot()[0])
    for tenant, why in (("liar", "names tenant a's issuer"), ("slash", "names its own issuer + /")):
        c = tenant_claims(server, tenant)
        run.expect(f"tenant {tenant}, whose discovery document {why}", d.me(K[tenant].token(c)),
                   is_invalid_token, "401 invalid_token")
        run.check(server.count(tenant, "discovery") >= 1 and server.count(tenant, "jwks") == 0,
                  f"tenant {tenant}: discovery asked, its JWKS never fetched", server.snapshot()[0])
    c = tenant_claims(server, "a")
    run.expect("control: tenant a", d.me(K["a"].token(c)), lambda a: echoes(a, c), "200 with its claims")
    run.check(server.count("a", "jwks") == 1 and server.count("liar", "jwks") == 0,
              "tenant a: its JWKS fetched once, the liar's never", server.snapshot()[0])


def t4_twenty(run, binary):
    K = tenant_keys()
    server = run.tenants()
    d = tenant_demo(run, binary, server)
    for tenant in TWENTY:
        c = tenant_claims(server, tenant)
        a = run.record(f"first token of {tenant}", d.me(K[tenant].token(c)))
        run.check(echoes(a, c), f"first token of tenant {tenant}: 200 with its claims", a)
    counts = server.snapshot()[0]
    wrong = {t: (server.count(t, "discovery"), server.count(t, "jwks")) for t in TWENTY
             if (server.count(t, "discovery"), server.count(t, "jwks")) != (1, 1)}
    run.check(not wrong and sum(counts.values()) == 40,
              "20 tenants: each discovery document and each JWKS fetched exactly once (40 requests)",
              wrong or dict(counts))
    before = server.snapshot()
    for tenant in TWENTY:
        c = tenant_claims(server, tenant, jti="again")
        a = run.record(f"second token of {tenant}", d.me(K[tenant].token(c)))
        run.check(echoes(a, c), f"second token of tenant {tenant}: 200", a)
    run.check(server.new_since(before) == ({}, 0), "20 tenants, second round: no request at all",
              server.new_since(before))


# ---------------------------------------------------------------------------------------
# Parts I and S: oidc-provider

class Provider:
    """node tests/oidc/provider.mjs with `config` (client, keys and port filled in here)."""

    def __init__(self, run, node, workdir, **config):
        config = dict({"port": 0, "jwks": {"keys": [rsa_private_jwk("idp-rs256")]},
                       "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, **config)
        self.process, self.issuer = start_provider(node, workdir, config)
        run.cleanup.append(self.process.stop)
        run.port(int(self.issuer.rsplit(":", 1)[1]))
        self.meta = json.loads(http_request("GET", self.issuer + DISCOVERY).body)

    def post(self, url, fields):
        basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        req = urllib.request.Request(url, data=urllib.parse.urlencode(fields).encode(),
                                     method="POST", headers={
                                         "Authorization": f"Basic {basic}",
                                         "Content-Type": "application/x-www-form-urlencoded"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def token(self, resource=None):
        """client_credentials: a JWT for `resource`, or an opaque token without one."""
        fields = {"grant_type": "client_credentials", "scope": "api:read"}
        if resource is not None:
            fields["resource"] = resource
        status, body = self.post(self.meta["token_endpoint"], fields)
        if status != 200:
            raise RuntimeError(f"token endpoint: {status} {body}")
        return json.loads(body)["access_token"]

    def introspect(self, token):
        status, body = self.post(self.meta["introspection_endpoint"], {"token": token})
        return json.loads(body) if status == 200 else {"status": status, "body": body}

    def revoke(self, token):
        return self.post(self.meta["revocation_endpoint"], {"token": token})[0]

    def requests(self, key="POST /token/introspection"):
        return json.loads(http_request("GET", self.issuer + "/__test__/requests").body).get(key, 0)

    def stop(self):
        self.process.stop()


def members_ok(a, response):
    """/me answers the introspection response's members (`active` may be left out)."""
    body = a.json()
    if a.status != 200 or not isinstance(body, dict) or response.get("active") is not True:
        return False
    expected = {k: v for k, v in response.items() if k != "active"}
    return {k: v for k, v in body.items() if k != "active"} == expected and body.get("active", True) is True


def i_introspection(run, binary, node, workdir):
    resource, other = "http://127.0.0.1/api/idp", "http://127.0.0.1/api/other"
    p = Provider(run, node, workdir, introspection=True,
                 resources={resource: "RS256", other: "RS256"})
    paths = {k: urllib.parse.urlsplit(p.meta.get(k, "")).path
             for k in ("introspection_endpoint", "revocation_endpoint")}
    run.need(paths == {"introspection_endpoint": "/token/introspection",
                       "revocation_endpoint": "/token/revocation"},
             "the provider's discovery names /token/introspection and /token/revocation", p.meta)
    intro = {"JWT_INTROSPECTION_URL": p.meta["introspection_endpoint"],
             "JWT_INTROSPECTION_CLIENT_ID": CLIENT_ID,
             "JWT_INTROSPECTION_CLIENT_SECRET": CLIENT_SECRET}

    # JWTs are verified locally when keys exist, never introspected.
    d = run.demo(binary, dict(intro, JWT_OIDC_ISSUER=p.issuer, JWT_AUDIENCE=resource))
    run.need(d.wait_keys_ready(30), "with JWT_OIDC_ISSUER too: the provider's keys load",
             d.tail())
    before = p.requests()
    jwt = p.token(resource)
    run.expect("with keys: the provider's JWT for the audience", d.me(jwt),
               lambda a: echoes(a, claims_of(jwt)), "200 with its claims", summary="(claims)")
    run.expect("with keys: the provider's JWT for another audience", d.me(p.token(other)),
               is_invalid_token, "401 invalid_token")
    run.check(p.requests() == before, "with keys: the JWTs caused no introspection request",
              f"{before} → {p.requests()}")
    d.stop()

    d = run.demo(binary, intro)
    opaque = p.token()
    run.need(opaque.count(".") == 0, "the provider issues an opaque token without resource", opaque)
    response = p.introspect(opaque)
    run.need(response.get("active") is True and response.get("client_id") == CLIENT_ID,
             "the provider's own introspection: active true, client_id", response)
    before = p.requests()
    run.expect("an active opaque token", d.me(opaque), lambda a: members_ok(a, response),
               "200 with the introspection response's members", summary=sorted(response))
    run.check(p.requests() > before, "an active opaque token: the demo introspected it",
              f"{before} → {p.requests()}")
    run.expect("the active opaque token again", d.me(opaque), lambda a: members_ok(a, response),
               "200 with the same members", summary=sorted(response))
    run.expect("an opaque token the provider never issued", d.me("opaque-never-issued-0123456789"),
               is_invalid_token, "401 invalid_token (active false)")
    run.need(p.revoke(opaque) == 200, "the token revoked at /token/revocation (200)")
    run.need(p.introspect(opaque) == {"active": False}, "after revocation the provider answers "
             "active false", p.introspect(opaque))
    run.expect("the revoked opaque token", d.me(opaque), is_invalid_token,
               "401 invalid_token at once (no cache)")

    seen, fresh = p.token(), p.token()
    run.expect("another active opaque token", d.me(seen), lambda a: members_ok(a, p.introspect(seen)),
               "200", summary="(members)")
    p.stop()
    run.expect("the introspection endpoint down: a fresh opaque token", d.me(fresh),
               is_unavailable, "503 temporarily_unavailable, no WWW-Authenticate")
    run.expect("the introspection endpoint down: the token that was active", d.me(seen),
               is_unavailable, "503 (its active answer was not cached)")


def step_up(a, max_age):
    www = a.www or ""
    params = dict(re.findall(r'([a-z_]+)="([^"]*)"', www))
    return (a.status == 401 and www.startswith("Bearer ")
            and params.get("error") == "insufficient_user_authentication"
            and params.get("acr_values") == MFA and params.get("max_age") == max_age
            and error_of(a) == "insufficient_user_authentication")


def s_stepup(run, binary, node, workdir):
    mfa, pwd, old = (f"http://127.0.0.1/api/{n}" for n in ("mfa", "pwd", "old"))
    p = Provider(run, node, workdir, extra_claims={"acr": MFA, "auth_time": "now-5"}, resources={
        mfa: "RS256",
        pwd: {"alg": "RS256", "extra_claims": {"acr": PWD}},
        old: {"alg": "RS256", "extra_claims": {"auth_time": "now-3600"}}})
    d = run.demo(binary, {"JWT_OIDC_ISSUER": p.issuer, "JWT_AUDIENCE": f"{mfa},{pwd},{old}",
                          "JWT_STEPUP_ACR": MFA, "JWT_STEPUP_MAX_AGE": "300"})
    run.need(d.wait_keys_ready(30), "the provider's keys load", d.tail())
    tokens = {n: p.token(r) for n, r in (("mfa", mfa), ("pwd", pwd), ("old", old))}
    c = claims_of(tokens["mfa"])
    now = int(time.time())
    run.need(c.get("acr") == MFA and abs(c.get("auth_time", 0) - (now - 5)) <= 5
             and claims_of(tokens["pwd"]).get("acr") == PWD
             and abs(claims_of(tokens["old"]).get("auth_time", 0) - (now - 3600)) <= 5,
             "the provider's tokens carry acr and auth_time (extra_claims)", c)
    run.expect("GET /stepup, acr urn:demo:mfa, auth_time 5 s ago", d.me(tokens["mfa"], "/stepup"),
               lambda a: echoes(a, c), "200 with the claims", summary="(claims)")
    run.expect("GET /stepup, acr urn:demo:pwd", d.me(tokens["pwd"], "/stepup"),
               lambda a: step_up(a, None),
               '401 Bearer error="insufficient_user_authentication", acr_values, no max_age')
    run.expect("GET /stepup, auth_time an hour ago", d.me(tokens["old"], "/stepup"),
               lambda a: step_up(a, "300"),
               '401 Bearer error="insufficient_user_authentication", acr_values, max_age="300"')
    run.expect("GET /me, acr urn:demo:pwd", d.me(tokens["pwd"]),
               lambda a: echoes(a, claims_of(tokens["pwd"])), "200 (only /stepup asks for more)",
               summary="(claims)")
    for path in ("/me", "/stepup"):
        # Access-Control-Allow-Origin is "*" (tower-http) or the origin (actix-cors): both
        # allow it, so it is checked, not compared.
        run.expect(f"preflight OPTIONS {path}", d.request("OPTIONS", path, {
            "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization"}),
            lambda a: a.status is not None and 200 <= a.status < 300
            and a.header("Access-Control-Allow-Origin") in ("*", ORIGIN),
            "2xx without a token, with Access-Control-Allow-Origin")


# ---------------------------------------------------------------------------------------

T_SCENARIOS = [
    ("T1", "tenant templates: tenants, colliding kids, layouts", t1_tenants),
    ("T2", "tenant templates: an iss fitting no template", t2_no_template),
    ("T3", "tenant templates: unknown and lying tenants", t3_unknown),
    ("T4", "tenant templates: 20 tenants, one discovery each", t4_twenty),
]
N_SCENARIOS = [
    ("I", "RFC 7662 introspection (oidc-provider)", i_introspection),
    ("S", "step-up and CORS preflight smoke (oidc-provider)", s_stepup),
]


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of ids (T1..T4, I, S)")
    _, BIN_DIR, demos, only = parse_demo_arguments(parser)
    suite = Suite()
    start = time.monotonic()
    workdir = tempfile.mkdtemp(prefix="idp-suite-")
    try:
        for sid, title, fn in T_SCENARIOS:
            if not only or sid in only or "T" in only:
                run_scenario(suite, f"{sid} {title}", demos, fn, run_class=Run, run_args=(BIN_DIR,))
        wanted = [s for s in N_SCENARIOS if not only or s[0] in only]
        node = None
        if wanted:
            node = required_tool(suite, "I, S", "node",
                                 "node is not on PATH: the oidc-provider scenarios cannot run",
                                 "Install Node.js >= 20.19 to run them.")
        if node is not None and node_packages(suite, (OIDC_DIR, "oidc-provider"), prefix="I, S: "):
            for sid, title, fn in wanted:
                run_scenario(suite, f"{sid} {title}", demos, fn, node, workdir, run_class=Run,
                             run_args=(BIN_DIR,))
    except Exception:   # noqa: BLE001 - a broken setup is a failure, not a crash
        suite.check(False, "idp suite", traceback.format_exc().strip().replace("\n", " | "))
    finally:
        kill_live()
        shutil.rmtree(workdir, ignore_errors=True)
    return suite.finish(f"idp: {', '.join(demos)}, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
