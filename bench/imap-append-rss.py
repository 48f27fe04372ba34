#!/usr/bin/python3
"""RSS of imapd while many large APPENDs are in flight.

    POSTERN_BUILD=build-opt bench/imap-append-rss.py [connections] [MB]

Makes a throw-away data root, starts posternd with imapd only, logs in
`connections` times (default 20) and sends each connection 80% of a
`MB` (default 50) APPEND literal, then prints imapd's VmRSS before and
with all of them in flight, finishes the APPENDs and checks they were
stored. Uses the integration tests' Postern class (tests/integration)."""
import json
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent /
                       "tests" / "integration"))
from conftest import Postern  # noqa: E402


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as st:
        for ln in st:
            if ln.startswith("VmRSS:"):
                return int(ln.split()[1])
    return 0


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    size = (int(sys.argv[2]) if len(sys.argv) > 2 else 50) << 20
    top = Path(tempfile.mkdtemp(prefix="imap-append-rss."))
    p = Postern(top / "root")
    try:
        p.init()
        p.cli("postoffice", "add", "acme", "--password", "pm-secret-123")
        p.cli("mailbox", "add", "carol@acme", "--password", "Kq7-long-secret-93")
        p.cli("config", "set", "imap.max_connections_per_ip", str(n + 5))
        opts = p.env.get("ASAN_OPTIONS", "")
        p.env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
            "quarantine_size_mb=8"
        p.start(services=["imapd"])
        pid = json.loads((p.root / "run/imapd.json").read_text())["pid"]
        conns = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", p.port("imap")),
                                         timeout=60)
            f = s.makefile("rwb")
            f.readline()
            f.write(b"a LOGIN carol@acme Kq7-long-secret-93\r\n")
            f.flush()
            assert f.readline().startswith(b"a OK")
            conns.append((s, f))
        line = b"x" * 76 + b"\r\n"
        msg = (b"Subject: big\r\n\r\n" + line * (size // len(line) + 1))[:size]
        before = rss_kb(pid)
        part = size * 4 // 5
        t0 = time.time()
        for s, f in conns:
            f.write(b"b APPEND INBOX {%d}\r\n" % size)
            f.flush()
            assert f.readline().startswith(b"+")
            s.sendall(msg[:part])
        time.sleep(1.0)
        during = rss_kb(pid)
        for s, f in conns:
            s.sendall(msg[part:] + b"\r\n")
        ok = 0
        for s, f in conns:
            ln = f.readline()
            ok += ln.startswith(b"b OK")
            f.close()
            s.close()
        print(f"imapd RSS: {before} kB before, {during} kB with {n} x "
              f"{part >> 20} MB of {size >> 20} MB APPENDs in flight "
              f"(+{(during - before) >> 10} MB); {ok}/{n} stored in "
              f"{time.time() - t0:.1f} s")
    finally:
        p.stop()
        shutil.rmtree(top, ignore_errors=True)


if __name__ == "__main__":
    main()
