"""OpenID Connect login to the webmail per post office (issue 17, item 6;
manual 5.3.8): the authorization code flow with PKCE against a small
OpenID provider this test runs (http.server on a free loopback port; its
RSA key made with openssl at test time, ID tokens signed RS256 with
`openssl dgst`). The browser is http.client following the redirects by
hand. Checked: the whole login (a web session for the mailbox of the
verified address), PKCE and client authentication at the token endpoint,
and the refusals: a forged or foreign state, a replayed code, a token
for another audience, from another issuer, with another nonce, expired,
signed by another key or not signed, an unverified or foreign address,
a post office without the login. The webmail's login page learns from
/jmap/mail/oidc/offer whether to offer the button (by the domain, never
the mailbox), and Chromium logs in through it (tests/browser/
webmail-oidc.mjs)."""
import base64
import hashlib
import http.client
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import Postern, free_port
from webmail_util import run_browser

PW = "Outside-login-secret-8841"
CLIENT_ID = "postern-acme"
CLIENT_SECRET = "Client-secret-0417"
T = 20


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class Provider:
    """the OpenID provider: discovery, authorize (logs in self.user at
    once), token (client_secret_basic, PKCE S256, one use per code), JWKS;
    self.tamper changes the next ID tokens"""

    def __init__(self, tmp):
        self.key = tmp / "op-key.pem"
        self.other = tmp / "other-key.pem"
        for k in (self.key, self.other):
            subprocess.run(["openssl", "genrsa", "-out", str(k), "2048"],
                           check=True, capture_output=True)
        mod = subprocess.run(["openssl", "rsa", "-in", str(self.key),
                              "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout
        n = bytes.fromhex(mod.strip().split("=", 1)[1])
        self.jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
                    "n": b64u(n), "e": b64u((65537).to_bytes(3, "big"))}
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.user = ("ann@acme.test", True)
        self.tamper = {}
        self.codes = {}
        self.pkce_checked = 0
        self.lock = threading.Lock()
        op = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def answer(self, status, body, headers=()):
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                if u.path == "/.well-known/openid-configuration":
                    meta = {
                        "issuer": op.issuer,
                        "authorization_endpoint": op.issuer + "/authorize",
                        "token_endpoint": op.issuer + "/token",
                        "jwks_uri": op.issuer + "/jwks",
                        "response_types_supported": ["code"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                        "code_challenge_methods_supported": ["S256"]}
                    meta.update(op.tamper.get("meta", {}))
                    self.answer(200, meta)
                elif u.path == "/jwks":
                    self.answer(200, {"keys": [op.jwk]})
                elif u.path == "/authorize":
                    assert q["response_type"] == "code"
                    assert q["code_challenge_method"] == "S256"
                    assert "openid" in q["scope"].split()
                    code = b64u(hashlib.sha256(
                        str(time.time_ns()).encode()).digest())
                    with op.lock:
                        op.codes[code] = dict(q)
                    loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": code, "state": q["state"]})
                    self.answer(302, None, [("Location", loc)])
                else:
                    self.answer(404, {"error": "not_found"})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n)
                                                   .decode()))
                auth = self.headers.get("Authorization", "")
                want = "Basic " + base64.b64encode(
                    f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if auth != want:
                    return self.answer(401, {"error": "invalid_client"})
                with op.lock:
                    req = op.codes.pop(form.get("code"), None)
                if (req is None or form.get("grant_type") !=
                        "authorization_code" or
                        form.get("redirect_uri") != req["redirect_uri"] or
                        req["client_id"] != CLIENT_ID):
                    return self.answer(400, {"error": "invalid_grant"})
                ver = form.get("code_verifier", "")
                if b64u(hashlib.sha256(ver.encode()).digest()) != \
                        req["code_challenge"]:
                    return self.answer(400, {"error": "invalid_grant",
                                             "error_description": "PKCE"})
                op.pkce_checked += 1
                self.answer(200, {"access_token": "at", "token_type":
                                  "Bearer", "id_token": op.id_token(req)})

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1",
                                                      self.port), H)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def id_token(self, req):
        now = int(time.time())
        email, verified = self.user
        claims = {"iss": self.issuer, "sub": "u-" + email, "aud": CLIENT_ID,
                  "exp": now + 300, "iat": now, "nonce": req["nonce"],
                  "email": email, "email_verified": verified}
        hdr = {"alg": "RS256", "typ": "JWT", "kid": "k1"}
        t = self.tamper
        claims.update(t.get("claims", {}))
        hdr.update(t.get("header", {}))
        signing = (b64u(json.dumps(hdr).encode()) + "." +
                   b64u(json.dumps(claims).encode()))
        if hdr["alg"] == "none":
            return signing + "."
        key = self.other if t.get("other_key") else self.key
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                              str(key)], input=signing.encode(),
                             capture_output=True, check=True).stdout
        return signing + "." + b64u(sig)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("login-oidc")
    op = Provider(base)
    p = Postern(base / "root")
    p.init()
    p.cli("config", "set", "auth.max_failures", "100")
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-3310")
    p.cli("postoffice", "add", "zeta", "--password", "Pm-Secret-3311")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("domain", "add", "zeta.test", "--postoffice", "zeta")
    for ident in ("ann@acme", "cat@zeta"):
        p.cli("mailbox", "add", ident, "--password", PW)
    p.cli("postoffice", "set", "acme", "oauth_enabled=yes",
          f"oauth_issuer={op.issuer}", f"oauth_client_id={CLIENT_ID}",
          f"oauth_client_secret={CLIENT_SECRET}")
    p.start(services=["httpd"])
    yield p, op
    p.stop()
    op.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def get(port, path, cookie=None, src="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=T,
                                   source_address=(src, 0))
    h = {"Host": f"127.0.0.1:{port}"}
    if cookie:
        h["Cookie"] = cookie
    c.request("GET", path, headers=h)
    r = c.getresponse()
    r.text = r.read().decode(errors="replace")
    c.close()
    return r


