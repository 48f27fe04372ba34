"""The daily reports, the records to publish and the welcome message in
the admin API and the web admin (src/httpd/api-admin-reports.c,
web/admin/reports.js): DmarcReport/query|get and TlsReport/query|get
give what `postern dmarc report` and `postern tls report` build (the same
bytes), TlsRecord/get what `postern tls dns` prints with the checks of
`postern diag`; a SYSADMIN's reports, an ADMIN's own domains' records.
Over real HTTP, and in Chromium at 1280 and 390 px."""
import gzip
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, Postern
from test_api import Client

SYS_PW = "Rt-Secret-8812"
ACME_PW = "Ap-Secret-9931"
CHROMIUM = "/usr/bin/chromium"
WEB_MODULES = ROOT / "web" / "node_modules"
DETAIL = '<img src=x onerror="window.__xss=1"><b>refused</b>'


def yesterday():
    t = (int(time.time()) // 86400 - 1) * 86400
    return time.strftime("%Y-%m-%d", time.gmtime(t)), t


def dmarc_row(t, ip, domain, dis, dkim, spf, rua):
    return "\t".join(["1", str(t), ip, domain, domain, domain, "reject", "-",
                      "-", "r", "r", "n", "100", dis, dkim, spf, "softfail",
                      f"{domain}:{dkim}", rua]) + "\n"


def tls_row(t, domain, mx, result, detail=""):
    return "\t".join(["1", str(t), "sts", domain,
                      f"version: STSv1|mode: enforce|mx: {mx}|max_age: 86400",
                      mx, "192.0.2.1", "198.51.100.9", result, detail]) + "\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("reports") / "root")
    p.init()
    p.cli("postoffice", "add", "hq", "--password", "Hk-Secret-1234")
    p.cli("mailbox", "add", "root@hq", "--password", SYS_PW, "--type",
          "SYSADMIN")
    p.cli("postoffice", "add", "acme", "--password", ACME_PW)
    p.cli("postoffice", "add", "beta", "--password", "Bt-Secret-7712")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("domain", "add", "beta.test", "--postoffice", "beta")
    day, t = yesterday()
    (p.root / "dmarc").mkdir(exist_ok=True)
    (p.root / "dmarc" / f"{day}.tsv").write_text(
        dmarc_row(t + 10, "192.0.2.7", "sender.example", "none", "pass",
                  "fail", "mailto:agg@sender.example") +
        dmarc_row(t + 20, "192.0.2.8", "sender.example", "reject", "fail",
                  "fail", "mailto:agg@sender.example") +
        dmarc_row(t + 30, "203.0.113.5", "other.example", "quarantine",
                  "fail", "fail", "mailto:d@other.example") +
        "garbage line\n")
    (p.root / "tlsrpt").mkdir(exist_ok=True)
    (p.root / "tlsrpt" / f"{day}.tsv").write_text(
        tls_row(t + 5, "far.example", "mx.far.example", "success") +
        tls_row(t + 6, "far.example", "mx.far.example",
                "certificate-host-mismatch", DETAIL) +
        tls_row(t + 7, "near.example", "mx.near.example", "success"))
    p.start(services=["httpd"])
    p.day = day
    try:
        yield p
    finally:
        p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def client(p, login, pw):
    c = Client(p.port("http"))
    c.login(login, pw)
    return c


def test_dmarc_reports_are_the_clis(srv, tmp_path):
    c = client(srv, "root@hq", SYS_PW)
    q = c.call("DmarcReport/query", {"date": srv.day})[1]
    assert q["day"] == srv.day and q["rows"] == 3 and q["skipped"] == 1, q
    got = {r["domain"]: r for r in q["list"]}
    assert set(got) == {"sender.example", "other.example"}
    s = got["sender.example"]
    assert (s["messages"], s["dmarcPass"], s["rejected"]) == (2, 1, 1), s
    assert s["rua"] == ["mailto:agg@sender.example"] and "xml" not in s
    assert got["other.example"]["quarantined"] == 1
    # the body is the CLI's file, byte for byte
    srv.cli("dmarc", "report", "--date", srv.day, "--out", tmp_path / "d")
    g = c.call("DmarcReport/get", {"date": srv.day,
                                   "ids": ["sender.example", "nope.example"]})[1]
    assert g["notFound"] == ["nope.example"], g
    [one] = g["list"]
    assert (tmp_path / "d" / one["fileName"]).read_text() == one["xml"]
    assert "<feedback" in one["xml"] and "192.0.2.8" in one["xml"]
    # yesterday by default; a day without rows is an empty list
    assert c.call("DmarcReport/query", {})[1]["day"] == srv.day
    assert c.call("DmarcReport/query", {"date": "2001-01-01"})[1]["list"] == []
    # errors name the argument; an ADMIN is refused
    name, e, _ = c.call("DmarcReport/query", {"date": "yesterday"})
    assert name == "error" and e["type"] == "invalidArguments" and \
        e["properties"] == ["date"], e
    name, e, _ = c.call("DmarcReport/get", {"ids": "x"})
    assert name == "error" and e["properties"] == ["ids"], e
    a = client(srv, "postmaster@acme", ACME_PW)
    for m in ("DmarcReport/query", "TlsReport/query", "TlsReport/get"):
        name, e, _ = a.call(m, {"ids": ["far.example"]})
        assert name == "error" and e["type"] == "forbidden", (m, e)


def test_tls_reports_are_the_clis(srv, tmp_path):
    c = client(srv, "root@hq", SYS_PW)
    q = c.call("TlsReport/query", {"date": srv.day})[1]
    assert q["sessions"] == 3 and q["skipped"] == 0, q
    got = {r["domain"]: r for r in q["list"]}
    assert (got["far.example"]["sessions"], got["far.example"]["successful"],
            got["far.example"]["failed"]) == (2, 1, 1), got
    assert "rua" not in got["far.example"] and "noReport" not in \
        got["far.example"]
    # lookup: the tests' resolver has no _smtp._tls record for them
    q = c.call("TlsReport/query", {"date": srv.day, "lookup": True})[1]
    for r in q["list"]:
        assert "rua" not in r and r["noReport"], r
    g = c.call("TlsReport/get", {"date": srv.day, "ids": ["far.example"]})[1]
    [one] = g["list"]
    rep = one["report"]
    assert rep["policies"][0]["summary"] == {
        "total-successful-session-count": 1,
        "total-failure-session-count": 1}, rep
    # the report of the CLI's code (tlsrpt_report_make): its report-id,
    # the failure detail kept as text (the CLI writes a file only for a
    # domain that publishes _smtp._tls, which the tests' DNS has not)
    assert rep["report-id"] == one["reportId"] == \
        f"{srv.day}.far.example@{srv.cli('config', 'get', 'server.hostname').stdout.strip()}"
    assert [fd["failure-reason-code"] for p in rep["policies"]
            for fd in p.get("failure-details", [])] == [DETAIL], rep
    name, e, _ = c.call("TlsReport/query", {"lookup": "yes"})
    assert name == "error" and e["properties"] == ["lookup"], e


def test_tls_records_and_their_checks(srv):
    c = client(srv, "root@hq", SYS_PW)
    want = srv.cli("tls", "dns", json_out=True)
    r = c.call("TlsRecord/get", {})[1]
    assert r["checked"] is False
    recs = {(x["name"], x["type"], x["record"]) for d in r["list"]
            for x in d["records"]}
    if r["tlsa"].get("record"):
        recs.add((r["tlsa"]["name"], "TLSA", r["tlsa"]["record"]))
    assert recs == {(x["name"], x["type"], x["record"]) for x in want}, \
        (recs, want)
    assert [d["id"] for d in r["list"]] == ["acme.test", "beta.test"]
    # an ADMIN: its own domains; another's is notFound
    a = client(srv, "postmaster@acme", ACME_PW)
    r = a.call("TlsRecord/get", {"ids": ["acme.test", "beta.test"]})[1]
    assert [d["id"] for d in r["list"]] == ["acme.test"] and \
        r["notFound"] == ["beta.test"], r
    # checked: nothing is published in the tests' DNS, and it says so
    r = c.call("TlsRecord/get", {"ids": ["acme.test"], "check": True})[1]
    assert r["checked"] is True
    for x in r["list"][0]["records"]:
        assert x["status"] in ("info", "warning"), x
        assert x["found"].startswith("not published"), x
    name, e, _ = c.call("TlsRecord/get", {"check": 1})
    assert name == "error" and e["properties"] == ["check"], e


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK),
                    reason="chromium is not installed "
                           "(scripts/install-deps.sh installs it)")
