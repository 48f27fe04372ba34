"""IMAP writes under concurrency: APPENDs run on imapd's worker threads
(src/imapd/writer.c) while the event loop serves other sessions. Several
clients APPEND at once while another IDLEs and one FETCHes; imapd is
killed in the middle of an APPEND storm. Real imaplib clients and raw
sockets over TCP.
"""
import imaplib
import os
import re
import signal
import socket
import threading
import time

import pytest

from test_crash import service_pid
from test_imap import imap  # noqa: F401 (fixture)


def message(token, size=0):
    body = "".join(f"line {k} of {token}\r\n" for k in range(size))
    return (f"From: load@example.org\r\nTo: alice@acme.test\r\n"
            f"Subject: load {token}\r\nX-Token: {token}\r\n\r\n"
            f"body of {token}\r\n{body}").encode()


def put(p, n):
    """n messages dropped into alice's new/ the way a delivery does"""
    root = p.root / "store" / "acme" / "alice"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        data = message(f"p{i}")
        base = f"{int(time.time())}.M{i:06d}P{os.getpid()}.test,S={len(data)}"
        (root / "tmp" / base).write_bytes(data)
        os.rename(root / "tmp" / base, root / "new" / base)


def login(p):
    c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=30)
    c.login("alice@acme", "alice-pw")
    return c


def tokens_by_uid(c):
    """uid -> X-Token of every message of the selected folder; checks that
    UIDs grow strictly with the sequence numbers."""
    typ, data = c.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (X-Token)])")
    assert typ == "OK", data
    out = {}
    rows = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        m = re.match(rb"(\d+) \(.*UID (\d+)", item[0])
        t = re.search(rb"X-Token: (\S+)", item[1])
        if m and t:
            rows.append((int(m.group(1)), int(m.group(2))))
            out[int(m.group(2))] = t.group(1).decode()
    rows.sort()
    uids = [u for _, u in rows]
    assert all(a < b for a, b in zip(uids, uids[1:])), rows
    assert [n for n, _ in rows] == list(range(1, len(rows) + 1)), rows
    return out


