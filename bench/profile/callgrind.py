#!/usr/bin/python3
"""Where the CPU goes, in instructions (valgrind --tool=callgrind): stable
on a shared machine where wall-clock figures move by 2x between runs.

  smtp   smtpd, mta and deliver under callgrind (every process, workers
         included); after a warm-up of 50 messages the counters are
         zeroed (callgrind_control -z), then -n messages of --size bytes
         from -c SMTP clients to --users mailboxes, timed until the last
         is in its mailbox
  imap   imapd under callgrind; one mailbox of --messages Maildir files,
         indexed by a first SELECT before the counters are zeroed, then
         --rounds rounds of: SELECT, FETCH a page of 50 headers, FETCH one
         body, SEARCH SUBJECT, STORE +FLAGS, APPEND, NOOP, UID FETCH of
         the changes (CHANGEDSINCE-less FLAGS of the page)

posternd starts the services through wrapper scripts (POSTERN_LIBEXECDIR),
so each runs under valgrind as it would run for real. Printed: instructions
per message (or per round) for each program, and its top functions
(exclusive and inclusive) from callgrind_annotate. Output files stay in
--out. Bounded: --timeout for the load; posternd is stopped by PID.

usage: bench/profile/callgrind.py smtp [-n 300] [-c 10] [--size 2048]
       bench/profile/callgrind.py imap [--rounds 200] [--messages 2000]
       [--out DIR] [--top 25]
"""
import argparse
import asyncio
import glob
import imaplib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "lib"))
sys.path.insert(0, str(HERE.parents[0] / "smtp"))
import peers  # noqa: E402
import run as smtprun  # noqa: E402


def wrappers(build, profiled, out):
    """A libexec dir: the profiled services wrapped in valgrind, the rest
    linked to the build's binaries."""
    d = Path(out) / "libexec"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    for exe in Path(build).glob("postern-*"):
        name = exe.name[len("postern-"):]
        w = d / exe.name
        if name in profiled:
            w.write_text(
                "#!/bin/sh\nexec valgrind --tool=callgrind --quiet "
                f"--callgrind-out-file={out}/callgrind.out.{name}.%p "
                f"\"{exe.resolve()}\" \"$@\"\n")
            w.chmod(0o755)
        else:
            w.symlink_to(exe.resolve())
    return d


def zero(root):
    """Zero the counters of the profiled processes of this instance only
    (other runs under callgrind may share the machine)."""
    r = subprocess.run(["callgrind_control"], capture_output=True,
                       text=True, timeout=60)
    pids = [line.split()[1].rstrip(":") for line in r.stdout.splitlines()
            if line.startswith("PID ") and str(root) in line]
    out = []
    for pid in pids:
        z = subprocess.run(["callgrind_control", "-z", pid], capture_output=True,
                           text=True, timeout=60)
        out.append(z.stdout.strip())
    return "\n".join(out)


def wait_port(port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            peers.socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"nothing on port {port} after {timeout} s")


def stop(peer):
    if peer.proc and peer.proc.poll() is None:
        peer.proc.send_signal(signal.SIGTERM)
        try:
            peer.proc.wait(180)   # valgrind writes its files on exit
        except subprocess.TimeoutExpired:
            peer.proc.kill()
            peer.proc.wait()
    shutil.rmtree(peer.dir, ignore_errors=True)


# frames on the stack when the counters are zeroed (callgrind_control -z)
# keep the cost of the whole run as their own (exclusive); left out, as are
# the event loop's frames from the inclusive list
STACK_ROOTS = re.compile(r"(below main)|__libc_start_main|libc_start_call_main"
                         r"|:main |:service_main |event_base_dispatch|"
                         r"event_base_loop|start_thread|clone\.S|0x000000000001ab70")


def summarize(out, units, unit_name, top):
    """Per program: instructions per unit, and its top functions."""
    files = sorted(glob.glob(f"{out}/callgrind.out.*.*"))
    per_prog = {}
    for f in files:
        prog = Path(f).name.split(".")[2]
        per_prog.setdefault(prog, []).append(f)
    report = []
    for prog, fs in sorted(per_prog.items()):
        totals = {}
        for f in fs:
            for line in open(f, errors="replace"):
                if line.startswith("summary:") or line.startswith("totals:"):
                    totals[f] = int(line.split()[1])
                    break
        total = sum(totals.values())
        big = max(totals, key=totals.get) if totals else fs[0]
        report.append(f"## {prog}: {total:,} instructions in {len(fs)} processes, "
                      f"{total / max(1, units):,.0f} per {unit_name}; functions of "
                      f"the busiest process ({Path(big).name}, {totals.get(big, 0):,})")
        for inclusive in (False, True):
            args = ["callgrind_annotate", "--threshold=100"]
            if inclusive:
                args.append("--inclusive=yes")
            r = subprocess.run(args + [big], capture_output=True, text=True,
                               timeout=300)
            lines = [x for x in r.stdout.splitlines()
                     if re.match(r"^\s*[\d,]+ \(", x)
                     and "PROGRAM TOTALS" not in x
                     and not STACK_ROOTS.search(x)]
            report.append(f"### {'inclusive' if inclusive else 'exclusive'}")
            report += lines[:top]
        report.append("")
    return "\n".join(report)


