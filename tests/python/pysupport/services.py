"""The programs the black-box suites run beside the demos: redis-server, and Node.js for
tests/oidc/provider.mjs (a real OpenID Provider) and the npm-based clients.

Used by tests/python/remote, mcp, lifecycle, dpop and scale, which put this folder on sys.path
before importing it (as for demo_support.py). Plain stdlib plus `cryptography`; only
127.0.0.1 is used.

- ChildProcess: a child whose stdout and stderr are drained (last 200 lines kept), each
  line first offered to an optional callback.
- node_packages: `npm ci` where a node_modules folder lacks its package.
- run_node_client: a node client that prints one JSON line per check it made.
- rsa_private_jwk, start_provider: node tests/oidc/provider.mjs with a config written
  here, returned once it has printed its issuer.
- Redis, start_redis: a real redis-server on a free port, no persistence (or an append-only
  file, fsync'd at every write), killable, pausable (SIGSTOP / SIGCONT) and restartable on
  the same port and directory.
- RedisCluster, cluster_port: a Redis Cluster of three (or more) masters on loopback, no
  replicas, made with `redis-cli --cluster create`; a master can be killed.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid

from cryptography.hazmat.primitives.asymmetric import rsa

from demo_support import LIVE, ROOT, free_port, jwk_of, stop_process

PROVIDER_JS = os.path.join(ROOT, "tests", "oidc", "provider.mjs")


# ---------------------------------------------------------------------------------------
# Node.js: child processes, packages, the OpenID Provider

class ChildProcess:
    """A child process (run in the repository root) whose stdout and stderr are drained
    into `lines` (last 200 kept). on_stdout / on_stderr(line) see each line first; one that
    returns True has consumed it (it is not kept)."""

    def __init__(self, argv, env=None, on_stdout=None, on_stderr=None):
        self.lines = []
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        LIVE.append(self.proc)
        for stream, callback in ((self.proc.stdout, on_stdout), (self.proc.stderr, on_stderr)):
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


def node_packages(suite, *wanted, prefix=""):
    """Runs `npm ci` in each (directory, package) of `wanted` whose node_modules lacks the
    package. True when every one is there; False after a failed check (npm not on PATH, or
    npm ci failed), whose text starts with `prefix`."""
    npm = shutil.which("npm")
    for directory, package in wanted:
        if os.path.isdir(os.path.join(directory, "node_modules", package)):
            continue
        rel = os.path.relpath(directory, ROOT)
        if npm is None:
            return suite.check(False, f"{prefix}{rel}/node_modules is missing and npm is not on PATH")
        print(f"installing {rel} packages: npm ci --prefix {rel}", flush=True)
        done = subprocess.run([npm, "ci", "--prefix", directory, "--no-audit", "--no-fund"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if not suite.check(done.returncode == 0, f"{prefix}npm ci --prefix {rel}", done.stdout[-2000:]):
            return False
    return True


def run_node_client(check, node, script, workdir, config, client, label=""):
    """node `script` CONFIG.json, with `config` written to a new file in `workdir`: one
    check(ok, label + name, detail) per JSON line {"check": name, "ok": ..., "detail": ...}
    it prints (other lines are echoed); a failed check, naming it `client`, when it runs
    over 120 s, exits non-zero or prints no check. Returns {name: ok}."""
    path = os.path.join(workdir, f"client-{uuid.uuid4().hex[:8]}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    try:
        done = subprocess.run([node, script, path], cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    except subprocess.TimeoutExpired as e:
        check(False, f"{client} finished within 120 s", (e.stderr or "")[-2000:])
        return {}
    results = {}
    for line in done.stdout.splitlines():
        try:
            entry = json.loads(line)
            name, ok = entry["check"], entry["ok"]
        except (ValueError, KeyError, TypeError):
            print(f"client: {line}", flush=True)
            continue
        results[name] = ok
        check(ok is True, f"{label}{name}", entry.get("detail"))
    if done.returncode != 0 or not results:
        check(False, f"{client} exited {done.returncode} after {len(results)} checks",
              done.stderr[-2000:])
    return results


def rsa_private_jwk(kid):
    """A fresh RSA-2048 private JWK (kid, alg RS256, use sig) for the provider to sign with."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return dict(jwk_of(private, with_private=True), kid=kid, alg="RS256", use="sig")


def start_provider(node, workdir, config, on_stderr=None, deadline=30):
    """node tests/oidc/provider.mjs with `config` (see the top of provider.mjs; written to a
    new file in `workdir`). Returns (the ChildProcess, its issuer) once it has printed its
    {"issuer": ...} line; RuntimeError when it exits or `deadline` s pass first.
    on_stderr: as for ChildProcess (the provider logs one JSON line per request there)."""
    path = os.path.join(workdir, f"provider-{uuid.uuid4().hex[:8]}.json")
    with open(path, "w") as f:
        json.dump(config, f)
    found, ready = {}, threading.Event()

    def on_stdout(line):
        if "issuer" not in found:
            try:
                found["issuer"] = json.loads(line)["issuer"]
                ready.set()
                return True
            except (ValueError, KeyError, TypeError):
                pass
        return False

    provider = ChildProcess([node, PROVIDER_JS, path], on_stdout=on_stdout, on_stderr=on_stderr)
    end = time.monotonic() + deadline
    while not ready.wait(0.05):
        if provider.proc.poll() is not None or time.monotonic() > end:
            provider.stop()
            raise RuntimeError(f"the provider did not start: {provider.tail()}")
    return provider, found["issuer"]


# ---------------------------------------------------------------------------------------
# redis-server

