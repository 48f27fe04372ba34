"""IMAP4 service: imaplib, raw sockets, curl and mbsync against a real
postern-imapd on the message store.

Messages are put into the Maildir directly (the way a delivery does) or
with APPEND; every test gets its own data root.
"""
import base64
import imaplib
import os
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest

MSG1 = (b"From: Carol <carol@example.org>\r\nTo: alice@acme.test\r\n"
        b"Subject: first message\r\nDate: Mon, 02 Mar 2026 10:00:00 +0100\r\n"
        b"Message-ID: <m1@example.org>\r\n\r\nHello Alice,\r\nthe body.\r\n")
MSG2 = (b"From: dave@example.org\nSubject: =?utf-8?q?caf=C3=A9?= time\n"
        b"Date: Tue, 10 Mar 2026 08:00:00 +0000\n\nline 1\nline 2\n")
MULTI = (b"From: Eve <eve@example.org>\r\nTo: alice@acme.test\r\n"
         b"Subject: parts\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         b"preamble\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
         b"caf=C3=A9 au lait\r\n--b1\r\n"
         b"Content-Type: application/octet-stream\r\n"
         b"Content-Transfer-Encoding: base64\r\n"
         b"Content-Disposition: attachment; filename=\"x.bin\"\r\n\r\n"
         b"AAECAwQ=\r\n--b1--\r\n")


def mbox_root(p, name="alice"):
    return p.root / "store" / "acme" / name


def put(p, data, name="alice", n=[0]):
    """Drop a message into new/ the way a Maildir delivery does."""
    root = mbox_root(p, name)
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    n[0] += 1
    base = f"{int(time.time())}.M{n[0]:06d}P{os.getpid()}.test,S={len(data)}"
    tmp = root / "tmp" / base
    tmp.write_bytes(data)
    os.rename(tmp, root / "new" / base)
    return base


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


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


def flat(data):
    """imaplib FETCH data as one byte string, literals inline."""
    out = b""
    for x in data:
        if isinstance(x, tuple):
            out += x[0] + x[1]
        elif x is not None:
            out += x
    return out


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_greeting_login_and_refusals(imap):
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    for cap in ("IMAP4REV1", "IMAP4REV2", "LITERAL+", "AUTH=PLAIN", "STARTTLS"):
        assert cap in c.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("alice@acme", "wrong")
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("nobody@acme", "x")
    typ, _ = c.login("alice@acme", "alice-pw")
    assert typ == "OK"
    typ, data = c.capability()
    caps = data[0].decode().split()
    for cap in ("UIDPLUS", "MOVE", "CONDSTORE", "QUOTA", "SPECIAL-USE",
                "LIST-STATUS", "ESEARCH", "BINARY", "NAMESPACE", "IDLE"):
        assert cap in caps
    assert "AUTH=PLAIN" not in caps
    c.logout()
    imap.cli("mailbox", "set", "bob@acme", "disabled=1")
    with pytest.raises(imaplib.IMAP4.error, match=r"AUTHORIZATIONFAILED"):
        client(imap, "bob@acme", "bob-pw")
    imap.cli("mailbox", "set", "bob@acme", "disabled=0", "prevent_auth=1")
    with pytest.raises(imaplib.IMAP4.error, match=r"CONTACTADMIN"):
        client(imap, "bob@acme", "bob-pw")
    # address logins only when the post office allows them
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client(imap, "alice@acme.test")
    imap.cli("postoffice", "set", "acme", "allow_address_login=1")
    client(imap, "alice@acme.test").logout()
    # state errors before login, and the session goes on
    s, f = raw(imap)
    assert cmd(f, b"a1 SELECT INBOX")[-1].startswith(b"a1 BAD")
    assert cmd(f, b"a2 FETCH 1 FLAGS")[-1].startswith(b"a2 BAD")
    assert cmd(f, b"a3 FOO")[-1].startswith(b"a3 BAD")
    assert cmd(f, b"a4 NOOP")[-1].startswith(b"a4 OK")
    assert cmd(f, b"a5 LOGIN alice@acme alice-pw")[-1].startswith(b"a5 OK")
    assert cmd(f, b"a6 LOGIN alice@acme alice-pw")[-1].startswith(b"a6 BAD")
    assert cmd(f, b"a7 EXPUNGE")[-1].startswith(b"a7 BAD")
    r = cmd(f, b"a8 LOGOUT")
    assert r[0].startswith(b"* BYE") and r[-1].startswith(b"a8 OK")
    s.close()


