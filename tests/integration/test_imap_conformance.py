"""IMAP conformance: \\Recent (RFC 3501 2.3.2), RENAME INBOX (6.3.5),
SORT and THREAD (RFC 5256, 5957), MULTIAPPEND (RFC 3502) and the
plaintext login policy (LOGINDISABLED), with imaplib and raw sockets
against a real postern-imapd."""
import imaplib
import os
import poplib
import re
import socket
import sqlite3
import ssl
import time

import pytest


def mbox_root(p, name="alice"):
    return p.root / "store" / "acme" / name


def put(p, data, name="alice", folder=None, n=[0]):
    """Drop a message into new/ the way a Maildir delivery does."""
    root = mbox_root(p, name)
    if folder:
        root = root / ("." + folder)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n[0] += 1
    base = f"{int(time.time())}.M{n[0]:06d}P{os.getpid()}.test,S={len(data)}"
    tmp = root / "tmp" / base
    tmp.write_bytes(data)
    os.rename(tmp, root / "new" / base)
    return base


def msg(i, subject="s"):
    return (f"From: x{i}@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <m{i}@example.org>\r\n\r\nbody {i}\r\n").encode()


@pytest.fixture
def imap(populated):
    populated.start(services=["imapd"])
    return populated


def client(p, user="alice@acme", password="alice-pw"):
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
    c.login(user, password)
    return c


def raw(p, port="imap"):
    s = socket.create_connection(("127.0.0.1", p.port(port)), timeout=10)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    return s, f


def cmd(f, line, tag=None):
    """Send one command; return the lines up to its tagged reply."""
    f.write(line + b"\r\n")
    f.flush()
    tag = tag or line.split(b" ", 1)[0]
    out = []
    for _ in range(10000):
        ln = f.readline()
        if not ln:
            break
        out.append(ln)
        if ln.startswith(tag + b" "):
            break
    return out


def untagged(lines, word):
    """The numbers n of "* n WORD" lines."""
    return [int(m.group(1)) for ln in lines
            if (m := re.match(rb"\* (\d+) " + word + rb"\r\n", ln))]


def login(p, user=b"alice@acme", pw=b"alice-pw"):
    s, f = raw(p)
    r = cmd(f, b"l LOGIN " + user + b" " + pw)
    assert r[-1].startswith(b"l OK"), r
    return s, f


# ---- \Recent ----------------------------------------------------------

def test_recent_first_session_only(imap):
    put(imap, msg(1))
    put(imap, msg(2))
    a = client(imap)
    typ, _ = a.select("INBOX")
    assert typ == "OK"
    assert a.response("RECENT")[1] == [b"2"]
    typ, d = a.fetch("1:*", "(FLAGS)")
    assert all(b"\\Recent" in x for x in d), d
    assert a.search(None, "RECENT")[1] == [b"1 2"]
    assert a.search(None, "NEW")[1] == [b"1 2"]
    assert a.search(None, "OLD")[1] == [b""]
    a.store("1", "+FLAGS", "\\Seen")
    assert a.search(None, "NEW")[1] == [b"2"]
    # \Recent cannot be stored
    with pytest.raises(imaplib.IMAP4.error):
        a.store("1", "+FLAGS", "\\Recent")

    # a second session: nothing is recent for it
    b = client(imap)
    b.select("INBOX")
    assert b.response("RECENT")[1] == [b"0"]
    typ, d = b.fetch("1:*", "(FLAGS)")
    assert not any(b"\\Recent" in x for x in d), d
    assert b.search(None, "RECENT")[1] == [b""]

    # a delivery while both are selected: the first to sync gets it
    put(imap, msg(3))
    b.noop()
    assert b.response("EXISTS")[1][-1] == b"3"
    assert b.response("RECENT")[1] == [b"1"]
    assert b.search(None, "RECENT")[1] == [b"3"]
    a.noop()
    assert a.response("EXISTS")[1][-1] == b"3"
    assert a.response("RECENT")[1] == [b"2"]
    assert a.search(None, "RECENT")[1] == [b"1 2"]
    typ, d = a.fetch("3", "(FLAGS)")
    assert b"\\Recent" not in d[0]
    # STATUS of a folder nobody selected counts what is unclaimed
    a.append("Archive", None, None, msg(9))
    typ, d = b.status("Archive", "(MESSAGES RECENT)")
    assert d == [b'"Archive" (MESSAGES 1 RECENT 1)'], d
    # a new selection in the same session starts over: nothing is left
    a.select("INBOX")
    assert a.response("RECENT")[1] == [b"0"]
    for c in (a, b):
        c.logout()


