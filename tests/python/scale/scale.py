#!/usr/bin/env python3
"""Black-box acceptance suite for the demo contract's "Revocation at scale" block.

Runs every scenario on a pair of demos sharing one Redis (or one Redis Cluster): X = one
binary and Y = the other (`axum-demo` and `actix-demo`), then swapped; the two orders'
answers are compared wherever they do not depend on timing. Only 127.0.0.1 is used.

Usage:
    scale.py [BIN_DIR] [--only S1,S2,S3] [--demos axum-demo,actix-demo]
    scale.py --self-test      checks this script's helpers and the Redis plumbing (no demo)

BIN_DIR defaults to target/debug. Prints one line per check (PASS/FAIL/SKIP), the measured
propagation figures, and a final "N passed, N failed" line; exits 1 on any failure. Needs
`cryptography` (tests/python/requirements.txt), `redis-server` on PATH (every scenario) and
`redis-cli` (S3, which makes the cluster): when one is missing, the scenarios that need it
are reported SKIPPED, or FAILED when CI=true.

S1 Propagation (one redis-server, JWT_REDIS_URL): 100 logouts on X, each: /login on X, /me
   on Y 200, POST /logout on X, then Y's /me polled with the access token until 401, timed
   from the logout's answer (p50 / p99 / max printed; p99 ≤ 100 ms), then 3 more requests on
   Y, none 200 (a refusal is never undone). 10 detected refresh reuses on X (the same
   refresh token refreshed twice): Y refuses the family's access tokens within 100 ms, and
   X refuses them and the family's newest refresh token.
S2 Faults (one redis-server with an append-only file, fsync always), a revoked token R and a
   live token L: Redis paused (SIGSTOP), 2.5 s sampled: R never 200 on X or Y (401 or 503
   only); L on Y 200 only for requests sent within the 1 s trust window after the pause,
   then 503. Resumed (SIGCONT): L 200 again on Y within 5 s, R 401, never 200 meanwhile.
   Redis killed (4 times, restarted from its append-only file in between, each kill once the
   instances are back on their channel): the very next requests of R and L on X and Y (sent
   one after the other, each kill starting with another) are 503 for L (fail closed) and 401 for
   R (a revocation seen holds) every time. Restarted from its append-only file on
   the same port and dir: R never 200 from the restart on (2 s sampled), L 200 again; then R
   401 on X, Y and a freshly started third instance Z; L 200 on all three.
   Restarted WITHOUT persistence (the file removed): the revocations are lost (documented:
   a fresh instance W accepts R, 200), while X, Y and Z, which had seen the revocation, keep
   refusing R (never 200, sampled through the restart and after it); L 200.
S3 Cluster (three masters on loopback, no replicas, redis-cli --cluster create;
   JWT_REDIS_CLUSTER = the three seed URLs): 20 logouts on X, Y refuses within 100 ms
   (p50 / p99 / max printed); 5 reuse detections on X, Y refuses the family within 100 ms;
   50 concurrent /refresh of one refresh token split over X and Y (threads) → exactly one 200,
   49 × 401, and the winner's refresh token then 401 on both; a master killed: 12 tokens
   revoked before (Y refusing all of them first) never get 200 afterwards on X or Y (2.5 s
   sampled), and among 12 live tokens, after the cluster noticed (≥ 1.5 s after the kill),
   some get 503 (the dead master's keys) while others still get 200, on X and on Y.
"""
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from demo_support import (DemoProcess, ScenarioRun, Suite, compare, demo_arguments,
                          is_invalid_token, is_unavailable, kill_live, parse_demo_arguments,
                          required_tool, run_one, unb64)
from demo_support import Answer as HttpAnswer
from services import Redis, RedisCluster, cluster_port, start_redis_server

DEMOS = ["axum-demo", "actix-demo"]
BIN_DIR = os.path.join(ROOT, "target", "debug")

SECRET = "scale-suite-secret-0123456789abcdef-0123456789abcdef"
USERS = {"alice": "alice-password", "bob": "bob-password"}
COOKIE = "refresh_token"

