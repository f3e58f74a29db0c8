#!/usr/bin/env python3
"""Real-browser suite for the "Browser apps" block of the demo contract (issue 19).

Drives Debian's headless Chromium (/usr/bin/chromium, or $CHROMIUM) with Playwright for
Python (launched with executable_path: `playwright install` is never run) against BOTH
demos, each on its own free port of 127.0.0.1, and checks that they answer alike. Pages
of "other sites" are served here by http.server on 127.0.0.1 (same site: another port)
and 127.0.0.2 (another site). Only 127.0.0.x is used.

Usage:
    browser.py [BIN_DIR] [--only B1,B4] [--demos axum-demo,actix-demo] [--screenshot PNG]

BIN_DIR defaults to target/debug. Prints one line per check (PASS/FAIL/SKIP) and a final
"N passed, N failed" line; exits 1 on any failure. Needs `playwright` and `cryptography`
(tests/python/requirements.txt). Without Chromium or Playwright the suite is SKIPPED, or
FAILED when CI=true.

B1 GET / answers 200 `text/html; charset=utf-8` with the embedded page, which loads
   nothing from elsewhere.
B2 flow (JWT_ACCESS_TTL=3, JWT_LEEWAY=0): log in as alice in the page → /me 200 in the
   page; a silent POST /refresh happens on its own before expiry (#refresh-count); once
   the first access token's exp has passed, that token is 401 and the page's /me is 200
   again; a broken in-memory token makes /me 401, the page refreshes and retries: 200;
   logout → 204, the page says signed out, its /me is 401 and the last token is 401; the
   refresh cookies are gone. No script ever writes localStorage, sessionStorage or
   document.cookie; no page error.
B3 cookie flags (JWT_ACCESS_TTL=60): after login `document.cookie` shows neither token;
   the context holds exactly two refresh_token cookies, Path=/refresh and Path=/logout,
   HttpOnly, Secure, SameSite=Strict, with the same value; a refresh rotates both
   together; /me and /admin 200 for alice (the screenshot is taken here, on the first
   demo), /admin 403 insufficient_scope for bob.
B4 same site (JWT_COOKIE=access_token): a page on 127.0.0.1:<other port> POSTs /refresh
   and /logout with fetch(credentials: 'include'), and submits a form to /logout: 403.
B5 cross site: the same page served from 127.0.0.2: 401, no cookie sent.
B6 allowed origin (JWT_ALLOWED_ORIGINS = the same-site page's origin): its POST /refresh
   and POST /logout proceed (200, 204): Origin takes precedence over Sec-Fetch-Site.

How B4 knows that the server judged the browser's own Sec-Fetch-Site: the requests'
statuses and headers are read from Chromium's DevTools protocol (Network.*ExtraInfo
events: the raw headers the network stack put on the wire and the raw status line), not
from the page, which cannot read a cross-origin answer. Nothing in the test adds or
changes a header (no route interception, no extra headers). Those raw headers carry the
refresh cookie (and for /logout the access cookie), `Origin: http://127.0.0.1:<other
port>` and `Sec-Fetch-Site: same-site`, set by Chromium because another port of the same
host is the same site but not the same origin. Without the cookie the server would answer
401 (as B5 shows); it answers 403 with `{"error":"forbidden"}`, so the cookie arrived and
was refused by the CSRF check. Replaying those exact raw headers from Python gets the same
403, and so does the replay without `Origin`, so `Sec-Fetch-Site: same-site` alone, the
value the browser chose, decides; a non-browser request with the same cookie and neither
header proceeds (204), so the token itself was good. Finally the victim's page still
works (/me 200 with its token, its own POST /refresh 200): the refused requests spent and
revoked nothing.
"""
import http.server
import json
import os
import re
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "python", "pysupport"))

from demo_support import (DemoProcess, ScenarioRun, Suite, demo_arguments, error_of,
                          http_request, kill_live, parse_demo_arguments, run_scenario,
                          skip_or_fail, unb64)