def test_recent_examine_keeps_it_and_rev2_has_none(imap):
    put(imap, msg(1))
    s, f = login(imap)
    # EXAMINE may show it but must not take it away (RFC 3501 6.3.2)
    r = cmd(f, b"e EXAMINE INBOX")
    assert untagged(r, b"RECENT") == [1], r
    r = cmd(f, b"f FETCH 1 FLAGS")
    assert b"\\Recent" in r[0]
    # an IMAP4rev2 session: no RECENT, no \Recent, and it leaves them
    s2, f2 = login(imap)
    assert cmd(f2, b"e ENABLE IMAP4rev2")[-1].startswith(b"e OK")
    r = cmd(f2, b"s SELECT INBOX")
    assert r[-1].startswith(b"s OK") and untagged(r, b"EXISTS") == [1]
    assert not any(b"RECENT" in ln for ln in r), r
    r = cmd(f2, b"f FETCH 1 FLAGS")
    assert b"\\Recent" not in r[0], r
    # the first IMAP4rev1 SELECT gets it, the next one does not
    s3, f3 = login(imap)
    r = cmd(f3, b"s SELECT INBOX")
    assert untagged(r, b"RECENT") == [1], r
    s4, f4 = login(imap)
    r = cmd(f4, b"s SELECT INBOX")
    assert untagged(r, b"RECENT") == [0], r
    for x in (s, s2, s3, s4):
        x.close()


def test_recent_idle_and_append(imap):
    s, f = login(imap)
    assert untagged(cmd(f, b"s SELECT INBOX"), b"RECENT") == [0]
    f.write(b"i IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")
    put(imap, msg(1))
    got = []
    for _ in range(20):
        got.append(f.readline())
        if got[-1] == b"* 1 RECENT\r\n":
            break
    assert got[-2:] == [b"* 1 EXISTS\r\n", b"* 1 RECENT\r\n"], got
    r = cmd(f, b"DONE", tag=b"i")
    assert r[-1].startswith(b"i OK")
    # an APPEND to the selected folder is recent for us (RFC 3501 6.3.11)
    body = msg(2)
    f.write(b"a APPEND INBOX {%d}\r\n" % len(body))
    f.flush()
    assert f.readline().startswith(b"+")
    r = cmd(f, body, tag=b"a")
    assert r[-1].startswith(b"a OK"), r
    assert untagged(r, b"RECENT") == [2], r
    s.close()


def test_index_upgrade_from_version_1(imap):
    """An index made before \\Recent (version 1, no user_version) is
    upgraded on open: old messages are not recent, new ones are."""
    put(imap, msg(1))
    c = client(imap)
    c.select("INBOX")
    c.logout()
    imap.stop()
    db = mbox_root(imap) / "postern-index.db"
    con = sqlite3.connect(db)
    current = con.execute("PRAGMA user_version").fetchone()[0]
    assert current >= 2
    # back to what version 1 had: no triggers (the change log), only the
    # two msg indexes, none of the columns or tables added since
    for kind, name in con.execute(
            "SELECT type, name FROM sqlite_master WHERE type IN "
            "('trigger', 'index') AND sql IS NOT NULL").fetchall():
        if name not in ("msg_base", "msg_modseq"):
            con.execute(f'DROP {kind.upper()} "{name}"')
    con.execute("DROP TABLE IF EXISTS changelog")
    for table, column in (("folder", "recent_uid"), ("folder", "mailboxid"),
                          ("msg", "emailid"), ("msg", "threadid"),
                          ("msg", "sfrom"), ("msg", "ssubject"),
                          ("msg", "hfrom"), ("msg", "hto"),
                          ("msg", "hsubject"), ("msg", "htext")):
        cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")]
        if column in cols:
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    con.execute("PRAGMA user_version=0")
    con.commit()
    con.close()
    put(imap, msg(2))
    imap.start(services=["imapd"])
    s, f = login(imap)
    r = cmd(f, b"s SELECT INBOX")
    assert untagged(r, b"EXISTS") == [2] and untagged(r, b"RECENT") == [1], r
    r = cmd(f, b"r UID SEARCH RECENT")
    assert r[0] == b"* SEARCH 2\r\n", r
    s.close()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA user_version").fetchone()[0] == current
    con.close()


