"""JMAP Identity, EmailSubmission and VacationResponse (RFC 8621 6-8,
src/httpd/jmap-submit.c) over real HTTP against a real posternd: a
draft imported by JMAP is submitted through Postern's own submission
path (the SMTP connector's queue, the MTA, deliver) and read by the
recipient over IMAP, without its Bcc field; sender binding refuses a
From: the mailbox does not own; a copy lands in Sent, or the
onSuccessUpdateEmail patch moves the draft there with an implicit
Email/set response; the auto responder set by VacationResponse answers
mail. One server for the module."""
import imaplib
import time

import pytest

from conftest import Postern
from test_jmap import CORE, MAIL, Jmap, wait_for

SUBMISSION = "urn:ietf:params:jmap:submission"
VACATION = "urn:ietf:params:jmap:vacationresponse"
USING = [CORE, MAIL, SUBMISSION]
ALICE_PW = "Al1ce-Secret-993"
BOB_PW = "B0b-Secret-4471"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("jmapsub") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", ALICE_PW)
    p.cli("mailbox", "add", "bob@acme", "--password", BOB_PW)
    p.start(services=["httpd", "imapd", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def client(srv, login, pw):
    j = Jmap(srv.port("http")).login(login, pw)
    j.session()
    return j


def call(j, name, args, using=USING):
    args = dict(args)
    args.setdefault("accountId", j.account)
    return j.api([[name, args, "c0"]], using=using)["methodResponses"]


def draft(j, frm, to, subject, bcc=None, body="Hello from JMAP.\r\n"):
    raw = (f"From: {frm}\r\nTo: {to}\r\n" +
           (f"Bcc: {bcc}\r\n" if bcc else "") +
           f"Subject: {subject}\r\nMessage-ID: <{subject.replace(' ', '.')}"
           f"@acme.test>\r\nDate: Mon, 07 Dec 2026 04:00:00 +0000\r\n"
           f"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n{body}")
    r = j.request("POST", f"/jmap/mail/upload/{j.account}/",
                  raw=raw.encode(), headers={"Content-Type": "message/rfc822"})
    assert r.status == 201, r.body
    boxes = {m["role"]: m["id"] for m in call(j, "Mailbox/get", {})[0][1][
        "list"]}
    out = call(j, "Email/import", {"emails": {"d": {
        "blobId": r.json["blobId"], "mailboxIds": {boxes["drafts"]: True},
        "keywords": {"$draft": True}}}})[0][1]
    return out["created"]["d"]["id"], boxes


def imap_find(srv, login, pw, folder, subject):
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=30)
    m.login(login, pw)
    m.select(folder)
    typ, d = m.search(None, "SUBJECT", f'"{subject}"')
    out = []
    for n in d[0].split():
        out.append(m.fetch(n, "(BODY.PEEK[])")[1][0][1])
    m.logout()
    return out


def test_identities(srv):
    j = client(srv, "alice@acme", ALICE_PW)
    r = call(j, "Identity/get", {})[0][1]
    emails = [i["email"] for i in r["list"]]
    assert "alice@acme.test" in emails
    ident = r["list"][0]
    assert ident["mayDelete"] is False and ident["id"]
    r2 = call(j, "Identity/changes", {"sinceState": r["state"]})[0][1]
    assert r2["created"] == [] and r2["newState"] == r["state"]
    r3 = call(j, "Identity/set", {"create": {"n": {"email": "x@evil.test"}}})
    assert r3[0][1]["notCreated"]["n"]["type"] == "forbidden"
    # the capability must be in "using"
    r4 = j.api([["Identity/get", {"accountId": j.account}, "i"]],
               using=[CORE, MAIL])["methodResponses"][0]
    assert r4[1]["type"] == "unknownMethod"


def test_submission_delivers_binds_sender_and_files_sent(srv):
    j = client(srv, "alice@acme", ALICE_PW)
    ident = call(j, "Identity/get", {})[0][1]["list"][0]["id"]
    eid, boxes = draft(j, "Alice <alice@acme.test>", "bob@acme.test",
                       "Submitted one", bcc="hidden@acme.test")
    out = j.api([["EmailSubmission/set", {
        "accountId": j.account,
        "create": {"s1": {"identityId": ident, "emailId": eid}},
        "onSuccessUpdateEmail": {"#s1": {
            f"mailboxIds/{boxes['drafts']}": None,
            f"mailboxIds/{boxes['sent']}": True,
            "keywords/$draft": None, "keywords/$seen": True}}}, "0"]],
        using=USING)["methodResponses"]
    assert out[0][0] == "EmailSubmission/set", out
    sub = out[0][1]["created"]["s1"]
    assert sub["undoStatus"] == "final"
    assert sub["envelope"]["mailFrom"]["email"] == "alice@acme.test"
    rcpts = sorted(r["email"] for r in sub["envelope"]["rcptTo"])
    assert rcpts == ["bob@acme.test", "hidden@acme.test"]
    # the implicit Email/set of onSuccessUpdateEmail, same call id
    assert out[1][0] == "Email/set" and out[1][2] == "0"
    assert eid in out[1][1]["updated"]
    # bob reads it over IMAP: delivered through the queue, no Bcc
    got = wait_for(lambda: imap_find(srv, "bob@acme", BOB_PW, "INBOX",
                                     "Submitted one"), "delivery to bob", 60)
    msg = got[0]
    assert b"Hello from JMAP." in msg
    assert b"\nBcc:" not in msg and b"hidden@acme.test" not in msg
    assert b"with HTTP (JMAP" in msg          # our Received field
    # the draft moved to Sent, once (no second copy)
    sent = imap_find(srv, "alice@acme", ALICE_PW, "Sent", "Submitted one")
    assert len(sent) == 1
    assert imap_find(srv, "alice@acme", ALICE_PW, "Drafts",
                     "Submitted one") == []


def test_draft_by_email_set_then_submission_copies_to_sent(srv):
    """a draft made by Email/set (text, HTML, an uploaded attachment, a
    non-ASCII subject and name), submitted in the same request through a
    #creationId reference; without onSuccessUpdateEmail a copy goes to
    Sent"""
    j = client(srv, "alice@acme", ALICE_PW)
    ident = call(j, "Identity/get", {})[0][1]["list"][0]["id"]
    boxes = {m["role"]: m["id"] for m in call(j, "Mailbox/get", {})[0][1][
        "list"]}
    up = j.request("POST", f"/jmap/mail/upload/{j.account}/",
                   raw=b"%PDF-1.4 attached", headers={
                       "Content-Type": "application/pdf"}).json
    out = j.api([
        ["Email/set", {"accountId": j.account, "create": {"d": {
            "mailboxIds": {boxes["drafts"]: True},
            "keywords": {"$draft": True},
            "from": [{"name": "Alice Ä", "email": "alice@acme.test"}],
            "to": [{"name": "Bob", "email": "bob@acme.test"}],
            "subject": "Copied one – grüße",
            "textBody": [{"partId": "t", "type": "text/plain"}],
            "htmlBody": [{"partId": "h", "type": "text/html"}],
            "bodyValues": {"t": {"value": "Plain grüße\n"},
                           "h": {"value": "<p>HTML</p>"}},
            "attachments": [{"blobId": up["blobId"],
                             "type": "application/pdf",
                             "name": "bericht.pdf"}]}}}, "0"],
        ["EmailSubmission/set", {"accountId": j.account, "create": {
            "s": {"identityId": ident, "emailId": "#d"}}}, "1"],
        ["Email/get", {"accountId": j.account, "ids": ["#d"],
                       "properties": ["subject", "from", "attachments",
                                      "textBody", "htmlBody", "bodyValues"],
                       "fetchAllBodyValues": True}, "2"],
    ], using=USING)["methodResponses"]
    assert "d" in out[0][1]["created"], out[0]
    eid = out[0][1]["created"]["d"]["id"]
    assert out[1][1]["created"]["s"]["emailId"] == eid, out[1]
    e = out[2][1]["list"][0]
    assert e["subject"] == "Copied one – grüße"
    assert e["from"] == [{"name": "Alice Ä", "email": "alice@acme.test"}]
    assert [a["name"] for a in e["attachments"]] == ["bericht.pdf"]
    text = e["textBody"][0]["partId"]
    assert e["bodyValues"][text]["value"] == "Plain grüße\n"
    assert len(out) == 3                      # no implicit Email/set
    assert len(imap_find(srv, "alice@acme", ALICE_PW, "Sent",
                         "Copied one")) == 1
    got = wait_for(lambda: imap_find(srv, "bob@acme", BOB_PW, "INBOX",
                                     "Copied one"), "delivery", 60)
    assert b"%PDF" not in got[0]               # base64 in the message
    assert b"multipart/mixed" in got[0] and b"multipart/alternative" in got[0]
    # a create with a bad address or an unknown blob is refused
    bad = call(j, "Email/set", {"create": {
        "a": {"mailboxIds": {boxes["drafts"]: True},
              "to": [{"email": "not an address"}]},
        "b": {"mailboxIds": {boxes["drafts"]: True}, "attachments": [
            {"blobId": "U" + "0" * 32}]}}})[0][1]
    assert bad["notCreated"]["a"]["properties"] == ["to"]
    assert bad["notCreated"]["b"]["properties"] == ["attachments"]


def test_sender_binding_and_bad_envelopes(srv):
    j = client(srv, "alice@acme", ALICE_PW)
    ident = call(j, "Identity/get", {})[0][1]["list"][0]["id"]
    # a From: of another mailbox
    eid, _ = draft(j, "Bob <bob@acme.test>", "bob@acme.test", "Forged one")
    out = call(j, "EmailSubmission/set", {"create": {"f": {
        "identityId": ident, "emailId": eid}}})[0][1]
    assert out["notCreated"]["f"]["type"] == "forbiddenFrom"
    # an envelope sender of another mailbox
    eid2, _ = draft(j, "alice@acme.test", "bob@acme.test", "Env one")
    out = call(j, "EmailSubmission/set", {"create": {
        "m": {"identityId": ident, "emailId": eid2, "envelope": {
            "mailFrom": {"email": "bob@acme.test"},
            "rcptTo": [{"email": "bob@acme.test"}]}},
        "r": {"identityId": ident, "emailId": eid2, "envelope": {
            "mailFrom": {"email": "alice@acme.test"},
            "rcptTo": [{"email": "not an address"}]}},
        "n": {"identityId": ident, "emailId": eid2, "envelope": {
            "mailFrom": {"email": "alice@acme.test"}, "rcptTo": []}},
        "i": {"identityId": "inope", "emailId": eid2}}})[0][1]
    nc = out["notCreated"]
    assert nc["m"]["type"] == "forbiddenMailFrom"
    assert nc["r"]["type"] == "invalidRecipients"
    assert nc["n"]["type"] == "noRecipients"
    assert nc["i"]["type"] == "invalidProperties"
    assert out["created"] == {}
    time.sleep(0)
    assert imap_find(srv, "bob@acme", BOB_PW, "INBOX", "Forged one") == []


def test_vacation_response_is_the_auto_responder(srv):
    a = client(srv, "alice@acme", ALICE_PW)
    using = [CORE, MAIL, VACATION]
    r = call(a, "VacationResponse/get", {}, using)[0][1]
    v = r["list"][0]
    assert v["id"] == "singleton" and v["isEnabled"] is False
    out = call(a, "VacationResponse/set", {"ifInState": r["state"],
               "update": {"singleton": {
                   "isEnabled": True, "subject": "Away <b>now</b>",
                   "textBody": "I am away until Monday.",
                   "toDate": "2099-01-01T00:00:00Z"}}}, using)[0][1]
    assert "singleton" in out["updated"], out
    v = call(a, "VacationResponse/get", {}, using)[0][1]["list"][0]
    assert v["isEnabled"] and v["subject"] == "Away <b>now</b>"
    assert v["toDate"] == "2099-01-01T00:00:00Z" and v["fromDate"] is None
    # the CLI sees the same auto responder
    show = srv.cli("--json", "mailbox", "show", "alice@acme").stdout
    assert "I am away until Monday." in show
    bad = call(a, "VacationResponse/set", {"update": {"singleton": {
        "htmlBody": 5}}}, using)[0][1]
    assert bad["notUpdated"]["singleton"]["type"] == "invalidProperties"
    # bob writes to alice by JMAP: the auto reply comes back to bob
    b = client(srv, "bob@acme", BOB_PW)
    ident = call(b, "Identity/get", {})[0][1]["list"][0]["id"]
    eid, _ = draft(b, "bob@acme.test", "alice@acme.test", "Are you there")
    out = call(b, "EmailSubmission/set", {"create": {"s": {
        "identityId": ident, "emailId": eid}}})[0][1]
    assert "s" in out["created"], out
    got = wait_for(lambda: imap_find(srv, "bob@acme", BOB_PW, "INBOX",
                                     "Away"), "the auto reply", 60)
    assert b"I am away until Monday." in got[0]


def test_sieve_scripts(srv):
    """RFC 9661 on the script store ManageSieve edits and deliver runs: a
    script made and activated by JMAP files bob's mail"""
    sieve = "urn:ietf:params:jmap:sieve"
    using = [CORE, MAIL, sieve]
    b = client(srv, "bob@acme", BOB_PW)
    caps = b.session()["accounts"][b.account]["accountCapabilities"][sieve]
    assert "fileinto" in caps["sieveExtensions"]
    def upload(text):
        r = b.request("POST", f"/jmap/mail/upload/{b.account}/",
                      raw=text.encode(), headers={
                          "Content-Type": "application/sieve"})
        return r.json["blobId"]
    good = upload('require "fileinto";\r\nif header :contains "subject" '
                  '"Sieve me" { fileinto "Filed"; }\r\n')
    bad = upload('require "fileinto";\r\nfileinto\r\n')
    r = call(b, "SieveScript/validate", {"blobId": bad}, using)[0][1]
    assert r["error"]["type"] == "invalidSieve"
    assert call(b, "SieveScript/validate", {"blobId": good}, using)[0][1][
        "error"] is None
    out = call(b, "SieveScript/set", {"create": {
        "s": {"name": "rules", "blobId": good},
        "x": {"name": "broken", "blobId": bad}},
        "onSuccessActivateScript": "#s"}, using)[0][1]
    assert out["notCreated"]["x"]["type"] == "invalidSieve"
    sid = out["created"]["s"]["id"]
    got = call(b, "SieveScript/get", {"ids": [sid]}, using)[0][1]["list"][0]
    assert got["name"] == "rules" and got["isActive"] is True
    r = b.request("GET", f"/jmap/mail/download/{b.account}/{got['blobId']}/"
                  "rules.sieve?accept=application/sieve")
    assert r.status == 200 and b'fileinto "Filed"' in r.body
    assert call(b, "SieveScript/set", {"destroy": [sid]}, using)[0][1][
        "notDestroyed"][sid]["type"] == "scriptIsActive"
    q = call(b, "SieveScript/query", {"filter": {"isActive": True}},
             using)[0][1]
    assert q["ids"] == [sid]
    # alice writes; bob's active script files it
    a = client(srv, "alice@acme", ALICE_PW)
    ident = call(a, "Identity/get", {})[0][1]["list"][0]["id"]
    eid, _ = draft(a, "alice@acme.test", "bob@acme.test", "Sieve me now")
    assert "s" in call(a, "EmailSubmission/set", {"create": {"s": {
        "identityId": ident, "emailId": eid}}})[0][1]["created"]
    wait_for(lambda: imap_find(srv, "bob@acme", BOB_PW, "Filed",
                               "Sieve me now"), "the script's fileinto", 60)
    # deactivate, then destroy; the old blob id is gone with the script
    out = call(b, "SieveScript/set", {"onSuccessDeactivateScript": True,
                                      "destroy": [sid]}, using)[0][1]
    assert out["notDestroyed"][sid]["type"] == "scriptIsActive"
    out = call(b, "SieveScript/set", {"destroy": [sid]}, using)[0][1]
    assert out["destroyed"] == [sid]
    r = b.request("GET", f"/jmap/mail/download/{b.account}/{got['blobId']}/"
                  "x?accept=text/plain")
    assert r.status == 404