def test_reports_pages_in_chromium(srv, tmp_path):
    assert (WEB_MODULES / "playwright-core").is_dir()
    shots = tmp_path / "screenshots"
    shots.mkdir()
    welcome = 'Subject: Hi <b>there</b>\n\n<img src=x onerror="window.__xss=2">\n'
    env = dict(os.environ, BASE=f"http://127.0.0.1:{srv.port('http')}",
               SYS=f"root@hq:{SYS_PW}", ADMIN=f"postmaster@acme:{ACME_PW}",
               DAY=srv.day, WELCOME=welcome, SHOTS=str(shots),
               WEB_MODULES=str(WEB_MODULES))
    r = subprocess.run(["node", str(ROOT / "tests/browser/webadmin-reports.mjs")],
                       env=env, capture_output=True, text=True, timeout=240)
    stable = BUILD / "screenshots"
    stable.mkdir(exist_ok=True)
    for f in shots.glob("*.png"):
        shutil.copy(f, stable / f.name)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}\n{srv.log('httpd')[-3000:]}"
    assert "webadmin reports browser test: ok" in r.stdout
    # the post office settings form saved through PostOffice/set
    c = client(srv, "root@hq", SYS_PW)
    g = c.call("PostOffice/get", {"ids": ["acme"]})[1]["list"][0]
    assert g["webadmin_max_mailboxes"] == 7 and \
        g["footer_text"] == "Sent by <b>acme</b>", g
    # the page saved the welcome message as typed
    assert srv.cli("welcome", "show", json_out=True)["message"] == welcome
    srv.cli("welcome", "clear")


