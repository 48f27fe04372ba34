"""The defects Dovecot's imaptest found in postern-imapd (issue 13), each
checked over a real socket against one running server: BINARY with NUL,
'[' in atoms, ESEARCH MIN/MAX MODSEQ, the first CONDSTORE command's
HIGHESTMODSEQ, quoted-printable padding, ID before login, LIST-EXTENDED
and LSUB parents, MOVE into the same mailbox, SEARCH on addresses and on
every instance of a header, UID 4294967295, THREAD loops, long tags, new
keywords announced in FLAGS to every session, and the ENVELOPE of an
address whose name is a comment."""
import base64
import re
import socket
import time

import pytest

from conftest import Postern

USER, PW = "imt@acme", "imaptest-pw-7731"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("imaptest") / "root")
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
    """A raw IMAP connection: bytes in, lines (and literals) out."""

    def __init__(self, p, login=True):
        self.s = socket.create_connection(("127.0.0.1", p.port("imap")),
                                          timeout=30)
        self.f = self.s.makefile("rwb")
        assert self.f.readline().startswith(b"* OK")
        self.n = 0
        if login:
            r = self.cmd(b'LOGIN "%s" "%s"' % (USER.encode(), PW.encode()))
            assert r[-1].split()[1] == b"OK", r

    def cmd(self, line, tag=None):
        self.n += 1
        tag = tag or b"t%d" % self.n
        self.f.write(tag + b" " + line + b"\r\n")
        self.f.flush()
        return self.until(tag)

    def until(self, tag):
        out = []
        for _ in range(100000):
            ln = self.f.readline()
            if not ln:
                raise AssertionError(f"disconnected: {out}")
            m = re.search(rb"~?\{(\d+)\}\r\n$", ln)
            if m:
                ln += self.f.read(int(m.group(1)))
                ln += self.f.readline()
            out.append(ln)
            if ln.startswith(tag + b" "):
                return out
        raise AssertionError("no tagged reply")

    def append(self, box, data, literal8=False):
        self.n += 1
        tag = b"a%d" % self.n
        self.f.write(tag + b" APPEND %s %s{%d}\r\n" % (
            box, b"~" if literal8 else b"", len(data)))
        self.f.flush()
        assert self.f.readline().startswith(b"+")
        self.f.write(data + b"\r\n")
        self.f.flush()
        r = self.until(tag)
        assert r[-1].split()[1] == b"OK", r
        return r

    def close(self):
        try:
            self.cmd(b"LOGOUT")
        except (OSError, AssertionError):
            pass
        self.s.close()


def named(r, name):
    """The LIST/LSUB lines of r for mailbox name (quoted or not)."""
    return [ln for ln in r if ln.startswith((b"* LIST", b"* LSUB")) and
            ln.rstrip().rsplit(b" ", 1)[-1].strip(b'"') == name or
            re.search(rb' "?' + re.escape(name) + rb'"? \(', ln)]


def ok(r):
    return r[-1].split()[1] == b"OK"


@pytest.fixture
def box(srv, request):
    """A fresh folder of its own, selected, on a new connection."""
    c = Conn(srv)
    name = re.sub(r"[^A-Za-z0-9]", "", request.node.name).encode()
    assert ok(c.cmd(b"CREATE " + name))
    yield c, name
    c.cmd(b"CLOSE")
    c.cmd(b"DELETE " + name)
    c.close()


def msg(frm=b"a@example.org", extra=b"", body=b"body\r\n"):
    return (b"From: " + frm + b"\r\nSubject: s\r\n" + extra + b"\r\n" + body)