# ---- RENAME INBOX -----------------------------------------------------

def test_rename_inbox_moves_messages(imap):
    put(imap, msg(1, "one"))
    put(imap, msg(2, "two"))
    c = client(imap)
    c.create("INBOX.kid")
    c.select("INBOX")
    c.store("2", "+FLAGS", "(\\Flagged $Work)")
    # a second session with INBOX selected sees the messages go
    s, f = login(imap)
    cmd(f, b"s SELECT INBOX")
    typ, d = c.rename("INBOX", "Old-Inbox")
    assert typ == "OK", d
    r = cmd(f, b"n NOOP")
    assert r.count(b"* 1 EXPUNGE\r\n") == 2, r
    # INBOX is still there, empty; its child did not move
    typ, d = c.status("INBOX", "(MESSAGES)")
    assert d == [b'"INBOX" (MESSAGES 0)'], d
    typ, d = c.list('""', "*")
    names = [x.split(b' "." ')[1].strip(b'"') for x in d]
    assert b"INBOX" in names and b"INBOX.kid" in names
    assert b"Old-Inbox" in names and b"Old-Inbox.kid" not in names
    c.select("Old-Inbox")
    typ, d = c.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (Subject)])")
    text = b"".join(x[0] + x[1] if isinstance(x, tuple) else x for x in d)
    assert b"Subject: one" in text and b"Subject: two" in text
    assert re.search(rb"FLAGS \([^)]*\\Flagged[^)]*\$Work", text), text
    # the files moved on disk, none is left in the INBOX Maildir
    root = mbox_root(imap)
    assert not list((root / "cur").iterdir())
    assert len(list((root / ".Old-Inbox" / "cur").iterdir())) == 2
    # new mail still lands in INBOX; a second rename to an existing name
    # is refused and changes nothing
    put(imap, msg(3, "three"))
    typ, d = c.status("INBOX", "(MESSAGES)")
    assert d == [b'"INBOX" (MESSAGES 1)'], d
    typ, d = c.rename("INBOX", "Old-Inbox")
    assert typ == "NO" and b"[ALREADYEXISTS]" in d[0], d
    typ, d = c.status("INBOX", "(MESSAGES)")
    assert d == [b'"INBOX" (MESSAGES 1)'], d
    # renaming an empty INBOX makes an empty folder
    c.rename("Old-Inbox", "Gone")
    typ, _ = c.rename("INBOX", "Third")
    assert typ == "OK"
    typ, d = c.status("Third", "(MESSAGES)")
    assert d == [b'"Third" (MESSAGES 1)'], d
    c.logout()
    s.close()


# ---- SORT and THREAD (the results are compared with Dovecot's in
# test_imap_dovecot.py; here: capabilities, errors, UID forms) ---------

