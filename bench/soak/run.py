#!/usr/bin/python3
"""bench/soak/run.py - a bounded mixed-load soak of a real posternd.

    /usr/bin/python3 bench/soak/run.py [--minutes 10] [--interval 30]
                                       [--build build-hostile-rel]

Starts posternd (smtpd, mta, deliver, imapd, pop3d) on a temporary data
root with free loopback ports, then for the given time runs:
  - 2 SMTP senders (one connection each, messages of 1-20 KB to alice and
    bob, reconnecting every 50 messages),
  - 1 IMAP reader on alice (login, select, fetch the newest 10, and every
    20th round mark all deleted and expunge),
  - 1 POP3 reader on bob (login, stat, retr 3, delete all, quit).
Every --interval seconds it prints one row per service: RSS (kB) and open
file descriptors, read from /proc; at the end a markdown table and the
growth between the second sample (warm) and the last. Exit 1 when a service
restarted or any load thread saw more than 1% errors."""
import argparse
import imaplib
import json
import os
import poplib
import random
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

SERVICES = ["smtpd", "mta", "deliver", "imapd", "pop3d"]


def proc_stats(pid):
    rss = 0
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None, None
    return rss, fds


def children(pid):
    """the worker processes of a service (delivery.workers)"""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for line in open(f"/proc/{d}/status"):
                if line.startswith("PPid:"):
                    if int(line.split()[1]) == pid:
                        out.append(int(d))
                    break
        except OSError:
            pass
    return out


