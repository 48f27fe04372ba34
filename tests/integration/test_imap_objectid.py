"""IMAP OBJECTID (RFC 8474) over imaplib: EMAILID and THREADID in FETCH and
SEARCH, MAILBOXID in SELECT, STATUS and CREATE; the ids lib-store keeps
for JMAP, stable across COPY, MOVE, RENAME and a rebuild of the index.

One server for the module; each test has its own mailbox.
"""
import imaplib
import re

import pytest

from conftest import Postern

PW = "Objid-secret-5813"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("objectid") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-5519")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.start(services=["imapd"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def login(p, user):
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=20)
    c.login(f"{user}@acme", PW)
    return c


def new_user(p, user):
    p.cli("mailbox", "add", f"{user}@acme", "--password", PW)
    return login(p, user)


def msg(mid, subject, refs=None):
    hdr = (f"From: Carol <carol@example.org>\r\nTo: x@acme.test\r\n"
           f"Subject: {subject}\r\nMessage-ID: <{mid}>\r\n")
    if refs:
        hdr += f"In-Reply-To: <{refs}>\r\nReferences: <{refs}>\r\n"
    return (hdr + "\r\nbody of " + mid + "\r\n").encode()


def append(c, folder, data):
    typ, dat = c.append(folder, None, None, data)
    assert typ == "OK", dat
    m = re.search(rb"APPENDUID \d+ (\d+)", dat[0])
    return int(m.group(1))


def ids(c, uidset="1:*"):
    """{uid: (emailid, threadid)} of the selected folder."""
    typ, dat = c.uid("FETCH", uidset, "(EMAILID THREADID)")
    assert typ == "OK", dat
    out = {}
    for line in dat:
        if not isinstance(line, bytes):
            continue
        m = re.search(rb"UID (\d+)", line)
        e = re.search(rb"EMAILID \(([A-Za-z0-9_-]+)\)", line)
        t = re.search(rb"THREADID \(([A-Za-z0-9_-]+)\)", line)
        assert m and e and t, line
        out[int(m.group(1))] = (e.group(1).decode(), t.group(1).decode())
    return out


def mailboxid_of_select(c, folder):
    typ, dat = c.select(folder)
    assert typ == "OK", dat
    typ, code = c.response("MAILBOXID")
    assert code and code[0], "no MAILBOXID response code in SELECT"
    m = re.fullmatch(rb"\(([A-Za-z0-9_-]+)\)", code[0])
    assert m, code
    return m.group(1).decode()


def status_mailboxid(c, folder):
    typ, dat = c.status(folder, "(MAILBOXID)")
    assert typ == "OK", dat
    m = re.search(rb"MAILBOXID \(([A-Za-z0-9_-]+)\)", dat[0])
    assert m, dat
    return m.group(1).decode()


def search(c, *keys):
    typ, dat = c.uid("SEARCH", *keys)
    assert typ == "OK", dat
    return sorted(int(x) for x in dat[0].split())


def test_capability_and_ids_per_message(srv):
    c = new_user(srv, "obj1")
    typ, dat = c.capability()        # after login: the full list
    assert typ == "OK" and b"OBJECTID" in dat[0].split(), dat
    u1 = append(c, "INBOX", msg("root1@x", "Plans"))
    u2 = append(c, "INBOX", msg("reply1@x", "Re: Plans", refs="root1@x"))
    u3 = append(c, "INBOX", msg("other1@x", "Lunch"))
    c.select("INBOX")
    got = ids(c)
    assert set(got) == {u1, u2, u3}
    emails = [got[u][0] for u in (u1, u2, u3)]
    assert len(set(emails)) == 3              # distinct per message
    assert got[u1][1] == got[u2][1]           # a reply shares the thread
    assert got[u3][1] != got[u1][1]
    for e, t in got.values():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", e)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,255}", t)
    # SEARCH keys
    assert search(c, "EMAILID", got[u2][0]) == [u2]
    assert search(c, "THREADID", got[u1][1]) == sorted([u1, u2])
    assert search(c, "EMAILID", "Mnosuchemail0000") == []
    # a bad objectid is a protocol error and the session goes on
    with pytest.raises(imaplib.IMAP4.error, match="objectid"):
        c.uid("SEARCH", "EMAILID", '"a b"')
    assert c.noop()[0] == "OK"
    c.logout()