def test_sort_thread_commands(imap):
    s, f = login(imap)
    r = cmd(f, b"c CAPABILITY")
    caps = r[0].split()
    for c in (b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=ORDEREDSUBJECT",
              b"THREAD=REFERENCES"):
        assert c in caps, r
    # not before SELECT
    assert cmd(f, b"x SORT (DATE) UTF-8 ALL")[-1].startswith(b"x BAD")
    c = client(imap)
    c.append("INBOX", None, None, b"Subject: b\r\nMessage-ID: <1@t>\r\n"
             b"Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n\r\nx\r\n")
    c.append("INBOX", None, None, b"Subject: Re: b\r\nMessage-ID: <2@t>\r\n"
             b"In-Reply-To: <1@t>\r\nDate: Wed, 31 Dec 2025 10:00:00 +0000"
             b"\r\n\r\nxx\r\n")
    c.append("INBOX", None, None, b"Subject: a\r\nMessage-ID: <3@t>\r\n"
             b"Date: Fri, 02 Jan 2026 10:00:00 +0000\r\n\r\nxxx\r\n")
    c.select("INBOX")
    c.store("3", "+FLAGS", "\\Deleted")
    c.expunge()                     # UIDs 1, 2 left
    c.append("INBOX", None, None, b"Subject: [x] A\r\n\r\nxxxx\r\n")
    c.logout()
    cmd(f, b"s SELECT INBOX")
    assert cmd(f, b"a SORT (SUBJECT DATE) UTF-8 ALL")[0] == b"* SORT 3 2 1\r\n"
    assert cmd(f, b"a UID SORT (SUBJECT DATE) UTF-8 ALL")[0] == \
        b"* SORT 4 2 1\r\n"
    assert cmd(f, b"a UID SORT (REVERSE SIZE) UTF-8 UID 1:2")[0] == \
        b"* SORT 2 1\r\n"
    assert cmd(f, b"a SORT (DATE) UTF-8 SUBJECT nothing")[0] == b"* SORT\r\n"
    r = cmd(f, b"a UID SORT RETURN (COUNT MIN) (SUBJECT) UTF-8 ALL")
    assert r[0] == b'* ESEARCH (TAG "a") UID MIN 4 COUNT 3\r\n', r
    assert cmd(f, b"t THREAD REFERENCES UTF-8 ALL")[0] == \
        b"* THREAD (1 2)(3)\r\n"
    assert cmd(f, b"t UID THREAD ORDEREDSUBJECT UTF-8 ALL")[0] == \
        b"* THREAD (2 1)(4)\r\n"
    # bad input: a clear error, and the session goes on
    for line, want in ((b"e SORT DATE UTF-8 ALL", b"e BAD"),
                       (b"e SORT (DATE FOO) UTF-8 ALL", b"e BAD"),
                       (b"e SORT (REVERSE) UTF-8 ALL", b"e BAD"),
                       (b"e SORT (DATE) UTF-8", b"e BAD"),
                       (b"e SORT (DATE) KOI8-R ALL", b"e NO [BADCHARSET"),
                       (b"e SORT (" + b"DATE " * 40 + b") UTF-8 ALL", b"e BAD"),
                       (b"e THREAD REFS UTF-8 ALL", b"e BAD"),
                       (b"e THREAD REFERENCES X ALL", b"e NO [BADCHARSET"),
                       (b"e THREAD", b"e BAD")):
        r = cmd(f, line)
        assert r[-1].startswith(want), (line, r)
    assert cmd(f, b"n NOOP")[-1].startswith(b"n OK")
    s.close()


# ---- MULTIAPPEND (RFC 3502) -------------------------------------------

def append_lines(parts):
    """An APPEND command line with LITERAL+ literals: parts are
    (flags or None, date or None, bytes)."""
    out = b"m APPEND %s"
    for flags, date, data in parts:
        if flags is not None:
            out += b" (" + flags + b")"
        if date is not None:
            out += b' "' + date + b'"'
        out += b" {%d+}\r\n" % len(data) + data
    return out


def count(f, folder=b"INBOX"):
    r = cmd(f, b"c STATUS " + folder + b" (MESSAGES)")
    return int(re.search(rb"MESSAGES (\d+)", r[0]).group(1))


