"""Revocation reaches live sessions (issue 11, item 7), and a NUL byte in
a user name or password is a failed login (item 8b).

A session opened before `postern mailbox passwd`, `mailbox set ...
disabled=yes` or `postoffice set ... disabled=yes` is ended within a few
seconds in every protocol, with the protocol's own goodbye (IMAP * BYE,
POP3 -ERR, ManageSieve BYE, SMTP 421 4.7.0); an authenticated SMTP session
of a disabled mailbox cannot send another message; sessions of other
mailboxes go on. Real imaplib/poplib/smtplib clients and a raw
ManageSieve client (test_managesieve.Client) on loopback."""
import base64
import imaplib
import poplib
import smtplib
import socket
import time

import pytest

from conftest import Postern
from test_managesieve import Client as SieveClient

BOUND = 5.0       # seconds within which a revoked session must end
PW = "Orig-secret-4471"
NEWPW = "Fresh-secret-9035"
OTHER_PW = "Other-secret-2218"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("revocation") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-771")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("postoffice", "add", "zeta", "--password", "pm-secret-772")
    p.cli("domain", "add", "zeta.test", "--postoffice", "zeta")
    p.cli("config", "set", "smtp.require_tls_for_auth", "no")
    p.start(services=["smtpd", "imapd", "pop3d", "managesieve"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def add_mailbox(p, ident, pw=PW):
    p.cli("mailbox", "add", ident, "--password", pw)


# -- one logged-in session per protocol ---------------------------------

class Sessions:
    """An IMAP, POP3, ManageSieve and SMTP session logged in as ident."""

    def __init__(self, p, ident, pw=PW):
        self.ident = ident
        self.imap = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=15)
        self.imap.login(ident, pw)
        self.imap.select("INBOX")
        self.pop = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=15)
        self.pop.user(ident)
        self.pop.pass_(pw)
        self.sieve = SieveClient(p.port("managesieve"))
        self.sieve.response()
        self.sieve.starttls()
        r = self.sieve.login(ident, pw)
        assert r[-1].startswith("OK"), r
        self.smtp = smtplib.SMTP("127.0.0.1", p.port("submission"),
                                 local_hostname="client.test", timeout=15)
        self.smtp.ehlo()
        self.smtp.login(ident, pw)

    def alive(self):
        """every session still answers"""
        typ, _ = self.imap.noop()
        assert typ == "OK"
        assert self.pop.noop().startswith(b"+OK")
        r = self.sieve.cmd("NOOP")
        assert r[-1].startswith("OK"), r
        assert self.smtp.noop()[0] == 250

    def close(self):
        for f in (self.imap.shutdown, self.pop.close, self.sieve.close,
                  self.smtp.close):
            try:
                f()
            except (OSError, imaplib.IMAP4.error, poplib.error_proto,
                    smtplib.SMTPException):
                pass


def wait_goodbye(sess, t0):
    """Read what each server sends unasked: the protocol's goodbye, then
    the end of the connection, all within BOUND of t0. Returns the
    goodbye lines."""
    got = {}
    left = lambda: max(0.1, t0 + BOUND - time.monotonic())

    sess.imap.sock.settimeout(left())
    got["imap"] = sess.imap.readline()
    assert sess.imap.readline() == b"", "IMAP connection not closed"

    sess.pop.sock.settimeout(left())
    got["pop3"] = sess.pop.file.readline()
    assert sess.pop.file.readline() == b"", "POP3 connection not closed"

    sess.sieve.sock.settimeout(left())
    got["sieve"] = sess.sieve.f.readline()
    assert sess.sieve.f.readline() == b"", "ManageSieve connection not closed"

    sess.smtp.sock.settimeout(left())
    code, msg = sess.smtp.getreply()
    got["smtp"] = (code, msg)
    elapsed = time.monotonic() - t0
    assert elapsed < BOUND, f"sessions ended after {elapsed:.1f} s"
    return got


def check_goodbyes(got):
    assert got["imap"].startswith(b"* BYE"), got
    assert b"revoked" in got["imap"]
    assert got["pop3"].startswith(b"-ERR [AUTH]"), got
    assert got["sieve"].startswith(b"BYE"), got
    assert got["smtp"][0] == 421 and got["smtp"][1].startswith(b"4.7.0"), got