LOGOUTS = 100             # S1: logouts timed
REUSES = 10               # S1: refresh reuses timed
CLUSTER_LOGOUTS = 20      # S3
CLUSTER_REUSES = 5        # S3
PROPAGATION_LIMIT = 0.100  # the contract: every other instance refuses within 100 ms
GIVE_UP = 2.0             # stop polling a propagation after this long (a failure)
AFTERWARDS = 3            # requests after the first refusal, none may be 200
WINDOW = 1.0              # the near cache's default trust window
WINDOW_SLACK = 0.1        # our clock reading of the SIGSTOP vs the demo's
SAMPLE = 2.5              # seconds sampled while Redis is paused / a master is dead
RESUME_DEADLINE = 5.0
RESTART_SAMPLE = 2.0      # seconds sampled from a Redis restart
KILLS = 4                 # S2: Redis killed this many times (restarted from its AOF between)
TRUST_AGAIN = 1.3         # s for every instance to be back on its channel after a restart
RACERS = 50
CLUSTER_TOKENS = 12       # revoked and live tokens each, when a master is killed
CLUSTER_NOTICED = 1.5     # s after the kill from which the dead master must show (503)

FIGURES = []              # (label, text) printed at the end


# ---------------------------------------------------------------------------------------
# Tokens and answers

def claims_of(token):
    try:
        return json.loads(unb64(token.split(".")[1]))
    except (ValueError, IndexError, AttributeError):
        return {}


class Answer(HttpAnswer):
    def refresh_cookie(self):
        """The refresh token of the first `Set-Cookie: refresh_token=...`, or None."""
        for k, v in self.headers:
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                if name.strip() == COOKIE:
                    value = rest.split(";")[0].strip()
                    return value or None
        return None


def comparable(a, body="full"):
    """What two correct demos answer identically. body: full | keys | none (values vary)."""
    if a.status is None:
        return ("no answer",)
    parsed = a.json()
    if body == "keys" and isinstance(parsed, dict):
        parsed = sorted(parsed)
    elif body == "none":
        parsed = None
    elif parsed is None:
        parsed = a.body
    return (a.status, a.www, parsed)


class Session:
    """The tokens of one /login or /refresh."""

    def __init__(self, user, answer):
        body = answer.json() or {}
        self.user, self.answer = user, answer
        self.access = body.get("access_token")
        self.refresh = answer.refresh_cookie()
        self.claims = claims_of(self.access or "")


