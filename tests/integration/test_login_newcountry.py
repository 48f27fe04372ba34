"""Login visibility for the user (issue 17, item 7): a mail to the
mailbox on a login from a country it has not been used from before
(auth.new_country_mail; the country from a .mmdb the test builds mapping
loopback addresses to countries), read over IMAP after Postern's own
queue, MTA and delivery; and the user's own recent-login list over HTTP
(GET /jmap/mail/logins with the webmail's session cookie, /api/logins
with the web admin's). Real IMAP, POP3 and HTTP against a real posternd."""
import imaplib
import re
import time

import pytest

from conftest import Postern
from login_util import IMAP, Web, imap_login, make_mmdb, pop_login

PW = "Far-away-secret-6120"
NL, DE, FR = "127.0.0.1", "127.0.0.2", "127.0.0.3"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("login-newcountry")
    mmdb = base / "countries.mmdb"
    make_mmdb(mmdb, {"127.0.0.1/32": "NL", "127.0.0.2/32": "DE",
                     "127.0.0.3/32": "FR"})
    p = Postern(base / "root")
    p.init()
    p.cli("config", "set", "auth.geoip_db", str(mmdb))
    p.cli("config", "set", "auth.max_failures", "50")
    p.cli("postoffice", "add", "acme", "--password", "Pm-Secret-5521")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for ident in ("ann@acme", "ben@acme", "cat@acme", "dan@acme",
                  "boss@acme"):
        p.cli("mailbox", "add", ident, "--password", PW)
    p.cli("mailbox", "set", "boss@acme", "type=ADMIN")
    p.start(services=["httpd", "imapd", "pop3d", "smtpd", "mta", "deliver"],
            timeout=60)
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def notices(p, ident, src=NL):
    """(subject, body) of the new-country notices in ident's INBOX, read
    over IMAP from src (a country ident already uses)"""
    c = IMAP(p.port("imap"), src)
    c.login(ident, PW)
    c.select("INBOX", readonly=True)
    _, data = c.search(None, "ALL")
    out = []
    for n in data[0].split():
        _, msg = c.fetch(n, "(BODY.PEEK[])")
        text = msg[0][1].decode()
        m = re.search(r"^Subject: (A login from a new country.*?)\r?$", text,
                      re.M)
        if m:
            assert "Auto-Submitted: auto-generated" in text
            out.append((m.group(1), text.split("\r\n\r\n", 1)[1]))
    c.logout()
    return out


def wait_notices(p, ident, n, src=NL, deadline=30):
    end = time.time() + deadline
    while True:
        got = notices(p, ident, src)
        if len(got) >= n or time.time() > end:
            return got
        time.sleep(0.3)


def test_mail_on_a_new_country(srv):
    p = srv
    port = p.port("imap")
    # the first logins: a baseline, nothing to tell
    assert imap_login(port, "ann@acme", PW, NL)
    assert imap_login(port, "ann@acme", PW, NL)
    assert notices(p, "ann@acme") == []
    # another protocol from the same country: nothing either
    assert pop_login(p.port("pop3"), "ann@acme", PW, NL)
    # Germany: one notice, with the country, the address and the protocol
    assert imap_login(port, "ann@acme", PW, DE)
    got = wait_notices(p, "ann@acme", 1)
    assert len(got) == 1, got
    subject, body = got[0]
    assert subject == "A login from a new country (DE)"
    assert "ann@acme" in body and "127.0.0.2" in body and "imap" in body
    assert PW not in body
    # Germany again, over POP3 too: known now, no second notice
    assert imap_login(port, "ann@acme", PW, DE)
    assert pop_login(p.port("pop3"), "ann@acme", PW, DE)
    # a wrong password from France tells nothing (not a login)
    assert not imap_login(port, "ann@acme", PW + "x", FR)
    # France over the webmail login: the second notice
    assert Web(p.port("http"), FR, "/jmap/mail/login").login(
        "ann@acme", PW).status == 200
    got = wait_notices(p, "ann@acme", 2)
    assert [s for s, _ in got] == ["A login from a new country (DE)",
                                   "A login from a new country (FR)"], got
    assert "web" in got[1][1]
    # another mailbox's logins are its own: ben's first login from DE is
    # a baseline, not news
    assert imap_login(port, "ben@acme", PW, DE)
    assert notices(p, "ben@acme", DE) == []
    assert "new country DE" in p.log("imapd")


