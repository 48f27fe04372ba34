"""NOTIFY (RFC 5465) over raw sockets: STATUS for other mailboxes (also
when a file lands in new/ the way a delivery puts it, outside imapd),
the selected mailbox's EXISTS with MessageNew's attributes, FETCH FLAGS
and EXPUNGE pushed without a command, MailboxName and SubscriptionChange
as LIST responses, NOTIFY NONE, BADEVENT and the syntax errors."""
import os
import re
import socket
import time

import pytest

from conftest import Postern

USER, PW = "ntf@acme", "notify-pw-55120"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("notify") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-881")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", USER, "--password", PW)
    p.start(services=["imapd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


class Conn:
    def __init__(self, p):
        self.s = socket.create_connection(("127.0.0.1", p.port("imap")),
                                          timeout=30)
        self.f = self.s.makefile("rwb")
        assert self.f.readline().startswith(b"* OK")
        self.n = 0
        r = self.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PW.encode()))
        assert r[-1].split()[1] == b"OK", r

    def line(self):
        ln = self.f.readline()
        if not ln:
            raise AssertionError("disconnected")
        m = re.search(rb"\{(\d+)\}\r\n$", ln)
        if m:
            ln += self.f.read(int(m.group(1))) + self.f.readline()
        return ln

    def cmd(self, line):
        self.n += 1
        tag = b"t%d" % self.n
        self.f.write(tag + b" " + line + b"\r\n")
        self.f.flush()
        out = []
        while True:
            out.append(self.line())
            if out[-1].startswith(tag + b" "):
                return out

    def ok(self, line):
        r = self.cmd(line)
        assert r[-1].split()[1] == b"OK", r
        return r[:-1]

    def wait_for(self, pattern, deadline=30):
        """unsolicited lines until one matches (no command sent)"""
        seen = []
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            self.s.settimeout(max(end - time.monotonic(), 0.1))
            try:
                ln = self.line()
            except socket.timeout:
                break
            seen.append(ln)
            if re.search(pattern, ln):
                self.s.settimeout(30)
                return ln, seen
        raise AssertionError(f"no {pattern!r} in {seen}")

    def close(self):
        try:
            self.cmd(b"LOGOUT")
        finally:
            self.s.close()


def deliver(p, folder, subject):
    """a message put into a folder's new/ as a delivery agent does"""
    root = p.root / "store" / "acme" / "ntf"
    if folder != "INBOX":
        root = root / ("." + folder)
    data = (f"From: a@example.org\r\nTo: {USER}\r\nSubject: {subject}\r\n"
            f"\r\nbody\r\n").encode()
    base = f"{int(time.time())}.M{time.monotonic_ns()}P{os.getpid()}.t"
    (root / "tmp" / base).write_bytes(data)
    os.rename(root / "tmp" / base, root / "new" / base)


def test_notify_syntax_badevent_and_initial_status(srv):
    c = Conn(srv)
    try:
        cap = b"".join(c.ok(b"CAPABILITY"))
        assert b" NOTIFY" in cap
        c.ok(b"CREATE nt1")
        r = c.cmd(b"NOTIFY SET (personal (AnnotationChange))")
        assert re.match(rb"t\d+ NO \[BADEVENT \(MessageNew MessageExpunge "
                        rb"FlagChange MailboxName SubscriptionChange\)\]",
                        r[-1]), r
        r = c.cmd(b"NOTIFY SET (selected (MessageNew))")
        assert b" BAD " in r[-1], r
        r = c.cmd(b"NOTIFY SET (personal (MessageNew (UID)))")
        assert b" BAD " in r[-1], r
        r = c.cmd(b"NOTIFY SET (nowhere (MessageNew))")
        assert b" BAD " in r[-1], r
        r = c.cmd(b"NOTIFY")
        assert b" BAD " in r[-1], r
        # STATUS: one per watched mailbox, items by event (RFC 5465 5.1)
        un = c.ok(b"NOTIFY SET STATUS (mailboxes nt1 (MessageNew "
                  b"MessageExpunge))")
        assert any(re.match(rb'\* STATUS "?nt1"? \(MESSAGES 0 UIDNEXT 1 '
                            rb'UIDVALIDITY \d+\)', ln) for ln in un), un
        un = c.ok(b"NOTIFY SET STATUS (mailboxes nt1 (MessageExpunge))")
        assert any(re.match(rb'\* STATUS "?nt1"? \(MESSAGES 0\)', ln)
                   for ln in un), un
        un = c.ok(b"NOTIFY SET (mailboxes nt1 (MessageNew MessageExpunge))")
        assert not any(b"STATUS" in ln for ln in un), un
        c.ok(b"NOTIFY NONE")
    finally:
        c.close()