def percentile(values, p):
    """Nearest-rank percentile of `values` (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def figures_text(delays):
    return (f"p50 {ms(percentile(delays, 50))}, p99 {ms(percentile(delays, 99))}, "
            f"max {ms(max(delays))}")


def counts_of(samples):
    statuses = [s for _, _, s, _ in samples]
    return {s: statuses.count(s) for s in sorted(set(statuses), key=str)}


# ---------------------------------------------------------------------------------------
# The demos

class Demo(DemoProcess):
    """A demo binary (a missing one raises RuntimeError: one failed check, never silent)."""
    answer_class = Answer

    def __init__(self, binary, env, name):
        super().__init__(BIN_DIR, binary, env)
        self.name = name

    def login(self, user):
        return self.request("POST", "/login", {"Content-Type": "application/json"},
                            json.dumps({"username": user, "password": USERS[user]}))

    def refresh(self, refresh_token):
        return self.request("POST", "/refresh", {"Cookie": f"{COOKIE}={refresh_token}"})

    def logout(self, access_token):
        return self.request("POST", "/logout", {"Authorization": f"Bearer {access_token}"})

    def me(self, token, timeout=10):
        return self.request("GET", "/me", {"Authorization": f"Bearer {token}"}, timeout=timeout)


class Run(ScenarioRun):
    def record(self, label, answer, body="full"):
        self.answers[label] = comparable(answer, body)
        return answer

    def note(self, label, value):
        """Records a plain value to compare with the other order."""
        self.answers[label] = value

    def demo(self, binary, env, name):
        d = Demo(binary, env, name)
        self.cleanup.append(d.stop)
        return d

    def need_quietly(self, ok, what, detail=None):
        """need(), but a success is neither printed nor counted (steps repeated in a loop)."""
        if not ok:
            self.need(False, what, detail)

    def login(self, demo, user, label=None):
        """/login; checked (and recorded) when `label` is given, else only a failure shows."""
        a = demo.login(user)
        s = Session(user, a)
        ok = a.status == 200 and bool(s.access) and bool(s.refresh)
        what = f"{demo.name} /login {user} → 200 with an access token and a refresh cookie"
        if label:
            self.record(f"{label} /login", a, body="keys")
            self.need(ok, f"{label}: {what}", a)
        else:
            self.need_quietly(ok, what, a)
        return s

    def logout(self, demo, session, label=None):
        a = demo.logout(session.access)
        what = f"{demo.name} /logout → 204"
        if label:
            self.record(f"{label} /logout", a)
            self.need(a.status == 204, f"{label}: {what}", a)
        else:
            self.need_quietly(a.status == 204, what, a)
        return a


def until_refused(demo, token, limit=GIVE_UP):
    """Polls demo's /me with `token` from now until it is not 200: (seconds from now to that
    answer, the answer, the non-200/401 answers seen before it); seconds is None when it is
    still 200 after `limit`."""
    start = time.monotonic()
    odd = []
    while True:
        a = demo.me(token)
        elapsed = time.monotonic() - start
        if a.status == 401:
            return elapsed, a, odd
        if a.status != 200:
            odd.append(a)
            if len(odd) > 5:
                return elapsed, a, odd
        if elapsed > limit:
            return None, a, odd


def sample(demo, tokens, seconds, out, start=None):
    """Requests /me with each of `tokens` in turn on `demo` for `seconds`: appends
    (sent at, answered at, status, answer) to out[i] for tokens[i], times relative to
    `start` (default: now)."""
    start = time.monotonic() if start is None else start
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for token, samples in zip(tokens, out):
            sent = time.monotonic()
            a = demo.me(token, timeout=5)
            samples.append((sent - start, time.monotonic() - start, a.status, a))


def sample_all(jobs, seconds, start=None):
    """Runs sample() for every (demo, tokens) of `jobs` at once, one thread each; returns
    one list of samples per (job, token), in order."""
    outs = [[[] for _ in toks] for _, toks in jobs]
    threads = [threading.Thread(target=sample, args=(d, toks, seconds, out, start))
               for (d, toks), out in zip(jobs, outs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [samples for out in outs for samples in out]


def never_200(run, samples, what, since="the event"):
    """Checks that no sample answered anything but 401 or 503; a failure shows how many
    did, when they were sent (seconds after `since`) and the first such answer."""
    bad = [(s, a) for s, _, status, a in samples if status not in (401, 503)]
    detail = "no request made"
    if bad:
        detail = (f"{len(bad)} of {len(samples)} answers not 401/503, sent "
                  f"{bad[0][0] * 1000:.0f}-{bad[-1][0] * 1000:.0f} ms after {since}; "
                  f"first: {bad[0][1]!r}")
    run.check(bool(samples) and not bad,
              f"{what}: never 200, only 401 or 503 ({len(samples)} requests: "
              f"{counts_of(samples)})", detail)


def first_200(samples):
    """When the first 200 was sent, and whether every later sample was 200 too."""
    for i, (s, _, status, _) in enumerate(samples):
        if status == 200:
            return s, all(x[2] == 200 for x in samples[i:])
    return None, False


def at_once(requests):
    """Runs each request (a function) in its own thread, released together; their answers."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def go(i, request):
        try:
            barrier.wait(10)
        except threading.BrokenBarrierError:
            pass
        answers[i] = request()

    threads = [threading.Thread(target=go, args=(i, r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def wait_live(demo, token, deadline, also=()):
    """Polls /me with `token` on demo until 200 (True) or `deadline` s; meanwhile /me with
    each (demo, token) of `also` is sampled too. Returns (ok, seconds, last answer, samples
    of `also`)."""
    start = time.monotonic()
    samples = []
    while True:
        a = demo.me(token, timeout=5)
        for d, t in also:
            sent = time.monotonic() - start
            b = d.me(t, timeout=5)
            samples.append((sent, time.monotonic() - start, b.status, b))
        if a.status == 200:
            return True, time.monotonic() - start, a, samples
        if time.monotonic() - start > deadline:
            return False, time.monotonic() - start, a, samples
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------
# Propagation, used by S1 and S3

def logouts(run, X, Y, count, label):
    """`count` logouts on X, each timed until Y refuses; returns the delays (s)."""
    delays, problems, after_bad, not_invalid = [], [], [], []
    for i in range(count):
        s = run.login(X, "alice" if i % 2 else "bob", f"{label}, first" if i == 0 else None)
        a = Y.me(s.access)
        if i == 0:
            run.record(f"{label} Y /me before logout", a, body="keys")
        if a.status != 200:
            problems.append((i, "Y /me before the logout", a))
            continue
        run.logout(X, s, f"{label}, first" if i == 0 else None)
        delay, a, odd = until_refused(Y, s.access)
        if odd:
            problems.append((i, "Y /me while polling: neither 200 nor 401", odd[0]))
        if delay is None:
            problems.append((i, f"Y /me still 200 {GIVE_UP} s after the logout", a))
            continue
        if i == 0:
            run.record(f"{label} Y /me after logout", a)
        if not is_invalid_token(a):
            not_invalid.append((i, a))
        delays.append(delay)
        for _ in range(AFTERWARDS):
            b = Y.me(s.access)
            if b.status == 200:
                after_bad.append((i, b))
    run.check(not problems, f"{label}: {count} logouts on X, Y /me 200 before each and refused "
                            f"after each (polled until 401)", problems[:3] or None)
    run.check(len(delays) == count and not not_invalid,
              f"{label}: every refusal on Y is 401 invalid_token", not_invalid[:3] or None)
    if delays:
        text = figures_text(delays)
        FIGURES.append((f"[{run.name}] {label}", f"{len(delays)} logouts: {text}"))
        p99 = percentile(delays, 99)
        run.check(len(delays) == count and p99 <= PROPAGATION_LIMIT,
                  f"{label}: Y refuses within {ms(PROPAGATION_LIMIT)} of the logout's answer at "
                  f"p99 ({text})", f"p99 {ms(p99)}, slowest {[ms(d) for d in sorted(delays)[-5:]]}")
    run.check(not after_bad, f"{label}: after the first 401, {AFTERWARDS} more requests of each "
                             f"token on Y: none 200", after_bad[:3] or None)
    return delays


def reuses(run, X, Y, count, label):
    """`count` detected refresh reuses on X, each timed until Y refuses the family's newest
    access token; returns the delays (s)."""
    delays, problems = [], []
    for i in range(count):
        first = run.login(X, "alice", f"{label}, first" if i == 0 else None)
        a = X.refresh(first.refresh)
        if i == 0:
            run.record(f"{label} X refresh", a, body="keys")
        second = Session("alice", a)
        run.need_quietly(a.status == 200 and bool(second.access) and bool(second.refresh)
                         and second.claims.get("fam") == first.claims.get("fam"),
                         f"{label} #{i + 1}: X /refresh → 200, same family", a)
        a = Y.me(second.access)
        if a.status != 200:
            problems.append((i, "Y /me with the rotated access token before the reuse", a))
            continue
        a = X.refresh(first.refresh)
        if i == 0:
            run.record(f"{label} X reuse", a)
        if a.status != 401:
            problems.append((i, "X /refresh with the already-used refresh token: not 401", a))
            continue
        delay, a, odd = until_refused(Y, second.access)
        if delay is None or odd or not is_invalid_token(a):
            problems.append((i, "Y /me with the family's newest access token after the reuse",
                             odd[:1] or a))
            continue
        delays.append(delay)
        if i == 0:
            run.record(f"{label} Y /me newest after reuse", a)
        for what, answer in (("Y /me with the family's first access token", Y.me(first.access)),
                             ("X /me with the family's newest access token", X.me(second.access)),
                             ("Y /refresh with the family's newest refresh token",
                              Y.refresh(second.refresh))):
            if answer.status != 401:
                problems.append((i, what, answer))
    run.check(not problems, f"{label}: {count} refresh reuses detected on X (401); the whole "
                            f"family then refused on X and Y (access and refresh tokens)",
              problems[:3] or None)
    if delays:
        text = figures_text(delays)
        FIGURES.append((f"[{run.name}] {label}", f"{len(delays)} reuses: {text}"))
        run.check(len(delays) == count and max(delays) <= PROPAGATION_LIMIT,
                  f"{label}: Y refuses the family's access token within {ms(PROPAGATION_LIMIT)} of "
                  f"the reuse's answer ({text})", [ms(d) for d in delays])
    return delays


# ---------------------------------------------------------------------------------------
# S1: propagation through one Redis

def s1_propagation(run, redis, first, second):
    env = {"JWT_SECRET": SECRET, "JWT_REDIS_URL": redis.url}
    X = run.demo(first, env, "X")
    Y = run.demo(second, env, "Y")
    logouts(run, X, Y, LOGOUTS, "logout on X")
    reuses(run, X, Y, REUSES, "reuse on X")


# ---------------------------------------------------------------------------------------
# S2: Redis paused, killed, restarted with and without its append-only file

def revoked_and_live(run, X, Y):
    """R: logged out on X and refused by Y; L: live on X and Y."""
    R = run.login(X, "alice", "R")
    run.logout(X, R, "R")
    delay, a, _ = until_refused(Y, R.access)
    run.record("Y /me R", a)
    run.need(delay is not None and is_invalid_token(a), "R (logged out on X): Y /me → 401 "
                                                        "invalid_token", a)
    L = run.login(X, "bob", "L")
    for d in (X, Y):
        a = run.record(f"{d.name} /me L", d.me(L.access), body="keys")
        run.need(a.status == 200, f"L: {d.name} /me → 200", a)
    return R, L


def through_restart(run, redis, demos, R, L, what, seconds=RESTART_SAMPLE):
    """Starts Redis again and, from that moment, samples R and L on every demo for
    `seconds`: R never 200; L 200 again (and from then on) on each. Returns the time L
    took to recover on each demo."""
    redis.start()
    started = time.monotonic()
    run.check(redis.ping(), f"{what}: redis-server up again on port {redis.port}")
    samples = sample_all([(d, [R.access, L.access]) for d in demos], seconds, start=started)
    took = {}
    for i, d in enumerate(demos):
        r, l = samples[2 * i], samples[2 * i + 1]
        never_200(run, r, f"{what}: R on {d.name}, sampled from the restart for {seconds} s",
                  "the restart")
        took[d.name], steady = first_200(l)
        run.check(took[d.name] is not None and steady,
                  f"{what}: L on {d.name} → 200 again within {seconds} s of the restart, and "
                  f"from then on (first 200 sent after {(took[d.name] or 0) * 1000:.0f} ms)",
                  counts_of(l))
    FIGURES.append((f"[{run.name}] {what}", "L back to 200 after " + ", ".join(
        f"{n} {'-' if t is None else ms(t)}" for n, t in took.items())))
    return took


def s2_faults(run, redis, first, second):
    env = {"JWT_SECRET": SECRET, "JWT_REDIS_URL": redis.url}
    X = run.demo(first, env, "X")
    Y = run.demo(second, env, "Y")
    R, L = revoked_and_live(run, X, Y)

    # Paused: the near cache is trusted for at most the window, then Redis is asked (503).
    redis.pause()
    paused_at = time.monotonic()
    r_x, r_y, l_y = sample_all([(X, [R.access]), (Y, [R.access]), (Y, [L.access])], SAMPLE,
                               start=paused_at)
    never_200(run, r_x, "Redis paused: R on X", "the SIGSTOP")
    never_200(run, r_y, "Redis paused: R on Y", "the SIGSTOP")
    late = [(round(s, 3), a) for s, _, status, a in l_y
            if status == 200 and s > WINDOW + WINDOW_SLACK]
    odd = [(round(s, 3), a) for s, _, status, a in l_y
           if status != 200 and not is_unavailable(a)]
    last_200 = max([s for s, _, st, _ in l_y if st == 200], default=None)
    run.check(bool(l_y) and not late and not odd,
              f"Redis paused: L on Y 200 only for requests sent within the {WINDOW:.0f} s window, "
              f"otherwise 503 temporarily_unavailable ({counts_of(l_y)}, last 200 sent "
              f"{'-' if last_200 is None else ms(last_200)} after the SIGSTOP)",
              (late + odd)[:3] or "no request made")
    run.check(bool(l_y) and is_unavailable(l_y[-1][3]),
              f"Redis paused: L on Y → 503 at the end of the {SAMPLE} s sample", l_y[-1:])
    run.note("paused: L last", comparable(l_y[-1][3]) if l_y else None)
    FIGURES.append((f"[{run.name}] Redis paused",
                    f"L on Y: {counts_of(l_y)}, last 200 sent "
                    f"{'-' if last_200 is None else ms(last_200)} after the SIGSTOP"))

    # Resumed: back to 200 for L, R still refused.
    redis.resume()
    ok, took, a, samples = wait_live(Y, L.access, RESUME_DEADLINE,
                                     also=[(X, R.access), (Y, R.access)])
    run.record("resumed: Y /me L", a, body="keys")
    run.check(ok, f"Redis resumed: L on Y → 200 within {RESUME_DEADLINE:.0f} s "
                  f"(took {took:.2f} s)", a)
    never_200(run, samples, "Redis resumed: R on X and Y while L recovers", "the SIGCONT")
    for d in (X, Y):
        a = run.record(f"resumed: {d.name} /me R", d.me(R.access))
        run.check(is_invalid_token(a), f"Redis resumed: R on {d.name} → 401 invalid_token", a)

    # Killed: the very next requests fail closed (the near cache must notice at once).
    # Several kills, each once every instance is back on its channel (its near cache
    # trusted again): the race between the requests and the near cache is not won once.
    pairs = [(d, name, token) for d in (X, Y) for name, token in (("R", R.access), ("L", L.access))]
    firsts = {}
    for k in range(KILLS):
        time.sleep(TRUST_AGAIN)
        redis.kill()
        # One after the other, as fast as they go, each kill starting with another pair.
        for d, name, token in pairs[k % len(pairs):] + pairs[:k % len(pairs)]:
            firsts.setdefault((d.name, name), []).append(d.me(token, timeout=5))
        if k < KILLS - 1:
            redis.start()
            for d in (X, Y):
                ok, _, a, _ = wait_live(d, L.access, RESUME_DEADLINE)
                run.need_quietly(ok, f"kill {k + 1}: redis-server restarted from its AOF, L on "
                                     f"{d.name} → 200 again", a)
    # R was seen revoked by both instances: it stays 401 whatever Redis does; L cannot be
    # judged without Redis: 503.
    for (name, token_name), answers in firsts.items():
        run.note(f"killed: {name} /me {token_name}", [comparable(a) for a in answers])
        expected, what = ((is_invalid_token, "401 invalid_token (a revocation seen holds)")
                          if token_name == "R" else
                          (is_unavailable, "503 temporarily_unavailable"))
        bad = [(k + 1, a) for k, a in enumerate(answers) if not expected(a)]
        run.check(not bad, f"Redis killed ({KILLS} times, restarted from its AOF in between): the "
                           f"very next request of {token_name} on {name} → {what} every time",
                  "; ".join(f"kill {k}: {a!r}" for k, a in bad) or None)
    samples = sample_all([(X, [R.access, L.access]), (Y, [R.access, L.access])], 0.5)
    never_200(run, [x for s in samples for x in s], "Redis down: R and L on X and Y (0.5 s)",
              "the sample's start")

    # Restarted from the append-only file: the revocation is still there.
    through_restart(run, redis, (X, Y), R, L, "restarted from AOF")
    Z = run.demo(first, env, "Z")
    for d in (X, Y, Z):
        a = run.record(f"AOF: {d.name} /me R", d.me(R.access))
        run.check(is_invalid_token(a), f"restarted from AOF: R on {d.name} → 401 invalid_token"
                                       + (" (a freshly started instance)" if d is Z else ""), a)
        a = run.record(f"AOF: {d.name} /me L", d.me(L.access), body="keys")
        run.check(a.status == 200, f"restarted from AOF: L on {d.name} → 200", a)
    time.sleep(WINDOW)   # Z synchronised too

    # Restarted without persistence: Redis forgot R; the instances that saw it must not.
    redis.kill()
    redis.forget()
    redis.appendonly = False
    through_restart(run, redis, (X, Y, Z), R, L, "restarted without persistence")
    run.check(redis.command("DBSIZE") == ":0", "restarted without persistence: Redis is empty "
                                               "(the revocation is lost there)",
              redis.command("DBSIZE"))
    for d in (X, Y, Z):
        a = run.record(f"no persistence: {d.name} /me R", d.me(R.access))
        run.check(is_invalid_token(a), f"restarted without persistence: R on {d.name}, which "
                                       f"saw the revocation → 401 invalid_token", a)
    W = run.demo(second, env, "W")
    a = run.record("no persistence: W /me R", W.me(R.access), body="keys")
    print(f"NOTE [{run.name}] documented loss: a Redis restarted without persistence has lost "
          f"its revocations: a freshly started instance W accepts the logged-out token R "
          f"(answered {a.status}), while X, Y and Z, which saw the revocation, must keep "
          f"refusing it. Run Redis with appendonly yes where that matters.", flush=True)
    run.check(a.status == 200 and a.json() == R.claims,
              "restarted without persistence: R on a freshly started instance W → 200 (the "
              "documented loss)", a)
    a = run.record("no persistence: W /me L", W.me(L.access), body="keys")
    run.check(a.status == 200, "restarted without persistence: L on W → 200", a)


# ---------------------------------------------------------------------------------------
# S3: a Redis Cluster

def race(run, targets, token, label):
    """One /refresh per target at once, all with the same refresh token."""
    answers = at_once([lambda d=d: d.refresh(token) for d in targets])
    statuses = [a.status for a in answers]
    wins = [a for a in answers if a.status == 200]
    counts = {s: statuses.count(s) for s in sorted(set(statuses), key=str)}
    run.note(f"{label} statuses", counts)
    run.check(len(wins) == 1 and statuses.count(401) == len(targets) - 1,
              f"{label}: {len(targets)} concurrent /refresh of one refresh token split over X and "
              f"Y → exactly one 200, the others 401", counts)
    return wins


def s3_cluster(run, cluster, first, second):
    env = {"JWT_SECRET": SECRET, "JWT_REDIS_CLUSTER": cluster.seeds}
    X = run.demo(first, env, "X")
    Y = run.demo(second, env, "Y")
    logouts(run, X, Y, CLUSTER_LOGOUTS, "cluster logout on X")
    reuses(run, X, Y, CLUSTER_REUSES, "cluster reuse on X")

    s = run.login(X, "alice", "cluster race")
    wins = race(run, [X, Y] * (RACERS // 2), s.refresh, "cluster race")
    if len(wins) == 1:
        winner = wins[0].refresh_cookie()
        for d in (X, Y):
            a = run.record(f"race winner refresh on {d.name}", d.refresh(winner))
            run.check(a.status == 401, f"cluster race: the winner's refresh token on {d.name} → "
                                       f"401 (the losers' reuse revoked the family)", a)

    # A master dies.
    revoked, live = [], []
    for i in range(CLUSTER_TOKENS):
        r = run.login(X, "alice")
        run.logout(X, r)
        revoked.append(r)
        live.append(run.login(X, "bob"))
    pending = []
    for r in revoked:
        delay, a, _ = until_refused(Y, r.access)
        if delay is None or not is_invalid_token(a):
            pending.append(a)
    run.need(not pending, f"{CLUSTER_TOKENS} tokens logged out on X: Y refuses them all "
                          f"(401 invalid_token)", pending[:3] or None)
    not_live = [(d.name, a) for d in (X, Y) for a in (d.me(t.access) for t in live)
                if a.status != 200]
    run.need(not not_live, f"{CLUSTER_TOKENS} live tokens: /me 200 on X and Y",
             not_live[:3] or None)
    victim = cluster.ports[1]
    cluster.kill(victim)
    killed_at = time.monotonic()
    n = CLUSTER_TOKENS
    samples = sample_all([(X, [t.access for t in revoked]), (Y, [t.access for t in revoked]),
                          (X, [t.access for t in live]), (Y, [t.access for t in live])],
                         SAMPLE, start=killed_at)
    rx, ry, lx, ly = (samples[i * n:(i + 1) * n] for i in range(4))
    for d, per_token in (("X", rx), ("Y", ry)):
        never_200(run, [x for t in per_token for x in t],
                  f"master {victim} killed: the {n} revoked tokens on {d}, sampled {SAMPLE} s",
                  "the kill")
    for d, per_token in (("X", lx), ("Y", ly)):
        flat = [x for t in per_token for x in t]
        odd = [(round(s, 3), a) for s, _, st, a in flat if st != 200 and not is_unavailable(a)]
        run.check(bool(flat) and not odd,
                  f"master {victim} killed: the live tokens on {d} → 200 or 503 "
                  f"temporarily_unavailable only", odd[:3] or "no request made")
        # Once the cluster noticed, each token's answer depends on where its keys are.
        late = [[st for s, _, st, _ in t if s >= CLUSTER_NOTICED] for t in per_token]
        verdicts = [set(t) for t in late]
        served = sum(1 for v in verdicts if v == {200})
        refused = sum(1 for v in verdicts if v == {503})
        run.check(served + refused == n and served and refused,
                  f"master {victim} killed: from {CLUSTER_NOTICED} s after the kill, each of the "
                  f"{n} live tokens on {d} gets always 200 or always 503, and both occur "
                  f"({served} tokens served, {refused} refused with 503: the dead master's keys)",
                  [sorted(v, key=str) for v in verdicts])
        FIGURES.append((f"[{run.name}] master killed",
                        f"live tokens on {d} from {CLUSTER_NOTICED} s: {served} served (200), "
                        f"{refused} 503, {n - served - refused} mixed"))


# ---------------------------------------------------------------------------------------

def redis_binary(suite, part):
    return required_tool(suite, part, "redis-server",
                         f"redis-server is not on PATH: {part} cannot run",
                         "Install it (apt-get install redis-server) to run it.")


def pairs_of(demos):
    return [(demos[0], demos[1]), (demos[1], demos[0])] if len(demos) == 2 else [(demos[0], demos[0])]


def run_pairs(suite, sid, title, demos, make_service, fn):
    """fn(run, service, X, Y) for each order of the pair, each with its own service from
    make_service(); then the two orders compared."""
    runs = []
    for first, second in pairs_of(demos):
        run = Run(suite, f"{sid} {title}", f"X={first} Y={second}")
        try:
            service = make_service()
        except Exception as e:   # noqa: BLE001 - a service that does not start is one failure
            run.check(False, "Redis starts", repr(e))
            continue
        run.cleanup.append(service.stop)
        run_one(run, fn, service, first, second)
        runs.append(run)
    if len(runs) == 2:
        compare(suite, f"{sid} {title} (X={demos[0]} Y={demos[1]} vs swapped)", runs[0], runs[1],
                [r.name for r in runs])


def run_all(suite, demos, only):
    wanted = [sid for sid in ("S1", "S2", "S3") if not only or sid in only]
    server = redis_binary(suite, "/".join(wanted)) if wanted else None
    if server is None:
        return
    if "S1" in wanted:
        run_pairs(suite, "S1", "propagation", demos, lambda: Redis(server), s1_propagation)
    if "S2" in wanted:
        run_pairs(suite, "S2", "faults", demos, lambda: Redis(server, appendonly=True), s2_faults)
    if "S3" in wanted:
        cli = required_tool(suite, "S3", "redis-cli",
                            "redis-cli is not on PATH: the Redis Cluster scenario (S3) cannot run",
                            "It comes with Debian's redis-server package (redis-tools).")
        if cli is not None:
            run_pairs(suite, "S3", "cluster", demos, lambda: RedisCluster(server, cli), s3_cluster)


# ---------------------------------------------------------------------------------------
# Self-test of the helpers that do not need a demo

def self_test(suite):
    values = [i / 1000 for i in range(1, 101)]
    suite.check((percentile(values, 50), percentile(values, 99), percentile(values, 100))
                == (0.05, 0.099, 0.1), "self-test: nearest-rank percentiles of 1..100 ms",
                (percentile(values, 50), percentile(values, 99)))
    suite.check(percentile([0.007], 99) == 0.007 and percentile([], 50) is None,
                "self-test: percentile of one value, of none")
    a = Answer(200, [("Set-Cookie", "other=1"), ("Set-Cookie", f"{COOKIE}=a.b.c; HttpOnly; Path=/refresh")],
               '{"access_token":"x.eyJzdWIiOiJhbGljZSJ9.y"}')
    s = Session("alice", a)
    suite.check(s.refresh == "a.b.c" and s.claims == {"sub": "alice"},
                "self-test: Session reads the refresh cookie and the access token's claims",
                (s.refresh, s.claims))
    suite.check(comparable(Answer(401, [("WWW-Authenticate", "Bearer")], '{"error":"e"}'))
                == (401, "Bearer", {"error": "e"}) and comparable(Answer(error="x")) == ("no answer",),
                "self-test: comparable")
    port = cluster_port()
    suite.check(port + 10000 <= 65535, f"self-test: cluster_port {port} (+10000 free)")

    server = redis_binary(suite, "self-test")
    if server is None:
        return
    r = Redis(server, appendonly=True)
    try:
        suite.check(r.command("SET", "k", "v") == "+OK", "self-test: redis SET with AOF")
        r.pause()
        suite.check(r.command("PING", timeout=0.5) is None, "self-test: paused redis does not answer")
        r.resume()
        suite.check(r.ping(), "self-test: resumed redis answers")
        r.kill()
        r.start()
        suite.check(r.command("GET", "k") == "$1", "self-test: restarted from AOF, the key is back")
        r.kill()
        r.forget()
        r.appendonly = False
        r.start()
        suite.check(r.command("GET", "k") == "$-1", "self-test: restarted without persistence, empty")
    finally:
        r.stop()
    cli = required_tool(suite, "self-test", "redis-cli", "redis-cli is not on PATH",
                        "It comes with Debian's redis-server package.")
    if cli is None:
        return
    t = time.monotonic()
    c = RedisCluster(server, cli)
    try:
        info = c.cli_output(c.ports[0], "CLUSTER", "INFO")
        suite.check("cluster_known_nodes:3" in info and "cluster_size:3" in info,
                    f"self-test: cluster of 3 masters formed in {time.monotonic() - t:.1f} s "
                    f"({c.seeds})", info)
        c.kill(c.ports[1])
        time.sleep(0.2)
        suite.check("PONG" not in c.cli_output(c.ports[1], "PING")
                    and "PONG" in c.cli_output(c.ports[0], "PING"),
                    "self-test: a killed master is gone, the others answer")
    finally:
        c.stop()
    # start_redis_server reports a server that cannot start.
    try:
        start_redis_server(server, port, ["--no-such-option", "x"], "/tmp", deadline=5)
        suite.check(False, "self-test: start_redis_server refuses a bad configuration")
    except RuntimeError:
        suite.check(True, "self-test: start_redis_server refuses a bad configuration")


def main():
    global BIN_DIR
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of scenario ids (S1,S2,S3)")
    parser.add_argument("--self-test", action="store_true", help="check this script's helpers only")
    args, BIN_DIR, demos, only = parse_demo_arguments(parser)

    suite = Suite()
    start = time.monotonic()
    try:
        if args.self_test:
            self_test(suite)
        else:
            run_all(suite, demos, only)
    finally:
        kill_live()
    if FIGURES:
        print("propagation and fault figures:")
        for label, text in FIGURES:
            print(f"  {label}: {text}")
    return suite.finish(f"scale: {len(demos)} demos, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