class Load:
    def __init__(self, p, stop):
        self.p = p
        self.stop = stop
        self.lock = threading.Lock()
        self.count = {"smtp": 0, "imap": 0, "pop3": 0}
        self.errors = {"smtp": 0, "imap": 0, "pop3": 0}
        self.last_error = {}

    def ok(self, kind):
        with self.lock:
            self.count[kind] += 1

    def err(self, kind, e):
        with self.lock:
            self.errors[kind] += 1
            self.last_error[kind] = repr(e)[:200]
        time.sleep(0.5)

    def smtp(self, n):
        rnd = random.Random(n)
        i = 0
        while time.time() < self.stop:
            try:
                with smtplib.SMTP("127.0.0.1", self.p.port("smtp"),
                                  timeout=60) as s:
                    s.ehlo("soak.test")
                    for _ in range(50):
                        if time.time() >= self.stop:
                            break
                        i += 1
                        rcpt = ("alice@acme.test", "bob@acme.test")[i % 2]
                        size = rnd.randint(1000, 20000)
                        body = (f"From: soak@example.org\r\nTo: {rcpt}\r\n"
                                f"Subject: soak {n}-{i}\r\n\r\n" +
                                ("s" * 70 + "\r\n") * (size // 72))
                        s.sendmail("soak@example.org", [rcpt], body.encode())
                        self.ok("smtp")
            except Exception as e:   # noqa: BLE001 - counted and reported
                self.err("smtp", e)

    def imap(self):
        rounds = 0
        while time.time() < self.stop:
            try:
                c = imaplib.IMAP4("127.0.0.1", self.p.port("imap"), timeout=60)
                c.login("alice@acme", "Soak-secret-a1")
                typ, data = c.select("INBOX")
                n = int(data[0])
                if n > 0:
                    c.fetch(f"{max(1, n - 9)}:{n}", "(FLAGS BODY.PEEK[])")
                rounds += 1
                if rounds % 20 == 0 and n > 0:
                    c.store("1:*", "+FLAGS", "\\Deleted")
                    c.expunge()
                c.logout()
                self.ok("imap")
            except Exception as e:   # noqa: BLE001
                self.err("imap", e)
            time.sleep(0.2)

    def pop3(self):
        while time.time() < self.stop:
            try:
                c = poplib.POP3("127.0.0.1", self.p.port("pop3"), timeout=60)
                c.user("bob@acme")
                c.pass_("Soak-secret-b1")
                n, _ = c.stat()
                for k in range(1, min(n, 3) + 1):
                    c.retr(k)
                for k in range(1, n + 1):
                    c.dele(k)
                c.quit()
                self.ok("pop3")
            except Exception as e:   # noqa: BLE001
                self.err("pop3", e)
            time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--interval", type=float, default=30)
    ap.add_argument("--build", default=os.environ.get("POSTERN_BUILD",
                                                      str(ROOT / "build")))
    args = ap.parse_args()
    os.environ["POSTERN_BUILD"] = str(Path(args.build).resolve())
    import conftest   # after POSTERN_BUILD: it reads it at import
    base = Path(tempfile.mkdtemp(prefix="postern-soak-"))
    p = conftest.Postern(base / "root")
    p.init()
    p.cli("postoffice", "add", "acme", "--password", "pm-secret")
    p.cli("domain", "add", "acme.test", "--postoffice", "acme")
    p.cli("mailbox", "add", "alice@acme", "--password", "Soak-secret-a1")
    p.cli("mailbox", "add", "bob@acme", "--password", "Soak-secret-b1")
    p.start(services=SERVICES, timeout=60)
    st = json.loads((p.root / "run" / "status.json").read_text())
    pids = {s["name"]: s["pid"] for s in st["services"] if s["name"] in SERVICES}

    t0 = time.time()
    stop = t0 + args.minutes * 60
    load = Load(p, stop)
    threads = [threading.Thread(target=load.smtp, args=(n,), daemon=True)
               for n in range(2)]
    threads += [threading.Thread(target=load.imap, daemon=True),
                threading.Thread(target=load.pop3, daemon=True)]
    for t in threads:
        t.start()

    rows = []
    header = ["t (s)"] + [f"{s} RSS/fds" for s in SERVICES] + \
        ["smtp", "imap", "pop3", "errors"]
    print(" | ".join(header), flush=True)
    restarted = False
    next_sample = t0
    while True:
        now = time.time()
        if now >= next_sample:
            row = [f"{now - t0:.0f}"]
            for s in SERVICES:
                rss, fds = proc_stats(pids[s])
                if rss is None:
                    restarted = True
                    row.append("gone")
                    continue
                # mta and deliver: the main process plus its workers
                for c in children(pids[s]):
                    r2, f2 = proc_stats(c)
                    if r2 is not None:
                        rss += r2
                        fds += f2
                row.append(f"{rss}/{fds}")
            with load.lock:
                row += [str(load.count["smtp"]), str(load.count["imap"]),
                        str(load.count["pop3"]), str(sum(load.errors.values()))]
            rows.append(row)
            print(" | ".join(row), flush=True)
            next_sample += args.interval
        if now >= stop:
            break
        time.sleep(min(1.0, max(0.05, next_sample - time.time())))
    for t in threads:
        t.join(timeout=90)

    st = json.loads((p.root / "run" / "status.json").read_text())
    for s in st["services"]:
        if s["name"] in pids and s["pid"] != pids[s["name"]]:
            restarted = True
    p.stop()
    shutil.rmtree(base, ignore_errors=True)

    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    warm = rows[1] if len(rows) > 2 else rows[0]
    last = rows[-1]
    print()
    for i, s in enumerate(SERVICES, start=1):
        if "/" in warm[i] and "/" in last[i]:
            r0, f0 = map(int, warm[i].split("/"))
            r1, f1 = map(int, last[i].split("/"))
            print(f"{s}: RSS {r0} -> {r1} kB ({r1 - r0:+d}), fds {f0} -> {f1}"
                  f" ({f1 - f0:+d}) from t={warm[0]}s to t={last[0]}s")
    total = {k: load.count[k] + load.errors[k] for k in load.count}
    print(f"done: {load.count} ok, errors {load.errors}"
          + (f", last: {load.last_error}" if load.last_error else ""))
    bad = restarted or any(load.errors[k] > 0.01 * max(1, total[k])
                           for k in total)
    if restarted:
        print("a service restarted during the soak")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
