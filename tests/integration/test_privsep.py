"""Privilege separation (docs/SECURITY.md "Privilege model", issue 14 item
6): the pre-login processes of pop3d (pop3-login) and imapd (imap-login)
run as the system user postern-login, chrooted to an empty directory,
with no descriptor of the config store, the store, the queue or the keys,
and cannot open a mailbox file, the config store (DKIM keys, password
hashes) or a TLS key when they try as that user; logins and mail still
work end to end, in clear, over POP3S/IMAPS and after STLS/STARTTLS, on a
data root owned by root and on one owned by an unprivileged user. Checked
through /proc/<pid>/status, /proc/<pid>/fd and /proc/<pid>/root of the
real processes."""
import base64
import imaplib
import json
import os
import poplib
import pwd
import socket
import smtplib
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from test_managesieve import Client as SieveClient
from test_privileges import owned, proc_status  # noqa: F401 (fixture)

LOGIN_USER = "postern-login"
SERVICES = ["smtpd", "mta", "deliver", "pop3d", "imapd", "managesieve"]

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")


def children(pid):
    kids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if proc_status(int(d.name)).get("PPid") == [str(pid)]:
                kids.append(int(d.name))
        except OSError:
            pass
    return kids


def login_pids(p, service="pop3d", nkids=1):
    """(main, pre-login) pids of a service, once both are up (and its
    other post-login processes: nkids children in all)."""
    login_uid = str(pwd.getpwnam(LOGIN_USER).pw_uid)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            st = json.loads((p.root / "run" / "status.json").read_text())
        except (OSError, ValueError):
            st = {}
        main = [s["pid"] for s in st.get("services", [])
                if s["name"] == service and s["state"] == "running"]
        if main and main[0] > 0:
            kids = children(main[0])
            pre = [k for k in kids
                   if proc_status(k)["Uid"][0] == login_uid]
            if len(kids) == nkids and pre:
                return main[0], pre[0]
        time.sleep(0.2)
    raise AssertionError(f"{service} and its pre-login process not found")


def pop3d_pids(p):
    return login_pids(p, "pop3d")


def open_fds(pid):
    out = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            out.append(os.readlink(fd))
        except OSError:
            pass
    return out


def try_open_as(uid, gid, path):
    """Open path for reading as uid:gid (no groups), in a child; the
    errno name or 'opened'."""
    code = ("import os,sys\n"
            "os.setgroups([]); os.setgid(%d); os.setuid(%d)\n"
            "try:\n open(sys.argv[1],'rb').read(1); print('opened')\n"
            "except OSError as e:\n import errno; print(errno.errorcode[e.errno])\n"
            % (gid, uid))
    r = subprocess.run(["/usr/bin/python3", "-c", code, str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def deliver(p, subject):
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=60) as s:
        s.sendmail("a@example.org", ["alice@acme.test"],
                   f"Subject: {subject}\r\n\r\nhello\r\n".encode())
    deadline = time.time() + 60
    while time.time() < deadline:
        found = [f for f in (p.root / "store").rglob("*") if f.is_file()
                 and "/new/" in str(f) and subject.encode() in f.read_bytes()]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError("message not delivered")


def check_split(p, owner_uid, service="pop3d"):
    login = pwd.getpwnam(LOGIN_USER)
    main, pre = login_pids(p, service)
    # the main (post-login) process: the data root's owner (root keeps root)
    assert proc_status(main)["Uid"] == [str(owner_uid)] * 4
    # the pre-login process: postern-login, no groups, no privileges
    s = proc_status(pre)
    assert s["Uid"] == [str(login.pw_uid)] * 4, s["Uid"]
    assert s["Gid"] == [str(login.pw_gid)] * 4, s["Gid"]
    assert s.get("Groups", []) == []
    assert s["NoNewPrivs"] == ["1"]
    assert s["CapEff"] == ["0000000000000000"]
    # chrooted to an empty directory of root's
    jail = os.readlink(f"/proc/{pre}/root")
    assert jail == str(p.root / "run" / "empty"), jail
    assert os.listdir(jail) == []
    assert os.stat(jail).st_uid == 0 and not os.stat(jail).st_mode & 0o222
    # its descriptors: the log, sockets, pipes, nothing of the data root's
    # config, store, queue or keys
    for target in open_fds(pre):
        for sub in ("config", "store", "queue", "certs"):
            assert not target.startswith(str(p.root / sub)), target
        assert not target.endswith((".db", ".db-wal", ".db-shm", ".key"))
    # the main process holds no listener: the pre-login process does
    assert "pre-login process" in p.log(service)
    return login, main, pre


def pop_login(p, password="alice-pw"):
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=60)
    c.user("alice@acme")
    c.pass_(password)
    return c