def test_multiappend(imap):
    s, f = login(imap)
    assert b"MULTIAPPEND" in cmd(f, b"c CAPABILITY")[0]
    cmd(f, b"s SELECT INBOX")
    parts = [(b"\\Seen", b"01-Feb-2025 10:00:00 +0000", msg(1, "one")),
             (None, None, msg(2, "two")),
             (b"\\Flagged $Label", b"02-Feb-2025 11:00:00 +0100", msg(3))]
    r = cmd(f, append_lines(parts) % b"INBOX", tag=b"m")
    assert r[-1].startswith(b"m OK [APPENDUID "), r
    uv, uids = re.search(rb"APPENDUID (\d+) (\S+)\]", r[-1]).groups()
    assert uids == b"1:3", r
    assert b"* 3 EXISTS\r\n" in r, r
    r = cmd(f, b"f FETCH 1:3 (UID FLAGS INTERNALDATE)")
    # $Label is new to this session: * FLAGS (and PERMANENTFLAGS) with it
    # come first (RFC 3501 7.2.6)
    flags = [ln for ln in r if ln.startswith((b"* FLAGS", b"* OK [PERM"))]
    assert flags and b"$Label" in flags[0], r
    r = [ln for ln in r if ln not in flags]
    assert re.match(rb'\* 1 FETCH \(UID 1 FLAGS \(\\Seen \\Recent\) '
                    rb'INTERNALDATE "01-Feb-2025 10:00:00 \+0000"\)', r[0]), r
    assert b"FLAGS (\\Recent)" in r[1], r
    assert b"\\Flagged" in r[2] and b"$Label" in r[2], r
    assert b'"02-Feb-2025 10:00:00 +0000"' in r[2], r

    # one bad message: none of them is appended
    bad = [(None, None, msg(4)), (None, None, b""), (None, None, msg(5))]
    r = cmd(f, append_lines(bad) % b"INBOX", tag=b"m")
    assert r[-1].startswith(b"m NO"), r
    bad = [(None, None, msg(4)), (None, b"31-Foo-2025 99:00:00 +0000", msg(5))]
    r = cmd(f, append_lines(bad) % b"INBOX", tag=b"m")
    assert r[-1].startswith(b"m BAD"), r
    bad = [(None, None, msg(4)), (b"\\Bogus", None, msg(5))]
    r = cmd(f, append_lines(bad) % b"INBOX", tag=b"m")
    assert r[-1].startswith(b"m BAD"), r
    bad = [(None, None, msg(4)), (None, None, b"a\0b")]
    r = cmd(f, append_lines(bad) % b"INBOX", tag=b"m")
    assert r[-1].startswith(b"m NO"), r
    r = cmd(f, append_lines(parts) % b"Nowhere", tag=b"m")
    assert r[-1].startswith(b"m NO [TRYCREATE]"), r
    assert count(f) == 3

    # over quota together, though each one alone would fit
    imap.cli("mailbox", "set", "alice@acme", "quota=1")
    big = b"Subject: big\r\n\r\n" + b"x" * 600 * 1024 + b"\r\n"
    r = cmd(f, append_lines([(None, None, big), (None, None, big)]) %
            b"Archive", tag=b"m")
    assert r[-1].startswith(b"m NO [OVERQUOTA]"), r
    assert count(f, b"Archive") == 0
    # nothing left behind in the Maildir either
    arch = mbox_root(imap) / ".Archive"
    assert not list((arch / "cur").iterdir())
    assert not [p for p in (arch / "tmp").iterdir()]
    # a synchronizing literal per message works too
    data = [msg(6), msg(7)]
    f.write(b"y APPEND Archive {%d}\r\n" % len(data[0]))
    f.flush()
    assert f.readline().startswith(b"+")
    f.write(data[0] + b" {%d}\r\n" % len(data[1]))
    f.flush()
    assert f.readline().startswith(b"+")
    r = cmd(f, data[1], tag=b"y")
    assert r[-1].startswith(b"y OK [APPENDUID"), r
    assert count(f, b"Archive") == 2
    s.close()


# ---- plaintext logins: LOGINDISABLED without TLS (RFC 3501 6.2.3,
# RFC 2595), for IMAP and POP3 alike ----------------------------------

