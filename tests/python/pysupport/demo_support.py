"""Helpers shared by the black-box Python suites that run the demo binaries.

Used by every suite under tests/python/ (interop, remote, mcp, lifecycle, hardening, dpop,
browser), which put this folder on sys.path before importing it; the programs they run
beside the demos (redis-server, the OpenID Provider, npm) are in services.py.
Plain stdlib plus `cryptography`; only 127.0.0.1 is used.

- JOSE: b64 / unb64 (base64url without padding), b64_int, raw_sign, forge, override,
  make_claims, jwk_of (the JWK of a `cryptography` key, public or private).
- Key fixtures in tests/keys: read_key, private_key.
- HTTP: free_port, Answer, http_request, raw_request (headers in order, repeats kept),
  json_or_text, error_of, is_invalid_token, is_unavailable.
- Processes: LIVE, stop_process, kill_live, DemoProcess (a demo binary started on a free
  port, waited for until it prints "listening on", its output drained; health(),
  wait_keys_ready()), run_until_exit (a demo that must refuse its configuration).
- Command line: demo_arguments, parse_demo_arguments ([BIN_DIR] [--only ...] [--demos ...]).
- Reporting: Abort, Suite (PASS/FAIL/SKIP lines, finish(): the final "N passed, N failed"),
  ScenarioRun, run_one, run_scenario (one run per demo, then the two compared), compare,
  skip_or_fail (SKIP, or FAIL when CI=true), required_tool (a program on PATH, or
  skip_or_fail).
"""
import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import traceback
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
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


def b64_int(n, size=None):
    """base64url of an unsigned integer, big-endian, in `size` bytes (default: as few as
    it takes), as JWK members are written."""
    return b64(n.to_bytes(size or (n.bit_length() + 7) // 8, "big"))


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


CURVES = {"secp256r1": ("P-256", 32), "secp384r1": ("P-384", 48), "secp521r1": ("P-521", 66)}


def jwk_of(private, with_private=False):
    """The JWK (RFC 7517/7518) of a `cryptography` RSA, EC or Ed25519 private key: its public
    members only (kty, then crv, x, y / n, e), or with the private ones too; no kid, alg or
    use."""
    if isinstance(private, rsa.RSAPrivateKey):
        pn = private.private_numbers()
        jwk = {"kty": "RSA", "n": b64_int(pn.public_numbers.n), "e": b64_int(pn.public_numbers.e)}
        if with_private:
            jwk.update(d=b64_int(pn.d), p=b64_int(pn.p), q=b64_int(pn.q), dp=b64_int(pn.dmp1),
                       dq=b64_int(pn.dmq1), qi=b64_int(pn.iqmp))
        return jwk
    if isinstance(private, ec.EllipticCurvePrivateKey):
        crv, size = CURVES[private.curve.name]
        pn = private.private_numbers()
        jwk = {"kty": "EC", "crv": crv, "x": b64_int(pn.public_numbers.x, size),
               "y": b64_int(pn.public_numbers.y, size)}
        if with_private:
            jwk["d"] = b64_int(pn.private_value, size)
        return jwk
    if isinstance(private, ed25519.Ed25519PrivateKey):
        raw_pub = private.public_key().public_bytes(serialization.Encoding.Raw,
                                                    serialization.PublicFormat.Raw)
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw_pub)}
        if with_private:
            jwk["d"] = b64(private.private_bytes(serialization.Encoding.Raw,
                                                 serialization.PrivateFormat.Raw,
                                                 serialization.NoEncryption()))
        return jwk
    raise TypeError(type(private))


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


def _exchange(host, port, timeout, answer_class, send):
    """send(conn) on a fresh connection, then its answer; an error (refused, timeout) is an
    Answer too."""
    start = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        send(conn)
        r = conn.getresponse()
        data = r.read().decode(errors="replace")
        return answer_class(r.status, list(r.getheaders()), data, elapsed=time.monotonic() - start)
    except (OSError, http.client.HTTPException) as e:
        return answer_class(error=repr(e), elapsed=time.monotonic() - start)
    finally:
        conn.close()