def test_ids_survive_copy_and_move(srv):
    c = new_user(srv, "obj2")
    u1 = append(c, "INBOX", msg("copy2@x", "Keep"))
    u2 = append(c, "INBOX", msg("move2@x", "Move me"))
    c.select("INBOX")
    before = ids(c)
    typ, dat = c.uid("COPY", str(u1), "Archive")
    assert typ == "OK", dat
    typ, dat = c.uid("MOVE", str(u2), "Trash")
    assert typ == "OK", dat
    # COPY: the original keeps its id, and so does the copy
    assert ids(c)[u1] == before[u1]
    c.select("Archive")
    arch = ids(c)
    assert [v for v in arch.values()] == [before[u1]]
    c.select("Trash")
    trash = ids(c)
    assert [v for v in trash.values()] == [before[u2]]
    # a copy into the folder it is in is another message: another id
    c.select("INBOX")
    typ, dat = c.uid("COPY", str(u1), "INBOX")
    assert typ == "OK", dat
    now = ids(c)
    assert len(now) == 2
    new = [v for u, v in now.items() if u != u1][0]
    assert new[0] != before[u1][0] and new[1] == before[u1][1]
    c.logout()


def test_mailboxid(srv):
    c = new_user(srv, "obj3")
    inbox = mailboxid_of_select(c, "INBOX")
    assert status_mailboxid(c, "INBOX") == inbox
    typ, dat = c.create("Projects")
    assert typ == "OK", dat
    m = re.search(rb"\[MAILBOXID \(([A-Za-z0-9_-]+)\)\]", dat[0])
    assert m, dat
    proj = m.group(1).decode()
    assert proj != inbox
    assert status_mailboxid(c, "Projects") == proj
    assert mailboxid_of_select(c, "Projects") == proj
    # RENAME keeps it (RFC 8474 4)
    c.select("INBOX")
    typ, dat = c.rename("Projects", "Done")
    assert typ == "OK", dat
    assert status_mailboxid(c, "Done") == proj
    # LIST-STATUS carries it too
    typ, dat = c._simple_command("LIST", '""', '"*"', "RETURN",
                                 "(STATUS (MAILBOXID))")
    assert typ == "OK", dat
    st = c.untagged_responses.get("STATUS", [])
    assert any(proj.encode() in s for s in st if isinstance(s, bytes)), st
    c.logout()


def test_ids_survive_index_rebuild(srv):
    c = new_user(srv, "obj4")
    append(c, "INBOX", msg("r4@x", "Rebuild"))
    append(c, "INBOX", msg("r4b@x", "Re: Rebuild", refs="r4@x"))
    u = append(c, "INBOX", msg("r4c@x", "Filed"))
    c.select("INBOX")
    c.uid("MOVE", str(u), "Archive")
    inbox_before = sorted(ids(c).values())
    box_before = {f: status_mailboxid(c, f) for f in ("INBOX", "Archive")}
    c.select("Archive")
    arch_before = sorted(ids(c).values())
    c.logout()
    # the index goes (as if damaged); the server restarts without it
    srv.stop()
    root = srv.root / "store" / "acme" / "obj4"
    gone = 0
    for p in root.glob("postern-index.db*"):
        p.unlink()
        gone += 1
    assert gone >= 1
    srv.start(services=["imapd"])
    c = login(srv, "obj4")
    c.select("INBOX")
    assert sorted(ids(c).values()) == inbox_before
    assert {f: status_mailboxid(c, f) for f in ("INBOX", "Archive")} == \
        box_before
    c.select("Archive")
    assert sorted(ids(c).values()) == arch_before
    c.logout()
    assert (srv.root / "store" / "acme" / "obj4" / "postern-index.db").exists()
