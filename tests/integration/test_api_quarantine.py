"""Quarantine/query|get|set and SendLimit/query|set over real HTTP (issue
15: every CLI task in the browser; src/httpd/api-admin-quarantine.c and
api-admin-sendlimit.c on quarantine.h and sendlimit.h, the code `postern
quarantine` and `postern sendlimit` run). The quarantine is filled the
real way: a real clamd with the test signature finds it in the MTA (after
the SMTP 250); the breach is real authenticated submissions over the
mailbox's hourly limit, held by the MTA in bad mail."""
import smtplib
import time

import pytest

from conftest import Postern
from filter_util import MARKER, SIGNAME, clamd_start, stop
from test_api import Client
from test_mta import mailbox_msgs, make_msg, wait_for
from test_smtpd import tls_ctx

T = 60
SYS_PW = "Sy-Secret-4821"
OTHER_PW = "pm-Secret-2x9"
LIMIT = 2
EVIL = '<img src=x onerror="document.title=1">&amp;<b>quarantine</b>'


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("apiquar")
    clamd, sock = clamd_start(tmp)
    p = Postern(tmp / "root")
    try:
        p.init()
        p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
        p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
              "SYSADMIN")
        p.cli("postoffice", "add", "acme", "--password", "pm-Secret-1x8")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        for mb in ("alice", "bob", "spam"):
            p.cli("mailbox", "add", f"{mb}@acme", "--password",
                  f"{mb}-Secret-9x")
        p.cli("postoffice", "add", "other", "--password", OTHER_PW)
        p.cli("domain", "add", "other.test", "--postoffice", "other")
        for k, v in {"antivirus.clamd": sock, "antivirus.at_smtp": "0",
                     "antivirus.scan": "1", "antivirus.timeout": "5s",
                     "antivirus.on_failure": "defer",
                     "limits.mailbox_messages": str(LIMIT)}.items():
            p.cli("config", "set", k, v)
        p.start(services=["smtpd", "mta", "deliver", "httpd"], timeout=60)
        p.http = p.port("http")
        yield p
    finally:
        p.stop()
        stop(clamd)
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def client(p, login, pw):
    c = Client(p.http)
    c.login(login, pw)
    return c


def send(p, frm, to, raw):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=T) as s:
        s.sendmail(frm, to, raw.encode() if isinstance(raw, str) else raw)


def infected(to, subject):
    return make_msg("forged@remote.test", to, subject=subject,
                    body=f"attachment text {MARKER} end\r\n")


def listed(c, **args):
    r = c.call("Quarantine/query", args)
    assert r[0] == "Quarantine/query", r
    return r[1]


def test_quarantine_list_release_delete(srv):
    p = srv
    sys = client(p, "root@hq", SYS_PW)
    assert listed(sys)["total"] == 0
    m, mid = infected("alice@acme.test", EVIL)
    send(p, "forged@remote.test", ["alice@acme.test"], m)
    r = wait_for(lambda: listed(sys)["list"], T, "quarantined")
    q = r[0]
    assert q["recipients"] == "alice@acme.test"
    assert q["sender"] == "forged@remote.test" and q["from"] == "smtp"
    assert SIGNAME in q["reason"] and q["subject"] == EVIL
    assert q["size"] > len(MARKER) and abs(q["time"] - time.time()) < 300
    # the CLI shows the same entry (one writer, one reader)
    cli = p.cli("quarantine", "list", json_out=True)
    assert [x["id"] for x in cli] == [q["id"]] and cli[0]["subject"] == EVIL
    # a second one, for bob: the list is newest first
    time.sleep(1.1)
    m2, mid2 = infected("bob@acme.test", "second")
    send(p, "forged@remote.test", ["bob@acme.test"], m2)
    wait_for(lambda: listed(sys)["total"] == 2, T, "the second")
    page = listed(sys)
    assert page["ids"][1] == q["id"] and page["list"][0]["subject"] == "second"
    q2 = page["ids"][0]
    assert listed(sys, limit=1, position=1)["ids"] == [q["id"]]
    assert listed(sys, filter={"text": "bob@acme"})["ids"] == [q2]
    r = sys.call("Quarantine/query", {"position": 3})
    assert r[0] == "error" and r[1]["properties"] == ["position"]
    r = sys.call("Quarantine/query", {"filter": {"postOffice": "acme"}})
    assert r[0] == "error" and r[1]["type"] == "unsupportedFilter"
    # get: the verdict and the header
    g = sys.call("Quarantine/get", {"ids": [q["id"], "NOSUCH"]})[1]
    assert g["notFound"] == ["NOSUCH"]
    assert mid in g["list"][0]["header"] and SIGNAME in g["list"][0]["reason"]
    # an ADMIN (of another post office, or of the recipients') is refused
    # everything: a release skips the filters for every recipient
    other = client(p, "postmaster@other", OTHER_PW)
    acme = client(p, "postmaster@acme", "pm-Secret-1x8")
    for c in (other, acme):
        for name, args in (("Quarantine/query", {}),
                           ("Quarantine/get", {"ids": [q["id"]]}),
                           ("Quarantine/set", {"update": {q["id"]: {
                               "action": "release"}}}),
                           ("Quarantine/set", {"destroy": [q2]})):
            r = c.call(name, args)
            assert r[0] == "error" and r[1]["type"] == "forbidden", r
    assert listed(sys)["total"] == 2
    # bad updates
    r = sys.call("Quarantine/set", {"update": {q["id"]: {"action": "retry"}}})
    assert r[1]["notUpdated"][q["id"]]["type"] == "invalidProperties"
    r = sys.call("Quarantine/set", {"update": {"../../etc": {
        "action": "release"}}})
    assert r[1]["notUpdated"]["../../etc"]["type"] == "notFound"
    # release: delivered, without the antivirus, and audited
    r = sys.call("Quarantine/set", {"update": {q["id"]: {"action": "release"}}})
    assert q["id"] in r[1]["updated"], r
    got = wait_for(lambda: [x for x in mailbox_msgs(p.root, "alice")
                            if mid in x], T, "the released mail")
    assert MARKER in got[0]
    assert "released from the quarantine" in p.log("mta")
    # delete the other for good
    r = sys.call("Quarantine/set", {"destroy": [q2]})
    assert r[1]["destroyed"] == [q2], r
    assert listed(sys)["total"] == 0
    r = sys.call("Quarantine/set", {"destroy": [q2]})
    assert r[1]["notDestroyed"][q2]["type"] == "notFound"
    assert not [x for x in mailbox_msgs(p.root, "bob") if mid2 in x]
    a = sys.call("AuditEntry/query", {"filter": {"type": "Quarantine"}})[1]
    ops = {(e["object"], e["op"]) for e in a["list"]}
    assert ops == {(q["id"], "release"), (q2, "destroy")}
    assert all(e["actor"] == "root@hq" for e in a["list"])