def cookie_of(r, name):
    for c in r.msg.get_all("Set-Cookie") or []:
        kv = c.split(";")[0]
        if kv.startswith(name + "="):
            return kv, c
    return None, None


def start(p, po="acme"):
    """the start: the provider URL and the state cookie"""
    r = get(p.port("http"), f"/jmap/mail/oidc/start?postoffice={po}")
    assert r.status == 302, (r.status, r.text)
    kv, full = cookie_of(r, "postern_oidc")
    assert kv and "HttpOnly" in full and "SameSite=Lax" in full
    return r.getheader("Location"), kv


def to_callback(loc):
    """the provider's authorize step: the callback path with code, state"""
    u = urllib.parse.urlsplit(loc)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=T)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 302
    cb = urllib.parse.urlsplit(r.getheader("Location"))
    return cb.path + "?" + cb.query


def login(p, op):
    loc, ck = start(p)
    return get(p.port("http"), to_callback(loc), ck)


def test_login_with_the_provider(env):
    p, op = env
    loc, ck = start(p)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    assert loc.startswith(op.issuer + "/authorize?")
    assert q["client_id"] == CLIENT_ID and q["code_challenge_method"] == \
        "S256" and len(q["nonce"]) >= 32 and q["state"] in ck
    assert q["redirect_uri"] == (f"http://127.0.0.1:{p.port('http')}"
                                 "/jmap/mail/oidc/callback")
    before = op.pkce_checked
    r = get(p.port("http"), to_callback(loc), ck)
    assert r.status == 303, r.text
    assert r.getheader("Location") == "/"
    assert op.pkce_checked == before + 1
    sess, full = cookie_of(r, "postern_session")
    assert sess and "HttpOnly" in full
    # the session is ann's: the JMAP session and the login record say so
    s = get(p.port("http"), "/jmap/mail/session", sess)
    assert s.status == 200, s.text
    assert json.loads(s.text)["username"].startswith("ann@acme")
    logins = json.loads(get(p.port("http"), "/jmap/mail/logins",
                            sess).text)["logins"]
    assert any(x["protocol"] == "web" for x in logins), logins
    assert "oidc login ann@acme" in p.log("httpd")
    # the secret never reaches the log
    assert CLIENT_SECRET not in p.log("httpd")


def refused(p, r, text):
    assert r.status == 403, (r.status, r.text)
    assert text in r.text, r.text
    assert cookie_of(r, "postern_session")[0] is None