BIN_DIR = os.path.join(ROOT, "target", "debug")
DEMOS = ["axum-demo", "actix-demo"]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The flags known to work on this machine kind (Playwright adds --headless and a fresh
# temporary --user-data-dir itself). Without the background-networking ones Chromium
# keeps trying to reach Google's hosts through a closed network.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]
PAGE_FILE = os.path.join(ROOT, "examples", "demo-support", "src", "page.html")
SECRET = "browser-suite-secret-0123456789abcdef"   # 32+ characters
BROWSER = None         # one headless Chromium for the whole suite
SCREENSHOT = None      # where B3 saves the page after login (first demo only)

# Records every write to localStorage, sessionStorage and document.cookie (injected by the
# DevTools protocol before the page's own script, so the page's CSP does not apply).
WATCH_STORAGE = """
window.__writes = [];
for (const name of ["setItem", "removeItem", "clear"]) {
  const original = Storage.prototype[name];
  Storage.prototype[name] = function (...args) {
    window.__writes.push((this === window.localStorage ? "localStorage." : "sessionStorage.") + name);
    return original.apply(this, args);
  };
}
const cookie = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
Object.defineProperty(document, "cookie", {
  get() { return cookie.get.call(this); },
  set(value) { window.__writes.push("document.cookie"); cookie.set.call(this, value); },
});
"""

# The "other site": fetch() and a form, both aimed at the demo given in ?demo=.
OTHER_PAGE = b"""<!doctype html>
<meta charset="utf-8"><title>another site</title>
<form id="form" method="post"><input type="hidden" name="x" value="1"></form>
<script>
const demo = new URLSearchParams(location.search).get("demo");
async function attack(path) {
  try {
    const r = await fetch(demo + path, { method: "POST", credentials: "include" });
    return "readable " + r.status;
  } catch (e) {
    return "unreadable (" + e.name + ")";   // no CORS headers: expected
  }
}
function post(path) { const f = document.getElementById("form"); f.action = demo + path; f.submit(); }
</script>
"""


class Run(ScenarioRun):
    def record(self, label, value):
        self.answers[label] = value


class Demo(DemoProcess):
    pass


def start_demo(run, binary, env):
    full = {"JWT_SECRET": SECRET, "JWT_LEEWAY": "0", "JWT_ACCESS_TTL": "60"}
    full.update(env)
    demo = Demo(BIN_DIR, binary, full)
    run.cleanup.append(demo.stop)
    return demo, f"http://127.0.0.1:{demo.port}"


class OtherSite:
    """OTHER_PAGE served by http.server on `host`:<free port>."""

    def __init__(self, host):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(OTHER_PAGE)))
                self.end_headers()
                self.wfile.write(OTHER_PAGE)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.origin = f"http://{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Wire:
    """What Chromium put on the wire for one page, from the DevTools protocol: method, URL,
    raw request headers (cookies included), raw status. Reads even the answers that the
    page's own script may not read (cross-origin without CORS)."""

    def __init__(self, context, page):
        self.page, self.requests, self.order = page, {}, []
        session = context.new_cdp_session(page)
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.requestWillBeSentExtraInfo", self._sent_raw)
        session.on("Network.responseReceivedExtraInfo", self._received_raw)
        session.send("Network.enable")

    def _entry(self, request_id):
        if request_id not in self.requests:
            self.requests[request_id] = {"method": None, "url": None, "headers": None,
                                         "status": None, "blocked": []}
            self.order.append(request_id)
        return self.requests[request_id]

    def _sent(self, event):
        entry = self._entry(event["requestId"])
        entry["method"], entry["url"] = event["request"]["method"], event["request"]["url"]

    def _sent_raw(self, event):
        entry = self._entry(event["requestId"])
        entry["headers"] = {k.lower(): v for k, v in event["headers"].items()}
        for c in event.get("associatedCookies", []):
            if c.get("blockedReasons"):
                entry["blocked"].append((c["cookie"]["name"], c["blockedReasons"]))

    def _received_raw(self, event):
        self._entry(event["requestId"])["status"] = event["statusCode"]

    def mark(self):
        return len(self.order)

    def wait(self, method, url, since, timeout=10):
        """The first such request after mark() `since` once its answer is in, else None."""
        deadline = time.monotonic() + timeout
        while True:
            for request_id in self.order[since:]:
                e = self.requests[request_id]
                if (e["method"], e["url"]) == (method, url) and e["headers"] and e["status"]:
                    return e
            if time.monotonic() > deadline:
                return None
            self.page.wait_for_timeout(50)   # lets Playwright deliver the DevTools events


