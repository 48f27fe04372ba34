"""CONTEXT=SEARCH (RFC 5267) over raw sockets: SEARCH RETURN (UPDATE)
kept up to date by this session's and another session's changes (ADDTO,
REMOVEFROM, by sequence number and by UID, REMOVEFROM before the
EXPUNGE that takes a result away), MIN/MAX/COUNT sent again when the
result changes, CANCELUPDATE, the NOUPDATE limit and the refusals."""
import re

import pytest

from conftest import Postern
from test_imap_notify import Conn

USER, PW = "ntf@acme", "notify-pw-55120"   # Conn logs in as this one


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("context") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-881")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", USER, "--password", PW)
    p.start(services=["imapd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def esearch(lines, tag):
    return [ln.rstrip(b"\r\n") for ln in lines
            if ln.startswith(b'* ESEARCH (TAG "%s")' % tag)]


def fill(c, box, n):
    c.ok(b"CREATE " + box)
    for i in range(n):
        msg = b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        c.ok(b"APPEND %s {%d+}\r\n%s" % (box, len(msg), msg))


def test_search_update_by_own_and_other_sessions(srv):
    a, b = Conn(srv), Conn(srv)
    try:
        cap = b"".join(a.ok(b"CAPABILITY"))
        assert b"CONTEXT=SEARCH" in cap
        fill(a, b"cx1", 5)
        a.ok(b"SELECT cx1")
        b.ok(b"SELECT cx1")
        r = a.ok(b"SEARCH RETURN (UPDATE ALL COUNT) SEEN")
        assert esearch(r, b"t%d" % a.n) == [
            b'* ESEARCH (TAG "t%d") COUNT 0' % a.n], r
        tag = b"t%d" % a.n
        # this session's own STORE
        r = a.ok(b"STORE 1,2,4 +FLAGS \\Seen")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") ADDTO (0 1:2,4)' % tag,
            b'* ESEARCH (TAG "%s") COUNT 3' % tag], r
        # another session's: told at our next command
        b.ok(b"STORE 2 -FLAGS \\Seen")
        r = a.ok(b"NOOP")
        assert esearch(r, tag)[0] == \
            b'* ESEARCH (TAG "%s") REMOVEFROM (0 2)' % tag, r
        # an expunge: REMOVEFROM by the number its EXPUNGE gives
        b.ok(b"STORE 4 +FLAGS \\Deleted")
        b.ok(b"EXPUNGE")
        r = a.ok(b"NOOP")
        rf = [i for i, ln in enumerate(r) if b"REMOVEFROM (0 4)" in ln]
        ex = [i for i, ln in enumerate(r) if ln.startswith(b"* 4 EXPUNGE")]
        assert rf and ex and rf[0] < ex[0], r
        # a new message that matches
        msg = b"Subject: new\r\n\r\nx\r\n"
        b.ok(b"APPEND cx1 (\\Seen) {%d+}\r\n%s" % (len(msg), msg))
        r = a.ok(b"NOOP")
        assert b'* ESEARCH (TAG "%s") ADDTO (0 5)' % tag in \
            [ln.rstrip(b"\r\n") for ln in r], r
        # CANCELUPDATE: no more updates
        a.ok(b'CANCELUPDATE "%s"' % tag)
        r = a.ok(b"STORE 3 +FLAGS \\Seen")
        assert not esearch(r, tag), r
        r = a.cmd(b'CANCELUPDATE "%s"' % tag)
        assert b" BAD " in r[-1], r
    finally:
        a.close()
        b.close()


def test_uid_update_limits_and_refusals(srv):
    a = Conn(srv)
    try:
        fill(a, b"cx2", 3)
        a.ok(b"SELECT cx2")
        uids = [int(m.group(1)) for m in
                (re.search(rb"UID (\d+)", ln) for ln in a.ok(b"FETCH 1:* UID"))
                if m]
        r = a.ok(b"UID SEARCH RETURN (UPDATE) FLAGGED")
        tag = b"t%d" % a.n
        assert esearch(r, tag) == [b'* ESEARCH (TAG "%s") UID' % tag], r
        r = a.ok(b"STORE 3 +FLAGS \\Flagged")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") UID ADDTO (0 %d)' % (tag, uids[2])], r
        r = a.cmd(b"SEARCH RETURN (UPDATE PARTIAL 1:2) ALL")
        assert b" BAD " in r[-1], r
        # five live contexts at most: the sixth is answered, not kept
        for _ in range(4):
            a.ok(b"SEARCH RETURN (UPDATE) ALL")
        r = a.ok(b"SEARCH RETURN (UPDATE) ALL")
        assert any(b'NO [NOUPDATE "t%d"]' % a.n in ln for ln in r), r
        # leaving the mailbox ends them all
        a.ok(b"UNSELECT")
        a.ok(b"SELECT cx2")
        r = a.ok(b"STORE 1 +FLAGS \\Flagged")
        assert not any(b"ESEARCH" in ln for ln in r), r
    finally:
        a.close()
