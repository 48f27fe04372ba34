"""Connection limits an office behind one NAT address lives with (issue
11, "also"): many staff share one client address, so the per-address
limits are high (smtp/pop3 100, imap 200) and what is limited is the
logged-in sessions of one mailbox from one address (Dovecot's
mail_max_userip_connections): imap/pop3/smtp.max_userip_connections,
default 10, counted across a service's processes (lib-service
logins.c). 30+ real concurrent connections from 127.0.0.1 by 3 users."""
import imaplib
import poplib
import smtplib
import time

import pytest

from conftest import Postern

PW = {"ann@acme": "Ann-secret-5501", "ben@acme": "Ben-secret-5502",
      "cat@acme": "Cat-secret-5503"}
USERS = list(PW)
PER_USER = 10


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("limits") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-881")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    for u, pw in PW.items():
        p.cli("mailbox", "add", u, "--password", pw)
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    # two IMAP processes: the per user+address count is shared
    p.cli("config", "set", "imap.processes", "2")
    p.start(services=["smtpd", "imapd", "pop3d"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def closing(conns, how):
    for c in conns:
        try:
            how(c)
        except Exception:
            pass


def smtp_login(p, user):
    s = smtplib.SMTP("127.0.0.1", p.port("submission"),
                     local_hostname="client.test", timeout=15)
    s.ehlo()
    s.login(user, PW[user])
    return s


def test_smtp_30_sessions_of_3_users_from_one_address(srv):
    conns = []
    try:
        for i in range(3 * PER_USER):
            conns.append(smtp_login(srv, USERS[i % 3]))
        # each can still send
        for s in conns[:3]:
            assert s.noop()[0] == 250
        # the 11th AUTH of one user from this address is refused, clearly
        extra = smtplib.SMTP("127.0.0.1", srv.port("submission"),
                             local_hostname="client.test", timeout=15)
        conns.append(extra)
        extra.ehlo()
        with pytest.raises(smtplib.SMTPAuthenticationError) as e:
            extra.login("ann@acme", PW["ann@acme"])
        assert e.value.smtp_code == 454
        assert b"4.7.0" in e.value.smtp_error
        assert b"at most 10" in e.value.smtp_error
        assert "smtp.max_userip_connections" in srv.log("smtpd")
        # one of ann's sessions ends: the next AUTH gets its place
        conns[0].quit()
        deadline = time.monotonic() + 5
        while True:
            code, _ = extra.docmd("AUTH", "PLAIN " + __import__("base64")
                                  .b64encode(b"\0ann@acme\0" +
                                             PW["ann@acme"].encode())
                                  .decode())
            if code == 235 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert code == 235
    finally:
        closing(conns, lambda c: c.close())


def test_pop3_30_connections_from_one_address(srv):
    conns = []
    try:
        for i in range(3 * PER_USER):
            c = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=15)
            assert c.getwelcome().startswith(b"+OK")
            conns.append(c)
        # one logged-in session per user (the maildrop is locked), the
        # others wait before login
        for i, u in enumerate(USERS):
            conns[i].user(u)
            assert conns[i].pass_(PW[u]).startswith(b"+OK")
        for c in conns[3:]:
            assert c.capa()
        for c in conns[:3]:
            assert c.stat() == (0, 0)
    finally:
        closing(conns, lambda c: c.quit())


def test_pop3_userip_limit(srv):
    """pop3.max_userip_connections applies before the maildrop lock"""
    srv.cli("config", "set", "pop3.max_userip_connections", "1")
    conns = []
    try:
        a = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=15)
        conns.append(a)
        a.user("ben@acme")
        a.pass_(PW["ben@acme"])
        b = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=15)
        conns.append(b)
        b.user("ben@acme")
        with pytest.raises(poplib.error_proto,
                           match=r"IN-USE\] too many sessions .*at most 1"):
            b.pass_(PW["ben@acme"])
    finally:
        closing(conns, lambda c: c.quit())
        srv.cli("config", "unset", "pop3.max_userip_connections")


def imap_login(p, user):
    m = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=15)
    m.login(user, PW[user])
    return m


def test_imap_per_user_and_address_limit(srv):
    conns = []
    try:
        for i in range(3 * PER_USER):
            conns.append(imap_login(srv, USERS[i % 3]))
        for m in conns:
            assert m.noop()[0] == "OK"
        # the 11th of one user from this address: NO [LIMIT]
        m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=15)
        conns.append(m)
        with pytest.raises(imaplib.IMAP4.error,
                           match=r"LIMIT\] Too many sessions of this mailbox"):
            m.login("cat@acme", PW["cat@acme"])
        # the refused connection may try again once a place is free
        conns[2].logout()
        deadline = time.monotonic() + 5
        while True:
            try:
                m.login("cat@acme", PW["cat@acme"])
                break
            except imaplib.IMAP4.error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert m.select("INBOX")[0] == "OK"
    finally:
        closing(conns, lambda c: c.logout())