class Idler(threading.Thread):
    """A raw IMAP session in IDLE on INBOX, recording EXISTS counts."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.sock.makefile("rb")
        self.exists = []
        self.lines = 0
        self.f.readline()
        self.sock.sendall(b"a LOGIN alice@acme alice-pw\r\nb SELECT INBOX\r\n"
                          b"c IDLE\r\n")
        while True:
            line = self.f.readline()
            assert line, "connection closed before IDLE"
            assert not line.startswith((b"a NO", b"a BAD", b"b NO", b"b BAD")), line
            if line.startswith(b"+"):
                break

    def run(self):
        for _ in range(100000):
            try:
                line = self.f.readline()
            except OSError:
                return
            if not line:
                return
            self.lines += 1
            m = re.match(rb"\* (\d+) EXISTS", line)
            if m:
                self.exists.append(int(m.group(1)))

    def close(self):
        try:
            self.sock.sendall(b"DONE\r\nz LOGOUT\r\n")
        except OSError:
            pass
        self.sock.close()


def test_concurrent_appends_idle_and_fetch(imap):
    p = imap
    appenders, per_client = 4, 15
    idler = Idler(p.port("imap"))
    idler.start()
    results = {}
    errors = []
    fetch_views = []
    stop = threading.Event()

    def appender(n):
        c = login(p)
        uids = []
        try:
            for i in range(per_client):
                tok = f"t{n}x{i}"
                typ, data = c.append("INBOX", None, None, message(tok, i * 20))
                assert typ == "OK", data
                m = re.search(rb"APPENDUID (\d+) (\d+)", data[-1])
                assert m, data
                uids.append((int(m.group(2)), tok))
        except Exception as e:   # noqa: BLE001 - reported below
            errors.append(f"appender {n}: {e!r}")
        finally:
            c.logout()
        results[n] = uids

    def fetcher():
        c = login(p)
        c.select("INBOX")
        deadline = time.time() + 60
        while not stop.is_set() and time.time() < deadline:
            c.noop()
            fetch_views.append(tokens_by_uid(c))
        c.logout()

    ft = threading.Thread(target=fetcher)
    ft.start()
    threads = [threading.Thread(target=appender, args=(n,))
               for n in range(appenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    ft.join(120)
    assert not errors, errors
    total = appenders * per_client

    # each APPEND got its own UID, and one client's UIDs only grow
    all_uids = []
    for n, uids in results.items():
        assert len(uids) == per_client
        assert [u for u, _ in uids] == sorted(u for u, _ in uids), uids
        all_uids += uids
    assert len({u for u, _ in all_uids}) == total

    # the folder holds each message exactly once, under its APPENDUID
    c = login(p)
    typ, data = c.select("INBOX")
    assert int(data[0]) == total
    final = tokens_by_uid(c)
    c.logout()
    assert final == {u: t for u, t in all_uids}

    # what the fetching session saw was consistent at each step: no token
    # twice, and only messages that exist
    assert fetch_views, "the fetcher never ran"
    for view in fetch_views:
        toks = list(view.values())
        assert len(toks) == len(set(toks))
        assert set(view.items()) <= set(final.items())

    # the IDLE session was told of every message (EXISTS up to the total)
    deadline = time.time() + 20
    while time.time() < deadline and (not idler.exists or
                                      idler.exists[-1] < total):
        time.sleep(0.1)
    idler.close()
    assert idler.exists and idler.exists[-1] == total, idler.exists
    assert idler.exists == sorted(idler.exists)


def test_sigkill_during_append_storm(imap):
    """Every APPEND answered OK survives a SIGKILL of imapd."""
    p = imap
    acked = {}
    lock = threading.Lock()
    stop = threading.Event()

    def appender(n):
        i = 0
        deadline = time.time() + 30
        while not stop.is_set() and time.time() < deadline:
            try:
                c = login(p)
            except Exception:   # noqa: BLE001 - imapd is down: retry
                time.sleep(0.1)
                continue
            try:
                while not stop.is_set() and time.time() < deadline:
                    tok = f"k{n}x{i}"
                    i += 1
                    typ, data = c.append("INBOX", None, None,
                                         message(tok, i % 50))
                    if typ == "OK":
                        with lock:
                            acked[tok] = True
            except Exception:   # noqa: BLE001 - killed mid-command
                pass

    threads = [threading.Thread(target=appender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    kills = 0
    for _ in range(2):
        deadline = time.time() + 10
        before = len(acked)
        while time.time() < deadline and len(acked) < before + 20:
            time.sleep(0.05)
        pid = service_pid(p, "imapd")
        assert pid > 0
        os.kill(pid, signal.SIGKILL)
        kills += 1
        # posternd restarts it
        deadline = time.time() + 30
        while time.time() < deadline and service_pid(p, "imapd") in (0, pid):
            time.sleep(0.1)
        p.wait_running(["imapd"], 30)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join(60)
    assert kills == 2
    assert len(acked) >= 40, len(acked)

    c = login(p)
    c.select("INBOX")
    found = tokens_by_uid(c)
    c.logout()
    toks = list(found.values())
    missing = [t for t in acked if t not in toks]
    assert not missing, f"{len(missing)} acknowledged APPENDs lost: {missing[:10]}"
    assert len(toks) == len(set(toks)), "a message indexed twice"


def test_idle_sees_expunges_from_other_processes(populated):
    """imap.processes 4: an IDLE session is told of expunges made by
    sessions of the other processes (lib-store's inotify on the folder and
    its notify file; the index is shared)."""
    p = populated
    p.cli("config", "set", "imap.processes", "4")
    p.start(services=["imapd"])
    put(p, 10)
    s = socket.create_connection(("127.0.0.1", p.port("imap")), timeout=10)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    for line in (b"a LOGIN alice@acme alice-pw", b"b SELECT INBOX"):
        f.write(line + b"\r\n")
        f.flush()
        for _ in range(100):
            ln = f.readline()
            if ln.startswith(line[:2]):
                assert b" OK" in ln, ln
                break
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")

    def sids():
        # (session, the post-login process that logged it in): imap-login
        # hands the logins to the processes in turn
        return [(sid, pid) for pid, sid in re.findall(
            r"imapd\[(\d+)\]: info: (i[0-9a-f]+): login ", p.log("imapd"))]

    idler_pid = sids()[0][1]
    expunged = 0
    other = False
    # expunge one message per session until one ran in another process
    for _ in range(10):
        c = login(p)
        c.select("INBOX")
        c.store("1", "+FLAGS.SILENT", r"(\Deleted)")
        c.expunge()
        c.logout()
        expunged += 1
        if any(pid != idler_pid for _, pid in sids()[1:]):
            other = True
            if expunged >= 3:
                break
    assert other, "every session landed in the IDLE session's process"
    s.settimeout(5)
    seen = 0
    for _ in range(100):
        try:
            ln = f.readline()
        except OSError:
            break
        if ln == b"* 1 EXPUNGE\r\n":
            seen += 1
            if seen == expunged:
                break
    assert seen == expunged, (seen, expunged)
    f.write(b"DONE\r\nz LOGOUT\r\n")
    f.flush()
    s.close()


def raw_login(p):
    s = socket.create_connection(("127.0.0.1", p.port("imap")), timeout=10)
    f = s.makefile("rwb")
    assert f.readline().startswith(b"* OK")
    f.write(b"a LOGIN alice@acme alice-pw\r\n")
    f.flush()
    for _ in range(20):
        ln = f.readline()
        if ln.startswith(b"a "):
            assert ln.startswith(b"a OK"), ln
            break
    return s, f


def test_pipelined_commands_after_append_answer_in_order(imap):
    """Commands sent behind an APPEND (LITERAL+) wait for it: the answers
    come in the order of the commands, and the FETCH sees the message."""
    p = imap
    s, f = raw_login(p)
    msg = message("pipe", 200)
    f.write(b"b SELECT INBOX\r\n" +
            b"c APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n" +
            b"d NOOP\r\ne UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Token)])\r\n"
            b"f LOGOUT\r\n")
    f.flush()
    tagged = []
    fetched = b""
    for _ in range(200):
        ln = f.readline()
        if not ln:
            break
        fetched += ln
        if ln[:2] in (b"b ", b"c ", b"d ", b"e ", b"f "):
            tagged.append(ln)
            if ln.startswith(b"f "):
                break
    s.close()
    assert [t[:1] for t in tagged] == [b"b", b"c", b"d", b"e", b"f"], tagged
    assert all(b" OK" in t for t in tagged), tagged
    assert re.search(rb"APPENDUID \d+ 1\]", tagged[1]), tagged[1]
    assert b"X-Token: pipe" in fetched


def test_clients_gone_during_append(imap):
    """Clients that send an APPEND and vanish before its answer: imapd
    stays up (the answer is dropped), what was stored is indexed once."""
    p = imap
    for i in range(20):
        s, f = raw_login(p)
        msg = message(f"gone{i}", i * 30)
        f.write(b"b APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        f.flush()
        s.close()   # no wait for the answer
    c = login(p)
    # the last APPENDs may still be in flight: wait until all 20 landed
    deadline = time.time() + 20
    while time.time() < deadline:
        typ, data = c.select("INBOX")
        if int(data[0]) >= 20:
            break
        time.sleep(0.2)
    toks = list(tokens_by_uid(c).values())
    c.logout()
    assert sorted(toks) == sorted(f"gone{i}" for i in range(20)), toks


def greeting(p):
    s = socket.create_connection(("127.0.0.1", p.port("imap")), timeout=10)
    f = s.makefile("rwb")
    return s, f, f.readline()


def hang_up(s, f):
    f.close()   # the socket's fd stays open while its file is
    s.close()


def test_per_address_limit_across_processes(populated):
    """imap.processes 4: imap.max_connections_per_ip counts the
    connections of every process: the one pre-login process (imap-login,
    docs/SECURITY.md) accepts them all, and a logged-in connection stays
    counted there while the post-login processes serve it."""
    p = populated
    p.cli("config", "set", "imap.processes", "4")
    p.cli("config", "set", "imap.max_connections_per_ip", "3")
    p.start(services=["imapd"])
    held = [greeting(p) for _ in range(3)]
    assert all(g.startswith(b"* OK") for _, _, g in held), held
    for _ in range(8):
        s, f, g = greeting(p)
        hang_up(s, f)
        assert g.startswith(b"* BYE [UNAVAILABLE]"), g
    log = p.log("imapd")
    refusals = re.findall(r"imap-login\[\d+\]: warning: connection from "
                          r"\S+ refused: imap.max_connections_per_ip", log)
    assert len(refusals) == 8, log[-2000:]
    # logged in, in post-login processes: still counted
    for s, f, _ in held:
        f.write(b"a LOGIN alice@acme alice-pw\r\n")
        f.flush()
        assert f.readline().startswith(b"a OK"), "login"
    s, f, g = greeting(p)
    hang_up(s, f)
    assert g.startswith(b"* BYE [UNAVAILABLE]"), g
    # a connection closed frees its place, whichever process had it
    hang_up(held[0][0], held[0][1])
    ok = False
    for _ in range(50):
        s, f, g = greeting(p)
        hang_up(s, f)
        if g.startswith(b"* OK"):
            ok = True
            break
        time.sleep(0.1)
    assert ok
    for s, f, _ in held[1:]:
        hang_up(s, f)


def test_login_throttle_across_processes(populated):
    """imap.processes 4: failed logins from an address are counted by
    every process together (auth.max_failures)."""
    p = populated
    p.cli("config", "set", "imap.processes", "4")
    p.cli("config", "set", "auth.max_failures", "3")
    p.start(services=["imapd"])
    for _ in range(3):
        c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
        with pytest.raises(imaplib.IMAP4.error):
            c.login("alice@acme", "wrong")
        c.logout()
    # now refused in every process, even with the right password
    for _ in range(8):
        c = imaplib.IMAP4("127.0.0.1", p.port("imap"), timeout=10)
        with pytest.raises(imaplib.IMAP4.error) as e:
            c.login("alice@acme", "alice-pw")
        assert "UNAVAILABLE" in str(e.value)
        c.logout()
    # the post-login processes check the logins in turn (imap-login hands
    # them out): the refusals came from several
    log = p.log("imapd")
    pids = set(re.findall(r"imapd\[(\d+)\]: info: \S+: login refused", log))
    assert len(pids) >= 2, "all refusals came from one process"
