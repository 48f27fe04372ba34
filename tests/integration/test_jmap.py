"""JMAP mail (RFC 8620 core, RFC 8621 mail, RFC 9425 quotas) served by
httpd (src/httpd/jmap*.c) over real HTTP with http.client, against a real
posternd with smtpd, the MTA, deliver and imapd: the session resource and
its three kinds of credentials, the request-level and method-level errors
of RFC 8620 3.6, Mailbox/Email/Thread/SearchSnippet/Quota methods, blobs,
changes made by IMAP and JMAP seen by both, and the push endpoint after an
SMTP delivery. One server for the module."""
import base64
import http.client
import imaplib
import json
import smtplib
import sqlite3
import time
from email.message import EmailMessage

import pytest

from conftest import Postern

CORE = "urn:ietf:params:jmap:core"
MAIL = "urn:ietf:params:jmap:mail"
QUOTA = "urn:ietf:params:jmap:quota"
SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"
USING = [CORE, MAIL]
ALICE_PW = "Al1ce-Secret-771"
BOB_PW = "B0b-Secret-8812"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("jmap") / "root")
    p.init()
    p.cli("config", "set", "http.max_body", "256K")
    p.cli("config", "set", "http.max_upload", "256K")
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-4410")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW,
          "--quota", "50M")
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


