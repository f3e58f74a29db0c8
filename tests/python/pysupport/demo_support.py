"""Helpers shared by the black-box Python suites that run the demo binaries.

Used by tests/python/interop/interop.py, tests/python/remote/remote_keys.py and
tests/python/lifecycle/lifecycle.py, which put this folder on sys.path before importing it.
Plain stdlib plus `cryptography`; only 127.0.0.1 is used.

- JOSE: b64 / unb64 (base64url without padding), raw_sign, forge, override, make_claims.
- Key fixtures in tests/keys: read_key, private_key.
- HTTP: free_port, Answer, http_request, error_of, is_invalid_token, is_unavailable.
- Processes: LIVE, stop_process, kill_live, DemoProcess (a demo binary started on a free
  port, waited for until it prints "listening on", its output drained).
- Command line: demo_arguments, parse_demo_arguments ([BIN_DIR] [--only ...] [--demos ...]).
- Reporting: Abort, Suite (PASS/FAIL/SKIP lines, finish(): the final "N passed, N failed"),
  ScenarioRun, run_one, compare, skip_or_fail (SKIP, or FAIL when CI=true).
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import threading
import time
import traceback
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
KEYS = os.path.join(ROOT, "tests", "keys")


class Abort(Exception):
    """Stops one scenario for one demo (already reported as a failure)."""


# ---------------------------------------------------------------------------------------
# JOSE helpers

def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_sign(alg, key, signing_input):
    """Signs with the given algorithm whatever the header says."""
    msg = signing_input.encode()
    if alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return hmac.new(key, msg, digest).digest()
    h = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[2:])
    if alg.startswith("RS"):
        return key.sign(msg, padding.PKCS1v15(), h)
    if alg.startswith("PS"):
        return key.sign(msg, padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
    if alg.startswith("ES"):
        r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(h)))
        size = (key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg == "EdDSA":
        return key.sign(msg)
    raise ValueError(alg)


def forge(header, claims, alg=None, key=None, signature=None):
    """Builds a token from raw header/claims text (str) or dicts."""
    h = header if isinstance(header, str) else json.dumps(header, separators=(",", ":"))
    c = claims if isinstance(claims, str) else json.dumps(claims, separators=(",", ":"))
    signing_input = f"{b64(h)}.{b64(c)}"
    if signature is None:
        signature = raw_sign(alg, key, signing_input)
    return f"{signing_input}.{b64(signature)}"


def override(mapping, changes):
    """Sets each member of `changes` in `mapping`, or removes it where the value is None."""
    for k, v in changes.items():
        if v is None:
            mapping.pop(k, None)
        else:
            mapping[k] = v
    return mapping


def make_claims(issuer, audience, **extra):
    """Valid claims for alice (exp in 10 minutes), changed by `extra` (None removes)."""
    now = int(time.time())
    c = {"sub": "alice", "iss": issuer, "aud": audience, "iat": now, "exp": now + 600,
         "roles": ["user"]}
    return override(c, extra)


# ---------------------------------------------------------------------------------------
# Key fixtures (tests/keys)

def read_key(name):
    with open(os.path.join(KEYS, name), "rb") as f:
        return f.read()


def private_key(name):
    return serialization.load_pem_private_key(read_key(name), password=None)


# ---------------------------------------------------------------------------------------
# HTTP plumbing

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Answer:
    """An HTTP answer (headers: [(name, value)] in order, repeats kept), or why there is none."""

    def __init__(self, status=None, headers=None, body="", error=None, elapsed=0.0):
        self.status, self.body, self.error, self.elapsed = status, body, error, elapsed
        self.headers = headers or []

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def www(self):
        return self.header("WWW-Authenticate")

    def json(self):
        try:
            return json.loads(self.body)
        except (TypeError, ValueError):
            return None

    def __repr__(self):
        if self.error:
            return f"<no answer: {self.error} after {self.elapsed:.2f}s>"
        body = self.body if len(self.body) < 160 else self.body[:160] + "..."
        return f"<{self.status} www={self.www!r} body={body} {self.elapsed:.2f}s>"


def http_request(method, url, headers=None, body=None, timeout=10, answer_class=Answer):
    """One request on a fresh connection; an error (refused, timeout) is an Answer too."""
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    start = time.monotonic()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        if isinstance(body, str):
            body = body.encode()
        conn.request(method, target, body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read().decode(errors="replace")
        return answer_class(r.status, list(r.getheaders()), data, elapsed=time.monotonic() - start)
    except (OSError, http.client.HTTPException) as e:
        return answer_class(error=repr(e), elapsed=time.monotonic() - start)
    finally:
        conn.close()


def error_of(a):
    body = a.json()
    return body.get("error") if isinstance(body, dict) else None


def is_invalid_token(a):
    """401 with a Bearer error="invalid_token" challenge and the same JSON error."""
    return (a.status == 401 and (a.www or "").startswith("Bearer")
            and 'error="invalid_token"' in (a.www or "") and error_of(a) == "invalid_token")


def is_unavailable(a):
    return a.status == 503 and a.www is None and error_of(a) == "temporarily_unavailable"


# ---------------------------------------------------------------------------------------
# Processes

LIVE = []   # processes to end if the suite is interrupted


def stop_process(proc):
    """SIGTERM, SIGKILL after 10 s; forgets the process in LIVE."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in LIVE:
        LIVE.remove(proc)


def kill_live():
    for proc in list(LIVE):
        proc.kill()


