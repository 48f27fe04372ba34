"""URLAUTH (RFC 4467), URLFETCH BINARY (RFC 5524) and BURL (RFC 4468)
over real sockets, with imaplib and smtplib: GENURLAUTH, URLFETCH and
RESETKEY of the INTERNAL mechanism; the access identifiers (user+,
authuser, anonymous, submit+); EXPIRE; the refusals (wrong token, another
user's mailbox, malformed and over-long URLs, unknown mechanisms), after
each of which the session goes on; the key file's mode; and a message
sent by reference through the submission port (BURL) ending up queued
byte for byte."""
import imaplib
import os
import re
import smtplib
import stat
import time
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Postern

for _c in ("GENURLAUTH", "RESETKEY", "URLFETCH"):
    imaplib.Commands.setdefault(_c, ("AUTH", "SELECTED"))

HOST = "mx.postern.test"
USERS = {"alice@acme": "alice-url-pw", "bob@acme": "bob-url-pw",
         "carol@acme": "carol-url-pw"}
MSG = (b"From: Alice <alice@acme.test>\r\nTo: Bob <bob@acme.test>\r\n"
       b"Subject: by reference\r\nMessage-ID: <burl-1@acme.test>\r\n"
       b"Date: Mon, 07 Dec 2026 15:00:00 +0000\r\n"
       b"MIME-Version: 1.0\r\n"
       b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
       b"--b1\r\nContent-Type: text/plain\r\n\r\nhello there\r\n"
       b"--b1\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\nAAECA2hpAA==\r\n"
       b"--b1--\r\n")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("urlauth") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-4467")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for u, pw in USERS.items():
        p.cli("mailbox", "add", u, "--password", pw)
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    p.start(services=["imapd", "smtpd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def imap(srv, user):
    c = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=20)
    c.login(user, USERS[user])
    return c


def run(c, name, *args):
    """a command imaplib does not know: (status, its untagged data)"""
    typ, dat = c._simple_command(name, *args)
    return typ, c._untagged_response(typ, dat, name)[1]


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture(scope="module")
def alice(srv):
    """alice's session with MSG as UID 1 of INBOX and of Work"""
    c = imap(srv, "alice@acme")
    c.create("Work")
    for box in ("INBOX", "Work"):
        typ, _ = c.append(box, None, None, MSG)
        assert typ == "OK"
    yield c
    c.logout()


def rump(mailbox="INBOX", uid=1, access="user+alice%40acme", extra="",
         user="alice%40acme", host=HOST):
    return f"imap://{user}@{host}/{mailbox}/;UID={uid}{extra};URLAUTH={access}"


def gen(c, url):
    typ, dat = run(c, "GENURLAUTH", q(url), "INTERNAL")
    assert typ == "OK", (typ, dat)
    full = dat[0].decode()
    full = full[1:-1] if full.startswith('"') else full
    assert full.startswith(url + ":INTERNAL:"), full
    assert re.fullmatch(r"[0-9a-f]{64}", full.rsplit(":", 1)[1]), full
    return full


def fetch(c, url):
    """URLFETCH of one URL: its data, or None for NIL"""
    typ, dat = run(c, "URLFETCH", q(url))
    assert typ == "OK", (typ, dat)
    item = dat[0]
    if isinstance(item, tuple):
        return item[1]
    assert item.decode().endswith(" NIL"), item
    return None


def test_capability_and_select(alice):
    typ, dat = alice.capability()
    caps = dat[0].decode().split()
    assert "URLAUTH" in caps and "URLAUTH=BINARY" in caps
    typ, _ = alice.select("Work", readonly=True)
    assert typ == "OK"
    assert alice.untagged_responses.get("URLMECH") == [b"INTERNAL"]
    alice.unselect() if hasattr(alice, "unselect") else alice.close()


def test_genurlauth_urlfetch_resetkey(srv, alice):
    url = gen(alice, rump())
    assert fetch(alice, url) == MSG
    # a section and a range of it
    sec = gen(alice, rump(extra="/;SECTION=1"))
    assert fetch(alice, sec) == b"hello there"
    part = gen(alice, rump(extra="/;SECTION=1/;PARTIAL=6.5"))
    assert fetch(alice, part) == b"there"
    # the same rump gives the same URL until the key is reset
    assert gen(alice, rump()) == url
    # RESETKEY of another mailbox leaves INBOX's URLs working
    typ, _ = run(alice, "RESETKEY", "Work", "INTERNAL")
    assert typ == "OK"
    assert fetch(alice, url) == MSG
    typ, _ = run(alice, "RESETKEY", "INBOX")
    assert typ == "OK"
    assert fetch(alice, url) is None and fetch(alice, sec) is None
    url2 = gen(alice, rump())
    assert url2 != url and fetch(alice, url2) == MSG
    # RESETKEY without a mailbox: every key goes
    typ, _ = run(alice, "RESETKEY")
    assert typ == "OK"
    assert fetch(alice, url2) is None
    # the keys are the mailbox's own secret: mode 0600
    gen(alice, rump())
    keys = list((srv.root).rglob("urlauth-keys"))
    assert len(keys) == 1, keys
    assert stat.S_IMODE(os.stat(keys[0]).st_mode) == 0o600
    assert b"alice" not in keys[0].read_bytes()


def test_access_identifiers(srv, alice):
    bob, carol = imap(srv, "bob@acme"), imap(srv, "carol@acme")
    try:
        for_bob = gen(alice, rump(access="user+bob%40acme"))
        assert fetch(bob, for_bob) == MSG
        assert fetch(carol, for_bob) is None
        assert fetch(alice, for_bob) is None     # not even its maker
        anyone = gen(alice, rump(access="authuser"))
        assert fetch(bob, anyone) == MSG and fetch(carol, anyone) == MSG
        anon = gen(alice, rump(mailbox="Work", access="anonymous"))
        assert fetch(carol, anon) == MSG
        # submit+: only the submission server (BURL), never over IMAP
        sub = gen(alice, rump(access="submit+alice%40acme"))
        assert fetch(alice, sub) is None and fetch(bob, sub) is None
        # the user@host form: alice at her post office's name
        short = gen(alice, rump(user="alice", host="acme",
                                access="user+bob%40acme"))
        assert fetch(bob, short) == MSG
    finally:
        bob.logout()
        carol.logout()


def test_expire(alice):
    def stamp(dt):
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(timezone.utc)
    later = gen(alice, rump(extra=f";EXPIRE={stamp(now + timedelta(hours=1))}"))
    assert fetch(alice, later) == MSG
    past = gen(alice, rump(extra=f";EXPIRE={stamp(now - timedelta(seconds=5))}"))
    assert fetch(alice, past) is None
    # an offset form, expiring in two seconds
    soon = (now + timedelta(seconds=2)).astimezone(
        timezone(timedelta(hours=2)))
    url = gen(alice, rump(extra=";EXPIRE=" + soon.strftime(
        "%Y-%m-%dT%H:%M:%S+02:00")))
    assert fetch(alice, url) == MSG
    time.sleep(3.2)
    assert fetch(alice, url) is None


def test_refusals_and_the_session_goes_on(srv, alice):
    good = gen(alice, rump())
    # a wrong token: one digit changed, or the token moved to another UID
    tok = good.rsplit(":", 1)[1]
    bad = good[:-64] + ("0" if tok[0] != "0" else "1") + tok[1:]
    assert fetch(alice, bad) is None
    assert fetch(alice, good.replace(";UID=1;", ";UID=2;")) is None
    # a wrong UIDVALIDITY, a message that does not exist
    assert fetch(alice, gen(alice, rump(mailbox="INBOX;UIDVALIDITY=7"))) is None
    assert fetch(alice, gen(alice, rump(uid=99))) is None
    # another user's mailbox: alice cannot make bob's URLs
    typ, dat = run(alice, "GENURLAUTH",
                   q(rump(user="bob%40acme")), "INTERNAL")
    assert typ == "NO", dat
    # nor URLs of a mailbox that does not exist
    typ, _ = run(alice, "GENURLAUTH", q(rump(mailbox="Nope")), "INTERNAL")
    assert typ == "NO"
    # malformed: no URLAUTH, a token already there, a bad access, no
    # user, not imap://, an unknown mechanism
    for url in ("imap://alice%40acme@h/INBOX/;UID=1",
                good,
                rump(access="friends"),
                f"imap://{HOST}/INBOX/;UID=1;URLAUTH=anonymous",
                "http://x/INBOX/;UID=1;URLAUTH=anonymous",
                rump(extra=";EXPIRE=yesterday"),
                rump(uid=0)):
        typ, dat = run(alice, "GENURLAUTH", q(url), "INTERNAL")
        assert typ == "NO", (url, dat)
    typ, _ = run(alice, "GENURLAUTH", q(rump()), "XSAMPLE")
    assert typ == "NO"
    typ, _ = run(alice, "RESETKEY", "INBOX", "XSAMPLE")
    assert typ == "NO"
    with pytest.raises(imaplib.IMAP4.error):
        run(alice, "GENURLAUTH", q(rump()))          # BAD: no mechanism
    for url in ("garbage", rump(), good[:-10], good + "00" * 40,
                good.replace("INTERNAL", "XSAMPLE")):
        assert fetch(alice, url) is None, url
    # too long: more than 4096 octets
    long_url = rump(mailbox="INBOX" + "/x" * 2100)
    typ, _ = run(alice, "GENURLAUTH", q(long_url), "INTERNAL")
    assert typ == "NO"
    # (a URL this long comes back as a literal, then NIL)
    typ, dat = run(alice, "URLFETCH", q(long_url + ":INTERNAL:" + "0" * 64))
    assert typ == "OK" and dat[-1].endswith(b" NIL"), dat
    with pytest.raises(imaplib.IMAP4.error):
        run(alice, "URLFETCH", "(" + q(good) + " FOO)")   # BAD parameter
    assert alice.noop()[0] == "OK"
    assert fetch(alice, good) == MSG


def test_urlfetch_binary_and_bodypartstructure(srv, alice):
    sec2 = gen(alice, rump(extra="/;SECTION=2"))
    typ, dat = run(alice, "URLFETCH", "(" + q(sec2) + " BINARY)")
    assert typ == "OK"
    head, data = dat[0]
    # NUL in the decoded data: a literal8 (RFC 3516)
    assert head.endswith(b"(BINARY ~{7}"), head
    assert data == b"\x00\x01\x02\x03hi\x00"
    typ, dat = run(alice, "URLFETCH",
                   "(" + q(sec2) + " BODYPARTSTRUCTURE BODY)")
    head, data = dat[0]
    assert b'(BODYPARTSTRUCTURE ("application" "octet-stream" NIL NIL NIL ' \
        b'"base64" ' in head, head
    assert data == b"AAECA2hpAA=="
    # only the structure
    sec1 = gen(alice, rump(extra="/;SECTION=1"))
    typ, dat = run(alice, "URLFETCH", "(" + q(sec1) + " BODYPARTSTRUCTURE)")
    assert dat[0].startswith(b'"' + sec1.encode() +
                             b'" (BODYPARTSTRUCTURE ("text" "plain"'), dat
    # two URLs in one command, one of them refused
    typ, dat = run(alice, "URLFETCH", q(sec1), q("imap://nobody@x/INBOX/"
                                                 ";UID=1;URLAUTH=anonymous"
                                                 ":INTERNAL:" + "0" * 64))
    assert typ == "OK"
    assert dat[0][1] == b"hello there" and dat[1].endswith(b" NIL")


def smtp(srv, user=None):
    s = smtplib.SMTP("127.0.0.1", srv.port("submission"),
                     local_hostname="client.test", timeout=20)
    s.ehlo()
    if user:
        s.login(user, USERS[user])
    return s


def queued(srv):
    d = srv.root / "queue" / "smtp" / "inbound" / "new"
    return {p.name: p.read_bytes() for p in d.glob("*.msg")}


def test_burl(srv, alice):
    url = gen(alice, rump(mailbox="Work", access="submit+alice%40acme"))
    s = smtp(srv, "alice@acme")
    try:
        assert s.has_extn("burl") and "imap" in s.esmtp_features["burl"]
        before = queued(srv)
        s.mail("alice@acme.test")
        assert s.rcpt("bob@acme.test")[0] == 250
        code, resp = s.docmd("BURL", url + " LAST")
        assert code == 250, resp
        new = {k: v for k, v in queued(srv).items() if k not in before}
        assert len(new) == 1
        msg = list(new.values())[0]
        assert msg.endswith(MSG), msg[-400:]
        # BDAT then BURL: a header of our own before the message
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        hdr = b"X-Forwarded-By: alice\r\n"
        s.send(b"BDAT %d\r\n" % len(hdr) + hdr)
        assert s.getreply()[0] == 250
        code, resp = s.docmd("BURL", url + " LAST")
        assert code == 250, resp
        # a new message around one part of the stored one
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        top = (b"From: alice@acme.test\r\nSubject: part\r\n"
               b"Message-ID: <part-1@acme.test>\r\n"
               b"Date: Mon, 07 Dec 2026 15:00:00 +0000\r\n\r\n")
        s.send(b"BDAT %d\r\n" % len(top) + top)
        assert s.getreply()[0] == 250
        sec = gen(alice, rump(mailbox="Work", access="submit+alice%40acme",
                              extra="/;SECTION=1"))
        code, resp = s.docmd("BURL", sec)
        assert code == 250 and b"octets" in resp
        code, resp = s.docmd("BURL", sec + " LAST")
        assert code == 250, resp
        msgs = [v for k, v in queued(srv).items() if k not in before]
        assert len(msgs) == 3
        assert any(m.endswith(hdr + MSG) for m in msgs)
        assert any(m.endswith(top + b"hello therehello there") for m in msgs)
        # refusals: the transaction ends, the session goes on
        for bad_url, want in (
                (gen(alice, rump(access="submit+bob%40acme")), 554),
                (gen(alice, rump(access="user+alice%40acme")), 554),
                (url[:-1] + ("0" if url[-1] != "0" else "1"), 554),
                ("imap://x", 554),
                # longer than 4096 octets: refused by BURL, and a line
                # longer than BURL's 4112 by the command reader
                ("imap://alice%40acme@h/" + "x" * 4076, 501),
                ("imap://alice%40acme@h/" + "x" * 5000, 500)):
            s.mail("alice@acme.test")
            s.rcpt("bob@acme.test")
            code, resp = s.docmd("BURL", bad_url + " LAST")
            assert code == want, (bad_url[:80], code, resp)
            if code == 554:
                assert b"5.6.6" in resp
            s.rset()
        # BURL before MAIL
        code, _ = s.docmd("BURL", url + " LAST")
        assert code == 503
        assert s.noop()[0] == 250
    finally:
        s.quit()
    # without AUTH
    s = smtp(srv)
    try:
        code, _ = s.docmd("BURL", url + " LAST")
        assert code == 530
    finally:
        s.quit()
    # bob cannot send alice's submit+alice URL
    s = smtp(srv, "bob@acme")
    try:
        s.mail("bob@acme.test")
        s.rcpt("carol@acme.test")
        code, resp = s.docmd("BURL", url + " LAST")
        assert code == 554, resp
    finally:
        s.quit()


def test_catenate_with_urlauth(srv, alice):
    """APPEND CATENATE takes URLAUTH URLs, of another user's mailbox too
    (RFC 4469 5), under the same checks as URLFETCH"""
    for_bob = gen(alice, rump(access="user+bob%40acme", extra="/;SECTION=1"))
    bob = imap(srv, "bob@acme")
    try:
        text = b"From: bob@acme.test\r\nSubject: quoting alice\r\n\r\n"
        typ, dat = bob._simple_command(
            "APPEND", "INBOX", "CATENATE (TEXT {%d+}\r\n" % len(text) +
            text.decode() + " URL " + q(for_bob) + ")")
        assert typ == "OK", dat
        bob.select("INBOX")
        typ, dat = bob.fetch("1", "(BODY.PEEK[])")
        assert dat[0][1] == text + b"hello there"
        # a wrong token: NO [BADURL], nothing appended
        bad = for_bob[:-1] + ("0" if for_bob[-1] != "0" else "1")
        typ, dat = bob._simple_command(
            "APPEND", "INBOX", "CATENATE (URL " + q(bad) + ")")
        assert typ == "NO" and b"[BADURL" in dat[-1], dat
        # alice's own URL for bob is no good to carol
        carol = imap(srv, "carol@acme")
        typ, dat = carol._simple_command(
            "APPEND", "INBOX", "CATENATE (URL " + q(for_bob) + ")")
        assert typ == "NO", dat
        carol.logout()
        assert bob.select("INBOX")[1] == [b"1"]
    finally:
        bob.logout()


def token_for(srv, alice, url_rump, mailbox="INBOX"):
    """the right INTERNAL token of a rump, made from the mailbox's key as
    the server would (HMAC-SHA256 of the rump): what a GENURLAUTH that
    took any host would have handed out"""
    import hashlib
    import hmac
    gen(alice, rump(mailbox=mailbox))            # the folder has a key
    typ, dat = alice.status(mailbox, "(MAILBOXID)")
    assert typ == "OK", dat
    mid = re.search(rb"MAILBOXID \(([^)]+)\)", dat[0]).group(1).decode()
    keyfile = list(srv.root.rglob("urlauth-keys"))
    lines = [ln.split() for k in keyfile for ln in k.read_text().splitlines()]
    key = [bytes.fromhex(v) for i, v in lines if i == mid][0]
    return hmac.new(key, url_rump.encode(), hashlib.sha256).hexdigest()


def test_url_of_another_host(srv, alice):
    """a URL names its server (RFC 5092 3.2, RFC 4467 3): one for another
    host is neither made nor resolved here, even with a right token"""
    other = rump(host="imap.elsewhere.example")
    typ, dat = run(alice, "GENURLAUTH", q(other), "INTERNAL")
    assert typ == "NO", dat
    forged = other + ":INTERNAL:" + token_for(srv, alice, other)
    assert fetch(alice, forged) is None
    bob = imap(srv, "bob@acme")
    try:
        anyone = rump(host="imap.elsewhere.example", access="authuser")
        url = anyone + ":INTERNAL:" + token_for(srv, alice, anyone)
        assert fetch(bob, url) is None
    finally:
        bob.logout()
    sub = rump(host="imap.elsewhere.example", access="submit+alice%40acme")
    s = smtp(srv, "alice@acme")
    try:
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        code, resp = s.docmd("BURL", sub + ":INTERNAL:" +
                             token_for(srv, alice, sub) + " LAST")
        assert code == 554, resp
    finally:
        s.quit()
    # this server's names: server.hostname, a hosted domain, a post
    # office (the realm of alice@acme), in any case
    for host in (HOST, "acme.test", "ACME", "Mx.Postern.Test"):
        assert fetch(alice, gen(alice, rump(host=host))) == MSG, host
    # a disabled domain is not
    srv.cli("domain", "add", "old.test", "--postoffice", "acme")
    srv.cli("domain", "set", "old.test", "disabled=yes")
    typ, dat = run(alice, "GENURLAUTH", q(rump(host="old.test")), "INTERNAL")
    assert typ == "NO", dat


def test_burl_limits(srv, alice):
    """BURL reads at most BURL_MAX_URLS (64) URLs and 4 times
    smtp.max_message_size of message files for one message: 552 5.3.4
    past either, the transaction ends, the session goes on"""
    sec = gen(alice, rump(mailbox="Work", access="submit+alice%40acme",
                          extra="/;SECTION=1"))
    s = smtp(srv, "alice@acme")
    try:
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        for i in range(64):
            code, resp = s.docmd("BURL", sec)
            assert code == 250, (i, resp)
        code, resp = s.docmd("BURL", sec + " LAST")
        assert code == 552 and b"5.3.4" in resp and b"64" in resp, resp
        assert s.noop()[0] == 250
        # a new message starts the count again
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        code, resp = s.docmd("BURL", sec + " LAST")
        assert code == 250, resp
    finally:
        s.quit()
    # the read budget: each BURL of a part reads the whole file (about
    # 500 octets here); with a 1 KB limit, 4 KB in all
    srv.cli("config", "set", "smtp.max_message_size", "1K")
    try:
        s = smtp(srv, "alice@acme")
        s.mail("alice@acme.test")
        s.rcpt("bob@acme.test")
        codes = [s.docmd("BURL", sec)[0] for _ in range(12)]
        assert codes[:8] == [250] * 8, codes
        assert 552 in codes, codes
        assert s.noop()[0] == 250
        s.quit()
    finally:
        srv.cli("config", "set", "smtp.max_message_size", "50M")