def test_forged_foreign_and_replayed_state(env):
    p, op = env
    port = p.port("http")
    loc, ck = start(p)
    cb = to_callback(loc)
    # the callback without the browser's cookie (a login started by
    # someone else): refused
    refused(p, get(port, cb), "not this browser")
    # the state altered, the cookie made to match: the MAC fails
    q = dict(urllib.parse.parse_qsl(cb.split("?", 1)[1]))
    st = q["state"]
    forged = st[:-1] + ("0" if st[-1] != "0" else "1")
    path = "/jmap/mail/oidc/callback?" + urllib.parse.urlencode(
        {"code": q["code"], "state": forged})
    refused(p, get(port, path, "postern_oidc=" + forged), "forged")
    # another post office's id in an otherwise well-formed state
    parts = st.split(".")
    parts[0] = str(int(parts[0]) + 1)
    other = ".".join(parts)
    path = "/jmap/mail/oidc/callback?" + urllib.parse.urlencode(
        {"code": q["code"], "state": other})
    refused(p, get(port, path, "postern_oidc=" + other), "forged")
    # the genuine one works once; the same code again is refused by the
    # provider (one use) and so here
    assert get(port, cb, ck).status == 303
    refused(p, get(port, cb, ck), "refused the code")
    # the provider's error answer
    refused(p, get(port, "/jmap/mail/oidc/callback?error=access_denied&"
                   "state=" + urllib.parse.quote(st), ck),
            "did not log you in")


@pytest.mark.parametrize("tamper,why", [
    ({"claims": {"aud": "someone-else"}}, "another audience"),
    ({"claims": {"aud": ["someone-else", CLIENT_ID]}}, "another audience"),
    ({"claims": {"iss": "http://127.0.0.1:1"}}, "another issuer"),
    ({"claims": {"nonce": "not-the-nonce"}}, "nonce"),
    ({"claims": {"exp": int(time.time()) - 3600}}, "expired"),
    ({"claims": {"iat": int(time.time()) + 3600}}, "future"),
    ({"other_key": True}, "signature"),
    ({"header": {"alg": "none"}}, "RS256"),
    ({"header": {"alg": "HS256"}}, "RS256"),
    ({"header": {"kid": "k2"}}, "no usable RSA key"),
    ({"claims": {"email_verified": False}}, "verified"),
    ({"claims": {"email_verified": "true"}}, "verified"),
])
def test_bad_id_tokens_are_refused(env, tamper, why):
    p, op = env
    op.tamper = tamper
    try:
        refused(p, login(p, op), why)
    finally:
        op.tamper = {}
    assert "oidc login from" in p.log("httpd")


def test_addresses_outside_the_post_office(env):
    p, op = env
    try:
        # cat is a mailbox, but of zeta, not of acme's login
        op.user = ("cat@zeta.test", True)
        refused(p, login(p, op), "not a mailbox of this post office")
        op.user = ("nobody@acme.test", True)
        refused(p, login(p, op), "not a mailbox of this post office")
    finally:
        op.user = ("ann@acme.test", True)
    # a disabled mailbox does not log in this way either
    p.cli("mailbox", "set", "ann@acme", "disabled=yes")
    try:
        refused(p, login(p, op), "disabled")
    finally:
        p.cli("mailbox", "set", "ann@acme", "disabled=no")
    assert login(p, op).status == 303


def test_post_office_without_the_login(env):
    p, op = env
    r = get(p.port("http"), "/jmap/mail/oidc/start?postoffice=zeta")
    assert r.status == 403 and "no outside login" in r.text
    r = get(p.port("http"), "/jmap/mail/oidc/start?postoffice=nosuch")
    assert r.status == 403 and "No such post office" in r.text
    r = get(p.port("http"), "/jmap/mail/oidc/start")
    assert r.status == 400
    r = get(p.port("http"), "/jmap/mail/oidc/start?postoffice=%3Cb%3E")
    assert r.status == 403 and "<b>" not in r.text


def test_refused_callbacks_are_throttled(env):
    p, op = env
    port, src = p.port("http"), "127.0.0.19"
    p.cli("config", "set", "auth.max_failures", "3")
    try:
        loc, ck = start(p)
        cb = to_callback(loc)
        st = ck.split("=", 1)[1]
        forged = st[:-1] + ("0" if st[-1] != "0" else "1")
        path = "/jmap/mail/oidc/callback?" + urllib.parse.urlencode(
            {"code": "x", "state": forged})
        for _ in range(3):
            r = get(port, path, "postern_oidc=" + forged, src)
            assert r.status == 403, r.status
        # the address is throttled now: even the genuine callback waits
        r = get(port, cb, ck, src)
        assert r.status == 429, (r.status, r.text)
        # other addresses are not
        assert get(port, cb, ck, "127.0.0.20").status == 303
    finally:
        p.cli("config", "set", "auth.max_failures", "100")


