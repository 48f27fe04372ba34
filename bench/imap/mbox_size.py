#!/usr/bin/python3
"""IMAP and POP3 against mailbox size: Postern and Dovecot in the same run,
the same message files in each (written once into a staging directory as
Maildir cur/ files with S= and W= in their names, then hard-linked into
both servers' Maildirs before they start: no delivery path involved).

One mailbox per size (user0 has the first size, user1 the second...).
Per size, each server in turn (Postern, then Dovecot), one client:

  IMAP  STATUS cold      the first access to the mailbox (index built)
        STATUS           MESSAGES UNSEEN UIDNEXT, again (median of --reps)
        SELECT           on a fresh connection (median)
        FETCH page       the newest 50: UID FLAGS RFC822.SIZE and
                         HEADER.FIELDS (FROM SUBJECT DATE) (median)
        FETCH 1:* FLAGS  a client's flag resync (median)
        SEARCH subject   SUBJECT "invoice 778" (first time / median after)
        SEARCH UNSEEN    (median)
  POP3  login+STAT       PASS (the maildrop is loaded) and STAT (median)
        UIDL, LIST       whole-maildrop listings (median)
        RETR             20 messages spread over the maildrop: ms each

Times are wall clock in ms on the client. Bounded: --alarm over the
whole run, socket timeouts on every command; both servers are stopped by
PID and every temp dir (staging included) removed.

usage: bench/imap/mbox_size.py [--sizes 1000,10000,100000] [--reps 5]
                               [--png bench/imap/mbox_size.png]
"""
import argparse
import imaplib
import os
import poplib
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "lib"))
import imapbench  # noqa: E402
import peers  # noqa: E402

PASSWORD = "Load-Secret-1"
SUBJECTS = ["quarterly report", "lunch on friday", "invoice", "hello",
            "re: the plan", "meeting notes", "build failed", "photos"]
TIMEOUT = 900


def message(i):
    subj = SUBJECTS[i % len(SUBJECTS)]
    body = "".join(f"line {k} of message {i}: lorem ipsum dolor sit amet\r\n"
                   for k in range(10 + i % 30))
    return (f"Return-Path: <sender{i % 7}@example.test>\r\n"
            f"From: Sender {i % 7} <sender{i % 7}@example.test>\r\n"
            f"To: user@bench.test\r\nSubject: {subj} {i % 1000}\r\n"
            f"Date: Mon, 2 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
            f"Message-ID: <m{i}@example.test>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=us-ascii\r\n\r\n{body}").encode()


def stage(dirpath, n):
    """n message files, Maildir cur/ names; every other one \\Seen."""
    dirpath.mkdir(parents=True)
    t = int(time.time()) - 86400 * 30
    names = []
    for i in range(n):
        data = message(i)
        flags = "S" if i % 2 else ""
        name = f"{t + i // 100}.M{i}P1.bench,S={len(data)},W={len(data)}:2,{flags}"
        (dirpath / name).write_bytes(data)
        names.append(name)
    return names