def test_binary_nul_and_size(box):
    c, name = box
    body = b"\x00-\xe4\n\r\n"
    data = (b"From: u@example.org\r\nMime-Version: 1.0\r\n"
            b"Content-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: binary\r\n\r\n" + body)
    c.append(name, data, literal8=True)
    assert ok(c.cmd(b"SELECT " + name))
    # a literal never carries NUL for BODY[]: the part was stored as
    # base64 (RFC 3516 4.3), which BINARY decodes back
    r = c.cmd(b"FETCH 1 (BODY.PEEK[1])")
    fetch = b"".join(r[:-1])
    assert b"\x00" not in fetch, fetch
    assert base64.b64encode(body) in fetch, fetch
    # BINARY: the bytes as stored, the size without CRs never written
    r = c.cmd(b"FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])")
    fetch = b"".join(r[:-1])
    assert b"BINARY.SIZE[1] %d" % len(body) in fetch, fetch
    assert b"~{%d}\r\n" % len(body) + body in fetch, fetch


def test_qp_trailing_blanks(box):
    c, name = box
    data = (b"From: u@example.org\r\nMime-Version: 1.0\r\n"
            b"Content-Type: text/plain\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"padded  \t\r\nsoft=\r\nbreak caf=C3=A9\r\n")
    c.append(name, data)
    assert ok(c.cmd(b"SELECT " + name))
    r = c.cmd(b"FETCH 1 (BINARY.PEEK[1])")
    fetch = b"".join(r[:-1])
    assert b"padded\r\nsoftbreak caf\xc3\xa9\r\n" in fetch, fetch
    r = c.cmd(b'SEARCH BODY "padded  "')
    assert r[0] == b"* SEARCH\r\n", r
    r = c.cmd(b'SEARCH BODY "softbreak"')
    assert r[0] == b"* SEARCH 1\r\n", r


def test_bracket_is_an_atom_char(srv):
    c = Conn(srv)
    try:
        r = c.cmd(b"CREATE x[y")
        assert ok(r), r
        r = c.cmd(b"SELECT x[y")
        assert ok(r), r
        r = c.cmd(b"UID FETCH 1:* BODY.PEEK[HEADER.FIELDS (FROM TO)]")
        assert ok(r), r
        c.cmd(b"CLOSE")
        assert ok(c.cmd(b"DELETE x[y"))
    finally:
        c.close()


def test_long_tag(srv):
    c = Conn(srv, login=False)
    try:
        tag = b"T" * 500
        r = c.cmd(b"NOOP", tag=tag)
        assert r[-1].startswith(tag + b" OK"), r
    finally:
        c.close()


def test_id_with_rfc2971_limits_before_login(srv):
    c = Conn(srv, login=False)
    try:
        pairs = b" ".join(b'"field%02d" "%s"' % (i, b"v" * 1024)
                          for i in range(30))
        r = c.cmd(b"ID (" + pairs + b")")
        assert ok(r), r[-1][:200]
        assert ok(c.cmd(b"NOOP"))
    finally:
        c.close()


def test_esearch_condstore_min_max_modseq(box):
    c, name = box
    for i in range(4):
        c.append(name, msg(body=b"m%d\r\n" % i))
    assert ok(c.cmd(b"SELECT " + name))
    # the first CONDSTORE-enabling command sends HIGHESTMODSEQ
    r = c.cmd(b"FETCH 1 MODSEQ")
    assert any(re.match(rb"\* OK \[HIGHESTMODSEQ \d+\]", ln) for ln in r), r
    mod = {}
    for seq in (1, 3, 2, 4):
        r = c.cmd(b"STORE %d +FLAGS \\Seen" % seq)
        m = re.search(rb"MODSEQ \((\d+)\)", b"".join(r))
        mod[seq] = int(m.group(1))
    q = b'MODSEQ "/flags/\\\\seen" all 1'
    r = c.cmd(b"SEARCH RETURN (MIN) 1:3 " + q)
    assert b"MIN 1 MODSEQ %d" % mod[1] in r[0], r
    r = c.cmd(b"SEARCH RETURN (MAX) 1:3 " + q)
    assert b"MAX 3 MODSEQ %d" % mod[3] in r[0], r
    r = c.cmd(b"SEARCH RETURN () 1:3 " + q)
    assert b"ALL 1:3 MODSEQ %d" % mod[2] in r[0], r
    r = c.cmd(b"SEARCH RETURN (MIN MAX) 2:3 " + q)
    assert b"MIN 2 MAX 3 MODSEQ %d" % mod[2] in r[0], r


def test_search_addresses_and_every_header(box):
    c, name = box
    c.append(name, msg(b"<user-from (comment)@ (comment) domain.org>"))
    c.append(name, msg(b"user-from@domain.org (RealFrom)"))
    c.append(name, msg(b"x@y.org", b"To: groupname: g1@d.org, g2@d.org;\r\n"))
    c.append(name, msg(b"x@y.org", b"X-Tag: first\r\nX-Tag: second\r\n"))
    assert ok(c.cmd(b"SELECT " + name))
    assert c.cmd(b"SEARCH FROM user-from@domain.org")[0] == b"* SEARCH 1 2\r\n"
    assert c.cmd(b"SEARCH FROM realfrom")[0] == b"* SEARCH 2\r\n"
    assert c.cmd(b"SEARCH TO groupname")[0] == b"* SEARCH 3\r\n"
    assert c.cmd(b"SEARCH TO g2@d.org")[0] == b"* SEARCH 3\r\n"
    assert c.cmd(b"SEARCH HEADER X-Tag second")[0] == b"* SEARCH 4\r\n"
    assert c.cmd(b'SEARCH HEADER X-Tag ""')[0] == b"* SEARCH 4\r\n"
    r = c.cmd(b"FETCH 2 ENVELOPE")
    assert b'(("RealFrom" NIL "user-from" "domain.org"))' in r[0], r


def test_uid_max(box):
    c, name = box
    c.append(name, msg())
    assert ok(c.cmd(b"SELECT " + name))
    r = c.cmd(b"UID FETCH 4294967295 UID")
    assert ok(r), r
    r = c.cmd(b"UID SEARCH UID 1:4294967295")
    assert ok(r) and re.match(rb"\* SEARCH \d+\r\n", r[0]), r
    r = c.cmd(b"UID FETCH 4294967296 UID")
    assert r[-1].split()[1] == b"BAD", r


def test_move_into_itself(box):
    c, name = box
    for i in range(2):
        c.append(name, msg(body=b"m%d\r\n" % i))
    assert ok(c.cmd(b"SELECT " + name))
    r = c.cmd(b"MOVE 1 " + name)
    assert ok(r), r
    text = b"".join(r)
    assert b"[COPYUID " in text and b"* 1 EXPUNGE" in text, r
    r = c.cmd(b"FETCH 1:* UID")
    uids = [int(x) for x in re.findall(rb"UID (\d+)", b"".join(r))]
    assert len(uids) == 2 and uids[1] > 2, r


def test_thread_references_loop(box):
    c, name = box
    c.append(name, b"Message-ID: <a@b>\r\nDate: Fri, 22 Feb 2008 17:06:23"
                   b" +0000\r\n\r\nbody\r\n")
    c.append(name, b"Message-Id: <b@b>\r\nReferences: <a@b> <c@b>\r\nDate: "
                   b"Fri, 22 Feb 2008 15:06:23 +0000\r\n\r\nbody\r\n")
    c.append(name, b"Message-Id: <c@b>\r\nReferences: <b@b>\r\nDate: "
                   b"Fri, 22 Feb 2008 16:06:25 +0000\r\n\r\nbody\r\n")
    assert ok(c.cmd(b"SELECT " + name))
    r = c.cmd(b"THREAD REFERENCES US-ASCII ALL")
    assert r[0] == b"* THREAD (3 2)(1)\r\n", r


def test_list_extended_and_lsub_parents(srv):
    c = Conn(srv)
    try:
        for n in (b"L", b"L.t1", b"L.t2", b"L.t2.t1", b"L.t4.t5", b"L.t6",
                  b"L.t8", b"L.t8.t8", b"L.t8.t9"):
            assert ok(c.cmd(b"CREATE " + n))
        for n in (b"L.t1", b"L.t2.t1", b"L.t6", b"L.t8.t8", b"L.t8.t9"):
            assert ok(c.cmd(b"SUBSCRIBE " + n))
        assert ok(c.cmd(b"DELETE L.t6"))
        r = c.cmd(b'LIST (RECURSIVEMATCH) "" ""')
        assert r[-1].split()[1] == b"BAD", r
        r = c.cmd(b'LIST (SUBSCRIBED) "" L.*')
        t6 = named(r, b"L.t6")
        assert t6 and b"\\NonExistent" in t6[0] and b"\\Subscribed" in t6[0], r
        assert b"\\Noselect" not in t6[0], r
        r = c.cmd(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" L.t2% '
                  b'RETURN (CHILDREN)')
        t2 = named(r, b"L.t2")
        assert t2 and b'"CHILDINFO" ("SUBSCRIBED")' in t2[0].upper(), r
        assert not any(b"L.t2.t1" in ln for ln in r), r
        r = c.cmd(b'LIST (SUBSCRIBED RECURSIVEMATCH) "" (L.t2 L.t2.t1)')
        assert not any(b"CHILDINFO" in ln.upper() for ln in r), r
        # the implicit parent L.t4 of L.t4.t5
        r = c.cmd(b'LIST "" L.%')
        t4 = named(r, b"L.t4")
        assert t4 and b"\\HasChildren" in t4[0] and \
            b"\\Noselect" in t4[0], r
        # LSUB: unsubscribed parents of subscribed names are \Noselect
        r = c.cmd(b'LSUB "" L.%')
        t2 = named(r, b"L.t2")
        assert t2 and b"\\Noselect" in t2[0], r
        t1 = named(r, b"L.t1")
        assert t1 and b"\\Noselect" not in t1[0], r
    finally:
        for n in (b"L.t8.t9", b"L.t8.t8", b"L.t8", b"L.t4.t5", b"L.t2.t1",
                  b"L.t2", b"L.t1", b"L"):
            c.cmd(b"DELETE " + n)
        for n in (b"L.t1", b"L.t2.t1", b"L.t6", b"L.t8.t8", b"L.t8.t9"):
            c.cmd(b"UNSUBSCRIBE " + n)
        c.close()


def test_new_keyword_announced_to_every_session(srv, box):
    c, name = box
    c.append(name, msg())
    other = Conn(srv)
    try:
        assert ok(c.cmd(b"SELECT " + name))
        r = other.cmd(b"SELECT " + name)
        assert not any(b"$hello" in ln for ln in r if
                       ln.startswith(b"* FLAGS")), r
        r = c.cmd(b"STORE 1 +FLAGS ($hello)")
        flags = [ln for ln in r if ln.startswith(b"* FLAGS")]
        fetch = [i for i, ln in enumerate(r) if b"FETCH" in ln]
        assert flags and b"$hello" in flags[0], r
        assert r.index(flags[0]) < fetch[0], r
        # the other session: FLAGS before the FETCH that shows it
        r = other.cmd(b"NOOP")
        flags = [i for i, ln in enumerate(r) if ln.startswith(b"* FLAGS")
                 and b"$hello" in ln]
        perm = [ln for ln in r if b"PERMANENTFLAGS" in ln]
        fetch = [i for i, ln in enumerate(r) if b"$hello" in ln and
                 b"FETCH" in ln]
        assert flags and fetch and flags[0] < fetch[0] and perm, r
    finally:
        other.close()


def test_fetch_of_message_expunged_by_another_session(srv, box):
    """RFC 2180 4.1.1: a message another session expunged is still this
    session's until it is told; a FETCH of it answers with its data, not
    NO. Then the EXPUNGE, and * n RECENT, on the next NOOP."""
    c, name = box
    for i in range(3):
        c.append(name, msg(body=b"body number %d\r\n" % i))
    other = Conn(srv)
    try:
        assert ok(c.cmd(b"SELECT " + name))
        assert ok(other.cmd(b"SELECT " + name))
        assert ok(c.cmd(b"STORE 2 +FLAGS.SILENT \\Deleted"))
        r = c.cmd(b"EXPUNGE")
        assert ok(r) and b"* 2 EXPUNGE\r\n" in r, r
        assert any(re.match(rb"\* \d+ RECENT", ln) for ln in r), r
        # FETCH by sequence number sends no EXPUNGE: message 2 is there
        r = other.cmd(b"FETCH 1:3 (FLAGS BODY.PEEK[TEXT])")
        assert ok(r), r
        text = b"".join(r)
        assert b"body number 1" in text, r
        assert b"EXPUNGE" not in text, r
        r = other.cmd(b"NOOP")
        assert b"* 2 EXPUNGE\r\n" in r, r
        assert any(re.match(rb"\* \d+ RECENT", ln) for ln in r), r
        r = other.cmd(b"FETCH 1:* UID")
        assert len([ln for ln in r if ln.startswith(b"* ")]) == 2, r
    finally:
        other.close()


def test_catenate(box):
    """APPEND CATENATE (RFC 4469): TEXT literals and IMAP URLs of a
    message's sections; a URL with a stale UIDVALIDITY is NO [BADURL]
    and stores nothing; a missing target is NO [TRYCREATE]"""
    c, name = box
    c.append(name, b"From: foo@example.com\r\n\r\nHello world body\r\n")
    r = c.cmd(b"SELECT " + name)
    uv = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(r)).group(1))
    uid = int(re.search(rb"UID (\d+)",
                        b"".join(c.cmd(b"FETCH 1 UID"))).group(1))
    c.n += 1
    tag = b"c%d" % c.n
    url = b"/%s;UIDVALIDITY=%d/;UID=%d/;SECTION=HEADER" % (name, uv, uid)
    c.f.write(tag + b" APPEND " + name + b' CATENATE (URL "' + url +
              b'" TEXT {7}\r\n')
    c.f.flush()
    assert c.f.readline().startswith(b"+")
    c.f.write(b"body2\r\n)\r\n")
    c.f.flush()
    r = c.until(tag)
    assert ok(r), r
    r = c.cmd(b"FETCH 2 BODY.PEEK[]")
    assert b"From: foo@example.com\r\n\r\nbody2\r\n" in b"".join(r), r
    bad = b"/%s;UIDVALIDITY=%d/;UID=%d/;SECTION=HEADER" % (name, uv + 1, uid)
    r = c.cmd(b"APPEND " + name + b' CATENATE (URL "' + bad + b'")')
    assert b"[BADURL" in r[-1] and r[-1].split()[1] == b"NO", r
    r = c.cmd(b"APPEND Nonexistent" + name + b' CATENATE (URL "' + bad +
              b'")')
    assert b"[TRYCREATE]" in r[-1], r
    r = c.cmd(b"NOOP")
    assert not any(b"3 EXISTS" in ln for ln in r), r


