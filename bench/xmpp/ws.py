#!/usr/bin/python3
"""XMPP over WebSocket against plain TCP (issue 18, RFC 7395): one
sender writes M chat messages to one receiver's full JID on TCP; the
sender is first on TCP (xmppd alone), then on WebSocket through httpd
(httpd relays, xmppd unframes and frames). Prints messages per second
from the first sent to the last received, and the CPU time xmppd and
httpd spent per message (utime + stime from /proc, so the load of the
machine weighs less than in the wall-clock figure).

usage: POSTERN_BUILD=build-opt bench/xmpp/ws.py [--messages 20000]
"""
import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[2] / "tests" / "integration"))
from conftest import Postern  # noqa: E402
from xmpp_util import Raw  # noqa: E402
from xmppws_util import WS, frame  # noqa: E402

PW = {"alice": "Bench-Alice-1", "bob": "Bench-Bob-2"}


def cpu(pid):
    """utime + stime of a process, seconds"""
    f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pids(p):
    out = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            st = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        if ppid == p.proc.pid and cmd.endswith(("postern-xmppd",
                                                "postern-httpd")):
            out[cmd.rsplit("-", 1)[1]] = int(d.name)
    return out


def run(p, ws, m):
    bob = Raw(p.port("xmpp"))
    bob.login("bob", "acme.test", password=PW["bob"], resource="rx")
    if ws:
        a = WS(p.port("http"))
        a.login_plain("alice", PW["alice"], resource="tx")
        send = lambda x: a.raw(frame(1, x))  # noqa: E731
    else:
        a = Raw(p.port("xmpp"))
        a.login("alice", "acme.test", password=PW["alice"], resource="tx")
        send = a.send
    got = [0]

    def reader():
        data = b""
        bob.sock.settimeout(60)
        while got[0] < m:
            chunk = bob.sock.recv(1 << 20)
            if not chunk:
                return
            data += chunk
            n = data.count(b"</message>")
            got[0] += n
            data = data[data.rfind(b"</message>") + 10:] if n else data
    t = threading.Thread(target=reader)
    t.start()
    ps = pids(p)
    c0 = {k: cpu(v) for k, v in ps.items()}
    t0 = time.time()
    body = "x" * 100
    for i in range(m):
        send(f"<message xmlns='jabber:client' to='bob@acme.test/rx' "
             f"type='chat' id='m{i}'><body>{body}</body></message>")
    t.join(300)
    dt = time.time() - t0
    c1 = {k: cpu(v) for k, v in ps.items()}
    a.close()
    bob.close()
    assert got[0] >= m, (f"{'websocket' if ws else 'tcp'}: received "
                         f"{got[0]} of {m} in {dt:.1f} s")
    return m / dt, {k: (c1[k] - c0[k]) / m * 1e6 for k in ps}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=20000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ws-bench-") as d:
        p = Postern(Path(d) / "root")
        p.init()
        p.cli("postoffice", "add", "acme", "--password", "Pm-Bench-1")
        p.cli("domain", "add", "acme.test", "--postoffice", "acme")
        for u in PW:
            p.cli("mailbox", "add", f"{u}@acme", "--password", PW[u])
        p.start(services=["xmppd", "httpd"])
        try:
            for ws in (False, True, False, True):
                rate, us = run(p, ws, a.messages)
                load = os.getloadavg()[0]
                print(f"{'websocket' if ws else 'tcp      '}: {rate:8.0f} "
                      f"msg/s  cpu/msg: " + ", ".join(
                          f"{k} {v:.1f} us" for k, v in sorted(us.items()))
                      + f"  (load {load:.1f})")
        finally:
            p.stop()


if __name__ == "__main__":
    main()
