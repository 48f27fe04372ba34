"""ENVELOPE, BODYSTRUCTURE, BODY and body sections of tricky messages,
compared byte for byte with Dovecot's imap (run in pre-authenticated mode
on a copy of the same Maildir). Known, deliberate differences are listed
in KNOWN with the reason."""
import os
import re
import shutil
import socket
import subprocess

import pytest

from imap_corpus import CORPUS

DOVECOT_IMAP = "/usr/lib/dovecot/imap"
ITEMS = ["ENVELOPE", "BODYSTRUCTURE", "BODY", "RFC822.SIZE",
         "BODY.PEEK[HEADER]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]",
         "BODY.PEEK[1.MIME]", "BODY.PEEK[2]", "BODY.PEEK[1.1]",
         "BODY.PEEK[2.HEADER]", "BODY.PEEK[2.TEXT]", "BODY.PEEK[2.1]",
         "BODY.PEEK[HEADER.FIELDS (Subject From)]",
         "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]", "BODY.PEEK[]<5.10>",
         "BINARY.SIZE[1]", "BINARY.PEEK[1]"]
# (message number, item) -> why we differ from Dovecot
NESTED = ("the CRLF after a nested multipart's close delimiter: RFC 2046 "
          "attaches it to the outer boundary, Dovecot to the inner part")
KNOWN = {
    (3, "ENVELOPE"): "a name with quotes: escaped quoted string vs literal",
    (9, "ENVELOPE"): "a TAB in the subject: quoted string vs literal",
    (4, "BODYSTRUCTURE"): NESTED, (4, "BODY"): NESTED,
    (4, "BODY.PEEK[1]"): NESTED, (4, "BODY.PEEK[2]"): NESTED,
    (4, "BODY.PEEK[2.TEXT]"): NESTED, (4, "BINARY.SIZE[1]"): NESTED,
    (4, "BINARY.PEEK[1]"): NESTED,
    (5, "BODY.PEEK[1.1]"): "a leaf part has no part 1 (RFC 3501 6.4.5)",
    (5, "BODY.PEEK[2.1]"): "a leaf part has no part 1 (RFC 3501 6.4.5)",
    (2, "BODY.PEEK[HEADER.FIELDS.NOT (Subject)]"):
        "a header without its blank line: we still end with one",
}


def commands():
    out = b""
    for i, it in enumerate(ITEMS):
        out += b"f%d FETCH 1:* (%s)\r\n" % (i, it.encode())
    return out + b"z LOGOUT\r\n"


def split(out):
    """Untagged FETCH responses, literals inline, grouped by command."""
    groups, cur, i = [], [], 0
    while i < len(out):
        j = out.find(b"\r\n", i)
        if j < 0:
            break
        line = out[i:j + 2]
        i = j + 2
        for _ in range(100):
            m = re.search(rb"\{(\d+)\}\r\n$", line)
            if not m:
                break
            n = int(m.group(1))
            line += out[i:i + n]
            i += n
            j = out.find(b"\r\n", i)
            line += out[i:j + 2]
            i = j + 2
        if re.match(rb"\* \d+ FETCH", line):
            cur.append(line)
        elif re.match(rb"f\d+ ", line):
            groups.append(cur)
            cur = []
    return groups


def dovecot_run(tmp_path):
    d = tmp_path / "dv"
    for sub in ("cur", "new", "tmp"):
        (d / "Maildir" / sub).mkdir(parents=True)
    for i, m in enumerate(CORPUS):
        (d / "Maildir" / "new" / f"{1000 + i}.M{i}.host").write_bytes(m)
    (d / "dovecot.conf").write_text(
        f"mail_location = maildir:{d}/Maildir\nlog_path = {d}/log\n"
        "mail_uid = 65534\nmail_gid = 65534\nfirst_valid_uid = 0\n"
        "first_valid_gid = 0\n")
    subprocess.run(["chown", "-R", "65534:65534", str(d)], check=True)
    for p in (tmp_path, *tmp_path.parents):
        if str(p) in ("/", "/tmp"):
            break
        os.chmod(p, 0o755)
    # one command per run: Dovecot may run pipelined FETCHes in parallel
    out = b""
    for i, it in enumerate(ITEMS):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                            "--clear-groups", "env", "USER=nobody",
                            f"HOME={d}", DOVECOT_IMAP, "-c",
                            str(d / "dovecot.conf")],
                           input=b"a SELECT INBOX\r\nf%d FETCH 1:* (%s)\r\n"
                           b"z LOGOUT\r\n" % (i, it.encode()),
                           capture_output=True, timeout=30)
        out += r.stdout
    return out


@pytest.mark.skipif(not os.path.exists(DOVECOT_IMAP) or
                    shutil.which("setpriv") is None, reason="no Dovecot")
def test_same_as_dovecot(populated, tmp_path):
    root = populated.root / "store" / "acme" / "alice"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, m in enumerate(CORPUS):
        (root / "new" / f"{1000 + i}.M{i}.host").write_bytes(m)
    populated.start(services=["imapd"])
    s = socket.create_connection(("127.0.0.1", populated.port("imap")),
                                 timeout=20)
    s.sendall(b"l LOGIN alice@acme alice-pw\r\na SELECT INBOX\r\n" + commands())
    ours = b""
    for _ in range(10000):
        d = s.recv(65536)
        if not d:
            break
        ours += d
    s.close()
    theirs = dovecot_run(tmp_path)
    a, b = split(theirs), split(ours)
    assert len(a) == len(b) == len(ITEMS)
    compared, diffs = 0, []
    for item, ga, gb in zip(ITEMS, a, b):
        assert len(ga) == len(gb) == len(CORPUS), item
        for n, (x, y) in enumerate(zip(ga, gb), 1):
            if (n, item) in KNOWN:
                continue
            compared += 1
            if x != y:
                diffs.append(f"message {n} {item}:\n dovecot {x[:300]!r}\n "
                             f"postern {y[:300]!r}")
    assert not diffs, "\n".join(diffs)
    assert compared > 150