def check_mail(p, login):
    msg = deliver(p, "privsep-e2e")
    # the pre-login user cannot open that mailbox file, the config store
    # (the DKIM private keys and password hashes are in it) or a TLS key
    for path in (msg, p.root / "config" / "postern.db",
                 p.root / "certs" / "default.key"):
        assert try_open_as(login.pw_uid, login.pw_gid, path) == "EACCES", path
    # in clear (loopback is secure by default), a wrong password first on
    # the same connection: the pre-login process gets the session back
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=60)
    c.user("alice@acme")
    with pytest.raises(poplib.error_proto, match=r"\[AUTH\]"):
        c.pass_("wrong")
    c.user("alice@acme")
    c.pass_("alice-pw")
    count, _ = c.stat()
    assert count == 1
    body = b"\r\n".join(c.retr(1)[1])
    assert b"Subject: privsep-e2e" in body
    c.quit()
    # POP3S and STLS: TLS ends in the pre-login process, the mailbox is
    # read by the main one
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = poplib.POP3_SSL("127.0.0.1", p.port("pop3s"), timeout=60,
                        context=ctx)
    c.user("alice@acme")
    c.pass_("alice-pw")
    assert b"privsep-e2e" in b"\r\n".join(c.top(1, 0)[1])
    c.quit()
    c = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=60)
    c.stls(ctx)
    c.user("alice@acme")
    c.pass_("alice-pw")
    assert c.stat()[0] == 1
    c.dele(1)
    c.quit()
    c = pop_login(p)
    assert c.stat()[0] == 0
    c.quit()


def read_until(s, token, got, start):
    """recv into got until token is in got[start:] (60 s at most)"""
    deadline = time.time() + 60
    while token not in got[start:] and time.time() < deadline:
        b = s.recv(4096)
        if not b:
            break
        got += b
    return got


def imap_raw(p, chunks, until):
    """On a plain IMAP connection: the greeting, then each chunk (bytes,
    or a list whose chunks after the first are sent once a '+'
    continuation came), then read until `until`; all that was read."""
    chunks = [chunks] if isinstance(chunks, bytes) else chunks
    with socket.create_connection(("127.0.0.1", p.port("imap")),
                                  timeout=60) as s:
        got = read_until(s, b"\r\n", b"", 0)
        for i, chunk in enumerate(chunks):
            start = len(got)
            s.sendall(chunk)
            if i < len(chunks) - 1:
                got = read_until(s, b"+ ", got, start)
        return read_until(s, until, got, 0)


