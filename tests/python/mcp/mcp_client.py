#!/usr/bin/env python3
"""RFC 9728 on axum-demo and actix-demo; mcp-demo against a real MCP client and a real
authorization server.

Usage:
    mcp_client.py [BIN_DIR]

BIN_DIR (default target/debug) holds axum-demo, actix-demo and mcp-demo (cargo build -p
axum-demo -p actix-demo -p mcp-demo). Everything runs on 127.0.0.1, on free ports.

Part 1, demos_part(): DEMO-CONTRACT.md "Protected resource metadata (RFC 9728) and MCP" against
axum-demo and actix-demo, black box, with HS256 tokens signed here (JWT_SECRET, JWT_ISSUER):
- JWT_RESOURCE http://127.0.0.1:PORT/api (the demo's own port) with JWT_SCOPES_SUPPORTED: the
  document at /.well-known/oauth-protected-resource/api and at the root, exactly resource,
  authorization_servers (the JWT_ISSUER entries), bearer_methods_supported, scopes_supported;
  resource_metadata (path-inserted) in every 401 and 403 (no token, garbage, aud of another
  resource or none, expired, /admin without role admin); aud = the resource gets 200; Host,
  X-Forwarded-* and Forwarded change neither the document nor resource_metadata;
- http://127.0.0.1:PORT/api/ with JWT_AUTHORIZATION_SERVERS: the slash is kept (resource,
  /.well-known/oauth-protected-resource/api/), the servers replace the issuer default;
- no JWT_RESOURCE: no resource_metadata in any challenge, no document;
- an invalid JWT_RESOURCE (plain http off loopback, a fragment): exit non-zero at start,
  naming JWT_RESOURCE;
- each scenario's answers (status, WWW-Authenticate, content type, parsed body, the port
  written <port>) compared between the two demos.

Part 2, mcp-demo:

- a real OpenID Provider, node tests/oidc/provider.mjs (oidc-provider from npm): the
  client_credentials grant with resource indicators (RFC 8707) issues RFC 9068 JWT access
  tokens; it knows two resources, mcp-demo's `http://127.0.0.1:PORT/mcp` and
  `http://127.0.0.1:PORT/other`, whose tokens may carry `mcp` and `api:read`;
- mcp-demo with JWT_OIDC_ISSUER = that provider (so it discovers its keys) and the default
  JWT_RESOURCE, `http://<DEMO_ADDR>/mcp`; ready once /health says keys_ready;
- node tests/mcp/client.mjs, the official TypeScript SDK (@modelcontextprotocol/sdk): the 401
  and its resource_metadata, the metadata documents, a client_credentials token got by the
  SDK's auth() (ClientCredentialsProvider), tools/list and the tool whoami (sub and scope);
  a token for the other resource is 401, a token without scope mcp is 403 scope="mcp".

Prints one PASS/FAIL line per check and a final "N passed, N failed" line; exits 1 on any
failure. Runs `npm ci` in tests/oidc and tests/mcp when their node_modules are missing. When
node is missing part 2 is reported SKIPPED, or FAILED when CI=true. Needs Python's
`cryptography` (tests/python/requirements.txt).
"""
import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from demo_support import (DemoProcess, ScenarioRun, Suite, forge, free_port, json_or_text,
                          kill_live, required_tool, run_scenario, run_until_exit)
from services import node_packages, rsa_private_jwk, run_node_client, start_provider

OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
MCP_DIR = os.path.join(ROOT, "tests", "mcp")
CLIENT_ID = "mcp-test-client"
CLIENT_SECRET = "mcp-test-client-secret-not-a-secret"
RESOURCE_SCOPE = "mcp api:read"


def start_demo(bin_dir, port, issuer):
    """mcp-demo on 127.0.0.1:port with JWT_OIDC_ISSUER; returns once /health says keys_ready."""
    demo = DemoProcess(bin_dir, "mcp-demo", {"JWT_OIDC_ISSUER": issuer}, port=port)
    if not demo.wait_keys_ready(30):
        demo.stop()
        raise RuntimeError(f"mcp-demo did not get ready ({demo.health()[0]!r}): {demo.tail()}")
    return demo


# ---------------------------------------------------------------------------------------
# Part 1: RFC 9728 in axum-demo and actix-demo (DEMO-CONTRACT.md, "Protected resource
# metadata (RFC 9728) and MCP"), black box, HS256 tokens minted here.

