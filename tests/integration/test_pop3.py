"""POP3 service: poplib, fetchmail and curl against a real postern-pop3d.

Messages are put into the Maildir directly (as a delivery agent or another
tool would), which also checks that the index picks up files added behind
its back.
"""
import os
import poplib
import shutil
import socket
import ssl
import subprocess
import time
import base64
from pathlib import Path

import pytest

MSG1 = (b"From: Carol <carol@example.org>\r\nTo: alice@acme.test\r\n"
        b"Subject: first\r\n\r\nHello Alice,\r\n.a line with a dot\r\n"
        b".\r\n..\r\nbye\r\n")
# LF line ends, no final newline, 8-bit bytes: POP3 sends CRLF
MSG2 = (b"From: dave@example.org\nSubject: second\n\nline 1\nline 2\n"
        b"\xc3\xa9t\xc3\xa9\nline 4\nno newline at end")
MSG3 = b"Subject: third\r\n\r\n" + b"x" * 70 + b"\r\n" * 1 + b"y\r\n" * 3000


def crlf_size(b):
    """LIST/STAT size: the stored message with CRLF line ends (a final
    CRLF the file lacks is added on the wire only)."""
    return len(b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def crlf(b):
    out = b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not out.endswith(b"\r\n"):
        out += b"\r\n"
    return out


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


@pytest.fixture
def pop(populated):
    put(populated, MSG1)
    put(populated, MSG2)
    put(populated, MSG3)
    populated.start(services=["pop3d"])
    return populated


def client(p, user="alice@acme", password="alice-pw"):
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=10)
    c.user(user)
    c.pass_(password)
    return c


def retr_bytes(c, n):
    resp, lines, octets = c.retr(n)
    return resp, b"\r\n".join(lines) + b"\r\n", octets


def raw(p, port="pop3"):
    s = socket.create_connection(("127.0.0.1", p.port(port)), timeout=10)
    f = s.makefile("rwb")
    return s, f


def send(f, line):
    f.write(line + b"\r\n")
    f.flush()
    return f.readline()


def test_greeting_and_capa(pop):
    c = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    welcome = c.getwelcome()
    assert welcome.startswith(b"+OK")
    assert b"<" not in welcome  # no APOP timestamp: passwords are hashed
    caps = c.capa()
    for k in ("TOP", "UIDL", "USER", "RESP-CODES", "AUTH-RESP-CODE",
              "PIPELINING", "STLS"):
        assert k in caps, caps
    assert caps["SASL"] == ["PLAIN"]
    with pytest.raises(poplib.error_proto, match="APOP"):
        c._shortcmd("APOP alice@acme 0123456789abcdef0123456789abcdef")
    c.quit()


def test_stat_list_retr_top_uidl(pop):
    c = client(pop)
    want = [crlf(MSG1), crlf(MSG2), crlf(MSG3)]
    count, size = c.stat()
    assert count == 3
    sizes = [crlf_size(m) for m in (MSG1, MSG2, MSG3)]
    assert size == sum(sizes)
    resp, listing, _ = c.list()
    assert listing == [f"{i + 1} {n}".encode() for i, n in enumerate(sizes)]
    assert c.list(2) == f"+OK 2 {sizes[1]}".encode()
    for i, w in enumerate(want):
        resp, body, octets = retr_bytes(c, i + 1)
        assert body == w, (i, body[:200])
        assert f"{sizes[i]} octets".encode() in resp
    # TOP: headers, blank line, n body lines
    resp, lines, _ = c.top(2, 2)
    assert lines == [b"From: dave@example.org", b"Subject: second", b"",
                     b"line 1", b"line 2"]
    resp, lines, _ = c.top(1, 0)
    assert lines[-1] == b"" and b"Subject: first" in lines
    resp, lines, _ = c.top(1, 3)
    assert lines[-2:] == [b".a line with a dot", b"."]  # un-stuffed by poplib
    resp, uidls, _ = c.uidl()
    ids = [l.split()[1] for l in uidls]
    assert len(set(ids)) == 3
    assert all(0x21 <= ch <= 0x7e for i in ids for ch in i)
    assert c.uidl(3).split()[2] == ids[2]
    # errors keep the session alive
    for cmd in ("RETR 4", "RETR 0", "RETR x", "TOP 1", "TOP 1 -1", "DELE 9",
                "LIST 1 2", "FROB", "PASS x"):
        with pytest.raises(poplib.error_proto):
            c._shortcmd(cmd)
    assert c.noop().startswith(b"+OK")
    c.quit()
    # UIDL stable across sessions and across a rebuild of the index
    c = client(pop)
    assert [l.split()[1] for l in c.uidl()[1]] == ids
    c.quit()
    for sfx in ("", "-wal", "-shm"):
        try:
            os.unlink(mbox_root(pop) / f"postern-index.db{sfx}")
        except FileNotFoundError:
            pass
    c = client(pop)
    assert [l.split()[1] for l in c.uidl()[1]] == ids
    c.quit()