def link_into(src, names, md, owner=None):
    for sub in ("new", "cur", "tmp"):
        (md / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        os.link(src / name, md / "cur" / name)
    if owner:
        for sub in ("", "new", "cur", "tmp"):
            os.chown(md / sub, owner.pw_uid, owner.pw_gid)
        os.chown(md.parent, owner.pw_uid, owner.pw_gid)


def ms(f):
    t = time.perf_counter()
    f()
    return (time.perf_counter() - t) * 1e3


def ok(r):
    typ, data = r
    if typ != "OK":
        raise RuntimeError(f"{typ} {data!r:.200}")
    return data


def imap_ops(peer, u, n, reps):
    port = peer.imap_port()
    out = {}
    c = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
    ok(c.login(peer.login(u), PASSWORD))
    out["STATUS cold"] = ms(lambda: ok(c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)")))
    st = ok(c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)"))
    got = int(st[0].split(b"MESSAGES ")[1].split()[0].rstrip(b")"))
    if got != n:
        raise RuntimeError(f"{peer.name}: {got} messages in the mailbox, {n} written")
    out["STATUS"] = statistics.median(
        ms(lambda: ok(c.status("INBOX", "(MESSAGES UNSEEN UIDNEXT)"))) for _ in range(reps))
    c.logout()
    sel = []
    for _ in range(reps):
        c = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
        ok(c.login(peer.login(u), PASSWORD))
        sel.append(ms(lambda: ok(c.select("INBOX"))))
        c.logout()
    out["SELECT"] = statistics.median(sel)
    c = imaplib.IMAP4("127.0.0.1", port, timeout=TIMEOUT)
    ok(c.login(peer.login(u), PASSWORD))
    ok(c.select("INBOX"))
    page = f"{max(1, n - 49)}:{n}"
    out["FETCH page of 50"] = statistics.median(ms(lambda: ok(c.fetch(
        page, "(UID FLAGS RFC822.SIZE BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")))
        for _ in range(reps))
    out["FETCH 1:* FLAGS"] = statistics.median(
        ms(lambda: ok(c.fetch("1:*", "(UID FLAGS)"))) for _ in range(reps))
    first = []
    out["SEARCH subject, first"] = ms(lambda: first.append(
        ok(c.search(None, "SUBJECT", '"invoice 778"'))))
    hits = len(first[0][0].split())
    if hits != n // 1000:   # "invoice 778": i % 1000 == 778 (and i % 8 == 2)
        raise RuntimeError(f"{peer.name}: SEARCH found {hits}, not {n // 1000}")
    out["SEARCH subject"] = statistics.median(
        ms(lambda: ok(c.search(None, "SUBJECT", '"invoice 778"'))) for _ in range(reps))
    out["SEARCH UNSEEN"] = statistics.median(
        ms(lambda: ok(c.search(None, "UNSEEN"))) for _ in range(reps))
    c.logout()
    return out


def pop3_ops(peer, u, n, reps):
    out = {}
    login, uidl, lst, retr = [], [], [], []
    for _ in range(reps):
        c = poplib.POP3("127.0.0.1", peer.pop3_port(), timeout=TIMEOUT)
        c.user(peer.login(u))
        t = time.perf_counter()
        c.pass_(PASSWORD)
        count, _size = c.stat()
        login.append((time.perf_counter() - t) * 1e3)
        if count != n:
            raise RuntimeError(f"{peer.name} POP3: {count} messages, {n} written")
        uidl.append(ms(lambda: c.uidl()))
        lst.append(ms(lambda: c.list()))
        step = max(1, n // 20)
        t = time.perf_counter()
        k = 0
        for i in range(1, n + 1, step):
            c.retr(i)
            k += 1
        retr.append((time.perf_counter() - t) * 1e3 / k)
        c.quit()
    out["POP3 login+STAT"] = statistics.median(login)
    out["POP3 UIDL"] = statistics.median(uidl)
    out["POP3 LIST"] = statistics.median(lst)
    out["POP3 RETR (each)"] = statistics.median(retr)
    return out


def plot(results, sizes, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker  # noqa: F401
    except ImportError:
        print("no matplotlib (python3-matplotlib): no plot")
        return None
    ops = list(next(iter(results.values())).keys())
    cols = 4
    rows = (len(ops) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows))
    for ax, op in zip(axes.flat, ops):
        for server, style in (("Postern", "o-"), ("Dovecot", "s--")):
            xs = [s for s in sizes if (server, s) in results]
            ys = [results[(server, s)][op] for s in xs]
            ax.plot(xs, ys, style, label=server)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(op, fontsize=10)
        ax.set_xlabel("messages in the mailbox", fontsize=8)
        ax.set_ylabel("ms", fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(ops):]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--only")
    ap.add_argument("--png", default=str(HERE / "mbox_size.png"))
    ap.add_argument("--alarm", type=int, default=3000)
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]

    def on_alarm(sig, frame):
        raise TimeoutError("--alarm reached")
    signal.signal(signal.SIGALRM, on_alarm)
    # timeout(1) and kill send SIGTERM: stop the servers all the same
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit("SIGTERM"))
    signal.alarm(a.alarm)
    tmp = Path(tempfile.mkdtemp(prefix="bench-mbox-"))
    servers = []
    results, loads, build_s = {}, {}, {}
    try:
        names = {}
        for k, n in enumerate(sizes):
            t = time.perf_counter()
            names[n] = stage(tmp / str(n), n)
            build_s[n] = time.perf_counter() - t
            print(f"staged {n} messages in {build_s[n]:.1f} s", flush=True)
        if a.only in (None, "postern"):
            p = imapbench.postern(len(sizes), ["imapd", "pop3d"])
            # the mailboxes exist once the users do: start, stop, link, start
            p.start()
            p.proc.terminate()
            p.proc.wait(30)
            for k, n in enumerate(sizes):
                link_into(tmp / str(n), names[n], p.maildir(k))
            p.start_again = True
            servers.append(p)
        if a.only in (None, "dovecot"):
            d, owner = imapbench.dovecot(len(sizes))
            for k, n in enumerate(sizes):
                link_into(tmp / str(n), names[n], d.maildir(k), owner)
            servers.append(d)
        for s in servers:
            if isinstance(s, peers.Postern):
                s.proc = peers.subprocess.Popen(
                    [str(s.build / "posternd"), "-d", str(s.root), "--services",
                     " ".join(s.services)], stdout=peers.subprocess.DEVNULL,
                    stderr=peers.subprocess.DEVNULL)
                peers.wait_port(s.imap_port())
            else:
                s.start_dovecot()
        for k, n in enumerate(sizes):
            for s in servers:
                load = os.getloadavg()[0]
                r = imap_ops(s, k, n, a.reps if n < 1000000 else 3)
                r.update(pop3_ops(s, k, n, a.reps if n < 1000000 else 3))
                results[(s.name, n)] = r
                loads[(s.name, n)] = load
                print(s.name, n, f"load {load:.1f}",
                      {op: round(v, 2) for op, v in r.items()}, flush=True)
    finally:
        signal.alarm(0)
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    ops = list(next(iter(results.values())).keys())
    names_ = [s.name for s in servers]
    head = "| operation | " + " | ".join(
        f"{n:,} {sv}" for n in sizes for sv in names_) + " |"
    print(head)
    print("|---|" + "---|" * (len(sizes) * len(names_)))
    for op in ops:
        cells = []
        for n in sizes:
            for sv in names_:
                v = results.get((sv, n), {}).get(op)
                cells.append("-" if v is None else (f"{v:.1f}" if v < 100 else f"{v:.0f}"))
        print(f"| {op} | " + " | ".join(cells) + " |")
    print("| load (1 min) at the start | " + " | ".join(
        f"{loads.get((sv, n), 0):.1f}" for n in sizes for sv in names_) + " |")
    print("staging (s): " + ", ".join(f"{n}: {t:.1f}" for n, t in build_s.items()))
    png = plot(results, sizes, a.png)
    if png:
        print(f"plot: {png}")


if __name__ == "__main__":
    main()
