"""IMAP resources a client can pin: APPEND literals kept in files rather
than memory (imapd's RSS measured from /proc while several 20 MB APPENDs
are in flight), nothing left behind by a client that goes away mid-
literal, the folder limit (mailbox.max_folders, [LIMIT]), folder names past
what the file system takes, and no server path in any refusal."""
import base64
import imaplib
import json
import os
import socket
import time

import pytest

PASSWORD = "Kq7-long-secret-93"
USER = "carol@acme"
MB = 1 << 20


@pytest.fixture
def imap(populated):
    populated.cli("mailbox", "add", USER, "--password", PASSWORD)
    # ASan keeps freed memory in a quarantine (256 MB by default), which
    # would hide what the server really holds: keep it small here
    opts = populated.env.get("ASAN_OPTIONS", "")
    populated.env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
        "quarantine_size_mb=8"
    populated.start(services=["imapd"])
    return populated


def mbox_root(p):
    return p.root / "store" / "acme" / "carol"


def imapd_pid(p):
    return json.loads((p.root / "run/imapd.json").read_text())["pid"]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as st:
        for ln in st:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def message(size, seed):
    """A message of exactly size bytes: headers, then CRLF lines of
    base64 text, with a few bare LFs (stored as sent)."""
    head = (f"From: x@example.org\r\nSubject: big {seed}\r\n"
            f"Message-ID: <big{seed}@example.org>\r\n\r\n").encode()
    line = base64.b64encode(os.urandom(57)) + b"\r\n"
    body = bytearray(head)
    n = 0
    while len(body) < size:
        body += line if n % 1000 else line[:-2] + b"\n"
        n += 1
    return bytes(body[:size - 2]) + b"\r\n"


def connect(p):
    s = socket.create_connection(("127.0.0.1", p.port("imap")), timeout=30)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    f.write(b"a LOGIN %s %s\r\n" % (USER.encode(), PASSWORD.encode()))
    f.flush()
    assert f.readline().startswith(b"a OK")
    return s, f


def hangup(s, f):
    """Really close: the socket stays open while its file object is."""
    f.close()
    s.close()


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def tagged(f, tag):
    for _ in range(1000):
        ln = f.readline()
        if not ln or ln.startswith(tag + b" "):
            return ln
    return b""


def stray_files(root):
    """Files left in any tmp/ of the mailbox."""
    out = []
    for d in [root / "tmp"] + [x / "tmp" for x in root.glob(".*")
                               if x.is_dir()]:
        if d.is_dir():
            out += [str(x) for x in d.iterdir()]
    return out


def cur_files(root, folder=""):
    d = root / (("." + folder) if folder else "") / "cur"
    return sorted(d.iterdir()) if d.is_dir() else []


def open_literal_files(pid, root):
    """Descriptors of imapd on files in the mailbox (spilled literals)."""
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(root)) and "postern-index" not in target:
            out.append(target)
    return out


def test_append_20mb_in_flight_memory_and_byte_exact(imap):
    """Four 20 MB APPENDs, each 15 MB in: imapd's RSS grows by far less
    than one literal (it held each literal in memory, 60 MB and more,
    before), the data is in unnamed files (nothing named in tmp/), and
    each message is stored byte for byte."""
    pid = imapd_pid(imap)
    root = mbox_root(imap)
    size = 20 * MB
    conns = [connect(imap) for _ in range(4)]
    msgs = [message(size, i) for i in range(len(conns))]
    before = rss_kb(pid)
    part = 15 * MB
    for i, (s, f) in enumerate(conns):
        f.write(b"t%d APPEND INBOX (\\Seen) {%d}\r\n" % (i, size))
        f.flush()
        assert f.readline().startswith(b"+")
        s.sendall(msgs[i][:part])
    time.sleep(1.0)  # the server reads what the sockets hold
    grown = rss_kb(pid) - before
    assert grown < 12 * 1024, f"imapd RSS grew {grown} kB with 4 x 15 MB in flight"
    assert stray_files(root) == []
    assert len(open_literal_files(pid, root)) >= len(conns)
    for i, (s, f) in enumerate(conns):
        s.sendall(msgs[i][part:] + b"\r\n")
    for i, (s, f) in enumerate(conns):
        ln = tagged(f, b"t%d" % i)
        assert ln.startswith(b"t%d OK [APPENDUID" % i), ln
        hangup(s, f)
    files = cur_files(root)
    assert len(files) == len(conns)
    stored = sorted(p.read_bytes() for p in files)
    assert stored == sorted(msgs)
    assert stray_files(root) == []
    # and through IMAP, with the size counted with CRLF line ends
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=60)
    c.login(USER, PASSWORD)
    c.select("INBOX", readonly=True)
    typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    # FETCH sends CRLF line ends; RFC822.SIZE counts them
    body = data[0][1]
    assert body in [crlf(m) for m in msgs]
    assert b"RFC822.SIZE %d " % len(body) in data[0][0]
    c.logout()


