#!/usr/bin/python3
"""Many idle IMAP clients held open at once, Postern and Dovecot in one run.

  hold     N clients connect (from several loopback source addresses,
           127.0.0.1..127.0.0.S), LOGIN as one of U mailboxes, SELECT INBOX
           and IDLE; every one must reach IDLE ("+ idling"), or the failure
           is counted with its reason
  memory   PSS and RSS of every process of the IMAP service (Postern:
           imapd and its workers; Dovecot: imap, imap-login) and of the
           whole server, before the clients and with all of them idle,
           divided by N
  notify   with all of them connected, a separate connection APPENDs a
           message to one mailbox; the time until the first and until the
           last of that mailbox's idle clients reads "* n EXISTS" (a
           sample of mailboxes, one after the other)

The limits it needs are raised here, for this run only: RLIMIT_NOFILE
(soft to hard) for itself and the servers it starts, the per-address and
per-mailbox connection limits in each instance's settings. Bounded: at
most --count clients (and the file limit), --connect-seconds to connect
them all, --notify-wait per notification, an alarm over the whole run; every
server it starts is stopped by PID and its temp dir removed.

usage: bench/imap/idle.py [--count 10000] [--users 1000] [--sources 4]
                          [--dovecot-count 10000] [--only postern|dovecot]
                          [--server-soft-nofile N] [--samples 20]
"""
import argparse
import asyncio
import os
import resource
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import imapbench  # noqa: E402
import peers  # noqa: E402

PASSWORD = "Load-Secret-1"


def message(i):
    return (f"From: Sender <s{i}@example.test>\r\nTo: user@bench.test\r\n"
            f"Subject: message {i}\r\nDate: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
            f"Message-ID: <idle{i}.{time.time_ns()}@example.test>\r\n\r\n"
            f"body of message {i}\r\n").encode()


def mem_kb(pids):
    """(PSS, RSS) in kB summed over pids (smaps_rollup)."""
    pss = rss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss += int(line.split()[1])
        except OSError:
            pass
    return pss, rss


def fd_count(pids):
    n = 0
    for pid in pids:
        try:
            n += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            pass
    return n


class Client:
    __slots__ = ("reader", "writer", "user", "task")


async def open_client(peer, i, users, src, results):
    c = Client()
    c.user = i % users
    try:
        c.reader, c.writer = await asyncio.wait_for(asyncio.open_connection(
            "127.0.0.1", peer.imap_port(), local_addr=(src, 0)), 30)
        greet = await asyncio.wait_for(c.reader.readline(), 30)
        if not greet.startswith(b"* OK"):
            raise RuntimeError("greeting " + greet[:60].decode(errors="replace"))
        c.writer.write(f"a LOGIN {peer.login(c.user)} {PASSWORD}\r\n"
                       "b SELECT INBOX\r\nc IDLE\r\n".encode())
        while True:
            line = await asyncio.wait_for(c.reader.readline(), 60)
            if not line:
                raise RuntimeError("closed")
            if line.startswith(b"+"):
                break
            if line[:2] in (b"a ", b"b ", b"c ") and not line[2:].startswith(b"OK"):
                raise RuntimeError(line[:80].decode(errors="replace").strip())
        results["ok"].append(c)
    except Exception as e:  # counted, with its reason
        key = f"{type(e).__name__}: {e}"[:100]
        results["errors"][key] = results["errors"].get(key, 0) + 1
        if getattr(c, "writer", None):
            c.writer.close()


async def watch(c, seen, expect):
    """An idle client's reader: note when it reads EXISTS."""
    while True:
        line = await c.reader.readline()
        if not line:
            return
        if line.startswith(b"* ") and line.rstrip().endswith(b" EXISTS"):
            now = time.perf_counter()
            lst = seen.setdefault(c.user, [])
            lst.append(now)
            ev = expect.get(c.user)
            if ev is not None and len(lst) >= ev[0]:
                ev[1].set()


