"""Fault injection across the whole flow (SMTP in -> MTA -> deliver ->
mailbox): the queue or the store filling up (a small tmpfs of our own,
filled with a ballast file, space given back by removing it), too few file
descriptors (RLIMIT_NOFILE of the posternd we start, inherited by its
services), the config database locked by a writer or made read-only.
Each time: temporary (4xx) answers only, nothing accepted is lost, and the
service recovers by itself. Every loop is bounded by a count and a
deadline; mounts are ours and unmounted in finally."""
import json
import os
import resource
import smtplib
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

FLOW = ["smtpd", "mta", "deliver"]


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def mount_tmpfs(path, size):
    path.mkdir(parents=True, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs",
                        str(path)], capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: " + r.stderr.decode())


def umount(path):
    for _ in range(20):
        if subprocess.run(["umount", str(path)],
                          capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "-l", str(path)])


def fill(path):
    """A ballast file taking every free block of the file system."""
    ballast = path / "ballast"
    with open(ballast, "wb") as f:
        chunk = b"\0" * 65536
        for _ in range(100000):
            try:
                f.write(chunk)
                f.flush()
            except OSError:
                break
    # the last partial blocks too
    try:
        with open(ballast, "ab", buffering=0) as f:
            for _ in range(64):
                f.write(b"\0" * 1024)
    except OSError:
        pass
    return ballast


def tokens_in_mailbox(root, store, mb="alice"):
    found = {}
    for sub in ("new", "cur"):
        d = store / "acme" / mb / sub
        if not d.is_dir():
            continue
        for f in d.iterdir():
            try:
                data = f.read_bytes()
            except OSError:
                continue
            i = data.find(b"X-Token: ")
            if i >= 0:
                tok = data[i + 9:data.index(b"\r\n", i)].decode()
                found[tok] = found.get(tok, 0) + 1
    return found