def test_multiappend_spilled_and_small(imap):
    """MULTIAPPEND with two 3 MB messages (kept in files) and a small one
    (in memory): all three stored byte-exact with consecutive UIDs."""
    root = mbox_root(imap)
    s, f = connect(imap)
    parts = [message(3 * MB, 10), b"Subject: small\r\n\r\nhi\r\n",
             message(3 * MB, 11)]
    f.write(b"m APPEND Drafts (\\Draft) {%d}\r\n" % len(parts[0]))
    f.flush()
    assert f.readline().startswith(b"+")
    f.write(parts[0] + b' "01-Mar-2026 10:00:00 +0000" {%d}\r\n' % len(parts[1]))
    f.flush()
    assert f.readline().startswith(b"+")
    f.write(parts[1] + b" {%d}\r\n" % len(parts[2]))
    f.flush()
    assert f.readline().startswith(b"+")
    f.write(parts[2] + b"\r\n")
    f.flush()
    ln = tagged(f, b"m")
    assert ln.startswith(b"m OK [APPENDUID ") and b" 1:3]" in ln, ln
    hangup(s, f)
    assert sorted(p.read_bytes() for p in cur_files(root, "Drafts")) == \
        sorted(parts)
    assert stray_files(root) == []
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=60)
    c.login(USER, PASSWORD)
    c.select("Drafts", readonly=True)
    for uid, want in ((1, parts[0]), (2, parts[1]), (3, parts[2])):
        typ, data = c.uid("FETCH", str(uid), "(FLAGS BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == crlf(want)
        assert (b"\\Draft" in data[0][0]) == (uid == 1)  # its own flags
    c.logout()


def test_disconnect_mid_literal_leaves_nothing(imap):
    """A client that goes away 5 MB into a 20 MB APPEND: no message, no
    file in any tmp/, no descriptor left open in imapd."""
    pid = imapd_pid(imap)
    root = mbox_root(imap)
    s, f = connect(imap)
    f.write(b"x APPEND INBOX {%d}\r\n" % (20 * MB))
    f.flush()
    assert f.readline().startswith(b"+")
    s.sendall(message(5 * MB, 20))
    deadline = time.time() + 10
    while time.time() < deadline and not open_literal_files(pid, root):
        time.sleep(0.1)
    assert open_literal_files(pid, root), "the literal is not in a file"
    hangup(s, f)
    deadline = time.time() + 10
    while time.time() < deadline and open_literal_files(pid, root):
        time.sleep(0.1)
    assert open_literal_files(pid, root) == []
    assert stray_files(root) == []
    assert cur_files(root) == [] and list((root / "new").iterdir()) == []
    # the server is fine and the mailbox empty
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    c.login(USER, PASSWORD)
    typ, data = c.select("INBOX")
    assert typ == "OK" and data[0] == b"0"
    c.logout()


def test_literal_limits_and_literal_plus(imap):
    """Literals of other commands stay in memory, bounded at 1 MB per
    command; a LITERAL+ over a limit gets its tagged BAD [TOOBIG] and
    the connection ends (RFC 7888 4), before login too."""
    s, f = connect(imap)
    f.write(b"a SEARCH TEXT {%d}\r\n" % (2 * MB))
    f.flush()
    ln = f.readline()
    assert ln.startswith(b"a BAD [TOOBIG]"), ln
    f.write(b"b NOOP\r\n")
    f.flush()
    assert tagged(f, b"b").startswith(b"b OK")
    f.write(b"c APPEND INBOX {4294967296+}\r\n")
    f.flush()
    ln = f.readline()
    assert ln.startswith(b"c BAD [TOOBIG]"), ln
    assert f.readline().startswith(b"* BYE")
    assert f.readline() == b""
    hangup(s, f)
    s = socket.create_connection(("127.0.0.1", imap.port("imap")), timeout=10)
    f = s.makefile("rwb")
    f.readline()
    f.write(b"p LOGIN {20000+}\r\n")
    f.flush()
    ln = f.readline()
    assert ln.startswith(b"p BAD [TOOBIG]"), ln
    assert f.readline().startswith(b"* BYE")
    hangup(s, f)


def folders(c):
    typ, data = c.list()
    assert typ == "OK"
    return [ln.decode().rsplit(" ", 1)[1].strip('"') for ln in data]


def test_folder_limit(imap):
    """mailbox.max_folders: the CREATE past it gets NO [LIMIT] and makes
    nothing; a DELETE makes room again; RENAME INBOX (which makes a
    folder) is refused at the limit too."""
    root = mbox_root(imap)
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    c.login(USER, PASSWORD)
    have = len(folders(c))   # INBOX and the default folders
    imap.cli("config", "set", "mailbox.max_folders", str(have + 2))
    assert c.create("One")[0] == "OK"
    assert c.create("Two")[0] == "OK"
    typ, data = c.create("Three")
    assert typ == "NO" and data[0].startswith(b"[LIMIT]"), data
    assert b"mailbox.max_folders" in data[0]
    assert not (root / ".Three").exists()
    assert "Three" not in folders(c) and len(folders(c)) == have + 2
    typ, data = c.rename("INBOX", "Old")
    assert typ == "NO" and data[0].startswith(b"[LIMIT]"), data
    assert not (root / ".Old").exists()
    # renaming an existing folder adds none: allowed
    assert c.rename("Two", "Deux")[0] == "OK"
    assert c.delete("One")[0] == "OK"
    assert c.create("Three")[0] == "OK"
    assert (root / ".Three" / "cur").is_dir()
    c.logout()


def test_folder_name_too_long_no_path(imap):
    """A folder name past what the file system takes (NAME_MAX for "."
    and the modified UTF-7 name of the whole hierarchy) gets a clean NO
    that names the limit and no server path; nothing is created; a
    RENAME that would make a child's name too long moves nothing."""
    root = mbox_root(imap)
    data_root = str(imap.root)
    c = imaplib.IMAP4("127.0.0.1", imap.port("imap"), timeout=10)
    c.login(USER, PASSWORD)
    before = sorted(os.listdir(root))
    for name in ("a" * 300, "b" * 255, "Parent." + "c" * 250):
        typ, data = c.create(name)
        assert typ == "NO", (name, data)
        text = data[0].decode()
        assert data_root not in text and "/" not in text, text
        assert text.startswith("[LIMIT]") and "254" in text, text
    assert sorted(os.listdir(root)) == before
    # 254 bytes is the most: that one is made
    assert c.create("d" * 254)[0] == "OK"
    assert (root / ("." + "d" * 254)).is_dir()
    # a child that would pass the limit after a RENAME of its parent
    assert c.create("P")[0] == "OK" and c.create("P.child")[0] == "OK"
    typ, data = c.rename("P", "e" * 250)
    assert typ == "NO" and data[0].startswith(b"[LIMIT]"), data
    assert data_root.encode() not in data[0]
    assert (root / ".P.child").is_dir() and (root / ".P").is_dir()
    # the limit is on the stored (modified UTF-7) form: 100 "é" are 200
    # bytes of UTF-8 but 270 of modified UTF-7
    s, f = connect(imap)
    f.write(b"e ENABLE UTF8=ACCEPT\r\n")
    f.flush()
    assert tagged(f, b"e").startswith(b"e OK")
    name = ("\u00e9" * 100).encode()
    f.write(b'u CREATE "' + name + b'"\r\n')
    f.flush()
    ln = tagged(f, b"u")
    assert ln.startswith(b"u NO [LIMIT]"), ln
    assert data_root.encode() not in ln
    hangup(s, f)
    c.logout()


def test_mass_create_keeps_the_wal_bounded(imap):
    """2,500 pipelined CREATEs (3,000 left a 51 MB index WAL, the
    checkpoints on the writer thread never catching up with the loop's
    commits): the WAL stays under 20 MB."""
    imap.cli("config", "set", "mailbox.max_folders", "5000")
    root = mbox_root(imap)
    s, f = connect(imap)
    n = 2500
    f.write(b"".join(b"c%d CREATE Mass%05d\r\n" % (i, i) for i in range(n)))
    f.flush()
    ok = 0
    for i in range(n):
        ln = f.readline()
        assert ln.startswith(b"c%d " % i), ln
        ok += ln.startswith(b"c%d OK" % i)
    hangup(s, f)
    assert ok == n
    wal = root / "postern-index.db-wal"
    size = wal.stat().st_size if wal.exists() else 0
    assert size < 20 * MB, f"index WAL {size} bytes after {n} CREATEs"


def test_sieve_fileinto_respects_the_folder_limit(populated):
    """A Sieve script filing by a header's value would let any sender
    make folders: past mailbox.max_folders the message stays in INBOX
    and no folder is made."""
    from test_mta import wait_for
    from test_sieve import folder_files, inbox_files, send, set_filter
    p = populated
    p.cli("mailbox", "add", USER, "--password", PASSWORD)
    p.cli("config", "set", "mailbox.max_folders", "2")  # INBOX and one
    set_filter(p, "carol", 'require ["fileinto", "variables"];\n'
               'if header :matches "subject" "tag:*" {\n'
               '    fileinto "Tags.${1}";\n    stop;\n}\n')
    p.start(services=["smtpd", "mta", "deliver"])
    root = mbox_root(p)
    send(p, "x@remote.test", "carol@acme.test", subject="tag:one")
    wait_for(lambda: folder_files(p.root, "carol", "Tags.one"), 60, "Tags.one")
    for t in ("two", "three"):
        send(p, "x@remote.test", "carol@acme.test", subject="tag:" + t)
    wait_for(lambda: len(inbox_files(p.root, "carol")) == 2, 60,
             "two messages kept in INBOX")
    assert sorted(x.name for x in root.glob(".*") if x.is_dir()) == \
        [".Tags.one"]
    assert "mailbox.max_folders" in p.log("deliver")
