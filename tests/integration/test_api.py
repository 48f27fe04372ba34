"""The web administration API (src/httpd/jmap.c, api.c, api-admin.c) over
real HTTP with http.client against a real posternd: JMAP request-level
and method-level errors, back-references, login with a session cookie
(flags, expiry, logout, revocation, throttling), CSRF (the header and
Origin), API tokens, roles (an ADMIN of post office alpha cannot read or
change beta), the web admin limits of manual 5.3.6 (max mailboxes,
quota), markup round-tripping as data, paging and sorting on the server,
the settings schema, the audit log, the served page and its CSP."""
import http.client
import json
import sqlite3
import time

import pytest

CORE = "urn:ietf:params:jmap:core"
ADMIN = "urn:postern:admin"
USING = [CORE, ADMIN]
SYS_PW = "Sy-Secret-4821"
ALPHA_PW = "Ap-Secret-9931"
BETA_PW = "Bt-Secret-7714"


class Client:
    """One browser-like client: keeps the session cookie, sends the CSRF
    header unless told not to."""

    def __init__(self, port, csrf=True):
        self.port = port
        self.cookie = None
        self.csrf = csrf
        self.token = None

    def request(self, method, path, body=None, headers=None, raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookie:
            h["Cookie"] = f"postern_session={self.cookie}"
        if self.token:
            h["Authorization"] = f"Bearer {self.token}"
        if self.csrf:
            h["X-Postern-CSRF"] = "1"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read()
        c.close()
        r.text = text
        try:
            r.json = json.loads(text) if text else None
        except ValueError:
            r.json = None
        return r

    def login(self, login, password, expect=200):
        r = self.request("POST", "/api/login", {"login": login,
                                                "password": password})
        assert r.status == expect, (r.status, r.text)
        if r.status == 200:
            sc = r.getheader("Set-Cookie")
            self.cookie = sc.split(";")[0].split("=", 1)[1]
        return r

    def api(self, calls, using=USING, expect=200, headers=None):
        r = self.request("POST", "/jmap/api", {"using": using,
                                               "methodCalls": calls},
                         headers=headers)
        assert r.status == expect, (r.status, r.text)
        return r.json

    def call(self, name, args, **kw):
        """one method call: its [name, result, id]"""
        out = self.api([[name, args, "c0"]], **kw)
        return out["methodResponses"][0]


@pytest.fixture
def web(postern):
    """hq (SYSADMIN root@hq), alpha and beta with their ADMIN postmasters,
    alpha.test and beta.test, USER carol@alpha and dave@beta; httpd only."""
    p = postern
    p.cli("config", "set", "auth.max_failures", "4")
    p.cli("config", "set", "http.max_body", "64K")
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "alpha", "--password", ALPHA_PW)
    p.cli("postoffice", "add", "beta", "--password", BETA_PW)
    p.cli("domain", "add", "alpha.test", "--postoffice", "alpha")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    p.cli("mailbox", "add", "carol@alpha", "--password", "Kx9-Secret-55c")
    p.cli("mailbox", "add", "dave@beta", "--password", "Kx9-Secret-66d")
    p.start(services=["httpd"])
    p.http = p.port("http")
    return p


def sysadmin(web):
    c = Client(web.http)
    c.login("root@hq", SYS_PW)
    return c


def alpha_admin(web):
    c = Client(web.http)
    c.login("postmaster@alpha", ALPHA_PW)
    return c


def db(web):
    return sqlite3.connect(str(web.root / "config/postern.db"))


# ---- the session resource, login, cookies ---------------------------------

def test_session_resource_and_login_cookie(web):
    c = Client(web.http)
    r = c.request("GET", "/.well-known/jmap")
    assert r.status == 302 and r.getheader("Location") == "/jmap/session"
    r = c.request("GET", "/jmap/session")
    assert r.status == 401 and "log in" in r.json["detail"].lower()
    r = c.login("root@hq", SYS_PW)
    sc = r.getheader("Set-Cookie")
    assert "HttpOnly" in sc and "SameSite=Strict" in sc and "Path=/" in sc
    assert "Secure" not in sc            # plain http here; https adds it
    assert len(c.cookie) == 64
    assert r.json == {"login": "root@hq", "role": "SYSADMIN", "postOffice": None}
    # stored hashed, never as the cookie's value
    rows = [x[0] for x in db(web).execute("SELECT hash FROM web_session")]
    assert len(rows) == 1 and rows[0] != c.cookie
    s = c.request("GET", "/jmap/session").json
    assert set(s["capabilities"]) == {CORE, ADMIN}
    assert s["capabilities"][CORE]["maxSizeRequest"] == 64 * 1024
    assert s["apiUrl"] == "/jmap/api" and s["username"] == "root@hq"
    assert s["primaryAccounts"][ADMIN] == "admin"
    a = alpha_admin(web)
    s = a.request("GET", "/jmap/session").json
    assert s["capabilities"][ADMIN]["role"] == "ADMIN"
    assert s["capabilities"][ADMIN]["postOffice"] == "alpha"


