"""The webmail's settings over real HTTP (urllib) against a real posternd:
the vendor methods of urn:postern:settings (src/httpd/jmap-settings.c:
Password/change, AppPassword/get|set, TwoFactor/get|set, LoginRecord/get)
and Identity/get|set with stored signatures (jmap-identity.c), each with
its bad cases; another account's objects are never reachable. A filter
made by the rules editor's own code (web/mail/settings-sieve.js, run
under node) is stored through SieveScript/set and really files a message
delivered by SMTP into its folder (seen over IMAP); an app password made
here logs in over IMAP until it is revoked. The auto responder's HTML
form and date window, and the Sieve extension vnd.postern.noautoreply
the editor writes, on mail delivered by SMTP. The pages themselves in a
browser: test_webmail_settings_browser.py. One server for the module."""
import base64
import hashlib
import hmac
import json
import shutil
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import ROOT, Postern
from wmset_util import imap_fetch, imap_ok, smtp_send, wait_for

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
SUBMISSION = "urn:ietf:params:jmap:submission"
SIEVE = "urn:ietf:params:jmap:sieve"
SETTINGS = "urn:postern:settings"
USING = [CORE, MAIL, SUBMISSION, SIEVE, SETTINGS]
PW = {"alice": "Al1ce-Secret-9931", "bob": "B0b-Secret-7723",
      "carol": "Car0l-Secret-4411", "dave": "Dav3-Secret-6620",
      "mallory": "Mall0ry-Secret-1187", "frank": "Fr4nk-Secret-3319"}
SIEVE_JS = ROOT / "web" / "mail" / "settings-sieve.js"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("wmset") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("postoffice", "add", "evil", "--password", "Ev-Secret-3310")
    p.cli("domain", "add", "evil.test", "--postoffice", "evil")
    for name in ("alice", "bob", "carol", "dave", "frank"):
        p.cli("mailbox", "add", f"{name}@acme", "--password", PW[name])
    p.cli("mailbox", "add", "mallory@evil", "--password", PW["mallory"])
    # the policy of acme: 12 characters, no names in passwords
    p.cli("postoffice", "set", "acme", "password_min_length=12")
    p.cli("postoffice", "set", "acme", "password_reject_names=yes")
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


class Web:
    """The webmail's side of the API: the session cookie of a login and
    the CSRF header, over urllib."""

    def __init__(self, port, login=None, pw=None, basic=None):
        self.base = f"http://127.0.0.1:{port}"
        self.cookie = None
        self.basic = basic
        self.account = None
        if login is not None:
            st, body, hdrs = self.request("POST", "/jmap/mail/login",
                                          {"login": login, "password": pw})
            assert st == 200, body
            self.cookie = hdrs["Set-Cookie"].split(";")[0].split("=", 1)[1]
        if login is not None or basic is not None:
            st, body, _ = self.request("GET", "/jmap/mail/session")
            assert st == 200, body
            self.session = body
            self.account = body["primaryAccounts"][MAIL]

    def request(self, method, path, body=None, raw=None, csrf=True,
                ctype="application/json"):
        h = {}
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h["Content-Type"] = ctype
        if self.cookie:
            h["Cookie"] = f"postern_session={self.cookie}"
        if self.basic:
            h["Authorization"] = "Basic " + base64.b64encode(
                self.basic.encode()).decode()
        if csrf:
            h["X-Postern-CSRF"] = "1"
        rq = urllib.request.Request(self.base + path, data=data, headers=h,
                                    method=method)
        try:
            with urllib.request.urlopen(rq, timeout=60) as r:
                st, text, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            st, text, hdrs = e.code, e.read(), e.headers
        try:
            return st, json.loads(text) if text else None, hdrs
        except ValueError:
            return st, text, hdrs

    def api(self, calls, using=USING, csrf=True):
        st, body, _ = self.request("POST", "/jmap/mail/api",
                                   {"using": using, "methodCalls": calls},
                                   csrf=csrf)
        return st, body

    def call(self, name, args=None, using=USING):
        args = dict(args or {})
        args.setdefault("accountId", self.account)
        st, body = self.api([[name, args, "c0"]], using)
        assert st == 200, body
        return body["methodResponses"][0]

    def ok(self, name, args=None):
        r = self.call(name, args)
        assert r[0] == name, r
        return r[1]

    def err(self, name, args=None):
        r = self.call(name, args)
        assert r[0] == "error", r
        return r[1]


