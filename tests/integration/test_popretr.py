"""The POP retrieval connector (src/popretr): mail fetched from another
Postern's pop3d (plain, STLS, implicit TLS) and from a private Dovecot
pop3 (USER/PASS and APOP) into a local mailbox through the MTA and the
post office connector; leave-on-server fetches each message once across
three runs; a kill -9 mid-way loses and duplicates nothing; a bad password
and an unreachable server show in `postern popretrieval status`."""
import json
import os
import poplib
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import Postern
from test_mta import mailbox_msgs, wait_for

SERVICES = ["mta", "deliver", "popretr"]
T = 90   # the machine is loaded: generous deadlines


def message(i, size=0):
    body = ("x" * 70 + "\r\n") * (size // 72) if size else f"body {i}\r\n"
    return (f"From: sender{i}@far.test\r\nTo: carol@far.test\r\n"
            f"Subject: remote message {i}\r\n"
            f"Message-ID: <remote-{i}-{time.time_ns()}@far.test>\r\n\r\n"
            f".leading dot line {i}\r\n{body}").encode()


def maildir_put(d, data, n=[0]):
    for sub in ("cur", "new", "tmp"):
        (d / sub).mkdir(parents=True, exist_ok=True)
    n[0] += 1
    name = f"{int(time.time())}.M{n[0]:06d}P{os.getpid()}.test,S={len(data)}"
    (d / "tmp" / name).write_bytes(data)
    os.rename(d / "tmp" / name, d / "new" / name)


@pytest.fixture
def remote(tmp_path):
    """A second Postern with pop3d: far/carol (password carol-pw)."""
    r = Postern(tmp_path / "remote")
    r.init()
    r.cli("postoffice", "add", "far", "--password", "pm-secret")
    r.cli("domain", "add", "far.test", "--postoffice", "far")
    r.cli("mailbox", "add", "carol@far", "--password", "carol-pw")
    r.start(services=["pop3d"])
    r.maildir = r.root / "store" / "far" / "carol"
    yield r
    r.stop()
    assert not r.sanitizer_reports()


def remote_count(r):
    c = poplib.POP3("127.0.0.1", r.port("pop3"), timeout=30)
    c.user("carol@far")
    c.pass_("carol-pw")
    n = c.stat()[0]
    c.quit()
    return n


def subjects(p):
    return sorted(re.search(r"Subject: (remote message \d+)", m).group(1)
                  for m in mailbox_msgs(p.root, "alice")
                  if "remote message" in m)


def status(p):
    return {a["id"]: a for a in p.cli("popretrieval", "status", json_out=True)}


def add_account(p, port, *extra, user="carol@far", password="carol-pw"):
    out = p.cli("popretrieval", "add", "alice@acme", "--host", "127.0.0.1",
                "--port", port, "--user", user, "--password", password,
                *extra, json_out=True)
    return out["id"]


def run_and_wait(p, acct):
    before = status(p)[acct]["last_run"]
    time.sleep(1.1)   # last_run has a resolution of a second
    p.cli("popretrieval", "run", acct)
    wait_for(lambda: status(p)[acct]["last_run"] != before, T, "a run")
    return status(p)[acct]


def test_fetch_plain_stls_and_tls(populated, remote):
    p = populated
    p.cli("config", "set", "popretr.interval", "1h")
    for i in range(3):
        maildir_put(remote.maildir, message(i))
    acct = add_account(p, remote.port("pop3"), "--tls", "starttls")
    lst = p.cli("popretrieval", "list", json_out=True)
    assert lst[0]["mailbox"] == "alice@acme" and "password" not in lst[0]
    p.start(services=SERVICES)
    wait_for(lambda: len(subjects(p)) == 3, T, "three messages fetched")
    st = wait_for(lambda: status(p)[acct]["last_status"].startswith("ok")
                  and status(p)[acct], T, "status")
    assert st["last_status"] == "ok: 3 fetched, 3 deleted, 0 left on the server"
    assert remote_count(remote) == 0
    m = [x for x in mailbox_msgs(p.root, "alice") if "remote message 1" in x][0]
    assert "Received: from 127.0.0.1 (POP3 account" in m
    assert "\r\n.leading dot line 1\r\n" in m, "dot-stuffing undone"
    # implicit TLS on the pop3s port, plain on the pop3 port
    # (a new account is due at once)
    p.cli("popretrieval", "disable", acct)
    maildir_put(remote.maildir, message(3))
    a2 = add_account(p, remote.port("pop3s"), "--tls", "tls")
    st = wait_for(lambda: status(p)[a2]["last_status"] and status(p)[a2], T,
                  "implicit TLS run")
    assert st["last_status"].startswith("ok: 1 fetched"), st
    p.cli("popretrieval", "disable", a2)
    maildir_put(remote.maildir, message(4))
    a3 = add_account(p, remote.port("pop3"), "--tls", "none")
    st = wait_for(lambda: status(p)[a3]["last_status"] and status(p)[a3], T,
                  "plain run")
    assert st["last_status"].startswith("ok: 1 fetched"), st
    wait_for(lambda: len(subjects(p)) == 5, T, "five messages")
    assert subjects(p) == [f"remote message {i}" for i in range(5)]
    p.cli("popretrieval", "del", a3)
    assert a3 not in status(p)


def test_leave_on_server_three_runs(populated, remote):
    p = populated
    p.cli("config", "set", "popretr.interval", "1h")
    for i in range(3):
        maildir_put(remote.maildir, message(i))
    acct = add_account(p, remote.port("pop3"), "--leave-on-server")
    p.start(services=SERVICES)
    wait_for(lambda: len(subjects(p)) == 3, T, "first run")
    st = wait_for(lambda: status(p)[acct]["last_status"].startswith("ok")
                  and status(p)[acct], T, "status")
    assert st["last_status"].startswith("ok: 3 fetched, 0 deleted")
    assert run_and_wait(p, acct)["last_status"].startswith("ok: 0 fetched")
    maildir_put(remote.maildir, message(3))
    assert run_and_wait(p, acct)["last_status"].startswith("ok: 1 fetched")
    wait_for(lambda: len(subjects(p)) == 4, T, "the new one")
    time.sleep(2)
    assert subjects(p) == [f"remote message {i}" for i in range(4)], \
        "each message once"
    assert remote_count(remote) == 4


def test_kill_midway_loses_and_duplicates_nothing(populated, remote):
    p = populated
    n = 150
    p.cli("config", "set", "popretr.interval", "1h")
    for i in range(n):
        maildir_put(remote.maildir, message(i, size=40000))
    add_account(p, remote.port("pop3"), "--tls", "none")
    p.start(services=SERVICES)
    pid = json.loads((p.root / "run/popretr.json").read_text())["pid"]
    wait_for(lambda: p.log("popretr").count("fetched message") >= 5, T,
             "some messages fetched")
    os.kill(pid, signal.SIGKILL)
    done_before = p.log("popretr").count("fetched message")
    assert done_before < n, "the run ended before the kill: nothing tested"
    wait_for(lambda: json.loads((p.root / "run/popretr.json").read_text())
             ["pid"] != pid, 30, "posternd restarts popretr")
    # the restarted service runs the account again (its run never ended)
    wait_for(lambda: len(subjects(p)) >= n, 4 * T, "every message")
    time.sleep(3)
    got = subjects(p)
    assert len(got) == n, f"{len(got)} messages for {n}: duplicates"
    assert got == sorted(f"remote message {i}" for i in range(n))
    wait_for(lambda: remote_count(remote) == 0, T, "all deleted on the server")


def test_bad_password_and_unreachable(populated, remote):
    p = populated
    p.cli("config", "set", "popretr.interval", "1h")
    maildir_put(remote.maildir, message(0))
    bad = add_account(p, remote.port("pop3"), "--tls", "none",
                      password="wrong-pw")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    down = add_account(p, closed, "--tls", "none")
    p.start(services=SERVICES)
    wait_for(lambda: status(p)[bad]["last_status"] and
             status(p)[down]["last_status"], T, "both ran")
    st = status(p)
    assert st[bad]["last_status"].startswith("error: login failed"), st[bad]
    assert "cannot connect" in st[down]["last_status"], st[down]
    assert "wrong-pw" not in p.log("popretr")
    out = p.cli("popretrieval", "status").stdout
    assert "login failed" in out
    assert remote_count(remote) == 1


# -- a private Dovecot pop3 ---------------------------------------------

from conftest import free_port  # noqa: E402  (one port registry per run)


@pytest.fixture
def dovecot(tmp_path):
    if not Path("/usr/sbin/dovecot").exists():
        pytest.skip("dovecot is not installed")
    vmail = pwd.getpwnam("dovenull")
    # Dovecot's auth and mail processes must reach the files: not under
    # pytest's private (0700) temporary directory
    top = Path(tempfile.mkdtemp(prefix="postern-popretr-dovecot-"))
    os.chmod(top, 0o755)
    d = top / "dovecot"
    (d / "run").mkdir(parents=True)
    (d / "state").mkdir()
    mail = top / "dmail"
    mail.mkdir()
    os.chown(mail, vmail.pw_uid, vmail.pw_gid)
    (d / "users").write_text("dave@far.test:{PLAIN}dave-pw\n")
    port = free_port()
    conf = d / "dovecot.conf"
    conf.write_text(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
instance_name = popretr-test-{os.getpid()}-{port}
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain apop
first_valid_uid = {vmail.pw_uid}
mail_location = maildir:{mail}/%u
mail_uid = {vmail.pw_uid}
mail_gid = {vmail.pw_gid}
pop3_uidl_format = %08Xu%08Xv
passdb {{
  driver = passwd-file
  args = username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={vmail.pw_uid} gid={vmail.pw_gid} home={mail}/%u
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")
    r = subprocess.run(["dovecot", "-c", str(conf)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode:
        pytest.skip("dovecot did not start: " +
                    (d / "dovecot.log").read_text()[-1000:])
    pid = None
    try:
        deadline = time.time() + 30
        while time.time() < deadline and pid is None:
            for e in os.listdir("/proc"):
                if not e.isdigit():
                    continue
                try:
                    cmd = Path(f"/proc/{e}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if cmd[:1] == [b"/usr/sbin/dovecot"] and str(conf).encode() in cmd:
                    pid = int(e)
            time.sleep(0.1)
        wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0,
                 30, "dovecot pop3 port")
        maildir = mail / "dave@far.test"
        for sub in ("cur", "new", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        for root, dirs, files in os.walk(mail):
            os.chown(root, vmail.pw_uid, vmail.pw_gid)
        yield {"port": port, "maildir": maildir, "uid": vmail.pw_uid,
               "gid": vmail.pw_gid}
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.time() + 20
            while time.time() < deadline and Path(f"/proc/{pid}").exists():
                time.sleep(0.1)
        shutil.rmtree(top, ignore_errors=True)


def dovecot_put(dc, data):
    maildir_put(dc["maildir"], data)
    for sub in ("cur", "new", "tmp"):
        for f in (dc["maildir"] / sub).iterdir():
            os.chown(f, dc["uid"], dc["gid"])


def dovecot_count(dc):
    c = poplib.POP3("127.0.0.1", dc["port"], timeout=30)
    c.user("dave@far.test")
    c.pass_("dave-pw")
    n = c.stat()[0]
    c.quit()
    return n


def test_dovecot_apop_and_user_pass(populated, dovecot):
    p = populated
    p.cli("config", "set", "popretr.interval", "1h")
    for i in range(3):
        dovecot_put(dovecot, message(i))
    # APOP, leave on server: fetched once however often it runs
    apop = add_account(p, dovecot["port"], "--tls", "none", "--apop",
                       "--leave-on-server", user="dave@far.test",
                       password="dave-pw")
    p.start(services=SERVICES)
    wait_for(lambda: len(subjects(p)) == 3, T, "fetched from Dovecot (APOP)")
    st = wait_for(lambda: status(p)[apop]["last_status"] and status(p)[apop],
                  T, "status")
    assert st["last_status"].startswith("ok: 3 fetched, 0 deleted"), st
    assert run_and_wait(p, apop)["last_status"].startswith("ok: 0 fetched")
    assert dovecot_count(dovecot) == 3
    # USER/PASS, deleting: nothing fetched twice, the server emptied
    p.cli("popretrieval", "disable", apop)
    # the message first: a new account is due at once, so popretr runs it
    # as soon as it sees it (a run asked for after that would find the
    # server already emptied and be the status read)
    dovecot_put(dovecot, message(3))
    plain = add_account(p, dovecot["port"], "--tls", "none",
                        user="dave@far.test", password="dave-pw")
    st = wait_for(lambda: status(p)[plain]["last_status"] and status(p)[plain],
                  T, "the new account's first run")
    assert st["last_status"] == "ok: 4 fetched, 4 deleted, 0 left on the server"
    assert dovecot_count(dovecot) == 0
    # the second account has its own memory: the 3 come again, once each
    wait_for(lambda: len(subjects(p)) == 7, T, "seven")


# -- a stalled server holds only its own retrieval -----------------------

class SilentServer:
    """Accepts connections and never answers (trickle=True: sends "+" and
    then one byte every 0.3 s, never a line end). Bounded: at most 20
    connections, stopped by close()."""

    def __init__(self, trickle=False):
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", free_port()))
        self.sock.listen(20)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.trickle = trickle
        self.conns = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set() and len(self.conns) < 20:
            try:
                c, _ = self.sock.accept()
                self.conns.append(c)
            except OSError:
                pass
            if self.trickle:
                for c in self.conns:
                    try:
                        c.send(b"+")
                    except OSError:
                        pass
                self.done.wait(0.3)

    def close(self):
        self.done.set()
        self.thread.join(10)
        for c in self.conns:
            c.close()
        self.sock.close()


def gone(pid):
    try:
        st = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return st.rsplit(")", 1)[1].split()[0] == "Z"


def test_stalled_server_does_not_block_others_or_stop(populated, remote):
    p = populated
    p.cli("config", "set", "popretr.interval", "1h")
    silent, trickle = SilentServer(), SilentServer(trickle=True)
    try:
        for i in range(3):
            maildir_put(remote.maildir, message(i))
        stalled = add_account(p, silent.port, "--tls", "none")
        slow = add_account(p, trickle.port, "--tls", "none")
        good = add_account(p, remote.port("pop3"), "--tls", "none")
        p.start(services=SERVICES)
        # before: one process fetched in turn, and the silent server held
        # it for the 60 s read timeout before the good account came
        wait_for(lambda: len(subjects(p)) == 3, 40,
                 "the good account while another server is silent")
        assert status(p)[good]["last_status"].startswith("ok: 3 fetched")
        assert status(p)[stalled]["last_status"] == "", "still waiting"
        assert status(p)[slow]["last_status"] == "", "still waiting"
        # a stop does not wait for the silent servers (up to 60 s before)
        pid = json.loads((p.root / "run/popretr.json").read_text())["pid"]
        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: gone(pid), 10, "popretr stops on SIGTERM")
        assert p.log("popretr").count("retrieval stopped") == 2
        # posternd restarts popretr, which runs both accounts again:
        # popretr.timeout bounds the wait for a silent server, and
        # popretr.max_run_time a server trickling bytes (which defeats
        # the read timeout)
        p.cli("config", "set", "popretr.timeout", "2")
        p.cli("config", "set", "popretr.max_run_time", "5")
        st = wait_for(lambda: status(p)[stalled]["last_status"] and
                      status(p)[stalled], T, "the silent server's run")
        assert st["last_status"].startswith("error: greeting:"), st
        assert "timed out" in st["last_status"], st
        st = wait_for(lambda: status(p)[slow]["last_status"] and
                      status(p)[slow], T, "the trickling server's run")
        assert "max_run_time" in st["last_status"], st
    finally:
        silent.close()
        trickle.close()


def children(pid):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                st = Path(f"/proc/{e}/stat").read_text()
            except OSError:
                continue
            if int(st.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(e))
    return out


def test_retrieval_process_killed_midway(populated, remote):
    """SIGKILL of one account's retrieval process (not the service): the
    service records it, hands on what the process had staged, and the
    next run fetches the rest: nothing lost, nothing twice."""
    p = populated
    n = 60
    p.cli("config", "set", "popretr.interval", "1h")
    for i in range(n):
        maildir_put(remote.maildir, message(i, size=40000))
    acct = add_account(p, remote.port("pop3"), "--tls", "none")
    p.start(services=SERVICES)
    pid = json.loads((p.root / "run/popretr.json").read_text())["pid"]
    wait_for(lambda: p.log("popretr").count("fetched message") >= 5, T,
             "some messages fetched")
    kids = children(pid)
    assert len(kids) == 1, kids
    os.kill(kids[0], signal.SIGKILL)
    assert p.log("popretr").count("fetched message") < n, \
        "the run ended before the kill: nothing tested"
    st = wait_for(lambda: status(p)[acct]["last_status"] and status(p)[acct],
                  T, "the killed run recorded")
    assert st["last_status"] == \
        "error: the retrieval process died (signal 9)", st
    assert json.loads((p.root / "run/popretr.json").read_text())["pid"] == pid
    st = run_and_wait(p, acct)
    assert st["last_status"].startswith("ok:"), st
    wait_for(lambda: len(subjects(p)) >= n, 2 * T, "every message")
    time.sleep(2)
    got = subjects(p)
    assert got == sorted(f"remote message {i}" for i in range(n)), \
        f"{len(got)} messages for {n}"
    assert remote_count(remote) == 0