def check_imap(p):
    """IMAP through imap-login: LOGIN with a wrong password then the right
    one on one connection, a literal LOGIN with a command pipelined
    behind it, AUTHENTICATE PLAIN with SASL-IR and with a continuation,
    IMAPS, STARTTLS; the tagged OK and CAPABILITY after login are the
    post-login process's (its capabilities)."""
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=60)
    pre_caps = c.capabilities
    assert "AUTH=PLAIN" in pre_caps and "SELECT" not in pre_caps
    assert c.xatom("ID", "NIL")[0] == "OK"
    c.noop()
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        c.login("alice@acme", "wrong")
    typ, data = c.login("alice@acme", "alice-pw")
    assert typ == "OK" and b"[CAPABILITY IMAP4rev1" in data[0]
    assert b"QRESYNC" in data[0] and b"AUTH=PLAIN" not in data[0]
    typ, data = c.capability()
    assert b"MOVE" in data[0] and b"STARTTLS" not in data[0]
    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) >= 1
    typ, data = c.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"privsep-imap" in data[0][1]
    c.logout()
    # a literal LOGIN (synchronizing: '+' from the pre-login process),
    # then a command sent before the answer: the post-login process runs
    # it
    out = imap_raw(p, [b"a1 LOGIN {10}\r\n",
                       b"alice@acme {8}\r\n", b"alice-pw\r\n"
                       b"a2 STATUS INBOX (MESSAGES)\r\na3 LOGOUT\r\n"],
                   b"a3 OK")
    assert b"a1 OK [CAPABILITY" in out, out
    assert b"* STATUS \"INBOX\" (MESSAGES 1)" in out and b"a2 OK" in out, out
    # a NUL in a literal password: a failed login, the session goes on
    out = imap_raw(p, b"n1 LOGIN alice@acme {8+}\r\nalice\x00pw\r\n"
                   b"n2 CAPABILITY\r\nn3 LOGOUT\r\n", b"n3 OK")
    assert b"n1 NO [AUTHENTICATIONFAILED]" in out and b"n2 OK" in out, out
    # AUTHENTICATE PLAIN, SASL-IR and with a continuation
    ir = base64.b64encode(b"\0alice@acme\0alice-pw")
    out = imap_raw(p, b"s1 AUTHENTICATE PLAIN " + ir +
                   b"\r\ns2 SELECT INBOX\r\ns3 LOGOUT\r\n", b"s3 OK")
    assert b"s1 OK [CAPABILITY" in out and b"s2 OK [READ-WRITE]" in out, out
    out = imap_raw(p, [b"s1 AUTHENTICATE PLAIN\r\n",
                       ir + b"\r\ns3 LOGOUT\r\n"], b"s3 OK")
    assert b"s1 OK [CAPABILITY" in out, out
    # IMAPS and STARTTLS: TLS ends in imap-login
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = imaplib.IMAP4_SSL("127.0.0.1", p.port("imaps"), timeout=60,
                          ssl_context=ctx)
    c.login("alice@acme", "alice-pw")
    assert c.select("INBOX", readonly=True)[0] == "OK"
    c.logout()
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=60)
    c.starttls(ctx)
    assert "STARTTLS" not in c.capabilities
    c.login("alice@acme", "alice-pw")
    assert c.select("INBOX", readonly=True)[0] == "OK"
    c.logout()
    assert "login alice@acme from [127.0.0.1] (TLS)" in p.log("imapd")


def check_imap_split(p, owner_uid, login):
    """imap-login: split like pop3-login; cannot open the mailbox file or
    the config store."""
    check_split(p, owner_uid, "imapd")
    msg = deliver(p, "privsep-imap")
    for path in (msg, p.root / "config" / "postern.db",
                 p.root / "certs" / "default.key"):
        assert try_open_as(login.pw_uid, login.pw_gid, path) == "EACCES", path
    check_imap(p)


