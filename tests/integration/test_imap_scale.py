"""IMAP at scale: many IDLE connections on one postern-imapd, and what each
costs in resident memory. POSTERN_IMAP_IDLE_CLIENTS sets how many (default
200, which keeps the test short; logins run yescrypt, ~50 ms each), in a
folder of POSTERN_IMAP_FOLDER_SIZE messages (default 3000).

    POSTERN_IMAP_IDLE_CLIENTS=2000 POSTERN_BUILD=build-imap \\
        python3 -m pytest -q -s tests/integration/test_imap_scale.py
"""
import json
import re
import os
import resource
import selectors
import socket
import time

from test_imap import MSG1, MSG2, put


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_idle_clients_memory(populated):
    n = int(os.environ.get("POSTERN_IMAP_IDLE_CLIENTS", "200"))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 200), hard))
    populated.cli("config", "set", "imap.max_connections_per_ip", str(n + 10))
    populated.cli("config", "set", "imap.max_userip_connections", str(n + 10))
    # a folder of some size, so that a sync that walked it would show
    for _ in range(int(os.environ.get("POSTERN_IMAP_FOLDER_SIZE", "3000"))):
        put(populated, MSG1)
    populated.start(services=["imapd"])
    pid = json.loads((populated.root / "run/imapd.json").read_text())["pid"]
    with open(f"/proc/{pid}/maps") as m:
        sanitized = "libasan" in m.read()
    port = populated.port("imap")

    def chat(f, line, tag):
        f.write(line + b"\r\n")
        f.flush()
        for _ in range(100):
            ln = f.readline()
            if ln.startswith(tag + b" ") or ln.startswith(b"+") or not ln:
                return ln
        return b""

    # warm up: one session through the whole path, so that one-time
    # allocations (index, TLS, SQLite caches) are not counted per client
    warm = socket.create_connection(("127.0.0.1", port), timeout=30)
    wf = warm.makefile("rwb")
    wf.readline()
    chat(wf, b"a LOGIN alice@acme alice-pw", b"a")
    chat(wf, b"b SELECT INBOX", b"b")
    time.sleep(0.2)
    base = rss_kb(pid)
    socks = []
    t0 = time.time()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        f = s.makefile("rwb")
        assert f.readline().startswith(b"* OK")
        assert chat(f, b"a LOGIN alice@acme alice-pw", b"a").startswith(b"a OK")
        assert chat(f, b"b SELECT INBOX", b"b").startswith(b"b OK")
        assert chat(f, b"c IDLE", b"c").startswith(b"+")
        socks.append((s, f))
        assert time.time() - t0 < 600
    time.sleep(0.5)
    used = rss_kb(pid) - base
    per = used / n
    print(f"\n{n} IDLE clients: imapd RSS {base} KB -> {base + used} KB, "
          f"{per:.1f} KB per connection")
    # a delivery reaches every IDLE client within a second
    put(populated, MSG2)
    sel = selectors.DefaultSelector()
    for s, f in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    got = set()
    deadline = time.time() + 1.0 + n / 2000.0
    while len(got) < n and time.time() < deadline:
        for key, _ in sel.select(timeout=0.1):
            try:
                data = key.fileobj.recv(4096)
            except BlockingIOError:
                continue
            if re.search(rb"\* \d+ EXISTS", data):
                got.add(key.fileobj)
    print(f"{len(got)}/{n} IDLE clients told of the delivery in "
          f"{time.time() - deadline + 1.0 + n / 2000.0:.2f} s")
    assert len(got) == n
    for s, f in socks:
        s.close()
    warm.close()
    # ASan's quarantine and redzones make every allocation look large: the
    # bound holds for a plain build
    if not sanitized:
        assert per < 16, f"{per:.1f} KB per idle connection"


def test_login_storm_does_not_stall_idle(populated):
    """Password hashing runs on worker threads: while 60 clients log in at
    once, an IDLE client still hears of a delivery within a second."""
    import threading
    populated.cli("config", "set", "imap.max_connections_per_ip", "200")
    populated.cli("config", "set", "imap.max_userip_connections", "200")
    put(populated, MSG1)
    populated.start(services=["imapd"])
    port = populated.port("imap")
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rwb")
    f.readline()
    for line in (b"a LOGIN alice@acme alice-pw", b"b SELECT INBOX"):
        f.write(line + b"\r\n")
        f.flush()
        for _ in range(50):
            if f.readline().startswith(line[:2]):
                break
    f.write(b"c IDLE\r\n")
    f.flush()
    assert f.readline().startswith(b"+")

    results = []

    def storm():
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        cf = c.makefile("rwb")
        cf.readline()
        cf.write(b"x LOGIN alice@acme alice-pw\r\n")
        cf.flush()
        results.append(cf.readline().startswith(b"x OK"))
        c.close()

    threads = [threading.Thread(target=storm) for _ in range(60)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    t0 = time.time()
    put(populated, MSG2)
    s.settimeout(1.0)
    assert f.readline() == b"* 2 EXISTS\r\n"
    assert time.time() - t0 < 1.0
    for t in threads:
        t.join(60)
    assert results.count(True) == 60
    s.close()
