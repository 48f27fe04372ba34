#!/usr/bin/python3
"""Durability syscalls per delivered message, per program: the SMTP-in-to-
mailbox load of bench/smtp/run.py with `strace -c -f` attached to each of
Postern's smtpd, mta and deliver (every process of each, workers included),
and optionally to the Postfix + Dovecot processes, in one run.

strace slows every traced process down: the rates of this run mean
nothing, only the counts do (bench/smtp/run.py measures the rates).

usage: bench/smtp/syscalls.py [-n 1000] [-c 50] [--users 50] [--size 2048]
                              [--only postern|postfix]
"""
import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "lib"))
sys.path.insert(0, str(HERE))
import peers  # noqa: E402
import run  # noqa: E402

CALLS = ["fsync", "fdatasync", "sync_file_range", "rename", "renameat",
         "renameat2", "link", "linkat", "unlink", "openat"]
TRACE_LIMIT = 900        # s: the load and the drain, at most


def strace_start(pids, out):
    args = ["strace", "-c", "-w", "-f", "-o", str(out), "-e",
            "trace=" + ",".join(CALLS)]
    for p in pids:
        args += ["-p", str(p)]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)    # attached (strace -c prints nothing until the end)
    return proc


def strace_stop(proc, out):
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    counts = {}
    for line in out.read_text().splitlines():
        f = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(f) >= 5 and f[-1] in CALLS and f[3].isdigit():
            counts[f[-1]] = (int(f[3]), float(f[1]))
    return counts


def postfix_pids(peer):
    """Every process of the private Postfix (master tree) and Dovecot."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if cmd.startswith(b"/usr/lib/postfix/sbin/master") and \
                str(peer.postfix_etc).encode() in cmd:
            pids += peers.children_of(int(pid))
    if peer.dovecot_pid:
        pids += peers.children_of(peer.dovecot_pid)
    return pids


def measure(peer, groups, n, c, size, tmp):
    """groups: name -> function giving the pids once the peer runs."""
    try:
        peer.start()
        before = peers.count_files(peer.new_dirs())
        tracers = {}
        for name, pids in groups.items():
            out = tmp / f"{peer.name}-{name}.strace"
            tracers[name] = (strace_start(pids(peer), out), out)
        t0 = time.perf_counter()
        latencies, errors = asyncio.run(run.load(peer.smtp_port(), n, c,
                                                 peer.users, size))
        deadline = time.time() + TRACE_LIMIT
        delivered = 0
        while time.time() < deadline:
            delivered = peers.count_files(peer.new_dirs()) - before
            if delivered >= len(latencies):
                break
            time.sleep(0.2)
        t_all = time.perf_counter() - t0
        time.sleep(1.0)   # the last removals of queue items
        counts = {name: strace_stop(p, out) for name, (p, out) in tracers.items()}
        return delivered, len(latencies), errors, t_all, counts
    finally:
        peer.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("-c", type=int, default=50)
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--only")
    ap.add_argument("--set", action="append", default=[],
                    help="a Postern setting for the run, name=value")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-syscalls-"))
    runs = []
    if a.only in (None, "postern"):
        settings = dict(kv.split("=", 1) for kv in a.set)
        p = peers.Postern(a.users, services=["smtpd", "mta", "deliver"],
                          settings=settings)
        groups = {s: (lambda peer, s=s: peer.server_pids(s))
                  for s in ("smtpd", "mta", "deliver")}
        runs.append((p.name, measure(p, groups, a.n, a.c, a.size, tmp)))
    if a.only in (None, "postfix"):
        p = peers.PostfixDovecot(a.users)
        runs.append((p.name, measure(p, {"all": postfix_pids}, a.n, a.c,
                                     a.size, tmp)))
    load = os.getloadavg()
    print(f"{a.n} messages of {a.size} bytes, concurrency {a.c}, {a.users} "
          f"mailboxes; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print("| server | program | delivered | " +
          " | ".join(CALLS) + " | fsync+fdatasync per message | s in them |")
    print("|---|---|---|" + "---|" * len(CALLS) + "---|---|")
    for name, (delivered, accepted, errors, t_all, counts) in runs:
        for prog, cs in counts.items():
            per = lambda k: cs.get(k, (0, 0))[0] / delivered if delivered else 0  # noqa: E731
            syncs = per("fsync") + per("fdatasync")
            secs = cs.get("fsync", (0, 0))[1] + cs.get("fdatasync", (0, 0))[1]
            print(f"| {name} | {prog} | {delivered}/{accepted} | " +
                  " | ".join(f"{per(k):.2f}" for k in CALLS) +
                  f" | {syncs:.2f} | {secs:.2f} |")
        if errors:
            print(f"errors ({name}): {errors[:3]}")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    main()