DEMOS = ("axum-demo", "actix-demo")
SECRET = "mcp-suite-hs256-secret-0123456789-abcdef"   # 32+ bytes
ISSUER = "https://issuer.test"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
SCOPES = "mcp,api:read"
SERVERS = "https://as-one.test,https://as-two.test/tenant-a"
EXIT_DEADLINE = 30   # seconds a demo with a bad JWT_RESOURCE gets to exit
HOSTILE = {   # requests that try to change the advertised URL
    "Host": {"Host": "evil.test"},
    "Host with a port": {"Host": "evil.test:8443"},
    "X-Forwarded-Host/Proto": {"X-Forwarded-Host": "evil.test", "X-Forwarded-Proto": "https",
                               "X-Forwarded-Port": "443"},
    "Forwarded": {"Forwarded": "host=evil.test;proto=https"},
    "all of them": {"Host": "evil.test:8443", "X-Forwarded-Host": "attacker.test",
                    "X-Forwarded-Proto": "https", "X-Forwarded-Port": "443",
                    "Forwarded": "host=attacker.test;proto=https"},
}
NOW = int(time.time())   # one iat/exp for every token, so that both demos see the same claims


class Demo(DemoProcess):
    """A demo whose JWT_RESOURCE names its own port: make_env(port) is its environment."""

    def __init__(self, bin_dir, binary, make_env):
        port = free_port()
        super().__init__(bin_dir, binary, make_env(port), port=port)

    def get(self, path, token=None, headers=None):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return self.request("GET", path, h)


class Run(ScenarioRun):
    """Records answers with the demo's port written <port>, to compare the two demos."""
    port = None

    def demo(self, bin_dir, binary, make_env):
        d = Demo(bin_dir, binary, make_env)
        self.port = d.port
        self.cleanup.append(d.stop)
        return d

    def norm(self, text):
        return text.replace(f"127.0.0.1:{self.port}", "127.0.0.1:<port>") if text and self.port else text

    def record(self, label, answer):
        self.answers[label] = (answer.status, self.norm(answer.www), media_type(answer),
                               json_or_text(self.norm(answer.body)))
        return answer


def hs256(aud, **extra):
    """alice's token (roles ["user"]) for `aud` (None: no aud claim), signed with SECRET."""
    claims = {"sub": "alice", "iss": ISSUER, "aud": aud, "iat": NOW, "exp": NOW + 3600,
              "roles": ["user"]}
    for k, v in extra.items():
        claims[k] = v
    claims = {k: v for k, v in claims.items() if v is not None}
    return forge({"alg": "HS256", "typ": "JWT"}, claims, "HS256", SECRET.encode())


def media_type(answer):
    return (answer.header("Content-Type") or "").split(";")[0].strip().lower()


def challenge(www):
    """(scheme, {param: value}, how many resource_metadata params) of a single challenge."""
    if not www:
        return None, {}, 0
    scheme = www.split(" ", 1)[0]
    params = dict(re.findall(r'([A-Za-z_]+)="([^"]*)"', www))
    return scheme, params, len(re.findall(r"\bresource_metadata=", www))


def check_document(run, what, answer, expected):
    """200 application/json, exactly `expected` (resource compared byte for byte)."""
    body = answer.json()
    run.check(answer.status == 200 and media_type(answer) == "application/json"
              and body == expected and isinstance(body, dict)
              and body.get("resource") == expected["resource"],
              f"{what}: 200 application/json, exactly {expected}", answer)


def check_challenge(run, what, answer, status, error, metadata_url):
    """`status` with a Bearer challenge whose error is `error` (None: no error param) and
    whose resource_metadata is metadata_url (None: no resource_metadata at all)."""
    scheme, params, count = challenge(answer.www)
    ok = (answer.status == status and scheme == "Bearer" and params.get("error") == error
          and (count == 0 if metadata_url is None
               else count == 1 and params.get("resource_metadata") == metadata_url))
    rm = "no resource_metadata" if metadata_url is None else f'resource_metadata="{metadata_url}"'
    err = f' error="{error}"' if error else " no error"
    run.check(ok, f"{what}: {status} Bearer{err}, {rm}", answer)


def challenges(run, d, resource, metadata_url, other_aud=None):
    """Every 401 and 403 of the middleware carries resource_metadata; the resource is the
    audience a token needs (JWT_AUDIENCE unset)."""
    other = f"http://127.0.0.1:{d.port}/other"
    cases = [
        ("GET /me without a token", "/me", None, 401, None),
        ("GET /me with a garbage token", "/me", "garbage", 401, "invalid_token"),
        ("GET /me with a token whose aud is another resource", "/me", hs256(other), 401,
         "invalid_token"),
        ("GET /me with a token without aud", "/me", hs256(None), 401, "invalid_token"),
        ("GET /me with an expired token", "/me", hs256(resource, iat=NOW - 7200, exp=NOW - 3600),
         401, "invalid_token"),
        ("GET /optional with a garbage token", "/optional", "garbage", 401, "invalid_token"),
        ("GET /admin without a token", "/admin", None, 401, None),
        ("GET /admin with a valid token lacking role admin", "/admin", hs256(resource), 403,
         "insufficient_scope"),
    ]
    if other_aud is not None:
        cases.append((f"GET /me with a token whose aud is {other_aud}", "/me", hs256(other_aud),
                      401, "invalid_token"))
    for what, path, token, status, error in cases:
        check_challenge(run, what, run.record(what, d.get(path, token)), status, error,
                        metadata_url)
    a = run.record("GET /me with aud = the resource", d.get("/me", hs256(resource)))
    body = a.json()
    run.check(a.status == 200 and a.www is None and isinstance(body, dict)
              and body.get("sub") == "alice" and body.get("aud") == resource,
              "GET /me with a token whose aud is the resource: 200 with its claims", a)
    a = run.record("GET /admin with aud = the resource and role admin",
                   d.get("/admin", hs256(resource, roles=["admin", "user"])))
    run.check(a.status == 200, "GET /admin with a valid admin token: 200", a)