def test_login_failures_and_throttle(web):
    c = Client(web.http)
    r = c.login("root@hq", "wrong-password-1", expect=401)
    assert r.json["detail"] == "Wrong login or password."
    # a USER mailbox is refused (it will go to webmail), with a clear reason
    r = c.login("carol@alpha", "Kx9-Secret-55c", expect=403)
    assert "webmail" in r.json["detail"]
    # disabled web admin for the post office refuses its ADMIN
    web.cli("postoffice", "set", "beta", "webadmin_enabled=no")
    r = c.login("postmaster@beta", BETA_PW, expect=403)
    assert "webadmin_enabled" in r.json["detail"]
    r = c.request("POST", "/api/login", raw=b"{\"login\": 1}",
                  headers={"Content-Type": "application/json"})
    assert r.status == 400
    # auth.max_failures = 4 (the right passwords above cleared the count):
    # four failures, then even the right password is refused from this
    # address (throttle.c, shared with the other login services)
    for _ in range(4):
        c.login("root@hq", "wrong-password-2", expect=401)
    r = c.login("root@hq", SYS_PW, expect=429)
    assert r.getheader("Retry-After")
    assert "Too many failed logins" in r.json["detail"]
    assert "login root@hq failed" in web.log("httpd")
    assert "wrong-password" not in web.log("httpd")


def test_logout_expiry_and_revocation(web):
    c = sysadmin(web)
    c2 = sysadmin(web)
    sessions = c.call("Session/get", {})[1]["list"]
    assert len(sessions) == 2
    mine = [s for s in sessions if s["current"]]
    other = [s for s in sessions if not s["current"]]
    assert len(mine) == 1 and len(other) == 1
    # revoke the other session: its cookie stops working at once
    r = c.call("Session/set", {"destroy": [other[0]["id"]]})
    assert r[1]["destroyed"] == [other[0]["id"]]
    r = c2.request("GET", "/jmap/session")
    assert r.status == 401 and "expired" in r.json["detail"]
    # someone else's session is not ours to end
    a = alpha_admin(web)
    aid = a.call("Session/get", {})[1]["list"][0]["id"]
    r = c.call("Session/set", {"destroy": [aid]})
    assert aid in r[1]["notDestroyed"]
    # idle expiry: a session unused for http.session_idle is gone
    con = db(web)
    con.execute("UPDATE web_session SET last_seen = last_seen - 3600")
    con.commit()
    r = c.request("GET", "/jmap/session")
    assert r.status == 401 and "expired" in r.json["detail"]
    # absolute expiry, even when used
    c = sysadmin(web)
    con.execute("UPDATE web_session SET created = created - 50000")
    con.commit()
    assert c.request("GET", "/jmap/session").status == 401
    # logout ends the session and clears the cookie
    c = sysadmin(web)
    r = c.request("POST", "/api/logout")
    assert r.status == 200 and "Max-Age=0" in r.getheader("Set-Cookie")
    assert c.request("GET", "/jmap/session").status == 401


def test_password_change_ends_web_sessions(web):
    """a new password (CLI or API) ends every web session of that mailbox
    at once; other mailboxes' sessions and the mailbox's API tokens stay"""
    c = alpha_admin(web)
    other = sysadmin(web)
    tok = c.call("ApiToken/set", {"create": {"t": {"name": "script"}}})[1]
    token = tok["created"]["t"]["token"]
    web.cli("mailbox", "passwd", "postmaster@alpha", "--password",
            "Ap-Newer-Secret-5512")
    r = c.request("GET", "/jmap/session")
    assert r.status == 401 and "expired" in r.json["detail"]
    assert other.request("GET", "/jmap/session").status == 200
    t = Client(web.http)
    t.token = token
    assert t.request("GET", "/jmap/session").status == 200
    # the old password no longer logs in, the new one does
    Client(web.http).login("postmaster@alpha", ALPHA_PW, expect=401)
    Client(web.http).login("postmaster@alpha", "Ap-Newer-Secret-5512")


def test_admin_may_not_point_a_domain_at_a_smart_host(web):
    """with webadmin_edit_domains an ADMIN adds and edits its domains, but a
    smart host (the server connects wherever it points) is the SYSADMIN's"""
    web.cli("postoffice", "set", "alpha", "webadmin_edit_domains=yes")
    a = alpha_admin(web)
    out = a.api([
        ["Domain/set", {"create": {"d": {"name": "side.test",
                                         "smarthost": "10.0.0.1:6379"}}}, "a"],
        ["Domain/set", {"update": {"alpha.test": {
            "smarthost": "127.0.0.1:22"}}}, "b"],
        ["Domain/set", {"update": {"alpha.test": {
            "dkim_enabled": True}}}, "c"],
    ])
    r = {x[2]: x[1] for x in out["methodResponses"]}
    assert r["a"]["notCreated"]["d"]["type"] == "forbidden"
    assert r["a"]["notCreated"]["d"]["properties"] == ["smarthost"]
    assert r["b"]["notUpdated"]["alpha.test"]["type"] == "forbidden"
    assert r["c"]["updated"] == {"alpha.test": None}
    con = db(web)
    assert con.execute("SELECT count(*) FROM domain WHERE name = 'side.test'"
                       ).fetchone()[0] == 0
    # the SYSADMIN may
    r = sysadmin(web).call("Domain/set", {"update": {"alpha.test": {
        "smarthost": "relay.alpha.test:25"}}})
    assert r[1]["updated"] == {"alpha.test": None}