def web(srv, name):
    return Web(srv.port("http"), f"{name}@acme", PW[name])


def totp(secret, at=None):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    step = int((time.time() if at is None else at) // 30)
    d = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    o = d[-1] & 15
    return "%06d" % ((struct.unpack(">I", d[o:o + 4])[0] & 0x7fffffff)
                     % 1000000)


# -- the capability -------------------------------------------------------

def test_session_and_errors(srv):
    w = web(srv, "alice")
    assert SETTINGS in w.session["capabilities"]
    acct = w.session["accounts"][w.account]
    assert SETTINGS in acct["accountCapabilities"]
    # without the capability in "using": unknownMethod
    r = w.call("LoginRecord/get", using=[CORE, MAIL])
    assert r[0] == "error" and r[1]["type"] == "unknownMethod"
    # another account is not reachable through any of them
    mal = Web(srv.port("http"), "mallory@evil", PW["mallory"])
    for name in ("Password/change", "AppPassword/get", "AppPassword/set",
                 "TwoFactor/get", "TwoFactor/set", "LoginRecord/get",
                 "Identity/get", "Identity/set"):
        e = mal.err(name, {"accountId": w.account})
        assert e["type"] == "accountNotFound", (name, e)
    # unknown arguments
    e = w.err("LoginRecord/get", {"limit": 3})
    assert e["type"] == "invalidArguments"
    # a cookie POST without the CSRF header is refused before any method
    st, body = w.api([["LoginRecord/get", {"accountId": w.account}, "0"]],
                     csrf=False)
    assert st == 403, body


# -- Password/change -------------------------------------------------------

def test_password_change(srv):
    s1, s2 = web(srv, "carol"), web(srv, "carol")
    e = s1.err("Password/change", {"oldPassword": PW["carol"]})
    assert e["type"] == "invalidArguments"
    e = s1.err("Password/change", {"oldPassword": "wrong-Password-1",
                                   "newPassword": "Another-Secret-77"})
    assert e["type"] == "forbidden" and "current password" in \
        e["description"]
    # the post office's policy, by the CLI's code
    e = s1.err("Password/change", {"oldPassword": PW["carol"],
                                   "newPassword": "Short-1"})
    assert e["type"] == "invalidArguments" and "too short" in \
        e["description"], e
    e = s1.err("Password/change", {"oldPassword": PW["carol"],
                                   "newPassword": "my-carol-Secret-77"})
    assert e["type"] == "invalidArguments" and "mailbox name" in \
        e["description"], e
    e = s1.err("Password/change", {"oldPassword": PW["carol"],
                                   "newPassword": PW["carol"]})
    assert e["type"] == "invalidArguments"
    assert imap_ok(srv, "carol@acme", PW["carol"])
    new = "Brand-new-Secret-2026"
    r = s1.ok("Password/change", {"oldPassword": PW["carol"],
                                  "newPassword": new})
    assert r["changed"] is True and r["sessionsEnded"] >= 1
    # this session goes on, the other one ended
    assert s1.ok("LoginRecord/get")["list"] is not None
    st, _, _ = s2.request("GET", "/jmap/mail/session")
    assert st == 401
    assert imap_ok(srv, "carol@acme", new)
    assert not imap_ok(srv, "carol@acme", PW["carol"])
    # Basic credentials may change it too (they know the password)
    b = Web(srv.port("http"), basic=f"carol@acme:{new}")
    r = b.ok("Password/change", {"oldPassword": new,
                                 "newPassword": PW["carol"]})
    assert r["changed"] is True
    assert imap_ok(srv, "carol@acme", PW["carol"])


def test_password_guessing_is_bounded(srv):
    w = web(srv, "bob")
    for i in range(10):
        e = w.err("Password/change", {"oldPassword": f"guess-Number-{i}",
                                      "newPassword": "Whatever-Secret-1"})
        assert e["type"] == "forbidden"
    # now even the right one is refused for a while
    e = w.err("Password/change", {"oldPassword": PW["bob"],
                                  "newPassword": "Whatever-Secret-1"})
    assert e["type"] == "forbidden" and "too many" in e["description"]
    assert imap_ok(srv, "bob@acme", PW["bob"])


# -- AppPassword ----------------------------------------------------------

def test_app_passwords(srv):
    w = web(srv, "alice")
    r = w.ok("AppPassword/set", {"create": {"k": {"name": "Thunderbird"}}})
    made = r["created"]["k"]
    pw, pid = made["password"], made["id"]
    assert len(pw) >= 20 and made["name"] == "Thunderbird"
    lst = w.ok("AppPassword/get")
    assert [a["name"] for a in lst["list"]] == ["Thunderbird"]
    item = lst["list"][0]
    assert "password" not in item and item["lastUsed"] is None
    assert item["created"].endswith("Z")
    # the app password logs in over IMAP, and its use is recorded
    assert imap_ok(srv, "alice@acme", pw)
    item = w.ok("AppPassword/get", {"ids": [pid]})["list"][0]
    assert item["lastUsed"] is not None and item["lastProtocol"] == "imap"
    assert item["lastAddress"] == "127.0.0.1"
    # bad cases
    r = w.ok("AppPassword/set", {"create": {
        "dup": {"name": "Thunderbird"}, "empty": {"name": ""},
        "extra": {"name": "x", "password": "chosen"}, "none": {}},
        "update": {pid: {"name": "other"}}})
    assert r["notCreated"]["dup"]["type"] == "alreadyExists"
    assert r["notCreated"]["empty"]["type"] == "invalidProperties"
    assert r["notCreated"]["extra"]["type"] == "invalidProperties"
    assert r["notCreated"]["none"]["type"] == "invalidProperties"
    assert r["notUpdated"][pid]["type"] == "forbidden"
    e = w.err("AppPassword/set", {"ifInState": "Pnope", "destroy": [pid]})
    assert e["type"] == "stateMismatch"
    # another mailbox's app password is not found from here
    d = web(srv, "dave")
    other = d.ok("AppPassword/set", {"create": {"x": {"name": "phone"}}})
    oid = other["created"]["x"]["id"]
    r = w.ok("AppPassword/set", {"destroy": [oid, "P999999", "junk"]})
    assert set(r["notDestroyed"]) == {oid, "P999999", "junk"}
    assert all(v["type"] == "notFound" for v in r["notDestroyed"].values())
    assert d.ok("AppPassword/get", {"ids": [oid]})["list"]
    # Basic credentials (an app password) cannot make more of them
    b = Web(srv.port("http"), basic=f"alice@acme:{pw}")
    e = b.err("AppPassword/set", {"create": {"k": {"name": "more"}}})
    assert e["type"] == "forbidden"
    assert b.ok("AppPassword/get")["list"]
    # revoked: IMAP refuses it
    r = w.ok("AppPassword/set", {"destroy": [pid]})
    assert r["destroyed"] == [pid]
    assert not imap_ok(srv, "alice@acme", pw)
    assert w.ok("AppPassword/get")["list"] == []


# -- TwoFactor ------------------------------------------------------------

def test_twofactor_enrol_and_disable(srv):
    w = web(srv, "dave")
    st = w.ok("TwoFactor/get")
    assert st["isEnabled"] is False and st["mayEnable"] is True
    e = w.err("TwoFactor/set", {"action": "confirm", "code": "123456"})
    assert e["type"] == "invalidArguments" and "enrol" in e["description"]
    e = w.err("TwoFactor/set", {"action": "bogus"})
    assert e["type"] == "invalidArguments"
    r = w.ok("TwoFactor/set", {"action": "enrol"})
    secret = r["secret"]
    assert r["otpauthUri"].startswith("otpauth://totp/") and \
        f"secret={secret}" in r["otpauthUri"]
    wrong = "000000" if totp(secret) != "000000" else "111111"
    e = w.err("TwoFactor/set", {"action": "confirm", "code": wrong})
    assert e["type"] == "invalidArguments"
    assert w.ok("TwoFactor/get")["isEnabled"] is False
    r = w.ok("TwoFactor/set", {"action": "confirm", "code": totp(secret)})
    assert len(r["recoveryCodes"]) == 10 and r["challenge"] == "always"
    st = w.ok("TwoFactor/get")
    assert st["isEnabled"] and st["totpEnrolled"] and \
        st["recoveryCodesLeft"] == 10 and st["mayDisable"]
    # the mail protocols now take only app passwords
    assert not imap_ok(srv, "dave@acme", PW["dave"])
    e = w.err("TwoFactor/set", {"action": "enrol"})
    assert e["type"] == "forbidden"
    r = w.ok("TwoFactor/set", {"action": "disable"})
    assert w.ok("TwoFactor/get")["isEnabled"] is False
    assert imap_ok(srv, "dave@acme", PW["dave"])
    # a post office that asks for it: the user cannot turn it off
    srv.cli("postoffice", "set", "acme", "twofactor_mode=always")
    try:
        st = w.ok("TwoFactor/get")
        assert st["isEnabled"] and st["required"] == "always" and \
            not st["mayDisable"]
        e = w.err("TwoFactor/set", {"action": "disable"})
        assert e["type"] == "forbidden" and "administrator" in \
            e["description"]
    finally:
        srv.cli("postoffice", "set", "acme", "twofactor_mode=inherit")
    # the mailbox's own mode set by an administrator: the user cannot
    # undo it either (only what they turned on themselves)
    srv.cli("mailbox", "set", "dave@acme", "twofactor_mode=always")
    try:
        st = w.ok("TwoFactor/get")
        assert st["isEnabled"] and st["required"] == "never" and \
            not st["mayDisable"]
        e = w.err("TwoFactor/set", {"action": "disable"})
        assert e["type"] == "forbidden" and "administrator" in \
            e["description"]
        assert not imap_ok(srv, "dave@acme", PW["dave"])
    finally:
        srv.cli("mailbox", "set", "dave@acme", "twofactor_mode=inherit")
    assert imap_ok(srv, "dave@acme", PW["dave"])
    # Basic credentials: refused
    b = Web(srv.port("http"), basic=f"dave@acme:{PW['dave']}")
    assert b.err("TwoFactor/set", {"action": "enrol"})["type"] == "forbidden"


# -- LoginRecord ----------------------------------------------------------

def test_login_record(srv):
    assert imap_ok(srv, "alice@acme", PW["alice"])
    w = web(srv, "alice")
    lst = w.ok("LoginRecord/get")["list"]
    imap = [x for x in lst if x["protocol"] == "imap"]
    assert imap and imap[0]["address"] == "127.0.0.1" and \
        imap[0]["count"] >= 1 and imap[0]["last"].endswith("Z")
    assert any(x["protocol"] == "api" for x in lst), lst
    # mallory's record is mallory's only
    mal = Web(srv.port("http"), "mallory@evil", PW["mallory"])
    assert all(x["protocol"] != "imap" for x in
               mal.ok("LoginRecord/get")["list"])


# -- Identity -------------------------------------------------------------

def test_identities_store_signatures(srv):
    srv.cli("address", "add", "robert@acme.test", "--mailbox", "bob@acme")
    w = web(srv, "bob")
    got = w.ok("Identity/get")
    ids = {i["email"]: i for i in got["list"]}
    assert "bob@acme.test" in ids
    first = got["list"][0]
    assert first["isDefault"] is True
    iid = ids["bob@acme.test"]["id"]
    hostile = ('<p onclick="x()">Bob <b>B</b><script>alert(1)</script>'
               '<a href="javascript:alert(1)">x</a>'
               '<a href="https://acme.test/">web</a><img src=http://t/>')
    r = w.ok("Identity/set", {"ifInState": got["state"], "update": {iid: {
        "name": "Bob <B>", "replyTo": [{"name": "Desk", "email":
                                        "Desk@Acme.test"}],
        "textSignature": "-- \nBob", "htmlSignature": hostile}}})
    clean = ('<p>Bob <b>B</b><a>x</a><a href="https://acme.test/">web</a>'
             '</p>')
    assert r["updated"][iid] == {"htmlSignature": clean}, r
    one = w.ok("Identity/get", {"ids": [iid]})["list"][0]
    assert one["name"] == "Bob <B>" and one["textSignature"] == "-- \nBob"
    assert one["htmlSignature"] == clean
    assert one["replyTo"] == [{"name": "Desk", "email": "desk@acme.test"}]
    # bad updates change nothing
    r = w.ok("Identity/set", {"update": {
        iid: {"email": "other@acme.test"}}})
    assert r["notUpdated"][iid]["type"] == "invalidProperties"
    for bad in ({"replyTo": [{"email": "not an address"}]},
                {"replyTo": "x@y.test"}, {"name": "a\nb"},
                {"htmlSignature": "x" * 70000}, {"isDefault": False},
                {"bcc": [{"email": "a@b.test"}]}, {"colour": 1}):
        r = w.ok("Identity/set", {"update": {iid: bad}})
        assert r["notUpdated"][iid]["type"] == "invalidProperties", bad
    assert w.ok("Identity/get", {"ids": [iid]})["list"][0] == one
    r = w.ok("Identity/set", {"update": {"i0000": {"name": "x"}},
                              "create": {"n": {"email": "b@acme.test"}},
                              "destroy": [iid]})
    assert r["notUpdated"]["i0000"]["type"] == "notFound"
    assert r["notCreated"]["n"]["type"] == "forbidden"
    assert r["notDestroyed"][iid]["type"] == "forbidden"
    # the default identity moves
    rid = ids["robert@acme.test"]["id"]
    w.ok("Identity/set", {"update": {rid: {"isDefault": True}}})
    lst = {i["email"]: i for i in w.ok("Identity/get")["list"]}
    assert lst["robert@acme.test"]["isDefault"] and \
        not lst["bob@acme.test"]["isDefault"]
    # not reachable from alice
    a = web(srv, "alice")
    r = a.ok("Identity/set", {"update": {iid: {"name": "pwned"}}})
    assert r["notUpdated"][iid]["type"] == "notFound"


# -- the auto responder: text and HTML -------------------------------------

def test_vacation_html_and_dates(srv):
    w = web(srv, "frank")
    using_v = USING + ["urn:ietf:params:jmap:vacationresponse"]
    r = w.call("VacationResponse/set", {"update": {"singleton": {
        "isEnabled": True, "subject": "Frank is away",
        "textBody": "Away until the 9th.",
        "htmlBody": '<p>Away until the <b>9th</b>.<script>alert(1)</script>'
                    '<img src="http://tracker.test/x.png"></p>',
        "fromDate": "2020-01-01T00:00:00Z",
        "toDate": "2099-06-30T17:45:00Z"}}}, using_v)[1]
    kept = "<p>Away until the <b>9th</b>.</p>"
    assert r["updated"]["singleton"] == {"htmlBody": kept}, r
    v = w.call("VacationResponse/get", {}, using_v)[1]["list"][0]
    assert v["htmlBody"] == kept and v["textBody"] == "Away until the 9th."
    assert v["fromDate"] == "2020-01-01T00:00:00Z" and \
        v["toDate"] == "2099-06-30T17:45:00Z"
    bad = w.call("VacationResponse/set", {"update": {"singleton": {
        "htmlBody": "x" * 70000, "toDate": "next week"}}}, using_v)[1]
    assert bad["notUpdated"]["singleton"]["type"] == "invalidProperties"
    # an SMTP message to frank: bob gets text and HTML as alternatives
    smtp_send(srv,
              ("bob@acme.test", "frank@acme.test", "are you in", "hi"))
    got = wait_for(lambda: imap_fetch(srv, "bob@acme", PW["bob"], "INBOX",
                                      "Frank is away"), "the auto reply", 60)
    raw = got[0][1]
    assert b"multipart/alternative" in raw and b"text/html" in raw
    assert b"Away until the 9th." in raw and kept.encode() in raw
    assert b"<script" not in raw and b"tracker.test" not in raw
    # a rule of the editor with "send no auto reply" (Sieve
    # vnd.postern.noautoreply) keeps the message but no reply goes
    if shutil.which("node"):
        rules = [{"name": "quiet", "enabled": True, "match": "all",
                  "conditions": [{"field": "subject", "op": "contains",
                                  "value": "no reply please"}],
                  "actions": [{"type": "noautoreply"}], "stop": False}]
        text = node_sieve(f"S.toSieve({json.dumps(rules)})")
        assert 'require ["vnd.postern.noautoreply"];' in text
        r = w.ok("SieveScript/set", {"create": {"f": {
            "name": "postern-filters", "blobId": upload(w, text)}},
            "onSuccessActivateScript": "#f"})
        assert "f" in r["created"], r
        smtp_send(srv,
                  ("carol@acme.test", "frank@acme.test", "no reply please",
                   "hi"),
                  ("dave@acme.test", "frank@acme.test", "a question", "hi"))
        wait_for(lambda: imap_fetch(srv, "frank@acme", PW["frank"], "INBOX",
                                    "no reply please"), "the kept message")
        wait_for(lambda: imap_fetch(srv, "dave@acme", PW["dave"], "INBOX",
                                    "Frank is away"), "dave's auto reply", 60)
        assert "sieve: noautoreply" in srv.log("deliver")
        assert imap_fetch(srv, "carol@acme", PW["carol"], "INBOX",
                          "Frank is away") == []
    # the date window holds: one that ended sends nothing
    w.call("VacationResponse/set", {"update": {"singleton": {
        "subject": "Frank is gone", "toDate": "2021-01-01T00:00:00Z"}}},
        using_v)
    smtp_send(srv,
              ("alice@acme.test", "frank@acme.test", "still there", "hi"))
    wait_for(lambda: imap_fetch(srv, "frank@acme", PW["frank"], "INBOX",
                                "still there"), "the delivery")
    wait_for(lambda: "after autoresponder_end" in srv.log("deliver"),
             "the deliver log line")
    assert imap_fetch(srv, "alice@acme", PW["alice"], "INBOX",
                      "Frank is gone") == []


# -- filters: the rules editor's Sieve, really filing mail -----------------

def node_sieve(expr):
    """evaluate expr with S = web/mail/settings-sieve.js under node"""
    code = (f"import * as S from {json.dumps(SIEVE_JS.as_uri())};\n"
            f"process.stdout.write(JSON.stringify({expr}));\n")
    r = subprocess.run(["node", "--no-warnings", "--input-type=module",
                        "-e", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def upload(w, data):
    st, body, _ = w.request("POST", f"/jmap/mail/upload/{w.account}/",
                            raw=data.encode(), ctype="application/sieve")
    assert st == 201, body
    return body["blobId"]


RULES = [{"name": "Lists", "enabled": True, "match": "any",
          "conditions": [{"field": "subject", "op": "contains",
                          "value": "[announce]"},
                         {"field": "header", "header": "List-Id",
                          "op": "contains", "value": "announce.acme.test"}],
          "actions": [{"type": "fileinto", "folder": "Lists"},
                      {"type": "flag", "flag": "\\Flagged"}],
          "stop": True},
         {"name": "Big \"ones\"", "enabled": True, "match": "all",
          "conditions": [{"field": "size", "op": "over", "value": 900}],
          "actions": [{"type": "discard"}], "stop": False}]


@pytest.mark.skipif(not shutil.which("node"), reason="node is missing")
def test_filter_from_the_editor_files_mail(srv):
    w = web(srv, "alice")
    text = node_sieve(f"S.toSieve({json.dumps(RULES)})")
    # the editor's own check refuses bad rules before the server sees them
    bad = node_sieve("(() => { try { S.toSieve([{name: 'x', match: 'all', "
                     "conditions: [], actions: [{type: 'redirect', "
                     "address: 'nope'}]}]); return 'taken' } catch (e) "
                     "{ return e.message } })()")
    assert "redirect needs an address" in bad
    blob = upload(w, text)
    v = w.ok("SieveScript/validate", {"blobId": blob})
    assert v["error"] is None, v
    r = w.ok("SieveScript/set", {"create": {"f": {
        "name": "postern-filters", "blobId": blob}},
        "onSuccessActivateScript": "#f"})
    sid = r["created"]["f"]["id"]
    # read back: the editor gets its rules again
    got = w.ok("SieveScript/get", {"ids": [sid]})["list"][0]
    assert got["isActive"]
    st, back, _ = w.request(
        "GET", f"/jmap/mail/download/{w.account}/{got['blobId']}/s"
        "?accept=application/sieve")
    assert st == 200
    back = back.decode() if isinstance(back, bytes) else json.dumps(back)
    assert node_sieve(f"S.fromSieve({json.dumps(back)})") == {"rules": RULES}
    # a hand edit is shown as raw Sieve, not taken for rules
    edited = back.replace("stop;", "keep;")
    out = node_sieve(f"S.fromSieve({json.dumps(edited)})")
    assert out["raw"] == edited and "changed outside" in out["warning"]
    # mail delivered by SMTP is filed by it
    smtp_send(srv,
              ("news@outside.test", "alice@acme.test",
               "[announce] release 2", "filed"),
              ("friend@outside.test", "alice@acme.test", "hello", "kept"))

    def folder(name, subject):
        return imap_fetch(srv, "alice@acme", PW["alice"], name, subject)

    hit = wait_for(lambda: folder("Lists", "release 2"), "the filed message")
    assert b"\\Flagged" in hit[0][0]
    wait_for(lambda: folder("INBOX", "hello"), "the kept message")
    assert folder("INBOX", "release 2") == []

