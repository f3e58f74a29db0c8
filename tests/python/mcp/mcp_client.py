#!/usr/bin/env python3
"""mcp-demo against a real MCP client and a real authorization server.

Usage:
    mcp_client.py [BIN_DIR]

BIN_DIR (default target/debug) holds mcp-demo (cargo build -p mcp-demo). Everything runs on
127.0.0.1, on free ports:

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
node is missing the suite is reported SKIPPED, or FAILED when CI=true. Needs Python's
`cryptography` (tests/python/requirements.txt).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from cryptography.hazmat.primitives.asymmetric import rsa

from demo_support import LIVE, Suite, b64, free_port, http_request, kill_live, skip_or_fail, stop_process

OIDC_DIR = os.path.join(ROOT, "tests", "oidc")
MCP_DIR = os.path.join(ROOT, "tests", "mcp")
CLIENT_ID = "mcp-test-client"
CLIENT_SECRET = "mcp-test-client-secret-not-a-secret"
RESOURCE_SCOPE = "mcp api:read"


def rsa_jwk(kid):
    """A fresh RS256 private JWK for the provider to sign with."""
    def num(n):
        return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))
    pn = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_numbers()
    return {"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
            "n": num(pn.public_numbers.n), "e": num(pn.public_numbers.e), "d": num(pn.d),
            "p": num(pn.p), "q": num(pn.q), "dp": num(pn.dmp1), "dq": num(pn.dmq1),
            "qi": num(pn.iqmp)}


class Process:
    """A child process whose stdout and stderr are drained into `lines` (last 200 kept)."""

    def __init__(self, argv, env=None, on_stdout=None):
        self.lines = []
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        LIVE.append(self.proc)
        for stream, callback in ((self.proc.stdout, on_stdout), (self.proc.stderr, None)):
            threading.Thread(target=self._drain, args=(stream, callback), daemon=True).start()

    def _drain(self, stream, callback):
        for line in stream:
            line = line.rstrip("\n")
            if callback is None or not callback(line):
                self.lines.append(line)
                del self.lines[:-200]

    def tail(self, n=10):
        return " | ".join(self.lines[-n:])

    def stop(self):
        stop_process(self.proc)


def start_provider(node, workdir, resources):
    """tests/oidc/provider.mjs; returns (process, issuer) once it printed its issuer."""
    config = os.path.join(workdir, "provider.json")
    with open(config, "w") as f:
        json.dump({"port": 0, "jwks": {"keys": [rsa_jwk("mcp-test-rs256")]},
                   "resources": {url: {"alg": "RS256", "scope": RESOURCE_SCOPE} for url in resources},
                   "scopes": ["mcp"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}, f)
    found = {}
    ready = threading.Event()

    def on_stdout(line):
        if "issuer" not in found:
            try:
                found["issuer"] = json.loads(line)["issuer"]
                ready.set()
                return True
            except (ValueError, KeyError, TypeError):
                pass
        return False

    provider = Process([node, os.path.join(OIDC_DIR, "provider.mjs"), config], on_stdout=on_stdout)
    deadline = time.monotonic() + 30
    while not ready.wait(0.05):
        if provider.proc.poll() is not None or time.monotonic() > deadline:
            provider.stop()
            raise RuntimeError(f"the provider did not start: {provider.tail()}")
    return provider, found["issuer"]


def start_demo(bin_dir, port, issuer):
    """mcp-demo on 127.0.0.1:port with JWT_OIDC_ISSUER; returns once /health says keys_ready."""
    path = os.path.join(bin_dir, "mcp-demo")
    if not os.path.exists(path):
        raise RuntimeError(f"{path} does not exist (cargo build -p mcp-demo)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
    env.update(DEMO_ADDR=f"127.0.0.1:{port}", JWT_OIDC_ISSUER=issuer, RUST_LOG="warn")
    demo = Process([path], env=env)
    deadline = time.monotonic() + 30
    while True:
        answer = http_request("GET", f"http://127.0.0.1:{port}/health", timeout=2)
        body = answer.json()
        if answer.status == 200 and isinstance(body, dict) and body.get("keys_ready") is True:
            return demo
        if demo.proc.poll() is not None or time.monotonic() > deadline:
            demo.stop()
            raise RuntimeError(f"mcp-demo did not get ready ({answer!r}): {demo.tail()}")
        time.sleep(0.05)


def node_packages(suite, npm, directory, package):
    """Runs `npm ci` in `directory` when its node_modules lacks `package`."""
    if os.path.isdir(os.path.join(directory, "node_modules", package)):
        return True
    rel = os.path.relpath(directory, ROOT)
    if npm is None:
        return suite.check(False, f"{rel}/node_modules is missing and npm is not on PATH")
    print(f"installing {rel} packages: npm ci --prefix {rel}", flush=True)
    done = subprocess.run([npm, "ci", "--prefix", directory, "--no-audit", "--no-fund"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return suite.check(done.returncode == 0, f"npm ci --prefix {rel}", done.stdout[-2000:])


def run_client(suite, node, workdir, config):
    """node tests/mcp/client.mjs: one check per JSON line it prints."""
    path = os.path.join(workdir, "client.json")
    with open(path, "w") as f:
        json.dump(config, f)
    try:
        done = subprocess.run([node, os.path.join(MCP_DIR, "client.mjs"), path], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        suite.check(False, "[mcp-demo] the MCP client finished within 120 s", (e.stderr or "")[-2000:])
        return
    checks = 0
    for line in done.stdout.splitlines():
        try:
            entry = json.loads(line)
            name, ok = entry["check"], entry["ok"]
        except (ValueError, KeyError, TypeError):
            print(f"client: {line}", flush=True)
            continue
        checks += 1
        suite.check(ok is True, f"[mcp-demo] {name}", entry.get("detail"))
    if done.returncode != 0 or checks == 0:
        suite.check(False, f"[mcp-demo] the MCP client exited {done.returncode} after {checks} checks",
                    done.stderr[-2000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bin_dir", nargs="?", default=os.path.join(ROOT, "target", "debug"))
    bin_dir = os.path.abspath(parser.parse_args().bin_dir)

    suite = Suite()
    start = time.monotonic()
    node = shutil.which("node")
    if node is None:
        skip_or_fail(suite, "mcp", "node is not on PATH: the MCP client suite cannot run",
                     "node", "Install Node.js >= 20 to run it.")
        return suite.finish("mcp client: skipped")
    npm = shutil.which("npm")
    if not (node_packages(suite, npm, OIDC_DIR, "oidc-provider")
            and node_packages(suite, npm, MCP_DIR, "@modelcontextprotocol/sdk")):
        return suite.finish("mcp client: node packages missing")

    workdir = tempfile.mkdtemp(prefix="mcp-client-")
    started = []
    try:
        port = free_port()
        server = f"http://127.0.0.1:{port}/mcp"
        other = f"http://127.0.0.1:{port}/other"
        provider, issuer = start_provider(node, workdir, [server, other])
        started.append(provider)
        suite.check(True, f"provider {issuer} started")
        started.append(start_demo(bin_dir, port, issuer))
        suite.check(True, f"mcp-demo ready at {server}")
        run_client(suite, node, workdir, {"server": server, "issuer": issuer,
                                          "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                          "other_resource": other})
    except Exception:   # noqa: BLE001 - a broken setup is a failure, not a crash
        suite.check(False, "mcp client suite", traceback.format_exc().strip().replace("\n", " | "))
    finally:
        for process in reversed(started):
            process.stop()
        kill_live()
        shutil.rmtree(workdir, ignore_errors=True)
    return suite.finish(f"mcp client: mcp-demo, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