def submit(p, user, n):
    with smtplib.SMTP_SSL("127.0.0.1", p.port("smtps"), context=tls_ctx(),
                          local_hostname="client.test", timeout=T) as s:
        s.login(user, user.split("@")[0] + "-Secret-9x")
        for i in range(n):
            s.sendmail(f"{user.split('@')[0]}@acme.test", ["bob@acme.test"],
                       f"From: <spam@acme.test>\r\nSubject: offer {i}\r\n"
                       f"Message-ID: <{time.time_ns()}.{i}@acme.test>\r\n\r\n"
                       f"number {i}\r\n".encode())


def test_sendlimit_shown_released_suspended(srv):
    p = srv
    sys = client(p, "root@hq", SYS_PW)
    submit(p, "spam@acme", LIMIT + 2)

    def held():
        return [q for q in p.cli("queue", "list", json_out=True)
                if q.get("held") and q["sender"] == "spam@acme.test"]
    h = wait_for(lambda: len(held()) == 2 and held(), T, "held mail")
    r = sys.call("SendLimit/query", {})[1]
    assert r["limits"]["mailbox"]["messages"] == LIMIT
    row = [x for x in r["list"] if x["id"] == "spam@acme"]
    assert row and row[0]["kind"] == "mailbox" and row[0]["near"]
    assert row[0]["messages"] == LIMIT and not row[0]["suspended"]
    assert [x for x in r["list"] if x["kind"] == "postoffice"
            and x["name"] == "acme"]
    # release one held item: delivered, not held again
    before = len(mailbox_msgs(p.root, "bob"))
    qid = h[0]["id"]
    r = sys.call("SendLimit/set", {"update": {qid: {"action": "release"}}})
    assert qid in r[1]["updated"], r
    wait_for(lambda: len(mailbox_msgs(p.root, "bob")) == before + 1, T,
             "the released mail")
    assert len(held()) == 1
    r = sys.call("SendLimit/set", {"update": {"nosuchid": {
        "action": "release"}}})
    assert r[1]["notUpdated"]["nosuchid"]["type"] == "notFound"
    # suspend and lift, as `postern sendlimit` does
    r = sys.call("SendLimit/set", {"update": {"alice@acme": {
        "suspended": True, "reason": "<b>stolen</b>"}}})
    assert "alice@acme" in r[1]["updated"], r
    rows = p.cli("sendlimit", "list", json_out=True)
    assert [x for x in rows if x["name"] == "alice@acme"
            and x["reason"] == "<b>stolen</b>"]
    r = sys.call("SendLimit/query", {})[1]
    assert r["list"][0]["id"] == "alice@acme" and r["list"][0]["suspended"]
    r = sys.call("SendLimit/set", {"update": {"alice@acme": {
        "suspended": False}}})
    assert "alice@acme" in r[1]["updated"], r
    r = sys.call("SendLimit/set", {"update": {"alice@acme": {
        "suspended": False}}})
    assert r[1]["notUpdated"]["alice@acme"]["type"] == "notFound"
    r = sys.call("SendLimit/set", {"update": {"nobody@acme": {
        "suspended": True}}})
    assert r[1]["notUpdated"]["nobody@acme"]["type"] == "notFound"
    r = sys.call("SendLimit/set", {"update": {"alice@acme": {
        "suspended": "yes"}}})
    assert r[1]["notUpdated"]["alice@acme"]["type"] == "invalidProperties"
    a = sys.call("AuditEntry/query", {"filter": {"type": "SendLimit"}})[1]
    assert {e["op"] for e in a["list"]} == {"release", "suspend", "unsuspend"}
    # an ADMIN is refused
    other = client(p, "postmaster@other", OTHER_PW)
    for name, args in (("SendLimit/query", {}),
                       ("SendLimit/set", {"update": {"spam@acme": {
                           "suspended": True}}})):
        r = other.call(name, args)
        assert r[0] == "error" and r[1]["type"] == "forbidden", r
    assert not [x for x in p.cli("sendlimit", "list", json_out=True)
                if x.get("suspended")]
