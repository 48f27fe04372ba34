"""What an administrator trips over (issue 12): the README's install as a
real unprivileged user, queue commands as root, `queue retry` waking the
services at once, logs after a rotation, `postern track` by Message-ID and
in rotated logs, the service totals in `postern status`, one line per
deferral, listener changes and a service that cannot start."""
import gzip
import imaplib
import json
import os
import poplib
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from conftest import BUILD, ROOT, Postern, dnsmasq_start, dnsmasq_stop, free_port

PW_A = "Wq8-river-stone"
PW_B = "Lm3-cloud-field"
PW_PM = "Pm7-harbour-gate"


def wait_for(cond, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def send(p, rcpt, subject, msgid=None, body="hello\r\n"):
    msgid = msgid or f"<{secrets.token_hex(6)}@client.test>"
    msg = (f"From: someone@client.test\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
           f"Message-ID: {msgid}\r\n\r\n{body}")
    with smtplib.SMTP("127.0.0.1", p.port("smtp"), timeout=10) as s:
        s.sendmail("someone@client.test", [rcpt], msg)
    return msgid


def imap_count(p, login, password):
    m = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    try:
        m.login(login, password)
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        return int(data[0])
    finally:
        try:
            m.logout()
        except Exception:
            pass


def queue_ids(root, conn, direction, sub="new"):
    d = Path(root) / "queue" / conn / direction / sub
    return sorted(x.stem for x in d.glob("*.env")) if d.is_dir() else []


def badmail(root):
    d = Path(root) / "queue" / "badmail"
    return sorted(x.stem for x in d.glob("*.env")) if d.is_dir() else []


def env_attempts(path):
    """the first recipient's attempts; 0 for an envelope a worker has just
    claimed (moved from new/ to cur/ between the listing and the read)"""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return 0
    for line in text.splitlines():
        if line.startswith("rcpt "):
            return int(line.split(" ")[5])
    return 0


# -- the install, as the README says it ---------------------------------------

@pytest.fixture
def sysuser():
    """A real system user made for this test, removed even on failure."""
    if os.geteuid() != 0:
        pytest.skip("needs root (useradd)")
    name = "pt" + secrets.token_hex(5)
    r = subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                        "/usr/sbin/nologin", name], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("useradd failed: " + r.stderr)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def installed(sysuser):
    """README "Installing", step by step with the build's binaries: the
    user (sysusers.d: useradd here, with a unique name), the data root
    owned by it (tmpfiles.d: its mode and owner), then every command as
    root, then posternd started by hand as root."""
    readme = (ROOT / "README.md").read_text()
    install = readme[readme.index("## Installing"):]
    install = install[:install.index("\n## ")]
    assert "systemd-sysusers; systemd-tmpfiles --create" in install
    assert "postern -d /var/lib/postern init" in install
    tmpfiles = (ROOT / "dist/postern.tmpfiles").read_text()
    line = next(l for l in tmpfiles.splitlines() if l.startswith("d /var/lib/postern"))
    mode, owner = int(line.split()[2], 8), line.split()[3]
    assert owner == "postern"
    # not under pytest's 0700 tmp dir: the user must reach the data root
    base = Path(tempfile.mkdtemp(prefix="postern-install-", dir="/tmp"))
    base.chmod(0o755)
    p = Postern(base / "root")
    try:
        p.root.mkdir(mode)
        os.chown(p.root, sysuser.pw_uid, sysuser.pw_gid)
        p.cli("init", "--hostname", "mx.postern.test")        # as root
        for name in ("smtp", "pop3", "imap"):
            p.ports[name] = free_port()
            p.cli("config", "set", f"{name}.listen", f"127.0.0.1:{p.ports[name]}")
        p.cli("config", "set", "delivery.workers", "2")
        p.cli("postoffice", "add", "acme", "--password", PW_PM)
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        p.cli("mailbox", "add", "alice@acme", "--password", PW_A)
        yield p, sysuser
    finally:
        p.stop()
        reports = p.sanitizer_reports()
        shutil.rmtree(base, ignore_errors=True)
        assert not reports, "sanitizer reports:\n" + "\n".join(reports)