class Jmap:
    """A JMAP client with Basic credentials (or a token, or a cookie)."""

    def __init__(self, port, login=None, password=None):
        self.port = port
        self.auth = None
        if login is not None:
            raw = f"{login}:{password}".encode()
            self.auth = "Basic " + base64.b64encode(raw).decode()
        self.cookie = None
        self.csrf = True
        self.account = None

    def login(self, login, password):
        """the web session cookie: one password check, not one a request"""
        r = self.request("POST", "/jmap/mail/login", {
            "login": login, "password": password},
            headers={"X-Postern-CSRF": "1"})
        assert r.status == 200, r.body
        self.cookie = r.getheader("Set-Cookie").split(";")[0].split("=", 1)[1]
        self.auth = None
        return self

    def request(self, method, path, body=None, headers=None, raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        h = {}
        if self.auth:
            h["Authorization"] = self.auth
        if self.cookie:
            h["Cookie"] = f"postern_session={self.cookie}"
            if self.csrf:
                h["X-Postern-CSRF"] = "1"
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        r.body = r.read()
        c.close()
        try:
            r.json = json.loads(r.body) if r.body else None
        except ValueError:
            r.json = None
        return r

    def session(self):
        r = self.request("GET", "/jmap/mail/session")
        assert r.status == 200, (r.status, r.body)
        self.account = r.json["primaryAccounts"][MAIL]
        return r.json

    def api(self, calls, using=USING, expect=200, headers=None):
        r = self.request("POST", "/jmap/mail/api",
                         {"using": using, "methodCalls": calls},
                         headers=headers)
        assert r.status == expect, (r.status, r.body)
        return r.json

    def call(self, name, args, using=USING):
        if self.account is None:
            self.session()
        args = dict(args)
        args.setdefault("accountId", self.account)
        return self.api([[name, args, "c0"]], using=using)[
            "methodResponses"][0]


def alice(srv):
    j = Jmap(srv.port("http")).login("alice@acme", ALICE_PW)
    j.session()
    return j


def imap(srv, login="alice@acme", pw=ALICE_PW):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login(login, pw)
    return m


def message(subject, frm="Carol <carol@example.org>", to="alice@acme.test",
            body="hello", msgid=None, refs=None, date=None, attach=None,
            html=None):
    m = EmailMessage()
    m["From"] = frm
    m["To"] = to
    m["Subject"] = subject
    m["Date"] = date or "Mon, 07 Dec 2026 03:00:00 +0000"
    m["Message-ID"] = msgid or f"<{abs(hash(subject))}@example.org>"
    if refs:
        m["References"] = refs
        m["In-Reply-To"] = refs.split()[-1]
    m.set_content(body)
    if html:
        m.add_alternative(html, subtype="html")
    if attach:
        m.add_attachment(attach, maintype="application", subtype="pdf",
                         filename="report.pdf")
    return m.as_bytes()


def append(srv, folder, data, flags="", login="alice@acme", pw=ALICE_PW,
           date=None):
    m = imap(srv, login, pw)
    typ, _ = m.append(folder, flags, date or imaplib.Time2Internaldate(
        time.time()), data)
    assert typ == "OK"
    m.logout()


def mailbox_ids(j):
    got = j.call("Mailbox/get", {"ids": None})[1]["list"]
    return {(m["role"] or m["name"]): m["id"] for m in got}


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


# -- 1. session, credentials, request-level and method-level errors -------

def test_session_resource_and_credentials(srv):
    port = srv.port("http")
    anon = Jmap(port)
    # no credentials: the web admin's redirect stays; the mail session 401
    r = anon.request("GET", "/.well-known/jmap")
    assert r.status == 302 and r.getheader("Location") == "/jmap/session"
    r = anon.request("GET", "/jmap/mail/session")
    assert r.status == 401 and "Basic" in r.getheader("WWW-Authenticate")
    # Basic at the well-known address answers the session itself
    j = Jmap(port, "alice@acme", ALICE_PW)
    r = j.request("GET", "/.well-known/jmap")
    assert r.status == 200, r.body
    s = r.json
    assert set(s["capabilities"]) == {CORE, MAIL, QUOTA, SUBMISSION,
                                      VACATION, "urn:ietf:params:jmap:sieve",
                                      "urn:postern:settings"}
    core = s["capabilities"][CORE]
    assert core["maxSizeRequest"] == 256 * 1024
    assert core["maxSizeUpload"] == 256 * 1024
    assert core["maxCallsInRequest"] >= 1 and core["maxObjectsInGet"] >= 1
    acct = s["primaryAccounts"][MAIL]
    assert s["accounts"][acct]["name"] == "alice@acme"
    assert s["accounts"][acct]["isPersonal"] is True
    assert s["username"] == "alice@acme" and s["apiUrl"] == "/jmap/mail/api"
    assert "{blobId}" in s["downloadUrl"] and s["state"]
    # the same session twice has the same state
    assert Jmap(port, "alice@acme", ALICE_PW).session()["state"] == s["state"]
    # a wrong password
    r = Jmap(port, "alice@acme", "Wrong-Secret-000").request(
        "GET", "/jmap/mail/session")
    assert r.status == 401
    # bob is another account
    b = Jmap(port, "bob@acme", BOB_PW).session()
    assert b["primaryAccounts"][MAIL] != acct
    # a bearer token (an API token of the postmaster) and its account
    tok = srv.cli("--json", "token", "add", "postmaster@acme").stdout
    token = json.loads(tok)["token"]
    t = Jmap(port)
    t.auth = "Bearer " + token
    ts = t.session()
    assert ts["username"] == "postmaster@acme"
    t.auth = "Bearer pt_" + "x" * 43
    assert t.request("GET", "/jmap/mail/session").status == 401
    # the web cookie session: login, then the API with the CSRF header
    c = Jmap(port).login("alice@acme", ALICE_PW)
    assert c.session()["username"] == "alice@acme"
    out = c.api([["Core/echo", {"x": 1}, "e"]])
    assert out["methodResponses"][0] == ["Core/echo", {"x": 1}, "e"]
    # a cookie POST without the header is refused (CSRF)
    c.csrf = False
    r = c.request("POST", "/jmap/mail/api", {"using": USING,
                  "methodCalls": []})
    assert r.status == 403
    # logout ends the session on the server, not only the cookie
    c.csrf = True
    r = c.request("POST", "/jmap/mail/logout")
    assert r.status == 200 and "Max-Age=0" in r.getheader("Set-Cookie")
    assert c.request("GET", "/jmap/mail/session").status == 401
    # a wrong password at the login
    r = Jmap(port).request("POST", "/jmap/mail/login", {
        "login": "alice@acme", "password": "Wrong-Secret-111"},
        headers={"X-Postern-CSRF": "1"})
    assert r.status == 401


def test_request_level_errors(srv):
    j = alice(srv)
    err = "urn:ietf:params:jmap:error:"
    r = j.request("POST", "/jmap/mail/api", raw=b'{"using": [', headers={
        "Content-Type": "application/json"})
    assert r.status == 400 and r.json["type"] == err + "notJSON"
    r = j.request("POST", "/jmap/mail/api", raw=b'{}', headers={
        "Content-Type": "text/plain"})
    assert r.status == 400 and r.json["type"] == err + "notJSON"
    r = j.request("POST", "/jmap/mail/api", {"using": USING})
    assert r.status == 400 and r.json["type"] == err + "notRequest"
    r = j.request("POST", "/jmap/mail/api", {"using": [CORE, "urn:x:nope"],
                  "methodCalls": []})
    assert r.status == 400 and r.json["type"] == err + "unknownCapability"
    # the admin capability is not served here
    r = j.request("POST", "/jmap/mail/api", {"using": ["urn:postern:admin"],
                  "methodCalls": []})
    assert r.json["type"] == err + "unknownCapability"
    limit = j.session()["capabilities"][CORE]["maxCallsInRequest"]
    r = j.request("POST", "/jmap/mail/api", {"using": USING, "methodCalls": [
        ["Core/echo", {}, str(i)] for i in range(limit + 1)]})
    assert r.status == 400 and r.json["type"] == err + "limit"
    assert r.json["limit"] == "maxCallsInRequest"
    # a body over http.max_body is refused by the HTTP layer before JMAP
    big = json.dumps({"using": USING, "methodCalls": [
        ["Core/echo", {"x": "y" * (300 * 1024)}, "a"]]}).encode()
    r = j.request("POST", "/jmap/mail/api", raw=big, headers={
        "Content-Type": "application/json"})
    assert r.status == 413


def test_method_level_errors(srv):
    j = alice(srv)
    a = j.account
    calls = [
        ["Nope/get", {}, "unknown"],
        ["Mailbox/get", {"accountId": a, "bogus": 1}, "badarg"],
        ["Mailbox/get", {"accountId": "a999999"}, "noacct"],
        ["Mailbox/get", {"accountId": a, "#ids": {"resultOf": "zz",
                         "name": "Mailbox/query", "path": "/ids"}}, "badref"],
        ["Mailbox/set", {"accountId": a, "ifInState": "Mnope"}, "state"],
        ["Email/changes", {"accountId": a, "sinceState": "garbage"},
         "nochanges"],
        ["Email/get", {"accountId": a, "ids": [f"m1u{i}" for i in
                       range(600)]}, "toolarge"],
        ["Email/query", {"accountId": a, "sort": [{"property": "color"}]},
         "sort"],
        ["Email/query", {"accountId": a, "filter": {"smell": "x"}},
         "filter"],
        ["Email/queryChanges", {"accountId": a, "sinceQueryState": "x"},
         "qc"],
        ["Email/query", {"accountId": a, "anchor": "m1u999999"}, "anchor"],
    ]
    out = j.api(calls)["methodResponses"]
    got = {r[2]: r for r in out}
    assert len(out) == len(calls)        # every call answered, in order
    assert [r[2] for r in out] == [c[2] for c in calls]
    want = {"unknown": "unknownMethod", "badarg": "invalidArguments",
            "noacct": "accountNotFound", "badref": "invalidResultReference",
            "state": "stateMismatch", "nochanges": "cannotCalculateChanges",
            "toolarge": "requestTooLarge", "sort": "unsupportedSort",
            "filter": "unsupportedFilter", "qc": "cannotCalculateChanges",
            "anchor": "anchorNotFound"}
    for cid, typ in want.items():
        assert got[cid][0] == "error" and got[cid][1]["type"] == typ, \
            (cid, got[cid])
    # a method whose capability is not in "using"
    r = j.api([["Quota/get", {"accountId": a}, "q"]])["methodResponses"][0]
    assert r[1]["type"] == "unknownMethod"
    # forbidden: the INBOX cannot be destroyed
    inbox = mailbox_ids(j)["inbox"]
    r = j.call("Mailbox/set", {"destroy": [inbox]})[1]
    assert r["notDestroyed"][inbox]["type"] == "forbidden"


# -- 2. Mailbox, Email, Thread, SearchSnippet, blobs -------------------------

def test_mailboxes_and_changes(srv):
    j = alice(srv)
    roles = mailbox_ids(j)
    for role in ("inbox", "sent", "drafts", "trash", "junk", "archive"):
        assert role in roles
    state = j.call("Mailbox/get", {"ids": []})[1]["state"]
    # create a parent, then a child through a back-reference
    out = j.api([
        ["Mailbox/set", {"accountId": j.account, "create": {
            "p": {"name": "Projekte Ü", "isSubscribed": True}}}, "0"],
        ["Mailbox/set", {"accountId": j.account, "create": {"c": {
            "name": "Child"}}, "#ifInState": {"resultOf": "0",
            "name": "Mailbox/set", "path": "/newState"}}, "1"],
    ])["methodResponses"]
    pid = out[0][1]["created"]["p"]["id"]
    cid = out[1][1]["created"]["c"]["id"]
    r = j.call("Mailbox/set", {"update": {cid: {"parentId": pid}}})[1]
    assert cid in r["updated"], r
    got = {m["id"]: m for m in j.call("Mailbox/get", {"ids": [pid, cid]})[1][
        "list"]}
    assert got[pid]["name"] == "Projekte Ü" and got[pid]["isSubscribed"]
    assert got[cid]["parentId"] == pid and got[cid]["name"] == "Child"
    # IMAP sees them by their modified UTF-7 names
    m = imap(srv)
    typ, names = m.list()
    text = b"\n".join(names).decode()
    assert "Projekte &ANw-" in text and "Projekte &ANw-.Child" in text
    # a folder made by IMAP shows up in Mailbox/changes
    assert m.create("FromImap")[0] == "OK"
    m.logout()
    ch = j.call("Mailbox/changes", {"sinceState": state})[1]
    assert pid in ch["created"] and cid in ch["created"]
    names = {x["name"]: x["id"] for x in j.call("Mailbox/get", {})[1]["list"]}
    assert names["FromImap"] in ch["created"]
    # query by parent and role
    q = j.call("Mailbox/query", {"filter": {"parentId": pid}})[1]
    assert q["ids"] == [cid]
    q = j.call("Mailbox/query", {"filter": {"role": "trash"}})[1]
    assert q["ids"] == [roles["trash"]]
    # destroy: a Mailbox with children or with Emails is refused
    state2 = j.call("Mailbox/get", {"ids": []})[1]["state"]
    r = j.call("Mailbox/set", {"destroy": [pid]})[1]
    assert r["notDestroyed"][pid]["type"] == "mailboxHasChild"
    append(srv, '"Projekte &ANw-.Child"', message("in child"))
    r = j.call("Mailbox/set", {"destroy": [cid]})[1]
    assert r["notDestroyed"][cid]["type"] == "mailboxHasEmail"
    r = j.call("Mailbox/set", {"destroy": [cid],
                               "onDestroyRemoveEmails": True})[1]
    assert r["destroyed"] == [cid]
    ch = j.call("Mailbox/changes", {"sinceState": state2})[1]
    assert ch["destroyed"] == [cid]
    # an Email state from before the folder with mail went: unknown
    # destroyed ids, so the server says it cannot calculate (never fakes)


def test_email_get_bodies_headers_and_blobs(srv):
    j = alice(srv)
    data = message("Report =?utf-8?q?f=C3=BCr?= you",
                   frm='"Dana D." <dana@example.org>',
                   to="alice@acme.test, Eve <eve@example.net>",
                   body="Plain text body here.\n",
                   html="<p>HTML <b>body</b></p>", attach=b"%PDF-1.4 fake",
                   msgid="<report-1@example.org>")
    append(srv, "INBOX", data, flags="(\\Flagged)")
    inbox = mailbox_ids(j)["inbox"]
    q = j.call("Email/query", {"filter": {"inMailbox": inbox,
               "subject": "Report"}})[1]
    assert len(q["ids"]) == 1
    eid = q["ids"][0]
    e = j.call("Email/get", {"ids": [eid], "fetchAllBodyValues": True,
               "properties": ["subject", "from", "to", "messageId",
                              "keywords", "mailboxIds", "textBody",
                              "htmlBody", "attachments", "bodyValues",
                              "hasAttachment", "preview", "size",
                              "bodyStructure", "threadId", "blobId",
                              "header:Subject:asRaw", "header:To:asAddresses",
                              "header:Date:asDate", "receivedAt"]})[1]
    e = e["list"][0]
    assert e["subject"] == "Report für you"
    assert e["from"] == [{"name": "Dana D.", "email": "dana@example.org"}]
    assert e["to"][1] == {"name": "Eve", "email": "eve@example.net"}
    assert e["header:To:asAddresses"] == e["to"]
    assert e["header:Date:asDate"] == "2026-12-07T03:00:00Z"
    assert "=?utf-8?q?" in e["header:Subject:asRaw"]
    assert e["messageId"] == ["report-1@example.org"]
    assert e["keywords"] == {"$flagged": True}
    assert e["mailboxIds"] == {inbox: True}
    assert e["hasAttachment"] is True
    assert e["preview"].startswith("Plain text body here.")
    assert [p["type"] for p in e["textBody"]] == ["text/plain"]
    assert [p["type"] for p in e["htmlBody"]] == ["text/html"]
    assert [p["name"] for p in e["attachments"]] == ["report.pdf"]
    tpart = e["textBody"][0]["partId"]
    assert e["bodyValues"][tpart]["value"] == "Plain text body here.\n"
    hpart = e["htmlBody"][0]["partId"]
    assert "<b>body</b>" in e["bodyValues"][hpart]["value"]
    assert e["bodyStructure"]["type"] == "multipart/mixed"
    assert len(e["bodyStructure"]["subParts"]) == 2
    # truncated body values
    t = j.call("Email/get", {"ids": [eid], "properties": ["bodyValues"],
               "fetchTextBodyValues": True, "maxBodyValueBytes": 5})[1]
    v = t["list"][0]["bodyValues"][tpart]
    assert v["value"] == "Plain" and v["isTruncated"] is True
    # the attachment's blob, decoded, and the whole message
    att = e["attachments"][0]
    port = srv.port("http")
    r = j.request("GET", f"/jmap/mail/download/{j.account}/{att['blobId']}/"
                  "report.pdf?accept=application/pdf")
    assert r.status == 200 and r.body == b"%PDF-1.4 fake"
    assert r.getheader("Content-Type") == "application/pdf"
    assert "attachment" in r.getheader("Content-Disposition")
    r = j.request("GET", f"/jmap/mail/download/{j.account}/{e['blobId']}/"
                  "m.eml?accept=text/html")
    assert r.status == 200 and b"Plain text body here." in r.body
    # never served as HTML of our origin
    assert r.getheader("Content-Type") == "application/octet-stream"
    # another account's blob is not found, through either account id
    b = Jmap(port).login("bob@acme", BOB_PW)
    b.session()
    r = b.request("GET", f"/jmap/mail/download/{b.account}/{att['blobId']}/"
                  "x?accept=application/pdf")
    assert r.status == 404
    r = b.request("GET", f"/jmap/mail/download/{j.account}/{att['blobId']}/"
                  "x?accept=application/pdf")
    assert r.status == 404
    r = j.request("GET", f"/jmap/mail/download/{j.account}/..%2f..%2fx/x")
    assert r.status == 404
    # unknown properties are refused
    r = j.call("Email/get", {"ids": [eid], "properties": ["colour"]})
    assert r[1]["type"] == "invalidArguments"


def test_upload_import_parse_and_limits(srv):
    j = alice(srv)
    raw = message("Imported one", body="imported body\n",
                  msgid="<imp-1@example.org>")
    r = j.request("POST", f"/jmap/mail/upload/{j.account}/", raw=raw,
                  headers={"Content-Type": "message/rfc822"})
    assert r.status == 201, r.body
    blob = r.json["blobId"]
    assert r.json["size"] == len(raw) and r.json["type"] == "message/rfc822"
    got = j.request("GET", f"/jmap/mail/download/{j.account}/{blob}/x.eml"
                    "?accept=message/rfc822")
    assert got.status == 200 and got.body == raw
    p = j.call("Email/parse", {"blobIds": [blob, "Udeadbeef"],
               "properties": ["subject", "messageId", "textBody",
                              "bodyValues"], "fetchTextBodyValues": True})[1]
    assert p["parsed"][blob]["subject"] == "Imported one"
    assert p["notFound"] == ["Udeadbeef"]
    ids = mailbox_ids(j)
    state = j.call("Email/get", {"ids": []})[1]["state"]
    r = j.call("Email/import", {"emails": {"k": {
        "blobId": blob, "mailboxIds": {ids["archive"]: True},
        "keywords": {"$seen": True, "work": True},
        "receivedAt": "2026-01-02T03:04:05Z"}}})[1]
    assert "k" in r["created"], r
    eid = r["created"]["k"]["id"]
    e = j.call("Email/get", {"ids": [eid], "properties": [
        "keywords", "receivedAt", "mailboxIds"]})[1]["list"][0]
    assert e["keywords"] == {"$seen": True, "work": True}
    assert e["receivedAt"] == "2026-01-02T03:04:05Z"
    assert e["mailboxIds"] == {ids["archive"]: True}
    ch = j.call("Email/changes", {"sinceState": state})[1]
    assert ch["created"] == [eid] and ch["oldState"] == state
    # IMAP sees it in Archive, with its flags
    m = imap(srv)
    m.select("Archive")
    typ, d = m.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Imported one" in b"".join(x[1] for x in d if isinstance(x, tuple))
    assert b"\\Seen" in b"".join(x[0] for x in d if isinstance(x, tuple))
    m.logout()
    # an import of an unknown blob, or into no mailbox
    r = j.call("Email/import", {"emails": {"a": {"blobId": "U" + "0" * 32,
               "mailboxIds": {ids["inbox"]: True}}, "b": {"blobId": blob,
               "mailboxIds": {}}}})[1]
    assert r["notCreated"]["a"]["type"] == "blobNotFound"
    assert r["notCreated"]["b"]["type"] == "invalidProperties"
    # an upload over the limit is refused before anything is stored
    updir = srv.root / "store"
    before = sorted(p.name for p in updir.rglob("jmap-upload/*"))
    r = j.request("POST", f"/jmap/mail/upload/{j.account}/",
                  raw=b"x" * (300 * 1024),
                  headers={"Content-Type": "application/octet-stream"})
    assert r.status == 413
    after = sorted(p.name for p in updir.rglob("jmap-upload/*"))
    assert before == after
    # an upload into another account
    r = j.request("POST", "/jmap/mail/upload/a999999/", raw=b"x")
    assert r.status == 404


def test_part_sizes_and_the_attachment_limit(srv):
    """a part's size is that of its blob after the transfer decoding
    (RFC 8621 4.1.4: what the user downloads), and
    maxSizeAttachmentsPerEmail is the limit Email/set holds a draft to:
    the decoded attachments that fit, base64 encoded, in the largest
    message the submission path takes (smtp.max_message_size)"""
    import os
    j = alice(srv)
    blob = os.urandom(30000)
    m = EmailMessage()
    m["From"] = "Sizer <sizer@example.org>"
    m["To"] = "alice@acme.test"
    m["Subject"] = "Sizes of parts"
    m["Message-ID"] = "<sizes-1@example.org>"
    m.set_content("caf\u00e9 " * 300, cte="quoted-printable")
    m.add_attachment(blob, maintype="application", subtype="octet-stream",
                     filename="blob.bin")
    append(srv, "INBOX", m.as_bytes())
    inbox = mailbox_ids(j)["inbox"]
    eid = j.call("Email/query", {"filter": {"inMailbox": inbox,
                 "subject": "Sizes of parts"}})[1]["ids"][0]
    e = j.call("Email/get", {"ids": [eid], "properties": [
        "attachments", "textBody", "bodyStructure"]})[1]["list"][0]
    att = e["attachments"][0]
    assert att["size"] == len(blob), att        # not its base64 (40,000+)
    # 1,800 bytes of text and its line end (its quoted-printable: 2,400+)
    assert e["textBody"][0]["size"] in (1801, 1802), e["textBody"]
    for part in (att, e["textBody"][0]):
        r = j.request("GET", f"/jmap/mail/download/{j.account}/"
                      f"{part['blobId']}/x")
        assert r.status == 200 and len(r.body) == part["size"]

    # the limit: advertised from smtp.max_message_size, held by Email/set
    srv.cli("config", "set", "smtp.max_message_size", "300K")
    try:
        want = (300 * 1024 - 64 * 1024) // 78 * 57
        caps = j.session()["accounts"][j.account]["accountCapabilities"][MAIL]
        assert caps["maxSizeAttachmentsPerEmail"] == want
        blobs = []
        for _ in range(2):
            r = j.request("POST", f"/jmap/mail/upload/{j.account}/",
                          raw=os.urandom(want // 2 + 1000),
                          headers={"Content-Type": "application/zip"})
            assert r.status == 201, r.body
            blobs.append(r.json["blobId"])
        drafts = mailbox_ids(j)["drafts"]

        def draft(ids):
            return {"mailboxIds": {drafts: True}, "subject": "Heavy",
                    "to": [{"email": "bob@acme.test"}],
                    "bodyValues": {"t": {"value": "see attached"}},
                    "textBody": [{"partId": "t", "type": "text/plain"}],
                    "attachments": [{"blobId": b, "type": "application/zip",
                                     "name": f"{i}.zip"}
                                    for i, b in enumerate(ids)]}
        r = j.call("Email/set", {"create": {"two": draft(blobs),
                                            "one": draft(blobs[:1])}})[1]
        assert r["notCreated"]["two"]["type"] == "tooLarge", r
        assert r["notCreated"]["two"]["properties"] == ["attachments"]
        assert "maxSizeAttachmentsPerEmail" in \
            r["notCreated"]["two"]["description"]
        assert "one" in r["created"], r
        j.call("Email/set", {"destroy": [r["created"]["one"]["id"]]})
    finally:
        srv.cli("config", "set", "smtp.max_message_size", "51200K")


def test_query_sort_filter_collapse(srv):
    j = alice(srv)
    ids = mailbox_ids(j)
    j.call("Mailbox/set", {"create": {"q": {"name": "Sorting"}}})
    sid = mailbox_ids(j)["Sorting"]
    root = "<root-q@example.org>"
    msgs = [
        ("Bravo topic", "Zed <zed@example.org>", "x" * 10, None, 1000),
        ("alpha topic", "Amy <amy@example.org>", "x" * 3000, None, 3000),
        ("Charlie", "Mo <mo@example.org>", "needle in the body", None, 2000),
        ("Re: alpha topic", "Bo <bo@example.org>", "reply", root, 4000),
    ]
    for subj, frm, body, refs, t in msgs:
        data = message(subj, frm=frm, body=body, refs=refs,
                       msgid=root if subj == "alpha topic" else None)
        append(srv, "Sorting", data, date=imaplib.Time2Internaldate(
            1700000000 + t))
    def q(**kw):
        args = {"filter": {"inMailbox": sid}, "calculateTotal": True}
        args.update(kw)
        r = j.call("Email/query", args)[1]
        subs = j.call("Email/get", {"ids": r["ids"], "properties": [
            "subject"]})[1]["list"]
        by = {e["id"]: e["subject"] for e in subs}
        return r, [by[i] for i in r["ids"]]
    r, s = q()
    assert r["total"] == 4
    assert s == ["Re: alpha topic", "alpha topic", "Charlie", "Bravo topic"]
    _, s = q(sort=[{"property": "receivedAt", "isAscending": True}])
    assert s == ["Bravo topic", "Charlie", "alpha topic", "Re: alpha topic"]
    _, s = q(sort=[{"property": "subject"}, {"property": "receivedAt"}])
    assert s == ["alpha topic", "Re: alpha topic", "Bravo topic", "Charlie"]
    _, s = q(sort=[{"property": "from"}])
    assert s == ["alpha topic", "Re: alpha topic", "Charlie", "Bravo topic"]
    _, s = q(sort=[{"property": "size", "isAscending": False}])
    assert s[0] == "alpha topic"
    _, s = q(filter={"inMailbox": sid, "text": "needle"})
    assert s == ["Charlie"]
    _, s = q(filter={"inMailbox": sid, "from": "zed@"})
    assert s == ["Bravo topic"]
    _, s = q(filter={"operator": "AND", "conditions": [
        {"inMailbox": sid}, {"operator": "NOT", "conditions": [
            {"subject": "topic"}]}]})
    assert s == ["Charlie"]
    # collapseThreads: the reply and its root are one thread
    r, s = q(collapseThreads=True)
    assert r["total"] == 3 and "alpha topic" not in s
    assert r["canCalculateChanges"] is False
    r, s = q(collapseThreads=True, position=1, limit=1)
    assert s == ["Charlie"] and r["total"] == 3
    mb = j.call("Mailbox/get", {"ids": [sid], "properties": [
        "totalEmails", "totalThreads", "unreadThreads"]})[1]["list"][0]
    assert (mb["totalEmails"], mb["totalThreads"], mb["unreadThreads"]) == \
        (4, 3, 3)
    # paging: position, anchor, limit
    r, s = q(position=1, limit=2)
    assert s == ["alpha topic", "Charlie"] and r["position"] == 1
    first = q()[0]["ids"]
    r, s = q(anchor=first[2], anchorOffset=-1, limit=1)
    assert s == ["alpha topic"]
    # keywords via Email/set, then hasKeyword / notKeyword
    j.call("Email/set", {"update": {first[2]: {"keywords/$flagged": True}}})
    _, s = q(filter={"inMailbox": sid, "hasKeyword": "$flagged"})
    assert s == ["Charlie"]
    _, s = q(filter={"inMailbox": sid, "notKeyword": "$flagged"})
    assert "Charlie" not in s and len(s) == 3
    # the store's query index (one sort key, inMailbox and keyword
    # filters) answers as the path that reads every message does: a
    # minSize 0 condition always holds but sends the query down that path
    m = imap(srv)
    m.select("Sorting")
    uid = m.uid("SEARCH", None, "SUBJECT", "Bravo")[1][0].split()[0]
    assert m.uid("STORE", uid.decode(), "+FLAGS", "(Work)")[0] == "OK"
    m.logout()
    for sort in ({"property": "receivedAt"},
                 {"property": "receivedAt", "isAscending": False},
                 {"property": "size"}, {"property": "from"},
                 {"property": "from", "isAscending": False}):
        for flt in ({"inMailbox": sid}, {"inMailbox": sid, "hasKeyword":
                    "work"}, {"inMailbox": sid, "notKeyword": "$flagged"},
                    {"operator": "AND", "conditions": [
                        {"inMailbox": sid}, {"notKeyword": "WORK"}]}):
            # collapseThreads too (the index walks the rows up to the
            # window's last thread)
            for page in ({}, {"position": 1, "limit": 2},
                         {"collapseThreads": True},
                         {"collapseThreads": True, "position": 1,
                          "limit": 2}):
                fast = q(filter=flt, sort=[sort], **page)[0]
                slow = q(filter={"operator": "AND", "conditions": [
                    flt, {"minSize": 0}]}, sort=[sort], **page)[0]
                assert (fast["ids"], fast["total"], fast["position"]) == \
                    (slow["ids"], slow["total"], slow["position"]), \
                    (sort, flt, page, fast, slow)
    assert len(q(filter={"inMailbox": sid, "hasKeyword": "work"})[1]) == 1
    r = j.call("Email/query", {"filter": {"inMailbox": "F0000000000000000"},
                               "calculateTotal": True})[1]
    assert r["ids"] == [] and r["total"] == 0
    # Thread/get: the thread of the reply holds both, oldest first
    e = j.call("Email/get", {"ids": first[:2], "properties": [
        "threadId", "subject"]})[1]["list"]
    assert e[0]["threadId"] == e[1]["threadId"]
    t = j.call("Thread/get", {"ids": [e[0]["threadId"], "tnope"]})[1]
    assert t["list"][0]["emailIds"] == [first[1], first[0]]
    assert t["notFound"] == ["tnope"]
    # an original and its reply of the same second: in the order they
    # came (six pairs: a random order passes all six once in 64)
    j.call("Mailbox/set", {"create": {"s": {"name": "SameSecond"}}})
    same = mailbox_ids(j)["SameSecond"]
    when = imaplib.Time2Internaldate(1700000000 + 9000)
    for k in range(6):
        append(srv, "SameSecond", message(f"Tie {k}", msgid=f"<tie{k}@x>"),
               date=when)
        append(srv, "SameSecond", message(f"Re: Tie {k}",
               refs=f"<tie{k}@x>", msgid=f"<tie{k}r@x>"), date=when)
    ids6 = j.call("Email/query", {"filter": {"inMailbox": same}})[1]["ids"]
    got = j.call("Email/get", {"ids": ids6, "properties": [
        "threadId", "subject"]})[1]["list"]
    subj = {x["id"]: x["subject"] for x in got}
    tids = sorted({x["threadId"] for x in got})
    assert len(tids) == 6
    for th in j.call("Thread/get", {"ids": tids})[1]["list"]:
        names = [subj[i] for i in th["emailIds"]]
        assert len(names) == 2 and names[1] == "Re: " + names[0], names
    # SearchSnippet/get: the term marked, the markup of mail escaped
    sn = j.call("SearchSnippet/get", {"emailIds": [first[2]],
                "filter": {"text": "needle"}})[1]
    assert "<mark>needle</mark>" in sn["list"][0]["preview"]
    # Email/queryChanges: the old ids patched with removed and added
    # (RFC 8620 5.6) are the new ids
    args = {"filter": {"inMailbox": sid}, "sort": [
        {"property": "receivedAt", "isAscending": False}]}
    old = j.call("Email/query", args)[1]
    assert old["canCalculateChanges"] is True
    append(srv, "Sorting", message("Delta late", msgid="<delta@example.org>"),
           date=imaplib.Time2Internaldate(1700000000 + 5000))
    j.call("Email/set", {"destroy": [first[3]]})
    new = j.call("Email/query", args)[1]
    qc = j.call("Email/queryChanges", dict(
        args, sinceQueryState=old["queryState"], calculateTotal=True))[1]
    assert qc["oldQueryState"] == old["queryState"]
    assert qc["newQueryState"] == new["queryState"]
    assert qc["total"] == len(new["ids"]) == 4
    got = [i for i in old["ids"] if i not in qc["removed"]]
    for a in sorted(qc["added"], key=lambda a: a["index"]):
        got.insert(a["index"], a["id"])
    assert got == new["ids"], (old, new, qc)
    assert first[3] in qc["removed"] and new["ids"][0] in [
        a["id"] for a in qc["added"]]
    r = j.call("Email/queryChanges", dict(
        args, sinceQueryState=old["queryState"], maxChanges=1))[1]
    assert r["type"] == "tooManyChanges"
    r = j.call("Email/queryChanges", dict(
        args, sinceQueryState=old["queryState"], filter={"text": "x"}))[1]
    assert r["type"] == "cannotCalculateChanges"


# the from/to/subject filters from the index's header text (index
# version 7) against the path that reads every file: the same answers
HEADER_TEXT_MSGS = [
    # encoded words (Q and B, two charsets), a display name, two addresses
    b"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.org>\r\n"
    b"To: \"Alice A.\" <alice@acme.test>, bob@example.org\r\n"
    b"Subject: =?ISO-8859-1?Q?Caf=E9?= Menu =?UTF-8?B?w5xiZXIgYWxsZXM=?=\r\n"
    b"Message-ID: <ht1@example.org>\r\n\r\nbody one\r\n",
    # two To fields, a folded subject in mixed case, a comment
    b"from: Mixed.Case@Example.ORG (The MiXeD Sender)\r\n"
    b"To: first@example.net\r\nTo: second@example.net\r\n"
    b"SUBJECT: MiXeD CaSe\r\n  Folded   Subject\r\n"
    b"Message-ID: <ht2@example.org>\r\n\r\nbody two\r\n",
    # no Subject, an empty To, bare LF line ends
    b"From: Zoe <zoe@example.com>\nTo:\nMessage-ID: <ht3@example.org>\n"
    b"\nbody three\n",
    # an encoded word that does not decode, two From fields
    b"From: =?x-unknown?Q?Raw=20Word?= <raw@example.com>\r\n"
    b"From: Second From <second@example.com>\r\n"
    b"To: Undisclosed recipients:;\r\n"
    b"Subject: Re: [list] =?UTF-8?Q?=C3=BCber?= topic (fwd)\r\n"
    b"Message-ID: <ht4@example.org>\r\n\r\nbody four\r\n",
]
HEADER_TEXT_NEEDLES = [
    "", "j\u00fcrgen", "J\u00dcRGEN", "m\u00fcller <", "JM@EXAMPLE",
    "caf\u00e9 menu", "\u00dcber alles", "=?utf-8?", "alice a.", "bob@",
    ".test>, bob", "mixed case", "case  folded   subject", "(the mixed",
    "second@", "first@example.net" + "second", "zoe", "raw word",
    "x-unknown", "second from", "[list]", "topic (fwd)", "recipients:;",
    "example", "nothing-matches-this",
]


def text_query(j, flt, ordered=True, **kw):
    """the index's answer and the files' (a minSize 0 condition holds
    for every Email but sends the query down the path reading them).
    ordered=False: the same set only (ties of the sort, as messages of
    the same second in different folders, go by folder and UID in the
    index, by Email id in the other path)"""
    args = dict({"calculateTotal": True}, **kw)
    fast = j.call("Email/query", dict(args, filter=flt))[1]
    slow = j.call("Email/query", dict(args, filter={
        "operator": "AND", "conditions": [flt, {"minSize": 0}]}))[1]
    key = list if ordered else sorted
    assert (key(fast["ids"]), fast.get("total")) == \
        (key(slow["ids"]), slow.get("total")), (flt, kw, fast, slow)
    return fast


def test_query_text_filter_index_matches_files(srv):
    j = alice(srv)
    j.call("Mailbox/set", {"create": {"h": {"name": "HeaderText"}}})
    hid = mailbox_ids(j)["HeaderText"]
    for k, data in enumerate(HEADER_TEXT_MSGS):
        append(srv, "HeaderText", data, date=imaplib.Time2Internaldate(
            1700000000 + k * 60))
    order = j.call("Email/query", {"filter": {"inMailbox": hid}, "sort": [
        {"property": "receivedAt", "isAscending": True}]})[1]["ids"]
    assert len(order) == 4
    for field in ("from", "to", "subject"):
        for needle in HEADER_TEXT_NEEDLES:
            text_query(j, {"inMailbox": hid, field: needle})
            text_query(j, {field: needle}, ordered=False)  # the account
    # what the answers are (not only that both paths agree)
    def which(flt):
        got = text_query(j, dict({"inMailbox": hid}, **flt) if
                         "operator" not in flt else {"operator": "AND",
                         "conditions": [{"inMailbox": hid}, flt]})["ids"]
        return sorted(order.index(i) for i in got)
    assert which({"from": "J\u00fcRGEN"}) == [0]     # ASCII letters fold
    assert which({"from": "j\u00fcrgen m\u00fcller"}) == [0]
    assert which({"from": "J\u00dcRGEN"}) == []      # not the others
    assert which({"subject": "CAF\u00e9 menu \u00dcber"}) == [0]
    assert which({"subject": "=?utf-8?"}) == []
    assert which({"subject": ""}) == [0, 1, 3]      # has the field
    assert which({"to": ""}) == [0, 1, 2, 3]
    assert which({"to": "second@"}) == [1]
    assert which({"to": "first@example.netsecond"}) == []  # two fields
    assert which({"from": "second from"}) == [3]     # the second From
    assert which({"subject": "case  folded   subject"}) == [1]
    assert which({"from": "raw word"}) == []
    assert which({"from": "x-unknown", "subject": "topic"}) == [3]
    assert which({"from": "example", "to": "example",
                  "notKeyword": "$seen"}) == [0, 1]
    # an OR of from/to/subject (the webmail's search), inside an AND too
    def orf(*conds):
        return {"operator": "OR", "conditions": list(conds)}
    assert which(orf({"subject": "menu"}, {"from": "zoe"})) == [0, 2]
    assert which(orf({"to": "second@"}, {"to": "bob@"},
                     {"subject": "nothing-matches-this"})) == [0, 1]
    assert text_query(j, {"operator": "AND", "conditions": [
        {"inMailbox": hid}, orf({"subject": "menu"}, {"from": "zoe"}),
        orf({"to": "alice"}, {"to": "nobody@"})]})["ids"] == [order[0]]
    for needle in HEADER_TEXT_NEEDLES:
        text_query(j, orf({"subject": needle}, {"from": needle},
                          {"to": needle}), ordered=False)
    r = j.call("Email/query", {"filter": orf({"subject": "menu"},
                                             {"from": "zoe"})})[1]
    assert r["canCalculateChanges"] is True
    # sorted and paged as the other index queries
    for sort in ({"property": "subject"}, {"property": "from",
                 "isAscending": False}, {"property": "size"}):
        for page in ({}, {"position": 1, "limit": 2},
                     {"collapseThreads": True}):
            text_query(j, {"inMailbox": hid, "to": "example"},
                       sort=[sort], **page)
    r = j.call("Email/query", {"filter": {"subject": "menu"}})[1]
    assert r["canCalculateChanges"] is True
    qc = j.call("Email/queryChanges", {"filter": {"subject": "menu"},
                "sinceQueryState": r["queryState"]})[1]
    assert qc["newQueryState"] == r["queryState"], qc
    # a header longer than the 64 KB the store reads: that folder's text
    # queries read the files (the same answers), the others still not
    j.call("Mailbox/set", {"create": {"l": {"name": "LongHeader"}}})
    lid = mailbox_ids(j)["LongHeader"]
    pad = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"p" * 900)
                   for i in range(80))
    append(srv, "LongHeader", pad + b"From: Late <late@example.org>\r\n"
           b"Subject: after the pad\r\n\r\nbody\r\n")
    assert len(text_query(j, {"inMailbox": lid, "from": "late@"})[
        "ids"]) == 1
    con = sqlite3.connect(srv.root / "store" / "acme" / "alice" /
                          "postern-index.db")
    assert con.execute("SELECT htext, count(*) FROM msg WHERE htext!=1 "
                       "GROUP BY htext").fetchall() == [(2, 1)]
    con.close()
    assert len(text_query(j, {"from": "late@"}, ordered=False)[
        "ids"]) == 1
    assert which({"from": "J\u00fcRGEN"}) == [0]