def test_dele_rset_quit(pop):
    c = client(pop)
    ids = [l.split()[1] for l in c.uidl()[1]]
    c.dele(1)
    with pytest.raises(poplib.error_proto, match="deleted"):
        c.retr(1)
    assert c.stat()[0] == 2
    c.rset()
    assert c.stat()[0] == 3
    c.dele(2)
    # a dropped connection deletes nothing (no UPDATE state)
    c.file.close()
    c.sock.close()
    time.sleep(0.3)
    c = client(pop)
    assert c.stat()[0] == 3
    c.dele(2)
    resp = c.quit()
    assert b"2 messages left" in resp
    c = client(pop)
    assert c.stat()[0] == 2
    assert [l.split()[1] for l in c.uidl()[1]] == [ids[0], ids[2]]
    assert retr_bytes(c, 2)[1] == crlf(MSG3)
    c.quit()
    cur = list((mbox_root(pop) / "cur").iterdir())
    assert len(cur) == 2


def test_new_mail_between_sessions(pop):
    c = client(pop)
    assert c.stat()[0] == 3
    # mail arriving during a session shows up in the next one
    put(pop, b"Subject: late\r\n\r\nlate\r\n")
    assert c.stat()[0] == 3
    c.quit()
    c = client(pop)
    assert c.stat()[0] == 4
    assert retr_bytes(c, 4)[1] == b"Subject: late\r\n\r\nlate\r\n"
    c.quit()


def test_auth_plain_and_address_login(pop):
    s, f = raw(pop)
    f.readline()
    tok = base64.b64encode(b"\0alice@acme\0alice-pw")
    assert send(f, b"AUTH PLAIN " + tok).startswith(b"+OK maildrop has 3")
    assert send(f, b"QUIT").startswith(b"+OK")
    s.close()
    # continuation form, and cancel
    s, f = raw(pop)
    f.readline()
    assert send(f, b"AUTH PLAIN").startswith(b"+ ")
    assert send(f, b"*").startswith(b"-ERR [AUTH]")
    assert send(f, b"AUTH PLAIN").startswith(b"+ ")
    assert send(f, tok).startswith(b"+OK")
    assert send(f, b"QUIT").startswith(b"+OK")
    s.close()
    # USER/PASS: the password is the rest of the line, spaces included
    pop.cli("mailbox", "passwd", "bob@acme", "--password", " two  words ")
    c = client(pop, "bob@acme", " two  words ")
    assert c.stat()[0] == 0
    c.quit()
    # address login only when the post office allows it
    with pytest.raises(poplib.error_proto, match="AUTH"):
        client(pop, "alice@acme.test")
    pop.cli("postoffice", "set", "acme", "allow_address_login=1")
    c = client(pop, "alice@acme.test")
    assert c.stat()[0] == 3
    c.quit()


def test_refusals(pop):
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client(pop, password="wrong")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\]"):
        client(pop, user="nobody@acme")
    pop.cli("mailbox", "set", "bob@acme", "disabled=1")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[SYS/PERM\].*disabled"):
        client(pop, "bob@acme", "bob-pw")
    pop.cli("mailbox", "set", "bob@acme", "disabled=0", "prevent_auth=1")
    with pytest.raises(poplib.error_proto, match=r"-ERR \[AUTH\].*not allowed"):
        client(pop, "bob@acme", "bob-pw")
    # commands need a login
    s, f = raw(pop)
    f.readline()
    assert send(f, b"STAT").startswith(b"-ERR")
    assert send(f, b"PASS x").startswith(b"-ERR")
    assert send(f, b"X" * 5000).startswith(b"-ERR line too long")
    assert send(f, b"CAPA").startswith(b"+OK")
    s.close()