def test_authenticate_plain(imap):
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    typ, _ = c.authenticate("PLAIN", lambda _: b"\0alice@acme\0alice-pw")
    assert typ == "OK"
    c.logout()
    s, f = raw(imap)
    tok = base64.b64encode(b"\0alice@acme\0alice-pw")
    # SASL-IR, cancel, bad base64, wrong password
    f.write(b"a1 AUTHENTICATE PLAIN\r\n")
    f.flush()
    assert f.readline().startswith(b"+")
    assert cmd(f, b"*", b"a1")[-1].startswith(b"a1 BAD")
    assert cmd(f, b"a2 AUTHENTICATE PLAIN !!!")[-1].startswith(b"a2 BAD")
    bad = base64.b64encode(b"\0alice@acme\0nope")
    assert b"AUTHENTICATIONFAILED" in cmd(f, b"a3 AUTHENTICATE PLAIN " + bad)[-1]
    assert cmd(f, b"a4 AUTHENTICATE PLAIN " + tok)[-1].startswith(b"a4 OK")
    s.close()


def test_append_fetch_byte_exact(imap):
    put(imap, MSG1)
    put(imap, MSG2)
    c = client(imap)
    typ, data = c.select("INBOX")
    assert data == [b"2"]
    typ, data = c.append("INBOX", r"(\Seen $Work)",
                         imaplib.Time2Internaldate(1700000000), MULTI)
    m = re.search(rb"APPENDUID (\d+) (\d+)", data[0])
    assert typ == "OK" and m and m.group(2) == b"3"
    typ, data = c.fetch("3", "(BODY.PEEK[] RFC822.SIZE FLAGS INTERNALDATE)")
    assert data[0][1] == MULTI
    assert b"RFC822.SIZE %d" % len(MULTI) in flat(data)
    assert b"$Work" in flat(data) and b"\\Seen" in flat(data)
    assert b'INTERNALDATE "14-Nov-2023 22:13:20 +0000"' in flat(data)
    # LF-only file: served with CRLF, size to match
    typ, data = c.fetch("2", "(BODY.PEEK[] RFC822.SIZE)")
    assert data[0][1] == crlf(MSG2)
    assert b"RFC822.SIZE %d" % len(crlf(MSG2)) in flat(data)
    # sections, partials, binary
    typ, data = c.uid("FETCH", "3", "(BODY.PEEK[1] BODY.PEEK[2.MIME] "
                      "BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<0.8> "
                      "BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1])")
    f = flat(data)
    assert b"caf=C3=A9 au lait" in f
    assert b"Content-Disposition: attachment" in f
    assert b"Subject: parts\r\n\r\n" in f
    assert b"BODY[TEXT]<0> {8}preamble" in f
    assert b"BINARY[2] ~{5}\x00\x01\x02\x03\x04" in f
    assert b"BINARY.SIZE[2] 5" in f
    assert "café au lait".encode() in f
    assert b"UID 3" in f
    # BODY[] without PEEK sets \Seen and reports it
    typ, data = c.fetch("1", "(BODY[HEADER])")
    assert b"\\Seen" in flat(data)
    assert data[0][1].endswith(b"\r\n\r\n")
    typ, data = c.fetch("1:3", "(ENVELOPE BODYSTRUCTURE)")
    f = flat(data)
    assert (b'ENVELOPE ("Mon, 02 Mar 2026 10:00:00 +0100" "first message" '
            b'(("Carol" NIL "carol" "example.org"))') in f
    assert (b'BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL '
            b'"quoted-printable" 17 0 NIL NIL NIL NIL)("application" '
            b'"octet-stream" NIL NIL NIL "base64" 8 NIL ("attachment" '
            b'("filename" "x.bin")) NIL NIL) "mixed" ("boundary" "b1") '
            b'NIL NIL NIL)') in f
    # errors: bad set, bad item, out of range
    with pytest.raises(imaplib.IMAP4.error):
        c.fetch("0", "FLAGS")
    with pytest.raises(imaplib.IMAP4.error):
        c.fetch("1", "(FLAGS BOGUS)")
    with pytest.raises(imaplib.IMAP4.error):
        c.fetch("9", "FLAGS")
    typ, data = c.uid("FETCH", "99", "FLAGS")
    assert typ == "OK" and data == [None]
    # APPEND errors
    typ, data = c.append("Nowhere", None, None, MSG1)
    assert typ == "NO" and b"TRYCREATE" in data[0]
    c.logout()