def test_query_text_filter_index_upgrade(srv):
    """An index of version 6 (no header text) gets it at the next open:
    the text filters answer as the files do before and after."""
    j = Jmap(srv.port("http")).login("bob@acme", BOB_PW)
    j.session()
    for k, data in enumerate(HEADER_TEXT_MSGS):
        append(srv, "INBOX", data, login="bob@acme", pw=BOB_PW,
               date=imaplib.Time2Internaldate(1700000000 + k * 60))
    before = {n: text_query(j, {"subject": n})["ids"]
              for n in HEADER_TEXT_NEEDLES}
    srv.stop()
    db = srv.root / "store" / "acme" / "bob" / "postern-index.db"
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 8
    con.execute("DROP INDEX msg_htext")
    con.execute("DROP INDEX msg_view")       # version 8's
    for col in ("hfrom", "hto", "hsubject", "htext"):
        con.execute(f"ALTER TABLE msg DROP COLUMN {col}")
    con.execute("PRAGMA user_version=6")
    con.commit()
    con.close()
    srv.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
              timeout=60)
    j = Jmap(srv.port("http")).login("bob@acme", BOB_PW)
    j.session()
    after = {n: text_query(j, {"subject": n})["ids"]
             for n in HEADER_TEXT_NEEDLES}
    assert after == before
    for field in ("from", "to"):
        for needle in HEADER_TEXT_NEEDLES:
            text_query(j, {field: needle})
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 8
    assert con.execute("SELECT count(*) FROM sqlite_master WHERE "
                       "name='msg_view'").fetchone()[0] == 1
    assert con.execute("SELECT count(*), sum(htext=1), count(hfrom) "
                       "FROM msg").fetchone() == (4, 4, 4)
    con.close()