def test_csrf_refused(web):
    c = sysadmin(web)
    create = [["Mailbox/set", {"create": {"m": {
        "name": "forged", "postOffice": "alpha",
        "password": "Qz-Secret-1fg"}}}, "c0"]]
    body = {"using": USING, "methodCalls": create}
    # no X-Postern-CSRF: what a cross-site form or simple fetch sends
    c.csrf = False
    r = c.request("POST", "/jmap/api", body)
    assert r.status == 403 and "X-Postern-CSRF" in r.json["detail"]
    # the header but another site's Origin
    c.csrf = True
    r = c.request("POST", "/jmap/api", body,
                  headers={"Origin": "https://evil.example"})
    assert r.status == 403 and "another site" in r.json["detail"]
    # a form content type is refused too
    r = c.request("POST", "/jmap/api", raw=json.dumps(body).encode(),
                  headers={"Content-Type": "text/plain"})
    assert r.status == 400
    names = [x[0] for x in db(web).execute("SELECT name FROM mailbox")]
    assert "forged" not in names
    # login CSRF: a forged login form is refused as well
    c2 = Client(web.http, csrf=False)
    r = c2.request("POST", "/api/login", {"login": "root@hq",
                                          "password": SYS_PW})
    assert r.status == 403
    # the same request from our own origin works
    r = c.request("POST", "/jmap/api", body,
                  headers={"Origin": f"http://127.0.0.1:{web.http}"})
    assert r.status == 200
    assert "m" in r.json["methodResponses"][0][1]["created"]


# ---- JMAP errors -------------------------------------------------------------

def test_request_level_errors(web):
    c = sysadmin(web)
    r = c.request("POST", "/jmap/api", raw=b'{"using": [',
                  headers={"Content-Type": "application/json"})
    assert r.status == 400
    assert r.json["type"] == "urn:ietf:params:jmap:error:notJSON"
    assert r.getheader("Content-Type") == "application/problem+json"
    r = c.request("POST", "/jmap/api", {"using": USING})
    assert r.json["type"].endswith(":notRequest")
    r = c.request("POST", "/jmap/api", {"using": ["urn:nope"],
                                        "methodCalls": []})
    assert r.json["type"].endswith(":unknownCapability")
    assert "urn:nope" in r.json["detail"]
    calls = [["Core/echo", {}, str(i)] for i in range(17)]
    r = c.request("POST", "/jmap/api", {"using": USING, "methodCalls": calls})
    assert r.json["type"].endswith(":limit")
    assert r.json["limit"] == "maxCallsInRequest"
    # a body over http.max_body never reaches the API
    r = c.request("POST", "/jmap/api", raw=b"x" * (70 * 1024),
                  headers={"Content-Type": "application/json"})
    assert r.status == 413
    # no credentials at all
    r = Client(web.http).request("POST", "/jmap/api", {"using": USING,
                                                       "methodCalls": []})
    assert r.status == 401


def test_method_level_errors_and_back_references(web):
    c = sysadmin(web)
    out = c.api([
        ["Nope/get", {}, "a"],
        ["Mailbox/query", {"position": "x"}, "b"],
        ["Mailbox/query", {"sort": [{"property": "colour"}]}, "c"],
        ["Mailbox/query", {"filter": {"shoe": 1}}, "d"],
        ["Mailbox/get", {"accountId": "other"}, "e"],
        ["Mailbox/get", {"#ids": {"resultOf": "zz", "name": "Mailbox/query",
                                  "path": "/ids"}}, "f"],
        ["Core/echo", {"hello": "<b>"}, "g"],
        ["Mailbox/query", {"filter": {"postOffice": "alpha"}}, "h"],
        ["Mailbox/get", {"#ids": {"resultOf": "h", "name": "Mailbox/query",
                                  "path": "/ids"},
                         "properties": ["name", "type"]}, "i"],
    ])
    resp = {x[2]: x for x in out["methodResponses"]}
    assert resp["a"][0] == "error" and resp["a"][1]["type"] == "unknownMethod"
    assert resp["b"][1]["type"] == "invalidArguments"
    assert resp["b"][1]["properties"] == ["position"]
    assert resp["c"][1]["type"] == "unsupportedSort"
    assert "name" in resp["c"][1]["description"]
    assert resp["d"][1]["type"] == "unsupportedFilter"
    assert resp["e"][1]["type"] == "accountNotFound"
    assert resp["f"][1]["type"] == "invalidResultReference"
    assert resp["g"] == ["Core/echo", {"hello": "<b>"}, "g"]
    got = {m["id"]: m for m in resp["i"][1]["list"]}
    assert set(got) == {"postmaster@alpha", "carol@alpha"}
    assert got["carol@alpha"] == {"id": "carol@alpha", "name": "carol",
                                  "type": "USER"}
    # a method of a capability not in "using"
    r = c.call("Mailbox/get", {}, using=[CORE])
    assert r[0] == "error" and r[1]["type"] == "unknownMethod"
    # an ADMIN may not read the global settings
    a = alpha_admin(web)
    r = a.call("Setting/get", {"ids": ["http.max_body"]})
    assert r[0] == "error" and r[1]["type"] == "forbidden"