def test_hangup_during_login(pop):
    # the password check runs on a thread: a client gone before the answer
    # must not take the server down
    for _ in range(5):
        s, f = raw(pop)
        f.readline()
        s.sendall(b"USER alice@acme\r\nPASS alice-pw\r\n")
        f.close()
        s.close()
    c = client(pop)
    assert c.stat()[0] == 3
    c.quit()


def test_login_timeout(pop):
    pop.cli("config", "set", "pop3.login_timeout", "2")
    s, f = raw(pop)
    t0 = time.time()
    assert f.readline().startswith(b"+OK")
    line = f.readline()  # nothing sent: the server gives up
    assert line.startswith(b"-ERR"), line
    assert f.readline() == b""  # closed
    assert 1.5 < time.time() - t0 < 10
    f.close()
    s.close()
    r = pop.cli("config", "set", "pop3.idle_timeout", "60", check=False)
    assert r.returncode != 0  # RFC 1939: at least 10 minutes


def test_in_use(pop):
    a = client(pop)
    with pytest.raises(poplib.error_proto, match=r"\[IN-USE\]"):
        client(pop)
    a.quit()
    b = client(pop)
    b.quit()


def test_throttle_and_conn_limit(pop):
    pop.cli("config", "set", "auth.max_failures", "2")
    for _ in range(2):
        with pytest.raises(poplib.error_proto, match="invalid"):
            client(pop, password="bad")
    with pytest.raises(poplib.error_proto, match="too many failed"):
        client(pop)  # even the right password, from this address
    pop.cli("config", "set", "pop3.max_connections_per_ip", "2")
    a = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    b = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    with pytest.raises(poplib.error_proto, match=r"\[SYS/TEMP\]"):
        poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    a.quit()
    b.quit()


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def test_stls_and_pop3s(pop):
    c = poplib.POP3("127.0.0.1", pop.port("pop3"), timeout=10)
    c.stls(context=tls_ctx())
    assert "STLS" not in c.capa()
    c.user("alice@acme")
    c.pass_("alice-pw")
    assert retr_bytes(c, 1)[1] == crlf(MSG1)
    with pytest.raises(poplib.error_proto):
        c._shortcmd("STLS")
    c.quit()
    c = poplib.POP3_SSL("127.0.0.1", pop.port("pop3s"), timeout=10,
                        context=tls_ctx())
    assert "STLS" not in c.capa()
    c.user("alice@acme")
    c.pass_("alice-pw")
    assert retr_bytes(c, 3)[1] == crlf(MSG3)
    c.quit()


def test_pipelining(pop):
    s, f = raw(pop)
    f.readline()
    f.write(b"USER alice@acme\r\nPASS alice-pw\r\nRETR 1\r\nSTAT\r\nQUIT\r\n")
    f.flush()
    data = b""
    deadline = time.time() + 10
    while time.time() < deadline and not data.endswith(b"signing off (3 messages left)\r\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    assert data.count(b"+OK") == 5
    assert b"\r\n..a line with a dot\r\n..\r\n...\r\n" in data
    s.close()


def test_curl(pop):
    port = pop.port("pop3")
    url = f"pop3://127.0.0.1:{port}/"
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "alice@acme:alice-pw", url], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == f"1 {len(crlf(MSG1))}".encode()
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-u",
                        "alice@acme:alice-pw", url + "2"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(MSG2)
    # over STLS, with SASL PLAIN
    r = subprocess.run(["curl", "-sS", "--max-time", "20", "-k", "--ssl-reqd",
                        "--login-options", "AUTH=PLAIN", "-u",
                        "alice@acme:alice-pw", url + "3"], capture_output=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(MSG3)


@pytest.mark.skipif(shutil.which("fetchmail") is None, reason="no fetchmail")
def test_fetchmail(pop, tmp_path):
    out = tmp_path / "got"
    out.mkdir()
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll 127.0.0.1 port {pop.port("pop3")} protocol pop3 uidl\n'
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
    got = sorted(p.read_bytes() for p in out.iterdir())
    assert len(got) == 3, r.stdout
    # fetchmail adds its Received: line and delivers with LF ends
    bodies = [g.replace(b"\r\n", b"\n") for g in got]
    assert any(b"Hello Alice,\n.a line with a dot\n.\n..\nbye\n" in b
               for b in bodies)
    assert any(b"no newline at end" in b for b in bodies)
    # fetchmail deleted what it fetched (no keep)
    c = client(pop)
    assert c.stat()[0] == 0
    c.quit()