def test_changes_between_imap_and_jmap(srv):
    j = alice(srv)
    append(srv, "INBOX", message("Concurrent", msgid="<conc@example.org>"))
    inbox = mailbox_ids(j)["inbox"]
    eid = j.call("Email/query", {"filter": {"inMailbox": inbox,
                 "subject": "Concurrent"}})[1]["ids"][0]
    state = j.call("Email/get", {"ids": []})[1]["state"]
    # JMAP sets $seen: IMAP sees \Seen
    r = j.call("Email/set", {"ifInState": state, "update": {
        eid: {"keywords/$seen": True}}})[1]
    assert eid in r["updated"] and r["oldState"] == state
    s2 = r["newState"]
    assert s2 != state
    m = imap(srv)
    m.select("INBOX")
    typ, d = m.search(None, "SUBJECT", "Concurrent")
    n = d[0].split()[0]
    assert b"\\Seen" in m.fetch(n, "(FLAGS)")[1][0]
    # ifInState with the old state now fails
    r = j.call("Email/set", {"ifInState": state, "update": {
        eid: {"keywords/$seen": None}}})
    assert r[1]["type"] == "stateMismatch"
    # IMAP flags it: Email/changes says updated, Email/get shows it
    m.store(n, "+FLAGS", "(\\Flagged)")
    ch = j.call("Email/changes", {"sinceState": s2})[1]
    assert ch["updated"] == [eid] and ch["created"] == []
    kw = j.call("Email/get", {"ids": [eid], "properties": ["keywords"]})[1]
    assert kw["list"][0]["keywords"] == {"$seen": True, "$flagged": True}
    # JMAP moves it to Trash: IMAP sees it gone from INBOX, in Trash
    s3 = ch["newState"]
    trash = mailbox_ids(j)["trash"]
    r = j.call("Email/set", {"update": {eid: {"mailboxIds": {trash: True}}}})
    assert eid in r[1]["updated"], r
    m.noop()
    assert m.search(None, "SUBJECT", "Concurrent")[1] == [b""]
    m.select("Trash")
    assert m.search(None, "SUBJECT", "Concurrent")[1][0] != b""
    # a move keeps the Email id (RFC 8621 1.2): one update, no new id
    ch = j.call("Email/changes", {"sinceState": s3})[1]
    assert ch["updated"] == [eid] and ch["created"] == [], ch
    assert ch["destroyed"] == []
    got = j.call("Email/get", {"ids": [eid], "properties": [
        "mailboxIds", "threadId"]})[1]["list"][0]
    assert got["mailboxIds"] == {trash: True}
    # IMAP MOVE back to INBOX: still the same id, now in INBOX
    inbox = mailbox_ids(j)["inbox"]
    s5 = ch["newState"]
    uid = m.uid("SEARCH", None, "SUBJECT", "Concurrent")[1][0].split()[0]
    # IMAP's EMAILID (RFC 8474) is the JMAP id
    assert eid.encode() in m.uid("FETCH", uid.decode(), "(EMAILID)")[1][0]
    assert m.uid("MOVE", uid.decode(), "INBOX")[0] == "OK"
    got2 = j.call("Email/get", {"ids": [eid], "properties": [
        "mailboxIds", "threadId"]})[1]["list"]
    assert got2 and got2[0]["mailboxIds"] == {inbox: True}
    assert got2[0]["threadId"] == got["threadId"]
    ch = j.call("Email/changes", {"sinceState": s5})[1]
    assert ch["updated"] == [eid] and ch["created"] == [], ch
    # Mailbox/changes from the same log
    mch = j.call("Mailbox/changes", {"sinceState": s5})[1]
    assert {inbox, trash} <= set(mch["updated"]), mch
    # IMAP expunges it: Email/changes says destroyed
    m.select("INBOX")
    uid = m.uid("SEARCH", None, "SUBJECT", "Concurrent")[1][0].split()[0]
    m.uid("STORE", uid.decode(), "+FLAGS", "(\\Deleted)")
    m.expunge()
    m.logout()
    ch = j.call("Email/changes", {"sinceState": ch["newState"]})[1]
    assert ch["destroyed"] == [eid], ch
    # JMAP destroys: IMAP no longer finds it
    append(srv, "INBOX", message("Doomed", msgid="<doomed@example.org>"))
    did = j.call("Email/query", {"filter": {"subject": "Doomed"}})[1]["ids"]
    r = j.call("Email/set", {"destroy": did + ["M0000000000000000"]})[1]
    assert r["destroyed"] == did
    assert r["notDestroyed"]["M0000000000000000"]["type"] == "notFound"
    m = imap(srv)
    m.select("INBOX")
    assert m.search(None, "SUBJECT", "Doomed")[1] == [b""]
    m.logout()
    # from the first state, net of all that: only the first id is gone
    ch = j.call("Email/changes", {"sinceState": state})[1]
    assert ch["destroyed"] == [eid] and ch["created"] == []
    # maxChanges smaller than the changes: an intermediate state
    s4 = j.call("Email/get", {"ids": []})[1]["state"]
    t4 = j.call("Thread/get", {"ids": []})[1]["state"]
    append(srv, "INBOX", message("Two a", msgid="<two-a@example.org>"))
    append(srv, "INBOX", message("Two b", msgid="<two-b@example.org>"))
    # Thread/changes: two new threads, each holding its Email
    tc = j.call("Thread/changes", {"sinceState": t4})[1]
    assert len(tc["created"]) == 2 and tc["destroyed"] == [], tc
    emails = j.call("Email/changes", {"sinceState": s4})[1]["created"]
    got = j.call("Thread/get", {"ids": tc["created"]})[1]["list"]
    assert sorted(e for t in got for e in t["emailIds"]) == sorted(emails)
    assert j.call("Thread/changes", {"sinceState": "nope"})[1][
        "type"] == "cannotCalculateChanges"
    r = j.call("Email/changes", {"sinceState": s4, "maxChanges": 1})[1]
    assert r["hasMoreChanges"] is True and len(r["created"]) == 1, r
    r2 = j.call("Email/changes", {"sinceState": r["newState"],
                                  "maxChanges": 1})[1]
    assert r2["hasMoreChanges"] is False and len(r2["created"]) == 1, r2
    assert r2["created"] != r["created"]
    assert len(j.call("Email/changes", {"sinceState": s4, "maxChanges": 2})[
        1]["created"]) == 2