# ---- roles and the web admin limits (manual 5.3.6) ----------------------------

def test_admin_confined_to_its_post_office(web):
    a = alpha_admin(web)
    out = a.api([
        ["Mailbox/get", {"ids": ["dave@beta", "postmaster@beta",
                                 "carol@alpha"]}, "a"],
        ["Mailbox/query", {}, "b"],
        ["Mailbox/query", {"filter": {"postOffice": "beta"}}, "c"],
        ["PostOffice/get", {"ids": ["beta", "alpha"]}, "d"],
        ["PostOffice/query", {"calculateTotal": True}, "e"],
        ["Domain/get", {"ids": ["beta.test"]}, "f"],
        ["Domain/query", {}, "g"],
        ["Mailbox/set", {"update": {"dave@beta": {"disabled": True}},
                         "destroy": ["postmaster@beta"],
                         "create": {"x": {"name": "intruder",
                                          "postOffice": "beta",
                                          "password": "intr-Secret-12"}}},
         "h"],
        ["PostOffice/set", {"update": {"alpha": {
            "webadmin_max_mailboxes": 0}}}, "i"],
        ["Domain/set", {"create": {"d": {"name": "new.test"}}}, "j"],
    ])
    r = {x[2]: x[1] for x in out["methodResponses"]}
    assert r["a"]["notFound"] == ["dave@beta", "postmaster@beta"]
    assert [m["id"] for m in r["a"]["list"]] == ["carol@alpha"]
    assert sorted(r["b"]["ids"]) == ["carol@alpha", "postmaster@alpha"]
    assert r["c"]["type"] == "invalidArguments"
    assert r["d"]["notFound"] == ["beta"]
    assert r["e"]["ids"] == ["alpha"] and r["e"]["total"] == 1
    assert r["f"]["notFound"] == ["beta.test"]
    assert r["g"]["ids"] == ["alpha.test"]
    assert r["h"]["notUpdated"]["dave@beta"]["type"] == "notFound"
    assert r["h"]["notDestroyed"]["postmaster@beta"]["type"] == "notFound"
    assert r["h"]["notCreated"]["x"]["properties"] == ["postOffice"]
    # the limits are the SYSADMIN's to set; domains need webadmin_edit_domains
    assert r["i"]["notUpdated"]["alpha"]["type"] == "forbidden"
    assert r["j"]["notCreated"]["d"]["type"] == "forbidden"
    assert "webadmin_edit_domains" in r["j"]["notCreated"]["d"]["description"]
    con = db(web)
    assert con.execute("SELECT disabled FROM mailbox WHERE name = 'dave'"
                       ).fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM mailbox WHERE name IN "
                       "('intruder', 'postmaster')").fetchone()[0] == 3
    # a token of alpha cannot reach beta either
    tok = a.call("ApiToken/set", {"create": {"t": {"name": "script"}}}
                 )[1]["created"]["t"]["token"]
    t = Client(web.http, csrf=False)
    t.token = tok
    r = t.call("Mailbox/get", {"ids": ["dave@beta"]})
    assert r[1]["notFound"] == ["dave@beta"]


def test_webadmin_max_mailboxes_refuses_clearly(web):
    s = sysadmin(web)
    r = s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_max_mailboxes": 4}}})
    assert r[1]["updated"] == {"alpha": None}
    a = alpha_admin(web)
    made = []
    for i in range(5):
        r = a.call("Mailbox/set", {"create": {"n": {
            "name": f"user{i}", "password": f"Pw-{i}-long-enough"}}})
        if "n" in r[1]["created"]:
            made.append(i)
        else:
            err = r[1]["notCreated"]["n"]
            break
    # postmaster and carol are there: two more fit
    assert made == [0, 1]
    assert err["type"] == "overQuota"
    assert "at most 4 mailboxes" in err["description"]
    assert "webadmin_max_mailboxes" in err["description"]
    assert "user2" in err["description"]
    n = db(web).execute("SELECT count(*) FROM mailbox m JOIN postoffice p "
                        "ON p.id = m.postoffice_id WHERE p.name = 'alpha'"
                        ).fetchone()[0]
    assert n == 4
    # the SYSADMIN is not held to the web admin limits
    r = s.call("Mailbox/set", {"create": {"n": {
        "name": "extra", "postOffice": "alpha",
        "password": "Qz-Secret-99x"}}})
    assert "n" in r[1]["created"]


