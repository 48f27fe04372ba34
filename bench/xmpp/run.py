#!/usr/bin/python3
"""XMPP benchmark of xmppd (issue 18):

  idle      K clients logged in (SASL PLAIN) and bound, then silent: the
            growth of xmppd's resident memory divided by K
  messages  the same clients in pairs, each sender writing M chat
            messages to its receiver's full JID: messages per second
            from the first sent to the last received

Prosody (Debian) runs beside it in the same run: a private instance on
its own port and data directory (accounts written as internal_plain
files, TLS not required, as xmppd allows PLAIN on loopback), started and
stopped by PID. Both keep offline messages; Prosody without MAM (xmppd
archives every message: that cost is in its figure).

Besides wall-clock rates it prints the server's CPU time (user +
system, from /proc) during the message phase per message, and the
load average: on a shared machine CPU time is the steadier figure.
--build may be given several times: each build's xmppd runs in turn
(before/after a change), then Prosody.

usage: bench/xmpp/run.py [--clients 1000] [--messages 20] [--build DIR]...
                         [--only postern|prosody]
"""
import argparse
import asyncio
import base64
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import peers  # noqa: E402

PW = "Load-Secret-1"
NS = "http://etherx.jabber.org/streams"


def header():
    return (f"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            f"xmlns:stream='{NS}' to='{peers.DOMAIN}' version='1.0'>").encode()


async def expect(reader, buf, token, timeout=120):
    """read until token is in buf[0]; keep what follows it"""
    deadline = time.time() + timeout
    while token not in buf[0]:
        left = deadline - time.time()
        if left <= 0:
            raise RuntimeError(f"no {token!r}")
        chunk = await asyncio.wait_for(reader.read(65536), left)
        if not chunk:
            raise RuntimeError(f"closed before {token!r}")
        buf[0] += chunk
    i = buf[0].index(token) + len(token)
    buf[0] = buf[0][i:]


async def login(port, i, sem):
    async with sem:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        buf = [b""]
        writer.write(header())
        await expect(reader, buf, b"</stream:features>")
        cred = base64.b64encode(f"\0user{i}\0{PW}".encode()).decode()
        writer.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' "
                     f"mechanism='PLAIN'>{cred}</auth>".encode())
        await expect(reader, buf, b"<success")
        writer.write(header())
        await expect(reader, buf, b"</stream:features>")
        writer.write(b"<iq type='set' id='b'><bind xmlns='urn:ietf:params:"
                     b"xml:ns:xmpp-bind'><resource>b</resource></bind></iq>")
        await expect(reader, buf, b"</iq>")
        return reader, writer, buf


async def pump(pairs, port, n, rx_total):
    async def send(w, to):
        for k in range(n):
            w.write(f"<message to='user{to}@{peers.DOMAIN}/b' type='chat'>"
                    f"<body>bench message {k}</body></message>".encode())
            if k % 20 == 19:
                await w.drain()
        await w.drain()

    async def recv(r, buf):
        token = b"<body>bench message"
        got = buf[0].count(token)
        tail = buf[0][-(len(token) - 1):]
        while got < n:
            chunk = await asyncio.wait_for(r.read(65536), 120)
            if not chunk:
                raise RuntimeError("receiver closed")
            # count across reads: a token may be split between two
            data = tail + chunk
            got += data.count(token)
            tail = data[-(len(token) - 1):]
        rx_total[0] += got

    t0 = time.time()
    await asyncio.gather(*[send(s[1], ri) for s, (_r, ri) in pairs],
                         *[recv(r[0], r[2]) for _s, (r, _ri) in pairs])
    return time.time() - t0