def smtp_load(peer, n, c, size, timeout):
    before = peers.count_files(peer.new_dirs())
    t0 = time.perf_counter()
    lat, errors = asyncio.run(asyncio.wait_for(
        smtprun.load(peer.smtp_port(), n, c, peer.users, size), timeout))
    deadline = time.time() + timeout
    while time.time() < deadline:
        if peers.count_files(peer.new_dirs()) - before >= len(lat):
            break
        time.sleep(0.2)
    got = peers.count_files(peer.new_dirs()) - before
    return got, len(lat), errors, time.perf_counter() - t0


def ok(r):
    if r[0] != "OK":
        raise RuntimeError(repr(r)[:200])
    return r[1]


def imap_round(c, r, n):
    ok(c.select("INBOX"))
    lo = 1 + (r * 37) % max(1, n - 50)
    ok(c.fetch(f"{lo}:{lo + 49}", "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])"))
    ok(c.fetch(str(lo + 7), "(BODY.PEEK[])"))
    ok(c.search(None, "SUBJECT", f'"invoice {r % 100}"'))
    ok(c.store(str(lo + 3), "+FLAGS", "(\\Seen)"))
    ok(c.append("INBOX", None, None, smtprun.make_body(2048, 100000 + r)))
    ok(c.noop())
    ok(c.fetch(f"{lo}:{lo + 49}", "(FLAGS)"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("smtp", "imap"))
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("-c", type=int, default=10)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out")
    ap.add_argument("--set", action="append", default=[],
                    help="KEY=VALUE instance setting")
    a = ap.parse_args()
    build = Path(os.environ.get("POSTERN_BUILD") or peers.ROOT / "build")
    out = Path(a.out or f"/tmp/callgrind-{a.mode}-{os.getpid()}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    for f in glob.glob(f"{out}/callgrind.out.*"):
        os.unlink(f)
    profiled = ("smtpd", "mta", "deliver") if a.mode == "smtp" else ("imapd",)
    os.environ["POSTERN_LIBEXECDIR"] = str(wrappers(build, profiled, out))
    settings = dict(kv.split("=", 1) for kv in a.set)
    if a.mode == "smtp":
        peer = peers.Postern(a.users, build=build,
                             services=["smtpd", "mta", "deliver"], settings=settings)
    else:
        peer = peers.Postern(1, build=build, services=["imapd"], settings=settings)
    real_wait = peers.wait_port
    peers.wait_port = lambda port, timeout=20: wait_port(port, 180)
    try:
        if a.mode == "imap":
            # the messages written before the start, indexed by the first SELECT
            peer.start()
            stop_proc = peer.proc
            stop_proc.send_signal(signal.SIGTERM)
            stop_proc.wait(180)
            md = peer.maildir(0)
            for sub in ("new", "cur", "tmp"):
                (md / sub).mkdir(parents=True, exist_ok=True)
            t = int(time.time()) - 86400
            for i in range(a.messages):
                data = smtprun.make_body(2048, i).replace(b"Subject: ", f"Subject: invoice {i % 100} ".encode(), 1)
                (md / "cur" / f"{t + i}.M{i}P1.bench,S={len(data)}:2,").write_bytes(data)
            peer.proc = subprocess.Popen(
                [str(build / "posternd"), "-d", str(peer.root), "--services", "imapd"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(peer.imap_port(), 180)
            c = imaplib.IMAP4("127.0.0.1", peer.imap_port(), timeout=a.timeout)
            c.login(peer.login(0), "Load-Secret-1")
            for r in range(3):
                imap_round(c, r, a.messages)
            print(zero(peer.root).strip()[:300])
            t0 = time.perf_counter()
            for r in range(a.rounds):
                imap_round(c, r, a.messages)
            el = time.perf_counter() - t0
            c.logout()
            units, unit = a.rounds, "round"
            print(f"imap: {a.rounds} rounds in {el:.1f} s under callgrind")
        else:
            peer.start()
            got, acc, errors, el = smtp_load(peer, 50, 5, a.size, a.timeout)
            print(f"warm-up: {got}/{acc} delivered")
            print(zero(peer.root).strip()[:300])
            got, acc, errors, el = smtp_load(peer, a.n, a.c, a.size, a.timeout)
            print(f"smtp: {got} delivered of {acc} accepted ({a.n} sent) in "
                  f"{el:.1f} s under callgrind; errors {errors[:2]}")
            units, unit = got, "message"
    finally:
        peers.wait_port = real_wait
        stop(peer)
    text = summarize(out, units, unit, a.top)
    (out / "summary.txt").write_text(text)
    print(text)
    print(f"files: {out}")


if __name__ == "__main__":
    main()