def test_webadmin_quota_and_edit_limits(web):
    s = sysadmin(web)
    s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_default_mailbox_size_kb": 10240,
        "webadmin_max_mailbox_size_kb": 20480}}})
    a = alpha_admin(web)
    r = a.call("Mailbox/set", {"create": {
        "big": {"name": "big", "password": "Qz-Secret-123b",
                "quota_kb": 30000},
        "unl": {"name": "unl", "password": "Qz-Secret-123u", "quota_kb": 0},
        "ok": {"name": "okq", "password": "Qz-Secret-123o", "quota_kb": 5000},
        "def": {"name": "defq", "password": "def-Secret-123"}}})[1]
    assert r["notCreated"]["big"]["properties"] == ["quota_kb"]
    assert "at most 10240 KB" in r["notCreated"]["big"]["description"]
    assert r["notCreated"]["unl"]["type"] == "invalidProperties"
    assert set(r["created"]) == {"ok", "def"}
    got = a.call("Mailbox/get", {"ids": ["okq@alpha", "defq@alpha"],
                                 "properties": ["quota_kb"]})[1]["list"]
    assert {m["id"]: m["quota_kb"] for m in got} == {"okq@alpha": 5000,
                                                      "defq@alpha": 10240}
    # no choosing at all when webadmin_select_size is off
    s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_select_size": False}}})
    r = a.call("Mailbox/set", {"update": {"okq@alpha": {"quota_kb": 100}}})
    assert r[1]["notUpdated"]["okq@alpha"]["type"] == "forbidden"
    # no creating or editing when webadmin_edit_mailboxes is off
    s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_edit_mailboxes": False}}})
    r = a.call("Mailbox/set", {"update": {"okq@alpha": {"disabled": True}},
                               "destroy": ["okq@alpha"]})[1]
    assert r["notUpdated"]["okq@alpha"]["type"] == "forbidden"
    assert r["notDestroyed"]["okq@alpha"]["type"] == "forbidden"
    # an ADMIN never makes a SYSADMIN
    s.call("PostOffice/set", {"update": {"alpha": {
        "webadmin_edit_mailboxes": True}}})
    r = a.call("Mailbox/set", {"update": {"okq@alpha": {"type": "SYSADMIN"}}})
    assert r[1]["notUpdated"]["okq@alpha"]["properties"] == ["type"]
    # nor a delivery event (a program the server runs)
    r = a.call("Mailbox/set", {"update": {"okq@alpha": {
        "delivery_event_program": "/bin/sh -c id"}}, "create": {"e": {
            "name": "ev", "password": "Qz-Secret-12345",
            "delivery_event_enabled": True}}})[1]
    assert r["notUpdated"]["okq@alpha"]["properties"] == \
        ["delivery_event_program"]
    assert r["notCreated"]["e"]["properties"] == ["delivery_event_enabled"]
    assert db(web).execute("SELECT delivery_event_program FROM mailbox WHERE "
                           "name = 'okq'").fetchone()[0] == ""


# ---- objects, validation, markup --------------------------------------------

def test_lifecycle_of_every_object(web):
    s = sysadmin(web)
    out = s.api([
        ["PostOffice/set", {"create": {"p": {
            "name": "gamma", "password": "Gm-Secret-3100",
            "footer_text": "hi"}}}, "a"],
        ["Domain/set", {"create": {"d": {"name": "gamma.test",
                                         "postOffice": "gamma"}}}, "b"],
        ["Mailbox/set", {"create": {"m": {
            "name": "erin", "postOffice": "gamma",
            "password": "Qz-Secret-77e", "quota_kb": 2048,
            "friendly_name": "Erin"}}}, "c"],
        ["Mailbox/get", {"ids": ["erin@gamma"]}, "d"],
        ["Domain/get", {"ids": ["gamma.test"]}, "e"],
        ["PostOffice/get", {"ids": ["gamma"],
                            "properties": ["name", "mailboxCount",
                                           "footer_text",
                                           "smarthost_password"]}, "f"],
    ])
    r = {x[2]: x[1] for x in out["methodResponses"]}
    assert r["a"]["created"]["p"]["id"] == "gamma"
    assert r["b"]["created"]["d"]["id"] == "gamma.test"
    assert r["c"]["created"]["m"]["id"] == "erin@gamma"
    m = r["d"]["list"][0]
    assert m["quota_kb"] == 2048 and m["friendly_name"] == "Erin"
    assert m["addresses"] == ["erin@gamma.test"] and m["disabled"] is False
    assert "password_hash" not in m and "password" not in m
    assert r["e"]["list"][0]["postOffice"] == "gamma"
    po = r["f"]["list"][0]
    assert po == {"id": "gamma", "name": "gamma", "mailboxCount": 2,
                  "footer_text": "hi", "smarthost_password": False}
    # the new mailbox logs in over IMAP-independent code: dir_authenticate
    out = s.api([
        ["Mailbox/set", {"update": {"erin@gamma": {
            "disabled": True, "password": "Qz-New-Secret-8"}}}, "a"],
        ["Mailbox/set", {"update": {"erin@gamma": {"quota_kb": "lots"}}}, "b"],
        ["Mailbox/set", {"update": {"erin@gamma": {"colour": "red"}}}, "c"],
        ["Domain/set", {"update": {"gamma.test": {
            "postmaster_address": "no-such-mailbox"}}}, "d"],
        ["PostOffice/set", {"update": {"gamma": {"usage_notify": True}}}, "e"],
    ])
    r = {x[2]: x[1] for x in out["methodResponses"]}
    assert r["a"]["updated"] == {"erin@gamma": None}
    assert r["b"]["notUpdated"]["erin@gamma"]["properties"] == ["quota_kb"]
    assert r["c"]["notUpdated"]["erin@gamma"]["properties"] == ["colour"]
    assert r["d"]["notUpdated"]["gamma.test"]["properties"] == \
        ["postmaster_address"]
    assert r["e"]["updated"] == {"gamma": None}
    con = db(web)
    row = con.execute("SELECT disabled, quota_kb FROM mailbox WHERE name = "
                      "'erin'").fetchone()
    assert row == (1, 2048)         # the failed update left nothing half-done
    out = s.api([
        ["Mailbox/set", {"destroy": ["erin@gamma", "root@hq"]}, "a"],
        ["Domain/set", {"destroy": ["gamma.test"]}, "b"],
        ["PostOffice/set", {"destroy": ["gamma", "hq"]}, "c"],
    ])
    r = {x[2]: x[1] for x in out["methodResponses"]}
    assert r["a"]["destroyed"] == ["erin@gamma"]
    assert r["a"]["notDestroyed"]["root@hq"]["type"] == "forbidden"
    assert r["b"]["destroyed"] == ["gamma.test"]
    assert r["c"]["destroyed"] == ["gamma"]
    assert r["c"]["notDestroyed"]["hq"]["type"] == "forbidden"
    assert con.execute("SELECT count(*) FROM postoffice WHERE name = 'gamma'"
                       ).fetchone()[0] == 0
    log = web.log("httpd")
    assert "audit 127.0.0.1 root@hq: Mailbox/set create erin@gamma" in log
    assert "password=***" in log and "Qz-New-Secret" not in log
    assert "audit 127.0.0.1 root@hq: PostOffice/set destroy gamma" in log