def cookie_names(header):
    return [part.split("=", 1)[0].strip() for part in (header or "").split(";") if part.strip()]


def claims_of(token):
    return json.loads(unb64(token.split(".")[1]))


def new_page(run, watch=True):
    """A fresh context (no cookies) and page; page errors are collected in page.errors."""
    context = BROWSER.new_context(viewport={"width": 820, "height": 700})
    context.set_default_timeout(15000)
    run.cleanup.append(context.close)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if watch:
        page.add_init_script(WATCH_STORAGE)
    return context, page


def open_demo(run, page, base):
    from playwright.sync_api import expect
    page.goto(base + "/")
    # The page first tries a silent refresh (a reload keeps the session); no cookie yet.
    expect(page.locator("#status")).to_have_text("signed out")


def log_in(run, page, base, user="alice"):
    """Logs in through the form; returns the access token that /login answered."""
    from playwright.sync_api import expect
    page.fill("#username", user)
    page.fill("#password", f"{user}-password")
    with page.expect_response(base + "/login") as info:
        page.click("#login")
    answer = info.value
    run.need(answer.status == 200, f"login {user} 200", answer.status)
    expect(page.locator("#status")).to_have_text(f"signed in as {user}")
    return answer.json()


def show(page, which):
    """Clicks #me or #admin and returns the new output text ("<status> <json>")."""
    from playwright.sync_api import expect
    out = page.locator(f"#{which}-output")
    page.evaluate("id => { document.getElementById(id).textContent = ''; }", f"{which}-output")
    page.click(f"#{which}")
    expect(out).to_have_text(re.compile(r"^\d{3} "))
    return out.text_content()


def status_of(text):
    return int(text.split(" ", 1)[0])


def body_of(text):
    try:
        return json.loads(text.split(" ", 1)[1])
    except (IndexError, ValueError):
        return None


def refresh_cookies(context):
    return sorted((c for c in context.cookies() if c["name"] == "refresh_token"),
                  key=lambda c: c["path"])


def fetch_status(page, token, path="/me"):
    """The status of GET `path` sent from the page with `token` as bearer."""
    return page.evaluate("""async ([path, token]) => (await fetch(path, {
        headers: { Authorization: "Bearer " + token } })).status""", [path, token])


# ---------------------------------------------------------------------------------------
# Scenarios

def b1_page(run, binary):
    demo, base = start_demo(run, binary, {})
    a = demo.request("GET", "/")
    with open(PAGE_FILE, encoding="utf-8") as f:
        page_source = f.read()
    run.check(a.status == 200, "GET / 200", a)
    run.check((a.header("Content-Type") or "").lower() == "text/html; charset=utf-8",
              "Content-Type: text/html; charset=utf-8", a.header("Content-Type"))
    run.check(a.body == page_source, "the body is examples/demo-support/src/page.html",
              f"{len(a.body)} vs {len(page_source)} characters")
    external = re.findall(r"""(?:src|href|action)\s*=\s*["']?\s*(?:https?:)?//[^"'\s>]*""",
                          a.body, re.I)
    run.check(not external, "the page loads nothing from elsewhere", external)
    run.check(len(page_source.splitlines()) < 250, "the page is under 250 lines",
              len(page_source.splitlines()))
    run.record("GET /", (a.status, a.header("Content-Type")))


