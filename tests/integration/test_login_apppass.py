"""App passwords and the two-factor rule on the mail protocols (issue 17,
item 2): a mailbox with two-factor on (twofactor_mode, from the mailbox,
its post office or the global default) logs in over IMAP, POP3, SMTP AUTH
and ManageSieve only with an app password; its main password is refused.
XMPP (SASL PLAIN, raw stream) too. App passwords are named, listed with
their last use, removable, and a
removed one (or two-factor coming on for a main-password session) ends
the live sessions that used it. Real imaplib/poplib/smtplib clients."""
import imaplib
import time

import pytest

from conftest import Postern
from login_util import (IMAP, imap_login, pop_login, sieve_login,
                        smtp_login)

PW = "Main-secret-5521"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("login-apppass") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-611")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("postoffice", "add", "zeta", "--password", "pm-secret-612")
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    p.start(services=["smtpd", "imapd", "pop3d", "managesieve", "xmppd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def app_add(p, ident, name):
    return p.cli("mailbox", "app-password", "add", ident, name,
                 json_out=True)["password"]


def all_protocols(p, ident, pw):
    return {"imap": imap_login(p.port("imap"), ident, pw),
            "pop3": pop_login(p.port("pop3"), ident, pw),
            "smtp": smtp_login(p.port("submission"), ident, pw),
            "sieve": sieve_login(p.port("managesieve"), ident, pw)}


def test_two_factor_mailbox_takes_only_app_passwords(srv):
    p = srv
    p.cli("mailbox", "add", "carol@acme", "--password", PW)
    app = app_add(p, "carol@acme", "phone")
    assert len(app) >= 20 and app != PW
    # two-factor off: both work
    assert imap_login(p.port("imap"), "carol@acme", PW)
    assert imap_login(p.port("imap"), "carol@acme", app)
    p.cli("mailbox", "set", "carol@acme", "twofactor_mode=always")
    assert all_protocols(p, "carol@acme", PW) == {
        "imap": False, "pop3": False, "smtp": False, "sieve": False}
    assert all_protocols(p, "carol@acme", app) == {
        "imap": True, "pop3": True, "smtp": True, "sieve": True}
    # the refusal says why in the log, without the password
    log = p.log("imapd")
    assert "main password refused: two-factor is on" in log
    assert PW not in log and app not in log
    # listed with its last use; the failures are in the statistics
    rows = p.cli("mailbox", "app-password", "list", "carol@acme",
                 json_out=True)
    assert [r["name"] for r in rows] == ["phone"]
    assert rows[0]["last_used"] != "never"
    assert rows[0]["last_protocol"] in ("imap", "pop3", "smtp", "sieve")
    assert rows[0]["last_address"] == "127.0.0.1"
    fails = p.cli("mailbox", "failed-logins", "--mailbox", "carol@acme",
                  json_out=True)
    assert any("two-factor" in f["reason"] and f["address"] == "127.0.0.1"
               for f in fails), fails
    per_addr = p.cli("mailbox", "failed-logins", "--by", "address",
                     json_out=True)
    assert per_addr[0]["address"] == "127.0.0.1" and \
        per_addr[0]["failures"] >= 4
    per_mb = p.cli("mailbox", "failed-logins", "--by", "mailbox",
                   "--mailbox", "carol@acme", json_out=True)
    assert per_mb == [dict(per_mb[0], mailbox="carol@acme")] and \
        per_mb[0]["failures"] >= 4
    # a wrong password stays wrong
    assert not imap_login(p.port("imap"), "carol@acme", app + "x")
    seen = p.cli("mailbox", "logins", "carol@acme", json_out=True)
    assert {r["protocol"] for r in seen} >= {"imap", "pop3", "smtp", "sieve"}
    show = p.cli("mailbox", "twofactor", "show", "carol@acme", json_out=True)
    assert show["challenge"] == "always" and show["app_passwords"] == 1


def test_post_office_and_global_defaults(srv):
    p = srv
    p.cli("mailbox", "add", "dave@zeta", "--password", PW)
    app = app_add(p, "dave@zeta", "laptop")
    assert imap_login(p.port("imap"), "dave@zeta", PW)
    # the global default reaches mailboxes whose post office inherits
    p.cli("config", "set", "auth.twofactor_mode", "new_ip")
    try:
        assert not imap_login(p.port("imap"), "dave@zeta", PW)
        assert imap_login(p.port("imap"), "dave@zeta", app)
        # the post office overrides the global default...
        p.cli("postoffice", "set", "zeta", "twofactor_mode=never")
        assert imap_login(p.port("imap"), "dave@zeta", PW)
        # ...and the mailbox its post office
        p.cli("mailbox", "set", "dave@zeta", "twofactor_mode=always")
        assert not pop_login(p.port("pop3"), "dave@zeta", PW)
        assert pop_login(p.port("pop3"), "dave@zeta", app)
    finally:
        p.cli("config", "set", "auth.twofactor_mode", "never")


def test_removed_app_password_ends_its_sessions(srv):
    p = srv
    p.cli("mailbox", "add", "erin@acme", "--password", PW)
    app = app_add(p, "erin@acme", "tablet")
    other = app_add(p, "erin@acme", "desktop")
    # a duplicate name is refused
    r = p.cli("mailbox", "app-password", "add", "erin@acme", "tablet",
              check=False)
    assert r.returncode == 4 and "already" in r.stderr
    main = IMAP(p.port("imap"))
    main.login("erin@acme", PW)
    a = IMAP(p.port("imap"))
    a.login("erin@acme", app)
    b = IMAP(p.port("imap"))
    b.login("erin@acme", other)
    for c in (main, a, b):
        c.select("INBOX")
    # removing needs --yes without a terminal
    r = p.cli("mailbox", "app-password", "remove", "erin@acme", "tablet",
              check=False)
    assert r.returncode == 2
    p.cli("mailbox", "app-password", "remove", "erin@acme", "tablet", "--yes")
    assert not imap_login(p.port("imap"), "erin@acme", app)
    ended = wait_ended(a)
    assert ended, "the session of the removed app password goes on"
    assert b.noop()[0] == "OK"
    # two-factor coming on ends the main password's session, not the
    # app password's
    p.cli("mailbox", "set", "erin@acme", "twofactor_mode=always")
    assert wait_ended(main)
    assert b.noop()[0] == "OK"
    b.logout()
    r = p.cli("mailbox", "app-password", "remove", "erin@acme", "nope",
              "--yes", check=False)
    assert r.returncode == 3


def wait_ended(c, bound=15):
    deadline = time.time() + bound
    while time.time() < deadline:
        try:
            typ, _ = c.noop()
            if typ != "OK":
                return True
        except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError):
            return True
        time.sleep(0.2)
    return False


def xmpp_login(p, user, pw):
    """True when SASL PLAIN succeeds on the XMPP stream of acme.test"""
    import base64
    from xmpp_util import Raw, header
    c = Raw(p.port("xmpp"))
    try:
        c.send(header("acme.test"))
        c.expect(r"<stream:features>.*?</stream:features>")
        cred = base64.b64encode(f"\0{user}\0{pw}".encode()).decode()
        c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
               f"mechanism='PLAIN'>{cred}</auth>")
        m = c.expect(r"<(success|failure) xmlns='urn:ietf:params:xml:ns:"
                     r"xmpp-sasl'")
        return m.group(1) == "success"
    finally:
        c.close()


def test_xmpp_takes_only_app_passwords(srv):
    p = srv
    p.cli("mailbox", "add", "xena@acme", "--password", PW)
    app = app_add(p, "xena@acme", "chat app")
    assert xmpp_login(p, "xena", PW)
    p.cli("mailbox", "set", "xena@acme", "twofactor_mode=always")
    assert not xmpp_login(p, "xena", PW)
    assert xmpp_login(p, "xena", app)
    listed = p.cli("mailbox", "app-password", "list", "xena@acme",
                   json_out=True)
    assert [x.get("last_protocol", x.get("lastProtocol")) for x in listed] \
        == ["xmpp"], listed
    p.cli("mailbox", "app-password", "remove", "xena@acme", "chat app",
          "--yes")
    assert not xmpp_login(p, "xena", app)