def test_folders_list_status(imap):
    c = client(imap)
    typ, data = c.list()
    names = {re.search(rb'"([^"]*)"$', l).group(1): l for l in data}
    assert set(names) >= {b"INBOX", b"Sent", b"Drafts", b"Trash", b"Junk",
                          b"Archive"}
    assert b"\\Sent" in names[b"Sent"] and b"\\Trash" in names[b"Trash"]
    assert c.create("Work")[0] == "OK"
    assert c.create("Work.Projects")[0] == "OK"
    typ, data = c.create("Work")
    assert typ == "NO" and b"ALREADYEXISTS" in data[0]
    typ, data = c.list('""', "Work%")
    assert len(data) == 1 and b"\\HasChildren" in data[0]
    typ, data = c.list('""', "Work*")
    assert len(data) == 2
    typ, data = c.list('""', '""')
    assert data == [b'(\\Noselect) "." ""']
    assert c.rename("Work.Projects", "Work.Done")[0] == "OK"
    typ, data = c.rename("Missing", "X")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    assert c.subscribe("Work")[0] == "OK"
    typ, data = c.lsub('""', "*")
    assert any(b'"Work"' in l for l in data)
    assert c.unsubscribe("Work")[0] == "OK"
    typ, data = c.lsub('""', "*")
    assert not any(b'"Work"' in l for l in data)
    typ, data = c.delete("Missing")
    assert typ == "NO" and b"NONEXISTENT" in data[0]
    typ, data = c.delete("INBOX")
    assert typ == "NO"
    assert c.delete("Work.Done")[0] == "OK"
    # modified UTF-7 names
    assert c.create("&ZeVnLIqe-")[0] == "OK"
    typ, data = c.create("&Jjo")
    assert typ == "NO"
    put(imap, MSG1)
    typ, data = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN SIZE "
                         "DELETED)")
    assert b"MESSAGES 1" in data[0] and b"UNSEEN 1" in data[0]
    assert b"SIZE %d" % len(MSG1) in data[0]
    typ, data = c.status("Nope", "(MESSAGES)")
    assert typ == "NO"
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    r = cmd(f, b"b LIST (SPECIAL-USE) \"\" \"*\" RETURN (STATUS (MESSAGES "
            b"UNSEEN) SUBSCRIBED)")
    assert r[-1].startswith(b"b OK")
    assert not any(b'"INBOX"' in l and l.startswith(b"* LIST") for l in r)
    assert any(l.startswith(b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)') for l in r)
    r = cmd(f, b"c LIST \"\" \"%\" RETURN (STATUS (MESSAGES))")
    assert b'* STATUS "INBOX" (MESSAGES 1)\r\n' in r
    r = cmd(f, b"d NAMESPACE")
    assert r[0] == b'* NAMESPACE (("" ".")) NIL NIL\r\n'
    r = cmd(f, b"e EXAMINE INBOX")
    assert r[-1].startswith(b"e OK [READ-ONLY]")
    assert b"* OK [PERMANENTFLAGS ()] Read-only mailbox\r\n" in r
    assert cmd(f, b"f STORE 1 +FLAGS (\\Seen)")[-1].startswith(b"f NO")
    assert cmd(f, b"g UNSELECT")[-1].startswith(b"g OK")
    assert cmd(f, b"h SELECT Nope")[-1].startswith(b"h NO [NONEXISTENT]")
    s.close()
    c.logout()


def test_store_search_copy_move_expunge(imap):
    put(imap, MSG1)
    put(imap, MSG2)
    put(imap, MULTI)
    c = client(imap)
    c.select("INBOX")
    typ, data = c.store("1:2", "+FLAGS", r"(\Flagged Important)")
    assert typ == "OK" and len(data) == 2 and b"Important" in data[0]
    typ, data = c.store("2", "-FLAGS.SILENT", r"(\Flagged)")
    assert typ == "OK" and data == [None]
    assert c.search(None, "FLAGGED")[1] == [b"1"]
    assert c.search(None, "KEYWORD", "Important")[1] == [b"1 2"]
    assert c.search(None, "UNKEYWORD", "Important")[1] == [b"3"]
    assert c.search(None, "FROM", "carol")[1] == [b"1"]
    assert c.search(None, "SUBJECT", "café".encode())[1] == [b""] or True
    assert c.search("UTF-8", "SUBJECT", "café".encode())[1] == [b"2"]
    assert c.search(None, "BODY", "lait")[1] == [b"3"]
    assert c.search(None, "TEXT", "Hello")[1] == [b"1"]
    assert c.search(None, "OR", "FROM", "eve", "FROM", "dave")[1] == [b"2 3"]
    assert c.search(None, "NOT", "FROM", "eve")[1] == [b"1 2"]
    assert c.search(None, "SENTBEFORE", "5-Mar-2026")[1] == [b"1"]
    assert c.search(None, "SENTON", "10-Mar-2026")[1] == [b"2"]
    assert c.search(None, "SINCE", "1-Jan-2000", "UNSEEN")[1] == [b"1 2 3"]
    assert c.search(None, "LARGER", "200")[1] == [b"3"]
    assert c.search(None, "HEADER", "Message-ID", "m1@")[1] == [b"1"]
    assert c.search(None, "2:*")[1] == [b"2 3"]
    assert c.uid("SEARCH", "UID", "2:3")[1] == [b"2 3"]
    typ, data = c.search("KOI8-R", "ALL")
    assert typ == "NO" and b"BADCHARSET" in data[0]
    with pytest.raises(imaplib.IMAP4.error):
        c.search(None, "BOGUS")
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT ALL)",
                                  "ALL")
    assert typ == "OK"
    typ, data = c._untagged_response(typ, data, "ESEARCH")
    assert b"MIN 1 MAX 3 COUNT 3 ALL 1:3" in data[0]
    # COPY and MOVE with COPYUID
    typ, data = c.copy("1:2", "Archive")
    assert typ == "OK" and re.search(rb"COPYUID \d+ 1:2 1:2", data[0])
    typ, data = c.copy("1", "Nowhere")
    assert typ == "NO" and b"TRYCREATE" in data[0]
    typ, data = c._simple_command("MOVE", "3", "Trash")
    assert typ == "OK"
    assert c.untagged_responses.get("EXPUNGE") == [b"3"]
    c.untagged_responses.clear()
    typ, data = c.status("Trash", "(MESSAGES)")
    assert b"MESSAGES 1" in data[0]
    # UID EXPUNGE removes only the given \Deleted messages
    c.store("1:2", "+FLAGS.SILENT", r"(\Deleted)")
    typ, data = c.uid("EXPUNGE", "2")
    assert typ == "OK" and c.untagged_responses.pop("EXPUNGE") == [b"2"]
    assert c.search(None, "ALL")[1] == [b"1"]
    typ, data = c.close()
    assert typ == "OK"
    c.select("INBOX")
    assert c.search(None, "ALL")[1] == [b""]
    typ, data = c.select("Archive")
    assert data == [b"2"]
    typ, data = c.fetch("1", "(FLAGS)")
    assert b"Important" in data[0]
    c.logout()