class Prosody:
    name = "Prosody"

    def __init__(self, users):
        self.users = users
        self.dir = Path(tempfile.mkdtemp(prefix="bench-prosody-"))
        self.ports = {"xmpp": peers.free_port()}
        self.proc = None

    def start(self):
        data = self.dir / "data"
        acc = data / peers.DOMAIN.replace(".", "%2e") / "accounts"
        acc.mkdir(parents=True)
        for i in range(self.users):
            (acc / f"user{i}.dat").write_text(
                f'return {{\n\t["password"] = "{PW}";\n}};\n')
        cfg = self.dir / "prosody.cfg.lua"
        cfg.write_text(f"""
run_as_root = true
pidfile = "{self.dir}/prosody.pid"
data_path = "{data}"
c2s_ports = {{ {self.ports['xmpp']} }}
c2s_direct_tls_ports = {{ }}
s2s_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
interfaces = {{ "127.0.0.1" }}
authentication = "internal_plain"
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
limits = {{ c2s = {{ rate = "100mb/s" }} }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "carbons"; "ping";
  "offline"; "posix" }}
modules_disabled = {{ "s2s"; "admin_socket" }}
log = {{ {{ levels = {{ min = "error" }}, to = "file",
          filename = "{self.dir}/prosody.log" }} }}
VirtualHost "{peers.DOMAIN}"
""")
        self.proc = subprocess.Popen(["prosody", "--config", str(cfg), "-F"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        peers.wait_port(self.ports["xmpp"])

    def server_pids(self, service):
        return [self.proc.pid]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_s(pids):
    """user + system CPU seconds of pids (and their reaped children)"""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in f[11:15])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def load():
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


async def main_async(args, peer):
    port = peer.ports["xmpp"]
    pids = peer.server_pids("xmppd")
    before = peers.rss_kb(pids)
    sem = asyncio.Semaphore(50)
    t0 = time.time()
    clients = await asyncio.gather(*[login(port, i, sem)
                                     for i in range(args.clients)])
    t_login = time.time() - t0
    await asyncio.sleep(2)
    after = peers.rss_kb(pids)
    per = (after - before) / args.clients
    print(f"{peer.name} idle: {args.clients} clients logged in and bound in "
          f"{t_login:.1f} s; server RSS {before} -> {after} KB: "
          f"{per:.1f} KB per idle client")
    half = args.clients // 2
    pairs = [(clients[i], (clients[half + i], half + i)) for i in range(half)]
    rx = [0]
    la = load()
    c0 = cpu_s(pids)
    dt = await pump(pairs, port, args.messages, rx)
    cpu = cpu_s(pids) - c0
    print(f"{peer.name} messages: {half} senders x {args.messages} to {half} receivers: "
          f"{rx[0]} delivered in {dt:.2f} s: {rx[0] / dt:.0f} messages/s; "
          f"server CPU {cpu:.2f} s = {1e6 * cpu / max(rx[0], 1):.0f} us per "
          f"message ({la} before, {load()} after)")
    for c in clients:
        c[1].close()


def run_postern(args, build):
    xport = peers.free_port()
    print(f"xmppd of {build or 'the default build'}:")
    peer = peers.Postern(args.clients, build=build,
                         services=["xmppd", "imapd"], settings={
                             "xmpp.listen": f"127.0.0.1:{xport}",
                             "xmpp.max_connections_per_ip": "100000",
                             "xmpp.max_userip_connections": "100000"})
    try:
        peer.start()
        peer.ports["xmpp"] = xport
        peers.wait_port(xport)
        asyncio.run(main_async(args, peer))
    finally:
        peer.stop()


def run_prosody(args):
    if shutil.which("prosody") is None:
        print("Prosody: not installed (scripts/install-deps.sh)")
        return
    peer = Prosody(args.clients)
    try:
        peer.start()
        asyncio.run(main_async(args, peer))
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=20)
    ap.add_argument("--build", action="append")
    ap.add_argument("--only", choices=["postern", "prosody"])
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.only != "prosody":
        for build in args.build or [None]:
            run_postern(args, build)
    if args.only != "postern":
        run_prosody(args)


if __name__ == "__main__":
    main()
