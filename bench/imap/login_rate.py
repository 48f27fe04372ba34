#!/usr/bin/python3
"""IMAP login rate: C client processes, each for T seconds in a loop:
connect, read the greeting, LOGIN (plain, over loopback), LOGOUT, until
the server closes. Logins per second and the median time of one
connect-to-close, for one or more Postern builds (before/after a change)
and Dovecot, in one run, measured in turns (round 1: every server, round
2: every server...) so that the shared machine's load falls on all alike.

usage: bench/imap/login_rate.py [--build NAME=DIR ...] [--dovecot]
                                [--clients 4] [--seconds 10] [--rounds 3]
                                [--users 50] [--set KEY=VALUE ...]
"""
import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import peers  # noqa: E402

PASSWORD = "Load-Secret-1"


def read_until(s, token, buf=b""):
    deadline = time.time() + 30
    while token not in buf:
        if time.time() > deadline:
            raise TimeoutError(token)
        b = s.recv(4096)
        if not b:
            return buf, True
        buf += b
    return buf, False


def worker(port, logins, seconds, out):
    n = errors = 0
    times = []
    deadline = time.time() + seconds
    i = 0
    while time.time() < deadline:
        login = logins[i % len(logins)]
        i += 1
        t0 = time.perf_counter()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                read_until(s, b"\r\n")
                s.sendall(f"a LOGIN {login} {PASSWORD}\r\n".encode())
                got, _ = read_until(s, b"\r\na ", b"\r\n")
                got, _ = read_until(s, b"\r\n", got[got.index(b"\r\na ") + 2:])
                if not got.startswith(b"a OK"):
                    errors += 1
                    continue
                s.sendall(b"b LOGOUT\r\n")
                read_until(s, b"\r\nb OK")
            n += 1
            times.append(time.perf_counter() - t0)
        except (OSError, TimeoutError, ValueError):
            errors += 1
    out.put((n, errors, times))


def measure(peer, clients, seconds):
    logins = [peer.login(i) for i in range(peer.users)]
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(
        peer.imap_port(), logins[k::clients] or logins, seconds, q))
        for k in range(clients)]
    for p in procs:
        p.start()
    res = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(10)
    n = sum(r[0] for r in res)
    times = [t for r in res for t in r[2]]
    return (n / seconds, sum(r[1] for r in res),
            statistics.median(times) * 1000 if times else 0.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", action="append", default=[],
                    help="NAME=DIR: a Postern build to measure (repeatable)")
    ap.add_argument("--dovecot", action="store_true")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--set", action="append", default=[],
                    help="KEY=VALUE: a Postern setting")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build] or [["postern", None]]
    settings = dict(kv.split("=", 1) for kv in a.set)
    servers = []
    try:
        for name, d in builds:
            p = peers.Postern(a.users, build=d, services=["imapd"],
                              settings=settings)
            p.start()
            servers.append((name, p))
        if a.dovecot:
            d = peers.PostfixDovecot(a.users)
            d.start_dovecot()
            servers.append(("dovecot", d))
        results = {name: [] for name, _ in servers}
        for r in range(a.rounds):
            for name, p in servers:
                load = os.getloadavg()[0]
                rate, errors, med = measure(p, a.clients, a.seconds)
                results[name].append((rate, errors, med, load))
                print(f"round {r + 1} {name}: {rate:.0f} logins/s, median "
                      f"{med:.1f} ms, {errors} errors (load {load:.1f})",
                      flush=True)
        print(f"\n{a.clients} clients x {a.seconds} s x {a.rounds} rounds, "
              f"{a.users} mailboxes")
        print("| server | logins/s (median of rounds) | each round | "
              "connect-to-close median ms | errors |")
        print("|---|---|---|---|---|")
        for name, rs in results.items():
            rates = [x[0] for x in rs]
            print(f"| {name} | **{statistics.median(rates):.0f}** | "
                  f"{' / '.join(f'{x:.0f}' for x in rates)} | "
                  f"{statistics.median(x[2] for x in rs):.1f} | "
                  f"{sum(x[1] for x in rs)} |")
    finally:
        for _, p in servers:
            p.stop()


if __name__ == "__main__":
    main()