def test_catenate_badurl_is_one_valid_code(box):
    """NO [BADURL url] carries the URL as a quoted string that neither
    ends the response code nor the line (RFC 4469 6: url-resp-text has
    no "]"): CR, LF, brackets, quotes, spaces and 8-bit octets of a URL
    sent as a literal come back percent-encoded, on the tagged line"""
    c, name = box
    for url in (b"/INBOX/;UID=1\r\n* 1 EXISTS\r\nx OK [ALERT] hi",
                b"/x]y\"z\\ \xc3\xa9/;UID=1",
                b"/" + b"]" * 30 + b"[/;UID=9"):
        c.n += 1
        tag = b"u%d" % c.n
        c.f.write(tag + b" APPEND " + name + b" CATENATE (URL {%d}\r\n"
                  % len(url))
        c.f.flush()
        assert c.f.readline().startswith(b"+")
        c.f.write(url + b")\r\n")
        c.f.flush()
        r = c.until(tag)
        assert len(r) == 1, r           # no line of the URL's own
        m = re.fullmatch(rb'(\S+) NO \[BADURL "([^"\\\r\n\[\]]+)"\] '
                         rb'([^\r\n]*)\r\n', r[0])
        assert m and m.group(1) == tag, r
        enc = b"".join(b"%%%02X" % ch if ch <= 0x20 or ch >= 0x7f or
                       ch in b'"\\[]' else bytes([ch]) for ch in url)
        assert m.group(2) == enc, r
    assert ok(c.cmd(b"NOOP"))