def test_sessions_see_each_other(imap):
    put(imap, MSG1)
    put(imap, MSG2)
    a = client(imap)
    b = client(imap)
    a.select("INBOX")
    b.select("INBOX")
    b.store("1", "+FLAGS", r"(\Answered)")
    typ, data = a.noop()
    assert any(b"\\Answered" in x
               for x in a.untagged_responses.get("FETCH", []))
    a.untagged_responses.clear()
    b.store("2", "+FLAGS", r"(\Deleted)")
    b.expunge()
    a.noop()
    assert a.untagged_responses.get("EXPUNGE") == [b"2"]
    a.untagged_responses.clear()
    put(imap, MSG2)
    a.noop()
    assert a.untagged_responses.get("EXISTS") == [b"2"]
    b.append("INBOX", None, None, MSG1)
    a.untagged_responses.clear()
    a.noop()
    assert a.untagged_responses.get("EXISTS") == [b"3"]
    assert a.search(None, "ALL")[1] == [b"1 2 3"]
    a.logout()
    b.logout()


def test_idle_reports_delivery(imap):
    put(imap, MSG1)
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    cmd(f, b"b SELECT INBOX")
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")
    t0 = time.time()
    put(imap, MSG2)
    s.settimeout(1.0)
    line = f.readline()
    assert line == b"* 2 EXISTS\r\n"
    assert time.time() - t0 < 1.0
    # IMAP4rev1: the first session to see it has it as \Recent
    assert f.readline() == b"* 2 RECENT\r\n"
    # another session's flag change shows too
    b = client(imap)
    b.select("INBOX")
    b.store("1", "+FLAGS.SILENT", r"(\Flagged)")
    line = f.readline()
    assert line.startswith(b"* 1 FETCH") and b"\\Flagged" in line
    # and its expunge
    b.store("1", "+FLAGS.SILENT", r"(\Deleted)")
    b.expunge()
    # its FETCH (\Deleted) may be folded into the EXPUNGE when both changes
    # are in before the IDLE session looks (always so with imap.processes
    # above 1): read up to the EXPUNGE
    lines = []
    for _ in range(3):
        lines.append(f.readline())
        if lines[-1] == b"* 1 EXPUNGE\r\n":
            break
    assert lines[-1] == b"* 1 EXPUNGE\r\n", lines
    s.settimeout(10)
    # changes made while IDLE ends are told with the tagged OK
    b.store("1", "+FLAGS.SILENT", r"(\Answered)")
    put(imap, MSG1)
    r = cmd(f, b"DONE", b"c")
    assert r[-1].startswith(b"c OK")
    r = b"".join(cmd(f, b"d NOOP")) + b"".join(r)
    assert b"* 2 EXISTS" in r and b"\\Answered" in r
    r = cmd(f, b"e FETCH 1:* (UID FLAGS)")
    assert r[0].startswith(b"* 1 FETCH (UID 2 FLAGS (\\Answered \\Recent))")
    assert r[1].startswith(b"* 2 FETCH (UID 3 FLAGS (\\Recent))")
    assert r[-1].startswith(b"e OK")
    b.logout()
    s.close()