def as_user(user, p, *args):
    cmd = ["runuser", "-u", user, "--", str(BUILD / "postern"), "-d", str(p.root)]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True,
                          text=True, timeout=120, env=p.env)


def owners(root):
    """Paths under root not owned by root's owner, but for run/empty: the
    pre-login processes' chroot, root's on purpose (docs/SECURITY.md)"""
    uid = root.stat().st_uid
    bad = []
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            q = Path(dirpath) / n
            if q == root / "run" / "empty":
                continue
            try:
                if q.lstat().st_uid != uid:
                    bad.append(str(q))
            except FileNotFoundError:
                pass    # gone meanwhile (an index's -wal at its close)
    return bad


def test_readme_install_mail_flows_and_queue_retry_as_root(installed):
    p, user = installed
    # the postern user itself can add a mailbox too
    r = as_user(user.pw_name, p, "mailbox", "add", "bob@acme", "--password", PW_B)
    assert r.returncode == 0, r.stderr
    # a third, unprivileged user is refused, naming the owner
    r = as_user("nobody", p, "mailbox", "list")
    assert r.returncode == 1 and user.pw_name in r.stderr, (r.returncode, r.stderr)
    # everything root made through the CLI is the owner's
    assert owners(p.root) == []
    p.start(services=["smtpd", "mta", "deliver", "pop3d", "imapd"], timeout=60)
    send(p, "alice@acme.test", "one")
    send(p, "bob@acme.test", "two")
    wait_for(lambda: imap_count(p, "alice@acme", PW_A) == 1, what="IMAP alice")
    assert imap_count(p, "bob@acme", PW_B) == 1
    pop = poplib.POP3("127.0.0.1", p.port("pop3"), timeout=10)
    try:
        pop.user("bob@acme")
        pop.pass_(PW_B)
        assert pop.stat()[0] == 1
        assert b"Subject: two" in b"\r\n".join(pop.retr(1)[1])
    finally:
        pop.quit()

    # a deferral (the mailbox's tmp/ unwritable), retried by root
    tmp = next(d for d in (p.root / "store").rglob("tmp")
               if "alice" in str(d) and d.parent.name == "alice")
    tmp.chmod(0o500)
    send(p, "alice@acme.test", "three")
    qid = wait_for(lambda: [i for i in queue_ids(p.root, "sf", "outgoing")
                            if env_attempts(p.root / "queue/sf/outgoing/new" / f"{i}.env") >= 1],
                   what="a deferred item")[0]
    tmp.chmod(0o700)
    t0 = time.time()
    p.cli("queue", "retry", qid)           # as root
    wait_for(lambda: imap_count(p, "alice@acme", PW_A) == 2, timeout=15,
             what="delivery after queue retry")
    # the default schedule would wait 5 minutes: retry woke deliver
    assert time.time() - t0 < 15
    assert badmail(p.root) == [], p.log("deliver")
    assert owners(p.root) == [], "root-owned files after the root commands"
    # diag: clean, then a root-owned file in the store is an error naming it
    d = p.cli("diag", "--json", check=False)
    own = [i for s in json.loads(d.stdout)["sections"] for i in s["items"]
           if i["check"] == "Ownership"]
    assert own and own[0]["status"] == "ok", own
    stray = tmp.parent / "stray-root-file"
    stray.write_text("x")                  # as root, no switch
    d = p.cli("diag", "--json", check=False)
    own = [i for s in json.loads(d.stdout)["sections"] for i in s["items"]
           if i["check"] == "Ownership"]
    assert own[0]["status"] == "error" and "stray-root-file" in own[0]["value"], own
    assert d.returncode == 1


# -- queue retry wakes smtp-out at once ---------------------------------------