def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_plaintext_policy(populated):
    p = populated
    p.start(services=["imapd", "pop3d"])
    # loopback clients count as secure by default (as Dovecot's localhost)
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
    assert "AUTH=PLAIN" in c.capabilities
    assert "LOGINDISABLED" not in c.capabilities
    c.login("alice@acme", "alice-pw")
    c.logout()

    # a client that is not on this host: loopback treated as remote
    p.cli("config", "set", "auth.loopback_secure", "0")
    s, f = raw(p)
    r = cmd(f, b"c CAPABILITY")
    assert b"LOGINDISABLED" in r[0] and b"STARTTLS" in r[0], r
    assert b"AUTH=PLAIN" not in r[0], r
    r = cmd(f, b"l LOGIN alice@acme alice-pw")
    assert r[-1].startswith(b"l NO [PRIVACYREQUIRED]"), r
    # no continuation is offered: the password never has to be sent
    r = cmd(f, b"a AUTHENTICATE PLAIN")
    assert r == [r[-1]] and r[-1].startswith(b"a NO [PRIVACYREQUIRED]"), r
    r = cmd(f, b"a AUTHENTICATE PLAIN AGFsaWNlQGFjbWUAYWxpY2UtcHc=")
    assert r[-1].startswith(b"a NO [PRIVACYREQUIRED]"), r
    assert cmd(f, b"n NOOP")[-1].startswith(b"n OK")
    s.close()
    # imaplib: LOGINDISABLED until STARTTLS, then a login works
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
    assert "LOGINDISABLED" in c.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
        c.login("alice@acme", "alice-pw")
    c.starttls(tls_ctx())
    assert "LOGINDISABLED" not in c.capabilities
    assert "AUTH=PLAIN" in c.capabilities
    c.login("alice@acme", "alice-pw")
    c.logout()
    c = imaplib.IMAP4_SSL("127.0.0.1", p.port("imaps"), ssl_context=tls_ctx(),
                          timeout=10)
    c.login("alice@acme", "alice-pw")
    c.logout()

    # POP3: no USER or SASL PLAIN in CAPA, USER and AUTH refused
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=10)
    caps = c.capa()
    assert "USER" not in caps and "SASL" not in caps and "STLS" in caps, caps
    with pytest.raises(poplib.error_proto, match="TLS"):
        c.user("alice@acme")
    with pytest.raises(poplib.error_proto, match="USER first"):
        c.pass_("alice-pw")
    with pytest.raises(poplib.error_proto, match="TLS"):
        c._shortcmd("AUTH PLAIN AGFsaWNlQGFjbWUAYWxpY2UtcHc=")
    c.stls(tls_ctx())
    assert "USER" in c.capa()
    c.user("alice@acme")
    c.pass_("alice-pw")
    assert c.stat()[0] == 0
    c.quit()
    c = poplib.POP3_SSL("127.0.0.1", p.port("pop3s"), timeout=10,
                        context=tls_ctx())
    c.user("alice@acme")
    c.pass_("alice-pw")
    c.quit()

    # the settings that allow plaintext anyway
    p.cli("config", "set", "imap.allow_plaintext_auth", "1")
    p.cli("config", "set", "pop3.allow_plaintext_auth", "1")
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
    assert "LOGINDISABLED" not in c.capabilities
    c.login("alice@acme", "alice-pw")
    c.logout()
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=10)
    assert "USER" in c.capa()
    c.user("alice@acme")
    c.pass_("alice-pw")
    c.quit()


# ---- UTF8=ACCEPT (RFC 6855) --------------------------------------------