def test_password_policy_of_lib_admin_applies(web):
    """the API calls the CLI's lib-admin functions, so their password
    policy (adm_password_check) holds here too, naming the field"""
    # conftest relaxes the policy for the suite's old passwords: restore it
    web.cli("config", "set", "password.min_length", "10")
    web.cli("config", "set", "password.reject_names", "yes")
    s = sysadmin(web)
    r = s.call("Mailbox/set", {
        "create": {"m": {"name": "frank", "postOffice": "alpha",
                         "password": "frank-is-my-password"},
                   "n": {"name": "gina", "postOffice": "alpha",
                         "password": "short"}},
        "update": {"carol@alpha": {"password": "my-carol-password"}}})[1]
    assert set(r["notCreated"]) == {"m", "n"}, r
    for e in (r["notCreated"]["m"], r["notCreated"]["n"],
              r["notUpdated"]["carol@alpha"]):
        assert e["type"] == "invalidProperties", e
        assert e["properties"] == ["password"], e
    assert "contains the mailbox name" in r["notCreated"]["m"]["description"]
    assert "too short" in r["notCreated"]["n"]["description"]
    names = [x[0] for x in db(web).execute("SELECT name FROM mailbox")]
    assert "frank" not in names and "gina" not in names


def test_markup_round_trips_as_data(web):
    s = sysadmin(web)
    evil = "<script>alert(1)</script> & \"q\""
    r = s.call("Mailbox/set", {"create": {"m": {
        "name": "mallory", "postOffice": "alpha",
        "password": "mall-Secret-123", "friendly_name": evil}}})
    assert "m" in r[1]["created"]
    raw = s.request("POST", "/jmap/api", {"using": USING, "methodCalls": [
        ["Mailbox/get", {"ids": ["mallory@alpha"],
                         "properties": ["friendly_name"]}, "0"]]})
    assert raw.getheader("Content-Type") == "application/json"
    assert raw.getheader("X-Content-Type-Options") == "nosniff"
    assert raw.json["methodResponses"][0][1]["list"][0]["friendly_name"] == evil
    # a name with markup is not a mailbox name: refused, naming the field
    r = s.call("Mailbox/set", {"create": {"m": {
        "name": "<script>", "postOffice": "alpha",
        "password": "mall-Secret-123"}}})
    e = r[1]["notCreated"]["m"]
    assert e["type"] == "invalidProperties" and e["properties"] == ["name"]
    r = s.call("Mailbox/query", {"filter": {"text": "<script>"}})
    assert r[1]["ids"] == ["mallory@alpha"]