async def imap_cmd(reader, writer, tag, cmd, literal=None):
    if literal is not None:
        writer.write(f"{tag} {cmd} {{{len(literal)}}}\r\n".encode())
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line.startswith(b"+"):
            raise RuntimeError(f"{cmd}: {line!r}")
        writer.write(literal + b"\r\n")
    else:
        writer.write(f"{tag} {cmd}\r\n".encode())
    while True:
        line = await asyncio.wait_for(reader.readline(), 30)
        if not line:
            raise RuntimeError("closed")
        if line.startswith(tag.encode() + b" "):
            if not line[len(tag) + 1:].startswith(b"OK"):
                raise RuntimeError(f"{cmd}: {line!r}")
            return


async def run_peer_async(peer, a, count, service):
    results = {"ok": [], "errors": {}}
    pids_svc = peer.server_pids(service)
    pids_all = peers.children_of(peer.root_pid())
    base_svc = mem_kb(pids_svc)
    base_all = mem_kb(pids_all)
    srcs = [f"127.0.0.{k + 1}" for k in range(a.sources)]
    sem = asyncio.Semaphore(a.window)
    t0 = time.perf_counter()
    deadline = t0 + a.connect_seconds

    async def one(i):
        async with sem:
            if time.perf_counter() > deadline:
                results["errors"]["not started: --connect-seconds"] = \
                    results["errors"].get("not started: --connect-seconds", 0) + 1
                return
            await open_client(peer, i, a.users, srcs[i % len(srcs)], results)

    await asyncio.gather(*(one(i) for i in range(count)))
    t_connect = time.perf_counter() - t0
    held = results["ok"]
    await asyncio.sleep(3)
    # still there? (a server that dropped them would show EOF by now)
    pids_svc = peer.server_pids(service)
    pids_all = peers.children_of(peer.root_pid())
    now_svc = mem_kb(pids_svc)
    now_all = mem_kb(pids_all)
    fds = fd_count(pids_svc)
    nproc = len(pids_svc)
    seen, expect = {}, {}
    for c in held:
        c.task = asyncio.ensure_future(watch(c, seen, expect))
    per_user = {}
    for c in held:
        per_user[c.user] = per_user.get(c.user, 0) + 1
    # the notifier: a connection of its own per sample, not an idle client
    lat = []
    step = max(1, a.users // a.samples)
    sample_users = [u for u in range(0, a.users, step) if u in per_user][:a.samples]
    missed = 0
    for n, u in enumerate(sample_users):
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                "127.0.0.1", peer.imap_port(), local_addr=("127.0.0.1", 0)), 30)
            await asyncio.wait_for(reader.readline(), 30)
            await imap_cmd(reader, writer, f"l{n}", f"LOGIN {peer.login(u)} {PASSWORD}")
        except (OSError, RuntimeError, asyncio.TimeoutError) as e:
            key = f"notifier: {type(e).__name__}: {e}"[:100]
            results["errors"][key] = results["errors"].get(key, 0) + 1
            continue
        ev = asyncio.Event()
        seen.pop(u, None)
        expect[u] = (per_user[u], ev)
        t = time.perf_counter()
        await imap_cmd(reader, writer, f"p{n}", "APPEND INBOX", message(100000 + n))
        t_append = time.perf_counter() - t
        try:
            await asyncio.wait_for(ev.wait(), a.notify_wait)
        except asyncio.TimeoutError:
            pass
        got = sorted(seen.get(u, []))
        missed += per_user[u] - len(got)
        if got:
            lat.append((t_append * 1e3, (got[0] - t) * 1e3, (got[-1] - t) * 1e3,
                        len(got), per_user[u]))
        del expect[u]
        writer.close()
    alive = sum(1 for c in held if not c.task.done())
    for c in held:
        c.task.cancel()
        c.writer.close()
    await asyncio.sleep(0.5)
    return {
        "peer": peer.name, "asked": count, "held": len(held), "alive": alive,
        "errors": results["errors"], "connect_s": t_connect,
        "pss_kb": (now_svc[0] - base_svc[0]) / max(1, len(held)),
        "rss_kb": (now_svc[1] - base_svc[1]) / max(1, len(held)),
        "pss_all_kb": (now_all[0] - base_all[0]) / max(1, len(held)),
        "svc_pss_mb": now_svc[0] / 1024, "svc_rss_mb": now_svc[1] / 1024,
        "fds": fds, "nproc": nproc, "lat": lat, "missed": missed,
    }


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def run_peer(peer, a, count, service, owner, start):
    imapbench.fill(peer, a.users, a.messages, message, owner)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if a.server_soft_nofile:
        # the server starts with this soft limit (systemd's default is 1024)
        resource.setrlimit(resource.RLIMIT_NOFILE, (a.server_soft_nofile, hard))
    try:
        start()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        time.sleep(1)
        return asyncio.run(run_peer_async(peer, a, count, service))
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=10000)
    ap.add_argument("--dovecot-count", type=int, default=10000)
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--messages", type=int, default=5)
    ap.add_argument("--sources", type=int, default=4)
    ap.add_argument("--window", type=int, default=32,
                    help="connections being set up at once")
    ap.add_argument("--connect-seconds", type=int, default=400)
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--notify-wait", type=float, default=30,
                    help="seconds to wait for every EXISTS of one APPEND")
    ap.add_argument("--server-soft-nofile", type=int, default=0)
    ap.add_argument("--only")
    ap.add_argument("--alarm", type=int, default=1800,
                    help="the whole run stops after this many seconds")
    a = ap.parse_args()

    def on_alarm(sig, frame):
        raise TimeoutError("--alarm reached")
    signal.signal(signal.SIGALRM, on_alarm)
    # timeout(1) and kill send SIGTERM: stop the servers all the same
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit("SIGTERM"))
    signal.alarm(a.alarm)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = hard - 200
    rows = []
    load = os.getloadavg()[0]
    if a.only in (None, "postern"):
        p = imapbench.postern(a.users, ["imapd"], settings={
            "imap.max_connections_per_ip": "100000",
            "imap.max_userip_connections": "100000"})
        p.root_pid = lambda: p.proc.pid
        r = run_peer(p, a, min(a.count, limit), "imapd", None, p.start)
        r["load"] = load
        rows.append(r)
        load = os.getloadavg()[0]
    if a.only in (None, "dovecot"):
        d, owner = imapbench.dovecot(a.users, dovecot_extra="""
protocol imap {
  mail_max_userip_connections = 100000
}
""")
        d.root_pid = lambda: d.dovecot_pid
        r = run_peer(d, a, min(a.dovecot_count, limit), "imap",
                     owner, d.start_dovecot)
        r["load"] = load
        rows.append(r)
    signal.alarm(0)
    print(f"{a.users} mailboxes x {a.messages} messages, clients from "
          f"{a.sources} loopback addresses, {a.samples} notification samples "
          f"(each wakes every idle client of one mailbox)")
    print("| server | clients asked | held (alive at end) | connect s | "
          "KB/client PSS (IMAP processes) | KB/client RSS | KB/client PSS (whole server) | "
          "IMAP processes, fds, PSS MB | APPEND ms p50 | EXISTS first ms p50 / p99 | "
          "EXISTS last client ms p50 / p99 | missed | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lat = r["lat"]
        print(f"| {r['peer']} | {r['asked']} | {r['held']} ({r['alive']}) | "
              f"{r['connect_s']:.0f} | {r['pss_kb']:.1f} | {r['rss_kb']:.1f} | "
              f"{r['pss_all_kb']:.1f} | {r['nproc']}, {r['fds']}, {r['svc_pss_mb']:.0f} | "
              f"{pct([x[0] for x in lat], 50):.1f} | "
              f"{pct([x[1] for x in lat], 50):.1f} / {pct([x[1] for x in lat], 99):.1f} | "
              f"{pct([x[2] for x in lat], 50):.1f} / {pct([x[2] for x in lat], 99):.1f} | "
              f"{r['missed']} | {r['load']:.1f} |")
    for r in rows:
        if r["errors"]:
            print(f"{r['peer']} errors: {r['errors']}")


if __name__ == "__main__":
    main()