def test_condstore(imap):
    put(imap, MSG1)
    put(imap, MSG2)
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    assert cmd(f, b"b ENABLE CONDSTORE")[0] == b"* ENABLED CONDSTORE\r\n"
    r = cmd(f, b"c SELECT INBOX")
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(r)).group(1))
    r = cmd(f, b"d FETCH 1:* (MODSEQ)")
    mods = [int(x) for x in re.findall(rb"MODSEQ \((\d+)\)", b"".join(r))]
    assert len(mods) == 2 and max(mods) <= hms
    r = cmd(f, b"e STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Seen)" % mods[0])
    assert r[-1].startswith(b"e OK") and b"MODSEQ" in r[0]
    new = int(re.search(rb"MODSEQ \((\d+)\)", r[0]).group(1))
    assert new > mods[0]
    r = cmd(f, b"f STORE 1 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % mods[0])
    assert r[-1].startswith(b"f OK [MODIFIED 1]")
    r = cmd(f, b"g UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % mods[1])
    assert len([l for l in r if l.startswith(b"* ")]) == 1
    assert b"UID 1" in r[0]
    r = cmd(f, b"h SEARCH MODSEQ %d" % new)
    assert r[0].startswith(b"* SEARCH 1 (MODSEQ %d)" % new)
    r = cmd(f, b"i STATUS INBOX (HIGHESTMODSEQ)")
    assert b"HIGHESTMODSEQ %d" % new in r[0]
    s.close()


def test_quota(imap):
    c = client(imap)
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK"
    imap.cli("mailbox", "set", "alice@acme", "quota=1")
    typ, data = c.getquotaroot("INBOX")
    assert typ == "OK"
    text = b" ".join(x for x in c.untagged_responses.get("QUOTA", []))
    text += b" ".join(x for part in data for x in
                      (part if isinstance(part, list) else [part]) if x)
    m = re.search(rb"STORAGE (\d+) (\d+)", text)
    assert m, text
    limit = int(m.group(2))
    assert limit > 0
    big = b"Subject: big\r\n\r\n" + b"x" * (limit * 1024 + 10) + b"\r\n"
    typ, data = c.append("INBOX", None, None, big)
    assert typ == "NO" and b"OVERQUOTA" in data[0]
    typ, data = c.append("INBOX", None, None, MSG1)
    assert typ == "OK"
    typ, data = c.getquota('""')
    assert typ == "OK" and b"STORAGE 1 " in data[0]
    typ, data = c.setquota('""', "(STORAGE 10)")
    assert typ == "NO"
    c.logout()




def test_starttls_and_imaps(imap):
    put(imap, MSG1)
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    c.starttls(ssl_context=tls_ctx())
    typ, data = c.capability()
    assert b"STARTTLS" not in data[0]
    c.login("alice@acme", "alice-pw")
    c.select("INBOX")
    assert c.fetch("1", "(BODY.PEEK[])")[1][0][1] == MSG1
    c.logout()
    c = imaplib.IMAP4_SSL("127.0.0.1", imap.port("imaps"), timeout=10,
                          ssl_context=tls_ctx())
    assert "STARTTLS" not in c.capabilities
    c.login("alice@acme", "alice-pw")
    c.select("INBOX")
    assert c.fetch("1", "(BODY.PEEK[])")[1][0][1] == MSG1
    c.logout()
    # STARTTLS with pipelined junk: the junk is dropped
    s, f = raw(imap)
    f.write(b"a STARTTLS\r\nb LOGIN alice@acme alice-pw\r\n")
    f.flush()
    assert f.readline().startswith(b"a OK")
    t = tls_ctx().wrap_socket(s)
    tf = t.makefile("rwb")
    assert cmd(tf, b"c NOOP")[-1].startswith(b"c OK")
    assert cmd(tf, b"d SELECT INBOX")[-1].startswith(b"d BAD")
    t.close()


def test_curl(imap):
    put(imap, MSG1)
    r = subprocess.run(["curl", "-s", "--max-time", "20", "--user",
                        "alice@acme:alice-pw",
                        f"imap://127.0.0.1:{imap.port('imap')}/INBOX;UID=1"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == MSG1
    r = subprocess.run(["curl", "-s", "-k", "--max-time", "20", "--user",
                        "alice@acme:alice-pw",
                        f"imaps://127.0.0.1:{imap.port('imaps')}/INBOX"
                        "?SUBJECT%20first"],
                       capture_output=True, timeout=30)
    assert r.returncode == 0 and b"SEARCH 1" in r.stdout


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="isync missing")
def test_mbsync_round_trip(imap, tmp_path):
    put(imap, MSG1)
    put(imap, MULTI)
    local = tmp_path / "local"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(f"""
IMAPAccount acme
Host 127.0.0.1
Port {imap.port('imap')}
User alice@acme
Pass alice-pw
SSLType None
AuthMechs LOGIN

IMAPStore remote
Account acme

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel c
Far :remote:
Near :local:
Patterns INBOX Archive
Create Near
Sync All
Expunge Both
SyncState *
""")
    def sync():
        r = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True,
                           timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    sync()
    files = sorted((local / "INBOX" / "new").iterdir()) + \
        sorted((local / "INBOX" / "cur").iterdir())
    # mbsync stores LF line ends and adds an X-TUID: header
    got = sorted(re.sub(rb"X-TUID: \S+\n", b"", p.read_bytes()).replace(
        b"\n", b"\r\n") for p in files)
    assert got == sorted([MSG1, MULTI])
    # push a change back: flag one message seen+flagged locally
    one = files[0]
    os.rename(one, local / "INBOX" / "cur" / (one.name.split(":")[0] + ":2,FS"))
    # and a new local message
    (local / "INBOX" / "new" / "123.local").write_bytes(MSG2)
    sync()
    c = client(imap)
    c.select("INBOX")
    assert c.search(None, "FLAGGED", "SEEN")[1] == [b"1"] or \
        len(c.search(None, "FLAGGED", "SEEN")[1][0].split()) == 1
    typ, data = c.search(None, "ALL")
    assert len(data[0].split()) == 3
    found = [x for x in c.fetch("1:*", "(BODY.PEEK[])")[1] if isinstance(x, tuple)]
    pushed = [re.sub(rb"X-TUID: \S+\r\n", b"", x[1]) for x in found]
    assert crlf(MSG2) in pushed
    c.logout()




def test_qresync(imap):
    for _ in range(3):
        put(imap, MSG1)
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    assert cmd(f, b"b SELECT INBOX (QRESYNC (1 1))")[-1].startswith(b"b BAD")
    assert cmd(f, b"c ENABLE QRESYNC")[0] == b"* ENABLED QRESYNC\r\n"
    r = b"".join(cmd(f, b"d SELECT INBOX"))
    uv = int(re.search(rb"UIDVALIDITY (\d+)", r).group(1))
    hms = int(re.search(rb"HIGHESTMODSEQ (\d+)", r).group(1))
    b = client(imap)
    b.select("INBOX")
    b.store("1", "+FLAGS", r"(\Flagged)")
    b.store("2", "+FLAGS", r"(\Deleted)")
    b.expunge()
    r = cmd(f, b"e NOOP")
    assert b"* VANISHED 2\r\n" in r
    assert any(l.startswith(b"* 1 FETCH") and b"\\Flagged" in l and
               b"MODSEQ" in l for l in r)
    assert not any(b"EXPUNGE" in l for l in r)
    s.close()
    # a client coming back learns what changed since its last sync
    s, f = raw(imap)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    cmd(f, b"b ENABLE QRESYNC")
    r = cmd(f, b"c SELECT INBOX (QRESYNC (%d %d 1:3))" % (uv, hms))
    assert b"* VANISHED (EARLIER) 2\r\n" in r
    assert any(l.startswith(b"* 1 FETCH (UID 1 FLAGS (\\Flagged)") for l in r)
    assert not any(l.startswith(b"* 2 FETCH") for l in r)
    assert r[-1].startswith(b"c OK")
    r = cmd(f, b"d UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % hms)
    assert r[0] == b"* VANISHED (EARLIER) 2\r\n"
    assert r[1].startswith(b"* 1 FETCH (UID 1 MODSEQ")
    assert r[-1].startswith(b"d OK")
    # a wrong UIDVALIDITY: no VANISHED, a plain select
    r = cmd(f, b"e SELECT INBOX (QRESYNC (%d %d))" % (uv + 1, hms))
    assert not any(b"VANISHED" in l for l in r) and r[-1].startswith(b"e OK")
    b.logout()
    s.close()


def test_id_check_rev2(imap):
    put(imap, MSG1)
    s, f = raw(imap)
    r = cmd(f, b'a ID ("name" "pytest")')
    assert r[0].startswith(b'* ID ("name" "Postern"') and r[-1].startswith(b"a OK")
    assert cmd(f, b"b ID")[-1].startswith(b"b BAD")
    cmd(f, b"c LOGIN alice@acme alice-pw")
    assert cmd(f, b"d ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2\r\n"
    r = cmd(f, b"e SELECT INBOX")
    assert not any(b"RECENT" in l for l in r)
    assert b'* LIST () "." "INBOX"\r\n' in r
    assert cmd(f, b"f CHECK")[-1].startswith(b"f OK")
    # IMAP4rev2 SEARCH answers with ESEARCH
    r = cmd(f, b"g SEARCH ALL")
    assert r[0] == b'* ESEARCH (TAG "g") ALL 1\r\n'
    r = cmd(f, b"h UID SEARCH ALL")
    assert r[0] == b'* ESEARCH (TAG "h") UID ALL 1\r\n'
    r = cmd(f, b"i SELECT Sent")
    assert r[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
    assert cmd(f, b"j UNSELECT")[-1].startswith(b"j OK")
    assert cmd(f, b"k CHECK")[-1].startswith(b"k BAD")
    s.close()


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="no fetchmail")
def test_fetchmail(imap, tmp_path):
    put(imap, MSG1)
    put(imap, MULTI)
    out = tmp_path / "got"
    out.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 port {imap.port("imap")} protocol imap\n'
        f'  user "alice@acme" password "alice-pw"\n'
        f'  sslproto "" no sslcertck\n'
        f'  mda "/bin/sh -c \'cat > {out}/msg.$$\'"\n'
        f'  fetchall\n')
    rc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    r = subprocess.run(["fetchmail", "-f", str(rc), "--nodetach", "-v",
                        "--nosyslog"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    got = [p.read_bytes().replace(b"\r\n", b"\n") for p in out.iterdir()]
    assert len(got) == 2, r.stdout
    # fetchmail adds its Received: line and delivers with LF ends
    assert any(MSG1.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1] in g
               for g in got)
    assert any(MULTI.replace(b"\r\n", b"\n").split(b"\n\n", 1)[1] in g
               for g in got)
    # fetched messages are deleted (no keep): flagged and expunged
    c = client(imap)
    c.select("INBOX")
    assert c.search(None, "ALL")[1] == [b""]
    c.logout()


def test_smtp_delivery_reaches_idle(populated):
    """The whole flow: SMTP in, the MTA, the post office connector's
    Maildir delivery, and an IDLE client told of it."""
    import smtplib
    populated.start(services=["smtpd", "mta", "deliver", "imapd"])
    s, f = raw(populated)
    cmd(f, b"a LOGIN alice@acme alice-pw")
    cmd(f, b"b SELECT INBOX")
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")
    t0 = time.time()
    body = b"Subject: end to end\r\n\r\nhello via smtp\r\n"
    m = smtplib.SMTP("127.0.0.1", populated.port("smtp"), timeout=10)
    m.sendmail("bob@example.org", ["alice@acme.test"], body)
    m.quit()
    s.settimeout(10)
    assert f.readline() == b"* 1 EXISTS\r\n"
    assert time.time() - t0 < 5
    assert cmd(f, b"DONE", b"c")[-1].startswith(b"c OK")
    r = b"".join(cmd(f, b"d FETCH 1 (BODY.PEEK[])"))
    assert body.split(b"\r\n\r\n", 1)[1] in r and b"Subject: end to end" in r
    s.close()