def http_request(method, url, headers=None, body=None, timeout=10, answer_class=Answer):
    """One request on a fresh connection; an error (refused, timeout) is an Answer too."""
    parts = urllib.parse.urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if isinstance(body, str):
        body = body.encode()
    return _exchange(parts.hostname, parts.port, timeout, answer_class,
                     lambda conn: conn.request(method, target, body=body, headers=headers or {}))


def raw_request(port, method, path, headers=(), body=None, timeout=10, answer_class=Answer):
    """One request to 127.0.0.1:port with `headers` as (name, value) pairs, sent in order
    with repeats kept (two Content-Type or DPoP headers, say). A Host header given replaces
    http.client's own; no Accept-Encoding is added; Content-Length only with a body."""
    def send(conn):
        names = {k.lower() for k, _ in headers}
        conn.putrequest(method, path, skip_host="host" in names, skip_accept_encoding=True)
        for k, v in headers:
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)

    return _exchange("127.0.0.1", port, timeout, answer_class, send)


def json_or_text(text):
    """`text` parsed as JSON, or `text` itself when it is not JSON (an answer body, say)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return text


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
    inherited JWT_*; `preexec_fn` runs in the child before exec (a resource limit, say).

    Subclasses choose what a missing binary (missing_error) or a demo that never prints
    its banner (start_error) raises, whether RUST_LOG=warn overrides the caller's
    (force_rust_log), and the Answer class of request().
    """
    missing_error = RuntimeError
    start_error = RuntimeError
    force_rust_log = False
    answer_class = Answer

    def __init__(self, bin_dir, binary, env, port=None, preexec_fn=None):
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
            raise self.missing_error(f"{path} does not exist (cargo build -p {binary})")
        self.proc = subprocess.Popen([path], env=full_env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=preexec_fn)
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

    def health(self):
        """GET /health: (the answer, its keys_ready: True, False or None)."""
        a = self.request("GET", "/health")
        body = a.json()
        return a, (body.get("keys_ready") if isinstance(body, dict) else None)

    def keys_ready(self):
        return self.health()[1] is True

    def wait_keys_ready(self, timeout, interval=0.05):
        """Polls /health until keys_ready is true (True), or until `timeout` s have passed
        or the demo has exited (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if self.keys_ready():
                return True
            if self.proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(interval)

    def stop(self):
        stop_process(self.proc)


def run_until_exit(bin_dir, binary, env, deadline, missing_error=RuntimeError, drop=()):
    """Starts a demo that must refuse its configuration and waits for it to exit: (exit
    code, or None if it was still running after `deadline` s; its whole output, stripped).

    Its environment: this process's without JWT_* and the names in `drop`, RUST_LOG=warn,
    then `env`, and DEMO_ADDR = a free port of 127.0.0.1."""
    path = os.path.join(bin_dir, binary)
    if not os.path.exists(path):
        raise missing_error(f"{path} does not exist (cargo build -p {binary})")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("JWT_") and k not in drop}
    full_env["RUST_LOG"] = "warn"
    full_env.update(env)
    full_env["DEMO_ADDR"] = f"127.0.0.1:{free_port()}"
    proc = subprocess.Popen([path], env=full_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    LIVE.append(proc)
    try:
        out, _ = proc.communicate(timeout=deadline)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        stop_process(proc)
        out, _ = proc.communicate()
        code = None
    finally:
        stop_process(proc)
    return code, (out or "").strip()


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


def run_scenario(suite, title, demos, fn, *args, run_class=ScenarioRun, run_args=(),
                 skip_silent=False):
    """fn(run, binary, *args) once per demo, each with its own run_class(suite, title, binary,
    *run_args); with two demos, their answers are then compared (unless skip_silent and
    neither recorded any). Returns the runs."""
    runs = []
    for binary in demos:
        run = run_class(suite, title, binary, *run_args)
        run_one(run, fn, binary, *args)
        runs.append(run)
    if len(runs) == 2 and not (skip_silent and not (runs[0].answers or runs[1].answers)):
        compare(suite, title, runs[0], runs[1], demos)
    return runs


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


def required_tool(suite, part, tool, message, advice):
    """The path of `tool` on PATH; None, after skip_or_fail, when it is not there."""
    path = shutil.which(tool)
    if path is None:
        skip_or_fail(suite, part, message, tool, advice)
    return path


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