def test_query_paged_and_sorted_on_the_server(web):
    s = sysadmin(web)
    creates = {f"m{i}": {"name": f"pg{i:02d}", "postOffice": "beta",
                         "password": f"Pg-{i}-Secret-x", "quota_kb": 1000 + i}
               for i in range(23)}
    r = s.call("Mailbox/set", {"create": creates})
    assert len(r[1]["created"]) == 23, r[1]["notCreated"]
    q = {"filter": {"postOffice": "beta", "text": "pg"}, "limit": 10,
         "calculateTotal": True}
    # RFC 8620 5.5: no total unless asked for
    r = s.call("Mailbox/query", {"filter": {"postOffice": "beta"}})[1]
    assert "total" not in r and len(r["ids"]) == 25   # 23, dave, postmaster
    r = s.call("PostOffice/query", {})[1]
    assert "total" not in r
    r = s.call("Mailbox/query", dict(q, position=20))[1]
    assert r["total"] == 23 and r["position"] == 20
    assert r["ids"] == ["pg20@beta", "pg21@beta", "pg22@beta"]
    r = s.call("Mailbox/query", dict(q, sort=[{"property": "quota_kb",
                                               "isAscending": False}]))[1]
    assert r["ids"][:2] == ["pg22@beta", "pg21@beta"] and len(r["ids"]) == 10
    r = s.call("Mailbox/query", dict(q, position=-2))[1]
    assert r["position"] == 21 and r["ids"] == ["pg21@beta", "pg22@beta"]
    # a page past the end is an error naming position and the total
    r = s.call("Mailbox/query", dict(q, position=500))
    assert r[0] == "error" and r[1]["properties"] == ["position"]
    assert "there are 23" in r[1]["description"]
    # keyset paging: the page after an id, with its position
    r = s.call("Mailbox/query", dict(q, anchor="pg09@beta", anchorOffset=1))[1]
    assert r["ids"] == [f"pg{i:02d}@beta" for i in range(10, 20)]
    assert r["position"] == 10 and r["total"] == 23
    r = s.call("Mailbox/query", dict(q, anchor="pg21@beta"))[1]
    assert r["ids"] == ["pg21@beta", "pg22@beta"] and r["position"] == 21
    r = s.call("Mailbox/query", dict(q, anchor="carol@alpha"))
    assert r[0] == "error" and r[1]["type"] == "anchorNotFound"
    r = s.call("Mailbox/query", dict(q, anchor="pg01@beta", sort=[
        {"property": "quota_kb"}]))
    assert r[0] == "error" and r[1]["properties"] == ["anchor"]
    r = s.call("Mailbox/query", dict(q, anchor="pg01@beta", anchorOffset=-1))
    assert r[0] == "error" and r[1]["properties"] == ["anchorOffset"]
    r = s.call("Domain/query", {"anchor": "beta.test"})
    assert r[0] == "error" and r[1]["properties"] == ["anchor"]
    # calculateTotal false: no count, the same page
    r = s.call("Mailbox/query", dict(q, position=20, calculateTotal=False))[1]
    assert "total" not in r and r["ids"] == ["pg20@beta", "pg21@beta", "pg22@beta"]
    r = s.call("Mailbox/query", dict(q, anchor="pg09@beta", anchorOffset=1,
                                     calculateTotal=False))[1]
    assert "total" not in r and r["position"] == 10 and len(r["ids"]) == 10
    r = s.call("Mailbox/query", dict(q, calculateTotal="yes"))
    assert r[0] == "error" and r[1]["properties"] == ["calculateTotal"]
    r = s.call("Mailbox/query", dict(q, limit=-1))
    assert r[0] == "error" and r[1]["properties"] == ["limit"]
    # a LIKE wildcard is searched for literally
    r = s.call("Mailbox/query", {"filter": {"text": "%"}, "calculateTotal": True})[1]
    assert r["ids"] == [] and r["total"] == 0
    # too many objects for one /set
    big = {f"x{i}": {} for i in range(501)}
    r = s.call("Mailbox/set", {"create": big})
    assert r[0] == "error" and r[1]["type"] == "requestTooLarge"


def test_settings_schema_status_and_tokens(web):
    s = sysadmin(web)
    r = s.call("Setting/get", {"ids": ["http.max_body", "log.level",
                                       "smarthost.password", "nope"]})[1]
    got = {x["id"]: x for x in r["list"]}
    assert r["notFound"] == ["nope"]
    mb = got["http.max_body"]
    assert mb["type"] == "size" and mb["unit"] == "KB"
    assert mb["value"] == 64 and mb["default"] == 1024 and mb["isSet"]
    assert mb["min"] == 1 and "413" in mb["help"]
    assert got["log.level"]["choices"] == ["error", "warning", "info", "debug"]
    assert got["smarthost.password"]["secret"] is True
    assert got["smarthost.password"]["value"] is False     # never the value
    allsettings = s.call("Setting/get", {})[1]["list"]
    assert len(allsettings) > 50
    r = s.call("Setting/set", {"update": {
        "http.max_body": {"value": 128},
        "auth.max_failures": {"value": 0}}})[1]
    assert r["notUpdated"]["auth.max_failures"]["properties"] == ["value"]
    assert r["updated"] == {}      # all or nothing
    assert web.cli("config", "get", "http.max_body").stdout.strip() in \
        ("64K", "64 KB", "65536", "64")
    r = s.call("Setting/set", {"update": {"http.max_body": {"value": 128}}})
    assert r[1]["updated"] == {"http.max_body": None}
    # takes effect for the running service's next connection (read at start
    # of httpd today: shown by the session resource, read per request)
    s2 = s.request("GET", "/jmap/session").json
    assert s2["capabilities"][CORE]["maxSizeRequest"] == 128 * 1024
    st = s.call("Status/get", {})[1]["list"][0]
    assert st["running"] is True, st
    assert any(x["name"] == "httpd" and x["state"] == "running"
               for x in st["services"])
    # API tokens: shown once, stored hashed, listed, revoked
    r = s.call("ApiToken/set", {"create": {"t": {"name": "backup",
                                                 "postOffice": "beta"}}})[1]
    tok = r["created"]["t"]["token"]
    tid = r["created"]["t"]["id"]
    assert tok.startswith("pt_") and len(tok) == 46
    hashes = [x[0] for x in db(web).execute("SELECT hash FROM api_token")]
    assert tok not in hashes
    lst = s.call("ApiToken/get", {})[1]["list"]
    assert lst[0]["name"] == "backup" and lst[0]["postOffice"] == "beta"
    t = Client(web.http, csrf=False)
    t.token = tok
    r = t.call("Mailbox/query", {})[1]
    assert all(i.endswith("@beta") for i in r["ids"])
    assert t.call("Setting/get", {})[1]["type"] == "forbidden"
    r = s.call("ApiToken/set", {"destroy": [tid]})[1]
    assert r["destroyed"] == [tid]
    r = t.request("POST", "/jmap/api", {"using": USING, "methodCalls": []})
    assert r.status == 401 and "revoked" in r.json["detail"]
    t.token = "pt_" + "A" * 43
    assert t.request("GET", "/jmap/session").status == 401