def b2_flow(run, binary):
    from playwright.sync_api import expect
    demo, base = start_demo(run, binary, {"JWT_ACCESS_TTL": "3"})
    context, page = new_page(run)
    seen = []   # (method, path, status) of every answer the demo gave the page
    page.on("response", lambda r: seen.append(
        (r.request.method, r.url[len(base):], r.status)) if r.url.startswith(base) else None)
    open_demo(run, page, base)
    login = log_in(run, page, base)
    first = login["access_token"]
    run.check(login.get("expires_in") == 3 and login.get("token_type") == "Bearer",
              "login answers expires_in 3, Bearer", {k: login.get(k) for k in ("expires_in", "token_type")})
    lifetime = page.locator("#lifetime")
    expect(lifetime).to_have_text(re.compile(r"^[0-3]\.\d s$"))
    shown = lifetime.text_content()
    expect(lifetime).not_to_have_text(shown)   # it moves
    run.check(True, f"#lifetime counts down from 3 s ({shown}, then {lifetime.text_content()})")
    text = show(page, "me")
    run.need(status_of(text) == 200 and (body_of(text) or {}).get("sub") == "alice",
             "/me in the page: 200 sub alice", text[:80])
    run.record("login, /me", (status_of(text), sorted((body_of(text) or {}).keys())))

    # The silent refresh, on the page's own timer (2 s into a 3 s token).
    expect(page.locator("#refresh-count")).to_have_text(re.compile(r"^[1-9]"), timeout=15000)
    refreshes = [s for m, p, s in seen if (m, p) == ("POST", "/refresh")]
    run.check(200 in refreshes[1:], "a silent POST /refresh 200, nothing clicked",
              refreshes)   # [0] is the page's start-up attempt: 401, no cookie yet
    # Wait out the first token (a clock, not an event: exp is whole seconds).
    left = claims_of(first)["exp"] + 0.3 - time.time()
    if left > 0:
        page.wait_for_timeout(left * 1000)
    run.check(fetch_status(page, first) == 401, "the first access token, expired: 401")
    text = show(page, "me")
    run.check(status_of(text) == 200, "/me works again with the refreshed token", text[:80])
    run.record("after the TTL, /me", status_of(text))

    # After a 401: break the in-memory token and click in the same task, so that no
    # timer can slip a refresh in between.
    before = len(seen)
    page.evaluate("""() => {
        token = token.split(".").slice(0, 2).join(".") + "." + "A".repeat(43);
        document.getElementById("me-output").textContent = "";
        document.getElementById("me").click();
    }""")
    expect(page.locator("#me-output")).to_have_text(re.compile(r"^\d{3} "))
    text = page.locator("#me-output").text_content()
    after = [(m, p, s) for m, p, s in seen[before:] if p in ("/me", "/refresh")]
    run.check(after[:3] == [("GET", "/me", 401), ("POST", "/refresh", 200), ("GET", "/me", 200)]
              and status_of(text) == 200,
              "a 401 on /me: the page refreshes and retries, 200", after)

    # Logout.
    last = page.evaluate("token")
    with page.expect_response(base + "/logout") as info:
        page.click("#logout")
    run.check(info.value.status == 204, "POST /logout 204", info.value.status)
    expect(page.locator("#status")).to_have_text("signed out")
    run.check(page.locator("#lifetime").text_content() == "–", "#lifetime cleared",
              page.locator("#lifetime").text_content())
    text = show(page, "me")
    run.check(status_of(text) == 401, "after logout, /me in the page: 401", text[:80])
    run.check(fetch_status(page, last) == 401, "after logout, the last access token: 401")
    run.check(refresh_cookies(context) == [], "after logout, no refresh cookie left",
              [(c["path"], len(c["value"])) for c in refresh_cookies(context)])
    run.record("after logout, /me", status_of(text))
    writes = page.evaluate("window.__writes")
    run.check(writes == [], "no script wrote localStorage, sessionStorage or document.cookie",
              writes)
    run.check(page.evaluate("localStorage.length + sessionStorage.length") == 0,
              "localStorage and sessionStorage empty")
    run.check(page.errors == [], "no page error", page.errors)