def hostile(run, d, resource, paths, document, metadata_url):
    """Host and forwarding headers change neither the document nor resource_metadata."""
    token = hs256(f"http://127.0.0.1:{d.port}/other")
    for name, headers in HOSTILE.items():
        for path in paths:
            a = run.record(f"{name}: GET {path}", d.get(path, headers=headers))
            run.check(a.status == 200 and media_type(a) == "application/json"
                      and a.body == document,
                      f"{name} {headers}: GET {path} is the same document", a)
        for what, path, tok, status, error in (
                ("GET /me without a token", "/me", None, 401, None),
                ("GET /me with a token for another resource", "/me", token, 401, "invalid_token"),
                ("GET /admin without role admin", "/admin", hs256(resource), 403,
                 "insufficient_scope")):
            a = run.record(f"{name}: {what}", d.get(path, tok, headers))
            check_challenge(run, f"{name}: {what}", a, status, error, metadata_url)


def base_env(port, resource=None, **extra):
    env = {"JWT_SECRET": SECRET, "JWT_ISSUER": ISSUER}
    if resource is not None:
        env["JWT_RESOURCE"] = resource.format(port=port)
    env.update(extra)
    return env


def with_path(run, binary, bin_dir):
    """JWT_RESOURCE http://127.0.0.1:<port>/api, JWT_SCOPES_SUPPORTED; servers from JWT_ISSUER."""
    d = run.demo(bin_dir, binary, lambda port: base_env(port, "http://127.0.0.1:{port}/api",
                                                         JWT_SCOPES_SUPPORTED=SCOPES))
    resource = f"http://127.0.0.1:{d.port}/api"
    metadata_url = f"http://127.0.0.1:{d.port}{WELL_KNOWN}/api"
    expected = {"resource": resource, "authorization_servers": [ISSUER],
                "bearer_methods_supported": ["header"], "scopes_supported": SCOPES.split(",")}
    paths = (f"{WELL_KNOWN}/api", WELL_KNOWN)
    for path in paths:
        check_document(run, f"GET {path} without a token", run.record(f"GET {path}", d.get(path)),
                       expected)
    document = d.get(paths[0]).body
    challenges(run, d, resource, metadata_url)
    hostile(run, d, resource, paths, document, metadata_url)


def trailing_slash(run, binary, bin_dir):
    """JWT_RESOURCE http://127.0.0.1:<port>/api/ keeps its slash; JWT_AUTHORIZATION_SERVERS
    replaces the JWT_ISSUER default; no JWT_SCOPES_SUPPORTED, no scopes_supported."""
    d = run.demo(bin_dir, binary, lambda port: base_env(port, "http://127.0.0.1:{port}/api/",
                                                         JWT_AUTHORIZATION_SERVERS=SERVERS))
    resource = f"http://127.0.0.1:{d.port}/api/"
    metadata_url = f"http://127.0.0.1:{d.port}{WELL_KNOWN}/api/"
    expected = {"resource": resource, "authorization_servers": SERVERS.split(","),
                "bearer_methods_supported": ["header"]}
    paths = (f"{WELL_KNOWN}/api/", WELL_KNOWN)
    for path in paths:
        check_document(run, f"GET {path} without a token", run.record(f"GET {path}", d.get(path)),
                       expected)
    challenges(run, d, resource, metadata_url, other_aud=resource[:-1])
    hostile(run, d, resource, paths, d.get(paths[0]).body, metadata_url)