def test_post_office_actions(srv):
    """AdminMail/send, MailboxMessage/purge and PostOffice/set
    setMailboxQuota_kb: the CLI's code for manual 5.3.9.5-8, its limits
    for an ADMIN, its errors and its audit rows."""
    c = client(srv, "root@hq", SYS_PW)
    a = client(srv, "postmaster@acme", ACME_PW)
    srv.cli("mailbox", "add", "ann@acme", "--password", "An-Secret-4411")
    srv.cli("mailbox", "add", "ben@beta", "--password", "Bn-Secret-5522")
    # email every user of acme (postmaster and ann), then one
    r = a.call("AdminMail/send", {"postOffice": "acme", "subject": "<b>Hi</b>",
                                  "body": "Maintenance at 22:00.\n"})[1]
    assert r == {"accountId": "admin", "sent": 2, "failed": 0}, r
    r = c.call("AdminMail/send", {"mailbox": "ann@acme", "subject": "Only you",
                                  "body": "x", "from": "boss@acme.test"})[1]
    assert r["sent"] == 1, r
    q = c.call("MailboxMessage/query", {"filter": {"mailbox": "ann@acme"}})[1]
    assert sorted(m["subject"] for m in q["list"]) == ["<b>Hi</b>", "Only you"]
    # an ADMIN reaches only its own post office; errors name the argument
    for args in ({"postOffice": "beta", "subject": "s", "body": "b"},
                 {"mailbox": "ben@beta", "subject": "s", "body": "b"}):
        name, e, _ = a.call("AdminMail/send", args)
        assert name == "error" and e["type"] in ("invalidArguments",
                                                 "notFound"), e
        assert "beta" in json.dumps(e) or e["type"] == "invalidArguments"
    for args, prop in (({"postOffice": "acme", "body": "b"}, "subject"),
                       ({"postOffice": "acme", "subject": "s"}, "body"),
                       ({"postOffice": "acme", "subject": "s", "body": "b",
                         "from": "not an address"}, "from")):
        name, e, _ = c.call("AdminMail/send", args)
        assert name == "error" and e["properties"] == [prop], (args, e)
    # delete INBOX messages: counted first (dry run), then deleted
    r = a.call("MailboxMessage/purge", {"postOffice": "acme",
                                        "everything": True, "dryRun": True})[1]
    assert (r["deleted"], r["mailboxes"], r["dryRun"]) == (3, 2, True), r
    assert len(c.call("MailboxMessage/query", {"filter": {
        "mailbox": "ann@acme"}})[1]["list"]) == 2
    r = a.call("MailboxMessage/purge", {"mailbox": "ann@acme",
                                        "olderThanDays": 1})[1]
    assert r["deleted"] == 0, r
    r = a.call("MailboxMessage/purge", {"mailbox": "ann@acme",
                                        "everything": True})[1]
    assert r["deleted"] == 2, r
    assert c.call("MailboxMessage/query", {"filter": {
        "mailbox": "ann@acme"}})[1]["list"] == []
    name, e, _ = a.call("MailboxMessage/purge", {"all": True,
                                                  "everything": True})
    assert name == "error" and e["type"] == "forbidden", e
    name, e, _ = c.call("MailboxMessage/purge", {"postOffice": "acme"})
    assert name == "error" and e["type"] == "invalidArguments", e
    name, e, _ = c.call("MailboxMessage/purge", {"postOffice": "acme",
                                                 "before": "12/01/2026"})
    assert name == "error" and e["properties"] == ["before"], e
    # set quotas: every current mailbox; a SYSADMIN's
    name, r, _ = c.call("PostOffice/set", {"update": {"acme": {
        "setMailboxQuota_kb": 20480}}})
    assert r["updated"]["acme"] == {"mailboxes": 2}, r
    g = c.call("Mailbox/get", {"ids": ["ann@acme", "postmaster@acme"],
                               "properties": ["quota_kb"]})[1]
    assert {m["quota_kb"] for m in g["list"]} == {20480}, g
    name, r, _ = a.call("PostOffice/set", {"update": {"acme": {
        "setMailboxQuota_kb": 0}}})
    assert r["notUpdated"]["acme"]["type"] == "forbidden", r
    name, r, _ = c.call("PostOffice/set", {"update": {"acme": {
        "setMailboxQuota_kb": "lots"}}})
    assert r["notUpdated"]["acme"]["properties"] == ["setMailboxQuota_kb"], r
    # the audit rows, the CLI's alike
    srv.cli("postoffice", "email", "acme", "--subject", "From the shell",
            "--body-file", "/dev/null")
    rows = c.call("AuditEntry/query", {"filter": {"type": "AdminMail"},
                                       "limit": 10})[1]["list"]
    got = [(e["object"], e["op"], e["postOffice"], e["actor"]) for e in rows]
    assert got[0][:3] == ("acme", "send", "acme") and \
        got[0][3].startswith("cli:"), got
    assert ("acme", "send", "acme", "postmaster@acme") in got, got
    rows = c.call("AuditEntry/query", {"filter": {"type": "MailboxMessage"},
                                       "limit": 10})[1]["list"]
    # this test's purges (the post office's ADMIN; the page tests before
    # it purged too, as root@hq): the two real ones, not the dry run
    assert [(e["object"], e["op"]) for e in rows
            if e["actor"] == "postmaster@acme"] == [
        ("ann@acme", "destroy"), ("ann@acme", "destroy")], rows


def test_schema_of_objects(srv):
    """Schema/get: each object type's fields as PostOffice/get names them,
    with the field table's type, range and help"""
    c = client(srv, "root@hq", SYS_PW)
    s = c.call("Schema/get", {"type": "PostOffice"})[1]
    ids = {f["id"]: f for f in s["list"]}
    g = c.call("PostOffice/get", {"ids": ["acme"]})[1]["list"][0]
    assert set(ids) <= set(g), set(ids) - set(g)
    m = ids["webadmin_max_mailboxes"]
    assert m["type"] == "int" and m["min"] == 0 and m["help"], m
    for t in ("Domain", "Mailbox", "Group", "List"):
        assert c.call("Schema/get", {"type": t})[1]["list"], t
    q = {f["id"]: f for f in c.call("Schema/get", {"type": "Mailbox"})[1]["list"]}
    assert q["quota_kb"]["unit"] == "KB", q["quota_kb"]
    name, e, _ = c.call("Schema/get", {"type": "Setting"})
    assert name == "error" and e["properties"] == ["type"], e