def b3_cookies(run, binary):
    demo, base = start_demo(run, binary, {})
    context, page = new_page(run)
    open_demo(run, page, base)
    access = log_in(run, page, base)["access_token"]
    jar = page.evaluate("document.cookie")
    run.check("refresh_token" not in jar and access not in jar,
              "document.cookie shows neither token", jar)
    cookies = refresh_cookies(context)
    shape = [(c["path"], c["httpOnly"], c["secure"], c["sameSite"], c["domain"]) for c in cookies]
    run.check(shape == [("/logout", True, True, "Strict", "127.0.0.1"),
                        ("/refresh", True, True, "Strict", "127.0.0.1")],
              "two refresh_token cookies: Path=/logout and /refresh, HttpOnly, Secure, "
              "SameSite=Strict", shape)
    values = {c["value"] for c in cookies}
    run.check(len(values) == 1, "both cookies hold the same refresh token", len(values))
    run.record("cookies after login", shape)

    me, admin = show(page, "me"), show(page, "admin")
    run.check(status_of(me) == 200 and status_of(admin) == 200, "alice: /me 200, /admin 200",
              (me[:40], admin[:40]))
    if SCREENSHOT and binary == DEMOS_RUN[0]:
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)
        run.check(os.path.getsize(SCREENSHOT) > 0, f"screenshot saved: {os.path.relpath(SCREENSHOT, ROOT)} "
                  f"({os.path.getsize(SCREENSHOT) // 1024} KiB)")

    run.check(page.evaluate("refresh()") is True, "the page's refresh() 200")
    rotated = refresh_cookies(context)
    new_values = {c["value"] for c in rotated}
    run.check(len(rotated) == 2 and len(new_values) == 1 and new_values != values,
              "a refresh rotates both cookies together",
              [(c["path"], c["value"][-8:]) for c in rotated])
    jar = page.evaluate("document.cookie")
    run.check("refresh_token" not in jar, "document.cookie still shows no refresh token", jar)

    log_in(run, page, base, "bob")
    admin = show(page, "admin")
    run.check(status_of(admin) == 403 and (body_of(admin) or {}).get("error") == "insufficient_scope",
              "bob: /admin 403 insufficient_scope in the page", admin[:80])
    run.record("bob /admin", status_of(admin))
    run.check(page.evaluate("window.__writes") == [], "no storage or document.cookie writes")
    run.check(page.errors == [], "no page error", page.errors)


def victim(run, binary, env):
    """A demo with JWT_COOKIE=access_token, alice logged in through its page, and her access
    token also in a SameSite=Strict cookie for 127.0.0.1 (as a cookie-token app would hold
    it): (demo, base, context, page, access token)."""
    demo, base = start_demo(run, binary, dict({"JWT_COOKIE": "access_token"}, **env))
    context, page = new_page(run)
    open_demo(run, page, base)
    access = log_in(run, page, base)["access_token"]
    context.add_cookies([{"name": "access_token", "value": access, "domain": "127.0.0.1",
                          "path": "/", "httpOnly": True, "sameSite": "Strict"}])
    return demo, base, context, page, access


def attack(run, context, site, base, what):
    """Opens the other site's page in the victim's browser and sends what[i] = path as
    fetch POSTs, then as a form POST to /logout; returns {label: wire entry}."""
    page = context.new_page()
    run.cleanup.append(page.close)
    wire = Wire(context, page)
    page.goto(f"{site.origin}/?demo={base}")
    seen = {}
    for path in what:
        mark = wire.mark()
        result = page.evaluate("path => attack(path)", path)
        entry = wire.wait("POST", base + path, mark)
        run.need(entry is not None, f"fetch POST {path} seen on the wire", result)
        seen[f"fetch {path}"] = entry
    mark = wire.mark()
    with page.expect_navigation() as nav:
        page.evaluate("path => post(path)", "/logout")
    entry = wire.wait("POST", base + "/logout", mark)
    run.need(entry is not None, "form POST /logout seen on the wire")
    entry["body"] = nav.value.text() if nav.value else None
    seen["form /logout"] = entry
    return seen


def replay(base, entry, drop=()):
    """The request again from Python with the browser's raw headers, less `drop`."""
    headers = {k: v for k, v in entry["headers"].items()
               if k not in drop and k not in ("connection", "content-length")}
    path = entry["url"][len(base):]
    return http_request("POST", base + path, headers, b"")


