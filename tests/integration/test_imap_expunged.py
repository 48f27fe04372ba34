"""A message expunged by another process stays readable for an IMAP
session that was not told of the expunge yet (RFC 2180 4.1.1): the store
moves the file to the folder's tmp/ for a minute instead of unlinking it
(lib-store store_msg_retire), so a FETCH answers it instead of
NO [EXPUNGEISSUED]. The other process here is pop3d (DELE, QUIT); with
imap.processes above 1 it is another imapd, which is what the
shared-mailbox stress run of imaptest showed. Raw sockets."""
import poplib

import pytest

from conftest import Postern
from test_imap_notify import Conn

USER, PW = "ntf@acme", "notify-pw-55120"   # Conn logs in as this one


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    p = Postern(tmp_path_factory.mktemp("expunged") / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret-881")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", USER, "--password", PW)
    p.start(services=["imapd", "pop3d"])
    yield p
    p.stop()
    reports = p.sanitizer_reports()
    assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def test_fetch_after_another_process_expunged(srv):
    a = Conn(srv)
    try:
        for i in range(3):
            msg = b"Subject: m%d\r\n\r\nbody-of-message-%d\r\n" % (i, i)
            a.ok(b"APPEND INBOX {%d+}\r\n%s" % (len(msg), msg))
        a.ok(b"SELECT INBOX")
        # pop3d, another process, deletes the second message
        pop = poplib.POP3("127.0.0.1", srv.port("pop3"), timeout=30)
        pop.user(USER)
        pop.pass_(PW)
        assert pop.stat()[0] == 3
        pop.dele(2)
        pop.quit()
        # this session was not told yet: the message is still its 2
        r = a.cmd(b"FETCH 2 (BODY.PEEK[TEXT] RFC822.SIZE)")
        assert r[-1].split()[1] == b"OK", r
        assert b"body-of-message-1" in b"".join(r), r
        assert not any(b"EXPUNGE" in ln for ln in r), r
        # told at the next command that may tell it
        r = a.ok(b"NOOP")
        assert b"* 2 EXPUNGE\r\n" in r, r
        r = a.ok(b"FETCH 1:* (BODY.PEEK[TEXT])")
        body = b"".join(r)
        assert b"body-of-message-0" in body and b"body-of-message-2" in body
        assert b"body-of-message-1" not in body
        # the file waits in tmp/, outside what the sync and the quota
        # count; cur/ has the other two
        tmp = [f for f in srv.root.rglob("tmp/expunged.*")]
        assert len(tmp) == 1, tmp
        assert b"body-of-message-1" in tmp[0].read_bytes()
    finally:
        a.close()