def check_sieve(p, owner_uid):
    """sieve-login: split like the others; STARTTLS and AUTHENTICATE PLAIN
    there, a failed login handed back, the scripts in the post-login
    process; UNAUTHENTICATE stays there."""
    check_split(p, owner_uid, "managesieve")
    c = SieveClient(p.port("managesieve"))
    c.response()
    c.starttls()
    assert c.login("alice@acme", "wrong")[-1].startswith("NO")
    assert c.login("alice@acme", "alice-pw")[-1].startswith("OK")
    script = 'require "fileinto"; fileinto "Privsep";'
    r = c.cmd(f'PUTSCRIPT "ps" {{{len(script)}+}}\r\n{script}')
    assert r[-1].startswith("OK"), r
    assert any('"ps"' in ln for ln in c.cmd("LISTSCRIPTS")), "no script"
    assert c.cmd("UNAUTHENTICATE")[-1].startswith("OK")
    assert c.login("alice@acme", "alice-pw")[-1].startswith("OK")
    assert c.cmd("DELETESCRIPT \"ps\"")[-1].startswith("OK")
    c.cmd("LOGOUT")
    c.close()
    assert "login alice@acme" in p.log("managesieve")


def test_root_owned_data_root(populated):
    """Root's data root: the services keep root, pop3-login does not; its
    SNI certificates were loaded before the chroot."""
    p = populated
    crt = p.root / "certs" / "pop.acme.test.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-subj", "/CN=pop.acme.test", "-days", "2",
                    "-keyout", str(p.root / "certs" / "pop.acme.test.key"),
                    "-out", str(crt)], check=True, capture_output=True,
                   timeout=120)
    p.start(services=SERVICES, timeout=60)
    login, main, pre = check_split(p, 0)
    check_mail(p, login)
    check_imap_split(p, 0, login)
    check_sieve(p, 0)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", p.port("pop3s")),
                                  timeout=60) as raw:
        with ctx.wrap_socket(raw, server_hostname="pop.acme.test") as t:
            assert t.getpeercert(binary_form=True) == \
                ssl.PEM_cert_to_DER_cert(crt.read_text())
            assert t.recv(64).startswith(b"+OK")


def test_user_owned_data_root(owned):
    """A user's data root (test_privileges.py's fixture): the main process
    becomes the user, the pre-login process postern-login."""
    p, pw = owned
    # the data root's top directory open to all: what keeps the pre-login
    # user out is config/, store/, queue/ (0750) and certs/ (0700)
    p.root.chmod(0o755)
    p.start(services=SERVICES, timeout=60)
    login, main, pre = check_split(p, pw.pw_uid)
    check_mail(p, login)
    check_imap_split(p, pw.pw_uid, login)
    check_sieve(p, pw.pw_uid)


def test_killed_login_process_restarts_the_service(populated):
    """The pre-login process dies: pop3d goes with it, posternd starts
    both again, logins work."""
    p = populated
    p.start(services=["pop3d"], timeout=60)
    main, pre = pop3d_pids(p)
    os.kill(pre, 9)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            m2, p2 = pop3d_pids(p)
            if m2 != main:
                break
        except AssertionError:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("pop3d not restarted")
    c = pop_login(p)
    assert c.stat()[0] == 0
    c.quit()


def test_imap_processes_share_the_pre_login_process(populated):
    """imap.processes 3: one imap-login hands the logins to the three
    post-login processes in turn; a killed imap-login restarts imapd."""
    p = populated
    p.cli("config", "set", "imap.processes", "3")
    p.start(services=["imapd"], timeout=60)
    main, pre = login_pids(p, "imapd", nkids=3)
    posts = {main} | set(children(main)) - {pre}
    assert len(posts) == 3
    seen = set()
    for _ in range(3):
        c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=60)
        c.login("alice@acme", "alice-pw")
        assert c.select("INBOX")[0] == "OK"
        # the post-login process that has the mailbox open
        for pid in posts:
            for t in open_fds(pid):
                if "/store/" in t:
                    seen.add(pid)
        c.logout()
    assert len(seen) >= 2, seen
    os.kill(pre, 9)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            m2, _ = login_pids(p, "imapd", nkids=3)
            if m2 != main:
                break
        except AssertionError:
            pass
        time.sleep(0.2)
    else:
        raise AssertionError("imapd not restarted")
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=60)
    c.login("alice@acme", "alice-pw")
    c.logout()