def test_admin_page_served_with_strict_csp(web):
    c = Client(web.http)
    r = c.request("GET", "/admin")
    assert r.status == 302 and r.getheader("Location") == "/admin/"
    r = c.request("GET", "/admin/")
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/html; charset=utf-8"
    csp = r.getheader("Content-Security-Policy")
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert b"<script" in r.text and b"<script>" not in r.text  # no inline
    r = c.request("GET", "/admin/vendor/preact.js")
    assert r.status == 200
    assert r.getheader("Content-Type").startswith("text/javascript")
    for bad in ("/admin/../config/postern.db", "/admin/.hidden",
                "/admin/vendor/../../x.js", "/admin/x.exe"):
        assert c.request("GET", bad).status == 404, bad


def test_token_cli(web):
    out = web.cli("token", "add", "postmaster@alpha", "--name", "cron",
                  json_out=True)
    tok = out["token"]
    t = Client(web.http, csrf=False)
    t.token = tok
    r = t.call("Mailbox/query", {})[1]
    assert sorted(r["ids"]) == ["carol@alpha", "postmaster@alpha"]
    # an ADMIN's token stays in its post office; a USER gets none
    r = web.cli("token", "add", "postmaster@alpha", "--postoffice", "beta",
                check=False)
    assert r.returncode != 0 and "scoped to alpha" in r.stderr
    r = web.cli("token", "add", "carol@alpha", check=False)
    assert r.returncode != 0 and "ADMIN and SYSADMIN" in r.stderr
    r = web.cli("token", "add", "root@hq", "--expires", "2001-01-01",
                check=False)
    assert r.returncode == 2 and "in the past" in r.stderr
    lst = web.cli("token", "list", json_out=True)
    assert [x["name"] for x in lst] == ["cron"]
    assert lst[0]["mailbox"] == "postmaster@alpha"
    assert lst[0]["postoffice"] == "alpha"
    web.cli("token", "del", str(out["id"]))
    r = t.request("GET", "/jmap/session")
    assert r.status == 401
    r = web.cli("token", "del", str(out["id"]), check=False)
    assert r.returncode != 0 and "no token" in r.stderr


def test_https_cookie_secure_and_pipelining_in_order(web):
    import socket
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection("127.0.0.1", web.port("https"),
                                    timeout=30, context=ctx)
    c.request("POST", "/api/login", json.dumps(
        {"login": "root@hq", "password": SYS_PW}),
        {"Content-Type": "application/json", "X-Postern-CSRF": "1"})
    r = c.getresponse()
    r.read()
    assert r.status == 200
    sc = r.getheader("Set-Cookie")
    assert "; Secure" in sc and "HttpOnly" in sc
    c.close()
    # a deferred answer (the API runs on a worker thread) and a direct one
    # pipelined on one connection come back in order
    body = json.dumps({"using": USING, "methodCalls": [
        ["Core/echo", {"n": 1}, "a"]]}).encode()
    s = Client(web.http)
    s.login("root@hq", SYS_PW)
    req = (b"POST /jmap/api HTTP/1.1\r\nHost: x\r\nCookie: postern_session=" +
           s.cookie.encode() + b"\r\nX-Postern-CSRF: 1\r\nContent-Type: "
           b"application/json\r\nContent-Length: " + str(len(body)).encode() +
           b"\r\n\r\n" + body +
           b"GET /admin/favicon.svg HTTP/1.1\r\nHost: x\r\nConnection: close"
           b"\r\n\r\n")
    sock = socket.create_connection(("127.0.0.1", web.http), timeout=30)
    sock.sendall(req)
    data = b""
    deadline = time.time() + 30
    while time.time() < deadline:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    sock.close()
    first = data.find(b"methodResponses")
    second = data.find(b"<svg")
    assert 0 < first < second, data[:400]
    assert data.count(b"HTTP/1.1 200") == 2
