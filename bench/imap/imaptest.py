#!/usr/bin/python3
"""Dovecot's imaptest against Postern and a private Dovecot in one run.

imaptest itself is never part of this repository: build it by hand from
its public source (github.com/dovecot/imaptest) against Debian 12's
dovecot-dev, outside the tree, and pass its binary and its tests/ folder
(bench/RESULTS.md says which commit and how). This script only starts the
servers, runs imaptest and reads its figures.

  tests   imaptest's scripted tests (test=DIR): groups passed, failed,
          skipped for a missing capability
  stress  imaptest's stress mode with every client on one shared mailbox
          (logout=0: sessions stay logged in), for SECS seconds: the
          operations per second from its totals, and its error lines

usage: bench/imap/imaptest.py --imaptest BIN --tests DIR
           [--clients 10] [--secs 30] [--only postern|dovecot]
           [--phase tests|stress|both] [--seed N] [--perf]
           [--postern-set KEY=VALUE ...]   (e.g. imap.processes=2)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import peers  # noqa: E402

PASSWORD = "Load-Secret-1"


class DovecotOnly(peers.PostfixDovecot):
    """The private Dovecot of peers.PostfixDovecot without its Postfix:
    imaptest talks IMAP only"""
    name = "Dovecot"

    def start(self):
        self.start_dovecot()


def imaptest(binary, server, user, args, timeout, cwd=None):
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = "/usr/lib/dovecot"
    cmd = [binary, "host=127.0.0.1", f"port={server.imap_port()}",
           f"user={user}", f"pass={PASSWORD}"] + args
    print("  $", " ".join(cmd[:1] + cmd[1:]), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       timeout=timeout, errors="replace", cwd=cwd)
    return r.stdout + r.stderr


def make_user2_mailbox(server):
    """urlauth2's second client SELECTs the test mailbox in its own
    account: it must exist there (imaptest creates it for user 1 only)"""
    import imaplib
    try:
        c = imaplib.IMAP4("127.0.0.1", server.imap_port(), timeout=30)
        c.login(server.login(2), PASSWORD)
        c.create("imaptest")
        c.logout()
    except (OSError, imaplib.IMAP4.error) as e:
        print(f"  (user 2's mailbox: {e})", flush=True)


def run_tests(binary, tests, server):
    make_user2_mailbox(server)
    # user2: the second user of the groups that need one (urlauth2)
    out = imaptest(binary, server, server.login(0),
                   [f"test={tests}", f"user2={server.login(2)}"], 1800)
    fails = [ln for ln in out.splitlines()
             if ln.startswith("*** Test ") or "failed" in ln.lower()]
    summary = [ln for ln in out.splitlines()
               if re.search(r"test groups|individual commands", ln)]
    return out, summary, fails


def parse_totals(out):
    """imaptest prints a header of operation names and, after the run,
    "Totals:" with one count per name"""
    lines = out.splitlines()
    total = 0
    for i, ln in enumerate(lines):
        if not ln.startswith("Totals:"):
            continue
        for nxt in lines[i + 1:i + 6]:
            words = nxt.split()
            if words and all(w.isdigit() for w in words):
                total = sum(int(w) for w in words)
                break
    return total


def imap_pids(server):
    def comm(p):
        try:
            return Path(f"/proc/{p}/comm").read_text().strip()
        except OSError:
            return ""
    if isinstance(server, peers.Postern):
        return server.server_pids("imapd")
    return [p for p in peers.children_of(server.dovecot_pid)
            if comm(p) == "imap"]


def cpu_ticks(pid):
    """user + system CPU of a process (every thread), in clock ticks"""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(f[11]) + int(f[12])
    except (OSError, IndexError, ValueError):
        return None


class CpuMeter(threading.Thread):
    """CPU time of the server's IMAP processes over the stress run,
    polled (Dovecot's imap processes end with their clients): a figure
    the machine's load moves much less than operations per second"""
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.base = {p: cpu_ticks(p) or 0 for p in imap_pids(server)}
        self.last = dict(self.base)
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(0.25):
            for p in imap_pids(self.server):
                t = cpu_ticks(p)
                if t is not None:
                    self.last[p] = t

    def seconds(self):
        self.stop.set()
        self.join()
        ticks = sum(t - self.base.get(p, 0) for p, t in self.last.items())
        return ticks / os.sysconf("SC_CLK_TCK")


def perf_start(server, secs, out):
    """perf record (call graphs) of the server's IMAP processes for secs
    seconds of the stress run; None if there is no perf"""
    pids = imap_pids(server)
    if not pids or not shutil.which("perf"):
        return None
    return subprocess.Popen(["perf", "record", "-g", "-o", str(out), "-p",
                             ",".join(str(p) for p in pids), "--",
                             "sleep", str(secs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def perf_report(path, top=25):
    r = subprocess.run(["perf", "report", "-i", str(path), "--stdio",
                        "--no-children", "--percent-limit", "1.5",
                        "-g", "none", "--sort", "dso,symbol"],
                       capture_output=True, text=True, errors="replace")
    lines = [ln for ln in r.stdout.splitlines()
             if ln.strip() and not ln.startswith("#")]
    return lines[:top]


def run_stress(binary, server, mbox, clients, secs, seed, perf=None):
    # one user for every client: they share its INBOX. A FETCH the
    # server answers NO shows as an error line ("FETCH failed: ... NO")
    prof = None
    if perf:
        # the processes exist once the clients log in: start a bit late
        def later():
            time.sleep(3)
            return perf_start(server, max(secs - 6, 1), perf)
        holder = {}
        t = threading.Thread(target=lambda: holder.update(p=later()))
        t.start()
    meter = CpuMeter(server)
    meter.start()
    out = imaptest(binary, server, server.login(1),
                   [f"clients={clients}", f"secs={secs}", "logout=0",
                    f"mbox={mbox}", f"seed={seed}", "msgs=100"],
                   secs + 300)
    if perf:
        t.join()
        prof = holder.get("p")
        if prof is not None:
            prof.wait()
    cpu = meter.seconds()
    errors = [ln for ln in out.splitlines() if "Error:" in ln or
              "Warning:" in ln]
    return out, parse_totals(out), errors, prof is not None, cpu


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--imaptest", required=True)
    ap.add_argument("--tests", required=True)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--secs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", choices=("postern", "dovecot"))
    ap.add_argument("--phase", choices=("tests", "stress", "both"),
                    default="both")
    ap.add_argument("--perf", action="store_true",
                    help="perf record the servers' IMAP processes "
                         "during the stress run")
    ap.add_argument("--postern-set", action="append", default=[],
                    metavar="KEY=VALUE",
                    help="a Postern setting for the run (repeatable)")
    ap.add_argument("--dovecot-first", action="store_true",
                    help="run Dovecot before Postern (alternate the order "
                         "between invocations)")
    ap.add_argument("--keep-output", default=None,
                    help="folder for imaptest's full output")
    a = ap.parse_args()
    servers = []
    if a.only != "dovecot":
        settings = dict(kv.split("=", 1) for kv in a.postern_set)
        servers.append(peers.Postern(3, services=["imapd"],
                                     settings=settings))
    if a.only != "postern":
        servers.append(DovecotOnly(3))
    if a.dovecot_first:
        servers.reverse()
    mbox = Path(tempfile.mkdtemp(prefix="imaptest-mbox-")) / "stress.mbox"
    with open(mbox, "w") as f:
        for i in range(200):
            f.write(f"From sender{i % 7}@example.test Mon Dec  7 03:00:00 2026\n"
                    f"From: Sender {i % 7} <sender{i % 7}@example.test>\n"
                    f"To: user1@bench.test\nSubject: message {i}\n"
                    f"Message-ID: <m{i}@example.test>\n"
                    f"Date: Mon, 7 Dec 2026 03:00:{i % 60:02d} +0000\n\n" +
                    "".join(f"line {k} of message {i}\n"
                            for k in range(20 + i % 40)) + "\n")
    keep = Path(a.keep_output) if a.keep_output else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    try:
        for s in servers:
            s.start()
        for s in servers:
            print(f"== {s.name}", flush=True)
            if a.phase in ("tests", "both"):
                out, summary, fails = run_tests(a.imaptest, a.tests, s)
                if keep:
                    (keep / f"tests-{s.name}.txt").write_text(out)
                for ln in fails[:200]:
                    print("   ", ln)
                for ln in summary:
                    print("  tests:", ln)
            if a.phase in ("stress", "both"):
                pf = Path(tempfile.mkdtemp(prefix="imaptest-perf-")) / \
                    "perf.data" if a.perf else None
                out, total, errors, profiled, cpu = run_stress(
                    a.imaptest, s, mbox, a.clients, a.secs, a.seed, pf)
                if profiled:
                    print("  perf (self time by object and symbol):")
                    for ln in perf_report(pf):
                        print("   ", ln)
                if pf is not None and profiled and keep:
                    shutil.copy(pf, keep / f"perf-{s.name}.data")
                if pf is not None:
                    shutil.rmtree(pf.parent, ignore_errors=True)
                if keep:
                    (keep / f"stress-{s.name}.txt").write_text(out)
                print(f"  stress: {total} operations in {a.secs} s = "
                      f"{total / a.secs:.0f} ops/s, {len(errors)} error lines")
                print(f"  cpu: {cpu:.2f} s of the IMAP processes, "
                      f"{1000 * cpu / max(total, 1):.3f} ms per operation")
                for ln in errors[:20]:
                    print("   ", ln)
    finally:
        for s in servers:
            if keep and getattr(s, "root", None) is not None:
                for log in (s.root / "log").glob("*.log"):
                    (keep / f"{s.name}-{log.name}").write_bytes(log.read_bytes())
            s.stop()


if __name__ == "__main__":
    main()
