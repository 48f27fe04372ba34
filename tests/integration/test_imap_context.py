"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) over raw sockets: SEARCH
and SORT RETURN (UPDATE) kept up to date by this session's and another
session's changes (ADDTO, REMOVEFROM, by sequence number and by UID,
REMOVEFROM before the EXPUNGE that takes a result away; a SORT's with the
position in its order), MIN/MAX/COUNT sent again when the result
changes, CANCELUPDATE, the NOUPDATE limit and the refusals."""
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


def append(c, box, subject):
    msg = b"Subject: %s\r\n\r\nx\r\n" % subject
    c.ok(b"APPEND %s {%d+}\r\n%s" % (box, len(msg), msg))


def test_sort_update_positions(srv):
    a, b = Conn(srv), Conn(srv)
    try:
        assert b"CONTEXT=SORT" in b"".join(a.ok(b"CAPABILITY"))
        a.ok(b"CREATE cx3")
        for subj in (b"bb", b"dd", b"ff"):       # seq 1, 2, 3
            append(a, b"cx3", subj)
        a.ok(b"SELECT cx3")
        b.ok(b"SELECT cx3")
        r = a.ok(b"SORT RETURN (UPDATE MIN ALL COUNT) (SUBJECT) UTF-8 UNSEEN")
        tag = b"t%d" % a.n
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") MIN 1 ALL 1:3 COUNT 3' % tag], r
        # a new message sorts between bb and dd: position 2
        append(b, b"cx3", b"cc")                 # seq 4
        r = a.ok(b"NOOP")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") ADDTO (2 4)' % tag,
            b'* ESEARCH (TAG "%s") MIN 1 COUNT 4' % tag], r
        # the first one leaves the result (seen): order cc dd ff
        r = a.ok(b"STORE 1 +FLAGS \\Seen")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") REMOVEFROM (1 1)' % tag,
            b'* ESEARCH (TAG "%s") MIN 4 COUNT 3' % tag], r
        # another session expunges dd (seq 2, position 2), before its
        # EXPUNGE
        b.ok(b"STORE 2 +FLAGS \\Deleted")
        b.ok(b"EXPUNGE")
        r = a.ok(b"NOOP")
        rf = [i for i, ln in enumerate(r)
              if ln.rstrip() == b'* ESEARCH (TAG "%s") REMOVEFROM (2 2)' % tag]
        ex = [i for i, ln in enumerate(r) if ln.startswith(b"* 2 EXPUNGE")]
        assert rf and ex and rf[0] < ex[0], r
        # now bb(1) seen, ff(2), cc(3): the order cc ff
        r = a.ok(b"STORE 1 -FLAGS \\Seen")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") ADDTO (1 1)' % tag,
            b'* ESEARCH (TAG "%s") MIN 1 COUNT 3' % tag], r
        # two removals: each position counts the one before it gone
        r = a.ok(b"STORE 1,3 +FLAGS \\Seen")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") REMOVEFROM (1 1 1 3)' % tag,
            b'* ESEARCH (TAG "%s") MIN 2 COUNT 1' % tag], r
        # a removal and an addition in one answer: the removal first
        b.ok(b"STORE 2 +FLAGS \\Seen")
        b.ok(b"STORE 1 -FLAGS \\Seen")
        r = a.ok(b"NOOP")
        assert esearch(r, tag) == [
            b'* ESEARCH (TAG "%s") REMOVEFROM (1 2)' % tag,
            b'* ESEARCH (TAG "%s") ADDTO (1 1)' % tag,
            b'* ESEARCH (TAG "%s") MIN 1 COUNT 1' % tag], r
        # UID SORT, reversed (ff cc bb): a new "aa" goes last
        r = a.ok(b"UID SORT RETURN (UPDATE) (REVERSE SUBJECT) UTF-8 ALL")
        utag = b"t%d" % a.n
        msg = b"Subject: aa\r\n\r\nx\r\n"
        r = b.cmd(b"APPEND cx3 {%d+}\r\n%s" % (len(msg), msg))
        uid = int(re.search(rb"APPENDUID \d+ (\d+)", r[-1]).group(1))
        r = a.ok(b"NOOP")
        assert esearch(r, utag) == [
            b'* ESEARCH (TAG "%s") UID ADDTO (4 %d)' % (utag, uid)], r
        r = a.cmd(b"SORT RETURN (UPDATE PARTIAL 1:2) (ARRIVAL) UTF-8 ALL")
        assert b" BAD " in r[-1], r
    finally:
        a.close()
        b.close()