def test_diag_reports_the_setup(env):
    p, op = env
    p.cli("postoffice", "set", "zeta", "oauth_enabled=yes")
    try:
        r = p.cli("--json", "diag", "--no-dns", "--no-network", check=False)
        items = [i for s in json.loads(r.stdout)["sections"]
                 for i in s["items"] if i["check"] == "OpenID Connect login"]
        by_po = {i["value"].split(":", 1)[0]: i for i in items}
        # acme's issuer is plain http (loopback only): a warning
        assert by_po["acme"]["status"] == "warning", items
        # zeta is on but has no issuer or client: an error
        assert by_po["zeta"]["status"] == "error", items
        assert CLIENT_SECRET not in r.stdout
    finally:
        p.cli("postoffice", "set", "zeta", "oauth_enabled=no")


def test_two_factor_mailbox_needs_a_multi_factor_login(env):
    p, op = env
    p.cli("mailbox", "add", "eve@acme", "--password", PW)
    p.cli("mailbox", "set", "eve@acme", "twofactor_mode=always")
    try:
        op.user = ("eve@acme.test", True)
        # the provider's password alone is less than eve's own login
        refused(p, login(p, op), "multi-factor")
        op.tamper = {"claims": {"amr": ["pwd"]}}
        refused(p, login(p, op), "multi-factor")
        # a multi-factor login at the provider will do
        op.tamper = {"claims": {"amr": ["pwd", "otp", "mfa"]}}
        assert login(p, op).status == 303
        # with two-factor off, the provider's login is enough
        op.tamper = {}
        p.cli("mailbox", "set", "eve@acme", "twofactor_mode=never")
        assert login(p, op).status == 303
    finally:
        op.user = ("ann@acme.test", True)
        op.tamper = {}


@pytest.mark.parametrize("meta,why", [
    ({"issuer": "http://127.0.0.1:1"}, "another issuer"),
    ({"token_endpoint": "http://127.example.test/token"}, "not https"),
    ({"jwks_uri": "http://198.51.100.7/jwks"}, "not https"),
    ({"authorization_endpoint": "ftp://127.0.0.1/authorize"}, "not https"),
    ({"token_endpoint": None}, "lacks an endpoint"),
])
def test_bad_discovery_documents(env, meta, why):
    p, op = env
    op.tamper = {"meta": meta}
    try:
        r = get(p.port("http"), "/jmap/mail/oidc/start?postoffice=acme")
        assert r.status == 403 and why in r.text, (r.status, r.text)
        assert cookie_of(r, "postern_oidc")[0] is None
    finally:
        op.tamper = {}


def test_redirect_uri_follows_public_url(env):
    p, op = env
    p.cli("config", "set", "http.public_url", "https://mail.acme.test/")
    try:
        loc, ck = start(p)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
        assert q["redirect_uri"] == \
            "https://mail.acme.test/jmap/mail/oidc/callback"
        # the provider redirects there; the same path here completes it
        # (the token request names the same redirect_uri, or the
        # provider refuses the code)
        r = get(p.port("http"), to_callback(loc), ck)
        assert r.status == 303, r.text
    finally:
        p.cli("config", "unset", "http.public_url")


def test_offer_tells_the_login_page(env):
    """the offer goes by the domain or post office after '@', never by
    the mailbox: a known and an unknown mailbox get the same answer"""
    p, op = env
    port = p.port("http")
    want = {"postoffice": "acme", "provider": op.issuer.split("://")[1]}

    def offer(login):
        r = get(port, "/jmap/mail/oidc/offer?" +
                urllib.parse.urlencode({"login": login}))
        assert r.status == 200, (r.status, r.text)
        assert r.getheader("Content-Type") == "application/json"
        return json.loads(r.text)

    assert offer("ann@acme.test") == want
    assert offer("nobody@ACME.test") == want
    assert offer("ann@acme") == want
    for other in ("cat@zeta.test", "cat@zeta", "x@nosuch.test", "ann",
                  "ann@", "<b>@acme.test.", ""):
        assert offer(other) == {}, other
    assert get(port, "/jmap/mail/oidc/offer").status == 400


@pytest.mark.skipif(not os.access("/usr/bin/chromium", os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_webmail_button_in_chromium(env, tmp_path):
    """the webmail's login page offers "Sign in with <provider>" for
    acme's addresses and not zeta's; the button logs ann in and the page
    shows her mailbox list (tests/browser/webmail-oidc.mjs)"""
    p, op = env
    names = run_browser(p, tmp_path, "webmail-oidc.mjs", "webmail-oidc: ok",
                        USER_LOGIN="ann@acme.test", OTHER="cat@zeta.test",
                        PROVIDER=op.issuer.split("://")[1])
    assert {"webmail-oidc-login.png", "webmail-oidc-mailboxes.png"} <= names
    assert "oidc login ann@acme" in p.log("httpd")