def start_redis_server(binary, port, args, workdir, deadline=15):
    """redis-server on 127.0.0.1:port with `args`, run in `workdir`; (Popen, its output lines,
    drained into a list) once it prints "Ready to accept connections"; RuntimeError when it
    exits or `deadline` s pass first."""
    ready = threading.Event()
    lines = []
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=workdir)
    LIVE.append(proc)

    def drain():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            del lines[:-200]
            if "Ready to accept connections" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(deadline) or proc.poll() is not None:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc in LIVE:
            LIVE.remove(proc)
        raise RuntimeError(f"redis-server on port {port} did not start: {' | '.join(lines[-8:])}")
    return proc, lines


class Redis:
    """A real redis-server on 127.0.0.1:port; can be killed, paused and restarted.

    appendonly False (default): no persistence at all. True: an append-only file in `dir`,
    fsync'd at every write (`--appendonly yes --appendfsync always`), which a restart on the
    same port and dir loads. The attribute may be changed between kill() and start()."""

    def __init__(self, binary, port=None, appendonly=False):
        self.binary = binary
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="suite-redis-")
        self.appendonly = appendonly
        self.proc = None
        self.lines = []
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/"

    def start(self):
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly
                       else ["--appendonly", "no"])
        self.proc, self.lines = start_redis_server(
            self.binary, self.port, ["--save", "", *persistence, "--dir", self.dir], self.dir)

    def forget(self):
        """Removes every file in `dir` (the append-only file): the next start() begins
        empty. Only while the server is not running."""
        for name in os.listdir(self.dir):
            path = os.path.join(self.dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.remove(path)

    def pause(self):
        """SIGSTOP: connections stay open, nothing is answered."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def command(self, *args, timeout=2):
        """Sends one command (RESP) and returns the raw first reply line, or None."""
        payload = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
                s.sendall(payload.encode())
                data = b""
                while not data.endswith(b"\r\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                return data.decode(errors="replace").split("\r\n")[0]
        except OSError:
            return None

    def ping(self):
        return self.command("PING") == "+PONG"

    def kill(self):
        """SIGKILL, like a crash: no goodbye to the clients (a paused server too)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc in LIVE:
            LIVE.remove(self.proc)

    def stop(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def start_redis(run, binary):
    """A Redis for `run` (a ScenarioRun; stopped when the run closes), its PING checked;
    None, after a failed check, when it does not start."""
    try:
        redis = Redis(binary)
    except Exception as e:   # noqa: BLE001 - any failure to start is one failed check
        run.check(False, "redis-server starts", repr(e))
        return None
    run.cleanup.append(redis.stop)
    run.check(redis.ping(), f"redis-server ready on port {redis.port} (PING → PONG)")
    return redis


def cluster_port(taken=()):
    """A free port of 127.0.0.1 whose cluster-bus port (+10000) is free too, not in `taken`."""
    for _ in range(1000):
        port = free_port()
        if port in taken or port + 10000 > 65535 or port + 10000 in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair (P, P+10000) for a cluster node")


class RedisCluster:
    """A Redis Cluster of `masters` redis-server nodes on 127.0.0.1, no replicas, no
    persistence (`--cluster-node-timeout 1000 --cluster-require-full-coverage no`), joined
    with `redis-cli --cluster create` and ready once every node reports cluster_state:ok.
    RuntimeError when it does not form within `deadline` s."""

    def __init__(self, server, cli, masters=3, deadline=30):
        self.server, self.cli = server, cli
        self.dir = tempfile.mkdtemp(prefix="suite-redis-cluster-")
        self.ports, self.procs = [], {}
        try:
            while len(self.ports) < masters:
                self.ports.append(cluster_port(self.ports))
            for port in self.ports:
                self.procs[port], _ = start_redis_server(server, port, [
                    "--cluster-enabled", "yes", "--cluster-node-timeout", "1000",
                    "--cluster-require-full-coverage", "no",
                    "--cluster-config-file", f"nodes-{port}.conf", "--dir", self.dir,
                    "--save", "", "--appendonly", "no"], self.dir)
            done = subprocess.run(
                [cli, "--cluster", "create", *(f"127.0.0.1:{p}" for p in self.ports),
                 "--cluster-replicas", "0", "--cluster-yes"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=deadline)
            if done.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create exited {done.returncode}: "
                                   f"{done.stdout[-1500:]}")
            end = time.monotonic() + deadline
            for port in self.ports:
                while "cluster_state:ok" not in self.cli_output(port, "CLUSTER", "INFO"):
                    if time.monotonic() > end:
                        raise RuntimeError(f"node {port}: no cluster_state:ok after {deadline} s")
                    time.sleep(0.05)
        except BaseException:
            self.stop()
            raise

    def cli_output(self, port, *command):
        """`redis-cli -p PORT command...`'s output ('' when it fails or hangs)."""
        try:
            return subprocess.run([self.cli, "-p", str(port), *command], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=5).stdout
        except (OSError, subprocess.SubprocessError):
            return ""

    @property
    def seeds(self):
        """The JWT_REDIS_CLUSTER value: redis://127.0.0.1:P of every node, comma-separated."""
        return ",".join(f"redis://127.0.0.1:{p}" for p in self.ports)

    def kill(self, port):
        """SIGKILL of one node (a master: no replica takes over)."""
        proc = self.procs.get(port)
        if proc is not None:
            stop_process_now(proc)

    def stop(self):
        for proc in self.procs.values():
            stop_process_now(proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def stop_process_now(proc):
    """SIGKILL and wait; forgets the process in LIVE."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc in LIVE:
        LIVE.remove(proc)