def test_quota(srv):
    j = alice(srv)
    r = j.call("Quota/get", {"ids": None}, using=[CORE, QUOTA])[1]
    q = r["list"][0]
    assert q["id"] == "octets" and q["hardLimit"] == 50 * 1024 * 1024
    assert q["resourceType"] == "octets" and q["scope"] == "account"
    assert 0 < q["used"] < q["hardLimit"]
    before = r["state"]
    append(srv, "INBOX", message("Quota growth", body="q" * 5000))
    r2 = j.call("Quota/get", {"ids": ["octets"]}, using=[CORE, QUOTA])[1]
    assert r2["list"][0]["used"] > q["used"]
    ch = j.call("Quota/changes", {"sinceState": before},
                using=[CORE, QUOTA])[1]
    assert ch["updated"] == ["octets"]
    # bob has no quota: no Quota object
    b = Jmap(srv.port("http")).login("bob@acme", BOB_PW)
    b.session()
    assert b.call("Quota/get", {}, using=[CORE, QUOTA])[1]["list"] == []


# -- 4. push ------------------------------------------------------------------

def test_push_after_smtp_delivery(srv):
    j = alice(srv)
    r = j.request("GET", "/jmap/mail/eventsource/?types=*&closeafter=state"
                  "&ping=0")
    assert r.status == 200
    assert r.getheader("Content-Type") == "text/event-stream"
    text = r.body.decode()
    first_id = [x for x in text.splitlines() if x.startswith("id: ")][0][4:]
    data = json.loads([x for x in text.splitlines()
                       if x.startswith("data: ")][0][6:])
    assert data["@type"] == "StateChange"
    email_state = data["changed"][j.account]["Email"]
    # an SMTP delivery to alice
    with smtplib.SMTP("127.0.0.1", srv.port("smtp"), timeout=30) as s:
        s.sendmail("sender@example.org", ["alice@acme.test"],
                   message("Pushed by SMTP", to="alice@acme.test",
                           msgid="<push@example.org>").replace(
                               b"\r\n", b"\n").replace(b"\n", b"\r\n"))

    def changed():
        r = j.request("GET", "/jmap/mail/eventsource/?types=*&closeafter="
                      "state&ping=0", headers={"Last-Event-ID": first_id})
        ev = r.body.decode()
        eid = [x for x in ev.splitlines() if x.startswith("id: ")][0][4:]
        return ev if eid != first_id else None
    ev = wait_for(changed, "a state event after the delivery", 60)
    data = json.loads([x for x in ev.splitlines()
                       if x.startswith("data: ")][0][6:])
    new_state = data["changed"][j.account]["Email"]
    assert new_state != email_state
    # types filters the states in the event
    r = j.request("GET", "/jmap/mail/eventsource/?types=Mailbox,Quota"
                  "&closeafter=state&ping=0")
    data = json.loads([x for x in r.body.decode().splitlines()
                       if x.startswith("data: ")][0][6:])
    assert set(data["changed"][j.account]) == {"Mailbox", "Quota"}
    ch = j.call("Email/changes", {"sinceState": email_state})[1]
    got = j.call("Email/get", {"ids": ch["created"],
                 "properties": ["subject"]})[1]["list"]
    assert "Pushed by SMTP" in [e["subject"] for e in got]