def test_notify_status_of_other_mailbox_from_outside(srv):
    a, b = Conn(srv), Conn(srv)
    try:
        a.ok(b"CREATE nt2")
        a.ok(b"SELECT INBOX")
        a.ok(b"NOTIFY SET (selected (MessageNew MessageExpunge)) "
             b"(personal (MessageNew MessageExpunge FlagChange))")
        # a delivery outside imapd, into a mailbox not selected
        deliver(srv, "nt2", "outside")
        ln, _ = a.wait_for(rb'^\* STATUS "?nt2"? \(MESSAGES 1 UIDNEXT 2 '
                           rb'UIDVALIDITY \d+\)')
        # another session expunges it: MESSAGES again
        b.ok(b"SELECT nt2")
        b.ok(b"STORE 1 +FLAGS \\Deleted")
        a.wait_for(rb'^\* STATUS "?nt2"? \(.*HIGHESTMODSEQ')
        b.ok(b"EXPUNGE")
        a.wait_for(rb'^\* STATUS "?nt2"? \(MESSAGES 0')
        a.ok(b"NOTIFY NONE")
        deliver(srv, "nt2", "unseen")
        un = a.ok(b"NOOP")
        assert not any(b"STATUS" in ln for ln in un), un
    finally:
        a.close()
        b.close()


def test_notify_selected_pushes_new_flags_expunge(srv):
    a, b = Conn(srv), Conn(srv)
    try:
        a.ok(b"CREATE nt3")
        a.ok(b"SELECT nt3")
        a.ok(b"NOTIFY SET (selected (MessageNew (UID BODY.PEEK[HEADER."
             b"FIELDS (Subject)]) MessageExpunge FlagChange))")
        deliver(srv, "nt3", "pushed one")
        a.wait_for(rb"^\* 1 EXISTS")
        ln, _ = a.wait_for(rb"^\* 1 FETCH \(UID 1 BODY\[HEADER\.FIELDS "
                           rb"\(SUBJECT\)\]")
        assert b"Subject: pushed one" in ln, ln
        b.ok(b"SELECT nt3")
        b.ok(b"STORE 1 +FLAGS \\Flagged")
        a.wait_for(rb"^\* 1 FETCH \(.*FLAGS \(.*\\Flagged")
        b.ok(b"STORE 1 +FLAGS \\Deleted")
        b.ok(b"EXPUNGE")
        a.wait_for(rb"^\* 1 EXPUNGE")
    finally:
        a.close()
        b.close()


def test_notify_mailbox_names_and_subscriptions(srv):
    a, b = Conn(srv), Conn(srv)
    try:
        a.ok(b"NOTIFY SET (subtree nt4 (MailboxName SubscriptionChange))")
        b.ok(b"CREATE nt4.kid")
        a.wait_for(rb'^\* LIST \(\) "\." "?nt4\.kid"?\r')
        b.ok(b"SUBSCRIBE nt4.kid")
        a.wait_for(rb'^\* LIST \(\\Subscribed\) "\." "?nt4\.kid"?\r')
        b.ok(b"RENAME nt4.kid nt4.other")
        a.wait_for(rb'^\* LIST \(.*\) "\." "?nt4\.other"? '
                   rb'\("OLDNAME" \("?nt4\.kid"?\)\)')
        b.ok(b"DELETE nt4.other")
        a.wait_for(rb'^\* LIST \(\\NonExistent\) "\." "?nt4\.other"?\r')
        # outside the subtree: nothing
        b.ok(b"CREATE elsewhere")
        un = a.ok(b"NOOP")
        assert not any(b"elsewhere" in ln for ln in un), un
    finally:
        a.close()
        b.close()