def test_passwd_ends_sessions_in_every_protocol(srv):
    add_mailbox(srv, "rita@acme")
    add_mailbox(srv, "sam@acme", OTHER_PW)
    rita = Sessions(srv, "rita@acme")
    sam = Sessions(srv, "sam@acme", OTHER_PW)
    try:
        rita.alive()
        srv.cli("mailbox", "passwd", "rita@acme", "--password", NEWPW)
        t0 = time.monotonic()       # committed when the CLI is done
        check_goodbyes(wait_goodbye(rita, t0))
        # another mailbox's sessions are untouched
        sam.alive()
        # the new password logs in again, the old one does not
        again = Sessions(srv, "rita@acme", NEWPW)
        again.alive()
        again.close()
        with pytest.raises(imaplib.IMAP4.error):
            m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=15)
            try:
                m.login("rita@acme", PW)
            finally:
                m.shutdown()
    finally:
        rita.close()
        sam.close()
    log = srv.log("imapd")
    assert "credentials revoked" in log


def test_disable_ends_sessions_and_sends_nothing_more(srv):
    add_mailbox(srv, "tom@acme")
    add_mailbox(srv, "uma@acme", OTHER_PW)
    tom = Sessions(srv, "tom@acme")
    uma = Sessions(srv, "uma@acme", OTHER_PW)
    # a second SMTP session of tom that sends right after the change
    sender = smtplib.SMTP("127.0.0.1", srv.port("submission"),
                          local_hostname="client.test", timeout=15)
    try:
        sender.ehlo()
        sender.login("tom@acme", PW)
        assert sender.mail("tom@acme.test")[0] == 250
        assert sender.rcpt("friend@example.org")[0] == 250
        assert sender.data(b"Subject: before\r\n\r\nfirst\r\n")[0] == 250
        srv.cli("mailbox", "set", "tom@acme", "disabled=yes")
        t0 = time.monotonic()
        # at once, without waiting for the sweep: MAIL re-checks (or the
        # sweep was first and the 421 is already there)
        try:
            code, msg = sender.mail("tom@acme.test")
        except smtplib.SMTPServerDisconnected:
            code, msg = 421, b"4.7.0 (disconnected)"
        assert code == 421 and msg.startswith(b"4.7.0"), (code, msg)
        check_goodbyes(wait_goodbye(tom, t0))
        uma.alive()
    finally:
        tom.close()
        uma.close()
        sender.close()
    log = srv.log("smtpd")
    assert "credentials revoked" in log


def test_postoffice_disable_ends_its_sessions(srv):
    add_mailbox(srv, "vic@zeta")
    add_mailbox(srv, "wes@acme", OTHER_PW)
    vic = Sessions(srv, "vic@zeta")
    wes = Sessions(srv, "wes@acme", OTHER_PW)
    try:
        srv.cli("postoffice", "set", "zeta", "disabled=yes")
        t0 = time.monotonic()
        check_goodbyes(wait_goodbye(vic, t0))
        wes.alive()
    finally:
        vic.close()
        wes.close()
        srv.cli("postoffice", "set", "zeta", "disabled=no")


@pytest.mark.parametrize("change", ["prevent_auth", "delete"])
def test_prevent_auth_and_delete_end_sessions(srv, change):
    ident = f"yan{change[0]}@acme"
    add_mailbox(srv, ident)
    add_mailbox(srv, f"zed{change[0]}@acme", OTHER_PW)
    yan = Sessions(srv, ident)
    zed = Sessions(srv, f"zed{change[0]}@acme", OTHER_PW)
    try:
        if change == "delete":
            srv.cli("mailbox", "del", ident, "--yes")
        else:
            srv.cli("mailbox", "set", ident, "prevent_auth=yes")
        t0 = time.monotonic()
        check_goodbyes(wait_goodbye(yan, t0))
        zed.alive()
    finally:
        yan.close()
        zed.close()


def test_unrelated_change_keeps_sessions(srv):
    """A config change that revokes nothing (the sweep runs) ends no
    session."""
    add_mailbox(srv, "xena@acme")
    xena = Sessions(srv, "xena@acme")
    try:
        srv.cli("mailbox", "set", "xena@acme", "friendly_name=Xena X")
        time.sleep(2.5)
        xena.alive()
    finally:
        xena.close()


# -- NUL bytes in credentials --------------------------------------------

def b64(s):
    return base64.b64encode(s).decode()