def test_utf8_accept(imap):
    s, f = login(imap)
    assert b"UTF8=ACCEPT" in cmd(f, b"c CAPABILITY")[0]
    r = cmd(f, b"e ENABLE UTF8=ACCEPT")
    assert r[0] == b"* ENABLED UTF8=ACCEPT\r\n", r
    cafe = "Café".encode()
    assert cmd(f, b'c CREATE "' + cafe + b'"')[-1].startswith(b"c OK")
    assert cmd(f, b'c CREATE "a&b"')[-1].startswith(b"c OK")
    # stored as modified UTF-7, the Maildir++ way
    root = mbox_root(imap)
    assert (root / ".Caf&AOk-").is_dir() and (root / ".a&-b").is_dir()
    r = cmd(f, b'l LIST "" "*"')
    assert b'* LIST (\\HasNoChildren) "." "' + cafe + b'"\r\n' in r, r
    assert b'* LIST (\\HasNoChildren) "." "a&b"\r\n' in r, r
    r = cmd(f, b'l LIST "" "Caf' + "é".encode() + b'"')
    assert len(r) == 2 and cafe in r[0], r
    # APPEND's UTF8 data item, a message with UTF-8 header fields
    body = "Subject: grüße\r\nFrom: jörg@example.org\r\n\r\nhällo\r\n".encode()
    r = cmd(f, b'a APPEND "' + cafe + b'" UTF8 (~{%d+}\r\n' % len(body) +
            body + b")", tag=b"a")
    assert r[-1].startswith(b"a OK [APPENDUID"), r
    r = cmd(f, b'x STATUS "' + cafe + b'" (MESSAGES)')
    assert r[0] == b'* STATUS "' + cafe + b'" (MESSAGES 1)\r\n', r
    r = cmd(f, b'x SELECT "' + cafe + b'"')
    assert r[-1].startswith(b"x OK"), r
    r = cmd(f, b"x FETCH 1 BODY.PEEK[]")
    assert body in b"".join(r), r
    # invalid UTF-8 in a name: NO, the session goes on
    r = cmd(f, b'c CREATE "bad\xff\xfe"')
    assert r[-1].startswith(b"c NO"), r
    # a session without UTF8=ACCEPT sees modified UTF-7, and may not use
    # the UTF8 data item
    s2, f2 = login(imap)
    r = cmd(f2, b'l LIST "" "*"')
    assert b'"Caf&AOk-"' in b"".join(r) and b'"a&-b"' in b"".join(r), r
    r = cmd(f2, b'a APPEND "Caf&AOk-" UTF8 (~{%d+}\r\n' % len(body) + body +
            b")", tag=b"a")
    assert r[-1].startswith(b"a BAD"), r
    r = cmd(f2, b'x STATUS "Caf&AOk-" (MESSAGES)')
    assert r[0] == b'* STATUS "Caf&AOk-" (MESSAGES 1)\r\n', r
    # IMAP4rev2 includes UTF8=ACCEPT's names (RFC 9051 5.1, RFC 9755)
    s3, f3 = login(imap)
    assert cmd(f3, b"e ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2\r\n"
    r = cmd(f3, b'x STATUS "' + cafe + b'" (MESSAGES)')
    assert r[0] == b'* STATUS "' + cafe + b'" (MESSAGES 1)\r\n', r
    for x in (s, s2, s3):
        x.close()


def test_sort_thread_hostile_headers(imap):
    """Huge References and Subject fields, a long reply chain, a
    References loop: THREAD and SORT answer, the session goes on."""
    refs = " ".join(f"<r{k}@x>" for k in range(20000))        # ~170 KB
    put(imap, (f"Subject: {'Re: ' * 5000}[x] " + "y" * 50000 + "\r\n"
               f"Message-ID: <big@x>\r\nReferences: {refs}\r\n\r\nb\r\n")
        .encode())
    for i in range(300):
        put(imap, (f"Subject: Re: chain\r\nMessage-ID: <c{i}@x>\r\n"
                   f"References: <c{(i + 1) % 300}@x>\r\n\r\nb\r\n").encode())
    s, f = login(imap)
    cmd(f, b"s SELECT INBOX")
    r = cmd(f, b"t THREAD REFERENCES UTF-8 ALL")
    assert r[-1].startswith(b"t OK") and r[0].startswith(b"* THREAD ("), r
    # every message is in the answer once
    ids = re.findall(rb"\d+", r[0])
    assert sorted(int(x) for x in ids) == list(range(1, 302)), r[0][:200]
    r = cmd(f, b"o THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert r[-1].startswith(b"o OK"), r
    r = cmd(f, b"u SORT (SUBJECT REVERSE DATE) UTF-8 ALL")
    assert r[-1].startswith(b"u OK") and len(r[0].split()) == 2 + 301, r[0][:80]
    assert cmd(f, b"n NOOP")[-1].startswith(b"n OK")
    s.close()