def send(p, tok, size=2000, rcpt="alice@acme.test", source=None):
    """One message; (code, text) of the end of data, or of the first
    refusal."""
    s = smtplib.SMTP(timeout=60, source_address=(source, 0) if source else None)
    s.connect("127.0.0.1", p.port("smtp"))
    try:
        s.ehlo("faults.test")
        code, text = s.mail("load@example.org")
        if code != 250:
            return code, text
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text
        body = (f"Subject: t {tok}\r\nX-Token: {tok}\r\n\r\n" +
                ("y" * 70 + "\r\n") * (size // 72 + 1))
        try:
            code, text = s.data(body.encode())
        except smtplib.SMTPDataError as e:
            return e.smtp_code, e.smtp_error
        return code, text
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            pass


def service_pid(p, name):
    st = json.loads((p.root / "run" / "status.json").read_text())
    return [s["pid"] for s in st["services"] if s["name"] == name][0]


# -- disk full ----------------------------------------------------------------

def test_queue_full_whole_flow(populated, tmp_path):
    """path.queue on a full tmpfs: SMTP says 452 4.3.1 (never 5xx), what was
    accepted before is delivered, and when space returns mail flows again."""
    p = populated
    mnt = tmp_path / "queue"
    mount_tmpfs(mnt, "2m")
    try:
        p.cli("config", "set", "path.queue", str(mnt))
        p.cli("config", "set", "queue.retry_schedule", "1s")
        p.start(services=FLOW)
        accepted = []
        for i in range(3):
            code, text = send(p, f"before-{i}")
            assert code == 250, text
            accepted.append(f"before-{i}")
        wait_for(lambda: len(tokens_in_mailbox(p.root, p.root / "store")) == 3,
                 60, "the first messages delivered")
        ballast = fill(mnt)
        refused = 0
        for i in range(5):
            code, text = send(p, f"full-{i}", size=20000)
            if code == 250:
                accepted.append(f"full-{i}")
            else:
                assert 400 <= code < 500, (code, text)
                refused += 1
        assert refused >= 1
        assert b"4.3.1" in text or refused < 5
        assert "cannot commit queue item" in p.log("smtpd")
        ballast.unlink()
        for i in range(3):
            code, text = send(p, f"after-{i}")
            assert code == 250, text
            accepted.append(f"after-{i}")
        got = wait_for(lambda: (lambda t: t if all(a in t for a in accepted)
                                else None)(tokens_in_mailbox(p.root,
                                                              p.root / "store")),
                       90, "every accepted message in the mailbox")
        assert all(got[a] >= 1 for a in accepted)
    finally:
        p.stop()
        umount(mnt)


def test_store_full_defers_then_delivers(populated, tmp_path):
    """path.store on a full tmpfs: SMTP keeps accepting (the queue has
    room), deliver defers (nothing bounced, nothing dropped), and delivers
    everything once space returns."""
    p = populated
    mnt = tmp_path / "store"
    mount_tmpfs(mnt, "4m")
    try:
        p.cli("config", "set", "path.store", str(mnt))
        p.cli("config", "set", "queue.retry_schedule", "1s")
        p.start(services=FLOW)
        code, text = send(p, "first")
        assert code == 250, text
        wait_for(lambda: "first" in tokens_in_mailbox(p.root, mnt), 60,
                 "the first delivery")
        ballast = fill(mnt)
        accepted = ["first"]
        for i in range(5):
            code, text = send(p, f"full-{i}", size=8000)
            assert code == 250, text
            accepted.append(f"full-{i}")
        wait_for(lambda: "deferred" in p.log("deliver"), 60,
                 "deliver to defer on the full store")
        assert tokens_in_mailbox(p.root, mnt).keys() == {"first"}
        # nothing bounced: bob (the only other local mailbox) and the
        # null-sender bounce path stay empty, bad mail too
        bad = p.root / "queue" / "badmail"
        assert not bad.is_dir() or list(bad.iterdir()) == []
        ballast.unlink()
        got = wait_for(lambda: (lambda t: t if all(a in t for a in accepted)
                                else None)(tokens_in_mailbox(p.root, mnt)),
                       120, "every accepted message delivered")
        assert all(got[a] >= 1 for a in accepted)
        assert p.log("deliver").count("bounce") == 0 or \
            "bounced" not in p.log("deliver")
    finally:
        p.stop()
        umount(mnt)


# -- file descriptors -----------------------------------------------------------

def test_out_of_file_descriptors(populated):
    """RLIMIT_NOFILE 64 for posternd and its services: 150 clients at once
    on smtpd and imapd. The services keep running (same pids), refuse or
    queue what they cannot take, log it, and serve normally once the
    clients are gone."""
    p = populated
    limit = 64

    def lower():
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    cmd = [str(Path(os.environ.get("POSTERN_BUILD") or
                    (Path(__file__).resolve().parents[2] / "build"))
               / "posternd"), "-d", str(p.root), "--services", "smtpd imapd"]
    p.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=p.env,
                              preexec_fn=lower)
    p.wait_running(["smtpd", "imapd"], 60)
    pids = {n: service_pid(p, n) for n in ("smtpd", "imapd")}
    for n, pid in pids.items():
        soft = [ln for ln in open(f"/proc/{pid}/limits")
                if ln.startswith("Max open files")][0].split()[3]
        assert int(soft) == limit, (n, soft)
    p.cli("config", "set", "smtp.max_connections_per_ip", "1000")
    p.cli("config", "set", "imap.max_connections_per_ip", "1000")
    socks = []
    try:
        for i in range(150):
            for name in ("smtp", "imap"):
                try:
                    s = socket.create_connection(("127.0.0.1", p.port(name)),
                                                 timeout=5)
                    socks.append(s)
                except OSError:
                    break
        # the services hit their limit; wait for them to log it
        wait_for(lambda: "accept on" in p.log("smtpd") or
                 "Too many open files" in p.log("smtpd"), 60,
                 "smtpd to report the fd shortage")
        for n, pid in pids.items():
            assert service_pid(p, n) == pid, f"{n} restarted"
            assert len(os.listdir(f"/proc/{pid}/fd")) <= limit
    finally:
        for s in socks:
            s.close()
    # recovered: a normal SMTP transaction and an IMAP login
    def smtp_ok():
        try:
            code, _ = send(p, "after-fds")
            return code == 250
        except (smtplib.SMTPException, OSError):
            return False
    wait_for(smtp_ok, 90, "smtpd to serve again")

    def imap_ok():
        try:
            s = socket.create_connection(("127.0.0.1", p.port("imap")), 10)
            f = s.makefile("rwb")
            if not f.readline().startswith(b"* OK"):
                return False
            f.write(b"a LOGIN alice@acme alice-pw\r\n")
            f.flush()
            ok = f.readline().startswith(b"a OK")
            s.close()
            return ok
        except OSError:
            return False
    wait_for(imap_ok, 90, "imapd to serve again")
    for n, pid in pids.items():
        assert service_pid(p, n) == pid, f"{n} restarted"


# -- the config database ------------------------------------------------------------

def test_config_db_write_locked(populated):
    """A writer holding BEGIN IMMEDIATE on the config database (WAL):
    services only read it, so mail is accepted and delivered meanwhile,
    and the CLI says "locked" (exit 7). (No other process can lock the
    readers out: in WAL mode an EXCLUSIVE locking mode cannot be taken
    while the services have the database open.)"""
    p = populated
    p.start(services=FLOW)
    db = sqlite3.connect(str(p.root / "config" / "postern.db"), timeout=1,
                         isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        code, text = send(p, "locked")
        assert code == 250, text
        wait_for(lambda: "locked" in tokens_in_mailbox(p.root, p.root / "store"),
                 60, "delivery while the writer holds its lock")
        r = p.cli("config", "set", "smtp.max_recipients", "50", check=False)
        assert r.returncode == 7, (r.returncode, r.stderr)   # locked
    finally:
        db.execute("ROLLBACK")
        db.close()


def test_config_db_read_only(populated, tmp_path):
    """The config directory remounted read-only under running services:
    no 5xx for mail that would be accepted, and service resumes when it is
    writable again."""
    p = populated
    cfg = p.root / "config"
    p.start(services=FLOW)
    code, _ = send(p, "rw")
    assert code == 250
    r = subprocess.run(["mount", "--bind", str(cfg), str(cfg)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip("cannot bind mount: " + r.stderr.decode())
    try:
        r = subprocess.run(["mount", "-o", "remount,ro,bind", str(cfg)],
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        answers = []
        for i in range(2):
            try:
                answers.append((f"ro-{i}", send(p, f"ro-{i}")))
            except smtplib.SMTPServerDisconnected as e:
                answers.append((f"ro-{i}", (421, str(e).encode())))
        for _, (code, text) in answers:
            assert code == 250 or 400 <= code < 500, (code, text)
        assert p.cli("config", "set", "smtp.max_recipients", "50",
                     check=False).returncode != 0
    finally:
        umount(cfg)
    code, text = send(p, "rw-again")
    assert code == 250, text
    want = ["rw", "rw-again"] + [t for t, (c, _) in answers if c == 250]
    wait_for(lambda: all(w in tokens_in_mailbox(p.root, p.root / "store")
                         for w in want), 90, "every accepted message")