def b4_same_site(run, binary):
    site = OtherSite("127.0.0.1")
    run.cleanup.append(site.stop)
    demo, base, context, page, access = victim(run, binary, {})
    seen = attack(run, context, site, base, ["/refresh", "/logout"])
    for label, e in seen.items():
        sent = cookie_names(e["headers"].get("cookie"))
        wanted = ["refresh_token"] + (["access_token"] if "/logout" in label else [])
        run.check(all(n in sent for n in wanted), f"{label}: the browser sent {wanted}", sent)
        run.check(e["headers"].get("sec-fetch-site") == "same-site"
                  and e["headers"].get("origin") == site.origin,
                  f"{label}: the browser sent Sec-Fetch-Site: same-site, Origin {site.origin}",
                  {k: e["headers"].get(k) for k in ("sec-fetch-site", "origin")})
        run.check(e["status"] == 403, f"{label}: 403", e["status"])
        run.record(f"same-site {label}", e["status"])
    body = seen["form /logout"].get("body") or ""
    parsed = json.loads(body) if body.startswith("{") else None
    run.check(isinstance(parsed, dict) and parsed.get("error") == "forbidden",
              'form /logout: the body is {"error":"forbidden",...}', body[:160])
    run.check(access not in body and "eyJ" not in body, "form /logout: no token echoed", body[:160])
    run.record("same-site form body error", error_of_text(body))

    # The server's answer depends on the headers the browser chose: replay them.
    for label in ("fetch /logout", "fetch /refresh"):
        exact = replay(base, seen[label])
        fetch_meta_only = replay(base, seen[label], drop=("origin",))
        run.check(exact.status == 403 and error_of(exact) == "forbidden",
                  f"{label} replayed with the browser's raw headers: 403 forbidden", exact)
        run.check(fetch_meta_only.status == 403,
                  f"{label} replayed without Origin (Sec-Fetch-Site: same-site alone): 403",
                  fetch_meta_only)
    # Nothing was spent or revoked by the refused requests.
    text = show(page, "me")
    run.check(status_of(text) == 200, "the victim's page: /me still 200", text[:80])
    run.check(page.evaluate("refresh()") is True,
              "the victim's page: its own POST /refresh (same-origin) still 200")
    # The token itself was good: a non-browser request (neither header) proceeds.
    a = http_request("POST", base + "/logout", {"Cookie": f"access_token={access}"}, b"")
    run.check(a.status == 204, "the same access cookie without Origin or Sec-Fetch-Site: "
              "POST /logout 204", a)
    run.check(page.errors == [], "no page error", page.errors)


def error_of_text(body):
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed.get("error") if isinstance(parsed, dict) else None


def b5_cross_site(run, binary):
    try:
        site = OtherSite("127.0.0.2")
    except OSError as e:
        run.need(False, "an http.server on 127.0.0.2", repr(e))
    run.cleanup.append(site.stop)
    demo, base, context, page, access = victim(run, binary, {})
    seen = attack(run, context, site, base, ["/refresh", "/logout"])
    for label, e in seen.items():
        sent = cookie_names(e["headers"].get("cookie"))
        run.check(sent == [], f"{label}: the browser sent no cookie", sent)
        # Chromium says why it withheld each cookie: SameSite=Strict (schemeful) for both,
        # on every request; the fetches are also third-party requests, which this
        # Chromium refuses cookies anyway (UserPreferences); the top-level form POST is
        # not, so there SameSite=Strict is the only reason.
        on_path = [(n, r) for n, r in e["blocked"] if "NotOnPath" not in r]
        names = sorted(n for n, r in on_path if any(x.endswith("SameSiteStrict") for x in r))
        run.check(names == ["access_token", "refresh_token"],
                  f"{label}: Chromium withheld access_token and refresh_token for SameSite=Strict",
                  e["blocked"])
        if label.startswith("form"):
            run.check(all(x.endswith("SameSiteStrict") for n, r in on_path for x in r),
                      f"{label}: SameSite=Strict is the only reason", e["blocked"])
        run.check(e["headers"].get("sec-fetch-site") == "cross-site",
                  f"{label}: Sec-Fetch-Site: cross-site", e["headers"].get("sec-fetch-site"))
        run.check(e["status"] == 401, f"{label}: 401 (no cookie, no token)", e["status"])
        run.record(f"cross-site {label}", e["status"])
    # A browser that ignores SameSite (older ones do) would have sent the cookie: the same
    # cross-site form POST, replayed with the browser's own headers plus the valid access
    # cookie, is refused by the CSRF check (403), and is 204 without the cross-site headers.
    form = seen["form /logout"]
    headers = {k: v for k, v in form["headers"].items()
               if k not in ("connection", "content-length", "cookie")}
    headers["Cookie"] = f"access_token={access}"
    forged = http_request("POST", base + "/logout", headers, b"")
    run.check(forged.status == 403 and error_of(forged) == "forbidden",
              "cross-site form POST /logout replayed with a valid access cookie: 403 forbidden",
              forged)
    run.check(access not in (forged.body or ""), "the 403 echoes no token", forged)
    run.record("cross-site form with cookie", forged.status)
    text = show(page, "me")
    run.check(status_of(text) == 200, "the victim's page: /me still 200", text[:80])
    run.check(page.evaluate("refresh()") is True, "the victim's page: its POST /refresh still 200")
    run.check(page.errors == [], "no page error", page.errors)