def read_to_eof(c):
    """every line the server sends until it closes (the socket timeout
    bounds the wait)"""
    out = []
    for _ in range(10000):
        ln = c.f.readline()
        if not ln:
            return out
        out.append(ln)
    raise AssertionError("the server did not close")


def test_close_in_the_middle_of_pipelined_input(srv):
    """A command that closes the session (the 20th bad command, LOGOUT),
    with more commands behind it in the same segment: the session ends
    after the BYE, nothing behind it is run, and the server (built with
    ASan, checked by the fixture) goes on serving."""
    c = Conn(srv, login=False)
    c.f.write(b"".join(b"b%d FOO\r\n" % i for i in range(25)) +
              b"z NOOP\r\n")
    c.f.flush()
    out = read_to_eof(c)
    c.s.close()
    bad = [ln for ln in out if re.match(rb"b\d+ BAD", ln)]
    assert len(bad) == 20, out
    assert out[-1].startswith(b"* BYE"), out
    assert not any(ln.startswith((b"b20 ", b"z ")) for ln in out), out

    c = Conn(srv)
    c.f.write(b"s SELECT INBOX\r\nf FETCH 1:* FLAGS\r\nl LOGOUT\r\n"
              b"n NOOP\r\nx BAD-ONE\r\n")
    c.f.flush()
    out = read_to_eof(c)
    c.s.close()
    assert any(ln.startswith(b"s OK") for ln in out), out
    assert any(ln.startswith(b"* BYE") for ln in out), out
    assert out[-1].startswith(b"l OK"), out

    # closed while a login is being checked: the answer comes to nobody
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", srv.port("imap")),
                                     timeout=30)
        s.sendall(b'a LOGIN "%s" "%s"\r\nb LOGOUT\r\n' % (USER.encode(),
                                                         PW.encode()))
        s.close()

    c = Conn(srv)
    assert ok(c.cmd(b"NOOP"))
    c.close()