def test_turned_off(srv):
    p = srv
    p.cli("config", "set", "auth.new_country_mail", "no")
    try:
        assert imap_login(p.port("imap"), "dan@acme", PW, DE)
        assert imap_login(p.port("imap"), "dan@acme", PW, NL)
        # the notice would be there by the time a NL login has been
        # delivered: send ben a mail and wait for that one instead
        import smtplib
        with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=20) as s:
            s.sendmail("someone@example.net", ["dan@acme.test"],
                       "From: someone@example.net\r\nTo: dan@acme.test\r\n"
                       "Subject: marker\r\n\r\nhello\r\n")
        c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=20)
        c.login("dan@acme", PW)
        end = time.time() + 30
        while time.time() < end:
            c.select("INBOX", readonly=True)
            _, data = c.search(None, "SUBJECT", "marker")
            if data[0].split():
                break
            time.sleep(0.3)
        else:
            pytest.fail("the marker mail did not arrive")
        c.logout()
        assert notices(p, "dan@acme") == []
    finally:
        p.cli("config", "set", "auth.new_country_mail", "yes")


def test_recent_logins_of_the_user(srv):
    p = srv
    port = p.port("http")
    for _ in range(3):
        assert imap_login(p.port("imap"), "cat@acme", PW, NL)
    assert imap_login(p.port("imap"), "cat@acme", PW, DE)
    assert pop_login(p.port("pop3"), "cat@acme", PW, NL)
    assert Web(port, FR, "/jmap/mail/login").login(
        "cat@acme", PW).status == 200
    w = Web(port, DE, "/jmap/mail/login")
    assert w.login("cat@acme", PW).status == 200
    r = w.post("/jmap/mail/logins", None)
    assert r.status == 200, r.json
    rows = r.json["logins"]
    seen = {(x["protocol"], x["address"], x["country"]) for x in rows}
    assert ("imap", NL, "NL") in seen and ("imap", DE, "DE") in seen
    assert ("pop3", NL, "NL") in seen and ("web", FR, "FR") in seen
    assert ("web", DE, "DE") in seen
    imap_nl = [x for x in rows if x["protocol"] == "imap" and
               x["address"] == NL][0]
    assert imap_nl["count"] >= 3 and re.match(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", imap_nl["last"])
    # newest first
    assert rows == sorted(rows, key=lambda x: x["last"], reverse=True)
    # only one's own: dan's list has none of cat's
    dan = Web(port, DE, "/jmap/mail/login")
    assert dan.login("dan@acme", PW).status == 200
    drows = dan.post("/jmap/mail/logins", None).json["logins"]
    assert ("web", DE) in [(x["protocol"], x["address"]) for x in drows]
    assert not any(x["protocol"] in ("pop3",) or x["address"] == FR
                   for x in drows), drows
    # the web admin's session sees its own at /api/logins
    a = Web(port, NL)
    assert a.login("boss@acme", PW).status == 200
    arows = a.post("/api/logins", None).json["logins"]
    assert [(x["protocol"], x["address"]) for x in arows] == [("web", NL)]
    # no session, a forged one: 401, nothing shown
    assert Web(port, NL).post("/jmap/mail/logins", None).status == 401
    f = Web(port, NL)
    f.cookie = "postern_session=" + "A" * 43
    r = f.post("/api/logins", None)
    assert r.status == 401 and "logins" not in (r.json or {})
    # after logout the cookie shows nothing
    assert w.post("/jmap/mail/logout", {}).status in (200, 204)
    assert w.post("/jmap/mail/logins", None).status == 401