def b6_allowed_origin(run, binary):
    site = OtherSite("127.0.0.1")
    run.cleanup.append(site.stop)
    demo, base, context, page, access = victim(run, binary, {"JWT_ALLOWED_ORIGINS": site.origin})
    page2 = context.new_page()
    run.cleanup.append(page2.close)
    wire = Wire(context, page2)
    page2.goto(f"{site.origin}/?demo={base}")
    for path, wanted in (("/refresh", 200), ("/logout", 204)):
        mark = wire.mark()
        page2.evaluate("path => attack(path)", path)
        e = wire.wait("POST", base + path, mark)
        run.need(e is not None, f"fetch POST {path} seen on the wire")
        run.check(e["headers"].get("sec-fetch-site") == "same-site"
                  and e["headers"].get("origin") == site.origin
                  and "refresh_token" in cookie_names(e["headers"].get("cookie")),
                  f"fetch {path}: refresh cookie, Sec-Fetch-Site: same-site, allowed Origin",
                  {k: e["headers"].get(k) for k in ("sec-fetch-site", "origin")})
        run.check(e["status"] == wanted, f"fetch {path}: {wanted}", e["status"])
        run.record(f"allowed origin {path}", e["status"])


SCENARIOS = [
    ("B1", "GET /", b1_page),
    ("B2", "flow", b2_flow),
    ("B3", "cookie flags", b3_cookies),
    ("B4", "same site", b4_same_site),
    ("B5", "cross site", b5_cross_site),
    ("B6", "allowed origin", b6_allowed_origin),
]
DEMOS_RUN = DEMOS


def main():
    global BIN_DIR, BROWSER, SCREENSHOT, DEMOS_RUN
    parser = demo_arguments(__doc__, BIN_DIR, DEMOS, "comma list of scenario ids (B1,...,B6)")
    parser.add_argument("--screenshot", default=os.path.join(ROOT, "docs", "browser-demo.png"),
                        help="where B3 saves the page after login ('' for nowhere)")
    args, BIN_DIR, demos, only = parse_demo_arguments(parser)
    SCREENSHOT = os.path.abspath(args.screenshot) if args.screenshot else None
    DEMOS_RUN = demos
    suite = Suite()
    start = time.monotonic()
    heading = f"browser: {len(demos)} demos"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail(suite, "browser", "Playwright for Python is missing", "playwright",
                     "pip install -r tests/python/requirements.txt")
        return suite.finish(heading)
    if not os.access(CHROMIUM, os.X_OK):
        skip_or_fail(suite, "browser", f"{CHROMIUM} is missing", "chromium",
                     "apt-get install chromium (scripts/test does)")
        return suite.finish(heading)
    try:
        with sync_playwright() as playwright:
            BROWSER = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                 args=CHROMIUM_FLAGS)
            print(f"browser: {CHROMIUM} {BROWSER.version}, Playwright", flush=True)
            try:
                for sid, name, fn in SCENARIOS:
                    if not only or sid in only:
                        run_scenario(suite, f"{sid} {name}", demos, fn, run_class=Run,
                                     skip_silent=True)
            finally:
                BROWSER.close()
    finally:
        kill_live()
    return suite.finish(f"{heading}, {time.monotonic() - start:.0f}s")


if __name__ == "__main__":
    sys.exit(main())