def test_retry_wakes_smtp_out_at_once(postern):
    from test_smtp_out import Sink, inject, read_env
    dns, dport = dnsmasq_start(["--mx-host=remote.test,mx.remote.test,10",
                                "--host-record=mx.remote.test,127.0.0.1"])
    sink = None
    try:
        mxport = free_port()      # nothing listens yet: connections refused
        for k, v in {"dns.hosts": f"127.0.0.1:{dport}", "smtp.out_port": str(mxport),
                     "queue.retry_schedule": "1h", "smtp.out_timeout": "5"}.items():
            postern.cli("config", "set", k, v)
        qid = inject(postern.root, "alice@acme.test", ["bob@remote.test"],
                     "From: alice@acme.test\r\nSubject: r\r\n\r\nhi\r\n")
        postern.start(services=["smtp-out"])
        env = postern.root / "queue/smtp/outgoing/new" / f"{qid}.env"
        wait_for(lambda: env.exists() and read_env(env)["rcpts"][0]["attempts"] == 1,
                 what="the first, refused attempt")
        assert read_env(env)["rcpts"][0]["next"] - time.time() > 3000
        sink = Sink(port=mxport).start()
        time.sleep(1)
        assert not sink.messages          # its next try is an hour away
        postern.cli("queue", "retry", qid)
        wait_for(lambda: sink.messages, timeout=10, what="delivery after queue retry")
    finally:
        if sink is not None:
            sink.stop()
        dnsmasq_stop(dns)


# -- logs after a rotation ----------------------------------------------------