def test_hostile_messages_still_list_and_open(srv):
    """broken MIME, 10,000 parts, an unknown charset, a huge address list
    and markup in headers: every one lists and opens (within limits), and
    what comes back is data, never markup of ours"""
    j = alice(srv)
    j.call("Mailbox/set", {"create": {"h": {"name": "Hostile"}}})
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\np{i}\r\n"
                    for i in range(10000))
    msgs = [
        ("Many parts", "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
         parts + "--b--\r\n"),
        ("Broken mime", "Content-Type: multipart/mixed; boundary=zz\r\n\r\n"
         "--zz\r\nContent-Type: text/plain; charset=x-nonsense-42\r\n"
         "Content-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n"),
        ("<script>alert(1)</script>", "Content-Type: text/html\r\n\r\n"
         "<img src=x onerror=alert(1)>\r\n"),
    ]
    many = ", ".join(f"u{i}@example.org" for i in range(3000))
    for subj, rest in msgs:
        data = (f"From: x@example.org\r\nTo: {many}\r\nSubject: {subj}\r\n"
                f"Message-ID: <{abs(hash(subj))}@h>\r\n{rest}").encode()
        append(srv, "Hostile", data)
    hid = mailbox_ids(j)["Hostile"]
    q = j.call("Email/query", {"filter": {"inMailbox": hid},
               "calculateTotal": True})[1]
    assert q["total"] == 3
    got = j.call("Email/get", {"ids": q["ids"], "fetchAllBodyValues": True,
                 "properties": ["subject", "to", "bodyStructure", "textBody",
                                "bodyValues", "preview"]})[1]["list"]
    by = {e["subject"]: e for e in got}
    many_parts = by["Many parts"]["bodyStructure"]["subParts"]
    assert 100 < len(many_parts) <= 2000          # lib-mime's part limit
    assert len(by["Many parts"]["to"]) == 1000    # JE_ADDR_MAX
    broken = by["Broken mime"]
    pid = broken["textBody"][0]["partId"]
    assert broken["bodyValues"][pid]["isEncodingProblem"] is True
    # the markup is returned as text in JSON: the client escapes it
    assert "<script>alert(1)</script>" in by
    r = j.request("GET", "/jmap/mail/session")
    assert r.status == 200                        # the service lives on