def without_resource(run, binary, bin_dir):
    """No JWT_RESOURCE (JWT_AUTHORIZATION_SERVERS and JWT_SCOPES_SUPPORTED set alone): no
    resource_metadata anywhere, no document."""
    d = run.demo(bin_dir, binary, lambda port: base_env(port, JWT_AUTHORIZATION_SERVERS=SERVERS,
                                                         JWT_SCOPES_SUPPORTED=SCOPES))
    for what, path, token, status, error in (
            ("GET /me without a token", "/me", None, 401, None),
            ("GET /me with a garbage token", "/me", "garbage", 401, "invalid_token"),
            ("GET /me with a token carrying aud", "/me", hs256(f"http://127.0.0.1:{d.port}/api"),
             401, "invalid_token"),
            ("GET /optional with a garbage token", "/optional", "garbage", 401, "invalid_token"),
            ("GET /admin with a valid token lacking role admin", "/admin", hs256(None), 403,
             "insufficient_scope")):
        check_challenge(run, what, run.record(what, d.get(path, token)), status, error, None)
    a = run.record("GET /me with a valid token", d.get("/me", hs256(None)))
    run.check(a.status == 200, "GET /me with a valid token without aud: 200", a)
    for path in (WELL_KNOWN, f"{WELL_KNOWN}/api", f"{WELL_KNOWN}/api/"):
        a = run.record(f"GET {path}", d.get(path))
        run.check(a.status is not None and a.status != 200, f"GET {path}: not 200", a)


def invalid_resource(run, binary, bin_dir):
    """A JWT_RESOURCE that is not a valid resource identifier stops the demo at start."""
    for why, resource in (("plain http off loopback", "http://example.com/api"),
                          ("a fragment", f"http://127.0.0.1:{free_port()}/api#section"),
                          ("https with a fragment", "https://api.example.com/#x")):
        code, out = run_until_exit(bin_dir, binary, dict(base_env(0), JWT_RESOURCE=resource),
                                   EXIT_DEADLINE)
        run.answers[f"JWT_RESOURCE with {why}"] = (code, re.sub(r":\d+/", ":<port>/", out))
        run.check(code not in (0, None) and "JWT_RESOURCE" in out,
                  f"JWT_RESOURCE={resource} ({why}): exits non-zero at start naming JWT_RESOURCE",
                  f"exit {code}, output: {out[-500:]!r}")


SCENARIOS = [
    ("resource with a path", with_path),
    ("resource with a trailing slash, JWT_AUTHORIZATION_SERVERS", trailing_slash),
    ("no JWT_RESOURCE", without_resource),
    ("invalid JWT_RESOURCE", invalid_resource),
]


def demos_part(suite, bin_dir):
    """The RFC 9728 block against axum-demo and actix-demo; then the two compared."""
    for title, fn in SCENARIOS:
        run_scenario(suite, title, DEMOS, fn, bin_dir, run_class=Run)


# ---------------------------------------------------------------------------------------
# Part 2: mcp-demo, the TypeScript MCP SDK and oidc-provider

def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bin_dir", nargs="?", default=os.path.join(ROOT, "target", "debug"))
    bin_dir = os.path.abspath(parser.parse_args().bin_dir)

    suite = Suite()
    start = time.monotonic()
    try:
        demos_part(suite, bin_dir)
    finally:
        kill_live()
    node = required_tool(suite, "mcp", "node", "node is not on PATH: the MCP client suite cannot run",
                         "Install Node.js >= 20 to run it.")
    if node is None:
        return suite.finish("mcp client: axum-demo, actix-demo; mcp-demo skipped")
    if not node_packages(suite, (OIDC_DIR, "oidc-provider"), (MCP_DIR, "@modelcontextprotocol/sdk")):
        return suite.finish("mcp client: axum-demo, actix-demo; mcp-demo: node packages missing")

    workdir = tempfile.mkdtemp(prefix="mcp-client-")
    started = []
    try:
        port = free_port()
        server = f"http://127.0.0.1:{port}/mcp"
        other = f"http://127.0.0.1:{port}/other"
        provider, issuer = start_provider(node, workdir, {
            "port": 0, "jwks": {"keys": [rsa_private_jwk("mcp-test-rs256")]},
            "resources": {url: {"alg": "RS256", "scope": RESOURCE_SCOPE} for url in (server, other)},
            "scopes": ["mcp"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        started.append(provider)
        suite.check(True, f"provider {issuer} started")
        started.append(start_demo(bin_dir, port, issuer))
        suite.check(True, f"mcp-demo ready at {server}")
        # tests/mcp/client.mjs: one check per JSON line it prints
        run_node_client(lambda ok, text, detail=None: suite.check(ok, f"[mcp-demo] {text}", detail),
                        node, os.path.join(MCP_DIR, "client.mjs"), workdir,
                        {"server": server, "issuer": issuer, "client_id": CLIENT_ID,
                         "client_secret": CLIENT_SECRET, "other_resource": other},
                        "the MCP client")
    except Exception:   # noqa: BLE001 - a broken setup is a failure, not a crash
        suite.check(False, "mcp client suite", traceback.format_exc().strip().replace("\n", " | "))
    finally:
        for process in reversed(started):
            process.stop()
        kill_live()
        shutil.rmtree(workdir, ignore_errors=True)
    return suite.finish(f"mcp client: axum-demo, actix-demo, mcp-demo, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