def service_pids(p):
    """posternd's services and every process they forked (workers)."""
    st = json.loads((p.root / "run/status.json").read_text())
    top = {s["pid"] for s in st["services"] if s["pid"] > 0}
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
                parent[int(d.name)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                pass
    found = set(top)
    for _ in range(4):
        found |= {pid for pid, pp in parent.items() if pp in found}
    return found


def log_fds(pid):
    """(fd, target) of a process's descriptors that point into a log dir."""
    out = []
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                t = os.readlink(fd)
            except OSError:
                continue
            if "/log/" in t:
                out.append((int(fd.name), t))
    except OSError:
        pass
    return out


def test_sighup_every_process_writes_to_the_new_log(populated):
    p = populated
    p.cli("config", "set", "imap.processes", "2")
    p.start(services=["smtpd", "mta", "deliver", "imapd"])
    pids = service_pids(p)
    assert len(pids) >= 4 + 3 + 3 + 1, pids      # mta and deliver: 3 workers each
    logdir = p.root / "log"
    for f in logdir.glob("*.log"):
        f.rename(f.with_name(f.name + ".1"))
    p.proc.send_signal(signal.SIGHUP)

    def moved():
        stale = [(pid, fd, t) for pid in pids for fd, t in log_fds(pid)
                 if t.endswith(".log.1")]
        return not stale or None
    try:
        wait_for(moved, timeout=10, what="every process on the new log")
    except AssertionError:
        stale = [(pid, fd, t) for pid in pids for fd, t in log_fds(pid)
                 if t.endswith(".log.1")]
        raise AssertionError(f"still on the rotated file: {stale}")
    # stderr (fd 2) of every process is the new log too, and lines arrive
    for pid in pids:
        fds = dict(log_fds(pid))
        assert fds.get(2, "").endswith(".log"), (pid, fds)
    send(p, "alice@acme.test", "after rotation")
    wait_for(lambda: "after" in p.log("deliver") or
             re.search(r"to=<alice@acme.test>", p.log("deliver")),
             what="deliver writing to the new log")


# -- track ---------------------------------------------------------------------

def test_track_by_message_id_rotated_gz_and_not_found(running):
    p = running
    msgid = send(p, "alice@acme.test", "tracked")
    wait_for(lambda: imap_count(p, "alice@acme", "alice-pw") == 1, what="delivery")
    r = p.cli("track", msgid)
    qid = re.search(r"([0-9A-F]{16})", r.stdout).group(1)
    assert "deliver" in r.stdout and f"{qid}:" in r.stdout, r.stdout
    # rotate: yesterday's logs compressed, the day before plain .1
    logdir = p.root / "log"
    for f in logdir.glob("*.log"):
        with open(f, "rb") as src, gzip.open(f.with_name(f.name + ".2.gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        f.unlink()
    p.proc.send_signal(signal.SIGHUP)
    r = p.cli("track", msgid)
    assert qid in r.stdout and "deliver" in r.stdout, r.stdout
    r = p.cli("track", qid)
    assert "smtpd" in r.stdout and "deliver" in r.stdout, r.stdout
    r = p.cli("track", "0123456789ABCDEF", check=False)
    assert r.returncode == 3 and "not found" in r.stderr, (r.returncode, r.stdout, r.stderr)
    r = p.cli("track", "<nobody-sent-this@x.test>", check=False)
    assert r.returncode == 3 and "not found" in r.stderr


# -- status totals, one deferral line ------------------------------------------

def deliver_note(p):
    st = json.loads((p.root / "run/status.json").read_text())
    return next(s["note"] for s in st["services"] if s["name"] == "deliver")


def test_status_totals_after_deliveries(running):
    p = running
    n = 12
    for i in range(n):
        send(p, "bob@acme.test", f"m{i}")
    wait_for(lambda: imap_count(p, "bob@acme", "bob-pw") == n, timeout=30,
             what=f"{n} deliveries")
    wait_for(lambda: f"delivered {n}," in deliver_note(p), timeout=15,
             what=f"delivered {n} in status")
    r = p.cli("status")
    assert f"delivered {n}," in r.stdout, r.stdout


def test_one_deferral_one_line(running):
    p = running
    tmp = next(d for d in (p.root / "store").rglob("tmp")
               if d.parent.name == "alice")
    shutil.rmtree(tmp)
    tmp.write_text("not a directory")   # even root cannot write there
    try:
        send(p, "alice@acme.test", "deferred")
        qid = wait_for(lambda: [i for i in queue_ids(p.root, "sf", "outgoing")
                                if env_attempts(p.root / "queue/sf/outgoing/new" / f"{i}.env") >= 1],
                       what="a deferred item")[0]
        time.sleep(6)      # every worker has scanned the queue by now
        log = p.log("deliver")
        assert log.count(f"{qid}: 1 recipients deferred") == 1, log
        assert log.count(f"{qid}: to=<alice@acme.test> deferred") == 1, log
    finally:
        tmp.unlink()
        tmp.mkdir()


# -- listeners -----------------------------------------------------------------

def imap_greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
            return c.recv(100).startswith(b"* OK")
    except OSError:
        return False


def test_listener_change_needs_no_note_while_stopped(postern):
    """with no posternd running, its start binds what is set: no note"""
    r = postern.cli("config", "set", "imap.listen", f"127.0.0.1:{free_port()}")
    assert "reload" not in r.stderr and r.stderr == "", r.stderr


def test_listener_change_applied_on_sighup(running):
    p = running
    old, new = p.port("imap"), free_port()
    pids = {s["name"]: s["pid"] for s in p.status()["services"]}
    r = p.cli("config", "set", "imap.listen", f"127.0.0.1:{new}")
    assert "reload" in r.stderr and "imap.listen" in r.stderr, r.stderr
    r = p.cli("status")
    assert "restart needed: imap.listen changed" in r.stdout, r.stdout
    imapd = next(s for s in p.status()["services"] if s["name"] == "imapd")
    assert "imap.listen" in imapd["restart_needed"]
    assert not imap_greets(new)
    p.proc.send_signal(signal.SIGHUP)       # the unit's ExecReload
    wait_for(lambda: imap_greets(new), timeout=20, what="IMAP on the new port")
    assert not imap_greets(old)
    p.ports["imap"] = new
    assert imap_count(p, "alice@acme", "alice-pw") == 0
    after = {s["name"]: s for s in p.wait_running()["services"]}
    assert after["imapd"]["pid"] != pids["imapd"]
    # the others kept running, and nothing is said to need a restart
    assert after["smtpd"]["pid"] == pids["smtpd"]
    assert after["pop3d"]["pid"] == pids["pop3d"]
    assert "restart needed" not in p.cli("status").stdout


def test_port_taken_says_why(postern):
    p = postern
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.bind(("127.0.0.1", p.port("smtp")))
    taken.listen(1)
    try:
        p.start(services=["smtpd"], wait=False)
        wait_for(lambda: "Address already in use" in p.log("posternd"), timeout=15,
                 what="the reason in posternd's output")
        line = next(l for l in p.log("posternd").splitlines() if "Address already" in l)
        assert "smtpd" in line and "cannot listen on" in line and "smtp.listen" in line
        def note():
            st = json.loads((p.root / "run/status.json").read_text())
            return next(s["note"] for s in st["services"] if s["name"] == "smtpd")
        # between a death and the restart (the backoff grows) status says why
        wait_for(lambda: "Address already in use" in note(), timeout=15,
                 what="the reason in status")
    finally:
        taken.close()


def test_queue_list_badmail_positional(postern):
    from test_smtp_out import inject
    inject(postern.root, "a@acme.test", ["b@remote.test"], "Subject: x\r\n\r\nx\r\n")
    bad = postern.root / "queue" / "badmail"
    bad.mkdir(parents=True, exist_ok=True)
    (bad / "00000000DEADBEEF.msg").write_text("Subject: y\r\n\r\ny\r\n")
    (bad / "00000000DEADBEEF.env").write_text("POSTERN-ENV 1\nid =00000000DEADBEEF\nend\n")
    (bad / "00000000DEADBEEF.reason").write_text("test\n")
    for form in (["badmail"], ["--queue", "badmail"]):
        items = postern.cli("queue", "list", *form, json_out=True)
        assert [i["id"] for i in items] == ["00000000DEADBEEF"], (form, items)
    items = postern.cli("queue", "list", "smtp/outgoing", json_out=True)
    assert len(items) == 1 and items[0]["queue"] == "smtp/outgoing"
    r = postern.cli("queue", "list", "nosuch", check=False)
    assert r.returncode == 2 and "nosuch" in r.stderr


# -- one definition of a mailbox's size ----------------------------------------

def test_mailbox_size_is_what_the_quota_counts(running):
    p = running
    for i in range(3):
        send(p, "bob@acme.test", f"s{i}", body=("x" * 70 + "\r\n") * 70)
    wait_for(lambda: imap_count(p, "bob@acme", "bob-pw") == 3, what="deliveries")
    m = imaplib.IMAP4("127.0.0.1", p.port("imap"))
    m.login("bob@acme", "bob-pw")
    m.create("Archive")
    m.select("INBOX")
    m.copy("1", "Archive")            # a folder counts too
    typ, data = m.getquotaroot("INBOX")
    m.logout()
    mbdir = next(d for d in (p.root / "store").rglob("bob") if (d / "cur").is_dir())
    assert list(mbdir.glob("postern-index.db*"))     # the index is there
    files = [f for sub in ("cur", "new") for d in [mbdir] + list(mbdir.glob(".*"))
             if (d / sub).is_dir() for f in (d / sub).iterdir()]
    want = sum(int(re.search(r",S=(\d+)", f.name).group(1)) for f in files)
    rows = p.cli("mailbox", "list", "--sizes", "exact", json_out=True)
    bob = next(r for r in rows if r["name"] == "bob")
    assert bob["size_bytes"] == want, (bob, want)
    # the quota (maildirsize) counts the same bytes
    usage = sum(int(l.split()[0]) for l in
                (mbdir / "maildirsize").read_text().splitlines()[1:])
    assert usage == want


def test_logrotate_file_installed():
    """make install ships /etc/logrotate.d/postern for the unit's data root,
    and it reloads (SIGHUP) after rotating."""
    r = subprocess.run(["meson", "introspect", str(BUILD), "--installed"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        pytest.skip("meson introspect failed: " + r.stderr[-200:])
    installed = json.loads(r.stdout)
    src = [s for s, d in installed.items() if d == "/etc/logrotate.d/postern"]
    assert src, installed
    text = Path(src[0]).read_text()
    unit = (BUILD / "postern.service").read_text()
    root = re.search(r"POSTERN_DIR=(\S+)", unit).group(1)
    assert f"{root}/log/*.log" in text
    assert "systemctl reload postern" in text and "postrotate" in text
