"""Privilege separation (docs/SECURITY.md "Privilege model", issue 14 item
6): pop3d's pre-login process (pop3-login) runs as the system user
postern-login, chrooted to an empty directory, with no descriptor of the
config store, the store, the queue or the keys, and cannot open a mailbox
file, the config store (DKIM keys, password hashes) or a TLS key when it
tries as that user; logins and mail still work end to end, in clear, over
POP3S and after STLS, on a data root owned by root and on one owned by an
unprivileged user. Checked through /proc/<pid>/status, /proc/<pid>/fd and
/proc/<pid>/root of the real processes."""
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

from test_privileges import owned, proc_status  # noqa: F401 (fixture)

LOGIN_USER = "postern-login"
SERVICES = ["smtpd", "mta", "deliver", "pop3d"]

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


def pop3d_pids(p):
    """(main, pre-login) pids of pop3d, once both are up."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            st = json.loads((p.root / "run" / "status.json").read_text())
        except (OSError, ValueError):
            st = {}
        main = [s["pid"] for s in st.get("services", [])
                if s["name"] == "pop3d" and s["state"] == "running"]
        if main and main[0] > 0:
            kids = children(main[0])
            if kids and proc_status(kids[0])["Uid"][0] != "0":
                return main[0], kids[0]
        time.sleep(0.2)
    raise AssertionError("pop3d and its pre-login process not found")


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


def check_split(p, owner_uid):
    login = pwd.getpwnam(LOGIN_USER)
    main, pre = pop3d_pids(p)
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
    assert "pre-login process" in p.log("pop3d")
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