def esearch(r):
    """the * ESEARCH line of r (without CRLF)"""
    lines = [ln.rstrip(b"\r\n") for ln in r if ln.startswith(b"* ESEARCH")]
    assert len(lines) == 1, r
    return lines[0]


def test_esearch_partial(box):
    """RFC 9394: RETURN (PARTIAL lo:hi) and (PARTIAL -lo:-hi) for SEARCH
    and SORT; positions beyond the results give NIL; MIN, MAX and COUNT
    stay over every result; ALL with PARTIAL and malformed ranges are
    BAD."""
    c, name = box
    for i in range(12):   # sizes grow with the sequence number
        c.append(name, msg(body=b"m" * (i + 1) + b"\r\n"))
    r = c.cmd(b"CAPABILITY")
    assert b"PARTIAL" in r[0].split(), r
    assert ok(c.cmd(b"SELECT " + name))
    r = c.cmd(b"FETCH 1:* UID")
    uids = [int(m.group(1)) for m in
            (re.search(rb"UID (\d+)", ln) for ln in r) if m]
    assert len(uids) == 12, r
    assert ok(c.cmd(b"STORE 2,4 +FLAGS \\Deleted"))

    # RFC 9394 3.1 example: the first 5 of the undeleted
    r = c.cmd(b"SEARCH RETURN (PARTIAL 1:5) UNDELETED", tag=b"A01")
    assert esearch(r) == b'* ESEARCH (TAG "A01") PARTIAL (1:5 1,3,5:7)', r
    # the next page, in reverse order of the bounds: the same range,
    # answered in order (imaptest's search-partial: 4:2 is 2:4)
    r = c.cmd(b"SEARCH RETURN (PARTIAL 10:6) UNDELETED", tag=b"A02")
    assert esearch(r) == b'* ESEARCH (TAG "A02") PARTIAL (6:10 8:12)', r
    # from the end: -1 is the last result
    r = c.cmd(b"UID SEARCH RETURN (PARTIAL -1:-3) UNDELETED", tag=b"A03")
    want = b"%d:%d" % (uids[9], uids[11])
    assert esearch(r) == b'* ESEARCH (TAG "A03") UID PARTIAL (-1:-3 ' + \
        want + b")", r
    # past the end: what exists, then NIL
    r = c.cmd(b"SEARCH RETURN (PARTIAL 9:100) UNDELETED", tag=b"A04")
    assert esearch(r).endswith(b"PARTIAL (9:100 11:12)"), r
    r = c.cmd(b"SEARCH RETURN (PARTIAL 11:20) UNDELETED", tag=b"A05")
    assert esearch(r).endswith(b"PARTIAL (11:20 NIL)"), r
    r = c.cmd(b"SEARCH RETURN (PARTIAL -20:-30) ALL", tag=b"A06")
    assert esearch(r).endswith(b"PARTIAL (-20:-30 NIL)"), r
    # MIN, MAX and COUNT are over every match
    r = c.cmd(b"SEARCH RETURN (COUNT MIN MAX PARTIAL 2:3) UNDELETED",
              tag=b"A07")
    line = esearch(r)
    assert b"MIN 1" in line and b"MAX 12" in line and b"COUNT 10" in line, r
    assert line.endswith(b"PARTIAL (2:3 3,5)"), r
    for bad in (b"(ALL PARTIAL 1:5)", b"(PARTIAL 0:5)", b"(PARTIAL -1:5)",
                b"(PARTIAL 1:)", b"(PARTIAL)", b"(PARTIAL 1:99999999999)",
                b"(PARTIAL 1:2 PARTIAL 3:4)", b"(PARTIAL (1:2))"):
        r = c.cmd(b"SEARCH RETURN " + bad + b" ALL")
        assert r[-1].split()[1] == b"BAD", (bad, r)

    # SORT: positions in the sorted order (RFC 9394 updates RFC 5267)
    r = c.cmd(b"SORT RETURN (PARTIAL 1:3) (REVERSE SIZE) UTF-8 "
              b"UNDELETED", tag=b"S01")
    assert esearch(r) == b'* ESEARCH (TAG "S01") PARTIAL (1:3 12,11,10)', r
    r = c.cmd(b"UID SORT RETURN (PARTIAL -1:-2) (REVERSE SIZE) UTF-8 "
              b"UNDELETED", tag=b"S02")
    assert esearch(r) == b'* ESEARCH (TAG "S02") UID PARTIAL (-1:-2 %d,%d)' \
        % (uids[2], uids[0]), r
    r = c.cmd(b"SORT RETURN (COUNT PARTIAL 50:60) (SIZE) UTF-8 ALL",
              tag=b"S03")
    assert esearch(r) == b'* ESEARCH (TAG "S03") COUNT 12 ' \
        b'PARTIAL (50:60 NIL)', r
    # the session goes on
    assert ok(c.cmd(b"NOOP"))