def test_nul_in_password_fails_everywhere(srv):
    """The right password followed by a NUL and more never logs in."""
    add_mailbox(srv, "nora@acme")
    bad = PW.encode() + b"\0junk"
    # IMAP AUTHENTICATE PLAIN (initial response)
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=15)
    typ, data = m._simple_command(
        "AUTHENTICATE", "PLAIN", b64(b"\0nora@acme\0" + bad))
    assert typ == "NO" and b"AUTHENTICATIONFAILED" in data[-1], (typ, data)
    # IMAP LOGIN with the password as a literal
    m.literal = bad
    typ, data = m._simple_command("LOGIN", "nora@acme")
    assert typ == "NO" and b"AUTHENTICATIONFAILED" in data[-1], (typ, data)
    m.login("nora@acme", PW)       # the session survived
    m.logout()
    # the user name as a (LITERAL+) literal holding a NUL, right password
    with socket.create_connection(("127.0.0.1", srv.port("imap")),
                                  timeout=15) as raw:
        f = raw.makefile("rb")
        assert f.readline().startswith(b"* OK")
        user = b"nora@acme\0x"
        raw.sendall(b"x1 LOGIN {%d+}\r\n%s \"%s\"\r\n" %
                    (len(user), user, PW.encode()))
        assert f.readline().startswith(b"x1 NO [AUTHENTICATIONFAILED]")
    # POP3 PASS and AUTH PLAIN
    p = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=15)
    p.user("nora@acme")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] invalid"):
        p._shortcmd("PASS " + bad.decode())
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] invalid"):
        p.user("nora@acme\0x")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\] invalid"):
        p._shortcmd("AUTH PLAIN " + b64(b"\0nora@acme\0" + bad))
    p.user("nora@acme")
    assert p.pass_(PW).startswith(b"+OK")
    p.quit()
    # SMTP AUTH PLAIN and LOGIN
    s = smtplib.SMTP("127.0.0.1", srv.port("submission"),
                     local_hostname="client.test", timeout=15)
    s.ehlo()
    code, msg = s.docmd("AUTH", "PLAIN " + b64(b"\0nora@acme\0" + bad))
    assert code == 535, (code, msg)
    code, _ = s.docmd("AUTH", "LOGIN " + b64(b"nora@acme"))
    assert code == 334
    code, msg = s.docmd(b64(bad))
    assert code == 535, (code, msg)
    s.login("nora@acme", PW)
    s.quit()
    # ManageSieve AUTHENTICATE PLAIN
    c = SieveClient(srv.port("managesieve"))
    c.response()
    c.starttls()
    tok = b64(b"\0nora@acme\0" + bad)
    r = c.cmd(f'AUTHENTICATE "PLAIN" "{tok}"')
    assert r[-1].startswith("NO"), r
    assert c.login("nora@acme", PW)[-1].startswith("OK")
    c.close()
    for svc in ("imapd", "pop3d", "smtpd", "managesieve"):
        assert "NUL byte" in srv.log(svc), svc


def test_nul_counts_as_a_failed_login(tmp_path):
    """auth.max_failures NUL attempts throttle the address like wrong
    passwords do."""
    p = Postern(tmp_path / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-773")
    p.cli("mailbox", "add", "nora@acme", "--password", PW)
    p.cli("config", "set", "auth.max_failures", "2")
    p.start(services=["pop3d", "imapd"])
    try:
        for _ in range(2):
            c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=15)
            c.user("nora@acme")
            with pytest.raises(poplib.error_proto):
                c._shortcmd("PASS " + PW + "\0")
            c.close()
        c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=15)
        c.user("nora@acme")
        with pytest.raises(poplib.error_proto, match="too many failed"):
            c.pass_(PW)
        c.close()
        for _ in range(2):
            m = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=15)
            m.literal = PW.encode() + b"\0"
            typ, _ = m._simple_command("LOGIN", "nora@acme")
            assert typ == "NO"
            m.shutdown()
        m = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=15)
        with pytest.raises(imaplib.IMAP4.error, match="Too many failed"):
            m.login("nora@acme", PW)
        m.shutdown()
    finally:
        p.stop()
    assert not p.sanitizer_reports()


def test_nul_in_admin_passwords_refused(srv, tmp_path):
    """The CLI's password file and users import refuse a NUL: cut there,
    the stored password would be a shorter one than the administrator
    gave."""
    add_mailbox(srv, "olga@acme")
    pwfile = tmp_path / "pw"
    pwfile.write_bytes(NEWPW.encode() + b"\0tail\n")
    r = srv.cli("mailbox", "passwd", "olga@acme", "--password-file",
                str(pwfile), check=False)
    assert r.returncode != 0
    assert "NUL" in r.stderr, r.stderr
    # the password did not change
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=15)
    m.login("olga@acme", PW)
    m.logout()
    csv = tmp_path / "users.csv"
    csv.write_bytes(b"pia@acme.test," + NEWPW.encode() + b"\0tail\n")
    r = srv.cli("users", "import", str(csv), "--postoffice", "acme",
                check=False)
    assert "NUL" in r.stdout + r.stderr, (r.stdout, r.stderr)
    m = imaplib.IMAP4("127.0.0.1", srv.port("imap"), timeout=15)
    with pytest.raises(imaplib.IMAP4.error):
        m.login("pia@acme", NEWPW)
    m.shutdown()