class DemoProcess:
    """A demo binary listening on 127.0.0.1:<free port> (or `port`), with `env` and no
    inherited JWT_*.

    Subclasses choose what a missing binary (missing_error) or a demo that never prints
    its banner (start_error) raises, whether RUST_LOG=warn overrides the caller's
    (force_rust_log), and the Answer class of request().
    """
    missing_error = RuntimeError
    start_error = RuntimeError
    force_rust_log = False
    answer_class = Answer

    def __init__(self, bin_dir, binary, env, port=None):
        self.binary = binary
        self.port = port or free_port()   # a caller that must know it first passes free_port()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_")}
        full_env.update(env)
        full_env["DEMO_ADDR"] = f"127.0.0.1:{self.port}"
        if self.force_rust_log:
            full_env["RUST_LOG"] = "warn"
        else:
            full_env.setdefault("RUST_LOG", "warn")
        self.lines = []
        self.banner = threading.Event()
        path = os.path.join(bin_dir, binary)
        if not os.path.exists(path):
            raise self.missing_error(f"{path} does not exist (cargo build -p axum-demo -p actix-demo)")
        self.proc = subprocess.Popen([path], env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        LIVE.append(self.proc)
        threading.Thread(target=self._drain, daemon=True).start()
        # The demo prints its banner once the socket is bound: wait for that line.
        if not self.banner.wait(30) or self.proc.poll() is not None:
            self.stop()
            raise self.start_error(f"{binary} did not print 'listening on'; output: {self.tail()}")

    def _drain(self):
        # Keep reading so that the demo never blocks on a full pipe.
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if "listening on" in line:
                self.banner.set()
        self.banner.set()

    def tail(self, n=8):
        return " | ".join(self.lines[-n:])

    def request(self, method, path, headers=None, body=None, timeout=10):
        return http_request(method, f"http://127.0.0.1:{self.port}{path}", headers, body, timeout,
                            answer_class=self.answer_class)

    def stop(self):
        stop_process(self.proc)


# ---------------------------------------------------------------------------------------
# Reporting

class Suite:
    """Counts checks and prints a PASS/FAIL/SKIP line for each (PASS only if show_passes)."""

    def __init__(self, show_passes=True):
        self.passed = self.failed = self.skipped = 0
        self.show_passes = show_passes
        self.lock = threading.Lock()

    def check(self, ok, text, detail=None):
        with self.lock:
            if ok:
                self.passed += 1
                if self.show_passes:
                    print(f"PASS {text}", flush=True)
            else:
                self.failed += 1
                print(f"FAIL {text}" + (f": {detail}" if detail is not None else ""), flush=True)
        return ok

    def skip(self, text):
        self.skipped += 1
        print(f"SKIP {text}", flush=True)

    def finish(self, heading):
        """Prints `heading` and the final "N passed, N failed" line (", N skipped" when any
        were); returns the exit code: 1 on any failure."""
        tail = f", {self.skipped} skipped" if self.skipped else ""
        print(heading)
        print(f"{self.passed} passed, {self.failed} failed{tail}")
        return 1 if self.failed else 0


class ScenarioRun:
    """One scenario against one demo (or one pair): prefixes check lines, records answers
    (in `answers`, filled by the suite's record()) and stops what it started at close()."""

    def __init__(self, suite, scenario, name):
        self.suite, self.scenario, self.name = suite, scenario, name
        self.answers = {}
        self.cleanup = []

    def check(self, ok, what, detail=None):
        return self.suite.check(ok, f"[{self.name}] {self.scenario}: {what}", detail)

    def need(self, ok, what, detail=None):
        """A check the rest of the scenario depends on."""
        if not self.check(ok, what, detail):
            raise Abort(what)

    def close(self):
        for stop in reversed(self.cleanup):
            try:
                stop()
            except Exception as e:   # noqa: BLE001 - cleanup must go on
                print(f"warning: cleanup failed: {e!r}", flush=True)


def run_one(run, fn, *args):
    """fn(run, *args); an exception is one failed check, an Abort was already reported."""
    try:
        fn(run, *args)
    except Abort:
        pass   # already reported
    except Exception:   # noqa: BLE001 - a broken scenario is a failure, not a crash
        run.check(False, "scenario raised", traceback.format_exc().strip().replace("\n", " | "))
    finally:
        run.close()


def compare(suite, title, first, second, names):
    """Checks that two runs answered identically wherever they recorded the same label."""
    common = [label for label in first.answers if label in second.answers]
    diff = {label: (first.answers[label], second.answers[label])
            for label in common if first.answers[label] != second.answers[label]}
    suite.check(bool(common) and not diff,
                f"[{names[0]} = {names[1]}] {title}: {len(common)} answers identical",
                diff or "nothing to compare")


def skip_or_fail(suite, part, message, tool, advice):
    """A tool that `part` of the suite needs is missing: SKIP it loudly, or FAIL when CI=true."""
    if os.environ.get("CI") == "true":
        suite.check(False, f"{part}: {message} (CI=true: {tool} is required)")
    else:
        print("!" * 78, flush=True)
        print(f"SKIPPED: {message}. {advice}", flush=True)
        print("!" * 78, flush=True)
        suite.skip(f"{part}: {message}")


# ---------------------------------------------------------------------------------------
# Command line

def demo_arguments(doc, bin_dir, demos, only_help):
    """The suites' common command line: [BIN_DIR] [--only IDS] [--demos A,B]."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("bin_dir", nargs="?", default=bin_dir)
    parser.add_argument("--only", default="", help=only_help)
    parser.add_argument("--demos", default=",".join(demos))
    return parser


def parse_demo_arguments(parser):
    """(args, BIN_DIR made absolute, the demos to run, the set of --only ids)."""
    args = parser.parse_args()
    demos = [d for d in args.demos.split(",") if d]
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    return args, os.path.abspath(args.bin_dir), demos, only
